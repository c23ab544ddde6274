//! The client's SASL DIGEST-MD5 against zk-server and a real Apache ZooKeeper 3.8, each with
//! the same JAAS users: a `sasl:bob` ACL, a wrong password, enforcement, and
//! re-authentication on every reconnect.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::apache::ApacheServer;
use common::proxy::Proxy;
use common::{runtime, TestServer};
use tokio::time::timeout;
use zk_core::client::{Client, ClientOptions, Error, SaslOptions, SessionState};
use zk_core::proto::{perms, Acl, CreateMode, ErrorCode};
use zk_core::server::sasl::{AuthEnforcement, SaslOptions as ServerSasl};

const DEADLINE: Duration = Duration::from_secs(30);
const JAAS: &str = "Server {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n  \
                    user_bob=\"bobsecret\"\n  user_alice=\"alicesecret\";\n};\n";
const SASL_PROVIDER: &str =
    "authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n";
const ENFORCE: &str = "enforce.auth.enabled=true\nenforce.auth.schemes=sasl\n";

fn as_user(user: &str, password: &str) -> ClientOptions {
    ClientOptions::default()
        .session_timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(2))
        .sasl(SaslOptions::digest_md5(user, password))
}

/// Connects as bob, retrying while the server starts (a JVM takes seconds).
async fn bob_when_up(addr: &str) -> Client {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        match timeout(
            Duration::from_secs(10),
            Client::connect(addr, as_user("bob", "bobsecret")),
        )
        .await
        {
            Ok(Ok(client)) if client.exists("/").await.is_ok() => return client,
            _ if tokio::time::Instant::now() > deadline => panic!("{addr} never served bob"),
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

fn zk_server(dir: &std::path::Path, enforce: bool) -> TestServer {
    TestServer::start_with(dir, |options| {
        options.sasl = Some(ServerSasl {
            section: "Server".into(),
            users: [("bob", "bobsecret"), ("alice", "alicesecret")]
                .into_iter()
                .map(|(user, password)| (user.into(), password.into()))
                .collect(),
            ..ServerSasl::default()
        });
        if enforce {
            options.enforce_auth = AuthEnforcement {
                schemes: vec!["sasl".into()],
            };
        }
    })
}

fn apache(enforce: bool) -> Option<ApacheServer> {
    let config = format!("{SASL_PROVIDER}{}", if enforce { ENFORCE } else { "" });
    ApacheServer::start_with(
        &config,
        &[("jaas.conf", JAAS)],
        &["-Djava.security.auth.login.config={dir}/jaas.conf"],
    )
}

/// A `sasl:bob` node is bob's alone; wrong credentials end the client in `AuthFailed`.
async fn acl_and_wrong_password(addr: SocketAddr) {
    let addr = addr.to_string();
    let bob = bob_when_up(&addr).await;
    assert_eq!(bob.state(), SessionState::SaslAuthenticated);
    let who = bob.who_am_i().await.unwrap();
    assert!(
        who.iter()
            .any(|c| c.auth_scheme == "sasl" && c.user == "bob"),
        "{who:?}"
    );
    let acl = [Acl::new(perms::ALL, "sasl", "bob")];
    bob.create("/sasl-bob", b"secret", &acl, CreateMode::Persistent)
        .await
        .unwrap();
    assert_eq!(bob.get_data("/sasl-bob").await.unwrap().0, b"secret");

    let anonymous = Client::connect(&addr, ClientOptions::default())
        .await
        .unwrap();
    assert_eq!(anonymous.state(), SessionState::Connected);
    assert_eq!(
        anonymous.get_data("/sasl-bob").await.unwrap_err(),
        Error::Server(ErrorCode::NoAuth)
    );
    let alice = Client::connect(&addr, as_user("alice", "alicesecret"))
        .await
        .unwrap();
    assert_eq!(
        alice.get_data("/sasl-bob").await.unwrap_err(),
        Error::Server(ErrorCode::NoAuth)
    );

    for (user, password) in [("bob", "wrong"), ("nobody", "x")] {
        let refused = Client::connect(&addr, as_user(user, password)).await;
        assert_eq!(refused.err(), Some(Error::AuthFailed), "{user}");
        // Started in the background, the client ends in AuthFailed and so do its calls.
        let client = Client::start(&addr, as_user(user, password)).unwrap();
        assert_eq!(client.exists("/").await.unwrap_err(), Error::AuthFailed);
        assert_eq!(client.state(), SessionState::AuthFailed);
    }
    // The server goes on serving bob.
    assert!(bob.exists("/sasl-bob").await.unwrap().is_some());
    for client in [bob, anonymous, alice] {
        client.close().await;
    }
}

/// Every new connection authenticates again before the session's traffic: reads of a
/// `sasl:bob` node pass after the connection is cut.
async fn reconnect_authenticates_again(addr: SocketAddr) {
    let bob = bob_when_up(&addr.to_string()).await;
    let acl = [Acl::new(perms::ALL, "sasl", "bob")];
    bob.create("/sasl-again", b"again", &acl, CreateMode::Persistent)
        .await
        .unwrap();
    let proxy = Proxy::start(addr).await;
    let client = Client::connect(&proxy.addr.to_string(), as_user("bob", "bobsecret"))
        .await
        .unwrap();
    let session = client.session_id();
    for round in 0..2 {
        let mut states = client.state_changes();
        assert_eq!(states.next().await, Some(SessionState::SaslAuthenticated));
        proxy.cut();
        let mut seen = Vec::new();
        timeout(DEADLINE, async {
            while let Some(state) = states.next().await {
                seen.push(state);
                if state == SessionState::SaslAuthenticated {
                    break;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("round {round}: never authenticated again: {seen:?}"));
        assert_eq!(
            seen,
            vec![
                SessionState::Suspended,
                SessionState::Connected,
                SessionState::SaslAuthenticated
            ],
            "round {round}"
        );
        assert_eq!(client.session_id(), session, "the same session");
        assert_eq!(client.get_data("/sasl-again").await.unwrap().0, b"again");
    }
    client.close().await;
    bob.close().await;
}

/// With `enforce.auth.schemes=sasl`, an authenticated client works and others are refused.
async fn enforced(addr: SocketAddr) {
    let addr = addr.to_string();
    let bob = bob_when_up(&addr).await;
    bob.create(
        "/enforced",
        b"ok",
        &Acl::open_unsafe(),
        CreateMode::Persistent,
    )
    .await
    .unwrap();
    assert_eq!(bob.get_data("/enforced").await.unwrap().0, b"ok");
    let anonymous = Client::connect(
        &addr,
        ClientOptions::default().session_timeout(Duration::from_secs(10)),
    )
    .await
    .unwrap();
    let refused = anonymous.get_data("/enforced").await.unwrap_err();
    assert!(
        matches!(
            refused,
            Error::Server(ErrorCode::SessionClosedRequireSaslAuth) | Error::ConnectionLoss
        ),
        "{refused:?}"
    );
    anonymous.close().await;
    bob.close().await;
}

#[test]
fn sasl_against_zk_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = zk_server(dir.path(), false);
    let rt = runtime();
    rt.block_on(acl_and_wrong_password(server.addr));
    rt.block_on(reconnect_authenticates_again(server.addr));
    let enforcing_dir = tempfile::tempdir().unwrap();
    let enforcing = zk_server(enforcing_dir.path(), true);
    rt.block_on(enforced(enforcing.addr));
}

#[test]
fn sasl_against_apache() {
    let Some(server) = apache(false) else {
        return;
    };
    let rt = runtime();
    rt.block_on(acl_and_wrong_password(server.addr));
    rt.block_on(reconnect_authenticates_again(server.addr));
    drop(server);
    let Some(enforcing) = apache(true) else {
        return;
    };
    rt.block_on(enforced(enforcing.addr));
}
