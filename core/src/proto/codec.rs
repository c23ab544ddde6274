//! Jute binary encoding: big-endian integers, length-prefixed strings, buffers and vectors,
//! with `-1` as the length of a null string, buffer or vector.

use bytes::BufMut;

/// Why a frame could not be decoded. The server answers MARSHALLINGERROR or closes the
/// connection; it never panics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("record truncated: needed {needed} more bytes at offset {offset}")]
    Truncated { offset: usize, needed: usize },
    #[error("invalid length {len} at offset {offset}")]
    BadLength { offset: usize, len: i32 },
    #[error("string at offset {offset} is not valid UTF-8")]
    Utf8 { offset: usize },
    #[error("unknown opcode {0}")]
    UnknownOpCode(i32),
    #[error("{0}")]
    Invalid(&'static str),
    #[error("{trailing} trailing bytes after the record")]
    Trailing { trailing: usize },
}

/// A record that can be written in jute binary form.
pub trait Encode {
    fn encode<B: BufMut>(&self, buf: &mut B);

    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

/// A record that can be read from jute binary form.
pub trait Decode: Sized {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError>;

    /// Decodes a record that must fill `bytes` exactly.
    fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let value = Self::decode(&mut r)?;
        r.finish()?;
        Ok(value)
    }
}

/// A cursor over one frame's bytes. Every length is checked against what is left before
/// anything is allocated, so a hostile length costs nothing.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// Fails when bytes are left over.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            trailing => Err(DecodeError::Trailing { trailing }),
        }
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::Truncated {
                offset: self.pos,
                needed: n - self.remaining(),
            });
        }
        let slice = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub fn read_u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    pub fn read_bool(&mut self) -> Result<bool, DecodeError> {
        Ok(self.read_u8()? != 0)
    }

    pub fn read_i32(&mut self) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    pub fn read_i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    /// A length prefix; `None` for the null marker `-1`.
    fn read_len(&mut self, element_size: usize) -> Result<Option<usize>, DecodeError> {
        let offset = self.pos;
        let len = self.read_i32()?;
        if len == -1 {
            return Ok(None);
        }
        let Ok(count) = usize::try_from(len) else {
            return Err(DecodeError::BadLength { offset, len });
        };
        if count.saturating_mul(element_size.max(1)) > self.remaining() {
            return Err(DecodeError::BadLength { offset, len });
        }
        Ok(Some(count))
    }

    /// A jute `buffer`; `None` when the peer sent null.
    pub fn read_buffer(&mut self) -> Result<Option<Vec<u8>>, DecodeError> {
        Ok(self.read_buffer_ref()?.map(<[u8]>::to_vec))
    }

    /// A jute `buffer` borrowed from the input; `None` when the peer sent null.
    pub fn read_buffer_ref(&mut self) -> Result<Option<&'a [u8]>, DecodeError> {
        match self.read_len(1)? {
            None => Ok(None),
            Some(n) => Ok(Some(self.take(n)?)),
        }
    }

    /// A jute `ustring`; null reads as `None`.
    pub fn read_opt_string(&mut self) -> Result<Option<String>, DecodeError> {
        Ok(self.read_str_ref()?.map(str::to_owned))
    }

    /// A jute `ustring` borrowed from the input; null reads as `None`.
    pub fn read_str_ref(&mut self) -> Result<Option<&'a str>, DecodeError> {
        let offset = self.pos;
        match self.read_buffer_ref()? {
            None => Ok(None),
            Some(bytes) => std::str::from_utf8(bytes)
                .map(Some)
                .map_err(|_| DecodeError::Utf8 { offset }),
        }
    }

    /// A jute `ustring` where null is read as the empty string (which no path accepts).
    pub fn read_string(&mut self) -> Result<String, DecodeError> {
        Ok(self.read_opt_string()?.unwrap_or_default())
    }

    /// A jute `vector`; null reads as empty. `min_element_size` bounds the count by what is left.
    pub fn read_vec<T>(
        &mut self,
        min_element_size: usize,
        mut item: impl FnMut(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Vec<T>, DecodeError> {
        let Some(count) = self.read_len(min_element_size)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            out.push(item(self)?);
        }
        Ok(out)
    }

    pub fn read_string_vec(&mut self) -> Result<Vec<String>, DecodeError> {
        self.read_vec(4, |r| r.read_string())
    }

    pub fn read_record<T: Decode>(&mut self) -> Result<T, DecodeError> {
        T::decode(self)
    }
}

