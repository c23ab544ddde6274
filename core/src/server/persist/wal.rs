//! The write-ahead log: segment files of CRC-checked records, appended in batches (group commit).
//!
//! # Files
//!
//! The log is one directory (the server passes `<dataLogDir>/version-2`) of segment files
//! `log.<zxid>`, each named by the zxid of its first record in lowercase hex, as Apache names
//! them. Every zxid in a segment is smaller than the first zxid of the next segment. A segment is
//! created by the first [`Wal::append`] after the log was opened empty or rolled, so there are no
//! empty segments. The log rolls to a new segment before a batch when the active segment has
//! reached [`WalOptions::segment_bytes`] (so a segment can exceed it by one batch), and when
//! [`Wal::roll`] is called. A segment is fsynced when it is left, even with `fsync` off, so only
//! the last segment can ever have a torn tail.
//!
//! # Segment format, version 1
//!
//! Integers are little-endian. CRC-32 is the IEEE polynomial (as zlib, computed by `crc32fast`).
//! A segment is a 24-byte header followed by records up to the end of the file; there is no
//! padding and no preallocation, so the end of the file is the end of the log.
//!
//! ```text
//! segment header (24 bytes)
//!  offset size  field
//!     0     4   magic        the ASCII bytes "ZKWL"
//!     4     4   version      u32, 1
//!     8     8   first_zxid   u64, zxid of the first record; equals the zxid in the file name
//!    16     4   reserved     u32, 0
//!    20     4   header_crc   u32, CRC-32 of bytes 0..20
//!
//! record (16-byte header + payload)
//!  offset size  field
//!     0     4   crc          u32, CRC-32 of bytes 4..16+len: the length, the zxid and the payload
//!     4     4   len          u32, payload length, at most MAX_RECORD_BYTES (64 MiB)
//!     8     8   zxid         u64, strictly greater than the zxid of the record before it
//!    16   len   payload      opaque bytes (the server's encoded transaction)
//! ```
//!
//! # Writing
//!
//! [`Wal::append`] encodes a whole batch into one reused buffer (preceded by the segment header
//! when the batch starts a segment), writes it with one `write_all` to the file opened in append
//! mode, then calls `fdatasync` once (and fsyncs the directory when the segment is new). Only then
//! does it return, so an `Ok` means every entry of the batch is durable. If a write or fsync
//! fails, the state of the file is unknown: the log refuses further appends
//! ([`PersistError::Poisoned`]) until it is reopened, which repairs the tail.
//!
//! # Reading and repair
//!
//! [`Wal::open`] reads the segments oldest first and stops a segment at the first record that is
//! incomplete, longer than the limit, fails its CRC, or breaks zxid order. In the last segment that
//! is where a crash interrupted a batch that was never acknowledged (a lost page in the middle of
//! an unsynced batch can leave valid-looking records after a bad one, so the cut is at the first
//! bad record): the tail is truncated with a warning naming the file, the offset and the number of
//! bytes dropped, and the log stays appendable. A last segment whose header is damaged or that
//! holds no record was never synced, and is removed with a warning. In any other segment damage is
//! an error, [`PersistError::CorruptLog`]: it would be acknowledged data. Segments whose zxids are
//! all at or below `after_zxid` are not read at all, except the two newest (the last one to find
//! the end of the log, the one before it in case the last is removed).
//! A length field is checked against the limit and the bytes left in the file before anything is
//! allocated for the payload.

use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use super::files::{self, LOG_PREFIX};
use super::{le_u32, le_u64, Corruption, PersistError};

/// The largest payload one record may carry: 64 MiB. Longer lengths read from a file are
/// corruption; longer payloads given to [`Wal::append`] are refused.
pub const MAX_RECORD_BYTES: usize = 64 << 20;

/// How the log writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalOptions {
    /// Start a new segment before a batch once the active one has this many bytes.
    /// Default 64 MiB (Apache's `preAllocSize`).
    pub segment_bytes: u64,
    /// `fdatasync` after every batch (`forceSync`). Default true. With false, an append is durable
    /// only once its segment is left or the OS writes it back.
    pub fsync: bool,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            segment_bytes: 64 << 20,
            fsync: true,
        }
    }
}

/// One log record as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub zxid: u64,
    pub payload: Vec<u8>,
}

