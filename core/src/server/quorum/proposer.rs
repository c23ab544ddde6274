//! Client writes into the log, and the requests waiting for their entries.
//!
//! Writes from this member's connections arrive in order on one channel. Each gets a request
//! number and waits in [`Proposer::waiting`]; the batch is proposed locally when this member
//! leads, or forwarded to the leader over one connection, which keeps every session's writes in
//! the order they arrived. The leader answers with the term it proposed them in. When this
//! member applies an entry of a later term, any request accepted in an earlier term that has not
//! been applied never will be (raft overwrote it), so its connection is closed: the client sees
//! a connection loss, the truthful "outcome unknown", and resolves it on reconnect.
//!
//! Members report the sessions their clients touched to the leader every half tick; only the
//! leader expires sessions, and a new leader gives every session a whole timeout.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use openraft::async_runtime::WatchReceiver;
use openraft::{BasicNode, ServerState};
use parking_lot::Mutex;
use tokio::sync::mpsc;

use super::network::{peer_address, PeerLink, Port};
use super::wire::{PeerRequest, PeerResponse};
use super::{node_of, reconfig, Proposal, Raft, Role};
use crate::proto::ErrorCode;
use crate::server::options::EnsembleOptions;
use crate::server::runtime::{now_millis, ReplyTo, Shared, WriteJob};
use crate::server::txn::{Txn, TxnBody};

const MAX_BATCH: usize = 512;

struct Waiting {
    reply: ReplyTo,
    /// The term the leader proposed it in, once the leader said so.
    accepted_term: Option<u64>,
}

pub struct Proposer {
    shared: Arc<Shared>,
    my_id: u64,
    incarnation: u64,
    next_request: AtomicU64,
    waiting: Mutex<HashMap<u64, Waiting>>,
    /// The highest term of an entry applied here.
    applied_term: AtomicU64,
    /// When a leader's append (or heartbeat) last reached this member.
    leader_contact: Mutex<Instant>,
    /// The leader whose replication connection closed, and when, until it is heard from again.
    leader_lost: Mutex<Option<(u64, Instant)>>,
    /// The highest term another member asked this one to vote in.
    asked_term: AtomicU64,
    /// A check whether the leader is gone is under way.
    probing: std::sync::atomic::AtomicBool,
    /// On the leader: the member holding each session's connection, as last revalidated.
    owners: Mutex<HashMap<i64, u64>>,
    /// Links for one-off calls to the leader (revalidation).
    control_links: tokio::sync::Mutex<BTreeMap<u64, PeerLink>>,
    ensemble: OnceLock<EnsembleOptions>,
    raft: OnceLock<Raft>,
}

impl Proposer {
    pub fn new(shared: Arc<Shared>, my_id: u64) -> Arc<Proposer> {
        Arc::new(Proposer {
            shared,
            my_id,
            incarnation: rand::random(),
            next_request: AtomicU64::new(1),
            waiting: Mutex::new(HashMap::new()),
            applied_term: AtomicU64::new(0),
            leader_contact: Mutex::new(Instant::now()),
            owners: Mutex::new(HashMap::new()),
            leader_lost: Mutex::new(None),
            asked_term: AtomicU64::new(0),
            probing: std::sync::atomic::AtomicBool::new(false),
            control_links: tokio::sync::Mutex::new(BTreeMap::new()),
            ensemble: OnceLock::new(),
            raft: OnceLock::new(),
        })
    }

    /// The request waiting for `proposal`, if it came from this member in this incarnation.
    pub fn take_waiting(&self, proposal: &Proposal) -> Option<ReplyTo> {
        if proposal.origin != self.my_id || proposal.incarnation != self.incarnation {
            return None;
        }
        self.waiting
            .lock()
            .remove(&proposal.request)
            .map(|w| w.reply)
    }

    /// Called after applying an entry of `term`: requests accepted in an earlier term and still
    /// waiting were lost with that term's leader.
    pub fn applied_term(&self, term: u64) {
        let previous = self.applied_term.fetch_max(term, Ordering::AcqRel);
        if term > previous {
            self.fail_where(|w| w.accepted_term.is_some_and(|t| t < term));
        }
    }

