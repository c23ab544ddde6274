//! Every `zk_elector_*` and `zk_active_node_info_*` function called with NULL, garbage and
//! closed ids: each returns an error code (or does nothing, for the frees), never crashes
//! or panics. Needs no server: the live elector points at a closed port and sends nothing
//! until asked to.

use std::ffi::{c_char, c_int, c_void};
use std::ptr::{null, null_mut};

use zk::*;

const BAD: zk_rc = ZK_BADARGUMENTS;

extern "C" fn yes(_ctx: *mut c_void) -> c_int {
    1
}

extern "C" fn fence(_data: *const u8, _len: usize, _ctx: *mut c_void) -> c_int {
    1
}

fn config(parent: *const c_char) -> zk_elector_config {
    zk_elector_config {
        size: std::mem::size_of::<zk_elector_config>(),
        parent_znode: parent,
        acl: null(),
        acl_len: 0,
        max_retries: 0,
        auth_scheme: null(),
        auth: null(),
        auth_len: 0,
        become_active: Some(yes),
        become_standby: None,
        enter_neutral: None,
        fence_old_active: Some(fence),
        fatal_error: None,
        ctx: null_mut(),
    }
}

fn options() -> zk_options {
    zk_options {
        session_timeout_ms: 1000,
        ..zk_options::default()
    }
}

/// Every call on an elector id, expecting `expect` from each.
fn every_call(e: *mut zk_elector, expect: zk_rc) {
    let mut int: c_int = 77;
    let mut id: i64 = 77;
    let mut data: *mut u8 = null_mut();
    let mut len = 0usize;
    // SAFETY: `e` may be any value (it is looked up, never dereferenced); the data is a
    // literal and the out-pointers are locals, all live across the calls.
    let checks = unsafe {
        [
            ("join", zk_elector_join(e, b"x".as_ptr(), 1)),
            ("quit", zk_elector_quit(e, 1)),
            ("cede", zk_elector_cede(e, 10)),
            ("ensure_parent", zk_elector_ensure_parent(e)),
            ("parent_exists", zk_elector_parent_exists(e, &mut int)),
            ("format", zk_elector_format(e, 1, &mut int)),
            (
                "active_data",
                zk_elector_active_data(e, &mut data, &mut len),
            ),
            ("state", zk_elector_state(e, &mut int)),
            ("session_id", zk_elector_session_id(e, &mut id)),
            ("close", zk_elector_close(e)),
        ]
    };
    for (name, rc) in checks {
        assert_eq!(rc, expect, "zk_elector_{name}");
    }
    assert!(data.is_null() && len == 0, "nothing allocated on error");
    assert_eq!(id, 77, "no out-parameter written on error");
}

