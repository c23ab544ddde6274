//! The write path: takes every waiting write as one batch, gives each a zxid, appends the
//! batch to the log with one fsync (group commit), then applies it to the state and answers.
//! Nothing is applied, and so nothing is visible to any client, before it is durable.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::clock::now_millis;
use super::conn::handle::CorkedBatch;
use super::persist::{LogEntryRef, Wal};
use super::shared::{ReplyTo, Shared, WriteJob};
use super::snapshotter::{Chain, SnapshotSchedule, Snapshotter};
use super::state::{Outcome, Speculation};
use super::txn::{Txn, TxnBody};
use crate::proto::Response;

const MAX_BATCH: usize = 2048;

/// Where the writer starts: the log as recovery left it, how many txns it replayed, and the
/// snapshot chain it read.
pub struct Resume {
    pub wal: Wal,
    pub replayed: u64,
    pub chain: Option<Chain>,
}

/// Runs until the server stops or every sender is gone.
pub fn run(shared: Arc<Shared>, mut rx: mpsc::UnboundedReceiver<WriteJob>, resume: Resume) {
    let Resume {
        mut wal,
        replayed,
        chain,
    } = resume;
    let mut schedule = SnapshotSchedule::new(shared.opts.snap_count, shared.opts.snap_size_limit);
    schedule.logged(replayed, 0);
    let mut snapshotter = Snapshotter::resume(chain);
    let mut last_time = 0i64;
    let mut batch: Vec<WriteJob> = Vec::with_capacity(MAX_BATCH);
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
        let mut logged_txns = 0u64;
        let mut logged_bytes = 0u64;
        while !batch.is_empty() {
            let (jobs, txns, encoded) = next_segment(&shared, &mut batch, last_time);
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
                snapshotter.finish();
                return;
            }
            shared.stats.fsync_count.fetch_add(1, Ordering::Relaxed);
            apply_txns(
                &shared,
                jobs.into_iter().map(|job| Some(job.reply)).zip(&txns),
            );
            logged_txns += txns.len() as u64;
            logged_bytes += encoded.iter().map(|e| e.len() as u64).sum::<u64>();
        }
        if schedule.logged(logged_txns, logged_bytes) {
            if snapshotter.busy() {
                tracing::info!("the previous snapshot is still being written; skipping this one");
                schedule.restart();
            } else {
                match snapshotter.take(&shared, &mut wal) {
                    Ok(()) => schedule.restart(),
                    Err(e) => tracing::warn!("snapshot failed: {e}"),
                }
            }
        }
    }
    snapshotter.finish();
}

/// A client write whose payload is larger than this is applied speculatively before it is
/// logged; if it would fail, only its error is logged (as Apache logs an error txn), so a
/// client cannot fill the log with large writes it has no right to make.
const SPECULATE_ABOVE_BYTES: usize = 16 * 1024;

/// Takes the next run of jobs to log with one fsync, with their txns and encodings. When the
/// batch holds a large write, the run ends before the first job that cannot be speculated
/// (session and reconfig txns), so that every large write is checked against the state
/// exactly as the txns before it will leave it.
fn next_segment(
    shared: &Shared,
    batch: &mut Vec<WriteJob>,
    time: i64,
) -> (Vec<WriteJob>, Vec<Txn>, Vec<Vec<u8>>) {
    let first_zxid = shared.read_state().last_zxid + 1;
    let mut txns: Vec<Txn> = batch
        .iter()
        .enumerate()
        .map(|(i, job)| Txn {
            zxid: first_zxid + i as i64,
            time,
            session_id: job.session_id,
            rules: shared.opts.rules,
            body: job.body.clone(),
        })
        .collect();
    let mut encoded: Vec<Vec<u8>> = txns.iter().map(Txn::encode).collect();
    let large = |t: &Txn, bytes: &Vec<u8>| {
        bytes.len() > SPECULATE_ABOVE_BYTES && matches!(t.body, TxnBody::Write { .. })
    };
    if !txns.iter().zip(&encoded).any(|(t, e)| large(t, e)) {
        return (std::mem::take(batch), txns, encoded);
    }
    let mut end = txns.len();
    {
        let mut state = shared.write_state();
        let mut speculation = Speculation::default();
        for i in 0..txns.len() {
            let speculable =
                matches!(txns[i].body, TxnBody::Write { .. }) && sync_barrier(&txns[i]).is_none();
            if !speculable {
                // Applied for real first; what follows is looked at in the next segment.
                end = (i + usize::from(i == 0)).min(txns.len());
                break;
            }
            let refused = state.speculate(&txns[i], &mut speculation);
            if let Some(body) = refused.filter(|_| large(&txns[i], &encoded[i])) {
                txns[i].body = body;
                encoded[i] = txns[i].encode();
            }
        }
        state.end_speculation(speculation);
    }
    txns.truncate(end);
    encoded.truncate(end);
    let jobs = batch.drain(..end).collect();
    (jobs, txns, encoded)
}

/// The path of a sync barrier (an ensemble's `sync`, which is logged but changes nothing).
fn sync_barrier(txn: &Txn) -> Option<&str> {
    match &txn.body {
        TxnBody::Write {
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
    let mut corked = CorkedBatch::default();
    {
        let mut state = shared.write_state();
        let mut watches = shared.watches();
        for (reply, txn) in txns {
            let reply = match reply {
                Some(reply) => {
                    shared.write_finished();
                    reply
                }
                None => ReplyTo::Nobody,
            };
            if let Some(path) = sync_barrier(txn) {
                // An ensemble's sync: everything before it is applied; nothing changes.
                let response = Ok(Response::Sync {
                    path: path.to_owned(),
                });
                reply.answer(shared, state.last_zxid, &response, Some(&mut corked));
                continue;
            }
            let applied = state.apply(txn);
            for trigger in &applied.triggers {
                watches.trigger(trigger, applied.zxid, shared.opts.acl.skip_acl);
            }
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
                        .tracker()
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
                    reply.answer(
                        shared,
                        applied.zxid,
                        &Ok(Response::Empty),
                        Some(&mut corked),
                    );
                }
                (Outcome::Reply(result), reply) => {
                    reply.answer(shared, applied.zxid, &result, Some(&mut corked));
                }
            }
        }
    }
    drop(corked);
    for session_id in closed_sessions {
        let owner = {
            let mut tracker = shared.tracker();
            let owner = tracker.owner(session_id);
            tracker.remove(session_id);
            owner
        };
        if let Some(conn) = owner.and_then(|id| shared.conn(id)) {
            conn.close();
        }
    }
}
