//! Every client request body, keyed by opcode, including multi and multiRead.

use bytes::BufMut;

use super::codec::JuteWrite;
use super::records::{jute_record, Acl, AuthPacket, SetWatches};
use super::{Decode, DecodeError, Encode, OpCode, Reader};

jute_record! {
    /// `CreateRequest` (ops 1, 15, 19); the TTL variant adds [`CreateTtlRequest::ttl`].
    CreateRequest { path: ustring, data: buffer, acl: acls, flags: int }
}
jute_record! { DeleteRequest { path: ustring, version: int } }
jute_record! {
    /// A path and a watch flag: exists, getData, getChildren, getChildren2.
    PathWatchRequest { path: ustring, watch: bool }
}
jute_record! {
    /// A request that is just a path: getACL, sync, getEphemerals, getAllChildrenNumber, deleteContainer.
    PathRequest { path: ustring }
}
jute_record! { SetDataRequest { path: ustring, data: buffer, version: int } }
jute_record! { SetAclRequest { path: ustring, acl: acls, version: int } }
jute_record! { CheckVersionRequest { path: ustring, version: int } }
jute_record! {
    /// `ReconfigRequest` (op 16). The three server lists are null (`None`, length -1 on the
    /// wire) when not given: Apache's client sends `-1`, not an empty string, for the lists a
    /// reconfig does not use, and a re-encoding must keep that.
    ReconfigRequest {
        joining_servers: opt_ustring,
        leaving_servers: opt_ustring,
        new_members: opt_ustring,
        cur_config_id: long,
    }
}
jute_record! {
    /// checkWatches / removeWatches: a path and a `WatcherType`.
    WatchesRequest { path: ustring, watcher_type: int }
}
jute_record! { AddWatchRequest { path: ustring, mode: int } }
jute_record! { SaslRequest { token: buffer } }

/// `CreateTTLRequest` (op 21).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreateTtlRequest {
    pub create: CreateRequest,
    pub ttl: i64,
}

impl Encode for CreateTtlRequest {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        self.create.encode(buf);
        buf.put_i64(self.ttl);
    }
}

impl Decode for CreateTtlRequest {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(CreateTtlRequest {
            create: CreateRequest::decode(r)?,
            ttl: r.read_i64()?,
        })
    }
}

/// Which create opcode carried a [`CreateRequest`]; it decides the reply shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateKind {
    /// op 1: replies with the path only.
    Create,
    /// op 15: path and Stat.
    Create2,
    /// op 19.
    Container,
    /// op 21, with a TTL.
    Ttl(i64),
}

impl CreateKind {
    pub fn op_code(self) -> OpCode {
        match self {
            CreateKind::Create => OpCode::Create,
            CreateKind::Create2 => OpCode::Create2,
            CreateKind::Container => OpCode::CreateContainer,
            CreateKind::Ttl(_) => OpCode::CreateTtl,
        }
    }

    /// Whether the reply carries a Stat (`Create2Response`).
    pub fn returns_stat(self) -> bool {
        self != CreateKind::Create
    }
}

/// One operation inside a multi (writes) or multiRead (reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiOp {
    Create(CreateKind, CreateRequest),
    Delete(DeleteRequest),
    SetData(SetDataRequest),
    Check(CheckVersionRequest),
    GetChildren(PathRequest),
    GetData(PathRequest),
}

impl MultiOp {
    pub fn op_code(&self) -> OpCode {
        match self {
            MultiOp::Create(kind, _) => kind.op_code(),
            MultiOp::Delete(_) => OpCode::Delete,
            MultiOp::SetData(_) => OpCode::SetData,
            MultiOp::Check(_) => OpCode::Check,
            MultiOp::GetChildren(_) => OpCode::GetChildren,
            MultiOp::GetData(_) => OpCode::GetData,
        }
    }

