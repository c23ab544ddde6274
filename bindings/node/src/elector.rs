//! `NativeElector`: the core's [`ActiveStandbyElector`] (Hadoop's elector, docs/ha.md) for
//! `lib/elector.js`, and Hadoop's `ActiveNodeInfo` encoding.
//!
//! The elector waits for the answers of become-active, become-standby (while ceding) and
//! fence. docs/ha.md has bindings answer them from synchronous callbacks on a dispatch
//! thread; Node's one thread must never block, and a JavaScript callback may answer with a
//! Promise, so here one task on the core's runtime takes each event off the core's stream,
//! keeps its [`Reply`] under an id and posts `[kind, id, ...]` to the elector's own sink.
//! The wrapper runs the callback on the JavaScript thread and calls [`NativeElector::answer`]
//! once its value (or Promise) settles. A reply never answered (the elector was closed, the
//! environment went away) is dropped, which the elector takes as "failed": the safe side.
//! Nothing of the application runs on the core's tasks.

// The free functions are called from JavaScript only (unused in the crate's test build).
#![cfg_attr(test, allow(dead_code))]

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::rc::Rc;
use std::sync::{Arc, Mutex, Weak};

use napi::bindgen_prelude::{BigInt, Buffer, Function, PromiseRaw, ToNapiValue};
use napi::Env;
use napi_derive::napi;
use zk_core::client::Error;
use zk_core::recipes::elector::{
    parent_znode, ActiveNodeInfo as CoreNodeInfo, ActiveStandbyElector, ElectorConfig,
    ElectorEvent, ElectorEvents, ElectorState, Reply,
};

use crate::client::{client_options, millis, produce, AuthEntry, ClientConfig, TlsConfig};
use crate::convert::{acl_or_open, AclEntry, Bytes};
use crate::errors::Failure;
use crate::event;
use crate::sink::{self, JsState, Msg, Sink};

/// How the wrapper configures an elector (times in milliseconds).
#[napi(object)]
pub struct ElectorOptions {
    /// The parent znode, `<root>/<nameservice>`.
    pub parent: String,
    pub session_timeout: Option<f64>,
    pub auth: Option<Vec<AuthEntry>>,
    pub tls: Option<TlsConfig>,
    /// The ACL of every node the elector creates (default: open).
    pub acl: Option<Vec<AclEntry>>,
    pub max_retries: Option<u32>,
    pub rejoin_pause: Option<f64>,
    pub connect_pause: Option<f64>,
}

/// Hadoop's `ActiveNodeInfo` (HAZKInfo.proto): what HDFS controllers store in the lock
/// and the breadcrumb.
#[napi(object)]
pub struct ActiveNodeInfo {
    pub nameservice_id: String,
    pub namenode_id: String,
    pub hostname: String,
    pub port: i32,
    pub zkfc_port: i32,
}

/// The replies the elector waits for, by event id. Once closed, replies are dropped at
/// once (answered "failed").
#[derive(Default)]
struct Answers {
    closed: bool,
    pending: HashMap<u32, Reply>,
}

/// The native half of `ActiveStandbyElector`.
#[napi]
pub struct NativeElector {
    elector: ActiveStandbyElector,
    js: Rc<JsState>,
    /// Dropped by `close()`, which lets the sink (and the wrapper its router references)
    /// go once the event stream has ended.
    sink: RefCell<Option<Arc<Sink>>>,
    answers: Arc<Mutex<Answers>>,
}

