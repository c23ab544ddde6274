//! TLS between ensemble members (`sslQuorum`, `ssl.quorum.*`): every member both accepts
//! members (a rustls `ServerConfig` that asks for their certificate, `ssl.quorum.clientAuth`
//! defaulting to `need` as in Apache) and dials them (a `ClientConfig` that presents this
//! member's certificate), from the same key and trust stores.
//!
//! With `ssl.quorum.hostnameVerification` (Apache's default, true) the dialing side checks
//! that the peer's certificate names the host of its `server.N` line (an IP address or a DNS
//! name in the subject alternative names), and the accepting side that the certificate of a
//! member that connected names the address it connected from or the host of a `server.N`
//! at that address.
//!
//! Servers send no TLS 1.3 session tickets: a member's idle link is checked for a close
//! before each request by looking for readable bytes, and the peer never sends unasked.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::verify_server_name;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::server::ParsedCertificate;

use super::reload::{Rebuild, Reloading};
use super::{TlsError, TlsSettings};

/// What `ssl.quorum.*` resolve to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerTlsSettings {
    pub tls: TlsSettings,
    /// `ssl.quorum.hostnameVerification` (true).
    pub hostname_verification: bool,
}

/// The two configs of a member: to accept members, and to dial them.
pub struct PeerConfigs {
    accept: Arc<rustls::ServerConfig>,
    dial: Arc<rustls::ClientConfig>,
}

impl Rebuild for PeerConfigs {
    type Settings = PeerTlsSettings;
    const WHAT: &'static str = "the quorum's TLS key and trust stores";

    fn build(settings: &PeerTlsSettings) -> Result<Arc<Self>, TlsError> {
        let mut accept = settings.tls.build_server_config()?;
        accept.send_tls13_tickets = 0;
        let mut dial = settings
            .tls
            .build_client_config(settings.hostname_verification)?;
        dial.resumption = rustls::client::Resumption::disabled();
        Ok(Arc::new(PeerConfigs {
            accept: Arc::new(accept),
            dial: Arc::new(dial),
        }))
    }

    fn files(settings: &PeerTlsSettings) -> Vec<PathBuf> {
        settings.tls.watched_files()
    }
}

/// The quorum's TLS configs, rebuilt on store changes with `sslQuorumReloadCertFiles`.
pub type PeerTls = Reloading<PeerConfigs>;

impl PeerTls {
    /// Accepts a member with the current config.
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.current().accept.clone())
    }

    /// Dials a member with the current config.
    pub fn connector(&self) -> tokio_rustls::TlsConnector {
        tokio_rustls::TlsConnector::from(self.current().dial.clone())
    }

    pub fn hostname_verification(&self) -> bool {
        self.settings().hostname_verification
    }
}

/// The name a dialing member expects in the certificate of the peer at `host` (an IP
/// address or a DNS name, as its `server.N` line has it).
pub fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_owned()).map_err(|e| format!("{host}: {e}"))
}

/// Whether a verified certificate names `ip`, or one of `hosts` (the `server.N` hosts at
/// that address).
pub fn names_peer(cert: &CertificateDer<'_>, ip: IpAddr, hosts: &[String]) -> bool {
    let Ok(parsed) = ParsedCertificate::try_from(cert) else {
        return false;
    };
    let by_address = ServerName::IpAddress(ip.to_canonical().into());
    verify_server_name(&parsed, &by_address).is_ok()
        || hosts.iter().any(|host| {
            server_name(host).is_ok_and(|name| verify_server_name(&parsed, &name).is_ok())
        })
}
