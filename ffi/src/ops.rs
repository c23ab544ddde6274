//! Every operation in a synchronous form (`zk_get`: returns `zk_rc`, writes out-values)
//! and an asynchronous one (`zk_aget`: returns `zk_rc` for the submission, then calls
//! the completion on the dispatch thread). Each converts its arguments, calls the core
//! client and maps the result; nothing else.

use std::ffi::{c_char, c_int, c_void, CString};
use std::ptr;
use std::time::Duration;

use zk_core::client::{Error, Op};
use zk_core::proto::{Acl, CreateMode, ErrorCode, Stat};

use crate::error::*;
use crate::guard::{acl_list, bytes, clear, guard, items, path_arg, put, put_with, text, Ctx};
use crate::handle::{block_on, inner_of, opt_path, zk_handle, Live};
use crate::types::*;
use crate::watches::{arm_once, zk_watcher_fn, OnceKind};

/// Completion with only a result code.
pub type zk_void_completion = Option<unsafe extern "C" fn(rc: zk_rc, ctx: *mut c_void)>;
/// Completion with a Stat (NULL unless rc is ZK_OK).
pub type zk_stat_completion =
    Option<unsafe extern "C" fn(rc: zk_rc, stat: *const zk_stat, ctx: *mut c_void)>;
/// Completion of a create: the created path and its Stat (NULL unless rc is ZK_OK).
pub type zk_create_completion = Option<
    unsafe extern "C" fn(rc: zk_rc, path: *const c_char, stat: *const zk_stat, ctx: *mut c_void),
>;
/// Completion of a get: the data (NUL-terminated, `data_len` not counting it) and Stat.
pub type zk_data_completion = Option<
    unsafe extern "C" fn(
        rc: zk_rc,
        data: *const u8,
        data_len: usize,
        stat: *const zk_stat,
        ctx: *mut c_void,
    ),
>;
/// Completion with a string list (children: with the parent's Stat; ephemerals: stat NULL).
pub type zk_strings_completion = Option<
    unsafe extern "C" fn(
        rc: zk_rc,
        strings: *const zk_strings,
        stat: *const zk_stat,
        ctx: *mut c_void,
    ),
>;
/// Completion of a get ACL.
pub type zk_acl_completion = Option<
    unsafe extern "C" fn(
        rc: zk_rc,
        acl: *const zk_acl_list,
        stat: *const zk_stat,
        ctx: *mut c_void,
    ),
>;
/// Completion of a whoami.
pub type zk_whoami_completion =
    Option<unsafe extern "C" fn(rc: zk_rc, infos: *const zk_client_infos, ctx: *mut c_void)>;
/// Completion of a multi: the results (NULL unless rc is ZK_OK).
pub type zk_multi_completion =
    Option<unsafe extern "C" fn(rc: zk_rc, results: *const zk_op_results, ctx: *mut c_void)>;

type Res<T> = Result<T, Error>;

/// Answers a completion that takes only a list (`zk_amulti`, `zk_awhoami`): `cb` gets the
/// list `new` makes of `result`, lent for the call (see OWNERSHIP) and freed with `free`
/// once it returns, or the error code and NULL.
///
/// # Safety
///
/// `cb` may be called, once, with `ctx` on this thread.
unsafe fn lend_list<T, L>(
    result: Res<Vec<T>>,
    cb: unsafe extern "C" fn(zk_rc, *const L, *mut c_void),
    ctx: Ctx,
    new: fn(&[T]) -> *mut L,
    free: unsafe extern "C" fn(*mut L),
) {
    // SAFETY: calling `cb` with `ctx` is this function's contract. The list comes from
    // `new` and is freed once, after `cb` returned, which only borrowed it.
    unsafe {
        match result {
            Ok(items) => {
                let list = new(&items);
                cb(ZK_OK, list, ctx.get());
                free(list);
            }
            Err(e) => cb(rc(e), ptr::null(), ctx.get()),
        }
    }
}

fn rc(e: Error) -> zk_rc {
    rc_of(&e)
}

// ----- create -----

/// Checks and copies `zk_create`'s arguments; the future creates the node.
///
/// # Safety
///
/// `path`, `data` and `acl` as `zk_create`'s `# Safety` section requires.
unsafe fn create_op(
    zh: *mut zk_handle,
    path: *const c_char,
    data: *const u8,
    data_len: usize,
    acl: *const zk_acl,
    acl_len: usize,
    mode: c_int,
    ttl_ms: i64,
) -> Result<(Live, impl std::future::Future<Output = Res<(String, Stat)>>), zk_rc> {
    let inner = inner_of(zh)?;
    let mode = CreateMode::from_i32(mode).ok_or(ZK_BADARGUMENTS)?;
    // SAFETY: `path`, `data`/`data_len` and `acl`/`acl_len` are as the helpers require
    // (this function's contract); all three are copied before this returns.
    let (path, data, acl) = unsafe {
        (
            path_arg(path, mode.is_sequential())?.to_owned(),
            bytes(data, data_len)?.to_vec(),
            acl_list(acl, acl_len)?,
        )
    };
    let ttl = match (mode, ttl_ms) {
        (CreateMode::PersistentWithTtl | CreateMode::PersistentSequentialWithTtl, t) if t > 0 => {
            Some(Duration::from_millis(t as u64))
        }
        (CreateMode::PersistentWithTtl | CreateMode::PersistentSequentialWithTtl, _) => {
            return Err(ZK_BADARGUMENTS)
        }
        (_, 0) => None,
        _ => return Err(ZK_BADARGUMENTS),
    };
    let client = inner.client.clone();
    let future = async move {
        match ttl {
            Some(ttl) => client.create_ttl(&path, &data, &acl, mode, ttl).await,
            None => client.create(&path, &data, &acl, mode).await,
        }
    };
    Ok((inner, future))
}

