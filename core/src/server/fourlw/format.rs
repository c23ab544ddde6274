//! Pure text formatting for the four-letter words, in the shapes Apache's Java code
//! prints (`Double.toString`, `Date.toString`, `InetSocketAddress.toString`, …).

use std::fmt::Write as _;
use std::net::SocketAddr;

/// Java's `Double.toString`: `0.0`, `1.5`, `0.3333`, `1.0E-4`, `1.2345E7`.
pub fn java_double(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_owned();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0.0" } else { "0.0" }.to_owned();
    }
    let abs = v.abs();
    if (1e-3..1e7).contains(&abs) {
        let mut s = format!("{v}");
        if !s.contains('.') {
            s.push_str(".0");
        }
        return s;
    }
    let s = format!("{v:e}");
    let (mantissa, exponent) = s.split_once('e').unwrap_or((s.as_str(), "0"));
    if mantissa.contains('.') {
        format!("{mantissa}E{exponent}")
    } else {
        format!("{mantissa}.0E{exponent}")
    }
}

/// `BigDecimal.setScale(4, HALF_UP)` of a non-negative double, as `AvgMinMaxCounter`
/// rounds averages.
pub fn round4(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

/// Days since 1970-01-01 → (year, month 1-12, day 1-31) in the proleptic Gregorian calendar.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: i64,
    minute: i64,
    second: i64,
    weekday: usize,
}

fn civil(epoch_ms: i64) -> Civil {
    let secs = epoch_ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    Civil {
        year,
        month,
        day,
        hour: rem / 3600,
        minute: rem % 3600 / 60,
        second: rem % 60,
        // 1970-01-01 was a Thursday; 0 = Sunday.
        weekday: (days + 4).rem_euclid(7) as usize,
    }
}

const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Java's `Date.toString` (`EEE MMM dd HH:mm:ss zzz yyyy`), in UTC.
pub fn java_date(epoch_ms: i64) -> String {
    let c = civil(epoch_ms);
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} UTC {}",
        WEEKDAYS[c.weekday],
        MONTHS[(c.month - 1) as usize],
        c.day,
        c.hour,
        c.minute,
        c.second,
        c.year
    )
}

/// The build date as Apache's `Version` prints it: `2022-02-25 08:49 UTC`.
pub fn build_date(epoch_ms: i64) -> String {
    let c = civil(epoch_ms);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        c.year, c.month, c.day, c.hour, c.minute
    )
}

/// `InetSocketAddress.toString` of an accepted socket (no host name): `/127.0.0.1:5000`,
/// `/[0:0:0:0:0:0:0:1]:5000` (Java 14+ brackets IPv6; Java never compresses zeros and
/// shows IPv4-mapped addresses as IPv4).
pub fn java_socket_addr(addr: &SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => format!("/{}:{}", a.ip(), a.port()),
        SocketAddr::V6(a) => match a.ip().to_ipv4_mapped() {
            Some(v4) => format!("/{v4}:{}", a.port()),
            None => {
                let segments: Vec<String> =
                    a.ip().segments().iter().map(|s| format!("{s:x}")).collect();
                let mut host = segments.join(":");
                if a.scope_id() != 0 {
                    let _ = write!(host, "%{}", a.scope_id());
                }
                format!("/[{host}]:{}", a.port())
            }
        },
    }
}

/// What `cons`/`stat` print about one connection (`ServerCnxn.dumpConnectionInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnInfo {
    pub peer: SocketAddr,
    /// `SelectionKey` interest ops: 1 (reading) or 0 (a four-letter-word connection).
    pub interest_ops: u32,
    pub queued: u64,
    pub received: u64,
    pub sent: u64,
    /// 0 before the handshake: the long form then stops after `sent`.
    pub session_id: i64,
    pub last_op: String,
    pub established_ms: i64,
    pub timeout_ms: i32,
    pub last_cxid: i32,
    pub last_zxid: i64,
    pub last_response_ms: i64,
    pub last_latency_ms: u64,
    pub min_latency_ms: u64,
    pub avg_latency_ms: u64,
    pub max_latency_ms: u64,
}

