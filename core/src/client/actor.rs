//! The connection task: finds a server, establishes or resumes the session, pipelines
//! requests, matches replies in order, routes notifications, pings, and reconnects.
//! Callers talk to it only through [`Command`]s; it never runs user code.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use parking_lot::Mutex;
use rand::seq::SliceRandom;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::{sleep_until, Instant};

use super::connect_string::{resolve, ConnectString};
use super::error::Error;
use super::event::{SessionState, StateEvent, WatchedEvent};
use super::options::ClientOptions;
use super::watches::{Registry, Slot, WatchKind};
use crate::proto::{
    frame, AuthPacket, ConnectRequest, ConnectResponse, Decode, Encode, ErrorCode, EventType,
    KeeperState, OpCode, Reader, ReplyHeader, Request, RequestHeader, WatcherEvent, WatchesRequest,
    AUTH_XID, NOTIFICATION_XID, PING_XID, SET_WATCHES_XID,
};

/// How long the first handshake of a series waits for its answer when no `connect_timeout` is
/// set. A server that accepted the connection but never answers (a process stopping or
/// starting, a half-dead host) must not hold a resuming session for its whole timeout, while a
/// slow server still gets longer and longer waits: each round that saw an attempt time out
/// doubles the wait, up to the session timeout divided among the hosts (Apache's bound).
pub(crate) const FIRST_HANDSHAKE_WAIT: Duration = Duration::from_secs(2);

/// A reply as it came off the wire: header and undecoded body.
#[derive(Debug)]
pub(crate) struct RawReply {
    pub header: ReplyHeader,
    pub body: Vec<u8>,
}

/// A watch to register when the reply says so.
pub(crate) struct WatchRequest {
    pub kind: WatchKind,
    pub slot: Slot,
    /// Receives the registration id (for removal on drop), or nothing if not registered.
    pub registered: oneshot::Sender<u64>,
}

/// Where a request's reply goes.
pub(crate) enum ReplyTo {
    /// To a caller awaiting it.
    Wait(oneshot::Sender<Result<RawReply, Error>>),
    /// To a callback run on this task when the reply is handled, in order with watch and
    /// state callbacks (see `ordered.rs`).
    Call(Box<dyn FnOnce(Result<RawReply, Error>) + Send>),
}

impl ReplyTo {
    pub(crate) fn send(self, result: Result<RawReply, Error>) {
        match self {
            ReplyTo::Wait(tx) => {
                let _ = tx.send(result);
            }
            ReplyTo::Call(callback) => callback(result),
        }
    }
}

pub(crate) enum Command {
    Request {
        request: Request,
        watch: Option<WatchRequest>,
        reply: ReplyTo,
    },
    AddAuth {
        scheme: String,
        auth: Vec<u8>,
        reply: oneshot::Sender<Result<(), Error>>,
    },
    /// A watch handle was dropped or removed.
    DropWatch {
        kind: WatchKind,
        server_path: String,
        id: u64,
    },
    Close {
        reply: oneshot::Sender<()>,
    },
}

/// State shared between the handle and the task.
pub(crate) struct Session {
    pub id: AtomicI64,
    pub passwd: Mutex<Vec<u8>>,
    pub timeout_ms: AtomicI64,
    pub last_zxid: AtomicI64,
}

struct Pending {
    xid: i32,
    op: OpCode,
    server_path: Option<String>,
    reply: Option<ReplyTo>,
    watch: Option<WatchRequest>,
}

/// Why a connection ended.
enum Ended {
    Lost,
    Expired,
    AuthFailed,
    Closed(Option<oneshot::Sender<()>>),
}

pub(crate) struct Actor {
    pub connect: ConnectString,
    pub options: ClientOptions,
    pub session: Arc<Session>,
    pub commands: mpsc::UnboundedReceiver<Command>,
    pub state: watch::Sender<StateEvent>,
    pub transitions: broadcast::Sender<StateEvent>,
    pub registry: Registry,
    /// Requests waiting for a connection.
    pub outgoing: VecDeque<Command>,
    pub auth: Vec<(String, Vec<u8>)>,
    pub next_xid: i32,
    pub ever_connected: bool,
    /// Whether a read-write server has ever accepted this session; until one has, every
    /// connect asks for a new session, since read-only sessions are not carried over.
    pub seen_read_write: bool,
    /// A read-write server the read-only probe found; tried first on the next round.
    pub preferred: Option<(String, u16)>,
    /// A binding's state callback, called in order with watch callbacks.
    pub on_state: Option<StateCallback>,
    /// How long the next handshake waits for its answer (see [`FIRST_HANDSHAKE_WAIT`]).
    pub handshake_wait: Duration,
}

