"""Servers for the suite: zk-server (target/debug/zk-server, or ZK_SERVER_BIN) or Apache
ZooKeeper 3.8 (Debian's `zookeeper` package), each with its own data directory, and a TCP
proxy that can cut a client off from its server.

Nothing here sleeps for a fixed time: readiness and shutdown are polled with deadlines.
"""

from __future__ import annotations

import atexit
import select
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional, Set

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests" / "common"))
from peers import (  # noqa: E402 - the helpers every Python suite shares
    APACHE_CLASSPATH,
    APACHE_MAIN,
    HOST,
    free_port,
    wait_until,
    zk_server_bin,
)

import zk  # noqa: E402

READY_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
APACHE_JVM_FLAGS = ["-XX:+UseSerialGC", "-Xms32m", "-Xmx256m", "-XX:TieredStopAtLevel=1"]

_LIVE: Set[subprocess.Popen] = set()


@atexit.register
def _kill_leftovers() -> None:
    for process in list(_LIVE):
        if process.poll() is None:
            process.kill()


class Server:
    """One standalone server process with its own dataDir; restartable on its port."""

    def __init__(self, kind: str, workdir: Path, config: Optional[Dict[str, str]] = None,
                 jvm_flags: Optional[List[str]] = None) -> None:
        if kind not in ("zk", "apache"):
            raise ValueError(f"unknown server kind {kind!r}")
        self.kind = kind
        self.jvm_flags = APACHE_JVM_FLAGS if jvm_flags is None else jvm_flags
        self.workdir = workdir
        # The process's environment (None: this one's), e.g. SERVER_JVMFLAGS for zk-server.
        self.env: Optional[Dict[str, str]] = None
        self.port = free_port()
        self.process: Optional[subprocess.Popen] = None
        data = workdir / "data"
        data.mkdir(parents=True, exist_ok=True)
        settings = {
            # tickTime 500: sessions may be as short as 1 s, so expiry tests stay short.
            "tickTime": "500",
            "dataDir": str(data),
            "clientPort": str(self.port),
            "clientPortAddress": HOST,
            "maxClientCnxns": "0",
            "admin.enableServer": "false",
            "4lw.commands.whitelist": "*",
            "extendedTypesEnabled": "true",
        }
        settings.update(config or {})
        self.config = workdir / "zoo.cfg"
        self.config.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
        self.log = workdir / "server.log"

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def command(self) -> List[str]:
        if self.kind == "apache":
            return ["java", *self.jvm_flags, "-cp", APACHE_CLASSPATH, APACHE_MAIN,
                    str(self.config)]
        binary = zk_server_bin()
        if not binary.exists():
            raise FileNotFoundError(
                f"zk-server not found at {binary}: build it first (cargo build -p zk-server)"
                " or set ZK_SERVER_BIN")
        return [str(binary), "start-foreground", str(self.config)]

    def start(self) -> "Server":
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=self.workdir, start_new_session=True, env=self.env)
        _LIVE.add(self.process)
        try:
            wait_until(self._serves, READY_TIMEOUT, f"{self.kind} server on {self.address}",
                       interval=0.1)
        except BaseException:
            self.stop()
            raise
        return self

    def probe_options(self) -> Dict[str, Any]:
        """What the readiness probe's client connects with (a subclass may log in)."""
        return {}

    def _serves(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"{self.kind} server exited:\n{self.log_tail()}")
        client = zk.Client(self.address, timeout=5.0, **self.probe_options())
        try:
            client.start(timeout=2.0)
            client.get("/")
            return True
        except zk.ZkError:
            return False
        finally:
            client.close()

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT)
        _LIVE.discard(process)

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


class Proxy:
    """Forwards a local port to a server; `cut()` drops every connection and refuses new
    ones until `restore()`, which is how a test takes a client away from its server while
    other clients still reach it."""

    def __init__(self, target_port: int) -> None:
        self.target = (HOST, target_port)
        self.listener = socket.create_server((HOST, 0))
        self.port = self.listener.getsockname()[1]
        self.open = True
        self.stalled = threading.Event()
        self.pairs: List[socket.socket] = []
        self.lock = threading.Lock()
        self.closed = False
        self.thread = threading.Thread(target=self._accept, name="proxy", daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                if not self.open or self.closed:
                    client.close()
                    continue
                try:
                    upstream = socket.create_connection(self.target, timeout=5)
                except OSError:
                    client.close()
                    continue
                self.pairs += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                ready, _, _ = select.select([a, b], [], [], 0.05)
                if self.closed:
                    return
                if self.stalled.is_set():
                    continue
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (b if sock is a else a).sendall(data)
        except (OSError, ValueError):  # ValueError: cut() closed a socket under select
            return
        finally:
            for sock in (a, b):
                try:
                    sock.close()
                except OSError:
                    pass

    def cut(self) -> None:
        with self.lock:
            self.open = False
            pairs, self.pairs = self.pairs, []
        for sock in pairs:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def restore(self) -> None:
        with self.lock:
            self.open = True
        self.stalled.clear()

    def stall(self) -> None:
        """Keeps the connections open but passes nothing either way (a hung server)."""
        self.stalled.set()

    def close(self) -> None:
        self.closed = True
        self.cut()
        self.listener.close()
