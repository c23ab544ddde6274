"""Fixtures of the HA suite: a 3-server zk-server ensemble (tests/faults' Ensemble), the
controllers' table (controllers.py) and the Hadoop harness (hadoop/).

--ha-languages=rust,c,... (default: all five, or $ZK_HA_LANGUAGES) picks the controllers of
the cross-language test; a language of the list whose controller is not there fails the
test with its name. A shorter list is for development only: tests/ha/run uses all five.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterator, List

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "common"))
sys.path.insert(0, str(HERE.parent / "faults"))
sys.path.insert(0, str(HERE))

from controllers import LANGUAGES  # noqa: E402
from ensemble import Ensemble  # noqa: E402

# Short ticks make sessions expire close to their timeout (the leader checks every half
# tick); initLimit stays generous for a loaded machine.
ENSEMBLE_CONFIG = {"tickTime": "500", "initLimit": "20", "syncLimit": "5",
                   "minSessionTimeout": "1000", "maxSessionTimeout": "30000"}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--ha-languages", default=os.environ.get("ZK_HA_LANGUAGES", ",".join(LANGUAGES)),
        help="comma-separated controllers of the cross-language test (default: all five)")


@pytest.fixture(scope="session")
def languages(request: pytest.FixtureRequest) -> List[str]:
    chosen = [word.strip() for word in request.config.getoption("--ha-languages").split(",")
              if word.strip()]
    unknown = [language for language in chosen if language not in LANGUAGES]
    if unknown or not chosen:
        pytest.fail(f"--ha-languages: unknown {unknown}, choose among {', '.join(LANGUAGES)}")
    return chosen


@pytest.fixture
def ensemble(tmp_path: Path) -> Iterator[Ensemble]:
    """Three zk-server processes on loopback, serving; killed at teardown."""
    with Ensemble("zk", 3, tmp_path=tmp_path / "ensemble", extra_cfg=ENSEMBLE_CONFIG,
                  proxied=False) as ensemble:
        ensemble.start_all()
        ensemble.wait_leader()
        ensemble.wait_serving()
        yield ensemble


def pytest_terminal_summary(terminalreporter) -> None:
    from cluster import REPORT
    if REPORT:
        terminalreporter.section("HA failovers")
        for line in REPORT:
            terminalreporter.write_line(line)
