//! [`Client`]: a cloneable async handle over one connection task.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use super::actor::Actor;
use super::command::{Command, RawReply, ReplyTo, StateCallback, WatchRequest};
use super::connect_string::{check_path, ConnectString};
use super::driver::{Driver, Submitter};
use super::error::{Error, Result};
use super::event::{SessionState, StateEvent, WatchedEvent};
use super::lend::LentReads;
use super::multi::{Op, OpResult, ReadOp, ReadResult};
use super::options::ClientOptions;
use super::session::{Session, SessionMachine};
use super::watches::{Slot, WatchKind};
use crate::proto::{
    Acl, AddWatchMode, AddWatchRequest, ClientInfo, CreateKind, CreateMode, CreateRequest,
    DeleteRequest, ErrorCode, MultiResult, OpCode, PathRequest, PathWatchRequest, ReconfigRequest,
    Request, Response, SetAclRequest, SetDataRequest, Stat,
};

/// A de-duplicated stream of a client's states (see [`Client::state_changes`]).
pub struct StateChanges {
    events: broadcast::Receiver<StateEvent>,
    // Not a Client clone: a stream must not keep the connection open.
    current: watch::Receiver<StateEvent>,
    last: SessionState,
    first: bool,
}

impl StateChanges {
    /// The next state different from the last one given; `None` after a terminal state
    /// (expired, auth failed, closed) has been given.
    pub async fn next(&mut self) -> Option<SessionState> {
        if self.last.is_terminal() {
            return None;
        }
        loop {
            let state = if std::mem::take(&mut self.first) {
                self.current.borrow().state
            } else {
                match self.events.recv().await {
                    Ok(event) => event.state,
                    // Too far behind: the current state is what matters now.
                    Err(broadcast::error::RecvError::Lagged(_)) => self.current.borrow().state,
                    Err(broadcast::error::RecvError::Closed) => {
                        let now = self.current.borrow().state;
                        if now == self.last {
                            return None;
                        }
                        now
                    }
                }
            };
            if state != self.last {
                self.last = state;
                return Some(state);
            }
        }
    }
}

/// A ZooKeeper client. Clones share one connection and session.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    submitter: Submitter,
    connect: ConnectString,
    options: ClientOptions,
    session: Arc<Session>,
    state: watch::Receiver<StateEvent>,
    transitions: broadcast::Sender<StateEvent>,
}

impl Client {
    /// Connects and waits until the session is established (or the session timeout passes).
    pub async fn connect(connect_string: &str, options: ClientOptions) -> Result<Client> {
        let client = Client::start(connect_string, options)?;
        client
            .wait_connected(client.inner.options.session_timeout)
            .await?;
        Ok(client)
    }

    /// Starts connecting in the background and returns at once; requests made before the
    /// session is established are queued.
    pub fn start(connect_string: &str, options: ClientOptions) -> Result<Client> {
        Client::start_actor(connect_string, options, None)
    }

    pub(crate) fn start_actor(
        connect_string: &str,
        options: ClientOptions,
        on_state: Option<StateCallback>,
    ) -> Result<Client> {
        let connect = ConnectString::parse(connect_string)?;
        let tls = options.tls.as_ref().map(|tls| tls.config()).transpose()?;
        if let Some(sasl) = &options.sasl {
            sasl.validate()?;
        }
        let (resume_id, resume_passwd) = options.session.clone().unwrap_or((0, Vec::new()));
        let session = Arc::new(Session {
            id: AtomicI64::new(resume_id),
            passwd: Mutex::new(resume_passwd),
            timeout_ms: AtomicI64::new(0),
            last_zxid: AtomicI64::new(0),
        });
        let initial = StateEvent {
            state: SessionState::Connecting,
            session_id: resume_id,
        };
        let (state_tx, state) = watch::channel(initial);
        let (transitions, _) = broadcast::channel(256);
        let driver = Driver::new(SessionMachine::new(
            connect.clone(),
            options.clone(),
            session.clone(),
            state_tx,
            transitions.clone(),
            on_state,
            std::time::Instant::now(),
        ));
        let submitter = Submitter::new(driver.clone());
        let actor = Actor {
            driver,
            tls,
            preferred: None,
        };
        super::runtime::spawn(actor.run());
        Ok(Client {
            inner: Arc::new(Inner {
                submitter,
                connect,
                options,
                session,
                state,
                transitions,
            }),
        })
    }

