package io.zk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zk.Watcher.Event.EventType;
import io.zk.Watcher.Event.KeeperState;
import io.zk.ZooDefs.Ids;
import io.zk.test.Events;
import io.zk.test.Servers;
import io.zk.test.SharedServer;
import io.zk.test.ZkServer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Watches with Apache's rules: default and per-call watchers, persistent and recursive ones, removal, order. */
@ExtendWith(SharedServer.class)
class WatchTest {
    private ZkServer server;
    private ZooKeeper zk;
    private Events main;
    private String root;

    @BeforeEach
    void open(ZkServer server) throws Exception {
        this.server = server;
        main = new Events("default");
        zk = Servers.connect(server, main);
        root = Servers.root(zk, "watch");
    }

    @AfterEach
    void close() throws Exception {
        zk.close();
    }

    private void create(String path) throws Exception {
        zk.create(path, null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static void expect(WatchedEvent event, EventType type, String path) {
        assertEquals(type, event.getType(), event.toString());
        assertEquals(path, event.getPath(), event.toString());
        assertEquals(KeeperState.SyncConnected, event.getState(), event.toString());
    }

    @Test
    void theDefaultWatcherServesBooleanCalls() throws Exception {
        String a = root + "/a";
        assertNull(zk.exists(a, true));
        create(a);
        expect(main.next(), EventType.NodeCreated, a);
        zk.getData(a, true, null);
        zk.setData(a, bytes("1"), -1);
        expect(main.next(), EventType.NodeDataChanged, a);
        zk.getChildren(a, true);
        create(a + "/kid");
        expect(main.next(), EventType.NodeChildrenChanged, a);
        Events replaced = new Events("replaced");
        zk.register(replaced);
        zk.exists(a, true);
        zk.setData(a, bytes("2"), -1);
        expect(replaced.next(), EventType.NodeDataChanged, a);
        assertTrue(main.drain().isEmpty());
    }

    @Test
    void oneShotWatchersFireOnceAndOncePerNotification() throws Exception {
        String a = root + "/a";
        create(a);
        Events w = new Events("w");
        zk.getData(a, w, null);
        zk.getData(a, w, null);
        zk.exists(a, w);
        zk.getChildren(a, w);
        zk.setData(a, bytes("1"), -1);
        expect(w.next(), EventType.NodeDataChanged, a);
        zk.setData(a, bytes("2"), -1);
        // The data watch fired; only the child watch is left, so the next change says nothing
        // until a child changes, then the child watch fires (once).
        create(a + "/kid");
        expect(w.next(), EventType.NodeChildrenChanged, a);
        zk.getData(a, w, null);
        zk.getChildren(a, w);
        zk.delete(a + "/kid", -1);
        expect(w.next(), EventType.NodeChildrenChanged, a);
        zk.getChildren(a, w);
        zk.delete(a, -1);
        expect(w.next(), EventType.NodeDeleted, a);
        create(root + "/sync-point");
        assertTrue(w.drain().isEmpty(), "a watcher set on data and children hears of the delete once");
    }

    @Test
    void aWatchReArmedInItsOwnCallbackSeesOnlyLaterChanges() throws Exception {
        String a = root + "/a";
        create(a);
        BlockingQueue<String> seen = new LinkedBlockingQueue<>();
        Watcher rearm = new Watcher() {
            @Override
            public void process(WatchedEvent event) {
                try {
                    byte[] data = zk.getData(a, this, null);
                    seen.add(event.getType() + " " + new String(data, StandardCharsets.UTF_8));
                } catch (Exception e) {
                    seen.add("failed " + e);
                }
            }
        };
        zk.getData(a, rearm, null);
        for (int i = 1; i <= 20; i++) {
            zk.setData(a, bytes(Integer.toString(i)), -1);
            String line = seen.poll(Events.WAIT.toMillis(), TimeUnit.MILLISECONDS);
            assertEquals("NodeDataChanged " + i, line);
        }
    }

    @Test
    void eventsArriveInTheOrderTheServerSentThem() throws Exception {
        List<String> paths = new ArrayList<>();
        BlockingQueue<String> order = new LinkedBlockingQueue<>();
        for (int i = 0; i < 10; i++) {
            String path = root + "/n" + i;
            create(path);
            paths.add(path);
            zk.exists(path, event -> order.add(event.getPath()));
        }
        List<Op> ops = new ArrayList<>();
        for (int i = 9; i >= 0; i--) {
            ops.add(Op.setData(paths.get(i), bytes("x"), -1));
        }
        zk.multi(ops);
        for (int i = 9; i >= 0; i--) {
            assertEquals(paths.get(i), order.poll(Events.WAIT.toMillis(), TimeUnit.MILLISECONDS));
        }
    }

    @Test
    void aCallbackNeverComesBeforeTheEventThatPrecededItsReply() throws Exception {
        // Our own write: the server sends the watch event before the reply.
        String a = root + "/a";
        create(a);
        BlockingQueue<String> order = new LinkedBlockingQueue<>();
        zk.exists(a, event -> order.add("event"));
        zk.setData(a, bytes("1"), -1, (rc, path, ctx, stat) -> order.add("reply"), null);
        assertEquals("event", order.poll(Events.WAIT.toMillis(), TimeUnit.MILLISECONDS));
        assertEquals("reply", order.poll(Events.WAIT.toMillis(), TimeUnit.MILLISECONDS));
    }

    @Test
    void persistentAndRecursiveWatches() throws Exception {
        String top = root + "/top";
        create(top);
        Events persistent = new Events("persistent");
        Events recursive = new Events("recursive");
        zk.addWatch(top, persistent, AddWatchMode.PERSISTENT);
        zk.addWatch(root, recursive, AddWatchMode.PERSISTENT_RECURSIVE);
        create(top + "/kid");
        expect(persistent.next(), EventType.NodeChildrenChanged, top);
        expect(recursive.next(), EventType.NodeCreated, top + "/kid");
        zk.setData(top, bytes("1"), -1);
        expect(persistent.next(), EventType.NodeDataChanged, top);
        expect(recursive.next(), EventType.NodeDataChanged, top);
        zk.setData(top, bytes("2"), -1);
        expect(persistent.next(), EventType.NodeDataChanged, top);
        expect(recursive.next(), EventType.NodeDataChanged, top);
        zk.delete(top + "/kid", -1);
        expect(persistent.next(), EventType.NodeChildrenChanged, top);
        expect(recursive.next(), EventType.NodeDeleted, top + "/kid");
        zk.removeWatches(top, persistent, Watcher.WatcherType.Any, false);
        expect(persistent.next(), EventType.PersistentWatchRemoved, top);
        zk.setData(top, bytes("3"), -1);
        expect(recursive.next(), EventType.NodeDataChanged, top);
        zk.removeAllWatches(root, Watcher.WatcherType.Any, false);
        expect(recursive.next(), EventType.PersistentWatchRemoved, root);
        zk.setData(top, bytes("4"), -1);
        zk.addWatch(top, persistent, AddWatchMode.PERSISTENT);
        zk.setData(top, bytes("5"), -1);
        expect(persistent.next(), EventType.NodeDataChanged, top);
        assertTrue(recursive.drain().isEmpty(), "a removed watch hears nothing");
        // The default watcher serves addWatch without a watcher.
        zk.addWatch(top + "/kid2", AddWatchMode.PERSISTENT);
        create(top + "/kid2");
        expect(main.next(), EventType.NodeCreated, top + "/kid2");
    }

    @Test
    void removingWatchesTellsTheWatcherAndStopsItsEvents() throws Exception {
        String a = root + "/a";
        create(a);
        Events w = new Events("w");
        Events other = new Events("other");
        zk.getData(a, w, null);
        zk.getData(a, other, null);
        zk.getChildren(a, w);
        zk.removeWatches(a, w, Watcher.WatcherType.Data, false);
        expect(w.next(), EventType.DataWatchRemoved, a);
        assertThrows(KeeperException.NoWatcherException.class, () -> zk.removeWatches(a, w, Watcher.WatcherType.Data, false));
        zk.setData(a, bytes("1"), -1);
        expect(other.next(), EventType.NodeDataChanged, a);
        zk.removeWatches(a, w, Watcher.WatcherType.Children, true);
        expect(w.next(), EventType.ChildWatchRemoved, a);
        create(a + "/kid");
        zk.getData(a, w, null);
        zk.getChildren(a, other);
        zk.removeAllWatches(a, Watcher.WatcherType.Any, false);
        List<String> removed = new ArrayList<>(List.of(w.next().getType().name(), other.next().getType().name()));
        assertEquals(List.of("DataWatchRemoved", "ChildWatchRemoved"), removed);
        assertThrows(KeeperException.NoWatcherException.class, () -> zk.removeAllWatches(a, Watcher.WatcherType.Any, false));
        assertThrows(IllegalArgumentException.class, () -> zk.removeWatches(a, null, Watcher.WatcherType.Any, false));
        zk.delete(a + "/kid", -1);
        zk.setData(a, bytes("2"), -1);
        create(root + "/sync-point");
        assertTrue(w.drain().isEmpty() && other.drain().isEmpty(), "removed watchers hear nothing more");
    }

    @Test
    void stateChangesReachTheDefaultAndEveryRegisteredWatcher() throws Exception {
        Events w = new Events("w");
        Events p = new Events("p");
        zk.exists(root + "/never", w);
        zk.addWatch(root, p, AddWatchMode.PERSISTENT);
        zk.close();
        assertEquals(KeeperState.Closed, main.awaitState(KeeperState.Closed).getState());
        assertEquals(KeeperState.Closed, w.awaitState(KeeperState.Closed).getState());
        assertEquals(KeeperState.Closed, p.awaitState(KeeperState.Closed).getState());
        zk = Servers.connect(server, new Events("again"));
    }
}
