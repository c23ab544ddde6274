//! The standalone write path: takes every waiting write as one batch (`front::Batch`), gives
//! each a zxid, appends the batch to the log with one fsync (group commit), then applies it
//! and answers (`front::Commit`). Nothing is applied, and so nothing is visible to any
//! client, before it is durable.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::clock::now_millis;
use super::front::{sync_barrier, Batch, Commit};
use super::persist::{LogEntryRef, Wal};
use super::shared::{Shared, WriteJob};
use super::snapshotter::{Chain, SnapshotSchedule, Snapshotter};
use super::state::Speculation;
use super::txn::{Txn, TxnBody};

const MAX_BATCH: usize = 2048;

/// Where the writer starts: the log as recovery left it, how many txns it replayed, and the
/// snapshot chain it read.
pub struct Resume {
    pub wal: Wal,
    pub replayed: u64,
    pub chain: Option<Chain>,
}

/// Runs until the server stops or every sender is gone.
pub fn run(shared: Arc<Shared>, mut queue: mpsc::UnboundedReceiver<WriteJob>, resume: Resume) {
    let Resume {
        mut wal,
        replayed,
        chain,
    } = resume;
    let mut schedule = SnapshotSchedule::new(shared.opts.snap_count, shared.opts.snap_size_limit);
    schedule.logged(replayed, 0);
    let mut snapshotter = Snapshotter::resume(chain);
    let mut last_time = 0i64;
    while let Some(first) = queue.blocking_recv() {
        if shared.is_stopping() {
            break;
        }
        let mut batch = Batch::take(first, &mut queue, MAX_BATCH, shared.opts.rules);
        last_time = last_time.max(now_millis());
        let mut logged_txns = 0u64;
        let mut logged_bytes = 0u64;
        while !batch.is_empty() {
            let (segment, encoded) = next_segment(&shared, &mut batch, last_time);
            let entries: Vec<LogEntryRef<'_>> = segment
                .txns
                .iter()
                .zip(&encoded)
                .map(|(t, bytes)| LogEntryRef {
                    zxid: t.zxid as u64,
                    payload: bytes,
                })
                .collect();
            let appending = std::time::Instant::now();
            if let Err(e) = wal.append(&entries) {
                shared.fail(format!("cannot write the transaction log: {e}"));
                snapshotter.finish();
                return;
            }
            shared.stats.fsync_time.record(appending.elapsed());
            shared.stats.fsync_count.fetch_add(1, Ordering::Relaxed);
            let mut commit = Commit::begin(&shared);
            for (reply, txn) in segment.replies.into_iter().zip(&segment.txns) {
                commit.apply(Some(reply), txn);
            }
            commit.finish();
            logged_txns += segment.txns.len() as u64;
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

/// Takes the next run of writes to log with one fsync, with their zxids and time set, and
/// their encodings. When the batch holds a large write, the run ends before the first one
/// that cannot be speculated (session and reconfig txns), so that every large write is
/// checked against the state exactly as the txns before it will leave it.
fn next_segment(shared: &Shared, batch: &mut Batch, time: i64) -> (Batch, Vec<Vec<u8>>) {
    let first_zxid = shared.read_state().last_zxid + 1;
    for (i, txn) in batch.txns.iter_mut().enumerate() {
        txn.zxid = first_zxid + i as i64;
        txn.time = time;
    }
    let mut encoded: Vec<Vec<u8>> = batch.txns.iter().map(Txn::encode).collect();
    let large = |t: &Txn, bytes: &Vec<u8>| {
        bytes.len() > SPECULATE_ABOVE_BYTES && matches!(t.body, TxnBody::Write { .. })
    };
    let txns = &mut batch.txns;
    if !txns.iter().zip(&encoded).any(|(t, e)| large(t, e)) {
        return (std::mem::take(batch), encoded);
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
    encoded.truncate(end);
    (batch.split_front(end), encoded)
}