/// A binding's state callback (see [`Client::start_with_state_callback`]): called on the
/// connection task with every state change, in order with the watch callbacks of the
/// notifications around it. It must only queue the change, never block or run user code.
///
/// [`Client::start_with_state_callback`]: super::Client::start_with_state_callback
pub type StateCallback = Box<dyn FnMut(StateEvent) + Send>;

impl Actor {
    pub async fn run(mut self) {
        let mut last_contact = Instant::now();
        loop {
            let ended = match self.connect_round(last_contact).await {
                Ok(Some((stream, buf, response))) => {
                    self.established(&response);
                    let ended = self.serve(stream, buf, &mut last_contact).await;
                    if matches!(ended, Ended::Lost) {
                        self.set_state(SessionState::Suspended);
                        self.registry.notify_streams(KeeperState::Disconnected);
                    }
                    ended
                }
                Ok(None) => Ended::Lost,
                Err(ended) => ended,
            };
            match ended {
                Ended::Lost => {
                    if self.session_expired_locally(last_contact) {
                        self.finish(
                            SessionState::Expired,
                            KeeperState::Expired,
                            Error::SessionExpired,
                        );
                        return;
                    }
                }
                Ended::Expired => {
                    self.finish(
                        SessionState::Expired,
                        KeeperState::Expired,
                        Error::SessionExpired,
                    );
                    return;
                }
                Ended::AuthFailed => {
                    self.finish(
                        SessionState::AuthFailed,
                        KeeperState::AuthFailed,
                        Error::AuthFailed,
                    );
                    return;
                }
                Ended::Closed(ack) => {
                    self.finish(SessionState::Closed, KeeperState::Closed, Error::Closed);
                    if let Some(ack) = ack {
                        let _ = ack.send(());
                    }
                    return;
                }
            }
        }
    }

    fn session_expired_locally(&self, last_contact: Instant) -> bool {
        let timeout = self.session.timeout_ms.load(Ordering::Acquire);
        self.ever_connected
            && timeout > 0
            && last_contact.elapsed() >= Duration::from_millis(timeout as u64)
    }

    fn set_state(&mut self, state: SessionState) {
        let event = StateEvent {
            state,
            session_id: self.session.id.load(Ordering::Acquire),
        };
        if self.state.borrow().state != state {
            self.state.send_replace(event);
            let _ = self.transitions.send(event);
            if let Some(on_state) = &mut self.on_state {
                on_state(event);
            }
        }
    }

    fn finish(&mut self, state: SessionState, watch_state: KeeperState, error: Error) {
        self.set_state(state);
        self.registry.fail_all(watch_state);
        for cmd in self.outgoing.drain(..) {
            fail_command(cmd, &error);
        }
        self.commands.close();
        while let Ok(cmd) = self.commands.try_recv() {
            fail_command(cmd, &error);
        }
    }

