//! The core's recipes for `io.zk.recipes`: each recipe object lives in a table under a number
//! handed to Java (freed by `free`, which Java's Cleaner also calls), blocking calls wait on
//! the caller's thread, and what a recipe reports later (a lost lock, a leadership change, a
//! cache event) is queued on its client's event thread for `RecipeUpcalls.event`.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use jni::objects::{JByteArray, JObject, JString};
use jni::sys::{jboolean, jint, jlong, jobject};
use jni::Env;
use parking_lot::Mutex;
use zk_core::client::dispatch::Dispatcher;
use zk_core::client::{runtime, Client, Error};
use zk_core::recipes::{
    Barrier, CacheEvent, ChildData, Counter, CounterFormat, DoubleBarrier, GroupMember,
    LeaderLatch, Leadership, LockGuard, Mutex as Lock, Queue, TreeCache,
};

use crate::errors::Fail;
use crate::handle::handle;
use crate::jvm;

/// `RecipeUpcalls` event kinds.
const LOST: i32 = 1;
const LEADER: i32 = 2;
const NOT_LEADER: i32 = 3;
const LATCH_CLOSED: i32 = 4;
const CACHE_CREATED: i32 = 10;
const CACHE_CHANGED: i32 = 11;
const CACHE_DELETED: i32 = 12;
const CACHE_INITIALIZED: i32 = 13;
const CACHE_SUSPENDED: i32 = 14;
const CACHE_RESYNCED: i32 = 15;
const CACHE_CLOSED: i32 = 16;

enum Recipe {
    Lock(Lock),
    Guard(LockGuard),
    Latch(LeaderLatch),
    Barrier(Barrier),
    DoubleBarrier(DoubleBarrier),
    Queue(Queue),
    Counter(Counter),
    Member(GroupMember),
    Tree(TreeCache),
}

/// A recipe object and the client it belongs to (for its events).
struct Entry {
    h: i64,
    dispatcher: Arc<Dispatcher>,
    recipe: Recipe,
}

static RECIPES: LazyLock<Mutex<HashMap<i64, Arc<Entry>>>> = LazyLock::new(Mutex::default);
static NEXT: AtomicI64 = AtomicI64::new(1);

fn add(h: i64, recipe: Recipe) -> Result<i64, Fail> {
    let handle = handle(h)?;
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    let entry = Entry {
        h,
        dispatcher: handle.dispatcher.clone(),
        recipe,
    };
    RECIPES.lock().insert(id, Arc::new(entry));
    Ok(id)
}

fn entry(id: i64) -> Result<Arc<Entry>, Fail> {
    RECIPES
        .lock()
        .get(&id)
        .cloned()
        .ok_or_else(|| Fail::Argument("this recipe object was closed".into()))
}

/// Removes a recipe object; `None` if unknown, or if a call on it is still running on
/// another thread (it is then dropped when that call ends: locks, memberships and latches
/// end themselves in the background on drop).
fn take(id: i64) -> Option<Entry> {
    let entry = RECIPES.lock().remove(&id)?;
    Arc::try_unwrap(entry).ok()
}

fn client_of(h: i64) -> Result<Client, Fail> {
    Ok(handle(h)?.client.clone())
}

fn wait<T>(future: impl Future<Output = Result<T, Error>>) -> Result<T, Fail> {
    zk_core::client::block_on(&runtime::handle(), future).map_err(|e| Fail::core(e, None))
}

fn timeout(ms: jlong) -> Option<Duration> {
    (ms >= 0).then(|| Duration::from_millis(ms as u64))
}

fn text(env: &Env<'_>, value: &JString<'_>, what: &str) -> Result<String, Fail> {
    jvm::string(env, value)?.ok_or_else(|| Fail::Argument(format!("{what} must not be null")))
}