    fn fail_where(&self, lost: impl Fn(&Waiting) -> bool) {
        let failed: Vec<Waiting> = {
            let mut waiting = self.waiting.lock();
            let ids: Vec<u64> = waiting
                .iter()
                .filter(|(_, w)| lost(w))
                .map(|(id, _)| *id)
                .collect();
            ids.into_iter()
                .filter_map(|id| waiting.remove(&id))
                .collect()
        };
        for w in failed {
            self.fail(w.reply);
        }
    }

    fn fail(&self, reply: ReplyTo) {
        self.shared
            .stats
            .outstanding
            .fetch_sub(1, Ordering::Relaxed);
        match reply {
            // The outcome is unknown to us: closing says exactly that to the client.
            ReplyTo::Conn { conn, .. } => conn.close(),
            ReplyTo::Handshake(_) | ReplyTo::Nobody => {}
        }
    }

    fn fail_requests(&self, requests: &[u64]) {
        let failed: Vec<Waiting> = {
            let mut waiting = self.waiting.lock();
            requests
                .iter()
                .filter_map(|id| waiting.remove(id))
                .collect()
        };
        for w in failed {
            self.fail(w.reply);
        }
    }

    fn accepted(&self, requests: &[u64], term: u64) {
        {
            let mut waiting = self.waiting.lock();
            for id in requests {
                if let Some(w) = waiting.get_mut(id) {
                    w.accepted_term = Some(term);
                }
            }
        }
        if self.applied_term.load(Ordering::Acquire) > term {
            self.fail_requests(requests);
        }
    }

    /// Proposes entries on this member if it leads: `Accepted` with the term, or `NotLeader`.
    pub async fn propose_forwarded(&self, proposals: Vec<Proposal>) -> PeerResponse {
        let Some(raft) = self.raft.get() else {
            return PeerResponse::NotLeader;
        };
        if self.shared.role.get() != Role::Leader {
            return PeerResponse::NotLeader;
        }
        let term = raft.metrics().borrow_watched().current_term;
        let mut rejected = Vec::new();
        for mut proposal in proposals {
            if !self.owned_by_origin(&proposal) {
                rejected.push((proposal.request, ErrorCode::SessionMoved.as_i32()));
                continue;
            }
            if let Some((auth, request)) = client_reconfig(&proposal) {
                match reconfig::prepare(&self.shared, raft, auth, &request).await {
                    Ok(body) => proposal.txn = replace_body(&proposal.txn, body),
                    Err(code) => {
                        rejected.push((proposal.request, code.as_i32()));
                        continue;
                    }
                }
            }
            proposal.time = now_millis();
            if let Err(e) = raft.client_write_ff(proposal, None).await {
                return PeerResponse::Failed(e.to_string());
            }
        }
        PeerResponse::Accepted { term, rejected }
    }

    /// On the leader: whether the proposal's session belongs to the member that sent it. A
    /// session seen for the first time (created, or known before this leader) belongs to its
    /// sender from then on.
    fn owned_by_origin(&self, proposal: &Proposal) -> bool {
        if proposal.session == 0 {
            return true;
        }
        let mut owners = self.owners.lock();
        let owner = owners.entry(proposal.session).or_insert(proposal.origin);
        *owner == proposal.origin
    }

    /// On the leader: a client reconnected to `origin` with `session`.
    pub fn take_ownership(&self, session: i64, origin: u64) -> PeerResponse {
        if self.shared.role.get() != Role::Leader {
            return PeerResponse::NotLeader;
        }
        self.owners.lock().insert(session, origin);
        PeerResponse::Revalidated
    }

    /// A closed session has no owner any more.
    pub fn session_closed(&self, session: i64) {
        self.owners.lock().remove(&session);
    }

    /// Tells the leader (or this member, leading) that `session` is now held here.
    pub async fn revalidate(&self, session: i64) -> Result<(), String> {
        let raft = self.raft.get().ok_or("not started")?;
        let ensemble = self.ensemble.get().ok_or("not started")?;
        let wait = self.shared.opts.tick_time * 2;
        let leader = leader_within(raft, wait).await.ok_or("no leader")?;
        if leader == self.my_id {
            return match self.take_ownership(session, self.my_id) {
                PeerResponse::Revalidated => Ok(()),
                _ => Err("not leading any more".into()),
            };
        }
        let peer = peer_address(raft, ensemble, leader).ok_or("the leader has no address")?;
        let mut links = self.control_links.lock().await;
        let link = links
            .entry(leader)
            .or_insert_with(|| PeerLink::new(&peer, Port::Quorum));
        let request = PeerRequest::Revalidate {
            session,
            origin: self.my_id,
        };
        match link.call_idempotent(&request, wait).await? {
            PeerResponse::Revalidated => Ok(()),
            _ => Err(format!("server.{leader} is not leading")),
        }
    }

