//! Server configuration: an unchanged Apache `zoo.cfg`, plus JVM-style `-D` system properties,
//! turned into one typed [`ServerConfig`].
//!
//! # Sources and precedence
//!
//! Apache's `QuorumPeerConfig` handles some zoo.cfg keys itself ("direct" keys: `dataDir`,
//! `tickTime`, `server.N`, ...) and turns every other key `k` into the system property
//! `zookeeper.k`, which the rest of the server reads (`snapCount`, `4lw.commands.whitelist`,
//! `admin.*`, ...). zk keeps that model:
//!
//! - A zoo.cfg line always beats `-Dzookeeper.<key>` for the same key, because Apache's
//!   `System.setProperty` from zoo.cfg overwrites the `-D` value.
//! - `-Dzookeeper.<key>` sets the same setting as zoo.cfg key `<key>` when zoo.cfg is silent,
//!   for every key Apache reads as a system property.
//! - `-Dzookeeper.<key>` for a direct key (`tickTime`, `clientPort`, `server.N`, ...) is ignored
//!   with a warning: Apache never reads those from system properties, so honouring them would
//!   make the same command line mean two things.
//! - `jute.maxbuffer`, `readonlymode.enabled` and `znode.container.*` are un-prefixed JVM
//!   properties in Apache: only `-D<name>` sets them. A zoo.cfg line for them is accepted with a
//!   warning and has no effect, as in Apache.
//!
//! Every key Apache documents is accepted. Keys zk acts on become typed fields; other keys
//! Apache documents are kept in [`ServerConfig::extra`]; keys configuring Java-only machinery
//! (`authProvider.N`, `metricsProvider.*`, `jvm.pause.*`, the `ssl.*` keys zk has no use
//! for, ...) and unknown keys are kept too, each with one warning. The client port's TLS keys
//! (`ssl.keyStore.*`, `ssl.clientAuth`, ...) are typed in [`TlsConfig`], the quorum's
//! (`sslQuorum`, `ssl.quorum.*`) in [`QuorumTlsConfig`] and quorum SASL (`quorum.auth.*`) in
//! [`QuorumSaslConfig`], each checked as it is read. A bad value
//! (non-integer, port out of range, `minSessionTimeout > maxSessionTimeout`, an unknown
//! four-letter word, a malformed `server.N`) is a [`ConfigError`] naming file, line and reason.
//!
//! Choices where Apache is lax or silent:
//! - Booleans must be `true`/`false` (any case); the yes/no keys (`forceSync`, `skipACL`,
//!   `leaderServes`) also take `yes`/`no`. Apache silently reads most bad booleans as false.
//! - Integers read by Apache through `Integer.getInteger` (system-property keys) accept Java's
//!   `decode` forms (`0x10`, `#10`, `010` = 8); direct keys accept decimal only, as `parseInt`.
//! - Four-letter words in `4lw.commands.whitelist` are checked against [`FOUR_LETTER_WORDS`]
//!   (case-insensitive). `srvr` is always enabled and `isro` is added with
//!   `readonlymode.enabled`, as in Apache.
//! - Server ids are 1..=255 (..=254 with `extendedTypesEnabled`), as session ids carry the id
//!   in their top byte.
//! - [`ServerConfig::embedded_default`] (no zoo.cfg): standalone on 127.0.0.1:2181, dataDir
//!   `./zk-data`, tickTime 2000, AdminServer off, four-letter words `ruok` and `srvr`: `srvr`
//!   because Apache always has it, `ruok` because health checks (`echo ruok | nc`) expect it;
//!   the listener is loopback-only, so nothing more is exposed.
//! - `admin.serverAddress` defaults to `127.0.0.1` (Apache: `0.0.0.0`): the AdminServer needs
//!   no credentials, so it stays on the machine unless configured otherwise.
//!
//! # Layout
//!
//! - this file: defaults, [`ServerConfig`] and its public API
//! - `apply`: key dispatch, derived defaults, cross-key validation
//! - `values`: single values read as Apache reads them (`parseInt`, `Long.decode`, booleans)
//! - `error`: [`ConfigError`], [`ConfigWarning`], [`Location`]
//! - `properties`: Java `.properties` syntax
//! - `quorum`: `server.N`, `group.N`, `weight.N`
//! - `keys`: tables of the other keys Apache knows and what zk does with them
//! - `jvm`: `-D` flags from `SERVER_JVMFLAGS` / `JVMFLAGS`

mod apply;
mod error;
mod jvm;
mod keys;
mod properties;
mod quorum;
mod values;

pub use self::error::{ConfigError, ConfigWarning, Location};
pub use self::jvm::{parse_jvm_flags, server_jvm_flags_from_env};

/// The `key=value` pairs of a Java properties file in file order (e.g. a client's
/// `ZKClientConfig` file); an unreadable or malformed file is an error naming it.
pub fn read_properties_file(path: &std::path::Path) -> Result<Vec<(String, String)>, ConfigError> {
    let text = values::read_text(path)?;
    let parsed = properties::parse(&text, &path.display().to_string())?;
    Ok(parsed.into_iter().map(|p| (p.key, p.value)).collect())
}
pub(crate) use self::keys::TEST_ZXID_COUNTER_LIMIT;
pub(crate) use self::quorum::bracketed;
pub use self::quorum::{ClientAddress, PeerType, QuorumAddress, QuorumServer};

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use self::keys::ExtraKind;
use self::values::{invalid, line_at, read_text, version_from_file_name};
use super::tls::{ClientAuth, StoreSpec, StoreType, TlsVersion};

// ---------------------------------------------------------------------------------------------
// Defaults: Apache's, unless marked EMBEDDED.
// ---------------------------------------------------------------------------------------------

