"""Seeded random operation sequences and their normalized replies, for the differential test.

`generate_ops(seed, count)` is a pure function of its arguments: the same list of
operations is replayed against each server. `Runner(server).run(ops)` executes them
over raw Jute sessions and returns, for every op, a normalized, comparable record:

* error codes, paths, data (None and b"" differ), children, ephemerals, ACLs and whoAmI
  ids (all sorted: Apache keeps auth ids in a hash set), multi results (type, err, body);
* Stat fields except ctime/mtime; czxid/mzxid/pzxid and ReplyHeader.zxid as offsets
  from the first zxid of the run (0 stays 0: built-in nodes); ephemeralOwner as the
  label of the session that owns the node (or 0);
* watch notifications (type, state, path; not their zxid: 3.8 sends -1, 3.9 the txn
  zxid) received by the session while it waited for that op's reply, as a sorted list.

The reference is Debian's Apache 3.8.0 (with the ZOOKEEPER-4799 watch-ACL backport).
Two replies that changed in later 3.8.x releases are accepted in both forms: create2
inside multi (ZOOKEEPER-4026) and exists() without READ permission (ZOOKEEPER-2590).
"""

from __future__ import annotations

import random
from typing import Any, Dict, List, Optional

import jute
from jute import Acl, Op, Perm

SESSION_SLOTS = 4
BASE = "/d"
USERS = {"u1": "pw1", "u2": "pw2"}

VALID_PATHS = [
    BASE, f"{BASE}/a", f"{BASE}/a/b", f"{BASE}/a/b/c", f"{BASE}/a/d", f"{BASE}/e", f"{BASE}/e/x",
    f"{BASE}/s", f"{BASE}/s/n", f"{BASE}/c", f"{BASE}/c/k", f"{BASE}/t", f"{BASE}/t/u",
    f"{BASE}/ü-ñ", f"{BASE}/a/b/c/d",
]
SEQUENTIAL_GUESSES = [f"{BASE}/s/n{i:010d}" for i in range(8)] + \
                     [f"{BASE}/a/n{i:010d}" for i in range(4)]
SPECIAL_PATHS = ["/", "/zookeeper", "/zookeeper/config", "/zookeeper/quota"]
# Invalid paths are sent raw (no client-side validation). "" is left out of reads:
# Apache looks reads up without validation and "" is the root's internal key.
INVALID_WRITE_PATHS = ["", "noslash", f"{BASE}/", f"{BASE}//a", f"{BASE}/./a", f"{BASE}/a/..",
                       f"{BASE}/a\x00b", f"{BASE}/\x01", "/no-parent/child", f"{BASE}/a/"]
INVALID_READ_PATHS = ["noslash", f"{BASE}/", f"{BASE}//a", f"{BASE}/a/..", "/missing"]

ACL_CHOICES: Dict[str, Optional[List[Acl]]] = {
    "open": jute.OPEN_ACL_UNSAFE,
    "read-only": jute.READ_ACL_UNSAFE,
    "u1-all": [Acl(Perm.ALL, "digest", jute.digest_id("u1", "pw1"))],
    "u2-rw+world-r": [Acl(Perm.READ | Perm.WRITE, "digest", jute.digest_id("u2", "pw2")),
                      Acl(Perm.READ, "world", "anyone")],
    "world-cdr+u1-admin": [Acl(Perm.CREATE | Perm.DELETE | Perm.READ, "world", "anyone"),
                           Acl(Perm.ADMIN, "digest", jute.digest_id("u1", "pw1"))],
    "auth": [Acl(Perm.ALL, "auth", "")],
    "ip-local": [Acl(Perm.ALL, "ip", "127.0.0.1")],
    "ip-subnet": [Acl(Perm.ALL, "ip", "127.0.0.0/8")],
    "duplicates": [Acl(Perm.ALL, "world", "anyone"), Acl(Perm.ALL, "world", "anyone")],
    "odd-perms": [Acl(99, "world", "anyone")],
    "empty": [],
    "null": None,
    "bad-digest": [Acl(Perm.ALL, "digest", "nocolon")],
    "bad-ip": [Acl(Perm.ALL, "ip", "not-an-ip")],
    "bad-world": [Acl(Perm.ALL, "world", "somebody")],
    "bad-scheme": [Acl(Perm.ALL, "nosuchscheme", "x")],
}


class Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.fresh_paths: List[str] = []  # names handed out by coherent multis

    def fresh_path(self) -> str:
        path = f"{BASE}/m{len(self.fresh_paths)}"
        self.fresh_paths.append(path)
        return path

    def known_path(self) -> str:
        if self.fresh_paths and self.chance(0.5):
            return self.rng.choice(self.fresh_paths[-6:])
        return self.rng.choice(VALID_PATHS)

    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability

    def pick(self, weighted: Dict[Any, float]) -> Any:
        keys = list(weighted)
        return self.rng.choices(keys, weights=[weighted[key] for key in keys])[0]

    def session(self) -> int:
        return self.rng.randrange(SESSION_SLOTS)

    def write_path(self) -> str:
        roll = self.rng.random()
        if roll < 0.75:
            return self.known_path()
        if roll < 0.85:
            return self.rng.choice(SEQUENTIAL_GUESSES)
        if roll < 0.95:
            return self.rng.choice(INVALID_WRITE_PATHS)
        return self.rng.choice(SPECIAL_PATHS)

    def read_path(self) -> str:
        roll = self.rng.random()
        if roll < 0.75:
            return self.known_path()
        if roll < 0.85:
            return self.rng.choice(SEQUENTIAL_GUESSES)
        if roll < 0.93:
            return self.rng.choice(INVALID_READ_PATHS)
        return self.rng.choice(SPECIAL_PATHS)

    def data(self) -> Optional[bytes]:
        roll = self.rng.random()
        if roll < 0.1:
            return None
        if roll < 0.2:
            return b""
        if roll < 0.25:
            return bytes(self.rng.randrange(256) for _ in range(3000))
        return bytes(self.rng.randrange(256) for _ in range(self.rng.randrange(1, 24)))

    def version(self) -> int:
        return self.rng.choice([-1, -1, 0, 0, 1, 2, 3, 7])

    def acl_name(self) -> str:
        if self.chance(0.7):
            return "open"
        return self.rng.choice(list(ACL_CHOICES))

    def create_spec(self, allow_bad: bool = True) -> Dict[str, Any]:
        kind = self.pick({"plain": 6, "sequential": 2, "container": 1, "ttl": 1.5,
                          "bad": 0.7 if allow_bad else 0})
        spec: Dict[str, Any] = {"path": self.write_path(), "data": self.data(),
                                "acl": self.acl_name()}
        if kind == "plain":
            spec.update(opcode=self.rng.choice([Op.CREATE, Op.CREATE2]),
                        flags=self.rng.choice([0, 0, 1]))
        elif kind == "sequential":
            spec.update(opcode=self.rng.choice([Op.CREATE, Op.CREATE2]),
                        flags=self.rng.choice([2, 3]))
            if self.chance(0.6):
                spec["path"] = self.rng.choice([f"{BASE}/s/n", f"{BASE}/a/n", f"{BASE}/e/n"])
        elif kind == "container":
            spec.update(opcode=self.rng.choice([Op.CREATE_CONTAINER, Op.CREATE_CONTAINER,
                                                Op.CREATE]),
                        flags=self.rng.choice([4, 4, 0]))
        elif kind == "ttl":
            flags = self.rng.choice([5, 5, 6, 0])
            if flags == 0:
                # never a negative ttl with a non-TTL mode: Apache 3.8.0 accepts it, then its
                # SyncThread dies applying the txn and the server cannot restart
                ttl = self.rng.choice([600000, 0])
            else:
                ttl = self.rng.choice([600000, 3600000, 0xFFFFFFFFFF, 0, -5, 0x10000000000])
            spec.update(opcode=Op.CREATE_TTL, flags=flags, ttl=ttl)
        else:
            spec.update(opcode=self.rng.choice([Op.CREATE, Op.CREATE2, Op.CREATE_TTL]),
                        flags=self.rng.choice([7, -1, 100, 5, 6]))
            if spec["opcode"] == Op.CREATE_TTL:
                spec["ttl"] = 600000
        return spec

    def multi_sub_op(self) -> Dict[str, Any]:
        kind = self.pick({"create": 4, "delete": 2, "set": 2, "check": 2})
        if kind == "create":
            # bad flags inside a multi fail to deserialize (-5 for the whole multi in 3.8):
            # keep sub-creates well-formed so the per-op result pattern is what is compared
            spec = self.create_spec(allow_bad=False)
            spec["kind"] = "create"
            if spec["acl"] == "null":
                spec["acl"] = "open"
            return spec
        if kind == "set":
            return {"kind": "set", "path": self.write_path(), "data": self.data(),
                    "version": self.version()}
        return {"kind": kind, "path": self.write_path(), "version": self.version()}

    def coherent_multi(self) -> List[Dict[str, Any]]:
        """create/set/check/create child/delete child on a fresh node: succeeds unless
        one version is deliberately wrong (then: 0s, the error, -2s)."""
        path = self.fresh_path()
        ops: List[Dict[str, Any]] = [
            {"kind": "create", "path": path, "data": self.data(), "acl": "open",
             "opcode": self.rng.choice([Op.CREATE, Op.CREATE2]), "flags": 0},
            {"kind": "set", "path": path, "data": self.data(), "version": 0},
            {"kind": "check", "path": path, "version": 1},
            {"kind": "create", "path": f"{path}/child", "data": None, "acl": "open",
             "opcode": self.rng.choice([Op.CREATE, Op.CREATE2, Op.CREATE_TTL]),
             "flags": 0, "ttl": None},
            {"kind": "delete", "path": f"{path}/child", "version": 0},
        ]
        child = ops[3]
        if child["opcode"] == Op.CREATE_TTL:
            child.update(flags=5, ttl=600000)
        else:
            del child["ttl"]
        if self.chance(0.35):
            victim = self.rng.choice([op for op in ops if "version" in op])
            victim["version"] = 5
        return ops

    def op(self) -> Dict[str, Any]:
        kind = self.pick({
            "create": 22, "set": 9, "delete": 10, "exists": 6, "get": 8, "children": 3,
            "children2": 5, "get_acl": 4, "set_acl": 6, "multi": 10, "multi_read": 2,
            "all_children": 2, "ephemerals": 2, "sync": 1, "auth": 2, "whoami": 1, "ping": 1,
            "add_watch": 3, "close": 2, "reconnect": 2,
        })
        op: Dict[str, Any] = {"kind": kind, "session": self.session()}
        if kind == "create":
            op.update(self.create_spec())
        elif kind == "set":
            op.update(path=self.write_path(), data=self.data(), version=self.version())
        elif kind == "delete":
            op.update(path=self.write_path(),
                      version=-1 if self.chance(0.5) else self.version())
        elif kind in ("exists", "get", "children", "children2"):
            op.update(path=self.read_path(), watch=self.chance(0.5))
        elif kind in ("get_acl", "all_children", "sync"):
            op.update(path=self.read_path())
        elif kind == "set_acl":
            op.update(path=self.write_path(), acl=self.acl_name(), version=self.version())
        elif kind == "multi":
            if self.chance(0.5):
                op.update(ops=self.coherent_multi())
            else:
                op.update(ops=[self.multi_sub_op()
                               for _ in range(self.rng.choice([0, 1, 2, 3, 3, 4]))])
        elif kind == "multi_read":
            op.update(ops=[{"kind": self.rng.choice(["get", "children"]), "path": self.read_path()}
                           for _ in range(self.rng.randrange(1, 4))])
        elif kind == "ephemerals":
            op.update(prefix=self.rng.choice(["/", "", BASE, f"{BASE}/e", f"{BASE}/s/n", "/nope"]))
        elif kind == "auth":
            op.update(user=self.rng.choice(list(USERS)), wrong_password=self.chance(0.2))
        elif kind == "add_watch":
            path = self.rng.choice([BASE, f"{BASE}/a"]) if self.chance(0.4) else self.read_path()
            op.update(path=path, mode=self.rng.choice([0, 1]))
        elif kind == "close":
            op.update(timeout_ms=self.rng.choice([30000, 40000, 100000]))
        return op


