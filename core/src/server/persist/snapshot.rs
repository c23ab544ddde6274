//! Snapshot files: one serialized tree per file, written atomically and checked on load.
//!
//! # Files
//!
//! `snapshot.<zxid>` in the snapshot directory (the server passes `<dataDir>/version-2`), named by
//! the zxid the snapshot was taken at, in lowercase hex as Apache names them. While being written
//! a snapshot is `snapshot.<zxid>.tmp`; that name is never read, and purge (`persist::purge`) removes
//! leftovers older than the snapshots it keeps. A delta (a snapshot of what changed since an
//! earlier one, see `server::image`) is `snapshot.<zxid>.delta`, written and checked the same
//! way. [`write()`] writes the temp file, fsyncs it, renames
//! it into place and fsyncs the directory, so a crash leaves either the whole snapshot under its
//! name or none.
//!
//! # Format, version 1
//!
//! Integers are little-endian. CRC-32 is the IEEE polynomial (as zlib, computed by `crc32fast`).
//! The file is exactly the 32-byte header followed by the payload.
//!
//! ```text
//! header (32 bytes)
//!  offset size  field
//!     0     4   magic        the ASCII bytes "ZKSN"
//!     4     4   version      u32, 1
//!     8     8   zxid         u64, equals the zxid in the file name
//!    16     8   payload_len  u64, bytes after the header
//!    24     4   payload_crc  u32, CRC-32 of the payload
//!    28     4   header_crc   u32, CRC-32 of bytes 0..28
//!    32   len   payload      opaque bytes (the server's encoded tree)
//! ```
//!
//! The payload is streamed: the header is written as zeros first, the payload goes through a
//! buffered writer that counts and checksums it, then the header is written over the zeros.
//!
//! # Loading
//!
//! [`load_latest`] tries snapshots newest first and returns the first whose header, length and
//! payload CRC verify; a damaged one is skipped with a warning. If snapshot files exist but none
//! verifies, that is [`PersistError::NoValidSnapshot`], not "no snapshot", since starting from an
//! empty tree would drop data.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::files::{self, SNAPSHOT_PREFIX, TMP_SUFFIX};
use super::{le_u32, le_u64, Corruption, PersistError};

/// Writes `snapshot.<zxid hex>` in `dir` atomically (temp file in `dir`, write, fsync, rename,
/// fsync `dir`) and returns its path. `fill` writes the payload; it may write in pieces of any
/// size. If `fill` or any step fails, the temp file is removed and no snapshot appears. An
/// existing snapshot with the same zxid is replaced.
pub fn write(
    dir: &Path,
    zxid: u64,
    fill: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
) -> Result<PathBuf, PersistError> {
    write_named(dir, zxid, "", fill)
}

/// [`write()`] of a delta: `snapshot.<zxid hex>.delta`, whose payload says which snapshot it
/// follows (the files layer does not read it).
pub fn write_delta(
    dir: &Path,
    zxid: u64,
    fill: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
) -> Result<PathBuf, PersistError> {
    write_named(dir, zxid, DELTA_SUFFIX, fill)
}

/// The full snapshots and the deltas in `dir`, each oldest first.
pub fn list(dir: &Path) -> Result<Listing, PersistError> {
    Ok(Listing {
        full: files::list(dir, SNAPSHOT_PREFIX, "")?,
        deltas: files::list(dir, SNAPSHOT_PREFIX, DELTA_SUFFIX)?,
    })
}

/// What [`list`] finds: `(zxid, path)` pairs.
#[derive(Debug, Default)]
pub struct Listing {
    pub full: Vec<(u64, PathBuf)>,
    pub deltas: Vec<(u64, PathBuf)>,
}

/// Suffix of a delta snapshot's name.
pub(super) const DELTA_SUFFIX: &str = ".delta";

