//! Apache zkCli's output formats: the Stat block with Java dates, ACL lines in jute's
//! `toString` form, watch events, Java list and quota (`StatsTrack`) texts, the messages of
//! `KeeperException` and `CliWrapperException`, `PathUtils` errors, base64 and netty's hex
//! dump.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Once;

use base64::Engine as _;
use zk_core::client::Error;
use zk_core::proto::{perms, Acl, ErrorCode, EventType, KeeperState, Stat};

/// Writes to stdout and flushes, so stdout and stderr interleave in call order.
pub fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

/// `System.out.println`.
pub fn outln(text: &str) {
    out(&format!("{text}\n"));
}

/// `System.err.println`.
pub fn errln(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{text}");
    let _ = stderr.flush();
}

/// The 11 lines `StatPrinter` prints, each ending in a newline.
pub fn stat(stat: &Stat) -> String {
    format!(
        "cZxid = 0x{:x}\nctime = {}\nmZxid = 0x{:x}\nmtime = {}\npZxid = 0x{:x}\n\
         cversion = {}\ndataVersion = {}\naclVersion = {}\nephemeralOwner = 0x{:x}\n\
         dataLength = {}\nnumChildren = {}\n",
        stat.czxid,
        java_date(stat.ctime),
        stat.mzxid,
        java_date(stat.mtime),
        stat.pzxid,
        stat.cversion,
        stat.version,
        stat.aversion,
        stat.ephemeral_owner,
        stat.data_length,
        stat.num_children,
    )
}

/// `java.util.Date.toString()` in the local time zone: `Wed Nov 25 13:08:49 UTC 2026`.
pub fn java_date(millis: i64) -> String {
    extern "C" {
        fn tzset();
    }
    static TZSET: Once = Once::new();
    // SAFETY: tzset only reads the TZ environment variable and initialises libc's zone data.
    TZSET.call_once(|| unsafe { tzset() });
    let secs = millis.div_euclid(1000) as libc::time_t;
    // SAFETY: `tm` is plain data, for which all zeroes is a valid value.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are to live locals; localtime_r fills `tm` or returns null.
    let converted = unsafe { !libc::localtime_r(&secs, &mut tm).is_null() };
    if converted {
        let mut buf = [0u8; 128];
        let format = c"%a %b %d %H:%M:%S %Z %Y";
        // SAFETY: the buffer is valid for its length and strftime never writes past it.
        let len = unsafe {
            libc::strftime(
                buf.as_mut_ptr().cast::<libc::c_char>(),
                buf.len(),
                format.as_ptr(),
                &tm,
            )
        };
        if len > 0 {
            return String::from_utf8_lossy(&buf[..len]).into_owned();
        }
    }
    format!("{millis} ms")
}

/// `GetAclCommand`: `Id.toString()` (jute's `'scheme,'id` followed by a newline), then
/// `: perms`.
pub fn acl(acls: &[Acl]) -> String {
    let mut out = String::new();
    for entry in acls {
        let _ = writeln!(
            out,
            "{},{}\n: {}",
            jute_string(&entry.id.scheme),
            jute_string(&entry.id.id),
            perms::to_letters(entry.perms)
        );
    }
    out
}

/// A string as jute's `ToStringOutputArchive` writes it.
fn jute_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 1);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\0' => out.push_str("%00"),
            '\n' => out.push_str("%0A"),
            '\r' => out.push_str("%0D"),
            ',' => out.push_str("%2C"),
            '}' => out.push_str("%7D"),
            '%' => out.push_str("%25"),
            c => out.push(c),
        }
    }
    out
}

/// `WatchedEvent.toString()`: session events have a null path.
pub fn watched_event(state: KeeperState, event_type: EventType, path: &str) -> String {
    let path = if path.is_empty() && event_type == EventType::None {
        "null"
    } else {
        path
    };
    format!("WatchedEvent state:{state:?} type:{event_type:?} path:{path}")
}

/// What zkCli's default watcher prints for an event (`printMessage` twice).
pub fn watcher_block(state: KeeperState, event_type: EventType, path: &str) -> String {
    format!(
        "\nWATCHER::\n\n{}\n",
        watched_event(state, event_type, path)
    )
}

/// `List.toString()`: `[a, b]`.
pub fn java_list<S: AsRef<str>>(items: &[S]) -> String {
    let mut out = String::from("[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(item.as_ref());
    }
    out.push(']');
    out
}

