//! Member-to-member transport: openraft's network client over TCP, and the listeners on this
//! member's quorum port (replication, snapshots, forwarded writes, touches) and election port
//! (votes and pre-votes).

use std::io::Cursor;
use std::sync::Arc;
use std::time::Duration;

use openraft::alias::{SnapshotOf, VoteOf};
use openraft::error::{RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{RPCOption, RaftNetworkFactory, RaftNetworkV2};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::BasicNode;
use tokio::net::{TcpListener, TcpStream};

use super::proposer::Proposer;
use super::wire::{read_frame, write_frame, PeerRequest, PeerResponse};
use super::{Raft, TypeConfig};
use crate::server::options::{EnsembleOptions, Peer};

/// Which of a peer's two ports a message goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    Quorum,
    Election,
}

/// One lazily (re)connected TCP stream to one port of one peer.
pub struct PeerLink {
    addr: String,
    stream: Option<TcpStream>,
}

impl PeerLink {
    pub fn new(peer: &Peer, port: Port) -> PeerLink {
        let number = match port {
            Port::Quorum => peer.quorum_port,
            Port::Election => peer.election_port,
        };
        PeerLink {
            addr: peer.socket_address(number),
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
        let result = tokio::time::timeout(ttl, self.exchange(request)).await;
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
    /// leaves the old stream dead, and the first vote after its restart must not be lost.
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

    async fn exchange(&mut self, request: &PeerRequest) -> std::io::Result<PeerResponse> {
        if self.stream.as_ref().is_some_and(is_closed) {
            self.stream = None;
        }
        if self.stream.is_none() {
            let stream = TcpStream::connect(&self.addr).await?;
            stream.set_nodelay(true)?;
            self.stream = Some(stream);
        }
        let Some(stream) = self.stream.as_mut() else {
            return Err(std::io::ErrorKind::NotConnected.into());
        };
        write_frame(stream, request).await?;
        read_frame(stream)
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
}

impl Network {
    pub fn new(ensemble: EnsembleOptions) -> Network {
        Network { ensemble }
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
            quorum: PeerLink::new(&peer, Port::Quorum),
            election: PeerLink::new(&peer, Port::Election),
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
    let host = parts.next().unwrap_or_default().to_owned();
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
}

fn unreachable<E>(reason: String) -> E
where
    E: From<Unreachable<TypeConfig>>,
{
    Unreachable::from_string(reason).into()
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

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        match self
            .call(Port::Quorum, PeerRequest::Append(rpc), option.hard_ttl())
            .await
        {
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

    async fn full_snapshot(
        &mut self,
        vote: VoteOf<TypeConfig>,
        snapshot: SnapshotOf<TypeConfig, Cursor<Vec<u8>>>,
        cancel: impl std::future::Future<Output = ReplicationClosed> + Send + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let request = PeerRequest::Snapshot {
            vote,
            meta: snapshot.meta,
            data: snapshot.snapshot.into_inner(),
        };
        let ttl = option.hard_ttl().max(Duration::from_secs(60));
        let sent = tokio::select! {
            closed = cancel => return Err(closed.into()),
            sent = self.call(Port::Quorum, request, ttl) => sent,
        };
        match sent {
            Ok(PeerResponse::Snapshot(response)) => Ok(response),
            Ok(PeerResponse::Failed(reason)) | Err(reason) => Err(unreachable(reason)),
            Ok(_) => Err(unreachable("unexpected answer to a snapshot".into())),
        }
    }
}

/// Binds this member's quorum and election ports and serves peers on both.
pub async fn listen(me: &Peer, raft: Raft, proposer: Arc<Proposer>) -> Result<(), String> {
    for port in [me.quorum_port, me.election_port] {
        let addr = me.socket_address(port);
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|e| format!("cannot bind the quorum address {addr}: {e}"))?;
        let raft = raft.clone();
        let proposer = proposer.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve_peer(stream, raft.clone(), proposer.clone()));
            }
        });
    }
    Ok(())
}

async fn serve_peer(mut stream: TcpStream, raft: Raft, proposer: Arc<Proposer>) {
    // The member whose appends this connection carried: its closing is news.
    let mut appends_from = None;
    loop {
        let request: PeerRequest = match read_frame(&mut stream).await {
            Ok(Some(request)) => request,
            Ok(None) => break,
            Err(e) => {
                tracing::debug!("closing a peer connection: {e}");
                break;
            }
        };
        if let PeerRequest::Append(rpc) = &request {
            use openraft::vote::RaftLeaderId;
            appends_from = Some(*rpc.vote.leader_id().node_id());
        }
        let response = handle(request, &raft, &proposer).await;
        if write_frame(&mut stream, &response).await.is_err() {
            break;
        }
    }
    if let Some(from) = appends_from {
        proposer.replication_closed(from);
    }
}

async fn handle(request: PeerRequest, raft: &Raft, proposer: &Arc<Proposer>) -> PeerResponse {
    fn failed(e: impl std::fmt::Display) -> PeerResponse {
        PeerResponse::Failed(e.to_string())
    }
    match request {
        PeerRequest::Append(rpc) => {
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
        PeerRequest::Snapshot { vote, meta, data } => {
            let snapshot = openraft::Snapshot {
                meta,
                snapshot: Cursor::new(data),
            };
            raft.install_full_snapshot(vote, snapshot)
                .await
                .map_or_else(failed, PeerResponse::Snapshot)
        }
        PeerRequest::Forward(proposals) => proposer.propose_forwarded(proposals).await,
        PeerRequest::Revalidate { session, origin } => proposer.take_ownership(session, origin),
        PeerRequest::Touch(sessions) => {
            proposer.touched(&sessions);
            PeerResponse::Touched
        }
    }
}
