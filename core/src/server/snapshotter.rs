//! When the standalone write path snapshots, what it writes, how, and how a restart reads it
//! back.
//!
//! # When
//!
//! As Apache's `SyncRequestProcessor`: after a random number of txns in
//! `[snapCount/2, snapCount)`, or of logged bytes in `[snapSizeLimitInKb/2, snapSizeLimitInKb)`,
//! drawn again after every snapshot, so that the members of an ensemble do not all snapshot at
//! once. A snapshot due while the previous one is still being written is skipped (Apache's "Too
//! busy to snap"), and the count starts again: back-to-back snapshots of a large tree would
//! keep a core busy for nothing.
//!
//! # What
//!
//! A full image of the tree, or a delta: only what changed since the previous snapshot (see
//! `image`). Deltas are written while the deltas since the last full image add up to less than
//! half of it; then a full image starts the chain again. So a snapshot of a large tree of
//! which few nodes change costs about what changed, not the whole tree, and a restart reads one
//! full image, at most half as much again in deltas, and the log after the last one. After a
//! failed snapshot the next one is full.
//!
//! # How
//!
//! The writer freezes the state (`image::freeze`, under the write lock it holds anyway),
//! rolls the log at the snapshot's zxid and hands the image to a snapshot thread, which
//! encodes it a chunk at a time (`image::FrozenImage::write_to`) into
//! `persist::snapshot::write`. The thread runs at a lower CPU and IO priority than the rest
//! of the server: the snapshot can wait, the clients cannot.
//!
//! # Reading back
//!
//! [`load`]: the newest full snapshot that verifies, then each delta after it whose base is
//! where the state stands, until one is missing or damaged; the log is replayed from there
//! (purge keeps the log from the oldest full snapshot it keeps).

use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;

use rand::Rng;

use super::image::{self, FrozenImage, ImageKind};
use super::persist::{self, Wal};
use super::shared::Shared;
use super::state::State;

/// Deltas are written while they add up to less than this fraction of the last full image.
const DELTA_BUDGET: f64 = 0.5;
/// The nice value of the snapshot thread (the server runs at 0).
#[cfg(target_os = "linux")]
const WRITER_NICE: libc::c_int = 10;
/// Linux `ioprio_set`: best-effort class, lowest level. Not the idle class: a log fsync
/// that commits the filesystem journal can wait for the snapshot's data blocks (ext4's
/// ordered mode), and idle-class writes behind it would stall the log.
#[cfg(target_os = "linux")]
const WRITER_IO_PRIORITY: libc::c_int = (2 << 13) | 7;

/// Counts txns and logged bytes since the last snapshot against this period's random goals.
pub struct SnapshotSchedule {
    snap_count: u64,
    size_limit: Option<u64>,
    txns: u64,
    bytes: u64,
    txn_goal: u64,
    byte_goal: Option<u64>,
}

impl SnapshotSchedule {
    /// `size_limit` in bytes; `None` snapshots by txn count only.
    pub fn new(snap_count: u64, size_limit: Option<u64>) -> Self {
        let mut schedule = SnapshotSchedule {
            snap_count: snap_count.max(1),
            size_limit,
            txns: 0,
            bytes: 0,
            txn_goal: 0,
            byte_goal: None,
        };
        schedule.restart();
        schedule
    }

    /// Counts `txns` more txns of `bytes` logged bytes; whether a snapshot is due.
    pub fn logged(&mut self, txns: u64, bytes: u64) -> bool {
        self.txns += txns;
        self.bytes += bytes;
        self.txns > self.txn_goal || self.byte_goal.is_some_and(|goal| self.bytes > goal)
    }

    /// Starts a new period with new random goals.
    pub fn restart(&mut self) {
        self.txn_goal = draw_goal(self.snap_count);
        self.byte_goal = self.size_limit.map(draw_goal);
        self.txns = 0;
        self.bytes = 0;
    }
}

/// A random goal in `[limit/2, limit)`, as Apache draws its snapshot points.
pub fn draw_goal(limit: u64) -> u64 {
    let half = limit / 2;
    half + rand::thread_rng().gen_range(0..half.max(1))
}

