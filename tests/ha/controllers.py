"""The table of HA controllers (one per language, examples/ha/README.md's command line) and
how the tests run one: a controller process behind its own proxy to the ensemble, guarding
its own dummy service (service.py).

A language whose controller is not there (no source, not built, no runtime) raises
`Missing` with what is missing; the tests fail with that message, they never skip it.
`ZK_HA_CONTROLLER_<LANG>` (shell words) overrides a language's command.
"""

from __future__ import annotations

import atexit
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import service as dummy
from netproxy import Link
from peers import HOST, REPO_ROOT, free_port, wait_until

HERE = Path(__file__).resolve().parent
SERVICE = HERE / "service.py"
EXAMPLES = REPO_ROOT / "examples" / "ha"
LANGUAGES = ("rust", "c", "python", "node", "java")
# How long a controller may take to start and print its first line (a JVM on a loaded box).
START_TIMEOUT = 60.0


class Missing(Exception):
    """A language's controller cannot be run: the message says what is missing."""


# ---------------------------------------------------------------- the table

def _rust() -> List[str]:
    binary = Path(os.environ.get("ZK_HA_RUST_CONTROLLER",
                                 REPO_ROOT / "target" / "debug" / "zk-ha-controller"))
    if not binary.is_file():
        raise Missing(f"no {binary}: cargo build -p zk-ha-controller (tests/ha/run does)")
    return [str(binary)]


def _c() -> List[str]:
    binary = os.environ.get("ZK_HA_C_CONTROLLER")
    if not binary or not Path(binary).is_file():
        raise Missing("the C controller is not built: tests/ha/run builds it "
                      "(make -C ffi/tests/c OUT=DIR DIR/ha_controller) and sets ZK_HA_C_CONTROLLER")
    return [binary]


def shown(path: Path) -> str:
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def _first(directory: Path, names: List[str]) -> Path:
    for name in names:
        if (directory / name).is_file():
            return directory / name
    raise Missing(f"no controller in {shown(directory)}/ "
                  f"(looked for {', '.join(names)})")


def _python() -> List[str]:
    script = _first(EXAMPLES / "python", ["ha_controller.py"])
    candidates = [os.environ.get("ZK_HA_PYTHON", ""),
                  str(REPO_ROOT / "bindings" / "python" / ".venv" / "bin" / "python"),
                  sys.executable]
    for python in filter(None, candidates):
        if not Path(python).is_file():
            continue
        probe = subprocess.run([python, "-c", "import zk; zk.ActiveStandbyElector"],
                               capture_output=True, timeout=60)
        if probe.returncode == 0:
            return [python, str(script)]
    raise Missing(f"no Python whose zk package has ActiveStandbyElector for {shown(script)} "
                  f"(tried {', '.join(filter(None, candidates))}; "
                  "bindings/python/scripts/test builds bindings/python/.venv)")


def _node() -> List[str]:
    directory = EXAMPLES / "node"
    script = _first(directory, ["ha_controller.js"])
    node = shutil.which("node")
    if node is None:
        raise Missing("node is not installed")
    package = REPO_ROOT / "bindings" / "node"
    command = [node, str(script)]
    if not (directory / "node_modules" / "zk-client").exists():
        # The example depends on "zk-client": file:../../../bindings/node; without an
        # `npm install` there, NODE_PATH finds the package through a link.
        modules = Path(tempfile.mkdtemp(prefix="zk-ha-node-"))
        atexit.register(shutil.rmtree, modules, ignore_errors=True)
        (modules / "zk-client").symlink_to(package)
        command = ["env", f"NODE_PATH={modules}", *command]
    probe = subprocess.run([*command[:-1], "-e",
                            "process.exit(typeof require('zk-client').ActiveStandbyElector"
                            " === 'function' ? 0 : 1)"], capture_output=True, timeout=60)
    if probe.returncode != 0:
        raise Missing(f"bindings/node (zk-client) has no ActiveStandbyElector or is not built "
                      f"(bindings/node/scripts/test builds it): {probe.stderr.decode()[-300:]}")
    return command


def _java() -> List[str]:
    source = _first(EXAMPLES / "java", ["Controller.java"])
    jars = sorted((REPO_ROOT / "bindings" / "java" / "target").glob("zk-java-*.jar"))
    jars = [jar for jar in jars if not jar.name.endswith(("-sources.jar", "-javadoc.jar"))]
    if not jars:
        raise Missing("no bindings/java/target/zk-java-*.jar (bindings/java/scripts/test builds it)")
    with zipfile.ZipFile(jars[-1]) as jar:
        if "io/zk/recipes/ActiveStandbyElector.class" not in jar.namelist():
            raise Missing(f"{shown(jars[-1])} has no io.zk.recipes.ActiveStandbyElector: "
                          "rebuild it (bindings/java/scripts/test)")
    # JDK 11+ runs a one-file program from its source.
    return ["java", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", str(jars[-1]),
            str(source)]