    /// Tries every host once (shuffled, resolved afresh), handling commands meanwhile.
    /// `Ok(None)`: no server answered this round.
    async fn connect_round(
        &mut self,
        last_contact: Instant,
    ) -> Result<Option<(TcpStream, BytesMut, ConnectResponse)>, Ended> {
        let mut hosts = self.connect.hosts.clone();
        hosts.shuffle(&mut rand::thread_rng());
        if let Some(preferred) = self.preferred.take() {
            hosts.retain(|h| *h != preferred);
            hosts.insert(0, preferred);
        }
        let session_timeout = match self.session.timeout_ms.load(Ordering::Acquire) {
            negotiated if negotiated > 0 => Duration::from_millis(negotiated as u64),
            _ => self.options.session_timeout,
        };
        let longest_wait = self.options.connect_timeout.unwrap_or_else(|| {
            (session_timeout / hosts.len().max(1) as u32).max(Duration::from_millis(100))
        });
        let per_host = match self.options.connect_timeout {
            Some(chosen) => chosen,
            None => self.handshake_wait.min(longest_wait),
        };
        let mut timed_out = false;
        for (host, port) in hosts {
            for addr in resolve(&host, port) {
                if self.session_expired_locally(last_contact) {
                    return Err(Ended::Expired);
                }
                let attempt = handshake(
                    addr,
                    self.connect_request(),
                    per_host,
                    self.options.max_buffer,
                );
                tokio::pin!(attempt);
                let result = loop {
                    tokio::select! {
                        result = &mut attempt => break result,
                        cmd = self.commands.recv() => match cmd {
                            Some(Command::Close { reply }) => return Err(Ended::Closed(Some(reply))),
                            Some(cmd) => self.queue(cmd),
                            None => return Err(Ended::Closed(None)),
                        },
                    }
                };
                match result {
                    Ok((stream, buf, response)) if response.timeout <= 0 => {
                        drop((stream, buf));
                        return Err(Ended::Expired);
                    }
                    Ok(ok) => {
                        self.handshake_wait = FIRST_HANDSHAKE_WAIT;
                        return Ok(Some(ok));
                    }
                    Err(e) => {
                        timed_out |= e.kind() == std::io::ErrorKind::TimedOut;
                        tracing::debug!(%addr, "connect failed: {e}");
                    }
                }
            }
        }
        if timed_out {
            self.handshake_wait = (per_host * 2).min(longest_wait);
        }
        // Back off a little before the next round, still answering commands.
        let wake = Instant::now() + Duration::from_millis(rand::random::<u64>() % 500 + 50);
        loop {
            tokio::select! {
                () = sleep_until(wake) => return Ok(None),
                cmd = self.commands.recv() => match cmd {
                    Some(Command::Close { reply }) => return Err(Ended::Closed(Some(reply))),
                    Some(cmd) => self.queue(cmd),
                    None => return Err(Ended::Closed(None)),
                },
            }
        }
    }

    fn queue(&mut self, cmd: Command) {
        match cmd {
            Command::DropWatch {
                kind,
                server_path,
                id,
            } => {
                // No connection: forget it locally; SetWatches will not name it.
                self.registry.remove(kind, &server_path, id);
            }
            cmd => self.outgoing.push_back(cmd),
        }
    }

