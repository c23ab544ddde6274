"""The suite's own checkers, on known input: the ledger's safety replay must catch an overlap,
and the ActiveNodeInfo codec must read protobuf-java's bytes (from Hadoop's HAZKInfoProtos)."""

from __future__ import annotations

import pytest

import nodeinfo
from ledger import Entry, SafetyViolation, replay

# ActiveNodeInfo.newBuilder().setNameserviceId("ns1").setNamenodeId("nn1")
#   .setHostname("host-a").setPort(8020).setZkfcPort(-1).build().toByteArray(), hadoop-hdfs 3.4.1
HADOOP_BYTES = bytes.fromhex("0a036e733112036e6e311a06686f73742d6120d43e28ffffffffffffffffff01")


def test_replay_accepts_fenced_handovers() -> None:
    entries = [Entry("a", "became-active", 1.0), Entry("a", "fenced", 2.0, "b"),
               Entry("b", "became-active", 3.0), Entry("b", "became-active", 4.0),
               Entry("b", "became-standby", 5.0), Entry("c", "became-active", 6.0)]
    assert replay(entries) == {"c"}


def test_replay_catches_two_actives() -> None:
    entries = [Entry("a", "became-active", 1.0), Entry("b", "fenced", 2.0, "c"),
               Entry("c", "became-active", 3.0)]
    with pytest.raises(SafetyViolation, match=r"c became active .* \['a'\] still active"):
        replay(entries)


def test_node_info_reads_protobuf_java() -> None:
    info = nodeinfo.decode(HADOOP_BYTES)
    assert info == nodeinfo.ActiveNodeInfo("ns1", "nn1", "host-a", 8020, -1)
    assert nodeinfo.encode(info) == HADOOP_BYTES
    with pytest.raises(ValueError):
        nodeinfo.decode(HADOOP_BYTES[:-3])
    with pytest.raises(ValueError, match="without"):
        nodeinfo.decode(HADOOP_BYTES[:5])
