"""Client workload of the fault suite and the history it records.

Each worker is a kazoo client pinned to one server, doing random
create/set/get/delete on a few shared keys and creating ephemeral-sequential
nodes. Every operation is recorded with its call and return time
(time.monotonic_ns, relative to the start of the history); an operation whose
outcome the client cannot know (connection loss, timeout, session expiry)
is recorded with `"return": null`.

Reads are `sync` + `getData`, then a *fence*: a write to the worker's own
znode over the same connection. ZooKeeper's sync is not a quorum operation,
so a server that lost the quorum but has not noticed yet (a partitioned or
just-resumed leader) can answer sync + read with stale data. A write that
commits after the read, through the same server without the connection
dropping in between (a server that leaves its quorum closes its client
connections), proves the server was still in the current epoch when it
answered, so only fenced reads go into the linearizability history;
unfenced reads are recorded too, marked `"fenced": false`, so how often
sync + read alone was stale can be reported.
"""

from __future__ import annotations

import itertools
import json
import random
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from kazoo.client import KazooClient
from kazoo.exceptions import NodeExistsError, NoNodeError
from kazoo.protocol.states import KazooState

# A client gives up on one operation after this long; the outcome is then unknown.
OP_TIMEOUT = 10.0
SESSION_TIMEOUT = 10.0


class History:
    """Thread-safe JSON-lines history, plus counters the nemesis waits on."""

    def __init__(self) -> None:
        self.origin = time.monotonic_ns()
        self.records: List[Dict[str, Any]] = []
        self.sequential: List[Dict[str, Any]] = []
        self._lock = threading.Condition()
        self._process_ids = itertools.count()
        self.acked_writes = 0

    def now(self) -> int:
        return time.monotonic_ns() - self.origin

    def new_process(self) -> int:
        """A fresh client id: after an unknown outcome the old operation may
        still be in flight, so the worker continues as a new logical process."""
        return next(self._process_ids)

    def add(self, record: Dict[str, Any]) -> None:
        with self._lock:
            self.records.append(record)
            if record["op"] != "get" and record.get("result") in ("ok", "nodeexists", "nonode"):
                self.acked_writes += 1
                self._lock.notify_all()

    def add_sequential(self, record: Dict[str, Any]) -> None:
        with self._lock:
            self.sequential.append(record)

    def wait_acked_writes(self, count: int, timeout: float) -> bool:
        """Waits until `count` writes have been acknowledged; False at the deadline."""
        with self._lock:
            return self._lock.wait_for(lambda: self.acked_writes >= count, timeout)

    def write(self, path: Path, fenced_reads_only: bool) -> int:
        with self._lock:
            records = sorted(self.records, key=lambda r: r["call"])
        written = 0
        with open(path, "w") as out:
            for record in records:
                if fenced_reads_only and record["op"] == "get" and not record.get("fenced"):
                    continue
                out.write(json.dumps(record) + "\n")
                written += 1
        return written

    def unknown_count(self) -> int:
        with self._lock:
            return sum(1 for r in self.records if r["return"] is None)


def classify(error: BaseException) -> Optional[str]:
    """The definite result an exception stands for, or None when the outcome is unknown."""
    if isinstance(error, NodeExistsError):
        return "nodeexists"
    if isinstance(error, NoNodeError):
        return "nonode"
    return None


def new_client(hosts: str, **kwargs: Any) -> KazooClient:
    kwargs.setdefault("timeout", SESSION_TIMEOUT)
    # Reconnect promptly once a killed server is back: kazoo's default backoff
    # grows to a minute, which would leave a worker idle for most of a short run.
    kwargs.setdefault("connection_retry", {"max_tries": -1, "delay": 0.1, "backoff": 1.5,
                                           "max_delay": 1.0})
    return KazooClient(hosts=hosts, **kwargs)


