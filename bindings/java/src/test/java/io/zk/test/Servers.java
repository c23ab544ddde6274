package io.zk.test;

import io.zk.KeeperException;
import io.zk.ZooDefs;
import io.zk.ZooKeeper;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.extension.ExtensionContext;

/** The server most tests share (one per run, stopped at its end) and helpers to open clients on it. */
public final class Servers {
    private static ZkServer shared;
    private static final AtomicInteger ROOTS = new AtomicInteger();

    private Servers() {}

    /** The shared server, started on first use and stopped when the test run ends. */
    public static synchronized ZkServer shared(ExtensionContext context) throws Exception {
        if (shared == null) {
            ZkServer server = ZkServer.start("shared");
            context.getRoot().getStore(ExtensionContext.Namespace.GLOBAL)
                .put("zk-shared-server", (ExtensionContext.Store.CloseableResource) server::close);
            shared = server;
        }
        return shared;
    }

    /** A client connected to {@code server} (waits for SyncConnected). */
    public static ZooKeeper connect(ZkServer server, Events events) throws Exception {
        return connect(server.connectString(), events, 30_000);
    }

    public static ZooKeeper connect(String connectString, Events events, int sessionTimeout) throws Exception {
        ZooKeeper zk = new ZooKeeper(connectString, sessionTimeout, events);
        events.awaitState(io.zk.Watcher.Event.KeeperState.SyncConnected);
        return zk;
    }

    /** A fresh persistent node for one test's znodes. */
    public static String root(ZooKeeper zk, String name) throws KeeperException, InterruptedException {
        String root = "/" + name + "-" + ROOTS.incrementAndGet() + "-" + System.nanoTime();
        zk.create(root, new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, io.zk.CreateMode.PERSISTENT);
        return root;
    }
}