    fn connect_request(&self) -> ConnectRequest {
        ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: self.session.last_zxid.load(Ordering::Acquire),
            timeout: i32::try_from(self.options.session_timeout.as_millis()).unwrap_or(i32::MAX),
            session_id: if self.seen_read_write {
                self.session.id.load(Ordering::Acquire)
            } else {
                0
            },
            passwd: {
                let p = self.session.passwd.lock().clone();
                if p.is_empty() {
                    vec![0; 16]
                } else {
                    p
                }
            },
            read_only: Some(self.options.can_be_read_only),
        }
    }

    fn established(&mut self, response: &ConnectResponse) {
        let previous = self.session.id.swap(response.session_id, Ordering::AcqRel);
        if previous != 0 && previous != response.session_id {
            tracing::warn!(
                "server gave a new session 0x{:x} instead of 0x{previous:x}",
                response.session_id
            );
        }
        *self.session.passwd.lock() = response.passwd.clone();
        self.session
            .timeout_ms
            .store(i64::from(response.timeout), Ordering::Release);
        self.ever_connected = true;
        let read_only = response.read_only == Some(true);
        self.seen_read_write |= !read_only;
        self.set_state(if read_only {
            SessionState::ConnectedReadOnly
        } else {
            SessionState::Connected
        });
        self.registry.notify_streams(KeeperState::SyncConnected);
    }

    async fn serve(
        &mut self,
        stream: TcpStream,
        mut buf: BytesMut,
        last_contact: &mut Instant,
    ) -> Ended {
        let _ = stream.set_nodelay(true);
        let (mut reader, mut writer) = stream.into_split();
        let timeout =
            Duration::from_millis(self.session.timeout_ms.load(Ordering::Acquire).max(1) as u64);
        let read_timeout = timeout * 2 / 3;
        let ping_every = read_timeout / 2;
        let mut pending: VecDeque<Pending> = VecDeque::new();
        let mut out: Vec<u8> = Vec::new();
        // Connected read-only with other hosts to try: look for a read-write server.
        let peer = reader.peer_addr().ok();
        let mut probe = (self.state.borrow().state == SessionState::ConnectedReadOnly
            && self.connect.hosts.len() > 1)
            .then(|| tokio::spawn(probe_read_write(self.connect.hosts.clone(), peer)));

        // Prelude: credentials, then the watches to re-register, then queued requests.
        for (scheme, auth) in &self.auth {
            write_auth(&mut out, scheme, auth);
        }
        let relative_zxid = self.session.last_zxid.load(Ordering::Acquire);
        for sw in self
            .registry
            .set_watches(relative_zxid, (self.options.max_buffer / 8).max(4096))
        {
            frame::write(&mut out, |b| {
                RequestHeader {
                    xid: SET_WATCHES_XID,
                    op: OpCode::SetWatches2.as_i32(),
                }
                .encode(b);
                sw.encode_v(b, true);
            });
        }
        let queued: Vec<Command> = self.outgoing.drain(..).collect();
        for cmd in queued {
            if let Some(ended) = self.send_command(cmd, &mut out, &mut pending) {
                return ended;
            }
        }
        *last_contact = Instant::now();
        let mut last_send = Instant::now();
        loop {
            if !out.is_empty() {
                if writer.write_all(&out).await.is_err() {
                    fail_pending(&mut pending, &Error::ConnectionLoss);
                    return Ended::Lost;
                }
                out.clear();
                last_send = Instant::now();
            }
            // Replies already buffered are handled before waiting again.
            loop {
                match frame::check(&buf, self.options.max_buffer) {
                    Ok(Some(len)) => {
                        buf.advance(4);
                        let payload = buf.split_to(len);
                        *last_contact = Instant::now();
                        if let Some(ended) = self.on_frame(&payload, &mut pending) {
                            // The state changes before any caller learns of it through
                            // a failed request.
                            let error = match ended {
                                Ended::AuthFailed => {
                                    self.set_state(SessionState::AuthFailed);
                                    Error::AuthFailed
                                }
                                Ended::Expired => {
                                    self.set_state(SessionState::Expired);
                                    Error::SessionExpired
                                }
                                _ => Error::ConnectionLoss,
                            };
                            fail_pending(&mut pending, &error);
                            return ended;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!("bad frame from the server: {e}");
                        fail_pending(&mut pending, &Error::ConnectionLoss);
                        return Ended::Lost;
                    }
                }
            }
            let ping_at = last_send + ping_every;
            let dead_at = *last_contact + read_timeout;
            tokio::select! {
                read = reader.read_buf(&mut buf) => {
                    if !matches!(read, Ok(n) if n > 0) {
                        fail_pending(&mut pending, &Error::ConnectionLoss);
                        return Ended::Lost;
                    }
                }
                cmd = self.commands.recv() => {
                    let Some(cmd) = cmd else {
                        fail_pending(&mut pending, &Error::Closed);
                        return Ended::Closed(None);
                    };
                    if let Command::Close { reply } = cmd {
                        return self.close_session(&mut writer, &mut reader, buf, pending, reply).await;
                    }
                    if let Some(ended) = self.send_command(cmd, &mut out, &mut pending) {
                        return ended;
                    }
                    while let Ok(more) = self.commands.try_recv() {
                        if let Command::Close { reply } = more {
                            if !out.is_empty() && writer.write_all(&out).await.is_err() {
                                fail_pending(&mut pending, &Error::ConnectionLoss);
                                return Ended::Closed(Some(reply));
                            }
                            return self.close_session(&mut writer, &mut reader, buf, pending, reply).await;
                        }
                        if let Some(ended) = self.send_command(more, &mut out, &mut pending) {
                            return ended;
                        }
                    }
                }
                () = sleep_until(ping_at) => {
                    frame::write(&mut out, |b| RequestHeader { xid: PING_XID, op: OpCode::Ping.as_i32() }.encode(b));
                }
                () = sleep_until(dead_at) => {
                    tracing::info!("no reply from the server for {} ms; reconnecting", read_timeout.as_millis());
                    fail_pending(&mut pending, &Error::ConnectionLoss);
                    return Ended::Lost;
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
                        fail_pending(&mut pending, &Error::ConnectionLoss);
                        return Ended::Lost;
                    }
                }
            }
        }
    }

    /// Encodes a command into `out`; a returned value ends the connection.
    fn send_command(
        &mut self,
        cmd: Command,
        out: &mut Vec<u8>,
        pending: &mut VecDeque<Pending>,
    ) -> Option<Ended> {
        match cmd {
            Command::Request {
                request,
                watch,
                reply,
            } => {
                self.next_xid = self.next_xid.checked_add(1).filter(|x| *x > 0).unwrap_or(1);
                let xid = self.next_xid;
                let op = request.op_code();
                let before = out.len();
                frame::write(out, |b| {
                    RequestHeader {
                        xid,
                        op: op.as_i32(),
                    }
                    .encode(b);
                    request.encode(b);
                });
                if out.len() - before - 4 > self.options.max_buffer {
                    out.truncate(before);
                    reply.send(Err(Error::BadArguments(format!(
                        "request of {} bytes exceeds jute.maxbuffer",
                        out.len() - before
                    ))));
                    return None;
                }
                pending.push_back(Pending {
                    xid,
                    op,
                    server_path: request_path(&request),
                    reply: Some(reply),
                    watch,
                });
            }
            Command::AddAuth {
                scheme,
                auth,
                reply,
            } => {
                write_auth(out, &scheme, &auth);
                self.auth.push((scheme, auth));
                // Apache answers auth in order with the other replies, but with xid -4;
                // an auth failure closes the connection, which ends this client.
                let _ = reply.send(Ok(()));
            }
            Command::DropWatch {
                kind,
                server_path,
                id,
            } => {
                if self.registry.remove(kind, &server_path, id) {
                    let watcher_type = if self.registry.watches_path(&server_path) {
                        kind.watcher_type()
                    } else {
                        crate::proto::WatcherType::Any
                    };
                    self.next_xid = self.next_xid.checked_add(1).filter(|x| *x > 0).unwrap_or(1);
                    let xid = self.next_xid;
                    frame::write(out, |b| {
                        RequestHeader {
                            xid,
                            op: OpCode::RemoveWatches.as_i32(),
                        }
                        .encode(b);
                        WatchesRequest {
                            path: server_path.clone(),
                            watcher_type: watcher_type.as_i32(),
                        }
                        .encode(b);
                    });
                    pending.push_back(Pending {
                        xid,
                        op: OpCode::RemoveWatches,
                        server_path: None,
                        reply: None,
                        watch: None,
                    });
                }
            }
            Command::Close { reply } => return Some(Ended::Closed(Some(reply))),
        }
        None
    }

    /// Handles one frame; a returned value ends the connection.
    fn on_frame(&mut self, payload: &[u8], pending: &mut VecDeque<Pending>) -> Option<Ended> {
        let mut r = Reader::new(payload);
        let Ok(header) = ReplyHeader::decode(&mut r) else {
            return Some(Ended::Lost);
        };
        match header.xid {
            NOTIFICATION_XID => {
                let Ok(event) = WatcherEvent::decode(&mut r) else {
                    return Some(Ended::Lost);
                };
                let event_type = EventType::from_i32(event.event_type).unwrap_or(EventType::None);
                let watched = WatchedEvent {
                    event_type,
                    state: KeeperState::from_i32(event.state).unwrap_or(KeeperState::SyncConnected),
                    path: self.connect.to_client_path(&event.path),
                    zxid: header.zxid,
                };
                self.registry.dispatch(event_type, &event.path, &watched);
                None
            }
            PING_XID | SET_WATCHES_XID => None,
            AUTH_XID => {
                if header.err == ErrorCode::AuthFailed.as_i32() {
                    Some(Ended::AuthFailed)
                } else {
                    None
                }
            }
            xid => {
                if header.zxid > 0 {
                    self.session
                        .last_zxid
                        .fetch_max(header.zxid, Ordering::AcqRel);
                }
                let Some(p) = pending.pop_front() else {
                    tracing::warn!(xid, "reply to nothing; reconnecting");
                    return Some(Ended::Lost);
                };
                if p.xid != xid {
                    tracing::warn!(
                        expected = p.xid,
                        got = xid,
                        "reply out of order; reconnecting"
                    );
                    pending.push_front(p);
                    return Some(Ended::Lost);
                }
                if let (Some(watch), Some(server_path)) = (p.watch, p.server_path) {
                    let registers = header.err == 0
                        || (p.op == OpCode::Exists && header.err == ErrorCode::NoNode.as_i32());
                    if registers {
                        let kind = if p.op == OpCode::Exists && header.err != 0 {
                            WatchKind::Exist
                        } else {
                            watch.kind
                        };
                        let id = self.registry.add(kind, &server_path, watch.slot);
                        let _ = watch.registered.send(id);
                    }
                }
                if let Some(reply) = p.reply {
                    reply.send(Ok(RawReply {
                        header,
                        body: r.rest().to_vec(),
                    }));
                }
                None
            }
        }
    }

    async fn close_session(
        &mut self,
        writer: &mut tokio::net::tcp::OwnedWriteHalf,
        reader: &mut tokio::net::tcp::OwnedReadHalf,
        mut buf: BytesMut,
        mut pending: VecDeque<Pending>,
        ack: oneshot::Sender<()>,
    ) -> Ended {
        self.next_xid = self.next_xid.checked_add(1).filter(|x| *x > 0).unwrap_or(1);
        let xid = self.next_xid;
        let mut out = Vec::new();
        frame::write(&mut out, |b| {
            RequestHeader {
                xid,
                op: OpCode::CloseSession.as_i32(),
            }
            .encode(b)
        });
        if writer.write_all(&out).await.is_ok() {
            let deadline = Instant::now()
                + self
                    .options
                    .connect_timeout
                    .unwrap_or(Duration::from_secs(5));
            'wait: loop {
                while let Ok(Some(len)) = frame::check(&buf, self.options.max_buffer) {
                    buf.advance(4);
                    let payload = buf.split_to(len);
                    let mut r = Reader::new(&payload);
                    match ReplyHeader::decode(&mut r) {
                        Ok(h) if h.xid == xid => break 'wait,
                        Ok(_) => {
                            let _ = self.on_frame(&payload, &mut pending);
                        }
                        Err(_) => break 'wait,
                    }
                }
                tokio::select! {
                    read = reader.read_buf(&mut buf) => if !matches!(read, Ok(n) if n > 0) { break },
                    () = sleep_until(deadline) => break,
                }
            }
        }
        fail_pending(&mut pending, &Error::Closed);
        Ended::Closed(Some(ack))
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