/// `tickTime` when zoo.cfg omits it (`ZooKeeperServer.DEFAULT_TICK_TIME`; the sample uses 2000).
pub const DEFAULT_TICK_TIME_MS: u32 = 3000;
/// `maxClientCnxns`: connections per client IP; 0 = unlimited.
pub const DEFAULT_MAX_CLIENT_CNXNS: u32 = 60;
/// `minSessionTimeout` defaults to this many ticks.
pub const MIN_SESSION_TIMEOUT_TICKS: u32 = 2;
/// `maxSessionTimeout` defaults to this many ticks.
pub const MAX_SESSION_TIMEOUT_TICKS: u32 = 20;
/// `electionAlg`: the only one accepted.
pub const ELECTION_ALG: u32 = 3;
/// `autopurge.snapRetainCount` default, which is also its minimum.
pub const MIN_SNAP_RETAIN_COUNT: u32 = 3;
/// `autopurge.purgeInterval` in hours; 0 = no automatic purge.
pub const DEFAULT_PURGE_INTERVAL_HOURS: u32 = 0;
/// `snapCount`: txns between snapshots (randomised in `[snapCount/2+1, snapCount]`).
pub const DEFAULT_SNAP_COUNT: u64 = 100_000;
/// Smallest `snapCount`; smaller values are raised to it with a warning, as in Apache.
pub const MIN_SNAP_COUNT: u64 = 2;
/// `globalOutstandingLimit`: queued requests before the server stops reading.
pub const DEFAULT_GLOBAL_OUTSTANDING_LIMIT: u32 = 1000;
/// `maxCnxns`: total client connections; 0 = unlimited.
pub const DEFAULT_MAX_CNXNS: u32 = 0;
/// `nio.sessionlessCnxnTimeout` in ms: a connection that has not completed its handshake by
/// then is closed.
pub const DEFAULT_SESSIONLESS_CNXN_TIMEOUT_MS: u64 = 10_000;
/// zk's own `maxWatchesPerSession` (Apache has no such limit): watches one connection may hold;
/// more registrations get BADARGUMENTS. 0 = unlimited.
pub const DEFAULT_MAX_WATCHES_PER_SESSION: u64 = 1_000_000;
/// `preAllocSize` in KiB: txn log preallocation.
pub const DEFAULT_PRE_ALLOC_SIZE_KB: u64 = 65_536;
/// `snapSizeLimitInKb`: snapshot after this much logged data (≤ 0 disables).
pub const DEFAULT_SNAP_SIZE_LIMIT_KB: u64 = 4_194_304;
/// `fsync.warningthresholdms`.
pub const DEFAULT_FSYNC_WARNING_THRESHOLD_MS: u64 = 1000;
/// `-Djute.maxbuffer`: largest record in bytes.
pub const DEFAULT_JUTE_MAX_BUFFER: u32 = 0xfffff;
/// `-Dznode.container.checkIntervalMs`.
pub const DEFAULT_CONTAINER_CHECK_INTERVAL_MS: u64 = 60_000;
/// `-Dznode.container.maxPerMinute`.
pub const DEFAULT_CONTAINER_MAX_PER_MINUTE: u32 = 10_000;
/// `-Dznode.container.maxNeverUsedIntervalMs`; 0 = never-used containers are never deleted.
pub const DEFAULT_CONTAINER_MAX_NEVER_USED_INTERVAL_MS: u64 = 0;
/// `multiAddress.reachabilityCheckTimeoutMs`.
pub const DEFAULT_MULTI_ADDRESS_REACHABILITY_CHECK_TIMEOUT_MS: u32 = 1000;
/// `admin.serverAddress`. ZK: loopback, where Apache binds `0.0.0.0`: the AdminServer has no
/// authentication (as in 3.8) and `set_trace_mask`/the resets change state, so it is exposed
/// beyond the machine only when an operator names an address.
pub const DEFAULT_ADMIN_SERVER_ADDRESS: &str = "127.0.0.1";
/// `admin.serverPort`.
pub const DEFAULT_ADMIN_SERVER_PORT: u16 = 8080;
/// `admin.idleTimeout` in ms.
pub const DEFAULT_ADMIN_IDLE_TIMEOUT_MS: u64 = 30_000;
/// `admin.commandURL`.
pub const DEFAULT_ADMIN_COMMAND_URL: &str = "/commands";
/// `admin.rateLimiterIntervalInMS` (3.9: snapshot/restore commands).
pub const DEFAULT_ADMIN_RATE_LIMITER_INTERVAL_MS: u64 = 300_000;
/// `metricsProvider.className` that turns on the Prometheus endpoint (Apache's class name).
pub const PROMETHEUS_METRICS_PROVIDER: &str =
    "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider";
/// `metricsProvider.httpHost`.
pub const DEFAULT_METRICS_HTTP_HOST: &str = "0.0.0.0";
/// `metricsProvider.httpPort`.
pub const DEFAULT_METRICS_HTTP_PORT: u16 = 7000;
/// Largest `server.N` id.
pub const MAX_SERVER_ID: u64 = 255;
/// Largest `server.N` id with `extendedTypesEnabled` (0xff marks extended session ids).
pub const MAX_EXTENDED_SERVER_ID: u64 = 254;
/// Every four-letter word; `4lw.commands.whitelist=*` enables them all.
pub const FOUR_LETTER_WORDS: &[&str] = &[
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "ruok", "stmk", "srst", "srvr", "stat",
    "wchc", "wchp", "wchs", "mntr", "isro", "hash",
];
/// Enabled whatever the whitelist says (`zkServer.sh status` uses it).
pub const ALWAYS_ENABLED_4LW: &str = "srvr";
/// Added to the whitelist when `readonlymode.enabled=true`.
pub const READ_ONLY_4LW: &str = "isro";

