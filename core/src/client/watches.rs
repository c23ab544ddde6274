//! The client's watch registry: which handles wait on which server paths, how a
//! notification reaches them (`ZKWatchManager.materialize`), and what to re-register after
//! a reconnect.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::event::WatchedEvent;
use crate::proto::{path, EventType, KeeperState, SetWatches, WatcherType};

/// The kinds of client-side registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WatchKind {
    Data,
    Exist,
    Child,
    Persistent,
    PersistentRecursive,
}

impl WatchKind {
    /// The `WatcherType` removeWatches names for this kind.
    pub fn watcher_type(self) -> WatcherType {
        match self {
            WatchKind::Data | WatchKind::Exist => WatcherType::Data,
            WatchKind::Child => WatcherType::Children,
            WatchKind::Persistent => WatcherType::Persistent,
            WatchKind::PersistentRecursive => WatcherType::PersistentRecursive,
        }
    }
}

/// A binding's watch callback (see [`Client::read_with_watch`](super::Client::read_with_watch)):
/// called on the connection task with each event and the number of the notification that
/// caused it, in the order notifications arrive. It must only queue the event (for a
/// dispatch thread), never block or run user code.
pub type WatchCallback = Box<dyn FnMut(WatchedEvent, u64) + Send>;

/// Where events for one registration go.
pub(crate) enum Slot {
    Once(oneshot::Sender<WatchedEvent>),
    Stream {
        tx: mpsc::Sender<WatchedEvent>,
        overflowed: Arc<AtomicBool>,
    },
    Call(WatchCallback),
}

impl Slot {
    /// Delivers an event to a persistent slot; a full stream records the overflow
    /// instead of blocking.
    fn deliver(&mut self, event: &WatchedEvent, seq: u64) {
        match self {
            Slot::Stream { tx, overflowed } => {
                if tx.try_send(event.clone()).is_err() {
                    overflowed.store(true, Ordering::Release);
                }
            }
            Slot::Call(callback) => callback(event.clone(), seq),
            Slot::Once(_) => {}
        }
    }

    /// Delivers the event that ends a one-shot slot.
    fn fire(self, event: &WatchedEvent, seq: u64) {
        match self {
            Slot::Once(tx) => {
                let _ = tx.send(event.clone());
            }
            Slot::Call(mut callback) => callback(event.clone(), seq),
            Slot::Stream { .. } => {}
        }
    }
}

/// Every registration, keyed by server path.
#[derive(Default)]
pub(crate) struct Registry {
    tables: HashMap<(WatchKind, String), Vec<(u64, Slot)>>,
    next_id: u64,
    /// Numbers notifications (and session events) as they are handed out, so a binding
    /// can tell which of its callbacks one notification fired.
    notifications: u64,
}

