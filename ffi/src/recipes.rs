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
use crate::guard::{guard, guard_or, path_arg, put, required_out, text, Ctx};
use crate::handle::{block_on, inner_of, zk_handle, Inner};

/// An exclusive distributed lock (opaque): `zk_lock_new`, `zk_lock_acquire`,
/// `zk_lock_release`, `zk_lock_free`. Not re-entrant. One zk_lock is meant for one thread
/// at a time (calls on the same zk_lock wait for a running `zk_lock_acquire`); take one
/// zk_lock per thread, on one handle or several, to contend from several threads.
pub struct zk_lock {
    magic: u64,
    _inner: Arc<Inner>,
    mutex: recipes::Mutex,
    held: Mutex<Option<LockGuard>>,
}

/// A participant in a leader election (opaque): `zk_leader_start` ... `zk_leader_close`.
pub struct zk_leader {
    magic: u64,
    latch: Mutex<Option<LeaderLatch>>,
    alive: Arc<AtomicBool>,
    follower: Option<tokio::task::JoinHandle<()>>,
}

/// Called on the dispatch thread when this participant gains (`is_leader` 1, with the
/// fencing token) or loses (0, token -1) leadership.
pub type zk_leader_fn =
    Option<unsafe extern "C" fn(is_leader: c_int, fencing_token: i64, ctx: *mut c_void)>;

const LOCK_MAGIC: u64 = 0x7a6b_5f6c_6f63_6b21;
const LEADER_MAGIC: u64 = 0x7a6b_5f6c_6561_6421;

unsafe fn lock_of<'a>(lock: *mut zk_lock) -> Result<&'a zk_lock, zk_rc> {
    if lock.is_null() || !lock.is_aligned() || (*lock).magic != LOCK_MAGIC {
        return Err(ZK_BADARGUMENTS);
    }
    Ok(&*lock)
}

unsafe fn leader_of<'a>(leader: *mut zk_leader) -> Result<&'a zk_leader, zk_rc> {
    if leader.is_null() || !leader.is_aligned() || (*leader).magic != LEADER_MAGIC {
        return Err(ZK_BADARGUMENTS);
    }
    Ok(&*leader)
}

fn timeout_of(ms: i64) -> Option<Duration> {
    (ms >= 0).then(|| Duration::from_millis(ms as u64))
}

/// A lock on `path` (created on first use). Free with `zk_lock_free`.
#[no_mangle]
pub unsafe extern "C" fn zk_lock_new(
    zh: *mut zk_handle,
    path: *const c_char,
    out: *mut *mut zk_lock,
) -> zk_rc {
    guard(|| {
        required_out(out)?;
        let inner = inner_of(zh)?;
        let path = path_arg(path, false)?;
        let mutex = recipes::Mutex::new(&inner.client, path);
        out.write(Box::into_raw(Box::new(zk_lock {
            magic: LOCK_MAGIC,
            _inner: inner,
            mutex,
            held: Mutex::new(None),
        })));
        Ok(())
    })
}

/// Acquires the lock: `timeout_ms` < 0 waits as long as it takes, 0 only tries, > 0
/// waits at most that long. ZK_OK with `*acquired` (may be NULL) 1 when held, 0 when not
/// acquired in time; an error code otherwise. Holding it already is ZK_OK, acquired 1.
#[no_mangle]
pub unsafe extern "C" fn zk_lock_acquire(
    lock: *mut zk_lock,
    timeout_ms: i64,
    acquired: *mut c_int,
) -> zk_rc {
    guard(|| {
        put(acquired, 0);
        let lock = lock_of(lock)?;
        let mut held = lock.held.lock();
        if held.as_ref().is_some_and(|g| !g.is_lost()) {
            put(acquired, 1);
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
        put(acquired, c_int::from(guard.is_some()));
        *held = guard;
        Ok(())
    })
}

/// Releases the lock (deletes our node). Not holding it is ZK_OK.
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

/// 1 while the lock is held and not lost (a disconnect, session expiry or deletion of
/// our node loses it), 0 otherwise; ZK_BADARGUMENTS for a bad lock.
#[no_mangle]
pub unsafe extern "C" fn zk_lock_is_held(lock: *mut zk_lock) -> c_int {
    guard_or(ZK_SYSTEMERROR, || match lock_of(lock) {
        Ok(lock) => c_int::from(lock.held.lock().as_ref().is_some_and(|g| !g.is_lost())),
        Err(rc) => rc,
    })
}

/// The fencing token of the current hold (larger for every later holder); -1 when not held.
#[no_mangle]
pub unsafe extern "C" fn zk_lock_fencing_token(lock: *mut zk_lock) -> i64 {
    guard_or(-1, || {
        lock_of(lock).map_or(-1, |lock| {
            lock.held
                .lock()
                .as_ref()
                .map_or(-1, LockGuard::fencing_token)
        })
    })
}

/// Releases the lock if held and frees it. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn zk_lock_free(lock: *mut zk_lock) {
    guard_or((), || {
        if lock_of(lock).is_err() {
            return;
        }
        let mut lock = Box::from_raw(lock);
        lock.magic = 0;
        let held = lock.held.lock().take();
        if let Some(guard) = held {
            let _ = block_on(guard.release());
        }
    })
}

