use std::path::Path;

use super::*;
use crate::sasl::digest::{DigestClient, DigestError};
use crate::sasl::jaas::JaasConfig;

const GOOD_JAAS: &str = r#"
// ZooKeeper's server section
Server {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_super="adminsecret"   /* the admin */
    user_bob="bob\"secret"
    user_carol=plain;
};
# the client's
Client {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    username="bob" password="bobsecret";
};
"#;

#[test]
fn jaas_good_file_with_comments_and_several_users() {
    let config = JaasConfig::parse(GOOD_JAAS, Path::new("jaas.conf")).unwrap();
    assert_eq!(config.sections.len(), 2);
    let opts = SaslOptions::from_jaas(&config, Path::new("jaas.conf"), "Server", vec![]).unwrap();
    assert_eq!(opts.users.len(), 3);
    assert_eq!(opts.users["super"], "adminsecret");
    assert_eq!(opts.users["bob"], "bob\"secret");
    assert_eq!(opts.users["carol"], "plain");
    let client = config.section("Client").unwrap();
    assert_eq!(
        client.entries[0].options[0],
        ("username".into(), "bob".into())
    );
    assert_eq!(client.entries[0].line, 11);
    // Passwords never show in Debug output.
    assert!(!format!("{opts:?}{config:?}").contains("adminsecret"));
}

#[test]
fn jaas_missing_section_names_file_and_section() {
    let config = JaasConfig::parse(GOOD_JAAS, Path::new("/etc/jaas.conf")).unwrap();
    let err =
        SaslOptions::from_jaas(&config, Path::new("/etc/jaas.conf"), "Other", vec![]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "No JAAS configuration section named 'Other' was found in '/etc/jaas.conf'"
    );
}

#[test]
fn jaas_kerberos_is_flagged_not_fatal() {
    let text = "Server {\n com.sun.security.auth.module.Krb5LoginModule required\n useKeyTab=true keyTab=\"/k\" principal=\"zookeeper/h@R\";\n};\n";
    let config = JaasConfig::parse(text, Path::new("j")).unwrap();
    let opts = SaslOptions::from_jaas(&config, Path::new("j"), "Server", vec![]).unwrap();
    assert!(opts.kerberos_requested);
    assert!(opts.users.is_empty());
}

/// What a client answers to `challenge` (the shared DIGEST-MD5 client, as the Rust client
/// and the quorum learners use it).
fn client_response(challenge: &[u8], user: &str, password: &str) -> Vec<u8> {
    DigestClient::new(user, password, PROTOCOL, REALM)
        .respond(challenge)
        .unwrap()
}

fn options() -> SaslOptions {
    SaslOptions {
        users: [("bob".to_string(), "pw".to_string())]
            .into_iter()
            .collect(),
        super_users: vec!["admin".into()],
        ..SaslOptions::default()
    }
}

#[test]
fn exchange_succeeds_then_refuses_more_tokens() {
    let opts = options();
    let mut ex = SaslExchange::default();
    let Ok(Step::Continue(challenge)) = ex.step(&opts, b"") else {
        panic!("no challenge");
    };
    let response = client_response(&challenge, "bob", "pw");
    match ex.step(&opts, &response) {
        Ok(Step::Done { token, user }) => {
            assert_eq!(user, "bob");
            assert!(token.starts_with(b"rspauth="));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(ex.step(&opts, b""), Err(SaslError::AlreadyComplete));
    assert_eq!(opts.ids_for("bob").len(), 1);
    assert!(opts
        .ids_for("admin")
        .contains(&crate::server::acl::super_id()));
}

#[test]
fn exchange_bad_inputs() {
    let opts = options();
    let mut ex = SaslExchange::default();
    // An initial response is ignored (as Apache does); the challenge follows.
    assert!(matches!(ex.step(&opts, b"hello"), Ok(Step::Continue(_))));
    assert!(matches!(
        ex.step(&opts, b"garbage"),
        Err(SaslError::Digest(DigestError::Malformed(_)))
    ));
    assert_eq!(ex.step(&opts, b""), Err(SaslError::AlreadyComplete));

    let mut ex = SaslExchange::default();
    let big = vec![b'a'; MAX_TOKEN_BYTES + 1];
    assert_eq!(
        ex.step(&opts, &big),
        Err(SaslError::TooLarge(MAX_TOKEN_BYTES + 1))
    );

    let mut ex = SaslExchange::default();
    let Ok(Step::Continue(challenge)) = ex.step(&opts, b"") else {
        panic!("no challenge");
    };
    let response = client_response(&challenge, "bob", "wrong");
    assert!(matches!(
        ex.step(&opts, &response),
        Err(SaslError::Digest(DigestError::WrongPassword(_)))
    ));
    // A failed exchange cannot be retried on the same connection.
    assert_eq!(ex.step(&opts, &response), Err(SaslError::AlreadyComplete));
}

#[test]
fn enforcement() {
    let none = AuthEnforcement::default();
    assert!(none.allows(&[]));
    let sasl = AuthEnforcement {
        schemes: vec!["sasl".into()],
    };
    assert!(sasl.requires_sasl());
    assert!(!sasl.allows(&[Id {
        scheme: "ip".into(),
        id: "127.0.0.1".into()
    }]));
    assert!(sasl.allows(&options().ids_for("bob")));
}
