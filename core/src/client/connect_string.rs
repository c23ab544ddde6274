//! `host:port,host:port/chroot`, with IPv6 hosts in brackets.

use std::net::{SocketAddr, ToSocketAddrs};

use super::error::Error;
use crate::proto::path;

/// Default client port when a host names none.
pub const DEFAULT_PORT: u16 = 2181;

/// A parsed connect string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectString {
    /// `(host, port)` pairs in the order given.
    pub hosts: Vec<(String, u16)>,
    /// The chroot, without a trailing slash; `None` for `/`.
    pub chroot: Option<String>,
}

impl ConnectString {
    pub fn parse(text: &str) -> Result<Self, Error> {
        let bad = |why: &str| Error::InvalidConnectString(format!("{text:?}: {why}"));
        let (host_part, chroot) = match text.find('/') {
            Some(i) => (&text[..i], Some(&text[i..])),
            None => (text, None),
        };
        let chroot = match chroot {
            None | Some("/") => None,
            Some(c) => {
                path::validate(c, false).map_err(|e| bad(&e.to_string()))?;
                Some(c.to_owned())
            }
        };
        let mut hosts = Vec::new();
        for item in host_part
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            hosts.push(parse_host(item).ok_or_else(|| bad(&format!("bad host {item:?}")))?);
        }
        if hosts.is_empty() {
            return Err(bad("no hosts"));
        }
        Ok(ConnectString { hosts, chroot })
    }

    /// Adds the chroot to a path the caller gave.
    pub fn to_server_path(&self, client_path: &str) -> String {
        match &self.chroot {
            None => client_path.to_owned(),
            Some(root) if client_path == "/" => root.clone(),
            Some(root) => format!("{root}{client_path}"),
        }
    }

    /// Strips the chroot from a path the server sent.
    pub fn to_client_path(&self, server_path: &str) -> String {
        match &self.chroot {
            None => server_path.to_owned(),
            Some(root) => match server_path.strip_prefix(root.as_str()) {
                Some("") => "/".to_owned(),
                Some(rest) if rest.starts_with('/') => rest.to_owned(),
                _ => server_path.to_owned(),
            },
        }
    }
}

/// Resolves one host now (DNS is asked again on every attempt).
pub fn resolve(host: &str, port: u16) -> Vec<SocketAddr> {
    (host, port)
        .to_socket_addrs()
        .map(Iterator::collect)
        .unwrap_or_default()
}

fn parse_host(item: &str) -> Option<(String, u16)> {
    if let Some(rest) = item.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => DEFAULT_PORT,
            None => return None,
        };
        return Some((host.to_owned(), port));
    }
    match item.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => Some((host.to_owned(), port.parse().ok()?)),
        Some(_) => None,
        None => Some((item.to_owned(), DEFAULT_PORT)),
    }
}

/// A client path checked as Apache's client checks it (BADARGUMENTS otherwise).
pub(crate) fn check_path(path: &str, sequential: bool) -> Result<(), Error> {
    crate::proto::path::validate(path, sequential)
        .map_err(|e| Error::BadArguments(format!("{path:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts_ipv6_and_chroot() {
        let cs = ConnectString::parse("a:1,[::1]:2,b/app/x").unwrap();
        assert_eq!(
            cs.hosts,
            vec![("a".into(), 1), ("::1".into(), 2), ("b".into(), 2181)]
        );
        assert_eq!(cs.chroot.as_deref(), Some("/app/x"));
        assert_eq!(cs.to_server_path("/"), "/app/x");
        assert_eq!(cs.to_server_path("/k"), "/app/x/k");
        assert_eq!(cs.to_client_path("/app/x/k"), "/k");
        assert_eq!(cs.to_client_path("/app/x"), "/");
        assert!(ConnectString::parse("").is_err());
        assert!(ConnectString::parse("a:port").is_err());
        assert!(ConnectString::parse("a:1/bad/").is_err());
        assert_eq!(ConnectString::parse("h:1/").unwrap().chroot, None);
    }
}
