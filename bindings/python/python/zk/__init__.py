"""zk: a ZooKeeper client for Python over zk's Rust core.

kazoo's API (``Client`` is shaped as ``KazooClient``, with the same recipes on the same
znode layouts), plus asyncio (``AsyncClient``), persistent and recursive watches,
client-side session expiry, fencing tokens on locks, and callbacks that may call back
into the client (even ``close()``) without deadlocks; and Hadoop's HA elector
(``ActiveStandbyElector``, ``zk.elector``) for failover controllers.

    import zk

    with zk.Client("127.0.0.1:2181") as client:
        client.create("/app/config", b"v1", makepath=True)
        data, stat = client.get("/app/config")
        with client.Lock("/app/lock", "worker-1"):
            ...

Logging goes to the ``zk`` logger of Python's ``logging``.
"""

import atexit as _atexit
import os as _os

from zk import _zk
from zk._types import (
    ACL,
    ClientInfo,
    EventType,
    Id,
    KazooState,
    KeeperState,
    NodeData,
    State,
    TreeEvent,
)
from zk._zk import (
    AsyncResult,
    Barrier,
    ChildrenWatch,
    Client,
    Counter,
    DataWatch,
    DoubleBarrier,
    Election,
    Lock,
    LockingQueue,
    Party,
    PersistentWatch,
    Queue,
    ReadLock,
    Semaphore,
    Transaction,
    TreeCache,
    WatchedEvent,
    WriteLock,
    ZnodeStat,
    refresh_log_level,
)
from zk.aio import AsyncClient, AsyncLock, AsyncTransaction
from zk.elector import (
    ActiveNodeInfo,
    ActiveStandbyElector,
    ElectorCallbacks,
    ElectorState,
    parent_znode,
)
from zk.exceptions import *  # noqa: F401,F403 - the exception classes are part of the API
from zk.exceptions import __all__ as _exception_names
from zk.security import (
    CREATOR_ALL_ACL,
    OPEN_ACL_UNSAFE,
    READ_ACL_UNSAFE,
    Permissions,
    make_acl,
    make_digest_acl,
    make_digest_acl_credential,
)

__all__ = [
    "ACL",
    "ActiveNodeInfo",
    "ActiveStandbyElector",
    "AsyncClient",
    "AsyncLock",
    "AsyncResult",
    "AsyncTransaction",
    "Barrier",
    "ChildrenWatch",
    "Client",
    "ClientInfo",
    "Counter",
    "CREATOR_ALL_ACL",
    "DataWatch",
    "DoubleBarrier",
    "ElectorCallbacks",
    "ElectorState",
    "Election",
    "EventType",
    "Id",
    "KazooState",
    "KeeperState",
    "Lock",
    "LockingQueue",
    "NodeData",
    "OPEN_ACL_UNSAFE",
    "Party",
    "Permissions",
    "PersistentWatch",
    "Queue",
    "READ_ACL_UNSAFE",
    "ReadLock",
    "Semaphore",
    "State",
    "Transaction",
    "TreeCache",
    "TreeEvent",
    "WatchedEvent",
    "WriteLock",
    "ZnodeStat",
    "make_acl",
    "make_digest_acl",
    "make_digest_acl_credential",
    "parent_znode",
    "refresh_log_level",
    *_exception_names,
]

# A forked child gets its own runtime; clients made before the fork raise there.
_os.register_at_fork(after_in_child=_zk._after_fork_in_child)
# Let zk's threads end before the interpreter finalises.
_atexit.register(_zk._shutdown)
