"""Apache's Java CLI (zkCli.sh, ZooKeeper 3.8) against the server under test."""

from __future__ import annotations

import time
from typing import List

import pytest

import zkcli
from jute import digest_id

STAT_ZERO_VERSIONS = {"cversion": 0, "dataVersion": 0, "aclVersion": 0}


def stat_block(**expected: str) -> List[str]:
    """The normalized stat lines zkCli prints, with overrides (e.g. dataVersion="1")."""
    values = {"cZxid": "<zxid1>", "ctime": "<time>", "mZxid": "<zxid1>", "mtime": "<time>",
              "pZxid": "<zxid1>", "cversion": "0", "dataVersion": "0", "aclVersion": "0",
              "ephemeralOwner": "0x0", "dataLength": "0", "numChildren": "0"}
    values.update(expected)
    return [f"{key} = {values[key]}" for key in zkcli.STAT_KEYS]


def test_one_shot_create_then_get_stat(server, unique_path):
    """`zkCli.sh -server H:P create /testInput "inputData"` then `get -s` (one JVM per command)."""
    base = unique_path
    node = f"{base}/testInput"
    assert zkcli.run_one_shot(server.address, "create", base).returncode == 0

    created = zkcli.run_one_shot(server.address, "create", node, "inputData")
    assert created.returncode == 0, created.stderr
    assert f"Created {node}" in (created.stdout + created.stderr).splitlines()

    before = int(time.time())
    got = zkcli.run_one_shot(server.address, "get", "-s", node)
    assert got.returncode == 0, got.stderr
    noise = ("Connecting to", "WATCHER::", "WatchedEvent")
    lines = [line for line in got.stdout.splitlines()
             if line.strip() and not line.startswith(noise)]
    assert lines[0] == "inputData"
    stat = zkcli.parse_stat(lines[1:])
    assert stat["cZxid"] == stat["mZxid"] == stat["pZxid"] > 0
    assert stat["ctime"] == stat["mtime"]
    assert abs(stat["ctime"] - before) < 600, "ctime should be the server's current time"
    assert {key: stat[key] for key in STAT_ZERO_VERSIONS} == STAT_ZERO_VERSIONS
    assert stat["ephemeralOwner"] == 0
    assert stat["dataLength"] == 9
    assert stat["numChildren"] == 0

    missing = zkcli.run_one_shot(server.address, "get", f"{base}/missing")
    assert missing.returncode != 0
    assert f"Node does not exist: {base}/missing" in missing.stdout + missing.stderr

    again = zkcli.run_one_shot(server.address, "create", node, "x")
    assert again.returncode != 0
    assert f"Node already exists: {node}" in again.stdout + again.stderr


