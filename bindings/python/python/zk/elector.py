"""Hadoop's HA election for failover controllers: ``ActiveStandbyElector`` (the core's,
see docs/ha.md), the callbacks it calls, its states, and Hadoop's ``ActiveNodeInfo``.

    class Service(zk.ElectorCallbacks):
        def become_active(self) -> bool: ...      # start serving; False: could not
        def fence_old_active(self, data: bytes) -> bool: ...   # True once it cannot act

    with zk.ActiveStandbyElector("127.0.0.1:2181", zk.parent_znode("ns1"), Service()) as e:
        e.ensure_parent()
        e.join(zk.ActiveNodeInfo("ns1", "nn1", "host1", 8020, 8019).encode())
        ...
        e.quit(need_fence=False)      # leave gracefully
"""

from __future__ import annotations

import logging
from enum import Enum
from typing import NamedTuple

from zk._zk import ActiveStandbyElector, _decode_active_node_info, _encode_active_node_info
from zk._zk import parent_znode

__all__ = [
    "ActiveNodeInfo",
    "ActiveStandbyElector",
    "ElectorCallbacks",
    "ElectorState",
    "parent_znode",
]

_log = logging.getLogger("zk")


class ElectorState(str, Enum):
    """Where an elector stands (Hadoop's ``ActiveStandbyElector.State``)."""

    INIT = "INIT"
    """Not in the election: never joined, quit, ceding, or after a fatal error."""
    ACTIVE = "ACTIVE"
    STANDBY = "STANDBY"
    NEUTRAL = "NEUTRAL"
    """Disconnected (or the lock vanished): who is active is unknown."""

    def __str__(self) -> str:
        return self.value


class ElectorCallbacks:
    """What an ``ActiveStandbyElector`` calls (Hadoop's ``ActiveStandbyElectorCallback``),
    one at a time, in order, on the elector's own thread (``zk-dispatch-N``).

    Subclass it and override ``become_active`` and ``fence_old_active``; the others have
    defaults. A callback that returns ``False`` or raises has failed (an exception is
    logged on the ``zk`` logger); any other return is success. The elector waits for
    ``become_active`` and ``fence_old_active``, so a callback may call ``join``, ``quit``,
    ``cede`` or ``close`` of its elector (they take effect after it returns) but not the
    calls that wait for the elector (``InvalidStateError``).
    """

    def become_active(self) -> bool:
        """This instance holds the lock and the old active is fenced: make the service
        active. Failing makes the elector release the lock, wait 1 s and join again."""
        raise NotImplementedError("become_active")

    def become_standby(self) -> bool:
        """Another instance is active: make the service standby. Failing matters only in
        ``cede``: the breadcrumb is kept, so the next active fences this one."""
        return True

    def enter_neutral(self) -> None:
        """The connection is lost and who is active is unknown: an active should stop
        acting as one unless it knows its session is alive."""

    def fence_old_active(self, data: bytes) -> bool:
        """The breadcrumb names another instance (its ``data``, an encoded
        ``ActiveNodeInfo`` from HDFS controllers) that may still act as active: make sure
        it cannot, and return True only then. Failing stops this takeover."""
        raise NotImplementedError("fence_old_active")

    def fatal_error(self, message: str) -> None:
        """The elector gave up (retries exhausted, no session, unexpected errors) and
        left the election; ``join`` starts over."""
        _log.error("elector: fatal error: %s", message)


class ActiveNodeInfo(NamedTuple):
    """Hadoop's ``ActiveNodeInfo`` (HAZKInfo.proto), what HDFS failover controllers store
    in the elector's lock and breadcrumb: ``encode()`` gives the bytes protobuf-java
    writes, ``decode(data)`` reads them (``MarshallingError``, a ``ValueError``, if they
    are not one)."""

    nameservice_id: str
    namenode_id: str
    hostname: str
    port: int
    zkfc_port: int = 0

    def encode(self) -> bytes:
        """The protobuf bytes (protobuf-java's for the same values)."""
        return _encode_active_node_info(
            self.nameservice_id, self.namenode_id, self.hostname, self.port, self.zkfc_port
        )

    @classmethod
    def decode(cls, data: bytes) -> "ActiveNodeInfo":
        """Reads protobuf bytes; every field is required (``MarshallingError`` if not)."""
        return cls(*_decode_active_node_info(data))
