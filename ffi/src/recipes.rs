//! The recipes C users most want, over `zk_core::recipes`: an exclusive lock
//! (`zk_lock`, Curator's `InterProcessMutex` layout) and leader election (`zk_leader`,
//! Curator's `LeaderLatch`).

use std::ffi::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use zk_core::client::runtime;
use zk_core::recipes::{self, LeaderLatch, Leadership, LockGuard};

use crate::error::*;
use crate::guard::{guard, path_arg, put, required_out, text, Ctx};
use crate::handle::{block_on, inner_of, zk_handle, Inner, Live};
use crate::registry::Registry;

/// An exclusive distributed lock (opaque): `zk_lock_new`, `zk_lock_acquire`,
/// `zk_lock_release`, `zk_lock_free`. Not re-entrant. One zk_lock is meant for one thread
/// at a time (calls on the same zk_lock wait for a running `zk_lock_acquire`); take one
/// zk_lock per thread, on one handle or several, to contend from several threads.
pub struct zk_lock {
    _opaque: [u8; 0],
}

/// A participant in a leader election (opaque): `zk_leader_start` ... `zk_leader_close`.
pub struct zk_leader {
    _opaque: [u8; 0],
}

struct Lock {
    _inner: Arc<Inner>,
    mutex: recipes::Mutex,
    held: Mutex<Option<LockGuard>>,
}

struct Leader {
    inner: Arc<Inner>,
    latch: Mutex<Option<LeaderLatch>>,
    /// Cleared by `zk_leader_close`: queued leadership callbacks are skipped after it.
    alive: Arc<AtomicBool>,
    follower: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// Called on the dispatch thread when this participant gains (`is_leader` 1, with the
/// fencing token) or loses (0, token -1) leadership. A gain is always followed by a loss
/// before the last call, also when the handle closes or the session ends; after
/// `zk_leader_close` returns there is no further call.
pub type zk_leader_fn =
    Option<unsafe extern "C" fn(is_leader: c_int, fencing_token: i64, ctx: *mut c_void)>;

static LOCKS: Registry<Lock> = Registry::new();
static LEADERS: Registry<Leader> = Registry::new();

fn lock_of(lock: *mut zk_lock) -> Result<Arc<Lock>, zk_rc> {
    LOCKS.get(lock).ok_or(ZK_BADARGUMENTS)
}

fn leader_of(leader: *mut zk_leader) -> Result<Arc<Leader>, zk_rc> {
    LEADERS.get(leader).ok_or(ZK_BADARGUMENTS)
}

/// Writes `value` through a getter's out-pointer: ZK_BADARGUMENTS for NULL.
///
/// # Safety
///
/// `to` is NULL, misaligned, or valid for writes of a `T` (as for `guard::put`).
unsafe fn out<T>(to: *mut T, value: T) -> Result<(), zk_rc> {
    if to.is_null() || !to.is_aligned() {
        return Err(ZK_BADARGUMENTS);
    }
    // SAFETY: neither NULL nor misaligned (checked above), so writable by this
    // function's contract.
    unsafe { to.write(value) };
    Ok(())
}

fn timeout_of(ms: i64) -> Option<Duration> {
    (ms >= 0).then(|| Duration::from_millis(ms as u64))
}

/// A lock on `path` (created on first use). Free with `zk_lock_free`.
///
/// # Safety
///
/// - `path`: NULL or a NUL-terminated string.
/// - `out`: NULL (ZK_BADARGUMENTS) or writable.
#[no_mangle]
pub unsafe extern "C" fn zk_lock_new(
    zh: *mut zk_handle,
    path: *const c_char,
    out: *mut *mut zk_lock,
) -> zk_rc {
    guard(|| {
        // SAFETY: `out` is NULL or writable (this function's contract).
        unsafe { required_out(out) }?;
        let inner = inner_of(zh)?;
        // SAFETY: `path` is NULL or NUL-terminated, readable during the call (contract),
        // which the `&str` does not outlive (`Mutex::new` copies it).
        let path = unsafe { path_arg(path, false) }?;
        let mutex = recipes::Mutex::new(&inner.client, path);
        let (lock, _) = LOCKS.insert(|_| {
            Arc::new(Lock {
                _inner: inner.shared(),
                mutex,
                held: Mutex::new(None),
            })
        });
        // SAFETY: `required_out` found `out` neither NULL nor misaligned, so it is
        // writable (contract).
        unsafe { out.write(lock) };
        Ok(())
    })
}

/// Acquires the lock: `timeout_ms` < 0 waits as long as it takes, 0 only tries, > 0
/// waits at most that long. ZK_OK with `*acquired` (may be NULL) 1 when held, 0 when not
/// acquired in time; an error code otherwise. Holding it already is ZK_OK, acquired 1.
///
/// # Safety
///
/// `acquired`: NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn zk_lock_acquire(
    lock: *mut zk_lock,
    timeout_ms: i64,
    acquired: *mut c_int,
) -> zk_rc {
    guard(|| {
        // SAFETY: `acquired` is NULL or writable (this function's contract).
        unsafe { put(acquired, 0) };
        let lock = lock_of(lock)?;
        let mut held = lock.held.lock();
        if held.as_ref().is_some_and(|g| !g.is_lost()) {
            // SAFETY: as above.
            unsafe { put(acquired, 1) };
            return Ok(());
        }
        if let Some(stale) = held.take() {
            let _ = block_on(stale.release());
        }
        let guard = match timeout_of(timeout_ms) {
            None => block_on(lock.mutex.acquire()).map(Some),
            Some(t) if t.is_zero() => block_on(lock.mutex.try_acquire()),
            Some(t) => block_on(lock.mutex.acquire_timeout(t)),
        }
        .map_err(|e| rc_of(&e))?;
        // SAFETY: as above.
        unsafe { put(acquired, c_int::from(guard.is_some())) };
        *held = guard;
        Ok(())
    })
}

