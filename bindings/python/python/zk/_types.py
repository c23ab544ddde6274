"""The enums and named tuples zk's values are made of."""

from __future__ import annotations

import inspect
from enum import Enum
from typing import Any, Callable, ClassVar, List, NamedTuple, Optional

from zk._zk import ZnodeStat


class State(str, Enum):
    """A client's state, as listeners get it and ``Client.state`` gives it.

    kazoo's three states map onto these: kazoo's ``CONNECTED`` is ``CONNECTED`` or
    ``CONNECTED_RO``, ``SUSPENDED`` is ``SUSPENDED``, and ``LOST`` is any of ``EXPIRED``,
    ``AUTH_FAILED`` and ``CLOSED`` (``state.is_lost``, ``state.kazoo_state``). ``LOST``
    itself is the state of a client that was never started.
    """

    CONNECTED = "CONNECTED"
    CONNECTED_RO = "CONNECTED_RO"
    SUSPENDED = "SUSPENDED"
    LOST = "LOST"
    EXPIRED = "EXPIRED"
    AUTH_FAILED = "AUTH_FAILED"
    CLOSED = "CLOSED"

    def __str__(self) -> str:
        return self.value

    @property
    def is_connected(self) -> bool:
        """Whether a session is established (read-write or read-only)."""
        return self in (State.CONNECTED, State.CONNECTED_RO)

    @property
    def is_lost(self) -> bool:
        """Whether there is no session (kazoo's ``LOST``)."""
        return self in (State.LOST, State.EXPIRED, State.AUTH_FAILED, State.CLOSED)

    @property
    def kazoo_state(self) -> "State":
        """kazoo's state for this one: ``CONNECTED``, ``SUSPENDED`` or ``LOST``."""
        if self.is_connected:
            return State.CONNECTED
        if self is State.SUSPENDED:
            return State.SUSPENDED
        return State.LOST


class KazooState:
    """kazoo's three states, for code ported from kazoo: compare them with
    ``state.kazoo_state``."""

    CONNECTED: ClassVar[State] = State.CONNECTED
    SUSPENDED: ClassVar[State] = State.SUSPENDED
    LOST: ClassVar[State] = State.LOST


class KeeperState(str, Enum):
    """The connection state a ``WatchedEvent`` carries."""

    CONNECTED = "CONNECTED"
    CONNECTED_RO = "CONNECTED_RO"
    DISCONNECTED = "DISCONNECTED"
    EXPIRED_SESSION = "EXPIRED_SESSION"
    AUTH_FAILED = "AUTH_FAILED"
    CLOSED = "CLOSED"
    SASL_AUTHENTICATED = "SASL_AUTHENTICATED"
    UNKNOWN = "UNKNOWN"

    def __str__(self) -> str:
        return self.value


class EventType(str, Enum):
    """What a ``WatchedEvent`` reports. ``NONE`` is a session event; ``OVERFLOW`` tells a
    persistent watch's consumer that events were lost (re-read what it watches)."""

    NONE = "NONE"
    CREATED = "CREATED"
    DELETED = "DELETED"
    CHANGED = "CHANGED"
    CHILD = "CHILD"
    DATA_WATCH_REMOVED = "DATA_WATCH_REMOVED"
    CHILD_WATCH_REMOVED = "CHILD_WATCH_REMOVED"
    PERSISTENT_WATCH_REMOVED = "PERSISTENT_WATCH_REMOVED"
    OVERFLOW = "OVERFLOW"

    def __str__(self) -> str:
        return self.value


class Id(NamedTuple):
    """An identity: ``scheme`` (``world``, ``digest``, ``ip``, ``auth``, ...) and ``id``."""

    scheme: str
    id: str


class ACL(NamedTuple):
    """One ACL entry: permission bits (``Permissions``) for an ``Id``."""

    perms: int
    id: Id

    @property
    def acl_list(self) -> List[str]:
        """The permissions as names (``READ``, ``WRITE``, ...; ``ALL`` for all five)."""
        names = [("READ", 1), ("WRITE", 2), ("CREATE", 4), ("DELETE", 8), ("ADMIN", 16)]
        if self.perms & 31 == 31:
            return ["ALL"]
        return [name for name, bit in names if self.perms & bit]


class ClientInfo(NamedTuple):
    """One identity of a session, as ``whoami()`` reports it."""

    auth_scheme: str
    user: str


class NodeData(NamedTuple):
    """A cached node of a ``TreeCache``."""

    path: str
    data: bytes
    stat: ZnodeStat


class _TreeEvent(NamedTuple):
    event_type: int
    event_data: Optional[NodeData]


class TreeEvent(_TreeEvent):
    """A ``TreeCache`` event: ``event_type`` is one of the constants below; ``event_data``
    the node's ``NodeData`` for node events, else ``None``."""

    NODE_ADDED: ClassVar[int] = 0
    NODE_UPDATED: ClassVar[int] = 1
    NODE_REMOVED: ClassVar[int] = 2
    CONNECTION_SUSPENDED: ClassVar[int] = 3
    CONNECTION_RECONNECTED: ClassVar[int] = 4
    CONNECTION_LOST: ClassVar[int] = 5
    INITIALIZED: ClassVar[int] = 6


def _accepts_args(func: Callable[..., Any], count: int) -> bool:
    """Whether ``func`` can be called with ``count`` positional arguments."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return False
    try:
        signature.bind(*([None] * count))
    except TypeError:
        return False
    return True
