//! Dynamic reconfiguration on the leader: a client's `reconfig` (incremental `-add`/`-remove`,
//! or a whole new member list) is checked against the current `/zookeeper/config`, carried out
//! as openraft membership changes (new members join as learners and catch up first, voters are
//! replaced through joint consensus, members that left are removed), and then logged as a
//! `TxnBody::Reconfig` holding the new server lines, which every member applies to
//! `/zookeeper/config`.
//!
//! The checks come in the order of Apache's `PrepRequestProcessor`: reconfigEnabled
//! (RECONFIGDISABLED), the session (SESSIONEXPIRED/SESSIONMOVED), a reconfig in progress
//! (RECONFIGINPROGRESS), `fromConfig` (BADVERSION), the arguments (BADARGUMENTS), and only then
//! the ACL of `/zookeeper/config` (NOAUTH). Whether the new configuration has a quorum
//! (NEWCONFIGNOQUORUM) is found out by carrying it out, so it comes last here, where Apache,
//! which asks its connected followers first, checks it before the ACL.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use openraft::{BasicNode, ChangeMembers};

use super::{MembershipError, Raft};
use crate::proto::{ErrorCode, Id, ReconfigRequest};
use crate::server::config::{PeerType, QuorumServer};
use crate::server::options::{EnsembleOptions, Peer};
use crate::server::shared::Shared;
use crate::server::state::State;
use crate::server::txn::Rules;
use crate::server::txn::TxnBody;

/// `server.N` lines by id, each the text after `=`.
type Lines = BTreeMap<u64, String>;

/// The text after `server.N=`: the peer's `host:quorumPort:electionPort` and its role.
fn server_line(address: &str, observer: bool) -> String {
    let role = if observer { "observer" } else { "participant" };
    format!("{address}:{role}")
}

/// The server lines of the membership raft holds now.
fn membership_lines(raft: &Raft) -> String {
    let metrics = raft.metrics().borrow_watched().clone();
    let membership = metrics.membership_config.membership();
    let voters: BTreeSet<u64> = membership.voter_ids().collect();
    let lines: Lines = membership
        .nodes()
        .map(|(id, node)| (*id, server_line(&node.addr, !voters.contains(id))))
        .collect();
    render(&lines)
}

/// The server lines of zoo.cfg: what the first leader writes into an empty `/zookeeper/config`.
pub fn static_lines(ensemble: &EnsembleOptions) -> String {
    let lines: Lines = ensemble
        .peers
        .iter()
        .map(|(id, peer)| (*id, server_line(&super::node_of(peer).addr, peer.observer)))
        .collect();
    render(&lines)
}

fn render(lines: &Lines) -> String {
    lines
        .iter()
        .map(|(id, value)| format!("server.{id}={value}\n"))
        .collect()
}

/// Parses `server.N=...` entries separated by commas or new lines (`version=` lines skipped).
fn parse_lines(text: &str) -> Result<Lines, ErrorCode> {
    let mut lines = Lines::new();
    for entry in text
        .split([',', '\n'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        if entry.starts_with("version=") {
            continue;
        }
        let (key, value) = entry.split_once('=').ok_or(ErrorCode::BadArguments)?;
        let id: u64 = key
            .trim()
            .strip_prefix("server.")
            .and_then(|n| n.parse().ok())
            .ok_or(ErrorCode::BadArguments)?;
        QuorumServer::parse(id, value.trim(), false).map_err(|_| ErrorCode::BadArguments)?;
        lines.insert(id, value.trim().to_owned());
    }
    Ok(lines)
}

/// The membership a request asks for, from the current lines.
fn next_lines(current: &Lines, req: &ReconfigRequest) -> Result<Lines, ErrorCode> {
    if let Some(members) = req.new_members.as_deref().filter(|m| !m.trim().is_empty()) {
        return parse_lines(members);
    }
    let mut next = current.clone();
    if let Some(leaving) = req.leaving_servers.as_deref() {
        for id in leaving.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let id: u64 = id.parse().map_err(|_| ErrorCode::BadArguments)?;
            next.remove(&id);
        }
    }
    if let Some(joining) = req.joining_servers.as_deref() {
        next.extend(parse_lines(joining)?);
    }
    Ok(next)
}

fn peer_of(id: u64, value: &str) -> Result<Peer, ErrorCode> {
    let server = QuorumServer::parse(id, value, false).map_err(|_| ErrorCode::BadArguments)?;
    let address = server.addresses.first().ok_or(ErrorCode::BadArguments)?;
    Ok(Peer {
        host: address.host.clone(),
        quorum_port: address.quorum_port,
        election_port: address.election_port,
        observer: server.peer_type == PeerType::Observer,
    })
}

/// What the leader knows of a reconfig before it reads the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Situation {
    /// The leader's own `reconfigEnabled`.
    enabled: bool,
    /// The requesting session is live and held by the member that sent it.
    session: Result<(), ErrorCode>,
    /// Another reconfig is being carried out, or the membership is in a joint configuration.
    in_progress: bool,
}

