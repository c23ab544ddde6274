//! The replicated ensemble: every `server.N` member runs one openraft node, and every write
//! becomes a log entry that all members apply in the same order. This is the only module that
//! names openraft (DESIGN.md section 4); the rest of the server sees [`Role`] and [`Ensemble`].
//!
//! Participants are voters and `:observer` servers are learners; `myid` is the raft node id.
//! Leader ids are the standard kind (one leader per term, like a ZooKeeper epoch) and pre-vote
//! is on. A write reaches the leader directly or forwarded over the quorum port; each member
//! applies committed entries to its own tree, fires its own watches and answers the requests
//! its own clients sent. The zxid of an entry is `(term << 32) | low 32 bits of its index`,
//! equal everywhere and strictly increasing.
//!
//! # Layout
//!
//! - `mod.rs`: the raft type configuration, [`Proposal`] (the log payload), [`Role`], timing
//!   derived from `tickTime`, and [`start`], which wires the pieces to the server's [`Shared`].
//! - `log_store.rs`: the raft log on the server's own CRC'd, group-committed [`Wal`], with
//!   vote, commit point, truncation and purge as records, and checkpoints that drop old segments.
//! - `state_machine.rs`: applying entries through the one apply path
//!   (`writer::apply_txns`), and snapshots of the tree with their raft metadata.
//! - `wire.rs`: the messages on the quorum and election ports and their framing.
//! - `network.rs`: the peer-to-peer client (openraft's network) and the listeners.
//! - `reconfig.rs`: the leader's side of `reconfig`: the next member list, the openraft
//!   membership changes, and the txn that updates `/zookeeper/config`.
//! - `proposer.rs`: turning client writes into entries: local proposal on the leader,
//!   forwarding elsewhere, the requests waiting for their entry, session touches, and the
//!   leader's duties (expiry, observers as learners).
//!
//! [`Wal`]: super::persist::Wal

mod log_store;
mod network;
mod proposer;
mod reconfig;
mod state_machine;
mod wire;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use openraft::BasicNode;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::options::EnsembleOptions;
use super::runtime::{Shared, WriteJob};

openraft::declare_raft_types!(
    /// The ensemble's raft types: proposals in, nothing out (replies come from applying).
    pub TypeConfig:
        D = Proposal,
        R = (),
        LeaderId = openraft::impls::leader_id_std::LeaderId<u64, u64>,
);

type Raft = openraft::Raft<TypeConfig, state_machine::StateMachine>;

/// One log entry's payload: a txn (encoded with zxid 0; the zxid comes from the entry's
/// position) and who is waiting for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// The member holding the client connection that asked for it.
    pub origin: u64,
    /// The origin's number for the waiting request; unique per origin process.
    pub request: u64,
    /// The client session whose owner the leader checks; 0 for the server's own txns
    /// (expiry, container cleanup, the first config), which act on any session.
    pub session: i64,
    /// The origin process's incarnation, so a restarted origin never mistakes an old entry
    /// for one of its new requests.
    pub incarnation: u64,
    /// The leader's clock when it accepted the proposal (the txn's time).
    pub time: i64,
    /// [`super::txn::Txn::encode`] bytes.
    pub txn: Vec<u8>,
    /// The txn is a client's `reconfig`, which the leader carries out before logging; marked
    /// by the origin so no other txn needs decoding on the way.
    pub reconfig: bool,
}

impl std::fmt::Display for Proposal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "proposal {}#{} ({} bytes)",
            self.origin,
            self.request,
            self.txn.len()
        )
    }
}

