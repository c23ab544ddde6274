//! [`Mutex`] and [`ReadWriteLock`] on Curator's (or kazoo's) lock layout, and the
//! [`LockGuard`] they hand out.
//!
//! Acquiring: create an ephemeral sequential node (protected, see
//! [`create_protected`](super::create_protected)), list the lock's children, and hold when
//! no contender that excludes us has a lower sequence number; otherwise watch the nearest
//! such contender and look again when it changes. Only that one node is watched, so a
//! release wakes one waiter.
//!
//! Contenders are read in both libraries' names (see the module `Layout` table): an
//! exclusive contender (`lock-`, `__lock__`, `__WRIT__`) excludes everyone after it; a
//! shared one (`__READ__`, `__rlock__`) excludes only exclusive contenders after it.
//! Locks are not re-entrant: a second `acquire` on a held lock waits for the first guard.

use std::time::Duration;

use tokio::sync::{broadcast, watch};
use tokio::time::Instant;

use super::util::{self, Contender};
use super::Layout;
use crate::client::{Client, Error, Result, StateEvent};
use crate::proto::{CreateMode, ErrorCode};

/// An exclusive lock (Curator `InterProcessMutex`, kazoo `Lock`).
#[derive(Clone)]
pub struct Mutex {
    client: Client,
    path: String,
    kind: Kind,
    layout: Layout,
    data: Vec<u8>,
}

/// A held lock, lease or leadership.
///
/// It is *lost* once the client is suspended, expires or closes, or the node is deleted
/// by someone else: stop acting on it then (see [`LockGuard::lost`]). Dropping the guard
/// deletes the node in the background; [`LockGuard::release`] deletes it and waits.
pub struct LockGuard {
    client: Client,
    path: String,
    token: i64,
    lost: watch::Receiver<bool>,
    held: bool,
}

/// A read-write lock (Curator `InterProcessReadWriteLock`, kazoo `ReadLock`/`WriteLock`):
/// any number of readers or one writer; a writer waits for every earlier contender, a
/// reader only for earlier writers.
#[derive(Clone)]
pub struct ReadWriteLock {
    read: Mutex,
    write: Mutex,
}

impl Mutex {
    /// A lock on `path` (created on first use, with container parents).
    pub fn new(client: &Client, path: &str) -> Mutex {
        Mutex {
            client: client.clone(),
            path: path.to_owned(),
            kind: Kind::Exclusive,
            layout: Layout::Curator,
            data: Vec::new(),
        }
    }

    /// Which library's node names to write (both are always honoured when reading).
    pub fn layout(mut self, layout: Layout) -> Mutex {
        self.layout = layout;
        self
    }

    /// Data stored in this contender's node (Curator's lock node bytes, kazoo's identifier).
    pub fn data(mut self, data: &[u8]) -> Mutex {
        self.data = data.to_vec();
        self
    }

    /// The lock's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// Waits as long as it takes.
    pub async fn acquire(&self) -> Result<LockGuard> {
        match self.acquire_inner(None, true).await? {
            Some(guard) => Ok(guard),
            None => Err(Error::Timeout),
        }
    }

    /// Waits at most `timeout`; `None` if the lock was not acquired by then.
    pub async fn acquire_timeout(&self, timeout: Duration) -> Result<Option<LockGuard>> {
        self.acquire_inner(util::deadline(Some(timeout)), true)
            .await
    }

    /// Takes the lock only if nobody holds or waits for it ahead of us.
    pub async fn try_acquire(&self) -> Result<Option<LockGuard>> {
        self.acquire_inner(None, false).await
    }

    /// The contenders' node names in lock order (holder first).
    pub async fn contenders(&self) -> Result<Vec<String>> {
        let children = util::children_or_empty(&self.client, &self.path).await?;
        Ok(util::lock_contenders(&children)
            .into_iter()
            .map(|c| c.name)
            .collect())
    }

