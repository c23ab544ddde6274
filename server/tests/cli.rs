//! The zk-server binary as operators drive it: zkServer.sh's commands over a zoo.cfg.

mod common;
use common::{four_letter_word, free_port, ServerProcess};

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn zk_server(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zk-server"))
        .args(args)
        .env_remove("SERVER_JVMFLAGS")
        .env_remove("JVMFLAGS")
        .output()
        .expect("zk-server runs")
}

fn write_config(dir: &Path, port: u16, extra: &str) -> std::path::PathBuf {
    let cfg = dir.join("zoo.cfg");
    let text = format!(
        "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\nadmin.enableServer=false\nsnapCount=2\n{extra}",
        dir.join("data").display()
    );
    std::fs::write(&cfg, text).unwrap();
    cfg
}

/// A server `zk-server start` put in the background: stopped when the test ends, passed or not.
struct Daemon<'a> {
    config: &'a str,
}

impl Drop for Daemon<'_> {
    fn drop(&mut self) {
        let _ = zk_server(&["stop", self.config]);
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn start_status_stop_like_zkserver_sh() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = write_config(dir.path(), port, "");
    let cfg = cfg.to_str().unwrap();
    let started = zk_server(&["start", cfg]);
    let _stop_at_the_end = Daemon { config: cfg };
    assert!(started.status.success(), "{}", text(&started));
    assert!(text(&started).contains("STARTED"));
    assert!(dir.path().join("data/zookeeper_server.pid").exists());
    assert_eq!(four_letter_word(port, "ruok").as_deref(), Some("imok"));
    let status = zk_server(&["status", cfg]);
    assert!(status.status.success(), "{}", text(&status));
    assert!(text(&status).contains("Mode: standalone"));
    let again = zk_server(&["start", cfg]);
    assert!(
        !again.status.success(),
        "a second start must refuse: {}",
        text(&again)
    );
    let stopped = zk_server(&["stop", cfg]);
    assert!(stopped.status.success(), "{}", text(&stopped));
    assert!(text(&stopped).contains("STOPPED"));
    assert!(!dir.path().join("data/zookeeper_server.pid").exists());
    let status = zk_server(&["status", cfg]);
    assert!(!status.status.success());
}

#[test]
fn a_bad_config_line_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), free_port(), "maxClientCnxns=lots\n");
    let out = zk_server(&["start-foreground", cfg.to_str().unwrap()]);
    assert!(!out.status.success());
    let message = text(&out);
    assert!(
        message.contains("zoo.cfg:8") && message.contains("maxClientCnxns"),
        "{message}"
    );
}

#[test]
fn cleanup_keeps_the_newest_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = write_config(dir.path(), port, "");
    let mut server = ServerProcess::start_foreground(&cfg, &dir.path().join("server.log"), "");
    let cfg = cfg.to_str().unwrap();
    server.wait_ready(port, Duration::from_secs(60));
    // Each session creation and close is a txn; snapCount=2 snapshots every one or two, most
    // of them deltas (`snapshot.<zxid>.delta`), a full snapshot when they add up to half of it.
    let version_2 = dir.path().join("data/version-2");
    let deadline = Instant::now() + Duration::from_secs(60);
    let snapshots = || zk_core::server::persist::snapshot::list(&version_2).unwrap();
    let zxids = |files: Vec<(u64, std::path::PathBuf)>| -> Vec<u64> {
        files.into_iter().map(|(zxid, _)| zxid).collect()
    };
    while snapshots().full.len() < 4 {
        assert!(
            Instant::now() < deadline,
            "fewer than 4 full snapshots were written:\n{}",
            server.log_tail()
        );
        if let Err(e) = open_and_close_session(port) {
            panic!("a session failed ({e}):\n{}", server.log_tail());
        }
    }
    // A graceful stop waits for a snapshot still being written, so the directory is still.
    assert!(
        server.terminate(Duration::from_secs(60)),
        "zk-server did not stop cleanly:\n{}",
        server.log_tail()
    );
    let written = zxids(snapshots().full);
    let out = zk_server(&["cleanup", cfg, "-n", "3"]);
    assert!(out.status.success(), "{}", text(&out));
    let kept = zxids(snapshots().full);
    assert_eq!(kept, written[written.len() - 3..]);
    assert!(
        zxids(snapshots().deltas)
            .iter()
            .all(|delta| *delta > kept[0]),
        "deltas before the oldest kept snapshot are purged with it"
    );
}

/// Opens and closes one session with a raw handshake.
fn open_and_close_session(port: u16) -> std::io::Result<()> {
    let mut stream = common::try_raw_session(("127.0.0.1", port), 30000)?;
    // closeSession: xid 1, op -11
    let mut close = vec![0, 0, 0, 8];
    close.extend_from_slice(&1i32.to_be_bytes());
    close.extend_from_slice(&(-11i32).to_be_bytes());
    stream.write_all(&close)?;
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    Ok(())
}

/// Runs a server until it serves, stops it, and returns the (level, message) of every line
/// it logged, each of which must be a JSON object.
fn json_log_records(env: &[(&str, &str)]) -> Vec<(String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = write_config(dir.path(), port, "");
    let log = dir.path().join("server.log");
    let mut env = env.to_vec();
    env.push(("ZK_LOG_FORMAT", "json"));
    let mut server = ServerProcess::start_foreground_with_env(&cfg, &log, "", &env);
    server.wait_ready(port, Duration::from_secs(60));
    assert!(server.terminate(Duration::from_secs(30)));
    let text = std::fs::read_to_string(&log).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let record: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
            let field = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
            (field(&record["level"]), field(&record["fields"]["message"]))
        })
        .collect()
}

#[test]
fn the_log_is_json_lines_on_request_at_the_level_apaches_variable_names() {
    let records = json_log_records(&[]);
    assert!(
        records
            .iter()
            .any(|(level, m)| level == "INFO" && m.starts_with("Using config")),
        "{records:?}"
    );
    if std::env::var_os("ZK_LOG").is_none() {
        let records = json_log_records(&[("ZOO_LOG4J_PROP", "WARN,CONSOLE")]);
        assert!(
            records
                .iter()
                .all(|(level, _)| level == "WARN" || level == "ERROR"),
            "{records:?}"
        );
    }
}
