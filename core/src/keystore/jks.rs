//! A reader of Java's `JKS` key store format (what `keytool -storetype JKS` writes), written
//! from the format's public description.
//!
//! # Format
//!
//! All integers big-endian; strings are Java "modified UTF-8" with a `u16` length.
//!
//! ```text
//! u32 magic 0xFEEDFEED, u32 version (1 or 2), u32 entry count
//! entry: u32 tag, string alias, u64 creation time (ms)
//!   tag 1 (private key): u32 len, EncryptedPrivateKeyInfo DER;
//!                        u32 chain length; per certificate: [v2: string type] u32 len, DER
//!   tag 2 (trusted cert): [v2: string type] u32 len, DER
//! trailer: SHA-1(password as UTF-16BE ‖ "Mighty Aphrodite" ‖ every byte before the trailer)
//! ```
//!
//! A private key is protected by Sun's `KeyProtector` (OID 1.3.6.1.4.1.42.2.17.1.1): the
//! encrypted data is `salt (20) ‖ ciphertext ‖ check (20)`; the key stream is
//! `SHA-1(pw ‖ salt)`, then `SHA-1(pw ‖ previous digest)` repeated, XORed with the
//! ciphertext; `check` is `SHA-1(pw ‖ plaintext)`. The plaintext is a PKCS#8 PrivateKeyInfo.

use sha1::{Digest, Sha1};

/// One private-key entry: the PKCS#8 key and its certificate chain (leaf first), DER.
#[derive(Debug, Clone)]
pub struct JksKeyEntry {
    pub alias: String,
    pub pkcs8: Vec<u8>,
    pub chain: Vec<Vec<u8>>,
}

/// What a JKS file holds.
#[derive(Debug, Clone, Default)]
pub struct Jks {
    pub keys: Vec<JksKeyEntry>,
    /// Trusted certificate entries (DER), in file order.
    pub trusted: Vec<Vec<u8>>,
}

const MAGIC: u32 = 0xFEED_FEED;
const INTEGRITY_SALT: &[u8] = b"Mighty Aphrodite";
const KEY_PROTECTOR_OID: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x2a, 0x02, 0x11, 0x01, 0x01];
const DIGEST_LEN: usize = 20;

/// Why a JKS file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JksError {
    #[error("not a JKS key store (bad magic number)")]
    NotJks,
    #[error("unsupported JKS version {0}")]
    Version(u32),
    #[error("truncated or malformed JKS data ({0})")]
    Malformed(&'static str),
    #[error("keystore password was incorrect (integrity check failed)")]
    WrongPassword,
    #[error("cannot recover key \"{0}\": password incorrect or key damaged")]
    KeyPassword(String),
    #[error("key \"{0}\" uses an unsupported protection algorithm")]
    KeyAlgorithm(String),
}

impl Jks {
    /// Parses `data`, checking its integrity digest and decrypting its keys with `password`.
    pub fn parse(data: &[u8], password: &str) -> Result<Jks, JksError> {
        let pw = utf16be(password);
        if data.len() < 12 + DIGEST_LEN {
            return Err(if data.len() >= 4 && be32(&data[..4]) != MAGIC {
                JksError::NotJks
            } else {
                JksError::Malformed("too short")
            });
        }
        let (body, digest) = data.split_at(data.len() - DIGEST_LEN);
        let mut r = Cursor { data: body, at: 0 };
        if r.u32()? != MAGIC {
            return Err(JksError::NotJks);
        }
        let version = r.u32()?;
        if version != 1 && version != 2 {
            return Err(JksError::Version(version));
        }
        let expected = Sha1::new()
            .chain_update(&pw)
            .chain_update(INTEGRITY_SALT)
            .chain_update(body)
            .finalize();
        if expected.as_slice() != digest {
            return Err(JksError::WrongPassword);
        }
        let count = r.u32()?;
        let mut out = Jks::default();
        for _ in 0..count {
            let tag = r.u32()?;
            let alias = r.string()?;
            let _created = r.take(8)?;
            match tag {
                1 => {
                    let protected = r.blob()?.to_vec();
                    let chain_len = r.u32()?;
                    let mut chain = Vec::new();
                    for _ in 0..chain_len {
                        chain.push(r.cert(version)?);
                    }
                    let pkcs8 = recover_key(&protected, &pw, &alias)?;
                    out.keys.push(JksKeyEntry {
                        alias,
                        pkcs8,
                        chain,
                    });
                }
                2 => out.trusted.push(r.cert(version)?),
                _ => return Err(JksError::Malformed("unknown entry tag")),
            }
        }
        if r.at != body.len() {
            return Err(JksError::Malformed("bytes after the last entry"));
        }
        Ok(out)
    }
}

