//! The data tree: znodes by path, their Stat bookkeeping and the ACL cache. A plain data
//! structure: it validates nothing and knows nothing of sessions or watches; `state` decides
//! what may change and calls the mutators here.
//!
//! # Memory layout
//!
//! A server holds millions of znodes, so a znode costs one slot in a slab and one heap block:
//!
//! - `slots: Vec<Slot>`, addressed by a `u32` id. A slot keeps the [`Meta`] (the Stat fields
//!   and the ACL reference), its parent's id, its position in the parent's child list and the
//!   ids of its children (no allocation for a leaf). Freed slots are reused.
//! - each slot's path and data share one boxed byte block: `path bytes | data bytes`.
//! - `by_path`, a hash table of ids keyed by the full path, so a lookup hashes the path once
//!   and compares against the path in the slot, without storing the key twice.
//!
//! Child lists are unordered; unlinking swaps the last child into the gap and updates its
//! position, so create and delete stay O(1) under a parent with a million children. Listings
//! that clients see are sorted ([`NodeRef::sorted_child_names`]).

use std::hash::BuildHasher;
use std::sync::Arc;

use hashbrown::{DefaultHashBuilder, HashTable};

use crate::proto::{path, Acl, Stat};

mod acl_cache;
mod changes;
mod frozen;
mod restore;
mod slot;

pub use acl_cache::AclCache;
pub use frozen::{FreezeToken, FrozenNode, Thawed};
pub use restore::{Rebuilder, RestoreError, Restorer};
use slot::{Slot, ROOT};

/// A node's slot: names the node until it is removed (then the slot may hold another).
pub type NodeId = slot::NodeId;

/// `ephemeralOwner` of a container node (`EphemeralType.CONTAINER`).
pub const CONTAINER_OWNER: i64 = i64::MIN;
/// High byte marking a TTL node's `ephemeralOwner` (`EphemeralType.TTL`).
const TTL_MARKER: u64 = 0xFF00_0000_0000_0000;

/// What kind of node an `ephemeralOwner` value encodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Persistent,
    Ephemeral(i64),
    Container,
    Ttl(i64),
}

impl NodeKind {
    pub fn from_owner(owner: i64) -> Self {
        if owner == 0 {
            NodeKind::Persistent
        } else if owner == CONTAINER_OWNER {
            NodeKind::Container
        } else if (owner as u64) & 0xFF00_0000_0000_0000 == TTL_MARKER {
            NodeKind::Ttl((owner as u64 & !TTL_MARKER) as i64)
        } else {
            NodeKind::Ephemeral(owner)
        }
    }

    pub fn owner(self) -> i64 {
        match self {
            NodeKind::Persistent => 0,
            NodeKind::Ephemeral(session) => session,
            NodeKind::Container => CONTAINER_OWNER,
            NodeKind::Ttl(ttl) => (TTL_MARKER | ttl as u64) as i64,
        }
    }
}

/// A reference into the [`AclCache`]; many nodes share one ACL list.
pub type AclRef = u32;

/// A znode's bookkeeping as stored: the Stat fields and the ACL. `cversion` is the persisted
/// count of child creations; clients see `2 * cversion - numChildren` (see [`NodeRef::stat`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Meta {
    pub acl: AclRef,
    pub czxid: i64,
    pub mzxid: i64,
    pub pzxid: i64,
    pub ctime: i64,
    pub mtime: i64,
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
    pub ephemeral_owner: i64,
}

impl Meta {
    pub fn kind(&self) -> NodeKind {
        NodeKind::from_owner(self.ephemeral_owner)
    }

    /// Containers and TTL nodes, which the server deletes on its own.
    pub fn is_expirable(&self) -> bool {
        matches!(self.kind(), NodeKind::Container | NodeKind::Ttl(_))
    }
}

/// A znode outside the tree: what it holds, not where it is. What [`DataTree::insert`] takes
/// and [`DataTree::remove`] gives back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Node {
    pub data: Option<Box<[u8]>>,
    pub meta: Meta,
}

