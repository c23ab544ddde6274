//! Each client's callbacks (watches, listeners, async completions) run in order on one
//! Python thread of its own (`zk-dispatch-N`), never on the IO threads, holding the GIL only
//! while a callback runs. An exception a callback raises is logged on the `zk` logger.
//! `close()` from inside a callback returns at once; the thread ends after that callback.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use zk_core::client::dispatch::{Dispatcher, Runner};

use crate::runtime::Owned;

/// A client's callback queue and its thread.
pub struct Callbacks {
    dispatcher: Owned<Dispatcher>,
    thread: Mutex<Option<Py<PyAny>>>,
}

/// Every live queue, so they can be stopped before the interpreter shuts down.
static LIVE: Mutex<Vec<Weak<Callbacks>>> = Mutex::new(Vec::new());
static NEXT: AtomicUsize = AtomicUsize::new(1);

impl Callbacks {
    /// A queue with a daemon thread of its own.
    pub fn start(py: Python<'_>) -> PyResult<Arc<Callbacks>> {
        let (dispatcher, runner) = Dispatcher::new();
        let runner = Py::new(
            py,
            DispatchRunner {
                runner: Mutex::new(Some(runner)),
            },
        )?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("target", runner.getattr(py, "run")?)?;
        kwargs.set_item(
            "name",
            format!("zk-dispatch-{}", NEXT.fetch_add(1, Ordering::Relaxed)),
        )?;
        kwargs.set_item("daemon", true)?;
        let thread = py
            .import("threading")?
            .getattr("Thread")?
            .call((), Some(&kwargs))?;
        thread.call_method0("start")?;
        let callbacks = Arc::new(Callbacks {
            dispatcher: Owned::new(dispatcher),
            thread: Mutex::new(Some(thread.unbind())),
        });
        let mut live = LIVE.lock();
        live.retain(|w| w.strong_count() > 0);
        live.push(Arc::downgrade(&callbacks));
        Ok(callbacks)
    }

    /// Queues `job`, run with the GIL on the dispatch thread; an error it returns is
    /// logged. Dropped once the queue has stopped (or the interpreter is shutting down).
    pub fn call(&self, job: impl FnOnce(Python<'_>) -> PyResult<()> + Send + 'static) {
        if !self.dispatcher.is_current() {
            return;
        }
        self.dispatcher.dispatch(move || {
            Python::try_attach(|py| {
                if let Err(error) = job(py) {
                    log_callback_error(py, error);
                }
            });
        });
    }

    /// Whether the caller is this queue's thread (inside one of its callbacks).
    pub fn on_own_thread(&self) -> bool {
        self.dispatcher.is_current() && self.dispatcher.on_own_thread()
    }

    /// Stops after the callbacks already queued. Returns at once.
    pub fn stop(&self) {
        if self.dispatcher.is_current() {
            self.dispatcher.stop(None);
        }
    }

    /// Stops and waits up to `timeout` seconds for the thread to finish its queue (not
    /// when called from the thread itself).
    pub fn stop_and_join(&self, py: Python<'_>, timeout: f64) {
        self.stop();
        if self.on_own_thread() {
            return;
        }
        let thread = self.thread.lock().take();
        if let Some(thread) = thread {
            let _ = thread.call_method1(py, "join", (timeout,));
        }
    }
}

/// Stops every dispatch thread (at interpreter exit, so none is left running Python
/// while the interpreter finalises).
pub fn stop_all(py: Python<'_>, timeout: f64) {
    let live: Vec<Arc<Callbacks>> = LIVE.lock().iter().filter_map(Weak::upgrade).collect();
    for callbacks in &live {
        callbacks.stop();
    }
    for callbacks in &live {
        callbacks.stop_and_join(py, timeout);
    }
}

/// Logs an exception a callback raised: `logging.getLogger("zk").error(..., exc_info=e)`.
pub fn log_callback_error(py: Python<'_>, error: PyErr) {
    let logged = (|| -> PyResult<()> {
        let logger = py.import("logging")?.call_method1("getLogger", ("zk",))?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("exc_info", error.value(py))?;
        logger.call_method(
            "error",
            ("exception in a zk callback (later callbacks still run)",),
            Some(&kwargs),
        )?;
        Ok(())
    })();
    if logged.is_err() {
        // Logging itself failed (interpreter shutting down?): let Python print it.
        error.print(py);
    }
}

/// What a dispatch thread runs (`threading.Thread(target=runner.run)`).
#[pyclass(module = "zk._zk", frozen)]
pub struct DispatchRunner {
    runner: Mutex<Option<Runner>>,
}

#[pymethods]
impl DispatchRunner {
    /// Runs callbacks until the client closes.
    fn run(&self, py: Python<'_>) {
        let runner = self.runner.lock().take();
        if let Some(runner) = runner {
            py.detach(|| runner.run());
        }
    }
}
