"""Threads, signals and fork: callbacks on one dispatch thread per client, in order; close
and calls from inside callbacks; exceptions in callbacks logged; the GIL released while a
call blocks; Ctrl-C interrupting a blocking call; a client across os.fork()."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any, Callable, List

import pytest

import zk
from helpers import DEADLINE, Recorder
from servers import Server, wait_until

E = zk.EventType
PYTHON = sys.executable


def test_callbacks_run_in_order_on_one_thread(client: zk.Client, path: str) -> None:
    client.create(path)
    calls = Recorder()
    client.add_watch(path, recursive=True, callback=calls)
    results = [client.create_async(f"{path}/n{i:03}") for i in range(50)]
    for r in results:
        r.get(timeout=DEADLINE)
    calls.wait_count(50)
    assert [c[0].path for c in calls.calls] == [f"{path}/n{i:03}" for i in range(50)]
    assert len(set(calls.threads)) == 1 and calls.threads[0].startswith("zk-dispatch")


def test_close_from_inside_a_watch_callback(
        server: Server, clients: Callable[..., zk.Client], path: str) -> None:
    client = clients(server.address)
    listener = Recorder()
    client.add_listener(listener)
    closed = threading.Event()
    errors: List[BaseException] = []

    def on_change(event: zk.WatchedEvent) -> None:
        try:
            assert client.get(path)[0] == b"1", "calls work from a callback"
            client.close()
            closed.set()
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)
            closed.set()

    client.create(path, b"0")
    client.get(path, watch=on_change)
    client.set(path, b"1")
    assert closed.wait(DEADLINE), "close() from a callback returned"
    assert not errors, errors
    listener.wait_value(zk.State.CLOSED)
    with pytest.raises(zk.ConnectionClosedError):
        client.get(path)


def test_stop_and_restart_from_a_listener(
        server: Server, clients: Callable[..., zk.Client], path: str) -> None:
    client = clients(server.address, start=False)
    restarted = threading.Event()
    seen: List[zk.State] = []

    def listener(state: zk.State) -> None:
        seen.append(state)
        if seen == [zk.State.CONNECTED]:
            client.stop()
            client.start(timeout=DEADLINE)
            client.create(path, b"from a listener")
            restarted.set()

    client.add_listener(listener)
    client.start(timeout=DEADLINE)
    assert restarted.wait(DEADLINE)
    assert client.get(path)[0] == b"from a listener"


def test_exceptions_in_callbacks_are_logged_and_later_callbacks_run(
        client: zk.Client, path: str, caplog: pytest.LogCaptureFixture) -> None:
    client.create(path)
    after = Recorder()

    def broken(event: zk.WatchedEvent) -> None:
        raise ValueError("broken watch callback")

    with caplog.at_level(logging.ERROR, logger="zk"):
        client.get(path, watch=broken)
        client.get(path, watch=after)
        client.set(path, b"x")
        after.wait_count(1)
        wait_until(lambda: any(r.exc_info and "broken watch callback" in str(r.exc_info[1])
                               for r in caplog.records), DEADLINE, "the logged exception")
    record = next(r for r in caplog.records if r.exc_info)
    assert record.name == "zk" and record.levelno == logging.ERROR
    assert client.get(path)[0] == b"x", "the client still works"


def test_the_gil_is_released_while_a_call_blocks(client: zk.Client, path: str) -> None:
    holder = client.Lock(path, "holder")
    holder.acquire()
    waiter_client = zk.Client(client.hosts)
    waiter_client.start(timeout=DEADLINE)
    waiter = waiter_client.Lock(path, "waiter")
    got: List[bool] = []
    thread = threading.Thread(target=lambda: got.append(waiter.acquire()))
    thread.start()
    wait_until(lambda: len(holder.contenders()) == 2, DEADLINE, "the waiter to queue")
    # This thread keeps running Python while the other blocks in acquire().
    spins = 0
    deadline = time.monotonic() + 0.2
    while time.monotonic() < deadline:
        spins += 1
    assert spins > 1000 and thread.is_alive()
    holder.release()
    thread.join(DEADLINE)
    assert got == [True]
    waiter.release()
    waiter_client.close()


CHILD_BLOCKS = """
import sys, time, zk
client = zk.Client(sys.argv[1])
client.start(timeout=30)
blocker = sys.argv[2]
lock = client.Lock(sys.argv[3], "child")
watch = client.add_watch(sys.argv[3] + "-w")
started = time.monotonic()
try:
    print("ready", flush=True)
    if blocker == "lock":
        lock.acquire()
    elif blocker == "watch":
        next(watch)
    elif blocker == "async_result":
        client.Lock(sys.argv[3], "child").acquire_async().get()
    print("returned without an interrupt", flush=True)
    sys.exit(3)
except KeyboardInterrupt:
    print(f"interrupted after {time.monotonic() - started:.3f}", flush=True)
client.close()
sys.exit(0)
"""


@pytest.mark.parametrize("blocker", ["lock", "watch", "async_result"])
def test_ctrl_c_interrupts_a_blocking_call(client: zk.Client, path: str, blocker: str) -> None:
    holder = client.Lock(path, "parent")
    holder.acquire()
    child = subprocess.Popen([PYTHON, "-c", CHILD_BLOCKS, client.hosts, blocker, path],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        if blocker in ("lock", "async_result"):
            wait_until(lambda: len(holder.contenders()) == 2, DEADLINE, "the child to queue")
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=DEADLINE)
        elapsed = time.monotonic() - sent
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, (out, err)
    assert "interrupted after" in out
    # The call checks for signals every 50 ms; a loaded machine adds its own delay, so
    # this only rules out waiting for the call to end by itself.
    assert elapsed < 10, elapsed
    holder.release()


CHILD_FORK = """
import os, sys, zk
client = zk.Client(sys.argv[1])
client.start(timeout=30)
path = sys.argv[2]
client.create(path, b"parent")
pid = os.fork()
if pid == 0:
    code = 0
    try:
        client.get(path)
        code = 10
    except zk.ConnectionClosedError as error:
        if "fork" not in str(error):
            code = 11
    try:
        fresh = zk.Client(sys.argv[1])
        fresh.start(timeout=30)
        fresh.create(path + "/child", b"made in the child")
        fresh.close()
    except Exception as error:
        print("child client failed:", repr(error), flush=True)
        code = 12
    os._exit(code)
_, status = os.waitpid(pid, 0)
assert client.get(path + "/child")[0] == b"made in the child", "parent sees the child's write"
client.set(path, b"parent still works")
client.close()
sys.exit(os.waitstatus_to_exitcode(status))
"""


def test_fork_child_gets_a_clear_error_and_can_make_its_own_client(
        server: Server, path: str) -> None:
    done = subprocess.run([PYTHON, "-c", CHILD_FORK, server.address, path],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr)
    with zk.Client(server.address) as client:
        assert client.get(path)[0] == b"parent still works"


def test_fork_in_process_parent_keeps_working(client: zk.Client, path: str) -> None:
    client.create(path, b"before")
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child exits at once
        try:
            client.exists(path)
            os._exit(1)
        except zk.ConnectionClosedError:
            os._exit(0)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert client.set(path, b"after").version == 1


def test_interpreter_exits_with_live_clients(server: Server, tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import zk
        c = zk.Client("{server.address}")
        c.start(timeout=30)
        c.add_listener(lambda s: None)
        c.get("/", watch=lambda e: None)
        c.add_watch("/", recursive=True, callback=lambda e: None)
        print("done", flush=True)
    """)
    done = subprocess.run([PYTHON, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "done" and done.stderr == ""
