//! Committed entries applied to the tree, and snapshots of it.
//!
//! Every member applies the same entries in the same order through `front::Commit`, as
//! standalone does, so watches, replies and session bookkeeping behave alike; the entries
//! openraft hands over together are applied under one lock of the state.
//!
//! # zxids
//!
//! A txn's zxid is `(term << 32) | counter`: the counter starts at 1 with the first txn of a
//! term and counts the txns of that term, so every member, applying the same entries in the
//! same order from the same snapshot, derives the same zxid from the last one it applied (the
//! raft index is not used: it never restarts, and its low half would wrap). Entries that carry
//! no txn (blank, membership, session moves) and sync barriers take no zxid. The leader keeps
//! a term's counter from reaching 2^32 - 1 by starting a new term (`proposer`); should a counter
//! be spent anyway, the entry is refused here on every member alike rather than wrap.
//!
//! # Failure
//!
//! An entry that cannot be decoded is fatal: the member stops (and the server exits with the
//! reason) rather than go on with a state that differs from the others'.
//!
//! # Snapshots
//!
//! A snapshot file is `snapshot.<zxid>` in the snapshot directory (written atomically by
//! [`persist::snapshot`]) holding `"ZKE2" | u32 header length | postcard(header) | tree image`,
//! the header being openraft's metadata and the holder of every session. Files written before
//! the holders were kept (`u32 meta length | postcard(meta) | image`) still load. The header
//! and the image are taken under the same locks applying holds, so the image holds exactly the
//! entries up to the metadata's last log id.

use std::io::{self, Cursor, Write};
use std::sync::Arc;
use std::time::Instant;

use futures_util::{Stream, TryStreamExt};
use openraft::alias::{EntryOf, LogIdOf, SnapshotMetaOf, SnapshotOf, StoredMembershipOf};
use openraft::entry::RaftEntry;
use openraft::storage::{EntryResponder, RaftSnapshotBuilder, RaftStateMachine};
use openraft::EntryPayload;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::proposer::Proposer;
use super::{to_io, Owners, ProposalBody, SnapshotError, StartError, TypeConfig};
use crate::server::front::{sync_barrier, Commit};
use crate::server::image;
use crate::server::persist;
use crate::server::shared::Shared;
use crate::server::state::State;
use crate::server::txn::{Txn, TxnBody};

type LogId = LogIdOf<TypeConfig>;
type Membership = StoredMembershipOf<TypeConfig>;
type Meta = SnapshotMetaOf<TypeConfig>;
type Entry = EntryOf<TypeConfig>;

/// The zxid of the next txn after `last` (the zxid applied last), in an entry of `term`; `None`
/// if `term`'s counter is spent.
pub fn next_zxid(last: i64, term: u64) -> Option<i64> {
    let last = last.max(0) as u64;
    if last >> 32 == term {
        let counter = last & 0xffff_ffff;
        (counter < 0xffff_ffff).then_some((last + 1) as i64)
    } else {
        Some(((term << 32) | 1) as i64)
    }
}

/// The first bytes of a snapshot file written with session holders.
const SNAPSHOT_MAGIC: &[u8; 4] = b"ZKE2";

/// What an ensemble snapshot holds besides the tree image.
#[derive(Serialize, Deserialize)]
struct SnapshotHeader {
    meta: Meta,
    /// Each live session's holder.
    owners: Vec<(i64, u64)>,
}

#[derive(Default, Clone)]
struct Applied {
    last: Option<LogId>,
    membership: Membership,
}

/// The state machine openraft drives; cheap to clone (the snapshot builder is a clone).
///
/// Locks are taken in one order: `applied`, then the server's state, then `owners`.
#[derive(Clone)]
pub struct StateMachine {
    shared: Arc<Shared>,
    proposer: Arc<Proposer>,
    applied: Arc<Mutex<Applied>>,
    owners: Owners,
}

