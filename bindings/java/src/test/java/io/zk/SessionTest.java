package io.zk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zk.Watcher.Event.EventType;
import io.zk.Watcher.Event.KeeperState;
import io.zk.ZooDefs.Ids;
import io.zk.test.Events;
import io.zk.test.Proxy;
import io.zk.test.Servers;
import io.zk.test.ZkServer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Connection states: a server restart (the session and its watches survive) and session expiry. */
class SessionTest {

    @Test
    void eventsAcrossAServerRestart() throws Exception {
        try (ZkServer server = ZkServer.start("restart")) {
            Events main = new Events("default");
            Events watcher = new Events("w");
            ZooKeeper zk = Servers.connect(server, main);
            long session = zk.getSessionId();
            String path = zk.create("/restart", "0".getBytes(StandardCharsets.UTF_8), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            zk.getData(path, watcher, null);
            String ephemeral = zk.create("/mine", null, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);

            server.stop();
            main.awaitState(KeeperState.Disconnected);
            // Every registered watcher hears the state change too, as with Apache's client.
            watcher.awaitState(KeeperState.Disconnected);
            assertEquals(ZooKeeper.States.CONNECTING, zk.getState());
            server.start();
            main.awaitState(KeeperState.SyncConnected);
            watcher.awaitState(KeeperState.SyncConnected);
            assertEquals(session, zk.getSessionId());
            assertEquals(ZooKeeper.States.CONNECTED, zk.getState());
            assertEquals(session, zk.exists(ephemeral, false).getEphemeralOwner());

            // The watch set before the restart was set again on the new connection.
            try (ZooKeeper other = Servers.connect(server, new Events("other"))) {
                other.setData(path, "1".getBytes(StandardCharsets.UTF_8), -1);
            }
            WatchedEvent changed = watcher.await(e -> e.getType() != EventType.None, "the data change");
            assertEquals(EventType.NodeDataChanged, changed.getType());
            assertEquals(path, changed.getPath());
            zk.close();
        }
    }

    @Test
    void aWatchSetBeforeADisconnectFiresForAChangeMadeMeanwhile() throws Exception {
        try (ZkServer server = ZkServer.start("missed")) {
            Events main = new Events("default");
            ZooKeeper zk = Servers.connect(server, main);
            String path = zk.create("/missed", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            Events watcher = new Events("w");
            zk.exists(path, watcher);
            // Stop the server, change the node through another server process's data... the
            // same server restarted: the change is made by another client after the restart,
            // before our client has reconnected.
            server.stop();
            main.awaitState(KeeperState.Disconnected);
            server.start();
            try (ZooKeeper other = Servers.connect(server, new Events("other"))) {
                other.delete(path, -1);
            }
            main.awaitState(KeeperState.SyncConnected);
            WatchedEvent deleted = watcher.await(e -> e.getType() != EventType.None, "the delete");
            assertEquals(EventType.NodeDeleted, deleted.getType());
            zk.close();
        }
    }

    @Test
    void anExpiredSessionTellsEveryWatcherAndFailsLaterCalls() throws Exception {
        try (ZkServer server = ZkServer.start("expiry"); Proxy proxy = new Proxy(server.port())) {
            Events main = new Events("default");
            ZooKeeper zk = Servers.connect(proxy.connectString(), main, 30_000);
            Events watcher = new Events("w");
            zk.exists("/anything", watcher);
            // Cut the client off; meanwhile another client takes over its session and closes
            // it, so the server ends the session. Reconnecting, the client learns it expired.
            proxy.stop();
            main.awaitState(KeeperState.Disconnected);
            Events stolen = new Events("thief");
            ZooKeeper thief = new ZooKeeper(server.connectString(), 30_000, stolen, zk.getSessionId(), zk.getSessionPasswd());
            stolen.awaitState(KeeperState.SyncConnected);
            thief.close();
            proxy.start();
            main.awaitState(KeeperState.Expired);
            watcher.awaitState(KeeperState.Expired);
            assertEquals(ZooKeeper.States.CLOSED, zk.getState());
            assertThrows(KeeperException.SessionExpiredException.class, () -> zk.getData("/", false, null));
            BlockingQueue<Integer> pending = new LinkedBlockingQueue<>();
            zk.getData("/", false, (rc, path, ctx, data, stat) -> pending.add(rc), null);
            assertEquals(KeeperException.Code.SESSIONEXPIRED.intValue(), pending.poll(Events.WAIT.toMillis(), TimeUnit.MILLISECONDS));
            zk.close();
            assertTrue(main.drain().stream().noneMatch(e -> e.getState() == KeeperState.Closed),
                "closing an expired client adds no event");
        }
    }

    @Test
    void theClientExpiresItsSessionItselfWhileTheServerIsGone() throws Exception {
        try (ZkServer server = ZkServer.start("partition")) {
            Events main = new Events("default");
            // 4 s is the shortest session the servers grant (2 x tickTime).
            ZooKeeper zk = Servers.connect(server.connectString(), main, 4000);
            server.stop();
            main.awaitState(KeeperState.Disconnected);
            WatchedEvent expired = main.awaitState(KeeperState.Expired);
            assertEquals(EventType.None, expired.getType());
            List<WatchedEvent> rest = main.drain();
            assertTrue(rest.isEmpty(), "nothing after Expired: " + rest);
            zk.close();
        }
    }
}
