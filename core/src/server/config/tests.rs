use super::*;

fn parse(text: &str) -> ServerConfig {
    match ServerConfig::parse_str(text, "zoo.cfg") {
        Ok(config) => config,
        Err(err) => panic!("unexpected error: {err}"),
    }
}

fn parse_err(text: &str) -> ConfigError {
    match ServerConfig::parse_str(text, "zoo.cfg") {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(err) => err,
    }
}

fn set(words: &[&str]) -> BTreeSet<String> {
    words.iter().map(|w| w.to_string()).collect()
}

fn has_warning(config: &ServerConfig, needle: &str) -> bool {
    config
        .warnings
        .iter()
        .any(|w| w.to_string().contains(needle))
}

const MINIMAL: &str = "dataDir=/var/lib/zk\n";

// ----- defaults -----------------------------------------------------------------------------

#[test]
fn every_default_matches_apache() {
    let c = parse(MINIMAL);
    assert_eq!(c.data_dir, PathBuf::from("/var/lib/zk"));
    assert_eq!(c.data_log_dir, PathBuf::from("/var/lib/zk"));
    assert_eq!(c.client_port, None);
    assert_eq!(c.client_port_address, None);
    assert_eq!(c.secure_client_port, None);
    assert_eq!(c.secure_client_port_address, None);
    assert_eq!(c.client_port_listen_backlog, None);
    assert_eq!(c.max_client_cnxns, 60);
    assert_eq!(c.max_cnxns, 0);
    assert_eq!(c.global_outstanding_limit, 1000);
    assert_eq!(c.tick_time, 3000);
    assert_eq!(c.min_session_timeout, 6000);
    assert_eq!(c.max_session_timeout, 60000);
    assert_eq!(c.init_limit, 0);
    assert_eq!(c.sync_limit, 0);
    assert_eq!(c.connect_to_learner_master_limit, 0);
    assert_eq!(c.election_alg, 3);
    assert_eq!(c.peer_type, PeerType::Participant);
    assert!(!c.quorum_listen_on_all_ips);
    assert!(c.sync_enabled);
    assert_eq!(c.observer_master_port, None);
    assert!(c.standalone_enabled);
    assert!(!c.reconfig_enabled);
    assert!(!c.local_sessions_enabled);
    assert!(!c.local_sessions_upgrading_enabled);
    assert!(!c.multi_address_enabled);
    assert!(c.multi_address_reachability_check_enabled);
    assert_eq!(c.multi_address_reachability_check_timeout_ms, 1000);
    assert_eq!(c.oracle_path, None);
    assert_eq!(c.dynamic_config_file, None);
    assert!(c.servers.is_empty() && c.groups.is_empty() && c.weights.is_empty());
    assert_eq!(c.config_version, None);
    assert_eq!(c.snap_count, 100_000);
    assert!(c.force_sync);
    assert_eq!(c.pre_alloc_size_kb, 65_536);
    assert_eq!(c.snap_size_limit_kb, Some(4_194_304));
    assert_eq!(c.txn_log_size_limit_kb, None);
    assert_eq!(c.fsync_warning_threshold_ms, 1000);
    assert_eq!(c.autopurge_snap_retain_count, 3);
    assert_eq!(c.autopurge_purge_interval_hours, 0);
    assert!(!c.extended_types_enabled);
    assert!(!c.emulate_353_ttl_nodes);
    assert!(!c.enforce_quota);
    assert!(!c.skip_acl);
    assert_eq!(c.super_digest, None);
    assert!(c.digest_auth_enabled);
    assert!(c.digest_enabled);
    assert!(c.leader_serves);
    assert_eq!(c.jute_max_buffer, 1_048_575);
    assert!(!c.read_only_mode_enabled);
    assert_eq!(c.container_check_interval_ms, 60_000);
    assert_eq!(c.container_max_per_minute, 10_000);
    assert_eq!(c.container_max_never_used_interval_ms, 0);
    assert_eq!(c.four_letter_words, set(&["srvr"]));
    assert_eq!(c.admin, AdminConfig::default());
    assert!(c.admin.enable_server);
    assert_eq!(
        c.admin.server_address, "127.0.0.1",
        "zk's loopback default (Apache: 0.0.0.0)"
    );
    assert_eq!(c.admin.server_port, 8080);
    assert_eq!(c.admin.idle_timeout_ms, 30_000);
    assert_eq!(c.admin.command_url, "/commands");
    assert!(!c.admin.port_unification && !c.admin.force_https && !c.admin.need_client_auth);
    assert_eq!(c.admin.rate_limiter_interval_ms, 300_000);
    assert!(c.admin.snapshot_enabled && c.admin.restore_enabled);
    assert!(c.extra.is_empty());
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert!(c.is_standalone());
    assert_eq!(c.source_name(), "zoo.cfg");
}

#[test]
fn every_typed_key_is_read() {
    let c = parse(
        "dataDir=/d\ndataLogDir=/l\nclientPort=2182\nclientPortAddress=10.0.0.1\n\
         clientPortListenBacklog=128\nmaxClientCnxns=0\nmaxCnxns=500\nglobalOutstandingLimit=2000\n\
         tickTime=1000\nminSessionTimeout=1500\nmaxSessionTimeout=90000\ninitLimit=7\nsyncLimit=3\n\
         connectToLearnerMasterLimit=9\nelectionAlg=3\npeerType=observer\nquorumListenOnAllIPs=true\n\
         syncEnabled=false\nobserverMasterPort=2191\nstandaloneEnabled=true\nreconfigEnabled=true\n\
         localSessionsEnabled=true\nlocalSessionsUpgradingEnabled=TRUE\nmultiAddress.enabled=true\n\
         multiAddress.reachabilityCheckEnabled=false\nmultiAddress.reachabilityCheckTimeoutMs=250\n\
         oraclePath=/o\nsnapCount=5000\nforceSync=no\npreAllocSize=1024\nsnapSizeLimitInKb=-1\n\
         txnLogSizeLimitInKb=2048\nfsync.warningthresholdms=50\nautopurge.snapRetainCount=5\n\
         autopurge.purgeInterval=24\nextendedTypesEnabled=true\nemulate353TTLNodes=true\n\
         enforceQuota=true\nskipACL=yes\nDigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=\n\
         DigestAuthenticationProvider.enabled=false\ndigest.enabled=false\nleaderServes=no\n\
         4lw.commands.whitelist=stat, ruok ,conf\nadmin.enableServer=false\nadmin.serverAddress=127.0.0.1\n\
         admin.serverPort=9090\nadmin.idleTimeout=1000\nadmin.commandURL=/cmd\nadmin.portUnification=true\n\
         admin.forceHttps=true\nadmin.needClientAuth=true\nadmin.rateLimiterIntervalInMS=10\n\
         admin.snapshot.enabled=false\nadmin.restore.enabled=false\n",
    );
    assert_eq!(c.data_log_dir, PathBuf::from("/l"));
    assert_eq!(c.client_port, Some(2182));
    assert_eq!(c.client_port_address.as_deref(), Some("10.0.0.1"));
    assert_eq!(c.client_port_listen_backlog, Some(128));
    assert_eq!(
        (c.max_client_cnxns, c.max_cnxns, c.global_outstanding_limit),
        (0, 500, 2000)
    );
    assert_eq!(
        (c.tick_time, c.min_session_timeout, c.max_session_timeout),
        (1000, 1500, 90000)
    );
    assert_eq!(
        (
            c.init_limit,
            c.sync_limit,
            c.connect_to_learner_master_limit
        ),
        (7, 3, 9)
    );
    assert_eq!(c.peer_type, PeerType::Observer);
    assert!(c.quorum_listen_on_all_ips && !c.sync_enabled && c.reconfig_enabled);
    assert_eq!(c.observer_master_port, Some(2191));
    assert!(c.local_sessions_enabled && c.local_sessions_upgrading_enabled);
    assert!(c.multi_address_enabled && !c.multi_address_reachability_check_enabled);
    assert_eq!(c.multi_address_reachability_check_timeout_ms, 250);
    assert_eq!(c.oracle_path.as_deref(), Some("/o"));
    assert_eq!(c.snap_count, 5000);
    assert!(!c.force_sync);
    assert_eq!(c.pre_alloc_size_kb, 1024);
    assert_eq!(c.snap_size_limit_kb, None);
    assert_eq!(c.txn_log_size_limit_kb, Some(2048));
    assert_eq!(c.fsync_warning_threshold_ms, 50);
    assert_eq!(
        (
            c.autopurge_snap_retain_count,
            c.autopurge_purge_interval_hours
        ),
        (5, 24)
    );
    assert!(c.extended_types_enabled && c.emulate_353_ttl_nodes && c.enforce_quota && c.skip_acl);
    assert_eq!(
        c.super_digest.as_deref(),
        Some("super:D/InIHSb7yEEbrWz8b9l71RjZJU=")
    );
    assert!(!c.digest_auth_enabled && !c.digest_enabled && !c.leader_serves);
    assert_eq!(c.four_letter_words, set(&["conf", "ruok", "srvr", "stat"]));
    let admin = AdminConfig {
        enable_server: false,
        server_address: "127.0.0.1".into(),
        server_port: 9090,
        idle_timeout_ms: 1000,
        command_url: "/cmd".into(),
        port_unification: true,
        force_https: true,
        need_client_auth: true,
        rate_limiter_interval_ms: 10,
        snapshot_enabled: false,
        restore_enabled: false,
    };
    assert_eq!(c.admin, admin);
    assert!(c.extra.is_empty(), "{:?}", c.extra);
    // The admin TLS switches are kept but cannot take effect: one warning each.
    let (tls, others): (Vec<_>, Vec<_>) = c
        .warnings
        .iter()
        .partition(|w| w.to_string().contains("serves plain HTTP only"));
    assert_eq!(tls.len(), 3, "{tls:?}");
    assert!(others.is_empty(), "{others:?}");
}

