#!/usr/bin/env python3
"""Capture golden client-protocol frames from Apache ZooKeeper 3.8 and its Java client.

What it does, all on 127.0.0.1:

1. starts a standalone Apache ZooKeeper server (QuorumPeerMain from /usr/share/java/zookeeper.jar)
   in a temporary directory, with extendedTypesEnabled=true and a SASL (DIGEST-MD5) JAAS section;
2. starts a recording TCP proxy in front of it. The proxy forwards bytes untouched and splits
   each direction into frames (int32 length + payload). Client frames are tagged with the opcode
   of their RequestHeader; server frames are paired with the request of the same xid, so every
   reply is known by the opcode it answers. xid -1 from the server is a watch notification;
   the first frame each way is the ConnectRequest / ConnectResponse;
3. drives the proxy with Apache's own clients: one zkCli.sh process per command, then a small
   Java program (GoldenDriver, embedded below, compiled with javac against zookeeper.jar) for what
   zkCli cannot do: create2/createContainer/createTTL via the API, multi, transaction, multiRead,
   watches and notifications, persistent watches, checkWatches/removeWatches, SetWatches and
   SetWatches2 after a forced reconnect, ping, auth, whoAmI, closeSession, and SASL;
4. writes core/tests/golden/*.hex: one file per record kind (connect_request, connect_response,
   request_<op>, reply_<op>, notification), each entry a comment line
   `# <dir> op=<n> <name> xid=<x> [zxid=<z> err=<e>] | <what produced it>` followed by the whole
   frame (length prefix included) in hex. Identical frames are kept once.

Usage: python3 scripts/capture-golden.py [--out core/tests/golden] [--keep-workdir]
       python3 scripts/capture-golden.py --fuzz-seeds fuzz/corpus   (seeds from the goldens)
Needs: java + javac (17), Debian's zookeeper 3.8 (/usr/share/java/zookeeper.jar, zkCli.sh).
"""

import argparse
import collections
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

ZK_JAR = "/usr/share/java/zookeeper.jar"
ZKCLI = "/usr/share/zookeeper/bin/zkCli.sh"
SERVER_CP = ":".join([
    "/etc/zookeeper/conf",
    ZK_JAR,
    "/usr/share/java/netty-codec.jar",
    "/usr/share/java/netty-resolver.jar",
    "/usr/share/java/slf4j-nop.jar",
])

