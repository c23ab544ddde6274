//! The raft log, kept on the server's [`Wal`]: every change (appended entries, the vote, a
//! truncation of a conflicting tail, a purge up to a snapshot) is one CRC'd record, and the
//! whole state is rebuilt by replaying records on open. The WAL's record keys are a plain
//! sequence here, not zxids. Appends are group-committed by openraft (one `append` call per
//! batch, one fsync), and the vote is fsynced before it is used, so neither an acknowledged
//! entry nor a granted vote is forgotten across `kill -9`.
//!
//! A purge writes a checkpoint (vote, purge point, the entries still kept) at the start of a
//! new segment and removes the segments before it, so the log on disk stays near the size of
//! what a snapshot does not cover.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io;
use std::ops::RangeBounds;
use std::path::Path;
use std::sync::Arc;

use openraft::alias::{EntryOf, LogIdOf, VoteOf};
use openraft::entry::RaftEntry;
use openraft::storage::{IOFlushed, RaftLogStorage};
use openraft::{LogState, RaftLogReader};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::{to_io, TypeConfig};
use crate::server::persist::{LogEntryRef, Wal, WalOptions};

type Entry = EntryOf<TypeConfig>;
type LogId = LogIdOf<TypeConfig>;
type Vote = VoteOf<TypeConfig>;

#[derive(Serialize, Deserialize)]
enum Record {
    Entries(Vec<Entry>),
    Vote(Vote),
    TruncateAfter(Option<LogId>),
    Purged(LogId),
    Checkpoint {
        vote: Option<Vote>,
        purged: Option<LogId>,
        entries: Vec<Entry>,
    },
}

struct Inner {
    wal: Wal,
    entries: BTreeMap<u64, Entry>,
    vote: Option<Vote>,
    purged: Option<LogId>,
}

/// The raft log of this member; cheap to clone (openraft reads through a clone).
#[derive(Clone)]
pub struct LogStore {
    inner: Arc<Mutex<Inner>>,
}

impl Inner {
    fn replay(&mut self, record: Record) {
        match record {
            Record::Entries(entries) => {
                for entry in entries {
                    self.entries.insert(entry.index(), entry);
                }
            }
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
                self.entries = entries.into_iter().map(|e| (e.index(), e)).collect();
            }
        }
    }

    fn truncate_after(&mut self, last: Option<&LogId>) {
        let first_removed = last.map_or(0, |id| id.index() + 1);
        self.entries.split_off(&first_removed);
    }

    fn purge(&mut self, upto: LogId) {
        self.entries = self.entries.split_off(&(upto.index() + 1));
        self.purged = Some(upto);
    }

    fn write(&mut self, record: &Record) -> io::Result<u64> {
        let payload = postcard::to_stdvec(record).map_err(to_io)?;
        let key = self.wal.last_zxid() + 1;
        self.wal
            .append(&[LogEntryRef {
                zxid: key,
                payload: &payload,
            }])
            .map_err(to_io)?;
        Ok(key)
    }

    fn checkpoint(&mut self) -> io::Result<()> {
        self.wal.roll().map_err(to_io)?;
        let record = Record::Checkpoint {
            vote: self.vote,
            purged: self.purged,
            entries: self.entries.values().cloned().collect(),
        };
        let key = self.write(&record)?;
        self.wal.remove_before(key).map_err(to_io)?;
        Ok(())
    }
}