/// ` /ip:port[ops](queued=..,recved=..,sent=..[,sid=0x..,…])` without a line end.
pub fn conn_info(c: &ConnInfo, brief: bool) -> String {
    let mut out = format!(
        " {}[{:x}](queued={},recved={},sent={}",
        java_socket_addr(&c.peer),
        c.interest_ops,
        c.queued,
        c.received,
        c.sent
    );
    if !brief && c.session_id != 0 {
        let _ = write!(
            out,
            ",sid=0x{:x},lop={},est={},to={}",
            c.session_id, c.last_op, c.established_ms, c.timeout_ms
        );
        if c.last_cxid >= 0 {
            let _ = write!(out, ",lcxid=0x{:x}", c.last_cxid);
        }
        let _ = write!(
            out,
            ",lzxid=0x{:x},lresp={},llat={},minlat={},avglat={},maxlat={}",
            c.last_zxid,
            c.last_response_ms,
            c.last_latency_ms,
            c.min_latency_ms,
            c.avg_latency_ms,
            c.max_latency_ms
        );
    }
    out.push(')');
    out
}

/// The numbers `srvr`/`stat` print after the header (`ServerStats.toString` + node count).
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSummary {
    pub min_latency_ms: u64,
    pub avg_latency_ms: f64,
    pub max_latency_ms: u64,
    pub received: u64,
    pub sent: u64,
    pub connections: usize,
    pub outstanding: i64,
    pub zxid: i64,
    pub mode: &'static str,
    pub node_count: usize,
}

/// `srvr` (no `clients`) or `stat` (`clients` = one line per connection).
pub fn server_stats(
    version: &str,
    read_only: bool,
    clients: Option<&[String]>,
    s: &ServerSummary,
) -> String {
    let mut out = format!("Zookeeper version: {version}\n");
    if read_only {
        out.push_str("READ-ONLY mode; serving only read-only clients\n");
    }
    if let Some(clients) = clients {
        out.push_str("Clients:\n");
        for line in clients {
            out.push_str(line);
            out.push('\n');
        }
        out.push('\n');
    }
    let _ = write!(
        out,
        "Latency min/avg/max: {}/{}/{}\nReceived: {}\nSent: {}\nConnections: {}\nOutstanding: {}\nZxid: 0x{:x}\nMode: {}\nNode count: {}\n",
        s.min_latency_ms,
        java_double(s.avg_latency_ms),
        s.max_latency_ms,
        s.received,
        s.sent,
        s.connections,
        s.outstanding,
        s.zxid,
        s.mode,
        s.node_count
    );
    out
}

/// `ExpiryQueue.dump`: `<label> Sets (<buckets>)/(<elements>):` then each bucket, oldest
/// first, as `<n> expire at <Date>:` and one `\t<element>` line per element. `entries`
/// are `(expiry bucket in epoch ms, element text)`.
pub fn expiry_sets(label: &str, entries: &[(i64, String)]) -> String {
    let mut sorted: Vec<&(i64, String)> = entries.iter().collect();
    sorted.sort();
    let mut buckets: Vec<(i64, Vec<&str>)> = Vec::new();
    for (at, elem) in sorted {
        match buckets.last_mut() {
            Some((last, elems)) if last == at => elems.push(elem),
            _ => buckets.push((*at, vec![elem.as_str()])),
        }
    }
    let mut out = format!("{label} Sets ({})/({}):\n", buckets.len(), entries.len());
    for (at, elems) in buckets {
        let _ = writeln!(out, "{} expire at {}:", elems.len(), java_date(at));
        for e in elems {
            let _ = writeln!(out, "\t{e}");
        }
    }
    out
}

/// `ExpiryQueue.roundToNextInterval`: the bucket an expiry time falls in.
pub fn round_to_next_interval(time_ms: i64, interval_ms: i64) -> i64 {
    if interval_ms <= 0 {
        return time_ms;
    }
    (time_ms.div_euclid(interval_ms) + 1) * interval_ms
}

/// `DataTree.dumpEphemerals`.
pub fn ephemerals(sessions: &[(i64, Vec<String>)]) -> String {
    let mut out = format!("Sessions with Ephemerals ({}):\n", sessions.len());
    for (sid, paths) in sessions {
        let _ = writeln!(out, "0x{sid:x}:");
        for p in paths {
            let _ = writeln!(out, "\t{p}");
        }
    }
    out
}

/// `wchs`: `WatchManager.toString` then the command's own line end.
pub fn watch_summary(connections: usize, paths: usize, total: usize) -> String {
    format!("{connections} connections watching {paths} paths\nTotal watches:{total}\n")
}

