//! One client connection: the handshake, then requests in, replies and notifications out.
//!
//! Ordering: replies leave in request order. Reads run on this task against the tree; a
//! read that arrives while one of this session's writes is in flight waits (in `deferred`)
//! until the writer has answered every earlier write, so it sees them. Notifications are
//! queued by the writer while it holds the tree's write lock, and reads take the read lock
//! before queueing their reply, so a client always gets the event before any reply that
//! shows its effect.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use crate::proto::{
    frame, ConnectRequest, ConnectResponse, Decode, Encode, ErrorCode, Id, OpCode, Request,
    RequestHeader, Response, AUTH_XID,
};

pub mod handle;

use handle::auth_bytes;
pub use handle::Conn;

use super::acl;
use super::fourlw;
use super::quorum::{Ensemble, RevalidateError};
use super::reads;
use super::refusals;
use super::role::Role;
use super::sasl::{self, SaslExchange, Step};
use super::shared::{ReplyTo, Shared, WriteJob};
use super::state::Outcome;
use super::tls::{self, TlsAcceptor};
use super::txn::TxnBody;

/// Serves one accepted socket until it closes: as plaintext, or (`tls`) as TLS, or (with
/// port unification) as whichever its first byte says. The TLS handshake and the
/// ConnectRequest share one deadline, `nio.sessionlessCnxnTimeout` from the accept.
pub async fn accept(
    shared: Arc<Shared>,
    member: Option<Arc<Ensemble>>,
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<(Arc<TlsAcceptor>, Unification)>,
) {
    let _ = stream.set_nodelay(true);
    let deadline = tokio::time::Instant::now() + shared.opts.limits.sessionless_timeout;
    let Some((acceptor, unification)) = tls else {
        let (reader, writer) = stream.into_split();
        return serve(shared, member, reader, writer, peer, Vec::new(), deadline).await;
    };
    if unification == Unification::Sniff {
        let mut first = [0u8; 1];
        match tokio::time::timeout_at(deadline, stream.peek(&mut first)).await {
            Ok(Ok(1)) if first[0] == tls::TLS_HANDSHAKE_BYTE => {}
            Ok(Ok(1)) => {
                let (reader, writer) = stream.into_split();
                return serve(shared, member, reader, writer, peer, Vec::new(), deadline).await;
            }
            _ => return,
        }
    }
    let stream = match tokio::time::timeout_at(deadline, acceptor.acceptor().accept(stream)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            refusals::log_refusal(
                peer,
                &format!("TLS handshake failed: {e}; closing the connection"),
            );
            shared.stats.auth_failed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        Err(_) => {
            refusals::log_refusal(
                peer,
                "no TLS handshake within nio.sessionlessCnxnTimeout; closing the connection",
            );
            return;
        }
    };
    let ids = tls::peer_ids(
        stream.get_ref().1,
        acceptor.settings().super_user.as_deref(),
    );
    if let Some(id) = ids.iter().find(|id| id.scheme == "x509") {
        tracing::info!(peer = %peer, "Authenticated Id '{}' for Scheme 'x509'", id.id);
    }
    let (reader, writer) = tokio::io::split(stream);
    serve(shared, member, reader, writer, peer, ids, deadline).await;
}

/// Whether a TLS listener also takes plaintext (`client.portUnification`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unification {
    /// TLS only (`secureClientPort`).
    TlsOnly,
    /// Look at the first byte: a TLS handshake record, or plaintext.
    Sniff,
}

