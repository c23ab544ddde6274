//! The C structs, the constants that go with them, and every `zk_free_*`.
//!
//! Variable-size results are allocated here and freed only by the matching `zk_free_*`
//! (see "OWNERSHIP" in zk.h).

use std::ffi::{c_char, c_int, CString};
use std::ptr;

use zk_core::client::{OpResult, WatchedEvent};
use zk_core::proto::{Acl, ClientInfo, Stat};

use crate::guard::guard_or;

/// Create modes (`zk_create` `mode`), ZooKeeper's numbers.
pub const ZK_PERSISTENT: c_int = 0;
pub const ZK_EPHEMERAL: c_int = 1;
pub const ZK_PERSISTENT_SEQUENTIAL: c_int = 2;
pub const ZK_EPHEMERAL_SEQUENTIAL: c_int = 3;
pub const ZK_CONTAINER: c_int = 4;
/// Needs `ttl_ms` > 0 (and a server with `extendedTypesEnabled`).
pub const ZK_PERSISTENT_WITH_TTL: c_int = 5;
pub const ZK_PERSISTENT_SEQUENTIAL_WITH_TTL: c_int = 6;

/// ACL permission bits.
pub const ZK_PERM_READ: i32 = 1;
pub const ZK_PERM_WRITE: i32 = 2;
pub const ZK_PERM_CREATE: i32 = 4;
pub const ZK_PERM_DELETE: i32 = 8;
pub const ZK_PERM_ADMIN: i32 = 16;
pub const ZK_PERM_ALL: i32 = 31;

/// Watch event types (`zk_watcher_fn` `type`).
pub const ZK_SESSION_EVENT: c_int = -1;
pub const ZK_CREATED_EVENT: c_int = 1;
pub const ZK_DELETED_EVENT: c_int = 2;
pub const ZK_CHANGED_EVENT: c_int = 3;
pub const ZK_CHILD_EVENT: c_int = 4;
pub const ZK_DATA_WATCH_REMOVED_EVENT: c_int = 5;
pub const ZK_CHILD_WATCH_REMOVED_EVENT: c_int = 6;
pub const ZK_PERSISTENT_WATCH_REMOVED_EVENT: c_int = 7;

/// Connection states (`zk_state_fn` `state`, `zk_state()`, `zk_watcher_fn` `state`).
pub const ZK_STATE_SUSPENDED: c_int = 0;
pub const ZK_STATE_CONNECTING: c_int = 1;
pub const ZK_STATE_CONNECTED: c_int = 3;
pub const ZK_STATE_CONNECTED_READONLY: c_int = 5;
/// Connected and authenticated with the SASL credentials of `zk_options` (Apache's
/// `KeeperState.SaslAuthenticated`): follows ZK_STATE_CONNECTED on every connection of a
/// handle with SASL options.
pub const ZK_STATE_SASL_AUTHENTICATED: c_int = 6;
pub const ZK_STATE_CLOSED: c_int = 7;
pub const ZK_STATE_EXPIRED: c_int = -112;
pub const ZK_STATE_AUTH_FAILED: c_int = -113;

/// Multi op types (`zk_op` `type`), ZooKeeper's op codes.
pub const ZK_OP_CREATE: c_int = 1;
pub const ZK_OP_DELETE: c_int = 2;
pub const ZK_OP_SET_DATA: c_int = 5;
pub const ZK_OP_CHECK: c_int = 13;

/// A znode's metadata.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct zk_stat {
    pub czxid: i64,
    pub mzxid: i64,
    pub ctime: i64,
    pub mtime: i64,
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
    pub ephemeral_owner: i64,
    pub data_length: i32,
    pub num_children: i32,
    pub pzxid: i64,
}

/// One ACL entry: `perms` (ZK_PERM_* bits) for `scheme:id` (`world:anyone`,
/// `digest:user:hash`, `ip:10.0.0.0/8`, `auth:`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct zk_acl {
    pub perms: i32,
    pub scheme: *const c_char,
    pub id: *const c_char,
}

/// A library-allocated ACL list; free with `zk_free_acl_list`.
#[repr(C)]
#[derive(Debug)]
pub struct zk_acl_list {
    pub items: *mut zk_acl,
    pub len: usize,
}

/// A library-allocated list of strings; free with `zk_free_strings`.
#[repr(C)]
#[derive(Debug)]
pub struct zk_strings {
    pub items: *mut *mut c_char,
    pub len: usize,
}

