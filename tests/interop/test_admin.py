"""The AdminServer (`admin.*`): every command Apache ZooKeeper 3.8 serves under
`/commands`, answered as JSON with Apache's field names and value types.

Each test starts its own real Apache 3.8 AdminServer (Debian's jars plus servlet-api.jar, see
tests/common/peers.py) as the reference and compares what the candidate (`--zk-target`,
zk-server by default) answers with it: the same commands and aliases, the same top-level
field names per command (nested ones where the shape is fixed), the same JSON types. Values
differ between servers and are not compared, except where both read the same zoo.cfg.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import urllib.error
import urllib.request
from typing import Dict, Iterator, List, Tuple

import pytest
from kazoo.client import KazooClient

from conftest import ServerFactory
from support import HOST, raw_http_answer, ZkServer, free_port, wait_until

# Fields a JVM has and zk does not: the reference may have more of these, never fewer.
ENVIRONMENT_REQUIRED = {"zookeeper.version", "host.name", "os.name", "os.arch", "os.version",
                        "user.name", "user.home", "user.dir"}
# mntr's gauges every server reports (the rest of Apache's ~540 are its own timers).
MONITOR_REQUIRED = {"version", "server_state", "avg_latency", "max_latency", "min_latency",
                    "packets_received", "packets_sent", "num_alive_connections",
                    "outstanding_requests", "uptime", "znode_count", "watch_count",
                    "ephemerals_count", "approximate_data_size", "global_sessions",
                    "local_sessions", "open_file_descriptor_count",
                    "max_file_descriptor_count", "auth_failed_count"}
# Commands whose candidate fields are a subset of Apache's (JVM or Apache-internal extras).
SUBSET_COMMANDS = {"environment", "monitor", "system_properties"}


def admin_config(port: int) -> Dict[str, str]:
    return {"admin.enableServer": "true", "admin.serverAddress": HOST,
            "admin.serverPort": str(port)}


class Admin:
    """GETs against one AdminServer."""

    def __init__(self, server: ZkServer, port: int) -> None:
        self.server = server
        self.port = port

    def raw(self, path: str, method: str = "GET") -> Tuple[int, str, str]:
        connection = http.client.HTTPConnection(HOST, self.port, timeout=20)
        try:
            connection.request(method, path)
            answer = connection.getresponse()
            return answer.status, answer.headers.get("Content-Type", ""), answer.read().decode()
        finally:
            connection.close()

    def command(self, name: str) -> dict:
        status, content_type, body = self.raw(f"/commands/{name}")
        assert status == 200, (self.server.label, name, status, body)
        assert content_type.startswith("application/json"), (name, content_type)
        value = json.loads(body)
        assert isinstance(value, dict), (name, body)
        assert "command" in value and "error" in value, (self.server.label, name, value)
        return value

    def names(self) -> List[str]:
        status, _, body = self.raw("/commands")
        assert status == 200, body
        return re.findall(r'<a href="/commands/([a-z_]+)">\1</a>', body)


def start_admin(factory: ServerFactory, kind: str, extra=None) -> Admin:
    port = free_port()
    server = factory.start(kind, {**admin_config(port), **(extra or {})})
    admin = Admin(server, port)
    wait_until(lambda: admin.names(), 30, f"{server.label}'s AdminServer")
    return admin


@pytest.fixture(scope="module")
def pair(tmp_path_factory, request) -> Iterator[Tuple[Admin, Admin]]:
    """(candidate, reference): the selected target and a real Apache, both standalone."""
    target = request.config.getoption("--zk-target")
    candidate_kind = "apache" if target == "apache" else "zk"
    factory = ServerFactory(tmp_path_factory)
    try:
        yield start_admin(factory, candidate_kind), start_admin(factory, "apache")
    finally:
        factory.stop_all()


def kind_of(value) -> str:
    """A JSON value's type, ints and floats apart (Jackson writes a double as `0.0`)."""
    if isinstance(value, bool):
        return "bool"
    return {int: "int", float: "float", str: "str", list: "list", dict: "dict",
            type(None): "null"}[type(value)]


