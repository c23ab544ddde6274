//! One client connection: the handshake, then requests in, replies and notifications out.
//!
//! Ordering: replies leave in request order. Reads run on this task against the tree; a
//! read that arrives while one of this session's writes is in flight waits (in `deferred`)
//! until the writer has answered every earlier write, so it sees them. Notifications are
//! queued by the writer while it holds the tree's write lock, and reads take the read lock
//! before queueing their reply, so a client always gets the event before any reply that
//! shows its effect.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::{Buf, BytesMut};
use parking_lot::{Mutex, RwLock};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, Notify};

use crate::proto::{
    frame, ConnectRequest, ConnectResponse, Decode, Encode, ErrorCode, EventType, Id, KeeperState,
    OpCode, ReplyHeader, Request, RequestHeader, Response, WatcherEvent, AUTH_XID,
    NOTIFICATION_XID,
};

use super::acl;
use super::fourlw;
use super::quorum::Role;
use super::reads;
use super::runtime::{ReplyTo, Shared, WriteJob};
use super::state::Outcome;
use super::txn::TxnBody;
use super::watch::{ConnId, WatchSink};

/// What the socket writer task sends.
enum Outbound {
    Frame(Vec<u8>),
    Close,
}

/// Per-connection counters for `cons` / `stat` (`ServerCnxn`'s statistics).
#[derive(Debug)]
pub struct ConnStats {
    pub received: AtomicU64,
    pub sent: AtomicU64,
    /// The last non-negative xid read; -1 before any.
    pub last_cxid: AtomicI32,
    /// The zxid of the last reply; -1 before any.
    pub last_zxid: AtomicI64,
    pub last_op: Mutex<&'static str>,
    pub last_latency_us: AtomicU64,
    /// Set once the connection asked a four-letter word (it reads no more).
    pub four_letter: AtomicBool,
    /// The server-wide sent counter (`ServerStats::packets_sent`).
    server_sent: Arc<AtomicU64>,
    /// Requests read and not answered yet, oldest first: `(xid, when read)`.
    pending: Mutex<VecDeque<(i32, Instant)>>,
    latency: Mutex<ConnLatency>,
}

/// Response latencies of one connection, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLatency {
    pub count: u64,
    pub total_us: u64,
    /// `u64::MAX` while `count` is 0.
    pub min_us: u64,
    pub max_us: u64,
    pub last_us: u64,
    /// Wall-clock milliseconds of the last reply; 0 before any.
    pub last_response_ms: i64,
}

impl Default for ConnLatency {
    fn default() -> Self {
        ConnLatency {
            count: 0,
            total_us: 0,
            min_us: u64::MAX,
            max_us: 0,
            last_us: 0,
            last_response_ms: 0,
        }
    }
}

impl Default for ConnStats {
    fn default() -> Self {
        ConnStats::new(Arc::default())
    }
}

impl ConnStats {
    /// Counters that also bump `server_sent` for every packet sent.
    pub fn new(server_sent: Arc<AtomicU64>) -> Self {
        ConnStats {
            received: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            last_cxid: AtomicI32::new(-1),
            last_zxid: AtomicI64::new(-1),
            last_op: Mutex::new("NA"),
            last_latency_us: AtomicU64::new(0),
            four_letter: AtomicBool::new(false),
            server_sent,
            pending: Mutex::new(VecDeque::new()),
            latency: Mutex::new(ConnLatency::default()),
        }
    }

    /// A request was read: remembers when, to time its reply.
    pub fn request_started(&self, xid: i32, at: Instant) {
        if xid >= 0 {
            self.last_cxid.store(xid, Ordering::Relaxed);
        }
        self.pending.lock().push_back((xid, at));
    }

