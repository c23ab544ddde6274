//! `AsyncResult`, what every `*_async` method returns (kazoo's `IAsyncResult`): `get()`
//! waits for it with the GIL released; callbacks given to `rawlink` run on the client's
//! dispatch thread; `await` works under asyncio.
//!
//! A call is polled once where it is made, which queues its request on the connection (so
//! calls keep the order they were made in). From then on whoever waits for it polls it:
//! its waker (the [`Slot`]) wakes a thread blocked in `get()`, or hands the call to its
//! event loop's `Completions` queue, and only when nobody waits is it handed to the
//! runtime (spawned), so that it still completes on its own. The IO threads never take
//! the GIL.
//!
//! For asyncio, the IO thread appends the call to its loop's `Completions` and writes an
//! eventfd only when the queue was empty; the loop (watching the eventfd with
//! `add_reader`) polls the calls and sets their futures in one batch. It also opens a
//! [`WriteBatch`] that a callback queued behind the tasks those futures wake closes
//! (`_settle`): the calls those tasks make go out in one write by the loop's thread,
//! instead of each waking an IO thread to write it.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use tokio::task::AbortHandle;
use zk_core::client::{Client as CoreClient, LentReads, WriteBatch};

use crate::dispatch::Callbacks;
use crate::runtime;

/// Turns a finished call into its Python value or exception, with the GIL held.
pub type Convert = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;

type Call = Pin<Box<dyn Future<Output = Convert> + Send>>;

thread_local! {
    /// The write batch an event loop's `Completions` opened on this thread.
    static LOOP_BATCH: RefCell<Option<WriteBatch>> = const { RefCell::new(None) };
    /// The completions whose loop reads a socket or completes calls on this thread right
    /// now: calls finished meanwhile need no eventfd, the loop completes them next.
    static READING_FOR: Cell<*const SinkShared> = const { Cell::new(std::ptr::null()) };
}

/// Closes the write batch that a `Completions` opened on this thread (if any): the calls
/// made since go out now.
#[pyfunction]
#[pyo3(name = "_end_write_batch")]
pub fn end_write_batch() {
    let batch = LOOP_BATCH.with(|batch| batch.borrow_mut().take());
    drop(batch);
}

/// A call and where its outcome lands; also the call's waker.
struct Slot {
    state: Mutex<SlotState>,
    done: Condvar,
    /// The call while it runs; `None` once finished or handed to the runtime.
    call: Mutex<Option<Call>>,
}

#[derive(Default)]
struct SlotState {
    outcome: Option<Convert>,
    finished: bool,
    /// Woken since a waiting thread last polled.
    woken: bool,
    /// Threads blocked in `get()`/`wait()`.
    waiters: usize,
    /// Handed to the runtime (nobody waited when it was woken): only the task polls.
    spawned: Option<AbortHandle>,
    /// `rawlink` callbacks with the result object they are given.
    links: Vec<(Py<PyAny>, Py<AsyncResult>)>,
    /// An asyncio future waiting (through a loop's `Completions`).
    notify: Option<(Arc<SinkShared>, u64)>,
    callbacks: Option<Arc<Callbacks>>,
}

impl Wake for Slot {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let mut state = self.state.lock();
        if state.finished || state.spawned.is_some() {
            return;
        }
        if let Some((sink, token)) = &state.notify {
            sink.push(*token);
            return;
        }
        if state.waiters > 0 {
            state.woken = true;
            drop(state);
            self.done.notify_all();
            return;
        }
        // Nobody waits: the runtime drives it to the end.
        let slot = self.clone();
        let task = runtime::handle().spawn(std::future::poll_fn(move |cx| slot.poll_call(cx)));
        state.spawned = Some(task.abort_handle());
    }
}

