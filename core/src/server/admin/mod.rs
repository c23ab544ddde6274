//! The AdminServer: Apache ZooKeeper 3.8's HTTP command interface (`JettyAdminServer`),
//! served on the bounded responder of `server::http`.
//!
//! # Endpoints
//!
//! - `GET <admin.commandURL>` (or with a trailing `/`): one `<a href="…">name</a>` link per
//!   command's primary name, each followed by a `<br/>` line, sorted, as Apache lists them.
//! - `GET <admin.commandURL>/<name>`: the command's answer as a JSON object (`commands`):
//!   `200 application/json` always, errors included (`"error": "Unknown command: x"`), as
//!   Apache's servlet answers. Aliases work (`/commands/srvr` = `/commands/server_stats`);
//!   the name is percent-decoded and case-sensitive. `set_trace_mask` takes
//!   `?traceMask=<long>`.
//! - Anything else: 404. HEAD is GET without the body; other methods get 405.
//!
//! Apache 3.8 asks for no credentials on any command (authentication came with 3.9's
//! snapshot/restore), and neither does zk, which is why zk binds `admin.serverAddress`
//! to 127.0.0.1 unless told otherwise (Apache: 0.0.0.0).
//!
//! # Bounds
//!
//! Everything `server::http` bounds (head size, head deadline, connections at once); a
//! flood or garbage closes connections only. An AdminServer port that cannot be bound is
//! logged and the server keeps serving clients without it (as Apache's quorum peers do;
//! its standalone server would exit instead).
//!
//! # Layout
//!
//! - this file: routing and the listener
//! - `commands`: the command table and each command's JSON fields
//! - `json`: the JSON value and its rendering

mod commands;
mod json;

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::net::TcpListener;

use super::http::{self, Reply, Request};
use super::quorum::Ensemble;
use super::shared::Shared;

pub use commands::COMMANDS;

/// The content type of a command's answer.
pub const JSON_CONTENT_TYPE: &str = "application/json";

/// Serves the commands under `command_url` on `listener` until the task is dropped.
pub async fn serve(
    shared: Arc<Shared>,
    member: Option<Arc<Ensemble>>,
    listener: TcpListener,
    command_url: String,
) {
    let base = normalise_base(&command_url);
    http::serve(listener, "admin", move |request| {
        route(&shared, member.as_deref(), &base, request)
    })
    .await;
}

/// `admin.commandURL` as a path prefix: a leading `/`, no trailing one (`/` itself becomes
/// the empty prefix, so every path is a command).
fn normalise_base(command_url: &str) -> String {
    let trimmed = command_url.trim().trim_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("/{trimmed}")
    }
}

/// Answers one request (the method is already GET or HEAD).
pub fn route(shared: &Shared, member: Option<&Ensemble>, base: &str, request: &Request) -> Reply {
    let path = request.path.as_str();
    if path == base || path.strip_prefix(base) == Some("/") {
        return Reply {
            status: 200,
            content_type: "text/html; charset=utf-8",
            body: command_links(base),
        };
    }
    let Some(encoded) = path
        .strip_prefix(base)
        .and_then(|rest| rest.strip_prefix('/'))
    else {
        return Reply::text(404, format!("not found; commands are under {base}/\n"));
    };
    let Some(name) = percent_decode(encoded, false) else {
        return Reply::text(400, "the command name is not valid percent-encoded UTF-8\n");
    };
    let args = query_args(&request.query);
    let ctx = commands::Context {
        shared,
        member,
        args: &args,
    };
    Reply {
        status: 200,
        content_type: JSON_CONTENT_TYPE,
        body: commands::run(&name, &ctx).render(),
    }
}

/// The command list Apache's servlet prints for the bare command URL.
fn command_links(base: &str) -> String {
    let mut names: Vec<&str> = COMMANDS.iter().map(|c| c.primary_name()).collect();
    names.sort_unstable();
    names
        .iter()
        .map(|name| format!("<a href=\"{base}/{name}\">{name}</a>\n<br/>\n"))
        .collect()
}

/// `name=value&…` as a servlet reads request parameters: form-decoded (`+` is a space),
/// the first value of a repeated name wins; undecodable pairs are dropped.
fn query_args(query: &str) -> BTreeMap<String, String> {
    let mut args = BTreeMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if let (Some(name), Some(value)) = (percent_decode(name, true), percent_decode(value, true))
        {
            args.entry(name).or_insert(value);
        }
    }
    args
}

