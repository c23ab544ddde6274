//! Local caches of znodes kept current by one persistent watch: [`NodeCache`] (one node,
//! `Persistent` watch), [`ChildrenCache`] (the children of a node, like Curator's
//! `PathChildrenCache`) and [`TreeCache`] (a whole subtree), both on a
//! `PersistentRecursive` watch, as Curator's `CuratorCache` does.
//!
//! Starting registers the watch first and then loads the data, so no change falls between
//! the two; the load is reported as `Created` events followed by one
//! [`CacheEvent::Initialized`]. Afterwards each notification re-reads the node it names.
//! Persistent watches are not replayed after a reconnect (the server re-registers them
//! without catch-up events) and a full event queue drops events, so on a reconnect after
//! a disconnection, and on [`Overflow`](crate::client::Overflow), the cache reloads
//! everything, reports the differences as `Created`/`Changed`/`Deleted` and then
//! [`CacheEvent::Resynced`].

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::RwLock;
use tokio::sync::{mpsc, oneshot};

use super::util;
use crate::client::{Client, Error, PersistentWatch, Result, WatchedEvent};
use crate::proto::{AddWatchMode, ErrorCode, EventType, KeeperState, Stat};

/// A cached node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildData {
    pub path: String,
    pub data: Vec<u8>,
    pub stat: Stat,
}

/// What a cache reports, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheEvent {
    Created(ChildData),
    /// The data changed (a new `mzxid`).
    Changed(ChildData),
    /// The node is gone; its last cached state.
    Deleted(ChildData),
    /// The initial load is complete (sent once).
    Initialized,
    /// The client was disconnected: the cache may be stale until [`CacheEvent::Resynced`].
    Suspended,
    /// A reload after a reconnect or lost events finished; the differences it found were
    /// reported just before.
    Resynced,
    /// The cache stopped (closed, or the session ended). Nothing follows.
    Closed,
}

/// The events of one cache.
pub struct CacheEvents {
    rx: mpsc::UnboundedReceiver<CacheEvent>,
}

/// One node's data.
pub struct NodeCache {
    core: Core,
}

/// The children of one node and their data.
pub struct ChildrenCache {
    core: Core,
}

/// A subtree, its root included.
pub struct TreeCache {
    core: Core,
}

impl CacheEvents {
    /// The next event; `None` after [`CacheEvent::Closed`].
    pub async fn next(&mut self) -> Option<CacheEvent> {
        self.rx.recv().await
    }

    /// The next event if one is waiting.
    pub fn try_next(&mut self) -> Option<CacheEvent> {
        self.rx.try_recv().ok()
    }
}

impl NodeCache {
    /// Starts caching the node at `path` (which need not exist yet).
    pub async fn start(client: &Client, path: &str) -> Result<(NodeCache, CacheEvents)> {
        let (core, events) = Core::start(client, path, Scope::Node).await?;
        Ok((NodeCache { core }, events))
    }

    /// The node, if it exists.
    pub fn get(&self) -> Option<ChildData> {
        self.core.nodes.read().get(&self.core.root).cloned()
    }

    /// Stops the cache (also done on drop).
    pub fn close(self) {}
}

impl ChildrenCache {
    /// Starts caching the children of `path`.
    pub async fn start(client: &Client, path: &str) -> Result<(ChildrenCache, CacheEvents)> {
        let (core, events) = Core::start(client, path, Scope::Children).await?;
        Ok((ChildrenCache { core }, events))
    }

    /// The children by name.
    pub fn children(&self) -> BTreeMap<String, ChildData> {
        self.core
            .nodes
            .read()
            .iter()
            .map(|(path, data)| (util::name_of(path).to_owned(), data.clone()))
            .collect()
    }

    /// One child by name.
    pub fn get(&self, name: &str) -> Option<ChildData> {
        let path = util::join(&self.core.root, name);
        self.core.nodes.read().get(&path).cloned()
    }

    /// Stops the cache (also done on drop).
    pub fn close(self) {}
}

impl TreeCache {
    /// Starts caching `path` and everything below it.
    pub async fn start(client: &Client, path: &str) -> Result<(TreeCache, CacheEvents)> {
        let (core, events) = Core::start(client, path, Scope::Tree).await?;
        Ok((TreeCache { core }, events))
    }

