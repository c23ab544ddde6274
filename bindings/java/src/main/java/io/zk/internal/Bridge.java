package io.zk.internal;

import io.zk.ZooKeeper;
import java.util.function.ToLongFunction;

/** Lets the recipes find a client's native handle without making it public API. */
public final class Bridge {
    private static volatile ToLongFunction<ZooKeeper> handles;

    private Bridge() {}

    /** Set once by {@link ZooKeeper}'s class initializer. */
    public static void setHandles(ToLongFunction<ZooKeeper> access) {
        if (handles == null) {
            handles = access;
        }
    }

    public static long handle(ZooKeeper zk) {
        if (handles == null) {
            // Initializes ZooKeeper, which registers the accessor.
            zk.getClass();
        }
        return handles.applyAsLong(zk);
    }
}
