"""Wire-level session behaviours (raw Jute client) that the other tests do not reach."""

from __future__ import annotations

import pytest

import jute
from jute import Acl, EventType, Op, Perm
from support import HOST


@pytest.mark.parametrize("requested, negotiated", [(1000, 4000), (30000, 30000), (100000, 40000)])
def test_session_timeout_is_clamped_to_2_and_20_ticks(server, requested, negotiated):
    session = jute.Session(HOST, server.port)
    response = session.connect(timeout_ms=requested)
    assert response.timeout == negotiated
    assert response.protocol_version == 0
    assert response.session_id != 0
    assert len(response.passwd) == 16
    assert response.read_only is False
    session.close_session()


def test_ping_and_close_session(server):
    session = server.session()
    reply = session.ping()
    assert (reply.header.xid, reply.header.err) == (jute.Xid.PING, 0)
    close = session.call(Op.CLOSE_SESSION)
    assert close.err == 0
    assert session.is_closed_by_server()


def test_reconnect_with_bad_password_is_expired(server, unique_path):
    """A wrong password gets the 'expired' ConnectResponse; the session itself stays valid."""
    owner = server.session(timeout_ms=10000)
    assert owner.create(unique_path, b"", flags=1).err == 0  # ephemeral
    impostor = jute.Session(HOST, server.port)
    response = impostor.connect(session_id=owner.session_id, passwd=b"\x01" * 16)
    assert (response.timeout, response.session_id, response.passwd) == (0, 0, b"\x00" * 16)
    assert impostor.is_closed_by_server()

    owner.close_socket()
    resumed = jute.Session(HOST, server.port)
    response = resumed.connect(timeout_ms=10000, session_id=owner.session_id, passwd=owner.passwd)
    assert response.session_id == owner.session_id and response.timeout == 10000
    reply = resumed.exists(unique_path)
    assert reply.err == 0 and reply.body.ephemeral_owner == owner.session_id
    resumed.close_session()


def test_failed_reconnect_attempt_and_the_owners_connection(server):
    """Apache (3.8 and 3.9) closes the session's current connection *before* it checks the
    password of a reconnect (ZooKeeperServer.processConnectRequest), so even a failed
    attempt disconnects the owner. zk-server departs on purpose (docs/architecture.md):
    anyone who knows a session id could otherwise cut its owner off, so the owner's
    connection stays up and keeps working. Either way the owner can resume the session."""
    owner = server.session(timeout_ms=10000)
    impostor = jute.Session(HOST, server.port)
    assert impostor.connect(session_id=owner.session_id, passwd=b"\x01" * 16).timeout == 0
    if server.kind == "apache":
        assert owner.is_closed_by_server()
    else:
        assert owner.ping().err == 0, "the owner's connection keeps working"
        owner.close_socket()
    resumed = jute.Session(HOST, server.port)
    response = resumed.connect(timeout_ms=10000, session_id=owner.session_id, passwd=owner.passwd)
    assert response.session_id == owner.session_id
    resumed.close_session()


def test_unknown_opcode_is_unimplemented_then_closed(server):
    session = server.session()
    reply = session.call(99)
    assert reply.err == jute.Err.UNIMPLEMENTED
    assert session.is_closed_by_server()


def test_failed_auth_is_reported_then_closed(server):
    session = server.session()
    assert session.add_auth("digest", b"user:pw").err == 0
    reply = session.add_auth("nosuchscheme", b"x")
    assert (reply.header.xid, reply.header.zxid, reply.err) == (jute.Xid.AUTH, 0,
                                                                jute.Err.AUTH_FAILED)
    assert session.is_closed_by_server()


def test_null_and_empty_data_are_distinct(server, unique_path):
    session = server.session()
    assert session.create(unique_path, None).err == 0
    assert session.create(f"{unique_path}/empty", b"").err == 0
    null_data, null_stat = session.get_data(unique_path).body
    empty_data, empty_stat = session.get_data(f"{unique_path}/empty").body
    assert null_data is None and null_stat.data_length == 0
    assert empty_data == b"" and empty_stat.data_length == 0
    assert session.set_data(f"{unique_path}/empty", None).err == 0
    assert session.get_data(f"{unique_path}/empty").body[0] is None
    session.close_session()


