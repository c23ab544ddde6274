"""Security between ensemble members, configured with Apache's keys: quorum TLS
(`sslQuorum`, `ssl.quorum.*`), its rolling upgrade from plaintext (`portUnification`), and
quorum SASL (`quorum.auth.*` with the JAAS file of `-Djava.security.auth.login.config`).

A member with a wrong secret or an untrusted certificate is kept out: the other two keep a
quorum and serve, the outsider never reports a role and says in its log why. Garbage on a
secured port closes that connection only. Members listen on 127.0.0.1; every wait polls a
condition against a deadline.
"""

from __future__ import annotations

import os
import socket
import ssl
import struct
from pathlib import Path
from typing import Dict, Optional

import pytest
from kazoo.client import KazooClient

import peer_wire as wire
from ensembles import make_zk_ensemble  # noqa: F401
from support import wait_until
from tls_certs import Certs

TLS_HANDSHAKE = 0x16
SASL_TAG = 8
DEADLINE = 90.0

JAAS = """QuorumServer {{
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_member="{password}";
}};
QuorumLearner {{
    org.apache.zookeeper.server.auth.DigestLoginModule required
    username="member"
    password="{password}";
}};
"""

SASL_REQUIRED = {
    "quorum.auth.enableSasl": "true",
    "quorum.auth.learnerRequireSasl": "true",
    "quorum.auth.serverRequireSasl": "true",
}


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Certs:
    return Certs(tmp_path_factory.mktemp("quorum-certs"))


def tls_keys(certs: Certs, key_store: Optional[str] = None) -> Dict[str, str]:
    return {
        "ssl.quorum.keyStore.location": key_store or certs.path("server.pem"),
        "ssl.quorum.keyStore.type": "PEM",
        "ssl.quorum.trustStore.location": certs.path("ca.pem"),
        "ssl.quorum.trustStore.type": "PEM",
    }


def jaas_flags(tmp_path: Path, password: str, name: str = "jaas.conf") -> str:
    path = tmp_path / name
    path.write_text(JAAS.format(password=password))
    return f"-Djava.security.auth.login.config={path}"


def kazoo(ensemble, member: int) -> KazooClient:
    client = KazooClient(hosts=ensemble.servers[member].address, timeout=15.0)
    client.start(timeout=30)
    return client


def write_through(ensemble, member: int, path: str, data: bytes) -> None:
    """Writes `path` through `member` with kazoo, retrying until the deadline (a member
    that just restarted may refuse a session for a moment)."""
    def written() -> bool:
        client = kazoo(ensemble, member)
        try:
            client.ensure_path(os.path.dirname(path) or "/")
            if client.exists(path):
                client.set(path, data)
            else:
                client.create(path, data)
            return True
        finally:
            client.stop()
            client.close()
    wait_until(written, DEADLINE, f"a write of {path} through server {member}", interval=0.2)


def holds(ensemble, member: int, path: str, data: bytes) -> bool:
    client = kazoo(ensemble, member)
    try:
        client.sync(path)
        return client.exists(path) is not None and client.get(path)[0] == data
    finally:
        client.stop()
        client.close()


def wait_everywhere(ensemble, path: str, data: bytes, members=None) -> None:
    for member in members or ensemble.ids():
        wait_until(lambda m=member: holds(ensemble, m, path, data), DEADLINE,
                   f"{path} on server {member}", interval=0.2)


def log_of(ensemble, member: int) -> str:
    return ensemble.servers[member].log_path.read_text(errors="replace")


def wait_log(ensemble, member: int, needle: str) -> None:
    wait_until(lambda: needle in log_of(ensemble, member), DEADLINE,
               f"server {member}'s log to say {needle!r}", interval=0.2)


def closed_by_peer(port: int, data: bytes) -> bool:
    """Sends `data` from a member's address; True when the member ends the connection
    (after a TLS alert, if it sends one)."""
    connection = wire.PeerConnection(port)
    try:
        try:
            connection.send(data)
        except OSError:
            return True
        return ends_within(connection, 15)
    finally:
        connection.close()


def ends_within(connection: wire.PeerConnection, wait: float) -> bool:
    """True when the member closes the connection within `wait` seconds, whatever it
    answered first."""
    connection.sock.settimeout(wait)
    try:
        while connection.sock.recv(4096):
            pass
        return True
    except socket.timeout:
        return False
    except OSError:
        return True


