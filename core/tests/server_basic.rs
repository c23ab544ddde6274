//! In-process server tests over the raw protocol.

mod common;

use common::{create_req, wait_until, RawClient, TestServer};
use zk_core::proto::*;

fn stat_of(r: Result<Response, ErrorCode>) -> Stat {
    match r.unwrap() {
        Response::Create2 { stat, .. } | Response::Stat(stat) => stat,
        Response::GetData { stat, .. } => stat,
        other => panic!("no stat in {other:?}"),
    }
}

#[test]
fn create_get_set_delete_and_stats() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let mut c = RawClient::connect(server.addr);
    let stat = stat_of(c.create("/a", b"hello", 0));
    assert_eq!(
        (stat.version, stat.data_length, stat.num_children),
        (0, 5, 0)
    );
    assert_eq!(stat.czxid, stat.mzxid);
    assert_eq!(c.create("/a", b"", 0), Err(ErrorCode::NodeExists));
    assert_eq!(c.create("/x/y", b"", 0), Err(ErrorCode::NoNode));
    assert_eq!(c.create("/a/", b"", 0), Err(ErrorCode::BadArguments));
    assert_eq!(c.create("/a", b"", 7), Err(ErrorCode::BadArguments));
    let got = c.result(&Request::GetData(PathWatchRequest {
        path: "/a".into(),
        watch: false,
    }));
    assert!(
        matches!(got, Ok(Response::GetData { ref data, .. }) if data.as_deref() == Some(&b"hello"[..]))
    );
    let set = Request::SetData(SetDataRequest {
        path: "/a".into(),
        data: Some(b"x".to_vec()),
        version: 3,
    });
    assert_eq!(c.result(&set), Err(ErrorCode::BadVersion));
    let set = Request::SetData(SetDataRequest {
        path: "/a".into(),
        data: Some(b"x".to_vec()),
        version: 0,
    });
    assert_eq!(stat_of(c.result(&set)).version, 1);
    c.create("/a/b", b"", 0).unwrap();
    let del = Request::Delete(DeleteRequest {
        path: "/a".into(),
        version: -1,
    });
    assert_eq!(c.result(&del), Err(ErrorCode::NotEmpty));
    let del_zk = Request::Delete(DeleteRequest {
        path: "/zookeeper".into(),
        version: -1,
    });
    assert_eq!(c.result(&del_zk), Err(ErrorCode::BadArguments));
    server.stop();
}

#[test]
fn sequential_names_and_cversion_follow_apache() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let mut c = RawClient::connect(server.addr);
    c.create("/seq", b"", 0).unwrap();
    let mut names = Vec::new();
    for _ in 0..3 {
        match c
            .create("/seq/n-", b"", CreateMode::PersistentSequential.as_i32())
            .unwrap()
        {
            Response::Create2 { path, .. } => names.push(path),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        names,
        [
            "/seq/n-0000000000",
            "/seq/n-0000000001",
            "/seq/n-0000000002"
        ]
    );
    for n in &names[..2] {
        c.result(&Request::Delete(DeleteRequest {
            path: n.clone(),
            version: -1,
        }))
        .unwrap();
    }
    match c.create("/seq/n-", b"", 2).unwrap() {
        Response::Create2 { path, .. } => assert_eq!(path, "/seq/n-0000000003"),
        other => panic!("{other:?}"),
    }
    let stat = stat_of(c.result(&Request::Exists(PathWatchRequest {
        path: "/seq".into(),
        watch: false,
    })));
    assert_eq!((stat.cversion, stat.num_children), (6, 2));
    server.stop();
}

#[test]
fn multi_is_atomic_with_apache_result_pattern() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let mut c = RawClient::connect(server.addr);
    let ops = vec![
        MultiOp::Create(
            CreateKind::Create,
            CreateRequest {
                path: "/m".into(),
                data: None,
                acl: Acl::open_unsafe(),
                flags: 0,
            },
        ),
        MultiOp::Delete(DeleteRequest {
            path: "/missing".into(),
            version: -1,
        }),
        MultiOp::SetData(SetDataRequest {
            path: "/m".into(),
            data: None,
            version: -1,
        }),
    ];
    let (header, result) = c.call(&Request::Multi(ops));
    assert_eq!(header.err, 0);
    assert_eq!(
        result.unwrap(),
        Response::Multi(vec![
            MultiResult::Error(0),
            MultiResult::Error(-101),
            MultiResult::Error(-2)
        ])
    );
    assert_eq!(
        c.result(&Request::Exists(PathWatchRequest {
            path: "/m".into(),
            watch: false
        })),
        Err(ErrorCode::NoNode)
    );
    let ops = vec![
        MultiOp::Create(
            CreateKind::Create,
            CreateRequest {
                path: "/m".into(),
                data: None,
                acl: Acl::open_unsafe(),
                flags: 0,
            },
        ),
        MultiOp::Create(
            CreateKind::Create2,
            CreateRequest {
                path: "/m/c".into(),
                data: Some(b"d".to_vec()),
                acl: Acl::open_unsafe(),
                flags: 0,
            },
        ),
        MultiOp::Check(CheckVersionRequest {
            path: "/m".into(),
            version: 0,
        }),
    ];
    match c.result(&Request::Multi(ops)).unwrap() {
        Response::Multi(results) => {
            assert!(matches!(&results[0], MultiResult::Create { path } if path == "/m"));
            // Apache's multi answers create2 with a plain create result.
            assert!(matches!(&results[1], MultiResult::Create { path } if path == "/m/c"));
            assert_eq!(results[2], MultiResult::Check);
        }
        other => panic!("{other:?}"),
    }
    server.stop();
}

