//! `NativeClient`: the core's [`Client`] for the JavaScript wrapper (`lib/client.js`).
//!
//! Each method converts its arguments, starts the core call on the core's runtime and
//! returns a promise that the client's [`Sink`] settles. Calls take an optional `cancel`
//! id that the wrapper's `AbortSignal` handling passes to [`NativeClient::cancel`].

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use napi::bindgen_prelude::{BigInt, Buffer, Function, PromiseRaw, ToNapiValue};
use napi::Env;
use napi_derive::napi;
use tokio::sync::{oneshot, watch};
use zk_core::client::{
    Client, ClientOptions, ConnectString, Error, Op, SaslOptions, SessionState, TlsOptions, Watch,
};
use zk_core::proto::{AddWatchMode, ErrorCode};

use crate::bridge::Bridge;
use crate::convert::{
    self, acl_or_open, create_mode, ttl_for, AclEntry, AclResult, Bytes, ChildrenResult,
    ClientInfo, CreateResult, DataResult, OpOutcome, OpSpec, Stat, WatchEvent,
};
use crate::errors::Failure;
use crate::event;
use crate::sink::{self, cancellable, JsState, Msg, Sink};
use crate::watches::{self, Watches};

/// How the wrapper configures a client (times in milliseconds).
#[napi(object)]
pub struct ClientConfig {
    pub session_timeout: Option<f64>,
    pub request_timeout: Option<f64>,
    pub read_only: Option<bool>,
    pub auth: Option<Vec<AuthEntry>>,
    /// Resume this session instead of creating one.
    pub session_id: Option<BigInt>,
    pub session_password: Option<Buffer>,
    /// TLS to the servers' `secureClientPort`.
    pub tls: Option<TlsConfig>,
    /// SASL credentials, used on every connection.
    pub sasl: Option<SaslConfig>,
}

/// SASL credentials (the mechanism checked by `checkSasl` first).
#[napi(object)]
pub struct SaslConfig {
    /// `DIGEST-MD5` (the default; the only one supported).
    pub mechanism: Option<String>,
    pub username: String,
    pub password: String,
    /// The SASL service name (default `zookeeper`).
    pub service: Option<String>,
}

/// TLS files (PEM paths), checked by the core when the session starts.
#[napi(object)]
pub struct TlsConfig {
    /// The authorities that sign the servers' certificates.
    pub ca: String,
    /// This client's certificate chain, with `key`.
    pub cert: Option<String>,
    pub key: Option<String>,
    /// Check the server's certificate names the host (default true).
    pub verify_hostname: Option<bool>,
}

/// A credential sent on every (re)connect, as `addAuth` would.
#[napi(object)]
pub struct AuthEntry {
    pub scheme: String,
    pub auth: Buffer,
}

/// What every call of one client shares: its JavaScript-side state, its sink and the
/// cancellation table. Recipe objects hold a copy.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub js: Rc<JsState>,
    pub sink: Arc<Sink>,
    pub cancels: Arc<Cancels>,
    pub bridge: Bridge,
}

/// Calls that can be cancelled, by the id the wrapper gave them.
#[derive(Default)]
pub(crate) struct Cancels {
    pending: Mutex<HashMap<u32, oneshot::Sender<()>>>,
}

impl Cancels {
    fn register(&self, id: u32) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(id, tx);
        rx
    }

    fn forget(&self, id: u32) {
        lock(&self.pending).remove(&id);
    }

    fn fire(&self, id: u32) {
        if let Some(tx) = lock(&self.pending).remove(&id) {
            let _ = tx.send(());
        }
    }
}

impl Ctx {
    /// Starts `work` and returns its promise. A `strong` call keeps the process alive
    /// until it is settled; `cancel` names it for [`NativeClient::cancel`].
    pub fn call<'env, T, F>(
        &self,
        env: &'env Env,
        strong: bool,
        cancel: Option<u32>,
        work: F,
    ) -> napi::Result<PromiseRaw<'env, T>>
    where
        T: ToNapiValue + Send + 'static,
        F: Future<Output = Result<T, Failure>> + Send + 'static,
    {
        self.call_then(env, strong, cancel, async move {
            work.await.map(|value| (value, std::future::ready(())))
        })
    }

    /// Like [`Ctx::call`]; after the promise is settled the task goes on with the
    /// continuation `work` returned (a watch to forward), which the call's cancellation
    /// no longer covers.
    pub fn call_then<'env, T, F, C>(
        &self,
        env: &'env Env,
        strong: bool,
        cancel: Option<u32>,
        work: F,
    ) -> napi::Result<PromiseRaw<'env, T>>
    where
        T: ToNapiValue + Send + 'static,
        F: Future<Output = Result<(T, C), Failure>> + Send + 'static,
        C: Future<Output = ()> + Send + 'static,
    {
        self.call_producing(env, strong, cancel, async move {
            work.await.map(|(value, then)| (produce(value), then))
        })
    }

    /// The general call: `work` ends with a [`Producer`](sink::Producer) of the value (for
    /// values that are native objects) and a continuation. `T` is only the typing.
    pub fn call_producing<'env, T, F, C>(
        &self,
        env: &'env Env,
        strong: bool,
        cancel: Option<u32>,
        work: F,
    ) -> napi::Result<PromiseRaw<'env, T>>
    where
        F: Future<Output = Result<(sink::Producer, C), Failure>> + Send + 'static,
        C: Future<Output = ()> + Send + 'static,
    {
        start_call(
            &self.js,
            &self.sink,
            &self.cancels,
            &self.bridge,
            env,
            strong,
            cancel,
            work,
        )
    }
}