#[test]
fn system_properties_and_the_initial_text_are_what_apache_would_hold() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zoo.cfg");
    let text = "dataDir=/d\nclientPort=2181\nsnapCount=10\nadmin.serverPort=9000\nfoo.bar=1\n";
    std::fs::write(&path, text).unwrap();
    let mut c = ServerConfig::from_file(&path).unwrap();
    c.apply_system_properties([
        ("zookeeper.snapCount", "99"),
        ("zookeeper.commitLogCount", "7"),
        ("user.language", "en"),
    ])
    .unwrap();
    assert_eq!(c.initial_config, text);
    let props: Vec<(&str, &str)> = c
        .system_properties
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        props,
        [
            ("user.language", "en"),
            ("zookeeper.admin.serverPort", "9000"),
            ("zookeeper.commitLogCount", "7"),
            ("zookeeper.foo.bar", "1"),
            // zoo.cfg's value, as Apache's later System.setProperty overwrites the -D one.
            ("zookeeper.snapCount", "10"),
        ]
    );
    assert_eq!(ServerConfig::embedded_default().initial_config, "");
}

#[test]
fn session_timeouts_follow_tick_time() {
    let c = parse("dataDir=/d\ntickTime=2000\n");
    assert_eq!(
        (c.min_session_timeout, c.max_session_timeout),
        (4000, 40000)
    );
    let c = parse("dataDir=/d\ntickTime=2000\nminSessionTimeout=-1\nmaxSessionTimeout=-1\n");
    assert_eq!(
        (c.min_session_timeout, c.max_session_timeout),
        (4000, 40000)
    );
    let c = parse("dataDir=/d\ntickTime=2000\nmaxSessionTimeout=4000\n");
    assert_eq!((c.min_session_timeout, c.max_session_timeout), (4000, 4000));
}

#[test]
fn corrected_values_warn() {
    let c =
        parse("dataDir=/d\nautopurge.snapRetainCount=1\nsnapCount=1\nautopurge.purgeInterval=-3\n");
    assert_eq!(c.autopurge_snap_retain_count, 3);
    assert_eq!(c.snap_count, 2);
    assert_eq!(c.autopurge_purge_interval_hours, 0);
    assert!(has_warning(
        &c,
        "zoo.cfg:2: autopurge.snapRetainCount=1 is below 3"
    ));
    assert!(has_warning(&c, "zoo.cfg:3: snapCount=1 is below 2"));
}

#[test]
fn connect_to_learner_master_limit_defaults_to_init_limit() {
    let c = parse("dataDir=/d\ninitLimit=10\n");
    assert_eq!(c.connect_to_learner_master_limit, 10);
}

#[test]
fn system_property_integers_take_java_decode_forms() {
    let c = parse("dataDir=/d\nsnapCount=0x100\nglobalOutstandingLimit=#10\nmaxCnxns=010\n");
    assert_eq!(
        (c.snap_count, c.global_outstanding_limit, c.max_cnxns),
        (256, 16, 8)
    );
    // Direct keys are parseInt: decimal only.
    let err = parse_err("dataDir=/d\ntickTime=0x10\n");
    assert_eq!(
        err.to_string(),
        "zoo.cfg:2: tickTime: invalid integer \"0x10\""
    );
}

// ----- properties syntax ----------------------------------------------------------------------

#[test]
fn separators_comments_and_whitespace() {
    let c = parse(
        "# comment\n! also a comment\n\n   \t\ndataDir = /d  \nclientPort:2181\ntickTime 2000\n\
         maxClientCnxns   =   7\ninitLimit\t:\t4\n  syncLimit=2\n",
    );
    assert_eq!(c.data_dir, PathBuf::from("/d"));
    assert_eq!(c.client_port, Some(2181));
    assert_eq!(c.tick_time, 2000);
    assert_eq!(c.max_client_cnxns, 7);
    assert_eq!(c.init_limit, 4);
    assert_eq!(c.sync_limit, 2);
}

#[test]
fn continuation_lines_join_and_report_first_line() {
    let c =
        parse("dataDir=/d\n4lw.commands.whitelist=ruok,\\\n    stat,\\\n\tmntr\nclientPort=2181\n");
    assert_eq!(c.four_letter_words, set(&["mntr", "ruok", "srvr", "stat"]));
    assert_eq!(c.client_port, Some(2181));

    let err = parse_err("dataDir=/d\nmaxClientCnxns=1\\\n  2x\n");
    assert_eq!(
        err.to_string(),
        "zoo.cfg:2: maxClientCnxns: invalid integer \"12x\""
    );
    assert_eq!(err.line(), Some(2));

    // An even number of backslashes is an escaped backslash, not a continuation.
    let c = parse("dataDir=/d\\\\\nclientPort=1\n");
    assert_eq!(c.data_dir, PathBuf::from("/d\\"));
    // A comment line never continues.
    let c = parse("# comment \\\ndataDir=/d\n");
    assert_eq!(c.data_dir, PathBuf::from("/d"));
    // A blank line ends a continuation.
    let c = parse("oraclePath=/o\\\n\nclientPort=5\ndataDir=/d\n");
    assert_eq!(c.oracle_path.as_deref(), Some("/o"));
    assert_eq!(c.client_port, Some(5));
}