/// Serves one connection, given as its two halves, until it closes. Generic so that a
/// plain `TcpStream`'s halves are used directly, with no cost from TLS.
async fn serve<R, W>(
    shared: Arc<Shared>,
    member: Option<Arc<Ensemble>>,
    reader: R,
    writer: W,
    peer: SocketAddr,
    auth_ids: Vec<Id>,
    deadline: tokio::time::Instant,
) where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (conn, write_task) = Conn::open(
        shared.next_conn_id(),
        peer,
        writer,
        auth_ids,
        &shared.opts.limits,
        shared.stats.packets_sent.clone(),
    );
    shared.add_conn(&conn);
    let mut session = Session {
        shared: shared.clone(),
        member,
        conn: conn.clone(),
        reader,
        // Small: most sessions are idle most of the time, and grows as frames need.
        buf: BytesMut::with_capacity(512),
        deferred: VecDeque::new(),
        sasl: SaslExchange::default(),
    };
    if let Err(reason) = session.run(deadline).await {
        tracing::debug!(peer = %peer, reason, "closing connection");
    }
    conn.close();
    shared.remove_conn(conn.id);
    shared.watches().remove_conn(conn.id);
    let sid = conn.session();
    if sid != 0 {
        shared.tracker().detach(sid, conn.id);
    }
    let _ = write_task.await;
}

/// A request read while this session's writes were in flight: it waits for them.
struct Deferred {
    xid: i32,
    request: Request,
    received: Instant,
    size: usize,
}

/// The reading side of a connection and its ordering state.
struct Session<R> {
    shared: Arc<Shared>,
    /// This server's ensemble member; none standalone.
    member: Option<Arc<Ensemble>>,
    conn: Arc<Conn>,
    reader: R,
    buf: BytesMut,
    /// Requests waiting for this session's in-flight writes, with their sizes.
    deferred: VecDeque<Deferred>,
    /// This connection's SASL exchange.
    sasl: SaslExchange,
}

type Closing = &'static str;

/// What stops a connection from reading (see [`Session::throttled`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Throttle {
    Connection,
    Global,
}

/// How often a connection paused by `globalOutstandingLimit` looks again.
const GLOBAL_THROTTLE_RECHECK: std::time::Duration = std::time::Duration::from_millis(2);

impl<R: AsyncRead + Unpin + Send> Session<R> {
    async fn run(&mut self, deadline: tokio::time::Instant) -> Result<(), Closing> {
        let first = tokio::time::timeout_at(deadline, self.read_first_frame())
            .await
            .map_err(|_| "no handshake within nio.sessionlessCnxnTimeout")??;
        let Some(payload) = first else {
            return Ok(());
        };
        self.handshake(&payload).await?;
        loop {
            while self.throttled().is_none() {
                let Some(payload) = self.next_buffered_frame()? else {
                    break;
                };
                self.on_frame(&payload)?;
            }
            if self.conn.closing.load(Ordering::Acquire) {
                return Ok(());
            }
            if self.conn.backlog.broken.load(Ordering::Acquire) {
                return Err("write error");
            }
            match self.throttled() {
                // Not reading is the backpressure: the client's sends block once the socket
                // buffers fill, and nothing more is held here for it.
                Some(Throttle::Global) => {
                    // Waiters on the whole server's count are many; they look again shortly
                    // rather than each being woken by every answered write.
                    tokio::select! {
                        () = tokio::time::sleep(GLOBAL_THROTTLE_RECHECK) => {}
                        () = self.conn.wake.notified() => {}
                    }
                }
                Some(Throttle::Connection) => {
                    tokio::select! {
                        () = self.conn.backlog.drained.notified() => {}
                        () = self.conn.wake.notified() => {}
                    }
                }
                None => {
                    tokio::select! {
                        read = self.reader.read_buf(&mut self.buf) => {
                            if read.map_err(|_| "read error")? == 0 {
                                return Err("client closed the connection");
                            }
                        }
                        () = self.conn.wake.notified() => {}
                    }
                }
            }
            self.drain_deferred()?;
        }
    }

