//! The core's recipes (`zk_core::recipes`) as native objects for `lib/recipes.js`: each
//! binds to a connected `NativeClient` when made and converts arguments and results.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::{PromiseRaw, ToNapiValue};
use napi::{sys, Env};
use napi_derive::napi;
use zk_core::client::Client;
use zk_core::recipes::{
    Barrier, CacheEvent, Counter, CounterFormat, DoubleBarrier, GroupMember, Layout, LeaderLatch,
    Leadership, LockGuard, Mutex, Queue, ReadWriteLock, Semaphore, TreeCache,
};

use crate::client::{millis, produce, Ctx, NativeClient};
use crate::convert::{Bytes, CachedNode};
use crate::errors::Failure;
use crate::event;
use crate::sink::{self, JsState, Msg, Producer};

/// A recipe's binding to its client, or why it has none (made before `connect()`, or
/// after the client ended): then every call rejects with that.
struct Bound {
    js: Rc<JsState>,
    parts: Result<(Ctx, Client), Failure>,
}

impl Bound {
    fn new(client: &NativeClient) -> Bound {
        Bound {
            js: client.js().clone(),
            parts: client.parts(),
        }
    }

    fn client(&self) -> Option<&Client> {
        self.parts.as_ref().ok().map(|(_, client)| client)
    }

    fn run<'env, T, Fut>(
        &self,
        env: &'env Env,
        strong: bool,
        cancel: Option<u32>,
        work: impl FnOnce(&Ctx) -> Fut,
    ) -> napi::Result<PromiseRaw<'env, T>>
    where
        T: ToNapiValue + Send + 'static,
        Fut: std::future::Future<Output = Result<T, Failure>> + Send + 'static,
    {
        match &self.parts {
            Ok((ctx, _)) => ctx.call(env, strong, cancel, work(ctx)),
            Err(failure) => self.js.rejected(env, failure.clone()),
        }
    }

    fn run_producing<'env, T, Fut>(
        &self,
        env: &'env Env,
        strong: bool,
        cancel: Option<u32>,
        work: impl FnOnce(&Ctx) -> Fut,
    ) -> napi::Result<PromiseRaw<'env, T>>
    where
        Fut: std::future::Future<Output = Result<Producer, Failure>> + Send + 'static,
    {
        match &self.parts {
            Ok((ctx, _)) => {
                let work = work(ctx);
                ctx.call_producing(env, strong, cancel, async move {
                    work.await.map(|made| (made, std::future::ready(())))
                })
            }
            Err(failure) => self.js.rejected(env, failure.clone()),
        }
    }
}

fn layout_of(name: Option<&str>) -> napi::Result<Layout> {
    match name.unwrap_or("curator") {
        "curator" => Ok(Layout::Curator),
        "kazoo" => Ok(Layout::Kazoo),
        other => Err(napi::Error::from_reason(format!(
            "unknown layout {other:?}; one of: curator, kazoo"
        ))),
    }
}

fn timeout_of(ms: Option<f64>) -> Option<Duration> {
    ms.and_then(millis)
}

/// A JavaScript `null`.
fn null(env: sys::napi_env) -> napi::Result<sys::napi_value> {
    // SAFETY: JavaScript thread (producers only run there).
    unsafe { ToNapiValue::to_napi_value(env, None::<()>) }
}

// ----- locks and leases -----

/// An exclusive lock (`kind` `exclusive`) or one side of a read-write lock (`read`,
/// `write`), on Curator's (default) or kazoo's node names.
#[napi]
pub struct NativeLock {
    bound: Bound,
    mutex: Option<Mutex>,
}