#[napi]
impl NativeElector {
    /// `router(batch)` receives the elector's events: `[kind, id, payload?]`, kind one of
    /// `becomeActive`, `becomeStandby`, `enterNeutral`, `fenceOldActive` (payload: the old
    /// active's data), `fatalError` (payload: the message), and `ended` last.
    #[napi(
        constructor,
        ts_args_type = "connectString: string, options: ElectorOptions, router: (batch: unknown[][] | null) => void"
    )]
    pub fn new(
        env: Env,
        connect_string: String,
        options: ElectorOptions,
        router: Function<'_, (), ()>,
    ) -> napi::Result<NativeElector> {
        let config =
            elector_config(connect_string, options).map_err(|failure| failure.thrown(&env))?;
        let (elector, events) =
            ActiveStandbyElector::new(config).map_err(|e| Failure::from(e).thrown(&env))?;
        let (sink, js) = sink::open(env.raw(), router)?;
        let answers = Arc::new(Mutex::new(Answers::default()));
        forward(events, sink.clone(), Arc::downgrade(&answers));
        Ok(NativeElector {
            elector,
            js,
            sink: RefCell::new(Some(sink)),
            answers,
        })
    }

    /// Joins the election with `data` (returns at once; the outcome comes as events).
    #[napi]
    pub fn join(&self, env: Env, data: Buffer) -> napi::Result<()> {
        self.elector
            .join(&data)
            .map_err(|e| Failure::from(e).thrown(&env))
    }

    /// Leaves the election; `needFence` keeps the breadcrumb.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn quit<'env>(
        &self,
        env: &'env Env,
        need_fence: bool,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        self.command(env, self.elector.quit(need_fence))
    }

    /// ZKFC's `cedeActive`: out of the election for `ms`, then back with the last data.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn cede<'env>(&self, env: &'env Env, ms: f64) -> napi::Result<PromiseRaw<'env, ()>> {
        let period = millis(ms).unwrap_or_default();
        self.command(env, self.elector.cede(period))
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn ensure_parent<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        self.command(env, self.elector.ensure_parent())
    }

    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn parent_exists<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, bool>> {
        self.command(env, self.elector.parent_exists())
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn clear_parent<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        self.command(env, self.elector.clear_parent())
    }

    /// `hdfs zkfc -formatZK`: `false` (nothing changed) when the parent exists and not `force`.
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn format<'env>(
        &self,
        env: &'env Env,
        force: bool,
    ) -> napi::Result<PromiseRaw<'env, bool>> {
        let elector = self.elector.clone();
        self.command(env, async move { elector.format(force).await })
    }

    /// The active's data, or `null` when nobody is active.
    #[napi(ts_return_type = "Promise<Buffer | null>")]
    pub fn active_data<'env>(
        &self,
        env: &'env Env,
    ) -> napi::Result<PromiseRaw<'env, Option<Bytes>>> {
        let data = self.elector.active_data();
        self.command(env, async move { data.await.map(|d| d.map(Bytes)) })
    }

    /// Answers the event `id` (`ok`: done); later answers of the same event do nothing.
    #[napi]
    pub fn answer(&self, id: u32, ok: bool) {
        if let Some(reply) = lock(&self.answers).pending.remove(&id) {
            reply.send(ok);
        }
    }

    /// Ends the elector (the lock goes, the breadcrumb stays); the replies it waits for
    /// are answered "failed" now, so a callback that calls this never waits for itself.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        let done = self.elector.close();
        let promise = self.command(env, done);
        let unanswered = {
            let mut answers = lock(&self.answers);
            answers.closed = true;
            std::mem::take(&mut answers.pending)
        };
        drop(unanswered);
        self.sink.borrow_mut().take();
        promise
    }

    /// `init`, `active`, `standby` or `neutral`.
    #[napi(getter, ts_return_type = "'init' | 'active' | 'standby' | 'neutral'")]
    pub fn state(&self) -> &'static str {
        match self.elector.state() {
            ElectorState::Init => "init",
            ElectorState::Active => "active",
            ElectorState::Standby => "standby",
            ElectorState::Neutral => "neutral",
        }
    }

    /// The current session's id (0n while there is none).
    #[napi(getter)]
    pub fn session_id(&self) -> BigInt {
        BigInt::from(self.elector.session_id())
    }

    #[napi(getter)]
    pub fn parent(&self) -> String {
        self.elector.parent().to_owned()
    }

    /// Keeps the process alive (one more reason), as `ref()` does.
    #[napi]
    pub fn hold(&self, env: Env) {
        self.js.hold(env.raw());
    }

    #[napi]
    pub fn unhold(&self, env: Env) {
        self.js.release(env.raw());
    }

    fn command<'env, T, F>(&self, env: &'env Env, work: F) -> napi::Result<PromiseRaw<'env, T>>
    where
        T: ToNapiValue + Send + 'static,
        F: Future<Output = Result<T, Error>> + Send + 'static,
    {
        let Some(sink) = self.sink.borrow().clone() else {
            return self.js.rejected(env, Failure::closed());
        };
        let parent = self.elector.parent().to_owned();
        let (deferred, promise) = self.js.promise(env, true)?;
        sink::spawn(async move {
            let outcome = work.await.map(produce).map_err(|e| Failure::on(e, &parent));
            sink.post(Msg::Settle {
                deferred,
                strong: true,
                outcome,
            });
        });
        Ok(promise)
    }
}

