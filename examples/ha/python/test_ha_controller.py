"""The Python HA controller against a real zk-server: Hadoop's exit codes, --format, and
failovers between two Python controllers guarding dummy services (a health file each; the
services' transitions and the fencing are recorded in one ledger), so that a new active
appears only after the old one was fenced. The same checks as examples/ha/rust/tests."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Iterator, List

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python" / "tests"))
from support import DEADLINE, PYTHON, Proc, Server, free_port, run, server, wait_until  # noqa: E402,F401,E501

CONTROLLER = [PYTHON, str(Path(__file__).with_name("ha_controller.py"))]


def controller(server: Server, nameservice: str) -> List[str]:
    return [*CONTROLLER, "--zk", server.address, "--nameservice", nameservice]


@pytest.fixture
def procs() -> Iterator[List[Proc]]:
    started: List[Proc] = []
    yield started
    for proc in started:
        if proc.process.poll() is None:
            proc.kill()


def guard(server: Server, nameservice: str, id: str, d: Path) -> Proc:
    """A controller for instance `id` whose service is healthy while `d/<id>.healthy`
    exists and which records transitions and fencing in `d/ledger`."""
    return Proc(id, [
        *controller(server, nameservice), "--id", id, "--host", "127.0.0.1", "--port", "8020",
        "--session-timeout-ms", "2000", "--check-interval-ms", "100",
        "--check-cmd", f"test -f {d}/{id}.healthy",
        "--on-active", f"echo '{id} active' >> {d}/ledger",
        "--on-standby", f"echo '{id} standby' >> {d}/ledger",
        # Hadoop's method list: the first fails, the second fences.
        "--fence", "shell(false)",
        "--fence", f'shell(echo "fence $target_namenodeid at $target_address by {id}" >> {d}/ledger)',
    ])


def ledger(d: Path) -> List[str]:
    path = d / "ledger"
    return path.read_text().splitlines() if path.exists() else []


def wait_ledger(d: Path, expected: List[str]) -> None:
    wait_until(lambda: len(ledger(d)) >= len(expected), DEADLINE, f"the ledger {expected}")
    assert ledger(d) == expected


def test_hadoop_exit_codes_and_format(server: Server) -> None:
    def code(*args: str, stdin: str = "") -> int:
        return run([*controller(server, "codes"), *args], stdin=stdin)[0]

    running = ["--id", "nn1", "--check-cmd", "true", "--fence", "shell(true)"]
    status, lines = run([*controller(server, "codes"), *running])
    assert status == 3, f"no parent znode: {lines}"
    assert lines == ["[nn1] fatal /hadoop-ha/codes does not exist: run --format"]
    status, lines = run([*controller(server, "codes"), "--format"])
    assert (status, lines) == (0, ["[zkfc] exit formatted /hadoop-ha/codes"])
    assert code("--format", "--non-interactive") == 2
    # Interactive: a "no" (here: end of input) refuses, a "Y" formats.
    assert code("--format") == 2
    assert code("--format", stdin="N\n") == 2
    assert code("--format", stdin="Y\n") == 0
    assert code("--format", "--force") == 0
    assert code("--id", "nn1", "--check-cmd", "true") == 4
    assert code("--id", "nn1") == 1, "no health check"
    assert code("--id", "nn1", "--check-cmd", "true", "--check-port", "1") == 1, "two checks"
    assert code("--bogus") == 1
    assert code("--format", "--session-timeout-ms", "soon") == 1
    unreachable = [*CONTROLLER, "--zk", f"127.0.0.1:{free_port()}", "--nameservice", "codes",
                   "--session-timeout-ms", "1000"]
    assert run(unreachable)[0] == 1, "usage is checked first"
    status, lines = run([*unreachable, "--format"])
    assert status == 6 and lines[-1].startswith("[zkfc] fatal cannot reach ZooKeeper"), lines


def test_failover_fences_the_old_active_first(
        server: Server, tmp_path: Path, procs: List[Proc]) -> None:
    d = tmp_path
    assert run([*controller(server, "ns1"), "--format"])[0] == 0
    (d / "nn1.healthy").touch()
    nn1 = guard(server, "ns1", "nn1", d)
    procs.append(nn1)
    nn1.wait_for("[nn1] active")
    (d / "nn2.healthy").touch()
    nn2 = guard(server, "ns1", "nn2", d)
    procs.append(nn2)
    nn2.wait_for("[nn2] standby")
    wait_ledger(d, ["nn1 active", "nn2 standby"])
    assert nn1.lines()[:3] == ["[nn1] health Initializing", "[nn1] health Healthy",
                               "[nn1] active"]

    # nn1's service turns unhealthy: nn1 quits needing fencing; nn2 fences it, then leads.
    (d / "nn1.healthy").unlink()
    nn1.wait_for("[nn1] health Unhealthy")
    nn2.wait_for("[nn2] active")
    assert nn2.has_line("[nn2] fence nn1 ok")
    wait_ledger(d, ["nn1 active", "nn2 standby", "fence nn1 at 127.0.0.1:8020 by nn2",
                    "nn2 active"])

    # nn1 is healthy again: standby. Then nn2's controller dies (SIGKILL): once its session
    # expires nn1 fences nn2 and leads.
    (d / "nn1.healthy").touch()
    nn1.wait_for("[nn1] standby")
    nn2.kill()
    nn1.wait_for("[nn1] active")
    wait_ledger(d, ["nn1 active", "nn2 standby", "fence nn1 at 127.0.0.1:8020 by nn2",
                    "nn2 active", "nn1 standby", "fence nn2 at 127.0.0.1:8020 by nn1",
                    "nn1 active"])

    # SIGTERM: a clean exit (0), leaving the breadcrumb for the next active to fence.
    nn1.signal(signal.SIGTERM)
    assert nn1.wait_exit() == 0, nn1.lines()
    assert nn1.lines()[-1] == "[nn1] exit on SIGTERM"