/// Creates a node in any of the seven modes (ZK_PERSISTENT ... ZK_PERSISTENT_SEQUENTIAL_WITH_TTL).
/// `acl` NULL with `acl_len` 0 means open (world:anyone, ZK_PERM_ALL). `ttl_ms` must be
/// positive for the TTL modes and 0 otherwise. `path_out` (may be NULL) receives the created
/// path (with any sequence suffix; free with `zk_free_string`); `stat` (may be NULL) its Stat.
///
/// # Safety
///
/// - `path`: NULL or a NUL-terminated string.
/// - `data`: NULL or `data_len` readable bytes (any pointer when `data_len` is 0).
/// - `acl`: NULL, or `acl_len` readable `zk_acl`s (any pointer when `acl_len` is 0),
///   each with `scheme` and `id` NULL or a NUL-terminated string.
/// - `path_out`, `stat`: NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn zk_create(
    zh: *mut zk_handle,
    path: *const c_char,
    data: *const u8,
    data_len: usize,
    acl: *const zk_acl,
    acl_len: usize,
    mode: c_int,
    ttl_ms: i64,
    path_out: *mut *mut c_char,
    stat: *mut zk_stat,
) -> zk_rc {
    guard(|| {
        // SAFETY: `path_out` is NULL or writable (this function's contract).
        unsafe { clear(path_out) };
        // SAFETY: `path`, `data` and `acl` are as `create_op` requires (contract).
        let (_, future) =
            unsafe { create_op(zh, path, data, data_len, acl, acl_len, mode, ttl_ms) }?;
        let (created, st) = block_on(future).map_err(rc)?;
        // SAFETY: `path_out` and `stat` are NULL or writable (contract).
        unsafe {
            put_with(path_out, || new_string(&created));
            put(stat, (&st).into());
        }
        Ok(())
    })
}

/// Asynchronous `zk_create`.
///
/// # Safety
///
/// - `path`: NULL or a NUL-terminated string.
/// - `data`: NULL or `data_len` readable bytes (any pointer when `data_len` is 0).
/// - `acl`: NULL, or `acl_len` readable `zk_acl`s (any pointer when `acl_len` is 0),
///   each with `scheme` and `id` NULL or a NUL-terminated string.
/// - `completion` (may be NULL): callable with `ctx` on the handle's dispatch thread
///   until its one call (see ASYNC CALLS).
#[no_mangle]
pub unsafe extern "C" fn zk_acreate(
    zh: *mut zk_handle,
    path: *const c_char,
    data: *const u8,
    data_len: usize,
    acl: *const zk_acl,
    acl_len: usize,
    mode: c_int,
    ttl_ms: i64,
    completion: zk_create_completion,
    ctx: *mut c_void,
) -> zk_rc {
    guard(|| {
        // SAFETY: `path`, `data` and `acl` are as `create_op` requires (this function's
        // contract).
        let (inner, future) =
            unsafe { create_op(zh, path, data, data_len, acl, acl_len, mode, ttl_ms) }?;
        let ctx = Ctx(ctx);
        inner.submit(future, move |result| {
            let Some(cb) = completion else { return };
            // SAFETY: `zk_acreate`'s caller promised `completion` may be called once with
            // `ctx` on the dispatch thread, where `submit` runs this once; the path and
            // Stat lent to it live until it returns.
            unsafe {
                match result {
                    Ok((created, st)) => {
                        let created = CString::new(created).unwrap_or_default();
                        let st = zk_stat::from(&st);
                        cb(ZK_OK, created.as_ptr(), &st, ctx.get());
                    }
                    Err(e) => cb(rc(e), ptr::null(), ptr::null(), ctx.get()),
                }
            }
        })?;
        Ok(())
    })
}

// ----- delete -----

/// Deletes a node; `version` -1 matches any.
///
/// # Safety
///
/// `path`: NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn zk_delete(zh: *mut zk_handle, path: *const c_char, version: i32) -> zk_rc {
    guard(|| {
        let inner = inner_of(zh)?;
        // SAFETY: `path` is NULL or NUL-terminated, readable during the call (this
        // function's contract), which the `&str` does not outlive.
        let path = unsafe { path_arg(path, false) }?;
        block_on(inner.client.delete(path, version)).map_err(rc)
    })
}

/// Asynchronous `zk_delete`.
///
/// # Safety
///
/// - `path`: NULL or a NUL-terminated string.
/// - `completion` (may be NULL): callable with `ctx` on the handle's dispatch thread
///   until its one call (see ASYNC CALLS).
#[no_mangle]
pub unsafe extern "C" fn zk_adelete(
    zh: *mut zk_handle,
    path: *const c_char,
    version: i32,
    completion: zk_void_completion,
    ctx: *mut c_void,
) -> zk_rc {
    guard(|| {
        let inner = inner_of(zh)?;
        // SAFETY: `path` is NULL or NUL-terminated (this function's contract); copied.
        let path = unsafe { path_arg(path, false) }?.to_owned();
        let client = inner.client.clone();
        // SAFETY: `completion` and `ctx` are as `void_submit` requires (contract).
        unsafe {
            void_submit(
                inner,
                async move { client.delete(&path, version).await },
                completion,
                ctx,
            )
        }?;
        Ok(())
    })
}

/// Submits `future` and calls `completion` with its result code.
///
/// # Safety
///
/// `completion` (if not NULL) may be called once with `ctx` on the handle's dispatch
/// thread (what the async functions' `# Safety` sections require of their caller).
unsafe fn void_submit(
    inner: Live,
    future: impl std::future::Future<Output = Res<()>> + Send + 'static,
    completion: zk_void_completion,
    ctx: *mut c_void,
) -> Result<(), zk_rc> {
    let ctx = Ctx(ctx);
    inner.submit(future, move |result| {
        if let Some(cb) = completion {
            let code = result.err().map_or(ZK_OK, rc);
            // SAFETY: `submit` runs this once, on the dispatch thread, where this
            // function's contract lets `cb` be called with `ctx`.
            unsafe { cb(code, ctx.get()) }
        }
    })
}

