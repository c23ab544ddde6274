"""Apache's C client (cli_mt from zookeeper-bin 3.8, batch mode) against the server under test.

`cli_mt HOST:PORT cmd:"<command>"` opens a session, runs one command, prints
the completion and exits. (`exists` never completes in batch mode in 3.8.0,
so it is not used.) Its `create` stores the data "new".
"""

from __future__ import annotations

import re
import subprocess
from typing import Dict, List

from support import CLI_MT

RC_RE = re.compile(r"^\[?(?P<path>[^\]\s:]*)\]?: rc = (?P<rc>-?\d+)")
C_TIME = r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}"


def cli_mt(address: str, command: str) -> List[str]:
    completed = subprocess.run([CLI_MT, address, f"cmd:{command}"], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               timeout=60)
    assert completed.returncode == 0, completed.stdout
    lines = completed.stdout.splitlines()
    assert f"Batch mode: '{command}'" in lines
    assert "Watcher SESSION_EVENT state = CONNECTED_STATE" in lines, completed.stdout
    return [line for line in lines if not line.startswith("time = ")]


def result_code(lines: List[str], path: str) -> int:
    for line in lines:
        match = RC_RE.match(line)
        if match and match.group("path") == path:
            return int(match.group("rc"))
    raise AssertionError(f"no result line for {path} in {lines}")


def lines_after_rc(lines: List[str]) -> List[str]:
    for index, line in enumerate(lines):
        if RC_RE.match(line):
            return lines[index + 1:]
    raise AssertionError(f"no result line in {lines}")


def parse_c_stat(lines: List[str]) -> Dict[str, int]:
    """The stat block printed by the C client (czxid/mzxid in hex without 0x)."""
    text = "\n".join(lines)
    fields = {
        "ctime": re.search(rf"\tctime = ({C_TIME})", text),
        "czxid": re.search(r"\tczxid=([0-9a-f]+)$", text, re.M),
        "mtime": re.search(rf"\tmtime=({C_TIME})", text),
        "mzxid": re.search(r"\tmzxid=([0-9a-f]+)$", text, re.M),
        "versions": re.search(r"\tversion=(-?\d+)\taversion=(-?\d+)$", text, re.M),
        "owner": re.search(r"\tephemeralOwner = ([0-9a-f]+)$", text, re.M),
    }
    missing = [name for name, match in fields.items() if match is None]
    assert not missing, f"stat fields {missing} missing in {lines}"
    return {
        "czxid": int(fields["czxid"].group(1), 16),
        "mzxid": int(fields["mzxid"].group(1), 16),
        "version": int(fields["versions"].group(1)),
        "aversion": int(fields["versions"].group(2)),
        "ephemeralOwner": int(fields["owner"].group(1), 16),
    }


def test_create_get_set_ls_delete(server, unique_path):
    p = unique_path
    address = server.address

    created = cli_mt(address, f"create {p}")
    assert f"Creating [{p}] node (mode: 0)" in created
    assert result_code(created, p) == 0
    assert lines_after_rc(created) == [f"\tname = {p}"]

    assert result_code(cli_mt(address, f"create {p}"), p) == -110
    assert result_code(cli_mt(address, f"create {p}/missing/child"), f"{p}/missing/child") == -101

    sequential = cli_mt(address, f"create2 +s {p}/s")
    assert "Creating [{0}/s] node (mode: 2)".format(p) in sequential
    assert result_code(sequential, f"{p}/s") == 0
    after = lines_after_rc(sequential)
    assert after[0] == f"\tname = {p}/s0000000000"
    child_stat = parse_c_stat(after[1:])
    assert child_stat["czxid"] == child_stat["mzxid"] > 0
    assert child_stat["version"] == child_stat["aversion"] == child_stat["ephemeralOwner"] == 0

    got = cli_mt(address, f"get {p}")
    assert result_code(got, p) == 0
    after = lines_after_rc(got)
    assert after[:3] == [" value_len = 3", "new", "Stat:"]
    parent_stat = parse_c_stat(after[3:])
    assert parent_stat["version"] == 0
    assert parent_stat["czxid"] < child_stat["czxid"]

    updated = cli_mt(address, f"set {p} hello")
    assert any(line == f"{p}: rc = 0 Stat:" for line in updated), updated
    set_stat = parse_c_stat(updated)
    assert set_stat["version"] == 1
    assert set_stat["czxid"] == parent_stat["czxid"]
    assert set_stat["mzxid"] > child_stat["czxid"]

    got = cli_mt(address, f"get {p}")
    assert lines_after_rc(got)[:2] == [" value_len = 5", "hello"]

    cli_mt(address, f"create {p}/b")
    listed = cli_mt(address, f"ls {p}")
    assert result_code(listed, p) == 0
    assert sorted(lines_after_rc(listed)) == ["\tb", "\ts0000000000"]

    listed2 = cli_mt(address, f"ls2 {p}")
    assert result_code(listed2, p) == 0
    after = lines_after_rc(listed2)
    assert sorted(after[:2]) == ["\tb", "\ts0000000000"]
    assert parse_c_stat(after[2:])["version"] == 1

    assert result_code(cli_mt(address, f"delete {p}"), p) == -111
    assert result_code(cli_mt(address, f"delete {p}/b"), f"{p}/b") == 0
    assert result_code(cli_mt(address, f"delete {p}/s0000000000"), f"{p}/s0000000000") == 0
    assert result_code(cli_mt(address, f"delete {p}"), p) == 0
    assert result_code(cli_mt(address, f"delete {p}"), p) == -101

    missing = cli_mt(address, f"get {p}")
    assert result_code(missing, p) == -101


def test_ephemeral_vanishes_with_the_c_session(server, unique_path):
    p = unique_path
    address = server.address
    assert result_code(cli_mt(address, f"create {p}"), p) == 0
    ephemeral = cli_mt(address, f"create2 +e {p}/e")
    assert result_code(ephemeral, f"{p}/e") == 0
    assert parse_c_stat(lines_after_rc(ephemeral)[1:])["ephemeralOwner"] != 0
    # cli_mt closed its session on exit: the ephemeral is already gone
    assert result_code(cli_mt(address, f"get {p}/e"), f"{p}/e") == -101
    assert result_code(cli_mt(address, f"create +c {p}/container"), f"{p}/container") == 0
    ttl = cli_mt(address, f"create2 +t=60000 {p}/ttl")
    assert result_code(ttl, f"{p}/ttl") == 0
    assert parse_c_stat(lines_after_rc(ttl)[1:])["ephemeralOwner"] == 0
    assert sorted(lines_after_rc(cli_mt(address, f"ls {p}"))) == ["\tcontainer", "\tttl"]
