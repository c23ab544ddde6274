//! Ops for `multi` and `multiRead`, and their results.

use super::connect_string::{check_path, ConnectString};
use super::error::{Error, Result};
use crate::proto::{
    Acl, CheckVersionRequest, CreateKind, CreateMode, CreateRequest, DeleteRequest, ErrorCode,
    MultiOp, MultiResult, PathRequest, SetDataRequest, Stat,
};

/// One write in a multi.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Create {
        path: String,
        data: Vec<u8>,
        acl: Vec<Acl>,
        mode: CreateMode,
        ttl: Option<i64>,
    },
    Delete {
        path: String,
        version: i32,
    },
    SetData {
        path: String,
        data: Vec<u8>,
        version: i32,
    },
    Check {
        path: String,
        version: i32,
    },
}

impl Op {
    pub fn create(path: &str, data: &[u8], acl: &[Acl], mode: CreateMode) -> Op {
        Op::Create {
            path: path.into(),
            data: data.to_vec(),
            acl: acl.to_vec(),
            mode,
            ttl: None,
        }
    }

    pub fn create_ttl(path: &str, data: &[u8], acl: &[Acl], mode: CreateMode, ttl_ms: i64) -> Op {
        Op::Create {
            path: path.into(),
            data: data.to_vec(),
            acl: acl.to_vec(),
            mode,
            ttl: Some(ttl_ms),
        }
    }

    pub fn delete(path: &str, version: i32) -> Op {
        Op::Delete {
            path: path.into(),
            version,
        }
    }

    pub fn set_data(path: &str, data: &[u8], version: i32) -> Op {
        Op::SetData {
            path: path.into(),
            data: data.to_vec(),
            version,
        }
    }

    pub fn check(path: &str, version: i32) -> Op {
        Op::Check {
            path: path.into(),
            version,
        }
    }

    pub fn path(&self) -> &str {
        match self {
            Op::Create { path, .. }
            | Op::Delete { path, .. }
            | Op::SetData { path, .. }
            | Op::Check { path, .. } => path,
        }
    }

    pub(crate) fn into_wire(self, paths: &ConnectString) -> Result<MultiOp> {
        let sequential = matches!(&self, Op::Create { mode, .. } if mode.is_sequential());
        check_path(self.path(), sequential)?;
        let path = paths.to_server_path(self.path());
        Ok(match self {
            Op::Create {
                data,
                acl,
                mode,
                ttl,
                ..
            } => {
                let kind = match ttl {
                    Some(ttl) => CreateKind::Ttl(ttl),
                    None if mode.is_container() => CreateKind::Container,
                    None => CreateKind::Create2,
                };
                MultiOp::Create(
                    kind,
                    CreateRequest {
                        path,
                        data: Some(data),
                        acl,
                        flags: mode.as_i32(),
                    },
                )
            }
            Op::Delete { version, .. } => MultiOp::Delete(DeleteRequest { path, version }),
            Op::SetData { data, version, .. } => MultiOp::SetData(SetDataRequest {
                path,
                data: Some(data),
                version,
            }),
            Op::Check { version, .. } => MultiOp::Check(CheckVersionRequest { path, version }),
        })
    }
}

/// The result of one op of a successful multi.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpResult {
    /// The created path; the Stat where the server sends one (container and TTL creates).
    Create {
        path: String,
        stat: Option<Stat>,
    },
    Delete,
    SetData(Stat),
    Check,
}

impl OpResult {
    pub(crate) fn from_wire(result: MultiResult, paths: &ConnectString) -> OpResult {
        match result {
            MultiResult::Create { path } => OpResult::Create {
                path: paths.to_client_path(&path),
                stat: None,
            },
            MultiResult::Create2 { path, stat } => OpResult::Create {
                path: paths.to_client_path(&path),
                stat: Some(stat),
            },
            MultiResult::SetData(stat) => OpResult::SetData(stat),
            MultiResult::Check => OpResult::Check,
            _ => OpResult::Delete,
        }
    }
}

/// One read in a multiRead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadOp {
    GetData(String),
    GetChildren(String),
}

impl ReadOp {
    pub(crate) fn to_wire(&self, paths: &ConnectString) -> Result<MultiOp> {
        Ok(match self {
            ReadOp::GetData(p) => {
                check_path(p, false)?;
                MultiOp::GetData(PathRequest {
                    path: paths.to_server_path(p),
                })
            }
            ReadOp::GetChildren(p) => {
                check_path(p, false)?;
                MultiOp::GetChildren(PathRequest {
                    path: paths.to_server_path(p),
                })
            }
        })
    }
}

/// The result of one read of a multiRead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadResult {
    Data { data: Vec<u8>, stat: Stat },
    Children(Vec<String>),
}

impl ReadResult {
    pub(crate) fn from_wire(result: MultiResult) -> Result<ReadResult> {
        match result {
            MultiResult::GetData { data, stat } => Ok(ReadResult::Data {
                data: data.unwrap_or_default(),
                stat,
            }),
            MultiResult::GetChildren(children) => Ok(ReadResult::Children(children)),
            MultiResult::Error(code) => Err(Error::from_code(
                ErrorCode::from_i32(code).unwrap_or(ErrorCode::SystemError),
            )),
            other => Err(Error::Protocol(format!(
                "unexpected multiRead result {other:?}"
            ))),
        }
    }
}
