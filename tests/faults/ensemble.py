"""A pseudo-distributed ZooKeeper ensemble of real server processes on loopback.

kind "apache": Apache ZooKeeper 3.8 (Debian's jars) as `java ... QuorumPeerMain zoo.cfg`;
kind "zk":     this repo's server as `zk-server start-foreground zoo.cfg`
               (ZK_SERVER_BIN, default target/debug/zk-server).
Both read the same zoo.cfg and `myid`. Server N (myid N, 1-based) has its own
directory with zoo.cfg, data/myid and server.log.

Peer traffic goes through test-owned proxies (netproxy.PeerNetwork): in server
i's zoo.cfg, `server.j` names the proxy for the route i->j, and only `server.i`
is i's real address. So the configs differ between servers in peer addresses
only, and the test partitions servers by cutting proxies (for Apache, the
election handshake is rewritten so that no connection bypasses them, see
apache_election_handshake). `proxied=False`
writes the real addresses everywhere (no partitions; used to time failover
without the proxy's overhead).
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from netproxy import Handshake, PeerNetwork, recv_exact
from waits import HOST, free_port, wait_until
from peers import APACHE_CLASSPATH, APACHE_MAIN, zk_server_bin  # noqa: E402 - waits puts it on the path
import jute  # noqa: E402 - waits puts tests/interop on the path

SESSION_TIMEOUT_MS = 10_000


def handshake(address: str, session_id: int = 0, passwd: bytes = b"\0" * 16,
              timeout: float = 5.0) -> Tuple[Optional[jute.Session], Optional[Tuple[int, int, bytes]]]:
    """Sends a ConnectRequest (the interop suite's jute client); the open connection and
    (timeout, session id, password) answered, or (None, None) when the server closed the
    connection without answering."""
    host, port = address.rsplit(":", 1)
    session = jute.Session(host, int(port), io_timeout=timeout)
    try:
        response = session.connect(SESSION_TIMEOUT_MS, session_id, passwd)
    except (jute.ConnectionClosed, OSError):
        session.close_socket()
        return None, None
    return session, (response.timeout, response.session_id, response.passwd)


def serves_now(address: str, timeout: float = 0.5) -> bool:
    """One raw attempt (the interop suite's jute client): a new session and a getData of `/`,
    each answered within `timeout`. A refused or dropped handshake fails at once (kazoo's
    start, its retries spent, waits out its whole timeout), so polling this times when a
    server serves again."""
    host, port = address.rsplit(":", 1)
    try:
        session = jute.connect_session(host, int(port), SESSION_TIMEOUT_MS, io_timeout=timeout)
    except (jute.ConnectionClosed, OSError, ValueError):
        return False
    try:
        return session.get_data("/").err == 0
    except (jute.ConnectionClosed, OSError, ValueError):
        return False
    finally:
        session.close_socket()


# Small heaps and C1 only: three JVMs plus the test share two cores.
APACHE_JVM_FLAGS = ["-XX:+UseSerialGC", "-Xms32m", "-Xmx256m", "-XX:TieredStopAtLevel=1",
                    "-Dorg.slf4j.simpleLogger.showDateTime=true"]

SERVING_TIMEOUT = 90.0
STOP_TIMEOUT = 15.0
MODES = ("leader", "follower", "observer", "standalone")

_LIVE: "set[subprocess.Popen]" = set()


@atexit.register
def _kill_leftovers() -> None:
    """Last resort when a run is interrupted before the fixtures close their ensembles."""
    for process in list(_LIVE):
        if process.poll() is None:
            process.kill()


def apache_election_handshake(advertise: str) -> Handshake:
    """Rewrites the election address Apache advertises when it dials a peer.

    Apache's election connections open with (protocol version, sid, length,
    "host:port" of the dialer's election port). A server that receives a
    connection from a lower sid closes it and dials back the *advertised*
    address, which is the real port: that connection would bypass the proxies
    and survive a partition. Advertising the proxy of the reverse route keeps
    every election connection on a link the test controls.
    """
    def rewrite(client: socket.socket) -> bytes:
        head = recv_exact(client, 8)
        (version,) = struct.unpack(">q", head)
        if version >= 0:
            return head  # pre-3.5 protocol: the sid alone, nothing advertised
        sid, length = struct.unpack(">qi", recv_exact(client, 12))
        if not 0 <= length <= 4096:
            raise ValueError(f"implausible election address length {length}")
        recv_exact(client, length)
        address = advertise.encode()
        return head + struct.pack(">qi", sid, len(address)) + address
    return rewrite


def four_letter_word(port: int, word: str, timeout: float = 3.0) -> str:
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.sendall(word.encode())
        chunks = []
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


class Server:
    def __init__(self, myid: int, workdir: Path, observer: bool) -> None:
        self.myid = myid
        self.workdir = workdir
        self.observer = observer
        self.data_dir = workdir / "data"
        self.config_path = workdir / "zoo.cfg"
        self.log_path = workdir / "server.log"
        self.client_port = free_port()
        self.quorum_port = free_port()
        self.election_port = free_port()
        self.process: Optional[subprocess.Popen] = None
        # This member's own zoo.cfg keys (over the ensemble's; None removes a key) and
        # environment (SERVER_JVMFLAGS), for tests that configure members differently.
        self.own_cfg: Dict[str, Optional[str]] = {}
        self.env: Dict[str, str] = {}
        self.paused = False
        self.starts = 0
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "myid").write_text(f"{myid}\n")

    @property
    def address(self) -> str:
        return f"{HOST}:{self.client_port}"

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def mode(self) -> Optional[str]:
        """Mode reported by `srvr`, or None when it does not answer or is not serving."""
        try:
            reply = four_letter_word(self.client_port, "srvr")
        except OSError:
            return None
        for line in reply.splitlines():
            if line.startswith("Mode:"):
                mode = line.split(":", 1)[1].strip()
                return mode if mode in MODES else None
        return None

    def log_tail(self, lines: int = 30) -> str:
        """Last lines of server.log without the suite's own four-letter-word polling."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        kept = [line for line in text.splitlines()
                if " command from /" not in line and "ZooKeeperServer not running" not in line]
        return "\n".join(kept[-lines:])


class Ensemble:
    def __init__(self, kind: str, participants: int = 3, observers: int = 0, *,
                 tmp_path: Path, extra_cfg: Optional[Dict[str, str]] = None,
                 proxied: bool = True) -> None:
        if kind not in ("apache", "zk"):
            raise ValueError(f"unknown server kind {kind!r}")
        self.kind = kind
        self.tmp_path = Path(tmp_path)
        self.extra_cfg = dict(extra_cfg or {})
        self.proxied = proxied
        total = participants + observers
        self.servers: Dict[int, Server] = {
            myid: Server(myid, self.tmp_path / f"server{myid}", observer=myid > participants)
            for myid in range(1, total + 1)
        }
        self.network = PeerNetwork()
        if proxied:
            for src in self.servers:
                for dst, target in self.servers.items():
                    if src != dst:
                        self.network.add(src, dst, target.quorum_port, target.election_port)
            if kind == "apache":
                for (src, dst), (_, election) in self.network.links.items():
                    reverse_port = self.network.route(dst, src)[1]
                    election.handshake = apache_election_handshake(f"{HOST}:{reverse_port}")
        for server in self.servers.values():
            server.config_path.write_text(self._config_text(server))

    # -- configuration
    def base_config(self) -> Dict[str, str]:
        return {
            "tickTime": "2000",
            "initLimit": "10",
            "syncLimit": "5",
            "4lw.commands.whitelist": "*",
            "admin.enableServer": "false",
            "maxClientCnxns": "0",
        }

    def _config_text(self, server: Server) -> str:
        config = self.base_config()
        config.update({
            "dataDir": str(server.data_dir),
            "clientPort": str(server.client_port),
            "clientPortAddress": HOST,
        })
        if server.observer:
            config["peerType"] = "observer"
        config.update(self.extra_cfg)
        config.update(server.own_cfg)
        lines = [f"{key}={value}" for key, value in config.items() if value is not None]
        for peer in self.servers.values():
            if peer.myid == server.myid or not self.proxied:
                quorum, election = peer.quorum_port, peer.election_port
            else:
                quorum, election = self.network.route(server.myid, peer.myid)
            suffix = ":observer" if peer.observer else ""
            lines.append(f"server.{peer.myid}={HOST}:{quorum}:{election}{suffix}")
        return "\n".join(lines) + "\n"

    def configure(self, i: int, cfg: Optional[Dict[str, Optional[str]]] = None,
                  env: Optional[Dict[str, str]] = None) -> None:
        """Sets member i's own zoo.cfg keys (a None value removes the key) and environment,
        for its next start."""
        server = self.servers[i]
        server.own_cfg.update(cfg or {})
        server.env.update(env or {})
        server.config_path.write_text(self._config_text(server))

    def command(self, server: Server) -> List[str]:
        if self.kind == "apache":
            return ["java", *APACHE_JVM_FLAGS, "-cp", APACHE_CLASSPATH, APACHE_MAIN,
                    str(server.config_path)]
        binary = zk_server_bin()
        if not binary.exists():
            raise FileNotFoundError(
                f"zk-server binary not found at {binary}: build it or set ZK_SERVER_BIN")
        return [str(binary), "start-foreground", str(server.config_path)]

    # -- lifecycle
    def ids(self) -> List[int]:
        return sorted(self.servers)

    def participants(self) -> List[int]:
        return [i for i in self.ids() if not self.servers[i].observer]

    def start(self, i: int) -> None:
        server = self.servers[i]
        if server.running():
            raise RuntimeError(f"server {i} is already running")
        server.starts += 1
        command = self.command(server)
        with open(server.log_path, "ab") as log:
            log.write(f"\n===== start #{server.starts} at {time.time():.3f}: "
                      f"{' '.join(command)}\n".encode())
            log.flush()
            server.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=server.workdir, start_new_session=True,
                env={**os.environ, **server.env} if server.env else None)
        server.paused = False
        _LIVE.add(server.process)

    def start_all(self) -> None:
        for i in self.ids():
            self.start(i)

    def _signal(self, i: int, sig: int) -> None:
        server = self.servers[i]
        if server.running():
            server.process.send_signal(sig)

    def kill(self, i: int, sig: int = signal.SIGKILL) -> None:
        """Sends `sig` (SIGKILL by default) and waits for the process to exit."""
        server = self.servers[i]
        if server.process is None:
            return
        self._signal(i, sig)
        if server.paused and sig != signal.SIGKILL:
            self._signal(i, signal.SIGCONT)  # a stopped process cannot act on SIGTERM
        try:
            server.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=STOP_TIMEOUT)
        _LIVE.discard(server.process)
        server.process = None
        server.paused = False

    def kill_all(self, ids: Optional[List[int]] = None) -> None:
        """SIGKILLs the servers back to back (all signals sent before waiting on any)."""
        ids = self.ids() if ids is None else ids
        for i in ids:
            self._signal(i, signal.SIGKILL)
        for i in ids:
            self.kill(i)

    def stop(self, i: int) -> None:
        self.kill(i, signal.SIGTERM)

    def pause(self, i: int) -> None:
        self._signal(i, signal.SIGSTOP)
        self.servers[i].paused = True

    def resume(self, i: int) -> None:
        self._signal(i, signal.SIGCONT)
        self.servers[i].paused = False

    def restart(self, i: int) -> None:
        self.kill(i)
        self.start(i)

    def close(self) -> None:
        """Kills every server and closes the proxies; safe to call more than once."""
        for i in self.ids():
            try:
                self.kill(i)
            except Exception:  # noqa: BLE001 - keep cleaning up the others
                pass
        self.network.close()

    def __enter__(self) -> "Ensemble":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- partitions
    def partition(self, side_a: List[int], side_b: Optional[List[int]] = None) -> None:
        """Cuts all peer links between side_a and side_b (default: everyone else)."""
        if not self.proxied:
            raise RuntimeError("partitions need an ensemble built with proxied=True")
        side_b = [i for i in self.ids() if i not in side_a] if side_b is None else side_b
        self.network.partition(side_a, side_b)

    def heal(self) -> None:
        self.network.heal()

    # -- observation
    def connect_string(self, i: Optional[int] = None) -> str:
        """One server's client address, or all of them when i is None."""
        if i is not None:
            return self.servers[i].address
        return ",".join(self.servers[j].address for j in self.ids())

    def modes(self) -> Dict[int, Optional[str]]:
        return {i: (self.servers[i].mode() if self.servers[i].running()
                    and not self.servers[i].paused else None) for i in self.ids()}

    def leader(self, among: Optional[List[int]] = None) -> Optional[int]:
        """The id of a server that reports `Mode: leader`, if exactly one does."""
        modes = self.modes()
        leaders = [i for i, mode in modes.items()
                   if mode == "leader" and (among is None or i in among)]
        return leaders[0] if len(leaders) == 1 else None

    def wait_leader(self, among: Optional[List[int]] = None,
                    timeout: float = SERVING_TIMEOUT, exclude: Optional[int] = None) -> int:
        def elected() -> Optional[int]:
            self._check_alive()
            leader = self.leader(among)
            return leader if leader is not None and leader != exclude else None
        return self._with_logs(lambda: wait_until(
            elected, timeout, f"a leader among {among or self.ids()}", interval=0.1))

    def synced_followers(self, i: int) -> Optional[int]:
        """`zk_synced_followers` from `mntr` on leader i; None if it does not say."""
        try:
            reply = four_letter_word(self.servers[i].client_port, "mntr")
        except OSError:
            return None
        for line in reply.splitlines():
            name, _, value = line.partition("\t")
            if name == "zk_synced_followers" and value.strip().isdigit():
                return int(value)
        return None

    def followers(self) -> List[int]:
        return [i for i, mode in self.modes().items() if mode == "follower"]

    def wait_serves(self, i: int, timeout: float = SERVING_TIMEOUT) -> None:
        """Polls server i with raw one-shot probes (`serves_now`) until one is answered."""
        wait_until(lambda: serves_now(self.servers[i].address), timeout,
                   f"server {i} to serve a new session's read", interval=0.02)

    def read_ok(self, i: int, timeout: float = 2.0) -> bool:
        """True when a kazoo session to server i can be opened and `/` read.

        The timeout is short because a kazoo whose connection retries ran out still waits
        for the whole start timeout: a server that refused the first handshakes (a leader
        stepping down after a partition heals refuses them) would look unavailable for that
        long, though it serves a fraction of a second later. The callers poll."""
        from kazoo.client import KazooClient

        client = KazooClient(hosts=self.servers[i].address, timeout=10.0,
                             connection_retry={"max_tries": 1, "delay": 0.1})
        try:
            client.start(timeout=timeout)
            client.get("/")
            return True
        except Exception:  # noqa: BLE001 - not serving yet
            return False
        finally:
            try:
                client.stop()
            finally:
                client.close()

    def wait_serving(self, ids: Optional[List[int]] = None,
                     timeout: float = SERVING_TIMEOUT) -> None:
        """Waits until each running server serves a read through kazoo."""
        ids = [i for i in (ids or self.ids()) if self.servers[i].running()]
        deadline = time.monotonic() + timeout
        for i in ids:
            remaining = max(1.0, deadline - time.monotonic())

            def serving(i: int = i) -> bool:
                self._check_alive()
                return self.servers[i].mode() is not None and self.read_ok(i)
            self._with_logs(lambda: wait_until(
                serving, remaining, f"server {i} to serve a read", interval=0.2))

    def _check_alive(self) -> None:
        for i, server in self.servers.items():
            if server.process is not None and server.process.poll() is not None:
                raise RuntimeError(f"server {i} exited with {server.process.returncode}\n"
                                   f"{server.log_tail()}")

    def _with_logs(self, wait):
        try:
            return wait()
        except TimeoutError as error:
            tails = "\n".join(f"--- server {i} ({self.servers[i].mode()}) ---\n"
                              f"{self.servers[i].log_tail(15)}" for i in self.ids())
            raise TimeoutError(f"{error}\n{tails}") from None