// ----- exists -----

/// Checks and copies `zk_exists`'s arguments; the future reads the Stat (and sets the
/// watch).
///
/// # Safety
///
/// `path` and `watcher` as `zk_exists`'s `# Safety` section requires.
unsafe fn exists_op(
    zh: *mut zk_handle,
    path: *const c_char,
    watcher: zk_watcher_fn,
    watcher_ctx: *mut c_void,
) -> Result<(Live, impl std::future::Future<Output = Res<Option<Stat>>>), zk_rc> {
    let inner = inner_of(zh)?;
    // SAFETY: `path` is NULL or NUL-terminated (this function's contract); copied.
    let path = unsafe { path_arg(path, false) }?.to_owned();
    let shared = inner.shared();
    let wctx = Ctx(watcher_ctx);
    let future = async move {
        match watcher {
            None => shared.client.exists(&path).await,
            Some(watcher) => {
                let (stat, watch) = shared.client.exists_watch(&path).await?;
                let kind = if stat.is_some() {
                    OnceKind::Data
                } else {
                    OnceKind::Exist
                };
                // SAFETY: `watcher` may be called with `watcher_ctx` on the dispatch
                // thread until the watch's last call (this function's contract).
                unsafe { arm_once(&shared, path, kind, watcher, wctx, watch) };
                Ok(stat)
            }
        }
    };
    Ok((inner, future))
}

/// Whether a node exists: ZK_OK (and `stat`, may be NULL) or ZK_NONODE. With a
/// `watcher` (may be NULL), leaves a one-shot watch that fires on create, delete or change.
///
/// # Safety
///
/// - `path`: NULL or a NUL-terminated string.
/// - `watcher` (may be NULL): callable with `watcher_ctx` on the handle's dispatch
///   thread until the watch's last call (see WATCHES).
/// - `stat`: NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn zk_exists(
    zh: *mut zk_handle,
    path: *const c_char,
    watcher: zk_watcher_fn,
    watcher_ctx: *mut c_void,
    stat: *mut zk_stat,
) -> zk_rc {
    guard(|| {
        // SAFETY: `path` and `watcher` are as `exists_op` requires (this function's
        // contract).
        let (_, future) = unsafe { exists_op(zh, path, watcher, watcher_ctx) }?;
        match block_on(future).map_err(rc)? {
            Some(st) => {
                // SAFETY: `stat` is NULL or writable (contract).
                unsafe { put(stat, (&st).into()) };
                Ok(())
            }
            None => Err(ZK_NONODE),
        }
    })
}

/// Asynchronous `zk_exists` (rc ZK_NONODE with stat NULL for a missing node).
///
/// # Safety
///
/// - `path`: NULL or a NUL-terminated string.
/// - `watcher` (may be NULL): callable with `watcher_ctx` on the handle's dispatch
///   thread until the watch's last call (see WATCHES).
/// - `completion` (may be NULL): callable with `ctx` on the handle's dispatch thread
///   until its one call (see ASYNC CALLS).
#[no_mangle]
pub unsafe extern "C" fn zk_aexists(
    zh: *mut zk_handle,
    path: *const c_char,
    watcher: zk_watcher_fn,
    watcher_ctx: *mut c_void,
    completion: zk_stat_completion,
    ctx: *mut c_void,
) -> zk_rc {
    guard(|| {
        // SAFETY: `path` and `watcher` are as `exists_op` requires (this function's
        // contract).
        let (inner, future) = unsafe { exists_op(zh, path, watcher, watcher_ctx) }?;
        let future = async move {
            match future.await {
                Ok(Some(stat)) => Ok(stat),
                Ok(None) => Err(Error::Server(ErrorCode::NoNode)),
                Err(e) => Err(e),
            }
        };
        // SAFETY: `completion` and `ctx` are as `stat_submit` requires (contract).
        unsafe { stat_submit(inner, future, completion, ctx) }?;
        Ok(())
    })
}

/// Submits `future` and calls `completion` with its Stat.
///
/// # Safety
///
/// As for [`void_submit`].
unsafe fn stat_submit(
    inner: Live,
    future: impl std::future::Future<Output = Res<Stat>> + Send + 'static,
    completion: zk_stat_completion,
    ctx: *mut c_void,
) -> Result<(), zk_rc> {
    let ctx = Ctx(ctx);
    inner.submit(future, move |result| {
        let Some(cb) = completion else { return };
        // SAFETY: `submit` runs this once, on the dispatch thread, where this function's
        // contract lets `cb` be called with `ctx`; the Stat lent to it outlives the call.
        unsafe {
            match result {
                Ok(st) => cb(ZK_OK, &zk_stat::from(&st), ctx.get()),
                Err(e) => cb(rc(e), ptr::null(), ctx.get()),
            }
        }
    })
}

// ----- get -----

/// Checks and copies `zk_get`'s arguments; the future reads the data (and sets the
/// watch).
///
/// # Safety
///
/// `path` and `watcher` as `zk_get`'s `# Safety` section requires.
unsafe fn get_op(
    zh: *mut zk_handle,
    path: *const c_char,
    watcher: zk_watcher_fn,
    watcher_ctx: *mut c_void,
) -> Result<
    (
        Live,
        impl std::future::Future<Output = Res<(Vec<u8>, Stat)>>,
    ),
    zk_rc,
> {
    let inner = inner_of(zh)?;
    // SAFETY: `path` is NULL or NUL-terminated (this function's contract); copied.
    let path = unsafe { path_arg(path, false) }?.to_owned();
    let shared = inner.shared();
    let wctx = Ctx(watcher_ctx);
    let future = async move {
        match watcher {
            None => shared.client.get_data(&path).await,
            Some(watcher) => {
                let (data, stat, watch) = shared.client.get_data_watch(&path).await?;
                // SAFETY: `watcher` may be called with `watcher_ctx` on the dispatch
                // thread until the watch's last call (this function's contract).
                unsafe { arm_once(&shared, path, OnceKind::Data, watcher, wctx, watch) };
                Ok((data, stat))
            }
        }
    };
    Ok((inner, future))
}

