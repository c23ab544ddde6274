//! `frame::check`: the first byte picks the `max_buffer` (the default, or a small one so the
//! too-large path is reachable); the rest is the receive buffer. Never panics, and the verdict
//! agrees with the length prefix; a complete frame is rebuilt exactly by `frame::write`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zk_core::proto::frame::{self, FrameError};
use zk_core::proto::DEFAULT_MAX_BUFFER;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, buf)) = data.split_first() else {
        return;
    };
    let max = if sel & 1 == 0 { DEFAULT_MAX_BUFFER } else { usize::from(sel >> 1) * 8 };
    let prefix = buf.first_chunk::<4>().map(|p| i32::from_be_bytes(*p));
    match frame::check(buf, max) {
        Ok(Some(len)) => {
            assert_eq!(prefix.and_then(|p| usize::try_from(p).ok()), Some(len));
            assert!(len <= max && buf.len() >= 4 + len);
            let mut out = Vec::new();
            frame::write(&mut out, |b| b.extend_from_slice(&buf[4..4 + len]));
            assert_eq!(out, &buf[..4 + len]);
        }
        Ok(None) => match prefix {
            None => assert!(buf.len() < 4),
            Some(p) => {
                let len = usize::try_from(p).expect("negative length reported as incomplete");
                assert!(len <= max && buf.len() < 4 + len);
            }
        },
        Err(FrameError::Negative(n)) => assert_eq!(Some(n), prefix.filter(|p| *p < 0)),
        Err(FrameError::TooLarge { len, max: m }) => {
            assert_eq!(m, max);
            assert!(len > max);
            assert_eq!(prefix.and_then(|p| usize::try_from(p).ok()), Some(len));
        }
    }
});
