//! multi / multiRead bodies, both directions: the first byte picks multi request, multiRead
//! request, multi reply or multiRead reply. Never panics; whatever decodes round-trips, and a
//! request's ops all have the kind (read or write) its opcode allows.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zk_core::proto::{Encode, MultiOp, OpCode, Request, Response};

fn is_read(op: &MultiOp) -> bool {
    matches!(op, MultiOp::GetChildren(_) | MultiOp::GetData(_))
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let op = if sel & 1 == 0 { OpCode::Multi } else { OpCode::MultiRead };
    if sel & 2 == 0 {
        if let Ok(req) = Request::decode(op.as_i32(), body) {
            match &req {
                Request::Multi(ops) => assert!(ops.iter().all(|o| !is_read(o))),
                Request::MultiRead(ops) => assert!(ops.iter().all(is_read)),
                other => panic!("multi decoded as {other:?}"),
            }
            let bytes = req.to_bytes();
            let again = Request::decode(op.as_i32(), &bytes).expect("re-encoded multi decodes");
            assert_eq!(req, again);
            assert_eq!(again.to_bytes(), bytes);
        }
    } else if let Ok(resp) = Response::decode(op, body) {
        assert!(matches!(resp, Response::Multi(_)), "multi reply decoded as {resp:?}");
        let bytes = resp.to_bytes();
        let again = Response::decode(op, &bytes).expect("re-encoded multi reply decodes");
        assert_eq!(resp, again);
        assert_eq!(again.to_bytes(), bytes);
    }
});
