// Client benchmark for Apache ZooKeeper's Java client, the counterpart of
// core/examples/client_bench.rs (same flags, same JSON line), run by bench/client/run.sh.
//
//   java -cp CLASSPATH:BUILD JavaBench --server HOST:PORT --mode roundtrip|pipelined
//        [--ops N] [--inflight K] [--path P] [--warmup W]
//
// roundtrip: synchronous getData, one at a time. pipelined: asynchronous getData with a
// Semaphore of K permits, so at most K calls are outstanding. W (default N/10) untimed
// operations run first (this also gives the JIT its warm-up). Latency is per call, from
// just before the call to its callback.

import java.util.Arrays;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;

public class JavaBench {
    public static void main(String[] argv) throws Exception {
        String server = "127.0.0.1:2181";
        String mode = "roundtrip";
        String path = "/bench";
        int ops = 20000;
        int inflight = 64;
        int warmup = -1;
        for (int i = 0; i < argv.length; i += 2) {
            if (i + 1 >= argv.length) {
                usage(argv[i] + " needs a value");
            }
            String v = argv[i + 1];
            switch (argv[i]) {
                case "--server": server = v; break;
                case "--mode": mode = v; break;
                case "--path": path = v; break;
                case "--ops": ops = Integer.parseInt(v); break;
                case "--inflight": inflight = Math.max(1, Integer.parseInt(v)); break;
                case "--warmup": warmup = Integer.parseInt(v); break;
                case "--value-size": break; // the node is created by run.sh
                default: usage("unknown flag " + argv[i]);
            }
        }
        boolean pipelined;
        if (mode.equals("roundtrip")) {
            pipelined = false;
        } else if (mode.equals("pipelined")) {
            pipelined = true;
        } else {
            usage("--mode is roundtrip or pipelined");
            return;
        }
        if (warmup < 0) {
            warmup = ops / 10;
        }

        CountDownLatch connected = new CountDownLatch(1);
        Watcher watcher = (WatchedEvent e) -> {
            if (e.getState() == Watcher.Event.KeeperState.SyncConnected) {
                connected.countDown();
            }
        };
        ZooKeeper zk = new ZooKeeper(server, 30000, watcher);
        if (!connected.await(30, TimeUnit.SECONDS)) {
            System.err.println("JavaBench: cannot connect to " + server);
            System.exit(1);
        }
        try {
            if (warmup > 0) {
                run(zk, path, warmup, pipelined, inflight);
            }
            long start = System.nanoTime();
            long[] lat = run(zk, path, ops, pipelined, inflight);
            double seconds = (System.nanoTime() - start) / 1e9;
            Arrays.sort(lat);
            System.out.printf(java.util.Locale.ROOT,
                "{\"client\":\"java\",\"mode\":\"%s\",\"ops\":%d,\"seconds\":%.4f,"
                    + "\"ops_per_sec\":%.1f,\"p50_us\":%d,\"p99_us\":%d}%n",
                mode, ops, seconds, ops / seconds, pct(lat, 50), pct(lat, 99));
        } finally {
            zk.close();
        }
    }

    static long pct(long[] sorted, int p) {
        if (sorted.length == 0) {
            return 0;
        }
        return sorted[Math.min(sorted.length - 1, (int) ((long) sorted.length * p / 100))];
    }

    /** Runs {@code ops} getData calls; returns each one's latency in microseconds. */
    static long[] run(ZooKeeper zk, String path, int ops, boolean pipelined, int inflight)
            throws Exception {
        long[] lat = new long[ops];
        if (!pipelined) {
            Stat stat = new Stat();
            for (int i = 0; i < ops; i++) {
                long t = System.nanoTime();
                zk.getData(path, false, stat);
                lat[i] = (System.nanoTime() - t) / 1000;
            }
            return lat;
        }
        Semaphore permits = new Semaphore(inflight);
        CountDownLatch done = new CountDownLatch(ops);
        long[] issuedAt = new long[ops];
        AtomicInteger failures = new AtomicInteger();
        for (int i = 0; i < ops; i++) {
            permits.acquire();
            issuedAt[i] = System.nanoTime();
            zk.getData(path, false, (rc, p, ctx, data, stat) -> {
                int index = (Integer) ctx;
                lat[index] = (System.nanoTime() - issuedAt[index]) / 1000;
                if (rc != KeeperException.Code.OK.intValue()) {
                    failures.incrementAndGet();
                }
                permits.release();
                done.countDown();
            }, i);
        }
        done.await();
        if (failures.get() > 0) {
            throw new IllegalStateException(failures.get() + " getData calls failed");
        }
        return lat;
    }

    static void usage(String message) {
        System.err.println("JavaBench: " + message);
        System.exit(2);
    }
}
