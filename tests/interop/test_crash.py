"""Crash test (zk-server only): acknowledged writes survive SIGKILL.

Two writers create znodes (one synchronously, one with 8 pipelined requests) while
the test SIGKILLs the server at varied moments and restarts it on the same dataDir.
After every restart: every acknowledged znode exists with its data, nothing exists
that was never sent, and new zxids are larger than every acknowledged one.

Validate it against Apache with ZK_INTEROP_ZK_ONLY_ON_APACHE=1 --zk-target=apache.
"""

from __future__ import annotations

import random
import threading
from typing import Dict, List, Set

import pytest

import jute
from jute import Op
from support import HOST, Worker, wait_until

# acknowledged creates (all writers together) to wait for before each SIGKILL;
# 0 = kill as soon as the writers have sent their first requests
KILL_AFTER_ACKS = [40, 0, 300, 7, 150]
MAX_CREATES_PER_WRITER_ROUND = 5000
ROUND_DEADLINE = 60.0
PARENT = "/crash"


class Ledger:
    """What the writers sent and what the server acknowledged."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent: Dict[str, bytes] = {}
        self.acked: Dict[str, bytes] = {}
        self.max_acked_zxid = 0
        self.first_send = threading.Event()

    def record_sent(self, path: str, data: bytes) -> None:
        with self.lock:
            self.sent[path] = data
        self.first_send.set()

    def record_ack(self, path: str, zxid: int) -> None:
        with self.lock:
            self.acked[path] = self.sent[path]
            self.max_acked_zxid = max(self.max_acked_zxid, zxid)

    def acked_count(self) -> int:
        with self.lock:
            return len(self.acked)


def payload(rng: random.Random, index: int) -> bytes:
    size = rng.choice([0, 8, 100, 1000, 20000])
    return f"{index}:".encode() + rng.randbytes(size)


def write_until_dropped(port: int, ledger: Ledger, name: str, round_index: int,
                        depth: int, stop: threading.Event, seed: int) -> int:
    """Creates PARENT/<name>-<round>-<n> until the connection drops; returns creates sent."""
    rng = random.Random(seed)
    session = jute.Session(HOST, port, io_timeout=20.0)
    try:
        session.connect(timeout_ms=30000)
        in_flight: List[str] = []
        sent = 0
        while not stop.is_set() and sent < MAX_CREATES_PER_WRITER_ROUND:
            while len(in_flight) < depth:
                path = f"{PARENT}/{name}-{round_index}-{sent:05d}"
                data = payload(rng, sent)
                ledger.record_sent(path, data)
                session.send_request(Op.CREATE2, jute.create_request(
                    path, data, jute.OPEN_ACL_UNSAFE, 0))
                in_flight.append(path)
                sent += 1
            reply = session.read_reply(Op.CREATE2)
            path = in_flight.pop(0)
            assert reply.err == 0, f"create {path} failed with {reply.err}"
            assert reply.body[0] == path
            ledger.record_ack(path, reply.body[1].czxid)
        return sent
    except (jute.ConnectionClosed, OSError):
        return -1  # the server was killed: expected
    finally:
        session.close_socket()


def read_all(server) -> Dict[str, bytes]:
    session = server.session()
    try:
        reply = session.get_children(PARENT)
        assert reply.err == 0
        contents = {}
        for child in reply.body:
            got = session.get_data(f"{PARENT}/{child}")
            assert got.err == 0, f"{child} listed but unreadable ({got.err})"
            contents[f"{PARENT}/{child}"] = got.body[0] or b""
        return contents
    finally:
        session.close_session()


@pytest.mark.zk_only
def test_acknowledged_creates_survive_sigkill(zk_target, server_factory):
    # A small snapCount makes snapshots (and log rolls) happen while the writers run, so
    # kills also land during snapshot writes.
    server = server_factory.start(zk_target, {"snapCount": "64"})
    setup = server.session()
    assert setup.create(PARENT, b"").err == 0
    setup.close_session()
    ledger = Ledger()
    rng = random.Random(20240611)

    for round_index, kill_after in enumerate(KILL_AFTER_ACKS):
        target = ledger.acked_count() + kill_after
        ledger.first_send.clear()
        stop = threading.Event()
        writers = [
            Worker(write_until_dropped, server.port, ledger, "sync", round_index, 1, stop,
                   rng.randrange(1 << 30), name="sync-writer"),
            Worker(write_until_dropped, server.port, ledger, "pipe", round_index, 8, stop,
                   rng.randrange(1 << 30), name="pipelined-writer"),
        ]
        for writer in writers:
            writer.start()
        try:
            assert ledger.first_send.wait(ROUND_DEADLINE), "writers never sent a request"
            wait_until(lambda: ledger.acked_count() >= target or
                       all(w.done.is_set() for w in writers),
                       ROUND_DEADLINE, f"{kill_after} acknowledged creates in round {round_index}")
            server.kill()
        finally:
            stop.set()
        for writer in writers:
            writer.join_checked(ROUND_DEADLINE)

        server.start()
        present = read_all(server)
        with ledger.lock:
            acked = dict(ledger.acked)
            sent_paths: Set[str] = set(ledger.sent)
            max_acked_zxid = ledger.max_acked_zxid
        lost = sorted(set(acked) - set(present))
        assert not lost, (f"round {round_index}: {len(lost)} acknowledged znodes lost after "
                          f"SIGKILL, e.g. {lost[:5]}")
        phantom = sorted(set(present) - sent_paths)
        assert not phantom, f"round {round_index}: znodes never sent exist: {phantom[:5]}"
        corrupted = [path for path, data in acked.items() if present[path] != data]
        assert not corrupted, f"round {round_index}: data differs for {corrupted[:5]}"
        assert len(present) >= len(acked)
        print(f"round {round_index}: killed after {kill_after} more acks; "
              f"acked {len(acked)}, sent {len(sent_paths)}, present {len(present)}")

        probe = server.session()
        marker = probe.create(f"{PARENT}-marker-{round_index}", b"", opcode=Op.CREATE2)
        assert marker.err == 0
        assert marker.body[1].czxid > max_acked_zxid, "zxids must keep growing across restarts"
        probe.close_session()

    assert ledger.acked_count() >= sum(KILL_AFTER_ACKS)
