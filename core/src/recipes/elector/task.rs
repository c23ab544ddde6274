//! The elector's task: one loop that owns the session, runs Hadoop's state machine and
//! talks to the application through events. Commands from [`ActiveStandbyElector`]
//! (`super`) are served between steps; what the elector waits for on ZooKeeper is kept as
//! one pending operation, so a command or a session event never loses a reply.
//!
//! [`ActiveStandbyElector`]: super::ActiveStandbyElector

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, oneshot, watch};

use super::{ElectorConfig, ElectorEvent, ElectorState, Reply, BREADCRUMB_NODE, LOCK_NODE};
use crate::client::{Client, Error, Result, SessionState, StateEvent, Watch, WatchedEvent};
use crate::proto::{Acl, CreateMode, ErrorCode, EventType, Stat};
use crate::recipes::util;

pub(super) type Answer<T> = oneshot::Sender<Result<T>>;

pub(super) enum Command {
    Join(Vec<u8>),
    Quit { need_fence: bool, done: Answer<()> },
    Cede { period: Duration, done: Answer<()> },
    EnsureParent(Answer<()>),
    ParentExists(Answer<bool>),
    ClearParent(Answer<()>),
    ActiveData(Answer<Option<Vec<u8>>>),
    Close(Answer<()>),
}

/// Starts the task for an elector with `config`.
pub(super) fn spawn(
    config: ElectorConfig,
    commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<ElectorEvent>,
    state_tx: watch::Sender<ElectorState>,
    session_id: Arc<AtomicI64>,
) {
    let actor = Actor {
        lock_path: util::join(&config.parent, LOCK_NODE),
        breadcrumb_path: util::join(&config.parent, BREADCRUMB_NODE),
        config,
        commands,
        events,
        state_tx,
        session_id,
        session: None,
        app_data: None,
        want: false,
        state: ElectorState::Init,
        op: None,
        create_retries: 0,
        monitor_retries: 0,
        connect_attempt: 0,
    };
    crate::client::runtime::spawn(actor.run());
}

/// The current session and its state changes.
struct Session {
    client: Client,
    events: broadcast::Receiver<StateEvent>,
    disconnected: bool,
}

/// What the elector is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpKind {
    /// Opening a session to join with.
    Connect,
    /// The create of the lock.
    Create,
    /// The exists (with watch) of the lock.
    Monitor,
    /// The lock's watch.
    Watch,
    /// A pause before joining again (after a failure to become active, or a cede).
    Pause,
}

enum Outcome {
    Connected(Result<(Client, broadcast::Receiver<StateEvent>)>),
    Created(Result<(String, Stat)>),
    Monitored(Result<(Option<Stat>, Watch)>),
    LockChanged(Result<WatchedEvent>),
    Resume,
}

type Op = Pin<Box<dyn Future<Output = Outcome> + Send>>;

struct Actor {
    config: ElectorConfig,
    lock_path: String,
    breadcrumb_path: String,
    commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<ElectorEvent>,
    state_tx: watch::Sender<ElectorState>,
    session_id: Arc<AtomicI64>,
    session: Option<Session>,
    /// The data given to the last `join` (Hadoop's `appData`).
    app_data: Option<Vec<u8>>,
    /// Hadoop's `wantToBeInElection`.
    want: bool,
    state: ElectorState,
    op: Option<(OpKind, Op)>,
    create_retries: u32,
    monitor_retries: u32,
    connect_attempt: u32,
}

impl Actor {
    async fn run(mut self) {
        loop {
            tokio::select! {
                biased;
                command = self.commands.recv() => match command {
                    Some(Command::Close(done)) => {
                        self.reset().await;
                        let _ = done.send(Ok(()));
                        return;
                    }
                    Some(command) => self.on_command(command).await,
                    None => {
                        self.reset().await;
                        return;
                    }
                },
                state = next_state(&mut self.session) => self.on_state(state).await,
                outcome = next_outcome(&mut self.op) => {
                    self.op = None;
                    self.on_outcome(outcome).await;
                }
            }
        }
    }

    // ----- commands -----