/// Starts a call on the client's bridge and returns its promise (see [`Ctx::call`]).
#[allow(clippy::too_many_arguments)]
fn start_call<'env, T, F, C>(
    js: &Rc<JsState>,
    sink: &Arc<Sink>,
    cancels: &Arc<Cancels>,
    bridge: &Bridge,
    env: &'env Env,
    strong: bool,
    cancel: Option<u32>,
    work: F,
) -> napi::Result<PromiseRaw<'env, T>>
where
    F: Future<Output = Result<(sink::Producer, C), Failure>> + Send + 'static,
    C: Future<Output = ()> + Send + 'static,
{
    // Boxed first: the job below then stays small, and the core's (large) future is
    // written once instead of being copied along every layer.
    let work = Box::pin(work);
    let (deferred, promise) = js.promise(env, strong)?;
    let posting = sink.clone();
    let cancel = cancel.map(|id| (id, cancels.register(id), cancels.clone()));
    bridge.run(js, sink, async move {
        let mut rest = None;
        let (stop, forget) = match cancel {
            Some((id, stop, cancels)) => (Some(stop), Some((id, cancels))),
            None => (None, None),
        };
        let outcome = cancellable(
            async {
                let (value, then) = work.await?;
                rest = Some(then);
                Ok(value)
            },
            stop,
        )
        .await;
        if let Some((id, cancels)) = forget {
            cancels.forget(id);
        }
        posting.post(Msg::Settle {
            deferred,
            strong,
            outcome,
        });
        if let Some(rest) = rest {
            rest.await;
        }
    });
    Ok(promise)
}

/// Boxes a value for the JavaScript thread.
pub(crate) fn produce<T: ToNapiValue + Send + 'static>(value: T) -> sink::Producer {
    // SAFETY: producers run on the JavaScript thread (see `sink::run_batch`).
    Box::new(move |env, _| unsafe { T::to_napi_value(env, value) })
}

struct Live {
    client: Client,
    /// The task forwarding state changes; done once a final state was forwarded.
    states: tokio::task::JoinHandle<()>,
    /// The last state the forwarder has posted, so `connect()` resolves after the
    /// `connected` event.
    posted: watch::Receiver<SessionState>,
}

/// The native half of `Client`.
#[napi]
pub struct NativeClient {
    hosts: String,
    options: ClientOptions,
    js: Rc<JsState>,
    /// Dropped once the client has ended, which lets the sink (and the wrapper it
    /// references) go once nothing is in flight.
    sink: RefCell<Option<Arc<Sink>>>,
    cancels: Arc<Cancels>,
    bridge: Bridge,
    watches: Arc<Watches>,
    live: RefCell<Option<Live>>,
    /// What calls fail with after the client has ended.
    ended: RefCell<Option<Failure>>,
}

