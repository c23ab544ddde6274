"""kazoo's Lock in its own process, on the path our Node Lock contends for.

    python kazoo_lock.py HOSTS LOCK_PATH HOLDER_PATH ROUNDS

Each round takes the lock, claims HOLDER_PATH (an ephemeral node: creating it fails if
another holder has it), does a few round trips, releases the claim and the lock. Prints
`ready` once connected and `done N` at the end; exits 2 if it ever found another holder.
"""

import sys

from kazoo.client import KazooClient
from kazoo.exceptions import NodeExistsError


def main() -> int:
    hosts, lock_path, holder_path, rounds = sys.argv[1:5]
    zk = KazooClient(hosts=hosts, timeout=10.0)
    zk.start(timeout=30)
    print("ready", flush=True)
    lock = zk.Lock(lock_path, identifier="kazoo")
    try:
        for _ in range(int(rounds)):
            with lock:
                try:
                    zk.create(holder_path, b"kazoo", ephemeral=True)
                except NodeExistsError:
                    owner, _ = zk.get(holder_path)
                    print(f"two holders: kazoo and {owner.decode()}", flush=True)
                    return 2
                for _ in range(3):
                    zk.sync(lock_path)
                zk.delete(holder_path)
        print(f"done {rounds}", flush=True)
        return 0
    finally:
        zk.stop()
        zk.close()


if __name__ == "__main__":
    sys.exit(main())