    async fn on_command(&mut self, command: Command) {
        match command {
            Command::Join(data) => {
                if self.want {
                    tracing::info!(parent = %self.config.parent, "already in the election");
                    return;
                }
                self.app_data = Some(data);
                self.join_election();
            }
            Command::Quit { need_fence, done } => {
                self.quit(need_fence).await;
                let _ = done.send(Ok(()));
            }
            Command::Cede { period, done } => {
                self.cede(period).await;
                let _ = done.send(Ok(()));
            }
            Command::EnsureParent(done) => {
                let _ = done.send(self.ensure_parent().await);
            }
            Command::ParentExists(done) => {
                let result = match self.admin_client().await {
                    Ok(client) => {
                        let parent = &self.config.parent;
                        with_retries(self.config.max_retries, || client.exists(parent))
                            .await
                            .map(|stat| stat.is_some())
                    }
                    Err(e) => Err(e),
                };
                let _ = done.send(result);
            }
            Command::ClearParent(done) => {
                let _ = done.send(self.clear_parent().await);
            }
            Command::ActiveData(done) => {
                let result = match self.admin_client().await {
                    Ok(client) => {
                        let lock = &self.lock_path;
                        match with_retries(self.config.max_retries, || client.get_data(lock)).await
                        {
                            Ok((data, _)) => Ok(Some(data)),
                            Err(Error::Server(ErrorCode::NoNode)) => Ok(None),
                            Err(e) => Err(e),
                        }
                    }
                    Err(e) => Err(e),
                };
                let _ = done.send(result);
            }
            Command::Close(_) => unreachable!("handled by run"),
        }
    }

    async fn quit(&mut self, need_fence: bool) {
        tracing::info!(parent = %self.config.parent, need_fence, "leaving the election");
        if !need_fence && self.state == ElectorState::Active {
            self.delete_own_breadcrumb().await;
        }
        self.reset().await;
    }

    async fn cede(&mut self, period: Duration) {
        if period.is_zero() {
            if matches!(self.op, Some((OpKind::Pause, _))) {
                self.join_election();
            }
            return;
        }
        let was_in = self.want;
        let mut need_fence = false;
        if self.state == ElectorState::Active {
            need_fence = !ask(&self.events, ElectorEvent::BecomeStandby).await;
            if need_fence {
                tracing::warn!(
                    "the service did not confirm it is standby: leaving the breadcrumb to be fenced"
                );
            }
        }
        self.quit(need_fence).await;
        if was_in && self.app_data.is_some() {
            tracing::info!(
                ms = period.as_millis() as u64,
                "ceding: out of the election"
            );
            self.pause_then_join(period);
        }
    }

    async fn ensure_parent(&mut self) -> Result<()> {
        if self.want {
            return Err(Error::BadArguments(
                "ensure_parent may not be called while in the election".into(),
            ));
        }
        let client = self.admin_client().await?;
        let acl = self.config.acl.clone();
        let mut prefix = String::new();
        for segment in self.config.parent.split('/').skip(1) {
            prefix.push('/');
            prefix.push_str(segment);
            let created = with_retries(self.config.max_retries, || {
                client.create(&prefix, b"", &acl, CreateMode::Persistent)
            })
            .await;
            match created {
                Ok(_) => {}
                Err(Error::Server(ErrorCode::NodeExists)) => {
                    align_acl(&client, &prefix, &acl, self.config.max_retries).await?
                }
                Err(e) => return Err(e),
            }
        }
        tracing::info!(parent = %self.config.parent, "parent znode ready");
        Ok(())
    }

    async fn clear_parent(&mut self) -> Result<()> {
        if self.want {
            return Err(Error::BadArguments(
                "clear_parent may not be called while in the election".into(),
            ));
        }
        let client = self.admin_client().await?;
        tracing::info!(parent = %self.config.parent, "deleting the parent znode recursively");
        let parent = &self.config.parent;
        with_retries(self.config.max_retries, || {
            util::delete_recursive(&client, parent)
        })
        .await
    }

    /// The session for calls outside the election, opened if there is none (one attempt,
    /// as Hadoop's `createConnection`).
    async fn admin_client(&mut self) -> Result<Client> {
        if let Some(session) = &self.session {
            return Ok(session.client.clone());
        }
        let (client, events) = connect(&self.config).await?;
        self.adopt(client.clone(), events);
        Ok(client)
    }

    // ----- the election -----

    /// Hadoop's `joinElectionInternal`: a new session if there is none, then the create.
    fn join_election(&mut self) {
        self.want = true;
        self.create_retries = 0;
        if self.session.is_none() {
            self.start_connect(0);
        } else {
            self.start_create();
        }
    }

    fn start_connect(&mut self, attempt: u32) {
        let config = self.config.clone();
        let pause = if attempt == 0 {
            Duration::ZERO
        } else {
            config.connect_pause
        };
        self.set_op(OpKind::Connect, async move {
            tokio::time::sleep(pause).await;
            Outcome::Connected(connect(&config).await)
        });
        self.connect_attempt = attempt;
    }

