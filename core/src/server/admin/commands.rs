//! The AdminServer's commands: Apache 3.8's names, aliases and JSON fields
//! (`server/admin/Commands.java`), answered from the same facts as the four-letter words.
//!
//! Every answer is a JSON object whose fields are the command's data, then `command` (the
//! primary name) and `error` (null on success). A command that fails on its own terms puts
//! `error` among its data instead, so it comes first, as in Apache's `CommandResponse`.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::UNIX_EPOCH;

use super::json::Json;
use crate::server::config::bracketed;
use crate::server::fourlw::{self, format, full_version, Metric, ZK_NOT_SERVING};
use crate::server::persist;
use crate::server::quorum::Ensemble;
use crate::server::role::Role;
use crate::server::shared::Shared;

/// What a command reads: the server, its ensemble membership (if any) and the request's
/// query parameters (first value of each name, as Apache's servlet takes them).
pub struct Context<'a> {
    pub shared: &'a Shared,
    pub member: Option<&'a Ensemble>,
    pub args: &'a BTreeMap<String, String>,
}

/// One command: its names (the first is the primary one), whether it needs a serving
/// server, and what it answers.
pub struct Command {
    pub names: &'static [&'static str],
    pub server_required: bool,
    run: fn(&Context) -> Data,
}

impl Command {
    pub fn primary_name(&self) -> &'static str {
        self.names[0]
    }
}

/// A command's fields, in order.
pub type Data = Vec<(String, Json)>;

/// Every command Apache 3.8 registers, in its registration order.
pub static COMMANDS: &[Command] = &[
    cmd(
        &["connection_stat_reset", "crst"],
        true,
        connection_stat_reset,
    ),
    cmd(&["configuration", "conf", "config"], true, configuration),
    cmd(&["connections", "cons"], true, connections),
    cmd(&["hash"], true, hash),
    cmd(&["dirs"], true, dirs),
    cmd(&["dump"], true, dump),
    cmd(&["environment", "env", "envi"], false, environment),
    cmd(&["get_trace_mask", "gtmk"], false, get_trace_mask),
    cmd(
        &["initial_configuration", "icfg"],
        true,
        initial_configuration,
    ),
    cmd(&["is_read_only", "isro"], true, is_read_only),
    cmd(&["last_snapshot", "lsnp"], true, last_snapshot),
    cmd(&["leader", "lead"], true, leader),
    cmd(&["monitor", "mntr"], false, monitor),
    cmd(
        &["observer_connection_stat_reset", "orst"],
        true,
        observer_connection_stat_reset,
    ),
    cmd(&["ruok"], true, |_| Data::new()),
    cmd(&["set_trace_mask", "stmk"], false, set_trace_mask),
    cmd(&["server_stats", "srvr"], true, server_stats),
    cmd(&["stats", "stat"], true, stats),
    cmd(&["stat_reset", "srst"], true, stat_reset),
    cmd(&["observers", "obsr"], true, observers),
    cmd(&["system_properties", "sysp"], false, system_properties),
    cmd(&["voting_view"], true, voting_view),
    cmd(&["watches", "wchc"], true, watches),
    cmd(&["watches_by_path", "wchp"], true, watches_by_path),
    cmd(&["watch_summary", "wchs"], true, watch_summary),
    cmd(&["zabstate"], false, zabstate),
];

const fn cmd(
    names: &'static [&'static str],
    server_required: bool,
    run: fn(&Context) -> Data,
) -> Command {
    Command {
        names,
        server_required,
        run,
    }
}

/// The command any of whose names is `name` (case matters, as in Apache).
pub fn find(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.names.contains(&name))
}