OPS = {
    0: "notification", 1: "create", 2: "delete", 3: "exists", 4: "getData", 5: "setData",
    6: "getACL", 7: "setACL", 8: "getChildren", 9: "sync", 11: "ping", 12: "getChildren2",
    13: "check", 14: "multi", 15: "create2", 16: "reconfig", 17: "checkWatches",
    18: "removeWatches", 19: "createContainer", 20: "deleteContainer", 21: "createTTL",
    22: "multiRead", 100: "auth", 101: "setWatches", 102: "sasl", 103: "getEphemerals",
    104: "getAllChildrenNumber", 105: "setWatches2", 106: "addWatch", 107: "whoAmI",
    -10: "createSession", -11: "closeSession",
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# Recording proxy


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.frames = []
        self.label = "startup"

    def add(self, **frame):
        with self.lock:
            frame["seq"] = len(self.frames)
            frame.setdefault("label", self.label)
            self.frames.append(frame)


class Conn:
    """One proxied client connection, with the xid -> opcode map that pairs replies."""

    def __init__(self, cid, rec, label):
        self.cid = cid
        self.rec = rec
        self.label = label
        self.lock = threading.Lock()
        self.pending = collections.defaultdict(collections.deque)
        self.seen_connect_req = False
        self.seen_connect_resp = False

    def client_frame(self, raw):
        payload = raw[4:]
        if not self.seen_connect_req:
            self.seen_connect_req = True
            self.rec.add(conn=self.cid, dir="c2s", kind="connect_request", op=None, xid=None,
                         raw=raw.hex(), label=self.rec.label)
            return
        if len(payload) < 8:
            self.rec.add(conn=self.cid, dir="c2s", kind="short", op=None, xid=None, raw=raw.hex())
            return
        xid, op = struct.unpack(">ii", payload[:8])
        with self.lock:
            self.pending[xid].append(op)
        self.rec.add(conn=self.cid, dir="c2s", kind="request", op=op, xid=xid, raw=raw.hex())

    def server_frame(self, raw):
        payload = raw[4:]
        if not self.seen_connect_resp:
            self.seen_connect_resp = True
            self.rec.add(conn=self.cid, dir="s2c", kind="connect_response", op=None, xid=None,
                         raw=raw.hex())
            return
        if len(payload) < 16:
            self.rec.add(conn=self.cid, dir="s2c", kind="short", op=None, xid=None, raw=raw.hex())
            return
        xid, zxid, err = struct.unpack(">iqi", payload[:16])
        if xid == -1:
            self.rec.add(conn=self.cid, dir="s2c", kind="notification", op=0, xid=xid, zxid=zxid,
                         err=err, raw=raw.hex())
            return
        with self.lock:
            queue = self.pending.get(xid)
            op = queue.popleft() if queue else None
        self.rec.add(conn=self.cid, dir="s2c", kind="reply", op=op, xid=xid, zxid=zxid, err=err,
                     raw=raw.hex())


def pump(src, dst, on_frame, done):
    buf = b""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            buf += data
            while len(buf) >= 4:
                (n,) = struct.unpack(">i", buf[:4])
                if n < 0 or len(buf) < 4 + n:
                    break
                on_frame(buf[: 4 + n])
                buf = buf[4 + n:]
            dst.sendall(data)
    except OSError:
        pass
    finally:
        done()


class Proxy:
    def __init__(self, server_port, rec):
        self.server_port = server_port
        self.rec = rec
        self.port = free_port()
        self.paused = False
        self.lock = threading.Lock()
        self.live = []
        self.next_id = 0
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(64)
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def accept_loop(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            if self.paused:
                # A refused reconnect: close at once, record nothing.
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.server_port))
            except OSError:
                client.close()
                continue
            with self.lock:
                cid = self.next_id
                self.next_id += 1
                self.live.append((client, upstream))
            conn = Conn(cid, self.rec, self.rec.label)
            closed = threading.Event()

            def done(c=client, u=upstream, ev=closed):
                if not ev.is_set():
                    ev.set()
                for s in (c, u):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

            threading.Thread(target=pump, args=(client, upstream, conn.client_frame, done),
                             daemon=True).start()
            threading.Thread(target=pump, args=(upstream, client, conn.server_frame, done),
                             daemon=True).start()

    def drop_all(self):
        """Cuts every live connection (the Java client then reconnects and sends SetWatches)."""
        with self.lock:
            live, self.live = self.live, []
        for pair in live:
            for s in pair:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()


# ---------------------------------------------------------------------------------------------
# Apache server


def start_server(work):
    port = free_port()
    data = os.path.join(work, "data")
    os.makedirs(data, exist_ok=True)
    cfg = os.path.join(work, "zoo.cfg")
    with open(cfg, "w") as f:
        f.write(
            "tickTime=2000\n"
            f"dataDir={data}\n"
            f"clientPort={port}\n"
            "clientPortAddress=127.0.0.1\n"
            "4lw.commands.whitelist=*\n"
            "admin.enableServer=false\n"
            "extendedTypesEnabled=true\n"
            "maxClientCnxns=0\n"
            "authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n"
        )
    jaas = os.path.join(work, "server.jaas")
    with open(jaas, "w") as f:
        f.write('Server {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n'
                '  user_golden="secret";\n};\n')
    log = open(os.path.join(work, "server.log"), "w")
    proc = subprocess.Popen(
        ["java", f"-Djava.security.auth.login.config={jaas}", "-cp", SERVER_CP,
         "org.apache.zookeeper.server.quorum.QuorumPeerMain", cfg],
        stdout=log, stderr=subprocess.STDOUT, cwd=work)
    deadline = time.time() + 60
    while time.time() < deadline:
        if server_ready(port):
            return proc, port
        time.sleep(0.3)
    proc.kill()
    raise SystemExit("Apache ZooKeeper did not start; see " + log.name)


