package io.zk;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zk.Watcher.Event.KeeperState;
import io.zk.ZooDefs.Ids;
import io.zk.ZooDefs.Perms;
import io.zk.client.SaslOptions;
import io.zk.data.ACL;
import io.zk.data.ClientInfo;
import io.zk.data.Id;
import io.zk.test.Events;
import io.zk.test.Proxy;
import io.zk.test.ZkServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * SASL DIGEST-MD5 against the server {@code -Dzk.server.kind} names (zk-server, or Apache 3.8 with
 * the {@code sasl} auth provider), both given the same JAAS {@code Server} section: explicit
 * credentials and the JAAS {@code Client} section Apache's Java client reads, a {@code sasl:bob}
 * ACL, wrong credentials, enforcement, re-authentication after a reconnect, and a node shared with
 * Apache's own Java client (zkCli) logged in as the same user.
 */
class SaslTest {
    private static final String SERVER_JAAS = "Server {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n"
        + "  user_bob=\"bobsecret\"\n  user_alice=\"alicesecret\";\n};\n";
    private static final List<ACL> BOB_ONLY = List.of(new ACL(Perms.ALL, new Id("sasl", "bob")));
    private static Path work;
    private static ZkServer server;
    private static ZkServer enforcing;

    @BeforeAll
    static void start() throws Exception {
        Path base = Paths.get(System.getProperty("zk.work.dir", "target/test-work"));
        Files.createDirectories(base);
        work = Files.createTempDirectory(base, "sasl-");
        Path jaas = Files.writeString(work.resolve("server-jaas.conf"), SERVER_JAAS);
        List<String> flags = List.of("-Djava.security.auth.login.config=" + jaas);
        String provider = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider";
        server = ZkServer.start("sasl", ZkServer.KIND, Map.of("authProvider.1", provider), flags);
        enforcing = ZkServer.start("sasl-enforced", ZkServer.KIND, Map.of("authProvider.1", provider,
            "enforce.auth.enabled", "true", "enforce.auth.schemes", "sasl"), flags);
    }

    @AfterAll
    static void stop() throws Exception {
        for (ZkServer s : new ZkServer[] {server, enforcing}) {
            if (s != null) {
                s.close();
            }
        }
    }

    private static ZooKeeper open(String connect, SaslOptions sasl, Events events) {
        return ZooKeeper.builder(connect, Duration.ofSeconds(10)).withDefaultWatcher(events).withSasl(sasl).build();
    }

    private static ZooKeeper bob(String connect, Events events) throws Exception {
        ZooKeeper zk = open(connect, new SaslOptions("bob", "bobsecret"), events);
        events.awaitState(KeeperState.SyncConnected);
        events.awaitState(KeeperState.SaslAuthenticated);
        return zk;
    }

    private static String path(String name) {
        return "/sasl-" + name + "-" + ProcessHandle.current().pid();
    }

    @Test
    void aSaslAclAdmitsItsUserOnly() throws Exception {
        String path = path("acl");
        try (ZooKeeper bob = bob(server.connectString(), new Events("bob"))) {
            assertEquals(ZooKeeper.States.CONNECTED, bob.getState());
            bob.create(path, "secret".getBytes(StandardCharsets.UTF_8), BOB_ONLY, CreateMode.EPHEMERAL);
            assertArrayEquals("secret".getBytes(StandardCharsets.UTF_8), bob.getData(path, false, null));
            List<ClientInfo> who = bob.whoAmI();
            assertTrue(who.stream().anyMatch(i -> i.getAuthScheme().equals("sasl") && i.getUser().equals("bob")),
                who.toString());
            Events aliceEvents = new Events("alice");
            try (ZooKeeper alice = open(server.connectString(), new SaslOptions("alice", "alicesecret"), aliceEvents);
                 ZooKeeper anonymous = new ZooKeeper(server.connectString(), 10_000, null)) {
                aliceEvents.awaitState(KeeperState.SaslAuthenticated);
                assertThrows(KeeperException.NoAuthException.class, () -> alice.getData(path, false, null));
                assertThrows(KeeperException.NoAuthException.class, () -> anonymous.getData(path, false, null));
            }
        }
    }

    @Test
    void wrongCredentialsAreDeliveredAsAuthFailedAndEndTheClient() throws Exception {
        for (String[] wrong : new String[][] {{"bob", "wrong"}, {"nobody", "x"}}) {
            Events events = new Events(wrong[0]);
            try (ZooKeeper zk = open(server.connectString(), new SaslOptions(wrong[0], wrong[1]), events)) {
                events.awaitState(KeeperState.AuthFailed);
                assertEquals(ZooKeeper.States.AUTH_FAILED, zk.getState());
                assertThrows(KeeperException.AuthFailedException.class, () -> zk.exists("/", false));
            }
        }
        assertFalse(new SaslOptions("bob", "hunter2").toString().contains("hunter2"));
    }