    /// A node of the subtree.
    pub fn get(&self, path: &str) -> Option<ChildData> {
        self.core.nodes.read().get(path).cloned()
    }

    /// The cached children's names of a node of the subtree, sorted.
    pub fn children(&self, path: &str) -> Vec<String> {
        let prefix = if path == "/" {
            "/".to_owned()
        } else {
            format!("{path}/")
        };
        self.core
            .nodes
            .read()
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
            .filter_map(|(p, _)| {
                let rest = &p[prefix.len()..];
                (!rest.is_empty() && !rest.contains('/')).then(|| rest.to_owned())
            })
            .collect()
    }

    /// Every cached node by path.
    pub fn snapshot(&self) -> BTreeMap<String, ChildData> {
        self.core.nodes.read().clone()
    }

    /// Stops the cache (also done on drop).
    pub fn close(self) {}
}

// ----- internals -----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Node,
    Children,
    Tree,
}

type Nodes = Arc<RwLock<BTreeMap<String, ChildData>>>;

/// What the three caches share; dropping it stops the task.
struct Core {
    root: String,
    nodes: Nodes,
    _stop: oneshot::Sender<()>,
}

struct Engine {
    client: Client,
    root: String,
    scope: Scope,
    nodes: Nodes,
    events: mpsc::UnboundedSender<CacheEvent>,
}

impl Core {
    async fn start(client: &Client, root: &str, scope: Scope) -> Result<(Core, CacheEvents)> {
        let mode = match scope {
            Scope::Node => AddWatchMode::Persistent,
            Scope::Children | Scope::Tree => AddWatchMode::PersistentRecursive,
        };
        let watch = util::retry(client, || client.add_watch(root, mode)).await?;
        let (tx, rx) = mpsc::unbounded_channel();
        let engine = Engine {
            client: client.clone(),
            root: root.to_owned(),
            scope,
            nodes: Arc::default(),
            events: tx,
        };
        let loaded = engine.load().await?;
        engine.replace(loaded);
        engine.emit(CacheEvent::Initialized);
        let nodes = engine.nodes.clone();
        let (stop_tx, stop) = oneshot::channel();
        crate::client::runtime::spawn(engine.run(watch, stop));
        Ok((
            Core {
                root: root.to_owned(),
                nodes,
                _stop: stop_tx,
            },
            CacheEvents { rx },
        ))
    }
}

impl Engine {
    async fn run(self, mut watch: PersistentWatch, mut stop: oneshot::Receiver<()>) {
        {
            let body = self.follow(&mut watch);
            tokio::pin!(body);
            tokio::select! {
                _ = &mut body => {}
                _ = &mut stop => {}
            }
        }
        self.emit(CacheEvent::Closed);
    }

    /// Applies notifications until the session ends.
    async fn follow(&self, watch: &mut PersistentWatch) -> Result<()> {
        let mut suspended = false;
        loop {
            match watch.next().await {
                None => return Err(Error::Closed),
                Some(Err(_overflow)) => self.resync().await?,
                Some(Ok(event)) if event.event_type == EventType::None => match event.state {
                    KeeperState::Disconnected if !suspended => {
                        suspended = true;
                        self.emit(CacheEvent::Suspended);
                    }
                    KeeperState::SyncConnected | KeeperState::ConnectedReadOnly if suspended => {
                        suspended = false;
                        self.resync().await?;
                    }
                    KeeperState::Expired | KeeperState::Closed | KeeperState::AuthFailed => {
                        return Err(Error::SessionExpired)
                    }
                    _ => {}
                },
                Some(Ok(event)) => self.apply(&event).await?,
            }
        }
    }