/// Queues `RecipeUpcalls.event(h, token, what, value, text, data, stat)`.
fn event(
    dispatcher: &Dispatcher,
    h: i64,
    token: i64,
    what: i32,
    value: i64,
    node: Option<ChildData>,
) {
    dispatcher.dispatch(move || {
        jvm::with_env(|env, classes| {
            let (path, data, stat) = match &node {
                Some(node) => (
                    JObject::from(jvm::new_string(env, &node.path)?),
                    JObject::from(jvm::new_bytes(env, &node.data)?),
                    JObject::from(jvm::new_longs(env, &jvm::stat_fields(&node.stat))?),
                ),
                None => (JObject::null(), JObject::null(), JObject::null()),
            };
            jvm::call_void(
                env,
                &classes.recipes,
                0,
                &[
                    jvm::long(h),
                    jvm::long(token),
                    jvm::int(what),
                    jvm::long(value),
                    jvm::object(&path),
                    jvm::object(&data),
                    jvm::object(&stat),
                ],
            );
            Ok(())
        })
    });
}

// ----- common

native!(Java_io_zk_recipes_RecipeNative_free(env, id: jlong) -> () {
    drop(take(id));
    Ok(())
});

// ----- lock (Curator InterProcessMutex layout)

native!(Java_io_zk_recipes_RecipeNative_lockNew(env, h: jlong, path: JString<'l>, data: JByteArray<'l>) -> jlong {
    let path = text(env, &path, "path")?;
    let data = jvm::bytes(env, &data)?.unwrap_or_default();
    let lock = Lock::new(&client_of(h)?, &path).data(&data);
    add(h, Recipe::Lock(lock))
});

native!(
/// A guard id, or 0 when not acquired in time (`timeout_ms` 0: try once; negative: wait).
Java_io_zk_recipes_RecipeNative_lockAcquire(env, id: jlong, timeout_ms: jlong) -> jlong {
    let entry = entry(id)?;
    let Recipe::Lock(lock) = &entry.recipe else {
        return Err(Fail::Argument("not a lock".into()));
    };
    let guard = match timeout(timeout_ms) {
        None => Some(wait(lock.acquire())?),
        Some(d) if d.is_zero() => wait(lock.try_acquire())?,
        Some(d) => wait(lock.acquire_timeout(d))?,
    };
    match guard {
        Some(guard) => add(entry.h, Recipe::Guard(guard)),
        None => Ok(0),
    }
});

native!(Java_io_zk_recipes_RecipeNative_lockContenders(env, id: jlong) -> jobject {
    let entry = entry(id)?;
    let Recipe::Lock(lock) = &entry.recipe else {
        return Err(Fail::Argument("not a lock".into()));
    };
    let names = wait(lock.contenders())?;
    Ok(jvm::new_strings(env, &names)?.into_raw())
});

native!(Java_io_zk_recipes_RecipeNative_guardToken(env, id: jlong) -> jlong {
    match &entry(id)?.recipe {
        Recipe::Guard(guard) => Ok(guard.fencing_token()),
        _ => Err(Fail::Argument("not a lease".into())),
    }
});

native!(Java_io_zk_recipes_RecipeNative_guardPath(env, id: jlong) -> jobject {
    match &entry(id)?.recipe {
        Recipe::Guard(guard) => Ok(jvm::new_string(env, guard.path())?.into_raw()),
        _ => Err(Fail::Argument("not a lease".into())),
    }
});

native!(Java_io_zk_recipes_RecipeNative_guardLost(env, id: jlong) -> jboolean {
    match entry(id) {
        Ok(entry) => match &entry.recipe {
            Recipe::Guard(guard) => Ok(guard.is_lost()),
            _ => Err(Fail::Argument("not a lease".into())),
        },
        // Released: no longer held.
        Err(_) => Ok(true),
    }
});

