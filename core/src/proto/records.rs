//! Plain jute records (`zookeeper.jute`), field order = wire order.

use bytes::BufMut;

use super::codec::JuteWrite;
use super::{Decode, DecodeError, Encode, Reader};

/// Implements [`Encode`] and [`Decode`] for a struct whose fields are jute primitives,
/// listed in wire order with their jute kind.
macro_rules! jute_record {
    ($(#[$doc:meta])* $name:ident { $( $field:ident : $kind:ident ),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
        pub struct $name { $( pub $field: jute_record!(@ty $kind), )* }

        impl Encode for $name {
            #[allow(unused_variables)]
            fn encode<B: BufMut>(&self, buf: &mut B) {
                $( jute_record!(@put buf, self.$field, $kind); )*
            }
        }

        impl Decode for $name {
            #[allow(unused_variables)]
            fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok($name { $( $field: jute_record!(@get r, $kind), )* })
            }
        }
    };
    (@ty int) => { i32 };
    (@ty long) => { i64 };
    (@ty bool) => { bool };
    (@ty ustring) => { String };
    (@ty opt_ustring) => { Option<String> };
    (@ty buffer) => { Option<Vec<u8>> };
    (@ty strings) => { Vec<String> };
    (@ty acls) => { Vec<Acl> };
    (@ty stat) => { Stat };
    (@ty id) => { Id };
    (@put $b:ident, $v:expr, int) => { $b.put_i32($v) };
    (@put $b:ident, $v:expr, long) => { $b.put_i64($v) };
    (@put $b:ident, $v:expr, bool) => { $b.put_bool_j($v) };
    (@put $b:ident, $v:expr, ustring) => { $b.put_string(&$v) };
    (@put $b:ident, $v:expr, opt_ustring) => { $b.put_opt_string($v.as_deref()) };
    (@put $b:ident, $v:expr, buffer) => { $b.put_buffer($v.as_deref()) };
    (@put $b:ident, $v:expr, strings) => { $b.put_string_vec(&$v) };
    (@put $b:ident, $v:expr, acls) => { $b.put_records(&$v) };
    (@put $b:ident, $v:expr, stat) => { $v.encode($b) };
    (@put $b:ident, $v:expr, id) => { $v.encode($b) };
    (@get $r:ident, int) => { $r.read_i32()? };
    (@get $r:ident, long) => { $r.read_i64()? };
    (@get $r:ident, bool) => { $r.read_bool()? };
    (@get $r:ident, ustring) => { $r.read_string()? };
    (@get $r:ident, opt_ustring) => { $r.read_opt_string()? };
    (@get $r:ident, buffer) => { $r.read_buffer()? };
    (@get $r:ident, strings) => { $r.read_string_vec()? };
    (@get $r:ident, acls) => { $r.read_vec(12, Acl::decode)? };
    (@get $r:ident, stat) => { Stat::decode($r)? };
    (@get $r:ident, id) => { Id::decode($r)? };
}

pub(crate) use jute_record;

jute_record! {
    /// An identity: `scheme:id` (`world:anyone`, `digest:user:hash`, `ip:10.0.0.0/8`).
    Id { scheme: ustring, id: ustring }
}

jute_record! {
    /// One ACL entry: permission bits for an identity.
    Acl { perms: int, id: id }
}

jute_record! {
    /// A znode's metadata as clients see it (68 bytes on the wire).
    Stat {
        czxid: long,
        mzxid: long,
        ctime: long,
        mtime: long,
        version: int,
        cversion: int,
        aversion: int,
        ephemeral_owner: long,
        data_length: int,
        num_children: int,
        pzxid: long,
    }
}

jute_record! {
    /// `ClientInfo` in a whoAmI reply.
    ClientInfo { auth_scheme: ustring, user: ustring }
}

jute_record! { RequestHeader { xid: int, op: int } }
jute_record! { ReplyHeader { xid: int, zxid: long, err: int } }
jute_record! { MultiHeader { op: int, done: bool, err: int } }
jute_record! {
    /// A watch notification body (`WatcherEvent`).
    WatcherEvent { event_type: int, state: int, path: ustring }
}
jute_record! { AuthPacket { auth_type: int, scheme: ustring, auth: buffer } }

impl Acl {
    pub fn new(perms: i32, scheme: &str, id: &str) -> Self {
        Acl {
            perms,
            id: Id {
                scheme: scheme.to_owned(),
                id: id.to_owned(),
            },
        }
    }

    /// `OPEN_ACL_UNSAFE`: everything for everyone.
    pub fn open_unsafe() -> Vec<Acl> {
        vec![Acl::new(super::perms::ALL, "world", "anyone")]
    }

