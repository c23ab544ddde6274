//! The async client against an in-process zk-server.

mod common;

use common::TestServer;
use zk_core::client::ClientOptions;
use zk_core::proto::{Acl, CreateMode};

fn open() -> Vec<Acl> {
    Acl::open_unsafe()
}

#[test]
fn operations_watches_and_multi() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let addr = server.addr.to_string();
    server
        .runtime
        .block_on(common::suite::operations(&addr, "/ops"));
    server.stop();
}

#[test]
fn chroot_is_added_and_stripped() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let addr = server.addr.to_string();
    server
        .runtime
        .block_on(common::suite::chroot(&addr, "/app"));
    server.stop();
}

#[test]
fn blocking_facade_works_without_a_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let client = zk_core::client::blocking::Client::connect(
        &server.addr.to_string(),
        ClientOptions::default(),
    )
    .unwrap();
    client
        .create("/b", b"1", &open(), CreateMode::Persistent)
        .unwrap();
    assert_eq!(client.get_data("/b").unwrap().0, b"1");
    client.close();
    server.stop();
}

#[test]
fn a_refused_credential_ends_the_client_with_auth_failed() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let addr = server.addr.to_string();
    server.runtime.block_on(async move {
        let client = zk_core::client::Client::connect(&addr, ClientOptions::default())
            .await
            .unwrap();
        let result = client.add_auth("no-such-scheme", b"x").await;
        assert_eq!(result, Err(zk_core::client::Error::AuthFailed));
        assert_eq!(client.state(), zk_core::client::SessionState::AuthFailed);
        assert_eq!(
            client.exists("/").await,
            Err(zk_core::client::Error::AuthFailed)
        );
    });
    server.stop();
}
