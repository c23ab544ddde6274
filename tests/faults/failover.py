#!/usr/bin/env python3
"""Measures leader failover of a 3-server ensemble under a steady write load.

For each repetition: SIGKILL the leader (or SIGSTOP it with --fault stop,
which peers can only detect by timeout, like a hung or unplugged machine),
then time (a) until another server
reports `Mode: leader` through `srvr` and (b) until the first acknowledged
write *issued after the kill*; then restart the old leader and wait until all
servers serve again. Clients are kazoo sessions pinned to one server each, so
(b) includes a follower client's reconnection (kazoo retries every <= 0.2 s).

    .test-venv/bin/python tests/faults/failover.py --kind apache --repeats 10

Peers talk directly (no test proxies), with tickTime=2000, initLimit=10 and
syncLimit=5 unless --tick-time says otherwise.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ensemble import Ensemble  # noqa: E402
from waits import wait_until  # noqa: E402
from workload import OP_TIMEOUT, new_client  # noqa: E402

DIR = "/failover"
RECOVERY_DEADLINE = 120.0


class WriteLoad:
    """One writer per server, each setting its own znode in a loop."""

    def __init__(self, ensemble: Ensemble) -> None:
        self.ensemble = ensemble
        self.stop = threading.Event()
        self.lock = threading.Condition()
        self.acked: List[tuple] = []  # (call, return) in time.monotonic() seconds
        self.threads = [threading.Thread(target=self._write_loop, args=(i,), daemon=True)
                        for i in ensemble.ids()]
        self.clients = {}

    def start(self) -> None:
        for i in self.ensemble.ids():
            client = new_client(self.ensemble.connect_string(i), connection_retry={
                "max_tries": -1, "delay": 0.05, "backoff": 1.5, "max_delay": 0.2})
            client.start(timeout=30)
            client.ensure_path(f"{DIR}/w{i}")
            self.clients[i] = client
        for thread in self.threads:
            thread.start()

    def _write_loop(self, i: int) -> None:
        client = self.clients[i]
        while not self.stop.is_set():
            call = time.monotonic()
            try:
                client.set_async(f"{DIR}/w{i}", str(call).encode()).get(timeout=OP_TIMEOUT)
            except Exception:  # noqa: BLE001 - failures are what failover is about
                if not client.connected:
                    wait_until(lambda: client.connected or self.stop.is_set(),
                               RECOVERY_DEADLINE * 2, f"writer {i} to reconnect", interval=0.01)
                continue
            with self.lock:
                self.acked.append((call, time.monotonic()))
                self.lock.notify_all()

    def first_ack_issued_after(self, moment: float, timeout: float) -> Optional[float]:
        def found() -> Optional[float]:
            returns = [ret for call, ret in self.acked if call >= moment]
            return min(returns) if returns else None
        with self.lock:
            self.lock.wait_for(lambda: found() is not None, timeout)
            return found()

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(OP_TIMEOUT * 2)
        for client in self.clients.values():
            client.stop()
            client.close()


def measure(kind: str, repeats: int, workdir: Path, tick_time: int = 2000,
            fault: str = "kill", log=print) -> Dict[str, Any]:
    samples: List[Dict[str, float]] = []
    config = {"tickTime": str(tick_time), "initLimit": "10", "syncLimit": "5"}
    with Ensemble(kind, tmp_path=workdir, extra_cfg=config, proxied=False) as ensemble:
        ensemble.start_all()
        ensemble.wait_serving()
        ensemble.wait_leader()
        load = WriteLoad(ensemble)
        load.start()
        try:
            for n in range(repeats):
                # Steady state: writes flowing through every server again.
                ensemble.wait_serving()
                ensemble.wait_leader()
                load.first_ack_issued_after(time.monotonic(), 60)
                leader = ensemble.wait_leader()
                killed_at = time.monotonic()
                if fault == "kill":
                    ensemble.kill(leader)
                else:
                    ensemble.pause(leader)
                new_leader = ensemble.wait_leader(exclude=leader, timeout=RECOVERY_DEADLINE)
                elected_at = time.monotonic()
                acked_at = load.first_ack_issued_after(killed_at, RECOVERY_DEADLINE)
                if acked_at is None:
                    raise RuntimeError(f"no write acknowledged {RECOVERY_DEADLINE}s after "
                                       f"killing leader {leader}")
                sample = {"killed": leader, "new_leader": new_leader,
                          "leader_s": elected_at - killed_at, "write_s": acked_at - killed_at}
                samples.append(sample)
                log(f"#{n + 1}: {fault} leader {leader}; server {new_leader} leads after "
                    f"<= {sample['leader_s']:.2f}s; first write acknowledged after "
                    f"{sample['write_s']:.2f}s")
                if fault == "kill":
                    ensemble.start(leader)
                else:
                    ensemble.resume(leader)
        finally:
            load.close()
    return {"kind": kind, "fault": fault, "tick_time_ms": tick_time, "repeats": repeats,
            "samples": samples, "write_s": summary([s["write_s"] for s in samples]),
            "leader_s": summary([s["leader_s"] for s in samples])}


def summary(values: List[float]) -> Dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kind", choices=("apache", "zk"), default="apache")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--tick-time", type=int, default=2000)
    parser.add_argument("--fault", choices=("kill", "stop"), default="kill",
                        help="SIGKILL the leader (default) or SIGSTOP it")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--keep", type=Path,
                        help="run in this folder and keep the servers' logs there")
    args = parser.parse_args()
    # kazoo logs every refused reconnection while the leader is down.
    logging.getLogger("kazoo").setLevel(logging.CRITICAL)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        result = measure(args.kind, args.repeats, args.keep, args.tick_time, args.fault)
    else:
        with tempfile.TemporaryDirectory(prefix="failover-") as workdir:
            result = measure(args.kind, args.repeats, Path(workdir), args.tick_time, args.fault)
    for name in ("write_s", "leader_s"):
        stats = result[name]
        label = "fault -> first acknowledged write" if name == "write_s" else \
            "fault -> new leader seen by srvr"
        print(f"{args.kind} ({args.fault}) {label}: min {stats['min']:.2f}s, median {stats['median']:.2f}s, "
              f"max {stats['max']:.2f}s over {args.repeats} faults")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
