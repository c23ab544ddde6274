package portcheck;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.AsyncCallback;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Stat;

/**
 * The port check's program: written against Apache's ZooKeeper client API and run twice, on
 * Apache's client jar and (imports rewritten by the build) on this project's jar. It prints what a user
 * observes (paths, data, versions, return codes, exception classes, the sequence of events),
 * never what differs between sessions (ids, zxids, times), so both runs must print the same.
 *
 * Usage: PortCheck CONNECT_STRING ROOT
 */
public final class PortCheck {
    private static final List<ACL> OPEN = ZooDefs.Ids.OPEN_ACL_UNSAFE;
    private static String root;
    private static final BlockingQueue<String> EVENTS = new LinkedBlockingQueue<>();

    private PortCheck() {}

    /** A watcher that records its name and the event (path relative to the root). */
    static Watcher recorder(String name) {
        return event -> EVENTS.add(name + ": " + event.getType() + " " + event.getState() + " " + rel(event.getPath()));
    }

    static String rel(String path) {
        if (path == null) {
            return "null";
        }
        return path.startsWith(root) ? "<root>" + path.substring(root.length()) : path;
    }

    static void out(String line) {
        System.out.println(line);
    }

    /** Prints the next {@code n} events, in the order they arrived. */
    static void events(int n) throws InterruptedException {
        for (int i = 0; i < n; i++) {
            String event = EVENTS.poll(30, TimeUnit.SECONDS);
            out(event == null ? "MISSING EVENT" : "  event " + event);
        }
    }

    static String stat(Stat s) {
        if (s == null) {
            return "null";
        }
        return "version=" + s.getVersion() + " cversion=" + s.getCversion() + " aversion=" + s.getAversion()
            + " dataLength=" + s.getDataLength() + " numChildren=" + s.getNumChildren()
            + " ephemeral=" + (s.getEphemeralOwner() != 0);
    }