    fn start_create(&mut self) {
        let Some(client) = self.client() else {
            return self.start_connect(0);
        };
        let path = self.lock_path.clone();
        let data = self.app_data.clone().unwrap_or_default();
        let acl = self.config.acl.clone();
        self.set_op(OpKind::Create, async move {
            Outcome::Created(
                client
                    .create(&path, &data, &acl, CreateMode::Ephemeral)
                    .await,
            )
        });
    }

    /// Hadoop's `monitorActiveStatus`: read the lock, leaving a watch on it.
    fn start_monitor(&mut self) {
        self.monitor_retries = 0;
        self.send_monitor();
    }

    fn send_monitor(&mut self) {
        let Some(client) = self.client() else {
            return self.start_connect(0);
        };
        let path = self.lock_path.clone();
        self.set_op(OpKind::Monitor, async move {
            Outcome::Monitored(client.exists_watch(&path).await)
        });
    }

    fn pause_then_join(&mut self, pause: Duration) {
        self.want = true;
        self.set_op(OpKind::Pause, async move {
            tokio::time::sleep(pause).await;
            Outcome::Resume
        });
    }

    async fn on_outcome(&mut self, outcome: Outcome) {
        let max = self.config.max_retries;
        match outcome {
            Outcome::Connected(Ok((client, events))) => {
                self.adopt(client, events);
                self.create_retries = 0;
                self.start_create();
            }
            Outcome::Connected(Err(e)) => {
                tracing::warn!("cannot open a ZooKeeper session: {e}");
                if self.connect_attempt + 1 < max {
                    self.start_connect(self.connect_attempt + 1);
                } else {
                    self.fatal("Failed to reEstablish connection with ZooKeeper".into())
                        .await;
                }
            }
            Outcome::Created(Ok(_)) => {
                if self.become_active().await {
                    self.start_monitor();
                } else {
                    self.rejoin_after_failure().await;
                }
            }
            Outcome::Created(Err(Error::Server(ErrorCode::NodeExists))) => {
                // After a retry the lock may be the one our lost first attempt created:
                // the monitor compares its owner with our session.
                if self.create_retries == 0 {
                    self.become_standby();
                }
                self.start_monitor();
            }
            Outcome::Created(Err(e)) if e.is_connection_loss() => {
                if self.create_retries < max {
                    self.create_retries += 1;
                    tracing::debug!(retry = self.create_retries, "retrying the lock's create");
                    self.start_create();
                } else {
                    self.fatal(format!(
                        "Received create error from ZooKeeper: {e} for path {}. Not retrying \
                         further znode create connection errors.",
                        self.lock_path
                    ))
                    .await;
                }
            }
            // The session's end is handled by its state stream.
            Outcome::Created(Err(Error::SessionExpired | Error::Closed)) => {}
            Outcome::Created(Err(e)) => {
                self.fatal(format!(
                    "Received create error from ZooKeeper: {e} for path {}",
                    self.lock_path
                ))
                .await
            }
            Outcome::Monitored(Ok((Some(stat), watch))) => {
                if stat.ephemeral_owner == self.current_session_id() {
                    if !self.become_active().await {
                        return self.rejoin_after_failure().await;
                    }
                } else {
                    self.become_standby();
                }
                self.set_op(OpKind::Watch, async move {
                    Outcome::LockChanged(watch.changed().await)
                });
            }
            Outcome::Monitored(Ok((None, _))) => {
                // The lock vanished before we could watch it.
                self.enter_neutral();
                self.join_election();
            }
            Outcome::Monitored(Err(e)) if e.is_connection_loss() => {
                if self.monitor_retries < max {
                    self.monitor_retries += 1;
                    self.send_monitor();
                } else {
                    self.fatal(format!(
                        "Received stat error from ZooKeeper: {e}. Not retrying further znode \
                         monitoring connection errors."
                    ))
                    .await;
                }
            }
            Outcome::Monitored(Err(Error::SessionExpired | Error::Closed)) => {}
            Outcome::Monitored(Err(e)) => {
                self.fatal(format!("Received stat error from ZooKeeper: {e}"))
                    .await
            }
            Outcome::LockChanged(Ok(event)) => match event.event_type {
                EventType::NodeDeleted => {
                    if self.state == ElectorState::Active {
                        self.enter_neutral();
                    }
                    self.join_election();
                }
                // A session event: the state stream handles it.
                EventType::None => {}
                _ => self.start_monitor(),
            },
            Outcome::LockChanged(Err(_)) => {}
            Outcome::Resume => self.join_election(),
        }
    }

