"""A small raw-socket ZooKeeper client speaking the Jute wire protocol.

It is deliberately low level: every reply is returned with its header
(xid, zxid, err) and the decoded body, so tests can compare exact replies
of two servers. Only what the interop tests need is implemented.

Wire format reminders (all integers big-endian):
  frame          = int32 length + payload
  ustring/buffer = int32 length (-1 = null) + bytes
  vector         = int32 count (-1 = null) + elements
  request        = RequestHeader{int xid, int type} + record
  reply          = ReplyHeader{int xid, long zxid, int err} + record (only when err == 0)
"""

from __future__ import annotations

import base64
import hashlib
import socket
import struct
import time
from dataclasses import dataclass
from typing import Any, List, Optional, Tuple


# ---------------------------------------------------------------- constants

class Op:
    NOTIFICATION = 0
    CREATE = 1
    DELETE = 2
    EXISTS = 3
    GET_DATA = 4
    SET_DATA = 5
    GET_ACL = 6
    SET_ACL = 7
    GET_CHILDREN = 8
    SYNC = 9
    PING = 11
    GET_CHILDREN2 = 12
    CHECK = 13
    MULTI = 14
    CREATE2 = 15
    RECONFIG = 16
    CHECK_WATCHES = 17
    REMOVE_WATCHES = 18
    CREATE_CONTAINER = 19
    DELETE_CONTAINER = 20
    CREATE_TTL = 21
    MULTI_READ = 22
    AUTH = 100
    SET_WATCHES = 101
    SASL = 102
    GET_EPHEMERALS = 103
    GET_ALL_CHILDREN_NUMBER = 104
    SET_WATCHES2 = 105
    ADD_WATCH = 106
    WHO_AM_I = 107
    CLOSE_SESSION = -11
    ERROR = -1


class Err:
    OK = 0
    RUNTIME_INCONSISTENCY = -2
    MARSHALLING_ERROR = -5
    UNIMPLEMENTED = -6
    BAD_ARGUMENTS = -8
    NO_NODE = -101
    NO_AUTH = -102
    BAD_VERSION = -103
    NO_CHILDREN_FOR_EPHEMERALS = -108
    NODE_EXISTS = -110
    NOT_EMPTY = -111
    SESSION_EXPIRED = -112
    INVALID_ACL = -114
    AUTH_FAILED = -115
    QUOTA_EXCEEDED = -125


class Xid:
    NOTIFICATION = -1
    PING = -2
    AUTH = -4
    SET_WATCHES = -8


class Perm:
    READ = 1
    WRITE = 2
    CREATE = 4
    DELETE = 8
    ADMIN = 16
    ALL = 31


class EventType:
    NONE = -1
    NODE_CREATED = 1
    NODE_DELETED = 2
    NODE_DATA_CHANGED = 3
    NODE_CHILDREN_CHANGED = 4


# ---------------------------------------------------------------- records

@dataclass(frozen=True)
class Stat:
    czxid: int
    mzxid: int
    ctime: int
    mtime: int
    version: int
    cversion: int
    aversion: int
    ephemeral_owner: int
    data_length: int
    num_children: int
    pzxid: int


@dataclass(frozen=True)
class Acl:
    perms: int
    scheme: str
    id: str


OPEN_ACL_UNSAFE = [Acl(Perm.ALL, "world", "anyone")]
READ_ACL_UNSAFE = [Acl(Perm.READ, "world", "anyone")]


def digest_id(user: str, password: str) -> str:
    """The id of a digest ACL: user:base64(sha1(user:password))."""
    raw = hashlib.sha1(f"{user}:{password}".encode()).digest()
    return f"{user}:{base64.b64encode(raw).decode()}"


@dataclass(frozen=True)
class ReplyHeader:
    xid: int
    zxid: int
    err: int


@dataclass(frozen=True)
class ConnectResponse:
    protocol_version: int
    timeout: int
    session_id: int
    passwd: bytes
    read_only: Optional[bool]