/// The member list a reconfig asks for, checked in Apache's order (see the module docs).
fn check(
    situation: Situation,
    state: &State,
    rules: Rules,
    auth: &[Id],
    req: &ReconfigRequest,
    current: &str,
) -> Result<BTreeMap<u64, Peer>, ErrorCode> {
    if !situation.enabled {
        return Err(ErrorCode::ReconfigDisabled);
    }
    situation.session?;
    if situation.in_progress {
        return Err(ErrorCode::ReconfigInProgress);
    }
    state.check_reconfig_version(req.cur_config_id)?;
    let next = next_lines(&parse_lines(current)?, req)?;
    let mut peers = BTreeMap::new();
    for (id, value) in &next {
        peers.insert(*id, peer_of(*id, value)?);
    }
    if !peers.values().any(|p| !p.observer) {
        return Err(ErrorCode::BadArguments);
    }
    state.check_reconfig_acl(auth, rules)?;
    Ok(peers)
}

/// Marks a reconfig as running until dropped.
struct Running<'a>(&'a AtomicBool);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// Checks a client's reconfig, changes the membership, and returns the txn to log. `session`
/// is the leader's verdict on the requesting session; `running` is set while a reconfig is
/// carried out.
pub async fn prepare(
    shared: &Shared,
    raft: &Raft,
    running: &AtomicBool,
    session: Result<(), ErrorCode>,
    auth: Vec<Id>,
    req: &ReconfigRequest,
) -> Result<TxnBody, ErrorCode> {
    let joint = {
        let metrics = raft.metrics().borrow_watched().clone();
        metrics
            .membership_config
            .membership()
            .get_joint_config()
            .len()
            > 1
    };
    let claimed = !running.swap(true, Ordering::AcqRel);
    let _running = claimed.then(|| Running(running));
    let situation = Situation {
        enabled: shared.opts.rules.reconfig_enabled,
        session,
        in_progress: !claimed || joint,
    };
    let (peers, members) = {
        let state = shared.read_state();
        let mut current = state.config_text();
        if current.trim().is_empty() {
            current = membership_lines(raft);
        }
        let peers = check(situation, &state, shared.opts.rules, &auth, req, &current)?;
        let members = render(&next_lines(&parse_lines(&current)?, req)?);
        (peers, members)
    };
    let voters: BTreeSet<u64> = peers
        .iter()
        .filter(|(_, p)| !p.observer)
        .map(|(id, _)| *id)
        .collect();
    let catch_up = shared.opts.tick_time * 20;
    change_membership(raft, &peers, &voters, catch_up)
        .await
        .map_err(|e| {
            tracing::warn!("reconfig failed: {e}");
            ErrorCode::NewConfigNoQuorum
        })?;
    Ok(TxnBody::Reconfig {
        auth,
        cur_config_id: req.cur_config_id,
        members,
    })
}

/// Adds the new members as learners, waits until a quorum of the new voters is up to date
/// with this leader (Apache's "connected and synced quorum", else NEWCONFIGNOQUORUM, and the
/// learners added are removed again), then replaces the voters and removes who left.
async fn change_membership(
    raft: &Raft,
    peers: &BTreeMap<u64, Peer>,
    voters: &BTreeSet<u64>,
    catch_up: Duration,
) -> Result<(), MembershipError> {
    let known: BTreeSet<u64> = {
        let metrics = raft.metrics().borrow_watched().clone();
        metrics
            .membership_config
            .membership()
            .nodes()
            .map(|(id, _)| *id)
            .collect()
    };
    let mut added = BTreeSet::new();
    for (id, peer) in peers {
        if !known.contains(id) {
            raft.add_learner(*id, super::node_of(peer), false)
                .await
                .map_err(|e| MembershipError::Raft(e.to_string()))?;
            added.insert(*id);
        }
    }
    if let Err(e) = quorum_synced(raft, voters, catch_up).await {
        if !added.is_empty() {
            let removed = raft
                .change_membership(ChangeMembers::<u64, BasicNode>::RemoveNodes(added), true)
                .await;
            if let Err(e) = removed {
                tracing::warn!("cannot remove the members a failed reconfig added: {e}");
            }
        }
        return Err(e);
    }
    raft.change_membership(ChangeMembers::ReplaceAllVoters(voters.clone()), true)
        .await
        .map_err(|e| MembershipError::Raft(e.to_string()))?;
    let gone: BTreeSet<u64> = known
        .into_iter()
        .filter(|id| !peers.contains_key(id))
        .collect();
    if !gone.is_empty() {
        raft.change_membership(ChangeMembers::<u64, BasicNode>::RemoveNodes(gone), true)
            .await
            .map_err(|e| MembershipError::Raft(e.to_string()))?;
    }
    Ok(())
}

