//! What belongs to the process rather than to a handle: the library version, the log
//! callback (libzk's `tracing` events forwarded to C), and where a caught panic is
//! reported.
//!
//! Nothing is printed by default: without a log callback the events are not even
//! formatted, and a panic inside the library (a bug; the call returns ZK_SYSTEMERROR)
//! becomes an error event instead of a message on stderr.

use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void, CString};
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Once, OnceLock};

use parking_lot::{const_reentrant_mutex, ReentrantMutex};
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};

use crate::error::*;
use crate::guard::{guard, Ctx};

/// `zk_set_log_level` levels (the Apache C client's numbers, plus TRACE).
pub const ZK_LOG_ERROR: c_int = 1;
pub const ZK_LOG_WARN: c_int = 2;
pub const ZK_LOG_INFO: c_int = 3;
pub const ZK_LOG_DEBUG: c_int = 4;
pub const ZK_LOG_TRACE: c_int = 5;

/// Receives libzk's log lines: `level` is a ZK_LOG_*, `target` the module that logged
/// ("zk_core::client::actor", ...), `message` the text with its fields ("connect failed:
/// ... addr=127.0.0.1:2181"). Both strings are lent for the call.
pub type zk_log_fn = Option<
    unsafe extern "C" fn(
        level: c_int,
        target: *const c_char,
        message: *const c_char,
        ctx: *mut c_void,
    ),
>;

type LogFn = unsafe extern "C" fn(c_int, *const c_char, *const c_char, *mut c_void);

/// The library version ("0.1.0"): a static string, never freed.
#[no_mangle]
pub extern "C" fn zk_version() -> *const c_char {
    const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    VERSION.as_ptr().cast()
}

/// Sends libzk's log lines to `log_fn` (NULL: stop; nothing is logged by default) with
/// `ctx`, from the library's own log thread ("zk-log"), one line at a time, in order,
/// never from the network threads. Lines at ZK_LOG_INFO and above are sent unless
/// `zk_set_log_level` says otherwise. If `log_fn` falls behind, lines are dropped and a
/// warning says how many.
///
/// When this returns, the previous function is no longer running and will not be called
/// again (unless this is called from inside it). It may call any function of this API.
///
/// ZK_INVALIDSTATE: the process already has a global `tracing` subscriber (a Rust program
/// that links libzk statically and installed its own): libzk's events go to that one.
///
/// # Safety
///
/// `log_fn` (may be NULL): callable with `ctx` from the library's log thread, at any
/// time, until a later `zk_set_log_fn` call has returned.
#[no_mangle]
pub unsafe extern "C" fn zk_set_log_fn(log_fn: zk_log_fn, ctx: *mut c_void) -> zk_rc {
    guard(|| {
        let Some(log_fn) = log_fn else {
            SINK.lock().set(None);
            HAS_SINK.store(false, Ordering::SeqCst);
            tracing::callsite::rebuild_interest_cache();
            return Ok(());
        };
        if !subscriber_installed() {
            return Err(ZK_INVALIDSTATE);
        }
        log_queue().ok_or(ZK_SYSTEMERROR)?;
        SINK.lock().set(Some((log_fn, Ctx(ctx))));
        HAS_SINK.store(true, Ordering::SeqCst);
        tracing::callsite::rebuild_interest_cache();
        Ok(())
    })
}

/// The most verbose level sent to the log function: ZK_LOG_ERROR ... ZK_LOG_TRACE
/// (default ZK_LOG_INFO). ZK_BADARGUMENTS for anything else.
#[no_mangle]
pub extern "C" fn zk_set_log_level(level: c_int) -> zk_rc {
    guard(|| {
        if !(ZK_LOG_ERROR..=ZK_LOG_TRACE).contains(&level) {
            return Err(ZK_BADARGUMENTS);
        }
        LEVEL.store(level, Ordering::SeqCst);
        tracing::callsite::rebuild_interest_cache();
        Ok(())
    })
}

// ----- forwarding tracing events -----

/// The chosen level (ZK_LOG_*).
static LEVEL: AtomicI32 = AtomicI32::new(ZK_LOG_INFO);
/// Whether a log function is set (without one, every event is disabled at its callsite).
static HAS_SINK: AtomicBool = AtomicBool::new(false);
/// The log function. Held while it runs, so replacing it waits for a running call;
/// reentrant, so the function itself may replace it. Only `zk_set_log_fn` sets it, whose
/// caller guarantees the function may be called with its ctx from the log thread until
/// it is replaced.
static SINK: ReentrantMutex<Cell<Option<(LogFn, Ctx)>>> = const_reentrant_mutex(Cell::new(None));
/// Lines dropped because the queue was full.
static DROPPED: AtomicU64 = AtomicU64::new(0);
/// Lines waiting for the log thread.
const QUEUE: usize = 4096;

struct Line {
    level: c_int,
    target: CString,
    message: CString,
}

