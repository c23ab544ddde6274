"""zk-server's member-to-member messages, written by hand to forge them.

A frame is a big-endian u32 length and a postcard body (core/src/server/quorum/wire.rs):
unsigned integers are LEB128 varints, signed ones zigzag-encoded first, byte strings a
varint length and the bytes, enums their variant index as a varint. The Rust test
`forged_messages_encode_as_the_python_suite_writes_them` pins the same bytes, so this module
and the server cannot drift apart unnoticed.

A proposal's txn is zk-server's txn encoding (core/src/server/txn.rs), jute primitives:
zxid, time, session (longs), rules, tag (ints), then the body.
"""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass
from typing import List, Optional, Tuple

import jute

# PeerRequest variants.
APPEND, VOTE, PRE_VOTE, SNAPSHOT_CHUNK, FORWARD, TOUCH, REVALIDATE, TRANSFER_LEADER = range(8)
# PeerResponse variants.
(R_APPEND, R_VOTE, R_SNAPSHOT, R_ACCEPTED, R_NOT_LEADER, R_TOUCHED, R_REVALIDATED, R_FAILED,
 R_CHUNK_RECEIVED, R_TRANSFER_LEADER, R_SESSION_EXPIRED) = range(11)

# Where the suite's ensembles run their members (tests/faults/ensemble.py).
MEMBER_HOST = "127.0.0.1"

# Txn tags and rule bits.
TAG_CREATE_SESSION, TAG_CLOSE_SESSION, TAG_WRITE, TAG_RECONFIG = 1, 2, 3, 4
SKIP_ACL = 1


def varint(value: int) -> bytes:
    assert value >= 0
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def zigzag(value: int) -> bytes:
    return varint((value << 1) ^ (value >> 63) if value < 0 else value << 1)


def byte_string(data: bytes) -> bytes:
    return varint(len(data)) + data


def frame(body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + body


# -- txns (jute)
def txn_header(session: int, tag: int, rules: int = 0, zxid: int = 0, time_ms: int = 0) -> bytes:
    return struct.pack(">qqqii", zxid, time_ms, session, rules, tag)


def write_txn(session: int, opcode: int, request: bytes, rules: int = 0,
              auth: Optional[List[Tuple[str, str]]] = None) -> bytes:
    writer = jute.Writer().int(len(auth or []))
    for scheme, ident in auth or []:
        writer.string(scheme).string(ident)
    writer.int(opcode).buffer(request)
    return txn_header(session, TAG_WRITE, rules) + writer.bytes()


def create_session_txn(session: int, timeout_ms: int, passwd: bytes) -> bytes:
    return (txn_header(session, TAG_CREATE_SESSION)
            + jute.Writer().int(timeout_ms).buffer(passwd).bytes())


def reconfig_txn(session: int, members: str) -> bytes:
    return (txn_header(session, TAG_RECONFIG)
            + jute.Writer().int(0).long(-1).string(members).bytes())


# -- requests (postcard)
def txn_proposal(origin: int, request: int, txn: bytes, incarnation: int = 1,
                 time_ms: int = 0) -> bytes:
    return (varint(origin) + varint(request) + varint(incarnation) + zigzag(time_ms)
            + varint(0) + byte_string(txn))


def moved_proposal(origin: int, request: int, session: int) -> bytes:
    return varint(origin) + varint(request) + varint(1) + zigzag(0) + varint(1) + zigzag(session)


def forward(proposals: List[bytes]) -> bytes:
    return varint(FORWARD) + varint(len(proposals)) + b"".join(proposals)


def touch(sessions: List[int]) -> bytes:
    return varint(TOUCH) + varint(len(sessions)) + b"".join(zigzag(s) for s in sessions)


def revalidate(session: int, origin: int, passwd: bytes = b"") -> bytes:
    return varint(REVALIDATE) + zigzag(session) + varint(origin) + varint(len(passwd)) + passwd


def vote(term: int, candidate: int, last_term: int, last_index: int) -> bytes:
    """A vote request from `candidate` in `term` with its last log id."""
    return (varint(VOTE) + varint(term) + b"\x01" + varint(candidate) + b"\x00"
            + b"\x01" + varint(last_term) + varint(last_index) + b"\x00")


# -- responses
@dataclass
class Accepted:
    term: int
    rejected: List[Tuple[int, int]]


class Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def varint(self) -> int:
        shift = value = 0
        while True:
            byte = self.data[self.pos]
            self.pos += 1
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7

    def zigzag(self) -> int:
        raw = self.varint()
        return (raw >> 1) ^ -(raw & 1)

    def string(self) -> str:
        length = self.varint()
        text = self.data[self.pos:self.pos + length].decode(errors="replace")
        self.pos += length
        return text


def decode_response(body: bytes):
    """An Accepted, ("failed", text), or the response's variant number."""
    reader = Reader(body)
    tag = reader.varint()
    if tag == R_ACCEPTED:
        term = reader.varint()
        rejected = [(reader.varint(), reader.zigzag()) for _ in range(reader.varint())]
        return Accepted(term, rejected)
    if tag == R_FAILED:
        return ("failed", reader.string())
    return tag


class PeerConnection:
    """A connection to a member's quorum or election port, from a chosen source address."""

    def __init__(self, port: int, source: str = MEMBER_HOST, host: str = MEMBER_HOST,
                 timeout: float = 30.0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((source, 0))
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def call(self, body: bytes):
        self.send(frame(body))
        (length,) = struct.unpack(">I", self.recv_exact(4))
        return decode_response(self.recv_exact(length))

    def recv_exact(self, count: int) -> bytes:
        chunks = []
        while count:
            chunk = self.sock.recv(count)
            if not chunk:
                raise ConnectionError("the member closed the connection")
            chunks.append(chunk)
            count -= len(chunk)
        return b"".join(chunks)

    def closed_by_peer(self, wait: float) -> bool:
        """True when the member closes the connection within `wait` seconds without
        answering; False if it answers or keeps the connection open."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return True
            return not data
        return False

    def close(self) -> None:
        self.sock.close()
