//! SASL on the client's connections: [`SaslOptions`], the DIGEST-MD5 credentials a client
//! authenticates with (given directly, or read from the JAAS `Client` section as Apache's
//! Java client reads it), and [`Exchange`], one connection's run of the mechanism as the
//! session machine drives it.
//!
//! On every connection (the first and each reconnect) the machine runs the exchange right
//! after the session handshake, with opcode 102 (`GetSASLRequest{token}` →
//! `SetSASLResponse{token}`) and normal xids, and holds everything else (`addauth`
//! credentials, SetWatches2, the callers' requests) until it is over, as Apache's Java
//! client does. DIGEST-MD5 takes two round trips: an empty token fetches the challenge, the
//! digest-response gets `rspauth`, which the client checks (the server proves it knows the
//! password too).
//!
//! Success is reported as [`SessionState::SaslAuthenticated`](super::SessionState) after
//! `Connected`, as Apache's Java client delivers `KeeperState.SaslAuthenticated` after
//! `SyncConnected`. Failure (the server answers AUTHFAILED or SESSIONCLOSEDREQUIRESASLAUTH,
//! or its challenge or proof does not check out) ends the session in `AuthFailed`, as both
//! Apache's Java client and kazoo do: wrong credentials do not get better by retrying.

use std::fmt;
use std::path::Path;

use super::error::Error;
use crate::sasl::digest::{DigestClient, DigestError};
use crate::sasl::jaas::JaasConfig;

/// The JAAS section Apache's Java client reads by default (`zookeeper.sasl.clientconfig`).
pub const CLIENT_SECTION: &str = "Client";
/// The login module whose `username`/`password` options are DIGEST-MD5 credentials.
const DIGEST_LOGIN_MODULE: &str = "org.apache.zookeeper.server.auth.DigestLoginModule";

/// SASL DIGEST-MD5 credentials (kazoo's `sasl_options`, Apache's JAAS `Client` section).
/// `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct SaslOptions {
    pub username: String,
    pub password: String,
    /// The SASL service (protocol) name; Apache's: `zookeeper` ([`crate::sasl::PROTOCOL`]).
    pub protocol: String,
    /// The server name of the digest-uri `protocol/server_name`; Apache's DIGEST-MD5 servers
    /// use the fixed `zk-sasl-md5` ([`crate::sasl::REALM`]) whatever their host name.
    pub server_name: String,
}