/// Releases the lock (deletes our node). Not holding it is ZK_OK.
///
/// # Safety
///
/// None: `lock` may be any value (it is looked up, never dereferenced).
#[no_mangle]
pub unsafe extern "C" fn zk_lock_release(lock: *mut zk_lock) -> zk_rc {
    guard(|| {
        let lock = lock_of(lock)?;
        let held = lock.held.lock().take();
        match held {
            Some(guard) => block_on(guard.release()).map_err(|e| rc_of(&e)),
            None => Ok(()),
        }
    })
}

/// Writes 1 to `*held` while the lock is held and not lost (a disconnect, session
/// expiry or deletion of our node loses it), 0 otherwise.
///
/// # Safety
///
/// `held`: NULL (ZK_BADARGUMENTS) or writable.
#[no_mangle]
pub unsafe extern "C" fn zk_lock_is_held(lock: *mut zk_lock, held: *mut c_int) -> zk_rc {
    guard(|| {
        let lock = lock_of(lock)?;
        let now = lock.held.lock().as_ref().is_some_and(|g| !g.is_lost());
        // SAFETY: `held` is NULL or writable (this function's contract).
        unsafe { out(held, c_int::from(now)) }
    })
}

/// Writes the fencing token of the current hold to `*token` (larger for every later
/// holder), or -1 when the lock is not held.
///
/// # Safety
///
/// `token`: NULL (ZK_BADARGUMENTS) or writable.
#[no_mangle]
pub unsafe extern "C" fn zk_lock_fencing_token(lock: *mut zk_lock, token: *mut i64) -> zk_rc {
    guard(|| {
        let lock = lock_of(lock)?;
        let now = lock
            .held
            .lock()
            .as_ref()
            .map_or(-1, LockGuard::fencing_token);
        // SAFETY: `token` is NULL or writable (this function's contract).
        unsafe { out(token, now) }
    })
}

/// Releases the lock if held and frees it. NULL is a no-op (ZK_OK); a lock freed
/// already is ZK_BADARGUMENTS. Waits for a `zk_lock_acquire` running on another thread.
///
/// # Safety
///
/// None: `lock` may be any value.
#[no_mangle]
pub unsafe extern "C" fn zk_lock_free(lock: *mut zk_lock) -> zk_rc {
    guard(|| {
        if lock.is_null() {
            return Ok(());
        }
        let lock = LOCKS.remove(lock).ok_or(ZK_BADARGUMENTS)?;
        let held = lock.held.lock().take();
        if let Some(guard) = held {
            // The node goes with the session anyway; a failure here loses nothing.
            let _ = block_on(guard.release());
        }
        Ok(())
    })
}