    async fn on_state(&mut self, state: SessionState) {
        match state {
            SessionState::Connected
            | SessionState::ConnectedReadOnly
            | SessionState::SaslAuthenticated => {
                let Some(session) = &mut self.session else {
                    return;
                };
                if !std::mem::take(&mut session.disconnected) || !self.want {
                    return;
                }
                tracing::info!("session reconnected: checking the lock again");
                // A create or read in flight goes on and decides; a watch is replaced by a
                // fresh read (our state is neutral until then).
                if matches!(self.op, None | Some((OpKind::Watch, _))) {
                    self.start_monitor();
                }
            }
            SessionState::Suspended => {
                let Some(session) = &mut self.session else {
                    return;
                };
                session.disconnected = true;
                if self.want {
                    tracing::info!("session disconnected: entering neutral mode");
                    self.enter_neutral();
                }
            }
            SessionState::Connecting => {}
            SessionState::Expired => {
                self.drop_session();
                if self.want {
                    tracing::info!("session expired: entering neutral mode and rejoining");
                    self.enter_neutral();
                    self.join_election();
                }
            }
            SessionState::AuthFailed => self.fatal("ZooKeeper authentication failed".into()).await,
            SessionState::Closed => self.drop_session(),
        }
    }

    /// Hadoop's `becomeActive`: fence the old active, write our breadcrumb at the version
    /// read, then have the service become active. `false` on any failure.
    async fn become_active(&mut self) -> bool {
        if self.state == ElectorState::Active {
            return true;
        }
        let Some(client) = self.client() else {
            return false;
        };
        let data = self.app_data.clone().unwrap_or_default();
        let crumb = self.breadcrumb_path.clone();
        let old = match with_retries(self.config.max_retries, || client.get_data(&crumb)).await {
            Ok(old) => Some(old),
            Err(Error::Server(ErrorCode::NoNode)) => None,
            Err(e) => {
                tracing::warn!("cannot read the breadcrumb: {e}");
                return false;
            }
        };
        if let Some((old_data, _)) = &old {
            if *old_data == data {
                tracing::info!("the breadcrumb holds our own data: nothing to fence");
            } else {
                tracing::info!("fencing the old active");
                let fenced = ask(&self.events, |reply| ElectorEvent::FenceOldActive {
                    data: old_data.clone(),
                    reply,
                })
                .await;
                if !fenced {
                    tracing::warn!("fencing the old active failed");
                    return false;
                }
            }
        }
        let acl = self.config.acl.clone();
        let written = match &old {
            None => with_retries(self.config.max_retries, || {
                client.create(&crumb, &data, &acl, CreateMode::Persistent)
            })
            .await
            .map(drop),
            Some((_, stat)) => with_retries(self.config.max_retries, || {
                client.set_data(&crumb, &data, stat.version)
            })
            .await
            .map(drop),
        };
        if let Err(e) = written {
            tracing::warn!("cannot write the breadcrumb: {e}");
            return false;
        }
        if !ask(&self.events, ElectorEvent::BecomeActive).await {
            tracing::warn!("the service could not become active");
            return false;
        }
        self.set_state(ElectorState::Active);
        true
    }

    /// Hadoop's `reJoinElectionAfterFailureToBecomeActive`: release the lock by closing
    /// the session, pause so another candidate can win, join again.
    async fn rejoin_after_failure(&mut self) {
        self.close_session().await;
        let pause = self.config.rejoin_pause;
        self.pause_then_join(pause);
    }

    async fn delete_own_breadcrumb(&mut self) {
        let Some(client) = self.client() else {
            return;
        };
        let crumb = self.breadcrumb_path.clone();
        let ours = self.app_data.clone().unwrap_or_default();
        let result = match with_retries(self.config.max_retries, || client.get_data(&crumb)).await {
            Ok((data, stat)) if data == ours => {
                with_retries(self.config.max_retries, || {
                    client.delete(&crumb, stat.version)
                })
                .await
            }
            Ok(_) => Err(Error::BadArguments(
                "we thought we were active, but the breadcrumb holds other data".into(),
            )),
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => tracing::info!("deleted our breadcrumb"),
            Err(e) => tracing::warn!(
                "cannot delete our breadcrumb ({e}); expecting to be fenced by the next active"
            ),
        }
    }

    async fn fatal(&mut self, message: String) {
        tracing::error!("elector: {message}");
        self.reset().await;
        let _ = self.events.send(ElectorEvent::FatalError(message));
    }

    /// Out of the election: state Init, session closed, nothing pending.
    async fn reset(&mut self) {
        self.want = false;
        self.op = None;
        self.set_state(ElectorState::Init);
        self.close_session().await;
    }

    // ----- helpers -----