#[napi]
impl NativeClient {
    /// `router(batch)` receives the client's events (`null` for a batch of replies only).
    #[napi(
        constructor,
        ts_args_type = "hosts: string, config: ClientConfig, router: (batch: unknown[][] | null) => void"
    )]
    pub fn new(
        env: Env,
        hosts: String,
        config: ClientConfig,
        router: Function<'_, (), ()>,
    ) -> napi::Result<NativeClient> {
        let options = client_options(config).map_err(|failure| failure.thrown(&env))?;
        let (sink, js) = sink::open(env.raw(), router)?;
        let bridge = Bridge::start(Arc::downgrade(&sink));
        Ok(NativeClient {
            hosts,
            options,
            js,
            sink: RefCell::new(Some(sink)),
            cancels: Arc::default(),
            bridge,
            watches: Arc::default(),
            live: RefCell::new(None),
            ended: RefCell::new(None),
        })
    }

    /// Why `hosts` is not a valid connect string, or `null` when it is.
    #[napi]
    pub fn check_hosts(hosts: String) -> Option<String> {
        ConnectString::parse(&hosts).err().map(|e| e.to_string())
    }

    /// Why SASL `mechanism` cannot be used, or `null` when it can (DIGEST-MD5).
    #[napi]
    pub fn check_sasl(mechanism: String) -> Option<String> {
        SaslOptions::for_mechanism(&mechanism, "", "")
            .err()
            .map(|e| e.to_string())
    }

    /// Starts connecting (once) and waits until connected; after `timeout_ms` without a
    /// session the client is closed and the promise rejects with `OPERATIONTIMEOUT`.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn connect<'env>(
        &self,
        env: &'env Env,
        timeout_ms: f64,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        if let Some(failure) = self.ended.borrow().clone() {
            return self.js.rejected(env, failure);
        }
        let Some(ctx) = self.ctx() else {
            return self.js.rejected(env, Failure::closed());
        };
        let (client, mut posted) = match self.started() {
            Ok(started) => started,
            Err(failure) => return self.js.rejected(env, failure),
        };
        let timeout = millis(timeout_ms).unwrap_or(self.options.session_timeout);
        let hosts = self.hosts.clone();
        let sasl = self.options.sasl.is_some();
        ctx.call(env, true, cancel, async move {
            match client.wait_connected(timeout).await {
                Ok(()) => {
                    // The `connected` (with SASL: `saslAuthenticated`) event goes out before
                    // the promise settles.
                    let _ = posted
                        .wait_for(|s| {
                            *s != SessionState::Connecting
                                && !(sasl && *s == SessionState::Connected)
                        })
                        .await;
                    Ok(())
                }
                Err(Error::Timeout) => {
                    client.close().await;
                    Err(Failure::code(
                        ErrorCode::OperationTimeout,
                        format!(
                            "could not connect to {hosts} within {} ms",
                            timeout.as_millis()
                        ),
                    ))
                }
                Err(e) => Err(Failure::from(e)),
            }
        })
    }

    /// Closes the session (its ephemeral nodes go at once). Later calls reject with
    /// `CLOSING`; the `closed` state event comes before this resolves.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        self.js.reading.set_client(None);
        let live = self.live.borrow_mut().take();
        let sink = self.sink.borrow_mut().take();
        if self.ended.borrow().is_none() {
            *self.ended.borrow_mut() = Some(Failure::closed());
        }
        let (Some(live), Some(sink)) = (live, sink) else {
            let (deferred, promise) = self.js.promise(env, false)?;
            self.js.settle(env.raw(), deferred, false, Ok(produce(())));
            return Ok(promise);
        };
        let ctx = Ctx {
            js: self.js.clone(),
            sink,
            cancels: self.cancels.clone(),
            bridge: self.bridge.clone(),
        };
        ctx.call(env, true, None, async move {
            live.client.close().await;
            let _ = live.states.await;
            Ok(())
        })
    }

    /// Called by the wrapper once a final state (expired, auth failed) was delivered:
    /// later calls reject with `failure_code` and the client's resources go.
    #[napi]
    pub fn end(&self, reason: String) {
        let failure = match reason.as_str() {
            "expired" => Failure::from(Error::SessionExpired),
            "authFailed" => Failure::from(Error::AuthFailed),
            _ => Failure::closed(),
        };
        if self.ended.borrow().is_none() {
            *self.ended.borrow_mut() = Some(failure);
        }
        self.js.reading.set_client(None);
        if let Some(live) = self.live.borrow_mut().take() {
            // The session is over; this only ends the connection task.
            sink::spawn(async move { live.client.close().await });
        }
        self.sink.borrow_mut().take();
    }

    /// The current state: `connecting`, `connected`, `connectedReadOnly`,
    /// `disconnected`, `expired`, `authFailed` or `closed`.
    #[napi(getter)]
    pub fn state(&self) -> &'static str {
        if let Some(live) = self.live.borrow().as_ref() {
            return convert::session_state_name(live.client.state());
        }
        match self.ended.borrow().as_ref().map(|f| f.errno) {
            Some(errno) if errno == ErrorCode::SessionExpired.as_i32() => "expired",
            Some(errno) if errno == ErrorCode::AuthFailed.as_i32() => "authFailed",
            Some(_) => "closed",
            None => "connecting",
        }
    }

    /// The session id (0 before the first connect).
    #[napi(getter)]
    pub fn session_id(&self) -> BigInt {
        BigInt::from(self.with_client(|c| c.session_id()).unwrap_or(0))
    }

    #[napi(getter, ts_return_type = "Buffer")]
    pub fn session_password(&self) -> Bytes {
        Bytes(
            self.with_client(|c| c.session_password())
                .unwrap_or_default(),
        )
    }

    /// The negotiated session timeout in milliseconds (0 before the first connect).
    #[napi(getter)]
    pub fn session_timeout(&self) -> f64 {
        self.with_client(|c| c.session_timeout().as_millis() as f64)
            .unwrap_or(0.0)
    }

    /// The last zxid this client has seen.
    #[napi(getter)]
    pub fn last_zxid(&self) -> i64 {
        self.with_client(|c| c.last_zxid()).unwrap_or(0)
    }

    /// A handle for the fast paths of the wrapper (`fastGet(handle, path)`, ...).
    #[napi(ts_return_type = "object")]
    pub fn fast_handle<'env>(
        &self,
        env: &'env Env,
        this: napi::bindgen_prelude::This<'env>,
    ) -> napi::Result<napi::bindgen_prelude::Unknown<'env>> {
        let handle = crate::fast::handle(env, napi::JsValue::raw(&this.object), self)?;
        // SAFETY: a value just made in this scope.
        Ok(unsafe { napi::bindgen_prelude::Unknown::from_raw_unchecked(env.raw(), handle) })
    }

    /// One more reason to keep the process alive (a `ref()`ed handle).
    #[napi]
    pub fn hold(&self, env: &Env) {
        self.js.hold(env.raw());
    }

    /// One reason less.
    #[napi]
    pub fn unhold(&self, env: &Env) {
        self.js.release(env.raw());
    }

    /// Called by the wrapper while it runs a batch of events and replies: the calls their
    /// continuations make go out together at `uncorkCalls()`.
    #[napi]
    pub fn cork_calls(&self) {
        self.bridge.cork();
    }

    #[napi]
    pub fn uncork_calls(&self) {
        self.bridge.uncork();
    }

    /// Cancels the call started with this `cancel` id (its promise then settles with
    /// `ABORT_ERR`, which the wrapper has already reported).
    #[napi]
    pub fn cancel(&self, id: u32) {
        self.cancels.fire(id);
    }

    // ----- operations -----

    /// Creates a node; resolves to its path (with the sequence suffix).
    #[napi(ts_return_type = "Promise<string>")]
    #[allow(clippy::too_many_arguments)]
    pub fn create<'env>(
        &self,
        env: &'env Env,
        path: String,
        data: Option<&[u8]>,
        mode: Option<String>,
        acl: Option<Vec<AclEntry>>,
        ttl: Option<f64>,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, String>> {
        let request = match CreateArgs::new(data, mode.as_deref(), acl, ttl) {
            Ok(request) => request,
            Err(failure) => return self.js.rejected(env, failure),
        };
        self.run(env, true, cancel, move |client| async move {
            request
                .send(&client, &path)
                .await
                .map(|(created, _)| created)
                .map_err(|e| Failure::on(e, &path))
        })
    }

    /// Like `create`, resolving to `{path, stat}`.
    #[napi(ts_return_type = "Promise<CreateResult>")]
    #[allow(clippy::too_many_arguments)]
    pub fn create2<'env>(
        &self,
        env: &'env Env,
        path: String,
        data: Option<&[u8]>,
        mode: Option<String>,
        acl: Option<Vec<AclEntry>>,
        ttl: Option<f64>,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, CreateResult>> {
        let request = match CreateArgs::new(data, mode.as_deref(), acl, ttl) {
            Ok(request) => request,
            Err(failure) => return self.js.rejected(env, failure),
        };
        self.run(env, true, cancel, move |client| async move {
            request
                .send(&client, &path)
                .await
                .map(|(created, stat)| CreateResult {
                    path: created,
                    stat: stat.into(),
                })
                .map_err(|e| Failure::on(e, &path))
        })
    }

    /// The data and Stat of a node; with `watch`, a one-shot data watch whose event the
    /// router gets as `['watch', watch, event]`.
    #[napi(ts_return_type = "Promise<DataResult>")]
    pub fn get<'env>(
        &self,
        env: &'env Env,
        path: String,
        watch: Option<u32>,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, DataResult>> {
        let Some(id) = watch else {
            return self.run(env, true, cancel, move |client| async move {
                let (data, stat) = client
                    .get_data(&path)
                    .await
                    .map_err(|e| Failure::on(e, &path))?;
                Ok(DataResult {
                    data: Bytes(data),
                    stat: stat.into(),
                })
            });
        };
        self.run_watched(env, cancel, id, move |client| async move {
            let (data, stat, watch) = client
                .get_data_watch(&path)
                .await
                .map_err(|e| Failure::on(e, &path))?;
            Ok((
                DataResult {
                    data: Bytes(data),
                    stat: stat.into(),
                },
                watch,
            ))
        })
    }

    /// Replaces a node's data if its version is `version` (-1: any).
    #[napi(ts_return_type = "Promise<Stat>")]
    pub fn set<'env>(
        &self,
        env: &'env Env,
        path: String,
        data: &[u8],
        version: i32,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, Stat>> {
        let data = data.to_vec();
        self.run(env, true, cancel, move |client| async move {
            client
                .set_data(&path, &data, version)
                .await
                .map(Stat::from)
                .map_err(|e| Failure::on(e, &path))
        })
    }

    /// A node's Stat, or `null` if it does not exist; with `watch`, a one-shot watch that
    /// fires on its creation, deletion or change.
    #[napi(ts_return_type = "Promise<Stat | null>")]
    pub fn exists<'env>(
        &self,
        env: &'env Env,
        path: String,
        watch: Option<u32>,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, Option<Stat>>> {
        let Some(id) = watch else {
            return self.run(env, true, cancel, move |client| async move {
                let stat = client
                    .exists(&path)
                    .await
                    .map_err(|e| Failure::on(e, &path))?;
                Ok(stat.map(Stat::from))
            });
        };
        self.run_watched(env, cancel, id, move |client| async move {
            let (stat, watch) = client
                .exists_watch(&path)
                .await
                .map_err(|e| Failure::on(e, &path))?;
            Ok((stat.map(Stat::from), watch))
        })
    }

    /// A node's children (names, unsorted); with `watch`, a one-shot child watch.
    #[napi(ts_return_type = "Promise<string[]>")]
    pub fn get_children<'env>(
        &self,
        env: &'env Env,
        path: String,
        watch: Option<u32>,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, Vec<String>>> {
        let Some(id) = watch else {
            return self.run(env, true, cancel, move |client| async move {
                client
                    .get_children(&path)
                    .await
                    .map_err(|e| Failure::on(e, &path))
            });
        };
        self.run_watched(env, cancel, id, move |client| async move {
            let (children, _, watch) = client
                .get_children_watch(&path)
                .await
                .map_err(|e| Failure::on(e, &path))?;
            Ok((children, watch))
        })
    }

    /// Like `getChildren`, with the parent's Stat: `{children, stat}`.
    #[napi(ts_return_type = "Promise<ChildrenResult>")]
    pub fn get_children2<'env>(
        &self,
        env: &'env Env,
        path: String,
        watch: Option<u32>,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, ChildrenResult>> {
        let Some(id) = watch else {
            return self.run(env, true, cancel, move |client| async move {
                let (children, stat) = client
                    .get_children2(&path)
                    .await
                    .map_err(|e| Failure::on(e, &path))?;
                Ok(ChildrenResult {
                    children,
                    stat: stat.into(),
                })
            });
        };
        self.run_watched(env, cancel, id, move |client| async move {
            let (children, stat, watch) = client
                .get_children_watch(&path)
                .await
                .map_err(|e| Failure::on(e, &path))?;
            Ok((
                ChildrenResult {
                    children,
                    stat: stat.into(),
                },
                watch,
            ))
        })
    }

    /// How many nodes are below `path` (Apache 3.6+).
    #[napi(ts_return_type = "Promise<number>")]
    pub fn get_all_children_number<'env>(
        &self,
        env: &'env Env,
        path: String,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, i32>> {
        self.run(env, true, cancel, move |client| async move {
            client
                .get_all_children_number(&path)
                .await
                .map_err(|e| Failure::on(e, &path))
        })
    }

    /// Deletes a node if its version is `version` (-1: any).
    #[napi(ts_return_type = "Promise<void>")]
    pub fn delete<'env>(
        &self,
        env: &'env Env,
        path: String,
        version: i32,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        self.run(env, true, cancel, move |client| async move {
            client
                .delete(&path, version)
                .await
                .map_err(|e| Failure::on(e, &path))
        })
    }

    #[napi(ts_return_type = "Promise<AclResult>")]
    pub fn get_acl<'env>(
        &self,
        env: &'env Env,
        path: String,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, AclResult>> {
        self.run(env, true, cancel, move |client| async move {
            let (acl, stat) = client
                .get_acl(&path)
                .await
                .map_err(|e| Failure::on(e, &path))?;
            Ok(AclResult {
                acl: acl.into_iter().map(AclEntry::from).collect(),
                stat: stat.into(),
            })
        })
    }

    #[napi(ts_return_type = "Promise<Stat>")]
    pub fn set_acl<'env>(
        &self,
        env: &'env Env,
        path: String,
        acl: Vec<AclEntry>,
        version: i32,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, Stat>> {
        let acl = acl_or_open(Some(acl));
        self.run(env, true, cancel, move |client| async move {
            client
                .set_acl(&path, &acl, version)
                .await
                .map(Stat::from)
                .map_err(|e| Failure::on(e, &path))
        })
    }

    /// Waits until the connected server has applied everything the leader had committed.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn sync<'env>(
        &self,
        env: &'env Env,
        path: String,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        self.run(env, true, cancel, move |client| async move {
            client.sync(&path).await.map_err(|e| Failure::on(e, &path))
        })
    }

    /// Adds credentials to the session (sent again after every reconnect).
    #[napi(ts_return_type = "Promise<void>")]
    pub fn add_auth<'env>(
        &self,
        env: &'env Env,
        scheme: String,
        auth: &[u8],
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let auth = auth.to_vec();
        self.run(env, true, cancel, move |client| async move {
            client.add_auth(&scheme, &auth).await.map_err(Failure::from)
        })
    }

    #[napi(ts_return_type = "Promise<ClientInfo[]>")]
    pub fn who_am_i<'env>(
        &self,
        env: &'env Env,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, Vec<ClientInfo>>> {
        self.run(env, true, cancel, move |client| async move {
            let infos = client.who_am_i().await.map_err(Failure::from)?;
            Ok(infos
                .into_iter()
                .map(|i| ClientInfo {
                    auth_scheme: i.auth_scheme,
                    user: i.user,
                })
                .collect())
        })
    }

    /// This session's ephemeral nodes under `prefix`.
    #[napi(ts_return_type = "Promise<string[]>")]
    pub fn get_ephemerals<'env>(
        &self,
        env: &'env Env,
        prefix: String,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, Vec<String>>> {
        self.run(env, true, cancel, move |client| async move {
            client
                .get_ephemerals(&prefix)
                .await
                .map_err(|e| Failure::on(e, &prefix))
        })
    }

    /// Applies every op or none; a failure names the failing op (`index`, `path`).
    #[napi(ts_return_type = "Promise<OpOutcome[]>")]
    pub fn multi<'env>(
        &self,
        env: &'env Env,
        ops: Vec<OpSpec>,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, Vec<OpOutcome>>> {
        let ops = match ops
            .into_iter()
            .map(op_of)
            .collect::<Result<Vec<Op>, Failure>>()
        {
            Ok(ops) => ops,
            Err(failure) => return self.js.rejected(env, failure),
        };
        self.run(env, true, cancel, move |client| async move {
            let results = client.multi(ops).await.map_err(Failure::from)?;
            Ok(results.into_iter().map(OpOutcome::from).collect())
        })
    }

    /// Creates `path` and any missing parents (persistent, empty); existing is success.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn mkdirp<'env>(
        &self,
        env: &'env Env,
        path: String,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        self.run(env, true, cancel, move |client| async move {
            zk_core::recipes::ensure_path(&client, &path)
                .await
                .map_err(|e| Failure::on(e, &path))
        })
    }

    /// Deletes `path` and everything below it; missing is success.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn remove_recursive<'env>(
        &self,
        env: &'env Env,
        path: String,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        self.run(env, true, cancel, move |client| async move {
            zk_core::recipes::delete_recursive(&client, &path)
                .await
                .map_err(|e| Failure::on(e, &path))
        })
    }

    /// Adds a persistent (or recursive) watch whose events `watchNext(id)` hands out.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn add_watch<'env>(
        &self,
        env: &'env Env,
        path: String,
        recursive: bool,
        id: u32,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let watches = self.watches.clone();
        let mode = if recursive {
            AddWatchMode::PersistentRecursive
        } else {
            AddWatchMode::Persistent
        };
        self.run(env, true, cancel, move |client| async move {
            let stream = client
                .add_watch(&path, mode)
                .await
                .map_err(|e| Failure::on(e, &path))?;
            watches.add_stream(id, stream);
            Ok(())
        })
    }

    /// The next event of persistent watch `id`; `null` once it has ended (removed, or the
    /// session is over). An `{type: 'overflow'}` event says events were dropped.
    /// Does not keep the process alive (a `ref()`ed watch holds the client instead).
    #[napi(ts_return_type = "Promise<WatchEvent | null>")]
    pub fn watch_next<'env>(
        &self,
        env: &'env Env,
        id: u32,
    ) -> napi::Result<PromiseRaw<'env, Option<WatchEvent>>> {
        let Some(ctx) = self.ctx() else {
            // The client has ended: what the watch had buffered (the session's last
            // events) is still handed out, then the end.
            let last = self.watches.drain_ended(id);
            let (deferred, promise) = self.js.promise(env, false)?;
            self.js
                .settle(env.raw(), deferred, false, Ok(produce(last)));
            return Ok(promise);
        };
        let watches = self.watches.clone();
        ctx.call(env, false, None, async move { Ok(watches.next(id).await) })
    }

    /// Removes watch `id` (one-shot or persistent): when no other watch of this client
    /// needs it, the server's watch is removed too.
    #[napi]
    pub fn remove_watch(&self, id: u32) {
        self.watches.remove(id);
    }
}

