//! What every connection, the write path, the ensemble member and the background tasks
//! share: [`Shared`] (options, the state, watches, connections, sessions, counters, the
//! role) and the write queue's [`WriteJob`]s.
//!
//! Locks: `state` may be held while `watches` is taken (a write queues its notifications
//! under the write lock, a read registers its watch under the read lock), never the other
//! way round. `conns` and `tracker` are only taken alone, never while another of these is
//! held.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Mutex, RwLock};
use tokio::sync::{mpsc, oneshot, Notify};

use super::conn::handle::{Conn, CorkedBatch};
use super::options::ServerOptions;
use super::role::{Role, RoleCell};
use super::sessions::SessionTracker;
use super::state::{Outcome, State};
use super::stats::ServerStats;
use super::txn::TxnBody;
use super::watch::{ConnId, WatchManager};
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
    /// ends in: reply, latency, the connection's write done). A connection in `batch` is
    /// corked until the batch is dropped, so a batch's replies leave in one socket write.
    /// Handshakes and the server's own writes have nobody to answer here.
    pub fn answer(
        self,
        shared: &Shared,
        zxid: i64,
        result: &Result<Response, ErrorCode>,
        batch: Option<&mut CorkedBatch>,
    ) {
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
            shared.stats.record_latency(received);
            conn.write_done();
        }
    }
}

/// State shared by every connection, the writer and the background tasks.
pub struct Shared {
    pub opts: ServerOptions,
    pub state: RwLock<State>,
    pub watches: Mutex<WatchManager>,
    pub conns: Mutex<HashMap<ConnId, Arc<Conn>>>,
    pub tracker: Mutex<SessionTracker>,
    pub stats: ServerStats,
    pub local_addr: SocketAddr,
    pub(super) writes: mpsc::UnboundedSender<WriteJob>,
    pub(super) next_conn: AtomicU64,
    pub(super) next_session: AtomicI64,
    pub(super) stopping: AtomicBool,
    pub(super) stopped: Notify,
    pub(super) failure: Mutex<Option<String>>,
    /// Standalone, or this member's place in the ensemble.
    pub role: RoleCell,
}

impl Shared {
    pub fn submit(&self, job: WriteJob) {
        self.stats.outstanding.fetch_add(1, Ordering::Relaxed);
        if self.writes.send(job).is_err() {
            tracing::error!("write path is gone; dropping a write");
        }
    }

    /// A write left the write path (answered, refused or given up on).
    pub fn write_finished(&self) {
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
