//! Member-to-member transport, the dialing side: openraft's network client over TCP
//! ([`Network`], [`PeerClient`]) and the links a member keeps to its peers' quorum and
//! election ports ([`PeerLink`]). A member dials from its own `server.N` address when that
//! address is one of this machine's, so the others recognise it even on a multi-homed host.
//! The listening side is `listener.rs`.

use std::io::Cursor;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use openraft::alias::{EntryOf, SnapshotOf, VoteOf};
use openraft::error::{RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{RPCOption, RaftNetworkFactory, RaftNetworkV2};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, TransferLeaderRequest,
    TransferLeaderResponse, VoteRequest, VoteResponse,
};
use openraft::{BasicNode, EntryPayload};
use std::sync::Arc;
use tokio::net::TcpSocket;

use super::transport::{PeerStream, Security};
use super::wire::{
    self, read_response, write_body, Caps, Deadlines, Kind, PeerRequest, PeerResponse,
    SNAPSHOT_CHUNK,
};
use super::{PeerError, Raft, TypeConfig};
use crate::server::options::{EnsembleOptions, Peer};

/// Which of a peer's two ports a message goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    Quorum,
    Election,
}

/// What every link (and listener) of this member shares: the frame caps, the address it
/// dials from, and how connections are secured.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    pub caps: Caps,
    pub deadlines: Deadlines,
    /// This member's own address, when it is one of this machine's: outgoing connections are
    /// bound to it.
    pub source: Option<IpAddr>,
    pub security: Arc<Security>,
}

impl LinkConfig {
    pub async fn new(
        me: &Peer,
        caps: Caps,
        deadlines: Deadlines,
        security: Arc<Security>,
    ) -> LinkConfig {
        LinkConfig {
            caps,
            deadlines,
            source: local_source(&me.host).await,
            security,
        }
    }
}

/// The address of `host` when this machine has it (a socket can be bound to it).
async fn local_source(host: &str) -> Option<IpAddr> {
    let addresses = tokio::net::lookup_host((host, 0)).await.ok()?;
    addresses
        .map(|a| a.ip().to_canonical())
        .filter(|ip| !ip.is_unspecified())
        .find(|ip| std::net::TcpListener::bind((*ip, 0)).is_ok())
}

/// One lazily (re)connected stream to one port of one peer.
pub struct PeerLink {
    host: String,
    addr: String,
    config: LinkConfig,
    stream: Option<PeerStream>,
}

impl PeerLink {
    pub fn new(peer: &Peer, port: Port, config: &LinkConfig) -> PeerLink {
        let number = match port {
            Port::Quorum => peer.quorum_port,
            Port::Election => peer.election_port,
        };
        PeerLink {
            host: peer.host.clone(),
            addr: peer.socket_address(number),
            config: config.clone(),
            stream: None,
        }
    }