impl NativeClient {
    fn ctx(&self) -> Option<Ctx> {
        let sink = self.sink.borrow().clone()?;
        Some(Ctx {
            js: self.js.clone(),
            sink,
            cancels: self.cancels.clone(),
            bridge: self.bridge.clone(),
        })
    }

    /// The core client and what calls share, or why calls cannot be made now.
    pub(crate) fn parts(&self) -> Result<(Ctx, Client), Failure> {
        if let Some(failure) = self.ended.borrow().clone() {
            return Err(failure);
        }
        let client = self
            .live
            .borrow()
            .as_ref()
            .map(|live| live.client.clone())
            .ok_or_else(Failure::not_connected)?;
        let ctx = self.ctx().ok_or_else(Failure::closed)?;
        Ok((ctx, client))
    }

    pub(crate) fn js(&self) -> &Rc<JsState> {
        &self.js
    }

    fn with_client<T>(&self, f: impl FnOnce(&Client) -> T) -> Option<T> {
        self.live.borrow().as_ref().map(|live| f(&live.client))
    }

    /// The core client, started on first use, with its state forwarder.
    fn started(&self) -> Result<(Client, watch::Receiver<SessionState>), Failure> {
        if let Some(live) = self.live.borrow().as_ref() {
            return Ok((live.client.clone(), live.posted.clone()));
        }
        let sink = self.sink.borrow().clone().ok_or_else(Failure::closed)?;
        let client = Client::start(&self.hosts, self.options.clone()).map_err(Failure::from)?;
        let mut changes = client.state_changes();
        let (posted_tx, posted) = watch::channel(SessionState::Connecting);
        let states = sink::spawn(async move {
            while let Some(state) = changes.next().await {
                sink.post(Msg::Emit(event!(
                    "state",
                    convert::session_state_name(state)
                )));
                posted_tx.send_replace(state);
            }
        });
        self.js.reading.set_client(Some(client.clone()));
        *self.live.borrow_mut() = Some(Live {
            client: client.clone(),
            states,
            posted: posted.clone(),
        });
        Ok((client, posted))
    }

