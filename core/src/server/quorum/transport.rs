//! What a connection between members goes through before its first request: TLS, when
//! `sslQuorum` or `portUnification` asks for it (Apache's keys, `ssl.quorum.*` stores), then
//! quorum SASL when `quorum.auth.enableSasl` does (the exchange is `peer_auth`'s; the
//! dialing side runs it here, the accepting side in its request loop, `listener`).
//!
//! - The dialing side speaks TLS when this member has `sslQuorum=true`, plaintext otherwise.
//! - The accepting side looks at the first byte (a TLS handshake record starts with 0x16; a
//!   plaintext frame's first length byte never does, as no frame is that long): with
//!   `portUnification` it serves either; with only `sslQuorum` it refuses plaintext; with
//!   neither it refuses TLS. A refusal closes that connection alone and is logged once a
//!   minute per address, saying which setting differs.
//!
//! This is Apache's rolling upgrade: every member gets `portUnification=true` and its
//! stores, then `sslQuorum=true` one at a time (it dials TLS and still accepts both), then
//! `portUnification` is dropped.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsStream;

use super::peer_auth::{LearnerAuth, LearnerStep, ServerAuth};
use super::wire::{self, PeerRequest, PeerResponse};
use crate::server::options::QuorumSecurity;
use crate::server::refusals;
use crate::server::sasl::quorum::QuorumSaslOptions;
use crate::server::sasl::SaslOptions;
use crate::server::tls::peer::{self, PeerTls};
use crate::server::tls::{TlsError, RELOAD_POLL, TLS_HANDSHAKE_BYTE};

/// A connection between members, plain or TLS.
pub enum PeerStream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl PeerStream {
    /// The TCP connection underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            PeerStream::Plain(stream) => stream,
            PeerStream::Tls(stream) => stream.get_ref().0,
        }
    }
}

impl AsyncRead for PeerStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            PeerStream::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            PeerStream::Tls(stream) => Pin::new(stream.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for PeerStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            PeerStream::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            PeerStream::Tls(stream) => Pin::new(stream.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            PeerStream::Plain(stream) => Pin::new(stream).poll_flush(cx),
            PeerStream::Tls(stream) => Pin::new(stream.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            PeerStream::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            PeerStream::Tls(stream) => Pin::new(stream.as_mut()).poll_shutdown(cx),
        }
    }
}

/// What a connection's first byte says it speaks, and whether this member serves that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    Plain,
    Tls,
    /// Plaintext on a port that takes only TLS.
    PlainRefused,
    /// TLS on a port that takes only plaintext.
    TlsRefused,
}

/// What to do with a connection whose first byte is `first`, on a member with (`stores`) or
/// without the ssl.quorum stores loaded.
pub fn arrival(first: u8, stores: bool, ssl_quorum: bool, port_unification: bool) -> Arrival {
    let tls = first == TLS_HANDSHAKE_BYTE;
    let takes_tls = stores && (ssl_quorum || port_unification);
    let takes_plain = !ssl_quorum || port_unification;
    match (tls, takes_tls, takes_plain) {
        (true, true, _) => Arrival::Tls,
        (true, false, _) => Arrival::TlsRefused,
        (false, _, true) => Arrival::Plain,
        (false, _, false) => Arrival::PlainRefused,
    }
}

/// How this member secures its connections to the others.
pub struct Security {
    ssl_quorum: bool,
    port_unification: bool,
    tls: Option<Arc<PeerTls>>,
    sasl: Option<QuorumSaslOptions>,
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Security")
            .field("ssl_quorum", &self.ssl_quorum)
            .field("port_unification", &self.port_unification)
            .field("tls", &self.tls.is_some())
            .field("sasl", &self.sasl)
            .finish()
    }
}