def shape(value: dict) -> Dict[str, str]:
    return {key: kind_of(item) for key, item in value.items()}


# Apache metrics named after a learner's id or a top-level znode: which exist depends on the
# ensemble's ids and the tree, not on the server (they differ between two Apaches).
VARYING_METRIC = re.compile(r"_\d+_learner_handler_|_per_namespace$")


def compare(name: str, ours: dict, theirs: dict) -> None:
    """Same field names and types; for SUBSET_COMMANDS ours must be within Apache's."""
    if name == "monitor":
        ours = {k: v for k, v in ours.items() if not VARYING_METRIC.search(k)}
        theirs = {k: v for k, v in theirs.items() if not VARYING_METRIC.search(k)}
    ours_shape, theirs_shape = shape(ours), shape(theirs)
    if name in SUBSET_COMMANDS:
        extra = set(ours_shape) - set(theirs_shape)
        assert not extra, f"{name}: fields Apache does not have: {sorted(extra)}"
    else:
        assert set(ours_shape) == set(theirs_shape), (
            f"{name}: only ours {sorted(set(ours_shape) - set(theirs_shape))}, "
            f"only Apache's {sorted(set(theirs_shape) - set(ours_shape))}")
    for key in set(ours_shape) & set(theirs_shape):
        if name == "system_properties":
            continue  # all strings
        assert ours_shape[key] == theirs_shape[key], (name, key, ours[key], theirs[key])


def exercise(server: ZkServer) -> KazooClient:
    """A session with data watches and an ephemeral node, so that dump, watches, cons and
    stat have entries to show."""
    client = KazooClient(hosts=server.address, timeout=10.0)
    client.start(timeout=30)
    client.ensure_path("/admin-w")
    client.get("/admin-w", watch=lambda event: None)
    client.exists("/admin-missing", watch=lambda event: None)
    client.create("/admin-eph", b"", ephemeral=True)
    return client


def nested_keys(value) -> set:
    return set(value) if isinstance(value, dict) else set()


def test_the_command_list_is_apaches(pair):
    candidate, reference = pair
    assert candidate.names() == reference.names()
    assert len(reference.names()) == 26
    status, _, _ = candidate.raw("/commands/")
    assert status == 200