/// The message `KeeperException.getMessage()` gives.
pub fn keeper_message(code: ErrorCode, path: &str) -> String {
    let text = match code {
        ErrorCode::NewConfigNoQuorum => "NewConfigNoQuorum".to_owned(),
        ErrorCode::ReconfigInProgress => "ReconfigInProgress".to_owned(),
        ErrorCode::RequestTimeout
        | ErrorCode::UnknownSession
        | ErrorCode::InvalidState
        | ErrorCode::SslConnectionError
        | ErrorCode::Closing
        | ErrorCode::Nothing => format!("Unknown error {}", code.java_name()),
        code => code.message().to_owned(),
    };
    if path.is_empty() {
        format!("KeeperErrorCode = {text}")
    } else {
        format!("KeeperErrorCode = {text} for {path}")
    }
}

/// The code Apache's Java client would report for a client error.
pub fn error_code(error: &Error) -> ErrorCode {
    match error {
        Error::Closed => ErrorCode::ConnectionLoss,
        Error::Timeout => ErrorCode::OperationTimeout,
        other => other.code(),
    }
}

/// `CliWrapperException`'s message for a failed call on `path`.
pub fn cli_error(error: &Error, path: &str) -> String {
    match error {
        Error::BadArguments(detail) => {
            path_problem(path, false).unwrap_or_else(|| format!("bad arguments: {detail}"))
        }
        Error::InvalidConnectString(detail) => format!("invalid connect string: {detail}"),
        Error::Protocol(detail) => format!("protocol error: {detail}"),
        other => wrapped_code(error_code(other), path),
    }
}

/// `CliWrapperException.getMessage` for a `KeeperException` with this code and path.
pub fn wrapped_code(code: ErrorCode, path: &str) -> String {
    let path_text = if path.is_empty() { "null" } else { path };
    match code {
        ErrorCode::NoNode => format!("Node does not exist: {path_text}"),
        ErrorCode::NoChildrenForEphemerals => {
            format!("Ephemerals cannot have children: {path_text}")
        }
        ErrorCode::NodeExists => format!("Node already exists: {path_text}"),
        ErrorCode::NotEmpty => format!("Node not empty: {path_text}"),
        ErrorCode::NotReadOnly => format!("Not a read-only call: {path_text}"),
        ErrorCode::InvalidAcl => format!("Acl is not valid : {path_text}"),
        ErrorCode::NoAuth => format!("Insufficient permission : {path_text}"),
        ErrorCode::BadArguments => format!("Arguments are not valid : {path_text}"),
        ErrorCode::BadVersion => format!("version No is not valid : {path_text}"),
        ErrorCode::ReconfigInProgress => "Another reconfiguration is in progress -- concurrent \
             reconfigs not supported (yet)"
            .to_owned(),
        ErrorCode::NewConfigNoQuorum => "No quorum of new config is connected and up-to-date \
             with the leader of last commmitted config - try invoking reconfiguration after new \
             servers are connected and synced"
            .to_owned(),
        ErrorCode::QuotaExceeded => format!("Quota has exceeded : {path_text}"),
        code => keeper_message(code, path),
    }
}

/// The `IllegalArgumentException` message of Apache's `PathUtils.validatePath`, or `None`
/// for a valid path. Indexes count UTF-16 code units, as Java does.
pub fn path_problem(path: &str, sequential: bool) -> Option<String> {
    let checked;
    let path = if sequential {
        checked = format!("{path}1");
        checked.as_str()
    } else {
        path
    };
    if path.is_empty() {
        return Some("Path length must be > 0".to_owned());
    }
    let chars: Vec<u16> = path.encode_utf16().collect();
    if chars[0] != u16::from(b'/') {
        return Some("Path must start with / character".to_owned());
    }
    if chars.len() == 1 {
        return None;
    }
    if chars[chars.len() - 1] == u16::from(b'/') {
        return Some("Path must not end with / character".to_owned());
    }
    let slash = u16::from(b'/');
    let dot = u16::from(b'.');
    let ends_segment = |i: usize| i + 1 == chars.len() || chars[i + 1] == slash;
    let mut last = slash;
    let mut reason = None;
    for i in 1..chars.len() {
        let c = chars[i];
        if c == 0 {
            reason = Some(format!("null character not allowed @{i}"));
        } else if c == slash && last == slash {
            reason = Some(format!("empty node name specified @{i}"));
        } else if c == dot && last == dot {
            if i >= 2 && chars[i - 2] == slash && ends_segment(i) {
                reason = Some(format!("relative paths not allowed @{i}"));
            }
        } else if c == dot {
            if chars[i - 1] == slash && ends_segment(i) {
                reason = Some(format!("relative paths not allowed @{i}"));
            }
        } else if (0x0001..=0x001f).contains(&c)
            || (0x007f..=0x009f).contains(&c)
            || (0xd800..=0xf8ff).contains(&c)
            || (0xfff0..=0xffff).contains(&c)
        {
            reason = Some(format!("invalid character @{i}"));
        }
        if reason.is_some() {
            break;
        }
        last = c;
    }
    reason.map(|why| format!("Invalid path string \"{path}\" caused by {why}"))
}

