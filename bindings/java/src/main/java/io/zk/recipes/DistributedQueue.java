package io.zk.recipes;

import io.zk.KeeperException;
import io.zk.ZooKeeper;
import java.util.concurrent.TimeUnit;

/**
 * A FIFO queue with optional priorities on kazoo's {@code Queue} layout
 * ({@code <path>/entry-<priority:03>-<seq>}): items of a lower priority are taken first, equal
 * priorities in order. Each item is taken by exactly one consumer.
 */
public final class DistributedQueue extends Recipe {
    /** The priority of {@link #put(byte[])} (kazoo's default). */
    public static final int DEFAULT_PRIORITY = 100;

    public DistributedQueue(ZooKeeper zk, String path) {
        super(created(() -> RecipeNative.queueNew(handle(zk), path)));
    }

    public void put(byte[] item) throws KeeperException, InterruptedException {
        put(item, DEFAULT_PRIORITY);
    }

    /** Appends {@code item}; {@code priority} 0..999, lower first. */
    public void put(byte[] item, int priority) throws KeeperException, InterruptedException {
        RecipeNative.queuePut(id, item, priority);
    }

    /** Removes and returns the first item, waiting for one. */
    public byte[] take() throws KeeperException, InterruptedException {
        return RecipeNative.queueTake(id, -1);
    }

    /** Removes and returns the first item, or null if the queue is empty. */
    public byte[] poll() throws KeeperException, InterruptedException {
        return RecipeNative.queueTake(id, 0);
    }

    /** Removes and returns the first item, waiting up to {@code time}; null if none came. */
    public byte[] poll(long time, TimeUnit unit) throws KeeperException, InterruptedException {
        return RecipeNative.queueTake(id, Math.max(1, millis(time, unit)));
    }

    public int size() throws KeeperException, InterruptedException {
        return RecipeNative.queueSize(id);
    }
}
