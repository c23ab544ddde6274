//! What quorum SASL (`quorum.auth.*`) is configured with, from the JAAS file named by
//! `-Djava.security.auth.login.config`, as Apache reads it:
//!
//! ```text
//! QuorumServer {
//!     org.apache.zookeeper.server.auth.DigestLoginModule required
//!     user_test="secret";
//! };
//! QuorumLearner {
//!     org.apache.zookeeper.server.auth.DigestLoginModule required
//!     username="test"
//!     password="secret";
//! };
//! ```
//!
//! The `QuorumServer` section (`quorum.auth.server.saslLoginContext`) holds the users a
//! member that connects here may authenticate as; the `QuorumLearner` section
//! (`quorum.auth.learner.saslLoginContext`) the credentials this member authenticates with
//! when it connects to another. Kerberos (GSSAPI, `Krb5LoginModule`) is not supported: a
//! section that asks for it is reported at start-up.

use std::fmt;
use std::path::{Path, PathBuf};

use super::{SaslConfigError, SaslOptions, DIGEST_LOGIN_MODULE};
use crate::sasl::jaas::JaasConfig;

/// The SASL protocol (service) name members use with each other (Apache's).
pub const QUORUM_PROTOCOL: &str = "zookeeper-quorum";
/// The DIGEST-MD5 server name and realm members use with each other (Apache's).
pub const QUORUM_REALM: &str = "zk-quorum-sasl-md5";

/// Quorum SASL as configured: present when `quorum.auth.enableSasl=true`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumSaslOptions {
    /// The users of the `QuorumServer` section.
    pub server: SaslOptions,
    /// This member's own credentials, from the `QuorumLearner` section.
    pub learner: LearnerCredentials,
    /// `quorum.auth.learnerRequireSasl`: talk only to members that authenticate this one.
    pub learner_require: bool,
    /// `quorum.auth.serverRequireSasl`: serve only members that authenticate.
    pub server_require: bool,
}

/// The `username` and `password` a member authenticates with.
#[derive(Clone, PartialEq, Eq)]
pub struct LearnerCredentials {
    /// The JAAS file and section they came from (for messages).
    pub source: PathBuf,
    pub section: String,
    pub username: String,
    pub password: String,
}

impl fmt::Debug for LearnerCredentials {
    // The password stays out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LearnerCredentials")
            .field("source", &self.source)
            .field("section", &self.section)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// Why quorum SASL cannot be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuorumSaslError {
    #[error("quorum.auth.enableSasl=true needs a JAAS file: set -Djava.security.auth.login.config in SERVER_JVMFLAGS")]
    NoLoginConfig,
    #[error(transparent)]
    Config(#[from] SaslConfigError),
    #[error("{}: section '{section}' has no DigestLoginModule entry with username and password (this member's quorum.auth.learner.saslLoginContext)", .file.display())]
    NoCredentials { section: String, file: PathBuf },
}

impl QuorumSaslOptions {
    /// Reads both sections of the JAAS file at `path`.
    pub fn from_jaas_file(
        path: &Path,
        server_section: &str,
        learner_section: &str,
        learner_require: bool,
        server_require: bool,
    ) -> Result<QuorumSaslOptions, QuorumSaslError> {
        let config = JaasConfig::from_file(path).map_err(SaslConfigError::from)?;
        let server = SaslOptions::from_jaas(&config, path, server_section, Vec::new())?;
        let learner = LearnerCredentials::from_jaas(&config, path, learner_section)?;
        Ok(QuorumSaslOptions {
            server,
            learner,
            learner_require,
            server_require,
        })
    }
}

impl LearnerCredentials {
    /// The `username` and `password` of the section's DigestLoginModule entry.
    pub fn from_jaas(
        config: &JaasConfig,
        path: &Path,
        section: &str,
    ) -> Result<LearnerCredentials, QuorumSaslError> {
        let Some(found) = config.section(section) else {
            return Err(SaslConfigError::NoSection {
                section: section.to_owned(),
                file: path.to_owned(),
            }
            .into());
        };
        let option = |entry: &crate::sasl::jaas::Entry, name: &str| {
            entry
                .options
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
        };
        for entry in &found.entries {
            if entry.module.ends_with("Krb5LoginModule") {
                tracing::warn!(
                    "{}:{}: {} asks for Kerberos (SASL GSSAPI) between members, which zk-server \
                     does not support; members authenticate with DIGEST-MD5 only",
                    path.display(),
                    entry.line,
                    entry.module
                );
                continue;
            }
            if entry.module != DIGEST_LOGIN_MODULE {
                continue;
            }
            if let (Some(username), Some(password)) =
                (option(entry, "username"), option(entry, "password"))
            {
                return Ok(LearnerCredentials {
                    source: path.to_owned(),
                    section: section.to_owned(),
                    username,
                    password,
                });
            }
        }
        Err(QuorumSaslError::NoCredentials {
            section: section.to_owned(),
            file: path.to_owned(),
        })
    }
}
