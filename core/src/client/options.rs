//! How a client connects.

use std::time::Duration;

use super::sasl::SaslOptions;
use super::tls::TlsOptions;

/// Client settings; `Default` gives Apache's defaults.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Requested session timeout; the server clamps it into its min/max.
    pub session_timeout: Duration,
    /// How long each connect attempt waits for the server's answer. `None`: 2 s at first,
    /// doubled after every round in which an attempt went unanswered, up to the session
    /// timeout / number of hosts (Apache's fixed wait), so a server that accepts but never
    /// answers cannot hold a reconnecting session until it expires.
    pub connect_timeout: Option<Duration>,
    /// Fail a request with [`Error::Timeout`](super::Error::Timeout) after this long;
    /// `None` waits as long as the session lives.
    pub request_timeout: Option<Duration>,
    /// Accept a read-only server (`canBeReadOnly`).
    pub can_be_read_only: bool,
    /// Resume this session (id, password) instead of creating one.
    pub session: Option<(i64, Vec<u8>)>,
    /// Credentials sent on every (re)connect, as `addauth` would: `(scheme, auth)`.
    pub auth: Vec<(String, Vec<u8>)>,
    /// Largest frame accepted and sent (`jute.maxbuffer`).
    pub max_buffer: usize,
    /// Events a persistent watch buffers before reporting overflow.
    pub watch_queue: usize,
    /// Speak TLS to the servers (their `secureClientPort`); `None`: plaintext.
    pub tls: Option<TlsOptions>,
    /// Authenticate with SASL DIGEST-MD5 on every connection, before anything else is sent
    /// (see [`SaslOptions`]); `None`: no SASL.
    pub sasl: Option<SaslOptions>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            session_timeout: Duration::from_secs(30),
            connect_timeout: None,
            request_timeout: None,
            can_be_read_only: false,
            session: None,
            auth: Vec::new(),
            max_buffer: crate::proto::DEFAULT_MAX_BUFFER,
            watch_queue: 1024,
            tls: None,
            sasl: None,
        }
    }
}

impl ClientOptions {
    pub fn session_timeout(mut self, timeout: Duration) -> Self {
        self.session_timeout = timeout;
        self
    }

    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }

    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    pub fn auth(mut self, scheme: &str, auth: &[u8]) -> Self {
        self.auth.push((scheme.to_owned(), auth.to_vec()));
        self
    }

    pub fn resume(mut self, session_id: i64, password: Vec<u8>) -> Self {
        self.session = Some((session_id, password));
        self
    }

    pub fn tls(mut self, tls: TlsOptions) -> Self {
        self.tls = Some(tls);
        self
    }

    pub fn sasl(mut self, sasl: SaslOptions) -> Self {
        self.sasl = Some(sasl);
        self
    }

    pub fn read_only(mut self, allowed: bool) -> Self {
        self.can_be_read_only = allowed;
        self
    }
}