#[test]
fn watches_fire_once_and_before_the_reply_that_shows_the_change() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let mut watcher = RawClient::connect(server.addr);
    let mut writer = RawClient::connect(server.addr);
    assert_eq!(
        watcher.result(&Request::Exists(PathWatchRequest {
            path: "/w".into(),
            watch: true
        })),
        Err(ErrorCode::NoNode)
    );
    writer.create("/w", b"1", 0).unwrap();
    // The event must come before the reply of a read that sees /w.
    let xid = watcher.send(&Request::Exists(PathWatchRequest {
        path: "/w".into(),
        watch: false,
    }));
    let (_, result) = watcher.receive(xid, OpCode::Exists).unwrap();
    assert!(result.is_ok());
    assert_eq!(watcher.events.len(), 1);
    let event = watcher.events.remove(0).1;
    assert_eq!(
        (event.event_type, event.path.as_str()),
        (EventType::NodeCreated.as_i32(), "/w")
    );
    writer.create("/w/c", b"", 0).unwrap();
    let set = Request::SetData(SetDataRequest {
        path: "/w".into(),
        data: None,
        version: -1,
    });
    writer.result(&set).unwrap();
    let _ = watcher.call(&Request::Ping);
    assert!(
        watcher.events.is_empty(),
        "one-shot watch fired twice: {:?}",
        watcher.events
    );
    watcher
        .result(&Request::AddWatch(AddWatchRequest {
            path: "/w".into(),
            mode: 1,
        }))
        .unwrap();
    writer.create("/w/d", b"", 0).unwrap();
    let event = watcher.wait_event();
    assert_eq!(
        (event.event_type, event.path.as_str()),
        (EventType::NodeCreated.as_i32(), "/w/d")
    );
    server.stop();
}

#[test]
fn session_expiry_removes_ephemerals_and_resume_with_wrong_password_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(dir.path(), |o| {
        o.tick_time = std::time::Duration::from_millis(100);
        o.min_session_timeout_ms = 200;
    });
    let mut owner = RawClient::connect_session(server.addr, 0, vec![0; 16], 300).unwrap();
    assert_eq!(owner.timeout, 300);
    owner
        .create("/eph", b"", CreateMode::Ephemeral.as_i32())
        .unwrap();
    assert_eq!(
        owner.create("/eph/child", b"", 0),
        Err(ErrorCode::NoChildrenForEphemerals)
    );
    assert!(RawClient::connect_session(server.addr, owner.session_id, vec![1; 16], 300).is_none());
    let (sid, passwd) = (owner.session_id, owner.passwd.clone());
    drop(owner);
    let mut other = RawClient::connect(server.addr);
    wait_until("the ephemeral to vanish", || {
        other.result(&Request::Exists(PathWatchRequest {
            path: "/eph".into(),
            watch: false,
        })) == Err(ErrorCode::NoNode)
    });
    assert!(RawClient::connect_session(server.addr, sid, passwd, 300).is_none());
    server.stop();
}

#[test]
fn acked_writes_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(dir.path(), |o| o.snap_count = 7);
    let mut c = RawClient::connect(server.addr);
    for i in 0..20 {
        c.create(&format!("/n{i}"), format!("v{i}").as_bytes(), 0)
            .unwrap();
    }
    drop(c);
    server.stop();
    let server = TestServer::start(dir.path());
    let mut c = RawClient::connect(server.addr);
    for i in 0..20 {
        let got = c.result(&Request::GetData(PathWatchRequest {
            path: format!("/n{i}"),
            watch: false,
        }));
        assert!(
            matches!(got, Ok(Response::GetData { ref data, .. }) if data.as_deref() == Some(format!("v{i}").as_bytes()))
        );
    }
    assert!(c.create("/after", b"", 0).is_ok());
    server.stop();
}

#[test]
fn unknown_opcode_gets_unimplemented_and_close() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let mut c = RawClient::connect(server.addr);
    let mut payload = RequestHeader { xid: 1, op: 99 }.to_bytes();
    payload.extend_from_slice(&[0; 4]);
    c.send_frame(&payload);
    let (header, _) = c.receive(1, OpCode::Ping).unwrap();
    assert_eq!(header.err, ErrorCode::Unimplemented.as_i32());
    assert!(c.read_frame().is_none());
    let mut c = RawClient::connect(server.addr);
    assert!(
        c.create("/ok", b"", 0).is_ok(),
        "other connections are unaffected"
    );
    let _ = create_req;
    server.stop();
}