/// EMBEDDED: `dataDir` of [`ServerConfig::embedded_default`].
pub const EMBEDDED_DATA_DIR: &str = "./zk-data";
/// EMBEDDED: `tickTime` (the value of Apache's sample zoo.cfg).
pub const EMBEDDED_TICK_TIME_MS: u32 = 2000;
/// EMBEDDED: `initLimit` (sample zoo.cfg).
pub const EMBEDDED_INIT_LIMIT: u32 = 10;
/// EMBEDDED: `syncLimit` (sample zoo.cfg).
pub const EMBEDDED_SYNC_LIMIT: u32 = 5;
/// EMBEDDED: `clientPort`.
pub const EMBEDDED_CLIENT_PORT: u16 = 2181;
/// `quorum.auth.learner.saslLoginContext`: the JAAS section a dialing member logs in with.
pub const DEFAULT_QUORUM_LEARNER_LOGIN_CONTEXT: &str = "QuorumLearner";
/// `quorum.auth.server.saslLoginContext`: the JAAS section peers authenticate against.
pub const DEFAULT_QUORUM_SERVER_LOGIN_CONTEXT: &str = "QuorumServer";
/// EMBEDDED: `clientPortAddress` (loopback only).
pub const EMBEDDED_CLIENT_PORT_ADDRESS: &str = "127.0.0.1";
/// EMBEDDED: `4lw.commands.whitelist`.
pub const EMBEDDED_4LW_WHITELIST: &[&str] = &["ruok", "srvr"];

/// `admin.*`: Apache's HTTP AdminServer, served by `server::admin` on
/// `serverAddress:serverPort` under `commandURL` when `enableServer` is true. The TLS keys
/// (`portUnification`, `forceHttps`, `needClientAuth`) and the 3.9 snapshot/restore keys are
/// parsed and kept; zk serves plain HTTP and 3.8's commands only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminConfig {
    /// `admin.enableServer` (true).
    pub enable_server: bool,
    /// `admin.serverAddress` (zk: 127.0.0.1; Apache: 0.0.0.0).
    pub server_address: String,
    /// `admin.serverPort` (8080).
    pub server_port: u16,
    /// `admin.idleTimeout` in ms (30000).
    pub idle_timeout_ms: u64,
    /// `admin.commandURL` (`/commands`).
    pub command_url: String,
    /// `admin.portUnification` (false).
    pub port_unification: bool,
    /// `admin.forceHttps` (false).
    pub force_https: bool,
    /// `admin.needClientAuth` (false).
    pub need_client_auth: bool,
    /// `admin.rateLimiterIntervalInMS` (300000).
    pub rate_limiter_interval_ms: u64,
    /// `admin.snapshot.enabled` (true).
    pub snapshot_enabled: bool,
    /// `admin.restore.enabled` (true).
    pub restore_enabled: bool,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            enable_server: true,
            server_address: DEFAULT_ADMIN_SERVER_ADDRESS.to_string(),
            server_port: DEFAULT_ADMIN_SERVER_PORT,
            idle_timeout_ms: DEFAULT_ADMIN_IDLE_TIMEOUT_MS,
            command_url: DEFAULT_ADMIN_COMMAND_URL.to_string(),
            port_unification: false,
            force_https: false,
            need_client_auth: false,
            rate_limiter_interval_ms: DEFAULT_ADMIN_RATE_LIMITER_INTERVAL_MS,
            snapshot_enabled: true,
            restore_enabled: true,
        }
    }
}

/// `metricsProvider.*`: which metrics provider, and where Prometheus scrapes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    /// `metricsProvider.className` (unset: Apache's default provider, which serves nothing
    /// over HTTP; [`PROMETHEUS_METRICS_PROVIDER`] serves `/metrics`).
    pub class_name: Option<String>,
    /// `metricsProvider.httpHost` (0.0.0.0).
    pub http_host: String,
    /// `metricsProvider.httpPort` (7000).
    pub http_port: u16,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            class_name: None,
            http_host: DEFAULT_METRICS_HTTP_HOST.to_string(),
            http_port: DEFAULT_METRICS_HTTP_PORT,
        }
    }
}

impl MetricsConfig {
    /// Whether the Prometheus endpoint is configured.
    pub fn prometheus(&self) -> bool {
        self.class_name.as_deref() == Some(PROMETHEUS_METRICS_PROVIDER)
    }
}

/// The keys one TLS endpoint shares with the other, as Apache names them under `ssl.` (the
/// client port) and `ssl.quorum.` (the quorum and election ports). Values are checked when
/// read; the store files when the server starts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsKeys {
    /// `*.keyStore.location`, `.password` (or `.passwordPath`), `.type`.
    pub key_store: StoreKeys,
    /// `*.trustStore.location`, `.password` (or `.passwordPath`), `.type`.
    pub trust_store: StoreKeys,
    /// `*.clientAuth` (need).
    pub client_auth: ClientAuth,
    /// `*.protocol` / `*.enabledProtocols`, resolved to what rustls speaks; empty = both.
    pub protocols: Vec<TlsVersion>,
    /// `*.ciphersuites` names rustls supports; empty = rustls' defaults.
    pub cipher_suites: Vec<String>,
    /// `*.enabledProtocols` was set (it beats `*.protocol`).
    enabled_protocols_set: bool,
}

