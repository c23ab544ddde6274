//! Apache's Java client configuration — the `zookeeper.*` system properties a deployment
//! passes as `-D` flags (`CLIENT_JVMFLAGS`) or writes in a `ZKClientConfig` file — read onto
//! [`ClientOptions`], so those settings work unchanged in zk-cli and the Java binding.
//!
//! Read: `zookeeper.client.secure` with `zookeeper.ssl.trustStore.*` and
//! `zookeeper.ssl.keyStore.*` (`location`, `password`, `passwordPath`, `type`) and
//! `zookeeper.ssl.hostnameVerification`; `jute.maxbuffer`; `zookeeper.request.timeout`.
//! Other names are left alone (`zookeeper.clientCnxnSocket` is Java's choice of socket).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::error::Error;
use super::options::ClientOptions;
use super::tls::TlsOptions;
use crate::keystore::StoreType;

/// `zookeeper.client.secure`: speak TLS.
pub const CLIENT_SECURE: &str = "zookeeper.client.secure";
const TRUST_STORE: &str = "zookeeper.ssl.trustStore";
const KEY_STORE: &str = "zookeeper.ssl.keyStore";
const HOSTNAME_VERIFICATION: &str = "zookeeper.ssl.hostnameVerification";
const JUTE_MAX_BUFFER: &str = "jute.maxbuffer";
const REQUEST_TIMEOUT: &str = "zookeeper.request.timeout";

/// A set of Java properties (the last value of a name wins, as in `java.util.Properties`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct JavaClientConfig {
    properties: BTreeMap<String, String>,
}

impl std::fmt::Debug for JavaClientConfig {
    // Passwords stay out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set()
            .entries(self.properties.keys().filter(|k| !k.ends_with(".password")))
            .finish()
    }
}

impl JavaClientConfig {
    /// The properties `pairs` hold, later ones overriding earlier ones.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> JavaClientConfig {
        let mut config = JavaClientConfig::default();
        config.extend(pairs);
        config
    }

    /// Adds `pairs`, overriding what is already set.
    pub fn extend<K: Into<String>, V: Into<String>>(
        &mut self,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) {
        for (key, value) in pairs {
            self.properties.insert(key.into(), value.into());
        }
    }

    /// A property's value, trimmed as ZooKeeper trims them.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.properties.get(key).map(|v| v.trim())
    }

    /// `options` with what these properties set.
    pub fn apply(&self, mut options: ClientOptions) -> Result<ClientOptions, Error> {
        if let Some(tls) = self.tls()? {
            options.tls = Some(tls);
        }
        if let Some(bytes) = self.number(JUTE_MAX_BUFFER)? {
            options.max_buffer = usize::try_from(bytes)
                .ok()
                .filter(|&b| b > 0)
                .ok_or_else(|| bad(JUTE_MAX_BUFFER, "must be a positive number of bytes"))?;
        }
        if let Some(ms) = self.number(REQUEST_TIMEOUT)? {
            // Apache: 0 (the default) waits as long as the session lives.
            options.request_timeout = u64::try_from(ms)
                .ok()
                .filter(|&ms| ms > 0)
                .map(Duration::from_millis);
        }
        Ok(options)
    }

    /// The TLS settings when `zookeeper.client.secure` is true (Java's `parseBoolean`).
    pub fn tls(&self) -> Result<Option<TlsOptions>, Error> {
        if !self
            .get(CLIENT_SECURE)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        {
            return Ok(None);
        }
        let Some((trust, trust_type, trust_password)) = self.store(TRUST_STORE)? else {
            return Err(bad(
                CLIENT_SECURE,
                "needs zookeeper.ssl.trustStore.location: zk has no default trust store \
                 (Java's would be the JDK's cacerts)",
            ));
        };
        let mut tls = TlsOptions::with_trust_store(trust, trust_type, trust_password);
        if let Some((key, key_type, key_password)) = self.store(KEY_STORE)? {
            tls = tls.key_store(key, key_type, key_password);
        }
        let verify = match self.get(HOSTNAME_VERIFICATION) {
            None => true,
            Some(v) => v.eq_ignore_ascii_case("true"),
        };
        Ok(Some(tls.verify_hostname(verify)))
    }

    /// `prefix.location`, `.type` and the password (`.password`, else the file
    /// `.passwordPath` names); `None` without a location.
    #[allow(clippy::type_complexity)]
    fn store(&self, prefix: &str) -> Result<Option<(PathBuf, Option<StoreType>, String)>, Error> {
        let Some(location) = self
            .get(&format!("{prefix}.location"))
            .filter(|l| !l.is_empty())
        else {
            return Ok(None);
        };
        let type_key = format!("{prefix}.type");
        let store_type =
            match self.get(&type_key).filter(|t| !t.is_empty()) {
                None => None,
                Some(name) => Some(StoreType::parse(name).ok_or_else(|| {
                    bad(&type_key, &format!("{name:?} is not PEM, PKCS12 or JKS"))
                })?),
            };
        let password = match (
            self.get(&format!("{prefix}.password")),
            self.get(&format!("{prefix}.passwordPath")),
        ) {
            (Some(password), _) => password.to_owned(),
            (None, Some(path)) => std::fs::read_to_string(path)
                .map(|text| text.trim_end_matches(['\r', '\n']).to_owned())
                .map_err(|e| bad(&format!("{prefix}.passwordPath"), &format!("{path}: {e}")))?,
            (None, None) => String::new(),
        };
        Ok(Some((PathBuf::from(location), store_type, password)))
    }

    fn number(&self, key: &str) -> Result<Option<i64>, Error> {
        match self.get(key) {
            None => Ok(None),
            Some(text) => text
                .parse()
                .map(Some)
                .map_err(|_| bad(key, &format!("{text:?} is not a number"))),
        }
    }
}