class Worker(threading.Thread):
    def __init__(self, index: int, hosts: str, server: int, keys: List[str], fence_path: str,
                 sequential_prefix: str, history: History, stop: threading.Event,
                 seed: int) -> None:
        super().__init__(name=f"worker-{index}", daemon=True)
        self.index = index
        self.server = server
        self.keys = keys
        self.fence_path = fence_path
        self.sequential_prefix = sequential_prefix
        self.history = history
        self.stop_event = stop
        self.rng = random.Random(seed)
        self.counter = itertools.count()
        self.process = history.new_process()
        self.error: Optional[BaseException] = None
        self.connected = threading.Event()
        # Bumped on every connection state change: a fence only vouches for a
        # read if both went over the same connection.
        self.generation = 0
        self.client = new_client(hosts)
        self.client.add_listener(self._on_state)

    def _on_state(self, state: str) -> None:
        # kazoo calls listeners from its connection thread before it reconnects,
        # so a request completed on a later connection always sees the bump.
        self.generation += 1
        if state == KazooState.CONNECTED:
            self.connected.set()
        else:
            self.connected.clear()

    def start_client(self) -> None:
        self.client.start(timeout=30)
        self.client.ensure_path(self.fence_path)
        self.connected.set()

    def run(self) -> None:
        try:
            while not self.stop_event.is_set():
                # Issuing requests while disconnected only queues them inside
                # kazoo; wait for the session instead (they would be unknowns).
                if not self.connected.wait(0.2):
                    continue
                self.step()
        except BaseException as error:  # noqa: BLE001 - reported by the test
            self.error = error

    def close(self) -> None:
        try:
            self.client.stop()
        finally:
            self.client.close()

    def _value(self) -> str:
        return f"w{self.index}-{next(self.counter)}"

    def step(self) -> None:
        roll = self.rng.random()
        key = self.rng.choice(self.keys)
        if roll < 0.30:
            self.read(key)
        elif roll < 0.55:
            self.write("set", key, self._value())
        elif roll < 0.75:
            self.write("create", key, self._value())
        elif roll < 0.87:
            self.write("delete", key, None)
        else:
            self.create_sequential()

    def _await(self, async_result) -> Any:
        return async_result.get(timeout=OP_TIMEOUT)

    def write(self, op: str, key: str, value: Optional[str]) -> None:
        record: Dict[str, Any] = {"client": self.process, "op": op, "key": key,
                                  "server": self.server, "call": self.history.now()}
        if value is not None:
            record["value"] = value
        try:
            data = value.encode() if value is not None else None
            if op == "create":
                self._await(self.client.create_async(key, data))
            elif op == "set":
                self._await(self.client.set_async(key, data))
            else:
                self._await(self.client.delete_async(key))
            record["result"] = "ok"
        except Exception as error:  # noqa: BLE001 - classified below
            record["result"] = classify(error)
            if record["result"] is None:
                record.update(result="unknown", error=type(error).__name__)
        self._finish(record)

    def read(self, key: str) -> Dict[str, Any]:
        record: Dict[str, Any] = {"client": self.process, "op": "get", "key": key,
                                  "server": self.server, "call": self.history.now()}
        generation = self.generation
        try:
            self._await(self.client.sync_async(key))
            data, _ = self._await(self.client.get_async(key))
            record.update(result="ok", data=data.decode())
        except NoNodeError:
            record["result"] = "nonode"
        except Exception as error:  # noqa: BLE001 - a read that failed says nothing
            record.update(result="unknown", error=type(error).__name__)
            self._finish(record)
            return record
        record["return"] = self.history.now()
        try:
            self._await(self.client.set_async(self.fence_path, b"fence"))
            record["fenced"] = self.generation == generation
        except Exception as error:  # noqa: BLE001 - unfenced; the fence's fate is unknown
            record["fenced"] = False
            record["fence_error"] = type(error).__name__
            self.process = self.history.new_process()
        self.history.add(record)
        return record

    def create_sequential(self) -> None:
        call = self.history.now()
        try:
            path = self._await(self.client.create_async(
                self.sequential_prefix, self._value().encode(), ephemeral=True, sequence=True))
        except Exception as error:  # noqa: BLE001 - not acknowledged, nothing to check
            if classify(error) is None:
                self.process = self.history.new_process()
            return
        # client_id is None if the connection dropped right after the reply.
        session = self.client.client_id[0] if self.client.client_id else None
        self.history.add_sequential({"path": path, "worker": self.index, "session": session,
                                     "call": call, "return": self.history.now()})

    def _finish(self, record: Dict[str, Any]) -> None:
        if record["result"] == "unknown":
            record["return"] = None
            self.history.add(record)
            self.process = self.history.new_process()
        else:
            record["return"] = self.history.now()
            self.history.add(record)