    /// Sends one request and waits for its answer within `ttl`. Any failure drops the stream,
    /// so the next call reconnects.
    pub async fn call(
        &mut self,
        request: &PeerRequest,
        ttl: Duration,
    ) -> Result<PeerResponse, PeerError> {
        let cap = self.config.caps.request_cap(Kind::of(request));
        let body = wire::encode(request, cap).map_err(|source| PeerError::Io {
            addr: self.addr.clone(),
            source,
        })?;
        let result = tokio::time::timeout(ttl, self.exchange(&body)).await;
        match result {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(source)) => {
                self.stream = None;
                Err(PeerError::Io {
                    addr: self.addr.clone(),
                    source,
                })
            }
            Err(_) => {
                self.stream = None;
                Err(PeerError::Timeout {
                    addr: self.addr.clone(),
                    ttl,
                })
            }
        }
    }

    /// Like [`PeerLink::call`], for requests that may be sent twice (raft's own, touches): a
    /// failure on a reused stream is retried once on a new one, since a peer that restarted
    /// (or closed an idle connection) leaves the old stream dead, and the first vote after
    /// its restart must not be lost.
    pub async fn call_idempotent(
        &mut self,
        request: &PeerRequest,
        ttl: Duration,
    ) -> Result<PeerResponse, PeerError> {
        let reused = self.stream.is_some();
        let started = tokio::time::Instant::now();
        match self.call(request, ttl).await {
            Err(_) if reused && started.elapsed() < ttl => {
                let left = ttl.saturating_sub(started.elapsed());
                self.call(request, left).await
            }
            answer => answer,
        }
    }

    /// Forgets the stream, after a call was abandoned halfway.
    pub fn reset(&mut self) {
        self.stream = None;
    }

    async fn connect(&self) -> std::io::Result<PeerStream> {
        let target = tokio::net::lookup_host(&self.addr)
            .await?
            .next()
            .ok_or_else(|| std::io::Error::other(format!("{} has no address", self.addr)))?;
        let socket = if target.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        if let Some(source) = self.config.source {
            let source = match (source, target) {
                (IpAddr::V4(v4), SocketAddr::V6(_)) => IpAddr::V6(v4.to_ipv6_mapped()),
                (source, _) => source,
            };
            if source.is_ipv4() == target.is_ipv4() || target.is_ipv6() {
                if let Err(e) = socket.bind(SocketAddr::new(source, 0)) {
                    tracing::debug!("cannot dial {} from {source}: {e}", self.addr);
                }
            }
        }
        let stream = socket.connect(target).await?;
        stream.set_nodelay(true)?;
        let security = &self.config.security;
        let mut stream = security.dialed(stream, &self.host, &self.addr).await?;
        security.authenticate(&mut stream, &self.addr).await?;
        Ok(stream)
    }

    async fn exchange(&mut self, body: &[u8]) -> std::io::Result<PeerResponse> {
        if self.stream.as_ref().is_some_and(is_closed) {
            self.stream = None;
        }
        if self.stream.is_none() {
            self.stream = Some(self.connect().await?);
        }
        let Some(stream) = self.stream.as_mut() else {
            return Err(std::io::ErrorKind::NotConnected.into());
        };
        write_body(stream, body).await?;
        match read_response(stream).await {
            Ok(Some(response)) => Ok(response),
            Ok(None) => Err(std::io::ErrorKind::UnexpectedEof.into()),
            Err(e) => {
                self.report_tls_alert(&e);
                Err(e)
            }
        }
    }

    /// A member that refuses this one's certificate says so with a TLS alert, which (in TLS
    /// 1.3) arrives only after this side finished its handshake: at the first read.
    fn report_tls_alert(&self, e: &std::io::Error) {
        let alert = e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .filter(|tls| matches!(tls, rustls::Error::AlertReceived(_)));
        if let Some(alert) = alert {
            crate::server::refusals::log_dial_refusal(
                &self.addr,
                &format!(
                    "the member at {} refused this member's TLS certificate ({alert}): it must                      be signed by a CA in that member's ssl.quorum.trustStore and name this                      member's address",
                    self.addr
                ),
            );
        }
    }
}