/// Node data as `get` prints it: UTF-8 text, or base64 (`-b`), or netty's hex dump (`-x`).
pub fn data(bytes: &[u8], mode: DataFormat) -> String {
    match mode {
        DataFormat::Plain => String::from_utf8_lossy(bytes).into_owned(),
        DataFormat::Base64 => base64::engine::general_purpose::STANDARD.encode(bytes),
        DataFormat::HexDump => hex_dump(bytes),
    }
}

/// How `get` prints data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataFormat {
    Plain,
    Base64,
    HexDump,
}

/// Decodes `set -b` data.
pub fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| format!("Illegal base64 data: {e}"))
}

/// Netty's `ByteBufUtil.prettyHexDump` (empty for no bytes).
pub fn hex_dump(bytes: &[u8]) -> String {
    const RULE: &str =
        "+--------+-------------------------------------------------+----------------+";
    if bytes.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    out.push_str("         +-------------------------------------------------+\n");
    out.push_str("         |  0  1  2  3  4  5  6  7  8  9  a  b  c  d  e  f |\n");
    out.push_str(RULE);
    for (row, chunk) in bytes.chunks(16).enumerate() {
        let _ = write!(out, "\n|{:08x}|", (row * 16) as u32);
        for byte in chunk {
            let _ = write!(out, " {byte:02x}");
        }
        out.push_str(&"   ".repeat(16 - chunk.len()));
        out.push_str(" |");
        for &byte in chunk {
            out.push(if (0x20..0x7f).contains(&byte) {
                char::from(byte)
            } else {
                '.'
            });
        }
        out.push_str(&" ".repeat(16 - chunk.len()));
        out.push('|');
    }
    out.push('\n');
    out.push_str(RULE);
    out
}

/// Apache's `StatsTrack`: the text of `zookeeper_limits` and `zookeeper_stats` nodes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsTrack {
    values: BTreeMap<String, i64>,
}

pub const COUNT: &str = "count";
pub const BYTES: &str = "bytes";
pub const COUNT_HARD: &str = "countHardLimit";
pub const BYTES_HARD: &str = "byteHardLimit";

impl StatsTrack {
    /// Parses `count=1,bytes=2=;byteHardLimit=3;countHardLimit=4`; an empty value is -1.
    pub fn parse(text: &str) -> StatsTrack {
        let mut values = BTreeMap::new();
        for pair in text.split([',', ';']).filter(|p| !p.is_empty()) {
            let mut parts = pair.split('=');
            let key = parts.next().unwrap_or_default();
            let value = parts
                .next()
                .filter(|v| !v.is_empty())
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(-1);
            values.insert(key.to_owned(), value);
        }
        StatsTrack { values }
    }

    pub fn get(&self, key: &str) -> i64 {
        self.values.get(key).copied().unwrap_or(-1)
    }

    pub fn set(&mut self, key: &str, value: i64) {
        self.values.insert(key.to_owned(), value);
    }
}

impl std::fmt::Display for StatsTrack {
    /// `count=..,bytes=..`, then `=` and `;key=value` for every other key, sorted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "count={},bytes={}", self.get(COUNT), self.get(BYTES))?;
        let extra: Vec<_> = self
            .values
            .iter()
            .filter(|(k, _)| *k != COUNT && *k != BYTES)
            .collect();
        if !extra.is_empty() {
            f.write_str("=")?;
            for (key, value) in extra {
                write!(f, ";{key}={value}")?;
            }
        }
        Ok(())
    }
}

