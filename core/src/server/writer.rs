//! The write path: takes every waiting write as one batch, gives each a zxid, appends the
//! batch to the log with one fsync (group commit), then applies it to the state and answers.
//! Nothing is applied, and so nothing is visible to any client, before it is durable.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::image;
use super::persist::{self, LogEntryRef, Wal};
use super::runtime::{now_millis, ReplyTo, Shared, WriteJob};
use super::state::Outcome;
use super::txn::Txn;

const MAX_BATCH: usize = 2048;

/// Runs until the server stops or every sender is gone.
pub fn run(
    shared: Arc<Shared>,
    mut rx: mpsc::UnboundedReceiver<WriteJob>,
    mut wal: Wal,
    replayed: u64,
) {
    let mut since_snapshot = replayed;
    let mut last_time = 0i64;
    let mut batch: Vec<WriteJob> = Vec::with_capacity(MAX_BATCH);
    let mut snapshot_reapers: Vec<std::thread::JoinHandle<()>> = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        if shared.is_stopping() {
            break;
        }
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        last_time = last_time.max(now_millis());
        let first_zxid = shared.state.read().last_zxid + 1;
        let txns: Vec<Txn> = batch
            .iter()
            .enumerate()
            .map(|(i, job)| Txn {
                zxid: first_zxid + i as i64,
                time: last_time,
                session_id: job.session_id,
                rules: shared.opts.rules,
                body: job.body.clone(),
            })
            .collect();
        let encoded: Vec<Vec<u8>> = txns.iter().map(Txn::encode).collect();
        let entries: Vec<LogEntryRef<'_>> = txns
            .iter()
            .zip(&encoded)
            .map(|(t, bytes)| LogEntryRef {
                zxid: t.zxid as u64,
                payload: bytes,
            })
            .collect();
        if let Err(e) = wal.append(&entries) {
            shared.fail(format!("cannot write the transaction log: {e}"));
            break;
        }
        shared.stats.fsync_count.fetch_add(1, Ordering::Relaxed);
        apply_txns(
            &shared,
            batch.drain(..).map(|job| Some(job.reply)).zip(&txns),
        );
        since_snapshot += txns.len() as u64;
        if since_snapshot >= shared.opts.snap_count {
            snapshot_reapers.retain(|reaper| !reaper.is_finished());
            match take_snapshot(&shared, &mut wal) {
                Ok(reaper) => {
                    snapshot_reapers.extend(reaper);
                    since_snapshot = 0;
                }
                Err(e) => tracing::warn!("snapshot failed: {e}"),
            }
        }
    }
    // A stop right after a snapshot began lets it finish, so no half-written file is left.
    for reaper in snapshot_reapers {
        let _ = reaper.join();
    }
}

/// The path of a sync barrier (an ensemble's `sync`, which is logged but changes nothing).
fn sync_barrier(txn: &Txn) -> Option<&str> {
    match &txn.body {
        super::txn::TxnBody::Write {
            request: crate::proto::Request::Sync(req),
            ..
        } => Some(&req.path),
        _ => None,
    }
}

/// Applies txns in order, fires their watches and answers whoever is waiting on this server.
/// `None` marks a txn proposed by another ensemble member: nobody here waits for it.
pub(super) fn apply_txns<'a>(
    shared: &Shared,
    txns: impl IntoIterator<Item = (Option<ReplyTo>, &'a Txn)>,
) {
    let mut closed_sessions = Vec::new();
    {
        let mut state = shared.state.write();
        let mut watches = shared.watches.lock();
        for (reply, txn) in txns {
            if let Some(path) = sync_barrier(txn) {
                // An ensemble's sync: everything before it is applied; nothing changes.
                if let Some(ReplyTo::Conn {
                    conn,
                    xid,
                    received,
                }) = reply
                {
                    shared.stats.outstanding.fetch_sub(1, Ordering::Relaxed);
                    let response = Ok(crate::proto::Response::Sync {
                        path: path.to_owned(),
                    });
                    conn.reply(xid, state.last_zxid, &response);
                    shared.stats.record_latency(received);
                    conn.write_done();
                }
                continue;
            }
            let applied = state.apply(txn);
            for trigger in &applied.triggers {
                watches.trigger(trigger, applied.zxid, shared.opts.acl.skip_acl);
            }
            let reply = match reply {
                Some(reply) => {
                    shared.stats.outstanding.fetch_sub(1, Ordering::Relaxed);
                    reply
                }
                None => ReplyTo::Nobody,
            };
            match (applied.outcome, reply) {
                (
                    Outcome::SessionCreated {
                        session_id,
                        timeout,
                        ..
                    },
                    reply,
                ) => {
                    shared
                        .tracker
                        .lock()
                        .register(session_id, timeout, std::time::Instant::now());
                    if let ReplyTo::Handshake(tx) = reply {
                        let outcome = Outcome::SessionCreated {
                            session_id,
                            timeout,
                            passwd: state
                                .sessions
                                .get(&session_id)
                                .map(|s| s.passwd.clone())
                                .unwrap_or_default(),
                        };
                        let _ = tx.send(outcome);
                    }
                }
                (Outcome::SessionClosed { session_id }, reply) => {
                    closed_sessions.push(session_id);
                    if let ReplyTo::Conn {
                        conn,
                        xid,
                        received,
                    } = reply
                    {
                        conn.reply(xid, applied.zxid, &Ok(crate::proto::Response::Empty));
                        shared.stats.record_latency(received);
                        conn.write_done();
                    }
                }
                (
                    Outcome::Reply(result),
                    ReplyTo::Conn {
                        conn,
                        xid,
                        received,
                    },
                ) => {
                    conn.reply(xid, applied.zxid, &result);
                    shared.stats.record_latency(received);
                    conn.write_done();
                }
                (Outcome::Reply(_), _) => {}
            }
        }
    }
    for session_id in closed_sessions {
        let owner = {
            let mut tracker = shared.tracker.lock();
            let owner = tracker.owner(session_id);
            tracker.remove(session_id);
            owner
        };
        if let Some(conn) = owner.and_then(|id| shared.conns.lock().get(&id).cloned()) {
            conn.close();
        }
    }
}

