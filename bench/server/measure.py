"""What one repeat measures on one server kind: `standalone(kind, args)` and
`ensemble(kind, args)` each start fresh servers, run zk-bench's workloads and the timed
events against them, stop them and return a JSON-able dict (report.py reads it back).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from typing import Any, Dict, List

from servers import (ENSEMBLE_SIZE, ENSEMBLE_WORKLOADS, ROOT, ZK_BENCH, Servers, probe_read, seconds_until_read,
                     wait_until)

sys.path.insert(0, str(ROOT / "tests" / "faults"))
from failover import WriteLoad  # noqa: E402
from workload import new_client  # noqa: E402

# kazoo logs every refused reconnection while a member is down.
logging.getLogger("kazoo").setLevel(logging.CRITICAL)

LOAD_SESSIONS, LOAD_INFLIGHT = 8, 128
FAILOVER_DEADLINE = 120.0


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def zk_bench(servers: Servers, workload: str, **flags) -> Dict[str, Any]:
    """One zk-bench run over every member (sessions spread), CPU summed over their pids."""
    cmd = [str(ZK_BENCH), "--server", servers.connect_string(), "--workload", workload,
           "--server-pid", ",".join(str(p) for p in servers.pids()), "--quiet"]
    for k, v in flags.items():
        cmd += ["--" + k.replace("_", "-"), str(v)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {r.stderr.strip()}")
    return json.loads([line for line in r.stdout.splitlines() if line.startswith("{")][-1])


def load(servers: Servers, kind: str, keys: int) -> Dict[str, Any]:
    log(f"  {kind}: loading {keys} znodes")
    result = zk_bench(servers, "load", keys=keys, clients=LOAD_SESSIONS, inflight=LOAD_INFLIGHT,
                      value_size=100)
    log(f"  {kind}: load {result['ops_per_sec']:.0f} creates/s")
    return result


def timed_workloads(servers: Servers, kind: str, plan, args) -> List[Dict[str, Any]]:
    runs = []
    for workload, clients in plan:
        r = zk_bench(servers, workload, clients=clients, keys=args.keys, value_size=100,
                     duration=args.duration, warmup=args.warmup, inflight=args.inflight)
        runs.append(r)
        log(f"  {kind}: {workload:13} {clients:3}x{args.inflight}: {r['ops_per_sec']:9.0f} ops/s "
            f"p99 {r['p99_us']} us, server CPU "
            f"{1e6 * r.get('server_cpu_s_per_1k_ops', 0):.0f} us/1k ops, {r['errors']} errors")
    return runs


# ----- standalone -----

def standalone(kind: str, args) -> Dict[str, Any]:
    s = Servers(kind, 1)
    res: Dict[str, Any] = {"runs": []}
    started = time.monotonic()
    with s:
        s.start(1)
        s.wait_serving()
        # RSS before and 1 s after the load, as in every standalone run so far.
        time.sleep(1.0)
        rss0 = s.rss()
        ld = load(s, kind, args.keys)
        time.sleep(1.0)
        rss1 = s.rss()
        res.update(load=ld, rss_empty=rss0, rss_loaded=rss1,
                   rss_per_znode=(rss1 - rss0) / args.keys)
        log(f"  {kind}: RSS {rss0 >> 20} -> {rss1 >> 20} MiB")
        s.stop(1)
        t0 = time.monotonic()
        s.start(1)
        res["restart_s"] = seconds_until_read(s.port(), "/bench/k0000000", t0)
        res["rss_restarted"] = s.rss()
        time.sleep(1.0)
        zxid, size = s.newest_snapshot()
        # Creates are the only txns so far: the snapshot's zxid counts the znodes it holds.
        res["snapshot_bytes"] = size
        res["snapshot_znodes"] = (zxid or 0) & 0xFFFFFFFF
        res["snapshot_bytes_per_znode"] = size / res["snapshot_znodes"] if res["snapshot_znodes"] else None
        log(f"  {kind}: restart {res['restart_s']:.2f} s, snapshot {size >> 20} MiB "
            f"({res['snapshot_znodes']} txns)")
        top = max(args.clients)
        plan = [(w, c) for w in ("read", "write") for c in args.clients]
        plan += [("mixed", top), ("create-delete", top)]
        res["runs"] += timed_workloads(s, kind, plan, args)
        r = zk_bench(s, "watch", clients=args.watchers, duration=args.duration, warmup=args.warmup)
        res["runs"].append(r)
        log(f"  {kind}: watch {args.watchers}: p50 {r['p50_us']} p99 {r['p99_us']} us")
        r = zk_bench(s, "idle", clients=args.idle_sessions, duration=args.duration,
                     session_timeout_ms=6000)
        res["runs"].append(r)
        log(f"  {kind}: idle {args.idle_sessions}: {r.get('rss_bytes_per_session')} B/session, "
            f"{r.get('idle_cpu_percent')} % CPU")
    res["seconds"] = time.monotonic() - started
    return res


# ----- ensemble -----

def members_rss(e: Servers) -> Dict[str, Any]:
    leader = e.leader()
    return {"leader": e.rss(leader),
            "followers": [e.rss(i) for i in e.ids() if i != leader]}


def catch_up(e: Servers, kind: str, marker: str, deadline: float) -> Dict[str, Any]:
    """Stops a follower, empties its data directory (myid kept), writes `marker` through the
    leader, starts the follower again and times, from its exec, until in one poll `srvr` on
    it reports a Zxid >= the leader's (read just before) and a getData of `marker` on it
    succeeds. Past `deadline` seconds the result says so ("seconds": None) instead."""
    leader = e.wait_leader()
    follower = min(i for i in e.ids() if i != leader)
    e.stop(follower)
    e.wipe(follower)
    client = new_client(e.connect_string(leader))
    client.start(timeout=30)
    try:
        client.create(marker, str(time.time()).encode())
    finally:
        client.stop()
        client.close()
    first_mode = []

    def caught_up() -> bool:
        e._check_alive()
        target = e.zxid(leader)
        mine = e.zxid(follower)
        if mine is not None and not first_mode:
            first_mode.append(time.monotonic())
        return (target is not None and mine is not None and mine >= target
                and probe_read(e.port(follower), marker))

    t0 = time.monotonic()
    e.start(follower)
    res = {"member": follower, "leader": leader, "deadline_s": deadline}
    try:
        wait_until(caught_up, deadline, f"wiped server {follower} to catch up", interval=0.05)
        res["seconds"] = time.monotonic() - t0
    except TimeoutError as error:
        res["seconds"] = None
        res["error"] = str(error)
    res["serving_s"] = first_mode[0] - t0 if first_mode else None
    res["member_zxid"], res["leader_zxid"] = e.zxid(follower), e.zxid(leader)
    if res["seconds"] is None:
        log(f"  {kind}: wiped follower {follower} NOT caught up after {deadline:.0f} s: srvr Zxid "
            f"{res['member_zxid']!r} against the leader's {res['leader_zxid']!r}")
    else:
        log(f"  {kind}: wiped follower {follower} caught up after {res['seconds']:.2f} s "
            f"(srvr said follower after {res['serving_s']:.2f} s)")
    return res


def failover(e: Servers, kind: str) -> Dict[str, Any]:
    """With one writer per member (tests/faults/failover.py's WriteLoad) running, SIGKILLs the
    leader; times from the kill to the first write issued after it that is acknowledged, and
    to `srvr` showing another leader. Then restarts the killed member and waits until every
    member serves and has the leader's zxid; if it does not, the result has an "error".
    Raises when no write is acknowledged or no leader is elected."""
    load_ = WriteLoad(e)
    load_.start()
    try:
        if load_.first_ack_issued_after(time.monotonic(), 60) is None:
            raise RuntimeError("the writers got no write acknowledged within 60 s")
        leader = e.wait_leader()
        killed_at = time.monotonic()
        e.kill(leader)
        new_leader = e.wait_leader(exclude=leader, timeout=FAILOVER_DEADLINE)
        elected_at = time.monotonic()
        acked_at = load_.first_ack_issued_after(killed_at, FAILOVER_DEADLINE)
        if acked_at is None:
            raise RuntimeError(f"no write acknowledged {FAILOVER_DEADLINE} s after the kill")
        res = {"killed": leader, "new_leader": new_leader, "write_s": acked_at - killed_at,
               "leader_s": elected_at - killed_at}
        log(f"  {kind}: SIGKILL leader {leader}: first write acknowledged after "
            f"{res['write_s']:.2f} s, {new_leader} leads after <= {res['leader_s']:.2f} s")
        t0 = time.monotonic()
        e.start(leader)
        try:
            e.wait_serving()
            e.wait_in_sync()
            res["rejoin_s"] = time.monotonic() - t0
        except (TimeoutError, RuntimeError) as error:
            res["rejoin_s"] = None
            res["error"] = f"the killed leader did not rejoin: {error}"
            log(f"  {kind}: {res['error']}")
    finally:
        load_.close()
    return res


def ensemble(kind: str, args) -> Dict[str, Any]:
    e = Servers(kind, ENSEMBLE_SIZE)
    res: Dict[str, Any] = {"runs": [], "catch_up": [], "failover": []}
    started = time.monotonic()
    with e:
        e.start_all()
        e.wait_serving()
        res["first_leader"] = e.wait_leader()
        res["rss_empty"] = members_rss(e)
        res["load"] = load(e, kind, args.keys)
        t0 = time.monotonic()
        e.wait_in_sync()
        res["sync_after_load_s"] = time.monotonic() - t0
        res["rss_loaded"] = members_rss(e)
        log(f"  {kind}: members in sync {res['sync_after_load_s']:.2f} s after the load; RSS MiB "
            f"leader {res['rss_loaded']['leader'] >> 20}, followers "
            f"{[r >> 20 for r in res['rss_loaded']['followers']]}")
        top = max(args.clients)
        res["runs"] = timed_workloads(e, kind, [(w, top) for w in ENSEMBLE_WORKLOADS], args)
        e.wait_in_sync()
        # Failovers first: a member that does not catch up would leave the ensemble unfit for
        # them, and each failover ends with all three members in sync.
        for _ in range(args.failovers):
            try:
                res["failover"].append(failover(e, kind))
            except (TimeoutError, RuntimeError) as error:
                log(f"  {kind}: failover failed: {error}")
                res["failover"].append({"error": f"failover failed: {error}"})
            if "error" in res["failover"][-1]:
                break
        whole = not any("error" in f for f in res["failover"])
        for n in range(args.catch_ups if whole else 0):
            res["catch_up"].append(catch_up(e, kind, f"/bench/catch-up-{n}", args.catch_up_timeout))
            if res["catch_up"][-1]["seconds"] is None:
                break  # the ensemble is not whole any more
    res["seconds"] = time.monotonic() - started
    log(f"  {kind}: ensemble done in {res['seconds']:.0f} s")
    return res
