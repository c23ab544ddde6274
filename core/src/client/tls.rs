//! TLS on the client's connection (a server's `secureClientPort`), with rustls driven by
//! hand rather than through a TLS stream type: the connection's [`rustls::ClientConnection`]
//! lives with the session machine (see `driver.rs`), so a caller seals and writes its own
//! request exactly as it writes a plaintext one, and the connection task unseals what it
//! reads.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::BytesMut;
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::error::Error;
use crate::tls_names::AnyName;

/// How the client speaks TLS to the servers (Apache's client: `zookeeper.client.secure`
/// with `zookeeper.ssl.trustStore.*` and `zookeeper.ssl.keyStore.*`). Files are PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOptions {
    /// The certificates (PEM) of the authorities that sign the servers' certificates.
    pub ca_file: PathBuf,
    /// This client's certificate chain (PEM), for servers that ask for one (`ssl.clientAuth`);
    /// also what the server's `x509` ACLs see.
    pub cert_file: Option<PathBuf>,
    /// The private key (PEM) of `cert_file`.
    pub key_file: Option<PathBuf>,
    /// Check that the server's certificate names the host connected to (Apache's
    /// `zookeeper.ssl.hostnameVerification`, default on). Off, the certificate must still be
    /// signed by an authority in `ca_file`.
    pub verify_hostname: bool,
}

impl TlsOptions {
    /// TLS with servers' certificates checked against the authorities in `ca_file` and
    /// their names against the hosts connected to; no client certificate.
    pub fn new(ca_file: impl Into<PathBuf>) -> TlsOptions {
        TlsOptions {
            ca_file: ca_file.into(),
            cert_file: None,
            key_file: None,
            verify_hostname: true,
        }
    }

    /// Presents this certificate chain and key when a server asks for one.
    pub fn client_cert(
        mut self,
        cert_file: impl Into<PathBuf>,
        key_file: impl Into<PathBuf>,
    ) -> Self {
        self.cert_file = Some(cert_file.into());
        self.key_file = Some(key_file.into());
        self
    }

    /// Turns the host name check on or off (the authority check stays).
    pub fn verify_hostname(mut self, verify: bool) -> Self {
        self.verify_hostname = verify;
        self
    }

    /// Reads the files as a connection would: an unreadable or unusable one is a
    /// [`Error::BadArguments`] that names it.
    pub fn validate(&self) -> Result<(), Error> {
        self.config().map(drop)
    }

    /// Reads the files into a rustls configuration; an unreadable or unusable file is a
    /// [`Error::BadArguments`] that names it.
    pub(crate) fn config(&self) -> Result<Arc<ClientConfig>, Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        for cert in read_certs(&self.ca_file)? {
            roots
                .add(cert)
                .map_err(|e| bad_file(&self.ca_file, &e.to_string()))?;
        }
        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| bad_file(&self.ca_file, &e.to_string()))?;
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::BadArguments(format!("TLS: {e}")))?;
        let builder = if self.verify_hostname {
            builder.with_webpki_verifier(verifier)
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyName::new(verifier, provider)))
        };
        let config = match (&self.cert_file, &self.key_file) {
            (Some(cert_file), Some(key_file)) => {
                let key = PrivateKeyDer::from_pem_file(key_file)
                    .map_err(|e| bad_file(key_file, &e.to_string()))?;
                builder
                    .with_client_auth_cert(read_certs(cert_file)?, key)
                    .map_err(|e| bad_file(key_file, &e.to_string()))?
            }
            (None, None) => builder.with_no_client_auth(),
            _ => {
                return Err(Error::BadArguments(
                    "TLS: a client certificate needs both its certificate and its key file".into(),
                ))
            }
        };
        Ok(Arc::new(config))
    }
}

fn bad_file(path: &Path, problem: &str) -> Error {
    Error::BadArguments(format!("TLS: {}: {problem}", path.display()))
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| bad_file(path, &e.to_string()))?;
    if certs.is_empty() {
        return Err(bad_file(path, "no certificate in the file"));
    }
    Ok(certs)
}

