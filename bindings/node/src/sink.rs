//! The one road from the core's threads to the JavaScript thread, one per client.
//!
//! Tasks on the core's runtime never touch JavaScript. They [`Sink::post`] messages (settle
//! a promise, emit an event) onto the client's queue; the first message into an empty queue
//! wakes the JavaScript thread through one thread-safe function, which then runs every queued
//! message in order. One wake-up so serves a whole burst of replies, and watch events, state
//! changes and replies of one client reach JavaScript in the order they were posted.
//!
//! While the JavaScript thread reads a client's replies itself (`bridge.rs`), the calls it
//! finishes post here corked, and that thread takes the messages back and settles their
//! promises at once ([`JsState::settle_here`]), with no thread-safe function call; events
//! still go to the router through the thread-safe function, in order.
//!
//! Promises are made with `napi_create_promise` and settled here directly, not through
//! napi-rs's `async fn` support: that would create a thread-safe function per call and
//! would need a tokio runtime owned by napi, which napi shuts down whenever its last
//! environment exits (a recycled worker thread would so stop the core's connections).
//! Here the core's one runtime ([`zk_core::client::runtime`]) serves every environment.
//!
//! The thread-safe function is created *unref'd*: it keeps Node's event loop alive only
//! while [`JsState::hold`] counts something in flight (a call, or a handle the user
//! `ref()`ed), never an idle client.

use std::cell::{Cell, OnceCell, RefCell};
use std::future::Future;
use std::ptr;
use std::rc::Rc;
use std::sync::{Arc, Mutex, Weak};

use napi::bindgen_prelude::{PromiseRaw, ToNapiValue};
use napi::threadsafe_function::{
    ThreadsafeCallContext, ThreadsafeFunction, ThreadsafeFunctionCallMode,
};
use napi::{sys, Env, Status};
use tokio::sync::oneshot;
use zk_core::client::{Client, LentReads};

use crate::errors::Failure;
use crate::uv;

/// Builds a JavaScript value on the JavaScript thread (given the client's state there,
/// for values that are native objects of that client).
pub(crate) type Producer =
    Box<dyn FnOnce(sys::napi_env, &Rc<JsState>) -> napi::Result<sys::napi_value> + Send>;

/// What a call ends with.
pub(crate) type Outcome = Result<Producer, Failure>;

/// A promise's resolver, only ever used on the JavaScript thread that made it.
pub(crate) struct Deferred(sys::napi_deferred);

// SAFETY: the pointer is only carried through other threads; it is dereferenced (settled)
// only by `run_batch`, which runs on the JavaScript thread of the environment that made it.
unsafe impl Send for Deferred {}

/// One message for the JavaScript thread.
pub(crate) enum Msg {
    /// Resolve or reject a promise; `strong` calls were counted by [`JsState::hold`].
    Settle {
        deferred: Deferred,
        strong: bool,
        outcome: Outcome,
    },
    /// Hand an event (built as a JavaScript array `[kind, ...]`) to the client's router.
    Emit(Producer),
}

/// A value passed through to JavaScript as it is.
pub(crate) struct Raw(sys::napi_value);

impl ToNapiValue for Raw {
    unsafe fn to_napi_value(_env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        Ok(val.0)
    }
}

type Wake = ThreadsafeFunction<(), (), Option<Raw>, Status, false, true, 0>;

/// The queue shared by the posting threads and the JavaScript thread.
#[derive(Default)]
struct Queue {
    state: Mutex<QueueState>,
}

#[derive(Default)]
struct QueueState {
    messages: Vec<Msg>,
    /// While corked (see [`Sink::cork`]) a first message does not wake JavaScript yet...
    corked: u32,
    /// ...but the wake-up is owed to the uncork.
    owed: bool,
}

impl QueueState {
    /// Messages went into the queue: whether JavaScript must be woken now. Only the first
    /// into an empty queue wakes it (a queue that was not empty has its wake-up coming, or
    /// owed); while corked, the wake-up is owed to the uncork instead.
    fn wake_for_first(&mut self, was_empty: bool) -> bool {
        if !was_empty {
            return false;
        }
        if self.corked > 0 {
            self.owed = true;
            return false;
        }
        true
    }
}

impl Queue {
    fn take(&self) -> Vec<Msg> {
        let mut state = lock(&self.state);
        state.owed = false;
        std::mem::take(&mut state.messages)
    }
}

/// The posting end, shared (as `Arc`) by every task of one client.
pub(crate) struct Sink {
    queue: Arc<Queue>,
    wake: Wake,
}

impl Sink {
    /// Queues `msg`; wakes the JavaScript thread if the queue was empty. After the
    /// environment is gone (a terminated worker), messages are dropped.
    pub(crate) fn post(&self, msg: Msg) {
        let wake = {
            let mut state = lock(&self.queue.state);
            let was_empty = state.messages.is_empty();
            state.messages.push(msg);
            state.wake_for_first(was_empty)
        };
        if wake {
            self.wake_js();
        }
    }