/// Reads a node's data. `data` receives a library-allocated copy (NUL-terminated for
/// convenience; `data_len` excludes the NUL; free with `zk_free_bytes`). With a
/// `watcher`, leaves a one-shot data watch.
///
/// # Safety
///
/// - `path`: NULL or a NUL-terminated string.
/// - `watcher` (may be NULL): callable with `watcher_ctx` on the handle's dispatch
///   thread until the watch's last call (see WATCHES).
/// - `data`, `data_len`, `stat`: NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn zk_get(
    zh: *mut zk_handle,
    path: *const c_char,
    watcher: zk_watcher_fn,
    watcher_ctx: *mut c_void,
    data: *mut *mut u8,
    data_len: *mut usize,
    stat: *mut zk_stat,
) -> zk_rc {
    guard(|| {
        // SAFETY: `data` and `data_len` are NULL or writable (this function's contract).
        unsafe {
            clear(data);
            put(data_len, 0);
        }
        // SAFETY: `path` and `watcher` are as `get_op` requires (contract).
        let (_, future) = unsafe { get_op(zh, path, watcher, watcher_ctx) }?;
        let (value, st) = block_on(future).map_err(rc)?;
        // SAFETY: `data`, `data_len` and `stat` are NULL or writable (contract).
        unsafe {
            put_with(data, || new_bytes(&value));
            put(data_len, value.len());
            put(stat, (&st).into());
        }
        Ok(())
    })
}

/// Asynchronous `zk_get`.
///
/// # Safety
///
/// - `path`: NULL or a NUL-terminated string.
/// - `watcher` (may be NULL): callable with `watcher_ctx` on the handle's dispatch
///   thread until the watch's last call (see WATCHES).
/// - `completion` (may be NULL): callable with `ctx` on the handle's dispatch thread
///   until its one call (see ASYNC CALLS).
#[no_mangle]
pub unsafe extern "C" fn zk_aget(
    zh: *mut zk_handle,
    path: *const c_char,
    watcher: zk_watcher_fn,
    watcher_ctx: *mut c_void,
    completion: zk_data_completion,
    ctx: *mut c_void,
) -> zk_rc {
    guard(|| {
        // SAFETY: `path` and `watcher` are as `get_op` requires (this function's
        // contract).
        let (inner, future) = unsafe { get_op(zh, path, watcher, watcher_ctx) }?;
        let ctx = Ctx(ctx);
        inner.submit(future, move |result| {
            let Some(cb) = completion else { return };
            // SAFETY: `zk_aget`'s caller promised `completion` may be called once with
            // `ctx` on the dispatch thread, where `submit` runs this once; the data and
            // Stat lent to it live until it returns.
            unsafe {
                match result {
                    Ok((mut value, st)) => {
                        let len = value.len();
                        value.push(0);
                        cb(ZK_OK, value.as_ptr(), len, &zk_stat::from(&st), ctx.get());
                    }
                    Err(e) => cb(rc(e), ptr::null(), 0, ptr::null(), ctx.get()),
                }
            }
        })?;
        Ok(())
    })
}

// ----- set -----

/// Checks and copies `zk_set`'s arguments; the future sets the data.
///
/// # Safety
///
/// `path` and `data` as `zk_set`'s `# Safety` section requires.
unsafe fn set_op(
    zh: *mut zk_handle,
    path: *const c_char,
    data: *const u8,
    data_len: usize,
    version: i32,
) -> Result<(Live, impl std::future::Future<Output = Res<Stat>>), zk_rc> {
    let inner = inner_of(zh)?;
    // SAFETY: `path` and `data`/`data_len` are as the helpers require (this function's
    // contract); both are copied before this returns.
    let (path, data) = unsafe {
        (
            path_arg(path, false)?.to_owned(),
            bytes(data, data_len)?.to_vec(),
        )
    };
    let client = inner.client.clone();
    Ok((inner, async move {
        client.set_data(&path, &data, version).await
    }))
}

/// Sets a node's data if its version matches (`version` -1 matches any).
///
/// # Safety
///
/// - `path`: NULL or a NUL-terminated string.
/// - `data`: NULL or `data_len` readable bytes (any pointer when `data_len` is 0).
/// - `stat`: NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn zk_set(
    zh: *mut zk_handle,
    path: *const c_char,
    data: *const u8,
    data_len: usize,
    version: i32,
    stat: *mut zk_stat,
) -> zk_rc {
    guard(|| {
        // SAFETY: `path` and `data` are as `set_op` requires (this function's contract).
        let (_, future) = unsafe { set_op(zh, path, data, data_len, version) }?;
        let st = block_on(future).map_err(rc)?;
        // SAFETY: `stat` is NULL or writable (contract).
        unsafe { put(stat, (&st).into()) };
        Ok(())
    })
}

/// Asynchronous `zk_set`.
///
/// # Safety
///
/// - `path`: NULL or a NUL-terminated string.
/// - `data`: NULL or `data_len` readable bytes (any pointer when `data_len` is 0).
/// - `completion` (may be NULL): callable with `ctx` on the handle's dispatch thread
///   until its one call (see ASYNC CALLS).
#[no_mangle]
pub unsafe extern "C" fn zk_aset(
    zh: *mut zk_handle,
    path: *const c_char,
    data: *const u8,
    data_len: usize,
    version: i32,
    completion: zk_stat_completion,
    ctx: *mut c_void,
) -> zk_rc {
    guard(|| {
        // SAFETY: `path` and `data` are as `set_op` requires (this function's contract).
        let (inner, future) = unsafe { set_op(zh, path, data, data_len, version) }?;
        // SAFETY: `completion` and `ctx` are as `stat_submit` requires (contract).
        unsafe { stat_submit(inner, future, completion, ctx) }?;
        Ok(())
    })
}