    /// Answers requests the leader refused before logging them.
    fn rejected(&self, rejected: &[(u64, i32)]) {
        for (request, code) in rejected {
            let Some(waiting) = self.waiting.lock().remove(request) else {
                continue;
            };
            self.shared
                .stats
                .outstanding
                .fetch_sub(1, Ordering::Relaxed);
            if let ReplyTo::Conn {
                conn,
                xid,
                received,
            } = waiting.reply
            {
                let code = crate::proto::ErrorCode::from_i32(*code)
                    .unwrap_or(crate::proto::ErrorCode::SystemError);
                conn.reply(xid, self.shared.last_zxid(), &Err(code));
                self.shared.stats.record_latency(received);
                conn.write_done();
            }
        }
    }

    /// Fills an empty `/zookeeper/config` with the `server.N` lines, through the log.
    fn write_first_config(&self, ensemble: &EnsembleOptions) {
        if !self.shared.state.read().config_text().trim().is_empty() {
            return;
        }
        let members = reconfig::static_lines(ensemble);
        self.shared.submit(WriteJob {
            session_id: 0,
            body: TxnBody::Reconfig {
                auth: Vec::new(),
                cur_config_id: -1,
                members,
            },
            reply: ReplyTo::Nobody,
        });
    }

    /// A leader's append or heartbeat arrived.
    pub fn heard_from_leader(&self) {
        *self.leader_contact.lock() = Instant::now();
        *self.leader_lost.lock() = None;
    }

    /// The connection that carried member `from`'s appends closed. If `from` leads, it most
    /// likely died (the kernel closes a killed process's sockets at once), so this member
    /// stands for election after a short random delay, instead of waiting out an election
    /// timeout, unless the leader is heard from again first. This is how Apache's followers
    /// notice a dead leader in well under a tick.
    pub fn replication_closed(self: &Arc<Self>, from: u64) {
        let Some(raft) = self.raft.get() else {
            return;
        };
        let metrics = raft.metrics().borrow_watched().clone();
        if metrics.current_leader != Some(from) || metrics.state == ServerState::Leader {
            return;
        }
        if self.leader_lost.lock().is_some_and(|(id, _)| id == from)
            || self.probing.swap(true, Ordering::AcqRel)
        {
            // Every connection the leader had closes; one check and one election are enough.
            return;
        }
        let proposer = self.clone();
        let raft = raft.clone();
        // One candidate at a time, by id, so votes do not split: the lowest surviving voter
        // asks first; the next asks a tenth of a tick later only if nobody has led by then.
        let rank = metrics
            .membership_config
            .membership()
            .voter_ids()
            .filter(|id| *id != from && *id < self.my_id)
            .count() as u32;
        let spread = self.shared.opts.tick_time / 10;
        let voters = metrics.membership_config.membership().voter_ids().count() as u32;
        // A moment first, so the other members see the same connection close and grant.
        let first = Duration::from_millis(20) + spread * rank;
        let tick_half = self.shared.opts.tick_time / 2;
        let leader_address = self
            .ensemble
            .get()
            .and_then(|ensemble| peer_address(&raft, ensemble, from));
        tokio::spawn(async move {
            // A connection also closes when the leader merely dropped it (a timeout on its
            // side): only a leader whose port refuses connections is gone.
            let gone = match leader_address {
                Some(peer) => leader_is_gone(&peer, tick_half).await,
                None => false,
            };
            proposer.probing.store(false, Ordering::Release);
            if !gone {
                return;
            }
            *proposer.leader_lost.lock() = Some((from, Instant::now()));
            // Up to three rounds: a candidate whose log is behind loses, and a split vote
            // leaves candidates at the same term; a new round asks at a higher term.
            for round in 0..3u32 {
                let wait = if round == 0 {
                    first
                } else {
                    spread * voters.max(1)
                };
                tokio::time::sleep(wait).await;
                let state = raft.metrics().borrow_watched().state;
                if proposer.leader_known_lost().is_none() || state == ServerState::Leader {
                    return;
                }
                if matches!(state, ServerState::Follower | ServerState::Candidate) {
                    tracing::info!("the leader server.{from} went away; standing for election");
                    proposer.stand_above_asked_terms(&raft).await;
                }
            }
        });
    }

