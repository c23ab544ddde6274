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
//!
//! The leader trusts a forwarding member with no more than its own clients' requests: it
//! refuses the server's internal txns (session 0, expiry, `/zookeeper/config`), sessions the
//! sender does not hold (every member knows every session's holder: sessions are created, and
//! move, through the log), a CreateSession for a live session, and overwrites the validation
//! rules and the clock with its own. It also keeps the zxid counter of its term from wrapping:
//! before a term's counter would reach its limit, it hands leadership to another voter so a new
//! term (epoch) starts, and refuses the writes over the limit meanwhile.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use openraft::async_runtime::WatchReceiver;
use openraft::{BasicNode, ServerState};
use parking_lot::Mutex;
use tokio::sync::mpsc;

use super::network::{peer_address, LinkConfig, PeerLink, Port};
use super::wire::{PeerRequest, PeerResponse, MAX_TOUCHED};
use super::{node_of, reconfig, runs_within, Owners, PeerError, Proposal, ProposalBody, Raft};
use crate::proto::{ErrorCode, Request};
use crate::server::clock::now_millis;
use crate::server::front::Batch;
use crate::server::options::EnsembleOptions;
use crate::server::role::Role;
use crate::server::shared::{ReplyTo, Shared, WriteJob};
use crate::server::txn::{Txn, TxnBody};

const MAX_BATCH: usize = 512;

/// Why a reconnecting session could not be taken over here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RevalidateError {
    /// The leader says the session is gone, or the password is not the session's.
    #[error("the session expired (or the password is wrong)")]
    Expired,
    /// No leader answered; the client should try again, here or elsewhere.
    #[error("{0}")]
    Unavailable(String),
}

/// The code a leader gives the requests it refused only for now (its term's zxid counter is
/// spent): their connections are closed, and the client retries at the next leader.
const RETRY_ELSEWHERE: ErrorCode = ErrorCode::ConnectionLoss;

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
    /// The member holding each session, as applied from the log.
    owners: Owners,
    /// Links for one-off calls to the leader (revalidation).
    control_links: tokio::sync::Mutex<BTreeMap<u64, PeerLink>>,
    links: LinkConfig,
    /// The most txns one term may log: their zxids' low halves count up to this.
    zxid_limit: u64,
    /// On the leader: the term it proposes in, and how many txns it proposed in that term.
    zxids: Mutex<(u64, u64)>,
    /// A handover to start a new term is under way.
    rolling_term: Arc<std::sync::atomic::AtomicBool>,
    /// A client's reconfig is being carried out.
    pub(super) reconfig_running: std::sync::atomic::AtomicBool,
    ensemble: OnceLock<EnsembleOptions>,
    raft: OnceLock<Raft>,
}

impl Proposer {
    pub fn new(
        shared: Arc<Shared>,
        my_id: u64,
        owners: Owners,
        links: LinkConfig,
        zxid_limit: u64,
    ) -> Arc<Proposer> {
        Arc::new(Proposer {
            shared,
            my_id,
            incarnation: rand::random(),
            next_request: AtomicU64::new(1),
            waiting: Mutex::new(HashMap::new()),
            applied_term: AtomicU64::new(0),
            leader_contact: Mutex::new(Instant::now()),
            owners,
            leader_lost: Mutex::new(None),
            asked_term: AtomicU64::new(0),
            probing: std::sync::atomic::AtomicBool::new(false),
            control_links: tokio::sync::Mutex::new(BTreeMap::new()),
            links,
            zxid_limit,
            zxids: Mutex::new((0, 0)),
            rolling_term: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            reconfig_running: std::sync::atomic::AtomicBool::new(false),
            ensemble: OnceLock::new(),
            raft: OnceLock::new(),
        })
    }

