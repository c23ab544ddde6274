"""Connection states reach listeners: connected, suspended and back across a lost
connection and a server restart, expired (even while no server is reachable), closed."""

from __future__ import annotations

import logging
from typing import Callable

import pytest

import zk
from conftest import Servers
from helpers import Recorder
from servers import Server, wait_until

S = zk.State


def test_listener_sees_connect_suspend_reconnect_and_close(
        server: Server, servers: Servers, clients: Callable[..., zk.Client]) -> None:
    proxy = servers.proxy(server)
    listener = Recorder()
    client = clients(proxy.address, start=False, timeout=10.0)
    client.add_listener(listener)
    client.start(timeout=30)
    listener.wait_value(S.CONNECTED)
    session = client.client_id
    proxy.cut()
    listener.wait_value(S.SUSPENDED)
    assert client.state is S.SUSPENDED and not client.connected
    proxy.restore()
    listener.wait_for(lambda calls: [c[0] for c in calls].count(S.CONNECTED) == 2,
                      "CONNECTED again")
    assert client.client_id == session, "the same session came back"
    client.stop()
    listener.wait_value(S.CLOSED)
    assert listener.firsts == [S.CONNECTED, S.SUSPENDED, S.CONNECTED, S.CLOSED]
    assert all(name.startswith("zk-dispatch") for name in listener.threads)


def test_expiry_is_reported_while_no_server_is_reachable(
        server: Server, servers: Servers, clients: Callable[..., zk.Client],
        path: str) -> None:
    proxy = servers.proxy(server)
    listener = Recorder()
    client = clients(proxy.address, start=False, timeout=2.0)
    client.add_listener(listener)
    client.start(timeout=30)
    client.create(path, b"", ephemeral=True)
    proxy.cut()  # and never restored: only the client's own clock can tell
    listener.wait_value(S.EXPIRED)
    assert listener.firsts == [S.CONNECTED, S.SUSPENDED, S.EXPIRED]
    assert client.state is S.EXPIRED and client.state.is_lost
    with pytest.raises(zk.SessionExpiredError):
        client.get("/")
    proxy.restore()
    client.start(timeout=30)  # a new session
    listener.wait_for(lambda calls: calls[-1][0] == S.CONNECTED, "a new session")
    # The server expires the old session on its own clock, a little later.
    wait_until(lambda: client.exists(path) is None, 30, "the old session's ephemeral to go")


def test_listeners_across_a_server_restart(
        zk_target: str, servers: Servers, clients: Callable[..., zk.Client]) -> None:
    own = servers.start(zk_target)
    listener = Recorder()
    client = clients(own.address, start=False, timeout=20.0)
    client.add_listener(listener)
    client.start(timeout=30)
    session = client.client_id
    own.restart()
    listener.wait_for(lambda calls: [c[0] for c in calls] == [S.CONNECTED, S.SUSPENDED,
                                                              S.CONNECTED],
                      "suspended and connected again", timeout=60)
    assert client.client_id == session
    assert client.get("/")[1] is not None


def test_a_listener_returning_true_is_removed_and_errors_are_logged(
        server: Server, clients: Callable[..., zk.Client],
        caplog: pytest.LogCaptureFixture) -> None:
    once = Recorder(returns=True)
    always = Recorder()

    def broken(state: zk.State) -> None:
        raise RuntimeError(f"listener failed on {state}")

    client = clients(server.address, start=False)
    client.add_listener(once)
    client.add_listener(broken)
    client.add_listener(always)
    client.add_listener(always)  # added once only
    with caplog.at_level(logging.ERROR, logger="zk"):
        client.start(timeout=30)
        client.stop()
        always.wait_value(S.CLOSED)
        wait_until(lambda: any("listener failed" in str(r.exc_info[1])
                               for r in caplog.records if r.exc_info), 30, "the logged error")
    assert once.firsts == [S.CONNECTED]
    assert always.firsts == [S.CONNECTED, S.CLOSED]
    client.remove_listener(always)
    client.start(timeout=30)
    client.stop()
    assert always.firsts == [S.CONNECTED, S.CLOSED]


def test_state_helpers() -> None:
    assert S.EXPIRED.is_lost and S.CLOSED.is_lost and S.AUTH_FAILED.is_lost and S.LOST.is_lost
    assert not S.SUSPENDED.is_lost and S.CONNECTED_RO.is_connected
    assert S.CONNECTED_RO.kazoo_state is S.CONNECTED
    assert S.EXPIRED.kazoo_state is zk.KazooState.LOST
    assert S.SUSPENDED.kazoo_state is zk.KazooState.SUSPENDED
    assert S.CONNECTED == "CONNECTED" and str(S.CLOSED) == "CLOSED"