#[napi]
impl NativeLock {
    #[napi(constructor)]
    pub fn new(
        client: &NativeClient,
        path: String,
        kind: String,
        layout: Option<String>,
        data: Option<&[u8]>,
    ) -> napi::Result<NativeLock> {
        let layout = layout_of(layout.as_deref())?;
        let data = data.unwrap_or_default();
        let bound = Bound::new(client);
        let mutex = match bound.client() {
            None => None,
            Some(core) => Some(match kind.as_str() {
                "exclusive" => Mutex::new(core, &path).layout(layout).data(data),
                "read" | "write" => {
                    let rw = ReadWriteLock::new(core, &path).layout(layout).data(data);
                    if kind == "read" {
                        rw.read_lock().clone()
                    } else {
                        rw.write_lock().clone()
                    }
                }
                other => {
                    return Err(napi::Error::from_reason(format!(
                        "unknown lock kind {other:?}; one of: exclusive, read, write"
                    )))
                }
            }),
        };
        Ok(NativeLock { bound, mutex })
    }

    /// Waits for the lock (at most `timeoutMs`); `null` if not acquired in time.
    #[napi(ts_return_type = "Promise<NativeLease | null>")]
    pub fn acquire<'env>(
        &self,
        env: &'env Env,
        timeout_ms: Option<f64>,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, Option<NativeLease>>> {
        let mutex = self.mutex.clone();
        let timeout = timeout_of(timeout_ms);
        self.bound.run_producing(env, true, cancel, |ctx| {
            let ctx = Sendable::of(ctx);
            async move {
                let Some(mutex) = mutex else {
                    return Err(Failure::not_connected());
                };
                let guard = match timeout {
                    Some(timeout) => mutex.acquire_timeout(timeout).await,
                    None => mutex.acquire().await.map(Some),
                }
                .map_err(|e| Failure::on(e, mutex.path()))?;
                Ok(lease_producer(guard, ctx))
            }
        })
    }

    /// Takes the lock only if nobody holds or waits for it; `null` otherwise.
    #[napi(ts_return_type = "Promise<NativeLease | null>")]
    pub fn try_acquire<'env>(
        &self,
        env: &'env Env,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, Option<NativeLease>>> {
        let mutex = self.mutex.clone();
        self.bound.run_producing(env, true, cancel, |ctx| {
            let ctx = Sendable::of(ctx);
            async move {
                let Some(mutex) = mutex else {
                    return Err(Failure::not_connected());
                };
                let guard = mutex
                    .try_acquire()
                    .await
                    .map_err(|e| Failure::on(e, mutex.path()))?;
                Ok(lease_producer(guard, ctx))
            }
        })
    }

    /// The contenders' node names in lock order (holder first).
    #[napi(ts_return_type = "Promise<string[]>")]
    pub fn contenders<'env>(
        &self,
        env: &'env Env,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, Vec<String>>> {
        let mutex = self.mutex.clone();
        self.bound.run(env, true, cancel, |_| async move {
            let mutex = mutex.ok_or_else(Failure::not_connected)?;
            mutex
                .contenders()
                .await
                .map_err(|e| Failure::on(e, mutex.path()))
        })
    }
}

/// A counting semaphore (Curator `InterProcessSemaphoreV2`).
#[napi]
pub struct NativeSemaphore {
    bound: Bound,
    semaphore: Option<Arc<Semaphore>>,
}

#[napi]
impl NativeSemaphore {
    #[napi(constructor)]
    pub fn new(
        client: &NativeClient,
        path: String,
        max_leases: u32,
        data: Option<&[u8]>,
    ) -> NativeSemaphore {
        let bound = Bound::new(client);
        let semaphore = bound.client().map(|core| {
            Arc::new(
                Semaphore::new(core, &path, max_leases as usize).data(data.unwrap_or_default()),
            )
        });
        NativeSemaphore { bound, semaphore }
    }

    /// Waits for a lease (at most `timeoutMs`); `null` if none came in time.
    #[napi(ts_return_type = "Promise<NativeLease | null>")]
    pub fn acquire<'env>(
        &self,
        env: &'env Env,
        timeout_ms: Option<f64>,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, Option<NativeLease>>> {
        let semaphore = self.semaphore.clone();
        let timeout = timeout_of(timeout_ms);
        self.bound.run_producing(env, true, cancel, |ctx| {
            let ctx = Sendable::of(ctx);
            async move {
                let semaphore = semaphore.ok_or_else(Failure::not_connected)?;
                let guard = match timeout {
                    Some(timeout) => semaphore.acquire_timeout(timeout).await,
                    None => semaphore.acquire().await.map(Some),
                }
                .map_err(Failure::from)?;
                Ok(lease_producer(guard, ctx))
            }
        })
    }

