"""What every example shares: where the ensemble is, how to connect, the verdict line.
Each other file here is one of the classic ZooKeeper use cases (see README.md)."""

import os
import sys
import threading

import zk

_printing = threading.Lock()


def hosts():
    """The connect string: the first argument, else $ZK_HOSTS, else 127.0.0.1:2181."""
    return sys.argv[1] if len(sys.argv) > 1 else os.environ.get("ZK_HOSTS", "127.0.0.1:2181")


def connect(hosts, timeout=10.0):
    """A new session (each call is another client, as another process would be)."""
    client = zk.Client(hosts, timeout=timeout)
    try:
        client.start(timeout=15)
    except zk.ZkError as e:
        sys.exit(f"cannot connect to {hosts}: {e}")
    return client


def say(line):
    """Prints a line in one write: threads print too, and worker processes may share
    our stdout."""
    with _printing:
        sys.stdout.write(f"{line}\n")
        sys.stdout.flush()


def verdict(example, ok, detail):
    """Prints the line the tests look for and exits 0 or 1."""
    say(f"{example}: {'ok' if ok else 'FAILED'} ({detail})")
    sys.exit(0 if ok else 1)
