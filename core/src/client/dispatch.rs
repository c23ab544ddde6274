//! Running a client's callbacks in order, off the IO threads.
//!
//! Every binding hands user callbacks (watches, state changes, completions) to one
//! [`Dispatcher`] per client: jobs run one at a time, in the order they were queued, on a
//! thread the binding chooses, so a slow or re-entrant callback (one that closes its own
//! client) can neither stall the connection task nor deadlock it. The thread is either
//! spawned here ([`Dispatcher::spawn`]), started only while there are jobs
//! ([`Dispatcher::on_demand`]: an idle client costs no thread), or supplied by the host
//! language ([`Dispatcher::new`] returns a [`Runner`] for a host thread to run, e.g. a Java
//! thread).

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// A queued callback.
pub type Job = Box<dyn FnOnce() + Send>;

/// A callback running longer than this is reported in the log (it delays every later one).
pub const DEFAULT_SLOW_CALLBACK: Duration = Duration::from_secs(1);

enum Msg {
    Job(Job),
    /// Ends the thread after the jobs queued before it, running `last` (if any) at the end.
    Stop(Option<Job>),
}

/// One ordered queue of callbacks and the thread that runs them.
pub struct Dispatcher {
    tx: Mutex<Option<mpsc::Sender<Msg>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    id: usize,
    /// Set by [`Dispatcher::on_demand`]: how to start a thread when jobs arrive.
    on_demand: Option<Arc<OnDemand>>,
}

