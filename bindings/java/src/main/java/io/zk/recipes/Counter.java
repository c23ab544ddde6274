package io.zk.recipes;

import io.zk.KeeperException;
import io.zk.ZooKeeper;

/** A shared integer, updated with versioned writes (kazoo {@code Counter}, Curator {@code SharedCount}/{@code DistributedAtomicLong}). */
public final class Counter extends Recipe {

    /** How the number is stored in the node. */
    public enum Format {
        /** ASCII decimal (kazoo's {@code Counter}). */
        TEXT,
        /** 4-byte big-endian (Curator's {@code SharedCount}). */
        INT32,
        /** 8-byte big-endian (Curator's {@code DistributedAtomicLong}). */
        INT64
    }

    public Counter(ZooKeeper zk, String path) {
        this(zk, path, Format.TEXT, 0);
    }

    /** A counter in {@code format}, reading {@code defaultValue} while its node is missing or empty. */
    public Counter(ZooKeeper zk, String path, Format format, long defaultValue) {
        super(created(() -> RecipeNative.counterNew(handle(zk), path, format.ordinal(), defaultValue)));
    }

    public long get() throws KeeperException, InterruptedException {
        return RecipeNative.counterUpdate(id, 0, 0);
    }

    /** Adds {@code delta} atomically; returns the new value. */
    public long add(long delta) throws KeeperException, InterruptedException {
        return RecipeNative.counterUpdate(id, 1, delta);
    }

    /** Sets the value; returns the one it replaced. */
    public long set(long value) throws KeeperException, InterruptedException {
        return RecipeNative.counterUpdate(id, 2, value);
    }

    /** Sets {@code value} only if the counter holds {@code expected}. */
    public boolean compareAndSet(long expected, long value) throws KeeperException, InterruptedException {
        return RecipeNative.counterCompareAndSet(id, expected, value);
    }
}
