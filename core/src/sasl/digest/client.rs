//! The client side of DIGEST-MD5: [`DigestClient::respond`] answers the server's
//! challenge, [`DigestClient::verify_rspauth`] checks that the server knew the password
//! too (mutual authentication), and nothing more is exchanged.

use super::{
    charset_is_utf8, constant_time_eq, encode_password, lookup, parse_directives, quote,
    random_token, response_value, session_key, DigestError,
};

/// One client's exchange: who it is, whom it talks to, and where it got to.
pub struct DigestClient {
    username: String,
    password: String,
    /// `protocol/server-name`, e.g. `zookeeper/zk-sasl-md5`.
    digest_uri: String,
    cnonce: String,
    state: State,
}

enum State {
    /// Waiting for the challenge.
    Challenged,
    /// Responded; the server's `rspauth` must equal this.
    Responded { rspauth: Vec<u8> },
    /// The server proved itself; the exchange is over.
    Done,
}

impl std::fmt::Debug for DigestClient {
    // The password stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestClient")
            .field("username", &self.username)
            .field("digest_uri", &self.digest_uri)
            .finish_non_exhaustive()
    }
}

impl DigestClient {
    /// A client authenticating as `username` to `protocol/server_name` (Apache's:
    /// `zookeeper/zk-sasl-md5`), with a fresh random cnonce.
    pub fn new(username: &str, password: &str, protocol: &str, server_name: &str) -> Self {
        Self::with_cnonce(username, password, protocol, server_name, &random_token())
    }

    /// As [`new`](Self::new) with a given cnonce (tests use RFC 2831's example).
    pub fn with_cnonce(
        username: &str,
        password: &str,
        protocol: &str,
        server_name: &str,
        cnonce: &str,
    ) -> Self {
        DigestClient {
            username: username.to_owned(),
            password: password.to_owned(),
            digest_uri: format!("{protocol}/{server_name}"),
            cnonce: cnonce.to_owned(),
            state: State::Challenged,
        }
    }

    /// The first token: DIGEST-MD5 has no initial response, so it is empty.
    pub fn initial_response(&self) -> Vec<u8> {
        Vec::new()
    }

    /// Whether the server has proved itself (the exchange succeeded).
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// The next token for the server's `token`: the digest-response to the challenge, then
    /// nothing once `rspauth` checks out (the empty token ends the exchange).
    pub fn step(&mut self, token: &[u8]) -> Result<Vec<u8>, DigestError> {
        match self.state {
            State::Challenged => self.respond(token),
            State::Responded { .. } => self.verify_rspauth(token).map(|()| Vec::new()),
            State::Done => Err(DigestError::Finished),
        }
    }

    /// The digest-response to the server's digest-challenge.
    pub fn respond(&mut self, challenge: &[u8]) -> Result<Vec<u8>, DigestError> {
        if !matches!(self.state, State::Challenged) {
            return Err(DigestError::Finished);
        }
        let directives = parse_directives(challenge)?;
        let get = |name: &str| lookup(&directives, name);
        let nonce = get("nonce").ok_or(DigestError::Missing("nonce"))?;
        if nonce.is_empty() {
            return Err(DigestError::Malformed("empty nonce".into()));
        }
        let algorithm = get("algorithm").ok_or(DigestError::Missing("algorithm"))?;
        if !algorithm.eq_ignore_ascii_case(b"md5-sess") {
            return Err(DigestError::Algorithm(
                String::from_utf8_lossy(algorithm).into_owned(),
            ));
        }
        // Absent, qop means "auth" (RFC 2831 2.1.1); else a quoted list that must hold it.
        if let Some(offered) = get("qop") {
            let auth = offered
                .split(|&c| c == b',')
                .any(|q| q.trim_ascii().eq_ignore_ascii_case(b"auth"));
            if !auth {
                return Err(DigestError::QopOffered(
                    String::from_utf8_lossy(offered).into_owned(),
                ));
            }
        }
        let utf8 = charset_is_utf8(get("charset"))?;
        let realm = get("realm").unwrap_or_default();
        let nc = b"00000001";
        let password = encode_password(&self.password, utf8);
        let ha1 = session_key(
            self.username.as_bytes(),
            realm,
            &password,
            nonce,
            self.cnonce.as_bytes(),
            None,
        );
        let uri = self.digest_uri.as_bytes();
        let cnonce = self.cnonce.as_bytes();
        let response = response_value(&ha1, nonce, nc, cnonce, b"auth", b"AUTHENTICATE:", uri);
        let rspauth = response_value(&ha1, nonce, nc, cnonce, b"auth", b":", uri);
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let mut out = String::new();
        if utf8 {
            out.push_str("charset=utf-8,");
        }
        out.push_str(&format!("username=\"{}\",", quote(&self.username)));
        if get("realm").is_some() {
            out.push_str(&format!("realm=\"{}\",", quote(&text(realm))));
        }
        out.push_str(&format!(
            "nonce=\"{}\",nc=00000001,cnonce=\"{}\",digest-uri=\"{}\",maxbuf=65536,response={},qop=auth",
            quote(&text(nonce)),
            quote(&self.cnonce),
            quote(&self.digest_uri),
            text(&response),
        ));
        self.state = State::Responded { rspauth };
        Ok(out.into_bytes())
    }

    /// Checks the server's final challenge, `rspauth=<hex>`.
    pub fn verify_rspauth(&mut self, token: &[u8]) -> Result<(), DigestError> {
        let State::Responded { rspauth } = &self.state else {
            return Err(DigestError::Finished);
        };
        let directives = parse_directives(token)?;
        let got = lookup(&directives, "rspauth").ok_or(DigestError::Missing("rspauth"))?;
        if !constant_time_eq(&got.to_ascii_lowercase(), rspauth) {
            return Err(DigestError::ServerProof);
        }
        self.state = State::Done;
        Ok(())
    }
}
