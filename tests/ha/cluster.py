"""A set of controllers contending for one nameservice on an ensemble, with the checks the
tests make after each step: the ledger's safety, exactly one active (in the ledger, in the
controllers' output and in the lock and the breadcrumb, decoded), and failover times."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError

import nodeinfo
from controllers import ClientProxy, Controller, Service, Spec
from ensemble import Ensemble, four_letter_word
from ledger import Ledger, replay

LOCK = "ActiveStandbyElectorLock"
BREADCRUMB = "ActiveBreadCrumb"
# Every wait for a state is bounded; this one covers JVM starts on a loaded 2-core box.
SETTLE_TIMEOUT = 60.0

# Failover times of the session, printed in pytest's summary (conftest.py).
REPORT: List[str] = []


class Cluster:
    def __init__(self, ensemble: Ensemble, workdir: Path, nameservice: str,
                 session_timeout_ms: int, root: str = "/hadoop-ha") -> None:
        self.ensemble = ensemble
        self.workdir = workdir
        self.nameservice = nameservice
        self.session_timeout_ms = session_timeout_ms
        self.parent = f"{root}/{nameservice}"
        self.ledger = Ledger(workdir / "ledger")
        self.controllers: Dict[str, Controller] = {}
        self.services: List[Service] = []
        self.proxies: List[ClientProxy] = []
        self.zk = KazooClient(hosts=ensemble.connect_string(), timeout=10.0)
        self.zk.start(timeout=30)

    @property
    def failover_bound(self) -> float:
        """The issue's requirement: a failover within the session timeout plus 2 s."""
        return self.session_timeout_ms / 1000 + 2.0

    def add(self, spec: Spec, zkfc_port: int = 0) -> Controller:
        service = Service(spec.name, self.ledger.path, self.workdir)
        self.services.append(service)
        proxy = ClientProxy([server.client_port for server in self.ensemble.servers.values()],
                            spec.name)
        self.proxies.append(proxy)
        controller = Controller(spec, service, proxy, nameservice=self.nameservice,
                                session_timeout_ms=self.session_timeout_ms,
                                workdir=self.workdir, zkfc_port=zkfc_port)
        self.controllers[spec.name] = controller
        return controller

    def format(self, command: List[str]) -> None:
        """`--format --force` with a controller's command; it must exit 0."""
        argv = [*command, "--zk", self.ensemble.connect_string(), "--nameservice",
                self.nameservice, "--format", "--force", "--session-timeout-ms",
                str(self.session_timeout_ms)]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL)
        assert done.returncode == 0, f"{argv} exited {done.returncode}:\n{done.stdout}{done.stderr}"

    def close(self) -> None:
        for controller in self.controllers.values():
            controller.kill()
        for service in self.services:
            service.close()
        for proxy in self.proxies:
            proxy.close()
        self.zk.stop()
        self.zk.close()

    # -- what ZooKeeper says
    def node(self, name: str) -> Tuple[Optional[nodeinfo.ActiveNodeInfo], bytes]:
        try:
            data, _ = self.zk.get(f"{self.parent}/{name}")
        except NoNodeError:
            return None, b""
        return nodeinfo.decode(data), data

    # -- the checks
    def safe_active(self) -> set:
        """The ledger's active services; raises SafetyViolation at once if two overlapped."""
        return replay(self.ledger.read())

    def settled(self, live: Iterable[str], timeout: float = SETTLE_TIMEOUT,
                since: Optional[Dict[str, float]] = None) -> str:
        """Waits until exactly one service is active and everything agrees on it: the ledger,
        its controller ("active"), every other controller of `live` ("standby"; for one in
        `since`, printed at that time or later), the lock and the breadcrumb (decoded; each
        re-encodes to the same bytes, as protobuf-java writes them). Returns its name."""
        live = list(live)
        since = since or {}
        deadline = time.monotonic() + timeout
        why = "nothing checked yet"
        while True:
            active = self.safe_active()  # a violation is raised, never waited out
            why = self._disagreement(active, live, since)
            if why is None:
                return next(iter(active))
            if time.monotonic() > deadline:
                raise AssertionError(f"no single active after {timeout:.0f} s: {why}\n"
                                     + self.describe())
            for name in live:
                controller = self.controllers[name]
                if not controller.running():
                    raise AssertionError(f"controller {name} exited "
                                         f"({controller.exited_with()}):\n{controller.tail()}")
            time.sleep(0.05)

    def _disagreement(self, active: set, live: List[str], since: Dict[str, float]) -> Optional[str]:
        if len(active) != 1:
            return f"the ledger's active services are {sorted(active)}"
        name = next(iter(active))
        if name not in live:
            return f"{name} is active in the ledger but its controller is not live"
        for other in live:
            states = self.controllers[other].elector_states(since.get(other, 0.0))
            state = states[-1] if states else None
            want = "active" if other == name else "standby"
            if state != want:
                return f"{other}'s last elector line is {state!r}, not {want!r}"
        try:
            lock, lock_bytes = self.node(LOCK)
            crumb, crumb_bytes = self.node(BREADCRUMB)
        except Exception as error:  # noqa: BLE001 - the ensemble may be electing
            return f"cannot read the lock ({error!r})"
        if lock is None or lock.namenode_id != name:
            return f"the lock holds {lock}, not {name}"
        if crumb is None or crumb.namenode_id != name:
            return f"the breadcrumb holds {crumb}, not {name}"
        for data in (lock_bytes, crumb_bytes):
            assert nodeinfo.encode(nodeinfo.decode(data)) == data, (
                f"{name}'s ActiveNodeInfo is not in protobuf-java's encoding: {data!r}")
        expected = nodeinfo.ActiveNodeInfo(self.nameservice, name, "127.0.0.1",
                                           self.controllers[name].service.control_port,
                                           self.controllers[name].zkfc_port)
        assert lock == crumb == expected, f"lock {lock}, breadcrumb {crumb}, want {expected}"
        return None

    def failover(self, step: str, old: str, t0: float, live: Iterable[str]) -> str:
        """After a fault at t0 to the active `old`: waits for the new single active, checks
        that it fenced `old` first (or `old` stood down) and that it took no longer than the
        bound; records the time. Returns the new active."""
        new = self.settled(live)
        assert new != old, f"{step}: {old} is still the active"
        became = self.ledger.first("became-active", t0, new)
        assert became is not None, f"{step}: no became-active of {new} since the fault"
        released = [e for e in self.ledger.since(t0)
                    if e.name == old and e.event in ("fenced", "became-standby")
                    and e.t <= became.t]
        assert released, f"{step}: {new} became active but {old} was never fenced:\n" \
                         + self.ledger.text()
        seconds = became.t - t0
        how = (f"fenced by {released[0].by}" if released[0].event == "fenced"
               else "stood down")
        self.report(f"{step}: {old} -> {new} in {seconds:.2f} s ({old} {how}; bound "
                    f"{self.failover_bound:.1f} s)")
        assert seconds <= self.failover_bound, (
            f"{step}: the failover took {seconds:.2f} s, more than the session timeout + 2 s "
            f"({self.failover_bound:.1f} s)\n{self.ledger.text()}")
        return new

    def report(self, line: str) -> None:
        line = f"[{self.nameservice}] {line}"
        REPORT.append(line)
        print(line, flush=True)

    def describe(self) -> str:
        parts = [f"--- ledger:\n{self.ledger.text()}"]
        # Each server's connections (session, last request, queued): whether a stuck
        # controller's request reached a server and was answered.
        for i, server in self.ensemble.servers.items():
            try:
                cons = four_letter_word(server.client_port, "cons").strip()
            except OSError as error:
                cons = f"({error})"
            parts.append(f"--- server {i} cons:\n{cons}")
        for name, controller in self.controllers.items():
            parts.append(f"--- {name} ({'running' if controller.running() else 'stopped'}, "
                         f"health {controller.health()}, elector {controller.elector_state()}):"
                         f"\n{controller.tail(12)}")
        return "\n".join(parts)
