"""Client benchmark for kazoo, the counterpart of core/examples/client_bench.rs (same flags,
same JSON line), run by bench/client/run.sh.

    kazoo_bench.py --server HOST:PORT --mode roundtrip|pipelined [--ops N] [--inflight K]
                   [--path P] [--warmup W]

roundtrip: `get` one at a time. pipelined: `get_async` with a semaphore of K permits, so at
most K calls are outstanding; each result's callback records its latency and frees a
permit. W (default N/10) untimed operations run first. Latency is per call, from just before
the call to its callback.
"""

import argparse
import json
import sys
import threading
import time

from kazoo.client import KazooClient


def run(zk, path, ops, pipelined, inflight):
    """Runs `ops` get calls; returns each one's latency in microseconds."""
    clock = time.perf_counter
    lat = [0] * ops
    if not pipelined:
        get = zk.get
        for i in range(ops):
            t = clock()
            get(path)
            lat[i] = int((clock() - t) * 1e6)
        return lat

    permits = threading.Semaphore(inflight)
    done = threading.Event()
    state = {"left": ops, "failures": 0}
    lock = threading.Lock()

    def finished(index, issued):
        def callback(result):
            lat[index] = int((clock() - issued) * 1e6)
            if result.exception is not None:
                with lock:
                    state["failures"] += 1
            permits.release()
            with lock:
                state["left"] -= 1
                if state["left"] == 0:
                    done.set()

        return callback

    for i in range(ops):
        permits.acquire()
        t = clock()
        zk.get_async(path).rawlink(finished(i, t))
    done.wait()
    if state["failures"]:
        raise RuntimeError(f"{state['failures']} get calls failed")
    return lat


def percentile(sorted_lat, p):
    if not sorted_lat:
        return 0
    return sorted_lat[min(len(sorted_lat) - 1, len(sorted_lat) * p // 100)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", default="127.0.0.1:2181")
    parser.add_argument("--mode", choices=["roundtrip", "pipelined"], default="roundtrip")
    parser.add_argument("--ops", type=int, default=20000)
    parser.add_argument("--inflight", type=int, default=64)
    parser.add_argument("--value-size", type=int, default=100)  # the node is made by run.sh
    parser.add_argument("--path", default="/bench")
    parser.add_argument("--warmup", type=int, default=None)
    args = parser.parse_args()
    warmup = args.ops // 10 if args.warmup is None else args.warmup
    pipelined = args.mode == "pipelined"
    inflight = max(1, args.inflight)

    zk = KazooClient(hosts=args.server, timeout=30.0)
    zk.start(timeout=30)
    try:
        if warmup > 0:
            run(zk, args.path, warmup, pipelined, inflight)
        start = time.perf_counter()
        lat = run(zk, args.path, args.ops, pipelined, inflight)
        seconds = time.perf_counter() - start
    finally:
        zk.stop()
        zk.close()
    lat.sort()
    print(
        json.dumps(
            {
                "client": "kazoo",
                "mode": args.mode,
                "ops": args.ops,
                "seconds": round(seconds, 4),
                "ops_per_sec": round(args.ops / seconds, 1),
                "p50_us": percentile(lat, 50),
                "p99_us": percentile(lat, 99),
            },
            separators=(",", ":"),
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
