//! SASL on the client port: DIGEST-MD5 over the `sasl` request (opcode 102,
//! `GetSASLRequest{token}` → `SetSASLResponse{token}`), configured as Apache configures it.
//!
//! - The JAAS file named by `-Djava.security.auth.login.config` holds the users, in the
//!   section `zookeeper.sasl.serverconfig` names (`Server`):
//!   `org.apache.zookeeper.server.auth.DigestLoginModule required user_<name>="<password>";`.
//!   Other login modules (Kerberos' `Krb5LoginModule`: GSSAPI) are not supported; the server
//!   says so once at start-up and serves DIGEST-MD5 only.
//! - The exchange ([`SaslExchange`]) is Apache's: protocol `zookeeper`, server name and realm
//!   `zk-sasl-md5`, so the digest-uri is `zookeeper/zk-sasl-md5`. A client sends an empty
//!   token, gets the challenge, sends its response, gets `rspauth=…`. Then the connection
//!   holds `sasl:<user>`, and `super` too when the user is a `zookeeper.superUser[.N]`.
//! - A failed exchange is answered AUTHFAILED (SESSIONCLOSEDREQUIRESASLAUTH when
//!   enforcement requires `sasl`) and the connection is closed, as Apache does. So is a token
//!   after the exchange ended (in success or failure), and one larger than
//!   [`MAX_TOKEN_BYTES`]. A non-empty first token is ignored and challenged, as Apache does.
//! - Enforcement ([`AuthEnforcement`]): `enforce.auth.enabled` + `enforce.auth.schemes`, or
//!   `sessionRequireClientSASLAuth=true` (= schemes `sasl`). A request from a connection that
//!   holds no id of a listed scheme is answered SESSIONCLOSEDREQUIRESASLAUTH and the
//!   connection is closed; `auth` and `sasl` requests pass, so clients can authenticate.
//!
//! # Layout
//!
//! - this file: [`SaslOptions`] (from the JAAS file), [`SaslExchange`] (one connection's
//!   state), [`AuthEnforcement`]; refusals go to the log through `refusals.rs`.
//! - `quorum`: what quorum SASL (`quorum.auth.*`) reads from the JAAS file.
//! - the JAAS parser and DIGEST-MD5 itself are shared with the client: `crate::sasl`.

pub mod quorum;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::proto::Id;

use crate::sasl::digest::{DigestError, DigestServer};
use crate::sasl::jaas::{JaasConfig, JaasError};
pub use crate::sasl::{PROTOCOL, REALM};
/// The section of the JAAS file read by default (`zookeeper.sasl.serverconfig`).
pub const DEFAULT_SECTION: &str = "Server";
/// The login module whose `user_<name>` options are the DIGEST-MD5 users.
pub const DIGEST_LOGIN_MODULE: &str = "org.apache.zookeeper.server.auth.DigestLoginModule";
/// The largest SASL token taken; a DIGEST-MD5 response is a few hundred bytes.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The SASL users and who among them is super.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SaslOptions {
    /// The JAAS file they came from (for messages).
    pub source: PathBuf,
    /// The section read.
    pub section: String,
    /// `user_<name>="<password>"`.
    pub users: BTreeMap<String, String>,
    /// `zookeeper.superUser` and `zookeeper.superUser.N`: these users are also `super`.
    pub super_users: Vec<String>,
    /// The section asks for Kerberos (GSSAPI), which is not supported.
    pub kerberos_requested: bool,
}

impl fmt::Debug for SaslOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaslOptions")
            .field("source", &self.source)
            .field("section", &self.section)
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .field("super_users", &self.super_users)
            .field("kerberos_requested", &self.kerberos_requested)
            .finish()
    }
}

/// Why the SASL configuration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaslConfigError {
    #[error(transparent)]
    Jaas(#[from] JaasError),
    #[error("No JAAS configuration section named '{section}' was found in '{}'", file.display())]
    NoSection { section: String, file: PathBuf },
}

impl SaslOptions {
    /// Reads the users from `section` of the JAAS file at `path`. Entries other than
    /// [`DIGEST_LOGIN_MODULE`] are logged (Kerberos: GSSAPI is not supported) and skipped.
    pub fn from_jaas_file(
        path: &Path,
        section: &str,
        super_users: Vec<String>,
    ) -> Result<SaslOptions, SaslConfigError> {
        let config = JaasConfig::from_file(path)?;
        Self::from_jaas(&config, path, section, super_users)
    }