impl StateMachine {
    /// Loads the newest snapshot into the server's state and `owners`, if there is one.
    pub fn open(
        shared: Arc<Shared>,
        proposer: Arc<Proposer>,
        owners: Owners,
    ) -> Result<StateMachine, StartError> {
        let mut applied = Applied::default();
        if let Some((zxid, bytes)) = persist::snapshot::load_latest(&shared.opts.snap_dir())
            .map_err(StartError::SnapshotFile)?
        {
            let unreadable = |reason: SnapshotError| StartError::Snapshot { zxid, reason };
            let (header, image_bytes) = split_snapshot(&bytes).map_err(unreadable)?;
            let meta = header.meta;
            let mut state = State::default();
            image::read(&mut state, image_bytes).map_err(|e| unreadable(e.into()))?;
            tracing::info!(
                zxid = format!("0x{zxid:x}"),
                nodes = state.tree.node_count(),
                "loaded snapshot"
            );
            applied = Applied {
                last: meta.last_log_id,
                membership: meta.last_membership.clone(),
            };
            replace_state(&shared, state);
            *owners.lock() = header.owners.into_iter().collect();
        }
        Ok(StateMachine {
            shared,
            proposer,
            applied: Arc::new(Mutex::new(applied)),
            owners,
        })
    }

    /// Writes a snapshot file's payload (metadata and image) as `snapshot.<zxid>`.
    fn save(&self, zxid: u64, bytes: &[u8]) -> io::Result<()> {
        persist::snapshot::write(
            &self.shared.opts.snap_dir(),
            zxid,
            &mut |out: &mut dyn Write| out.write_all(bytes),
        )
        .map(|_| ())
        .map_err(to_io)
    }

    /// Freezes the state (a moment under the write lock), then encodes it a chunk at a time
    /// while entries go on being applied (see `image`).
    fn snapshot_now(&self) -> io::Result<(Meta, Vec<u8>)> {
        let (image, header) = {
            let applied = self.applied.lock();
            let mut state = self.shared.write_state();
            let mut owners: Vec<(i64, u64)> =
                self.owners.lock().iter().map(|(s, o)| (*s, *o)).collect();
            owners.sort_unstable();
            let header = SnapshotHeader {
                meta: Meta {
                    last_log_id: applied.last,
                    last_membership: applied.membership.clone(),
                },
                owners,
            };
            (image::freeze(&mut state), header)
        };
        let meta = header.meta.clone();
        let mut bytes = encode_header(&header)?;
        if let Err(e) = image.write_to(self.shared.state_lock(), &mut bytes) {
            image.abandon(&mut self.shared.write_state());
            return Err(e);
        }
        self.save(image.zxid().max(0) as u64, &bytes)?;
        Ok((meta, bytes))
    }
}

impl StateMachine {
    /// Applies one txn of an entry of `term`, with the zxid that follows the last one, and
    /// keeps the sessions' holders: a session created is held by the member that asked.
    /// Called with `applied` locked, inside the batch's `commit`.
    fn apply_txn(
        &self,
        commit: &mut Commit<'_>,
        proposal: &super::Proposal,
        mut txn: Txn,
        term: u64,
    ) {
        let reply = self.proposer.take_waiting(proposal);
        let last = commit.state().last_zxid;
        if sync_barrier(&txn).is_some() {
            txn.zxid = last;
        } else {
            let Some(zxid) = next_zxid(last, term) else {
                tracing::error!(
                    "the zxid counter of term {term} is spent; a txn of that term is refused"
                );
                if let Some(reply) = reply {
                    reply.abandon(&self.shared);
                }
                return;
            };
            txn.zxid = zxid;
        }
        match txn.body {
            TxnBody::CreateSession { .. }
                if !commit.state().sessions.contains_key(&txn.session_id) =>
            {
                self.owners.lock().insert(txn.session_id, proposal.origin);
            }
            TxnBody::CloseSession => {
                self.owners.lock().remove(&txn.session_id);
            }
            _ => {}
        }
        commit.apply(reply, &txn);
    }

    /// Applies what one entry's proposal carries; an error says why it cannot be.
    fn apply_proposal(
        &self,
        commit: &mut Commit<'_>,
        proposal: &super::Proposal,
        term: u64,
    ) -> Result<(), String> {
        match &proposal.body {
            ProposalBody::Txn(bytes) => {
                let mut txn = Txn::decode(bytes)
                    .map_err(|e| format!("holds a txn that cannot be decoded ({e})"))?;
                txn.time = proposal.time;
                self.apply_txn(commit, proposal, txn, term);
            }
            ProposalBody::Moved(session) => {
                if commit.state().sessions.contains_key(session) {
                    self.owners.lock().insert(*session, proposal.origin);
                }
            }
            ProposalBody::Batch(parts) => {
                for part in parts {
                    if !matches!(part.body, ProposalBody::Txn(_)) {
                        return Err("holds a batch with a part that is not a txn".into());
                    }
                    self.apply_proposal(commit, part, term)?;
                }
            }
        }
        Ok(())
    }