    /// The node name (before the sequence) this lock creates.
    fn node_name(&self) -> &'static str {
        match (self.kind, self.layout) {
            (Kind::Exclusive, Layout::Curator) => "lock-",
            (Kind::Write, Layout::Curator) => "__WRIT__",
            (Kind::Read, Layout::Curator) => "__READ__",
            (Kind::Exclusive | Kind::Write, Layout::Kazoo) => "__lock__",
            (Kind::Read, Layout::Kazoo) => "__rlock__",
        }
    }

    pub(crate) async fn acquire_inner(
        &self,
        deadline: Option<Instant>,
        wait: bool,
    ) -> Result<Option<LockGuard>> {
        for _ in 0..MAX_ATTEMPTS {
            let (path, stat) = util::create_protected_in(
                &self.client,
                &util::join(&self.path, self.node_name()),
                &self.data,
                CreateMode::EphemeralSequential,
            )
            .await?;
            // Deletes the node if this future is dropped or fails before holding.
            let mut cleanup = Cleanup::new(&self.client, &path);
            let ours = util::name_of(&path).to_owned();
            match self.wait_turn(&ours, deadline, wait).await? {
                Turn::Holds(events) => {
                    cleanup.disarm();
                    return Ok(Some(LockGuard::new(
                        self.client.clone(),
                        path,
                        stat.czxid,
                        events,
                    )));
                }
                Turn::Vanished => cleanup.disarm(),
                Turn::GaveUp => {
                    cleanup.disarm();
                    delete_node(&self.client, &path).await?;
                    return Ok(None);
                }
            }
        }
        Err(Error::Server(ErrorCode::NoNode))
    }

    /// Waits until `ours` holds (or the deadline passes, or `wait` is false and it does
    /// not hold at once).
    async fn wait_turn(&self, ours: &str, deadline: Option<Instant>, wait: bool) -> Result<Turn> {
        loop {
            // Subscribed before the check, so a suspension after it is seen by the guard.
            let events = self.client.state_events();
            let children = util::children_or_empty(&self.client, &self.path).await?;
            let contenders = util::lock_contenders(&children);
            let Some(index) = contenders.iter().position(|c| c.name == ours) else {
                return Ok(Turn::Vanished);
            };
            let Some(blocker) = self.kind.blocker(&contenders, index) else {
                return Ok(Turn::Holds(events));
            };
            if !wait {
                return Ok(Turn::GaveUp);
            }
            let blocker = util::join(&self.path, &blocker.name);
            match util::retry(&self.client, || self.client.get_data_watch(&blocker)).await {
                Err(Error::Server(ErrorCode::NoNode)) => continue,
                Err(e) => return Err(e),
                Ok((_, _, watch)) => {
                    if util::until(deadline, watch.changed()).await.is_none() {
                        return Ok(Turn::GaveUp);
                    }
                }
            }
        }
    }
}

impl LockGuard {
    pub(crate) fn new(
        client: Client,
        path: String,
        token: i64,
        events: broadcast::Receiver<StateEvent>,
    ) -> LockGuard {
        let lost = util::watch_lost(client.clone(), path.clone(), events);
        LockGuard {
            client,
            path,
            token,
            lost,
            held: true,
        }
    }

    /// The fencing token: the czxid of this guard's node. Every later holder of the same
    /// lock has a larger one, so a resource that remembers the largest token it has seen
    /// can refuse a stale holder.
    pub fn fencing_token(&self) -> i64 {
        self.token
    }

    /// The path of this guard's node.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Whether the hold is lost (see [`LockGuard::lost`]).
    pub fn is_lost(&self) -> bool {
        *self.lost.borrow()
    }

    /// Resolves once the hold is lost: the client was suspended (disconnected), its
    /// session expired or it was closed, or the node was deleted. After a suspension the
    /// node may still exist; [`LockGuard::release`] removes it.
    pub async fn lost(&self) {
        let mut lost = self.lost.clone();
        let _ = lost.wait_for(|lost| *lost).await;
    }

    /// Resolves once the hold is lost, as [`LockGuard::lost`] does, but owns what it needs
    /// instead of borrowing the guard, so a binding can report the loss from a task of its
    /// own while the guard is still free to be released (the deletion of the node by
    /// [`LockGuard::release`] also ends the hold and resolves it).
    pub fn lost_signal(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut lost = self.lost.clone();
        async move {
            let _ = lost.wait_for(|lost| *lost).await;
        }
    }

