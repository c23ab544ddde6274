//! Where a client's calls run and who reads their replies.
//!
//! A call's future is polled once on the JavaScript thread when the call is made. That
//! first poll hands the request to the core, which writes it to the socket right there
//! when the connection is idle (`zk_core::client::driver`). A call still pending after that
//! poll joins the client's jobs without waking anyone: the jobs' waker is the client's
//! [`Wakeup`], and whoever reads the reply wakes it.
//!
//! **The JavaScript thread reads the replies.** While a client has calls in flight, its
//! JavaScript thread borrows the connection's reads ([`zk_core::client::LentReads`]) and
//! watches the socket from its own event loop (`uv.rs`). When replies come, that thread
//! reads and handles them, polls the jobs they finished, and settles their promises, all
//! in one callback: a round trip wakes one thread, not the core's IO thread and then
//! JavaScript. A wake-up on that thread while it reads is only noted (`WAKING_HERE`): the
//! thread polls the jobs itself right after. The IO thread takes the reads back by itself
//! when a ping falls due or the connection changes; the next call borrows them again.
//!
//! Otherwise (the reads are not lent, or a job is woken by something else) the [`Wakeup`]
//! wakes the client's bridge task on the core's runtime, which polls the jobs there with
//! the client's [`Sink`] corked, so the replies of one read reach JavaScript as one batch.
//!
//! While JavaScript runs a batch of replies (whose continuations make the next calls) the
//! calls are corked: held unpolled, and started together, in order, at the uncork, inside
//! one [`WriteBatch`], so the burst goes out in one write by the JavaScript thread.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::{self, Rc};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Wake, Waker};

use futures_util::stream::{FuturesUnordered, StreamExt};
use napi::sys;
use tokio::sync::Notify;
use zk_core::client::{Client, LentReads, WriteBatch};

use crate::sink::{JsState, Sink};
use crate::uv;

type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Rounds of jobs woken while they ran on the JavaScript thread before the bridge task is
/// left the rest (a job that keeps waking itself must not hold the event loop).
const ROUNDS_HERE: usize = 8;

thread_local! {
    /// The wake-up of the client whose replies this thread is reading right now.
    static WAKING_HERE: Cell<*const Wakeup> = const { Cell::new(std::ptr::null()) };
}

#[derive(Default)]
struct Queue {
    /// Polled once and pending, for the jobs to adopt.
    started: Vec<Job>,
    /// Made while corked, not polled yet: started at the uncork.
    held: Vec<Job>,
    /// While JavaScript has the queue corked, new calls are held.
    corked: u32,
}

/// Wakes the bridge task; the waker of every job of the client.
#[derive(Default)]
struct Wakeup {
    notify: Notify,
    /// Counts wake-ups, so that a call woken between its first poll and its hand-over
    /// (when the bridge may already have looked for it) is not lost.
    count: AtomicU64,
    /// Woken while the JavaScript thread reads this client's replies.
    woken_here: AtomicBool,
}

impl Wakeup {
    fn wake_bridge(&self) {
        if WAKING_HERE.with(|here| std::ptr::eq(here.get(), self)) {
            self.woken_here.store(true, Ordering::Release);
            return;
        }
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
    jobs: Mutex<FuturesUnordered<Job>>,
    wake: Arc<Wakeup>,
    /// Live [`Bridge`] handles; at zero the task ends once its jobs are done.
    handles: AtomicUsize,
    closed: AtomicBool,
}

impl Inner {
    fn take_started(&self) -> Vec<Job> {
        std::mem::take(&mut lock(&self.queue).started)
    }

    /// Polls every job that is ready (with `waker`); true when none is left.
    fn poll_jobs(&self, waker: &Waker, and_held: bool) -> bool {
        let mut cx = Context::from_waker(waker);
        let mut jobs = lock(&self.jobs);
        loop {
            jobs.extend(self.take_started());
            if and_held {
                jobs.extend(std::mem::take(&mut lock(&self.queue).held));
            }
            match jobs.poll_next_unpin(&mut cx) {
                Poll::Ready(Some(())) => {}
                Poll::Ready(None) | Poll::Pending => break,
            }
        }
        jobs.is_empty() && lock(&self.queue).started.is_empty()
    }

    /// On the JavaScript thread while it reads the replies: polls the jobs they woke.
    fn poll_jobs_here(&self, waker: &Waker) {
        let _runtime = crate::sink::runtime().enter();
        for _ in 0..ROUNDS_HERE {
            self.wake.woken_here.store(false, Ordering::Release);
            self.poll_jobs(waker, false);
            if !self.wake.woken_here.load(Ordering::Acquire) {
                return;
            }
        }
        // Still waking: the bridge task goes on with them.
        self.wake.woken_here.store(false, Ordering::Release);
        self.wake.count.fetch_add(1, Ordering::SeqCst);
        self.wake.notify.notify_one();
    }

    /// Polls `job` once on this thread; if it is still pending, leaves it to the jobs.
    fn poll_first(&self, mut job: Job, waker: &Waker) {
        let wakes_before = self.wake.count.load(Ordering::SeqCst);
        let pending = {
            // The core's futures need the runtime's context (timers, spawns).
            let _runtime = crate::sink::runtime().enter();
            job.as_mut()
                .poll(&mut Context::from_waker(waker))
                .is_pending()
        };
        if pending {
            lock(&self.queue).started.push(job);
            // Woken meanwhile: the bridge may have looked before the job was there.
            if self.wake.count.load(Ordering::SeqCst) != wakes_before {
                self.wake.notify.notify_one();
            }
        }
    }

    fn cork(&self) {
        lock(&self.queue).corked += 1;
    }

