"""TLS on the client port: `secureClientPort`, `client.portUnification`, Apache's `ssl.*`
keys, the `x509` ACL scheme and certificate reload.

Certificates are made at test time (tests/common/tls_certs.py). Tests that take `zk_target` run against
the selected server (zk-server by default; `--zk-target=both` adds a real Apache 3.8 with
NettyServerCnxnFactory and the same zoo.cfg keys); the rest are zk-server only.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import time
from typing import Dict, Iterator, Optional

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from kazoo.security import make_acl

import jute
from conftest import ServerFactory
from support import APACHE_CLASSPATH, HOST, ZkServer, free_port, wait_until, zk_cli_bin
from tls_certs import CLIENT_SUBJECT, PASSWORD, SERIALS, Certs

NETTY = "org.apache.zookeeper.server.NettyServerCnxnFactory"
X509_PROVIDER = "org.apache.zookeeper.server.auth.X509AuthenticationProvider"
TRUST_OF = {"p12": "trust.p12", "jks": "trust.jks", "pem": "ca.pem"}


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Certs:
    if shutil.which("openssl") is None or shutil.which("keytool") is None:
        pytest.skip("openssl and keytool are needed to make test certificates")
    return Certs(tmp_path_factory.mktemp("tls-certs"))


def tls_config(certs: Certs, secure_port: Optional[int], store: str = "p12",
               **extra: str) -> Dict[str, str]:
    config = {
        "serverCnxnFactory": NETTY,
        "authProvider.x509": X509_PROVIDER,
        "ssl.keyStore.location": certs.path(f"server.{store}"),
        "ssl.keyStore.password": PASSWORD,
        "ssl.trustStore.location": certs.path(TRUST_OF[store]),
        "ssl.trustStore.password": PASSWORD,
    }
    if secure_port is not None:
        config["secureClientPort"] = str(secure_port)
        config["secureClientPortAddress"] = HOST
    config.update(extra)
    return config


class TlsServer:
    def __init__(self, server: ZkServer, secure_port: Optional[int]) -> None:
        self.server = server
        self.secure_port = secure_port

    @property
    def secure_address(self) -> str:
        return f"{HOST}:{self.secure_port}"


def start_tls(factory: ServerFactory, kind: str, certs: Certs, store: str = "p12",
              unified_only: bool = False, **extra: str) -> TlsServer:
    secure_port = None if unified_only else free_port()
    server = factory.start(kind, tls_config(certs, secure_port, store, **extra))
    if secure_port is not None:
        wait_until(lambda: _port_open(secure_port), 30, f"{server.label}'s secure port")
    return TlsServer(server, secure_port)


def _port_open(port: int) -> bool:
    try:
        socket.create_connection((HOST, port), timeout=2).close()
        return True
    except OSError:
        return False


def tls_context(certs: Certs, client: Optional[str] = "client") -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.load_verify_locations(certs.path("ca.pem"))
    if client is not None:
        context.load_cert_chain(certs.path(f"{client}.crt"), certs.path(f"{client}.key"))
    return context


class TlsSession(jute.Session):
    """A raw jute session over TLS."""

    def __init__(self, port: int, context: ssl.SSLContext, io_timeout: float = 10.0) -> None:
        super().__init__(HOST, port, io_timeout)
        self.context = context

    def _open(self) -> None:
        raw = socket.create_connection((self.host, self.port), timeout=self.io_timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self.context.wrap_socket(raw)


def session_works(port: int, context: ssl.SSLContext) -> bool:
    """True when a session opens over TLS and `/` can be read; False when refused."""
    session = TlsSession(port, context)
    try:
        response = session.connect(timeout_ms=10000)
        return response.timeout > 0 and session.get_data("/").err == 0
    except (OSError, ssl.SSLError, jute.ConnectionClosed):
        return False
    finally:
        session.close_socket()


@pytest.fixture
def kazoo_clients() -> Iterator:
    clients = []

    def make(hosts: str, certs: Optional[Certs] = None, client: str = "client",
             start: bool = True) -> KazooClient:
        kwargs = {}
        if certs is not None:
            kwargs = dict(use_ssl=True, ca=certs.path("ca.pem"),
                          certfile=certs.path(f"{client}.crt"),
                          keyfile=certs.path(f"{client}.key"), verify_certs=True)
        zk = KazooClient(hosts=hosts, timeout=10.0, **kwargs)
        clients.append(zk)
        if start:
            zk.start(timeout=30)
        return zk

    yield make
    for zk in clients:
        try:
            zk.stop()
        finally:
            zk.close()


# ----- clients over TLS ----------------------------------------------------------------------

@pytest.mark.parametrize("store", ["p12", "jks", "pem"])
def test_kazoo_over_tls(zk_target, server_factory, certs, kazoo_clients, store):
    if zk_target == "apache" and store == "pem":
        pytest.skip("Apache 3.8's PEM key store wants the key in PKCS#8 with a password")
    tls = start_tls(server_factory, zk_target, certs, store)
    zk = kazoo_clients(tls.secure_address, certs)
    zk.create("/tls-node", b"v1")
    assert zk.get("/tls-node")[0] == b"v1"
    zk.set("/tls-node", b"v2")
    assert zk.get("/tls-node")[0] == b"v2"
    # The plaintext port serves the same tree.
    plain = kazoo_clients(tls.server.address)
    assert plain.get("/tls-node")[0] == b"v2"


def client_tls_properties(certs: Certs, store: str) -> Dict[str, str]:
    """The system properties Apache's Java client takes for TLS with a client certificate."""
    return {
        "zookeeper.client.secure": "true",
        "zookeeper.clientCnxnSocket": "org.apache.zookeeper.ClientCnxnSocketNetty",
        "zookeeper.ssl.keyStore.location": certs.path(f"client.{store}"),
        "zookeeper.ssl.keyStore.password": PASSWORD,
        "zookeeper.ssl.trustStore.location": certs.path(TRUST_OF[store]),
        "zookeeper.ssl.trustStore.password": PASSWORD,
    }


