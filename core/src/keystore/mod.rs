//! Key stores and trust stores in the formats Apache ZooKeeper reads (`ssl.keyStore.*`,
//! `ssl.trustStore.*`): `PEM`, `PKCS12` and `JKS`. The type comes from `*.type`, else from
//! the file name's extension as Apache's `KeyStoreFileType.fromFilename` decides (`.pem`,
//! `.p12`/`.pfx`, `.jks`).
//!
//! - PEM key store: the private key (PKCS#8, PKCS#1 RSA or SEC1 EC; or PKCS#8 encrypted
//!   with the store's password) and the
//!   certificate chain, leaf first, in one file. PEM trust store: CA certificates.
//! - PKCS12: the first private key and the certificate whose localKeyId matches it, then
//!   its issuers among the file's certificates. As a trust store every certificate in the
//!   file is trusted (keytool marks them; OpenSSL does not, and both kinds are accepted).
//! - JKS: see [`jks`]; the first key entry, decrypted with the store's password.
//!
//! The server reads its `ssl.*`/`ssl.quorum.*` stores here, and the client its
//! `zookeeper.ssl.*` ones.
//!
//! # Layout
//!
//! - this file: [`StoreSpec`] (where a store is, its type and password) and the loaders.
//! - `jks`: the JKS reader.
//! - `encrypted_key`: password-protected PKCS#8 private keys in a PEM store.

use std::path::{Path, PathBuf};

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

mod encrypted_key;
pub mod jks;

use self::jks::Jks;

/// A store's file type (`ssl.keyStore.type` / `ssl.trustStore.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreType {
    Pem,
    Pkcs12,
    Jks,
}

impl StoreType {
    /// Apache's names, case-insensitive (`BCFKS` is not supported).
    pub fn parse(value: &str) -> Option<StoreType> {
        match value.trim().to_ascii_uppercase().as_str() {
            "PEM" => Some(StoreType::Pem),
            "PKCS12" => Some(StoreType::Pkcs12),
            "JKS" => Some(StoreType::Jks),
            _ => None,
        }
    }

    /// The type Apache infers from a file name.
    pub fn from_file_name(path: &Path) -> Option<StoreType> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "pem" => Some(StoreType::Pem),
            "p12" | "pfx" => Some(StoreType::Pkcs12),
            "jks" => Some(StoreType::Jks),
            _ => None,
        }
    }
}

/// Where a store is and how to open it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSpec {
    pub location: PathBuf,
    pub password: String,
    /// `None`: from the file name.
    pub store_type: Option<StoreType>,
}

/// Why a store could not be used; always names the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot load {what} {path}: {reason}")]
pub struct StoreError {
    pub what: &'static str,
    pub path: PathBuf,
    pub reason: String,
}

/// A server's (or client's) certificate chain, leaf first, and its private key.
#[derive(Debug)]
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl StoreSpec {
    fn store_type(&self, what: &'static str) -> Result<StoreType, StoreError> {
        self.store_type
            .or_else(|| StoreType::from_file_name(&self.location))
            .ok_or_else(|| {
                self.error(
                    what,
                    "cannot tell the store type from the file name (.pem, .p12, .pfx, .jks); set its .type".into(),
                )
            })
    }

    fn error(&self, what: &'static str, reason: String) -> StoreError {
        StoreError {
            what,
            path: self.location.clone(),
            reason,
        }
    }

    fn read(&self, what: &'static str) -> Result<Vec<u8>, StoreError> {
        std::fs::read(&self.location).map_err(|e| self.error(what, e.to_string()))
    }

    /// Loads the key store: the certificate chain and private key the server presents.
    pub fn load_identity(&self) -> Result<Identity, StoreError> {
        const WHAT: &str = "key store";
        let kind = self.store_type(WHAT)?;
        let data = self.read(WHAT)?;
        let fail = |reason: String| self.error(WHAT, reason);
        let identity = match kind {
            StoreType::Pem => Identity {
                key: pem_key(&data, &self.password).map_err(fail)?,
                chain: pem_certs(&data).map_err(fail)?,
            },
            StoreType::Pkcs12 => {
                let archive = p12_keystore::Pkcs12Archive::from_pkcs12(&data, &self.password)
                    .map_err(|e| fail(pkcs12_reason(&e)))?;
                let Some(key) = archive.keys.first() else {
                    return Err(fail("no private key entry".into()));
                };
                let certs: Vec<_> = archive.certs.iter().collect();
                let leaf = certs
                    .iter()
                    .find(|c| {
                        c.local_key_id.is_some()
                            && c.local_key_id.as_deref()
                                == key.local_key_id.as_ref().map(|k| k.0.as_slice())
                    })
                    .or_else(|| certs.first())
                    .ok_or_else(|| fail("no certificate for the private key".into()))?;
                let mut chain = vec![leaf.cert.clone()];
                while let Some(issuer) = certs.iter().find(|c| {
                    let last = &chain[chain.len() - 1];
                    c.cert.subject() == last.issuer()
                        && last.subject() != last.issuer()
                        && !chain.contains(&c.cert)
                }) {
                    chain.push(issuer.cert.clone());
                }
                Identity {
                    chain: chain
                        .iter()
                        .map(|c| CertificateDer::from(c.as_der().to_vec()))
                        .collect(),
                    key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.key.as_der().to_vec())),
                }
            }
            StoreType::Jks => {
                let jks = Jks::parse(&data, &self.password).map_err(|e| fail(e.to_string()))?;
                let Some(entry) = jks.keys.into_iter().next() else {
                    return Err(fail("no private key entry".into()));
                };
                Identity {
                    chain: entry.chain.into_iter().map(CertificateDer::from).collect(),
                    key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(entry.pkcs8)),
                }
            }
        };
        if identity.chain.is_empty() {
            return Err(fail("no certificate".into()));
        }
        Ok(identity)
    }

    /// Loads the trust store: the CA certificates client certificates must chain to.
    pub fn load_trust(&self) -> Result<Vec<CertificateDer<'static>>, StoreError> {
        const WHAT: &str = "trust store";
        let kind = self.store_type(WHAT)?;
        let data = self.read(WHAT)?;
        let fail = |reason: String| self.error(WHAT, reason);
        let certs = match kind {
            StoreType::Pem => pem_certs(&data).map_err(fail)?,
            StoreType::Pkcs12 => p12_keystore::Pkcs12Archive::from_pkcs12(&data, &self.password)
                .map_err(|e| fail(pkcs12_reason(&e)))?
                .certs
                .iter()
                .map(|c| CertificateDer::from(c.cert.as_der().to_vec()))
                .collect(),
            StoreType::Jks => {
                let jks = Jks::parse(&data, &self.password).map_err(|e| fail(e.to_string()))?;
                let mut certs: Vec<_> = jks.trusted.into_iter().map(CertificateDer::from).collect();
                for entry in jks.keys {
                    certs.extend(entry.chain.into_iter().map(CertificateDer::from));
                }
                certs
            }
        };
        if certs.is_empty() {
            return Err(fail("no certificate".into()));
        }
        Ok(certs)
    }
}

