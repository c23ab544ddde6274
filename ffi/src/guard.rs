//! The boundary: `catch_unwind` around every extern function, and checked reading of
//! caller arguments (NULL, bad UTF-8 and absurd lengths become `ZK_BADARGUMENTS`).
//!
//! # The C caller's promises
//!
//! What the library checks (NULL, alignment, UTF-8, lengths, and handles, which are
//! looked up, never dereferenced) is in no `# Safety` section. What it cannot check is:
//! each `unsafe extern "C"` function's `# Safety` section says, per argument, that a
//! string is NULL or NUL-terminated, a buffer has its length in readable bytes, an
//! out-pointer is NULL or writable, and a callback may be called with its `ctx` until
//! its last call, all during the call only unless it says otherwise. The helpers here
//! take exactly those promises as their own `# Safety` requirements, so a `// SAFETY:`
//! comment at a call site only has to point at the extern function's section.

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
///
/// # Safety
///
/// `ptr` is NULL (`ZK_BADARGUMENTS`) or points to a NUL-terminated string that stays
/// valid and unmodified for `'a`.
pub(crate) unsafe fn text<'a>(ptr: *const c_char) -> Result<&'a str, zk_rc> {
    if ptr.is_null() {
        return Err(ZK_BADARGUMENTS);
    }
    // SAFETY: not NULL (checked above), so a NUL-terminated string valid for `'a` by
    // this function's contract.
    let string = unsafe { CStr::from_ptr(ptr) };
    string.to_str().map_err(|_| ZK_BADARGUMENTS)
}

/// A caller's znode path, checked by the core's path rules before anything is queued, so
/// the async forms refuse a bad path at once too.
///
/// # Safety
///
/// As for [`text`].
pub(crate) unsafe fn path_arg<'a>(ptr: *const c_char, sequential: bool) -> Result<&'a str, zk_rc> {
    // SAFETY: this function's contract is `text`'s.
    let path = unsafe { text(ptr) }?;
    zk_core::proto::path::validate(path, sequential).map_err(|_| ZK_BADARGUMENTS)?;
    Ok(path)
}

/// A caller's optional string: NULL is `None`.
///
/// # Safety
///
/// As for [`text`].
pub(crate) unsafe fn opt_text<'a>(ptr: *const c_char) -> Result<Option<&'a str>, zk_rc> {
    if ptr.is_null() {
        Ok(None)
    } else {
        // SAFETY: this function's contract is `text`'s.
        unsafe { text(ptr) }.map(Some)
    }
}

/// A caller's byte buffer; any pointer (NULL too) with length 0 is empty.
///
/// # Safety
///
/// When `len` is not 0, `ptr` is NULL (`ZK_BADARGUMENTS`) or valid for reads of `len`
/// bytes that stay unmodified for `'a`.
pub(crate) unsafe fn bytes<'a>(ptr: *const u8, len: usize) -> Result<&'a [u8], zk_rc> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() || len > MAX_DATA {
        return Err(ZK_BADARGUMENTS);
    }
    // SAFETY: not NULL and `len` > 0 (checked above), so `len` readable bytes for `'a` by
    // this function's contract; `len` <= i32::MAX, within isize::MAX; `u8` has no
    // alignment to meet.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A caller's array of `T`; any pointer (NULL too) with length 0 is empty.
///
/// # Safety
///
/// When `len` is not 0, `ptr` is NULL (`ZK_BADARGUMENTS`) or valid for reads of `len`
/// initialised `T`s that stay unmodified for `'a`. Only used for the plain C structs
/// (`zk_acl`, `zk_op`), for which every bit pattern the caller can write is a `T`.
pub(crate) unsafe fn items<'a, T>(ptr: *const T, len: usize) -> Result<&'a [T], zk_rc> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() || len > MAX_ITEMS || !ptr.is_aligned() {
        return Err(ZK_BADARGUMENTS);
    }
    // SAFETY: not NULL and aligned (checked above), `len` readable `T`s for `'a` by this
    // function's contract; at most 2^20 of these small structs, within isize::MAX bytes.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A caller's ACL list; NULL with length 0 is `OPEN_ACL_UNSAFE` (non-NULL with length 0
