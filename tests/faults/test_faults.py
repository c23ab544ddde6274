"""Fault-injection tests of a 3-server ensemble (see docs/reliability.md).

Run against Apache ZooKeeper 3.8 (default) or zk-server (--faults-kind=zk).
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from ensemble import Ensemble
from nemesis import Nemesis
from netproxy import Link
from verify import (children_everywhere, duplicates, lost_acknowledged_writes,
                    read_everywhere, run_checker, state_of)
from waits import wait_until
from workload import OP_TIMEOUT, History, Worker, classify, new_client

ROOT = "/faults"
KEYS = [f"{ROOT}/k{i}" for i in range(5)]
SEQUENTIAL_DIR = f"{ROOT}/seq"
FENCE_DIR = f"{ROOT}/fence"
EXPIRING_DIR = f"{ROOT}/expiring"
# The expiring session's timeout: short, so the server expires it mid-run.
EXPIRING_SESSION_TIMEOUT = 4.0
EXPIRY_DEADLINE = 90.0
WORKER_JOIN_TIMEOUT = 4 * OP_TIMEOUT
FINAL_READ_DEADLINE = 90.0


def started_ensemble(make_ensemble, **kwargs) -> Ensemble:
    ensemble = make_ensemble(**kwargs)
    ensemble.start_all()
    ensemble.wait_serving()
    ensemble.wait_leader()
    return ensemble


def make_workers(ensemble: Ensemble, history: History, stop: threading.Event,
                 seed: int, first_index: int = 0) -> List[Worker]:
    return [Worker(first_index + n, ensemble.connect_string(i), i, KEYS,
                   f"{FENCE_DIR}/w{first_index + n}", f"{SEQUENTIAL_DIR}/s-", history, stop,
                   seed * 1000 + first_index + n)
            for n, i in enumerate(ensemble.ids())]


def fenced_read(reader: Worker, key: str) -> Optional[dict]:
    record = reader.read(key)
    return record if record["result"] != "unknown" and record["fenced"] else None


def test_linearizable_under_faults(make_ensemble, checker_bin: Path, rounds: int, seed: int,
                                   tmp_path: Path) -> None:
    ensemble = started_ensemble(make_ensemble)
    setup = new_client(ensemble.connect_string())
    setup.start(timeout=30)
    for path in (SEQUENTIAL_DIR, FENCE_DIR, EXPIRING_DIR):
        setup.ensure_path(path)
    setup.stop()
    setup.close()

    history = History()
    stop = threading.Event()
    workers = make_workers(ensemble, history, stop, seed)
    # A session whose every route to the ensemble is cut: the servers must
    # expire it (whatever the nemesis does meanwhile) and drop its ephemerals.
    expiring_link = Link(ensemble.servers[1].client_port, "expiring-client")
    expiring = new_client(f"127.0.0.1:{expiring_link.port}", timeout=EXPIRING_SESSION_TIMEOUT)
    try:
        expiring.start(timeout=30)
        for n in range(3):
            expiring.create(f"{EXPIRING_DIR}/e{n}", b"x", ephemeral=True)
        expiring.create(f"{EXPIRING_DIR}/s-", b"x", ephemeral=True, sequence=True)

        for worker in workers:
            worker.start_client()
        for worker in workers:
            worker.start()
        assert history.wait_acked_writes(20, 60), "workload made no progress before faults"
        expiring_link.cut()

        nemesis = Nemesis(ensemble, history, random.Random(seed))
        for fault in nemesis.schedule(rounds):
            nemesis.run(fault)
            crashed = {w.name: repr(w.error) for w in workers if w.error}
            assert not crashed, f"workers failed: {crashed}"  # fail now, not rounds later
        assert history.wait_acked_writes(history.acked_writes + 20, 60), \
            "no writes got through after the faults were repaired"

        stop.set()
        for worker in workers:
            worker.join(WORKER_JOIN_TIMEOUT)
        stuck = [w.name for w in workers if w.is_alive()]
        assert not stuck, f"workers still running: {stuck}"
        errors = {w.name: repr(w.error) for w in workers if w.error}
        assert not errors, f"workers failed: {errors}"

        wait_until(lambda: all(not c for c in children_everywhere(ensemble, EXPIRING_DIR)
                               .values()),
                   EXPIRY_DEADLINE, "the expired session's ephemerals to vanish everywhere",
                   interval=0.5)

        # Final reads through every server go into the history, so the checker
        # also proves that the final state agrees with every acknowledged write.
        readers = make_workers(ensemble, history, stop, seed, first_index=100)
        final: Dict[int, Dict[str, tuple]] = {}
        try:
            for reader in readers:
                reader.start_client()
                final[reader.server] = {}
                for key in KEYS:
                    # Retried: a server may still be catching up with the leader.
                    record = wait_until(
                        lambda: fenced_read(reader, key), FINAL_READ_DEADLINE,
                        f"a fenced read of {key} via server {reader.server}", interval=0.5)
                    final[reader.server][key] = state_of(record)
        finally:
            for reader in readers:
                reader.close()
        reference = final[ensemble.ids()[0]]
        disagreeing = {i: states for i, states in final.items() if states != reference}
        assert not disagreeing, f"servers disagree on the final state: {final}"

        records = list(history.records)
        problems = lost_acknowledged_writes(records, reference)
        assert not problems, "\n".join(problems)

        sequential = [r["path"] for r in history.sequential]
        assert not duplicates(sequential), f"duplicate sequential names: {duplicates(sequential)}"

        fenced_path = tmp_path / "history.jsonl"
        all_reads_path = tmp_path / "history-all-reads.jsonl"
        (tmp_path / "nemesis.log").write_text("\n".join(nemesis.events) + "\n")
        history.write(fenced_path, fenced_reads_only=True)
        history.write(all_reads_path, fenced_reads_only=False)
        unfenced = sum(1 for r in records if r["op"] == "get" and r.get("fenced") is False)
        code, output = run_checker(checker_bin, all_reads_path, tmp_path / "all-reads.html")
        print(f"sync+read without fence ({unfenced} unfenced reads): {output}")
        code, output = run_checker(checker_bin, fenced_path, tmp_path / "linearizability.html")
        if nemesis.heal_to_serving:
            heals = sorted(nemesis.heal_to_serving)
            print(f"{len(heals)} partition heals: the old leader served again after "
                  f"{heals[len(heals) // 2]:.2f}s (median), {heals[-1]:.2f}s (max)")
        print(f"{len(records)} operations, {history.unknown_count()} unknown outcomes, "
              f"{len(sequential)} sequential creates, {history.acked_writes} acknowledged "
              f"writes; checker: {output}")
        assert code == 0, f"history {fenced_path} is not linearizable: {output}"

        # Closing the workers' sessions must remove their ephemerals everywhere.
        for worker in workers:
            worker.close()
        wait_until(lambda: all(not c for c in children_everywhere(ensemble, SEQUENTIAL_DIR)
                               .values()),
                   EXPIRY_DEADLINE, "closed sessions' sequential ephemerals to vanish everywhere",
                   interval=0.5)
    finally:
        stop.set()
        for worker in workers:
            try:
                worker.close()
            except Exception:  # noqa: BLE001 - already closed
                pass
        expiring.stop()
        expiring.close()
        expiring_link.close()


def write_all(client, paths: List[str], deadline: float) -> List[str]:
    """Creates each path (data = its own name), retrying ones whose outcome is
    unknown until the deadline; returns the acknowledged ones."""
    acked = []
    for path in paths:
        while True:
            try:
                client.create_async(path, path.encode()).get(timeout=OP_TIMEOUT)
                acked.append(path)
                break
            except Exception as error:  # noqa: BLE001
                if classify(error) == "nodeexists":
                    acked.append(path)  # an earlier attempt with unknown outcome took effect
                    break
                if time.monotonic() >= deadline:
                    return acked
    return acked


def assert_present_everywhere(ensemble: Ensemble, paths: List[str]) -> None:
    seen = read_everywhere(ensemble, paths)
    missing = {i: [p for p in paths if data.get(p) != p.encode()] for i, data in seen.items()}
    missing = {i: m for i, m in missing.items() if m}
    assert not missing, f"acknowledged writes missing or wrong: {missing}"


@pytest.mark.parametrize("victim_role", ["follower", "leader"])
def test_minority_kill_keeps_writes(make_ensemble, victim_role: str) -> None:
    ensemble = started_ensemble(make_ensemble)
    leader = ensemble.wait_leader()
    victim = leader if victim_role == "leader" else ensemble.followers()[0]
    survivors = [i for i in ensemble.ids() if i != victim]
    clients = {i: new_client(ensemble.connect_string(i)) for i in survivors}
    try:
        for client in clients.values():
            client.start(timeout=30)
        next(iter(clients.values())).ensure_path(ROOT)
        ensemble.kill(victim)
        acked = []
        for i, client in clients.items():
            paths = [f"{ROOT}/via{i}-{n}" for n in range(10)]
            done = write_all(client, paths, time.monotonic() + 60)
            assert done == paths, f"writes through server {i} stopped with server {victim} dead"
            acked += done
        ensemble.start(victim)
        ensemble.wait_serving()
        assert_present_everywhere(ensemble, acked)
    finally:
        for client in clients.values():
            client.stop()
            client.close()


def test_majority_kill_stops_writes(make_ensemble) -> None:
    ensemble = started_ensemble(make_ensemble)
    leader = ensemble.wait_leader()
    followers = [i for i in ensemble.ids() if i != leader]
    client = new_client(ensemble.connect_string(leader))
    try:
        client.start(timeout=30)
        client.ensure_path(ROOT)
        acked = write_all(client, [f"{ROOT}/before-{n}" for n in range(10)],
                          time.monotonic() + 30)
        assert len(acked) == 10

        ensemble.kill_all(followers)
        # The leader alone must not acknowledge anything: watch it for longer
        # than it takes to notice the lost quorum (syncLimit ticks).
        window = time.monotonic() + 15.0
        attempt = 0
        while time.monotonic() < window:
            path = f"{ROOT}/without-quorum-{attempt}"
            attempt += 1
            try:
                client.create_async(path, b"x").get(timeout=max(0.1, window - time.monotonic()))
            except Exception as error:  # noqa: BLE001 - failing or timing out is the point
                assert classify(error) is None, f"unexpected definite error {error!r}"
                continue
            pytest.fail(f"{path} was acknowledged with only server {leader} alive")
        assert ensemble.servers[leader].mode() is None, \
            "the lone leader still claims to serve after losing its quorum"
        client.stop()  # unsent writes stay in kazoo's queue: drop them with the session

        for i in followers:
            ensemble.start(i)
        ensemble.wait_serving()
        ensemble.wait_leader()
        assert_present_everywhere(ensemble, acked)
    finally:
        client.stop()
        client.close()


def test_kill_all_at_once_loses_no_acknowledged_write(make_ensemble) -> None:
    ensemble = started_ensemble(make_ensemble)
    setup = new_client(ensemble.connect_string())
    setup.start(timeout=30)
    setup.ensure_path(ROOT)
    setup.stop()
    setup.close()

    acked: List[str] = []
    lock = threading.Lock()
    enough = threading.Event()
    stop = threading.Event()

    def writer(i: int) -> None:
        client = new_client(ensemble.connect_string(i))
        client.start(timeout=30)
        n = 0
        try:
            while not stop.is_set():
                path = f"{ROOT}/w{i}-{n}"
                n += 1
                try:
                    client.create_async(path, path.encode()).get(timeout=OP_TIMEOUT)
                except Exception:  # noqa: BLE001 - unknown outcome: not counted
                    continue
                with lock:
                    acked.append(path)
                    if len(acked) >= 60:
                        enough.set()
        finally:
            client.stop()
            client.close()

    threads = [threading.Thread(target=writer, args=(i,), daemon=True) for i in ensemble.ids()]
    for thread in threads:
        thread.start()
    assert enough.wait(60), "writers made no progress"
    ensemble.kill_all()
    stop.set()
    for thread in threads:
        thread.join(WORKER_JOIN_TIMEOUT)
    assert not any(t.is_alive() for t in threads), "writers did not stop"

    ensemble.start_all()
    ensemble.wait_serving()
    ensemble.wait_leader()
    with lock:
        survivors = list(acked)
    assert_present_everywhere(ensemble, survivors)
    print(f"{len(survivors)} acknowledged writes survived SIGKILL of every server")