/// One log record to append, borrowing the caller's encoded bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogEntryRef<'a> {
    pub zxid: u64,
    pub payload: &'a [u8],
}

impl<'a> From<&'a LogEntry> for LogEntryRef<'a> {
    fn from(entry: &'a LogEntry) -> Self {
        LogEntryRef {
            zxid: entry.zxid,
            payload: &entry.payload,
        }
    }
}

/// The open write-ahead log. One writer per directory: the server owns it on its writer thread.
#[derive(Debug)]
pub struct Wal {
    dir: PathBuf,
    opts: WalOptions,
    /// The segment appends go to; `None` until the first append after opening empty or rolling.
    active: Option<Segment>,
    last_zxid: u64,
    /// Encoding buffer, reused across batches.
    buf: Vec<u8>,
    /// Set when a write or fsync failed: the segment whose state on disk is unknown.
    poisoned: Option<PathBuf>,
}

impl Wal {
    /// Opens the log in `dir`, creating the directory if needed, and returns it with every entry
    /// whose zxid is greater than `after_zxid`, oldest first. A damaged tail of the last segment is
    /// repaired with a warning; damage elsewhere is [`PersistError::CorruptLog`].
    pub fn open(
        dir: &Path,
        opts: WalOptions,
        after_zxid: u64,
    ) -> Result<(Wal, Vec<LogEntry>), PersistError> {
        files::ensure_dir(dir)?;
        let segments = files::list(dir, LOG_PREFIX, "")?;
        let mut entries = Vec::new();
        // Zxid of the last record read so far; `None` before any, or after skipping a segment.
        let mut previous = None;
        let mut active = None;
        for (i, (first_zxid, path)) in segments.iter().enumerate() {
            let next_first = segments.get(i + 1).map(|(zxid, _)| *zxid);
            let is_last = next_first.is_none();
            // Every zxid in this segment is below `next_first`.
            let needed = match next_first {
                Some(next) => next > after_zxid.saturating_add(1),
                None => true,
            };
            if !needed && i + 2 < segments.len() {
                previous = None;
                continue;
            }
            let scan = read_segment(path, *first_zxid, previous, after_zxid, &mut entries)?;
            if is_last {
                active = repair_last(dir, path, &scan)?;
            } else if let Some((offset, reason)) = scan.damage {
                return Err(PersistError::CorruptLog {
                    path: path.clone(),
                    offset,
                    reason,
                });
            } else if scan.last_zxid.is_none() {
                return Err(PersistError::CorruptLog {
                    path: path.clone(),
                    offset: HEADER_LEN,
                    reason: Corruption::Empty,
                });
            }
            previous = scan.last_zxid.or(previous);
        }
        let wal = Wal {
            dir: dir.to_path_buf(),
            opts,
            active,
            last_zxid: previous.unwrap_or(0),
            buf: Vec::new(),
            poisoned: None,
        };
        Ok((wal, entries))
    }

