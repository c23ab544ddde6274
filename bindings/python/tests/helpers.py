"""Small helpers the tests share: recording callbacks and waiting on them with deadlines."""

from __future__ import annotations

import threading
from typing import Any, Callable, List

from servers import wait_until

DEADLINE = 30.0


class Recorder:
    """A callback that records what it is called with (and on which thread)."""

    def __init__(self, returns: Any = None) -> None:
        self.calls: List[tuple] = []
        self.threads: List[str] = []
        self.returns = returns
        self.lock = threading.Lock()

    def __call__(self, *args: Any) -> Any:
        with self.lock:
            self.calls.append(args)
            self.threads.append(threading.current_thread().name)
        return self.returns

    @property
    def firsts(self) -> List[Any]:
        with self.lock:
            return [call[0] for call in self.calls]

    def wait_for(self, condition: Callable[[List[tuple]], Any], what: str,
                 timeout: float = DEADLINE) -> Any:
        def check() -> Any:
            with self.lock:
                return condition(list(self.calls))
        return wait_until(check, timeout, what)

    def wait_count(self, count: int, what: str = "calls", timeout: float = DEADLINE) -> None:
        self.wait_for(lambda calls: len(calls) >= count, f"{count} {what}", timeout)

    def wait_value(self, value: Any, timeout: float = DEADLINE) -> None:
        self.wait_for(lambda calls: any(c and c[0] == value for c in calls),
                      f"a call with {value!r}", timeout)
