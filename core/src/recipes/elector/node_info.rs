//! Hadoop's `ActiveNodeInfo` (hadoop-hdfs `HAZKInfo.proto`, package `hadoop.hdfs`) in
//! protobuf wire format: what an HDFS failover controller writes into the elector's lock
//! and breadcrumb znodes, so that ours and Hadoop's read each other's.
//!
//! ```text
//! message ActiveNodeInfo {
//!   required string nameserviceId = 1;
//!   required string namenodeId = 2;
//!   required string hostname = 3;
//!   required int32 port = 4;
//!   required int32 zkfcPort = 5;
//! }
//! ```
//!
//! Written in field-number order, as protobuf-java writes it, so the same values give the
//! same bytes (the elector compares breadcrumb bytes to tell its own from another's).
//! Reading follows protobuf's rules: fields in any order, the last of a repeated field
//! wins, unknown fields are skipped; a missing required field is an error, as Java's
//! `parseFrom` makes it.

use std::fmt;

/// The identity of an HA service instance, as Hadoop's ZKFC stores it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ActiveNodeInfo {
    /// Field 1: the nameservice (the last segment of the elector's parent znode).
    pub nameservice_id: String,
    /// Field 2: this instance within the nameservice (`nn1`).
    pub namenode_id: String,
    /// Field 3: the host the service listens on.
    pub hostname: String,
    /// Field 4: the service's port.
    pub port: i32,
    /// Field 5: the failover controller's own port (0 when it has none).
    pub zkfc_port: i32,
}

/// Why bytes are not an `ActiveNodeInfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfoError(String);

impl fmt::Display for NodeInfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not an ActiveNodeInfo: {}", self.0)
    }
}

impl std::error::Error for NodeInfoError {}

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LENGTH_DELIMITED: u8 = 2;
const START_GROUP: u8 = 3;
const END_GROUP: u8 = 4;
const FIXED32: u8 = 5;

/// Deepest nesting of unknown groups skipped (protobuf-java's recursion limit).
const MAX_DEPTH: usize = 100;

impl ActiveNodeInfo {
    /// The protobuf encoding (protobuf-java's bytes for the same values).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            16 + self.nameservice_id.len() + self.namenode_id.len() + self.hostname.len(),
        );
        put_string(&mut out, 1, &self.nameservice_id);
        put_string(&mut out, 2, &self.namenode_id);
        put_string(&mut out, 3, &self.hostname);
        put_int32(&mut out, 4, self.port);
        put_int32(&mut out, 5, self.zkfc_port);
        out
    }

    /// Parses the protobuf encoding; every field is required.
    pub fn decode(bytes: &[u8]) -> Result<ActiveNodeInfo, NodeInfoError> {
        let mut r = Cursor { bytes, at: 0 };
        let mut seen = [false; 5];
        let mut info = ActiveNodeInfo::default();
        while !r.done() {
            let key = r.varint()?;
            let field = key >> 3;
            let wire = (key & 7) as u8;
            match (field, wire) {
                (1..=3, LENGTH_DELIMITED) => {
                    let text = r.string(field)?;
                    match field {
                        1 => info.nameservice_id = text,
                        2 => info.namenode_id = text,
                        _ => info.hostname = text,
                    }
                }
                // int32: the low 32 bits of the varint (negative values are sign-extended
                // to ten bytes by the writer).
                (4, VARINT) => info.port = r.varint()? as i32,
                (5, VARINT) => info.zkfc_port = r.varint()? as i32,
                (1..=5, _) => {
                    return Err(NodeInfoError(format!("field {field} has wire type {wire}")))
                }
                (0, _) => return Err(NodeInfoError("field number 0".into())),
                _ => r.skip(field, wire, 0)?,
            }
            if (1..=5).contains(&field) {
                seen[field as usize - 1] = true;
            }
        }
        const NAMES: [&str; 5] = [
            "nameserviceId",
            "namenodeId",
            "hostname",
            "port",
            "zkfcPort",
        ];
        let missing: Vec<&str> = NAMES
            .iter()
            .zip(seen)
            .filter(|(_, seen)| !seen)
            .map(|(name, _)| *name)
            .collect();
        if !missing.is_empty() {
            return Err(NodeInfoError(format!(
                "required field(s) missing: {}",
                missing.join(", ")
            )));
        }
        Ok(info)
    }
}

impl fmt::Display for ActiveNodeInfo {
    /// `nameservice/namenode at host:port`, for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} at {}:{}",
            self.nameservice_id, self.namenode_id, self.hostname, self.port
        )
    }
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_key(out: &mut Vec<u8>, field: u64, wire: u8) {
    put_varint(out, (field << 3) | u64::from(wire));
}

fn put_string(out: &mut Vec<u8>, field: u64, value: &str) {
    put_key(out, field, LENGTH_DELIMITED);
    put_varint(out, value.len() as u64);
    out.extend_from_slice(value.as_bytes());
}

