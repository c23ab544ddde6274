"""SASL DIGEST-MD5 on the client port: the JAAS `Server` section from
`-Djava.security.auth.login.config`, the `sasl` ACL scheme, `zookeeper.superUser`,
`enforce.auth.*` / `sessionRequireClientSASLAuth`, and bad tokens.

Clients: kazoo (through pure-sasl) and Apache's Java client (ZooKeeperMain, as zkCli runs it,
with a JAAS `Client` section). Every test takes `zk_target`, so `--zk-target=apache` runs the
same checks against a real Apache 3.8 (with `authProvider.1=SASLAuthenticationProvider`,
which Apache needs for the `sasl` scheme and zk accepts).
"""

from __future__ import annotations

import os
import struct
import subprocess
from pathlib import Path
from typing import Iterator, List, Optional

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError, SessionClosedRequireSaslError
from kazoo.protocol.states import KeeperState
from kazoo.security import make_acl

import jute
from conftest import ServerFactory
from support import APACHE_CLASSPATH, HOST, ZkServer, wait_until, zk_cli_bin

pytest.importorskip("puresasl")

SASL_PROVIDER = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"
DIGEST_MODULE = "org.apache.zookeeper.server.auth.DigestLoginModule"
USERS = {"super": "adminsecret", "bob": "bobsecret", "alice": "alicesecret"}
AUTH_FAILED = -115
SESSION_CLOSED_REQUIRE_SASL_AUTH = -124


def server_jaas(path: Path) -> Path:
    users = "\n".join(f'    user_{name}="{password}"' for name, password in USERS.items())
    path.write_text(
        "// zk test: DIGEST-MD5 users\n"
        f"Server {{\n    {DIGEST_MODULE} required\n{users};\n}};\n")
    return path


def client_jaas(path: Path, user: str, password: str) -> Path:
    path.write_text(
        f'Client {{\n    {DIGEST_MODULE} required\n'
        f'    username="{user}"\n    password="{password}";\n}};\n')
    return path


def start_sasl(factory: ServerFactory, kind: str, tmp_path: Path,
               ready_with_sasl: bool = False, **extra: str) -> ZkServer:
    """A server with the test's JAAS file. With enforcement on, readiness is a SASL login
    (the usual probe, an anonymous read, is refused then)."""
    jaas = server_jaas(tmp_path / "server-jaas.conf")
    config = {"authProvider.1": SASL_PROVIDER, "superUser": "super", **extra}
    server = factory.start(kind, config, wait=not ready_with_sasl,
                           jvm_flags=[f"-Djava.security.auth.login.config={jaas}"])
    if ready_with_sasl:
        def ready() -> bool:
            zk = kazoo(server, "bob", start=False)
            try:
                zk.start(timeout=5)
                zk.get("/")
                return True
            except Exception:
                return False
            finally:
                zk.stop()
                zk.close()
        wait_until(ready, 60, f"{server.label} to serve a SASL client", interval=0.2)
    return server


def kazoo(server: ZkServer, user: Optional[str], password: Optional[str] = None,
          start: bool = True) -> KazooClient:
    options = {}
    if user is not None:
        options["sasl_options"] = {"mechanism": "DIGEST-MD5", "username": user,
                                   "password": password if password is not None else USERS[user]}
    zk = KazooClient(hosts=server.address, timeout=10.0, **options)
    if start:
        zk.start(timeout=30)
    return zk


@pytest.fixture
def clients() -> Iterator:
    made: List[KazooClient] = []

    def make(server: ZkServer, user: Optional[str], password: Optional[str] = None,
             start: bool = True) -> KazooClient:
        zk = kazoo(server, user, password, start)
        made.append(zk)
        return zk

    yield make
    for zk in made:
        try:
            zk.stop()
        finally:
            zk.close()


def sasl_token(session: jute.Session, token: bytes) -> jute.ReplyHeader:
    """Sends one sasl request and reads its reply header (the body is not needed)."""
    xid = session.send_request(jute.Op.SASL, jute.Writer().buffer(token).bytes())
    reader = jute.Reader(session.read_frame())
    header = jute.ReplyHeader(reader.int(), reader.long(), reader.int())
    assert header.xid == xid
    return header


def raw_session(server: ZkServer) -> jute.Session:
    session = jute.Session(HOST, server.port, io_timeout=10.0)
    assert session.connect(timeout_ms=10000).timeout > 0
    return session


# ----- kazoo --------------------------------------------------------------------------------