/// The client port's TLS keys (system-property keys: zoo.cfg or `-Dzookeeper.<key>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsConfig {
    /// `ssl.keyStore.*`, `ssl.trustStore.*`, `ssl.clientAuth`, `ssl.protocol`, ...
    pub keys: TlsKeys,
    /// `client.portUnification` (false): the plaintext client port also accepts TLS.
    pub port_unification: bool,
    /// `X509AuthenticationProvider.superUser` (unset): this subject is `super` too.
    pub super_user: Option<String>,
}

/// TLS between ensemble members: `sslQuorum`, `portUnification` and
/// `sslQuorumReloadCertFiles` (zoo.cfg only, as in Apache) and the `ssl.quorum.*` keys
/// (zoo.cfg or `-Dzookeeper.ssl.quorum.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumTlsConfig {
    /// `sslQuorum` (false): members dial each other over TLS, and accept only TLS unless
    /// `portUnification`.
    pub ssl_quorum: bool,
    /// `portUnification` (false): the quorum and election ports accept TLS and plaintext
    /// (the rolling upgrade to `sslQuorum`).
    pub port_unification: bool,
    /// `sslQuorumReloadCertFiles` (false): new connections use the stores' files as they
    /// change.
    pub reload_cert_files: bool,
    /// `ssl.quorum.hostnameVerification` (true): a peer's certificate must name the address
    /// (or host) of the `server.N` it is.
    pub hostname_verification: bool,
    /// `ssl.quorum.keyStore.*`, `ssl.quorum.trustStore.*`, `ssl.quorum.clientAuth`, ...
    pub keys: TlsKeys,
}

impl Default for QuorumTlsConfig {
    fn default() -> Self {
        QuorumTlsConfig {
            ssl_quorum: false,
            port_unification: false,
            reload_cert_files: false,
            hostname_verification: true,
            keys: TlsKeys::default(),
        }
    }
}

/// SASL between ensemble members (`quorum.auth.*`, zoo.cfg only, as in Apache), from the
/// JAAS file named by `-Djava.security.auth.login.config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumSaslConfig {
    /// `quorum.auth.enableSasl` (false).
    pub enabled: bool,
    /// `quorum.auth.learnerRequireSasl` (false): refuse to talk to a member that does not
    /// authenticate this one.
    pub learner_require: bool,
    /// `quorum.auth.serverRequireSasl` (false): refuse members that do not authenticate.
    pub server_require: bool,
    /// `quorum.auth.learner.saslLoginContext` (`QuorumLearner`): the JAAS section with this
    /// member's `username` and `password`.
    pub learner_login_context: String,
    /// `quorum.auth.server.saslLoginContext` (`QuorumServer`): the JAAS section with the
    /// `user_<name>` entries members authenticate against.
    pub server_login_context: String,
    /// `quorum.auth.kerberos.servicePrincipal` (`zkquorum/localhost`): accepted; Kerberos is
    /// not supported.
    pub kerberos_service_principal: Option<String>,
}

impl Default for QuorumSaslConfig {
    fn default() -> Self {
        QuorumSaslConfig {
            enabled: false,
            learner_require: false,
            server_require: false,
            learner_login_context: DEFAULT_QUORUM_LEARNER_LOGIN_CONTEXT.to_string(),
            server_login_context: DEFAULT_QUORUM_SERVER_LOGIN_CONTEXT.to_string(),
            kerberos_service_principal: None,
        }
    }
}

/// SASL and authentication enforcement, as Apache names the keys.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SaslConfig {
    /// `-Djava.security.auth.login.config` (unset): the JAAS file holding the SASL users.
    pub login_config: Option<PathBuf>,
    /// `sasl.serverconfig` (`Server`): the JAAS section the server reads.
    pub server_section: Option<String>,
    /// `superUser` and `superUser.N` (unset): SASL users who are also `super`, by key.
    pub super_users: BTreeMap<String, String>,
    /// `sessionRequireClientSASLAuth` (false): the same as `enforce.auth.enabled=true` with
    /// `enforce.auth.schemes=sasl`, and it wins over them (as in Apache).
    pub session_require_client_sasl_auth: bool,
    /// `enforce.auth.enabled` (false).
    pub enforce_auth_enabled: bool,
    /// `enforce.auth.schemes` (empty): comma-separated schemes, one of which a session must
    /// have authenticated with.
    pub enforce_auth_schemes: Vec<String>,
}

impl SaslConfig {
    /// The schemes a session must hold one of; empty when nothing is enforced.
    pub fn enforced_schemes(&self) -> Vec<String> {
        if self.session_require_client_sasl_auth {
            vec!["sasl".to_string()]
        } else if self.enforce_auth_enabled {
            self.enforce_auth_schemes.clone()
        } else {
            Vec::new()
        }
    }
}

/// One store's keys.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoreKeys {
    pub location: Option<PathBuf>,
    pub password: Option<String>,
    /// `*.passwordPath`: a file holding the password (read when the server starts).
    pub password_path: Option<PathBuf>,
    pub store_type: Option<StoreType>,
}

impl StoreKeys {
    /// The store to open, reading `passwordPath` if set; `None` without a location.
    pub fn spec(&self) -> std::io::Result<Option<StoreSpec>> {
        let Some(location) = &self.location else {
            return Ok(None);
        };
        let password = match (&self.password, &self.password_path) {
            (Some(password), _) => password.clone(),
            (None, Some(path)) => std::fs::read_to_string(path)
                .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?
                .trim_end_matches(['\r', '\n'])
                .to_string(),
            (None, None) => String::new(),
        };
        Ok(Some(StoreSpec {
            location: location.clone(),
            password,
            store_type: self.store_type,
        }))
    }
}

