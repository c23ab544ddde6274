//! Refilling a tree from a snapshot image.

//!
//! Two orders: [`Restorer`] takes nodes parents first (depth first, as version-1 images hold
//! them); [`Rebuilder`] takes them by slot, each naming its parent's slot (as a frozen tree
//! is read, see `frozen`), puts each back into the same slot and links parents and children
//! once all are in.

use std::hash::BuildHasher;

use crate::proto::path;

use super::slot::{NodeId, Slot, ROOT};
use super::{DataTree, Meta};

/// Why a snapshot's nodes do not make a tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreError {
    RootNotFirst,
    NoParent,
    Duplicate,
    BadPath,
    BadSlot,
}

impl RestoreError {
    pub fn as_str(self) -> &'static str {
        match self {
            RestoreError::RootNotFirst => "snapshot: the first node is not the root",
            RestoreError::NoParent => "snapshot: a node's parent is missing",
            RestoreError::Duplicate => "snapshot: a path appears twice",
            RestoreError::BadPath => "snapshot: a path is not absolute or ends with a slash",
            RestoreError::BadSlot => "snapshot: a slot number is out of range or used twice",
        }
    }
}

impl std::fmt::Display for RestoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for RestoreError {}

impl DataTree {
    /// Empties the tree completely, root included, to refill it from a snapshot of about
    /// `expected_nodes` nodes (the root first, then every node after its parent).
    pub fn restorer(&mut self, expected_nodes: usize) -> Restorer<'_> {
        self.reset_for(expected_nodes);
        Restorer {
            tree: self,
            ancestors: Vec::new(),
        }
    }

    /// Empties the tree completely, root included, to refill it with `nodes` nodes numbered
    /// 0 (the root) to `nodes - 1`, each put into the slot of its number.
    pub fn rebuilder(&mut self, nodes: usize) -> Rebuilder<'_> {
        self.reset_for(nodes);
        self.slots.resize_with(nodes, Slot::vacant);
        Rebuilder { tree: self }
    }

    fn reset_for(&mut self, expected_nodes: usize) {
        *self = DataTree::empty();
        // Room for the log replayed after the snapshot too, so the index is not rehashed
        // (every path hashed again) right after it was filled.
        let room = expected_nodes.saturating_add(expected_nodes / 4);
        self.slots.reserve(room);
        self.by_path.reserve(room, |_| 0);
    }
}

/// Refills a tree from a snapshot, from [`DataTree::restorer`].
pub struct Restorer<'a> {
    tree: &'a mut DataTree,
    /// The last restored node and its ancestors, root first: in a snapshot written parents
    /// before children (depth first), a node's parent is among them, so finding it needs no
    /// lookup.
    ancestors: Vec<NodeId>,
}

impl Restorer<'_> {
    /// Adds the next node; the first must be the root, every other comes after its parent.
    pub fn push(
        &mut self,
        path: &str,
        data: Option<&[u8]>,
        meta: Meta,
    ) -> Result<(), RestoreError> {
        let tree = &mut *self.tree;
        if tree.slots.is_empty() {
            if path != "/" {
                return Err(RestoreError::RootNotFirst);
            }
            tree.link_new(path, None, data, meta);
            self.ancestors.push(ROOT);
            return Ok(());
        }
        if !path.starts_with('/') || path.ends_with('/') {
            return Err(if path == "/" {
                RestoreError::Duplicate
            } else {
                RestoreError::BadPath
            });
        }
        let parent_path = path::parent(path);
        while let Some(&last) = self.ancestors.last() {
            if tree.slots[last as usize].path() == parent_path {
                break;
            }
            self.ancestors.pop();
        }
        let parent = match self.ancestors.last() {
            Some(&parent) => parent,
            // Not written depth first: look the parent up.
            None => tree.find(parent_path).ok_or(RestoreError::NoParent)?,
        };
        if tree.find(path).is_some() {
            return Err(RestoreError::Duplicate);
        }
        let id = tree.link_new(path, Some(parent), data, meta);
        if self.ancestors.is_empty() {
            self.ancestors.push(parent);
        }
        self.ancestors.push(id);
        Ok(())
    }
}

/// Refills a tree slot by slot, from [`DataTree::rebuilder`].
pub struct Rebuilder<'a> {
    tree: &'a mut DataTree,
}

