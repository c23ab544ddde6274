use std::path::Path;

use super::digest::{parse_for_test, DigestClient, DigestError, DigestServer};
use super::jaas::JaasConfig;
use super::{PROTOCOL, REALM};

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

// RFC 2831's example from the client's side: chris answers the challenge with the
// response the RFC prints, and takes the server's rspauth.
const RFC_CHALLENGE: &[u8] = b"realm=\"elwood.innosoft.com\",nonce=\"OA6MG9tEQGm2hh\",\
qop=\"auth\",algorithm=md5-sess,charset=utf-8";

fn rfc_client() -> DigestClient {
    DigestClient::with_cnonce(
        "chris",
        "secret",
        "imap",
        "elwood.innosoft.com",
        "OA6MHXh6VqTrRk",
    )
}

#[test]
fn digest_client_rfc2831_example() {
    let mut client = rfc_client();
    assert!(client.initial_response().is_empty());
    let response = client.step(RFC_CHALLENGE).unwrap();
    let text = String::from_utf8(response.clone()).unwrap();
    assert!(
        text.contains("response=d388dad90d4bbd760a152321f2143af7"),
        "{text}"
    );
    // The server checks it as it checks the RFC's own response.
    let verified = rfc_server()
        .verify(&response, |u| (u == "chris").then_some("secret"))
        .unwrap();
    assert!(!client.is_done());
    assert_eq!(client.step(&verified.rspauth).unwrap(), Vec::<u8>::new());
    assert!(client.is_done());
    assert_eq!(client.step(b"rspauth=x"), Err(DigestError::Finished));
}

#[test]
fn digest_client_and_server_agree_on_apaches_names() {
    let server = DigestServer::new(
        REALM,
        &format!("{PROTOCOL}/{REALM}"),
        &DigestServer::random_nonce(),
    );
    for password in ["pw", "pässwörd", "ünïcode ☃"] {
        let mut client = DigestClient::new("bob", password, PROTOCOL, REALM);
        let response = client.step(&server.challenge()).unwrap();
        let verified = server
            .verify(&response, |u| (u == "bob").then_some(password))
            .unwrap();
        assert_eq!(verified.user, "bob");
        client.step(&verified.rspauth).unwrap();
        assert!(client.is_done());
    }
    let mut wrong = DigestClient::new("bob", "other", PROTOCOL, REALM);
    let response = wrong.step(&server.challenge()).unwrap();
    assert_eq!(
        server.verify(&response, |_| Some("pw")),
        Err(DigestError::WrongPassword("bob".into()))
    );
}

#[test]
fn digest_client_refuses_a_server_that_does_not_know_the_password() {
    let mut client = rfc_client();
    client.step(RFC_CHALLENGE).unwrap();
    assert_eq!(
        client.step(b"rspauth=00000000000000000000000000000000"),
        Err(DigestError::ServerProof)
    );
    let mut client = rfc_client();
    client.step(RFC_CHALLENGE).unwrap();
    assert_eq!(
        client.step(b"nothing=1"),
        Err(DigestError::Missing("rspauth"))
    );
}

#[test]
fn digest_client_challenge_checks() {
    let with = |from: &str, to: &str| {
        String::from_utf8(RFC_CHALLENGE.to_vec())
            .unwrap()
            .replacen(from, to, 1)
            .into_bytes()
    };
    let cases: Vec<(Vec<u8>, DigestError)> = vec![
        (
            with("nonce=\"OA6MG9tEQGm2hh\",", ""),
            DigestError::Missing("nonce"),
        ),
        (
            with("algorithm=md5-sess", "algorithm=md5"),
            DigestError::Algorithm("md5".into()),
        ),
        (
            with("qop=\"auth\"", "qop=\"auth-int,auth-conf\""),
            DigestError::QopOffered("auth-int,auth-conf".into()),
        ),
        (
            with("charset=utf-8", "charset=latin1"),
            DigestError::Charset("latin1".into()),
        ),
    ];
    for (challenge, want) in cases {
        assert_eq!(rfc_client().step(&challenge), Err(want));
    }
    assert!(matches!(
        rfc_client().step(b"\"garbage"),
        Err(DigestError::Malformed(_))
    ));
    // A list that holds auth is fine; without charset the password is ISO 8859-1.
    let mut client = rfc_client();
    let response = client
        .step(&with("qop=\"auth\"", "qop=\"auth-int, auth\""))
        .unwrap();
    assert!(String::from_utf8(response).unwrap().ends_with("qop=auth"));
}
