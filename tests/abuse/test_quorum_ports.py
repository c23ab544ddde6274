"""Abuse of an ensemble's quorum and election ports.

A machine that is no member connects and sends garbage, oversized frames and well-formed
forged messages: it is refused before anything is read. From a member's own address (a
buggy or compromised member, as far as the ports can tell) frames over their kind's cap,
on the wrong port, or that stall are cut off, and forwarded work the leader must not trust
(the server's internal txns, another member's sessions, reconfig bodies, a second
CreateSession for a live session, skipACL) is refused or overridden. Through all of it the
data stays as it was on every member, the ensemble keeps its leader and epoch, and a
well-behaved client keeps being served with no acknowledged write lost.

Members listen on 127.0.0.1; the non-member dials from 127.0.0.9.
"""

from __future__ import annotations

import os
import struct

import jute
import peer_wire as wire
from ensembles import data_on, epoch_of_a_new_write, make_zk_ensemble, session_to  # noqa: F401
from support import wait_until

NON_MEMBER = "127.0.0.9"
MiB = 1024 * 1024


def started(make_zk_ensemble, **kwargs):
    ensemble = make_zk_ensemble(**kwargs)
    ensemble.start_all()
    ensemble.wait_serving()
    return ensemble, ensemble.wait_leader()


def test_the_forged_encoding_matches_the_servers():
    """The bytes core/src/server/quorum/wire.rs's golden test pins."""
    forward = wire.forward([wire.txn_proposal(2, 300, b"\xaa\xbb", incarnation=1, time_ms=-1)])
    assert forward.hex() == "040102ac020101" + "0002aabb"
    assert wire.moved_proposal(1, 1, -2).hex() == "010101000103"
    assert wire.touch([1, -1, 64]).hex() == "05030201" + "8001"
    assert wire.revalidate(5, 3, b"\xaa\xbb").hex() == "060a0302aabb"
    assert wire.vote(7, 9, 6, 40).hex() == "0107010900010628" + "00"


def test_a_non_member_is_refused_on_every_peer_port(make_zk_ensemble, make_canary):
    ensemble, leader = started(make_zk_ensemble)
    setup = session_to(ensemble, leader)
    assert setup.create("/victim", b"v").err == 0
    epoch = epoch_of_a_new_write(ensemble, leader, "/before")
    canary = make_canary(ensemble.servers[leader].client_port)
    victim_delete = wire.write_txn(setup.session_id, jute.Op.DELETE,
                                   jute.path_version_request("/victim", -1))
    messages = {
        "forged forward": wire.frame(wire.forward([wire.txn_proposal(leader, 1, victim_delete)])),
        "forged internal txn": wire.frame(wire.forward([wire.txn_proposal(
            leader, 2, wire.write_txn(0, jute.Op.DELETE, jute.path_version_request("/victim", -1)))])),
        "forged vote for a far term": wire.frame(wire.vote(10**6, 1, 10**6, 10**9)),
        "touch": wire.frame(wire.touch([setup.session_id])),
        "oversized frame": struct.pack(">I", 1 << 31) + bytes([wire.APPEND]),
        "garbage": os.urandom(4096),
    }
    for member, server in ensemble.servers.items():
        for port in (server.quorum_port, server.election_port):
            for name, message in messages.items():
                connection = wire.PeerConnection(port, source=NON_MEMBER)
                try:
                    try:
                        connection.send(message)
                    except OSError:
                        pass  # refused before the message was all written
                    assert connection.closed_by_peer(10), \
                        f"server {member} port {port} kept a non-member's connection ({name})"
                finally:
                    connection.close()
    # Nothing reached raft: same leader, same epoch, the victim intact everywhere.
    assert ensemble.wait_leader() == leader
    assert epoch_of_a_new_write(ensemble, leader, "/after") == epoch
    for member in ensemble.ids():
        assert data_on(ensemble, member, "/victim") == b"v"
    setup.close_socket()
    canary.served(20)
    canary.check()


