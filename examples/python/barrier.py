"""Barrier (zk.DoubleBarrier): a computation starts only once every participant has
arrived, and nobody leaves before everybody has finished.

    python3 examples/python/barrier.py 127.0.0.1:2181
"""

import os
import threading
import time

from common import connect, hosts, say, verdict

PARTICIPANTS = 4


def main():
    path = f"/examples/barrier/run-{os.getpid()}"
    entered, finished, results = [], [], []

    def participate(n):
        client = connect(hosts())
        barrier = client.DoubleBarrier(path, PARTICIPANTS, str(n))
        time.sleep(0.1 * n)  # arrive one after another, so the early ones really wait
        entered.append(n)
        say(f"participant {n} arrives")
        assert barrier.enter(timeout=30)
        all_in = len(entered) == PARTICIPANTS
        say(f"participant {n} starts working")
        time.sleep(0.05 * (PARTICIPANTS - n))
        finished.append(n)
        say(f"participant {n} finished, leaving")
        assert barrier.leave(timeout=30)
        all_done = len(finished) == PARTICIPANTS
        say(f"participant {n} left")
        client.close()
        results.append(all_in and all_done)

    threads = [threading.Thread(target=participate, args=(n,)) for n in range(PARTICIPANTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    admin = connect(hosts())
    admin.delete(path, recursive=True)
    admin.close()
    verdict("barrier", len(results) == PARTICIPANTS and all(results),
            "nobody started before all arrived, nobody left before all finished")


if __name__ == "__main__":
    main()
