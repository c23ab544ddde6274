//! The core's `tracing` events, sent to Java's log (`io.zk.internal.Log`: SLF4J or
//! java.util.logging) by one on-demand daemon thread, in order. Only levels Java has enabled
//! (as it said at load time) are formatted at all.

use std::cell::Cell;
use std::fmt::Write as _;
use std::sync::LazyLock;
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;
use zk_core::client::dispatch::{Dispatcher, DEFAULT_SLOW_CALLBACK};

use crate::jvm;

static LOG_THREAD: LazyLock<Dispatcher> = LazyLock::new(|| {
    Dispatcher::on_demand(
        "zk-log",
        Duration::from_secs(2),
        DEFAULT_SLOW_CALLBACK,
        |body| jvm::as_daemon("zk-log", body),
    )
});

thread_local! {
    /// Set while a message is handed to Java, so a failure there cannot log itself forever.
    static SENDING: Cell<bool> = const { Cell::new(false) };
}

/// `Log.ERROR` .. `Log.TRACE`.
fn number(level: &Level) -> i32 {
    match *level {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}

struct JavaLog {
    max: i32,
}

#[derive(Default)]
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

impl<S: Subscriber> Layer<S> for JavaLog {
    fn enabled(&self, metadata: &tracing::Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        number(metadata.level()) <= self.max && !SENDING.with(Cell::get)
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = number(event.metadata().level());
        let target = event.metadata().target().to_owned();
        let mut message = Message::default();
        event.record(&mut message);
        let message = message.0;
        LOG_THREAD.dispatch(move || {
            SENDING.with(|sending| sending.set(true));
            jvm::with_env(|env, classes| {
                let target = jvm::new_string(env, &target)?;
                let message = jvm::new_string(env, &message)?;
                jvm::call_void(
                    env,
                    &classes.log,
                    0,
                    &[jvm::int(level), jvm::object(&target), jvm::object(&message)],
                );
                Ok(())
            });
            SENDING.with(|sending| sending.set(false));
        });
    }
}

/// Routes `tracing` to Java's log at `max` (`Log.ERROR`..`Log.TRACE`) and finer levels off.
/// Does nothing if the process already has a global subscriber.
pub(crate) fn init(max: i32) {
    let _ = tracing_subscriber::registry()
        .with(JavaLog { max })
        .try_init();
}