@dataclass(frozen=True)
class WatchEvent:
    type: int
    state: int
    path: str
    zxid: int


@dataclass
class Reply:
    header: ReplyHeader
    body: Any = None

    @property
    def err(self) -> int:
        return self.header.err

    @property
    def zxid(self) -> int:
        return self.header.zxid


# ---------------------------------------------------------------- encoding

class Writer:
    def __init__(self) -> None:
        self.parts: List[bytes] = []

    def int(self, value: int) -> "Writer":
        self.parts.append(struct.pack(">i", value))
        return self

    def long(self, value: int) -> "Writer":
        self.parts.append(struct.pack(">q", value))
        return self

    def bool(self, value: bool) -> "Writer":
        self.parts.append(b"\x01" if value else b"\x00")
        return self

    def buffer(self, value: Optional[bytes]) -> "Writer":
        if value is None:
            return self.int(-1)
        self.int(len(value))
        self.parts.append(bytes(value))
        return self

    def string(self, value: Optional[str]) -> "Writer":
        return self.buffer(None if value is None else value.encode("utf-8"))

    def strings(self, values: Optional[List[str]]) -> "Writer":
        if values is None:
            return self.int(-1)
        self.int(len(values))
        for value in values:
            self.string(value)
        return self

    def acls(self, acls: Optional[List[Acl]]) -> "Writer":
        if acls is None:
            return self.int(-1)
        self.int(len(acls))
        for acl in acls:
            self.int(acl.perms).string(acl.scheme).string(acl.id)
        return self

    def raw(self, data: bytes) -> "Writer":
        self.parts.append(data)
        return self

    def bytes(self) -> bytes:
        return b"".join(self.parts)


class Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def _take(self, count: int) -> bytes:
        if count > self.remaining():
            raise ValueError(f"truncated record: need {count} bytes, have {self.remaining()}")
        chunk = self.data[self.pos:self.pos + count]
        self.pos += count
        return chunk

    def int(self) -> int:
        return struct.unpack(">i", self._take(4))[0]

    def long(self) -> int:
        return struct.unpack(">q", self._take(8))[0]

    def bool(self) -> bool:
        return self._take(1) != b"\x00"

    def buffer(self) -> Optional[bytes]:
        length = self.int()
        if length < 0:
            return None
        return self._take(length)

    def string(self) -> Optional[str]:
        raw = self.buffer()
        return None if raw is None else raw.decode("utf-8")

    def strings(self) -> Optional[List[str]]:
        count = self.int()
        if count < 0:
            return None
        return [self.string() for _ in range(count)]

    def stat(self) -> Stat:
        return Stat(
            czxid=self.long(), mzxid=self.long(), ctime=self.long(), mtime=self.long(),
            version=self.int(), cversion=self.int(), aversion=self.int(),
            ephemeral_owner=self.long(), data_length=self.int(), num_children=self.int(),
            pzxid=self.long(),
        )

    def acls(self) -> Optional[List[Acl]]:
        count = self.int()
        if count < 0:
            return None
        result = []
        for _ in range(count):
            perms = self.int()
            result.append(Acl(perms, self.string(), self.string()))
        return result


# ---------------------------------------------------------------- request records

def create_request(path: str, data: Optional[bytes], acl: Optional[List[Acl]], flags: int,
                   ttl: Optional[int] = None) -> bytes:
    w = Writer().string(path).buffer(data).acls(acl).int(flags)
    if ttl is not None:
        w.long(ttl)
    return w.bytes()


def path_version_request(path: str, version: int) -> bytes:
    return Writer().string(path).int(version).bytes()


def path_watch_request(path: str, watch: bool) -> bytes:
    return Writer().string(path).bool(watch).bytes()


def path_request(path: str) -> bytes:
    return Writer().string(path).bytes()


def set_data_request(path: str, data: Optional[bytes], version: int) -> bytes:
    return Writer().string(path).buffer(data).int(version).bytes()


