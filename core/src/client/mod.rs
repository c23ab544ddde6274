//! The ZooKeeper client every binding shares.
//!
//! # Layout
//!
//! - [`Client`] (`handle.rs`): the cloneable async handle and every operation; [`Watch`]
//!   and [`PersistentWatch`] handles; [`Transaction`].
//! - `actor.rs`: the connection task — host selection, handshake and session resume,
//!   pipelining with in-order replies, pings, reconnects, client-side expiry.
//! - `watches.rs`: the client's watch registry and SetWatches2 after reconnect.
//! - `multi.rs`: [`Op`]/[`OpResult`] for multi, [`ReadOp`]/[`ReadResult`] for multiRead.
//! - `connect_string.rs`, `options.rs`, `event.rs`, `error.rs`: inputs and outputs.
//! - [`blocking`]: the same client for callers without an async runtime.
//! - `runtime.rs`: the one tokio runtime used when the caller has none.

mod actor;
pub mod blocking;
mod connect_string;
mod error;
mod event;
mod handle;
mod multi;
mod options;
pub mod runtime;
mod watches;

pub use connect_string::ConnectString;
pub use error::{Error, Result};
pub use event::{SessionState, StateEvent, WatchedEvent};
pub use handle::{Client, Overflow, PersistentWatch, Transaction, Watch};
pub use multi::{Op, OpResult, ReadOp, ReadResult};
pub use options::ClientOptions;
pub use watches::WatchKind;
