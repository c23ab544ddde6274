//! zk-ha-controller: a Hadoop-style failover controller (HDFS's ZKFC) in Rust. It
//! health-checks a local service, keeps it in the election while it is healthy, and
//! fences the previous active before its service takes over. The elector
//! (`zk_core::recipes::elector`) does the ZooKeeper work; examples/ha/README.md has the
//! flags (the same in every language), the output lines and the exit codes.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::process::Command;
use tokio::signal::unix::{signal, SignalKind};
use zk_core::recipes::elector::{
    parent_znode, ActiveNodeInfo, ActiveStandbyElector, ElectorConfig, ElectorEvent,
};

// Hadoop's exit codes (ZKFailoverController); any other failure is 1.
const FAILED: u8 = 1;
const FORMAT_DENIED: u8 = 2;
const NO_PARENT_ZNODE: u8 = 3;
const NO_FENCER: u8 = 4;
const NO_ZK: u8 = 6;

const SWITCHES: &str = "--format --force --non-interactive";
const OPTIONS: &str = "--zk --root --nameservice --id --host --port --zkfc-port \
    --session-timeout-ms --check-cmd --check-port --check-interval-ms --check-timeout-ms \
    --fence --on-active --on-standby";

/// Hadoop's HealthMonitor states.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Health {
    Initializing,
    Healthy,
    Unhealthy,
    NotResponding,
}

/// Why the controller stops: a message and an exit code.
type Stop = (String, u8);

/// The command line: each flag's values, in order.
struct Flags(HashMap<String, Vec<String>>);

impl Flags {
    fn parse() -> Result<Flags, Stop> {
        let mut flags: HashMap<String, Vec<String>> = HashMap::new();
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            let value = match flag.as_str() {
                f if SWITCHES.split(' ').any(|s| s == f) => String::new(),
                f if OPTIONS.split_whitespace().any(|o| o == f) => args.next().unwrap_or_default(),
                _ => return Err((format!("unknown argument {flag}"), FAILED)),
            };
            flags.entry(flag).or_default().push(value);
        }
        let flags = Flags(flags);
        let checks = flags.all("--check-cmd").len() + flags.all("--check-port").len();
        let usable = flags.on("--format") || (flags.on("--id") && checks == 1);
        if !flags.on("--zk") || !flags.on("--nameservice") || !usable {
            let usage = "--zk, --nameservice, --id and one of --check-cmd, --check-port";
            return Err((format!("needs {usage} (examples/ha/README.md)"), FAILED));
        }
        Ok(flags)
    }
    fn all(&self, flag: &str) -> &[String] {
        self.0.get(flag).map_or(&[], Vec::as_slice)
    }
    /// The last value given, or `default`.
    fn get<'a>(&'a self, flag: &str, default: &'a str) -> &'a str {
        self.all(flag).last().map_or(default, String::as_str)
    }
    fn on(&self, flag: &str) -> bool {
        self.0.contains_key(flag)
    }
    fn number<T: std::str::FromStr>(&self, flag: &str, default: T) -> Result<T, Stop> {
        let Some(value) = self.all(flag).last() else {
            return Ok(default);
        };
        let number = value.rsplit(':').next().unwrap_or(value); // --check-port HOST:PORT
        number
            .parse()
            .map_err(|_| (format!("{flag} {value}: not a number"), FAILED))
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let (message, code) = match Flags::parse() {
        Ok(flags) => controller(Arc::new(flags))
            .await
            .unwrap_or_else(|stop| stop),
        Err(stop) => stop,
    };
    say(&format!(
        "{} {message}",
        if code == 0 { "exit" } else { "fatal" }
    ));
    ExitCode::from(code)
}