    /// Holds back the wake-up of JavaScript while the client's bridge completes a burst of
    /// calls, so the burst reaches JavaScript in one batch rather than one reply at a time.
    pub(crate) fn cork(&self) {
        lock(&self.queue.state).corked += 1;
    }

    /// Ends a [`Sink::cork`], waking JavaScript if a message came meanwhile.
    pub(crate) fn uncork(&self) {
        let wake = {
            let mut state = lock(&self.queue.state);
            state.corked = state.corked.saturating_sub(1);
            let owed = state.corked == 0 && state.owed;
            if owed {
                state.owed = false;
            }
            owed
        };
        if wake {
            self.wake_js();
        }
    }

    /// Ends a [`Sink::cork`] on the JavaScript thread, which runs what came meanwhile
    /// itself ([`JsState::settle_here`]): returns it, unless another cork still holds it.
    pub(crate) fn uncork_here(&self) -> Vec<Msg> {
        let mut state = lock(&self.queue.state);
        state.corked = state.corked.saturating_sub(1);
        if state.corked > 0 {
            return Vec::new();
        }
        state.owed = false;
        std::mem::take(&mut state.messages)
    }

    /// Puts `rest` back at the head of the queue, for the thread-safe function.
    fn requeue(&self, mut rest: Vec<Msg>) {
        let wake = {
            let mut state = lock(&self.queue.state);
            let was_empty = state.messages.is_empty();
            rest.append(&mut state.messages);
            state.messages = rest;
            state.wake_for_first(was_empty)
        };
        if wake {
            self.wake_js();
        }
    }

    fn wake_js(&self) {
        if self.wake.call((), ThreadsafeFunctionCallMode::NonBlocking) != Status::Ok {
            // Closing: the environment is being torn down and will never run these.
            self.queue.take();
        }
    }
}

/// A client's connection while its JavaScript thread reads the replies (see `bridge.rs`).
pub(crate) struct Reading {
    pub env: sys::napi_env,
    /// The session, while it may lend its reads.
    pub client: RefCell<Option<Client>>,
    /// The socket this thread watches while it holds the connection's reads.
    pub watching: RefCell<Option<(uv::Watching, Rc<LentReads>)>>,
}

impl Reading {
    /// The session whose replies this thread may read from now on, or none (the reads
    /// then go back now: the connection task reads the answer to closing).
    pub(crate) fn set_client(&self, client: Option<Client>) {
        if client.is_none() {
            self.watching.borrow_mut().take();
        }
        *self.client.borrow_mut() = client;
    }
}

/// A client's state that only the JavaScript thread touches.
pub(crate) struct JsState {
    pub reading: Reading,
    /// Calls in flight that keep the event loop alive, plus handles the user `ref()`ed.
    holds: Cell<u32>,
    wake: Weak<Sink>,
    raw_wake: sys::napi_threadsafe_function,
}

impl JsState {
    /// Counts one more reason to keep the process alive.
    pub(crate) fn hold(&self, env: sys::napi_env) {
        let before = self.holds.get();
        self.holds.set(before + 1);
        if before == 0 {
            self.set_ref(env, true);
        }
    }

    /// Counts one reason less.
    pub(crate) fn release(&self, env: sys::napi_env) {
        let before = self.holds.get();
        if before == 0 {
            return;
        }
        self.holds.set(before - 1);
        if before == 1 {
            self.set_ref(env, false);
        }
    }

    fn set_ref(&self, env: sys::napi_env, on: bool) {
        let Some(sink) = self.wake.upgrade() else {
            return;
        };
        if sink.wake.aborted() {
            return;
        }
        // SAFETY: on the JavaScript thread that owns the thread-safe function, which is
        // alive (not aborted, and `sink` holds it).
        unsafe {
            if on {
                sys::napi_ref_threadsafe_function(env, self.raw_wake);
            } else {
                sys::napi_unref_threadsafe_function(env, self.raw_wake);
            }
        }
    }