    @Test
    void theJaasClientSectionIsUsedAsApachesJavaClientUsesIt() throws Exception {
        String path = path("jaas");
        Path clientJaas = Files.writeString(work.resolve("client-jaas.conf"),
            "Other {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n"
                + "  username=\"alice\" password=\"alicesecret\";\n};\n"
                + "Client {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n"
                + "  username=\"bob\" password=\"bobsecret\";\n};\n");
        try (ZooKeeper bob = bob(server.connectString(), new Events("owner"))) {
            bob.create(path, "jaas".getBytes(StandardCharsets.UTF_8), BOB_ONLY, CreateMode.EPHEMERAL);
            System.setProperty("java.security.auth.login.config", clientJaas.toString());
            try {
                assertEquals("bob", whoAmIWithSystemProperties(path, true));
                System.setProperty("zookeeper.sasl.clientconfig", "Other");
                assertEquals("alice", whoAmIWithSystemProperties(path, false));
                System.clearProperty("zookeeper.sasl.clientconfig");
                System.setProperty("zookeeper.sasl.client", "false");
                assertEquals("", whoAmIWithSystemProperties(path, false));
                System.clearProperty("zookeeper.sasl.client");
                System.setProperty("zookeeper.sasl.clientconfig", "Missing");
                assertThrows(IllegalArgumentException.class,
                    () -> new ZooKeeper(server.connectString(), 10_000, null).close());
            } finally {
                System.clearProperty("java.security.auth.login.config");
                System.clearProperty("zookeeper.sasl.clientconfig");
                System.clearProperty("zookeeper.sasl.client");
            }
        }
    }

    /** Opens a plain {@code new ZooKeeper(...)}; returns the SASL user it is (or "") after checking its read. */
    private static String whoAmIWithSystemProperties(String path, boolean readable) throws Exception {
        Events events = new Events("properties");
        try (ZooKeeper zk = new ZooKeeper(server.connectString(), 10_000, events)) {
            events.awaitState(KeeperState.SyncConnected);
            if (readable) {
                assertArrayEquals("jaas".getBytes(StandardCharsets.UTF_8), zk.getData(path, false, null));
            } else {
                assertThrows(KeeperException.NoAuthException.class, () -> zk.getData(path, false, null));
            }
            return zk.whoAmI().stream().filter(i -> i.getAuthScheme().equals("sasl")).map(ClientInfo::getUser)
                .findFirst().orElse("");
        }
    }

    @Test
    void aReconnectAuthenticatesAgain() throws Exception {
        String path = path("again");
        try (ZooKeeper owner = bob(server.connectString(), new Events("owner"));
             Proxy proxy = new Proxy(server.port())) {
            owner.create(path, "again".getBytes(StandardCharsets.UTF_8), BOB_ONLY, CreateMode.EPHEMERAL);
            Events events = new Events("through-proxy");
            try (ZooKeeper zk = bob(proxy.connectString(), events)) {
                long session = zk.getSessionId();
                for (int round = 0; round < 2; round++) {
                    proxy.stop();
                    events.awaitState(KeeperState.Disconnected);
                    restart(proxy);
                    events.awaitState(KeeperState.SyncConnected);
                    events.awaitState(KeeperState.SaslAuthenticated);
                    assertArrayEquals("again".getBytes(StandardCharsets.UTF_8), zk.getData(path, false, null));
                    assertEquals(session, zk.getSessionId());
                }
            }
        }
    }

    /** Listens again; the port may stay taken a moment by the connections just cut (bounded retry). */
    private static void restart(Proxy proxy) throws Exception {
        long deadline = System.nanoTime() + Events.WAIT.toNanos();
        while (true) {
            try {
                proxy.start();
                return;
            } catch (java.net.BindException taken) {
                if (System.nanoTime() > deadline) {
                    throw taken;
                }
                Thread.sleep(50);
            }
        }
    }

    @Test
    void underEnforcementAnAuthenticatedClientWorks() throws Exception {
        String path = path("enforced");
        try (ZooKeeper bob = bob(enforcing.connectString(), new Events("bob"))) {
            bob.create(path, "ok".getBytes(StandardCharsets.UTF_8), Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
            assertArrayEquals("ok".getBytes(StandardCharsets.UTF_8), bob.getData(path, false, null));
            try (ZooKeeper anonymous = new ZooKeeper(enforcing.connectString(), 10_000, null)) {
                KeeperException refused = assertThrows(KeeperException.class, () -> anonymous.getData(path, false, null));
                assertTrue(refused.code() == KeeperException.Code.SESSIONCLOSEDREQUIRESASLAUTH
                    || refused.code() == KeeperException.Code.CONNECTIONLOSS, refused.toString());
            }
        }
    }

    @Test
    void apachesJavaClientReadsANodeMadeForTheSameSaslUser() throws Exception {
        String path = path("apache-client");
        Path clientJaas = Files.writeString(work.resolve("apache-client-jaas.conf"),
            "Client {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n"
                + "  username=\"bob\" password=\"bobsecret\";\n};\n");
        try (ZooKeeper bob = bob(server.connectString(), new Events("bob"))) {
            bob.create(path, "for-apache".getBytes(StandardCharsets.UTF_8), BOB_ONLY, CreateMode.EPHEMERAL);
            ProcessBuilder cli = new ProcessBuilder("java", "-XX:TieredStopAtLevel=1", "-cp",
                "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/netty-codec.jar:"
                    + "/usr/share/java/netty-resolver.jar:/usr/share/java/slf4j-nop.jar",
                "-Djava.security.auth.login.config=" + clientJaas, "org.apache.zookeeper.ZooKeeperMain",
                "-server", server.connectString(), "get", path).redirectErrorStream(true);
            Process process = cli.start();
            process.getOutputStream().close();
            String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(process.waitFor(120, TimeUnit.SECONDS), out);
            assertTrue(out.lines().anyMatch("for-apache"::equals), out);
        }
    }
}