// ----- ACLs -----

/// Reads a node's ACL (`acl`: free with `zk_free_acl_list`).
///
/// # Safety
///
/// - `path`: NULL or a NUL-terminated string.
/// - `acl`, `stat`: NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn zk_get_acl(
    zh: *mut zk_handle,
    path: *const c_char,
    acl: *mut *mut zk_acl_list,
    stat: *mut zk_stat,
) -> zk_rc {
    guard(|| {
        // SAFETY: `acl` is NULL or writable (this function's contract).
        unsafe { clear(acl) };
        let inner = inner_of(zh)?;
        // SAFETY: `path` is NULL or NUL-terminated, readable during the call (contract),
        // which the `&str` does not outlive.
        let path = unsafe { path_arg(path, false) }?;
        let (list, st) = block_on(inner.client.get_acl(path)).map_err(rc)?;
        // SAFETY: `acl` and `stat` are NULL or writable (contract).
        unsafe {
            put_with(acl, || new_acl_list(&list));
            put(stat, (&st).into());
        }
        Ok(())
    })
}

/// Asynchronous `zk_get_acl`.
///
/// # Safety
///
/// - `path`: NULL or a NUL-terminated string.
/// - `completion` (may be NULL): callable with `ctx` on the handle's dispatch thread
///   until its one call (see ASYNC CALLS).
#[no_mangle]
pub unsafe extern "C" fn zk_aget_acl(
    zh: *mut zk_handle,
    path: *const c_char,
    completion: zk_acl_completion,
    ctx: *mut c_void,
) -> zk_rc {
    guard(|| {
        let inner = inner_of(zh)?;
        // SAFETY: `path` is NULL or NUL-terminated (this function's contract); copied.
        let path = unsafe { path_arg(path, false) }?.to_owned();
        let client = inner.client.clone();
        let ctx = Ctx(ctx);
        inner.submit(async move { client.get_acl(&path).await }, move |result| {
            let Some(cb) = completion else { return };
            // SAFETY: `zk_aget_acl`'s caller promised `completion` may be called once
            // with `ctx` on the dispatch thread, where `submit` runs this once. The list
            // is only lent to it (see OWNERSHIP), so it is ours to free when it returns:
            // from `new_acl_list`, freed once.
            unsafe {
                match result {
                    Ok((list, st)) => {
                        let list = new_acl_list(&list);
                        cb(ZK_OK, list, &zk_stat::from(&st), ctx.get());
                        zk_free_acl_list(list);
                    }
                    Err(e) => cb(rc(e), ptr::null(), ptr::null(), ctx.get()),
                }
            }
        })?;
        Ok(())
    })
}

/// Checks and copies `zk_set_acl`'s arguments; the future sets the ACL.
///
/// # Safety
///
/// `path` and `acl` as `zk_set_acl`'s `# Safety` section requires.
unsafe fn set_acl_op(
    zh: *mut zk_handle,
    path: *const c_char,
    acl: *const zk_acl,
    acl_len: usize,
    version: i32,
) -> Result<(Live, impl std::future::Future<Output = Res<Stat>>), zk_rc> {
    let inner = inner_of(zh)?;
    // SAFETY: `path` is NULL or NUL-terminated (this function's contract); copied.
    let path = unsafe { path_arg(path, false) }?.to_owned();
    if acl.is_null() {
        return Err(ZK_BADARGUMENTS);
    }
    // SAFETY: `acl`/`acl_len` and the entries' strings are as `acl_list` requires
    // (contract); it copies them.
    let acl: Vec<Acl> = unsafe { acl_list(acl, acl_len) }?;
    let client = inner.client.clone();
    Ok((
        inner,
        async move { client.set_acl(&path, &acl, version).await },
    ))
}

/// Replaces a node's ACL if its ACL version matches (`version` -1 matches any).
///
/// # Safety
///
/// - `path`: NULL or a NUL-terminated string.
/// - `acl`: NULL (ZK_BADARGUMENTS), or `acl_len` readable `zk_acl`s (any pointer when
///   `acl_len` is 0), each with `scheme` and `id` NULL or a NUL-terminated string.
/// - `stat`: NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn zk_set_acl(
    zh: *mut zk_handle,
    path: *const c_char,
    acl: *const zk_acl,
    acl_len: usize,
    version: i32,
    stat: *mut zk_stat,
) -> zk_rc {
    guard(|| {
        // SAFETY: `path` and `acl` are as `set_acl_op` requires (this function's
        // contract).
        let (_, future) = unsafe { set_acl_op(zh, path, acl, acl_len, version) }?;
        let st = block_on(future).map_err(rc)?;
        // SAFETY: `stat` is NULL or writable (contract).
        unsafe { put(stat, (&st).into()) };
        Ok(())
    })
}

/// Asynchronous `zk_set_acl`.
///
/// # Safety
///
/// - `path`: NULL or a NUL-terminated string.
/// - `acl`: NULL (ZK_BADARGUMENTS), or `acl_len` readable `zk_acl`s (any pointer when
///   `acl_len` is 0), each with `scheme` and `id` NULL or a NUL-terminated string.
/// - `completion` (may be NULL): callable with `ctx` on the handle's dispatch thread
///   until its one call (see ASYNC CALLS).
#[no_mangle]
pub unsafe extern "C" fn zk_aset_acl(
    zh: *mut zk_handle,
    path: *const c_char,
    acl: *const zk_acl,
    acl_len: usize,
    version: i32,
    completion: zk_stat_completion,
    ctx: *mut c_void,
) -> zk_rc {
    guard(|| {
        // SAFETY: `path` and `acl` are as `set_acl_op` requires (this function's
        // contract).
        let (inner, future) = unsafe { set_acl_op(zh, path, acl, acl_len, version) }?;
        // SAFETY: `completion` and `ctx` are as `stat_submit` requires (contract).
        unsafe { stat_submit(inner, future, completion, ctx) }?;
        Ok(())
    })
}