/// One identity of this session (`zk_whoami`).
#[repr(C)]
#[derive(Debug)]
pub struct zk_client_info {
    pub scheme: *const c_char,
    pub user: *const c_char,
}

/// A library-allocated whoami list; free with `zk_free_client_infos`.
#[repr(C)]
#[derive(Debug)]
pub struct zk_client_infos {
    pub items: *mut zk_client_info,
    pub len: usize,
}

/// One op of a `zk_multi` (the caller's memory, read during the call).
/// `type`: ZK_OP_CREATE (path, data, data_len, acl, acl_len, mode, ttl_ms),
/// ZK_OP_DELETE (path, version), ZK_OP_SET_DATA (path, data, data_len, version),
/// ZK_OP_CHECK (path, version). Unused fields are ignored.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct zk_op {
    pub r#type: c_int,
    pub path: *const c_char,
    pub data: *const u8,
    pub data_len: usize,
    pub version: i32,
    pub mode: c_int,
    pub ttl_ms: i64,
    pub acl: *const zk_acl,
    pub acl_len: usize,
}

/// The result of one op of a successful multi: `path` is the created path for
/// ZK_OP_CREATE (else NULL); `stat` is filled for ZK_OP_SET_DATA and for creates whose
/// reply carries one (`has_stat`).
#[repr(C)]
#[derive(Debug)]
pub struct zk_op_result {
    pub r#type: c_int,
    pub path: *mut c_char,
    pub has_stat: c_int,
    pub stat: zk_stat,
}

/// A library-allocated multi result list; free with `zk_free_op_results`.
#[repr(C)]
#[derive(Debug)]
pub struct zk_op_results {
    pub items: *mut zk_op_result,
    pub len: usize,
}

// ----- conversions (library allocations) -----

