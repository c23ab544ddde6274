"""zk-core's recipes (driven through core/examples/recipe_cli.rs) against kazoo's on the
same znodes: locks exclude each other in both orders and hand over in sequence order,
our election and kazoo's Election share one line, and the counter and queue share data.

Layouts (see core/src/recipes/mod.rs): our Curator-layout lock writes
`_c_<uuid>-lock-<seq>`, which kazoo's Lock sees only with extra_lock_patterns=["-lock-"];
our kazoo-layout lock writes `_c_<uuid>-__lock__<seq>`, which kazoo's default patterns see.
We read both. No test sleeps: every wait has a deadline.
"""

from __future__ import annotations

import os
import queue
import subprocess
import threading
from pathlib import Path
from typing import Iterator, List, Optional

import pytest

from support import REPO_ROOT, join_workers, start_workers, wait_until

DEADLINE = 30.0

# (our layout flag, kazoo Lock extra patterns that make kazoo see our nodes)
LAYOUTS = [("curator", ["-lock-"]), ("kazoo", [])]


@pytest.fixture(scope="session")
def recipe_cli() -> Path:
    """The example binary, built once per session (or $ZK_RECIPE_CLI)."""
    override = os.environ.get("ZK_RECIPE_CLI")
    if override:
        return Path(override)
    subprocess.run(["cargo", "build", "-q", "-p", "zk-core", "--example", "recipe_cli"],
                   cwd=REPO_ROOT, check=True, timeout=900)
    return REPO_ROOT / "target" / "debug" / "examples" / "recipe_cli"


