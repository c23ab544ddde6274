//! `zk_elector`: Hadoop's active/standby elector (`zk_core::recipes::elector`) for HA
//! failover controllers written in C, and Hadoop's `ActiveNodeInfo` protobuf
//! (`zk_active_node_info_*`) that HDFS controllers store in the lock and breadcrumb.
//!
//! An elector owns its ZooKeeper sessions (it opens a new one after an expiry, as Hadoop's
//! does), so it is opened from a connect string like a `zk_handle`, and it has its own
//! dispatch thread: its callbacks run there, in order, one at a time, never on the
//! library's IO threads.

use std::ffi::{c_char, c_int, c_void, CString};
use std::mem::{offset_of, size_of};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use zk_core::client::dispatch::Dispatcher;
use zk_core::client::runtime;
use zk_core::recipes::elector::{
    ActiveNodeInfo, ActiveStandbyElector, ElectorCallbacks, ElectorConfig, ElectorState,
};

use crate::error::*;
use crate::guard::{
    acl_list, bytes, guard, guard_or, opt_text, path_arg, put, required_out, text, Ctx,
};
use crate::handle::{block_on, client_options, zk_options};
use crate::registry::Registry;
use crate::types::{new_bytes, new_string, zk_acl};

/// An elector (opaque): `zk_elector_open` ... `zk_elector_close`.
pub struct zk_elector {
    _opaque: [u8; 0],
}

/// Elector states (`zk_elector_state`), Hadoop's `ActiveStandbyElector.State`.
pub const ZK_ELECTOR_INIT: c_int = 0;
pub const ZK_ELECTOR_ACTIVE: c_int = 1;
pub const ZK_ELECTOR_STANDBY: c_int = 2;
pub const ZK_ELECTOR_NEUTRAL: c_int = 3;

/// What `zk_elector_open` needs besides the connection. Start from
/// `ZK_ELECTOR_CONFIG_INIT` (sets `size`; every other field 0 means "the default" or
/// "none"), as with `zk_options`: fields are only ever added at the end.
///
/// The callbacks run on the elector's dispatch thread with `ctx`. Those returning `int`
/// return non-zero for "done" and 0 for "failed":
///
/// - `become_active` (required): make the service active. 0 (Hadoop's
///   ServiceFailedException) makes the elector release the lock, pause 1 s and join again.
/// - `become_standby`: make the service standby. Its result matters only during
///   `zk_elector_cede`: 0 keeps the breadcrumb, so the next active fences this one.
/// - `enter_neutral`: the connection is lost; who is active is unknown. An active
///   should stop acting as one unless it knows its session is alive.
/// - `fence_old_active` (required): the breadcrumb names another instance (`data`, lent
///   for the call; an ActiveNodeInfo from HDFS controllers, see
///   `zk_active_node_info_decode`) that may still act as active: fence it, return non-zero
///   only once it can no longer act. 0 stops this takeover.
/// - `fatal_error`: the elector gave up (retries exhausted, no session, unexpected
///   errors) and left the election; `message` is lent for the call.
///
/// Inside a callback, `zk_elector_join`, `_quit`, `_cede` and `_close` may be called on
/// the same elector: they take effect after the callback returns. The calls that wait
/// for the elector (`_ensure_parent`, `_parent_exists`, `_format`, `_active_data`)
/// return ZK_INVALIDSTATE there, since the elector may be waiting for that callback.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct zk_elector_config {
    /// `sizeof(zk_elector_config)` as the caller compiled it.
    pub size: usize,
    /// The parent znode, `<root>/<nameservice>` (Hadoop: `/hadoop-ha/<nameservice>`).
    pub parent_znode: *const c_char,
    /// The ACL of every node the elector creates; NULL/0: world:anyone:rwcda.
    pub acl: *const zk_acl,
    pub acl_len: usize,
    /// Attempts of an operation failing with ZK_CONNECTIONLOSS or ZK_OPERATIONTIMEOUT,
    /// and of opening a session; 0: Hadoop's 3.
    pub max_retries: c_int,
    /// Credentials sent on every session the elector opens (`auth_scheme` NULL: none),
    /// e.g. "digest" and "user:password".
    pub auth_scheme: *const c_char,
    pub auth: *const u8,
    pub auth_len: usize,
    pub become_active: Option<unsafe extern "C" fn(ctx: *mut c_void) -> c_int>,
    pub become_standby: Option<unsafe extern "C" fn(ctx: *mut c_void) -> c_int>,
    pub enter_neutral: Option<unsafe extern "C" fn(ctx: *mut c_void)>,
    pub fence_old_active:
        Option<unsafe extern "C" fn(data: *const u8, len: usize, ctx: *mut c_void) -> c_int>,
    pub fatal_error: Option<unsafe extern "C" fn(message: *const c_char, ctx: *mut c_void)>,
    pub ctx: *mut c_void,
}

