package io.zk.recipes;

import io.zk.KeeperException;
import io.zk.ZooKeeper;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A distributed exclusive lock on Curator's {@code InterProcessMutex} layout
 * ({@code <path>/_c_<uuid>-lock-<seq>}, ephemeral sequential), so it excludes Curator clients
 * locking the same path and the other way round. Not re-entrant: a second acquire waits for the
 * first {@link Lease}.
 */
public final class Lock extends Recipe {

    public Lock(ZooKeeper zk, String path) {
        this(zk, path, new byte[0]);
    }

    /** {@code data} is stored in this contender's node (Curator stores the host's address). */
    public Lock(ZooKeeper zk, String path, byte[] data) {
        super(created(() -> RecipeNative.lockNew(handle(zk), path, data)));
    }

    /** Waits as long as it takes. */
    public Lease acquire() throws KeeperException, InterruptedException {
        return new Lease(RecipeNative.lockAcquire(id, -1));
    }

    /** Waits at most {@code time}; null if the lock was not acquired by then. */
    public Lease acquire(long time, TimeUnit unit) throws KeeperException, InterruptedException {
        long lease = RecipeNative.lockAcquire(id, Math.max(1, millis(time, unit)));
        return lease == 0 ? null : new Lease(lease);
    }

    /** Takes the lock only if nobody holds it or waits ahead of us; null otherwise. */
    public Lease tryAcquire() throws KeeperException, InterruptedException {
        long lease = RecipeNative.lockAcquire(id, 0);
        return lease == 0 ? null : new Lease(lease);
    }

    /** The contenders' node names in lock order (holder first). */
    public List<String> contenders() throws KeeperException, InterruptedException {
        return Arrays.asList(RecipeNative.lockContenders(id));
    }
}