impl Identity {
    /// A PEM certificate chain and its PEM private key in two files (kazoo's `certfile` and
    /// `keyfile`), the key encrypted (PKCS#8) with `key_password` or not at all.
    pub fn from_pem_files(
        cert_file: &Path,
        key_file: &Path,
        key_password: &str,
    ) -> Result<Identity, StoreError> {
        let read = |path: &Path, what: &'static str| {
            std::fs::read(path).map_err(|e| StoreError {
                what,
                path: path.to_owned(),
                reason: e.to_string(),
            })
        };
        let fail = |path: &Path, what: &'static str| {
            let path = path.to_owned();
            move |reason: String| StoreError { what, path, reason }
        };
        const CERT: &str = "certificate file";
        const KEY: &str = "private key file";
        let chain = pem_certs(&read(cert_file, CERT)?).map_err(fail(cert_file, CERT))?;
        if chain.is_empty() {
            return Err(fail(cert_file, CERT)("no certificate".into()));
        }
        let key = pem_key(&read(key_file, KEY)?, key_password).map_err(fail(key_file, KEY))?;
        Ok(Identity { chain, key })
    }
}

/// The private key in PEM `data`: plain (PKCS#8, PKCS#1 RSA, SEC1 EC) or encrypted PKCS#8.
fn pem_key(data: &[u8], password: &str) -> Result<PrivateKeyDer<'static>, String> {
    if encrypted_key::is_encrypted(data) {
        let pkcs8 = encrypted_key::decrypt(data, password)?;
        return Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pkcs8)));
    }
    PrivateKeyDer::from_pem_slice(data).map_err(|e| match e {
        pem::Error::NoItemsFound => "no private key in the file".into(),
        e => format!("bad PEM: {e}"),
    })
}

fn pem_certs(data: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    CertificateDer::pem_slice_iter(data)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("bad PEM: {e}"))
}

fn pkcs12_reason(e: &p12_keystore::error::Error) -> String {
    let text = e.to_string();
    if text.to_ascii_lowercase().contains("mac") {
        format!("keystore password was incorrect or the file is damaged ({text})")
    } else {
        format!("not a readable PKCS12 file or wrong password ({text})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_from_names_and_values() {
        assert_eq!(StoreType::parse("pkcs12"), Some(StoreType::Pkcs12));
        assert_eq!(StoreType::parse(" JKS "), Some(StoreType::Jks));
        assert_eq!(StoreType::parse("bcfks"), None);
        let of = |name: &str| StoreType::from_file_name(Path::new(name));
        assert_eq!(of("/a/server.P12"), Some(StoreType::Pkcs12));
        assert_eq!(of("x.pfx"), Some(StoreType::Pkcs12));
        assert_eq!(of("x.jks"), Some(StoreType::Jks));
        assert_eq!(of("x.pem"), Some(StoreType::Pem));
        assert_eq!(of("x.keystore"), None);
    }

    #[test]
    fn errors_name_the_file() {
        let spec = StoreSpec {
            location: "/nonexistent/keys.p12".into(),
            password: String::new(),
            store_type: None,
        };
        let err = spec.load_identity().unwrap_err();
        assert!(err.to_string().contains("/nonexistent/keys.p12"), "{err}");
        let spec = StoreSpec {
            location: "/nonexistent/keys.store".into(),
            ..spec
        };
        let err = spec.load_trust().unwrap_err().to_string();
        assert!(err.contains("keys.store") && err.contains(".type"), "{err}");
    }
}