    pub fn path(&self) -> &str {
        match self {
            MultiOp::Create(_, c) => &c.path,
            MultiOp::Delete(d) => &d.path,
            MultiOp::SetData(s) => &s.path,
            MultiOp::Check(c) => &c.path,
            MultiOp::GetChildren(p) | MultiOp::GetData(p) => &p.path,
        }
    }

    fn is_read(&self) -> bool {
        matches!(self, MultiOp::GetChildren(_) | MultiOp::GetData(_))
    }

    fn encode_body<B: BufMut>(&self, buf: &mut B) {
        match self {
            MultiOp::Create(CreateKind::Ttl(ttl), c) => {
                c.encode(buf);
                buf.put_i64(*ttl);
            }
            MultiOp::Create(_, c) => c.encode(buf),
            MultiOp::Delete(d) => d.encode(buf),
            MultiOp::SetData(s) => s.encode(buf),
            MultiOp::Check(c) => c.encode(buf),
            MultiOp::GetChildren(p) | MultiOp::GetData(p) => p.encode(buf),
        }
    }

    fn decode_body(op: i32, r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match OpCode::decode(op)? {
            OpCode::Create => MultiOp::Create(CreateKind::Create, CreateRequest::decode(r)?),
            OpCode::Create2 => MultiOp::Create(CreateKind::Create2, CreateRequest::decode(r)?),
            OpCode::CreateContainer => {
                MultiOp::Create(CreateKind::Container, CreateRequest::decode(r)?)
            }
            OpCode::CreateTtl => {
                let t = CreateTtlRequest::decode(r)?;
                MultiOp::Create(CreateKind::Ttl(t.ttl), t.create)
            }
            OpCode::Delete => MultiOp::Delete(DeleteRequest::decode(r)?),
            OpCode::SetData => MultiOp::SetData(SetDataRequest::decode(r)?),
            OpCode::Check => MultiOp::Check(CheckVersionRequest::decode(r)?),
            // Apache's client writes a GetChildrenRequest / GetDataRequest (path + watch flag)
            // inside multiRead; the watch flag is ignored by the server.
            OpCode::GetChildren => {
                let p = PathWatchRequest::decode(r)?;
                MultiOp::GetChildren(PathRequest { path: p.path })
            }
            OpCode::GetData => {
                let p = PathWatchRequest::decode(r)?;
                MultiOp::GetData(PathRequest { path: p.path })
            }
            _ => return Err(DecodeError::Invalid("operation not allowed in multi")),
        })
    }
}

/// A client request body, decoded by opcode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Create(CreateKind, CreateRequest),
    Delete(DeleteRequest),
    DeleteContainer(PathRequest),
    Exists(PathWatchRequest),
    GetData(PathWatchRequest),
    SetData(SetDataRequest),
    GetAcl(PathRequest),
    SetAcl(SetAclRequest),
    GetChildren(PathWatchRequest),
    GetChildren2(PathWatchRequest),
    Sync(PathRequest),
    Ping,
    Check(CheckVersionRequest),
    Multi(Vec<MultiOp>),
    MultiRead(Vec<MultiOp>),
    Reconfig(ReconfigRequest),
    CheckWatches(WatchesRequest),
    RemoveWatches(WatchesRequest),
    Auth(AuthPacket),
    SetWatches(SetWatches),
    SetWatches2(SetWatches),
    Sasl(SaslRequest),
    GetEphemerals(PathRequest),
    GetAllChildrenNumber(PathRequest),
    AddWatch(AddWatchRequest),
    WhoAmI,
    CloseSession,
}

