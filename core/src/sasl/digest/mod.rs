//! DIGEST-MD5 (RFC 2831) for authentication only (qop `auth`), sans-IO, both sides: what
//! ZooKeeper's client port and the quorum ports speak.
//!
//! ```text
//! client → (empty token)
//! server → realm="zk-sasl-md5",nonce="…",qop="auth",charset=utf-8,algorithm=md5-sess
//! client → charset=utf-8,username="bob",realm="zk-sasl-md5",nonce="…",nc=00000001,
//!          cnonce="…",digest-uri="zookeeper/zk-sasl-md5",maxbuf=65536,response=<32 hex>,qop=auth
//! server → rspauth=<32 hex>
//! ```
//!
//! With H = MD5, HEX = lower-case hex, KD(k, s) = H(k ":" s):
//!
//! - A1 = H(username ":" realm ":" password) ":" nonce ":" cnonce [":" authzid]
//! - response = HEX(KD(HEX(H(A1)), nonce ":" nc ":" cnonce ":" qop ":" HEX(H("AUTHENTICATE:" digest-uri))))
//! - rspauth  = the same with A2 = ":" digest-uri.
//!
//! Without `charset=utf-8` the password is hashed as ISO 8859-1 when it fits (RFC 2831
//! 2.1.2.1); the username and realm are hashed as the bytes sent.
//!
//! # Layout
//!
//! - this file: the hashes, the directive parser and [`DigestError`], shared by both sides.
//! - `server`: [`DigestServer`] (challenge, verify the response, `rspauth`).
//! - `client`: [`DigestClient`] (answer the challenge, check `rspauth`).

mod client;
mod server;

pub use client::DigestClient;
pub use server::{DigestServer, Verified};

use md5::{Digest, Md5};

/// Why a DIGEST-MD5 exchange fails, on either side.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    #[error("malformed digest-response: {0}")]
    Malformed(String),
    #[error("digest-response directive {0} is missing")]
    Missing(&'static str),
    #[error("digest-response directive {0} appears more than once")]
    Repeated(String),
    #[error("charset {0} is not utf-8")]
    Charset(String),
    #[error("nonce does not match the server's challenge")]
    Nonce,
    #[error("nonce count {0} is not 00000001")]
    NonceCount(String),
    #[error("qop {0} is not offered (only auth)")]
    Qop(String),
    #[error("realm {0:?} is not the server's realm")]
    Realm(String),
    #[error("digest-uri {got:?} is not {want:?}")]
    DigestUri { got: String, want: String },
    #[error("authzid {0:?} differs from the username")]
    Authzid(String),
    #[error("unknown user {0:?}")]
    UnknownUser(String),
    #[error("wrong password for user {0:?}")]
    WrongPassword(String),
    #[error("the server's challenge asks for algorithm {0:?}, not md5-sess")]
    Algorithm(String),
    #[error("the server's challenge offers qop {0:?}, without auth")]
    QopOffered(String),
    #[error("the server's rspauth does not prove it knows the password")]
    ServerProof,
    #[error("the server sent a token after the exchange ended")]
    Finished,
}

/// 128 random bits as hex: a nonce or cnonce, which needs no quoting.
fn random_token() -> String {
    let bytes: [u8; 16] = rand::random();
    hex(&bytes).into_iter().map(char::from).collect()
}

/// The value of directive `name` (case-insensitive), if present.
fn lookup<'d>(directives: &'d [(String, Vec<u8>)], name: &str) -> Option<&'d [u8]> {
    directives
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
}

/// Whether a `charset` directive says UTF-8 (the only value RFC 2831 allows); absent, the
/// text is ISO 8859-1.
fn charset_is_utf8(charset: Option<&[u8]>) -> Result<bool, DigestError> {
    match charset {
        None => Ok(false),
        Some(c) if c.eq_ignore_ascii_case(b"utf-8") => Ok(true),
        Some(c) => Err(DigestError::Charset(
            String::from_utf8_lossy(c).into_owned(),
        )),
    }
}

