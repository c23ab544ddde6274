//! Transactions: what the write path logs and every server applies. A txn carries all
//! that applying it needs (the leader's clock, the session, the connection's auth ids), so
//! applying the same txns in the same order gives the same tree everywhere.
//!
//! # Encoding (jute primitives, big-endian)
//!
//! ```text
//! long zxid | long time_ms | long session_id | int rules | int tag | body
//! rules: bit 0 skipACL, bit 1 extendedTypesEnabled, bit 2 enforceQuota, bit 3 reconfigEnabled
//! tag 1 CreateSession: int timeout | buffer passwd
//! tag 2 CloseSession:  (no body)
//! tag 3 Write:         vector<Id> auth | int opcode | buffer request-body (as on the wire)
//! tag 4 Reconfig:      vector<Id> auth | long fromConfig | ustring members
//! tag 5 Refused:       int error | int failed op index (-1: not a multi) | int op count
//! ```
//!
//! A Refused txn stands for a write that was found, before it was logged, to fail (as
//! Apache logs an error txn): applying it changes nothing but the zxid and gives the same
//! answer the write would have, without the log holding the write's payload.
//!
//! A Reconfig txn is what an ensemble's leader proposes for a client's `reconfig` once it has
//! changed the membership: `members` is every `server.N=` line of the new configuration.

use bytes::BufMut;

use crate::proto::codec::JuteWrite;
use crate::proto::{Decode, DecodeError, Encode, Id, Reader, Request};

/// The settings that decide how a write is validated. Each txn carries the rules it was
/// proposed under, so replaying the log after a config change gives the same results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rules {
    /// `skipACL`: every ACL check passes.
    pub skip_acl: bool,
    /// `extendedTypesEnabled`: TTL nodes allowed.
    pub extended_types: bool,
    /// `enforceQuota`: hard quota limits refuse writes.
    pub enforce_quota: bool,
    /// `reconfigEnabled`: the reconfig operation is allowed.
    pub reconfig_enabled: bool,
}

/// One logged state change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Txn {
    pub zxid: i64,
    pub time: i64,
    pub session_id: i64,
    /// The validation rules in force when the txn was proposed.
    pub rules: Rules,
    pub body: TxnBody,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnBody {
    CreateSession {
        timeout: i32,
        passwd: Vec<u8>,
    },
    CloseSession,
    Write {
        auth: Vec<Id>,
        request: Request,
    },
    Reconfig {
        auth: Vec<Id>,
        cur_config_id: i64,
        members: String,
    },
    Refused {
        /// The error code the write failed with.
        error: i32,
        /// For a multi: which op failed, and how many ops it had.
        multi: Option<(u32, u32)>,
    },
}

const TAG_CREATE_SESSION: i32 = 1;
const TAG_CLOSE_SESSION: i32 = 2;
const TAG_WRITE: i32 = 3;
const TAG_RECONFIG: i32 = 4;
const TAG_REFUSED: i32 = 5;