impl Request {
    pub fn op_code(&self) -> OpCode {
        match self {
            Request::Create(kind, _) => kind.op_code(),
            Request::Delete(_) => OpCode::Delete,
            Request::DeleteContainer(_) => OpCode::DeleteContainer,
            Request::Exists(_) => OpCode::Exists,
            Request::GetData(_) => OpCode::GetData,
            Request::SetData(_) => OpCode::SetData,
            Request::GetAcl(_) => OpCode::GetAcl,
            Request::SetAcl(_) => OpCode::SetAcl,
            Request::GetChildren(_) => OpCode::GetChildren,
            Request::GetChildren2(_) => OpCode::GetChildren2,
            Request::Sync(_) => OpCode::Sync,
            Request::Ping => OpCode::Ping,
            Request::Check(_) => OpCode::Check,
            Request::Multi(_) => OpCode::Multi,
            Request::MultiRead(_) => OpCode::MultiRead,
            Request::Reconfig(_) => OpCode::Reconfig,
            Request::CheckWatches(_) => OpCode::CheckWatches,
            Request::RemoveWatches(_) => OpCode::RemoveWatches,
            Request::Auth(_) => OpCode::Auth,
            Request::SetWatches(_) => OpCode::SetWatches,
            Request::SetWatches2(_) => OpCode::SetWatches2,
            Request::Sasl(_) => OpCode::Sasl,
            Request::GetEphemerals(_) => OpCode::GetEphemerals,
            Request::GetAllChildrenNumber(_) => OpCode::GetAllChildrenNumber,
            Request::AddWatch(_) => OpCode::AddWatch,
            Request::WhoAmI => OpCode::WhoAmI,
            Request::CloseSession => OpCode::CloseSession,
        }
    }

    /// Decodes the body that followed a `RequestHeader` with opcode `op`. Trailing bytes are
    /// tolerated, as Apache's server does.
    pub fn decode(op: i32, body: &[u8]) -> Result<Self, DecodeError> {
        let r = &mut Reader::new(body);
        Ok(match OpCode::decode(op)? {
            OpCode::Create => Request::Create(CreateKind::Create, CreateRequest::decode(r)?),
            OpCode::Create2 => Request::Create(CreateKind::Create2, CreateRequest::decode(r)?),
            OpCode::CreateContainer => {
                Request::Create(CreateKind::Container, CreateRequest::decode(r)?)
            }
            OpCode::CreateTtl => {
                let t = CreateTtlRequest::decode(r)?;
                Request::Create(CreateKind::Ttl(t.ttl), t.create)
            }
            OpCode::Delete => Request::Delete(DeleteRequest::decode(r)?),
            OpCode::DeleteContainer => Request::DeleteContainer(PathRequest::decode(r)?),
            OpCode::Exists => Request::Exists(PathWatchRequest::decode(r)?),
            OpCode::GetData => Request::GetData(PathWatchRequest::decode(r)?),
            OpCode::SetData => Request::SetData(SetDataRequest::decode(r)?),
            OpCode::GetAcl => Request::GetAcl(PathRequest::decode(r)?),
            OpCode::SetAcl => Request::SetAcl(SetAclRequest::decode(r)?),
            OpCode::GetChildren => Request::GetChildren(PathWatchRequest::decode(r)?),
            OpCode::GetChildren2 => Request::GetChildren2(PathWatchRequest::decode(r)?),
            OpCode::Sync => Request::Sync(PathRequest::decode(r)?),
            OpCode::Ping => Request::Ping,
            OpCode::Check => Request::Check(CheckVersionRequest::decode(r)?),
            OpCode::Multi => Request::Multi(decode_multi(r, false)?),
            OpCode::MultiRead => Request::MultiRead(decode_multi(r, true)?),
            OpCode::Reconfig => Request::Reconfig(ReconfigRequest::decode(r)?),
            OpCode::CheckWatches => Request::CheckWatches(WatchesRequest::decode(r)?),
            OpCode::RemoveWatches => Request::RemoveWatches(WatchesRequest::decode(r)?),
            OpCode::Auth => Request::Auth(AuthPacket::decode(r)?),
            OpCode::SetWatches => Request::SetWatches(SetWatches::decode_v(r, false)?),
            OpCode::SetWatches2 => Request::SetWatches2(SetWatches::decode_v(r, true)?),
            OpCode::Sasl => Request::Sasl(SaslRequest::decode(r)?),
            OpCode::GetEphemerals => Request::GetEphemerals(PathRequest::decode(r)?),
            OpCode::GetAllChildrenNumber => Request::GetAllChildrenNumber(PathRequest::decode(r)?),
            OpCode::AddWatch => Request::AddWatch(AddWatchRequest::decode(r)?),
            OpCode::WhoAmI => Request::WhoAmI,
            OpCode::CloseSession => Request::CloseSession,
            OpCode::Notification | OpCode::CreateSession | OpCode::Error => {
                return Err(DecodeError::UnknownOpCode(op))
            }
        })
    }
}

