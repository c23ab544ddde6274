"""TLS with kazoo's parameters (`use_ssl`, `ca`, `certfile`, `keyfile`, `keyfile_password`,
`check_hostname`)
against a server's `secureClientPort`: zk-server and Apache 3.8 from one zoo.cfg (PEM stores,
`ssl.clientAuth=want`), interoperating with kazoo over TLS on the same znodes. Certificates
are made at test time (tests/common/tls_certs.py)."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Callable, Dict

import pytest
from kazoo.client import KazooClient

import zk
from conftest import Servers
from servers import HOST, free_port
from tls_certs import CLIENT_SUBJECT, Certs

START = 30.0


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return Certs(Path(tmp_path_factory.mktemp("tls-certs")))


@pytest.fixture
def secure(zk_target: str, servers: Servers, certs: Certs) -> str:
    """A server of the selected kind with a TLS port; its address."""
    port = free_port()
    config = certs.secure_port_config(port, HOST)
    servers.start(zk_target, config)
    return f"{HOST}:{port}"


def test_calls_over_tls_with_a_client_certificate_and_kazoo_on_the_same_nodes(
        secure: str, certs: Certs, clients: Callable[..., zk.Client], path: str) -> None:
    client = clients(secure, use_ssl=True, ca=certs.path("ca.pem"),
                     certfile=certs.path("client.crt"), keyfile=certs.path("client.key"),
                     check_hostname=True)
    client.create(path, b"sealed")
    assert client.get(path)[0] == b"sealed"
    assert zk.ClientInfo("x509", CLIENT_SUBJECT) in client.whoami()
    kazoo = KazooClient(hosts=secure, use_ssl=True, ca=certs.path("ca.pem"),
                        certfile=certs.path("client.crt"), keyfile=certs.path("client.key"))
    kazoo.start(timeout=START)
    try:
        assert kazoo.get(path)[0] == b"sealed"
        kazoo.set(path, b"from kazoo")
    finally:
        kazoo.stop()
        kazoo.close()
    assert client.get(path)[0] == b"from kazoo"


def test_an_encrypted_key_with_keyfile_password_as_kazoo_takes_it(
        secure: str, certs: Certs, clients: Callable[..., zk.Client], path: str,
        tmp_path: Path) -> None:
    encrypted = tmp_path / "client-encrypted.key"
    subprocess.run(["openssl", "pkcs8", "-topk8", "-in", certs.path("client.key"), "-passout",
                    "pass:key pass", "-out", str(encrypted)], check=True, capture_output=True)
    tls = dict(use_ssl=True, ca=certs.path("ca.pem"), certfile=certs.path("client.crt"),
               keyfile=str(encrypted), keyfile_password="key pass")
    client = clients(secure, **tls)
    assert zk.ClientInfo("x509", CLIENT_SUBJECT) in client.whoami()
    client.create(path, b"locked key")
    kazoo = KazooClient(hosts=secure, **tls)
    kazoo.start(timeout=START)
    try:
        assert kazoo.get(path)[0] == b"locked key"
    finally:
        kazoo.stop()
        kazoo.close()
    for password in ("wrong", None):
        with pytest.raises(zk.BadArgumentsError, match="client-encrypted.key"):
            zk.Client(secure, **{**tls, "keyfile_password": password})  # type: ignore[arg-type]


def test_without_a_client_certificate_a_server_that_only_wants_one_connects(
        secure: str, certs: Certs, clients: Callable[..., zk.Client]) -> None:
    client = clients(secure, use_ssl=True, ca=certs.path("ca.pem"))
    assert all(info.auth_scheme != "x509" for info in client.whoami())


def test_a_server_signed_by_another_authority_is_refused(
        secure: str, certs: Certs, clients: Callable[..., zk.Client]) -> None:
    client = clients(secure, start=False, use_ssl=True, ca=certs.path("rogue-ca.pem"),
                     timeout=4.0)
    with pytest.raises(zk.OperationTimeoutError):
        client.start(timeout=4.0)


def test_asyncio_client_over_tls(secure: str, certs: Certs, path: str) -> None:
    async def main() -> bytes:
        async with zk.AsyncClient(secure, use_ssl=True, ca=certs.path("ca.pem")) as client:
            await client.create(path, b"async sealed")
            data, _ = await client.get(path)
            return data

    assert asyncio.run(main()) == b"async sealed"


@pytest.mark.parametrize("kwargs, named", [
    ({"use_ssl": True, "ca": "/nonexistent/ca.pem"}, "/nonexistent/ca.pem"),
    ({"use_ssl": True}, "ca="),
    ({"use_ssl": True, "ca": "CA", "verify_certs": False}, "verify_certs"),
    ({"ca": "CA"}, "use_ssl"),
    ({"use_ssl": True, "ca": "CA", "certfile": "CA"}, "key file"),
    ({"keyfile_password": "pw"}, "use_ssl"),
])
def test_bad_tls_arguments_fail_before_connecting(
        certs: Certs, kwargs: Dict[str, object], named: str) -> None:
    kwargs = {k: certs.path("ca.pem") if v == "CA" else v for k, v in kwargs.items()}
    with pytest.raises(zk.BadArgumentsError, match=named.replace(".", r"\.")):
        zk.Client("127.0.0.1:1", **kwargs)  # type: ignore[arg-type]