    /// Applies a run of committed entries under one lock of the state, in log order.
    fn apply_entries(&self, entries: &[Entry]) -> Result<(), io::Error> {
        let mut applied = self.applied.lock();
        let mut commit = Commit::begin(&self.shared);
        for entry in entries {
            let log_id = entry.log_id();
            let term = log_id.committed_leader_id().term;
            match &entry.payload {
                EntryPayload::Normal(proposal) => {
                    if let Err(reason) = self.apply_proposal(&mut commit, proposal, term) {
                        // The entries before this one are applied; this one never is.
                        commit.finish();
                        let reason = format!(
                            "the ensemble member stopped: log entry {} (term {term}) {reason}; stopping rather than diverge from the other members",
                            log_id.index()
                        );
                        self.shared.fail(reason.clone());
                        return Err(io::Error::new(io::ErrorKind::InvalidData, reason));
                    }
                }
                EntryPayload::Membership(membership) => {
                    applied.membership = Membership::new(Some(log_id), membership.clone());
                }
                EntryPayload::Blank => {}
            }
            applied.last = Some(log_id);
        }
        commit.finish();
        Ok(())
    }
}

fn encode_header(header: &SnapshotHeader) -> io::Result<Vec<u8>> {
    let encoded = postcard::to_stdvec(header).map_err(to_io)?;
    let len = u32::try_from(encoded.len()).map_err(to_io)?;
    let mut out = Vec::with_capacity(8 + encoded.len());
    out.extend_from_slice(SNAPSHOT_MAGIC);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&encoded);
    Ok(out)
}

/// Splits a snapshot file's payload into its header and its tree image.
fn split_snapshot(bytes: &[u8]) -> Result<(SnapshotHeader, &[u8]), SnapshotError> {
    let (with_owners, rest) = match bytes.strip_prefix(SNAPSHOT_MAGIC.as_slice()) {
        Some(rest) => (true, rest),
        None => (false, bytes),
    };
    let len_bytes: [u8; 4] = rest
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or(SnapshotError::TooShort)?;
    let len = u32::from_be_bytes(len_bytes) as usize;
    let header_bytes = rest
        .get(4..4usize.saturating_add(len))
        .ok_or(SnapshotError::Truncated)?;
    let header = if with_owners {
        postcard::from_bytes(header_bytes)?
    } else {
        SnapshotHeader {
            meta: postcard::from_bytes(header_bytes)?,
            owners: Vec::new(),
        }
    };
    Ok((header, &rest[4 + len..]))
}

