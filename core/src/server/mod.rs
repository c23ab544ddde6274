//! The ZooKeeper server: everything between a socket and the data tree.
//!
//! # Layout
//!
//! - `config`: zoo.cfg, JVM-style `-D` properties and defaults; `options`: the resolved
//!   knobs the runtime reads.
//! - `tree`: znodes, Stat bookkeeping, the ACL cache. `acl`: ACL checks and auth schemes.
//! - `txn`: the logged transaction record. `state`: the deterministic state machine
//!   (tree + sessions) that applies txns; `quota` keeps quota usage. `image`: the state as
//!   written into snapshots.
//! - `persist`: the write-ahead log, snapshot files and purge.
//! - `runtime`: start-up, recovery, the listener and background tasks; `writer`: the write
//!   path (batch → log → apply → reply); `snapshotter`: when and how it snapshots; `conn`: one client connection; `reads`: requests
//!   served from the local tree; `watch`: the watch manager; `sessions`: session deadlines.
//! - `quorum`: the replicated ensemble on openraft (instead of `writer` when `server.N`
//!   lines are configured): proposing, forwarding, the raft log and state machine, roles,
//!   reconfig.
//! - `fourlw`: four-letter words; `stats`: counters.

pub mod acl;
pub mod config;
pub mod conn;
pub mod fourlw;
pub mod image;
pub mod options;
pub mod persist;
pub mod quorum;
pub mod quota;
pub mod reads;
pub mod runtime;
pub mod sessions;
pub mod snapshotter;
pub mod state;
pub mod stats;
pub mod tree;
pub mod txn;
pub mod watch;
pub mod writer;

pub use options::ServerOptions;
pub use runtime::{Server, ServerError};
