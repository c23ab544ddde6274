//! Four-letter words on the client port (`ruok`, `srvr`, `stat`, `mntr`, …), answered in
//! the formats Apache ZooKeeper 3.8 prints (`server/command/*Command.java`).
//!
//! A word is the first four bytes a connection sends; the server writes the text and
//! closes. Words outside `4lw.commands.whitelist` get Apache's refusal line (`srvr` is
//! always allowed, as Apache's `zkServer.sh status` needs it). `stmk` reads the 8-byte
//! mask that follows it. `format` holds the pure text layouts, `system` what comes from
//! the operating system.
//!
//! The facts the words print (connection details, the server summary, sessions by expiry,
//! watches, the environment) are gathered by the `pub(crate)` functions here, which the
//! AdminServer (`server::admin`) renders as JSON: both speak from the same numbers.

pub(crate) mod format;

pub use format::Metric;
pub(crate) mod system;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use super::clock::now_millis;
use super::conn::handle::Conn;
use super::options::ServerOptions;
use super::quorum::Ensemble;
use super::shared::Shared;

pub use system::full_version;

/// The Apache ZooKeeper release whose behaviour and wire protocol zk follows.
pub const APACHE_VERSION: &str = "3.8.0";

/// What the words that need a running server print once it is stopping.
pub const ZK_NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests";

/// Every four-letter word Apache knows.
pub const WORDS: &[&str] = &[
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "ruok", "stmk", "srst", "srvr", "stat",
    "wchc", "wchp", "wchs", "mntr", "isro", "hash",
];

/// The bytes telnet sends when it closes (`IAC IP IAC DO`); Apache knows it as the
/// command `telnet close`, which does nothing.
const TELNET_CLOSE: [u8; 4] = [0xff, 0xf4, 0xff, 0xfd];

/// NIO's `sessionlessCnxnTimeout`, the bucket width of Apache's connection expiry queue
/// (what `dump` groups connections by).
const CNXN_EXPIRY_INTERVAL_MS: i64 = 10_000;

/// The command the first four bytes of a connection name, if any.
pub fn recognise(word: &[u8; 4]) -> Option<&'static str> {
    if *word == TELNET_CLOSE {
        return Some("telnet close");
    }
    WORDS.iter().copied().find(|w| w.as_bytes() == word)
}

/// Whether `4lw.commands.whitelist` lets `cmd` run (`FourLetterCommands.isEnabled`).
/// `*` allows everything, `telnet close` included; zoo.cfg parsing expands `*` into the
/// list of words, so a list holding every word counts as `*` too.
pub fn is_enabled(opts: &ServerOptions, cmd: &str) -> bool {
    let words = &opts.four_letter_words;
    if cmd == "srvr" || words.contains("*") {
        return true;
    }
    if cmd == "telnet close" {
        return WORDS.iter().all(|w| words.contains(*w));
    }
    words.contains(cmd)
}

/// Whether the connection must read `stmk`'s 8-byte mask before calling [`run`]
/// (Apache reads it only once the word is known to be allowed).
pub fn takes_mask(shared: &Shared, cmd: &str) -> bool {
    cmd == "stmk" && is_enabled(&shared.opts, cmd)
}

/// This server's role as the four-letter words report it (`ServerStats.getServerState`).
pub fn server_state(shared: &Shared) -> &'static str {
    shared.role.get().as_str()
}

/// Whether this server is serving read-only clients only (`isro`).
pub(crate) fn is_read_only(shared: &Shared) -> bool {
    server_state(shared) == "read-only"
}

