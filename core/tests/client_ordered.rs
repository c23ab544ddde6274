//! Watch and state callbacks (`zk_core::client::ordered`): every event reaches its
//! callback on the connection task, in the order the server sent the notifications.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::TestServer;
use zk_core::client::{
    Client, ClientOptions, ReadReply, SessionState, WatchKind, WatchedEvent, WatchedRead,
};
use zk_core::proto::{Acl, AddWatchMode, CreateMode, EventType, KeeperState};

type Log = Arc<Mutex<Vec<String>>>;

fn recorder(log: &Log, name: &'static str) -> zk_core::client::WatchCallback {
    let log = log.clone();
    Box::new(move |event: WatchedEvent, seq: u64| {
        log.lock().unwrap().push(format!(
            "{name} {:?} {} #{seq}",
            event.event_type, event.path
        ));
    })
}

async fn wait_for(log: &Log, count: usize) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let seen = log.lock().unwrap().clone();
        if seen.len() >= count || tokio::time::Instant::now() > deadline {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[test]
fn callbacks_see_notifications_in_order_and_share_their_number() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let addr = server.addr.to_string();
    server.runtime.block_on(async move {
        let log: Log = Arc::default();
        let states = log.clone();
        let client = Client::start_with_state_callback(&addr, ClientOptions::default(), move |e| {
            states.lock().unwrap().push(format!("state {:?}", e.state));
        })
        .unwrap();
        client
            .wait_connected(Duration::from_secs(30))
            .await
            .unwrap();
        let open = Acl::open_unsafe();
        for path in ["/a", "/b"] {
            client
                .create(path, b"", &open, CreateMode::Persistent)
                .await
                .unwrap();
        }
        client
            .create("/a/kid", b"", &open, CreateMode::Persistent)
            .await
            .unwrap();

        let (reply, data_a) = client
            .read_with_watch(WatchedRead::GetData("/a"), recorder(&log, "data-a"))
            .await;
        assert!(matches!(reply, Ok(ReadReply::Data(Some(_), _))));
        assert_eq!(data_a.unwrap().kind(), WatchKind::Data);
        let (_, child_a) = client
            .read_with_watch(
                WatchedRead::GetChildren("/a/kid"),
                recorder(&log, "child-kid"),
            )
            .await;
        assert_eq!(child_a.unwrap().kind(), WatchKind::Child);
        let (_, exists_b) = client
            .read_with_watch(WatchedRead::Exists("/b"), recorder(&log, "exists-b"))
            .await;
        assert_eq!(exists_b.unwrap().kind(), WatchKind::Data);
        let (reply, missing) = client
            .read_with_watch(WatchedRead::Exists("/c"), recorder(&log, "exists-c"))
            .await;
        assert_eq!(reply, Ok(ReadReply::Exists(None)));
        assert_eq!(missing.unwrap().kind(), WatchKind::Exist);
        let (reply, none) = client
            .read_with_watch(WatchedRead::GetData("/none"), recorder(&log, "never"))
            .await;
        assert!(reply.is_err());
        assert!(none.is_none(), "a failed getData sets no watch");
        client
            .add_watch_with(
                "/",
                AddWatchMode::PersistentRecursive,
                recorder(&log, "tree"),
            )
            .await
            .unwrap();

        // One multi: the server sends the notifications in op order.
        client
            .transaction()
            .set_data("/b", b"1", -1)
            .create("/c", b"", &open, CreateMode::Persistent)
            .set_data("/a", b"1", -1)
            .commit()
            .await
            .unwrap();
        client.delete("/a/kid", -1).await.unwrap();
        let seen = wait_for(&log, 9).await;
        let events: Vec<&str> = seen
            .iter()
            .map(|s| s.rsplit_once(" #").map_or(s.as_str(), |(e, _)| e))
            .collect();
        assert_eq!(
            events,
            [
                "state Connected",
                "exists-b NodeDataChanged /b",
                "tree NodeDataChanged /b",
                "exists-c NodeCreated /c",
                "tree NodeCreated /c",
                "data-a NodeDataChanged /a",
                "tree NodeDataChanged /a",
                "child-kid NodeDeleted /a/kid",
                "tree NodeDeleted /a/kid",
            ][..],
            "{seen:?}"
        );
        // Callbacks fired by one notification carry its number; the next is larger.
        let number = |i: usize| seen[i].rsplit_once('#').unwrap().1.parse::<u64>().unwrap();
        assert_eq!(number(1), number(2));
        assert_eq!(number(3), number(4));
        assert!(number(3) > number(1) && number(5) > number(3) && number(7) > number(5));

        client.close().await;
        // The state change comes first, then the session end reaches the open watch.
        let seen = wait_for(&log, 11).await;
        assert_eq!(seen[9], "state Closed");
        assert!(seen[10].starts_with("tree None "), "{seen:?}");
        assert_eq!(client.state(), SessionState::Closed);
    });
    server.stop();
}

