//! The raft log, kept on the server's [`Wal`]: every change (an appended entry, the vote, a
//! truncation of a conflicting tail, a purge up to a snapshot) is one CRC'd record, and the
//! whole state is rebuilt by replaying records on open. The WAL's record keys are a plain
//! sequence here, not zxids.
//!
//! The WAL is written by a thread of its own, in the order openraft asks: an append is handed
//! over and acknowledged to openraft (its `IOFlushed`) once written and fsynced, so openraft's
//! core, which answers heartbeats and votes, never waits on the disk; the vote, truncations and
//! purges are waited for. Appends are group-committed (one write and fsync per few MiB of a
//! batch), and the vote is fsynced before it is used, so neither an acknowledged entry nor a
//! granted vote is forgotten across `kill -9`.
//!
//! Each entry is a record of its own. An entry is at most what one append may carry (the
//! leader batches client writes into entries by weight, `Proposal::weight`), well within the
//! WAL's record limit.
//!
//! Once the log has grown well past what it keeps, a purge writes a *checkpoint* at the start
//! of a new segment (a mark with the vote and the purge point, then every entry still kept,
//! one record each) and removes the segments before it, so the log on disk stays near the
//! size of what a snapshot does not cover. Replaying an interrupted checkpoint after the old
//! segments gives the same log, so a crash in the middle of one loses nothing.
//!
//! The entries are held in memory as well; [`keep_within_budget`] bounds their bytes by
//! asking openraft for a snapshot, and for a purge, when they grow past a budget.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io;
use std::ops::RangeBounds;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::alias::{EntryOf, LogIdOf, VoteOf};
use openraft::async_runtime::WatchReceiver;
use openraft::entry::RaftEntry;
use openraft::storage::{IOFlushed, RaftLogStorage};
use openraft::{LogState, RaftLogReader};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::{to_io, Raft, StartError, TypeConfig};
use crate::server::persist::{LogEntryRef, Wal, WalOptions};
use crate::server::shared::Shared;

type Entry = EntryOf<TypeConfig>;
type LogId = LogIdOf<TypeConfig>;
type Vote = VoteOf<TypeConfig>;

/// At most this many bytes of records go to the WAL in one write and fsync.
const GROUP_BYTES: usize = 16 << 20;
/// A purge writes a checkpoint once this much (or twice what is kept) was logged since the
/// last one; otherwise it logs the purge point alone.
const CHECKPOINT_AFTER_BYTES: usize = 64 << 20;

/// Log records. The variants are numbered by position in the encoding: new ones go last.
#[derive(Serialize, Deserialize)]
enum Record {
    /// Entries appended together (written by earlier versions).
    Entries(Vec<Entry>),
    Vote(Vote),
    TruncateAfter(Option<LogId>),
    Purged(LogId),
    /// A whole log in one record (written by earlier versions).
    Checkpoint {
        vote: Option<Vote>,
        purged: Option<LogId>,
        entries: Vec<Entry>,
    },
    /// One appended entry.
    Entry(Entry),
    /// The start of a checkpoint: the vote and the purge point; the kept entries follow.
    Mark {
        vote: Option<Vote>,
        purged: Option<LogId>,
    },
}

fn encode(record: &Record) -> io::Result<Vec<u8>> {
    postcard::to_stdvec(record).map_err(to_io)
}

/// The variant number of [`Record::Entry`] (postcard's one-byte varint for it).
const ENTRY_TAG: u8 = 5;

/// `encode(&Record::Entry(entry))` without copying the entry first.
fn encode_entry(entry: &Entry) -> io::Result<Vec<u8>> {
    let mut out = vec![ENTRY_TAG];
    postcard::to_io(entry, &mut out).map_err(to_io)?;
    Ok(out)
}

/// An entry and the bytes of its record.
struct Kept {
    entry: Entry,
    bytes: usize,
}

/// The log as openraft sees it: what was handed to the writer, durable or about to be.
struct Inner {
    entries: BTreeMap<u64, Kept>,
    /// The bytes of every kept entry's record.
    bytes: usize,
    vote: Option<Vote>,
    purged: Option<LogId>,
    /// Record bytes logged since the last checkpoint.
    since_checkpoint: usize,
}