def test_bad_frames_from_a_member_address_are_cut_off(make_zk_ensemble, make_canary):
    ensemble, leader = started(make_zk_ensemble)
    epoch = epoch_of_a_new_write(ensemble, leader, "/before")
    canary = make_canary(ensemble.servers[leader].client_port)
    quorum = {
        "unknown tag": struct.pack(">I", 5) + b"\xff" * 5,
        "append over its cap": struct.pack(">I", 1 << 31) + bytes([wire.APPEND]),
        "snapshot piece over its cap": struct.pack(">I", 64 * MiB) + bytes([wire.SNAPSHOT_CHUNK]),
        "touch over its cap": wire.frame(wire.touch([-(2**62)] * 20000)),
        "a vote on the quorum port": wire.frame(wire.vote(10**6, 1, 10**6, 10**9)),
        "undecodable forward": wire.frame(bytes([wire.FORWARD]) + b"\xff" * 64),
        "garbage": os.urandom(4096),
    }
    election = {
        "a touch on the election port": wire.frame(wire.touch([1])),
        "vote over its cap": struct.pack(">I", MiB) + bytes([wire.VOTE]),
        "undecodable vote": wire.frame(bytes([wire.VOTE]) + b"\xff\xff\xff"),
    }
    for member, server in ensemble.servers.items():
        for port, messages in ((server.quorum_port, quorum), (server.election_port, election)):
            for name, message in messages.items():
                connection = wire.PeerConnection(port)
                try:
                    try:
                        connection.send(message)
                    except OSError:
                        pass
                    assert connection.closed_by_peer(10), \
                        f"server {member} port {port} kept the connection after: {name}"
                finally:
                    connection.close()
        # A frame that starts and never finishes is dropped within syncLimit ticks.
        stalled = wire.PeerConnection(server.quorum_port)
        try:
            stalled.send(struct.pack(">I", 100) + bytes([wire.FORWARD]) + b"\x01")
            assert stalled.closed_by_peer(30), f"server {member} kept a stalled frame's connection"
        finally:
            stalled.close()
    assert ensemble.wait_leader() == leader
    assert epoch_of_a_new_write(ensemble, leader, "/after") == epoch
    canary.served(20)
    canary.check()


def test_peer_connections_per_port_are_capped(make_zk_ensemble, make_canary):
    ensemble, leader = started(make_zk_ensemble)
    canary = make_canary(ensemble.servers[leader].client_port)
    follower = next(i for i in ensemble.ids() if i != leader)
    port = ensemble.servers[follower].election_port
    connections = [wire.PeerConnection(port) for _ in range(80)]
    try:
        # Three members may hold 64 connections per port; the rest are closed at once.
        closed = wait_until(
            lambda: sum(1 for c in connections if c.closed_by_peer(0.05)) or None,
            30, "connections over the cap to be closed")
        assert closed >= 80 - 64, f"only {closed} of 80 idle connections were refused"
    finally:
        for connection in connections:
            connection.close()
    canary.served(20)
    canary.check()