    /// `READ_ACL_UNSAFE`: read for everyone.
    pub fn read_unsafe() -> Vec<Acl> {
        vec![Acl::new(super::perms::READ, "world", "anyone")]
    }

    /// `CREATOR_ALL_ACL`: everything for the ids of the creating connection.
    pub fn creator_all() -> Vec<Acl> {
        vec![Acl::new(super::perms::ALL, "auth", "")]
    }
}

/// The first frame a client sends. `read_only` is `None` when the (pre-3.4) client left the
/// trailing byte out, in which case the reply leaves it out too.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectRequest {
    pub protocol_version: i32,
    pub last_zxid_seen: i64,
    pub timeout: i32,
    pub session_id: i64,
    pub passwd: Vec<u8>,
    pub read_only: Option<bool>,
}

impl Encode for ConnectRequest {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        buf.put_i32(self.protocol_version);
        buf.put_i64(self.last_zxid_seen);
        buf.put_i32(self.timeout);
        buf.put_i64(self.session_id);
        buf.put_buffer(Some(&self.passwd));
        put_trailing_read_only(buf, self.read_only);
    }
}

impl Decode for ConnectRequest {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ConnectRequest {
            protocol_version: r.read_i32()?,
            last_zxid_seen: r.read_i64()?,
            timeout: r.read_i32()?,
            session_id: r.read_i64()?,
            passwd: r.read_buffer()?.unwrap_or_default(),
            read_only: read_trailing_read_only(r)?,
        })
    }
}

/// The server's answer to [`ConnectRequest`]; `timeout <= 0` tells the client its session expired.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectResponse {
    pub protocol_version: i32,
    pub timeout: i32,
    pub session_id: i64,
    pub passwd: Vec<u8>,
    pub read_only: Option<bool>,
}

impl ConnectResponse {
    /// What Apache sends for an expired, unknown or wrongly-authenticated session.
    pub fn expired(read_only: Option<bool>) -> Self {
        ConnectResponse {
            protocol_version: 0,
            timeout: 0,
            session_id: 0,
            passwd: vec![0; 16],
            read_only: read_only.map(|_| false),
        }
    }
}

impl Encode for ConnectResponse {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        buf.put_i32(self.protocol_version);
        buf.put_i32(self.timeout);
        buf.put_i64(self.session_id);
        buf.put_buffer(Some(&self.passwd));
        put_trailing_read_only(buf, self.read_only);
    }
}

impl Decode for ConnectResponse {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ConnectResponse {
            protocol_version: r.read_i32()?,
            timeout: r.read_i32()?,
            session_id: r.read_i64()?,
            passwd: r.read_buffer()?.unwrap_or_default(),
            read_only: read_trailing_read_only(r)?,
        })
    }
}

/// `SetWatches` (opcode 101) and `SetWatches2` (105): the watches a client re-registers after
/// reconnecting. The persistent lists exist only in `SetWatches2`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SetWatches {
    pub relative_zxid: i64,
    pub data_watches: Vec<String>,
    pub exist_watches: Vec<String>,
    pub child_watches: Vec<String>,
    pub persistent_watches: Vec<String>,
    pub persistent_recursive_watches: Vec<String>,
}

impl SetWatches {
    pub fn encode_v<B: BufMut>(&self, buf: &mut B, with_persistent: bool) {
        buf.put_i64(self.relative_zxid);
        buf.put_string_vec(&self.data_watches);
        buf.put_string_vec(&self.exist_watches);
        buf.put_string_vec(&self.child_watches);
        if with_persistent {
            buf.put_string_vec(&self.persistent_watches);
            buf.put_string_vec(&self.persistent_recursive_watches);
        }
    }

    pub fn decode_v(r: &mut Reader<'_>, with_persistent: bool) -> Result<Self, DecodeError> {
        let mut sw = SetWatches {
            relative_zxid: r.read_i64()?,
            data_watches: r.read_string_vec()?,
            exist_watches: r.read_string_vec()?,
            child_watches: r.read_string_vec()?,
            ..SetWatches::default()
        };
        if with_persistent {
            sw.persistent_watches = r.read_string_vec()?;
            sw.persistent_recursive_watches = r.read_string_vec()?;
        }
        Ok(sw)
    }
}

/// The `readOnly` byte that ends ConnectRequest/ConnectResponse, absent from pre-3.4
/// clients (`compat/ProtocolManager`).
fn read_trailing_read_only(r: &mut Reader<'_>) -> Result<Option<bool>, DecodeError> {
    if r.is_empty() {
        Ok(None)
    } else {
        r.read_bool().map(Some)
    }
}

fn put_trailing_read_only<B: BufMut>(buf: &mut B, read_only: Option<bool>) {
    if let Some(ro) = read_only {
        buf.put_bool_j(ro);
    }
}
