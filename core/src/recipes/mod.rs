//! Coordination recipes on Apache Curator's and kazoo's znode layouts, so a lock taken
//! here excludes a Curator or kazoo lock on the same path and the other way round.
//!
//! # Layout
//!
//! Module map:
//!
//! - `lock.rs`: [`Mutex`], [`ReadWriteLock`] and the [`LockGuard`] every lock, lease and
//!   leadership hands out (fencing token, lost flag).
//! - `semaphore.rs`: [`Semaphore`] (Curator `InterProcessSemaphoreV2`).
//! - `election.rs`: [`LeaderLatch`] (Curator `LeaderLatch`) and [`LeaderSelector`]
//!   (Curator `LeaderSelector`, kazoo `Election`).
//! - `barrier.rs`: [`Barrier`] and [`DoubleBarrier`].
//! - `queue.rs`: [`Queue`], FIFO with optional priorities (kazoo `Queue`).
//! - `locking_queue.rs`: [`LockingQueue`], entries locked while processed (kazoo `LockingQueue`).
//! - `counter.rs`: [`Counter`] (kazoo `Counter`, Curator `SharedCount`/`DistributedAtomicLong`).
//! - `group.rs`: [`GroupMember`] (Curator `GroupMember`).
//! - `cache.rs`: [`NodeCache`], [`ChildrenCache`], [`TreeCache`] on persistent watches.
//! - `watcher.rs`: [`DataWatcher`], [`ChildrenWatcher`] on one-shot watches (kazoo
//!   `DataWatch`, `ChildrenWatch`).
//! - [`elector`]: [`ActiveStandbyElector`] (Hadoop's, for HA failover controllers) and
//!   Hadoop's `ActiveNodeInfo` protobuf.
//! - `util.rs`: path helpers, retries, contender parsing, the lost-flag monitor.
//!
//! Znodes each recipe writes (`<uuid>` is a random v4 UUID, `<seq>` the server's ten-digit
//! sequence suffix):
//!
//! | recipe | znodes | compatible with |
//! |---|---|---|
//! | [`Mutex`], [`Layout::Curator`] | `<path>/_c_<uuid>-lock-<seq>`, ephemeral sequential | Curator `InterProcessMutex`; kazoo `Lock(..., extra_lock_patterns=["-lock-"])` |
//! | [`Mutex`], [`Layout::Kazoo`] | `<path>/_c_<uuid>-__lock__<seq>` | kazoo `Lock`/`Election` (default patterns) |
//! | [`ReadWriteLock`] | Curator `_c_<uuid>-__WRIT__<seq>` / `_c_<uuid>-__READ__<seq>`; kazoo `..__lock__<seq>` / `..__rlock__<seq>` | Curator `InterProcessReadWriteLock`; kazoo `WriteLock`/`ReadLock` |
//! | [`Semaphore`] | `<path>/locks/_c_<uuid>-lock-<seq>` (a mutex), `<path>/leases/_c_<uuid>-lease-<seq>` | Curator `InterProcessSemaphoreV2` |
//! | [`Semaphore`], [`Layout::Kazoo`] | `<path>-__lock__/_c_<uuid>-__lock__<seq>` (a mutex), `<path>/<uuid hex>` ephemeral, data = identifier; `<path>` data = max leases | kazoo `Semaphore` |
//! | [`LeaderLatch`] | `<path>/_c_<uuid>-latch-<seq>`, data = participant id | Curator `LeaderLatch` |
//! | [`LeaderSelector`] | the [`Mutex`] layout, data = participant id | Curator `LeaderSelector` (Curator layout), kazoo `Election` (kazoo layout) |
//! | [`Barrier`] | `<path>` exists = closed | Curator `DistributedBarrier`, kazoo `Barrier` |
//! | [`DoubleBarrier`] | members `<path>/<uuid>` ephemeral, `<path>/ready` persistent | Curator `DistributedDoubleBarrier`, kazoo `DoubleBarrier` |
//! | [`Queue`] | `<path>/entry-<priority:03>-<seq>` persistent sequential, data = item | kazoo `Queue` |
//! | [`LockingQueue`] | `<path>/entries/entry-<priority:03>-<seq>`, lock `<path>/taken/<entry>` ephemeral, data = taker id | kazoo `LockingQueue` |
//! | [`Counter`] | `<path>`, data = decimal text ([`CounterFormat::Text`]) or big-endian i32/i64 | kazoo `Counter` / Curator `SharedCount` / Curator `DistributedAtomicLong` |
//! | [`GroupMember`] | `<path>/<member id>` ephemeral, data = member data | Curator `GroupMember` |
//! | [`ActiveStandbyElector`] | `<root>/<nameservice>/ActiveStandbyElectorLock` ephemeral, `.../ActiveBreadCrumb` persistent, data = candidate's data (`ActiveNodeInfo`) | Hadoop `ActiveStandbyElector` (HDFS ZKFC) |
//!
//! What decided these layouts (read from Curator's and kazoo 2.11's sources):
//!
//! - Curator sorts *every* child of a lock path by the text after the last `lock-` in its
//!   name (`StandardLockInternalsDriver.fixForSorting`); a name without `lock-` sorts by
//!   its whole text. kazoo's `Lock` only counts children matching
//!   `(?:__lock__|<extra patterns>)(-?\d{10})$` and orders them by that sequence. No single
//!   name satisfies both, so a lock writes one layout ([`Layout`]) and *reads* both: our
//!   contenders are every child ending in a known marker (`lock-`, `__lock__`, `__WRIT__`,
//!   `__READ__`, `__rlock__`) followed by the sequence, ordered by the sequence number.
//!   A Curator-layout lock is seen by kazoo only with `extra_lock_patterns=["-lock-"]`;
//!   a kazoo-layout lock is seen by kazoo's defaults, but Curator sorts any name without
//!   `lock-` after all of its own, so never put kazoo-layout contenders (ours or kazoo's)
//!   on a path Curator clients lock. Our own contenders order correctly in any mix.
//! - Sequential znodes are created with Curator's protection ([`create_protected`]): the
//!   name starts `_c_<uuid>-`, so after a connection loss the client lists the parent and
//!   finds its node instead of creating a second one. kazoo's regex and Curator's
//!   `lock-` suffix rule both ignore that prefix.
//! - Queue entries cannot carry the prefix: kazoo consumers sort entry names as text, and a
//!   UUID before the sequence would break FIFO order. [`Queue`] and [`Counter`] resolve
//!   an unknown outcome instead with an ephemeral *outcome marker* created in the same
//!   multi as the write (queue: `<path>-markers/<uuid>`; counter: `<path>/_c_<uuid>-marker`)
//!   and looked up after the reconnect.
//!
//! Session loss: a [`LockGuard`] (lock, lease, leadership) is *lost* as soon as the client
//! reports [`SessionState::Suspended`](crate::client::SessionState::Suspended), `Expired`,
//! `AuthFailed` or `Closed`, when the client's state-event stream lagged (a suspension may
//! have been missed) or when its znode is deleted. Curator revokes only on `LOST` by default;
//! we revoke on `Suspended` because while disconnected a holder cannot know whether its
//! session (and so its znode) still exists. Every guard carries a fencing token, the czxid
//! of its znode: a later holder always has a larger token.

