//! The sans-IO jute codec for ZooKeeper's client protocol.
//!
//! # Layout
//!
//! - [`codec`]: the jute primitives ([`Reader`], [`Encode`], [`Decode`]) and [`DecodeError`].
//! - [`error_code`]: [`ErrorCode`], ZooKeeper's error numbers, the single table every layer uses.
//! - [`consts`]: opcodes, special xids, create modes, permissions, watch and state enums.
//! - [`records`]: the plain records (`Stat`, `Acl`, handshake, headers, watch events, …).
//! - [`request`]: [`Request`], every client request keyed by opcode, including multi.
//! - [`response`]: [`Response`], every reply body, including multi results.
//! - [`path`]: ZooKeeper's path rules (`PathUtils.validatePath`).
//! - [`frame`]: length-prefixed framing, checked against `jute.maxbuffer` before allocating.
//!
//! Nothing here touches a socket or a clock: bytes in, typed records out, and back.

pub mod codec;
pub mod consts;
pub mod error_code;
pub mod frame;
pub mod path;
pub mod records;
pub mod request;
pub mod response;

pub use codec::{Decode, DecodeError, Encode, Reader};
pub use consts::*;
pub use error_code::ErrorCode;
pub use records::*;
pub use request::*;
pub use response::*;

#[cfg(test)]
mod golden_tests;
