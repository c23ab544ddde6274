//! One znode's storage in the slab.

use super::Meta;

pub(super) type NodeId = u32;
/// The root is always the first slot: it is inserted first and never removed.
pub(super) const ROOT: NodeId = 0;

/// One znode in the slab. A vacant slot has an empty `bytes`.
#[derive(Debug, Clone)]
pub(super) struct Slot {
    /// The path's bytes, then the data's.
    pub(super) bytes: Box<[u8]>,
    pub(super) path_len: u32,
    pub(super) data_is_null: bool,
    pub(super) parent: NodeId,
    /// Where this node's id sits in its parent's `children`.
    pub(super) position: u32,
    /// Boxed: 8 bytes in every slot instead of a `Vec`'s 24, and most nodes are leaves.
    #[allow(clippy::box_collection)]
    pub(super) children: Option<Box<Vec<NodeId>>>,
    pub(super) meta: Meta,
}

impl Slot {
    pub(super) fn new(path: &str, data: Option<&[u8]>, meta: Meta) -> Slot {
        let mut slot = Slot {
            bytes: Box::default(),
            path_len: u32::try_from(path.len()).unwrap_or(u32::MAX),
            data_is_null: data.is_none(),
            parent: ROOT,
            position: 0,
            children: None,
            meta,
        };
        slot.bytes = concat(path.as_bytes(), data.unwrap_or_default());
        slot
    }

    pub(super) fn vacant() -> Slot {
        Slot {
            bytes: Box::default(),
            path_len: 0,
            data_is_null: true,
            parent: ROOT,
            position: 0,
            children: None,
            meta: Meta::default(),
        }
    }

    /// A copy of everything a snapshot records (not the child list).
    pub(super) fn pre_image(&self) -> Slot {
        Slot {
            bytes: self.bytes.clone(),
            path_len: self.path_len,
            data_is_null: self.data_is_null,
            parent: self.parent,
            position: self.position,
            children: None,
            meta: self.meta,
        }
    }

    pub(super) fn is_vacant(&self) -> bool {
        self.path_len == 0
    }

    pub(super) fn path(&self) -> &str {
        let bytes = &self.bytes[..self.path_len as usize];
        // SAFETY: `bytes[..path_len]` is only ever written by `Slot::new` and `set_data`
        // from a `&str` (copied whole), so it is valid UTF-8.
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }

    pub(super) fn data(&self) -> Option<&[u8]> {
        (!self.data_is_null).then(|| &self.bytes[self.path_len as usize..])
    }

    pub(super) fn data_len(&self) -> usize {
        self.bytes.len() - self.path_len as usize
    }

    pub(super) fn children(&self) -> &[NodeId] {
        self.children.as_deref().map_or(&[], Vec::as_slice)
    }

    pub(super) fn set_data(&mut self, data: Option<&[u8]>) {
        let path_len = self.path_len as usize;
        let new = data.unwrap_or_default();
        if self.bytes.len() - path_len == new.len() {
            self.bytes[path_len..].copy_from_slice(new);
        } else {
            self.bytes = concat(&self.bytes[..path_len], new);
        }
        self.data_is_null = data.is_none();
    }
}

pub(super) fn concat(a: &[u8], b: &[u8]) -> Box<[u8]> {
    let mut bytes = Vec::with_capacity(a.len() + b.len());
    bytes.extend_from_slice(a);
    bytes.extend_from_slice(b);
    bytes.into_boxed_slice()
}
