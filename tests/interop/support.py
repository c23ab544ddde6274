"""Starting, stopping and probing ZooKeeper servers for the interop suite.

Two kinds of server are supported with the same zoo.cfg:
  * "zk"     - this repository's zk-server (ZK_SERVER_BIN, default target/debug/zk-server),
               run as `zk-server start-foreground <zoo.cfg>`;
  * "apache" - Apache ZooKeeper 3.8 from Debian's `zookeeper` package, run as
               `java -cp <jars> org.apache.zookeeper.server.quorum.QuorumPeerMain <zoo.cfg>`.
Only loopback addresses are used. Nothing here sleeps except `wait_until`.
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, Optional

import jute

# The helpers both Python suites share live in tests/common.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "common"))
from peers import (  # noqa: E402,F401 - re-exported to the suite's modules
    APACHE_CLASSPATH, APACHE_MAIN, HOST, REPO_ROOT, ZKCLI, free_port, wait_until, zk_server_bin,
)

APACHE_JVM_FLAGS = ["-XX:+UseSerialGC", "-Xms32m", "-Xmx512m", "-XX:TieredStopAtLevel=1"]
CLI_MT = "/usr/lib/zookeeper/bin/cli_mt"

READY_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


class ServerDied(RuntimeError):
    pass


_LIVE_PROCESSES: "set[subprocess.Popen]" = set()


@atexit.register
def _kill_leftover_servers() -> None:
    """Last resort if a run is interrupted before fixtures stop their servers."""
    for process in list(_LIVE_PROCESSES):
        if process.poll() is None:
            process.kill()


class ZkServer:
    """One standalone server process (zk-server or Apache) with its own dataDir."""

    def __init__(self, kind: str, workdir: Path, extra_config: Optional[Dict[str, str]] = None,
                 port: Optional[int] = None, env: Optional[Dict[str, str]] = None,
                 jvm_flags: Optional[list] = None) -> None:
        if kind not in ("zk", "apache"):
            raise ValueError(f"unknown server kind {kind!r}")
        self.kind = kind
        self.workdir = Path(workdir)
        self.data_dir = self.workdir / "data"
        self.config_path = self.workdir / "zoo.cfg"
        self.log_path = self.workdir / "server.log"
        self.port = port or free_port()
        self.extra_config = dict(extra_config or {})
        # Added to the server's environment, e.g. SERVER_JVMFLAGS="-Djute.maxbuffer=...".
        self.env = dict(env or {})
        # `-D` flags: on Apache's java command line, in SERVER_JVMFLAGS for zk-server.
        self.jvm_flags = list(jvm_flags or [])
        if self.jvm_flags and kind == "zk":
            self.env["SERVER_JVMFLAGS"] = " ".join(
                filter(None, [self.env.get("SERVER_JVMFLAGS", ""), *self.jvm_flags]))
        self.process: Optional[subprocess.Popen] = None
        self.starts = 0
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._write_config()

    # -- configuration
    def config(self) -> Dict[str, str]:
        config = {
            "tickTime": "2000",
            "dataDir": str(self.data_dir),
            "clientPort": str(self.port),
            "clientPortAddress": HOST,
            "4lw.commands.whitelist": "*",
            "admin.enableServer": "false",
            "extendedTypesEnabled": "true",
            "maxClientCnxns": "0",
        }
        config.update(self.extra_config)
        return config

    def _write_config(self) -> None:
        lines = [f"{key}={value}" for key, value in self.config().items()]
        self.config_path.write_text("\n".join(lines) + "\n")

    def command(self) -> list:
        if self.kind == "apache":
            return ["java", *APACHE_JVM_FLAGS, *self.jvm_flags, "-cp", APACHE_CLASSPATH, APACHE_MAIN,
                    str(self.config_path)]
        binary = zk_server_bin()
        if not binary.exists():
            raise FileNotFoundError(
                f"zk-server binary not found at {binary}: run `cargo build` or set ZK_SERVER_BIN")
        return [str(binary), "start-foreground", str(self.config_path)]

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def label(self) -> str:
        return f"{self.kind}@{self.port}"

    # -- lifecycle
    def start(self, wait: bool = True) -> "ZkServer":
        if self.running():
            raise RuntimeError(f"{self.label} already running")
        self.starts += 1
        log = open(self.log_path, "ab")
        log.write(f"\n===== start #{self.starts}: {' '.join(self.command())}\n".encode())
        log.flush()
        self.process = subprocess.Popen(
            self.command(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            cwd=self.workdir, start_new_session=True, env={**os.environ, **self.env})
        _LIVE_PROCESSES.add(self.process)
        log.close()
        if wait:
            self.wait_ready()
        return self

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def probe(self) -> bool:
        """True when a session can be opened and `/` read (a real read, not just `ruok`)."""
        if self.process is not None and self.process.poll() is not None:
            raise ServerDied(
                f"{self.label} exited with {self.process.returncode}\n{self.log_tail()}")
        session = jute.Session(HOST, self.port, io_timeout=5.0)
        try:
            response = session.connect(timeout_ms=10000)
            if response.timeout <= 0:
                return False
            reply = session.get_data("/")
            if reply.err != 0:
                return False
            session.close_session()
            return True
        finally:
            session.close_socket()

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        def ready() -> bool:
            try:
                return self.probe()
            except ServerDied:
                raise
            except (OSError, jute.ConnectionClosed, ValueError):
                return False
        try:
            wait_until(ready, timeout, f"{self.label} to serve a read", interval=0.1)
        except ServerDied:
            raise
        except TimeoutError as error:
            raise TimeoutError(f"{error}\n--- log tail ---\n{self.log_tail()}") from None

    def _signal_and_wait(self, sig: int, timeout: float) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=timeout)
        _LIVE_PROCESSES.discard(self.process)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited by the deadline."""
        self._signal_and_wait(signal.SIGTERM, STOP_TIMEOUT)
        self.process = None

    def kill(self) -> None:
        """SIGKILL (what the crash test uses)."""
        self._signal_and_wait(signal.SIGKILL, STOP_TIMEOUT)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    # -- clients
    def session(self, timeout_ms: int = 30000) -> jute.Session:
        return jute.connect_session(HOST, self.port, timeout_ms=timeout_ms)


