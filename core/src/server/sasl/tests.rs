use std::path::Path;

use super::digest::{parse_for_test, DigestError, DigestServer};
use super::jaas::JaasConfig;
use super::*;

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

#[test]
fn jaas_malformed_files_name_the_line() {
    let cases: &[(&str, usize, &str)] = &[
        (
            "Server {\n m required a=\"b\"\n};\n",
            3,
            "expected an option name or ';'",
        ),
        (
            "Server {\n m mandatory;\n};\n",
            2,
            "control flag 'mandatory'",
        ),
        (
            "Server {\n m required a=\"b;\n};\n",
            2,
            "unterminated quoted string",
        ),
        (
            "Server {\n m required a=;\n};\n",
            2,
            "expected an option value",
        ),
        (
            "Server {\n m required;\n}\n",
            3,
            "expected ';' after the section's '}'",
        ),
        ("Server\n m required;\n};\n", 2, "expected '{'"),
        ("/* open\n\nServer {};", 1, "unterminated /* comment"),
        ("A {};\nA {};\n", 2, "appears twice"),
        ("Server {\n m required a=b @;\n};", 2, "expected '='"),
    ];
    for (text, line, message) in cases {
        let err = JaasConfig::parse(text, Path::new("/x/jaas.conf")).unwrap_err();
        assert_eq!(err.line, Some(*line), "{text:?}: {err}");
        assert!(err.message.contains(message), "{text:?}: {err}");
        assert!(
            err.to_string()
                .starts_with(&format!("/x/jaas.conf:{line}: ")),
            "{err}"
        );
    }
}

#[test]
fn jaas_unreadable_file_is_an_error() {
    let err = JaasConfig::from_file(Path::new("/nonexistent/jaas.conf")).unwrap_err();
    assert_eq!(err.line, None);
    assert!(
        err.to_string()
            .starts_with("/nonexistent/jaas.conf: cannot read"),
        "{err}"
    );
}

// RFC 2831 section 4, the worked example (IMAP): user chris, password secret.
const RFC_RESPONSE: &[u8] = b"charset=utf-8,username=\"chris\",realm=\"elwood.innosoft.com\",\
nonce=\"OA6MG9tEQGm2hh\",nc=00000001,cnonce=\"OA6MHXh6VqTrRk\",\
digest-uri=\"imap/elwood.innosoft.com\",response=d388dad90d4bbd760a152321f2143af7,qop=auth";

fn rfc_server() -> DigestServer {
    DigestServer::new(
        "elwood.innosoft.com",
        "imap/elwood.innosoft.com",
        "OA6MG9tEQGm2hh",
    )
}

#[test]
fn digest_rfc2831_example() {
    let server = rfc_server();
    let challenge = String::from_utf8(server.challenge()).unwrap();
    assert!(
        challenge.contains("realm=\"elwood.innosoft.com\""),
        "{challenge}"
    );
    assert!(
        challenge.contains("nonce=\"OA6MG9tEQGm2hh\""),
        "{challenge}"
    );
    assert!(challenge.contains("qop=\"auth\""), "{challenge}");
    assert!(challenge.contains("algorithm=md5-sess"), "{challenge}");
    let verified = server
        .verify(RFC_RESPONSE, |u| (u == "chris").then_some("secret"))
        .unwrap();
    assert_eq!(verified.user, "chris");
    assert_eq!(
        verified.rspauth,
        b"rspauth=ea40f60335c427b5527b84dbabcdfffd"
    );
}

#[test]
fn digest_wrong_password_or_user_refused() {
    let server = rfc_server();
    assert_eq!(
        server.verify(RFC_RESPONSE, |_| Some("Secret")),
        Err(DigestError::WrongPassword("chris".into()))
    );
    assert_eq!(
        server.verify(RFC_RESPONSE, |_| None),
        Err(DigestError::UnknownUser("chris".into()))
    );
}

#[test]
fn digest_response_checks() {
    let server = rfc_server();
    let ok = |_: &str| Some("secret");
    let with = |from: &str, to: &str| {
        String::from_utf8(RFC_RESPONSE.to_vec())
            .unwrap()
            .replacen(from, to, 1)
            .into_bytes()
    };
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (with("OA6MG9tEQGm2hh", "other"), "nonce does not match"),
        (with("nc=00000001", "nc=00000002"), "nonce count"),
        (with("qop=auth", "qop=auth-conf"), "qop"),
        (
            with("realm=\"elwood.innosoft.com\"", "realm=\"x\""),
            "realm",
        ),
        (with("imap/elwood", "imap/other"), "digest-uri"),
        (with("username=\"chris\",", ""), "username is missing"),
        (
            with("charset=utf-8,", "charset=utf-8,charset=utf-8,"),
            "more than once",
        ),
        (with("charset=utf-8,", "charset=latin1,"), "charset"),
        (with("qop=auth", "qop=\"auth"), "unterminated"),
        (
            with("cnonce=\"OA6MHXh6VqTrRk\"", "cnonce=\"OA6MHXh6"),
            "junk after cnonce",
        ),
        (with("qop=auth", "qop=auth,authzid=\"root\""), "authzid"),
        (b"=x".to_vec(), "directive name"),
        (b"\xff\xfe".to_vec(), "directive name"),
        (Vec::new(), "is missing"),
    ];
    for (response, want) in cases {
        let err = server.verify(&response, ok).unwrap_err();
        assert!(
            err.to_string().contains(want),
            "{}: {err}",
            String::from_utf8_lossy(&response)
        );
    }
    // An authzid equal to the username is accepted (and hashed into A1).
    assert!(matches!(
        server.verify(&with("qop=auth", "qop=auth,authzid=\"chris\""), ok),
        Err(DigestError::WrongPassword(_))
    ));
}

#[test]
fn directive_parsing() {
    let got = parse_for_test(b" a=1 , ,b=\"x\\\"y\",C = \"\" ,").unwrap();
    assert_eq!(
        got,
        vec![
            ("a".into(), b"1".to_vec()),
            ("b".into(), b"x\"y".to_vec()),
            ("c".into(), Vec::new())
        ]
    );
    let many: String = (0..40).map(|i| format!("k{i}=v,")).collect();
    assert!(parse_for_test(many.as_bytes()).is_err());
}

fn client_response(challenge: &[u8], user: &str, password: &str) -> Vec<u8> {
    use md5::{Digest, Md5};
    let challenge = String::from_utf8(challenge.to_vec()).unwrap();
    let nonce = challenge
        .split("nonce=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let key = Md5::digest(format!("{user}:{REALM}:{password}"));
    let mut a1 = key.to_vec();
    a1.extend_from_slice(format!(":{nonce}:cn").as_bytes());
    let ha1 = hex(&Md5::digest(&a1));
    let ha2 = hex(&Md5::digest(format!("AUTHENTICATE:{PROTOCOL}/{REALM}")));
    let response = hex(&Md5::digest(format!(
        "{ha1}:{nonce}:00000001:cn:auth:{ha2}"
    )));
    format!(
        "charset=utf-8,username=\"{user}\",realm=\"{REALM}\",nonce=\"{nonce}\",nc=00000001,\
         cnonce=\"cn\",digest-uri=\"{PROTOCOL}/{REALM}\",maxbuf=65536,response={response},qop=auth"
    )
    .into_bytes()
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