class RustProcess:
    """A running recipe_cli whose output lines are read by a thread."""

    def __init__(self, binary: Path, args: List[str]) -> None:
        self.args = args
        self.proc = subprocess.Popen([str(binary), *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: "queue.Queue[Optional[str]]" = queue.Queue()
        self.seen: List[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def expect(self, prefix: str, timeout: float = DEADLINE) -> str:
        """The next output line, which must start with `prefix`."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"{self.args}: no {prefix!r} line after {timeout}s; "
                               f"seen {self.seen}") from None
        if line is None:
            stderr = self.proc.stderr.read() if self.proc.stderr else ""
            raise AssertionError(f"{self.args} ended (seen {self.seen}) before {prefix!r}: "
                                 f"{stderr}")
        self.seen.append(line)
        assert line.startswith(prefix), f"{self.args}: expected {prefix!r}, got {line!r}"
        return line

    def has_output(self) -> bool:
        return not self.lines.empty()

    def send_line(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()

    def finish(self, timeout: float = DEADLINE) -> int:
        return self.proc.wait(timeout=timeout)


@pytest.fixture
def rust(recipe_cli: Path, server) -> Iterator:
    """Starts recipe_cli commands against the shared server; kills leftovers at teardown."""
    started: List[RustProcess] = []

    def start(*args: str) -> RustProcess:
        process = RustProcess(recipe_cli, [args[0], server.address, *args[1:]])
        started.append(process)
        return process

    yield start
    for process in started:
        if process.proc.poll() is None:
            process.proc.kill()
            process.proc.wait(timeout=DEADLINE)


def lock_children(client, path: str) -> List[str]:
    return client.get_children(path) if client.exists(path) else []


@pytest.mark.parametrize("layout,patterns", LAYOUTS, ids=[l for l, _ in LAYOUTS])
def test_our_lock_then_kazoo_lock(rust, make_client, unique_path, layout, patterns):
    lock_path = f"{unique_path}/lock"
    holder = rust("hold", lock_path, "--layout", layout)
    token = int(holder.expect("ACQUIRED").split()[1])
    assert token > 0
    client = make_client()
    probe = client.Lock(lock_path, "probe", extra_lock_patterns=patterns)
    assert probe.acquire(blocking=False) is False, "kazoo took a lock we hold"

    waiter = client.Lock(lock_path, "kazoo", extra_lock_patterns=patterns)
    worker = start_workers(lambda: waiter.acquire(timeout=DEADLINE), [()])[0]
    wait_until(lambda: len(lock_children(client, lock_path)) == 2, DEADLINE,
               "kazoo's contender node")
    assert not worker.done.is_set(), "kazoo acquired while we hold the lock"
    holder.send_line()
    holder.expect("RELEASED")
    assert worker.join_checked(DEADLINE) is True
    assert holder.finish() == 0
    waiter.release()


@pytest.mark.parametrize("layout,patterns", LAYOUTS, ids=[l for l, _ in LAYOUTS])
def test_kazoo_lock_then_our_lock(rust, make_client, unique_path, layout, patterns):
    lock_path = f"{unique_path}/lock"
    client = make_client()
    lock = client.Lock(lock_path, "kazoo", extra_lock_patterns=patterns)
    assert lock.acquire(timeout=DEADLINE)
    ours = rust("hold", lock_path, "--layout", layout)
    ours.expect("WAITING")
    wait_until(lambda: len(lock.contenders()) == 2, DEADLINE, "our contender, as kazoo sees it")
    assert not ours.has_output(), f"we acquired while kazoo holds: {ours.seen}"
    lock.release()
    ours.expect("ACQUIRED")
    probe = make_client().Lock(lock_path, "probe", extra_lock_patterns=patterns)
    assert probe.acquire(blocking=False) is False, "kazoo took a lock we hold"
    ours.send_line()
    ours.expect("RELEASED")
    assert ours.finish() == 0
    assert probe.acquire(timeout=DEADLINE)
    probe.release()


@pytest.mark.parametrize("layout,patterns", LAYOUTS, ids=[l for l, _ in LAYOUTS])
def test_lock_contention_across_languages(rust, make_client, unique_path, layout, patterns):
    """Two Rust processes and two kazoo sessions take turns; an ephemeral `inside` node that
    each holder creates (and that must not exist yet) detects any overlap."""
    lock_path = f"{unique_path}/lock"
    base = f"{unique_path}/work"
    rounds = 8
    clients = [make_client() for _ in range(2)]
    clients[0].create(f"{base}/counter", b"0", makepath=True)
    overlaps = []

    def kazoo_worker(index: int) -> None:
        client = clients[index]
        lock = client.Lock(lock_path, f"kazoo-{index}", extra_lock_patterns=patterns)
        for _ in range(rounds):
            assert lock.acquire(timeout=DEADLINE)
            try:
                try:
                    client.create(f"{base}/inside", b"kazoo", ephemeral=True)
                except Exception as error:  # noqa: BLE001 - NodeExistsError means overlap
                    overlaps.append(repr(error))
                    return
                value = int(client.get(f"{base}/counter")[0])
                client.set(f"{base}/counter", str(value + 1).encode())
                client.delete(f"{base}/inside")
            finally:
                lock.release()

    procs = [rust("contend", lock_path, base, str(rounds), "--layout", layout) for _ in range(2)]
    workers = start_workers(kazoo_worker, [(0,), (1,)])
    for proc in procs:
        proc.expect("DONE")
        assert proc.finish() == 0
    join_workers(workers, DEADLINE * 2)
    assert overlaps == []
    assert int(clients[0].get(f"{base}/counter")[0]) == 4 * rounds
    assert lock_children(clients[0], lock_path) == []


def test_our_election_with_kazoo_election(rust, make_client, unique_path):
    path = f"{unique_path}/election"
    leading = {name: threading.Event() for name in ("kazoo-1", "kazoo-2")}
    stop = {name: threading.Event() for name in leading}

    def campaign(name: str) -> None:
        election = make_client().Election(path, name)

        def lead() -> None:
            leading[name].set()
            assert stop[name].wait(DEADLINE)

        election.run(lead)

    observer = make_client().Election(path, "observer")
    first = start_workers(campaign, [("kazoo-1",)])
    assert leading["kazoo-1"].wait(DEADLINE)
    ours = rust("hold", path, "--layout", "kazoo", "--id", "rust-1")
    ours.expect("WAITING")
    assert wait_until(lambda: observer.contenders() == ["kazoo-1", "rust-1"], DEADLINE,
                      "kazoo to see our candidate second")
    stop["kazoo-1"].set()
    join_workers(first, DEADLINE)
    ours.expect("ACQUIRED")

    second = start_workers(campaign, [("kazoo-2",)])
    assert wait_until(lambda: observer.contenders() == ["rust-1", "kazoo-2"], DEADLINE,
                      "kazoo to see us lead")
    assert not leading["kazoo-2"].is_set(), "kazoo leads while we do"
    ours.send_line()
    ours.expect("RELEASED")
    assert leading["kazoo-2"].wait(DEADLINE)
    stop["kazoo-2"].set()
    join_workers(second, DEADLINE)
    assert ours.finish() == 0


def test_counter_shared_with_kazoo(rust, make_client, unique_path):
    path = f"{unique_path}/counter"
    counter = make_client().Counter(path)

    def kazoo_adds() -> None:
        for _ in range(20):
            counter.__add__(1)

    workers = start_workers(kazoo_adds, [()])
    ours = rust("counter-add", path, "20")
    ours.expect("DONE")
    assert ours.finish() == 0
    join_workers(workers, DEADLINE)
    assert counter.value == 40
    assert make_client().get(path)[0] == b"40"


def test_queue_shared_with_kazoo(rust, make_client, unique_path):
    path = f"{unique_path}/queue"
    client = make_client()
    kazoo_queue = client.Queue(path)
    put = rust("queue-put", path, "100", "r1", "r2", "r3")
    put.expect("DONE")
    assert put.finish() == 0
    kazoo_queue.put(b"urgent", priority=5)
    assert [kazoo_queue.get() for _ in range(4)] == [b"urgent", b"r1", b"r2", b"r3"]
    assert kazoo_queue.get() is None

    take = rust("queue-take", path, "3")
    kazoo_queue.put(b"k1")
    kazoo_queue.put(b"k2", priority=200)
    kazoo_queue.put(b"k0", priority=1)
    lines = [take.expect("ITEM") for _ in range(3)]
    take.expect("DONE")
    assert take.finish() == 0
    # Each take returns the first item queued at that moment; all three arrive exactly once.
    assert sorted(line.split()[1] for line in lines) == ["k0", "k1", "k2"]
    assert len(kazoo_queue) == 0