    /// Why this connection should read no new request now, if it should not: its own
    /// backlog (a slow reader, too many writes or waiting requests of its own), or too many
    /// writes in flight on the whole server (`globalOutstandingLimit`).
    fn throttled(&self) -> Option<Throttle> {
        let limits = &self.shared.opts.limits;
        if self.conn.backlog.is_full()
            || self.conn.inflight_bytes.load(Ordering::Acquire) >= limits.conn_inflight_write_bytes
            || self.deferred.len() >= limits.conn_deferred_requests
        {
            return Some(Throttle::Connection);
        }
        let outstanding = self.shared.stats.outstanding.load(Ordering::Relaxed);
        if outstanding >= 0 && outstanding as usize >= limits.global_outstanding {
            return Some(Throttle::Global);
        }
        None
    }

    /// Reads until at least `len` bytes are buffered.
    async fn fill_to(&mut self, len: usize, closed: Closing) -> Result<(), Closing> {
        while self.buf.len() < len {
            let read = self.reader.read_buf(&mut self.buf).await;
            if read.map_err(|_| "read error")? == 0 {
                return Err(closed);
            }
        }
        Ok(())
    }

    /// Reads the first frame, or answers a four-letter word (`None`).
    async fn read_first_frame(&mut self) -> Result<Option<Vec<u8>>, Closing> {
        self.fill_to(4, "closed before the handshake").await?;
        let word: [u8; 4] = [self.buf[0], self.buf[1], self.buf[2], self.buf[3]];
        if let Some(cmd) = fourlw::recognise(&word) {
            self.conn.stats.four_letter.store(true, Ordering::Relaxed);
            self.packet_received(4);
            let mut mask = None;
            if fourlw::takes_mask(&self.shared, cmd) {
                self.fill_to(12, "closed before the stmk mask").await?;
                mask = Some(i64::from_be_bytes([
                    self.buf[4],
                    self.buf[5],
                    self.buf[6],
                    self.buf[7],
                    self.buf[8],
                    self.buf[9],
                    self.buf[10],
                    self.buf[11],
                ]));
            }
            let text = fourlw::run(&self.shared, self.member.as_deref(), cmd, mask);
            if !text.is_empty() {
                self.conn.send(text.into_bytes());
            }
            self.conn.close();
            return Ok(None);
        }
        loop {
            if let Some(payload) = self.next_buffered_frame()? {
                self.packet_received(payload.len() + 4);
                self.shared
                    .stats
                    .connection_requests
                    .fetch_add(1, Ordering::Relaxed);
                return Ok(Some(payload));
            }
            let want = self.buf.len() + 1;
            self.fill_to(want, "closed before the handshake").await?;
        }
    }

    /// Counts a packet read from the client (`ServerCnxn.packetReceived`).
    fn packet_received(&self, bytes: usize) {
        self.shared
            .stats
            .packets_received
            .fetch_add(1, Ordering::Relaxed);
        self.shared
            .stats
            .bytes_received
            .fetch_add(bytes as u64, Ordering::Relaxed);
        self.conn.stats.received.fetch_add(1, Ordering::Relaxed);
    }

    fn next_buffered_frame(&mut self) -> Result<Option<Vec<u8>>, Closing> {
        match frame::check(&self.buf, self.shared.opts.max_buffer) {
            Ok(Some(len)) => {
                self.buf.advance(4);
                let payload = self.buf.split_to(len).to_vec();
                Ok(Some(payload))
            }
            Ok(None) => Ok(None),
            Err(e) => {
                tracing::warn!(peer = %self.conn.peer, "{e}; closing the connection");
                Err("bad frame length")
            }
        }
    }

