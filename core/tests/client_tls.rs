//! The client over TLS against a `secureClientPort` with PEM key and trust stores and
//! `ssl.clientAuth=want`: a real Apache ZooKeeper 3.8 (Netty) and zk-server, one zoo.cfg.

mod common;

use std::time::Duration;

use common::apache::{free_port, ApacheServer};
use common::certs::Certs;
use common::runtime;
use zk_core::client::{Client, ClientOptions, Error, StoreType, TlsOptions};
use zk_core::proto::{Acl, CreateMode};
use zk_core::server::config::ServerConfig;
use zk_core::server::{Server, ServerOptions};

fn options(tls: TlsOptions) -> ClientOptions {
    ClientOptions::default()
        .connect_timeout(Duration::from_secs(2))
        .session_timeout(Duration::from_secs(10))
        .tls(tls)
}

/// Connects over TLS, retrying while the JVM starts.
async fn connect_when_up(addr: &str, tls: TlsOptions) -> Client {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        match Client::connect(addr, options(tls.clone())).await {
            Ok(client) => return client,
            Err(e) if tokio::time::Instant::now() > deadline => {
                panic!("no TLS session with {addr}: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// A connection the client must refuse: never established, whatever the wait.
async fn refused(addr: &str, tls: TlsOptions) -> bool {
    let options = options(tls).session_timeout(Duration::from_secs(4));
    matches!(
        Client::connect(addr, options).await,
        Err(Error::Timeout | Error::ConnectionLoss | Error::SessionExpired)
    )
}

/// The TLS settings both servers take from zoo.cfg: PEM stores, a client certificate wanted
/// but not required.
fn tls_config(secure_port: u16, certs: &Certs) -> String {
    format!(
        "secureClientPort={secure_port}\nsecureClientPortAddress=127.0.0.1\n\
         serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory\n\
         ssl.keyStore.location={}\nssl.keyStore.type=PEM\n\
         ssl.trustStore.location={}\nssl.trustStore.type=PEM\nssl.clientAuth=want\n",
        certs.path("server-keystore.pem").display(),
        certs.path("ca.crt").display(),
    )
}

#[test]
fn tls_against_apache() {
    let certs = Certs::make();
    let secure_port = free_port();
    let Some(_server) = ApacheServer::start(&tls_config(secure_port, &certs)) else {
        return;
    };
    runtime().block_on(scenario(secure_port, &certs));
}

#[test]
fn tls_against_zk_server() {
    let certs = Certs::make();
    let secure_port = free_port();
    let data = tempfile::tempdir().unwrap();
    let text = format!(
        "tickTime=2000\ndataDir={}\nclientPort={}\nclientPortAddress=127.0.0.1\n{}",
        data.path().display(),
        free_port(),
        tls_config(secure_port, &certs)
    );
    let config = ServerConfig::parse_str(&text, "zoo.cfg").unwrap();
    let options = ServerOptions::from_config(&config).unwrap();
    let rt = runtime();
    let server = rt.block_on(Server::start(options)).unwrap();
    rt.block_on(scenario(secure_port, &certs));
    drop(server);
}

async fn scenario(secure_port: u16, certs: &Certs) {
    let secure = format!("127.0.0.1:{secure_port}");
    let trusting = TlsOptions::new(certs.path("ca.crt"));
    // With a client certificate: every call works, and the server knows us by it.
    let with_cert = trusting
        .clone()
        .client_cert(certs.path("client.crt"), certs.path("client.key"));
    let client = connect_when_up(&secure, with_cert).await;
    let open = Acl::open_unsafe();
    client
        .create("/tls", b"sealed", &open, CreateMode::Persistent)
        .await
        .unwrap();
    client.set_data("/tls", b"resealed", 0).await.unwrap();
    let (data, stat) = client.get_data("/tls").await.unwrap();
    assert_eq!((data.as_slice(), stat.version), (&b"resealed"[..], 1));
    // Big enough to span TLS records both ways.
    let big = vec![7u8; 200_000];
    client.set_data("/tls", &big, 1).await.unwrap();
    assert_eq!(client.get_data("/tls").await.unwrap().0, big);
    let pipelined: Vec<_> = (0..200)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.exists("/tls").await })
        })
        .collect();
    for call in pipelined {
        assert!(matches!(call.await.unwrap(), Ok(Some(_))));
    }
    let who = client.who_am_i().await.unwrap();
    assert!(
        who.iter()
            .any(|c| c.auth_scheme == "x509" && c.user.contains("CN=client")),
        "{who:?}"
    );
    client.close().await;

    // Without one (the server only wants it): connected, and not known as x509.
    let client = connect_when_up(&secure, trusting.clone()).await;
    let who = client.who_am_i().await.unwrap();
    assert!(who.iter().all(|c| c.auth_scheme != "x509"), "{who:?}");
    client.close().await;

    // The client's key and the authorities in the other forms: an encrypted PEM key, PKCS12
    // and (with keytool) JKS stores. The server knows the client by the same certificate.
    let jks = certs.client_stores();
    let mut forms =
        vec![
            (
                "encrypted PEM key",
                trusting
                    .clone()
                    .client_cert(certs.path("client.crt"), certs.path("client-encrypted.key"))
                    .key_password("key pass"),
            ),
            (
                "PKCS12 stores",
                TlsOptions::with_trust_store(certs.path("trust.p12"), None, "store pass")
                    .key_store(certs.path("client.p12"), None, "store pass"),
            ),
        ];
    if jks {
        forms.push((
            "JKS stores",
            TlsOptions::with_trust_store(
                certs.path("trust.jks"),
                Some(StoreType::Jks),
                "store pass",
            )
            .key_store(certs.path("client.jks"), Some(StoreType::Jks), "store pass"),
        ));
    }
    for (form, tls) in forms {
        let client = connect_when_up(&secure, tls).await;
        let who = client.who_am_i().await.unwrap();
        assert!(
            who.iter()
                .any(|c| c.auth_scheme == "x509" && c.user.contains("CN=client")),
            "{form}: {who:?}"
        );
        client.close().await;
    }

    // A server whose certificate another authority signed is refused.
    assert!(refused(&secure, TlsOptions::new(certs.path("other-ca.crt"))).await);
    // The certificate names 127.0.0.1, not localhost: refused unless the check is off.
    let by_name = format!("localhost:{secure_port}");
    assert!(refused(&by_name, trusting.clone()).await);
    let client = connect_when_up(&by_name, trusting.clone().verify_hostname(false)).await;
    assert!(client.exists("/tls").await.unwrap().is_some());
    client.close().await;
}