    /// The reply to `xid` was queued: records its latency (replies leave in request
    /// order, so the oldest pending request with this xid is the one answered).
    fn responded(&self, xid: i32) {
        let started = {
            let mut pending = self.pending.lock();
            let Some(pos) = pending.iter().position(|&(x, _)| x == xid) else {
                return;
            };
            let started = pending.drain(..=pos).next_back().map(|(_, at)| at);
            started
        };
        let Some(started) = started else {
            return;
        };
        let us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.last_latency_us.store(us, Ordering::Relaxed);
        let mut l = self.latency.lock();
        l.count += 1;
        l.total_us = l.total_us.saturating_add(us);
        l.min_us = l.min_us.min(us);
        l.max_us = l.max_us.max(us);
        l.last_us = us;
        l.last_response_ms = super::runtime::now_millis();
    }

    fn packet_sent(&self) {
        self.sent.fetch_add(1, Ordering::Relaxed);
        self.server_sent.fetch_add(1, Ordering::Relaxed);
    }

    pub fn latency(&self) -> ConnLatency {
        *self.latency.lock()
    }

    /// `crst` (`ServerCnxn.resetStats`).
    pub fn reset(&self) {
        self.received.store(0, Ordering::Relaxed);
        self.sent.store(0, Ordering::Relaxed);
        self.last_cxid.store(-1, Ordering::Relaxed);
        self.last_zxid.store(-1, Ordering::Relaxed);
        *self.last_op.lock() = "NA";
        self.last_latency_us.store(0, Ordering::Relaxed);
        *self.latency.lock() = ConnLatency::default();
    }
}

/// The shared handle of a connection: the writer thread and the watch manager reach the
/// client through it.
pub struct Conn {
    pub id: ConnId,
    pub peer: SocketAddr,
    pub established: Instant,
    out: mpsc::UnboundedSender<Outbound>,
    /// Frames held back while the writer is answering a batch (see [`Conn::cork`]).
    cork: Mutex<Cork>,
    pub session_id: AtomicI64,
    pub timeout_ms: AtomicI32,
    ids: RwLock<Vec<Id>>,
    inflight: AtomicUsize,
    wake: Notify,
    closing: AtomicBool,
    /// Established while this server was read-only: writes get NOTREADONLY, and the connection
    /// closes when the server rejoins a quorum.
    pub read_only: AtomicBool,
    pub stats: ConnStats,
}

impl Conn {
    /// Queues a reply frame: header, then the body when `result` is Ok.
    pub fn reply(&self, xid: i32, zxid: i64, result: &Result<Response, ErrorCode>) {
        let mut out = Vec::with_capacity(64);
        frame::write(&mut out, |b| {
            let err = match result {
                Ok(_) => 0,
                Err(code) => code.as_i32(),
            };
            ReplyHeader { xid, zxid, err }.encode(b);
            if let Ok(body) = result {
                body.encode(b);
            }
        });
        self.stats.last_zxid.store(zxid, Ordering::Relaxed);
        self.stats.responded(xid);
        self.send(out);
    }

    fn send(&self, frame: Vec<u8>) {
        self.stats.packet_sent();
        let mut cork = self.cork.lock();
        if cork.depth > 0 {
            cork.held.extend_from_slice(&frame);
        } else {
            let _ = self.out.send(Outbound::Frame(frame));
        }
    }

    /// Holds every frame sent from now on (replies, watch events, from any thread) until the
    /// matching [`Conn::uncork`], then sends them as one write, in the order they were sent.
    /// The writer corks each connection it answers during a batch: one socket write and one
    /// wake-up of the connection's writer task per batch, instead of one per reply.
    pub fn cork(&self) {
        self.cork.lock().depth += 1;
    }

    pub fn uncork(&self) {
        let mut cork = self.cork.lock();
        cork.depth = cork.depth.saturating_sub(1);
        if cork.depth == 0 {
            self.send_held(&mut cork);
        }
    }

    /// Flushes what is queued, then closes the socket.
    pub fn close(&self) {
        self.closing.store(true, Ordering::Release);
        {
            let mut cork = self.cork.lock();
            self.send_held(&mut cork);
            let _ = self.out.send(Outbound::Close);
        }
        self.wake.notify_one();
    }

