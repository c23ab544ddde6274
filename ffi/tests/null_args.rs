//! Every extern "C" function of libzk called with NULL and garbage arguments: each
//! returns an error code (or does nothing, for the frees), never crashes or panics.
//! Needs no server: the live handle points at a closed port.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::ptr::{null, null_mut};

use zk::*;

const BAD: zk_rc = ZK_BADARGUMENTS;

/// A "handle" that is aligned, readable memory but not a handle.
fn garbage_handle(words: &mut [u64; 64]) -> *mut zk_handle {
    words.fill(0xdead_beef_dead_beef);
    words.as_mut_ptr().cast()
}

fn s(text: &CStr) -> *const c_char {
    text.as_ptr()
}

extern "C" fn completion(_rc: zk_rc, _ctx: *mut c_void) {}
extern "C" fn watcher(
    _zh: *mut zk_handle,
    _t: c_int,
    _s: c_int,
    _p: *const c_char,
    _ctx: *mut c_void,
) {
}

/// Every handle-taking function, with `zh` and otherwise valid arguments.
fn every_op(zh: *mut zk_handle, expect: zk_rc) {
    let p = s(c"/x");
    let mut out_s: *mut c_char = null_mut();
    let mut out_b: *mut u8 = null_mut();
    let mut len = 0usize;
    let mut list: *mut zk_strings = null_mut();
    let mut acl: *mut zk_acl_list = null_mut();
    let mut infos: *mut zk_client_infos = null_mut();
    let mut results: *mut zk_op_results = null_mut();
    let mut st = zk_stat::default();
    let mut state: c_int = 77;
    let mut id: i64 = 77;
    let open = zk_acl {
        perms: ZK_PERM_ALL,
        scheme: s(c"world"),
        id: s(c"anyone"),
    };
    let c = Some(completion as unsafe extern "C" fn(zk_rc, *mut c_void));
    let w = Some(watcher as unsafe extern "C" fn(_, _, _, _, _));
    // SAFETY: `zh` may be any value (it is looked up, never dereferenced); every other
    // pointer is NULL, a literal or a local that outlives the calls; the callbacks ignore
    // their arguments, so they may run anywhere, any time.
    let checks: Vec<(&str, zk_rc)> = unsafe {
        vec![
            (
                "create",
                zk_create(
                    zh,
                    p,
                    null(),
                    0,
                    null(),
                    0,
                    ZK_PERSISTENT,
                    0,
                    &mut out_s,
                    &mut st,
                ),
            ),
            (
                "acreate",
                zk_acreate(
                    zh,
                    p,
                    null(),
                    0,
                    null(),
                    0,
                    ZK_PERSISTENT,
                    0,
                    None,
                    null_mut(),
                ),
            ),
            ("delete", zk_delete(zh, p, -1)),
            ("adelete", zk_adelete(zh, p, -1, c, null_mut())),
            ("exists", zk_exists(zh, p, w, null_mut(), &mut st)),
            (
                "aexists",
                zk_aexists(zh, p, w, null_mut(), None, null_mut()),
            ),
            (
                "get",
                zk_get(zh, p, None, null_mut(), &mut out_b, &mut len, &mut st),
            ),
            ("aget", zk_aget(zh, p, None, null_mut(), None, null_mut())),
            ("set", zk_set(zh, p, null(), 0, -1, &mut st)),
            ("aset", zk_aset(zh, p, null(), 0, -1, None, null_mut())),
            ("get_acl", zk_get_acl(zh, p, &mut acl, &mut st)),
            ("aget_acl", zk_aget_acl(zh, p, None, null_mut())),
            ("set_acl", zk_set_acl(zh, p, &open, 1, -1, &mut st)),
            (
                "aset_acl",
                zk_aset_acl(zh, p, &open, 1, -1, None, null_mut()),
            ),
            (
                "get_children",
                zk_get_children(zh, p, None, null_mut(), &mut list, &mut st),
            ),
            (
                "aget_children",
                zk_aget_children(zh, p, None, null_mut(), None, null_mut()),
            ),
            ("sync", zk_sync(zh, p)),
            ("async", zk_async(zh, p, c, null_mut())),
            ("multi", zk_multi(zh, null(), 0, &mut results)),
            ("amulti", zk_amulti(zh, null(), 0, None, null_mut())),
            (
                "add_auth",
                zk_add_auth(zh, s(c"digest"), b"u:p".as_ptr(), 3),
            ),
            (
                "aadd_auth",
                zk_aadd_auth(zh, s(c"digest"), b"u:p".as_ptr(), 3, c, null_mut()),
            ),
            ("get_ephemerals", zk_get_ephemerals(zh, null(), &mut list)),
            (
                "aget_ephemerals",
                zk_aget_ephemerals(zh, null(), None, null_mut()),
            ),
            ("whoami", zk_whoami(zh, &mut infos)),
            ("awhoami", zk_awhoami(zh, None, null_mut())),
            (
                "add_watch",
                zk_add_watch(zh, p, ZK_ADD_WATCH_PERSISTENT, w, null_mut()),
            ),
            ("remove_watches", zk_remove_watches(zh, p, ZK_WATCHER_ANY)),
            ("wait_connected", zk_wait_connected(zh, 0)),
            ("state", zk_state(zh, &mut state)),
            ("session_id", zk_session_id(zh, &mut id)),
            ("session_timeout_ms", zk_session_timeout_ms(zh, &mut id)),
            (
                "session_password",
                zk_session_password(zh, &mut out_b, &mut len),
            ),
        ]
    };
    for (name, rc) in checks {
        assert_eq!(rc, expect, "{name}");
    }
    assert!(out_s.is_null() && out_b.is_null() && list.is_null() && acl.is_null());
    assert!(infos.is_null() && results.is_null());
    assert_eq!((state, id), (77, 77), "getters write nothing on error");
    let mut lock: *mut zk_lock = null_mut();
    // SAFETY: as above.
    assert_eq!(unsafe { zk_lock_new(zh, p, &mut lock) }, expect);
    assert!(lock.is_null());
    let mut leader: *mut zk_leader = null_mut();
    // SAFETY: as above.
    let rc = unsafe { zk_leader_start(zh, p, s(c"me"), None, null_mut(), &mut leader) };
    assert_eq!(rc, expect);
    assert!(leader.is_null());
}

