//! Values crossing between JavaScript and the core: records as plain objects, names for
//! modes, states and event types (each table here, once), data as `Buffer`s.

use std::ptr;

use napi::bindgen_prelude::{BigInt, ToNapiValue, TypeName, ValidateNapiValue};
use napi::{sys, ValueType};
use napi_derive::napi;
use zk_core::client::{OpResult, SessionState, WatchedEvent};
use zk_core::proto::{self, Acl, CreateMode, EventType, KeeperState};

use crate::errors::Failure;
use crate::factories::{self, Factory};

/// Bytes that become a `Buffer` (copied: cheaper than an external buffer for znode data).
pub struct Bytes(pub Vec<u8>);

impl ToNapiValue for Bytes {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        if factories::stage(env, &val.0) {
            if let Some(made) =
                factories::call(env, Factory::Bytes, &[js_value(env, val.0.len() as u32)?])
            {
                return Ok(made);
            }
        }
        let mut data = ptr::null_mut();
        let mut buffer = ptr::null_mut();
        // SAFETY: JavaScript thread; `val` outlives the copy.
        let status = unsafe {
            sys::napi_create_buffer_copy(
                env,
                val.0.len(),
                val.0.as_ptr().cast(),
                &mut data,
                &mut buffer,
            )
        };
        if status != sys::Status::napi_ok {
            return Err(napi::Error::from_reason("cannot create a Buffer"));
        }
        Ok(buffer)
    }
}

impl TypeName for Bytes {
    fn type_name() -> &'static str {
        "Buffer"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ValidateNapiValue for Bytes {}

/// A znode's metadata (`Stat`). Zxids and times are numbers (exact below 2^53, i.e. for
/// the first two million leader epochs); `ephemeralOwner` is a session id, a `bigint`.
#[napi(object, object_from_js = false, object_to_js = false)]
pub struct Stat {
    pub czxid: i64,
    pub mzxid: i64,
    pub ctime: i64,
    pub mtime: i64,
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
    #[napi(ts_type = "bigint")]
    pub ephemeral_owner: i64,
    pub data_length: i32,
    pub num_children: i32,
    pub pzxid: i64,
}

const STAT_FIELDS: [&std::ffi::CStr; 11] = [
    c"czxid",
    c"mzxid",
    c"ctime",
    c"mtime",
    c"version",
    c"cversion",
    c"aversion",
    c"ephemeralOwner",
    c"dataLength",
    c"numChildren",
    c"pzxid",
];

impl Stat {
    /// The fields as JavaScript values, in `STAT_FIELDS` order.
    fn values(&self, env: sys::napi_env) -> napi::Result<[sys::napi_value; 11]> {
        Ok([
            js_value(env, self.czxid)?,
            js_value(env, self.mzxid)?,
            js_value(env, self.ctime)?,
            js_value(env, self.mtime)?,
            js_value(env, self.version)?,
            js_value(env, self.cversion)?,
            js_value(env, self.aversion)?,
            js_value(env, BigInt::from(self.ephemeral_owner))?,
            js_value(env, self.data_length)?,
            js_value(env, self.num_children)?,
            js_value(env, self.pzxid)?,
        ])
    }
}

impl ToNapiValue for Stat {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        let values = val.values(env)?;
        if let Some(made) = factories::call(env, Factory::Stat, &values) {
            return Ok(made);
        }
        object(env, &STAT_FIELDS, &values)
    }
}

impl From<proto::Stat> for Stat {
    fn from(s: proto::Stat) -> Stat {
        Stat {
            czxid: s.czxid,
            mzxid: s.mzxid,
            ctime: s.ctime,
            mtime: s.mtime,
            version: s.version,
            cversion: s.cversion,
            aversion: s.aversion,
            ephemeral_owner: s.ephemeral_owner,
            data_length: s.data_length,
            num_children: s.num_children,
            pzxid: s.pzxid,
        }
    }
}

/// A plain object with these properties (when no factory is registered).
pub fn object(
    env: sys::napi_env,
    names: &[&std::ffi::CStr],
    values: &[sys::napi_value],
) -> napi::Result<sys::napi_value> {
    let mut object = ptr::null_mut();
    // SAFETY: JavaScript thread; the names are NUL-terminated and the values live.
    unsafe {
        if sys::napi_create_object(env, &mut object) != sys::Status::napi_ok {
            return Err(napi::Error::from_reason("cannot create an object"));
        }
        for (name, value) in names.iter().zip(values) {
            sys::napi_set_named_property(env, object, name.as_ptr(), *value);
        }
    }
    Ok(object)
}

/// One access control entry: `perms` is a bit set of `Perms`.
#[napi(object)]
pub struct AclEntry {
    pub perms: i32,
    pub scheme: String,
    pub id: String,
}

impl From<AclEntry> for Acl {
    fn from(a: AclEntry) -> Acl {
        Acl::new(a.perms, &a.scheme, &a.id)
    }
}

