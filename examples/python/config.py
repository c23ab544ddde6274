"""Configuration management: a service reloads its configuration whenever it changes. Each
reader keeps a persistent watch on /examples/config/app (it never has to re-arm it, so no
change can slip by) and re-reads the node on every change. The writer publishes five
versions; every reader gets every change, in the same order (the changes' zxids), and
ends on the last version.

    python3 examples/python/config.py 127.0.0.1:2181
"""

import threading

import zk
from common import connect, hosts, say, verdict

READERS, VERSIONS = 3, 5
PATH = "/examples/config/app"


def reader(n, ready, history):
    client = connect(hosts())
    with client.add_watch(PATH) as changes:
        data, _ = client.get(PATH)
        say(f"reader {n} loaded {data.decode()}")
        ready.release()
        for event in changes:
            if event.type != zk.EventType.CHANGED:
                continue  # a connection event
            data, stat = client.get(PATH)  # reload
            say(f"reader {n} reloaded {data.decode()} (change zxid {event.zxid:#x}, "
                  f"read mzxid {stat.mzxid:#x})")
            history.append((event.zxid, data.decode()))
            if len(history) == VERSIONS:
                break
    client.close()


def main():
    writer = connect(hosts())
    writer.ensure_path(PATH)
    writer.set(PATH, b"version=0")
    ready = threading.Semaphore(0)
    histories = [[] for _ in range(READERS)]
    readers = [threading.Thread(target=reader, args=(n, ready, histories[n]), daemon=True)
               for n in range(READERS)]
    for thread in readers:
        thread.start()
    for _ in readers:
        ready.acquire()
    for version in range(1, VERSIONS + 1):
        writer.set(PATH, f"version={version}".encode())
        say(f"writer published version={version}")
    for thread in readers:
        thread.join(30)
    zxids = [[zxid for zxid, _ in history] for history in histories]
    every = all(len(history) == VERSIONS for history in histories)
    same_order = all(z == zxids[0] for z in zxids) and zxids[0] == sorted(zxids[0])
    last = all(history and history[-1][1] == f"version={VERSIONS}" for history in histories)
    writer.close()
    verdict("config", every and same_order and last,
            f"{READERS} readers saw all {VERSIONS} changes in order")


if __name__ == "__main__":
    main()