def server_ready(port):
    """A real handshake: ruok answers before the database is loaded."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            body = struct.pack(">iqiqi", 0, 0, 10000, 0, 16) + b"\0" * 16 + b"\0"
            s.sendall(struct.pack(">i", len(body)) + body)
            head = s.recv(4)
            return len(head) == 4
    except OSError:
        return False


# ---------------------------------------------------------------------------------------------
# Drivers


ZKCLI_COMMANDS = [
    "create /golden",
    "create /golden/p hello",
    "create -s /golden/seq- s",
    "create -e /golden/eph e",
    "create -e -s /golden/eseq- es",
    "create -c /golden/cont c",
    "create -t 60000 /golden/ttl t",
    "create -s -t 3600000 /golden/ttlseq- ts",
    "create /golden/acl x digest:u:Jq7wMyA/w2Vd5WIDAKdu4OIIFEQ=:cdrwa,world:anyone:r",
    "create /golden/ipacl x ip:127.0.0.1:cdrwa",
    "create /golden/authacl x auth::cdrwa",
    "create /golden/badip x ip:300.1.1.1:cdrwa",
    "create /golden/p dup",
    "create /golden/missing/child x",
    "create /golden/empty",
    "create /golden/p/c1 one",
    "create /golden/p/c2 two",
    "get /golden/p",
    "get -s /golden/p",
    "get -s /golden/empty",
    "get /golden/missing",
    "get -w /golden/p",
    "get /golden/acl",
    "set /golden/acl denied",
    "set /golden/p world",
    "set -s /golden/p again",
    "set -v 99 /golden/p x",
    "stat /golden/p",
    "stat /golden/missing",
    "stat -w /golden/p",
    "ls /",
    "ls -s /golden",
    "ls -R /golden",
    "ls -w /golden",
    "ls /golden/missing",
    "getAcl /golden/p",
    "getAcl -s /golden/acl",
    "getAcl /golden/ipacl",
    "setAcl /golden/p world:anyone:cdrwa",
    "setAcl -s /golden/empty world:anyone:rw",
    "setAcl -v 7 /golden/p world:anyone:r",
    "addauth digest u:p",
    "addauth nosuchscheme x",
    "sync /golden",
    "addWatch /golden/p",
    "addWatch -m PERSISTENT_RECURSIVE /golden",
    "removewatches /golden/p",
    "removewatches /golden/p -d",
    "getEphemerals",
    "getEphemerals /golden",
    "getAllChildrenNumber /golden",
    "getAllChildrenNumber /golden/missing",
    "whoami",
    "config",
    "reconfig -remove 3",
    "reconfig -add server.5=127.0.0.1:2888:3888;2185",
    "reconfig -members server.1=127.0.0.1:2888:3888;2181 -v 1",
    "setquota -n 10 /golden/p",
    "listquota /golden/p",
    "delquota /golden/p",
    "delete /golden/p/c2",
    "delete -v 5 /golden/p/c1",
    "delete /golden/p",
    "delete /golden/missing",
    "deleteall /golden/p",
]


def run_zkcli(proxy_port, rec, command, work):
    rec.label = "zkCli " + command
    env = dict(os.environ, ZOO_LOG_DIR=work, CLIENT_JVMFLAGS="-Dzookeeper.sasl.client=false")
    subprocess.run([ZKCLI, "-server", f"127.0.0.1:{proxy_port}"] + command.split(" "),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, timeout=60,
                   cwd=work)
    time.sleep(0.2)


JAVA_DRIVER = r"""
import java.io.*;
import java.util.*;
import java.util.concurrent.*;
import org.apache.zookeeper.*;
import org.apache.zookeeper.data.*;

public class GoldenDriver {
    static BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
    static final List<ACL> OPEN = ZooDefs.Ids.OPEN_ACL_UNSAFE;

    // Every control line waits for the capture script's "ok", so labels line up with frames.
    static void ctl(String s) throws IOException {
        System.out.println(s);
        System.out.flush();
        if (in.readLine() == null) throw new IOException("capture script went away");
    }
    static void step(String s) throws IOException { ctl("LABEL java: " + s); }

