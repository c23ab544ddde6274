//! What a C caller holds for a `zk_handle`, `zk_lock` or `zk_leader` is an id, not an
//! address: the library never dereferences it, it looks it up here first. A stale,
//! doubly freed or made-up value is simply not found (`ZK_BADARGUMENTS`), so no call ever
//! reads freed memory, and the objects themselves are reference counted, so a call that
//! is still running on another thread when the object is freed keeps it alive until it
//! returns.
//!
//! Ids come from one counter shared by every kind and are never reused (a `usize`
//! counter: 2^64 objects on 64-bit targets), so a freed id cannot come back as a new
//! object, and a `zk_lock` passed where a `zk_handle` is expected is not found either.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

/// The next id; 0 is never issued (it is NULL to C).
static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

/// The live objects of one kind, by id.
pub(crate) struct Registry<T> {
    objects: RwLock<Option<HashMap<usize, Arc<T>>>>,
}

impl<T> Registry<T> {
    pub(crate) const fn new() -> Registry<T> {
        Registry {
            objects: RwLock::new(None),
        }
    }

    /// A fresh id for an object that `make` builds from it, registered before the id is
    /// returned. `P` is the opaque C type the id is handed out as.
    pub(crate) fn insert<P>(&self, make: impl FnOnce(usize) -> Arc<T>) -> (*mut P, Arc<T>) {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let object = make(id);
        self.objects
            .write()
            .get_or_insert_with(HashMap::new)
            .insert(id, object.clone());
        (as_pointer(id), object)
    }

    /// The object behind a caller's pointer, if it is live.
    pub(crate) fn get<P>(&self, pointer: *mut P) -> Option<Arc<T>> {
        let id = pointer.addr();
        self.objects.read().as_ref()?.get(&id).cloned()
    }

    /// Unregisters the object behind a caller's pointer; `None` if it was not live (never
    /// issued, or already freed).
    pub(crate) fn remove<P>(&self, pointer: *mut P) -> Option<Arc<T>> {
        let id = pointer.addr();
        self.objects.write().as_mut()?.remove(&id)
    }
}

/// The pointer C sees for an id (it carries no provenance: it is never dereferenced).
pub(crate) fn as_pointer<P>(id: usize) -> *mut P {
    std::ptr::without_provenance_mut(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Opaque;

    #[test]
    fn ids_are_unique_and_freed_ones_stay_unknown() {
        let registry: Registry<u32> = Registry::new();
        let other: Registry<u32> = Registry::new();
        let (a, _) = registry.insert::<Opaque>(|_| Arc::new(1));
        let (b, _) = registry.insert::<Opaque>(|_| Arc::new(2));
        assert_ne!(a, b);
        assert!(!a.is_null());
        assert_eq!(registry.get(a).as_deref(), Some(&1));
        assert!(
            other.get(a).is_none(),
            "ids of one kind are not found in another"
        );
        assert_eq!(registry.remove(a).as_deref(), Some(&1));
        assert!(registry.get(a).is_none());
        assert!(registry.remove(a).is_none(), "a second free is refused");
        let (c, _) = registry.insert::<Opaque>(|_| Arc::new(3));
        assert_ne!(c, a, "a freed id is never issued again");
        assert!(registry.get(std::ptr::null_mut::<Opaque>()).is_none());
    }
}
