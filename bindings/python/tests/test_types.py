"""The values and classes of the API: ZnodeStat, events, enums, ACL helpers, exceptions."""

from __future__ import annotations

import zk
import zk._zk as native
import zk.exceptions


def test_znode_stat_has_kazoos_fields(client: zk.Client, path: str) -> None:
    client.create(path, b"abc", ephemeral=True)
    _, stat = client.get(path)
    assert len(stat) == 11 and tuple(stat)[0] == stat.czxid and stat[-1] == stat.pzxid
    assert stat.dataLength == 3 and stat.data_length == 3
    assert stat.ephemeralOwner == client.client_id[0] == stat.owner_session_id
    assert stat.created == stat.ctime / 1000.0 and stat.last_modified == stat.mtime / 1000.0
    assert stat.acl_version == stat.aversion and stat.children_version == stat.cversion
    assert stat.creation_transaction_id == stat.czxid
    assert stat.last_modified_transaction_id == stat.mzxid
    assert stat.numChildren == stat.children_count == 0
    assert client.exists(path) == stat and hash(client.exists(path)) == hash(stat)
    assert repr(stat).startswith("ZnodeStat(czxid=")


def test_exception_classes_follow_the_codes() -> None:
    codes = {}
    for name in zk.exceptions.__all__:
        cls = getattr(zk, name)
        assert issubclass(cls, zk.ZkError), name
        assert cls.__module__ == "zk"
        if cls.code is not None and cls not in (zk.LockTimeout,):
            assert cls.code not in codes, (name, codes.get(cls.code))
            codes[cls.code] = name
    native_errors = {n for n in dir(native) if isinstance(getattr(native, n), type)
                     and issubclass(getattr(native, n), BaseException)}
    assert native_errors == set(zk.exceptions.__all__)
    assert codes[-101] == "NoNodeError" and codes[-110] == "NodeExistsError"
    assert codes[-4] == "ConnectionLoss" and codes[-112] == "SessionExpiredError"
    assert issubclass(zk.OperationTimeoutError, TimeoutError)
    assert issubclass(zk.LockTimeout, zk.OperationTimeoutError)
    assert issubclass(zk.BadArgumentsError, ValueError)
    assert issubclass(zk.ConnectionLoss, ConnectionError)
    assert issubclass(zk.ConnectionClosedError, zk.SessionExpiredError)
    assert zk.ZkError.code is None and zk.NoNodeError("x").code == -101


def test_enums_and_tuples() -> None:
    assert zk.EventType.CHANGED == "CHANGED" and str(zk.KeeperState.CONNECTED) == "CONNECTED"
    acl = zk.ACL(zk.Permissions.READ | zk.Permissions.WRITE, zk.Id("world", "anyone"))
    assert acl.acl_list == ["READ", "WRITE"]
    assert zk.TreeEvent(zk.TreeEvent.INITIALIZED, None).event_type == 6


def test_digest_acls_match_kazoo() -> None:
    from kazoo import security as kazoo_security

    assert zk.make_digest_acl_credential("user", "pw") == \
        kazoo_security.make_digest_acl_credential("user", "pw")
    ours = zk.make_digest_acl("user", "pw", read=True, write=True)
    theirs = kazoo_security.make_digest_acl("user", "pw", read=True, write=True)
    assert (ours.perms, ours.id.scheme, ours.id.id) == (theirs.perms, theirs.id.scheme,
                                                        theirs.id.id)
    assert zk.make_acl("ip", "10.0.0.1", all=True).perms == zk.Permissions.ALL


def test_kazoo_acls_are_accepted(client: zk.Client, path: str) -> None:
    from kazoo.security import make_digest_acl

    client.add_auth("digest", "k:pw")
    client.create(path, b"", acl=[make_digest_acl("k", "pw", all=True)])
    [acl], _ = client.get_acls(path)
    assert acl.id.scheme == "digest" and acl.perms == zk.Permissions.ALL
