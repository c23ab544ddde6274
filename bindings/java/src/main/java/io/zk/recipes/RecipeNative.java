package io.zk.recipes;

import io.zk.KeeperException;
import io.zk.internal.NativeLoader;

/** The native half of the recipes ({@code bindings/java/src/recipes.rs}). Timeouts: negative waits forever. */
final class RecipeNative {
    static {
        NativeLoader.load();
    }

    private RecipeNative() {}

    static native void free(long id);

    static native long lockNew(long h, String path, byte[] data) throws KeeperException;

    static native long lockAcquire(long lock, long timeoutMs) throws KeeperException;

    static native String[] lockContenders(long lock) throws KeeperException;

    static native long guardToken(long guard);

    static native String guardPath(long guard);

    static native boolean guardLost(long guard);

    static native void guardWatch(long guard, long token);

    static native void guardRelease(long guard) throws KeeperException;

    static native long latchStart(long h, String path, String id) throws KeeperException;

    static native long latchToken(long latch);

    static native boolean latchAwait(long latch, long timeoutMs) throws KeeperException;

    static native void latchWatch(long latch, long token);

    static native Object[] latchParticipants(long latch) throws KeeperException;

    static native void latchClose(long latch) throws KeeperException;

    static native long barrierNew(long h, String path) throws KeeperException;

    static native void barrierChange(long barrier, boolean set) throws KeeperException;

    static native boolean barrierWait(long barrier, long timeoutMs) throws KeeperException;

    static native long doubleBarrierNew(long h, String path, int members, byte[] data) throws KeeperException;

    static native boolean doubleBarrierPass(long barrier, boolean enter, long timeoutMs) throws KeeperException;

    static native long queueNew(long h, String path) throws KeeperException;

    static native void queuePut(long queue, byte[] item, int priority) throws KeeperException;

    static native byte[] queueTake(long queue, long timeoutMs) throws KeeperException;

    static native int queueSize(long queue) throws KeeperException;

    static native long counterNew(long h, String path, int format, long defaultValue) throws KeeperException;

    static native long counterUpdate(long counter, int op, long value) throws KeeperException;

    static native boolean counterCompareAndSet(long counter, long expected, long value) throws KeeperException;

    static native long groupJoin(long h, String group, String id, byte[] data) throws KeeperException;

    static native Object[] groupMembers(long h, String group) throws KeeperException;

    static native void groupSetData(long member, byte[] data) throws KeeperException;

    static native void groupLeave(long member) throws KeeperException;

    static native long treeStart(long h, String path, long token) throws KeeperException;

    static native Object[] treeGet(long cache, String path);

    static native String[] treeChildren(long cache, String path);

    static native Object[] treeSnapshot(long cache);
}
