"""zk.ActiveStandbyElector (Hadoop's HA elector, the core's) from Python: winning and
losing, fencing a crashed active's breadcrumb, refused fencing, graceful and fenced quits,
cede, format, calls from inside callbacks (close included), bad input; and Hadoop's
ActiveNodeInfo bytes."""

from __future__ import annotations

import gc
import logging
import threading
import weakref
from typing import Any, Callable, Iterator, List, Optional, Tuple

import pytest

import zk
from conftest import DEADLINE
from servers import wait_until

ACTIVE, STANDBY, INIT = zk.ElectorState.ACTIVE, zk.ElectorState.STANDBY, zk.ElectorState.INIT


class Service(zk.ElectorCallbacks):
    """Records every callback (name, argument, thread) in order; `fence_ok`, `active_ok`
    and `standby_ok` are the answers; `hook` runs inside become_active if set."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls: List[Tuple[str, Any, str]] = []
        self.lock = threading.Lock()
        self.fence_ok = True
        self.active_ok = True
        self.standby_ok = True
        self.hook: Optional[Callable[[], None]] = None

    def _record(self, what: str, arg: Any = None) -> None:
        with self.lock:
            self.calls.append((what, arg, threading.current_thread().name))

    def become_active(self) -> bool:
        self._record("active")
        if self.hook is not None:
            self.hook()
        return self.active_ok

    def become_standby(self) -> bool:
        self._record("standby")
        return self.standby_ok

    def enter_neutral(self) -> None:
        self._record("neutral")

    def fence_old_active(self, data: bytes) -> bool:
        self._record("fence", zk.ActiveNodeInfo.decode(data).namenode_id)
        return self.fence_ok

    def fatal_error(self, message: str) -> None:
        self._record("fatal", message)

    def names(self) -> List[Tuple[str, Any]]:
        with self.lock:
            return [(what, arg) for what, arg, _ in self.calls]

    def wait(self, entry: Tuple[str, Any], count: int = 1) -> None:
        wait_until(lambda: self.names().count(entry) >= count, DEADLINE,
                   f"{self.name}: {count} x {entry}")


def info(nn: str) -> bytes:
    return zk.ActiveNodeInfo("ns", nn, "127.0.0.1", 8020, 8019).encode()


@pytest.fixture
def electors(server: Any, path: str) -> Iterator[Callable[..., Tuple[zk.ActiveStandbyElector, Service]]]:
    """Makes electors on a fresh parent `<path>/ns` with a 2 s session; closes them all."""
    made: List[zk.ActiveStandbyElector] = []

    def make(name: str, hosts: Optional[str] = None, callbacks: Any = None,
             **kwargs: Any) -> Tuple[zk.ActiveStandbyElector, Service]:
        service = Service(name)
        kwargs.setdefault("timeout", 2.0)
        kwargs.setdefault("rejoin_pause", 0.2)
        elector = zk.ActiveStandbyElector(hosts or server.address,
                                          zk.parent_znode("ns", root=path),
                                          callbacks or service, **kwargs)
        made.append(elector)
        return elector, service

    yield make
    for elector in made:
        elector.close()


def wait_state(elector: zk.ActiveStandbyElector, state: zk.ElectorState) -> None:
    wait_until(lambda: elector.state == state, DEADLINE, f"{elector!r} {state}")


def active_then_standby(nn1: zk.ActiveStandbyElector, nn2: zk.ActiveStandbyElector) -> None:
    """The parent made, nn1 joins and wins, then nn2 joins and stands by."""
    nn1.ensure_parent()
    nn1.join(info("nn1"))
    wait_state(nn1, ACTIVE)
    nn2.join(info("nn2"))
    wait_state(nn2, STANDBY)


def breadcrumb(client: zk.Client, elector: zk.ActiveStandbyElector) -> Optional[str]:
    stat = client.exists(elector.parent + "/ActiveBreadCrumb")
    if stat is None:
        return None
    data, _ = client.get(elector.parent + "/ActiveBreadCrumb")
    return zk.ActiveNodeInfo.decode(data).namenode_id


def test_one_wins_the_other_stands_by_callbacks_on_a_python_thread(electors: Any) -> None:
    nn1, s1 = electors("nn1")
    nn2, s2 = electors("nn2")
    assert nn1.state == INIT and nn1.session_id == 0, "no session before a call needs one"
    assert nn1.ensure_parent() is None
    nn1.join(info("nn1"))
    s1.wait(("active", None))
    wait_state(nn1, ACTIVE)
    assert nn1.session_id != 0
    nn2.join(info("nn2"))
    s2.wait(("standby", None))
    wait_state(nn2, STANDBY)
    assert s1.names() == [("active", None)], "nobody to fence on a fresh parent"
    active = nn2.active_data()
    assert active is not None and zk.ActiveNodeInfo.decode(active).namenode_id == "nn1"
    # Callbacks run on each elector's own Python dispatch thread, never the caller's.
    threads = {thread for _, _, thread in s1.calls + s2.calls}
    assert all(t.startswith("zk-dispatch-") for t in threads), threads
    assert s1.calls[0][2] != s2.calls[0][2]
    assert threading.current_thread().name not in threads


@pytest.mark.zk_only
def test_a_crashed_actives_breadcrumb_is_fenced_then_overwritten(
        electors: Any, client: zk.Client) -> None:
    nn2, s2 = electors("nn2")
    nn2.ensure_parent()
    # What a crashed active leaves: its breadcrumb, no lock.
    client.create(nn2.parent + "/ActiveBreadCrumb", info("nn1"))
    s2.fence_ok = False
    nn2.join(info("nn2"))
    # Refused fencing blocks the takeover: the lock is released, the elector tries again.
    s2.wait(("fence", "nn1"), count=2)
    assert ("active", None) not in s2.names()
    assert breadcrumb(client, nn2) == "nn1"
    s2.fence_ok = True
    s2.wait(("active", None))
    wait_state(nn2, ACTIVE)
    assert breadcrumb(client, nn2) == "nn2"
    names = s2.names()
    assert names[names.index(("active", None)) - 1] == ("fence", "nn1"), names


@pytest.mark.zk_only
def test_a_cut_off_active_is_fenced_by_the_standby(
        electors: Any, servers: Any, server: Any, client: zk.Client) -> None:
    proxy = servers.proxy(server)
    nn1, s1 = electors("nn1", hosts=proxy.address)
    nn2, s2 = electors("nn2")
    active_then_standby(nn1, nn2)
    proxy.cut()  # nn1 loses ZooKeeper; its session expires, its breadcrumb stays
    s1.wait(("neutral", None))
    s2.wait(("active", None))
    assert s2.names() == [("standby", None), ("fence", "nn1"), ("active", None)]
    assert breadcrumb(client, nn2) == "nn2"


@pytest.mark.zk_only
def test_graceful_quit_deletes_the_breadcrumb_fenced_quit_keeps_it(
        electors: Any, client: zk.Client) -> None:
    nn1, s1 = electors("nn1")
    nn2, s2 = electors("nn2")
    active_then_standby(nn1, nn2)
    nn1.quit(need_fence=False)
    assert nn1.state == INIT
    s2.wait(("active", None))
    assert ("fence", "nn1") not in s2.names(), "a graceful quit needs no fencing"
    assert breadcrumb(client, nn2) == "nn2"
    # nn1 again, as standby; nn2 quits needing fencing (the default): nn1 fences it.
    nn1.join(info("nn1"))
    s1.wait(("standby", None))
    nn2.quit()
    s1.wait(("active", None), count=2)
    assert s1.names()[-2:] == [("fence", "nn2"), ("active", None)]
    assert breadcrumb(client, nn1) == "nn1"


@pytest.mark.zk_only
def test_cede_hands_over_and_rejoins_after_the_period(electors: Any) -> None:
    nn1, s1 = electors("nn1")
    nn2, s2 = electors("nn2")
    active_then_standby(nn1, nn2)
    nn1.cede(2.0)
    assert s1.names()[-1] == ("standby", None), "told to stand by before cede returns"
    s2.wait(("active", None))
    assert ("fence", "nn1") not in s2.names(), "a confirmed cede leaves nothing to fence"
    # After the period nn1 is back in the election, as standby.
    s1.wait(("standby", None), count=2)
    wait_state(nn1, STANDBY)
    # A standby cedes too: it stays out; cede(0) ends that at once.
    nn1.cede(30.0)
    wait_state(nn1, INIT)
    nn1.cede(0)
    wait_state(nn1, STANDBY)


def test_format_like_hdfs_zkfc_format_zk(electors: Any, client: zk.Client) -> None:
    nn1, _ = electors("nn1")
    assert nn1.parent_exists() is False
    assert nn1.format() is True
    assert nn1.parent_exists() is True
    client.create(nn1.parent + "/ActiveBreadCrumb", info("old"))
    assert nn1.format() is False, "an existing parent needs force"
    assert client.exists(nn1.parent + "/ActiveBreadCrumb") is not None
    assert nn1.format(force=True) is True
    assert client.get_children(nn1.parent) == []
    nn1.ensure_parent()  # idempotent
    nn1.join(info("nn1"))
    wait_state(nn1, ACTIVE)
    with pytest.raises(zk.BadArgumentsError, match="in the election"):
        nn1.format(force=True)
    nn1.quit(need_fence=False)
    nn1.clear_parent()
    assert nn1.parent_exists() is False


@pytest.mark.zk_only
def test_callbacks_may_call_their_elector_even_close(electors: Any, server: Any) -> None:
    nn1, s1 = electors("nn1")
    nn1.ensure_parent()
    seen: List[Any] = []

    def inside() -> None:
        # The calls that wait for the elector are refused here; close returns at once.
        try:
            nn1.active_data()
        except zk.InvalidStateError as error:
            seen.append(type(error))
        nn1.close()
        seen.append(nn1.closed)

    s1.hook = inside
    nn1.join(info("nn1"))
    wait_until(lambda: len(seen) == 2, DEADLINE, "the callback's calls")
    assert seen == [zk.InvalidStateError, True]
    with pytest.raises(zk.ConnectionClosedError):
        nn1.join(info("nn1"))
    # The closed elector's lock is gone: another wins.
    nn2, s2 = electors("nn2")
    nn2.join(info("nn2"))
    s2.wait(("active", None))
    # nn1 had written its breadcrumb before become_active: it is fenced. (nn2 may have
    # found nn1's lock still there: close() from a callback returns before it is done.)
    assert [n for n in s2.names() if n[0] != "standby"] == [("fence", "nn1"), ("active", None)]


@pytest.mark.zk_only
def test_quit_from_a_callback_and_close_waiting_for_a_running_callback(electors: Any) -> None:
    nn1, s1 = electors("nn1")
    nn1.ensure_parent()
    release = threading.Event()
    running = threading.Event()

    def quit_then_block() -> None:
        nn1.quit(need_fence=False)  # returns at once: takes effect after this callback
        running.set()
        release.wait(DEADLINE)

    s1.hook = quit_then_block
    nn1.join(info("nn1"))
    assert running.wait(DEADLINE)
    threading.Timer(0.3, release.set).start()
    nn1.close()  # waits for the running callback
    assert release.is_set()
    calls = len(s1.calls)
    assert nn1.closed and nn1.state == INIT
    assert len(s1.calls) == calls, "no callback after close() returned"


def test_a_raising_callback_fails_and_is_logged(
        electors: Any, caplog: pytest.LogCaptureFixture) -> None:
    class Broken(zk.ElectorCallbacks):
        def __init__(self) -> None:
            self.tries = 0

        def become_active(self) -> bool:
            self.tries += 1
            raise RuntimeError("service would not start")

        def fence_old_active(self, data: bytes) -> bool:
            return True

    broken = Broken()
    elector, _ = electors("nn1", callbacks=broken, rejoin_pause=0.1)
    elector.ensure_parent()
    with caplog.at_level(logging.ERROR, logger="zk"):
        elector.join(info("nn1"))
        wait_until(lambda: broken.tries >= 2, DEADLINE, "a second attempt after the failure")
        assert elector.state != ACTIVE
    assert "service would not start" in caplog.text


@pytest.mark.zk_only
def test_an_elector_forgotten_in_a_cycle_is_collected_and_ends(
        electors: Any, server: Any, path: str) -> None:
    class Holder(Service):
        elector: Optional[zk.ActiveStandbyElector] = None

    holder = Holder("nn1")
    nn1 = zk.ActiveStandbyElector(server.address, zk.parent_znode("ns", root=path), holder,
                                  timeout=2.0)
    holder.elector = nn1  # callbacks -> elector -> callbacks: a cycle through Rust
    nn1.ensure_parent()
    nn1.join(info("nn1"))
    holder.wait(("active", None))
    collected = weakref.ref(holder)
    del nn1, holder
    gc.collect()
    assert collected() is None
    # Its session ended with it (breadcrumb kept): a rival takes over at once, fencing it.
    nn2, s2 = electors("nn2")
    nn2.join(info("nn2"))
    s2.wait(("active", None))
    assert s2.names() == [("fence", "nn1"), ("active", None)]


def test_bad_input(server: Any) -> None:
    class NoFence:
        def become_active(self) -> bool:
            return True

    with pytest.raises(TypeError, match="fence_old_active"):
        zk.ActiveStandbyElector(server.address, "/hadoop-ha/x", NoFence())  # type: ignore[arg-type]
    with pytest.raises(zk.BadArgumentsError):
        zk.ActiveStandbyElector(server.address, "relative", zk.ElectorCallbacks())
    with pytest.raises(zk.BadArgumentsError):
        zk.ActiveStandbyElector(server.address, "/", zk.ElectorCallbacks())
    with pytest.raises(ValueError):
        zk.ActiveStandbyElector(server.address, "/a", zk.ElectorCallbacks(), max_retries=0)
    with pytest.raises(ValueError):
        zk.ActiveStandbyElector(server.address, "/a", zk.ElectorCallbacks(), timeout=-1)
    with zk.ActiveStandbyElector(server.address, "/a", zk.ElectorCallbacks()) as elector:
        with pytest.raises(TypeError):
            elector.join("text")  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            elector.cede(-1)
    assert elector.closed
    elector.close()  # twice is fine
    with pytest.raises(zk.ConnectionClosedError):
        elector.parent_exists()


def test_active_node_info_is_hadoops_protobuf() -> None:
    node = zk.ActiveNodeInfo("ns1", "nn1", "h", 8020, 8019)
    # protobuf-java's bytes: fields 1-3 length-delimited, 4 and 5 varints, in order.
    assert node.encode() == bytes.fromhex("0a036e7331" "12036e6e31" "1a0168" "20d43e" "28d33e")
    assert zk.ActiveNodeInfo.decode(node.encode()) == node
    negative = zk.ActiveNodeInfo("ns", "nn", "h", -1)
    assert zk.ActiveNodeInfo.decode(negative.encode()) == negative
    with pytest.raises(zk.MarshallingError, match="not an ActiveNodeInfo"):
        zk.ActiveNodeInfo.decode(node.encode()[:-2])  # zkfcPort missing
    with pytest.raises(ValueError):
        zk.ActiveNodeInfo.decode(b"\xff")
    assert zk.parent_znode("ns1") == "/hadoop-ha/ns1"
    assert zk.parent_znode("ns1", root="/ha/") == "/ha/ns1"