    fn run<'env, T, F, Fut>(
        &self,
        env: &'env Env,
        strong: bool,
        cancel: Option<u32>,
        work: F,
    ) -> napi::Result<PromiseRaw<'env, T>>
    where
        T: ToNapiValue + Send + 'static,
        F: FnOnce(Client) -> Fut,
        Fut: Future<Output = Result<T, Failure>> + Send + 'static,
    {
        // The per-call path: borrows, no copy of the client's shared parts.
        if let Some(failure) = self.ended.borrow().as_ref() {
            return self.js.rejected(env, failure.clone());
        }
        let live = self.live.borrow();
        let Some(live) = live.as_ref() else {
            return self.js.rejected(env, Failure::not_connected());
        };
        let sink = self.sink.borrow();
        let Some(sink) = sink.as_ref() else {
            return self.js.rejected(env, Failure::closed());
        };
        let work = work(live.client.clone());
        start_call(
            &self.js,
            sink,
            &self.cancels,
            &self.bridge,
            env,
            strong,
            cancel,
            async move {
                work.await
                    .map(|value| (produce(value), std::future::ready(())))
            },
        )
    }

    /// A call that leaves one-shot watch `id`: the promise settles first, then the task
    /// forwards the watch's event (or drops the watch when `removeWatch(id)` comes first).
    fn run_watched<'env, T, F, Fut>(
        &self,
        env: &'env Env,
        cancel: Option<u32>,
        id: u32,
        work: F,
    ) -> napi::Result<PromiseRaw<'env, T>>
    where
        T: ToNapiValue + Send + 'static,
        F: FnOnce(Client) -> Fut,
        Fut: Future<Output = Result<(T, Watch), Failure>> + Send + 'static,
    {
        let (ctx, client) = match self.parts() {
            Ok(parts) => parts,
            Err(failure) => return self.js.rejected(env, failure),
        };
        let stop = self.watches.register_once(id);
        let watches = self.watches.clone();
        let sink = ctx.sink.clone();
        let work = work(client);
        ctx.call_then(env, true, cancel, async move {
            match work.await {
                Ok((value, watch)) => {
                    Ok((value, watches::forward_once(watch, id, stop, sink, watches)))
                }
                Err(failure) => {
                    watches.forget_once(id);
                    Err(failure)
                }
            }
        })
    }
}