impl Inner {
    fn insert(&mut self, entry: Entry, bytes: usize) {
        if let Some(old) = self.entries.insert(entry.index(), Kept { entry, bytes }) {
            self.bytes -= old.bytes;
        }
        self.bytes += bytes;
    }

    fn replay(&mut self, record: Record, bytes: usize) {
        self.since_checkpoint += bytes;
        match record {
            Record::Entries(entries) => {
                let each = bytes / entries.len().max(1);
                for entry in entries {
                    self.insert(entry, each);
                }
            }
            Record::Entry(entry) => self.insert(entry, bytes),
            Record::Vote(vote) => self.vote = Some(vote),
            Record::TruncateAfter(last) => self.truncate_after(last.as_ref()),
            Record::Purged(upto) => self.purge(upto),
            Record::Checkpoint {
                vote,
                purged,
                entries,
            } => {
                self.vote = vote;
                self.purged = purged;
                self.entries.clear();
                self.bytes = 0;
                let each = bytes / entries.len().max(1);
                for entry in entries {
                    self.insert(entry, each);
                }
            }
            Record::Mark { vote, purged } => {
                self.since_checkpoint = bytes;
                self.vote = vote;
                if let Some(upto) = purged {
                    self.purge(upto);
                }
            }
        }
    }

    fn truncate_after(&mut self, last: Option<&LogId>) {
        let first_removed = last.map_or(0, |id| id.index() + 1);
        let removed = self.entries.split_off(&first_removed);
        self.bytes -= removed.values().map(|k| k.bytes).sum::<usize>();
    }

    fn purge(&mut self, upto: LogId) {
        let kept = self.entries.split_off(&(upto.index() + 1));
        let removed = std::mem::replace(&mut self.entries, kept);
        self.bytes -= removed.values().map(|k| k.bytes).sum::<usize>();
        self.purged = Some(upto);
    }

    /// The records of a checkpoint of what is kept now.
    fn checkpoint(&mut self) -> io::Result<Vec<Vec<u8>>> {
        let mut payloads = Vec::with_capacity(self.entries.len() + 1);
        payloads.push(encode(&Record::Mark {
            vote: self.vote,
            purged: self.purged,
        })?);
        for kept in self.entries.values() {
            payloads.push(encode_entry(&kept.entry)?);
        }
        self.since_checkpoint = payloads.iter().map(Vec::len).sum();
        Ok(payloads)
    }
}

/// One write for the log's thread.
struct Job {
    /// Start a new segment first, and remove the older ones once the records are durable
    /// (a checkpoint).
    checkpoint: bool,
    payloads: Vec<Vec<u8>>,
    done: Done,
}

enum Done {
    /// openraft's notice for an append.
    Flushed(IOFlushed<TypeConfig>),
    /// A caller waiting for the write.
    Reply(tokio::sync::oneshot::Sender<io::Result<()>>),
}

impl Done {
    fn complete(self, result: io::Result<()>) {
        match self {
            Done::Flushed(flushed) => flushed.io_completed(result),
            Done::Reply(reply) => {
                let _ = reply.send(result);
            }
        }
    }
}

/// Writes the jobs in order until every sender is gone. The jobs that queued while the
/// last write was being fsynced go out together, with one fsync (group commit across
/// openraft's append calls); a checkpoint goes alone.
fn run_writer(mut wal: Wal, jobs: std::sync::mpsc::Receiver<Job>, observe: WriteObserver) {
    let mut carried: Option<Job> = None;
    loop {
        let first = match carried.take() {
            Some(job) => job,
            None => match jobs.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
        };
        if first.checkpoint {
            let result = write_job(&mut wal, true, &first.payloads);
            first.done.complete(result);
            continue;
        }
        let mut group = vec![first];
        while let Ok(job) = jobs.try_recv() {
            if job.checkpoint {
                carried = Some(job);
                break;
            }
            group.push(job);
        }
        let payloads: Vec<&[u8]> = group
            .iter()
            .flat_map(|job| job.payloads.iter().map(Vec::as_slice))
            .collect();
        let writing = std::time::Instant::now();
        let result = write_job(&mut wal, false, &payloads);
        if let Some(observe) = &observe {
            observe(writing.elapsed());
        }
        for job in group {
            let shared_result = match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
            };
            job.done.complete(shared_result);
        }
    }
}

