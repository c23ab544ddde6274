"""Watches of every kind: `watch=` callbacks, DataWatch, ChildrenWatch, persistent and
recursive watches (iterator, async iterator, callback), removal, overflow, and watches that
outlive a lost connection and a server restart."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Callable, List, Optional

import pytest

import zk
from conftest import Servers
from helpers import DEADLINE, Recorder
from servers import Server, wait_until

E = zk.EventType


def test_one_shot_watches_fire_once(client: zk.Client, path: str) -> None:
    created, changed, child, deleted = Recorder(), Recorder(), Recorder(), Recorder()
    assert client.exists(path, watch=created) is None
    client.create(path, b"1")
    created.wait_count(1)
    event = created.calls[0][0]
    assert isinstance(event, zk.WatchedEvent)
    assert (event.type, event.state, event.path) == (E.CREATED, zk.KeeperState.CONNECTED, path)
    client.get(path, watch=changed)
    client.get_children(path, watch=child)
    client.set(path, b"2")
    client.set(path, b"3")
    changed.wait_count(1)
    client.create(path + "/c", b"")
    child.wait_count(1)
    assert child.calls[0][0].type is E.CHILD
    client.exists(path, watch=deleted)
    client.delete(path, recursive=True)
    deleted.wait_count(1)
    assert deleted.calls[0][0].type is E.DELETED
    client.sync(path)  # anything late would have arrived before this reply
    assert [len(r.calls) for r in (created, changed, child, deleted)] == [1, 1, 1, 1]
    assert changed.calls[0][0].type is E.CHANGED
    assert all(t.startswith("zk-dispatch") for t in created.threads + changed.threads)


@pytest.mark.zk_only
def test_events_carry_the_zxid(client: zk.Client, path: str) -> None:
    changed = Recorder()
    client.create(path, b"")
    client.get(path, watch=changed)
    stat = client.set(path, b"x")
    changed.wait_count(1)
    assert changed.calls[0][0].zxid == stat.mzxid


def test_data_watch_follows_the_node(client: zk.Client, path: str) -> None:
    calls = Recorder()
    watch = client.DataWatch(path, lambda data, stat: calls(data, stat))
    assert calls.calls == [(None, None)], "called at once, before the constructor returns"
    client.create(path, b"a")
    calls.wait_count(2)
    client.set(path, b"b")
    calls.wait_count(3)
    client.delete(path)
    calls.wait_count(4)
    assert [c[0] for c in calls.calls] == [None, b"a", b"b", None]
    assert calls.calls[2][1].version == 1
    assert not watch.stopped
    watch.stop()
    client.create(path, b"c")
    client.sync(path)
    assert len(calls.calls) == 4


def test_data_watch_with_event_decorator_and_stop_on_false(client: zk.Client, path: str) -> None:
    client.create(path, b"0")
    seen: List[tuple] = []
    done = threading.Event()

    @client.DataWatch(path)
    def watcher(data: Optional[bytes], stat: Any, event: Optional[zk.WatchedEvent]) -> bool:
        seen.append((data, event.type if event else None))
        if data == b"2":
            done.set()
            return False
        return True

    client.set(path, b"1")
    client.set(path, b"2")
    assert done.wait(DEADLINE)
    client.set(path, b"3")
    client.sync(path)
    assert seen[0] == (b"0", None)
    assert seen[-1] == (b"2", E.CHANGED)
    assert all(data != b"3" for data, _ in seen), "stopped after returning False"
    with pytest.raises(zk.ZkError):
        client.DataWatch(path, lambda d, s: None)(lambda d, s: None)


def test_children_watch_reports_changes_and_the_parent_deletion(
        client: zk.Client, path: str) -> None:
    with pytest.raises(zk.NoNodeError):
        client.ChildrenWatch(path, lambda children: None)
    client.create(path)
    calls = Recorder()
    watch = client.ChildrenWatch(path, calls, send_event=True)
    assert calls.calls == [([], None)]
    client.create(path + "/a")
    calls.wait_count(2)
    assert calls.calls[1][0] == ["a"] and calls.calls[1][1].type is E.CHILD
    client.delete(path + "/a")
    calls.wait_count(3)
    client.delete(path)
    calls.wait_for(lambda c: c[-1][0] is None, "the parent's deletion")
    assert calls.calls[-1][1].type is E.DELETED
    wait_until(lambda: watch.stopped, DEADLINE, "the watch to stop")


def test_children_watch_without_event_and_stop_on_false(client: zk.Client, path: str) -> None:
    client.create(path)
    calls = Recorder(returns=False)
    watch = client.ChildrenWatch(path, calls)
    assert calls.calls == [([],)] and watch.stopped
    client.create(path + "/x")
    client.sync(path)
    assert calls.calls == [([],)]


def test_persistent_watch_as_an_iterator(client: zk.Client, path: str) -> None:
    client.create(path)
    with client.add_watch(path) as watch:
        assert watch.path == path and not watch.recursive
        client.set(path, b"1")
        client.create(path + "/child")
        client.set(path, b"2")
        events = [next(watch) for _ in range(3)]
        assert [e.type for e in events] == [E.CHANGED, E.CHILD, E.CHANGED]
    assert list(watch) == [], "iteration ends once removed"


def test_recursive_watch_sees_the_subtree(client: zk.Client, path: str) -> None:
    client.create(path)
    watch = client.add_watch(path, recursive=True)
    client.create(path + "/a")
    client.create(path + "/a/b")
    client.set(path + "/a/b", b"x")
    client.delete(path + "/a/b")
    got = [(e.type, e.path) for e in (next(watch) for _ in range(4))]
    assert got == [(E.CREATED, path + "/a"), (E.CREATED, path + "/a/b"),
                   (E.CHANGED, path + "/a/b"), (E.DELETED, path + "/a/b")]
    assert client.remove_watches(path) == 1
    assert client.remove_watches(path) == 0
    assert list(watch) == []


def test_persistent_watch_with_a_callback(client: zk.Client, path: str) -> None:
    client.create(path)
    calls = Recorder()
    watch = client.add_watch(path, recursive=True, callback=calls)
    for i in range(5):
        client.create(f"{path}/n{i}")
    calls.wait_count(5)
    assert [c[0].path for c in calls.calls] == [f"{path}/n{i}" for i in range(5)]
    watch.remove()
    client.create(path + "/after")
    client.sync(path)
    assert len(calls.calls) == 5


def test_persistent_watch_as_an_async_iterator(client: zk.Client, path: str) -> None:
    client.create(path)

    async def main() -> List[Any]:
        aio = zk.AsyncClient(client.hosts)
        async with aio:
            watch = await aio.add_watch(path, recursive=True)
            await aio.create(path + "/x")
            await aio.set(path + "/x", b"1")
            got = []
            async for event in watch:
                got.append((event.type, event.path))
                if len(got) == 2:
                    break
            watch.remove()
            got.append([e async for e in watch])
            return got

    assert asyncio.run(main()) == [(E.CREATED, path + "/x"), (E.CHANGED, path + "/x"), []]


def test_overflow_is_reported_not_dropped(client: zk.Client, path: str) -> None:
    client.create(path, b"")
    watch = client.add_watch(path)
    results = [client.set_async(path, str(i).encode()) for i in range(1500)]
    for result in results:
        result.get(timeout=DEADLINE)
    # Reported first, before the events still queued, so the consumer knows at once.
    assert next(watch).type is E.OVERFLOW
    # The queue was full when it overflowed: its events are still there, in order.
    following = [next(watch).type for _ in range(1000)]
    assert set(following) <= {E.CHANGED, E.OVERFLOW} and E.CHANGED in following
    watch.remove()


def test_watches_survive_a_lost_connection(
        server: Server, servers: Servers, clients: Callable[..., zk.Client], path: str) -> None:
    proxy = servers.proxy(server)
    watcher = clients(proxy.address, timeout=10.0)
    other = clients(server.address)
    other.create(path, b"0")
    one_shot, data_watch = Recorder(), Recorder()
    watcher.get(path, watch=one_shot)
    watcher.DataWatch(path, data_watch)
    persistent = watcher.add_watch(path)
    suspended = Recorder()
    watcher.add_listener(suspended)
    proxy.cut()
    suspended.wait_value(zk.State.SUSPENDED)
    other.set(path, b"changed while away")
    proxy.restore()
    one_shot.wait_count(1)
    assert one_shot.calls[0][0].type is E.CHANGED
    data_watch.wait_for(lambda c: c[-1][0] == b"changed while away", "the DataWatch")
    types = []
    while E.CHANGED not in types:
        types.append(next(persistent).type)
    assert E.NONE in types, "session events reach persistent watches"


def test_watches_survive_a_server_restart(
        zk_target: str, servers: Servers, clients: Callable[..., zk.Client], path: str) -> None:
    own = servers.start(zk_target)
    client = clients(own.address, timeout=20.0)
    client.create(path, b"0")
    one_shot, children = Recorder(), Recorder()
    client.get(path, watch=one_shot)
    client.get_children(path, watch=children)
    persistent = client.add_watch(path)
    own.restart()
    wait_until(lambda: client.connected, 60, "the client to reconnect")
    client.set(path, b"after restart")
    client.create(path + "/kid")
    one_shot.wait_count(1)
    children.wait_count(1)
    assert one_shot.calls[0][0].type is E.CHANGED
    assert children.calls[0][0].type is E.CHILD
    types = []
    while E.CHILD not in types:
        types.append(next(persistent).type)
    assert E.CHANGED in types