async fn controller(flags: Arc<Flags>) -> Result<Stop, Stop> {
    let _ = ID.set(flags.get("--id", "zkfc").to_owned());
    let ms = |flag, default| Ok::<_, Stop>(Duration::from_millis(flags.number(flag, default)?));
    let (interval, timeout) = (
        ms("--check-interval-ms", 1000)?,
        ms("--check-timeout-ms", 45_000)?,
    );
    let parent = parent_znode(
        flags.get("--root", "/hadoop-ha"),
        flags.get("--nameservice", ""),
    );
    let config = ElectorConfig::new(flags.get("--zk", ""), &parent)
        .session_timeout(ms("--session-timeout-ms", 10_000)?);
    let (elector, mut events) = ActiveStandbyElector::new(config)
        .map_err(|e| (format!("bad configuration: {e}"), FAILED))?;
    let exists = elector.parent_exists().await;
    let exists = exists.map_err(|e| (format!("cannot reach ZooKeeper: {e}"), NO_ZK))?;
    if flags.on("--format") {
        return format(&elector, exists, &flags).await;
    } else if !exists {
        return Err((
            format!("{parent} does not exist: run --format"),
            NO_PARENT_ZNODE,
        ));
    } else if flags.all("--fence").is_empty() {
        return Err(("no fencing method (--fence)".into(), NO_FENCER));
    }
    let me = ActiveNodeInfo {
        nameservice_id: flags.get("--nameservice", "").to_owned(),
        namenode_id: flags.get("--id", "").to_owned(),
        hostname: flags.get("--host", &local_host()).to_owned(),
        port: flags.number("--port", flags.number("--check-port", 0)?)?,
        zkfc_port: flags.number("--zkfc-port", 0)?,
    };
    // Elector events run on their own task: a slow health check never delays a failover
    // and a slow fencing never delays health checks, as in ZKFC.
    let (fatal_tx, mut fatal) = tokio::sync::mpsc::unbounded_channel();
    let on_events = flags.clone();
    tokio::spawn(async move {
        while let Some(event) = events.next().await {
            match event {
                ElectorEvent::FatalError(message) => drop(fatal_tx.send(message)),
                event => handle(event, &on_events).await,
            }
        }
    });
    let signals = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    );
    let (Ok(mut term), Ok(mut int)) = signals else {
        return Err(("cannot handle signals".into(), FAILED));
    };
    let mut tick = tokio::time::interval(interval);
    let mut health = Health::Initializing;
    say(&format!("health {health:?}"));
    let stop = loop {
        tokio::select! {
            Some(message) = fatal.recv() => break Err((message, FAILED)),
            _ = term.recv() => break Ok(("on SIGTERM".into(), 0)),
            _ = int.recv() => break Ok(("on SIGINT".into(), 0)),
            _ = tick.tick() => {
                let now = check(&flags, timeout).await;
                if now != health {
                    health = now;
                    say(&format!("health {health:?}"));
                    let _ = match health { // ZKFC's recheckElectability
                        Health::Healthy => elector.join(&me.encode()),
                        Health::Initializing => elector.quit(false).await,
                        Health::Unhealthy | Health::NotResponding => elector.quit(true).await,
                    };
                }
            }
        }
    };
    // As ZKFC on its way out: the service may still be active, so keep the breadcrumb.
    let _ = elector.quit(true).await;
    let _ = elector.close().await;
    stop
}

/// Runs the service transition or the fencing an event asks for, and answers it.
async fn handle(event: ElectorEvent, flags: &Flags) {
    match event {
        ElectorEvent::BecomeActive(reply) => {
            let ok = run(flags.get("--on-active", "")).await;
            say(if ok { "active" } else { "active failed" });
            reply.send(ok);
        }
        ElectorEvent::BecomeStandby(reply) => {
            say("standby");
            reply.send(run(flags.get("--on-standby", "")).await);
        }
        ElectorEvent::EnterNeutral => say("neutral"),
        ElectorEvent::FenceOldActive { data, reply } => reply.send(fence(&data, flags).await),
        ElectorEvent::FatalError(message) => say(&format!("fatal {message}")),
    }
}