    /// Sends the frames a cork held; the caller holds the cork's lock, so a frame sent right
    /// after cannot overtake them.
    fn send_held(&self, cork: &mut Cork) {
        if !cork.held.is_empty() {
            let _ = self
                .out
                .send(Outbound::Frame(std::mem::take(&mut cork.held)));
        }
    }

    /// Called by the writer after it queued the reply to one of this connection's writes.
    pub fn write_done(&self) {
        self.inflight.fetch_sub(1, Ordering::AcqRel);
        self.wake.notify_one();
    }

    pub fn auth(&self) -> Vec<Id> {
        self.ids.read().clone()
    }

    pub fn session(&self) -> i64 {
        self.session_id.load(Ordering::Acquire)
    }

    pub fn outstanding(&self) -> usize {
        self.inflight.load(Ordering::Acquire)
    }
}

/// Connections corked for one batch of replies; dropping it uncorks them all.
#[derive(Default)]
pub struct CorkedBatch {
    conns: Vec<Arc<Conn>>,
    ids: std::collections::HashSet<ConnId>,
}

impl CorkedBatch {
    /// Corks `conn` unless this batch already did.
    pub fn hold(&mut self, conn: &Arc<Conn>) {
        if self.ids.insert(conn.id) {
            conn.cork();
            self.conns.push(conn.clone());
        }
    }
}

impl Drop for CorkedBatch {
    fn drop(&mut self) {
        for conn in self.conns.drain(..) {
            conn.uncork();
        }
    }
}

/// See [`Conn::cork`].
#[derive(Default)]
struct Cork {
    depth: u32,
    held: Vec<u8>,
}

impl WatchSink for Conn {
    fn notify(&self, zxid: i64, event: EventType, path: &str) {
        let mut out = Vec::with_capacity(32 + path.len());
        frame::write(&mut out, |b| {
            ReplyHeader {
                xid: NOTIFICATION_XID,
                zxid,
                err: 0,
            }
            .encode(b);
            WatcherEvent {
                event_type: event.as_i32(),
                state: KeeperState::SyncConnected.as_i32(),
                path: path.to_owned(),
            }
            .encode(b);
        });
        self.send(out);
    }

    fn auth_ids(&self) -> Vec<Id> {
        self.auth()
    }
}

/// Serves one accepted socket until it closes.
pub async fn serve(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let (reader, writer) = stream.into_split();
    let (tx, rx) = mpsc::unbounded_channel();
    let conn = Arc::new(Conn {
        id: shared.next_conn_id(),
        peer,
        established: Instant::now(),
        out: tx,
        cork: Mutex::default(),
        session_id: AtomicI64::new(0),
        timeout_ms: AtomicI32::new(0),
        ids: RwLock::new(vec![Id {
            scheme: "ip".into(),
            id: peer.ip().to_string(),
        }]),
        inflight: AtomicUsize::new(0),
        wake: Notify::new(),
        closing: AtomicBool::new(false),
        read_only: AtomicBool::new(false),
        stats: ConnStats::new(shared.stats.packets_sent.clone()),
    });
    let write_task = tokio::spawn(write_loop(writer, rx));
    shared.conns.lock().insert(conn.id, conn.clone());
    let mut session = Session {
        shared: shared.clone(),
        conn: conn.clone(),
        reader,
        // Small: most sessions are idle most of the time, and grows as frames need.
        buf: BytesMut::with_capacity(512),
        deferred: VecDeque::new(),
    };
    if let Err(reason) = session.run().await {
        tracing::debug!(peer = %peer, reason, "closing connection");
    }
    conn.close();
    shared.conns.lock().remove(&conn.id);
    shared.watches.lock().remove_conn(conn.id);
    let sid = conn.session();
    if sid != 0 {
        shared.tracker.lock().detach(sid, conn.id);
    }
    let _ = write_task.await;
}