mod barrier;
mod cache;
mod counter;
mod election;
pub mod elector;
mod group;
mod lock;
mod locking_queue;
mod queue;
mod semaphore;
mod util;
mod watcher;

pub use barrier::{Barrier, DoubleBarrier};
pub use cache::{CacheEvent, CacheEvents, ChildData, ChildrenCache, NodeCache, TreeCache};
pub use counter::{Counter, CounterFormat};
pub use election::{LeaderLatch, LeaderSelector, Leadership, Participant};
pub use elector::{
    ActiveNodeInfo, ActiveStandbyElector, ElectorConfig, ElectorEvent, ElectorState,
};
pub use group::GroupMember;
pub use lock::{LockGuard, Mutex, ReadWriteLock};
pub use locking_queue::LockingQueue;
pub use queue::Queue;
pub use semaphore::Semaphore;
pub use watcher::{ChildrenChange, ChildrenWatcher, DataChange, DataWatcher};

use std::time::Duration;

use crate::client::{Client, Error, Result};
use crate::proto::{Acl, CreateMode, ErrorCode, Stat};

/// Which library's znode names a lock or election writes. Both are always *read*.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Layout {
    /// Apache Curator's names (`-lock-`, `__WRIT__`, `__READ__`), the default.
    #[default]
    Curator,
    /// kazoo's names (`__lock__`, `__rlock__`), seen by kazoo's `Lock`, `Election`,
    /// `WriteLock` and `ReadLock` without extra patterns.
    Kazoo,
}

/// Creates `path` and any missing parents as persistent nodes with empty data; an
/// existing node is success.
pub async fn ensure_path(client: &Client, path: &str) -> Result<()> {
    util::ensure_path(client, path, &Acl::open_unsafe(), CreateMode::Persistent).await
}

/// Like [`ensure_path`], giving every node it creates `acl` (kazoo's `ensure_path(path, acl)`).
pub async fn ensure_path_with_acl(client: &Client, path: &str, acl: &[Acl]) -> Result<()> {
    util::ensure_path(client, path, acl, CreateMode::Persistent).await
}