/// Runs the command called `name` and returns the whole answer (Apache's `runCommand`):
/// an unknown name, or a command that needs a serving server while this one is stopping,
/// answers with `error` set and `command` as it was asked for.
pub fn run(name: &str, ctx: &Context) -> Json {
    let Some(command) = find(name) else {
        return response(name, Some(format!("Unknown command: {name}")), Data::new());
    };
    if command.server_required && ctx.shared.is_stopping() {
        return response(name, Some(ZK_NOT_SERVING.to_owned()), Data::new());
    }
    response(command.primary_name(), None, (command.run)(ctx))
}

/// `CommandResponse.toMap`: the data, then `command` and `error`, except that a key the
/// data already holds keeps its place and value (how a command reports its own error).
pub fn response(command: &str, error: Option<String>, mut data: Data) -> Json {
    let has = |data: &Data, key: &str| data.iter().any(|(k, _)| k == key);
    if !has(&data, "command") {
        data.push(("command".to_owned(), Json::str(command)));
    }
    if !has(&data, "error") {
        data.push(("error".to_owned(), error.map_or(Json::Null, Json::Str)));
    }
    Json::Object(data)
}

fn data<const N: usize>(fields: [(&str, Json); N]) -> Data {
    fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn failed(reason: &str) -> Data {
    data([("error", Json::str(reason))])
}

fn connection_stat_reset(ctx: &Context) -> Data {
    fourlw::reset_connection_stats(ctx.shared);
    Data::new()
}

/// `ZooKeeperServerConf.toMap` (3.8 lists the same keys for ensemble members).
fn configuration(ctx: &Context) -> Data {
    let opts = &ctx.shared.opts;
    let dir = |p: &std::path::Path| Json::str(fourlw::system::absolute(p).display().to_string());
    data([
        (
            "client_port",
            Json::Int(ctx.shared.local_addr.port().into()),
        ),
        ("data_dir", dir(&opts.snap_dir())),
        ("data_log_dir", dir(&opts.log_dir())),
        ("tick_time", Json::count(opts.tick_time.as_millis())),
        ("max_client_cnxns", Json::count(opts.max_client_cnxns)),
        (
            "min_session_timeout",
            Json::Int(opts.min_session_timeout_ms.into()),
        ),
        (
            "max_session_timeout",
            Json::Int(opts.max_session_timeout_ms.into()),
        ),
        ("server_id", Json::count(opts.server_id)),
        (
            "client_port_listen_backlog",
            Json::Int(opts.client_port_listen_backlog.into()),
        ),
    ])
}

/// `ServerCnxn.getConnectionInfo`: the brief form stops after `packets_sent`.
fn connection_info(c: &format::ConnInfo, brief: bool) -> Json {
    // Jackson writes an InetSocketAddress as host:port, without toString's leading slash.
    let addr = format::java_socket_addr(&c.peer);
    let mut fields = data([
        (
            "remote_socket_address",
            Json::str(addr.trim_start_matches('/')),
        ),
        ("interest_ops", Json::Int(c.interest_ops.into())),
        ("outstanding_requests", Json::count(c.queued)),
        ("packets_received", Json::count(c.received)),
        ("packets_sent", Json::count(c.sent)),
    ]);
    if !brief {
        fields.extend(data([
            ("session_id", Json::Int(c.session_id)),
            ("last_operation", Json::str(c.last_op.clone())),
            ("established", Json::Int(c.established_ms)),
            ("session_timeout", Json::Int(c.timeout_ms.into())),
            ("last_cxid", Json::Int(c.last_cxid.into())),
            ("last_zxid", Json::Int(c.last_zxid)),
            ("last_response_time", Json::Int(c.last_response_ms)),
            ("last_latency", Json::count(c.last_latency_ms)),
            ("min_latency", Json::count(c.min_latency_ms)),
            ("avg_latency", Json::count(c.avg_latency_ms)),
            ("max_latency", Json::count(c.max_latency_ms)),
        ]));
    }
    Json::Object(fields)
}

fn connection_list(ctx: &Context, brief: bool) -> Json {
    Json::Array(
        fourlw::connection_infos(ctx.shared)
            .iter()
            .map(|c| connection_info(c, brief))
            .collect(),
    )
}

fn connections(ctx: &Context) -> Data {
    // zk serves no TLS port, so the secure list is always empty.
    data([
        ("connections", connection_list(ctx, false)),
        ("secure_connections", Json::Array(Vec::new())),
    ])
}

/// zk keeps no tree digests (as Apache with `digest.enabled=false`): nothing to list.
fn hash(_: &Context) -> Data {
    data([("digests", Json::Array(Vec::new()))])
}

fn dirs(ctx: &Context) -> Data {
    let (data_size, log_size) = fourlw::dir_sizes(ctx.shared);
    data([
        ("datadir_size", Json::count(data_size)),
        ("logdir_size", Json::count(log_size)),
    ])
}

fn dump(ctx: &Context) -> Data {
    let mut by_expiry: BTreeMap<i64, Vec<Json>> = BTreeMap::new();
    for (bucket, sid) in fourlw::session_expiry(ctx.shared) {
        by_expiry.entry(bucket).or_default().push(Json::Int(sid));
    }
    let ephemerals = fourlw::ephemerals_by_session(ctx.shared);
    data([
        (
            "expiry_time_to_session_ids",
            Json::object(
                by_expiry
                    .into_iter()
                    .map(|(at, sids)| (at.to_string(), Json::Array(sids))),
            ),
        ),
        (
            "session_id_to_ephemeral_paths",
            Json::object(
                ephemerals
                    .into_iter()
                    .map(|(sid, paths)| (sid.to_string(), strings(paths))),
            ),
        ),
    ])
}

fn strings(items: Vec<String>) -> Json {
    Json::Array(items.into_iter().map(Json::Str).collect())
}

fn environment(_: &Context) -> Data {
    fourlw::environment()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Json::Str(v)))
        .collect()
}

