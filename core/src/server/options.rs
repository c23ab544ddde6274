//! The knobs the running server reads, resolved from zoo.cfg and `-D` properties by
//! `config`, or built directly by tests.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::acl::AclPolicy;
use super::sasl::quorum::{QuorumSaslError, QuorumSaslOptions};
use super::sasl::{AuthEnforcement, SaslConfigError, SaslOptions};
use super::tls::peer::PeerTlsSettings;
use super::tls::TlsSettings;
use super::txn::Rules;

/// Everything the runtime needs to serve clients.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Where clients connect; port 0 picks a free port (tests).
    pub client_addr: SocketAddr,
    pub data_dir: PathBuf,
    pub data_log_dir: PathBuf,
    pub tick_time: Duration,
    pub min_session_timeout_ms: i32,
    pub max_session_timeout_ms: i32,
    /// Connections per client IP; 0 = unlimited.
    pub max_client_cnxns: usize,
    /// What one client, or all of them, may make the server hold (see [`Limits`]).
    pub limits: Limits,
    /// `jute.maxbuffer`.
    pub max_buffer: usize,
    /// Snapshot after about this many txns (`snapCount`; see `snapshotter`).
    pub snap_count: u64,
    /// Snapshot after about this many logged bytes (`snapSizeLimitInKb`); `None`: never.
    pub snap_size_limit: Option<u64>,
    /// fsync the log before acknowledging (`forceSync`).
    pub force_sync: bool,
    /// The validation rules every txn carries.
    pub rules: Rules,
    /// skipACL and superDigest as reads and auth use them.
    pub acl: AclPolicy,
    /// Four-letter words allowed (`4lw.commands.whitelist`).
    pub four_letter_words: BTreeSet<String>,
    pub snap_retain_count: usize,
    /// 0 = no automatic purge.
    pub purge_interval: Duration,
    pub container_check_interval: Duration,
    pub container_max_per_minute: u32,
    /// The text `conf` prints and `/zookeeper/config` holds, if any.
    pub server_id: u64,
    pub client_port_listen_backlog: i32,
    /// `secureClientPort`, as `conf` reports it.
    pub secure_client_port: Option<u16>,
    /// Serve plaintext (or, with port unification, both) on `client_addr`; false when only
    /// `secureClientPort` is configured, and then `client_addr` is the TLS listener's.
    pub serve_plain: bool,
    /// TLS on the client port(s): `secureClientPort`, `client.portUnification`.
    pub tls: Option<TlsOptions>,
    /// SASL (DIGEST-MD5) on the client port, from the JAAS file; `None`: not offered.
    pub sasl: Option<SaslOptions>,
    /// `enforce.auth.*` / `sessionRequireClientSASLAuth`.
    pub enforce_auth: AuthEnforcement,
    /// Where Prometheus scrapes `/metrics` (`metricsProvider.*`); `None`: not served.
    pub metrics_addr: Option<SocketAddr>,
    /// The AdminServer (`admin.*`); `None`: not served (`admin.enableServer=false`, tests).
    pub admin: Option<AdminOptions>,
    /// The zoo.cfg text the server started from (the AdminServer's `initial_configuration`).
    pub initial_config: String,
    /// The system properties Apache would hold (the AdminServer's `system_properties`).
    pub system_properties: BTreeMap<String, String>,
    /// The `server.N` lines when this server is an ensemble member; `None` standalone.
    pub ensemble: Option<EnsembleOptions>,
}

/// Bounds on what clients can make the server hold. Apache's settings where it has one
/// (`maxCnxns`, `globalOutstandingLimit`, `nio.sessionlessCnxnTimeout`), zk's own otherwise;
/// the byte budgets follow `jute.maxbuffer` so that one largest request or reply always fits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// `maxCnxns`: client connections in total; 0 = unlimited.
    pub max_cnxns: usize,
    /// `globalOutstandingLimit`: writes in flight (received, not yet answered) before every
    /// connection stops reading new requests.
    pub global_outstanding: usize,
    /// `nio.sessionlessCnxnTimeout`: a connection that has not sent its ConnectRequest (or a
    /// four-letter word) by then is closed.
    pub sessionless_timeout: Duration,
    /// Reply and notification bytes queued for one connection's socket before that
    /// connection stops reading requests (a slow reader).
    pub conn_backlog_bytes: usize,
    /// Queued bytes at which a connection that still does not read is dropped; only
    /// notifications can push a paused connection this far.
    pub conn_backlog_drop_bytes: usize,
    /// Bytes of one connection's writes in flight before it stops reading.
    pub conn_inflight_write_bytes: usize,
    /// Requests of one connection waiting behind its own writes before it stops reading.
    pub conn_deferred_requests: usize,
    /// Auth ids one connection may hold, and their total size.
    pub conn_auth_ids: usize,
    pub conn_auth_bytes: usize,
    /// `maxWatchesPerSession` (zk's own): watches one connection may hold; 0 = unlimited.
    pub conn_watches: usize,
    /// Bytes of watched paths one connection may hold.
    pub conn_watch_path_bytes: usize,
    /// A reply whose body would be larger is answered with BADARGUMENTS instead.
    pub reply_bytes: usize,
}