impl Rebuilder<'_> {
    /// Puts a node into slot `id`, under the node that will be in slot `parent`.
    pub fn put(
        &mut self,
        id: u32,
        parent: u32,
        path: &str,
        data: Option<&[u8]>,
        meta: Meta,
    ) -> Result<(), RestoreError> {
        let is_root = id == ROOT;
        if is_root != (path == "/") {
            return Err(if is_root {
                RestoreError::RootNotFirst
            } else {
                RestoreError::Duplicate
            });
        }
        if !is_root && (!path.starts_with('/') || path.ends_with('/')) {
            return Err(RestoreError::BadPath);
        }
        let tree = &mut *self.tree;
        match tree.slots.get(id as usize) {
            Some(slot) if slot.is_vacant() => {}
            _ => return Err(RestoreError::BadSlot),
        }
        let mut slot = Slot::new(path, data, meta);
        slot.parent = parent;
        tree.data_size += slot.bytes.len() as u64;
        tree.slots[id as usize] = slot;
        tree.index_expirable(id);
        Ok(())
    }

    /// Links every node under its parent and indexes it by path; every slot must be filled.
    pub fn finish(self) -> Result<(), RestoreError> {
        let tree = self.tree;
        if tree.slots.first().is_none_or(Slot::is_vacant) {
            return Err(RestoreError::RootNotFirst);
        }
        if tree.slots.iter().any(Slot::is_vacant) {
            return Err(RestoreError::BadSlot);
        }
        let len = NodeId::try_from(tree.slots.len()).map_err(|_| RestoreError::BadSlot)?;
        for id in 1..len {
            let slot = &tree.slots[id as usize];
            let parent = slot.parent;
            let parent_ok = tree.slots.get(parent as usize).is_some_and(|p| {
                parent != id && !p.is_vacant() && p.path() == path::parent(slot.path())
            });
            if !parent_ok {
                return Err(RestoreError::NoParent);
            }
            let siblings = tree.slots[parent as usize]
                .children
                .get_or_insert_with(Box::default);
            let position = u32::try_from(siblings.len()).unwrap_or(u32::MAX);
            siblings.push(id);
            tree.slots[id as usize].position = position;
        }
        let DataTree {
            slots,
            by_path,
            hasher,
            ..
        } = tree;
        for id in 0..len {
            let path = slots[id as usize].path();
            match by_path.entry(
                hasher.hash_one(path),
                |&other| slots[other as usize].path() == path,
                |&other| hasher.hash_one(slots[other as usize].path()),
            ) {
                hashbrown::hash_table::Entry::Occupied(_) => return Err(RestoreError::Duplicate),
                hashbrown::hash_table::Entry::Vacant(vacant) => {
                    vacant.insert(id);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebuilds_slot_by_slot() {
        let mut tree = DataTree::new();
        let mut rebuilder = tree.rebuilder(4);
        let meta = Meta::default();
        // A child in a lower slot than its parent.
        rebuilder.put(0, 0, "/", Some(b""), meta).unwrap();
        rebuilder.put(1, 3, "/p/c", Some(b"c"), meta).unwrap();
        rebuilder.put(2, 0, "/q", None, meta).unwrap();
        assert_eq!(
            rebuilder.put(2, 0, "/x", None, meta),
            Err(RestoreError::BadSlot)
        );
        assert_eq!(
            rebuilder.put(9, 0, "/x", None, meta),
            Err(RestoreError::BadSlot)
        );
        assert_eq!(
            rebuilder.put(3, 0, "/", None, meta),
            Err(RestoreError::Duplicate)
        );
        assert_eq!(
            rebuilder.put(3, 0, "x", None, meta),
            Err(RestoreError::BadPath)
        );
        rebuilder.put(3, 0, "/p", Some(b"p"), meta).unwrap();
        rebuilder.finish().unwrap();
        assert_eq!(tree.node_count(), 4);
        assert_eq!(tree.get("/p").unwrap().sorted_child_names(), ["c"]);
        assert_eq!(tree.get("/p/c").unwrap().data(), Some(&b"c"[..]));
        assert_eq!(tree.get("/").unwrap().num_children(), 2);
        assert!(tree.insert("/q/new", None, meta));
        assert!(tree.remove("/p/c").is_some());
        assert!(tree.remove("/p").is_some());
    }

    #[test]
    fn rebuild_refuses_broken_trees() {
        let meta = Meta::default();
        let mut tree = DataTree::new();
        let mut rebuilder = tree.rebuilder(3);
        rebuilder.put(1, 0, "/a", None, meta).unwrap();
        assert_eq!(rebuilder.finish(), Err(RestoreError::RootNotFirst));

        let mut rebuilder = tree.rebuilder(3);
        rebuilder.put(0, 0, "/", None, meta).unwrap();
        rebuilder.put(1, 2, "/a/b", None, meta).unwrap();
        rebuilder.put(2, 0, "/c", None, meta).unwrap();
        assert_eq!(
            rebuilder.finish(),
            Err(RestoreError::NoParent),
            "wrong parent path"
        );

        let mut rebuilder = tree.rebuilder(2);
        rebuilder.put(0, 0, "/", None, meta).unwrap();
        rebuilder.put(1, 1, "/a", None, meta).unwrap();
        assert_eq!(
            rebuilder.finish(),
            Err(RestoreError::NoParent),
            "own parent"
        );

        let mut rebuilder = tree.rebuilder(3);
        rebuilder.put(0, 0, "/", None, meta).unwrap();
        rebuilder.put(1, 0, "/a", None, meta).unwrap();
        assert_eq!(
            rebuilder.finish(),
            Err(RestoreError::BadSlot),
            "a slot left empty"
        );

        let mut rebuilder = tree.rebuilder(3);
        rebuilder.put(0, 0, "/", None, meta).unwrap();
        rebuilder.put(1, 0, "/a", None, meta).unwrap();
        rebuilder.put(2, 0, "/a", None, meta).unwrap();
        assert_eq!(rebuilder.finish(), Err(RestoreError::Duplicate));
    }
}