impl From<Acl> for AclEntry {
    fn from(a: Acl) -> AclEntry {
        AclEntry {
            perms: a.perms,
            scheme: a.id.scheme,
            id: a.id.id,
        }
    }
}

/// The ACL a call names, or the open ACL (`world:anyone`, all permissions).
pub fn acl_or_open(acl: Option<Vec<AclEntry>>) -> Vec<Acl> {
    match acl {
        Some(acl) => acl.into_iter().map(Acl::from).collect(),
        None => Acl::open_unsafe(),
    }
}

#[napi(object, object_from_js = false, object_to_js = false)]
pub struct DataResult {
    #[napi(ts_type = "Buffer")]
    pub data: Bytes,
    pub stat: Stat,
}

impl ToNapiValue for DataResult {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        // The data travels through the scratch buffer when it fits (the factory copies it
        // into a pooled Buffer), else as a Buffer of its own.
        let data = if factories::stage(env, &val.data.0) {
            js_value(env, val.data.0.len() as u32)?
        } else {
            js_value(env, val.data)?
        };
        let stat = val.stat.values(env)?;
        let mut args = [ptr::null_mut(); 12];
        args[0] = data;
        args[1..].copy_from_slice(&stat);
        if let Some(made) = factories::call(env, Factory::Data, &args) {
            return Ok(made);
        }
        let stat = object(env, &STAT_FIELDS, &stat)?;
        object(env, &[c"data", c"stat"], &[data, stat])
    }
}

#[napi(object, object_from_js = false)]
pub struct ChildrenResult {
    pub children: Vec<String>,
    pub stat: Stat,
}

#[napi(object, object_from_js = false)]
pub struct AclResult {
    pub acl: Vec<AclEntry>,
    pub stat: Stat,
}

#[napi(object, object_from_js = false)]
pub struct CreateResult {
    pub path: String,
    pub stat: Stat,
}

#[napi(object, object_from_js = false)]
pub struct ClientInfo {
    pub auth_scheme: String,
    pub user: String,
}

/// A watch notification: `type` and `state` are names from `EVENT_TYPES`/`KEEPER_STATES`.
#[napi(object, object_from_js = false)]
pub struct WatchEvent {
    #[napi(js_name = "type")]
    pub event_type: &'static str,
    pub state: &'static str,
    pub path: String,
    /// The zxid of the change where the server sends one (zk-server, Apache 3.9+), else -1.
    pub zxid: i64,
}

impl From<WatchedEvent> for WatchEvent {
    fn from(e: WatchedEvent) -> WatchEvent {
        WatchEvent {
            event_type: event_type_name(e.event_type),
            state: keeper_state_name(e.state),
            path: e.path,
            zxid: e.zxid,
        }
    }
}

/// One op of a transaction, as the wrapper's builder collects it.
#[napi(object)]
pub struct OpSpec {
    /// `'create' | 'set' | 'delete' | 'check'`
    pub op: String,
    pub path: String,
    #[napi(ts_type = "Uint8Array | null")]
    pub data: Option<napi::bindgen_prelude::Uint8Array>,
    pub mode: Option<String>,
    pub acl: Option<Vec<AclEntry>>,
    pub ttl: Option<f64>,
    pub version: Option<i32>,
}

/// The result of one op of a committed transaction.
#[napi(object, object_from_js = false)]
pub struct OpOutcome {
    /// `'create' | 'set' | 'delete' | 'check'`
    #[napi(js_name = "type")]
    pub kind: &'static str,
    pub path: Option<String>,
    pub stat: Option<Stat>,
}

impl From<OpResult> for OpOutcome {
    fn from(r: OpResult) -> OpOutcome {
        match r {
            OpResult::Create { path, stat } => OpOutcome {
                kind: "create",
                path: Some(path),
                stat: stat.map(Stat::from),
            },
            OpResult::SetData(stat) => OpOutcome {
                kind: "set",
                path: None,
                stat: Some(stat.into()),
            },
            OpResult::Delete => OpOutcome {
                kind: "delete",
                path: None,
                stat: None,
            },
            OpResult::Check => OpOutcome {
                kind: "check",
                path: None,
                stat: None,
            },
        }
    }
}

/// A znode a cache holds.
#[napi(object, object_from_js = false)]
pub struct CachedNode {
    pub path: String,
    #[napi(ts_type = "Buffer")]
    pub data: Bytes,
    pub stat: Stat,
}

impl From<zk_core::recipes::ChildData> for CachedNode {
    fn from(c: zk_core::recipes::ChildData) -> CachedNode {
        CachedNode {
            path: c.path,
            data: Bytes(c.data),
            stat: c.stat.into(),
        }
    }
}

// ----- names (one table each) -----

