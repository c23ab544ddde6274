//! The ensemble's security keys: `sslQuorum`, `portUnification`, `sslQuorumReloadCertFiles`,
//! `ssl.quorum.*` and `quorum.auth.*`.

use std::path::Path;

use super::*;
use crate::server::tls::{ClientAuth, StoreType, TlsVersion};

fn parse(text: &str) -> ServerConfig {
    ServerConfig::parse_str(text, "zoo.cfg").unwrap_or_else(|err| panic!("{err}"))
}

fn parse_err(text: &str) -> String {
    match ServerConfig::parse_str(text, "zoo.cfg") {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(err) => err.to_string(),
    }
}

#[test]
fn defaults_are_apaches() {
    let c = parse("dataDir=/d\n");
    assert!(!c.quorum_tls.ssl_quorum);
    assert!(!c.quorum_tls.port_unification);
    assert!(!c.quorum_tls.reload_cert_files);
    assert!(c.quorum_tls.hostname_verification);
    assert_eq!(c.quorum_tls.keys.client_auth, ClientAuth::Need);
    assert!(!c.quorum_sasl.enabled);
    assert!(!c.quorum_sasl.learner_require && !c.quorum_sasl.server_require);
    assert_eq!(c.quorum_sasl.learner_login_context, "QuorumLearner");
    assert_eq!(c.quorum_sasl.server_login_context, "QuorumServer");
}

#[test]
fn quorum_tls_keys_are_typed_apart_from_the_client_ports() {
    let mut c = parse(
        "dataDir=/d\nsslQuorum=true\nportUnification=true\nsslQuorumReloadCertFiles=true\n\
         ssl.quorum.keyStore.location=/k/member.p12\nssl.quorum.keyStore.password=pw\n\
         ssl.quorum.keyStore.type=PKCS12\nssl.quorum.trustStore.location=/k/ca.pem\n\
         ssl.quorum.hostnameVerification=false\nssl.quorum.clientAuth=want\n\
         ssl.quorum.enabledProtocols=TLSv1.3\nssl.keyStore.location=/k/client-port.pem\n",
    );
    assert!(
        c.warnings.is_empty(),
        "typed keys are silent: {:#?}",
        c.warnings
    );
    let q = &c.quorum_tls;
    assert!(q.ssl_quorum && q.port_unification && q.reload_cert_files);
    assert!(!q.hostname_verification);
    assert_eq!(
        q.keys.key_store.location.as_deref(),
        Some(Path::new("/k/member.p12"))
    );
    assert_eq!(q.keys.key_store.store_type, Some(StoreType::Pkcs12));
    assert_eq!(q.keys.key_store.password.as_deref(), Some("pw"));
    assert_eq!(
        q.keys.trust_store.location.as_deref(),
        Some(Path::new("/k/ca.pem"))
    );
    assert_eq!(q.keys.client_auth, ClientAuth::Want);
    assert_eq!(q.keys.protocols, vec![TlsVersion::V1_3]);
    assert_eq!(
        c.tls.keys.key_store.location.as_deref(),
        Some(Path::new("/k/client-port.pem"))
    );
    assert_eq!(c.tls.keys.client_auth, ClientAuth::Need);
    // ssl.quorum.* are system properties in Apache; quorum.auth.* are not.
    c.apply_system_properties([
        (
            "zookeeper.ssl.quorum.ciphersuites",
            "TLS_AES_128_GCM_SHA256",
        ),
        ("zookeeper.quorum.auth.enableSasl", "true"),
    ])
    .unwrap();
    assert_eq!(
        c.quorum_tls.keys.cipher_suites,
        vec!["TLS_AES_128_GCM_SHA256".to_string()]
    );
    assert!(!c.quorum_sasl.enabled);
    assert!(c.warnings.iter().any(|w| w
        .message
        .contains("quorum.auth.enableSasl is read only from zoo.cfg")));
}

#[test]
fn quorum_sasl_keys_follow_apaches_rules() {
    let c = parse(
        "dataDir=/d\nquorum.auth.enableSasl=true\nquorum.auth.learnerRequireSasl=true\n\
         quorum.auth.serverRequireSasl=true\nquorum.auth.learner.saslLoginContext=Learner\n\
         quorum.auth.server.saslLoginContext=Server2\n",
    );
    let s = &c.quorum_sasl;
    assert!(s.enabled && s.learner_require && s.server_require);
    assert_eq!(s.learner_login_context, "Learner");
    assert_eq!(s.server_login_context, "Server2");
    let kerberos = parse(
        "dataDir=/d\nquorum.auth.enableSasl=true\nquorum.auth.kerberos.servicePrincipal=zkquorum/_HOST\n",
    );
    assert!(kerberos
        .warnings
        .iter()
        .any(|w| w.to_string().contains("zoo.cfg:3")
            && w.message.contains("does not support Kerberos")));
}