def test_every_command_and_alias_answers_apaches_fields(pair):
    candidate, reference = pair
    clients = [exercise(candidate.server), exercise(reference.server)]
    try:
        aliases = {"configuration": ["conf", "config"], "connections": ["cons"],
                   "environment": ["env", "envi"], "get_trace_mask": ["gtmk"],
                   "initial_configuration": ["icfg"], "is_read_only": ["isro"],
                   "last_snapshot": ["lsnp"], "leader": ["lead"], "monitor": ["mntr"],
                   "observer_connection_stat_reset": ["orst"], "set_trace_mask": ["stmk"],
                   "server_stats": ["srvr"], "stats": ["stat"], "stat_reset": ["srst"],
                   "observers": ["obsr"], "system_properties": ["sysp"],
                   "watches": ["wchc"], "watches_by_path": ["wchp"],
                   "watch_summary": ["wchs"], "connection_stat_reset": ["crst"]}
        # The resets last, so the other commands see counters with something in them.
        names = sorted(reference.names(), key=lambda n: n.endswith("reset"))
        for name in names:
            query = "?traceMask=306" if name == "set_trace_mask" else ""
            theirs = reference.command(name + query)
            ours = candidate.command(name + query)
            assert ours["command"] == theirs["command"] == name, (ours, theirs)
            assert ours["error"] == theirs["error"], (name, ours, theirs)
            compare(name, ours, theirs)
            for alias in aliases.get(name, []):
                by_alias = candidate.command(alias + query)
                assert by_alias["command"] == name and set(by_alias) == set(ours), alias
        # Standalone: no leader, no voting view, no Zab.
        assert candidate.command("leader")["error"] == "server is not initialized"
        assert candidate.command("voting_view")["current_config"] == {}
        assert candidate.command("zabstate") == reference.command("zabstate")

        # Nested shapes that are fixed.
        for name, field in [("server_stats", "server_stats"), ("server_stats", "client_response")]:
            assert nested_keys(candidate.command(name)[field]) == \
                nested_keys(reference.command(name)[field]), (name, field)
        ours_cons = candidate.command("connections")["connections"]
        theirs_cons = reference.command("connections")["connections"]
        assert ours_cons and theirs_cons
        assert {k for c in ours_cons for k in c} == {k for c in theirs_cons for k in c}
        assert set(candidate.command("stats")["connections"][0]) == \
            set(reference.command("stats")["connections"][0])
        for name, field in [("dump", "session_id_to_ephemeral_paths"),
                            ("watches", "session_id_to_watched_paths")]:
            ours_map = candidate.command(name)[field]
            theirs_map = reference.command(name)[field]
            assert len(ours_map) == len(theirs_map) == 1, (name, ours_map, theirs_map)
            [(sid, paths)] = ours_map.items()
            assert int(sid) > 0 and all(isinstance(p, str) for p in paths)
        assert set(candidate.command("watches_by_path")["path_to_session_ids"]) == \
            set(reference.command("watches_by_path")["path_to_session_ids"]) == \
            {"/admin-w", "/admin-missing"}
        expiry = candidate.command("dump")["expiry_time_to_session_ids"]
        assert all(isinstance(s, int) for sids in expiry.values() for s in sids), expiry

        # Required fields where ours is a subset, and what both read from the same zoo.cfg.
        assert ENVIRONMENT_REQUIRED <= set(candidate.command("environment"))
        assert MONITOR_REQUIRED <= set(candidate.command("monitor"))
        ours_props = {k: v for k, v in candidate.command("system_properties").items()
                      if k.startswith("zookeeper.")}
        theirs_props = {k: v for k, v in reference.command("system_properties").items()
                        if k.startswith("zookeeper.")}
        assert set(ours_props) == set(theirs_props)
        assert ours_props["zookeeper.admin.serverPort"] == str(candidate.port)
        config = candidate.command("initial_configuration")["initial_configuration"]
        assert config == candidate.server.config_path.read_text()
        ours_conf = candidate.command("configuration")
        assert ours_conf["client_port"] == candidate.server.port
        assert ours_conf["data_dir"] == str(candidate.server.data_dir / "version-2")

        # The trace mask is shared with gtmk, and a bad one is refused as Apache does.
        assert candidate.command("set_trace_mask?traceMask=5")["tracemask"] == 5
        assert candidate.command("gtmk")["tracemask"] == 5
        ours_bad = candidate.command("stmk?traceMask=x")
        theirs_bad = reference.command("stmk?traceMask=x")
        assert ours_bad == theirs_bad
        assert list(ours_bad) == list(theirs_bad) == ["error", "command"]
    finally:
        for client in clients:
            client.stop()
            client.close()


def test_unknown_commands_and_other_paths_answer_as_apache(pair):
    candidate, reference = pair
    for name in ("nosuch", "SRVR", "srvr/extra"):
        assert candidate.command(name) == reference.command(name)
        assert candidate.command(name)["error"] == f"Unknown command: {name}"
    for path in ("/", "/commandsX"):
        assert candidate.raw(path)[0] == reference.raw(path)[0] == 404, path
    assert candidate.raw("/commands/ruok", "POST")[0] == reference.raw("/commands/ruok", "POST")[0] == 405
    head = candidate.raw("/commands/ruok", "HEAD")
    assert head[0] == 200 and head[2] == ""


