package io.zk.test;

import io.zk.WatchedEvent;
import io.zk.Watcher;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/** A watcher that records what it hears (and on which thread) for tests to wait on, with deadlines. */
public final class Events implements Watcher {
    public static final Duration WAIT = Duration.ofSeconds(30);

    private final LinkedBlockingQueue<WatchedEvent> queue = new LinkedBlockingQueue<>();
    private final List<String> threads = new ArrayList<>();
    private final String name;

    public Events() {
        this("events");
    }

    public Events(String name) {
        this.name = name;
    }

    @Override
    public void process(WatchedEvent event) {
        synchronized (threads) {
            threads.add(Thread.currentThread().getName());
        }
        queue.add(event);
    }

    /** The next event, failing after {@link #WAIT}. */
    public WatchedEvent next() throws InterruptedException {
        WatchedEvent event = queue.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        if (event == null) {
            throw new AssertionError(name + ": no event within " + WAIT);
        }
        return event;
    }

    /** Skips events until one matches, failing after {@link #WAIT}. */
    public WatchedEvent await(Predicate<WatchedEvent> wanted, String what) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        List<WatchedEvent> skipped = new ArrayList<>();
        while (true) {
            long left = deadline - System.nanoTime();
            WatchedEvent event = left > 0 ? queue.poll(left, TimeUnit.NANOSECONDS) : null;
            if (event == null) {
                throw new AssertionError(name + ": no " + what + " within " + WAIT + "; saw " + skipped);
            }
            if (wanted.test(event)) {
                return event;
            }
            skipped.add(event);
        }
    }

    public WatchedEvent awaitState(Event.KeeperState state) throws InterruptedException {
        return await(e -> e.getType() == Event.EventType.None && e.getState() == state, "state " + state);
    }

    /** Asserts that nothing arrives within {@code quiet} (only where a positive event bounds the wait). */
    public WatchedEvent poll(Duration quiet) throws InterruptedException {
        return queue.poll(quiet.toMillis(), TimeUnit.MILLISECONDS);
    }

    public List<WatchedEvent> drain() {
        List<WatchedEvent> out = new ArrayList<>();
        queue.drainTo(out);
        return out;
    }

    public List<String> threads() {
        synchronized (threads) {
            return new ArrayList<>(threads);
        }
    }

    @Override
    public String toString() {
        return name;
    }
}
