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
use super::quorum::{RevalidateError, Role};
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
    /// Sizes of this connection's writes in flight, oldest first (they are answered in
    /// order), and their sum.
    inflight_sizes: Mutex<VecDeque<usize>>,
    inflight_bytes: AtomicUsize,
    /// Bytes queued for the socket and not written yet.
    backlog: Arc<Backlog>,
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
        let mut out = encode_reply(xid, zxid, result);
        if out.len() > self.backlog.reply_limit {
            tracing::warn!(
                peer = %self.peer,
                "a reply of {} bytes is over the limit of {} (jute.maxbuffer); answering BADARGUMENTS",
                out.len(),
                self.backlog.reply_limit
            );
            out = encode_reply(xid, zxid, &Err(ErrorCode::BadArguments));
        }
        self.stats.last_zxid.store(zxid, Ordering::Relaxed);
        self.stats.responded(xid);
        self.send(out);
    }

    fn send(&self, frame: Vec<u8>) {
        let queued = self.backlog.add(frame.len());
        if queued > self.backlog.drop_at {
            // A client that stopped reading while notifications kept coming: its requests
            // were paused long ago (see Session::throttled); drop it rather than grow.
            self.backlog.remove(frame.len());
            if !self.closing.swap(true, Ordering::AcqRel) {
                tracing::warn!(
                    peer = %self.peer,
                    "dropping a client that does not read: {queued} bytes queued for it"
                );
            }
            self.wake.notify_one();
            return;
        }
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
        if let Some(size) = self.inflight_sizes.lock().pop_front() {
            self.inflight_bytes.fetch_sub(size, Ordering::AcqRel);
        }
        self.inflight.fetch_sub(1, Ordering::AcqRel);
        self.wake.notify_one();
    }

    fn write_started(&self, size: usize) {
        self.inflight_sizes.lock().push_back(size);
        self.inflight_bytes.fetch_add(size, Ordering::AcqRel);
        self.inflight.fetch_add(1, Ordering::AcqRel);
    }

    pub fn auth(&self) -> Vec<Id> {
        self.ids.read().clone()
    }

    /// Adds the ids an addauth proved, within the connection's bounds on their number and
    /// size (every txn of this connection carries them).
    fn add_auth_ids(&self, ids: Vec<Id>, limits: &super::options::Limits) -> Result<(), String> {
        let mut held = self.ids.write();
        let mut added: Vec<Id> = ids.into_iter().filter(|id| !held.contains(id)).collect();
        added.dedup();
        let count = held.len() + added.len();
        let bytes = auth_bytes(&held) + auth_bytes(&added);
        if count > limits.conn_auth_ids {
            return Err(format!(
                "{count} auth ids, more than {} per connection",
                limits.conn_auth_ids
            ));
        }
        if bytes > limits.conn_auth_bytes {
            return Err(format!(
                "{bytes} bytes of auth ids, more than {} per connection",
                limits.conn_auth_bytes
            ));
        }
        held.extend(added);
        Ok(())
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

/// The bytes queued for one connection's socket, shared by the connection (which adds what
/// it sends) and its socket writer task (which takes off what it wrote).
struct Backlog {
    bytes: AtomicUsize,
    /// Signalled when the writer has brought the backlog under `pause_at`.
    drained: Notify,
    /// At or above this, the connection reads no new requests.
    pause_at: usize,
    /// Above this, the connection is dropped.
    drop_at: usize,
    /// The largest reply sent as it is.
    reply_limit: usize,
    /// The socket failed: nothing queued will ever drain.
    broken: AtomicBool,
}

impl Backlog {
    fn add(&self, len: usize) -> usize {
        self.bytes.fetch_add(len, Ordering::AcqRel) + len
    }

    fn remove(&self, len: usize) {
        let before = self.bytes.fetch_sub(len, Ordering::AcqRel);
        if before >= self.pause_at && before - len < self.pause_at {
            self.drained.notify_one();
        }
    }

    fn is_full(&self) -> bool {
        self.bytes.load(Ordering::Acquire) >= self.pause_at
    }
}

fn encode_reply(xid: i32, zxid: i64, result: &Result<Response, ErrorCode>) -> Vec<u8> {
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
    out
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
    let limits = &shared.opts.limits;
    let backlog = Arc::new(Backlog {
        bytes: AtomicUsize::new(0),
        drained: Notify::new(),
        pause_at: limits.conn_backlog_bytes,
        drop_at: limits.conn_backlog_drop_bytes,
        reply_limit: limits.reply_bytes,
        broken: AtomicBool::new(false),
    });
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
        inflight_sizes: Mutex::new(VecDeque::new()),
        inflight_bytes: AtomicUsize::new(0),
        backlog: backlog.clone(),
        wake: Notify::new(),
        closing: AtomicBool::new(false),
        read_only: AtomicBool::new(false),
        stats: ConnStats::new(shared.stats.packets_sent.clone()),
    });
    let write_task = tokio::spawn(write_loop(writer, rx, backlog));
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
async fn write_loop(
    mut writer: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Outbound>,
    backlog: Arc<Backlog>,
) {
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
            backlog.broken.store(true, Ordering::Release);
            backlog.drained.notify_one();
            return;
        }
        backlog.remove(buf.len());
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

