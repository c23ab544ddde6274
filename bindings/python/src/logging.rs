//! The core's `tracing` events go to Python's `logging`: logger `zk` and its children
//! (`zk.client.actor`, ...). Events are filtered by the `zk` logger's effective level
//! (re-read about once a second) and handed to a Python thread, `zk-log`, which logs them,
//! so no IO thread ever waits for the GIL. Nothing is printed by Rust.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

use crate::runtime;

/// Python's effective level of the `zk` logger (WARNING until read).
static THRESHOLD: AtomicI32 = AtomicI32::new(30);
/// The sink of the current process generation (leaked; see `runtime`).
static SINK: AtomicPtr<Sink> = AtomicPtr::new(std::ptr::null_mut());

struct Sink {
    generation: u32,
    tx: Mutex<mpsc::Sender<Msg>>,
    thread: Mutex<Option<Py<PyAny>>>,
}

enum Msg {
    Record {
        level: i32,
        logger: String,
        message: String,
    },
    Stop,
}

static STARTED_GENERATION: AtomicU32 = AtomicU32::new(u32::MAX);

fn python_level(level: &Level) -> i32 {
    match *level {
        Level::ERROR => 40,
        Level::WARN => 30,
        Level::INFO => 20,
        Level::DEBUG => 10,
        Level::TRACE => 5,
    }
}

/// Installs the bridge and starts the `zk-log` thread (at import, and in a forked child).
pub fn start(py: Python<'_>) -> PyResult<()> {
    let generation = runtime::generation();
    if STARTED_GENERATION.swap(generation, Ordering::AcqRel) == generation {
        return Ok(());
    }
    let (tx, rx) = mpsc::channel();
    let pump = Py::new(
        py,
        LogPump {
            rx: Mutex::new(Some(rx)),
        },
    )?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("target", pump.getattr(py, "run")?)?;
    kwargs.set_item("name", "zk-log")?;
    kwargs.set_item("daemon", true)?;
    let thread = py
        .import("threading")?
        .getattr("Thread")?
        .call((), Some(&kwargs))?;
    thread.call_method0("start")?;
    let sink = Box::into_raw(Box::new(Sink {
        generation,
        tx: Mutex::new(tx),
        thread: Mutex::new(Some(thread.unbind())),
    }));
    // The previous generation's sink is leaked: its thread does not exist in this process.
    SINK.store(sink, Ordering::Release);
    refresh_level(py);
    let _ =
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(PythonLogging));
    PANIC_HOOK.call_once(|| {
        // A panic is reported on the `zk` logger (pyo3 also raises it as PanicException),
        // not printed to stderr.
        std::panic::set_hook(Box::new(|info| {
            let location = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(no message)".to_owned());
            tracing::error!(target: "_zk::panic", "panic at {location}: {message}");
        }));
    });
    Ok(())
}

static PANIC_HOOK: std::sync::Once = std::sync::Once::new();

/// Stops the `zk-log` thread after the records already queued (at interpreter exit).
pub fn stop(py: Python<'_>, timeout: f64) {
    let Some(sink) = current_sink() else {
        return;
    };
    let _ = sink.tx.lock().send(Msg::Stop);
    let thread = sink.thread.lock().take();
    if let Some(thread) = thread {
        let _ = thread.call_method1(py, "join", (timeout,));
    }
}

fn current_sink() -> Option<&'static Sink> {
    // SAFETY: a published sink is never freed.
    let sink = unsafe { SINK.load(Ordering::Acquire).as_ref()? };
    (sink.generation == runtime::generation()).then_some(sink)
}

/// Re-reads the `zk` logger's effective level.
pub fn refresh_level(py: Python<'_>) {
    let level = py
        .import("logging")
        .and_then(|logging| logging.call_method1("getLogger", ("zk",)))
        .and_then(|logger| logger.call_method0("getEffectiveLevel"))
        .and_then(|level| level.extract::<i32>());
    if let Ok(level) = level {
        THRESHOLD.store(level, Ordering::Release);
    }
}

/// The tracing layer: formats enabled events and queues them for the `zk-log` thread.
struct PythonLogging;

impl<S: Subscriber> Layer<S> for PythonLogging {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        let level = python_level(meta.level());
        if level < THRESHOLD.load(Ordering::Acquire) {
            return;
        }
        let Some(sink) = current_sink() else {
            return;
        };
        let mut text = Text::default();
        event.record(&mut text);
        let target = meta.target();
        let module = target
            .strip_prefix("zk_core::")
            .or_else(|| target.strip_prefix("_zk::"))
            .unwrap_or(target);
        let logger = format!("zk.{}", module.replace("::", "."));
        let _ = sink.tx.lock().send(Msg::Record {
            level,
            logger,
            message: text.0,
        });
    }
}

/// An event's message followed by its other fields as `name=value`.
#[derive(Default)]
struct Text(String);

impl Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let fields = std::mem::take(&mut self.0);
            let _ = write!(self.0, "{value:?}{fields}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            let fields = std::mem::take(&mut self.0);
            let _ = write!(self.0, "{value}{fields}");
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

/// What the `zk-log` thread runs.
#[pyclass(module = "zk._zk", frozen)]
pub struct LogPump {
    rx: Mutex<Option<mpsc::Receiver<Msg>>>,
}

#[pymethods]
impl LogPump {
    /// Logs queued records until stopped; re-reads the level about once a second.
    fn run(&self, py: Python<'_>) {
        loop {
            let msg = py.detach(|| match self.rx.lock().as_ref() {
                Some(rx) => rx.recv_timeout(Duration::from_secs(1)),
                None => Err(mpsc::RecvTimeoutError::Disconnected),
            });
            match msg {
                Ok(Msg::Record {
                    level,
                    logger,
                    message,
                }) => {
                    let logged = py
                        .import("logging")
                        .and_then(|logging| logging.call_method1("getLogger", (logger,)))
                        .and_then(|logger| logger.call_method1("log", (level, message)));
                    if let Err(e) = logged {
                        e.print(py);
                    }
                }
                Ok(Msg::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => return,
                Err(mpsc::RecvTimeoutError::Timeout) => refresh_level(py),
            }
        }
    }
}