impl Security {
    /// Loads the stores; an error stops the member from starting. With
    /// `sslQuorumReloadCertFiles` the stores are watched for changes from then on.
    pub fn new(options: &QuorumSecurity) -> Result<Security, TlsError> {
        let tls = match &options.tls {
            Some(settings) => Some(Arc::new(PeerTls::new(settings.clone())?)),
            None => None,
        };
        if let (Some(tls), true) = (&tls, options.reload_cert_files) {
            tokio::spawn(tls.clone().watch(RELOAD_POLL, std::future::pending()));
        }
        if options.ssl_quorum || options.port_unification {
            tracing::info!(
                "quorum TLS: dialing members over {}, accepting {}",
                if options.ssl_quorum {
                    "TLS"
                } else {
                    "plaintext"
                },
                match (options.ssl_quorum, options.port_unification) {
                    (_, true) => "TLS and plaintext (portUnification)",
                    (true, false) => "TLS only",
                    (false, false) => "plaintext only",
                }
            );
        }
        if let Some(sasl) = &options.sasl {
            tracing::info!(
                "quorum SASL (DIGEST-MD5): authenticating to members as {:?}, members authenticate against section '{}' of {}{}{}",
                sasl.learner.username,
                sasl.server.section,
                sasl.server.source.display(),
                if sasl.learner_require { "; quorum.auth.learnerRequireSasl=true" } else { "" },
                if sasl.server_require { "; quorum.auth.serverRequireSasl=true" } else { "" },
            );
        }
        Ok(Security {
            ssl_quorum: options.ssl_quorum,
            port_unification: options.port_unification,
            tls,
            sasl: options.sasl.clone(),
        })
    }

    /// No TLS: the plaintext transport.
    #[cfg(test)]
    pub fn plaintext() -> Security {
        Security {
            ssl_quorum: false,
            port_unification: false,
            tls: None,
            sasl: None,
        }
    }

    /// A new accepted connection's quorum SASL state.
    pub fn server_auth(&self) -> ServerAuth {
        ServerAuth::new(self.sasl.as_ref().map(|sasl| sasl.server_require))
    }

    /// The users members authenticate as, when quorum SASL is on.
    pub fn sasl_users(&self) -> Option<&SaslOptions> {
        self.sasl.as_ref().map(|sasl| &sasl.server)
    }