impl Slot {
    /// Polls the call once (with `cx`'s waker); finishes the slot when it is done.
    fn poll_call(self: &Arc<Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut call = self.call.lock();
        let Some(running) = call.as_mut() else {
            return Poll::Ready(());
        };
        let outcome = {
            let handle = runtime::handle();
            let _context = handle.enter();
            running.as_mut().poll(cx)
        };
        match outcome {
            Poll::Ready(outcome) => {
                *call = None;
                drop(call);
                self.finish(outcome);
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }

    /// Polls the call here with the slot as its waker, unless the runtime owns it.
    fn poll_here(self: &Arc<Self>) {
        if self.state.lock().spawned.is_some() {
            return;
        }
        let waker = Waker::from(self.clone());
        let _ = self.poll_call(&mut Context::from_waker(&waker));
    }

    fn finish(&self, outcome: Convert) {
        let (links, notify, callbacks) = {
            let mut state = self.state.lock();
            if state.finished {
                return;
            }
            state.finished = true;
            state.outcome = Some(outcome);
            (
                std::mem::take(&mut state.links),
                state.notify.take(),
                state.callbacks.clone(),
            )
        };
        self.done.notify_all();
        if let Some((sink, token)) = notify {
            sink.push(token);
        }
        if !links.is_empty() {
            if let Some(callbacks) = callbacks {
                callbacks.call(move |py| run_links(py, links));
            }
        }
    }

    fn is_finished(&self) -> bool {
        self.state.lock().finished
    }
}

fn run_links(py: Python<'_>, links: Vec<(Py<PyAny>, Py<AsyncResult>)>) -> PyResult<()> {
    for (callback, result) in links {
        if let Err(error) = callback.call1(py, (result,)) {
            crate::dispatch::log_callback_error(py, error);
        }
    }
    Ok(())
}

/// The result of an asynchronous call (kazoo's `IAsyncResult`).
#[pyclass(module = "zk", frozen)]
pub struct AsyncResult {
    slot: Arc<Slot>,
    /// The converted outcome, once asked for.
    value: Mutex<Option<Result<Py<PyAny>, PyErr>>>,
}

/// Starts `fut` (see the module doc); the returned `AsyncResult` completes with what it
/// gives.
pub fn spawn<F>(
    py: Python<'_>,
    callbacks: Option<Arc<Callbacks>>,
    fut: F,
) -> PyResult<Py<AsyncResult>>
where
    F: Future<Output = Convert> + Send + 'static,
{
    let slot = Arc::new(Slot {
        state: Mutex::new(SlotState {
            callbacks,
            ..SlotState::default()
        }),
        done: Condvar::new(),
        call: Mutex::new(Some(Box::pin(fut))),
    });
    slot.poll_here();
    Py::new(
        py,
        AsyncResult {
            slot,
            value: Mutex::new(None),
        },
    )
}

impl AsyncResult {
    /// The outcome if the call has finished (converted on first use, then kept).
    fn outcome(&self, py: Python<'_>) -> Option<Result<Py<PyAny>, PyErr>> {
        let mut value = self.value.lock();
        if value.is_none() {
            let convert = {
                let mut state = self.slot.state.lock();
                if !state.finished {
                    return None;
                }
                state.outcome.take()
            };
            let converted = match convert {
                Some(convert) => convert(py),
                None => Err(PyRuntimeError::new_err("zk: result already consumed")),
            };
            *value = Some(converted);
        }
        value.as_ref().map(|v| match v {
            Ok(v) => Ok(v.clone_ref(py)),
            Err(e) => Err(e.clone_ref(py)),
        })
    }

    /// Waits until finished or `timeout` passes, polling the call when it is woken;
    /// Ctrl-C interrupts it on the main thread.
    fn wait_finished(&self, py: Python<'_>, timeout: Option<Duration>) -> PyResult<bool> {
        if self.slot.is_finished() {
            return Ok(true);
        }
        // Our request may still be held in the loop's write batch, our reply due on a
        // socket this thread's loop borrowed.
        zk_core::client::prepare_to_block();
        let deadline = timeout.map(|t| Instant::now() + t);
        let main = runtime::on_main_thread();
        let slot = &self.slot;
        loop {
            let slice = match deadline {
                Some(at) => at.saturating_duration_since(Instant::now()),
                None => Duration::from_secs(3600),
            };
            let slice = if main {
                slice.min(runtime::SIGNAL_CHECK)
            } else {
                slice
            };
            let finished = py.detach(|| {
                slot.state.lock().waiters += 1;
                // Woken before we counted as a waiter: poll once first.
                slot.poll_here();
                let mut state = slot.state.lock();
                while !state.finished {
                    if std::mem::take(&mut state.woken) {
                        drop(state);
                        slot.poll_here();
                        state = slot.state.lock();
                        continue;
                    }
                    if slot.done.wait_for(&mut state, slice).timed_out() {
                        break;
                    }
                }
                state.waiters -= 1;
                state.finished
            });
            if finished {
                return Ok(true);
            }
            if main {
                py.check_signals()?;
            }
            if deadline.is_some_and(|at| Instant::now() >= at) {
                return Ok(false);
            }
        }
    }

    /// Completes an asyncio future with this result (unless it was cancelled).
    fn deliver(&self, py: Python<'_>, future: &Bound<'_, PyAny>) -> PyResult<()> {
        if future.call_method0("done")?.is_truthy()? {
            return Ok(());
        }
        match self.outcome(py) {
            Some(Ok(value)) => future.call_method1("set_result", (value,))?,
            Some(Err(error)) => future.call_method1("set_exception", (error.value(py),))?,
            None => return Ok(()),
        };
        Ok(())
    }
}

#[pymethods]
impl AsyncResult {
    /// Whether the call has finished.
    fn ready(&self) -> bool {
        self.slot.is_finished()
    }

    /// Whether the call finished without an error.
    fn successful(&self, py: Python<'_>) -> bool {
        matches!(self.outcome(py), Some(Ok(_)))
    }

    /// The exception the call failed with; `None` while running or if it succeeded.
    #[getter]
    fn exception(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        match self.outcome(py) {
            Some(Err(error)) => Some(error.value(py).clone().into_any().unbind()),
            _ => None,
        }
    }

    /// The value (raises the call's exception, or `TimeoutError` while it runs).
    #[getter]
    fn value(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.get_nowait(py)
    }

    /// Waits for the outcome (at most `timeout` seconds) and returns the value or raises
    /// the call's exception. With `block=False`, or when the timeout passes, raises
    /// `zk.OperationTimeoutError` (a `TimeoutError`) while the call is still running.
    #[pyo3(signature = (block = true, timeout = None))]
    fn get(&self, py: Python<'_>, block: bool, timeout: Option<f64>) -> PyResult<Py<PyAny>> {
        let timeout = crate::types::seconds(timeout, "timeout")?;
        if block {
            self.wait_finished(py, timeout)?;
        }
        match self.outcome(py) {
            Some(result) => result,
            None => Err(crate::error::with_code(
                py,
                zk_core::proto::ErrorCode::OperationTimeout,
                "the call has not finished",
            )),
        }
    }

    /// `get(block=False)`.
    fn get_nowait(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.get(py, false, None)
    }

    /// Waits up to `timeout` seconds (forever with `None`); whether the call finished.
    #[pyo3(signature = (timeout = None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let timeout = crate::types::seconds(timeout, "timeout")?;
        self.wait_finished(py, timeout)
    }

    /// Calls `callback(self)` on the client's dispatch thread once the call finishes (at
    /// once if it has).
    fn rawlink(slf: &Bound<'_, Self>, callback: Bound<'_, PyAny>) -> PyResult<()> {
        let this = slf.get();
        let link = (callback.unbind(), slf.clone().unbind());
        let mut state = this.slot.state.lock();
        if !state.finished {
            state.links.push(link);
            return Ok(());
        }
        match state.callbacks.clone() {
            Some(callbacks) => {
                drop(state);
                callbacks.call(move |py| run_links(py, vec![link]));
                Ok(())
            }
            None => {
                drop(state);
                run_links(slf.py(), vec![link])
            }
        }
    }

    /// Forgets a callback given to `rawlink` (if it has not run yet).
    fn unlink(&self, callback: &Bound<'_, PyAny>) {
        self.slot
            .state
            .lock()
            .links
            .retain(|(linked, _)| !linked.bind(callback.py()).is(callback));
    }

    /// Stops waiting for the call: the request is abandoned (a write may still be applied
    /// by the server) and the result becomes `zk.CancelledError`. `False` if it had
    /// already finished.
    fn cancel(&self) -> bool {
        if self.slot.is_finished() {
            return false;
        }
        if let Some(task) = self.slot.state.lock().spawned.as_ref() {
            task.abort();
        }
        // Dropping the call abandons its request.
        drop(self.slot.call.lock().take());
        let convert: Convert =
            Box::new(|py| Err(crate::error::cancelled(py, "the call was cancelled")));
        self.slot.finish(convert);
        true
    }

    /// Awaitable under asyncio (`await client.get_async(path)`).
    fn __await__(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let waiter = py
            .import("zk._aio")?
            .getattr("wait_result")?
            .call1((slf,))?;
        Ok(waiter.call_method0("__await__")?.unbind())
    }

    /// Completes the asyncio `future` through `completions` when the call finishes; with
    /// a `lender` (the call's client), the loop reads that client's socket meanwhile.
    #[pyo3(signature = (completions, future, lender = None))]
    fn _notify(
        slf: &Bound<'_, Self>,
        completions: &Bound<'_, Completions>,
        future: Bound<'_, PyAny>,
        lender: Option<PyRef<'_, crate::client::PyClient>>,
    ) -> PyResult<()> {
        let this = slf.get();
        let sink = completions.get();
        let core = lender.and_then(|client| client.shared.current_core());
        {
            let mut state = this.slot.state.lock();
            if !state.finished {
                let token = sink.next.fetch_add(1, Ordering::Relaxed);
                let key = core.as_ref().map(CoreClient::identity);
                sink.waiting
                    .lock()
                    .insert(token, (slf.clone().unbind(), future.unbind(), key));
                state.notify = Some((sink.shared.clone(), token));
                drop(state);
                if let Some(core) = core {
                    Completions::awaiting(completions, core)?;
                }
                return Ok(());
            }
        }
        this.deliver(slf.py(), &future)
    }
}

/// The completions of one asyncio event loop (see the module doc).
#[pyclass(module = "zk._zk", frozen)]
pub struct Completions {
    shared: Arc<SinkShared>,
    /// token -> (the result, the asyncio future awaiting it, its client's identity)
    waiting: Mutex<HashMap<u64, Waiter>>,
    next: AtomicU64,
    /// A weak reference to the loop.
    event_loop: Py<PyAny>,
    /// What the loop calls when a borrowed socket is readable: `f(self, loop, identity)`.
    on_readable: Py<PyAny>,
    /// The clients whose calls the loop awaits, by identity.
    lendings: Mutex<HashMap<usize, Lending>>,
}

type Waiter = (Py<AsyncResult>, Py<PyAny>, Option<usize>);

/// A client whose calls a loop awaits, and its socket while the loop reads it.
struct Lending {
    client: CoreClient,
    reads: Option<LentReads>,
    awaited: usize,
}

struct SinkShared {
    fd: libc::c_int,
    armed: AtomicBool,
    tokens: Mutex<Vec<u64>>,
}

impl SinkShared {
    fn push(&self, token: u64) {
        self.tokens.lock().push(token);
        if READING_FOR.with(|reading| std::ptr::eq(reading.get(), self)) {
            return;
        }
        if !self.armed.swap(true, Ordering::AcqRel) {
            let one: u64 = 1;
            // SAFETY: writes 8 bytes from a valid u64 to our eventfd. EAGAIN (counter full)
            // cannot lose a wake-up: the counter is non-zero then.
            unsafe { libc::write(self.fd, (&one as *const u64).cast(), 8) };
        }
    }
}

impl Drop for SinkShared {
    fn drop(&mut self) {
        // SAFETY: our own descriptor, closed once.
        unsafe { libc::close(self.fd) };
    }
}

impl Completions {
    /// One more call of `client` awaited: the loop borrows its socket if it can.
    fn awaiting(slf: &Bound<'_, Self>, client: CoreClient) -> PyResult<()> {
        let this = slf.get();
        let key = client.identity();
        let fd = {
            let mut lendings = this.lendings.lock();
            let lending = lendings.entry(key).or_insert_with(|| Lending {
                client,
                reads: None,
                awaited: 0,
            });
            lending.awaited += 1;
            if lending.reads.is_some() {
                return Ok(());
            }
            let Some(reads) = lending.client.lend_reads() else {
                return Ok(());
            };
            let fd = reads.fd();
            lending.reads = Some(reads);
            fd
        };
        let py = slf.py();
        let watched = this.live_loop(py)?.is_some_and(|event_loop| {
            event_loop
                .call_method1(
                    py,
                    "add_reader",
                    (
                        fd,
                        this.on_readable.clone_ref(py),
                        slf,
                        event_loop.clone_ref(py),
                        key,
                    ),
                )
                .is_ok()
        });
        if !watched {
            let reads = this
                .lendings
                .lock()
                .get_mut(&key)
                .and_then(|l| l.reads.take());
            drop(reads);
        }
        Ok(())
    }