def hadoop() -> List[str]:
    """The Hadoop harness (hadoop/, built by hadoop/build): Hadoop's ActiveStandbyElector."""
    directory = HERE / "hadoop" / "target"
    arguments = directory / "java.args"  # -cp CLASSES:JARS
    if not (directory / "classes" / "zkha" / "HadoopController.class").is_file() \
            or not arguments.is_file():
        raise Missing("the Hadoop harness is not built: tests/ha/hadoop/build (tests/ha/run does)")
    return ["java", "-XX:+UseSerialGC", "-Xmx256m", "-XX:TieredStopAtLevel=1",
            f"@{arguments}", "zkha.HadoopController"]


TABLE: Dict[str, Callable[[], List[str]]] = {
    "rust": _rust, "c": _c, "python": _python, "node": _node, "java": _java,
}


def command_of(language: str) -> List[str]:
    override = os.environ.get(f"ZK_HA_CONTROLLER_{language.upper()}")
    if override:
        return shlex.split(override)
    return TABLE[language]()


def resolve(languages: List[str]) -> Dict[str, List[str]]:
    """Every language's command; raises Missing naming each language that is not there."""
    commands, missing = {}, []
    for language in languages:
        try:
            commands[language] = command_of(language)
        except Missing as why:
            missing.append(f"  {language}: {why}")
    if missing:
        raise Missing("HA controllers not available:\n" + "\n".join(missing))
    return commands


# ---------------------------------------------------------------- processes

class ClientProxy:
    """One controller's way to the ensemble: a loopback link per server that the test can cut
    (connections dropped, new ones refused) and heal."""

    def __init__(self, server_ports: List[int], name: str) -> None:
        self.links = [ClientLink(port, f"{name}->{port}") for port in server_ports]

    @property
    def hosts(self) -> str:
        return ",".join(f"{HOST}:{link.port}" for link in self.links)

    def cut(self) -> None:
        for link in self.links:
            link.cut()

    def heal(self) -> None:
        for link in self.links:
            link.heal()

    def close(self) -> None:
        for link in self.links:
            link.close()

    def connected_to(self) -> List[int]:
        """The server ports it has a connection open to, through its links."""
        return [link.upstream[1] for link in self.links if link.connected()]


class ClientLink(Link):
    """A client's link: a server that is down is refused at once (netproxy's peer links
    retry it for a while, which a client would see as a connection that hangs)."""

    def _dial_upstream(self):
        if self._cut or self._closed:
            return None
        try:
            upstream = socket.create_connection(self.upstream, timeout=2)
            upstream.settimeout(None)
            return upstream
        except OSError:
            return None

    def connected(self) -> bool:
        with self._lock:
            return bool(self._sockets)


class Service:
    """service.py serving for one controller."""

    def __init__(self, name: str, ledger: Path, workdir: Path) -> None:
        self.name = name
        self.health_port = free_port()
        self.control_port = free_port()
        self.log = open(workdir / f"{name}.service.log", "ab")
        self.process = subprocess.Popen(
            [sys.executable, str(SERVICE), "serve", name, str(ledger), str(self.health_port),
             str(self.control_port)], stdout=self.log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)
        wait_until(self._up, 30, f"service {name} to listen")

    def _up(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"service {self.name} exited {self.process.returncode}")
        try:
            return bool(self.ctl("state"))
        except OSError:
            return False

    def ctl(self, *words: str) -> str:
        return dummy.ctl(self.control_port, list(words))

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.log.close()


def ctl_command(*words: str) -> str:
    """A shell command that sends `words` to a service (for --on-active, --fence...)."""
    return " ".join([shlex.quote(sys.executable), "-S", shlex.quote(str(SERVICE)), "ctl", *words])


@dataclass
class Spec:
    name: str  # the instance id (--id), also the service's name in the ledger
    language: str
    command: List[str]