// ----- children -----

/// Checks and copies `zk_get_children`'s arguments; the future lists the children (and
/// sets the watch).
///
/// # Safety
///
/// `path` and `watcher` as `zk_get_children`'s `# Safety` section requires.
unsafe fn children_op(
    zh: *mut zk_handle,
    path: *const c_char,
    watcher: zk_watcher_fn,
    watcher_ctx: *mut c_void,
) -> Result<
    (
        Live,
        impl std::future::Future<Output = Res<(Vec<String>, Stat)>>,
    ),
    zk_rc,
> {
    let inner = inner_of(zh)?;
    // SAFETY: `path` is NULL or NUL-terminated (this function's contract); copied.
    let path = unsafe { path_arg(path, false) }?.to_owned();
    let shared = inner.shared();
    let wctx = Ctx(watcher_ctx);
    let future = async move {
        match watcher {
            None => shared.client.get_children2(&path).await,
            Some(watcher) => {
                let (children, stat, watch) = shared.client.get_children_watch(&path).await?;
                // SAFETY: `watcher` may be called with `watcher_ctx` on the dispatch
                // thread until the watch's last call (this function's contract).
                unsafe { arm_once(&shared, path, OnceKind::Child, watcher, wctx, watch) };
                Ok((children, stat))
            }
        }
    };
    Ok((inner, future))
}

/// Lists a node's children (`children`: free with `zk_free_strings`) with the node's
/// Stat. With a `watcher`, leaves a one-shot children watch.
///
/// # Safety
///
/// - `path`: NULL or a NUL-terminated string.
/// - `watcher` (may be NULL): callable with `watcher_ctx` on the handle's dispatch
///   thread until the watch's last call (see WATCHES).
/// - `children`, `stat`: NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn zk_get_children(
    zh: *mut zk_handle,
    path: *const c_char,
    watcher: zk_watcher_fn,
    watcher_ctx: *mut c_void,
    children: *mut *mut zk_strings,
    stat: *mut zk_stat,
) -> zk_rc {
    guard(|| {
        // SAFETY: `children` is NULL or writable (this function's contract).
        unsafe { clear(children) };
        // SAFETY: `path` and `watcher` are as `children_op` requires (contract).
        let (_, future) = unsafe { children_op(zh, path, watcher, watcher_ctx) }?;
        let (list, st) = block_on(future).map_err(rc)?;
        // SAFETY: `children` and `stat` are NULL or writable (contract).
        unsafe {
            put_with(children, || new_strings(&list));
            put(stat, (&st).into());
        }
        Ok(())
    })
}

/// Asynchronous `zk_get_children`.
///
/// # Safety
///
/// - `path`: NULL or a NUL-terminated string.
/// - `watcher` (may be NULL): callable with `watcher_ctx` on the handle's dispatch
///   thread until the watch's last call (see WATCHES).
/// - `completion` (may be NULL): callable with `ctx` on the handle's dispatch thread
///   until its one call (see ASYNC CALLS).
#[no_mangle]
pub unsafe extern "C" fn zk_aget_children(
    zh: *mut zk_handle,
    path: *const c_char,
    watcher: zk_watcher_fn,
    watcher_ctx: *mut c_void,
    completion: zk_strings_completion,
    ctx: *mut c_void,
) -> zk_rc {
    guard(|| {
        // SAFETY: `path` and `watcher` are as `children_op` requires (this function's
        // contract).
        let (inner, future) = unsafe { children_op(zh, path, watcher, watcher_ctx) }?;
        let future = async move { future.await.map(|(list, st)| (list, Some(st))) };
        // SAFETY: `completion` and `ctx` are as `strings_submit` requires (contract).
        unsafe { strings_submit(inner, future, completion, ctx) }?;
        Ok(())
    })
}

/// Submits `future` and calls `completion` with its list (and Stat, if any).
///
/// # Safety
///
/// As for [`void_submit`].
unsafe fn strings_submit(
    inner: Live,
    future: impl std::future::Future<Output = Res<(Vec<String>, Option<Stat>)>> + Send + 'static,
    completion: zk_strings_completion,
    ctx: *mut c_void,
) -> Result<(), zk_rc> {
    let ctx = Ctx(ctx);
    inner.submit(future, move |result| {
        let Some(cb) = completion else { return };
        // SAFETY: `submit` runs this once, on the dispatch thread, where this function's
        // contract lets `cb` be called with `ctx`. The list is only lent to it (see
        // OWNERSHIP), so it is ours to free when it returns: from `new_strings`, freed
        // once.
        unsafe {
            match result {
                Ok((list, st)) => {
                    let list = new_strings(&list);
                    let st = st.as_ref().map(zk_stat::from);
                    let st_ptr = st.as_ref().map_or(ptr::null(), |s| s as *const zk_stat);
                    cb(ZK_OK, list, st_ptr, ctx.get());
                    zk_free_strings(list);
                }
                Err(e) => cb(rc(e), ptr::null(), ptr::null(), ctx.get()),
            }
        }
    })
}

// ----- sync -----

/// Waits until the connected server has caught up with the leader (for `path`).
///
/// # Safety
///
/// `path`: NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn zk_sync(zh: *mut zk_handle, path: *const c_char) -> zk_rc {
    guard(|| {
        let inner = inner_of(zh)?;
        // SAFETY: `path` is NULL or NUL-terminated, readable during the call (this
        // function's contract), which the `&str` does not outlive.
        let path = unsafe { path_arg(path, false) }?;
        block_on(inner.client.sync(path)).map_err(rc)
    })
}

