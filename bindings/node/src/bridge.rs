//! One task per client that runs every call of that client on the core's runtime.
//!
//! Spawning a tokio task per call made every reply wake its own task, and every reply woke
//! JavaScript on its own: with 64 calls in flight that measured ~2.5 context switches per
//! call. Here JavaScript queues each call's future and wakes the client's one bridge task
//! only when the queue was empty, and while JavaScript runs a batch of replies (whose
//! continuations issue the next calls) the queue is corked, so the next calls go out
//! together. The bridge polls all its calls (a `FuturesUnordered`) with the client's
//! [`Sink`] corked, so the replies that came in one read reach JavaScript as one batch.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::Poll;

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::Notify;

use crate::sink::Sink;

type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

#[derive(Default)]
struct Queue {
    jobs: Vec<Job>,
    /// While JavaScript has the queue corked a first job does not wake the bridge yet...
    corked: u32,
    /// ...but the wake-up is owed to the uncork.
    owed: bool,
}

struct Inner {
    queue: Mutex<Queue>,
    wake: Notify,
    /// Live [`Bridge`] handles; at zero the task ends once its jobs are done.
    handles: AtomicUsize,
    closed: AtomicBool,
}

impl Inner {
    fn take(&self) -> Vec<Job> {
        let mut queue = lock(&self.queue);
        queue.owed = false;
        std::mem::take(&mut queue.jobs)
    }
}

/// The queue of a client's bridge task (cloned into every recipe object of the client).
pub(crate) struct Bridge {
    inner: Arc<Inner>,
}

impl Bridge {
    /// Starts the bridge task of a new client whose replies go to `sink`.
    pub fn start(sink: Weak<Sink>) -> Bridge {
        let inner = Arc::new(Inner {
            queue: Mutex::new(Queue::default()),
            wake: Notify::new(),
            handles: AtomicUsize::new(1),
            closed: AtomicBool::new(false),
        });
        crate::sink::spawn(run(inner.clone(), sink));
        Bridge { inner }
    }

    /// Runs `job` on the bridge task.
    pub fn run(&self, job: impl Future<Output = ()> + Send + 'static) {
        let wake = {
            let mut queue = lock(&self.inner.queue);
            queue.jobs.push(Box::pin(job));
            let first = queue.jobs.len() == 1;
            if first && queue.corked > 0 {
                queue.owed = true;
            }
            first && queue.corked == 0
        };
        if wake {
            self.inner.wake.notify_one();
        }
    }

    /// Holds back new calls while JavaScript runs a batch of replies.
    pub fn cork(&self) {
        lock(&self.inner.queue).corked += 1;
    }

    /// Ends a [`Bridge::cork`]: the calls made meanwhile go to the bridge together.
    pub fn uncork(&self) {
        let wake = {
            let mut queue = lock(&self.inner.queue);
            queue.corked = queue.corked.saturating_sub(1);
            let owed = queue.corked == 0 && queue.owed;
            if owed {
                queue.owed = false;
            }
            owed
        };
        if wake {
            self.inner.wake.notify_one();
        }
    }
}

impl Clone for Bridge {
    fn clone(&self) -> Bridge {
        self.inner.handles.fetch_add(1, Ordering::AcqRel);
        Bridge {
            inner: self.inner.clone(),
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        if self.inner.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.inner.closed.store(true, Ordering::Release);
            self.inner.wake.notify_one();
        }
    }
}

async fn run(inner: Arc<Inner>, sink: Weak<Sink>) {
    let mut jobs: FuturesUnordered<Job> = FuturesUnordered::new();
    loop {
        jobs.extend(inner.take());
        if jobs.is_empty() && inner.closed.load(Ordering::Acquire) {
            if lock(&inner.queue).jobs.is_empty() {
                return;
            }
            continue;
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
                jobs.extend(inner.take());
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
            () = inner.wake.notified() => {}
            () = round => {}
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
