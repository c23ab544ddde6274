//! Purge of old snapshots and log segments, as Apache's `zkCleanup.sh` (`PurgeTxnLog`) and
//! `autopurge.*` do.
//!
//! The newest `retain` full snapshots (at least 3) whose header and length check out are kept;
//! call the oldest of them `S`. Deleted are: snapshots and deltas (`snapshot.<zxid>.delta`)
//! older than `S`, leftover temp files of either older than `S`, and every log segment whose
//! zxids are all below `S`,
//! that is every segment followed by one whose first zxid is at or below `S`. The segment that
//! covers `S` and everything after stays, so recovery from any kept snapshot still finds every
//! transaction after it. Damaged snapshots newer than `S` are left for the operator. The active
//! log segment is always the newest one and is never deleted, so purge can run while the log is
//! being written.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::files::{self, LOG_PREFIX, SNAPSHOT_PREFIX, TMP_SUFFIX};
use super::snapshot::{self, DELTA_SUFFIX};
use super::PersistError;

/// Deletes what is no longer needed to recover from the newest `retain` valid snapshots
/// (`retain` below 3 counts as 3, as `autopurge.snapRetainCount`). `snap_dir` and `log_dir` are
/// the `version-2` directories (they may be the same). Returns the deleted paths; with no valid
/// snapshot it deletes nothing.
pub fn purge(snap_dir: &Path, log_dir: &Path, retain: usize) -> Result<Vec<PathBuf>, PersistError> {
    let retain = retain.max(MIN_RETAIN);
    let snapshots = files::list(snap_dir, SNAPSHOT_PREFIX, "")?;
    let mut kept = 0;
    let mut oldest_kept = None;
    for (zxid, path) in snapshots.iter().rev() {
        if kept == retain {
            break;
        }
        if snapshot::check_header(path, *zxid)?.is_ok() {
            kept += 1;
            oldest_kept = Some(*zxid);
        }
    }
    let Some(oldest_kept) = oldest_kept else {
        return Ok(Vec::new());
    };

    let older = |files: Vec<(u64, PathBuf)>| {
        files
            .into_iter()
            .filter(move |(zxid, _)| *zxid < oldest_kept)
            .map(|(_, path)| path)
    };
    let mut doomed: Vec<PathBuf> = older(snapshots).collect();
    doomed.extend(older(files::list(snap_dir, SNAPSHOT_PREFIX, TMP_SUFFIX)?));
    let delta_tmp = format!("{DELTA_SUFFIX}{TMP_SUFFIX}");
    doomed.extend(older(files::list(snap_dir, SNAPSHOT_PREFIX, DELTA_SUFFIX)?));
    doomed.extend(older(files::list(snap_dir, SNAPSHOT_PREFIX, &delta_tmp)?));
    let segments = files::list(log_dir, LOG_PREFIX, "")?;
    // A segment holds only zxids below the first zxid of the segment after it.
    doomed.extend(
        segments
            .windows(2)
            .filter(|pair| pair[1].0 <= oldest_kept)
            .map(|pair| pair[0].1.clone()),
    );

    let mut deleted = Vec::with_capacity(doomed.len());
    for path in doomed {
        match fs::remove_file(&path) {
            Ok(()) => {
                tracing::info!(file = %path.display(), "purged");
                deleted.push(path);
            }
            // Someone else (another purge) got there first.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(PersistError::io("remove", &path)(e)),
        }
    }
    Ok(deleted)
}

/// The fewest snapshots purge keeps, as Apache enforces.
const MIN_RETAIN: usize = 3;

