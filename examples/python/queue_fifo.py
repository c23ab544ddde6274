"""FIFO queue (zk.Queue, kazoo's layout) between processes: producers and consumers are
separate programs sharing only the znode /examples/queue/<run>. Every item is consumed
exactly once, and each consumer gets any one producer's items in the order they were put.

    python3 examples/python/queue_fifo.py 127.0.0.1:2181

(It starts its producers and consumers itself: `queue_fifo.py HOSTS produce PATH ID COUNT`
and `queue_fifo.py HOSTS consume PATH ID` are one of each.)
"""

import os
import subprocess
import sys
import threading
from collections import Counter

from common import connect, hosts, say, verdict

PRODUCERS, CONSUMERS, ITEMS = 2, 2, 10
STOP = b"stop"


def produce(path, n, count):
    client = connect(hosts())
    queue = client.Queue(path)
    for i in range(count):
        queue.put(f"p{n}-{i}".encode())
    client.close()


def consume(path, n):
    # Orphaned (the starting process died, closing our stdin): stop.
    threading.Thread(target=lambda: (sys.stdin.read(), os._exit(3)), daemon=True).start()
    client = connect(hosts())
    queue = client.Queue(path)
    while True:
        item = queue.get(block=True, timeout=60)
        if item is None:
            sys.exit(1)  # nothing for a minute: the test is broken
        if item == STOP:
            break
        say(f"consumer {n} took {item.decode()}")
    client.close()


def main():
    role = sys.argv[2] if len(sys.argv) > 2 else None
    if role == "produce":
        return produce(sys.argv[3], sys.argv[4], int(sys.argv[5]))
    if role == "consume":
        return consume(sys.argv[3], sys.argv[4])
    path = f"/examples/queue/run-{os.getpid()}"

    def start(role, n, *extra):
        return subprocess.Popen([sys.executable, __file__, hosts(), role, path, str(n), *extra],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    consumers = [start("consume", n) for n in range(CONSUMERS)]
    producers = [start("produce", n, str(ITEMS)) for n in range(PRODUCERS)]
    for producer in producers:
        assert producer.wait() == 0, "a producer failed"
    # Everything is queued: one stop per consumer goes after it (FIFO).
    client = connect(hosts())
    queue = client.Queue(path)
    for _ in range(CONSUMERS):
        queue.put(STOP)
    taken, in_order = Counter(), True
    for consumer in consumers:
        last = {}  # per producer
        for line in consumer.stdout:
            print(line, end="", flush=True)
            item = line.strip().split(" took ")[1]
            producer, i = item.split("-")
            in_order &= last.get(producer, -1) < int(i)
            last[producer] = int(i)
            taken[item] += 1
        assert consumer.wait() == 0, "a consumer failed"
    once = len(taken) == PRODUCERS * ITEMS and set(taken.values()) == {1}
    client.delete(path, recursive=True)
    client.close()
    verdict("queue", once and in_order,
            f"{len(taken)} items, each consumed once, in order per producer")


if __name__ == "__main__":
    main()
