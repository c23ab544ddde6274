package io.zk;

import io.zk.Watcher.Event.EventType;
import io.zk.Watcher.Event.KeeperState;
import io.zk.internal.Log;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One client's watchers, pending callbacks and event delivery: Apache's watch manager rules
 * ({@code ZKWatchManager}) over the core's ordered watch callbacks.
 *
 * <p>Every watch a call sets gets a token before the call is sent, so its event can never arrive
 * before its watcher is known. The core numbers each server notification; the watchers one
 * notification fires are called once each (a watcher set on a node's data and children hears of
 * its deletion once), and a state change goes to the default watcher and every registered one,
 * as Apache's client does. Everything runs on the handle's event thread, in the order the server
 * sent it, or on the user's executor in that same order.
 */
final class ClientEvents {
    static final int DATA = 1;
    static final int CHILD = 2;
    static final int PERSISTENT = 3;
    static final int RECURSIVE = 4;

    /** What an asynchronous operation does with its native result ({@code code} is the native code). */
    interface Completion {
        void complete(int code, Object value, long[] stat);
    }

    private static final class Registration {
        final int kind;
        final String path;
        final Watcher watcher;

        Registration(int kind, String path, Watcher watcher) {
            this.kind = kind;
            this.path = path;
            this.watcher = watcher;
        }

        boolean oneShot() {
            return kind == DATA || kind == CHILD;
        }
    }

    private static final class Pending {
        final Completion completion;
        final long token;

        Pending(Completion completion, long token) {
            this.completion = completion;
            this.token = token;
        }
    }

    /** A watcher removed by removeWatches and the event it is told. */
    static final class Removed {
        final long token;
        final Watcher watcher;
        final EventType type;

        Removed(long token, Watcher watcher, EventType type) {
            this.token = token;
            this.watcher = watcher;
            this.type = type;
        }
    }

    final long handle;
    private final Executor executor;
    private final long slowNanos;
    private volatile Watcher defaultWatcher;
    private final AtomicLong nextId = new AtomicLong(1);
    private final Map<Long, Registration> watches = new LinkedHashMap<>();
    private final ConcurrentHashMap<Long, Pending> pending = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<Long, Runnable> posted = new ConcurrentHashMap<>();

    // Touched only by whoever runs deliveries (one at a time, in order).
    private long lastNotification = Long.MIN_VALUE;
    private final Set<Watcher> calledForNotification = new HashSet<>();
    private KeeperState lastState;

    ClientEvents(long handle, Watcher defaultWatcher, Executor executor, long slowCallbackMillis) {
        this.handle = handle;
        this.defaultWatcher = defaultWatcher;
        this.executor = executor == null ? null : new SerialExecutor(executor);
        this.slowNanos = slowCallbackMillis * 1_000_000L;
    }

    Watcher defaultWatcher() {
        return defaultWatcher;
    }

    void setDefaultWatcher(Watcher watcher) {
        defaultWatcher = watcher;
    }

    // ----- registrations

    /** A token for a watch {@code watcher} sets on {@code path}; 0 (no watch) for a null watcher. */
    long watch(int kind, String path, Watcher watcher) {
        if (watcher == null) {
            return 0;
        }
        long token = nextId.getAndIncrement();
        synchronized (watches) {
            watches.put(token, new Registration(kind, path, watcher));
        }
        return token;
    }

    /** The call that was to set the watch failed, so it set none. */
    void forget(long token) {
        if (token != 0) {
            synchronized (watches) {
                watches.remove(token);
            }
        }
    }

    /** Removes (locally) the watches of {@code type} on {@code path}: of {@code watcher}, or all if null. */
    List<Removed> removeWatches(String path, Watcher watcher, Watcher.WatcherType type) {
        List<Removed> removed = new ArrayList<>();
        synchronized (watches) {
            Iterator<Map.Entry<Long, Registration>> it = watches.entrySet().iterator();
            while (it.hasNext()) {
                Map.Entry<Long, Registration> entry = it.next();
                Registration r = entry.getValue();
                if (!r.path.equals(path) || (watcher != null && !watcher.equals(r.watcher))) {
                    continue;
                }
                EventType event = removalEvent(r.kind, type);
                if (event != null) {
                    it.remove();
                    removed.add(new Removed(entry.getKey(), r.watcher, event));
                }
            }
        }
        return removed;
    }

    private static EventType removalEvent(int kind, Watcher.WatcherType type) {
        switch (type) {
            case Children:
                return kind == CHILD ? EventType.ChildWatchRemoved : null;
            case Data:
                return kind == DATA ? EventType.DataWatchRemoved : null;
            case Persistent:
                return kind == PERSISTENT ? EventType.PersistentWatchRemoved : null;
            case PersistentRecursive:
                return kind == RECURSIVE ? EventType.PersistentWatchRemoved : null;
            case Any:
            default:
                return kind == DATA ? EventType.DataWatchRemoved
                    : kind == CHILD ? EventType.ChildWatchRemoved : EventType.PersistentWatchRemoved;
        }
    }

    /** Tells removed watchers (once per watcher and event type), on the event thread. */
    void notifyRemoved(String path, List<Removed> removed, Runnable then) {
        post(() -> {
            Set<String> told = new HashSet<>();
            for (Removed r : removed) {
                if (told.add(System.identityHashCode(r.watcher) + ":" + r.type)) {
                    call(r.watcher, new WatchedEvent(r.type, KeeperState.SyncConnected, path));
                }
            }
            if (then != null) {
                then.run();
            }
        });
    }

    // ----- pending operations

