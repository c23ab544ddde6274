//! Watches: one-shot (set by `zk_exists`/`zk_get`/`zk_get_children` with a watcher),
//! persistent and persistent-recursive (`zk_add_watch`), and their removal
//! (`zk_remove_watches`). Each is a core watch handle held by a task that hands its
//! events to the dispatch thread; removing it drops the handle, and the core sends
//! removeWatches. Every watch ends with exactly one last call (its event, its removal, a
//! terminal session event, or a Closed session event at close), and the task holds a
//! ticket until that call is queued, so `zk_close` delivers it.

use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::oneshot;
use zk_core::client::{runtime, PersistentWatch, Watch, WatchedEvent};
use zk_core::proto::{AddWatchMode, EventType, KeeperState};

use crate::error::*;
use crate::guard::{guard, path_arg, Ctx};
use crate::handle::{block_on, inner_of, state_number, zk_handle, Inner, Live};
use crate::types::*;

/// Called on the dispatch thread when a watch fires: `type` is a ZK_*_EVENT, `state` a
/// ZK_STATE_*, `path` the node (lent for the call; "" for session events).
pub type zk_watcher_fn = Option<
    unsafe extern "C" fn(
        zh: *mut zk_handle,
        r#type: c_int,
        state: c_int,
        path: *const c_char,
        ctx: *mut c_void,
    ),
>;

type Watcher = unsafe extern "C" fn(*mut zk_handle, c_int, c_int, *const c_char, *mut c_void);

/// `zk_add_watch` modes.
pub const ZK_ADD_WATCH_PERSISTENT: c_int = 0;
pub const ZK_ADD_WATCH_PERSISTENT_RECURSIVE: c_int = 1;

/// `zk_remove_watches` types (ZooKeeper's `WatcherType` numbers).
pub const ZK_WATCHER_CHILDREN: c_int = 1;
pub const ZK_WATCHER_DATA: c_int = 2;
pub const ZK_WATCHER_ANY: c_int = 3;
pub const ZK_WATCHER_PERSISTENT: c_int = 4;
pub const ZK_WATCHER_PERSISTENT_RECURSIVE: c_int = 5;

/// Which watch a one-shot watcher is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnceKind {
    Data,
    /// `exists` on a missing node.
    Exist,
    Child,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Once(OnceKind),
    Persistent,
    Recursive,
}

/// A watch this handle set. Whoever takes it out of the handle's map (the event, the
/// removal, or close) makes its last call, so that call happens exactly once.
pub(crate) struct Entry {
    path: String,
    kind: Kind,
    cancel: oneshot::Sender<()>,
    /// Callable with `ctx` on the dispatch thread until the entry's last call: made only
    /// by [`register`], whose caller guarantees that.
    watcher: Watcher,
    ctx: Ctx,
}

/// Keeps a one-shot watch and delivers its event to `watcher`: its one call is the event,
/// the removal (`zk_remove_watches`) or a Closed session event when the handle closes.
///
/// # Safety
///
/// As for [`register`].
pub(crate) unsafe fn arm_once(
    inner: &Arc<Inner>,
    path: String,
    kind: OnceKind,
    watcher: Watcher,
    ctx: Ctx,
    watch: Watch,
) {
    if !watch.is_registered() {
        return;
    }
    // SAFETY: `watcher` and `ctx` are as `register` requires (this function's contract).
    let (id, cancelled) = unsafe { register(inner, path, Kind::Once(kind), watcher, ctx) };
    let live = inner.ticket();
    let closed = inner.closed();
    runtime::handle().spawn(async move {
        let event = tokio::select! {
            biased;
            event = watch.changed() => event.unwrap_or_else(|_| closed_event()),
            _ = cancelled => return, // removed: zk_remove_watches made the last call
            () = closed => closed_event(),
        };
        finish(&live, id, &event);
    });
}

/// Puts a watch in the handle's map; its id and the receiver its removal fires.
///
/// # Safety
///
/// `watcher` may be called with `ctx` on `inner`'s dispatch thread until the watch's last
/// call (what the watch-setting functions' `# Safety` sections require of their caller).
unsafe fn register(
    inner: &Arc<Inner>,
    path: String,
    kind: Kind,
    watcher: Watcher,
    ctx: Ctx,
) -> (u64, oneshot::Receiver<()>) {
    let id = inner.next_watch.fetch_add(1, Ordering::Relaxed);
    let (cancel, cancelled) = oneshot::channel();
    let entry = Entry {
        path,
        kind,
        cancel,
        watcher,
        ctx,
    };
    inner.watches.lock().insert(id, entry);
    (id, cancelled)
}

