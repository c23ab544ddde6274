"""Every operation in each of its three forms: blocking, `*_async` (`AsyncResult.get`) and
asyncio (`AsyncClient` coroutines), against the shared server."""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Iterator

import pytest

import zk
from servers import Server

STYLES = ["sync", "async_result", "asyncio"]


class Caller:
    """Calls a client operation by name in one style and returns its value."""

    def __init__(self, server: Server, style: str) -> None:
        self.style = style
        self.loop: asyncio.AbstractEventLoop | None = None
        if style == "asyncio":
            self.loop = asyncio.new_event_loop()
            self.aio = zk.AsyncClient(server.address, timeout=10.0)
            self.loop.run_until_complete(self.aio.start(timeout=30))
            self.client = self.aio.client
        else:
            self.client = zk.Client(server.address, timeout=10.0)
            self.client.start(timeout=30)

    def __call__(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if self.style == "sync":
            return getattr(self.client, name)(*args, **kwargs)
        if self.style == "async_result":
            result = getattr(self.client, name + "_async")(*args, **kwargs)
            assert isinstance(result, zk.AsyncResult)
            return result.get(timeout=30)
        assert self.loop is not None
        return self.loop.run_until_complete(
            asyncio.wait_for(getattr(self.aio, name)(*args, **kwargs), 30))

    def commit(self, build: Callable[[Any], None]) -> Any:
        """Builds a transaction with `build(t)` and commits it in this style."""
        if self.style == "asyncio":
            assert self.loop is not None
            transaction = self.aio.transaction()
            build(transaction)
            return self.loop.run_until_complete(transaction.commit())
        transaction = self.client.transaction()
        build(transaction)
        if self.style == "sync":
            return transaction.commit()
        return transaction.commit_async().get(timeout=30)

    def close(self) -> None:
        if self.loop is not None:
            self.loop.run_until_complete(self.aio.close())
            self.loop.close()
        else:
            self.client.close()


@pytest.fixture(params=STYLES)
def op(request: pytest.FixtureRequest, server: Server) -> Iterator[Caller]:
    caller = Caller(server, request.param)
    yield caller
    caller.close()


def test_create_and_get(op: Caller, path: str) -> None:
    assert op("create", path, b"hello") == path
    data, stat = op("get", path)
    assert data == b"hello"
    assert isinstance(stat, zk.ZnodeStat)
    assert stat.version == 0 and stat.dataLength == 5 and stat.ephemeralOwner == 0
    created, stat = op("create", path + "/child", b"", include_data=True)
    assert created == path + "/child" and stat.czxid > 0
    assert op("create", path + "/empty") == path + "/empty"
    assert op("get", path + "/empty")[0] == b""


def test_every_create_mode(op: Caller, path: str) -> None:
    op("create", path)
    seq = op("create", path + "/s-", b"", sequence=True)
    assert seq.startswith(path + "/s-") and len(seq) == len(path + "/s-") + 10
    eph = op("create", path + "/e", b"", ephemeral=True)
    assert op("exists", eph).ephemeralOwner == op.client.client_id[0]
    eseq = op("create", path + "/es-", b"", ephemeral=True, sequence=True)
    assert op("exists", eseq).owner_session_id == op.client.client_id[0]
    assert sorted(op("get_ephemerals", path)) == sorted([eph, eseq])
    container = op("create", path + "/c", b"", container=True)
    assert op("exists", container) is not None
    ttl = op("create", path + "/t", b"", ttl=30.0)
    assert op("exists", ttl) is not None
    ttl_seq = op("create", path + "/ts-", b"", ttl=30.0, sequence=True)
    assert ttl_seq.startswith(path + "/ts-")
    deep = op("create", path + "/a/b/c", b"deep", makepath=True)
    assert op("get", deep)[0] == b"deep"
    with pytest.raises(zk.BadArgumentsError):
        op("create", path + "/x", b"", ephemeral=True, ttl=5.0)
    with pytest.raises(zk.BadArgumentsError):
        op("create", path + "/x", b"", container=True, sequence=True)


def test_exists_set_and_versions(op: Caller, path: str) -> None:
    assert op("exists", path) is None
    op("create", path, b"1")
    stat = op("set", path, b"2")
    assert stat.version == 1
    assert op("set", path, b"3", version=1).version == 2
    with pytest.raises(zk.BadVersionError) as error:
        op("set", path, b"4", version=1)
    assert error.value.code == -103
    assert op("exists", path).version == 2
    assert op("get", path)[0] == b"3"


def test_children_and_delete(op: Caller, path: str) -> None:
    op("create", path)
    for name in ("a", "b", "c"):
        op("create", f"{path}/{name}", name.encode())
    assert sorted(op("get_children", path)) == ["a", "b", "c"]
    children, stat = op("get_children", path, include_data=True)
    assert sorted(children) == ["a", "b", "c"] and stat.numChildren == 3
    assert stat.children_count == 3
    with pytest.raises(zk.NotEmptyError):
        op("delete", path)
    with pytest.raises(zk.BadVersionError):
        op("delete", path + "/a", version=7)
    assert op("delete", path + "/a", version=0) is True
    op("create", path + "/b/deeper/still", b"", makepath=True)
    assert op("delete", path, recursive=True) is True
    assert op("exists", path) is None
    with pytest.raises(zk.NoNodeError):
        op("delete", path)
    with pytest.raises(zk.NoNodeError):
        op("get_children", path)
    with pytest.raises(zk.NoNodeError):
        op("get", path)


def test_ensure_path_acls_and_sync(op: Caller, path: str) -> None:
    assert op("ensure_path", path + "/x/y") is True
    assert op("ensure_path", path + "/x/y") is True
    acls, stat = op("get_acls", path + "/x/y")
    assert acls == zk.OPEN_ACL_UNSAFE
    assert acls[0].perms == zk.Permissions.ALL and acls[0].acl_list == ["ALL"]
    with pytest.raises(zk.BadVersionError):
        op("set_acls", path + "/x/y", zk.OPEN_ACL_UNSAFE, version=3)
    read_only = [zk.ACL(zk.Permissions.READ, zk.Id("world", "anyone"))]
    stat = op("set_acls", path + "/x/y", read_only)
    assert stat.aversion == 1
    assert op("get_acls", path + "/x/y")[0] == read_only
    with pytest.raises(zk.NoAuthError):
        op("set", path + "/x/y", b"no")
    with pytest.raises(zk.NoAuthError):
        op("set_acls", path + "/x/y", zk.OPEN_ACL_UNSAFE)
    assert op("sync", path) == path


def test_auth_and_whoami(op: Caller, path: str) -> None:
    assert op("add_auth", "digest", "alice:secret") is True
    infos = op("whoami")
    assert zk.ClientInfo("digest", "alice") in infos
    acl = [zk.make_digest_acl("alice", "secret", all=True)]
    op("create", path, b"private", acl=acl)
    assert op("get", path)[0] == b"private"
    with zk.Client(op.client.hosts) as other:
        with pytest.raises(zk.NoAuthError):
            other.get(path)
        other.add_auth("digest", b"alice:secret")
        assert other.get(path)[0] == b"private"


def test_reconfig_on_a_standalone_server_is_refused(op: Caller) -> None:
    with pytest.raises(zk.ZkError) as error:
        op("reconfig", None, None, "server.1=127.0.0.1:2888:3888;2181")
    assert error.value.code is not None and error.value.code < 0


def test_transactions(op: Caller, path: str) -> None:
    op("create", path, b"0")

    def good(t: Any) -> None:
        t.check(path, 0)
        t.create(path + "/n", b"new")
        t.create(path + "/seq-", b"", sequence=True)
        t.set_data(path, b"1", version=0)
        t.delete(path + "/n")

    results = op.commit(good)
    assert results[0] is True and results[1] == path + "/n"
    assert results[2].startswith(path + "/seq-")
    assert isinstance(results[3], zk.ZnodeStat) and results[3].version == 1
    assert results[4] is True

    def bad(t: Any) -> None:
        t.create(path + "/m", b"")
        t.set_data(path, b"2", version=0)

    with pytest.raises(zk.BadVersionError) as error:
        op.commit(bad)
    assert (error.value.index, error.value.path, error.value.op) == (1, path, "set_data")
    assert "set_data" in str(error.value)
    assert op("exists", path + "/m") is None, "nothing of a failed transaction is applied"


def test_transaction_context_manager(client: zk.Client, path: str) -> None:
    with client.transaction() as t:
        t.create(path, b"a")
        t.create(path + "/b", b"b")
        assert len(t) == 2
    assert t.committed
    assert client.get(path + "/b")[0] == b"b"
    with pytest.raises(RuntimeError):
        with client.transaction() as t:
            t.create(path + "/never", b"")
            raise RuntimeError("the block failed")
    assert not t.committed and client.exists(path + "/never") is None
    with pytest.raises(ValueError):
        t.commit()
        t.commit()
    with pytest.raises(zk.BadArgumentsError):
        client.transaction().create("relative", b"")


def test_async_results(client: zk.Client, path: str) -> None:
    client.create(path, b"v")
    results = [client.get_async(path) for _ in range(200)]
    assert all(r.get(timeout=30)[0] == b"v" for r in results)
    done = results[0]
    assert done.ready() and done.successful() and done.exception is None
    assert done.value[0] == b"v" and done.get_nowait()[0] == b"v"
    failed = client.get_async(path + "/missing")
    assert failed.wait(30) is True
    assert not failed.successful()
    assert isinstance(failed.exception, zk.NoNodeError)
    with pytest.raises(zk.NoNodeError):
        failed.get()
    seen: list = []
    import threading
    linked = threading.Event()

    def link(result: zk.AsyncResult) -> None:
        seen.append((threading.current_thread().name, result.get()[0]))
        linked.set()

    client.get_async(path).rawlink(link)
    assert linked.wait(30)
    assert seen[0][0].startswith("zk-dispatch") and seen[0][1] == b"v"
    # rawlink after completion runs too
    linked.clear()
    done.rawlink(link)
    assert linked.wait(30)


def test_chroot(server: Server, clients: Callable[..., zk.Client], path: str) -> None:
    root = clients(server.address)
    root.create(path + "/app", b"", makepath=True)
    chrooted = clients(server.address + path + "/app")
    assert chrooted.create("/x", b"1") == "/x"
    assert root.get(path + "/app/x")[0] == b"1"
    assert chrooted.get_children("/") == ["x"]
    assert chrooted.create("/s-", b"", sequence=True).startswith("/s-")
