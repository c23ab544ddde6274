//! What every connection, the write path, the ensemble member and the background tasks
//! share: [`Shared`] (options, the state, watches, connections, sessions, counters, the
//! role) and the write queue's [`WriteJob`]s.
//!
//! Its locks are private; the methods that take them say when they may be taken. `state`
//! may be held while `watches` is taken (a write queues its notifications under the write
//! lock, a read registers its watch under the read lock), never the other way round.
//! `tracker` comes last: it may be taken under both (a session created is registered while
//! it is applied), and nothing is taken while it is held. The connection table is only
//! taken alone.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use tokio::sync::{mpsc, oneshot, Notify};

use super::conn::handle::{Conn, CorkedBatch};
use super::options::ServerOptions;
use super::role::{Role, RoleCell};
use super::sessions::SessionTracker;
use super::state::{Outcome, State};
use super::stats::ServerStats;
use super::txn::TxnBody;
use super::watch::{ConnId, WatchLimits, WatchManager};
use crate::proto::{ErrorCode, Response};

/// A write waiting for the writer thread, and who gets the answer.
pub struct WriteJob {
    pub session_id: i64,
    pub body: TxnBody,
    pub reply: ReplyTo,
}

pub enum ReplyTo {
    /// A client request: reply on the connection with this xid.
    Conn {
        conn: Arc<Conn>,
        xid: i32,
        received: Instant,
    },
    /// A session being created during a handshake.
    Handshake(oneshot::Sender<Outcome>),
    /// Internal: expiry, container cleanup.
    Nobody,
}

impl ReplyTo {
    /// Answers a client's write with `result` at `zxid` (the one sequence every write path
    /// ends in: reply, latency, the connection's write done, the write no longer
    /// outstanding). A connection in `batch` is corked until the batch is dropped, so a
    /// batch's replies leave in one socket write. Handshakes and the server's own writes
    /// have nobody to answer here.
    pub fn answer(
        self,
        shared: &Shared,
        zxid: i64,
        result: &Result<Response, ErrorCode>,
        batch: Option<&mut CorkedBatch>,
    ) {
        shared.write_finished();
        if let ReplyTo::Conn {
            conn,
            xid,
            received,
        } = self
        {
            if let Some(batch) = batch {
                batch.hold(&conn);
            }
            conn.reply(xid, zxid, result);
            shared.stats.record_update_latency(received);
            conn.write_done();
        }
    }

    /// A session was created: the handshake waiting for it goes on.
    pub fn session_created(self, shared: &Shared, outcome: Outcome) {
        shared.write_finished();
        if let ReplyTo::Handshake(tx) = self {
            let _ = tx.send(outcome);
        }
    }

    /// Gives up on a write whose outcome this server cannot know (its entry may or may not
    /// be applied): the connection closes, the truthful "outcome unknown" for a client,
    /// which resolves it on reconnect.
    pub fn abandon(self, shared: &Shared) {
        shared.write_finished();
        if let ReplyTo::Conn { conn, .. } = self {
            conn.close();
        }
    }
}

/// State shared by every connection, the writer and the background tasks.
pub struct Shared {
    pub opts: ServerOptions,
    state: RwLock<State>,
    watches: Mutex<WatchManager>,
    conns: Mutex<HashMap<ConnId, Arc<Conn>>>,
    tracker: Mutex<SessionTracker>,
    pub stats: ServerStats,
    pub local_addr: SocketAddr,
    writes: mpsc::UnboundedSender<WriteJob>,
    next_conn: AtomicU64,
    next_session: AtomicI64,
    pub(super) stopping: AtomicBool,
    pub(super) stopped: Notify,
    pub(super) failure: Mutex<Option<String>>,
    /// Standalone, or this member's place in the ensemble.
    pub role: RoleCell,
}

