//! A blocking raw-protocol client and an in-process server for the integration tests.

#![allow(dead_code)]

pub mod apache;
pub mod certs;
pub mod faults;
pub mod proxy;
pub mod suite;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use zk_core::proto::{
    frame, Acl, ConnectRequest, ConnectResponse, CreateKind, CreateRequest, Decode, Encode,
    ErrorCode, OpCode, ReplyHeader, Request, RequestHeader, Response, WatcherEvent,
    NOTIFICATION_XID,
};
use zk_core::server::{Server, ServerOptions};

/// A two-worker runtime for a test's client side.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A server on a free loopback port with its own tokio runtime.
pub struct TestServer {
    pub runtime: tokio::runtime::Runtime,
    pub server: Option<Server>,
    pub addr: SocketAddr,
}

impl TestServer {
    pub fn start(data_dir: &Path) -> Self {
        Self::start_with(data_dir, |_| {})
    }

    pub fn start_with(data_dir: &Path, tweak: impl FnOnce(&mut ServerOptions)) -> Self {
        let mut opts =
            ServerOptions::standalone("127.0.0.1:0".parse().unwrap(), data_dir.to_path_buf());
        opts.max_client_cnxns = 0;
        opts.four_letter_words = ["*".to_owned()].into_iter().collect();
        tweak(&mut opts);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let server = runtime.block_on(Server::start(opts)).unwrap();
        let addr = server.local_addr();
        TestServer {
            runtime,
            server: Some(server),
            addr,
        }
    }

    pub fn stop(mut self) {
        if let Some(server) = self.server.take() {
            assert_eq!(server.shutdown(), None);
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown();
        }
    }
}

/// What a call returned.
pub type Reply = (ReplyHeader, Result<Response, ErrorCode>);

/// A minimal synchronous client speaking the raw protocol.
pub struct RawClient {
    stream: TcpStream,
    buf: Vec<u8>,
    xid: i32,
    pub session_id: i64,
    pub passwd: Vec<u8>,
    pub timeout: i32,
    pub events: Vec<(i64, WatcherEvent)>,
}

impl RawClient {
    pub fn connect(addr: SocketAddr) -> Self {
        Self::connect_session(addr, 0, vec![0; 16], 30000).expect("session established")
    }

    /// Connects (resuming `session_id` when non-zero); `None` if the server says expired.
    pub fn connect_session(
        addr: SocketAddr,
        session_id: i64,
        passwd: Vec<u8>,
        timeout: i32,
    ) -> Option<Self> {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut client = RawClient {
            stream,
            buf: Vec::new(),
            xid: 0,
            session_id: 0,
            passwd: Vec::new(),
            timeout: 0,
            events: Vec::new(),
        };
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout,
            session_id,
            passwd,
            read_only: Some(false),
        };
        client.send_frame(&req.to_bytes());
        let payload = client.read_frame()?;
        let resp = ConnectResponse::from_bytes(&payload).unwrap();
        if resp.timeout <= 0 {
            return None;
        }
        client.session_id = resp.session_id;
        client.passwd = resp.passwd;
        client.timeout = resp.timeout;
        Some(client)
    }

    pub fn send_frame(&mut self, payload: &[u8]) {
        let mut out = Vec::new();
        frame::write(&mut out, |b| b.extend_from_slice(payload));
        self.stream.write_all(&out).unwrap();
    }

    /// Reads one frame; `None` on EOF.
    pub fn read_frame(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Ok(Some(len)) = frame::check(&self.buf, usize::MAX >> 1) {
                let payload = self.buf[4..4 + len].to_vec();
                self.buf.drain(..4 + len);
                return Some(payload);
            }
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Sends a request with the next xid without waiting.
    pub fn send(&mut self, request: &Request) -> i32 {
        self.xid += 1;
        let xid = self.xid;
        self.send_with_xid(xid, request);
        xid
    }

    pub fn send_with_xid(&mut self, xid: i32, request: &Request) {
        let mut payload = RequestHeader {
            xid,
            op: request.op_code().as_i32(),
        }
        .to_bytes();
        request.encode(&mut payload);
        self.send_frame(&payload);
    }

    /// Reads replies until the one for `xid`, keeping notifications.
    pub fn receive(&mut self, xid: i32, op: OpCode) -> Option<Reply> {
        loop {
            let payload = self.read_frame()?;
            let mut r = zk_core::proto::Reader::new(&payload);
            let header = ReplyHeader::decode(&mut r).unwrap();
            if header.xid == NOTIFICATION_XID {
                self.events
                    .push((header.zxid, WatcherEvent::decode(&mut r).unwrap()));
                continue;
            }
            assert_eq!(header.xid, xid, "replies must come back in order");
            let result = if header.err == 0 {
                Ok(Response::decode(op, r.rest()).unwrap())
            } else {
                Err(ErrorCode::from_i32(header.err).unwrap())
            };
            return Some((header, result));
        }
    }

    pub fn call(&mut self, request: &Request) -> Reply {
        let xid = self.send(request);
        self.receive(xid, request.op_code())
            .expect("connection closed")
    }

    pub fn result(&mut self, request: &Request) -> Result<Response, ErrorCode> {
        self.call(request).1
    }

    pub fn create(&mut self, path: &str, data: &[u8], flags: i32) -> Result<Response, ErrorCode> {
        self.result(&create_req(CreateKind::Create2, path, data, flags))
    }

    /// Waits (with a deadline) for a notification, reading pings if needed.
    pub fn wait_event(&mut self) -> WatcherEvent {
        if !self.events.is_empty() {
            return self.events.remove(0).1;
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let _ = self.call(&Request::Ping);
            if !self.events.is_empty() {
                return self.events.remove(0).1;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("no event arrived");
    }
}

pub fn create_req(kind: CreateKind, path: &str, data: &[u8], flags: i32) -> Request {
    Request::Create(
        kind,
        CreateRequest {
            path: path.into(),
            data: Some(data.to_vec()),
            acl: Acl::open_unsafe(),
            flags,
        },
    )
}

/// Polls `cond` until it holds or the deadline passes.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for {what}");
}
