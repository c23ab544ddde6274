package io.zk;

import io.zk.internal.NativeLoader;

/**
 * The native half of {@link ZooKeeper} (Rust, {@code bindings/java/src/client.rs}). Handles are
 * numbers chosen here; an unknown or closed handle fails with a closed-client error, never a crash.
 * The operation numbers below are an ABI with {@code src/ops.rs}.
 */
final class Native {
    static final int CREATE = 1;
    static final int DELETE = 2;
    static final int EXISTS = 3;
    static final int GET_DATA = 4;
    static final int SET_DATA = 5;
    static final int GET_ACL = 6;
    static final int SET_ACL = 7;
    static final int GET_CHILDREN = 8;
    static final int SYNC = 9;
    static final int GET_EPHEMERALS = 10;
    static final int GET_ALL_CHILDREN_NUMBER = 11;
    static final int ADD_WATCH = 12;
    static final int WHO_AM_I = 13;

    /** Core session states, as {@link #state} reports them. */
    static final int STATE_CONNECTING = 0;
    static final int STATE_CONNECTED = 1;
    static final int STATE_CONNECTED_READ_ONLY = 2;
    static final int STATE_SUSPENDED = 3;
    static final int STATE_EXPIRED = 4;
    static final int STATE_AUTH_FAILED = 5;
    static final int STATE_CLOSED = 6;

    static {
        NativeLoader.load();
    }

    private Native() {}

    /**
     * Starts connecting; events for handle {@code h} go to {@link Upcalls}. With {@code tlsCaFile}
     * (null: plaintext) the connection is TLS, with an optional client certificate and key. With
     * {@code saslUsername}, SASL DIGEST-MD5; else with {@code jaasFile}, the credentials of its
     * {@code jaasSection} (null: {@code Client}; a file without it means no SASL).
     */
    static native void open(long h, String connectString, int sessionTimeoutMs, boolean canBeReadOnly,
                            long sessionId, byte[] sessionPasswd, long slowCallbackMillis,
                            String tlsCaFile, String tlsCertFile, String tlsKeyFile, boolean tlsVerifyHostname,
                            String saslUsername, String saslPassword, String[] clientProperties);

    /** Closes the session (its ephemerals go at once) and forgets the handle. */
    static native void close(long h);

    /** Forgets the handle and closes its session in the background (for the Cleaner). */
    static native void release(long h);

    /** One of the {@code STATE_*} numbers; {@link #STATE_CLOSED} for a forgotten handle. */
    static native int state(long h);

    static native long sessionId(long h);

    static native byte[] sessionPasswd(long h);

    static native int sessionTimeout(long h);

    /** Queues credentials; requests made after this are sent after them. */
    static native void addAuth(long h, String scheme, byte[] auth);

    /**
     * Runs {@link Upcalls#posted} with {@code id} on the handle's event thread, after what is
     * queued; false (nothing queued) once the handle is closed.
     */
    static native boolean post(long h, long id);

    /** Removes the watch set with {@code token} (removeWatches on the server if it was the last). */
    static native void removeWatch(long h, long token);

    /**
     * One operation ({@code kind} is one of the numbers above). With {@code op == 0} it waits and
     * returns the result (filling {@code stat}); otherwise it returns at once and the result goes to
     * {@link Upcalls#complete} with {@code op}. A non-zero {@code watch} token sets a watch whose
     * events go to {@link Upcalls#watch}.
     */
    static native Object call(long h, int kind, long op, long watch, String path, byte[] data, int version,
                              int mode, long ttl, int[] aclPerms, String[] aclSchemes, String[] aclIds,
                              long[] stat) throws KeeperException;

    /**
     * A multi (writes, or reads when {@code read}); with {@code op == 0} it waits and returns the
     * results (see {@link ClientEvents#multiResults}), otherwise they go to {@link Upcalls#complete}.
     */
    static native Object multi(long h, long op, boolean read, int[] kinds, String[] paths, Object[] datas,
                               int[] versions, int[] modes, long[] ttls, int[] aclCounts, int[] aclPerms,
                               String[] aclSchemes, String[] aclIds) throws KeeperException;
}
