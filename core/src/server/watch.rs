//! Watches: who is told what when a node changes (`WatchManager`, `DataTree.triggerWatch`).
//! One-shot data/exist and child watches fire once; persistent watches fire for every
//! change of their node; persistent-recursive watches fire for their node and all its
//! descendants, except NodeChildrenChanged.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use crate::proto::{path, perms, Acl, EventType, Id, WatcherType};

use super::acl::{self, AclPolicy};
use super::state::Trigger;

/// A connection's id, unique for the life of the server.
pub type ConnId = u64;

/// Where a connection's notifications go.
pub trait WatchSink: Send + Sync {
    fn notify(&self, zxid: i64, event: EventType, path: &str);
    /// The connection's auth ids, to check READ before delivering.
    fn auth_ids(&self) -> Vec<Id>;
}

/// The kinds of registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WatchKind {
    /// getData/exists: NodeCreated, NodeDeleted, NodeDataChanged.
    Data,
    /// getChildren: NodeChildrenChanged, NodeDeleted.
    Child,
    Persistent,
    PersistentRecursive,
}

impl WatchKind {
    const ALL: [WatchKind; 4] = [
        WatchKind::Data,
        WatchKind::Child,
        WatchKind::Persistent,
        WatchKind::PersistentRecursive,
    ];
}

struct Watcher {
    sink: Arc<dyn WatchSink>,
    watching: BTreeSet<(WatchKind, String)>,
}

/// Every registered watch on this server.
#[derive(Default)]
pub struct WatchManager {
    tables: [HashMap<String, HashSet<ConnId>>; 4],
    watchers: HashMap<ConnId, Watcher>,
}

impl WatchManager {
    /// Registers `conn` for `kind` events on `path`.
    pub fn add(&mut self, conn: ConnId, sink: &Arc<dyn WatchSink>, kind: WatchKind, path: &str) {
        self.tables[kind as usize]
            .entry(path.to_owned())
            .or_default()
            .insert(conn);
        self.watchers
            .entry(conn)
            .or_insert_with(|| Watcher {
                sink: sink.clone(),
                watching: BTreeSet::new(),
            })
            .watching
            .insert((kind, path.to_owned()));
    }

    /// Sends the notifications `trigger` causes, removing the one-shot watches it fires.
    pub fn trigger(&mut self, trigger: &Trigger, zxid: i64, policy: &AclPolicy) {
        let p = trigger.path.as_str();
        let mut fired: Vec<ConnId> = Vec::new();
        let one_shot: &[WatchKind] = match trigger.event {
            EventType::NodeCreated | EventType::NodeDataChanged => &[WatchKind::Data],
            EventType::NodeDeleted => &[WatchKind::Data, WatchKind::Child],
            EventType::NodeChildrenChanged => &[WatchKind::Child],
            _ => &[],
        };
        for &kind in one_shot {
            if let Some(conns) = self.tables[kind as usize].remove(p) {
                for conn in conns {
                    if let Some(w) = self.watchers.get_mut(&conn) {
                        w.watching.remove(&(kind, p.to_owned()));
                    }
                    fired.push(conn);
                }
            }
        }
        if let Some(conns) = self.tables[WatchKind::Persistent as usize].get(p) {
            fired.extend(conns.iter().copied());
        }
        if trigger.event != EventType::NodeChildrenChanged {
            let recursive = &self.tables[WatchKind::PersistentRecursive as usize];
            if !recursive.is_empty() {
                let mut ancestor = p;
                loop {
                    if let Some(conns) = recursive.get(ancestor) {
                        fired.extend(conns.iter().copied());
                    }
                    if ancestor == "/" {
                        break;
                    }
                    ancestor = path::parent(ancestor);
                }
            }
        }
        fired.sort_unstable();
        fired.dedup();
        for conn in fired {
            if let Some(w) = self.watchers.get(&conn) {
                if can_read(policy, &trigger.acl, w.sink.as_ref()) {
                    w.sink.notify(zxid, trigger.event, p);
                }
            }
        }
    }

    /// Whether `conn` has a watch of `watcher_type` on `path`; with `remove`, drops it
    /// (removeWatches / checkWatches).
    pub fn find(&mut self, conn: ConnId, path: &str, watcher_type: WatcherType, remove: bool) -> bool {
        let kinds: &[WatchKind] = match watcher_type {
            WatcherType::Children => &[WatchKind::Child],
            WatcherType::Data => &[WatchKind::Data],
            WatcherType::Persistent => &[WatchKind::Persistent],
            WatcherType::PersistentRecursive => &[WatchKind::PersistentRecursive],
            WatcherType::Any => &WatchKind::ALL,
        };
        let mut found = false;
        for &kind in kinds {
            let key = (kind, path.to_owned());
            let Some(w) = self.watchers.get_mut(&conn) else {
                return false;
            };
            if !w.watching.contains(&key) {
                continue;
            }
            found = true;
            if remove {
                w.watching.remove(&key);
                let table = &mut self.tables[kind as usize];
                if let Some(conns) = table.get_mut(path) {
                    conns.remove(&conn);
                    if conns.is_empty() {
                        table.remove(path);
                    }
                }
            }
        }
        found
    }