fn write_named(
    dir: &Path,
    zxid: u64,
    suffix: &str,
    fill: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
) -> Result<PathBuf, PersistError> {
    files::ensure_dir(dir)?;
    let tmp = files::zxid_path(dir, SNAPSHOT_PREFIX, zxid, &format!("{suffix}{TMP_SUFFIX}"));
    let path = files::zxid_path(dir, SNAPSHOT_PREFIX, zxid, suffix);
    let written = write_file(&tmp, zxid, fill)
        .and_then(|()| fs::rename(&tmp, &path).map_err(PersistError::io("rename", &tmp)));
    if let Err(e) = written {
        // Best effort: a leftover temp file is harmless (never read, purged later).
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    files::sync_dir(dir)?;
    Ok(path)
}

/// The newest snapshot in `dir` that verifies, as `(zxid, payload)`; damaged ones are skipped
/// with a warning. `None` if there is no snapshot file (or no directory). Snapshot files that all
/// fail to verify are [`PersistError::NoValidSnapshot`].
pub fn load_latest(dir: &Path) -> Result<Option<(u64, Vec<u8>)>, PersistError> {
    let snapshots = files::list(dir, SNAPSHOT_PREFIX, "")?;
    for (zxid, path) in snapshots.iter().rev() {
        match read(path, *zxid)? {
            Ok(payload) => return Ok(Some((*zxid, payload))),
            Err(reason) => tracing::warn!(
                file = %path.display(),
                %reason,
                "skipping damaged snapshot; trying the next older one"
            ),
        }
    }
    if snapshots.is_empty() {
        Ok(None)
    } else {
        Err(PersistError::NoValidSnapshot {
            dir: dir.to_path_buf(),
            count: snapshots.len(),
        })
    }
}

/// Checks the header and the file length of the snapshot at `path`, without reading the payload:
/// what purge uses to decide which snapshots count as kept. `Ok(Err(_))` is damage.
pub(super) fn check_header(
    path: &Path,
    name_zxid: u64,
) -> Result<Result<(), Corruption>, PersistError> {
    let mut file = File::open(path).map_err(PersistError::io("open", path))?;
    Ok(read_header(&mut file, path, name_zxid)?.map(|_| ()))
}

/// Length of the header.
const HEADER_LEN: usize = 32;
const MAGIC: [u8; 4] = *b"ZKSN";
const VERSION: u32 = 1;
/// Write buffer between the payload callback and the file.
const WRITE_BUF_CAPACITY: usize = 1 << 20;

/// What the header says about the payload.
struct Header {
    payload_len: u64,
    payload_crc: u32,
}

/// Writes the whole snapshot to `tmp` and fsyncs it.
fn write_file(
    tmp: &Path,
    zxid: u64,
    fill: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
) -> Result<(), PersistError> {
    let mut file = File::create(tmp).map_err(PersistError::io("create", tmp))?;
    file.write_all(&[0; HEADER_LEN])
        .map_err(PersistError::io("write", tmp))?;
    let mut out = BufWriter::with_capacity(
        WRITE_BUF_CAPACITY,
        PayloadWriter {
            file,
            hasher: crc32fast::Hasher::new(),
            len: 0,
            written_back: 0,
        },
    );
    fill(&mut out).map_err(PersistError::io("write snapshot payload to", tmp))?;
    let PayloadWriter {
        mut file,
        hasher,
        len,
        ..
    } = out
        .into_inner()
        .map_err(|e| PersistError::io("write", tmp)(e.into_error()))?;
    let header = encode_header(zxid, len, hasher.finalize());
    file.seek(SeekFrom::Start(0))
        .and_then(|_| file.write_all(&header))
        .map_err(PersistError::io("write", tmp))?;
    file.sync_all().map_err(PersistError::io("fsync", tmp))
}

fn encode_header(zxid: u64, payload_len: u64, payload_crc: u32) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    header[0..4].copy_from_slice(&MAGIC);
    header[4..8].copy_from_slice(&VERSION.to_le_bytes());
    header[8..16].copy_from_slice(&zxid.to_le_bytes());
    header[16..24].copy_from_slice(&payload_len.to_le_bytes());
    header[24..28].copy_from_slice(&payload_crc.to_le_bytes());
    let crc = crc32fast::hash(&header[..28]);
    header[28..32].copy_from_slice(&crc.to_le_bytes());
    header
}

/// Reads the snapshot (or delta) at `path`, named by `name_zxid`, and verifies it whole.
/// `Ok(Err(_))` is damage.
pub fn read(path: &Path, name_zxid: u64) -> Result<Result<Vec<u8>, Corruption>, PersistError> {
    let mut file = File::open(path).map_err(PersistError::io("open", path))?;
    let header = match read_header(&mut file, path, name_zxid)? {
        Ok(header) => header,
        Err(reason) => return Ok(Err(reason)),
    };
    // read_header checked payload_len against the file's length, so this allocates no more than
    // the file holds.
    let len = usize::try_from(header.payload_len).map_err(|_| PersistError::Io {
        op: "load",
        path: path.to_path_buf(),
        source: io::Error::new(
            io::ErrorKind::OutOfMemory,
            "snapshot larger than the address space",
        ),
    })?;
    let mut payload = vec![0; len];
    file.read_exact(&mut payload)
        .map_err(PersistError::io("read", path))?;
    if crc32fast::hash(&payload) != header.payload_crc {
        return Ok(Err(Corruption::BadCrc));
    }
    Ok(Ok(payload))
}

