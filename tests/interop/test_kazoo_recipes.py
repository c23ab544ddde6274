"""kazoo (latest from PyPI) recipes against the server under test.

Each recipe is driven by several KazooClients (several sessions), from
threads, and every wait has a deadline.
"""

from __future__ import annotations

import queue
import threading

from support import join_workers, start_workers, wait_until

DEADLINE = 30.0


def test_lock_mutual_exclusion(make_client, unique_path):
    """Three sessions increment a counter without versions: only safe if the lock excludes."""
    lock_path = f"{unique_path}/lock"
    counter_path = f"{unique_path}/counter"
    clients = [make_client() for _ in range(3)]
    clients[0].create(counter_path, b"0", makepath=True)
    guard = threading.Lock()
    inside = set()
    overlaps = []
    rounds = 5

    def worker(index: int) -> None:
        client = clients[index]
        lock = client.Lock(lock_path, f"worker-{index}")
        for _ in range(rounds):
            assert lock.acquire(timeout=DEADLINE), f"worker {index} never got the lock"
            try:
                with guard:
                    if inside:
                        overlaps.append((index, set(inside)))
                    inside.add(index)
                value = int(client.get(counter_path)[0])
                client.set(counter_path, str(value + 1).encode())
                with guard:
                    inside.discard(index)
            finally:
                lock.release()

    join_workers(start_workers(worker, [(i,) for i in range(3)]), DEADLINE * 2)
    assert overlaps == []
    assert int(clients[0].get(counter_path)[0]) == 3 * rounds
    assert clients[0].get_children(lock_path) == []


def test_lock_contenders_and_handover(make_client, unique_path):
    lock_path = f"{unique_path}/lock"
    holder_client, *waiter_clients = [make_client() for _ in range(3)]
    holder = holder_client.Lock(lock_path, "holder")
    assert holder.acquire(timeout=DEADLINE)
    acquired = queue.Queue()
    release = {name: threading.Event() for name in ("w1", "w2")}

    def wait_for_lock(client, name):
        lock = client.Lock(lock_path, name)
        assert lock.acquire(timeout=DEADLINE)
        acquired.put(name)
        assert release[name].wait(DEADLINE)
        lock.release()

    workers = start_workers(wait_for_lock, [(waiter_clients[0], "w1"), (waiter_clients[1], "w2")])
    contenders = wait_until(lambda: (lambda c: c if len(c) == 3 else None)(holder.contenders()),
                            DEADLINE, "three lock contenders")
    assert contenders[0] == "holder"
    assert sorted(contenders[1:]) == ["w1", "w2"]
    assert acquired.empty(), "a waiter got the lock while it was held"
    non_blocking = waiter_clients[0].Lock(lock_path, "probe")
    assert non_blocking.acquire(blocking=False) is False

    holder.release()
    first = acquired.get(timeout=DEADLINE)
    assert first == contenders[1], "lock must go to the next contender in sequence order"
    assert acquired.empty()
    release[first].set()
    second = acquired.get(timeout=DEADLINE)
    assert second != first
    release[second].set()
    join_workers(workers, DEADLINE)


def test_election_one_leader_at_a_time(make_client, unique_path):
    election_path = f"{unique_path}/election"
    clients = [make_client() for _ in range(3)]
    leaders = queue.Queue()
    release = {f"c{i}": threading.Event() for i in range(3)}
    guard = threading.Lock()
    leading = set()
    overlaps = []

    def lead(name):
        with guard:
            if leading:
                overlaps.append((name, set(leading)))
            leading.add(name)
        leaders.put(name)
        release[name].wait(DEADLINE)
        with guard:
            leading.discard(name)

    def candidate(index):
        name = f"c{index}"
        clients[index].Election(election_path, name).run(lead, name)

    workers = start_workers(candidate, [(i,) for i in range(3)])
    observer = clients[0].Election(election_path)
    wait_until(lambda: len(observer.contenders()) == 3, DEADLINE, "three election contenders")
    order = []
    for _ in range(3):
        leader = leaders.get(timeout=DEADLINE)
        assert observer.contenders()[0] == leader
        order.append(leader)
        release[leader].set()
    join_workers(workers, DEADLINE)
    assert sorted(order) == ["c0", "c1", "c2"]
    assert overlaps == []


def test_queue_priority_and_fifo(make_client, unique_path):
    producer, consumer = make_client(), make_client()
    producer_queue = producer.Queue(f"{unique_path}/queue")
    for value, priority in [(b"low-1", 200), (b"high", 10), (b"mid-1", 100), (b"mid-2", 100),
                            (b"low-2", 200)]:
        producer_queue.put(value, priority=priority)
    consumer_queue = consumer.Queue(f"{unique_path}/queue")
    assert len(consumer_queue) == 5
    taken = [consumer_queue.get() for _ in range(5)]
    assert taken == [b"high", b"mid-1", b"mid-2", b"low-1", b"low-2"]
    assert consumer_queue.get() is None
    assert len(producer_queue) == 0


