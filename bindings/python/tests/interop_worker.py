"""One contender of the kazoo interop test, run as its own process.

    interop_worker.py LIB RECIPE HOSTS PATH LOG ROUNDS [MAX_LEASES]

LIB is `zk` (this package) or `kazoo`; RECIPE is `lock`, `election` or `semaphore`. The
worker connects, prints `ready`, waits for a line on stdin, then ROUNDS times takes the
recipe and, while holding it, appends `enter ID` and `exit ID` lines to LOG (one write
each, O_APPEND) around a read-modify-write of the counter node PATH-counter without a
version check: an overlap of two holders shows in the log and as a lost increment.
"""

from __future__ import annotations

import os
import sys


def main() -> int:
    lib, recipe, hosts, path, log_path, rounds = sys.argv[1:7]
    max_leases = int(sys.argv[7]) if len(sys.argv) > 7 else 1
    ident = f"{lib}-{os.getpid()}"
    counter = path + "-counter"
    if lib == "zk":
        import zk

        client = zk.Client(hosts, timeout=20.0)
        client.start(timeout=60)
    else:
        from kazoo.client import KazooClient

        client = KazooClient(hosts=hosts, timeout=20.0)
        client.start(timeout=60)
    client.ensure_path(counter)
    log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def critical() -> None:
        os.write(log, f"enter {ident}\n".encode())
        if recipe != "semaphore":
            data, _ = client.get(counter)
            client.set(counter, str(int(data or b"0") + 1).encode())
        os.write(log, f"exit {ident}\n".encode())

    print("ready", flush=True)
    sys.stdin.readline()
    for _ in range(int(rounds)):
        if recipe == "lock":
            with client.Lock(path, ident):
                critical()
        elif recipe == "election":
            client.Election(path, ident).run(critical)
        else:
            with client.Semaphore(path, ident, max_leases=max_leases):
                critical()
    os.close(log)
    client.stop()
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
