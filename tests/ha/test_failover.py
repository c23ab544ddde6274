"""The cross-language HA test (issue 16): one controller per language, each guarding its own
dummy service, contend for one nameservice on a 3-server zk-server ensemble while the test
kills the active controller, makes the new active's service unhealthy, kills the zk leader,
cuts the active controller off until its session expires, and restarts what it killed.

After each step: the ledger never had two services active at once, exactly one is active
(ledger, controllers, lock, breadcrumb), and a failover took at most the session timeout
plus 2 s (each time is printed in the summary).
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import List

import pytest

from cluster import Cluster
from controllers import Missing, Spec, resolve
from peers import wait_until

SESSION_TIMEOUT_MS = 4000


def specs(languages: List[str]) -> List[Spec]:
    """One controller per entry; a language given twice (development runs) gets -2, -3..."""
    try:
        commands = resolve(sorted(set(languages)))
    except Missing as missing:
        unavailable = str(missing)
    else:
        unavailable = ""
    if unavailable:
        pytest.fail(unavailable, pytrace=False)
    seen: Counter = Counter()
    result = []
    for language in languages:
        seen[language] += 1
        name = language if seen[language] == 1 else f"{language}-{seen[language]}"
        result.append(Spec(name, language, commands[language]))
    return result


def test_failover_across_languages(ensemble, languages, tmp_path: Path) -> None:
    if len(languages) < 3:
        pytest.fail(f"--ha-languages {languages}: the steps need at least three controllers")
    contenders = specs(languages)
    cluster = Cluster(ensemble, tmp_path, "cross", SESSION_TIMEOUT_MS)
    try:
        run_steps(cluster, contenders)
    except BaseException:
        print(cluster.describe())
        raise
    finally:
        cluster.close()


def run_steps(cluster: Cluster, all_specs: List[Spec]) -> None:
    ensemble = cluster.ensemble
    cluster.format(all_specs[0].command)
    controllers = [cluster.add(spec) for spec in all_specs]
    names = [controller.name for controller in controllers]
    cluster.report(f"controllers: {', '.join(s.name for s in all_specs)} "
                   f"(session timeout {SESSION_TIMEOUT_MS} ms)")

    # The first one started leads; every other one joins as standby.
    controllers[0].start()
    controllers[0].wait_line("active")
    for controller in controllers[1:]:
        controller.start()
    active = cluster.settled(names)
    assert active == names[0]
    cluster.report(f"start: {active} active, {len(names) - 1} standby")

    # 1. SIGKILL the active controller: its session expires, a standby fences its service
    #    (still running, still active until then) and takes over.
    killed = cluster.controllers[active]
    t0 = time.monotonic()
    killed.kill()
    live = [name for name in names if name != killed.name]
    active = cluster.failover("1 SIGKILL the active controller", killed.name, t0, live)

    # 2. The new active's service turns unhealthy: its controller leaves the election needing
    #    fencing; another one fences the service and takes over. The service recovers and its
    #    controller comes back as standby.
    sick = cluster.controllers[active]
    t0 = time.monotonic()
    assert sick.service.ctl("unhealthy") == "ok"
    healthy = [name for name in live if name != sick.name]
    active = cluster.failover("2 the active's service unhealthy", sick.name, t0, healthy)
    sick.wait_line("health NotResponding")
    t1 = time.monotonic()
    assert sick.service.ctl("healthy") == "ok"
    assert cluster.settled(live, since={sick.name: t1}) == active

    # 3. SIGKILL the zk leader. Sessions move to the other servers (a new leader gives each a
    #    whole timeout), so the active may keep its lock; if it lost it, the failover is timed
    #    like any other. The controllers that were connected to the leader go neutral first.
    leader = ensemble.wait_leader()
    port = ensemble.servers[leader].client_port
    on_leader = [name for name in live if port in cluster.controllers[name].proxy.connected_to()]
    t0 = time.monotonic()
    ensemble.kill(leader)
    survivors = [i for i in ensemble.ids() if i != leader]
    new_leader = ensemble.wait_leader(among=survivors)
    for name in on_leader:
        controller = cluster.controllers[name]
        controller_wait_states(controller, t0)
    after = cluster.settled(live)
    if after != active:
        cluster.failover("3 SIGKILL the zk leader", active, t0, live)
    else:
        cluster.report(f"3 SIGKILL the zk leader (server {leader}, new leader {new_leader}): "
                       f"no failover, {active} kept the lock ({len(on_leader)} controllers "
                       f"reconnected: {', '.join(on_leader) or 'none'})")
    active = after

    # 4. Cut the active controller off the ensemble until its session expires: once it has,
    #    another controller fences its service and takes over. Then the link heals and the
    #    cut-off controller rejoins on a new session as standby.
    cut = cluster.controllers[active]
    t0 = time.monotonic()
    cut.proxy.cut()
    others = [name for name in live if name != cut.name]
    active = cluster.failover("4 the active cut off from the ensemble", cut.name, t0, others)
    assert "neutral" in cut.elector_states(t0), f"{cut.name} never went neutral:\n{cut.tail()}"
    t1 = time.monotonic()
    cut.proxy.heal()
    assert cluster.settled(live, since={cut.name: t1}) == active

    # 5. Restart everything that was killed: the controller of step 1, the server of step 3.
    t0 = time.monotonic()
    ensemble.start(leader)
    killed.start()
    ensemble.wait_serving()
    assert cluster.settled(names) == active
    assert cluster.ledger.first("became-active", t0) is None or all(
        e.name == active for e in cluster.ledger.since(t0) if e.event == "became-active"), \
        "the restarts moved the active:\n" + cluster.ledger.text()
    cluster.report(f"5 restarted {killed.name} and server {leader}: {active} still active, "
                   f"{len(names) - 1} standby")

    # SIGTERM: each controller exits 0; the standbys first, so that nothing fails over.
    for name in [n for n in names if n != active] + [active]:
        controller = cluster.controllers[name]
        code = controller.stop()
        assert code == 0, f"{name} exited {code} on SIGTERM:\n{controller.tail()}"
        assert controller.has("exit on SIGTERM"), controller.tail()
    cluster.safe_active()


def controller_wait_states(controller, t0: float) -> None:
    """Waits until a controller whose server died went neutral, then back to a state."""
    def back() -> bool:
        states = controller.elector_states(t0)
        return "neutral" in states and states[-1] in ("active", "standby")
    wait_until(back, 60, f"{controller.name} to go neutral and back", interval=0.05)


def test_controllers_table_names_missing_languages(monkeypatch) -> None:
    """A language whose controller is absent is named in the failure (never skipped)."""
    import controllers
    monkeypatch.setattr(controllers, "EXAMPLES", Path("/nonexistent/examples/ha"))
    monkeypatch.delenv("ZK_HA_CONTROLLER_PYTHON", raising=False)
    with pytest.raises(Missing, match=r"python: no controller in"):
        controllers.resolve(["python"])