/// The event a watch ends with when its handle closes before it fires.
fn closed_event() -> WatchedEvent {
    WatchedEvent {
        event_type: EventType::None,
        state: KeeperState::Closed,
        path: String::new(),
        zxid: -1,
    }
}

/// Makes the last call of watch `id` with `event`, unless another path made it already.
fn finish(inner: &Inner, id: u64, event: &WatchedEvent) {
    let mut watches = inner.watches.lock();
    if let Some(entry) = watches.remove(&id) {
        // SAFETY: an entry's watcher may be called with its ctx until its last call (see
        // `Entry`), and this is that call: whoever removes the entry makes it.
        unsafe {
            send_event(
                inner,
                entry.watcher,
                entry.ctx,
                event.event_type.as_i32(),
                event_state(event),
                &event.path,
            )
        };
    }
}

/// Delivers a persistent watch's event if the watch is still set. Under the map's lock,
/// so a removal's last call is never followed by another event.
fn deliver_if_set(inner: &Inner, id: u64, kind: c_int, state: c_int, path: &str) {
    let watches = inner.watches.lock();
    if let Some(entry) = watches.get(&id) {
        // SAFETY: an entry's watcher may be called with its ctx until its last call (see
        // `Entry`); the entry is still in the map, and the lock held keeps the last call
        // (made by whoever removes it) from being queued before this one.
        unsafe { send_event(inner, entry.watcher, entry.ctx, kind, state, path) };
    }
}

/// Queues a call of `watcher` for the dispatch thread.
///
/// # Safety
///
/// `watcher` may be called with `ctx` on `inner`'s dispatch thread (an [`Entry`]'s may,
/// up to its last call).
unsafe fn send_event(
    inner: &Inner,
    watcher: Watcher,
    ctx: Ctx,
    kind: c_int,
    state: c_int,
    path: &str,
) {
    let path = CString::new(path.replace('\0', "")).unwrap_or_default();
    let zh = HandleAddr(inner.handle_ptr());
    inner.dispatch(move || {
        // SAFETY: run on the dispatch thread, where this function's contract lets
        // `watcher` be called with `ctx`; `path` lives until it returns; the handle
        // pointer is only handed back.
        unsafe { watcher(zh.get(), kind, state, path.as_ptr(), ctx.get()) }
    });
}

/// The caller's handle pointer carried into a job (never dereferenced).
#[derive(Clone, Copy)]
struct HandleAddr(*mut zk_handle);
// SAFETY: an opaque id, only handed back to the caller's callback.
unsafe impl Send for HandleAddr {}
impl HandleAddr {
    fn get(self) -> *mut zk_handle {
        self.0
    }
}

fn is_terminal(event: &WatchedEvent) -> bool {
    event.event_type == EventType::None
        && matches!(
            event.state,
            KeeperState::Expired | KeeperState::Closed | KeeperState::AuthFailed
        )
}

/// Adds a persistent watch (`ZK_ADD_WATCH_PERSISTENT`: data and children changes of
/// `path`) or a recursive one (`ZK_ADD_WATCH_PERSISTENT_RECURSIVE`: every change at or
/// below `path`). It stays until removed with `zk_remove_watches` or the session ends;
/// each event calls `watcher` on the dispatch thread.
///
/// # Safety
///
/// - `path`: NULL or a NUL-terminated string.
/// - `watcher` (NULL: ZK_BADARGUMENTS): callable with `watcher_ctx` on the handle's
///   dispatch thread until the watch's last call (see WATCHES).
#[no_mangle]
pub unsafe extern "C" fn zk_add_watch(
    zh: *mut zk_handle,
    path: *const c_char,
    mode: c_int,
    watcher: zk_watcher_fn,
    watcher_ctx: *mut c_void,
) -> zk_rc {
    guard(|| {
        let inner = inner_of(zh)?;
        // SAFETY: `path` is NULL or NUL-terminated (this function's contract); copied.
        let path = unsafe { path_arg(path, false) }?.to_owned();
        let watcher = watcher.ok_or(ZK_BADARGUMENTS)?;
        let (mode, kind) = match mode {
            ZK_ADD_WATCH_PERSISTENT => (AddWatchMode::Persistent, Kind::Persistent),
            ZK_ADD_WATCH_PERSISTENT_RECURSIVE => {
                (AddWatchMode::PersistentRecursive, Kind::Recursive)
            }
            _ => return Err(ZK_BADARGUMENTS),
        };
        let stream = block_on(inner.client.add_watch(&path, mode)).map_err(|e| rc_of(&e))?;
        // SAFETY: `watcher` may be called with `watcher_ctx` on the dispatch thread until
        // the watch's last call (contract).
        let (id, cancelled) = unsafe { register(&inner, path, kind, watcher, Ctx(watcher_ctx)) };
        runtime::handle().spawn(follow(inner.ticket(), id, stream, cancelled));
        Ok(())
    })
}