    async fn apply(&self, event: &WatchedEvent) -> Result<()> {
        if !self.in_scope(&event.path) {
            return Ok(());
        }
        match event.event_type {
            EventType::NodeCreated | EventType::NodeDataChanged => self.refresh(&event.path).await,
            EventType::NodeDeleted => {
                self.remove(&event.path);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Re-reads one node into the cache.
    async fn refresh(&self, path: &str) -> Result<()> {
        match util::retry(&self.client, || self.client.get_data(path)).await {
            Ok((data, stat)) => {
                self.upsert(ChildData {
                    path: path.to_owned(),
                    data,
                    stat,
                });
                Ok(())
            }
            Err(Error::Server(ErrorCode::NoNode)) => {
                self.remove(path);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn upsert(&self, node: ChildData) {
        let mut nodes = self.nodes.write();
        let event = match nodes.get(&node.path) {
            None => CacheEvent::Created(node.clone()),
            Some(old) if old.stat.mzxid != node.stat.mzxid || old.data != node.data => {
                CacheEvent::Changed(node.clone())
            }
            Some(_) => {
                nodes.insert(node.path.clone(), node);
                return;
            }
        };
        nodes.insert(node.path.clone(), node);
        self.emit(event);
    }

    /// Removes a node and its cached descendants.
    fn remove(&self, path: &str) {
        let mut nodes = self.nodes.write();
        let prefix = if path == "/" {
            "/".to_owned()
        } else {
            format!("{path}/")
        };
        let below: Vec<String> = nodes
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
            .map(|(p, _)| p.clone())
            .collect();
        for p in below.iter().rev().chain(std::iter::once(&path.to_owned())) {
            if let Some(old) = nodes.remove(p) {
                self.emit(CacheEvent::Deleted(old));
            }
        }
    }

    /// Reloads everything and reports the differences.
    async fn resync(&self) -> Result<()> {
        let loaded = self.load().await?;
        self.replace(loaded);
        self.emit(CacheEvent::Resynced);
        Ok(())
    }

    /// Makes `loaded` the cache's content, reporting each difference.
    fn replace(&self, loaded: BTreeMap<String, ChildData>) {
        let mut nodes = self.nodes.write();
        let gone: Vec<String> = nodes
            .keys()
            .filter(|p| !loaded.contains_key(*p))
            .cloned()
            .collect();
        for path in gone.iter().rev() {
            if let Some(old) = nodes.remove(path) {
                self.emit(CacheEvent::Deleted(old));
            }
        }
        for (path, node) in loaded {
            match nodes.get(&path) {
                None => self.emit(CacheEvent::Created(node.clone())),
                Some(old) if old.stat.mzxid != node.stat.mzxid || old.data != node.data => {
                    self.emit(CacheEvent::Changed(node.clone()))
                }
                Some(_) => {}
            }
            nodes.insert(path, node);
        }
    }

    /// Reads everything the cache covers.
    async fn load(&self) -> Result<BTreeMap<String, ChildData>> {
        let mut out = BTreeMap::new();
        match self.scope {
            Scope::Node => {
                self.read_into(&self.root, &mut out).await?;
            }
            Scope::Children => {
                for child in util::children_or_empty(&self.client, &self.root).await? {
                    self.read_into(&util::join(&self.root, &child), &mut out)
                        .await?;
                }
            }
            Scope::Tree => {
                let mut pending = vec![self.root.clone()];
                while let Some(path) = pending.pop() {
                    if !self.read_into(&path, &mut out).await? {
                        continue;
                    }
                    for child in util::children_or_empty(&self.client, &path).await? {
                        pending.push(util::join(&path, &child));
                    }
                }
            }
        }
        Ok(out)
    }

    /// Reads one node into `out`; `false` if it does not exist.
    async fn read_into(&self, path: &str, out: &mut BTreeMap<String, ChildData>) -> Result<bool> {
        match util::retry(&self.client, || self.client.get_data(path)).await {
            Ok((data, stat)) => {
                out.insert(
                    path.to_owned(),
                    ChildData {
                        path: path.to_owned(),
                        data,
                        stat,
                    },
                );
                Ok(true)
            }
            Err(Error::Server(ErrorCode::NoNode)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn in_scope(&self, path: &str) -> bool {
        match self.scope {
            Scope::Node => path == self.root,
            Scope::Children => {
                path != self.root && util::split(path).is_ok_and(|(parent, _)| parent == self.root)
            }
            Scope::Tree => {
                path == self.root
                    || self.root == "/"
                    || path
                        .strip_prefix(self.root.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            }
        }
    }

    fn emit(&self, event: CacheEvent) {
        let _ = self.events.send(event);
    }
}