/// One connection's TLS state.
pub(crate) struct Tls {
    connection: ClientConnection,
}

fn tls_error(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

impl Tls {
    /// Runs the TLS handshake on a fresh connection to `host`.
    pub async fn connect(
        config: &Arc<ClientConfig>,
        host: &str,
        stream: &mut TcpStream,
    ) -> io::Result<Tls> {
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let mut tls = Tls {
            connection: ClientConnection::new(config.clone(), name).map_err(tls_error)?,
        };
        while tls.connection.is_handshaking() {
            tls.send_pending(stream).await?;
            if tls.connection.is_handshaking() {
                tls.receive(stream).await?;
            }
        }
        tls.send_pending(stream).await?;
        Ok(tls)
    }

    /// Seals `plaintext` and writes it, waiting for the socket (handshake time only).
    pub async fn send(&mut self, stream: &mut TcpStream, plaintext: &[u8]) -> io::Result<()> {
        self.connection.writer().write_all(plaintext)?;
        self.send_pending(stream).await
    }

    async fn send_pending(&mut self, stream: &mut TcpStream) -> io::Result<()> {
        let mut sealed = Vec::new();
        while self.connection.wants_write() {
            self.connection.write_tls(&mut sealed)?;
        }
        stream.write_all(&sealed).await
    }

    /// Waits for records and unseals them into `inbound` (handshake time only); false at
    /// the end of the stream.
    pub async fn receive_into(
        &mut self,
        stream: &mut TcpStream,
        inbound: &mut BytesMut,
    ) -> io::Result<bool> {
        loop {
            if !self.unseal(inbound)? {
                return Ok(false);
            }
            if !inbound.is_empty() {
                return Ok(true);
            }
            if !self.receive(stream).await? {
                return Ok(false);
            }
        }
    }

    async fn receive(&mut self, stream: &mut TcpStream) -> io::Result<bool> {
        let mut chunk = [0u8; 16 * 1024];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let mut records = &chunk[..n];
        while !records.is_empty() {
            self.connection.read_tls(&mut records)?;
            self.connection.process_new_packets().map_err(tls_error)?;
        }
        Ok(true)
    }

    /// Moves the plaintext rustls holds into `inbound`; false once the server closed the
    /// TLS session.
    fn unseal(&mut self, inbound: &mut BytesMut) -> io::Result<bool> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match self.connection.reader().read(&mut chunk) {
                Ok(0) => return Ok(false),
                Ok(n) => inbound.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                Err(e) => return Err(e),
            }
        }
    }

    /// Seals as much of `plaintext` as rustls buffers (it bounds what waits for the
    /// socket) for [`Self::write_to`]; returns how much.
    pub fn seal_some(&mut self, plaintext: &[u8]) -> io::Result<usize> {
        self.connection.writer().write(plaintext)
    }

    /// Writes sealed records as far as the socket takes them now; false if it is full.
    pub fn write_to(&mut self, socket: &TcpStream) -> io::Result<bool> {
        while self.connection.wants_write() {
            match self.connection.write_tls(&mut NonBlocking(socket)) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Sealed records wait for the socket.
    pub fn wants_write(&self) -> bool {
        self.connection.wants_write()
    }

    /// Reads what the socket has and unseals it into `inbound`; false when the connection
    /// is over (closed, or a TLS error).
    pub fn read_from(&mut self, socket: &TcpStream, inbound: &mut BytesMut) -> bool {
        match self.connection.read_tls(&mut NonBlocking(socket)) {
            Ok(0) => return false,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(_) => return false,
        }
        if let Err(e) = self.connection.process_new_packets() {
            tracing::warn!("TLS error from the server: {e}");
            return false;
        }
        matches!(self.unseal(inbound), Ok(true))
    }
}

/// A tokio socket as a non-blocking `std::io` reader and writer.
struct NonBlocking<'a>(&'a TcpStream);

impl Read for NonBlocking<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.try_read(buf)
    }
}

impl Write for NonBlocking<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.try_write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
