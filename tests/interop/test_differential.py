"""Differential test: the same seeded op sequence against Apache ZooKeeper and the
candidate server, comparing every normalized reply (see differential.py).

The candidate is zk-server, except with --zk-target=apache where it is a second
Apache server (which proves the sequences and the normalization are deterministic).
Both servers start from an empty dataDir for every seed.
"""

from __future__ import annotations

import pytest

from differential import Runner, RunFailed, describe, generate_ops
from support import HOST

SEEDS = [1, 2, 3]
OPS_PER_SEED = 500
MAX_REPORTED = 5


@pytest.fixture
def candidate_kind(request: pytest.FixtureRequest) -> str:
    return "apache" if request.config.getoption("--zk-target") == "apache" else "zk"


def first_mismatches(ops, expected, actual):
    mismatches = []
    labelled_ops = ops + [{"kind": "finish (ping + drain events on every session)"}]
    for index, (op, want, got) in enumerate(zip(labelled_ops, expected, actual)):
        if want != got:
            mismatches.append(
                f"op #{index}: {describe(op)}\n  apache:    {want!r}\n  candidate: {got!r}")
            if len(mismatches) == MAX_REPORTED:
                break
    return mismatches


@pytest.mark.parametrize("seed", SEEDS)
def test_same_replies_as_apache(seed, candidate_kind, server_factory):
    reference = server_factory.start("apache")
    candidate = server_factory.start(candidate_kind)
    ops = generate_ops(seed, OPS_PER_SEED)

    expected = Runner(HOST, reference.port).run(ops)
    try:
        actual = Runner(HOST, candidate.port).run(ops)
    except RunFailed as error:
        pytest.fail(f"seed {seed}: {candidate.label}: {error}\n--- server log tail ---\n"
                    f"{candidate.log_tail()}")

    assert len(expected) == len(actual) == len(ops) + 1
    check_coverage(ops, expected)
    mismatches = first_mismatches(ops, expected, actual)
    assert not mismatches, (
        f"seed {seed}: {candidate.label} differs from {reference.label} "
        f"(first {len(mismatches)} mismatches; later ones may follow from the first):\n"
        + "\n".join(mismatches))


def check_coverage(ops, reference_results):
    """Guards the generator: a sequence must reach successes and the interesting errors."""
    codes = {result["err"] for result in reference_results if "err" in result}
    required = {0, -8, -101, -102, -103, -110, -111, -114}
    assert codes >= required, f"sequence never produced {required - codes}"
    multi_patterns = {tuple(sub["err"] for sub in result["body"])
                      for op, result in zip(ops, reference_results)
                      if op["kind"] == "multi" and result.get("body")}
    assert any(0 in pattern and -2 in pattern for pattern in multi_patterns)
    assert any(pattern and set(pattern) == {0} for pattern in multi_patterns)
    assert sum(len(result.get("events", [])) for result in reference_results) >= 5
    kinds = {op["kind"] for op in ops}
    assert kinds >= {"create", "set", "delete", "exists", "get", "children", "children2",
                     "get_acl", "set_acl", "multi", "multi_read", "all_children", "ephemerals",
                     "sync", "auth", "whoami", "ping", "add_watch", "close", "reconnect"}