    /// The lease nodes held now.
    #[napi(ts_return_type = "Promise<string[]>")]
    pub fn lease_nodes<'env>(
        &self,
        env: &'env Env,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, Vec<String>>> {
        let semaphore = self.semaphore.clone();
        self.bound.run(env, true, cancel, |_| async move {
            let semaphore = semaphore.ok_or_else(Failure::not_connected)?;
            semaphore.lease_nodes().await.map_err(Failure::from)
        })
    }
}

/// A held lock, lease or leadership.
#[napi]
pub struct NativeLease {
    guard: RefCell<Option<LockGuard>>,
    token: i64,
    path: String,
    ctx: Ctx,
}

#[napi]
impl NativeLease {
    /// The czxid of the lease's node: every later holder has a larger one.
    #[napi(getter)]
    pub fn fencing_token(&self) -> i64 {
        self.token
    }

    /// The lease's node.
    #[napi(getter)]
    pub fn path(&self) -> String {
        self.path.clone()
    }

    /// Whether the hold is lost (suspended, expired, closed, node deleted) or released.
    #[napi(getter)]
    pub fn lost(&self) -> bool {
        self.guard.borrow().as_ref().is_none_or(LockGuard::is_lost)
    }

    /// Deletes the node (waiting through a reconnect); a second call does nothing.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn release<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        let guard = self.guard.borrow_mut().take();
        self.ctx.call(env, true, None, async move {
            match guard {
                Some(guard) => guard.release().await.map_err(Failure::from),
                None => Ok(()),
            }
        })
    }

    /// Resolves once the hold is lost or released. Does not keep the process alive.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn when_lost<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        let signal = self.guard.borrow().as_ref().map(LockGuard::lost_signal);
        self.ctx.call(env, false, None, async move {
            if let Some(signal) = signal {
                signal.await;
            }
            Ok(())
        })
    }
}

/// The parts of a `Ctx` that may travel to another thread; made whole again on the
/// JavaScript thread by a producer.
struct Sendable {
    sink: Arc<sink::Sink>,
    cancels: Arc<crate::client::Cancels>,
    bridge: crate::bridge::Bridge,
}

impl Sendable {
    fn of(ctx: &Ctx) -> Sendable {
        Sendable {
            sink: ctx.sink.clone(),
            cancels: ctx.cancels.clone(),
            bridge: ctx.bridge.clone(),
        }
    }

    fn with(self, js: &Rc<JsState>) -> Ctx {
        Ctx {
            js: js.clone(),
            sink: self.sink,
            cancels: self.cancels,
            bridge: self.bridge,
        }
    }
}

fn lease_producer(guard: Option<LockGuard>, parts: Sendable) -> Producer {
    Box::new(move |env, js| match guard {
        None => null(env),
        Some(guard) => {
            let lease = NativeLease {
                token: guard.fencing_token(),
                path: guard.path().to_owned(),
                guard: RefCell::new(Some(guard)),
                ctx: parts.with(js),
            };
            // SAFETY: JavaScript thread.
            unsafe { NativeLease::to_napi_value(env, lease) }
        }
    })
}

// ----- leader election -----

/// A candidate in an election (Curator `LeaderLatch` layout) until closed. Its standing
/// changes reach the router as `['election', id, 'elected', token]`, `['election', id,
/// 'revoked']` and, at the end, `['election', id, 'closed']`.
#[napi]
pub struct NativeElection {
    latch: RefCell<Option<Arc<LeaderLatch>>>,
    ctx: Ctx,
}