def set_acl_request(path: str, acl: Optional[List[Acl]], version: int) -> bytes:
    return Writer().string(path).acls(acl).int(version).bytes()


def add_watch_request(path: str, mode: int) -> bytes:
    return Writer().string(path).int(mode).bytes()


# multi ops: (opcode, record bytes)
MultiOp = Tuple[int, bytes]


def multi_request(ops: List[MultiOp]) -> bytes:
    w = Writer()
    for opcode, record in ops:
        w.int(opcode).bool(False).int(-1).raw(record)
    w.int(-1).bool(True).int(-1)
    return w.bytes()


# ---------------------------------------------------------------- response decoding

def decode_multi(reader: Reader) -> List[Tuple[int, int, Any]]:
    """Returns [(type, err, body)] of a MultiResponse."""
    results = []
    while True:
        op_type = reader.int()
        done = reader.bool()
        err = reader.int()
        if done:
            break
        if op_type == Op.ERROR:
            body = reader.int()  # ErrorResponse{err}
        elif op_type == Op.CREATE:
            body = reader.string()
        elif op_type in (Op.CREATE2, Op.CREATE_TTL, Op.CREATE_CONTAINER):
            body = (reader.string(), reader.stat())
        elif op_type == Op.SET_DATA:
            body = reader.stat()
        elif op_type in (Op.DELETE, Op.CHECK):
            body = None
        elif op_type == Op.GET_DATA:
            body = (reader.buffer(), reader.stat())
        elif op_type == Op.GET_CHILDREN:
            body = reader.strings()
        else:
            raise ValueError(f"unexpected multi result type {op_type}")
        results.append((op_type, err, body))
    return results


def decode_body(opcode: int, reader: Reader) -> Any:
    if opcode == Op.CREATE:
        return reader.string()
    if opcode in (Op.CREATE2, Op.CREATE_TTL, Op.CREATE_CONTAINER):
        return reader.string(), reader.stat()
    if opcode in (Op.EXISTS, Op.SET_DATA, Op.SET_ACL):
        return reader.stat()
    if opcode == Op.GET_DATA:
        return reader.buffer(), reader.stat()
    if opcode == Op.GET_ACL:
        return reader.acls(), reader.stat()
    if opcode in (Op.GET_CHILDREN, Op.GET_EPHEMERALS):
        return reader.strings()
    if opcode == Op.GET_CHILDREN2:
        return reader.strings(), reader.stat()
    if opcode == Op.SYNC:
        return reader.string()
    if opcode == Op.GET_ALL_CHILDREN_NUMBER:
        return reader.int()
    if opcode in (Op.MULTI, Op.MULTI_READ):
        return decode_multi(reader)
    if opcode == Op.ADD_WATCH:
        return reader.int() if reader.remaining() >= 4 else None
    if opcode == Op.WHO_AM_I:
        count = reader.int()
        return [(reader.string(), reader.string()) for _ in range(max(count, 0))]
    return None  # delete, ping, close, auth, setWatches, removeWatches ...


# ---------------------------------------------------------------- connection

class ConnectionClosed(Exception):
    """The server closed the socket."""