def java_cli(address: str, certs: Certs, store: str, *command: str) -> subprocess.CompletedProcess:
    """Apache's Java client (ZooKeeperMain, as zkCli.sh runs it) with Netty and TLS."""
    flags = [f"-D{key}={value}" for key, value in client_tls_properties(certs, store).items()]
    return subprocess.run(
        ["java", "-XX:TieredStopAtLevel=1", "-cp", APACHE_CLASSPATH, *flags,
         "org.apache.zookeeper.ZooKeeperMain", "-server", address, *command],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("store", ["jks", "p12"])
def test_java_zkcli_over_tls(zk_target, server_factory, certs, store):
    tls = start_tls(server_factory, zk_target, certs, store)
    created = java_cli(tls.secure_address, certs, store, "create", "/from-java", "hello")
    assert created.returncode == 0, created.stdout + created.stderr
    assert "Created /from-java" in created.stdout + created.stderr
    got = java_cli(tls.secure_address, certs, store, "get", "/from-java")
    assert got.returncode == 0, got.stderr
    assert "hello" in got.stdout.splitlines()
    # The Java client's identity is its certificate's subject.
    who = java_cli(tls.secure_address, certs, store, "whoami")
    assert f"x509: {CLIENT_SUBJECT}" in who.stdout.splitlines(), who.stdout + who.stderr


@pytest.mark.parametrize("store", ["jks", "p12", "pem"])
def test_zk_cli_takes_zkclis_tls_properties(zk_target, server_factory, certs, store, tmp_path):
    """zk-cli reads the client properties zkCli.sh users already have: `-D` flags in
    `$CLIENT_JVMFLAGS`, or a `-client-configuration` file."""
    if zk_target == "apache" and store == "pem":
        pytest.skip("Apache 3.8's PEM key store wants the key in PKCS#8 with a password")
    tls = start_tls(server_factory, zk_target, certs, store)
    properties = client_tls_properties(certs, store)
    env = {k: v for k, v in os.environ.items() if k not in ("CLIENT_JVMFLAGS", "JVMFLAGS")}

    def zk_cli(*args: str, **extra_env: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(zk_cli_bin()), *args], capture_output=True, text=True,
                              timeout=60, stdin=subprocess.DEVNULL, env={**env, **extra_env})

    flags = " ".join(f"-D{key}={value}" for key, value in properties.items())
    created = zk_cli("-server", tls.secure_address, "create", f"/zk-cli-{store}", "hi",
                     CLIENT_JVMFLAGS=flags)
    assert created.returncode == 0, created.stdout + created.stderr
    assert f"Created /zk-cli-{store}" in created.stdout + created.stderr
    config = tmp_path / "client.properties"
    config.write_text("".join(f"{key}={value}\n" for key, value in properties.items()))
    who = zk_cli("-client-configuration", str(config), "-server", tls.secure_address, "whoami")
    assert f"x509: {CLIENT_SUBJECT}" in who.stdout.splitlines(), who.stdout + who.stderr
    # A property zk cannot honour is named.
    broken = zk_cli("-server", tls.secure_address, "ls", "/",
                    CLIENT_JVMFLAGS="-Dzookeeper.client.secure=true")
    assert broken.returncode != 0
    assert "zookeeper.ssl.trustStore.location" in broken.stderr