    /// Another member asked for this member's vote in `term`.
    pub fn asked_to_vote(&self, term: u64) {
        self.asked_term.fetch_max(term, Ordering::AcqRel);
    }

    /// Stands for election in a term above any a rival candidate asked for: openraft keeps its
    /// term when it refuses a vote, so two candidates could otherwise meet in the same term
    /// round after round, each having voted for itself.
    async fn stand_above_asked_terms(&self, raft: &Raft) {
        for _ in 0..3 {
            if raft.trigger().elect(false).await.is_err() {
                return;
            }
            let mut metrics = raft.metrics();
            let deadline = tokio::time::Instant::now() + Duration::from_millis(50);
            let asked = self.asked_term.load(Ordering::Acquire);
            loop {
                let current = metrics.borrow_watched().clone();
                if current.current_term > asked || current.state == ServerState::Leader {
                    return;
                }
                if tokio::time::timeout_at(deadline, metrics.changed())
                    .await
                    .is_err()
                {
                    break;
                }
            }
        }
    }

    /// The leader this member saw go away and has not heard from since, if any: votes for its
    /// successor need not wait for its lease to run out.
    pub fn leader_known_lost(&self) -> Option<u64> {
        self.leader_lost.lock().map(|(id, _)| id)
    }

    /// Sessions another member's clients touched.
    pub fn touched(&self, sessions: &[i64]) {
        let now = Instant::now();
        let mut tracker = self.shared.tracker.lock();
        for id in sessions {
            tracker.touch(*id, now);
        }
    }

    /// Starts the proposing loop, the touch reports and the role watch.
    pub fn start(
        self: &Arc<Self>,
        raft: Raft,
        ensemble: EnsembleOptions,
        writes: mpsc::UnboundedReceiver<WriteJob>,
    ) {
        let _ = self.raft.set(raft.clone());
        let _ = self.ensemble.set(ensemble.clone());
        tokio::spawn(
            self.clone()
                .propose_loop(raft.clone(), ensemble.clone(), writes),
        );
        tokio::spawn(self.clone().touch_loop(raft.clone(), ensemble.clone()));
        tokio::spawn(self.clone().role_loop(raft, ensemble));
    }

