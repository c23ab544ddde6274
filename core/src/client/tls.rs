//! TLS on the client's connection (a server's `secureClientPort`), with rustls driven by
//! hand rather than through a TLS stream type: the connection's [`rustls::ClientConnection`]
//! lives with the session machine (see `driver.rs`), so a caller seals and writes its own
//! request exactly as it writes a plaintext one, and whoever reads (the connection task, or
//! a caller waiting on the socket) unseals what it reads.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::BytesMut;
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, RootCertStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::error::Error;
use super::socket::{ReadOutcome, Socket};
use crate::keystore::{Identity, StoreError, StoreSpec, StoreType};
use crate::tls_names::AnyName;

/// How the client speaks TLS to the servers (Apache's client: `zookeeper.client.secure`
/// with `zookeeper.ssl.trustStore.*` and `zookeeper.ssl.keyStore.*`). Stores are PEM,
/// PKCS12 or JKS, as the server's (`crate::keystore`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOptions {
    /// The authorities that sign the servers' certificates: a PEM file of CA certificates
    /// (the default when the type is not set and the name does not say: `ca.crt`), or a
    /// PKCS12/JKS trust store with its password.
    pub trust_store: StoreSpec,
    /// This client's certificate and key, for servers that ask for one (`ssl.clientAuth`);
    /// also what the server's `x509` ACLs see.
    pub identity: Option<ClientIdentity>,
    /// Check that the server's certificate names the host connected to (Apache's
    /// `zookeeper.ssl.hostnameVerification`, default on). Off, the certificate must still be
    /// signed by a trusted authority.
    pub verify_hostname: bool,
}

/// Where the client's certificate and private key are.
#[derive(Clone, PartialEq, Eq)]
pub enum ClientIdentity {
    /// A PEM certificate chain and a PEM private key in two files (kazoo's `certfile` and
    /// `keyfile`); the key may be encrypted (PKCS#8) with `key_password`.
    PemFiles {
        cert_file: PathBuf,
        key_file: PathBuf,
        key_password: String,
    },
    /// A key store holding both (Apache's `zookeeper.ssl.keyStore.*`): PEM (key and chain in
    /// one file), PKCS12 or JKS.
    Store(StoreSpec),
}

impl std::fmt::Debug for ClientIdentity {
    // Passwords stay out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientIdentity::PemFiles {
                cert_file,
                key_file,
                ..
            } => f
                .debug_struct("PemFiles")
                .field("cert_file", cert_file)
                .field("key_file", key_file)
                .finish_non_exhaustive(),
            ClientIdentity::Store(spec) => f
                .debug_struct("Store")
                .field("location", &spec.location)
                .field("store_type", &spec.store_type)
                .finish_non_exhaustive(),
        }
    }
}

impl TlsOptions {
    /// TLS with servers' certificates checked against the authorities in `ca_file` (PEM, or
    /// a PKCS12/JKS store without a password, by its name) and their names against the
    /// hosts connected to; no client certificate.
    pub fn new(ca_file: impl Into<PathBuf>) -> TlsOptions {
        TlsOptions {
            trust_store: StoreSpec {
                location: ca_file.into(),
                password: String::new(),
                store_type: None,
            },
            identity: None,
            verify_hostname: true,
        }
    }

    /// TLS with the authorities of a trust store of the given type (`None`: from the file
    /// name, else PEM) opened with `password`.
    pub fn with_trust_store(
        location: impl Into<PathBuf>,
        store_type: Option<StoreType>,
        password: impl Into<String>,
    ) -> TlsOptions {
        let mut options = TlsOptions::new(location);
        options.trust_store.store_type = store_type;
        options.trust_store.password = password.into();
        options
    }

    /// Presents this PEM certificate chain and PEM key when a server asks for one.
    pub fn client_cert(
        mut self,
        cert_file: impl Into<PathBuf>,
        key_file: impl Into<PathBuf>,
    ) -> Self {
        self.identity = Some(ClientIdentity::PemFiles {
            cert_file: cert_file.into(),
            key_file: key_file.into(),
            key_password: String::new(),
        });
        self
    }