/// The snapshots written since the last full one: what the next delta follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chain {
    /// The zxid of the last snapshot (full or delta).
    pub base: i64,
    pub full_bytes: u64,
    pub delta_bytes: u64,
}

impl Chain {
    /// The chain after `written`: a full snapshot starts a new one, a delta extends `chain`
    /// (there is none after a failed snapshot, and then no delta is written).
    fn after(chain: Option<Chain>, written: Written) -> Option<Chain> {
        match written.kind {
            ImageKind::Full => Some(Chain {
                base: written.zxid,
                full_bytes: written.bytes,
                delta_bytes: 0,
            }),
            ImageKind::Delta { .. } => chain.map(|chain| Chain {
                base: written.zxid,
                delta_bytes: chain.delta_bytes + written.bytes,
                ..chain
            }),
        }
    }

    fn wants_delta(&self) -> bool {
        (self.delta_bytes as f64) < self.full_bytes as f64 * DELTA_BUDGET
    }
}

/// A snapshot file written.
#[derive(Debug, Clone, Copy)]
struct Written {
    kind: ImageKind,
    zxid: i64,
    bytes: u64,
}

/// The snapshot thread, while one runs, and the chain the next delta follows.
#[derive(Default)]
pub struct Snapshotter {
    running: Option<JoinHandle<Option<Written>>>,
    /// `None`: the next snapshot is full.
    chain: Option<Chain>,
}

impl Snapshotter {
    /// A snapshotter whose next delta follows `chain` (what [`load`] read), if the tree
    /// tracks its changes since.
    pub fn resume(chain: Option<Chain>) -> Self {
        Snapshotter {
            running: None,
            chain,
        }
    }

