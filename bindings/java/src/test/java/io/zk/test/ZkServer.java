package io.zk.test;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * One standalone server process the tests start: {@code zk-server} (the workspace's debug build,
 * {@code -Dzk.server.bin}) or Apache ZooKeeper 3.8 from Debian's jars ({@code -Dzk.server.kind=apache}),
 * on a free loopback port with its own data directory. Ready means a session answered a read,
 * not that the port is open. Every server is stopped by {@link #close()}; a JVM shutdown hook
 * kills any a failed test left behind.
 */
public final class ZkServer implements AutoCloseable {
    public static final String KIND = System.getProperty("zk.server.kind", "zk");
    static final String APACHE_CLASSPATH = String.join(":", "/etc/zookeeper/conf", "/usr/share/java/zookeeper.jar",
        "/usr/share/java/netty-codec.jar", "/usr/share/java/netty-resolver.jar", "/usr/share/java/slf4j-simple.jar");
    private static final Set<Process> LIVE = new HashSet<>();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            synchronized (LIVE) {
                LIVE.forEach(Process::destroyForcibly);
            }
        }));
    }

    private final Path dir;
    private final int port;
    private final String kind;
    private final Map<String, String> extra;
    private final List<String> jvmFlags;
    private Process process;

    private ZkServer(String kind, Path dir, int port, Map<String, String> extra, List<String> jvmFlags) {
        this.kind = kind;
        this.dir = dir;
        this.port = port;
        this.extra = extra;
        this.jvmFlags = jvmFlags;
    }

    /** Starts a server of the configured kind and waits until it serves a read. */
    public static ZkServer start(String name) throws Exception {
        return start(name, KIND);
    }

    public static ZkServer start(String name, String kind) throws Exception {
        return start(name, kind, Map.of());
    }

    /** A server with {@code extra} zoo.cfg keys (e.g. a secureClientPort). */
    public static ZkServer start(String name, String kind, Map<String, String> extra) throws Exception {
        return start(name, kind, extra, List.of());
    }

    /**
     * A server with {@code extra} zoo.cfg keys and JVM {@code -D} flags (e.g. a JAAS file):
     * on Apache's java command line, in {@code SERVER_JVMFLAGS} for zk-server.
     */
    public static ZkServer start(String name, String kind, Map<String, String> extra, List<String> jvmFlags)
            throws Exception {
        Path base = Paths.get(System.getProperty("zk.work.dir", "target/test-work"));
        Files.createDirectories(base);
        Path dir = Files.createTempDirectory(base, name + "-" + kind + "-");
        ZkServer server = new ZkServer(kind, dir, freePort(), extra, jvmFlags);
        server.writeConfig();
        server.launch();
        return server;
    }

    public boolean isApache() {
        return kind.equals("apache");
    }

    public String connectString() {
        return "127.0.0.1:" + port;
    }

    public int port() {
        return port;
    }

    private void writeConfig() throws IOException {
        Map<String, String> config = new LinkedHashMap<>();
        config.put("tickTime", "2000");
        config.put("dataDir", dir.resolve("data").toString());
        config.put("clientPort", String.valueOf(port));
        config.put("clientPortAddress", "127.0.0.1");
        config.put("4lw.commands.whitelist", "*");
        config.put("admin.enableServer", "false");
        config.put("extendedTypesEnabled", "true");
        config.put("maxClientCnxns", "0");
        config.putAll(extra);
        StringBuilder text = new StringBuilder();
        config.forEach((k, v) -> text.append(k).append('=').append(v).append('\n'));
        Files.createDirectories(dir.resolve("data"));
        Files.writeString(dir.resolve("zoo.cfg"), text.toString());
    }

    private List<String> command() {
        List<String> command = new ArrayList<>();
        if (isApache()) {
            command.addAll(List.of("java", "-XX:+UseSerialGC", "-Xms32m", "-Xmx256m", "-XX:TieredStopAtLevel=1",
                "-Dznode.container.checkIntervalMs=200"));
            command.addAll(jvmFlags);
            command.addAll(List.of("-cp", APACHE_CLASSPATH,
                "org.apache.zookeeper.server.quorum.QuorumPeerMain", dir.resolve("zoo.cfg").toString()));
        } else {
            String bin = System.getProperty("zk.server.bin", "../../target/debug/zk-server");
            if (!Files.isExecutable(Paths.get(bin))) {
                throw new IllegalStateException("zk-server not found at " + bin + " (cargo build, or -Dzk.server.bin=)");
            }
            command.addAll(List.of(bin, "start-foreground", dir.resolve("zoo.cfg").toString()));
        }
        return command;
    }

    private void launch() throws Exception {
        ProcessBuilder builder = new ProcessBuilder(command()).directory(dir.toFile());
        // Containers are checked every 200 ms (a JVM property in Apache; zk-server reads it here).
        builder.environment().put("SERVER_JVMFLAGS",
            String.join(" ", "-Dznode.container.checkIntervalMs=200", String.join(" ", jvmFlags)).trim());
        builder.redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("server.log").toFile()));
        process = builder.start();
        synchronized (LIVE) {
            LIVE.add(process);
        }
        waitReady(Duration.ofSeconds(60));
    }

    /** Waits until a session can be opened and {@code /} read (raw protocol, no client library). */
    public void waitReady(Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        Exception last = null;
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException(kind + " server exited with " + process.exitValue() + ":\n" + logTail());
            }
            try {
                if (RawSession.readRoot("127.0.0.1", port)) {
                    return;
                }
            } catch (IOException e) {
                last = e;
            }
            Thread.sleep(50);
        }
        throw new IllegalStateException(kind + " server not ready after " + timeout + " (" + last + "):\n" + logTail());
    }

    public String logTail() {
        try {
            List<String> lines = Files.readAllLines(dir.resolve("server.log"), StandardCharsets.UTF_8);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    /** Stops the process (SIGTERM, then SIGKILL) and keeps the data for {@link #start()}. */
    public void stop() throws InterruptedException {
        if (process == null) {
            return;
        }
        process.destroy();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
        }
        synchronized (LIVE) {
            LIVE.remove(process);
        }
        process = null;
    }

    /** Starts the stopped server again on the same port and data. */
    public void start() throws Exception {
        if (process == null) {
            launch();
        }
    }

    @Override
    public void close() throws InterruptedException {
        stop();
    }

    /** A port free a moment ago, below the kernel's ephemeral range (a client's source port cannot take it). */
    public static int freePort() throws IOException {
        int ceiling = 32768;
        // procfs reports a size of 0, so read the stream rather than Files.readString.
        try (java.io.InputStream in = Files.newInputStream(Paths.get("/proc/sys/net/ipv4/ip_local_port_range"))) {
            int low = Integer.parseInt(new String(in.readAllBytes(), StandardCharsets.US_ASCII).trim().split("\\s+")[0]);
            if (low > 11_000) {
                ceiling = low;
            }
        } catch (IOException | RuntimeException ignored) {
            // keep the default
        }
        Random random = new Random();
        for (int attempt = 0; attempt < 10_000; attempt++) {
            int port = 10_000 + random.nextInt(Math.max(1, ceiling - 10_000));
            synchronized (HANDED_OUT) {
                if (!HANDED_OUT.add(port)) {
                    continue;
                }
            }
            try (ServerSocket socket = new ServerSocket()) {
                socket.bind(new InetSocketAddress("127.0.0.1", port));
                return port;
            } catch (IOException taken) {
                // try another
            }
        }
        throw new IOException("no free port");
    }

    private static final Set<Integer> HANDED_OUT = new HashSet<>();

    /** A minimal raw-protocol session: connect, read {@code /}, close. */
    static final class RawSession {
        static boolean readRoot(String host, int port) throws IOException {
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress(host, port), 2000);
                socket.setSoTimeout(5000);
                var out = new java.io.DataOutputStream(socket.getOutputStream());
                var in = new java.io.DataInputStream(socket.getInputStream());
                // ConnectRequest: protocolVersion, lastZxidSeen, timeOut, sessionId, passwd(16)
                out.writeInt(4 + 8 + 4 + 8 + 4 + 16);
                out.writeInt(0);
                out.writeLong(0);
                out.writeInt(10_000);
                out.writeLong(0);
                out.writeInt(16);
                out.write(new byte[16]);
                out.flush();
                int length = in.readInt();
                byte[] response = new byte[length];
                in.readFully(response);
                int timeout = java.nio.ByteBuffer.wrap(response).getInt(4);
                if (timeout <= 0) {
                    return false;
                }
                // getData("/", false): xid 1, op 4
                byte[] path = "/".getBytes(StandardCharsets.UTF_8);
                out.writeInt(4 + 4 + 4 + path.length + 1);
                out.writeInt(1);
                out.writeInt(4);
                out.writeInt(path.length);
                out.write(path);
                out.writeBoolean(false);
                out.flush();
                int replyLength = in.readInt();
                byte[] reply = new byte[replyLength];
                in.readFully(reply);
                java.nio.ByteBuffer header = java.nio.ByteBuffer.wrap(reply);
                int xid = header.getInt();
                header.getLong();
                int err = header.getInt();
                // Served: the read, or (enforce.auth.*) its refusal, SESSIONCLOSEDREQUIRESASLAUTH,
                // after which the server closes the connection itself.
                boolean served = xid == 1 && (err == 0 || err == -124);
                try {
                    // closeSession: xid 2, op -11
                    out.writeInt(8);
                    out.writeInt(2);
                    out.writeInt(-11);
                    out.flush();
                } catch (IOException closed) {
                    // already closed by the server
                }
                return served;
            }
        }
    }
}