    /// Stops watching `key`'s socket and gives its reads back.
    fn unwatch(&self, py: Python<'_>, key: usize, forget: bool) -> PyResult<()> {
        let reads = {
            let mut lendings = self.lendings.lock();
            let reads = lendings.get_mut(&key).and_then(|l| l.reads.take());
            if forget {
                lendings.remove(&key);
            }
            reads
        };
        let Some(reads) = reads else {
            return Ok(());
        };
        // Unwatched before it is given back: the descriptor stays open until then.
        if let Some(event_loop) = self.live_loop(py)? {
            event_loop.call_method1(py, "remove_reader", (reads.fd(),))?;
        }
        drop(reads);
        Ok(())
    }

    /// The loop, unless it is gone (then so is its selector).
    fn live_loop(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let event_loop = self.event_loop.call0(py)?;
        Ok((!event_loop.is_none(py)).then_some(event_loop))
    }

    /// Completes the futures whose calls finished; true when it did, having opened a
    /// write batch for the calls their tasks make (closed by `_settle`).
    fn complete(&self, py: Python<'_>) -> bool {
        // A call finished here announces itself again (`Slot::finish`): no eventfd for it.
        let _here = ReadingFor::enter(&self.shared);
        let mut completed = false;
        loop {
            let tokens = std::mem::take(&mut *self.shared.tokens.lock());
            if tokens.is_empty() {
                break;
            }
            for token in tokens {
                completed |= self.complete_one(py, token);
            }
        }
        if completed {
            // A batch left open (its loop stopped before closing it) ends here first.
            end_write_batch();
            LOOP_BATCH.with(|batch| *batch.borrow_mut() = Some(WriteBatch::open()));
        }
        completed
    }