/// A request read while this session's writes were in flight: it waits for them.
struct Deferred {
    xid: i32,
    request: Request,
    received: Instant,
    size: usize,
}

/// The reading side of a connection and its ordering state.
struct Session {
    shared: Arc<Shared>,
    conn: Arc<Conn>,
    reader: OwnedReadHalf,
    buf: BytesMut,
    /// Requests waiting for this session's in-flight writes, with their sizes.
    deferred: VecDeque<Deferred>,
}

type Closing = &'static str;

/// What stops a connection from reading (see [`Session::throttled`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Throttle {
    Connection,
    Global,
}

/// How often a connection paused by `globalOutstandingLimit` looks again.
const GLOBAL_THROTTLE_RECHECK: std::time::Duration = std::time::Duration::from_millis(2);

impl Session {
    async fn run(&mut self) -> Result<(), Closing> {
        let limit = self.shared.opts.limits.sessionless_timeout;
        let first = tokio::time::timeout(limit, self.read_first_frame())
            .await
            .map_err(|_| "no handshake within nio.sessionlessCnxnTimeout")??;
        let Some(payload) = first else {
            return Ok(());
        };
        self.handshake(&payload).await?;
        loop {
            while self.throttled().is_none() {
                let Some(payload) = self.next_buffered_frame()? else {
                    break;
                };
                self.on_frame(&payload)?;
            }
            if self.conn.closing.load(Ordering::Acquire) {
                return Ok(());
            }
            if self.conn.backlog.broken.load(Ordering::Acquire) {
                return Err("write error");
            }
            match self.throttled() {
                // Not reading is the backpressure: the client's sends block once the socket
                // buffers fill, and nothing more is held here for it.
                Some(Throttle::Global) => {
                    // Waiters on the whole server's count are many; they look again shortly
                    // rather than each being woken by every answered write.
                    tokio::select! {
                        () = tokio::time::sleep(GLOBAL_THROTTLE_RECHECK) => {}
                        () = self.conn.wake.notified() => {}
                    }
                }
                Some(Throttle::Connection) => {
                    tokio::select! {
                        () = self.conn.backlog.drained.notified() => {}
                        () = self.conn.wake.notified() => {}
                    }
                }
                None => {
                    tokio::select! {
                        read = self.reader.read_buf(&mut self.buf) => {
                            if read.map_err(|_| "read error")? == 0 {
                                return Err("client closed the connection");
                            }
                        }
                        () = self.conn.wake.notified() => {}
                    }
                }
            }
            self.drain_deferred()?;
        }
    }