native!(
/// Reports `LOST` with `token` once the hold is lost (not after a release).
Java_io_zk_recipes_RecipeNative_guardWatch(env, id: jlong, token: jlong) -> () {
    let entry = entry(id)?;
    let Recipe::Guard(guard) = &entry.recipe else {
        return Err(Fail::Argument("not a lease".into()));
    };
    let lost = guard.lost_signal();
    let dispatcher = entry.dispatcher.clone();
    let h = entry.h;
    runtime::handle().spawn(async move {
        lost.await;
        // Released guards leave the table first; their end is not a loss.
        if RECIPES.lock().contains_key(&id) {
            event(&dispatcher, h, token, LOST, 0, None);
        }
    });
    Ok(())
});

native!(Java_io_zk_recipes_RecipeNative_guardRelease(env, id: jlong) -> () {
    if let Some(Entry { recipe: Recipe::Guard(guard), .. }) = take(id) {
        wait(guard.release())?;
    }
    Ok(())
});

// ----- leader latch (Curator LeaderLatch)

native!(Java_io_zk_recipes_RecipeNative_latchStart(env, h: jlong, path: JString<'l>, participant: JString<'l>) -> jlong {
    let path = text(env, &path, "path")?;
    let participant = text(env, &participant, "id")?;
    let client = client_of(h)?;
    let latch = wait(LeaderLatch::start(&client, &path, &participant))?;
    add(h, Recipe::Latch(latch))
});

native!(
/// The fencing token while leading, -1 otherwise.
Java_io_zk_recipes_RecipeNative_latchToken(env, id: jlong) -> jlong {
    match &entry(id)?.recipe {
        Recipe::Latch(latch) => Ok(latch.fencing_token().unwrap_or(-1)),
        _ => Err(Fail::Argument("not a leader latch".into())),
    }
});

native!(Java_io_zk_recipes_RecipeNative_latchAwait(env, id: jlong, timeout_ms: jlong) -> jboolean {
    let entry = entry(id)?;
    let Recipe::Latch(latch) = &entry.recipe else {
        return Err(Fail::Argument("not a leader latch".into()));
    };
    wait(latch.wait_leadership(timeout(timeout_ms)))
});

native!(
/// Reports every change of standing with `token`: LEADER (value: fencing token),
/// NOT_LEADER, LATCH_CLOSED.
Java_io_zk_recipes_RecipeNative_latchWatch(env, id: jlong, token: jlong) -> () {
    let entry = entry(id)?;
    let Recipe::Latch(latch) = &entry.recipe else {
        return Err(Fail::Argument("not a leader latch".into()));
    };
    let mut changes = latch.changes();
    let dispatcher = entry.dispatcher.clone();
    let h = entry.h;
    runtime::handle().spawn(async move {
        let mut last = None;
        loop {
            let now = *changes.borrow_and_update();
            if last != Some(now) {
                last = Some(now);
                let (what, value) = match now {
                    Leadership::Leader { fencing_token } => (LEADER, fencing_token),
                    Leadership::Candidate => (NOT_LEADER, 0),
                    Leadership::Closed => (LATCH_CLOSED, 0),
                };
                event(&dispatcher, h, token, what, value, None);
                if now == Leadership::Closed {
                    return;
                }
            }
            if changes.changed().await.is_err() {
                event(&dispatcher, h, token, LATCH_CLOSED, 0, None);
                return;
            }
        }
    });
    Ok(())
});

native!(
/// `Object[]{String[] ids, int[] leaders}` in line order.
Java_io_zk_recipes_RecipeNative_latchParticipants(env, id: jlong) -> jobject {
    let entry = entry(id)?;
    let Recipe::Latch(latch) = &entry.recipe else {
        return Err(Fail::Argument("not a leader latch".into()));
    };
    let participants = wait(latch.participants())?;
    let ids: Vec<&str> = participants.iter().map(|p| p.id.as_str()).collect();
    let leaders: Vec<i32> = participants.iter().map(|p| i32::from(p.is_leader)).collect();
    let parts = vec![
        JObject::from(jvm::new_strings(env, &ids)?),
        JObject::from(jvm::new_ints(env, &leaders)?),
    ];
    Ok(jvm::new_objects(env, parts)?.into_raw())
});

