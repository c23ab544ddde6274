//! What the four-letter words read from the operating system: file descriptors, host
//! and user names, folder sizes, the build date. Linux answers through `/proc`; where a
//! value cannot be read it is left out rather than guessed.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::UNIX_EPOCH;

use super::format;

/// `Version.getFullVersion()`: the Apache release zk speaks, zk's own version where
/// Apache puts its git revision, and the build date.
pub fn full_version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        format!(
            "{}-zk-{}, built on {}",
            super::APACHE_VERSION,
            env!("CARGO_PKG_VERSION"),
            build_date()
        )
    })
}

/// `ZK_BUILD_DATE` if the build set it, else when the running executable was written
/// (the link time for a built binary), else `unknown`.
fn build_date() -> String {
    if let Some(date) = option_env!("ZK_BUILD_DATE") {
        return date.to_owned();
    }
    std::env::current_exe()
        .and_then(std::fs::metadata)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or_else(
            || "unknown".to_owned(),
            |d| format::build_date(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        )
}

/// Files open in this process (`/proc/self/fd`, as the JVM's `OperatingSystemMXBean`).
pub fn open_fd_count() -> Option<u64> {
    let dir = std::fs::read_dir("/proc/self/fd").ok()?;
    Some(dir.count() as u64)
}

/// The soft `RLIMIT_NOFILE` (`/proc/self/limits`).
pub fn max_fd_count() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    parse_max_open_files(&limits)
}

fn parse_max_open_files(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Total size of the files under `path`, following Apache's `getDirSize` (0 if missing).
pub fn dir_size(path: &Path) -> u64 {
    fn walk(path: &Path, depth: usize) -> u64 {
        let Ok(meta) = std::fs::metadata(path) else {
            return 0;
        };
        if !meta.is_dir() {
            return meta.len();
        }
        if depth > 32 {
            return 0;
        }
        std::fs::read_dir(path).map_or(0, |entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| walk(&e.path(), depth + 1))
                .sum()
        })
    }
    walk(path, 0)
}

/// `File.getAbsolutePath`: relative paths are resolved against the working directory.
pub fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

fn read_trimmed(path: &str) -> Option<String> {
    let s = std::fs::read_to_string(path).ok()?;
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

/// The machine's host name (the kernel's; Apache asks DNS for the canonical name).
pub fn host_name() -> Option<String> {
    read_trimmed("/proc/sys/kernel/hostname")
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
}

/// Java's `os.name`.
pub fn os_name() -> String {
    match std::env::consts::OS {
        "linux" => "Linux".to_owned(),
        "macos" => "Mac OS X".to_owned(),
        "windows" => "Windows".to_owned(),
        "freebsd" => "FreeBSD".to_owned(),
        "openbsd" => "OpenBSD".to_owned(),
        "netbsd" => "NetBSD".to_owned(),
        "solaris" | "illumos" => "SunOS".to_owned(),
        other => other.to_owned(),
    }
}

/// Java's `os.arch` (`amd64` for x86_64, `x86` for i686).
pub fn os_arch() -> String {
    match std::env::consts::ARCH {
        "x86_64" => "amd64".to_owned(),
        "x86" => "x86".to_owned(),
        other => other.to_owned(),
    }
}

/// Java's `os.version`: the kernel release.
pub fn os_version() -> Option<String> {
    read_trimmed("/proc/sys/kernel/osrelease")
}

/// `(user.name, user.home)` of the real uid, from `/etc/passwd` as `getpwuid` would,
/// falling back to `$USER`/`$HOME`.
pub fn user() -> (Option<String>, Option<String>) {
    let from_passwd = real_uid().and_then(|uid| {
        let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
        passwd_entry(&passwd, uid)
    });
    match from_passwd {
        Some((name, home)) => (Some(name), Some(home)),
        None => (
            std::env::var("USER")
                .or_else(|_| std::env::var("LOGNAME"))
                .ok(),
            std::env::var("HOME").ok(),
        ),
    }
}

fn real_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn passwd_entry(passwd: &str, uid: u32) -> Option<(String, String)> {
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() >= 6 && fields[2].parse::<u32>().ok() == Some(uid) {
            Some((fields[0].to_owned(), fields[5].to_owned()))
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_passwd_parsing() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max cpu time              unlimited            unlimited            seconds   \n\
                      Max open files            1024                 1048576              files     \n";
        assert_eq!(parse_max_open_files(limits), Some(1024));
        assert_eq!(
            parse_max_open_files("Max open files  unlimited  unlimited  files\n"),
            None
        );
        let passwd = "root:x:0:0:root:/root:/bin/bash\nzk:x:1000:1000:ZooKeeper,,,:/var/lib/zookeeper:/bin/sh\n";
        assert_eq!(
            passwd_entry(passwd, 1000),
            Some(("zk".into(), "/var/lib/zookeeper".into()))
        );
        assert_eq!(passwd_entry(passwd, 7), None);
    }

    #[test]
    fn dir_sizes_add_up_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), [0u8; 10]).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/b"), [0u8; 5]).unwrap();
        assert_eq!(dir_size(dir.path()), 15);
        assert_eq!(dir_size(&dir.path().join("missing")), 0);
    }

    #[test]
    fn version_looks_like_apaches() {
        let v = full_version();
        assert!(v.starts_with("3.8.0-zk-"), "{v}");
        assert!(v.contains(", built on "), "{v}");
    }
}