#[test]
fn null_and_garbage_handles() {
    let mut words = [0u64; 64];
    // SAFETY: handles may be any value, garbage or misaligned too (never dereferenced);
    // `add(1)` stays inside `words`.
    unsafe {
        every_op(null_mut(), BAD);
        every_op(garbage_handle(&mut words), BAD);
        // misaligned
        every_op(words.as_mut_ptr().cast::<u8>().add(1).cast(), BAD);
        assert_eq!(zk_close(null_mut()), ZK_OK);
        assert_eq!(zk_close(garbage_handle(&mut words)), BAD);
    }
}

#[test]
fn null_and_garbage_recipe_handles() {
    let mut words = [0u64; 64];
    // SAFETY: lock and leader ids may be any value; the out-pointers are locals.
    unsafe {
        for lock in [null_mut(), garbage_handle(&mut words).cast::<zk_lock>()] {
            let mut got: c_int = 7;
            assert_eq!(zk_lock_acquire(lock, 0, &mut got), BAD);
            assert_eq!(got, 0);
            assert_eq!(zk_lock_release(lock), BAD);
            let (mut held, mut token) = (7, 7);
            assert_eq!(zk_lock_is_held(lock, &mut held), BAD);
            assert_eq!(zk_lock_fencing_token(lock, &mut token), BAD);
            assert_eq!((held, token), (7, 7));
            assert_eq!(zk_lock_free(lock), if lock.is_null() { ZK_OK } else { BAD });
        }
        for leader in [null_mut(), garbage_handle(&mut words).cast::<zk_leader>()] {
            let mut is: c_int = 7;
            assert_eq!(zk_leader_wait(leader, 0, &mut is), BAD);
            assert_eq!(is, 0);
            let (mut leading, mut token) = (7, 7);
            assert_eq!(zk_leader_is_leader(leader, &mut leading), BAD);
            assert_eq!(zk_leader_fencing_token(leader, &mut token), BAD);
            assert_eq!((leading, token), (7, 7));
            assert_eq!(
                zk_leader_close(leader),
                if leader.is_null() { ZK_OK } else { BAD }
            );
        }
    }
}

