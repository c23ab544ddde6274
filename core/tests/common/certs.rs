//! Throwaway certificates for the TLS tests, made with the `openssl` command at test time
//! (no key is ever committed): an authority, a server certificate for 127.0.0.1 only (so a
//! connection to `localhost` fails a host name check), client certificates, and a second,
//! untrusted authority.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The files of one test run, all PEM.
pub struct Certs {
    pub dir: tempfile::TempDir,
}

impl Certs {
    pub fn make() -> Certs {
        let dir = tempfile::tempdir().unwrap();
        let certs = Certs { dir };
        certs.authority("ca", "zk test CA");
        certs.authority("other-ca", "zk untrusted test CA");
        certs.signed("server", "zk-server", "ca", Some("IP:127.0.0.1"));
        certs.signed("client", "client", "ca", None);
        certs.signed("stranger", "stranger", "other-ca", None);
        // Apache's PEM key store: the key and the certificate in one file.
        let server_pem = [certs.path("server.key"), certs.path("server.crt")]
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect::<String>();
        std::fs::write(certs.path("server-keystore.pem"), server_pem).unwrap();
        certs
    }

    /// The client's certificate and key in the other forms a client takes: the key
    /// encrypted (PKCS#8, password `key pass`), a PKCS12 key store and a PKCS12 trust store
    /// (password `store pass`), and, when `keytool` is installed, JKS ones (`client.jks`,
    /// `trust.jks`, same password). Returns whether the JKS files were made.
    pub fn client_stores(&self) -> bool {
        let dir = self.dir.path();
        openssl(
            dir,
            &[
                "pkcs8",
                "-topk8",
                "-in",
                "client.key",
                "-passout",
                "pass:key pass",
                "-out",
                "client-encrypted.key",
            ],
        );
        openssl(
            dir,
            &[
                "pkcs12",
                "-export",
                "-inkey",
                "client.key",
                "-in",
                "client.crt",
                "-name",
                "client",
                "-passout",
                "pass:store pass",
                "-out",
                "client.p12",
            ],
        );
        openssl(
            dir,
            &[
                "pkcs12",
                "-export",
                "-nokeys",
                "-in",
                "ca.crt",
                "-passout",
                "pass:store pass",
                "-out",
                "trust.p12",
            ],
        );
        let keytool = |args: &[&str]| {
            Command::new("keytool")
                .args(args)
                .current_dir(dir)
                .output()
                .is_ok_and(|out| out.status.success())
        };
        keytool(&[
            "-importkeystore",
            "-srckeystore",
            "client.p12",
            "-srcstoretype",
            "PKCS12",
            "-srcstorepass",
            "store pass",
            "-destkeystore",
            "client.jks",
            "-deststoretype",
            "JKS",
            "-deststorepass",
            "store pass",
            "-noprompt",
        ]) && keytool(&[
            "-importcert",
            "-alias",
            "ca",
            "-file",
            "ca.crt",
            "-keystore",
            "trust.jks",
            "-storetype",
            "JKS",
            "-storepass",
            "store pass",
            "-noprompt",
        ])
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn authority(&self, name: &str, subject: &str) {
        openssl(
            self.dir.path(),
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.crt"),
                "-subj",
                &format!("/CN={subject}"),
            ],
        );
    }

    fn signed(&self, name: &str, subject: &str, authority: &str, alt_names: Option<&str>) {
        openssl(
            self.dir.path(),
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                &format!("/O=zk tests/CN={subject}"),
            ],
        );
        let extensions = self.path(&format!("{name}.ext"));
        let mut ext = String::from("basicConstraints=CA:FALSE\n");
        if let Some(alt_names) = alt_names {
            ext.push_str(&format!("subjectAltName={alt_names}\n"));
        }
        std::fs::write(&extensions, ext).unwrap();
        openssl(
            self.dir.path(),
            &[
                "x509",
                "-req",
                "-days",
                "2",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                &format!("{authority}.crt"),
                "-CAkey",
                &format!("{authority}.key"),
                "-CAcreateserial",
                "-out",
                &format!("{name}.crt"),
                "-extfile",
                &extensions.to_string_lossy(),
            ],
        );
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