/// `wchc`: each session, then its watched paths.
pub fn watches_by_session(by_session: &[(i64, Vec<String>)]) -> String {
    let mut out = String::new();
    for (sid, paths) in by_session {
        let _ = writeln!(out, "0x{sid:x}");
        for p in paths {
            let _ = writeln!(out, "\t{p}");
        }
    }
    out.push('\n');
    out
}

/// `wchp`: each path, then the sessions watching it.
pub fn watches_by_path(by_path: &[(String, Vec<i64>)]) -> String {
    let mut out = String::new();
    for (p, sids) in by_path {
        let _ = writeln!(out, "{p}");
        for sid in sids {
            let _ = writeln!(out, "\t0x{sid:x}");
        }
    }
    out.push('\n');
    out
}

/// A `mntr` value: Java prints integers as they are and other numbers as doubles.
#[derive(Debug, Clone, PartialEq)]
pub enum Metric {
    Int(i64),
    Float(f64),
    Text(String),
}

/// `zk_<key>\t<value>` lines.
pub fn mntr(lines: &[(&str, Metric)]) -> String {
    let mut out = String::new();
    for (key, value) in lines {
        let value = match value {
            Metric::Int(n) => n.to_string(),
            Metric::Float(f) => java_double(*f),
            Metric::Text(t) => t.clone(),
        };
        let _ = writeln!(out, "zk_{key}\t{value}");
    }
    out
}