impl Node {
    pub fn data_len(&self) -> usize {
        self.data.as_deref().map_or(0, <[u8]>::len)
    }
}

/// A znode in the tree, borrowed. Derefs to its [`Meta`].
#[derive(Clone, Copy)]
pub struct NodeRef<'a> {
    tree: &'a DataTree,
    slot: &'a Slot,
    id: NodeId,
}

impl std::ops::Deref for NodeRef<'_> {
    type Target = Meta;

    fn deref(&self) -> &Meta {
        &self.slot.meta
    }
}

impl std::fmt::Debug for NodeRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeRef")
            .field("path", &self.path())
            .field("data_len", &self.data_len())
            .field("children", &self.num_children())
            .field("meta", &self.slot.meta)
            .finish()
    }
}

impl<'a> NodeRef<'a> {
    pub fn id(&self) -> NodeId {
        self.id
    }

    pub fn path(&self) -> &'a str {
        self.slot.path()
    }

    pub fn data(&self) -> Option<&'a [u8]> {
        self.slot.data()
    }

    pub fn data_len(&self) -> usize {
        self.slot.data_len()
    }

    pub fn num_children(&self) -> usize {
        self.slot.children().len()
    }

    pub fn has_children(&self) -> bool {
        !self.slot.children().is_empty()
    }

    /// The children, in no particular order.
    pub fn children(&self) -> impl Iterator<Item = NodeRef<'a>> + 'a {
        let tree = self.tree;
        self.slot.children().iter().map(move |&id| tree.at(id))
    }

    /// The children's names (last path segments), in no particular order.
    pub fn child_names(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.children().map(|child| path::basename(child.path()))
    }

    /// The children's names in byte order: what getChildren answers.
    pub fn sorted_child_names(&self) -> Vec<String> {
        let mut names: Vec<&str> = self.child_names().collect();
        names.sort_unstable();
        names.into_iter().map(str::to_owned).collect()
    }

    /// The Stat clients see (`DataNode.copyStat`): container and TTL owners show as 0, and
    /// `cversion` counts changes rather than creations.
    pub fn stat(&self) -> Stat {
        let meta = &self.slot.meta;
        let num_children = i32::try_from(self.num_children()).unwrap_or(i32::MAX);
        Stat {
            czxid: meta.czxid,
            mzxid: meta.mzxid,
            ctime: meta.ctime,
            mtime: meta.mtime,
            version: meta.version,
            cversion: meta.cversion.wrapping_mul(2).wrapping_sub(num_children),
            aversion: meta.aversion,
            ephemeral_owner: match meta.kind() {
                NodeKind::Ephemeral(session) => session,
                _ => 0,
            },
            data_length: i32::try_from(self.data_len()).unwrap_or(i32::MAX),
            num_children,
            pzxid: meta.pzxid,
        }
    }
}

/// Znodes by full path. The root is stored under `/`; lookups of `""` find it too, as
/// Apache's tree does.
#[derive(Clone)]
pub struct DataTree {
    slots: Vec<Slot>,
    free: Vec<NodeId>,
    by_path: HashTable<NodeId>,
    hasher: DefaultHashBuilder,
    pub acls: AclCache,
    /// Sum of path and data lengths (`approximate_data_size`).
    data_size: u64,
    /// The view a snapshot being written reads (see `frozen`).
    frozen: Option<Box<frozen::Frozen>>,
    /// What changed since the last snapshot, once tracked (see `changes`).
    changes: Option<Box<changes::Changes>>,
    /// The slots of container and TTL nodes, the only ones cleanup looks at.
    expirable: std::collections::HashSet<NodeId>,
}

impl std::fmt::Debug for DataTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataTree")
            .field("nodes", &self.node_count())
            .field("data_size", &self.data_size)
            .field("acls", &self.acls.len())
            .finish()
    }
}

pub const ZOOKEEPER_PATH: &str = "/zookeeper";
pub const QUOTA_PATH: &str = "/zookeeper/quota";
pub const CONFIG_PATH: &str = "/zookeeper/config";

