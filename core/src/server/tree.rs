//! The data tree: znodes by path, their Stat bookkeeping and the ACL cache. A plain data
//! structure: it validates nothing and knows nothing of sessions or watches; `state` decides
//! what may change and calls the mutators here.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use crate::proto::{path, Acl, Stat};

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

/// One znode. `cversion` is the persisted count of child creations; clients see
/// `2 * cversion - numChildren` (see [`Node::stat`]).
#[derive(Debug, Clone, Default)]
pub struct Node {
    pub data: Option<Box<[u8]>>,
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
    pub children: BTreeSet<Box<str>>,
}

impl Node {
    pub fn data_len(&self) -> usize {
        self.data.as_deref().map_or(0, <[u8]>::len)
    }

    pub fn kind(&self) -> NodeKind {
        NodeKind::from_owner(self.ephemeral_owner)
    }

    /// The Stat clients see (`DataNode.copyStat`): container and TTL owners show as 0, and
    /// `cversion` counts changes rather than creations.
    pub fn stat(&self) -> Stat {
        let num_children = i32::try_from(self.children.len()).unwrap_or(i32::MAX);
        Stat {
            czxid: self.czxid,
            mzxid: self.mzxid,
            ctime: self.ctime,
            mtime: self.mtime,
            version: self.version,
            cversion: self.cversion.wrapping_mul(2).wrapping_sub(num_children),
            aversion: self.aversion,
            ephemeral_owner: match self.kind() {
                NodeKind::Ephemeral(session) => session,
                _ => 0,
            },
            data_length: i32::try_from(self.data_len()).unwrap_or(i32::MAX),
            num_children,
            pzxid: self.pzxid,
        }
    }
}

/// Reference-counted ACL lists, so a million nodes with the same ACL store it once.
#[derive(Debug, Default, Clone)]
pub struct AclCache {
    by_ref: HashMap<AclRef, (Arc<[Acl]>, usize)>,
    by_acl: HashMap<Arc<[Acl]>, AclRef>,
    next: AclRef,
}

impl AclCache {
    pub fn intern(&mut self, acl: &[Acl]) -> AclRef {
        if let Some(&r) = self.by_acl.get(acl) {
            if let Some(entry) = self.by_ref.get_mut(&r) {
                entry.1 += 1;
            }
            return r;
        }
        let shared: Arc<[Acl]> = Arc::from(acl);
        let r = self.next;
        self.next = self.next.wrapping_add(1);
        self.by_ref.insert(r, (shared.clone(), 1));
        self.by_acl.insert(shared, r);
        r
    }

    pub fn release(&mut self, r: AclRef) {
        if let Some(entry) = self.by_ref.get_mut(&r) {
            entry.1 -= 1;
            if entry.1 == 0 {
                if let Some((acl, _)) = self.by_ref.remove(&r) {
                    self.by_acl.remove(&acl);
                }
            }
        }
    }

    pub fn get(&self, r: AclRef) -> Arc<[Acl]> {
        self.by_ref
            .get(&r)
            .map(|(acl, _)| acl.clone())
            .unwrap_or_else(|| Arc::from(Vec::new()))
    }

    pub fn len(&self) -> usize {
        self.by_ref.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_ref.is_empty()
    }
}

