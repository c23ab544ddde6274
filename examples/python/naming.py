"""Naming service: unique names from sequential znodes. Several clients ask for job names
at once; the server appends a ten-digit counter to each create under /examples/naming, so
no two names are ever the same, and each client's names grow.

    python3 examples/python/naming.py 127.0.0.1:2181
"""

import threading

from common import connect, hosts, say, verdict

WORKERS, NAMES_EACH = 4, 5


def worker(hosts, n, names):
    client = connect(hosts)  # another process, in real life
    for _ in range(NAMES_EACH):
        path = client.create("/examples/naming/job-", f"requested by worker {n}".encode(),
                             sequence=True)
        say(f"worker {n} got {path}")
        names[n].append(path)
    client.close()


def main():
    admin = connect(hosts())
    admin.ensure_path("/examples/naming")
    names = [[] for _ in range(WORKERS)]
    threads = [threading.Thread(target=worker, args=(hosts(), n, names)) for n in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = {name for mine in names for name in mine}
    increasing = all(mine == sorted(mine) for mine in names)
    admin.close()
    verdict("naming", len(every) == WORKERS * NAMES_EACH and increasing,
            f"{len(every)} unique names")


if __name__ == "__main__":
    main()
