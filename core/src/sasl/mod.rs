//! SASL as ZooKeeper speaks it, sans-IO and shared by the client and the server: the
//! DIGEST-MD5 mechanism's two sides and the JAAS files Apache's deployments configure it
//! with. The server's use of them (the client port's `sasl` request, enforcement) is in
//! `server::sasl`; the client's in `client`.
//!
//! # Layout
//!
//! - `digest`: DIGEST-MD5 (RFC 2831), [`digest::DigestServer`] and [`digest::DigestClient`].
//! - `jaas`: the JAAS login configuration file parser.

pub mod digest;
pub mod jaas;
#[cfg(test)]
mod tests;

/// Apache's DIGEST-MD5 server name, which is also its realm.
pub const REALM: &str = "zk-sasl-md5";
/// The SASL protocol (service) name.
pub const PROTOCOL: &str = "zookeeper";