/// Everything the server reads from zoo.cfg and `-D` properties. Field docs give the zoo.cfg
/// key and its default.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    // --- storage ---
    /// `dataDir` (required in a file): `myid` and `version-2/` snapshots.
    pub data_dir: PathBuf,
    /// `dataLogDir` (= `dataDir`): the txn log.
    pub data_log_dir: PathBuf,

    // --- client endpoint ---
    /// `clientPort` (unset; may come from this server's `server.N` line instead).
    pub client_port: Option<u16>,
    /// `clientPortAddress` (unset = all interfaces). Not resolved here.
    pub client_port_address: Option<String>,
    /// `secureClientPort` (unset): a listener that speaks only TLS (see [`TlsConfig`]).
    pub secure_client_port: Option<u16>,
    /// `secureClientPortAddress` (unset = `clientPortAddress`, else all interfaces).
    pub secure_client_port_address: Option<String>,
    /// `ssl.*`, `client.portUnification`, `X509AuthenticationProvider.superUser`.
    pub tls: TlsConfig,
    /// `clientPortListenBacklog` (-1 = `None` = the OS default).
    pub client_port_listen_backlog: Option<u32>,
    /// `maxClientCnxns` (60): connections per client IP; 0 = unlimited.
    pub max_client_cnxns: u32,
    /// `maxCnxns` (0 = unlimited): connections in total.
    pub max_cnxns: u32,
    /// `globalOutstandingLimit` (1000).
    pub global_outstanding_limit: u32,
    /// `nio.sessionlessCnxnTimeout` in ms (10000).
    pub sessionless_cnxn_timeout_ms: u64,
    /// `maxWatchesPerSession` (zk's own, 1,000,000; 0 = unlimited).
    pub max_watches_per_session: u64,

    // --- time ---
    /// `tickTime` in ms (3000 when absent).
    pub tick_time: u32,
    /// `minSessionTimeout` in ms (2 × tickTime).
    pub min_session_timeout: u32,
    /// `maxSessionTimeout` in ms (20 × tickTime).
    pub max_session_timeout: u32,

    // --- ensemble ---
    /// `initLimit` in ticks (0 = unset; required in an ensemble).
    pub init_limit: u32,
    /// `syncLimit` in ticks (0 = unset; required in an ensemble).
    pub sync_limit: u32,
    /// `connectToLearnerMasterLimit` in ticks (= initLimit).
    pub connect_to_learner_master_limit: u32,
    /// `electionAlg` (3, the only value accepted).
    pub election_alg: u32,
    /// `peerType` (participant). The `server.N` line of this server overrides it, as in Apache.
    pub peer_type: PeerType,
    /// `quorumListenOnAllIPs` (false).
    pub quorum_listen_on_all_ips: bool,
    /// `syncEnabled` (true): observers log and snapshot too.
    pub sync_enabled: bool,
    /// `observerMasterPort` (unset; ≤ 0 = unset).
    pub observer_master_port: Option<u16>,
    /// `standaloneEnabled` (true).
    pub standalone_enabled: bool,
    /// `reconfigEnabled` (false).
    pub reconfig_enabled: bool,
    /// `localSessionsEnabled` (false).
    pub local_sessions_enabled: bool,
    /// `localSessionsUpgradingEnabled` (false).
    pub local_sessions_upgrading_enabled: bool,
    /// `multiAddress.enabled` (false): several `|`-separated addresses per `server.N`.
    pub multi_address_enabled: bool,
    /// `multiAddress.reachabilityCheckEnabled` (true).
    pub multi_address_reachability_check_enabled: bool,
    /// `multiAddress.reachabilityCheckTimeoutMs` (1000).
    pub multi_address_reachability_check_timeout_ms: u32,
    /// `oraclePath` (unset): the 2-node "oracle" quorum.
    pub oracle_path: Option<String>,
    /// `dynamicConfigFile` (unset): where `server.N` lines live instead of zoo.cfg.
    pub dynamic_config_file: Option<PathBuf>,
    /// `server.N` lines by id (participants and observers).
    pub servers: BTreeMap<u64, QuorumServer>,
    /// `group.N=sid:sid:...` (hierarchical quorums), by group id.
    pub groups: BTreeMap<u64, Vec<u64>>,
    /// `sslQuorum`, `portUnification`, `ssl.quorum.*`.
    pub quorum_tls: QuorumTlsConfig,
    /// `quorum.auth.*`.
    pub quorum_sasl: QuorumSaslConfig,
    /// `weight.SID=w` as written (participants without a line weigh 1).
    pub weights: BTreeMap<u64, u64>,
    /// `version` (hex) from zoo.cfg or the dynamic file's name suffix.
    pub config_version: Option<u64>,

    // --- persistence ---
    /// `snapCount` (100000, at least 2).
    pub snap_count: u64,
    /// `forceSync` (yes): fsync the txn log before acknowledging.
    pub force_sync: bool,
    /// `preAllocSize` in KiB (65536).
    pub pre_alloc_size_kb: u64,
    /// `snapSizeLimitInKb` (4194304; ≤ 0 = `None` = off).
    pub snap_size_limit_kb: Option<u64>,
    /// `txnLogSizeLimitInKb` (-1 = `None` = off).
    pub txn_log_size_limit_kb: Option<u64>,
    /// `fsync.warningthresholdms` (1000).
    pub fsync_warning_threshold_ms: u64,
    /// `autopurge.snapRetainCount` (3, raised to 3 if smaller).
    pub autopurge_snap_retain_count: u32,
    /// `autopurge.purgeInterval` in hours (0 = no automatic purge).
    pub autopurge_purge_interval_hours: u32,

    // --- data model and access ---
    /// `extendedTypesEnabled` (false): TTL nodes.
    pub extended_types_enabled: bool,
    /// `emulate353TTLNodes` (false).
    pub emulate_353_ttl_nodes: bool,
    /// `enforceQuota` (false).
    pub enforce_quota: bool,
    /// `skipACL` (no).
    pub skip_acl: bool,
    /// `DigestAuthenticationProvider.superDigest` (unset): `super:<base64 sha1>`.
    pub super_digest: Option<String>,
    /// `DigestAuthenticationProvider.enabled` (true): the `digest` auth scheme.
    pub digest_auth_enabled: bool,
    /// `digest.enabled` (true): the data-tree digest (`hash` 4lw, TxnDigest in the log).
    pub digest_enabled: bool,
    /// `leaderServes` (yes): the leader accepts client connections.
    pub leader_serves: bool,
    /// SASL on the client port and authentication enforcement (see [`SaslConfig`]).
    pub sasl: SaslConfig,

    // --- JVM-only properties (`-D<name>`, never zoo.cfg) ---
    /// `-Djute.maxbuffer` (1048575 bytes).
    pub jute_max_buffer: u32,
    /// `-Dreadonlymode.enabled` (false).
    pub read_only_mode_enabled: bool,
    /// `-Dznode.container.checkIntervalMs` (60000).
    pub container_check_interval_ms: u64,
    /// `-Dznode.container.maxPerMinute` (10000).
    pub container_max_per_minute: u32,
    /// `-Dznode.container.maxNeverUsedIntervalMs` (0 = never).
    pub container_max_never_used_interval_ms: u64,

    // --- operations ---
    /// Enabled four-letter words, from `4lw.commands.whitelist` (default `srvr`), always with
    /// `srvr`, plus `isro` when `readonlymode.enabled`.
    pub four_letter_words: BTreeSet<String>,
    /// `admin.*`.
    pub admin: AdminConfig,
    /// `metricsProvider.*`.
    pub metrics: MetricsConfig,
    /// Every other key, by zoo.cfg name (the system property is `zookeeper.<key>`).
    pub extra: BTreeMap<String, String>,
    /// The JVM system properties Apache would hold for this configuration: every zoo.cfg key
    /// it turns into `zookeeper.<key>`, and every `-D` property (a zoo.cfg line wins over
    /// `-Dzookeeper.<key>`, as its `System.setProperty` comes later). The AdminServer's
    /// `system_properties` reports them.
    pub system_properties: BTreeMap<String, String>,
    /// The zoo.cfg text as read (empty for the embedded default): the AdminServer's
    /// `initial_configuration`.
    pub initial_config: String,
    /// What was accepted but deserves attention; each was also logged once.
    pub warnings: Vec<ConfigWarning>,

    source: String,
    /// Where each key set so far came from (file lines, or `-D` for system-property keys).
    origins: BTreeMap<String, Location>,
    /// The validated `4lw.commands.whitelist`, before `srvr`/`isro` are added; `None` = absent.
    whitelist: Option<BTreeSet<String>>,
    /// `dynamicConfigFile` is set but not loaded yet: membership checks wait.
    membership_pending: bool,
}