    fn complete_one(&self, py: Python<'_>, token: u64) -> bool {
        let entry = self
            .waiting
            .lock()
            .get(&token)
            .map(|(result, future, _)| (result.clone_ref(py), future.clone_ref(py)));
        let Some((result, future)) = entry else {
            return false;
        };
        let result = result.get();
        result.slot.poll_here();
        if !result.slot.is_finished() {
            return false;
        }
        let key = self.waiting.lock().remove(&token).and_then(|(.., key)| key);
        if let Some(key) = key {
            if let Some(lending) = self.lendings.lock().get_mut(&key) {
                lending.awaited = lending.awaited.saturating_sub(1);
            }
        }
        if let Err(error) = result.deliver(py, future.bind(py)) {
            crate::dispatch::log_callback_error(py, error);
        }
        true
    }
}

/// Marks this thread as completing `sink`'s calls until dropped (see `SinkShared::push`).
struct ReadingFor;

impl ReadingFor {
    fn enter(sink: &Arc<SinkShared>) -> ReadingFor {
        READING_FOR.with(|reading| reading.set(Arc::as_ptr(sink)));
        ReadingFor
    }
}

impl Drop for ReadingFor {
    fn drop(&mut self) {
        READING_FOR.with(|reading| reading.set(std::ptr::null()));
    }
}

#[pymethods]
impl Completions {
    /// The completions of `event_loop`, which calls `on_readable(self, loop, identity)`
    /// when a borrowed socket is readable.
    #[new]
    fn new(event_loop: &Bound<'_, PyAny>, on_readable: Py<PyAny>) -> PyResult<Completions> {
        let event_loop = event_loop
            .py()
            .import("weakref")?
            .getattr("ref")?
            .call1((event_loop,))?
            .unbind();
        // SAFETY: plain syscall; the descriptor is owned by SinkShared.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        Ok(Completions {
            shared: Arc::new(SinkShared {
                fd,
                armed: AtomicBool::new(false),
                tokens: Mutex::new(Vec::new()),
            }),
            waiting: Mutex::new(HashMap::new()),
            next: AtomicU64::new(1),
            event_loop,
            on_readable,
            lendings: Mutex::new(HashMap::new()),
        })
    }

    /// The eventfd the loop watches.
    fn fileno(&self) -> i32 {
        self.shared.fd
    }

    /// Completes the futures whose calls finished (the loop's reader callback); true when
    /// it did and opened a write batch for the calls their tasks make, which the caller
    /// closes with `_settle` queued behind those tasks (`loop.call_soon`).
    fn drain(&self, py: Python<'_>) -> bool {
        let mut counter: u64 = 0;
        // SAFETY: reads 8 bytes into a valid u64 from our non-blocking eventfd.
        unsafe { libc::read(self.shared.fd, (&mut counter as *mut u64).cast(), 8) };
        self.shared.armed.store(false, Ordering::Release);
        self.complete(py)
    }

    /// A borrowed socket is readable: reads and handles its bytes here and completes the
    /// calls they answer, as `drain`; stops watching it when it is the IO thread's again.
    fn readable(&self, py: Python<'_>, key: usize) -> PyResult<bool> {
        let open = {
            let lendings = self.lendings.lock();
            match lendings.get(&key).and_then(|l| l.reads.as_ref()) {
                Some(reads) => {
                    let _here = ReadingFor::enter(&self.shared);
                    reads.handle()
                }
                None => false,
            }
        };
        if !open {
            self.unwatch(py, key, false)?;
        }
        Ok(self.complete(py))
    }

    /// The end of the loop iteration that completed calls: closes the write batch, and
    /// gives back the sockets of clients none of whose calls is awaited any more.
    fn _settle(&self, py: Python<'_>) -> PyResult<()> {
        end_write_batch();
        let idle: Vec<usize> = self
            .lendings
            .lock()
            .iter()
            .filter(|(_, lending)| lending.awaited == 0)
            .map(|(key, _)| *key)
            .collect();
        for key in idle {
            self.unwatch(py, key, true)?;
        }
        Ok(())
    }

    /// How many futures are waiting (for tests).
    fn __len__(&self) -> usize {
        self.waiting.lock().len()
    }

    /// How many clients' sockets the loop reads now (for tests).
    fn _reading(&self) -> usize {
        self.lendings
            .lock()
            .values()
            .filter(|lending| lending.reads.is_some())
            .count()
    }
}

/// Wraps a value conversion as the `Convert` of a finished call.
pub fn convert<T, E>(
    result: Result<T, E>,
    ok: impl FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
    err: impl FnOnce(Python<'_>, E) -> PyErr + Send + 'static,
) -> Convert
where
    T: Send + 'static,
    E: Send + 'static,
{
    Box::new(move |py| match result {
        Ok(value) => ok(py, value),
        Err(error) => Err(err(py, error)),
    })
}

/// `None` as a Python value.
pub fn none(py: Python<'_>) -> Py<PyAny> {
    py.None()
}

/// `True` as a Python value.
pub fn true_(py: Python<'_>) -> Py<PyAny> {
    pyo3::types::PyBool::new(py, true)
        .to_owned()
        .into_any()
        .unbind()
}

/// A tuple of values.
pub fn tuple(py: Python<'_>, items: Vec<Py<PyAny>>) -> PyResult<Py<PyAny>> {
    Ok(PyTuple::new(py, items)?.into_any().unbind())
}
