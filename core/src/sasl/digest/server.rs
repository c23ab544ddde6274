//! The server side of DIGEST-MD5: [`DigestServer::challenge`] gives the first challenge,
//! [`DigestServer::verify`] checks the client's digest-response and gives the `rspauth`
//! final challenge.

use super::{
    charset_is_utf8, constant_time_eq, encode_password, lookup, parse_directives, quote,
    random_token, response_value, session_key, DigestError,
};

/// What the server offers and expects in one exchange.
#[derive(Debug, Clone)]
pub struct DigestServer {
    realm: String,
    digest_uri: String,
    nonce: String,
}

/// The result of a successful verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The authenticated user (the response's `username`); also the authorization id, as
    /// an `authzid` different from it is refused.
    pub user: String,
    /// The final challenge, `rspauth=<hex>`.
    pub rspauth: Vec<u8>,
}

impl DigestServer {
    /// An exchange in `realm` for `digest_uri` (`service/host`) with a fresh `nonce`.
    pub fn new(realm: &str, digest_uri: &str, nonce: &str) -> DigestServer {
        DigestServer {
            realm: realm.to_owned(),
            digest_uri: digest_uri.to_owned(),
            nonce: nonce.to_owned(),
        }
    }

    /// A random nonce.
    pub fn random_nonce() -> String {
        random_token()
    }

    /// The digest-challenge.
    pub fn challenge(&self) -> Vec<u8> {
        format!(
            "realm=\"{}\",nonce=\"{}\",qop=\"auth\",charset=utf-8,algorithm=md5-sess",
            quote(&self.realm),
            quote(&self.nonce)
        )
        .into_bytes()
    }

    /// Checks a digest-response; `password` looks a user's password up.
    pub fn verify<'p>(
        &self,
        response: &[u8],
        password: impl Fn(&str) -> Option<&'p str>,
    ) -> Result<Verified, DigestError> {
        let directives = parse_directives(response)?;
        let get = |name: &'static str| lookup(&directives, name);
        let required = |name: &'static str| get(name).ok_or(DigestError::Missing(name));
        let utf8 = charset_is_utf8(get("charset"))?;
        let text = |b: &[u8]| -> String {
            match (utf8, std::str::from_utf8(b)) {
                (true, Ok(s)) => s.to_owned(),
                // ISO 8859-1: every byte is the code point of the same value.
                _ => b.iter().map(|&c| char::from(c)).collect(),
            }
        };
        let username = required("username")?;
        let nonce = required("nonce")?;
        let cnonce = required("cnonce")?;
        let nc = required("nc")?;
        let digest_uri = required("digest-uri")?;
        let client_response = required("response")?;
        let realm = get("realm").unwrap_or_default();
        let qop = get("qop").unwrap_or(b"auth");
        if !constant_time_eq(nonce, self.nonce.as_bytes()) {
            return Err(DigestError::Nonce);
        }
        if nc != b"00000001" {
            return Err(DigestError::NonceCount(text(nc)));
        }
        if !qop.eq_ignore_ascii_case(b"auth") {
            return Err(DigestError::Qop(text(qop)));
        }
        if !realm.is_empty() && realm != self.realm.as_bytes() {
            return Err(DigestError::Realm(text(realm)));
        }
        if !digest_uri.eq_ignore_ascii_case(self.digest_uri.as_bytes()) {
            return Err(DigestError::DigestUri {
                got: text(digest_uri),
                want: self.digest_uri.clone(),
            });
        }
        if cnonce.is_empty() {
            return Err(DigestError::Malformed("empty cnonce".into()));
        }
        let user = text(username);
        let authzid = get("authzid");
        if let Some(authzid) = authzid {
            if authzid != username {
                return Err(DigestError::Authzid(text(authzid)));
            }
        }
        let Some(password) = password(&user) else {
            return Err(DigestError::UnknownUser(user));
        };
        let password = encode_password(password, utf8);
        let ha1 = session_key(username, realm, &password, nonce, cnonce, authzid);
        let expected = response_value(&ha1, nonce, nc, cnonce, qop, b"AUTHENTICATE:", digest_uri);
        if !constant_time_eq(&expected, &client_response.to_ascii_lowercase()) {
            return Err(DigestError::WrongPassword(user));
        }
        let rspauth = response_value(&ha1, nonce, nc, cnonce, qop, b":", digest_uri);
        let mut out = b"rspauth=".to_vec();
        out.extend_from_slice(&rspauth);
        Ok(Verified { user, rspauth: out })
    }
}
