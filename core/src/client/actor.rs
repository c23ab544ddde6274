//! The connection task, the IO driver of a [`SessionMachine`]: it picks hosts, dials and
//! handshakes, reads the socket into the machine, writes what callers left in the machine
//! (see `driver.rs`), and sleeps until the machine's next deadline. The session's rules
//! (what to send, how replies match, pings, timeouts, expiry) live in `session.rs`. It
//! never runs user code.
//!
//! [`SessionMachine`]: super::session::SessionMachine

use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use rand::seq::SliceRandom;
use tokio::io::unix::AsyncFdReadyGuard;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::time::{sleep_until, Instant};

use super::command::fail_command;
use super::connect_string::resolve;
use super::driver::{Driver, Held};
use super::error::Error;
use super::event::SessionState;
use super::session::Ended;
use super::socket::{ReadOutcome, Socket};
use super::tls::Tls;
use crate::proto::{frame, ConnectRequest, ConnectResponse, Decode, Encode, KeeperState};

/// A connection that answered the handshake: its socket, its TLS state if any, what was
/// read after the answer, and the answer.
type Established = (TcpStream, Option<Tls>, BytesMut, ConnectResponse);

pub(crate) struct Actor {
    pub driver: Arc<Driver>,
    /// Speak TLS with this configuration.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// A read-write server the read-only probe found; tried first on the next round.
    pub preferred: Option<(String, u16)>,
}

impl Actor {
    pub async fn run(mut self) {
        loop {
            let ended = match self.connect_round().await {
                Ok(Some((stream, tls, inbound, response))) => match Socket::new(stream) {
                    Ok(socket) => {
                        let socket = Arc::new(socket);
                        let connected = {
                            let mut held = self.driver.lock();
                            let connected =
                                held.machine.connected(&response, Instant::now().into_std());
                            if connected.is_ok() {
                                held.socket = Some(socket.clone());
                                held.tls = tls;
                                held.inbound = inbound;
                            }
                            connected
                        };
                        match connected {
                            Ok(()) => {
                                let ended = self.serve(&socket).await;
                                // A caller still waiting on the socket sees it end.
                                socket.shutdown();
                                let mut held = self.driver.lock();
                                held.forget_connection();
                                if matches!(ended, Ended::Lost) {
                                    held.machine.disconnected();
                                }
                                ended
                            }
                            Err(ended) => ended,
                        }
                    }
                    Err(e) => {
                        tracing::warn!("cannot poll the connection's socket: {e}");
                        Ended::Lost
                    }
                },
                Ok(None) => Ended::Lost,
                Err(ended) => ended,
            };
            let (state, watch_state, error) = match ended {
                Ended::Lost
                    if !self
                        .driver
                        .lock()
                        .machine
                        .expired_locally(Instant::now().into_std()) =>
                {
                    continue
                }
                Ended::Lost | Ended::Expired => (
                    SessionState::Expired,
                    KeeperState::Expired,
                    Error::SessionExpired,
                ),
                Ended::AuthFailed => (
                    SessionState::AuthFailed,
                    KeeperState::AuthFailed,
                    Error::AuthFailed,
                ),
                Ended::Closed(ack) => {
                    self.finish(SessionState::Closed, KeeperState::Closed, Error::Closed);
                    if let Some(ack) = ack {
                        let _ = ack.send(());
                    }
                    return;
                }
            };
            self.finish(state, watch_state, error);
            return;
        }
    }

    fn finish(&mut self, state: SessionState, watch_state: KeeperState, error: Error) {
        let (queued, close) = {
            let mut held = self.driver.lock();
            held.machine.finish(state, watch_state, &error);
            let queued = self.driver.end(&mut held, &error);
            (queued, held.close.take())
        };
        for cmd in queued {
            fail_command(cmd, &error);
        }
        if let Some(close) = close {
            let _ = close.send(());
        }
    }

    /// How the session ends because of its callers, if it does: a close was asked for, or
    /// nobody can use it any more.
    fn callers_end(&self, held: &mut Held<'_>) -> Option<Ended> {
        if let Some(reply) = held.close.take() {
            return Some(Ended::Closed(Some(reply)));
        }
        self.driver.abandoned().then_some(Ended::Closed(None))
    }

    /// Waits for `until` while callers may close or abandon the session.
    async fn wait_for<T>(&self, until: impl std::future::Future<Output = T>) -> Result<T, Ended> {
        tokio::pin!(until);
        loop {
            if let Some(ended) = self.callers_end(&mut self.driver.lock()) {
                return Err(ended);
            }
            tokio::select! {
                result = &mut until => return Ok(result),
                () = self.driver.wake.notified() => {}
            }
        }
    }

