//! Length-prefixed framing: `int32 length (big-endian)` then that many bytes, in both
//! directions. The length is checked against `jute.maxbuffer` before anything is allocated.

/// A frame the peer should never have sent; the connection is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame length {0} is negative")]
    Negative(i32),
    #[error("frame length {len} exceeds jute.maxbuffer {max}")]
    TooLarge { len: usize, max: usize },
}

/// Looks at the front of `buf`: `Ok(None)` until a whole frame is there, then
/// `Ok(Some(len))` with the payload length (the frame occupies `4 + len` bytes).
pub fn check(buf: &[u8], max_buffer: usize) -> Result<Option<usize>, FrameError> {
    let Some(prefix) = buf.get(..4) else {
        return Ok(None);
    };
    let len = i32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
    let len = usize::try_from(len).map_err(|_| FrameError::Negative(len))?;
    if len > max_buffer {
        return Err(FrameError::TooLarge {
            len,
            max: max_buffer,
        });
    }
    Ok((buf.len() >= 4 + len).then_some(len))
}

/// Appends a frame: the length prefix, then whatever `fill` writes.
pub fn write(out: &mut Vec<u8>, fill: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    fill(out);
    let len = u32::try_from(out.len() - start - 4).unwrap_or(u32::MAX);
    out[start..start + 4].copy_from_slice(&len.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames() {
        assert_eq!(check(&[0, 0], 10), Ok(None));
        assert_eq!(check(&[0, 0, 0, 2, 1], 10), Ok(None));
        assert_eq!(check(&[0, 0, 0, 2, 1, 2], 10), Ok(Some(2)));
        assert_eq!(
            check(&[0xff, 0, 0, 0], 10),
            Err(FrameError::Negative(-16777216))
        );
        assert!(matches!(
            check(&[0, 0, 0, 11], 10),
            Err(FrameError::TooLarge { .. })
        ));
        let mut out = Vec::new();
        write(&mut out, |b| b.extend_from_slice(b"abc"));
        assert_eq!(out, [0, 0, 0, 3, b'a', b'b', b'c']);
    }
}
