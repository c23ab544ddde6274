//! What more than one test binary of zk-server needs.
// Each test binary uses a part of this module.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A zk-server process a test started. Dropping it kills the process, so a test that panics
/// leaves no server behind; its stderr goes to a log file whose tail failures can show.
pub struct ServerProcess {
    child: Option<Child>,
    log: PathBuf,
}

impl ServerProcess {
    /// `zk-server start-foreground CONFIG`, with stderr in `log`.
    pub fn start_foreground(config: &Path, log: &Path, jvm_flags: &str) -> ServerProcess {
        Self::start_foreground_with_env(config, log, jvm_flags, &[])
    }

    /// As [`Self::start_foreground`], with these environment variables set as well.
    pub fn start_foreground_with_env(
        config: &Path,
        log: &Path,
        jvm_flags: &str,
        env: &[(&str, &str)],
    ) -> ServerProcess {
        let log_file = std::fs::File::create(log).expect("create the server log");
        let child = Command::new(env!("CARGO_BIN_EXE_zk-server"))
            .arg("start-foreground")
            .arg(config)
            .env("SERVER_JVMFLAGS", jvm_flags)
            .env_remove("JVMFLAGS")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("zk-server starts");
        ServerProcess {
            child: Some(child),
            log: log.to_path_buf(),
        }
    }

    pub fn id(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// The last lines of the server's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    /// Sends SIGTERM and waits (at most `limit`) for the process to exit; whether it exited 0.
    pub fn terminate(&mut self, limit: Duration) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        // SAFETY: signals our own child process, which has not been waited for yet.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + limit;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return status.success(),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return false;
                }
            }
        }
    }

    /// Waits until the server answers `ruok` on `port`, at most `limit`; panics with its log.
    pub fn wait_ready(&mut self, port: u16, limit: Duration) {
        let deadline = Instant::now() + limit;
        while four_letter_word(port, "ruok").as_deref() != Some("imok") {
            assert!(self.running(), "zk-server exited:\n{}", self.log_tail());
            assert!(
                Instant::now() < deadline,
                "zk-server did not answer ruok:\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Sends a four-letter word and returns the answer; `None` if the server cannot be reached.
pub fn four_letter_word(port: u16, word: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.write_all(word.as_bytes()).ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    Some(text)
}

/// A loopback port that was free a moment ago, for a server to bind soon after; never the same
/// one twice in a test binary. Chosen below the kernel's ephemeral range rather than by binding
/// port 0: a port from that range can be taken, before the server binds it, as the source port
/// of any outgoing connection (tests/common/peers.py picks its ports the same way).
pub fn free_port() -> u16 {
    static HANDED_OUT: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    let mut handed_out = HANDED_OUT.lock().unwrap();
    let ceiling = ephemeral_floor();
    let span = u32::from(ceiling - 10_000);
    // Spread over the range by process and by call, so concurrent test binaries rarely try the
    // same ports.
    let mut next = std::process::id().wrapping_mul(7_919);
    for _ in 0..10_000 {
        next = next.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let port = 10_000 + ((next >> 8) % span) as u16;
        if !handed_out.contains(&port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            handed_out.push(port);
            return port;
        }
    }
    panic!("no free port found in 10000..{ceiling}");
}

/// The first port the kernel hands out for outgoing connections (32768 if unknown).
fn ephemeral_floor() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768u16)
        .max(10_001)
}

/// Opens a session with a raw ConnectRequest (written byte by byte, independent of zk-core's
/// codec) and reads the ConnectResponse; the stream is ready for requests.
pub fn raw_session(address: impl ToSocketAddrs, timeout_ms: i32) -> TcpStream {
    try_raw_session(address, timeout_ms).unwrap()
}

/// [`raw_session`] that reports failure instead of panicking.
pub fn try_raw_session(address: impl ToSocketAddrs, timeout_ms: i32) -> std::io::Result<TcpStream> {
    let mut stream = TcpStream::connect(address)?;
    let mut connect = vec![0, 0, 0, 45];
    connect.extend_from_slice(&[0; 4]); // protocol version
    connect.extend_from_slice(&[0; 8]); // last zxid seen
    connect.extend_from_slice(&timeout_ms.to_be_bytes());
    connect.extend_from_slice(&[0; 8]); // session id
    connect.extend_from_slice(&16i32.to_be_bytes());
    connect.extend_from_slice(&[0; 16]);
    connect.push(0);
    stream.write_all(&connect)?;
    let mut reply = [0u8; 41];
    stream.read_exact(&mut reply)?;
    Ok(stream)
}
