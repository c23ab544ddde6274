//! A consistent view of the tree at one moment, read a chunk at a time while the tree goes
//! on changing: what snapshots are written from, without stopping writes and without fork.
//!
//! [`DataTree::freeze`] marks the moment. From then on, the first change to a slot the reader
//! has not passed yet saves the slot as it was (its pre-image); [`DataTree::read_frozen`]
//! visits the slots in order, each as it was at the freeze: the pre-image if there is one,
//! else the slot itself, unchanged since. Slots added after the freeze are not visited.
//!
//! A snapshot then costs one copy of each slot that changes while it is written. With a
//! forked writer it cost a copy of each memory page that changed, each copy a page fault
//! and, in a multi-threaded process, a TLB shootdown of the other cores.
//!
//! A freeze of [`FreezeKind::Changes`] views only the nodes changed since the previous
//! freeze (see `changes`): the live ones are visited, the removed ones are listed by path.

use std::sync::atomic::{AtomicU64, Ordering};

use super::changes::Bitset;
use super::slot::{NodeId, Slot};
use super::{DataTree, Meta};

/// What a freeze views.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FreezeKind {
    /// Every node.
    Full,
    /// The nodes changed since the previous freeze.
    Changes,
}

/// Names one freeze; a reader holding an older token finds the tree [`Thawed`].
#[derive(Debug, PartialEq, Eq)]
pub struct FreezeToken(u64);

/// The frozen view is gone: the tree was frozen again, thawed, or replaced (a snapshot from
/// the leader was installed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the tree changed under the snapshot being written (replaced or frozen again)")]
pub struct Thawed;

/// One node as it was at the freeze. In a full view nodes are numbered densely in slot
/// order, from 0 (the root) to the node count at the freeze, so a rebuilt tree has no holes;
/// a view of changes numbers nothing (both numbers are 0).
pub struct FrozenNode<'a> {
    pub id: u32,
    /// The parent's number (the root's is its own, 0).
    pub parent: u32,
    pub path: &'a str,
    pub data: Option<&'a [u8]>,
    pub meta: &'a Meta,
}

#[derive(Debug, Clone)]
pub(super) struct Frozen {
    token: u64,
    /// Slots at the freeze; later ones are not part of the view.
    len: NodeId,
    nodes: usize,
    /// Each slot's number among the live slots at the freeze (full views).
    rank: Vec<u32>,
    /// The slots viewed (views of changes); `None`: every slot.
    wanted: Option<Bitset>,
    /// Paths removed since the previous freeze and absent at this one (views of changes).
    removed: Vec<Box<str>>,
    /// Every slot below this one has been read.
    cursor: NodeId,
    saved: hashbrown::HashMap<NodeId, Slot>,
}

static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);

impl DataTree {
    /// Marks the tree's state now as the one [`DataTree::read_frozen`] reads, every node,
    /// replacing any earlier freeze, and starts recording changes anew (when they are tracked).
    pub fn freeze(&mut self) -> FreezeToken {
        let token = self.freeze_as(FreezeKind::Full);
        debug_assert!(token.is_some());
        token.unwrap_or(FreezeToken(0))
    }

    /// [`DataTree::freeze`] of the nodes changed since the previous freeze; `None` if changes
    /// are not tracked ([`DataTree::track_changes`]).
    pub fn freeze_changes(&mut self) -> Option<FreezeToken> {
        self.freeze_as(FreezeKind::Changes)
    }