/// Snapshots the state without stopping writes: a forked child gets a copy-on-write image
/// of memory as it is now and writes it out, while this thread releases the lock at once
/// and goes on applying. The log rolls to a new segment at the snapshot's zxid either way.
/// Where fork is refused, the snapshot is written here, with writes waiting. Returns the
/// thread that waits for the child, if one was forked.
fn take_snapshot(
    shared: &Shared,
    wal: &mut Wal,
) -> Result<Option<std::thread::JoinHandle<()>>, persist::PersistError> {
    let state = shared.state.read();
    let zxid = state.last_zxid.max(0) as u64;
    let dir = shared.opts.snap_dir();
    match fork_snapshot_writer(&dir, zxid, &state) {
        Some(child) => {
            drop(state);
            wal.roll()?;
            let spawned = std::thread::Builder::new()
                .name("zk-snapshot-reaper".into())
                .spawn(move || reap_snapshot_writer(child, zxid));
            match spawned {
                Ok(reaper) => return Ok(Some(reaper)),
                Err(e) => tracing::warn!("cannot watch the snapshot writer: {e}"),
            }
        }
        None => {
            let started = std::time::Instant::now();
            let path = persist::snapshot::write(&dir, zxid, &mut |out| image::write(&state, out))?;
            drop(state);
            wal.roll()?;
            tracing::info!(path = %path.display(), took_ms = started.elapsed().as_millis() as u64, "snapshot written");
        }
    }
    Ok(None)
}

/// Forks a child that writes the snapshot and exits; `None` if fork failed.
fn fork_snapshot_writer(
    dir: &std::path::Path,
    zxid: u64,
    state: &super::state::State,
) -> Option<libc::pid_t> {
    // SAFETY: the child runs only this thread's code: it closes every inherited descriptor
    // but stdio (so client sockets close when the parent closes them), writes the file with
    // std::fs and the state it already holds the read lock on, and leaves with `_exit`
    // without running destructors, atexit handlers or other threads' code.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => {
            tracing::warn!(
                "fork failed ({}); writing the snapshot in place",
                std::io::Error::last_os_error()
            );
            None
        }
        0 => {
            let ok = unsafe { libc::close_range(3, libc::c_uint::MAX, 0) } == 0
                && persist::snapshot::write(dir, zxid, &mut |out| image::write(state, out)).is_ok();
            unsafe { libc::_exit(if ok { 0 } else { 1 }) }
        }
        child => Some(child),
    }
}

fn reap_snapshot_writer(child: libc::pid_t, zxid: u64) {
    let started = std::time::Instant::now();
    let mut status: libc::c_int = 0;
    // SAFETY: waits for our own child; `status` is a valid out-pointer.
    let waited = unsafe { libc::waitpid(child, &mut status, 0) };
    let succeeded = waited == child && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    if succeeded {
        tracing::info!(
            zxid = format!("0x{zxid:x}"),
            took_ms = started.elapsed().as_millis() as u64,
            "snapshot written"
        );
    } else {
        tracing::warn!(
            zxid = format!("0x{zxid:x}"),
            status,
            "the snapshot writer failed; the log still holds every txn"
        );
    }
}
