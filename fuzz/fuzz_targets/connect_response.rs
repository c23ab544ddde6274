//! `ConnectResponse::from_bytes` on arbitrary bytes: never panics; round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zk_core::proto::{ConnectResponse, Decode, Encode};

fuzz_target!(|data: &[u8]| {
    if let Ok(resp) = ConnectResponse::from_bytes(data) {
        let bytes = resp.to_bytes();
        let again = ConnectResponse::from_bytes(&bytes).expect("re-encoded ConnectResponse decodes");
        assert_eq!(resp, again);
        assert_eq!(again.to_bytes(), bytes);
    }
});