#[test]
fn a_removed_watch_is_never_called_and_a_pending_one_gets_the_session_end() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let addr = server.addr.to_string();
    server.runtime.block_on(async move {
        let client = Client::connect(&addr, ClientOptions::default())
            .await
            .unwrap();
        let open = Acl::open_unsafe();
        client
            .create("/r", b"", &open, CreateMode::Persistent)
            .await
            .unwrap();
        let log: Log = Arc::default();
        let (_, removed) = client
            .read_with_watch(WatchedRead::GetData("/r"), recorder(&log, "removed"))
            .await;
        let persistent = client
            .add_watch_with("/r", AddWatchMode::Persistent, recorder(&log, "persistent"))
            .await
            .unwrap();
        client.remove_watch(&removed.unwrap());
        client.remove_watch(&persistent);
        let (_, kept) = client
            .read_with_watch(WatchedRead::Exists("/r"), recorder(&log, "kept"))
            .await;
        assert!(kept.is_some());
        client.set_data("/r", b"1", -1).await.unwrap();
        assert_eq!(wait_for(&log, 1).await.len(), 1);
        let (_, pending) = client
            .read_with_watch(WatchedRead::GetData("/r"), recorder(&log, "pending"))
            .await;
        assert!(pending.is_some());
        client.close().await;
        let seen = wait_for(&log, 2).await;
        let events: Vec<&str> = seen
            .iter()
            .map(|s| s.rsplit_once(" #").unwrap().0)
            .collect();
        assert_eq!(
            events,
            ["kept NodeDataChanged /r", "pending None "],
            "{seen:?}"
        );
        assert_eq!(KeeperState::Closed.as_i32(), 7);
        assert_eq!(EventType::None.as_i32(), -1);
    });
    server.stop();
}

#[test]
fn ordered_calls_keep_wire_order_with_watch_events() {
    use zk_core::client::{Call, Reply};
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let addr = server.addr.to_string();
    server.runtime.block_on(async move {
        let log: Log = Arc::default();
        let client = Client::connect(&addr, ClientOptions::default())
            .await
            .unwrap();
        let other = Client::connect(&addr, ClientOptions::default())
            .await
            .unwrap();
        let open = Acl::open_unsafe();
        let done = |name: &'static str| -> zk_core::client::ReplyCallback {
            let log = log.clone();
            Box::new(move |reply, registration| {
                let what = match reply {
                    Ok(Reply::Created(path, _)) => format!("created {path}"),
                    Ok(Reply::Data(data, stat)) => {
                        format!(
                            "data {:?} v{}",
                            data.map(|d| String::from_utf8(d).unwrap()),
                            stat.version
                        )
                    }
                    Ok(Reply::Stat(stat)) => format!("stat v{}", stat.version),
                    Ok(other) => format!("{other:?}"),
                    Err(e) => format!("error {e}"),
                };
                let watched =
                    registration.map_or(String::new(), |r| format!(" watch {:?}", r.kind()));
                log.lock().unwrap().push(format!("{name}: {what}{watched}"));
            })
        };
        let create = Call::Create {
            path: "/o".into(),
            data: Some(b"0".to_vec()),
            acl: open.clone(),
            mode: CreateMode::Persistent,
            ttl: None,
        };
        client.call_ordered(create, None, done("create"));
        client.call_ordered(
            Call::GetData("/o".into()),
            Some(recorder(&log, "watch")),
            done("get"),
        );
        // Our own write: the server sends the notification before the reply.
        client.call_ordered(
            Call::SetData {
                path: "/o".into(),
                data: b"1".to_vec(),
                version: 0,
            },
            None,
            done("set"),
        );
        client.call_ordered(
            Call::Exists("/missing".into()),
            Some(recorder(&log, "exists")),
            done("exists"),
        );
        client.call_ordered(Call::Multi(vec![]), None, done("empty multi"));
        client.call_ordered(
            Call::Delete {
                path: "bad".into(),
                version: -1,
            },
            None,
            done("bad"),
        );
        assert_eq!(wait_for(&log, 7).await.len(), 7);
        // Another client's write: our reply came first, then the notification.
        client.call_ordered(
            Call::GetData("/o".into()),
            Some(recorder(&log, "watch2")),
            done("get2"),
        );
        client.sync("/").await.unwrap();
        other.set_data("/o", b"2", -1).await.unwrap();
        let seen: Vec<String> = wait_for(&log, 9)
            .await
            .into_iter()
            .map(|s| s.split(" #").next().unwrap().to_owned())
            .map(|s| {
                if s.starts_with("bad: error bad arguments") {
                    "bad: refused".to_owned()
                } else {
                    s
                }
            })
            .collect();
        assert_eq!(
            seen,
            [
                "empty multi: error bad arguments: a multi needs at least one op",
                "bad: refused",
                "create: created /o",
                "get: data Some(\"0\") v0 watch Data",
                "watch NodeDataChanged /o",
                "set: stat v1",
                "exists: Exists(None) watch Exist",
                "get2: data Some(\"1\") v1 watch Data",
                "watch2 NodeDataChanged /o",
            ][..],
        );
        client.close().await;
        let (tx, rx) = tokio::sync::oneshot::channel();
        client.call_ordered(
            Call::Sync("/".into()),
            None,
            Box::new(move |reply, _| {
                let _ = tx.send(reply);
            }),
        );
        assert_eq!(rx.await.unwrap(), Err(zk_core::client::Error::Closed));
        other.close().await;
    });
    server.stop();
}

