"""A leader cut off from the majority: it stops leading, the majority elects another, and a
client that was connected to the old leader moves to the majority with its session (and its
ephemeral node) intact, within its session timeout."""

from __future__ import annotations

import time

from waits import wait_until
from workload import SESSION_TIMEOUT, new_client


def connected_port(client) -> "int | None":
    """The server port kazoo is connected to (kazoo keeps no public record of it)."""
    if not client.connected:
        return None
    try:
        return client._connection._socket.getpeername()[1]
    except (AttributeError, OSError):
        return None


def test_a_partitioned_leader_steps_down_and_its_clients_move_with_their_sessions(
        make_ensemble) -> None:
    ensemble = make_ensemble(3)
    ensemble.start_all()
    ensemble.wait_serving()
    leader = ensemble.wait_leader()
    others = [i for i in ensemble.ids() if i != leader]
    # The client tries the leader first, then the majority's members.
    hosts = ",".join(ensemble.connect_string(i) for i in [leader, *others])
    client = new_client(hosts, randomize_hosts=False)
    client.start(timeout=30)
    try:
        assert connected_port(client) == ensemble.servers[leader].client_port
        session_id = client.client_id[0]
        client.create("/partition-ephemeral", b"mine", ephemeral=True)

        ensemble.partition([leader])
        cut_at = time.monotonic()
        wait_until(lambda: ensemble.servers[leader].mode() != "leader", 30,
                   "the cut-off leader to stop leading")
        new_leader = ensemble.wait_leader(among=others)
        assert new_leader != leader

        def moved() -> bool:
            port = connected_port(client)
            return port is not None and port != ensemble.servers[leader].client_port
        left = SESSION_TIMEOUT - (time.monotonic() - cut_at)
        wait_until(moved, max(left, 0.1), "the client to move to the majority within its "
                   "session timeout")
        assert client.client_id[0] == session_id, "the client lost its session"
        assert client.get("/partition-ephemeral")[0] == b"mine"
        client.set("/partition-ephemeral", b"still mine")

        ensemble.heal()
        wait_until(lambda: ensemble.servers[leader].mode() in ("follower", "leader"), 60,
                   "the old leader to rejoin")
    finally:
        client.stop()
        client.close()