/// Hadoop's `ActiveNodeInfo` (HAZKInfo.proto). Given to `zk_active_node_info_encode`;
/// returned by `zk_active_node_info_decode` (free with `zk_free_active_node_info`).
#[repr(C)]
#[derive(Debug)]
pub struct zk_active_node_info {
    pub nameservice_id: *const c_char,
    pub namenode_id: *const c_char,
    pub hostname: *const c_char,
    pub port: i32,
    pub zkfc_port: i32,
}

struct Elector {
    elector: ActiveStandbyElector,
    dispatcher: Arc<Dispatcher>,
    /// Cleared by `zk_elector_close`: queued callbacks are skipped after it.
    alive: Arc<AtomicBool>,
}

static ELECTORS: Registry<Elector> = Registry::new();

fn elector_of(e: *mut zk_elector) -> Result<Arc<Elector>, zk_rc> {
    ELECTORS.get(e).ok_or(ZK_BADARGUMENTS)
}

/// The largest `size` taken for a `zk_elector_config` from a newer zk.h.
const MAX_CONFIG_SIZE: usize = 4096;

impl zk_elector_config {
    /// The caller's config as this library knows it: the fields within `size` bytes,
    /// the rest zero; a larger struct must be zero beyond ours.
    ///
    /// # Safety
    ///
    /// `from` is NULL or misaligned (ZK_BADARGUMENTS), or valid for reads of its `size`
    /// field and, when that is at most `MAX_CONFIG_SIZE`, of `size` bytes.
    unsafe fn read(from: *const zk_elector_config) -> Result<zk_elector_config, zk_rc> {
        if from.is_null() || !from.is_aligned() {
            return Err(ZK_BADARGUMENTS);
        }
        // SAFETY: not NULL and aligned (checked above); `size` is the first field, which
        // the contract makes readable.
        let size = unsafe { from.cast::<usize>().read() };
        let ours = size_of::<zk_elector_config>();
        let required = offset_of!(zk_elector_config, parent_znode) + size_of::<*const c_char>();
        if !(required..=MAX_CONFIG_SIZE).contains(&size) {
            return Err(ZK_BADARGUMENTS);
        }
        if size > ours {
            // SAFETY: `size` <= MAX_CONFIG_SIZE, so `size` bytes at `from` are readable
            // (contract), and `ours` < `size`: the range `ours..size` lies within them.
            let newer =
                unsafe { std::slice::from_raw_parts(from.cast::<u8>().add(ours), size - ours) };
            if newer.iter().any(|&b| b != 0) {
                return Err(ZK_BADARGUMENTS);
            }
        }
        // SAFETY: every field is an integer, a raw pointer or an Option of a function
        // pointer, for all of which zero is valid (0, NULL, None).
        let mut config: zk_elector_config = unsafe { std::mem::zeroed() };
        let base = from.cast::<u8>();
        let to = (&mut config as *mut zk_elector_config).cast::<u8>();
        macro_rules! take {
            ($($field:ident),*) => {$(
                let offset = offset_of!(zk_elector_config, $field);
                let len = std::mem::size_of_val(&config.$field);
                if offset + len <= size {
                    // SAFETY: within the caller's `size` bytes (readable by this
                    // function's contract) and within ours; whole fields only, so no
                    // value is assembled from two halves, and any bits are a valid
                    // integer, raw pointer or (non-zero) function pointer.
                    unsafe {
                        std::ptr::copy_nonoverlapping(base.add(offset), to.add(offset), len)
                    };
                }
            )*};
        }
        take!(
            size,
            parent_znode,
            acl,
            acl_len,
            max_retries,
            auth_scheme,
            auth,
            auth_len,
            become_active,
            become_standby,
            enter_neutral,
            fence_old_active,
            fatal_error,
            ctx
        );
        Ok(config)
    }
}