#[test]
fn bad_quorum_security_values_name_key_and_line() {
    for (text, needle) in [
        ("dataDir=/d\nsslQuorum=yes\n", "zoo.cfg:2: sslQuorum"),
        (
            "dataDir=/d\n\nportUnification=1\n",
            "zoo.cfg:3: portUnification",
        ),
        (
            "dataDir=/d\nssl.quorum.hostnameVerification=no\n",
            "zoo.cfg:2: ssl.quorum.hostnameVerification",
        ),
        (
            "dataDir=/d\nssl.quorum.clientAuth=sometimes\n",
            "zoo.cfg:2: ssl.quorum.clientAuth",
        ),
        (
            "dataDir=/d\nssl.quorum.trustStore.type=BCFKS\n",
            "zoo.cfg:2: ssl.quorum.trustStore.type",
        ),
        (
            "dataDir=/d\nssl.quorum.protocol=TLSv9\n",
            "zoo.cfg:2: ssl.quorum.protocol",
        ),
        (
            "dataDir=/d\nquorum.auth.enableSasl=maybe\n",
            "zoo.cfg:2: quorum.auth.enableSasl",
        ),
        // Requiring SASL needs it enabled, and a server that requires it must be a learner
        // that does it too (Apache's checks).
        (
            "dataDir=/d\nquorum.auth.serverRequireSasl=true\n",
            "zoo.cfg:2: quorum.auth.serverRequireSasl",
        ),
        (
            "dataDir=/d\nquorum.auth.enableSasl=false\nquorum.auth.learnerRequireSasl=true\n",
            "zoo.cfg:3: quorum.auth.learnerRequireSasl",
        ),
        (
            "dataDir=/d\nquorum.auth.enableSasl=true\nquorum.auth.serverRequireSasl=true\n",
            "zoo.cfg:3: quorum.auth.serverRequireSasl",
        ),
    ] {
        let err = parse_err(text);
        assert!(err.contains(needle), "{text:?}: {err}");
    }
}

#[test]
fn quorum_tls_without_stores_names_the_missing_key() {
    use crate::server::options::ServerOptions;
    let dir = std::env::temp_dir().join(format!("zk-quorum-tls-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("myid"), "1\n").unwrap();
    let ensemble = format!(
        "dataDir={}\nclientPort=2181\ninitLimit=5\nsyncLimit=2\n\
         server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.2:2888:3888\nserver.3=127.0.0.3:2888:3888\n",
        dir.display()
    );
    let plain = ServerOptions::from_config(&parse(&ensemble)).unwrap();
    let security = &plain.ensemble.as_ref().unwrap().security;
    assert!(security.tls.is_none() && !security.ssl_quorum);

    let err = ServerOptions::from_config(&parse(&format!("{ensemble}sslQuorum=true\n")))
        .unwrap_err()
        .to_string();
    assert!(err.contains("ssl.quorum.keyStore.location"), "{err}");
    let err = ServerOptions::from_config(&parse(&format!(
        "{ensemble}portUnification=true\nssl.quorum.keyStore.location=/k/m.pem\n"
    )))
    .unwrap_err()
    .to_string();
    assert!(err.contains("ssl.quorum.trustStore.location"), "{err}");
    let opts = ServerOptions::from_config(&parse(&format!(
        "{ensemble}sslQuorum=true\nssl.quorum.keyStore.location=/k/m.pem\n\
         ssl.quorum.trustStore.location=/k/ca.pem\n"
    )))
    .unwrap();
    let security = &opts.ensemble.as_ref().unwrap().security;
    assert!(security.ssl_quorum && !security.port_unification);
    let tls = security.tls.as_ref().unwrap();
    assert!(tls.hostname_verification);
    assert_eq!(tls.tls.key_store.location, Path::new("/k/m.pem"));
    assert!(opts.tls.is_none(), "the client port stays plaintext");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn quorum_sasl_reads_both_sections_of_the_jaas_file() {
    use crate::server::options::ServerOptions;
    let dir = std::env::temp_dir().join(format!("zk-quorum-sasl-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("myid"), "2\n").unwrap();
    let jaas = dir.join("jaas.conf");
    std::fs::write(
        &jaas,
        "QuorumServer {\n org.apache.zookeeper.server.auth.DigestLoginModule required\n \
         user_member=\"s3cret\";\n};\nQuorumLearner {\n \
         org.apache.zookeeper.server.auth.DigestLoginModule required\n username=\"member\"\n \
         password=\"s3cret\";\n};\n",
    )
    .unwrap();
    let text = format!(
        "dataDir={}\nclientPort=2181\ninitLimit=5\nsyncLimit=2\n\
         server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.2:2888:3888\nserver.3=127.0.0.3:2888:3888\n\
         quorum.auth.enableSasl=true\nquorum.auth.learnerRequireSasl=true\n",
        dir.display()
    );
    let mut c = parse(&text);
    let err = ServerOptions::from_config(&c).unwrap_err().to_string();
    assert!(err.contains("java.security.auth.login.config"), "{err}");
    c.apply_system_properties([("java.security.auth.login.config", jaas.to_str().unwrap())])
        .unwrap();
    let opts = ServerOptions::from_config(&c).unwrap();
    // A JAAS file for the quorum alone: no SASL on the client port, as in Apache.
    assert!(opts.sasl.is_none());
    let sasl = opts.ensemble.unwrap().security.sasl.unwrap();
    assert_eq!(
        sasl.server.users.get("member").map(String::as_str),
        Some("s3cret")
    );
    assert_eq!(sasl.learner.username, "member");
    assert_eq!(sasl.learner.password, "s3cret");
    assert!(sasl.learner_require && !sasl.server_require);
    assert!(
        !format!("{sasl:?}").contains("s3cret"),
        "passwords stay out of Debug"
    );

    let renamed = parse(&format!(
        "{text}quorum.auth.learner.saslLoginContext=Elsewhere\n"
    ));
    let mut renamed = renamed;
    renamed
        .apply_system_properties([("java.security.auth.login.config", jaas.to_str().unwrap())])
        .unwrap();
    let err = ServerOptions::from_config(&renamed)
        .unwrap_err()
        .to_string();
    assert!(err.contains("'Elsewhere'"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