fn write_job<P: AsRef<[u8]>>(wal: &mut Wal, checkpoint: bool, payloads: &[P]) -> io::Result<()> {
    if checkpoint {
        wal.roll().map_err(to_io)?;
    }
    let first_key = wal.last_zxid() + 1;
    let mut key = first_key;
    let mut start = 0;
    while start < payloads.len() {
        let mut end = start + 1;
        let mut group = payloads[start].as_ref().len();
        while end < payloads.len() && group + payloads[end].as_ref().len() <= GROUP_BYTES {
            group += payloads[end].as_ref().len();
            end += 1;
        }
        let records: Vec<LogEntryRef<'_>> = payloads[start..end]
            .iter()
            .map(|payload| {
                key += 1;
                LogEntryRef {
                    zxid: key - 1,
                    payload: payload.as_ref(),
                }
            })
            .collect();
        wal.append(&records).map_err(to_io)?;
        start = end;
    }
    if checkpoint {
        wal.remove_before(first_key).map_err(to_io)?;
    }
    Ok(())
}

/// Told how long each group write of the log took (the metrics' `fsynctime`).
pub type WriteObserver = Option<Box<dyn Fn(std::time::Duration) + Send>>;

/// The raft log of this member; cheap to clone (openraft reads through a clone).
#[derive(Clone)]
pub struct LogStore {
    inner: Arc<Mutex<Inner>>,
    writer: std::sync::mpsc::Sender<Job>,
    /// Bytes of entries replication reads for one append (at least one entry).
    read_budget: usize,
}

impl LogStore {
    /// Opens (or creates) the log in `dir`, replays it (a torn tail is cut with a warning) and
    /// starts its writing thread. Replication reads at most `read_budget` bytes of entries at
    /// a time.
    #[cfg(test)]
    pub fn open(dir: &Path, fsync: bool, read_budget: usize) -> Result<LogStore, StartError> {
        LogStore::open_observed(dir, fsync, read_budget, None)
    }

    /// As [`Self::open`], with `observe` told how long each group write (and its fsync) took.
    pub fn open_observed(
        dir: &Path,
        fsync: bool,
        read_budget: usize,
        observe: WriteObserver,
    ) -> Result<LogStore, StartError> {
        let opts = WalOptions {
            fsync,
            ..WalOptions::default()
        };
        let (wal, records) = Wal::open(dir, opts, 0).map_err(|source| StartError::Log {
            dir: dir.to_path_buf(),
            source,
        })?;
        let mut inner = Inner {
            entries: BTreeMap::new(),
            bytes: 0,
            vote: None,
            purged: None,
            since_checkpoint: 0,
        };
        for record in records {
            let decoded: Record =
                postcard::from_bytes(&record.payload).map_err(|reason| StartError::LogRecord {
                    dir: dir.to_path_buf(),
                    zxid: record.zxid,
                    reason,
                })?;
            inner.replay(decoded, record.payload.len());
        }
        let (writer, jobs) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("zk-raft-log".into())
            .spawn(move || run_writer(wal, jobs, observe))
            .map_err(StartError::LogThread)?;
        Ok(LogStore {
            inner: Arc::new(Mutex::new(inner)),
            writer,
            read_budget,
        })
    }

    /// Hands records to the writing thread, in order with everything handed before.
    fn submit(&self, checkpoint: bool, payloads: Vec<Vec<u8>>, done: Done) -> io::Result<()> {
        self.writer
            .send(Job {
                checkpoint,
                payloads,
                done,
            })
            .map_err(|_| io::Error::other("the raft log's thread is gone"))
    }

    /// Writes records and waits until they are durable.
    async fn write(&self, checkpoint: bool, payloads: Vec<Vec<u8>>) -> io::Result<()> {
        let (reply, written) = tokio::sync::oneshot::channel();
        self.submit(checkpoint, payloads, Done::Reply(reply))?;
        written
            .await
            .map_err(|_| io::Error::other("the raft log's thread is gone"))?
    }

    /// Bytes of the entries at or below `index`, and of those above it.
    fn bytes_around(&self, index: Option<u64>) -> (usize, usize) {
        let inner = self.inner.lock();
        let Some(index) = index else {
            return (0, inner.bytes);
        };
        let below: usize = inner.entries.range(..=index).map(|(_, k)| k.bytes).sum();
        (below, inner.bytes - below)
    }

