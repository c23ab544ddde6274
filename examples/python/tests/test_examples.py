"""Every Python example run against a real zk-server, checked on its exit status, its
verdict and the lines that show the property (the same checks as examples/rust/tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, List

from support import PYTHON, Server, run, server  # noqa: F401 - `server` is a fixture

EXAMPLES = Path(__file__).resolve().parents[1]


def example(server: Server, name: str, program: str = "") -> List[str]:
    """Runs an example; its output, after checking it succeeded with its verdict."""
    status, lines = run([PYTHON, str(EXAMPLES / f"{program or name}.py"), server.address])
    output = "\n".join(lines)
    assert status == 0, f"{name} failed ({status}):\n{output}"
    assert any(line.startswith(f"{name}: ok") for line in lines), f"no verdict:\n{output}"
    return lines


def positions(lines: List[str], pred: Callable[[str], bool]) -> List[int]:
    return [i for i, line in enumerate(lines) if pred(line)]


def test_naming(server: Server) -> None:
    lines = example(server, "naming")
    names = [line.split(" got ")[1] for line in lines if " got " in line]
    assert len(names) == 20 and len(set(names)) == 20, "names are unique"
    assert all(name.startswith("/examples/naming/job-") for name in names)


def test_config(server: Server) -> None:
    lines = example(server, "config")
    for reader in range(3):
        reloads = [line for line in lines if line.startswith(f"reader {reader} reloaded")]
        assert len(reloads) == 5, lines
        assert "version=5" in reloads[4]


def test_group(server: Server) -> None:
    lines = example(server, "group")
    for member in ("member-a", "member-b", "member-c"):
        assert f"{member} joined" in lines, lines
    assert "member-c left" in lines
    assert any(line.startswith("member-b was killed: gone after") for line in lines)


def test_election(server: Server) -> None:
    lines = example(server, "election")
    for round in range(4):
        assert any(line.startswith(f"round {round}: contender") for line in lines), lines
    # Every contender but the first watched only its predecessor, and each leader's
    # departure woke exactly the one contender watching it.
    watches = [line for line in lines if " watches n_" in line]
    woke = [line for line in lines if " woke up: " in line]
    assert (len(watches), len(woke)) == (3, 3), lines
    for line in woke:
        who, rest = line.split(" woke up: ")
        gone = rest[: -len(" is gone")]
        assert any(w.startswith(who) and w.endswith(f" watches {gone}") for w in watches), lines


def test_lock(server: Server) -> None:
    lines = example(server, "lock")
    got = [line for line in lines if " got the lock" in line]
    assert [line.split(" got")[0] for line in got] == [f"worker {i}" for i in range(4)], got
    assert "counter 20, expected 20" in lines


def test_barrier(server: Server) -> None:
    lines = example(server, "barrier")
    arrived = positions(lines, lambda l: l.endswith(" arrives"))
    working = positions(lines, lambda l: l.endswith(" starts working"))
    finished = positions(lines, lambda l: l.endswith(" finished, leaving"))
    left = positions(lines, lambda l: l.endswith(" left"))
    assert (len(arrived), len(working), len(finished), len(left)) == (4, 4, 4, 4), lines
    assert max(arrived) < min(working), lines
    assert max(finished) < min(left), lines


def test_queue_between_processes(server: Server) -> None:
    lines = example(server, "queue", program="queue_fifo")
    taken = [line.split(" took ")[1] for line in lines if " took p" in line]
    assert sorted(taken) == sorted(f"p{p}-{i}" for p in range(2) for i in range(10)), lines