    /// Appends a batch (group commit): one write of all records, then one `fdatasync` if
    /// [`WalOptions::fsync`]. When this returns `Ok`, every entry is durable. Zxids must be
    /// strictly increasing, within the batch and after [`Wal::last_zxid`]; a batch that breaks
    /// this, or has a payload over [`MAX_RECORD_BYTES`], is refused whole before anything is
    /// written. An empty batch does nothing.
    pub fn append(&mut self, entries: &[LogEntryRef<'_>]) -> Result<(), PersistError> {
        self.check_poisoned()?;
        let Some(first) = entries.first() else {
            return Ok(());
        };
        let mut previous = self.last_zxid;
        for entry in entries {
            if entry.zxid <= previous {
                return Err(PersistError::ZxidNotIncreasing {
                    dir: self.dir.clone(),
                    zxid: entry.zxid,
                    previous,
                });
            }
            if entry.payload.len() > MAX_RECORD_BYTES {
                return Err(PersistError::RecordTooLarge {
                    dir: self.dir.clone(),
                    zxid: entry.zxid,
                    len: entry.payload.len(),
                });
            }
            previous = entry.zxid;
        }
        if self
            .active
            .as_ref()
            .is_some_and(|seg| seg.len >= self.opts.segment_bytes)
        {
            self.roll()?;
        }

        self.buf.clear();
        let mut seg = match self.active.take() {
            Some(seg) => seg,
            None => {
                encode_header(&mut self.buf, first.zxid);
                Segment::create(&self.dir, first.zxid)?
            }
        };
        let created = seg.len == 0;
        for entry in entries {
            encode_record(&mut self.buf, entry);
        }
        let written = self.write_batch(&mut seg, created);
        seg.len += self.buf.len() as u64;
        if written.is_err() {
            self.poisoned = Some(seg.path.clone());
        } else {
            self.last_zxid = previous;
        }
        self.active = Some(seg);
        if self.buf.capacity() > KEEP_BUF_CAPACITY {
            self.buf = Vec::new();
        }
        written
    }

    /// The zxid of the newest record in the log, 0 if the log is empty. It does not depend on
    /// the `after_zxid` given to [`Wal::open`].
    pub fn last_zxid(&self) -> u64 {
        self.last_zxid
    }

    /// The directory the log lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Leaves the active segment (fsyncing it) so the next append starts a new one, named by its
    /// first zxid. The server calls this after a snapshot so that older segments can be purged.
    /// Does nothing when no segment is active.
    pub fn roll(&mut self) -> Result<(), PersistError> {
        self.check_poisoned()?;
        if let Some(seg) = self.active.take() {
            if let Err(source) = seg.file.sync_data() {
                self.poisoned = Some(seg.path.clone());
                return Err(PersistError::Io {
                    op: "fsync",
                    path: seg.path,
                    source,
                });
            }
        }
        Ok(())
    }

    /// Removes every segment whose records all have zxids below `zxid`, never the active one;
    /// returns how many went. The ensemble's log calls this after writing a checkpoint at `zxid`.
    pub fn remove_before(&mut self, zxid: u64) -> Result<usize, PersistError> {
        let segments = files::list(&self.dir, LOG_PREFIX, "")?;
        let mut removed = 0;
        for pair in segments.windows(2) {
            let (path, next_first) = (&pair[0].1, pair[1].0);
            let active = self.active.as_ref().is_some_and(|a| a.path == *path);
            if next_first <= zxid && !active {
                fs::remove_file(path).map_err(PersistError::io("remove", path))?;
                removed += 1;
            }
        }
        if removed > 0 {
            files::sync_dir(&self.dir)?;
        }
        Ok(removed)
    }

    fn check_poisoned(&self) -> Result<(), PersistError> {
        match &self.poisoned {
            Some(path) => Err(PersistError::Poisoned { path: path.clone() }),
            None => Ok(()),
        }
    }

    /// Writes the encoded batch to `seg` and makes it durable as the options ask.
    fn write_batch(&self, seg: &mut Segment, created: bool) -> Result<(), PersistError> {
        seg.file
            .write_all(&self.buf)
            .map_err(PersistError::io("write", &seg.path))?;
        if self.opts.fsync {
            seg.file
                .sync_data()
                .map_err(PersistError::io("fsync", &seg.path))?;
            if created {
                files::sync_dir(&self.dir)?;
            }
        }
        Ok(())
    }
}

/// Length of the segment header.
const HEADER_LEN: u64 = 24;
/// Length of a record's header, before its payload.
const RECORD_HEADER_LEN: u64 = 16;
const MAGIC: [u8; 4] = *b"ZKWL";
const VERSION: u32 = 1;
/// The encoding buffer is dropped after a batch that grew it beyond this.
const KEEP_BUF_CAPACITY: usize = 4 << 20;
/// Read buffer for replay.
const READ_BUF_CAPACITY: usize = 256 << 10;

/// The segment appends go to.
#[derive(Debug)]
struct Segment {
    path: PathBuf,
    /// Opened in append mode.
    file: File,
    /// Bytes in the file.
    len: u64,
}

impl Segment {
    fn create(dir: &Path, first_zxid: u64) -> Result<Segment, PersistError> {
        let path = files::zxid_path(dir, LOG_PREFIX, first_zxid, "");
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(&path)
            .map_err(PersistError::io("create", &path))?;
        Ok(Segment { path, file, len: 0 })
    }
}

/// What reading one segment found.
#[derive(Debug)]
struct Scan {
    /// Bytes from the start of the file to the end of the last good record.
    good_len: u64,
    file_len: u64,
    /// Zxid of the last good record; `None` if there is none.
    last_zxid: Option<u64>,
    /// Where and why reading stopped before the end of the file.
    damage: Option<(u64, Corruption)>,
}

fn encode_header(buf: &mut Vec<u8>, first_zxid: u64) {
    let start = buf.len();
    buf.extend_from_slice(&MAGIC);
    buf.extend_from_slice(&VERSION.to_le_bytes());
    buf.extend_from_slice(&first_zxid.to_le_bytes());
    buf.extend_from_slice(&0u32.to_le_bytes());
    let crc = crc32fast::hash(&buf[start..]);
    buf.extend_from_slice(&crc.to_le_bytes());
}

/// Checks a segment header against the zxid in the file name.
fn check_header(header: &[u8; HEADER_LEN as usize], name_zxid: u64) -> Result<(), Corruption> {
    let (body, crc) = header.split_at(20);
    if body[0..4] != MAGIC {
        return Err(Corruption::BadMagic);
    }
    if crc32fast::hash(body) != le_u32(crc) {
        return Err(Corruption::BadHeaderCrc);
    }
    let version = le_u32(&body[4..8]);
    if version != VERSION {
        return Err(Corruption::UnsupportedVersion(version));
    }
    let in_header = le_u64(&body[8..16]);
    if in_header != name_zxid {
        return Err(Corruption::NameMismatch {
            in_name: name_zxid,
            in_header,
        });
    }
    Ok(())
}

fn encode_record(buf: &mut Vec<u8>, entry: &LogEntryRef<'_>) {
    let start = buf.len();
    buf.extend_from_slice(&[0; 4]);
    // `append` refused payloads over MAX_RECORD_BYTES, which fits in a u32.
    buf.extend_from_slice(&(entry.payload.len() as u32).to_le_bytes());
    buf.extend_from_slice(&entry.zxid.to_le_bytes());
    buf.extend_from_slice(entry.payload);
    let crc = crc32fast::hash(&buf[start + 4..]);
    buf[start..start + 4].copy_from_slice(&crc.to_le_bytes());
}

/// Reads the segment at `path`, pushing to `out` every good record with a zxid above
/// `after_zxid`. `previous` is the zxid of the record before this segment, if known. Damage is
/// reported in the result; only I/O failures are errors.
fn read_segment(
    path: &Path,
    name_zxid: u64,
    mut previous: Option<u64>,
    after_zxid: u64,
    out: &mut Vec<LogEntry>,
) -> Result<Scan, PersistError> {
    let file = File::open(path).map_err(PersistError::io("open", path))?;
    let file_len = file
        .metadata()
        .map_err(PersistError::io("stat", path))?
        .len();
    let mut reader = BufReader::with_capacity(READ_BUF_CAPACITY, file);
    let mut scan = Scan {
        good_len: 0,
        file_len,
        last_zxid: None,
        damage: None,
    };
    let mut read = |buf: &mut [u8]| {
        reader
            .read_exact(buf)
            .map_err(PersistError::io("read", path))
    };

    if file_len < HEADER_LEN {
        scan.damage = Some((0, Corruption::TruncatedHeader(HEADER_LEN as usize)));
        return Ok(scan);
    }
    let mut header = [0u8; HEADER_LEN as usize];
    read(&mut header)?;
    if let Err(reason) = check_header(&header, name_zxid) {
        scan.damage = Some((0, reason));
        return Ok(scan);
    }
    scan.good_len = HEADER_LEN;

    // Payloads at or below `after_zxid` are read into this one buffer, checked, and dropped.
    let mut scratch = Vec::new();
    loop {
        let offset = scan.good_len;
        let remaining = file_len - offset;
        if remaining == 0 {
            break;
        }
        if remaining < RECORD_HEADER_LEN {
            let missing = RECORD_HEADER_LEN - remaining;
            scan.damage = Some((offset, Corruption::TruncatedRecord { missing }));
            break;
        }
        let mut head = [0u8; RECORD_HEADER_LEN as usize];
        read(&mut head)?;
        let crc = le_u32(&head[0..4]);
        let len = u64::from(le_u32(&head[4..8]));
        let zxid = le_u64(&head[8..16]);
        if len > MAX_RECORD_BYTES as u64 {
            scan.damage = Some((offset, Corruption::RecordTooLarge(len)));
            break;
        }
        if len > remaining - RECORD_HEADER_LEN {
            let missing = len - (remaining - RECORD_HEADER_LEN);
            scan.damage = Some((offset, Corruption::TruncatedRecord { missing }));
            break;
        }
        let keep = zxid > after_zxid;
        let mut payload = if keep {
            Vec::new()
        } else {
            std::mem::take(&mut scratch)
        };
        // Bounded by MAX_RECORD_BYTES and by the bytes left in the file, checked above.
        payload.resize(len as usize, 0);
        read(&mut payload)?;
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&head[4..]);
        hasher.update(&payload);
        let problem = if hasher.finalize() != crc {
            Some(Corruption::BadCrc)
        } else if scan.last_zxid.is_none() && zxid != name_zxid {
            Some(Corruption::FirstZxidMismatch {
                expected: name_zxid,
                found: zxid,
            })
        } else {
            previous
                .filter(|&previous| zxid <= previous)
                .map(|previous| Corruption::ZxidOutOfOrder { zxid, previous })
        };
        if let Some(reason) = problem {
            scan.damage = Some((offset, reason));
            break;
        }
        previous = Some(zxid);
        scan.last_zxid = Some(zxid);
        scan.good_len = offset + RECORD_HEADER_LEN + len;
        if keep {
            out.push(LogEntry { zxid, payload });
        } else {
            scratch = payload;
        }
    }
    Ok(scan)
}

