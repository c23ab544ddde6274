//! In-process tests of containers, TTL nodes, quotas, connection limits and pipelining.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{create_req, wait_until, RawClient, TestServer};
use zk_core::proto::*;

fn exists(c: &mut RawClient, path: &str) -> bool {
    c.result(&Request::Exists(PathWatchRequest {
        path: path.into(),
        watch: false,
    }))
    .is_ok()
}

#[test]
fn empty_containers_and_expired_ttl_nodes_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(dir.path(), |o| {
        o.container_check_interval = Duration::from_millis(50);
        o.rules.extended_types = true;
    });
    let mut c = RawClient::connect(server.addr);
    c.result(&create_req(CreateKind::Container, "/never-used", b"", 4))
        .unwrap();
    c.result(&create_req(CreateKind::Container, "/box", b"", 4))
        .unwrap();
    c.create("/box/item", b"", 0).unwrap();
    let stat = match c.result(&Request::Exists(PathWatchRequest {
        path: "/box".into(),
        watch: false,
    })) {
        Ok(Response::Stat(stat)) => stat,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        stat.ephemeral_owner, 0,
        "containers show owner 0 to clients"
    );
    c.result(&Request::Delete(DeleteRequest {
        path: "/box/item".into(),
        version: -1,
    }))
    .unwrap();
    wait_until("the emptied container to go", || !exists(&mut c, "/box"));
    assert!(
        exists(&mut c, "/never-used"),
        "a container that never had children stays"
    );

    let ttl = Request::Create(
        CreateKind::Ttl(100),
        CreateRequest {
            path: "/short".into(),
            data: None,
            acl: Acl::open_unsafe(),
            flags: CreateMode::PersistentWithTtl.as_i32(),
        },
    );
    c.result(&ttl).unwrap();
    wait_until("the TTL node to expire", || !exists(&mut c, "/short"));
    server.stop();
}

#[test]
fn ttl_needs_extended_types_and_a_valid_ttl() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let mut c = RawClient::connect(server.addr);
    let ttl = |ttl| {
        Request::Create(
            CreateKind::Ttl(ttl),
            CreateRequest {
                path: "/t".into(),
                data: None,
                acl: Acl::open_unsafe(),
                flags: 5,
            },
        )
    };
    assert_eq!(c.result(&ttl(1000)), Err(ErrorCode::Unimplemented));
    drop(c);
    server.stop();
    let server = TestServer::start_with(dir.path(), |o| o.rules.extended_types = true);
    let mut c = RawClient::connect(server.addr);
    assert_eq!(c.result(&ttl(0)), Err(ErrorCode::BadArguments));
    assert_eq!(c.result(&ttl(MAX_TTL + 1)), Err(ErrorCode::BadArguments));
    let got = c.result(&ttl(MAX_TTL));
    assert!(got.is_ok(), "{got:?}");
    server.stop();
}

#[test]
fn hard_quota_refuses_only_when_enforced() {
    for enforce in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let server = TestServer::start_with(dir.path(), |o| o.rules.enforce_quota = enforce);
        let mut c = RawClient::connect(server.addr);
        c.create("/q", b"", 0).unwrap();
        c.create("/zookeeper/quota/q", b"", 0).unwrap();
        c.create(
            "/zookeeper/quota/q/zookeeper_limits",
            b"count=-1,bytes=-1=;countHardLimit=2",
            0,
        )
        .unwrap();
        c.create("/zookeeper/quota/q/zookeeper_stats", b"", 0)
            .unwrap();
        let stats = c.result(&Request::GetData(PathWatchRequest {
            path: "/zookeeper/quota/q/zookeeper_stats".into(),
            watch: false,
        }));
        assert!(
            matches!(stats, Ok(Response::GetData { data: Some(ref d), .. }) if d == b"count=1,bytes=0")
        );
        let results: Vec<_> = (0..3)
            .map(|i| c.create(&format!("/q/n{i}"), b"", 0).err())
            .collect();
        if enforce {
            assert_eq!(
                results,
                [
                    None,
                    Some(ErrorCode::QuotaExceeded),
                    Some(ErrorCode::QuotaExceeded)
                ]
            );
        } else {
            assert_eq!(results, [None, None, None]);
        }
        server.stop();
    }
}

#[test]
fn oversized_frames_close_only_that_connection() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(dir.path(), |o| o.max_buffer = 1024);
    let mut c = RawClient::connect(server.addr);
    let big = vec![b'x'; 2048];
    let xid = c.send(&create_req(CreateKind::Create, "/big", &big, 0));
    assert!(
        c.receive(xid, OpCode::Create).is_none(),
        "the server must close the connection"
    );
    let mut other = RawClient::connect(server.addr);
    assert!(other.create("/small", b"ok", 0).is_ok());
    assert!(!exists(&mut other, "/big"));
    server.stop();
}

