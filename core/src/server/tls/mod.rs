//! TLS on the client port: `secureClientPort` (a listener that speaks only TLS) and
//! `client.portUnification` (the plaintext port also takes TLS, told apart by the first
//! byte, 0x16 for a TLS handshake record), with Apache's `ssl.*` keys; and between ensemble
//! members (`sslQuorum`, `ssl.quorum.*`), where both sides present certificates.
//!
//! # Layout
//!
//! - this file: [`TlsSettings`] (what `ssl.*` or `ssl.quorum.*` resolve to), building the
//!   rustls `ServerConfig`, [`TlsAcceptor`] (the client port's current config), and the ids
//!   a client certificate proves ([`peer_ids`]).
//! - `reload`: [`Reloading`], a config rebuilt when its store files change.
//! - `peer`: the quorum's pair of configs, one to accept members and one to dial them,
//!   and the check that a member's certificate names its address.
//! - key and trust stores (PEM, PKCS12, JKS) are read by `crate::keystore`, shared with
//!   the client.
//! - `dn`: a certificate subject in RFC 2253 form, the `x509` scheme's id.
//!
//! The connection layer (`conn`) takes a TLS stream split into halves exactly as it takes a
//! plain `TcpStream`: it is generic over the halves, so the plaintext path is the same code
//! as before, and every TLS error (handshake, record, close) ends only that connection.
//!
//! # Reload
//!
//! [`Reloading::watch`] looks at the store files' size and modification time every
//! [`RELOAD_POLL`]; when one changed it rebuilds the config, and new connections use it.
//! Connections already open keep theirs. A file that does not load (half written, wrong
//! password) keeps the old config, is logged, and is tried again on the next change.

pub mod dn;
pub mod peer;
mod reload;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::crypto::ring as provider;
use rustls::server::{ServerConnection, WebPkiClientVerifier};
use rustls::{RootCertStore, SupportedCipherSuite, SupportedProtocolVersion};

pub use crate::keystore::{StoreError, StoreSpec, StoreType};
use crate::proto::Id;
use crate::tls_names::AnyName;
pub use reload::{Rebuild, Reloading};

/// How often the store files are checked for changes.
pub const RELOAD_POLL: Duration = Duration::from_secs(2);

/// The first byte of a TLS record carrying a handshake: how port unification tells TLS.
pub const TLS_HANDSHAKE_BYTE: u8 = 0x16;

/// `ssl.clientAuth`: whether a client must present a certificate (Apache's default `need`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    #[default]
    Need,
    Want,
    None,
}

impl ClientAuth {
    /// Apache's values, case-insensitive.
    pub fn parse(value: &str) -> Option<ClientAuth> {
        match value.trim().to_ascii_lowercase().as_str() {
            "need" => Some(ClientAuth::Need),
            "want" => Some(ClientAuth::Want),
            "none" => Some(ClientAuth::None),
            _ => None,
        }
    }
}

/// A TLS version rustls speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    V1_2,
    V1_3,
}

impl TlsVersion {
    /// `TLSv1.2` / `TLSv1.3`; `Err` holds why another name cannot be served.
    pub fn parse(name: &str) -> Result<TlsVersion, String> {
        match name.trim() {
            "TLSv1.2" => Ok(TlsVersion::V1_2),
            "TLSv1.3" => Ok(TlsVersion::V1_3),
            n @ ("TLSv1" | "TLSv1.1" | "SSLv3" | "SSLv2Hello") => Err(format!(
                "{n} is not supported by zk (rustls speaks TLSv1.2 and TLSv1.3)"
            )),
            n => Err(format!("unknown protocol \"{n}\" (TLSv1.2 or TLSv1.3)")),
        }
    }

    /// What `ssl.protocol` enables when `ssl.enabledProtocols` is unset: `TLSv1.3` (and
    /// the generic `TLS`) enables 1.3 and 1.2, as Apache does; `TLSv1.2` only 1.2.
    pub fn from_protocol(name: &str) -> Result<Vec<TlsVersion>, String> {
        match name.trim() {
            "TLS" | "TLSv1.3" => Ok(vec![TlsVersion::V1_3, TlsVersion::V1_2]),
            other => TlsVersion::parse(other).map(|v| vec![v]),
        }
    }

    fn rustls(self) -> &'static SupportedProtocolVersion {
        match self {
            TlsVersion::V1_2 => &rustls::version::TLS12,
            TlsVersion::V1_3 => &rustls::version::TLS13,
        }
    }
}

/// The IANA name of a cipher suite rustls supports (`TLS_AES_128_GCM_SHA256`,
/// `TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`, ...), the names Java's `ssl.ciphersuites` uses.
pub fn iana_name(suite: &SupportedCipherSuite) -> Option<String> {
    let name = suite.suite().as_str()?;
    Some(match name.strip_prefix("TLS13_") {
        Some(rest) => format!("TLS_{rest}"),
        None => name.to_owned(),
    })
}

/// The suite named `name` (IANA), if rustls supports it.
pub fn cipher_suite(name: &str) -> Option<SupportedCipherSuite> {
    provider::ALL_CIPHER_SUITES
        .iter()
        .find(|s| iana_name(s).as_deref() == Some(name.trim()))
        .copied()
}

/// What the client-port TLS is configured with, resolved from `ssl.*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// `ssl.keyStore.*`: the server's certificate and key.
    pub key_store: StoreSpec,
    /// `ssl.trustStore.*`: the CAs client certificates must chain to.
    pub trust_store: Option<StoreSpec>,
    pub client_auth: ClientAuth,
    /// Enabled versions, newest first; empty = both.
    pub protocols: Vec<TlsVersion>,
    /// `ssl.ciphersuites` names rustls supports, in preference order; empty = rustls' defaults.
    pub cipher_suites: Vec<String>,
    /// `X509AuthenticationProvider.superUser`: the subject that is also `super`.
    pub super_user: Option<String>,
}

