//! ACL checks and the authentication schemes (`world`, `auth`, `digest`, `ip`, `super`;
//! `x509` ids come from `tls`, `sasl` ids from `sasl`, and match by equality).

use std::net::IpAddr;

use base64::Engine;
use sha1::{Digest, Sha1};

use crate::proto::{perms, Acl, ClientInfo, ErrorCode, Id};

/// How ACLs are enforced server-wide.
#[derive(Debug, Clone, Default)]
pub struct AclPolicy {
    /// `zookeeper.skipACL=yes`: every check passes.
    pub skip_acl: bool,
    /// `zookeeper.DigestAuthenticationProvider.superDigest` as `super:<base64 sha1>`.
    pub super_digest: Option<String>,
}

/// The identity of the super user, which bypasses every ACL.
pub fn super_id() -> Id {
    Id {
        scheme: "super".into(),
        id: String::new(),
    }
}

/// `user:base64(sha1(user:password))`, the id a digest ACL names.
pub fn digest_id(user_password: &str) -> String {
    let user = user_password.split(':').next().unwrap_or_default();
    let hash = Sha1::digest(user_password.as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

/// Whether the connection with `ids` holds `perm` on a node with `acl`
/// (`ZooKeeperServer.checkACL`).
pub fn check(skip_acl: bool, acl: &[Acl], perm: i32, ids: &[Id]) -> Result<(), ErrorCode> {
    if skip_acl || acl.is_empty() || ids.iter().any(|id| id.scheme == "super") {
        return Ok(());
    }
    for entry in acl {
        if entry.perms & perm == 0 {
            continue;
        }
        let id = &entry.id;
        if id.scheme == "world" && id.id == "anyone" {
            return Ok(());
        }
        if ids
            .iter()
            .any(|held| held.scheme == id.scheme && scheme_matches(&id.scheme, &held.id, &id.id))
        {
            return Ok(());
        }
    }
    Err(ErrorCode::NoAuth)
}

/// Validates and expands an ACL list for create/setACL (`PrepRequestProcessor.fixupACL`):
/// `auth` becomes the connection's authenticated ids, duplicates are removed, and anything
/// invalid is INVALIDACL.
pub fn fixup(acl: &[Acl], ids: &[Id]) -> Result<Vec<Acl>, ErrorCode> {
    if acl.is_empty() {
        return Err(ErrorCode::InvalidAcl);
    }
    let mut out: Vec<Acl> = Vec::with_capacity(acl.len());
    for entry in acl {
        let scheme = entry.id.scheme.as_str();
        match scheme {
            "world" if entry.id.id == "anyone" => push_unique(&mut out, entry.clone()),
            "auth" => {
                let mut any = false;
                for held in ids.iter().filter(|id| is_authenticated_scheme(&id.scheme)) {
                    any = true;
                    push_unique(
                        &mut out,
                        Acl {
                            perms: entry.perms,
                            id: held.clone(),
                        },
                    );
                }
                if !any {
                    return Err(ErrorCode::InvalidAcl);
                }
            }
            "digest" if is_valid_digest_id(&entry.id.id) => push_unique(&mut out, entry.clone()),
            "ip" if parse_ip_acl(&entry.id.id).is_some() => push_unique(&mut out, entry.clone()),
            "super" | "x509" | "sasl" if !entry.id.id.is_empty() => {
                push_unique(&mut out, entry.clone())
            }
            _ => return Err(ErrorCode::InvalidAcl),
        }
    }
    Ok(out)
}

/// The ids an `addauth` adds, or AUTHFAILED for an unknown scheme or malformed credentials.
pub fn authenticate(
    super_digest: Option<&str>,
    scheme: &str,
    auth: &[u8],
) -> Result<Vec<Id>, ErrorCode> {
    match scheme {
        "digest" => {
            let text = std::str::from_utf8(auth).map_err(|_| ErrorCode::AuthFailed)?;
            if !text.contains(':') {
                return Err(ErrorCode::AuthFailed);
            }
            let id = digest_id(text);
            let mut out = vec![Id {
                scheme: "digest".into(),
                id: id.clone(),
            }];
            if super_digest == Some(id.as_str()) {
                out.push(super_id());
            }
            Ok(out)
        }
        _ => Err(ErrorCode::AuthFailed),
    }
}

/// What whoAmI reports for a connection's ids.
pub fn client_infos(ids: &[Id]) -> Vec<ClientInfo> {
    let mut infos: Vec<ClientInfo> = ids
        .iter()
        .map(|id| ClientInfo {
            auth_scheme: id.scheme.clone(),
            user: match id.scheme.as_str() {
                "digest" => id.id.split(':').next().unwrap_or_default().to_owned(),
                _ => id.id.clone(),
            },
        })
        .collect();
    // Apache answers in (scheme, user) order.
    infos.sort_by(|a, b| (&a.auth_scheme, &a.user).cmp(&(&b.auth_scheme, &b.user)));
    infos
}

/// getACL without ADMIN shows digest ids as `user:x`.
pub fn mask_digests(acl: &[Acl]) -> Vec<Acl> {
    acl.iter()
        .map(|entry| {
            let mut entry = entry.clone();
            if entry.id.scheme == "digest" {
                let user = entry.id.id.split(':').next().unwrap_or_default();
                entry.id.id = format!("{user}:x");
            }
            entry
        })
        .collect()
}

/// Every permission bit.
pub const ALL: i32 = perms::ALL;

fn is_authenticated_scheme(scheme: &str) -> bool {
    matches!(scheme, "digest" | "x509" | "sasl")
}

fn push_unique(out: &mut Vec<Acl>, acl: Acl) {
    if !out.contains(&acl) {
        out.push(acl);
    }
}

fn is_valid_digest_id(id: &str) -> bool {
    id.split(':').count() == 2
}

fn scheme_matches(scheme: &str, held: &str, acl_id: &str) -> bool {
    match scheme {
        "ip" => match (held.parse::<IpAddr>(), parse_ip_acl(acl_id)) {
            (Ok(addr), Some((net, bits))) => ip_in_subnet(addr, net, bits),
            _ => false,
        },
        _ => held == acl_id,
    }
}

/// `a.b.c.d` or `a.b.c.d/bits` (and IPv6 forms): the network and prefix length.
fn parse_ip_acl(id: &str) -> Option<(IpAddr, u32)> {
    let (addr, bits) = match id.split_once('/') {
        Some((addr, bits)) => (addr, Some(bits.parse::<u32>().ok()?)),
        None => (id, None),
    };
    let addr: IpAddr = addr.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let bits = bits.unwrap_or(max);
    (bits <= max).then_some((addr, bits))
}

fn ip_in_subnet(addr: IpAddr, net: IpAddr, bits: u32) -> bool {
    let (a, n, width) = match (addr, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => (u128::from(u32::from(a)), u128::from(u32::from(n)), 32),
        (IpAddr::V6(a), IpAddr::V6(n)) => (u128::from(a), u128::from(n), 128),
        _ => return false,
    };
    if bits == 0 {
        return true;
    }
    let shift = width - bits;
    (a >> shift) == (n >> shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(pairs: &[(&str, &str)]) -> Vec<Id> {
        pairs
            .iter()
            .map(|(s, i)| Id {
                scheme: (*s).into(),
                id: (*i).into(),
            })
            .collect()
    }

    #[test]
    fn digest_matches_apache() {
        // Observed on a real 3.8 server: u:p → u:Jq7wMyA/w2Vd5WIDAKdu4OIIFEQ=
        assert_eq!(digest_id("u:p"), "u:Jq7wMyA/w2Vd5WIDAKdu4OIIFEQ=");
    }

    #[test]
    fn checks() {
        let policy = false;
        let acl = vec![Acl::new(perms::READ, "digest", &digest_id("u:p"))];
        let anon = ids(&[("ip", "127.0.0.1")]);
        assert_eq!(
            check(policy, &acl, perms::READ, &anon),
            Err(ErrorCode::NoAuth)
        );
        let authed = ids(&[("ip", "127.0.0.1"), ("digest", &digest_id("u:p"))]);
        assert!(check(policy, &acl, perms::READ, &authed).is_ok());
        assert_eq!(
            check(policy, &acl, perms::WRITE, &authed),
            Err(ErrorCode::NoAuth)
        );
        let net = vec![Acl::new(perms::ALL, "ip", "127.0.0.0/8")];
        assert!(check(policy, &net, perms::WRITE, &anon).is_ok());
        let supers = ids(&[("super", "")]);
        assert!(check(policy, &acl, perms::WRITE, &supers).is_ok());
    }

    #[test]
    fn fixups() {
        let anon = ids(&[("ip", "127.0.0.1")]);
        assert_eq!(fixup(&[], &anon), Err(ErrorCode::InvalidAcl));
        assert_eq!(
            fixup(&Acl::creator_all(), &anon),
            Err(ErrorCode::InvalidAcl)
        );
        let authed = ids(&[("ip", "127.0.0.1"), ("digest", "u:h")]);
        assert_eq!(
            fixup(&Acl::creator_all(), &authed).unwrap(),
            vec![Acl::new(perms::ALL, "digest", "u:h")]
        );
        assert_eq!(
            fixup(&[Acl::new(1, "world", "bob")], &anon),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup(&[Acl::new(1, "ip", "1.2.3.4/40")], &anon),
            Err(ErrorCode::InvalidAcl)
        );
        let doubled = [
            Acl::new(1, "world", "anyone"),
            Acl::new(1, "world", "anyone"),
        ];
        assert_eq!(fixup(&doubled, &anon).unwrap().len(), 1);
    }

    #[test]
    fn super_digest() {
        let digest = digest_id("super:secret");
        let got = authenticate(Some(&digest), "digest", b"super:secret").unwrap();
        assert!(got.contains(&super_id()));
        assert_eq!(
            authenticate(Some(&digest), "bogus", b"x"),
            Err(ErrorCode::AuthFailed)
        );
    }
}