#[cfg(test)]
mod tests {
    use super::super::{LogEntryRef, Wal, WalOptions};
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        super::super::files::sorted_names(dir)
    }

    fn take_snapshot(dir: &Path, zxid: u64) -> PathBuf {
        snapshot::write(dir, zxid, &mut |out| out.write_all(&zxid.to_le_bytes())).unwrap()
    }

    /// A server's life: three transactions per segment, a snapshot in the middle of each segment,
    /// a roll after each snapshot. Segments log.1, log.4, log.7, log.a, log.d; snapshots at
    /// 2, 5, 8, b, e.
    fn history(snap_dir: &Path, log_dir: &Path) {
        let opts = WalOptions {
            fsync: false,
            ..WalOptions::default()
        };
        let (mut wal, _) = Wal::open(log_dir, opts, 0).unwrap();
        for first in [1u64, 4, 7, 10, 13] {
            let append = |wal: &mut Wal, zxid: u64| {
                wal.append(&[LogEntryRef {
                    zxid,
                    payload: b"txn",
                }])
                .unwrap();
            };
            append(&mut wal, first);
            append(&mut wal, first + 1);
            take_snapshot(snap_dir, first + 1);
            append(&mut wal, first + 2);
            wal.roll().unwrap();
        }
    }

    #[test]
    fn deltas_go_with_the_full_snapshots_before_them() {
        let snaps = tempfile::tempdir().unwrap();
        let logs = tempfile::tempdir().unwrap();
        history(snaps.path(), logs.path());
        for zxid in [3u64, 6, 9, 0xc, 0xf] {
            snapshot::write_delta(snaps.path(), zxid, &mut |out| out.write_all(b"delta")).unwrap();
        }
        fs::write(
            snaps.path().join("snapshot.4.delta.tmp"),
            b"left by a crash",
        )
        .unwrap();
        purge(snaps.path(), logs.path(), 3).unwrap();
        assert_eq!(
            names(snaps.path()),
            vec![
                "snapshot.8",
                "snapshot.9.delta",
                "snapshot.b",
                "snapshot.c.delta",
                "snapshot.e",
                "snapshot.f.delta"
            ]
        );
    }

    #[test]
    fn keeps_the_newest_snapshots_and_the_log_they_need() {
        let snaps = tempfile::tempdir().unwrap();
        let logs = tempfile::tempdir().unwrap();
        history(snaps.path(), logs.path());
        fs::write(snaps.path().join("snapshot.3.tmp"), b"left by a crash").unwrap();
        fs::write(snaps.path().join("snapshot.f.tmp"), b"being written").unwrap();

        let mut deleted = purge(snaps.path(), logs.path(), 3).unwrap();
        deleted.sort();
        let mut expected = vec![
            snaps.path().join("snapshot.2"),
            snaps.path().join("snapshot.5"),
            snaps.path().join("snapshot.3.tmp"),
            logs.path().join("log.1"),
            logs.path().join("log.4"),
        ];
        expected.sort();
        assert_eq!(deleted, expected);
        assert_eq!(
            names(snaps.path()),
            vec!["snapshot.8", "snapshot.b", "snapshot.e", "snapshot.f.tmp"]
        );
        assert_eq!(names(logs.path()), vec!["log.7", "log.a", "log.d"]);

        // Recovery from the oldest kept snapshot still finds every later transaction.
        let (_, entries) = Wal::open(logs.path(), WalOptions::default(), 8).unwrap();
        let zxids: Vec<u64> = entries.iter().map(|e| e.zxid).collect();
        assert_eq!(zxids, (9..=15).collect::<Vec<_>>());
        assert_eq!(
            purge(snaps.path(), logs.path(), 3).unwrap(),
            Vec::<PathBuf>::new()
        );
    }

    #[test]
    fn retain_below_three_counts_as_three_and_one_directory_works() {
        let dir = tempfile::tempdir().unwrap();
        history(dir.path(), dir.path());
        let deleted = purge(dir.path(), dir.path(), 1).unwrap();
        assert_eq!(deleted.len(), 4, "{deleted:?}");
        assert_eq!(
            names(dir.path()),
            vec![
                "log.7",
                "log.a",
                "log.d",
                "snapshot.8",
                "snapshot.b",
                "snapshot.e"
            ]
        );
    }

    #[test]
    fn damaged_snapshots_do_not_count_as_kept() {
        let snaps = tempfile::tempdir().unwrap();
        let logs = tempfile::tempdir().unwrap();
        history(snaps.path(), logs.path());
        let newest = snaps.path().join("snapshot.e");
        let len = fs::metadata(&newest).unwrap().len();
        fs::OpenOptions::new()
            .write(true)
            .open(&newest)
            .unwrap()
            .set_len(len - 1)
            .unwrap();

        purge(snaps.path(), logs.path(), 3).unwrap();
        assert_eq!(
            names(snaps.path()),
            vec!["snapshot.5", "snapshot.8", "snapshot.b", "snapshot.e"],
            "kept 5, 8, b and left the damaged e alone"
        );
        assert_eq!(names(logs.path()), vec!["log.4", "log.7", "log.a", "log.d"]);
    }

    #[test]
    fn nothing_is_deleted_without_a_valid_snapshot() {
        let snaps = tempfile::tempdir().unwrap();
        let logs = tempfile::tempdir().unwrap();
        history(snaps.path(), logs.path());
        for (_, path) in files::list(snaps.path(), SNAPSHOT_PREFIX, "").unwrap() {
            fs::write(path, b"junk").unwrap();
        }
        assert!(purge(snaps.path(), logs.path(), 3).unwrap().is_empty());
        let empty = tempfile::tempdir().unwrap();
        assert!(purge(empty.path(), logs.path(), 3).unwrap().is_empty());
        assert_eq!(names(logs.path()).len(), 5);
    }
}