    /// Why this connection should read no new request now, if it should not: its own
    /// backlog (a slow reader, too many writes or waiting requests of its own), or too many
    /// writes in flight on the whole server (`globalOutstandingLimit`).
    fn throttled(&self) -> Option<Throttle> {
        let limits = &self.shared.opts.limits;
        if self.conn.backlog.is_full()
            || self.conn.inflight_bytes.load(Ordering::Acquire) >= limits.conn_inflight_write_bytes
            || self.deferred.len() >= limits.conn_deferred_requests
        {
            return Some(Throttle::Connection);
        }
        let outstanding = self.shared.stats.outstanding.load(Ordering::Relaxed);
        if outstanding >= 0 && outstanding as usize >= limits.global_outstanding {
            return Some(Throttle::Global);
        }
        None
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
            let mut known = shared
                .state
                .read()
                .sessions
                .get(&req.session_id)
                .map(|s| s.passwd.clone());
            let mut revalidated = false;
            if let (None, Some(ensemble)) = (&known, shared.ensemble.get()) {
                // Not applied here yet, perhaps: a client whose only reply was the handshake
                // reconnects with lastZxidSeen 0, so the zxid check above does not hold it
                // back from a member that lags. The leader knows every committed session.
                match ensemble.revalidate(req.session_id, &req.passwd).await {
                    Ok(()) => {
                        known = ensemble.applied_session(req.session_id).await;
                        if known.is_none() {
                            return Err("session not applied here in time");
                        }
                        revalidated = true;
                    }
                    Err(RevalidateError::Expired) => {}
                    Err(RevalidateError::Unavailable(e)) => {
                        tracing::info!(peer = %self.conn.peer, "cannot take over session 0x{:x}: {e}", req.session_id);
                        return Err("session could not be revalidated with the leader");
                    }
                }
            }
            let live = shared.tracker.lock().is_live(req.session_id);
            match known {
                Some(passwd) if live && passwd == req.passwd => {
                    if let (false, Some(ensemble)) = (revalidated, shared.ensemble.get()) {
                        if let Err(e) = ensemble.revalidate(req.session_id, &req.passwd).await {
                            tracing::info!(peer = %self.conn.peer, "cannot take over session 0x{:x}: {e}", req.session_id);
                            if e == RevalidateError::Expired {
                                return self.session_expired(&req);
                            }
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
                _ => self.session_expired(&req),
            }
        }
    }

    /// Tells the client its session expired (or its password is wrong), as Apache does.
    fn session_expired(&mut self, req: &ConnectRequest) -> Result<(), Closing> {
        let mut out = Vec::new();
        frame::write(&mut out, |b| {
            ConnectResponse::expired(req.read_only).encode(b)
        });
        self.conn.send(out);
        Err("session expired or password wrong")
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
        // An auth packet is answered with xid -4 whatever xid it came with, and is not timed,
        // so it leaves nothing behind to match a reply.
        if op != OpCode::Auth {
            self.conn.stats.request_started(header.xid, received);
        }
        *self.conn.stats.last_op.lock() = op_abbrev(op);
        let size = payload.len();
        if !self.deferred.is_empty()
            || (self.conn.outstanding() > 0 && !goes_through_log(&self.shared, &request))
        {
            self.deferred.push_back(Deferred {
                xid: header.xid,
                request,
                received,
                size,
            });
            return Ok(());
        }
        self.dispatch(header.xid, request, received, size)
    }

    fn drain_deferred(&mut self) -> Result<(), Closing> {
        while self.conn.outstanding() == 0 && !self.conn.backlog.is_full() {
            let Some(next) = self.deferred.pop_front() else {
                return Ok(());
            };
            self.dispatch(next.xid, next.request, next.received, next.size)?;
        }
        Ok(())
    }

    fn dispatch(
        &mut self,
        xid: i32,
        request: Request,
        received: Instant,
        size: usize,
    ) -> Result<(), Closing> {
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
                        if let Err(why) = self.conn.add_auth_ids(ids, &shared.opts.limits) {
                            tracing::warn!(peer = %self.conn.peer, "refusing addauth: {why}");
                            shared.stats.auth_failed.fetch_add(1, Ordering::Relaxed);
                            self.conn.reply(AUTH_XID, 0, &Err(ErrorCode::AuthFailed));
                            return Err("too many or too large auth ids");
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
                self.submit_write(xid, TxnBody::CloseSession, received, size);
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
                let auth = self.conn.auth();
                let txn_bytes = TXN_OVERHEAD + size + auth_bytes(&auth);
                if txn_bytes > LOGGABLE_TXN_BYTES {
                    tracing::warn!(
                        peer = %self.conn.peer,
                        "refusing a write whose transaction would be {txn_bytes} bytes, over the log's record limit"
                    );
                    self.conn
                        .reply(xid, shared.last_zxid(), &Err(ErrorCode::BadArguments));
                    shared.stats.record_latency(received);
                    return Ok(());
                }
                let body = TxnBody::Write { auth, request };
                self.submit_write(xid, body, received, size);
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

    fn submit_write(&mut self, xid: i32, body: TxnBody, received: Instant, size: usize) {
        self.conn.write_started(size);
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

/// A txn's bytes besides its request and auth ids (header, tag, lengths), generously.
const TXN_OVERHEAD: usize = 256;

/// The largest txn the write path takes: the log's record limit, less room for the framing
/// an ensemble's log entry adds around it.
const LOGGABLE_TXN_BYTES: usize = super::persist::MAX_RECORD_BYTES - 64 * 1024;

fn auth_bytes(ids: &[Id]) -> usize {
    ids.iter().map(|id| id.scheme.len() + id.id.len() + 8).sum()
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
