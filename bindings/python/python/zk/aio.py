"""``AsyncClient``: the client for asyncio, the same operations as ``Client`` as coroutines.

Every coroutine runs its call on zk's IO threads and wakes the event loop when it is done;
the loop is never blocked. Several clients can share a loop, and one client can be used
from several tasks at once: calls are pipelined on the session, ``asyncio.gather`` of many
``get`` calls keeps them all in flight.

Cancelling a call (``task.cancel()``, ``asyncio.timeout``, ``asyncio.wait_for``) stops
waiting for it at once and abandons the request; a write that was already sent may still
be applied by the server, exactly as when a connection drops before the reply.
"""

from __future__ import annotations

import asyncio
import inspect
import os
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from zk import _zk
from zk._aio import wait_result
from zk._types import ACL, ClientInfo, State

Watcher = Callable[[_zk.WatchedEvent], Any]
Listener = Callable[[State], Any]


def _on_loop(func: Callable[..., Any], loop: asyncio.AbstractEventLoop) -> Callable[..., None]:
    """Wraps ``func`` so a call from zk's dispatch thread runs it on ``loop`` (a coroutine
    function is started as a task)."""

    def run(*args: Any) -> None:
        if inspect.iscoroutinefunction(func):
            loop.create_task(func(*args))
        else:
            func(*args)

    def call_soon(*args: Any) -> None:
        if not loop.is_closed():
            loop.call_soon_threadsafe(run, *args)

    return call_soon


