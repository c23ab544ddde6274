package io.zk.recipes;

import io.zk.data.Stat;
import io.zk.internal.Log;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Where the native side hands recipe events over, on the client's event thread (see
 * {@code src/recipes.rs}): each listener registers under a token.
 */
final class RecipeUpcalls {
    static final int LOST = 1;
    static final int LEADER = 2;
    static final int NOT_LEADER = 3;
    static final int LATCH_CLOSED = 4;
    static final int CACHE_CREATED = 10;
    static final int CACHE_CHANGED = 11;
    static final int CACHE_DELETED = 12;
    static final int CACHE_INITIALIZED = 13;
    static final int CACHE_SUSPENDED = 14;
    static final int CACHE_RESYNCED = 15;
    static final int CACHE_CLOSED = 16;

    interface Listener {
        void event(int what, long value, ChildData node);
    }

    private static final ConcurrentHashMap<Long, Listener> LISTENERS = new ConcurrentHashMap<>();
    private static final AtomicLong NEXT = new AtomicLong(1);

    private RecipeUpcalls() {}

    static long register(Listener listener) {
        long token = NEXT.getAndIncrement();
        LISTENERS.put(token, listener);
        return token;
    }

    static void unregister(long token) {
        LISTENERS.remove(token);
    }

    static void event(long h, long token, int what, long value, String path, byte[] data, long[] stat) {
        Listener listener = LISTENERS.get(token);
        if (listener == null) {
            return;
        }
        ChildData node = path == null ? null : new ChildData(path, data, stat(stat));
        try {
            listener.event(what, value, node);
        } catch (Throwable t) {
            Log.error("Error while calling a recipe listener", t);
        }
    }

    static Stat stat(long[] s) {
        if (s == null) {
            return null;
        }
        return new Stat(s[0], s[1], s[2], s[3], (int) s[4], (int) s[5], (int) s[6], s[7], (int) s[8], (int) s[9], s[10]);
    }
}