    fn freeze_as(&mut self, kind: FreezeKind) -> Option<FreezeToken> {
        let changes = match self.changes.as_deref_mut() {
            Some(changes) => Some(std::mem::take(changes)),
            None if kind == FreezeKind::Changes => return None,
            None => None,
        };
        let token = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
        let len = NodeId::try_from(self.slots.len()).unwrap_or(NodeId::MAX);
        let frozen = match (kind, changes) {
            (FreezeKind::Changes, Some(changes)) => {
                let mut wanted = changes.touched;
                let vacant: Vec<NodeId> = wanted
                    .iter()
                    .filter(|&id| self.slots.get(id as usize).is_none_or(Slot::is_vacant))
                    .collect();
                for id in vacant {
                    wanted.remove(id);
                }
                let mut removed: Vec<Box<str>> = changes
                    .removed
                    .into_iter()
                    .filter(|path| !self.contains(path))
                    .collect();
                // Children before their parents, each once.
                removed.sort_unstable_by(|a, b| b.cmp(a));
                removed.dedup();
                Frozen {
                    token,
                    len,
                    nodes: wanted.len(),
                    rank: Vec::new(),
                    wanted: Some(wanted),
                    removed,
                    cursor: 0,
                    saved: hashbrown::HashMap::new(),
                }
            }
            _ => {
                let mut live = 0u32;
                let rank = self
                    .slots
                    .iter()
                    .map(|slot| {
                        let rank = live;
                        live += u32::from(!slot.is_vacant());
                        rank
                    })
                    .collect();
                Frozen {
                    token,
                    len,
                    nodes: self.node_count(),
                    rank,
                    wanted: None,
                    removed: Vec::new(),
                    cursor: 0,
                    saved: hashbrown::HashMap::new(),
                }
            }
        };
        self.frozen = Some(Box::new(frozen));
        Some(FreezeToken(token))
    }

    /// The number of nodes the freeze `token` names views.
    pub fn frozen_nodes(&self, token: &FreezeToken) -> Result<usize, Thawed> {
        Ok(self.frozen_for(token)?.nodes)
    }

    /// The paths removed since the previous freeze (a view of changes), children first.
    pub fn frozen_removed(&self, token: &FreezeToken) -> Result<&[Box<str>], Thawed> {
        Ok(&self.frozen_for(token)?.removed)
    }