class Worker(threading.Thread):
    """A daemon thread that keeps its target's result or exception for the test to check."""

    def __init__(self, target: Callable[..., Any], *args: Any, name: Optional[str] = None) -> None:
        super().__init__(name=name, daemon=True)
        self._target_fn = target
        self._args = args
        self.result: Any = None
        self.error: Optional[BaseException] = None
        self.done = threading.Event()

    def run(self) -> None:
        try:
            self.result = self._target_fn(*self._args)
        except BaseException as error:  # noqa: BLE001 - re-raised by join_checked
            self.error = error
        finally:
            self.done.set()

    def join_checked(self, timeout: float) -> Any:
        if not self.done.wait(timeout):
            raise TimeoutError(f"worker {self.name} still running after {timeout}s")
        if self.error is not None:
            raise self.error
        return self.result


def start_workers(target: Callable[..., Any], args_list: list) -> list:
    workers = [Worker(target, *args, name=f"worker-{index}")
               for index, args in enumerate(args_list)]
    for worker in workers:
        worker.start()
    return workers


def join_workers(workers: list, timeout: float) -> list:
    deadline = time.monotonic() + timeout
    return [worker.join_checked(max(0.0, deadline - time.monotonic())) for worker in workers]


def raw_http_answer(port: int, raw: bytes) -> bytes:
    """Sends `raw` to an HTTP endpoint on HOST:`port`, half-closes, and returns all it
    answers before closing (empty when it closes without a word)."""
    with socket.create_connection((HOST, port), timeout=10) as sock:
        try:
            sock.sendall(raw)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may close first, and that is an answer too
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except ConnectionResetError:
            pass
        return data


def zk_cli_bin() -> Path:
    """This repository's zk-cli: `$ZK_CLI_BIN` or target/debug/zk-cli (built by the test command)."""
    binary = Path(os.environ.get("ZK_CLI_BIN", REPO_ROOT / "target" / "debug" / "zk-cli"))
    if not binary.exists():
        raise RuntimeError(f"zk-cli not found at {binary}: run `cargo build -p zk-server`")
    return binary
