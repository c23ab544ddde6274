package io.zk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zk.Watcher.Event.KeeperState;
import io.zk.ZooDefs.Ids;
import io.zk.test.Events;
import io.zk.test.Servers;
import io.zk.test.SharedServer;
import io.zk.test.ZkServer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Where callbacks run: the client's event thread (or a given executor), in order, re-entrant. */
@ExtendWith(SharedServer.class)
class ThreadsTest {

    @Test
    void callbacksRunOnTheEventThreadNeverOnTheCallersOrIoThreads(ZkServer server) throws Exception {
        Events main = new Events("default");
        try (ZooKeeper zk = Servers.connect(server, main)) {
            String root = Servers.root(zk, "threads");
            BlockingQueue<String> threads = new LinkedBlockingQueue<>();
            zk.exists(root + "/x", event -> threads.add(Thread.currentThread().getName()));
            zk.getData(root, false, (rc, path, ctx, data, stat) -> threads.add(Thread.currentThread().getName()), null);
            zk.create(root + "/x", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            for (int i = 0; i < 2; i++) {
                String name = threads.poll(Events.WAIT.toMillis(), TimeUnit.MILLISECONDS);
                assertTrue(name != null && name.startsWith("zk-event-"), String.valueOf(name));
            }
            assertTrue(main.threads().stream().allMatch(t -> t.startsWith("zk-event-")), main.threads().toString());
        }
    }

    @Test
    void aCallbackMayCallTheClientAndBlockOnIt(ZkServer server) throws Exception {
        try (ZooKeeper zk = Servers.connect(server, new Events())) {
            String root = Servers.root(zk, "reentrant");
            BlockingQueue<String> results = new LinkedBlockingQueue<>();
            zk.getData(root, false, (rc, path, ctx, data, stat) -> {
                try {
                    // Synchronous calls from the event thread, and an async one whose callback
                    // runs after this one returns.
                    String created = zk.create(root + "/inner", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
                    results.add("sync " + created.substring(root.length()) + " " + zk.exists(created, false).getVersion());
                    zk.getData(created, false, (rc2, path2, ctx2, data2, stat2) -> results.add("nested " + rc2), null);
                    results.add("outer done");
                } catch (Exception e) {
                    results.add("failed " + e);
                }
            }, null);
            List<String> seen = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                seen.add(results.poll(Events.WAIT.toMillis(), TimeUnit.MILLISECONDS));
            }
            assertEquals(List.of("sync /inner 0", "outer done", "nested 0"), seen);
        }
    }

    @Test
    void closeFromInsideACallback(ZkServer server) throws Exception {
        Events main = new Events("default");
        ZooKeeper zk = Servers.connect(server, main);
        String root = Servers.root(zk, "close-inside");
        String ephemeral = zk.create(root + "/e", null, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
        CountDownLatch returned = new CountDownLatch(1);
        zk.exists(root, false, (rc, path, ctx, stat) -> {
            try {
                zk.close();
                returned.countDown();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, null);
        assertTrue(returned.await(Events.WAIT.toMillis(), TimeUnit.MILLISECONDS), "close from a callback returned");
        main.awaitState(KeeperState.Closed);
        assertEquals(ZooKeeper.States.CLOSED, zk.getState());
        try (ZooKeeper other = Servers.connect(server, new Events("other"))) {
            assertEquals(null, other.exists(ephemeral, false), "the session ended");
        }
    }

    @Test
    void callbacksOnAGivenExecutorStayInOrder(ZkServer server) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, "user-pool");
            t.setDaemon(true);
            return t;
        });
        try {
            Events main = new Events("default");
            ZooKeeper zk = ZooKeeper.builder(server.connectString(), Duration.ofSeconds(30)).withDefaultWatcher(main)
                .withExecutor(pool).build();
            main.awaitState(KeeperState.SyncConnected);
            String root = Servers.root(zk, "executor");
            BlockingQueue<Integer> order = new LinkedBlockingQueue<>();
            List<String> threads = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                int n = i;
                zk.exists(root, false, (rc, path, ctx, stat) -> {
                    synchronized (threads) {
                        threads.add(Thread.currentThread().getName());
                    }
                    order.add(n);
                }, null);
            }
            for (int i = 0; i < 200; i++) {
                assertEquals(i, order.poll(Events.WAIT.toMillis(), TimeUnit.MILLISECONDS));
            }
            assertTrue(threads.stream().allMatch("user-pool"::equals), threads.toString());
            assertTrue(main.threads().stream().allMatch("user-pool"::equals), main.threads().toString());
            zk.close();
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aSlowCallbackIsReportedInTheLog(ZkServer server) throws Exception {
        BlockingQueue<String> warnings = new LinkedBlockingQueue<>();
        Handler capture = new Handler() {
            @Override
            public void publish(LogRecord record) {
                if (record.getMessage() != null && record.getMessage().contains("callback ran for")) {
                    warnings.add(record.getLoggerName() + ": " + record.getMessage());
                }
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        Logger logger = Logger.getLogger("io.zk");
        logger.addHandler(capture);
        try {
            Events main = new Events("default");
            ZooKeeper zk = ZooKeeper.builder(server.connectString(), Duration.ofSeconds(30)).withDefaultWatcher(main)
                .withSlowCallbackThreshold(Duration.ofMillis(50)).build();
            main.awaitState(KeeperState.SyncConnected);
            CountDownLatch slowDone = new CountDownLatch(1);
            zk.exists("/", false, (rc, path, ctx, stat) -> {
                long until = System.nanoTime() + Duration.ofMillis(200).toNanos();
                while (System.nanoTime() < until) {
                    Thread.onSpinWait();
                }
                slowDone.countDown();
            }, null);
            assertTrue(slowDone.await(Events.WAIT.toMillis(), TimeUnit.MILLISECONDS));
            String warning = warnings.poll(Events.WAIT.toMillis(), TimeUnit.MILLISECONDS);
            assertTrue(warning != null && warning.startsWith("io.zk.native."), String.valueOf(warning));
            zk.close();
        } finally {
            logger.removeHandler(capture);
        }
    }
}