#[napi]
impl NativeElection {
    /// Joins the election at `path` as `participant`; resolves once our node exists.
    #[napi(ts_return_type = "Promise<NativeElection>")]
    pub fn start<'env>(
        env: &'env Env,
        client: &NativeClient,
        path: String,
        participant: String,
        id: u32,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, NativeElection>> {
        let bound = Bound::new(client);
        let core = bound.client().cloned();
        bound.run_producing(env, true, cancel, |ctx| {
            let parts = Sendable::of(ctx);
            async move {
                let core = core.ok_or_else(Failure::not_connected)?;
                let latch = LeaderLatch::start(&core, &path, &participant)
                    .await
                    .map_err(|e| Failure::on(e, &path))?;
                let latch = Arc::new(latch);
                forward_leadership(&latch, id, parts.sink.clone());
                Ok(Box::new(move |env, js: &Rc<JsState>| {
                    let election = NativeElection {
                        latch: RefCell::new(Some(latch)),
                        ctx: parts.with(js),
                    };
                    // SAFETY: JavaScript thread.
                    unsafe { NativeElection::to_napi_value(env, election) }
                }) as Producer)
            }
        })
    }

    /// `leader`, `candidate` or `closed`.
    #[napi(getter)]
    pub fn leadership(&self) -> &'static str {
        match self.latch.borrow().as_ref().map(|l| l.leadership()) {
            Some(Leadership::Leader { .. }) => "leader",
            Some(Leadership::Candidate) => "candidate",
            Some(Leadership::Closed) | None => "closed",
        }
    }

    /// The fencing token while leading, else `null`.
    #[napi(getter)]
    pub fn fencing_token(&self) -> Option<i64> {
        self.latch.borrow().as_ref().and_then(|l| l.fencing_token())
    }

    /// Waits until leading (`true`) or `timeoutMs` passes (`false`).
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn wait<'env>(
        &self,
        env: &'env Env,
        timeout_ms: Option<f64>,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, bool>> {
        let latch = self.latch.borrow().clone();
        let timeout = timeout_of(timeout_ms);
        self.ctx.call(env, true, cancel, async move {
            let latch = latch.ok_or_else(Failure::closed)?;
            latch.wait_leadership(timeout).await.map_err(Failure::from)
        })
    }

    /// Every participant in line order; the first leads.
    #[napi(ts_return_type = "Promise<Participant[]>")]
    pub fn participants<'env>(
        &self,
        env: &'env Env,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, Vec<Participant>>> {
        let latch = self.latch.borrow().clone();
        self.ctx.call(env, true, cancel, async move {
            let latch = latch.ok_or_else(Failure::closed)?;
            let participants = latch.participants().await.map_err(Failure::from)?;
            Ok(participants
                .into_iter()
                .map(|p| Participant {
                    id: p.id,
                    is_leader: p.is_leader,
                })
                .collect())
        })
    }

    /// Leaves the election (deletes our node).
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        let latch = self.latch.borrow_mut().take();
        self.ctx.call(env, true, None, async move {
            if let Some(latch) = latch {
                // A `participants()` call in flight may hold a clone for a moment;
                // the latch then leaves when that call drops it.
                if let Ok(latch) = Arc::try_unwrap(latch) {
                    latch.close().await;
                }
            }
            Ok(())
        })
    }
}

#[napi(object, object_from_js = false)]
pub struct Participant {
    pub id: String,
    pub is_leader: bool,
}

fn forward_leadership(latch: &LeaderLatch, id: u32, sink: Arc<sink::Sink>) {
    let mut changes = latch.changes();
    sink::spawn(async move {
        let mut leading = false;
        loop {
            let standing = *changes.borrow_and_update();
            match standing {
                Leadership::Leader { fencing_token } if !leading => {
                    leading = true;
                    sink.post(Msg::Emit(event!("election", id, "elected", fencing_token)));
                }
                Leadership::Candidate | Leadership::Closed if leading => {
                    leading = false;
                    sink.post(Msg::Emit(event!("election", id, "revoked")));
                }
                _ => {}
            }
            if standing == Leadership::Closed || changes.changed().await.is_err() {
                break;
            }
        }
        sink.post(Msg::Emit(event!("election", id, "closed")));
    });
}

