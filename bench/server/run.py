#!/usr/bin/env python3
"""Server benchmark: zk-server against Apache ZooKeeper, standalone, same machine, same run.

    bench/server/run.py [--repeats 3] [--keys 1000000] [--duration 5] [--warmup 2]
                        [--clients 1,8,32] [--inflight 8] [--no-docs]

For each repeat, and for each server in turn (the order alternates between repeats):
  1. start the server on a fresh data directory (fsync on: both servers' default forceSync=yes);
  2. load --keys znodes of 100 bytes with `zk-bench --workload load` (many in flight) and
     read the server's RSS before and after;
  3. stop it (SIGTERM), start it again and time from the start to the first successful
     getData (a raw-socket probe); record the newest snapshot's size;
  4. run zk-bench's workloads against the loaded server: read and write at each client count
     (x --inflight in flight), mixed 90/10 and create-delete of ephemeral-sequential nodes at
     the largest count, watch fan-out (100 watchers) and idle sessions (1000).
Every zk-bench run gets --server-pid, so server CPU comes from /proc.

Ratios are zk/Apache within one repeat, then min/median/max over repeats. Results go to
bench/server/out/results.json, docs/img/server-*.png and the "Server" section of
docs/benchmarks.md (between the server-bench markers).

Needs: a release build of zk-server and zk-bench (`cargo build --release -p zk-server` then
`-p zk-bench`), Apache ZooKeeper (Debian's zookeeper package), Java, and matplotlib (the
script uses bench/.venv if it exists: `python3 -m venv bench/.venv && bench/.venv/bin/pip
install matplotlib`).
"""

import argparse
import datetime
import json
import os
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "bench", "server", "out")
WORK = "/var/tmp/zk-server-bench"
ZK_SERVER = os.path.join(ROOT, "target", "release", "zk-server")
ZK_BENCH = os.path.join(ROOT, "target", "release", "zk-bench")
APACHE_CP = ":".join([
    "/usr/share/java/zookeeper.jar",
    "/usr/share/java/netty-codec.jar",
    "/usr/share/java/netty-resolver.jar",
    "/usr/share/java/slf4j-simple.jar",
])
JVM_FLAGS = ["-Xmx2g"]
PORTS = {"zk": 22181, "apache": 22182}
NAMES = {"zk": "zk-server", "apache": "Apache ZooKeeper"}


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ----- servers -----

