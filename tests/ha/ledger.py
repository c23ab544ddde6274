"""The services' shared ledger (service.py writes it) and the safety check on it.

A service is active from its `became-active` until its `fenced` or `became-standby`. Safety:
no `became-active` while another service is active, i.e. a new active appears only after the
previous one was fenced (or stood down).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Set


@dataclass(frozen=True)
class Entry:
    name: str
    event: str  # became-active | became-standby | fenced
    t: float  # CLOCK_MONOTONIC
    by: str = ""
    target: str = ""

    def __str__(self) -> str:
        extra = f" by {self.by} ({self.target})" if self.event == "fenced" else ""
        return f"{self.t:.3f} {self.name} {self.event}{extra}"


@dataclass
class Ledger:
    path: Path
    entries: List[Entry] = field(default_factory=list)

    def read(self) -> List[Entry]:
        try:
            lines = self.path.read_text().splitlines()
        except FileNotFoundError:
            lines = []
        entries = []
        for line in lines:
            record = json.loads(line)
            entries.append(Entry(record["name"], record["event"], float(record["t"]),
                                 record.get("by", ""), record.get("target", "")))
        # The order of the clock: two services may write a moment apart in either order.
        self.entries = sorted(entries, key=lambda entry: entry.t)
        return self.entries

    def active(self) -> Set[str]:
        """The services active at the end of the ledger; raises on a safety violation."""
        return replay(self.read())

    def since(self, t: float) -> List[Entry]:
        return [entry for entry in self.read() if entry.t >= t]

    def first(self, event: str, after: float, name: Optional[str] = None) -> Optional[Entry]:
        for entry in self.since(after):
            if entry.event == event and (name is None or entry.name == name):
                return entry
        return None

    def text(self) -> str:
        return "\n".join(str(entry) for entry in self.read()) or "(empty)"


class SafetyViolation(AssertionError):
    pass


def replay(entries: List[Entry]) -> Set[str]:
    active: Set[str] = set()
    for i, entry in enumerate(entries):
        if entry.event == "became-active":
            others = active - {entry.name}
            if others:
                history = "\n".join(str(e) for e in entries[max(0, i - 8):i + 1])
                raise SafetyViolation(
                    f"{entry.name} became active at {entry.t:.3f} while {sorted(others)} "
                    f"still active (not fenced):\n{history}")
            active.add(entry.name)
        elif entry.event in ("fenced", "became-standby"):
            active.discard(entry.name)
    return active
