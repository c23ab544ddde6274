"""The client's life: start (never hangs), stop, close, restart, sessions resumed with
client_id, chroot, request timeouts, and what a closed client does."""

from __future__ import annotations

import time
from typing import Callable

import pytest

import zk
from conftest import Servers
from servers import Server, free_port


def test_start_times_out_instead_of_hanging() -> None:
    client = zk.Client(f"127.0.0.1:{free_port()}", timeout=5.0)
    started = time.monotonic()
    with pytest.raises(zk.OperationTimeoutError) as error:
        client.start(timeout=0.5)
    assert isinstance(error.value, TimeoutError)
    assert time.monotonic() - started < 30
    assert client.state is zk.State.CLOSED and not client.connected
    with pytest.raises(zk.ConnectionClosedError):
        client.get("/")
    client.close()


def test_not_started_and_closed_clients_raise_at_once(server: Server) -> None:
    client = zk.Client(server.address)
    assert client.state is zk.State.LOST
    with pytest.raises(zk.ConnectionClosedError, match="not started"):
        client.get("/")
    client.start(timeout=30)
    client.close()
    client.close()  # twice is fine
    for call in (lambda: client.get("/"), lambda: client.create("/x"),
                 lambda: client.get_async("/"), lambda: client.start(),
                 lambda: client.transaction().commit()):
        started = time.monotonic()
        with pytest.raises(zk.ConnectionClosedError, match="closed"):
            call()
        assert time.monotonic() - started < 5
    assert issubclass(zk.ConnectionClosedError, zk.SessionExpiredError)


def test_context_manager_starts_and_closes(server: Server, path: str) -> None:
    with zk.Client(server.address) as client:
        assert client.connected and client.state is zk.State.CONNECTED
        client.create(path, b"x", ephemeral=True)
    with pytest.raises(zk.ConnectionClosedError):
        client.exists(path)
    with zk.Client(server.address) as other:
        assert other.exists(path) is None, "closing ended the session and its ephemerals"


def test_stop_then_start_makes_a_new_session(client: zk.Client, path: str) -> None:
    first = client.client_id
    assert first is not None and first[0] != 0 and len(first[1]) == 16
    client.create(path, b"", ephemeral=True)
    client.stop()
    assert client.state is zk.State.CLOSED and client.client_id is None
    with pytest.raises(zk.ConnectionClosedError, match="stopped"):
        client.get("/")
    client.start(timeout=30)
    assert client.client_id is not None and client.client_id[0] != first[0]
    assert client.exists(path) is None
    client.restart(timeout=30)
    assert client.connected
    assert 0 < client.session_timeout <= 10.0 + 1e-6


def test_a_session_can_be_resumed_with_client_id(
        server: Server, servers: Servers, clients: Callable[..., zk.Client], path: str) -> None:
    proxy = servers.proxy(server)
    first = clients(proxy.address, timeout=20.0)
    first.create(path, b"", ephemeral=True)
    session = first.client_id
    assert session is not None
    proxy.cut()  # the first client is gone, its session is not
    second = clients(server.address, client_id=session)
    assert second.client_id is not None and second.client_id[0] == session[0]
    assert second.exists(path).ephemeralOwner == session[0]
    first.close()
    second.stop()
    third = clients(server.address)
    assert third.exists(path) is None


def test_resuming_an_unknown_session_raises_expired(server: Server) -> None:
    client = zk.Client(server.address, client_id=(0x1234_5678, b"\0" * 16))
    with pytest.raises(zk.SessionExpiredError):
        client.start(timeout=30)
    client.close()


def test_request_timeout_fails_a_call_to_a_hung_server(
        server: Server, servers: Servers, clients: Callable[..., zk.Client]) -> None:
    proxy = servers.proxy(server)
    client = clients(proxy.address, timeout=10.0, request_timeout=0.5)
    assert client.get("/")[1] is not None
    proxy.stall()
    with pytest.raises(zk.OperationTimeoutError):
        client.get("/")
    proxy.restore()


def test_invalid_hosts_and_timeouts_are_refused() -> None:
    with pytest.raises(zk.BadArgumentsError):
        zk.Client("")
    with pytest.raises(zk.BadArgumentsError):
        zk.Client("host:notaport")
    with pytest.raises(zk.BadArgumentsError):
        zk.Client("h:1/bad/")
    with pytest.raises(ValueError):
        zk.Client("127.0.0.1:2181", timeout=-1)
    with pytest.raises(ValueError):
        zk.Client("127.0.0.1:2181", request_timeout=float("nan"))
    with pytest.raises(TypeError):
        zk.Client(2181)  # type: ignore[arg-type]
