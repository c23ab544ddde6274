//! Member-to-member transport: openraft's network client over TCP, and the listeners on this
//! member's quorum port (replication, snapshots, forwarded writes, touches) and election port
//! (votes, pre-votes, leadership transfers).
//!
//! The listeners serve members only: a connection is accepted from an address one of the
//! `server.N` lines (or a member added by reconfig) resolves to, IPv4-mapped IPv6 addresses
//! compared as IPv4, and closed at once otherwise. Each port holds a bounded number of peer
//! connections; a frame that starts must arrive whole within `syncLimit` ticks, and an idle
//! connection is closed after a while (the dialing side reconnects). Frames are capped per
//! message kind (`wire`). A member dials from its own `server.N` address when that address is
//! one of this machine's, so the others recognise it even on a multi-homed host.

use std::collections::{BTreeSet, HashMap};
use std::io::Cursor;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::alias::{EntryOf, SnapshotMetaOf, SnapshotOf, VoteOf};
use openraft::error::{RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{RPCOption, RaftNetworkFactory, RaftNetworkV2};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, TransferLeaderRequest,
    TransferLeaderResponse, VoteRequest, VoteResponse,
};
use openraft::{BasicNode, EntryPayload};
use parking_lot::Mutex;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::Semaphore;

use super::proposer::Proposer;
use super::wire::{
    self, read_request, read_response, write_body, Caps, Deadlines, Kind, PeerRequest,
    PeerResponse, ReadError, SNAPSHOT_CHUNK,
};
use super::{Raft, TypeConfig};
use crate::server::options::{EnsembleOptions, Peer};

/// Which of a peer's two ports a message goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    Quorum,
    Election,
}

/// A snapshot larger than this is not a snapshot this member will assemble.
const MAX_SNAPSHOT_BYTES: u64 = 64 << 30;
/// Snapshot transfers being assembled at once on this member.
const MAX_INCOMING_SNAPSHOTS: usize = 2;
/// How often an address not among the members' makes this member resolve the members' host
/// names again (a member added by reconfig, a changed DNS record).
const RESOLVE_AGAIN_AFTER: Duration = Duration::from_secs(5);

/// What every link of this member shares: the frame caps and the address it dials from.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    pub caps: Caps,
    pub deadlines: Deadlines,
    /// This member's own address, when it is one of this machine's: outgoing connections are
    /// bound to it.
    pub source: Option<IpAddr>,
}

