"""Short run of the failover measurement (the full one: failover.py --repeats 10)."""

from __future__ import annotations

from pathlib import Path

from failover import RECOVERY_DEADLINE, measure


def test_leader_failover_recovers_writes(kind: str, tmp_path: Path) -> None:
    result = measure(kind, repeats=2, workdir=tmp_path / "ensemble")
    assert len(result["samples"]) == 2
    assert result["write_s"]["max"] < RECOVERY_DEADLINE
    print(f"{kind} failover (tickTime=2000): {result['write_s']}")
