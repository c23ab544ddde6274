package io.zk.recipes;

import io.zk.KeeperException;
import io.zk.ZooKeeper;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A local copy of a subtree kept current by one persistent-recursive watch (Curator's
 * {@code TreeCache}/{@code CuratorCache}). Starting reports every node as {@code NODE_ADDED}
 * then {@code INITIALIZED}; after a disconnection the cache reloads and reports the differences,
 * then {@code RESYNCED}. Listeners run on the client's event thread, in order.
 */
public final class TreeCache extends Recipe {

    /** What a cache reports. */
    public enum Type {
        NODE_ADDED,
        NODE_UPDATED,
        NODE_REMOVED,
        INITIALIZED,
        /** The client was disconnected; the cache may be stale until {@code RESYNCED}. */
        CONNECTION_SUSPENDED,
        RESYNCED,
        CLOSED
    }

    /** A cache event; {@code data} is the node (its last state for {@code NODE_REMOVED}), null for the others. */
    public record Event(Type type, ChildData data) {}

    public interface Listener {
        void event(Event event);
    }

    private final List<Listener> listeners;
    private final long token;

    private TreeCache(long id, long token, List<Listener> listeners) {
        super(id);
        this.token = token;
        this.listeners = listeners;
    }

    /** Starts caching {@code path} and everything below it; {@code listener} (may be null) hears every event from the start. */
    public static TreeCache start(ZooKeeper zk, String path, Listener listener) throws KeeperException, InterruptedException {
        List<Listener> listeners = new CopyOnWriteArrayList<>();
        if (listener != null) {
            listeners.add(listener);
        }
        long token = RecipeUpcalls.register((what, value, node) -> {
            Event event = new Event(type(what), node);
            for (Listener l : listeners) {
                l.event(event);
            }
        });
        try {
            return new TreeCache(RecipeNative.treeStart(handle(zk), path, token), token, listeners);
        } catch (KeeperException | RuntimeException e) {
            RecipeUpcalls.unregister(token);
            throw e;
        }
    }

    private static Type type(int what) {
        switch (what) {
            case RecipeUpcalls.CACHE_CREATED:
                return Type.NODE_ADDED;
            case RecipeUpcalls.CACHE_CHANGED:
                return Type.NODE_UPDATED;
            case RecipeUpcalls.CACHE_DELETED:
                return Type.NODE_REMOVED;
            case RecipeUpcalls.CACHE_INITIALIZED:
                return Type.INITIALIZED;
            case RecipeUpcalls.CACHE_SUSPENDED:
                return Type.CONNECTION_SUSPENDED;
            case RecipeUpcalls.CACHE_RESYNCED:
                return Type.RESYNCED;
            default:
                return Type.CLOSED;
        }
    }

    public void addListener(Listener listener) {
        listeners.add(listener);
    }

    /** A cached node of the subtree, or null. */
    public ChildData get(String path) {
        Object[] node = RecipeNative.treeGet(id, path);
        return node == null ? null : new ChildData(path, (byte[]) node[0], RecipeUpcalls.stat((long[]) node[1]));
    }

    /** The cached children's names of a node, sorted. */
    public List<String> getChildren(String path) {
        return Arrays.asList(RecipeNative.treeChildren(id, path));
    }

    /** Every cached node, by path in order. */
    public Map<String, ChildData> snapshot() {
        Object[] parts = RecipeNative.treeSnapshot(id);
        String[] paths = (String[]) parts[0];
        Object[] nodes = (Object[]) parts[1];
        Map<String, ChildData> snapshot = new LinkedHashMap<>();
        for (int i = 0; i < paths.length; i++) {
            Object[] node = (Object[]) nodes[i];
            snapshot.put(paths[i], new ChildData(paths[i], (byte[]) node[0], RecipeUpcalls.stat((long[]) node[1])));
        }
        return snapshot;
    }

    /** Stops the cache (its listeners hear {@code CLOSED}). */
    @Override
    public void close() throws KeeperException, InterruptedException {
        super.close();
    }
}