def test_kazoo_digest_md5_and_sasl_acl(zk_target, server_factory, clients, tmp_path):
    server = start_sasl(server_factory, zk_target, tmp_path)
    bob = clients(server, "bob")
    bob.create("/sasl-node", b"secret", acl=[make_acl("sasl", "bob", all=True)])
    assert bob.get("/sasl-node")[0] == b"secret"
    acl, _ = bob.get_acls("/sasl-node")
    assert [(a.id.scheme, a.id.id, a.perms) for a in acl] == [("sasl", "bob", 31)]

    alice = clients(server, "alice")
    with pytest.raises(NoAuthError):
        alice.get("/sasl-node")
    anonymous = clients(server, None)
    with pytest.raises(NoAuthError):
        anonymous.get("/sasl-node")
    # zookeeper.superUser=super: that SASL user passes every ACL.
    admin = clients(server, "super")
    assert admin.get("/sasl-node")[0] == b"secret"
    # `auth` expands to the SASL id too.
    bob.create("/sasl-auth", b"", acl=[make_acl("auth", "", read=True, write=True)])
    acl, _ = bob.get_acls("/sasl-auth")
    assert [(a.id.scheme, a.id.id) for a in acl] == [("sasl", "bob")]


@pytest.mark.parametrize("user,password", [("bob", "wrong"), ("nobody", "x")])
def test_kazoo_wrong_password_is_refused(zk_target, server_factory, clients, tmp_path,
                                         user, password):
    server = start_sasl(server_factory, zk_target, tmp_path)
    zk = clients(server, user, password, start=False)
    # kazoo moves through AUTH_FAILED to other states; record every state it reports.
    seen: List[str] = []
    report = zk._session_callback

    def record(state: str) -> None:
        seen.append(state)
        report(state)

    zk._session_callback = record
    zk.start_async()
    wait_until(lambda: KeeperState.AUTH_FAILED in seen, 30, "kazoo to report AUTH_FAILED")
    # The server goes on serving.
    assert clients(server, "bob").exists("/") is not None


# ----- Apache's Java client ------------------------------------------------------------------