def test_scripted_session(server, unique_path):
    """One interactive zkCli session: node CRUD, stat, ls -R, ACLs, quotas, watches."""
    p = unique_path
    bob = digest_id("bob", "secret")
    script = [
        (f'create {p} "base"', [f"Created {p}"]),
        (f'create -s -e {p}/eph- "e"', [f"Created {p}/eph-0000000000"]),
        (f"create -s {p}/pseq-", [f"Created {p}/pseq-0000000001"]),
        (f'create {p}/data "v1"', [f"Created {p}/data"]),
        (f'set {p}/data "v2"', []),
        (f"get -s {p}/data",
         ["v2"] + stat_block(mZxid="<zxid2>", dataVersion="1", dataLength="2")),
        (f"stat {p}/data", stat_block(mZxid="<zxid2>", dataVersion="1", dataLength="2")),
        (f"get {p}/data", ["v2"]),
        (f"create {p}/data", [f"Node already exists: {p}/data"]),
        (f'set {p}/data "v3" -v 7', [f"version No is not valid : {p}/data"]),
        (f'set {p}/data "v3" -v 1', []),
        (f"stat {p}/missing", [f"Node does not exist: {p}/missing"]),
        (f"get {p}/missing", [f"Node does not exist: {p}/missing"]),
        (f"ls {p}/missing", [f"Node does not exist: {p}/missing"]),
        (f"create {p}/tree", [f"Created {p}/tree"]),
        (f"create {p}/tree/a", [f"Created {p}/tree/a"]),
        (f'create {p}/tree/b "bee"', [f"Created {p}/tree/b"]),
        (f"create {p}/tree/a/c", [f"Created {p}/tree/a/c"]),
        (f"ls -R {p}/tree", None),  # checked below: BFS order, sibling order is the server's
        (f"ls {p}/tree", ["[a, b]"]),
        (f"ls -s {p}/tree",
         ["[a, b]"] + stat_block(pZxid="<zxid2>", cversion="2", numChildren="2")),
        (f"delete {p}/tree", [f"Node not empty: {p}/tree"]),
        ("addauth digest u:p", []),
        (f'create {p}/x "xd"', [f"Created {p}/x"]),
        (f"setAcl {p}/x auth:u:p:cdrwa", []),
        (f"getAcl {p}/x", [f"'digest,'{digest_id('u', 'p')}", ": cdrwa"]),
        (f"getAcl -s {p}/x",
         [f"'digest,'{digest_id('u', 'p')}", ": cdrwa"]
         + stat_block(aclVersion="1", dataLength="2")),
        (f"create {p}/y", [f"Created {p}/y"]),
        (f"setAcl {p}/y digest:{bob}:cdrwa,world:anyone:r", []),
        # READ but no ADMIN: the server masks digest ids as user:x
        (f"getAcl {p}/y", ["'digest,'bob:x", ": cdrwa", "'world,'anyone", ": r"]),
        (f"setAcl {p}/y world:anyone:cdrwa", [f"Insufficient permission : {p}/y"]),
        (f"set {p}/y data", [f"Insufficient permission : {p}/y"]),
        (f"create {p}/q", [f"Created {p}/q"]),
        (f"setquota -n 2 {p}/q", []),
        (f"listquota {p}/q", [
            f"absolute path is /zookeeper/quota{p}/q/zookeeper_limits",
            f"Output quota for {p}/q count=2,bytes=-1=;byteHardLimit=-1;countHardLimit=-1",
            f"Output stat for {p}/q count=1,bytes=0"]),
        (f"create {p}/q/a", [f"Created {p}/q/a"]),
        (f'create {p}/q/b "12345"', [f"Created {p}/q/b"]),
        (f"create {p}/q/c", [f"Created {p}/q/c"]),  # soft limit: only logged
        (f"listquota {p}/q", [
            f"absolute path is /zookeeper/quota{p}/q/zookeeper_limits",
            f"Output quota for {p}/q count=2,bytes=-1=;byteHardLimit=-1;countHardLimit=-1",
            f"Output stat for {p}/q count=4,bytes=5"]),
        (f"get /zookeeper/quota{p}/q/zookeeper_limits",
         ["count=2,bytes=-1=;byteHardLimit=-1;countHardLimit=-1"]),
        (f"get /zookeeper/quota{p}/q/zookeeper_stats", ["count=4,bytes=5"]),
        (f"ls /zookeeper/quota{p}/q", ["[zookeeper_limits, zookeeper_stats]"]),
        (f"create {p}/hq", [f"Created {p}/hq"]),
        (f"setquota -N 2 {p}/hq", []),
        (f"listquota {p}/hq", [
            f"absolute path is /zookeeper/quota{p}/hq/zookeeper_limits",
            f"Output quota for {p}/hq count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=2",
            f"Output stat for {p}/hq count=1,bytes=0"]),
        (f"create {p}/hq/a", [f"Created {p}/hq/a"]),
        (f"create {p}/hq/b", [f"Quota has exceeded : {p}/hq/b"]),  # enforceQuota=true
        (f"delquota -n {p}/q", []),
        (f"listquota {p}/q", [
            f"absolute path is /zookeeper/quota{p}/q/zookeeper_limits",
            f"Output quota for {p}/q count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=-1",
            f"Output stat for {p}/q count=4,bytes=5"]),
        (f"deleteall {p}/tree", []),
        (f"ls {p}/tree", [f"Node does not exist: {p}/tree"]),
        ("ls /zookeeper", ["[config, quota]"]),
        (f"getEphemerals {p}", [f"[{p}/eph-0000000000]"]),
        (f"getAllChildrenNumber {p}", ["11"]),
        ("whoami", None),  # checked below: the ids come from a hash set, in no set order
        (f"sync {p}", ["Sync is OK"]),
        (f'create -t 60000 {p}/ttl "t"', [f"Created {p}/ttl"]),
        (f"stat {p}/ttl", stat_block(dataLength="1")),  # TTL owner is hidden: 0x0
        (f"create -c {p}/cont", [f"Created {p}/cont"]),
        (f"addWatch {p}/w", []),  # default mode: PERSISTENT_RECURSIVE
        (f'create {p}/w "1"', [f"Created {p}/w"]),
        (f"create {p}/w/c", [f"Created {p}/w/c"]),
        (f'set {p}/w/c "v"', []),
        (f"delete {p}/w/c", []),
        (f"addWatch -m PERSISTENT {p}/pw", []),
        (f"create {p}/pw", [f"Created {p}/pw"]),
        (f"create {p}/pw/c", [f"Created {p}/pw/c"]),
        (f'create {p}/gw "a"', [f"Created {p}/gw"]),
        (f"get -w {p}/gw", ["a"]),
        (f'set {p}/gw "b"', []),
        (f'set {p}/gw "c"', []),  # one-shot watch: no second event
        (f"get {p}/gw", ["c"]),
    ]
    commands = [command for command, _ in script]
    result = zkcli.run_script(server.address, commands)

    problems = []
    for (command, expected), (_, output) in zip(script, result.blocks):
        if expected is None:
            continue
        actual = zkcli.normalize_stat_lines(output)
        if actual != expected:
            problems.append(f"{command!r}:\n  expected {expected}\n  actual   {actual}")
    assert not problems, "zkCli output mismatches:\n" + "\n".join(problems)

    ls_recursive = result.output_of(commands.index(f"ls -R {p}/tree"))
    assert ls_recursive[0] == f"{p}/tree"
    assert sorted(ls_recursive[1:3]) == [f"{p}/tree/a", f"{p}/tree/b"]
    assert ls_recursive[3:] == [f"{p}/tree/a/c"]

    who = result.output_of(commands.index("whoami"))
    assert who[0] == "Auth scheme: User"
    assert sorted(who[1:]) == ["digest: u", "ip: 127.0.0.1"]

    events = [(state, kind, path) for state, kind, path in result.events if path.startswith(p)]
    assert events == [
        ("SyncConnected", "NodeCreated", f"{p}/w"),
        ("SyncConnected", "NodeCreated", f"{p}/w/c"),
        ("SyncConnected", "NodeDataChanged", f"{p}/w/c"),
        ("SyncConnected", "NodeDeleted", f"{p}/w/c"),
        ("SyncConnected", "NodeCreated", f"{p}/pw"),
        ("SyncConnected", "NodeChildrenChanged", f"{p}/pw"),
        ("SyncConnected", "NodeDataChanged", f"{p}/gw"),
    ]
    assert result.events[0] == ("SyncConnected", "None", "null")
    assert result.events[-1] == ("Closed", "None", "null")


