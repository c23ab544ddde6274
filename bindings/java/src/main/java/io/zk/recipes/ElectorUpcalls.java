package io.zk.recipes;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Where the native side calls an elector's callbacks, on that elector's event thread (see
 * {@code src/elector.rs}); the answer goes back to the elector, which waits for it.
 */
final class ElectorUpcalls {
    static final int BECOME_ACTIVE = 1;
    static final int BECOME_STANDBY = 2;
    static final int ENTER_NEUTRAL = 3;
    static final int FENCE_OLD_ACTIVE = 4;
    static final int FATAL_ERROR = 5;

    private static final ConcurrentHashMap<Long, ActiveStandbyElector> ELECTORS = new ConcurrentHashMap<>();
    private static final AtomicLong NEXT = new AtomicLong(1);

    private ElectorUpcalls() {}

    static long register(ActiveStandbyElector elector) {
        long token = NEXT.getAndIncrement();
        ELECTORS.put(token, elector);
        return token;
    }

    static void unregister(long token) {
        ELECTORS.remove(token);
    }

    /** Runs one callback; false (the safe answer) when it failed or the elector is gone. */
    static boolean call(long token, int what, byte[] data, String message) {
        ActiveStandbyElector elector = ELECTORS.get(token);
        return elector != null && elector.callback(what, data, message);
    }
}