/// Why TLS could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("ssl.trustStore.location is required with ssl.clientAuth=need or want")]
    NoTrustStore,
    #[error("cannot use the trust store {path}: {reason}")]
    Trust { path: PathBuf, reason: String },
    #[error("cannot use the key store {path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("TLS settings: {0}")]
    Settings(String),
}

impl TlsSettings {
    /// Loads the stores and builds the rustls config.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        self.build_server_config().map(Arc::new)
    }

    /// The crypto provider with the configured cipher suites.
    fn provider(&self) -> Arc<rustls::crypto::CryptoProvider> {
        let mut provider = provider::default_provider();
        if !self.cipher_suites.is_empty() {
            provider.cipher_suites = self
                .cipher_suites
                .iter()
                .filter_map(|name| cipher_suite(name))
                .collect();
        }
        Arc::new(provider)
    }

    /// The enabled protocol versions, newest first.
    fn versions(&self) -> Vec<&'static SupportedProtocolVersion> {
        if self.protocols.is_empty() {
            vec![&rustls::version::TLS13, &rustls::version::TLS12]
        } else {
            self.protocols.iter().map(|v| v.rustls()).collect()
        }
    }

    /// The CA certificates of the trust store, as rustls roots.
    fn roots(&self, spec: &StoreSpec) -> Result<RootCertStore, TlsError> {
        let mut roots = RootCertStore::empty();
        for cert in spec.load_trust()? {
            roots.add(cert).map_err(|e| TlsError::Trust {
                path: spec.location.clone(),
                reason: e.to_string(),
            })?;
        }
        Ok(roots)
    }

    pub(crate) fn build_server_config(&self) -> Result<rustls::ServerConfig, TlsError> {
        let provider = self.provider();
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&self.versions())
            .map_err(|e| {
                TlsError::Settings(format!("ssl.ciphersuites and ssl.enabledProtocols: {e}"))
            })?;
        let builder = match (self.client_auth, &self.trust_store) {
            (ClientAuth::None, _) => builder.with_no_client_auth(),
            (_, None) => return Err(TlsError::NoTrustStore),
            (auth, Some(spec)) => {
                let roots = self.roots(spec)?;
                let mut verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
                if auth == ClientAuth::Want {
                    verifier = verifier.allow_unauthenticated();
                }
                let verifier = verifier.build().map_err(|e| TlsError::Trust {
                    path: spec.location.clone(),
                    reason: e.to_string(),
                })?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let identity = self.key_store.load_identity()?;
        builder
            .with_single_cert(identity.chain, identity.key)
            .map_err(|e| TlsError::Key {
                path: self.key_store.location.clone(),
                reason: e.to_string(),
            })
    }

    /// The config of a dialing side that presents the key store's certificate and verifies
    /// the other side's against the trust store (by name too, with `verify_names`).
    pub(crate) fn build_client_config(
        &self,
        verify_names: bool,
    ) -> Result<rustls::ClientConfig, TlsError> {
        let Some(spec) = &self.trust_store else {
            return Err(TlsError::NoTrustStore);
        };
        let provider = self.provider();
        let verifier = WebPkiServerVerifier::builder_with_provider(
            Arc::new(self.roots(spec)?),
            provider.clone(),
        )
        .build()
        .map_err(|e| TlsError::Trust {
            path: spec.location.clone(),
            reason: e.to_string(),
        })?;
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&self.versions())
            .map_err(|e| {
                TlsError::Settings(format!("ssl.ciphersuites and ssl.enabledProtocols: {e}"))
            })?;
        let builder = if verify_names {
            builder.with_webpki_verifier(verifier)
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyName::new(verifier, provider)))
        };
        let identity = self.key_store.load_identity()?;
        builder
            .with_client_auth_cert(identity.chain, identity.key)
            .map_err(|e| TlsError::Key {
                path: self.key_store.location.clone(),
                reason: e.to_string(),
            })
    }

    pub(crate) fn watched_files(&self) -> Vec<PathBuf> {
        let mut files = vec![self.key_store.location.clone()];
        files.extend(self.trust_store.iter().map(|t| t.location.clone()));
        files
    }
}

/// The ids a finished handshake proves: `x509:<subject>` for a verified client
/// certificate, and `super` too when the subject is `X509AuthenticationProvider.superUser`.
pub fn peer_ids(conn: &ServerConnection, super_user: Option<&str>) -> Vec<Id> {
    let Some(leaf) = conn.peer_certificates().and_then(|c| c.first()) else {
        return Vec::new();
    };
    let Some(subject) = dn::subject_of(leaf) else {
        return Vec::new();
    };
    let mut ids = Vec::with_capacity(2);
    if super_user == Some(subject.as_str()) {
        ids.push(Id {
            scheme: "super".into(),
            id: subject.clone(),
        });
    }
    ids.push(Id {
        scheme: "x509".into(),
        id: subject,
    });
    ids
}

/// The rustls config the client port's new connections get, rebuilt when the store files
/// change.
pub type TlsAcceptor = Reloading<rustls::ServerConfig>;

impl Rebuild for rustls::ServerConfig {
    type Settings = TlsSettings;
    const WHAT: &'static str = "the client port's TLS key and trust stores";

    fn build(settings: &TlsSettings) -> Result<Arc<Self>, TlsError> {
        settings.server_config()
    }

    fn files(settings: &TlsSettings) -> Vec<PathBuf> {
        settings.watched_files()
    }
}

impl TlsAcceptor {
    /// An acceptor with the current config.
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.current())
    }
}