    /// Drops every watch of a closed connection.
    pub fn remove_conn(&mut self, conn: ConnId) {
        let Some(w) = self.watchers.remove(&conn) else {
            return;
        };
        for (kind, p) in w.watching {
            let table = &mut self.tables[kind as usize];
            if let Some(conns) = table.get_mut(&p) {
                conns.remove(&conn);
                if conns.is_empty() {
                    table.remove(&p);
                }
            }
        }
    }

    /// `(connections watching, distinct paths, total watches)` for `wchs`.
    pub fn summary(&self) -> (usize, usize, usize) {
        let conns = self.watchers.values().filter(|w| !w.watching.is_empty()).count();
        let paths: HashSet<&str> = self
            .watchers
            .values()
            .flat_map(|w| w.watching.iter().map(|(_, p)| p.as_str()))
            .collect();
        let total = self.watchers.values().map(|w| w.watching.len()).sum();
        (conns, paths.len(), total)
    }

    /// Watched paths per connection, for `wchc`.
    pub fn by_connection(&self) -> Vec<(ConnId, Vec<String>)> {
        let mut out: Vec<(ConnId, Vec<String>)> = self
            .watchers
            .iter()
            .filter(|(_, w)| !w.watching.is_empty())
            .map(|(&c, w)| {
                let mut paths: Vec<String> = w.watching.iter().map(|(_, p)| p.clone()).collect();
                paths.dedup();
                (c, paths)
            })
            .collect();
        out.sort();
        out
    }

    /// Watching connections per path, for `wchp`.
    pub fn by_path(&self) -> Vec<(String, Vec<ConnId>)> {
        let mut map: HashMap<&str, BTreeSet<ConnId>> = HashMap::new();
        for (&c, w) in &self.watchers {
            for (_, p) in &w.watching {
                map.entry(p.as_str()).or_default().insert(c);
            }
        }
        let mut out: Vec<(String, Vec<ConnId>)> = map
            .into_iter()
            .map(|(p, c)| (p.to_owned(), c.into_iter().collect()))
            .collect();
        out.sort();
        out
    }

    pub fn total(&self) -> usize {
        self.summary().2
    }
}

fn can_read(policy: &AclPolicy, acl: &[Acl], sink: &dyn WatchSink) -> bool {
    acl::check(policy, acl, perms::READ, &sink.auth_ids()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use parking_lot::Mutex;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<(EventType, String)>>);

    impl WatchSink for Recorder {
        fn notify(&self, _zxid: i64, event: EventType, path: &str) {
            self.0.lock().push((event, path.to_owned()));
        }
        fn auth_ids(&self) -> Vec<Id> {
            Vec::new()
        }
    }

    fn fire(wm: &mut WatchManager, p: &str, event: EventType) {
        let trigger = Trigger {
            path: p.into(),
            event,
            acl: Arc::from(Acl::open_unsafe()),
        };
        wm.trigger(&trigger, 1, &AclPolicy::default());
    }

    #[test]
    fn one_shot_persistent_and_recursive() {
        let rec = Arc::new(Recorder::default());
        let sink: Arc<dyn WatchSink> = rec.clone();
        let mut wm = WatchManager::default();
        wm.add(1, &sink, WatchKind::Data, "/a");
        wm.add(1, &sink, WatchKind::Child, "/a");
        wm.add(2, &sink, WatchKind::PersistentRecursive, "/r");
        wm.add(3, &sink, WatchKind::Persistent, "/p");
        fire(&mut wm, "/a", EventType::NodeDeleted);
        fire(&mut wm, "/a", EventType::NodeDeleted);
        fire(&mut wm, "/r/x/y", EventType::NodeCreated);
        fire(&mut wm, "/r", EventType::NodeChildrenChanged);
        fire(&mut wm, "/p", EventType::NodeChildrenChanged);
        fire(&mut wm, "/p", EventType::NodeDataChanged);
        let got = rec.0.lock().clone();
        assert_eq!(
            got,
            vec![
                (EventType::NodeDeleted, "/a".to_owned()),
                (EventType::NodeCreated, "/r/x/y".to_owned()),
                (EventType::NodeChildrenChanged, "/p".to_owned()),
                (EventType::NodeDataChanged, "/p".to_owned()),
            ]
        );
        assert!(wm.find(2, "/r", WatcherType::Any, true));
        assert!(!wm.find(2, "/r", WatcherType::Any, false));
        assert_eq!(wm.summary(), (1, 1, 1));
    }
}
