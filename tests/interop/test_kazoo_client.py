"""kazoo client features against the server under test: ephemerals, sessions,
transactions, sequential nodes, ACLs, one-shot watches."""

from __future__ import annotations

import collections
import queue
import threading

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import (
    BadVersionError, InvalidACLError, NoAuthError, NodeExistsError, NoNodeError,
    NotEmptyError, RolledBackError, RuntimeInconsistency,
)
from kazoo.protocol.states import EventType, KazooState
from kazoo.security import ACL, CREATOR_ALL_ACL, Id, OPEN_ACL_UNSAFE, Permissions, make_digest_acl

import jute
from jute import Op
from proxy import StallingProxy
from support import HOST, wait_until

DEADLINE = 30.0


def record_states(client: KazooClient) -> list:
    states = []
    client.add_listener(states.append)
    return states


def test_basic_crud_and_stat(make_client, unique_path):
    client = make_client()
    path = f"{unique_path}/node"
    client.create(path, b"v0", makepath=True)
    data, stat = client.get(path)
    assert data == b"v0"
    assert (stat.version, stat.cversion, stat.aversion, stat.dataLength) == (0, 0, 0, 2)
    assert stat.czxid == stat.mzxid == stat.pzxid
    new_stat = client.set(path, b"v1", version=0)
    assert new_stat.version == 1 and new_stat.mzxid > stat.mzxid
    with pytest.raises(BadVersionError):
        client.set(path, b"v2", version=0)
    with pytest.raises(NodeExistsError):
        client.create(path)
    with pytest.raises(NoNodeError):
        client.create(f"{unique_path}/missing/child")
    with pytest.raises(NotEmptyError):
        client.delete(unique_path)
    assert client.get_children(unique_path) == ["node"]
    children, parent_stat = client.get_children(unique_path, include_data=True)
    assert children == ["node"] and parent_stat.numChildren == 1
    client.delete(path, version=1)
    assert client.exists(path) is None


def test_ephemeral_vanishes_after_stop(make_client, unique_path):
    owner, observer = make_client(), make_client()
    path = f"{unique_path}/ephemeral"
    owner.create(path, b"x", ephemeral=True, makepath=True)
    stat = observer.exists(path)
    assert stat is not None and stat.ephemeralOwner == owner.client_id[0]
    assert observer.exists(unique_path).ephemeralOwner == 0
    owner.stop()
    wait_until(lambda: observer.exists(path) is None, DEADLINE, "ephemeral to vanish after stop()")


def test_session_closed_elsewhere_makes_client_expire(make_client, server, unique_path):
    """Another connection resumes the session and closes it: kazoo must see LOST (expired)."""
    client = make_client(timeout=4.0)
    observer = make_client()
    states = record_states(client)
    path = f"{unique_path}/ephemeral"
    client.create(path, ephemeral=True, makepath=True)
    session_id, password = client.client_id

    # resume the session on another connection and close it at once: connect and
    # closeSession are pipelined, so kazoo's reconnect cannot slip in between
    thief = jute.Session(HOST, server.port)
    thief.send_connect(timeout_ms=4000, session_id=session_id, passwd=password)
    close_xid = thief.send_request(Op.CLOSE_SESSION)
    assert thief.read_connect_response().session_id == session_id
    close_reply = thief.read_reply(Op.CLOSE_SESSION)
    assert (close_reply.header.xid, close_reply.err) == (close_xid, 0)
    thief.close_socket()

    wait_until(lambda: observer.exists(path) is None, DEADLINE, "ephemeral removed with session")
    wait_until(lambda: KazooState.LOST in states, DEADLINE, "kazoo to report LOST")
    wait_until(lambda: client.connected and client.client_id[0] != session_id, DEADLINE,
               "kazoo to open a new session")
    assert client.exists(unique_path) is not None


def test_session_expires_when_traffic_stalls(make_client, server, unique_path):
    """A proxy stalls the client's traffic past the session timeout: the server expires it."""
    observer = make_client()
    with StallingProxy(HOST, server.port) as proxy:
        client = make_client(hosts=proxy.address, timeout=4.0)
        states = record_states(client)
        path = f"{unique_path}/ephemeral"
        client.create(path, ephemeral=True, makepath=True)
        session_id = client.client_id[0]
        assert observer.exists(path).ephemeralOwner == session_id

        proxy.stall()
        wait_until(lambda: KazooState.SUSPENDED in states, DEADLINE, "kazoo to suspend")
        # server-side expiry: timeout (4 s) + up to one tick
        wait_until(lambda: observer.exists(path) is None, DEADLINE, "server to expire the session")
        proxy.resume()
        wait_until(lambda: KazooState.LOST in states, DEADLINE, "kazoo to report LOST")
        wait_until(lambda: client.connected, DEADLINE, "kazoo to reconnect with a new session")
        assert client.client_id[0] != session_id
        assert client.exists(path) is None