    /// Makes a promise; with `strong` the call keeps the process alive until settled.
    pub(crate) fn promise<'env, T>(
        &self,
        env: &'env Env,
        strong: bool,
    ) -> napi::Result<(Deferred, PromiseRaw<'env, T>)> {
        let mut deferred = ptr::null_mut();
        let mut promise = ptr::null_mut();
        // SAFETY: plain N-API call on the JavaScript thread with valid out-pointers.
        let status = unsafe { sys::napi_create_promise(env.raw(), &mut deferred, &mut promise) };
        if status != sys::Status::napi_ok {
            return Err(napi::Error::from_reason("cannot create a promise"));
        }
        if strong {
            self.hold(env.raw());
        }
        Ok((Deferred(deferred), PromiseRaw::new(env.raw(), promise)))
    }

    /// A promise rejected now, for calls refused before they start.
    pub(crate) fn rejected<'env, T>(
        self: &Rc<Self>,
        env: &'env Env,
        failure: Failure,
    ) -> napi::Result<PromiseRaw<'env, T>> {
        let (deferred, promise) = self.promise(env, false)?;
        self.settle(env.raw(), deferred, false, Err(failure));
        Ok(promise)
    }

    /// Settles a promise (JavaScript thread only).
    pub(crate) fn settle(
        self: &Rc<Self>,
        env: sys::napi_env,
        deferred: Deferred,
        strong: bool,
        outcome: Outcome,
    ) {
        let value = outcome.and_then(|produce| produce(env, self).map_err(Failure::from_napi));
        // SAFETY: `deferred` was made on this thread by `promise` and is settled once.
        unsafe {
            match value {
                Ok(value) => {
                    sys::napi_resolve_deferred(env, deferred.0, value);
                }
                Err(failure) => {
                    let error = self.error_value(env, failure);
                    sys::napi_reject_deferred(env, deferred.0, error);
                }
            }
        }
        if strong {
            self.release(env);
        }
    }

    /// Settles the promises of `batch` here (the JavaScript thread, in a callback scope).
    /// An event goes to the router, which the thread-safe function calls: it and what
    /// follows it go back to the queue, in order.
    pub(crate) fn settle_here(self: &Rc<Self>, env: sys::napi_env, sink: &Sink, batch: Vec<Msg>) {
        let mut batch = batch.into_iter();
        while let Some(msg) = batch.next() {
            match msg {
                Msg::Settle {
                    deferred,
                    strong,
                    outcome,
                } => self.settle(env, deferred, strong, outcome),
                event @ Msg::Emit(_) => {
                    let mut rest = vec![event];
                    rest.extend(batch);
                    sink.requeue(rest);
                    return;
                }
            }
        }
    }

    /// The JavaScript `ZkError` for a failure, made by the wrapper's factory.
    pub(crate) fn error_value(&self, env: sys::napi_env, failure: Failure) -> sys::napi_value {
        failure.into_js(env)
    }
}

/// Creates the sink of one client: `router(batch)` receives each batch of events
/// (an array of `[kind, ...]` arrays).
pub(crate) fn open(
    env: sys::napi_env,
    router: napi::bindgen_prelude::Function<'_, (), ()>,
) -> napi::Result<(Arc<Sink>, Rc<JsState>)> {
    let queue = Arc::new(Queue::default());
    // Filled right below; the callback only runs later, from the event loop.
    let state_cell: Rc<OnceCell<Rc<JsState>>> = Rc::default();
    let for_js = state_cell.clone();
    let drained = queue.clone();
    let wake: Wake = router
        .build_threadsafe_function::<()>()
        .callee_handled::<false>()
        .weak::<true>()
        .build_callback(move |ctx: ThreadsafeCallContext<()>| match for_js.get() {
            Some(state) => run_batch(ctx.env.raw(), state, drained.take()),
            None => Ok(None),
        })?;
    let raw_wake = wake.raw();
    let sink = Arc::new(Sink { queue, wake });
    let state = Rc::new(JsState {
        reading: Reading {
            env,
            client: RefCell::new(None),
            watching: RefCell::new(None),
        },
        holds: Cell::new(0),
        wake: Arc::downgrade(&sink),
        raw_wake,
    });
    let _ = state_cell.set(state.clone());
    Ok((sink, state))
}

/// Runs one batch on the JavaScript thread: settles promises as they come and collects
/// events into one array for the router (called once, after this returns).
fn run_batch(
    env: sys::napi_env,
    state: &Rc<JsState>,
    batch: Vec<Msg>,
) -> napi::Result<Option<Raw>> {
    let mut events: Vec<sys::napi_value> = Vec::new();
    for msg in batch {
        match msg {
            Msg::Settle {
                deferred,
                strong,
                outcome,
            } => state.settle(env, deferred, strong, outcome),
            Msg::Emit(produce) => events.push(produce(env, state)?),
        }
    }
    if events.is_empty() {
        return Ok(None);
    }
    Ok(Some(Raw(crate::convert::array(env, &events)?)))
}

/// Spawns on the core's client runtime (the process's one tokio runtime).
pub(crate) fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    runtime().spawn(future)
}

pub(crate) fn runtime() -> &'static tokio::runtime::Handle {
    static HANDLE: std::sync::OnceLock<tokio::runtime::Handle> = std::sync::OnceLock::new();
    HANDLE.get_or_init(zk_core::client::runtime::handle)
}

/// Runs `work` unless cancelled first (the JavaScript side has already rejected then).
pub(crate) async fn cancellable<F>(work: F, cancel: Option<oneshot::Receiver<()>>) -> Outcome
where
    F: Future<Output = Outcome>,
{
    match cancel {
        None => work.await,
        Some(cancel) => {
            tokio::select! {
                outcome = work => outcome,
                _ = cancel => Err(Failure::aborted()),
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
