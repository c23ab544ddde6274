//! What changed since the last snapshot: the slots touched and the paths removed, so that a
//! snapshot can hold only those (a delta, see `image`).

use super::slot::NodeId;
use super::DataTree;

/// Changes since the last freeze, once [`DataTree::track_changes`] started recording them.
#[derive(Debug, Clone, Default)]
pub(super) struct Changes {
    pub(super) touched: Bitset,
    pub(super) removed: Vec<Box<str>>,
}

/// A growable set of slot ids.
#[derive(Debug, Clone, Default)]
pub(super) struct Bitset(Vec<u64>);

impl Bitset {
    pub(super) fn insert(&mut self, id: NodeId) {
        let (word, bit) = (id as usize / 64, id % 64);
        if word >= self.0.len() {
            self.0.resize(word + 1, 0);
        }
        self.0[word] |= 1 << bit;
    }

    pub(super) fn contains(&self, id: NodeId) -> bool {
        let (word, bit) = (id as usize / 64, id % 64);
        self.0.get(word).is_some_and(|w| w & (1 << bit) != 0)
    }

    pub(super) fn remove(&mut self, id: NodeId) {
        let (word, bit) = (id as usize / 64, id % 64);
        if let Some(w) = self.0.get_mut(word) {
            *w &= !(1 << bit);
        }
    }

    pub(super) fn len(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// The ids in the set, ascending.
    pub(super) fn iter(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.0.iter().enumerate().flat_map(|(word, &bits)| {
            (0..64u32)
                .filter(move |bit| bits & (1 << bit) != 0)
                .map(move |bit| word as NodeId * 64 + bit)
        })
    }
}

impl DataTree {
    /// Starts recording which nodes change, for snapshots that hold only those
    /// ([`DataTree::freeze_changes`]). What changed before is not recorded.
    pub fn track_changes(&mut self) {
        self.changes = Some(Box::default());
    }

    /// Called before any change to slot `id`.
    pub(super) fn before_change(&mut self, id: NodeId) {
        self.preserve(id);
        if let Some(changes) = self.changes.as_deref_mut() {
            changes.touched.insert(id);
        }
    }

    /// Called before the node in slot `id` is removed.
    pub(super) fn before_remove(&mut self, id: NodeId) {
        self.before_change(id);
        let DataTree { changes, slots, .. } = self;
        if let Some(changes) = changes.as_deref_mut() {
            changes.removed.push(slots[id as usize].path().into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitset_iterates_in_order() {
        let mut set = Bitset::default();
        for id in [200, 3, 64, 63, 0, 3] {
            set.insert(id);
        }
        set.remove(64);
        assert!(set.contains(63) && !set.contains(64) && !set.contains(10_000));
        assert_eq!(set.iter().collect::<Vec<_>>(), [0, 3, 63, 200]);
        assert_eq!(set.len(), 4);
    }
}
