//! A process that already has a global `tracing` subscriber (a Rust program linking
//! libzk statically): zk_set_log_fn says so instead of silently receiving nothing.

use std::ffi::{c_char, c_int, c_void};
use std::ptr::null_mut;

use zk::*;

extern "C" fn ignore(_: c_int, _: *const c_char, _: *const c_char, _: *mut c_void) {}

#[test]
fn another_global_subscriber_is_reported() {
    tracing::subscriber::set_global_default(tracing::subscriber::NoSubscriber::default())
        .expect("the first global subscriber of this process");
    // SAFETY: `ignore` ignores its arguments, so it may be called anywhere, any time.
    unsafe {
        assert_eq!(zk_set_log_fn(Some(ignore), null_mut()), ZK_INVALIDSTATE);
        assert_eq!(zk_set_log_fn(Some(ignore), null_mut()), ZK_INVALIDSTATE);
        assert_eq!(zk_set_log_fn(None, null_mut()), ZK_OK);
    }
}
