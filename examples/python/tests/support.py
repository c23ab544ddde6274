"""What the tests of the Python examples and of the Python HA controller share: a zk-server
(bindings/python/tests/servers.py starts it), and programs run as processes whose output
lines are collected as they come, waited on with deadlines."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple

import pytest

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "bindings" / "python" / "tests"))
from servers import Server, free_port, wait_until  # noqa: E402,F401 - re-exported

DEADLINE = 60.0
PYTHON = sys.executable  # the interpreter with the zk package, as the programs need


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One zk-server for the session."""
    started = Server("zk", tmp_path_factory.mktemp("zk-server")).start()
    yield started
    started.stop()


def run(argv: Sequence[str], stdin: str = "",
        timeout: float = 120.0) -> Tuple[int, List[str]]:
    """Runs a program to its end: its exit code and output lines (stdout and stderr)."""
    done = subprocess.run(list(argv), input=stdin, capture_output=True, text=True,
                          timeout=timeout)
    lines = (done.stdout + done.stderr).splitlines()
    # Shown whole in pytest's "Captured stdout" when the test fails.
    print(f"$ {' '.join(argv)}  (exit {done.returncode})", *lines, sep="\n")
    return done.returncode, lines


class Proc:
    """A program running in the background; its output lines are collected as they
    come. Killed at the end of the test if still running."""

    def __init__(self, name: str, argv: Sequence[str]) -> None:
        self.name = name
        self.process = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, bufsize=1)
        self._lines: List[str] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._lock:
                self._lines.append(line.rstrip("\n"))

    def lines(self) -> List[str]:
        with self._lock:
            return list(self._lines)

    def has_line(self, line: str) -> bool:
        return line in self.lines()

    def wait_for(self, line: str, timeout: float = DEADLINE) -> None:
        def seen() -> bool:
            if self.has_line(line):
                return True
            if self.process.poll() is not None:
                self._reader.join(5)
                if self.has_line(line):
                    return True
                raise AssertionError(f"{self.name} exited ({self.process.returncode}) "
                                     f"before {line!r}: {self.lines()}")
            return False
        try:
            wait_until(seen, timeout, f"{self.name}: {line!r}")
        except TimeoutError as error:
            raise AssertionError(f"{error}; output so far: {self.lines()}") from None

    def signal(self, number: int) -> None:
        self.process.send_signal(number)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(DEADLINE)

    def wait_exit(self, timeout: float = DEADLINE) -> Optional[int]:
        code = self.process.wait(timeout)
        self._reader.join(5)
        return code
