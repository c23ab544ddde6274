"""Distributed lock (zk.Lock, kazoo's layout): contenders queue as ephemeral sequential
nodes and each watches only the one before it, so a release wakes exactly the next in
line (no herd effect) and the lock is handed over in queue order. Then several clients do
a read-modify-write of a counter that only the lock keeps from losing updates.

    python3 examples/python/lock.py 127.0.0.1:2181
"""

import os
import threading
import time

from common import connect, hosts, say, verdict

WORKERS, ROUNDS = 4, 5


def main():
    directory = f"/examples/lock/run-{os.getpid()}"
    counter = f"{directory}-counter"
    first = connect(hosts())
    first.create(counter, b"0", makepath=True)

    # 1. Queue order: while one client holds the lock, workers line up one by one.
    holder = first.Lock(directory, "holder")
    holder.acquire()
    clients = [connect(hosts()) for _ in range(WORKERS)]
    order = []

    def take_turn(n):
        with clients[n].Lock(directory, f"worker {n}") as lock:
            say(f"worker {n} got the lock (fencing token {lock.fencing_token:#x})")
            order.append(n)

    workers = []
    for n in range(WORKERS):
        workers.append(threading.Thread(target=take_turn, args=(n,)))
        workers[-1].start()
        while len(holder.contenders()) < n + 2:
            time.sleep(0.005)  # wait until it is in line
        say(f"worker {n} is in line")
    holder.release()
    for worker in workers:
        worker.join()
    fifo = order == list(range(WORKERS))

    # 2. Mutual exclusion: unprotected read-modify-writes, serialised by the lock.
    inside, overlaps = threading.Lock(), []

    def add(client):
        for _ in range(ROUNDS):
            with client.Lock(directory):
                if not inside.acquire(blocking=False):
                    overlaps.append(client)
                value, _ = client.get(counter)
                client.set(counter, str(int(value) + 1).encode())
                inside.release()
        client.close()

    workers = [threading.Thread(target=add, args=(client,)) for client in clients]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    total = int(first.get(counter)[0])
    say(f"counter {total}, expected {WORKERS * ROUNDS}")
    first.delete(directory, recursive=True)
    first.delete(counter)
    first.close()
    verdict("lock", fifo and not overlaps and total == WORKERS * ROUNDS,
            "handed over in queue order; no update lost")


if __name__ == "__main__":
    main()