fn put_int32(out: &mut Vec<u8>, field: u64, value: i32) {
    put_key(out, field, VARINT);
    // Sign-extended, as protobuf encodes a negative int32.
    put_varint(out, i64::from(value) as u64);
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn done(&self) -> bool {
        self.at >= self.bytes.len()
    }

    fn varint(&mut self) -> Result<u64, NodeInfoError> {
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let Some(&byte) = self.bytes.get(self.at) else {
                return Err(NodeInfoError("truncated varint".into()));
            };
            self.at += 1;
            if shift == 63 && byte > 1 {
                return Err(NodeInfoError("varint longer than 64 bits".into()));
            }
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(NodeInfoError("varint longer than ten bytes".into()))
    }

    fn take(&mut self, len: u64) -> Result<&[u8], NodeInfoError> {
        let end = usize::try_from(len)
            .ok()
            .and_then(|len| self.at.checked_add(len))
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| NodeInfoError("a field runs past the end".into()))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn string(&mut self, field: u64) -> Result<String, NodeInfoError> {
        let len = self.varint()?;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| NodeInfoError(format!("field {field} is not UTF-8")))
    }

    /// Skips an unknown field whose key was just read.
    fn skip(&mut self, field: u64, wire: u8, depth: usize) -> Result<(), NodeInfoError> {
        match wire {
            VARINT => self.varint().map(drop),
            FIXED64 => self.take(8).map(drop),
            LENGTH_DELIMITED => {
                let len = self.varint()?;
                self.take(len).map(drop)
            }
            FIXED32 => self.take(4).map(drop),
            START_GROUP if depth < MAX_DEPTH => loop {
                if self.done() {
                    return Err(NodeInfoError("unterminated group".into()));
                }
                let key = self.varint()?;
                let (inner, inner_wire) = (key >> 3, (key & 7) as u8);
                if inner_wire == END_GROUP {
                    if inner != field {
                        return Err(NodeInfoError("mismatched end of group".into()));
                    }
                    return Ok(());
                }
                self.skip(inner, inner_wire, depth + 1)?;
            },
            START_GROUP => Err(NodeInfoError("groups nested too deeply".into())),
            _ => Err(NodeInfoError(format!("bad wire type {wire}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ActiveNodeInfo {
        ActiveNodeInfo {
            nameservice_id: "ns1".into(),
            namenode_id: "nn1".into(),
            hostname: "host-a".into(),
            port: 8020,
            zkfc_port: 8019,
        }
    }

    #[test]
    fn encodes_as_protobuf_java_does() {
        // Worked out by hand from the protobuf encoding rules: key = field << 3 | wire type.
        let expected: Vec<u8> = [
            &[0x0a, 3][..],
            b"ns1",
            &[0x12, 3],
            b"nn1",
            &[0x1a, 6],
            b"host-a",
            &[0x20, 0xd4, 0x3e], // 8020
            &[0x28, 0xd3, 0x3e], // 8019
        ]
        .concat();
        assert_eq!(sample().encode(), expected);
        assert_eq!(ActiveNodeInfo::decode(&expected).unwrap(), sample());
    }

    #[test]
    fn negative_ports_round_trip_through_ten_byte_varints() {
        let info = ActiveNodeInfo {
            port: -1,
            zkfc_port: i32::MIN,
            ..sample()
        };
        let bytes = info.encode();
        // Three strings (18 bytes), then each int32 as a key and a ten-byte varint.
        assert_eq!(bytes.len(), 18 + 11 + 11);
        assert_eq!(&bytes[18..21], &[0x20, 0xff, 0xff]);
        assert_eq!(ActiveNodeInfo::decode(&bytes).unwrap(), info);
    }

    #[test]
    fn any_order_last_wins_unknown_fields_skipped() {
        let mut bytes = Vec::new();
        put_int32(&mut bytes, 5, 1);
        put_string(&mut bytes, 3, "old");
        put_key(&mut bytes, 9, FIXED64);
        bytes.extend_from_slice(&[0; 8]);
        put_key(&mut bytes, 10, START_GROUP);
        put_int32(&mut bytes, 1, 7);
        put_key(&mut bytes, 10, END_GROUP);
        put_string(&mut bytes, 12, "ignored");
        put_key(&mut bytes, 13, FIXED32);
        bytes.extend_from_slice(&[0; 4]);
        put_string(&mut bytes, 2, "nn2");
        put_string(&mut bytes, 1, "ns");
        put_string(&mut bytes, 3, "new");
        put_int32(&mut bytes, 4, 9);
        let info = ActiveNodeInfo::decode(&bytes).unwrap();
        assert_eq!(
            info,
            ActiveNodeInfo {
                nameservice_id: "ns".into(),
                namenode_id: "nn2".into(),
                hostname: "new".into(),
                port: 9,
                zkfc_port: 1,
            }
        );
    }

    #[test]
    fn bad_input_is_an_error_never_a_panic() {
        let good = sample().encode();
        for cut in 0..good.len() {
            assert!(
                ActiveNodeInfo::decode(&good[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        let err = ActiveNodeInfo::decode(&good[..good.len() - 3]).unwrap_err();
        assert!(err.to_string().contains("zkfcPort"), "{err}");
        assert!(ActiveNodeInfo::decode(&[0x0a, 0x02, 0xff, 0xfe]).is_err());
        assert!(ActiveNodeInfo::decode(&[0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
        assert!(ActiveNodeInfo::decode(&[0x20; 11]).is_err());
        assert!(
            ActiveNodeInfo::decode(&[0x08, 0x01]).is_err(),
            "wrong wire type"
        );
        assert!(
            ActiveNodeInfo::decode(&[0x53]).is_err(),
            "an unterminated group"
        );
        assert!(ActiveNodeInfo::decode(&[0x07]).is_err(), "field 0");
        assert!(ActiveNodeInfo::decode(&[0xff; 12]).is_err());
        let deep: Vec<u8> = std::iter::repeat_n(0x53u8, 200).collect();
        assert!(ActiveNodeInfo::decode(&deep).is_err());
        // Every byte string either decodes or errs.
        for a in 0..=255u8 {
            for b in [0u8, 1, 0x7f, 0x80, 0xff] {
                let _ = ActiveNodeInfo::decode(&[a, b, a, b]);
            }
        }
    }
}