/// Writes queued frames, as many per syscall as are waiting.
async fn write_loop(mut writer: OwnedWriteHalf, mut rx: mpsc::UnboundedReceiver<Outbound>) {
    // Grows with what is queued; an idle session's pings need a few dozen bytes, and a
    // buffer that grew for a burst is given back afterwards.
    let mut buf: Vec<u8> = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut close = false;
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Outbound::Frame(f) => buf.extend_from_slice(&f),
                Outbound::Close => {
                    close = true;
                    break;
                }
            }
            if buf.len() < 256 * 1024 {
                next = rx.try_recv().ok();
            }
        }
        if !buf.is_empty() && writer.write_all(&buf).await.is_err() {
            return;
        }
        buf.clear();
        if buf.capacity() > KEPT_WRITE_BUFFER {
            buf.shrink_to(KEPT_WRITE_BUFFER);
        }
        if close {
            let _ = writer.shutdown().await;
            return;
        }
    }
}

/// The most a connection's write buffer keeps between bursts.
const KEPT_WRITE_BUFFER: usize = 64 * 1024;

/// The reading side of a connection and its ordering state.
struct Session {
    shared: Arc<Shared>,
    conn: Arc<Conn>,
    reader: OwnedReadHalf,
    buf: BytesMut,
    /// Requests waiting for this session's in-flight writes.
    deferred: VecDeque<(i32, Request, Instant)>,
}

type Closing = &'static str;

impl Session {
    async fn run(&mut self) -> Result<(), Closing> {
        let first = self.read_first_frame().await?;
        let Some(payload) = first else {
            return Ok(());
        };
        self.handshake(&payload).await?;
        loop {
            while let Some(payload) = self.next_buffered_frame()? {
                self.on_frame(&payload)?;
            }
            if self.conn.closing.load(Ordering::Acquire) {
                return Ok(());
            }
            tokio::select! {
                read = self.reader.read_buf(&mut self.buf) => {
                    if read.map_err(|_| "read error")? == 0 {
                        return Err("client closed the connection");
                    }
                }
                () = self.conn.wake.notified() => {}
            }
            self.drain_deferred()?;
        }
    }

    /// Reads until at least `len` bytes are buffered.
    async fn fill_to(&mut self, len: usize, closed: Closing) -> Result<(), Closing> {
        while self.buf.len() < len {
            let read = self.reader.read_buf(&mut self.buf).await;
            if read.map_err(|_| "read error")? == 0 {
                return Err(closed);
            }
        }
        Ok(())
    }

    /// Reads the first frame, or answers a four-letter word (`None`).
    async fn read_first_frame(&mut self) -> Result<Option<Vec<u8>>, Closing> {
        self.fill_to(4, "closed before the handshake").await?;
        let word: [u8; 4] = [self.buf[0], self.buf[1], self.buf[2], self.buf[3]];
        if let Some(cmd) = fourlw::recognise(&word) {
            self.conn.stats.four_letter.store(true, Ordering::Relaxed);
            self.packet_received(4);
            let mut mask = None;
            if fourlw::takes_mask(&self.shared, cmd) {
                self.fill_to(12, "closed before the stmk mask").await?;
                mask = Some(i64::from_be_bytes([
                    self.buf[4],
                    self.buf[5],
                    self.buf[6],
                    self.buf[7],
                    self.buf[8],
                    self.buf[9],
                    self.buf[10],
                    self.buf[11],
                ]));
            }
            let text = fourlw::run(&self.shared, cmd, mask);
            if !text.is_empty() {
                self.conn.send(text.into_bytes());
            }
            self.conn.close();
            return Ok(None);
        }
        loop {
            if let Some(payload) = self.next_buffered_frame()? {
                self.packet_received(payload.len() + 4);
                self.shared
                    .stats
                    .connection_requests
                    .fetch_add(1, Ordering::Relaxed);
                return Ok(Some(payload));
            }
            let want = self.buf.len() + 1;
            self.fill_to(want, "closed before the handshake").await?;
        }
    }

