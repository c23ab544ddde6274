//! The store readers against files made by the real tools (`openssl`, `keytool`), and the
//! rustls config built from them. Skipped (with a note) where a tool is missing.

use std::path::PathBuf;
use std::process::Command;

use super::*;

fn tool(name: &str) -> bool {
    Command::new(name)
        .arg(if name == "keytool" {
            "-help"
        } else {
            "version"
        })
        .output()
        .is_ok()
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("tool runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a server certificate signed by it, as PEM, PKCS12 and (with keytool) JKS.
struct Files {
    _dir: tempfile::TempDir,
    dir: PathBuf,
}

impl Files {
    fn make(with_jks: bool) -> Files {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().to_path_buf();
        let p = |name: &str| dir.join(name);
        let openssl = |args: &[&str]| {
            run(Command::new("openssl").args(args).current_dir(&dir));
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=test-ca",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ]);
        openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/O=zk, Inc./OU=ops/CN=server",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ]);
        std::fs::write(p("ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n").expect("write");
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "4660",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-out",
            "server.crt",
        ]);
        let key = std::fs::read_to_string(p("server.key")).expect("read");
        let crt = std::fs::read_to_string(p("server.crt")).expect("read");
        std::fs::write(p("server.pem"), format!("{key}{crt}")).expect("write");
        openssl(&[
            "pkcs12",
            "-export",
            "-inkey",
            "server.key",
            "-in",
            "server.crt",
            "-certfile",
            "ca.pem",
            "-name",
            "server",
            "-passout",
            "pass:secret",
            "-out",
            "server.p12",
        ]);
        openssl(&[
            "pkcs12",
            "-export",
            "-nokeys",
            "-in",
            "ca.pem",
            "-passout",
            "pass:secret",
            "-out",
            "trust.p12",
        ]);
        if with_jks {
            run(Command::new("keytool").current_dir(&dir).args([
                "-importkeystore",
                "-srckeystore",
                "server.p12",
                "-srcstoretype",
                "PKCS12",
                "-srcstorepass",
                "secret",
                "-destkeystore",
                "server.jks",
                "-deststoretype",
                "JKS",
                "-deststorepass",
                "secret",
                "-noprompt",
            ]));
            run(Command::new("keytool").current_dir(&dir).args([
                "-importcert",
                "-alias",
                "ca",
                "-file",
                "ca.pem",
                "-keystore",
                "trust.jks",
                "-storetype",
                "JKS",
                "-storepass",
                "secret",
                "-noprompt",
            ]));
        }
        Files { _dir: tmp, dir }
    }

    fn spec(&self, name: &str, password: &str) -> StoreSpec {
        StoreSpec {
            location: self.dir.join(name),
            password: password.into(),
            store_type: None,
        }
    }
}

fn check_identity(spec: &StoreSpec) {
    let identity = spec.load_identity().unwrap_or_else(|e| panic!("{e}"));
    let subject = dn::subject_of(&identity.chain[0]).expect("subject");
    assert_eq!(subject, "CN=server,OU=ops,O=zk\\, Inc.");
    assert_eq!(dn::serial_of(&identity.chain[0]).as_deref(), Some("1234"));
}

fn settings(key: StoreSpec, trust: StoreSpec) -> TlsSettings {
    TlsSettings {
        key_store: key,
        trust_store: Some(trust),
        client_auth: ClientAuth::Need,
        protocols: Vec::new(),
        cipher_suites: Vec::new(),
        super_user: None,
    }
}

#[test]
fn pem_and_pkcs12_stores_load() {
    if !tool("openssl") {
        eprintln!("openssl not installed; skipped");
        return;
    }
    let f = Files::make(false);
    check_identity(&f.spec("server.pem", ""));
    check_identity(&f.spec("server.p12", "secret"));
    // The chain: the PKCS12 file carries the CA after the leaf.
    let p12 = f.spec("server.p12", "secret").load_identity().expect("p12");
    assert_eq!(p12.chain.len(), 2);
    assert_eq!(
        f.spec("ca.pem", "").load_trust().expect("pem trust").len(),
        1
    );
    assert_eq!(
        f.spec("trust.p12", "secret")
            .load_trust()
            .expect("p12 trust")
            .len(),
        1
    );
    settings(f.spec("server.p12", "secret"), f.spec("ca.pem", ""))
        .server_config()
        .expect("rustls config");
}

#[test]
fn jks_stores_load() {
    if !tool("openssl") || !tool("keytool") {
        eprintln!("openssl or keytool not installed; skipped");
        return;
    }
    let f = Files::make(true);
    check_identity(&f.spec("server.jks", "secret"));
    assert_eq!(
        f.spec("trust.jks", "secret")
            .load_trust()
            .expect("jks trust")
            .len(),
        1
    );
    settings(
        f.spec("server.jks", "secret"),
        f.spec("trust.jks", "secret"),
    )
    .server_config()
    .expect("rustls config");
    let err = f
        .spec("server.jks", "wrong")
        .load_identity()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("server.jks") && err.contains("password"),
        "{err}"
    );
}

#[test]
fn wrong_passwords_and_types_name_the_file() {
    if !tool("openssl") {
        eprintln!("openssl not installed; skipped");
        return;
    }
    let f = Files::make(false);
    let err = f
        .spec("server.p12", "wrong")
        .load_identity()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("server.p12") && err.contains("password"),
        "{err}"
    );
    let err = f
        .spec("trust.p12", "wrong")
        .load_trust()
        .unwrap_err()
        .to_string();
    assert!(err.contains("trust.p12"), "{err}");
    // A PEM file read as PKCS12, and a CA file without a key.
    let mut spec = f.spec("server.pem", "");
    spec.store_type = Some(StoreType::Pkcs12);
    assert!(spec
        .load_identity()
        .unwrap_err()
        .to_string()
        .contains("server.pem"));
    let err = f
        .spec("ca.pem", "")
        .load_identity()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("ca.pem") && err.contains("no private key"),
        "{err}"
    );
    // clientAuth=need without a trust store.
    let mut s = settings(f.spec("server.pem", ""), f.spec("ca.pem", ""));
    s.trust_store = None;
    assert_eq!(s.server_config().unwrap_err(), TlsError::NoTrustStore);
    s.client_auth = ClientAuth::None;
    s.server_config()
        .expect("no client auth needs no trust store");
}

