"""Typical uses of the API, type-checked with `mypy --strict` against the stubs by
scripts/test (never run: it documents and checks what the types allow)."""

from __future__ import annotations

import asyncio
from typing import List, Optional, Tuple

import zk


def sync_usage(hosts: str) -> None:
    with zk.Client(hosts, timeout=5.0, auth_data=[("digest", "u:p")]) as client:
        path: str = client.create("/a", b"v", makepath=True, ephemeral=False)
        data, stat = client.get(path)
        version: int = stat.version + stat.numChildren
        maybe: Optional[zk.ZnodeStat] = client.exists(path, watch=lambda e: print(e.type))
        client.set(path, data + b"!", version=version)
        result: zk.AsyncResult = client.get_async(path)
        pair: Tuple[bytes, zk.ZnodeStat] = result.get(timeout=1.0)
        acls, _ = client.get_acls(path)
        client.set_acls(path, [zk.make_digest_acl("u", "p", all=True), *acls])
        with client.transaction() as t:
            t.check(path, 1)
            t.set_data(path, b"x")
        state: zk.State = client.state
        if state.is_lost or maybe is None or not pair:
            return
        client.add_listener(lambda s: print(s.kazoo_state))
        with client.Lock("/lock", "me") as lock:
            token: Optional[int] = lock.fencing_token
            assert token is not None and not lock.is_lost
        sem = client.Semaphore("/sem", "me", max_leases=2)
        if sem.acquire(timeout=1.0):
            sem.release()
        leader: str = client.Election("/election", "me").run(lambda: "led")
        queue = client.Queue("/q")
        queue.put(b"item", priority=1)
        item: Optional[bytes] = queue.get()
        counter = client.Counter("/c")
        counter += 1
        current: int = counter.value
        watch = client.add_watch("/", recursive=True)
        for event in watch:
            if event.type is zk.EventType.OVERFLOW:
                break
        watch.remove()

        @client.DataWatch("/a")
        def on_data(data: Optional[bytes], stat: Optional[zk.ZnodeStat]) -> bool:
            return data is not None

        cache = client.TreeCache("/a")
        cache.start()
        node: Optional[zk.NodeData] = cache.get_data("/a")
        print(leader, item, current, node, on_data)
        try:
            client.delete("/a")
        except zk.NotEmptyError as error:
            code: Optional[int] = error.code
            print(code)


async def async_usage(hosts: str) -> List[bytes]:
    async with zk.AsyncClient(hosts) as client:
        await client.create("/b", b"1")
        results = await asyncio.gather(*(client.get("/b") for _ in range(10)))
        async with client.Lock("/lock"):
            pass
        watch = await client.add_watch("/b")
        async for event in watch:
            print(event.path)
            break
        return [data for data, _ in results]


class Service(zk.ElectorCallbacks):
    def become_active(self) -> bool:
        return True

    def fence_old_active(self, data: bytes) -> bool:
        old: zk.ActiveNodeInfo = zk.ActiveNodeInfo.decode(data)
        return old.port > 0


def elector_usage(hosts: str) -> Optional[zk.ActiveNodeInfo]:
    me = zk.ActiveNodeInfo("ns1", "nn1", "host1", 8020, zkfc_port=8019)
    with zk.ActiveStandbyElector(hosts, zk.parent_znode("ns1"), Service(), timeout=10.0,
                                 rejoin_pause=1.0) as elector:
        formatted: bool = elector.format(force=False)
        elector.join(me.encode())
        state: zk.ElectorState = elector.state
        elector.cede(5.0)
        elector.quit(need_fence=False)
        active = elector.active_data()
        print(formatted, state, elector.session_id, elector.parent_exists())
        return None if active is None else zk.ActiveNodeInfo.decode(active)