/// `ConfigUtils.getClientConfigStr`: the config version and the servers' client addresses.
pub fn client_config(config: &str) -> String {
    let mut version = String::new();
    let mut addresses = Vec::new();
    for line in config.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let Some((key, value)) = line.split_once(['=', ':']) else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        if key == "version" {
            version = value.to_owned();
        }
        if !key.starts_with("server.") {
            continue;
        }
        let client = match value.split_once(';') {
            Some((_, client)) => match client.rsplit_once(':') {
                Some((host, port)) => format!("{host}:{port}"),
                None => format!("0.0.0.0:{client}"),
            },
            None => String::new(),
        };
        addresses.push(client);
    }
    format!("{version} {}", addresses.join(","))
}

/// Commons-cli's `HelpFormatter` option table: ` -x <arg>   description` per option,
/// sorted by name ignoring case.
pub fn option_table(options: &[(&str, bool, &str)]) -> String {
    let mut sorted: Vec<_> = options.to_vec();
    sorted.sort_by_key(|(name, _, _)| name.to_lowercase());
    let rendered: Vec<(String, &str)> = sorted
        .iter()
        .map(|(name, has_arg, desc)| {
            let mut left = format!(" -{name}");
            if *has_arg {
                left.push_str(" <arg>");
            }
            (left, *desc)
        })
        .collect();
    let width = rendered.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (left, desc) in rendered {
        let _ = writeln!(out, "{left:width$}   {desc}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_track_round_trips_apache_text() {
        let text = "count=2,bytes=-1=;byteHardLimit=-1;countHardLimit=-1";
        assert_eq!(StatsTrack::parse(text).to_string(), text);
        assert_eq!(
            StatsTrack::parse("count=4,bytes=5").to_string(),
            "count=4,bytes=5"
        );
        let mut empty = StatsTrack::default();
        empty.set(COUNT, 0);
        empty.set(BYTES, 0);
        assert_eq!(empty.to_string(), "count=0,bytes=0");
        assert_eq!(StatsTrack::parse("count=").get(COUNT), -1);
    }

    #[test]
    fn path_messages_match_path_utils() {
        assert_eq!(path_problem("/a", false), None);
        assert_eq!(path_problem("/", false), None);
        assert_eq!(
            path_problem("a", false).as_deref(),
            Some("Path must start with / character")
        );
        assert_eq!(
            path_problem("/a//b", false).as_deref(),
            Some("Invalid path string \"/a//b\" caused by empty node name specified @3")
        );
        assert_eq!(
            path_problem("/a/.", false).as_deref(),
            Some("Invalid path string \"/a/.\" caused by relative paths not allowed @3")
        );
        assert_eq!(path_problem("/a/..b", false), None);
        assert_eq!(
            path_problem("/x/", false).as_deref(),
            Some("Path must not end with / character")
        );
        assert_eq!(path_problem("/x/", true), None);
    }

    #[test]
    fn acl_lines_use_jute_to_string() {
        let acls = vec![
            Acl::new(perms::ALL, "world", "anyone"),
            Acl::new(1, "ip", "a,b"),
        ];
        assert_eq!(acl(&acls), "'world,'anyone\n: cdrwa\n'ip,'a%2Cb\n: r\n");
    }

    #[test]
    fn hex_dump_like_netty() {
        let dump = hex_dump(b"hello");
        let lines: Vec<&str> = dump.lines().collect();
        assert_eq!(lines.len(), 5);
        assert_eq!(
            lines[3],
            "|00000000| 68 65 6c 6c 6f                                  |hello           |"
        );
        assert_eq!(hex_dump(b""), "");
    }

    #[test]
    fn client_config_lists_client_ports() {
        let config = "server.1=a:2888:3888:participant;0.0.0.0:2181\nserver.2=b:2888:3888;2182\nversion=100000000";
        assert_eq!(client_config(config), "100000000 0.0.0.0:2181,0.0.0.0:2182");
        assert_eq!(client_config(""), " ");
    }

    #[test]
    fn option_table_like_help_formatter() {
        let table = option_table(&[
            ("w", false, "watch"),
            ("?", false, "help"),
            ("R", false, "recurse"),
            ("s", false, "stat"),
        ]);
        assert_eq!(
            table,
            " -?   help\n -R   recurse\n -s   stat\n -w   watch\n"
        );
        let table = option_table(&[("s", false, "stats"), ("v", true, "version")]);
        assert_eq!(table, " -s         stats\n -v <arg>   version\n");
    }
}
