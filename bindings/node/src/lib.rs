//! zk for Node: the N-API adapter (napi-rs) under the npm package in this folder.
//! Every call goes through `zk_core::client` and `zk_core::recipes`; this crate converts
//! values, moves results to the JavaScript thread and maps errors. The JavaScript wrapper
//! (`lib/`) adds what is Node's own: `EventEmitter`s, `AbortSignal`s, async iterators,
//! `Symbol.asyncDispose`.
//!
//! # Layout
//!
//! - `sink.rs`: per client, the queue and thread-safe function that carry results and
//!   events to the JavaScript thread; promises; keeping the event loop alive only while
//!   something is in flight (or `ref()`ed).
//! - `bridge.rs`: per client, calls started on the JavaScript thread; their replies read
//!   there too while calls are in flight, otherwise by one task on the core's runtime.
//! - `uv.rs`: watching a socket from the JavaScript thread's libuv loop, in a callback
//!   scope; closing those watches when the environment goes.
//! - `client.rs`: `NativeClient`, every client operation; the shared call helpers.
//! - `watches.rs`: one-shot and persistent watches by id.
//! - `recipes.rs`: locks, semaphore, leases, election, barriers, queue, counter, group
//!   membership, tree cache.
//! - `elector.rs`: Hadoop's `ActiveStandbyElector` (the core's), its events answered from
//!   JavaScript; `ActiveNodeInfo` encoding.
//! - `convert.rs`: records as JavaScript objects; names of modes, states, event types.
//! - `errors.rs`: the one mapping from the core's errors to `ZkError`s.
//! - `fast.rs`: the most frequent calls as plain functions on a client handle.
//! - `factories.rs`: the wrapper's functions that build errors, Stats and `{data, stat}`.
//!
//! The addon uses N-API version 8 (Node 12.22+, every supported Node) and no tokio
//! runtime of napi's: the core's runtime runs every task, in every worker thread.

mod bridge;
mod client;
mod convert;
mod elector;
mod errors;
mod factories;
mod fast;
mod recipes;
mod sink;
mod uv;
mod watches;

use napi_derive::napi;

/// Every ZooKeeper error code as `[name, errno]`, from the core's table.
#[napi(ts_return_type = "Array<[string, number]>")]
pub fn error_codes() -> Vec<(String, i32)> {
    errors::code_table()
}

/// The create modes by name, in Apache's order (`CreateMode` 0..6).
#[napi]
pub fn create_modes() -> Vec<&'static str> {
    convert::CREATE_MODES
        .iter()
        .map(|(name, _)| *name)
        .collect()
}

/// ACL permission bits by name (`ZooDefs.Perms`).
#[napi(object, object_from_js = false)]
pub struct PermBits {
    pub read: i32,
    pub write: i32,
    pub create: i32,
    pub delete: i32,
    pub admin: i32,
    pub all: i32,
}

#[napi]
pub fn perms() -> PermBits {
    use zk_core::proto::perms;
    PermBits {
        read: perms::READ,
        write: perms::WRITE,
        create: perms::CREATE,
        delete: perms::DELETE,
        admin: perms::ADMIN,
        all: perms::ALL,
    }
}

/// One worker thread for the core's runtime: every result goes to a JavaScript thread
/// anyway, and a single worker that also polls the sockets wakes once per reply burst
/// instead of handing work between two workers (measured: ~5 context switches per
/// sequential call with two workers).
#[napi_derive::module_init]
fn init() {
    zk_core::client::runtime::set_worker_threads(1);
}

/// mimalloc for the addon's own allocations: a call's future is allocated on the
/// JavaScript thread and freed on the runtime's worker (and its reply the other way
/// round); glibc's arenas made those cross-thread frees a sixth of the JavaScript
/// thread's time per call.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