    async fn handshake(&mut self, payload: &[u8]) -> Result<(), Closing> {
        let req = ConnectRequest::from_bytes(payload).map_err(|_| "malformed ConnectRequest")?;
        let shared = self.shared.clone();
        let last_zxid = shared.read_state().last_zxid;
        if req.last_zxid_seen > last_zxid {
            tracing::info!(
                peer = %self.conn.peer,
                "refusing session: client has seen zxid 0x{:x}, this server is at 0x{:x}; client must try another server",
                req.last_zxid_seen, last_zxid
            );
            return Err("client is ahead of this server");
        }
        let timeout = shared.opts.negotiate_timeout(req.timeout);
        if shared.role.get() == Role::ReadOnly {
            return self.read_only_handshake(&req, timeout);
        }
        let read_only = req.read_only.map(|_| false);
        if req.session_id == 0 {
            let session_id = shared.next_session_id();
            let passwd: Vec<u8> = (0..16).map(|_| rand::random::<u8>()).collect();
            let (tx, rx) = oneshot::channel();
            shared.submit(WriteJob {
                session_id,
                body: TxnBody::CreateSession { timeout, passwd },
                reply: ReplyTo::Handshake(tx),
            });
            match rx.await {
                Ok(Outcome::SessionCreated {
                    session_id,
                    timeout,
                    passwd,
                }) => self.established(session_id, timeout, passwd, read_only),
                _ => Err("session could not be created"),
            }
        } else {
            let mut known = shared
                .read_state()
                .sessions
                .get(&req.session_id)
                .map(|s| s.passwd.clone());
            let mut revalidated = false;
            if let (None, Some(ensemble)) = (&known, self.member.clone()) {
                // Not applied here yet, perhaps: a client whose only reply was the handshake
                // reconnects with lastZxidSeen 0, so the zxid check above does not hold it
                // back from a member that lags. The leader knows every committed session.
                match ensemble.revalidate(req.session_id, &req.passwd).await {
                    Ok(()) => {
                        known = ensemble.applied_session(req.session_id).await;
                        if known.is_none() {
                            return Err("session not applied here in time");
                        }
                        revalidated = true;
                    }
                    Err(RevalidateError::Expired) => {}
                    Err(RevalidateError::Unavailable(e)) => {
                        tracing::info!(peer = %self.conn.peer, "cannot take over session 0x{:x}: {e}", req.session_id);
                        return Err("session could not be revalidated with the leader");
                    }
                }
            }
            let live = shared.tracker().is_live(req.session_id);
            match known {
                Some(passwd) if live && passwd == req.passwd => {
                    if let (false, Some(ensemble)) = (revalidated, self.member.clone()) {
                        if let Err(e) = ensemble.revalidate(req.session_id, &req.passwd).await {
                            tracing::info!(peer = %self.conn.peer, "cannot take over session 0x{:x}: {e}", req.session_id);
                            if e == RevalidateError::Expired {
                                return self.session_expired(&req);
                            }
                            return Err("session could not be revalidated with the leader");
                        }
                    }
                    let previous = {
                        let mut tracker = shared.tracker();
                        tracker.set_timeout(req.session_id, timeout, Instant::now());
                        tracker.attach(req.session_id, self.conn.id)
                    };
                    if let Some(old) = previous.and_then(|id| shared.conn(id)) {
                        old.close();
                    }
                    self.established(req.session_id, timeout, passwd, read_only)
                }
                _ => self.session_expired(&req),
            }
        }
    }

    /// Tells the client its session expired (or its password is wrong), as Apache does.
    fn session_expired(&mut self, req: &ConnectRequest) -> Result<(), Closing> {
        let mut out = Vec::new();
        frame::write(&mut out, |b| {
            ConnectResponse::expired(req.read_only).encode(b)
        });
        self.conn.send(out);
        Err("session expired or password wrong")
    }

