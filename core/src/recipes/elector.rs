//! [`ActiveStandbyElector`]: Hadoop's active/standby election (the elector inside HDFS's
//! ZKFC), on Hadoop's znode layout, so our failover controllers and Hadoop's contend for
//! the same lock and fence each other.
//!
//! Under the parent znode `<root>/<nameservice>` (root `/hadoop-ha` by default, see
//! [`parent_znode`]):
//!
//! - `ActiveStandbyElectorLock`: EPHEMERAL, holding the active's data. Whoever creates it
//!   is active; everyone else is standby and watches it.
//! - `ActiveBreadCrumb`: PERSISTENT, holding the data of the last instance that became
//!   active. It outlives a crashed active, so the next winner knows whom to fence; an
//!   active that leaves gracefully ([`quit(false)`](ActiveStandbyElector::quit)) deletes
//!   it.
//!
//! The data is opaque to the elector; HDFS controllers store an [`ActiveNodeInfo`]
//! (protobuf), and so do ours.
//!
//! # Behaviour (Hadoop's, step by step)
//!
//! - **Winning** (our create of the lock succeeded, or the lock turns out to be ours):
//!   read the breadcrumb; if it holds another instance's data, ask the application to
//!   fence that instance ([`ElectorEvent::FenceOldActive`]); then write our data into
//!   the breadcrumb *at the version read* (create it if there was none), and only then
//!   tell the application to become active ([`ElectorEvent::BecomeActive`]). If any step
//!   fails (fencing refused, a ZooKeeper error, the application could not become active),
//!   the elector closes its session — releasing the lock — waits
//!   [`ElectorConfig::rejoin_pause`] (1 s) so another candidate can win, and joins again
//!   on a new session.
//! - **Losing**: the create finds the lock taken: [`ElectorEvent::BecomeStandby`], then
//!   the elector watches the lock; when it is deleted, it tries again.
//! - **A create retried after a connection loss** may meet the lock it created itself
//!   (the first attempt reached the server, its reply did not): `NodeExists` after a retry
//!   does not make us standby; the elector reads the lock and compares its
//!   `ephemeralOwner` with our session: ours means we won.
//! - `ConnectionLoss` and `OperationTimeout` are retried [`ElectorConfig::max_retries`]
//!   times (Hadoop's `ha.failover-controller.active-standby-elector.zk.op.retries`, 3);
//!   then the elector gives up with [`ElectorEvent::FatalError`].
//! - **Disconnected** ([`SessionState::Suspended`](crate::client::SessionState::Suspended)): [`ElectorEvent::EnterNeutral`] — the
//!   elector no longer knows who is active, so an active should stop acting as one unless
//!   it knows better. After the reconnect the lock is read again and the application is
//!   told `BecomeActive` (our session, and so our lock, survived) or `BecomeStandby`.
//! - **Session expired**: neutral, then the elector joins again on a new session.
//! - Events reach the application in order; the elector waits for the answer of those
//!   that carry a [`Reply`] (become active, fence) before its next step, as Hadoop waits
//!   for its synchronous callbacks.
//!
//! # Sessions
//!
//! A [`Client`](crate::client::Client) is one session, so the elector owns its connection settings
//! ([`ElectorConfig::connect_string`] and [`ElectorConfig::options`]) and opens a new
//! client whenever it needs a new session: first use, after an expiry, after failing to
//! become active, after [`quit`](ActiveStandbyElector::quit). That is what Hadoop's elector
//! does with its `ZooKeeper` object.
//!
//! # Driving it from a binding
//!
//! [`ElectorEvents`] is a stream of [`ElectorEvent`]s. A binding that runs user callbacks
//! on its own dispatch thread implements [`ElectorCallbacks`] and calls
//! [`ElectorEvents::deliver`] with its dispatcher: each event becomes one job, the replies
//! go back to the elector, and no callback ever runs on the client's IO task. Calls made
//! from inside a callback (quit, cede, join) never deadlock: commands are queued when
//! called and run once the callback has returned; a binding that blocks on them must not
//! block on the dispatch thread (check [`Dispatcher::on_own_thread`]).
//!
//! [`Dispatcher::on_own_thread`]: crate::client::dispatch::Dispatcher::on_own_thread