#[test]
fn escapes_and_line_endings() {
    let c = parse("dataDir=/d\r\noraclePath=/a\\u0062c\\=d\\:e\\ f\rclientPort=1\r\n");
    assert_eq!(c.oracle_path.as_deref(), Some("/abc=d:e f"));
    assert_eq!(c.client_port, Some(1));
    let c = parse("dataDir=/d\noraclePath=\\uD83D\\uDE00\n");
    assert_eq!(c.oracle_path.as_deref(), Some("\u{1F600}"));
    // A key may contain escaped separators.
    let c = parse("dataDir=/d\nmy\\=key=v\n");
    assert_eq!(c.property("my=key"), Some("v"));

    let err = parse_err("dataDir=/d\n\n\noraclePath=\\u12G4\n");
    assert!(matches!(err, ConfigError::Syntax { .. }));
    assert_eq!(err.line(), Some(4));
    assert!(
        err.to_string().starts_with("zoo.cfg:4: malformed \\uXXXX"),
        "{err}"
    );
}

#[test]
fn later_duplicate_wins_with_warning() {
    let c = parse("dataDir=/d\nclientPort=1\nmaxClientCnxns=abc\nclientPort=2\nmaxClientCnxns=3\n");
    assert_eq!(c.client_port, Some(2));
    assert_eq!(c.max_client_cnxns, 3);
    assert!(has_warning(&c, "zoo.cfg:4: clientPort repeats line 2"));
}

#[test]
fn latin1_file_decodes() {
    assert_eq!(properties::decode(b"a=\xe9".to_vec()), "a=\u{e9}");
    assert_eq!(properties::decode("a=é".as_bytes().to_vec()), "a=é");
}

// ----- errors with file:line ------------------------------------------------------------------

#[test]
fn bad_values_name_file_line_and_reason() {
    let mut text = String::from("dataDir=/d\n");
    for i in 2..12 {
        text.push_str(&format!("# filler {i}\n"));
    }
    text.push_str("maxClientCnxns=abc\n");
    let err = parse_err(&text);
    assert_eq!(
        err.to_string(),
        "zoo.cfg:12: maxClientCnxns: invalid integer \"abc\""
    );
    assert_eq!(err.line(), Some(12));

    let cases: &[(&str, &str)] = &[
        ("dataDir=/d\nclientPort=-1\n", "zoo.cfg:2: clientPort: port -1 out of range 0..=65535"),
        ("dataDir=/d\nclientPort=70000\n", "zoo.cfg:2: clientPort: port 70000 out of range 0..=65535"),
        ("dataDir=/d\nmaxClientCnxns=-5\n", "zoo.cfg:2: maxClientCnxns: must not be negative, got -5"),
        ("dataDir=/d\ntickTime=0\n", "zoo.cfg:2: tickTime: must be a positive number of ms, got 0"),
        ("dataDir=/d\ntickTime=99999999999\n", "zoo.cfg:2: tickTime: invalid integer \"99999999999\""),
        ("dataDir=/d\nelectionAlg=1\n", "zoo.cfg:2: electionAlg: 1 is not supported; only 3 is"),
        ("dataDir=/d\npeerType=leader\n", "zoo.cfg:2: peerType: unrecognised peer type \"leader\" (participant or observer)"),
        ("dataDir=/d\nstandaloneEnabled=yes\n", "zoo.cfg:2: standaloneEnabled: invalid boolean \"yes\" (true or false)"),
        ("dataDir=/d\nforceSync=maybe\n", "zoo.cfg:2: forceSync: invalid value \"maybe\" (yes or no)"),
        ("dataDir=/d\nadmin.serverPort=x\n", "zoo.cfg:2: admin.serverPort: invalid integer \"x\""),
        ("dataDir=/d\nDigestAuthenticationProvider.superDigest=nocolon\n",
         "zoo.cfg:2: DigestAuthenticationProvider.superDigest: \"nocolon\" is not of the form user:base64digest"),
        ("dataDir=\n", "zoo.cfg:1: dataDir: empty path"),
        ("tickTime=2000\n", "zoo.cfg: dataDir is required but not set"),
        ("dataDir=/d\nclientPortAddress=127.0.0.1\n", "zoo.cfg:2: clientPortAddress: set but clientPort is not"),
    ];
    for (text, expected) in cases {
        assert_eq!(parse_err(text).to_string(), *expected, "for {text:?}");
    }
}

#[test]
fn min_session_timeout_above_max_fails_at_its_line() {
    let err = parse_err("dataDir=/d\ntickTime=2000\nminSessionTimeout=50000\n");
    assert_eq!(
        err.to_string(),
        "zoo.cfg:3: minSessionTimeout: minSessionTimeout 50000 is larger than maxSessionTimeout 40000"
    );
    let err = parse_err("dataDir=/d\nmaxSessionTimeout=100\n");
    assert_eq!(err.line(), Some(2));
    assert!(err
        .to_string()
        .contains("minSessionTimeout 6000 is larger than maxSessionTimeout 100"));
}

#[test]
fn unknown_four_letter_word_fails() {
    let err = parse_err("dataDir=/d\n4lw.commands.whitelist=ruok, boom\n");
    assert_eq!(err.line(), Some(2));
    assert!(
        err.to_string()
            .starts_with("zoo.cfg:2: 4lw.commands.whitelist: unknown four-letter word \"boom\""),
        "{err}"
    );
}

#[test]
fn io_error_names_the_file() {
    let err = match ServerConfig::from_file("/nonexistent/zoo.cfg") {
        Ok(_) => panic!("expected an error"),
        Err(err) => err,
    };
    assert!(matches!(err, ConfigError::Io { .. }));
    assert!(
        err.to_string().starts_with("/nonexistent/zoo.cfg: "),
        "{err}"
    );
}

// ----- extra keys and warnings ----------------------------------------------------------------

#[test]
fn other_keys_are_kept_with_the_right_warning() {
    let c = parse(
        "dataDir=/d\ncommitLogCount=700\nserverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory\n\
         ssl.keyStore.location=/k.jks\nauthProvider.1=com.example.KerberosNameProvider\n\
         metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n\
         jvm.pause.monitor=true\nquorum.cnxn.threads.size=20\nfoo.bar=baz\njute.maxbuffer=4194304\n\
         readonlymode.enabled=true\nsecureClientPort=2281\n",
    );
    assert_eq!(c.property("commitLogCount"), Some("700"));
    assert_eq!(c.property("foo.bar"), Some("baz"));
    assert_eq!(c.extra.len(), 9, "{:?}", c.extra);
    assert_eq!(c.secure_client_port, Some(2281));
    assert!(c.metrics.prometheus());
    assert!(!has_warning(&c, "metricsProvider"));
    // Documented keys are silent.
    assert!(!has_warning(&c, "commitLogCount"));
    // The client port's TLS keys and the Netty factory Apache needs for them are zk's own.
    assert!(!has_warning(&c, "serverCnxnFactory"));
    assert!(!has_warning(&c, "ssl.keyStore.location"));
    assert_eq!(
        c.tls.keys.key_store.location.as_deref(),
        Some(Path::new("/k.jks"))
    );
    for key in [
        "authProvider.1",
        "jvm.pause.monitor",
        "quorum.cnxn.threads.size",
    ] {
        assert!(
            has_warning(&c, &format!("{key} has no effect in zk")),
            "{key}: {:?}",
            c.warnings
        );
    }
    assert!(has_warning(&c, "zoo.cfg:9: unknown key foo.bar"));
    assert!(has_warning(
        &c,
        "zoo.cfg:10: jute.maxbuffer has no effect here"
    ));
    // JVM-only properties cannot be set from zoo.cfg.
    assert_eq!(c.jute_max_buffer, DEFAULT_JUTE_MAX_BUFFER);
    assert!(!c.read_only_mode_enabled);
    assert_eq!(c.warnings.len(), 6, "{:#?}", c.warnings);
}