class ServerProc:
    def __init__(self, kind):
        self.kind = kind
        self.port = PORTS[kind]
        self.dir = os.path.join(WORK, kind)
        self.data = os.path.join(self.dir, "data")
        self.cfg = os.path.join(self.dir, "zoo.cfg")
        self.proc = None

    def fresh(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.data)
        with open(self.cfg, "w") as f:
            f.write(
                "tickTime=2000\n"
                f"dataDir={self.data}\n"
                f"clientPort={self.port}\n"
                "maxClientCnxns=0\n"
                "admin.enableServer=false\n"
                "4lw.commands.whitelist=*\n"
                "forceSync=yes\n"
            )

    def start(self):
        logf = open(os.path.join(self.dir, "server.log"), "ab")
        if self.kind == "zk":
            cmd = [ZK_SERVER, "start-foreground", self.cfg]
        else:
            cmd = ["java", *JVM_FLAGS, "-cp", APACHE_CP,
                   "-Dzookeeper.log.dir=" + self.dir,
                   "org.apache.zookeeper.server.quorum.QuorumPeerMain", self.cfg]
        t0 = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        return t0

    def stop(self):
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    @property
    def pid(self):
        return self.proc.pid

    def rss(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def newest_snapshot(self):
        d = os.path.join(self.data, "version-2")
        snaps = [n for n in os.listdir(d) if n.startswith("snapshot.")]
        if not snaps:
            return None, 0
        best = max(snaps, key=lambda n: int(n.split(".")[1], 16))
        return int(best.split(".")[1], 16), os.path.getsize(os.path.join(d, best))


def jute_string(s):
    b = s.encode()
    return struct.pack(">i", len(b)) + b


def recv_frame(sock):
    def exact(n):
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("closed")
            buf += chunk
        return buf
    (n,) = struct.unpack(">i", exact(4))
    return exact(n)


def probe_read(port, path, timeout=0.5):
    """One session handshake and one getData; True if the read succeeded."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.settimeout(timeout)
            body = struct.pack(">iqiq", 0, 0, 30000, 0) + struct.pack(">i", 16) + b"\0" * 16 + b"\0"
            s.sendall(struct.pack(">i", len(body)) + body)
            recv_frame(s)
            req = struct.pack(">ii", 1, 4) + jute_string(path) + b"\0"
            s.sendall(struct.pack(">i", len(req)) + req)
            while True:
                reply = recv_frame(s)
                xid, _zxid, err = struct.unpack(">iqi", reply[:16])
                if xid == 1:
                    return err == 0
    except OSError:
        return False


def wait_first_read(port, path, t0, limit=120.0):
    while time.monotonic() - t0 < limit:
        if probe_read(port, path):
            return time.monotonic() - t0
        time.sleep(0.01)
    raise RuntimeError(f"no successful read on port {port} within {limit} s")


def wait_serving(port, limit=60.0):
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.settimeout(1)
                s.sendall(b"srvr")
                if b"Mode" in s.recv(4096):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not start")


# ----- zk-bench -----

def bench(server, workload, **kw):
    cmd = [ZK_BENCH, "--server", f"127.0.0.1:{server.port}", "--workload", workload,
           "--server-pid", str(server.pid), "--quiet"]
    for k, v in kw.items():
        cmd += ["--" + k.replace("_", "-"), str(v)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {r.stderr.strip()}")
    line = [l for l in r.stdout.splitlines() if l.startswith("{")][-1]
    return json.loads(line)


def one_server(kind, args):
    s = ServerProc(kind)
    s.fresh()
    res = {"runs": []}
    try:
        s.start()
        wait_serving(s.port)
        time.sleep(1.0)
        rss0 = s.rss()
        log(f"  {kind}: loading {args.keys} znodes")
        ld = bench(s, "load", keys=args.keys, clients=8, inflight=128, value_size=100)
        time.sleep(1.0)
        rss1 = s.rss()
        res.update(load=ld, rss_empty=rss0, rss_loaded=rss1,
                   rss_per_znode=(rss1 - rss0) / args.keys)
        log(f"  {kind}: load {ld['ops_per_sec']:.0f} creates/s, RSS {rss0 >> 20} -> {rss1 >> 20} MiB")
        s.stop()
        t0 = s.start()
        res["restart_s"] = wait_first_read(s.port, "/bench/k0000000", t0)
        res["rss_restarted"] = s.rss()
        time.sleep(1.0)
        zxid, size = s.newest_snapshot()
        # Creates are the only txns so far: the snapshot's zxid counts the znodes it holds.
        res["snapshot_bytes"] = size
        res["snapshot_znodes"] = (zxid or 0) & 0xFFFFFFFF
        res["snapshot_bytes_per_znode"] = size / res["snapshot_znodes"] if res["snapshot_znodes"] else None
        log(f"  {kind}: restart {res['restart_s']:.2f} s, snapshot {size >> 20} MiB "
            f"({res['snapshot_znodes']} txns)")
        common = dict(keys=args.keys, value_size=100, duration=args.duration,
                      warmup=args.warmup, inflight=args.inflight)
        top = max(args.clients)
        plan = [(w, c) for w in ("read", "write") for c in args.clients]
        plan += [("mixed", top), ("create-delete", top)]
        for w, c in plan:
            r = bench(s, w, clients=c, **common)
            res["runs"].append(r)
            log(f"  {kind}: {w:13} {c:3}x{args.inflight}: {r['ops_per_sec']:9.0f} ops/s "
                f"p99 {r['p99_us']} us, server CPU {1e6 * r.get('server_cpu_s_per_1k_ops', 0):.0f} us/1k ops")
        r = bench(s, "watch", clients=args.watchers, duration=args.duration, warmup=args.warmup)
        res["runs"].append(r)
        log(f"  {kind}: watch {args.watchers}: p50 {r['p50_us']} p99 {r['p99_us']} us")
        r = bench(s, "idle", clients=args.idle_sessions, duration=args.duration,
                  session_timeout_ms=6000)
        res["runs"].append(r)
        log(f"  {kind}: idle {args.idle_sessions}: {r.get('rss_bytes_per_session')} B/session, "
            f"{r.get('idle_cpu_percent')} % CPU")
    finally:
        s.stop()
    return res


# ----- report -----

def find(res, workload, clients=None):
    for r in res["runs"]:
        if r["workload"] == workload and (clients is None or r["clients"] == clients):
            return r
    return None


def mmm(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return (min(values), statistics.median(values), max(values))


def fmt(x, digits=2):
    if x is None:
        return "–"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 100:
        return f"{x:.0f}"
    return f"{x:.{digits}f}"


def fmt3(t, digits=2):
    if t is None:
        return "–", "–", "–"
    return tuple(fmt(v, digits) for v in t)


def metrics(repeats, args):
    """Rows: (group, label, key function(res) -> value, better: 'higher'|'lower')."""
    top = max(args.clients)
    rows = []
    for w in ("read", "write"):
        for c in args.clients:
            rows.append((f"{w} {c}x{args.inflight}", "ops/s",
                         lambda r, w=w, c=c: (find(r, w, c) or {}).get("ops_per_sec")))
    for w in ("mixed", "create-delete"):
        rows.append((f"{w} {top}x{args.inflight}", "ops/s",
                     lambda r, w=w: (find(r, w, top) or {}).get("ops_per_sec")))
    for w in ("read", "write", "mixed", "create-delete"):
        for q in ("p50_us", "p99_us", "p999_us"):
            rows.append((f"{w} {top}x{args.inflight}", q.replace("_us", " µs").replace("p999", "p99.9"),
                         lambda r, w=w, q=q: (find(r, w, top) or {}).get(q)))
        rows.append((f"{w} {top}x{args.inflight}", "server CPU ms / 1k ops",
                     lambda r, w=w: 1000 * (find(r, w, top) or {}).get("server_cpu_s_per_1k_ops", 0) or None))
    for q in ("p50_us", "p99_us", "p999_us"):
        rows.append((f"watch fan-out, {args.watchers} watchers", q.replace("_us", " µs").replace("p999", "p99.9"),
                     lambda r, q=q: (find(r, "watch") or {}).get(q)))
    rows.append((f"idle, {args.idle_sessions} sessions", "RSS bytes / session",
                 lambda r: float((find(r, "idle") or {}).get("rss_bytes_per_session", 0)) or None))
    rows.append((f"idle, {args.idle_sessions} sessions", "server CPU %",
                 lambda r: (find(r, "idle") or {}).get("idle_cpu_percent")))
    rows.append((f"{args.keys:,} znodes", "load (create) ops/s", lambda r: r["load"]["ops_per_sec"]))
    rows.append((f"{args.keys:,} znodes", "RSS MiB after load", lambda r: r["rss_loaded"] / 2**20))
    rows.append((f"{args.keys:,} znodes", "RSS bytes / znode", lambda r: r["rss_per_znode"]))
    rows.append((f"{args.keys:,} znodes", "RSS MiB after restart", lambda r: r["rss_restarted"] / 2**20))
    rows.append((f"{args.keys:,} znodes", "snapshot bytes / znode", lambda r: r["snapshot_bytes_per_znode"]))
    rows.append((f"{args.keys:,} znodes", "restart to first read, s", lambda r: r["restart_s"]))
    return rows


def ratio_table(repeats, args):
    lines = ["| Workload | Metric | zk-server (median) | Apache (median) | zk/Apache min | median | max |",
             "|---|---|---:|---:|---:|---:|---:|"]
    summary = {}
    for group, label, f in metrics(repeats, args):
        zk = [f(r["zk"]) for r in repeats]
        ap = [f(r["apache"]) for r in repeats]
        ratios = [z / a for z, a in zip(zk, ap) if z is not None and a]
        zm, am, rm = mmm(zk), mmm(ap), mmm(ratios)
        summary[(group, label)] = rm
        rr = fmt3(rm, 3 if rm and rm[1] < 0.1 else 2)
        lines.append(f"| {group} | {label} | {fmt3(zm)[1]} | {fmt3(am)[1]} | {rr[0]} | {rr[1]} | {rr[2]} |")
    return "\n".join(lines), summary


def targets(summary, repeats, args):
    top = f"{max(args.clients)}x{args.inflight}"
    k = f"{args.keys:,} znodes"

    def check(name, key, goal, op):
        t = summary.get(key)
        if t is None:
            return f"| {name} | {goal} | – | not measured |"
        med = t[1]
        met = med >= op[1] if op[0] == ">=" else med <= op[1]
        if met:
            verdict = "met"
        elif op[0] == ">=":
            verdict = f"missed: {med:.2f}x is {100 * (1 - med / op[1]):.0f} % short"
        else:
            verdict = f"missed: {med:.3g} is {med / op[1]:.1f}x the bound"
        return f"| {name} | {goal} | {med:.3g} (min {t[0]:.3g}, max {t[2]:.3g}) | {verdict} |"

    rows = ["| Target | Goal (zk/Apache) | Measured ratio, median of runs | Verdict |", "|---|---|---|---|",
            check("read throughput", (f"read {top}", "ops/s"), ">= 2", (">=", 2.0)),
            check("write throughput", (f"write {top}", "ops/s"), ">= 1.5", (">=", 1.5)),
            check("server CPU per op, read", (f"read {top}", "server CPU ms / 1k ops"), "<= 1/3", ("<=", 1 / 3)),
            check("server CPU per op, write", (f"write {top}", "server CPU ms / 1k ops"), "<= 1/3", ("<=", 1 / 3)),
            check("p99 latency, read", (f"read {top}", "p99 µs"), "<= 1/2", ("<=", 0.5)),
            check("p99 latency, write", (f"write {top}", "p99 µs"), "<= 1/2", ("<=", 0.5)),
            check(f"RSS with {args.keys:,} znodes", (k, "RSS MiB after load"), "<= 1/4", ("<=", 0.25))]
    rs = [r["zk"]["restart_s"] for r in repeats]
    t = mmm(rs)
    verdict = "met" if t[2] < 1.0 else ("met in the median, not in every run" if t[1] < 1.0 else
                                        f"missed: {t[1]:.2f} s")
    rows.append(f"| zk-server restart with {args.keys:,} znodes | < 1 s (absolute) | "
                f"{t[1]:.2f} s (min {t[0]:.2f}, max {t[2]:.2f}) | {verdict} |")
    return "\n".join(rows)


def plots(repeats, args):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib not found: no plots")
        return []
    img = os.path.join(ROOT, "docs", "img")
    os.makedirs(img, exist_ok=True)
    colors = {"zk": "tab:blue", "apache": "tab:orange"}
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, w in zip(axes, ("read", "write")):
        for kind in ("zk", "apache"):
            med, lo, hi = [], [], []
            for c in args.clients:
                v = [(find(r[kind], w, c) or {}).get("ops_per_sec", 0) for r in repeats]
                m = statistics.median(v)
                med.append(m)
                lo.append(m - min(v))
                hi.append(max(v) - m)
            ax.errorbar(args.clients, med, yerr=[lo, hi], marker="o", capsize=3,
                        color=colors[kind], label=NAMES[kind])
        ax.set_title(f"{w} ({args.inflight} in flight per session, 100-byte values)")
        ax.set_xlabel("sessions")
        ax.set_ylabel("ops/s")
        ax.set_xscale("log", base=2)
        ax.set_xticks(args.clients)
        ax.set_xticklabels([str(c) for c in args.clients])
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    p1 = os.path.join(img, "server-throughput.png")
    fig.savefig(p1, dpi=100)
    plt.close(fig)

    top = max(args.clients)
    ws = ["read", "write", "mixed", "create-delete"]
    qs = [("p50_us", "p50"), ("p99_us", "p99"), ("p999_us", "p99.9")]
    fig, axes = plt.subplots(1, len(ws), figsize=(14, 4))
    for ax, w in zip(axes, ws):
        x = range(len(qs))
        for i, kind in enumerate(("zk", "apache")):
            vals = [statistics.median([(find(r[kind], w, top) or {}).get(q, 0) / 1000 for r in repeats])
                    for q, _ in qs]
            ax.bar([xx + (i - 0.5) * 0.38 for xx in x], vals, width=0.38, color=colors[kind],
                   label=NAMES[kind])
        ax.set_xticks(list(x))
        ax.set_xticklabels([l for _, l in qs])
        ax.set_title(f"{w}, {top}x{args.inflight}")
        ax.set_ylabel("latency, ms")
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=8)
    fig.tight_layout()
    p2 = os.path.join(img, "server-latency.png")
    fig.savefig(p2, dpi=100)
    plt.close(fig)
    return [p1, p2]


def git_version():
    try:
        rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain"],
                               capture_output=True, text=True).stdout.strip()
        return rev + (" + uncommitted changes" if dirty else "")
    except OSError:
        return "unknown"


def write_docs(repeats, args, started, elapsed):
    table, summary = ratio_table(repeats, args)
    tgt = targets(summary, repeats, args)
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()[0]
    top = max(args.clients)
    section = f"""<!-- server-bench:begin (generated by bench/server/run.py; edits here are overwritten) -->

Run of {started} UTC (`{' '.join(['bench/server/run.py', *sys.argv[1:]])}`, {elapsed / 60:.1f} minutes).

- Machine: {os.cpu_count()} cores, {cpu}; server and load tool (`zk-bench`, one process, tokio current-thread runtime) share them, so every figure includes the competition for CPU. Data directories on ext4 (`{WORK}`).
- Servers: zk-server {git_version()} (release build) and Apache ZooKeeper 3.8 (Debian) on {java}, JVM flags `{' '.join(JVM_FLAGS)}`. Both standalone, `tickTime=2000`, `forceSync=yes` (fsync on; the default of both), `maxClientCnxns=0`, default `snapCount` (100,000), fresh data directory per repeat.
- Per repeat and server (the order alternates between repeats): load {args.keys:,} znodes of 100 bytes (`zk-bench --workload load`, 8 sessions x 128 in flight), RSS from `/proc/PID/status` before and 1 s after the load; SIGTERM, restart, time from exec to the first successful getData (raw-socket probe; includes JVM start-up for Apache); size of the newest snapshot (its zxid says how many znodes it holds); then read and write of random keys at {', '.join(str(c) for c in args.clients)} sessions x {args.inflight} in flight, mixed 90/10 and create+delete of ephemeral-sequential nodes at {top} x {args.inflight}, each {args.warmup:g} s warm-up + {args.duration:g} s measured; watch fan-out with {args.watchers} watcher sessions and one writer (latency = setData reply to the last watcher's event); {args.idle_sessions} idle sessions (6 s session timeout) for {args.duration:g} s.
- Server CPU: utime + stime (+ reaped children: zk-server forks its snapshot writer) of the server process from `/proc/PID/stat` over the measured phase, divided by the operations.
- Repeats: {len(repeats)}. Ratios are zk-server / Apache within one repeat; min / median / max over the repeats. For ops/s higher is better for zk-server; for latency, CPU, memory and time lower is better.

### Targets (32 sessions x 8 in flight, 100-byte values, fsync on)

{tgt}

### All figures

{table}

![Throughput against sessions](img/server-throughput.png)

![Latency percentiles](img/server-latency.png)

<!-- server-bench:end -->"""
    path = os.path.join(ROOT, "docs", "benchmarks.md")
    with open(path) as f:
        text = f.read()
    begin, end = "<!-- server-bench:begin", "<!-- server-bench:end -->"
    if begin in text and end in text:
        a = text.index(begin)
        b = text.index(end) + len(end)
        text = text[:a] + section + text[b:]
    else:
        text = text.rstrip("\n") + "\n\n## Server\n\n" + section + "\n"
    with open(path, "w") as f:
        f.write(text)
    return table, tgt


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--duration", type=float, default=5)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--clients", default="1,8,32")
    ap.add_argument("--inflight", type=int, default=8)
    ap.add_argument("--watchers", type=int, default=100)
    ap.add_argument("--idle-sessions", type=int, default=1000)
    ap.add_argument("--no-docs", action="store_true")
    ap.add_argument("--report-only", action="store_true", help="rewrite docs from out/results.json")
    args = ap.parse_args()
    args.clients = [int(c) for c in args.clients.split(",")]
    os.makedirs(OUT, exist_ok=True)
    results = os.path.join(OUT, "results.json")
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    t0 = time.monotonic()
    if args.report_only:
        with open(results) as f:
            saved = json.load(f)
        repeats, started, elapsed = saved["repeats"], saved["started"], saved["elapsed"]
    else:
        for b in (ZK_SERVER, ZK_BENCH):
            if not os.path.exists(b):
                sys.exit(f"{b} is missing: cargo build --release -p zk-server; cargo build --release -p zk-bench")
        repeats = []
        for i in range(args.repeats):
            order = ("zk", "apache") if i % 2 == 0 else ("apache", "zk")
            rep = {}
            for kind in order:
                log(f"repeat {i + 1}/{args.repeats}: {NAMES[kind]}")
                rep[kind] = one_server(kind, args)
            repeats.append(rep)
            elapsed = time.monotonic() - t0
            with open(results, "w") as f:
                json.dump({"args": vars(args), "started": started, "elapsed": elapsed,
                           "repeats": repeats}, f, indent=1)
        elapsed = time.monotonic() - t0
    plots(repeats, args)
    if args.no_docs:
        table, _ = ratio_table(repeats, args)
        print(table)
        return
    table, tgt = write_docs(repeats, args, started, elapsed)
    print(tgt)
    print()
    print(table)


if __name__ == "__main__":
    main()