impl Encode for Request {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        match self {
            Request::Create(CreateKind::Ttl(ttl), c) => {
                c.encode(buf);
                buf.put_i64(*ttl);
            }
            Request::Create(_, c) => c.encode(buf),
            Request::Delete(d) => d.encode(buf),
            Request::Exists(p)
            | Request::GetData(p)
            | Request::GetChildren(p)
            | Request::GetChildren2(p) => p.encode(buf),
            Request::DeleteContainer(p)
            | Request::GetAcl(p)
            | Request::Sync(p)
            | Request::GetEphemerals(p)
            | Request::GetAllChildrenNumber(p) => p.encode(buf),
            Request::SetData(s) => s.encode(buf),
            Request::SetAcl(s) => s.encode(buf),
            Request::Check(c) => c.encode(buf),
            Request::Multi(ops) | Request::MultiRead(ops) => encode_multi(ops, buf),
            Request::Reconfig(rc) => rc.encode(buf),
            Request::CheckWatches(w) | Request::RemoveWatches(w) => w.encode(buf),
            Request::Auth(a) => a.encode(buf),
            Request::SetWatches(sw) => sw.encode_v(buf, false),
            Request::SetWatches2(sw) => sw.encode_v(buf, true),
            Request::Sasl(s) => s.encode(buf),
            Request::AddWatch(a) => a.encode(buf),
            Request::Ping | Request::WhoAmI | Request::CloseSession => {}
        }
    }
}

fn encode_multi<B: BufMut>(ops: &[MultiOp], buf: &mut B) {
    for op in ops {
        buf.put_i32(op.op_code().as_i32());
        buf.put_bool_j(false);
        buf.put_i32(-1);
        match op {
            // multiRead ops carry the watch flag of GetChildrenRequest / GetDataRequest.
            MultiOp::GetChildren(p) | MultiOp::GetData(p) => {
                buf.put_string(&p.path);
                buf.put_bool_j(false);
            }
            _ => op.encode_body(buf),
        }
    }
    buf.put_i32(-1);
    buf.put_bool_j(true);
    buf.put_i32(-1);
}

fn decode_multi(r: &mut Reader<'_>, reads: bool) -> Result<Vec<MultiOp>, DecodeError> {
    let mut ops = Vec::new();
    loop {
        let op = r.read_i32()?;
        let done = r.read_bool()?;
        let _err = r.read_i32()?;
        if done {
            return Ok(ops);
        }
        let parsed = MultiOp::decode_body(op, r)?;
        if parsed.is_read() != reads {
            return Err(DecodeError::Invalid("mixing different kind of ops"));
        }
        ops.push(parsed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the golden captures: zkCli's `reconfig -remove 3` sends null (-1) joining
    /// and members lists; they used to come back as empty strings (length 0).
    #[test]
    fn reconfig_keeps_null_server_lists() {
        let body = [
            0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, b'3', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xff, 0xff, 0xff,
        ];
        let req = Request::decode(OpCode::Reconfig.as_i32(), &body).unwrap();
        let Request::Reconfig(rc) = &req else {
            panic!("{req:?}")
        };
        assert_eq!(rc.joining_servers, None);
        assert_eq!(rc.leaving_servers.as_deref(), Some("3"));
        assert_eq!(rc.new_members, None);
        assert_eq!(rc.cur_config_id, -1);
        assert_eq!(req.to_bytes(), body);
    }
}
