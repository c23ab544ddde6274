//! `Request::decode(op, body)`: the first 4 bytes choose the opcode (a known opcode as is,
//! anything else mapped onto the opcode table), the rest is the body. Never panics; a decoded
//! request keeps its opcode and round-trips through `encode`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zk_core::proto::{Encode, OpCode, Request};

fuzz_target!(|data: &[u8]| {
    let Some((head, body)) = data.split_first_chunk::<4>() else {
        return;
    };
    let raw = i32::from_be_bytes(*head);
    let op = OpCode::from_i32(raw)
        .unwrap_or(OpCode::ALL[raw as u32 as usize % OpCode::ALL.len()])
        .as_i32();
    if let Ok(req) = Request::decode(op, body) {
        assert_eq!(req.op_code().as_i32(), op);
        let bytes = req.to_bytes();
        let again = Request::decode(op, &bytes).expect("re-encoded request decodes");
        assert_eq!(req, again);
        assert_eq!(again.to_bytes(), bytes);
    }
});
