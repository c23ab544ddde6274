"""What the abuse suite's cases share: a raw wire client that can pipeline without reading,
a well-behaved "canary" client that must keep being served while a case abuses the server,
and process memory readings.

Every wait is a condition polled until a deadline (`wait_until`), never a fixed sleep.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional

import jute
from support import HOST, wait_until

MiB = 1024 * 1024

# The canary's bounds are stall detectors, not performance targets: on a loaded 2-core
# machine a healthy server answers the canary in milliseconds; a server that queues it
# behind an abuser's work, or stops, takes seconds.
CANARY_MAX_OP_SECONDS = 5.0
CANARY_P99_SECONDS = 1.0


def rss_bytes(pid: int) -> int:
    """Resident memory of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


class RawClient:
    """A session whose requests can be pipelined without reading a single reply, the way a
    careless or hostile client behaves. `send` writes whole frames; nothing is read unless
    asked."""

    def __init__(self, port: int, host: str = HOST, timeout_ms: int = 30000,
                 source: Optional[str] = None) -> None:
        self.session = jute.Session(host, port, io_timeout=30.0)
        if source is not None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((source, 0))
            sock.settimeout(30.0)
            sock.connect((host, port))
            self.session.sock = sock
            request = (jute.Writer().int(0).long(0).int(timeout_ms).long(0)
                       .buffer(b"\x00" * 16).bool(False).bytes())
            self.session.send_frame(request)
            self.session.read_connect_response()
        else:
            self.session.connect(timeout_ms=timeout_ms)
        self.next_xid = 1

    @property
    def sock(self) -> socket.socket:
        assert self.session.sock is not None
        return self.session.sock

    def request_frame(self, opcode: int, record: bytes, xid: Optional[int] = None) -> bytes:
        if xid is None:
            xid = self.next_xid
            self.next_xid += 1
        payload = jute.Writer().int(xid).int(opcode).bytes() + record
        return struct.pack(">i", len(payload)) + payload

    def send(self, frames: bytes) -> None:
        self.sock.sendall(frames)

    def try_send(self, frames: bytes, deadline: float) -> int:
        """Writes as much of `frames` as the server takes before `deadline`; returns the
        number of bytes written. A server that stops reading makes this stop early."""
        self.sock.setblocking(False)
        sent = 0
        try:
            while sent < len(frames) and time.monotonic() < deadline:
                try:
                    sent += self.sock.send(frames[sent:sent + 65536])
                except BlockingIOError:
                    time.sleep(0.01)
                except OSError:
                    break
        finally:
            self.sock.setblocking(True)
            self.sock.settimeout(30.0)
        return sent

    def read_reply(self, opcode: int) -> jute.Reply:
        return self.session.read_reply(opcode)

    def closed_by_server(self, wait: float) -> bool:
        return self.session.is_closed_by_server(wait)

    def close(self) -> None:
        self.session.close_socket()


class Canary(threading.Thread):
    """A well-behaved client that writes and reads its own node in a loop for as long as a
    case runs. It records how long each operation took and every write the server
    acknowledged; `check` then asserts it was served all along and that the acknowledged
    writes are all there."""

    def __init__(self, port: int, name: str = "canary") -> None:
        super().__init__(name=name, daemon=True)
        self.port = port
        self.path = f"/{name}"
        self.latencies: List[float] = []
        self.acked: Dict[str, bytes] = {}
        self.errors: List[str] = []
        self.done = threading.Event()
        self.session = jute.connect_session(HOST, port, timeout_ms=30000)
        reply = self.session.create(self.path, b"0")
        if reply.err not in (0, jute.Err.NODE_EXISTS):
            raise RuntimeError(f"canary cannot create {self.path}: {reply.err}")

    def run(self) -> None:
        counter = 0
        try:
            while not self.done.is_set():
                counter += 1
                value = str(counter).encode()
                started = time.monotonic()
                if counter % 10 == 0:
                    reply = self.session.create(f"{self.path}/n-", value, flags=2)
                    if reply.err == 0:
                        self.acked[reply.body] = value
                else:
                    reply = self.session.set_data(self.path, value)
                    if reply.err == 0:
                        self.acked[self.path] = value
                if reply.err != 0:
                    self.errors.append(f"write {counter}: error {reply.err}")
                read = self.session.get_data(self.path)
                if read.err != 0:
                    self.errors.append(f"read {counter}: error {read.err}")
                self.latencies.append(time.monotonic() - started)
                # Paced, so the canary measures the server rather than loading it.
                self.done.wait(0.01)
        except Exception as error:  # noqa: BLE001 - reported by check()
            self.errors.append(f"canary failed: {error!r}")

    def served(self, count: int, timeout: float = 60.0) -> None:
        """Waits until the canary has completed `count` more round trips."""
        target = len(self.latencies) + count
        wait_until(lambda: len(self.latencies) >= target or self.errors, timeout,
                   f"the canary to complete {count} round trips")
        assert not self.errors, self.errors

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=60)

    def check(self, port: Optional[int] = None) -> None:
        """Stops the canary and asserts: no errors, no stalls, and every acknowledged write
        readable from a new session (on `port`, default the same server)."""
        self.stop()
        assert not self.errors, self.errors
        assert self.latencies, "the canary never completed a round trip"
        slowest = max(self.latencies)
        ordered = sorted(self.latencies)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        assert slowest < CANARY_MAX_OP_SECONDS, f"a canary round trip took {slowest:.2f}s"
        assert p99 < CANARY_P99_SECONDS, f"canary p99 {p99:.3f}s over {len(ordered)} ops"
        self.session.close_socket()
        verify_acked(port or self.port, self.acked)


def verify_acked(port: int, acked: Dict[str, bytes]) -> None:
    """Every acknowledged write is there: sequential nodes exist with their value, and the
    canary's own node holds the last value written."""
    session = jute.connect_session(HOST, port, timeout_ms=30000)
    try:
        for path, value in acked.items():
            reply = session.get_data(path)
            assert reply.err == 0, f"acknowledged node {path} is missing ({reply.err})"
            data, _stat = reply.body
            assert data == value, f"{path}: {data!r} != acknowledged {value!r}"
    finally:
        session.close_socket()