impl ServerConfig {
    /// Reads and validates a zoo.cfg, then its `dynamicConfigFile` if it names one.
    pub fn from_file(path: impl AsRef<Path>) -> Result<ServerConfig, ConfigError> {
        let path = path.as_ref();
        let text = read_text(path)?;
        let mut config = ServerConfig::parse_str(&text, &path.display().to_string())?;
        config.initial_config = text;
        config.load_dynamic_config()?;
        Ok(config)
    }

    /// Parses and validates zoo.cfg text. `source_name` prefixes every error and warning.
    /// Touches no file: a `dynamicConfigFile` is loaded by [`load_dynamic_config`](Self::load_dynamic_config).
    pub fn parse_str(text: &str, source_name: &str) -> Result<ServerConfig, ConfigError> {
        let mut config = ServerConfig::apache_defaults(source_name);
        let entries = config.last_occurrences(properties::parse(text, source_name)?, source_name);
        let mut membership = Vec::new();
        for prop in entries {
            let at = line_at(source_name, prop.line);
            if keys::is_membership(&prop.key) {
                membership.push((prop, at));
            } else {
                config.apply_file_key(&prop.key, &prop.value, at)?;
            }
        }
        if !config.origins.contains_key("dataDir") {
            return Err(ConfigError::Missing {
                at: Location::Source(source_name.to_string()),
                key: "dataDir".to_string(),
                context: String::new(),
            });
        }
        if config.dynamic_config_file.is_some() {
            if let Some((prop, at)) = membership.iter().find(|(p, _)| p.key != "version") {
                return Err(invalid(
                    &prop.key,
                    at,
                    "must be in the separate dynamic config file when dynamicConfigFile is set",
                ));
            }
            config.membership_pending = true;
        }
        for (prop, at) in membership {
            config.origins.insert(prop.key.clone(), at.clone());
            config.apply_membership(&prop.key, &prop.value, &at)?;
        }
        config.derive();
        config.validate()?;
        config.warn_quorum_size();
        Ok(config)
    }

    /// The configuration used when no zoo.cfg is given: standalone on 127.0.0.1:2181, dataDir
    /// `./zk-data`, tickTime 2000, initLimit 10, syncLimit 5, four-letter words `ruok` and
    /// `srvr`, AdminServer off; everything else Apache's default.
    pub fn embedded_default() -> ServerConfig {
        let mut config = ServerConfig::apache_defaults("embedded default");
        config.data_dir = PathBuf::from(EMBEDDED_DATA_DIR);
        config.tick_time = EMBEDDED_TICK_TIME_MS;
        config.init_limit = EMBEDDED_INIT_LIMIT;
        config.sync_limit = EMBEDDED_SYNC_LIMIT;
        config.client_port = Some(EMBEDDED_CLIENT_PORT);
        config.client_port_address = Some(EMBEDDED_CLIENT_PORT_ADDRESS.to_string());
        config.whitelist = Some(
            EMBEDDED_4LW_WHITELIST
                .iter()
                .map(|s| s.to_string())
                .collect(),
        );
        config.admin.enable_server = false;
        config.derive();
        config
    }