    /// Counts a packet read from the client (`ServerCnxn.packetReceived`).
    fn packet_received(&self, bytes: usize) {
        self.shared
            .stats
            .packets_received
            .fetch_add(1, Ordering::Relaxed);
        self.shared
            .stats
            .bytes_received
            .fetch_add(bytes as u64, Ordering::Relaxed);
        self.conn.stats.received.fetch_add(1, Ordering::Relaxed);
    }

    fn next_buffered_frame(&mut self) -> Result<Option<Vec<u8>>, Closing> {
        match frame::check(&self.buf, self.shared.opts.max_buffer) {
            Ok(Some(len)) => {
                self.buf.advance(4);
                let payload = self.buf.split_to(len).to_vec();
                Ok(Some(payload))
            }
            Ok(None) => Ok(None),
            Err(e) => {
                tracing::warn!(peer = %self.conn.peer, "{e}; closing the connection");
                Err("bad frame length")
            }
        }
    }

    async fn handshake(&mut self, payload: &[u8]) -> Result<(), Closing> {
        let req = ConnectRequest::from_bytes(payload).map_err(|_| "malformed ConnectRequest")?;
        let shared = self.shared.clone();
        let last_zxid = shared.state.read().last_zxid;
        if req.last_zxid_seen > last_zxid {
            tracing::info!(
                peer = %self.conn.peer,
                "refusing session: client has seen zxid 0x{:x}, this server is at 0x{:x}; client must try another server",
                req.last_zxid_seen, last_zxid
            );
            return Err("client is ahead of this server");
        }
        let timeout = shared.opts.negotiate_timeout(req.timeout);
        if shared.role.get() == Role::ReadOnly {
            return self.read_only_handshake(&req, timeout);
        }
        let read_only = req.read_only.map(|_| false);
        if req.session_id == 0 {
            let session_id = shared.next_session_id();
            let passwd: Vec<u8> = (0..16).map(|_| rand::random::<u8>()).collect();
            let (tx, rx) = oneshot::channel();
            shared.submit(WriteJob {
                session_id,
                body: TxnBody::CreateSession { timeout, passwd },
                reply: ReplyTo::Handshake(tx),
            });
            match rx.await {
                Ok(Outcome::SessionCreated {
                    session_id,
                    timeout,
                    passwd,
                }) => self.established(session_id, timeout, passwd, read_only),
                _ => Err("session could not be created"),
            }
        } else {
            let known = shared
                .state
                .read()
                .sessions
                .get(&req.session_id)
                .map(|s| s.passwd.clone());
            let live = shared.tracker.lock().is_live(req.session_id);
            match known {
                Some(passwd) if live && passwd == req.passwd => {
                    if let Some(ensemble) = shared.ensemble.get() {
                        if let Err(e) = ensemble.revalidate(req.session_id).await {
                            tracing::info!(peer = %self.conn.peer, "cannot take over session 0x{:x}: {e}", req.session_id);
                            return Err("session could not be revalidated with the leader");
                        }
                    }
                    let previous = {
                        let mut tracker = shared.tracker.lock();
                        tracker.set_timeout(req.session_id, timeout, Instant::now());
                        tracker.attach(req.session_id, self.conn.id)
                    };
                    if let Some(old) = previous.and_then(|id| shared.conns.lock().get(&id).cloned())
                    {
                        old.close();
                    }
                    self.established(req.session_id, timeout, passwd, read_only)
                }
                _ => {
                    let mut out = Vec::new();
                    frame::write(&mut out, |b| {
                        ConnectResponse::expired(req.read_only).encode(b)
                    });
                    self.conn.send(out);
                    Err("session expired or password wrong")
                }
            }
        }
    }

