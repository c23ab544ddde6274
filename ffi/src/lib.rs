//! libzk: the C ABI of the zk client. `include/zk.h` is generated from this crate by
//! cbindgen (see `build.rs`) and documents the ownership and threading rules.
//!
//! # Layout
//!
//! - `error.rs`: the one mapping from [`zk_core::client::Error`] to `zk_rc`, and the
//!   `ZK_*` error constants.
//! - `types.rs`: the C structs (`zk_stat`, `zk_acl`, lists) and every `zk_free_*`.
//! - `guard.rs`: `catch_unwind` around each extern function and checked argument reading.
//! - `handle.rs`: `zk_handle`, its dispatch thread, open/close and session getters.
//! - `ops.rs`: every operation, synchronous and asynchronous.
//! - `watches.rs`: one-shot, persistent and recursive watches and their removal.
//! - `recipes.rs`: `zk_lock` and `zk_leader` over the core's recipes.
//!
//! No protocol or session logic lives here: each function converts its arguments, calls
//! `zk_core::client`, and maps the result.

#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)]
// A C function takes every argument separately, and each op's argument check returns
// the handle with an `impl Future`, which no type alias can name.
#![allow(clippy::too_many_arguments, clippy::type_complexity)]

mod error;
mod guard;
mod handle;
mod ops;
mod recipes;
mod types;
mod watches;

pub use error::*;
pub use handle::*;
pub use ops::*;
pub use recipes::*;
pub use types::*;
pub use watches::*;