def test_notification_frames(server, unique_path):
    """exists-watch on a missing node, data and child watches: one event each, xid -1."""
    watcher, writer = server.session(), server.session()
    assert writer.create(unique_path, b"").err == 0
    node = f"{unique_path}/n"
    assert watcher.exists(node, watch=True).err == jute.Err.NO_NODE
    assert watcher.get_children(unique_path, watch=True).err == 0
    assert writer.create(node, b"1").err == 0
    events = watcher.wait_for_events(2)
    assert sorted((e.type, e.path) for e in events) == [
        (EventType.NODE_CREATED, node), (EventType.NODE_CHILDREN_CHANGED, unique_path)]
    assert all(e.state == 3 for e in events)  # SyncConnected
    watcher.events.clear()

    assert watcher.get_data(node, watch=True).err == 0
    assert writer.set_data(node, b"2").err == 0
    assert writer.set_data(node, b"3").err == 0
    assert writer.delete(node).err == 0
    assert watcher.ping().err == 0  # everything queued for the watcher arrives before this
    assert [(e.type, e.path) for e in watcher.events] == [(EventType.NODE_DATA_CHANGED, node)]
    watcher.close_session()
    writer.close_session()


def test_persistent_and_recursive_watches(server, unique_path):
    watcher, writer = server.session(), server.session()
    recursive_root, persistent = f"{unique_path}/r", f"{unique_path}/p"
    assert writer.create(unique_path, b"").err == 0
    add = watcher.add_watch(recursive_root, 1)
    assert add.err == 0
    assert watcher.add_watch(persistent, 0).err == 0
    for path in (recursive_root, f"{recursive_root}/a", persistent, f"{persistent}/c"):
        assert writer.create(path, b"").err == 0
    assert writer.set_data(f"{recursive_root}/a", b"x").err == 0
    assert writer.set_data(persistent, b"x").err == 0
    assert writer.delete(f"{recursive_root}/a").err == 0
    assert watcher.ping().err == 0
    assert [(e.type, e.path) for e in watcher.events] == [
        (EventType.NODE_CREATED, recursive_root),
        (EventType.NODE_CREATED, f"{recursive_root}/a"),
        (EventType.NODE_CREATED, persistent),
        (EventType.NODE_CHILDREN_CHANGED, persistent),
        (EventType.NODE_DATA_CHANGED, f"{recursive_root}/a"),
        (EventType.NODE_DATA_CHANGED, persistent),
        (EventType.NODE_DELETED, f"{recursive_root}/a"),
    ]
    watcher.close_session()
    writer.close_session()


def test_watch_not_delivered_without_read_permission(server, unique_path):
    watcher, owner = server.session(), server.session()
    assert owner.add_auth("digest", b"owner:pw").err == 0
    assert owner.create(unique_path, b"", acl=jute.OPEN_ACL_UNSAFE).err == 0
    node = f"{unique_path}/secret"
    assert watcher.exists(node, watch=True).err == jute.Err.NO_NODE
    secret_acl = [Acl(Perm.ALL, "digest", jute.digest_id("owner", "pw"))]
    assert owner.create(node, b"", acl=secret_acl).err == 0
    assert watcher.exists(f"{unique_path}/open", watch=True).err == jute.Err.NO_NODE
    assert owner.create(f"{unique_path}/open", b"").err == 0
    assert watcher.ping().err == 0
    assert [(e.type, e.path) for e in watcher.events] == [
        (EventType.NODE_CREATED, f"{unique_path}/open")]
    watcher.close_session()
    owner.close_session()


