package io.zk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zk.ZooDefs.Ids;
import io.zk.test.Events;
import io.zk.test.Jvm;
import io.zk.test.Servers;
import io.zk.test.SharedServer;
import io.zk.test.ZkServer;
import java.io.File;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Native resources: closing releases them, a Cleaner releases forgotten clients, the JVM exits with clients open. */
@ExtendWith(SharedServer.class)
class ResourcesTest {

    private static Map<String, Long> numbers(String line) {
        Map<String, Long> values = new HashMap<>();
        for (String part : line.split(" ")) {
            String[] kv = part.split("=");
            if (kv.length == 2) {
                values.put(kv[0], Long.parseLong(kv[1]));
            }
        }
        return values;
    }

    /** 10,000 cycles here (-Dzk.leak.cycles=100000 for the long run): RSS flat within 10 %, no thread or fd left. */
    @Test
    @Tag("leak")
    void openCloseCyclesLeakNeitherMemoryNorThreadsNorFds(ZkServer server) throws Exception {
        String cycles = System.getProperty("zk.leak.cycles", "10000");
        Jvm.Result result = Jvm.run(Jvm.zkClasses() + File.pathSeparator + Jvm.testClasses(), "io.zk.test.LeakCheck",
            List.of("-Xms96m", "-Xmx96m", "-XX:+AlwaysPreTouch", "-XX:+UseSerialGC", "-XX:-UseDynamicNumberOfCompilerThreads"), Duration.ofMinutes(30),
            server.connectString(), cycles);
        assertEquals(0, result.exitCode(), result.describe());
        Map<String, Long> before = numbers(result.stdout().get(0));
        Map<String, Long> after = numbers(result.stdout().get(1));
        System.out.println("leak check: " + result.stdout());
        assertTrue(after.get("rss") <= before.get("rss") * 1.10, "RSS grew more than 10 %: " + result.stdout());
        assertEquals(0, after.get("clientThreads"), "client threads left behind: " + result.stdout());
        assertTrue(after.get("threads") <= before.get("threads"), "threads left behind: " + result.stdout());
        assertTrue(after.get("fds") <= before.get("fds"), "file descriptors left open: " + result.stdout());
    }

    @Test
    void aClientNobodyClosedIsClosedByTheCleaner(ZkServer server) throws Exception {
        Events observer = new Events("observer");
        try (ZooKeeper other = Servers.connect(server, observer)) {
            String root = Servers.root(other, "cleaner");
            String ephemeral = createAndForget(server, root);
            assertTrue(other.exists(ephemeral, false) != null, "the forgotten client's node exists at first");
            long deadline = System.nanoTime() + Events.WAIT.toNanos();
            while (other.exists(ephemeral, false) != null) {
                assertTrue(System.nanoTime() < deadline, "the unreachable client's session was not closed");
                System.gc();
                Thread.sleep(50);
            }
        }
    }

    /** Opens a client, creates an ephemeral node and drops every reference to the client. */
    private static String createAndForget(ZkServer server, String root) throws Exception {
        ZooKeeper forgotten = Servers.connect(server, new Events("forgotten"));
        return forgotten.create(root + "/e", null, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
    }

    @Test
    void theJvmExitsNormallyWithClientsOpen(ZkServer server) throws Exception {
        Jvm.Result result = Jvm.run(Jvm.zkClasses() + File.pathSeparator + Jvm.testClasses(),
            "io.zk.test.ExitWithOpenClients", List.of(), Duration.ofSeconds(60), server.connectString());
        assertEquals(0, result.exitCode(), result.describe());
        assertEquals("leaving main with clients open", result.stdout().get(result.stdout().size() - 1));
    }

    @Test
    void closingWhileCallsArePendingFailsThemAndEndsTheSession(ZkServer server) throws Exception {
        Events main = new Events("default");
        ZooKeeper zk = Servers.connect(server, main);
        String root = Servers.root(zk, "pending");
        java.util.concurrent.BlockingQueue<Integer> codes = new java.util.concurrent.LinkedBlockingQueue<>();
        for (int i = 0; i < 50; i++) {
            zk.exists(root, false, (rc, path, ctx, stat) -> codes.add(rc), null);
        }
        zk.close();
        for (int i = 0; i < 50; i++) {
            Integer rc = codes.poll(Events.WAIT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
            assertTrue(rc != null && (rc == 0 || rc == KeeperException.Code.SESSIONEXPIRED.intValue()), String.valueOf(rc));
        }
        assertNull(codes.poll());
    }
}