native!(Java_io_zk_recipes_RecipeNative_latchClose(env, id: jlong) -> () {
    if let Some(Entry { recipe: Recipe::Latch(latch), .. }) = take(id) {
        runtime::handle().block_on(latch.close());
    }
    Ok(())
});

// ----- barriers

native!(Java_io_zk_recipes_RecipeNative_barrierNew(env, h: jlong, path: JString<'l>) -> jlong {
    let path = text(env, &path, "path")?;
    add(h, Recipe::Barrier(Barrier::new(&client_of(h)?, &path)))
});

native!(
/// 1: set (close), 2: remove (open).
Java_io_zk_recipes_RecipeNative_barrierChange(env, id: jlong, set: jboolean) -> () {
    let entry = entry(id)?;
    let Recipe::Barrier(barrier) = &entry.recipe else {
        return Err(Fail::Argument("not a barrier".into()));
    };
    if set { wait(barrier.set()) } else { wait(barrier.remove()) }
});

native!(Java_io_zk_recipes_RecipeNative_barrierWait(env, id: jlong, timeout_ms: jlong) -> jboolean {
    let entry = entry(id)?;
    let Recipe::Barrier(barrier) = &entry.recipe else {
        return Err(Fail::Argument("not a barrier".into()));
    };
    wait(barrier.wait(timeout(timeout_ms)))
});

native!(Java_io_zk_recipes_RecipeNative_doubleBarrierNew(env, h: jlong, path: JString<'l>, members: jint, data: JByteArray<'l>) -> jlong {
    let path = text(env, &path, "path")?;
    if members < 1 {
        return Err(Fail::Argument(format!("a double barrier needs at least one member, not {members}")));
    }
    let data = jvm::bytes(env, &data)?.unwrap_or_default();
    let barrier = DoubleBarrier::new(&client_of(h)?, &path, members as usize).data(&data);
    add(h, Recipe::DoubleBarrier(barrier))
});

native!(Java_io_zk_recipes_RecipeNative_doubleBarrierPass(env, id: jlong, enter: jboolean, timeout_ms: jlong) -> jboolean {
    let entry = entry(id)?;
    let Recipe::DoubleBarrier(barrier) = &entry.recipe else {
        return Err(Fail::Argument("not a double barrier".into()));
    };
    if enter {
        wait(barrier.enter(timeout(timeout_ms)))
    } else {
        wait(barrier.leave(timeout(timeout_ms)))
    }
});

// ----- queue

native!(Java_io_zk_recipes_RecipeNative_queueNew(env, h: jlong, path: JString<'l>) -> jlong {
    let path = text(env, &path, "path")?;
    add(h, Recipe::Queue(Queue::new(&client_of(h)?, &path)))
});

native!(Java_io_zk_recipes_RecipeNative_queuePut(env, id: jlong, item: JByteArray<'l>, priority: jint) -> () {
    let item = jvm::bytes(env, &item)?.ok_or_else(|| Fail::Argument("item must not be null".into()))?;
    let priority = u16::try_from(priority)
        .ok()
        .filter(|p| *p <= 999)
        .ok_or_else(|| Fail::Argument(format!("priority must be 0..=999, not {priority}")))?;
    let entry = entry(id)?;
    let Recipe::Queue(queue) = &entry.recipe else {
        return Err(Fail::Argument("not a queue".into()));
    };
    wait(queue.put_with_priority(&item, priority))
});

native!(
/// The first item (waiting up to `timeout_ms`, negative: forever, 0: not at all), or null.
Java_io_zk_recipes_RecipeNative_queueTake(env, id: jlong, timeout_ms: jlong) -> jobject {
    let entry = entry(id)?;
    let Recipe::Queue(queue) = &entry.recipe else {
        return Err(Fail::Argument("not a queue".into()));
    };
    let item = match timeout(timeout_ms) {
        Some(d) if d.is_zero() => wait(queue.take())?,
        limit => wait(queue.take_timeout(limit))?,
    };
    match item {
        Some(item) => Ok(jvm::new_bytes(env, &item)?.into_raw()),
        None => Ok(std::ptr::null_mut()),
    }
});