/// Sets up a dispatch thread around its loop (given as a closure), e.g. attaches it to a VM.
pub type Wrap = Box<dyn Fn(Box<dyn FnOnce() + '_>) + Send + Sync>;

/// The thread-starting half of an on-demand dispatcher.
struct OnDemand {
    name: String,
    idle: Duration,
    slow: Duration,
    wrap: Wrap,
    /// Held by the thread that runs jobs; a thread started while the previous one is
    /// still leaving waits for it here, so jobs never run on two threads at once.
    rx: Mutex<mpsc::Receiver<Msg>>,
    /// Whether a thread is running (or starting); changed only under this lock, and a
    /// thread leaves only after seeing the queue empty under it.
    running: Mutex<bool>,
}

/// The loop a host thread runs for a [`Dispatcher`] made with [`Dispatcher::new`].
pub struct Runner {
    rx: mpsc::Receiver<Msg>,
    id: usize,
    slow: Duration,
}

thread_local! {
    /// The id of the dispatcher whose runner this thread is (0 elsewhere).
    static CURRENT: Cell<usize> = const { Cell::new(0) };
}

static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

impl Dispatcher {
    /// A dispatcher whose jobs run when (and on whichever thread) the caller runs the
    /// returned [`Runner`].
    pub fn new() -> (Dispatcher, Runner) {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel();
        let dispatcher = Dispatcher {
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(None),
            id,
            on_demand: None,
        };
        let runner = Runner {
            rx,
            id,
            slow: DEFAULT_SLOW_CALLBACK,
        };
        (dispatcher, runner)
    }

    /// A dispatcher with its own thread named `name`. `wrap` runs the thread's whole loop
    /// (given as a closure) and can set the thread up around it, e.g. attach it to a VM.
    pub fn spawn(
        name: &str,
        wrap: impl FnOnce(Box<dyn FnOnce() + '_>) + Send + 'static,
    ) -> std::io::Result<Dispatcher> {
        let (dispatcher, runner) = Dispatcher::new();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || wrap(Box::new(move || runner.run())))?;
        *dispatcher.thread.lock() = Some(thread);
        Ok(dispatcher)
    }

    /// A dispatcher that starts a thread named `name` when a job arrives and lets it end
    /// once no job has come for `idle`, so a quiet client holds no thread. Jobs still run
    /// one at a time and in order. `wrap` sets up each such thread around its loop; jobs
    /// running longer than `slow` are reported in the log.
    pub fn on_demand(
        name: &str,
        idle: Duration,
        slow: Duration,
        wrap: impl Fn(Box<dyn FnOnce() + '_>) + Send + Sync + 'static,
    ) -> Dispatcher {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel();
        Dispatcher {
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(None),
            id,
            on_demand: Some(Arc::new(OnDemand {
                name: name.to_owned(),
                idle,
                slow,
                wrap: Box::new(wrap),
                rx: Mutex::new(rx),
                running: Mutex::new(false),
            })),
        }
    }

    /// Queues `job`; dropped silently once the dispatcher has stopped.
    pub fn dispatch(&self, job: impl FnOnce() + Send + 'static) {
        self.send(Msg::Job(Box::new(job)));
    }

    /// Whether the caller is running inside one of this dispatcher's jobs.
    pub fn on_own_thread(&self) -> bool {
        CURRENT.with(|current| current.get()) == self.id
    }

    /// Stops after the jobs already queued, then runs `last` on the dispatch thread.
    /// From outside a job this waits for the thread (spawned dispatchers) to finish; from
    /// inside one it returns at once and the rest happens after that job returns.
    /// Later calls do nothing.
    pub fn stop(&self, last: Option<Job>) {
        let Some(tx) = self.tx.lock().take() else {
            return;
        };
        let _ = tx.send(Msg::Stop(last));
        drop(tx);
        self.wake();
        let thread = self.thread.lock().take();
        if let Some(thread) = thread {
            if !self.on_own_thread() {
                let _ = thread.join();
            }
        }
    }

    /// Whether [`stop`](Self::stop) has been called.
    pub fn is_stopped(&self) -> bool {
        self.tx.lock().is_none()
    }

    fn send(&self, msg: Msg) {
        let sent = match self.tx.lock().as_ref() {
            Some(tx) => tx.send(msg).is_ok(),
            None => false,
        };
        if sent {
            self.wake();
        }
    }

    /// Starts an on-demand dispatcher's thread unless one is running.
    fn wake(&self) {
        let Some(on_demand) = &self.on_demand else {
            return;
        };
        let mut running = on_demand.running.lock();
        if *running {
            return;
        }
        let shared = on_demand.clone();
        let id = self.id;
        let started = std::thread::Builder::new()
            .name(on_demand.name.clone())
            .spawn(move || {
                let body = shared.clone();
                (shared.wrap)(Box::new(move || body.run(id)));
            });
        match started {
            Ok(thread) => {
                *running = true;
                *self.thread.lock() = Some(thread);
            }
            // The jobs wait in the queue; the next one queued tries again.
            Err(e) => tracing::error!("cannot start a zk dispatch thread: {e}"),
        }
    }
}

impl OnDemand {
    /// Runs jobs until none has come for `idle` (or the dispatcher stops or is dropped).
    fn run(&self, id: usize) {
        let rx = self.rx.lock();
        let previous = CURRENT.with(|current| current.replace(id));
        loop {
            let msg = match rx.recv_timeout(self.idle) {
                Ok(msg) => msg,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let mut running = self.running.lock();
                    match rx.try_recv() {
                        Ok(msg) => msg,
                        Err(_) => {
                            *running = false;
                            break;
                        }
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            };
            match msg {
                Msg::Job(job) => run_job(job, self.slow),
                Msg::Stop(last) => {
                    if let Some(last) = last {
                        run_job(last, self.slow);
                    }
                    break;
                }
            }
        }
        CURRENT.with(|current| current.set(previous));
    }
}

impl Drop for Dispatcher {
    fn drop(&mut self) {
        // Let a spawned thread finish its queue; never join here (this may be that thread).
        self.tx.lock().take();
    }
}

impl Runner {
    /// Reports jobs that run longer than `threshold` (default [`DEFAULT_SLOW_CALLBACK`]).
    pub fn slow_callback_threshold(mut self, threshold: Duration) -> Runner {
        self.slow = threshold;
        self
    }

    /// Runs jobs until the dispatcher stops (or is dropped). A panicking job is reported
    /// and the loop goes on.
    pub fn run(self) {
        let previous = CURRENT.with(|current| current.replace(self.id));
        for msg in self.rx.iter() {
            match msg {
                Msg::Job(job) => run_job(job, self.slow),
                Msg::Stop(last) => {
                    if let Some(last) = last {
                        run_job(last, self.slow);
                    }
                    break;
                }
            }
        }
        CURRENT.with(|current| current.set(previous));
    }
}

fn run_job(job: Job, slow: Duration) {
    let started = Instant::now();
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
        tracing::error!("a zk callback panicked; later callbacks still run");
    }
    let took = started.elapsed();
    if took > slow {
        tracing::warn!(
            "a zk callback ran for {} ms and delayed this client's later callbacks",
            took.as_millis()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex as StdMutex};

    fn plain(body: Box<dyn FnOnce() + '_>) {
        body()
    }

    #[test]
    fn jobs_run_in_order_on_one_thread() {
        let dispatcher = Dispatcher::spawn("test-dispatch", plain).unwrap();
        let seen = Arc::new(StdMutex::new(Vec::new()));
        for i in 0..100 {
            let seen = seen.clone();
            dispatcher.dispatch(move || {
                seen.lock()
                    .unwrap()
                    .push((i, std::thread::current().name().map(str::to_owned)))
            });
        }
        dispatcher.stop(None);
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 100);
        for (n, (i, name)) in seen.iter().enumerate() {
            assert_eq!(*i, n);
            assert_eq!(name.as_deref(), Some("test-dispatch"));
        }
    }

    #[test]
    fn stop_from_inside_a_job_returns_and_runs_the_last_job_after_it() {
        let dispatcher = Arc::new(Dispatcher::spawn("test-dispatch", plain).unwrap());
        let (done_tx, done_rx) = mpsc::channel();
        let inner = dispatcher.clone();
        let order = Arc::new(StdMutex::new(Vec::new()));
        let in_job = order.clone();
        let in_last = order.clone();
        dispatcher.dispatch(move || {
            assert!(inner.on_own_thread());
            inner.stop(Some(Box::new(move || {
                in_last.lock().unwrap().push("last");
                done_tx.send(()).unwrap();
            })));
            in_job.lock().unwrap().push("job returned");
        });
        done_rx.recv_timeout(Duration::from_secs(30)).unwrap();
        assert_eq!(*order.lock().unwrap(), vec!["job returned", "last"]);
        assert!(!dispatcher.on_own_thread());
        assert!(dispatcher.is_stopped());
    }

    #[test]
    fn a_panicking_job_does_not_stop_the_queue() {
        let dispatcher = Dispatcher::spawn("test-dispatch", plain).unwrap();
        let (tx, rx) = mpsc::channel();
        dispatcher.dispatch(|| panic!("user callback failed"));
        dispatcher.dispatch(move || tx.send(7).unwrap());
        assert_eq!(rx.recv_timeout(Duration::from_secs(30)).unwrap(), 7);
        dispatcher.stop(None);
    }

    #[test]
    fn a_host_thread_can_run_the_loop() {
        let (dispatcher, runner) = Dispatcher::new();
        let host = std::thread::spawn(move || runner.run());
        let (tx, rx) = mpsc::channel();
        dispatcher.dispatch(move || tx.send(1).unwrap());
        assert_eq!(rx.recv_timeout(Duration::from_secs(30)).unwrap(), 1);
        dispatcher.stop(None);
        host.join().unwrap();
        // Jobs after stop are dropped, not run.
        dispatcher.dispatch(|| panic!("must not run"));
    }

    fn counting_wrap(starts: &Arc<AtomicUsize>) -> impl Fn(Box<dyn FnOnce() + '_>) + Send + Sync {
        let starts = starts.clone();
        move |body| {
            starts.fetch_add(1, Ordering::SeqCst);
            body()
        }
    }

    fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    #[test]
    fn an_on_demand_dispatcher_starts_a_thread_only_for_jobs_and_lets_it_go_when_idle() {
        let starts = Arc::new(AtomicUsize::new(0));
        let dispatcher = Dispatcher::on_demand(
            "test-on-demand",
            Duration::from_millis(20),
            DEFAULT_SLOW_CALLBACK,
            counting_wrap(&starts),
        );
        assert_eq!(starts.load(Ordering::SeqCst), 0, "no thread before a job");
        let seen = Arc::new(StdMutex::new(Vec::new()));
        for round in 0..3 {
            for i in 0..50 {
                let seen = seen.clone();
                dispatcher.dispatch(move || {
                    let name = std::thread::current().name().map(str::to_owned);
                    seen.lock().unwrap().push((round * 50 + i, name));
                });
            }
            wait_until("the jobs", || {
                seen.lock().unwrap().len() == (round + 1) * 50
            });
            // The thread leaves once idle; the next job starts another.
            wait_until("the idle thread to leave", || {
                !*dispatcher.on_demand.as_ref().unwrap().running.lock()
            });
        }
        // At least one thread per round (more if a loaded machine paused a round).
        assert!(starts.load(Ordering::SeqCst) >= 3);
        let seen = seen.lock().unwrap();
        for (n, (i, name)) in seen.iter().enumerate() {
            assert_eq!(*i, n, "jobs ran in order");
            assert_eq!(name.as_deref(), Some("test-on-demand"));
        }
    }

    #[test]
    fn jobs_queued_while_an_idle_thread_leaves_still_run_in_order() {
        let starts = Arc::new(AtomicUsize::new(0));
        // An idle time of zero makes the thread leave between almost every two jobs.
        let dispatcher = Dispatcher::on_demand(
            "test-on-demand",
            Duration::ZERO,
            DEFAULT_SLOW_CALLBACK,
            counting_wrap(&starts),
        );
        let seen = Arc::new(StdMutex::new(Vec::new()));
        let running = Arc::new(AtomicUsize::new(0));
        for i in 0..2000 {
            let seen = seen.clone();
            let running = running.clone();
            dispatcher.dispatch(move || {
                assert_eq!(
                    running.fetch_add(1, Ordering::SeqCst),
                    0,
                    "one job at a time"
                );
                seen.lock().unwrap().push(i);
                running.fetch_sub(1, Ordering::SeqCst);
            });
            if i % 7 == 0 {
                std::thread::yield_now();
            }
        }
        dispatcher.stop(None);
        let seen = seen.lock().unwrap();
        assert_eq!(*seen, (0..2000).collect::<Vec<_>>());
        assert!(starts.load(Ordering::SeqCst) >= 1);
    }

    #[test]
    fn an_on_demand_dispatcher_stops_from_inside_a_job_and_from_outside() {
        let starts = Arc::new(AtomicUsize::new(0));
        let dispatcher = Arc::new(Dispatcher::on_demand(
            "test-on-demand",
            Duration::from_secs(60),
            DEFAULT_SLOW_CALLBACK,
            counting_wrap(&starts),
        ));
        let (done_tx, done_rx) = mpsc::channel();
        let inner = dispatcher.clone();
        dispatcher.dispatch(move || {
            inner.stop(Some(Box::new(move || done_tx.send("last").unwrap())));
        });
        assert_eq!(
            done_rx.recv_timeout(Duration::from_secs(30)).unwrap(),
            "last"
        );
        dispatcher.dispatch(|| panic!("must not run after stop"));

        // Stopped from outside with no thread running: one starts for the last job.
        let idle = Dispatcher::on_demand(
            "test-on-demand",
            Duration::from_secs(60),
            DEFAULT_SLOW_CALLBACK,
            counting_wrap(&starts),
        );
        let (tx, rx) = mpsc::channel();
        idle.stop(Some(Box::new(move || tx.send(()).unwrap())));
        rx.try_recv().expect("stop waits for the last job");
    }
}