/// Asynchronous `zk_sync`.
///
/// # Safety
///
/// - `path`: NULL or a NUL-terminated string.
/// - `completion` (may be NULL): callable with `ctx` on the handle's dispatch thread
///   until its one call (see ASYNC CALLS).
#[no_mangle]
pub unsafe extern "C" fn zk_async(
    zh: *mut zk_handle,
    path: *const c_char,
    completion: zk_void_completion,
    ctx: *mut c_void,
) -> zk_rc {
    guard(|| {
        let inner = inner_of(zh)?;
        // SAFETY: `path` is NULL or NUL-terminated (this function's contract); copied.
        let path = unsafe { path_arg(path, false) }?.to_owned();
        let client = inner.client.clone();
        // SAFETY: `completion` and `ctx` are as `void_submit` requires (contract).
        unsafe {
            void_submit(
                inner,
                async move { client.sync(&path).await },
                completion,
                ctx,
            )
        }?;
        Ok(())
    })
}

// ----- multi -----

/// The caller's ops as the core's (each copies what it borrows).
///
/// # Safety
///
/// `ops` and every op's pointers as `zk_multi`'s `# Safety` section requires, read during
/// the call only.
unsafe fn multi_ops(ops: *const zk_op, count: usize) -> Result<Vec<Op>, zk_rc> {
    // SAFETY: `ops`/`count` is NULL or `count` readable `zk_op`s (this function's
    // contract); the slice is dropped before this returns.
    let list = unsafe { items(ops, count) }?;
    let mut out = Vec::with_capacity(list.len());
    for op in list {
        let sequential = op.r#type == ZK_OP_CREATE
            && CreateMode::from_i32(op.mode).is_some_and(CreateMode::is_sequential);
        // SAFETY: each op's `path` is NULL or NUL-terminated (contract); the `Op`s copy
        // what they borrow.
        let path = unsafe { path_arg(op.path, sequential) }?;
        out.push(match op.r#type {
            ZK_OP_CREATE => {
                // SAFETY: a create's `data`/`data_len` and `acl`/`acl_len` are as the
                // helpers require (contract); copied by `Op::create*`.
                let (data, acl) =
                    unsafe { (bytes(op.data, op.data_len)?, acl_list(op.acl, op.acl_len)?) };
                let mode = CreateMode::from_i32(op.mode).ok_or(ZK_BADARGUMENTS)?;
                let ttl_mode = matches!(
                    mode,
                    CreateMode::PersistentWithTtl | CreateMode::PersistentSequentialWithTtl
                );
                match (ttl_mode, op.ttl_ms) {
                    (true, t) if t > 0 => Op::create_ttl(path, data, &acl, mode, t),
                    (false, 0) => Op::create(path, data, &acl, mode),
                    _ => return Err(ZK_BADARGUMENTS),
                }
            }
            ZK_OP_DELETE => Op::delete(path, op.version),
            ZK_OP_SET_DATA => {
                // SAFETY: a set-data's `data`/`data_len` is a readable buffer (contract);
                // copied by `Op::set_data`.
                let data = unsafe { bytes(op.data, op.data_len) }?;
                Op::set_data(path, data, op.version)
            }
            ZK_OP_CHECK => Op::check(path, op.version),
            _ => return Err(ZK_BADARGUMENTS),
        });
    }
    Ok(out)
}

/// Applies `count` ops atomically: all or none. On failure rc is the failing op's code.
/// `results` (may be NULL) receives one result per op; free with `zk_free_op_results`.
///
/// # Safety
///
/// - `ops`: NULL (ZK_BADARGUMENTS unless `count` is 0), or `count` readable `zk_op`s
///   (any pointer when `count` is 0). In each, `path` NULL or a NUL-terminated string;
///   for ZK_OP_CREATE and ZK_OP_SET_DATA, `data` NULL or `data_len` readable bytes; for
///   ZK_OP_CREATE, `acl` as for `zk_create`.
/// - `results`: NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn zk_multi(
    zh: *mut zk_handle,
    ops: *const zk_op,
    count: usize,
    results: *mut *mut zk_op_results,
) -> zk_rc {
    guard(|| {
        // SAFETY: `results` is NULL or writable (this function's contract).
        unsafe { clear(results) };
        let inner = inner_of(zh)?;
        // SAFETY: `ops` and its ops' pointers are as `multi_ops` requires (contract).
        let ops = unsafe { multi_ops(ops, count) }?;
        let list = block_on(inner.client.multi(ops)).map_err(rc)?;
        // SAFETY: `results` is NULL or writable (contract).
        unsafe { put_with(results, || new_op_results(&list)) };
        Ok(())
    })
}

/// Asynchronous `zk_multi`.
///
/// # Safety
///
/// - `ops`: NULL (ZK_BADARGUMENTS unless `count` is 0), or `count` readable `zk_op`s
///   (any pointer when `count` is 0). In each, `path` NULL or a NUL-terminated string;
///   for ZK_OP_CREATE and ZK_OP_SET_DATA, `data` NULL or `data_len` readable bytes; for
///   ZK_OP_CREATE, `acl` as for `zk_create`.
/// - `completion` (may be NULL): callable with `ctx` on the handle's dispatch thread
///   until its one call (see ASYNC CALLS).
#[no_mangle]
pub unsafe extern "C" fn zk_amulti(
    zh: *mut zk_handle,
    ops: *const zk_op,
    count: usize,
    completion: zk_multi_completion,
    ctx: *mut c_void,
) -> zk_rc {
    guard(|| {
        let inner = inner_of(zh)?;
        // SAFETY: `ops` and its ops' pointers are as `multi_ops` requires (this
        // function's contract); the ops are copied.
        let ops = unsafe { multi_ops(ops, count) }?;
        let client = inner.client.clone();
        let ctx = Ctx(ctx);
        inner.submit(async move { client.multi(ops).await }, move |result| {
            let Some(cb) = completion else { return };
            // SAFETY: `zk_amulti`'s caller promised `completion` may be called once with
            // `ctx` on the dispatch thread, where `submit` runs this once.
            unsafe { lend_list(result, cb, ctx, new_op_results, zk_free_op_results) }
        })?;
        Ok(())
    })
}