class Controller:
    """A controller process; its stdout lines are collected (and kept in NAME.out)."""

    ELECTOR_STATES = ("active", "standby", "neutral", "active failed")

    def __init__(self, spec: Spec, service: Service, proxy: ClientProxy, *, nameservice: str,
                 session_timeout_ms: int, workdir: Path, check_interval_ms: int = 200,
                 zkfc_port: int = 0) -> None:
        self.spec = spec
        self.name = spec.name
        self.service = service
        self.proxy = proxy
        self.nameservice = nameservice
        self.session_timeout_ms = session_timeout_ms
        self.check_interval_ms = check_interval_ms
        self.zkfc_port = zkfc_port
        self.out_path = workdir / f"{self.name}.out"
        self.process: Optional[subprocess.Popen] = None
        self.lines: List[Tuple[float, str]] = []  # (CLOCK_MONOTONIC, line)
        self.starts = 0
        self._lock = threading.Lock()
        self._reader: Optional[threading.Thread] = None

    def argv(self) -> List[str]:
        name = self.name
        return [*self.spec.command,
                "--zk", self.proxy.hosts, "--nameservice", self.nameservice, "--id", name,
                "--host", HOST, "--port", str(self.service.control_port),
                "--zkfc-port", str(self.zkfc_port),
                "--session-timeout-ms", str(self.session_timeout_ms),
                "--check-port", f"{HOST}:{self.service.health_port}",
                "--check-interval-ms", str(self.check_interval_ms),
                "--check-timeout-ms", "5000",
                "--on-active", ctl_command(str(self.service.control_port), "active"),
                "--on-standby", ctl_command(str(self.service.control_port), "standby"),
                # Hadoop's list of methods: the first fails, the next one fences.
                "--fence", "shell(false)",
                "--fence", "shell(" + ctl_command(
                    "$target_address", "fence", name, "$target_namenodeid",
                    "$target_nameserviceid/$target_namenodeid@$target_address") + ")"]

    def start(self) -> None:
        assert not self.running(), f"{self.name} is already running"
        self.starts += 1
        with self._lock:
            self.lines = []
        out = open(self.out_path, "a")
        out.write(f"===== start #{self.starts}: {shlex.join(self.argv())}\n")
        out.flush()
        self.process = subprocess.Popen(
            self.argv(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            stdin=subprocess.DEVNULL, start_new_session=True, cwd=REPO_ROOT)
        self._reader = threading.Thread(target=self._read, args=(self.process, out), daemon=True)
        self._reader.start()

    def _read(self, process: subprocess.Popen, out) -> None:
        for line in process.stdout:
            line = line.rstrip("\n")
            out.write(f"{time.monotonic():.3f} {line}\n")
            out.flush()
            with self._lock:
                self.lines.append((time.monotonic(), line))
        out.close()

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, sig: int) -> None:
        if self.running():
            self.process.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL, and wait until it is gone."""
        if self.process is None:
            return
        self.signal(signal.SIGKILL)
        self.process.wait(timeout=15)
        self._reader.join(timeout=15)

    def stop(self, timeout: float = 30.0) -> Optional[int]:
        """SIGTERM, then its exit code (SIGKILL if it does not exit in time)."""
        if self.process is None:
            return None
        self.signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None
        self._reader.join(timeout=15)  # its last lines
        return code

    def snapshot(self, since: float = 0.0) -> List[str]:
        """Its lines since it last started (those printed at `since` or later)."""
        with self._lock:
            return [line for t, line in self.lines if t >= since]

    def has(self, suffix: str) -> bool:
        line = f"[{self.name}] {suffix}"
        return line in self.snapshot()

    def count(self, suffix: str) -> int:
        line = f"[{self.name}] {suffix}"
        return sum(1 for seen in self.snapshot() if seen == line)

    def elector_states(self, since: float = 0.0) -> List[str]:
        """The elector states it printed (active, standby, neutral...), in order."""
        prefix = f"[{self.name}] "
        words = [line[len(prefix):] for line in self.snapshot(since) if line.startswith(prefix)]
        return [word for word in words if word in self.ELECTOR_STATES]

    def elector_state(self) -> Optional[str]:
        """The last elector state it printed, if any."""
        states = self.elector_states()
        return states[-1] if states else None

    def health(self) -> Optional[str]:
        prefix = f"[{self.name}] health "
        for line in reversed(self.snapshot()):
            if line.startswith(prefix):
                return line[len(prefix):]
        return None

    def wait_line(self, suffix: str, timeout: float = START_TIMEOUT, count: int = 1) -> None:
        def seen() -> bool:
            if self.count(suffix) >= count:
                return True
            if not self.running():
                raise RuntimeError(f"{self.name} exited ({self.process.returncode}):\n"
                                   + self.tail())
            return False
        wait_until(seen, timeout, f"[{self.name}] {suffix} (#{count})", interval=0.05)

    def tail(self, lines: int = 20) -> str:
        return "\n".join(self.snapshot()[-lines:])

    def exited_with(self) -> Optional[int]:
        return None if self.process is None else self.process.poll()
