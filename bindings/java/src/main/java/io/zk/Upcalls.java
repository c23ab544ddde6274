package io.zk;

import java.lang.ref.WeakReference;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Where the native side hands over events, on a handle's event thread (see {@code src/upcall.rs}).
 * Handles map to their {@link ClientEvents} weakly, so an unreachable {@link ZooKeeper} can be
 * collected (and its Cleaner close the session) while native code still knows the handle.
 */
final class Upcalls {
    private static final ConcurrentHashMap<Long, WeakReference<ClientEvents>> HANDLES = new ConcurrentHashMap<>();

    private Upcalls() {}

    static void register(long h, ClientEvents events) {
        HANDLES.put(h, new WeakReference<>(events));
    }

    static void unregister(long h) {
        HANDLES.remove(h);
    }

    private static ClientEvents of(long h) {
        WeakReference<ClientEvents> ref = HANDLES.get(h);
        return ref == null ? null : ref.get();
    }

    /** A state change (an Apache {@code KeeperState} number). */
    static void state(long h, int keeperState) {
        ClientEvents events = of(h);
        if (events != null) {
            events.onState(keeperState);
        }
    }

    /** A watch set with {@code token} fired; {@code seq} numbers the server's notification. */
    static void watch(long h, long token, long seq, int type, int state, String path) {
        ClientEvents events = of(h);
        if (events != null) {
            events.onWatch(token, seq, type, state, path);
        }
    }

    /** An asynchronous operation finished; {@code watched} tells whether it set its watch. */
    static void complete(long h, long op, int rc, Object value, long[] stat, boolean watched) {
        ClientEvents events = of(h);
        if (events != null) {
            events.onComplete(op, rc, value, stat, watched);
        }
    }

    /** The handle was closed and everything queued for it has run. */
    static void released(long h) {
        unregister(h);
    }

    /** A job posted with {@link Native#post}. */
    static void posted(long h, long id) {
        ClientEvents events = of(h);
        if (events != null) {
            events.onPosted(id);
        }
    }
}
