"""SASL DIGEST-MD5 with kazoo's parameters (``sasl_options``, and the older
``auth_data=[("sasl", "user:password")]``) against zk-server and Apache ZooKeeper 3.8, each
given the same JAAS ``Server`` section (and, for Apache, the ``sasl`` auth provider): a
``sasl:bob`` ACL, wrong credentials, enforcement, re-authentication after a reconnect, and a
node shared with kazoo authenticated as the same user."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest

import zk
from servers import APACHE_JVM_FLAGS, Proxy, Server, wait_until
from zk.security import make_acl

DEADLINE = 30.0
USERS = {"bob": "bobsecret", "alice": "alicesecret"}
SASL_PROVIDER = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"
ENFORCE = {"enforce.auth.enabled": "true", "enforce.auth.schemes": "sasl"}


def sasl(user: str, password: Optional[str] = None) -> Dict[str, str]:
    return {"mechanism": "DIGEST-MD5", "username": user,
            "password": USERS[user] if password is None else password}


class SaslServer(Server):
    """A server with the suite's JAAS users, named by ``-Djava.security.auth.login.config``
    (Apache: on the java command line; zk-server: in SERVER_JVMFLAGS, as zkServer.sh passes
    it). It counts as up once bob can log in and read (an anonymous probe is refused under
    enforcement)."""

    def __init__(self, kind: str, workdir: Path, extra: Optional[Dict[str, str]] = None):
        workdir.mkdir(parents=True, exist_ok=True)
        jaas = workdir / "jaas.conf"
        users = "\n".join(f'    user_{u}="{p}"' for u, p in USERS.items())
        jaas.write_text("Server {\n    org.apache.zookeeper.server.auth.DigestLoginModule "
                        f"required\n{users};\n}};\n")
        flag = f"-Djava.security.auth.login.config={jaas}"
        # Apache needs the provider for the sasl scheme; zk-server always has it.
        config = {"authProvider.1": SASL_PROVIDER, **(extra or {})}
        super().__init__(kind, workdir, config, jvm_flags=[*APACHE_JVM_FLAGS, flag])
        if kind == "zk":
            self.env = {**os.environ, "SERVER_JVMFLAGS": flag}

    def probe_options(self) -> Dict[str, Any]:
        return {"sasl_options": sasl("bob")}


@pytest.fixture
def start_server(zk_target: str, tmp_path: Path) -> Iterator[Callable[..., SaslServer]]:
    started: List[SaslServer] = []

    def start(extra: Optional[Dict[str, str]] = None) -> SaslServer:
        server = SaslServer(zk_target, tmp_path / f"server{len(started)}", extra)
        started.append(server)
        return server.start()  # type: ignore[return-value]

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def kazoo_clients() -> Iterator[Callable[..., Any]]:
    from kazoo.client import KazooClient

    made: List[Any] = []

    def make(hosts: str, user: Optional[str]) -> Any:
        options = {"sasl_options": sasl(user)} if user else {}
        kz = KazooClient(hosts=hosts, timeout=10.0, **options)
        kz.start(timeout=DEADLINE)
        made.append(kz)
        return kz

    yield make
    for kz in made:
        kz.stop()
        kz.close()


def test_a_sasl_acl_admits_its_user_only(start_server, clients, path):
    server = start_server()
    bob = clients(server.address, sasl_options=sasl("bob"))
    assert bob.state == zk.State.CONNECTED
    bob.create(path, b"secret", acl=[make_acl("sasl", "bob", all=True)])
    assert bob.get(path)[0] == b"secret"
    assert ("sasl", "bob") in [(info.auth_scheme, info.user) for info in bob.whoami()]
    for other in (clients(server.address), clients(server.address, sasl_options=sasl("alice"))):
        with pytest.raises(zk.NoAuthError):
            other.get(path)


def test_kazoos_older_auth_data_form_is_sasl_too(start_server, clients, path):
    server = start_server()
    bob = clients(server.address, sasl_options=sasl("bob"))
    bob.create(path, b"old form", acl=[make_acl("sasl", "bob", read=True)])
    with pytest.warns(DeprecationWarning, match="sasl_options"):
        legacy = clients(server.address, auth_data=[("sasl", "bob:bobsecret")])
    assert legacy.get(path)[0] == b"old form"
    with pytest.raises(zk.BadArgumentsError, match="multiple SASL"):
        zk.Client(server.address, auth_data=[("sasl", "bob:x")], sasl_options=sasl("bob"))


@pytest.mark.parametrize("user,password", [("bob", "wrong"), ("nobody", "x")])
def test_wrong_credentials_fail_start_with_auth_failed(start_server, clients, user, password):
    server = start_server()
    client = clients(server.address, start=False, sasl_options={
        "mechanism": "DIGEST-MD5", "username": user, "password": password})
    states: List[zk.State] = []
    client.add_listener(states.append)
    with pytest.raises(zk.AuthFailedError):
        client.start(timeout=DEADLINE)
    wait_until(lambda: zk.State.AUTH_FAILED in states, DEADLINE, "AUTH_FAILED for listeners")
    assert client.state.is_lost
    # The server goes on serving others.
    assert clients(server.address, sasl_options=sasl("bob")).exists("/") is not None


def test_only_digest_md5_is_accepted():
    with pytest.raises(zk.BadArgumentsError, match="GSSAPI"):
        zk.Client("127.0.0.1:2181", sasl_options={"mechanism": "GSSAPI", "principal": "x"})
    with pytest.raises(zk.BadArgumentsError, match="username"):
        zk.Client("127.0.0.1:2181", sasl_options={"mechanism": "DIGEST-MD5"})
    with pytest.raises(zk.BadArgumentsError, match="unknown key"):
        zk.Client("127.0.0.1:2181", sasl_options={**sasl("bob"), "realm": "x"})


def test_debug_and_repr_never_show_the_password():
    client = zk.Client("127.0.0.1:2181", sasl_options=sasl("bob", "hunter2-secret"))
    assert "hunter2" not in repr(client)


def test_a_reconnect_authenticates_again(start_server, clients, path):
    server = start_server()
    owner = clients(server.address, sasl_options=sasl("bob"))
    owner.create(path, b"again", acl=[make_acl("sasl", "bob", all=True)])
    proxy = Proxy(server.port)
    try:
        client = clients(proxy.address, sasl_options=sasl("bob"))
        session = client.client_id
        for _ in range(2):
            states: List[zk.State] = []
            suspended = threading.Event()

            def listener(state: zk.State) -> None:
                states.append(state)
                if state == zk.State.SUSPENDED:
                    suspended.set()

            client.add_listener(listener)
            proxy.cut()
            assert suspended.wait(DEADLINE), states
            proxy.restore()
            # Held until the new connection has authenticated, then allowed by sasl:bob.
            assert client.get(path)[0] == b"again"
            assert client.client_id == session
            client.remove_listener(listener)
            assert states[:2] == [zk.State.SUSPENDED, zk.State.CONNECTED], states
    finally:
        proxy.close()


def test_enforced_sasl_admits_authenticated_clients(start_server, clients, path):
    server = start_server(ENFORCE)
    bob = clients(server.address, sasl_options=sasl("bob"))
    bob.create(path, b"enforced")
    assert bob.get(path)[0] == b"enforced"
    anonymous = clients(server.address)
    with pytest.raises((zk.SessionClosedRequireSaslAuthError, zk.ConnectionLoss)):
        anonymous.get(path)


def test_a_node_is_shared_with_kazoo_authenticated_as_the_same_user(
        start_server, clients, kazoo_clients, path):
    from kazoo.exceptions import NoAuthError
    from kazoo.security import make_acl as kazoo_acl

    server = start_server()
    ours = clients(server.address, sasl_options=sasl("bob"))
    ours.create(path, b"from zk", acl=[make_acl("sasl", "bob", all=True)])
    kazoo_bob = kazoo_clients(server.address, "bob")
    assert kazoo_bob.get(path)[0] == b"from zk"
    with pytest.raises(NoAuthError):
        kazoo_clients(server.address, None).get(path)
    # And the other way: kazoo's node, ours to read as bob.
    kazoo_bob.create(path + "-kazoo", b"from kazoo", acl=[kazoo_acl("sasl", "bob", all=True)])
    assert ours.get(path + "-kazoo")[0] == b"from kazoo"
    with pytest.raises(zk.NoAuthError):
        clients(server.address, sasl_options=sasl("alice")).get(path + "-kazoo")