fn trace_mask(ctx: &Context) -> i64 {
    ctx.shared.stats.trace_mask.load(Ordering::Relaxed)
}

fn get_trace_mask(ctx: &Context) -> Data {
    data([("tracemask", Json::Int(trace_mask(ctx)))])
}

fn set_trace_mask(ctx: &Context) -> Data {
    let Some(value) = ctx.args.get("traceMask") else {
        return failed("setTraceMask requires long traceMask argument");
    };
    // Java's Long.parseLong: decimal with an optional sign.
    let Ok(mask) = value.parse::<i64>() else {
        return failed(&format!(
            "setTraceMask requires long traceMask argument, got {value}"
        ));
    };
    ctx.shared.stats.trace_mask.store(mask, Ordering::Relaxed);
    data([("tracemask", Json::Int(mask))])
}

fn initial_configuration(ctx: &Context) -> Data {
    data([(
        "initial_configuration",
        Json::str(ctx.shared.opts.initial_config.clone()),
    )])
}

fn is_read_only(ctx: &Context) -> Data {
    data([("read_only", Json::Bool(fourlw::is_read_only(ctx.shared)))])
}

/// The newest snapshot on disk (a delta counts: it is a finished save too): its zxid in hex
/// (`Long.toHexString`, so -1 prints as 16 f's) and when it was written, in seconds.
fn last_snapshot(ctx: &Context) -> Data {
    let newest = persist::snapshot::list(&ctx.shared.opts.snap_dir())
        .ok()
        .and_then(|listing| {
            listing
                .full
                .into_iter()
                .chain(listing.deltas)
                .max_by_key(|(zxid, _)| *zxid)
        });
    let (zxid, timestamp) = match newest {
        Some((zxid, path)) => {
            let seconds = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(-1, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
            (zxid as i64, seconds)
        }
        None => (-1, -1),
    };
    data([
        ("zxid", Json::str(format!("{:x}", zxid))),
        ("timestamp", Json::Int(timestamp)),
    ])
}

fn leader(ctx: &Context) -> Data {
    let (Some(member), Some(ensemble)) = (ctx.member, &ctx.shared.opts.ensemble) else {
        // What Apache's standalone server answers (it is no QuorumZooKeeperServer).
        return failed("server is not initialized");
    };
    let leader = member.leader_id();
    let leader_host = leader
        .and_then(|id| ensemble.peers.get(&id))
        .map_or_else(String::new, |peer| peer.host.clone());
    data([
        (
            "is_leader",
            Json::Bool(ctx.shared.role.get() == Role::Leader),
        ),
        ("leader_id", leader.map_or(Json::Int(-1), Json::count)),
        ("leader_ip", Json::Str(leader_host)),
    ])
}

fn monitor(ctx: &Context) -> Data {
    fourlw::monitor(ctx.shared, ctx.member)
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                Metric::Int(n) => Json::Int(n),
                Metric::Float(f) => Json::Float(f),
                Metric::Text(t) => Json::Str(t),
            };
            (k.to_owned(), v)
        })
        .collect()
}

