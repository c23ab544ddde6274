//! [`block_on`]: a client call run to completion on the calling thread, for the bindings'
//! blocking calls and the [`blocking`](super::blocking) facade.
//!
//! A thread that has just written its request on an idle connection waits for the reply
//! on the socket itself and handles it there (see `socket.rs`), so the reply wakes this
//! thread only; otherwise it sleeps until the future's waker is called, like any
//! executor's `block_on`.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Once, Weak};
use std::task::{Context, Poll, Wake, Waker};

use tokio::runtime::Handle;

use super::batch::WriteBatch;

thread_local! {
    /// This thread's waiter (made again in a forked child: the parent's eventfd is shared).
    static WAITER: RefCell<Option<Arc<Waiter>>> = const { RefCell::new(None) };
    /// The waiter whose thread is handling replies right now: waking it needs no signal.
    static HANDLING: Cell<*const Waiter> = const { Cell::new(std::ptr::null()) };
    /// The client on whose idle connection this thread last wrote a request itself.
    static WROTE_ON_IDLE: RefCell<Option<Weak<dyn WaitHere>>> = const { RefCell::new(None) };
    /// Inside [`block_on`] (a callback run while handling replies may block again).
    static BLOCKED: Cell<bool> = const { Cell::new(false) };
    /// The connections whose reads this thread's event loop borrowed, by lending.
    static BORROWED: RefCell<Vec<(Weak<dyn WaitHere>, u64)>> = const { RefCell::new(Vec::new()) };
}

/// Forks seen in this process (counted in the child).
static FORKS: AtomicU32 = AtomicU32::new(0);

/// Runs `fut` to completion on the calling thread, in `handle`'s runtime context (timers,
/// spawning). Never call it from inside an async task.
pub fn block_on<F: Future>(handle: &Handle, fut: F) -> F::Output {
    if BLOCKED.with(Cell::get) || tokio::task::try_id().is_some() {
        // Nested (the waiter is taken), inside an async task (where tokio's own wait panics
        // with its message instead of stalling a worker), or no eventfd to be had.
        return handle.block_on(fut);
    }
    let Some(waiter) = Waiter::for_this_thread() else {
        return handle.block_on(fut);
    };
    let _context = handle.enter();
    let _blocked = Blocked::enter();
    let waker = Waker::from(waiter.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        waiter.notified.store(false, Ordering::Release);
        WROTE_ON_IDLE.with(|wrote| *wrote.borrow_mut() = None);
        if let Poll::Ready(output) = fut.as_mut().poll(&mut cx) {
            return output;
        }
        prepare_to_block();
        let wrote_on = WROTE_ON_IDLE.with(|wrote| wrote.borrow_mut().take());
        if let Some(driver) = wrote_on.and_then(|driver| driver.upgrade()) {
            if driver.wait_here(&waiter) {
                continue;
            }
        }
        waiter.park();
    }
}

/// Call before this thread blocks until a reply comes (as [`block_on`] does): writes the
/// requests an open [`WriteBatch`] holds back, and hands the IO thread back the reads
/// that this thread's event loop borrowed ([`LentReads`](super::LentReads)), which
/// nobody would read while it blocks.
pub fn prepare_to_block() {
    WriteBatch::write_held();
    let borrowed = BORROWED.with(|borrowed| std::mem::take(&mut *borrowed.borrow_mut()));
    for (driver, lending) in borrowed {
        if let Some(driver) = driver.upgrade() {
            driver.take_back_reads(lending);
        }
    }
}

/// A client whose connection a blocked caller can wait on (the driver, `driver.rs`).
pub(crate) trait WaitHere: Send + Sync {
    /// Waits on this thread for the connection's next bytes and handles them (so a reply
    /// this thread waits for wakes it alone) until `waiter` is woken; false, without
    /// waiting, when the connection cannot be lent now.
    fn wait_here(&self, waiter: &Waiter) -> bool;

    /// The IO thread reads the connection again, if `lending` still has its reads.
    fn take_back_reads(&self, lending: u64);
}

/// Notes that this thread's event loop borrowed `driver`'s reads (see
/// [`prepare_to_block`]) until [`returned`] says otherwise.
pub(crate) fn borrowed(driver: Weak<dyn WaitHere>, lending: u64) {
    BORROWED.with(|borrowed| borrowed.borrow_mut().push((driver, lending)));
}

/// The reads of `lending` are back with the IO thread.
pub(crate) fn returned(lending: u64) {
    // Off the loop's thread (a value dropped elsewhere) there is nothing to forget.
    BORROWED.with(|borrowed| borrowed.borrow_mut().retain(|(_, l)| *l != lending));
}