impl From<&Stat> for zk_stat {
    fn from(s: &Stat) -> zk_stat {
        zk_stat {
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

/// A library-allocated C string (interior NULs, impossible from ZooKeeper, are dropped).
pub(crate) fn new_string(s: &str) -> *mut c_char {
    let clean: Vec<u8> = s.bytes().filter(|&b| b != 0).collect();
    CString::new(clean).map_or(ptr::null_mut(), CString::into_raw)
}

/// Frees a string from [`new_string`]; NULL is a no-op.
///
/// # Safety
///
/// `p` is NULL or came from [`new_string`], is not freed elsewhere, and still has the
/// length it had (`CString::from_raw` finds it again by its NUL).
unsafe fn drop_string(p: *const c_char) {
    if !p.is_null() {
        // SAFETY: not NULL, so from `new_string` (`CString::into_raw`), unfreed and of
        // its original length, by this function's contract.
        drop(unsafe { CString::from_raw(p.cast_mut()) });
    }
}

/// Bytes are stored after an 8-byte length and followed by a NUL (not counted), so the
/// caller gets a pointer it can also print as a string.
const LEN_PREFIX: usize = std::mem::size_of::<u64>();

pub(crate) fn new_bytes(data: &[u8]) -> *mut u8 {
    let mut buf = Vec::with_capacity(LEN_PREFIX + data.len() + 1);
    buf.extend_from_slice(&(data.len() as u64).to_ne_bytes());
    buf.extend_from_slice(data);
    buf.push(0);
    let raw = Box::into_raw(buf.into_boxed_slice()).cast::<u8>();
    // SAFETY: the allocation is at least LEN_PREFIX + 1 bytes.
    unsafe { raw.add(LEN_PREFIX) }
}

pub(crate) fn new_strings(list: &[String]) -> *mut zk_strings {
    let items: Box<[*mut c_char]> = list.iter().map(|s| new_string(s)).collect();
    let len = items.len();
    Box::into_raw(Box::new(zk_strings {
        items: Box::into_raw(items).cast(),
        len,
    }))
}

pub(crate) fn new_acl_list(list: &[Acl]) -> *mut zk_acl_list {
    let items: Box<[zk_acl]> = list
        .iter()
        .map(|a| zk_acl {
            perms: a.perms,
            scheme: new_string(&a.id.scheme),
            id: new_string(&a.id.id),
        })
        .collect();
    let len = items.len();
    Box::into_raw(Box::new(zk_acl_list {
        items: Box::into_raw(items).cast(),
        len,
    }))
}

pub(crate) fn new_client_infos(list: &[ClientInfo]) -> *mut zk_client_infos {
    let items: Box<[zk_client_info]> = list
        .iter()
        .map(|i| zk_client_info {
            scheme: new_string(&i.auth_scheme),
            user: new_string(&i.user),
        })
        .collect();
    let len = items.len();
    Box::into_raw(Box::new(zk_client_infos {
        items: Box::into_raw(items).cast(),
        len,
    }))
}

pub(crate) fn new_op_results(list: &[OpResult]) -> *mut zk_op_results {
    let items: Box<[zk_op_result]> = list
        .iter()
        .map(|r| match r {
            OpResult::Create { path, stat } => zk_op_result {
                r#type: ZK_OP_CREATE,
                path: new_string(path),
                has_stat: c_int::from(stat.is_some()),
                stat: stat.as_ref().map(zk_stat::from).unwrap_or_default(),
            },
            OpResult::Delete => plain_result(ZK_OP_DELETE),
            OpResult::SetData(stat) => zk_op_result {
                has_stat: 1,
                stat: stat.into(),
                ..plain_result(ZK_OP_SET_DATA)
            },
            OpResult::Check => plain_result(ZK_OP_CHECK),
        })
        .collect();
    let len = items.len();
    Box::into_raw(Box::new(zk_op_results {
        items: Box::into_raw(items).cast(),
        len,
    }))
}

fn plain_result(r#type: c_int) -> zk_op_result {
    zk_op_result {
        r#type,
        path: ptr::null_mut(),
        has_stat: 0,
        stat: zk_stat::default(),
    }
}

/// A watch event's state in `ZK_STATE_*` numbers.
pub(crate) fn event_state(event: &WatchedEvent) -> c_int {
    use zk_core::proto::KeeperState;
    match event.state {
        KeeperState::Disconnected => ZK_STATE_SUSPENDED,
        KeeperState::SyncConnected => ZK_STATE_CONNECTED,
        KeeperState::ConnectedReadOnly => ZK_STATE_CONNECTED_READONLY,
        KeeperState::Expired => ZK_STATE_EXPIRED,
        KeeperState::AuthFailed => ZK_STATE_AUTH_FAILED,
        KeeperState::Closed => ZK_STATE_CLOSED,
        KeeperState::Unknown | KeeperState::NoSyncConnected | KeeperState::SaslAuthenticated => {
            event.state.as_i32()
        }
    }
}

// ----- frees -----

/// Frees a string the library returned. NULL is a no-op.
///
/// # Safety
///
/// `s`: NULL, or a string the library handed over to be freed with this function (e.g.
/// `zk_create`'s `path_out`), not freed before and still of its original length (no NUL
/// written into it). Not a string inside a returned struct or list, nor one lent to a
/// callback.
#[no_mangle]
pub unsafe extern "C" fn zk_free_string(s: *mut c_char) {
    // SAFETY: `s` is NULL or from `new_string`, unfreed, of its original length (this
    // function's contract).
    guard_or((), || unsafe { drop_string(s) })
}

/// Frees bytes the library returned (`zk_get`, `zk_session_password`). NULL is a no-op.
///
/// # Safety
///
/// `data`: NULL, or bytes the library handed over to be freed with this function
/// (`zk_get`, `zk_session_password`, `zk_elector_active_data`,
/// `zk_active_node_info_encode`), not freed before. Not bytes lent to a callback.
#[no_mangle]
pub unsafe extern "C" fn zk_free_bytes(data: *mut u8) {
    guard_or((), || {
        if data.is_null() {
            return;
        }
        // SAFETY: not NULL, so a pointer `new_bytes` returned (this function's contract):
        // LEN_PREFIX bytes into its allocation.
        let base = unsafe { data.sub(LEN_PREFIX) };
        // SAFETY: `base` is the start of that allocation, where `new_bytes` wrote the
        // length; the library's bytes before `data` are not the caller's to change.
        let len =
            u64::from_ne_bytes(unsafe { ptr::read_unaligned(base.cast::<[u8; LEN_PREFIX]>()) });
        let total = LEN_PREFIX + len as usize + 1;
        // SAFETY: `new_bytes` leaked exactly this `Box<[u8]>`: the length, the data and a
        // NUL, `total` bytes from `base`; not freed before (contract).
        drop(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(base, total)) });
    })
}

/// Frees a `zk_strings` and every string in it. NULL is a no-op.
///
/// # Safety
///
/// `list`: NULL, or a list the library handed over to be freed with this function
/// (`zk_get_children`, `zk_get_ephemerals`), not freed before, with `items`, `len` and
/// the length of every string unchanged. Not a list lent to a completion.
#[no_mangle]
pub unsafe extern "C" fn zk_free_strings(list: *mut zk_strings) {
    guard_or((), || {
        if list.is_null() {
            return;
        }
        // SAFETY: not NULL, so the `Box` that `new_strings` leaked, not freed
        // before (this function's contract).
        let list = unsafe { Box::from_raw(list) };
        // SAFETY: `items` and `len` are the `Box<[*mut c_char]>` that `new_strings`
        // leaked, unchanged (contract), and freed only with the list.
        let items = unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(list.items, list.len)) };
        for &s in items.iter() {
            // SAFETY: NULL or from `new_string`, of its original length (contract),
            // freed once: here, with the list.
            unsafe { drop_string(s) };
        }
    })
}