impl Drop for NativeClient {
    fn drop(&mut self) {
        // Collected (or its environment torn down, e.g. a terminated worker) while still
        // open: close the session rather than leave it to expire with its ephemerals.
        if let Some(live) = self.live.get_mut().take() {
            sink::spawn(async move { live.client.close().await });
        }
    }
}

/// What `create` and `create2` send.
struct CreateArgs {
    data: Option<Vec<u8>>,
    mode: zk_core::proto::CreateMode,
    acl: Vec<zk_core::proto::Acl>,
    ttl: Option<Duration>,
}

impl CreateArgs {
    fn new(
        data: Option<&[u8]>,
        mode: Option<&str>,
        acl: Option<Vec<AclEntry>>,
        ttl: Option<f64>,
    ) -> Result<CreateArgs, Failure> {
        let mode = create_mode(mode)?;
        Ok(CreateArgs {
            data: data.map(<[u8]>::to_vec),
            mode,
            acl: acl_or_open(acl),
            ttl: ttl_for(mode, ttl)?,
        })
    }

    async fn send(
        &self,
        client: &Client,
        path: &str,
    ) -> zk_core::client::Result<(String, zk_core::proto::Stat)> {
        client
            .create_with(path, self.data.as_deref(), &self.acl, self.mode, self.ttl)
            .await
    }
}