/// `%XX` escapes (and, in a query, `+` for space) decoded; `None` for a broken escape or
/// bytes that are not UTF-8.
fn percent_decode(text: &str, plus_is_space: bool) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use tokio::sync::mpsc;

    use super::*;
    use crate::server::options::ServerOptions;
    use crate::server::sessions::SessionTracker;
    use crate::server::state::State;

    fn server() -> Shared {
        let addr: SocketAddr = "127.0.0.1:2181".parse().unwrap();
        let opts = ServerOptions::standalone(addr, "/nonexistent/zk-admin-test".into());
        let (writes, _queue) = mpsc::unbounded_channel();
        Shared::new(
            opts,
            State::default(),
            SessionTracker::default(),
            addr,
            writes,
            1,
        )
    }

    fn get(shared: &Shared, target: &str) -> Reply {
        let head = format!("GET {target} HTTP/1.1\r\n\r\n");
        let request = http::parse_head(head.as_bytes()).unwrap();
        route(shared, None, "/commands", &request)
    }

    /// The top-level keys of a JSON answer, in order (the renderer's layout puts each on
    /// its own line with two spaces before it).
    fn keys(body: &str) -> Vec<String> {
        body.lines()
            .filter_map(|l| l.strip_prefix("  \""))
            .filter_map(|l| l.split_once("\" : ").map(|(k, _)| k.to_owned()))
            .collect()
    }

    #[test]
    fn commands_and_aliases_answer_json_with_command_and_error() {
        let shared = server();
        for (target, command) in [
            ("/commands/srvr", "server_stats"),
            ("/commands/server_stats", "server_stats"),
            ("/commands/config", "configuration"),
            ("/commands/ruok?x=1", "ruok"),
            ("/commands/%72uok", "ruok"),
        ] {
            let reply = get(&shared, target);
            assert_eq!(reply.status, 200, "{target}");
            assert_eq!(reply.content_type, JSON_CONTENT_TYPE);
            assert!(
                reply.body.contains(&format!(
                    "\"command\" : \"{command}\",\n  \"error\" : null\n}}"
                )),
                "{target}: {}",
                reply.body
            );
        }
        let srvr = get(&shared, "/commands/srvr").body;
        assert_eq!(
            keys(&srvr),
            [
                "version",
                "read_only",
                "server_stats",
                "client_response",
                "node_count",
                "command",
                "error"
            ]
        );
    }

    #[test]
    fn every_command_answers_on_a_standalone_server() {
        let shared = server();
        for command in COMMANDS {
            for name in command.names {
                let body = get(&shared, &format!("/commands/{name}")).body;
                let keys = keys(&body);
                assert!(
                    keys.ends_with(&["command".to_owned(), "error".to_owned()])
                        || keys.ends_with(&["error".to_owned(), "command".to_owned()])
                            && keys.len() == 2,
                    "{name}: {body}"
                );
                assert!(
                    body.contains(&format!("\"command\" : \"{}\"", command.primary_name())),
                    "{name}: {body}"
                );
            }
        }
    }

    #[test]
    fn unknown_names_and_a_stopping_server_answer_apaches_errors() {
        let shared = server();
        let unknown = get(&shared, "/commands/SRVR").body;
        assert_eq!(
            unknown,
            "{\n  \"command\" : \"SRVR\",\n  \"error\" : \"Unknown command: SRVR\"\n}"
        );
        let nested = get(&shared, "/commands/srvr/x").body;
        assert!(nested.contains("Unknown command: srvr/x"), "{nested}");
        let leader = get(&shared, "/commands/lead").body;
        assert_eq!(
            leader,
            "{\n  \"error\" : \"server is not initialized\",\n  \"command\" : \"leader\"\n}"
        );
        shared.stop();
        let stopped = get(&shared, "/commands/srvr").body;
        assert!(
            stopped.contains("\"command\" : \"srvr\",\n  \"error\" : \"This ZooKeeper instance is not currently serving requests\""),
            "{stopped}"
        );
        let monitor = get(&shared, "/commands/mntr").body;
        assert!(
            monitor.contains("\"error\" : null"),
            "mntr needs no serving server: {monitor}"
        );
    }

    #[test]
    fn the_trace_mask_is_the_one_the_four_letter_words_use() {
        let shared = server();
        let missing = get(&shared, "/commands/stmk").body;
        assert!(missing
            .starts_with("{\n  \"error\" : \"setTraceMask requires long traceMask argument\""));
        let bad = get(&shared, "/commands/stmk?traceMask=x").body;
        assert!(bad.contains("argument, got x"), "{bad}");
        let set = get(&shared, "/commands/set_trace_mask?traceMask=5&traceMask=7").body;
        assert!(set.starts_with("{\n  \"tracemask\" : 5,"), "{set}");
        let mask = shared
            .stats
            .trace_mask
            .load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(mask, 5, "the first value of a repeated parameter wins");
        assert!(get(&shared, "/commands/gtmk")
            .body
            .contains("\"tracemask\" : 5,"));
    }

    #[test]
    fn the_bare_url_lists_commands_and_other_paths_are_not_found() {
        let shared = server();
        for target in ["/commands", "/commands/"] {
            let list = get(&shared, target);
            assert_eq!(list.status, 200);
            assert_eq!(list.body.matches("<br/>").count(), COMMANDS.len());
            assert!(list.body.starts_with(
                "<a href=\"/commands/configuration\">configuration</a>\n<br/>\n<a href=\"/commands/connection_stat_reset\">"
            ));
        }
        for target in ["/", "/commandsX", "/metrics"] {
            assert_eq!(get(&shared, target).status, 404, "{target}");
        }
        assert_eq!(get(&shared, "/commands/%zz").status, 400);
        assert_eq!(get(&shared, "/commands/%ff").status, 400);
    }

    #[test]
    fn command_urls_and_queries_are_read_as_a_servlet_reads_them() {
        assert_eq!(normalise_base("/commands"), "/commands");
        assert_eq!(normalise_base("admin/"), "/admin");
        assert_eq!(normalise_base("/"), "");
        let args = query_args("traceMask=%2B5&a=x+y&a=second&flag&=v&bad=%g1");
        assert_eq!(args.get("traceMask").map(String::as_str), Some("+5"));
        assert_eq!(args.get("a").map(String::as_str), Some("x y"));
        assert_eq!(args.get("flag").map(String::as_str), Some(""));
        assert!(!args.contains_key("bad"));
        assert_eq!(percent_decode("a%20b+c", false).as_deref(), Some("a b+c"));
        assert_eq!(percent_decode("%4", false), None);
    }
}