impl LogStore {
    /// Opens (or creates) the log in `dir` and replays it; a torn tail is cut with a warning.
    pub fn open(dir: &Path, fsync: bool) -> Result<LogStore, String> {
        let opts = WalOptions {
            fsync,
            ..WalOptions::default()
        };
        let (wal, records) = Wal::open(dir, opts, 0).map_err(|e| e.to_string())?;
        let mut inner = Inner {
            wal,
            entries: BTreeMap::new(),
            vote: None,
            purged: None,
        };
        for record in records {
            let decoded: Record = postcard::from_bytes(&record.payload).map_err(|e| {
                format!("raft log record {} in {}: {e}", record.zxid, dir.display())
            })?;
            inner.replay(decoded);
        }
        Ok(LogStore {
            inner: Arc::new(Mutex::new(inner)),
        })
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
            .map(|(_, e)| e.clone())
            .collect())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, io::Error> {
        Ok(self.inner.lock().vote)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, io::Error> {
        let inner = self.inner.lock();
        let last = inner.entries.values().next_back().map(|e| e.log_id());
        Ok(LogState {
            last_purged_log_id: inner.purged,
            last_log_id: last.or_else(|| inner.purged),
        })
    }

    async fn get_log_reader(&mut self) -> LogStore {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), io::Error> {
        let mut inner = self.inner.lock();
        inner.write(&Record::Vote(*vote))?;
        inner.vote = Some(*vote);
        Ok(())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: IOFlushed<TypeConfig>,
    ) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = Entry> + Send,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        let mut inner = self.inner.lock();
        let record = Record::Entries(entries);
        match inner.write(&record) {
            Ok(_) => {
                if let Record::Entries(entries) = record {
                    for entry in entries {
                        inner.entries.insert(entry.index(), entry);
                    }
                }
                drop(inner);
                callback.io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                drop(inner);
                callback.io_completed(Err(io::Error::new(e.kind(), e.to_string())));
                Err(e)
            }
        }
    }

    async fn truncate_after(&mut self, last: Option<LogId>) -> Result<(), io::Error> {
        let mut inner = self.inner.lock();
        inner.write(&Record::TruncateAfter(last))?;
        inner.truncate_after(last.as_ref());
        Ok(())
    }

    async fn purge(&mut self, upto: LogId) -> Result<(), io::Error> {
        let mut inner = self.inner.lock();
        inner.purge(upto);
        inner.checkpoint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::vote::leader_id_std::CommittedLeaderId;
    use openraft::EntryPayload;

    fn entry(term: u64, index: u64) -> Entry {
        openraft::Entry {
            log_id: openraft::LogId::new(CommittedLeaderId::new(term), index),
            payload: EntryPayload::Blank,
        }
    }

    fn reopen(dir: &Path) -> Inner {
        let store = LogStore::open(dir, true).unwrap();
        Arc::try_unwrap(store.inner).ok().unwrap().into_inner()
    }

    #[test]
    fn entries_vote_truncation_and_purge_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = LogStore::open(dir.path(), true).unwrap();
            let mut inner = store.inner.lock();
            let batch: Vec<Entry> = (1..=10).map(|i| entry(1, i)).collect();
            inner.write(&Record::Entries(batch.clone())).unwrap();
            inner.replay(Record::Entries(batch));
            let vote = Vote::new(2, 3);
            inner.write(&Record::Vote(vote)).unwrap();
            inner.vote = Some(vote);
            let cut = Some(entry(1, 8).log_id());
            inner.write(&Record::TruncateAfter(cut)).unwrap();
            inner.truncate_after(cut.as_ref());
        }
        let inner = reopen(dir.path());
        assert_eq!(
            inner.entries.keys().copied().collect::<Vec<_>>(),
            (1..=8).collect::<Vec<_>>()
        );
        assert_eq!(inner.vote, Some(Vote::new(2, 3)));
        drop(inner);
        {
            let store = LogStore::open(dir.path(), true).unwrap();
            let mut inner = store.inner.lock();
            inner.purge(entry(1, 5).log_id());
            inner.checkpoint().unwrap();
        }
        let inner = reopen(dir.path());
        assert_eq!(
            inner.entries.keys().copied().collect::<Vec<_>>(),
            vec![6, 7, 8]
        );
        assert_eq!(inner.purged, Some(entry(1, 5).log_id()));
        assert_eq!(inner.vote, Some(Vote::new(2, 3)));
        let segments = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(segments, 1, "the checkpoint replaced the older segments");
    }
}