    /// Waits until connected (and, with SASL options, authenticated); fails if the session
    /// ends first (a SASL failure: [`Error::AuthFailed`]) or `timeout` passes.
    pub async fn wait_connected(&self, timeout: Duration) -> Result<()> {
        let mut state = self.inner.state.clone();
        let sasl = self.inner.options.sasl.is_some();
        let wait = async {
            loop {
                let current = state.borrow_and_update().state;
                match current {
                    SessionState::SaslAuthenticated => return Ok(()),
                    s if s.is_connected() && !sasl => return Ok(()),
                    SessionState::Expired => return Err(Error::SessionExpired),
                    SessionState::AuthFailed => return Err(Error::AuthFailed),
                    SessionState::Closed => return Err(Error::Closed),
                    _ => {}
                }
                if state.changed().await.is_err() {
                    return Err(Error::Closed);
                }
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .unwrap_or(Err(Error::Timeout))
    }

    pub fn state(&self) -> SessionState {
        self.inner.state.borrow().state
    }

    /// Every state change from now on, tagged with the session id.
    pub fn state_events(&self) -> broadcast::Receiver<StateEvent> {
        self.inner.transitions.subscribe()
    }

    /// The states this client goes through from now on, each once, starting with the
    /// current one unless it is still `Connecting`; what bindings forward to listeners.
    pub fn state_changes(&self) -> StateChanges {
        StateChanges {
            events: self.inner.transitions.subscribe(),
            current: self.inner.state.clone(),
            last: SessionState::Connecting,
            first: true,
        }
    }

    pub fn session_id(&self) -> i64 {
        self.inner.session.id.load(Ordering::Acquire)
    }

    /// Takes over the reads of the established connection for an event loop that waits
    /// for this client's replies (see [`LentReads`]); `None` when there is no connection,
    /// it is closing, or another thread reads it now.
    pub fn lend_reads(&self) -> Option<LentReads> {
        LentReads::take(self.inner.submitter.driver())
    }

    /// The same number for every handle of this client while any of them lives.
    pub fn identity(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
    }

    pub fn session_password(&self) -> Vec<u8> {
        self.inner.session.passwd.lock().clone()
    }

    /// The negotiated session timeout (zero before the first connect).
    pub fn session_timeout(&self) -> Duration {
        Duration::from_millis(self.inner.session.timeout_ms.load(Ordering::Acquire).max(0) as u64)
    }

    /// The last zxid this client has seen.
    pub fn last_zxid(&self) -> i64 {
        self.inner.session.last_zxid.load(Ordering::Acquire)
    }

    /// Closes the session (the server deletes its ephemerals) and ends every pending
    /// request with [`Error::Closed`].
    pub async fn close(&self) {
        let (reply, done) = oneshot::channel();
        if self.send(Command::Close { reply }).is_ok() {
            let _ = done.await;
        }
    }

    // ----- operations -----

    /// Creates a node in any mode, returning its path (with the sequence suffix) and Stat.
    pub async fn create(
        &self,
        path: &str,
        data: &[u8],
        acl: &[Acl],
        mode: CreateMode,
    ) -> Result<(String, Stat)> {
        let kind = if mode.is_container() {
            CreateKind::Container
        } else {
            CreateKind::Create2
        };
        self.create_kind(path, data, acl, mode, kind).await
    }

    /// Creates a TTL node (`PersistentWithTtl` or `PersistentSequentialWithTtl`).
    pub async fn create_ttl(
        &self,
        path: &str,
        data: &[u8],
        acl: &[Acl],
        mode: CreateMode,
        ttl: Duration,
    ) -> Result<(String, Stat)> {
        let ttl = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        self.create_kind(path, data, acl, mode, CreateKind::Ttl(ttl))
            .await
    }

    /// The general create: `data` may be null (`None`), which readers see as no data at all
    /// (Apache's zkCli prints `null`), and `ttl` makes a TTL node.
    pub async fn create_with(
        &self,
        path: &str,
        data: Option<&[u8]>,
        acl: &[Acl],
        mode: CreateMode,
        ttl: Option<Duration>,
    ) -> Result<(String, Stat)> {
        let kind = match ttl {
            Some(ttl) => CreateKind::Ttl(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)),
            None if mode.is_container() => CreateKind::Container,
            None => CreateKind::Create2,
        };
        self.create_request(path, data, acl, mode, kind).await
    }

    async fn create_kind(
        &self,
        path: &str,
        data: &[u8],
        acl: &[Acl],
        mode: CreateMode,
        kind: CreateKind,
    ) -> Result<(String, Stat)> {
        self.create_request(path, Some(data), acl, mode, kind).await
    }

    async fn create_request(
        &self,
        path: &str,
        data: Option<&[u8]>,
        acl: &[Acl],
        mode: CreateMode,
        kind: CreateKind,
    ) -> Result<(String, Stat)> {
        check_path(path, mode.is_sequential())?;
        let request = Request::Create(
            kind,
            CreateRequest {
                path: self.server_path(path),
                data: data.map(<[u8]>::to_vec),
                acl: acl.to_vec(),
                flags: mode.as_i32(),
            },
        );
        self.created(self.call(request).await?)
    }

    /// The path (chroot stripped) and Stat a create returned.
    pub(crate) fn created(&self, response: Response) -> Result<(String, Stat)> {
        match response {
            Response::Create2 { path, stat } => Ok((self.client_path(&path), stat)),
            Response::Create { path } => Ok((self.client_path(&path), Stat::default())),
            other => Err(unexpected(other)),
        }
    }

    /// Deletes a node; `version` -1 matches any.
    pub async fn delete(&self, path: &str, version: i32) -> Result<()> {
        check_path(path, false)?;
        let request = Request::Delete(DeleteRequest {
            path: self.server_path(path),
            version,
        });
        self.call(request).await.map(|_| ())
    }

    pub async fn exists(&self, path: &str) -> Result<Option<Stat>> {
        check_path(path, false)?;
        let request = Request::Exists(PathWatchRequest {
            path: self.server_path(path),
            watch: false,
        });
        stat_or_none(self.call(request).await)
    }

    /// Like [`Client::exists`], leaving a one-shot watch (fires on create, delete or change).
    pub async fn exists_watch(&self, path: &str) -> Result<(Option<Stat>, Watch)> {
        check_path(path, false)?;
        let request = Request::Exists(PathWatchRequest {
            path: self.server_path(path),
            watch: true,
        });
        let (result, watch) = self.call_watched(request, WatchKind::Data).await;
        Ok((stat_or_none(result)?, watch))
    }

    pub async fn get_data(&self, path: &str) -> Result<(Vec<u8>, Stat)> {
        check_path(path, false)?;
        let request = Request::GetData(PathWatchRequest {
            path: self.server_path(path),
            watch: false,
        });
        data_of(self.call(request).await?)
    }

    /// Like [`Client::get_data`], telling null data (`None`) from empty data.
    pub async fn get_data_nullable(&self, path: &str) -> Result<(Option<Vec<u8>>, Stat)> {
        check_path(path, false)?;
        let request = Request::GetData(PathWatchRequest {
            path: self.server_path(path),
            watch: false,
        });
        nullable_data_of(self.call(request).await?)
    }

    /// Like [`Client::get_data_watch`], telling null data (`None`) from empty data.
    pub async fn get_data_watch_nullable(
        &self,
        path: &str,
    ) -> Result<(Option<Vec<u8>>, Stat, Watch)> {
        check_path(path, false)?;
        let request = Request::GetData(PathWatchRequest {
            path: self.server_path(path),
            watch: true,
        });
        let (result, watch) = self.call_watched(request, WatchKind::Data).await;
        let (data, stat) = nullable_data_of(result?)?;
        Ok((data, stat, watch))
    }

    pub async fn get_data_watch(&self, path: &str) -> Result<(Vec<u8>, Stat, Watch)> {
        check_path(path, false)?;
        let request = Request::GetData(PathWatchRequest {
            path: self.server_path(path),
            watch: true,
        });
        let (result, watch) = self.call_watched(request, WatchKind::Data).await;
        let (data, stat) = data_of(result?)?;
        Ok((data, stat, watch))
    }

    pub async fn set_data(&self, path: &str, data: &[u8], version: i32) -> Result<Stat> {
        check_path(path, false)?;
        let request = Request::SetData(SetDataRequest {
            path: self.server_path(path),
            data: Some(data.to_vec()),
            version,
        });
        match self.call(request).await? {
            Response::Stat(stat) => Ok(stat),
            other => Err(unexpected(other)),
        }
    }

    pub async fn get_acl(&self, path: &str) -> Result<(Vec<Acl>, Stat)> {
        check_path(path, false)?;
        match self
            .call(Request::GetAcl(PathRequest {
                path: self.server_path(path),
            }))
            .await?
        {
            Response::GetAcl { acl, stat } => Ok((acl, stat)),
            other => Err(unexpected(other)),
        }
    }

    pub async fn set_acl(&self, path: &str, acl: &[Acl], version: i32) -> Result<Stat> {
        check_path(path, false)?;
        let request = Request::SetAcl(SetAclRequest {
            path: self.server_path(path),
            acl: acl.to_vec(),
            version,
        });
        match self.call(request).await? {
            Response::Stat(stat) => Ok(stat),
            other => Err(unexpected(other)),
        }
    }

    pub async fn get_children(&self, path: &str) -> Result<Vec<String>> {
        Ok(self.get_children2(path).await?.0)
    }

    /// Children with the parent's Stat.
    pub async fn get_children2(&self, path: &str) -> Result<(Vec<String>, Stat)> {
        check_path(path, false)?;
        let request = Request::GetChildren2(PathWatchRequest {
            path: self.server_path(path),
            watch: false,
        });
        children_of(self.call(request).await?)
    }

    pub async fn get_children_watch(&self, path: &str) -> Result<(Vec<String>, Stat, Watch)> {
        check_path(path, false)?;
        let request = Request::GetChildren2(PathWatchRequest {
            path: self.server_path(path),
            watch: true,
        });
        let (result, watch) = self.call_watched(request, WatchKind::Child).await;
        let (children, stat) = children_of(result?)?;
        Ok((children, stat, watch))
    }

    /// Waits until the server this client is connected to has applied everything the
    /// leader had committed when the sync arrived.
    pub async fn sync(&self, path: &str) -> Result<()> {
        check_path(path, false)?;
        self.call(Request::Sync(PathRequest {
            path: self.server_path(path),
        }))
        .await
        .map(|_| ())
    }

    /// Applies every op or none. On failure the error names the failing op and path.
    pub async fn multi(&self, ops: Vec<Op>) -> Result<Vec<OpResult>> {
        if ops.is_empty() {
            return Ok(Vec::new());
        }
        let (request, paths) = self.multi_request(ops)?;
        self.multi_outcome(&paths, self.call(request).await?)
    }

    /// The request for a non-empty multi, and the paths of its ops (for errors).
    pub(crate) fn multi_request(&self, ops: Vec<Op>) -> Result<(Request, Vec<String>)> {
        let paths: Vec<String> = ops.iter().map(|op| op.path().to_owned()).collect();
        let mut wire = Vec::with_capacity(ops.len());
        for op in ops {
            wire.push(op.into_wire(&self.inner.connect)?);
        }
        Ok((Request::Multi(wire), paths))
    }

    /// A multi's results, or the error naming its failed op.
    pub(crate) fn multi_outcome(
        &self,
        paths: &[String],
        response: Response,
    ) -> Result<Vec<OpResult>> {
        let results = match response {
            Response::Multi(results) => results,
            other => return Err(unexpected(other)),
        };
        let failed = results.iter().enumerate().find_map(|(i, r)| match r {
            MultiResult::Error(code)
                if *code != 0 && *code != ErrorCode::RuntimeInconsistency.as_i32() =>
            {
                Some((i, *code))
            }
            _ => None,
        });
        if let Some((index, code)) = failed {
            return Err(Error::Multi {
                index,
                path: paths.get(index).cloned().unwrap_or_default(),
                code: ErrorCode::from_i32(code).unwrap_or(ErrorCode::SystemError),
            });
        }
        Ok(results
            .into_iter()
            .map(|r| OpResult::from_wire(r, &self.inner.connect))
            .collect())
    }

    /// A builder for [`Client::multi`].
    pub fn transaction(&self) -> Transaction {
        Transaction {
            client: self.clone(),
            ops: Vec::new(),
        }
    }

    /// Reads several nodes in one round trip; each read succeeds or fails on its own.
    pub async fn multi_read(&self, ops: Vec<ReadOp>) -> Result<Vec<Result<ReadResult>>> {
        let wire = ops
            .iter()
            .map(|op| op.to_wire(&self.inner.connect))
            .collect::<Result<Vec<_>>>()?;
        match self.call(Request::MultiRead(wire)).await? {
            Response::Multi(results) => {
                Ok(results.into_iter().map(ReadResult::from_wire).collect())
            }
            other => Err(unexpected(other)),
        }
    }

    /// This session's ephemeral nodes whose path starts with `prefix` (`/` for all).
    pub async fn get_ephemerals(&self, prefix: &str) -> Result<Vec<String>> {
        let request = Request::GetEphemerals(PathRequest {
            path: self.server_path(prefix),
        });
        match self.call(request).await? {
            Response::Paths(paths) => Ok(paths.iter().map(|p| self.client_path(p)).collect()),
            other => Err(unexpected(other)),
        }
    }

    /// How many nodes are below `path`.
    pub async fn get_all_children_number(&self, path: &str) -> Result<i32> {
        check_path(path, false)?;
        match self
            .call(Request::GetAllChildrenNumber(PathRequest {
                path: self.server_path(path),
            }))
            .await?
        {
            Response::Count(n) => Ok(n),
            other => Err(unexpected(other)),
        }
    }

    pub async fn who_am_i(&self) -> Result<Vec<ClientInfo>> {
        match self.call(Request::WhoAmI).await? {
            Response::WhoAmI(infos) => Ok(infos),
            other => Err(unexpected(other)),
        }
    }

    /// Adds credentials to this session; they are sent again after every reconnect.
    pub async fn add_auth(&self, scheme: &str, auth: &[u8]) -> Result<()> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::AddAuth {
            scheme: scheme.to_owned(),
            auth: auth.to_vec(),
            reply,
        })?;
        rx.await.unwrap_or(Err(Error::Closed))?;
        // The server handles auth in order and closes the connection if it fails, so a
        // later round trip confirms it. Not a ping: Apache answers every ping with xid -2.
        let probe = Request::Exists(PathWatchRequest {
            path: self.server_path("/"),
            watch: false,
        });
        match self.call(probe).await {
            Ok(_) | Err(Error::Server(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Dynamic reconfiguration; returns the new configuration and its Stat.
    pub async fn reconfig(
        &self,
        joining: Option<&str>,
        leaving: Option<&str>,
        new_members: Option<&str>,
        from_config: i64,
    ) -> Result<(Vec<u8>, Stat)> {
        let request = Request::Reconfig(ReconfigRequest {
            joining_servers: joining.map(str::to_owned),
            leaving_servers: leaving.map(str::to_owned),
            new_members: new_members.map(str::to_owned),
            cur_config_id: from_config,
        });
        data_of(self.call(request).await?)
    }

    /// A persistent (or persistent-recursive) watch: a stream of events until dropped.
    pub async fn add_watch(&self, path: &str, mode: AddWatchMode) -> Result<PersistentWatch> {
        check_path(path, false)?;
        let kind = match mode {
            AddWatchMode::Persistent => WatchKind::Persistent,
            AddWatchMode::PersistentRecursive => WatchKind::PersistentRecursive,
        };
        let (tx, rx) = mpsc::channel(self.inner.options.watch_queue.max(1));
        let overflowed = Arc::new(AtomicBool::new(false));
        let (registered_tx, registered) = oneshot::channel();
        let server_path = self.server_path(path);
        let request = Request::AddWatch(AddWatchRequest {
            path: server_path.clone(),
            mode: mode.as_i32(),
        });
        let watch = WatchRequest {
            kind,
            slot: Slot::Stream {
                tx,
                overflowed: overflowed.clone(),
            },
            registered: registered_tx,
        };
        self.call_with(request, Some(watch)).await?;
        let id = registered.await.map_err(|_| Error::ConnectionLoss)?;
        Ok(PersistentWatch {
            rx,
            overflowed,
            _remover: Remover {
                submitter: self.inner.submitter.clone(),
                kind,
                server_path,
                id: Some(id),
            },
        })
    }

    // ----- plumbing -----

    pub(crate) fn server_path(&self, path: &str) -> String {
        self.inner.connect.to_server_path(path)
    }

    pub(crate) fn client_path(&self, path: &str) -> String {
        self.inner.connect.to_client_path(path)
    }

    pub(crate) fn connect_string(&self) -> &ConnectString {
        &self.inner.connect
    }

    /// Hands `cmd` to the session; if the session has ended, answers it with the reason
    /// at once and returns that.
    pub(crate) fn send(&self, cmd: Command) -> Result<()> {
        self.inner.submitter.send(cmd)
    }

    async fn call(&self, request: Request) -> Result<Response> {
        self.call_with(request, None).await
    }

    pub(crate) async fn call_with(
        &self,
        request: Request,
        watch: Option<WatchRequest>,
    ) -> Result<Response> {
        let op = request.op_code();
        let (reply, rx) = oneshot::channel();
        self.send(Command::Request {
            request,
            watch,
            reply: ReplyTo::Wait(reply),
        })?;
        let raw: RawReply = match self.inner.options.request_timeout {
            Some(limit) => tokio::time::timeout(limit, rx)
                .await
                .map_err(|_| Error::Timeout)?,
            None => rx.await,
        }
        .map_err(|_| Error::Closed)??;
        response_of(op, raw)
    }

    async fn call_watched(&self, request: Request, kind: WatchKind) -> (Result<Response>, Watch) {
        let (tx, event) = oneshot::channel();
        let (registered_tx, registered) = oneshot::channel();
        let server_path = match &request {
            Request::Exists(p) | Request::GetData(p) | Request::GetChildren2(p) => p.path.clone(),
            _ => String::new(),
        };
        let watch = WatchRequest {
            kind,
            slot: Slot::Once(tx),
            registered: registered_tx,
        };
        let result = self.call_with(request, Some(watch)).await;
        let id = registered.await.ok();
        // exists on a missing node registers an exist watch instead of a data watch.
        let kind =
            if kind == WatchKind::Data && matches!(result, Err(Error::Server(ErrorCode::NoNode))) {
                WatchKind::Exist
            } else {
                kind
            };
        let watch = Watch {
            event,
            remover: Remover {
                submitter: self.inner.submitter.clone(),
                kind,
                server_path,
                id,
            },
        };
        (result, watch)
    }
}

/// A one-shot watch: resolves once with the event (or a session event if the session ends).
/// Dropping it before it fires removes the watch from the server.
pub struct Watch {
    event: oneshot::Receiver<WatchedEvent>,
    remover: Remover,
}

impl Watch {
    /// Waits for the event.
    pub async fn changed(mut self) -> Result<WatchedEvent> {
        let result = (&mut self.event).await.map_err(|_| Error::Closed);
        self.remover.id = None;
        result
    }

    /// Whether the watch was registered on the server (a failed read registers nothing).
    pub fn is_registered(&self) -> bool {
        self.remover.id.is_some()
    }
}

/// The events of a persistent watch, until dropped (which removes it from the server).
pub struct PersistentWatch {
    rx: mpsc::Receiver<WatchedEvent>,
    overflowed: Arc<AtomicBool>,
    /// Held for its `Drop`, which removes the watch from the server.
    _remover: Remover,
}

/// A persistent watch's queue filled up and events were lost; resynchronise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("watch queue overflowed; events were dropped")]
pub struct Overflow;

impl PersistentWatch {
    /// The next event; `Err(Overflow)` once after events were dropped; `None` when the
    /// session has ended.
    pub async fn next(&mut self) -> Option<std::result::Result<WatchedEvent, Overflow>> {
        if self.overflowed.swap(false, Ordering::AcqRel) {
            return Some(Err(Overflow));
        }
        let event = self.rx.recv().await?;
        if event.state.as_i32() == crate::proto::KeeperState::Expired.as_i32()
            || event.state.as_i32() == crate::proto::KeeperState::Closed.as_i32()
        {
            self.rx.close();
        }
        Some(Ok(event))
    }
}

struct Remover {
    submitter: Submitter,
    kind: WatchKind,
    server_path: String,
    id: Option<u64>,
}

impl Drop for Remover {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            let _ = self.submitter.send(Command::DropWatch {
                kind: self.kind,
                server_path: std::mem::take(&mut self.server_path),
                id,
            });
        }
    }
}

/// Collects ops for one [`Client::multi`].
pub struct Transaction {
    client: Client,
    ops: Vec<Op>,
}

impl Transaction {
    pub fn create(mut self, path: &str, data: &[u8], acl: &[Acl], mode: CreateMode) -> Self {
        self.ops.push(Op::create(path, data, acl, mode));
        self
    }