class Session:
    """One TCP connection carrying one ZooKeeper session.

    Requests are synchronous (one outstanding request at a time, unless
    send_request/read_reply are used directly). Notifications (xid -1) that
    arrive while waiting are stored in `events`.
    """

    def __init__(self, host: str, port: int, io_timeout: float = 15.0) -> None:
        self.host = host
        self.port = port
        self.io_timeout = io_timeout
        self.sock: Optional[socket.socket] = None
        self.next_xid = 1
        self.events: List[WatchEvent] = []
        self.session_id = 0
        self.passwd = b"\x00" * 16
        self.negotiated_timeout = 0
        self.connect_response: Optional[ConnectResponse] = None

    # -- socket helpers
    def _open(self) -> None:
        self.sock = socket.create_connection((self.host, self.port), timeout=self.io_timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _recv_exact(self, count: int) -> bytes:
        assert self.sock is not None
        chunks = []
        while count:
            chunk = self.sock.recv(count)
            if not chunk:
                raise ConnectionClosed("server closed the connection")
            chunks.append(chunk)
            count -= len(chunk)
        return b"".join(chunks)

    def send_frame(self, payload: bytes) -> None:
        assert self.sock is not None
        self.sock.sendall(struct.pack(">i", len(payload)) + payload)

    def read_frame(self) -> bytes:
        (length,) = struct.unpack(">i", self._recv_exact(4))
        if length < 0 or length > 16 * 1024 * 1024:
            raise ValueError(f"bad frame length {length}")
        return self._recv_exact(length)

    # -- handshake
    def connect(self, timeout_ms: int = 30000, session_id: int = 0,
                passwd: Optional[bytes] = None, last_zxid_seen: int = 0,
                read_only: bool = False) -> ConnectResponse:
        self.send_connect(timeout_ms, session_id, passwd, last_zxid_seen, read_only)
        return self.read_connect_response()

    def send_connect(self, timeout_ms: int = 30000, session_id: int = 0,
                     passwd: Optional[bytes] = None, last_zxid_seen: int = 0,
                     read_only: bool = False) -> None:
        """Opens the socket and sends a ConnectRequest without waiting for the answer
        (requests may be pipelined behind it, as the Java client does)."""
        self._open()
        request = (Writer().int(0).long(last_zxid_seen).int(timeout_ms).long(session_id)
                   .buffer(passwd if passwd is not None else b"\x00" * 16).bool(read_only).bytes())
        self.send_frame(request)

    def read_connect_response(self) -> ConnectResponse:
        reader = Reader(self.read_frame())
        response = ConnectResponse(
            protocol_version=reader.int(), timeout=reader.int(), session_id=reader.long(),
            passwd=reader.buffer() or b"",
            read_only=reader.bool() if reader.remaining() else None,
        )
        self.connect_response = response
        if response.timeout > 0:
            self.session_id = response.session_id
            self.passwd = response.passwd
            self.negotiated_timeout = response.timeout
        return response

    def close_socket(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None

    def is_closed_by_server(self, wait: float = 5.0) -> bool:
        """True when the server closes the socket within `wait` seconds."""
        assert self.sock is not None
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                frame_len = self.sock.recv(4)
            except socket.timeout:
                continue
            except OSError:
                return True
            if not frame_len:
                return True
        return False

    # -- requests
    def send_request(self, opcode: int, record: bytes = b"", xid: Optional[int] = None) -> int:
        if xid is None:
            xid = self.next_xid
            self.next_xid += 1
        self.send_frame(Writer().int(xid).int(opcode).bytes() + record)
        return xid

    def read_reply(self, opcode: int) -> Reply:
        """Reads frames until a non-notification reply arrives."""
        while True:
            reader = Reader(self.read_frame())
            header = ReplyHeader(reader.int(), reader.long(), reader.int())
            if header.xid == Xid.NOTIFICATION:
                self.events.append(WatchEvent(type=reader.int(), state=reader.int(),
                                              path=reader.string(), zxid=header.zxid))
                continue
            body = decode_body(opcode, reader) if header.err == 0 else None
            return Reply(header, body)

    def call(self, opcode: int, record: bytes = b"", xid: Optional[int] = None) -> Reply:
        sent_xid = self.send_request(opcode, record, xid)
        reply = self.read_reply(opcode)
        if reply.header.xid != sent_xid:
            raise ValueError(f"xid mismatch: sent {sent_xid}, got {reply.header.xid}")
        return reply

    def wait_for_events(self, count: int, timeout: float = 10.0) -> List[WatchEvent]:
        """Reads frames until at least `count` notifications are stored."""
        assert self.sock is not None
        deadline = time.monotonic() + timeout
        while len(self.events) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"only {len(self.events)} of {count} events arrived")
            self.sock.settimeout(remaining)
            reader = Reader(self.read_frame())
            header = ReplyHeader(reader.int(), reader.long(), reader.int())
            if header.xid != Xid.NOTIFICATION:
                raise ValueError(f"unexpected reply {header} while waiting for events")
            self.events.append(WatchEvent(type=reader.int(), state=reader.int(),
                                          path=reader.string(), zxid=header.zxid))
        self.sock.settimeout(self.io_timeout)
        return self.events

    # -- convenience wrappers
    def create(self, path: str, data: Optional[bytes] = b"", acl: Optional[List[Acl]] = None,
               flags: int = 0, opcode: int = Op.CREATE, ttl: Optional[int] = None) -> Reply:
        if acl is None:
            acl = OPEN_ACL_UNSAFE
        if opcode == Op.CREATE_TTL and ttl is None:
            ttl = 0
        return self.call(opcode, create_request(path, data, acl, flags, ttl))

    def delete(self, path: str, version: int = -1) -> Reply:
        return self.call(Op.DELETE, path_version_request(path, version))

    def exists(self, path: str, watch: bool = False) -> Reply:
        return self.call(Op.EXISTS, path_watch_request(path, watch))

    def get_data(self, path: str, watch: bool = False) -> Reply:
        return self.call(Op.GET_DATA, path_watch_request(path, watch))

    def set_data(self, path: str, data: Optional[bytes], version: int = -1) -> Reply:
        return self.call(Op.SET_DATA, set_data_request(path, data, version))

    def get_children(self, path: str, watch: bool = False) -> Reply:
        return self.call(Op.GET_CHILDREN, path_watch_request(path, watch))

    def get_children2(self, path: str, watch: bool = False) -> Reply:
        return self.call(Op.GET_CHILDREN2, path_watch_request(path, watch))

    def get_acl(self, path: str) -> Reply:
        return self.call(Op.GET_ACL, path_request(path))

    def set_acl(self, path: str, acl: Optional[List[Acl]], version: int = -1) -> Reply:
        return self.call(Op.SET_ACL, set_acl_request(path, acl, version))

    def sync(self, path: str) -> Reply:
        return self.call(Op.SYNC, path_request(path))

    def multi(self, ops: List[MultiOp]) -> Reply:
        return self.call(Op.MULTI, multi_request(ops))

    def multi_read(self, ops: List[MultiOp]) -> Reply:
        return self.call(Op.MULTI_READ, multi_request(ops))

    def get_all_children_number(self, path: str) -> Reply:
        return self.call(Op.GET_ALL_CHILDREN_NUMBER, path_request(path))

    def get_ephemerals(self, prefix: str) -> Reply:
        return self.call(Op.GET_EPHEMERALS, path_request(prefix))

    def add_watch(self, path: str, mode: int) -> Reply:
        return self.call(Op.ADD_WATCH, add_watch_request(path, mode))

    def who_am_i(self) -> Reply:
        return self.call(Op.WHO_AM_I)

    def ping(self) -> Reply:
        return self.call(Op.PING, xid=Xid.PING)

    def add_auth(self, scheme: str, auth: bytes) -> Reply:
        record = Writer().int(0).string(scheme).buffer(auth).bytes()
        return self.call(Op.AUTH, record, xid=Xid.AUTH)

    def close_session(self) -> Reply:
        reply = self.call(Op.CLOSE_SESSION)
        self.close_socket()
        return reply


def connect_session(host: str, port: int, timeout_ms: int = 30000,
                    io_timeout: float = 15.0) -> Session:
    session = Session(host, port, io_timeout=io_timeout)
    response = session.connect(timeout_ms=timeout_ms)
    if response.timeout <= 0:
        session.close_socket()
        raise ConnectionClosed(f"session refused: {response}")
    return session