#[test]
fn max_client_cnxns_per_ip_is_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(dir.path(), |o| o.max_client_cnxns = 2);
    let _a = RawClient::connect(server.addr);
    let _b = RawClient::connect(server.addr);
    let mut third = TcpStream::connect(server.addr).unwrap();
    third
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 16];
    let _ = third.write_all(&[0, 0, 0, 0]);
    assert!(
        matches!(third.read(&mut buf), Ok(0) | Err(_)),
        "the third connection is refused"
    );
    server.stop();
}

#[test]
fn auth_and_requests_pipelined_before_the_connect_response_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut out = Vec::new();
    let connect = ConnectRequest {
        timeout: 30000,
        passwd: vec![0; 16],
        read_only: Some(false),
        ..Default::default()
    };
    frame::write(&mut out, |b| connect.encode(b));
    frame::write(&mut out, |b| {
        RequestHeader {
            xid: AUTH_XID,
            op: OpCode::Auth.as_i32(),
        }
        .encode(b);
        AuthPacket {
            auth_type: 0,
            scheme: "digest".into(),
            auth: Some(b"u:p".to_vec()),
        }
        .encode(b);
    });
    frame::write(&mut out, |b| {
        RequestHeader {
            xid: 1,
            op: OpCode::Create.as_i32(),
        }
        .encode(b);
        CreateRequest {
            path: "/mine".into(),
            data: None,
            acl: Acl::creator_all(),
            flags: 0,
        }
        .encode(b);
    });
    stream.write_all(&out).unwrap();
    let mut received = Vec::new();
    let mut frames = Vec::new();
    while frames.len() < 3 {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).unwrap();
        assert!(n > 0, "server closed early");
        received.extend_from_slice(&chunk[..n]);
        while let Ok(Some(len)) = frame::check(&received, 1 << 20) {
            frames.push(received[4..4 + len].to_vec());
            received.drain(..4 + len);
        }
    }
    let auth = ReplyHeader::from_bytes(&frames[1]).unwrap();
    assert_eq!((auth.xid, auth.err), (AUTH_XID, 0));
    let mut r = Reader::new(&frames[2]);
    let create = ReplyHeader::decode(&mut r).unwrap();
    assert_eq!(
        (create.xid, create.err),
        (1, 0),
        "the auth id was in force for the create"
    );
    server.stop();
}

#[test]
fn bad_auth_closes_the_connection_and_super_digest_bypasses_acls() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(dir.path(), |o| {
        o.acl.super_digest = Some(zk_core::server::acl::digest_id("super:secret"));
    });
    let mut owner = RawClient::connect(server.addr);
    let auth = |user_password: &str| {
        Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: "digest".into(),
            auth: Some(user_password.as_bytes().to_vec()),
        })
    };
    owner.send_with_xid(AUTH_XID, &auth("u:p"));
    assert_eq!(owner.receive(AUTH_XID, OpCode::Auth).unwrap().0.err, 0);
    let private = Request::Create(
        CreateKind::Create,
        CreateRequest {
            path: "/private".into(),
            data: Some(b"s".to_vec()),
            acl: Acl::creator_all(),
            flags: 0,
        },
    );
    owner.result(&private).unwrap();
    let get = Request::GetData(PathWatchRequest {
        path: "/private".into(),
        watch: false,
    });
    let mut stranger = RawClient::connect(server.addr);
    assert_eq!(stranger.result(&get), Err(ErrorCode::NoAuth));
    stranger.send_with_xid(
        AUTH_XID,
        &Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: "bogus".into(),
            auth: None,
        }),
    );
    assert_eq!(
        stranger.receive(AUTH_XID, OpCode::Auth).unwrap().0.err,
        ErrorCode::AuthFailed.as_i32()
    );
    assert!(
        stranger.read_frame().is_none(),
        "a failed auth closes the connection"
    );
    let mut admin = RawClient::connect(server.addr);
    admin.send_with_xid(AUTH_XID, &auth("super:secret"));
    assert_eq!(admin.receive(AUTH_XID, OpCode::Auth).unwrap().0.err, 0);
    assert!(admin.result(&get).is_ok());
    server.stop();
}