// ----- barriers, queue, counter -----

/// A barrier: closed while its node exists (Curator `DistributedBarrier`, kazoo `Barrier`).
#[napi]
pub struct NativeBarrier {
    bound: Bound,
    barrier: Option<Arc<Barrier>>,
}

#[napi]
impl NativeBarrier {
    #[napi(constructor)]
    pub fn new(client: &NativeClient, path: String) -> NativeBarrier {
        let bound = Bound::new(client);
        let barrier = bound
            .client()
            .map(|core| Arc::new(Barrier::new(core, &path)));
        NativeBarrier { bound, barrier }
    }

    /// Closes the barrier (creates its node).
    #[napi(ts_return_type = "Promise<void>")]
    pub fn set<'env>(
        &self,
        env: &'env Env,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let barrier = self.barrier.clone();
        self.bound.run(env, true, cancel, |_| async move {
            barrier
                .ok_or_else(Failure::not_connected)?
                .set()
                .await
                .map_err(Failure::from)
        })
    }

    /// Opens the barrier (deletes its node).
    #[napi(ts_return_type = "Promise<void>")]
    pub fn remove<'env>(
        &self,
        env: &'env Env,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let barrier = self.barrier.clone();
        self.bound.run(env, true, cancel, |_| async move {
            barrier
                .ok_or_else(Failure::not_connected)?
                .remove()
                .await
                .map_err(Failure::from)
        })
    }

    /// Waits until the barrier is open; `false` if `timeoutMs` passed first.
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn wait<'env>(
        &self,
        env: &'env Env,
        timeout_ms: Option<f64>,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, bool>> {
        let barrier = self.barrier.clone();
        let timeout = timeout_of(timeout_ms);
        self.bound.run(env, true, cancel, |_| async move {
            barrier
                .ok_or_else(Failure::not_connected)?
                .wait(timeout)
                .await
                .map_err(Failure::from)
        })
    }
}

/// A double barrier: `members` enter together and leave together.
#[napi]
pub struct NativeDoubleBarrier {
    bound: Bound,
    barrier: Option<Arc<DoubleBarrier>>,
}

#[napi]
impl NativeDoubleBarrier {
    #[napi(constructor)]
    pub fn new(
        client: &NativeClient,
        path: String,
        members: u32,
        data: Option<&[u8]>,
    ) -> NativeDoubleBarrier {
        let bound = Bound::new(client);
        let barrier = bound.client().map(|core| {
            Arc::new(
                DoubleBarrier::new(core, &path, members as usize).data(data.unwrap_or_default()),
            )
        });
        NativeDoubleBarrier { bound, barrier }
    }

    /// Joins and waits until all members have; `false` on timeout (having left again).
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn enter<'env>(
        &self,
        env: &'env Env,
        timeout_ms: Option<f64>,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, bool>> {
        let barrier = self.barrier.clone();
        let timeout = timeout_of(timeout_ms);
        self.bound.run(env, true, cancel, |_| async move {
            barrier
                .ok_or_else(Failure::not_connected)?
                .enter(timeout)
                .await
                .map_err(Failure::from)
        })
    }

    /// Leaves and waits until all members have; `false` on timeout.
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn leave<'env>(
        &self,
        env: &'env Env,
        timeout_ms: Option<f64>,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, bool>> {
        let barrier = self.barrier.clone();
        let timeout = timeout_of(timeout_ms);
        self.bound.run(env, true, cancel, |_| async move {
            barrier
                .ok_or_else(Failure::not_connected)?
                .leave(timeout)
                .await
                .map_err(Failure::from)
        })
    }
}

/// A FIFO queue with priorities (kazoo `Queue`).
#[napi]
pub struct NativeQueue {
    bound: Bound,
    queue: Option<Queue>,
}

#[napi]
impl NativeQueue {
    #[napi(constructor)]
    pub fn new(client: &NativeClient, path: String) -> NativeQueue {
        let bound = Bound::new(client);
        let queue = bound.client().map(|core| Queue::new(core, &path));
        NativeQueue { bound, queue }
    }

