//! Watches: one-shot (set by `zk_exists`/`zk_get`/`zk_get_children` with a watcher),
//! persistent and persistent-recursive (`zk_add_watch`), and their removal
//! (`zk_remove_watches`). Each is a core watch handle held by a task that hands its
//! event to the dispatch thread; removing it drops the handle, and the core sends
//! removeWatches.

use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::oneshot;
use zk_core::client::{runtime, PersistentWatch, Watch, WatchedEvent};
use zk_core::proto::{AddWatchMode, EventType};

use crate::error::*;
use crate::guard::{guard, path_arg, Ctx};
use crate::handle::{block_on, inner_of, state_number, zk_handle, HandleAddr, Inner};
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

/// A watch this handle set.
pub(crate) struct Entry {
    path: String,
    kind: Kind,
    cancel: oneshot::Sender<()>,
    zh: HandleAddr,
    watcher: Watcher,
    ctx: Ctx,
}

/// Keeps a one-shot watch and delivers its event to `watcher`.
pub(crate) fn arm_once(
    inner: &Arc<Inner>,
    zh: HandleAddr,
    path: String,
    kind: OnceKind,
    watcher: Watcher,
    ctx: Ctx,
    watch: Watch,
) {
    if !watch.is_registered() {
        return;
    }
    let (id, cancelled) = register(inner, zh, path, Kind::Once(kind), watcher, ctx);
    let shared = inner.clone();
    runtime::handle().spawn(async move {
        tokio::select! {
            event = watch.changed() => {
                if shared.watches.lock().remove(&id).is_none() {
                    return; // removed meanwhile
                }
                if let Ok(event) = event {
                    deliver(&shared, zh, watcher, ctx, &event);
                }
            }
            _ = cancelled => {} // dropping the watch removes it
        }
    });
}

fn register(
    inner: &Arc<Inner>,
    zh: HandleAddr,
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
        zh,
        watcher,
        ctx,
    };
    inner.watches.lock().insert(id, entry);
    (id, cancelled)
}

fn deliver(inner: &Arc<Inner>, zh: HandleAddr, watcher: Watcher, ctx: Ctx, event: &WatchedEvent) {
    let kind = event.event_type.as_i32();
    let state = event_state(event);
    send_event(inner, zh, watcher, ctx, kind, state, &event.path);
}

fn send_event(
    inner: &Arc<Inner>,
    zh: HandleAddr,
    watcher: Watcher,
    ctx: Ctx,
    kind: c_int,
    state: c_int,
    path: &str,
) {
    let path = CString::new(path.replace('\0', "")).unwrap_or_default();
    let gate = inner.clone();
    inner.dispatch(move || {
        if !gate.closing.load(Ordering::Acquire) {
            // SAFETY: the caller's watcher, on the dispatch thread, handle alive.
            unsafe { watcher(zh.get(), kind, state, path.as_ptr(), ctx.get()) }
        }
    });
}

/// Adds a persistent watch (`ZK_ADD_WATCH_PERSISTENT`: data and children changes of
/// `path`) or a recursive one (`ZK_ADD_WATCH_PERSISTENT_RECURSIVE`: every change at or
/// below `path`). It stays until removed with `zk_remove_watches` or the session ends;
/// each event calls `watcher` on the dispatch thread.
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
        let path = path_arg(path, false)?.to_owned();
        let watcher = watcher.ok_or(ZK_BADARGUMENTS)?;
        let (mode, kind) = match mode {
            ZK_ADD_WATCH_PERSISTENT => (AddWatchMode::Persistent, Kind::Persistent),
            ZK_ADD_WATCH_PERSISTENT_RECURSIVE => {
                (AddWatchMode::PersistentRecursive, Kind::Recursive)
            }
            _ => return Err(ZK_BADARGUMENTS),
        };
        let stream = block_on(inner.client.add_watch(&path, mode)).map_err(|e| rc_of(&e))?;
        let zh = HandleAddr(zh);
        let ctx = Ctx(watcher_ctx);
        let (id, cancelled) = register(&inner, zh, path, kind, watcher, ctx);
        runtime::handle().spawn(follow(
            inner.clone(),
            id,
            stream,
            cancelled,
            zh,
            watcher,
            ctx,
        ));
        Ok(())
    })
}

async fn follow(
    inner: Arc<Inner>,
    id: u64,
    mut stream: PersistentWatch,
    mut cancelled: oneshot::Receiver<()>,
    zh: HandleAddr,
    watcher: Watcher,
    ctx: Ctx,
) {
    loop {
        tokio::select! {
            next = stream.next() => match next {
                Some(Ok(event)) => deliver(&inner, zh, watcher, ctx, &event),
                // Events were dropped: the watcher learns through a session event.
                Some(Err(_overflow)) => send_event(
                    &inner, zh, watcher, ctx, ZK_SESSION_EVENT,
                    state_number(inner.client.state()), "",
                ),
                None => {
                    inner.watches.lock().remove(&id);
                    return;
                }
            },
            _ = &mut cancelled => return,
        }
    }
}

/// Removes the watches this handle set on `path` of `type` (ZK_WATCHER_CHILDREN,
/// ZK_WATCHER_DATA (data and exists watches), ZK_WATCHER_PERSISTENT,
/// ZK_WATCHER_PERSISTENT_RECURSIVE or ZK_WATCHER_ANY). Each removed watcher is called
/// once more with ZK_DATA_WATCH_REMOVED_EVENT, ZK_CHILD_WATCH_REMOVED_EVENT or
/// ZK_PERSISTENT_WATCH_REMOVED_EVENT. ZK_NOWATCHER if there was none.
#[no_mangle]
pub unsafe extern "C" fn zk_remove_watches(
    zh: *mut zk_handle,
    path: *const c_char,
    r#type: c_int,
) -> zk_rc {
    guard(|| {
        let inner = inner_of(zh)?;
        let path = path_arg(path, false)?;
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
        let removed: Vec<Entry> = {
            let mut watches = inner.watches.lock();
            let ids: Vec<u64> = watches
                .iter()
                .filter(|(_, e)| e.path == path && wanted(e.kind))
                .map(|(&id, _)| id)
                .collect();
            ids.iter().filter_map(|id| watches.remove(id)).collect()
        };
        if removed.is_empty() {
            return Err(ZK_NOWATCHER);
        }
        let state = state_number(inner.client.state());
        for entry in removed {
            let _ = entry.cancel.send(());
            let event = match entry.kind {
                Kind::Once(OnceKind::Child) => EventType::ChildWatchRemoved,
                Kind::Once(_) => EventType::DataWatchRemoved,
                Kind::Persistent | Kind::Recursive => EventType::PersistentWatchRemoved,
            };
            send_event(
                &inner,
                entry.zh,
                entry.watcher,
                entry.ctx,
                event.as_i32(),
                state,
                &entry.path,
            );
        }
        Ok(())
    })
}

/// Drops every watch (zk_close): no event is delivered.
pub(crate) fn drop_all(inner: &Arc<Inner>) {
    let all: Vec<Entry> = inner.watches.lock().drain().map(|(_, e)| e).collect();
    for entry in all {
        let _ = entry.cancel.send(());
    }
}