    static String text(byte[] data) {
        return data == null ? "null" : "'" + new String(data, StandardCharsets.UTF_8) + "'";
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String rc(int rc) {
        return KeeperException.Code.get(rc).name();
    }

    interface Action {
        void run() throws Exception;
    }

    static void expectFailure(String what, Action action) throws Exception {
        try {
            action.run();
            out(what + ": no exception");
        } catch (KeeperException e) {
            out(what + ": " + e.getClass().getSimpleName() + " " + e.code() + " path=" + rel(e.getPath()));
        } catch (IllegalArgumentException e) {
            out(what + ": IllegalArgumentException");
        }
    }

    public static void main(String[] args) throws Exception {
        String connectString = args[0];
        root = args[1];
        CountDownLatch connected = new CountDownLatch(1);
        Watcher main = event -> {
            if (event.getState() == Watcher.Event.KeeperState.SyncConnected && event.getType() == Watcher.Event.EventType.None) {
                connected.countDown();
            }
            EVENTS.add("default: " + event.getType() + " " + event.getState() + " " + rel(event.getPath()));
        };
        ZooKeeper zk = new ZooKeeper(connectString, 30000, main);
        if (!connected.await(30, TimeUnit.SECONDS)) {
            throw new IllegalStateException("not connected");
        }
        events(1);
        out("state " + zk.getState() + " alive=" + zk.getState().isAlive());

        // ----- create, every mode
        Stat s = new Stat();
        out("create " + rel(zk.create(root, bytes("root"), OPEN, CreateMode.PERSISTENT, s)) + " " + stat(s));
        for (CreateMode mode : CreateMode.values()) {
            boolean ttl = mode.isTTL();
            String path = root + "/" + mode.name().toLowerCase();
            String created = ttl ? zk.create(path, bytes(mode.name()), OPEN, mode, s, 100000)
                : zk.create(path, bytes(mode.name()), OPEN, mode, s);
            out("create " + mode + " -> " + rel(created) + " " + stat(s) + " flag=" + mode.toFlag()
                + " ephemeral=" + mode.isEphemeral() + " sequential=" + mode.isSequential());
        }
        List<String> children = zk.getChildren(root, false);
        Collections.sort(children);
        out("children " + children);

        // ----- reads, writes, versions
        out("getData " + text(zk.getData(root + "/persistent", false, s)) + " " + stat(s));
        out("setData " + stat(zk.setData(root + "/persistent", bytes("v1"), 0)));
        expectFailure("setData stale", () -> zk.setData(root + "/persistent", bytes("v2"), 0));
        expectFailure("getData missing", () -> zk.getData(root + "/missing", false, null));
        expectFailure("create existing", () -> zk.create(root + "/persistent", null, OPEN, CreateMode.PERSISTENT));
        expectFailure("delete non-empty", () -> zk.delete(root, -1));
        expectFailure("child of ephemeral", () -> zk.create(root + "/ephemeral/x", null, OPEN, CreateMode.PERSISTENT));
        expectFailure("bad path", () -> zk.create("relative", null, OPEN, CreateMode.PERSISTENT));
        expectFailure("empty acl", () -> zk.create(root + "/x", null, new ArrayList<>(), CreateMode.PERSISTENT));
        out("exists missing " + zk.exists(root + "/missing", false));
        out("getEphemerals " + sortedRel(zk.getEphemerals(root)));
        out("allChildren " + zk.getAllChildrenNumber(root));

        // ----- watches: default watcher, per-call watchers, their rules
        zk.getData(root + "/persistent", true, null);
        zk.getData(root + "/persistent", true, null);
        zk.setData(root + "/persistent", bytes("v2"), -1);
        out("setData with the default watcher set twice (fires once):");
        events(1);

        Watcher w = recorder("w");
        out("exists missing with watcher: " + zk.exists(root + "/w", w));
        zk.create(root + "/w", bytes("w"), OPEN, CreateMode.PERSISTENT);
        events(1);
        zk.getData(root + "/w", w, null);
        zk.getChildren(root + "/w", w);
        zk.create(root + "/w/kid", null, OPEN, CreateMode.PERSISTENT);
        events(1);
        zk.getChildren(root + "/w", w);
        zk.delete(root + "/w/kid", -1);
        events(1);
        zk.exists(root + "/w", w);
        zk.getChildren(root + "/w", w);
        zk.delete(root + "/w", -1);
        out("delete with the same watcher on data and children (fires once):");
        events(1);

        // Events in the order the server sent them, across paths.
        zk.create(root + "/a", null, OPEN, CreateMode.PERSISTENT);
        zk.create(root + "/b", null, OPEN, CreateMode.PERSISTENT);
        zk.exists(root + "/a", recorder("wa"));
        zk.exists(root + "/b", recorder("wb"));
        zk.multi(List.of(Op.setData(root + "/b", bytes("1"), -1), Op.setData(root + "/a", bytes("1"), -1)));
        out("multi touching b then a:");
        events(2);

        // removeWatches
        Watcher r = recorder("r");
        zk.getData(root + "/a", r, null);
        zk.removeWatches(root + "/a", r, Watcher.WatcherType.Data, false);
        events(1);
        expectFailure("removeWatches again", () -> zk.removeWatches(root + "/a", r, Watcher.WatcherType.Data, false));
        zk.getChildren(root + "/a", r);
        zk.removeAllWatches(root + "/a", Watcher.WatcherType.Any, false);
        events(1);

        // persistent and recursive watches (on different nodes: one session's two modes on one
        // node are one server watch, whose mode is the last one set)
        zk.create(root + "/tree", null, OPEN, CreateMode.PERSISTENT);
        zk.create(root + "/tree/sub", null, OPEN, CreateMode.PERSISTENT);
        Watcher p = recorder("persistent");
        Watcher rec = recorder("recursive");
        zk.addWatch(root + "/tree", p, AddWatchMode.PERSISTENT);
        zk.addWatch(root + "/tree/sub", rec, AddWatchMode.PERSISTENT_RECURSIVE);
        zk.create(root + "/tree/sub/one", null, OPEN, CreateMode.PERSISTENT);
        events(1);
        zk.create(root + "/tree/two", null, OPEN, CreateMode.PERSISTENT);
        events(1);
        zk.setData(root + "/tree/sub/one", bytes("x"), -1);
        events(1);
        zk.setData(root + "/tree", bytes("x"), -1);
        events(1);
        zk.removeWatches(root + "/tree", p, Watcher.WatcherType.Any, false);
        events(1);
        zk.delete(root + "/tree/two", -1);
        zk.delete(root + "/tree/sub/one", -1);
        events(1);
        zk.removeWatches(root + "/tree/sub", rec, Watcher.WatcherType.Any, false);
        events(1);

        // ----- callbacks, in the order their replies arrived
        BlockingQueue<String> done = new LinkedBlockingQueue<>();
        Object ctx = "ctx";
        zk.create(root + "/cb", bytes("cb"), OPEN, CreateMode.PERSISTENT,
            (AsyncCallback.StringCallback) (rc, path, c, name) -> done.add("StringCallback " + rc(rc) + " " + rel(path) + " " + c + " " + rel(name)), ctx);
        zk.create(root + "/cb/seq-", null, OPEN, CreateMode.PERSISTENT_SEQUENTIAL,
            (AsyncCallback.Create2Callback) (rc, path, c, name, st) -> done.add("Create2Callback " + rc(rc) + " " + rel(path) + " " + rel(name) + " " + stat(st)), ctx);
        zk.getData(root + "/cb", false, (rc, path, c, data, st) -> done.add("DataCallback " + rc(rc) + " " + rel(path) + " " + text(data) + " " + stat(st)), ctx);
        zk.exists(root + "/cb/none", false, (rc, path, c, st) -> done.add("StatCallback " + rc(rc) + " " + rel(path) + " " + stat(st)), ctx);
        zk.setData(root + "/cb", bytes("x"), 5, (rc, path, c, st) -> done.add("StatCallback " + rc(rc) + " " + rel(path) + " " + stat(st)), ctx);
        zk.getChildren(root + "/cb", false, (AsyncCallback.Children2Callback) (rc, path, c, kids, st) -> done.add("Children2Callback " + rc(rc) + " " + kids + " " + stat(st)), ctx);
        zk.getChildren(root + "/none", false, (AsyncCallback.ChildrenCallback) (rc, path, c, kids) -> done.add("ChildrenCallback " + rc(rc) + " " + kids), ctx);
        zk.getACL(root + "/cb", new Stat(), (rc, path, c, acl, st) -> done.add("ACLCallback " + rc(rc) + " " + acl.size() + " " + acl.get(0).getPerms() + " " + acl.get(0).getId().getScheme()), ctx);
        zk.sync(root, (rc, path, c) -> done.add("VoidCallback sync " + rc(rc) + " " + rel(path)), ctx);
        zk.multi(List.of(Op.check(root + "/cb", 0), Op.delete(root + "/cb/none", -1)),
            (rc, path, c, results) -> done.add("MultiCallback " + rc(rc) + " " + errs(results)), ctx);
        zk.getAllChildrenNumber(root + "/cb", (rc, path, c, n) -> done.add("AllChildrenNumberCallback " + rc(rc) + " " + n), ctx);
        zk.getEphemerals(root, (rc, c, paths) -> done.add("EphemeralsCallback " + rc(rc) + " " + sortedRel(paths)), ctx);
        zk.delete(root + "/cb", 3, (rc, path, c) -> done.add("VoidCallback delete " + rc(rc) + " " + rel(path)), ctx);
        for (int i = 0; i < 13; i++) {
            String line = done.poll(30, TimeUnit.SECONDS);
            out(line == null ? "MISSING CALLBACK" : "  callback " + line);
        }

        // ----- multi
        List<OpResult> results = zk.multi(List.of(
            Op.create(root + "/m", bytes("m"), OPEN, CreateMode.PERSISTENT),
            Op.setData(root + "/m", bytes("m2"), 0),
            Op.check(root + "/m", 1),
            Op.delete(root + "/m", 1)));
        out("multi " + types(results));
        try {
            zk.multi(List.of(Op.create(root + "/m2", null, OPEN, CreateMode.PERSISTENT), Op.check(root + "/m2", 7), Op.delete(root + "/m2", -1)));
        } catch (KeeperException e) {
            out("multi failed " + e.getClass().getSimpleName() + " " + e.code() + " " + errs(e.getResults()));
        }
        out("transaction " + types(zk.transaction().create(root + "/t", null, OPEN, CreateMode.PERSISTENT).delete(root + "/t", 0).commit()));

        // ----- ACLs
        out("getACL " + zk.getACL(root + "/persistent", s).size() + " " + stat(s));
        out("setACL " + stat(zk.setACL(root + "/persistent", ZooDefs.Ids.READ_ACL_UNSAFE, 0)));
        expectFailure("write read-only", () -> zk.setData(root + "/persistent", bytes("no"), -1));
        expectFailure("setACL stale", () -> zk.setACL(root + "/persistent", OPEN, 0));

        // ----- close: the default watcher hears Closed
        zk.close();
        events(1);
        out("state " + zk.getState() + " alive=" + zk.getState().isAlive());
        expectFailure("after close", () -> zk.getData(root, false, null));
        String extra = EVENTS.poll(200, TimeUnit.MILLISECONDS);
        out("extra events " + (extra == null ? "none" : extra));
        out("done");
    }

    static List<String> sortedRel(List<String> paths) {
        List<String> out = new ArrayList<>();
        for (String p : paths) {
            out.add(rel(p));
        }
        Collections.sort(out);
        return out;
    }

    static String types(List<OpResult> results) {
        List<String> out = new ArrayList<>();
        for (OpResult r : results) {
            String name = r.getClass().getSimpleName();
            if (r instanceof OpResult.CreateResult) {
                name += "(" + rel(((OpResult.CreateResult) r).getPath()) + ")";
            } else if (r instanceof OpResult.SetDataResult) {
                name += "(v" + ((OpResult.SetDataResult) r).getStat().getVersion() + ")";
            }
            out.add(name);
        }
        return out.toString();
    }

    static String errs(List<OpResult> results) {
        List<String> out = new ArrayList<>();
        for (OpResult r : results) {
            out.add(r instanceof OpResult.ErrorResult ? rc(((OpResult.ErrorResult) r).getErr()) : r.getClass().getSimpleName());
        }
        return out.toString();
    }
}