    /// Appends `item`; lower `priority` (0..=999, default 100) is taken first.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn put<'env>(
        &self,
        env: &'env Env,
        item: &[u8],
        priority: Option<u32>,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let queue = self.queue.clone();
        let item = item.to_vec();
        self.bound.run(env, true, cancel, |_| async move {
            let queue = queue.ok_or_else(Failure::not_connected)?;
            let result = match priority {
                None => queue.put(&item).await,
                Some(p) => match u16::try_from(p) {
                    Ok(p) => queue.put_with_priority(&item, p).await,
                    Err(_) => {
                        return Err(Failure::bad_arguments(format!(
                            "queue priority {p} is not in 0..=999"
                        )))
                    }
                },
            };
            result.map_err(Failure::from)
        })
    }

    /// Removes and returns the first item. With `wait`, waits for one (at most
    /// `timeoutMs`); `null` if there is none.
    #[napi(ts_return_type = "Promise<Buffer | null>")]
    pub fn take<'env>(
        &self,
        env: &'env Env,
        wait: bool,
        timeout_ms: Option<f64>,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, Option<Bytes>>> {
        let queue = self.queue.clone();
        let timeout = timeout_of(timeout_ms);
        self.bound.run(env, true, cancel, |_| async move {
            let queue = queue.ok_or_else(Failure::not_connected)?;
            let item = if wait {
                queue.take_timeout(timeout).await
            } else {
                queue.take().await
            };
            item.map(|item| item.map(Bytes)).map_err(Failure::from)
        })
    }

    /// How many items are queued.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn len<'env>(
        &self,
        env: &'env Env,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, u32>> {
        let queue = self.queue.clone();
        self.bound.run(env, true, cancel, |_| async move {
            let queue = queue.ok_or_else(Failure::not_connected)?;
            let len = queue.len().await.map_err(Failure::from)?;
            Ok(u32::try_from(len).unwrap_or(u32::MAX))
        })
    }
}

/// A shared integer (kazoo `Counter`; Curator `SharedCount`/`DistributedAtomicLong` with
/// the `int32`/`int64` formats).
#[napi]
pub struct NativeCounter {
    bound: Bound,
    counter: Option<Counter>,
}

#[napi(object, object_from_js = false)]
pub struct CounterChange {
    pub before: i64,
    pub after: i64,
}

#[napi]
impl NativeCounter {
    #[napi(constructor)]
    pub fn new(
        client: &NativeClient,
        path: String,
        format: Option<String>,
        default_value: Option<i64>,
    ) -> napi::Result<NativeCounter> {
        let format = match format.as_deref().unwrap_or("text") {
            "text" => CounterFormat::Text,
            "int32" => CounterFormat::Int32,
            "int64" => CounterFormat::Int64,
            other => {
                return Err(napi::Error::from_reason(format!(
                    "unknown counter format {other:?}; one of: text, int32, int64"
                )))
            }
        };
        let bound = Bound::new(client);
        let counter = bound.client().map(|core| {
            Counter::new(core, &path)
                .format(format)
                .default_value(default_value.unwrap_or(0))
        });
        Ok(NativeCounter { bound, counter })
    }