    /// Loads `dynamicConfigFile` (if set and not loaded yet): `server.N`, `group.N` and
    /// `weight.N` lines only; the version comes from the file name's hex suffix
    /// (`zoo.cfg.dynamic.100000000`). Relative paths are relative to the working directory,
    /// as in Apache.
    pub fn load_dynamic_config(&mut self) -> Result<(), ConfigError> {
        let Some(path) = self
            .dynamic_config_file
            .clone()
            .filter(|_| self.membership_pending)
        else {
            return Ok(());
        };
        let text = read_text(&path)?;
        let source = path.display().to_string();
        let entries = self.last_occurrences(properties::parse(&text, &source)?, &source);
        for prop in entries {
            let at = line_at(&source, prop.line);
            if prop.key == "version" {
                return Err(invalid(
                    &prop.key,
                    &at,
                    "not allowed in a dynamic config file (the version is the file name's suffix)",
                ));
            }
            if !keys::is_membership(&prop.key) {
                return Err(invalid(
                    &prop.key,
                    &at,
                    "not allowed in a dynamic config file",
                ));
            }
            self.origins.insert(prop.key.clone(), at.clone());
            self.apply_membership(&prop.key, &prop.value, &at)?;
        }
        self.config_version = version_from_file_name(&path);
        self.membership_pending = false;
        self.derive();
        self.validate()?;
        self.warn_quorum_size();
        Ok(())
    }