    /// Visits the next `max_slots` slots of the frozen view, each live one as it was at the
    /// freeze; `true` once every slot has been read (the tree is then thawed).
    pub fn read_frozen(
        &mut self,
        token: &FreezeToken,
        max_slots: u32,
        mut visit: impl FnMut(FrozenNode<'_>),
    ) -> Result<bool, Thawed> {
        let DataTree { frozen, slots, .. } = self;
        let view = frozen
            .as_deref_mut()
            .filter(|f| f.token == token.0)
            .ok_or(Thawed)?;
        let end = view.cursor.saturating_add(max_slots).min(view.len);
        for id in view.cursor..end {
            if view.wanted.as_ref().is_some_and(|w| !w.contains(id)) {
                continue;
            }
            let saved = view.saved.remove(&id);
            let slot = saved.as_ref().unwrap_or(&slots[id as usize]);
            if slot.is_vacant() {
                continue;
            }
            let number = |id: NodeId| view.rank.get(id as usize).copied().unwrap_or(0);
            visit(FrozenNode {
                id: number(id),
                parent: number(slot.parent),
                path: slot.path(),
                data: slot.data(),
                meta: &slot.meta,
            });
        }
        view.cursor = end;
        let done = end == view.len;
        if done {
            *frozen = None;
        }
        Ok(done)
    }

    /// Drops the frozen view `token` names (a snapshot given up), if it is still the current one.
    pub fn thaw(&mut self, token: &FreezeToken) {
        if self.frozen.as_ref().is_some_and(|f| f.token == token.0) {
            self.frozen = None;
        }
    }

    /// Called before any change to slot `id`: keeps its pre-image if a reader still needs it.
    pub(super) fn preserve(&mut self, id: NodeId) {
        let DataTree { frozen, slots, .. } = self;
        if let Some(view) = frozen.as_deref_mut() {
            let wanted = view.wanted.as_ref().is_none_or(|w| w.contains(id));
            if id >= view.cursor && id < view.len && wanted {
                view.saved
                    .entry(id)
                    .or_insert_with(|| slots[id as usize].pre_image());
            }
        }
    }

    fn frozen_for(&self, token: &FreezeToken) -> Result<&Frozen, Thawed> {
        self.frozen
            .as_deref()
            .filter(|f| f.token == token.0)
            .ok_or(Thawed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(
        tree: &mut DataTree,
        token: &FreezeToken,
        chunk: u32,
    ) -> Vec<(String, Vec<u8>, i32)> {
        let mut seen = Vec::new();
        while !tree
            .read_frozen(token, chunk, |n| {
                seen.push((
                    n.path.to_owned(),
                    n.data.unwrap_or_default().to_vec(),
                    n.meta.version,
                ))
            })
            .unwrap()
        {}
        seen.sort();
        seen
    }

    #[test]
    fn the_view_ignores_changes_made_while_it_is_read() {
        let mut tree = DataTree::new();
        tree.insert("/a", Some(b"a0"), Meta::default());
        for i in 0..20 {
            tree.insert(&format!("/a/{i:02}"), Some(b"x"), Meta::default());
        }
        let before: Vec<_> = {
            let token = tree.freeze();
            read_all(&mut tree, &token, 1000)
        };
        let token = tree.freeze();
        assert_eq!(tree.frozen_nodes(&token), Ok(25));
        let mut seen = Vec::new();
        let mut push = |n: FrozenNode<'_>| {
            seen.push((
                n.path.to_owned(),
                n.data.unwrap_or_default().to_vec(),
                n.meta.version,
            ))
        };
        assert!(!tree.read_frozen(&token, 8, &mut push).unwrap());
        // Changes both behind and ahead of the reader, slot reuse included.
        tree.set_data("/a", Some(b"changed"));
        tree.get_mut("/a/15").unwrap().version = 7;
        tree.remove("/a/19");
        tree.remove("/a/03");
        tree.insert("/a/new", Some(b"n"), Meta::default());
        tree.insert("/a/new2", Some(b"n"), Meta::default());
        tree.set_data("/a/10", None);
        while !tree.read_frozen(&token, 3, &mut push).unwrap() {}
        seen.sort();
        assert_eq!(seen, before);
        assert!(tree.frozen.is_none(), "thawed once read");
        assert_eq!(tree.get("/a/15").unwrap().version, 7);
    }

    #[test]
    fn a_new_freeze_or_a_replaced_tree_ends_the_old_view() {
        let mut tree = DataTree::new();
        let old = tree.freeze();
        let new = tree.freeze();
        assert_eq!(tree.read_frozen(&old, 10, |_| {}), Err(Thawed));
        tree.thaw(&new);
        assert_eq!(tree.read_frozen(&new, 10, |_| {}), Err(Thawed));
        let token = tree.freeze();
        tree.restorer(0);
        assert_eq!(tree.frozen_nodes(&token), Err(Thawed));
    }

    #[test]
    fn a_view_of_changes_holds_what_changed_since_the_last_freeze() {
        let mut tree = DataTree::new();
        assert!(tree.freeze_changes().is_none(), "not tracked yet");
        tree.insert("/a", Some(b""), Meta::default());
        for i in 0..10 {
            tree.insert(&format!("/a/{i}"), Some(b"x"), Meta::default());
        }
        tree.track_changes();
        tree.set_data("/a/1", Some(b"one"));
        tree.remove("/a/2");
        tree.remove("/a/3");
        tree.insert("/a/3", Some(b"again"), Meta::default());
        tree.insert("/a/new", Some(b"n"), Meta::default());
        tree.insert("/gone", None, Meta::default());
        tree.remove("/gone");
        let token = tree.freeze_changes().unwrap();
        // A change after the freeze belongs to the next view, not to this one.
        tree.set_data("/a/1", Some(b"later"));
        tree.remove("/a/4");
        assert_eq!(
            tree.frozen_removed(&token).unwrap(),
            [Box::from("/gone"), Box::from("/a/2")]
        );
        let seen = read_all(&mut tree, &token, 2);
        let paths: Vec<&str> = seen.iter().map(|(p, _, _)| p.as_str()).collect();
        // /a/3 and /a/new may share one reused slot; both are there as they were at the freeze.
        assert_eq!(paths, ["/a/1", "/a/3", "/a/new"]);
        assert_eq!(seen[0].1, b"one");
        let next = tree.freeze_changes().unwrap();
        assert_eq!(tree.frozen_removed(&next).unwrap(), [Box::from("/a/4")]);
        let seen = read_all(&mut tree, &next, 100);
        assert_eq!(seen, [("/a/1".to_owned(), b"later".to_vec(), 0)]);
    }
}