    pub fn delete(mut self, path: &str, version: i32) -> Self {
        self.ops.push(Op::delete(path, version));
        self
    }

    pub fn set_data(mut self, path: &str, data: &[u8], version: i32) -> Self {
        self.ops.push(Op::set_data(path, data, version));
        self
    }

    pub fn check(mut self, path: &str, version: i32) -> Self {
        self.ops.push(Op::check(path, version));
        self
    }

    pub async fn commit(self) -> Result<Vec<OpResult>> {
        self.client.multi(self.ops).await
    }
}

/// Decodes a reply to a request of type `op`, mapping a non-zero error code.
pub(crate) fn response_of(op: OpCode, raw: RawReply) -> Result<Response> {
    if raw.header.err != 0 {
        let code = ErrorCode::from_i32(raw.header.err).unwrap_or(ErrorCode::SystemError);
        return Err(Error::from_code(code));
    }
    Response::decode(op, &raw.body).map_err(|e| Error::Protocol(e.to_string()))
}

pub(crate) fn unexpected(response: Response) -> Error {
    Error::Protocol(format!("unexpected reply {response:?}"))
}

pub(crate) fn stat_or_none(result: Result<Response>) -> Result<Option<Stat>> {
    match result {
        Ok(Response::Stat(stat)) => Ok(Some(stat)),
        Ok(other) => Err(unexpected(other)),
        Err(Error::Server(ErrorCode::NoNode)) => Ok(None),
        Err(e) => Err(e),
    }
}

fn data_of(response: Response) -> Result<(Vec<u8>, Stat)> {
    nullable_data_of(response).map(|(data, stat)| (data.unwrap_or_default(), stat))
}

pub(crate) fn nullable_data_of(response: Response) -> Result<(Option<Vec<u8>>, Stat)> {
    match response {
        Response::GetData { data, stat } => Ok((data, stat)),
        other => Err(unexpected(other)),
    }
}

pub(crate) fn children_of(response: Response) -> Result<(Vec<String>, Stat)> {
    match response {
        Response::Children2 { children, stat } => Ok((children, stat)),
        Response::Children(children) => Ok((children, Stat::default())),
        other => Err(unexpected(other)),
    }
}
