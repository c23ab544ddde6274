//! `path::validate` against a line-by-line port of Apache's `PathUtils.validatePath`, which
//! works on UTF-16 code units; plus `parent`/`basename`/`join` on every valid path.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zk_core::proto::path;

/// `org.apache.zookeeper.common.PathUtils.validatePath` (3.8), over `String.toCharArray()`.
fn apache_valid(path: &str) -> bool {
    let chars: Vec<u16> = path.encode_utf16().collect();
    let slash = u16::from(b'/');
    let dot = u16::from(b'.');
    if chars.is_empty() || chars[0] != slash {
        return false;
    }
    if chars.len() == 1 {
        return true;
    }
    if chars[chars.len() - 1] == slash {
        return false;
    }
    let mut lastc = slash;
    for i in 1..chars.len() {
        let c = chars[i];
        let next_is_end_or_slash = i + 1 == chars.len() || chars[i + 1] == slash;
        if c == 0 {
            return false;
        } else if c == slash && lastc == slash {
            return false;
        } else if c == dot && lastc == dot {
            if chars[i - 2] == slash && next_is_end_or_slash {
                return false;
            }
        } else if c == dot {
            if chars[i - 1] == slash && next_is_end_or_slash {
                return false;
            }
        } else if (c > 0 && c <= 0x1f)
            || (0x7f..=0x9f).contains(&c)
            || (0xd800..=0xf8ff).contains(&c)
            || c >= 0xfff0
        {
            return false;
        }
        lastc = c;
    }
    true
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let ok = path::validate(s, false).is_ok();
    assert_eq!(ok, apache_valid(s), "validate({s:?}) disagrees with Apache");
    // Sequential creates are checked after the server appends the 10-digit counter.
    let seq = format!("{s}0000000001");
    assert_eq!(path::validate(s, true).is_ok(), apache_valid(&seq), "sequential {s:?}");
    if ok && s != "/" {
        let parent = path::parent(s);
        let base = path::basename(s);
        assert!(path::validate(parent, false).is_ok(), "parent of {s:?}");
        assert!(!base.is_empty() && !base.contains('/'));
        assert_eq!(path::join(parent, base), s);
    }
});
