//! Reference-counted ACL lists.

use std::sync::Arc;

use crate::proto::Acl;

use super::AclRef;

/// Reference-counted ACL lists, so a million nodes with the same ACL store it once.
#[derive(Debug, Default, Clone)]
pub struct AclCache {
    by_ref: hashbrown::HashMap<AclRef, (Arc<[Acl]>, usize)>,
    by_acl: hashbrown::HashMap<Arc<[Acl]>, AclRef>,
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

    /// One more node holds `r` (which must be interned).
    pub fn retain(&mut self, r: AclRef) {
        if let Some(entry) = self.by_ref.get_mut(&r) {
            entry.1 += 1;
        }
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

    /// Every list in use, by reference, in reference order.
    pub fn sorted(&self) -> Vec<(AclRef, Arc<[Acl]>)> {
        let mut all: Vec<(AclRef, Arc<[Acl]>)> = self
            .by_ref
            .iter()
            .map(|(r, (acl, _))| (*r, acl.clone()))
            .collect();
        all.sort_unstable_by_key(|(r, _)| *r);
        all
    }

    pub fn len(&self) -> usize {
        self.by_ref.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_ref.is_empty()
    }
}