/// `Environment:` then `key=value` lines.
pub fn environment(entries: &[(&str, String)]) -> String {
    let mut out = String::from("Environment:\n");
    for (k, v) in entries {
        let _ = writeln!(out, "{k}={v}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_as_java_does() {
        assert_eq!(java_double(0.0), "0.0");
        assert_eq!(java_double(1.0), "1.0");
        assert_eq!(java_double(0.5), "0.5");
        assert_eq!(java_double(0.3333), "0.3333");
        assert_eq!(java_double(12.25), "12.25");
        assert_eq!(java_double(0.001), "0.001");
        assert_eq!(java_double(0.0001), "1.0E-4");
        assert_eq!(java_double(0.00015), "1.5E-4");
        assert_eq!(java_double(12_345_678.0), "1.2345678E7");
        assert_eq!(java_double(1e7), "1.0E7");
        assert_eq!(round4(1.0 / 3.0), 0.3333);
        assert_eq!(round4(2.0 / 3.0), 0.6667);
        assert_eq!(round4(0.00005), 0.0001);
    }

    #[test]
    fn dates_print_as_java_does_in_utc() {
        assert_eq!(java_date(0), "Thu Jan 01 00:00:00 UTC 1970");
        // 2022-02-25T08:49:05Z, a Friday.
        assert_eq!(java_date(1_645_778_945_000), "Fri Feb 25 08:49:05 UTC 2022");
        assert_eq!(build_date(1_645_778_945_000), "2022-02-25 08:49 UTC");
        // 2024-02-29 (leap day), a Thursday.
        assert_eq!(java_date(1_709_164_800_123), "Thu Feb 29 00:00:00 UTC 2024");
        assert_eq!(java_date(-1), "Wed Dec 31 23:59:59 UTC 1969");
    }

    #[test]
    fn socket_addresses_print_as_java_does() {
        assert_eq!(
            java_socket_addr(&"127.0.0.1:2181".parse().unwrap()),
            "/127.0.0.1:2181"
        );
        assert_eq!(
            java_socket_addr(&"[::1]:40000".parse().unwrap()),
            "/[0:0:0:0:0:0:0:1]:40000"
        );
        assert_eq!(
            java_socket_addr(&"[::ffff:10.0.0.7]:5".parse().unwrap()),
            "/10.0.0.7:5"
        );
        assert_eq!(
            java_socket_addr(&"[fe80::1%2]:7".parse().unwrap()),
            "/[fe80:0:0:0:0:0:0:1%2]:7"
        );
    }

    fn sample_conn() -> ConnInfo {
        ConnInfo {
            peer: "127.0.0.1:51234".parse().unwrap(),
            interest_ops: 1,
            queued: 0,
            received: 5,
            sent: 4,
            session_id: 0x100_000d_c9f8_0000,
            last_op: "GETD".into(),
            established_ms: 1_700_000_000_000,
            timeout_ms: 30000,
            last_cxid: 3,
            last_zxid: 0x12,
            last_response_ms: 1_700_000_000_500,
            last_latency_ms: 1,
            min_latency_ms: 0,
            avg_latency_ms: 0,
            max_latency_ms: 2,
        }
    }

    #[test]
    fn connection_lines() {
        let c = sample_conn();
        assert_eq!(
            conn_info(&c, true),
            " /127.0.0.1:51234[1](queued=0,recved=5,sent=4)"
        );
        assert_eq!(
            conn_info(&c, false),
            " /127.0.0.1:51234[1](queued=0,recved=5,sent=4,sid=0x100000dc9f80000,lop=GETD,est=1700000000000,\
             to=30000,lcxid=0x3,lzxid=0x12,lresp=1700000000500,llat=1,minlat=0,avglat=0,maxlat=2)"
        );
        let fresh = ConnInfo {
            last_cxid: -1,
            last_zxid: -1,
            last_op: "NA".into(),
            ..c.clone()
        };
        assert!(conn_info(&fresh, false).contains(",to=30000,lzxid=0xffffffffffffffff,"));
        let probe = ConnInfo {
            interest_ops: 0,
            session_id: 0,
            ..c
        };
        assert_eq!(
            conn_info(&probe, false),
            " /127.0.0.1:51234[0](queued=0,recved=5,sent=4)"
        );
    }

    #[test]
    fn srvr_and_stat_blocks() {
        let s = ServerSummary {
            min_latency_ms: 0,
            avg_latency_ms: 0.0,
            max_latency_ms: 0,
            received: 1,
            sent: 0,
            connections: 1,
            outstanding: 0,
            zxid: 0,
            mode: "standalone",
            node_count: 4,
        };
        assert_eq!(
            server_stats("3.8.0-x, built on d", false, None, &s),
            "Zookeeper version: 3.8.0-x, built on d\nLatency min/avg/max: 0/0.0/0\nReceived: 1\nSent: 0\n\
             Connections: 1\nOutstanding: 0\nZxid: 0x0\nMode: standalone\nNode count: 4\n"
        );
        let clients = vec![" /127.0.0.1:1[0](queued=0,recved=1,sent=0)".to_owned()];
        let stat = server_stats("v", true, Some(&clients), &s);
        assert!(stat.starts_with(
            "Zookeeper version: v\nREAD-ONLY mode; serving only read-only clients\nClients:\n \
             /127.0.0.1:1[0](queued=0,recved=1,sent=0)\n\nLatency min/avg/max: 0/0.0/0\n"
        ));
    }

    #[test]
    fn expiry_dump_groups_by_bucket() {
        assert_eq!(round_to_next_interval(4100, 2000), 6000);
        assert_eq!(round_to_next_interval(4000, 2000), 6000);
        let entries = vec![
            (6000, "0x2".to_owned()),
            (2000, "0x1".to_owned()),
            (6000, "0x3".to_owned()),
        ];
        assert_eq!(
            expiry_sets("Session", &entries),
            "Session Sets (2)/(3):\n1 expire at Thu Jan 01 00:00:02 UTC 1970:\n\t0x1\n\
             2 expire at Thu Jan 01 00:00:06 UTC 1970:\n\t0x2\n\t0x3\n"
        );
        assert_eq!(
            expiry_sets("Connections", &[]),
            "Connections Sets (0)/(0):\n"
        );
    }

    #[test]
    fn watch_and_ephemeral_dumps() {
        assert_eq!(
            watch_summary(0, 0, 0),
            "0 connections watching 0 paths\nTotal watches:0\n"
        );
        assert_eq!(
            watches_by_session(&[(0x10, vec!["/a".into(), "/b".into()])]),
            "0x10\n\t/a\n\t/b\n\n"
        );
        assert_eq!(
            watches_by_path(&[("/a".into(), vec![0x10, 0x11])]),
            "/a\n\t0x10\n\t0x11\n\n"
        );
        assert_eq!(watches_by_session(&[]), "\n");
        assert_eq!(
            ephemerals(&[(0xab, vec!["/e".into()])]),
            "Sessions with Ephemerals (1):\n0xab:\n\t/e\n"
        );
    }

    #[test]
    fn mntr_and_envi_lines() {
        let lines = [
            ("version", Metric::Text("3.8.0".into())),
            ("avg_latency", Metric::Float(0.0)),
            ("znode_count", Metric::Int(4)),
        ];
        assert_eq!(
            mntr(&lines),
            "zk_version\t3.8.0\nzk_avg_latency\t0.0\nzk_znode_count\t4\n"
        );
        assert_eq!(
            environment(&[("os.name", "Linux".into())]),
            "Environment:\nos.name=Linux\n"
        );
    }
}