/// The caller's callbacks, skipped once the elector is closed. Built only by
/// `zk_elector_open`, whose caller guarantees that each callback in `config` may be
/// called with `ctx` on the elector's dispatch thread until `zk_elector_close` (which
/// clears `alive`) has returned; the elector calls them only there.
struct CallbacksOf {
    config: zk_elector_config,
    ctx: Ctx,
    alive: Arc<AtomicBool>,
}

// SAFETY: the struct holds the caller's function pointers and context, which are handed
// back to the caller's own callbacks only (as every C callback context is), on the
// dispatch thread where `zk_elector_open`'s caller allows it; the other pointers in
// `config` are not used after `zk_elector_open` returns.
unsafe impl Send for CallbacksOf {}
// SAFETY: as for `Send`: `&CallbacksOf` only reads the pointers to make those calls.
unsafe impl Sync for CallbacksOf {}

impl CallbacksOf {
    fn live(&self) -> bool {
        self.alive.load(Ordering::Acquire)
    }
}

impl ElectorCallbacks for CallbacksOf {
    fn become_active(&self) -> bool {
        match self.config.become_active {
            // SAFETY: the caller's callback with its context, on the dispatch thread,
            // while the elector is not closed (see `CallbacksOf`).
            Some(f) if self.live() => unsafe { f(self.ctx.get()) != 0 },
            _ => false,
        }
    }

    fn become_standby(&self) -> bool {
        match self.config.become_standby {
            // SAFETY: as above.
            Some(f) if self.live() => unsafe { f(self.ctx.get()) != 0 },
            _ => self.live(),
        }
    }

    fn enter_neutral(&self) {
        if let Some(f) = self.config.enter_neutral.filter(|_| self.live()) {
            // SAFETY: as above.
            unsafe { f(self.ctx.get()) }
        }
    }

    fn fence_old_active(&self, old_active: &[u8]) -> bool {
        match self.config.fence_old_active {
            // SAFETY: as above; `old_active` outlives the call.
            Some(f) if self.live() => unsafe {
                f(old_active.as_ptr(), old_active.len(), self.ctx.get()) != 0
            },
            _ => false,
        }
    }

    fn fatal_error(&self, message: &str) {
        if let Some(f) = self.config.fatal_error.filter(|_| self.live()) {
            let clean: Vec<u8> = message.bytes().filter(|&b| b != 0).collect();
            let message = CString::new(clean).unwrap_or_default();
            // SAFETY: as above; `message` outlives the call.
            unsafe { f(message.as_ptr(), self.ctx.get()) }
        }
    }
}

