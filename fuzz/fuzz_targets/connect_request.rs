//! `ConnectRequest::from_bytes` on arbitrary bytes: never panics; whatever decodes re-encodes
//! to bytes that decode to the same value, and encoding is then stable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zk_core::proto::{ConnectRequest, Decode, Encode};

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = ConnectRequest::from_bytes(data) {
        let bytes = req.to_bytes();
        let again = ConnectRequest::from_bytes(&bytes).expect("re-encoded ConnectRequest decodes");
        assert_eq!(req, again);
        assert_eq!(again.to_bytes(), bytes);
    }
});
