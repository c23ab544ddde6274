//! libzk: the C ABI of the zk client. `include/zk.h` is generated from this crate by
//! cbindgen (see `build.rs`) and documents the ownership and threading rules.
//!
//! # Layout
//!
//! - `error.rs`: the one mapping from [`zk_core::client::Error`] to `zk_rc`, and the
//!   `ZK_*` error constants.
//! - `types.rs`: the C structs (`zk_stat`, `zk_acl`, lists) and every `zk_free_*`.
//! - `guard.rs`: `catch_unwind` around each extern function and checked argument reading.
//! - `registry.rs`: the ids C holds for handles, locks and leaders, looked up before
//!   any use (a closed or made-up one is ZK_BADARGUMENTS, never a read of freed memory).
//! - `handle.rs`: `zk_handle`, its dispatcher (the core's), open/close (every owed
//!   callback delivered exactly once) and session getters.
//! - `ops.rs`: every operation, synchronous and asynchronous.
//! - `watches.rs`: one-shot, persistent and recursive watches and their removal.
//! - `recipes.rs`: `zk_lock` and `zk_leader` over the core's recipes.
//! - `elector.rs`: `zk_elector` (Hadoop's active/standby elector, for HA failover
//!   controllers) and Hadoop's `ActiveNodeInfo` protobuf.
//! - `library.rs`: process-wide: `zk_version`, the log callback (libzk's `tracing`
//!   events forwarded to C), panics reported as log events instead of stderr.
//!
//! No protocol or session logic lives here: each function converts its arguments, calls
//! `zk_core::client`, and maps the result.

#![allow(non_camel_case_types)]
// A C function takes every argument separately, and each op's argument check returns
// the handle with an `impl Future`, which no type alias can name.
#![allow(clippy::too_many_arguments, clippy::type_complexity)]

mod elector;
mod error;
mod guard;
mod handle;
mod library;
mod ops;
mod recipes;
mod registry;
mod types;
mod watches;

pub use elector::*;
pub use error::*;
pub use handle::*;
pub use library::*;
pub use ops::*;
pub use recipes::*;
pub use types::*;
pub use watches::*;