// ----- TLS on the client port -----------------------------------------------------------------

#[test]
fn tls_keys_from_zoo_cfg_and_system_properties() {
    use crate::server::tls::{ClientAuth, StoreType, TlsVersion};
    let mut c = parse(
        "dataDir=/d\nclientPort=2181\nsecureClientPort=2281\nsecureClientPortAddress=127.0.0.1\n\
         serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory\n\
         ssl.keyStore.location=/k/server.p12\nssl.keyStore.password=pw\nssl.keyStore.type=pkcs12\n\
         ssl.clientAuth=want\nssl.protocol=TLSv1.2\nclient.portUnification=true\n\
         ssl.ciphersuites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_RSA_WITH_AES_128_CBC_SHA\n",
    );
    assert!(
        c.warnings.iter().all(|w| !w.message.contains("no effect")),
        "{:#?}",
        c.warnings
    );
    assert!(has_warning(&c, "zoo.cfg:12: ssl.ciphersuites: not supported by zk (rustls), left out: TLS_RSA_WITH_AES_128_CBC_SHA"));
    assert_eq!(c.secure_client_port, Some(2281));
    assert_eq!(c.tls.keys.key_store.store_type, Some(StoreType::Pkcs12));
    assert_eq!(c.tls.keys.key_store.password.as_deref(), Some("pw"));
    assert_eq!(c.tls.keys.client_auth, ClientAuth::Want);
    assert_eq!(c.tls.keys.protocols, vec![TlsVersion::V1_2]);
    assert_eq!(
        c.tls.keys.cipher_suites,
        vec!["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".to_string()]
    );
    assert!(c.tls.port_unification);
    c.apply_system_properties([
        ("zookeeper.ssl.trustStore.location", "/k/trust.jks"),
        ("zookeeper.ssl.trustStore.password", "tp"),
        ("zookeeper.ssl.clientAuth", "need"),
        ("zookeeper.X509AuthenticationProvider.superUser", "CN=admin"),
        ("zookeeper.ssl.enabledProtocols", "TLSv1.2,TLSv1.3,TLSv1.1"),
    ])
    .unwrap();
    assert_eq!(
        c.tls.keys.trust_store.location.as_deref(),
        Some(Path::new("/k/trust.jks"))
    );
    // zoo.cfg wins over -D for the same key.
    assert_eq!(c.tls.keys.client_auth, ClientAuth::Want);
    assert_eq!(c.tls.super_user.as_deref(), Some("CN=admin"));
    assert_eq!(
        c.tls.keys.protocols,
        vec![TlsVersion::V1_3, TlsVersion::V1_2]
    );
    assert!(has_warning(&c, "TLSv1.1 is not supported by zk"));
    // Apache's default is need.
    assert_eq!(parse(MINIMAL).tls.keys.client_auth, ClientAuth::Need);
}

#[test]
fn bad_tls_values_name_key_and_line() {
    for (text, needle) in [
        (
            "dataDir=/d\nssl.clientAuth=maybe\n",
            "zoo.cfg:2: ssl.clientAuth",
        ),
        (
            "dataDir=/d\n\nssl.keyStore.type=BCFKS\n",
            "zoo.cfg:3: ssl.keyStore.type",
        ),
        (
            "dataDir=/d\nssl.protocol=TLSv9\n",
            "zoo.cfg:2: ssl.protocol",
        ),
        (
            "dataDir=/d\nssl.enabledProtocols=TLSv1.1\n",
            "zoo.cfg:2: ssl.enabledProtocols",
        ),
        (
            "dataDir=/d\nssl.ciphersuites=TLS_RSA_WITH_RC4_128_MD5\n",
            "zoo.cfg:2: ssl.ciphersuites",
        ),
        (
            "dataDir=/d\nclient.portUnification=yes\n",
            "zoo.cfg:2: client.portUnification",
        ),
    ] {
        let err = parse_err(text).to_string();
        assert!(err.contains(needle), "{text:?}: {err}");
    }
}

#[test]
fn relative_data_dir_warns_unless_dot_slash() {
    assert!(has_warning(
        &parse("dataDir=zk\n"),
        "dataDir zk is relative"
    ));
    assert!(parse("dataDir=./zk\n").warnings.is_empty());
}

// ----- four-letter-word whitelist -------------------------------------------------------------

#[test]
fn whitelist_forms() {
    assert_eq!(parse(MINIMAL).four_letter_words, set(&["srvr"]));
    let all = parse("dataDir=/d\n4lw.commands.whitelist=*\n").four_letter_words;
    assert_eq!(all.len(), FOUR_LETTER_WORDS.len());
    assert_eq!(
        all,
        FOUR_LETTER_WORDS.iter().map(|w| w.to_string()).collect()
    );
    let c = parse("dataDir=/d\n4lw.commands.whitelist=RUOK,,mntr, \n");
    assert_eq!(c.four_letter_words, set(&["mntr", "ruok", "srvr"]));
    assert!(c.is_four_letter_word_enabled("mntr"));
    assert!(!c.is_four_letter_word_enabled("stat"));
    assert_eq!(
        parse("dataDir=/d\n4lw.commands.whitelist=\n").four_letter_words,
        set(&["srvr"])
    );
}