def test_locking_queue(make_client, unique_path):
    path = f"{unique_path}/lqueue"
    first, second = make_client(), make_client()
    first_queue, second_queue = first.LockingQueue(path), second.LockingQueue(path)
    first_queue.put_all([b"a", b"b"], priority=50)
    first_queue.put(b"urgent", priority=1)
    assert len(second_queue) == 3
    assert first_queue.get(timeout=DEADLINE) == b"urgent"
    assert first_queue.holds_lock()
    assert second_queue.get(timeout=DEADLINE) == b"a"  # the locked entry is skipped
    assert second_queue.release()  # back into the queue, unconsumed
    assert first_queue.consume()
    assert len(second_queue) == 2
    assert second_queue.get(timeout=DEADLINE) == b"a"
    assert second_queue.consume()
    assert first_queue.get(timeout=DEADLINE) == b"b"
    assert first_queue.consume()
    assert len(second_queue) == 0


def test_barrier(make_client, unique_path):
    path = f"{unique_path}/barrier"
    owner, waiter = make_client(), make_client()
    barrier = owner.Barrier(path)
    barrier.create()
    waiter_barrier = waiter.Barrier(path)
    assert waiter_barrier.wait(timeout=0.3) is False  # still up: the wait times out
    workers = start_workers(lambda: waiter.Barrier(path).wait(timeout=DEADLINE), [()])
    assert not workers[0].done.is_set()
    barrier.remove()
    assert join_workers(workers, DEADLINE) == [True]
    assert waiter_barrier.wait(timeout=DEADLINE) is True


def test_double_barrier(make_client, unique_path):
    path = f"{unique_path}/double"
    clients = [make_client() for _ in range(3)]
    entered = []
    left = []
    guard = threading.Lock()

    def participant(index):
        barrier = clients[index].DoubleBarrier(path, 3, identifier=f"p{index}")
        barrier.enter()
        with guard:
            entered.append(index)
        barrier.leave()
        with guard:
            left.append(index)

    early = start_workers(participant, [(0,), (1,)])
    wait_until(lambda: clients[0].exists(path) and len(clients[0].get_children(path)) == 2,
               DEADLINE, "two participants registered")
    assert entered == [], "the barrier opened before all 3 participants arrived"
    late = start_workers(participant, [(2,)])
    join_workers(early + late, DEADLINE)
    assert sorted(entered) == [0, 1, 2]
    assert sorted(left) == [0, 1, 2]
    assert clients[0].get_children(path) == []


def test_counter(make_client, unique_path):
    path = f"{unique_path}/counter"
    clients = [make_client() for _ in range(3)]
    counter = clients[0].Counter(path)
    counter += 5
    counter -= 2
    assert counter.value == 3
    assert (counter.pre_value, counter.post_value) == (5, 3)

    def increment(index):
        shared = clients[index].Counter(path)
        for _ in range(10):
            shared += 1

    join_workers(start_workers(increment, [(i,) for i in range(3)]), DEADLINE * 2)
    assert clients[1].Counter(path).value == 33

    float_counter = clients[0].Counter(f"{unique_path}/float", default=0.5)
    float_counter += 0.25
    assert float_counter.value == 0.75


def test_data_watch(make_client, unique_path):
    path = f"{unique_path}/data"
    watcher_client, writer = make_client(), make_client()
    seen = []
    writer.ensure_path(unique_path)

    @watcher_client.DataWatch(path)
    def on_change(data, stat):
        seen.append((data, stat.version if stat else None))

    wait_until(lambda: seen == [(None, None)], DEADLINE, "initial DataWatch call")
    writer.create(path, b"one")
    wait_until(lambda: len(seen) == 2, DEADLINE, "DataWatch after create")
    writer.set(path, b"two")
    wait_until(lambda: len(seen) == 3, DEADLINE, "DataWatch after set")
    writer.delete(path)
    wait_until(lambda: len(seen) == 4, DEADLINE, "DataWatch after delete")
    assert seen == [(None, None), (b"one", 0), (b"two", 1), (None, None)]


def test_children_watch(make_client, unique_path):
    watcher_client, writer = make_client(), make_client()
    writer.ensure_path(unique_path)
    seen = []

    @watcher_client.ChildrenWatch(unique_path)
    def on_children(children):
        seen.append(sorted(children))

    wait_until(lambda: seen == [[]], DEADLINE, "initial ChildrenWatch call")
    writer.create(f"{unique_path}/a")
    wait_until(lambda: seen[-1] == ["a"], DEADLINE, "child a")
    writer.create(f"{unique_path}/b")
    wait_until(lambda: seen[-1] == ["a", "b"], DEADLINE, "children a, b")
    writer.set(f"{unique_path}/a", b"data changes do not fire child watches")
    writer.delete(f"{unique_path}/a")
    wait_until(lambda: seen[-1] == ["b"], DEADLINE, "child b only")
    assert seen == [[], ["a"], ["a", "b"], ["b"]]