fn level_number(level: &Level) -> c_int {
    match *level {
        Level::ERROR => ZK_LOG_ERROR,
        Level::WARN => ZK_LOG_WARN,
        Level::INFO => ZK_LOG_INFO,
        Level::DEBUG => ZK_LOG_DEBUG,
        Level::TRACE => ZK_LOG_TRACE,
    }
}

fn wanted_level() -> c_int {
    if HAS_SINK.load(Ordering::Relaxed) {
        LEVEL.load(Ordering::Relaxed)
    } else {
        0
    }
}

fn subscriber_installed() -> bool {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    *INSTALLED.get_or_init(|| tracing::subscriber::set_global_default(Forward).is_ok())
}

fn log_queue() -> Option<&'static SyncSender<Line>> {
    static QUEUE_TX: OnceLock<Option<SyncSender<Line>>> = OnceLock::new();
    QUEUE_TX
        .get_or_init(|| {
            let (tx, rx) = sync_channel(QUEUE);
            std::thread::Builder::new()
                .name("zk-log".into())
                .spawn(move || run_log_thread(rx))
                .ok()
                .map(|_| tx)
        })
        .as_ref()
}

fn run_log_thread(lines: Receiver<Line>) {
    for line in lines {
        deliver(&line);
        let dropped = DROPPED.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            let text = format!("{dropped} log lines were dropped: the log function is too slow");
            deliver(&Line {
                level: ZK_LOG_WARN,
                target: c"zk_ffi".into(),
                message: CString::new(text).unwrap_or_default(),
            });
        }
    }
}

fn deliver(line: &Line) {
    let sink = SINK.lock();
    if let Some((log_fn, ctx)) = sink.get() {
        if line.level <= wanted_level() {
            // SAFETY: on the log thread, with SINK held, so not replaced yet:
            // `zk_set_log_fn`'s caller allowed this call (see SINK); the strings live
            // across it.
            unsafe {
                log_fn(
                    line.level,
                    line.target.as_ptr(),
                    line.message.as_ptr(),
                    ctx.get(),
                )
            }
        }
    }
}

/// The global subscriber: only decides what is wanted and queues formatted lines.
struct Forward;

impl Subscriber for Forward {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        // The level can change at any time: ask `enabled` each time.
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        level_number(metadata.level()) <= wanted_level()
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(match wanted_level() {
            ZK_LOG_ERROR => LevelFilter::ERROR,
            ZK_LOG_WARN => LevelFilter::WARN,
            ZK_LOG_INFO => LevelFilter::INFO,
            ZK_LOG_DEBUG => LevelFilter::DEBUG,
            ZK_LOG_TRACE => LevelFilter::TRACE,
            _ => LevelFilter::OFF,
        })
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        // Spans are not reported; each still needs an id of its own (never 0).
        static NEXT_SPAN: AtomicU64 = AtomicU64::new(1);
        Id::from_u64(NEXT_SPAN.fetch_add(1, Ordering::Relaxed).max(1))
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let Some(queue) = log_queue() else { return };
        let mut text = Text::default();
        event.record(&mut text);
        let mut message = text.message;
        message.push_str(&text.fields);
        let line = Line {
            level: level_number(event.metadata().level()),
            target: CString::new(event.metadata().target()).unwrap_or_default(),
            message: CString::new(message.replace('\0', "")).unwrap_or_default(),
        };
        if let Err(TrySendError::Full(_)) = queue.try_send(line) {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// An event as one line: the message, then ` name=value` for every other field.
#[derive(Default)]
struct Text {
    message: String,
    fields: String,
}

impl Visit for Text {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}

// ----- panics -----

thread_local! {
    /// How many extern calls of this library the thread is inside.
    static IN_CALL: Cell<u32> = const { Cell::new(0) };
}

/// Marks the current thread as inside a libzk call while alive (see [`route_panics`]).
pub(crate) struct InCall(());

impl InCall {
    pub(crate) fn enter() -> InCall {
        IN_CALL.with(|depth| depth.set(depth.get() + 1));
        InCall(())
    }
}

impl Drop for InCall {
    fn drop(&mut self) {
        IN_CALL.with(|depth| depth.set(depth.get().saturating_sub(1)));
    }
}

/// Makes panics inside libzk calls and on libzk's threads ("zk-*") error events rather
/// than text on stderr: each is caught and turned into ZK_SYSTEMERROR (or a dropped
/// callback), and the C program sees it only through its log function. Panics anywhere
/// else go to the hook that was there before.
pub(crate) fn route_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_call = IN_CALL.with(|depth| depth.get() > 0);
            let our_thread = std::thread::current()
                .name()
                .is_some_and(|name| name.starts_with("zk-"));
            if in_call || our_thread {
                tracing::error!("internal error in libzk (please report it): {info}");
            } else {
                previous(info);
            }
        }));
    });
}