native!(Java_io_zk_recipes_RecipeNative_queueSize(env, id: jlong) -> jint {
    let entry = entry(id)?;
    let Recipe::Queue(queue) = &entry.recipe else {
        return Err(Fail::Argument("not a queue".into()));
    };
    Ok(i32::try_from(wait(queue.len())?).unwrap_or(i32::MAX))
});

// ----- counter

native!(
/// `format`: 0 text (kazoo), 1 int32 (Curator SharedCount), 2 int64 (DistributedAtomicLong).
Java_io_zk_recipes_RecipeNative_counterNew(env, h: jlong, path: JString<'l>, format: jint, default_value: jlong) -> jlong {
    let path = text(env, &path, "path")?;
    let format = match format {
        0 => CounterFormat::Text,
        1 => CounterFormat::Int32,
        2 => CounterFormat::Int64,
        other => return Err(Fail::Argument(format!("unknown counter format {other}"))),
    };
    let counter = Counter::new(&client_of(h)?, &path).format(format).default_value(default_value);
    add(h, Recipe::Counter(counter))
});

native!(
/// `op`: 0 get, 1 add (returns the new value), 2 set (returns the old value).
Java_io_zk_recipes_RecipeNative_counterUpdate(env, id: jlong, op: jint, value: jlong) -> jlong {
    let entry = entry(id)?;
    let Recipe::Counter(counter) = &entry.recipe else {
        return Err(Fail::Argument("not a counter".into()));
    };
    match op {
        0 => wait(counter.get()),
        1 => Ok(wait(counter.add(value))?.1),
        2 => wait(counter.set(value)),
        other => Err(Fail::Argument(format!("unknown counter operation {other}"))),
    }
});

native!(Java_io_zk_recipes_RecipeNative_counterCompareAndSet(env, id: jlong, expected: jlong, value: jlong) -> jboolean {
    let entry = entry(id)?;
    let Recipe::Counter(counter) = &entry.recipe else {
        return Err(Fail::Argument("not a counter".into()));
    };
    wait(counter.compare_and_set(expected, value))
});

// ----- group membership (Curator GroupMember)

native!(Java_io_zk_recipes_RecipeNative_groupJoin(env, h: jlong, group: JString<'l>, member: JString<'l>, data: JByteArray<'l>) -> jlong {
    let group = text(env, &group, "group")?;
    let member = text(env, &member, "id")?;
    let data = jvm::bytes(env, &data)?.unwrap_or_default();
    let client = client_of(h)?;
    let joined = wait(GroupMember::join(&client, &group, &member, &data))?;
    add(h, Recipe::Member(joined))
});

native!(
/// `Object[]{String[] ids, Object[] datas}` of the group at `group`.
Java_io_zk_recipes_RecipeNative_groupMembers(env, h: jlong, group: JString<'l>) -> jobject {
    let group = text(env, &group, "group")?;
    let client = client_of(h)?;
    let members = wait(GroupMember::members_of(&client, &group))?;
    let ids: Vec<&str> = members.keys().map(String::as_str).collect();
    let mut datas = Vec::with_capacity(members.len());
    for data in members.values() {
        datas.push(JObject::from(jvm::new_bytes(env, data)?));
    }
    let parts = vec![JObject::from(jvm::new_strings(env, &ids)?), JObject::from(jvm::new_objects(env, datas)?)];
    Ok(jvm::new_objects(env, parts)?.into_raw())
});

native!(Java_io_zk_recipes_RecipeNative_groupSetData(env, id: jlong, data: JByteArray<'l>) -> () {
    let data = jvm::bytes(env, &data)?.unwrap_or_default();
    let entry = entry(id)?;
    let Recipe::Member(member) = &entry.recipe else {
        return Err(Fail::Argument("not a group member".into()));
    };
    wait(member.set_data(&data))
});

