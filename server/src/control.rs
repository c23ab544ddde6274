//! zkServer.sh's commands: start as a daemon, stop, status, and zkCleanup's purge.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use zk_core::server::config::ServerConfig;
use zk_core::server::persist;
use zk_core::server::ServerOptions;

const PID_FILE: &str = "zookeeper_server.pid";
const WAIT: Duration = Duration::from_secs(30);

/// zkServer.sh keeps the pid file in dataDir.
pub fn pid_file(cfg: &ServerConfig) -> PathBuf {
    cfg.data_dir.join(PID_FILE)
}

pub fn write_pid_file(path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, format!("{}\n", std::process::id()))
}

pub fn remove_pid_file(path: &Path) {
    let _ = std::fs::remove_file(path);
}

fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| s.contains(") Z "))
            .unwrap_or(true)
}

/// Starts `zk-server start-foreground CONFIG` in the background, logging to
/// `$ZOO_LOG_DIR/zookeeper.out` (default: dataDir), and waits until it serves.
pub fn start(config: Option<PathBuf>) -> Result<ExitCode, String> {
    let cfg = super::load(config.clone())?;
    match &config {
        Some(p) => println!("Using config: {}", p.display()),
        None => println!("Using config: embedded default"),
    }
    let pid_path = pid_file(&cfg);
    if let Some(pid) = read_pid(&pid_path).filter(|&p| alive(p)) {
        println!("already running as process {pid}.");
        return Ok(ExitCode::FAILURE);
    }
    let log_dir =
        std::env::var_os("ZOO_LOG_DIR").map_or_else(|| cfg.data_dir.clone(), PathBuf::from);
    std::fs::create_dir_all(&log_dir).map_err(|e| format!("{}: {e}", log_dir.display()))?;
    let log_path = log_dir.join("zookeeper.out");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| format!("{}: {e}", log_path.display()))?;
    let log_err = log.try_clone().map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut command = Command::new(exe);
    command.arg("start-foreground");
    if let Some(p) = &config {
        command.arg(p);
    }
    use std::os::unix::process::CommandExt;
    command
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .process_group(0);
    print!("Starting zookeeper ... ");
    let _ = std::io::stdout().flush();
    let mut child = command.spawn().map_err(|e| format!("cannot start: {e}"))?;
    std::fs::create_dir_all(&cfg.data_dir).map_err(|e| e.to_string())?;
    std::fs::write(&pid_path, format!("{}\n", child.id()))
        .map_err(|e| format!("{}: {e}", pid_path.display()))?;
    let addr = client_addr(&cfg)?;
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            println!(
                "FAILED TO START (exit {status}); see {}",
                log_path.display()
            );
            return Ok(ExitCode::FAILURE);
        }
        if four_letter_word(addr, "srvr").is_ok() {
            println!("STARTED");
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    println!(
        "FAILED TO START (not serving after {}s); see {}",
        WAIT.as_secs(),
        log_path.display()
    );
    Ok(ExitCode::FAILURE)
}

/// Sends SIGTERM to the pid in the pid file and waits for the process to exit.
pub fn stop(cfg: &ServerConfig) -> Result<ExitCode, String> {
    let pid_path = pid_file(cfg);
    print!("Stopping zookeeper ... ");
    let Some(pid) = read_pid(&pid_path) else {
        println!(
            "no zookeeper to stop (could not find file {})",
            pid_path.display()
        );
        return Ok(ExitCode::SUCCESS);
    };
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
    if !matches!(status, Ok(s) if s.success()) {
        remove_pid_file(&pid_path);
        println!("no process {pid}; removed stale pid file");
        return Ok(ExitCode::SUCCESS);
    }
    let deadline = Instant::now() + WAIT;
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    if alive(pid) {
        println!("process {pid} did not stop within {}s", WAIT.as_secs());
        return Ok(ExitCode::FAILURE);
    }
    remove_pid_file(&pid_path);
    println!("STOPPED");
    Ok(ExitCode::SUCCESS)
}

/// Asks the server for `srvr` and prints its mode, as zkServer.sh status does.
pub fn status(cfg: &ServerConfig) -> Result<ExitCode, String> {
    let addr = client_addr(cfg)?;
    println!(
        "Client port found: {}. Client address: {}. Client SSL: false.",
        addr.port(),
        addr.ip()
    );
    match four_letter_word(addr, "srvr") {
        Ok(text) => match text.lines().find(|l| l.starts_with("Mode: ")) {
            Some(mode) => {
                println!("{mode}");
                Ok(ExitCode::SUCCESS)
            }
            None => {
                println!(
                    "Error contacting service. It is probably not running. ({})",
                    text.trim()
                );
                Ok(ExitCode::FAILURE)
            }
        },
        Err(e) => {
            println!("Error contacting service. It is probably not running. ({e})");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// zkCleanup.sh: keeps the newest `count` snapshots and the logs they need.
pub fn cleanup(cfg: &ServerConfig, count: usize) -> Result<ExitCode, String> {
    let opts = ServerOptions::from_config(cfg).map_err(|e| e.to_string())?;
    let removed =
        persist::purge(&opts.snap_dir(), &opts.log_dir(), count).map_err(|e| e.to_string())?;
    for path in &removed {
        println!("Removing file: {}", path.display());
    }
    println!("Removed {} file(s)", removed.len());
    Ok(ExitCode::SUCCESS)
}

fn client_addr(cfg: &ServerConfig) -> Result<SocketAddr, String> {
    let myid = cfg.read_myid().map_err(|e| e.to_string())?;
    let client = cfg.client_address(myid).ok_or("no clientPort configured")?;
    let host = if client.host == "0.0.0.0" {
        "127.0.0.1".to_owned()
    } else {
        client.host
    };
    (host.as_str(), client.port)
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .next()
        .ok_or_else(|| format!("cannot resolve {host}"))
}

fn four_letter_word(addr: SocketAddr, word: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(word.as_bytes())?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    Ok(text)
}
