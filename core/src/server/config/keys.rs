//! Which zoo.cfg keys Apache ZooKeeper 3.8/3.9 knows, beyond the ones zk turns into typed
//! fields, and what zk does with them. Names are zoo.cfg names: the system property is
//! `zookeeper.<name>`.

/// What a key that is not a typed [`ServerConfig`](super::ServerConfig) field means to zk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ExtraKind {
    /// Documented by Apache and meaningful for a server; kept silently for the modules that
    /// want it ([`ServerConfig::property`](super::ServerConfig::property)).
    Documented,
    /// Configures something only the Java implementation has (JVM, Jetty/Netty, TLS, SASL,
    /// JMX, log4j, class names, client-side settings): accepted, warned about, no effect.
    JavaOnly,
    /// Read by Apache only as an un-prefixed JVM flag (`-Djute.maxbuffer`), so a zoo.cfg line
    /// (which becomes `zookeeper.jute.maxbuffer`) has no effect there, nor here.
    JvmFlagOnly,
    /// Not a key Apache documents or reads.
    Unknown,
}

/// Classifies a key that is neither a typed field nor ensemble membership.
pub(super) fn classify(key: &str) -> ExtraKind {
    if JVM_FLAG_ONLY.contains(&key) {
        ExtraKind::JvmFlagOnly
    } else if JAVA_ONLY.contains(&key) || JAVA_ONLY_PREFIXES.iter().any(|p| key.starts_with(p)) {
        ExtraKind::JavaOnly
    } else if DOCUMENTED.contains(&key)
        || DOCUMENTED_PREFIXES.iter().any(|p| key.starts_with(p))
        || key == TEST_ZXID_COUNTER_LIMIT
    {
        ExtraKind::Documented
    } else {
        ExtraKind::Unknown
    }
}

/// zk's own test-only key: the most txns one term logs before the ensemble moves to a new one
/// (`-Dzookeeper.testZxidCounterLimit=N`), so a test can see a zxid counter roll over.
pub(crate) const TEST_ZXID_COUNTER_LIMIT: &str = "testZxidCounterLimit";

/// Un-prefixed JVM system properties (`-D<name>`) Apache reads.
pub(super) const JVM_FLAG_ONLY: &[&str] = &[
    "jute.maxbuffer",
    "readonlymode.enabled",
    "znode.container.checkIntervalMs",
    "znode.container.maxPerMinute",
    "znode.container.maxNeverUsedIntervalMs",
    "follower.nodelay",
    "leader.nodelay",
];

/// Keys parsed directly from zoo.cfg by `QuorumPeerConfig.parseProperties`; Apache never reads
/// them from `-Dzookeeper.<key>`.
pub(super) const DIRECT: &[&str] = &[
    "dataDir",
    "dataLogDir",
    "clientPort",
    "localSessionsEnabled",
    "localSessionsUpgradingEnabled",
    "clientPortAddress",
    "secureClientPort",
    "secureClientPortAddress",
    "observerMasterPort",
    "clientPortListenBacklog",
    "tickTime",
    "maxClientCnxns",
    "minSessionTimeout",
    "maxSessionTimeout",
    "initLimit",
    "syncLimit",
    "connectToLearnerMasterLimit",
    "electionAlg",
    "quorumListenOnAllIPs",
    "peerType",
    "syncEnabled",
    "dynamicConfigFile",
    "autopurge.snapRetainCount",
    "autopurge.purgeInterval",
    "standaloneEnabled",
    "reconfigEnabled",
    "sslQuorum",
    "portUnification",
    "sslQuorumReloadCertFiles",
    "quorum.cnxn.threads.size",
    "metricsProvider.className",
    "metricsProvider.httpHost",
    "metricsProvider.httpPort",
    "multiAddress.enabled",
    "multiAddress.reachabilityCheckTimeoutMs",
    "multiAddress.reachabilityCheckEnabled",
    "oraclePath",
    "quorum.auth.enableSasl",
    "quorum.auth.serverRequireSasl",
    "quorum.auth.learnerRequireSasl",
    "quorum.auth.learner.saslLoginContext",
    "quorum.auth.server.saslLoginContext",
    "quorum.auth.kerberos.servicePrincipal",
];

