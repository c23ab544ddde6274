package io.zk.recipes;

import io.zk.KeeperException;
import java.util.concurrent.CompletableFuture;

/**
 * A held {@link Lock} (or leadership): its node, its fencing token, and the signal that it was
 * lost. It is lost as soon as the client is disconnected, its session expires or it is closed,
 * or the node is deleted by someone else: stop acting on it then. {@link #release()} (or
 * {@link #close()}) deletes the node.
 */
public final class Lease extends Recipe {
    private final CompletableFuture<Void> lost = new CompletableFuture<>();
    private final long token;
    private final long fencingToken;
    private final String path;
    private volatile boolean released;

    Lease(long id) {
        super(id);
        fencingToken = RecipeNative.guardToken(id);
        path = RecipeNative.guardPath(id);
        token = RecipeUpcalls.register((what, value, node) -> {
            if (what == RecipeUpcalls.LOST) {
                lost.complete(null);
            }
        });
        RecipeNative.guardWatch(id, token);
    }

    /**
     * The czxid of this lease's node: every later holder of the same lock has a larger one, so a
     * resource that remembers the largest token it has seen can refuse a stale holder.
     */
    public long fencingToken() {
        return fencingToken;
    }

    /** The path of this lease's node. */
    public String path() {
        return path;
    }

    /** Whether the hold is lost (or released). */
    public boolean isLost() {
        return released || lost.isDone() || RecipeNative.guardLost(id);
    }

    /** Completes (on the client's event thread) once the hold is lost; never after a release. */
    public CompletableFuture<Void> whenLost() {
        return lost;
    }

    /** Deletes the node (waiting through a reconnect); a node already gone is success. */
    public void release() throws KeeperException, InterruptedException {
        released = true;
        RecipeUpcalls.unregister(token);
        RecipeNative.guardRelease(id);
        super.close();
    }

    @Override
    public void close() throws KeeperException, InterruptedException {
        release();
    }
}
