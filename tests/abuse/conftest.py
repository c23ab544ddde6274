"""Fixtures of the abuse suite: real zk-server processes, standalone and ensembles, driven by
hostile or careless clients, with a well-behaved canary client on the same server.

The suite reuses the other suites' helpers: tests/common (ports, waits, binaries),
tests/interop (the raw jute client and the standalone server wrapper) and tests/faults (the
ensemble of real processes).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional

import pytest

TESTS = Path(__file__).resolve().parents[1]
for folder in ("common", "interop", "faults"):
    sys.path.insert(0, str(TESTS / folder))

from abuse import Canary  # noqa: E402
from support import ZkServer  # noqa: E402


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[..., ZkServer]]:
    """Starts standalone zk-servers in the test's tmp_path; each is stopped at teardown,
    whether the test passed or not."""
    servers: List[ZkServer] = []

    def factory(extra_config: Optional[Dict[str, str]] = None,
                env: Optional[Dict[str, str]] = None, start: bool = True) -> ZkServer:
        server = ZkServer("zk", tmp_path / f"server{len(servers)}", extra_config, env=env)
        servers.append(server)
        if start:
            server.start()
        return server

    yield factory
    for server in servers:
        server.stop()


@pytest.fixture
def make_canary() -> Iterator[Callable[[int], Canary]]:
    """Well-behaved clients started against a port; stopped at teardown."""
    canaries: List[Canary] = []

    def factory(port: int, name: str = "canary") -> Canary:
        canary = Canary(port, name=f"{name}{len(canaries)}")
        canaries.append(canary)
        canary.start()
        canary.served(20)
        return canary

    yield factory
    for canary in canaries:
        canary.stop()
        canary.session.close_socket()