#[test]
fn frees_accept_null_and_error_strings_are_total() {
    // SAFETY: every free accepts NULL; `zk_error_string` returns a static NUL-terminated
    // string.
    unsafe {
        zk_free_string(null_mut());
        zk_free_bytes(null_mut());
        zk_free_strings(null_mut());
        zk_free_acl_list(null_mut());
        zk_free_client_infos(null_mut());
        zk_free_op_results(null_mut());
        for rc in [i32::MIN, -1000, -127, -126, -101, -1, 0, 1, 1000, i32::MAX] {
            let text = CStr::from_ptr(zk_error_string(rc));
            assert!(!text.to_bytes().is_empty());
        }
    }
}

#[test]
fn open_rejects_bad_arguments() {
    let mut zh: *mut zk_handle = null_mut();
    // SAFETY: every pointer is NULL, a literal or a local that outlives the calls; NULL
    // with a length, absurd `size`s and the misaligned `opts` (`add(1)` stays inside
    // `misaligned`) are refused before anything is read.
    unsafe {
        let hosts = s(c"127.0.0.1:1");
        assert_eq!(
            zk_open(null_mut(), hosts, 1000, 0, null(), 0, None, null_mut()),
            BAD
        );
        assert_eq!(
            zk_open(&mut zh, null(), 1000, 0, null(), 0, None, null_mut()),
            BAD
        );
        assert_eq!(
            zk_open(&mut zh, hosts, 0, 0, null(), 0, None, null_mut()),
            BAD
        );
        assert_eq!(
            zk_open(&mut zh, hosts, -5, 0, null(), 0, None, null_mut()),
            BAD
        );
        assert_eq!(
            zk_open(&mut zh, hosts, 1000, 1, null(), 16, None, null_mut()),
            BAD
        );
        assert_eq!(
            zk_open(
                &mut zh,
                hosts,
                1000,
                0,
                null(),
                usize::MAX,
                None,
                null_mut()
            ),
            BAD
        );
        assert_eq!(
            zk_open(&mut zh, s(c""), 1000, 0, null(), 0, None, null_mut()),
            BAD
        );
        assert_eq!(
            zk_open(
                &mut zh,
                s(c"host:notaport"),
                1000,
                0,
                null(),
                0,
                None,
                null_mut()
            ),
            BAD
        );
        let bad_utf8 = [0xffu8, 0xfe, 0];
        assert_eq!(
            zk_open(
                &mut zh,
                bad_utf8.as_ptr().cast(),
                1000,
                0,
                null(),
                0,
                None,
                null_mut()
            ),
            BAD
        );
        assert!(zh.is_null());
        let good = zk_options {
            session_timeout_ms: 1000,
            ..zk_options::default()
        };
        assert_eq!(zk_open_with(&mut zh, hosts, null(), None, null_mut()), BAD);
        assert_eq!(
            zk_open_with(null_mut(), hosts, &good, None, null_mut()),
            BAD
        );
        assert_eq!(zk_open_with(&mut zh, null(), &good, None, null_mut()), BAD);
        for bad in [
            zk_options {
                session_timeout_ms: 0,
                ..good
            },
            zk_options {
                request_timeout_ms: -1,
                ..good
            },
            zk_options {
                connect_timeout_ms: -1,
                ..good
            },
            zk_options {
                passwd_len: 16,
                ..good
            },
            zk_options { size: 0, ..good },
            zk_options { size: 8, ..good },
            zk_options {
                size: usize::MAX,
                ..good
            },
            // TLS: a client certificate without a CA, a CA file that is not there.
            zk_options {
                tls_cert_file: c"client.crt".as_ptr(),
                tls_key_file: c"client.key".as_ptr(),
                ..good
            },
            zk_options {
                tls_ca_file: c"/nonexistent/zk-ca.pem".as_ptr(),
                ..good
            },
            // SASL: a password for nobody, an empty user, a JAAS file that is not there.
            zk_options {
                sasl_password: c"secret".as_ptr(),
                ..good
            },
            zk_options {
                sasl_username: c"".as_ptr(),
                ..good
            },
            zk_options {
                sasl_jaas_file: c"/nonexistent/jaas.conf".as_ptr(),
                ..good
            },
        ] {
            assert_eq!(zk_open_with(&mut zh, hosts, &bad, None, null_mut()), BAD);
            assert!(zh.is_null());
        }
        let misaligned = [0u8; 128];
        let opts = misaligned.as_ptr().add(1).cast::<zk_options>();
        assert_eq!(zk_open_with(&mut zh, hosts, opts, None, null_mut()), BAD);
    }
}