    /// The highest index at or below `index` such that the entries after it, up to `index`,
    /// take at most `keep` bytes.
    fn purge_point(&self, index: u64, keep: usize) -> Option<u64> {
        let inner = self.inner.lock();
        let mut kept = 0usize;
        for (i, k) in inner.entries.range(..=index).rev() {
            kept += k.bytes;
            if kept > keep {
                return Some(*i);
            }
        }
        None
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, io::Error> {
        Ok(self
            .inner
            .lock()
            .entries
            .range(range)
            .map(|(_, k)| k.entry.clone())
            .collect())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, io::Error> {
        Ok(self.inner.lock().vote)
    }

    /// What replication sends next: the entries from `start`, as many as fit the replication
    /// budget (at least one), so an append never holds more than one message's worth of
    /// large values.
    async fn limited_get_log_entries(
        &mut self,
        start: u64,
        end: u64,
    ) -> Result<Vec<Entry>, io::Error> {
        let inner = self.inner.lock();
        let mut bytes = 0usize;
        let mut entries = Vec::new();
        for (_, kept) in inner.entries.range(start..end) {
            bytes += kept.bytes;
            if bytes > self.read_budget && !entries.is_empty() {
                break;
            }
            entries.push(kept.entry.clone());
        }
        Ok(entries)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, io::Error> {
        let inner = self.inner.lock();
        let last = inner.entries.values().next_back().map(|k| k.entry.log_id());
        Ok(LogState {
            last_purged_log_id: inner.purged,
            last_log_id: last.or(inner.purged),
        })
    }

    async fn get_log_reader(&mut self) -> LogStore {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), io::Error> {
        self.write(false, vec![encode(&Record::Vote(*vote))?])
            .await?;
        self.inner.lock().vote = Some(*vote);
        Ok(())
    }

    /// Hands the entries to the writing thread and returns; `callback` is called once they
    /// are durable.
    async fn append<I>(
        &mut self,
        entries: I,
        callback: IOFlushed<TypeConfig>,
    ) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = Entry> + Send,
    {
        let mut payloads = Vec::new();
        let mut inner = self.inner.lock();
        for entry in entries {
            let payload = encode_entry(&entry)?;
            inner.insert(entry, payload.len());
            inner.since_checkpoint += payload.len();
            payloads.push(payload);
        }
        // Handed over under the lock, so the thread writes in the order entries were taken.
        self.submit(false, payloads, Done::Flushed(callback))
    }

    async fn truncate_after(&mut self, last: Option<LogId>) -> Result<(), io::Error> {
        let payload = {
            let mut inner = self.inner.lock();
            inner.truncate_after(last.as_ref());
            encode(&Record::TruncateAfter(last))?
        };
        self.write(false, vec![payload]).await
    }

    async fn purge(&mut self, upto: LogId) -> Result<(), io::Error> {
        let (checkpoint, payloads) = {
            let mut inner = self.inner.lock();
            inner.purge(upto);
            if inner.since_checkpoint > CHECKPOINT_AFTER_BYTES.max(2 * inner.bytes) {
                (true, inner.checkpoint()?)
            } else {
                (false, vec![encode(&Record::Purged(upto))?])
            }
        };
        self.write(checkpoint, payloads).await
    }
}

/// How many bytes of entries a member keeps in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Entries applied and in a snapshot are purged down to half of this; entries past the
    /// snapshot are snapshotted once they take the other half (or `snapSizeLimitInKb`).
    pub memory: usize,
    /// Bytes logged past the last snapshot that make the next one due.
    pub snapshot_after: usize,
}

impl Budget {
    pub fn new(max_txn: usize, snap_size_limit: Option<u64>) -> Budget {
        let memory = (32 * max_txn).max(128 << 20);
        let half = memory / 2;
        Budget {
            memory,
            snapshot_after: snap_size_limit.map_or(half, |limit| {
                usize::try_from(limit).unwrap_or(usize::MAX).clamp(1, half)
            }),
        }
    }
}

/// Keeps the bytes of the entries this member holds within `budget`: asks openraft for a
/// snapshot when the entries past the last one grow past `snapshot_after`, and for a purge
/// when the entries a snapshot covers grow past half the budget (openraft keeps up to
/// `max_in_snapshot_log_to_keep` of them, whatever their size).
pub async fn keep_within_budget(raft: Raft, log: LogStore, budget: Budget, shared: Arc<Shared>) {
    let period =
        (shared.opts.tick_time / 2).clamp(Duration::from_millis(50), Duration::from_secs(1));
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The snapshot asked for, by the snapshot index it should replace, and when.
    let mut asked: Option<(Option<u64>, Instant)> = None;
    while !shared.is_stopping() {
        ticker.tick().await;
        let metrics = raft.metrics().borrow_watched().clone();
        if metrics.running_state.is_err() {
            return;
        }
        let snapshot = metrics.snapshot.map(|id| id.index);
        let (covered, uncovered) = log.bytes_around(snapshot);
        let applied_past_snapshot = metrics.last_applied.map(|id| id.index) > snapshot;
        let pending = asked
            .is_some_and(|(base, at)| base == snapshot && at.elapsed() < Duration::from_secs(60));
        if uncovered > budget.snapshot_after && applied_past_snapshot && !pending {
            tracing::info!(
                bytes = uncovered,
                "the log past the last snapshot is over its budget; snapshotting"
            );
            if raft.trigger().snapshot().await.is_err() {
                return;
            }
            asked = Some((snapshot, Instant::now()));
        }
        if let Some(index) = snapshot.filter(|_| covered > budget.memory / 2) {
            if let Some(upto) = log.purge_point(index, budget.memory / 2) {
                let purged = metrics.purged.map(|id| id.index);
                if Some(upto) > purged && raft.trigger().purge_log(upto).await.is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::vote::leader_id_std::CommittedLeaderId;
    use openraft::EntryPayload;

    fn entry(term: u64, index: u64, bytes: usize) -> Entry {
        openraft::Entry {
            log_id: openraft::LogId::new(CommittedLeaderId::new(term), index),
            payload: EntryPayload::Normal(crate::server::quorum::Proposal {
                origin: 1,
                request: index,
                incarnation: 7,
                time: 0,
                body: crate::server::quorum::ProposalBody::Txn(vec![index as u8; bytes]),
            }),
        }
    }

    fn log_id(term: u64, index: u64) -> LogId {
        entry(term, index, 0).log_id()
    }

    fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(future)
    }

    /// Appends through openraft's interface and waits until the entries are durable.
    fn append(store: &mut LogStore, entries: Vec<Entry>) {
        block_on(async {
            use openraft::type_config::TypeConfigExt;
            let (flushed, done) = TypeConfig::oneshot();
            let callback = IOFlushed::<TypeConfig>::signal(flushed);
            store.append(entries, callback).await.unwrap();
            done.await.unwrap().unwrap();
        });
    }

    fn indexes(dir: &Path) -> Vec<u64> {
        LogStore::open(dir, false, 1 << 20)
            .unwrap()
            .inner
            .lock()
            .entries
            .keys()
            .copied()
            .collect()
    }

    #[test]
    fn entries_vote_truncation_and_purge_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut store = LogStore::open(dir.path(), true, 1 << 20).unwrap();
            append(&mut store, (1..=10).map(|i| entry(1, i, 10)).collect());
            block_on(store.save_vote(&Vote::new(2, 3))).unwrap();
            block_on(store.truncate_after(Some(log_id(1, 8)))).unwrap();
        }
        assert_eq!(indexes(dir.path()), (1..=8).collect::<Vec<_>>());
        {
            let store = LogStore::open(dir.path(), true, 1 << 20).unwrap();
            assert_eq!(store.inner.lock().vote, Some(Vote::new(2, 3)));
            let payloads = {
                let mut inner = store.inner.lock();
                inner.purge(log_id(1, 5));
                inner.checkpoint().unwrap()
            };
            block_on(store.write(true, payloads)).unwrap();
        }
        let store = LogStore::open(dir.path(), true, 1 << 20).unwrap();
        assert_eq!(indexes(dir.path()), vec![6, 7, 8]);
        assert_eq!(store.inner.lock().purged, Some(log_id(1, 5)));
        assert_eq!(store.inner.lock().vote, Some(Vote::new(2, 3)));
        let segments = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(segments, 1, "the checkpoint replaced the older segments");
    }

    /// 17 entries of 4 MiB (68 MiB, over the WAL's 64 MiB record limit together) in one
    /// append, a purge that checkpoints what is kept, and a reopen.
    #[test]
    fn large_entries_append_checkpoint_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let entry_bytes = 4 << 20;
        {
            let mut store = LogStore::open(dir.path(), false, 1 << 20).unwrap();
            append(
                &mut store,
                (1..=17).map(|i| entry(1, i, entry_bytes)).collect(),
            );
            assert!(store.inner.lock().bytes >= 17 * entry_bytes);
            let (covered, uncovered) = store.bytes_around(Some(8));
            assert!(covered < uncovered && uncovered < covered + 2 * entry_bytes);
            assert_eq!(store.purge_point(16, 2 * entry_bytes + 1000), Some(14));
            // Replication reads one large entry at a time with a 1 MiB budget.
            let read = block_on(store.limited_get_log_entries(3, 10)).unwrap();
            assert_eq!(read.len(), 1);
            assert_eq!(read[0].index(), 3);
            // 68 MiB logged since the start: the purge writes a checkpoint.
            block_on(store.purge(log_id(1, 8))).unwrap();
        }
        assert_eq!(indexes(dir.path()), (9..=17).collect::<Vec<_>>());
        let segments: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(
            segments.len() <= 2,
            "the segments before the checkpoint are gone: {segments:?}"
        );
        {
            let store = LogStore::open(dir.path(), false, 1 << 20).unwrap();
            let inner = store.inner.lock();
            let Some(kept) = inner.entries.get(&12) else {
                panic!("entry 12 is kept")
            };
            assert_eq!(kept.entry, entry(1, 12, entry_bytes));
            assert!(inner.bytes >= 9 * entry_bytes && inner.bytes < 10 * entry_bytes);
        }
        // A small purge later logs only the purge point.
        let mut store = LogStore::open(dir.path(), false, 1 << 20).unwrap();
        block_on(store.purge(log_id(1, 10))).unwrap();
        drop(store);
        assert_eq!(indexes(dir.path()).first(), Some(&11));
    }

    /// A checkpoint cut short (the mark and some entries written, the old segments still
    /// there) replays to the same log.
    #[test]
    fn an_interrupted_checkpoint_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut store = LogStore::open(dir.path(), true, 1 << 20).unwrap();
            append(&mut store, (1..=6).map(|i| entry(2, i, 100)).collect());
            block_on(store.save_vote(&Vote::new(2, 1))).unwrap();
            // The checkpoint's first records only, in a new segment, as a crash would leave
            // them: the older segments are still there.
            let mark = encode(&Record::Mark {
                vote: Some(Vote::new(2, 1)),
                purged: Some(log_id(2, 2)),
            })
            .unwrap();
            let third = encode(&Record::Entry(entry(2, 3, 100))).unwrap();
            let (reply, done) = tokio::sync::oneshot::channel();
            store
                .submit(false, vec![mark, third], Done::Reply(reply))
                .unwrap();
            block_on(done).unwrap().unwrap();
        }
        let store = LogStore::open(dir.path(), true, 1 << 20).unwrap();
        assert_eq!(indexes(dir.path()), vec![3, 4, 5, 6]);
        assert_eq!(store.inner.lock().purged, Some(log_id(2, 2)));
        assert_eq!(store.inner.lock().vote, Some(Vote::new(2, 1)));
    }

    #[test]
    fn an_entry_record_is_encoded_without_a_copy_as_the_record_would_be() {
        let one = entry(3, 9, 1000);
        assert_eq!(
            encode_entry(&one).unwrap(),
            encode(&Record::Entry(one.clone())).unwrap()
        );
    }

    #[test]
    fn the_budget_follows_jute_maxbuffer_and_snap_size_limit() {
        let small = Budget::new(1 << 20, Some(4 << 30));
        assert_eq!(small.memory, 128 << 20);
        assert_eq!(small.snapshot_after, 64 << 20);
        let large = Budget::new(16 << 20, None);
        assert_eq!(large.memory, 512 << 20);
        let limited = Budget::new(1 << 20, Some(1 << 20));
        assert_eq!(limited.snapshot_after, 1 << 20);
    }
}