    /// A session on a server cut off from the quorum: only for clients that allow read-only
    /// mode. A new one is local to this server (nothing can be logged); a known one keeps its
    /// id. Either way the client is told it is read-only.
    fn read_only_handshake(&mut self, req: &ConnectRequest, timeout: i32) -> Result<(), Closing> {
        if req.read_only != Some(true) {
            tracing::info!(peer = %self.conn.peer, "refusing a session from a client that does not allow read-only mode");
            return Err("read-only server, read-write client");
        }
        let shared = self.shared.clone();
        let (session_id, passwd) = if req.session_id == 0 {
            let passwd: Vec<u8> = (0..16).map(|_| rand::random::<u8>()).collect();
            (shared.next_session_id(), passwd)
        } else {
            let known = shared
                .read_state()
                .sessions
                .get(&req.session_id)
                .map(|s| s.passwd.clone());
            match known {
                Some(passwd) if passwd == req.passwd => (req.session_id, passwd),
                _ => {
                    let mut out = Vec::new();
                    frame::write(&mut out, |b| {
                        ConnectResponse::expired(req.read_only).encode(b)
                    });
                    self.conn.send(out);
                    return Err("session expired or password wrong");
                }
            }
        };
        shared
            .tracker()
            .register(session_id, timeout, Instant::now());
        self.conn.read_only.store(true, Ordering::Release);
        self.established(session_id, timeout, passwd, Some(true))
    }

    fn established(
        &mut self,
        session_id: i64,
        timeout: i32,
        passwd: Vec<u8>,
        read_only: Option<bool>,
    ) -> Result<(), Closing> {
        self.conn.session_id.store(session_id, Ordering::Release);
        self.conn.timeout_ms.store(timeout, Ordering::Release);
        self.shared.tracker().attach(session_id, self.conn.id);
        let mut out = Vec::new();
        frame::write(&mut out, |b| {
            ConnectResponse {
                protocol_version: 0,
                timeout,
                session_id,
                passwd,
                read_only,
            }
            .encode(b)
        });
        self.conn.send(out);
        Ok(())
    }

    fn on_frame(&mut self, payload: &[u8]) -> Result<(), Closing> {
        let received = Instant::now();
        self.packet_received(payload.len() + 4);
        let mut r = crate::proto::Reader::new(payload);
        let header = RequestHeader::decode(&mut r).map_err(|_| "malformed request header")?;
        let sid = self.conn.session();
        if !self.shared.tracker().touch(sid, received) {
            return Err("session is closed");
        }
        let Some(op) = OpCode::from_i32(header.op) else {
            self.conn.reply(
                header.xid,
                self.shared.last_zxid(),
                &Err(ErrorCode::Unimplemented),
            );
            return Err("unknown opcode");
        };
        let request = match Request::decode(header.op, r.rest()) {
            Ok(request) => request,
            Err(e) => {
                tracing::warn!(peer = %self.conn.peer, ?op, "undecodable request: {e}");
                self.conn.reply(
                    header.xid,
                    self.shared.last_zxid(),
                    &Err(ErrorCode::MarshallingError),
                );
                return Err("undecodable request");
            }
        };
        if !matches!(op, OpCode::Auth | OpCode::Sasl) && self.shared.opts.enforce_auth.enabled() {
            let ids = self.conn.auth();
            if !self.shared.opts.enforce_auth.allows(&ids) {
                let held: Vec<&str> = ids.iter().map(|id| id.scheme.as_str()).collect();
                sasl::log_refusal(
                    self.conn.peer,
                    &format!(
                        "client authentication scheme(s) {held:?} match none of the required {:?}; closing the session",
                        self.shared.opts.enforce_auth.schemes
                    ),
                );
                self.shared
                    .stats
                    .auth_failed
                    .fetch_add(1, Ordering::Relaxed);
                self.conn
                    .reply(header.xid, 0, &Err(ErrorCode::SessionClosedRequireSaslAuth));
                return Err("authentication required");
            }
        }
        // An auth packet is answered with xid -4 whatever xid it came with, and is not timed,
        // so it leaves nothing behind to match a reply.
        if op != OpCode::Auth {
            self.conn.stats.request_started(header.xid, received);
        }
        *self.conn.stats.last_op.lock() = op_abbrev(op);
        let size = payload.len();
        if !self.deferred.is_empty()
            || (self.conn.outstanding() > 0 && !goes_through_log(&self.shared, &request))
        {
            self.deferred.push_back(Deferred {
                xid: header.xid,
                request,
                received,
                size,
            });
            return Ok(());
        }
        self.dispatch(header.xid, request, received, size)
    }

