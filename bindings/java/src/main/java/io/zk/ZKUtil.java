package io.zk;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * Apache's {@code org.apache.zookeeper.ZKUtil} tree helpers, over the public client API:
 * {@link #deleteRecursive(ZooKeeper, String)} and {@link #listSubTreeBFS(ZooKeeper, String)} with
 * Apache's signatures and behaviour, so a program that used them runs here unchanged.
 *
 * <p>Like Apache's, they are not atomic: the tree is listed, then deleted leaves first, and a node
 * created or deleted by someone else in between makes the delete fail (it is not retried). The
 * recipes' own cleanup (missing is success, concurrent children deleted too) is the core's
 * {@code delete_recursive}, which the Python and Node bindings expose.
 */
public final class ZKUtil {
    private ZKUtil() {}

    /**
     * Deletes {@code pathRoot} and every node below it, one {@code delete} at a time, leaves first
     * (Apache's {@code deleteRecursive(zk, pathRoot)}, the same as a batch size of 0).
     *
     * @throws IllegalArgumentException if {@code pathRoot} is not a valid path
     * @throws KeeperException.NoNodeException if {@code pathRoot} does not exist, or a node went
     *     away while the tree was being deleted; any other failure of a delete is thrown as well
     *     and stops the delete (what is deleted stays deleted)
     */
    public static void deleteRecursive(ZooKeeper zk, String pathRoot) throws InterruptedException, KeeperException {
        deleteRecursive(zk, pathRoot, 0);
    }

    /**
     * Deletes {@code pathRoot} and every node below it, leaves first. With {@code batchSize > 0}
     * the deletes go in {@code multi}s of up to {@code batchSize} operations; a multi that fails
     * stops the delete and the answer is {@code false} (each multi is all or none, so the earlier
     * batches stay deleted and the failed one not at all). With {@code batchSize <= 0} each node
     * is deleted on its own and a failure is thrown, as {@link #deleteRecursive(ZooKeeper, String)}.
     *
     * @return whether the whole tree was deleted
     * @throws IllegalArgumentException if {@code pathRoot} is not a valid path
     * @throws KeeperException.NoNodeException if {@code pathRoot} does not exist (listing the tree
     *     fails before anything is deleted)
     */
    public static boolean deleteRecursive(ZooKeeper zk, String pathRoot, int batchSize)
        throws InterruptedException, KeeperException {
        List<String> tree = listSubTreeBFS(zk, pathRoot);
        if (batchSize <= 0) {
            for (int i = tree.size() - 1; i >= 0; i--) {
                zk.delete(tree.get(i), -1);
            }
            return true;
        }
        List<Op> batch = new ArrayList<>(Math.min(batchSize, tree.size()));
        for (int i = tree.size() - 1; i >= 0; i--) {
            batch.add(Op.delete(tree.get(i), -1));
            if (batch.size() == batchSize || i == 0) {
                try {
                    zk.multi(batch);
                } catch (KeeperException failed) {
                    return false;
                }
                batch = new ArrayList<>(Math.min(batchSize, i));
            }
        }
        return true;
    }

    /**
     * Every path of the tree under {@code pathRoot}, {@code pathRoot} first, in breadth-first
     * order (parents before their children). Not a snapshot: each node is listed by its own
     * request.
     *
     * @throws IllegalArgumentException if {@code pathRoot} is not a valid path
     * @throws KeeperException.NoNodeException if {@code pathRoot} (or a node being listed) does
     *     not exist
     */
    public static List<String> listSubTreeBFS(ZooKeeper zk, String pathRoot)
        throws KeeperException, InterruptedException {
        List<String> tree = new ArrayList<>();
        Deque<String> toList = new ArrayDeque<>();
        toList.add(pathRoot);
        tree.add(pathRoot);
        while (!toList.isEmpty()) {
            String node = toList.poll();
            for (String child : zk.getChildren(node, false)) {
                String childPath = node.equals("/") ? "/" + child : node + "/" + child;
                toList.add(childPath);
                tree.add(childPath);
            }
        }
        return tree;
    }
}