    async fn propose_loop(
        self: Arc<Self>,
        raft: Raft,
        ensemble: EnsembleOptions,
        mut writes: mpsc::UnboundedReceiver<WriteJob>,
    ) {
        let mut links: BTreeMap<u64, PeerLink> = BTreeMap::new();
        let wait_for_leader = self.shared.opts.tick_time * 2;
        while let Some(first) = writes.recv().await {
            if self.shared.is_stopping() {
                break;
            }
            let mut jobs = vec![first];
            while jobs.len() < MAX_BATCH {
                match writes.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            let (requests, proposals) = self.enqueue(jobs);
            let leader = leader_within(&raft, wait_for_leader).await;
            match leader {
                None => self.fail_requests(&requests),
                Some(id) if id == self.my_id => match self.propose_forwarded(proposals).await {
                    PeerResponse::Accepted { term, rejected } => {
                        self.rejected(&rejected);
                        self.accepted(&requests, term);
                    }
                    _ => self.fail_requests(&requests),
                },
                Some(id) => {
                    let Some(peer) = peer_address(&raft, &ensemble, id) else {
                        self.fail_requests(&requests);
                        continue;
                    };
                    let link = links
                        .entry(id)
                        .or_insert_with(|| PeerLink::new(&peer, Port::Quorum));
                    // A reconfig waits for new members to catch up before it is logged.
                    let ttl = if proposals.iter().any(|p| p.reconfig) {
                        self.shared.opts.tick_time * 25
                    } else {
                        wait_for_leader
                    };
                    // A leader that hangs answers nothing; once another leads, stop waiting.
                    let request = PeerRequest::Forward(proposals);
                    let answered = tokio::select! {
                        answer = link.call(&request, ttl) => Some(answer),
                        () = leader_changed(&raft, id) => None,
                    };
                    let answer = answered.unwrap_or_else(|| {
                        link.reset();
                        Err(format!("server.{id} stopped leading before it answered"))
                    });
                    match answer {
                        Ok(PeerResponse::Accepted { term, rejected }) => {
                            self.rejected(&rejected);
                            self.accepted(&requests, term);
                        }
                        Ok(_) => self.fail_requests(&requests),
                        Err(e) => {
                            tracing::warn!(
                                "cannot forward writes to the leader (server.{id}): {e}"
                            );
                            self.fail_requests(&requests);
                        }
                    }
                }
            }
        }
    }

    fn enqueue(&self, jobs: Vec<WriteJob>) -> (Vec<u64>, Vec<Proposal>) {
        let mut requests = Vec::with_capacity(jobs.len());
        let mut proposals = Vec::with_capacity(jobs.len());
        let mut waiting = self.waiting.lock();
        for job in jobs {
            let request = self.next_request.fetch_add(1, Ordering::Relaxed);
            let reconfig = matches!(
                job.body,
                TxnBody::Write {
                    request: crate::proto::Request::Reconfig(_),
                    ..
                }
            );
            let txn = Txn {
                zxid: 0,
                time: 0,
                session_id: job.session_id,
                rules: self.shared.opts.rules,
                body: job.body,
            };
            // The server's own txns (expiry, container cleanup) act on sessions they do not own.
            let internal = matches!(job.reply, ReplyTo::Nobody);
            proposals.push(Proposal {
                session: if internal { 0 } else { job.session_id },
                origin: self.my_id,
                request,
                incarnation: self.incarnation,
                time: 0,
                txn: txn.encode(),
                reconfig,
            });
            waiting.insert(
                request,
                Waiting {
                    reply: job.reply,
                    accepted_term: None,
                },
            );
            requests.push(request);
        }
        (requests, proposals)
    }

    /// Every half tick, tells the leader which sessions this member's clients kept alive.
    async fn touch_loop(self: Arc<Self>, raft: Raft, ensemble: EnsembleOptions) {
        let period = (self.shared.opts.tick_time / 2).max(Duration::from_millis(10));
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut links: BTreeMap<u64, PeerLink> = BTreeMap::new();
        while !self.shared.is_stopping() {
            ticker.tick().await;
            let leader = raft.metrics().borrow_watched().current_leader;
            let Some(leader) = leader.filter(|id| *id != self.my_id) else {
                continue;
            };
            let touched = self.shared.tracker.lock().take_touched();
            if touched.is_empty() {
                continue;
            }
            let Some(peer) = peer_address(&raft, &ensemble, leader) else {
                continue;
            };
            let link = links
                .entry(leader)
                .or_insert_with(|| PeerLink::new(&peer, Port::Quorum));
            if let Err(e) = link.call(&PeerRequest::Touch(touched), period).await {
                tracing::debug!("cannot report touched sessions: {e}");
            }
        }
    }

    /// Follows raft's view of this member into [`Role`], and does what a new leader must.
    /// A member that knows no leader for two ticks turns read-only if `readonlymode.enabled`.
    async fn role_loop(self: Arc<Self>, raft: Raft, ensemble: EnsembleOptions) {
        let tick = self.shared.opts.tick_time;
        let mut metrics = raft.metrics();
        let mut was = Role::Looking;
        let mut looking_since = Instant::now();
        loop {
            let current = metrics.borrow_watched().clone();
            let mut role = match current.state {
                // A leader that has not heard from a quorum for a lease (one tick) can commit
                // nothing: it counts as looking, as a ZooKeeper leader that lost its quorum does.
                ServerState::Leader if !has_quorum(&current, tick) => Role::Looking,
                ServerState::Leader => Role::Leader,
                // A member that has not heard its leader for two ticks is cut off, whatever
                // raft still remembers as the leader.
                _ if self.leader_contact.lock().elapsed() > tick * 2 => Role::Looking,
                ServerState::Follower if current.current_leader.is_some() => Role::Follower,
                ServerState::Learner if current.current_leader.is_some() => Role::Observer,
                _ => Role::Looking,
            };
            if role == Role::Looking {
                if !matches!(was, Role::Looking | Role::ReadOnly) {
                    looking_since = Instant::now();
                }
                if ensemble.read_only_enabled && looking_since.elapsed() >= tick * 2 {
                    role = Role::ReadOnly;
                }
            }
            if role != was {
                tracing::info!(term = current.current_term, "now {}", role.as_str());
                self.shared.role.set(role);
                if was == Role::ReadOnly {
                    // Read-only sessions end with read-only mode; their clients find a
                    // read-write server, as Apache's do.
                    self.shared.close_read_only_connections();
                }
                if matches!(was, Role::Leader | Role::Follower | Role::Observer)
                    && role == Role::Looking
                {
                    // Cut off from the quorum: clients move to a member that can serve them,
                    // keeping their sessions, instead of reading a state that no longer advances.
                    self.shared.close_all_connections();
                }
                if role == Role::Leader {
                    self.owners.lock().clear();
                    self.shared.tracker.lock().refresh_all(Instant::now());
                    tokio::spawn(add_observers(raft.clone(), ensemble.clone(), tick));
                    self.write_first_config(&ensemble);
                }
            }
            was = role;
            match tokio::time::timeout(tick / 2, metrics.changed()).await {
                Ok(Err(_)) => return,
                _ if self.shared.is_stopping() => return,
                _ => {}
            }
        }
    }
}

/// A client's `reconfig` inside a proposal, with the client's auth ids.
fn client_reconfig(
    proposal: &Proposal,
) -> Option<(Vec<crate::proto::Id>, crate::proto::ReconfigRequest)> {
    if !proposal.reconfig {
        return None;
    }
    match Txn::decode(&proposal.txn).ok()?.body {
        TxnBody::Write {
            auth,
            request: crate::proto::Request::Reconfig(request),
        } => Some((auth, request)),
        _ => None,
    }
}

/// The encoded txn with its body replaced.
fn replace_body(encoded: &[u8], body: TxnBody) -> Vec<u8> {
    match Txn::decode(encoded) {
        Ok(mut txn) => {
            txn.body = body;
            txn.encode()
        }
        Err(_) => encoded.to_vec(),
    }
}

/// Whether a leader has heard from a quorum within the last tick (its lease).
fn has_quorum(metrics: &openraft::RaftMetrics<super::TypeConfig>, tick: Duration) -> bool {
    use openraft::async_runtime::Instant as _;
    let voters = metrics.membership_config.membership().voter_ids().count();
    if voters <= 1 {
        return true;
    }
    metrics
        .last_quorum_acked
        .as_ref()
        .is_some_and(|acked| (**acked).elapsed() <= tick)
}

/// Makes every `:observer` server a learner, retrying while the first membership commits.
async fn add_observers(raft: Raft, ensemble: EnsembleOptions, tick: Duration) {
    for (id, peer) in ensemble.observers() {
        loop {
            let metrics = raft.metrics().borrow_watched().clone();
            if metrics.state != ServerState::Leader {
                return;
            }
            if metrics
                .membership_config
                .membership()
                .learner_ids()
                .any(|l| l == id)
            {
                break;
            }
            let node: BasicNode = node_of(peer);
            match raft.add_learner(id, node, false).await {
                Ok(_) => break,
                Err(e) => tracing::debug!("observer server.{id} not added yet: {e}"),
            }
            tokio::time::sleep(tick / 2).await;
        }
    }
}

/// Whether `peer` is gone: it does not answer a no-op request within `limit`. A dead process
/// refuses the connection or resets it at once; a live leader that merely dropped a
/// connection answers.
async fn leader_is_gone(peer: &crate::server::options::Peer, limit: Duration) -> bool {
    let mut link = PeerLink::new(peer, Port::Quorum);
    !matches!(
        link.call(&PeerRequest::Touch(Vec::new()), limit).await,
        Ok(PeerResponse::Touched)
    )
}

/// Resolves once this member knows a leader other than `leader` (or none).
async fn leader_changed(raft: &Raft, leader: u64) {
    let mut metrics = raft.metrics();
    loop {
        if metrics.borrow_watched().current_leader != Some(leader) {
            return;
        }
        if metrics.changed().await.is_err() {
            return;
        }
    }
}

/// The leader this member knows, waiting up to `limit` for an election to finish.
async fn leader_within(raft: &Raft, limit: Duration) -> Option<u64> {
    let deadline = tokio::time::Instant::now() + limit;
    let mut metrics = raft.metrics();
    loop {
        if let Some(leader) = metrics.borrow_watched().current_leader {
            return Some(leader);
        }
        match tokio::time::timeout_at(deadline, metrics.changed()).await {
            Ok(Ok(())) => {}
            _ => return None,
        }
    }
}
