//! The log callback: libzk's `tracing` events reach a C function, filtered by level, on
//! the library's log thread. (Its own process: the subscriber is process-wide.)

use std::ffi::{c_char, c_int, c_void, CStr};
use std::ptr::{null, null_mut};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use zk::*;

static LINES: Mutex<Vec<(c_int, String, String, String)>> = Mutex::new(Vec::new());

/// Records a log line with the name of the thread that delivered it.
///
/// # Safety
///
/// `target` and `message` are NUL-terminated strings valid during the call (what a
/// `zk_log_fn` is given).
unsafe extern "C" fn collect(
    level: c_int,
    target: *const c_char,
    message: *const c_char,
    ctx: *mut c_void,
) {
    // SAFETY: only applied to `target` and `message` below, during this call (this
    // function's contract).
    let text = |p: *const c_char| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
    let thread = std::thread::current().name().unwrap_or("").to_owned();
    assert_eq!(ctx as usize, 42);
    LINES
        .lock()
        .unwrap()
        .push((level, text(target), text(message), thread));
}

fn wait_for_line(what: &str) -> (c_int, String, String, String) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(line) = LINES.lock().unwrap().iter().find(|l| l.2.contains(what)) {
            return line.clone();
        }
        assert!(Instant::now() < deadline, "no log line with {what:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn events_reach_the_log_function_at_the_chosen_level() {
    // SAFETY: `collect` may be called from any thread at any time with ctx 42 (it only
    // reads the lent strings); `hosts` is a literal and `zh` a local, opened and then
    // closed once each time.
    unsafe {
        assert_eq!(zk_set_log_fn(Some(collect), 42 as *mut c_void), ZK_OK);
        assert_eq!(zk_set_log_level(ZK_LOG_DEBUG), ZK_OK);
        let mut zh: *mut zk_handle = null_mut();
        // Nothing listens on port 1: the connection task logs each failed attempt.
        assert_eq!(
            zk_open(
                &mut zh,
                c"127.0.0.1:1".as_ptr(),
                2000,
                0,
                null(),
                0,
                None,
                null_mut()
            ),
            ZK_OK
        );
        let (level, target, message, thread) = wait_for_line("connect failed");
        assert_eq!(level, ZK_LOG_DEBUG);
        assert!(target.starts_with("zk_core::client"), "{target}");
        assert!(message.contains("addr=127.0.0.1:1"), "{message}");
        assert_eq!(thread, "zk-log");
        assert_eq!(zk_close(zh), ZK_OK);
        wait_for_line("closed");

        // Above the chosen level nothing is sent; a second function replaces the first.
        assert_eq!(zk_set_log_level(ZK_LOG_ERROR), ZK_OK);
        assert_eq!(zk_set_log_fn(None, null_mut()), ZK_OK);
        LINES.lock().unwrap().clear();
        assert_eq!(zk_set_log_fn(Some(collect), 42 as *mut c_void), ZK_OK);
        assert_eq!(
            zk_open(
                &mut zh,
                c"127.0.0.1:1".as_ptr(),
                2000,
                0,
                null(),
                0,
                None,
                null_mut()
            ),
            ZK_OK
        );
        assert_eq!(zk_close(zh), ZK_OK);
        assert!(LINES.lock().unwrap().iter().all(|l| l.0 == ZK_LOG_ERROR));
        assert_eq!(zk_set_log_fn(None, null_mut()), ZK_OK);
    }
}
