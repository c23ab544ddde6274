package io.zk.recipes;

import io.zk.KeeperException;
import io.zk.ZooKeeper;
import java.util.concurrent.TimeUnit;

/**
 * A barrier (Curator's {@code DistributedBarrier}, kazoo's {@code Barrier}): waiters block while
 * its node exists.
 */
public final class Barrier extends Recipe {

    public Barrier(ZooKeeper zk, String path) {
        super(created(() -> RecipeNative.barrierNew(handle(zk), path)));
    }

    /** Closes the barrier (creates its node); already closed is success. */
    public void setBarrier() throws KeeperException, InterruptedException {
        RecipeNative.barrierChange(id, true);
    }

    /** Opens the barrier (deletes its node); already open is success. */
    public void removeBarrier() throws KeeperException, InterruptedException {
        RecipeNative.barrierChange(id, false);
    }

    /** Waits until the barrier is open. */
    public void waitOnBarrier() throws KeeperException, InterruptedException {
        RecipeNative.barrierWait(id, -1);
    }

    /** Waits until the barrier is open: true, or false if {@code time} passed first. */
    public boolean waitOnBarrier(long time, TimeUnit unit) throws KeeperException, InterruptedException {
        return RecipeNative.barrierWait(id, millis(time, unit));
    }
}