/// Opens an elector for the parent znode in `config`, connecting to `hosts`
/// ("host:port,...[/chroot]") with `options` (`ZK_OPTIONS_INIT` and a session timeout;
/// Hadoop's ZKFC uses 10000 ms). Nothing is sent before the first call that needs a
/// session. `config` is read during the call only (its callbacks and `ctx` are kept).
/// Free with `zk_elector_close`.
///
/// # Safety
///
/// - `out`: NULL (ZK_BADARGUMENTS) or writable.
/// - `hosts`: NULL or a NUL-terminated string.
/// - `options`: as for `zk_open_with`.
/// - `config`: NULL, or readable for `config->size` bytes (an older, smaller struct is
///   fine), with `parent_znode` and `auth_scheme` NULL or NUL-terminated strings, `acl`
///   as for `zk_create` (with `acl_len`), and `auth` NULL or `auth_len` readable bytes
///   (any pointer when `auth_len` is 0; read only with an `auth_scheme`).
/// - Each callback in `config`: callable with `config->ctx` on the elector's dispatch
///   thread until `zk_elector_close` has returned.
#[no_mangle]
pub unsafe extern "C" fn zk_elector_open(
    out: *mut *mut zk_elector,
    hosts: *const c_char,
    options: *const zk_options,
    config: *const zk_elector_config,
) -> zk_rc {
    guard(|| {
        // SAFETY: `out` is NULL or writable (this function's contract).
        unsafe { required_out(out) }?;
        // SAFETY: `hosts` is NULL or NUL-terminated, readable during the call (contract),
        // which the `&str` does not outlive (`ElectorConfig::new` copies it).
        let hosts = unsafe { text(hosts) }?;
        // SAFETY: `options` is as `client_options` requires (contract).
        let mut client_options = unsafe { client_options(options) }?;
        // SAFETY: `config` is NULL or readable for its `size` bytes (contract).
        let config = unsafe { zk_elector_config::read(config) }?;
        // SAFETY: `parent_znode` is NULL or NUL-terminated, readable during the call
        // (contract); copied by `ElectorConfig::new`.
        let parent = unsafe { path_arg(config.parent_znode, false) }?;
        if config.become_active.is_none()
            || config.fence_old_active.is_none()
            || config.max_retries < 0
        {
            return Err(ZK_BADARGUMENTS);
        }
        // SAFETY: `auth_scheme` is NULL or NUL-terminated, readable during the call
        // (contract); copied by `auth`.
        if let Some(scheme) = unsafe { opt_text(config.auth_scheme) }? {
            // SAFETY: with an `auth_scheme`, `auth`/`auth_len` is a readable buffer
            // (contract); copied by `auth`.
            let auth = unsafe { bytes(config.auth, config.auth_len) }?;
            client_options = client_options.auth(scheme, auth);
        }
        // SAFETY: `acl`/`acl_len` and the entries' strings are as `acl_list` requires
        // (contract); it copies them.
        let acl = unsafe { acl_list(config.acl, config.acl_len) }?;
        let mut elector_config = ElectorConfig::new(hosts, parent)
            .options(client_options)
            .acl(acl);
        if config.max_retries > 0 {
            elector_config = elector_config.max_retries(config.max_retries as u32);
        }
        let (elector, events) = {
            let rt = runtime::handle();
            let _entered = rt.enter();
            ActiveStandbyElector::new(elector_config).map_err(|e| rc_of(&e))?
        };
        let dispatcher = match Dispatcher::spawn("zk-elector", |run| run()) {
            Ok(dispatcher) => Arc::new(dispatcher),
            Err(_) => {
                drop(elector.close());
                return Err(ZK_SYSTEMERROR);
            }
        };
        let alive = Arc::new(AtomicBool::new(true));
        let callbacks = Arc::new(CallbacksOf {
            config,
            ctx: Ctx(config.ctx),
            alive: alive.clone(),
        });
        {
            let rt = runtime::handle();
            let _entered = rt.enter();
            let target = dispatcher.clone();
            events.deliver(callbacks, move |job| target.dispatch(job));
        }
        let (id, _) = ELECTORS.insert(|_| {
            Arc::new(Elector {
                elector,
                dispatcher,
                alive,
            })
        });
        // SAFETY: `required_out` found `out` neither NULL nor misaligned, so it is
        // writable (contract).
        unsafe { out.write(id) };
        Ok(())
    })
}

/// Joins the election with `data` (stored in the lock, and in the breadcrumb once
/// active; HDFS controllers store an encoded ActiveNodeInfo). Returns at once; the
/// outcome comes through the callbacks. Already in the election: nothing changes.
///
/// # Safety
///
/// `data`: NULL or `len` readable bytes (any pointer when `len` is 0).
#[no_mangle]
pub unsafe extern "C" fn zk_elector_join(e: *mut zk_elector, data: *const u8, len: usize) -> zk_rc {
    guard(|| {
        let e = elector_of(e)?;
        // SAFETY: `data`/`len` is a readable buffer during the call (this function's
        // contract), which the slice does not outlive (`join` copies it).
        let data = unsafe { bytes(data, len) }?;
        e.elector.join(data).map_err(|err| rc_of(&err))
    })
}

/// Leaves the election, releasing the lock. An active leaving with `need_fence` 0 first
/// deletes its breadcrumb (it has stopped acting as active: nobody needs to fence it);
/// with `need_fence` non-zero the breadcrumb stays and the next active fences it.
/// From outside a callback this returns once done; from inside one it returns at once
/// and takes effect after the callback returns.
///
/// # Safety
///
/// None: `e` may be any value (it is looked up, never dereferenced).
#[no_mangle]
pub unsafe extern "C" fn zk_elector_quit(e: *mut zk_elector, need_fence: c_int) -> zk_rc {
    guard(|| {
        let e = elector_of(e)?;
        let done = e.elector.quit(need_fence != 0);
        wait_unless_in_callback(&e, done)
    })
}