    /// Whether a snapshot is still being written.
    pub fn busy(&self) -> bool {
        self.running.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Snapshots the state as it is now, and rolls the log to a new segment at its zxid.
    /// Called by the writer between batches, when not [`Snapshotter::busy`].
    pub fn take(
        &mut self,
        shared: &Arc<Shared>,
        wal: &mut Wal,
    ) -> Result<(), persist::PersistError> {
        self.settle();
        let image = {
            let mut state = shared.write_state();
            let delta = self
                .chain
                .filter(Chain::wants_delta)
                .and_then(|chain| image::freeze_delta(&mut state, chain.base));
            delta.unwrap_or_else(|| image::freeze(&mut state))
        };
        if let Err(e) = wal.roll() {
            image.abandon(&mut shared.write_state());
            self.chain = None;
            return Err(e);
        }
        let dir = shared.opts.snap_dir();
        let thread_shared = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("zk-snapshot".into())
            .spawn(move || {
                lower_priority();
                write_image(&thread_shared, &dir, image)
            });
        match spawned {
            Ok(thread) => self.running = Some(thread),
            Err(e) => {
                // The freeze took the changes since the last snapshot: only a full one can
                // follow.
                self.chain = None;
                tracing::warn!("cannot start the snapshot thread ({e}); no snapshot this time");
            }
        }
        Ok(())
    }

    /// Waits for the snapshot being written, so a stop leaves no half-written file.
    pub fn finish(mut self) {
        self.settle();
    }

    /// Takes in the outcome of the last snapshot thread.
    fn settle(&mut self) {
        if let Some(thread) = self.running.take() {
            self.chain = match thread.join().ok().flatten() {
                Some(written) => Chain::after(self.chain, written),
                None => None,
            };
        }
    }
}

/// Writes a frozen image as `snapshot.<zxid>` (or `.delta`); `None` if that failed (the log
/// still holds every txn).
fn write_image(shared: &Shared, dir: &Path, image: FrozenImage) -> Option<Written> {
    let started = std::time::Instant::now();
    let zxid = image.zxid();
    let kind = image.kind();
    let written = write_file(dir, kind, zxid, &mut |out| {
        image.write_to(shared.state_lock(), out)
    });
    match written {
        Ok(path) => {
            shared.stats.snapshot_time.record(started.elapsed());
            let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
            tracing::info!(
                path = %path.display(),
                bytes,
                took_ms = started.elapsed().as_millis() as u64,
                "snapshot written"
            );
            Some(Written { kind, zxid, bytes })
        }
        Err(e) => {
            image.abandon(&mut shared.write_state());
            tracing::warn!(
                zxid = format!("0x{zxid:x}"),
                "snapshot failed ({e}); the log still holds every txn"
            );
            None
        }
    }
}

/// Writes a snapshot file of `kind` at `zxid`: `snapshot.<zxid>`, or `.delta` for a delta.
fn write_file(
    dir: &Path,
    kind: ImageKind,
    zxid: i64,
    fill: &mut dyn FnMut(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> Result<std::path::PathBuf, persist::PersistError> {
    let zxid = zxid.max(0) as u64;
    match kind {
        ImageKind::Full => persist::snapshot::write(dir, zxid, fill),
        ImageKind::Delta { .. } => persist::snapshot::write_delta(dir, zxid, fill),
    }
}

/// Loads the newest full snapshot in `dir` that verifies and the deltas that follow it into
/// `state`; the chain they make, or `None` if there is no snapshot at all.
pub fn load(state: &mut State, dir: &Path) -> Result<Option<Chain>, LoadError> {
    let listing = persist::snapshot::list(dir)?;
    for (zxid, path) in listing.full.iter().rev() {
        let Some(payload) = read_verified(
            path,
            *zxid,
            "skipping damaged snapshot; trying the next older one",
        )?
        else {
            continue;
        };
        image::read(state, &payload).map_err(|e| LoadError::decode(path, e))?;
        let mut chain = Chain {
            base: state.last_zxid,
            full_bytes: payload.len() as u64,
            delta_bytes: 0,
        };
        drop(payload);
        for (delta_zxid, delta_path) in listing.deltas.iter().filter(|(z, _)| z > zxid) {
            let damaged = "damaged snapshot delta; the log is replayed from the one before";
            let Some(payload) = read_verified(delta_path, *delta_zxid, damaged)? else {
                break;
            };
            match image::delta_base(&payload).map_err(|e| LoadError::decode(delta_path, e))? {
                Some(base) if base == state.last_zxid => {}
                // A delta of another chain (written before a full snapshot that was lost).
                _ => continue,
            }
            image::apply_delta(state, &payload).map_err(|e| LoadError::decode(delta_path, e))?;
            chain.base = state.last_zxid;
            chain.delta_bytes += payload.len() as u64;
        }
        return Ok(Some(chain));
    }
    if listing.full.is_empty() {
        Ok(None)
    } else {
        Err(persist::PersistError::NoValidSnapshot {
            dir: dir.to_path_buf(),
            count: listing.full.len(),
        }
        .into())
    }
}

/// The payload of a snapshot file that verifies; `None`, with `damaged` logged, if it does
/// not.
fn read_verified(path: &Path, zxid: u64, damaged: &str) -> Result<Option<Vec<u8>>, LoadError> {
    match persist::snapshot::read(path, zxid)? {
        Ok(payload) => Ok(Some(payload)),
        Err(reason) => {
            tracing::warn!(file = %path.display(), %reason, "{damaged}");
            Ok(None)
        }
    }
}

/// Why [`load`] failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Persist(#[from] persist::PersistError),
    #[error("{path}: {reason}")]
    Decode { path: String, reason: String },
}

impl LoadError {
    fn decode(path: &Path, e: crate::proto::DecodeError) -> Self {
        LoadError::Decode {
            path: path.display().to_string(),
            reason: e.to_string(),
        }
    }
}

/// Best effort: a snapshot thread at normal priority is slower for clients, not wrong.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain syscalls on the calling thread, with constant arguments.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, WRITER_NICE);
        libc::syscall(libc::SYS_ioprio_set, 1, tid, WRITER_IO_PRIORITY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goals_fall_in_the_upper_half() {
        for _ in 0..200 {
            let mut schedule = SnapshotSchedule::new(100, Some(1000));
            assert!((50..100).contains(&schedule.txn_goal));
            assert!(schedule.byte_goal.is_some_and(|g| (500..1000).contains(&g)));
            assert!(!schedule.logged(schedule.txn_goal, 0));
            assert!(schedule.logged(1, 0));
            schedule.restart();
            assert!(!schedule.logged(1, 400));
            assert!(schedule.logged(0, 600));
        }
    }

    #[test]
    fn tiny_counts_still_snapshot() {
        let mut schedule = SnapshotSchedule::new(2, None);
        assert_eq!(schedule.txn_goal, 1);
        assert!(!schedule.logged(1, 1 << 40));
        assert!(schedule.logged(1, 0));
    }

    use crate::proto::{Acl, CreateKind, CreateRequest, Request};
    use crate::server::txn::{Txn, TxnBody};

    fn create(state: &mut State, path: &str) {
        let zxid = state.last_zxid + 1;
        state.apply(&Txn {
            zxid,
            time: 1,
            session_id: 0,
            rules: Default::default(),
            body: TxnBody::Write {
                auth: Vec::new(),
                request: Request::Create(
                    CreateKind::Create,
                    CreateRequest {
                        path: path.into(),
                        data: Some(b"x".to_vec()),
                        acl: Acl::open_unsafe(),
                        flags: 0,
                    },
                ),
            },
        });
    }

    /// Writes the image `freeze` makes of `state` into `dir`, as the snapshot thread does.
    fn save(dir: &Path, state: &mut State, image: FrozenImage) {
        let (kind, zxid) = (image.kind(), image.zxid());
        let bytes = image::encode(state, image);
        write_file(dir, kind, zxid, &mut |out| out.write_all(&bytes)).unwrap();
    }

    #[test]
    fn load_follows_the_chain_until_a_damaged_delta() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = State::default();
        state.tree.track_changes();
        create(&mut state, "/a");
        let image = image::freeze(&mut state);
        save(dir.path(), &mut state, image);
        let mut bases = vec![state.last_zxid];
        for name in ["/b", "/c", "/d"] {
            create(&mut state, name);
            let image = image::freeze_delta(&mut state, *bases.last().unwrap()).unwrap();
            save(dir.path(), &mut state, image);
            bases.push(state.last_zxid);
        }
        // A stray delta of some other chain is ignored.
        std::fs::copy(
            dir.path().join(format!("snapshot.{:x}.delta", bases[1])),
            dir.path().join("snapshot.ffff.delta"),
        )
        .unwrap();
        let mut loaded = State::default();
        let chain = load(&mut loaded, dir.path()).unwrap().unwrap();
        assert_eq!(chain.base, bases[3]);
        assert!(loaded.tree.contains("/d"));

        // Damage the middle delta: the state stops at the one before it.
        let middle = dir.path().join(format!("snapshot.{:x}.delta", bases[2]));
        let mut bytes = std::fs::read(&middle).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&middle, bytes).unwrap();
        let mut loaded = State::default();
        let chain = load(&mut loaded, dir.path()).unwrap().unwrap();
        assert_eq!(chain.base, bases[1]);
        assert_eq!(loaded.last_zxid, bases[1]);
        assert!(loaded.tree.contains("/b") && !loaded.tree.contains("/c"));
    }

    #[test]
    fn deltas_follow_until_they_add_up_to_half_the_full_image() {
        let chain = Chain {
            base: 5,
            full_bytes: 1000,
            delta_bytes: 0,
        };
        let delta = |bytes| Written {
            kind: ImageKind::Delta { base_zxid: 0 },
            zxid: 9,
            bytes,
        };
        assert!(chain.wants_delta());
        let chain = Chain::after(Some(chain), delta(300)).unwrap();
        assert!(chain.wants_delta() && chain.base == 9);
        let chain = Chain::after(Some(chain), delta(300)).unwrap();
        assert!(!chain.wants_delta());
        let full = Written {
            kind: ImageKind::Full,
            zxid: 12,
            bytes: 2000,
        };
        let started = Chain {
            base: 12,
            full_bytes: 2000,
            delta_bytes: 0,
        };
        assert_eq!(Chain::after(Some(chain), full), Some(started));
        assert_eq!(Chain::after(None, full), Some(started));
        assert_eq!(
            Chain::after(None, delta(10)),
            None,
            "no delta without a chain"
        );
    }
}
