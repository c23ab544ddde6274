//! The one tokio runtime of the process, across `os.fork()`, and waiting on core futures
//! from Python threads.
//!
//! In the parent this is the core's client runtime. A forked child has none of the
//! parent's threads, so it gets a runtime of its own, and everything made before the fork
//! (clients, locks, watches) is left untouched there: using it raises, dropping it leaks
//! it ([`Owned`]) rather than touch state a vanished thread may have left locked.

use std::future::Future;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use pyo3::prelude::*;
use tokio::runtime::Handle;

/// How often a blocking call on the main thread lets Python run its signal handlers, so
/// Ctrl-C raises `KeyboardInterrupt` promptly.
pub const SIGNAL_CHECK: Duration = Duration::from_millis(40);

/// IO worker threads of the client runtime, in the importing process and in forked
/// children: every result goes to a Python thread anyway, and a second worker only added
/// wake-ups (measured: 15-25 % less CPU per call with one, sequential and pipelined).
pub const IO_WORKERS: usize = 1;

/// Bumped in the child after every fork.
static GENERATION: AtomicU32 = AtomicU32::new(0);
/// The runtime of the current generation (leaked; one per generation).
static CURRENT: AtomicPtr<Generation> = AtomicPtr::new(std::ptr::null_mut());
/// Serialises making a runtime (cold path).
static INIT: parking_lot::Mutex<()> = parking_lot::Mutex::new(());
/// `pthread_self()` of Python's main thread, the only one that runs signal handlers.
static MAIN_THREAD: AtomicU64 = AtomicU64::new(0);

struct Generation {
    number: u32,
    handle: Handle,
}

/// The generation this process is in: 0 in the process that imported `zk`, then one more
/// in each forked child.
pub fn generation() -> u32 {
    GENERATION.load(Ordering::Acquire)
}

/// The runtime of this process.
pub fn handle() -> Handle {
    let number = generation();
    let current = CURRENT.load(Ordering::Acquire);
    // SAFETY: a published Generation is never freed.
    if let Some(current) = unsafe { current.as_ref() } {
        if current.number == number {
            return current.handle.clone();
        }
    }
    start(number)
}

#[cold]
fn start(number: u32) -> Handle {
    let _init = INIT.lock();
    let current = CURRENT.load(Ordering::Acquire);
    // SAFETY: as in `handle`.
    if let Some(current) = unsafe { current.as_ref() } {
        if current.number == number {
            return current.handle.clone();
        }
    }
    let handle = if number == 0 {
        zk_core::client::runtime::handle()
    } else {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(IO_WORKERS)
            .thread_name("zk-client")
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("cannot start the zk client runtime: {e}"));
        let handle = runtime.handle().clone();
        // Lives as long as the process; its threads are gone after a fork anyway.
        std::mem::forget(runtime);
        handle
    };
    let published = Box::into_raw(Box::new(Generation {
        number,
        handle: handle.clone(),
    }));
    // The previous generation's record is leaked on purpose (see `handle`).
    CURRENT.store(published, Ordering::Release);
    handle
}

/// Called by `os.register_at_fork(after_in_child=...)`: a new generation on this thread.
pub fn after_fork_in_child() {
    GENERATION.fetch_add(1, Ordering::AcqRel);
    MAIN_THREAD.store(current_thread(), Ordering::Release);
}

/// Records which thread is Python's main thread (at import).
pub fn set_main_thread(ident: u64) {
    MAIN_THREAD.store(ident, Ordering::Release);
}

fn current_thread() -> u64 {
    // SAFETY: pthread_self has no preconditions. Python's thread ident is this value.
    unsafe { libc::pthread_self() as u64 }
}

/// Whether the calling thread is Python's main thread (the one signals interrupt).
pub fn on_main_thread() -> bool {
    MAIN_THREAD.load(Ordering::Acquire) == current_thread()
}