/// Runs a command and returns its text (`mask`: the value that followed `stmk`).
pub fn run(shared: &Shared, member: Option<&Ensemble>, cmd: &str, mask: Option<i64>) -> String {
    if !is_enabled(&shared.opts, cmd) {
        return format!("{cmd} is not executed because it is not in the whitelist.\n");
    }
    let serving = !shared.is_stopping();
    match cmd {
        "ruok" => "imok".to_owned(),
        "gtmk" => shared.stats.trace_mask.load(Ordering::Relaxed).to_string(),
        "stmk" => {
            if let Some(mask) = mask {
                shared.stats.trace_mask.store(mask, Ordering::Relaxed);
            }
            shared.stats.trace_mask.load(Ordering::Relaxed).to_string()
        }
        "envi" => envi(),
        "isro" if !serving => "null".to_owned(),
        "isro" if is_read_only(shared) => "ro".to_owned(),
        "isro" => "rw".to_owned(),
        // DigestCommand prints without a line end.
        "hash" if !serving => ZK_NOT_SERVING.to_owned(),
        // zk keeps no tree digests, as Apache with `digest.enabled=false`: nothing to list.
        "hash" => String::new(),
        "telnet close" => String::new(),
        _ if !serving => format!("{ZK_NOT_SERVING}\n"),
        "srvr" => stat(shared, false),
        "stat" => stat(shared, true),
        "cons" => cons(shared),
        "crst" => {
            reset_connection_stats(shared);
            "Connection stats reset.\n".to_owned()
        }
        "srst" => {
            shared.stats.reset();
            "Server stats reset.\n".to_owned()
        }
        "conf" => conf(shared),
        "dirs" => {
            let (data, log) = dir_sizes(shared);
            format!("datadir_size: {data}\nlogdir_size: {log}\n")
        }
        "dump" => dump(shared),
        "wchs" => {
            let (conns, paths, total) = shared.watches().summary();
            format::watch_summary(conns, paths, total)
        }
        "wchc" => wchc(shared),
        "wchp" => wchp(shared),
        "mntr" => mntr(shared, member),
        _ => String::new(),
    }
}

/// Live connections in accept order.
fn connections(shared: &Shared) -> Vec<Arc<Conn>> {
    let mut conns: Vec<Arc<Conn>> = shared.connections();
    conns.sort_by_key(|c| c.id);
    conns
}

/// What `cons`/`stat` report of each live connection, in accept order.
pub(crate) fn connection_infos(shared: &Shared) -> Vec<format::ConnInfo> {
    connections(shared).iter().map(|c| conn_info(c)).collect()
}

/// `crst`: zeroes every connection's counters and latencies.
pub(crate) fn reset_connection_stats(shared: &Shared) {
    for c in connections(shared) {
        c.stats.reset();
    }
}

/// `(datadir_size, logdir_size)`: bytes under the snapshot and the log folders.
pub(crate) fn dir_sizes(shared: &Shared) -> (u64, u64) {
    (
        system::dir_size(&shared.opts.snap_dir()),
        system::dir_size(&shared.opts.log_dir()),
    )
}

fn conn_info(c: &Conn) -> format::ConnInfo {
    let latency = c.stats.latency();
    let established_ms =
        now_millis() - i64::try_from(c.established.elapsed().as_millis()).unwrap_or(0);
    let last_op = *c.stats.last_op.lock();
    format::ConnInfo {
        peer: c.peer,
        interest_ops: if c.stats.four_letter.load(Ordering::Relaxed) {
            0
        } else {
            1
        },
        queued: c.outstanding() as u64,
        received: c.stats.received.load(Ordering::Relaxed),
        sent: c.stats.sent.load(Ordering::Relaxed),
        session_id: c.session(),
        last_op: if last_op.is_empty() { "NA" } else { last_op }.to_owned(),
        established_ms,
        timeout_ms: c.timeout_ms.load(Ordering::Relaxed),
        last_cxid: c.stats.last_cxid.load(Ordering::Relaxed),
        last_zxid: c.stats.last_zxid.load(Ordering::Relaxed),
        last_response_ms: latency.last_response_ms,
        last_latency_ms: latency.last_us / 1000,
        min_latency_ms: if latency.count == 0 {
            0
        } else {
            latency.min_us / 1000
        },
        avg_latency_ms: latency
            .total_us
            .checked_div(latency.count)
            .map_or(0, |avg| avg / 1000),
        max_latency_ms: latency.max_us.div_ceil(1000),
    }
}

/// Request latency in Apache's units: whole milliseconds for min and max (rounded down
/// and up, so that min <= avg <= max), the average rounded to four places.
fn latency_ms(shared: &Shared) -> (u64, f64, u64) {
    let l = shared.stats.latency();
    if l.count == 0 {
        return (0, 0.0, 0);
    }
    let avg = format::round4(l.total_us as f64 / l.count as f64 / 1000.0);
    // The counters are updated one by one; a reader can catch a first sample half-recorded.
    let min = if l.min_us == u64::MAX {
        0
    } else {
        l.min_us / 1000
    };
    (min, avg, l.max_us.div_ceil(1000))
}

fn stat(shared: &Shared, with_clients: bool) -> String {
    let clients: Option<Vec<String>> = with_clients.then(|| {
        connection_infos(shared)
            .iter()
            .map(|c| format::conn_info(c, true))
            .collect()
    });
    format::server_stats(
        full_version(),
        is_read_only(shared),
        clients.as_deref(),
        &server_summary(shared),
    )
}

