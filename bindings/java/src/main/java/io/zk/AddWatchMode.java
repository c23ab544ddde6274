package io.zk;

/** Modes of {@link ZooKeeper#addWatch}, as Apache's {@code org.apache.zookeeper.AddWatchMode}. */
public enum AddWatchMode {
    /** Data and child changes of the node itself; stays until removed. */
    PERSISTENT(ZooDefs.AddWatchModes.persistent),
    /** Every change at or below the node (no child events); stays until removed. */
    PERSISTENT_RECURSIVE(ZooDefs.AddWatchModes.persistentRecursive);

    private final int mode;

    AddWatchMode(int mode) {
        this.mode = mode;
    }

    public int getMode() {
        return mode;
    }
}
