"""Hadoop interop (issue 16): Hadoop's own ActiveStandbyElector (hadoop-common, driven by
hadoop/HadoopController.java, its ActiveNodeInfo from hadoop-hdfs's HAZKInfoProtos) contends
with our controllers (Rust and C, and the other languages of --ha-languages: all five by
default) for one nameservice on a zk-server ensemble.

Exactly one active throughout; each side becomes active by fencing the other: each of ours
decodes the breadcrumb Hadoop wrote and fences Hadoop's service (the first one after Hadoop's
controller was killed and its session expired), and Hadoop decodes the breadcrumb each of
ours wrote and fences its service. The fence commands carry what the fencer decoded
(nameservice, namenode id, host:port) to the ledger, which is checked against the truth.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Dict, List

import pytest

from cluster import Cluster
from controllers import Controller, Missing, Spec, hadoop, resolve

SESSION_TIMEOUT_MS = 4000
NAMESERVICE = "hadoop-interop"


def fenced_by(cluster: Cluster, victim: Controller, fencer: str, t0: float) -> None:
    """The ledger says `fencer` fenced `victim` after t0, with victim's data decoded right."""
    entry = cluster.ledger.first("fenced", t0, victim.name)
    assert entry is not None and entry.by == fencer, cluster.ledger.text()
    want = f"{NAMESERVICE}/{victim.name}@127.0.0.1:{victim.service.control_port}"
    assert entry.target == want, f"{fencer} decoded {entry.target!r} from the breadcrumb, " \
                                 f"want {want!r}"


def test_hadoop_elector_and_ours_fence_each_other(ensemble, languages, tmp_path: Path) -> None:
    # Rust and C always; the other languages of --ha-languages (all five by default) too.
    ours = list(dict.fromkeys(["rust", "c", *languages]))
    try:
        commands = {"hadoop": hadoop(), **resolve(ours)}
    except Missing as missing:
        unavailable = str(missing)
    else:
        unavailable = ""
    if unavailable:
        pytest.fail(unavailable, pytrace=False)
    cluster = Cluster(ensemble, tmp_path, NAMESERVICE, SESSION_TIMEOUT_MS)
    try:
        run_interop(cluster, commands, ours)
    except BaseException:
        print(cluster.describe())
        raise
    finally:
        cluster.close()


def run_interop(cluster: Cluster, commands: dict, ours: List[str]) -> None:
    # Hadoop's elector formats the parent (ensureParentZNode on zk-server).
    cluster.format(commands["hadoop"])
    h = cluster.add(Spec("hadoop", "hadoop", commands["hadoop"]), zkfc_port=8019)
    mine = [cluster.add(Spec(name, name, commands[name]), zkfc_port=8019) for name in ours]
    # Two contenders at a time, so that each step names who must fence whom: our services
    # start unhealthy (their controllers stay out of the election) and join one by one.
    for controller in mine:
        assert controller.service.ctl("unhealthy") == "ok"
    h.start()
    h.wait_line("active")
    for controller in mine:
        controller.start()
    for controller in mine:
        controller.wait_line("health NotResponding")
    assert cluster.settled(["hadoop"]) == "hadoop"
    cluster.report("Hadoop's elector active; its lock and breadcrumb decode to its ActiveNodeInfo")

    # Hadoop's controller dies: once its session expires, the first of ours decodes Hadoop's
    # breadcrumb and fences its service; Hadoop's elector comes back as standby.
    first = mine[0]
    assert cluster.settled(["hadoop", first.name], since=join(first)) == "hadoop"
    t0 = time.monotonic()
    h.kill()
    assert cluster.failover("SIGKILL Hadoop", "hadoop", t0, [first.name]) == first.name
    fenced_by(cluster, h, first.name, t0)
    h.start()
    assert cluster.settled(["hadoop", first.name], since={"hadoop": t0}) == first.name
    take_back(cluster, h, first)

    # Each other language: it fences Hadoop's service, then Hadoop fences its.
    for controller in mine[1:]:
        assert cluster.settled(["hadoop", controller.name], since=join(controller)) == "hadoop"
        t0 = time.monotonic()
        assert h.service.ctl("unhealthy") == "ok"
        step = "Hadoop's service unhealthy"
        assert cluster.failover(step, "hadoop", t0, [controller.name]) == controller.name
        fenced_by(cluster, h, controller.name, t0)
        assert cluster.settled(["hadoop", controller.name], since=join(h)) == controller.name
        take_back(cluster, h, controller)

    # All healthy: Hadoop stays active, ours stand by; then every controller exits 0.
    rejoined = {}
    for controller in mine:
        rejoined.update(join(controller))
    assert cluster.settled(["hadoop", *ours], since=rejoined) == "hadoop"
    for controller in [*mine, h]:
        code = controller.stop()
        assert code == 0, f"{controller.name} exited {code} on SIGTERM:\n{controller.tail()}"
    cluster.safe_active()


def join(controller: Controller) -> Dict[str, float]:
    """Makes `controller`'s service healthy (it joins the election); `since` for settled()."""
    t0 = time.monotonic()
    assert controller.service.ctl("healthy") == "ok"
    return {controller.name: t0}


def take_back(cluster: Cluster, h: Controller, controller: Controller) -> None:
    """`controller`'s service fails: Hadoop decodes its breadcrumb and fences it. Its service
    stays unhealthy, out of the election, until the end."""
    t0 = time.monotonic()
    assert controller.service.ctl("unhealthy") == "ok"
    step = f"{controller.name}'s service unhealthy"
    assert cluster.failover(step, controller.name, t0, ["hadoop"]) == "hadoop"
    fenced_by(cluster, controller, "hadoop", t0)