/// The numbers `srvr`/`stat` print after the version line.
pub(crate) fn server_summary(shared: &Shared) -> format::ServerSummary {
    let (min, avg, max) = latency_ms(shared);
    let (zxid, node_count) = {
        let state = shared.read_state();
        (state.last_zxid, state.tree.node_count())
    };
    format::ServerSummary {
        min_latency_ms: min,
        avg_latency_ms: avg,
        max_latency_ms: max,
        received: shared.stats.packets_received.load(Ordering::Relaxed),
        sent: shared.stats.packets_sent.load(Ordering::Relaxed),
        connections: shared.connection_count(),
        outstanding: shared.stats.outstanding.load(Ordering::Relaxed).max(0),
        zxid,
        mode: server_state(shared),
        node_count,
    }
}

fn cons(shared: &Shared) -> String {
    let mut out = String::new();
    for c in connection_infos(shared) {
        out.push_str(&format::conn_info(&c, false));
        out.push('\n');
    }
    out.push('\n');
    out
}

fn conf(shared: &Shared) -> String {
    let opts = &shared.opts;
    let snap_dir = opts.snap_dir();
    let log_dir = opts.log_dir();
    format!(
        "clientPort={}\nsecureClientPort={}\ndataDir={}\ndataDirSize={}\ndataLogDir={}\ndataLogSize={}\n\
         tickTime={}\nmaxClientCnxns={}\nminSessionTimeout={}\nmaxSessionTimeout={}\n\
         clientPortListenBacklog={}\nserverId={}\n",
        shared.local_addr.port(),
        opts.secure_client_port.map_or(-1, i32::from),
        system::absolute(&snap_dir).display(),
        system::dir_size(&snap_dir),
        system::absolute(&log_dir).display(),
        system::dir_size(&log_dir),
        opts.tick_time.as_millis(),
        opts.max_client_cnxns,
        opts.min_session_timeout_ms,
        opts.max_session_timeout_ms,
        opts.client_port_listen_backlog,
        opts.server_id
    ) + &ensemble_conf(shared)
}

/// The quorum part of `conf`, as an Apache ensemble member prints it.
fn ensemble_conf(shared: &Shared) -> String {
    let Some(ensemble) = &shared.opts.ensemble else {
        return String::new();
    };
    let Some(me) = ensemble.me() else {
        return String::new();
    };
    let mut out = format!(
        "initLimit={}\nsyncLimit={}\nelectionAlg=3\nelectionPort={}\nquorumPort={}\npeerType={}\nmembership: \n",
        ensemble.init_limit,
        ensemble.sync_limit,
        me.election_port,
        me.quorum_port,
        u8::from(me.observer)
    );
    for (id, peer) in &ensemble.peers {
        let role = if peer.observer {
            "observer"
        } else {
            "participant"
        };
        out.push_str(&format!(
            "server.{id}={}:{}:{}:{role}\n",
            peer.host, peer.quorum_port, peer.election_port
        ));
    }
    out
}

/// An `Instant` as wall-clock milliseconds.
fn wall_ms(at: Instant, now: Instant, now_wall: i64) -> i64 {
    let ms = |d: std::time::Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    if at >= now {
        now_wall.saturating_add(ms(at - now))
    } else {
        now_wall.saturating_sub(ms(now - at))
    }
}

/// `(expiry bucket in epoch ms, session id)` of every live session: when the session
/// tracker would expire it, rounded up to the next tick as Apache's expiry queue groups them.
pub(crate) fn session_expiry(shared: &Shared) -> Vec<(i64, i64)> {
    let now = Instant::now();
    let now_wall = now_millis();
    let tick_ms = i64::try_from(shared.opts.tick_time.as_millis()).unwrap_or(i64::MAX);
    let deadlines = shared.tracker().deadlines();
    deadlines
        .iter()
        .map(|&(sid, deadline)| {
            let bucket = format::round_to_next_interval(wall_ms(deadline, now, now_wall), tick_ms);
            (bucket, sid)
        })
        .collect()
}

/// The sessions that own ephemeral nodes, and those nodes' paths.
pub(crate) fn ephemerals_by_session(shared: &Shared) -> Vec<(i64, Vec<String>)> {
    shared
        .read_state()
        .sessions
        .iter()
        .filter(|(_, s)| !s.ephemerals.is_empty())
        .map(|(&sid, s)| (sid, s.ephemerals.iter().cloned().collect()))
        .collect()
}