impl LinkConfig {
    pub async fn new(me: &Peer, caps: Caps, deadlines: Deadlines) -> LinkConfig {
        LinkConfig {
            caps,
            deadlines,
            source: local_source(&me.host).await,
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

/// One lazily (re)connected TCP stream to one port of one peer.
pub struct PeerLink {
    addr: String,
    config: LinkConfig,
    stream: Option<TcpStream>,
}

impl PeerLink {
    pub fn new(peer: &Peer, port: Port, config: &LinkConfig) -> PeerLink {
        let number = match port {
            Port::Quorum => peer.quorum_port,
            Port::Election => peer.election_port,
        };
        PeerLink {
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
    ) -> Result<PeerResponse, String> {
        let cap = self.config.caps.request_cap(Kind::of(request));
        let body = wire::encode(request, cap).map_err(|e| format!("{}: {e}", self.addr))?;
        let result = tokio::time::timeout(ttl, self.exchange(&body)).await;
        match result {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => {
                self.stream = None;
                Err(format!("{}: {e}", self.addr))
            }
            Err(_) => {
                self.stream = None;
                Err(format!("{}: no answer within {ttl:?}", self.addr))
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
    ) -> Result<PeerResponse, String> {
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

    async fn connect(&self) -> std::io::Result<TcpStream> {
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
        read_response(stream)
            .await?
            .ok_or_else(|| std::io::ErrorKind::UnexpectedEof.into())
    }
}

/// Whether the peer closed an idle stream: it never sends unasked, so anything readable
/// between requests is an end of stream or an error. Checked before each request, so a
/// stream left from before a peer restarted or a link was cut is replaced before sending,
/// not discovered after (which would cost a forwarded write its answer).
fn is_closed(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    !matches!(stream.try_read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
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
fn parse_node(node: &BasicNode) -> Peer {
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
    ) -> Result<PeerResponse, String> {
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
            Ok(PeerResponse::Failed(reason)) | Err(reason) => Err(unreachable(reason)),
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
            Ok(PeerResponse::Failed(reason)) | Err(reason) => Err(unreachable(reason)),
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
                Ok(PeerResponse::Failed(reason)) | Err(reason) => {
                    self.quorum.reset();
                    return Err(unreachable(reason));
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
            Ok(PeerResponse::Failed(reason)) | Err(reason) => Err(unreachable(reason)),
            Ok(_) => Err(unreachable(
                "unexpected answer to a leadership transfer".into(),
            )),
        }
    }
}

/// Which addresses are members', and which members each address may speak for.
pub struct Admission {
    ensemble: EnsembleOptions,
    known: Mutex<Known>,
    last_warning: Mutex<Option<Instant>>,
}

#[derive(Default)]
struct Known {
    members_at: HashMap<IpAddr, BTreeSet<u64>>,
    resolved: Option<Instant>,
}

impl Admission {
    pub fn new(ensemble: EnsembleOptions) -> Admission {
        Admission {
            ensemble,
            known: Mutex::new(Known::default()),
            last_warning: Mutex::new(None),
        }
    }

    /// The members whose address `ip` is; resolves the members' host names again when `ip`
    /// is none of them and they were last resolved a while ago.
    pub async fn members_at(&self, raft: &Raft, ip: IpAddr) -> BTreeSet<u64> {
        let ip = ip.to_canonical();
        let stale = {
            let mut known = self.known.lock();
            if let Some(ids) = known.members_at.get(&ip) {
                return ids.clone();
            }
            let stale = known
                .resolved
                .is_none_or(|at| at.elapsed() >= RESOLVE_AGAIN_AFTER);
            if stale {
                // Claimed now, so a burst of unknown connections resolves once.
                known.resolved = Some(Instant::now());
            }
            stale
        };
        if stale {
            self.resolve(raft).await;
        }
        self.known
            .lock()
            .members_at
            .get(&ip)
            .cloned()
            .unwrap_or_default()
    }

    /// Whether a connection from `ip` may speak for member `origin`.
    pub async fn may_speak_for(&self, raft: &Raft, ip: IpAddr, origin: u64) -> bool {
        self.members_at(raft, ip).await.contains(&origin)
    }

    /// Resolves every `server.N` host and every member added by reconfig.
    pub async fn resolve(&self, raft: &Raft) {
        use openraft::async_runtime::WatchReceiver;
        let mut hosts: Vec<(u64, String)> = self
            .ensemble
            .peers
            .iter()
            .map(|(id, peer)| (*id, peer.host.clone()))
            .collect();
        let metrics = raft.metrics().borrow_watched().clone();
        for (id, node) in metrics.membership_config.membership().nodes() {
            hosts.push((*id, parse_node(node).host));
        }
        let mut members_at: HashMap<IpAddr, BTreeSet<u64>> = HashMap::new();
        for (id, host) in hosts {
            match tokio::net::lookup_host((host.as_str(), 0)).await {
                Ok(addresses) => {
                    for address in addresses {
                        members_at
                            .entry(address.ip().to_canonical())
                            .or_default()
                            .insert(id);
                    }
                }
                Err(e) => tracing::warn!("cannot resolve server.{id}'s address {host}: {e}"),
            }
        }
        *self.known.lock() = Known {
            members_at,
            resolved: Some(Instant::now()),
        };
    }

    /// Says why a connection was refused, at most every ten seconds (a flood of refused
    /// connections must not become a flood of log lines).
    fn refused(&self, what: std::fmt::Arguments<'_>) {
        let mut last = self.last_warning.lock();
        if last.is_none_or(|at| at.elapsed() >= Duration::from_secs(10)) {
            *last = Some(Instant::now());
            tracing::warn!("{what}");
        } else {
            tracing::debug!("{what}");
        }
    }
}

/// What the peer listeners share.
struct Served {
    raft: Raft,
    proposer: Arc<Proposer>,
    admission: Arc<Admission>,
    config: LinkConfig,
    incoming_snapshots: AtomicUsize,
}

/// Binds this member's quorum and election ports and serves members on both.
pub async fn listen(
    me: &Peer,
    raft: Raft,
    proposer: Arc<Proposer>,
    admission: Arc<Admission>,
    config: LinkConfig,
    members: usize,
) -> Result<(), String> {
    admission.resolve(&raft).await;
    let served = Arc::new(Served {
        raft,
        proposer,
        admission,
        config,
        incoming_snapshots: AtomicUsize::new(0),
    });
    // A member keeps a handful of connections to each other one (replication, votes,
    // forwarding, touches, checks); room for several times that, and for members to come.
    let cap = (16 * members).max(64);
    for (port, election) in [(me.quorum_port, false), (me.election_port, true)] {
        let addr = me.socket_address(port);
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|e| format!("cannot bind the quorum address {addr}: {e}"))?;
        let served = served.clone();
        let slots = Arc::new(Semaphore::new(cap));
        tokio::spawn(async move {
            loop {
                let Ok((stream, from)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let served = served.clone();
                let slots = slots.clone();
                tokio::spawn(async move {
                    let members = served.admission.members_at(&served.raft, from.ip()).await;
                    if members.is_empty() {
                        served.admission.refused(format_args!(
                            "refused a connection to port {port} from {from}: not the address of any server.N"
                        ));
                        return;
                    }
                    let Ok(slot) = slots.try_acquire_owned() else {
                        served.admission.refused(format_args!(
                            "refused a connection to port {port} from {from}: {cap} peer connections already open"
                        ));
                        return;
                    };
                    let _ = stream.set_nodelay(true);
                    serve_peer(stream, from.ip(), election, &served).await;
                    drop(slot);
                });
            }
        });
    }
    Ok(())
}

/// A snapshot being received piece by piece on one connection.
struct Incoming {
    vote: VoteOf<TypeConfig>,
    meta: SnapshotMetaOf<TypeConfig>,
    total: u64,
    data: Vec<u8>,
}

/// Counts a transfer being assembled until dropped.
struct IncomingSlot<'a>(&'a AtomicUsize);

impl Drop for IncomingSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

async fn serve_peer(mut stream: TcpStream, from: IpAddr, election: bool, served: &Served) {
    // The member whose appends this connection carried: its closing is news.
    let mut appends_from = None;
    let mut incoming: Option<(Incoming, IncomingSlot<'_>)> = None;
    let deadlines = served.config.deadlines;
    loop {
        // Between the pieces of a snapshot, a sender that stops is abandoned sooner.
        let idle = if incoming.is_some() {
            deadlines.frame * 4
        } else {
            deadlines.idle
        };
        let request = match read_request(
            &mut stream,
            &served.config.caps,
            election,
            idle,
            deadlines.frame,
        )
        .await
        {
            Ok(Some(request)) => request,
            Ok(None) => break,
            Err(ReadError::Idle) if incoming.is_none() => break,
            Err(e) => {
                tracing::info!("closing a peer connection from {from}: {e}");
                break;
            }
        };
        if let PeerRequest::Append(rpc) = &request {
            use openraft::vote::RaftLeaderId;
            appends_from = Some(*rpc.vote.leader_id().node_id());
        }
        let response = match request {
            PeerRequest::SnapshotChunk {
                vote,
                meta,
                offset,
                total,
                data,
            } => {
                let piece = Incoming {
                    vote,
                    meta,
                    total,
                    data,
                };
                receive_piece(&mut incoming, piece, offset, served).await
            }
            request => handle(request, from, served).await,
        };
        let body = match wire::encode(&response, wire::RESPONSE_CAP) {
            Ok(body) => body,
            Err(e) => {
                tracing::warn!("cannot answer a peer: {e}");
                break;
            }
        };
        match tokio::time::timeout(deadlines.frame, write_body(&mut stream, &body)).await {
            Ok(Ok(())) => {}
            _ => break,
        }
    }
    if let Some(from) = appends_from {
        served.proposer.replication_closed(from);
    }
}

/// Adds one piece to the snapshot being received, and installs it once whole.
async fn receive_piece<'a>(
    incoming: &mut Option<(Incoming, IncomingSlot<'a>)>,
    piece: Incoming,
    offset: u64,
    served: &'a Served,
) -> PeerResponse {
    let refuse = |incoming: &mut Option<_>, reason: String| {
        *incoming = None;
        tracing::warn!("refusing a snapshot piece: {reason}");
        PeerResponse::Failed(reason)
    };
    if offset == 0 {
        *incoming = None;
        if piece.total > MAX_SNAPSHOT_BYTES {
            return refuse(incoming, format!("a snapshot of {} bytes", piece.total));
        }
        if served.incoming_snapshots.fetch_add(1, Ordering::AcqRel) >= MAX_INCOMING_SNAPSHOTS {
            served.incoming_snapshots.fetch_sub(1, Ordering::AcqRel);
            return refuse(incoming, "other snapshots are being received".into());
        }
        let slot = IncomingSlot(&served.incoming_snapshots);
        let started = Incoming {
            data: Vec::with_capacity(piece.data.len()),
            ..piece.clone_header()
        };
        *incoming = Some((started, slot));
    }
    let Some((transfer, _)) = incoming.as_mut() else {
        return refuse(incoming, format!("a piece at {offset} of no transfer"));
    };
    let same_transfer = transfer.vote == piece.vote
        && transfer.meta.last_log_id == piece.meta.last_log_id
        && transfer.total == piece.total
        && transfer.data.len() as u64 == offset;
    let fits = offset + piece.data.len() as u64 <= transfer.total;
    if !same_transfer || !fits {
        return refuse(
            incoming,
            format!("a piece at {offset} does not continue the transfer"),
        );
    }
    transfer.data.extend_from_slice(&piece.data);
    if (transfer.data.len() as u64) < transfer.total {
        return PeerResponse::ChunkReceived;
    }
    let Some((whole, _slot)) = incoming.take() else {
        return PeerResponse::Failed("no transfer".into());
    };
    let snapshot = openraft::Snapshot {
        meta: whole.meta,
        snapshot: Cursor::new(whole.data),
    };
    served
        .raft
        .install_full_snapshot(whole.vote, snapshot)
        .await
        .map_or_else(
            |e| PeerResponse::Failed(e.to_string()),
            PeerResponse::Snapshot,
        )
}

impl Incoming {
    fn clone_header(&self) -> Incoming {
        Incoming {
            vote: self.vote,
            meta: self.meta.clone(),
            total: self.total,
            data: Vec::new(),
        }
    }
}

async fn handle(request: PeerRequest, from: IpAddr, served: &Served) -> PeerResponse {
    fn failed(e: impl std::fmt::Display) -> PeerResponse {
        PeerResponse::Failed(e.to_string())
    }
    let (raft, proposer) = (&served.raft, &served.proposer);
    match request {
        PeerRequest::Append(rpc) => {
            // An append from the leader this member follows is contact, however long this
            // member's disk then takes to make its entries durable.
            let from_leader = {
                use openraft::async_runtime::WatchReceiver;
                use openraft::vote::RaftLeaderId;
                raft.metrics().borrow_watched().current_leader
                    == Some(*rpc.vote.leader_id().node_id())
            };
            if from_leader {
                proposer.heard_from_leader();
            }
            let response = raft.append_entries(rpc).await;
            if matches!(&response, Ok(r) if !matches!(r, AppendEntriesResponse::HigherVote(_))) {
                proposer.heard_from_leader();
            }
            response.map_or_else(failed, PeerResponse::Append)
        }
        PeerRequest::Vote(mut rpc) => {
            {
                use openraft::vote::RaftLeaderId;
                proposer.asked_to_vote(rpc.vote.leader_id().term());
            }
            // The leader's lease protects a live leader; this member saw it go away.
            if proposer.leader_known_lost().is_some() {
                rpc.leadership_transfer = true;
            }
            raft.vote(rpc).await.map_or_else(failed, PeerResponse::Vote)
        }
        PeerRequest::PreVote(rpc) => raft
            .pre_vote(rpc)
            .await
            .map_or_else(failed, PeerResponse::Vote),
        PeerRequest::TransferLeader(rpc) => raft
            .handle_transfer_leader(rpc)
            .await
            .map_or_else(failed, PeerResponse::TransferLeader),
        PeerRequest::SnapshotChunk { .. } => failed("a snapshot piece out of a transfer"),
        PeerRequest::Forward(proposals) => {
            let origins: BTreeSet<u64> = proposals.iter().map(|p| p.origin).collect();
            for origin in origins {
                if !served.admission.may_speak_for(raft, from, origin).await {
                    tracing::warn!("refusing writes forwarded from {from} for server.{origin}");
                    return failed(format!("{from} is not server.{origin}'s address"));
                }
            }
            proposer.propose_forwarded(proposals).await
        }
        PeerRequest::Revalidate {
            session,
            origin,
            passwd,
        } => {
            if !served.admission.may_speak_for(raft, from, origin).await {
                return failed(format!("{from} is not server.{origin}'s address"));
            }
            proposer.take_ownership(session, origin, &passwd).await
        }
        PeerRequest::Touch(sessions) => {
            proposer.touched(&sessions);
            PeerResponse::Touched
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