/// is an empty list).
///
/// # Safety
///
/// `ptr` and `len` as for [`items`], only during the call, and the `scheme` and `id` of
/// each entry as for [`text`].
pub(crate) unsafe fn acl_list(ptr: *const zk_acl, len: usize) -> Result<Vec<Acl>, zk_rc> {
    if ptr.is_null() && len == 0 {
        return Ok(Acl::open_unsafe());
    }
    // SAFETY: `ptr`/`len` are as `items` requires (this function's contract); the slice
    // is dropped before this returns.
    let list = unsafe { items(ptr, len) }?;
    list.iter()
        .map(|a| {
            // SAFETY: each entry's strings are NULL or NUL-terminated (this function's
            // contract); `Acl::new` copies them before this returns.
            let (scheme, id) = unsafe { (text(a.scheme)?, text(a.id)?) };
            Ok(Acl::new(a.perms, scheme, id))
        })
        .collect()
}

/// Writes `value` through `out` when the caller asked for it (`out` not NULL); a
/// misaligned `out` is ignored.
///
/// # Safety
///
/// `out` is NULL, misaligned, or valid for writes of a `T`. What it held is overwritten,
/// not dropped (the callers' out-values are plain C data).
pub(crate) unsafe fn put<T>(out: *mut T, value: T) {
    if !out.is_null() && out.is_aligned() {
        // SAFETY: neither NULL nor misaligned (checked above), so writable by this
        // function's contract.
        unsafe { out.write(value) };
    }
}

/// Clears a caller's out-pointer before anything can fail, so errors leave NULL.
///
/// # Safety
///
/// As for [`put`].
pub(crate) unsafe fn clear<T>(out: *mut *mut T) {
    // SAFETY: this function's contract is `put`'s.
    unsafe { put(out, std::ptr::null_mut()) };
}

/// Like [`clear`] for an out-pointer the call cannot do without: NULL or misaligned is
/// `ZK_BADARGUMENTS`. On `Ok`, `out` is known to be writable: the caller may write its
/// result through it.
///
/// # Safety
///
/// As for [`put`].
pub(crate) unsafe fn required_out<T>(out: *mut *mut T) -> Result<(), zk_rc> {
    if out.is_null() || !out.is_aligned() {
        return Err(ZK_BADARGUMENTS);
    }
    // SAFETY: neither NULL nor misaligned (checked above), so writable by this function's
    // contract.
    unsafe { out.write(std::ptr::null_mut()) };
    Ok(())
}

/// A user context pointer carried to the dispatch thread.
#[derive(Clone, Copy)]
pub(crate) struct Ctx(pub *mut c_void);

// SAFETY: the pointer is never dereferenced here, only handed back to the caller's own
// callbacks on the thread that runs them (a dispatch thread, the log thread); each
// function that takes a `ctx` requires in its `# Safety` section that its callback may be
// called with that `ctx` there.
unsafe impl Send for Ctx {}
// SAFETY: as for `Send`: `&Ctx` only gives out a copy of the pointer.
unsafe impl Sync for Ctx {}

impl Ctx {
    /// The pointer (a method, so closures capture the whole `Ctx`, which is `Send`).
    pub(crate) fn get(self) -> *mut c_void {
        self.0
    }
}

/// Writes a library allocation through `out` only when the caller asked for it (so
/// nothing is allocated for a NULL out-pointer).
///
/// # Safety
///
/// As for [`put`].
pub(crate) unsafe fn put_with<T>(out: *mut T, make: impl FnOnce() -> T) {
    if !out.is_null() && out.is_aligned() {
        // SAFETY: neither NULL nor misaligned (checked above), so writable by this
        // function's contract.
        unsafe { out.write(make()) };
    }
}
