//! The knobs the running server reads, resolved from zoo.cfg and `-D` properties by
//! `config`, or built directly by tests.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::acl::AclPolicy;
use super::state::Rules;

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
    /// `jute.maxbuffer`.
    pub max_buffer: usize,
    /// Snapshot after this many txns.
    pub snap_count: u64,
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
    /// `secureClientPort`, as `conf` reports it (zk serves no TLS port yet).
    pub secure_client_port: Option<u16>,
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
            max_buffer: crate::proto::DEFAULT_MAX_BUFFER,
            snap_count: 100_000,
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

/// Why a parsed configuration cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum OptionsError {
    #[error("no clientPort is configured (set clientPort, or a client port on this server's server.N line)")]
    NoClientPort,
    #[error("cannot resolve clientPortAddress {host}: {reason}")]
    Resolve { host: String, reason: String },
    #[error(transparent)]
    Config(#[from] super::config::ConfigError),
}

impl ServerOptions {
    /// Resolves a parsed zoo.cfg into what the runtime reads.
    pub fn from_config(cfg: &super::config::ServerConfig) -> Result<Self, OptionsError> {
        use std::net::ToSocketAddrs;
        let myid = cfg.read_myid()?;
        let client = cfg.client_address(myid).ok_or(OptionsError::NoClientPort)?;
        let host = client
            .host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let client_addr = (host.as_str(), client.port)
            .to_socket_addrs()
            .map_err(|e| OptionsError::Resolve {
                host: host.clone(),
                reason: e.to_string(),
            })?
            .next()
            .ok_or_else(|| OptionsError::Resolve {
                host: host.clone(),
                reason: "no address".into(),
            })?;
        let mut opts = ServerOptions::standalone(client_addr, cfg.data_dir.clone());
        opts.data_log_dir = cfg.data_log_dir.clone();
        opts.tick_time = Duration::from_millis(u64::from(cfg.tick_time));
        opts.min_session_timeout_ms = i32::try_from(cfg.min_session_timeout).unwrap_or(i32::MAX);
        opts.max_session_timeout_ms = i32::try_from(cfg.max_session_timeout).unwrap_or(i32::MAX);
        opts.max_client_cnxns = cfg.max_client_cnxns as usize;
        opts.max_buffer = cfg.jute_max_buffer as usize;
        opts.snap_count = cfg.snap_count.max(1);
        opts.force_sync = cfg.force_sync;
        opts.acl = AclPolicy {
            skip_acl: cfg.skip_acl,
            super_digest: cfg.super_digest.clone(),
        };
        opts.rules = super::state::Rules {
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
        Ok(opts)
    }
}
