//! The boundary: `catch_unwind` around every extern function, and checked reading of
//! caller arguments (NULL, bad UTF-8 and absurd lengths become `ZK_BADARGUMENTS`).

use std::ffi::{c_char, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use zk_core::proto::Acl;

use crate::error::{zk_rc, ZK_BADARGUMENTS, ZK_SYSTEMERROR};
use crate::types::zk_acl;

/// Largest data buffer accepted (ZooKeeper frames are at most `i32::MAX` bytes).
const MAX_DATA: usize = i32::MAX as usize;
/// Largest ACL list or op list accepted.
const MAX_ITEMS: usize = 1 << 20;

/// Runs `body`, turning a panic into `ZK_SYSTEMERROR`.
pub(crate) fn guard(body: impl FnOnce() -> Result<(), zk_rc>) -> zk_rc {
    crate::library::route_panics();
    let _in_call = crate::library::InCall::enter();
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => crate::error::ZK_OK,
        Ok(Err(rc)) => rc,
        Err(_) => ZK_SYSTEMERROR,
    }
}

/// Runs `body`, turning a panic into `fallback`.
pub(crate) fn guard_or<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    crate::library::route_panics();
    let _in_call = crate::library::InCall::enter();
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// A caller's NUL-terminated UTF-8 string.
pub(crate) unsafe fn text<'a>(ptr: *const c_char) -> Result<&'a str, zk_rc> {
    if ptr.is_null() {
        return Err(ZK_BADARGUMENTS);
    }
    CStr::from_ptr(ptr).to_str().map_err(|_| ZK_BADARGUMENTS)
}

/// A caller's znode path, checked by the core's path rules before anything is queued, so
/// the async forms refuse a bad path at once too.
pub(crate) unsafe fn path_arg<'a>(ptr: *const c_char, sequential: bool) -> Result<&'a str, zk_rc> {
    let path = text(ptr)?;
    zk_core::proto::path::validate(path, sequential).map_err(|_| ZK_BADARGUMENTS)?;
    Ok(path)
}

/// A caller's optional string: NULL is `None`.
pub(crate) unsafe fn opt_text<'a>(ptr: *const c_char) -> Result<Option<&'a str>, zk_rc> {
    if ptr.is_null() {
        Ok(None)
    } else {
        text(ptr).map(Some)
    }
}

/// A caller's byte buffer; NULL with length 0 is empty.
pub(crate) unsafe fn bytes<'a>(ptr: *const u8, len: usize) -> Result<&'a [u8], zk_rc> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() || len > MAX_DATA {
        return Err(ZK_BADARGUMENTS);
    }
    Ok(std::slice::from_raw_parts(ptr, len))
}

/// A caller's array of `T`; NULL with length 0 is empty.
pub(crate) unsafe fn items<'a, T>(ptr: *const T, len: usize) -> Result<&'a [T], zk_rc> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() || len > MAX_ITEMS || !ptr.is_aligned() {
        return Err(ZK_BADARGUMENTS);
    }
    Ok(std::slice::from_raw_parts(ptr, len))
}

/// A caller's ACL list; NULL with length 0 is `OPEN_ACL_UNSAFE`.
pub(crate) unsafe fn acl_list(ptr: *const zk_acl, len: usize) -> Result<Vec<Acl>, zk_rc> {
    if ptr.is_null() && len == 0 {
        return Ok(Acl::open_unsafe());
    }
    let list = items(ptr, len)?;
    list.iter()
        .map(|a| Ok(Acl::new(a.perms, text(a.scheme)?, text(a.id)?)))
        .collect()
}

/// Writes `value` through `out` when the caller asked for it.
pub(crate) unsafe fn put<T>(out: *mut T, value: T) {
    if !out.is_null() && out.is_aligned() {
        out.write(value);
    }
}

/// Clears a caller's out-pointer before anything can fail, so errors leave NULL.
pub(crate) unsafe fn clear<T>(out: *mut *mut T) {
    put(out, std::ptr::null_mut());
}

/// Like [`clear`] for an out-pointer the call cannot do without: NULL or misaligned is
/// `ZK_BADARGUMENTS`.
pub(crate) unsafe fn required_out<T>(out: *mut *mut T) -> Result<(), zk_rc> {
    if out.is_null() || !out.is_aligned() {
        return Err(ZK_BADARGUMENTS);
    }
    out.write(std::ptr::null_mut());
    Ok(())
}

/// A user context pointer carried to the dispatch thread.
#[derive(Clone, Copy)]
pub(crate) struct Ctx(pub *mut c_void);

// SAFETY: the pointer is only handed back to the caller's own callbacks; what it points
// to is the caller's business, as with every C callback context.
unsafe impl Send for Ctx {}
unsafe impl Sync for Ctx {}

impl Ctx {
    /// The pointer (a method, so closures capture the whole `Ctx`, which is `Send`).
    pub(crate) fn get(self) -> *mut c_void {
        self.0
    }
}

/// Writes a library allocation through `out` only when the caller asked for it (so
/// nothing is allocated for a NULL out-pointer).
pub(crate) unsafe fn put_with<T>(out: *mut T, make: impl FnOnce() -> T) {
    if !out.is_null() && out.is_aligned() {
        out.write(make());
    }
}