/// zk keeps no per-observer connection counters, so there is nothing to reset.
fn observer_connection_stat_reset(_: &Context) -> Data {
    Data::new()
}

/// `ServerStats` as Jackson serialises its getters (snake_case), plus the response-size
/// stats zk does not keep (-1 is Apache's "no sample yet").
fn server_stats(ctx: &Context) -> Data {
    let shared = ctx.shared;
    let summary = fourlw::server_summary(shared);
    let (data_size, log_size) = fourlw::dir_sizes(shared);
    let no_samples = || {
        Json::object([
            ("last_buffer_size", Json::Int(-1)),
            ("min_buffer_size", Json::Int(-1)),
            ("max_buffer_size", Json::Int(-1)),
        ])
    };
    let stats = Json::object([
        ("packets_sent", Json::count(summary.sent)),
        ("packets_received", Json::count(summary.received)),
        ("fsync_threshold_exceed_count", Json::Int(0)),
        ("client_response_stats", no_samples()),
        ("data_dir_size", Json::count(data_size)),
        ("log_dir_size", Json::count(log_size)),
        ("provider_null", Json::Bool(false)),
        ("server_state", Json::str(summary.mode)),
        ("last_processed_zxid", Json::Int(summary.zxid)),
        ("outstanding_requests", Json::Int(summary.outstanding)),
        ("avg_latency", Json::Float(summary.avg_latency_ms)),
        ("max_latency", Json::count(summary.max_latency_ms)),
        ("min_latency", Json::count(summary.min_latency_ms)),
        (
            "num_alive_client_connections",
            Json::count(summary.connections),
        ),
        (
            "uptime",
            Json::count(shared.stats.started.elapsed().as_millis()),
        ),
        (
            "auth_failed_count",
            Json::count(shared.stats.auth_failed.load(Ordering::Relaxed)),
        ),
        ("non_mtlsremote_conn_count", Json::Int(0)),
        ("non_mtlslocal_conn_count", Json::Int(0)),
    ]);
    let mut fields = data([
        ("version", Json::str(full_version())),
        ("read_only", Json::Bool(fourlw::is_read_only(shared))),
        ("server_stats", stats),
        ("client_response", no_samples()),
    ]);
    if shared.role.get() == Role::Leader {
        fields.push(("proposal_stats".to_owned(), no_samples()));
    }
    fields.push(("node_count".to_owned(), Json::count(summary.node_count)));
    fields
}

fn stats(ctx: &Context) -> Data {
    let mut fields = server_stats(ctx);
    fields.extend(data([
        ("connections", connection_list(ctx, true)),
        ("secure_connections", Json::Array(Vec::new())),
    ]));
    fields
}

fn stat_reset(ctx: &Context) -> Data {
    ctx.shared.stats.reset();
    Data::new()
}