mod node_info;
mod task;

pub use node_info::{ActiveNodeInfo, NodeInfoError};

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use super::util;
use crate::client::{ClientOptions, ConnectString, Error, Result};
use crate::proto::{path, Acl};
use task::{Answer, Command};

/// Hadoop's default root of every nameservice's parent znode (`ha.zookeeper.parent-znode`).
pub const DEFAULT_ROOT: &str = "/hadoop-ha";
/// The ephemeral lock node's name under the parent.
pub const LOCK_NODE: &str = "ActiveStandbyElectorLock";
/// The persistent breadcrumb node's name under the parent.
pub const BREADCRUMB_NODE: &str = "ActiveBreadCrumb";
/// Attempts of an operation that fails with a connection loss or timeout (Hadoop's
/// `ha.failover-controller.active-standby-elector.zk.op.retries`).
pub const DEFAULT_MAX_RETRIES: u32 = 3;
/// ZKFC's session timeout (`ha.zookeeper.session-timeout.ms`).
pub const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after failing to become active before joining again (Hadoop's 1 s).
pub const DEFAULT_REJOIN_PAUSE: Duration = Duration::from_secs(1);
/// Pause between failed attempts to open a session (Hadoop's 5 s).
pub const DEFAULT_CONNECT_PAUSE: Duration = Duration::from_secs(5);

/// The parent znode of a nameservice: `<root>/<nameservice>` (Hadoop's
/// `getParentZnode`).
pub fn parent_znode(root: &str, nameservice: &str) -> String {
    format!("{}/{nameservice}", root.trim_end_matches('/'))
}

/// How an elector connects and where it elects.
#[derive(Debug, Clone)]
pub struct ElectorConfig {
    /// `host:port,...[/chroot]`, for every session the elector opens.
    pub connect_string: String,
    /// Session settings (timeout, credentials); `session` (resume) is ignored: every
    /// session the elector opens is new.
    pub options: ClientOptions,
    /// The parent znode, e.g. `/hadoop-ha/ns1` ([`parent_znode`]).
    pub parent: String,
    /// The ACL of every node the elector creates (Hadoop's `ha.zookeeper.acl`, default
    /// `world:anyone:rwcda`).
    pub acl: Vec<Acl>,
    /// Attempts of an operation failing with a connection loss or timeout, and of opening
    /// a session (at least 1).
    pub max_retries: u32,
    /// Pause after failing to become active, before joining again.
    pub rejoin_pause: Duration,
    /// Pause between failed attempts to open a session.
    pub connect_pause: Duration,
}

impl ElectorConfig {
    /// Hadoop's defaults: a 10 s session, open ACL, 3 retries.
    pub fn new(connect_string: &str, parent: &str) -> ElectorConfig {
        ElectorConfig {
            connect_string: connect_string.to_owned(),
            options: ClientOptions::default().session_timeout(DEFAULT_SESSION_TIMEOUT),
            parent: parent.to_owned(),
            acl: Acl::open_unsafe(),
            max_retries: DEFAULT_MAX_RETRIES,
            rejoin_pause: DEFAULT_REJOIN_PAUSE,
            connect_pause: DEFAULT_CONNECT_PAUSE,
        }
    }

    pub fn options(mut self, options: ClientOptions) -> Self {
        self.options = options;
        self
    }

    pub fn session_timeout(mut self, timeout: Duration) -> Self {
        self.options.session_timeout = timeout;
        self
    }

    pub fn acl(mut self, acl: Vec<Acl>) -> Self {
        self.acl = acl;
        self
    }

    pub fn max_retries(mut self, attempts: u32) -> Self {
        self.max_retries = attempts;
        self
    }

    pub fn rejoin_pause(mut self, pause: Duration) -> Self {
        self.rejoin_pause = pause;
        self
    }

    pub fn connect_pause(mut self, pause: Duration) -> Self {
        self.connect_pause = pause;
        self
    }
}

/// Where the elector stands (Hadoop's `State`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ElectorState {
    /// Not in the election (never joined, quit, ceding, or after a fatal error).
    Init,
    Active,
    Standby,
    /// Disconnected (or the lock vanished): who is active is unknown.
    Neutral,
}

