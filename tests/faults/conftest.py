"""Fixtures of the ensemble fault suite.

--faults-kind=apache|zk (default: $ZK_FAULTS_KIND, else apache) selects the server.
Profiles: $ZK_FAULTS_ROUNDS nemesis rounds (default 4, one of each fault: the
short profile), $ZK_FAULTS_SEED seeds the fault order and the workload.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Callable, Iterator, List

import pytest

from ensemble import Ensemble

CHECKER_DIR = Path(__file__).resolve().parent / "checker"
GO_FALLBACK = "/usr/local/go/bin/go"

# Short timeouts make faults detected, and the suite finished, in seconds;
# initLimit stays generous because a JVM syncing on a loaded machine is slow.
FAULT_SUITE_CONFIG = {"tickTime": "500", "initLimit": "20", "syncLimit": "5"}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--faults-kind", choices=("apache", "zk"),
        default=os.environ.get("ZK_FAULTS_KIND", "apache"),
        help="server to test: apache (Apache ZooKeeper 3.8, default) or zk (zk-server)")


@pytest.fixture(scope="session")
def kind(request: pytest.FixtureRequest) -> str:
    return request.config.getoption("--faults-kind")


@pytest.fixture(scope="session")
def rounds() -> int:
    return int(os.environ.get("ZK_FAULTS_ROUNDS", "4"))


@pytest.fixture(scope="session")
def seed() -> int:
    return int(os.environ.get("ZK_FAULTS_SEED", "1"))


@pytest.fixture
def make_ensemble(kind: str, tmp_path: Path) -> Iterator[Callable[..., Ensemble]]:
    """Builds ensembles in the test's tmp_path; every process is killed at teardown."""
    ensembles: List[Ensemble] = []

    def factory(participants: int = 3, observers: int = 0, **kwargs) -> Ensemble:
        extra = dict(FAULT_SUITE_CONFIG)
        extra.update(kwargs.pop("extra_cfg", {}))
        ensemble = Ensemble(kind, participants, observers,
                            tmp_path=tmp_path / f"ensemble{len(ensembles)}",
                            extra_cfg=extra, **kwargs)
        ensembles.append(ensemble)
        return ensemble

    yield factory
    for ensemble in ensembles:
        ensemble.close()


def go_binary() -> str:
    found = shutil.which("go") or (GO_FALLBACK if os.path.exists(GO_FALLBACK) else None)
    if found is None:
        pytest.fail("the Go toolchain is needed to build the linearizability checker "
                    f"(tests/faults/checker): put `go` on PATH or install it at {GO_FALLBACK}")
    return found


@pytest.fixture(scope="session")
def checker_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("checker") / "checker"
    build = subprocess.run([go_binary(), "build", "-o", str(output), "."], cwd=CHECKER_DIR,
                           capture_output=True, text=True, timeout=300)
    if build.returncode != 0:
        pytest.fail(f"building the checker failed:\n{build.stdout}{build.stderr}")
    return output