    /// Tries every host once (shuffled, resolved afresh), handling commands meanwhile.
    /// `Ok(None)`: no server answered this round.
    async fn connect_round(&mut self) -> Result<Option<Established>, Ended> {
        let (mut hosts, wait, max_buffer) = {
            let held = self.driver.lock();
            let hosts = held.machine.connect.hosts.clone();
            let wait = held.machine.attempt_wait(hosts.len());
            (hosts, wait, held.machine.max_buffer())
        };
        hosts.shuffle(&mut rand::thread_rng());
        if let Some(preferred) = self.preferred.take() {
            hosts.retain(|h| *h != preferred);
            hosts.insert(0, preferred);
        }
        let host_count = hosts.len();
        let mut timed_out = false;
        for (host, port) in hosts {
            for addr in resolve(&host, port) {
                let request = {
                    let held = self.driver.lock();
                    if held.machine.expired_locally(Instant::now().into_std()) {
                        return Err(Ended::Expired);
                    }
                    held.machine.connect_request()
                };
                match self
                    .wait_for(handshake(
                        addr,
                        self.tls.as_ref().map(|config| (config, host.as_str())),
                        request,
                        wait,
                        max_buffer,
                    ))
                    .await?
                {
                    Ok(ok) => return Ok(Some(ok)),
                    Err(e) => {
                        timed_out |= e.kind() == std::io::ErrorKind::TimedOut;
                        tracing::debug!(%addr, "connect failed: {e}");
                    }
                }
            }
        }
        self.driver
            .lock()
            .machine
            .round_failed(host_count, timed_out);
        // Back off a little before the next round, still answering callers.
        let wake = Instant::now() + Duration::from_millis(rand::random::<u64>() % 500 + 50);
        self.wait_for(sleep_until(wake)).await?;
        Ok(None)
    }

    /// Moves bytes and time between the socket and the machine until the connection ends.
    async fn serve(&mut self, socket: &Socket) -> Ended {
        let _ = socket.set_nodelay(true);
        // Connected read-only with other hosts to try: look for a read-write server.
        // (The probe asks `isro` in plaintext, which a TLS port does not answer.)
        let peer = socket.peer_addr().ok();
        let mut probe = {
            let held = self.driver.lock();
            (held.machine.state() == SessionState::ConnectedReadOnly
                && held.machine.connect.hosts.len() > 1
                && self.tls.is_none())
            .then(|| tokio::spawn(probe_read_write(held.machine.connect.hosts.clone(), peer)))
        };
        loop {
            // One lock per round: the callers' close, buffered replies, time, writes.
            let waiting = {
                let mut held = self.driver.lock();
                if let Some(ended) = held.caller_ended.take() {
                    return ended;
                }
                match self.callers_end(&mut held) {
                    Some(Ended::Closed(Some(reply))) => Err(reply),
                    Some(ended) => return held.machine.lose(ended),
                    None => {
                        let now = Instant::now().into_std();
                        // Replies already buffered are handled before waiting again.
                        let held = &mut *held;
                        if let Err(ended) = held.machine.received(&mut held.inbound, now) {
                            return ended;
                        }
                        if held.machine.deadline().is_some_and(|due| due <= now) {
                            if !held.reclaim_reads() {
                                return held.machine.lose(Ended::Lost);
                            }
                            if let Err(ended) = held.machine.tick(now) {
                                return ended;
                            }
                        }
                        if held.flush().is_err() {
                            return held.lose_on_write_error(now);
                        }
                        let Some(deadline) = held.machine.deadline() else {
                            return Ended::Lost;
                        };
                        Ok((deadline, held.unwritten()))
                    }
                }
            };
            let (deadline, writing) = match waiting {
                Ok(waiting) => waiting,
                Err(reply) => return self.close_session(socket, reply).await,
            };
            tokio::select! {
                ready = socket.readable() => {
                    if !ready.is_ok_and(|mut ready| self.read_ready(&mut ready)) {
                        return self.driver.lock().machine.lose(Ended::Lost);
                    }
                }
                ready = socket.writable(), if writing => {
                    let Ok(mut ready) = ready else {
                        return self.driver.lock().machine.lose(Ended::Lost);
                    };
                    if self.flush_or_wait() {
                        ready.clear_ready();
                    }
                }
                () = self.driver.wake.notified() => {}
                () = sleep_until(Instant::from_std(deadline)) => {}
                found = async {
                    match probe.as_mut() {
                        Some(task) => task.await,
                        None => std::future::pending().await,
                    }
                }, if probe.is_some() => {
                    probe = None;
                    if let Ok(Some(host)) = found {
                        tracing::info!(host = %host.0, port = host.1, "found a read-write server; moving there");
                        self.preferred = Some(host);
                        return self.driver.lock().machine.lose(Ended::Lost);
                    }
                }
            }
        }
    }