def kept_out(ensemble, outsider: int, insiders) -> None:
    """The insiders elect a leader and serve writes; the outsider never gets them."""
    leader = ensemble.wait_leader(among=list(insiders))
    for round_ in range(3):
        path, data = f"/kept-out/{round_}", f"value {round_}".encode()
        write_through(ensemble, leader, path, data)
        wait_everywhere(ensemble, path, data, members=insiders)
        assert ensemble.servers[outsider].mode() is None, \
            f"server {outsider} took a role: {ensemble.servers[outsider].mode()}"
    assert ensemble.servers[outsider].running()
    wait_until(lambda: ensemble.synced_followers(leader) == 1, DEADLINE,
               "the leader to count one synced follower")


def test_tls_and_sasl_ensemble_serves_kazoo(make_zk_ensemble, certs, tmp_path):
    cfg = {"sslQuorum": "true", **tls_keys(certs), **SASL_REQUIRED}
    ensemble = make_zk_ensemble(extra_cfg=cfg, jvm_flags=jaas_flags(tmp_path, "s3cret"))
    ensemble.start_all()
    ensemble.wait_serving()
    leader = ensemble.wait_leader()
    for member in ensemble.ids():
        write_through(ensemble, member, f"/secure/{member}", b"from %d" % member)
    for member in ensemble.ids():
        wait_everywhere(ensemble, f"/secure/{member}", b"from %d" % member)
    client = kazoo(ensemble, leader)
    try:
        assert sorted(client.get_children("/secure")) == ["1", "2", "3"]
    finally:
        client.stop()
        client.close()
    # Members authenticated each other, and say so.
    wait_log(ensemble, leader, "quorum SASL: the member authenticated as \"member\"")
    assert ensemble.synced_followers(leader) == 2


def test_a_member_with_a_wrong_sasl_secret_is_kept_out(make_zk_ensemble, tmp_path):
    ensemble = make_zk_ensemble(extra_cfg=SASL_REQUIRED,
                                jvm_flags=jaas_flags(tmp_path, "s3cret"))
    ensemble.configure(3, env={"SERVER_JVMFLAGS": jaas_flags(tmp_path, "wrong", "bad.conf")})
    ensemble.start_all()
    kept_out(ensemble, 3, [1, 2])
    # The outsider says why: the others refuse its credentials, and it refuses theirs.
    wait_log(ensemble, 3, "refused this member's quorum SASL credentials")
    wait_log(ensemble, 3, "quorum SASL authentication failed: wrong password")
    leader = ensemble.wait_leader(among=[1, 2])
    wait_log(ensemble, leader, "quorum SASL authentication failed: wrong password")


def test_a_member_with_an_untrusted_certificate_is_kept_out(make_zk_ensemble, certs):
    ensemble = make_zk_ensemble(extra_cfg={"sslQuorum": "true", **tls_keys(certs)})
    ensemble.configure(3, cfg=tls_keys(certs, key_store=certs.untrusted_member()))
    ensemble.start_all()
    kept_out(ensemble, 3, [1, 2])
    # The outsider says why: the others do not take its certificate, nor it theirs.
    wait_log(ensemble, 3, "refused this member's TLS certificate")
    wait_log(ensemble, 3, "refused a quorum connection: TLS handshake failed")
    leader = ensemble.wait_leader(among=[1, 2])
    wait_log(ensemble, leader, "refused a quorum connection: TLS handshake failed")
    wait_log(ensemble, leader, "TLS handshake with the member at")


def test_rolling_upgrade_from_plaintext_to_tls_keeps_serving_writes(make_zk_ensemble, certs):
    ensemble = make_zk_ensemble()
    ensemble.start_all()
    ensemble.wait_serving()
    steps = [
        ("unified", {"portUnification": "true", **tls_keys(certs)}),
        ("dialing-tls", {"sslQuorum": "true"}),
        ("tls-only", {"portUnification": None}),
    ]
    for step, cfg in steps:
        for member in ensemble.ids():
            ensemble.kill(member)
            # The other two keep a quorum and take writes while this member restarts.
            other = next(i for i in ensemble.ids() if i != member)
            path, data = f"/upgrade/{step}-{member}", f"{step} {member}".encode()
            write_through(ensemble, other, path, data)
            ensemble.configure(member, cfg=cfg)
            ensemble.start(member)
            ensemble.wait_serving([member])
            wait_everywhere(ensemble, path, data)
            write_through(ensemble, member, path + "-after", data)
            wait_everywhere(ensemble, path + "-after", data)
    # Every member now takes TLS only: plaintext on its ports is refused with a reason.
    for member, server in ensemble.servers.items():
        for port in (server.quorum_port, server.election_port):
            assert closed_by_peer(port, wire.frame(wire.touch([1]))), \
                f"server {member} port {port} kept a plaintext connection"
        wait_log(ensemble, member, "refused a plaintext quorum connection")


