//! The replicated ensemble: every `server.N` member runs one openraft node, and every write
//! becomes a log entry that all members apply in the same order. This is the only module that
//! names openraft (DESIGN.md section 4); the rest of the server sees [`Ensemble`] and sets the [`Role`](super::role::Role).
//!
//! Participants are voters and `:observer` servers are learners; `myid` is the raft node id.
//! Leader ids are the standard kind (one leader per term, like a ZooKeeper epoch) and pre-vote
//! is on. A write reaches the leader directly or forwarded over the quorum port; each member
//! applies committed entries to its own tree, fires its own watches and answers the requests
//! its own clients sent. The zxid of a txn is `(term << 32) | counter`, the counter numbering
//! the txns of the term from 1 (see `state_machine`): equal everywhere and strictly increasing.
//!
//! # Layout
//!
//! - `mod.rs`: the raft type configuration, [`Proposal`] (the log payload), timing
//!   derived from `tickTime`, the zxid counter limit, and [`start`], which wires the pieces to
//!   the server's [`Shared`].
//! - `log_store.rs`: the raft log on the server's own CRC'd, group-committed [`Wal`], written
//!   by a thread of its own: one record per entry, vote, truncation and purge as records,
//!   checkpoints that drop old segments, and the byte budget of the entries held in memory.
//! - `state_machine.rs`: applying entries through the one commit path (`front::Commit`)
//!   with zxids counted per term, the session holders, a fatal stop on an undecodable entry,
//!   and snapshots of the tree with their raft metadata.
//! - `wire.rs`: the messages on the quorum and election ports, their framing and the caps
//!   per message kind.
//! - `transport.rs`: TLS between members (`sslQuorum`, `portUnification`), told apart from
//!   plaintext by the first byte on the accepting side.
//! - `peer_auth.rs`: quorum SASL (DIGEST-MD5) between members, sans-IO: the accepting
//!   side's and the dialing side's rules for missing, failed and required authentication.
//! - `network.rs`: the peer-to-peer client (openraft's network: byte-bounded appends,
//!   snapshots in pieces, leadership transfer) and the links to peers' ports.
//! - `listener.rs`: the quorum and election listeners (admission of members only,
//!   connection caps, deadlines, snapshot assembly), handing requests to raft and the
//!   proposer.
//! - `reconfig.rs`: the leader's side of `reconfig`: its checks in Apache's order, the next
//!   member list, the openraft membership changes, and the txn that updates
//!   `/zookeeper/config`.
//! - `proposer.rs`: turning client writes into entries: local proposal on the leader,
//!   forwarding elsewhere, what the leader checks in forwarded work, the requests waiting for
//!   their entry, session touches and moves, the zxid counter's new terms, and the leader's
//!   duties (expiry, observers as learners). The role watch stops the server when openraft's
//!   core fails.
//!
//! [`Wal`]: super::persist::Wal

mod error;
mod listener;
mod log_store;
mod network;
mod peer_auth;
mod proposer;
pub use proposer::RevalidateError;
mod reconfig;
mod state_machine;
mod transport;
mod wire;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use openraft::BasicNode;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::options::EnsembleOptions;
use super::shared::{Shared, WriteJob};
pub use error::{MembershipError, PeerError, SnapshotError, StartError};

openraft::declare_raft_types!(
    /// The ensemble's raft types: proposals in, nothing out (replies come from applying).
    pub TypeConfig:
        D = Proposal,
        R = (),
        LeaderId = openraft::impls::leader_id_std::LeaderId<u64, u64>,
);

type Raft = openraft::Raft<TypeConfig, state_machine::StateMachine>;

/// The member holding each live session, as applied from the log (sessions are created and
/// move through it), so that any leader can check who may write for a session.
pub type Owners = Arc<parking_lot::Mutex<HashMap<i64, u64>>>;

/// The most txns one term logs by default: a zxid's low half counts them, and Apache forces a
/// new epoch before the counter reaches `0xffffffff` (ZOOKEEPER-1277).
const ZXID_COUNTER_LIMIT: u64 = 0xffff_fffe;

