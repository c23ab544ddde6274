//! Applying keys to a [`ServerConfig`]: dispatch by key, derived defaults, cross-key checks.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::error::{ConfigError, ConfigWarning, Location};
use super::keys::{self, ExtraKind};
use super::properties::RawProperty;
use super::quorum::{self, PeerType, QuorumServer};
use super::values::{
    boolean, decoded_int, host, id_number, invalid, java_int, line_at, parse_whitelist, path_value,
    port, to_u32, to_u64, yes_no,
};
use super::{ClientAuth, StoreType, TlsVersion};
use super::{
    ServerConfig, ALWAYS_ENABLED_4LW, ELECTION_ALG, MAX_EXTENDED_SERVER_ID, MAX_SERVER_ID,
    MAX_SESSION_TIMEOUT_TICKS, MIN_SESSION_TIMEOUT_TICKS, MIN_SNAP_COUNT, MIN_SNAP_RETAIN_COUNT,
    READ_ONLY_4LW,
};

impl ServerConfig {
    /// the survivors stay in file order.
    pub(super) fn last_occurrences(
        &mut self,
        props: Vec<RawProperty>,
        source: &str,
    ) -> Vec<RawProperty> {
        let mut last_line: BTreeMap<&str, usize> = BTreeMap::new();
        for prop in &props {
            if let Some(previous) = last_line.insert(prop.key.as_str(), prop.line) {
                self.warn(
                    line_at(source, prop.line),
                    format!(
                        "{} repeats line {previous}; this later value wins",
                        prop.key
                    ),
                );
            }
        }
        let keep: BTreeSet<(String, usize)> = last_line
            .into_iter()
            .map(|(k, l)| (k.to_string(), l))
            .collect();
        props
            .into_iter()
            .filter(|p| keep.contains(&(p.key.clone(), p.line)))
            .collect()
    }

    pub(super) fn apply_file_key(
        &mut self,
        key: &str,
        value: &str,
        at: Location,
    ) -> Result<(), ConfigError> {
        self.origins.insert(key.to_string(), at.clone());
        if self.apply_direct_key(key, value, &at)? {
            return Ok(());
        }
        // Apache turns every key it does not parse itself into a system property.
        self.system_properties
            .insert(format!("zookeeper.{key}"), value.to_string());
        if self.apply_system_key(key, value, &at)? {
            return Ok(());
        }
        self.keep_extra(key, value, at);
        Ok(())
    }