#[test]
fn read_only_mode_adds_isro() {
    let mut c = parse("dataDir=/d\n4lw.commands.whitelist=ruok\n");
    c.apply_system_properties(parse_jvm_flags("-Dreadonlymode.enabled=true"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(c.read_only_mode_enabled);
    assert_eq!(c.four_letter_words, set(&["isro", "ruok", "srvr"]));
}

// ----- JVM flags ------------------------------------------------------------------------------

#[test]
fn jvm_flags_are_split_like_zkserver_sh() {
    let flags = parse_jvm_flags(
        "-Dzookeeper.DigestAuthenticationProvider.superDigest=super:abc= -Xmx1g  -XX:+UseG1GC \
         -Dreadonlymode.enabled=true\t-Dflag -D -D=x -cp /a:/b -Da=1=2",
    );
    let expect: Vec<(String, String)> = [
        (
            "zookeeper.DigestAuthenticationProvider.superDigest",
            "super:abc=",
        ),
        ("readonlymode.enabled", "true"),
        ("flag", ""),
        ("a", "1=2"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(flags, expect);
    assert!(parse_jvm_flags("").is_empty());
}

#[test]
fn system_properties_fill_what_zoo_cfg_leaves_unset() {
    let mut c = parse("dataDir=/d\n");
    c.apply_system_properties(parse_jvm_flags(
        "-Dzookeeper.DigestAuthenticationProvider.superDigest=super:abc= -Xmx1g \
         -Dzookeeper.snapCount=50 -Dzookeeper.4lw.commands.whitelist=* -Djute.maxbuffer=0x400000 \
         -Dznode.container.checkIntervalMs=1000 -Dznode.container.maxPerMinute=5 \
         -Dznode.container.maxNeverUsedIntervalMs=7 -Dzookeeper.commitLogCount=9 \
         -Dzookeeper.admin.enableServer=false -Dzookeeper.snapCount=60 \
         -Dzookeeper.testZxidCounterLimit=100",
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.super_digest.as_deref(), Some("super:abc="));
    assert_eq!(c.snap_count, 60, "later -D wins");
    assert_eq!(c.four_letter_words.len(), FOUR_LETTER_WORDS.len());
    assert_eq!(c.jute_max_buffer, 4 * 1024 * 1024);
    assert_eq!(c.container_check_interval_ms, 1000);
    assert_eq!(c.container_max_per_minute, 5);
    assert_eq!(c.container_max_never_used_interval_ms, 7);
    assert_eq!(c.property("commitLogCount"), Some("9"));
    assert!(!c.admin.enable_server);
    assert_eq!(c.property("testZxidCounterLimit"), Some("100"));
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn zoo_cfg_beats_system_properties() {
    let mut c = parse("dataDir=/d\nsnapCount=10\n4lw.commands.whitelist=ruok\ncommitLogCount=1\n");
    c.apply_system_properties([
        ("zookeeper.snapCount", "20"),
        ("zookeeper.4lw.commands.whitelist", "*"),
        ("zookeeper.commitLogCount", "2"),
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.snap_count, 10);
    assert_eq!(c.four_letter_words, set(&["ruok", "srvr"]));
    assert_eq!(c.property("commitLogCount"), Some("1"));
}

#[test]
fn direct_keys_ignore_system_properties() {
    let mut c = parse("dataDir=/d\n");
    c.apply_system_properties([
        ("zookeeper.tickTime", "100"),
        ("zookeeper.server.1", "a:1:2"),
        ("zookeeper.log.dir", "/var/log"),
        ("java.net.preferIPv4Stack", "true"),
        ("zookeeper.jute.maxbuffer", "5"),
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.tick_time, 3000);
    assert!(c.servers.is_empty());
    assert_eq!(c.jute_max_buffer, DEFAULT_JUTE_MAX_BUFFER);
    assert!(has_warning(
        &c,
        "-Dzookeeper.tickTime: ignored: tickTime is read only from zoo.cfg"
    ));
    assert!(has_warning(&c, "-Dzookeeper.server.1: ignored"));
    assert!(has_warning(
        &c,
        "-Dzookeeper.log.dir: log.dir has no effect in zk"
    ));
    assert!(has_warning(
        &c,
        "-Djava.net.preferIPv4Stack: -Djava.net.preferIPv4Stack has no effect"
    ));
    assert!(has_warning(
        &c,
        "-Dzookeeper.jute.maxbuffer: jute.maxbuffer has no effect here"
    ));
}

#[test]
fn bad_system_property_names_the_flag() {
    let mut c = parse(MINIMAL);
    let err = match c.apply_system_properties([("zookeeper.snapCount", "lots")]) {
        Ok(()) => panic!("expected an error"),
        Err(err) => err,
    };
    assert_eq!(
        err.to_string(),
        "-Dzookeeper.snapCount: snapCount: invalid integer \"lots\""
    );
    assert_eq!(err.line(), None);
    let err = match c.apply_system_properties([("jute.maxbuffer", "0")]) {
        Ok(()) => panic!("expected an error"),
        Err(err) => err,
    };
    assert_eq!(
        err.to_string(),
        "-Djute.maxbuffer: jute.maxbuffer: must be a positive number of bytes, got 0"
    );
}

#[test]
fn extended_types_from_system_property_revalidates_server_ids() {
    let mut c = parse(
        "dataDir=/d\ninitLimit=5\nsyncLimit=2\nserver.255=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2\n",
    );
    let err = match c.apply_system_properties([("zookeeper.extendedTypesEnabled", "true")]) {
        Ok(()) => panic!("expected an error"),
        Err(err) => err,
    };
    assert_eq!(
        err.to_string(),
        "zoo.cfg:4: server.255: server id must be 1..=254 with extendedTypesEnabled"
    );
}

// ----- server.N -------------------------------------------------------------------------------

fn server(c: &ServerConfig, id: u64) -> &QuorumServer {
    match c.servers.get(&id) {
        Some(s) => s,
        None => panic!("no server.{id}"),
    }
}

const ENSEMBLE: &str =
    "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/var/lib/zookeeper\nclientPort=2181\n\
    server.1=zk1.example.com:2888:3888\n\
    server.2=zk2.example.com:2888:3888:participant;2182\n\
    server.3=10.0.0.3:2888:3888:Observer;10.0.0.3:2183\n\
    server.4=[2001:db8::4]:2888:3888;[::1]:2184\n";

#[test]
fn server_line_forms() {
    let c = parse(ENSEMBLE);
    let s1 = server(&c, 1);
    assert_eq!(
        s1.addresses,
        vec![QuorumAddress {
            host: "zk1.example.com".into(),
            quorum_port: 2888,
            election_port: 3888
        }]
    );
    assert_eq!(s1.peer_type, PeerType::Participant);
    assert_eq!(s1.client_address, None);
    let s2 = server(&c, 2);
    assert_eq!(
        s2.client_address,
        Some(ClientAddress {
            host: "0.0.0.0".into(),
            port: 2182
        })
    );
    let s3 = server(&c, 3);
    assert_eq!(s3.peer_type, PeerType::Observer);
    assert_eq!(
        s3.client_address,
        Some(ClientAddress {
            host: "10.0.0.3".into(),
            port: 2183
        })
    );
    let s4 = server(&c, 4);
    assert_eq!(s4.addresses[0].host, "2001:db8::4");
    assert_eq!(
        s4.client_address,
        Some(ClientAddress {
            host: "::1".into(),
            port: 2184
        })
    );

    assert_eq!(s1.to_string(), "zk1.example.com:2888:3888:participant");
    assert_eq!(
        s2.to_string(),
        "zk2.example.com:2888:3888:participant;0.0.0.0:2182"
    );
    assert_eq!(s3.to_string(), "10.0.0.3:2888:3888:observer;10.0.0.3:2183");
    assert_eq!(
        s4.to_string(),
        "[2001:db8::4]:2888:3888:participant;[::1]:2184"
    );

    assert!(!c.is_standalone());
    assert_eq!(c.participants().count(), 3);
    assert_eq!(c.observers().count(), 1);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert_eq!(
        c.dynamic_config_text(),
        "server.1=zk1.example.com:2888:3888:participant\n\
         server.2=zk2.example.com:2888:3888:participant;0.0.0.0:2182\n\
         server.3=10.0.0.3:2888:3888:observer;10.0.0.3:2183\n\
         server.4=[2001:db8::4]:2888:3888:participant;[::1]:2184\nversion=0"
    );
}

#[test]
fn multi_address_servers() {
    let text = "dataDir=/d\ninitLimit=5\nsyncLimit=2\nmultiAddress.enabled=true\n\
                server.1=a1:2888:3888|a2:2889:3889\nserver.2=b:2888:3888\nserver.3=c:2888:3888\n";
    let c = parse(text);
    assert_eq!(server(&c, 1).addresses.len(), 2);
    assert_eq!(
        server(&c, 1).to_string(),
        "a1:2888:3888|a2:2889:3889:participant"
    );

    let err = parse_err(&text.replace("multiAddress.enabled=true", "multiAddress.enabled=false"));
    assert_eq!(err.line(), Some(5));
    assert!(
        err.to_string().contains("multiAddress.enabled is false"),
        "{err}"
    );

    // As in Apache, a role on one address applies to the server...
    let c = parse(&text.replace("a2:2889:3889", "a2:2889:3889:observer"));
    assert_eq!(server(&c, 1).peer_type, PeerType::Observer);
    // ... but two addresses may not disagree.
    let err = parse_err(&text.replace(
        "a1:2888:3888|a2:2889:3889",
        "a1:2888:3888:participant|a2:2889:3889:observer",
    ));
    assert_eq!(
        err.to_string(),
        "zoo.cfg:5: server.1: all addresses of one server must have the same role"
    );
}

#[test]
fn bad_server_lines_fail_with_line() {
    let cases: &[(&str, &str)] = &[
        ("server.1=host:2888", "does not have the form"),
        (
            "server.1=host:2888:3888:participant:extra",
            "does not have the form",
        ),
        (
            "server.1=host:2888:2888",
            "quorum port and election port must differ (both 2888)",
        ),
        ("server.1=host:x:3888", "invalid quorum port \"x\""),
        ("server.1=host:0:3888", "quorum port 0 out of range"),
        (
            "server.1=host:2888:3888:leader",
            "unrecognised peer type \"leader\"",
        ),
        ("server.1=host:2888:3888;a:b:c", "does not have the form"),
        ("server.1=host:2888:3888;1;2", "does not have the form"),
        ("server.1=[::1:2888:3888", "no matching ']'"),
        ("server.1=:2888:3888", "does not have the form"),
        (
            "server.x=host:2888:3888",
            "server.x: \"x\" is not a valid id",
        ),
        ("server.-1=host:2888:3888", "is not a valid id"),
        ("server.0=host:2888:3888", "server id must be 1..=255"),
        ("server.256=host:2888:3888", "server id must be 1..=255"),
        (
            "server.principal=zk/host@REALM",
            "\"principal\" is not a valid id",
        ),
    ];
    for (line, expected) in cases {
        let err = parse_err(&format!("dataDir=/d\n{line}\n"));
        assert_eq!(err.line(), Some(2), "{line}: {err}");
        assert!(
            err.to_string().starts_with("zoo.cfg:2: server."),
            "{line}: {err}"
        );
        assert!(err.to_string().contains(expected), "{line}: {err}");
    }
}

#[test]
fn extended_types_limit_server_ids_to_254() {
    let text = "dataDir=/d\nserver.255=a:1:2\n";
    assert!(parse(text).is_standalone());
    let err = parse_err(&format!("extendedTypesEnabled=true\n{text}"));
    assert_eq!(
        err.to_string(),
        "zoo.cfg:3: server.255: server id must be 1..=254 with extendedTypesEnabled"
    );
}

#[test]
fn groups_and_weights() {
    let c = parse(
        "dataDir=/d\ninitLimit=5\nsyncLimit=2\nserver.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2\nserver.4=d:1:2\n\
         group.1=1:2\ngroup.2=3:4\nweight.1=2\nweight.3=0\n",
    );
    assert_eq!(c.groups.get(&1), Some(&vec![1, 2]));
    assert_eq!(c.groups.get(&2), Some(&vec![3, 4]));
    assert_eq!(c.weights, BTreeMap::from([(1, 2), (3, 0)]));
    assert!(c.dynamic_config_text().contains(
        "group.1=1:2\ngroup.2=3:4\nweight.1=2\nweight.2=1\nweight.3=0\nweight.4=1\nversion=0"
    ));

    let err = parse_err("dataDir=/d\nserver.1=a:1:2\nserver.2=b:1:2\ngroup.1=1:2\ngroup.2=2\n");
    assert!(
        err.to_string().contains("server 2 is also in group.1"),
        "{err}"
    );
    let err = parse_err(
        "dataDir=/d\ninitLimit=1\nsyncLimit=1\nserver.1=a:1:2\nserver.2=b:1:2\ngroup.1=1\n",
    );
    assert_eq!(
        err.to_string(),
        "zoo.cfg:5: server.2: participant is in no group.N"
    );
    let err = parse_err("dataDir=/d\nserver.1=a:1:2\ngroup.1=1:7\n");
    assert_eq!(
        err.to_string(),
        "zoo.cfg:3: group.1: server 7 has no server.7 line"
    );
    let err = parse_err("dataDir=/d\ngroup.1=1:x\n");
    assert!(
        err.to_string().contains("invalid server id \"x\" in group"),
        "{err}"
    );
    let err = parse_err("dataDir=/d\nweight.1=-2\n");
    assert_eq!(
        err.to_string(),
        "zoo.cfg:2: weight.1: invalid weight \"-2\""
    );
}

// ----- standalone detection -------------------------------------------------------------------

#[test]
fn standalone_detection() {
    assert!(parse(MINIMAL).is_standalone());
    // One participant with standaloneEnabled (the HBase case) is standalone.
    assert!(parse("dataDir=/d\nserver.1=localhost:2888:3888\n").is_standalone());
    // ... but with standaloneEnabled=false it is a one-member ensemble, which needs limits.
    let err = parse_err("dataDir=/d\nstandaloneEnabled=false\nserver.1=localhost:2888:3888\n");
    assert_eq!(
        err.to_string(),
        "zoo.cfg: initLimit is required but not set (server.N lines define an ensemble)"
    );
    let c = parse("dataDir=/d\nstandaloneEnabled=false\ninitLimit=5\nsyncLimit=2\nserver.1=localhost:2888:3888\n");
    assert!(!c.is_standalone());
    assert!(has_warning(&c, "no server failure will be tolerated"));
    // Observers do not count as participants.
    let c = parse("dataDir=/d\ninitLimit=5\nsyncLimit=2\nserver.1=a:1:2\nserver.2=b:1:2:observer\nstandaloneEnabled=false\n");
    assert!(!c.is_standalone());

    let err = parse_err("dataDir=/d\nstandaloneEnabled=false\n");
    assert_eq!(
        err.to_string(),
        "zoo.cfg:2: standaloneEnabled: false requires at least one participant server.N line"
    );
    let err = parse_err("dataDir=/d\nserver.1=a:1:2:observer\n");
    assert_eq!(
        err.to_string(),
        "zoo.cfg:2: server.1: observers need an ensemble of at least two participants"
    );
    let err = parse_err("dataDir=/d\nserver.1=a:1:2\nserver.2=b:1:2\n");
    assert_eq!(
        err.to_string(),
        "zoo.cfg: initLimit is required but not set (server.N lines define an ensemble)"
    );
    let err = parse_err("dataDir=/d\ninitLimit=3\nserver.1=a:1:2\nserver.2=b:1:2\n");
    assert!(matches!(err, ConfigError::Missing { ref key, .. } if key == "syncLimit"));

    let even = parse("dataDir=/d\ninitLimit=5\nsyncLimit=2\nserver.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2\nserver.4=d:1:2\n");
    assert!(has_warning(
        &even,
        "4 participants tolerate no more failures than 3"
    ));
}

#[test]
fn client_address_from_client_port_or_server_line() {
    let c = parse(ENSEMBLE);
    assert_eq!(
        c.client_address(Some(2)),
        Some(ClientAddress {
            host: "0.0.0.0".into(),
            port: 2181
        })
    );
    let c = parse(&ENSEMBLE.replace("clientPort=2181\n", ""));
    assert_eq!(
        c.client_address(Some(3)),
        Some(ClientAddress {
            host: "10.0.0.3".into(),
            port: 2183
        })
    );
    assert_eq!(c.client_address(Some(1)), None);
    assert_eq!(c.client_address(None), None);
}

// ----- files: myid, dynamic config ------------------------------------------------------------

fn temp_dir() -> tempfile::TempDir {
    match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(err) => panic!("tempdir: {err}"),
    }
}

fn write(path: &Path, text: &str) {
    if let Err(err) = std::fs::write(path, text) {
        panic!("write {}: {err}", path.display());
    }
}

#[test]
fn read_myid_cases() {
    let dir = temp_dir();
    let mut c = parse(MINIMAL);
    c.data_dir = dir.path().to_path_buf();
    assert_eq!(c.read_myid().unwrap_or_else(|e| panic!("{e}")), None);
    write(&dir.path().join("myid"), " 3 \nignored\n");
    assert_eq!(c.read_myid().unwrap_or_else(|e| panic!("{e}")), Some(3));
    // Debian ships a placeholder text until the operator writes an id.
    write(
        &dir.path().join("myid"),
        "replace this text with the cluster-unique zookeeper's instance id (1-255)\n",
    );
    let err = match c.read_myid() {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(err) => err,
    };
    assert!(matches!(err, ConfigError::Myid { .. }));
    assert!(err.to_string().ends_with("myid: server id \"replace this text with the cluster-unique zookeeper's instance id (1-255)\" is not a number"), "{err}");
    write(&dir.path().join("myid"), "");
    assert!(c.read_myid().is_err());
}

#[test]
fn from_file_loads_the_dynamic_config() {
    let dir = temp_dir();
    let dynamic = dir.path().join("zoo.cfg.dynamic.100000000");
    write(&dynamic, "server.1=a:2888:3888;2181\nserver.2=b:2888:3888;2181\nserver.3=c:2888:3888:observer;2181\n");
    let cfg = dir.path().join("zoo.cfg");
    write(
        &cfg,
        &format!(
            "dataDir={}\ninitLimit=5\nsyncLimit=2\ndynamicConfigFile={}\n",
            dir.path().display(),
            dynamic.display()
        ),
    );
    let c = ServerConfig::from_file(&cfg).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.servers.len(), 3);
    assert_eq!(c.config_version, Some(0x1_0000_0000));
    assert!(!c.is_standalone());
    assert!(c.dynamic_config_text().ends_with("version=100000000"));

    // parse_str leaves the dynamic file alone until asked.
    let text = format!(
        "dataDir=/d\ninitLimit=5\nsyncLimit=2\ndynamicConfigFile={}\n",
        dynamic.display()
    );
    let mut c = parse(&text);
    assert!(c.servers.is_empty());
    c.load_dynamic_config().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.servers.len(), 3);

    // server.N may not be in both places.
    let err = parse_err(&format!("{text}server.1=a:1:2\n"));
    assert_eq!(err.to_string(), "zoo.cfg:5: server.1: must be in the separate dynamic config file when dynamicConfigFile is set");

    // The dynamic file holds membership only.
    write(&dynamic, "server.1=a:2888:3888\ntickTime=5\n");
    let err = match ServerConfig::from_file(&cfg) {
        Ok(_) => panic!("expected an error"),
        Err(err) => err,
    };
    assert!(
        err.to_string().ends_with(
            "zoo.cfg.dynamic.100000000:2: tickTime: not allowed in a dynamic config file"
        ),
        "{err}"
    );
}

// ----- real-world files -----------------------------------------------------------------------

/// Apache's `conf/zoo_sample.cfg`, with its comments.
const ZOO_SAMPLE_CFG: &str = "\
# The number of milliseconds of each tick
tickTime=2000
# The number of ticks that the initial 
# synchronization phase can take
initLimit=10
# The number of ticks that can pass between 
# sending a request and getting an acknowledgement
syncLimit=5
# the directory where the snapshot is stored.
# do not use /tmp for storage, /tmp here is just 
# example sakes.
dataDir=/tmp/zookeeper
# the port at which the clients will connect
clientPort=2181
# the maximum number of client connections.
# increase this if you need to handle more clients
#maxClientCnxns=60
#
# Be sure to read the maintenance section of the 
# administrator guide before turning on autopurge.
#
# https://zookeeper.apache.org/doc/current/zookeeperAdmin.html#sc_maintenance
#
# The number of snapshots to retain in dataDir
#autopurge.snapRetainCount=3
# Purge task interval in hours
# Set to \"0\" to disable auto purge feature
#autopurge.purgeInterval=1

## Metrics Providers
#
# https://prometheus.io Metrics Exporter
#metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider
#metricsProvider.httpHost=0.0.0.0
#metricsProvider.httpPort=7000
#metricsProvider.exportJvmInfo=true
";

#[test]
fn apache_sample_config() {
    let c = parse(ZOO_SAMPLE_CFG);
    assert_eq!(c.tick_time, 2000);
    assert_eq!((c.init_limit, c.sync_limit), (10, 5));
    assert_eq!(c.data_dir, PathBuf::from("/tmp/zookeeper"));
    assert_eq!(c.data_log_dir, PathBuf::from("/tmp/zookeeper"));
    assert_eq!(c.client_port, Some(2181));
    assert_eq!(
        (c.min_session_timeout, c.max_session_timeout),
        (4000, 40000)
    );
    assert_eq!(c.max_client_cnxns, 60);
    assert!(c.is_standalone());
    assert!(c.extra.is_empty() && c.warnings.is_empty());
}

/// A typical Debian/Ubuntu `/etc/zookeeper/conf/zoo.cfg` of a 3-node ensemble, as an operator
/// edits the packaged file (data under /var/lib/zookeeper, autopurge on, Prometheus enabled).
const DEBIAN_ENSEMBLE_CFG: &str = "\
# http://hadoop.apache.org/zookeeper/docs/current/zookeeperAdmin.html

# The number of milliseconds of each tick
tickTime=2000
# The number of ticks that the initial
# synchronization phase can take
initLimit=10
# The number of ticks that can pass between
# sending a request and getting an acknowledgement
syncLimit=5
# the directory where the snapshot is stored.
dataDir=/var/lib/zookeeper
# Place the dataLogDir to a separate physical disc for better performance
# dataLogDir=/disk2/zookeeper

# the port at which the clients will connect
clientPort=2181

# specify all zookeeper servers
# The fist port is used by followers to connect to the leader
# The second one is used for leader election
server.1=zookeeper1:2888:3888
server.2=zookeeper2:2888:3888
server.3=zookeeper3:2888:3888

# To avoid seeks ZooKeeper allocates space in the transaction log file in
# blocks of preAllocSize kilobytes. The default block size is 64M. One reason
# for changing the size of the blocks is to reduce the block size if snapshots
# are taken more often. (Also, see snapCount).
#preAllocSize=65536

# Clients can submit requests faster than ZooKeeper can process them,
# especially if there are a lot of clients. To prevent ZooKeeper from running
# out memory due to queued requests, ZooKeeper will throttle clients so that
# there is no more than globalOutstandingLimit outstanding requests in the
# system. The default limit is 1,000.ZooKeeper logs transactions to a
# transaction log. After snapCount transactions are written to a log file a
# snapshot is started and a new transaction log file is started. The default
# snapCount is 10,000.
#snapCount=1000

# If this option is defined, requests will be will logged to a trace file named
# traceFile.year.month.day.
#traceFile=

# Leader accepts client connections. Default value is \"yes\". The leader machine
# coordinates updates. For higher update throughput at thes slight expense of
# read throughput the leader can be configured to not accept clients and focus
# on coordination.
#leaderServes=yes

autopurge.snapRetainCount=3
autopurge.purgeInterval=24

4lw.commands.whitelist=srvr, ruok, mntr
metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider
metricsProvider.httpPort=7000
";

#[test]
fn debian_style_ensemble_config() {
    let c = parse(DEBIAN_ENSEMBLE_CFG);
    assert_eq!(c.data_dir, PathBuf::from("/var/lib/zookeeper"));
    assert_eq!(c.data_log_dir, PathBuf::from("/var/lib/zookeeper"));
    assert_eq!(c.servers.len(), 3);
    assert_eq!(server(&c, 2).addresses[0].host, "zookeeper2");
    assert!(!c.is_standalone());
    assert_eq!(c.autopurge_purge_interval_hours, 24);
    assert_eq!(c.four_letter_words, set(&["mntr", "ruok", "srvr"]));
    assert!(c.metrics.prometheus());
    assert_eq!(
        (c.metrics.http_host.as_str(), c.metrics.http_port),
        ("0.0.0.0", 7000)
    );
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn metrics_provider_keys() {
    let c = parse(
        "dataDir=/d\nmetricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n\
         metricsProvider.httpHost=127.0.0.1\nmetricsProvider.httpPort=17000\nmetricsProvider.exportJvmInfo=false\n",
    );
    assert!(c.metrics.prometheus());
    assert_eq!(
        (c.metrics.http_host.as_str(), c.metrics.http_port),
        ("127.0.0.1", 17000)
    );
    assert!(has_warning(
        &c,
        "metricsProvider.exportJvmInfo has no effect in zk"
    ));
    let other = parse("dataDir=/d\nmetricsProvider.className=com.example.Provider\n");
    assert!(!other.metrics.prometheus());
    assert!(has_warning(
        &other,
        "metricsProvider.className=com.example.Provider has no effect in zk"
    ));
    let err = parse_err("dataDir=/d\nmetricsProvider.httpPort=70000\n").to_string();
    assert!(
        err.starts_with("zoo.cfg:2: metricsProvider.httpPort"),
        "{err}"
    );
}

// ----- embedded default -----------------------------------------------------------------------

#[test]
fn embedded_default_is_a_valid_standalone_config() {
    let e = ServerConfig::embedded_default();
    assert!(e.is_standalone());
    assert_eq!(e.data_dir, PathBuf::from("./zk-data"));
    assert_eq!(e.data_log_dir, PathBuf::from("./zk-data"));
    assert_eq!(e.tick_time, 2000);
    assert_eq!(
        (e.min_session_timeout, e.max_session_timeout),
        (4000, 40000)
    );
    assert_eq!(
        e.client_address(None),
        Some(ClientAddress {
            host: "127.0.0.1".into(),
            port: 2181
        })
    );
    assert_eq!(e.four_letter_words, set(&["ruok", "srvr"]));
    assert!(!e.admin.enable_server);
    assert!(e.validate().is_ok());

    // Same as the equivalent zoo.cfg.
    let mut parsed = parse(
        "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=./zk-data\nclientPort=2181\n\
         clientPortAddress=127.0.0.1\n4lw.commands.whitelist=ruok,srvr\nadmin.enableServer=false\n",
    );
    // Where the settings came from differs (a file's lines, and the properties they set).
    parsed.origins = e.origins.clone();
    parsed.source = e.source.clone();
    parsed.system_properties = e.system_properties.clone();
    assert_eq!(parsed, e);

    // Without a zoo.cfg, -D may change system-property keys.
    let mut e = ServerConfig::embedded_default();
    e.apply_system_properties([("zookeeper.4lw.commands.whitelist", "*")])
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(e.four_letter_words.len(), FOUR_LETTER_WORDS.len());
}

// ----- SASL and authentication enforcement ----------------------------------------------------

#[test]
fn sasl_keys_from_zoo_cfg_and_jvm_flags() {
    let mut c = parse(
        "dataDir=/d\nclientPort=2181\n\
         authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n\
         superUser=admin\nenforce.auth.enabled=true\nenforce.auth.schemes=sasl, digest\n",
    );
    assert!(
        c.warnings.iter().all(|w| !w.message.contains("no effect")),
        "{:#?}",
        c.warnings
    );
    assert_eq!(c.sasl.enforced_schemes(), vec!["sasl", "digest"]);
    c.apply_system_properties(parse_jvm_flags(
        "-Djava.security.auth.login.config=/etc/zk/jaas.conf -Dzookeeper.sasl.serverconfig=ZkServer \
         -Dzookeeper.superUser.2=root -Dzookeeper.superUser=ignored",
    ))
    .unwrap();
    assert_eq!(
        c.sasl.login_config.as_deref(),
        Some(Path::new("/etc/zk/jaas.conf"))
    );
    assert_eq!(c.sasl.server_section.as_deref(), Some("ZkServer"));
    // zoo.cfg wins over -D for the same key.
    let supers: Vec<&str> = c.sasl.super_users.values().map(String::as_str).collect();
    assert_eq!(supers, vec!["admin", "root"]);
    // The older key means "sasl" and wins over enforce.auth.*.
    let c = parse("dataDir=/d\nsessionRequireClientSASLAuth=true\nenforce.auth.schemes=ip\n");
    assert_eq!(c.sasl.enforced_schemes(), vec!["sasl"]);
    assert!(parse(MINIMAL).sasl.enforced_schemes().is_empty());
}

#[test]
fn bad_enforcement_names_key_and_line() {
    for (text, needle) in [
        (
            "dataDir=/d\nenforce.auth.enabled=true\n",
            "zoo.cfg:2: enforce.auth.enabled",
        ),
        (
            "dataDir=/d\nenforce.auth.enabled=true\nenforce.auth.schemes=sasl,kerberos\n",
            "zoo.cfg:3: enforce.auth.schemes",
        ),
        (
            "dataDir=/d\nsessionRequireClientSASLAuth=maybe\n",
            "zoo.cfg:2: sessionRequireClientSASLAuth",
        ),
    ] {
        let err = parse_err(text).to_string();
        assert!(err.contains(needle), "{text:?}: {err}");
    }
}

#[test]
fn jaas_file_is_read_into_options() {
    use crate::server::options::ServerOptions;
    let dir = std::env::temp_dir().join(format!("zk-sasl-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let jaas = dir.join("jaas.conf");
    std::fs::write(
        &jaas,
        "Server {\n org.apache.zookeeper.server.auth.DigestLoginModule required\n user_bob=\"pw\";\n};\n",
    )
    .unwrap();
    let mut c =
        parse("dataDir=/d\nclientPort=2181\nsuperUser=bob\nsessionRequireClientSASLAuth=true\n");
    c.apply_system_properties([("java.security.auth.login.config", jaas.to_str().unwrap())])
        .unwrap();
    let opts = ServerOptions::from_config(&c).unwrap();
    let sasl = opts.sasl.as_ref().unwrap();
    assert_eq!(sasl.users.get("bob").map(String::as_str), Some("pw"));
    assert_eq!(sasl.super_users, vec!["bob".to_string()]);
    assert!(opts.enforce_auth.requires_sasl());

    std::fs::write(&jaas, "Server {\n m required a=;\n};\n").unwrap();
    let err = ServerOptions::from_config(&c).unwrap_err().to_string();
    assert!(
        err.contains(&format!("{}:2: expected an option value", jaas.display())),
        "{err}"
    );
    c.apply_system_properties([("zookeeper.sasl.serverconfig", "Missing")])
        .unwrap();
    std::fs::write(&jaas, "Server { m required; };\n").unwrap();
    let err = ServerOptions::from_config(&c).unwrap_err().to_string();
    assert!(
        err.contains("No JAAS configuration section named 'Missing'"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