#[test]
fn reload_swaps_only_on_change() {
    if !tool("openssl") {
        eprintln!("openssl not installed; skipped");
        return;
    }
    let f = Files::make(false);
    let acceptor = TlsAcceptor::new(settings(f.spec("server.pem", ""), f.spec("ca.pem", "")))
        .expect("acceptor");
    assert_eq!(acceptor.reload_if_changed(), Ok(false));
    let before = Arc::as_ptr(&acceptor.current());
    // A broken file keeps the old config, and is not tried again until it changes.
    let good = std::fs::read(f.dir.join("server.pem")).expect("read");
    std::fs::write(f.dir.join("server.pem"), b"garbage").expect("write");
    assert!(acceptor.reload_if_changed().is_err());
    assert_eq!(acceptor.reload_if_changed(), Ok(false));
    assert_eq!(Arc::as_ptr(&acceptor.current()), before);
    std::fs::write(f.dir.join("server.pem"), &good).expect("write");
    std::fs::write(f.dir.join("server.pem"), [good.as_slice(), b"\n"].concat()).expect("write");
    assert_eq!(acceptor.reload_if_changed(), Ok(true));
    assert_ne!(Arc::as_ptr(&acceptor.current()), before);
}

#[test]
fn protocol_and_cipher_names() {
    assert_eq!(
        TlsVersion::from_protocol("TLSv1.2"),
        Ok(vec![TlsVersion::V1_2])
    );
    assert_eq!(
        TlsVersion::from_protocol("TLSv1.3"),
        Ok(vec![TlsVersion::V1_3, TlsVersion::V1_2])
    );
    assert!(TlsVersion::parse("TLSv1.1")
        .unwrap_err()
        .contains("not supported"));
    assert!(TlsVersion::parse("bogus")
        .unwrap_err()
        .starts_with("unknown"));
    assert!(cipher_suite("TLS_AES_128_GCM_SHA256").is_some());
    assert!(cipher_suite("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256").is_some());
    assert!(cipher_suite("TLS_RSA_WITH_AES_128_CBC_SHA").is_none());
    assert_eq!(ClientAuth::parse("WANT"), Some(ClientAuth::Want));
    assert_eq!(ClientAuth::parse("maybe"), None);
}

#[test]
fn encrypted_pem_keys_open_with_the_store_password() {
    if !tool("openssl") {
        eprintln!("openssl not installed; skipped");
        return;
    }
    let f = Files::make(false);
    let crt = std::fs::read_to_string(f.dir.join("server.crt")).expect("read");
    let encrypt = |out: &str, cipher_args: &[&str]| {
        run(Command::new("openssl")
            .current_dir(&f.dir)
            .args([
                "pkcs8",
                "-topk8",
                "-in",
                "server.key",
                "-passout",
                "pass:k3y pass",
            ])
            .args(cipher_args)
            .args(["-out", out]));
        let key = std::fs::read_to_string(f.dir.join(out)).expect("read");
        std::fs::write(f.dir.join(format!("{out}.pem")), format!("{key}{crt}")).expect("write");
    };
    // OpenSSL 3's default (PBES2: PBKDF2-HMAC-SHA256, AES-256-CBC), scrypt, and 3DES.
    encrypt("aes.key", &[]);
    encrypt("scrypt.key", &["-scrypt"]);
    encrypt("3des.key", &["-v2", "des3"]);
    for name in ["aes.key.pem", "scrypt.key.pem", "3des.key.pem"] {
        check_identity(&f.spec(name, "k3y pass"));
    }
    settings(f.spec("aes.key.pem", "k3y pass"), f.spec("ca.pem", ""))
        .server_config()
        .expect("rustls config");
    for (password, want) in [("wrong", "wrong password"), ("", "no password")] {
        let err = f
            .spec("aes.key.pem", password)
            .load_identity()
            .unwrap_err()
            .to_string();
        assert!(err.contains("aes.key.pem") && err.contains(want), "{err}");
    }
    // OpenSSL's legacy per-file encryption gets the command that converts it.
    run(Command::new("openssl").current_dir(&f.dir).args([
        "ec",
        "-in",
        "server.key",
        "-aes256",
        "-passout",
        "pass:k3y pass",
        "-out",
        "legacy.key",
    ]));
    let key = std::fs::read_to_string(f.dir.join("legacy.key")).expect("read");
    std::fs::write(f.dir.join("legacy.pem"), format!("{key}{crt}")).expect("write");
    let err = f
        .spec("legacy.pem", "k3y pass")
        .load_identity()
        .unwrap_err()
        .to_string();
    assert!(err.contains("openssl pkcs8 -topk8"), "{err}");
}
