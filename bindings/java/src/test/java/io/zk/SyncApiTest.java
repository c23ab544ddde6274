package io.zk;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zk.ZooDefs.Ids;
import io.zk.ZooDefs.Perms;
import io.zk.data.ACL;
import io.zk.data.ClientInfo;
import io.zk.data.Id;
import io.zk.data.Stat;
import io.zk.test.Events;
import io.zk.test.Jvm;
import io.zk.test.Servers;
import io.zk.test.SharedServer;
import io.zk.test.ZkServer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Every synchronous call, against the server the suite runs on. */
@ExtendWith(SharedServer.class)
class SyncApiTest {
    private ZkServer server;
    private ZooKeeper zk;
    private Events events;
    private String root;

    @BeforeEach
    void open(ZkServer server) throws Exception {
        this.server = server;
        events = new Events("default");
        zk = Servers.connect(server, events);
        root = Servers.root(zk, "sync");
    }

    @AfterEach
    void close() throws Exception {
        zk.close();
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void sessionFacts() {
        assertNotEquals(0, zk.getSessionId());
        assertEquals(16, zk.getSessionPasswd().length);
        assertEquals(30_000, zk.getSessionTimeout());
        assertEquals(ZooKeeper.States.CONNECTED, zk.getState());
        assertTrue(zk.getState().isAlive() && zk.getState().isConnected());
        assertTrue(zk.toString().contains("CONNECTED"));
    }

    @Test
    void everyCreateMode() throws Exception {
        Stat stat = new Stat();
        assertEquals(root + "/p", zk.create(root + "/p", bytes("a"), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT, stat));
        assertEquals(1, stat.getDataLength());
        assertEquals(0, stat.getEphemeralOwner());
        assertEquals(root + "/ps0000000001", zk.create(root + "/ps", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_SEQUENTIAL));
        assertEquals(root + "/e", zk.create(root + "/e", null, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL, stat));
        assertEquals(zk.getSessionId(), stat.getEphemeralOwner());
        String es = zk.create(root + "/es", null, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL_SEQUENTIAL);
        assertEquals(root + "/es0000000003", es);
        assertEquals(zk.getSessionId(), zk.exists(es, false).getEphemeralOwner());
        zk.create(root + "/c", null, Ids.OPEN_ACL_UNSAFE, CreateMode.CONTAINER, stat);
        assertEquals(0, stat.getVersion());
        zk.create(root + "/t", bytes("ttl"), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_WITH_TTL, stat, 60_000);
        assertEquals(3, stat.getDataLength());
        String ts = zk.create(root + "/ts", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, stat, 60_000);
        assertTrue(ts.startsWith(root + "/ts00000000"));
        assertEquals(List.of("c", "e", "es0000000003", "p", "ps0000000001", "t", ts.substring(root.length() + 1)),
            sorted(zk.getChildren(root, false)));
        // Null data reads back as null (Apache's client keeps null and empty apart).
        assertNull(zk.getData(root + "/e", false, null));
        assertArrayEquals(bytes("a"), zk.getData(root + "/p", false, null));
    }

    @Test
    void aContainerGoesWhenItsLastChildGoes() throws Exception {
        String container = zk.create(root + "/box", null, Ids.OPEN_ACL_UNSAFE, CreateMode.CONTAINER);
        zk.create(container + "/item", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        zk.delete(container + "/item", -1);
        // The servers run their container check every 200 ms here (znode.container.checkIntervalMs).
        long deadline = System.nanoTime() + Events.WAIT.toNanos();
        while (zk.exists(container, false) != null) {
            assertTrue(System.nanoTime() < deadline, "the empty container was not deleted");
            Thread.sleep(20);
        }
    }

    @Test
    void ttlAndModeArgumentsAreCheckedBeforeSending() {
        assertThrows(IllegalArgumentException.class,
            () -> zk.create(root + "/x", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_WITH_TTL, null, 0));
        assertThrows(IllegalArgumentException.class,
            () -> zk.create(root + "/x", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT, null, 1000));
        assertThrows(KeeperException.InvalidACLException.class,
            () -> zk.create(root + "/x", null, List.of(), CreateMode.PERSISTENT));
        java.util.ArrayList<ACL> withNull = new java.util.ArrayList<>(Ids.OPEN_ACL_UNSAFE);
        withNull.add(null);
        assertThrows(KeeperException.InvalidACLException.class,
            () -> zk.create(root + "/x", null, withNull, CreateMode.PERSISTENT));
        // An immutable list (List.of) is an ACL like any other.
        assertDoesNotThrow(() -> zk.create(root + "/immutable-acl", null,
            List.of(new ACL(Perms.ALL, Ids.ANYONE_ID_UNSAFE)), CreateMode.PERSISTENT));
        assertThrows(IllegalArgumentException.class, () -> zk.create("no-slash", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT));
        assertThrows(IllegalArgumentException.class, () -> zk.getData(root + "/", false, null));
        assertThrows(IllegalArgumentException.class, () -> zk.exists(root + "//x", false));
    }

    private static List<String> sorted(List<String> list) {
        list.sort(null);
        return list;
    }

    @Test
    void readWriteAndVersions() throws Exception {
        String path = root + "/rw";
        zk.create(path, bytes("0"), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        Stat stat = zk.setData(path, bytes("1"), 0);
        assertEquals(1, stat.getVersion());
        KeeperException.BadVersionException bad =
            assertThrows(KeeperException.BadVersionException.class, () -> zk.setData(path, bytes("2"), 0));
        assertEquals(KeeperException.Code.BADVERSION, bad.code());
        assertEquals(path, bad.getPath());
        assertEquals("KeeperErrorCode = BadVersion for " + path, bad.getMessage());
        Stat read = new Stat();
        assertArrayEquals(bytes("1"), zk.getData(path, false, read));
        assertEquals(stat, read);
        assertEquals(stat, zk.exists(path, false));
        assertNull(zk.exists(root + "/missing", false));
        assertThrows(KeeperException.NoNodeException.class, () -> zk.getData(root + "/missing", false, null));
        assertThrows(KeeperException.NodeExistsException.class,
            () -> zk.create(path, null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT));
        zk.create(path + "/kid", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        assertThrows(KeeperException.NotEmptyException.class, () -> zk.delete(path, -1));
        assertThrows(KeeperException.BadVersionException.class, () -> zk.delete(path + "/kid", 5));
        zk.delete(path + "/kid", 0);
        zk.delete(path, -1);
        assertNull(zk.exists(path, false));
        String ephemeral = zk.create(root + "/eph", null, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
        assertThrows(KeeperException.NoChildrenForEphemeralsException.class,
            () -> zk.create(ephemeral + "/kid", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT));
    }

    @Test
    void childrenWithAndWithoutStat() throws Exception {
        for (String name : List.of("b", "a", "c")) {
            zk.create(root + "/" + name, null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        }
        zk.create(root + "/a/deep", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        assertEquals(List.of("a", "b", "c"), sorted(zk.getChildren(root, false)));
        Stat stat = new Stat();
        assertEquals(3, zk.getChildren(root, null, stat).size());
        assertEquals(3, stat.getNumChildren());
        assertEquals(4, zk.getAllChildrenNumber(root));
        assertThrows(KeeperException.NoNodeException.class, () -> zk.getChildren(root + "/zz", false));
    }

    @Test
    void aclsAndAuth() throws Exception {
        String path = root + "/acl";
        zk.create(path, null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        Stat stat = new Stat();
        assertEquals(Ids.OPEN_ACL_UNSAFE, zk.getACL(path, stat));
        assertEquals(0, stat.getAversion());
        Stat changed = zk.setACL(path, Ids.READ_ACL_UNSAFE, 0);
        assertEquals(1, changed.getAversion());
        assertEquals(Ids.READ_ACL_UNSAFE, zk.getACL(path, null));
        assertThrows(KeeperException.NoAuthException.class, () -> zk.setData(path, bytes("x"), -1));
        zk.create(root + "/acl2", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        assertThrows(KeeperException.BadVersionException.class, () -> zk.setACL(root + "/acl2", Ids.OPEN_ACL_UNSAFE, 7));

        // digest: the creator's identity after addAuthInfo; another session is refused.
        zk.addAuthInfo("digest", bytes("alice:secret"));
        String secret = root + "/secret";
        zk.create(secret, bytes("s"), Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT);
        List<ACL> acl = zk.getACL(secret, null);
        assertEquals(new Id("digest", "alice:" + digest("alice:secret")), acl.get(0).getId());
        assertEquals(Perms.ALL, acl.get(0).getPerms());
        assertArrayEquals(bytes("s"), zk.getData(secret, false, null));
        List<ClientInfo> identities = zk.whoAmI();
        assertTrue(identities.contains(new ClientInfo("digest", "alice")), identities.toString());
        try (ZooKeeper other = Servers.connect(server, new Events("other"))) {
            assertThrows(KeeperException.NoAuthException.class, () -> other.getData(secret, false, null));
        }
    }

    static String digest(String idPassword) throws Exception {
        byte[] sha = MessageDigest.getInstance("SHA1").digest(idPassword.getBytes(StandardCharsets.UTF_8));
        return Base64.getEncoder().encodeToString(sha);
    }

    @Test
    void multiAndTransactions() throws Exception {
        List<OpResult> results = zk.multi(List.of(
            Op.create(root + "/m", bytes("1"), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT),
            Op.create(root + "/m/s-", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_SEQUENTIAL),
            Op.setData(root + "/m", bytes("2"), 0),
            Op.check(root + "/m", 1),
            Op.create(root + "/m/ttl", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_WITH_TTL, 60_000)));
        assertEquals(5, results.size());
        assertEquals(root + "/m", ((OpResult.CreateResult) results.get(0)).getPath());
        assertEquals(root + "/m/s-0000000000", ((OpResult.CreateResult) results.get(1)).getPath());
        assertEquals(1, ((OpResult.SetDataResult) results.get(2)).getStat().getVersion());
        assertTrue(results.get(3) instanceof OpResult.CheckResult);

        KeeperException failed = assertThrows(KeeperException.NoNodeException.class, () -> zk.multi(List.of(
            Op.setData(root + "/m", bytes("3"), -1),
            Op.delete(root + "/nope", -1),
            Op.create(root + "/never", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT))));
        List<OpResult> errors = failed.getResults();
        assertEquals(List.of(new OpResult.ErrorResult(0), new OpResult.ErrorResult(KeeperException.Code.NONODE.intValue()),
            new OpResult.ErrorResult(KeeperException.Code.RUNTIMEINCONSISTENCY.intValue())), errors);
        assertArrayEquals(bytes("2"), zk.getData(root + "/m", false, null), "nothing of a failed multi applies");
        assertNull(zk.exists(root + "/never", false));

        List<OpResult> tx = zk.transaction().create(root + "/t", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT)
            .setData(root + "/t", bytes("x"), -1).check(root + "/t", 1).delete(root + "/t", 1).commit();
        assertEquals(4, tx.size());
        assertTrue(tx.get(3) instanceof OpResult.DeleteResult);

        List<OpResult> reads = zk.multi(List.of(Op.getData(root + "/m"), Op.getChildren(root + "/m"), Op.getData(root + "/zz")));
        assertArrayEquals(bytes("2"), ((OpResult.GetDataResult) reads.get(0)).getData());
        assertEquals(2, ((OpResult.GetChildrenResult) reads.get(1)).getChildren().size());
        assertEquals(KeeperException.Code.NONODE.intValue(), ((OpResult.ErrorResult) reads.get(2)).getErr());
        assertThrows(IllegalArgumentException.class, () -> zk.multi(List.of(Op.getData(root), Op.delete(root, -1))));
        assertTrue(zk.multi(List.of()).isEmpty());
    }

    @Test
    void ephemeralsSyncAndConfig() throws Exception {
        zk.create(root + "/e1", null, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
        zk.create(root + "/e2", null, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
        assertEquals(List.of(root + "/e1", root + "/e2"), sorted(zk.getEphemerals(root)));
        assertTrue(zk.getEphemerals().containsAll(List.of(root + "/e1", root + "/e2")));
        zk.sync(root);
        try (ZooKeeper other = Servers.connect(server, new Events("other"))) {
            assertTrue(other.getEphemerals().isEmpty());
        }
        assertNotNull(zk.exists(ZooDefs.CONFIG_NODE, false));
    }

    @Test
    void resumesASessionWithItsIdAndPassword() throws Exception {
        // Another process opens the session, creates an ephemeral node and dies without closing.
        String path = root + "/mine";
        Jvm.Result owner = Jvm.run(Jvm.zkClasses() + java.io.File.pathSeparator + Jvm.testClasses(),
            "io.zk.test.SessionOwner", List.of(), java.time.Duration.ofMinutes(1), server.connectString(), path);
        assertEquals(0, owner.exitCode(), owner.describe());
        String[] session = owner.stdout().get(owner.stdout().size() - 1).split(" ");
        long id = Long.parseLong(session[0]);
        byte[] passwd = java.util.HexFormat.of().parseHex(session[1]);
        Events resumed = new Events("resumed");
        try (ZooKeeper again = new ZooKeeper(server.connectString(), 30_000, resumed, id, passwd)) {
            resumed.awaitState(Watcher.Event.KeeperState.SyncConnected);
            assertEquals(id, again.getSessionId());
            assertEquals(id, again.exists(path, false).getEphemeralOwner());
            assertEquals(List.of(path), again.getEphemerals(root));
        }
        assertNull(zk.exists(path, false), "closing the resumed session deleted its ephemeral node");
    }

    @Test
    void useAfterCloseThrowsAndNeverCrashes() throws Exception {
        ZooKeeper closed = Servers.connect(server, new Events("closed"));
        long id = closed.getSessionId();
        closed.close();
        closed.close();
        assertEquals(ZooKeeper.States.CLOSED, closed.getState());
        assertFalse(closed.getState().isAlive());
        assertEquals(id, closed.getSessionId());
        KeeperException e = assertThrows(KeeperException.SessionExpiredException.class, () -> closed.getData("/", false, null));
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
        assertThrows(KeeperException.SessionExpiredException.class,
            () -> closed.create("/x", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT));
        assertThrows(KeeperException.SessionExpiredException.class, () -> closed.multi(List.of(Op.check("/", -1))));
        closed.addAuthInfo("digest", bytes("a:b"));
        closed.register(event -> { });
    }
}