def test_who_am_i_and_ephemerals(server, unique_path):
    session = server.session()
    assert session.add_auth("digest", b"alice:pw").err == 0
    assert sorted(session.who_am_i().body) == [("digest", "alice"), ("ip", "127.0.0.1")]
    assert session.create(unique_path, b"").err == 0
    for name in ("e1", "e2"):
        assert session.create(f"{unique_path}/{name}", b"", flags=1).err == 0
    assert sorted(session.get_ephemerals(unique_path).body) == [
        f"{unique_path}/e1", f"{unique_path}/e2"]
    assert session.get_all_children_number(unique_path).body == 2
    other = server.session()
    assert other.get_ephemerals("/").body == []
    other.close_session()
    session.close_session()


def test_multi_shares_one_zxid_and_reports_create2_type(server, unique_path):
    session = server.session()
    reply = session.multi([
        (Op.CREATE, jute.create_request(unique_path, b"", jute.OPEN_ACL_UNSAFE, 0)),
        (Op.CREATE2, jute.create_request(f"{unique_path}/a", b"", jute.OPEN_ACL_UNSAFE, 0)),
        (Op.CREATE_TTL, jute.create_request(f"{unique_path}/t", b"", jute.OPEN_ACL_UNSAFE, 5,
                                            60000)),
        (Op.CREATE_CONTAINER, jute.create_request(f"{unique_path}/c", b"",
                                                  jute.OPEN_ACL_UNSAFE, 4)),
        (Op.SET_DATA, jute.set_data_request(unique_path, b"x", 0)),
        (Op.CHECK, jute.path_version_request(unique_path, 1)),
        (Op.DELETE, jute.path_version_request(f"{unique_path}/a", 0)),
    ])
    assert reply.err == 0
    assert all(err == 0 for _, err, _ in reply.body)
    types = [op_type for op_type, _, _ in reply.body]
    # createTTL/createContainer results are Create2Responses typed 15. A create2 sub-op is
    # answered as a plain create (type 1, path only) by 3.8.0-3.8.1 and as a Create2Response
    # (type 15, path + Stat) since 3.8.2 (ZOOKEEPER-4026): both are accepted.
    assert types[0] == Op.CREATE and types[2:] == [Op.CREATE2, Op.CREATE2, Op.SET_DATA,
                                                    Op.CHECK, Op.DELETE]
    assert types[1] in (Op.CREATE, Op.CREATE2)
    zxids = {reply.header.zxid, reply.body[2][2][1].czxid, reply.body[3][2][1].czxid,
             reply.body[4][2].mzxid}
    if types[1] == Op.CREATE:
        assert reply.body[1][2] == f"{unique_path}/a"
    else:
        assert reply.body[1][2][0] == f"{unique_path}/a"
        zxids.add(reply.body[1][2][1].czxid)
    assert len(zxids) == 1
    assert reply.body[2][2][1].ephemeral_owner == 0  # TTL owner hidden from clients
    session.close_session()


@pytest.mark.zk_only
def test_create_ttl_with_plain_mode_and_negative_ttl_does_not_kill_the_server(
        zk_target, server_factory):
    """Apache 3.8/3.9 accept createTTL(flags=0, ttl<0) (validateTTL only rejects ttl >= 0 for
    non-TTL modes), then applying the txn kills their SyncThread and the txn log cannot be
    replayed. zk-server may reject it (BADARGUMENTS) or create a plain node, but must keep
    serving, also after a restart on the same dataDir."""
    if zk_target != "zk":
        pytest.skip("kills Apache ZooKeeper 3.8/3.9")
    server = server_factory.start(zk_target)
    session = server.session()
    reply = session.create("/ttl-negative", b"", flags=0, opcode=Op.CREATE_TTL, ttl=-5)
    assert reply.err in (0, jute.Err.BAD_ARGUMENTS)
    created = reply.err == 0
    assert session.exists("/ttl-negative").err == (0 if created else jute.Err.NO_NODE)
    session.close_session()
    server.restart()
    after = server.session()
    assert after.exists("/ttl-negative").err == (0 if created else jute.Err.NO_NODE)
    after.close_session()