def java_cli(address: str, jaas: Path, *command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["java", "-XX:TieredStopAtLevel=1", "-cp", APACHE_CLASSPATH,
         f"-Djava.security.auth.login.config={jaas}",
         "org.apache.zookeeper.ZooKeeperMain", "-server", address, *command],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def zk_cli(address: str, jaas: Path, *command: str) -> subprocess.CompletedProcess:
    """zk-cli given the JAAS file as zkCli.sh users give it, in `$CLIENT_JVMFLAGS`."""
    env = {k: v for k, v in os.environ.items() if k != "JVMFLAGS"}
    env["CLIENT_JVMFLAGS"] = f"-Djava.security.auth.login.config={jaas}"
    return subprocess.run([str(zk_cli_bin()), "-server", address, *command], env=env,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("cli", [java_cli, zk_cli], ids=["zkCli", "zk-cli"])
def test_cli_digest_md5_from_a_jaas_file(zk_target, server_factory, clients, tmp_path, cli):
    server = start_sasl(server_factory, zk_target, tmp_path)
    bob = clients(server, "bob")
    bob.create("/from-kazoo", b"hello-java", acl=[make_acl("sasl", "bob", all=True)])
    jaas = client_jaas(tmp_path / "client-bob.conf", "bob", USERS["bob"])
    got = cli(server.address, jaas, "get", "/from-kazoo")
    assert got.returncode == 0, got.stdout + got.stderr
    assert "hello-java" in got.stdout.splitlines(), got.stdout + got.stderr
    who = cli(server.address, jaas, "whoami")
    assert "sasl: bob" in who.stdout.splitlines(), who.stdout + who.stderr
    # Another SASL user is authenticated but not allowed.
    alice = client_jaas(tmp_path / "client-alice.conf", "alice", USERS["alice"])
    denied = cli(server.address, alice, "get", "/from-kazoo")
    assert "hello-java" not in denied.stdout.splitlines()
    assert "Insufficient permission" in denied.stdout + denied.stderr, denied.stdout + denied.stderr


# ----- enforcement ---------------------------------------------------------------------------

@pytest.mark.parametrize("keys", [
    {"enforce.auth.enabled": "true", "enforce.auth.schemes": "sasl"},
    {"sessionRequireClientSASLAuth": "true"},
], ids=["enforce.auth", "sessionRequireClientSASLAuth"])
def test_unauthenticated_clients_are_refused(zk_target, server_factory, clients, tmp_path, keys):
    server = start_sasl(server_factory, zk_target, tmp_path, ready_with_sasl=True, **keys)
    session = raw_session(server)
    reply = session.get_data("/")
    assert reply.header.err == SESSION_CLOSED_REQUIRE_SASL_AUTH
    assert session.is_closed_by_server(10)
    session.close_socket()

    anonymous = clients(server, None)
    with pytest.raises(SessionClosedRequireSaslError):
        anonymous.get("/")

    bob = clients(server, "bob")
    bob.create("/enforced", b"ok")
    assert bob.get("/enforced")[0] == b"ok"
    # A failed login is answered SESSIONCLOSEDREQUIRESASLAUTH when sasl is required.
    session = raw_session(server)
    assert sasl_token(session, b"").err == 0
    assert sasl_token(session, b"username=\"bob\",garbage").err == SESSION_CLOSED_REQUIRE_SASL_AUTH
    assert session.is_closed_by_server(10)
    session.close_socket()


# ----- bad input -----------------------------------------------------------------------------

@pytest.mark.parametrize("first,second", [
    (b"", b"\x00\xff garbage \"unterminated"),
    (b"", b"nonce=\"wrong\",username=\"bob\",nc=00000001,cnonce=\"x\","
          b"digest-uri=\"zookeeper/zk-sasl-md5\",response=00000000000000000000000000000000"),
    (b"", b"x" * 200_000),
    # DIGEST-MD5 has no initial response: Apache ignores one and challenges; so does zk.
    (b"ignored initial response", b"garbage"),
], ids=["garbage", "wrong-nonce", "oversized", "initial-response"])
def test_bad_sasl_tokens_close_only_that_connection(zk_target, server_factory, clients, tmp_path,
                                                   first, second):
    server = start_sasl(server_factory, zk_target, tmp_path)
    bystander = raw_session(server)
    session = raw_session(server)
    assert sasl_token(session, first).err == 0
    assert sasl_token(session, second).err == AUTH_FAILED
    assert session.is_closed_by_server(10)
    session.close_socket()
    # Other connections and new ones are served.
    assert bystander.get_data("/").header.err == 0
    bystander.close_socket()
    assert clients(server, "bob").exists("/") is not None


def test_token_after_success_closes_the_connection(zk_target, server_factory, clients,
                                                   tmp_path):
    """A second exchange on an authenticated connection is refused and the connection closed
    (Apache's SASL server throws once complete); the session's other connections are not
    affected."""
    server = start_sasl(server_factory, zk_target, tmp_path)
    bob = clients(server, "bob")
    assert bob.exists("/") is not None
    session = raw_session(server)
    # The whole exchange with pure-sasl, as kazoo does it. with pure-sasl, as kazoo does.
    from puresasl.client import SASLClient
    sasl = SASLClient(host="zk-sasl-md5", service="zookeeper", mechanism="DIGEST-MD5",
                      username="bob", password=USERS["bob"])
    xid = session.send_request(jute.Op.SASL, jute.Writer().buffer(b"").bytes())
    challenge_frame = jute.Reader(session.read_frame())
    header = jute.ReplyHeader(challenge_frame.int(), challenge_frame.long(), challenge_frame.int())
    assert header.xid == xid and header.err == 0
    response = sasl.process(challenge_frame.buffer())
    xid = session.send_request(jute.Op.SASL, jute.Writer().buffer(response).bytes())
    final = jute.Reader(session.read_frame())
    header = jute.ReplyHeader(final.int(), final.long(), final.int())
    assert header.err == 0
    sasl.process(final.buffer())
    assert sasl.complete
    assert session.get_data("/").header.err == 0
    try:
        session.send_request(jute.Op.SASL, jute.Writer().buffer(b"").bytes())
    except OSError:
        pass
    assert session.is_closed_by_server(10)
    session.close_socket()
    assert bob.exists("/") is not None


def test_sasl_frame_larger_than_jute_maxbuffer_closes_the_connection(
        zk_target, server_factory, clients, tmp_path):
    server = start_sasl(server_factory, zk_target, tmp_path)
    session = raw_session(server)
    token = b"y" * (2 * 1024 * 1024)
    record = jute.Writer().int(7).int(jute.Op.SASL).buffer(token).bytes()
    try:
        session.sock.sendall(struct.pack(">i", len(record)) + record)
    except OSError:
        pass  # closed while sending: that is the answer too
    assert session.is_closed_by_server(10)
    session.close_socket()
    assert clients(server, "bob").exists("/") is not None