/// Runs `fut` to completion on this thread with the GIL released. On the main thread it
/// returns to Python at least every [`SIGNAL_CHECK`] (woken by a shared ticker, not a timer
/// per call) to run signal handlers: an exception they raise (`KeyboardInterrupt`) is
/// returned and `fut` is dropped, which abandons the request it was making.
pub fn wait<F>(py: Python<'_>, fut: F) -> PyResult<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let handle = handle();
    if !on_main_thread() {
        return Ok(py.detach(|| zk_core::client::block_on(&handle, fut)));
    }
    let ticker = Ticker::join(&handle);
    let mut fut = std::pin::pin!(fut);
    loop {
        let slice = fut.as_mut();
        let done = py.detach(|| {
            zk_core::client::block_on(&handle, async {
                let tick = ticker.tick.notified();
                tokio::select! {
                    biased;
                    output = slice => Some(output),
                    () = tick => None,
                }
            })
        });
        if let Some(output) = done {
            return Ok(output);
        }
        py.check_signals()?;
    }
}

/// Wakes the main thread's blocking waits every [`SIGNAL_CHECK`] while there are any.
struct Ticker {
    generation: u32,
    tick: tokio::sync::Notify,
    waiters: std::sync::atomic::AtomicUsize,
    running: std::sync::atomic::AtomicBool,
}

/// The ticker of the current generation (leaked, one per generation, as the runtime).
static TICKER: AtomicPtr<Ticker> = AtomicPtr::new(std::ptr::null_mut());

/// Counts a main-thread waiter while alive.
struct Waiting(&'static Ticker);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.waiters.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Ticker {
    /// Registers a waiter and makes sure the ticker runs.
    fn join(handle: &Handle) -> Waiting {
        let ticker = Ticker::current();
        ticker.waiters.fetch_add(1, Ordering::AcqRel);
        if !ticker.running.swap(true, Ordering::AcqRel) {
            handle.spawn(ticker.run());
        }
        Waiting(ticker)
    }

    fn current() -> &'static Ticker {
        let number = generation();
        // SAFETY: a published Ticker is never freed.
        if let Some(ticker) = unsafe { TICKER.load(Ordering::Acquire).as_ref() } {
            if ticker.generation == number {
                return ticker;
            }
        }
        let _init = INIT.lock();
        // SAFETY: as above.
        if let Some(ticker) = unsafe { TICKER.load(Ordering::Acquire).as_ref() } {
            if ticker.generation == number {
                return ticker;
            }
        }
        let ticker: &'static Ticker = Box::leak(Box::new(Ticker {
            generation: number,
            tick: tokio::sync::Notify::new(),
            waiters: std::sync::atomic::AtomicUsize::new(0),
            running: std::sync::atomic::AtomicBool::new(false),
        }));
        TICKER.store(ticker as *const Ticker as *mut Ticker, Ordering::Release);
        ticker
    }

    async fn run(&'static self) {
        loop {
            tokio::time::sleep(SIGNAL_CHECK).await;
            self.tick.notify_waiters();
            if self.waiters.load(Ordering::Acquire) == 0 {
                self.running.store(false, Ordering::Release);
                // A waiter that came meanwhile saw `running` and relies on this task.
                if self.waiters.load(Ordering::Acquire) == 0
                    || self.running.swap(true, Ordering::AcqRel)
                {
                    return;
                }
            }
        }
    }
}

/// A value holding core state (a client, a lock guard, a watch) that is dropped inside the
/// runtime (its `Drop` may spawn cleanup) and only in the generation that made it: in a
/// forked child it is leaked instead.
pub struct Owned<T> {
    value: ManuallyDrop<T>,
    generation: u32,
}

impl<T> Owned<T> {
    pub fn new(value: T) -> Owned<T> {
        Owned {
            value: ManuallyDrop::new(value),
            generation: generation(),
        }
    }

    /// The value, if it was made in this process (else it is leaked, see the type doc).
    pub fn into_inner(self) -> Option<T> {
        let mut this = ManuallyDrop::new(self);
        if !this.is_current() {
            return None;
        }
        // SAFETY: taken once; `this` is never dropped (ManuallyDrop).
        Some(unsafe { ManuallyDrop::take(&mut this.value) })
    }

    /// Whether it was made in this process (not inherited through a fork).
    pub fn is_current(&self) -> bool {
        self.generation == generation()
    }
}

impl Deref for Waiting {
    type Target = Ticker;
    fn deref(&self) -> &Ticker {
        self.0
    }
}

impl<T> Deref for Owned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for Owned<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T> Drop for Owned<T> {
    fn drop(&mut self) {
        if self.is_current() {
            let handle = handle();
            let _context = handle.enter();
            // SAFETY: dropped once, here; never used again.
            unsafe { ManuallyDrop::drop(&mut self.value) }
        }
    }
}