def _loop_or_none() -> Optional[asyncio.AbstractEventLoop]:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class AsyncClient:
    """A ZooKeeper client for asyncio (see the module doc). Arguments as ``Client``'s.

    ``watch=`` callbacks and listeners run on the event loop that was running when they
    were given (coroutine functions become tasks); given outside a loop they run on the
    client's dispatch thread.
    """

    def __init__(
        self,
        hosts: str = "127.0.0.1:2181",
        timeout: float = 10.0,
        client_id: Optional[Tuple[int, bytes]] = None,
        read_only: bool = False,
        auth_data: Optional[Sequence[Tuple[str, Union[str, bytes]]]] = None,
        request_timeout: Optional[float] = None,
        connect_timeout: Optional[float] = None,
        use_ssl: bool = False,
        ca: Optional[Union[str, "os.PathLike[str]"]] = None,
        certfile: Optional[Union[str, "os.PathLike[str]"]] = None,
        keyfile: Optional[Union[str, "os.PathLike[str]"]] = None,
        verify_certs: bool = True,
        check_hostname: bool = False,
        sasl_options: Optional[Mapping[str, str]] = None,
        keyfile_password: Optional[str] = None,
    ) -> None:
        self._client = _zk.Client(
            hosts,
            timeout,
            client_id,
            read_only,
            list(auth_data) if auth_data is not None else None,
            request_timeout,
            connect_timeout,
            use_ssl,
            ca,
            certfile,
            keyfile,
            verify_certs,
            check_hostname,
            dict(sasl_options) if sasl_options is not None else None,
            keyfile_password,
        )
        self._listeners: Dict[Listener, Callable[..., None]] = {}

    @property
    def client(self) -> _zk.Client:
        """The synchronous ``Client`` sharing this session (for kazoo's recipes, or to
        call from another thread)."""
        return self._client

    @property
    def hosts(self) -> str:
        """The connect string."""
        return self._client.hosts

    @property
    def state(self) -> State:
        """The client's state."""
        return self._client.state

    @property
    def connected(self) -> bool:
        """Whether a session is established."""
        return self._client.connected

    @property
    def client_id(self) -> Optional[Tuple[int, bytes]]:
        """``(session_id, password)``, to resume the session elsewhere."""
        return self._client.client_id

    @property
    def session_timeout(self) -> float:
        """The negotiated session timeout in seconds."""
        return self._client.session_timeout

    def _watch(self, watch: Optional[Watcher]) -> Optional[Watcher]:
        if watch is None:
            return None
        loop = _loop_or_none()
        return _on_loop(watch, loop) if loop is not None else watch

    # ----- lifecycle -----

    async def start(self, timeout: float = 15.0) -> None:
        """Connects; raises ``OperationTimeoutError`` after ``timeout`` seconds."""
        result = self._client.start_async(timeout)
        try:
            await wait_result(result)
        except BaseException:
            await wait_result(self._client.stop_async())
            raise

    def _await(self, result: _zk.AsyncResult) -> Any:
        """Awaits one call of this client; the loop reads the client's socket meanwhile."""
        return wait_result(result, self._client)

    async def stop(self) -> None:
        """Closes the session; the client can be started again."""
        await wait_result(self._client.stop_async())

    async def close(self) -> None:
        """Closes the session and the client for good."""
        await wait_result(self._client.close_async())

    async def restart(self, timeout: float = 15.0) -> None:
        """``stop()`` then ``start()``: a new session."""
        await self.stop()
        await self.start(timeout)

    async def __aenter__(self) -> "AsyncClient":
        if not self._client.state.is_connected:
            await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def add_listener(self, listener: Listener) -> None:
        """Calls ``listener(state)`` on every state change (see the class doc for where)."""
        loop = _loop_or_none()
        wrapped = _on_loop(listener, loop) if loop is not None else listener
        self._listeners[listener] = wrapped
        self._client.add_listener(wrapped)

    def remove_listener(self, listener: Listener) -> None:
        """Removes a listener."""
        wrapped = self._listeners.pop(listener, None)
        if wrapped is not None:
            self._client.remove_listener(wrapped)

    # ----- operations -----

    async def create(
        self,
        path: str,
        value: bytes = b"",
        acl: Optional[Sequence[ACL]] = None,
        ephemeral: bool = False,
        sequence: bool = False,
        makepath: bool = False,
        container: bool = False,
        ttl: Optional[float] = None,
        include_data: bool = False,
    ) -> Any:
        """``Client.create``: the created path, or ``(path, ZnodeStat)`` with
        ``include_data``."""
        return await self._await(
            self._client.create_async(
                path, value, acl, ephemeral, sequence, makepath, container, ttl, include_data
            )
        )

    async def ensure_path(self, path: str, acl: Optional[Sequence[ACL]] = None) -> bool:
        """``Client.ensure_path``."""
        result: bool = await self._await(self._client.ensure_path_async(path, acl))
        return result

    async def get(
        self, path: str, watch: Optional[Watcher] = None
    ) -> Tuple[bytes, _zk.ZnodeStat]:
        """``Client.get``: ``(data, ZnodeStat)``."""
        result: Tuple[bytes, _zk.ZnodeStat] = await self._await(
            self._client.get_async(path, self._watch(watch))
        )
        return result

    async def exists(
        self, path: str, watch: Optional[Watcher] = None
    ) -> Optional[_zk.ZnodeStat]:
        """``Client.exists``: the ``ZnodeStat`` or ``None``."""
        result: Optional[_zk.ZnodeStat] = await self._await(
            self._client.exists_async(path, self._watch(watch))
        )
        return result

    async def set(self, path: str, value: bytes, version: int = -1) -> _zk.ZnodeStat:
        """``Client.set``: the new ``ZnodeStat``."""
        result: _zk.ZnodeStat = await self._await(self._client.set_async(path, value, version))
        return result

    async def get_children(
        self, path: str, watch: Optional[Watcher] = None, include_data: bool = False
    ) -> Any:
        """``Client.get_children``: the names, or ``(names, ZnodeStat)`` with
        ``include_data``."""
        return await self._await(
            self._client.get_children_async(path, self._watch(watch), include_data)
        )

    async def delete(self, path: str, version: int = -1, recursive: bool = False) -> bool:
        """``Client.delete``."""
        result: bool = await self._await(self._client.delete_async(path, version, recursive))
        return result

    async def get_acls(self, path: str) -> Tuple[List[ACL], _zk.ZnodeStat]:
        """``Client.get_acls``: ``([ACL, ...], ZnodeStat)``."""
        result: Tuple[List[ACL], _zk.ZnodeStat] = await self._await(
            self._client.get_acls_async(path)
        )
        return result

    async def set_acls(
        self, path: str, acls: Sequence[ACL], version: int = -1
    ) -> _zk.ZnodeStat:
        """``Client.set_acls``: the ``ZnodeStat``."""
        result: _zk.ZnodeStat = await self._await(
            self._client.set_acls_async(path, acls, version)
        )
        return result

    async def sync(self, path: str) -> str:
        """``Client.sync``."""
        result: str = await self._await(self._client.sync_async(path))
        return result

    async def add_auth(self, scheme: str, credential: Union[str, bytes]) -> bool:
        """``Client.add_auth``."""
        result: bool = await self._await(self._client.add_auth_async(scheme, credential))
        return result

    async def whoami(self) -> List[ClientInfo]:
        """``Client.whoami``."""
        result: List[ClientInfo] = await self._await(self._client.whoami_async())
        return result

    async def get_ephemerals(self, prefix: str = "/") -> List[str]:
        """``Client.get_ephemerals``."""
        result: List[str] = await self._await(self._client.get_ephemerals_async(prefix))
        return result

    async def reconfig(
        self,
        joining: Optional[str],
        leaving: Optional[str],
        new_members: Optional[str],
        from_config: int = -1,
    ) -> Tuple[bytes, _zk.ZnodeStat]:
        """``Client.reconfig``."""
        result: Tuple[bytes, _zk.ZnodeStat] = await self._await(
            self._client.reconfig_async(joining, leaving, new_members, from_config)
        )
        return result

    def transaction(self) -> "AsyncTransaction":
        """A transaction: add ops, then ``await t.commit()`` (or ``async with``)."""
        return AsyncTransaction(self._client.transaction())

    async def add_watch(
        self,
        path: str,
        recursive: bool = False,
        callback: Optional[Watcher] = None,
    ) -> _zk.PersistentWatch:
        """``Client.add_watch``; iterate the result with ``async for``."""
        result: _zk.PersistentWatch = await self._await(
            self._client.add_watch_async(path, recursive, self._watch(callback))
        )
        return result

    async def remove_watches(self, path: str) -> int:
        """``Client.remove_watches``."""
        return self._client.remove_watches(path)

    # ----- recipes with asyncio waits -----

    def Lock(
        self, path: str, identifier: Optional[str] = None, layout: str = "kazoo"
    ) -> "AsyncLock":
        """An ``AsyncLock`` (kazoo's ``Lock`` with coroutine ``acquire``/``release``)."""
        return AsyncLock(_zk.Lock(self._client, path, identifier, layout))

    def Semaphore(
        self, path: str, identifier: Optional[str] = None, max_leases: int = 1
    ) -> "AsyncLock":
        """An ``AsyncLock`` over kazoo's ``Semaphore``."""
        return AsyncLock(_zk.Semaphore(self._client, path, identifier, max_leases))