/// Takes the elector's events off the core's stream and posts them to JavaScript, keeping
/// the replies it waits for.
fn forward(mut events: ElectorEvents, sink: Arc<Sink>, answers: Weak<Mutex<Answers>>) {
    sink::spawn(async move {
        let mut next_id = 0u32;
        while let Some(event) = events.next().await {
            next_id = next_id.wrapping_add(1);
            let id = next_id;
            let keep = |reply: Reply| {
                // Dropped (answered "failed") when the elector is closed or gone.
                if let Some(answers) = answers.upgrade() {
                    let mut answers = lock(&answers);
                    if !answers.closed {
                        answers.pending.insert(id, reply);
                    }
                }
            };
            let message = match event {
                ElectorEvent::BecomeActive(reply) => {
                    keep(reply);
                    event!("becomeActive", id)
                }
                ElectorEvent::BecomeStandby(reply) => {
                    keep(reply);
                    event!("becomeStandby", id)
                }
                ElectorEvent::EnterNeutral => event!("enterNeutral", id),
                ElectorEvent::FenceOldActive { data, reply } => {
                    keep(reply);
                    event!("fenceOldActive", id, Bytes(data))
                }
                ElectorEvent::FatalError(message) => event!("fatalError", id, message),
            };
            sink.post(Msg::Emit(message));
        }
        sink.post(Msg::Emit(event!("ended", 0)));
    });
}

fn elector_config(
    connect_string: String,
    options: ElectorOptions,
) -> Result<ElectorConfig, Failure> {
    let client = client_options(ClientConfig {
        session_timeout: options.session_timeout,
        request_timeout: None,
        read_only: None,
        auth: options.auth,
        session_id: None,
        session_password: None,
        tls: options.tls,
        sasl: None,
    })?;
    let mut config = ElectorConfig::new(&connect_string, &options.parent)
        .options(client)
        .acl(acl_or_open(options.acl));
    if options.session_timeout.is_none() {
        config = config.session_timeout(zk_core::recipes::elector::DEFAULT_SESSION_TIMEOUT);
    }
    if let Some(attempts) = options.max_retries {
        config = config.max_retries(attempts);
    }
    if let Some(pause) = options.rejoin_pause.and_then(millis) {
        config = config.rejoin_pause(pause);
    }
    if let Some(pause) = options.connect_pause.and_then(millis) {
        config = config.connect_pause(pause);
    }
    Ok(config)
}

/// `<root>/<nameservice>` (Hadoop's `getParentZnode`).
#[napi]
pub fn elector_parent(root: String, nameservice: String) -> String {
    parent_znode(&root, &nameservice)
}

/// Hadoop's `ActiveNodeInfo` in protobuf wire format (protobuf-java's bytes).
#[napi]
pub fn encode_active_node_info(info: ActiveNodeInfo) -> Buffer {
    CoreNodeInfo {
        nameservice_id: info.nameservice_id,
        namenode_id: info.namenode_id,
        hostname: info.hostname,
        port: info.port,
        zkfc_port: info.zkfc_port,
    }
    .encode()
    .into()
}

/// Parses an `ActiveNodeInfo`; throws `BADARGUMENTS` for bytes that are not one.
#[napi]
pub fn decode_active_node_info(env: Env, data: Buffer) -> napi::Result<ActiveNodeInfo> {
    let info = CoreNodeInfo::decode(&data).map_err(|e| Failure::from(e).thrown(&env))?;
    Ok(ActiveNodeInfo {
        nameservice_id: info.nameservice_id,
        namenode_id: info.namenode_id,
        hostname: info.hostname,
        port: info.port,
        zkfc_port: info.zkfc_port,
    })
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