def test_disabled_admin_server_listens_nowhere(server_factory, zk_target):
    port = free_port()
    server = server_factory.start(zk_target, {**admin_config(port),
                                              "admin.enableServer": "false"})
    with pytest.raises(OSError):
        socket.create_connection((HOST, port), timeout=5).close()
    assert server.probe()


@pytest.mark.zk_only
def test_bad_requests_cost_only_their_connection(server_factory, zk_target):
    admin = start_admin(server_factory, zk_target)

    def answer_to(raw: bytes) -> bytes:
        return raw_http_answer(admin.port, raw)

    assert answer_to(b"\x16\x03\x01\x02\x00garbage\r\n\r\n").startswith(b"HTTP/1.1 400")
    assert answer_to(b"GET /commands/" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n") \
        .startswith(b"HTTP/1.1 431")
    assert answer_to(b"GET /commands/ruok HTTP/1.1\r\n") == b""  # no whole head
    # Past the connection cap, sockets are closed on accept; ZooKeeper clients are served
    # meanwhile and the AdminServer answers again once the flood is gone.
    idle = [socket.create_connection((HOST, admin.port), timeout=10) for _ in range(100)]
    try:
        assert admin.server.probe()
    finally:
        for sock in idle:
            sock.close()

    def answering() -> bool:
        try:
            return admin.command("ruok")["error"] is None
        except (OSError, http.client.HTTPException, urllib.error.URLError):
            return False

    wait_until(answering, 20, "the AdminServer answering again")
    assert admin.server.probe()


# ----------------------------------------------------------------------------- ensemble

def start_ensemble(factory: ServerFactory, kind: str, started: int) -> List[Admin]:
    """Three `server.N` lines, the first `started` of them running, each with an admin port."""
    admin_ports: Dict[int, int] = {}

    def with_admin(myid: int) -> Dict[str, str]:
        admin_ports[myid] = free_port()
        return admin_config(admin_ports[myid])

    members = factory.start_ensemble(kind, started, with_admin)
    return [Admin(server, admin_ports[myid]) for myid, server in enumerate(members, start=1)]


def leader_and_follower(admins: List[Admin]) -> Tuple[Admin, Admin]:
    def roles():
        leaders = [a for a in admins if a.command("leader").get("is_leader")]
        states = [a.command("zabstate")["zabstate"] for a in admins]
        return (len(leaders) == 1 and all(s == "broadcast" for s in states)) and leaders
    [leader] = wait_until(roles, 60, "one leader, every member broadcasting")
    follower = next(a for a in admins if a is not leader)
    return leader, follower


def test_ensemble_roles_answer_apaches_fields(server_factory, zk_target):
    candidate_kind = "apache" if zk_target == "apache" else "zk"
    ours = leader_and_follower(start_ensemble(server_factory, candidate_kind, 3))
    theirs = leader_and_follower(start_ensemble(server_factory, "apache", 2))
    for role, mine, apache in zip(("leader", "follower"), ours, theirs):
        for name in ("leader", "zabstate", "voting_view", "observers", "server_stats",
                     "configuration", "monitor", "is_read_only"):
            compare(name, mine.command(name), apache.command(name))
        lead = mine.command("leader")
        assert lead["is_leader"] == (role == "leader")
        assert lead["leader_id"] == ours[0].command("zabstate")["myid"]
        assert lead["leader_ip"] == HOST
        zab = mine.command("zabstate")
        for field in ("quorum_address", "election_address"):
            assert set(zab[field]) == set(apache.command("zabstate")[field]), field
        assert zab["voting"] is True and zab["last_zxid"].startswith("0x")
        view = mine.command("voting_view")["current_config"]
        assert sorted(view) == ["1", "2", "3"]
        theirs_view = apache.command("voting_view")["current_config"]
        assert set(view["1"]) == set(theirs_view["1"])
        assert view[str(zab["myid"])]["client_address"] == mine.server.address
        assert mine.command("server_stats")["server_stats"]["server_state"] == role
        assert ("proposal_stats" in mine.command("server_stats")) == (role == "leader")