/// Reads and checks the header of an open snapshot file, leaving the file at the payload.
fn read_header(
    file: &mut File,
    path: &Path,
    name_zxid: u64,
) -> Result<Result<Header, Corruption>, PersistError> {
    let file_len = file
        .metadata()
        .map_err(PersistError::io("stat", path))?
        .len();
    if file_len < HEADER_LEN as u64 {
        return Ok(Err(Corruption::TruncatedHeader(HEADER_LEN)));
    }
    let mut header = [0u8; HEADER_LEN];
    file.read_exact(&mut header)
        .map_err(PersistError::io("read", path))?;
    Ok(parse_header(
        &header,
        name_zxid,
        file_len - HEADER_LEN as u64,
    ))
}

/// Checks a header against the zxid in the file name and the bytes after the header.
fn parse_header(
    header: &[u8; HEADER_LEN],
    name_zxid: u64,
    on_disk: u64,
) -> Result<Header, Corruption> {
    let u32_at = |at: usize| le_u32(&header[at..]);
    let u64_at = |at: usize| le_u64(&header[at..]);
    if header[0..4] != MAGIC {
        return Err(Corruption::BadMagic);
    }
    if crc32fast::hash(&header[..28]) != u32_at(28) {
        return Err(Corruption::BadHeaderCrc);
    }
    let version = u32_at(4);
    if version != VERSION {
        return Err(Corruption::UnsupportedVersion(version));
    }
    let in_header = u64_at(8);
    if in_header != name_zxid {
        return Err(Corruption::NameMismatch {
            in_name: name_zxid,
            in_header,
        });
    }
    let payload_len = u64_at(16);
    if payload_len != on_disk {
        return Err(Corruption::LengthMismatch {
            in_header: payload_len,
            on_disk,
        });
    }
    Ok(Header {
        payload_len,
        payload_crc: u32_at(24),
    })
}

/// Passes the payload through to the file after the header, counting and checksumming it,
/// and starts writing each [`WRITEBACK_CHUNK`] back to disk as soon as it is complete: a
/// large snapshot then never leaves hundreds of MiB dirty at once, which the final fsync
/// (and every log fsync behind it on the same disk) would wait for.
struct PayloadWriter {
    file: File,
    hasher: crc32fast::Hasher,
    len: u64,
    /// Payload bytes handed to writeback so far.
    written_back: u64,
}

/// Bytes of payload between two writeback requests.
const WRITEBACK_CHUNK: u64 = 8 << 20;