#[test]
fn null_garbage_and_closed_electors_are_refused() {
    // SAFETY: elector ids may be any value; every other pointer is NULL, a literal or a
    // local that outlives the calls (`bad_auth`'s NULL with a length is refused); the
    // config's callbacks ignore their arguments, so they may run anywhere, any time.
    unsafe {
        every_call(std::ptr::without_provenance_mut(0xdead_beef), BAD);
        // NULL: refused everywhere but close, which accepts it.
        assert_eq!(zk_elector_join(null_mut(), null(), 0), BAD);
        assert_eq!(zk_elector_close(null_mut()), ZK_OK);

        let parent = c"/hadoop-ha/args";
        let hosts = c"127.0.0.1:1";
        let (o, c) = (options(), config(parent.as_ptr()));
        let mut e: *mut zk_elector = null_mut();
        assert_eq!(zk_elector_open(null_mut(), hosts.as_ptr(), &o, &c), BAD);
        assert_eq!(zk_elector_open(&mut e, null(), &o, &c), BAD);
        assert_eq!(zk_elector_open(&mut e, hosts.as_ptr(), null(), &c), BAD);
        assert_eq!(zk_elector_open(&mut e, hosts.as_ptr(), &o, null()), BAD);
        assert_eq!(zk_elector_open(&mut e, c"".as_ptr(), &o, &c), BAD);
        let bad_parent = config(c"no/slash".as_ptr());
        assert_eq!(
            zk_elector_open(&mut e, hosts.as_ptr(), &o, &bad_parent),
            BAD
        );
        let no_parent = config(null());
        assert_eq!(zk_elector_open(&mut e, hosts.as_ptr(), &o, &no_parent), BAD);
        let zero_timeout = zk_options {
            session_timeout_ms: 0,
            ..options()
        };
        assert_eq!(
            zk_elector_open(&mut e, hosts.as_ptr(), &zero_timeout, &c),
            BAD
        );
        let bad_auth = zk_elector_config {
            auth_scheme: c"digest".as_ptr(),
            auth: null(),
            auth_len: 4,
            ..config(parent.as_ptr())
        };
        assert_eq!(zk_elector_open(&mut e, hosts.as_ptr(), &o, &bad_auth), BAD);
        assert!(e.is_null());

        // A live elector (nothing is sent yet): argument checks only.
        assert_eq!(zk_elector_open(&mut e, hosts.as_ptr(), &o, &c), ZK_OK);
        assert!(!e.is_null());
        assert_eq!(zk_elector_join(e, null(), 1), BAD);
        assert_eq!(zk_elector_cede(e, -5), BAD);
        assert_eq!(zk_elector_state(e, null_mut()), BAD);
        assert_eq!(zk_elector_session_id(e, null_mut()), BAD);
        assert_eq!(zk_elector_parent_exists(e, null_mut()), BAD);
        assert_eq!(zk_elector_active_data(e, null_mut(), null_mut()), BAD);
        let mut state: c_int = -1;
        assert_eq!(zk_elector_state(e, &mut state), ZK_OK);
        assert_eq!(state, ZK_ELECTOR_INIT);
        assert_eq!(zk_elector_close(e), ZK_OK);
        every_call(e, BAD);
    }
}

#[test]
fn active_node_info_refuses_bad_input() {
    // SAFETY: every pointer passed is NULL, a literal or a local that outlives the calls;
    // `info` and `data` are read only as the library returned them, then freed once each.
    unsafe {
        let mut data: *mut u8 = null_mut();
        let mut len = 0usize;
        let mut info: *mut zk_active_node_info = null_mut();
        assert_eq!(zk_active_node_info_encode(null(), &mut data, &mut len), BAD);
        let partial = zk_active_node_info {
            nameservice_id: c"ns".as_ptr(),
            namenode_id: null(),
            hostname: c"h".as_ptr(),
            port: 1,
            zkfc_port: 2,
        };
        assert_eq!(
            zk_active_node_info_encode(&partial, &mut data, &mut len),
            BAD
        );
        assert_eq!(
            zk_active_node_info_encode(&partial, null_mut(), &mut len),
            BAD
        );
        assert!(data.is_null() && len == 0);
        assert_eq!(zk_active_node_info_decode(null(), 3, &mut info), BAD);
        assert_eq!(
            zk_active_node_info_decode(b"\x0a".as_ptr(), 1, null_mut()),
            BAD
        );
        assert_eq!(
            zk_active_node_info_decode(b"\x0a\x05ab".as_ptr(), 4, &mut info),
            ZK_MARSHALLINGERROR
        );
        assert!(info.is_null());
        // An empty message lacks every required field.
        assert_eq!(
            zk_active_node_info_decode(null(), 0, &mut info),
            ZK_MARSHALLINGERROR
        );
        zk_free_active_node_info(null_mut());

        let full = zk_active_node_info {
            namenode_id: c"nn1".as_ptr(),
            ..partial
        };
        assert_eq!(
            zk_active_node_info_encode(&full, &mut data, &mut len),
            ZK_OK
        );
        assert_eq!(zk_active_node_info_decode(data, len, &mut info), ZK_OK);
        assert_eq!((*info).port, 1);
        assert_eq!(
            std::ffi::CStr::from_ptr((*info).namenode_id).to_str(),
            Ok("nn1")
        );
        zk_free_active_node_info(info);
        zk_free_bytes(data);
    }
}