    /// Keys `QuorumPeerConfig.parseProperties` handles itself. `Ok(false)`: not one of them.
    pub(super) fn apply_direct_key(
        &mut self,
        key: &str,
        value: &str,
        at: &Location,
    ) -> Result<bool, ConfigError> {
        match key {
            "dataDir" => {
                let dir = path_value(key, value, at)?;
                self.warn_relative(key, &dir, at);
                self.data_dir = dir;
            }
            "dataLogDir" => {
                let dir = path_value(key, value, at)?;
                self.warn_relative(key, &dir, at);
                self.data_log_dir = dir;
            }
            "clientPort" => self.client_port = Some(port(key, value, at)?),
            "clientPortAddress" => self.client_port_address = Some(host(key, value, at)?),
            "secureClientPort" => self.secure_client_port = Some(port(key, value, at)?),
            "secureClientPortAddress" => {
                self.secure_client_port_address = Some(host(key, value, at)?)
            }
            "observerMasterPort" => {
                let n = java_int(key, value, at)?;
                self.observer_master_port = if n <= 0 {
                    None
                } else {
                    Some(port(key, value, at)?)
                };
            }
            "clientPortListenBacklog" => {
                let n = java_int(key, value, at)?;
                self.client_port_listen_backlog = u32::try_from(n).ok().filter(|&n| n > 0);
            }
            "tickTime" => {
                let n = java_int(key, value, at)?;
                if n <= 0 {
                    return Err(invalid(
                        key,
                        at,
                        format!("must be a positive number of ms, got {n}"),
                    ));
                }
                self.tick_time = to_u32(key, n, at)?;
            }
            "maxClientCnxns" => self.max_client_cnxns = to_u32(key, java_int(key, value, at)?, at)?,
            "minSessionTimeout" | "maxSessionTimeout" => {
                let n = java_int(key, value, at)?;
                let ms = if n == -1 {
                    // Apache's "unset": back to the tickTime-derived default.
                    self.origins.remove(key);
                    0
                } else {
                    to_u32(key, n, at)?
                };
                if key == "minSessionTimeout" {
                    self.min_session_timeout = ms;
                } else {
                    self.max_session_timeout = ms;
                }
            }
            "initLimit" => self.init_limit = to_u32(key, java_int(key, value, at)?, at)?,
            "syncLimit" => self.sync_limit = to_u32(key, java_int(key, value, at)?, at)?,
            "connectToLearnerMasterLimit" => {
                self.connect_to_learner_master_limit = to_u32(key, java_int(key, value, at)?, at)?;
            }
            "electionAlg" => {
                let n = java_int(key, value, at)?;
                if n != i64::from(ELECTION_ALG) {
                    return Err(invalid(
                        key,
                        at,
                        format!("{n} is not supported; only {ELECTION_ALG} is"),
                    ));
                }
                self.election_alg = ELECTION_ALG;
            }
            "quorumListenOnAllIPs" => self.quorum_listen_on_all_ips = boolean(key, value, at)?,
            "peerType" => {
                self.peer_type = PeerType::parse(value).ok_or_else(|| {
                    invalid(
                        key,
                        at,
                        format!("unrecognised peer type \"{value}\" (participant or observer)"),
                    )
                })?;
            }
            "syncEnabled" => self.sync_enabled = boolean(key, value, at)?,
            "dynamicConfigFile" => self.dynamic_config_file = Some(path_value(key, value, at)?),
            "autopurge.snapRetainCount" => {
                let n = java_int(key, value, at)?;
                self.autopurge_snap_retain_count = if n < i64::from(MIN_SNAP_RETAIN_COUNT) {
                    self.warn(at.clone(), format!("{key}={n} is below {MIN_SNAP_RETAIN_COUNT}; using {MIN_SNAP_RETAIN_COUNT}"));
                    MIN_SNAP_RETAIN_COUNT
                } else {
                    to_u32(key, n, at)?
                };
            }
            "autopurge.purgeInterval" => {
                // Apache schedules no purge for any value <= 0.
                self.autopurge_purge_interval_hours =
                    to_u32(key, java_int(key, value, at)?.max(0), at)?;
            }
            "standaloneEnabled" => self.standalone_enabled = boolean(key, value, at)?,
            "reconfigEnabled" => self.reconfig_enabled = boolean(key, value, at)?,
            "localSessionsEnabled" => self.local_sessions_enabled = boolean(key, value, at)?,
            "localSessionsUpgradingEnabled" => {
                self.local_sessions_upgrading_enabled = boolean(key, value, at)?
            }
            "multiAddress.enabled" => self.multi_address_enabled = boolean(key, value, at)?,
            "multiAddress.reachabilityCheckEnabled" => {
                self.multi_address_reachability_check_enabled = boolean(key, value, at)?;
            }
            "multiAddress.reachabilityCheckTimeoutMs" => {
                self.multi_address_reachability_check_timeout_ms =
                    to_u32(key, java_int(key, value, at)?, at)?;
            }
            "oraclePath" => self.oracle_path = Some(value.to_string()),
            "sslQuorum" => self.quorum_tls.ssl_quorum = boolean(key, value, at)?,
            "portUnification" => self.quorum_tls.port_unification = boolean(key, value, at)?,
            "sslQuorumReloadCertFiles" => {
                self.quorum_tls.reload_cert_files = boolean(key, value, at)?
            }
            "quorum.auth.enableSasl" => self.quorum_sasl.enabled = boolean(key, value, at)?,
            "quorum.auth.learnerRequireSasl" => {
                self.quorum_sasl.learner_require = boolean(key, value, at)?
            }
            "quorum.auth.serverRequireSasl" => {
                self.quorum_sasl.server_require = boolean(key, value, at)?
            }
            "quorum.auth.learner.saslLoginContext" => {
                self.quorum_sasl.learner_login_context = value.to_string()
            }
            "quorum.auth.server.saslLoginContext" => {
                self.quorum_sasl.server_login_context = value.to_string()
            }
            "quorum.auth.kerberos.servicePrincipal" => {
                self.warn(
                    at.clone(),
                    format!("{key} is accepted, but zk-server does not support Kerberos (SASL GSSAPI) between members; quorum SASL uses DIGEST-MD5 from the JAAS file"),
                );
                self.quorum_sasl.kerberos_service_principal = Some(value.to_string());
            }
            "metricsProvider.className" => {
                if value != super::PROMETHEUS_METRICS_PROVIDER {
                    self.warn(
                        at.clone(),
                        format!("metricsProvider.className={value} has no effect in zk: only {} is served (on metricsProvider.httpPort)", super::PROMETHEUS_METRICS_PROVIDER),
                    );
                }
                self.metrics.class_name = Some(value.to_string());
            }
            "metricsProvider.httpHost" => self.metrics.http_host = host(key, value, at)?,
            "metricsProvider.httpPort" => self.metrics.http_port = port(key, value, at)?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Typed keys Apache reads as `zookeeper.<key>` system properties. `Ok(false)`: not one.
    pub(super) fn apply_system_key(
        &mut self,
        key: &str,
        value: &str,
        at: &Location,
    ) -> Result<bool, ConfigError> {
        if self.apply_tls_key(key, value, at)? || self.apply_sasl_key(key, value, at)? {
            return Ok(true);
        }
        match key {
            "4lw.commands.whitelist" => self.whitelist = Some(parse_whitelist(key, value, at)?),
            "snapCount" => {
                let n = decoded_int(key, value, at)?;
                self.snap_count = if n < MIN_SNAP_COUNT as i64 {
                    self.warn(
                        at.clone(),
                        format!("snapCount={n} is below {MIN_SNAP_COUNT}; using {MIN_SNAP_COUNT}"),
                    );
                    MIN_SNAP_COUNT
                } else {
                    to_u64(key, n, at)?
                };
            }
            "forceSync" => self.force_sync = yes_no(key, value, at)?,
            "extendedTypesEnabled" => self.extended_types_enabled = boolean(key, value, at)?,
            "emulate353TTLNodes" => self.emulate_353_ttl_nodes = boolean(key, value, at)?,
            "enforceQuota" => self.enforce_quota = boolean(key, value, at)?,
            "skipACL" => self.skip_acl = yes_no(key, value, at)?,
            "globalOutstandingLimit" => {
                self.global_outstanding_limit = to_u32(key, decoded_int(key, value, at)?, at)?;
            }
            "maxCnxns" => self.max_cnxns = to_u32(key, decoded_int(key, value, at)?, at)?,
            "nio.sessionlessCnxnTimeout" => {
                self.sessionless_cnxn_timeout_ms = to_u64(key, decoded_int(key, value, at)?, at)?;
            }
            "maxWatchesPerSession" => {
                self.max_watches_per_session = to_u64(key, decoded_int(key, value, at)?, at)?;
            }
            "DigestAuthenticationProvider.superDigest" => {
                if !value.contains(':') {
                    return Err(invalid(
                        key,
                        at,
                        format!("\"{value}\" is not of the form user:base64digest"),
                    ));
                }
                self.super_digest = Some(value.to_string());
            }
            "DigestAuthenticationProvider.enabled" => {
                self.digest_auth_enabled = boolean(key, value, at)?
            }
            "digest.enabled" => self.digest_enabled = boolean(key, value, at)?,
            "preAllocSize" => {
                self.pre_alloc_size_kb = to_u64(key, decoded_int(key, value, at)?, at)?
            }
            "snapSizeLimitInKb" => {
                let n = decoded_int(key, value, at)?;
                self.snap_size_limit_kb = u64::try_from(n).ok().filter(|&n| n > 0);
            }
            "txnLogSizeLimitInKb" => {
                let n = decoded_int(key, value, at)?;
                self.txn_log_size_limit_kb = u64::try_from(n).ok().filter(|&n| n > 0);
            }
            "fsync.warningthresholdms" => {
                self.fsync_warning_threshold_ms = to_u64(key, decoded_int(key, value, at)?, at)?;
            }
            "leaderServes" => self.leader_serves = yes_no(key, value, at)?,
            "admin.enableServer" => self.admin.enable_server = boolean(key, value, at)?,
            "admin.serverAddress" => self.admin.server_address = host(key, value, at)?,
            "admin.serverPort" => self.admin.server_port = port(key, value, at)?,
            "admin.idleTimeout" => {
                self.admin.idle_timeout_ms = to_u64(key, decoded_int(key, value, at)?, at)?
            }
            "admin.commandURL" => self.admin.command_url = value.to_string(),
            "admin.portUnification" | "admin.forceHttps" | "admin.needClientAuth" => {
                let on = boolean(key, value, at)?;
                if on {
                    self.warn(
                        at.clone(),
                        format!("{key}=true has no effect in zk: the AdminServer serves plain HTTP only"),
                    );
                }
                match key {
                    "admin.portUnification" => self.admin.port_unification = on,
                    "admin.forceHttps" => self.admin.force_https = on,
                    _ => self.admin.need_client_auth = on,
                }
            }
            "admin.rateLimiterIntervalInMS" => {
                self.admin.rate_limiter_interval_ms =
                    to_u64(key, decoded_int(key, value, at)?, at)?;
            }
            "admin.snapshot.enabled" => self.admin.snapshot_enabled = boolean(key, value, at)?,
            "admin.restore.enabled" => self.admin.restore_enabled = boolean(key, value, at)?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The TLS keys: the client port's (see [`TlsConfig`](super::TlsConfig)) and the
    /// quorum's `ssl.quorum.*` (see [`QuorumTlsConfig`](super::QuorumTlsConfig)).
    /// `Ok(false)`: not one.
    fn apply_tls_key(
        &mut self,
        key: &str,
        value: &str,
        at: &Location,
    ) -> Result<bool, ConfigError> {
        let shared_key = if let Some(name) = key.strip_prefix("ssl.quorum.") {
            if name == "hostnameVerification" {
                self.quorum_tls.hostname_verification = boolean(key, value, at)?;
                true
            } else {
                let mut keys = std::mem::take(&mut self.quorum_tls.keys);
                let applied = self.apply_tls_keys(&mut keys, name, key, value, at);
                self.quorum_tls.keys = keys;
                applied?
            }
        } else if let Some(name) = key.strip_prefix("ssl.") {
            let mut keys = std::mem::take(&mut self.tls.keys);
            let applied = self.apply_tls_keys(&mut keys, name, key, value, at);
            self.tls.keys = keys;
            applied?
        } else {
            false
        };
        if shared_key {
            self.extra.insert(key.to_string(), value.to_string());
            return Ok(true);
        }
        match key {
            "client.portUnification" => self.tls.port_unification = boolean(key, value, at)?,
            "X509AuthenticationProvider.superUser" => {
                self.tls.super_user = Some(value.to_string());
            }
            "serverCnxnFactory" => {
                if !matches!(
                    value,
                    "org.apache.zookeeper.server.NettyServerCnxnFactory"
                        | "org.apache.zookeeper.server.NIOServerCnxnFactory"
                ) {
                    self.warn(at.clone(), format!("{key}={value} has no effect in zk (it has one connection layer, which serves TLS too)"));
                }
            }
            // zk always reloads the client port's stores when their files change.
            "client.certReload" => {
                boolean(key, value, at)?;
            }
            // What Apache needs for the x509 scheme; zk always has it.
            key if key.starts_with("authProvider.")
                && value == "org.apache.zookeeper.server.auth.X509AuthenticationProvider" => {}
            "ssl.authProvider" => {
                if value != "x509" {
                    self.warn(at.clone(), format!("{key}={value} has no effect in zk: a client certificate always authenticates as x509"));
                }
            }
            _ => return Ok(false),
        }
        self.extra.insert(key.to_string(), value.to_string());
        Ok(true)
    }

    /// One of the keys the client port and the quorum share, `name` without its `ssl.` or
    /// `ssl.quorum.` prefix (`key` is the whole key, for messages). `Ok(false)`: not one.
    fn apply_tls_keys(
        &mut self,
        keys: &mut super::TlsKeys,
        name: &str,
        key: &str,
        value: &str,
        at: &Location,
    ) -> Result<bool, ConfigError> {
        fn store<'k>(keys: &'k mut super::TlsKeys, name: &str) -> &'k mut super::StoreKeys {
            if name.starts_with("trust") {
                &mut keys.trust_store
            } else {
                &mut keys.key_store
            }
        }
        match name {
            "keyStore.location" | "trustStore.location" => {
                store(keys, name).location = Some(path_value(key, value, at)?);
            }
            "keyStore.password" | "trustStore.password" => {
                store(keys, name).password = Some(value.to_string());
            }
            "keyStore.passwordPath" | "trustStore.passwordPath" => {
                store(keys, name).password_path = Some(path_value(key, value, at)?);
            }
            "keyStore.type" | "trustStore.type" => {
                let kind = if value.trim().is_empty() {
                    None
                } else {
                    Some(StoreType::parse(value).ok_or_else(|| {
                        invalid(
                            key,
                            at,
                            format!("unsupported store type \"{value}\" (PEM, PKCS12 or JKS)"),
                        )
                    })?)
                };
                store(keys, name).store_type = kind;
            }
            "clientAuth" => {
                keys.client_auth = ClientAuth::parse(value).ok_or_else(|| {
                    invalid(key, at, format!("\"{value}\" is not need, want or none"))
                })?;
            }
            "protocol" => {
                if keys.enabled_protocols_set {
                    return Ok(true);
                }
                match TlsVersion::from_protocol(value) {
                    Ok(versions) => keys.protocols = versions,
                    Err(why) => {
                        if why.starts_with("unknown") {
                            return Err(invalid(key, at, why));
                        }
                        self.warn(
                            at.clone(),
                            format!("{key}: {why}; using TLSv1.3 and TLSv1.2"),
                        );
                        keys.protocols = Vec::new();
                    }
                }
            }
            "enabledProtocols" => {
                let mut versions = Vec::new();
                for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                    match TlsVersion::parse(name) {
                        Ok(v) if !versions.contains(&v) => versions.push(v),
                        Ok(_) => {}
                        Err(why) if why.starts_with("unknown") => {
                            return Err(invalid(key, at, why))
                        }
                        Err(why) => {
                            self.warn(at.clone(), format!("{key}: {why}; {name} is left out"))
                        }
                    }
                }
                if versions.is_empty() {
                    return Err(invalid(
                        key,
                        at,
                        "names no protocol zk can serve (TLSv1.2, TLSv1.3)",
                    ));
                }
                versions.sort_unstable_by(|a, b| b.cmp(a));
                keys.protocols = versions;
                keys.enabled_protocols_set = true;
            }
            "ciphersuites" => {
                let mut suites = Vec::new();
                let mut unsupported = Vec::new();
                for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                    if super::super::tls::cipher_suite(name).is_some() {
                        suites.push(name.to_string());
                    } else {
                        unsupported.push(name);
                    }
                }
                if !unsupported.is_empty() {
                    self.warn(
                        at.clone(),
                        format!(
                            "{key}: not supported by zk (rustls), left out: {}",
                            unsupported.join(", ")
                        ),
                    );
                }
                if suites.is_empty() {
                    return Err(invalid(key, at, "names no cipher suite zk supports (IANA names, e.g. TLS_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)"));
                }
                keys.cipher_suites = suites;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// SASL and enforcement keys (see [`SaslConfig`](super::SaslConfig)). `Ok(false)`: not one.
    fn apply_sasl_key(
        &mut self,
        key: &str,
        value: &str,
        at: &Location,
    ) -> Result<bool, ConfigError> {
        match key {
            "sasl.serverconfig" => self.sasl.server_section = Some(value.to_string()),
            "superUser" => {
                self.sasl
                    .super_users
                    .insert(key.to_string(), value.to_string());
            }
            key if key
                .strip_prefix("superUser.")
                .is_some_and(|n| !n.is_empty()) =>
            {
                self.sasl
                    .super_users
                    .insert(key.to_string(), value.to_string());
            }
            "sessionRequireClientSASLAuth" => {
                self.sasl.session_require_client_sasl_auth = boolean(key, value, at)?
            }
            "enforce.auth.enabled" => self.sasl.enforce_auth_enabled = boolean(key, value, at)?,
            "enforce.auth.schemes" => {
                self.sasl.enforce_auth_schemes = value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
            }
            // What Apache needs for the sasl scheme; zk always has it.
            key if key.starts_with("authProvider.")
                && value == "org.apache.zookeeper.server.auth.SASLAuthenticationProvider" => {}
            _ => return Ok(false),
        }
        self.extra.insert(key.to_string(), value.to_string());
        Ok(true)
    }

    /// Un-prefixed JVM properties. `Ok(false)`: not one Apache reads.
    pub(super) fn apply_jvm_flag(
        &mut self,
        name: &str,
        value: &str,
        at: &Location,
    ) -> Result<bool, ConfigError> {
        match name {
            "jute.maxbuffer" => {
                let n = decoded_int(name, value, at)?;
                if n <= 0 {
                    return Err(invalid(
                        name,
                        at,
                        format!("must be a positive number of bytes, got {n}"),
                    ));
                }
                self.jute_max_buffer = to_u32(name, n, at)?;
            }
            "readonlymode.enabled" => self.read_only_mode_enabled = boolean(name, value, at)?,
            "java.security.auth.login.config" => {
                self.sasl.login_config = Some(path_value(name, value, at)?);
            }
            "znode.container.checkIntervalMs" => {
                self.container_check_interval_ms = to_u64(name, decoded_int(name, value, at)?, at)?;
            }
            "znode.container.maxPerMinute" => {
                self.container_max_per_minute = to_u32(name, decoded_int(name, value, at)?, at)?;
            }
            "znode.container.maxNeverUsedIntervalMs" => {
                self.container_max_never_used_interval_ms =
                    to_u64(name, decoded_int(name, value, at)?, at)?;
            }
            "follower.nodelay" | "leader.nodelay" => {
                self.warn(
                    at.clone(),
                    format!("-D{name} has no effect in zk (quorum sockets always use TCP_NODELAY)"),
                );
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// `server.N`, `group.N`, `weight.N`, `version`.
    pub(super) fn apply_membership(
        &mut self,
        key: &str,
        value: &str,
        at: &Location,
    ) -> Result<(), ConfigError> {
        if let Some(id) = key.strip_prefix("server.") {
            let id = id_number(key, id, at)?;
            let server = QuorumServer::parse(id, value, self.multi_address_enabled)
                .map_err(|reason| invalid(key, at, reason))?;
            self.servers.insert(id, server);
        } else if let Some(gid) = key.strip_prefix("group.") {
            let gid = id_number(key, gid, at)?;
            let members =
                quorum::parse_group_members(value).map_err(|reason| invalid(key, at, reason))?;
            for sid in &members {
                let elsewhere = self
                    .groups
                    .iter()
                    .find(|(g, m)| **g != gid && m.contains(sid));
                if let Some((other, _)) = elsewhere {
                    return Err(invalid(
                        key,
                        at,
                        format!("server {sid} is also in group.{other}"),
                    ));
                }
            }
            self.groups.insert(gid, members);
        } else if let Some(sid) = key.strip_prefix("weight.") {
            let sid = id_number(key, sid, at)?;
            let weight = value
                .parse::<u64>()
                .map_err(|_| invalid(key, at, format!("invalid weight \"{value}\"")))?;
            self.weights.insert(sid, weight);
        } else if key == "version" {
            let version = u64::from_str_radix(value, 16).map_err(|_| {
                invalid(key, at, format!("invalid hexadecimal version \"{value}\""))
            })?;
            self.config_version = Some(version);
        }
        Ok(())
    }

    /// Keeps a key with no typed field, warning as its kind deserves.
    pub(super) fn keep_extra(&mut self, key: &str, value: &str, at: Location) {
        self.extra.insert(key.to_string(), value.to_string());
        match keys::classify(key) {
            ExtraKind::Documented => {}
            ExtraKind::JavaOnly => {
                self.warn(at, format!("{key} has no effect in zk (it configures a Java-only feature)"));
            }
            ExtraKind::JvmFlagOnly => self.warn(
                at,
                format!("{key} has no effect here: Apache ZooKeeper reads it only as the JVM flag -D{key} (SERVER_JVMFLAGS)"),
            ),
            ExtraKind::Unknown => {
                self.warn(at, format!("unknown key {key}; kept as property zookeeper.{key}"));
            }
        }
    }

    /// Recomputes the settings that default from others.
    pub(super) fn derive(&mut self) {
        if !self.origins.contains_key("dataLogDir") {
            self.data_log_dir = self.data_dir.clone();
        }
        if !self.origins.contains_key("minSessionTimeout") {
            self.min_session_timeout = self.tick_time.saturating_mul(MIN_SESSION_TIMEOUT_TICKS);
        }
        if !self.origins.contains_key("maxSessionTimeout") {
            self.max_session_timeout = self.tick_time.saturating_mul(MAX_SESSION_TIMEOUT_TICKS);
        }
        if self.connect_to_learner_master_limit == 0
            || !self.origins.contains_key("connectToLearnerMasterLimit")
        {
            self.connect_to_learner_master_limit = self.init_limit;
        }
        let mut words = self.whitelist.clone().unwrap_or_default();
        words.insert(ALWAYS_ENABLED_4LW.to_string());
        if self.read_only_mode_enabled {
            words.insert(READ_ONLY_4LW.to_string());
        }
        self.four_letter_words = words;
    }

    /// Checks that need several keys.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.min_session_timeout > self.max_session_timeout {
            let key = if self.origins.contains_key("minSessionTimeout") {
                "minSessionTimeout"
            } else {
                "maxSessionTimeout"
            };
            return Err(invalid(
                key,
                &self.origin_of(&[key, "tickTime"]),
                format!(
                    "minSessionTimeout {} is larger than maxSessionTimeout {}",
                    self.min_session_timeout, self.max_session_timeout
                ),
            ));
        }
        if self.client_port_address.is_some() && self.client_port.is_none() {
            return Err(invalid(
                "clientPortAddress",
                &self.origin_of(&["clientPortAddress"]),
                "set but clientPort is not",
            ));
        }
        if self.secure_client_port_address.is_some() && self.secure_client_port.is_none() {
            return Err(invalid(
                "secureClientPortAddress",
                &self.origin_of(&["secureClientPortAddress"]),
                "set but secureClientPort is not",
            ));
        }
        self.validate_quorum_auth()?;
        let enforced = self.sasl.enforced_schemes();
        if self.sasl.enforce_auth_enabled && !self.sasl.session_require_client_sasl_auth {
            let at = self.origin_of(&["enforce.auth.enabled"]);
            if enforced.is_empty() {
                return Err(invalid(
                    "enforce.auth.enabled",
                    &at,
                    "is true, so enforce.auth.schemes must be configured",
                ));
            }
            if let Some(bad) = enforced
                .iter()
                .find(|s| !matches!(s.as_str(), "sasl" | "digest" | "ip" | "x509"))
            {
                return Err(invalid(
                    "enforce.auth.schemes",
                    &self.origin_of(&["enforce.auth.schemes"]),
                    format!("authentication scheme {bad} is not available (zk has sasl, digest, ip, x509)"),
                ));
            }
        }
        let max_id = if self.extended_types_enabled {
            MAX_EXTENDED_SERVER_ID
        } else {
            MAX_SERVER_ID
        };
        for id in self.servers.keys() {
            if *id == 0 || *id > max_id {
                let key = format!("server.{id}");
                let why = if self.extended_types_enabled {
                    " with extendedTypesEnabled"
                } else {
                    ""
                };
                return Err(invalid(
                    &key,
                    &self.origin_of(&[&key]),
                    format!("server id must be 1..={max_id}{why}"),
                ));
            }
        }
        if self.membership_pending {
            return Ok(());
        }
        self.validate_membership()
    }

    /// Apache's rules for `quorum.auth.*`: requiring SASL needs it enabled, and a member
    /// that requires its learners to authenticate must authenticate itself.
    fn validate_quorum_auth(&self) -> Result<(), ConfigError> {
        let sasl = &self.quorum_sasl;
        for (key, required) in [
            ("quorum.auth.serverRequireSasl", sasl.server_require),
            ("quorum.auth.learnerRequireSasl", sasl.learner_require),
        ] {
            if required && !sasl.enabled {
                return Err(invalid(
                    key,
                    &self.origin_of(&[key]),
                    "is true, so quorum.auth.enableSasl must be true too",
                ));
            }
        }
        if sasl.server_require && !sasl.learner_require {
            return Err(invalid(
                "quorum.auth.serverRequireSasl",
                &self.origin_of(&["quorum.auth.serverRequireSasl"]),
                "is true, so quorum.auth.learnerRequireSasl must be true too (a member that requires its peers to authenticate authenticates itself)",
            ));
        }
        Ok(())
    }

    pub(super) fn validate_membership(&self) -> Result<(), ConfigError> {
        let participants = self.participants().count();
        let first_observer = self.observers().next().map(|s| format!("server.{}", s.id));
        if participants == 0 && !self.standalone_enabled {
            return Err(invalid(
                "standaloneEnabled",
                &self.origin_of(&["standaloneEnabled"]),
                "false requires at least one participant server.N line",
            ));
        }
        if participants <= 1 && self.standalone_enabled {
            if let Some(key) = first_observer {
                return Err(invalid(
                    &key,
                    &self.origin_of(&[&key]),
                    "observers need an ensemble of at least two participants",
                ));
            }
        }
        if !self.is_standalone() {
            for key in ["initLimit", "syncLimit"] {
                let ticks = if key == "initLimit" {
                    self.init_limit
                } else {
                    self.sync_limit
                };
                if ticks == 0 {
                    return Err(ConfigError::Missing {
                        at: Location::Source(self.source.clone()),
                        key: key.to_string(),
                        context: " (server.N lines define an ensemble)".to_string(),
                    });
                }
            }
        }
        if !self.groups.is_empty() {
            for (gid, members) in &self.groups {
                if let Some(sid) = members.iter().find(|sid| !self.servers.contains_key(sid)) {
                    let key = format!("group.{gid}");
                    return Err(invalid(
                        &key,
                        &self.origin_of(&[&key]),
                        format!("server {sid} has no server.{sid} line"),
                    ));
                }
            }
            for server in self.participants() {
                if !self.groups.values().any(|m| m.contains(&server.id)) {
                    let key = format!("server.{}", server.id);
                    return Err(invalid(
                        &key,
                        &self.origin_of(&[&key]),
                        "participant is in no group.N",
                    ));
                }
            }
        }
        Ok(())
    }

    pub(super) fn warn_quorum_size(&mut self) {
        if self.membership_pending || self.is_standalone() {
            return;
        }
        let participants = self.participants().count();
        let at = Location::Source(self.source.clone());
        if participants <= 2 {
            self.warn(
                at,
                "no server failure will be tolerated: an ensemble needs at least 3 participants",
            );
        } else if participants.is_multiple_of(2) {
            self.warn(
                at,
                format!(
                    "{participants} participants tolerate no more failures than {}",
                    participants - 1
                ),
            );
        }
    }

    pub(super) fn warn_relative(&mut self, key: &str, path: &Path, at: &Location) {
        if path.is_relative() && !path.starts_with(".") {
            self.warn(
                at.clone(),
                format!(
                    "{key} {} is relative; prepend ./ to show that is intended",
                    path.display()
                ),
            );
        }
    }

    /// The location of the first of `keys` that was set, else the source as a whole.
    pub(super) fn origin_of(&self, keys: &[&str]) -> Location {
        keys.iter()
            .find_map(|k| self.origins.get(*k))
            .cloned()
            .unwrap_or_else(|| Location::Source(self.source.clone()))
    }

    pub(super) fn warn(&mut self, at: Location, message: impl Into<String>) {
        let warning = ConfigWarning {
            at,
            message: message.into(),
        };
        tracing::warn!("{warning}");
        self.warnings.push(warning);
    }
}