/// Keys (or key prefixes) that are ensemble membership, read only from zoo.cfg or the dynamic file.
pub(super) fn is_membership(key: &str) -> bool {
    key.starts_with("server.")
        || key.starts_with("group.")
        || key.starts_with("weight.")
        || key == "version"
}

const JAVA_ONLY: &[&str] = &[
    "quorum.cnxn.threads.size",
    "client.secure",
    "clientCnxnSocket",
    "fips-mode",
    "ensembleAuthName",
    "allowSaslFailedClients",
    "letAnySaslUserDoX",
    "requireKerberosConfig",
    "kinit",
    "security.auth_to_local",
    "server.principal",
    "server.realm",
    "watchManagerName",
    "audit.impl.class",
    "intBufferStartingSizeBytes",
    "configuration",
    "controllerPort",
    "disableAutoWatchReset",
    "request.timeout",
    "admin.httpVersion",
    "advancedFlowControlEnabled",
    "jute.maxbuffer.extrasize",
];

const JAVA_ONLY_PREFIXES: &[&str] = &[
    "ssl.",
    "authProvider.",
    "metricsProvider.",
    "jvm.pause.",
    "kerberos.",
    "sasl.",
    "jmx.",
    "X509AuthenticationProvider.",
    "SASLAuthenticationProvider.",
    "netty.",
    "nio.",
    "log.",
    "root.",
    "tracelog.",
    "console.",
];

const DOCUMENTED: &[&str] = &[
    "preAllocSize",
    "snapSizeLimitInKb",
    "txnLogSizeLimitInKb",
    "fsync.warningthresholdms",
    "commitLogCount",
    "maxResponseCacheSize",
    "maxGetChildrenResponseCacheSize",
    "flushDelay",
    "maxWriteQueuePollTime",
    "maxBatchSize",
    "cnxTimeout",
    "quorumCnxnTimeoutMs",
    "tcpKeepAlive",
    "clientTcpKeepAlive",
    "electionPortBindRetry",
    "observer.reconnectDelayMs",
    "observer.election.DelayMs",
    "observer.syncEnabled",
    "observerMaster.sizeLimit",
    "closeSessionTxn.enabled",
    "serializeLastProcessedZxid.enabled",
    "snapshot.compression.method",
    "snapshot.trust.empty",
    "snapshotSizeFactor",
    "datadir.autocreate",
    "db.autocreate",
    "audit.enable",
    "request_throttle_max_requests",
    "request_throttle_stall_time",
    "request_throttle_drop_stale",
    "request_stale_latency_check",
    "request_stale_connection_check",
    "request_throttler.shutdownTimeout",
    "throttled_op_wait_time",
    "largeRequestMaxBytes",
    "largeRequestThreshold",
    "DigestAuthenticationProvider.digestAlg",
    "IPAuthenticationProvider.usexforwardedfor",
    "watcherCleanThreadsNum",
    "watcherCleanThreshold",
    "watcherCleanIntervalInSeconds",
    "maxInProcessingDeadWatchers",
    "bitHashCacheSize",
    "leaderConnectDelayDuringRetryMs",
    "forceSnapshotSync",
    "follower.skipLearnerRequestToNextProcessor",
    "forward_learner_requests_to_commit_processor_disabled",
    "fastleader.minNotificationInterval",
    "fastleader.maxNotificationInterval",
    "enableEagerACLCheck",
    "messageTracker.BufferSize",
    "messageTracker.Enabled",
    // Names the admin guide gives for the throttling keys; Apache reads the
    // `zookeeper.connection_throttle_*` / `request_throttle_*` spellings.
    "connectionMaxTokens",
    "connectionTokenFillTime",
    "connectionTokenFillCount",
    "connectionFreezeTime",
    "connectionDropIncrease",
    "connectionDropDecrease",
    "connectionDecreaseRatio",
    "requestThrottleLimit",
    "requestThrottleStallTime",
    "requestThrottleDropStale",
    "requestStaleLatencyCheck",
    "requestStaleConnectionCheck",
    "maxConcurrentSnapSyncs",
    "maxConcurrentDiffSyncs",
    "maxTimeToWaitForEpoch",
];

const DOCUMENTED_PREFIXES: &[&str] = &[
    "connection_throttle_",
    "commitProcessor.",
    "leader.",
    "learner.",
    "pathStats.",
];
