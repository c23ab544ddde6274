package io.zk;

import io.zk.Watcher.Event.EventType;
import io.zk.Watcher.Event.KeeperState;

/** A watch notification or a state change, as Apache's {@code org.apache.zookeeper.WatchedEvent}. */
public class WatchedEvent {
    private final KeeperState keeperState;
    private final EventType eventType;
    private final String path;

    public WatchedEvent(EventType eventType, KeeperState keeperState, String path) {
        this.keeperState = keeperState;
        this.eventType = eventType;
        this.path = path;
    }

    public KeeperState getState() {
        return keeperState;
    }

    public EventType getType() {
        return eventType;
    }

    /** The node's path (as the caller named it, chroot stripped); {@code null} for state changes. */
    public String getPath() {
        return path;
    }

    @Override
    public String toString() {
        return "WatchedEvent state:" + keeperState + " type:" + eventType + " path:" + path;
    }
}
