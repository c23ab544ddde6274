//! Security refusals in the log: at most one line per peer address a minute (TLS
//! handshakes that fail, SASL exchanges that fail, sessions refused for want of
//! authentication), so a client retrying in a loop cannot flood the log; the line says how
//! many refusals from that address were held back since the last.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Logs refusals at most once per peer address per [`RefusalLog::INTERVAL`], so a client
/// retrying in a loop cannot flood the log. Counts what it held back.
#[derive(Debug)]
pub struct RefusalLog<K = IpAddr> {
    seen: Mutex<HashMap<K, (Instant, u64)>>,
}

impl<K> Default for RefusalLog<K> {
    fn default() -> Self {
        RefusalLog {
            seen: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Hash + Eq> RefusalLog<K> {
    pub const INTERVAL: Duration = Duration::from_secs(60);
    /// Peers remembered at most; the table is emptied when full.
    const MAX_PEERS: usize = 4096;

    /// Whether to log a refusal from `peer` now, and how many were held back before it.
    pub fn should_log(&self, peer: K, now: Instant) -> Option<u64> {
        let mut seen = self.seen.lock();
        if let Some((at, held)) = seen.get_mut(&peer) {
            if now.duration_since(*at) < Self::INTERVAL {
                *held += 1;
                return None;
            }
            let before = *held;
            *at = now;
            *held = 0;
            return Some(before);
        }
        if seen.len() >= Self::MAX_PEERS {
            seen.clear();
        }
        seen.insert(peer, (now, 0));
        Some(0)
    }
}

/// The server-wide refusal log.
pub fn refusals() -> &'static RefusalLog<IpAddr> {
    static LOG: std::sync::OnceLock<RefusalLog> = std::sync::OnceLock::new();
    LOG.get_or_init(RefusalLog::default)
}

/// Logs one refusal from `peer`, rate limited by [`refusals`].
pub fn log_refusal(peer: std::net::SocketAddr, what: &str) {
    if let Some(held) = refusals().should_log(peer.ip(), Instant::now()) {
        if held > 0 {
            tracing::warn!(peer = %peer, "{what} ({held} more refusals from this address not logged)");
        } else {
            tracing::warn!(peer = %peer, "{what}");
        }
    }
}

/// Logs one refusal of a connection from `peer` on the quorum or election port, at most once
/// a minute per address and `kind` of refusal, so that one kind (a handshake cut short by a
/// restarting member) cannot hide another (a member with the wrong `portUnification`).
pub fn log_peer_refusal(peer: std::net::SocketAddr, kind: &'static str, what: &str) {
    static LOG: std::sync::OnceLock<RefusalLog<(IpAddr, &'static str)>> =
        std::sync::OnceLock::new();
    let log = LOG.get_or_init(RefusalLog::default);
    if let Some(held) = log.should_log((peer.ip(), kind), Instant::now()) {
        if held > 0 {
            tracing::warn!(peer = %peer, "{what} ({held} more like it from this address not logged)");
        } else {
            tracing::warn!(peer = %peer, "{what}");
        }
    }
}

/// Logs that an ensemble member this one dialed at `addr` (`host:port`) could not be
/// talked to securely, at most once a minute per address: a member retries its links many
/// times a second.
pub fn log_dial_refusal(addr: &str, what: &str) {
    static LOG: std::sync::OnceLock<RefusalLog<String>> = std::sync::OnceLock::new();
    let log = LOG.get_or_init(RefusalLog::default);
    if let Some(held) = log.should_log(addr.to_owned(), Instant::now()) {
        if held > 0 {
            tracing::warn!(peer = %addr, "{what} ({held} more failures with this member not logged)");
        } else {
            tracing::warn!(peer = %addr, "{what}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_log_is_rate_limited_per_peer() {
        let log = RefusalLog::<IpAddr>::default();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let t0 = Instant::now();
        assert_eq!(log.should_log(a, t0), Some(0));
        assert_eq!(log.should_log(a, t0 + Duration::from_secs(1)), None);
        assert_eq!(log.should_log(a, t0 + Duration::from_secs(2)), None);
        assert_eq!(log.should_log(b, t0 + Duration::from_secs(2)), Some(0));
        assert_eq!(
            log.should_log(a, t0 + RefusalLog::<IpAddr>::INTERVAL),
            Some(2)
        );
    }
}