impl Shared {
    /// What a server starting with `state` (and its sessions' deadlines in `tracker`)
    /// shares; writes go to `writes`, new sessions are numbered from `first_session`.
    pub fn new(
        opts: ServerOptions,
        state: State,
        tracker: SessionTracker,
        local_addr: SocketAddr,
        writes: mpsc::UnboundedSender<WriteJob>,
        first_session: i64,
    ) -> Self {
        Shared {
            state: RwLock::new(state),
            watches: Mutex::new(WatchManager::with_limits(WatchLimits {
                watches: opts.limits.conn_watches,
                path_bytes: opts.limits.conn_watch_path_bytes,
            })),
            conns: Mutex::new(HashMap::new()),
            tracker: Mutex::new(tracker),
            stats: ServerStats::default(),
            local_addr,
            writes,
            next_conn: AtomicU64::new(1),
            next_session: AtomicI64::new(first_session),
            stopping: AtomicBool::new(false),
            stopped: Notify::new(),
            failure: Mutex::new(None),
            role: RoleCell::default(),
            opts,
        }
    }

    pub fn submit(&self, job: WriteJob) {
        self.stats.outstanding.fetch_add(1, Ordering::Relaxed);
        if self.writes.send(job).is_err() {
            tracing::error!("write path is gone; dropping a write");
        }
    }

    pub fn read_state(&self) -> RwLockReadGuard<'_, State> {
        self.state.read()
    }

    /// The state for applying txns; take `watches` after it, never before.
    pub fn write_state(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write()
    }

    /// The state's lock itself, for a snapshot image written a chunk at a time.
    pub fn state_lock(&self) -> &RwLock<State> {
        &self.state
    }

    /// The watch manager; `state` may already be held, nothing else.
    pub fn watches(&self) -> MutexGuard<'_, WatchManager> {
        self.watches.lock()
    }

    /// The session deadlines and owners; take it while holding none of the other locks.
    pub fn tracker(&self) -> MutexGuard<'_, SessionTracker> {
        self.tracker.lock()
    }

    pub fn add_conn(&self, conn: &Arc<Conn>) {
        self.conns.lock().insert(conn.id, conn.clone());
    }

    pub fn remove_conn(&self, id: ConnId) {
        self.conns.lock().remove(&id);
    }

    pub fn conn(&self, id: ConnId) -> Option<Arc<Conn>> {
        self.conns.lock().get(&id).cloned()
    }

    /// Every open connection, in no particular order.
    pub fn connections(&self) -> Vec<Arc<Conn>> {
        self.conns.lock().values().cloned().collect()
    }

    pub fn connection_count(&self) -> usize {
        self.conns.lock().len()
    }

    /// A write left the write path (its [`ReplyTo`] was consumed).
    fn write_finished(&self) {
        self.stats.outstanding.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn last_zxid(&self) -> i64 {
        self.state.read().last_zxid
    }

    pub fn next_conn_id(&self) -> ConnId {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    pub fn next_session_id(&self) -> i64 {
        self.next_session.fetch_add(1, Ordering::Relaxed)
    }

    /// Stops the server because durability can no longer be promised.
    pub fn fail(&self, reason: String) {
        tracing::error!("{reason}; shutting down");
        *self.failure.lock() = Some(reason);
        self.stop();
    }

    pub fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
        self.stopped.notify_waiters();
        self.close_all_connections();
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Closes every client connection; sessions live on.
    pub fn close_all_connections(&self) {
        for conn in self.conns.lock().values() {
            conn.close();
        }
    }

    /// Closes every connection whose session was established in read-only mode.
    pub fn close_read_only_connections(&self) {
        for conn in self.conns.lock().values() {
            if conn.read_only.load(Ordering::Acquire) {
                conn.close();
            }
        }
    }

    /// Whether this server decides session expiry and container cleanup: standalone, or the
    /// ensemble's leader.
    pub fn decides_expiry(&self) -> bool {
        matches!(self.role.get(), Role::Standalone | Role::Leader)
    }
}