impl Limits {
    /// The defaults for a server whose `jute.maxbuffer` is `max_buffer`.
    pub fn for_max_buffer(max_buffer: usize) -> Limits {
        let one_record = max_buffer.max(64 * 1024);
        Limits {
            max_cnxns: super::config::DEFAULT_MAX_CNXNS as usize,
            global_outstanding: super::config::DEFAULT_GLOBAL_OUTSTANDING_LIMIT as usize,
            sessionless_timeout: Duration::from_millis(
                super::config::DEFAULT_SESSIONLESS_CNXN_TIMEOUT_MS,
            ),
            conn_backlog_bytes: (2 * one_record).max(4 << 20),
            conn_backlog_drop_bytes: (8 * one_record).max(64 << 20),
            conn_inflight_write_bytes: (2 * one_record).max(4 << 20),
            conn_deferred_requests: 4096,
            conn_auth_ids: 32,
            conn_auth_bytes: 16 * 1024,
            conn_watches: super::config::DEFAULT_MAX_WATCHES_PER_SESSION as usize,
            conn_watch_path_bytes: 64 << 20,
            // Room for a reply's header and Stat around a value of the largest size.
            reply_bytes: max_buffer + 1024,
        }
    }
}

/// Where the client port speaks TLS, and with what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOptions {
    /// `secureClientPortAddress:secureClientPort`: a listener that speaks only TLS.
    pub secure_addr: Option<SocketAddr>,
    /// `client.portUnification`: the plaintext listener also takes TLS.
    pub port_unification: bool,
    pub settings: TlsSettings,
}

/// Where and under which path the AdminServer answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminOptions {
    /// `admin.serverAddress:admin.serverPort`.
    pub addr: SocketAddr,
    /// `admin.commandURL`: commands are `<command_url>/<name>`.
    pub command_url: String,
}

/// What an ensemble member knows of its peers, from `server.N` lines and `myid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnsembleOptions {
    /// `myid`: this server's `N`.
    pub my_id: u64,
    /// Every `server.N`, this one included.
    pub peers: std::collections::BTreeMap<u64, Peer>,
    /// `initLimit` and `syncLimit`, in ticks.
    pub init_limit: u32,
    pub sync_limit: u32,
    /// `readonlymode.enabled`.
    pub read_only_enabled: bool,
    /// TLS and SASL between members.
    pub security: QuorumSecurity,
}

/// How members secure the connections between them (Apache's keys).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuorumSecurity {
    /// `sslQuorum`: dial members over TLS, and accept only TLS unless `port_unification`.
    pub ssl_quorum: bool,
    /// `portUnification`: the quorum and election ports accept TLS and plaintext.
    pub port_unification: bool,
    /// `sslQuorumReloadCertFiles`: new connections use the store files as they change.
    pub reload_cert_files: bool,
    /// `ssl.quorum.*`; set when `ssl_quorum` or `port_unification` is.
    pub tls: Option<PeerTlsSettings>,
    /// `quorum.auth.*`; set when `quorum.auth.enableSasl` is.
    pub sasl: Option<QuorumSaslOptions>,
}

/// One `server.N` line, as the quorum layer dials it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub host: String,
    pub quorum_port: u16,
    pub election_port: u16,
    pub observer: bool,
}

impl Peer {
    /// `host:port` for one of this peer's ports, IPv6 literals in brackets.
    pub fn socket_address(&self, port: u16) -> String {
        format!("{}:{port}", super::config::bracketed(&self.host))
    }
}

impl EnsembleOptions {
    pub fn me(&self) -> Option<&Peer> {
        self.peers.get(&self.my_id)
    }

    pub fn voters(&self) -> impl Iterator<Item = (u64, &Peer)> {
        self.peers
            .iter()
            .filter(|(_, p)| !p.observer)
            .map(|(id, p)| (*id, p))
    }

    pub fn observers(&self) -> impl Iterator<Item = (u64, &Peer)> {
        self.peers
            .iter()
            .filter(|(_, p)| p.observer)
            .map(|(id, p)| (*id, p))
    }
}

