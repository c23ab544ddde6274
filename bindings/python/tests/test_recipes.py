"""kazoo's recipes over the core's: locks (with fencing tokens and loss), read-write locks,
semaphores, elections, barriers, queues, counters, parties and the tree cache."""

from __future__ import annotations

import threading
from typing import Callable, List

import pytest

import zk
from conftest import Servers
from helpers import DEADLINE, Recorder
from servers import Server, wait_until


def test_lock_excludes_and_hands_over(
        server: Server, clients: Callable[..., zk.Client], path: str) -> None:
    a, b = clients(server.address), clients(server.address)
    first = a.Lock(path, "first")
    with first:
        assert first.is_acquired and first.fencing_token is not None
        assert not first.is_lost
        assert first.contenders() == ["first"]
        second = b.Lock(path, "second")
        assert second.acquire(blocking=False) is False
        with pytest.raises(zk.LockTimeout):
            second.acquire(timeout=0.2)
        assert first.contenders() == ["first"], "a timed-out acquire leaves no node"
        token = first.fencing_token
        got: List[bool] = []
        waiter = threading.Thread(target=lambda: got.append(second.acquire()))
        waiter.start()
        wait_until(lambda: first.contenders() == ["first", "second"], DEADLINE, "the waiter")
    waiter.join(DEADLINE)
    assert got == [True] and second.is_acquired
    assert second.fencing_token > token
    assert second.release() is True and second.release() is False
    children = a.get_children(path)
    assert children == []


def test_lock_nodes_use_kazoos_names(client: zk.Client, path: str) -> None:
    lock = client.Lock(path, "ident")
    lock.acquire()
    [name] = client.get_children(path)
    assert "__lock__" in name and client.get(f"{path}/{name}")[0] == b"ident"
    lock.release()
    curator = client.Lock(path, "c", layout="curator")
    curator.acquire()
    [name] = client.get_children(path)
    assert "-lock-" in name
    curator.release()
    with pytest.raises(ValueError):
        client.Lock(path, layout="other")
    with pytest.raises(ValueError):
        client.Lock(path).acquire(ephemeral=False)


def test_cancel_stops_a_waiting_acquire(
        server: Server, clients: Callable[..., zk.Client], path: str) -> None:
    a, b = clients(server.address), clients(server.address)
    holder = a.Lock(path, "holder")
    holder.acquire()
    waiting = b.Lock(path, "waiting")
    errors: List[BaseException] = []

    def acquire() -> None:
        try:
            waiting.acquire()
        except zk.CancelledError as error:
            errors.append(error)

    thread = threading.Thread(target=acquire)
    thread.start()
    wait_until(lambda: len(holder.contenders()) == 2, DEADLINE, "the waiter")
    waiting.cancel()
    thread.join(DEADLINE)
    assert len(errors) == 1
    wait_until(lambda: holder.contenders() == ["holder"], DEADLINE, "the cancelled node to go")
    holder.release()


def test_a_lock_is_lost_when_the_connection_is(
        server: Server, servers: Servers, clients: Callable[..., zk.Client], path: str) -> None:
    proxy = servers.proxy(server)
    client = clients(proxy.address, timeout=10.0)
    lock = client.Lock(path, "fragile")
    lock.acquire()
    assert not lock.is_lost
    proxy.cut()
    wait_until(lambda: lock.is_lost, DEADLINE, "the lock to be lost")
    proxy.restore()
    lock.release()


def test_read_and_write_locks(server: Server, clients: Callable[..., zk.Client],
                              path: str) -> None:
    a, b, c = (clients(server.address) for _ in range(3))
    r1, r2 = a.ReadLock(path, "r1"), b.ReadLock(path, "r2")
    writer = c.WriteLock(path, "w")
    assert isinstance(r1, zk.Lock) and isinstance(writer, zk.WriteLock)
    r1.acquire()
    r2.acquire()
    assert writer.acquire(blocking=False) is False
    r1.release()
    assert writer.acquire(blocking=False) is False, "one reader still holds it"
    r2.release()
    assert writer.acquire(timeout=DEADLINE) is True
    assert r1.acquire(blocking=False) is False
    names = a.get_children(path)
    assert all("__lock__" in n or "__rlock__" in n for n in names)
    writer.release()