#[test]
fn unusable_tls_files_are_bad_arguments_that_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing-ca.pem");
    let error = Client::start("127.0.0.1:1", options(TlsOptions::new(&missing)))
        .err()
        .unwrap();
    assert!(
        matches!(&error, Error::BadArguments(m) if m.contains("missing-ca.pem")),
        "{error:?}"
    );
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "no certificates here\n").unwrap();
    let error = Client::start("127.0.0.1:1", options(TlsOptions::new(&empty)))
        .err()
        .unwrap();
    assert!(
        matches!(&error, Error::BadArguments(m) if m.contains("empty.pem")),
        "{error:?}"
    );
}

#[test]
fn wrong_store_passwords_are_bad_arguments_that_name_the_file() {
    let certs = Certs::make();
    certs.client_stores();
    let ca = || TlsOptions::new(certs.path("ca.crt"));
    let encrypted =
        || ca().client_cert(certs.path("client.crt"), certs.path("client-encrypted.key"));
    let cases = [
        (
            TlsOptions::with_trust_store(certs.path("trust.p12"), None, "wrong"),
            "trust.p12",
        ),
        (
            ca().key_store(certs.path("client.p12"), None, "wrong"),
            "client.p12",
        ),
        (encrypted().key_password("wrong"), "client-encrypted.key"),
        (encrypted(), "client-encrypted.key"),
    ];
    for (tls, file) in cases {
        let error = tls.validate().unwrap_err();
        assert!(
            matches!(&error, Error::BadArguments(m) if m.contains(file) && m.contains("password")),
            "{error:?}"
        );
    }
}
