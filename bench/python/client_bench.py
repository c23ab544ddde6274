"""One benchmark run of one Python client in its own process; prints one JSON line.

    client_bench.py --lib zk|kazoo|raw --mode MODE --server HOST:PORT [--ops N]
                    [--inflight K] [--path P] [--warmup W]

Modes (all on one node holding 100 bytes, made by run.py):
  roundtrip   `get`, one call at a time;
  pipelined   `get_async` with a window of K calls in flight (issue until K are out, then
              wait for the oldest, take the finished ones after it and refill), the same
              code for both clients;
  asyncio     (zk only) K asyncio tasks calling `await client.get()` in a loop under
              `asyncio.run`, i.e. K in flight;
  set         `set`, one call at a time.

`--lib raw` is a floor, not a client: a raw socket that sends a request prebuilt but for its
xid, waits with poll() and reads the reply's header, nothing else (sequential modes only).
A pure-Python client such as kazoo cannot spend less CPU per call than it does.

CPU per call is the process's user+sys time over the timed phase (`time.process_time()`,
every thread of the client included: IO threads, callback threads) divided by the calls.
Latency is per call from issue to result (pipelined: including the wait behind the others).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import select
import socket
import struct
import sys
import time
from typing import Any, Callable, List, Tuple



def cpu_seconds() -> float:
    """user + sys of this process (all threads): CLOCK_PROCESS_CPUTIME_ID, in nanoseconds,
    where /proc/self/stat counts 10 ms ticks (a 3,000-call run of ~40 µs each would be
    12 ticks, ±8 %)."""
    return time.process_time()


class RawSocket:
    """The floor of a sequential call (see the module doc): the session handshake, then
    one prebuilt request per call; raises on an error code in the reply."""

    def __init__(self, server: str) -> None:
        host, port = server.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.poller = select.poll()
        self.poller.register(self.sock, select.POLLIN)
        # ConnectRequest: protocol 0, last zxid 0, timeout 30 s, session 0, empty password.
        self.call(struct.pack(">iqiqi16s?", 0, 0, 30000, 0, 16, bytes(16), False), header=False)
        self.xid = 0

    def call(self, body: bytes, header: bool = True) -> bytes:
        self.sock.sendall(struct.pack(">i", len(body)) + body)
        self.poller.poll()
        reply = self.sock.recv(65536)
        while len(reply) < 4 or len(reply) < 4 + struct.unpack_from(">i", reply)[0]:
            reply += self.sock.recv(65536)
        if header:
            xid, _zxid, err = struct.unpack_from(">iqi", reply, 4)
            if err != 0 or xid != self.xid:
                raise RuntimeError(f"reply xid {xid} err {err} to request xid {self.xid}")
        return reply

    def request(self, opcode: int, payload: bytes) -> bytes:
        self.xid += 1
        return self.call(struct.pack(">ii", self.xid, opcode) + payload)

    def get(self, path: str) -> bytes:
        encoded = path.encode()
        return self.request(4, struct.pack(">i", len(encoded)) + encoded + b"\0")

    def set(self, path: str, value: bytes) -> bytes:
        encoded = path.encode()
        return self.request(5, struct.pack(">i", len(encoded)) + encoded
                            + struct.pack(">i", len(value)) + value + struct.pack(">i", -1))

    def stop(self) -> None:
        self.sock.close()

    def close(self) -> None:
        pass


def connect(lib: str, server: str) -> Any:
    if lib == "raw":
        return RawSocket(server)
    if lib == "zk":
        import zk

        client = zk.Client(server, timeout=30.0)
    else:
        from kazoo.client import KazooClient

        client = KazooClient(hosts=server, timeout=30.0)
    client.start(timeout=60)
    return client


def sequential(call: Callable[[], Any], ops: int) -> List[int]:
    clock = time.perf_counter
    lat = [0] * ops
    for i in range(ops):
        t = clock()
        call()
        lat[i] = int((clock() - t) * 1e6)
    return lat


def windowed(issue: Callable[[], Any], ops: int, inflight: int) -> List[int]:
    clock = time.perf_counter
    lat = [0] * ops
    window: "collections.deque[Tuple[int, float, Any]]" = collections.deque()
    for i in range(ops):
        if len(window) >= inflight:
            j, t, result = window.popleft()
            result.get()
            lat[j] = int((clock() - t) * 1e6)
            # Take every other call that has finished too, so the window refills in bursts.
            while window and window[0][2].ready():
                j, t, result = window.popleft()
                result.get()
                lat[j] = int((clock() - t) * 1e6)
        window.append((i, clock(), issue()))
    while window:
        j, t, result = window.popleft()
        result.get()
        lat[j] = int((clock() - t) * 1e6)
    return lat


def run_asyncio(server: str, path: str, ops: int, inflight: int, warmup: int) -> Tuple[List[int], float, float]:
    import zk

    clock = time.perf_counter

    async def main() -> Tuple[List[int], float, float]:
        async with zk.AsyncClient(server, timeout=30.0) as client:
            async def worker(count: int, lat: List[int]) -> None:
                for _ in range(count):
                    t = clock()
                    await client.get(path)
                    lat.append(int((clock() - t) * 1e6))

            async def phase(total: int) -> List[int]:
                lat: List[int] = []
                per, extra = divmod(total, inflight)
                await asyncio.gather(*[worker(per + (1 if i < extra else 0), lat)
                                       for i in range(inflight)])
                return lat

            if warmup:
                await phase(warmup)
            cpu0, t0 = cpu_seconds(), clock()
            lat = await phase(ops)
            return lat, clock() - t0, cpu_seconds() - cpu0

    return asyncio.run(main())


def percentile(sorted_lat: List[int], p: int) -> int:
    if not sorted_lat:
        return 0
    return sorted_lat[min(len(sorted_lat) - 1, len(sorted_lat) * p // 100)]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lib", choices=["zk", "kazoo", "raw"], required=True)
    parser.add_argument("--mode", choices=["roundtrip", "pipelined", "asyncio", "set"],
                        required=True)
    parser.add_argument("--server", required=True)
    parser.add_argument("--ops", type=int, default=20000)
    parser.add_argument("--inflight", type=int, default=64)
    parser.add_argument("--path", default="/bench")
    parser.add_argument("--warmup", type=int, default=None)
    args = parser.parse_args()
    warmup = args.ops // 10 if args.warmup is None else args.warmup

    if args.lib == "raw" and args.mode not in ("roundtrip", "set"):
        parser.error("--lib raw is the floor of sequential calls: roundtrip or set")
    if args.mode == "asyncio":
        if args.lib != "zk":
            parser.error("asyncio mode is for zk only (kazoo has no asyncio API)")
        lat, seconds, cpu = run_asyncio(args.server, args.path, args.ops, args.inflight,
                                        warmup)
    else:
        client = connect(args.lib, args.server)
        value = b"x" * 100
        if args.mode == "roundtrip":
            def phase(n: int) -> List[int]:
                return sequential(lambda: client.get(args.path), n)
        elif args.mode == "set":
            def phase(n: int) -> List[int]:
                return sequential(lambda: client.set(args.path, value), n)
        else:
            def phase(n: int) -> List[int]:
                return windowed(lambda: client.get_async(args.path), n, args.inflight)
        if warmup:
            phase(warmup)
        cpu0, t0 = cpu_seconds(), time.perf_counter()
        lat = phase(args.ops)
        seconds, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
        client.stop()
        client.close()
    lat.sort()
    print(json.dumps({
        "lib": args.lib,
        "mode": args.mode,
        "ops": args.ops,
        "seconds": round(seconds, 4),
        "ops_per_sec": round(args.ops / seconds, 1),
        "cpu_us_per_call": round(cpu / args.ops * 1e6, 2),
        "p50_us": percentile(lat, 50),
        "p99_us": percentile(lat, 99),
    }, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