impl Txn {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        out.put_i64(self.zxid);
        out.put_i64(self.time);
        out.put_i64(self.session_id);
        out.put_i32(encode_rules(self.rules));
        match &self.body {
            TxnBody::CreateSession { timeout, passwd } => {
                out.put_i32(TAG_CREATE_SESSION);
                out.put_i32(*timeout);
                out.put_buffer(Some(passwd));
            }
            TxnBody::CloseSession => out.put_i32(TAG_CLOSE_SESSION),
            TxnBody::Write { auth, request } => {
                out.put_i32(TAG_WRITE);
                out.put_records(auth);
                out.put_i32(request.op_code().as_i32());
                out.put_buffer(Some(&request.to_bytes()));
            }
            TxnBody::Reconfig {
                auth,
                cur_config_id,
                members,
            } => {
                out.put_i32(TAG_RECONFIG);
                out.put_records(auth);
                out.put_i64(*cur_config_id);
                out.put_string(members);
            }
            TxnBody::Refused { error, multi } => {
                out.put_i32(TAG_REFUSED);
                out.put_i32(*error);
                let (index, count) = multi.map_or((-1, 0), |(i, n)| (i as i32, n as i32));
                out.put_i32(index);
                out.put_i32(count);
            }
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let r = &mut Reader::new(bytes);
        let zxid = r.read_i64()?;
        let time = r.read_i64()?;
        let session_id = r.read_i64()?;
        let rules = decode_rules(r.read_i32()?);
        let body = match r.read_i32()? {
            TAG_CREATE_SESSION => TxnBody::CreateSession {
                timeout: r.read_i32()?,
                passwd: r.read_buffer()?.unwrap_or_default(),
            },
            TAG_CLOSE_SESSION => TxnBody::CloseSession,
            TAG_WRITE => {
                let auth = r.read_vec(8, Id::decode)?;
                let op = r.read_i32()?;
                let body = r.read_buffer()?.unwrap_or_default();
                TxnBody::Write {
                    auth,
                    request: Request::decode(op, &body)?,
                }
            }
            TAG_RECONFIG => TxnBody::Reconfig {
                auth: r.read_vec(8, Id::decode)?,
                cur_config_id: r.read_i64()?,
                members: r.read_string()?,
            },
            TAG_REFUSED => {
                let error = r.read_i32()?;
                let index = r.read_i32()?;
                let count = r.read_i32()?;
                let multi = match (u32::try_from(index), u32::try_from(count)) {
                    (Ok(index), Ok(count)) if index < count => Some((index, count)),
                    (Err(_), _) => None,
                    _ => return Err(DecodeError::Invalid("refused multi op out of range")),
                };
                TxnBody::Refused { error, multi }
            }
            _ => return Err(DecodeError::Invalid("unknown txn tag")),
        };
        r.finish()?;
        Ok(Txn {
            zxid,
            time,
            session_id,
            rules,
            body,
        })
    }
}

const SKIP_ACL: i32 = 1;
const EXTENDED_TYPES: i32 = 1 << 1;
const ENFORCE_QUOTA: i32 = 1 << 2;
const RECONFIG_ENABLED: i32 = 1 << 3;

fn encode_rules(rules: Rules) -> i32 {
    [
        (rules.skip_acl, SKIP_ACL),
        (rules.extended_types, EXTENDED_TYPES),
        (rules.enforce_quota, ENFORCE_QUOTA),
        (rules.reconfig_enabled, RECONFIG_ENABLED),
    ]
    .into_iter()
    .filter(|(on, _)| *on)
    .fold(0, |acc, (_, bit)| acc | bit)
}

fn decode_rules(bits: i32) -> Rules {
    Rules {
        skip_acl: bits & SKIP_ACL != 0,
        extended_types: bits & EXTENDED_TYPES != 0,
        enforce_quota: bits & ENFORCE_QUOTA != 0,
        reconfig_enabled: bits & RECONFIG_ENABLED != 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{CreateKind, CreateRequest};

    #[test]
    fn round_trip() {
        for body in [
            TxnBody::CreateSession {
                timeout: 4000,
                passwd: vec![7; 16],
            },
            TxnBody::CloseSession,
            TxnBody::Write {
                auth: vec![Id {
                    scheme: "ip".into(),
                    id: "127.0.0.1".into(),
                }],
                request: Request::Create(
                    CreateKind::Ttl(5),
                    CreateRequest {
                        path: "/a".into(),
                        data: Some(b"x".to_vec()),
                        acl: crate::proto::Acl::open_unsafe(),
                        flags: 5,
                    },
                ),
            },
            TxnBody::Refused {
                error: -101,
                multi: None,
            },
            TxnBody::Refused {
                error: -103,
                multi: Some((2, 5)),
            },
        ] {
            let txn = Txn {
                zxid: 9,
                time: 1234,
                session_id: 77,
                rules: Rules {
                    extended_types: true,
                    enforce_quota: true,
                    ..Rules::default()
                },
                body,
            };
            assert_eq!(Txn::decode(&txn.encode()).unwrap(), txn);
        }
    }
}