impl Write for PayloadWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        if self.len - self.written_back >= WRITEBACK_CHUNK {
            start_writeback(
                &self.file,
                HEADER_LEN as u64 + self.written_back,
                self.len - self.written_back,
            );
            self.written_back = self.len;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Asks the kernel to start writing `len` bytes at `offset` to disk, without waiting: an
/// optimisation only (the final fsync is what makes the file durable), so errors are ignored.
fn start_writeback(file: &File, offset: u64, len: u64) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
            return;
        };
        // SAFETY: a plain syscall on a descriptor this writer owns.
        unsafe {
            libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, offset, len);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_bytes(dir: &Path, zxid: u64, payload: &[u8]) -> PathBuf {
        write(dir, zxid, &mut |out| out.write_all(payload)).unwrap()
    }

    fn names(dir: &Path) -> Vec<String> {
        super::super::files::sorted_names(dir)
    }

    #[test]
    fn write_then_load_round_trip_with_streamed_payload() {
        let dir = tempfile::tempdir().unwrap();
        let payload: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let path = write(dir.path(), 0x1_0000_002a, &mut |out| {
            for chunk in payload.chunks(1000) {
                out.write_all(chunk)?;
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(path, dir.path().join("snapshot.10000002a"));
        assert_eq!(
            fs::metadata(&path).unwrap().len(),
            (HEADER_LEN + payload.len()) as u64
        );
        assert_eq!(
            names(dir.path()),
            vec!["snapshot.10000002a"],
            "no temp file left"
        );
        assert_eq!(
            load_latest(dir.path()).unwrap(),
            Some((0x1_0000_002a, payload))
        );
    }

    #[test]
    fn load_latest_picks_the_newest_and_write_replaces_the_same_zxid() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load_latest(&dir.path().join("missing")).unwrap(), None);
        assert_eq!(load_latest(dir.path()).unwrap(), None);
        write_bytes(dir.path(), 0x10, b"sixteen");
        write_bytes(dir.path(), 0x20, b"thirty-two");
        write_bytes(dir.path(), 0x5, b"five");
        write_bytes(dir.path(), 0x0, b"");
        assert_eq!(
            load_latest(dir.path()).unwrap(),
            Some((0x20, b"thirty-two".to_vec()))
        );
        write_bytes(dir.path(), 0x20, b"again");
        assert_eq!(
            load_latest(dir.path()).unwrap(),
            Some((0x20, b"again".to_vec()))
        );
    }

    #[test]
    fn leftover_temp_files_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        write_bytes(dir.path(), 1, b"one");
        // As a crash mid-write leaves it: a newer temp file with a partial payload.
        fs::write(dir.path().join("snapshot.2.tmp"), [0u8; 40]).unwrap();
        assert_eq!(load_latest(dir.path()).unwrap(), Some((1, b"one".to_vec())));
        // Writing that zxid again overwrites the leftover.
        write_bytes(dir.path(), 2, b"two");
        assert_eq!(names(dir.path()), vec!["snapshot.1", "snapshot.2"]);
        assert_eq!(load_latest(dir.path()).unwrap(), Some((2, b"two".to_vec())));
    }

    #[test]
    fn failed_fill_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        write_bytes(dir.path(), 1, b"one");
        let err = write(dir.path(), 2, &mut |out| {
            out.write_all(b"partial")?;
            Err(io::Error::other("serializer failed"))
        })
        .unwrap_err();
        assert!(matches!(err, PersistError::Io { .. }), "{err}");
        assert!(err.to_string().contains("snapshot.2.tmp"), "{err}");
        assert_eq!(names(dir.path()), vec!["snapshot.1"]);
        assert_eq!(load_latest(dir.path()).unwrap(), Some((1, b"one".to_vec())));
    }

    #[test]
    fn damaged_newest_snapshot_falls_back_to_the_older_one() {
        type Damage = fn(&Path, &mut Vec<u8>);
        let damages: [(&str, Damage); 6] = [
            ("payload bit", |_, b| b[HEADER_LEN + 3] ^= 0x04),
            ("header bit", |_, b| b[17] ^= 0x01),
            ("magic", |_, b| b[0] = b'X'),
            ("truncated payload", |_, b| b.truncate(b.len() - 1)),
            ("truncated header", |_, b| b.truncate(HEADER_LEN - 1)),
            ("renamed", |dir, _| {
                fs::rename(dir.join("snapshot.2"), dir.join("snapshot.3")).unwrap();
            }),
        ];
        for (what, damage) in damages {
            let dir = tempfile::tempdir().unwrap();
            write_bytes(dir.path(), 1, b"one");
            let newest = write_bytes(dir.path(), 2, b"two two two");
            let mut bytes = fs::read(&newest).unwrap();
            damage(dir.path(), &mut bytes);
            if newest.exists() {
                fs::write(&newest, bytes).unwrap();
            }
            assert_eq!(
                load_latest(dir.path()).unwrap(),
                Some((1, b"one".to_vec())),
                "{what}"
            );
        }
    }

    #[test]
    fn snapshots_that_all_fail_to_verify_are_an_error() {
        let dir = tempfile::tempdir().unwrap();
        for zxid in [1, 2] {
            let path = write_bytes(dir.path(), zxid, b"payload");
            let mut bytes = fs::read(&path).unwrap();
            bytes[HEADER_LEN] ^= 0xff;
            fs::write(&path, bytes).unwrap();
        }
        let err = load_latest(dir.path()).unwrap_err();
        assert!(
            matches!(err, PersistError::NoValidSnapshot { count: 2, .. }),
            "{err}"
        );
    }

    #[test]
    fn header_check_sees_length_but_not_payload() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_bytes(dir.path(), 7, b"seven");
        assert_eq!(check_header(&path, 7).unwrap(), Ok(()));
        assert_eq!(
            check_header(&path, 8).unwrap(),
            Err(Corruption::NameMismatch {
                in_name: 8,
                in_header: 7
            })
        );
        let mut bytes = fs::read(&path).unwrap();
        bytes.push(0);
        fs::write(&path, &bytes).unwrap();
        assert_eq!(
            check_header(&path, 7).unwrap(),
            Err(Corruption::LengthMismatch {
                in_header: 5,
                on_disk: 6
            })
        );
    }
}
