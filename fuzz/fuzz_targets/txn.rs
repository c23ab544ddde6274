//! `Txn::decode` on arbitrary bytes: never panics; a decoded txn re-encodes to bytes that
//! decode to the same txn, and encoding is then stable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zk_core::server::txn::Txn;

fuzz_target!(|data: &[u8]| {
    if let Ok(txn) = Txn::decode(data) {
        let bytes = txn.encode();
        let again = Txn::decode(&bytes).expect("re-encoded txn decodes");
        assert_eq!(txn, again);
        assert_eq!(again.encode(), bytes);
    }
});
