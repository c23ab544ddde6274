package io.zk;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zk.KeeperException.Code;
import io.zk.ZooDefs.Ids;
import io.zk.data.Stat;
import io.zk.test.Events;
import io.zk.test.Servers;
import io.zk.test.SharedServer;
import io.zk.test.ZkServer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Every asynchronous call: Apache's callbacks ({@code rc, path, ctx, ...}) and the CompletableFuture forms. */
@ExtendWith(SharedServer.class)
class AsyncApiTest {
    private ZooKeeper zk;
    private String root;
    private final BlockingQueue<String> done = new LinkedBlockingQueue<>();
    private final List<String> threads = new ArrayList<>();

    @BeforeEach
    void open(ZkServer server) throws Exception {
        zk = Servers.connect(server, new Events("default"));
        root = Servers.root(zk, "async");
    }

    @AfterEach
    void close() throws Exception {
        zk.close();
    }

    private void record(String line) {
        synchronized (threads) {
            threads.add(Thread.currentThread().getName());
        }
        done.add(line.replace(root, "<r>"));
    }

    private List<String> take(int n) throws InterruptedException {
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String line = done.poll(Events.WAIT.toMillis(), TimeUnit.MILLISECONDS);
            if (line == null) {
                throw new AssertionError("callback " + (i + 1) + " of " + n + " never came; got " + lines);
            }
            lines.add(line);
        }
        return lines;
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static String name(int rc) {
        return Code.get(rc).name();
    }

    @Test
    void everyCallbackInTheOrderTheRepliesCame() throws Exception {
        Object ctx = new Object();
        zk.create(root + "/a", bytes("a"), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT,
            (AsyncCallback.StringCallback) (rc, path, c, name) -> record("string " + name(rc) + " " + path + " " + (c == ctx) + " " + name), ctx);
        zk.create(root + "/a/s-", null, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL_SEQUENTIAL,
            (AsyncCallback.Create2Callback) (rc, path, c, name, stat) -> record("create2 " + name(rc) + " " + name + " " + (stat.getEphemeralOwner() == zk.getSessionId())), ctx);
        zk.create(root + "/ttl", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_WITH_TTL,
            (rc, path, c, name, stat) -> record("ttl " + name(rc) + " " + name), ctx, 60_000);
        zk.exists(root + "/a", false, (rc, path, c, stat) -> record("exists " + name(rc) + " " + stat.getNumChildren()), ctx);
        zk.exists(root + "/none", false, (rc, path, c, stat) -> record("exists " + name(rc) + " " + stat), ctx);
        zk.getData(root + "/a", false, (rc, path, c, data, stat) -> record("data " + name(rc) + " " + new String(data, StandardCharsets.UTF_8) + " v" + stat.getVersion()), ctx);
        zk.getData(root + "/none", false, (rc, path, c, data, stat) -> record("data " + name(rc) + " " + data + " " + stat), ctx);
        zk.setData(root + "/a", bytes("b"), 0, (rc, path, c, stat) -> record("set " + name(rc) + " v" + stat.getVersion()), ctx);
        zk.setData(root + "/a", bytes("c"), 0, (rc, path, c, stat) -> record("set " + name(rc) + " " + stat), ctx);
        zk.getChildren(root + "/a", false, (AsyncCallback.ChildrenCallback) (rc, path, c, kids) -> record("children " + name(rc) + " " + kids.size()), ctx);
        zk.getChildren(root + "/a", false, (AsyncCallback.Children2Callback) (rc, path, c, kids, stat) -> record("children2 " + name(rc) + " " + kids.size() + " " + stat.getNumChildren()), ctx);
        zk.getACL(root + "/a", new Stat(), (rc, path, c, acl, stat) -> record("acl " + name(rc) + " " + acl.equals(Ids.OPEN_ACL_UNSAFE)), ctx);
        zk.setACL(root + "/a", Ids.OPEN_ACL_UNSAFE, 0, (rc, path, c, stat) -> record("setacl " + name(rc) + " a" + stat.getAversion()), ctx);
        zk.getAllChildrenNumber(root, (rc, path, c, n) -> record("count " + name(rc) + " " + n), ctx);
        zk.getEphemerals(root, (rc, c, paths) -> record("ephemerals " + name(rc) + " " + paths.size()), ctx);
        zk.sync(root, (rc, path, c) -> record("sync " + name(rc) + " " + path), ctx);
        zk.multi(List.of(Op.check(root + "/a", 1), Op.create(root + "/m", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT)),
            (rc, path, c, results) -> record("multi " + name(rc) + " " + results.size()), ctx);
        zk.multi(List.of(Op.check(root + "/a", 9)), (rc, path, c, results) -> record("multi " + name(rc) + " "
            + ((OpResult.ErrorResult) results.get(0)).getErr()), ctx);
        zk.transaction().delete(root + "/m", -1).commit((rc, path, c, results) -> record("tx " + name(rc)), ctx);
        zk.delete(root + "/a", 5, (rc, path, c) -> record("delete " + name(rc) + " " + path), ctx);
        zk.addWatch(root, event -> { }, AddWatchMode.PERSISTENT, (rc, path, c) -> record("addWatch " + name(rc)), ctx);
        assertEquals(List.of(
            "string OK <r>/a true <r>/a",
            "create2 OK <r>/a/s-0000000000 true",
            "ttl OK <r>/ttl",
            "exists OK 1",
            "exists NONODE null",
            "data OK a v0",
            "data NONODE null null",
            "set OK v1",
            "set BADVERSION null",
            "children OK 1",
            "children2 OK 1 1",
            "acl OK true",
            "setacl OK a1",
            "count OK 3",
            "ephemerals OK 1",
            "sync OK <r>",
            "multi OK 2",
            "multi BADVERSION " + Code.BADVERSION.intValue(),
            "tx OK",
            "delete BADVERSION <r>/a",
            "addWatch OK"), take(21));
        for (String thread : threads) {
            assertTrue(thread.startsWith("zk-event-"), "callbacks run on the client's event thread, not " + thread);
        }
    }

