"""Ensembles of real zk-server processes for the abuse suite's quorum cases: the fault
suite's Ensemble (tests/faults/ensemble.py) without proxies, short ticks, and every process
stopped at teardown whether the test passed or not. Test modules import the fixture."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional

import pytest

import jute
from ensemble import Ensemble
from support import HOST, wait_until

# Short ticks so that elections and timeouts take seconds; initLimit stays generous for a
# loaded machine. syncLimit x tickTime (2.5 s) is how long a started peer frame may take.
CONFIG = {"tickTime": "500", "initLimit": "20", "syncLimit": "5"}


@pytest.fixture
def make_zk_ensemble(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                     ) -> Iterator[Callable[..., Ensemble]]:
    """Builds (does not start) zk-server ensembles; `jvm_flags` become every member's
    SERVER_JVMFLAGS. Every process is killed at teardown."""
    ensembles: List[Ensemble] = []

    def factory(participants: int = 3, extra_cfg: Optional[Dict[str, str]] = None,
                jvm_flags: Optional[str] = None) -> Ensemble:
        if jvm_flags is not None:
            monkeypatch.setenv("SERVER_JVMFLAGS", jvm_flags)
        config = dict(CONFIG)
        config.update(extra_cfg or {})
        ensemble = Ensemble("zk", participants, tmp_path=tmp_path / f"ensemble{len(ensembles)}",
                            extra_cfg=config, proxied=False)
        ensembles.append(ensemble)
        return ensemble

    yield factory
    for ensemble in ensembles:
        ensemble.close()


# How long one request may wait for its reply. An ensemble moving 1 MB values snapshots
# every few seconds; on a slow CI disk a member's fsyncs then wait behind the snapshots'
# writeback for many seconds, which is slow, not wrong.
IO_TIMEOUT = 60.0


def session_to(ensemble: Ensemble, member: int, timeout_ms: int = 30000) -> jute.Session:
    return jute.connect_session(HOST, ensemble.servers[member].client_port, timeout_ms,
                                io_timeout=IO_TIMEOUT)


def data_on(ensemble: Ensemble, member: int, path: str) -> Optional[bytes]:
    """`path`'s data as member `member` serves it after a sync; None if it does not exist."""
    session = session_to(ensemble, member)
    try:
        session.sync(path)
        reply = session.get_data(path)
        if reply.err == jute.Err.NO_NODE:
            return None
        assert reply.err == 0, f"getData {path} on server {member}: {reply.err}"
        return reply.body[0]
    finally:
        session.close_socket()


def wait_data(ensemble: Ensemble, member: int, path: str, expected: Optional[bytes],
              timeout: float = 60.0) -> None:
    wait_until(lambda: data_on(ensemble, member, path) == expected, timeout,
               f"{path} on server {member} to hold the expected data")


def epoch_of_a_new_write(ensemble: Ensemble, member: int, path: str) -> int:
    """Creates `path` through `member` and returns the epoch (term) of its zxid."""
    session = session_to(ensemble, member)
    try:
        reply = session.create(path, b"epoch")
        assert reply.err == 0, f"create {path}: {reply.err}"
        stat = session.exists(path).body
        return stat.czxid >> 32
    finally:
        session.close_socket()