/// Joins the election at `path` as participant `id` (stored in our node, as Curator
/// does) and stays a candidate until `zk_leader_close`. `cb` (may be NULL) hears every
/// change of leadership on the dispatch thread. Free with `zk_leader_close`.
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
        required_out(out)?;
        let inner = inner_of(zh)?;
        let path = path_arg(path, false)?;
        let id = text(id)?;
        let latch = block_on(LeaderLatch::start(&inner.client, path, id)).map_err(|e| rc_of(&e))?;
        let alive = Arc::new(AtomicBool::new(true));
        let follower = cb.map(|cb| {
            let changes = latch.changes();
            runtime::handle().spawn(follow(inner.clone(), changes, alive.clone(), cb, Ctx(ctx)))
        });
        out.write(Box::into_raw(Box::new(zk_leader {
            magic: LEADER_MAGIC,
            latch: Mutex::new(Some(latch)),
            alive,
            follower,
        })));
        Ok(())
    })
}

async fn follow(
    inner: Arc<Inner>,
    mut changes: tokio::sync::watch::Receiver<Leadership>,
    alive: Arc<AtomicBool>,
    cb: unsafe extern "C" fn(c_int, i64, *mut c_void),
    ctx: Ctx,
) {
    let mut leading = false;
    loop {
        let now = *changes.borrow_and_update();
        let (is_leader, token) = match now {
            Leadership::Leader { fencing_token } => (true, fencing_token),
            Leadership::Candidate | Leadership::Closed => (false, -1),
        };
        if is_leader != leading {
            leading = is_leader;
            let (alive, gate) = (alive.clone(), inner.clone());
            inner.dispatch(move || {
                if alive.load(Ordering::Acquire) && !gate.closing.load(Ordering::Acquire) {
                    // SAFETY: the caller's callback with its context, on the dispatch thread.
                    unsafe { cb(c_int::from(is_leader), token, ctx.get()) }
                }
            });
        }
        if now == Leadership::Closed || changes.changed().await.is_err() {
            return;
        }
    }
}

/// 1 while this participant leads, 0 otherwise; ZK_BADARGUMENTS for a bad handle.
#[no_mangle]
pub unsafe extern "C" fn zk_leader_is_leader(leader: *mut zk_leader) -> c_int {
    guard_or(ZK_SYSTEMERROR, || match leader_of(leader) {
        Ok(l) => c_int::from(
            l.latch
                .lock()
                .as_ref()
                .is_some_and(LeaderLatch::has_leadership),
        ),
        Err(rc) => rc,
    })
}

/// Waits until leading or `timeout_ms` passes (< 0: no limit). ZK_OK with `*is_leader`
/// (may be NULL) 1 or 0; ZK_CLOSING once the election ended.
#[no_mangle]
pub unsafe extern "C" fn zk_leader_wait(
    leader: *mut zk_leader,
    timeout_ms: i64,
    is_leader: *mut c_int,
) -> zk_rc {
    guard(|| {
        put(is_leader, 0);
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
                put(is_leader, 1);
                Ok(())
            }
            Some(_) => Err(ZK_CLOSING),
        }
    })
}

/// The fencing token while leading, -1 otherwise.
#[no_mangle]
pub unsafe extern "C" fn zk_leader_fencing_token(leader: *mut zk_leader) -> i64 {
    guard_or(-1, || {
        leader_of(leader).map_or(-1, |l| {
            l.latch
                .lock()
                .as_ref()
                .and_then(LeaderLatch::fencing_token)
                .unwrap_or(-1)
        })
    })
}

/// Leaves the election (deletes our node), stops the callbacks and frees the handle.
/// NULL is a no-op. Safe from inside the leadership callback.
#[no_mangle]
pub unsafe extern "C" fn zk_leader_close(leader: *mut zk_leader) {
    guard_or((), || {
        if leader_of(leader).is_err() {
            return;
        }
        let mut leader = Box::from_raw(leader);
        leader.magic = 0;
        leader.alive.store(false, Ordering::Release);
        if let Some(task) = leader.follower.take() {
            task.abort();
        }
        let latch = leader.latch.lock().take();
        if let Some(latch) = latch {
            block_on(latch.close());
        }
    })
}
