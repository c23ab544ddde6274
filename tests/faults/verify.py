"""Checks run after a fault run: linearizability (Go checker), agreement of
every server's final state, lost acknowledged writes, sequential names."""

from __future__ import annotations

import collections
import subprocess
from pathlib import Path
from typing import Any, Dict, List, Tuple

from ensemble import Ensemble
from workload import new_client

MUTATIONS = {"create", "set", "delete"}


def run_checker(checker: Path, history: Path, visualization: Path) -> Tuple[int, str]:
    done = subprocess.run([str(checker), "-visualize", str(visualization), str(history)],
                          capture_output=True, text=True, timeout=600)
    return done.returncode, (done.stdout + done.stderr).strip()


def state_of(record: Dict[str, Any]) -> Tuple[str, Any]:
    """A final read as a comparable state: ("data", value) or ("nonode", None)."""
    if record["result"] == "ok":
        return ("data", record["data"])
    return (record["result"], None)


def lost_acknowledged_writes(records: List[Dict[str, Any]],
                             final: Dict[str, Tuple[str, Any]]) -> List[str]:
    """Problems no linearization could explain, stated plainly (the checker
    proves the same and more, but says less about what went wrong)."""
    problems = []
    by_key: Dict[str, List[Dict[str, Any]]] = collections.defaultdict(list)
    for record in records:
        if record["op"] in MUTATIONS:
            by_key[record["key"]].append(record)
    for key, (kind, data) in final.items():
        ops = by_key.get(key, [])
        # Only writes that succeeded or might have can explain the final state.
        candidates = [r for r in ops if r["result"] in ("ok", "unknown")]
        if kind == "data" and not any(r["op"] in ("create", "set") and r["value"] == data
                                      for r in candidates):
            problems.append(f"{key} holds {data!r}, which no possibly-successful write wrote")
        acked = [r for r in candidates if r["result"] == "ok"]
        if not acked:
            continue
        last = max(acked, key=lambda r: r["return"])
        rivals = [r for r in candidates if r is not last
                  and (r["result"] == "unknown" or r["call"] > last["call"])]
        if rivals:
            continue  # another write may legitimately have come after it
        expected = ("nonode", None) if last["op"] == "delete" else ("data", last["value"])
        if (kind, data) != expected:
            problems.append(f"{key}: the last acknowledged write {last['op']} "
                            f"{last.get('value')!r} (client {last['client']}) is lost: "
                            f"final state {kind} {data!r}")
    return problems


def duplicates(paths: List[str]) -> List[str]:
    return sorted(path for path, count in collections.Counter(paths).items() if count > 1)


def children_everywhere(ensemble: Ensemble, path: str) -> Dict[int, List[str]]:
    """Children of `path` as seen by each server after a sync through it."""
    seen = {}
    for i in ensemble.ids():
        client = new_client(ensemble.connect_string(i))
        try:
            client.start(timeout=30)
            client.sync(path)
            seen[i] = sorted(client.get_children(path))
        finally:
            client.stop()
            client.close()
    return seen


def read_everywhere(ensemble: Ensemble, paths: List[str]) -> Dict[int, Dict[str, Any]]:
    """Data of each path (None when absent) on each server, after a sync through it."""
    from kazoo.exceptions import NoNodeError

    seen: Dict[int, Dict[str, Any]] = {}
    for i in ensemble.ids():
        client = new_client(ensemble.connect_string(i))
        try:
            client.start(timeout=30)
            seen[i] = {}
            for path in paths:
                client.sync(path)
                try:
                    seen[i][path] = client.get(path)[0]
                except NoNodeError:
                    seen[i][path] = None
        finally:
            client.stop()
            client.close()
    return seen
