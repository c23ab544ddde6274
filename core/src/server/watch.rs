//! Watches: who is told what when a node changes (`WatchManager`, `DataTree.triggerWatch`).
//! One-shot data/exist and child watches fire once; persistent watches fire for every
//! change of their node; persistent-recursive watches fire for their node and all its
//! descendants, except NodeChildrenChanged.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use crate::proto::{perms, Acl, EventType, Id, WatcherType};

use super::acl;
use super::state::Trigger;

/// A connection's id, unique for the life of the server.
pub type ConnId = u64;

/// Where a connection's notifications go.
pub trait WatchSink: Send + Sync {
    fn notify(&self, zxid: i64, event: EventType, path: &str);
    /// The connection's auth ids, to check READ before delivering.
    fn auth_ids(&self) -> Vec<Id>;
}

/// What a registration asks for, as seen by callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WatchKind {
    /// getData/exists: NodeCreated, NodeDeleted, NodeDataChanged, once.
    Data,
    /// getChildren: NodeChildrenChanged, NodeDeleted, once.
    Child,
    /// addWatch PERSISTENT: every event of the node, until removed.
    Persistent,
    /// addWatch PERSISTENT_RECURSIVE: data events of the node and its descendants.
    PersistentRecursive,
}

/// A watch's mode within one table; a connection has one mode per path and table, and
/// the latest registration wins, as in Apache's `WatcherModeManager`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Standard,
    Persistent,
    Recursive,
}

/// One of Apache's two watch tables: data watches or child watches.
#[derive(Default)]
struct Table {
    by_path: HashMap<String, HashMap<ConnId, Mode>>,
    recursive_count: usize,
}

impl Table {
    fn set(&mut self, conn: ConnId, path: &str, mode: Mode) {
        let previous = self
            .by_path
            .entry(path.to_owned())
            .or_default()
            .insert(conn, mode);
        if previous == Some(Mode::Recursive) {
            self.recursive_count -= 1;
        }
        if mode == Mode::Recursive {
            self.recursive_count += 1;
        }
    }

    fn remove(&mut self, conn: ConnId, path: &str, only: Option<Mode>) -> bool {
        let Some(watchers) = self.by_path.get_mut(path) else {
            return false;
        };
        let removed = match watchers.get(&conn) {
            Some(&mode) if only.is_none_or(|m| m == mode) => watchers.remove(&conn),
            _ => None,
        };
        if watchers.is_empty() {
            self.by_path.remove(path);
        }
        if removed == Some(Mode::Recursive) {
            self.recursive_count -= 1;
        }
        removed.is_some()
    }

    fn contains(&self, conn: ConnId, path: &str, only: Option<Mode>) -> bool {
        self.by_path
            .get(path)
            .and_then(|w| w.get(&conn))
            .is_some_and(|&mode| only.is_none_or(|m| m == mode))
    }

    /// The connections `event` on `path` notifies (`WatchManager.triggerWatch`); standard
    /// watches on `path` itself are removed.
    fn trigger(&mut self, path: &str, event: EventType, suppress: &[ConnId]) -> Vec<ConnId> {
        let mut fired = Vec::new();
        if let Some(watchers) = self.by_path.get_mut(path) {
            watchers.retain(|&conn, &mut mode| {
                let fire = mode != Mode::Recursive || event != EventType::NodeChildrenChanged;
                if fire && !suppress.contains(&conn) {
                    fired.push(conn);
                }
                mode != Mode::Standard
            });
            if watchers.is_empty() {
                self.by_path.remove(path);
            }
        }
        if self.recursive_count > 0 && event != EventType::NodeChildrenChanged && path != "/" {
            let mut ancestor = path;
            loop {
                ancestor = crate::proto::path::parent(ancestor);
                if let Some(watchers) = self.by_path.get(ancestor) {
                    for (&conn, &mode) in watchers {
                        if mode == Mode::Recursive && !suppress.contains(&conn) {
                            fired.push(conn);
                        }
                    }
                }
                if ancestor == "/" {
                    break;
                }
            }
        }
        fired.sort_unstable();
        fired.dedup();
        fired
    }
}

/// Every registered watch on this server: Apache's data and child tables, plus how to
/// reach each watching connection.
#[derive(Default)]
pub struct WatchManager {
    data: Table,
    child: Table,
    sinks: HashMap<ConnId, Arc<dyn WatchSink>>,
}

impl WatchManager {
    /// Registers `conn` for `kind` events on `path`.
    pub fn add(&mut self, conn: ConnId, sink: &Arc<dyn WatchSink>, kind: WatchKind, path: &str) {
        self.sinks.entry(conn).or_insert_with(|| sink.clone());
        match kind {
            WatchKind::Data => self.data.set(conn, path, Mode::Standard),
            WatchKind::Child => self.child.set(conn, path, Mode::Standard),
            WatchKind::Persistent | WatchKind::PersistentRecursive => {
                let mode = if kind == WatchKind::Persistent {
                    Mode::Persistent
                } else {
                    Mode::Recursive
                };
                self.data.set(conn, path, mode);
                self.child.set(conn, path, mode);
            }
        }
    }