    #[napi(ts_return_type = "Promise<number>")]
    pub fn get<'env>(
        &self,
        env: &'env Env,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, i64>> {
        let counter = self.counter.clone();
        self.bound.run(env, true, cancel, |_| async move {
            counter
                .ok_or_else(Failure::not_connected)?
                .get()
                .await
                .map_err(Failure::from)
        })
    }

    /// Adds `delta` atomically: `{before, after}`.
    #[napi(ts_return_type = "Promise<CounterChange>")]
    pub fn add<'env>(
        &self,
        env: &'env Env,
        delta: i64,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, CounterChange>> {
        let counter = self.counter.clone();
        self.bound.run(env, true, cancel, |_| async move {
            let (before, after) = counter
                .ok_or_else(Failure::not_connected)?
                .add(delta)
                .await
                .map_err(Failure::from)?;
            Ok(CounterChange { before, after })
        })
    }

    /// Sets the value; resolves to the value it replaced.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn set<'env>(
        &self,
        env: &'env Env,
        value: i64,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, i64>> {
        let counter = self.counter.clone();
        self.bound.run(env, true, cancel, |_| async move {
            counter
                .ok_or_else(Failure::not_connected)?
                .set(value)
                .await
                .map_err(Failure::from)
        })
    }

    /// Sets `next` only if the value is `expected`.
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn compare_and_set<'env>(
        &self,
        env: &'env Env,
        expected: i64,
        next: i64,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, bool>> {
        let counter = self.counter.clone();
        self.bound.run(env, true, cancel, |_| async move {
            counter
                .ok_or_else(Failure::not_connected)?
                .compare_and_set(expected, next)
                .await
                .map_err(Failure::from)
        })
    }
}

// ----- group membership -----

#[napi(object, object_from_js = false)]
pub struct Member {
    pub id: String,
    #[napi(ts_type = "Buffer")]
    pub data: Bytes,
}

/// This process's membership in a group (Curator `GroupMember` layout).
#[napi]
pub struct NativeGroupMember {
    member: RefCell<Option<Arc<GroupMember>>>,
    id: String,
    ctx: Ctx,
}

#[napi]
impl NativeGroupMember {
    /// Joins `group` as `id` with `data` (ephemeral `<group>/<id>`).
    #[napi(ts_return_type = "Promise<NativeGroupMember>")]
    pub fn join<'env>(
        env: &'env Env,
        client: &NativeClient,
        group: String,
        id: String,
        data: Option<&[u8]>,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, NativeGroupMember>> {
        let bound = Bound::new(client);
        let core = bound.client().cloned();
        let data = data.unwrap_or_default().to_vec();
        bound.run_producing(env, true, cancel, |ctx| {
            let parts = Sendable::of(ctx);
            async move {
                let core = core.ok_or_else(Failure::not_connected)?;
                let member = GroupMember::join(&core, &group, &id, &data)
                    .await
                    .map_err(|e| Failure::on(e, &group))?;
                Ok(Box::new(move |env, js: &Rc<JsState>| {
                    let member = NativeGroupMember {
                        member: RefCell::new(Some(Arc::new(member))),
                        id,
                        ctx: parts.with(js),
                    };
                    // SAFETY: JavaScript thread.
                    unsafe { NativeGroupMember::to_napi_value(env, member) }
                }) as Producer)
            }
        })
    }

    /// The members of `group` and their data.
    #[napi(ts_return_type = "Promise<Member[]>")]
    pub fn members_of<'env>(
        env: &'env Env,
        client: &NativeClient,
        group: String,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, Vec<Member>>> {
        let bound = Bound::new(client);
        let core = bound.client().cloned();
        bound.run(env, true, cancel, |_| async move {
            let core = core.ok_or_else(Failure::not_connected)?;
            members(GroupMember::members_of(&core, &group).await, &group)
        })
    }

    #[napi(getter)]
    pub fn id(&self) -> String {
        self.id.clone()
    }

    /// The members of this member's group.
    #[napi(ts_return_type = "Promise<Member[]>")]
    pub fn members<'env>(
        &self,
        env: &'env Env,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, Vec<Member>>> {
        let member = self.member.borrow().clone();
        self.ctx.call(env, true, cancel, async move {
            let member = member.ok_or_else(Failure::closed)?;
            members(member.members().await, "")
        })
    }

    /// Replaces this member's data.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn set_data<'env>(
        &self,
        env: &'env Env,
        data: &[u8],
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let member = self.member.borrow().clone();
        let data = data.to_vec();
        self.ctx.call(env, true, cancel, async move {
            let member = member.ok_or_else(Failure::closed)?;
            member.set_data(&data).await.map_err(Failure::from)
        })
    }

    /// Leaves the group (deletes our node); a second call does nothing.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn leave<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        let member = self.member.borrow_mut().take();
        self.ctx.call(env, true, None, async move {
            match member.map(Arc::try_unwrap) {
                Some(Ok(member)) => member.leave().await.map_err(Failure::from),
                // A call in flight holds it for a moment; dropping leaves in the background.
                Some(Err(_)) | None => Ok(()),
            }
        })
    }
}

