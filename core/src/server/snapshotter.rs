//! When the standalone write path snapshots, and how: a thread writes the tree as it was
//! at one moment while writes go on.
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
//! # How
//!
//! The writer freezes the state (`image::freeze`, under the write lock it holds anyway),
//! rolls the log at the snapshot's zxid and hands the image to a snapshot thread, which
//! encodes it a chunk at a time (`image::FrozenImage::write_to`) into
//! `persist::snapshot::write`. The thread runs at a lower CPU and IO priority than the rest
//! of the server: the snapshot can wait, the clients cannot.

use std::sync::Arc;
use std::thread::JoinHandle;

use rand::Rng;

use super::image::{self, FrozenImage};
use super::persist::{self, Wal};
use super::runtime::Shared;

/// The nice value of the snapshot thread (the server runs at 0).
#[cfg(target_os = "linux")]
const WRITER_NICE: libc::c_int = 10;
/// Linux `ioprio_set`: best-effort class, lowest level.
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
        let mut rng = rand::thread_rng();
        let half = self.snap_count / 2;
        self.txn_goal = half + rng.gen_range(0..half.max(1));
        self.byte_goal = self.size_limit.map(|limit| {
            let half = limit / 2;
            half + rng.gen_range(0..half.max(1))
        });
        self.txns = 0;
        self.bytes = 0;
    }
}

/// The snapshot thread, while one runs.
#[derive(Default)]
pub struct Snapshotter {
    running: Option<JoinHandle<()>>,
}

impl Snapshotter {
    /// Whether a snapshot is still being written.
    pub fn busy(&self) -> bool {
        self.running.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Snapshots the state as it is now, and rolls the log to a new segment at its zxid.
    /// Called by the writer between batches.
    pub fn take(
        &mut self,
        shared: &Arc<Shared>,
        wal: &mut Wal,
    ) -> Result<(), persist::PersistError> {
        let image = image::freeze(&mut shared.state.write());
        if let Err(e) = wal.roll() {
            image.abandon(&mut shared.state.write());
            return Err(e);
        }
        let dir = shared.opts.snap_dir();
        let thread_shared = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("zk-snapshot".into())
            .spawn(move || {
                lower_priority();
                write_image(&thread_shared, &dir, image);
            });
        match spawned {
            Ok(thread) => self.running = Some(thread),
            Err(e) => {
                tracing::warn!("cannot start the snapshot thread ({e}); no snapshot this time")
            }
        }
        Ok(())
    }

    /// Waits for the snapshot being written, so a stop leaves no half-written file.
    pub fn finish(self) {
        if let Some(thread) = self.running {
            let _ = thread.join();
        }
    }
}

/// Writes a frozen image as `snapshot.<zxid>`; the log still holds every txn if this fails.
pub fn write_image(shared: &Shared, dir: &std::path::Path, image: FrozenImage) {
    let started = std::time::Instant::now();
    let zxid = image.zxid().max(0) as u64;
    let written =
        persist::snapshot::write(dir, zxid, &mut |out| image.write_to(&shared.state, out));
    match written {
        Ok(path) => tracing::info!(
            path = %path.display(),
            took_ms = started.elapsed().as_millis() as u64,
            "snapshot written"
        ),
        Err(e) => {
            image.abandon(&mut shared.state.write());
            tracing::warn!(
                zxid = format!("0x{zxid:x}"),
                "snapshot failed ({e}); the log still holds every txn"
            );
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
}