    long pend(Completion completion, long token) {
        long op = nextId.getAndIncrement();
        pending.put(op, new Pending(completion, token));
        return op;
    }

    void unpend(long op) {
        pending.remove(op);
    }

    /** Runs a job on the event thread after everything queued before it (inline once closed). */
    void post(Runnable job) {
        long id = nextId.getAndIncrement();
        posted.put(id, job);
        if (!Native.post(handle, id) && posted.remove(id) != null) {
            deliver(job, "callback");
        }
    }

    // ----- what the native side hands over (on the event thread)

    void onComplete(long op, int code, Object value, long[] stat, boolean watched) {
        Pending p = pending.remove(op);
        if (p == null) {
            return;
        }
        if (!watched) {
            forget(p.token);
        }
        deliver(() -> p.completion.complete(code, value, stat), "callback");
    }

    void onWatch(long token, long notification, int type, int state, String path) {
        Registration r;
        synchronized (watches) {
            r = watches.get(token);
            if (r == null) {
                return;
            }
            if (r.oneShot()) {
                watches.remove(token);
            }
        }
        if (notification != lastNotification) {
            lastNotification = notification;
            calledForNotification.clear();
        }
        if (calledForNotification.add(r.watcher)) {
            call(r.watcher, new WatchedEvent(EventType.fromInt(type), KeeperState.fromInt(state), path));
        }
    }

    void onState(int keeperState) {
        KeeperState state = KeeperState.fromInt(keeperState);
        if (state == lastState) {
            return;
        }
        lastState = state;
        boolean terminal = state == KeeperState.Expired || state == KeeperState.Closed
            || state == KeeperState.AuthFailed;
        Set<Watcher> targets = new LinkedHashSet<>();
        Watcher main = defaultWatcher;
        if (main != null) {
            targets.add(main);
        }
        synchronized (watches) {
            for (Registration r : watches.values()) {
                targets.add(r.watcher);
            }
            if (terminal) {
                watches.clear();
            }
        }
        WatchedEvent event = new WatchedEvent(EventType.None, state, null);
        for (Watcher watcher : targets) {
            call(watcher, event);
        }
    }

    void onPosted(long id) {
        Runnable job = posted.remove(id);
        if (job != null) {
            deliver(job, "callback");
        }
    }

    private void call(Watcher watcher, WatchedEvent event) {
        deliver(() -> watcher.process(event), "watcher");
    }

    private void deliver(Runnable job, String what) {
        if (executor == null) {
            run(job, what);
        } else {
            executor.execute(() -> {
                long started = System.nanoTime();
                run(job, what);
                long took = System.nanoTime() - started;
                if (took > slowNanos) {
                    Log.warn("a zk " + what + " ran for " + took / 1_000_000 + " ms and delayed this client's later callbacks");
                }
            });
        }
    }

    private static void run(Runnable job, String what) {
        try {
            job.run();
        } catch (Throwable t) {
            Log.error("Error while calling " + what, t);
        }
    }

    /** Runs a user executor's jobs one at a time, in order (the executor may have many threads). */
    private static final class SerialExecutor implements Executor {
        private final ArrayDeque<Runnable> queue = new ArrayDeque<>();
        private final Executor executor;
        private boolean running;

        SerialExecutor(Executor executor) {
            this.executor = executor;
        }

        @Override
        public synchronized void execute(Runnable job) {
            queue.add(job);
            if (!running) {
                running = true;
                try {
                    executor.execute(this::drain);
                } catch (RuntimeException refused) {
                    running = false;
                    queue.clear();
                    Log.error("the executor given to zk refused a callback; callbacks queued are dropped", refused);
                }
            }
        }

        private void drain() {
            while (true) {
                Runnable job;
                synchronized (this) {
                    job = queue.poll();
                    if (job == null) {
                        running = false;
                        return;
                    }
                }
                job.run();
            }
        }
    }

    /**
     * A multi's results from their native form: {@code Object[]{int[] types, int[] errs, String[] paths,
     * long[] stats (11 per result), Object[] datas, Object[] children}}.
     */
    static List<OpResult> multiResults(Object value) {
        Object[] parts = (Object[]) value;
        int[] types = (int[]) parts[0];
        int[] errs = (int[]) parts[1];
        String[] paths = (String[]) parts[2];
        long[] stats = (long[]) parts[3];
        Object[] datas = (Object[]) parts[4];
        Object[] children = (Object[]) parts[5];
        List<OpResult> results = new ArrayList<>(types.length);
        for (int i = 0; i < types.length; i++) {
            long[] s = java.util.Arrays.copyOfRange(stats, i * 11, i * 11 + 11);
            switch (types[i]) {
                case ZooDefs.OpCode.create:
                    results.add(new OpResult.CreateResult(ZooDefs.OpCode.create2, paths[i], ZooKeeper.stat(s)));
                    break;
                case ZooDefs.OpCode.delete:
                    results.add(new OpResult.DeleteResult());
                    break;
                case ZooDefs.OpCode.setData:
                    results.add(new OpResult.SetDataResult(ZooKeeper.stat(s)));
                    break;
                case ZooDefs.OpCode.check:
                    results.add(new OpResult.CheckResult());
                    break;
                case ZooDefs.OpCode.getData:
                    results.add(new OpResult.GetDataResult((byte[]) datas[i], ZooKeeper.stat(s)));
                    break;
                case ZooDefs.OpCode.getChildren:
                    results.add(new OpResult.GetChildrenResult(new ArrayList<>(java.util.Arrays.asList((String[]) children[i]))));
                    break;
                default:
                    results.add(new OpResult.ErrorResult(NativeErrors.rc(errs[i])));
            }
        }
        return results;
    }
}