    /// Sends the notifications `trigger` causes (`DataTree.createNode/deleteNode/setData`).
    pub fn trigger(&mut self, trigger: &Trigger, zxid: i64, skip_acl: bool) {
        let p = trigger.path.as_str();
        let fired = match trigger.event {
            EventType::NodeCreated | EventType::NodeDataChanged => {
                self.data.trigger(p, trigger.event, &[])
            }
            EventType::NodeDeleted => {
                let mut fired = self.data.trigger(p, trigger.event, &[]);
                let more = self.child.trigger(p, trigger.event, &fired);
                fired.extend(more);
                fired
            }
            EventType::NodeChildrenChanged => self.child.trigger(p, trigger.event, &[]),
            _ => Vec::new(),
        };
        for conn in fired {
            if let Some(sink) = self.sinks.get(&conn) {
                if can_read(skip_acl, &trigger.acl, sink.as_ref()) {
                    sink.notify(zxid, trigger.event, p);
                }
            }
        }
    }

    /// Whether `conn` has a watch of `watcher_type` on `path`; with `remove`, drops it
    /// (removeWatches / checkWatches).
    pub fn find(
        &mut self,
        conn: ConnId,
        path: &str,
        watcher_type: WatcherType,
        remove: bool,
    ) -> bool {
        let (data, child, only) = match watcher_type {
            WatcherType::Children => (false, true, None),
            WatcherType::Data => (true, false, None),
            WatcherType::Any => (true, true, None),
            WatcherType::Persistent => (true, true, Some(Mode::Persistent)),
            WatcherType::PersistentRecursive => (true, true, Some(Mode::Recursive)),
        };
        let mut found = false;
        for (wanted, table) in [(data, &mut self.data), (child, &mut self.child)] {
            if wanted {
                found |= if remove {
                    table.remove(conn, path, only)
                } else {
                    table.contains(conn, path, only)
                };
            }
        }
        found
    }

    /// Drops every watch of a closed connection.
    pub fn remove_conn(&mut self, conn: ConnId) {
        if self.sinks.remove(&conn).is_none() {
            return;
        }
        for table in [&mut self.data, &mut self.child] {
            let paths: Vec<String> = table
                .by_path
                .iter()
                .filter(|(_, w)| w.contains_key(&conn))
                .map(|(p, _)| p.clone())
                .collect();
            for p in paths {
                table.remove(conn, &p, None);
            }
        }
    }

    /// Every `(connection, path)` registration, data table first.
    fn registrations(&self) -> impl Iterator<Item = (ConnId, &str)> {
        [&self.data, &self.child].into_iter().flat_map(|t| {
            t.by_path
                .iter()
                .flat_map(|(p, w)| w.keys().map(move |&c| (c, p.as_str())))
        })
    }

    /// `(connections watching, distinct paths, total watches)` for `wchs`.
    pub fn summary(&self) -> (usize, usize, usize) {
        let conns: HashSet<ConnId> = self.registrations().map(|(c, _)| c).collect();
        let paths: HashSet<&str> = self.registrations().map(|(_, p)| p).collect();
        (conns.len(), paths.len(), self.registrations().count())
    }

    /// Watched paths per connection, for `wchc`.
    pub fn by_connection(&self) -> Vec<(ConnId, Vec<String>)> {
        let mut map: HashMap<ConnId, BTreeSet<String>> = HashMap::new();
        for (c, p) in self.registrations() {
            map.entry(c).or_default().insert(p.to_owned());
        }
        let mut out: Vec<(ConnId, Vec<String>)> = map
            .into_iter()
            .map(|(c, p)| (c, p.into_iter().collect()))
            .collect();
        out.sort();
        out
    }

    /// Watching connections per path, for `wchp`.
    pub fn by_path(&self) -> Vec<(String, Vec<ConnId>)> {
        let mut map: HashMap<&str, BTreeSet<ConnId>> = HashMap::new();
        for (c, p) in self.registrations() {
            map.entry(p).or_default().insert(c);
        }
        let mut out: Vec<(String, Vec<ConnId>)> = map
            .into_iter()
            .map(|(p, c)| (p.to_owned(), c.into_iter().collect()))
            .collect();
        out.sort();
        out
    }

    pub fn total(&self) -> usize {
        self.registrations().count()
    }
}

fn can_read(skip_acl: bool, acl: &[Acl], sink: &dyn WatchSink) -> bool {
    acl::check(skip_acl, acl, perms::READ, &sink.auth_ids()).is_ok()
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
        wm.trigger(&trigger, 1, false);
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
        // The persistent watch on /p sits in both tables.
        assert_eq!(wm.summary(), (1, 1, 2));
    }
}
