//! What the example tests share: a real zk-server process on a free port, child
//! processes whose output lines are collected, and waits with deadlines. Every process
//! started here is killed when its guard is dropped, also when a test panics.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const DEADLINE: Duration = Duration::from_secs(60);

/// `target/<profile>/zk-server` next to the test binary (`cargo test --workspace` builds
/// it), or `$ZK_SERVER_BIN`.
pub fn zk_server_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("ZK_SERVER_BIN") {
        return bin.into();
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/<profile>/deps/<test> -> target/<profile>/zk-server
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("zk-server"))
        .expect("a target directory");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p zk-server` first (or set ZK_SERVER_BIN)",
        bin.display()
    );
    bin
}

/// A zk-server (standalone, short ticks so sessions can be short) on a free loopback port.
pub struct ZkServer {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl ZkServer {
    pub fn start() -> ZkServer {
        let dir = tempfile::tempdir().unwrap();
        for _ in 0..20 {
            let port = free_port();
            let cfg = dir.path().join("zoo.cfg");
            std::fs::write(
                &cfg,
                format!(
                    "tickTime=250\nminSessionTimeout=500\nmaxSessionTimeout=60000\n\
                     dataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
                     admin.enableServer=false\nmaxClientCnxns=0\n",
                    dir.path().join("data").display()
                ),
            )
            .unwrap();
            let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
            let mut child = Command::new(zk_server_bin())
                .arg("start-foreground")
                .arg(&cfg)
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("zk-server starts");
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return ZkServer {
                        child,
                        port,
                        _dir: dir,
                    };
                }
                if child.try_wait().unwrap().is_some() {
                    break; // the port was taken meanwhile: try another
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("zk-server did not start; log in {}", dir.path().display());
    }

    pub fn hosts(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for ZkServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port nobody listens on now.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A child process whose stdout and stderr lines are collected; killed when dropped.
pub struct Proc {
    pub name: String,
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    pub fn spawn(name: &str, command: &mut Command) -> Proc {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let out = child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>);
        let err = child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>);
        for stream in [out, err].into_iter().flatten() {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(line);
                }
            });
        }
        Proc {
            name: name.to_owned(),
            child,
            lines,
        }
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    pub fn has_line(&self, line: &str) -> bool {
        self.lines().iter().any(|l| l == line)
    }

    /// Waits until the output has `line`.
    pub fn wait_for(&self, line: &str) {
        let lines = self.lines.clone();
        let deadline = Instant::now() + DEADLINE;
        while !lines.lock().unwrap().iter().any(|l| l == line) {
            assert!(
                Instant::now() < deadline,
                "{}: no line {line:?}; output:\n{}",
                self.name,
                self.lines().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the process to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader threads take the last lines.
                std::thread::sleep(Duration::from_millis(50));
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit; output:\n{}",
                self.name,
                self.lines().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `signal` (e.g. libc's SIGTERM, 15) to the process.
    pub fn signal(&self, signal: i32) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// SIGKILL, then reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs a command to its end, returning its status and output lines.
pub fn run(name: &str, command: &mut Command) -> (ExitStatus, Vec<String>) {
    let mut proc = Proc::spawn(name, command);
    let status = proc.wait_exit();
    (status, proc.lines())
}

/// Polls `done` until it holds; panics with `what` after the deadline.
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