fn dump(shared: &Shared) -> String {
    let now = Instant::now();
    let now_wall = now_millis();
    let deadlines = shared.tracker().deadlines();
    let sessions: Vec<(i64, String)> = session_expiry(shared)
        .into_iter()
        .map(|(bucket, sid)| (bucket, format!("0x{sid:x}")))
        .collect();
    let ephemerals = ephemerals_by_session(shared);
    // Connections expire with their session; ones without a session (handshakes in
    // progress, four-letter words) have no deadline here and are left out.
    let cnxns: Vec<(i64, String)> = connections(shared)
        .iter()
        .filter_map(|c| {
            let sid = c.session();
            let deadline = deadlines.iter().find(|(s, _)| *s == sid)?.1;
            let bucket = format::round_to_next_interval(
                wall_ms(deadline, now, now_wall),
                CNXN_EXPIRY_INTERVAL_MS,
            );
            Some((
                bucket,
                format!(
                    "ip: {} sessionId: 0x{sid:x}",
                    format::java_socket_addr(&c.peer)
                ),
            ))
        })
        .collect();
    let mut out = String::from("SessionTracker dump:\n");
    out.push_str(&format::expiry_sets("Session", &sessions));
    out.push_str("ephemeral nodes dump:\n");
    out.push_str(&format::ephemerals(&ephemerals));
    out.push_str("Connections dump:\n");
    out.push_str(&format::expiry_sets("Connections", &cnxns));
    out
}

/// Connection id → session id, for the watch dumps (Apache lists watchers by session).
fn session_of(shared: &Shared) -> impl Fn(u64) -> i64 {
    let sessions: std::collections::HashMap<u64, i64> = shared
        .connections()
        .iter()
        .map(|c| (c.id, c.session()))
        .collect();
    move |conn| sessions.get(&conn).copied().unwrap_or(0)
}

/// `wchc`'s facts: each watching session (by id) and the paths it watches.
pub(crate) fn watches_by_session(shared: &Shared) -> Vec<(i64, Vec<String>)> {
    let by_conn = shared.watches().by_connection();
    let session = session_of(shared);
    let mut by_session: Vec<(i64, Vec<String>)> = by_conn
        .into_iter()
        .map(|(c, paths)| (session(c), paths))
        .collect();
    by_session.sort();
    by_session
}

/// `wchp`'s facts: each watched path and the sessions watching it.
pub(crate) fn watches_by_path(shared: &Shared) -> Vec<(String, Vec<i64>)> {
    let by_path = shared.watches().by_path();
    let session = session_of(shared);
    by_path
        .into_iter()
        .map(|(p, conns)| {
            let mut sids: Vec<i64> = conns.into_iter().map(&session).collect();
            sids.sort_unstable();
            (p, sids)
        })
        .collect()
}

fn wchc(shared: &Shared) -> String {
    format::watches_by_session(&watches_by_session(shared))
}

fn wchp(shared: &Shared) -> String {
    format::watches_by_path(&watches_by_path(shared))
}

fn mntr(shared: &Shared, member: Option<&Ensemble>) -> String {
    format::mntr(&monitor(shared, member))
}

