//! The client options Java hands over, one way for `ZooKeeper` and `ActiveStandbyElector`:
//! the TLS files and SASL credentials given in code, then Apache's client properties (the
//! JVM's `zookeeper.*` system properties and a builder's own, read by the core's
//! `JavaClientConfig`) for what those leave unset.

use jni::objects::{JObjectArray, JString};
use jni::sys::jboolean;
use jni::Env;
use zk_core::client::{ClientOptions, JavaClientConfig, SaslOptions, TlsOptions};

use crate::errors::Fail;
use crate::jvm;

/// The TLS files of a `TlsOptions` (all null: none given).
pub(crate) struct TlsFiles<'a, 'l> {
    pub ca: &'a JString<'l>,
    pub cert: &'a JString<'l>,
    pub key: &'a JString<'l>,
    pub verify_hostname: jboolean,
}

/// `options` with the TLS and SASL settings given in code, then `properties` (name, value,
/// name, value...; later names win).
pub(crate) fn client_options(
    env: &mut Env<'_>,
    mut options: ClientOptions,
    tls: TlsFiles<'_, '_>,
    sasl: (&JString<'_>, &JString<'_>),
    properties: &JObjectArray<'_, JString<'_>>,
) -> Result<ClientOptions, Fail> {
    if let Some(ca) = jvm::string(env, tls.ca)? {
        let files = TlsOptions::new(ca)
            .verify_hostname(tls.verify_hostname)
            .client_cert_files(jvm::string(env, tls.cert)?, jvm::string(env, tls.key)?)
            .map_err(|e| Fail::Argument(e.to_string()))?;
        options = options.tls(files);
    }
    if let Some(user) = jvm::string(env, sasl.0)? {
        let password = jvm::string(env, sasl.1)?.unwrap_or_default();
        options = options.sasl(SaslOptions::digest_md5(user, password));
    }
    let flat = jvm::strings(env, properties)?;
    if flat.len() % 2 != 0 {
        return Err(Fail::Argument(
            "client properties come as name, value pairs".into(),
        ));
    }
    let pairs = flat.chunks(2).filter_map(|pair| match pair {
        [Some(name), value] => Some((name.clone(), value.clone().unwrap_or_default())),
        _ => None,
    });
    JavaClientConfig::from_pairs(pairs)
        .apply(options)
        .map_err(|e| Fail::Argument(e.to_string()))
}