/// One log entry's payload, and who is waiting for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// The member holding the client connection that asked for it. A forwarding member may
    /// name only itself (the leader checks the connection's address).
    pub origin: u64,
    /// The origin's number for the waiting request; unique per origin process.
    pub request: u64,
    /// The origin process's incarnation, so a restarted origin never mistakes an old entry
    /// for one of its new requests.
    pub incarnation: u64,
    /// The leader's clock when it accepted the proposal (the txn's time); set by the leader.
    pub time: i64,
    pub body: ProposalBody,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProposalBody {
    /// [`super::txn::Txn::encode`] bytes, with zxid and time 0 (the entry gives both) and the
    /// leader's validation rules.
    Txn(#[serde(with = "as_bytes")] Vec<u8>),
    /// The client of this session reconnected to `origin`, which holds it from this entry on
    /// (logged by the leader when a session moves, so every member knows every owner).
    Moved(i64),
    /// Client writes the leader accepted together, applied in this order: one entry (one
    /// round of consensus bookkeeping) for a batch. Only the leader makes one; each part
    /// carries a txn.
    Batch(Vec<Proposal>),
}

impl Proposal {
    /// The encoded txn, for what carries one.
    pub fn txn(&self) -> Option<&[u8]> {
        match &self.body {
            ProposalBody::Txn(bytes) => Some(bytes),
            ProposalBody::Moved(_) | ProposalBody::Batch(_) => None,
        }
    }

    /// Bytes this proposal adds to a message or a log entry, at most (its txns and a few
    /// varints each), for batching by size.
    pub fn weight(&self) -> usize {
        let inner = match &self.body {
            ProposalBody::Txn(bytes) => bytes.len(),
            ProposalBody::Moved(_) => 0,
            ProposalBody::Batch(parts) => parts.iter().map(Proposal::weight).sum(),
        };
        // Four varints of up to 10 bytes, the body's tag and a length or an i64.
        inner + 64
    }
}

/// Splits `items`, in order, into runs whose weights add up to at most `budget`; a run
/// holds at least one item, however heavy.
pub(super) fn runs_within<T>(
    items: Vec<T>,
    budget: usize,
    weight: impl Fn(&T) -> usize,
) -> Vec<Vec<T>> {
    let mut runs: Vec<Vec<T>> = Vec::new();
    let mut run_weight = 0;
    for item in items {
        let w = weight(&item);
        match runs.last_mut() {
            Some(run) if run_weight + w <= budget => {
                run_weight += w;
                run.push(item);
            }
            _ => {
                run_weight = w;
                runs.push(vec![item]);
            }
        }
    }
    runs
}

impl std::fmt::Display for Proposal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.body {
            ProposalBody::Txn(txn) => write!(
                f,
                "proposal {}#{} ({} bytes)",
                self.origin,
                self.request,
                txn.len()
            ),
            ProposalBody::Moved(session) => {
                write!(f, "session 0x{session:x} moved to server.{}", self.origin)
            }
            ProposalBody::Batch(parts) => write!(f, "a batch of {} proposals", parts.len()),
        }
    }
}

/// `Vec<u8>` as one byte string for serde: postcard writes the same bytes as for a sequence of
/// `u8` (a varint length, then the bytes), but copies them at once instead of one by one.
pub(crate) mod as_bytes {
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], out: S) -> Result<S::Ok, S::Error> {
        out.serialize_bytes(bytes)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(input: D) -> Result<Vec<u8>, D::Error> {
        struct Bytes;
        impl<'de> serde::de::Visitor<'de> for Bytes {
            type Value = Vec<u8>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }

            fn visit_bytes<E: serde::de::Error>(self, bytes: &[u8]) -> Result<Vec<u8>, E> {
                Ok(bytes.to_vec())
            }

            fn visit_byte_buf<E: serde::de::Error>(self, bytes: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(bytes)
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Vec<u8>, A::Error> {
                let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
                while let Some(byte) = seq.next_element()? {
                    bytes.push(byte);
                }
                Ok(bytes)
            }
        }
        input.deserialize_byte_buf(Bytes)
    }
}

/// Replication as one member sees it (see [`Ensemble::replication`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replication {
    /// Voting members.
    pub quorum_size: usize,
    pub term: u64,
    pub last_log_index: u64,
    /// The last entry a quorum holds.
    pub committed_index: u64,
    pub last_applied_index: u64,
    pub leader_id: Option<u64>,
    pub is_leader: bool,
    /// At the leader: how many entries the furthest-behind member lacks.
    pub max_follower_lag: Option<u64>,
}

/// A running ensemble member, as the rest of the server holds it.
pub struct Ensemble {
    raft: Raft,
    proposer: Arc<proposer::Proposer>,
}

impl Ensemble {
    /// What the leader's `mntr` reports of its learners; `None` unless this member leads.
    /// A member counts as synced while it acknowledges the leader's heartbeats (within two
    /// ticks), as Apache counts the followers it is connected to.
    pub fn follower_counts(&self, tick: Duration) -> Option<FollowerCounts> {
        use openraft::async_runtime::Instant as _;
        let metrics = self.raft.metrics().borrow_watched().clone();
        let heartbeat = metrics.heartbeat.as_ref()?;
        let membership = metrics.membership_config.membership();
        let synced = |id: &u64| {
            heartbeat
                .get(id)
                .and_then(|acked| acked.as_ref())
                .is_some_and(|acked| (**acked).elapsed() <= tick * 2)
        };
        let followers: Vec<u64> = membership
            .voter_ids()
            .filter(|id| *id != metrics.id)
            .collect();
        let observers: Vec<u64> = membership.learner_ids().collect();
        Some(FollowerCounts {
            learners: followers.len() + observers.len(),
            synced_followers: followers.iter().filter(|id| synced(id)).count(),
            synced_observers: observers.iter().filter(|id| synced(id)).count(),
        })
    }

