package io.zk.recipes;

import io.zk.KeeperException;
import io.zk.internal.NativeLoader;

/** The native half of {@link ActiveStandbyElector} ({@code bindings/java/src/elector.rs}). */
final class ElectorNative {
    static {
        NativeLoader.load();
    }

    private ElectorNative() {}

    static native long open(String hosts, String parent, int sessionTimeoutMs, int[] aclPerms, String[] aclSchemes,
                            String[] aclIds, String authScheme, byte[] auth, int maxRetries, long rejoinPauseMs,
                            long connectPauseMs, long token, String tlsCaFile, String tlsCertFile,
                            String tlsKeyFile, boolean tlsVerifyHostname, String saslUsername,
                            String saslPassword, String[] clientProperties) throws KeeperException;

    static native void join(long elector, byte[] data) throws KeeperException;

    static native void quit(long elector, boolean needFence, boolean inCallback) throws KeeperException;

    static native void cede(long elector, long millis, boolean inCallback) throws KeeperException;

    static native void ensureParent(long elector, boolean inCallback) throws KeeperException;

    static native void clearParent(long elector, boolean inCallback) throws KeeperException;

    static native boolean parentExists(long elector, boolean inCallback) throws KeeperException;

    static native boolean format(long elector, boolean force, boolean inCallback) throws KeeperException;

    static native byte[] activeData(long elector, boolean inCallback) throws KeeperException;

    static native int state(long elector);

    static native long sessionId(long elector);

    static native void close(long elector, boolean inCallback);

    static native byte[] encodeNodeInfo(String nameserviceId, String namenodeId, String hostname, int port, int zkfcPort);

    static native Object[] decodeNodeInfo(byte[] data);
}