/// A live handle (to a closed port: nothing connects) with garbage arguments: every
/// check happens before anything would be sent.
#[test]
fn live_handle_with_garbage_arguments() {
    let mut zh: *mut zk_handle = null_mut();
    // SAFETY: `zh` comes from `zk_open` and is closed once; every other pointer is NULL,
    // a literal or a local that outlives the calls. The buffers given lengths far beyond
    // their size (`usize::MAX`) are refused before anything is read, as too large to be
    // real; `watcher` ignores its arguments.
    unsafe {
        assert_eq!(
            zk_open(
                &mut zh,
                s(c"127.0.0.1:1"),
                2000,
                0,
                null(),
                0,
                None,
                null_mut()
            ),
            ZK_OK
        );
        assert!(!zh.is_null());
        let p = s(c"/x");
        let bad_utf8 = [b'/', 0xff, 0];
        let bad_path: *const c_char = bad_utf8.as_ptr().cast();
        let mut out: *mut c_char = null_mut();
        for (path, data, len, acl_len, mode, ttl) in [
            (null(), null(), 0, 0, ZK_PERSISTENT, 0),
            (bad_path, null(), 0, 0, ZK_PERSISTENT, 0),
            (s(c"relative"), null(), 0, 0, ZK_PERSISTENT, 0),
            (s(c"/trailing/"), null(), 0, 0, ZK_PERSISTENT, 0),
            (p, null(), 5, 0, ZK_PERSISTENT, 0),
            (p, b"x".as_ptr(), usize::MAX, 0, ZK_PERSISTENT, 0),
            (p, null(), 0, 3, ZK_PERSISTENT, 0),
            (p, null(), 0, 0, 7, 0),
            (p, null(), 0, 0, -1, 0),
            (p, null(), 0, 0, c_int::MAX, 0),
            (p, null(), 0, 0, ZK_PERSISTENT_WITH_TTL, 0),
            (p, null(), 0, 0, ZK_PERSISTENT_SEQUENTIAL_WITH_TTL, -5),
            (p, null(), 0, 0, ZK_EPHEMERAL, 100),
        ] {
            assert_eq!(
                zk_create(
                    zh,
                    path,
                    data,
                    len,
                    null(),
                    acl_len,
                    mode,
                    ttl,
                    &mut out,
                    null_mut()
                ),
                BAD
            );
            assert!(out.is_null());
            assert_eq!(
                zk_acreate(
                    zh,
                    path,
                    data,
                    len,
                    null(),
                    acl_len,
                    mode,
                    ttl,
                    None,
                    null_mut()
                ),
                BAD
            );
        }
        let bad_acl = zk_acl {
            perms: ZK_PERM_ALL,
            scheme: null(),
            id: s(c"anyone"),
        };
        assert_eq!(
            zk_create(
                zh,
                p,
                null(),
                0,
                &bad_acl,
                1,
                ZK_PERSISTENT,
                0,
                null_mut(),
                null_mut()
            ),
            BAD
        );
        assert_eq!(zk_set_acl(zh, p, null(), 0, -1, null_mut()), BAD);
        assert_eq!(zk_set_acl(zh, p, &bad_acl, 1, -1, null_mut()), BAD);
        assert_eq!(zk_set(zh, bad_path, null(), 0, -1, null_mut()), BAD);
        assert_eq!(zk_delete(zh, s(c""), -1), BAD);
        assert_eq!(
            zk_get(
                zh,
                null(),
                None,
                null_mut(),
                null_mut(),
                null_mut(),
                null_mut()
            ),
            BAD
        );
        assert_eq!(
            zk_get_children(zh, s(c"x"), None, null_mut(), null_mut(), null_mut()),
            BAD
        );
        assert_eq!(zk_add_auth(zh, null(), null(), 0), BAD);
        assert_eq!(zk_add_auth(zh, s(c"digest"), null(), 4), BAD);
        assert_eq!(zk_add_watch(zh, p, 9, Some(watcher), null_mut()), BAD);
        assert_eq!(
            zk_add_watch(zh, p, ZK_ADD_WATCH_PERSISTENT, None, null_mut()),
            BAD
        );
        assert_eq!(zk_remove_watches(zh, p, 0), BAD);
        assert_eq!(zk_remove_watches(zh, p, 6), BAD);
        assert_eq!(zk_remove_watches(zh, p, ZK_WATCHER_DATA), ZK_NOWATCHER);
        assert_eq!(zk_session_password(zh, null_mut(), null_mut()), BAD);
        let ops = [
            zk_op {
                r#type: 99,
                path: p,
                data: null(),
                data_len: 0,
                version: 0,
                mode: 0,
                ttl_ms: 0,
                acl: null(),
                acl_len: 0,
            },
            zk_op {
                r#type: ZK_OP_CREATE,
                path: null(),
                data: null(),
                data_len: 0,
                version: 0,
                mode: 0,
                ttl_ms: 0,
                acl: null(),
                acl_len: 0,
            },
            zk_op {
                r#type: ZK_OP_CREATE,
                path: p,
                data: null(),
                data_len: 0,
                version: 0,
                mode: 42,
                ttl_ms: 0,
                acl: null(),
                acl_len: 0,
            },
            zk_op {
                r#type: ZK_OP_SET_DATA,
                path: p,
                data: null(),
                data_len: 9,
                version: 0,
                mode: 0,
                ttl_ms: 0,
                acl: null(),
                acl_len: 0,
            },
        ];
        for op in &ops {
            assert_eq!(zk_multi(zh, op, 1, null_mut()), BAD);
            assert_eq!(zk_amulti(zh, op, 1, None, null_mut()), BAD);
        }
        assert_eq!(zk_multi(zh, null(), 2, null_mut()), BAD);
        assert_eq!(zk_multi(zh, ops.as_ptr(), usize::MAX, null_mut()), BAD);
        let mut lock: *mut zk_lock = null_mut();
        assert_eq!(zk_lock_new(zh, s(c"nope"), &mut lock), BAD);
        assert_eq!(zk_lock_new(zh, p, null_mut()), BAD);
        let mut leader: *mut zk_leader = null_mut();
        assert_eq!(
            zk_leader_start(zh, p, null(), None, null_mut(), &mut leader),
            BAD
        );
        let mut state = -1;
        assert_eq!(zk_state(zh, &mut state), ZK_OK);
        assert_eq!(state, ZK_STATE_CONNECTING);
        assert_eq!(zk_state(zh, null_mut()), BAD);
        assert_eq!(zk_session_id(zh, null_mut()), BAD);
        assert_eq!(zk_session_timeout_ms(zh, null_mut()), BAD);
        assert_eq!(zk_close(zh), ZK_OK);
    }
}

