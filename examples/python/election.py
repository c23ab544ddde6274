"""Leader election, the classic recipe written out: each contender creates an ephemeral
sequential node; the lowest leads; every other contender watches only the node just
before its own. When the leader goes, exactly one contender wakes up (no herd effect).
(zk.Election packages the same algorithm on kazoo's layout.)

    python3 examples/python/election.py 127.0.0.1:2181
"""

import os
import queue
import threading

from common import connect, hosts, say, verdict

CONTENDERS = 4


def contend(n, directory, leaders, resign, wakeups, placed):
    client = connect(hosts())
    path = client.create(f"{directory}/n_", str(n).encode(), ephemeral=True, sequence=True)
    me = path.rsplit("/", 1)[1]
    while True:
        line = sorted(client.get_children(directory))  # the ten-digit suffix sorts as text
        position = line.index(me)
        if position == 0:
            say(f"contender {n} ({me}) leads")
            placed.release()
            leaders.put(n)
            resign.wait()
            client.close()  # its session, and so its node, ends
            return
        before = line[position - 1]
        say(f"contender {n} ({me}) watches {before}")
        gone = threading.Event()
        if client.exists(f"{directory}/{before}", watch=lambda event: gone.set()):
            placed.release()
            gone.wait()
            wakeups.append(n)
            say(f"contender {n} woke up: {before} is gone")


def main():
    admin = connect(hosts())
    # A directory of our own, so nodes a killed earlier run left behind are not in line.
    directory = f"/examples/election/run-{os.getpid()}"
    admin.ensure_path(directory)
    leaders, wakeups, placed = queue.Queue(), [], threading.Semaphore(0)
    resign = [threading.Event() for _ in range(CONTENDERS)]
    threads = [threading.Thread(target=contend, daemon=True,
                                args=(n, directory, leaders, resign[n], wakeups, placed))
               for n in range(CONTENDERS)]
    for thread in threads:
        thread.start()
    # Everyone in line (leading or watching) before the first leader steps down.
    if not all(placed.acquire(timeout=30) for _ in threads):
        verdict("election", False, "the contenders did not get in line")
    ok = True
    for round in range(CONTENDERS):
        try:
            leader = leaders.get(timeout=30)
        except queue.Empty:
            verdict("election", False, "no leader came")
        woken = len(wakeups)
        say(f"round {round}: contender {leader} leads; contenders woken so far: {woken}")
        ok &= woken == round  # each resignation woke exactly one contender
        resign[leader].set()  # the leader steps down
    for thread in threads:
        thread.join(30)
    admin.delete(directory, recursive=True)
    admin.close()
    verdict("election", ok, "each change of leader woke exactly one contender")


if __name__ == "__main__":
    main()
