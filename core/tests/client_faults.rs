//! The client through a proxy that drops, stalls and cuts the connection.

mod common;

use std::time::Duration;

use common::proxy::Proxy;
use common::TestServer;
use tokio::time::timeout;
use zk_core::client::{Client, ClientOptions, Error, SessionState};
use zk_core::proto::{Acl, CreateMode, EventType};

const DEADLINE: Duration = Duration::from_secs(20);

fn fast_server(dir: &std::path::Path) -> TestServer {
    TestServer::start_with(dir, |o| {
        o.tick_time = Duration::from_millis(100);
        o.min_session_timeout_ms = 200;
    })
}

fn options(session_ms: u64) -> ClientOptions {
    ClientOptions::default().session_timeout(Duration::from_millis(session_ms))
}

async fn wait_for_state(client: &Client, wanted: SessionState) {
    let mut events = client.state_events();
    timeout(DEADLINE, async {
        while client.state() != wanted {
            let _ = events.recv().await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("state {wanted:?} never came; now {:?}", client.state()));
}

#[test]
fn reconnect_keeps_the_session_and_every_watch() {
    let dir = tempfile::tempdir().unwrap();
    let server = fast_server(dir.path());
    let addr = server.addr;
    server.runtime.block_on(async move {
        let proxy = Proxy::start(addr).await;
        let client = Client::connect(&proxy.addr.to_string(), options(3000))
            .await
            .unwrap();
        let direct = Client::connect(&addr.to_string(), options(3000))
            .await
            .unwrap();
        let acl = Acl::open_unsafe();
        client
            .create("/w", b"0", &acl, CreateMode::Persistent)
            .await
            .unwrap();
        client
            .create("/eph", b"", &acl, CreateMode::Ephemeral)
            .await
            .unwrap();
        let (_, _, changed_while_away) = client.get_data_watch("/w").await.unwrap();
        let (_, _, children) = client.get_children_watch("/").await.unwrap();
        let session = client.session_id();
        let mut states = client.state_events();

        proxy.cut();
        direct.set_data("/w", b"1", -1).await.unwrap();
        let event = timeout(DEADLINE, changed_while_away.changed())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (event.event_type, event.path.as_str()),
            (EventType::NodeDataChanged, "/w")
        );
        wait_for_state(&client, SessionState::Connected).await;
        assert_eq!(
            client.session_id(),
            session,
            "the session survives the reconnect"
        );
        let seen: Vec<SessionState> = std::iter::from_fn(|| states.try_recv().ok())
            .map(|e| e.state)
            .collect();
        assert!(seen.contains(&SessionState::Suspended), "{seen:?}");
        assert!(
            direct.exists("/eph").await.unwrap().is_some(),
            "ephemerals live on"
        );

        direct
            .create("/new", b"", &acl, CreateMode::Persistent)
            .await
            .unwrap();
        let event = timeout(DEADLINE, children.changed())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            event.event_type,
            EventType::NodeChildrenChanged,
            "the child watch was re-registered"
        );
        client.close().await;
        direct.close().await;
    });
    server.stop();
}