    fn drain_deferred(&mut self) -> Result<(), Closing> {
        while self.conn.outstanding() == 0 && !self.conn.backlog.is_full() {
            let Some(next) = self.deferred.pop_front() else {
                return Ok(());
            };
            self.dispatch(next.xid, next.request, next.received, next.size)?;
        }
        Ok(())
    }

    fn dispatch(
        &mut self,
        xid: i32,
        request: Request,
        received: Instant,
        size: usize,
    ) -> Result<(), Closing> {
        let shared = &self.shared;
        match request {
            Request::Check(_) => {
                self.conn
                    .reply(xid, shared.last_zxid(), &Err(ErrorCode::Unimplemented));
                Err("check outside multi")
            }
            Request::Auth(packet) => {
                match acl::authenticate(
                    shared.opts.acl.super_digest.as_deref(),
                    &packet.scheme,
                    packet.auth.as_deref().unwrap_or_default(),
                ) {
                    Ok(ids) => {
                        if let Err(why) = self.conn.add_auth_ids(ids, &shared.opts.limits) {
                            tracing::warn!(peer = %self.conn.peer, "refusing addauth: {why}");
                            shared.stats.auth_failed.fetch_add(1, Ordering::Relaxed);
                            self.conn.reply(AUTH_XID, 0, &Err(ErrorCode::AuthFailed));
                            return Err("too many or too large auth ids");
                        }
                        self.conn.reply(AUTH_XID, 0, &Ok(Response::Empty));
                        Ok(())
                    }
                    Err(code) => {
                        shared.stats.auth_failed.fetch_add(1, Ordering::Relaxed);
                        self.conn.reply(AUTH_XID, 0, &Err(code));
                        Err("authentication failed")
                    }
                }
            }
            Request::Sasl(req) => self.sasl(xid, req.token.as_deref().unwrap_or_default()),
            Request::CloseSession if self.conn.read_only.load(Ordering::Acquire) => {
                // Nothing was logged for a read-only session; it ends with its connection.
                let session = self.conn.session();
                if !shared.read_state().sessions.contains_key(&session) {
                    shared.tracker().remove(session);
                }
                self.conn
                    .reply(xid, shared.last_zxid(), &Ok(Response::Empty));
                Err("read-only session closed")
            }
            Request::CloseSession => {
                shared.tracker().mark_closing(self.conn.session());
                self.submit_write(xid, TxnBody::CloseSession, received, size);
                Ok(())
            }
            request if self.conn.read_only.load(Ordering::Acquire) && is_write(&request) => {
                self.conn
                    .reply(xid, shared.last_zxid(), &Err(ErrorCode::NotReadOnly));
                shared.stats.record_update_latency(received);
                Ok(())
            }
            request
                if goes_through_log(shared, &request)
                    && !self.conn.read_only.load(Ordering::Acquire) =>
            {
                let auth = self.conn.auth();
                let txn_bytes = TXN_OVERHEAD + size + auth_bytes(&auth);
                if txn_bytes > LOGGABLE_TXN_BYTES {
                    tracing::warn!(
                        peer = %self.conn.peer,
                        "refusing a write whose transaction would be {txn_bytes} bytes, over the log's record limit"
                    );
                    self.conn
                        .reply(xid, shared.last_zxid(), &Err(ErrorCode::BadArguments));
                    shared.stats.record_update_latency(received);
                    return Ok(());
                }
                let body = TxnBody::Write { auth, request };
                self.submit_write(xid, body, received, size);
                Ok(())
            }
            request => {
                reads::answer(shared, &self.conn, xid, &request);
                shared.stats.record_latency(received);
                Ok(())
            }
        }
    }