/// Undoes Sun's `KeyProtector`: `EncryptedPrivateKeyInfo { AlgorithmIdentifier, OCTET STRING }`.
fn recover_key(der: &[u8], pw: &[u8], alias: &str) -> Result<Vec<u8>, JksError> {
    let bad = || JksError::Malformed("bad EncryptedPrivateKeyInfo");
    let (info, _) = der_tlv(der, 0x30).ok_or_else(bad)?;
    let (algorithm, rest) = der_tlv(info, 0x30).ok_or_else(bad)?;
    let (oid, _) = der_tlv(algorithm, 0x06).ok_or_else(bad)?;
    if oid != KEY_PROTECTOR_OID {
        return Err(JksError::KeyAlgorithm(alias.to_owned()));
    }
    let (encrypted, _) = der_tlv(rest, 0x04).ok_or_else(bad)?;
    if encrypted.len() < 2 * DIGEST_LEN {
        return Err(bad());
    }
    let (salt, rest) = encrypted.split_at(DIGEST_LEN);
    let (cipher, check) = rest.split_at(rest.len() - DIGEST_LEN);
    let mut plain = Vec::with_capacity(cipher.len());
    let mut digest: [u8; DIGEST_LEN] = Sha1::new()
        .chain_update(pw)
        .chain_update(salt)
        .finalize()
        .into();
    for chunk in cipher.chunks(DIGEST_LEN) {
        plain.extend(chunk.iter().zip(digest.iter()).map(|(c, k)| c ^ k));
        digest = Sha1::new()
            .chain_update(pw)
            .chain_update(digest)
            .finalize()
            .into();
    }
    let actual = Sha1::new().chain_update(pw).chain_update(&plain).finalize();
    if actual.as_slice() != check {
        return Err(JksError::KeyPassword(alias.to_owned()));
    }
    Ok(plain)
}

/// The contents of one DER value with tag `tag` at the start of `data`, and what follows it.
fn der_tlv(data: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    if *data.first()? != tag {
        return None;
    }
    let first = *data.get(1)?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let bytes = data.get(2..2 + n)?;
        (
            bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b)),
            2 + n,
        )
    };
    let end = header.checked_add(len)?;
    Some((data.get(header..end)?, data.get(end..)?))
}