#[test]
fn a_partition_longer_than_the_session_timeout_is_reported_as_expired() {
    let dir = tempfile::tempdir().unwrap();
    let server = fast_server(dir.path());
    let addr = server.addr;
    server.runtime.block_on(async move {
        let proxy = Proxy::start(addr).await;
        let client = Client::connect(&proxy.addr.to_string(), options(1000))
            .await
            .unwrap();
        client
            .create(
                "/gone-soon",
                b"",
                &Acl::open_unsafe(),
                CreateMode::Ephemeral,
            )
            .await
            .unwrap();
        let (_, _, watch) = client.get_data_watch("/gone-soon").await.unwrap();
        proxy.stall();
        let pending = client.get_data("/gone-soon");
        let result = timeout(DEADLINE, pending)
            .await
            .expect("a pending request never hangs");
        assert_eq!(result, Err(Error::ConnectionLoss));
        wait_for_state(&client, SessionState::Expired).await;
        let event = timeout(DEADLINE, watch.changed()).await.unwrap().unwrap();
        assert_eq!(event.state, zk_core::proto::KeeperState::Expired);
        assert_eq!(client.exists("/").await, Err(Error::SessionExpired));
        proxy.resume();
        let other = Client::connect(&addr.to_string(), options(1000))
            .await
            .unwrap();
        timeout(DEADLINE, async {
            while other.exists("/gone-soon").await.unwrap().is_some() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("the server expires the session too");
    });
    server.stop();
}

#[test]
fn requests_fail_with_timeout_instead_of_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let server = fast_server(dir.path());
    let addr = server.addr;
    server.runtime.block_on(async move {
        let proxy = Proxy::start(addr).await;
        let opts = options(10_000).request_timeout(Duration::from_millis(300));
        let client = Client::connect(&proxy.addr.to_string(), opts)
            .await
            .unwrap();
        proxy.stall();
        let result = timeout(DEADLINE, client.exists("/x")).await.unwrap();
        assert_eq!(result, Err(Error::Timeout));
        proxy.resume();
        timeout(DEADLINE, async {
            while client.exists("/").await.is_err() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("the client recovers after the stall");
        client.close().await;
    });
    server.stop();
}

#[test]
fn close_from_inside_a_watch_handler_does_not_deadlock() {
    let dir = tempfile::tempdir().unwrap();
    let server = fast_server(dir.path());
    let addr = server.addr;
    server.runtime.block_on(async move {
        let client = Client::connect(&addr.to_string(), options(3000))
            .await
            .unwrap();
        let (_, watch) = client.exists_watch("/trigger").await.unwrap();
        let handler_client = client.clone();
        let handler = tokio::spawn(async move {
            let event = watch.changed().await.unwrap();
            handler_client.close().await;
            event
        });
        let other = Client::connect(&addr.to_string(), options(3000))
            .await
            .unwrap();
        other
            .create("/trigger", b"", &Acl::open_unsafe(), CreateMode::Persistent)
            .await
            .unwrap();
        let event = timeout(DEADLINE, handler).await.unwrap().unwrap();
        assert_eq!(event.event_type, EventType::NodeCreated);
        assert_eq!(client.state(), SessionState::Closed);
        other.close().await;
    });
    server.stop();
}

/// A stand-in for a server cut off from its quorum: it accepts sessions read-only,
/// answers pings, refuses everything else with NOTREADONLY, and says `ro` to `isro`.
async fn read_only_server() -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use zk_core::proto::{
        frame, ConnectRequest, ConnectResponse, Decode, Encode, ReplyHeader, RequestHeader,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let mut handshaken = false;
                loop {
                    if buf.starts_with(b"isro") {
                        let _ = socket.write_all(b"ro").await;
                        return;
                    }
                    while let Ok(Some(len)) = frame::check(&buf, 1 << 20) {
                        let payload: Vec<u8> = buf[4..4 + len].to_vec();
                        buf.drain(..4 + len);
                        let mut out = Vec::new();
                        if !handshaken {
                            handshaken = true;
                            let req = ConnectRequest::from_bytes(&payload).unwrap();
                            let resp = ConnectResponse {
                                protocol_version: 0,
                                timeout: req.timeout,
                                session_id: 0x77,
                                passwd: vec![0; 16],
                                read_only: Some(true),
                            };
                            frame::write(&mut out, |b| resp.encode(b));
                        } else {
                            let header = RequestHeader::from_bytes(&payload[..8]).unwrap();
                            let err = if header.op == 11 { 0 } else { -119 };
                            frame::write(&mut out, |b| {
                                ReplyHeader {
                                    xid: header.xid,
                                    zxid: 0,
                                    err,
                                }
                                .encode(b)
                            });
                        }
                        if socket.write_all(&out).await.is_err() {
                            return;
                        }
                    }
                    match socket.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    addr
}

#[test]
fn a_read_only_session_moves_to_a_read_write_server_when_one_answers() {
    let dir = tempfile::tempdir().unwrap();
    let server = fast_server(dir.path());
    let addr = server.addr;
    server.runtime.block_on(async move {
        let read_only = read_only_server().await;
        let proxy = Proxy::start(addr).await;
        proxy.stall();
        let connect = format!("{read_only},{}", proxy.addr);
        let opts = options(3000)
            .read_only(true)
            .connect_timeout(Duration::from_millis(300));
        let client = Client::start(&connect, opts).unwrap();
        wait_for_state(&client, SessionState::ConnectedReadOnly).await;
        assert_eq!(
            client
                .create("/w", b"", &Acl::open_unsafe(), CreateMode::Persistent)
                .await,
            Err(Error::Server(zk_core::proto::ErrorCode::NotReadOnly))
        );
        proxy.resume();
        wait_for_state(&client, SessionState::Connected).await;
        assert_ne!(
            client.session_id(),
            0x77,
            "a read-only session is not carried over"
        );
        client
            .create("/w", b"", &Acl::open_unsafe(), CreateMode::Persistent)
            .await
            .unwrap();
        client.close().await;
    });
    server.stop();
}