fn bad(key: &str, problem: &str) -> Error {
    Error::BadArguments(format!("{key}: {problem}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ClientIdentity;

    #[test]
    fn plaintext_unless_secure() {
        let config = JavaClientConfig::from_pairs([(
            "zookeeper.ssl.trustStore.location",
            "/etc/zk/trust.jks",
        )]);
        assert_eq!(config.tls().unwrap(), None);
        let config = JavaClientConfig::from_pairs([(CLIENT_SECURE, "yes")]);
        assert_eq!(config.tls().unwrap(), None);
    }

    #[test]
    fn secure_with_stores() {
        let dir = tempfile::tempdir().unwrap();
        let password_file = dir.path().join("pw");
        std::fs::write(&password_file, "from file\n").unwrap();
        let config = JavaClientConfig::from_pairs([
            (CLIENT_SECURE, " TRUE "),
            ("zookeeper.ssl.trustStore.location", "/etc/zk/trust.jks"),
            ("zookeeper.ssl.trustStore.password", "trust pw"),
            ("zookeeper.ssl.keyStore.location", "/etc/zk/client.p12"),
            ("zookeeper.ssl.keyStore.type", "pkcs12"),
            (
                "zookeeper.ssl.keyStore.passwordPath",
                password_file.to_str().unwrap(),
            ),
            ("zookeeper.ssl.hostnameVerification", "false"),
        ]);
        let tls = config.tls().unwrap().unwrap();
        assert_eq!(tls.trust_store.location, PathBuf::from("/etc/zk/trust.jks"));
        assert_eq!(tls.trust_store.password, "trust pw");
        assert_eq!(tls.trust_store.store_type, None);
        assert!(!tls.verify_hostname);
        let Some(ClientIdentity::Store(key)) = &tls.identity else {
            panic!("{:?}", tls.identity);
        };
        assert_eq!(key.store_type, Some(StoreType::Pkcs12));
        assert_eq!(key.password, "from file");
        // The last value of a name wins.
        let mut again = config.clone();
        again.extend([("zookeeper.ssl.hostnameVerification", "true")]);
        assert!(again.tls().unwrap().unwrap().verify_hostname);
    }

    #[test]
    fn bad_values_name_the_property() {
        let cases = [
            (vec![(CLIENT_SECURE, "true")], "zookeeper.client.secure"),
            (
                vec![
                    (CLIENT_SECURE, "true"),
                    ("zookeeper.ssl.trustStore.location", "/t.p12"),
                    ("zookeeper.ssl.trustStore.type", "BCFKS"),
                ],
                "zookeeper.ssl.trustStore.type",
            ),
            (
                vec![
                    (CLIENT_SECURE, "true"),
                    ("zookeeper.ssl.trustStore.location", "/t.p12"),
                    ("zookeeper.ssl.trustStore.passwordPath", "/nonexistent/pw"),
                ],
                "/nonexistent/pw",
            ),
            (vec![(JUTE_MAX_BUFFER, "lots")], "jute.maxbuffer"),
            (vec![(JUTE_MAX_BUFFER, "0")], "jute.maxbuffer"),
        ];
        for (pairs, want) in cases {
            let error = JavaClientConfig::from_pairs(pairs)
                .apply(ClientOptions::default())
                .unwrap_err();
            assert!(
                matches!(&error, Error::BadArguments(m) if m.contains(want)),
                "{error:?}"
            );
        }
    }

    #[test]
    fn buffer_and_request_timeout() {
        let options =
            JavaClientConfig::from_pairs([(JUTE_MAX_BUFFER, "4194304"), (REQUEST_TIMEOUT, "2500")])
                .apply(ClientOptions::default())
                .unwrap();
        assert_eq!(options.max_buffer, 4 << 20);
        assert_eq!(options.request_timeout, Some(Duration::from_millis(2500)));
        let options = JavaClientConfig::from_pairs([(REQUEST_TIMEOUT, "0")])
            .apply(ClientOptions::default())
            .unwrap();
        assert_eq!(options.request_timeout, None);
    }
}