// ----- auth, ephemerals, whoami -----

/// Adds credentials (`scheme` "digest", `cert` "user:password") to the session; they
/// are sent again after every reconnect. ZK_AUTHFAILED if the server refuses them.
///
/// # Safety
///
/// - `scheme`: NULL or a NUL-terminated string.
/// - `cert`: NULL or `cert_len` readable bytes (any pointer when `cert_len` is 0).
#[no_mangle]
pub unsafe extern "C" fn zk_add_auth(
    zh: *mut zk_handle,
    scheme: *const c_char,
    cert: *const u8,
    cert_len: usize,
) -> zk_rc {
    guard(|| {
        let inner = inner_of(zh)?;
        // SAFETY: `scheme` is NULL or NUL-terminated and `cert`/`cert_len` a readable
        // buffer, both during the call (this function's contract), which the borrows do
        // not outlive.
        let (scheme, cert) = unsafe { (text(scheme)?, bytes(cert, cert_len)?) };
        block_on(inner.client.add_auth(scheme, cert)).map_err(rc)
    })
}

/// Asynchronous `zk_add_auth`.
///
/// # Safety
///
/// - `scheme`: NULL or a NUL-terminated string.
/// - `cert`: NULL or `cert_len` readable bytes (any pointer when `cert_len` is 0).
/// - `completion` (may be NULL): callable with `ctx` on the handle's dispatch thread
///   until its one call (see ASYNC CALLS).
#[no_mangle]
pub unsafe extern "C" fn zk_aadd_auth(
    zh: *mut zk_handle,
    scheme: *const c_char,
    cert: *const u8,
    cert_len: usize,
    completion: zk_void_completion,
    ctx: *mut c_void,
) -> zk_rc {
    guard(|| {
        let inner = inner_of(zh)?;
        // SAFETY: `scheme` is NULL or NUL-terminated and `cert`/`cert_len` a readable
        // buffer (this function's contract); both are copied.
        let (scheme, cert) = unsafe { (text(scheme)?.to_owned(), bytes(cert, cert_len)?.to_vec()) };
        let client = inner.client.clone();
        // SAFETY: `completion` and `ctx` are as `void_submit` requires (contract).
        unsafe {
            void_submit(
                inner,
                async move { client.add_auth(&scheme, &cert).await },
                completion,
                ctx,
            )
        }?;
        Ok(())
    })
}

/// This session's ephemeral nodes under `prefix` (NULL or "/" for all); free the list
/// with `zk_free_strings`.
///
/// # Safety
///
/// - `prefix`: NULL or a NUL-terminated string.
/// - `paths`: NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn zk_get_ephemerals(
    zh: *mut zk_handle,
    prefix: *const c_char,
    paths: *mut *mut zk_strings,
) -> zk_rc {
    guard(|| {
        // SAFETY: `paths` is NULL or writable (this function's contract).
        unsafe { clear(paths) };
        let inner = inner_of(zh)?;
        // SAFETY: `prefix` is NULL or NUL-terminated (contract); copied.
        let prefix = unsafe { opt_path(prefix) }?;
        let list = block_on(inner.client.get_ephemerals(&prefix)).map_err(rc)?;
        // SAFETY: `paths` is NULL or writable (contract).
        unsafe { put_with(paths, || new_strings(&list)) };
        Ok(())
    })
}

/// Asynchronous `zk_get_ephemerals` (stat is NULL in the completion).
///
/// # Safety
///
/// - `prefix`: NULL or a NUL-terminated string.
/// - `completion` (may be NULL): callable with `ctx` on the handle's dispatch thread
///   until its one call (see ASYNC CALLS).
#[no_mangle]
pub unsafe extern "C" fn zk_aget_ephemerals(
    zh: *mut zk_handle,
    prefix: *const c_char,
    completion: zk_strings_completion,
    ctx: *mut c_void,
) -> zk_rc {
    guard(|| {
        let inner = inner_of(zh)?;
        // SAFETY: `prefix` is NULL or NUL-terminated (this function's contract); copied.
        let prefix = unsafe { opt_path(prefix) }?;
        let client = inner.client.clone();
        let future = async move { client.get_ephemerals(&prefix).await.map(|l| (l, None)) };
        // SAFETY: `completion` and `ctx` are as `strings_submit` requires (contract).
        unsafe { strings_submit(inner, future, completion, ctx) }?;
        Ok(())
    })
}

/// The identities the server associates with this session (`infos`: free with
/// `zk_free_client_infos`).
///
/// # Safety
///
/// `infos`: NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn zk_whoami(zh: *mut zk_handle, infos: *mut *mut zk_client_infos) -> zk_rc {
    guard(|| {
        // SAFETY: `infos` is NULL or writable (this function's contract).
        unsafe { clear(infos) };
        let inner = inner_of(zh)?;
        let list = block_on(inner.client.who_am_i()).map_err(rc)?;
        // SAFETY: as above.
        unsafe { put_with(infos, || new_client_infos(&list)) };
        Ok(())
    })
}

/// Asynchronous `zk_whoami`.
///
/// # Safety
///
/// `completion` (may be NULL): callable with `ctx` on the handle's dispatch thread
/// until its one call (see ASYNC CALLS).
#[no_mangle]
pub unsafe extern "C" fn zk_awhoami(
    zh: *mut zk_handle,
    completion: zk_whoami_completion,
    ctx: *mut c_void,
) -> zk_rc {
    guard(|| {
        let inner = inner_of(zh)?;
        let client = inner.client.clone();
        let ctx = Ctx(ctx);
        inner.submit(async move { client.who_am_i().await }, move |result| {
            let Some(cb) = completion else { return };
            // SAFETY: `zk_awhoami`'s caller promised `completion` may be called once with
            // `ctx` on the dispatch thread, where `submit` runs this once.
            unsafe { lend_list(result, cb, ctx, new_client_infos, zk_free_client_infos) }
        })?;
        Ok(())
    })
}
