//! Ensemble membership: `server.N`, `group.N`, `weight.N` (Apache's `QuorumPeer.QuorumServer`,
//! `QuorumMaj`, `QuorumHierarchical`).
//!
//! `server.<id>=<host>:<quorumPort>:<electionPort>[:participant|:observer][;[<clientHost>:]<clientPort>]`,
//! with several `host:port:port` parts joined by `|` when `multiAddress.enabled=true`. IPv6
//! hosts are written in brackets: `[::1]:2888:3888`.

use std::fmt;

/// The role of a server in the ensemble (`peerType`, or the suffix of a `server.N` line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PeerType {
    /// Votes in elections and on writes (an openraft voter).
    Participant,
    /// Follows the log without voting (an openraft learner).
    Observer,
}

impl PeerType {
    /// Parses `participant` / `observer` (any case, surrounding whitespace ignored).
    pub fn parse(s: &str) -> Option<PeerType> {
        match s.trim().to_ascii_lowercase().as_str() {
            "participant" => Some(PeerType::Participant),
            "observer" => Some(PeerType::Observer),
            _ => None,
        }
    }

    /// The name as zoo.cfg and `/zookeeper/config` spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            PeerType::Participant => "participant",
            PeerType::Observer => "observer",
        }
    }
}

impl fmt::Display for PeerType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `host:quorumPort:electionPort` of a `server.N` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumAddress {
    /// Host name or IP literal, without IPv6 brackets. Not resolved here.
    pub host: String,
    /// Port for log replication, forwarded writes and session touches (2888 by convention).
    pub quorum_port: u16,
    /// Port for leader election votes (3888 by convention).
    pub election_port: u16,
}

/// The `;[host:]port` client part of a `server.N` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAddress {
    /// `0.0.0.0` when the line gives only a port, as in Apache.
    pub host: String,
    pub port: u16,
}

/// One `server.N` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumServer {
    /// The `N` of `server.N`, matched against `dataDir/myid`.
    pub id: u64,
    /// At least one; more only with `multiAddress.enabled=true`.
    pub addresses: Vec<QuorumAddress>,
    pub peer_type: PeerType,
    /// The client endpoint given on the line, if any.
    pub client_address: Option<ClientAddress>,
}

impl QuorumServer {
    /// Parses the value of `server.<id>`. `Err` is the reason, without location.
    pub fn parse(
        id: u64,
        value: &str,
        multi_address_enabled: bool,
    ) -> Result<QuorumServer, String> {
        let wrong_format = || {
            format!(
                "\"{value}\" does not have the form \
                 host:quorumPort:electionPort[:participant|:observer][;[clientHost:]clientPort]"
            )
        };
        let parts = java_split(value, ';');
        if parts.is_empty() || parts.len() > 2 {
            return Err(wrong_format());
        }
        let client_address = match parts.get(1) {
            None => None,
            Some(client) => {
                let fields = host_and_port_fields(client.trim())?;
                let (host, port) = match fields.as_slice() {
                    [port] => ("0.0.0.0".to_string(), port.as_str()),
                    [host, port] => (host.clone(), port.as_str()),
                    _ => return Err(wrong_format()),
                };
                let port = parse_port(port, "client port", 0)?;
                Some(ClientAddress { host, port })
            }
        };
        let server_parts = java_split(parts[0], '|');
        if server_parts.len() > 1 && !multi_address_enabled {
            return Err(format!(
                "{} addresses given but multiAddress.enabled is false",
                server_parts.len()
            ));
        }
        let mut addresses = Vec::with_capacity(server_parts.len());
        let mut role: Option<PeerType> = None;
        for part in server_parts {
            let fields = host_and_port_fields(part.trim())?;
            if fields.len() < 3 || fields.len() > 4 {
                return Err(wrong_format());
            }
            let host = fields[0].trim().to_string();
            if host.is_empty() {
                return Err(wrong_format());
            }
            let quorum_port = parse_port(&fields[1], "quorum port", 1)?;
            let election_port = parse_port(&fields[2], "election port", 1)?;
            if quorum_port == election_port {
                return Err(format!(
                    "quorum port and election port must differ (both {quorum_port})"
                ));
            }
            if let Some(kind) = fields.get(3) {
                let kind = PeerType::parse(kind)
                    .ok_or_else(|| format!("unrecognised peer type \"{}\"", kind.trim()))?;
                if role.is_some_and(|r| r != kind) {
                    return Err("all addresses of one server must have the same role".to_string());
                }
                role = Some(kind);
            }
            addresses.push(QuorumAddress {
                host,
                quorum_port,
                election_port,
            });
        }
        Ok(QuorumServer {
            id,
            addresses,
            peer_type: role.unwrap_or(PeerType::Participant),
            client_address,
        })
    }
}

/// Apache's canonical form, as `/zookeeper/config` shows it:
/// `host:2888:3888:participant;0.0.0.0:2181` (addresses sorted by host, IPv6 in brackets).
impl fmt::Display for QuorumServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut addresses: Vec<&QuorumAddress> = self.addresses.iter().collect();
        addresses.sort_by(|a, b| a.host.cmp(&b.host));
        for (i, a) in addresses.iter().enumerate() {
            if i > 0 {
                f.write_str("|")?;
            }
            write!(
                f,
                "{}:{}:{}",
                bracketed(&a.host),
                a.quorum_port,
                a.election_port
            )?;
        }
        write!(f, ":{}", self.peer_type)?;
        if let Some(client) = &self.client_address {
            write!(f, ";{}:{}", bracketed(&client.host), client.port)?;
        }
        Ok(())
    }
}

/// Parses the value of `group.<gid>`: server ids separated by `:`.
pub(super) fn parse_group_members(value: &str) -> Result<Vec<u64>, String> {
    java_split(value, ':')
        .into_iter()
        .map(|s| {
            s.trim()
                .parse::<u64>()
                .map_err(|_| format!("invalid server id \"{}\" in group", s.trim()))
        })
        .collect()
}

/// `host`, in brackets if it is an IPv6 literal, ready for `:port`.
pub(crate) fn bracketed(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

fn parse_port(s: &str, what: &str, min: u16) -> Result<u16, String> {
    let s = s.trim();
    let n: i64 = s.parse().map_err(|_| format!("invalid {what} \"{s}\""))?;
    if n < i64::from(min) || n > i64::from(u16::MAX) {
        return Err(format!("{what} {n} out of range {min}..=65535"));
    }
    // The range check above makes this conversion lossless.
    Ok(n as u16)
}

/// `ConfigUtils.getHostAndPort`: `[v6]:a:b` → `["v6", "a", "b"]`, otherwise split on `:`.
fn host_and_port_fields(s: &str) -> Result<Vec<String>, String> {
    if let Some(rest) = s.strip_prefix('[') {
        let close = rest
            .find(']')
            .ok_or_else(|| format!("\"{s}\" starts with '[' but has no matching ']'"))?;
        let host = &rest[..close];
        let after = &rest[close + 1..];
        let Some(ports) = after.strip_prefix(':').filter(|p| !p.is_empty()) else {
            return Err(format!("\"{s}\" has no port after the address"));
        };
        let mut fields = vec![host.to_string()];
        fields.extend(java_split(ports, ':').into_iter().map(str::to_string));
        Ok(fields)
    } else {
        Ok(java_split(s, ':').into_iter().map(str::to_string).collect())
    }
}

/// `String.split(sep)`: like `str::split`, minus trailing empty strings.
fn java_split(s: &str, sep: char) -> Vec<&str> {
    let mut parts: Vec<&str> = s.split(sep).collect();
    while parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    parts
}
