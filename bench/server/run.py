#!/usr/bin/env python3
"""Server benchmark: zk-server against Apache ZooKeeper 3.8, same machine, same run, standalone
and as a 3-server ensemble.

    bench/server/run.py [--setups standalone,ensemble] [--repeats 3] [--keys 1000000]
                        [--duration 5] [--warmup 2] [--clients 1,8,32] [--inflight 8]
                        [--catch-ups 1] [--failovers 1] [--no-docs] [--report-only]

For each setup, each repeat, and each server kind in turn (the order alternates between
repeats), on fresh data directories (fsync on: both servers' default forceSync=yes):

standalone (measure.standalone):
  load --keys znodes of 100 bytes with `zk-bench --workload load`, RSS before and after;
  SIGTERM, restart, time to the first successful getData; the newest snapshot's size; then
  read and write at each --clients count (x --inflight in flight), mixed 90/10 and
  create-delete at the largest, watch fan-out (--watchers) and idle sessions (--idle-sessions).
ensemble (measure.ensemble), 3 participants on 127.0.0.1:
  load --keys znodes through the ensemble; RSS of each member once all are in sync; read,
  write and mixed at the largest --clients count, sessions spread over the members; leader
  failover under a write load, SIGKILL (--failovers times), the killed member restarted after
  each; catch-up of a wiped follower (--catch-ups times, each given --catch-up-timeout s).
Every zk-bench run gets the servers' pids, so server CPU (summed over the members) comes from
/proc.

First, unless --no-warm-memory, the machine's free memory is touched once (warm_memory): on
this kind of virtual machine the host backs guest memory only when it is first written, which
makes the first use of every page several times dearer than later ones. Without the warm-up
whichever server runs first pays that for its heap, page cache and snapshot files.

Ratios are zk/Apache within one repeat, then min/median/max over repeats. Results go to
bench/server/out/results.json (one entry per setup: a run of one setup keeps the other's),
docs/img/server-*.png and the generated block of docs/benchmarks.md (report.py).

Needs: release builds of zk-server and zk-bench (`cargo build --release -p zk-server` then
`-p zk-bench`), Apache ZooKeeper (Debian's zookeeper package), Java, and a venv with
matplotlib and kazoo (`python3 -m venv bench/.venv && bench/.venv/bin/pip install matplotlib
kazoo`); the script re-runs itself under bench/.venv/bin/python when that exists.
"""

import argparse
import datetime
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV_PYTHON = HERE.parent / ".venv" / "bin" / "python"
if VENV_PYTHON.exists() and Path(sys.prefix).resolve() != VENV_PYTHON.parents[1].resolve():
    os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), *sys.argv])

try:
    import kazoo  # noqa: E402,F401 - the fault suite's helpers wait and write through kazoo
except ImportError:
    sys.exit("kazoo is missing: python3 -m venv bench/.venv && bench/.venv/bin/pip install matplotlib kazoo")

import measure  # noqa: E402
import report  # noqa: E402
from servers import NAMES, ZK_BENCH, ZK_SERVER  # noqa: E402

OUT = HERE / "out"
RESULTS = OUT / "results.json"
MEASURE = {"standalone": measure.standalone, "ensemble": measure.ensemble}


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--setups", default="standalone,ensemble",
                    help="comma-separated: standalone, ensemble (default both)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--duration", type=float, default=5)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--clients", default="1,8,32",
                    help="session counts (standalone); the ensemble runs the largest")
    ap.add_argument("--inflight", type=int, default=8)
    ap.add_argument("--watchers", type=int, default=100)
    ap.add_argument("--idle-sessions", type=int, default=1000)
    ap.add_argument("--catch-ups", type=int, default=1, help="wiped-follower catch-ups per ensemble run")
    ap.add_argument("--failovers", type=int, default=1, help="leader kills per ensemble run")
    ap.add_argument("--catch-up-timeout", type=float, default=180,
                    help="seconds a wiped follower gets to catch up before it counts as failed")
    ap.add_argument("--no-warm-memory", action="store_true",
                    help="skip touching free memory once before the first measurement")
    ap.add_argument("--no-docs", action="store_true", help="print the tables, leave docs/ alone")
    ap.add_argument("--report-only", action="store_true",
                    help="redraw the docs block and plots from out/results.json")
    args = ap.parse_args()
    args.clients = [int(c) for c in args.clients.split(",")]
    args.setups = [s.strip() for s in args.setups.split(",") if s.strip()]
    for s in args.setups:
        if s not in MEASURE:
            ap.error(f"unknown setup {s!r}: choose from {', '.join(MEASURE)}")
    return args


def load_results():
    """Saved results per setup; a results.json from before the ensemble half is standalone."""
    if not RESULTS.exists():
        return {}
    saved = json.loads(RESULTS.read_text())
    return {"standalone": saved} if "repeats" in saved else saved


def save_results(all_results):
    OUT.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".tmp")
    tmp.write_text(json.dumps(all_results, indent=1))
    tmp.replace(RESULTS)


def warm_memory(leave_free=2 << 30, chunk=1 << 30):
    """Writes one byte into every page of the free memory (less `leave_free`), a chunk at a
    time, then gives it back; the page cache is dropped first (when root) so it counts."""
    import mmap
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        pass
    with open("/proc/meminfo") as f:
        free = next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemFree:"))
    total = max(0, free - leave_free)
    t0 = time.monotonic()
    done = 0
    page = mmap.PAGESIZE
    while done < total:
        size = min(chunk, total - done)
        m = mmap.mmap(-1, size)
        for offset in range(0, size, page):
            m[offset] = 1
        m.close()
        done += size
    measure.log(f"touched {done >> 20} MiB of free memory in {time.monotonic() - t0:.0f} s")


def run_setup(setup, args, all_results, versions):
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    t0 = time.monotonic()
    saved = {"args": {k: v for k, v in vars(args).items() if k not in ("report_only", "no_docs")},
             "command": " ".join(["bench/server/run.py", *sys.argv[1:]]),
             "started": started, "elapsed": 0.0, "versions": versions, "repeats": []}
    for i in range(args.repeats):
        order = ("zk", "apache") if i % 2 == 0 else ("apache", "zk")
        rep = {}
        for kind in order:
            measure.log(f"{setup}, repeat {i + 1}/{args.repeats}: {NAMES[kind]}")
            rep[kind] = MEASURE[setup](kind, args)
        saved["repeats"].append(rep)
        saved["elapsed"] = time.monotonic() - t0
        all_results[setup] = saved
        save_results(all_results)


def main():
    args = parse_args()
    all_results = load_results()
    if args.report_only:
        if not all_results:
            sys.exit(f"{RESULTS} is missing: run without --report-only first")
    else:
        for b in (ZK_SERVER, ZK_BENCH):
            if not b.exists():
                sys.exit(f"{b} is missing: cargo build --release -p zk-server; cargo build --release -p zk-bench")
        versions = report.current_versions()
        if not args.no_warm_memory:
            warm_memory()
        for setup in args.setups:
            run_setup(setup, args, all_results, versions)
    if not args.no_docs:
        report.plots(all_results)
        report.write_docs(all_results)
    print(report.tables(all_results))


if __name__ == "__main__":
    main()