native!(Java_io_zk_recipes_RecipeNative_groupLeave(env, id: jlong) -> () {
    if let Some(Entry { recipe: Recipe::Member(member), .. }) = take(id) {
        wait(member.leave())?;
    }
    Ok(())
});

// ----- tree cache (Curator TreeCache / CuratorCache)

native!(
/// Starts the cache; its events go to `token` (CACHE_*; the node's path, data and Stat).
Java_io_zk_recipes_RecipeNative_treeStart(env, h: jlong, path: JString<'l>, token: jlong) -> jlong {
    let path = text(env, &path, "path")?;
    let handle = handle(h)?;
    let (cache, mut events) = wait(TreeCache::start(&handle.client, &path))?;
    let id = add(h, Recipe::Tree(cache))?;
    let dispatcher = handle.dispatcher.clone();
    runtime::handle().spawn(async move {
        while let Some(next) = events.next().await {
            let (what, node) = match next {
                CacheEvent::Created(node) => (CACHE_CREATED, Some(node)),
                CacheEvent::Changed(node) => (CACHE_CHANGED, Some(node)),
                CacheEvent::Deleted(node) => (CACHE_DELETED, Some(node)),
                CacheEvent::Initialized => (CACHE_INITIALIZED, None),
                CacheEvent::Suspended => (CACHE_SUSPENDED, None),
                CacheEvent::Resynced => (CACHE_RESYNCED, None),
                CacheEvent::Closed => (CACHE_CLOSED, None),
            };
            event(&dispatcher, h, token, what, 0, node);
            if what == CACHE_CLOSED {
                return;
            }
        }
        event(&dispatcher, h, token, CACHE_CLOSED, 0, None);
    });
    Ok(id)
});

fn node_value<'l>(env: &mut Env<'l>, node: &ChildData) -> jni::errors::Result<JObject<'l>> {
    let parts = vec![
        JObject::from(jvm::new_bytes(env, &node.data)?),
        JObject::from(jvm::new_longs(env, &jvm::stat_fields(&node.stat))?),
    ];
    Ok(jvm::new_objects(env, parts)?.into())
}

native!(
/// `Object[]{byte[] data, long[] stat}` of a cached node, or null.
Java_io_zk_recipes_RecipeNative_treeGet(env, id: jlong, path: JString<'l>) -> jobject {
    let path = text(env, &path, "path")?;
    let entry = entry(id)?;
    let Recipe::Tree(cache) = &entry.recipe else {
        return Err(Fail::Argument("not a tree cache".into()));
    };
    match cache.get(&path) {
        Some(node) => Ok(node_value(env, &node)?.into_raw()),
        None => Ok(std::ptr::null_mut()),
    }
});

native!(Java_io_zk_recipes_RecipeNative_treeChildren(env, id: jlong, path: JString<'l>) -> jobject {
    let path = text(env, &path, "path")?;
    let entry = entry(id)?;
    let Recipe::Tree(cache) = &entry.recipe else {
        return Err(Fail::Argument("not a tree cache".into()));
    };
    Ok(jvm::new_strings(env, &cache.children(&path))?.into_raw())
});

native!(
/// `Object[]{String[] paths, Object[] nodes}` of every cached node.
Java_io_zk_recipes_RecipeNative_treeSnapshot(env, id: jlong) -> jobject {
    let entry = entry(id)?;
    let Recipe::Tree(cache) = &entry.recipe else {
        return Err(Fail::Argument("not a tree cache".into()));
    };
    let snapshot = cache.snapshot();
    let paths: Vec<&str> = snapshot.keys().map(String::as_str).collect();
    let mut nodes = Vec::with_capacity(snapshot.len());
    for node in snapshot.values() {
        nodes.push(node_value(env, node)?);
    }
    let parts = vec![JObject::from(jvm::new_strings(env, &paths)?), JObject::from(jvm::new_objects(env, nodes)?)];
    Ok(jvm::new_objects(env, parts)?.into_raw())
});
