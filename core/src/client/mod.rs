//! The ZooKeeper client every binding shares.
//!
//! # Layout
//!
//! - [`Client`] (`handle.rs`): the cloneable async handle and every operation; [`Watch`]
//!   and [`PersistentWatch`] handles; [`Transaction`].
//! - `session.rs`: the session's rules without IO — the handshake's request and wait,
//!   resume with credentials and SetWatches2, in-order reply matching, pings, read
//!   timeouts, client-side expiry — a state machine driven by bytes and instants.
//! - `actor.rs`: the connection task, its IO driver — host selection, dialing, reading the
//!   socket, sleeping until the machine's next deadline, read-only probing.
//! - `driver.rs`: the machine behind one lock, shared by the callers and the task: a caller
//!   submits its own command and, on an idle connection, writes it to the socket itself.
//! - `batch.rs`: [`WriteBatch`], a thread's burst of calls written together when it ends.
//! - `socket.rs`: the established connection's socket, whose reads a blocked caller can
//!   take over from the task; [`block_on`] (`wait.rs`): a call run on the calling thread,
//!   which then waits for its reply on the socket itself; [`LentReads`] (`lend.rs`): the
//!   same for an event loop, which watches the socket while it waits for replies.
//! - `watches.rs`: the client's watch registry and SetWatches2 after reconnect.
//! - `multi.rs`: [`Op`]/[`OpResult`] for multi, [`ReadOp`]/[`ReadResult`] for multiRead.
//! - `tls.rs`: [`TlsOptions`] and TLS on the connection (rustls, driven by hand).
//! - `sasl.rs`: [`SaslOptions`] (DIGEST-MD5 credentials, or a JAAS `Client` section) and one
//!   connection's SASL exchange, which the session machine runs before anything else.
//! - `connect_string.rs`, `options.rs`, `event.rs`, `error.rs`: inputs and outputs.
//! - `java_config.rs`: [`JavaClientConfig`], Apache's `zookeeper.*` client properties read
//!   onto the options (zk-cli's `CLIENT_JVMFLAGS`, the Java binding's system properties).
//! - [`blocking`]: the same client for callers without an async runtime.
//! - `runtime.rs`: the one tokio runtime used when the caller has none.
//! - [`dispatch`]: one ordered callback queue per client, off the IO threads, for bindings.
//! - `ordered.rs`: watches and state changes handed to callbacks in arrival order
//!   ([`Client::call_ordered`], [`Client::read_with_watch`], [`Client::add_watch_with`],
//!   [`Client::start_with_state_callback`]), for bindings with one event queue per client.

mod actor;
mod batch;
pub mod blocking;
mod command;
mod connect_string;
pub mod dispatch;
mod driver;
mod error;
mod event;
mod handle;
mod java_config;
mod lend;
mod multi;
mod options;
mod ordered;
pub mod runtime;
mod sasl;
mod session;
mod socket;
mod tls;
mod wait;
mod watches;

pub use crate::keystore::StoreType;
pub use batch::WriteBatch;
pub use connect_string::ConnectString;
pub use error::{Error, Result};
pub use event::{SessionState, StateEvent, WatchedEvent};
pub use handle::{Client, Overflow, PersistentWatch, StateChanges, Transaction, Watch};
pub use java_config::JavaClientConfig;
pub use lend::LentReads;
pub use multi::{Op, OpResult, ReadOp, ReadResult};
pub use options::ClientOptions;
pub use ordered::{Call, ReadReply, Reply, ReplyCallback, WatchRegistration, WatchedRead};
pub use sasl::SaslOptions;
pub use tls::{ClientIdentity, TlsOptions};
pub use wait::{block_on, prepare_to_block};
pub use watches::{WatchCallback, WatchKind};
