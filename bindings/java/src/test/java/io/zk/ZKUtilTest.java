package io.zk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zk.ZooDefs.Ids;
import io.zk.ZooDefs.Perms;
import io.zk.data.ACL;
import io.zk.test.Events;
import io.zk.test.Servers;
import io.zk.test.SharedServer;
import io.zk.test.ZkServer;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** ZKUtil's tree helpers behave as Apache's: leaves first, a missing root is NoNode, bad paths refused. */
@ExtendWith(SharedServer.class)
class ZKUtilTest {
    private ZooKeeper zk;
    private String root;

    @BeforeEach
    void open(ZkServer server) throws Exception {
        zk = Servers.connect(server, new Events("zkutil"));
        root = Servers.root(zk, "zkutil");
    }

    @AfterEach
    void close() throws Exception {
        zk.close();
    }

    /** root/a, root/a/x, root/a/x/deep, root/b (with data), and an ephemeral root/e. */
    private void tree() throws Exception {
        for (String path : List.of("/a", "/a/x", "/a/x/deep", "/b")) {
            zk.create(root + path, "data".getBytes(), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        }
        zk.create(root + "/e", null, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
    }

    @Test
    void listsTheTreeBreadthFirstFromItsRoot() throws Exception {
        tree();
        List<String> tree = ZKUtil.listSubTreeBFS(zk, root);
        assertEquals(6, tree.size(), tree.toString());
        assertEquals(root, tree.get(0));
        assertEquals(List.of(root + "/a", root + "/b", root + "/e"), tree.subList(1, 4).stream().sorted().toList());
        assertEquals(List.of(root + "/a/x", root + "/a/x/deep"), tree.subList(4, 6));
        assertEquals(List.of(root + "/a/x/deep"), ZKUtil.listSubTreeBFS(zk, root + "/a/x/deep"));
    }

    @Test
    void deletesTheWholeTreeAndOnlyIt() throws Exception {
        zk.create(root + "-sibling", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        tree();
        ZKUtil.deleteRecursive(zk, root);
        assertNull(zk.exists(root, false));
        assertNotNull(zk.exists(root + "-sibling", false), "a node that only shares the prefix stays");
        zk.delete(root + "-sibling", -1);
    }

    @Test
    void deletesInBatchesOfMulti() throws Exception {
        tree();
        for (int i = 0; i < 10; i++) {
            zk.create(root + "/b/n" + i, null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        }
        assertTrue(ZKUtil.deleteRecursive(zk, root + "/a", 1));
        assertNull(zk.exists(root + "/a", false));
        assertTrue(ZKUtil.deleteRecursive(zk, root, 4)); // 13 nodes: batches of 4, 4, 4 and 1
        assertNull(zk.exists(root, false));
    }

    /** root/locked lets nobody delete its children; root/locked/c is the node that cannot go. */
    private void undeletable() throws Exception {
        List<ACL> noDelete = List.of(new ACL(Perms.ALL & ~Perms.DELETE, Ids.ANYONE_ID_UNSAFE));
        zk.create(root + "/locked", null, noDelete, CreateMode.PERSISTENT);
        zk.create(root + "/locked/c", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
    }

    @Test
    void aBatchThatFailsStopsTheDeleteAndSaysSo() throws Exception {
        tree();
        undeletable();
        // Leaves first, one per batch: root/a/x/deep goes, root/locked/c fails, and nothing
        // listed before it (its parent, the root) is tried.
        assertFalse(ZKUtil.deleteRecursive(zk, root, 1));
        assertNull(zk.exists(root + "/a/x/deep", false));
        assertNotNull(zk.exists(root + "/locked", false));
        assertNotNull(zk.exists(root + "/b", false));
        // One batch for everything: all or none, so nothing goes.
        List<String> left = ZKUtil.listSubTreeBFS(zk, root).stream().sorted().toList();
        assertFalse(ZKUtil.deleteRecursive(zk, root, 100));
        assertEquals(left, ZKUtil.listSubTreeBFS(zk, root).stream().sorted().toList());
        // One by one: the failure is thrown.
        assertThrows(KeeperException.NoAuthException.class, () -> ZKUtil.deleteRecursive(zk, root));
        zk.setACL(root + "/locked", Ids.OPEN_ACL_UNSAFE, -1);
        ZKUtil.deleteRecursive(zk, root);
        assertNull(zk.exists(root, false));
    }

    @Test
    void aMissingRootIsNoNodeAndDeletesNothing() throws Exception {
        assertThrows(KeeperException.NoNodeException.class, () -> ZKUtil.deleteRecursive(zk, root + "/missing"));
        assertThrows(KeeperException.NoNodeException.class, () -> ZKUtil.deleteRecursive(zk, root + "/missing", 10));
        assertThrows(KeeperException.NoNodeException.class, () -> ZKUtil.listSubTreeBFS(zk, root + "/missing"));
        assertNotNull(zk.exists(root, false));
    }

    @Test
    void aBadPathIsRefusedBeforeAnythingIsSent() throws Exception {
        tree();
        for (String bad : List.of("no-slash", root + "/", root + "//a", "")) {
            assertThrows(IllegalArgumentException.class, () -> ZKUtil.deleteRecursive(zk, bad), bad);
        }
        assertEquals(6, ZKUtil.listSubTreeBFS(zk, root).size(), "nothing was deleted");
        ZKUtil.deleteRecursive(zk, root);
    }
}
