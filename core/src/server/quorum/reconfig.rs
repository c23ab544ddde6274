//! Dynamic reconfiguration on the leader: a client's `reconfig` (incremental `-add`/`-remove`,
//! or a whole new member list) is checked against the current `/zookeeper/config`, carried out
//! as openraft membership changes (new members join as learners and catch up first, voters are
//! replaced through joint consensus, members that left are removed), and then logged as a
//! `TxnBody::Reconfig` holding the new server lines, which every member applies to
//! `/zookeeper/config`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use openraft::{BasicNode, ChangeMembers};

use super::Raft;
use crate::proto::{ErrorCode, Id, ReconfigRequest};
use crate::server::config::{PeerType, QuorumServer};
use crate::server::options::{EnsembleOptions, Peer};
use crate::server::runtime::Shared;
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

/// Checks a client's reconfig, changes the membership, and returns the txn to log.
pub async fn prepare(
    shared: &Shared,
    raft: &Raft,
    auth: Vec<Id>,
    req: &ReconfigRequest,
) -> Result<TxnBody, ErrorCode> {
    let current_text = {
        let state = shared.state.read();
        state.check_reconfig(&auth, shared.opts.rules, req.cur_config_id)?;
        state.config_text()
    };
    let current = if current_text.trim().is_empty() {
        parse_lines(&membership_lines(raft))?
    } else {
        parse_lines(&current_text)?
    };
    let next = next_lines(&current, req)?;
    let mut peers = BTreeMap::new();
    for (id, value) in &next {
        peers.insert(*id, peer_of(*id, value)?);
    }
    let voters: BTreeSet<u64> = peers
        .iter()
        .filter(|(_, p)| !p.observer)
        .map(|(id, _)| *id)
        .collect();
    if voters.is_empty() {
        return Err(ErrorCode::BadArguments);
    }
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
        members: render(&next),
    })
}

async fn change_membership(
    raft: &Raft,
    peers: &BTreeMap<u64, Peer>,
    voters: &BTreeSet<u64>,
    catch_up: Duration,
) -> Result<(), String> {
    let known: BTreeSet<u64> = {
        let metrics = raft.metrics().borrow_watched().clone();
        metrics
            .membership_config
            .membership()
            .nodes()
            .map(|(id, _)| *id)
            .collect()
    };
    for (id, peer) in peers {
        if !known.contains(id) {
            let node = super::node_of(peer);
            tokio::time::timeout(catch_up, raft.add_learner(*id, node, voters.contains(id)))
                .await
                .map_err(|_| format!("server.{id} did not catch up within {catch_up:?}"))?
                .map_err(|e| e.to_string())?;
        }
    }
    raft.change_membership(ChangeMembers::ReplaceAllVoters(voters.clone()), true)
        .await
        .map_err(|e| e.to_string())?;
    let gone: BTreeSet<u64> = known
        .into_iter()
        .filter(|id| !peers.contains_key(id))
        .collect();
    if !gone.is_empty() {
        raft.change_membership(ChangeMembers::<u64, BasicNode>::RemoveNodes(gone), true)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
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
}