/// A graceful handover (ZKFC's cedeActive): an active is told to become standby, quits
/// (deleting its breadcrumb if `become_standby` returned non-zero) and stays out of the
/// election for `ms`, then joins again with its last data; a standby just stays out.
/// `ms` 0 ends a running cede at once. Waits like `zk_elector_quit`.
///
/// # Safety
///
/// None: `e` may be any value.
#[no_mangle]
pub unsafe extern "C" fn zk_elector_cede(e: *mut zk_elector, ms: i64) -> zk_rc {
    guard(|| {
        let e = elector_of(e)?;
        if ms < 0 {
            return Err(ZK_BADARGUMENTS);
        }
        let done = e.elector.cede(Duration::from_millis(ms as u64));
        wait_unless_in_callback(&e, done)
    })
}

/// Creates the parent znode and its ancestors (giving existing ones the configured ACL,
/// as Hadoop does). Not while in the election (ZK_BADARGUMENTS); not from a callback
/// (ZK_INVALIDSTATE: the elector waits for its callbacks).
///
/// # Safety
///
/// None: `e` may be any value.
#[no_mangle]
pub unsafe extern "C" fn zk_elector_ensure_parent(e: *mut zk_elector) -> zk_rc {
    guard(|| {
        let e = outside_callbacks(e)?;
        block_on(e.elector.ensure_parent()).map_err(|err| rc_of(&err))
    })
}

/// Writes 1 to `*exists` if the parent znode exists, 0 if not. Not from a callback.
///
/// # Safety
///
/// `exists`: NULL (ZK_BADARGUMENTS) or writable.
#[no_mangle]
pub unsafe extern "C" fn zk_elector_parent_exists(e: *mut zk_elector, exists: *mut c_int) -> zk_rc {
    guard(|| {
        if exists.is_null() || !exists.is_aligned() {
            return Err(ZK_BADARGUMENTS);
        }
        let e = outside_callbacks(e)?;
        let found = block_on(e.elector.parent_exists()).map_err(|err| rc_of(&err))?;
        // SAFETY: neither NULL nor misaligned (checked above), so writable (this
        // function's contract).
        unsafe { exists.write(c_int::from(found)) };
        Ok(())
    })
}

/// `hdfs zkfc -formatZK`: an existing parent znode is deleted with everything below it
/// only when `force` is non-zero; then the parent is created. `*formatted` (may be
/// NULL) is 1 when the parent is fresh now, 0 when it existed and `force` was 0 (nothing
/// changed: `hdfs zkfc` exits with 2 then). Not while in the election, not from a
/// callback; only safe while no controller of this nameservice runs.
///
/// # Safety
///
/// `formatted`: NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn zk_elector_format(
    e: *mut zk_elector,
    force: c_int,
    formatted: *mut c_int,
) -> zk_rc {
    guard(|| {
        // SAFETY: `formatted` is NULL or writable (this function's contract).
        unsafe { put(formatted, 0) };
        let e = outside_callbacks(e)?;
        let fresh = block_on(e.elector.format(force != 0)).map_err(|err| rc_of(&err))?;
        // SAFETY: as above.
        unsafe { put(formatted, c_int::from(fresh)) };
        Ok(())
    })
}

/// The data in the lock, i.e. the active's (library-allocated; free with
/// `zk_free_bytes`). ZK_NONODE when nobody is active. Not from a callback.
///
/// # Safety
///
/// `data`: NULL (ZK_BADARGUMENTS) or writable; `len`: NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn zk_elector_active_data(
    e: *mut zk_elector,
    data: *mut *mut u8,
    len: *mut usize,
) -> zk_rc {
    guard(|| {
        // SAFETY: `data` and `len` are NULL or writable (this function's contract).
        unsafe {
            required_out(data)?;
            put(len, 0);
        }
        let e = outside_callbacks(e)?;
        match block_on(e.elector.active_data()).map_err(|err| rc_of(&err))? {
            Some(active) => {
                // SAFETY: `len` is NULL or writable (contract), and `required_out` found
                // `data` neither NULL nor misaligned, so it is writable.
                unsafe {
                    put(len, active.len());
                    data.write(new_bytes(&active));
                }
                Ok(())
            }
            None => Err(ZK_NONODE),
        }
    })
}

