//! The client through a proxy that drops, stalls and cuts the connection.

mod common;

use std::time::Duration;

use common::faults::{self, options, wait_for_state};
use common::proxy::Proxy;
use common::TestServer;
use zk_core::client::{Client, Error, SessionState};
use zk_core::proto::{Acl, CreateMode};

fn fast_server(dir: &std::path::Path) -> TestServer {
    TestServer::start_with(dir, |o| {
        o.tick_time = Duration::from_millis(100);
        o.min_session_timeout_ms = 200;
    })
}

#[test]
fn reconnect_keeps_the_session_and_every_watch() {
    let dir = tempfile::tempdir().unwrap();
    let server = fast_server(dir.path());
    server
        .runtime
        .block_on(faults::reconnect_keeps_the_session_and_every_watch(
            server.addr,
        ));
    server.stop();
}

#[test]
fn a_partition_longer_than_the_session_timeout_is_reported_as_expired() {
    let dir = tempfile::tempdir().unwrap();
    let server = fast_server(dir.path());
    server.runtime.block_on(
        faults::a_partition_longer_than_the_session_timeout_is_reported_as_expired(server.addr),
    );
    server.stop();
}

#[test]
fn requests_fail_with_timeout_instead_of_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let server = fast_server(dir.path());
    server
        .runtime
        .block_on(faults::requests_fail_with_timeout_instead_of_hanging(
            server.addr,
        ));
    server.stop();
}

#[test]
fn an_unanswered_reconnect_is_given_up_before_the_session_expires() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(dir.path(), |o| o.max_session_timeout_ms = 60_000);
    server.runtime.block_on(
        faults::an_unanswered_reconnect_is_given_up_before_the_session_expires(server.addr),
    );
    server.stop();
}

#[test]
fn close_from_inside_a_watch_handler_does_not_deadlock() {
    let dir = tempfile::tempdir().unwrap();
    let server = fast_server(dir.path());
    server
        .runtime
        .block_on(faults::close_from_inside_a_watch_handler_does_not_deadlock(
            server.addr,
        ));
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