    fn become_standby(&mut self) {
        if self.state != ElectorState::Standby {
            self.set_state(ElectorState::Standby);
            // Only a cede reads this answer.
            let (reply, _) = oneshot::channel();
            let _ = self.events.send(ElectorEvent::BecomeStandby(Reply(reply)));
        }
    }

    fn enter_neutral(&mut self) {
        if self.state != ElectorState::Neutral {
            self.set_state(ElectorState::Neutral);
            let _ = self.events.send(ElectorEvent::EnterNeutral);
        }
    }

    fn set_state(&mut self, state: ElectorState) {
        self.state = state;
        self.state_tx.send_replace(state);
    }

    fn set_op(&mut self, kind: OpKind, op: impl Future<Output = Outcome> + Send + 'static) {
        self.op = Some((kind, Box::pin(op)));
    }

    fn client(&self) -> Option<Client> {
        self.session.as_ref().map(|s| s.client.clone())
    }

    fn current_session_id(&self) -> i64 {
        self.session.as_ref().map_or(0, |s| s.client.session_id())
    }

    fn adopt(&mut self, client: Client, events: broadcast::Receiver<StateEvent>) {
        self.session_id
            .store(client.session_id(), Ordering::Release);
        tracing::info!(
            session = format!("0x{:x}", client.session_id()),
            "session opened"
        );
        self.session = Some(Session {
            client,
            events,
            disconnected: false,
        });
    }

    fn drop_session(&mut self) {
        self.session = None;
        self.session_id.store(0, Ordering::Release);
    }

    /// Closes the session (its ephemeral lock goes at once) and forgets whatever was
    /// waiting on it.
    async fn close_session(&mut self) {
        if let Some(session) = self.session.take() {
            self.session_id.store(0, Ordering::Release);
            session.client.close().await;
        }
        if matches!(
            self.op,
            Some((OpKind::Create | OpKind::Monitor | OpKind::Watch, _))
        ) {
            self.op = None;
        }
    }
}

/// Gives an existing node `wanted` as its ACL when it has another (Hadoop does so for
/// every existing ancestor of the parent).
async fn align_acl(client: &Client, path: &str, wanted: &[Acl], attempts: u32) -> Result<()> {
    for _ in 0..attempts.max(3) {
        let (current, stat) = with_retries(attempts, || client.get_acl(path)).await?;
        let same = current.len() == wanted.len()
            && current.iter().all(|a| wanted.contains(a))
            && wanted.iter().all(|a| current.contains(a));
        if same {
            return Ok(());
        }
        match with_retries(attempts, || client.set_acl(path, wanted, stat.aversion)).await {
            Ok(_) => return Ok(()),
            // Changed meanwhile: look again.
            Err(Error::Server(ErrorCode::BadVersion)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::Server(ErrorCode::BadVersion))
}

/// Sends an event carrying a [`Reply`] and waits for the answer (`false` when the
/// application is gone or dropped the reply).
async fn ask(
    events: &mpsc::UnboundedSender<ElectorEvent>,
    event: impl FnOnce(Reply) -> ElectorEvent,
) -> bool {
    let (reply, answer) = oneshot::channel();
    if events.send(event(Reply(reply))).is_err() {
        return false;
    }
    answer.await.unwrap_or(false)
}

/// Hadoop's `zkDoWithRetries`: up to `attempts` tries while the call fails with a
/// connection loss or timeout.
async fn with_retries<T, F, Fut>(attempts: u32, mut call: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut attempt = 1;
    loop {
        match call().await {
            Err(e) if e.is_connection_loss() && attempt < attempts => attempt += 1,
            other => return other,
        }
    }
}

/// Opens a new session and waits (at most the session timeout) until it is established.
async fn connect(config: &ElectorConfig) -> Result<(Client, broadcast::Receiver<StateEvent>)> {
    let client = Client::start(&config.connect_string, config.options.clone())?;
    let events = client.state_events();
    match client.wait_connected(config.options.session_timeout).await {
        Ok(()) => Ok((client, events)),
        Err(e) => {
            client.close().await;
            Err(e)
        }
    }
}

/// The next state of the current session; pending while there is none.
async fn next_state(session: &mut Option<Session>) -> SessionState {
    let Some(session) = session else {
        return std::future::pending().await;
    };
    match session.events.recv().await {
        Ok(event) => event.state,
        // Too far behind: what matters is where the session is now.
        Err(broadcast::error::RecvError::Lagged(_)) => session.client.state(),
        Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
    }
}

/// The outcome of what the elector waits for; pending while it waits for nothing.
async fn next_outcome(op: &mut Option<(OpKind, Op)>) -> Outcome {
    match op {
        Some((_, op)) => op.as_mut().await,
        None => std::future::pending().await,
    }
}
