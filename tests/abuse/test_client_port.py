"""Abuse of the client port: clients that send what they should not, faster than they
should, or read nothing back. In every case the server keeps serving a well-behaved client
on the same port (the canary), holds bounded memory, and loses no acknowledged write."""

from __future__ import annotations

import socket
import threading
import time

import jute
from abuse import MiB, RawClient, rss_bytes
from support import HOST

ONE_MB = 1_000_000  # a value that fits in the default jute.maxbuffer with its request


def digest_auth(user: str, password: str = "p") -> bytes:
    return jute.Writer().int(0).string("digest").buffer(f"{user}:{password}".encode()).bytes()


def test_huge_auth_ids_are_refused_and_the_server_keeps_serving(make_server, make_canary):
    """70 addauth packets with ~1 MB user names, then a create: Apache answers and keeps
    serving; zk-server once stopped with a 70 MB txn. Now the first oversized id is refused
    (AUTHFAILED, connection closed) and nothing is logged for it."""
    server = make_server()
    canary = make_canary(server.port)
    abuser = RawClient(server.port)
    frames = b"".join(
        abuser.request_frame(jute.Op.AUTH, digest_auth("u" * 1_000_000 + str(i)), xid=-4)
        for i in range(70))
    frames += abuser.request_frame(
        jute.Op.CREATE, jute.create_request("/after-auth", b"x", jute.OPEN_ACL_UNSAFE, 0))
    abuser.try_send(frames, time.monotonic() + 30)
    reply = abuser.read_reply(jute.Op.AUTH)
    assert reply.err == jute.Err.AUTH_FAILED
    assert abuser.closed_by_server(10)
    abuser.close()
    # Many small ids: bounded in number too.
    counted = RawClient(server.port)
    refused = None
    for i in range(100):
        counted.send(counted.request_frame(jute.Op.AUTH, digest_auth(f"user{i}"), xid=-4))
        reply = counted.read_reply(jute.Op.AUTH)
        if reply.err != 0:
            refused = i
            break
    assert refused is not None and refused >= 16, f"auth ids refused after {refused}"
    counted.close()
    canary.served(20)
    canary.check()
    assert server.running()


def test_a_slow_reader_costs_bounded_memory(make_server, make_canary):
    """A client pipelines 1,000 getData of a 1 MB node and reads nothing: Apache stops
    reading from it and stays small; zk-server once queued ~1 GB of replies."""
    server = make_server()
    setup = server.session()
    assert setup.create("/big", b"v" * ONE_MB).err == 0
    setup.close_socket()
    canary = make_canary(server.port)
    before = rss_bytes(server.process.pid)
    reader = RawClient(server.port)
    reader.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    frames = b"".join(reader.request_frame(jute.Op.GET_DATA, jute.path_watch_request("/big", False))
                      for _ in range(1000))
    sender = Sender(reader.sock, frames)
    canary.served(50)
    grown = rss_bytes(server.process.pid) - before
    assert grown < 100 * MiB, f"RSS grew by {grown / MiB:.0f} MiB for a client that reads nothing"
    # Nothing was dropped: the reader gets every reply once it reads.
    for _ in range(1000):
        reply = reader.read_reply(jute.Op.GET_DATA)
        assert reply.err == 0 and len(reply.body[0]) == ONE_MB
    sender.join(timeout=60)
    assert sender.error is None, sender.error
    reader.close()
    canary.check()


class Sender(threading.Thread):
    """Writes `frames` with blocking sends in the background: it stalls while the server
    does not read, as a pipelining client would."""

    def __init__(self, sock: socket.socket, frames: bytes) -> None:
        super().__init__(daemon=True)
        self.sock = sock
        self.frames = frames
        self.error = None
        self.start()

    def run(self) -> None:
        try:
            self.sock.sendall(self.frames)
        except OSError as error:
            self.error = error


def test_pipelined_large_writes_cost_bounded_memory(make_server, make_canary):
    """A client pipelines 1 MB setData faster than the disk takes them and reads nothing."""
    server = make_server()
    setup = server.session()
    assert setup.create("/sink", b"").err == 0
    setup.close_socket()
    canary = make_canary(server.port)
    before = rss_bytes(server.process.pid)
    writer = RawClient(server.port)
    frame = writer.request_frame(jute.Op.SET_DATA, jute.set_data_request("/sink", b"w" * ONE_MB, -1))
    Sender(writer.sock, frame * 400)
    canary.served(50)
    grown = rss_bytes(server.process.pid) - before
    assert grown < 100 * MiB, f"RSS grew by {grown / MiB:.0f} MiB under pipelined 1 MB writes"
    writer.close()
    canary.check()