impl ServerOptions {
    /// Standalone defaults with the given address and data directory (tests and the
    /// embedded default).
    pub fn standalone(client_addr: SocketAddr, data_dir: PathBuf) -> Self {
        let tick = Duration::from_millis(2000);
        ServerOptions {
            client_addr,
            data_log_dir: data_dir.clone(),
            data_dir,
            tick_time: tick,
            min_session_timeout_ms: 4000,
            max_session_timeout_ms: 40000,
            max_client_cnxns: 60,
            limits: Limits::for_max_buffer(crate::proto::DEFAULT_MAX_BUFFER),
            max_buffer: crate::proto::DEFAULT_MAX_BUFFER,
            snap_count: super::config::DEFAULT_SNAP_COUNT,
            snap_size_limit: Some(super::config::DEFAULT_SNAP_SIZE_LIMIT_KB * 1024),
            force_sync: true,
            rules: Rules::default(),
            acl: AclPolicy::default(),
            four_letter_words: ["srvr".to_owned()].into_iter().collect(),
            snap_retain_count: 3,
            purge_interval: Duration::ZERO,
            container_check_interval: Duration::from_secs(60),
            container_max_per_minute: 10_000,
            server_id: 0,
            client_port_listen_backlog: -1,
            secure_client_port: None,
            serve_plain: true,
            tls: None,
            sasl: None,
            enforce_auth: AuthEnforcement::default(),
            metrics_addr: None,
            admin: None,
            initial_config: String::new(),
            system_properties: BTreeMap::new(),
            ensemble: None,
        }
    }

    /// Clamps a requested session timeout into `[min, max]`.
    pub fn negotiate_timeout(&self, requested: i32) -> i32 {
        requested.clamp(
            self.min_session_timeout_ms,
            self.max_session_timeout_ms.max(self.min_session_timeout_ms),
        )
    }

    /// The folder holding snapshots (`dataDir/version-2`).
    pub fn snap_dir(&self) -> PathBuf {
        self.data_dir.join("version-2")
    }

    /// The folder holding the log (`dataLogDir/version-2`).
    pub fn log_dir(&self) -> PathBuf {
        self.data_log_dir.join("version-2")
    }
}

/// The first address of `host` (a name, an IPv4 address or an IPv6 one, bracketed or not).
fn resolve(host: &str, port: u16) -> Result<SocketAddr, OptionsError> {
    use std::net::ToSocketAddrs;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let error = |reason: String| OptionsError::Resolve {
        host: host.to_owned(),
        reason,
    };
    (host, port)
        .to_socket_addrs()
        .map_err(|e| error(e.to_string()))?
        .next()
        .ok_or_else(|| error("no address".into()))
}

/// The TLS listeners' settings, when `secureClientPort` or `client.portUnification` asks
/// for TLS. `secure_addr` is the TLS-only listener beside the plaintext one, if any.
fn tls_options(
    cfg: &super::config::ServerConfig,
    secure_addr: Option<SocketAddr>,
    serve_plain: bool,
) -> Result<Option<TlsOptions>, OptionsError> {
    let tls = &cfg.tls;
    let port_unification = tls.port_unification && serve_plain;
    if cfg.secure_client_port.is_none() && !port_unification {
        return Ok(None);
    }
    Ok(Some(TlsOptions {
        secure_addr,
        port_unification,
        settings: tls_settings(
            &tls.keys,
            "ssl.",
            "secureClientPort and client.portUnification",
            tls.super_user.clone(),
        )?,
    }))
}

/// The settings of one TLS endpoint from its keys (`prefix`: `ssl.` or `ssl.quorum.`, for
/// messages); `needed_for` says what requires the key store.
fn tls_settings(
    keys: &super::config::TlsKeys,
    prefix: &'static str,
    needed_for: &str,
    super_user: Option<String>,
) -> Result<TlsSettings, OptionsError> {
    let key_named = |name: &str| -> &'static str {
        match (prefix, name) {
            ("ssl.", "keyStore.location") => "ssl.keyStore.location",
            ("ssl.", "keyStore.passwordPath") => "ssl.keyStore.passwordPath",
            ("ssl.", _) => "ssl.trustStore.passwordPath",
            (_, "keyStore.location") => "ssl.quorum.keyStore.location",
            (_, "keyStore.passwordPath") => "ssl.quorum.keyStore.passwordPath",
            _ => "ssl.quorum.trustStore.passwordPath",
        }
    };
    let store_error = |key: &'static str| {
        move |e: std::io::Error| OptionsError::Tls {
            key,
            reason: format!("cannot read the password file {e}"),
        }
    };
    let key_store = keys
        .key_store
        .spec()
        .map_err(store_error(key_named("keyStore.passwordPath")))?
        .ok_or(OptionsError::Tls {
            key: key_named("keyStore.location"),
            reason: format!("required for {needed_for}"),
        })?;
    let trust_store = keys
        .trust_store
        .spec()
        .map_err(store_error(key_named("trustStore.passwordPath")))?;
    Ok(TlsSettings {
        key_store,
        trust_store,
        client_auth: keys.client_auth,
        protocols: keys.protocols.clone(),
        cipher_suites: keys.cipher_suites.clone(),
        super_user,
    })
}