/// The answer the elector waits for. Dropping it unanswered counts as `false` (failed):
/// the safe side, which never makes two instances active.
pub struct Reply(oneshot::Sender<bool>);

impl Reply {
    /// Answers: `true` when done, `false` when it failed.
    pub fn send(self, ok: bool) {
        let _ = self.0.send(ok);
    }
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Reply")
    }
}

/// What the elector tells the application (Hadoop's `ActiveStandbyElectorCallback`).
#[derive(Debug)]
pub enum ElectorEvent {
    /// We hold the lock, the old active is fenced and our breadcrumb is written: make the
    /// service active. Answer `false` if it could not be (Hadoop's
    /// `ServiceFailedException`): the elector then releases the lock, waits
    /// [`ElectorConfig::rejoin_pause`] and joins again.
    BecomeActive(Reply),
    /// Another instance is active: make the service standby. The answer (whether the
    /// service is standby now) matters only during [`ActiveStandbyElector::cede`]: `false`
    /// keeps our breadcrumb, so the next active fences us.
    BecomeStandby(Reply),
    /// The connection is lost (or the lock vanished) and who is active is unknown: an
    /// active should stop acting as one unless it knows its session is alive.
    EnterNeutral,
    /// The breadcrumb names another instance, which may still think it is active: fence
    /// it. `data` is that instance's data (an [`ActiveNodeInfo`] from HDFS controllers).
    /// Answer `true` only once it can no longer act; `false` stops this takeover.
    FenceOldActive { data: Vec<u8>, reply: Reply },
    /// The elector gave up (unexpected ZooKeeper errors, retries exhausted, no session
    /// could be opened, authentication failed). It has left the election; `join` starts
    /// over.
    FatalError(String),
}

/// Synchronous callbacks a binding runs on its dispatch thread (see
/// [`ElectorEvents::deliver`]).
pub trait ElectorCallbacks: Send + Sync + 'static {
    /// Make the service active; `false` if it could not be.
    fn become_active(&self) -> bool;
    /// Make the service standby; `false` if it could not be.
    fn become_standby(&self) -> bool;
    /// Connection lost: who is active is unknown.
    fn enter_neutral(&self);
    /// Fence the instance whose data is `old_active`; `true` once it can no longer act.
    fn fence_old_active(&self, old_active: &[u8]) -> bool;
    /// The elector gave up and left the election.
    fn fatal_error(&self, message: &str);
}

/// The stream of an elector's events; it ends when the elector is closed.
pub struct ElectorEvents {
    rx: mpsc::UnboundedReceiver<ElectorEvent>,
}

/// A job for a binding's dispatch thread.
pub type CallbackJob = Box<dyn FnOnce() + Send>;

impl ElectorEvents {
    /// The next event; `None` once the elector has ended.
    pub async fn next(&mut self) -> Option<ElectorEvent> {
        self.rx.recv().await
    }

    /// The next event if one is queued.
    pub fn try_next(&mut self) -> Option<ElectorEvent> {
        self.rx.try_recv().ok()
    }