    /// As [`from_jaas_file`](Self::from_jaas_file), from a parsed file.
    pub fn from_jaas(
        config: &JaasConfig,
        path: &Path,
        section: &str,
        super_users: Vec<String>,
    ) -> Result<SaslOptions, SaslConfigError> {
        let Some(found) = config.section(section) else {
            return Err(SaslConfigError::NoSection {
                section: section.to_owned(),
                file: path.to_owned(),
            });
        };
        let mut out = SaslOptions {
            source: path.to_owned(),
            section: section.to_owned(),
            users: BTreeMap::new(),
            super_users,
            kerberos_requested: false,
        };
        for entry in &found.entries {
            if entry.module == DIGEST_LOGIN_MODULE {
                for (key, value) in &entry.options {
                    if let Some(user) = key.strip_prefix("user_") {
                        out.users.insert(user.to_owned(), value.clone());
                    }
                }
            } else if entry.module.ends_with("Krb5LoginModule") {
                out.kerberos_requested = true;
                tracing::warn!(
                    "{}:{}: {} asks for Kerberos (SASL GSSAPI), which zk-server does not support yet; \
                     only DIGEST-MD5 is served, and GSSAPI clients will fail to authenticate",
                    path.display(),
                    entry.line,
                    entry.module
                );
            } else {
                tracing::warn!(
                    "{}:{}: login module {} is not supported by zk-server and is ignored",
                    path.display(),
                    entry.line,
                    entry.module
                );
            }
        }
        if out.users.is_empty() {
            tracing::warn!(
                "{}: section '{section}' defines no DIGEST-MD5 users (user_<name>=\"<password>\"); every SASL client will be refused",
                path.display()
            );
        }
        Ok(out)
    }

    /// The ids a user authenticated as `user` gets.
    pub fn ids_for(&self, user: &str) -> Vec<Id> {
        let mut ids = vec![Id {
            scheme: "sasl".into(),
            id: user.to_owned(),
        }];
        if self.super_users.iter().any(|s| s == user) {
            ids.push(super::acl::super_id());
        }
        ids
    }
}

/// Which schemes a session must hold an id of before anything but `auth`/`sasl` is served.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthEnforcement {
    /// Empty: no enforcement.
    pub schemes: Vec<String>,
}

impl AuthEnforcement {
    pub fn enabled(&self) -> bool {
        !self.schemes.is_empty()
    }

    /// Whether `sasl` is required (a failed SASL exchange is then answered -124, not -115).
    pub fn requires_sasl(&self) -> bool {
        self.schemes.iter().any(|s| s == "sasl")
    }

    /// Whether a connection holding `ids` may be served.
    pub fn allows(&self, ids: &[Id]) -> bool {
        !self.enabled() || ids.iter().any(|id| self.schemes.contains(&id.scheme))
    }
}

/// One connection's SASL exchange.
#[derive(Debug, Default)]
pub struct SaslExchange {
    state: State,
}

#[derive(Debug, Default)]
enum State {
    #[default]
    Start,
    Challenged(DigestServer),
    Complete,
}

/// What answers one token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send this token; the exchange goes on.
    Continue(Vec<u8>),
    /// Send this token; `user` is authenticated.
    Done { token: Vec<u8>, user: String },
}

/// Why a token ends the exchange (and the connection).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaslError {
    #[error("SASL token of {0} bytes, more than {MAX_TOKEN_BYTES}")]
    TooLarge(usize),
    #[error("SASL authentication already completed on this connection")]
    AlreadyComplete,
    #[error("DIGEST-MD5: {0}")]
    Digest(#[from] DigestError),
}

impl SaslExchange {
    /// Takes the client's next token.
    pub fn step(&mut self, opts: &SaslOptions, token: &[u8]) -> Result<Step, SaslError> {
        if token.len() > MAX_TOKEN_BYTES {
            self.state = State::Complete;
            return Err(SaslError::TooLarge(token.len()));
        }
        match std::mem::replace(&mut self.state, State::Complete) {
            State::Start => {
                // DIGEST-MD5 has no initial response; Apache (the JDK's server) ignores one
                // and challenges all the same, and so does zk.
                let server = DigestServer::new(
                    REALM,
                    &format!("{PROTOCOL}/{REALM}"),
                    &DigestServer::random_nonce(),
                );
                let challenge = server.challenge();
                self.state = State::Challenged(server);
                Ok(Step::Continue(challenge))
            }
            State::Challenged(server) => {
                let verified =
                    server.verify(token, |user| opts.users.get(user).map(String::as_str))?;
                Ok(Step::Done {
                    token: verified.rspauth,
                    user: verified.user,
                })
            }
            State::Complete => Err(SaslError::AlreadyComplete),
        }
    }
}

pub use super::refusals::{log_refusal, RefusalLog};