    /// Authenticates this member on a connection it dialed to `addr`, when quorum SASL is
    /// on. An error (logged) ends the connection.
    pub async fn authenticate(&self, stream: &mut PeerStream, addr: &str) -> io::Result<()> {
        let Some(sasl) = &self.sasl else {
            return Ok(());
        };
        let mut learner = LearnerAuth::new(&sasl.learner, sasl.learner_require);
        let mut token = learner.start();
        loop {
            let body = wire::encode(&PeerRequest::Sasl(token), wire::RESPONSE_CAP)?;
            wire::write_body(stream, &body).await?;
            let answer = match wire::read_response(stream).await? {
                Some(PeerResponse::Sasl(answer)) => answer,
                Some(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "unexpected answer to a quorum SASL token",
                    ))
                }
                None => return Err(io::ErrorKind::UnexpectedEof.into()),
            };
            match learner.on_answer(answer) {
                LearnerStep::Send(next) => token = next,
                LearnerStep::Authenticated => return Ok(()),
                LearnerStep::Unauthenticated(why) => {
                    refusals::log_dial_refusal(
                        addr,
                        &format!("quorum SASL with the member at {addr}: {why}"),
                    );
                    return Ok(());
                }
                LearnerStep::Refuse(why) => {
                    refusals::log_dial_refusal(
                        addr,
                        &format!("quorum SASL with the member at {addr}: {why}; not talking to it"),
                    );
                    return Err(io::Error::new(io::ErrorKind::PermissionDenied, why));
                }
            }
        }
    }

    /// What to do with a connection whose first byte is `first`.
    pub fn arrival(&self, first: u8) -> Arrival {
        arrival(
            first,
            self.tls.is_some(),
            self.ssl_quorum,
            self.port_unification,
        )
    }

    /// Secures a connection this member dialed to the member at `host` (its `server.N`
    /// host; `addr` is `host:port`, for messages).
    pub async fn dialed(
        &self,
        stream: TcpStream,
        host: &str,
        addr: &str,
    ) -> io::Result<PeerStream> {
        let Some(tls) = self.tls.as_ref().filter(|_| self.ssl_quorum) else {
            return Ok(PeerStream::Plain(stream));
        };
        let name = peer::server_name(host).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("not a TLS server name: {e}"),
            )
        })?;
        match tls.connector().connect(name, stream).await {
            Ok(stream) => Ok(PeerStream::Tls(Box::new(TlsStream::Client(stream)))),
            Err(e) => {
                refusals::log_dial_refusal(
                    addr,
                    &format!(
                        "TLS handshake with the member at {addr} failed: {e} (it must have \
                         sslQuorum or portUnification set, and a certificate the \
                         ssl.quorum.trustStore trusts{})",
                        if tls.hostname_verification() {
                            format!(" that names {host}")
                        } else {
                            String::new()
                        }
                    ),
                );
                Err(e)
            }
        }
    }

    /// Secures a connection a member at `from` opened (`hosts`: the `server.N` hosts at
    /// that address), within `deadline`. `None`: refused (logged) or gone.
    pub async fn accepted(
        &self,
        stream: TcpStream,
        from: SocketAddr,
        hosts: &[String],
        deadline: Duration,
    ) -> Option<PeerStream> {
        let mut first = [0u8; 1];
        match tokio::time::timeout(deadline, stream.peek(&mut first)).await {
            Ok(Ok(1)) => {}
            _ => return None,
        }
        let tls = match self.arrival(first[0]) {
            Arrival::Plain => return Some(PeerStream::Plain(stream)),
            Arrival::PlainRefused => {
                refusals::log_peer_refusal(
                    from,
                    "plaintext",
                    "refused a plaintext quorum connection: this member has sslQuorum=true \
                     without portUnification, so it takes TLS only (the member dialing has \
                     sslQuorum=false; during a rolling upgrade keep portUnification=true until \
                     every member has sslQuorum=true)",
                );
                return None;
            }
            Arrival::TlsRefused => {
                refusals::log_peer_refusal(
                    from,
                    "tls",
                    "refused a TLS quorum connection: this member has sslQuorum=false and \
                     portUnification=false, so it takes plaintext only (set portUnification=true \
                     and the ssl.quorum stores on every member before any gets sslQuorum=true)",
                );
                return None;
            }
            Arrival::Tls => self.tls.as_ref()?,
        };
        let stream = match tokio::time::timeout(deadline, tls.acceptor().accept(stream)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                refusals::log_peer_refusal(
                    from,
                    "handshake",
                    &format!("refused a quorum connection: TLS handshake failed: {e}"),
                );
                return None;
            }
            Err(_) => {
                refusals::log_peer_refusal(
                    from,
                    "handshake",
                    "refused a quorum connection: no TLS handshake within syncLimit ticks",
                );
                return None;
            }
        };
        if tls.hostname_verification() {
            let leaf = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first());
            if let Some(leaf) = leaf {
                if !peer::names_peer(leaf, from.ip(), hosts) {
                    refusals::log_peer_refusal(
                        from,
                        "hostname",
                        &format!(
                            "refused a quorum connection: the member's certificate names neither \
                             {} nor {} (ssl.quorum.hostnameVerification=true)",
                            from.ip(),
                            hosts.join(", ")
                        ),
                    );
                    return None;
                }
            }
        }
        Some(PeerStream::Tls(Box::new(TlsStream::Server(stream))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_byte_decides_by_the_rolling_upgrade_settings() {
        const TLS: u8 = TLS_HANDSHAKE_BYTE;
        // A plaintext frame starts with its length's top byte: 0 for any frame a member sends.
        const PLAIN: u8 = 0;
        // (stores, sslQuorum, portUnification) -> (what TLS gets, what plaintext gets)
        let cases = [
            ((false, false, false), (Arrival::TlsRefused, Arrival::Plain)),
            // Step 1 of the upgrade: everyone unified, still dialing plaintext.
            ((true, false, true), (Arrival::Tls, Arrival::Plain)),
            // Step 2: dialing TLS, still taking both.
            ((true, true, true), (Arrival::Tls, Arrival::Plain)),
            // Step 3: TLS only.
            ((true, true, false), (Arrival::Tls, Arrival::PlainRefused)),
        ];
        for ((stores, ssl_quorum, unified), (on_tls, on_plain)) in cases {
            let settings = (stores, ssl_quorum, unified);
            assert_eq!(
                arrival(TLS, stores, ssl_quorum, unified),
                on_tls,
                "{settings:?}"
            );
            assert_eq!(
                arrival(PLAIN, stores, ssl_quorum, unified),
                on_plain,
                "{settings:?}"
            );
        }
        assert_eq!(Security::plaintext().arrival(TLS), Arrival::TlsRefused);
        assert_eq!(Security::plaintext().arrival(PLAIN), Arrival::Plain);
    }
}