/// A closed handle is unknown to every call: double close and use after close are
/// ZK_BADARGUMENTS and read no memory (the handle is an id; valgrind and the C suite's
/// ASan run check the same from C).
#[test]
fn closed_handles_locks_and_leaders_are_refused() {
    // SAFETY: ids may be any value, closed or of another kind (never dereferenced); every
    // other pointer is a literal or a local that outlives the calls.
    unsafe {
        let mut zh: *mut zk_handle = null_mut();
        let hosts = s(c"127.0.0.1:1");
        assert_eq!(
            zk_open(&mut zh, hosts, 2000, 0, null(), 0, None, null_mut()),
            ZK_OK
        );
        let mut lock: *mut zk_lock = null_mut();
        assert_eq!(zk_lock_new(zh, s(c"/lock"), &mut lock), ZK_OK);
        assert_eq!(zk_close(zh), ZK_OK);
        assert_eq!(zk_close(zh), BAD, "double close");
        every_op(zh, BAD);
        // A lock outlives its handle's close: its calls fail, its free works once.
        let mut held = 7;
        assert_eq!(zk_lock_is_held(lock, &mut held), ZK_OK);
        assert_eq!(held, 0);
        assert_eq!(zk_lock_acquire(lock, 0, &mut held), ZK_CLOSING);
        assert_eq!(zk_lock_free(lock), ZK_OK);
        assert_eq!(zk_lock_free(lock), BAD, "double free");
        assert_eq!(zk_lock_is_held(lock, &mut held), BAD);
        // A handle id is not a lock id and the other way round.
        let mut other: *mut zk_handle = null_mut();
        assert_eq!(
            zk_open(&mut other, hosts, 2000, 0, null(), 0, None, null_mut()),
            ZK_OK
        );
        assert_eq!(zk_lock_free(other.cast()), BAD);
        assert_eq!(zk_leader_close(other.cast()), BAD);
        assert_eq!(zk_close(lock.cast()), BAD);
        assert_eq!(zk_close(other), ZK_OK);
    }
}