def generate_ops(seed: int, count: int) -> List[Dict[str, Any]]:
    generator = Generator(seed)
    setup = [{"kind": "create", "session": 0, "path": BASE, "data": b"base", "acl": "open",
              "opcode": Op.CREATE, "flags": 0}]
    return setup + [generator.op() for _ in range(count)]


def describe(op: Dict[str, Any]) -> str:
    shown = {key: (value[:16] + b"..." if isinstance(value, bytes) and len(value) > 16 else value)
             for key, value in op.items()}
    return repr(shown)


# ------------------------------------------------------------------ execution


def create_record(spec: Dict[str, Any]) -> bytes:
    opcode = spec["opcode"]
    ttl = spec.get("ttl", 0 if opcode == Op.CREATE_TTL else None)
    return jute.create_request(spec["path"], spec["data"], ACL_CHOICES[spec["acl"]],
                               spec["flags"], ttl if opcode == Op.CREATE_TTL else None)


def multi_sub_record(spec: Dict[str, Any]) -> jute.MultiOp:
    kind = spec["kind"]
    if kind == "create":
        return spec["opcode"], create_record(spec)
    if kind == "delete":
        return Op.DELETE, jute.path_version_request(spec["path"], spec["version"])
    if kind == "check":
        return Op.CHECK, jute.path_version_request(spec["path"], spec["version"])
    if kind == "set":
        return Op.SET_DATA, jute.set_data_request(spec["path"], spec["data"], spec["version"])
    if kind == "get":
        return Op.GET_DATA, jute.path_watch_request(spec["path"], False)
    if kind == "children":
        return Op.GET_CHILDREN, jute.path_watch_request(spec["path"], False)
    raise ValueError(kind)


