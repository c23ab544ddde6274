"""A loopback TCP proxy that can stall traffic (to make a session time out)."""

from __future__ import annotations

import select
import socket
import threading
from typing import List, Tuple

from support import HOST


class StallingProxy:
    """Forwards 127.0.0.1:<port> to a server; `stall()` stops moving bytes in both
    directions (connections stay open), `resume()` starts again."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((HOST, 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.flowing = threading.Event()
        self.flowing.set()
        self.closed = threading.Event()
        self.pairs: List[Tuple[socket.socket, socket.socket]] = []
        self.lock = threading.Lock()
        self.accept_thread = threading.Thread(target=self._accept_loop, daemon=True)

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def __enter__(self) -> "StallingProxy":
        self.accept_thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def stall(self) -> None:
        self.flowing.clear()

    def resume(self) -> None:
        self.flowing.set()

    def close(self) -> None:
        self.closed.set()
        self.flowing.set()
        self.listener.close()
        with self.lock:
            for client, upstream in self.pairs:
                for sock in (client, upstream):
                    try:
                        sock.close()
                    except OSError:
                        pass
        self.accept_thread.join(timeout=5)

    def _accept_loop(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        # a stalled proxy does not even reach the server for new connections
        while not self.flowing.wait(0.1):
            if self.closed.is_set():
                client.close()
                return
        try:
            upstream = socket.create_connection(self.upstream, timeout=10)
        except OSError:
            client.close()
            return
        with self.lock:
            self.pairs.append((client, upstream))
        peer = {client: upstream, upstream: client}
        try:
            while not self.closed.is_set():
                if not self.flowing.wait(0.1):
                    continue
                readable, _, _ = select.select([client, upstream], [], [], 0.1)
                for sock in readable:
                    if not self.flowing.is_set():
                        break
                    data = sock.recv(65536)
                    if not data:
                        return
                    peer[sock].sendall(data)
        except OSError:
            return
        finally:
            client.close()
            upstream.close()