    /// Reads what the socket has into the machine's inbound bytes, and forgets the
    /// readiness once the socket is drained (so the next wait sleeps until new bytes);
    /// false when the connection is over.
    fn read_ready(&self, ready: &mut AsyncFdReadyGuard<'_, OwnedFd>) -> bool {
        let outcome = self.driver.lock().read_socket();
        match outcome {
            ReadOutcome::Closed => return false,
            ReadOutcome::Drained => ready.clear_ready(),
            ReadOutcome::More => {}
        }
        true
    }

    /// Writes what is waiting; true when the socket is full again (an error is left for
    /// the next round, which meets it).
    fn flush_or_wait(&self) -> bool {
        let mut held = self.driver.lock();
        held.flush().is_ok() && held.unwritten()
    }

    /// Sends CloseSession after whatever is queued and waits (bounded) for its reply.
    async fn close_session(&mut self, socket: &Socket, ack: oneshot::Sender<()>) -> Ended {
        let (xid, deadline) = {
            let mut held = self.driver.lock();
            held.closing = true;
            // The answer must wake this task, whoever borrowed the reads. (If the socket
            // cannot be watched again, the wait below ends at its deadline.)
            let _ = held.reclaim_reads();
            let deadline = Instant::now() + held.machine.close_wait();
            (held.machine.request_close(), deadline)
        };
        let sent = loop {
            let flushed = {
                let mut held = self.driver.lock();
                held.flush().map(|()| !held.unwritten())
            };
            match flushed {
                Ok(true) => break true,
                Ok(false) => {
                    tokio::select! {
                        ready = socket.writable() => match ready {
                            Ok(mut ready) => if self.flush_or_wait() { ready.clear_ready() },
                            Err(_) => break false,
                        },
                        () = sleep_until(deadline) => break false,
                    }
                }
                Err(_) => break false,
            }
        };
        if sent {
            while !self.close_answered(xid) {
                tokio::select! {
                    ready = socket.readable() => {
                        if !ready.is_ok_and(|mut ready| self.read_ready(&mut ready)) {
                            break;
                        }
                    }
                    () = sleep_until(deadline) => break,
                }
            }
        }
        self.driver.lock().machine.lose(Ended::Closed(Some(ack)))
    }

    fn close_answered(&self, xid: i32) -> bool {
        let mut held = self.driver.lock();
        let held = &mut *held;
        held.machine.close_answered(&mut held.inbound, xid)
    }
}

/// Connects to `addr` (over TLS to `host` when given a configuration) and exchanges
/// ConnectRequest/ConnectResponse within `timeout`.
async fn handshake(
    addr: SocketAddr,
    tls: Option<(&Arc<rustls::ClientConfig>, &str)>,
    request: ConnectRequest,
    timeout: Duration,
    max_buffer: usize,
) -> std::io::Result<Established> {
    let work = async {
        let mut stream = TcpStream::connect(addr).await?;
        let mut tls = match tls {
            Some((config, host)) => Some(Tls::connect(config, host, &mut stream).await?),
            None => None,
        };
        let mut out = Vec::new();
        frame::write(&mut out, |b| request.encode(b));
        match tls.as_mut() {
            Some(tls) => tls.send(&mut stream, &out).await?,
            None => stream.write_all(&out).await?,
        }
        let mut buf = BytesMut::with_capacity(4096);
        loop {
            match frame::check(&buf, max_buffer) {
                Ok(Some(len)) => {
                    buf.advance(4);
                    let payload = buf.split_to(len);
                    let response = ConnectResponse::from_bytes(&payload)
                        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
                    return Ok((stream, tls, buf, response));
                }
                Ok(None) => {}
                Err(e) => return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
            }
            let open = match tls.as_mut() {
                Some(tls) => tls.receive_into(&mut stream, &mut buf).await?,
                None => stream.read_buf(&mut buf).await? > 0,
            };
            if !open {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "server closed the connection during the handshake",
                ));
            }
        }
    };
    tokio::time::timeout(timeout, work)
        .await
        .unwrap_or_else(|_| {
            Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "connect timed out",
            ))
        })
}

/// Asks every other host `isro` (with growing pauses, as Apache's client does) until one
/// answers `rw`.
async fn probe_read_write(
    hosts: Vec<(String, u16)>,
    current: Option<SocketAddr>,
) -> Option<(String, u16)> {
    let mut pause = Duration::from_millis(100);
    loop {
        tokio::time::sleep(pause).await;
        for (host, port) in &hosts {
            for addr in resolve(host, *port) {
                if Some(addr) == current {
                    continue;
                }
                if is_read_write(addr).await {
                    return Some((host.clone(), *port));
                }
            }
        }
        pause = (pause * 2).min(Duration::from_secs(60));
    }
}

async fn is_read_write(addr: SocketAddr) -> bool {
    let ask = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream.write_all(b"isro").await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        Ok::<bool, std::io::Error>(answer.starts_with(b"rw"))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), ask).await,
        Ok(Ok(true))
    )
}
