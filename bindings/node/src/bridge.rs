//! Where a client's calls run: started on the JavaScript thread, finished on one task per
//! client on the core's runtime.
//!
//! A call's future is polled once on the JavaScript thread when the call is made. That
//! first poll hands the request to the core, which writes it to the socket right there
//! when the connection is idle (`zk_core::client::driver`), so a lone call costs the
//! runtime thread no wake-up to send it, only one for the reply. A call still pending
//! after that poll goes to the client's one bridge task without waking it: the future's
//! waker until the bridge adopts it is the bridge's own wake-up, so the reply is what
//! wakes the bridge. Calls so reach the core in the order they are made.
//!
//! While JavaScript runs a batch of replies (whose continuations make the next calls) the
//! calls are corked: held unpolled, and started together, in order, at the uncork. With
//! many calls in flight the connection is busy, so the core leaves their bytes to its
//! connection task; started together they go out in one write after one wake-up of it,
//! rather than a wake-up per call.
//!
//! The bridge polls all its calls (a `FuturesUnordered`) with the client's [`Sink`]
//! corked, so the replies that came in one read reach JavaScript as one batch.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Wake, Waker};

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::Notify;

use crate::sink::Sink;

type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

#[derive(Default)]
struct Queue {
    /// Polled once and pending, for the bridge to adopt.
    started: Vec<Job>,
    /// Made while corked, not polled yet: started at the uncork.
    held: Vec<Job>,
    /// While JavaScript has the queue corked, new calls are held.
    corked: u32,
}

/// Wakes the bridge task; also the waker of a call until the bridge adopts it.
#[derive(Default)]
struct Wakeup {
    notify: Notify,
    /// Counts wake-ups, so that a call woken between its first poll and its hand-over
    /// (when the bridge may already have looked for it) is not lost.
    count: AtomicU64,
}

impl Wakeup {
    fn wake_bridge(&self) {
        self.count.fetch_add(1, Ordering::SeqCst);
        self.notify.notify_one();
    }
}

impl Wake for Wakeup {
    fn wake(self: Arc<Self>) {
        self.wake_bridge();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wake_bridge();
    }
}

struct Inner {
    queue: Mutex<Queue>,
    wake: Arc<Wakeup>,
    /// Live [`Bridge`] handles; at zero the task ends once its jobs are done.
    handles: AtomicUsize,
    closed: AtomicBool,
}

impl Inner {
    fn take_started(&self) -> Vec<Job> {
        std::mem::take(&mut lock(&self.queue).started)
    }
}

/// A client's calls (cloned into every recipe object of the client). JavaScript thread
/// only: the calls it starts are polled there.
pub(crate) struct Bridge {
    inner: Arc<Inner>,
    /// The waker of calls polled here: wakes the bridge task.
    waker: Waker,
}

impl Bridge {
    /// Starts the bridge task of a new client whose replies go to `sink`.
    pub fn start(sink: Weak<Sink>) -> Bridge {
        let wake = Arc::new(Wakeup::default());
        let inner = Arc::new(Inner {
            queue: Mutex::new(Queue::default()),
            wake: wake.clone(),
            handles: AtomicUsize::new(1),
            closed: AtomicBool::new(false),
        });
        crate::sink::spawn(run(inner.clone(), sink));
        Bridge {
            inner,
            waker: Waker::from(wake),
        }
    }

    /// Runs `job`: starts it here, or at the uncork while corked.
    pub fn run(&self, job: impl Future<Output = ()> + Send + 'static) {
        let job: Job = Box::pin(job);
        {
            let mut queue = lock(&self.inner.queue);
            if queue.corked > 0 {
                queue.held.push(job);
                return;
            }
        }
        self.poll_first(job);
    }

    /// Polls `job` once on this thread; if it is still pending, leaves it for the bridge
    /// task, which its waker wakes.
    fn poll_first(&self, mut job: Job) {
        let wakes_before = self.inner.wake.count.load(Ordering::SeqCst);
        let pending = {
            // The core's futures need the runtime's context (timers, spawns).
            let _runtime = crate::sink::runtime().enter();
            job.as_mut()
                .poll(&mut Context::from_waker(&self.waker))
                .is_pending()
        };
        if pending {
            lock(&self.inner.queue).started.push(job);
            // Woken meanwhile: the bridge may have looked before the job was there.
            if self.inner.wake.count.load(Ordering::SeqCst) != wakes_before {
                self.inner.wake.notify.notify_one();
            }
        }
    }

    /// Holds back new calls while JavaScript runs a batch of replies.
    pub fn cork(&self) {
        lock(&self.inner.queue).corked += 1;
    }

    /// Ends a [`Bridge::cork`]: the calls made meanwhile start now, in order.
    pub fn uncork(&self) {
        let held = {
            let mut queue = lock(&self.inner.queue);
            queue.corked = queue.corked.saturating_sub(1);
            if queue.corked > 0 {
                return;
            }
            std::mem::take(&mut queue.held)
        };
        // Their requests go out together, written by this thread (see `WriteBatch`).
        let _batch = zk_core::client::WriteBatch::open();
        for job in held {
            self.poll_first(job);
        }
    }
}

impl Clone for Bridge {
    fn clone(&self) -> Bridge {
        self.inner.handles.fetch_add(1, Ordering::AcqRel);
        Bridge {
            inner: self.inner.clone(),
            waker: self.waker.clone(),
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        if self.inner.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.inner.closed.store(true, Ordering::Release);
            self.inner.wake.notify.notify_one();
        }
    }
}

async fn run(inner: Arc<Inner>, sink: Weak<Sink>) {
    let mut jobs: FuturesUnordered<Job> = FuturesUnordered::new();
    loop {
        jobs.extend(inner.take_started());
        if inner.closed.load(Ordering::Acquire) {
            // No handle is left to uncork: calls still held start here, in order.
            let held = std::mem::take(&mut lock(&inner.queue).held);
            jobs.extend(held);
            if jobs.is_empty() {
                if lock(&inner.queue).started.is_empty() {
                    return;
                }
                continue;
            }
        }
        // One round: every job that is ready runs, with the sink corked so that what the
        // round posts reaches JavaScript in one batch.
        let round = std::future::poll_fn(|cx| {
            let corked = sink.upgrade();
            if let Some(sink) = &corked {
                sink.cork();
            }
            let mut progressed = false;
            loop {
                jobs.extend(inner.take_started());
                match jobs.poll_next_unpin(cx) {
                    Poll::Ready(Some(())) => progressed = true,
                    Poll::Ready(None) | Poll::Pending => break,
                }
            }
            if let Some(sink) = corked {
                sink.uncork();
            }
            if progressed {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        });
        tokio::select! {
            biased;
            () = inner.wake.notify.notified() => {}
            () = round => {}
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