    static class Conn implements Watcher {
        volatile CountDownLatch connected = new CountDownLatch(1);
        public void process(WatchedEvent e) {
            if (e.getState() == Event.KeeperState.SyncConnected && e.getType() == Event.EventType.None)
                connected.countDown();
        }
        void await() throws InterruptedException {
            if (!connected.await(30, TimeUnit.SECONDS)) throw new RuntimeException("no connection");
        }
    }

    static ZooKeeper connect(String hp, int timeout, Conn w) throws Exception {
        ZooKeeper zk = new ZooKeeper(hp, timeout, w);
        w.await();
        return zk;
    }

    static void quiet(Callable<?> c) {
        try { c.call(); } catch (Exception e) { System.err.println("expected: " + e); }
    }

    public static void main(String[] args) throws Exception {
        String P = "127.0.0.1:" + args[0], D = "127.0.0.1:" + args[1];
        if (args.length > 2 && args[2].equals("sasl")) { sasl(P); return; }
        Stat st = new Stat();
        ZooKeeper other = connect(D, 10000, new Conn());   // direct, unrecorded: triggers events
        step("session with 4000 ms timeout");
        Conn zc = new Conn();
        ZooKeeper zk = connect(P, 4000, zc);

        step("create2 persistent");
        zk.create("/j", "root".getBytes(), OPEN, CreateMode.PERSISTENT, st);
        step("create2 ephemeral sequential");
        zk.create("/j/es-", "e".getBytes(), OPEN, CreateMode.EPHEMERAL_SEQUENTIAL, st);
        step("create2 persistent sequential, null data");
        zk.create("/j/ps-", null, OPEN, CreateMode.PERSISTENT_SEQUENTIAL, st);
        step("create2 null data");
        zk.create("/j/nulldata", null, OPEN, CreateMode.PERSISTENT, st);
        step("create (op 1) ephemeral");
        zk.create("/j/eph", "eph".getBytes(), OPEN, CreateMode.EPHEMERAL);
        step("createContainer");
        zk.create("/j/container", "c".getBytes(), OPEN, CreateMode.CONTAINER, st);
        step("createTTL");
        zk.create("/j/ttl", "t".getBytes(), OPEN, CreateMode.PERSISTENT_WITH_TTL, st, 60000);
        step("createTTL sequential");
        zk.create("/j/ttlseq-", "t".getBytes(), OPEN, CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, st, 1099511627775L);
        step("create2 existing -> NODEEXISTS");
        quiet(() -> zk.create("/j", null, OPEN, CreateMode.PERSISTENT, st));
        step("create2 under ephemeral -> NOCHILDRENFOREPHEMERALS");
        quiet(() -> zk.create("/j/eph/x", null, OPEN, CreateMode.PERSISTENT, st));
        step("create2 empty data with 3 ACLs");
        zk.create("/j/acls", new byte[0], Arrays.asList(
            new ACL(ZooDefs.Perms.READ, new Id("world", "anyone")),
            new ACL(ZooDefs.Perms.ALL, new Id("ip", "127.0.0.0/8")),
            new ACL(ZooDefs.Perms.WRITE | ZooDefs.Perms.ADMIN, new Id("digest", "u:Jq7wMyA/w2Vd5WIDAKdu4OIIFEQ="))),
            CreateMode.PERSISTENT, st);

        step("multi: create, sequential, container, TTL, setData, check, create, delete");
        zk.multi(Arrays.asList(
            Op.create("/j/m1", "m1".getBytes(), OPEN, CreateMode.PERSISTENT),
            Op.create("/j/mseq-", null, OPEN, CreateMode.PERSISTENT_SEQUENTIAL),
            Op.create("/j/mc", "mc".getBytes(), OPEN, CreateMode.CONTAINER),
            Op.create("/j/mttl", "mt".getBytes(), OPEN, CreateMode.PERSISTENT_WITH_TTL, 120000),
            Op.setData("/j/m1", "m1v2".getBytes(), 0),
            Op.check("/j/m1", 1),
            Op.create("/j/m2", new byte[0], OPEN, CreateMode.EPHEMERAL),
            Op.delete("/j/m2", -1)));
        step("multi failing: create ok, delete missing, setData");
        quiet(() -> zk.multi(Arrays.asList(
            Op.create("/j/mf", null, OPEN, CreateMode.PERSISTENT),
            Op.delete("/j/missing", -1),
            Op.setData("/j/m1", "x".getBytes(), -1))));
        step("multi failing check BADVERSION");
        quiet(() -> zk.multi(Arrays.asList(Op.check("/j/m1", 42), Op.delete("/j/m1", -1))));
        step("transaction commit");
        zk.transaction().create("/j/tx", "tx".getBytes(), OPEN, CreateMode.EPHEMERAL)
            .setData("/j/tx", "tx2".getBytes(), -1).check("/j", -1).delete("/j/mc", -1).commit();
        step("multiRead getChildren/getData incl. missing and null data");
        quiet(() -> zk.multi(Arrays.asList(Op.getChildren("/j"), Op.getData("/j"),
            Op.getData("/j/missing"), Op.getChildren("/j/missing"), Op.getData("/j/nulldata"))));
        step("multiRead single getData");
        zk.multi(Arrays.asList(Op.getData("/j/m1")));

        step("plain reads");
        zk.getData("/j/m1", false, st);
        zk.getData("/j/nulldata", false, st);
        zk.exists("/j/m1", false);
        zk.exists("/j/nothere", false);
        zk.getChildren("/j", false);
        zk.getChildren("/j/m1", false, st);
        zk.getChildren("/j", false, st);
        quiet(() -> zk.getData("/j/nothere", false, st));
        step("setData, delete with versions");
        zk.setData("/j/m1", "v3".getBytes(), -1);
        zk.setData("/j/m1", null, 2);
        quiet(() -> zk.setData("/j/m1", "v".getBytes(), 100));
        zk.delete("/j/nulldata", 0);
        quiet(() -> { zk.delete("/j", -1); return null; });

        step("watches: exists on missing, getData, getChildren, getChildren2");
        other.create("/j/w", "w".getBytes(), OPEN, CreateMode.PERSISTENT);
        other.create("/j/w/gone", null, OPEN, CreateMode.PERSISTENT);
        zk.exists("/j/w-created", true);
        zk.getData("/j/w", true, st);
        zk.getChildren("/j/w", true);
        zk.getChildren("/j", true, st);
        zk.exists("/j/w/gone", true);
        step("notifications from another session");
        other.create("/j/w-created", null, OPEN, CreateMode.PERSISTENT);
        other.setData("/j/w", "w2".getBytes(), -1);
        other.create("/j/w/child", null, OPEN, CreateMode.PERSISTENT);
        other.delete("/j/w/gone", -1);
        Thread.sleep(500);

        step("addWatch persistent and persistent recursive");
        zk.addWatch("/j/pw", AddWatchMode.PERSISTENT);
        zk.addWatch("/j/prw", AddWatchMode.PERSISTENT_RECURSIVE);
        step("persistent watch notifications");
        other.create("/j/pw", null, OPEN, CreateMode.PERSISTENT);
        other.create("/j/pw/c", null, OPEN, CreateMode.PERSISTENT);
        other.setData("/j/pw", "x".getBytes(), -1);
        other.create("/j/prw", null, OPEN, CreateMode.PERSISTENT);
        other.create("/j/prw/a", null, OPEN, CreateMode.PERSISTENT);
        other.create("/j/prw/a/b", "deep".getBytes(), OPEN, CreateMode.PERSISTENT);
        other.delete("/j/prw/a/b", -1);
        Thread.sleep(500);

        step("checkWatches (removeWatches with a watcher) and removeAllWatches");
        other.create("/j/rw", null, OPEN, CreateMode.PERSISTENT);
        Watcher w1 = e -> {};
        Watcher w2 = e -> {};
        zk.getData("/j/rw", w1, st);
        zk.getChildren("/j/rw", w2);
        zk.exists("/j/rw", w2);
        zk.removeWatches("/j/rw", w1, Watcher.WatcherType.Data, false);
        zk.removeWatches("/j/rw", w2, Watcher.WatcherType.Children, false);
        zk.removeWatches("/j/rw", w2, Watcher.WatcherType.Any, false);
        zk.getChildren("/j/rw", w1);
        zk.removeAllWatches("/j/rw", Watcher.WatcherType.Any, false);
        step("removeAllWatches with no watch -> NOWATCHER");
        quiet(() -> { zk.removeAllWatches("/j/rw", Watcher.WatcherType.Data, false); return null; });

        step("auth, ACLs, whoAmI");
        zk.addAuthInfo("digest", "golden:secret".getBytes());
        zk.create("/j/creator", "a".getBytes(), ZooDefs.Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT, st);
        zk.getACL("/j/creator", st);
        zk.getACL("/j/acls", st);
        zk.setACL("/j/creator", Arrays.asList(
            new ACL(ZooDefs.Perms.ALL, new Id("auth", "")),
            new ACL(ZooDefs.Perms.READ, new Id("world", "anyone"))), 0);
        quiet(() -> zk.setACL("/j/creator", OPEN, 0));
        quiet(() -> zk.setACL("/j/creator", new ArrayList<ACL>(), -1));
        zk.whoAmI();
        quiet(() -> zk.setData("/j/acls", "denied".getBytes(), -1));
        quiet(() -> zk.getData("/j/acls", false, st));
        step("non-ASCII path and binary data");
        byte[] all = new byte[256];
        for (int i = 0; i < 256; i++) all[i] = (byte) i;
        zk.create("/j/\u00fcn\u00ef-\u20ac-\u4e2d", all, OPEN, CreateMode.PERSISTENT, st);
        zk.getData("/j/\u00fcn\u00ef-\u20ac-\u4e2d", false, st);
        zk.getChildren("/j", false);
        step("getEphemerals, getAllChildrenNumber, sync, getConfig");
        zk.getEphemerals();
        zk.getEphemerals("/j/e");
        zk.getAllChildrenNumber("/j");
        CountDownLatch synced = new CountDownLatch(1);
        zk.sync("/j", (rc, path, ctx) -> synced.countDown(), null);
        synced.await();
        zk.getConfig(false, st);

        step("ping: idle 3 s with a 4000 ms session");
        Thread.sleep(3000);

        step("SetWatches/SetWatches2 after reconnect: second session with only standard watches");
        Conn z2c = new Conn();
        ZooKeeper zk2 = connect(P, 10000, z2c);
        zk2.addAuthInfo("digest", "golden:secret".getBytes());
        other.create("/j/sw", "sw".getBytes(), OPEN, CreateMode.PERSISTENT);
        other.create("/j/sw/kid", null, OPEN, CreateMode.PERSISTENT);
        zk2.getData("/j/sw", true, st);
        zk2.exists("/j/sw-missing", true);
        zk2.getChildren("/j/sw", true);
        zk2.getData("/j/sw/kid", true, st);
        zk.getData("/j/sw", true, st);
        zk.exists("/j/sw-missing2", true);
        zc.connected = new CountDownLatch(1);
        z2c.connected = new CountDownLatch(1);
        step("proxy drops connections; changes made while the clients are away");
        ctl("PAUSE");
        other.setData("/j/sw", "changed".getBytes(), -1);
        other.create("/j/sw-missing", null, OPEN, CreateMode.PERSISTENT);
        other.create("/j/pw/while-away", null, OPEN, CreateMode.PERSISTENT);
        step("reconnect: SetWatches (101) from session 2, SetWatches2 (105) from session 1");
        ctl("RESUME");
        zc.await();
        z2c.await();
        Thread.sleep(1000);
        zk.getData("/j/sw", false, st);

        step("closeSession");
        zk2.close();
        zk.close();
        step("session with a failing auth scheme");
        Conn z3c = new Conn();
        ZooKeeper zk3 = connect(P, 10000, z3c);
        zk3.addAuthInfo("nosuchscheme", "x".getBytes());
        Thread.sleep(1000);
        zk3.close();
        other.close();
        ctl("DONE");
    }