impl Registry {
    pub fn add(&mut self, kind: WatchKind, server_path: &str, slot: Slot) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        self.tables
            .entry((kind, server_path.to_owned()))
            .or_default()
            .push((id, slot));
        id
    }

    /// Drops one registration; true when none of `kind` is left on the path, so the
    /// server-side watch can be removed.
    pub fn remove(&mut self, kind: WatchKind, server_path: &str, id: u64) -> bool {
        let key = (kind, server_path.to_owned());
        let Some(slots) = self.tables.get_mut(&key) else {
            return false;
        };
        let before = slots.len();
        slots.retain(|(slot_id, _)| *slot_id != id);
        let removed = slots.len() != before;
        if slots.is_empty() {
            self.tables.remove(&key);
            return removed;
        }
        false
    }

    /// Whether any registration of any kind is left on the path.
    pub fn watches_path(&self, server_path: &str) -> bool {
        self.tables.keys().any(|(_, p)| p == server_path)
    }

    /// Hands a notification to every registration it concerns; `client_path` is what the
    /// caller sees (chroot stripped).
    pub fn dispatch(&mut self, event_type: EventType, server_path: &str, event: &WatchedEvent) {
        self.notifications += 1;
        let seq = self.notifications;
        let once: &[WatchKind] = match event_type {
            EventType::NodeCreated | EventType::NodeDataChanged => {
                &[WatchKind::Data, WatchKind::Exist]
            }
            EventType::NodeDeleted => &[WatchKind::Data, WatchKind::Exist, WatchKind::Child],
            EventType::NodeChildrenChanged => &[WatchKind::Child],
            _ => &[],
        };
        for &kind in once {
            if let Some(slots) = self.tables.remove(&(kind, server_path.to_owned())) {
                for (_, slot) in slots {
                    slot.fire(event, seq);
                }
            }
        }
        if let Some(slots) = self
            .tables
            .get_mut(&(WatchKind::Persistent, server_path.to_owned()))
        {
            for (_, slot) in slots {
                slot.deliver(event, seq);
            }
        }
        if event_type != EventType::NodeChildrenChanged {
            let mut p = server_path;
            loop {
                if let Some(slots) = self
                    .tables
                    .get_mut(&(WatchKind::PersistentRecursive, p.to_owned()))
                {
                    for (_, slot) in slots {
                        slot.deliver(event, seq);
                    }
                }
                if p == "/" || p.is_empty() {
                    break;
                }
                p = path::parent(p);
            }
        }
    }

    /// Ends every registration with a session event (expired or closed).
    pub fn fail_all(&mut self, state: KeeperState) {
        let event = WatchedEvent::session(state);
        self.notifications += 1;
        let seq = self.notifications;
        for (_, slots) in self.tables.drain() {
            for (_, slot) in slots {
                match slot {
                    Slot::Stream { tx, .. } => {
                        let _ = tx.try_send(event.clone());
                    }
                    slot => slot.fire(&event, seq),
                }
            }
        }
    }

    /// Tells persistent streams about a connection change (Disconnected / SyncConnected).
    pub fn notify_streams(&mut self, state: KeeperState) {
        let event = WatchedEvent::session(state);
        self.notifications += 1;
        let seq = self.notifications;
        for ((kind, _), slots) in &mut self.tables {
            if matches!(kind, WatchKind::Persistent | WatchKind::PersistentRecursive) {
                for (_, slot) in slots {
                    slot.deliver(&event, seq);
                }
            }
        }
    }

    /// The SetWatches2 records that re-register everything, each under `max_bytes`.
    pub fn set_watches(&self, relative_zxid: i64, max_bytes: usize) -> Vec<SetWatches> {
        let mut out = vec![SetWatches {
            relative_zxid,
            ..SetWatches::default()
        }];
        let mut size = 8 + 5 * 4;
        let mut keys: Vec<&(WatchKind, String)> = self.tables.keys().collect();
        keys.sort_by(|a, b| a.1.cmp(&b.1));
        for (kind, p) in keys {
            let cost = 4 + p.len();
            if size + cost > max_bytes {
                out.push(SetWatches {
                    relative_zxid,
                    ..SetWatches::default()
                });
                size = 8 + 5 * 4;
            }
            size += cost;
            let Some(current) = out.last_mut() else {
                break;
            };
            let list = match kind {
                WatchKind::Data => &mut current.data_watches,
                WatchKind::Exist => &mut current.exist_watches,
                WatchKind::Child => &mut current.child_watches,
                WatchKind::Persistent => &mut current.persistent_watches,
                WatchKind::PersistentRecursive => &mut current.persistent_recursive_watches,
            };
            list.push(p.clone());
        }
        out.retain(|sw| {
            !(sw.data_watches.is_empty()
                && sw.exist_watches.is_empty()
                && sw.child_watches.is_empty()
                && sw.persistent_watches.is_empty()
                && sw.persistent_recursive_watches.is_empty())
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(t: EventType, p: &str) -> WatchedEvent {
        WatchedEvent {
            event_type: t,
            state: KeeperState::SyncConnected,
            path: p.into(),
            zxid: 1,
        }
    }

    #[test]
    fn dispatch_follows_apache_rules() {
        let mut reg = Registry::default();
        let (tx, mut data_rx) = oneshot::channel();
        reg.add(WatchKind::Data, "/a", Slot::Once(tx));
        let (tx, mut child_rx) = oneshot::channel();
        reg.add(WatchKind::Child, "/a", Slot::Once(tx));
        let (stx, mut stream) = mpsc::channel(4);
        reg.add(
            WatchKind::PersistentRecursive,
            "/",
            Slot::Stream {
                tx: stx,
                overflowed: Arc::default(),
            },
        );
        reg.dispatch(
            EventType::NodeDataChanged,
            "/a",
            &event(EventType::NodeDataChanged, "/a"),
        );
        assert!(data_rx.try_recv().is_ok());
        assert!(child_rx.try_recv().is_err());
        reg.dispatch(
            EventType::NodeChildrenChanged,
            "/a",
            &event(EventType::NodeChildrenChanged, "/a"),
        );
        assert!(child_rx.try_recv().is_ok());
        assert_eq!(
            stream.try_recv().unwrap().event_type,
            EventType::NodeDataChanged
        );
        assert!(
            stream.try_recv().is_err(),
            "recursive watches get no child events"
        );
    }

    #[test]
    fn set_watches_split_under_the_limit() {
        let mut reg = Registry::default();
        for i in 0..100 {
            let (tx, _rx) = oneshot::channel();
            reg.add(WatchKind::Data, &format!("/node-{i:04}"), Slot::Once(tx));
        }
        let packets = reg.set_watches(7, 200);
        assert!(packets.len() > 1);
        assert_eq!(
            packets.iter().map(|p| p.data_watches.len()).sum::<usize>(),
            100
        );
    }
}