def test_the_leader_refuses_forged_forwarded_work(make_zk_ensemble, make_canary):
    ensemble, leader = started(make_zk_ensemble)
    follower = next(i for i in ensemble.ids() if i != leader)
    other = next(i for i in ensemble.ids() if i not in (leader, follower))
    canary = make_canary(ensemble.servers[leader].client_port)
    # A real client of `follower`, and nodes to aim at.
    owner = session_to(ensemble, follower)
    assert owner.create("/owned", b"mine").err == 0
    assert owner.create("/victim", b"v").err == 0
    assert owner.create("/open-target", b"before").err == 0
    admin = jute.Acl(jute.Perm.ALL, "digest", jute.digest_id("admin", "secret"))
    readable = jute.Acl(jute.Perm.READ, "world", "anyone")
    assert owner.create("/locked", b"locked", acl=[admin, readable]).err == 0
    set_owned = jute.set_data_request("/owned", b"forged", -1)

    def forward_to_leader(proposals):
        connection = wire.PeerConnection(ensemble.servers[leader].quorum_port)
        try:
            answer = connection.call(wire.forward(proposals))
        finally:
            connection.close()
        assert isinstance(answer, wire.Accepted), f"the leader answered {answer!r}"
        return dict(answer.rejected)

    forged_session = 0x7E57_0000_0000_0001
    rejected = forward_to_leader([
        # The server's own txns (session 0) come only from the leader's own duties.
        wire.txn_proposal(other, 1, wire.write_txn(
            0, jute.Op.DELETE, jute.path_version_request("/victim", -1))),
        # Only the leader writes /zookeeper/config.
        wire.txn_proposal(other, 2, wire.reconfig_txn(owner.session_id, "server.9=x:1:2\n")),
        # `follower` holds this session, not `other`.
        wire.txn_proposal(other, 3, wire.write_txn(owner.session_id, jute.Op.SET_DATA, set_owned)),
        # No such session.
        wire.txn_proposal(other, 4, wire.write_txn(0x7777, jute.Op.SET_DATA, set_owned)),
        # A second CreateSession for a live session would replace its password.
        wire.txn_proposal(other, 5, wire.create_session_txn(owner.session_id, 30000, b"\x00" * 16)),
        # Session moves are the leader's to log.
        wire.moved_proposal(other, 6, owner.session_id),
        # A session of the forger's own: accepted.
        wire.txn_proposal(other, 7, wire.create_session_txn(forged_session, 600000, b"\x01" * 16)),
    ])
    assert rejected == {
        1: jute.Err.BAD_ARGUMENTS,
        2: jute.Err.BAD_ARGUMENTS,
        3: -118,  # SESSIONMOVED
        4: jute.Err.SESSION_EXPIRED,
        5: jute.Err.BAD_ARGUMENTS,
        6: jute.Err.BAD_ARGUMENTS,
    }, rejected

    # With its own session, a forwarder's skipACL is replaced by the leader's rules (no
    # skipACL): the locked node stays locked, while the same forged path does write an
    # open node, so the message itself was well formed.
    def forged_session_live():
        return not forward_to_leader([wire.txn_proposal(other, 8, wire.write_txn(
            forged_session, jute.Op.SET_DATA, jute.set_data_request("/open-target", b"forged", -1),
            rules=wire.SKIP_ACL))])
    wait_until(forged_session_live, 30, "the forged session to be created")
    assert not forward_to_leader([wire.txn_proposal(other, 9, wire.write_txn(
        forged_session, jute.Op.SET_DATA, jute.set_data_request("/locked", b"unlocked", -1),
        rules=wire.SKIP_ACL))])
    for member in ensemble.ids():
        wait_until(lambda m=member: data_on(ensemble, m, "/open-target") == b"forged", 60,
                   f"the control write on server {member}")
        assert data_on(ensemble, member, "/locked") == b"locked"
        assert data_on(ensemble, member, "/victim") == b"v"
        assert data_on(ensemble, member, "/owned") == b"mine"
        assert data_on(ensemble, member, "/zookeeper/config").find(b"server.9") == -1

    # The real session is unharmed: it writes, and its password still opens it elsewhere.
    assert owner.set_data("/owned", b"still mine").err == 0
    moved = jute.Session(jute_host(), ensemble.servers[other].client_port)
    response = moved.connect(session_id=owner.session_id, passwd=owner.passwd)
    assert response.timeout > 0, "the session's password no longer opens it"
    # The reconnect names no last zxid, so the other member may not have applied the write
    # yet: sync first (on a loaded machine it sometimes had not).
    moved.sync("/owned")
    assert moved.get_data("/owned").body[0] == b"still mine"
    moved.close_socket()
    owner.close_socket()
    canary.served(20)
    canary.check()


def jute_host() -> str:
    return wire.MEMBER_HOST