    /// A session on a server cut off from the quorum: only for clients that allow read-only
    /// mode. A new one is local to this server (nothing can be logged); a known one keeps its
    /// id. Either way the client is told it is read-only.
    fn read_only_handshake(&mut self, req: &ConnectRequest, timeout: i32) -> Result<(), Closing> {
        if req.read_only != Some(true) {
            tracing::info!(peer = %self.conn.peer, "refusing a session from a client that does not allow read-only mode");
            return Err("read-only server, read-write client");
        }
        let shared = self.shared.clone();
        let (session_id, passwd) = if req.session_id == 0 {
            let passwd: Vec<u8> = (0..16).map(|_| rand::random::<u8>()).collect();
            (shared.next_session_id(), passwd)
        } else {
            let known = shared
                .state
                .read()
                .sessions
                .get(&req.session_id)
                .map(|s| s.passwd.clone());
            match known {
                Some(passwd) if passwd == req.passwd => (req.session_id, passwd),
                _ => {
                    let mut out = Vec::new();
                    frame::write(&mut out, |b| {
                        ConnectResponse::expired(req.read_only).encode(b)
                    });
                    self.conn.send(out);
                    return Err("session expired or password wrong");
                }
            }
        };
        shared
            .tracker
            .lock()
            .register(session_id, timeout, Instant::now());
        self.conn.read_only.store(true, Ordering::Release);
        self.established(session_id, timeout, passwd, Some(true))
    }

    fn established(
        &mut self,
        session_id: i64,
        timeout: i32,
        passwd: Vec<u8>,
        read_only: Option<bool>,
    ) -> Result<(), Closing> {
        self.conn.session_id.store(session_id, Ordering::Release);
        self.conn.timeout_ms.store(timeout, Ordering::Release);
        self.shared.tracker.lock().attach(session_id, self.conn.id);
        let mut out = Vec::new();
        frame::write(&mut out, |b| {
            ConnectResponse {
                protocol_version: 0,
                timeout,
                session_id,
                passwd,
                read_only,
            }
            .encode(b)
        });
        self.conn.send(out);
        Ok(())
    }

    fn on_frame(&mut self, payload: &[u8]) -> Result<(), Closing> {
        let received = Instant::now();
        self.packet_received(payload.len() + 4);
        let mut r = crate::proto::Reader::new(payload);
        let header = RequestHeader::decode(&mut r).map_err(|_| "malformed request header")?;
        let sid = self.conn.session();
        if !self.shared.tracker.lock().touch(sid, received) {
            return Err("session is closed");
        }
        let Some(op) = OpCode::from_i32(header.op) else {
            self.conn.reply(
                header.xid,
                self.shared.last_zxid(),
                &Err(ErrorCode::Unimplemented),
            );
            return Err("unknown opcode");
        };
        let request = match Request::decode(header.op, r.rest()) {
            Ok(request) => request,
            Err(e) => {
                tracing::warn!(peer = %self.conn.peer, ?op, "undecodable request: {e}");
                self.conn.reply(
                    header.xid,
                    self.shared.last_zxid(),
                    &Err(ErrorCode::MarshallingError),
                );
                return Err("undecodable request");
            }
        };
        self.conn.stats.request_started(header.xid, received);
        *self.conn.stats.last_op.lock() = op_abbrev(op);
        if !self.deferred.is_empty()
            || (self.conn.outstanding() > 0 && !goes_through_log(&self.shared, &request))
        {
            self.deferred.push_back((header.xid, request, received));
            return Ok(());
        }
        self.dispatch(header.xid, request, received)
    }

    fn drain_deferred(&mut self) -> Result<(), Closing> {
        while self.conn.outstanding() == 0 {
            let Some((xid, request, received)) = self.deferred.pop_front() else {
                return Ok(());
            };
            self.dispatch(xid, request, received)?;
        }
        Ok(())
    }