    /// Deletes the node (waiting through a reconnect). A node already gone is success, and
    /// so is an ended session: the node was ephemeral and went with it.
    pub async fn release(mut self) -> Result<()> {
        self.held = false;
        match delete_node(&self.client, &self.path).await {
            Err(Error::SessionExpired | Error::Closed) => Ok(()),
            other => other,
        }
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if self.held {
            spawn_delete(self.client.clone(), std::mem::take(&mut self.path));
        }
    }
}

impl std::fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockGuard")
            .field("path", &self.path)
            .field("fencing_token", &self.token)
            .field("lost", &self.is_lost())
            .finish()
    }
}

impl ReadWriteLock {
    /// A read-write lock on `path`.
    pub fn new(client: &Client, path: &str) -> ReadWriteLock {
        let base = Mutex::new(client, path);
        ReadWriteLock {
            read: Mutex {
                kind: Kind::Read,
                ..base.clone()
            },
            write: Mutex {
                kind: Kind::Write,
                ..base
            },
        }
    }

    /// Which library's node names to write.
    pub fn layout(self, layout: Layout) -> ReadWriteLock {
        ReadWriteLock {
            read: self.read.layout(layout),
            write: self.write.layout(layout),
        }
    }

    /// Data stored in this process's contender nodes.
    pub fn data(self, data: &[u8]) -> ReadWriteLock {
        ReadWriteLock {
            read: self.read.data(data),
            write: self.write.data(data),
        }
    }

    /// The shared side: holds while no earlier writer does.
    pub fn read_lock(&self) -> &Mutex {
        &self.read
    }

    /// The exclusive side: holds when every earlier contender is gone.
    pub fn write_lock(&self) -> &Mutex {
        &self.write
    }
}

// ----- internals -----

/// Attempts after our node vanished (deleted by someone else) before giving up.
const MAX_ATTEMPTS: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Exclusive,
    Write,
    Read,
}

impl Kind {
    /// The contender `contenders[index]` must wait for, if any: the nearest earlier one
    /// that excludes it.
    fn blocker(self, contenders: &[Contender], index: usize) -> Option<&Contender> {
        let earlier = contenders.get(..index)?;
        match self {
            Kind::Exclusive | Kind::Write => earlier.last(),
            Kind::Read => earlier.iter().rev().find(|c| !c.shared),
        }
    }
}

enum Turn {
    Holds(broadcast::Receiver<StateEvent>),
    Vanished,
    GaveUp,
}

/// Deletes a node when dropped armed: no contender node outlives a cancelled acquire.
pub(crate) struct Cleanup {
    client: Client,
    path: Option<String>,
}

impl Cleanup {
    pub(crate) fn new(client: &Client, path: &str) -> Cleanup {
        Cleanup {
            client: client.clone(),
            path: Some(path.to_owned()),
        }
    }

    pub(crate) fn disarm(&mut self) {
        self.path = None;
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            spawn_delete(self.client.clone(), path);
        }
    }
}

/// Deletes `path`, retrying through reconnects; a missing node is success.
pub(crate) async fn delete_node(client: &Client, path: &str) -> Result<()> {
    match util::retry(client, || client.delete(path, -1)).await {
        Ok(()) | Err(Error::Server(ErrorCode::NoNode)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Deletes `path` in the background (from `Drop`).
pub(crate) fn spawn_delete(client: Client, path: String) {
    crate::client::runtime::spawn(async move {
        let _ = delete_node(&client, &path).await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(seq: i64, shared: bool) -> Contender {
        Contender {
            name: format!("n{seq}"),
            seq,
            shared,
        }
    }

    #[test]
    fn blockers() {
        let list = [c(1, true), c(2, false), c(3, true), c(4, true), c(5, false)];
        assert_eq!(Kind::Exclusive.blocker(&list, 0), None);
        assert_eq!(Kind::Exclusive.blocker(&list, 3).map(|c| c.seq), Some(3));
        assert_eq!(Kind::Read.blocker(&list, 0), None);
        assert_eq!(Kind::Read.blocker(&list, 3).map(|c| c.seq), Some(2));
        assert_eq!(Kind::Write.blocker(&list, 4).map(|c| c.seq), Some(4));
        let readers = [c(1, true), c(2, true)];
        assert_eq!(Kind::Read.blocker(&readers, 1), None);
    }
}