class AsyncTransaction:
    """``Client.transaction()`` with a coroutine ``commit``; ``async with`` commits on
    exit unless the block raised."""

    def __init__(self, transaction: _zk.Transaction) -> None:
        self._transaction = transaction

    def create(
        self,
        path: str,
        value: bytes = b"",
        acl: Optional[Sequence[ACL]] = None,
        ephemeral: bool = False,
        sequence: bool = False,
        container: bool = False,
        ttl: Optional[float] = None,
    ) -> None:
        """Adds a create."""
        self._transaction.create(path, value, acl, ephemeral, sequence, container, ttl)

    def delete(self, path: str, version: int = -1) -> None:
        """Adds a delete."""
        self._transaction.delete(path, version)

    def set_data(self, path: str, value: bytes, version: int = -1) -> None:
        """Adds a data change."""
        self._transaction.set_data(path, value, version)

    def check(self, path: str, version: int) -> None:
        """Adds a version check."""
        self._transaction.check(path, version)

    async def commit(self) -> List[Any]:
        """Applies every op or none (see ``Transaction.commit``)."""
        result: List[Any] = await wait_result(self._transaction.commit_async())
        return result

    async def __aenter__(self) -> "AsyncTransaction":
        return self

    async def __aexit__(self, exc_type: Optional[type], *rest: object) -> None:
        if exc_type is None:
            await self.commit()


class AsyncLock:
    """A ``Lock`` or ``Semaphore`` for asyncio: ``await lock.acquire(timeout=...)``,
    ``await lock.release()``, ``async with lock:``. Cancelling a waiting acquire removes
    its place in line."""

    def __init__(self, lock: Union[_zk.Lock, _zk.Semaphore]) -> None:
        self._lock = lock

    @property
    def lock(self) -> Union[_zk.Lock, _zk.Semaphore]:
        """The synchronous recipe behind this one."""
        return self._lock

    @property
    def is_acquired(self) -> bool:
        """Whether it is held."""
        return self._lock.is_acquired

    @property
    def fencing_token(self) -> Optional[int]:
        """The fencing token of the hold."""
        return self._lock.fencing_token

    @property
    def is_lost(self) -> bool:
        """Whether the hold is lost."""
        return self._lock.is_lost

    async def acquire(self, blocking: bool = True, timeout: Optional[float] = None) -> bool:
        """As the synchronous ``acquire``."""
        result: bool = await wait_result(self._lock.acquire_async(blocking, timeout))
        return result

    async def release(self) -> bool:
        """As the synchronous ``release``."""
        result: bool = await wait_result(self._lock.release_async())
        return result

    async def __aenter__(self) -> "AsyncLock":
        await self.acquire()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.release()
