//! One client behaviour suite, run against zk-server and against Apache ZooKeeper.

use std::time::Duration;

use tokio::time::timeout;
use zk_core::client::{
    Client, ClientOptions, Error, Op, OpResult, ReadOp, ReadResult, SessionState,
};
use zk_core::proto::{perms, Acl, AddWatchMode, CreateMode, ErrorCode, EventType};

const DEADLINE: Duration = Duration::from_secs(20);

/// Connects, retrying while the server starts (a JVM takes seconds).
pub async fn connect_when_up(connect_string: &str) -> Client {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let options = ClientOptions::default().connect_timeout(Duration::from_secs(1));
        match timeout(
            Duration::from_secs(5),
            Client::connect(connect_string, options),
        )
        .await
        {
            Ok(Ok(client)) if client.exists("/").await.is_ok() => return client,
            _ if tokio::time::Instant::now() > deadline => {
                panic!("server at {connect_string} never came up")
            }
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// Every operation, watches and multi, under a fresh `base` path.
pub async fn operations(connect_string: &str, base: &str) {
    let acl = Acl::open_unsafe();
    let client = connect_when_up(connect_string).await;
    assert_eq!(client.state(), SessionState::Connected);
    let p = |s: &str| format!("{base}{s}");
    let (path, stat) = client
        .create(base, b"v", &acl, CreateMode::Persistent)
        .await
        .unwrap();
    assert_eq!(
        (path.as_str(), stat.data_length, stat.version),
        (base, 1, 0)
    );
    let (seq, _) = client
        .create(&p("/s-"), b"", &acl, CreateMode::EphemeralSequential)
        .await
        .unwrap();
    assert_eq!(seq, p("/s-0000000000"));
    assert_eq!(
        client.create(base, b"", &acl, CreateMode::Persistent).await,
        Err(Error::Server(ErrorCode::NodeExists))
    );
    assert_eq!(
        client
            .create(&p("/x/y"), b"", &acl, CreateMode::Persistent)
            .await,
        Err(Error::Server(ErrorCode::NoNode))
    );
    assert_eq!(
        client
            .create(&p("/s-0000000000/c"), b"", &acl, CreateMode::Persistent)
            .await,
        Err(Error::Server(ErrorCode::NoChildrenForEphemerals))
    );
    let (data, stat, watch) = client.get_data_watch(base).await.unwrap();
    assert_eq!((data.as_slice(), stat.num_children), (&b"v"[..], 1));
    assert_eq!(
        client.set_data(base, b"x", 7).await,
        Err(Error::Server(ErrorCode::BadVersion))
    );
    assert_eq!(client.set_data(base, b"w", 0).await.unwrap().version, 1);
    let event = timeout(DEADLINE, watch.changed()).await.unwrap().unwrap();
    assert_eq!(
        (event.event_type, event.path.as_str()),
        (EventType::NodeDataChanged, base)
    );

    let (none, exist_watch) = client.exists_watch(&p("/later")).await.unwrap();
    assert!(none.is_none());
    let mut recursive = client
        .add_watch(base, AddWatchMode::PersistentRecursive)
        .await
        .unwrap();
    client
        .create(&p("/later"), b"", &acl, CreateMode::Persistent)
        .await
        .unwrap();
    let event = timeout(DEADLINE, exist_watch.changed())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(event.event_type, EventType::NodeCreated);
    let event = timeout(DEADLINE, recursive.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        (event.event_type, event.path.clone()),
        (EventType::NodeCreated, p("/later"))
    );
    drop(recursive);

    let results = client
        .multi(vec![
            Op::create(&p("/m"), b"", &acl, CreateMode::Persistent),
            Op::check(&p("/m"), 0),
        ])
        .await
        .unwrap();
    assert!(matches!(&results[0], OpResult::Create { path, .. } if *path == p("/m")));
    let failed = client
        .multi(vec![
            Op::delete(&p("/m"), 0),
            Op::delete(&p("/missing"), -1),
        ])
        .await;
    assert_eq!(
        failed,
        Err(Error::Multi {
            index: 1,
            path: p("/missing"),
            code: ErrorCode::NoNode
        })
    );
    assert!(
        client.exists(&p("/m")).await.unwrap().is_some(),
        "a failed multi changes nothing"
    );
    let reads = client
        .multi_read(vec![
            ReadOp::GetData(p("/m")),
            ReadOp::GetChildren(p("/nope")),
        ])
        .await
        .unwrap();
    assert!(matches!(reads[0], Ok(ReadResult::Data { .. })));
    assert_eq!(reads[1], Err(Error::Server(ErrorCode::NoNode)));

    let mut children = client.get_children(base).await.unwrap();
    children.sort();
    assert_eq!(children, ["later", "m", "s-0000000000"]);
    assert_eq!(client.get_all_children_number(base).await.unwrap(), 3);
    assert_eq!(
        client.get_ephemerals(base).await.unwrap(),
        vec![p("/s-0000000000")]
    );

    client.add_auth("digest", b"u:p").await.unwrap();
    client
        .create(
            &p("/private"),
            b"s",
            &Acl::creator_all(),
            CreateMode::Persistent,
        )
        .await
        .unwrap();
    let (private_acl, _) = client.get_acl(&p("/private")).await.unwrap();
    assert_eq!(private_acl[0].id.scheme, "digest");
    assert!(client
        .who_am_i()
        .await
        .unwrap()
        .iter()
        .any(|i| i.auth_scheme == "digest" && i.user == "u"));
    let stranger = connect_when_up(connect_string).await;
    assert_eq!(
        stranger.get_data(&p("/private")).await,
        Err(Error::Server(ErrorCode::NoAuth))
    );
    let read_only = vec![Acl::new(perms::READ, "world", "anyone")];
    client.set_acl(&p("/later"), &read_only, 0).await.unwrap();
    assert_eq!(
        stranger.set_data(&p("/later"), b"", -1).await,
        Err(Error::Server(ErrorCode::NoAuth))
    );
    client.sync(base).await.unwrap();

    client.close().await;
    assert_eq!(client.state(), SessionState::Closed);
    assert_eq!(client.exists(base).await, Err(Error::Closed));
    timeout(DEADLINE, async {
        while stranger
            .exists(&p("/s-0000000000"))
            .await
            .unwrap()
            .is_some()
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("closing the session deletes its ephemerals");
    stranger.close().await;
}

/// A chroot is added to every request and stripped from every reply and event.
pub async fn chroot(connect_string: &str, base: &str) {
    let acl = Acl::open_unsafe();
    let root = connect_when_up(connect_string).await;
    root.create(base, b"", &acl, CreateMode::Persistent)
        .await
        .unwrap();
    let app = connect_when_up(&format!("{connect_string}{base}")).await;
    let (path, _) = app
        .create("/x", b"", &acl, CreateMode::Persistent)
        .await
        .unwrap();
    assert_eq!(path, "/x");
    assert!(root.exists(&format!("{base}/x")).await.unwrap().is_some());
    let (_, _, watch) = app.get_children_watch("/").await.unwrap();
    root.create(&format!("{base}/y"), b"", &acl, CreateMode::Persistent)
        .await
        .unwrap();
    let event = timeout(DEADLINE, watch.changed()).await.unwrap().unwrap();
    assert_eq!(
        (event.event_type, event.path.as_str()),
        (EventType::NodeChildrenChanged, "/")
    );
    app.close().await;
    root.close().await;
}