def test_semaphore_limits_holders(server: Server, clients: Callable[..., zk.Client],
                                  path: str) -> None:
    a, b, c = (clients(server.address) for _ in range(3))
    s1 = a.Semaphore(path, "one", max_leases=2)
    s2 = b.Semaphore(path, "two", max_leases=2)
    s3 = c.Semaphore(path, "three", max_leases=2)
    assert s1.acquire() and s2.acquire()
    assert s3.acquire(blocking=False) is False
    with pytest.raises(zk.LockTimeout):
        s3.acquire(timeout=0.2)
    assert sorted(s1.lease_holders()) == ["one", "two"]
    assert s1.fencing_token is not None and s2.fencing_token > s1.fencing_token
    s1.release()
    with s3:
        assert sorted(s3.lease_holders()) == ["three", "two"]
    s2.release()
    assert a.get(path)[0] == b"2", "kazoo's layout: the path holds max_leases"
    with pytest.raises(zk.BadArgumentsError):
        a.Semaphore(path, "x", max_leases=3).acquire()
    with pytest.raises(zk.BadArgumentsError):
        a.Semaphore(path, max_leases=0)


def test_election_runs_one_leader_at_a_time(
        server: Server, clients: Callable[..., zk.Client], path: str) -> None:
    a, b = clients(server.address), clients(server.address)
    leading = threading.Event()
    release = threading.Event()
    order: List[str] = []

    def lead(name: str, election: zk.Election) -> str:
        order.append(name)
        assert election.fencing_token is not None and not election.is_lost
        if name == "a":
            leading.set()
            assert release.wait(DEADLINE)
        return f"{name} done"

    ea, eb = a.Election(path, "a"), b.Election(path, "b")
    results: List[str] = []
    ta = threading.Thread(target=lambda: results.append(ea.run(lead, "a", ea)))
    ta.start()
    assert leading.wait(DEADLINE)
    tb = threading.Thread(target=lambda: results.append(eb.run(lead, "b", election=eb)))
    tb.start()
    wait_until(lambda: ea.contenders() == ["a", "b"], DEADLINE, "both contenders")
    release.set()
    ta.join(DEADLINE)
    tb.join(DEADLINE)
    assert order == ["a", "b"] and sorted(results) == ["a done", "b done"]
    assert ea.fencing_token is None


def test_election_cancel(server: Server, clients: Callable[..., zk.Client], path: str) -> None:
    a, b = clients(server.address), clients(server.address)
    holder = a.Lock(path, "leader")
    holder.acquire()
    election = b.Election(path, "waiting")
    errors: List[BaseException] = []
    thread = threading.Thread(target=lambda: _catch(errors, election.run, lambda: None))
    thread.start()
    wait_until(lambda: len(election.contenders()) == 2, DEADLINE, "the candidate")
    election.cancel()
    thread.join(DEADLINE)
    assert len(errors) == 1 and isinstance(errors[0], zk.CancelledError)
    holder.release()


def _catch(errors: List[BaseException], func: Callable, *args: object) -> None:
    try:
        func(*args)
    except BaseException as error:  # noqa: BLE001 - the test checks it
        errors.append(error)


def test_barriers(server: Server, clients: Callable[..., zk.Client], path: str) -> None:
    a, b = clients(server.address), clients(server.address)
    barrier = a.Barrier(path + "/b")
    barrier.create()
    assert b.Barrier(path + "/b").wait(timeout=0.2) is False
    opened: List[bool] = []
    thread = threading.Thread(target=lambda: opened.append(b.Barrier(path + "/b").wait()))
    thread.start()
    assert barrier.remove() is True
    thread.join(DEADLINE)
    assert opened == [True]

    d1 = a.DoubleBarrier(path + "/d", 2, "one")
    d2 = b.DoubleBarrier(path + "/d", 2, "two")
    assert d1.num_clients == 2
    entered: List[bool] = []
    thread = threading.Thread(target=lambda: entered.append(d1.enter(timeout=DEADLINE)))
    thread.start()
    assert d2.enter(timeout=DEADLINE) is True
    thread.join(DEADLINE)
    assert entered == [True]
    left: List[bool] = []
    thread = threading.Thread(target=lambda: left.append(d1.leave(timeout=DEADLINE)))
    thread.start()
    assert d2.leave(timeout=DEADLINE) is True
    thread.join(DEADLINE)
    assert left == [True]