/// What this server is, as `srvr`, `stat`, `mntr` and `zk-server status` report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Role {
    Standalone = 0,
    Leader = 1,
    Follower = 2,
    Observer = 3,
    /// An ensemble member that knows no leader (electing, or cut off from the quorum).
    Looking = 4,
    /// Cut off from the quorum with `readonlymode.enabled`: serves reads to clients that allow it.
    ReadOnly = 5,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Standalone => "standalone",
            Role::Leader => "leader",
            Role::Follower => "follower",
            Role::Observer => "observer",
            Role::Looking => "looking",
            Role::ReadOnly => "read-only",
        }
    }

    fn from_u8(value: u8) -> Role {
        match value {
            1 => Role::Leader,
            2 => Role::Follower,
            3 => Role::Observer,
            4 => Role::Looking,
            5 => Role::ReadOnly,
            _ => Role::Standalone,
        }
    }
}

/// The role cell the server reads without locking.
#[derive(Debug, Default)]
pub struct RoleCell(AtomicU8);

impl RoleCell {
    pub fn get(&self) -> Role {
        Role::from_u8(self.0.load(Ordering::Acquire))
    }

    pub(crate) fn set(&self, role: Role) {
        self.0.store(role as u8, Ordering::Release);
    }
}

/// A running ensemble member, as the rest of the server holds it.
pub struct Ensemble {
    raft: Raft,
    proposer: Arc<proposer::Proposer>,
}

impl Ensemble {
    /// The leader's id, if this member knows one.
    pub fn leader(&self) -> Option<u64> {
        self.raft.metrics().borrow_watched().current_leader
    }

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

    /// Makes this member the owner of `session` at the leader, before a client that reconnected
    /// here is answered; later writes from the session's old connection get SESSIONMOVED.
    pub async fn revalidate(&self, session: i64) -> Result<(), String> {
        self.proposer.revalidate(session).await
    }

    /// Stops the raft node (the listeners stop with the runtime).
    pub async fn shutdown(&self) {
        let _ = self.raft.shutdown().await;
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
fn raft_config(tick: Duration, snap_count: u64) -> Result<openraft::Config, String> {
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
    config.validate().map_err(|e| e.to_string())
}

fn node_of(peer: &super::options::Peer) -> BasicNode {
    BasicNode {
        addr: format!("{}:{}:{}", peer.host, peer.quorum_port, peer.election_port),
    }
}

/// Starts this member: loads its snapshot and log, opens the quorum and election ports,
/// forms the cluster from `server.N` lines on first start, and takes client writes from
/// `writes` from then on.
pub async fn start(
    shared: Arc<Shared>,
    ensemble: EnsembleOptions,
    writes: mpsc::UnboundedReceiver<WriteJob>,
) -> Result<Arc<Ensemble>, String> {
    let me = ensemble
        .me()
        .cloned()
        .ok_or_else(|| format!("there is no server.{} line", ensemble.my_id))?;
    // openraft snapshots every N entries; N drawn once per start as Apache draws its
    // snapshot points, so the members of an ensemble rarely snapshot at the same moment.
    let snap_every = crate::server::snapshotter::draw_goal(shared.opts.snap_count);
    let config = Arc::new(raft_config(shared.opts.tick_time, snap_every)?);
    let log_dir = shared.opts.log_dir().join("raft");
    let log = log_store::LogStore::open(&log_dir, shared.opts.force_sync)
        .map_err(|e| format!("cannot open the raft log in {}: {e}", log_dir.display()))?;
    let proposer = proposer::Proposer::new(shared.clone(), ensemble.my_id);
    let machine = state_machine::StateMachine::open(shared.clone(), proposer.clone())
        .map_err(|e| format!("cannot load the snapshot: {e}"))?;
    let network = network::Network::new(ensemble.clone());
    let raft = Raft::new(ensemble.my_id, config, network, log, machine)
        .await
        .map_err(|e| format!("cannot start raft: {e}"))?;
    network::listen(&me, raft.clone(), proposer.clone()).await?;
    if !raft.is_initialized().await.map_err(|e| e.to_string())? {
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
    proposer.start(raft.clone(), ensemble.clone(), writes);
    Ok(Arc::new(Ensemble { raft, proposer }))
}