/// Whether the peer closed an idle stream: it never sends unasked, so anything readable
/// between requests is an end of stream or an error. Checked before each request, so a
/// stream left from before a peer restarted or a link was cut is replaced before sending,
/// not discovered after (which would cost a forwarded write its answer).
/// On TLS the bytes are read from under the TLS layer: a TLS peer sends nothing unasked
/// either (no session tickets), so bytes there are an alert or a close, and the stream is
/// dropped whatever they were.
fn is_closed(stream: &PeerStream) -> bool {
    let mut byte = [0u8; 1];
    !matches!(stream.tcp().try_read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

/// openraft's view of the ensemble's transport.
pub struct Network {
    ensemble: EnsembleOptions,
    config: LinkConfig,
}

impl Network {
    pub fn new(ensemble: EnsembleOptions, config: LinkConfig) -> Network {
        Network { ensemble, config }
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = PeerClient;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> PeerClient {
        let peer = self
            .ensemble
            .peers
            .get(&target)
            .cloned()
            .unwrap_or_else(|| parse_node(node));
        PeerClient {
            quorum: PeerLink::new(&peer, Port::Quorum, &self.config),
            election: PeerLink::new(&peer, Port::Election, &self.config),
            config: self.config.clone(),
        }
    }
}

/// Where member `id` listens: its `server.N` line, or for a member added by reconfiguration,
/// its address in the membership.
pub fn peer_address(raft: &Raft, ensemble: &EnsembleOptions, id: u64) -> Option<Peer> {
    use openraft::async_runtime::WatchReceiver;
    if let Some(peer) = ensemble.peers.get(&id) {
        return Some(peer.clone());
    }
    let metrics = raft.metrics().borrow_watched().clone();
    let node = metrics
        .membership_config
        .membership()
        .get_node(&id)?
        .clone();
    Some(parse_node(&node))
}

/// A peer known only from the membership (added by reconfiguration): `host:quorum:election`.
pub(super) fn parse_node(node: &BasicNode) -> Peer {
    let mut parts = node.addr.rsplitn(3, ':');
    let election_port = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let quorum_port = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let host = parts
        .next()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    Peer {
        host,
        quorum_port,
        election_port,
        observer: false,
    }
}

pub struct PeerClient {
    quorum: PeerLink,
    election: PeerLink,
    config: LinkConfig,
}

fn unreachable<E>(reason: String) -> E
where
    E: From<Unreachable<TypeConfig>>,
{
    Unreachable::from_string(reason).into()
}

/// Roughly how many bytes an entry takes in an append.
fn entry_weight(entry: &EntryOf<TypeConfig>) -> usize {
    match &entry.payload {
        EntryPayload::Normal(proposal) => proposal.weight() + 16,
        EntryPayload::Membership(_) => 4096,
        EntryPayload::Blank => 32,
    }
}

/// Keeps the longest prefix of `entries` within `budget` bytes (at least one entry); whether
/// any were cut.
fn fit_entries(entries: &mut Vec<EntryOf<TypeConfig>>, budget: usize) -> bool {
    let mut total = 0usize;
    let keep = entries
        .iter()
        .position(|entry| {
            total += entry_weight(entry);
            total > budget
        })
        .map_or(entries.len(), |first_over| first_over.max(1));
    let cut = keep < entries.len();
    entries.truncate(keep);
    cut
}

impl PeerClient {
    async fn call(
        &mut self,
        port: Port,
        request: PeerRequest,
        ttl: Duration,
    ) -> Result<PeerResponse, PeerError> {
        let link = match port {
            Port::Quorum => &mut self.quorum,
            Port::Election => &mut self.election,
        };
        link.call_idempotent(&request, ttl).await
    }

    async fn vote_call(
        &mut self,
        request: PeerRequest,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        match self.call(Port::Election, request, option.hard_ttl()).await {
            Ok(PeerResponse::Vote(response)) => Ok(response),
            Ok(PeerResponse::Failed(reason)) => Err(unreachable(reason)),
            Err(e) => Err(unreachable(e.to_string())),
            Ok(_) => Err(unreachable("unexpected answer to a vote".into())),
        }
    }
}

impl RaftNetworkV2<TypeConfig> for PeerClient {
    type SnapshotData = Cursor<Vec<u8>>;

    /// Sends as many of the entries as fit the replication budget; when some were left out, a
    /// success is reported as partial, and openraft sends the rest next.
    async fn append_entries(
        &mut self,
        mut rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        let cut = fit_entries(&mut rpc.entries, self.config.caps.batch_bytes);
        let last_sent = rpc.entries.last().map(|e| e.log_id);
        let bytes: usize = rpc.entries.iter().map(entry_weight).sum();
        // Megabytes of entries take a follower a while to write and sync; a heartbeat's
        // deadline would drop the connection under it, again and again.
        let ttl = if bytes > 256 << 10 {
            option.hard_ttl().max(self.config.deadlines.frame * 2)
        } else {
            option.hard_ttl()
        };
        match self.call(Port::Quorum, PeerRequest::Append(rpc), ttl).await {
            Ok(PeerResponse::Append(AppendEntriesResponse::Success)) if cut => {
                Ok(AppendEntriesResponse::PartialSuccess(last_sent))
            }
            Ok(PeerResponse::Append(response)) => Ok(response),
            Ok(PeerResponse::Failed(reason)) => Err(unreachable(reason)),
            Err(e) => Err(unreachable(e.to_string())),
            Ok(_) => Err(unreachable("unexpected answer to append".into())),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.vote_call(PeerRequest::Vote(rpc), option).await
    }

    async fn pre_vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.vote_call(PeerRequest::PreVote(rpc), option).await
    }

    /// Sends the snapshot in pieces of [`SNAPSHOT_CHUNK`] bytes on one connection; the last
    /// piece's answer is the install's.
    async fn full_snapshot(
        &mut self,
        vote: VoteOf<TypeConfig>,
        snapshot: SnapshotOf<TypeConfig, Cursor<Vec<u8>>>,
        cancel: impl std::future::Future<Output = ReplicationClosed> + Send + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let mut cancel = std::pin::pin!(cancel);
        let data = snapshot.snapshot.into_inner();
        let total = data.len();
        let mut offset = 0usize;
        loop {
            let end = (offset + SNAPSHOT_CHUNK).min(total);
            let last = end == total;
            let request = PeerRequest::SnapshotChunk {
                vote,
                meta: snapshot.meta.clone(),
                offset: offset as u64,
                total: total as u64,
                data: data[offset..end].to_vec(),
            };
            // The last piece waits for the follower to install the whole image.
            let ttl = if last {
                option.hard_ttl().max(Duration::from_secs(60))
            } else {
                option.hard_ttl().max(self.config.deadlines.frame * 2)
            };
            let sent = tokio::select! {
                closed = &mut cancel => {
                    self.quorum.reset();
                    return Err(closed.into());
                }
                sent = self.quorum.call(&request, ttl) => sent,
            };
            match sent {
                Ok(PeerResponse::ChunkReceived) if !last => offset = end,
                Ok(PeerResponse::Snapshot(response)) if last => return Ok(response),
                Ok(PeerResponse::Failed(reason)) => {
                    self.quorum.reset();
                    return Err(unreachable(reason));
                }
                Err(e) => {
                    self.quorum.reset();
                    return Err(unreachable(e.to_string()));
                }
                Ok(_) => {
                    self.quorum.reset();
                    return Err(unreachable("unexpected answer to a snapshot piece".into()));
                }
            }
        }
    }

    async fn transfer_leader(
        &mut self,
        req: TransferLeaderRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<TransferLeaderResponse<TypeConfig>, RPCError<TypeConfig>> {
        match self
            .call(
                Port::Election,
                PeerRequest::TransferLeader(req),
                option.hard_ttl(),
            )
            .await
        {
            Ok(PeerResponse::TransferLeader(response)) => Ok(response),
            Ok(PeerResponse::Failed(reason)) => Err(unreachable(reason)),
            Err(e) => Err(unreachable(e.to_string())),
            Ok(_) => Err(unreachable(
                "unexpected answer to a leadership transfer".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::quorum::{Proposal, ProposalBody};
    use openraft::vote::leader_id_std::CommittedLeaderId;

    fn entry(index: u64, txn_bytes: usize) -> EntryOf<TypeConfig> {
        openraft::Entry {
            log_id: openraft::LogId::new(CommittedLeaderId::new(1), index),
            payload: EntryPayload::Normal(Proposal {
                origin: 1,
                request: index,
                incarnation: 1,
                time: 0,
                body: ProposalBody::Txn(vec![0; txn_bytes]),
            }),
        }
    }

    #[test]
    fn appends_carry_a_prefix_within_the_budget_and_at_least_one_entry() {
        let mut entries: Vec<_> = (1..=10).map(|i| entry(i, 1 << 20)).collect();
        assert!(fit_entries(&mut entries, 4 << 20));
        assert_eq!(
            entries.len(),
            3,
            "three 1 MiB entries and their overhead fit 4 MiB"
        );
        let mut big = vec![entry(1, 8 << 20), entry(2, 10)];
        assert!(fit_entries(&mut big, 4 << 20));
        assert_eq!(big.len(), 1, "an entry larger than the budget goes alone");
        let mut small: Vec<_> = (1..=300).map(|i| entry(i, 100)).collect();
        assert!(!fit_entries(&mut small, 4 << 20));
        assert_eq!(small.len(), 300);
        let mut none = Vec::new();
        assert!(!fit_entries(&mut none, 10));
    }

    #[test]
    fn a_member_added_by_reconfig_is_parsed_from_its_node_address() {
        let peer = parse_node(&BasicNode {
            addr: "[::1]:2888:3888".into(),
        });
        assert_eq!(
            (peer.host.as_str(), peer.quorum_port, peer.election_port),
            ("::1", 2888, 3888)
        );
        let peer = parse_node(&BasicNode {
            addr: "10.0.0.5:2888:3888".into(),
        });
        assert_eq!(peer.host, "10.0.0.5");
    }
}
