//! The ZooKeeper server: everything between a socket and the data tree.
//!
//! # Layout
//!
//! The modules form layers; each uses only those on its left (no import cycles:
//! `../shared/tools/modcycles.py core/src server` prints 1):
//!
//! refusals, summary → tls, sasl → config/options → tree, acl → txn → state → image, persist,
//! watch, sessions, stats, role,
//! clock → conn::handle → shared → front → snapshotter → writer, quorum → reads, fourlw →
//! http, metrics, admin → conn → runtime.
//!
//! - `refusals`: security refusals in the log, once per peer a minute; `summary`: the latency
//!   summaries of the Prometheus endpoint.
//! - `sasl`: SASL on the client port: the JAAS file, DIGEST-MD5, enforcement settings.
//! - `tls`: TLS on the client port: `ssl.*` settings, key and trust stores (PEM, PKCS12,
//!   JKS), the rustls config and its reload, the `x509` ids a client certificate proves.
//! - `config`: zoo.cfg, JVM-style `-D` properties and defaults; `options`: the resolved
//!   knobs the runtime reads.
//! - `tree`: znodes, Stat bookkeeping, the ACL cache. `acl`: ACL checks and auth schemes.
//! - `txn`: the logged transaction record and the rules it was proposed under. `state`: the
//!   deterministic state machine (tree + sessions + quota usage) that applies txns. `image`:
//!   the state as written into snapshots.
//! - `persist`: the write-ahead log, snapshot files and purge.
//! - `watch`: the watch manager; `sessions`: session deadlines; `stats`: counters; `role`:
//!   what this server is now; `clock`: wall-clock milliseconds.
//! - `conn::handle`: a client connection's shared handle (reply queue, corking, backlog,
//!   counters), what the write path and the watch manager reach a client through.
//! - `shared`: what every part shares ([`shared::Shared`]: state, watches, connections,
//!   sessions, counters, role; the write queue's jobs), with its lock rules.
//! - `front`: the write front end both write paths share: the queue drained into batches of
//!   txns, and the commit that applies durable txns under one lock and answers.
//! - `snapshotter`: when and how the state is snapshotted.
//! - `writer`: the standalone write path (batch → local log → commit); `quorum`: the
//!   replicated ensemble on openraft in its place when `server.N` lines are configured
//!   (batch → proposing or forwarding → raft log → commit on every member; reconfig).
//! - `reads`: requests served from the local tree; `fourlw`: four-letter words; `http`: a
//!   bounded HTTP/1.1 responder; `metrics`: the Prometheus endpoint on it, from `mntr`'s
//!   numbers; `admin`: Apache 3.8's AdminServer (JSON commands under `/commands`) on it,
//!   from the four-letter words' facts.
//! - `conn`: serving one client connection (handshake, requests in order, throttling),
//!   over a plain `TcpStream` or a TLS stream.
//! - `runtime`: start-up, recovery, the listeners (plain, TLS, unified) and background tasks.

pub mod acl;
pub(crate) mod admin;
pub(crate) mod clock;
pub mod config;
pub(crate) mod conn;
pub(crate) mod fourlw;
pub(crate) mod front;
pub(crate) mod http;
pub(crate) mod image;
pub(crate) mod metrics;
pub mod options;
pub mod persist;
pub(crate) mod quorum;
pub(crate) mod reads;
pub(crate) mod refusals;
pub(crate) mod role;
pub(crate) mod runtime;
pub mod sasl;
pub(crate) mod sessions;
pub(crate) mod shared;
pub(crate) mod snapshotter;
pub(crate) mod state;
pub(crate) mod stats;
pub(crate) mod summary;
pub mod tls;
pub mod tree;
pub(crate) mod txn;
pub(crate) mod watch;
pub(crate) mod writer;

pub use options::ServerOptions;
pub use runtime::{Server, ServerError};