def test_queues(server: Server, clients: Callable[..., zk.Client], path: str) -> None:
    a, b = clients(server.address), clients(server.address)
    queue = a.Queue(path + "/q")
    assert queue.get() is None and len(queue) == 0
    queue.put(b"second")
    queue.put(b"first", priority=1)
    assert len(queue) == 2
    assert b.Queue(path + "/q").get() == b"first"
    assert queue.get() == b"second"
    with pytest.raises(TypeError):
        queue.put("text")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        queue.put(b"x", priority=1000)
    got: List[object] = []
    thread = threading.Thread(target=lambda: got.append(
        b.Queue(path + "/q").get(block=True, timeout=DEADLINE)))
    thread.start()
    queue.put(b"late")
    thread.join(DEADLINE)
    assert got == [b"late"]

    lq = a.LockingQueue(path + "/lq")
    lq.put(b"a")
    lq.put_all([b"b", b"c"], priority=50)
    assert len(lq) == 3
    consumer = b.LockingQueue(path + "/lq")
    assert consumer.get(timeout=DEADLINE) == b"b"
    assert consumer.holds_lock()
    assert consumer.release() is True
    assert consumer.get(timeout=DEADLINE) == b"b"
    assert consumer.consume() is True and not consumer.holds_lock()
    assert len(lq) == 2
    assert lq.get(timeout=0.1) == b"c"
    assert consumer.get(timeout=0.1) == b"a"
    assert lq.consume() and consumer.consume()
    assert consumer.get(timeout=0.1) is None


def test_counter(server: Server, clients: Callable[..., zk.Client], path: str) -> None:
    a, b = clients(server.address), clients(server.address)
    counter = a.Counter(path)
    assert counter.value == 0
    counter += 5
    assert (counter.pre_value, counter.post_value) == (0, 5)
    other = b.Counter(path)
    other -= 2
    assert counter.value == 3 and a.get(path)[0] == b"3"
    threads = [threading.Thread(target=lambda c=c: [c.__add__(1) for _ in range(20)])
               for c in (a.Counter(path), b.Counter(path))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE)
    assert counter.value == 43
    with pytest.raises(TypeError):
        counter += 1.5  # type: ignore[operator]
    curator = a.Counter(path + "-c", default=7, support_curator=True)
    curator += 1
    assert curator.value == 8 and a.get(path + "-c")[0] == (8).to_bytes(4, "big")


def test_party(server: Server, clients: Callable[..., zk.Client], path: str) -> None:
    a, b = clients(server.address), clients(server.address)
    one, two = a.Party(path, "one"), b.Party(path, "two")
    one.join()
    two.join()
    assert sorted(one) == ["one", "two"] and len(two) == 2
    assert one.participating
    assert two.leave() is True and two.leave() is False
    assert list(one) == ["one"]
    b.stop()
    assert list(one) == ["one"]


def test_tree_cache(client: zk.Client, path: str) -> None:
    client.create(path + "/a/b", b"x", makepath=True)
    events = Recorder()
    cache = client.TreeCache(path)
    cache.listen(events)
    cache.start()
    events.wait_for(lambda calls: any(c[0].event_type == zk.TreeEvent.INITIALIZED
                                      for c in calls), "the initial load")
    added = {c[0].event_data.path for c in events.calls
             if c[0].event_type == zk.TreeEvent.NODE_ADDED}
    assert added == {path, path + "/a", path + "/a/b"}
    data = cache.get_data(path + "/a/b")
    assert isinstance(data, zk.NodeData) and data.data == b"x"
    assert cache.get_children(path) == frozenset({"a"})
    assert cache.get_data(path + "/none") is None and cache.get_children(path + "/none") is None
    client.set(path + "/a/b", b"y")
    events.wait_for(lambda calls: calls[-1][0].event_type == zk.TreeEvent.NODE_UPDATED,
                    "the update")
    assert cache.get_data(path + "/a/b").data == b"y"
    client.delete(path + "/a/b")
    events.wait_for(lambda calls: calls[-1][0].event_type == zk.TreeEvent.NODE_REMOVED,
                    "the removal")
    assert cache.get_children(path + "/a") == frozenset()
    cache.close()
    events.wait_for(lambda calls: calls[-1][0].event_type == zk.TreeEvent.CONNECTION_LOST,
                    "the close")
