"""AsyncClient under asyncio: asyncio.run, several clients per loop, gather, cancellation
by asyncio.timeout / wait_for / task.cancel, callbacks on the loop, AsyncLock."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Callable, List

import pytest

import zk
import zk._aio
from conftest import Servers
from servers import Server


def run(coro: object) -> object:
    return asyncio.run(asyncio.wait_for(coro, 60))  # type: ignore[arg-type]


def test_several_clients_share_a_loop(server: Server, path: str) -> None:
    async def main() -> List[bytes]:
        async with zk.AsyncClient(server.address) as a, zk.AsyncClient(server.address) as b:
            assert a.connected and a.state is zk.State.CONNECTED
            assert a.client_id != b.client_id and a.session_timeout > 0
            await a.create(path, b"shared")
            values = await asyncio.gather(*[(a if i % 2 else b).get(path) for i in range(200)])
            assert all(v == b"shared" for v, _ in values)
            created, stat = await b.create(path + "/x", b"", include_data=True)
            assert created == path + "/x" and isinstance(stat, zk.ZnodeStat)
            return [v for v, _ in values[:2]]

    assert run(main()) == [b"shared", b"shared"]


def test_awaiting_async_results_of_the_sync_client(client: zk.Client, path: str) -> None:
    client.create(path, b"v")

    async def main() -> object:
        return await client.get_async(path)

    data, stat = run(main())  # type: ignore[misc]
    assert data == b"v"


def test_calls_from_tasks_woken_by_replies_go_out_and_may_block(
    zk_target: str, servers: Servers, path: str, clients: Callable[..., zk.Client]
) -> None:
    """The calls that the tasks woken by one batch of replies make are written together
    once those tasks have run; a blocking call made by such a task (a sync client's call,
    an ``AsyncResult.get()``) is written at once instead of waiting behind the batch (for
    the next ping to carry it out: 40 s away with these 120 s sessions)."""
    server = servers.start(zk_target, {"maxSessionTimeout": "120000"})
    sync = clients(server.address, timeout=120.0)

    async def main() -> None:
        async with zk.AsyncClient(server.address, timeout=120.0) as a:
            await a.create(path, b"v")
            # This task was woken by the create's reply: it runs inside the loop's batch.
            assert sync.get(path)[0] == b"v"
            assert sync.get_async(path).get(timeout=20.0)[0] == b"v"
            await a.set(path, b"w")
            assert a._client.get_async(path).get(timeout=20.0)[0] == b"w"

            async def chain(i: int) -> int:
                await a.create(f"{path}/{i}", b"")
                for _ in range(20):
                    await a.set(f"{path}/{i}", str(i).encode())
                    assert (await a.get(f"{path}/{i}"))[0] == str(i).encode()
                return i

            assert await asyncio.gather(*[chain(i) for i in range(16)]) == list(range(16))
            assert len(await a.get_children(path)) == 16

    run(main())


def test_the_loop_reads_an_async_clients_socket_while_it_awaits_its_calls(
    server: Server, path: str
) -> None:
    """The replies to an ``AsyncClient``'s calls are read on the loop's thread while it
    awaits them (one thread woken per batch of replies); the socket goes back to the IO
    thread once no call is awaited."""

    async def main() -> None:
        async with zk.AsyncClient(server.address) as a:
            await a.create(path, b"v")
            queue = zk._aio.completions_for(asyncio.get_running_loop())
            calls = [asyncio.ensure_future(a.get(path)) for _ in range(20)]
            await asyncio.sleep(0)  # the tasks have made their calls
            assert queue._reading() == 1
            assert all(v == b"v" for v, _ in await asyncio.gather(*calls))
            await asyncio.sleep(0)
            assert queue._reading() == 0
            # A call after that borrows the socket anew.
            assert (await a.get(path))[0] == b"v"

    run(main())


def test_a_loop_blocked_longer_than_the_session_timeout_keeps_its_connection(
    server: Server, path: str
) -> None:
    """While the loop awaits a client's calls it reads the client's socket itself; a loop
    that then blocks (here for longer than the whole session timeout) must not make the
    connection look silent: the IO thread takes the socket back when a ping falls due."""

    async def main() -> None:
        async with zk.AsyncClient(server.address, timeout=2.0) as a:
            seen: List[zk.State] = []
            a.add_listener(seen.append)
            await a.create(path, b"v")
            calls = [asyncio.ensure_future(a.get(path)) for _ in range(50)]
            await asyncio.sleep(0)  # the calls are made, their replies due
            time.sleep(1.5 * a.session_timeout)  # blocks the loop, and so its reads
            assert all(v == b"v" for v, _ in await asyncio.gather(*calls))
            assert (await a.get(path))[0] == b"v"
            assert a.state is zk.State.CONNECTED
            assert zk.State.SUSPENDED not in seen and zk.State.LOST not in seen, seen

    run(main())


def test_cancelling_a_call_stops_the_wait(server: Server, path: str) -> None:
    async def main() -> None:
        async with zk.AsyncClient(server.address) as holder, \
                zk.AsyncClient(server.address) as waiter:
            lock = holder.Lock(path, "holder")
            assert await lock.acquire()
            waiting = waiter.Lock(path, "waiter")
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(waiting.acquire(), 0.3)
            task = asyncio.ensure_future(waiting.acquire())
            while len(lock.lock.contenders()) < 2:  # type: ignore[union-attr]
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            # The cancelled acquire's node is removed: only the holder is left.
            for _ in range(3000):
                if lock.lock.contenders() == ["holder"]:  # type: ignore[union-attr]
                    break
                await asyncio.sleep(0.01)
            assert lock.lock.contenders() == ["holder"]  # type: ignore[union-attr]
            await lock.release()
            async with waiting:
                assert waiting.is_acquired and waiting.fencing_token is not None
            assert not waiting.is_acquired

    run(main())


def test_timeout_context_cancels(server: Server, path: str) -> None:
    if not hasattr(asyncio, "timeout"):
        pytest.skip("asyncio.timeout needs Python 3.11")

    async def main() -> None:
        async with zk.AsyncClient(server.address) as client:
            await client.create(path)
            watch = await client.add_watch(path)
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.2):  # type: ignore[attr-defined]
                    await watch.__anext__()
            await client.set(path, b"after the timeout")
            event = await watch.__anext__()
            assert event.type is zk.EventType.CHANGED
            assert await client.remove_watches(path) == 1

    run(main())


def test_callbacks_run_on_the_loop(server: Server, path: str) -> None:
    async def main() -> None:
        loop_thread = threading.current_thread()
        seen: List[object] = []
        got = asyncio.Event()

        async with zk.AsyncClient(server.address) as client:
            async def on_event(event: zk.WatchedEvent) -> None:
                seen.append((threading.current_thread() is loop_thread, event.type))
                got.set()

            states: List[object] = []
            client.add_listener(lambda s: states.append((threading.current_thread()
                                                         is loop_thread, s)))
            await client.create(path)
            await client.get(path, watch=on_event)
            await client.set(path, b"x")
            await asyncio.wait_for(got.wait(), 30)
            assert seen == [(True, zk.EventType.CHANGED)]
            await client.stop()
            for _ in range(3000):
                if (True, zk.State.CLOSED) in states:
                    break
                await asyncio.sleep(0.01)
            assert states[-1] == (True, zk.State.CLOSED)
            assert all(on_loop for on_loop, _ in states)

    run(main())


def test_every_async_operation(server: Server, path: str) -> None:
    async def main() -> None:
        async with zk.AsyncClient(server.address) as client:
            assert await client.ensure_path(path + "/a") is True
            assert await client.exists(path + "/a") is not None
            assert await client.get_children(path) == ["a"]
            children, stat = await client.get_children(path, include_data=True)
            assert stat.numChildren == 1
            acls, _ = await client.get_acls(path)
            assert acls == zk.OPEN_ACL_UNSAFE
            await client.set_acls(path, zk.OPEN_ACL_UNSAFE)
            assert await client.sync(path) == path
            assert await client.add_auth("digest", "u:p") is True
            assert zk.ClientInfo("digest", "u") in await client.whoami()
            await client.create(path + "/e", ephemeral=True)
            assert await client.get_ephemerals(path) == [path + "/e"]
            async with client.transaction() as t:
                t.check(path, 0)
                t.set_data(path, b"t")
            assert (await client.get(path))[0] == b"t"
            t = client.transaction()
            t.delete(path + "/missing")
            with pytest.raises(zk.NoNodeError) as error:
                await t.commit()
            assert error.value.op == "delete"
            assert await client.delete(path, recursive=True) is True
            with pytest.raises(zk.NoNodeError):
                await client.get(path)
            await client.restart()
            assert client.connected

    run(main())


def test_start_failure_raises(server: Server) -> None:
    from servers import free_port

    async def main() -> None:
        client = zk.AsyncClient(f"127.0.0.1:{free_port()}")
        with pytest.raises(zk.OperationTimeoutError, match="connection time-out"):
            await client.start(timeout=0.3)
        await client.close()

    run(main())
