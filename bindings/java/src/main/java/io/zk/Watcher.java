package io.zk;

/**
 * Receives watch events and connection-state changes, as Apache's {@code org.apache.zookeeper.Watcher}.
 * Called on the client's event thread (or its executor), one event at a time, in order.
 */
public interface Watcher {

    /** What an event is about. */
    interface Event {

        /** The connection's state when the event happened. */
        enum KeeperState {
            /** @deprecated never sent */
            @Deprecated
            Unknown(-1),
            Disconnected(0),
            /** @deprecated never sent */
            @Deprecated
            NoSyncConnected(1),
            SyncConnected(3),
            AuthFailed(4),
            ConnectedReadOnly(5),
            SaslAuthenticated(6),
            Expired(-112),
            Closed(7);

            private final int intValue;

            KeeperState(int intValue) {
                this.intValue = intValue;
            }

            public int getIntValue() {
                return intValue;
            }

            public static KeeperState fromInt(int intValue) {
                for (KeeperState state : values()) {
                    if (state.intValue == intValue) {
                        return state;
                    }
                }
                throw new RuntimeException("Invalid integer value for conversion to KeeperState: " + intValue);
            }
        }

        /** What happened to the node. */
        enum EventType {
            None(-1),
            NodeCreated(1),
            NodeDeleted(2),
            NodeDataChanged(3),
            NodeChildrenChanged(4),
            DataWatchRemoved(5),
            ChildWatchRemoved(6),
            PersistentWatchRemoved(7);

            private final int intValue;

            EventType(int intValue) {
                this.intValue = intValue;
            }

            public int getIntValue() {
                return intValue;
            }

            public static EventType fromInt(int intValue) {
                for (EventType type : values()) {
                    if (type.intValue == intValue) {
                        return type;
                    }
                }
                throw new RuntimeException("Invalid integer value for conversion to EventType: " + intValue);
            }
        }
    }

    /** Which watches {@code removeWatches} removes. */
    enum WatcherType {
        Children(1),
        Data(2),
        Any(3),
        Persistent(4),
        PersistentRecursive(5);

        private final int intValue;

        WatcherType(int intValue) {
            this.intValue = intValue;
        }

        public int getIntValue() {
            return intValue;
        }

        public static WatcherType fromInt(int intValue) {
            for (WatcherType type : values()) {
                if (type.intValue == intValue) {
                    return type;
                }
            }
            throw new RuntimeException("Invalid integer value for conversion to WatcherType: " + intValue);
        }
    }

    void process(WatchedEvent event);
}