#[test]
fn options_of_other_sizes() {
    let hosts = s(c"127.0.0.1:1");
    let size = std::mem::size_of::<zk_options>();
    // SAFETY: `words` is 512 bytes aligned for `zk_options`, more than any `size` used
    // here, so the writes through `short` and `long` and the library's reads of `size`
    // bytes stay inside it; `zh` is opened and closed once each time.
    unsafe {
        // An older, smaller struct: only the fields within `size` are read.
        let mut words = [u64::MAX; 64];
        let short = words.as_mut_ptr().cast::<zk_options>();
        let until = std::mem::offset_of!(zk_options, session_id);
        (*short).size = until;
        (*short).session_timeout_ms = 3000;
        (*short).can_be_read_only = 0;
        let mut zh: *mut zk_handle = null_mut();
        assert_eq!(zk_open_with(&mut zh, hosts, short, None, null_mut()), ZK_OK);
        assert_eq!(zk_close(zh), ZK_OK);
        // The same garbage read as fields is refused.
        (*short).size = size;
        assert_eq!(zk_open_with(&mut zh, hosts, short, None, null_mut()), BAD);
        // A newer, larger struct: fine while the fields this library lacks are zero.
        words.fill(0);
        let long = words.as_mut_ptr().cast::<zk_options>();
        (*long).size = size + 16;
        (*long).session_timeout_ms = 3000;
        assert_eq!(zk_open_with(&mut zh, hosts, long, None, null_mut()), ZK_OK);
        assert_eq!(zk_close(zh), ZK_OK);
        long.cast::<u64>().add(size / 8 + 1).write(1);
        assert_eq!(zk_open_with(&mut zh, hosts, long, None, null_mut()), BAD);
        assert!(zh.is_null());
    }
}

#[test]
fn version_is_the_crate_version() {
    // SAFETY: `zk_version` returns a static NUL-terminated string.
    let version = unsafe { CStr::from_ptr(zk_version()) };
    assert_eq!(version.to_str(), Ok(env!("CARGO_PKG_VERSION")));
    assert_eq!(zk_set_log_level(0), BAD);
    assert_eq!(zk_set_log_level(ZK_LOG_TRACE + 1), BAD);
    assert_eq!(zk_set_log_level(ZK_LOG_INFO), ZK_OK);
}