def test_transaction_results(make_client, unique_path):
    client = make_client()
    client.create(f"{unique_path}/x", b"x", makepath=True)

    failing = client.transaction()
    failing.create(f"{unique_path}/a", b"a")
    failing.check(f"{unique_path}/x", 5)
    failing.set_data(f"{unique_path}/x", b"changed")
    results = failing.commit()
    assert [type(result) for result in results] == [
        RolledBackError, BadVersionError, RuntimeInconsistency]
    assert client.exists(f"{unique_path}/a") is None
    assert client.get(f"{unique_path}/x")[0] == b"x"

    succeeding = client.transaction()
    succeeding.create(f"{unique_path}/a", b"a")
    succeeding.check(f"{unique_path}/x", 0)
    succeeding.set_data(f"{unique_path}/x", b"changed")
    succeeding.create(f"{unique_path}/s-", sequence=True)
    succeeding.delete(f"{unique_path}/a")
    results = succeeding.commit()
    assert results[0] == f"{unique_path}/a"
    assert results[1] is True
    assert results[2].version == 1
    assert results[3] == f"{unique_path}/s-0000000002"
    assert results[4] is True
    assert results[2].mzxid == client.exists(f"{unique_path}/s-0000000002").czxid, \
        "all ops of a multi share one zxid"
    assert sorted(client.get_children(unique_path)) == ["s-0000000002", "x"]


def test_sequential_nodes(make_client, unique_path):
    client = make_client()
    client.ensure_path(unique_path)
    names = [client.create(f"{unique_path}/n-", sequence=True) for _ in range(3)]
    assert names == [f"{unique_path}/n-{i:010d}" for i in range(3)]
    client.delete(names[1])
    client.create(f"{unique_path}/plain")  # non-sequential creates bump the counter too
    ephemeral = client.create(f"{unique_path}/e-", ephemeral=True, sequence=True)
    assert ephemeral == f"{unique_path}/e-0000000004"
    assert client.create(f"{unique_path}/n-", sequence=True) == f"{unique_path}/n-0000000005"
    stat = client.exists(unique_path)
    # cversion counts changes: 6 creates + 1 delete; numChildren = 5
    assert (stat.cversion, stat.numChildren) == (7, 5)


def test_acl_and_digest_auth(make_client, unique_path):
    alice = make_client(auth_data=[("digest", "alice:pw")])
    anonymous = make_client()
    alice.ensure_path(unique_path)
    secret = f"{unique_path}/secret"
    alice_acl = make_digest_acl("alice", "pw", all=True)
    alice.create(secret, b"s3cr3t", acl=[alice_acl])

    with pytest.raises(NoAuthError):
        anonymous.get(secret)
    with pytest.raises(NoAuthError):
        anonymous.get_acls(secret)
    with pytest.raises(NoAuthError):
        anonymous.set(secret, b"x")
    with pytest.raises(NoAuthError):
        anonymous.create(f"{secret}/child")
    acls, stat = alice.get_acls(secret)
    assert acls == [alice_acl]
    assert acls[0].id.id == jute.digest_id("alice", "pw")

    anonymous.add_auth("digest", "alice:wrong")
    with pytest.raises(NoAuthError):
        anonymous.get(secret)
    anonymous.add_auth("digest", "alice:pw")
    assert anonymous.get(secret)[0] == b"s3cr3t"

    # read for everyone, admin for alice: a reader without ADMIN sees a masked digest
    shared = f"{unique_path}/shared"
    alice.create(shared, b"", acl=[ACL(Permissions.READ, Id("world", "anyone")),
                                   make_digest_acl("alice", "pw", admin=True)])
    reader = make_client()
    reader_acls, _ = reader.get_acls(shared)
    assert sorted((acl.perms, acl.id.scheme, acl.id.id) for acl in reader_acls) == [
        (Permissions.READ, "world", "anyone"), (Permissions.ADMIN, "digest", "alice:x")]
    alice.set_acls(shared, OPEN_ACL_UNSAFE)
    assert reader.get_acls(shared)[0] == OPEN_ACL_UNSAFE
    assert reader.get_acls(shared)[1].aversion == 1

    # CREATOR_ALL_ACL (auth scheme) needs an authenticated creator
    with pytest.raises(InvalidACLError):
        reader.create(f"{unique_path}/creator", acl=CREATOR_ALL_ACL)
    alice.create(f"{unique_path}/creator", acl=CREATOR_ALL_ACL)
    assert alice.get_acls(f"{unique_path}/creator")[0] == [alice_acl]


def test_exists_and_get_watches_fire_once(make_client, unique_path):
    watcher, writer = make_client(), make_client()
    writer.ensure_path(unique_path)
    path = f"{unique_path}/w"
    events = queue.Queue()
    fired = collections.Counter()
    lock = threading.Lock()

    def counting(kind):
        def callback(event):
            with lock:
                fired[kind] += 1
            events.put((kind, event.type, event.path))
        return callback

    assert watcher.exists(path, watch=counting("exists")) is None
    writer.create(path, b"1")
    assert events.get(timeout=DEADLINE) == ("exists", EventType.CREATED, path)

    watcher.get(path, watch=counting("get"))
    watcher.get_children(unique_path, watch=counting("children"))
    writer.set(path, b"2")
    assert events.get(timeout=DEADLINE) == ("get", EventType.CHANGED, path)
    writer.set(path, b"3")  # no watch left on path: nothing fires
    writer.create(f"{unique_path}/sibling")
    assert events.get(timeout=DEADLINE) == ("children", EventType.CHILD, unique_path)

    # a watch set after the changes above acts as an ordering barrier: events on
    # one connection arrive in order, so nothing else can still be in flight
    watcher.exists(path, watch=counting("barrier"))
    writer.delete(path)
    assert events.get(timeout=DEADLINE) == ("barrier", EventType.DELETED, path)
    assert fired == {"exists": 1, "get": 1, "children": 1, "barrier": 1}
    assert events.empty()
