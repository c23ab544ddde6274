package bench;

import java.io.IOException;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;

/**
 * The Java client benchmark (bench/java/run.sh). Written against Apache's client API and run
 * twice: on Apache's 3.8 client jar and, with its imports rewritten, on this project's jar, so
 * both clients run the very same code. Prints one JSON line.
 *
 *   ClientBench CONNECT_STRING MODE OPS [INFLIGHT]
 *
 * MODE: roundtrip (synchronous getData, one at a time), pipelined (asynchronous getData with at
 * most INFLIGHT outstanding), setdata (synchronous setData), idle (open OPS clients, wait until
 * all are connected, report the process's RSS growth). The timed modes first make OPS/10 untimed
 * calls (JIT warm-up); CPU is this process's CPU time (all its threads) over the timed phase.
 */
public final class ClientBench {
    private static final String PATH = "/java-bench";

    private ClientBench() {}

    static long cpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    static long status(String field) throws IOException {
        try (InputStream in = Files.newInputStream(Paths.get("/proc/self/status"))) {
            for (String line : new String(in.readAllBytes(), StandardCharsets.US_ASCII).split("\n")) {
                if (line.startsWith(field + ":")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        }
        throw new IOException("no " + field);
    }

    static long fds() throws IOException {
        try (Stream<Path> entries = Files.list(Paths.get("/proc/self/fd"))) {
            return entries.count();
        }
    }

    static ZooKeeper connect(String connectString) throws Exception {
        CountDownLatch connected = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(connectString, 30000, event -> {
            if (event.getState() == Watcher.Event.KeeperState.SyncConnected) {
                connected.countDown();
            }
        });
        if (!connected.await(60, TimeUnit.SECONDS)) {
            throw new IllegalStateException("not connected");
        }
        return zk;
    }

    interface Calls {
        /** Makes {@code n} calls, recording each one's latency in nanoseconds from {@code offset}. */
        void run(int n, long[] latencies, int offset) throws Exception;
    }

    static void roundtrip(ZooKeeper zk, int n, long[] latencies, int offset) throws Exception {
        Stat stat = new Stat();
        for (int i = 0; i < n; i++) {
            long start = System.nanoTime();
            zk.getData(PATH, false, stat);
            if (latencies != null) {
                latencies[offset + i] = System.nanoTime() - start;
            }
        }
    }

    static void setdata(ZooKeeper zk, int n, long[] latencies, int offset, byte[] value) throws Exception {
        for (int i = 0; i < n; i++) {
            long start = System.nanoTime();
            zk.setData(PATH, value, -1);
            if (latencies != null) {
                latencies[offset + i] = System.nanoTime() - start;
            }
        }
    }

    static void pipelined(ZooKeeper zk, int n, int inflight, long[] latencies) throws Exception {
        Semaphore permits = new Semaphore(inflight);
        CountDownLatch done = new CountDownLatch(n);
        AtomicInteger failures = new AtomicInteger();
        for (int i = 0; i < n; i++) {
            permits.acquire();
            long start = System.nanoTime();
            int index = i;
            zk.getData(PATH, false, (rc, path, ctx, data, stat) -> {
                if (rc != 0) {
                    failures.incrementAndGet();
                }
                if (latencies != null) {
                    latencies[index] = System.nanoTime() - start;
                }
                permits.release();
                done.countDown();
            }, null);
        }
        if (!done.await(10, TimeUnit.MINUTES)) {
            throw new IllegalStateException("pipelined calls did not finish");
        }
        if (failures.get() > 0) {
            throw new IllegalStateException(failures.get() + " calls failed");
        }
    }

    static long percentile(long[] sorted, double p) {
        return sorted[Math.min(sorted.length - 1, (int) Math.floor(p * sorted.length))];
    }

    public static void main(String[] args) throws Exception {
        String connectString = args[0];
        String mode = args[1];
        int ops = Integer.parseInt(args[2]);
        int inflight = args.length > 3 ? Integer.parseInt(args[3]) : 64;
        if (mode.equals("idle")) {
            idle(connectString, ops);
            return;
        }
        ZooKeeper zk = connect(connectString);
        byte[] value = new byte[100];
        Arrays.fill(value, (byte) 'x');
        try {
            zk.create(PATH, value, ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        } catch (KeeperException.NodeExistsException exists) {
            zk.setData(PATH, value, -1);
        }
        int warmup = Math.max(1, ops / 10);
        long[] latencies = new long[ops];
        Calls calls;
        switch (mode) {
            case "roundtrip":
                calls = (n, lat, off) -> roundtrip(zk, n, lat, off);
                break;
            case "setdata":
                calls = (n, lat, off) -> setdata(zk, n, lat, off, value);
                break;
            case "pipelined":
                calls = (n, lat, off) -> pipelined(zk, n, inflight, lat);
                break;
            default:
                throw new IllegalArgumentException("unknown mode " + mode);
        }
        calls.run(warmup, null, 0);
        long cpuBefore = cpuNanos();
        long started = System.nanoTime();
        calls.run(ops, latencies, 0);
        long wall = System.nanoTime() - started;
        long cpu = cpuNanos() - cpuBefore;
        zk.close();
        Arrays.sort(latencies);
        System.out.printf("{\"mode\":\"%s\",\"ops\":%d,\"inflight\":%d,\"seconds\":%.4f,\"ops_per_s\":%.1f,"
                + "\"cpu_us_per_op\":%.3f,\"p50_us\":%.1f,\"p99_us\":%.1f}%n",
            mode, ops, mode.equals("pipelined") ? inflight : 1, wall / 1e9, ops / (wall / 1e9), cpu / 1e3 / ops,
            percentile(latencies, 0.50) / 1e3, percentile(latencies, 0.99) / 1e3);
    }

    /** Opens {@code n} clients and reports the RSS, threads and fds they cost once all are connected. */
    static void idle(String connectString, int n) throws Exception {
        System.gc();
        long rssBefore = status("VmRSS");
        long threadsBefore = status("Threads");
        long fdsBefore = fds();
        CountDownLatch connected = new CountDownLatch(n);
        List<ZooKeeper> clients = new ArrayList<>(n);
        long started = System.nanoTime();
        for (int i = 0; i < n; i++) {
            clients.add(new ZooKeeper(connectString, 30000, event -> {
                if (event.getState() == Watcher.Event.KeeperState.SyncConnected) {
                    connected.countDown();
                }
            }));
        }
        if (!connected.await(10, TimeUnit.MINUTES)) {
            throw new IllegalStateException(connected.getCount() + " clients never connected");
        }
        long connectSeconds = (System.nanoTime() - started) / 1_000_000_000L;
        // Let the connection burst settle (event threads that went idle end, garbage is collected).
        Thread.sleep(5000);
        System.gc();
        Thread.sleep(1000);
        long rss = status("VmRSS");
        System.out.printf("{\"mode\":\"idle\",\"clients\":%d,\"rss_before_kb\":%d,\"rss_kb\":%d,\"kb_per_client\":%.2f,"
                + "\"threads\":%d,\"fds\":%d,\"connect_s\":%d}%n",
            n, rssBefore, rss, (rss - rssBefore) / (double) n, status("Threads") - threadsBefore, fds() - fdsBefore,
            connectSeconds);
        System.out.flush();
        // Not closed one by one: Apache's close joins each client's send thread, which takes
        // minutes for thousands; the sessions end when this process's connections drop.
        Runtime.getRuntime().halt(0);
    }
}