fn utf16be(password: &str) -> Vec<u8> {
    password.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

struct Cursor<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], JksError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.data.len())
            .ok_or(JksError::Malformed("truncated"))?;
        let out = &self.data[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, JksError> {
        self.take(4).map(be32)
    }

    fn string(&mut self) -> Result<String, JksError> {
        let len = self.take(2)?;
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        // Modified UTF-8 differs from UTF-8 only for NUL and supplementary characters,
        // which aliases do not hold; anything else is shown lossily.
        Ok(String::from_utf8_lossy(self.take(len)?).into_owned())
    }

    fn blob(&mut self) -> Result<&'a [u8], JksError> {
        let len = self.u32()? as usize;
        self.take(len)
    }

    fn cert(&mut self, version: u32) -> Result<Vec<u8>, JksError> {
        if version == 2 {
            let kind = self.string()?;
            if kind != "X.509" {
                return Err(JksError::Malformed("certificate type is not X.509"));
            }
        }
        Ok(self.blob()?.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a JKS image the way the format describes, so the reader is tested against
    /// the layout rather than against itself.
    fn image(password: &str, entries: &[(u32, &str, Vec<u8>)]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&MAGIC.to_be_bytes());
        out.extend_from_slice(&2u32.to_be_bytes());
        out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
        for (tag, alias, body) in entries {
            out.extend_from_slice(&tag.to_be_bytes());
            out.extend_from_slice(&(alias.len() as u16).to_be_bytes());
            out.extend_from_slice(alias.as_bytes());
            out.extend_from_slice(&0u64.to_be_bytes());
            out.extend_from_slice(body);
        }
        let digest = Sha1::new()
            .chain_update(utf16be(password))
            .chain_update(INTEGRITY_SALT)
            .chain_update(&out)
            .finalize();
        out.extend_from_slice(&digest);
        out
    }

    fn cert_body(der: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&5u16.to_be_bytes());
        out.extend_from_slice(b"X.509");
        out.extend_from_slice(&(der.len() as u32).to_be_bytes());
        out.extend_from_slice(der);
        out
    }

    /// Protects `plain` as Sun's KeyProtector does.
    fn protect(plain: &[u8], password: &str) -> Vec<u8> {
        let pw = utf16be(password);
        let salt = [7u8; DIGEST_LEN];
        let mut data = salt.to_vec();
        let mut digest: [u8; DIGEST_LEN] = Sha1::new()
            .chain_update(&pw)
            .chain_update(salt)
            .finalize()
            .into();
        for chunk in plain.chunks(DIGEST_LEN) {
            data.extend(chunk.iter().zip(digest.iter()).map(|(c, k)| c ^ k));
            digest = Sha1::new()
                .chain_update(&pw)
                .chain_update(digest)
                .finalize()
                .into();
        }
        data.extend(Sha1::new().chain_update(&pw).chain_update(plain).finalize());
        let mut algorithm = vec![0x06, KEY_PROTECTOR_OID.len() as u8];
        algorithm.extend_from_slice(KEY_PROTECTOR_OID);
        algorithm.extend_from_slice(&[0x05, 0x00]);
        let mut inner = vec![0x30, algorithm.len() as u8];
        inner.extend(algorithm);
        inner.extend([0x04, 0x81, data.len() as u8]);
        inner.extend(data);
        let mut out = vec![0x30, 0x81, inner.len() as u8];
        out.extend(inner);
        out
    }

    #[test]
    fn reads_keys_and_trusted_certs() {
        let key = b"a pkcs8 private key of some length, longer than one digest".to_vec();
        let protected = protect(&key, "secret");
        let mut body = Vec::new();
        body.extend_from_slice(&(protected.len() as u32).to_be_bytes());
        body.extend_from_slice(&protected);
        body.extend_from_slice(&2u32.to_be_bytes());
        body.extend(cert_body(b"leaf"));
        body.extend(cert_body(b"ca"));
        let data = image(
            "secret",
            &[(1, "server", body), (2, "root", cert_body(b"trusted"))],
        );
        let jks = Jks::parse(&data, "secret").unwrap();
        assert_eq!(jks.keys.len(), 1);
        assert_eq!(jks.keys[0].alias, "server");
        assert_eq!(jks.keys[0].pkcs8, key);
        assert_eq!(jks.keys[0].chain, vec![b"leaf".to_vec(), b"ca".to_vec()]);
        assert_eq!(jks.trusted, vec![b"trusted".to_vec()]);
    }

    #[test]
    fn wrong_password_and_damage_are_errors() {
        let data = image("secret", &[(2, "root", cert_body(b"trusted"))]);
        assert_eq!(
            Jks::parse(&data, "other").unwrap_err(),
            JksError::WrongPassword
        );
        let mut bad = data.clone();
        bad[0] = 0;
        assert_eq!(Jks::parse(&bad, "secret").unwrap_err(), JksError::NotJks);
        for cut in [0, 5, 16, data.len() - 1] {
            assert!(Jks::parse(&data[..cut], "secret").is_err());
        }
        // A key whose check digest does not match (a different key password).
        let protected = protect(b"key", "keypass");
        let mut body = Vec::new();
        body.extend_from_slice(&(protected.len() as u32).to_be_bytes());
        body.extend_from_slice(&protected);
        body.extend_from_slice(&0u32.to_be_bytes());
        let data = image("secret", &[(1, "k", body)]);
        assert_eq!(
            Jks::parse(&data, "secret").unwrap_err(),
            JksError::KeyPassword("k".into())
        );
    }
}