/// Installs a whole new tree (a snapshot from disk or from the leader) and brings the session
/// tracker in line with its sessions.
fn replace_state(shared: &Shared, state: State) {
    let now = Instant::now();
    let mut tracker = shared.tracker();
    for (id, _) in tracker.list() {
        if !state.sessions.contains_key(&id) {
            tracker.remove(id);
        }
    }
    for (&id, session) in &state.sessions {
        if !tracker.is_live(id) {
            tracker.register(id, session.timeout, now);
        }
    }
    drop(tracker);
    *shared.write_state() = state;
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    type SnapshotData = Cursor<Vec<u8>>;

    async fn build_snapshot(
        &mut self,
    ) -> Result<SnapshotOf<TypeConfig, Cursor<Vec<u8>>>, io::Error> {
        let started = Instant::now();
        let builder = self.clone();
        let (meta, bytes) = tokio::task::spawn_blocking(move || builder.snapshot_now())
            .await
            .map_err(io::Error::other)??;
        tracing::info!(
            took_ms = started.elapsed().as_millis() as u64,
            bytes = bytes.len(),
            "snapshot written"
        );
        Ok(openraft::Snapshot {
            meta,
            snapshot: Cursor::new(bytes),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotData = Cursor<Vec<u8>>;
    type SnapshotBuilder = StateMachine;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, Membership), io::Error> {
        let applied = self.applied.lock();
        Ok((applied.last, applied.membership.clone()))
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> Result<(), io::Error>
    where
        Strm: Stream<Item = Result<EntryResponder<TypeConfig>, io::Error>> + Unpin + Send,
    {
        let mut batch: Vec<Entry> = Vec::new();
        let mut responders = Vec::new();
        while let Some((entry, responder)) = entries.try_next().await? {
            batch.push(entry);
            responders.extend(responder);
        }
        let Some(last_term) = batch.last().map(|e| e.log_id().committed_leader_id().term) else {
            return Ok(());
        };
        self.apply_entries(&batch)?;
        // Entries are in log order, so the last one's term is the highest applied.
        self.proposer.applied_term(last_term);
        for responder in responders {
            responder.send(());
        }
        Ok(())
    }
    async fn get_snapshot_builder(&mut self) -> StateMachine {
        self.clone()
    }

    async fn install_snapshot(
        &mut self,
        meta: &Meta,
        snapshot: Cursor<Vec<u8>>,
    ) -> Result<(), io::Error> {
        let bytes = snapshot.into_inner();
        let (header, image_bytes) = split_snapshot(&bytes).map_err(to_io)?;
        let mut state = State::default();
        image::read(&mut state, image_bytes).map_err(to_io)?;
        let zxid = state.last_zxid.max(0) as u64;
        self.save(zxid, &bytes)?;
        tracing::info!(
            zxid = format!("0x{zxid:x}"),
            "installed a snapshot from the leader"
        );
        let mut applied = self.applied.lock();
        replace_state(&self.shared, state);
        *self.owners.lock() = header.owners.into_iter().collect();
        *applied = Applied {
            last: meta.last_log_id,
            membership: meta.last_membership.clone(),
        };
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<SnapshotOf<TypeConfig, Cursor<Vec<u8>>>>, io::Error> {
        let Some((_, bytes)) =
            persist::snapshot::load_latest(&self.shared.opts.snap_dir()).map_err(to_io)?
        else {
            return Ok(None);
        };
        let (header, _) = split_snapshot(&bytes).map_err(to_io)?;
        Ok(Some(openraft::Snapshot {
            meta: header.meta,
            snapshot: Cursor::new(bytes),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::state::Outcome;

    #[test]
    fn zxids_count_the_txns_of_each_term_and_never_wrap() {
        assert_eq!(next_zxid(0, 1), Some(0x1_0000_0001));
        assert_eq!(next_zxid(0x1_0000_0001, 1), Some(0x1_0000_0002));
        // A new term starts its counter again, however far the index went.
        assert_eq!(next_zxid(0x1_0000_0002, 3), Some(0x3_0000_0001));
        assert_eq!(next_zxid(0x3_ffff_fffe, 3), Some(0x3_ffff_ffff));
        assert_eq!(next_zxid(0x3_ffff_ffff, 3), None, "spent, never wrapped");
        assert_eq!(next_zxid(0x3_ffff_ffff, 4), Some(0x4_0000_0001));
    }

    #[test]
    fn snapshots_with_and_without_session_holders_load() {
        let meta = Meta::default();
        let header = SnapshotHeader {
            meta: meta.clone(),
            owners: vec![(5, 2), (9, 3)],
        };
        let mut bytes = encode_header(&header).unwrap();
        bytes.extend_from_slice(b"image");
        let (read, image) = split_snapshot(&bytes).unwrap();
        assert_eq!(read.owners, vec![(5, 2), (9, 3)]);
        assert_eq!(read.meta, meta);
        assert_eq!(image, b"image");
        // As written before the holders were kept: the meta alone.
        let encoded = postcard::to_stdvec(&meta).unwrap();
        let mut legacy = (encoded.len() as u32).to_be_bytes().to_vec();
        legacy.extend_from_slice(&encoded);
        legacy.extend_from_slice(b"image");
        let (read, image) = split_snapshot(&legacy).unwrap();
        assert!(read.owners.is_empty());
        assert_eq!(image, b"image");
        assert!(split_snapshot(b"ZKE2\xff\xff\xff\xff").is_err());
    }

    #[test]
    fn a_second_create_session_for_a_live_session_changes_nothing() {
        let mut state = State::default();
        let create = |zxid: i64, passwd: u8| Txn {
            zxid,
            time: 0,
            session_id: 77,
            rules: Default::default(),
            body: TxnBody::CreateSession {
                timeout: 4000,
                passwd: vec![passwd; 16],
            },
        };
        assert!(matches!(
            state.apply(&create(1, 1)).outcome,
            Outcome::SessionCreated { .. }
        ));
        let again = state.apply(&create(2, 2));
        assert!(matches!(again.outcome, Outcome::Reply(Err(_))));
        assert_eq!(state.sessions[&77].passwd, vec![1; 16]);
        assert_eq!(state.last_zxid, 2, "the refused txn still took its zxid");
    }
}