class Runner:
    """Executes an op list on one server and returns normalized results."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.sessions: List[Optional[jute.Session]] = [None] * SESSION_SLOTS
        self.generation = [0] * SESSION_SLOTS
        self.owner_labels: Dict[int, str] = {}
        self.base_zxid: Optional[int] = None

    # -- normalization
    def zxid(self, value: int) -> Any:
        if value in (0, -1) or self.base_zxid is None:
            return value
        return f"+{value - self.base_zxid}"

    def stat(self, stat: Optional[jute.Stat]) -> Any:
        if stat is None:
            return None
        owner = stat.ephemeral_owner
        return {
            "czxid": self.zxid(stat.czxid), "mzxid": self.zxid(stat.mzxid),
            "pzxid": self.zxid(stat.pzxid), "version": stat.version, "cversion": stat.cversion,
            "aversion": stat.aversion,
            "owner": 0 if owner == 0 else self.owner_labels.get(owner, "unknown-session"),
            "dataLength": stat.data_length, "numChildren": stat.num_children,
        }

    @staticmethod
    def acls(acls: Optional[List[Acl]]) -> Any:
        # sorted: Apache keeps a connection's auth ids in a hash set, so the ACL that the
        # "auth" scheme expands to is in Java hash order
        return None if acls is None else sorted((a.perms, a.scheme, a.id) for a in acls)

    def body(self, opcode: int, body: Any) -> Any:
        if body is None:
            return None
        if opcode in (Op.CREATE2, Op.CREATE_TTL, Op.CREATE_CONTAINER):
            return {"path": body[0], "stat": self.stat(body[1])}
        if opcode in (Op.EXISTS, Op.SET_DATA, Op.SET_ACL):
            return self.stat(body)
        if opcode == Op.GET_DATA:
            return {"data": body[0], "stat": self.stat(body[1])}
        if opcode == Op.GET_ACL:
            return {"acl": self.acls(body[0]), "stat": self.stat(body[1])}
        if opcode in (Op.GET_CHILDREN, Op.GET_EPHEMERALS):
            return sorted(body)
        if opcode == Op.GET_CHILDREN2:
            return {"children": sorted(body[0]), "stat": self.stat(body[1])}
        if opcode == Op.WHO_AM_I:
            return sorted(body)  # a hash set in Apache: no defined order
        if opcode in (Op.MULTI, Op.MULTI_READ):
            return [{"type": op_type, "err": err, "body": self.body(op_type, result)
                     if op_type != Op.ERROR else result} for op_type, err, result in body]
        return body

    def reply(self, opcode: int, reply: jute.Reply) -> Dict[str, Any]:
        return {"xid": reply.header.xid, "zxid": self.zxid(reply.header.zxid),
                "err": reply.header.err, "body": self.body(opcode, reply.body)}

    @staticmethod
    def connect_response(response: jute.ConnectResponse) -> Dict[str, Any]:
        return {"timeout": response.timeout, "session_id_zero": response.session_id == 0,
                "passwd_len": len(response.passwd),
                "passwd_zero": response.passwd == b"\x00" * len(response.passwd),
                "read_only": response.read_only}

    def take_events(self, slot: int) -> List[Any]:
        session = self.sessions[slot]
        assert session is not None
        events = sorted((event.type, event.state, event.path) for event in session.events)
        session.events.clear()
        return events

    # -- sessions
    def open_slot(self, slot: int, timeout_ms: int = 30000) -> Dict[str, Any]:
        session = jute.Session(self.host, self.port)
        response = session.connect(timeout_ms=timeout_ms)
        self.generation[slot] += 1
        self.owner_labels[response.session_id] = f"s{slot}.{self.generation[slot]}"
        self.sessions[slot] = session
        return self.connect_response(response)

    def start(self) -> None:
        for slot in range(SESSION_SLOTS):
            self.open_slot(slot)
        first = self.sessions[0]
        assert first is not None
        self.base_zxid = first.exists("/").zxid

    def finish(self) -> List[Any]:
        """Drains pending notifications with a ping per session, then closes them."""
        drained = []
        for slot, session in enumerate(self.sessions):
            assert session is not None
            reply = session.ping()
            drained.append({"slot": slot, "ping": self.reply(Op.PING, reply),
                            "events": self.take_events(slot)})
            session.close_session()
        return drained

    # -- ops
    def execute(self, op: Dict[str, Any]) -> Dict[str, Any]:
        """Runs one op; a connection the server drops is recorded, then the session resumed."""
        try:
            return self.execute_unchecked(op)
        except (jute.ConnectionClosed, ConnectionResetError, BrokenPipeError):
            slot = op["session"]
            session = self.sessions[slot]
            assert session is not None
            result = {"connection_closed": True, "events": self.take_events(slot)}
            result["resume"] = self.resume(slot)
            return result

    def execute_unchecked(self, op: Dict[str, Any]) -> Dict[str, Any]:
        slot = op["session"]
        session = self.sessions[slot]
        assert session is not None
        kind = op["kind"]
        if kind == "close":
            return self.close_and_reopen(slot, op["timeout_ms"])
        if kind == "reconnect":
            return self.reconnect(slot)
        if kind == "auth":
            password = USERS[op["user"]] + ("-wrong" if op["wrong_password"] else "")
            reply = session.add_auth("digest", f"{op['user']}:{password}".encode())
            result = {"xid": reply.header.xid, "zxid": reply.header.zxid, "err": reply.header.err}
        elif kind == "exists":
            result = self.exists(session, op)
        else:
            opcode, record, xid = self.request(op)
            result = self.reply(opcode, session.call(opcode, record, xid))
            if kind == "multi":
                self.tolerate_create2_results(op, result)
        result["events"] = self.take_events(slot)
        return result

    # -- known differences between Apache releases, tolerated both ways
    def exists(self, session: jute.Session, op: Dict[str, Any]) -> Dict[str, Any]:
        """exists() on a node the session cannot read: 3.8.0-3.8.3 return its Stat (and set
        the watch); 3.8.4+ (ZOOKEEPER-2590) return NOAUTH. A getData probe tells which case
        applies; then no watch is requested and either answer is accepted."""
        probe = session.get_data(op["path"], watch=False)
        unreadable = probe.err == jute.Err.NO_AUTH
        watch = op["watch"] and not unreadable
        result = self.reply(Op.EXISTS, session.exists(op["path"], watch=watch))
        result["probe_err"] = probe.err
        if unreadable and result["err"] in (0, jute.Err.NO_AUTH):
            result["err"] = "0 or -102"
            result["body"] = "exists() on an unreadable node"
        return result

    @staticmethod
    def tolerate_create2_results(op: Dict[str, Any], result: Dict[str, Any]) -> None:
        """A create2 inside multi: 3.8.0-3.8.1 answer a plain create (type 1, path only);
        3.8.2+ (ZOOKEEPER-4026) a Create2Response (type 15, path + Stat). Compare the path."""
        if not result.get("body"):
            return
        for spec, sub in zip(op["ops"], result["body"]):
            if spec.get("opcode") == Op.CREATE2 and sub["err"] == 0:
                body = sub["body"]
                path = body["path"] if isinstance(body, dict) else body
                sub.update(type="create2 (1 or 15)", body=path)

    def request(self, op: Dict[str, Any]):
        kind = op["kind"]
        if kind == "create":
            return op["opcode"], create_record(op), None
        if kind == "set":
            return Op.SET_DATA, jute.set_data_request(op["path"], op["data"], op["version"]), None
        if kind == "delete":
            return Op.DELETE, jute.path_version_request(op["path"], op["version"]), None
        if kind in ("get", "children", "children2"):
            opcode = {"get": Op.GET_DATA, "children": Op.GET_CHILDREN,
                      "children2": Op.GET_CHILDREN2}[kind]
            return opcode, jute.path_watch_request(op["path"], op["watch"]), None
        if kind == "get_acl":
            return Op.GET_ACL, jute.path_request(op["path"]), None
        if kind == "set_acl":
            return (Op.SET_ACL, jute.set_acl_request(op["path"], ACL_CHOICES[op["acl"]],
                                                     op["version"]), None)
        if kind == "multi":
            return Op.MULTI, jute.multi_request([multi_sub_record(s) for s in op["ops"]]), None
        if kind == "multi_read":
            return (Op.MULTI_READ, jute.multi_request([multi_sub_record(s) for s in op["ops"]]),
                    None)
        if kind == "all_children":
            return Op.GET_ALL_CHILDREN_NUMBER, jute.path_request(op["path"]), None
        if kind == "ephemerals":
            return Op.GET_EPHEMERALS, jute.path_request(op["prefix"]), None
        if kind == "sync":
            return Op.SYNC, jute.path_request(op["path"]), None
        if kind == "whoami":
            return Op.WHO_AM_I, b"", None
        if kind == "ping":
            return Op.PING, b"", jute.Xid.PING
        if kind == "add_watch":
            return Op.ADD_WATCH, jute.add_watch_request(op["path"], op["mode"]), None
        raise ValueError(f"unknown op kind {kind}")

    def close_and_reopen(self, slot: int, timeout_ms: int) -> Dict[str, Any]:
        """closeSession; a reconnect with the closed id is refused; a new session takes the slot."""
        session = self.sessions[slot]
        assert session is not None
        old_id, old_passwd = session.session_id, session.passwd
        pending = session.ping()
        result: Dict[str, Any] = {"ping": self.reply(Op.PING, pending),
                                  "events": self.take_events(slot)}
        result["close"] = self.reply(Op.CLOSE_SESSION, session.call(Op.CLOSE_SESSION))
        result["closed_by_server"] = session.is_closed_by_server()
        session.close_socket()
        stale = jute.Session(self.host, self.port)
        result["stale_connect"] = self.connect_response(
            stale.connect(session_id=old_id, passwd=old_passwd))
        result["stale_closed_by_server"] = stale.is_closed_by_server()
        stale.close_socket()
        result["new_session"] = self.open_slot(slot, timeout_ms)
        return result

    def reconnect(self, slot: int) -> Dict[str, Any]:
        """Moves the session to a new connection (auth and watches stay behind)."""
        session = self.sessions[slot]
        assert session is not None
        pending = session.ping()
        result: Dict[str, Any] = {"ping": self.reply(Op.PING, pending),
                                  "events": self.take_events(slot)}
        result.update(self.resume(slot))
        return result

    def resume(self, slot: int) -> Dict[str, Any]:
        session = self.sessions[slot]
        assert session is not None
        session_id, passwd, timeout = session.session_id, session.passwd, session.negotiated_timeout
        session.close_socket()
        fresh = jute.Session(self.host, self.port)
        response = fresh.connect(timeout_ms=timeout, session_id=session_id, passwd=passwd)
        self.sessions[slot] = fresh
        return {"connect": self.connect_response(response),
                "same_session": response.session_id == session_id,
                "same_passwd": response.passwd == passwd}

    def run(self, ops: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        self.start()
        results = []
        for index, op in enumerate(ops):
            try:
                results.append(self.execute(op))
            except Exception as error:
                raise RunFailed(f"op #{index} {describe(op)} failed: {error!r}") from error
        results.append({"finish": self.finish()})
        return results


class RunFailed(Exception):
    """An op could not be executed at all (e.g. the server died)."""
