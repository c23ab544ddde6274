//! Committed entries applied to the tree, and snapshots of it.
//!
//! Every member applies the same entries in the same order through `writer::apply_txns`, the
//! same function standalone uses, so watches, replies and session bookkeeping behave alike.
//!
//! A snapshot file is `snapshot.<zxid>` in the snapshot directory (written atomically by
//! [`persist::snapshot`]) holding `u32 meta length | postcard(SnapshotMeta) | tree image`. The
//! metadata is read under the same lock the image is written under, and is never ahead of the
//! image; entries the image already holds are skipped on replay, because `State::apply` refuses
//! a zxid it has passed without changing anything.

use std::io::{self, Cursor, Write};
use std::sync::Arc;
use std::time::Instant;

use futures_util::{Stream, TryStreamExt};
use openraft::alias::{LogIdOf, SnapshotMetaOf, SnapshotOf, StoredMembershipOf};
use openraft::entry::RaftEntry;
use openraft::storage::{EntryResponder, RaftSnapshotBuilder, RaftStateMachine};
use openraft::EntryPayload;
use parking_lot::Mutex;

use super::proposer::Proposer;
use super::{to_io, TypeConfig};
use crate::server::image;
use crate::server::persist;
use crate::server::runtime::Shared;
use crate::server::state::State;
use crate::server::txn::Txn;
use crate::server::writer::apply_txns;

type LogId = LogIdOf<TypeConfig>;
type Membership = StoredMembershipOf<TypeConfig>;
type Meta = SnapshotMetaOf<TypeConfig>;

/// The zxid of the entry at `log_id`: its term in the high half, its index in the low half.
pub fn zxid_of(log_id: &LogId) -> i64 {
    ((log_id.committed_leader_id().term << 32) | (log_id.index() & 0xffff_ffff)) as i64
}

#[derive(Default, Clone)]
struct Applied {
    last: Option<LogId>,
    membership: Membership,
}

/// The state machine openraft drives; cheap to clone (the snapshot builder is a clone).
#[derive(Clone)]
pub struct StateMachine {
    shared: Arc<Shared>,
    proposer: Arc<Proposer>,
    applied: Arc<Mutex<Applied>>,
}

impl StateMachine {
    /// Loads the newest snapshot into the server's state, if there is one.
    pub fn open(shared: Arc<Shared>, proposer: Arc<Proposer>) -> Result<StateMachine, String> {
        let mut applied = Applied::default();
        if let Some((zxid, bytes)) =
            persist::snapshot::load_latest(&shared.opts.snap_dir()).map_err(|e| e.to_string())?
        {
            let (meta, image_bytes) =
                split_snapshot(&bytes).map_err(|e| format!("snapshot 0x{zxid:x}: {e}"))?;
            let mut state = State::default();
            image::read(&mut state, image_bytes)
                .map_err(|e| format!("snapshot 0x{zxid:x}: {e}"))?;
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
        }
        Ok(StateMachine {
            shared,
            proposer,
            applied: Arc::new(Mutex::new(applied)),
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
        let (image, meta) = {
            let mut state = self.shared.state.write();
            let applied = self.applied.lock().clone();
            let meta = Meta {
                last_log_id: applied.last,
                last_membership: applied.membership,
            };
            (image::freeze(&mut state), meta)
        };
        let mut bytes = encode_meta(&meta)?;
        if let Err(e) = image.write_to(&self.shared.state, &mut bytes) {
            image.abandon(&mut self.shared.state.write());
            return Err(e);
        }
        self.save(image.zxid().max(0) as u64, &bytes)?;
        Ok((meta, bytes))
    }
}

fn encode_meta(meta: &Meta) -> io::Result<Vec<u8>> {
    let encoded = postcard::to_stdvec(meta).map_err(to_io)?;
    let len = u32::try_from(encoded.len()).map_err(to_io)?;
    let mut out = Vec::with_capacity(4 + encoded.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&encoded);
    Ok(out)
}

/// Splits a snapshot file's payload into its raft metadata and its tree image.
fn split_snapshot(bytes: &[u8]) -> Result<(Meta, &[u8]), String> {
    let len_bytes: [u8; 4] = bytes
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or("too short for its metadata")?;
    let len = u32::from_be_bytes(len_bytes) as usize;
    let meta_bytes = bytes.get(4..4 + len).ok_or("metadata runs past the end")?;
    let meta: Meta = postcard::from_bytes(meta_bytes).map_err(|e| e.to_string())?;
    Ok((meta, &bytes[4 + len..]))
}

/// Installs a whole new tree (a snapshot from disk or from the leader) and brings the session
/// tracker in line with its sessions.
fn replace_state(shared: &Shared, state: State) {
    let now = Instant::now();
    let mut tracker = shared.tracker.lock();
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
    *shared.state.write() = state;
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
        while let Some((entry, responder)) = entries.try_next().await? {
            let log_id = entry.log_id();
            match &entry.payload {
                EntryPayload::Normal(proposal) => match Txn::decode(&proposal.txn) {
                    Ok(mut txn) => {
                        txn.zxid = zxid_of(&log_id);
                        txn.time = proposal.time;
                        let reply = self.proposer.take_waiting(proposal);
                        if matches!(txn.body, crate::server::txn::TxnBody::CloseSession) {
                            self.proposer.session_closed(txn.session_id);
                        }
                        apply_txns(&self.shared, [(reply, &txn)]);
                    }
                    Err(e) => tracing::error!(index = log_id.index(), "cannot decode a txn: {e}"),
                },
                EntryPayload::Membership(membership) => {
                    self.applied.lock().membership =
                        Membership::new(Some(log_id), membership.clone());
                }
                EntryPayload::Blank => {}
            }
            self.applied.lock().last = Some(log_id);
            self.proposer
                .applied_term(log_id.committed_leader_id().term);
            if let Some(responder) = responder {
                responder.send(());
            }
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
        let (_, image_bytes) = split_snapshot(&bytes).map_err(to_io)?;
        let mut state = State::default();
        image::read(&mut state, image_bytes).map_err(to_io)?;
        let zxid = state.last_zxid.max(0) as u64;
        self.save(zxid, &bytes)?;
        tracing::info!(
            zxid = format!("0x{zxid:x}"),
            "installed a snapshot from the leader"
        );
        replace_state(&self.shared, state);
        *self.applied.lock() = Applied {
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
        let (meta, _) = split_snapshot(&bytes).map_err(to_io)?;
        Ok(Some(openraft::Snapshot {
            meta,
            snapshot: Cursor::new(bytes),
        }))
    }
}