/// Appends an AuthPacket frame (xid -4).
fn write_auth(out: &mut Vec<u8>, scheme: &str, auth: &[u8]) {
    frame::write(out, |b| {
        RequestHeader {
            xid: AUTH_XID,
            op: OpCode::Auth.as_i32(),
        }
        .encode(b);
        AuthPacket {
            auth_type: 0,
            scheme: scheme.to_owned(),
            auth: Some(auth.to_vec()),
        }
        .encode(b);
    });
}

fn fail_pending(pending: &mut VecDeque<Pending>, error: &Error) {
    for p in pending.drain(..) {
        if let Some(reply) = p.reply {
            reply.send(Err(error.clone()));
        }
    }
}

pub(crate) fn fail_command(cmd: Command, error: &Error) {
    match cmd {
        Command::Request { reply, .. } => {
            reply.send(Err(error.clone()));
        }
        Command::AddAuth { reply, .. } => {
            let _ = reply.send(Err(error.clone()));
        }
        Command::Close { reply } => {
            let _ = reply.send(());
        }
        Command::DropWatch { .. } => {}
    }
}

/// The path a request names, for watch registration.
fn request_path(request: &Request) -> Option<String> {
    match request {
        Request::Exists(p)
        | Request::GetData(p)
        | Request::GetChildren(p)
        | Request::GetChildren2(p) => Some(p.path.clone()),
        Request::AddWatch(a) => Some(a.path.clone()),
        _ => None,
    }
}