#[test]
fn set_watches_after_reconnect_follows_the_relative_zxid_rules() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let mut writer = RawClient::connect(server.addr);
    writer.create("/same", b"", 0).unwrap();
    writer.create("/changed", b"", 0).unwrap();
    writer.create("/gone", b"", 0).unwrap();
    writer.create("/parent", b"", 0).unwrap();
    let (seen, _) = writer.call(&Request::Ping);
    let relative_zxid = seen.zxid;
    let set = Request::SetData(SetDataRequest {
        path: "/changed".into(),
        data: None,
        version: -1,
    });
    writer.result(&set).unwrap();
    writer
        .result(&Request::Delete(DeleteRequest {
            path: "/gone".into(),
            version: -1,
        }))
        .unwrap();
    writer.create("/born", b"", 0).unwrap();
    writer.create("/parent/kid", b"", 0).unwrap();

    let mut watcher = RawClient::connect(server.addr);
    let watches = SetWatches {
        relative_zxid,
        data_watches: vec!["/same".into(), "/changed".into(), "/gone".into()],
        exist_watches: vec!["/born".into(), "/unborn".into()],
        child_watches: vec!["/parent".into()],
        persistent_watches: vec![],
        persistent_recursive_watches: vec!["/tree".into()],
    };
    let (header, result) = watcher.call(&Request::SetWatches2(watches));
    assert_eq!(header.err, 0);
    assert!(result.is_ok());
    let mut fired: Vec<(i32, String)> = watcher
        .events
        .drain(..)
        .map(|(_, e)| (e.event_type, e.path))
        .collect();
    fired.sort();
    assert_eq!(
        fired,
        vec![
            (EventType::NodeCreated.as_i32(), "/born".to_owned()),
            (EventType::NodeDeleted.as_i32(), "/gone".to_owned()),
            (EventType::NodeDataChanged.as_i32(), "/changed".to_owned()),
            (
                EventType::NodeChildrenChanged.as_i32(),
                "/parent".to_owned()
            ),
        ]
    );
    let check = |path: &str, watcher_type: WatcherType| {
        Request::CheckWatches(WatchesRequest {
            path: path.into(),
            watcher_type: watcher_type.as_i32(),
        })
    };
    assert!(
        watcher.result(&check("/same", WatcherType::Data)).is_ok(),
        "unchanged: re-registered"
    );
    assert!(watcher.result(&check("/unborn", WatcherType::Data)).is_ok());
    assert_eq!(
        watcher.result(&check("/changed", WatcherType::Data)),
        Err(ErrorCode::NoWatcher)
    );
    assert!(watcher
        .result(&check("/tree", WatcherType::PersistentRecursive))
        .is_ok());
    let remove = Request::RemoveWatches(WatchesRequest {
        path: "/same".into(),
        watcher_type: 3,
    });
    assert!(watcher.result(&remove).is_ok());
    assert_eq!(watcher.result(&remove), Err(ErrorCode::NoWatcher));
    writer.create("/tree", b"", 0).unwrap();
    let event = watcher.wait_event();
    assert_eq!(
        (event.event_type, event.path.as_str()),
        (EventType::NodeCreated.as_i32(), "/tree")
    );
    server.stop();
}

#[test]
fn autopurge_keeps_the_newest_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(dir.path(), |o| {
        o.snap_count = 3;
        o.snap_retain_count = 3;
        o.purge_interval = Duration::from_millis(50);
    });
    let mut c = RawClient::connect(server.addr);
    // Full snapshots are `snapshot.<zxid>`; the deltas between them, `snapshot.<zxid>.delta`,
    // go with the full ones before them. How many of the snapshots are full, and which ones
    // a busy snapshot thread skips, depends on timing, so writes go on until more than three
    // full snapshots have been seen and the purge has left the newest three.
    let version_2 = dir.path().join("version-2");
    let snapshots = || zk_core::server::persist::snapshot::list(&version_2).unwrap();
    let mut created = 0;
    let mut full_seen = std::collections::BTreeSet::new();
    wait_until("autopurge to leave the three newest full snapshots", || {
        for _ in 0..10 {
            c.create(&format!("/p{created}"), b"", 0).unwrap();
            created += 1;
        }
        let listing = snapshots();
        full_seen.extend(listing.full.iter().map(|f| f.0));
        full_seen.len() > 3
            && listing.full.len() == 3
            && listing.deltas.iter().all(|d| d.0 > listing.full[0].0)
    });
    drop(c);
    server.stop();
    let server = TestServer::start(dir.path());
    let mut c = RawClient::connect(server.addr);
    assert!(
        (0..created).all(|i| exists(&mut c, &format!("/p{i}"))),
        "purge kept what recovery needs"
    );
    server.stop();
}

/// A read that sets a watch is answered before the event of a write that fires it, even when
/// the write lands while the read is being answered: a client drops an event for a watch it
/// has not seen registered, so the other order loses the event for good (once, the reply was
/// queued after the state's lock was released and a commit could slip in between). The race
/// needs the reading thread preempted in a narrow window, so this repeats it many times
/// against a writer that never pauses; on a correct server no event is ever missing.
#[test]
fn a_watch_set_by_a_read_always_hears_of_the_next_write() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use zk_core::client::{block_on, runtime, Client, ClientOptions};

    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let addr = server.addr.to_string();
    let handle = runtime::handle();
    let connect = || block_on(&handle, Client::connect(&addr, ClientOptions::default())).unwrap();
    let (writer, watcher) = (connect(), connect());
    block_on(
        &handle,
        writer.create("/raced", b"", &Acl::open_unsafe(), CreateMode::Persistent),
    )
    .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writing = {
        let (handle, stop) = (handle.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Acquire) {
                block_on(&handle, writer.set_data("/raced", b"x", -1)).unwrap();
            }
        })
    };
    for round in 0..1500 {
        let heard = block_on(&handle, async {
            let (_, _, watch) = watcher.get_data_watch("/raced").await.unwrap();
            tokio::time::timeout(Duration::from_secs(60), watch.changed()).await
        });
        assert!(heard.is_ok(), "round {round}: the watch never fired");
    }
    stop.store(true, Ordering::Release);
    writing.join().unwrap();
}