    /// This member's view of replication, for the metrics endpoint.
    pub fn replication(&self) -> Replication {
        let metrics = self.raft.metrics().borrow_watched().clone();
        let last_log_index = metrics.last_log_index.unwrap_or(0);
        let max_follower_lag = metrics.replication.as_ref().map(|followers| {
            followers
                .iter()
                .filter(|(id, _)| **id != metrics.id)
                .map(|(_, matched)| {
                    last_log_index.saturating_sub(matched.as_ref().map_or(0, |log| log.index))
                })
                .max()
                .unwrap_or(0)
        });
        Replication {
            quorum_size: metrics.membership_config.membership().voter_ids().count(),
            term: metrics.current_term,
            last_log_index,
            committed_index: metrics
                .cluster_committed
                .as_ref()
                .map_or(0, |log| log.index),
            last_applied_index: metrics.last_applied.as_ref().map_or(0, |log| log.index),
            leader_id: metrics.current_leader,
            is_leader: metrics.current_leader == Some(metrics.id),
            max_follower_lag,
        }
    }

    /// The member this one follows (or itself when it leads); `None` while no leader is known.
    pub fn leader_id(&self) -> Option<u64> {
        self.raft.metrics().borrow_watched().current_leader
    }

    /// Makes this member the owner of `session` at the leader, before a client that reconnected
    /// here is answered; later writes from the session's old connection get SESSIONMOVED.
    pub async fn revalidate(&self, session: i64, passwd: &[u8]) -> Result<(), RevalidateError> {
        self.proposer.revalidate(session, passwd).await
    }

    /// The password of `session` once this member has applied it (up to two ticks), for a
    /// client that reconnected here before this member caught up with the leader.
    pub async fn applied_session(&self, session: i64) -> Option<Vec<u8>> {
        self.proposer.applied_session(session).await
    }
}

/// A leader's view of the members that replicate from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowerCounts {
    /// Every other member: voters and observers.
    pub learners: usize,
    /// Voters that have acknowledged the leader's log.
    pub synced_followers: usize,
    pub synced_observers: usize,
}

