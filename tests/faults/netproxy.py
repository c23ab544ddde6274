"""Loopback TCP links whose traffic the test can cut, to partition servers.

Every directed peer connection of the ensemble (server i dialing server j's
quorum or election port) goes through its own `Link`. Cutting the links
between two groups of servers is a network partition that ZooKeeper sees as
closed connections and refused reconnects: both sides notice immediately,
rather than after a socket timeout, which keeps the suite fast and its timing
independent of kernel TCP retransmission settings.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Callable, List, Optional, Set, Tuple

from waits import HOST

# How long a link keeps retrying a refused upstream before dropping the peer.
UPSTREAM_PATIENCE = 3.0
HANDSHAKE_TIMEOUT = 5.0

# Reads a connection's opening bytes from the dialing side and returns what
# to send upstream instead (see ensemble.apache_election_handshake).
Handshake = Callable[[socket.socket], bytes]


def recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("peer closed during the handshake")
        data += chunk
    return data


class Link:
    """Forwards HOST:<port> to an upstream address while connected; cut() drops
    every open connection and refuses new ones until heal()."""

    def __init__(self, upstream_port: int, name: str,
                 handshake: Optional[Handshake] = None) -> None:
        self.upstream = (HOST, upstream_port)
        self.name = name
        self.handshake = handshake
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((HOST, 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self._lock = threading.Lock()
        self._cut = False
        self._closed = False
        self._sockets: Set[socket.socket] = set()
        self._accept_thread = threading.Thread(
            target=self._accept_loop, name=f"link-{name}", daemon=True)
        self._accept_thread.start()

    @property
    def is_cut(self) -> bool:
        return self._cut

    def cut(self) -> None:
        with self._lock:
            self._cut = True
            doomed = list(self._sockets)
            self._sockets.clear()
        for sock in doomed:
            _close(sock)

    def heal(self) -> None:
        with self._lock:
            self._cut = False

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self.cut()
        _close(self.listener)
        self._accept_thread.join(timeout=5)

    def _accept_loop(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                refuse = self._cut or self._closed
            if refuse:
                _close(client)
                continue
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        preamble = b""
        if self.handshake is not None:
            try:
                client.settimeout(HANDSHAKE_TIMEOUT)
                preamble = self.handshake(client)
                client.settimeout(None)
            except (OSError, ValueError):
                _close(client)
                return
        upstream = self._dial_upstream()
        if upstream is None:
            _close(client)
            return
        try:
            upstream.sendall(preamble)
        except OSError:
            _close(client)
            _close(upstream)
            return
        with self._lock:
            if self._cut or self._closed:
                _close(client)
                _close(upstream)
                return
            self._sockets.update((client, upstream))
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _dial_upstream(self) -> "socket.socket | None":
        """Retries a refused upstream for a while instead of failing at once.

        The proxy has already accepted the peer's connection, so failing fast
        would look like "connected, then dropped": a ZooKeeper follower that
        dials a just-elected leader before it listens would abandon the leader
        and start a new election round, an artifact the real network (which
        refuses the SYN, and the follower retries) does not have. Waiting looks
        like a slow network instead.
        """
        deadline = time.monotonic() + UPSTREAM_PATIENCE
        while True:
            if self._cut or self._closed:
                return None
            try:
                upstream = socket.create_connection(self.upstream, timeout=2)
                upstream.settimeout(None)
                return upstream
            except OSError:
                if time.monotonic() >= deadline:
                    return None
            time.sleep(0.05)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                chunk = source.recv(65536)
                if not chunk:
                    break
                sink.sendall(chunk)
        except OSError:
            pass
        # A half-closed peer link is useless to ZooKeeper: close both ends so
        # the peer on the other side sees the loss too.
        with self._lock:
            self._sockets.discard(source)
            self._sockets.discard(sink)
        _close(source)
        _close(sink)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


class PeerNetwork:
    """The links of an ensemble: links[(i, j)] is server i's route to server j,
    as a (quorum link, election link) pair."""

    def __init__(self) -> None:
        self.links: dict = {}

    def add(self, src: int, dst: int, quorum_port: int, election_port: int) -> Tuple[Link, Link]:
        pair = (Link(quorum_port, f"{src}->{dst}q"), Link(election_port, f"{src}->{dst}e"))
        self.links[(src, dst)] = pair
        return pair

    def route(self, src: int, dst: int) -> Tuple[int, int]:
        quorum, election = self.links[(src, dst)]
        return quorum.port, election.port

    def partition(self, side_a: List[int], side_b: List[int]) -> None:
        """Cuts every link between the two sides, in both directions."""
        for a in side_a:
            for b in side_b:
                for key in ((a, b), (b, a)):
                    for link in self.links.get(key, ()):
                        link.cut()

    def heal(self) -> None:
        for pair in self.links.values():
            for link in pair:
                link.heal()

    def cut_pairs(self) -> List[Tuple[int, int]]:
        return sorted(key for key, pair in self.links.items() if any(l.is_cut for l in pair))

    def close(self) -> None:
        for pair in self.links.values():
            for link in pair:
                link.close()