/// Repairs the last segment after reading it: truncates a damaged tail, or removes the file if
/// it holds no good record. Returns the segment to append to, if it is kept.
fn repair_last(dir: &Path, path: &Path, scan: &Scan) -> Result<Option<Segment>, PersistError> {
    if let Some((offset, reason)) = &scan.damage {
        tracing::warn!(
            file = %path.display(),
            offset,
            dropped_bytes = scan.file_len - scan.good_len,
            %reason,
            "log segment has a damaged tail (an interrupted write); truncating it"
        );
    }
    if scan.last_zxid.is_none() {
        tracing::warn!(file = %path.display(), "removing log segment that holds no complete record");
        fs::remove_file(path).map_err(PersistError::io("remove", path))?;
        files::sync_dir(dir)?;
        return Ok(None);
    }
    let file = OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(PersistError::io("open", path))?;
    if scan.damage.is_some() {
        file.set_len(scan.good_len)
            .map_err(PersistError::io("truncate", path))?;
        file.sync_all().map_err(PersistError::io("fsync", path))?;
    }
    Ok(Some(Segment {
        path: path.to_path_buf(),
        file,
        len: scan.good_len,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> WalOptions {
        WalOptions {
            fsync: false,
            ..WalOptions::default()
        }
    }

    fn entry(zxid: u64) -> LogEntry {
        LogEntry {
            zxid,
            payload: format!("txn {zxid}").into_bytes(),
        }
    }

    fn batch(zxids: impl IntoIterator<Item = u64>) -> Vec<LogEntry> {
        zxids.into_iter().map(entry).collect()
    }

    fn append(wal: &mut Wal, entries: &[LogEntry]) {
        let refs: Vec<LogEntryRef<'_>> = entries.iter().map(Into::into).collect();
        wal.append(&refs).unwrap();
    }

    fn open(dir: &Path, after_zxid: u64) -> (Wal, Vec<LogEntry>) {
        Wal::open(dir, opts(), after_zxid).unwrap()
    }

    fn zxids(entries: &[LogEntry]) -> Vec<u64> {
        entries.iter().map(|e| e.zxid).collect()
    }

    fn segments(dir: &Path) -> Vec<u64> {
        files::list(dir, LOG_PREFIX, "")
            .unwrap()
            .into_iter()
            .map(|(z, _)| z)
            .collect()
    }

    fn file_len(path: &Path) -> u64 {
        fs::metadata(path).unwrap().len()
    }

    /// Writes records 1 and 2, then record 3, in one segment; returns the segment's path and the
    /// byte range of record 3.
    fn three_records(dir: &Path) -> (PathBuf, u64, u64) {
        let (mut wal, _) = open(dir, 0);
        append(&mut wal, &batch(1..=2));
        let path = dir.join("log.1");
        let start = file_len(&path);
        append(&mut wal, &batch([3]));
        (path.clone(), start, file_len(&path))
    }

    /// Opening the log written by `three_records` after damaging record 3 keeps records 1 and 2,
    /// cuts the file at the start of record 3, and the log takes a new record 3.
    fn assert_repaired(dir: &Path, path: &Path, start: u64) {
        let (mut wal, entries) = open(dir, 0);
        assert_eq!(entries, batch(1..=2));
        assert_eq!(wal.last_zxid(), 2);
        assert_eq!(file_len(path), start);
        let replacement = LogEntry {
            zxid: 3,
            payload: b"rewritten".to_vec(),
        };
        append(&mut wal, std::slice::from_ref(&replacement));
        drop(wal);
        let (_, entries) = open(dir, 0);
        assert_eq!(entries, vec![entry(1), entry(2), replacement]);
    }

    #[test]
    fn round_trip_and_after_zxid_filter() {
        let dir = tempfile::tempdir().unwrap();
        let mut written = batch(1..=3);
        written.push(LogEntry {
            zxid: 4,
            payload: Vec::new(),
        });
        written.push(LogEntry {
            zxid: 0x1_0000_0001,
            payload: (0..200_000u32).map(|i| i as u8).collect(),
        });
        written.extend(batch(0x1_0000_0002..=0x1_0000_0005));

        let (mut wal, entries) = Wal::open(dir.path(), WalOptions::default(), 0).unwrap();
        assert!(entries.is_empty());
        assert_eq!(wal.last_zxid(), 0);
        assert!(
            segments(dir.path()).is_empty(),
            "opening creates no segment"
        );
        append(&mut wal, &written[..3]);
        append(&mut wal, &written[3..5]);
        append(&mut wal, &written[5..]);
        assert_eq!(wal.last_zxid(), 0x1_0000_0005);
        drop(wal);

        let (wal, entries) = open(dir.path(), 0);
        assert_eq!(entries, written);
        assert_eq!(wal.last_zxid(), 0x1_0000_0005);
        let (_, entries) = open(dir.path(), 4);
        assert_eq!(entries, written[4..]);
        let (wal, entries) = open(dir.path(), u64::MAX);
        assert!(entries.is_empty());
        assert_eq!(wal.last_zxid(), 0x1_0000_0005, "last_zxid is the log's own");
        assert_eq!(segments(dir.path()), vec![1]);
    }

    #[test]
    fn reopen_and_continue_appending() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) = open(dir.path(), 0);
        append(&mut wal, &batch(1..=3));
        drop(wal);
        let (mut wal, entries) = open(dir.path(), 0);
        assert_eq!(zxids(&entries), vec![1, 2, 3]);
        append(&mut wal, &batch(4..=5));
        drop(wal);
        let (wal, entries) = open(dir.path(), 0);
        assert_eq!(entries, batch(1..=5));
        assert_eq!(wal.last_zxid(), 5);
        assert_eq!(
            segments(dir.path()),
            vec![1],
            "reopening continues the last segment"
        );
    }

    #[test]
    fn append_refuses_bad_batches_whole() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) = open(dir.path(), 0);
        let refused = |wal: &mut Wal, entries: &[LogEntryRef<'_>]| wal.append(entries).unwrap_err();
        let payload = b"x".as_slice();
        let at = |zxid| LogEntryRef { zxid, payload };

        assert!(matches!(
            refused(&mut wal, &[at(0)]),
            PersistError::ZxidNotIncreasing {
                zxid: 0,
                previous: 0,
                ..
            }
        ));
        wal.append(&[at(5)]).unwrap();
        assert!(matches!(
            refused(&mut wal, &[at(5)]),
            PersistError::ZxidNotIncreasing {
                zxid: 5,
                previous: 5,
                ..
            }
        ));
        assert!(matches!(
            refused(&mut wal, &[at(6), at(6)]),
            PersistError::ZxidNotIncreasing {
                zxid: 6,
                previous: 6,
                ..
            }
        ));
        let huge = vec![0u8; MAX_RECORD_BYTES + 1];
        let err = refused(
            &mut wal,
            &[
                at(7),
                LogEntryRef {
                    zxid: 8,
                    payload: &huge,
                },
            ],
        );
        assert!(
            matches!(err, PersistError::RecordTooLarge { zxid: 8, .. }),
            "{err}"
        );
        assert!(
            err.to_string().contains(&dir.path().display().to_string()),
            "{err}"
        );
        assert_eq!(wal.last_zxid(), 5);
        wal.append(&[]).unwrap();
        wal.append(&[at(6)]).unwrap();
        drop(wal);

        let (_, entries) = open(dir.path(), 0);
        assert_eq!(
            zxids(&entries),
            vec![5, 6],
            "refused batches left nothing behind"
        );
    }

    #[test]
    fn torn_tail_at_every_offset_of_the_last_record_is_truncated() {
        let reference = tempfile::tempdir().unwrap();
        let (_, start, end) = three_records(reference.path());
        assert_eq!(end - start, RECORD_HEADER_LEN + b"txn 3".len() as u64);
        for cut in start..end {
            let dir = tempfile::tempdir().unwrap();
            let (path, _, _) = three_records(dir.path());
            OpenOptions::new()
                .write(true)
                .open(&path)
                .unwrap()
                .set_len(cut)
                .unwrap();
            assert_repaired(dir.path(), &path, start);
        }
    }

    #[test]
    fn damage_anywhere_in_the_last_record_is_truncated() {
        let reference = tempfile::tempdir().unwrap();
        let (_, start, end) = three_records(reference.path());
        for offset in start..end {
            for flip in [0x01u8, 0x80] {
                let dir = tempfile::tempdir().unwrap();
                let (path, _, _) = three_records(dir.path());
                let mut bytes = fs::read(&path).unwrap();
                bytes[offset as usize] ^= flip;
                fs::write(&path, bytes).unwrap();
                assert_repaired(dir.path(), &path, start);
            }
        }
    }

    #[test]
    fn garbage_after_the_last_good_record_is_truncated() {
        let mut absurd_length = vec![0u8; 16];
        absurd_length[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        absurd_length[8..16].copy_from_slice(&4u64.to_le_bytes());
        // A well-formed record whose zxid goes backwards.
        let mut replayed = Vec::new();
        encode_record(
            &mut replayed,
            &LogEntryRef {
                zxid: 2,
                payload: b"old",
            },
        );
        let garbage = [
            vec![0u8; 4096],
            vec![0xff; 100],
            vec![7],
            absurd_length,
            replayed,
        ];
        for tail in garbage {
            let dir = tempfile::tempdir().unwrap();
            let (path, _, end) = three_records(dir.path());
            let mut file = OpenOptions::new().append(true).open(&path).unwrap();
            file.write_all(&tail).unwrap();
            drop(file);
            let (mut wal, entries) = open(dir.path(), 0);
            assert_eq!(entries, batch(1..=3));
            assert_eq!(file_len(&path), end);
            append(&mut wal, &batch([4]));
            drop(wal);
            assert_eq!(open(dir.path(), 0).1, batch(1..=4));
        }
    }

    #[test]
    fn last_segment_without_a_good_header_or_record_is_removed() {
        for keep in [0, 10, HEADER_LEN, HEADER_LEN + 5] {
            let dir = tempfile::tempdir().unwrap();
            let (mut wal, _) = open(dir.path(), 0);
            append(&mut wal, &batch(1..=3));
            wal.roll().unwrap();
            append(&mut wal, &batch(4..=5));
            drop(wal);
            let torn = dir.path().join("log.4");
            OpenOptions::new()
                .write(true)
                .open(&torn)
                .unwrap()
                .set_len(keep)
                .unwrap();

            let (mut wal, entries) = open(dir.path(), 0);
            assert_eq!(zxids(&entries), vec![1, 2, 3]);
            assert_eq!(wal.last_zxid(), 3);
            assert_eq!(
                segments(dir.path()),
                vec![1],
                "torn segment removed (kept {keep} bytes)"
            );
            append(&mut wal, &batch(4..=4));
            drop(wal);
            assert_eq!(open(dir.path(), 0).1, batch(1..=4));
            assert_eq!(segments(dir.path()), vec![1, 4]);
        }
    }

    #[test]
    fn damage_in_an_older_segment_is_an_error() {
        let build = |dir: &Path| {
            let (mut wal, _) = open(dir, 0);
            for first in [1, 4, 7] {
                append(&mut wal, &batch(first..first + 3));
                wal.roll().unwrap();
            }
        };

        let dir = tempfile::tempdir().unwrap();
        build(dir.path());
        let first = dir.path().join("log.1");
        let mut bytes = fs::read(&first).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x10;
        fs::write(&first, bytes).unwrap();
        let err = Wal::open(dir.path(), opts(), 0).unwrap_err();
        match &err {
            PersistError::CorruptLog { path, .. } => assert_eq!(path, &first),
            other => panic!("unexpected {other}"),
        }
        assert!(err.to_string().contains("log.1"), "{err}");
        // A segment that is not needed (all zxids at or below after_zxid) is not read.
        let (_, entries) = open(dir.path(), 6);
        assert_eq!(zxids(&entries), vec![7, 8, 9]);

        let dir = tempfile::tempdir().unwrap();
        build(dir.path());
        let second = dir.path().join("log.4");
        let len = file_len(&second);
        OpenOptions::new()
            .write(true)
            .open(&second)
            .unwrap()
            .set_len(len - 1)
            .unwrap();
        assert!(matches!(
            Wal::open(dir.path(), opts(), 0),
            Err(PersistError::CorruptLog {
                reason: Corruption::TruncatedRecord { missing: 1 },
                ..
            })
        ));
    }

    #[test]
    fn segments_roll_by_size_and_on_request() {
        let dir = tempfile::tempdir().unwrap();
        let small = WalOptions {
            segment_bytes: HEADER_LEN + 2 * RECORD_HEADER_LEN,
            fsync: true,
        };
        let (mut wal, _) = Wal::open(dir.path(), small, 0).unwrap();
        wal.roll().unwrap(); // nothing active: no effect
        append(&mut wal, &batch([1]));
        append(&mut wal, &batch([2])); // below the limit before this batch
        append(&mut wal, &batch(3..=5)); // at the limit: new segment, which takes the whole batch
        append(&mut wal, &batch([6]));
        wal.roll().unwrap();
        append(&mut wal, &batch([7]));
        assert_eq!(segments(dir.path()), vec![1, 3, 6, 7]);
        drop(wal);
        let (wal, entries) = Wal::open(dir.path(), small, 0).unwrap();
        assert_eq!(entries, batch(1..=7));
        assert_eq!(wal.last_zxid(), 7);
    }

    #[test]
    fn removing_the_last_segment_keeps_last_zxid_when_older_ones_were_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) = open(dir.path(), 0);
        for first in [1, 4, 7, 10] {
            append(&mut wal, &batch(first..first + 3));
            wal.roll().unwrap();
        }
        drop(wal);
        OpenOptions::new()
            .write(true)
            .open(dir.path().join("log.a"))
            .unwrap()
            .set_len(3)
            .unwrap();
        let (mut wal, entries) = open(dir.path(), 9);
        assert!(entries.is_empty());
        assert_eq!(wal.last_zxid(), 9);
        assert!(wal
            .append(&[LogEntryRef {
                zxid: 9,
                payload: b""
            }])
            .is_err());
        append(&mut wal, &batch([10]));
        assert_eq!(segments(dir.path()), vec![1, 4, 7, 10]);
    }

    #[test]
    fn a_failed_write_poisons_the_log_until_it_is_reopened() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) = open(dir.path(), 0);
        append(&mut wal, &batch(1..=2));
        // Swap the segment's handle for a read-only one so the next write fails.
        let seg = wal.active.as_mut().unwrap();
        seg.file = File::open(&seg.path).unwrap();
        let err = wal.append(&[(&entry(3)).into()]).unwrap_err();
        assert!(matches!(err, PersistError::Io { op: "write", .. }), "{err}");
        assert_eq!(wal.last_zxid(), 2);
        let err = wal.append(&[(&entry(3)).into()]).unwrap_err();
        assert!(matches!(err, PersistError::Poisoned { .. }), "{err}");
        assert!(err.to_string().contains("log.1"), "{err}");
        assert!(matches!(wal.roll(), Err(PersistError::Poisoned { .. })));
        drop(wal);

        let (mut wal, entries) = open(dir.path(), 0);
        assert_eq!(entries, batch(1..=2));
        append(&mut wal, &batch([3]));
    }
}