    static void sasl(String P) throws Exception {
        step("SASL DIGEST-MD5 session");
        Conn c = new Conn();
        ZooKeeper zk = new ZooKeeper(P, 10000, c);
        c.await();
        Thread.sleep(2000);
        zk.whoAmI();
        zk.exists("/", false);
        zk.close();
        ctl("DONE");
    }
}
"""


def run_java(work, proxy, rec, server_port, mode=None):
    src = os.path.join(work, "GoldenDriver.java")
    if not os.path.exists(os.path.join(work, "GoldenDriver.class")):
        with open(src, "w") as f:
            f.write(JAVA_DRIVER)
        subprocess.run(["javac", "-cp", ZK_JAR, "-d", work, src], check=True)
    jaas = os.path.join(work, "client.jaas")
    with open(jaas, "w") as f:
        f.write('Client {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n'
                '  username="golden"\n  password="secret";\n};\n')
    cmd = ["java", "-cp", f"{work}:{SERVER_CP}"]
    if mode == "sasl":
        cmd.append(f"-Djava.security.auth.login.config={jaas}")
    else:
        cmd.append("-Dzookeeper.sasl.client=false")
    cmd += ["GoldenDriver", str(proxy.port), str(server_port)] + ([mode] if mode else [])
    err = open(os.path.join(work, f"java-{mode or 'main'}.log"), "w")
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                            text=True, cwd=work)
    for line in proc.stdout:
        line = line.rstrip("\n")
        if line.startswith("LABEL "):
            time.sleep(0.1)  # let frames of the previous step drain first
            rec.label = line[6:]
        elif line == "PAUSE":
            time.sleep(0.2)
            proxy.paused = True
            proxy.drop_all()
        elif line == "RESUME":
            time.sleep(0.5)
            proxy.paused = False
        elif line == "DONE":
            pass
        else:
            print("driver:", line, file=sys.stderr)
            continue
        proc.stdin.write("ok\n")
        proc.stdin.flush()
    if proc.wait() != 0:
        raise SystemExit(f"GoldenDriver {mode or ''} failed; see {err.name}")


# ---------------------------------------------------------------------------------------------
# Output


def file_for(frame):
    kind = frame["kind"]
    if kind in ("connect_request", "connect_response", "notification"):
        return kind
    if kind in ("request", "reply"):
        op = frame["op"]
        return f"{kind}_{OPS.get(op, 'op' + str(op)) if op is not None else 'unpaired'}"
    return kind


def comment(frame):
    parts = [frame["dir"]]
    if frame["op"] is not None:
        parts.append(f"op={frame['op']} {OPS.get(frame['op'], '?')}")
    if frame["xid"] is not None:
        parts.append(f"xid={frame['xid']}")
    if "zxid" in frame:
        parts.append(f"zxid={frame['zxid']:#x}" if frame["zxid"] >= 0 else f"zxid={frame['zxid']}")
        parts.append(f"err={frame['err']}")
    return "# " + " ".join(parts) + " | " + frame["label"]


def write_golden(frames, out):
    os.makedirs(out, exist_ok=True)
    for old in os.listdir(out):
        if old.endswith(".hex"):
            os.remove(os.path.join(out, old))
    groups = collections.OrderedDict()
    for fr in frames:
        groups.setdefault(file_for(fr), []).append(fr)
    summary = {}
    for name, items in sorted(groups.items()):
        seen = set()
        lines = [
            f"# {name}: frames captured between Apache ZooKeeper 3.8.0's Java client (zkCli.sh /",
            "# GoldenDriver) and a standalone Apache ZooKeeper 3.8.0 server on loopback by",
            "# scripts/capture-golden.py. Each entry: a comment line, then the whole frame in hex",
            "# (int32 length prefix included).",
        ]
        for fr in items:
            if fr["raw"] in seen:
                continue
            seen.add(fr["raw"])
            lines.append(comment(fr))
            lines.append(fr["raw"])
        with open(os.path.join(out, name + ".hex"), "w") as f:
            f.write("\n".join(lines) + "\n")
        summary[name] = (len(items), len(seen))
    return summary


def read_golden(out):
    """(file stem, comment, frame bytes) for every entry of every golden file."""
    for name in sorted(os.listdir(out)):
        if not name.endswith(".hex"):
            continue
        comment = None
        with open(os.path.join(out, name)) as f:
            for line in f:
                line = line.strip()
                if line.startswith("#"):
                    comment = line
                elif line:
                    yield name[:-4], comment, bytes.fromhex(line)


def write_fuzz_seeds(golden, corpus):
    """Seeds for fuzz/ (cargo fuzz's default corpus layout) built from the golden frames."""
    import hashlib

    def put(target, data):
        d = os.path.join(corpus, target)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
            f.write(data)

    count = collections.Counter()
    for stem, comment, frame in read_golden(golden):
        payload = frame[4:]
        put("frame", b"\0" + frame)
        if stem in ("connect_request", "connect_response"):
            put(stem, payload)
        elif stem.startswith("request_"):
            xid, op = struct.unpack(">ii", payload[:8])
            body = payload[8:]
            put("request", struct.pack(">i", op) + body)
            if op in (14, 22):
                put("multi", bytes([0 if op == 14 else 1]) + body)
            # A txn carrying the request: zxid, time, session, tag 3, no auth ids, op, body.
            put("txn", struct.pack(">qqqiii", 5, 1700000000000, 0x100, 3, 0, op)
                + struct.pack(">i", len(body)) + body)
        elif stem.startswith("reply_"):
            op = int(comment.split("op=")[1].split()[0])
            xid, zxid, err = struct.unpack(">iqi", payload[:16])
            if err == 0:
                put("response", struct.pack(">i", op) + payload[16:])
                if op in (14, 22):
                    put("multi", bytes([2 if op == 14 else 3]) + payload[16:])
        count[stem] += 1
    put("txn", struct.pack(">qqqiii", 1, 2, 3, 1, 4000, 16) + bytes(16))
    put("txn", struct.pack(">qqqi", 1, 2, 3, 2))
    for seed in ("/", "/a", "/zookeeper/quota", "/a/b-0000000001", "/\u00fcn\u00ef-\u20ac", "/a/..b"):
        put("path", seed.encode())
    return sum(count.values())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--out", default=os.path.join(root, "core", "tests", "golden"))
    ap.add_argument("--keep-workdir", action="store_true")
    ap.add_argument("--skip-zkcli", action="store_true", help="only run the Java driver")
    ap.add_argument("--fuzz-seeds", metavar="CORPUS_DIR",
                    help="capture nothing: turn the golden files in --out into fuzz seeds under "
                         "CORPUS_DIR/<target>/ (e.g. fuzz/corpus) and exit")
    args = ap.parse_args()
    if args.fuzz_seeds:
        n = write_fuzz_seeds(args.out, args.fuzz_seeds)
        print(f"{n} golden frames turned into seeds under {args.fuzz_seeds}", file=sys.stderr)
        return

    work = tempfile.mkdtemp(prefix="zk-golden-")
    server = None
    try:
        server, server_port = start_server(work)
        rec = Recorder()
        proxy = Proxy(server_port, rec)
        print(f"server 127.0.0.1:{server_port}, proxy 127.0.0.1:{proxy.port}, work {work}",
              file=sys.stderr)
        if not args.skip_zkcli:
            for command in ZKCLI_COMMANDS:
                print("zkCli", command, file=sys.stderr)
                run_zkcli(proxy.port, rec, command, work)
        print("java driver", file=sys.stderr)
        run_java(work, proxy, rec, server_port)
        print("java driver (sasl)", file=sys.stderr)
        run_java(work, proxy, rec, server_port, "sasl")
        time.sleep(1)
        proxy.drop_all()
        with open(os.path.join(work, "frames.jsonl"), "w") as f:
            for fr in rec.frames:
                f.write(json.dumps(fr) + "\n")
        summary = write_golden(rec.frames, args.out)
        for name, (total, kept) in summary.items():
            print(f"{name:32} {total:4} frames, {kept:4} distinct", file=sys.stderr)
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
        if args.keep_workdir:
            print("workdir kept:", work, file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
