"""What both Python suites (tests/interop, tests/faults) need to run servers and wait on them:
where zk-server and Apache ZooKeeper's jars and zkCli are, loopback ports, and deadline-bounded
polling.

Tests never sleep for a fixed time to let something happen; they poll a condition until a
deadline (`wait_until`) or block on an event with a timeout, so a slow, loaded 2-core machine
only makes them slower, not flaky.
"""

from __future__ import annotations

import os
import random
import socket
import time
from pathlib import Path
from typing import Any, Callable, Optional

REPO_ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"

# slf4j-simple rather than slf4j-nop: a server's log is what explains a failure.
# servlet-api.jar (Debian's libservlet-api-java) is the one jar the AdminServer (Jetty) needs
# that zookeeper.jar's manifest does not list; with it, `admin.enableServer=true` serves
# /commands as a real Apache 3.8 does (tests/interop/test_admin.py compares against it).
APACHE_CLASSPATH = ":".join([
    "/etc/zookeeper/conf",
    "/usr/share/java/zookeeper.jar",
    "/usr/share/java/netty-codec.jar",
    "/usr/share/java/netty-resolver.jar",
    "/usr/share/java/slf4j-simple.jar",
    "/usr/share/java/servlet-api.jar",
])
APACHE_MAIN = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
ZKCLI = "/usr/share/zookeeper/bin/zkCli.sh"


def zk_server_bin() -> Path:
    return Path(os.environ.get("ZK_SERVER_BIN", REPO_ROOT / "target" / "debug" / "zk-server"))


def wait_until(condition: Callable[[], Any], timeout: float, message: str,
               interval: float = 0.05) -> Any:
    """Polls `condition` until it returns a truthy value; raises TimeoutError at the deadline."""
    deadline = time.monotonic() + timeout
    last_error: Optional[BaseException] = None
    while True:
        try:
            value = condition()
            if value:
                return value
        except Exception as error:  # noqa: BLE001 - reported if the deadline passes
            last_error = error
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise TimeoutError(f"timed out after {timeout:.1f}s waiting for {message}{detail}")
        time.sleep(interval)


def free_port() -> int:
    """A port that was free a moment ago, for a server to bind soon after.

    Chosen at random below the kernel's ephemeral range, not with a bind to port 0: a port
    from that range can be taken, before the server binds it, as the source port of any
    outgoing connection (a client, a proxy), which made a server fail with "Address already
    in use" now and then. No port is handed out twice in one process."""
    ceiling = _ephemeral_floor()
    for _ in range(10_000):
        port = random.randrange(10_000, ceiling)
        if port in _HANDED_OUT:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((HOST, port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError(f"no free port found in 10000..{ceiling}")


_HANDED_OUT: "set[int]" = set()


def _ephemeral_floor() -> int:
    """The first port the kernel hands out for outgoing connections (32768 if unknown)."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return max(low, 10_001)