def test_stat_fields_of_ephemeral_and_parent(server, unique_path):
    """Stat relations zkCli shows: ephemeralOwner set, parent's cversion/pzxid after child ops."""
    p = unique_path
    commands = [f"create {p}", f"create -e {p}/e", f"stat {p}/e", f"create {p}/c",
                f"delete {p}/c", f"stat {p}"]
    result = zkcli.run_script(server.address, commands)
    ephemeral = zkcli.parse_stat(result.output_of(2))
    parent = zkcli.parse_stat(result.output_of(5))
    assert ephemeral["ephemeralOwner"] != 0
    assert parent["numChildren"] == 1
    assert parent["cversion"] == 3  # create e, create c, delete c
    assert parent["pZxid"] > ephemeral["cZxid"]
    assert parent["mZxid"] == parent["cZxid"] < ephemeral["cZxid"]


@pytest.mark.parametrize("acl_text, expected", [
    ("world:anyone:r", ["'world,'anyone", ": r"]),
    ("ip:127.0.0.1:cdrwa", ["'ip,'127.0.0.1", ": cdrwa"]),
    (f"digest:{digest_id('bob', 'secret')}:rwa",
     [f"'digest,'{digest_id('bob', 'secret')}", ": rwa"]),
])
def test_set_acl_other_schemes(server, unique_path, acl_text, expected):
    p = unique_path
    result = zkcli.run_script(server.address, [
        "addauth digest bob:secret", f"create {p}", f"setAcl {p} {acl_text}", f"getAcl {p}",
        f"create {p}-open", f"setAcl {p}-open ip:not-an-ip:r", f"setAcl {p}-open digest:nocolon:r"])
    assert result.output_of(2) == []
    assert result.output_of(3) == expected
    assert result.output_of(5) == [f"Acl is not valid : {p}-open"]
    assert result.output_of(6) == [f"Acl is not valid : {p}-open"]