/// Joins the election at `path` as participant `id` (stored in our node, as Curator
/// does) and stays a candidate until `zk_leader_close`. `cb` (may be NULL) hears every
/// change of leadership on the dispatch thread. Free with `zk_leader_close`.
///
/// # Safety
///
/// - `path`, `id`: NULL or NUL-terminated strings.
/// - `cb` (may be NULL): callable with `ctx` on the handle's dispatch thread until its
///   last call: at the latest when `zk_leader_close`, or the handle's `zk_close`,
///   returns (see `zk_leader_fn`).
/// - `out`: NULL (ZK_BADARGUMENTS) or writable.
#[no_mangle]
pub unsafe extern "C" fn zk_leader_start(
    zh: *mut zk_handle,
    path: *const c_char,
    id: *const c_char,
    cb: zk_leader_fn,
    ctx: *mut c_void,
    out: *mut *mut zk_leader,
) -> zk_rc {
    guard(|| {
        // SAFETY: `out` is NULL or writable (this function's contract).
        unsafe { required_out(out) }?;
        let inner = inner_of(zh)?;
        // SAFETY: `path` and `id` are NULL or NUL-terminated, readable during the call
        // (contract), which the `&str`s do not outlive (`LeaderLatch::start` copies
        // them).
        let (path, id) = unsafe { (path_arg(path, false)?, text(id)?) };
        let latch = block_on(LeaderLatch::start(&inner.client, path, id)).map_err(|e| rc_of(&e))?;
        let alive = Arc::new(AtomicBool::new(true));
        let follower = cb.map(|cb| {
            let changes = latch.changes();
            // SAFETY: `cb` may be called with `ctx` on the dispatch thread until its last
            // call (contract), as `follow` requires.
            let follow = unsafe { follow(inner.ticket(), changes, alive.clone(), cb, Ctx(ctx)) };
            runtime::handle().spawn(follow)
        });
        let (leader, _) = LEADERS.insert(|_| {
            Arc::new(Leader {
                inner: inner.shared(),
                latch: Mutex::new(Some(latch)),
                alive,
                follower: Mutex::new(follower),
            })
        });
        // SAFETY: `required_out` found `out` neither NULL nor misaligned, so it is
        // writable (contract).
        unsafe { out.write(leader) };
        Ok(())
    })
}

/// Reports leadership changes until the election ends; a participant reported leading
/// is reported not leading before the end (also when the handle closes).
///
/// # Safety
///
/// `cb` may be called with `ctx` on the handle's dispatch thread whenever a call this
/// task queues runs with `alive` still set (what `zk_leader_start` requires of its
/// caller: `zk_leader_close` clears `alive`, and the handle's close ends this task).
async unsafe fn follow(
    live: Live,
    mut changes: tokio::sync::watch::Receiver<Leadership>,
    alive: Arc<AtomicBool>,
    cb: unsafe extern "C" fn(c_int, i64, *mut c_void),
    ctx: Ctx,
) {
    let closed = live.closed();
    tokio::pin!(closed);
    let mut leading = false;
    let report = |is_leader: bool, token: i64| {
        let alive = alive.clone();
        live.dispatch(move || {
            if alive.load(Ordering::Acquire) {
                // SAFETY: on the dispatch thread, `alive` still set: `cb` may be called
                // with `ctx` (this function's contract; `zk_leader_close` waits for a
                // call that began before it cleared `alive`).
                unsafe { cb(c_int::from(is_leader), token, ctx.get()) }
            }
        });
    };
    loop {
        let now = *changes.borrow_and_update();
        let (is_leader, token) = match now {
            Leadership::Leader { fencing_token } => (true, fencing_token),
            Leadership::Candidate | Leadership::Closed => (false, -1),
        };
        if is_leader != leading {
            leading = is_leader;
            report(is_leader, token);
        }
        if now == Leadership::Closed {
            return;
        }
        tokio::select! {
            biased;
            changed = changes.changed() => if changed.is_err() { break },
            () = &mut closed => break,
        }
    }
    if leading {
        report(false, -1);
    }
}