/// Znodes by full path. The root is stored under `/`; lookups of `""` find it too, as
/// Apache's tree does.
#[derive(Debug, Clone)]
pub struct DataTree {
    nodes: HashMap<Box<str>, Node>,
    pub acls: AclCache,
    /// Sum of path and data lengths (`approximate_data_size`).
    data_size: u64,
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
        let mut tree = DataTree {
            nodes: HashMap::new(),
            acls: AclCache::default(),
            data_size: 0,
        };
        let open = tree.acls.intern(&Acl::open_unsafe());
        tree.insert_raw("/", empty_node(open));
        for p in [ZOOKEEPER_PATH, QUOTA_PATH] {
            let acl = tree.acls.intern(&Acl::open_unsafe());
            tree.insert(p, empty_node(acl));
        }
        let read = tree.acls.intern(&Acl::read_unsafe());
        let mut config = empty_node(read);
        config.aversion = -1;
        tree.insert(CONFIG_PATH, config);
        tree
    }

    /// Paths that can never be deleted.
    pub fn is_special(path: &str) -> bool {
        matches!(path, "/" | ZOOKEEPER_PATH | QUOTA_PATH | CONFIG_PATH)
    }

    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(if path.is_empty() { "/" } else { path })
    }

    pub fn get_mut(&mut self, path: &str) -> Option<&mut Node> {
        self.nodes.get_mut(if path.is_empty() { "/" } else { path })
    }

    pub fn contains(&self, path: &str) -> bool {
        self.get(path).is_some()
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    pub fn approximate_data_size(&self) -> u64 {
        self.data_size
    }

    pub fn acl_of(&self, node: &Node) -> Arc<[Acl]> {
        self.acls.get(node.acl)
    }

    /// Inserts `node` at `path` and links it under its parent, which must exist. Keeps the
    /// parent's Stat as it is: the caller updates cversion/pzxid.
    pub fn insert(&mut self, path: &str, node: Node) {
        let (parent, name) = (path::parent(path), path::basename(path));
        if let Some(p) = self.nodes.get_mut(parent) {
            p.children.insert(name.into());
        }
        self.insert_raw(path, node);
    }

    /// Removes the node at `path` (not its children) and unlinks it from its parent.
    pub fn remove(&mut self, path: &str) -> Option<Node> {
        let node = self.nodes.remove(path)?;
        self.data_size = self
            .data_size
            .saturating_sub((path.len() + node.data_len()) as u64);
        let (parent, name) = (path::parent(path), path::basename(path));
        if let Some(p) = self.nodes.get_mut(parent) {
            p.children.remove(name);
        }
        Some(node)
    }

    /// Replaces a node's data, keeping the size accounting right.
    pub fn replace_data(
        &mut self,
        path: &str,
        data: Option<Box<[u8]>>,
    ) -> Option<Option<Box<[u8]>>> {
        let node = self.nodes.get_mut(path)?;
        let old = std::mem::replace(&mut node.data, data);
        let new_len = node.data_len() as u64;
        let old_len = old.as_deref().map_or(0, <[u8]>::len) as u64;
        self.data_size = self.data_size.saturating_sub(old_len) + new_len;
        Some(old)
    }

    /// Visits every node, parents before children.
    pub fn walk(&self, mut visit: impl FnMut(&str, &Node)) {
        let mut stack: Vec<String> = vec!["/".to_owned()];
        while let Some(p) = stack.pop() {
            let Some(node) = self.nodes.get(p.as_str()) else {
                continue;
            };
            visit(&p, node);
            for child in node.children.iter().rev() {
                stack.push(path::join(&p, child));
            }
        }
    }

    /// Number of descendants below `path` (`getAllChildrenNumber`).
    pub fn descendant_count(&self, path: &str) -> usize {
        let mut count = 0;
        let mut stack = vec![path.to_owned()];
        while let Some(p) = stack.pop() {
            if let Some(node) = self.get(&p) {
                count += node.children.len();
                stack.extend(node.children.iter().map(|c| path::join(&p, c)));
            }
        }
        count
    }

    fn insert_raw(&mut self, path: &str, node: Node) {
        self.data_size += (path.len() + node.data_len()) as u64;
        if let Some(old) = self.nodes.insert(path.into(), node) {
            self.data_size = self
                .data_size
                .saturating_sub((path.len() + old.data_len()) as u64);
        }
    }

    /// Restores a node read from a snapshot; parents arrive before their children.
    pub fn restore(&mut self, path: &str, node: Node) {
        if path == "/" {
            self.insert_raw(path, node);
        } else {
            self.insert(path, node);
        }
    }

    /// Empties the tree completely (before restoring a snapshot).
    pub fn clear(&mut self) {
        self.nodes.clear();
        self.acls = AclCache::default();
        self.data_size = 0;
    }
}

fn empty_node(acl: AclRef) -> Node {
    Node {
        data: Some(Box::default()),
        acl,
        ..Node::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