    /// [`client_cert`](Self::client_cert) from optional files, as bindings receive them:
    /// both or neither, else [`Error::BadArguments`].
    pub fn client_cert_files<P: Into<PathBuf>>(
        self,
        cert_file: Option<P>,
        key_file: Option<P>,
    ) -> Result<Self, Error> {
        match (cert_file, key_file) {
            (Some(cert_file), Some(key_file)) => Ok(self.client_cert(cert_file, key_file)),
            (None, None) => Ok(self),
            _ => Err(Error::BadArguments(
                "TLS: a client certificate needs both its certificate and its key file".into(),
            )),
        }
    }

    /// The password of an encrypted client key (PEM files) or of the key store.
    pub fn key_password(mut self, password: impl Into<String>) -> Self {
        match &mut self.identity {
            Some(ClientIdentity::PemFiles { key_password, .. }) => *key_password = password.into(),
            Some(ClientIdentity::Store(spec)) => spec.password = password.into(),
            None => {}
        }
        self
    }

    /// Presents the certificate and key of a key store (type `None`: from the file name,
    /// else PEM) when a server asks for one.
    pub fn key_store(
        mut self,
        location: impl Into<PathBuf>,
        store_type: Option<StoreType>,
        password: impl Into<String>,
    ) -> Self {
        self.identity = Some(ClientIdentity::Store(StoreSpec {
            location: location.into(),
            password: password.into(),
            store_type,
        }));
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
        let trust = pem_unless_named(&self.trust_store);
        let mut roots = RootCertStore::empty();
        for cert in trust.load_trust().map_err(bad_store)? {
            roots
                .add(cert)
                .map_err(|e| bad_file(&trust.location, &e.to_string()))?;
        }
        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| bad_file(&trust.location, &e.to_string()))?;
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
        let (identity, source) = match &self.identity {
            None => return Ok(Arc::new(builder.with_no_client_auth())),
            Some(ClientIdentity::PemFiles {
                cert_file,
                key_file,
                key_password,
            }) => (
                Identity::from_pem_files(cert_file, key_file, key_password),
                key_file,
            ),
            Some(ClientIdentity::Store(spec)) => {
                let spec = pem_unless_named(spec);
                (spec.load_identity(), &spec.location.clone())
            }
        };
        let identity = identity.map_err(bad_store)?;
        let config = builder
            .with_client_auth_cert(identity.chain, identity.key)
            .map_err(|e| bad_file(source, &e.to_string()))?;
        Ok(Arc::new(config))
    }
}

/// `spec` with its type PEM when neither it nor the file name says otherwise.
fn pem_unless_named(spec: &StoreSpec) -> StoreSpec {
    let mut spec = spec.clone();
    if spec.store_type.is_none() && StoreType::from_file_name(&spec.location).is_none() {
        spec.store_type = Some(StoreType::Pem);
    }
    spec
}

fn bad_store(error: StoreError) -> Error {
    Error::BadArguments(format!("TLS: {error}"))
}

fn bad_file(path: &Path, problem: &str) -> Error {
    Error::BadArguments(format!("TLS: {}: {problem}", path.display()))
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
    pub fn write_to(&mut self, socket: &Socket) -> io::Result<bool> {
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

    /// Reads what the socket has and unseals it into `inbound`.
    pub fn read_from(&mut self, socket: &Socket, inbound: &mut BytesMut) -> ReadOutcome {
        match self.connection.read_tls(&mut NonBlocking(socket)) {
            Ok(0) => return ReadOutcome::Closed,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return ReadOutcome::Drained,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return ReadOutcome::More,
            Err(_) => return ReadOutcome::Closed,
        }
        if let Err(e) = self.connection.process_new_packets() {
            tracing::warn!("TLS error from the server: {e}");
            return ReadOutcome::Closed;
        }
        match self.unseal(inbound) {
            Ok(true) => ReadOutcome::More,
            _ => ReadOutcome::Closed,
        }
    }
}

/// The connection's socket as a non-blocking `std::io` reader and writer.
struct NonBlocking<'a>(&'a Socket);

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
