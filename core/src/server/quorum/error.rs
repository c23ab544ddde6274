//! What can go wrong in the ensemble member, as types: starting it ([`StartError`]), calling
//! a peer ([`PeerError`]) and changing the membership for a reconfig ([`MembershipError`]).

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use crate::server::persist::PersistError;

/// Why this member could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("there is no server.{0} line")]
    NotAMember(u64),
    #[error("the raft settings derived from tickTime are invalid: {0}")]
    Config(String),
    #[error("cannot open the raft log in {}: {source}", .dir.display())]
    Log {
        dir: PathBuf,
        #[source]
        source: PersistError,
    },
    #[error("raft log record {zxid} in {}: {reason}", .dir.display())]
    LogRecord {
        dir: PathBuf,
        zxid: u64,
        reason: postcard::Error,
    },
    #[error("cannot start the raft log's thread: {0}")]
    LogThread(#[source] io::Error),
    #[error("cannot load the snapshot: {0}")]
    SnapshotFile(#[source] PersistError),
    #[error("cannot load snapshot 0x{zxid:x}: {reason}")]
    Snapshot { zxid: u64, reason: SnapshotError },
    #[error("cannot start raft: {0}")]
    Raft(String),
    #[error("quorum TLS (ssl.quorum.*): {0}")]
    Tls(#[from] crate::server::tls::TlsError),
    #[error("cannot bind the quorum address {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: io::Error,
    },
}

/// Why an ensemble snapshot's payload could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("too short for its metadata")]
    TooShort,
    #[error("metadata runs past the end")]
    Truncated,
    #[error("undecodable metadata: {0}")]
    Header(#[from] postcard::Error),
    #[error("undecodable tree image: {0}")]
    Image(#[from] crate::proto::DecodeError),
}

/// Why a call to a peer got no answer (`addr`: the peer as it was dialed).
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("{addr}: {source}")]
    Io {
        addr: String,
        #[source]
        source: io::Error,
    },
    #[error("{addr}: no answer within {ttl:?}")]
    Timeout { addr: String, ttl: Duration },
    #[error("server.{0} stopped leading before it answered")]
    LeaderChanged(u64),
}

/// Why a reconfig's membership change did not happen (the client gets NEWCONFIGNOQUORUM).
#[derive(Debug, thiserror::Error)]
pub enum MembershipError {
    #[error("raft refused the change: {0}")]
    Raft(String),
    #[error("this member stopped leading")]
    NotLeading,
    #[error("raft stopped")]
    Stopped,
    #[error("only {synced} of the {voters} voters of the new configuration are up to date")]
    NoQuorum { synced: usize, voters: usize },
}