/// How members secure their connections: `sslQuorum`, `portUnification` and `ssl.quorum.*`.
fn quorum_security(cfg: &super::config::ServerConfig) -> Result<QuorumSecurity, OptionsError> {
    let quorum = &cfg.quorum_tls;
    let tls = if quorum.ssl_quorum || quorum.port_unification {
        let settings = tls_settings(
            &quorum.keys,
            "ssl.quorum.",
            "sslQuorum and portUnification",
            None,
        )?;
        if settings.trust_store.is_none() {
            return Err(OptionsError::Tls {
                key: "ssl.quorum.trustStore.location",
                reason: "required for sslQuorum and portUnification: members verify each other's certificates".into(),
            });
        }
        Some(PeerTlsSettings {
            tls: settings,
            hostname_verification: quorum.hostname_verification,
        })
    } else {
        None
    };
    let sasl_config = &cfg.quorum_sasl;
    let sasl = if sasl_config.enabled {
        let path = cfg
            .sasl
            .login_config
            .as_deref()
            .ok_or(QuorumSaslError::NoLoginConfig)?;
        Some(QuorumSaslOptions::from_jaas_file(
            path,
            &sasl_config.server_login_context,
            &sasl_config.learner_login_context,
            sasl_config.learner_require,
            sasl_config.server_require,
        )?)
    } else {
        None
    };
    Ok(QuorumSecurity {
        ssl_quorum: quorum.ssl_quorum,
        port_unification: quorum.port_unification,
        reload_cert_files: quorum.reload_cert_files,
        tls,
        sasl,
    })
}