/// Hadoop's NodeFencer with `shell(...)` methods: tried in order until one exits 0 (run
/// by `bash -e -c`), with the old active in ShellCommandFencer's `target_*` variables.
async fn fence(data: &[u8], flags: &Flags) -> bool {
    let Ok(old) = ActiveNodeInfo::decode(data) else {
        say("fence ? failed: the breadcrumb is not an ActiveNodeInfo");
        return false;
    };
    let env = [
        ("target_host", old.hostname.clone()),
        ("target_port", old.port.to_string()),
        ("target_address", format!("{}:{}", old.hostname, old.port)),
        ("target_nameserviceid", old.nameservice_id.clone()),
        ("target_namenodeid", old.namenode_id.clone()),
    ];
    for method in flags.all("--fence") {
        let cmd = method
            .strip_prefix("shell(")
            .and_then(|m| m.strip_suffix(')'));
        if shell(&["bash", "-e", "-c", cmd.unwrap_or(method)], &env, None).await == Some(true) {
            say(&format!("fence {} ok", old.namenode_id));
            return true;
        }
    }
    say(&format!("fence {} failed", old.namenode_id));
    false
}

/// One health check: a command (exit 0 healthy, else unhealthy) or a TCP connect; no
/// answer within `limit` is NOT_RESPONDING.
async fn check(flags: &Flags, limit: Duration) -> Health {
    let port = flags.get("--check-port", "");
    let healthy = if port.is_empty() {
        shell(
            &["sh", "-c", flags.get("--check-cmd", "")],
            &[],
            Some(limit),
        )
        .await
    } else {
        let addr = if port.contains(':') {
            port.to_owned()
        } else {
            format!("127.0.0.1:{port}")
        };
        let connect = tokio::time::timeout(limit, tokio::net::TcpStream::connect(addr));
        connect.await.ok().and_then(|c| c.ok()).map(|_| true)
    };
    match healthy {
        Some(true) => Health::Healthy,
        Some(false) => Health::Unhealthy,
        None => Health::NotResponding,
    }
}

/// Runs a command: `Some(exited 0)`, or `None` if it could not start or outran `limit`.
async fn shell(argv: &[&str], env: &[(&str, String)], limit: Option<Duration>) -> Option<bool> {
    let mut command = Command::new(argv[0]);
    command
        .args(&argv[1..])
        .envs(env.iter().cloned())
        .kill_on_drop(true);
    let mut child = command.spawn().ok()?;
    let limit = limit.unwrap_or(Duration::MAX);
    let status = tokio::time::timeout(limit, child.wait()).await.ok()?.ok()?;
    Some(status.success())
}

async fn run(cmd: &str) -> bool {
    let ok = cmd.is_empty() || shell(&["sh", "-c", cmd], &[], None).await == Some(true);
    if !ok {
        say(&format!("command failed: {cmd}"));
    }
    ok
}

/// `hdfs zkfc -formatZK [-force] [-nonInteractive]`.
async fn format(elector: &ActiveStandbyElector, exists: bool, flags: &Flags) -> Result<Stop, Stop> {
    let parent = elector.parent().to_owned();
    let confirmed = || !flags.on("--non-interactive") && confirm(&parent);
    if exists && !flags.on("--force") && !confirmed() {
        return Err((
            format!("{parent} exists: not formatted (--force)"),
            FORMAT_DENIED,
        ));
    }
    match elector.format(true).await {
        Ok(_) => Ok((format!("formatted {parent}"), 0)),
        Err(e) => Err((format!("cannot format {parent}: {e}"), FAILED)),
    }
}

fn confirm(parent: &str) -> bool {
    eprint!("{parent} exists; stop its controllers first. Proceed formatting? (Y or N) ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).is_ok() && matches!(answer.trim(), "Y" | "y" | "yes")
}

fn local_host() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    Some(name.trim())
        .filter(|n| !n.is_empty())
        .unwrap_or("localhost")
        .to_owned()
}

static ID: OnceLock<String> = OnceLock::new();

/// One line of output, prefixed with the instance id (README: "Output").
fn say(what: &str) {
    let id = ID
        .get()
        .map_or("zkfc", |id| if id.is_empty() { "zkfc" } else { id });
    println!("[{id}] {what}");
}
