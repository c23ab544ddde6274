//! The session's rules without IO: what to send on connect and reconnect (credentials,
//! SetWatches2, queued requests), how replies match requests, when to ping, when a silent
//! connection counts as lost, when the session counts as expired on this side, and how long
//! a connect attempt may wait. The connection task (`actor.rs`) only moves bytes and time
//! into a [`SessionMachine`] and the bytes it produces onto the socket; every method takes
//! the current instant, so the unit tests below drive it with a clock of their own.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use parking_lot::Mutex;
use tokio::sync::{broadcast, oneshot, watch};

use super::command::{Command, RawReply, ReplyTo, StateCallback, WatchRequest};
use super::connect_string::ConnectString;
use super::error::Error;
use super::event::{SessionState, StateEvent, WatchedEvent};
use super::options::ClientOptions;
use super::sasl::{Exchange, Step};
use super::watches::{Registry, WatchKind};
use crate::proto::{
    frame, AuthPacket, ConnectRequest, ConnectResponse, Decode, Encode, ErrorCode, EventType,
    KeeperState, OpCode, Reader, ReplyHeader, Request, RequestHeader, Response, SaslRequest,
    WatcherEvent, WatchesRequest, AUTH_XID, NOTIFICATION_XID, PING_XID, SET_WATCHES_XID,
};

/// How long the first handshake of a series waits for its answer when no `connect_timeout` is
/// set. A server that accepted the connection but never answers (a process stopping or
/// starting, a half-dead host) must not hold a resuming session for its whole timeout, while a
/// slow server still gets longer and longer waits: each round that saw an attempt time out
/// doubles the wait, up to the session timeout divided among the hosts (Apache's bound).
pub(crate) const FIRST_HANDSHAKE_WAIT: Duration = Duration::from_secs(2);

/// What the handles read of the session while the connection task runs it.
pub(crate) struct Session {
    pub id: AtomicI64,
    pub passwd: Mutex<Vec<u8>>,
    pub timeout_ms: AtomicI64,
    pub last_zxid: AtomicI64,
}

/// Why a connection (or the whole session) ended.
pub(crate) enum Ended {
    Lost,
    Expired,
    AuthFailed,
    Closed(Option<oneshot::Sender<()>>),
}

/// A request written on the current connection, waiting for its reply.
struct Pending {
    xid: i32,
    op: OpCode,
    server_path: Option<String>,
    reply: Option<ReplyTo>,
    watch: Option<WatchRequest>,
}

/// The state of one established connection.
struct Connection {
    pending: VecDeque<Pending>,
    /// Bytes waiting to be written.
    out: Vec<u8>,
    /// No frame for this long and the connection counts as lost (2/3 of the session timeout).
    read_timeout: Duration,
    /// Idle this long and a ping goes out (half the read timeout).
    ping_every: Duration,
    last_send: Instant,
    /// The SASL exchange under way; everything but it waits until it succeeds.
    sasl: Option<Exchange>,
}

/// The session's rules (see the module doc). Outcomes that end a connection come back as
/// [`Ended`]; by then every request in flight has failed and the connection state is gone.
pub(crate) struct SessionMachine {
    pub connect: ConnectString,
    options: ClientOptions,
    session: Arc<Session>,
    state: watch::Sender<StateEvent>,
    transitions: broadcast::Sender<StateEvent>,
    /// A binding's state callback, called in order with watch callbacks.
    on_state: Option<StateCallback>,
    registry: Registry,
    /// Requests waiting for a connection.
    outgoing: VecDeque<Command>,
    auth: Vec<(String, Vec<u8>)>,
    next_xid: i32,
    ever_connected: bool,
    /// Whether a read-write server has ever accepted this session; until one has, every
    /// connect asks for a new session, since read-only sessions are not carried over.
    seen_read_write: bool,
    /// How long the next handshake waits for its answer (see [`FIRST_HANDSHAKE_WAIT`]).
    handshake_wait: Duration,
    /// When a server was last heard from (or the client started).
    last_contact: Instant,
    connection: Option<Connection>,
}

impl SessionMachine {
    pub fn new(
        connect: ConnectString,
        options: ClientOptions,
        session: Arc<Session>,
        state: watch::Sender<StateEvent>,
        transitions: broadcast::Sender<StateEvent>,
        on_state: Option<StateCallback>,
        now: Instant,
    ) -> Self {
        let resuming = session.id.load(Ordering::Acquire) != 0;
        SessionMachine {
            auth: options.auth.clone(),
            connect,
            options,
            session,
            state,
            transitions,
            on_state,
            registry: Registry::default(),
            outgoing: VecDeque::new(),
            next_xid: 0,
            ever_connected: resuming,
            seen_read_write: resuming,
            handshake_wait: FIRST_HANDSHAKE_WAIT,
            last_contact: now,
            connection: None,
        }
    }

    pub fn state(&self) -> SessionState {
        self.state.borrow().state
    }

    /// `jute.maxbuffer` as the client applies it to frames both ways.
    pub fn max_buffer(&self) -> usize {
        self.options.max_buffer
    }

    /// How long a closing client waits for the reply to CloseSession.
    pub fn close_wait(&self) -> Duration {
        self.options
            .connect_timeout
            .unwrap_or(Duration::from_secs(5))
    }

