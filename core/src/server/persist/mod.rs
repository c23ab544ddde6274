//! Durable storage: the write-ahead log of transactions, snapshot files, and purge of old files.
//!
//! This module stores opaque byte payloads. The server encodes its transaction records and its
//! tree snapshot; this module only makes them durable, checks them on the way back in, and names
//! the files the way Apache ZooKeeper does (`log.<first zxid hex>`, `snapshot.<zxid hex>`) so an
//! operator recognises them. The byte formats inside the files are our own, documented byte by
//! byte in the file that writes them. Everything here is synchronous `std::fs` code, called from
//! the server's writer thread (log), snapshot thread (snapshots) and purge task.
//!
//! # Layout
//!
//! - `mod.rs`: this overview, [`PersistError`] and [`Corruption`], the re-exports.
//! - `wal.rs`: [`Wal`], the segmented log with group commit, a CRC on every record and repair of
//!   a torn tail on open. Its module doc has the segment format.
//! - `snapshot.rs`: [`snapshot::write`] (temp file, fsync, rename, fsync dir) and
//!   [`snapshot::load_latest`] (newest snapshot whose CRC verifies). Its module doc has the
//!   snapshot format.
//! - `purge.rs`: [`purge()`], what `zkCleanup.sh` and `autopurge.*` do.
//! - `files.rs`: file names (`log.<hex>`, `snapshot.<hex>`), directory listing and directory fsync
//!   shared by the others.
//!
//! # Recovery in one paragraph
//!
//! On start the server loads the newest valid snapshot (zxid `S`), then opens the log with
//! `after_zxid = S` and applies the entries it returns, in order. A crash (`kill -9` or power loss)
//! can only leave a torn tail in the last log segment, since a segment is fsynced before the next
//! one is created; [`Wal::open`] truncates such a tail with a warning. Anything [`Wal::append`]
//! acknowledged is before that tail and survives. Corruption anywhere else is reported as an
//! error rather than silently dropping data.

mod files;
mod purge;
pub mod snapshot;
mod wal;

use std::io;
use std::path::PathBuf;

pub use purge::purge;
pub use wal::{LogEntry, LogEntryRef, Wal, WalOptions, MAX_RECORD_BYTES};

/// Everything that can go wrong in this module. Each variant names the file or directory involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PersistError {
    /// An operating-system call failed.
    #[error("{op} {}: {source}", .path.display())]
    Io {
        /// What was being done, e.g. `"fsync"`.
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A log segment that is not the last one is damaged: repairing it would silently drop
    /// acknowledged transactions, so the operator has to look.
    #[error("corrupt log segment {} at offset {offset}: {reason}", .path.display())]
    CorruptLog {
        path: PathBuf,
        offset: u64,
        reason: Corruption,
    },
    /// [`Wal::append`] was given a zxid not greater than the one before it.
    #[error("log {}: zxid {zxid:#x} is not greater than the previous zxid {previous:#x}", .dir.display())]
    ZxidNotIncreasing {
        dir: PathBuf,
        zxid: u64,
        previous: u64,
    },
    /// [`Wal::append`] was given a payload larger than [`MAX_RECORD_BYTES`].
    #[error("log {}: payload of zxid {zxid:#x} has {len} bytes, more than the limit of {MAX_RECORD_BYTES}", .dir.display())]
    RecordTooLarge { dir: PathBuf, zxid: u64, len: usize },
    /// An earlier write or fsync of this log failed, so what is on disk is unknown; the log accepts
    /// nothing more. Reopening it (restarting the server) repairs the tail.
    #[error("log segment {}: an earlier write or fsync failed; reopen the log to recover", .path.display())]
    Poisoned { path: PathBuf },
    /// Snapshot files exist but none of them verifies. Starting from an empty tree would lose
    /// data, so this is an error rather than `None`.
    #[error("snapshot directory {}: none of the {count} snapshot files verifies", .dir.display())]
    NoValidSnapshot { dir: PathBuf, count: usize },
}

/// Why a log record, a segment header or a snapshot was judged damaged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Corruption {
    #[error("file ends inside the {0}-byte header")]
    TruncatedHeader(usize),
    #[error("bad magic number")]
    BadMagic,
    #[error("unsupported format version {0}")]
    UnsupportedVersion(u32),
    #[error("header checksum mismatch")]
    BadHeaderCrc,
    #[error("header says zxid {in_header:#x} but the file name says {in_name:#x}")]
    NameMismatch { in_name: u64, in_header: u64 },
    #[error("record length {0} exceeds the limit of {MAX_RECORD_BYTES} bytes")]
    RecordTooLarge(u64),
    #[error("file ends inside a record ({missing} bytes missing)")]
    TruncatedRecord { missing: u64 },
    #[error("checksum mismatch")]
    BadCrc,
    #[error("zxid {zxid:#x} does not follow zxid {previous:#x}")]
    ZxidOutOfOrder { zxid: u64, previous: u64 },
    #[error("first record has zxid {found:#x} but the file name says {expected:#x}")]
    FirstZxidMismatch { expected: u64, found: u64 },
    #[error("segment holds no records")]
    Empty,
    #[error("payload length {in_header} in the header but {on_disk} bytes in the file")]
    LengthMismatch { in_header: u64, on_disk: u64 },
}

impl PersistError {
    /// Builds the [`PersistError::Io`] variant; used as `.map_err(PersistError::io("fsync", &p))`.
    fn io<'a>(op: &'static str, path: &'a std::path::Path) -> impl FnOnce(io::Error) -> Self + 'a {
        move |source| PersistError::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The little-endian u32 at the start of `bytes` (callers pass at least 4 bytes).
fn le_u32(bytes: &[u8]) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[..4]);
    u32::from_le_bytes(word)
}

/// The little-endian u64 at the start of `bytes` (callers pass at least 8 bytes).
fn le_u64(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(word)
}