impl fmt::Debug for SaslOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaslOptions")
            .field("mechanism", &"DIGEST-MD5")
            .field("username", &self.username)
            .field("protocol", &self.protocol)
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl SaslOptions {
    /// DIGEST-MD5 as `username` with `password`, to `zookeeper/zk-sasl-md5` (Apache's).
    pub fn digest_md5(username: impl Into<String>, password: impl Into<String>) -> SaslOptions {
        SaslOptions {
            username: username.into(),
            password: password.into(),
            protocol: crate::sasl::PROTOCOL.to_owned(),
            server_name: crate::sasl::REALM.to_owned(),
        }
    }

    /// Credentials for the SASL mechanism named `mechanism` (kazoo's `sasl_options`
    /// `mechanism`): `DIGEST-MD5` (any case) is the only one supported; `GSSAPI` (Kerberos)
    /// and others are a [`Error::BadArguments`] that says so.
    pub fn for_mechanism(
        mechanism: &str,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Result<SaslOptions, Error> {
        if mechanism.eq_ignore_ascii_case("DIGEST-MD5") {
            return Ok(SaslOptions::digest_md5(username, password));
        }
        let why = if mechanism.eq_ignore_ascii_case("GSSAPI") {
            "GSSAPI (Kerberos) is not supported"
        } else {
            "unknown mechanism"
        };
        Err(Error::BadArguments(format!(
            "SASL mechanism {mechanism:?}: {why}; only DIGEST-MD5 is"
        )))
    }

    /// Another SASL service name than `zookeeper` (kazoo's `service`).
    pub fn protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocol = protocol.into();
        self
    }

    /// Another server name than `zk-sasl-md5`.
    pub fn server_name(mut self, server_name: impl Into<String>) -> Self {
        self.server_name = server_name.into();
        self
    }

    /// Checks what a server cannot: names that are not empty.
    pub fn validate(&self) -> Result<(), Error> {
        for (what, value) in [
            ("username", &self.username),
            ("protocol", &self.protocol),
            ("server name", &self.server_name),
        ] {
            if value.is_empty() {
                return Err(Error::BadArguments(format!("SASL {what} is empty")));
            }
        }
        Ok(())
    }

    /// The credentials of a JAAS login configuration file (what Apache's Java client reads
    /// from `-Djava.security.auth.login.config=PATH`), in `section` (its
    /// `zookeeper.sasl.clientconfig`), or `Client` when `None`.
    ///
    /// `Ok(None)`: the file has no `Client` section and none was named, so the client does
    /// not use SASL (Apache's Java client then goes on without it too). A section that was
    /// named and is missing, an unreadable file, a Kerberos (GSSAPI) entry, or an entry
    /// without `username` or `password` is a [`Error::BadArguments`] naming the file.
    pub fn from_login_config(path: &Path, section: Option<&str>) -> Result<Option<Self>, Error> {
        let config = JaasConfig::from_file(path).map_err(|e| Error::BadArguments(e.to_string()))?;
        Self::from_jaas(&config, path, section)
    }

    /// As [`from_login_config`](Self::from_login_config), from a parsed file (`path` names it
    /// in errors).
    pub fn from_jaas(
        config: &JaasConfig,
        path: &Path,
        section: Option<&str>,
    ) -> Result<Option<Self>, Error> {
        let name = section.unwrap_or(CLIENT_SECTION);
        let bad = |line: Option<usize>, message: String| {
            let at = line.map(|l| format!(":{l}")).unwrap_or_default();
            Error::BadArguments(format!("{}{at}: {message}", path.display()))
        };
        let Some(found) = config.section(name) else {
            if section.is_none() {
                tracing::info!(
                    "{}: no JAAS section '{name}'; not authenticating with SASL",
                    path.display()
                );
                return Ok(None);
            }
            return Err(bad(None, format!("no JAAS section named '{name}'")));
        };
        for entry in &found.entries {
            if entry.module == DIGEST_LOGIN_MODULE {
                let option = |key: &str| {
                    entry
                        .options
                        .iter()
                        .find(|(k, _)| k == key)
                        .map(|(_, v)| v.clone())
                        .ok_or_else(|| {
                            bad(
                                Some(entry.line),
                                format!("{DIGEST_LOGIN_MODULE} in section '{name}' has no {key}"),
                            )
                        })
                };
                let options = SaslOptions::digest_md5(option("username")?, option("password")?);
                options.validate()?;
                return Ok(Some(options));
            }
            if entry.module.ends_with("Krb5LoginModule") {
                return Err(bad(
                    Some(entry.line),
                    format!(
                        "section '{name}' asks for Kerberos (SASL GSSAPI), which this client \
                         does not support; only DIGEST-MD5 ({DIGEST_LOGIN_MODULE}) is"
                    ),
                ));
            }
        }
        Err(bad(
            None,
            format!("section '{name}' has no {DIGEST_LOGIN_MODULE} entry (the only one supported)"),
        ))
    }
}

/// One connection's exchange: the mechanism's client side and whom it is for.
pub(crate) struct Exchange {
    digest: DigestClient,
    username: String,
}

/// What a server's SASL reply leads to.
pub(crate) enum Step {
    /// Send this token next.
    Send(Vec<u8>),
    /// Authenticated.
    Done,
}