    // ----- connecting

    pub fn connect_request(&self) -> ConnectRequest {
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

    /// How long a connect attempt in a round over `hosts` hosts waits for its answer.
    pub fn attempt_wait(&self, hosts: usize) -> Duration {
        match self.options.connect_timeout {
            Some(chosen) => chosen,
            None => self.handshake_wait.min(self.longest_wait(hosts)),
        }
    }

    /// Apache's wait: the (negotiated, once known) session timeout divided among the hosts.
    fn longest_wait(&self, hosts: usize) -> Duration {
        let session_timeout = match self.session.timeout_ms.load(Ordering::Acquire) {
            negotiated if negotiated > 0 => Duration::from_millis(negotiated as u64),
            _ => self.options.session_timeout,
        };
        (session_timeout / hosts.max(1) as u32).max(Duration::from_millis(100))
    }

    /// A round of attempts found no server; `timed_out`: one accepted and never answered.
    pub fn round_failed(&mut self, hosts: usize, timed_out: bool) {
        if timed_out {
            self.handshake_wait = (self.attempt_wait(hosts) * 2).min(self.longest_wait(hosts));
        }
    }

    /// Whether no server has been heard from for the whole negotiated session timeout:
    /// the session is over whatever a server would say.
    pub fn expired_locally(&self, now: Instant) -> bool {
        let timeout = self.session.timeout_ms.load(Ordering::Acquire);
        self.ever_connected
            && timeout > 0
            && now.saturating_duration_since(self.last_contact)
                >= Duration::from_millis(timeout as u64)
    }

    /// A server answered the handshake. Unless it says the session is gone, the connection
    /// is live: credentials, the watches to re-register and the queued requests are output.
    pub fn connected(&mut self, response: &ConnectResponse, now: Instant) -> Result<(), Ended> {
        if response.timeout <= 0 {
            return Err(Ended::Expired);
        }
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
        self.handshake_wait = FIRST_HANDSHAKE_WAIT;
        self.last_contact = now;
        let read_only = response.read_only == Some(true);
        self.seen_read_write |= !read_only;

        let timeout = Duration::from_millis(u64::from(response.timeout.unsigned_abs()));
        let read_timeout = timeout * 2 / 3;
        let mut connection = Connection {
            pending: VecDeque::new(),
            out: Vec::new(),
            read_timeout,
            ping_every: read_timeout / 2,
            last_send: now,
            sasl: None,
        };
        if let Some(options) = &self.options.sasl {
            // SASL first; credentials, watches and requests wait until it succeeds.
            let exchange = Exchange::start(options);
            write_sasl(&mut connection, &mut self.next_xid, exchange.initial());
            connection.sasl = Some(exchange);
        }
        let authenticating = connection.sasl.is_some();
        self.connection = Some(connection);
        self.set_state(if read_only {
            SessionState::ConnectedReadOnly
        } else {
            SessionState::Connected
        });
        self.registry.notify_streams(KeeperState::SyncConnected);
        if authenticating {
            return Ok(());
        }
        self.resume()
    }

    /// The connection is ready for the session's traffic: the `addauth` credentials, the
    /// watches to re-register, then what callers queued meanwhile.
    fn resume(&mut self) -> Result<(), Ended> {
        let Some(connection) = self.connection.as_mut() else {
            return Ok(());
        };
        for (scheme, auth) in &self.auth {
            write_auth(&mut connection.out, scheme, auth);
        }
        let relative_zxid = self.session.last_zxid.load(Ordering::Acquire);
        for sw in self
            .registry
            .set_watches(relative_zxid, (self.options.max_buffer / 8).max(4096))
        {
            frame::write(&mut connection.out, |b| {
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
            self.submit(cmd)?;
        }
        Ok(())
    }

    // ----- requests

    /// A caller's command: written on the live connection, or queued until there is one.
    pub fn submit(&mut self, cmd: Command) -> Result<(), Ended> {
        // While SASL runs, the connection is not ready for the session's traffic.
        let ready = self.connection.as_mut().filter(|c| c.sasl.is_none());
        let Some(connection) = ready else {
            match cmd {
                Command::DropWatch {
                    kind,
                    server_path,
                    id,
                } => {
                    // No connection: forget it locally; SetWatches will not name it.
                    self.registry.remove(kind, &server_path, id);
                }
                Command::Close { reply } => return Err(Ended::Closed(Some(reply))),
                cmd => self.outgoing.push_back(cmd),
            }
            return Ok(());
        };
        match cmd {
            Command::Request {
                request,
                watch,
                reply,
            } => {
                let xid = next_xid(&mut self.next_xid);
                let op = request.op_code();
                let out = &mut connection.out;
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
                    let size = out.len() - before;
                    out.truncate(before);
                    reply.send(Err(Error::BadArguments(format!(
                        "request of {size} bytes exceeds jute.maxbuffer"
                    ))));
                    return Ok(());
                }
                connection.pending.push_back(Pending {
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
                write_auth(&mut connection.out, &scheme, &auth);
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
                    let xid = next_xid(&mut self.next_xid);
                    frame::write(&mut connection.out, |b| {
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
                    connection.pending.push_back(Pending {
                        xid,
                        op: OpCode::RemoveWatches,
                        server_path: None,
                        reply: None,
                        watch: None,
                    });
                }
            }
            Command::Close { reply } => return Err(Ended::Closed(Some(reply))),
        }
        Ok(())
    }

    /// Appends CloseSession to the output and returns its xid (see [`Self::close_answered`]).
    pub fn request_close(&mut self) -> i32 {
        let xid = next_xid(&mut self.next_xid);
        if let Some(connection) = self.connection.as_mut() {
            frame::write(&mut connection.out, |b| {
                RequestHeader {
                    xid,
                    op: OpCode::CloseSession.as_i32(),
                }
                .encode(b)
            });
        }
        xid
    }

    // ----- bytes and time

    /// The bytes to write now (empty when there are none).
    pub fn output(&self) -> &[u8] {
        self.connection.as_ref().map_or(&[], |c| &c.out)
    }

    /// The driver wrote all of [`Self::output`].
    #[cfg(test)]
    pub fn wrote(&mut self, now: Instant) {
        let written = self.output().len();
        self.wrote_some(written, now);
    }

    /// The driver wrote the first `n` bytes of [`Self::output`].
    pub fn wrote_some(&mut self, n: usize, now: Instant) {
        if let Some(connection) = self.connection.as_mut() {
            connection.out.drain(..n.min(connection.out.len()));
            connection.last_send = now;
        }
    }

    /// Connected with no request awaiting its reply: nothing will wake the driver for this
    /// connection before its next deadline, so output made now is best written by its maker.
    pub fn is_idle(&self) -> bool {
        self.connection
            .as_ref()
            .is_some_and(|c| c.pending.is_empty())
    }

    /// Handles every complete frame in `inbound` (what was read and not yet handled).
    pub fn received(&mut self, inbound: &mut BytesMut, now: Instant) -> Result<(), Ended> {
        loop {
            if self.connection.is_none() {
                return Ok(());
            }
            let len = match frame::check(inbound, self.options.max_buffer) {
                Ok(Some(len)) => len,
                Ok(None) => return Ok(()),
                Err(e) => {
                    tracing::warn!("bad frame from the server: {e}");
                    return Err(self.lose(Ended::Lost));
                }
            };
            inbound.advance(4);
            let payload = inbound.split_to(len);
            self.last_contact = now;
            if let Some(ended) = self.on_frame(&payload) {
                // The state changes before any caller learns of it through a failed request.
                match ended {
                    Ended::AuthFailed => self.set_state(SessionState::AuthFailed),
                    Ended::Expired => self.set_state(SessionState::Expired),
                    _ => {}
                }
                return Err(self.lose(ended));
            }
        }
    }

    /// While closing: handles what arrived; true once the reply to CloseSession `xid` came
    /// (or nothing more can be read sensibly).
    pub fn close_answered(&mut self, inbound: &mut BytesMut, xid: i32) -> bool {
        loop {
            if self.connection.is_none() {
                return true;
            }
            let Ok(Some(len)) = frame::check(inbound, self.options.max_buffer) else {
                return false;
            };
            inbound.advance(4);
            let payload = inbound.split_to(len);
            match ReplyHeader::decode(&mut Reader::new(&payload)) {
                Ok(h) if h.xid == xid => return true,
                Ok(_) => {
                    let _ = self.on_frame(&payload);
                }
                Err(_) => return true,
            }
        }
    }

    /// When [`Self::tick`] has something to do: a ping is due or the connection is dead.
    /// No ping is due while output waits to be written (the socket is full).
    pub fn deadline(&self) -> Option<Instant> {
        let c = self.connection.as_ref()?;
        let dead_at = self.last_contact.checked_add(c.read_timeout)?;
        if !c.out.is_empty() {
            return Some(dead_at);
        }
        let ping_at = c.last_send.checked_add(c.ping_every)?;
        Some(ping_at.min(dead_at))
    }

    /// Time passed: a silent connection is lost; an idle one gets a ping.
    pub fn tick(&mut self, now: Instant) -> Result<(), Ended> {
        let Some(c) = self.connection.as_mut() else {
            return Ok(());
        };
        if now.saturating_duration_since(self.last_contact) >= c.read_timeout {
            tracing::info!(
                "no reply from the server for {} ms; reconnecting",
                c.read_timeout.as_millis()
            );
            return Err(self.lose(Ended::Lost));
        }
        if c.out.is_empty() && now.saturating_duration_since(c.last_send) >= c.ping_every {
            frame::write(&mut c.out, |b| {
                RequestHeader {
                    xid: PING_XID,
                    op: OpCode::Ping.as_i32(),
                }
                .encode(b)
            });
        }
        Ok(())
    }

    // ----- endings

    /// The connection is gone for the reason `ended` gives; the requests in flight fail
    /// with the error that reason means. Returns `ended`.
    pub fn lose(&mut self, ended: Ended) -> Ended {
        let error = match ended {
            Ended::AuthFailed => Error::AuthFailed,
            Ended::Expired => Error::SessionExpired,
            Ended::Closed(_) => Error::Closed,
            Ended::Lost => Error::ConnectionLoss,
        };
        self.fail_in_flight(&error);
        ended
    }

    fn fail_in_flight(&mut self, error: &Error) {
        if let Some(connection) = self.connection.take() {
            for p in connection.pending {
                if let Some(reply) = p.reply {
                    reply.send(Err(error.clone()));
                }
            }
        }
    }

    /// An established connection was lost and the session may resume elsewhere.
    pub fn disconnected(&mut self) {
        self.set_state(SessionState::Suspended);
        self.registry.notify_streams(KeeperState::Disconnected);
    }

    /// The session is over: watches learn `watch_state`, queued commands fail with `error`.
    pub fn finish(&mut self, state: SessionState, watch_state: KeeperState, error: &Error) {
        self.fail_in_flight(error);
        self.set_state(state);
        self.registry.fail_all(watch_state);
        for cmd in self.outgoing.drain(..) {
            super::command::fail_command(cmd, error);
        }
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

    /// Handles one frame; a returned value ends the connection.
    fn on_frame(&mut self, payload: &[u8]) -> Option<Ended> {
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
            AUTH_XID => (header.err == ErrorCode::AuthFailed.as_i32()).then_some(Ended::AuthFailed),
            xid => {
                if header.zxid > 0 {
                    self.session
                        .last_zxid
                        .fetch_max(header.zxid, Ordering::AcqRel);
                }
                let pending = &mut self.connection.as_mut()?.pending;
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
                if p.op == OpCode::Sasl {
                    return self.sasl_reply(header.err, r.rest());
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
}

impl SessionMachine {
    /// The server answered a SASL token: send the next one, or, authenticated, let the
    /// session's traffic through; a refusal or a bad token from the server ends the session.
    fn sasl_reply(&mut self, err: i32, body: &[u8]) -> Option<Ended> {
        let connection = self.connection.as_mut()?;
        let Some(exchange) = connection.sasl.as_mut() else {
            tracing::warn!("a SASL reply when no SASL exchange runs; reconnecting");
            return Some(Ended::Lost);
        };
        if err != 0 {
            let code = ErrorCode::from_i32(err)
                .map_or_else(|| err.to_string(), |c| format!("{} ({err})", c.java_name()));
            tracing::warn!(
                user = exchange.username(),
                "SASL DIGEST-MD5 authentication failed: the server answered {code}"
            );
            return Some(Ended::AuthFailed);
        }
        let token = match Response::decode(OpCode::Sasl, body) {
            Ok(Response::Sasl { token }) => token.unwrap_or_default(),
            _ => {
                tracing::warn!("undecodable SASL reply; reconnecting");
                return Some(Ended::Lost);
            }
        };
        match exchange.step(&token) {
            Err(e) => {
                tracing::warn!(
                    user = exchange.username(),
                    "SASL DIGEST-MD5 authentication failed: {e}"
                );
                Some(Ended::AuthFailed)
            }
            Ok(Step::Send(next)) => {
                write_sasl(connection, &mut self.next_xid, next);
                None
            }
            Ok(Step::Done) => {
                tracing::debug!(user = exchange.username(), "SASL authenticated");
                connection.sasl = None;
                self.set_state(SessionState::SaslAuthenticated);
                self.resume().err()
            }
        }
    }
}

/// Appends a SASL request (opcode 102, a normal xid) carrying `token` and expects its reply.
fn write_sasl(connection: &mut Connection, counter: &mut i32, token: Vec<u8>) {
    let xid = next_xid(counter);
    frame::write(&mut connection.out, |b| {
        RequestHeader {
            xid,
            op: OpCode::Sasl.as_i32(),
        }
        .encode(b);
        SaslRequest { token: Some(token) }.encode(b);
    });
    connection.pending.push_back(Pending {
        xid,
        op: OpCode::Sasl,
        server_path: None,
        reply: None,
        watch: None,
    });
}

fn next_xid(counter: &mut i32) -> i32 {
    *counter = counter.checked_add(1).filter(|x| *x > 0).unwrap_or(1);
    *counter
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

#[cfg(test)]
mod tests {
    //! The session's rules driven with instants chosen by the test (no sockets, no sleeps).

    use super::*;
    use crate::proto::{PathWatchRequest, SetWatches, WatcherType};

    const TIMEOUT_MS: i32 = 3000;

    struct Harness {
        machine: SessionMachine,
        states: watch::Receiver<StateEvent>,
        session: Arc<Session>,
        t0: Instant,
    }

    fn harness(options: ClientOptions, resume: Option<i64>) -> Harness {
        let session = Arc::new(Session {
            id: AtomicI64::new(resume.unwrap_or(0)),
            passwd: Mutex::new(Vec::new()),
            timeout_ms: AtomicI64::new(0),
            last_zxid: AtomicI64::new(0),
        });
        let (state_tx, states) = watch::channel(StateEvent {
            state: SessionState::Connecting,
            session_id: 0,
        });
        let (transitions, _) = broadcast::channel(16);
        let t0 = Instant::now();
        let machine = SessionMachine::new(
            ConnectString::parse("127.0.0.1:2181,127.0.0.2:2181").unwrap(),
            options,
            session.clone(),
            state_tx,
            transitions,
            None,
            t0,
        );
        Harness {
            machine,
            states,
            session,
            t0,
        }
    }

    fn options() -> ClientOptions {
        ClientOptions::default().session_timeout(Duration::from_millis(TIMEOUT_MS as u64))
    }

    fn accepted(timeout: i32, session_id: i64) -> ConnectResponse {
        ConnectResponse {
            protocol_version: 0,
            timeout,
            session_id,
            passwd: vec![7; 16],
            read_only: Some(false),
        }
    }

    fn at(h: &Harness, ms: u64) -> Instant {
        h.t0 + Duration::from_millis(ms)
    }

    /// The (xid, opcode, body) of every request frame in the machine's output, which it
    /// then counts as written `ms` after the start.
    fn written(h: &mut Harness, ms: u64) -> Vec<(i32, i32, Vec<u8>)> {
        let mut out = BytesMut::from(h.machine.output());
        let now = at(h, ms);
        h.machine.wrote(now);
        let mut frames = Vec::new();
        while let Ok(Some(len)) = frame::check(&out, usize::MAX) {
            out.advance(4);
            let payload = out.split_to(len);
            let mut r = Reader::new(&payload);
            let header = RequestHeader::decode(&mut r).unwrap();
            frames.push((header.xid, header.op, r.rest().to_vec()));
        }
        assert!(out.is_empty(), "a partial frame was output");
        frames
    }

    fn reply(xid: i32, zxid: i64, err: i32, body: &[u8]) -> BytesMut {
        let mut out = Vec::new();
        frame::write(&mut out, |b| {
            ReplyHeader { xid, zxid, err }.encode(b);
            b.extend_from_slice(body);
        });
        BytesMut::from(&out[..])
    }

    type Reply = oneshot::Receiver<Result<RawReply, Error>>;

    fn get(path: &str) -> (Command, Reply) {
        let (tx, rx) = oneshot::channel();
        let cmd = Command::Request {
            request: Request::GetData(PathWatchRequest {
                path: path.to_owned(),
                watch: false,
            }),
            watch: None,
            reply: ReplyTo::Wait(tx),
        };
        (cmd, rx)
    }

    /// Submits a read that sets a one-shot data watch on `path`; the receiver gets the
    /// registration id once a reply registers it.
    fn watched(h: &mut Harness, exists: bool, path: &str) -> oneshot::Receiver<u64> {
        let (tx, _reply) = oneshot::channel();
        let (fired, _event) = oneshot::channel();
        let (registered_tx, registered) = oneshot::channel();
        let request = PathWatchRequest {
            path: path.to_owned(),
            watch: true,
        };
        h.machine
            .submit(Command::Request {
                request: if exists {
                    Request::Exists(request)
                } else {
                    Request::GetData(request)
                },
                watch: Some(WatchRequest {
                    kind: WatchKind::Data,
                    slot: super::super::watches::Slot::Once(fired),
                    registered: registered_tx,
                }),
                reply: ReplyTo::Wait(tx),
            })
            .unwrap_or_else(|_| panic!("submit"));
        registered
    }

    /// A connected machine with getData of /a (xid 1) and /b (xid 2) submitted.
    fn two_gets_in_flight() -> (Harness, Reply, Reply) {
        let mut h = harness(options(), None);
        connect(&mut h);
        let (first, first_rx) = get("/a");
        let (second, second_rx) = get("/b");
        h.machine.submit(first).ok();
        h.machine.submit(second).ok();
        (h, first_rx, second_rx)
    }

    fn connect(h: &mut Harness) {
        h.machine
            .connected(&accepted(TIMEOUT_MS, 0x55), h.t0)
            .unwrap_or_else(|_| panic!("the session was refused"));
    }

    #[test]
    fn an_idle_connection_pings_at_a_third_of_the_timeout_and_is_lost_at_two_thirds() {
        let mut h = harness(options(), None);
        connect(&mut h);
        assert_eq!(h.states.borrow().state, SessionState::Connected);
        assert!(written(&mut h, 0).is_empty());
        assert_eq!(h.machine.deadline(), Some(at(&h, 1000)));

        assert!(h.machine.tick(at(&h, 999)).is_ok());
        assert!(h.machine.output().is_empty(), "no ping before it is due");
        assert!(h.machine.tick(at(&h, 1000)).is_ok());
        assert_eq!(
            written(&mut h, 1000),
            vec![(PING_XID, OpCode::Ping.as_i32(), vec![])]
        );
        // The ping's answer is contact: the connection lives on past the first 2/3.
        let mut inbound = reply(PING_XID, 0, 0, &[]);
        assert!(h.machine.received(&mut inbound, at(&h, 1500)).is_ok());
        assert!(h.machine.tick(at(&h, 2000)).is_ok());
        assert_eq!(written(&mut h, 2000).len(), 1, "the next ping");
        assert_eq!(h.machine.deadline(), Some(at(&h, 3000)));

        // Nothing more comes: 2/3 of the timeout after the last reply, the connection is lost
        // and the requests on it fail with CONNECTIONLOSS.
        let (cmd, reply_rx) = get("/a");
        h.machine.submit(cmd).unwrap_or_else(|_| panic!("submit"));
        assert!(h.machine.tick(at(&h, 3499)).is_ok());
        assert!(matches!(h.machine.tick(at(&h, 3500)), Err(Ended::Lost)));
        assert!(matches!(
            reply_rx.blocking_recv(),
            Ok(Err(Error::ConnectionLoss))
        ));
    }

    #[test]
    fn the_session_expires_on_this_side_a_whole_timeout_after_the_last_contact() {
        let mut h = harness(options(), None);
        assert!(
            !h.machine.expired_locally(at(&h, 60_000)),
            "never connected"
        );
        connect(&mut h);
        let mut inbound = reply(PING_XID, 0, 0, &[]);
        h.machine.received(&mut inbound, at(&h, 1000)).ok();
        h.machine.tick(at(&h, 2999)).ok();
        assert!(matches!(h.machine.tick(at(&h, 3000)), Err(Ended::Lost)));
        h.machine.disconnected();
        assert_eq!(h.states.borrow().state, SessionState::Suspended);
        assert!(!h.machine.expired_locally(at(&h, 3999)));
        assert!(h.machine.expired_locally(at(&h, 4000)));
    }

    #[test]
    fn replies_complete_requests_in_order_and_record_the_zxid() {
        let (mut h, first_rx, second_rx) = two_gets_in_flight();
        let sent = written(&mut h, 0);
        assert_eq!(
            sent.iter().map(|f| (f.0, f.1)).collect::<Vec<_>>(),
            vec![(1, OpCode::GetData.as_i32()), (2, OpCode::GetData.as_i32())]
        );
        let mut inbound = reply(1, 10, 0, b"one");
        inbound.extend_from_slice(&reply(2, 12, ErrorCode::NoNode.as_i32(), &[]));
        h.machine.received(&mut inbound, at(&h, 5)).ok();
        let first = first_rx.blocking_recv().unwrap().unwrap();
        assert_eq!((first.header.xid, first.body.as_slice()), (1, &b"one"[..]));
        let second = second_rx.blocking_recv().unwrap().unwrap();
        assert_eq!(second.header.err, ErrorCode::NoNode.as_i32());
        assert_eq!(h.session.last_zxid.load(Ordering::Acquire), 12);
    }

    #[test]
    fn a_reply_out_of_order_loses_the_connection_and_fails_what_was_in_flight() {
        let (mut h, first_rx, second_rx) = two_gets_in_flight();
        written(&mut h, 0);
        let mut inbound = reply(2, 10, 0, &[]);
        assert!(matches!(
            h.machine.received(&mut inbound, at(&h, 5)),
            Err(Ended::Lost)
        ));
        for rx in [first_rx, second_rx] {
            assert!(matches!(rx.blocking_recv(), Ok(Err(Error::ConnectionLoss))));
        }
        assert_eq!(h.machine.deadline(), None, "no connection left");
    }

    #[test]
    fn a_partial_frame_waits_for_the_rest() {
        let mut h = harness(options(), None);
        connect(&mut h);
        let (cmd, mut rx) = get("/a");
        h.machine.submit(cmd).ok();
        written(&mut h, 0);
        let whole = reply(1, 3, 0, b"data");
        let mut inbound = BytesMut::from(&whole[..7]);
        h.machine.received(&mut inbound, at(&h, 1)).ok();
        assert!(rx.try_recv().is_err(), "not complete yet");
        inbound.extend_from_slice(&whole[7..]);
        h.machine.received(&mut inbound, at(&h, 2)).ok();
        assert_eq!(rx.try_recv().unwrap().unwrap().body, b"data");
    }

    #[test]
    fn a_resumed_session_sends_credentials_then_watches_then_what_was_queued() {
        let mut h = harness(options().auth("digest", b"u:p"), None);
        connect(&mut h);
        written(&mut h, 0);
        // A one-shot data watch registered by a reply.
        let mut registered_rx = watched(&mut h, false, "/w");
        written(&mut h, 0);
        let mut inbound = reply(1, 40, 0, b"");
        h.machine.received(&mut inbound, at(&h, 1)).ok();
        assert!(registered_rx.try_recv().is_ok(), "the watch was registered");

        // The connection drops; a request made meanwhile waits for the next one.
        h.machine.lose(Ended::Lost);
        h.machine.disconnected();
        let (queued, _queued_rx) = get("/q");
        h.machine.submit(queued).ok();
        assert!(h.machine.output().is_empty());
        assert_eq!(h.machine.connect_request().session_id, 0x55);
        assert_eq!(h.machine.connect_request().last_zxid_seen, 40);
        assert_eq!(h.machine.connect_request().passwd, vec![7; 16]);

        h.machine
            .connected(&accepted(TIMEOUT_MS, 0x55), at(&h, 100))
            .ok();
        let sent = written(&mut h, 100);
        let ops: Vec<(i32, i32)> = sent.iter().map(|f| (f.0, f.1)).collect();
        assert_eq!(
            ops,
            vec![
                (AUTH_XID, OpCode::Auth.as_i32()),
                (SET_WATCHES_XID, OpCode::SetWatches2.as_i32()),
                (2, OpCode::GetData.as_i32()),
            ]
        );
        let set_watches = SetWatches::decode_v(&mut Reader::new(&sent[1].2), true).unwrap();
        assert_eq!(set_watches.relative_zxid, 40);
        assert_eq!(set_watches.data_watches, vec!["/w".to_owned()]);
    }

    /// A SASL reply frame carrying `token`.
    fn sasl_reply(xid: i32, err: i32, token: &[u8]) -> BytesMut {
        let mut body = Vec::new();
        Response::Sasl {
            token: Some(token.to_vec()),
        }
        .encode(&mut body);
        reply(xid, 0, err, &body)
    }

    /// The token of a SASL request frame.
    fn sasl_token(frame: &(i32, i32, Vec<u8>)) -> Vec<u8> {
        assert_eq!(frame.1, OpCode::Sasl.as_i32());
        SaslRequest::decode(&mut Reader::new(&frame.2))
            .unwrap()
            .token
            .unwrap_or_default()
    }

    /// Plays the server's side of DIGEST-MD5 (users: bob/bobsecret) for the machine's
    /// requests written at `ms`; returns the frames that followed the exchange.
    fn serve_sasl(h: &mut Harness, ms: u64) -> Vec<(i32, i32, Vec<u8>)> {
        use crate::sasl::digest::DigestServer;
        let server = DigestServer::new(
            crate::sasl::REALM,
            "zookeeper/zk-sasl-md5",
            &DigestServer::random_nonce(),
        );
        let sent = written(h, ms);
        assert_eq!(sent.len(), 1, "only the first SASL token goes out");
        assert_eq!(sasl_token(&sent[0]), b"");
        let mut inbound = sasl_reply(sent[0].0, 0, &server.challenge());
        assert!(h.machine.received(&mut inbound, at(h, ms)).is_ok());
        let sent = written(h, ms);
        assert_eq!(sent.len(), 1, "the digest-response, alone");
        let verified = server
            .verify(&sasl_token(&sent[0]), |user| {
                (user == "bob").then_some("bobsecret")
            })
            .expect("the client's response checks out");
        let mut inbound = sasl_reply(sent[0].0, 0, &verified.rspauth);
        assert!(h.machine.received(&mut inbound, at(h, ms)).is_ok());
        written(h, ms)
    }

    fn sasl_options(password: &str) -> ClientOptions {
        options().sasl(crate::client::SaslOptions::digest_md5("bob", password))
    }

    #[test]
    fn sasl_runs_first_on_every_connection_and_holds_the_rest_until_it_succeeds() {
        let mut h = harness(sasl_options("bobsecret").auth("digest", b"u:p"), None);
        let (early, early_rx) = get("/early");
        h.machine.submit(early).ok();
        connect(&mut h);
        assert_eq!(h.states.borrow().state, SessionState::Connected);
        // A request made during the exchange waits too.
        let (during, _during_rx) = get("/during");
        h.machine.submit(during).ok();
        let after: Vec<(i32, i32)> = serve_sasl(&mut h, 0).iter().map(|f| (f.0, f.1)).collect();
        assert_eq!(h.states.borrow().state, SessionState::SaslAuthenticated);
        assert_eq!(
            after,
            vec![
                (AUTH_XID, OpCode::Auth.as_i32()),
                (3, OpCode::GetData.as_i32()),
                (4, OpCode::GetData.as_i32()),
            ],
            "credentials, then the queued requests in order, after SASL's xids 1 and 2"
        );
        let mut inbound = reply(3, 9, 0, b"e");
        h.machine.received(&mut inbound, at(&h, 1)).ok();
        assert_eq!(early_rx.blocking_recv().unwrap().unwrap().body, b"e");

        // Reconnected: Connected, the exchange again, then SaslAuthenticated.
        h.machine.lose(Ended::Lost);
        h.machine.disconnected();
        h.machine
            .connected(&accepted(TIMEOUT_MS, 0x55), at(&h, 100))
            .ok();
        assert_eq!(h.states.borrow().state, SessionState::Connected);
        let after = serve_sasl(&mut h, 100);
        assert_eq!(after.len(), 1, "the credentials again: {after:?}");
        assert_eq!(h.states.borrow().state, SessionState::SaslAuthenticated);
    }

    #[test]
    fn a_refused_sasl_exchange_ends_the_session_in_auth_failed() {
        for refusal in [
            ErrorCode::AuthFailed,
            ErrorCode::SessionClosedRequireSaslAuth,
        ] {
            let mut h = harness(sasl_options("wrong"), None);
            let (queued, queued_rx) = get("/q");
            h.machine.submit(queued).ok();
            connect(&mut h);
            let sent = written(&mut h, 0);
            let mut inbound = sasl_reply(sent[0].0, refusal.as_i32(), b"");
            assert!(matches!(
                h.machine.received(&mut inbound, at(&h, 1)),
                Err(Ended::AuthFailed)
            ));
            assert_eq!(h.states.borrow().state, SessionState::AuthFailed);
            h.machine.finish(
                SessionState::AuthFailed,
                KeeperState::AuthFailed,
                &Error::AuthFailed,
            );
            assert!(matches!(
                queued_rx.blocking_recv(),
                Ok(Err(Error::AuthFailed))
            ));
        }
    }

    #[test]
    fn a_server_that_cannot_prove_the_password_fails_the_exchange() {
        let mut h = harness(sasl_options("bobsecret"), None);
        connect(&mut h);
        let sent = written(&mut h, 0);
        let challenge =
            b"realm=\"zk-sasl-md5\",nonce=\"n\",qop=\"auth\",charset=utf-8,algorithm=md5-sess";
        let mut inbound = sasl_reply(sent[0].0, 0, challenge);
        assert!(h.machine.received(&mut inbound, at(&h, 1)).is_ok());
        let sent = written(&mut h, 1);
        let mut inbound = sasl_reply(sent[0].0, 0, b"rspauth=00000000000000000000000000000000");
        assert!(matches!(
            h.machine.received(&mut inbound, at(&h, 2)),
            Err(Ended::AuthFailed)
        ));
    }

    #[test]
    fn an_expired_answer_ends_the_session_and_an_auth_failure_is_reported_before_calls_fail() {
        let mut h = harness(options(), Some(0x99));
        assert!(matches!(
            h.machine.connected(&accepted(0, 0), h.t0),
            Err(Ended::Expired)
        ));

        let mut h = harness(options(), None);
        connect(&mut h);
        let (cmd, rx) = get("/a");
        h.machine.submit(cmd).ok();
        written(&mut h, 0);
        let mut inbound = reply(AUTH_XID, 0, ErrorCode::AuthFailed.as_i32(), &[]);
        assert!(matches!(
            h.machine.received(&mut inbound, at(&h, 1)),
            Err(Ended::AuthFailed)
        ));
        assert_eq!(h.states.borrow().state, SessionState::AuthFailed);
        assert!(matches!(rx.blocking_recv(), Ok(Err(Error::AuthFailed))));
    }

    #[test]
    fn a_handshake_waits_two_seconds_then_longer_up_to_the_session_timeout_per_host() {
        let long = ClientOptions::default().session_timeout(Duration::from_secs(40));
        let mut h = harness(long, None);
        assert_eq!(h.machine.attempt_wait(2), Duration::from_secs(2));
        h.machine.round_failed(2, false);
        assert_eq!(
            h.machine.attempt_wait(2),
            Duration::from_secs(2),
            "refused: no change"
        );
        let waits: Vec<u64> = (0..5)
            .map(|_| {
                h.machine.round_failed(2, true);
                h.machine.attempt_wait(2).as_secs()
            })
            .collect();
        assert_eq!(waits, vec![4, 8, 16, 20, 20], "capped at 40 s / 2 hosts");
        h.machine.connected(&accepted(10_000, 1), h.t0).ok();
        assert_eq!(h.machine.attempt_wait(2), Duration::from_secs(2), "reset");
        h.machine.round_failed(2, true);
        h.machine.round_failed(2, true);
        assert_eq!(
            h.machine.attempt_wait(2),
            Duration::from_secs(5),
            "the negotiated 10 s / 2 hosts bounds it now"
        );

        let fixed = options().connect_timeout(Duration::from_millis(700));
        let mut h = harness(fixed, None);
        h.machine.round_failed(2, true);
        assert_eq!(h.machine.attempt_wait(2), Duration::from_millis(700));
    }

    #[test]
    fn dropping_a_watch_while_disconnected_forgets_it_and_while_connected_tells_the_server() {
        let mut h = harness(options(), None);
        connect(&mut h);
        let mut registered_rx = watched(&mut h, true, "/gone");
        written(&mut h, 0);
        let mut inbound = reply(1, 5, ErrorCode::NoNode.as_i32(), &[]);
        h.machine.received(&mut inbound, at(&h, 1)).ok();
        let id = registered_rx
            .try_recv()
            .expect("an exists watch on a missing node registers");
        h.machine
            .submit(Command::DropWatch {
                kind: WatchKind::Exist,
                server_path: "/gone".to_owned(),
                id,
            })
            .ok();
        let sent = written(&mut h, 2);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].1, OpCode::RemoveWatches.as_i32());
        let request = WatchesRequest::decode(&mut Reader::new(&sent[0].2)).unwrap();
        assert_eq!(request.watcher_type, WatcherType::Any.as_i32());

        // Registered again, then dropped while disconnected: forgotten without a request,
        // and the next connection does not re-register it.
        let mut registered_rx = watched(&mut h, false, "/here");
        written(&mut h, 3);
        let mut inbound = reply(2, 5, 0, &[]);
        inbound.extend_from_slice(&reply(3, 6, 0, &[]));
        h.machine.received(&mut inbound, at(&h, 4)).ok();
        let id = registered_rx.try_recv().expect("registered");
        h.machine.lose(Ended::Lost);
        h.machine
            .submit(Command::DropWatch {
                kind: WatchKind::Data,
                server_path: "/here".to_owned(),
                id,
            })
            .ok();
        h.machine
            .connected(&accepted(TIMEOUT_MS, 0x55), at(&h, 10))
            .ok();
        assert!(
            written(&mut h, 10).is_empty(),
            "no SetWatches, nothing queued"
        );
    }
}