/// What `mntr` reports (and `/metrics` exports), in `mntr`'s order, keys without `zk_`.
pub fn monitor(shared: &Shared, member: Option<&Ensemble>) -> Vec<(&'static str, Metric)> {
    use format::Metric::{Float, Int, Text};
    let int = |n: u64| Int(i64::try_from(n).unwrap_or(i64::MAX));
    let (min, avg, max) = latency_ms(shared);
    let (node_count, data_size, global_sessions, ephemerals) = {
        let state = shared.read_state();
        let ephemerals: usize = state.sessions.values().map(|s| s.ephemerals.len()).sum();
        (
            state.tree.node_count(),
            state.tree.approximate_data_size(),
            state.sessions.len(),
            ephemerals,
        )
    };
    // One lock at a time: the counts are read before the list is built.
    let alive = shared.connection_count();
    let watches = shared.watches().total();
    let stats = &shared.stats;
    let mut lines = vec![
        ("version", Text(full_version().to_owned())),
        ("server_state", Text(server_state(shared).to_owned())),
        ("avg_latency", Float(avg)),
        ("max_latency", int(max)),
        ("min_latency", int(min)),
        (
            "packets_received",
            int(stats.packets_received.load(Ordering::Relaxed)),
        ),
        (
            "packets_sent",
            int(stats.packets_sent.load(Ordering::Relaxed)),
        ),
        ("num_alive_connections", int(alive as u64)),
        (
            "outstanding_requests",
            Int(stats.outstanding.load(Ordering::Relaxed).max(0)),
        ),
        (
            "uptime",
            int(u64::try_from(stats.started.elapsed().as_millis()).unwrap_or(u64::MAX)),
        ),
        ("znode_count", int(node_count as u64)),
        ("watch_count", int(watches as u64)),
        ("ephemerals_count", int(ephemerals as u64)),
        ("approximate_data_size", int(data_size)),
        ("global_sessions", int(global_sessions as u64)),
        // zk has no local sessions (`localSessionsEnabled`).
        ("local_sessions", Int(0)),
    ];
    if let Some(counts) = member.and_then(|e| e.follower_counts(shared.opts.tick_time)) {
        lines.push(("learners", int(counts.learners as u64)));
        lines.push(("synced_followers", int(counts.synced_followers as u64)));
        lines.push(("synced_non_voting_followers", Int(0)));
        lines.push(("synced_observers", int(counts.synced_observers as u64)));
        lines.push(("pending_syncs", Int(0)));
    }
    if let Some(open) = system::open_fd_count() {
        lines.push(("open_file_descriptor_count", int(open)));
    }
    if let Some(max) = system::max_fd_count() {
        lines.push(("max_file_descriptor_count", int(max)));
    }
    lines.extend([
        (
            "auth_failed_count",
            int(stats.auth_failed.load(Ordering::Relaxed)),
        ),
        (
            "bytes_received_count",
            int(stats.bytes_received.load(Ordering::Relaxed)),
        ),
        (
            "connection_request_count",
            int(stats.connection_requests.load(Ordering::Relaxed)),
        ),
    ]);
    lines
}

fn envi() -> String {
    format::environment(&environment())
}

/// What `envi` lists: the Java `Environment` entries that have a meaning outside a JVM.
pub(crate) fn environment() -> Vec<(&'static str, String)> {
    const NA: &str = "<NA>";
    let (user_name, user_home) = system::user();
    let user_dir = std::env::current_dir()
        .ok()
        .map(|d| d.display().to_string());
    let entries = [
        ("zookeeper.version", full_version().to_owned()),
        (
            "host.name",
            system::host_name().unwrap_or_else(|| NA.to_owned()),
        ),
        ("os.name", system::os_name()),
        ("os.arch", system::os_arch()),
        (
            "os.version",
            system::os_version().unwrap_or_else(|| NA.to_owned()),
        ),
        ("user.name", user_name.unwrap_or_else(|| NA.to_owned())),
        ("user.home", user_home.unwrap_or_else(|| NA.to_owned())),
        ("user.dir", user_dir.unwrap_or_else(|| NA.to_owned())),
    ];
    entries.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(words: &[&str]) -> ServerOptions {
        let mut o =
            ServerOptions::standalone("127.0.0.1:0".parse().unwrap(), "/tmp/zk-fourlw-test".into());
        o.four_letter_words = words.iter().map(|w| (*w).to_owned()).collect();
        o
    }

    #[test]
    fn recognises_every_word_and_telnet_close() {
        for w in WORDS {
            let bytes: [u8; 4] = w.as_bytes().try_into().unwrap();
            assert_eq!(recognise(&bytes), Some(*w));
        }
        assert_eq!(recognise(&[0xff, 0xf4, 0xff, 0xfd]), Some("telnet close"));
        assert_eq!(recognise(b"RUOK"), None);
        assert_eq!(recognise(&[0, 0, 0, 45]), None);
    }

    #[test]
    fn whitelist_rules() {
        let o = opts(&["ruok"]);
        assert!(is_enabled(&o, "ruok"));
        assert!(is_enabled(&o, "srvr"), "srvr is always allowed");
        assert!(!is_enabled(&o, "stat"));
        let all = opts(&["*"]);
        assert!(WORDS.iter().all(|w| is_enabled(&all, w)));
        assert!(is_enabled(&all, "telnet close"));
        assert!(!is_enabled(&opts(&[]), "telnet close"));
        assert!(
            is_enabled(&opts(WORDS), "telnet close"),
            "zoo.cfg's expanded `*`"
        );
    }
}
