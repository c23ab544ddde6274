//! The connection task, the IO driver of a [`SessionMachine`]: it picks hosts, dials and
//! handshakes, moves bytes between the socket and the machine, sleeps until the machine's
//! next deadline, and hands it the callers' [`Command`]s. The session's rules (what to send,
//! how replies match, pings, timeouts, expiry) live in `session.rs`. It never runs user code.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use rand::seq::SliceRandom;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{sleep_until, Instant};

use super::command::{fail_command, Command};
use super::connect_string::resolve;
use super::error::Error;
use super::event::SessionState;
use super::session::{Ended, SessionMachine};
use crate::proto::{frame, ConnectRequest, ConnectResponse, Decode, Encode, KeeperState};

pub(crate) struct Actor {
    pub machine: SessionMachine,
    pub commands: mpsc::UnboundedReceiver<Command>,
    /// A read-write server the read-only probe found; tried first on the next round.
    pub preferred: Option<(String, u16)>,
}

impl Actor {
    pub async fn run(mut self) {
        loop {
            let ended = match self.connect_round().await {
                Ok(Some((stream, inbound, response))) => {
                    match self.machine.connected(&response, Instant::now().into_std()) {
                        Ok(()) => {
                            let ended = self.serve(stream, inbound).await;
                            if matches!(ended, Ended::Lost) {
                                self.machine.disconnected();
                            }
                            ended
                        }
                        Err(ended) => ended,
                    }
                }
                Ok(None) => Ended::Lost,
                Err(ended) => ended,
            };
            let (state, watch_state, error) = match ended {
                Ended::Lost if !self.machine.expired_locally(Instant::now().into_std()) => continue,
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
        self.machine.finish(state, watch_state, &error);
        self.commands.close();
        while let Ok(cmd) = self.commands.try_recv() {
            fail_command(cmd, &error);
        }
    }

    /// Tries every host once (shuffled, resolved afresh), handling commands meanwhile.
    /// `Ok(None)`: no server answered this round.
    async fn connect_round(
        &mut self,
    ) -> Result<Option<(TcpStream, BytesMut, ConnectResponse)>, Ended> {
        let mut hosts = self.machine.connect.hosts.clone();
        hosts.shuffle(&mut rand::thread_rng());
        if let Some(preferred) = self.preferred.take() {
            hosts.retain(|h| *h != preferred);
            hosts.insert(0, preferred);
        }
        let host_count = hosts.len();
        let wait = self.machine.attempt_wait(host_count);
        let mut timed_out = false;
        for (host, port) in hosts {
            for addr in resolve(&host, port) {
                if self.machine.expired_locally(Instant::now().into_std()) {
                    return Err(Ended::Expired);
                }
                let attempt = handshake(
                    addr,
                    self.machine.connect_request(),
                    wait,
                    self.machine.max_buffer(),
                );
                tokio::pin!(attempt);
                let result = loop {
                    tokio::select! {
                        result = &mut attempt => break result,
                        cmd = self.commands.recv() => match cmd {
                            Some(cmd) => self.machine.submit(cmd)?,
                            None => return Err(Ended::Closed(None)),
                        },
                    }
                };
                match result {
                    Ok(ok) => return Ok(Some(ok)),
                    Err(e) => {
                        timed_out |= e.kind() == std::io::ErrorKind::TimedOut;
                        tracing::debug!(%addr, "connect failed: {e}");
                    }
                }
            }
        }
        self.machine.round_failed(host_count, timed_out);
        // Back off a little before the next round, still answering commands.
        let wake = Instant::now() + Duration::from_millis(rand::random::<u64>() % 500 + 50);
        loop {
            tokio::select! {
                () = sleep_until(wake) => return Ok(None),
                cmd = self.commands.recv() => match cmd {
                    Some(cmd) => self.machine.submit(cmd)?,
                    None => return Err(Ended::Closed(None)),
                },
            }
        }
    }

    /// Moves bytes and time between the socket and the machine until the connection ends.
    async fn serve(&mut self, stream: TcpStream, mut inbound: BytesMut) -> Ended {
        let _ = stream.set_nodelay(true);
        let (mut reader, mut writer) = stream.into_split();
        // Connected read-only with other hosts to try: look for a read-write server.
        let peer = reader.peer_addr().ok();
        let mut probe = (self.machine.state() == SessionState::ConnectedReadOnly
            && self.machine.connect.hosts.len() > 1)
            .then(|| tokio::spawn(probe_read_write(self.machine.connect.hosts.clone(), peer)));
        loop {
            if !self.machine.output().is_empty() {
                if writer.write_all(self.machine.output()).await.is_err() {
                    return self.machine.lose(Ended::Lost);
                }
                self.machine.wrote(Instant::now().into_std());
            }
            // Replies already buffered are handled before waiting again.
            if let Err(ended) = self
                .machine
                .received(&mut inbound, Instant::now().into_std())
            {
                return ended;
            }
            let Some(deadline) = self.machine.deadline() else {
                return Ended::Lost;
            };
            tokio::select! {
                read = reader.read_buf(&mut inbound) => {
                    if !matches!(read, Ok(n) if n > 0) {
                        return self.machine.lose(Ended::Lost);
                    }
                }
                cmd = self.commands.recv() => {
                    let Some(mut cmd) = cmd else {
                        return self.machine.lose(Ended::Closed(None));
                    };
                    loop {
                        if let Command::Close { reply } = cmd {
                            return self.close_session(&mut writer, &mut reader, inbound, reply).await;
                        }
                        if let Err(ended) = self.machine.submit(cmd) {
                            return ended;
                        }
                        match self.commands.try_recv() {
                            Ok(more) => cmd = more,
                            Err(_) => break,
                        }
                    }
                }
                () = sleep_until(Instant::from_std(deadline)) => {
                    if let Err(ended) = self.machine.tick(Instant::now().into_std()) {
                        return ended;
                    }
                }
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
                        return self.machine.lose(Ended::Lost);
                    }
                }
            }
        }
    }