    /// One SASL token (see [`sasl`]). A failure is answered AUTHFAILED (or
    /// SESSIONCLOSEDREQUIRESASLAUTH when `sasl` is enforced) and closes the connection.
    fn sasl(&mut self, xid: i32, token: &[u8]) -> Result<(), Closing> {
        let shared = self.shared.clone();
        let Some(opts) = &shared.opts.sasl else {
            sasl::log_refusal(
                self.conn.peer,
                "SASL request refused: no JAAS configuration (-Djava.security.auth.login.config)",
            );
            self.conn.reply(xid, 0, &Err(ErrorCode::AuthFailed));
            return Ok(());
        };
        let failed = match self.sasl.step(opts, token) {
            Ok(Step::Continue(token)) => {
                self.conn
                    .reply(xid, 0, &Ok(Response::Sasl { token: Some(token) }));
                return Ok(());
            }
            Ok(Step::Done { token, user }) => {
                match self
                    .conn
                    .add_auth_ids(opts.ids_for(&user), &shared.opts.limits)
                {
                    Ok(()) => {
                        tracing::info!(
                            peer = %self.conn.peer,
                            "Session 0x{:x}: adding SASL authorization for authorizationID: {user}{}",
                            self.conn.session(),
                            if opts.super_users.contains(&user) { " (super user)" } else { "" }
                        );
                        self.conn
                            .reply(xid, 0, &Ok(Response::Sasl { token: Some(token) }));
                        return Ok(());
                    }
                    Err(why) => why,
                }
            }
            Err(e) => e.to_string(),
        };
        sasl::log_refusal(
            self.conn.peer,
            &format!("client failed to SASL authenticate: {failed}; closing the connection"),
        );
        shared.stats.auth_failed.fetch_add(1, Ordering::Relaxed);
        let code = if shared.opts.enforce_auth.requires_sasl() {
            ErrorCode::SessionClosedRequireSaslAuth
        } else {
            ErrorCode::AuthFailed
        };
        self.conn.reply(xid, 0, &Err(code));
        Err("SASL authentication failed")
    }

    fn submit_write(&mut self, xid: i32, body: TxnBody, received: Instant, size: usize) {
        self.conn.write_started(size);
        self.shared.submit(WriteJob {
            session_id: self.conn.session(),
            body,
            reply: ReplyTo::Conn {
                conn: self.conn.clone(),
                xid,
                received,
            },
        });
    }
}

/// A txn's bytes besides its request and auth ids (header, tag, lengths), generously.
const TXN_OVERHEAD: usize = 256;

/// The largest txn the write path takes: the log's record limit, less room for the framing
/// an ensemble's log entry adds around it.
const LOGGABLE_TXN_BYTES: usize = super::persist::MAX_RECORD_BYTES - 64 * 1024;

fn is_write(request: &Request) -> bool {
    request.op_code().is_write()
}

/// Writes, and in an ensemble `sync`: a sync is a barrier entry in the log, answered once this
/// server has applied everything the leader committed before it.
fn goes_through_log(shared: &Shared, request: &Request) -> bool {
    is_write(request) || (matches!(request, Request::Sync(_)) && shared.opts.ensemble.is_some())
}

/// The short names `cons` prints for the last operation.
fn op_abbrev(op: OpCode) -> &'static str {
    match op {
        OpCode::Create | OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => "CREA",
        OpCode::Delete | OpCode::DeleteContainer => "DELE",
        OpCode::Exists => "EXIS",
        OpCode::GetData => "GETD",
        OpCode::SetData => "SETD",
        OpCode::GetAcl => "GETA",
        OpCode::SetAcl => "SETA",
        OpCode::GetChildren => "GETC",
        OpCode::GetChildren2 => "GETC",
        OpCode::Sync => "SYNC",
        OpCode::Ping => "PING",
        OpCode::Multi => "MULT",
        OpCode::MultiRead => "MLTR",
        OpCode::SetWatches | OpCode::SetWatches2 => "SETW",
        OpCode::CloseSession => "CLOS",
        OpCode::Auth => "AUTH",
        OpCode::Sasl => "SASL",
        _ => "NA",
    }
}