    fn dispatch(&mut self, xid: i32, request: Request, received: Instant) -> Result<(), Closing> {
        let shared = &self.shared;
        match request {
            Request::Check(_) => {
                self.conn
                    .reply(xid, shared.last_zxid(), &Err(ErrorCode::Unimplemented));
                Err("check outside multi")
            }
            Request::Auth(packet) => {
                match acl::authenticate(
                    shared.opts.acl.super_digest.as_deref(),
                    &packet.scheme,
                    packet.auth.as_deref().unwrap_or_default(),
                ) {
                    Ok(ids) => {
                        {
                            let mut held = self.conn.ids.write();
                            for id in ids {
                                if !held.contains(&id) {
                                    held.push(id);
                                }
                            }
                        }
                        self.conn.reply(AUTH_XID, 0, &Ok(Response::Empty));
                        Ok(())
                    }
                    Err(code) => {
                        shared.stats.auth_failed.fetch_add(1, Ordering::Relaxed);
                        self.conn.reply(AUTH_XID, 0, &Err(code));
                        Err("authentication failed")
                    }
                }
            }
            Request::CloseSession if self.conn.read_only.load(Ordering::Acquire) => {
                // Nothing was logged for a read-only session; it ends with its connection.
                let session = self.conn.session();
                if !shared.state.read().sessions.contains_key(&session) {
                    shared.tracker.lock().remove(session);
                }
                self.conn
                    .reply(xid, shared.last_zxid(), &Ok(Response::Empty));
                Err("read-only session closed")
            }
            Request::CloseSession => {
                shared.tracker.lock().mark_closing(self.conn.session());
                self.submit_write(xid, TxnBody::CloseSession, received);
                Ok(())
            }
            request if self.conn.read_only.load(Ordering::Acquire) && is_write(&request) => {
                self.conn
                    .reply(xid, shared.last_zxid(), &Err(ErrorCode::NotReadOnly));
                shared.stats.record_latency(received);
                Ok(())
            }
            request
                if goes_through_log(shared, &request)
                    && !self.conn.read_only.load(Ordering::Acquire) =>
            {
                let body = TxnBody::Write {
                    auth: self.conn.auth(),
                    request,
                };
                self.submit_write(xid, body, received);
                Ok(())
            }
            request => {
                let (zxid, result) = reads::execute(shared, &self.conn, &request);
                self.conn.reply(xid, zxid, &result);
                shared.stats.record_latency(received);
                Ok(())
            }
        }
    }

    fn submit_write(&mut self, xid: i32, body: TxnBody, received: Instant) {
        self.conn.inflight.fetch_add(1, Ordering::AcqRel);
        self.shared.submit(WriteJob {
            session_id: self.conn.session(),
            body,
            reply: ReplyTo::Conn {
                conn: self.conn.clone(),
                xid,
                received,
            },
        });
    }
}

fn is_write(request: &Request) -> bool {
    request.op_code().is_write()
}

/// Writes, and in an ensemble `sync`: a sync is a barrier entry in the log, answered once this
/// server has applied everything the leader committed before it.
fn goes_through_log(shared: &Shared, request: &Request) -> bool {
    is_write(request) || (matches!(request, Request::Sync(_)) && shared.opts.ensemble.is_some())
}

/// The short names `cons` prints for the last operation.
fn op_abbrev(op: OpCode) -> &'static str {
    match op {
        OpCode::Create | OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => "CREA",
        OpCode::Delete | OpCode::DeleteContainer => "DELE",
        OpCode::Exists => "EXIS",
        OpCode::GetData => "GETD",
        OpCode::SetData => "SETD",
        OpCode::GetAcl => "GETA",
        OpCode::SetAcl => "SETA",
        OpCode::GetChildren => "GETC",
        OpCode::GetChildren2 => "GETC",
        OpCode::Sync => "SYNC",
        OpCode::Ping => "PING",
        OpCode::Multi => "MULT",
        OpCode::MultiRead => "MLTR",
        OpCode::SetWatches | OpCode::SetWatches2 => "SETW",
        OpCode::CloseSession => "CLOS",
        OpCode::Auth => "AUTH",
        _ => "NA",
    }
}