# ----- who may connect -----------------------------------------------------------------------

def test_untrusted_client_certificate_is_refused(zk_target, server_factory, certs):
    tls = start_tls(server_factory, zk_target, certs)
    assert session_works(tls.secure_port, tls_context(certs, "client"))
    assert not session_works(tls.secure_port, tls_context(certs, "rogue"))
    # Need (the default): no certificate, no session.
    assert not session_works(tls.secure_port, tls_context(certs, None))
    assert session_works(tls.secure_port, tls_context(certs, "client"))


def test_client_auth_want_takes_clients_without_certificates(zk_target, server_factory, certs):
    tls = start_tls(server_factory, zk_target, certs, **{"ssl.clientAuth": "want"})
    assert session_works(tls.secure_port, tls_context(certs, None))
    assert session_works(tls.secure_port, tls_context(certs, "client"))
    assert not session_works(tls.secure_port, tls_context(certs, "rogue"))


def test_server_needs_no_trust_store_with_client_auth_none(server_factory, certs):
    tls = start_tls(server_factory, "zk", certs, **{"ssl.clientAuth": "none"})
    assert session_works(tls.secure_port, tls_context(certs, None))


# ----- the x509 scheme -----------------------------------------------------------------------

def test_x509_acl_is_honoured(zk_target, server_factory, certs, kazoo_clients):
    tls = start_tls(server_factory, zk_target, certs)
    owner = kazoo_clients(tls.secure_address, certs, "client")
    other = kazoo_clients(tls.secure_address, certs, "other")
    acl = [make_acl("x509", CLIENT_SUBJECT, all=True)]
    owner.create("/x509-only", b"secret", acl=acl)
    assert owner.get("/x509-only")[0] == b"secret"
    assert owner.get_acls("/x509-only")[0] == acl
    with pytest.raises(NoAuthError):
        other.get("/x509-only")
    with pytest.raises(NoAuthError):
        other.set("/x509-only", b"mine")
    # "auth" expands to the certificate's id.
    owner.create("/x509-auth", b"x", acl=[make_acl("auth", "", all=True)])
    assert owner.get_acls("/x509-auth")[0] == acl
    with pytest.raises(NoAuthError):
        other.get("/x509-auth")


def test_x509_super_user(server_factory, certs, kazoo_clients):
    tls = start_tls(server_factory, "zk", certs,
                    **{"X509AuthenticationProvider.superUser": CLIENT_SUBJECT})
    other = kazoo_clients(tls.secure_address, certs, "other")
    other.create("/mine", b"x", acl=[make_acl("auth", "", all=True)])
    admin = kazoo_clients(tls.secure_address, certs, "client")
    assert admin.get("/mine")[0] == b"x"


# ----- port unification ----------------------------------------------------------------------

def test_port_unification_serves_plain_and_tls_on_one_port(zk_target, server_factory, certs,
                                                           kazoo_clients):
    tls = start_tls(server_factory, zk_target, certs, unified_only=True,
                    **{"client.portUnification": "true"})
    plain = kazoo_clients(tls.server.address)
    secure = kazoo_clients(tls.server.address, certs)
    plain.create("/unified", b"plain")
    assert secure.get("/unified")[0] == b"plain"
    secure.set("/unified", b"tls")
    assert plain.get("/unified")[0] == b"tls"


# ----- reload --------------------------------------------------------------------------------

def peer_serial(port: int, certs: Certs) -> int:
    with socket.create_connection((HOST, port), timeout=10) as raw:
        with tls_context(certs).wrap_socket(raw) as sock:
            der = sock.getpeercert(binary_form=True)
    text = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-serial"],
                          input=der, capture_output=True, timeout=30, check=True).stdout
    return int(text.decode().strip().split("=", 1)[1], 16)