/// Waits up to `limit` until a majority of `voters` (this leader counting) has every entry
/// this leader had when the wait began.
async fn quorum_synced(
    raft: &Raft,
    voters: &BTreeSet<u64>,
    limit: Duration,
) -> Result<(), MembershipError> {
    let mut metrics = raft.metrics();
    let target = metrics.borrow_watched().last_log_index;
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let now = metrics.borrow_watched().clone();
        let Some(replication) = now.replication.as_ref() else {
            return Err(MembershipError::NotLeading);
        };
        let synced = voters
            .iter()
            .filter(|id| {
                **id == now.id
                    || replication
                        .get(id)
                        .and_then(|matched| matched.as_ref())
                        .map(|matched| matched.index)
                        >= target
            })
            .count();
        if synced * 2 > voters.len() {
            return Ok(());
        }
        match tokio::time::timeout_at(deadline, metrics.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err(MembershipError::Stopped),
            Err(_) => {
                return Err(MembershipError::NoQuorum {
                    synced,
                    voters: voters.len(),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incremental_and_whole_reconfigs_compute_the_next_lines() {
        let current = parse_lines(
            "server.1=127.0.0.1:2888:3888:participant\nserver.2=127.0.0.2:2888:3888:participant\n\
             server.3=127.0.0.3:2888:3888:participant\nversion=100000000",
        )
        .unwrap();
        let remove = ReconfigRequest {
            joining_servers: Some("server.4=127.0.0.4:2888:3888:observer".into()),
            leaving_servers: Some("3".into()),
            new_members: None,
            cur_config_id: -1,
        };
        let next = next_lines(&current, &remove).unwrap();
        assert_eq!(next.keys().copied().collect::<Vec<_>>(), vec![1, 2, 4]);
        assert!(peer_of(4, &next[&4]).unwrap().observer);
        let whole = ReconfigRequest {
            joining_servers: None,
            leaving_servers: None,
            new_members: Some("server.1=127.0.0.1:2888:3888,server.5=127.0.0.5:2888:3888".into()),
            cur_config_id: -1,
        };
        let next = next_lines(&current, &whole).unwrap();
        assert_eq!(next.keys().copied().collect::<Vec<_>>(), vec![1, 5]);
        let bad = ReconfigRequest {
            joining_servers: Some("server.x=nonsense".into()),
            leaving_servers: None,
            new_members: None,
            cur_config_id: -1,
        };
        assert_eq!(next_lines(&current, &bad), Err(ErrorCode::BadArguments));
    }

    /// Each failing condition alone, and every combination of them: the first in Apache's
    /// order decides the answer.
    #[test]
    fn reconfig_checks_fail_in_apaches_order() {
        use crate::proto::{perms, Acl};
        use crate::server::txn::Txn;
        let current = "server.1=127.0.0.1:2888:3888:participant\n\
                       server.2=127.0.0.2:2888:3888:participant\nversion=100000000";
        let mut state = State::default();
        // The configuration as the first leader writes it, readable by anyone and writable
        // only by the digest user `admin`.
        let rules = Rules {
            reconfig_enabled: true,
            ..Rules::default()
        };
        let admin = Id {
            scheme: "digest".into(),
            id: "admin:hash".into(),
        };
        let first = Txn {
            zxid: 0x1_0000_0000,
            time: 1,
            session_id: 0,
            rules,
            body: TxnBody::Reconfig {
                auth: Vec::new(),
                cur_config_id: -1,
                members: current.trim_end_matches("version=100000000").into(),
            },
        };
        assert!(matches!(
            state.apply(&first).outcome,
            crate::server::state::Outcome::Reply(Ok(_))
        ));
        let acl = vec![
            Acl {
                perms: perms::READ,
                id: Id {
                    scheme: "world".into(),
                    id: "anyone".into(),
                },
            },
            Acl {
                perms: perms::ALL,
                id: admin.clone(),
            },
        ];
        let acl_ref = state.tree.acls.intern(&acl);
        if let Some(meta) = state.tree.get_mut(crate::server::tree::CONFIG_PATH) {
            meta.acl = acl_ref;
        }
        let version = state.config_version();
        assert_eq!(version, 0x1_0000_0000);

        // Conditions, in Apache's order, with the code each gives.
        let conditions = [
            ErrorCode::ReconfigDisabled,
            ErrorCode::SessionMoved,
            ErrorCode::ReconfigInProgress,
            ErrorCode::BadVersion,
            ErrorCode::BadArguments,
            ErrorCode::NoAuth,
        ];
        for mask in 0u32..(1 << conditions.len()) {
            let failing = |i: usize| mask & (1 << i) != 0;
            let situation = Situation {
                enabled: !failing(0),
                session: if failing(1) {
                    Err(ErrorCode::SessionMoved)
                } else {
                    Ok(())
                },
                in_progress: failing(2),
            };
            let req = ReconfigRequest {
                joining_servers: Some(if failing(4) {
                    "server.3=nonsense".into()
                } else {
                    "server.3=127.0.0.3:2888:3888:participant".into()
                }),
                leaving_servers: None,
                new_members: None,
                cur_config_id: if failing(3) { version + 1 } else { version },
            };
            let auth = if failing(5) {
                Vec::new()
            } else {
                vec![admin.clone()]
            };
            let expected = (0..conditions.len())
                .find(|i| failing(*i))
                .map(|i| conditions[i]);
            let got = check(situation, &state, rules, &auth, &req, current)
                .map(|peers| peers.len())
                .err();
            assert_eq!(got, expected, "conditions failing: {mask:06b}");
        }
    }
}