impl Exchange {
    pub fn start(options: &SaslOptions) -> Exchange {
        Exchange {
            digest: DigestClient::new(
                &options.username,
                &options.password,
                &options.protocol,
                &options.server_name,
            ),
            username: options.username.clone(),
        }
    }

    /// The first token (empty for DIGEST-MD5).
    pub fn initial(&self) -> Vec<u8> {
        self.digest.initial_response()
    }

    pub fn username(&self) -> &str {
        &self.username
    }

    /// The server's token: what to send next, or done.
    pub fn step(&mut self, token: &[u8]) -> Result<Step, DigestError> {
        let next = self.digest.step(token)?;
        Ok(if self.digest.is_done() {
            Step::Done
        } else {
            Step::Send(next)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> JaasConfig {
        JaasConfig::parse(text, Path::new("test.conf")).unwrap()
    }

    #[test]
    fn the_client_section_gives_the_digest_credentials() {
        let config = parse(
            "Server { org.apache.zookeeper.server.auth.DigestLoginModule required user_bob=\"x\"; };\n\
             Client { org.apache.zookeeper.server.auth.DigestLoginModule required\n\
                 username=\"bob\" password=\"bob secret\"; };\n\
             Other { org.apache.zookeeper.server.auth.DigestLoginModule required\n\
                 username=alice password=a; };",
        );
        let path = Path::new("test.conf");
        let bob = SaslOptions::from_jaas(&config, path, None)
            .unwrap()
            .unwrap();
        assert_eq!(bob, SaslOptions::digest_md5("bob", "bob secret"));
        assert_eq!(
            (bob.protocol.as_str(), bob.server_name.as_str()),
            ("zookeeper", "zk-sasl-md5")
        );
        let alice = SaslOptions::from_jaas(&config, path, Some("Other"))
            .unwrap()
            .unwrap();
        assert_eq!(alice.username, "alice");
    }

    #[test]
    fn a_missing_default_section_means_no_sasl_and_a_missing_named_one_is_an_error() {
        let config = parse("Server { org.apache.zookeeper.server.auth.DigestLoginModule required user_bob=\"x\"; };");
        let path = Path::new("jaas.conf");
        assert_eq!(SaslOptions::from_jaas(&config, path, None).unwrap(), None);
        let err = SaslOptions::from_jaas(&config, path, Some("ZkClient")).unwrap_err();
        assert!(
            err.to_string().contains("jaas.conf") && err.to_string().contains("ZkClient"),
            "{err}"
        );
    }

    #[test]
    fn kerberos_and_incomplete_entries_are_refused_by_name() {
        let path = Path::new("jaas.conf");
        let kerberos = parse(
            "Client { com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true; };",
        );
        let err = SaslOptions::from_jaas(&kerberos, path, None).unwrap_err();
        assert!(err.to_string().contains("GSSAPI"), "{err}");
        let no_password = parse(
            "Client { org.apache.zookeeper.server.auth.DigestLoginModule required username=bob; };",
        );
        let err = SaslOptions::from_jaas(&no_password, path, None).unwrap_err();
        assert!(err.to_string().contains("password"), "{err}");
    }

    #[test]
    fn only_digest_md5_is_a_mechanism() {
        let digest = SaslOptions::for_mechanism("digest-md5", "bob", "x").unwrap();
        assert_eq!(digest, SaslOptions::digest_md5("bob", "x"));
        for refused in ["GSSAPI", "PLAIN"] {
            let err = SaslOptions::for_mechanism(refused, "bob", "x").unwrap_err();
            assert!(err.to_string().contains(refused) && err.to_string().contains("DIGEST-MD5"));
        }
    }

    #[test]
    fn debug_output_never_shows_the_password() {
        let options = SaslOptions::digest_md5("bob", "hunter2-secret");
        let shown = format!(
            "{options:?} {:?}",
            crate::client::ClientOptions::default().sasl(options.clone())
        );
        assert!(
            shown.contains("bob") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