/// Observers synced to this leader; zk has no per-observer handler details to list.
fn observers(ctx: &Context) -> Data {
    let synced = ctx
        .member
        .and_then(|m| m.follower_counts(ctx.shared.opts.tick_time))
        .map_or(0, |counts| counts.synced_observers);
    data([
        ("synced_observers", Json::count(synced)),
        ("observers", Json::Array(Vec::new())),
    ])
}

/// The properties a JVM would hold that mean something here (`os.*`, `user.*`), then the
/// `zookeeper.*` ones from zoo.cfg and every `-D` property, sorted by name as Apache sorts.
fn system_properties(ctx: &Context) -> Data {
    let mut props: BTreeMap<String, String> = fourlw::environment()
        .into_iter()
        .filter(|(k, _)| k.starts_with("os.") || k.starts_with("user."))
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    for (k, v) in &ctx.shared.opts.system_properties {
        props.insert(k.clone(), v.clone());
    }
    props.into_iter().map(|(k, v)| (k, Json::Str(v))).collect()
}

/// `host:port` with an IPv6 host in brackets (`QuorumServer.delimitedHostString`).
fn host_port(host: &str, port: u16) -> String {
    format!("{}:{port}", bracketed(host))
}

/// This server's client address as Apache's peers report it.
fn client_address(ctx: &Context) -> String {
    let addr = ctx.shared.local_addr;
    host_port(&addr.ip().to_string(), addr.port())
}

fn voting_view(ctx: &Context) -> Data {
    let Some(ensemble) = &ctx.shared.opts.ensemble else {
        return data([("current_config", Json::Object(Vec::new()))]);
    };
    let view = ensemble.voters().map(|(id, peer)| {
        // zk keeps no client address for the other members (Apache shows one only when a
        // server.N line carries `;port`), so only this server's own is known.
        let client = if id == ensemble.my_id {
            client_address(ctx)
        } else {
            String::new()
        };
        let server = Json::object([
            (
                "server_addresses",
                Json::Array(vec![Json::Str(host_port(&peer.host, peer.quorum_port))]),
            ),
            (
                "election_addresses",
                Json::Array(vec![Json::Str(host_port(&peer.host, peer.election_port))]),
            ),
            ("client_address", Json::Str(client)),
            ("learner_type", Json::str("participant")),
        ]);
        (id.to_string(), server)
    });
    data([("current_config", Json::object(view))])
}

fn watches(ctx: &Context) -> Data {
    let by_session = fourlw::watches_by_session(ctx.shared);
    data([(
        "session_id_to_watched_paths",
        Json::object(
            by_session
                .into_iter()
                .map(|(sid, paths)| (sid.to_string(), strings(paths))),
        ),
    )])
}

fn watches_by_path(ctx: &Context) -> Data {
    let by_path = fourlw::watches_by_path(ctx.shared);
    data([(
        "path_to_session_ids",
        Json::object(
            by_path
                .into_iter()
                .map(|(path, sids)| (path, Json::Array(sids.into_iter().map(Json::Int).collect()))),
        ),
    )])
}

fn watch_summary(ctx: &Context) -> Data {
    let (conns, paths, total) = ctx.shared.watches().summary();
    data([
        ("num_connections", Json::count(conns)),
        ("num_paths", Json::count(paths)),
        ("num_total_watches", Json::count(total)),
    ])
}

/// A `MultipleAddresses` of one `host:port` as Jackson serialises its getters.
fn multiple_addresses(host: &str, port: u16) -> Json {
    let one = || Json::Str(host_port(host, port));
    Json::object([
        ("empty", Json::Bool(false)),
        ("all_addresses", Json::Array(vec![one()])),
        ("all_reachable_addresses", Json::Array(vec![one()])),
        ("one", one()),
        ("reachable_address", one()),
        (
            "wildcard_addresses",
            Json::Array(vec![Json::Str(format!("0.0.0.0:{port}"))]),
        ),
        ("all_ports", Json::Array(vec![Json::Int(port.into())])),
        ("all_host_strings", Json::Array(vec![Json::str(host)])),
        ("all_reachable_addresses_or_all", Json::Array(vec![one()])),
        ("reachable_or_one", one()),
    ])
}