    /// Sends CloseSession after whatever is queued and waits (bounded) for its reply.
    async fn close_session(
        &mut self,
        writer: &mut tokio::net::tcp::OwnedWriteHalf,
        reader: &mut tokio::net::tcp::OwnedReadHalf,
        mut inbound: BytesMut,
        ack: oneshot::Sender<()>,
    ) -> Ended {
        let xid = self.machine.request_close();
        if writer.write_all(self.machine.output()).await.is_ok() {
            self.machine.wrote(Instant::now().into_std());
            let deadline = Instant::now() + self.machine.close_wait();
            while !self.machine.close_answered(&mut inbound, xid) {
                tokio::select! {
                    read = reader.read_buf(&mut inbound) => if !matches!(read, Ok(n) if n > 0) { break },
                    () = sleep_until(deadline) => break,
                }
            }
        }
        self.machine.lose(Ended::Closed(Some(ack)))
    }
}

/// Connects to `addr` and exchanges ConnectRequest/ConnectResponse within `timeout`.
async fn handshake(
    addr: SocketAddr,
    request: ConnectRequest,
    timeout: Duration,
    max_buffer: usize,
) -> std::io::Result<(TcpStream, BytesMut, ConnectResponse)> {
    let work = async {
        let mut stream = TcpStream::connect(addr).await?;
        let mut out = Vec::new();
        frame::write(&mut out, |b| request.encode(b));
        stream.write_all(&out).await?;
        let mut buf = BytesMut::with_capacity(4096);
        loop {
            match frame::check(&buf, max_buffer) {
                Ok(Some(len)) => {
                    buf.advance(4);
                    let payload = buf.split_to(len);
                    let response = ConnectResponse::from_bytes(&payload)
                        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
                    return Ok((stream, buf, response));
                }
                Ok(None) => {}
                Err(e) => return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
            }
            if stream.read_buf(&mut buf).await? == 0 {
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
