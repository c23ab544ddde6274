//! `zk-server`: a ZooKeeper-compatible server, driven like Apache's zkServer.sh.
//!
//! # Layout
//!
//! - `main.rs`: argument parsing and the foreground server.
//! - `control.rs`: start (as a daemon), stop, restart, status and cleanup, with the pid file
//!   in dataDir as zkServer.sh keeps it.
//! - `logging.rs`: the log's level (ZK_LOG, or Apache's ZOO_LOG4J_PROP and
//!   zookeeper.root.logger) and format (ZK_LOG_FORMAT=json).

mod control;
mod logging;

use std::path::PathBuf;
use std::process::ExitCode;

use zk_core::server::config::{self, ServerConfig};
use zk_core::server::{Server, ServerOptions};

/// mimalloc: connections, the write path and the consensus core allocate on one thread
/// and free on another all the time, which glibc's arenas made a sixth of a replicated
/// write's CPU (measured in docs/benchmarks.md, "Ensemble writes").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "\
Usage: zk-server [--config FILE] {start|start-foreground|stop|restart|status|cleanup -n N|version} [CONFIG]

With no command, runs a standalone server in the foreground on 127.0.0.1:2181 with its
data in ./zk-data (or the config named by --config).
CONFIG defaults to $ZOOCFGDIR/zoo.cfg, then conf/zoo.cfg, then the embedded default.
JVM-style -Dname=value properties are read from SERVER_JVMFLAGS and JVMFLAGS.
The log goes to stderr: ZK_LOG sets its level or filter (else Apache's ZOO_LOG4J_PROP or
-Dzookeeper.root.logger, else info); ZK_LOG_FORMAT=json writes one JSON object per line.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("zk-server: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<ExitCode, String> {
    let mut rest: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut explicit_config: Option<PathBuf> = None;
    if let Some(i) = rest.iter().position(|a| *a == "--config") {
        let path = rest.get(i + 1).ok_or("--config needs a file")?;
        explicit_config = Some(PathBuf::from(path));
        rest.drain(i..=i + 1);
    }
    let command = rest.first().copied().unwrap_or("");
    let positional = |n: usize| rest.get(n).map(PathBuf::from);
    match command {
        "" => foreground(explicit_config),
        "start-foreground" => foreground(
            explicit_config
                .or_else(|| positional(1))
                .or_else(default_config_file),
        ),
        "start" => control::start(config_path(explicit_config, positional(1))),
        "stop" => control::stop(&load(config_path(explicit_config, positional(1)))?),
        "restart" => {
            let path = config_path(explicit_config, positional(1));
            control::stop(&load(path.clone())?)?;
            control::start(path)
        }
        "status" => control::status(&load(config_path(explicit_config, positional(1)))?),
        "cleanup" => {
            let (count, path) = parse_cleanup(&rest[1..])?;
            control::cleanup(&load(config_path(explicit_config, path))?, count)
        }
        "version" | "--version" => {
            println!("zk-server {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        other => Err(format!("unknown command {other:?}\n{USAGE}")),
    }
}

fn parse_cleanup(args: &[&str]) -> Result<(usize, Option<PathBuf>), String> {
    let mut count = None;
    let mut path = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if *arg == "-n" {
            let value = it.next().ok_or("-n needs a count")?;
            count = Some(
                value
                    .parse::<usize>()
                    .map_err(|_| format!("-n: not a count: {value}"))?,
            );
        } else {
            path = Some(PathBuf::from(arg));
        }
    }
    let count = count.ok_or("usage: zk-server cleanup [CONFIG] -n COUNT")?;
    if count < 3 {
        return Err("-n must be at least 3".into());
    }
    Ok((count, path))
}

/// `$ZOOCFGDIR/zoo.cfg`, then `conf/zoo.cfg`, if present.
fn default_config_file() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("ZOOCFGDIR").map(|d| PathBuf::from(d).join("zoo.cfg")),
        Some(PathBuf::from("conf/zoo.cfg")),
    ];
    candidates.into_iter().flatten().find(|p| p.is_file())
}

fn config_path(explicit: Option<PathBuf>, positional: Option<PathBuf>) -> Option<PathBuf> {
    explicit.or(positional).or_else(default_config_file)
}

/// Reads zoo.cfg (or the embedded default) and applies `-D` properties from the
/// environment, as zkServer.sh passes them to the JVM.
pub fn load(path: Option<PathBuf>) -> Result<ServerConfig, String> {
    let mut cfg = match &path {
        Some(p) => ServerConfig::from_file(p).map_err(|e| e.to_string())?,
        None => ServerConfig::embedded_default(),
    };
    cfg.apply_system_properties(config::server_jvm_flags_from_env())
        .map_err(|e| e.to_string())?;
    Ok(cfg)
}

fn foreground(path: Option<PathBuf>) -> Result<ExitCode, String> {
    init_logging();
    match &path {
        Some(p) => tracing::info!("Using config: {}", p.display()),
        None => tracing::info!("Using the embedded default configuration (standalone on 127.0.0.1:2181, dataDir ./zk-data)"),
    }
    let cfg = load(path)?;
    let opts = ServerOptions::from_config(&cfg).map_err(|e| e.to_string())?;
    let pid_file = control::pid_file(&cfg);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("zk-io")
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async move {
        let server = Server::start(opts).await.map_err(|e| e.to_string())?;
        if let Err(e) = control::write_pid_file(&pid_file) {
            tracing::warn!("cannot write {}: {e}", pid_file.display());
        }
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| format!("cannot install the SIGTERM handler: {e}"))?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => tracing::info!("interrupted; shutting down"),
            _ = term.recv() => tracing::info!("terminated; shutting down"),
            () = server.stopped() => {}
        }
        let failure = tokio::task::block_in_place(|| server.shutdown());
        control::remove_pid_file(&pid_file);
        match failure {
            Some(reason) => Err(reason),
            None => Ok(ExitCode::SUCCESS),
        }
    })
}

fn init_logging() {
    logging::LogSettings::from_env().install();
}
