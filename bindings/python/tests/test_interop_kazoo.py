"""Our Lock, Election and Semaphore against kazoo's on the same paths: contenders in
separate processes (two of ours, two of kazoo's) never hold at the same time (or more than
max_leases at once), and each side lists the other's contenders."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Callable, Dict, List

import pytest

import zk
from servers import Server

WORKER = Path(__file__).with_name("interop_worker.py")
ROUNDS = 15


def run_contenders(server: Server, recipe: str, path: str, log: Path,
                   max_leases: int = 1) -> List[str]:
    """Runs two zk and two kazoo workers together; returns the log's lines."""
    workers = []
    try:
        for lib in ("zk", "kazoo", "zk", "kazoo"):
            workers.append(subprocess.Popen(
                [sys.executable, str(WORKER), lib, recipe, server.address, path, str(log),
                 str(ROUNDS), str(max_leases)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True))
        for worker in workers:
            assert worker.stdout is not None
            line = worker.stdout.readline().strip()
            assert line == "ready", worker.stderr.read() if worker.stderr else line
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        for worker in workers:
            _, err = worker.communicate(timeout=240)
            assert worker.returncode == 0, err
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    return log.read_text().splitlines()


def check_exclusion(lines: List[str], max_holders: int) -> Dict[str, int]:
    holders: set = set()
    rounds: Dict[str, int] = {}
    most = 0
    for line in lines:
        kind, ident = line.split()
        if kind == "enter":
            assert ident not in holders
            holders.add(ident)
            most = max(most, len(holders))
            assert len(holders) <= max_holders, f"{sorted(holders)} hold at once"
            rounds[ident] = rounds.get(ident, 0) + 1
        else:
            holders.remove(ident)
    assert not holders
    assert sorted(rounds.values()) == [ROUNDS] * 4
    assert {ident.split("-")[0] for ident in rounds} == {"zk", "kazoo"}
    return rounds


@pytest.mark.parametrize("recipe", ["lock", "election"])
def test_never_two_holders(server: Server, path: str, tmp_path: Path, recipe: str) -> None:
    lines = run_contenders(server, recipe, path, tmp_path / "log")
    check_exclusion(lines, 1)
    with zk.Client(server.address) as client:
        assert client.get(path + "-counter")[0] == str(4 * ROUNDS).encode(), \
            "no increment was lost"


def test_semaphore_never_exceeds_its_leases(server: Server, path: str, tmp_path: Path) -> None:
    lines = run_contenders(server, "semaphore", path, tmp_path / "log", max_leases=2)
    check_exclusion(lines, 2)


def test_each_side_sees_the_others_contenders(
        client: zk.Client, kazoo: Callable[[], object], path: str) -> None:
    kz = kazoo()
    ours = client.Lock(path + "/lock", "ours")
    ours.acquire()
    theirs = kz.Lock(path + "/lock", "theirs")  # type: ignore[attr-defined]
    assert theirs.acquire(blocking=False) is False
    assert theirs.contenders() == ["ours"]
    ours.release()
    assert theirs.acquire(timeout=30)
    assert ours.contenders() == ["theirs"]
    assert ours.acquire(blocking=False) is False
    theirs.release()

    ksem = kz.Semaphore(path + "/sem", "kazoo", max_leases=2)  # type: ignore[attr-defined]
    ksem.acquire()
    sem = client.Semaphore(path + "/sem", "zk", max_leases=2)
    sem.acquire()
    assert sorted(sem.lease_holders()) == ["kazoo", "zk"]
    assert sorted(ksem.lease_holders()) == ["kazoo", "zk"]
    ksem.release()
    sem.release()

    election = client.Election(path + "/election", "zk-candidate")
    assert election.run(lambda: kz.Election(  # type: ignore[attr-defined]
        path + "/election").contenders()) == ["zk-candidate"]