/// HEX(H(A1)), the session key both sides derive.
fn session_key(
    username: &[u8],
    realm: &[u8],
    password: &[u8],
    nonce: &[u8],
    cnonce: &[u8],
    authzid: Option<&[u8]>,
) -> Vec<u8> {
    let user_key = Md5::new()
        .chain_update(username)
        .chain_update(b":")
        .chain_update(realm)
        .chain_update(b":")
        .chain_update(password)
        .finalize();
    let mut a1 = Md5::new()
        .chain_update(user_key)
        .chain_update(b":")
        .chain_update(nonce)
        .chain_update(b":")
        .chain_update(cnonce);
    if let Some(authzid) = authzid {
        a1 = a1.chain_update(b":").chain_update(authzid);
    }
    hex(&a1.finalize())
}

/// HEX(KD(HA1, nonce:nc:cnonce:qop:HEX(H(a2_prefix digest-uri)))).
fn response_value(
    ha1: &[u8],
    nonce: &[u8],
    nc: &[u8],
    cnonce: &[u8],
    qop: &[u8],
    a2_prefix: &[u8],
    digest_uri: &[u8],
) -> Vec<u8> {
    let ha2 = hex(&Md5::new()
        .chain_update(a2_prefix)
        .chain_update(digest_uri)
        .finalize());
    let kd = Md5::new()
        .chain_update(ha1)
        .chain_update(b":")
        .chain_update(nonce)
        .chain_update(b":")
        .chain_update(nc)
        .chain_update(b":")
        .chain_update(cnonce)
        .chain_update(b":")
        .chain_update(qop)
        .chain_update(b":")
        .chain_update(ha2)
        .finalize();
    hex(&kd)
}

/// The password's bytes as the client hashed them.
fn encode_password(password: &str, utf8: bool) -> Vec<u8> {
    if !utf8 && password.chars().all(|c| (c as u32) < 256) {
        return password.chars().map(|c| c as u8).collect();
    }
    password.as_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> Vec<u8> {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 15)]])
        .collect()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The most directives a digest-response may carry; RFC 2831 defines about a dozen.
const MAX_DIRECTIVES: usize = 32;

/// `name=value` or `name="quoted value"`, comma separated, with optional whitespace and
/// empty elements (RFC 2616 `#rule`). A name repeated is an error (RFC 2831 says each
/// directive appears at most once; `realm` too in a response).
fn parse_directives(input: &[u8]) -> Result<Vec<(String, Vec<u8>)>, DigestError> {
    let malformed = |m: &str| DigestError::Malformed(m.to_owned());
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < input.len() && matches!(input[*i], b' ' | b'\t' | b'\r' | b'\n') {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        while i < input.len() && input[i] == b',' {
            i += 1;
            skip_ws(&mut i);
        }
        if i >= input.len() {
            break;
        }
        let start = i;
        while i < input.len() && (input[i].is_ascii_alphanumeric() || input[i] == b'-') {
            i += 1;
        }
        if i == start {
            return Err(malformed("expected a directive name"));
        }
        let name = String::from_utf8_lossy(&input[start..i]).to_ascii_lowercase();
        skip_ws(&mut i);
        if i >= input.len() || input[i] != b'=' {
            return Err(DigestError::Malformed(format!("no '=' after {name}")));
        }
        i += 1;
        skip_ws(&mut i);
        let mut value = Vec::new();
        if i < input.len() && input[i] == b'"' {
            i += 1;
            loop {
                match input.get(i) {
                    None => return Err(malformed("unterminated quoted string")),
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') => {
                        let escaped = input
                            .get(i + 1)
                            .ok_or_else(|| malformed("unterminated quoted string"))?;
                        value.push(*escaped);
                        i += 2;
                    }
                    Some(&c) => {
                        value.push(c);
                        i += 1;
                    }
                }
            }
        } else {
            while i < input.len() && !matches!(input[i], b',' | b' ' | b'\t' | b'\r' | b'\n') {
                if input[i] == b'"' {
                    return Err(malformed("quote inside a bare value"));
                }
                value.push(input[i]);
                i += 1;
            }
        }
        skip_ws(&mut i);
        if i < input.len() && input[i] != b',' {
            return Err(DigestError::Malformed(format!("junk after {name}")));
        }
        if out.iter().any(|(k, _)| *k == name) {
            return Err(DigestError::Repeated(name));
        }
        if out.len() >= MAX_DIRECTIVES {
            return Err(malformed("too many directives"));
        }
        out.push((name, value));
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) fn parse_for_test(input: &[u8]) -> Result<Vec<(String, Vec<u8>)>, DigestError> {
    parse_directives(input)
}