/// Frees a `zk_acl_list` the library returned. NULL is a no-op.
///
/// # Safety
///
/// `list`: NULL, or a list the library handed over to be freed with this function
/// (`zk_get_acl`), not freed before, with `items`, `len` and the length of every
/// string unchanged. Not a list lent to a completion.
#[no_mangle]
pub unsafe extern "C" fn zk_free_acl_list(list: *mut zk_acl_list) {
    guard_or((), || {
        if list.is_null() {
            return;
        }
        // SAFETY: not NULL, so the `Box` that `new_acl_list` leaked, not freed
        // before (this function's contract).
        let list = unsafe { Box::from_raw(list) };
        // SAFETY: `items` and `len` are the `Box<[zk_acl]>` that `new_acl_list`
        // leaked, unchanged (contract), and freed only with the list.
        let items = unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(list.items, list.len)) };
        for a in items.iter() {
            // SAFETY: both strings NULL or from `new_string`, of their original length
            // (contract), freed once: here, with the list.
            unsafe {
                drop_string(a.scheme);
                drop_string(a.id);
            }
        }
    })
}

/// Frees a `zk_client_infos`. NULL is a no-op.
///
/// # Safety
///
/// `list`: NULL, or a list the library handed over to be freed with this function
/// (`zk_whoami`), not freed before, with `items`, `len` and the length of every string
/// unchanged. Not a list lent to a completion.
#[no_mangle]
pub unsafe extern "C" fn zk_free_client_infos(list: *mut zk_client_infos) {
    guard_or((), || {
        if list.is_null() {
            return;
        }
        // SAFETY: not NULL, so the `Box` that `new_client_infos` leaked, not freed
        // before (this function's contract).
        let list = unsafe { Box::from_raw(list) };
        // SAFETY: `items` and `len` are the `Box<[zk_client_info]>` that
        // `new_client_infos` leaked, unchanged (contract), and freed only with the list.
        let items = unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(list.items, list.len)) };
        for i in items.iter() {
            // SAFETY: both strings NULL or from `new_string`, of their original length
            // (contract), freed once: here, with the list.
            unsafe {
                drop_string(i.scheme);
                drop_string(i.user);
            }
        }
    })
}

/// Frees a `zk_op_results`. NULL is a no-op.
///
/// # Safety
///
/// `list`: NULL, or results the library handed over to be freed with this function
/// (`zk_multi`), not freed before, with `items`, `len` and the length of every `path`
/// unchanged. Not results lent to a completion.
#[no_mangle]
pub unsafe extern "C" fn zk_free_op_results(list: *mut zk_op_results) {
    guard_or((), || {
        if list.is_null() {
            return;
        }
        // SAFETY: not NULL, so the `Box` that `new_op_results` leaked, not freed
        // before (this function's contract).
        let list = unsafe { Box::from_raw(list) };
        // SAFETY: `items` and `len` are the `Box<[zk_op_result]>` that `new_op_results`
        // leaked, unchanged (contract), and freed only with the list.
        let items = unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(list.items, list.len)) };
        for r in items.iter() {
            // SAFETY: NULL or from `new_string`, of its original length (contract), freed
            // once: here, with the results.
            unsafe { drop_string(r.path) };
        }
    })
}
