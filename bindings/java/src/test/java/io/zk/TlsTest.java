package io.zk;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zk.Watcher.Event.KeeperState;
import io.zk.ZooDefs.Ids;
import io.zk.client.TlsOptions;
import io.zk.data.ClientInfo;
import io.zk.recipes.ActiveStandbyElector;
import io.zk.test.ZkServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * TLS to a {@code secureClientPort} with PEM files made by openssl at test time, on the server
 * {@code -Dzk.server.kind} names (zk-server, or Apache ZooKeeper 3.8 with the Netty factory).
 */
class TlsTest {
    private static Path certs;
    private static ZkServer server;
    private static String secure;

    @BeforeAll
    static void start() throws Exception {
        Path base = Paths.get(System.getProperty("zk.work.dir", "target/test-work"));
        Files.createDirectories(base);
        certs = Files.createTempDirectory(base, "certs-");
        makeCerts(certs);
        int securePort = ZkServer.freePort();
        Map<String, String> tls = new LinkedHashMap<>();
        tls.put("secureClientPort", String.valueOf(securePort));
        tls.put("secureClientPortAddress", "127.0.0.1");
        tls.put("serverCnxnFactory", "org.apache.zookeeper.server.NettyServerCnxnFactory");
        tls.put("ssl.keyStore.location", file("server-keystore.pem"));
        tls.put("ssl.keyStore.type", "PEM");
        tls.put("ssl.trustStore.location", file("ca.crt"));
        tls.put("ssl.trustStore.type", "PEM");
        tls.put("ssl.clientAuth", "want");
        server = ZkServer.start("tls", ZkServer.KIND, tls);
        secure = "127.0.0.1:" + securePort;
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void aClientCertificateIsTheSessionsX509Identity() throws Exception {
        TlsOptions tls = new TlsOptions(file("ca.crt")).clientCertificate(file("client.crt"), file("client.key"));
        try (ZooKeeper zk = connected(secure, tls)) {
            byte[] big = new byte[200_000];
            java.util.Arrays.fill(big, (byte) 7);
            String path = zk.create("/tls-" + ProcessHandle.current().pid(), "sealed".getBytes(StandardCharsets.UTF_8),
                Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
            zk.setData(path, big, 0);
            assertArrayEquals(big, zk.getData(path, false, null));
            List<ClientInfo> who = zk.whoAmI();
            assertTrue(who.stream().anyMatch(i -> i.getAuthScheme().equals("x509") && i.getUser().contains("CN=client")),
                who.toString());
        }
    }

    @Test
    void withoutOneTheSessionIsNotX509() throws Exception {
        try (ZooKeeper zk = connected(secure, new TlsOptions(file("ca.crt")))) {
            List<ClientInfo> who = zk.whoAmI();
            assertTrue(who.stream().noneMatch(i -> i.getAuthScheme().equals("x509")), who.toString());
        }
    }

    @Test
    void untrustedServersAndWrongNamesAreRefused() throws Exception {
        // A trusting session first, so a refusal below is the certificate's doing.
        connected(secure, new TlsOptions(file("ca.crt"))).close();
        assertFalse(connects(secure, new TlsOptions(file("other-ca.crt"))), "a server of an untrusted authority");
        String byName = secure.replace("127.0.0.1", "localhost");
        assertFalse(connects(byName, new TlsOptions(file("ca.crt"))), "a certificate for 127.0.0.1 as localhost");
        try (ZooKeeper zk = connected(byName, new TlsOptions(file("ca.crt")).verifyHostname(false))) {
            assertNotNull(zk.exists("/", false));
        }
    }

    @Test
    void anElectorSpeaksTlsToo() throws Exception {
        ActiveStandbyElector.ActiveStandbyElectorCallback idle = new ActiveStandbyElector.ActiveStandbyElectorCallback() {
            @Override public void becomeActive() {}
            @Override public void becomeStandby() {}
            @Override public void enterNeutralMode() {}
            @Override public void notifyFatalError(String errorMessage) {}
            @Override public void fenceOldActive(byte[] oldActiveData) {}
        };
        String parent = "/tls-elector-" + ProcessHandle.current().pid();
        try (ActiveStandbyElector elector = ActiveStandbyElector.builder(secure, parent)
                .tls(new TlsOptions(file("ca.crt")).clientCertificate(file("client.crt"), file("client.key")))
                .connectPause(100, TimeUnit.MILLISECONDS)
                .build(idle)) {
            elector.ensureParentZNode();
            assertTrue(elector.parentZNodeExists());
        }
    }

    @Test
    void unusableFilesAreIllegalArgumentsNamingTheFile() {
        String missing = certs.resolve("missing-ca.pem").toString();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
            () -> ZooKeeper.builder(secure, Duration.ofSeconds(10)).withTls(new TlsOptions(missing)).build());
        assertTrue(e.getMessage().contains("missing-ca.pem"), e.getMessage());
        assertThrows(NullPointerException.class, () -> new TlsOptions(null));
    }

    @Test
    void apachesClientPropertiesWithKeyStores() throws Exception {
        // PKCS12 stores made by openssl, and JKS ones converted from them by the JDK.
        openssl(certs, "pkcs12", "-export", "-inkey", "client.key", "-in", "client.crt", "-name", "client",
            "-passout", "pass:store-pass", "-out", "client.p12");
        openssl(certs, "pkcs12", "-export", "-nokeys", "-in", "ca.crt", "-passout", "pass:store-pass",
            "-out", "trust.p12");
        java.security.KeyStore p12 = java.security.KeyStore.getInstance("PKCS12");
        try (java.io.InputStream in = Files.newInputStream(certs.resolve("client.p12"))) {
            p12.load(in, "store-pass".toCharArray());
        }
        java.security.KeyStore jks = java.security.KeyStore.getInstance("JKS");
        jks.load(null, null);
        jks.setKeyEntry("client", p12.getKey("client", "store-pass".toCharArray()), "store-pass".toCharArray(),
            p12.getCertificateChain("client"));
        try (java.io.OutputStream out = Files.newOutputStream(certs.resolve("client.jks"))) {
            jks.store(out, "store-pass".toCharArray());
        }
        java.security.KeyStore trust = java.security.KeyStore.getInstance("JKS");
        trust.load(null, null);
        try (java.io.InputStream in = Files.newInputStream(certs.resolve("ca.crt"))) {
            trust.setCertificateEntry("ca",
                java.security.cert.CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        try (java.io.OutputStream out = Files.newOutputStream(certs.resolve("trust.jks"))) {
            trust.store(out, "store-pass".toCharArray());
        }
        // A builder's own properties, as ZKClientConfig names them.
        Map<String, String> props = new LinkedHashMap<>();
        props.put("zookeeper.client.secure", "true");
        props.put("zookeeper.ssl.keyStore.location", file("client.p12"));
        props.put("zookeeper.ssl.keyStore.password", "store-pass");
        props.put("zookeeper.ssl.trustStore.location", file("trust.p12"));
        props.put("zookeeper.ssl.trustStore.password", "store-pass");
        try (ZooKeeper zk = connected(secure, b -> b.withClientProperties(props))) {
            assertTrue(zk.whoAmI().stream().anyMatch(i -> i.getAuthScheme().equals("x509")), zk.whoAmI().toString());
        }
        // The JVM's system properties, which Apache's Java client reads: its plain constructor.
        Map<String, String> system = new LinkedHashMap<>();
        system.put("zookeeper.client.secure", "true");
        system.put("zookeeper.ssl.keyStore.location", file("client.jks"));
        system.put("zookeeper.ssl.keyStore.password", "store-pass");
        system.put("zookeeper.ssl.trustStore.location", file("trust.jks"));
        system.put("zookeeper.ssl.trustStore.password", "store-pass");
        system.forEach(System::setProperty);
        try {
            CountDownLatch up = new CountDownLatch(1);
            try (ZooKeeper zk = new ZooKeeper(secure, 10000, e -> {
                if (e.getState() == KeeperState.SyncConnected) {
                    up.countDown();
                }
            })) {
                assertTrue(up.await(30, TimeUnit.SECONDS), server.logTail());
                assertTrue(zk.whoAmI().stream().anyMatch(i -> i.getUser().contains("CN=client")),
                    zk.whoAmI().toString());
            }
            // A wrong password is an IllegalArgumentException naming the store.
            System.setProperty("zookeeper.ssl.keyStore.password", "wrong");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new ZooKeeper(secure, 10000, null));
            assertTrue(e.getMessage().contains("client.jks"), e.getMessage());
        } finally {
            system.keySet().forEach(System::clearProperty);
        }
    }

    /** A session over TLS, retried until the secure port serves (it may open after the plain one). */
    private static ZooKeeper connected(String hosts, TlsOptions tls) throws Exception {
        return connected(hosts, b -> b.withTls(tls));
    }

    /** As above, with whatever {@code configure} sets on the builder. */
    private static ZooKeeper connected(String hosts,
                                       java.util.function.UnaryOperator<io.zk.client.ZooKeeperBuilder> configure)
            throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            CountDownLatch up = new CountDownLatch(1);
            ZooKeeper zk = configure.apply(ZooKeeper.builder(hosts, Duration.ofSeconds(10))
                .withDefaultWatcher(e -> {
                    if (e.getState() == KeeperState.SyncConnected) {
                        up.countDown();
                    }
                }))
                .build();
            if (up.await(5, TimeUnit.SECONDS)) {
                return zk;
            }
            zk.close();
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no TLS session on " + hosts + ":\n" + server.logTail());
            }
        }
    }

    /** Whether a session comes up within 3 s (a refused one never does; nothing hangs). */
    private static boolean connects(String hosts, TlsOptions tls) throws Exception {
        CountDownLatch up = new CountDownLatch(1);
        try (ZooKeeper zk = ZooKeeper.builder(hosts, Duration.ofSeconds(10))
                .withDefaultWatcher(e -> {
                    if (e.getState() == KeeperState.SyncConnected) {
                        up.countDown();
                    }
                })
                .withTls(tls)
                .build()) {
            return up.await(3, TimeUnit.SECONDS);
        }
    }

    private static String file(String name) {
        return certs.resolve(name).toString();
    }

    /** The same files as the other suites make: a CA, a server certificate for 127.0.0.1 only, a client one. */
    private static void makeCerts(Path dir) throws Exception {
        authority(dir, "ca", "zk test CA");
        authority(dir, "other-ca", "zk untrusted test CA");
        signed(dir, "server", "zk-server", "ca", "IP:127.0.0.1");
        signed(dir, "client", "client", "ca", null);
        Files.writeString(dir.resolve("server-keystore.pem"),
            Files.readString(dir.resolve("server.key")) + Files.readString(dir.resolve("server.crt")));
    }

    private static void authority(Path dir, String name, String subject) throws Exception {
        openssl(dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", name + ".key",
            "-out", name + ".crt", "-subj", "/CN=" + subject);
    }

    private static void signed(Path dir, String name, String subject, String ca, String altNames) throws Exception {
        openssl(dir, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out", name + ".csr",
            "-subj", "/O=zk tests/CN=" + subject);
        String ext = "basicConstraints=CA:FALSE\n" + (altNames == null ? "" : "subjectAltName=" + altNames + "\n");
        Files.writeString(dir.resolve(name + ".ext"), ext);
        openssl(dir, "x509", "-req", "-days", "2", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key",
            "-CAcreateserial", "-out", name + ".crt", "-extfile", name + ".ext");
    }

    private static void openssl(Path dir, String... args) throws Exception {
        List<String> command = new ArrayList<>();
        command.add("openssl");
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException("openssl " + command + ":\n" + out);
        }
    }
}
