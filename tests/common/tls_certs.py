"""Test certificates for the TLS tests, made at test time with `openssl` and `keytool`
(never committed): CA A with a server certificate (SAN 127.0.0.1 and localhost), a second
server certificate for the reload test, two client certificates; CA B (not trusted) with a
client certificate and, on demand, a member certificate. Each identity in PEM (key+chain, and key/cert apart), PKCS12 and JKS;
the trust store for CA A in PEM, PKCS12 and JKS. Every store's password is PASSWORD."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Dict

PASSWORD = "test-pass"
# Subjects as Apache's X509AuthenticationProvider names them (RFC 2253, last RDN first).
CLIENT_SUBJECT = "CN=client,OU=zk-test,O=zk"
OTHER_SUBJECT = "CN=other-client,OU=zk-test,O=zk"
SERIALS = {"server": 0x1001, "server2": 0x2002, "client": 0x3003, "other": 0x4004,
           "rogue": 0x5005, "rogue-member": 0x6006}


def _run(args, cwd: Path) -> None:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr}")


class Certs:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self._ca("ca", "/CN=zk-test-ca-A")
        self._ca("rogue-ca", "/CN=zk-test-ca-B")
        san = "subjectAltName=IP:127.0.0.1,DNS:localhost"
        self._leaf("server", "ca", "/O=zk/OU=zk-test/CN=localhost", san)
        self._leaf("server2", "ca", "/O=zk/OU=zk-test/CN=reloaded", san)
        self._leaf("client", "ca", "/O=zk/OU=zk-test/CN=client", "extendedKeyUsage=clientAuth")
        self._leaf("other", "ca", "/O=zk/OU=zk-test/CN=other-client",
                   "extendedKeyUsage=clientAuth")
        self._leaf("rogue", "rogue-ca", "/O=zk/OU=zk-test/CN=client",
                   "extendedKeyUsage=clientAuth")
        _run(["keytool", "-importcert", "-alias", "ca", "-file", "ca.pem", "-keystore",
              "trust.p12", "-storetype", "PKCS12", "-storepass", PASSWORD, "-noprompt"], self.dir)
        _run(["keytool", "-importcert", "-alias", "ca", "-file", "ca.pem", "-keystore",
              "trust.jks", "-storetype", "JKS", "-storepass", PASSWORD, "-noprompt"], self.dir)

    def path(self, name: str) -> str:
        return str(self.dir / name)

    def secure_port_config(self, port: int, host: str = "127.0.0.1") -> Dict[str, str]:
        """zoo.cfg keys for a `secureClientPort` that both zk-server and Apache 3.8 (Netty)
        serve: the PEM server key store and CA trust store, a client certificate wanted but
        not required."""
        return {
            "secureClientPort": str(port),
            "secureClientPortAddress": host,
            "serverCnxnFactory": "org.apache.zookeeper.server.NettyServerCnxnFactory",
            "ssl.keyStore.location": self.path("server.pem"),
            "ssl.keyStore.type": "PEM",
            "ssl.trustStore.location": self.path("ca.pem"),
            "ssl.trustStore.type": "PEM",
            "ssl.clientAuth": "want",
        }

    def untrusted_member(self) -> str:
        """A PEM key store that looks like a member's (SAN 127.0.0.1, made on first use) but
        is signed by CA B, which no trust store here holds."""
        if not (self.dir / "rogue-member.pem").exists():
            self._leaf("rogue-member", "rogue-ca", "/O=zk/OU=zk-test/CN=localhost",
                       "subjectAltName=IP:127.0.0.1,DNS:localhost")
        return self.path("rogue-member.pem")

    def _ca(self, name: str, subject: str) -> None:
        _run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3",
              "-subj", subject, "-keyout", f"{name}.key", "-out", f"{name}.pem",
              "-addext", "basicConstraints=critical,CA:true",
              "-addext", "keyUsage=critical,keyCertSign,cRLSign"], self.dir)

    def _leaf(self, name: str, ca: str, subject: str, extension: str) -> None:
        _run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", subject,
              "-keyout", f"{name}.key", "-out", f"{name}.csr"], self.dir)
        (self.dir / f"{name}.ext").write_text(extension + "\n")
        _run(["openssl", "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey",
              f"{ca}.key", "-set_serial", str(SERIALS[name]), "-days", "3", "-extfile",
              f"{name}.ext", "-out", f"{name}.crt"], self.dir)
        key = (self.dir / f"{name}.key").read_text()
        crt = (self.dir / f"{name}.crt").read_text()
        (self.dir / f"{name}.pem").write_text(key + crt)
        _run(["openssl", "pkcs12", "-export", "-inkey", f"{name}.key", "-in", f"{name}.crt",
              "-certfile", f"{ca}.pem", "-name", name, "-passout", f"pass:{PASSWORD}",
              "-out", f"{name}.p12"], self.dir)
        _run(["keytool", "-importkeystore", "-srckeystore", f"{name}.p12", "-srcstoretype",
              "PKCS12", "-srcstorepass", PASSWORD, "-destkeystore", f"{name}.jks",
              "-deststoretype", "JKS", "-deststorepass", PASSWORD, "-noprompt"], self.dir)
