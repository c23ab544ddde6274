//! The shared handle of one client connection ([`Conn`]): what the writer, the quorum, the
//! watch manager and the four-letter words reach the client through — its reply and
//! notification queue (with corking for a batch of replies), its socket writer task, its
//! backlog accounting, its auth ids, writes in flight and counters. The serving task that
//! reads requests is the parent module.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Mutex, RwLock};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;

use crate::proto::{
    frame, Encode, ErrorCode, EventType, Id, KeeperState, ReplyHeader, Response, WatcherEvent,
    NOTIFICATION_XID,
};
use crate::server::options::Limits;
use crate::server::watch::{ConnId, WatchSink};

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
        l.last_response_ms = crate::server::clock::now_millis();
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
    pub(super) inflight_bytes: AtomicUsize,
    /// Bytes queued for the socket and not written yet.
    pub(super) backlog: Arc<Backlog>,
    pub(super) wake: Notify,
    pub(super) closing: AtomicBool,
    /// Established while this server was read-only: writes get NOTREADONLY, and the connection
    /// closes when the server rejoins a quorum.
    pub read_only: AtomicBool,
    pub stats: ConnStats,
}

impl Conn {
    /// A connection to `peer` writing through `writer`: its handle and its socket writer task.
    /// It holds the `ip` id and `auth_ids` (what a client certificate proved).
    pub fn open<W: AsyncWrite + Unpin + Send + 'static>(
        id: ConnId,
        peer: SocketAddr,
        writer: W,
        auth_ids: Vec<Id>,
        limits: &Limits,
        server_sent: Arc<AtomicU64>,
    ) -> (Arc<Conn>, JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut ids = vec![Id {
            scheme: "ip".into(),
            id: peer.ip().to_string(),
        }];
        ids.extend(auth_ids);
        let backlog = Arc::new(Backlog {
            bytes: AtomicUsize::new(0),
            drained: Notify::new(),
            pause_at: limits.conn_backlog_bytes,
            drop_at: limits.conn_backlog_drop_bytes,
            reply_limit: limits.reply_bytes,
            broken: AtomicBool::new(false),
        });
        let conn = Arc::new(Conn {
            id,
            peer,
            established: Instant::now(),
            out: tx,
            cork: Mutex::default(),
            session_id: AtomicI64::new(0),
            timeout_ms: AtomicI32::new(0),
            ids: RwLock::new(ids),
            inflight: AtomicUsize::new(0),
            inflight_sizes: Mutex::new(VecDeque::new()),
            inflight_bytes: AtomicUsize::new(0),
            backlog: backlog.clone(),
            wake: Notify::new(),
            closing: AtomicBool::new(false),
            read_only: AtomicBool::new(false),
            stats: ConnStats::new(server_sent),
        });
        let write_task = tokio::spawn(write_loop(writer, rx, backlog));
        (conn, write_task)
    }

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

    pub(super) fn send(&self, frame: Vec<u8>) {
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

    pub(crate) fn write_started(&self, size: usize) {
        self.inflight_sizes.lock().push_back(size);
        self.inflight_bytes.fetch_add(size, Ordering::AcqRel);
        self.inflight.fetch_add(1, Ordering::AcqRel);
    }

    pub fn auth(&self) -> Vec<Id> {
        self.ids.read().clone()
    }

    /// Adds the ids an addauth proved, within the connection's bounds on their number and
    /// size (every txn of this connection carries them).
    pub(super) fn add_auth_ids(&self, ids: Vec<Id>, limits: &Limits) -> Result<(), String> {
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
pub(super) struct Backlog {
    bytes: AtomicUsize,
    /// Signalled when the writer has brought the backlog under `pause_at`.
    pub(super) drained: Notify,
    /// At or above this, the connection reads no new requests.
    pause_at: usize,
    /// Above this, the connection is dropped.
    drop_at: usize,
    /// The largest reply sent as it is.
    reply_limit: usize,
    /// The socket failed: nothing queued will ever drain.
    pub(super) broken: AtomicBool,
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

    pub(super) fn is_full(&self) -> bool {
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

/// Writes queued frames, as many per syscall as are waiting.
async fn write_loop<W: AsyncWrite + Unpin>(
    mut writer: W,
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
        // `flush` costs nothing on a TcpStream; a TLS stream may hold records until then.
        if !buf.is_empty()
            && (writer.write_all(&buf).await.is_err() || writer.flush().await.is_err())
        {
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

/// What a connection's auth ids count against their byte bound.
pub(super) fn auth_bytes(ids: &[Id]) -> usize {
    ids.iter().map(|id| id.scheme.len() + id.id.len() + 8).sum()
}