def test_multiread_amplification_gets_an_error_not_a_giant_reply(make_server, make_canary):
    """A multiRead naming one 1 MB node 5,000 times asks for a 5 GB reply (Apache's JVM
    runs out of memory on it): the request gets BADARGUMENTS and memory stays flat."""
    server = make_server()
    client = server.session()
    assert client.create("/big", b"v" * ONE_MB).err == 0
    canary = make_canary(server.port)
    before = rss_bytes(server.process.pid)
    ops = [(jute.Op.GET_DATA, jute.path_watch_request("/big", False)) for _ in range(5000)]
    reply = client.multi_read(ops)
    assert reply.err == jute.Err.BAD_ARGUMENTS
    grown = rss_bytes(server.process.pid) - before
    assert grown < 100 * MiB, f"RSS grew by {grown / MiB:.0f} MiB for one multiRead"
    # A multiRead that fits is answered, and the connection is still good.
    reply = client.multi_read(ops[:1])
    assert reply.err == 0 and len(reply.body) == 1
    client.close_socket()
    canary.check()


def test_connection_limits_and_idle_sockets(make_server, make_canary):
    server = make_server({"maxClientCnxns": "10", "maxCnxns": "14"},
                         env={"SERVER_JVMFLAGS": "-Dzookeeper.nio.sessionlessCnxnTimeout=1000"})
    canary = make_canary(server.port)
    # Per address: the canary holds one of 127.0.0.1's ten places.
    held = [RawClient(server.port) for _ in range(9)]
    extra = socket.create_connection((HOST, server.port), timeout=10)
    assert closed_within(extra, 10), "an 11th connection from one address was kept"
    # IPv4-mapped IPv6 would be the same address; other loopback addresses are others.
    others = [RawClient(server.port, source=f"127.0.0.{i}") for i in (2, 3, 4)]
    # maxCnxns counts every address: 10 + 3 + the probe below = 14 -> the next is refused.
    probe = socket.create_connection((HOST, server.port), timeout=10, source_address=("127.0.0.5", 0))
    assert not closed_within(probe, 0.5)
    over = socket.create_connection((HOST, server.port), timeout=10, source_address=("127.0.0.6", 0))
    assert closed_within(over, 10), "a connection past maxCnxns was kept"
    # The probe never sent a handshake: closed after nio.sessionlessCnxnTimeout.
    assert closed_within(probe, 20), "a socket that never sent a ConnectRequest stayed open"
    for client in held + others:
        client.close()
    canary.check()


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closes `sock` within `seconds` (reading nothing else)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            if sock.recv(1) == b"":
                return True
        except socket.timeout:
            continue
        except OSError:
            return True
    return False


def test_watches_per_session_are_bounded(make_server, make_canary):
    server = make_server(env={"SERVER_JVMFLAGS": "-Dzookeeper.maxWatchesPerSession=100"})
    canary = make_canary(server.port)
    client = server.session()
    for i in range(100):
        assert client.exists(f"/w{i}", watch=True).err == jute.Err.NO_NODE
    assert client.exists("/w100", watch=True).err == jute.Err.BAD_ARGUMENTS
    # A watch that fired is given back.
    assert client.create("/w0", b"").err == 0
    client.wait_for_events(1)
    assert client.exists("/w100", watch=True).err == jute.Err.NO_NODE
    client.close_socket()
    canary.check()


def test_a_write_larger_than_the_log_takes_is_refused_at_admission(make_server, make_canary):
    """With jute.maxbuffer raised past the log's 64 MiB record limit, a 70 MB write is
    answered BADARGUMENTS; the server does not stop on a log error."""
    server = make_server(env={"SERVER_JVMFLAGS": f"-Djute.maxbuffer={100 * MiB}"})
    canary = make_canary(server.port)
    client = server.session()
    client.sock.settimeout(120)
    reply = client.create("/huge", b"h" * (70 * MiB))
    assert reply.err == jute.Err.BAD_ARGUMENTS
    assert client.create("/small", b"s").err == 0
    client.close_socket()
    canary.check()
    assert server.running()


def test_failing_large_writes_are_not_logged_with_their_payload(make_server, make_canary):
    """Writes refused for NOAUTH or a bad version leave only a small error record in the
    log, as Apache's error txns do, not their megabyte of payload."""
    server = make_server()
    owner = server.session()
    read_only = [jute.Acl(jute.Perm.READ, "world", "anyone")]
    assert owner.create("/locked", b"", acl=read_only).err == 0
    assert owner.create("/versioned", b"").err == 0
    canary = make_canary(server.port)
    log_dir = server.data_dir / "version-2"
    before = log_bytes(log_dir)
    for _ in range(20):
        assert owner.set_data("/locked", b"x" * ONE_MB).err == jute.Err.NO_AUTH
        assert owner.set_data("/versioned", b"y" * ONE_MB, version=42).err == jute.Err.BAD_VERSION
    grown = log_bytes(log_dir) - before
    assert grown < 1 * MiB, f"40 refused 1 MB writes grew the log by {grown / MiB:.1f} MiB"
    # The same writes that succeed are logged whole, and survive a restart.
    assert owner.set_data("/versioned", b"z" * ONE_MB, version=0).err == 0
    owner.close_socket()
    canary.stop()
    server.restart()
    check = server.session()
    data, stat = check.get_data("/versioned").body
    assert data == b"z" * ONE_MB and stat.version == 1
    check.close_socket()


def log_bytes(log_dir) -> int:
    """Bytes in the log's segment files (zk-server does not preallocate them)."""
    return sum(path.stat().st_size for path in log_dir.glob("log.*"))
