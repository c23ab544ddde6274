"""Fixtures of the interop suite.

--zk-target=zk (default) | apache | both selects which server(s) the `server`
fixture runs. Every test that uses `server` (or `zk_target`) is run once per
selected target, so `pytest tests/interop --zk-target=apache` proves the tests
themselves against a real Apache ZooKeeper 3.8.
"""

from __future__ import annotations

import itertools
import os
from typing import Callable, Dict, Iterator, List, Optional

import pytest

from support import HOST, ZkServer, free_port

TARGET_CHOICES = {"zk": ["zk"], "apache": ["apache"], "both": ["zk", "apache"]}

# Extra zoo.cfg keys of the shared per-target server.
SHARED_SERVER_CONFIG = {"enforceQuota": "true"}

_unique_counter = itertools.count()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--zk-target", choices=sorted(TARGET_CHOICES), default=os.environ.get("ZK_TARGET", "zk"),
        help="server(s) to test: zk (this repo's zk-server, default), apache, or both")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "zk_only: runs against zk-server only (skipped for --zk-target=apache)")


def selected_targets(config: pytest.Config) -> List[str]:
    return TARGET_CHOICES[config.getoption("--zk-target")]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "zk_target" in metafunc.fixturenames:
        metafunc.parametrize("zk_target", selected_targets(metafunc.config),
                             indirect=True, scope="session")


def zk_only_runs_on_apache() -> bool:
    """ZK_INTEROP_ZK_ONLY_ON_APACHE=1 runs zk_only tests on Apache too (to validate them)."""
    return os.environ.get("ZK_INTEROP_ZK_ONLY_ON_APACHE") == "1"


@pytest.fixture(scope="session")
def zk_target(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(autouse=True)
def _skip_zk_only(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("zk_only") is None:
        return
    if "zk_target" not in request.fixturenames:
        return
    target = request.getfixturevalue("zk_target")
    if target != "zk" and not zk_only_runs_on_apache():
        pytest.skip("zk-server only test")


class ServerFactory:
    """Starts servers with their own dataDir; stops all of them at teardown."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.tmp_path_factory = tmp_path_factory
        self.servers: List[ZkServer] = []

    def start(self, kind: str, extra_config: Optional[Dict[str, str]] = None,
              wait: bool = True, jvm_flags: Optional[List[str]] = None) -> ZkServer:
        workdir = self.tmp_path_factory.mktemp(f"{kind}-server")
        server = ZkServer(kind, workdir, extra_config, jvm_flags=jvm_flags)
        self.servers.append(server)
        server.start(wait=wait)
        return server

    def start_ensemble(self, kind: str, started: int,
                       member_config: Callable[[int], Dict[str, str]] = lambda myid: {}
                       ) -> List[ZkServer]:
        """Three `server.N` lines, the first `started` members running (each with
        `member_config(myid)` added to its zoo.cfg), once all of them serve."""
        ports = [(free_port(), free_port()) for _ in range(3)]
        lines = {f"server.{i + 1}": f"{HOST}:{quorum}:{election}"
                 for i, (quorum, election) in enumerate(ports)}
        members = []
        for myid in range(1, started + 1):
            workdir = self.tmp_path_factory.mktemp(f"{kind}-member{myid}")
            server = ZkServer(kind, workdir, {"tickTime": "500", "initLimit": "20",
                                              "syncLimit": "10", **member_config(myid),
                                              **lines})
            (server.data_dir / "myid").write_text(f"{myid}\n")
            self.servers.append(server)
            server.start(wait=False)
            members.append(server)
        for server in members:
            server.wait_ready(timeout=60)
        return members

    def stop_all(self) -> None:
        for server in self.servers:
            server.stop()


@pytest.fixture
def server_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerFactory]:
    factory = ServerFactory(tmp_path_factory)
    yield factory
    factory.stop_all()


@pytest.fixture(scope="session")
def _session_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerFactory]:
    factory = ServerFactory(tmp_path_factory)
    yield factory
    factory.stop_all()


@pytest.fixture(scope="session")
def server(zk_target: str, _session_servers: ServerFactory) -> ZkServer:
    """A shared server of the selected kind, started once per pytest session."""
    for existing in _session_servers.servers:
        if existing.kind == zk_target:
            return existing
    return _session_servers.start(zk_target, SHARED_SERVER_CONFIG)


@pytest.fixture
def unique_path(request: pytest.FixtureRequest) -> str:
    """A fresh top-level path for one test, so tests sharing a server never collide."""
    name = "".join(ch if ch.isalnum() else "_" for ch in request.node.name)[:60]
    return f"/t{next(_unique_counter)}_{name}"


@pytest.fixture
def make_client(server: ZkServer) -> Iterator:
    """Factory of started KazooClients on the shared server; all stopped at teardown."""
    from kazoo.client import KazooClient

    clients = []

    def factory(hosts: Optional[str] = None, start: bool = True, **kwargs):
        kwargs.setdefault("timeout", 10.0)
        client = KazooClient(hosts=hosts or server.address, **kwargs)
        clients.append(client)
        if start:
            client.start(timeout=30)
        return client

    yield factory
    for client in clients:
        try:
            client.stop()
        finally:
            client.close()