/// Create modes by name.
pub const CREATE_MODES: &[(&str, CreateMode)] = &[
    ("persistent", CreateMode::Persistent),
    ("ephemeral", CreateMode::Ephemeral),
    ("persistentSequential", CreateMode::PersistentSequential),
    ("ephemeralSequential", CreateMode::EphemeralSequential),
    ("container", CreateMode::Container),
    ("persistentWithTtl", CreateMode::PersistentWithTtl),
    (
        "persistentSequentialWithTtl",
        CreateMode::PersistentSequentialWithTtl,
    ),
];

pub fn create_mode(name: Option<&str>) -> Result<CreateMode, Failure> {
    let name = name.unwrap_or("persistent");
    CREATE_MODES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, mode)| *mode)
        .ok_or_else(|| {
            let known: Vec<&str> = CREATE_MODES.iter().map(|(n, _)| *n).collect();
            Failure::bad_arguments(format!(
                "unknown create mode {name:?}; one of: {}",
                known.join(", ")
            ))
        })
}

/// A TTL in milliseconds for a TTL mode (required there, refused elsewhere).
pub fn ttl_for(mode: CreateMode, ttl: Option<f64>) -> Result<Option<std::time::Duration>, Failure> {
    match (mode.is_ttl(), ttl) {
        (true, Some(ms)) if ms.is_finite() && ms >= 1.0 && ms <= proto::MAX_TTL as f64 => {
            Ok(Some(std::time::Duration::from_millis(ms as u64)))
        }
        (true, Some(ms)) => Err(Failure::bad_arguments(format!(
            "ttl {ms} is not a whole number of milliseconds in 1..={}",
            proto::MAX_TTL
        ))),
        (true, None) => Err(Failure::bad_arguments("a TTL mode needs the ttl option")),
        (false, Some(_)) => Err(Failure::bad_arguments(
            "ttl is only allowed with the modes persistentWithTtl and persistentSequentialWithTtl",
        )),
        (false, None) => Ok(None),
    }
}

pub fn session_state_name(state: SessionState) -> &'static str {
    match state {
        SessionState::Connecting => "connecting",
        SessionState::Connected => "connected",
        SessionState::ConnectedReadOnly => "connectedReadOnly",
        SessionState::SaslAuthenticated => "saslAuthenticated",
        SessionState::Suspended => "disconnected",
        SessionState::Expired => "expired",
        SessionState::AuthFailed => "authFailed",
        SessionState::Closed => "closed",
    }
}

pub fn event_type_name(event_type: EventType) -> &'static str {
    match event_type {
        EventType::None => "none",
        EventType::NodeCreated => "nodeCreated",
        EventType::NodeDeleted => "nodeDeleted",
        EventType::NodeDataChanged => "nodeDataChanged",
        EventType::NodeChildrenChanged => "nodeChildrenChanged",
        EventType::DataWatchRemoved => "dataWatchRemoved",
        EventType::ChildWatchRemoved => "childWatchRemoved",
        EventType::PersistentWatchRemoved => "persistentWatchRemoved",
    }
}

pub fn keeper_state_name(state: KeeperState) -> &'static str {
    match state {
        KeeperState::Unknown => "unknown",
        KeeperState::Disconnected => "disconnected",
        KeeperState::NoSyncConnected => "noSyncConnected",
        KeeperState::SyncConnected => "syncConnected",
        KeeperState::AuthFailed => "authFailed",
        KeeperState::ConnectedReadOnly => "connectedReadOnly",
        KeeperState::SaslAuthenticated => "saslAuthenticated",
        KeeperState::Expired => "expired",
        KeeperState::Closed => "closed",
    }
}

/// A JavaScript array of `items`.
pub fn array(env: sys::napi_env, items: &[sys::napi_value]) -> napi::Result<sys::napi_value> {
    let mut array = ptr::null_mut();
    // SAFETY: JavaScript thread; every item was made in the current scope.
    unsafe {
        if sys::napi_create_array_with_length(env, items.len(), &mut array) != sys::Status::napi_ok
        {
            return Err(napi::Error::from_reason("cannot create an array"));
        }
        for (i, item) in items.iter().enumerate() {
            sys::napi_set_element(env, array, i as u32, *item);
        }
    }
    Ok(array)
}

/// Converts a value; only for producers, which run on the JavaScript thread of `env`.
pub fn js_value<T: ToNapiValue>(env: sys::napi_env, value: T) -> napi::Result<sys::napi_value> {
    // SAFETY: producers run on the JavaScript thread of `env` (see `sink::run_batch`).
    unsafe { T::to_napi_value(env, value) }
}

/// Builds an event `[kind, ...args]` for the client's router.
#[macro_export]
macro_rules! event {
    ($($arg:expr),+ $(,)?) => {{
        let produce: $crate::sink::Producer = Box::new(move |env, _| {
            let items = [$($crate::convert::js_value(env, $arg)?),+];
            $crate::convert::array(env, &items)
        });
        produce
    }};
}