/// Creates a node as [`Client::create_with`] does, first creating missing parents as
/// persistent nodes with empty data and `acl` (kazoo's `makepath`, Curator's
/// `creatingParentsIfNeeded`). A parent deleted again before the create is made again.
pub async fn create_with_parents(
    client: &Client,
    path: &str,
    data: Option<&[u8]>,
    acl: &[Acl],
    mode: CreateMode,
    ttl: Option<Duration>,
) -> Result<(String, Stat)> {
    let (parent, _) = util::split(path)?;
    for _ in 0..5 {
        match client.create_with(path, data, acl, mode, ttl).await {
            Err(Error::Server(ErrorCode::NoNode)) => {
                util::ensure_path(client, parent, acl, CreateMode::Persistent).await?
            }
            other => return other,
        }
    }
    Err(Error::Server(ErrorCode::NoNode))
}

/// Deletes `path` and everything below it; a missing node is success. Children created
/// concurrently are deleted too (the delete of a parent is retried while it is not empty).
pub async fn delete_recursive(client: &Client, path: &str) -> Result<()> {
    util::delete_recursive(client, path).await
}

/// Creates a node with Curator's protection: the last segment of `path` is prefixed with
/// `_c_<uuid>-`. If the create ends in a connection loss (or request timeout), waits for
/// the reconnect, lists the parent and returns the node carrying that UUID; only when
/// there is none is the create sent again. The caller so always learns whether its node
/// exists. Returns the created path (with any sequence suffix) and its Stat.
///
/// Fails with `SessionExpired` when the session ends first (ephemeral nodes are then
/// gone with it).
///
/// Cancel-safe: if the returned future is dropped before it returns (an acquire given up,
/// a task cancelled), a node the create may have made is found by its UUID and deleted in
/// the background, so nothing is left that nobody knows of.
pub async fn create_protected(
    client: &Client,
    path: &str,
    data: &[u8],
    acl: &[Acl],
    mode: CreateMode,
) -> Result<(String, Stat)> {
    let (parent, name) = util::split(path)?;
    let prefix = format!("_c_{}-", util::uuid_v4());
    let full = util::join(parent, &format!("{prefix}{name}"));
    let mut unclaimed = Unclaimed {
        client: client.clone(),
        parent: parent.to_owned(),
        prefix: prefix.clone(),
        armed: true,
    };
    let mut sent = false;
    loop {
        if sent {
            match find_protected(client, parent, &prefix, mode).await {
                Ok(Some(found)) => {
                    unclaimed.armed = false;
                    return Ok(found);
                }
                Ok(None) => {}
                Err(e) if e.is_connection_loss() => {
                    util::await_reconnect(client).await?;
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
        sent = true;
        match client.create(&full, data, acl, mode).await {
            Ok(created) => {
                unclaimed.armed = false;
                return Ok(created);
            }
            Err(e) if e.is_connection_loss() => util::await_reconnect(client).await?,
            Err(e) => {
                unclaimed.armed = false;
                return Err(e);
            }
        }
    }
}

/// The node of a protected create whose caller went away before learning of it: deleted in
/// the background when dropped armed. Requests of one session are answered in order, so the
/// listing sent after the create sees it.
struct Unclaimed {
    client: Client,
    parent: String,
    prefix: String,
    armed: bool,
}

impl Drop for Unclaimed {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (client, parent, prefix) = (
            self.client.clone(),
            std::mem::take(&mut self.parent),
            std::mem::take(&mut self.prefix),
        );
        crate::client::runtime::spawn(async move {
            let listed = util::retry(&client, || client.get_children(&parent)).await;
            for child in listed.iter().flatten().filter(|c| c.starts_with(&prefix)) {
                let path = util::join(&parent, child);
                let _ = util::retry(&client, || client.delete(&path, -1)).await;
            }
        });
    }
}

/// The node `create_protected` made under `parent`, if the server has it. An ephemeral
/// node of another session (the session changed under us) is deleted and not returned.
async fn find_protected(
    client: &Client,
    parent: &str,
    prefix: &str,
    mode: CreateMode,
) -> Result<Option<(String, Stat)>> {
    // The sync orders this read after anything the lost connection had submitted.
    match client.sync(parent).await {
        Ok(()) | Err(Error::Server(ErrorCode::NoNode)) => {}
        Err(e) => return Err(e),
    }
    let children = match client.get_children(parent).await {
        Ok(children) => children,
        Err(Error::Server(ErrorCode::NoNode)) => return Ok(None),
        Err(e) => return Err(e),
    };
    for child in children.iter().filter(|c| c.starts_with(prefix)) {
        let path = util::join(parent, child);
        let Some(stat) = client.exists(&path).await? else {
            continue;
        };
        if mode.is_ephemeral() && stat.ephemeral_owner != client.session_id() {
            let _ = client.delete(&path, -1).await;
            continue;
        }
        return Ok(Some((path, stat)));
    }
    Ok(None)
}