/// Writers for the jute primitives, on any [`BufMut`].
pub trait JuteWrite: BufMut {
    fn put_bool_j(&mut self, v: bool) {
        self.put_u8(u8::from(v));
    }

    fn put_buffer(&mut self, v: Option<&[u8]>) {
        match v {
            None => self.put_i32(-1),
            Some(bytes) => {
                self.put_i32(len_i32(bytes.len()));
                self.put_slice(bytes);
            }
        }
    }

    fn put_string(&mut self, s: &str) {
        self.put_i32(len_i32(s.len()));
        self.put_slice(s.as_bytes());
    }

    fn put_opt_string(&mut self, s: Option<&str>) {
        match s {
            None => self.put_i32(-1),
            Some(s) => self.put_string(s),
        }
    }

    fn put_string_vec<S: AsRef<str>>(&mut self, items: &[S]) {
        self.put_i32(len_i32(items.len()));
        for s in items {
            self.put_string(s.as_ref());
        }
    }

    fn put_record<T: Encode + ?Sized>(&mut self, record: &T)
    where
        Self: Sized,
    {
        record.encode(self);
    }

    fn put_records<T: Encode>(&mut self, items: &[T])
    where
        Self: Sized,
    {
        self.put_i32(len_i32(items.len()));
        for item in items {
            item.encode(self);
        }
    }
}

impl<B: BufMut + ?Sized> JuteWrite for B {}

/// Lengths on the wire are `int`; anything larger cannot have been decoded or accepted,
/// so saturating keeps encoding total without a panic path.
fn len_i32(len: usize) -> i32 {
    i32::try_from(len).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_lengths_fail_before_allocating() {
        let mut r = Reader::new(&[0x7f, 0xff, 0xff, 0xff]);
        assert!(matches!(
            r.read_buffer(),
            Err(DecodeError::BadLength { .. })
        ));
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xfe]);
        assert!(matches!(
            r.read_string(),
            Err(DecodeError::BadLength { .. })
        ));
        let mut r = Reader::new(&[0x10, 0, 0, 0, 0]);
        assert!(r.read_string_vec().is_err());
    }

    #[test]
    fn null_markers() {
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(r.read_buffer().unwrap(), None);
        assert_eq!(r.read_opt_string().unwrap(), None);
        assert!(r.is_empty());
    }

    #[test]
    fn primitives_round_trip() {
        let mut out = Vec::new();
        out.put_i32(-7);
        out.put_i64(1 << 40);
        out.put_bool_j(true);
        out.put_string("/a");
        out.put_buffer(Some(b"xy"));
        out.put_string_vec(&["p", "q"]);
        let mut r = Reader::new(&out);
        assert_eq!(r.read_i32().unwrap(), -7);
        assert_eq!(r.read_i64().unwrap(), 1 << 40);
        assert!(r.read_bool().unwrap());
        assert_eq!(r.read_string().unwrap(), "/a");
        assert_eq!(r.read_buffer().unwrap().unwrap(), b"xy");
        assert_eq!(r.read_string_vec().unwrap(), vec!["p", "q"]);
        r.finish().unwrap();
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        let mut r = Reader::new(&[0, 0, 0, 1, 0xff]);
        assert!(matches!(r.read_string(), Err(DecodeError::Utf8 { .. })));
    }
}
