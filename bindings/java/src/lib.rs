//! zk for Java: the native half of the `io.zk` jar (JNI, `jni` 0.22), a thin adapter over
//! `zk_core::client` and `zk_core::recipes`: it converts arguments, calls the core, maps errors
//! and hands results to Java on each client's event thread.
//!
//! # Layout
//!
//! - `jvm.rs`: the Java classes and static methods the native side calls (cached once, with the
//!   jar's class loader), daemon attachment of event threads, and small conversions.
//! - `errors.rs`: the one mapping of core errors to Java exceptions (through `io.zk.NativeErrors`).
//! - `handle.rs`: a client handle — the core [`Client`](zk_core::client::Client), its on-demand
//!   event thread ([`Dispatcher`](zk_core::client::dispatch::Dispatcher)) and its watch
//!   registrations — in a table keyed by numbers Java chooses; open, close, state, session.
//! - `ops.rs`: every operation (sync and async, through the core's ordered calls) and multi.
//! - `recipes.rs`: locks, leader latch, barriers, queue, counter, group membership, tree cache.
//! - `elector.rs`: Hadoop's active/standby elector (HA failover) with its own event thread,
//!   and the `ActiveNodeInfo` codec.
//! - `log.rs`: the core's `tracing` events, sent to Java's log (SLF4J or java.util.logging).
//!
//! Threads: no tokio worker ever enters the JVM. Results and events are queued by the core's
//! connection task (in wire order) onto a client's dispatcher, whose thread is attached to the
//! JVM as a daemon while it runs, so the JVM exits normally with clients still open.

/// A static native method (`Java_<class>_<method>`): `$env` names the `Env` in the body; a
/// [`errors::Fail`] becomes its Java exception through [`errors::ThrowFail`].
macro_rules! native {
    ($(#[doc = $doc:expr])* $name:ident ($env:ident $(, $arg:ident : $ty:ty)*) -> $ret:ty $body:block) => {
        $(#[doc = $doc])*
        #[unsafe(no_mangle)]
        #[allow(clippy::too_many_arguments, unused_variables)]
        pub extern "system" fn $name<'l>(mut unowned: jni::EnvUnowned<'l>, _class: jni::objects::JClass<'l>, $($arg: $ty),*) -> $ret {
            unowned
                .with_env(|$env: &mut jni::Env<'l>| -> Result<$ret, crate::errors::Fail> { $body })
                .resolve::<crate::errors::ThrowFail>()
        }
    };
}

mod elector;
mod errors;
mod handle;
mod jvm;
mod log;
mod ops;
mod options;
mod recipes;

/// The crate version; `io.zk.internal.NativeLoader` refuses a library of another version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