fn members(
    found: zk_core::client::Result<std::collections::BTreeMap<String, Vec<u8>>>,
    group: &str,
) -> Result<Vec<Member>, Failure> {
    let found = found.map_err(|e| Failure::on(e, group))?;
    Ok(found
        .into_iter()
        .map(|(id, data)| Member {
            id,
            data: Bytes(data),
        })
        .collect())
}

// ----- caches -----

/// A local copy of a subtree kept current by a recursive persistent watch (Curator
/// `CuratorCache`). Its events reach the router as `['cache', id, type, node | null]`,
/// `type` one of `created`, `changed`, `deleted`, `initialized`, `suspended`, `resynced`,
/// `closed`.
#[napi]
pub struct NativeTreeCache {
    cache: RefCell<Option<TreeCache>>,
}

#[napi]
impl NativeTreeCache {
    #[napi(ts_return_type = "Promise<NativeTreeCache>")]
    pub fn start<'env>(
        env: &'env Env,
        client: &NativeClient,
        path: String,
        id: u32,
        cancel: Option<u32>,
    ) -> napi::Result<PromiseRaw<'env, NativeTreeCache>> {
        let bound = Bound::new(client);
        let core = bound.client().cloned();
        bound.run_producing(env, true, cancel, |ctx| {
            let sink = ctx.sink.clone();
            async move {
                let core = core.ok_or_else(Failure::not_connected)?;
                let (cache, mut events) = TreeCache::start(&core, &path)
                    .await
                    .map_err(|e| Failure::on(e, &path))?;
                sink::spawn(async move {
                    while let Some(event) = events.next().await {
                        let (kind, node): (&str, Option<CachedNode>) = match event {
                            CacheEvent::Created(node) => ("created", Some(node.into())),
                            CacheEvent::Changed(node) => ("changed", Some(node.into())),
                            CacheEvent::Deleted(node) => ("deleted", Some(node.into())),
                            CacheEvent::Initialized => ("initialized", None),
                            CacheEvent::Suspended => ("suspended", None),
                            CacheEvent::Resynced => ("resynced", None),
                            CacheEvent::Closed => ("closed", None),
                        };
                        sink.post(Msg::Emit(event!("cache", id, kind, node)));
                    }
                });
                Ok(produce(NativeTreeCacheSeed(cache)))
            }
        })
    }

    /// A node of the subtree, or `null`.
    #[napi]
    pub fn get(&self, path: String) -> Option<CachedNode> {
        self.cache
            .borrow()
            .as_ref()?
            .get(&path)
            .map(CachedNode::from)
    }

    /// The cached children's names of a node of the subtree, sorted.
    #[napi]
    pub fn children(&self, path: String) -> Vec<String> {
        self.cache
            .borrow()
            .as_ref()
            .map(|cache| cache.children(&path))
            .unwrap_or_default()
    }

    /// Every cached node, by path order.
    #[napi]
    pub fn snapshot(&self) -> Vec<CachedNode> {
        self.cache
            .borrow()
            .as_ref()
            .map(|cache| {
                cache
                    .snapshot()
                    .into_values()
                    .map(CachedNode::from)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Stops the cache (a `closed` event follows).
    #[napi]
    pub fn close(&self) {
        self.cache.borrow_mut().take();
    }
}

/// A started cache on its way to becoming a `NativeTreeCache` on the JavaScript thread.
struct NativeTreeCacheSeed(TreeCache);

impl ToNapiValue for NativeTreeCacheSeed {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        let cache = NativeTreeCache {
            cache: RefCell::new(Some(val.0)),
        };
        // SAFETY: JavaScript thread (producers run there).
        unsafe { NativeTreeCache::to_napi_value(env, cache) }
    }
}