/// Writes the elector's state (`ZK_ELECTOR_*`) to `*state`.
///
/// # Safety
///
/// `state`: NULL (ZK_BADARGUMENTS) or writable.
#[no_mangle]
pub unsafe extern "C" fn zk_elector_state(e: *mut zk_elector, state: *mut c_int) -> zk_rc {
    guard(|| {
        let e = elector_of(e)?;
        if state.is_null() || !state.is_aligned() {
            return Err(ZK_BADARGUMENTS);
        }
        let now = match e.elector.state() {
            ElectorState::Init => ZK_ELECTOR_INIT,
            ElectorState::Active => ZK_ELECTOR_ACTIVE,
            ElectorState::Standby => ZK_ELECTOR_STANDBY,
            ElectorState::Neutral => ZK_ELECTOR_NEUTRAL,
        };
        // SAFETY: neither NULL nor misaligned (checked above), so writable (this
        // function's contract).
        unsafe { state.write(now) };
        Ok(())
    })
}

/// Writes the id of the elector's current session to `*session_id` (0 while it has
/// none).
///
/// # Safety
///
/// `session_id`: NULL (ZK_BADARGUMENTS) or writable.
#[no_mangle]
pub unsafe extern "C" fn zk_elector_session_id(e: *mut zk_elector, session_id: *mut i64) -> zk_rc {
    guard(|| {
        let e = elector_of(e)?;
        if session_id.is_null() || !session_id.is_aligned() {
            return Err(ZK_BADARGUMENTS);
        }
        let now = e.elector.session_id();
        // SAFETY: neither NULL nor misaligned (checked above), so writable (this
        // function's contract).
        unsafe { session_id.write(now) };
        Ok(())
    })
}

/// Ends the elector: closes its session (the lock goes, the breadcrumb stays, as with
/// `zk_elector_quit(e, 1)`; quit with 0 first to leave gracefully) and frees it. NULL is
/// a no-op (ZK_OK); one closed already is ZK_BADARGUMENTS. When it returns, no callback
/// is running (unless this is called from inside one, which returns at once) and none
/// will be called again, so `ctx` may be freed.
///
/// # Safety
///
/// None: `e` may be any value (it is looked up, never dereferenced).
#[no_mangle]
pub unsafe extern "C" fn zk_elector_close(e: *mut zk_elector) -> zk_rc {
    guard(|| {
        if e.is_null() {
            return Ok(());
        }
        let e = ELECTORS.remove(e).ok_or(ZK_BADARGUMENTS)?;
        e.alive.store(false, Ordering::Release);
        let done = e.elector.close();
        if !e.dispatcher.on_own_thread() {
            // Queued callbacks are skipped now (answering "failed"), so the elector is
            // never left waiting for one.
            let _ = block_on(done);
        }
        // Runs what is queued (skipped), then ends the thread: after the current
        // callback when called from one.
        e.dispatcher.stop(None);
        Ok(())
    })
}

/// Waits for `done` unless called from one of the elector's callbacks (the elector may
/// be waiting for that callback).
fn wait_unless_in_callback(
    e: &Elector,
    done: zk_core::recipes::elector::Completion<()>,
) -> Result<(), zk_rc> {
    if e.dispatcher.on_own_thread() {
        return Ok(());
    }
    block_on(done).map_err(|err| rc_of(&err))
}

/// The elector behind `e` for a call that waits for it: ZK_INVALIDSTATE from a callback.
fn outside_callbacks(e: *mut zk_elector) -> Result<Arc<Elector>, zk_rc> {
    let e = elector_of(e)?;
    if e.dispatcher.on_own_thread() {
        return Err(ZK_INVALIDSTATE);
    }
    Ok(e)
}