    /// Turns every event into a call of `callbacks` inside a job handed to `dispatch`
    /// (e.g. `move |job| dispatcher.dispatch(job)`), in order, and sends each answer back.
    /// A job that is never run (a stopped dispatcher) or panics answers `false`.
    pub fn deliver<C, D>(mut self, callbacks: Arc<C>, dispatch: D)
    where
        C: ElectorCallbacks + ?Sized,
        D: Fn(CallbackJob) + Send + 'static,
    {
        crate::client::runtime::spawn(async move {
            while let Some(event) = self.rx.recv().await {
                let callbacks = callbacks.clone();
                let job: CallbackJob = match event {
                    ElectorEvent::BecomeActive(reply) => {
                        Box::new(move || reply.send(callbacks.become_active()))
                    }
                    ElectorEvent::BecomeStandby(reply) => {
                        Box::new(move || reply.send(callbacks.become_standby()))
                    }
                    ElectorEvent::EnterNeutral => Box::new(move || callbacks.enter_neutral()),
                    ElectorEvent::FenceOldActive { data, reply } => {
                        Box::new(move || reply.send(callbacks.fence_old_active(&data)))
                    }
                    ElectorEvent::FatalError(message) => {
                        Box::new(move || callbacks.fatal_error(&message))
                    }
                };
                dispatch(job);
            }
        });
    }
}

/// The result of a call to the elector: the command is sent when the method is called;
/// awaiting this waits until it is done (dropping it does not cancel the command).
pub struct Completion<T>(oneshot::Receiver<Result<T>>);

impl<T> Future for Completion<T> {
    type Output = Result<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|answer| answer.unwrap_or(Err(Error::Closed)))
    }
}

/// Hadoop's `ActiveStandbyElector`. Clones share one elector; it ends (its session closed,
/// the breadcrumb kept, as when a controller exits) when the last clone is dropped or
/// [`close`](Self::close) is called.
#[derive(Clone)]
pub struct ActiveStandbyElector {
    shared: Arc<Shared>,
}

struct Shared {
    commands: mpsc::UnboundedSender<Command>,
    state: watch::Receiver<ElectorState>,
    session_id: Arc<AtomicI64>,
    parent: String,
}

impl ActiveStandbyElector {
    /// An elector with `config`; nothing is sent until the first call that needs a session.
    /// Keep the [`ElectorEvents`] and answer its events: the elector waits for the answers
    /// of [`ElectorEvent::BecomeActive`] and [`ElectorEvent::FenceOldActive`].
    pub fn new(config: ElectorConfig) -> Result<(ActiveStandbyElector, ElectorEvents)> {
        ConnectString::parse(&config.connect_string)?;
        path::validate(&config.parent, false)
            .map_err(|e| Error::BadArguments(format!("parent znode {:?}: {e}", config.parent)))?;
        util::split(&config.parent)?;
        if config.max_retries == 0 {
            return Err(Error::BadArguments("max_retries must be at least 1".into()));
        }
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (events, event_rx) = mpsc::unbounded_channel();
        let (state_tx, state) = watch::channel(ElectorState::Init);
        let session_id = Arc::new(AtomicI64::new(0));
        let parent = config.parent.clone();
        let mut config = config;
        config.options.session = None;
        task::spawn(config, command_rx, events, state_tx, session_id.clone());
        let elector = ActiveStandbyElector {
            shared: Arc::new(Shared {
                commands,
                state,
                session_id,
                parent,
            }),
        };
        Ok((elector, ElectorEvents { rx: event_rx }))
    }

    /// Joins the election with `data` (stored in the lock and, once active, in the
    /// breadcrumb); returns at once, the outcome comes as events. Already in the election:
    /// nothing changes (Hadoop's "Already in election"), not even the data.
    pub fn join(&self, data: &[u8]) -> Result<()> {
        self.send(Command::Join(data.to_vec()))
    }

    /// Leaves the election: closes the session (releasing the lock). An active that
    /// quits with `need_fence == false` first deletes its breadcrumb (at the version
    /// read, and only if it holds our data), so the next active does not fence it; with
    /// `need_fence == true` (the service may still act as active) the breadcrumb stays.
    pub fn quit(&self, need_fence: bool) -> Completion<()> {
        self.call(|done| Command::Quit { need_fence, done })
    }