    /// The request waiting for `proposal`, if it came from this member in this incarnation.
    pub fn take_waiting(&self, proposal: &Proposal) -> Option<ReplyTo> {
        if proposal.origin != self.my_id
            || proposal.incarnation != self.incarnation
            || proposal.txn().is_none()
        {
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
        reply.abandon(&self.shared);
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

    /// Proposes another member's forwarded writes if this member leads: `Accepted` with the
    /// term and the refused ones, or `NotLeader`. The sender was checked to be `origin`.
    pub async fn propose_forwarded(&self, proposals: Vec<Proposal>) -> PeerResponse {
        let candidates = proposals
            .into_iter()
            .map(|p| (p, Source::Checked))
            .collect();
        self.propose(candidates).await
    }

    /// Proposes entries on this member if it leads: `Accepted` with the term and the refused
    /// ones, or `NotLeader`.
    async fn propose(&self, candidates: Vec<(Proposal, Source)>) -> PeerResponse {
        let Some(raft) = self.raft.get() else {
            return PeerResponse::NotLeader;
        };
        if self.shared.role.get() != Role::Leader {
            return PeerResponse::NotLeader;
        }
        let Some(term) = self.applied_own_term(raft).await else {
            return PeerResponse::NotLeader;
        };
        let mut rejected = Vec::new();
        let mut spent = false;
        let mut accepted = Vec::new();
        for (mut proposal, source) in candidates {
            if let Err(code) = self.admit(raft, &mut proposal, source).await {
                rejected.push((proposal.request, code.as_i32()));
                continue;
            }
            if !self.take_zxid(raft, term) {
                spent = true;
                rejected.push((proposal.request, RETRY_ELSEWHERE.as_i32()));
                continue;
            }
            proposal.time = now_millis();
            accepted.push(proposal);
        }
        // An entry stays within what one append may carry.
        for parts in runs_within(accepted, self.links.caps.batch_bytes, Proposal::weight) {
            if let Err(e) = self.log_entry(raft, parts).await {
                return PeerResponse::Failed(e);
            }
        }
        if spent {
            self.start_new_term(raft.clone());
        }
        PeerResponse::Accepted { term, rejected }
    }

    /// Hands accepted proposals to raft as one log entry (a lone one as itself).
    async fn log_entry(&self, raft: &Raft, mut parts: Vec<Proposal>) -> Result<(), String> {
        let proposal = match parts.len() {
            0 => return Ok(()),
            1 => parts.remove(0),
            _ => Proposal {
                origin: self.my_id,
                request: 0,
                incarnation: 0,
                time: now_millis(),
                body: ProposalBody::Batch(parts),
            },
        };
        raft.client_write_ff(proposal, None)
            .await
            .map_err(|e| e.to_string())
    }

    /// Checks a proposal before the leader logs it, and sets what only the leader decides.
    /// A forwarded txn is decoded whole: one that would not decode at apply must never reach
    /// the log, where it would stop every member.
    async fn admit(
        &self,
        raft: &Raft,
        proposal: &mut Proposal,
        source: Source,
    ) -> Result<(), ErrorCode> {
        let origin = proposal.origin;
        let ProposalBody::Txn(bytes) = &mut proposal.body else {
            // Session moves are logged by the leader itself, from a revalidation.
            return Err(ErrorCode::BadArguments);
        };
        match source {
            // The server's own txn, or one of this member's clients', built here with this
            // member's rules: only where the session is held can have changed.
            Source::Internal => return Ok(()),
            Source::Local { creates: true, .. } => return Ok(()),
            Source::Local { session, .. } => {
                return self.check_owner(raft, session, self.my_id).await
            }
            Source::Checked => {}
        }
        if bytes.len() > self.links.caps.max_txn {
            return Err(ErrorCode::BadArguments);
        }
        let mut txn = Txn::decode(bytes).map_err(|_| ErrorCode::MarshallingError)?;
        // Only the leader decides the clock, the zxid and the rules a txn is applied under.
        // A member sends them as the leader would set them; only a txn that differs is
        // encoded again.
        let mut changed = txn.zxid != 0 || txn.time != 0 || txn.rules != self.shared.opts.rules;
        txn.zxid = 0;
        txn.time = 0;
        txn.rules = self.shared.opts.rules;
        let session = txn.session_id;
        match &mut txn.body {
            // Only the leader writes a Reconfig txn, for a client's reconfig it carried out.
            TxnBody::Reconfig { .. } => return Err(ErrorCode::BadArguments),
            // Session 0 stands for the server's own txns, which act on any session.
            _ if session == 0 => return Err(ErrorCode::BadArguments),
            TxnBody::CreateSession { timeout, .. } => {
                let exists = self.shared.read_state().sessions.contains_key(&session)
                    || self.owners.lock().contains_key(&session);
                if exists {
                    return Err(ErrorCode::BadArguments);
                }
                let negotiated = self.shared.opts.negotiate_timeout(*timeout);
                changed |= negotiated != *timeout;
                *timeout = negotiated;
            }
            TxnBody::Write {
                auth,
                request: Request::Reconfig(request),
            } => {
                let request = request.clone();
                let auth = std::mem::take(auth);
                let owned = self.check_owner(raft, session, origin).await;
                txn.body = reconfig::prepare(
                    &self.shared,
                    raft,
                    &self.reconfig_running,
                    owned,
                    auth,
                    &request,
                )
                .await?;
                changed = true;
            }
            TxnBody::CloseSession | TxnBody::Write { .. } => {
                self.check_owner(raft, session, origin).await?
            }
            // Any other txn is the leader's own to make.
            #[allow(unreachable_patterns)]
            _ => return Err(ErrorCode::BadArguments),
        }
        if changed {
            *bytes = txn.encode();
        }
        Ok(())
    }

    /// The term this member leads, once it has applied an entry of that term (its first,
    /// blank entry), so that every session created or moved before the term is known to the
    /// checks here; `None` if it does not get there within a tick.
    async fn applied_own_term(&self, raft: &Raft) -> Option<u64> {
        let mut metrics = raft.metrics();
        let deadline = tokio::time::Instant::now() + self.shared.opts.tick_time;
        loop {
            let now = metrics.borrow_watched().clone();
            if now.state != ServerState::Leader {
                return None;
            }
            let applied_term = now.last_applied.map(|id| id.committed_leader_id().term);
            if applied_term == Some(now.current_term) {
                return Some(now.current_term);
            }
            match tokio::time::timeout_at(deadline, metrics.changed()).await {
                Ok(Ok(())) => {}
                _ => return None,
            }
        }
    }

    /// Whether `session` is live and held by member `origin`. The member that asks may have
    /// applied the session's creation (or move) before this leader did: when the answer is
    /// no, it is asked again once this leader has applied everything committed.
    async fn check_owner(&self, raft: &Raft, session: i64, origin: u64) -> Result<(), ErrorCode> {
        let verdict = self.owner_verdict(session, origin);
        if verdict.is_ok() {
            return verdict;
        }
        self.apply_committed(raft).await;
        self.owner_verdict(session, origin)
    }

    /// On the leader: waits (up to a tick) until it has applied every entry in its log when
    /// the wait began, so what another member has applied, the leader then has too. Its log,
    /// not its published commit index: a follower may apply an entry before the leader's
    /// metrics say it is committed.
    async fn apply_committed(&self, raft: &Raft) {
        let mut metrics = raft.metrics();
        let committed = {
            let now = metrics.borrow_watched();
            now.cluster_committed
                .map(|id| id.index)
                .max(now.last_log_index)
        };
        let deadline = tokio::time::Instant::now() + self.shared.opts.tick_time;
        while metrics.borrow_watched().last_applied.map(|id| id.index) < committed {
            match tokio::time::timeout_at(deadline, metrics.changed()).await {
                Ok(Ok(())) => {}
                _ => break,
            }
        }
    }

    fn owner_verdict(&self, session: i64, origin: u64) -> Result<(), ErrorCode> {
        match self.owners.lock().get(&session) {
            Some(owner) if *owner == origin => return Ok(()),
            Some(_) => return Err(ErrorCode::SessionMoved),
            None => {}
        }
        if self.shared.read_state().sessions.contains_key(&session) {
            Err(ErrorCode::SessionMoved)
        } else {
            Err(ErrorCode::SessionExpired)
        }
    }

    /// Counts one more txn of `term`; false once the term's zxid counter is spent.
    fn take_zxid(&self, raft: &Raft, term: u64) -> bool {
        let mut zxids = self.zxids.lock();
        if zxids.0 != term {
            *zxids = (term, self.txns_logged_in(raft, term));
        }
        if zxids.1 >= self.zxid_limit {
            return false;
        }
        zxids.1 += 1;
        true
    }

    /// How many txns of `term` the log may already hold when this member starts proposing in
    /// it: none for a term it was just elected in, but a leader restored after a restart keeps
    /// its term. The applied ones are the last zxid's counter; every entry not applied yet is
    /// counted as one too (counting too many only starts the next term sooner).
    fn txns_logged_in(&self, raft: &Raft, term: u64) -> u64 {
        let last = self.shared.last_zxid().max(0) as u64;
        let applied = if last >> 32 == term {
            last & 0xffff_ffff
        } else {
            0
        };
        let metrics = raft.metrics().borrow_watched().clone();
        let unapplied = metrics
            .last_log_index
            .unwrap_or(0)
            .saturating_sub(metrics.last_applied.map_or(0, |id| id.index));
        applied + unapplied
    }

    /// Hands leadership to the most up-to-date other voter, so the next term (and a fresh
    /// zxid counter) starts, as Apache's leader forces a new epoch before the counter of
    /// its own would roll over (ZOOKEEPER-1277). Retries with the next voter while this
    /// member still leads the spent term.
    fn start_new_term(&self, raft: Raft) {
        if self.rolling_term.swap(true, Ordering::AcqRel) {
            return;
        }
        let rolling = self.rolling_term.clone();
        let tick = self.shared.opts.tick_time;
        let my_id = self.my_id;
        tokio::spawn(async move {
            let mut tried = std::collections::BTreeSet::new();
            loop {
                let metrics = raft.metrics().borrow_watched().clone();
                if metrics.state != ServerState::Leader {
                    break;
                }
                let term = metrics.current_term;
                let matched = metrics.replication.clone().unwrap_or_default();
                let mut voters: Vec<(Option<u64>, u64)> = metrics
                    .membership_config
                    .membership()
                    .voter_ids()
                    .filter(|id| *id != my_id)
                    .map(|id| {
                        let index = matched.get(&id).cloned().flatten().map(|l| l.index);
                        (index, id)
                    })
                    .collect();
                voters.sort_unstable_by(|a, b| b.cmp(a));
                let target = voters
                    .iter()
                    .map(|(_, id)| *id)
                    .find(|id| !tried.contains(id))
                    .or_else(|| {
                        tried.clear();
                        voters.first().map(|(_, id)| *id)
                    });
                let Some(target) = target else {
                    tracing::error!(
                        "the zxid counter of epoch {term} is spent and there is no other voter to lead the next epoch; refusing writes"
                    );
                    tokio::time::sleep(tick).await;
                    continue;
                };
                tried.insert(target);
                tracing::warn!(
                    "the zxid counter of epoch {term} reached its limit; handing leadership to server.{target} so a new epoch starts"
                );
                if raft.trigger().transfer_leader(target).await.is_err() {
                    break;
                }
                let mut watch = raft.metrics();
                let deadline = tokio::time::Instant::now() + tick * 2;
                loop {
                    let now = watch.borrow_watched().clone();
                    if now.current_term != term || now.state != ServerState::Leader {
                        break;
                    }
                    if tokio::time::timeout_at(deadline, watch.changed())
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
                let now = raft.metrics().borrow_watched().clone();
                if now.current_term != term || now.state != ServerState::Leader {
                    break;
                }
            }
            rolling.store(false, Ordering::Release);
        });
    }

    /// On the leader: a client reconnected to `origin` with `session` and `passwd`. A session
    /// that moves is logged, so every member (and so any later leader) knows its holder; the
    /// answer comes once the move is applied here, before the holder forwards the session's
    /// writes. The leader has applied every committed session, so it is the one to say that
    /// a session is gone or the password wrong (`origin` may not have applied it yet).
    pub async fn take_ownership(&self, session: i64, origin: u64, passwd: &[u8]) -> PeerResponse {
        let Some(raft) = self.raft.get() else {
            return PeerResponse::NotLeader;
        };
        if self.shared.role.get() != Role::Leader || self.applied_own_term(raft).await.is_none() {
            return PeerResponse::NotLeader;
        }
        let password_matches = |proposer: &Self| {
            let state = proposer.shared.read_state();
            state.sessions.get(&session).map(|s| s.passwd == passwd)
        };
        let mut verdict = password_matches(self);
        if verdict.is_none() {
            self.apply_committed(raft).await;
            verdict = password_matches(self);
        }
        if verdict != Some(true) {
            return PeerResponse::SessionExpired;
        }
        if self.owners.lock().get(&session) == Some(&origin) {
            return PeerResponse::Revalidated;
        }
        let moved = Proposal {
            origin,
            request: 0,
            incarnation: 0,
            time: now_millis(),
            body: ProposalBody::Moved(session),
        };
        match raft.client_write(moved).await {
            Ok(_) => PeerResponse::Revalidated,
            Err(e) => PeerResponse::Failed(e.to_string()),
        }
    }

    /// Tells the leader (or this member, leading) that `session` is now held here.
    pub async fn revalidate(&self, session: i64, passwd: &[u8]) -> Result<(), RevalidateError> {
        let unavailable = |reason: &str| RevalidateError::Unavailable(reason.to_string());
        let raft = self.raft.get().ok_or_else(|| unavailable("not started"))?;
        let ensemble = self
            .ensemble
            .get()
            .ok_or_else(|| unavailable("not started"))?;
        let wait = self.shared.opts.tick_time * 2;
        let leader = leader_within(raft, wait)
            .await
            .ok_or_else(|| unavailable("no leader"))?;
        let answer = if leader == self.my_id {
            self.take_ownership(session, self.my_id, passwd).await
        } else {
            let peer = peer_address(raft, ensemble, leader)
                .ok_or_else(|| unavailable("the leader has no address"))?;
            let mut links = self.control_links.lock().await;
            let link = links
                .entry(leader)
                .or_insert_with(|| PeerLink::new(&peer, Port::Quorum, &self.links));
            let request = PeerRequest::Revalidate {
                session,
                origin: self.my_id,
                passwd: passwd.to_vec(),
            };
            link.call_idempotent(&request, wait)
                .await
                .map_err(|e| RevalidateError::Unavailable(e.to_string()))?
        };
        match answer {
            PeerResponse::Revalidated => Ok(()),
            PeerResponse::SessionExpired => Err(RevalidateError::Expired),
            PeerResponse::Failed(reason) => Err(RevalidateError::Unavailable(format!(
                "server.{leader}: {reason}"
            ))),
            _ => Err(RevalidateError::Unavailable(format!(
                "server.{leader} is not leading any more"
            ))),
        }
    }

    /// Waits (up to two ticks) until this member has applied `session`'s creation, which the
    /// leader has committed; its password then, if it got here in time. The session tracker
    /// learns of a session just after the tree does, so both are waited for.
    pub async fn applied_session(&self, session: i64) -> Option<Vec<u8>> {
        let raft = self.raft.get()?;
        let mut metrics = raft.metrics();
        let deadline = tokio::time::Instant::now() + self.shared.opts.tick_time * 2;
        loop {
            let known = {
                let state = self.shared.read_state();
                state.sessions.get(&session).map(|s| s.passwd.clone())
            };
            if known.is_some() && self.shared.tracker().is_live(session) {
                return known;
            }
            match tokio::time::timeout_at(deadline, metrics.changed()).await {
                Ok(Ok(())) => {}
                _ => return None,
            }
        }
    }

    /// Answers requests the leader refused before logging them; those it refused only for
    /// now lose their connection, as with any leader change, and are retried by the client.
    fn rejected(&self, rejected: &[(u64, i32)]) {
        for (request, code) in rejected {
            let Some(waiting) = self.waiting.lock().remove(request) else {
                continue;
            };
            if *code == RETRY_ELSEWHERE.as_i32() {
                self.fail(waiting.reply);
                continue;
            }
            let code = ErrorCode::from_i32(*code).unwrap_or(ErrorCode::SystemError);
            waiting
                .reply
                .answer(&self.shared, self.shared.last_zxid(), &Err(code), None);
        }
    }

    /// Fills an empty `/zookeeper/config` with the `server.N` lines, through the log.
    fn write_first_config(&self, ensemble: &EnsembleOptions) {
        if !self.shared.read_state().config_text().trim().is_empty() {
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
        let links = self.links.clone();
        tokio::spawn(async move {
            // A connection also closes when the leader merely dropped it (a timeout on its
            // side): only a leader whose port refuses connections is gone.
            let gone = match leader_address {
                Some(peer) => leader_is_gone(&peer, &links, tick_half).await,
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
        let mut tracker = self.shared.tracker();
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
        while let Some(first) = writes.recv().await {
            if self.shared.is_stopping() {
                break;
            }
            let batch = Batch::take(first, &mut writes, MAX_BATCH, self.shared.opts.rules);
            let pending: Vec<Pending> = batch
                .replies
                .into_iter()
                .zip(batch.txns)
                .filter_map(|(reply, txn)| self.prepare(reply, txn))
                .collect();
            // A forward is bounded in bytes (what one peer frame may carry).
            let budget = self.links.caps.batch_bytes;
            for run in runs_within(pending, budget, |p| p.proposal.weight()) {
                let forward = Forward::of(run);
                self.propose_or_forward(&raft, &ensemble, &mut links, forward)
                    .await;
            }
        }
    }

    /// Proposes `forward` here if this member leads, or forwards it to the leader; the
    /// requests it holds are accepted (and wait for their entries), answered if refused, or
    /// given up on.
    async fn propose_or_forward(
        &self,
        raft: &Raft,
        ensemble: &EnsembleOptions,
        links: &mut BTreeMap<u64, PeerLink>,
        forward: Forward,
    ) {
        let wait_for_leader = self.shared.opts.tick_time * 2;
        let Forward {
            requests,
            candidates,
            reconfig,
            ..
        } = forward;
        let leader = leader_within(raft, wait_for_leader).await;
        match leader {
            None => self.fail_requests(&requests),
            Some(id) if id == self.my_id => match self.propose(candidates).await {
                PeerResponse::Accepted { term, rejected } => {
                    self.rejected(&rejected);
                    self.accepted(&requests, term);
                }
                _ => self.fail_requests(&requests),
            },
            Some(id) => {
                let Some(peer) = peer_address(raft, ensemble, id) else {
                    self.fail_requests(&requests);
                    return;
                };
                let link = links
                    .entry(id)
                    .or_insert_with(|| PeerLink::new(&peer, Port::Quorum, &self.links));
                // A reconfig waits for new members to catch up before it is logged.
                let ttl = if reconfig {
                    self.shared.opts.tick_time * 25
                } else {
                    wait_for_leader
                };
                // The server's own txns are the leader's to make; a member that was leading
                // when it queued them drops them once another leads.
                let (internal, proposals): (Vec<_>, Vec<_>) = candidates
                    .into_iter()
                    .partition(|(_, source)| *source == Source::Internal);
                let dropped: Vec<u64> = internal.iter().map(|(p, _)| p.request).collect();
                self.fail_requests(&dropped);
                let proposals: Vec<Proposal> = proposals
                    .into_iter()
                    .map(|(proposal, _)| proposal)
                    .collect();
                if proposals.is_empty() {
                    return;
                }
                // A leader that hangs answers nothing; once another leads, stop waiting.
                let request = PeerRequest::Forward(proposals);
                let answered = tokio::select! {
                    answer = link.call(&request, ttl) => Some(answer),
                    () = leader_changed(raft, id) => None,
                };
                let answer = answered.unwrap_or_else(|| {
                    link.reset();
                    Err(PeerError::LeaderChanged(id))
                });
                match answer {
                    Ok(PeerResponse::Accepted { term, rejected }) => {
                        self.rejected(&rejected);
                        self.accepted(&requests, term);
                    }
                    Ok(_) => self.fail_requests(&requests),
                    Err(e) => {
                        tracing::warn!("cannot forward writes to the leader (server.{id}): {e}");
                        self.fail_requests(&requests);
                    }
                }
            }
        }
    }

    /// Encodes a write as a proposal of this member and keeps its waiter. A txn too large for
    /// any member to take is refused here.
    fn prepare(&self, reply: ReplyTo, txn: Txn) -> Option<Pending> {
        let request = self.next_request.fetch_add(1, Ordering::Relaxed);
        // The server's own txns (expiry, container cleanup) act on sessions they do not own;
        // a client's reconfig is checked whole by the leader.
        let source = match &txn.body {
            _ if matches!(reply, ReplyTo::Nobody) => Source::Internal,
            TxnBody::Write {
                request: Request::Reconfig(_),
                ..
            } => Source::Checked,
            body => Source::Local {
                session: txn.session_id,
                creates: matches!(body, TxnBody::CreateSession { .. }),
            },
        };
        let txn = txn.encode();
        self.waiting.lock().insert(
            request,
            Waiting {
                reply,
                accepted_term: None,
            },
        );
        if txn.len() > self.links.caps.max_txn {
            tracing::warn!(
                "refusing a write of {} bytes: over the {} bytes a txn may have",
                txn.len(),
                self.links.caps.max_txn
            );
            self.rejected(&[(request, ErrorCode::BadArguments.as_i32())]);
            return None;
        }
        Some(Pending {
            proposal: Proposal {
                origin: self.my_id,
                request,
                incarnation: self.incarnation,
                time: 0,
                body: ProposalBody::Txn(txn),
            },
            source,
        })
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
            let touched = self.shared.tracker().take_touched();
            if touched.is_empty() {
                continue;
            }
            let Some(peer) = peer_address(&raft, &ensemble, leader) else {
                continue;
            };
            let link = links
                .entry(leader)
                .or_insert_with(|| PeerLink::new(&peer, Port::Quorum, &self.links));
            // Reports stay small frames however many sessions this member holds. A report
            // that does not get through is sent again with the next: a busy leader must not
            // expire sessions whose clients are active.
            let wait = self.shared.opts.tick_time.max(period);
            for (i, part) in touched.chunks(MAX_TOUCHED).enumerate() {
                if let Err(e) = link.call(&PeerRequest::Touch(part.to_vec()), wait).await {
                    tracing::debug!("cannot report touched sessions: {e}");
                    let now = Instant::now();
                    let mut tracker = self.shared.tracker();
                    for id in touched.iter().skip(i * MAX_TOUCHED) {
                        tracker.touch(*id, now);
                    }
                    break;
                }
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
            if let Err(fatal) = &current.running_state {
                // Storage failed (a full disk, an fsync error) or an entry could not be
                // applied: this member can no longer promise what it serves.
                self.shared.fail(format!(
                    "the ensemble member stopped: its consensus core failed: {fatal}"
                ));
                return;
            }
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
                    self.shared.tracker().refresh_all(Instant::now());
                    tokio::spawn(add_observers(raft.clone(), ensemble.clone(), tick));
                    self.write_first_config(&ensemble);
                }
            }
            was = role;
            match tokio::time::timeout(tick / 2, metrics.changed()).await {
                _ if self.shared.is_stopping() => return,
                Ok(Err(_)) => {
                    self.shared
                        .fail("the ensemble member stopped: its consensus core is gone".into());
                    return;
                }
                _ => {}
            }
        }
    }
}

/// Where a proposal comes from, which decides what the leader checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// The leader's own duties (expiry, container cleanup, the first config).
    Internal,
    /// A client of this member: its session, and whether the txn creates it.
    Local { session: i64, creates: bool },
    /// Another member's (or a reconfig): decoded and checked whole.
    Checked,
}

/// Writes proposed or forwarded together.
struct Forward {
    requests: Vec<u64>,
    candidates: Vec<(Proposal, Source)>,
    reconfig: bool,
}

/// A write encoded as a proposal, waiting for its forward.
struct Pending {
    proposal: Proposal,
    source: Source,
}

impl Forward {
    fn of(run: Vec<Pending>) -> Forward {
        Forward {
            requests: run.iter().map(|p| p.proposal.request).collect(),
            reconfig: run.iter().any(|p| p.source == Source::Checked),
            candidates: run.into_iter().map(|p| (p.proposal, p.source)).collect(),
        }
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
async fn leader_is_gone(
    peer: &crate::server::options::Peer,
    links: &LinkConfig,
    limit: Duration,
) -> bool {
    let mut link = PeerLink::new(peer, Port::Quorum, links);
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
