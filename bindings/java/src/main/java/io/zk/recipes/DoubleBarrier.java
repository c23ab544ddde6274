package io.zk.recipes;

import io.zk.KeeperException;
import io.zk.ZooKeeper;
import java.util.concurrent.TimeUnit;

/**
 * A double barrier (Curator's {@code DistributedDoubleBarrier}, kazoo's {@code DoubleBarrier}):
 * {@link #enter} waits until {@code members} participants have entered, {@link #leave} until all
 * have left.
 */
public final class DoubleBarrier extends Recipe {

    public DoubleBarrier(ZooKeeper zk, String path, int members) {
        this(zk, path, members, new byte[0]);
    }

    public DoubleBarrier(ZooKeeper zk, String path, int members, byte[] data) {
        super(created(() -> RecipeNative.doubleBarrierNew(handle(zk), path, members, data)));
    }

    public void enter() throws KeeperException, InterruptedException {
        RecipeNative.doubleBarrierPass(id, true, -1);
    }

    /** True once everyone entered, false if {@code time} passed first (our node stays; {@link #leave} withdraws). */
    public boolean enter(long time, TimeUnit unit) throws KeeperException, InterruptedException {
        return RecipeNative.doubleBarrierPass(id, true, millis(time, unit));
    }

    public void leave() throws KeeperException, InterruptedException {
        RecipeNative.doubleBarrierPass(id, false, -1);
    }

    public boolean leave(long time, TimeUnit unit) throws KeeperException, InterruptedException {
        return RecipeNative.doubleBarrierPass(id, false, millis(time, unit));
    }
}
