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
    /// watches on `path` itself are removed, and their connections added to `spent`.
    fn trigger(
        &mut self,
        path: &str,
        event: EventType,
        suppress: &[ConnId],
        spent: &mut Vec<ConnId>,
    ) -> Vec<ConnId> {
        let mut fired = Vec::new();
        if let Some(watchers) = self.by_path.get_mut(path) {
            watchers.retain(|&conn, &mut mode| {
                let fire = mode != Mode::Recursive || event != EventType::NodeChildrenChanged;
                if fire && !suppress.contains(&conn) {
                    fired.push(conn);
                }
                if mode == Mode::Standard {
                    spent.push(conn);
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
/// reach each watching connection and what each connection holds (so that closing one costs
/// its own watches, not every watch on the server, and each is held within [`WatchLimits`]).
#[derive(Default)]
pub struct WatchManager {
    data: Table,
    child: Table,
    sinks: HashMap<ConnId, Arc<dyn WatchSink>>,
    held: HashMap<ConnId, Held>,
    limits: WatchLimits,
}

/// What one connection may register; zero means unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WatchLimits {
    pub watches: usize,
    pub path_bytes: usize,
}

/// A registration over a connection's [`WatchLimits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "connection {conn} holds {watches} watches on {path_bytes} bytes of paths, the most it may"
)]
pub struct TooManyWatches {
    pub conn: ConnId,
    pub watches: usize,
    pub path_bytes: usize,
}

/// The watches of one connection: per path, which tables hold one.
#[derive(Default)]
struct Held {
    paths: HashMap<String, u8>,
    watches: usize,
    path_bytes: usize,
}

const IN_DATA: u8 = 1;
const IN_CHILD: u8 = 2;

impl Held {
    fn mark(&mut self, path: &str, tables: u8) {
        let bits = self.paths.entry(path.to_owned()).or_insert(0);
        let new = tables & !*bits;
        if *bits == 0 {
            self.path_bytes += path.len();
        }
        *bits |= tables;
        self.watches += new.count_ones() as usize;
    }

    fn unmark(&mut self, path: &str, tables: u8) {
        let Some(bits) = self.paths.get_mut(path) else {
            return;
        };
        let gone = tables & *bits;
        *bits &= !tables;
        self.watches -= gone.count_ones() as usize;
        if *bits == 0 {
            self.paths.remove(path);
            self.path_bytes -= path.len();
        }
    }
}

impl WatchManager {
    pub fn with_limits(limits: WatchLimits) -> WatchManager {
        WatchManager {
            limits,
            ..WatchManager::default()
        }
    }

    /// Registers `conn` for `kind` events on `path`, unless that takes the connection over
    /// its limits.
    pub fn add(
        &mut self,
        conn: ConnId,
        sink: &Arc<dyn WatchSink>,
        kind: WatchKind,
        path: &str,
    ) -> Result<(), TooManyWatches> {
        let tables = match kind {
            WatchKind::Data => IN_DATA,
            WatchKind::Child => IN_CHILD,
            WatchKind::Persistent | WatchKind::PersistentRecursive => IN_DATA | IN_CHILD,
        };
        let held = self.held.entry(conn).or_default();
        let bits = held.paths.get(path).copied().unwrap_or(0);
        let new_watches = (tables & !bits).count_ones() as usize;
        let new_bytes = if bits == 0 { path.len() } else { 0 };
        let over = |limit: usize, have: usize, adding: usize| {
            limit > 0 && adding > 0 && have + adding > limit
        };
        if over(self.limits.watches, held.watches, new_watches)
            || over(self.limits.path_bytes, held.path_bytes, new_bytes)
        {
            return Err(TooManyWatches {
                conn,
                watches: held.watches,
                path_bytes: held.path_bytes,
            });
        }
        held.mark(path, tables);
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
        Ok(())
    }

    /// Sends the notifications `trigger` causes (`DataTree.createNode/deleteNode/setData`).
    pub fn trigger(&mut self, trigger: &Trigger, zxid: i64, skip_acl: bool) {
        let p = trigger.path.as_str();
        let mut spent_data = Vec::new();
        let mut spent_child = Vec::new();
        let fired = match trigger.event {
            EventType::NodeCreated | EventType::NodeDataChanged => {
                self.data.trigger(p, trigger.event, &[], &mut spent_data)
            }
            EventType::NodeDeleted => {
                let mut fired = self.data.trigger(p, trigger.event, &[], &mut spent_data);
                let more = self
                    .child
                    .trigger(p, trigger.event, &fired, &mut spent_child);
                fired.extend(more);
                fired
            }
            EventType::NodeChildrenChanged => {
                self.child.trigger(p, trigger.event, &[], &mut spent_child)
            }
            _ => Vec::new(),
        };
        for (spent, table) in [(spent_data, IN_DATA), (spent_child, IN_CHILD)] {
            for conn in spent {
                if let Some(held) = self.held.get_mut(&conn) {
                    held.unmark(p, table);
                }
            }
        }
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
        for (wanted, table, bit) in [
            (data, &mut self.data, IN_DATA),
            (child, &mut self.child, IN_CHILD),
        ] {
            if !wanted {
                continue;
            }
            if remove {
                if table.remove(conn, path, only) {
                    found = true;
                    if let Some(held) = self.held.get_mut(&conn) {
                        held.unmark(path, bit);
                    }
                }
            } else {
                found |= table.contains(conn, path, only);
            }
        }
        found
    }

    /// Drops every watch of a closed connection.
    pub fn remove_conn(&mut self, conn: ConnId) {
        self.sinks.remove(&conn);
        let Some(held) = self.held.remove(&conn) else {
            return;
        };
        for (path, bits) in held.paths {
            if bits & IN_DATA != 0 {
                self.data.remove(conn, &path, None);
            }
            if bits & IN_CHILD != 0 {
                self.child.remove(conn, &path, None);
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
        wm.add(1, &sink, WatchKind::Data, "/a").unwrap();
        wm.add(1, &sink, WatchKind::Child, "/a").unwrap();
        wm.add(2, &sink, WatchKind::PersistentRecursive, "/r")
            .unwrap();
        wm.add(3, &sink, WatchKind::Persistent, "/p").unwrap();
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

    #[test]
    fn a_connection_holds_watches_within_its_limits_and_gets_them_back_when_they_fire() {
        let sink: Arc<dyn WatchSink> = Arc::new(Recorder::default());
        let mut wm = WatchManager::with_limits(WatchLimits {
            watches: 3,
            path_bytes: 0,
        });
        wm.add(1, &sink, WatchKind::Data, "/a").unwrap();
        wm.add(1, &sink, WatchKind::Persistent, "/b").unwrap();
        // The same watch again costs nothing.
        wm.add(1, &sink, WatchKind::Data, "/a").unwrap();
        let refused = wm.add(1, &sink, WatchKind::Child, "/c").unwrap_err();
        assert_eq!(refused.watches, 3);
        // Another connection has its own allowance.
        wm.add(2, &sink, WatchKind::Child, "/c").unwrap();
        // A one-shot watch that fired no longer counts.
        fire(&mut wm, "/a", EventType::NodeDataChanged);
        wm.add(1, &sink, WatchKind::Child, "/c").unwrap();
        // Removing and closing give the rest back.
        assert!(wm.find(1, "/b", WatcherType::Any, true));
        wm.add(1, &sink, WatchKind::Persistent, "/d").unwrap();
        wm.remove_conn(1);
        assert_eq!(wm.summary(), (1, 1, 1));
        wm.add(1, &sink, WatchKind::Persistent, "/e").unwrap();
    }

    #[test]
    fn watched_path_bytes_are_bounded() {
        let sink: Arc<dyn WatchSink> = Arc::new(Recorder::default());
        let mut wm = WatchManager::with_limits(WatchLimits {
            watches: 0,
            path_bytes: 10,
        });
        wm.add(1, &sink, WatchKind::Data, "/abcd").unwrap();
        wm.add(1, &sink, WatchKind::Child, "/abcd").unwrap();
        assert!(wm.add(1, &sink, WatchKind::Data, "/efghijk").is_err());
        wm.add(1, &sink, WatchKind::Data, "/efgh").unwrap();
    }
}