/// Encodes `info` as Hadoop's ActiveNodeInfo protobuf (the bytes HDFS controllers store;
/// library-allocated, free with `zk_free_bytes`). Every string is required.
///
/// # Safety
///
/// - `info`: NULL (ZK_BADARGUMENTS) or a readable `zk_active_node_info` whose strings are
///   NULL (ZK_BADARGUMENTS) or NUL-terminated.
/// - `data`: NULL (ZK_BADARGUMENTS) or writable; `len`: NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn zk_active_node_info_encode(
    info: *const zk_active_node_info,
    data: *mut *mut u8,
    len: *mut usize,
) -> zk_rc {
    guard(|| {
        // SAFETY: `data` and `len` are NULL or writable (this function's contract).
        unsafe {
            required_out(data)?;
            put(len, 0);
        }
        if info.is_null() || !info.is_aligned() {
            return Err(ZK_BADARGUMENTS);
        }
        // SAFETY: neither NULL nor misaligned (checked above), so a readable
        // `zk_active_node_info` (contract), borrowed only during the call.
        let info = unsafe { &*info };
        // SAFETY: its strings are NULL or NUL-terminated (contract); all are copied.
        let (nameservice_id, namenode_id, hostname) = unsafe {
            (
                text(info.nameservice_id)?.to_owned(),
                text(info.namenode_id)?.to_owned(),
                text(info.hostname)?.to_owned(),
            )
        };
        let encoded = ActiveNodeInfo {
            nameservice_id,
            namenode_id,
            hostname,
            port: info.port,
            zkfc_port: info.zkfc_port,
        }
        .encode();
        // SAFETY: `len` is NULL or writable (contract), and `required_out` found `data`
        // neither NULL nor misaligned, so it is writable.
        unsafe {
            put(len, encoded.len());
            data.write(new_bytes(&encoded));
        }
        Ok(())
    })
}

/// Decodes Hadoop's ActiveNodeInfo protobuf (e.g. the `data` of `fence_old_active`)
/// into a library-allocated struct (free with `zk_free_active_node_info`).
/// ZK_MARSHALLINGERROR when the bytes are not one.
///
/// # Safety
///
/// - `data`: NULL or `len` readable bytes (any pointer when `len` is 0).
/// - `out`: NULL (ZK_BADARGUMENTS) or writable.
#[no_mangle]
pub unsafe extern "C" fn zk_active_node_info_decode(
    data: *const u8,
    len: usize,
    out: *mut *mut zk_active_node_info,
) -> zk_rc {
    guard(|| {
        // SAFETY: `out` is NULL or writable (this function's contract).
        unsafe { required_out(out) }?;
        // SAFETY: `data`/`len` is a readable buffer during the call (contract), which the
        // slice does not outlive (`decode` copies what it keeps).
        let encoded = unsafe { bytes(data, len) }?;
        let info = ActiveNodeInfo::decode(encoded).map_err(|_| ZK_MARSHALLINGERROR)?;
        let decoded = Box::into_raw(Box::new(zk_active_node_info {
            nameservice_id: new_string(&info.nameservice_id),
            namenode_id: new_string(&info.namenode_id),
            hostname: new_string(&info.hostname),
            port: info.port,
            zkfc_port: info.zkfc_port,
        }));
        // SAFETY: `required_out` found `out` neither NULL nor misaligned, so it is
        // writable (contract).
        unsafe { out.write(decoded) };
        Ok(())
    })
}

/// Frees a `zk_active_node_info` from `zk_active_node_info_decode`. NULL is a no-op.
///
/// # Safety
///
/// `info`: NULL, or a struct `zk_active_node_info_decode` returned, not freed before,
/// with its string pointers and the length of each string unchanged. Not one the caller
/// built (for `zk_active_node_info_encode`).
#[no_mangle]
pub unsafe extern "C" fn zk_free_active_node_info(info: *mut zk_active_node_info) {
    guard_or((), || {
        if info.is_null() {
            return;
        }
        // SAFETY: not NULL, so the `Box` that `zk_active_node_info_decode` leaked, not
        // freed before (this function's contract).
        let info = unsafe { Box::from_raw(info) };
        for s in [info.nameservice_id, info.namenode_id, info.hostname] {
            if !s.is_null() {
                // SAFETY: from `new_string` (`CString::into_raw`), of its original length
                // (contract), freed once: here, with the struct.
                drop(unsafe { CString::from_raw(s.cast_mut()) });
            }
        }
    })
}