impl Default for DataTree {
    fn default() -> Self {
        Self::new()
    }
}

impl DataTree {
    /// A tree with the built-in nodes `/`, `/zookeeper`, `/zookeeper/quota` and
    /// `/zookeeper/config`, all with zeroed stats, as a fresh Apache server has.
    pub fn new() -> Self {
        let mut tree = DataTree::empty();
        let open = tree.acls.intern(&Acl::open_unsafe());
        tree.link_new("/", None, Some(&[]), meta_with_acl(open));
        for p in [ZOOKEEPER_PATH, QUOTA_PATH] {
            let acl = tree.acls.intern(&Acl::open_unsafe());
            tree.insert(p, Some(&[]), meta_with_acl(acl));
        }
        let read = tree.acls.intern(&Acl::read_unsafe());
        let config = Meta {
            aversion: -1,
            ..meta_with_acl(read)
        };
        tree.insert(CONFIG_PATH, Some(&[]), config);
        tree
    }

    /// Paths that can never be deleted.
    pub fn is_special(path: &str) -> bool {
        matches!(path, "/" | ZOOKEEPER_PATH | QUOTA_PATH | CONFIG_PATH)
    }

    pub fn get(&self, path: &str) -> Option<NodeRef<'_>> {
        self.find(path).map(|id| self.at(id))
    }

    /// The node in slot `id`, which must hold one (an id from a lookup, before any removal).
    pub fn at(&self, id: NodeId) -> NodeRef<'_> {
        NodeRef {
            tree: self,
            slot: &self.slots[id as usize],
            id,
        }
    }

    /// [`DataTree::get_mut`] by slot.
    pub fn meta_mut_at(&mut self, id: NodeId) -> &mut Meta {
        self.before_change(id);
        &mut self.slots[id as usize].meta
    }

    /// [`DataTree::set_data`] by slot.
    pub fn set_data_at(&mut self, id: NodeId, data: Option<&[u8]>) {
        self.replace_content(id, data);
    }

    /// Inserts a node at `path`, which must not be in the tree, under the node in slot
    /// `parent`, which must be its parent.
    pub fn insert_child(
        &mut self,
        parent: NodeId,
        path: &str,
        data: Option<&[u8]>,
        meta: Meta,
    ) -> NodeId {
        debug_assert_eq!(self.slots[parent as usize].path(), path::parent(path));
        self.link_new(path, Some(parent), data, meta)
    }

    /// The node's bookkeeping, to change in place; data changes go through
    /// [`DataTree::set_data`].
    pub fn get_mut(&mut self, path: &str) -> Option<&mut Meta> {
        let id = self.find(path)?;
        self.before_change(id);
        Some(&mut self.slots[id as usize].meta)
    }

    pub fn contains(&self, path: &str) -> bool {
        self.find(path).is_some()
    }

    pub fn node_count(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    pub fn approximate_data_size(&self) -> u64 {
        self.data_size
    }

    pub fn acl_of(&self, meta: &Meta) -> Arc<[Acl]> {
        self.acls.get(meta.acl)
    }

    /// Inserts a node at `path` under its parent, which must exist; `false` (and nothing
    /// changes) if it does not. A node already at `path` gets the new data and Meta and keeps
    /// its children. The parent's Stat stays as it is: the caller updates cversion/pzxid.
    pub fn insert(&mut self, path: &str, data: Option<&[u8]>, meta: Meta) -> bool {
        if let Some(id) = self.find(path) {
            self.replace_content(id, data);
            self.slots[id as usize].meta = meta;
            self.index_expirable(id);
            return true;
        }
        let Some(parent) = self.find(path::parent(path)) else {
            return false;
        };
        self.link_new(path, Some(parent), data, meta);
        true
    }

    /// Removes the leaf at `path` and unlinks it from its parent. `None` if there is no such
    /// node, or it is the root, or it still has children (which would be left unreachable).
    pub fn remove(&mut self, path: &str) -> Option<Node> {
        let id = self.find(path)?;
        let slot = &self.slots[id as usize];
        if id == ROOT || !slot.children().is_empty() {
            return None;
        }
        let hash = self.hasher.hash_one(slot.path());
        if let Ok(entry) = self.by_path.find_entry(hash, |&other| other == id) {
            entry.remove();
        }
        let (parent, position) = (slot.parent, slot.position);
        self.before_remove(id);
        self.unlink_child(parent, position);
        let slot = std::mem::replace(&mut self.slots[id as usize], Slot::vacant());
        self.free.push(id);
        self.expirable.remove(&id);
        self.data_size = self.data_size.saturating_sub(slot.bytes.len() as u64);
        Some(Node {
            data: slot.data().map(Box::from),
            meta: slot.meta,
        })
    }

    /// Replaces a node's data, keeping the size accounting right; `false` if there is no
    /// node at `path`.
    pub fn set_data(&mut self, path: &str, data: Option<&[u8]>) -> bool {
        match self.find(path) {
            Some(id) => {
                self.replace_content(id, data);
                true
            }
            None => false,
        }
    }

    /// Visits every node, parents before children.
    pub fn walk(&self, visit: impl FnMut(NodeRef<'_>)) {
        self.visit_subtree("/", visit);
    }

    /// Every node, in no particular order (faster than [`DataTree::walk`]).
    pub fn iter(&self) -> impl Iterator<Item = NodeRef<'_>> {
        self.slots
            .iter()
            .zip(0..)
            .filter(|(slot, _)| !slot.is_vacant())
            .map(|(_, id)| self.at(id))
    }

    /// Every container and TTL node, in no particular order: what cleanup looks at, without
    /// visiting the rest of the tree.
    pub fn expirable(&self) -> impl Iterator<Item = NodeRef<'_>> {
        self.expirable.iter().map(|&id| self.at(id))
    }

    /// Keeps slot `id` in the expirable index exactly when its node is one.
    fn index_expirable(&mut self, id: NodeId) {
        if self.slots[id as usize].meta.is_expirable() {
            self.expirable.insert(id);
        } else {
            self.expirable.remove(&id);
        }
    }

    /// Visits the node at `path` and every node below it, parents before children.
    pub fn visit_subtree(&self, path: &str, mut visit: impl FnMut(NodeRef<'_>)) {
        let Some(top) = self.find(path) else {
            return;
        };
        let mut stack = vec![top];
        while let Some(id) = stack.pop() {
            visit(self.at(id));
            stack.extend_from_slice(self.slots[id as usize].children());
        }
    }

    /// Number of descendants below `path` (`getAllChildrenNumber`).
    pub fn descendant_count(&self, path: &str) -> usize {
        let mut count = 0usize;
        self.visit_subtree(path, |_| count += 1);
        count.saturating_sub(1)
    }

    fn empty() -> Self {
        DataTree {
            slots: Vec::new(),
            free: Vec::new(),
            by_path: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
            acls: AclCache::default(),
            data_size: 0,
            frozen: None,
            changes: None,
            expirable: std::collections::HashSet::new(),
        }
    }

    fn find(&self, path: &str) -> Option<NodeId> {
        let path = if path.is_empty() { "/" } else { path };
        let hash = self.hasher.hash_one(path);
        let slots = &self.slots;
        self.by_path
            .find(hash, |&id| slots[id as usize].path() == path)
            .copied()
    }

    /// Puts a new node (whose path is not in the tree) into a free slot (or a new one), the
    /// index and its parent's child list.
    fn link_new(
        &mut self,
        path: &str,
        parent: Option<NodeId>,
        data: Option<&[u8]>,
        meta: Meta,
    ) -> NodeId {
        let hash = self.hasher.hash_one(path);
        let mut slot = Slot::new(path, data, meta);
        self.data_size += slot.bytes.len() as u64;
        let id = match self.free.pop() {
            Some(id) => {
                self.before_change(id);
                id
            }
            None => {
                // Ids are u32: past four billion znodes the process is out of memory anyway.
                let id = NodeId::try_from(self.slots.len()).unwrap_or(NodeId::MAX);
                self.slots.push(Slot::vacant());
                self.before_change(id);
                id
            }
        };
        if let Some(parent) = parent {
            slot.parent = parent;
            let siblings = self.slots[parent as usize]
                .children
                .get_or_insert_with(Box::default);
            slot.position = u32::try_from(siblings.len()).unwrap_or(u32::MAX);
            siblings.push(id);
        }
        self.slots[id as usize] = slot;
        self.index_expirable(id);
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.by_path.insert_unique(hash, id, |&other| {
            hasher.hash_one(slots[other as usize].path())
        });
        id
    }

    fn unlink_child(&mut self, parent: NodeId, position: u32) {
        let Some(siblings) = self.slots[parent as usize].children.as_mut() else {
            return;
        };
        let position = position as usize;
        if position >= siblings.len() {
            return;
        }
        siblings.swap_remove(position);
        let moved = siblings.get(position).copied();
        if siblings.is_empty() {
            self.slots[parent as usize].children = None;
        }
        if let Some(moved) = moved {
            self.slots[moved as usize].position = position as u32;
        }
    }

    fn replace_content(&mut self, id: NodeId, data: Option<&[u8]>) {
        self.before_change(id);
        let slot = &mut self.slots[id as usize];
        let old_len = slot.bytes.len() as u64;
        slot.set_data(data);
        self.data_size = self.data_size.saturating_sub(old_len) + slot.bytes.len() as u64;
    }
}

