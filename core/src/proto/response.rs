//! Every reply body, and multi results. A body follows a `ReplyHeader` only when its
//! `err` is 0; which body it is depends on the request's opcode.

use bytes::BufMut;

use super::codec::JuteWrite;
use super::records::{Acl, ClientInfo, Stat};
use super::{Decode, DecodeError, Encode, OpCode, Reader};

/// A reply body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// No body: delete, ping, auth, setWatches, checkWatches, removeWatches, closeSession, sync errors.
    Empty,
    /// create (op 1).
    Create {
        path: String,
    },
    /// create2, createContainer, createTTL.
    Create2 {
        path: String,
        stat: Stat,
    },
    /// exists, setData, setACL.
    Stat(Stat),
    /// getData, reconfig.
    GetData {
        data: Option<Vec<u8>>,
        stat: Stat,
    },
    GetAcl {
        acl: Vec<Acl>,
        stat: Stat,
    },
    Children(Vec<String>),
    Children2 {
        children: Vec<String>,
        stat: Stat,
    },
    Sync {
        path: String,
    },
    Multi(Vec<MultiResult>),
    /// getAllChildrenNumber.
    Count(i32),
    /// getEphemerals.
    Paths(Vec<String>),
    WhoAmI(Vec<ClientInfo>),
    /// addWatch replies with an `ErrorResponse{0}`.
    ErrorResponse(i32),
    Sasl {
        token: Option<Vec<u8>>,
    },
}

impl Encode for Response {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        match self {
            Response::Empty => {}
            Response::Create { path } | Response::Sync { path } => buf.put_string(path),
            Response::Create2 { path, stat } => {
                buf.put_string(path);
                stat.encode(buf);
            }
            Response::Stat(stat) => stat.encode(buf),
            Response::GetData { data, stat } => {
                buf.put_buffer(data.as_deref());
                stat.encode(buf);
            }
            Response::GetAcl { acl, stat } => {
                buf.put_records(acl);
                stat.encode(buf);
            }
            Response::Children(children) | Response::Paths(children) => {
                buf.put_string_vec(children)
            }
            Response::Children2 { children, stat } => {
                buf.put_string_vec(children);
                stat.encode(buf);
            }
            Response::Multi(results) => {
                for result in results {
                    result.encode(buf);
                }
                buf.put_i32(-1);
                buf.put_bool_j(true);
                buf.put_i32(-1);
            }
            Response::Count(n) | Response::ErrorResponse(n) => buf.put_i32(*n),
            Response::WhoAmI(infos) => buf.put_records(infos),
            Response::Sasl { token } => buf.put_buffer(token.as_deref()),
        }
    }
}

impl Response {
    /// Decodes the body of a successful reply to a request with opcode `op`.
    pub fn decode(op: OpCode, body: &[u8]) -> Result<Self, DecodeError> {
        let r = &mut Reader::new(body);
        let response = match op {
            OpCode::Create => Response::Create {
                path: r.read_string()?,
            },
            OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => Response::Create2 {
                path: r.read_string()?,
                stat: Stat::decode(r)?,
            },
            OpCode::Exists | OpCode::SetData | OpCode::SetAcl => Response::Stat(Stat::decode(r)?),
            OpCode::GetData | OpCode::Reconfig => Response::GetData {
                data: r.read_buffer()?,
                stat: Stat::decode(r)?,
            },
            OpCode::GetAcl => Response::GetAcl {
                acl: r.read_vec(12, Acl::decode)?,
                stat: Stat::decode(r)?,
            },
            OpCode::GetChildren => Response::Children(r.read_string_vec()?),
            OpCode::GetChildren2 => Response::Children2 {
                children: r.read_string_vec()?,
                stat: Stat::decode(r)?,
            },
            OpCode::Sync => Response::Sync {
                path: r.read_string()?,
            },
            OpCode::Multi | OpCode::MultiRead => Response::Multi(decode_multi_results(r)?),
            OpCode::GetAllChildrenNumber => Response::Count(r.read_i32()?),
            OpCode::GetEphemerals => Response::Paths(r.read_string_vec()?),
            OpCode::WhoAmI => Response::WhoAmI(r.read_vec(8, ClientInfo::decode)?),
            OpCode::AddWatch => Response::ErrorResponse(r.read_i32()?),
            OpCode::Sasl => Response::Sasl {
                token: r.read_buffer()?,
            },
            _ => Response::Empty,
        };
        Ok(response)
    }
}

/// One result inside a multi or multiRead reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiResult {
    /// create (op 1).
    Create {
        path: String,
    },
    /// create2, createContainer, createTTL: written with type 15.
    Create2 {
        path: String,
        stat: Stat,
    },
    Delete,
    SetData(Stat),
    Check,
    GetChildren(Vec<String>),
    GetData {
        data: Option<Vec<u8>>,
        stat: Stat,
    },
    /// type -1 with an error code: 0 for ops before a failure, the failing code, then -2.
    Error(i32),
}

impl MultiResult {
    fn op_type(&self) -> i32 {
        match self {
            MultiResult::Create { .. } => OpCode::Create,
            MultiResult::Create2 { .. } => OpCode::Create2,
            MultiResult::Delete => OpCode::Delete,
            MultiResult::SetData(_) => OpCode::SetData,
            MultiResult::Check => OpCode::Check,
            MultiResult::GetChildren(_) => OpCode::GetChildren,
            MultiResult::GetData { .. } => OpCode::GetData,
            MultiResult::Error(_) => OpCode::Error,
        }
        .as_i32()
    }

    fn encode<B: BufMut>(&self, buf: &mut B) {
        buf.put_i32(self.op_type());
        buf.put_bool_j(false);
        buf.put_i32(match self {
            MultiResult::Error(err) => *err,
            _ => 0,
        });
        match self {
            MultiResult::Create { path } => buf.put_string(path),
            MultiResult::Create2 { path, stat } => {
                buf.put_string(path);
                stat.encode(buf);
            }
            MultiResult::SetData(stat) => stat.encode(buf),
            MultiResult::GetChildren(children) => buf.put_string_vec(children),
            MultiResult::GetData { data, stat } => {
                buf.put_buffer(data.as_deref());
                stat.encode(buf);
            }
            MultiResult::Error(err) => buf.put_i32(*err),
            MultiResult::Delete | MultiResult::Check => {}
        }
    }
}

fn decode_multi_results(r: &mut Reader<'_>) -> Result<Vec<MultiResult>, DecodeError> {
    let mut results = Vec::new();
    loop {
        let op = r.read_i32()?;
        let done = r.read_bool()?;
        let err = r.read_i32()?;
        if done {
            return Ok(results);
        }
        let result = match OpCode::decode(op)? {
            OpCode::Create => MultiResult::Create {
                path: r.read_string()?,
            },
            OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => MultiResult::Create2 {
                path: r.read_string()?,
                stat: Stat::decode(r)?,
            },
            OpCode::Delete => MultiResult::Delete,
            OpCode::SetData => MultiResult::SetData(Stat::decode(r)?),
            OpCode::Check => MultiResult::Check,
            OpCode::GetChildren => MultiResult::GetChildren(r.read_string_vec()?),
            OpCode::GetData => MultiResult::GetData {
                data: r.read_buffer()?,
                stat: Stat::decode(r)?,
            },
            OpCode::Error => {
                let body_err = r.read_i32()?;
                MultiResult::Error(if body_err != 0 { body_err } else { err })
            }
            _ => return Err(DecodeError::Invalid("unexpected op type in multi result")),
        };
        results.push(result);
    }
}