    @Test
    void aBadPathThrowsAtOnceAndNothingIsCalled() {
        assertThrows(IllegalArgumentException.class,
            () -> zk.getData("no-slash", false, (rc, path, c, data, stat) -> record("called"), null));
        assertThrows(IllegalArgumentException.class,
            () -> zk.multi(List.of(Op.delete("x", -1)), (rc, path, c, results) -> record("called"), null));
        assertNull(done.poll());
    }

    @Test
    void callbacksOfAClosedClientReportSessionExpired(ZkServer server) throws Exception {
        ZooKeeper closed = Servers.connect(server, new Events("closed"));
        closed.close();
        closed.getData(root, false, (rc, path, c, data, stat) -> record("data " + name(rc) + " " + data), null);
        closed.multi(List.of(Op.check(root, -1)), (rc, path, c, results) -> record("multi " + name(rc)), null);
        assertEquals(List.of("data SESSIONEXPIRED null", "multi SESSIONEXPIRED"), take(2));
        KeeperException e = failure(closed.getDataAsync(root, false));
        assertInstanceOf(KeeperException.SessionExpiredException.class, e);
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
    }

    private static <T> T get(CompletableFuture<T> future) throws Exception {
        return future.get(Events.WAIT.toMillis(), TimeUnit.MILLISECONDS);
    }

    private static KeeperException failure(CompletableFuture<?> future) throws Exception {
        ExecutionException e = assertThrows(ExecutionException.class, () -> future.get(Events.WAIT.toMillis(), TimeUnit.MILLISECONDS));
        return assertInstanceOf(KeeperException.class, e.getCause());
    }

    @Test
    void everyFutureOperation() throws Exception {
        OpResult.CreateResult created = get(zk.createAsync(root + "/f", bytes("1"), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT));
        assertEquals(root + "/f", created.getPath());
        assertEquals(0, created.getStat().getVersion());
        assertEquals(root + "/t", get(zk.createAsync(root + "/t", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_WITH_TTL, 60_000)).getPath());
        assertEquals(Code.NODEEXISTS, failure(zk.createAsync(root + "/f", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT)).code());
        assertEquals(Code.INVALIDACL, failure(zk.createAsync(root + "/x", null, List.of(), CreateMode.PERSISTENT)).code());
        assertEquals(0, get(zk.existsAsync(root + "/f", false)).getVersion());
        assertNull(get(zk.existsAsync(root + "/none", false)));
        OpResult.GetDataResult data = get(zk.getDataAsync(root + "/f", false));
        assertArrayEquals(bytes("1"), data.getData());
        KeeperException missing = failure(zk.getDataAsync(root + "/none", false));
        assertInstanceOf(KeeperException.NoNodeException.class, missing);
        assertEquals(root + "/none", missing.getPath());
        assertEquals(1, get(zk.setDataAsync(root + "/f", bytes("2"), 0)).getVersion());
        assertEquals(Code.BADVERSION, failure(zk.setDataAsync(root + "/f", bytes("3"), 0)).code());
        Results.Acl acl = get(zk.getACLAsync(root + "/f"));
        assertEquals(Ids.OPEN_ACL_UNSAFE, acl.acl());
        assertEquals(1, get(zk.setACLAsync(root + "/f", Ids.OPEN_ACL_UNSAFE, 0)).getAversion());
        get(zk.createAsync(root + "/f/kid", null, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL));
        Results.Children children = get(zk.getChildrenAsync(root + "/f", false));
        assertEquals(List.of("kid"), children.children());
        assertEquals(1, children.stat().getNumChildren());
        assertEquals(3, get(zk.getAllChildrenNumberAsync(root)));
        assertEquals(List.of(root + "/f/kid"), get(zk.getEphemeralsAsync(root)));
        get(zk.syncAsync(root));
        List<OpResult> results = get(zk.multiAsync(List.of(Op.setData(root + "/f", bytes("4"), -1), Op.check(root + "/f", 2))));
        assertEquals(2, results.size());
        KeeperException failed = failure(zk.multiAsync(List.of(Op.check(root + "/f", 0), Op.delete(root + "/f", -1))));
        assertEquals(Code.BADVERSION, failed.code());
        assertEquals(2, failed.getResults().size());
        List<OpResult> reads = get(zk.multiAsync(List.of(Op.getData(root + "/f"), Op.getChildren(root + "/f"))));
        assertArrayEquals(bytes("4"), ((OpResult.GetDataResult) reads.get(0)).getData());
        Events watcher = new Events("persistent");
        get(zk.addWatchAsync(root + "/f", watcher, AddWatchMode.PERSISTENT));
        zk.setData(root + "/f", bytes("5"), -1);
        assertEquals(Watcher.Event.EventType.NodeDataChanged, watcher.next().getType());
        get(zk.removeWatchesAsync(root + "/f", watcher, Watcher.WatcherType.Any, false));
        assertEquals(Watcher.Event.EventType.PersistentWatchRemoved, watcher.next().getType());
        assertEquals(Code.NOWATCHER, failure(zk.removeWatchesAsync(root + "/f", watcher, Watcher.WatcherType.Any, false)).code());
        assertTrue(get(zk.whoAmIAsync()).size() >= 1);
        get(zk.deleteAsync(root + "/f/kid", -1));
        assertEquals(Code.NOTEMPTY, failure(zk.deleteAsync(root, -1)).code());
        assertTrue(get(zk.multiAsync(List.of())).isEmpty());
    }
}
