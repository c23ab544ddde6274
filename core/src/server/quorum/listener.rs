//! Member-to-member transport, the listening side: this member's quorum port (replication,
//! snapshots, forwarded writes, touches) and election port (votes, pre-votes, leadership
//! transfers), served to the proposer and to raft.
//!
//! The listeners serve members only: a connection is accepted from an address one of the
//! `server.N` lines (or a member added by reconfig) resolves to, IPv4-mapped IPv6 addresses
//! compared as IPv4, and closed at once otherwise. Each port holds a bounded number of peer
//! connections; a frame that starts must arrive whole within `syncLimit` ticks, and an idle
//! connection is closed after a while (the dialing side reconnects). Frames are capped per
//! message kind (`wire`).

use std::collections::{BTreeSet, HashMap};
use std::io::Cursor;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::alias::{SnapshotMetaOf, VoteOf};
use openraft::raft::AppendEntriesResponse;
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::wire::{self, read_request, write_body, PeerRequest, PeerResponse, ReadError};
use super::{Raft, TypeConfig};
use crate::server::options::{EnsembleOptions, Peer};

use super::network::{parse_node, LinkConfig};
use super::peer_auth::Verdict;
use super::proposer::Proposer;
use super::transport::PeerStream;
use super::StartError;
use crate::server::refusals;

/// A snapshot larger than this is not a snapshot this member will assemble.
const MAX_SNAPSHOT_BYTES: u64 = 64 << 30;
/// Snapshot transfers being assembled at once on this member.
const MAX_INCOMING_SNAPSHOTS: usize = 2;
/// How often an address not among the members' makes this member resolve the members' host
/// names again (a member added by reconfig, a changed DNS record).
const RESOLVE_AGAIN_AFTER: Duration = Duration::from_secs(5);

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

    /// The `server.N` hosts of `members`, as their lines (or the membership) name them.
    pub fn hosts_of(&self, members: &BTreeSet<u64>) -> Vec<String> {
        members
            .iter()
            .filter_map(|id| self.ensemble.peers.get(id).map(|peer| peer.host.clone()))
            .collect()
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
) -> Result<(), StartError> {
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
            .map_err(|source| StartError::Bind {
                addr: addr.clone(),
                source,
            })?;
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
                    let hosts = served.admission.hosts_of(&members);
                    let security = served.config.security.clone();
                    let deadline = served.config.deadlines.frame;
                    let Some(stream) = security.accepted(stream, from, &hosts, deadline).await
                    else {
                        return;
                    };
                    serve_peer(stream, from, election, &served).await;
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

async fn serve_peer(mut stream: PeerStream, peer: SocketAddr, election: bool, served: &Served) {
    let from = peer.ip();
    // The member whose appends this connection carried: its closing is news.
    let mut appends_from = None;
    let mut auth = served.config.security.server_auth();
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
        let request = match request {
            PeerRequest::Sasl(token) => {
                let users = served.config.security.sasl_users();
                let (answer, verdict) = auth.on_token(users, &token);
                let answered =
                    answer_peer(&mut stream, &PeerResponse::Sasl(answer), deadlines.frame).await;
                if !judged(verdict, peer) || !answered {
                    break;
                }
                continue;
            }
            request => {
                if !judged(auth.on_request(), peer) {
                    break;
                }
                request
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
        if !answer_peer(&mut stream, &response, deadlines.frame).await {
            break;
        }
    }
    if let Some(from) = appends_from {
        served.proposer.replication_closed(from);
    }
}

/// Writes one answer within `deadline`; whether it went out.
async fn answer_peer(stream: &mut PeerStream, response: &PeerResponse, deadline: Duration) -> bool {
    let body = match wire::encode(response, wire::RESPONSE_CAP) {
        Ok(body) => body,
        Err(e) => {
            tracing::warn!("cannot answer a peer: {e}");
            return false;
        }
    };
    matches!(
        tokio::time::timeout(deadline, write_body(stream, &body)).await,
        Ok(Ok(()))
    )
}

/// Logs what quorum SASL decided about a connection from `peer`; whether to go on serving it.
fn judged(verdict: Verdict, peer: SocketAddr) -> bool {
    match verdict {
        Verdict::Serve => true,
        Verdict::Authenticated(user) => {
            tracing::info!(peer = %peer, "quorum SASL: the member authenticated as {user:?}");
            true
        }
        Verdict::ServeUnauthenticated(why) => {
            refusals::log_peer_refusal(peer, "sasl", &format!("quorum connection: {why}"));
            true
        }
        Verdict::Close(why) => {
            refusals::log_peer_refusal(
                peer,
                "sasl",
                &format!("refused a quorum connection: {why}"),
            );
            false
        }
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
        PeerRequest::Sasl(_) => failed("a quorum SASL token out of the exchange"),
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
