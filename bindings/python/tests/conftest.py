"""Fixtures of the Python binding's suite.

--zk-target=zk (default) | apache | both picks the server(s) the `server` fixture runs:
zk-server (target/debug/zk-server) or Apache ZooKeeper 3.8. Every test using `server`
runs once per target; tests marked `zk_only` are skipped on Apache.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional

import pytest

import zk
from servers import Proxy, Server, wait_until  # noqa: F401 - re-exported to tests

TARGETS = {"zk": ["zk"], "apache": ["apache"], "both": ["zk", "apache"]}
DEADLINE = 30.0

_counter = itertools.count()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--zk-target", choices=sorted(TARGETS),
                     default=os.environ.get("ZK_TARGET", "zk"),
                     help="server(s) to run the suite against")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "zk_only: needs zk-server (skipped on Apache)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "zk_target" in metafunc.fixturenames:
        targets = TARGETS[metafunc.config.getoption("--zk-target")]
        metafunc.parametrize("zk_target", targets, indirect=True, scope="session")


@pytest.fixture(scope="session")
def zk_target(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(autouse=True)
def _skip_zk_only(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("zk_only") and "zk_target" in request.fixturenames:
        if request.getfixturevalue("zk_target") != "zk":
            pytest.skip("zk-server only")


class Servers:
    """Starts servers; stops every one of them at teardown, even after a failure."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.tmp = tmp_path_factory
        self.started: List[Server] = []
        self.proxies: List[Proxy] = []

    def start(self, kind: str, config: Optional[Dict[str, str]] = None) -> Server:
        server = Server(kind, Path(self.tmp.mktemp(f"{kind}-server")), config)
        self.started.append(server)
        return server.start()

    def proxy(self, server: Server) -> Proxy:
        proxy = Proxy(server.port)
        self.proxies.append(proxy)
        return proxy

    def stop_all(self) -> None:
        for proxy in self.proxies:
            proxy.close()
        for server in self.started:
            server.stop()


@pytest.fixture(scope="session")
def _shared_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    servers = Servers(tmp_path_factory)
    yield servers
    servers.stop_all()


@pytest.fixture(scope="session")
def server(zk_target: str, _shared_servers: Servers) -> Server:
    """A server of the selected kind shared by the session's tests."""
    for existing in _shared_servers.started:
        if existing.kind == zk_target:
            return existing
    return _shared_servers.start(zk_target)


@pytest.fixture
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """Servers (and proxies) of a test's own, stopped when it ends."""
    started = Servers(tmp_path_factory)
    yield started
    started.stop_all()


@pytest.fixture
def path(request: pytest.FixtureRequest) -> str:
    """A fresh top-level path for one test."""
    name = "".join(c if c.isalnum() else "_" for c in request.node.name)[:50]
    return f"/py{next(_counter)}_{os.getpid()}_{name}"


@pytest.fixture
def clients() -> Iterator[Callable[..., zk.Client]]:
    """Makes started clients; closes them all at teardown."""
    made: List[zk.Client] = []

    def make(hosts: str, start: bool = True, **kwargs: object) -> zk.Client:
        kwargs.setdefault("timeout", 10.0)
        client = zk.Client(hosts, **kwargs)  # type: ignore[arg-type]
        made.append(client)
        if start:
            client.start(timeout=DEADLINE)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(server: Server, clients: Callable[..., zk.Client]) -> zk.Client:
    """A started client of the shared server."""
    return clients(server.address)


@pytest.fixture
def kazoo(server: Server) -> Iterator[Callable[[], object]]:
    """Makes started kazoo clients of the shared server; stops them at teardown."""
    from kazoo.client import KazooClient

    made = []

    def make() -> KazooClient:
        kz = KazooClient(hosts=server.address, timeout=10.0)
        kz.start(timeout=DEADLINE)
        made.append(kz)
        return kz

    yield make
    for kz in made:
        kz.stop()
        kz.close()