    /// A graceful handover (ZKFC's `cedeActive`): an active is told to become standby
    /// ([`ElectorEvent::BecomeStandby`]), then quits — deleting its breadcrumb if the
    /// service answered that it is standby, keeping it otherwise — and stays out of the
    /// election for `period`, then joins again with its last data. A standby just stays
    /// out for `period`. A zero `period` ends a running cede at once.
    pub fn cede(&self, period: Duration) -> Completion<()> {
        self.call(|done| Command::Cede { period, done })
    }

    /// Creates the parent znode and its ancestors (with the configured ACL, which is also
    /// set on those that exist with another). Not while in the election.
    pub fn ensure_parent(&self) -> Completion<()> {
        self.call(Command::EnsureParent)
    }

    /// Whether the parent znode exists.
    pub fn parent_exists(&self) -> Completion<bool> {
        self.call(Command::ParentExists)
    }

    /// Deletes the parent znode and everything below it. Not while in the election; only
    /// safe when no controller of this nameservice runs.
    pub fn clear_parent(&self) -> Completion<()> {
        self.call(Command::ClearParent)
    }

    /// `hdfs zkfc -formatZK`: when the parent exists, clears it only with `force`
    /// (returns `false`, changing nothing, without it: the caller may ask the user and
    /// call again with `force`); then creates it. `true` when the parent is fresh now.
    pub async fn format(&self, force: bool) -> Result<bool> {
        if self.parent_exists().await? {
            if !force {
                return Ok(false);
            }
            self.clear_parent().await?;
        }
        self.ensure_parent().await?;
        Ok(true)
    }

    /// The data in the lock: the active's, or `None` when nobody is active (Hadoop's
    /// `getActiveData`).
    pub fn active_data(&self) -> Completion<Option<Vec<u8>>> {
        self.call(Command::ActiveData)
    }

    /// Where the elector stands now.
    pub fn state(&self) -> ElectorState {
        *self.shared.state.borrow()
    }

    /// Every change of [`state`](Self::state).
    pub fn states(&self) -> watch::Receiver<ElectorState> {
        self.shared.state.clone()
    }

    /// The id of the elector's current session (0 while it has none).
    pub fn session_id(&self) -> i64 {
        self.shared.session_id.load(Ordering::Acquire)
    }

    /// The parent znode.
    pub fn parent(&self) -> &str {
        &self.shared.parent
    }

    /// Ends the elector: closes its session (the lock goes, the breadcrumb stays, as
    /// `quit(true)`), and ends the event stream. Later calls fail with `Closed`.
    pub fn close(&self) -> Completion<()> {
        self.call(Command::Close)
    }

    fn send(&self, command: Command) -> Result<()> {
        self.shared
            .commands
            .send(command)
            .map_err(|_| Error::Closed)
    }

    fn call<T>(&self, command: impl FnOnce(Answer<T>) -> Command) -> Completion<T> {
        let (done, rx) = oneshot::channel();
        // A closed elector drops the command, and with it `done`: the completion is Closed.
        let _ = self.shared.commands.send(command(done));
        Completion(rx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_znode_joins_like_hadoop() {
        assert_eq!(parent_znode(DEFAULT_ROOT, "ns1"), "/hadoop-ha/ns1");
        assert_eq!(parent_znode("/hadoop-ha/", "ns1"), "/hadoop-ha/ns1");
        assert_eq!(parent_znode("/", "ns1"), "/ns1");
    }

    #[test]
    fn bad_configs_are_refused() {
        let bad = |config: ElectorConfig| ActiveStandbyElector::new(config).err();
        assert!(bad(ElectorConfig::new("127.0.0.1:1", "/")).is_some());
        assert!(bad(ElectorConfig::new("127.0.0.1:1", "relative")).is_some());
        assert!(bad(ElectorConfig::new("127.0.0.1:1", "/a/")).is_some());
        assert!(bad(ElectorConfig::new("", "/a")).is_some());
        assert!(bad(ElectorConfig::new("127.0.0.1:1", "/a").max_retries(0)).is_some());
    }
}