/// Zab's phase, mapped from this member's role: a member that follows or leads a quorum is
/// broadcasting; one that knows no leader (read-only mode included) is electing.
fn zab_phase(role: Role) -> &'static str {
    match role {
        Role::Leader | Role::Follower | Role::Observer => "broadcast",
        Role::Looking | Role::ReadOnly | Role::Standalone => "election",
    }
}

fn zabstate(ctx: &Context) -> Data {
    let me = ctx.shared.opts.ensemble.as_ref().and_then(|e| e.me());
    let (Some(ensemble), Some(me)) = (&ctx.shared.opts.ensemble, me) else {
        return data([("voting", Json::Bool(false)), ("zabstate", Json::str(""))]);
    };
    let role = ctx.shared.role.get();
    let zxid = ctx.shared.last_zxid();
    data([
        ("myid", Json::count(ensemble.my_id)),
        ("is_leader", Json::Bool(role == Role::Leader)),
        (
            "quorum_address",
            multiple_addresses(&me.host, me.quorum_port),
        ),
        (
            "election_address",
            multiple_addresses(&me.host, me.election_port),
        ),
        ("client_address", Json::Str(client_address(ctx))),
        ("voting", Json::Bool(!me.observer)),
        ("last_zxid", Json::str(format!("0x{zxid:x}"))),
        ("zab_epoch", Json::Int(zxid >> 32)),
        ("zab_counter", Json::Int(zxid & 0xffff_ffff)),
        ("zabstate", Json::str(zab_phase(role))),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_unique_and_aliases_lead_to_their_command() {
        let mut seen = std::collections::BTreeSet::new();
        for c in COMMANDS {
            for name in c.names {
                assert!(seen.insert(*name), "{name} registered twice");
                assert_eq!(
                    find(name).map(Command::primary_name),
                    Some(c.primary_name())
                );
            }
        }
        assert_eq!(COMMANDS.len(), 26, "Apache 3.8 registers 26 commands");
        assert_eq!(
            find("srvr").map(Command::primary_name),
            Some("server_stats")
        );
        assert_eq!(
            find("config").map(Command::primary_name),
            Some("configuration")
        );
        assert!(find("SRVR").is_none(), "names are case-sensitive");
        assert!(
            find("snapshot").is_none(),
            "3.9's snapshot/restore are not 3.8's"
        );
    }

    #[test]
    fn responses_end_with_command_and_error_unless_the_data_has_them() {
        let ok = response("ruok", None, Data::new());
        assert_eq!(
            ok,
            Json::object([("command", Json::str("ruok")), ("error", Json::Null)])
        );
        let own_error = response("leader", None, failed("server is not initialized"));
        assert_eq!(
            own_error,
            Json::object([
                ("error", Json::str("server is not initialized")),
                ("command", Json::str("leader")),
            ])
        );
        let with_data = response("dirs", None, data([("datadir_size", Json::Int(1))]));
        let Json::Object(fields) = with_data else {
            panic!("not an object")
        };
        let keys: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["datadir_size", "command", "error"]);
    }

    #[test]
    fn zab_phases_follow_the_role() {
        assert_eq!(zab_phase(Role::Leader), "broadcast");
        assert_eq!(zab_phase(Role::Observer), "broadcast");
        assert_eq!(zab_phase(Role::Looking), "election");
        assert_eq!(zab_phase(Role::ReadOnly), "election");
    }

    #[test]
    fn multiple_addresses_bracket_ipv6_hosts() {
        let Json::Object(fields) = multiple_addresses("::1", 2888) else {
            panic!("not an object")
        };
        let one = fields.iter().find(|(k, _)| k == "one").map(|(_, v)| v);
        assert_eq!(one, Some(&Json::str("[::1]:2888")));
    }
}