@pytest.mark.parametrize("store", ["p12", "pem"])
def test_key_store_reload_without_restart(server_factory, certs, kazoo_clients, store, tmp_path):
    key_store = tmp_path / f"server.{store}"
    shutil.copy(certs.path(f"server.{store}"), key_store)
    tls = start_tls(server_factory, "zk", certs, store,
                    **{"ssl.keyStore.location": str(key_store)})
    assert peer_serial(tls.secure_port, certs) == SERIALS["server"]
    before = kazoo_clients(tls.secure_address, certs)
    replacement = tmp_path / f"new.{store}"
    shutil.copy(certs.path(f"server2.{store}"), replacement)
    os.replace(replacement, key_store)
    wait_until(lambda: peer_serial(tls.secure_port, certs) == SERIALS["server2"], 30,
               "a new connection to see the new certificate")
    # The connection made before the swap keeps working.
    before.create("/after-reload", b"ok")
    assert kazoo_clients(tls.secure_address, certs).get("/after-reload")[0] == b"ok"


def test_broken_key_store_keeps_the_old_certificate(server_factory, certs, tmp_path):
    key_store = tmp_path / "server.p12"
    shutil.copy(certs.path("server.p12"), key_store)
    tls = start_tls(server_factory, "zk", certs, **{"ssl.keyStore.location": str(key_store)})
    key_store.write_bytes(b"not a key store")
    wait_until(lambda: "keeping the previous TLS configuration" in tls.server.log_tail(200), 30,
               "the reload to be refused")
    assert peer_serial(tls.secure_port, certs) == SERIALS["server"]


# ----- bad input -----------------------------------------------------------------------------

def _closed_by_server(sock: socket.socket, timeout: float) -> bool:
    sock.settimeout(timeout)
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def test_bad_input_closes_only_that_connection(zk_target, server_factory, certs, kazoo_clients):
    extra = {"nio.sessionlessCnxnTimeout": "3000"} if zk_target == "zk" else {}
    tls = start_tls(server_factory, zk_target, certs, **extra)
    good = kazoo_clients(tls.secure_address, certs)
    good.create("/survivor", b"1")
    idle = socket.create_connection((HOST, tls.secure_port), timeout=10)
    try:
        # Garbage that is not a TLS record.
        with socket.create_connection((HOST, tls.secure_port), timeout=10) as garbage:
            garbage.sendall(os.urandom(64) + b"\x00" * 512)
            assert _closed_by_server(garbage, 20)
        # A TLS-looking record header with nonsense after it.
        with socket.create_connection((HOST, tls.secure_port), timeout=10) as fake:
            fake.sendall(b"\x16\x03\x01\x00\x10" + b"\xff" * 16)
            assert _closed_by_server(fake, 20)
        # A plaintext ConnectRequest to the TLS port.
        plain = jute.Session(HOST, tls.secure_port, io_timeout=20)
        with pytest.raises((jute.ConnectionClosed, OSError, ValueError)):
            plain.connect(timeout_ms=10000)
        plain.close_socket()
        assert good.get("/survivor")[0] == b"1"
        assert session_works(tls.secure_port, tls_context(certs))
        if zk_target == "zk":
            # A socket that never starts its handshake is closed at the sessionless deadline.
            assert _closed_by_server(idle, 20)
    finally:
        idle.close()
    good.set("/survivor", b"2")
    assert kazoo_clients(tls.secure_address, certs).get("/survivor")[0] == b"2"


def test_secure_port_only(server_factory, certs, kazoo_clients, tmp_path_factory):
    """secureClientPort without clientPort: only TLS is served."""
    port = free_port()
    server = ZkServer("zk", tmp_path_factory.mktemp("secure-only"),
                      tls_config(certs, port))
    # No plaintext port: drop clientPort from the written zoo.cfg.
    config = server.config()
    del config["clientPort"]
    del config["clientPortAddress"]
    server.config_path.write_text("".join(f"{k}={v}\n" for k, v in config.items()))
    server_factory.servers.append(server)
    server.start(wait=False)
    wait_until(lambda: session_works(port, tls_context(certs)), 30, "the secure-only server")
    zk = kazoo_clients(f"{HOST}:{port}", certs)
    zk.create("/secure-only", b"x")


def test_bad_key_store_stops_the_start_naming_the_file(server_factory, certs, tmp_path_factory):
    config = tls_config(certs, free_port(), **{"ssl.keyStore.password": "wrong"})
    server = server_factory.start("zk", config, wait=False)
    wait_until(lambda: not server.running(), 30, "zk-server to refuse to start")
    log = server.log_tail(20)
    assert "server.p12" in log and "password" in log, log