def tls_hello_without_certificate(port: int) -> bool:
    """A TLS client that presents no certificate: the member must refuse the handshake."""
    context = ssl.create_default_context(cafile=None)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=15) as raw:
        try:
            with context.wrap_socket(raw) as tls:
                tls.settimeout(15)
                tls.sendall(wire.frame(wire.touch([1])))
                return tls.recv(1) == b""
        except (ssl.SSLError, OSError):
            return True


def test_garbage_on_a_tls_quorum_port_closes_only_that_connection(make_zk_ensemble, certs,
                                                                   tmp_path):
    cfg = {"sslQuorum": "true", **tls_keys(certs), **SASL_REQUIRED}
    ensemble = make_zk_ensemble(extra_cfg=cfg, jvm_flags=jaas_flags(tmp_path, "s3cret"))
    ensemble.start_all()
    ensemble.wait_serving()
    leader = ensemble.wait_leader()
    write_through(ensemble, leader, "/before", b"v")
    garbage = {
        "plaintext frame": wire.frame(wire.touch([1])),
        "plaintext SASL token": wire.frame(bytes([SASL_TAG, 0])),
        "random bytes": os.urandom(4096),
        "a broken TLS record": bytes([TLS_HANDSHAKE, 3, 1, 0xff, 0xff]) + os.urandom(512),
        "a TLS record cut short": bytes([TLS_HANDSHAKE, 3, 1, 0, 80]) + os.urandom(10),
    }
    for member, server in ensemble.servers.items():
        for port in (server.quorum_port, server.election_port):
            for name, data in garbage.items():
                assert closed_by_peer(port, data), \
                    f"server {member} port {port} kept a connection sending {name}"
            assert tls_hello_without_certificate(port), \
                f"server {member} port {port} served TLS without a member certificate"
    # Only those connections closed: same leader, writes go on everywhere.
    assert ensemble.wait_leader() == leader
    write_through(ensemble, leader, "/after", b"w")
    wait_everywhere(ensemble, "/after", b"w")


def test_bad_sasl_tokens_close_only_that_connection(make_zk_ensemble, tmp_path):
    ensemble = make_zk_ensemble(extra_cfg=SASL_REQUIRED,
                                jvm_flags=jaas_flags(tmp_path, "s3cret"))
    ensemble.start_all()
    ensemble.wait_serving()
    leader = ensemble.wait_leader()
    port = ensemble.servers[leader].quorum_port

    def sasl_frame(token: bytes) -> bytes:
        return wire.frame(bytes([SASL_TAG]) + wire.byte_string(token))

    # An oversized token is refused on its length; a request without authenticating is
    # refused; a malformed digest-response ends the exchange.
    assert closed_by_peer(port, struct.pack(">I", 1 << 20) + bytes([SASL_TAG]))
    assert closed_by_peer(port, sasl_frame(b"x" * (9 * 1024)))
    assert closed_by_peer(port, wire.frame(wire.touch([1])))
    connection = wire.PeerConnection(port)
    try:
        connection.send(sasl_frame(b""))
        (length,) = struct.unpack(">I", connection.recv_exact(4))
        challenge = connection.recv_exact(length)
        assert b"nonce=" in challenge, challenge
        connection.send(sasl_frame(b'username="member",response=zz,\xff"'))
        assert ends_within(connection, 15), "a malformed digest-response left the connection open"
    finally:
        connection.close()
    wait_log(ensemble, leader, "refused a quorum connection")
    assert ensemble.wait_leader() == leader
    write_through(ensemble, leader, "/after-tokens", b"ok")
    wait_everywhere(ensemble, "/after-tokens", b"ok")