/// Storage failures as openraft's storage traits report them.
fn to_io(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// Raft timing from `tickTime`: a heartbeat every quarter tick, elections after 3/8 to 3/4 of a
/// tick of silence (the leader lease is the upper bound), so a new leader serves well within
/// 2 x tickTime of a leader that hangs. A leader that dies is noticed sooner: its connections
/// close (see `Proposer::replication_closed`).
fn raft_config(tick: Duration, snap_count: u64) -> Result<openraft::Config, StartError> {
    let tick_ms = (tick.as_millis() as u64).max(20);
    let config = openraft::Config {
        cluster_name: "zk".into(),
        heartbeat_interval: (tick_ms / 4).max(5),
        election_timeout_min: (tick_ms * 3 / 8).max(10),
        election_timeout_max: (tick_ms * 3 / 4).max(20),
        enable_pre_vote: Some(true),
        snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(snap_count.max(2)),
        // Entries kept behind a snapshot for followers a little behind; further behind, a
        // follower gets the snapshot (Apache's DIFF versus SNAP).
        max_in_snapshot_log_to_keep: snap_count.clamp(2, 1000),
        install_snapshot_timeout: 60_000,
        // A member whose dataDir was wiped comes back with an empty log, which contradicts
        // what its leader last replicated to it; the leader then starts it over (log from the
        // start, or a snapshot) instead of resending the same entries forever.
        allow_log_reversion: Some(true),
        ..Default::default()
    };
    config
        .validate()
        .map_err(|e| StartError::Config(e.to_string()))
}

fn node_of(peer: &super::options::Peer) -> BasicNode {
    BasicNode {
        addr: format!("{}:{}:{}", peer.host, peer.quorum_port, peer.election_port),
    }
}

/// The zxid counter limit: the default, or the test-only `-Dzookeeper.testZxidCounterLimit=N`
/// (in `SERVER_JVMFLAGS` or `JVMFLAGS`), so that a test sees the ensemble move to a new term
/// after N txns.
fn zxid_counter_limit() -> u64 {
    let property = format!("zookeeper.{}", super::config::TEST_ZXID_COUNTER_LIMIT);
    let flags = super::config::server_jvm_flags_from_env();
    let Some((_, value)) = flags.iter().rev().find(|(k, _)| *k == property) else {
        return ZXID_COUNTER_LIMIT;
    };
    match value.parse::<u64>() {
        Ok(limit) if (1..=ZXID_COUNTER_LIMIT).contains(&limit) => {
            tracing::warn!(
                "-D{property}={limit}: a term logs at most {limit} txns (for tests only)"
            );
            limit
        }
        _ => {
            tracing::warn!("-D{property}={value} ignored: not a count in 1..={ZXID_COUNTER_LIMIT}");
            ZXID_COUNTER_LIMIT
        }
    }
}

/// Starts this member: loads its snapshot and log, opens the quorum and election ports,
/// forms the cluster from `server.N` lines on first start, and takes client writes from
/// `writes` from then on.
pub async fn start(
    shared: Arc<Shared>,
    ensemble: EnsembleOptions,
    writes: mpsc::UnboundedReceiver<WriteJob>,
) -> Result<Arc<Ensemble>, StartError> {
    let me = ensemble
        .me()
        .cloned()
        .ok_or(StartError::NotAMember(ensemble.my_id))?;
    let caps = wire::Caps::for_max_buffer(shared.opts.max_buffer);
    let deadlines = wire::Deadlines::new(shared.opts.tick_time, ensemble.sync_limit);
    let security = Arc::new(transport::Security::new(&ensemble.security)?);
    let links = network::LinkConfig::new(&me, caps, deadlines, security).await;
    // openraft snapshots every N entries; N drawn once per start as Apache draws its
    // snapshot points, so the members of an ensemble rarely snapshot at the same moment.
    let snap_every = crate::server::snapshotter::draw_goal(shared.opts.snap_count);
    let config = Arc::new(raft_config(shared.opts.tick_time, snap_every)?);
    let log_dir = shared.opts.log_dir().join("raft");
    let timed = Arc::downgrade(&shared);
    let log = log_store::LogStore::open_observed(
        &log_dir,
        shared.opts.force_sync,
        caps.batch_bytes,
        Some(Box::new(move |took| {
            if let Some(shared) = timed.upgrade() {
                shared.stats.fsync_time.record(took);
            }
        })),
    )?;
    let owners = Owners::default();
    let proposer = proposer::Proposer::new(
        shared.clone(),
        ensemble.my_id,
        owners.clone(),
        links.clone(),
        zxid_counter_limit(),
    );
    let machine = state_machine::StateMachine::open(shared.clone(), proposer.clone(), owners)?;
    let network = network::Network::new(ensemble.clone(), links.clone());
    let raft = Raft::new(ensemble.my_id, config, network, log.clone(), machine)
        .await
        .map_err(|e| StartError::Raft(e.to_string()))?;
    let admission = Arc::new(listener::Admission::new(ensemble.clone()));
    listener::listen(
        &me,
        raft.clone(),
        proposer.clone(),
        admission,
        links,
        ensemble.peers.len(),
    )
    .await?;
    let initialized = raft
        .is_initialized()
        .await
        .map_err(|e| StartError::Raft(e.to_string()))?;
    if !initialized {
        let voters: BTreeMap<u64, BasicNode> = ensemble
            .voters()
            .map(|(id, peer)| (id, node_of(peer)))
            .collect();
        if voters.contains_key(&ensemble.my_id) {
            // Every voter initialises with the same membership: openraft allows this, and it
            // means servers may start in any order.
            if let Err(e) = raft.initialize(voters).await {
                tracing::info!("cluster already formed: {e}");
            }
        }
    }
    let budget = log_store::Budget::new(caps.max_txn, shared.opts.snap_size_limit);
    tokio::spawn(log_store::keep_within_budget(
        raft.clone(),
        log,
        budget,
        shared.clone(),
    ));
    proposer.start(raft.clone(), ensemble.clone(), writes);
    Ok(Arc::new(Ensemble { raft, proposer }))
}

#[cfg(test)]
mod tests {
    use super::runs_within;

    /// Item weights, the budget, and the runs they split into.
    type Case = (&'static [usize], usize, &'static [&'static [usize]]);

    #[test]
    fn runs_keep_order_stay_within_the_budget_and_take_a_heavy_item_alone() {
        let cases: &[Case] = &[
            (&[], 10, &[]),
            (&[3, 3, 3, 3], 10, &[&[3, 3, 3], &[3]]),
            (&[5, 5, 5], 10, &[&[5, 5], &[5]]),
            (&[2, 20, 2, 2], 10, &[&[2], &[20], &[2, 2]]),
            (&[20], 10, &[&[20]]),
        ];
        for (items, budget, want) in cases {
            let got = runs_within(items.to_vec(), *budget, |w| *w);
            let want: Vec<Vec<usize>> = want.iter().map(|r| r.to_vec()).collect();
            assert_eq!(got, want, "{items:?} within {budget}");
        }
    }
}