    fn uncork(&self, waker: &Waker) {
        let held = {
            let mut queue = lock(&self.queue);
            queue.corked = queue.corked.saturating_sub(1);
            if queue.corked > 0 {
                return;
            }
            std::mem::take(&mut queue.held)
        };
        // Their requests go out together, written by this thread (see `WriteBatch`).
        let _batch = WriteBatch::open();
        for job in held {
            self.poll_first(job, waker);
        }
    }
}

/// A client's calls (cloned into every recipe object of the client). Its calls are
/// started on the JavaScript thread.
pub(crate) struct Bridge {
    inner: Arc<Inner>,
    /// The jobs' waker: the client's [`Wakeup`].
    waker: Waker,
}

impl Bridge {
    /// Starts the bridge task of a new client whose replies go to `sink`.
    pub fn start(sink: Weak<Sink>) -> Bridge {
        let wake = Arc::new(Wakeup::default());
        let inner = Arc::new(Inner {
            queue: Mutex::new(Queue::default()),
            jobs: Mutex::new(FuturesUnordered::new()),
            wake: wake.clone(),
            handles: AtomicUsize::new(1),
            closed: AtomicBool::new(false),
        });
        let waker = Waker::from(wake);
        crate::sink::spawn(run(inner.clone(), sink, waker.clone()));
        Bridge { inner, waker }
    }

    /// Runs `job` (on the JavaScript thread of `js`, whose client's replies that thread
    /// then reads): starts it here, or at the uncork while corked.
    pub fn run(
        &self,
        js: &Rc<JsState>,
        sink: &Arc<Sink>,
        job: impl Future<Output = ()> + Send + 'static,
    ) {
        self.read_here(js, sink);
        let job: Job = Box::pin(job);
        {
            let mut queue = lock(&self.inner.queue);
            if queue.corked > 0 {
                queue.held.push(job);
                return;
            }
        }
        self.inner.poll_first(job, &self.waker);
    }

    /// Holds back new calls while JavaScript runs a batch of replies.
    pub fn cork(&self) {
        self.inner.cork();
    }

    /// Ends a [`Bridge::cork`]: the calls made meanwhile start now, in order.
    pub fn uncork(&self) {
        self.inner.uncork(&self.waker);
    }

    /// Borrows the connection's reads for this thread, unless it has them already or
    /// cannot have them now (no connection yet, or it is closing).
    fn read_here(&self, js: &Rc<JsState>, sink: &Arc<Sink>) {
        let reading = &js.reading;
        let current = reading
            .watching
            .borrow()
            .as_ref()
            .is_some_and(|(watching, reads)| watching.is_live() && reads.is_current());
        if current {
            return;
        }
        // A watch of reads taken back stops here (and would stop at the socket's next
        // bytes): a replaced connection's socket may never have any.
        reading.watching.borrow_mut().take();
        let Some(reads) = reading
            .client
            .borrow()
            .as_ref()
            .and_then(Client::lend_reads)
        else {
            return;
        };
        let reads = Rc::new(reads);
        let fd = reads.fd();
        let here = ReadsHere {
            reads: reads.clone(),
            inner: self.inner.clone(),
            waker: self.waker.clone(),
            sink: Arc::downgrade(sink),
            js: Rc::downgrade(js),
            corked: false,
        };
        // Unless libuv takes it, `here` is dropped, and the reads with it go back. Taken,
        // they go back once libuv has let go of the socket.
        let watching = uv::watch_readable(reading.env, fd, Box::new(here));
        *reading.watching.borrow_mut() = watching.map(|watching| (watching, reads));
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

/// What the event loop runs when a borrowed socket is readable.
struct ReadsHere {
    reads: Rc<LentReads>,
    inner: Arc<Inner>,
    waker: Waker,
    sink: Weak<Sink>,
    js: rc::Weak<JsState>,
    /// The calls are corked from the replies until their continuations have run.
    corked: bool,
}

impl uv::Readable for ReadsHere {
    fn readable(&mut self, env: sys::napi_env) -> bool {
        let (Some(sink), Some(js)) = (self.sink.upgrade(), self.js.upgrade()) else {
            return false;
        };
        self.inner.cork();
        self.corked = true;
        sink.cork();
        let open = {
            let _here = WakingHere::enter(&self.inner.wake);
            let open = self.reads.handle();
            self.inner.poll_jobs_here(&self.waker);
            open
        };
        let settled_here = sink.uncork_here();
        js.settle_here(env, &sink, settled_here);
        open
    }

    fn settled(&mut self) {
        if std::mem::take(&mut self.corked) {
            self.inner.uncork(&self.waker);
        }
    }
}

/// Marks this thread as reading the replies of `wake`'s client until dropped.
struct WakingHere;

impl WakingHere {
    fn enter(wake: &Arc<Wakeup>) -> WakingHere {
        WAKING_HERE.with(|here| here.set(Arc::as_ptr(wake)));
        WakingHere
    }
}

impl Drop for WakingHere {
    fn drop(&mut self) {
        WAKING_HERE.with(|here| here.set(std::ptr::null()));
    }
}

async fn run(inner: Arc<Inner>, sink: Weak<Sink>, waker: Waker) {
    loop {
        let closed = inner.closed.load(Ordering::Acquire);
        // One round: every job that is ready runs, with the sink corked so that what the
        // round posts reaches JavaScript in one batch. (No handle is left to uncork once
        // closed: calls still held start here, in order.)
        let corked = sink.upgrade();
        if let Some(sink) = &corked {
            sink.cork();
        }
        let done = inner.poll_jobs(&waker, closed);
        if let Some(sink) = corked {
            sink.uncork();
        }
        if closed && done {
            return;
        }
        inner.wake.notify.notified().await;
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
