//! File names and directory helpers shared by the log, snapshots and purge.
//!
//! Names are Apache ZooKeeper's: a prefix and a zxid in lowercase hexadecimal without padding
//! (`log.1`, `snapshot.1a2b`). Only that canonical spelling is recognised, so two names can never
//! denote the same zxid; anything else in the directory is left alone.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::PersistError;

/// Prefix of log segment files.
pub(super) const LOG_PREFIX: &str = "log.";
/// Prefix of snapshot files.
pub(super) const SNAPSHOT_PREFIX: &str = "snapshot.";
/// Suffix of a snapshot being written; renamed away once complete.
pub(super) const TMP_SUFFIX: &str = ".tmp";

/// `dir/<prefix><zxid hex><suffix>`.
pub(super) fn zxid_path(dir: &Path, prefix: &str, zxid: u64, suffix: &str) -> PathBuf {
    dir.join(format!("{prefix}{zxid:x}{suffix}"))
}

/// The files in `dir` named exactly `<prefix><zxid hex><suffix>`, sorted by zxid (oldest first).
/// A directory that does not exist holds no files.
pub(super) fn list(
    dir: &Path,
    prefix: &str,
    suffix: &str,
) -> Result<Vec<(u64, PathBuf)>, PersistError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(PersistError::io("list directory", dir)(e)),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(PersistError::io("list directory", dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(zxid) = parse_name(name, prefix, suffix) {
            found.push((zxid, entry.path()));
        }
    }
    found.sort_unstable_by_key(|(zxid, _)| *zxid);
    Ok(found)
}

/// Creates `dir` (and missing parents) if needed, making its new entry durable.
pub(super) fn ensure_dir(dir: &Path) -> Result<(), PersistError> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir).map_err(PersistError::io("create directory", dir))?;
    match dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => sync_dir(parent),
        _ => sync_dir(Path::new(".")),
    }
}

/// Makes the directory entries of `dir` (files created, renamed or removed in it) durable.
pub(super) fn sync_dir(dir: &Path) -> Result<(), PersistError> {
    #[cfg(unix)]
    {
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(PersistError::io("fsync directory", dir))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// The zxid in `name` if it is exactly `<prefix><canonical lowercase hex><suffix>`.
fn parse_name(name: &str, prefix: &str, suffix: &str) -> Option<u64> {
    let hex = name.strip_prefix(prefix)?.strip_suffix(suffix)?;
    let zxid = u64::from_str_radix(hex, 16).ok()?;
    (format!("{zxid:x}") == hex).then_some(zxid)
}

/// The sorted file names in `dir` (tests only).
#[cfg(test)]
pub(super) fn sorted_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_only_canonical_spelling_parses() {
        let dir = Path::new("/d");
        assert_eq!(
            zxid_path(dir, LOG_PREFIX, 0x1a2b, ""),
            Path::new("/d/log.1a2b")
        );
        assert_eq!(
            zxid_path(dir, SNAPSHOT_PREFIX, 0, TMP_SUFFIX),
            Path::new("/d/snapshot.0.tmp")
        );
        assert_eq!(parse_name("log.1a2b", LOG_PREFIX, ""), Some(0x1a2b));
        assert_eq!(
            parse_name("log.ffffffffffffffff", LOG_PREFIX, ""),
            Some(u64::MAX)
        );
        assert_eq!(
            parse_name("snapshot.5.tmp", SNAPSHOT_PREFIX, TMP_SUFFIX),
            Some(5)
        );
        for bad in [
            "log.",
            "log.01",
            "log.1A",
            "log.+1",
            "log.1.tmp",
            "log.10000000000000000",
            "logx1",
        ] {
            assert_eq!(parse_name(bad, LOG_PREFIX, ""), None, "{bad}");
        }
    }

    #[test]
    fn list_sorts_by_zxid_and_ignores_other_files() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "log.a",
            "log.2",
            "log.10",
            "log.3.tmp",
            "snapshot.1",
            "other",
        ] {
            fs::write(dir.path().join(name), b"").unwrap();
        }
        let zxids: Vec<u64> = list(dir.path(), LOG_PREFIX, "")
            .unwrap()
            .into_iter()
            .map(|(z, _)| z)
            .collect();
        assert_eq!(zxids, vec![2, 0xa, 0x10]);
        assert!(list(&dir.path().join("missing"), LOG_PREFIX, "")
            .unwrap()
            .is_empty());
    }
}
