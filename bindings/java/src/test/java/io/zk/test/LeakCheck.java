package io.zk.test;

import io.zk.Watcher;
import io.zk.ZooKeeper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Opens and closes clients {@code cycles} times (each connected, its watcher told, then closed)
 * and prints this process's RSS, threads and open file descriptors after a warm-up and at the
 * end. Run in its own JVM with a fixed, pre-touched heap, so the heap's own growth is not counted.
 * Usage: LeakCheck CONNECT_STRING CYCLES
 */
public final class LeakCheck {
    private LeakCheck() {}

    static long rssKb() throws IOException {
        try (InputStream in = Files.newInputStream(Paths.get("/proc/self/status"))) {
            for (String line : new String(in.readAllBytes(), StandardCharsets.US_ASCII).split("\n")) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        }
        throw new IOException("no VmRSS");
    }

    static long count(String dir) throws IOException {
        try (Stream<Path> entries = Files.list(Paths.get(dir))) {
            return entries.count();
        }
    }

    static void cycle(String connectString) throws Exception {
        CountDownLatch connected = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(connectString, 30_000, event -> {
            if (event.getState() == Watcher.Event.KeeperState.SyncConnected) {
                connected.countDown();
            }
        });
        if (!connected.await(30, TimeUnit.SECONDS)) {
            throw new IllegalStateException("not connected");
        }
        zk.close();
    }

    /** The client threads still running (event threads attach to the JVM while they run). */
    static long clientThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().startsWith("zk-event-")).count();
    }

    /**
     * Measures once the threads of closed clients have ended and the thread count has come down
     * to {@code settled} (both bounded: a runtime's idle helper threads linger up to 10 s).
     */
    static String measure(long settled) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (clientThreads() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        long threads = count("/proc/self/task");
        while (threads > settled && System.nanoTime() < deadline) {
            Thread.sleep(20);
            threads = count("/proc/self/task");
        }
        System.gc();
        return "rss=" + rssKb() + " threads=" + threads + " fds=" + count("/proc/self/fd") + " clientThreads=" + clientThreads();
    }

    public static void main(String[] args) throws Exception {
        String connectString = args[0];
        int cycles = Integer.parseInt(args[1]);
        int warmup = Math.max(200, cycles / 10);
        for (int i = 0; i < warmup; i++) {
            cycle(connectString);
        }
        String baseline = measure(Long.MAX_VALUE);
        System.out.println("baseline " + baseline);
        long baselineThreads = Long.parseLong(baseline.replaceAll(".*threads=(\\d+).*", "$1"));
        long started = System.nanoTime();
        for (int i = 0; i < cycles; i++) {
            cycle(connectString);
        }
        long millis = (System.nanoTime() - started) / 1_000_000;
        System.out.println("final " + measure(baselineThreads));
        System.out.println("cycles " + cycles + " in " + millis + " ms");
    }
}