/// Delivers a persistent watch's events until it is removed or the session ends; its
/// last call is the removal event, the session's terminal event, or a Closed session
/// event when the handle closes.
async fn follow(
    live: Live,
    id: u64,
    mut stream: PersistentWatch,
    mut cancelled: oneshot::Receiver<()>,
) {
    let closed = live.closed();
    tokio::pin!(closed);
    loop {
        tokio::select! {
            biased;
            next = stream.next() => match next {
                Some(Ok(event)) if is_terminal(&event) => return finish(&live, id, &event),
                Some(Ok(event)) => deliver_if_set(
                    &live, id, event.event_type.as_i32(), event_state(&event), &event.path,
                ),
                // Events were dropped: the watcher learns through a session event.
                Some(Err(_overflow)) => deliver_if_set(
                    &live, id, ZK_SESSION_EVENT, state_number(live.client.state()), "",
                ),
                None => return finish(&live, id, &closed_event()),
            },
            _ = &mut cancelled => return,
            () = &mut closed => return finish(&live, id, &closed_event()),
        }
    }
}

/// Removes the watches this handle set on `path` of `type` (ZK_WATCHER_CHILDREN,
/// ZK_WATCHER_DATA (data and exists watches), ZK_WATCHER_PERSISTENT,
/// ZK_WATCHER_PERSISTENT_RECURSIVE or ZK_WATCHER_ANY). Each removed watcher is called
/// once more with ZK_DATA_WATCH_REMOVED_EVENT, ZK_CHILD_WATCH_REMOVED_EVENT or
/// ZK_PERSISTENT_WATCH_REMOVED_EVENT. ZK_NOWATCHER if there was none.
///
/// # Safety
///
/// `path`: NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn zk_remove_watches(
    zh: *mut zk_handle,
    path: *const c_char,
    r#type: c_int,
) -> zk_rc {
    guard(|| {
        let inner = inner_of(zh)?;
        // SAFETY: `path` is NULL or NUL-terminated, readable during the call (this
        // function's contract), which the `&str` does not outlive.
        let path = unsafe { path_arg(path, false) }?;
        let wanted = |kind: Kind| match r#type {
            ZK_WATCHER_CHILDREN => kind == Kind::Once(OnceKind::Child),
            ZK_WATCHER_DATA => matches!(kind, Kind::Once(OnceKind::Data | OnceKind::Exist)),
            ZK_WATCHER_PERSISTENT => kind == Kind::Persistent,
            ZK_WATCHER_PERSISTENT_RECURSIVE => kind == Kind::Recursive,
            _ => true,
        };
        if !(ZK_WATCHER_CHILDREN..=ZK_WATCHER_PERSISTENT_RECURSIVE).contains(&r#type) {
            return Err(ZK_BADARGUMENTS);
        }
        let state = state_number(inner.client.state());
        let mut watches = inner.watches.lock();
        let ids: Vec<u64> = watches
            .iter()
            .filter(|(_, e)| e.path == path && wanted(e.kind))
            .map(|(&id, _)| id)
            .collect();
        if ids.is_empty() {
            return Err(ZK_NOWATCHER);
        }
        for entry in ids.iter().filter_map(|id| watches.remove(id)) {
            let _ = entry.cancel.send(());
            let event = match entry.kind {
                Kind::Once(OnceKind::Child) => EventType::ChildWatchRemoved,
                Kind::Once(_) => EventType::DataWatchRemoved,
                Kind::Persistent | Kind::Recursive => EventType::PersistentWatchRemoved,
            };
            // SAFETY: an entry's watcher may be called with its ctx until its last call
            // (see `Entry`), and this is that call: the entry was just removed.
            unsafe {
                send_event(
                    &inner,
                    entry.watcher,
                    entry.ctx,
                    event.as_i32(),
                    state,
                    &entry.path,
                )
            };
        }
        Ok(())
    })
}