fn op_of(spec: OpSpec) -> Result<Op, Failure> {
    let data = spec.data.as_deref().unwrap_or_default();
    let version = spec.version.unwrap_or(-1);
    Ok(match spec.op.as_str() {
        "create" => {
            let mode = create_mode(spec.mode.as_deref())?;
            let acl = acl_or_open(spec.acl);
            match ttl_for(mode, spec.ttl)? {
                Some(ttl) => Op::create_ttl(&spec.path, data, &acl, mode, ttl.as_millis() as i64),
                None => Op::create(&spec.path, data, &acl, mode),
            }
        }
        "set" => Op::set_data(&spec.path, data, version),
        "delete" => Op::delete(&spec.path, version),
        "check" => Op::check(&spec.path, version),
        other => {
            return Err(Failure::bad_arguments(format!(
                "unknown transaction op {other:?}; one of: create, set, delete, check"
            )))
        }
    })
}

/// The core's options from the wrapper's config; what the core refuses (a certificate
/// without its key, an unsupported SASL mechanism) is a BADARGUMENTS failure.
pub(crate) fn client_options(config: ClientConfig) -> Result<ClientOptions, Failure> {
    let mut options = ClientOptions::default();
    if let Some(timeout) = config.session_timeout.and_then(millis) {
        options.session_timeout = timeout;
    }
    options.request_timeout = config.request_timeout.and_then(millis);
    options.can_be_read_only = config.read_only.unwrap_or(false);
    for entry in config.auth.unwrap_or_default() {
        options.auth.push((entry.scheme, entry.auth.to_vec()));
    }
    if let (Some(id), Some(password)) = (config.session_id, config.session_password) {
        let (id, lossless) = id.get_i64();
        if !lossless {
            return Err(Failure::bad_arguments("sessionId does not fit in 64 bits"));
        }
        options.session = Some((id, password.to_vec()));
    }
    if let Some(tls) = config.tls {
        let files = TlsOptions::new(tls.ca)
            .verify_hostname(tls.verify_hostname.unwrap_or(true))
            .client_cert_files(tls.cert, tls.key)
            .map_err(Failure::from)?;
        options.tls = Some(files);
    }
    if let Some(sasl) = config.sasl {
        let mechanism = sasl.mechanism.as_deref().unwrap_or("DIGEST-MD5");
        let mut chosen = SaslOptions::for_mechanism(mechanism, sasl.username, sasl.password)
            .map_err(Failure::from)?;
        if let Some(service) = sasl.service {
            chosen = chosen.protocol(service);
        }
        options.sasl = Some(chosen);
    }
    Ok(options)
}

/// Milliseconds from JavaScript (validated by the wrapper) as a duration.
pub(crate) fn millis(ms: f64) -> Option<Duration> {
    (ms.is_finite() && ms >= 0.0).then(|| Duration::from_millis(ms as u64))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A session-ending event for a watch whose sender went away without one.
pub(crate) fn closed_event() -> WatchEvent {
    WatchEvent {
        event_type: convert::event_type_name(zk_core::proto::EventType::None),
        state: convert::keeper_state_name(zk_core::proto::KeeperState::Closed),
        path: String::new(),
        zxid: -1,
    }
}
