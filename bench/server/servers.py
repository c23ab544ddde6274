"""Server processes of the benchmark: zk-server and Apache ZooKeeper, standalone or as an
ensemble of 3 participants on loopback, both kinds from the same zoo.cfg keys.

Process control (start, SIGTERM/SIGKILL and wait, `srvr` modes, the leader, waiting until
members serve a read) is the fault suite's `Ensemble` (tests/faults/ensemble.py); `Servers`
adds what the benchmark needs on top: fixed loopback ports in 23100-23299, the benchmark's
zoo.cfg keys, the release zk-server, one set of JVM flags for every Apache process, a
standalone config (no `server.N` lines), and readings from /proc and `srvr`.
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "faults"))

from ensemble import MODES, Ensemble, four_letter_word  # noqa: E402
from netproxy import recv_exact  # noqa: E402
from peers import APACHE_CLASSPATH, APACHE_MAIN, HOST, wait_until  # noqa: E402,F401

WORK = Path("/var/tmp/zk-server-bench")
ZK_SERVER = ROOT / "target" / "release" / "zk-server"
ZK_BENCH = ROOT / "target" / "release" / "zk-bench"
NAMES = {"zk": "zk-server", "apache": "Apache ZooKeeper"}

# Every Apache process, standalone or ensemble member, gets exactly these.
JVM_FLAGS = ["-Xmx2g"]

# The zoo.cfg keys both kinds get (besides dataDir, clientPort, clientPortAddress=127.0.0.1
# and, in an ensemble, the server.N lines).
CONFIG = {
    "tickTime": "2000",
    "initLimit": "5",
    "syncLimit": "2",
    "forceSync": "yes",
    "maxClientCnxns": "0",
    "admin.enableServer": "false",
    "4lw.commands.whitelist": "*",
}

# Ports: a kind's standalone server listens on BASE+1; ensemble member N on BASE+10+N (client),
# BASE+30+N (quorum), BASE+50+N (election). No test uses this range.
PORT_BASE = {"zk": 23100, "apache": 23200}

ENSEMBLE_SIZE = 3
# The workloads the ensemble half runs, each at the largest --clients count.
ENSEMBLE_WORKLOADS = ("read", "write", "mixed", "create-delete")


class Servers(Ensemble):
    """`members` == 1: one standalone server; otherwise an ensemble of that many participants.

    A fresh working directory (WORK/<setup>-<kind>) on every construction; member N's
    data directory (with its myid) is `servers[N].data_dir`.
    """

    def __init__(self, kind: str, members: int, extra_cfg: Optional[Dict[str, str]] = None,
                 setup: Optional[str] = None) -> None:
        self.standalone = members == 1
        setup = setup or ("standalone" if self.standalone else "ensemble")
        workdir = WORK / f"{setup}-{kind}"
        shutil.rmtree(workdir, ignore_errors=True)
        super().__init__(kind, members, tmp_path=workdir, extra_cfg={**CONFIG, **(extra_cfg or {})},
                         proxied=False)
        base = PORT_BASE[kind] + (0 if self.standalone else 10)
        for i, server in self.servers.items():
            server.client_port = base + i
            server.quorum_port = base + 20 + i
            server.election_port = base + 40 + i
        for server in self.servers.values():
            server.config_path.write_text(self._config_text(server))

    def _config_text(self, server) -> str:
        text = super()._config_text(server)
        if self.standalone:
            text = "".join(line for line in text.splitlines(keepends=True)
                           if not line.startswith("server."))
        return text

    def command(self, server) -> List[str]:
        if self.kind == "apache":
            return ["java", *JVM_FLAGS, f"-Dzookeeper.log.dir={server.workdir}",
                    "-cp", APACHE_CLASSPATH, APACHE_MAIN, str(server.config_path)]
        return [str(ZK_SERVER), "start-foreground", str(server.config_path)]

    # -- readings
    def pid(self, i: int = 1) -> int:
        return self.servers[i].process.pid

    def pids(self) -> List[int]:
        return [self.pid(i) for i in self.ids() if self.servers[i].running()]

    def port(self, i: int = 1) -> int:
        return self.servers[i].client_port

    def rss(self, i: int = 1) -> int:
        with open(f"/proc/{self.pid(i)}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def srvr(self, i: int) -> Dict[str, str]:
        """`srvr`'s "Key: value" lines; empty when the server does not answer or does not
        serve (no Mode line, or a mode such as zk-server's "looking")."""
        if not self.servers[i].running():
            return {}
        try:
            reply = four_letter_word(self.port(i), "srvr", timeout=2.0)
        except OSError:
            return {}
        fields = dict(line.split(": ", 1) for line in reply.splitlines() if ": " in line)
        return fields if fields.get("Mode") in MODES else {}

    def zxid(self, i: int) -> Optional[int]:
        value = self.srvr(i).get("Zxid")
        return int(value, 16) if value else None

    def in_sync(self) -> bool:
        """Every running member serves and reports the leader's Zxid (leader read first)."""
        leader = self.leader()
        if leader is None:
            return False
        target = self.zxid(leader)
        others = [self.zxid(i) for i in self.ids() if i != leader and self.servers[i].running()]
        return target is not None and all(z is not None and z >= target for z in others)

    def wait_in_sync(self, timeout: float = 300.0) -> None:
        self._with_logs(lambda: wait_until(self.in_sync, timeout,
                                           "every member to reach the leader's zxid",
                                           interval=0.1))

    def newest_snapshot(self, i: int = 1):
        """(zxid, bytes) of the newest full snapshot (`snapshot.<zxid>`) in member i's data
        directory: zk-server's deltas (`snapshot.<zxid>.delta`) and temp files do not count."""
        d = self.servers[i].data_dir / "version-2"
        full = {}
        for name in os.listdir(d):
            parts = name.split(".")
            if len(parts) == 2 and parts[0] == "snapshot":
                try:
                    full[int(parts[1], 16)] = name
                except ValueError:
                    pass
        if not full:
            return None, 0
        zxid = max(full)
        return zxid, os.path.getsize(d / full[zxid])

    def wipe(self, i: int) -> None:
        """Empties a stopped member's data directory but for its myid."""
        server = self.servers[i]
        if server.running():
            raise RuntimeError(f"server {i} is running")
        shutil.rmtree(server.data_dir)
        server.data_dir.mkdir(parents=True)
        (server.data_dir / "myid").write_text(f"{server.myid}\n")


# ----- a raw read probe: no client library between the server and the clock -----

def _jute_string(s: str) -> bytes:
    b = s.encode()
    return struct.pack(">i", len(b)) + b


def _recv_frame(sock: socket.socket) -> bytes:
    (n,) = struct.unpack(">i", recv_exact(sock, 4))
    return recv_exact(sock, n)


def probe_read(port: int, path: str, timeout: float = 0.5) -> bool:
    """One session handshake and one getData of `path`; True if the read succeeded."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as s:
            s.settimeout(timeout)
            body = struct.pack(">iqiq", 0, 0, 30000, 0) + struct.pack(">i", 16) + b"\0" * 16 + b"\0"
            s.sendall(struct.pack(">i", len(body)) + body)
            _recv_frame(s)
            req = struct.pack(">ii", 1, 4) + _jute_string(path) + b"\0"
            s.sendall(struct.pack(">i", len(req)) + req)
            while True:
                reply = _recv_frame(s)
                xid, _zxid, err = struct.unpack(">iqi", reply[:16])
                if xid == 1:
                    return err == 0
    except OSError:
        return False


def seconds_until_read(port: int, path: str, since: float, timeout: float = 120.0) -> float:
    """Polls `probe_read` until it succeeds; seconds from `since` (time.monotonic())."""
    wait_until(lambda: probe_read(port, path), timeout,
               f"a successful read of {path} on port {port}", interval=0.01)
    return time.monotonic() - since
