"""Running Apache's zkCli.sh against a server and splitting its output per command.

zkCli.sh either runs one command given on its command line, or (no command)
reads commands from stdin in one session. The stdin mode is ~10x faster per
command and keeps `addauth` credentials across commands, so scripted sessions
use it. Its stdout and stderr are merged (both are line-flushed by the JVM):
a marker command (`stat` of a missing node) after each command separates the
outputs. Watch notifications are printed asynchronously by the client's event
thread; they are filtered out of the blocks and returned separately.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Dict, List, Tuple

from support import ZKCLI

MARKER_PREFIX = "/zkcli-interop-marker-"
NOISE_PREFIXES = ("SLF4J:", "Connecting to ", "Welcome to ZooKeeper!", "JLine support is")
EVENT_RE = re.compile(r"^WatchedEvent state:(\w+) type:(\w+) path:(.*)$")
STAT_KEYS = ["cZxid", "ctime", "mZxid", "mtime", "pZxid", "cversion", "dataVersion",
             "aclVersion", "ephemeralOwner", "dataLength", "numChildren"]
ZKCLI_TIMEOUT = 120


def zkcli_env() -> Dict[str, str]:
    env = dict(os.environ)
    env["TZ"] = "UTC"  # ctime/mtime are printed in the client's time zone
    env.setdefault("ZOO_LOG_DIR", "/tmp")
    return env


def run_one_shot(address: str, *args: str) -> subprocess.CompletedProcess:
    """`zkCli.sh -server ADDRESS CMD ARGS...`: one command, one JVM."""
    return subprocess.run([ZKCLI, "-server", address, *args], capture_output=True, text=True,
                          env=zkcli_env(), timeout=ZKCLI_TIMEOUT, stdin=subprocess.DEVNULL)


@dataclass
class ScriptResult:
    blocks: List[Tuple[str, List[str]]]
    events: List[Tuple[str, str, str]] = field(default_factory=list)
    raw: str = ""

    def output_of(self, index: int) -> List[str]:
        return self.blocks[index][1]


def run_script(address: str, commands: List[str]) -> ScriptResult:
    """Runs `commands` in one interactive zkCli session; returns per-command output lines."""
    script_lines = []
    for index, command in enumerate(commands):
        script_lines.append(command)
        script_lines.append(f"stat {MARKER_PREFIX}{index}")
    script_lines.append("quit")
    completed = subprocess.run(
        [ZKCLI, "-server", address], input="\n".join(script_lines) + "\n",
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=zkcli_env(),
        timeout=ZKCLI_TIMEOUT)
    return split_output(completed.stdout, commands)


def split_output(raw: str, commands: List[str]) -> ScriptResult:
    events = []
    lines = []
    for line in raw.splitlines():
        match = EVENT_RE.match(line)
        if match:
            events.append((match.group(1), match.group(2), match.group(3)))
            continue
        if not line.strip() or line.strip() == "WATCHER::" or line.startswith(NOISE_PREFIXES):
            continue
        lines.append(line)
    blocks: List[Tuple[str, List[str]]] = []
    current: List[str] = []
    for line in lines:
        marker = re.match(rf"^Node does not exist: {re.escape(MARKER_PREFIX)}(\d+)$", line)
        if marker:
            index = int(marker.group(1))
            if index != len(blocks):
                raise AssertionError(f"zkCli output out of order at marker {index}:\n{raw}")
            blocks.append((commands[index], current))
            current = []
        else:
            current.append(line)
    if len(blocks) != len(commands):
        raise AssertionError(
            f"zkCli ran {len(blocks)} of {len(commands)} commands; output:\n{raw}")
    return ScriptResult(blocks=blocks, events=events, raw=raw)


def parse_cli_time(text: str) -> datetime:
    return datetime.strptime(text, "%a %b %d %H:%M:%S %Z %Y").replace(tzinfo=timezone.utc)


def parse_stat(lines: List[str]) -> Dict[str, int]:
    """Parses the 11 `key = value` lines zkCli prints for a Stat, checking names and order."""
    if len(lines) != len(STAT_KEYS):
        raise AssertionError(f"expected {len(STAT_KEYS)} stat lines, got {lines}")
    stat: Dict[str, int] = {}
    for key, line in zip(STAT_KEYS, lines):
        name, sep, value = line.partition(" = ")
        assert sep and name == key, f"expected '{key} = ...', got {line!r}"
        if key in ("ctime", "mtime"):
            stat[key] = int(parse_cli_time(value).timestamp())
        elif key in ("cZxid", "mZxid", "pZxid", "ephemeralOwner"):
            assert re.fullmatch(r"0x[0-9a-f]+", value), f"{key} not hex: {line!r}"
            stat[key] = int(value, 16)
        else:
            assert re.fullmatch(r"-?\d+", value), f"{key} not an integer: {line!r}"
            stat[key] = int(value)
    return stat


def normalize_stat_lines(lines: List[str]) -> List[str]:
    """Replaces zxids/times/session ids with stable tokens (zxids labelled by first appearance)."""
    labels: Dict[str, str] = {}
    result = []
    for line in lines:
        name, sep, value = line.partition(" = ")
        if sep and name in ("cZxid", "mZxid", "pZxid"):
            label = labels.setdefault(value, f"<zxid{len(labels) + 1}>")
            result.append(f"{name} = {label}")
        elif sep and name in ("ctime", "mtime"):
            parse_cli_time(value)
            result.append(f"{name} = <time>")
        elif sep and name == "ephemeralOwner" and value != "0x0":
            result.append(f"{name} = <session>")
        else:
            result.append(line)
    return result