fn meta_with_acl(acl: AclRef) -> Meta {
    Meta {
        acl,
        ..Meta::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insert_leaf(tree: &mut DataTree, path: &str, data: &[u8]) -> bool {
        tree.insert(path, Some(data), Meta::default())
    }

    #[test]
    fn fresh_tree_matches_apache() {
        let tree = DataTree::new();
        let root = tree.get("/").unwrap().stat();
        assert_eq!(root.num_children, 1);
        assert_eq!(root.cversion, -1);
        assert_eq!(tree.get("/zookeeper").unwrap().stat().cversion, -2);
        assert_eq!(tree.get(CONFIG_PATH).unwrap().stat().aversion, -1);
        assert!(tree.get("").is_some());
        assert_eq!(tree.descendant_count("/"), 3);
        assert_eq!(tree.node_count(), 4);
    }

    #[test]
    fn kinds_round_trip() {
        for kind in [
            NodeKind::Persistent,
            NodeKind::Ephemeral(0x100_0000_0000_0001),
            NodeKind::Container,
            NodeKind::Ttl(60_000),
        ] {
            assert_eq!(NodeKind::from_owner(kind.owner()), kind);
        }
    }

    #[test]
    fn acl_cache_shares_and_releases() {
        let mut cache = AclCache::default();
        let a = cache.intern(&Acl::open_unsafe());
        let b = cache.intern(&Acl::open_unsafe());
        assert_eq!(a, b);
        cache.release(a);
        assert_eq!(cache.len(), 1);
        cache.release(b);
        assert!(cache.is_empty());
    }

    #[test]
    fn children_survive_removals_in_any_order() {
        let mut tree = DataTree::new();
        assert!(insert_leaf(&mut tree, "/p", b""));
        for i in 0..50 {
            assert!(insert_leaf(
                &mut tree,
                &format!("/p/c{i:02}"),
                &[i as u8; 3]
            ));
        }
        // Middle, first and last positions, so swapped children must keep their positions.
        for i in [25, 0, 49, 10, 11, 48, 1] {
            let removed = tree.remove(&format!("/p/c{i:02}")).unwrap();
            assert_eq!(removed.data.as_deref(), Some(&[i as u8; 3][..]));
        }
        let names = tree.get("/p").unwrap().sorted_child_names();
        let expected: Vec<String> = (0..50)
            .filter(|i| ![25, 0, 49, 10, 11, 48, 1].contains(i))
            .map(|i| format!("c{i:02}"))
            .collect();
        assert_eq!(names, expected);
        for name in &expected {
            assert!(tree.remove(&format!("/p/{name}")).is_some(), "{name}");
        }
        assert!(!tree.get("/p").unwrap().has_children());
        assert_eq!(tree.node_count(), 5);
    }

    #[test]
    fn refuses_orphans_and_non_leaves() {
        let mut tree = DataTree::new();
        assert!(!insert_leaf(&mut tree, "/a/b", b"x"));
        assert!(insert_leaf(&mut tree, "/a", b""));
        assert!(insert_leaf(&mut tree, "/a/b", b"x"));
        assert!(tree.remove("/a").is_none(), "has a child");
        assert!(tree.remove("/").is_none());
        assert!(tree.remove("/a/b").is_some());
        assert!(tree.remove("/a").is_some());
        assert!(tree.get("/a").is_none());
    }

    #[test]
    fn data_null_empty_and_resized() {
        let mut tree = DataTree::new();
        tree.insert("/n", None, Meta::default());
        assert_eq!(tree.get("/n").unwrap().data(), None);
        let before = tree.approximate_data_size();
        assert!(tree.set_data("/n", Some(b"hello")));
        assert_eq!(tree.get("/n").unwrap().data(), Some(&b"hello"[..]));
        assert_eq!(tree.approximate_data_size(), before + 5);
        assert!(tree.set_data("/n", Some(b"HELLO")));
        assert_eq!(tree.get("/n").unwrap().data(), Some(&b"HELLO"[..]));
        assert!(tree.set_data("/n", Some(b"")));
        assert_eq!(tree.get("/n").unwrap().data(), Some(&b""[..]));
        assert!(tree.set_data("/n", None));
        assert_eq!(tree.get("/n").unwrap().data(), None);
        assert_eq!(tree.get("/n").unwrap().path(), "/n");
        assert!(!tree.set_data("/missing", None));
    }

    #[test]
    fn freed_slots_are_reused_and_found_by_path() {
        let mut tree = DataTree::new();
        insert_leaf(&mut tree, "/x", b"");
        for round in 0..3 {
            for i in 0..100 {
                insert_leaf(&mut tree, &format!("/x/{round}-{i}"), b"v");
            }
            for i in 0..100 {
                assert!(tree.remove(&format!("/x/{round}-{i}")).is_some());
            }
        }
        assert_eq!(tree.slots.len(), 5 + 100);
        insert_leaf(&mut tree, "/x/again", b"w");
        assert_eq!(tree.get("/x/again").unwrap().data(), Some(&b"w"[..]));
        assert!(tree.get("/x/2-99").is_none());
    }

    #[test]
    fn restore_checks_order() {
        let mut tree = DataTree::new();
        let mut restorer = tree.restorer(4);
        let mut push = |path: &str| restorer.push(path, None, Meta::default());
        assert_eq!(push("/a"), Err(RestoreError::RootNotFirst));
        push("/").unwrap();
        assert_eq!(push("/a/b"), Err(RestoreError::NoParent));
        push("/a").unwrap();
        assert_eq!(push("/a"), Err(RestoreError::Duplicate));
        assert_eq!(push("/"), Err(RestoreError::Duplicate));
        push("/a/b").unwrap();
        push("/a/b/c").unwrap();
        // Back up two levels, then a sibling of `/a` that is not depth first after it.
        push("/a/d").unwrap();
        push("/e").unwrap();
        push("/a/f").unwrap();
        assert_eq!(push("/a/b"), Err(RestoreError::Duplicate));
        assert_eq!(push("/x/y"), Err(RestoreError::NoParent));
        assert_eq!(push(""), Err(RestoreError::BadPath));
        assert_eq!(push("/a/"), Err(RestoreError::BadPath));
        let mut seen = Vec::new();
        tree.walk(|n| seen.push(n.path().to_owned()));
        seen.sort();
        assert_eq!(seen, ["/", "/a", "/a/b", "/a/b/c", "/a/d", "/a/f", "/e"]);
        assert_eq!(tree.get("/a").unwrap().num_children(), 3);
    }
}