/// Notes that this thread wrote a request on `driver`'s idle connection: a [`block_on`]
/// on this thread may wait for the reply on the socket.
pub(crate) fn wrote_on_idle(driver: Weak<dyn WaitHere>) {
    WROTE_ON_IDLE.with(|wrote| *wrote.borrow_mut() = Some(driver));
}

/// A blocked thread's wake-up: a flag, and an eventfd it sleeps on.
pub(crate) struct Waiter {
    notified: AtomicBool,
    event: OwnedFd,
    forks: u32,
}

impl Waiter {
    fn for_this_thread() -> Option<Arc<Waiter>> {
        WAITER.with(|slot| {
            let mut slot = slot.borrow_mut();
            let forks = FORKS.load(Ordering::Acquire);
            match slot.as_ref() {
                Some(waiter) if waiter.forks == forks => Some(waiter.clone()),
                _ => {
                    let waiter = Arc::new(Waiter::new(forks)?);
                    *slot = Some(waiter.clone());
                    Some(waiter)
                }
            }
        })
    }

    fn new(forks: u32) -> Option<Waiter> {
        static COUNT_FORKS: Once = Once::new();
        COUNT_FORKS.call_once(|| {
            extern "C" fn forked() {
                FORKS.fetch_add(1, Ordering::AcqRel);
            }
            // SAFETY: registers a handler that only touches an atomic.
            unsafe { libc::pthread_atfork(None, None, Some(forked)) };
        });
        // SAFETY: eventfd has no preconditions; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return None;
        }
        Some(Waiter {
            notified: AtomicBool::new(false),
            // SAFETY: a descriptor we just opened and own alone.
            event: unsafe { OwnedFd::from_raw_fd(fd) },
            forks,
        })
    }

    /// Whether the waker was called since the future was last polled.
    pub fn notified(&self) -> bool {
        self.notified.load(Ordering::Acquire)
    }

    /// The eventfd that the waker signals.
    pub fn signal_fd(&self) -> RawFd {
        self.event.as_raw_fd()
    }

    /// Marks this thread as handling replies for this waiter until the guard drops: a wake
    /// from here only sets the flag.
    pub fn handling_here(&self) -> Handling {
        HANDLING.with(|handling| handling.set(self));
        Handling
    }

    /// Resets the eventfd after it was signalled.
    pub fn drain(&self) {
        let mut count = 0u64;
        // SAFETY: reads 8 bytes into `count`; EAGAIN (not signalled) is fine.
        let _ = unsafe {
            libc::read(
                self.event.as_raw_fd(),
                (&mut count as *mut u64).cast(),
                std::mem::size_of::<u64>(),
            )
        };
    }

    /// Sleeps until the waker is called.
    fn park(&self) {
        while !self.notified() {
            let mut fd = libc::pollfd {
                fd: self.event.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd for the duration of the call.
            if unsafe { libc::poll(&mut fd, 1, -1) } > 0 {
                self.drain();
            }
        }
    }
}

impl Wake for Waiter {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.notified.swap(true, Ordering::AcqRel) {
            return;
        }
        let here = HANDLING.with(|handling| std::ptr::eq(handling.get(), Arc::as_ptr(self)));
        if here {
            return;
        }
        let one = 1u64;
        // SAFETY: writes 8 bytes from `one` to our eventfd.
        let _ = unsafe {
            libc::write(
                self.event.as_raw_fd(),
                (&one as *const u64).cast(),
                std::mem::size_of::<u64>(),
            )
        };
    }
}

/// Marks this thread as inside [`block_on`] while alive.
struct Blocked;

impl Blocked {
    fn enter() -> Blocked {
        BLOCKED.with(|blocked| blocked.set(true));
        Blocked
    }
}

impl Drop for Blocked {
    fn drop(&mut self) {
        BLOCKED.with(|blocked| blocked.set(false));
    }
}

/// See [`Waiter::handling_here`].
pub(crate) struct Handling;

impl Drop for Handling {
    fn drop(&mut self) {
        HANDLING.with(|handling| handling.set(std::ptr::null()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ready_future_runs_on_the_calling_thread_outside_any_runtime() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let here = std::thread::current().id();
        assert_eq!(
            block_on(runtime.handle(), async { std::thread::current().id() }),
            here
        );
    }

    #[test]
    fn inside_an_async_task_it_refuses_as_tokio_does_instead_of_stalling_a_worker() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let handle = runtime.handle().clone();
        let joined = runtime.block_on(async move {
            tokio::spawn(async move { block_on(&handle, async { 1 }) }).await
        });
        assert!(joined.is_err_and(|e| e.is_panic()));
    }
}
