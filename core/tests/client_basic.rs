//! The async client against an in-process zk-server.

mod common;

use std::time::Duration;

use common::TestServer;
use zk_core::client::{Client, ClientOptions, Error, Op, OpResult, SessionState};
use zk_core::proto::{Acl, AddWatchMode, CreateMode, ErrorCode, EventType};

fn open() -> Vec<Acl> {
    Acl::open_unsafe()
}

#[test]
fn operations_watches_and_multi() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let addr = server.addr;
    server.runtime.block_on(async move {
        let client = Client::connect(&addr.to_string(), ClientOptions::default())
            .await
            .unwrap();
        assert_eq!(client.state(), SessionState::Connected);
        let (path, stat) = client
            .create("/a", b"v", &open(), CreateMode::Persistent)
            .await
            .unwrap();
        assert_eq!((path.as_str(), stat.data_length), ("/a", 1));
        let (seq, _) = client
            .create("/a/s-", b"", &open(), CreateMode::EphemeralSequential)
            .await
            .unwrap();
        assert_eq!(seq, "/a/s-0000000000");
        assert_eq!(
            client
                .create("/a", b"", &open(), CreateMode::Persistent)
                .await,
            Err(Error::Server(ErrorCode::NodeExists))
        );
        assert!(matches!(
            client
                .create("bad", b"", &open(), CreateMode::Persistent)
                .await,
            Err(Error::BadArguments(_))
        ));
        let (data, stat, watch) = client.get_data_watch("/a").await.unwrap();
        assert_eq!((data.as_slice(), stat.version), (&b"v"[..], 0));
        client.set_data("/a", b"w", 0).await.unwrap();
        let event = tokio::time::timeout(Duration::from_secs(10), watch.changed())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (event.event_type, event.path.as_str()),
            (EventType::NodeDataChanged, "/a")
        );
        let (none, exist_watch) = client.exists_watch("/later").await.unwrap();
        assert!(none.is_none() && exist_watch.is_registered());
        let mut recursive = client
            .add_watch("/a", AddWatchMode::PersistentRecursive)
            .await
            .unwrap();
        client
            .create("/later", b"", &open(), CreateMode::Persistent)
            .await
            .unwrap();
        assert_eq!(
            exist_watch.changed().await.unwrap().event_type,
            EventType::NodeCreated
        );
        client
            .create("/a/child", b"", &open(), CreateMode::Persistent)
            .await
            .unwrap();
        let event = recursive.next().await.unwrap().unwrap();
        assert_eq!(
            (event.event_type, event.path.as_str()),
            (EventType::NodeCreated, "/a/child")
        );
        let results = client
            .multi(vec![
                Op::create("/m", b"", &open(), CreateMode::Persistent),
                Op::check("/m", 0),
            ])
            .await
            .unwrap();
        assert!(matches!(&results[0], OpResult::Create { path, .. } if path == "/m"));
        let failed = client
            .multi(vec![Op::delete("/m", 0), Op::delete("/missing", -1)])
            .await;
        assert_eq!(
            failed,
            Err(Error::Multi {
                index: 1,
                path: "/missing".into(),
                code: ErrorCode::NoNode
            })
        );
        assert!(
            client.exists("/m").await.unwrap().is_some(),
            "a failed multi changes nothing"
        );
        let mut children = client.get_children("/a").await.unwrap();
        children.sort();
        assert_eq!(children, ["child", "s-0000000000"]);
        client.close().await;
        assert_eq!(client.state(), SessionState::Closed);
        assert_eq!(client.exists("/a").await, Err(Error::Closed));
    });
    server.stop();
}

#[test]
fn chroot_is_added_and_stripped() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let addr = server.addr;
    server.runtime.block_on(async move {
        let root = Client::connect(&addr.to_string(), ClientOptions::default())
            .await
            .unwrap();
        root.create("/app", b"", &open(), CreateMode::Persistent)
            .await
            .unwrap();
        let app = Client::connect(&format!("{addr}/app"), ClientOptions::default())
            .await
            .unwrap();
        let (path, _) = app
            .create("/x", b"", &open(), CreateMode::Persistent)
            .await
            .unwrap();
        assert_eq!(path, "/x");
        assert!(root.exists("/app/x").await.unwrap().is_some());
        let (_, _, watch) = app.get_children_watch("/").await.unwrap();
        root.create("/app/y", b"", &open(), CreateMode::Persistent)
            .await
            .unwrap();
        let event = watch.changed().await.unwrap();
        assert_eq!(
            (event.event_type, event.path.as_str()),
            (EventType::NodeChildrenChanged, "/")
        );
    });
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
