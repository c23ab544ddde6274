//! `Response::decode(op, body)`: the first 4 bytes choose the opcode the reply answers, the
//! rest is the body. Never panics; a decoded reply round-trips through `encode`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zk_core::proto::{Encode, OpCode, Response};

fuzz_target!(|data: &[u8]| {
    let Some((head, body)) = data.split_first_chunk::<4>() else {
        return;
    };
    let raw = i32::from_be_bytes(*head);
    let op = OpCode::from_i32(raw).unwrap_or(OpCode::ALL[raw as u32 as usize % OpCode::ALL.len()]);
    if let Ok(resp) = Response::decode(op, body) {
        let bytes = resp.to_bytes();
        let again = Response::decode(op, &bytes).expect("re-encoded response decodes");
        assert_eq!(resp, again);
        assert_eq!(again.to_bytes(), bytes);
    }
});