/// A reply callback runs while the connection task holds the session; calls made from it
/// (on the same client, and across two clients whose callbacks call each other) are
/// queued, not deadlocked, and go out in the order they were made.
#[test]
fn callbacks_may_call_their_own_client_and_each_other() {
    use zk_core::client::{Call, Reply, ReplyCallback};
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let addr = server.addr.to_string();
    server.runtime.block_on(async move {
        let log: Log = Arc::default();
        let a = Client::connect(&addr, ClientOptions::default())
            .await
            .unwrap();
        let b = Client::connect(&addr, ClientOptions::default())
            .await
            .unwrap();
        fn note(log: &Log, name: &'static str) -> ReplyCallback {
            let log = log.clone();
            Box::new(move |reply, _| {
                let what = match reply {
                    Ok(Reply::Created(path, _)) => path,
                    Ok(other) => format!("{other:?}"),
                    Err(e) => format!("error {e}"),
                };
                log.lock().unwrap().push(format!("{name} {what}"));
            })
        }
        let create = |path: &str| Call::Create {
            path: path.into(),
            data: None,
            acl: Acl::open_unsafe(),
            mode: CreateMode::Persistent,
            ttl: None,
        };
        let (a2, b2, log2) = (a.clone(), b.clone(), log.clone());
        let chained: ReplyCallback = Box::new(move |reply, _| {
            log2.lock()
                .unwrap()
                .push(format!("first ok={}", reply.is_ok()));
            // Same client, twice: must keep this order.
            a2.call_ordered(create("/cb-1"), None, note(&log2, "a"));
            a2.call_ordered(create("/cb-2"), None, note(&log2, "a"));
            // The other client, whose reply callback calls back into this one.
            let (a3, log3) = (a2.clone(), log2.clone());
            b2.call_ordered(
                create("/cb-b"),
                None,
                Box::new(move |reply, _| {
                    log3.lock().unwrap().push(format!("b ok={}", reply.is_ok()));
                    a3.call_ordered(create("/cb-3"), None, note(&log3, "a"));
                }),
            );
        });
        a.call_ordered(create("/cb-0"), None, chained);
        let seen = wait_for(&log, 5).await;
        assert_eq!(seen.len(), 5, "{seen:?}");
        assert_eq!(seen[0], "first ok=true");
        let of_a: Vec<&String> = seen.iter().filter(|s| s.starts_with("a ")).collect();
        assert_eq!(of_a, ["a /cb-1", "a /cb-2", "a /cb-3"], "{seen:?}");
        assert!(seen.contains(&"b ok=true".to_string()), "{seen:?}");
        // And the client still answers ordinary calls.
        assert!(a.exists("/cb-3").await.unwrap().is_some());
    });
}