/// Writes 1 to `*is_leader` while this participant leads, 0 otherwise.
///
/// # Safety
///
/// `is_leader`: NULL (ZK_BADARGUMENTS) or writable.
#[no_mangle]
pub unsafe extern "C" fn zk_leader_is_leader(
    leader: *mut zk_leader,
    is_leader: *mut c_int,
) -> zk_rc {
    guard(|| {
        let leader = leader_of(leader)?;
        let now = leader
            .latch
            .lock()
            .as_ref()
            .is_some_and(LeaderLatch::has_leadership);
        // SAFETY: `is_leader` is NULL or writable (this function's contract).
        unsafe { out(is_leader, c_int::from(now)) }
    })
}

/// Waits until leading or `timeout_ms` passes (< 0: no limit). ZK_OK with `*is_leader`
/// (may be NULL) 1 or 0; ZK_CLOSING once the election ended.
///
/// # Safety
///
/// `is_leader`: NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn zk_leader_wait(
    leader: *mut zk_leader,
    timeout_ms: i64,
    is_leader: *mut c_int,
) -> zk_rc {
    guard(|| {
        // SAFETY: `is_leader` is NULL or writable (this function's contract).
        unsafe { put(is_leader, 0) };
        let leader = leader_of(leader)?;
        // Waits on a clone of the state so close from another thread is not blocked.
        let changes = leader.latch.lock().as_ref().map(LeaderLatch::changes);
        let Some(mut changes) = changes else {
            return Err(ZK_CLOSING);
        };
        let wait = async move {
            changes
                .wait_for(|l| *l != Leadership::Candidate)
                .await
                .map(|l| *l)
        };
        let result = match timeout_of(timeout_ms) {
            None => Some(block_on(wait)),
            Some(t) => block_on(async { tokio::time::timeout(t, wait).await.ok() }),
        };
        match result {
            None => Ok(()),
            Some(Ok(Leadership::Leader { .. })) => {
                // SAFETY: as above.
                unsafe { put(is_leader, 1) };
                Ok(())
            }
            Some(_) => Err(ZK_CLOSING),
        }
    })
}

/// Writes the fencing token to `*token` while leading, -1 otherwise.
///
/// # Safety
///
/// `token`: NULL (ZK_BADARGUMENTS) or writable.
#[no_mangle]
pub unsafe extern "C" fn zk_leader_fencing_token(leader: *mut zk_leader, token: *mut i64) -> zk_rc {
    guard(|| {
        let leader = leader_of(leader)?;
        let now = leader
            .latch
            .lock()
            .as_ref()
            .and_then(LeaderLatch::fencing_token)
            .unwrap_or(-1);
        // SAFETY: `token` is NULL or writable (this function's contract).
        unsafe { out(token, now) }
    })
}

/// Leaves the election (deletes our node), stops the callbacks and frees the
/// participant. NULL is a no-op (ZK_OK); one closed already is ZK_BADARGUMENTS. When it
/// returns, the leadership callback is not running (unless this is called from inside
/// it) and will not be called again.
///
/// # Safety
///
/// None: `leader` may be any value (it is looked up, never dereferenced).
#[no_mangle]
pub unsafe extern "C" fn zk_leader_close(leader: *mut zk_leader) -> zk_rc {
    guard(|| {
        if leader.is_null() {
            return Ok(());
        }
        let leader = LEADERS.remove(leader).ok_or(ZK_BADARGUMENTS)?;
        leader.alive.store(false, Ordering::Release);
        if let Some(task) = leader.follower.lock().take() {
            task.abort();
        }
        let latch = leader.latch.lock().take();
        if let Some(latch) = latch {
            block_on(latch.close());
        }
        if !leader.inner.on_dispatch_thread() {
            // A callback that started before `alive` was cleared may still be running:
            // wait for the dispatch thread to get past it.
            let (passed, wait) = std::sync::mpsc::channel::<()>();
            leader.inner.dispatch(move || drop(passed));
            let _ = wait.recv();
        }
        Ok(())
    })
}