    /// Applies JVM system properties (see [`parse_jvm_flags`]) with Apache's precedence: a key
    /// set in zoo.cfg beats `-Dzookeeper.<key>`; `-Dzookeeper.<key>` for a key Apache reads
    /// only from zoo.cfg is ignored with a warning; `-Djute.maxbuffer`, `-Dreadonlymode.enabled`
    /// and `-Dznode.container.*` always apply. A later repeat of a name wins. Other `-D`
    /// properties (`java.*`, log4j, ...) are ignored with a warning. The result is validated again.
    pub fn apply_system_properties<I, K, V>(&mut self, props: I) -> Result<(), ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut last: Vec<(String, String)> = Vec::new();
        for (name, value) in props {
            let (name, value) = (name.as_ref().trim(), value.as_ref().trim());
            last.retain(|(n, _)| n != name);
            last.push((name.to_string(), value.to_string()));
        }
        for (name, value) in &last {
            self.system_properties
                .entry(name.clone())
                .or_insert_with(|| value.clone());
        }
        for (name, value) in last {
            let at = Location::SystemProperty(name.clone());
            let Some(key) = name.strip_prefix("zookeeper.") else {
                if !self.apply_jvm_flag(&name, &value, &at)? {
                    self.warn(at, format!("-D{name} has no effect in zk"));
                }
                continue;
            };
            if self.origins.get(key).is_some_and(Location::is_file) {
                tracing::debug!("-D{name} ignored: zoo.cfg sets {key}");
                continue;
            }
            let java_only = keys::classify(key) == ExtraKind::JavaOnly;
            if keys::DIRECT.contains(&key) || (keys::is_membership(key) && !java_only) {
                self.warn(
                    at,
                    format!("ignored: {key} is read only from zoo.cfg (Apache ignores -Dzookeeper.{key} too)"),
                );
                continue;
            }
            self.origins.insert(key.to_string(), at.clone());
            if !self.apply_system_key(key, &value, &at)? {
                self.keep_extra(key, &value, at);
            }
        }
        self.derive();
        self.validate()
    }

    /// Standalone: no participant `server.N` line, or exactly one with `standaloneEnabled=true`
    /// (Apache's `!isDistributed()`).
    pub fn is_standalone(&self) -> bool {
        self.standalone_enabled && self.participants().count() <= 1
    }

    /// The `server.N` lines that vote.
    pub fn participants(&self) -> impl Iterator<Item = &QuorumServer> {
        self.servers
            .values()
            .filter(|s| s.peer_type == PeerType::Participant)
    }

    /// The `server.N` lines that observe.
    pub fn observers(&self) -> impl Iterator<Item = &QuorumServer> {
        self.servers
            .values()
            .filter(|s| s.peer_type == PeerType::Observer)
    }

    /// Reads `dataDir/myid`: `Ok(None)` when there is no such file (standalone needs none);
    /// otherwise its first line, trimmed, must be a decimal server id.
    pub fn read_myid(&self) -> Result<Option<u64>, ConfigError> {
        let path = self.data_dir.join("myid");
        if !path.is_file() {
            return Ok(None);
        }
        let text = read_text(&path)?;
        let first = text.lines().next().unwrap_or("").trim();
        match first.parse::<u64>() {
            Ok(id) => Ok(Some(id)),
            Err(_) => Err(ConfigError::Myid {
                path,
                reason: format!("server id \"{first}\" is not a number"),
            }),
        }
    }

    /// Where this server takes client connections: `clientPortAddress:clientPort` (address
    /// `0.0.0.0` if unset), else the client part of `server.<myid>`.
    pub fn client_address(&self, myid: Option<u64>) -> Option<ClientAddress> {
        match self.client_port {
            Some(port) => Some(ClientAddress {
                host: self
                    .client_port_address
                    .clone()
                    .unwrap_or_else(|| "0.0.0.0".to_string()),
                port,
            }),
            None => myid
                .and_then(|id| self.servers.get(&id))
                .and_then(|s| s.client_address.clone()),
        }
    }

    /// Whether a four-letter word may run (exact lower-case name).
    pub fn is_four_letter_word_enabled(&self, word: &str) -> bool {
        self.four_letter_words.contains(word)
    }

    /// The value of a key kept in [`extra`](Self::extra), by zoo.cfg name (no `zookeeper.`).
    pub fn property(&self, key: &str) -> Option<&str> {
        self.extra.get(key).map(String::as_str)
    }

    /// The name errors and warnings use for the main configuration text.
    pub fn source_name(&self) -> &str {
        &self.source
    }

    /// The membership in Apache's `/zookeeper/config` form: `server.N=...` lines, then for
    /// hierarchical quorums `group.N` and `weight.N` lines, then `version=<hex>`.
    pub fn dynamic_config_text(&self) -> String {
        let mut out = String::new();
        for server in self.servers.values() {
            out.push_str(&format!("server.{}={}\n", server.id, server));
        }
        if !self.groups.is_empty() {
            for (gid, members) in &self.groups {
                let members: Vec<String> = members.iter().map(u64::to_string).collect();
                out.push_str(&format!("group.{gid}={}\n", members.join(":")));
            }
            for server in self.participants() {
                let weight = self.weights.get(&server.id).copied().unwrap_or(1);
                out.push_str(&format!("weight.{}={weight}\n", server.id));
            }
        }
        out.push_str(&format!("version={:x}", self.config_version.unwrap_or(0)));
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

impl ServerConfig {
    /// Apache's defaults for every key; `data_dir` empty (zoo.cfg must set it).
    fn apache_defaults(source: &str) -> ServerConfig {
        ServerConfig {
            data_dir: PathBuf::new(),
            data_log_dir: PathBuf::new(),
            client_port: None,
            client_port_address: None,
            secure_client_port: None,
            secure_client_port_address: None,
            tls: TlsConfig::default(),
            sasl: SaslConfig::default(),
            quorum_tls: QuorumTlsConfig::default(),
            quorum_sasl: QuorumSaslConfig::default(),
            client_port_listen_backlog: None,
            max_client_cnxns: DEFAULT_MAX_CLIENT_CNXNS,
            max_cnxns: DEFAULT_MAX_CNXNS,
            global_outstanding_limit: DEFAULT_GLOBAL_OUTSTANDING_LIMIT,
            sessionless_cnxn_timeout_ms: DEFAULT_SESSIONLESS_CNXN_TIMEOUT_MS,
            max_watches_per_session: DEFAULT_MAX_WATCHES_PER_SESSION,
            tick_time: DEFAULT_TICK_TIME_MS,
            min_session_timeout: DEFAULT_TICK_TIME_MS * MIN_SESSION_TIMEOUT_TICKS,
            max_session_timeout: DEFAULT_TICK_TIME_MS * MAX_SESSION_TIMEOUT_TICKS,
            init_limit: 0,
            sync_limit: 0,
            connect_to_learner_master_limit: 0,
            election_alg: ELECTION_ALG,
            peer_type: PeerType::Participant,
            quorum_listen_on_all_ips: false,
            sync_enabled: true,
            observer_master_port: None,
            standalone_enabled: true,
            reconfig_enabled: false,
            local_sessions_enabled: false,
            local_sessions_upgrading_enabled: false,
            multi_address_enabled: false,
            multi_address_reachability_check_enabled: true,
            multi_address_reachability_check_timeout_ms:
                DEFAULT_MULTI_ADDRESS_REACHABILITY_CHECK_TIMEOUT_MS,
            oracle_path: None,
            dynamic_config_file: None,
            servers: BTreeMap::new(),
            groups: BTreeMap::new(),
            weights: BTreeMap::new(),
            config_version: None,
            snap_count: DEFAULT_SNAP_COUNT,
            force_sync: true,
            pre_alloc_size_kb: DEFAULT_PRE_ALLOC_SIZE_KB,
            snap_size_limit_kb: Some(DEFAULT_SNAP_SIZE_LIMIT_KB),
            txn_log_size_limit_kb: None,
            fsync_warning_threshold_ms: DEFAULT_FSYNC_WARNING_THRESHOLD_MS,
            autopurge_snap_retain_count: MIN_SNAP_RETAIN_COUNT,
            autopurge_purge_interval_hours: DEFAULT_PURGE_INTERVAL_HOURS,
            extended_types_enabled: false,
            emulate_353_ttl_nodes: false,
            enforce_quota: false,
            skip_acl: false,
            super_digest: None,
            digest_auth_enabled: true,
            digest_enabled: true,
            leader_serves: true,
            jute_max_buffer: DEFAULT_JUTE_MAX_BUFFER,
            read_only_mode_enabled: false,
            container_check_interval_ms: DEFAULT_CONTAINER_CHECK_INTERVAL_MS,
            container_max_per_minute: DEFAULT_CONTAINER_MAX_PER_MINUTE,
            container_max_never_used_interval_ms: DEFAULT_CONTAINER_MAX_NEVER_USED_INTERVAL_MS,
            four_letter_words: BTreeSet::from([ALWAYS_ENABLED_4LW.to_string()]),
            admin: AdminConfig::default(),
            metrics: MetricsConfig::default(),
            extra: BTreeMap::new(),
            system_properties: BTreeMap::new(),
            initial_config: String::new(),
            warnings: Vec::new(),
            source: source.to_string(),
            origins: BTreeMap::new(),
            whitelist: None,
            membership_pending: false,
        }
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_quorum;