/// The SASL users, when `-Djava.security.auth.login.config` names a JAAS file: read now, so
/// a malformed file or a missing section stops the start (as in Apache).
fn sasl_options(cfg: &super::config::ServerConfig) -> Result<Option<SaslOptions>, OptionsError> {
    let Some(path) = &cfg.sasl.login_config else {
        return Ok(None);
    };
    let section = cfg
        .sasl
        .server_section
        .as_deref()
        .unwrap_or(super::sasl::DEFAULT_SECTION);
    let super_users = cfg.sasl.super_users.values().cloned().collect();
    match SaslOptions::from_jaas_file(path, section, super_users) {
        Ok(options) => Ok(Some(options)),
        // A file made for quorum SASL alone has no `Server` section; Apache then offers no
        // SASL on the client port. A section named on purpose must be there.
        Err(SaslConfigError::NoSection { .. }) if cfg.sasl.server_section.is_none() => {
            tracing::info!(
                "{} has no '{section}' section: no SASL on the client port",
                path.display()
            );
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// Why a parsed configuration cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum OptionsError {
    #[error("no clientPort is configured (set clientPort, or a client port on this server's server.N line)")]
    NoClientPort,
    #[error("server.N lines define an ensemble, but dataDir has no myid file")]
    NoMyid,
    #[error("myid is {0}, but there is no server.{0} line")]
    NotInEnsemble(u64),
    #[error("{key}: {reason}")]
    Tls { key: &'static str, reason: String },
    #[error("SASL: {0}")]
    Sasl(#[from] SaslConfigError),
    #[error("quorum SASL (quorum.auth.*): {0}")]
    QuorumSasl(#[from] QuorumSaslError),
    #[error("cannot resolve {host} (clientPortAddress, metricsProvider.httpHost or admin.serverAddress): {reason}")]
    Resolve { host: String, reason: String },
    #[error(transparent)]
    Config(#[from] super::config::ConfigError),
}

impl ServerOptions {
    /// Resolves a parsed zoo.cfg into what the runtime reads.
    pub fn from_config(cfg: &super::config::ServerConfig) -> Result<Self, OptionsError> {
        let myid = cfg.read_myid()?;
        let secure_addr = match cfg.secure_client_port {
            Some(port) => {
                let host = cfg
                    .secure_client_port_address
                    .as_deref()
                    .or(cfg.client_port_address.as_deref())
                    .unwrap_or("0.0.0.0");
                Some(resolve(host, port)?)
            }
            None => None,
        };
        let (client_addr, serve_plain) = match cfg.client_address(myid) {
            Some(client) => (resolve(&client.host, client.port)?, true),
            None => (secure_addr.ok_or(OptionsError::NoClientPort)?, false),
        };
        let mut opts = ServerOptions::standalone(client_addr, cfg.data_dir.clone());
        opts.serve_plain = serve_plain;
        opts.tls = tls_options(
            cfg,
            if serve_plain { secure_addr } else { None },
            serve_plain,
        )?;
        opts.data_log_dir = cfg.data_log_dir.clone();
        opts.sasl = sasl_options(cfg)?;
        opts.enforce_auth = AuthEnforcement {
            schemes: cfg.sasl.enforced_schemes(),
        };
        opts.tick_time = Duration::from_millis(u64::from(cfg.tick_time));
        opts.min_session_timeout_ms = i32::try_from(cfg.min_session_timeout).unwrap_or(i32::MAX);
        opts.max_session_timeout_ms = i32::try_from(cfg.max_session_timeout).unwrap_or(i32::MAX);
        opts.max_client_cnxns = cfg.max_client_cnxns as usize;
        opts.max_buffer = cfg.jute_max_buffer as usize;
        opts.limits = Limits {
            max_cnxns: cfg.max_cnxns as usize,
            global_outstanding: (cfg.global_outstanding_limit as usize).max(1),
            sessionless_timeout: Duration::from_millis(cfg.sessionless_cnxn_timeout_ms.max(1)),
            conn_watches: cfg.max_watches_per_session as usize,
            ..Limits::for_max_buffer(opts.max_buffer)
        };
        opts.snap_count = cfg.snap_count.max(1);
        opts.snap_size_limit = cfg.snap_size_limit_kb.map(|kb| kb.saturating_mul(1024));
        opts.force_sync = cfg.force_sync;
        opts.acl = AclPolicy {
            skip_acl: cfg.skip_acl,
            super_digest: cfg.super_digest.clone(),
        };
        opts.rules = super::txn::Rules {
            skip_acl: cfg.skip_acl,
            extended_types: cfg.extended_types_enabled,
            enforce_quota: cfg.enforce_quota,
            reconfig_enabled: cfg.reconfig_enabled,
        };
        opts.four_letter_words = cfg.four_letter_words.clone();
        opts.snap_retain_count = cfg.autopurge_snap_retain_count.max(3) as usize;
        opts.purge_interval =
            Duration::from_secs(u64::from(cfg.autopurge_purge_interval_hours) * 3600);
        opts.container_check_interval =
            Duration::from_millis(cfg.container_check_interval_ms.max(1));
        opts.container_max_per_minute = cfg.container_max_per_minute;
        opts.server_id = myid.unwrap_or(0);
        opts.client_port_listen_backlog = cfg
            .client_port_listen_backlog
            .map_or(-1, |b| i32::try_from(b).unwrap_or(i32::MAX));
        opts.secure_client_port = cfg.secure_client_port;
        if cfg.metrics.prometheus() {
            opts.metrics_addr = Some(resolve(&cfg.metrics.http_host, cfg.metrics.http_port)?);
        }
        if cfg.admin.enable_server {
            opts.admin = Some(AdminOptions {
                addr: resolve(&cfg.admin.server_address, cfg.admin.server_port)?,
                command_url: cfg.admin.command_url.clone(),
            });
        }
        opts.initial_config = cfg.initial_config.clone();
        opts.system_properties = cfg.system_properties.clone();
        if !cfg.is_standalone() {
            let my_id = myid.ok_or(OptionsError::NoMyid)?;
            if !cfg.servers.contains_key(&my_id) {
                return Err(OptionsError::NotInEnsemble(my_id));
            }
            let peers = cfg
                .servers
                .values()
                .filter_map(|s| {
                    let addr = s.addresses.first()?;
                    Some((
                        s.id,
                        Peer {
                            host: addr.host.clone(),
                            quorum_port: addr.quorum_port,
                            election_port: addr.election_port,
                            observer: s.peer_type == super::config::PeerType::Observer,
                        },
                    ))
                })
                .collect();
            opts.ensemble = Some(EnsembleOptions {
                my_id,
                peers,
                init_limit: cfg.init_limit,
                sync_limit: cfg.sync_limit,
                read_only_enabled: cfg.read_only_mode_enabled,
                security: quorum_security(cfg)?,
            });
        }
        Ok(opts)
    }
}
