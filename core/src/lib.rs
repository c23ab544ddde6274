//! zk-core: Apache ZooKeeper's protocol, client and server logic in one crate.
//!
//! # Layout
//!
//! - [`proto`]: the sans-IO jute codec — records, opcodes, error codes, paths and framing.
//!   No tokio, no sockets; every decoder refuses hostile input with an error, never a panic.
//! - `keystore`: key and trust stores in Apache's formats (PEM, PKCS12, JKS), for the
//!   server's TLS and the client's.
//! - `sasl`: SASL's DIGEST-MD5 mechanism (both sides) and JAAS files, sans-IO, shared by
//!   the client and the server.
//! - `server` (feature `server`): the data tree, sessions, watches, ACLs, the write path
//!   (prep → durable log → apply), persistence, configuration and four-letter words.
//! - `client` (feature `client`): the async client, its blocking facade and (soon) the
//!   recipes every binding shares.
//! - `tls_names`: the certificate verifier both the client and the quorum's dialing side use
//!   when hostname verification is off.

pub mod proto;

#[cfg(any(feature = "server", feature = "client"))]
pub mod keystore;
#[cfg(any(feature = "server", feature = "client"))]
pub mod sasl;

#[cfg(any(feature = "client", feature = "server"))]
mod tls_names;

#[cfg(feature = "server")]
pub mod server;

#[cfg(feature = "client")]
pub mod client;

#[cfg(feature = "client")]
pub mod recipes;
