//! Messages between ensemble members and their framing.
//!
//! # Frames
//!
//! A frame is a `u32` big-endian length, then a postcard-encoded [`PeerRequest`] or
//! [`PeerResponse`]. One request is answered before the next is read on a connection.
//!
//! postcard writes an enum's variant index first, as a varint: for the eight request kinds that
//! is one byte, the *tag* below. A receiver reads the length and the tag before anything else
//! and closes the connection when the length is over that kind's cap, or the kind does not
//! belong on the port, so a peer can make it hold no more than one message of a kind it may
//! send.
//!
//! ```text
//! tag  request          port      cap
//!  0   Append           quorum    replication budget (from jute.maxbuffer, see Caps)
//!  1   Vote             election  4 KiB
//!  2   PreVote          election  4 KiB
//!  3   SnapshotChunk    quorum    SNAPSHOT_CHUNK + 64 KiB
//!  4   Forward          quorum    replication budget
//!  5   Touch            quorum    64 KiB (reports split at MAX_TOUCHED sessions)
//!  6   Revalidate       quorum    4 KiB
//!  7   TransferLeader   election  4 KiB
//!  8   Sasl             both      8 KiB + 16 (quorum SASL tokens, first on a connection)
//! responses (any kind)            1 MiB
//! ```
//!
//! The encoding of the zk-own types (postcard: unsigned integers as LEB128 varints, signed ones
//! zigzag-encoded first, `Vec<u8>` as a varint length and the bytes, `bool` as one byte, enum
//! variants as their varint index) is pinned by the tests below, which the abuse suite's forged
//! messages (`tests/abuse/peer_wire.py`) repeat byte for byte.

use std::time::Duration;

use openraft::alias::{SnapshotMetaOf, VoteOf};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, TransferLeaderRequest,
    TransferLeaderResponse, VoteRequest, VoteResponse,
};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Proposal, TypeConfig};

/// The accepting member's answer to one quorum SASL token (see `peer_auth`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SaslAnswer {
    /// The next challenge.
    Challenge(#[serde(with = "super::as_bytes")] Vec<u8>),
    /// Authenticated; the final token (`rspauth`) proves the server knows the password too.
    Success(#[serde(with = "super::as_bytes")] Vec<u8>),
    /// Not authenticated (the reason stays in the server's log). `kept`: the server serves
    /// the connection all the same (`quorum.auth.serverRequireSasl=false`).
    Failed { kept: bool },
    /// The server has `quorum.auth.enableSasl=false`; the connection goes on.
    NotEnabled,
}

/// Bytes of one snapshot chunk on the wire; a snapshot travels as a sequence of them.
pub const SNAPSHOT_CHUNK: usize = 4 << 20;
/// The most session ids one touch report carries; longer reports are split.
pub const MAX_TOUCHED: usize = 4096;
/// The largest response a member reads: answers are small (a vote, an append result, the
/// forwarded requests the leader refused with their codes, a failure's text).
pub const RESPONSE_CAP: usize = 1 << 20;
const SMALL_CAP: usize = 4 << 10;
const TOUCH_CAP: usize = 64 << 10;
/// A token one byte over what the exchange takes still arrives, to be refused by it.
const SASL_CAP: usize = crate::server::sasl::MAX_TOKEN_BYTES + 16;
/// Room in a frame for what surrounds the entries or the chunk: log ids, the vote, the
/// snapshot's metadata, postcard's lengths.
const ENVELOPE: usize = 256 << 10;
/// Room in a txn for its header and the client's auth ids around the request itself.
const TXN_ENVELOPE: usize = 64 << 10;
/// Replication and forwarding move at least this many bytes per message when there is that
/// much to send.
const MIN_BATCH_BYTES: usize = 4 << 20;

#[derive(Serialize, Deserialize)]
pub enum PeerRequest {
    Append(AppendEntriesRequest<TypeConfig>),
    Vote(VoteRequest<TypeConfig>),
    PreVote(VoteRequest<TypeConfig>),
    /// One piece of a snapshot: `data` holds its bytes `offset..offset + data.len()` of
    /// `total`. The receiver assembles the pieces in order and installs the snapshot when the
    /// last one arrives; `vote` and `meta` are the same in every piece of one transfer.
    SnapshotChunk {
        vote: VoteOf<TypeConfig>,
        meta: SnapshotMetaOf<TypeConfig>,
        offset: u64,
        total: u64,
        #[serde(with = "super::as_bytes")]
        data: Vec<u8>,
    },
    /// Writes from a member's clients, in the order they arrived there.
    Forward(Vec<Proposal>),
    /// Sessions with activity on the sending member since its last report.
    Touch(Vec<i64>),
    /// A client reconnected to member `origin` with `session` and its password (which the
    /// leader checks when `origin` has not applied the session yet).
    Revalidate {
        session: i64,
        origin: u64,
        #[serde(with = "super::as_bytes")]
        passwd: Vec<u8>,
    },
    /// The leader hands leadership to another voter (openraft's transfer).
    TransferLeader(TransferLeaderRequest<TypeConfig>),
    /// A quorum SASL token from the member that dialed (`peer_auth`), before its requests.
    Sasl(#[serde(with = "super::as_bytes")] Vec<u8>),
}

/// The kinds of [`PeerRequest`], numbered as postcard tags them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Append,
    Vote,
    PreVote,
    SnapshotChunk,
    Forward,
    Touch,
    Revalidate,
    TransferLeader,
    Sasl,
}

impl Kind {
    pub fn from_tag(tag: u8) -> Option<Kind> {
        Some(match tag {
            0 => Kind::Append,
            1 => Kind::Vote,
            2 => Kind::PreVote,
            3 => Kind::SnapshotChunk,
            4 => Kind::Forward,
            5 => Kind::Touch,
            6 => Kind::Revalidate,
            7 => Kind::TransferLeader,
            8 => Kind::Sasl,
            _ => return None,
        })
    }

    pub fn of(request: &PeerRequest) -> Kind {
        match request {
            PeerRequest::Append(_) => Kind::Append,
            PeerRequest::Vote(_) => Kind::Vote,
            PeerRequest::PreVote(_) => Kind::PreVote,
            PeerRequest::SnapshotChunk { .. } => Kind::SnapshotChunk,
            PeerRequest::Forward(_) => Kind::Forward,
            PeerRequest::Touch(_) => Kind::Touch,
            PeerRequest::Revalidate { .. } => Kind::Revalidate,
            PeerRequest::TransferLeader(_) => Kind::TransferLeader,
            PeerRequest::Sasl(_) => Kind::Sasl,
        }
    }

    /// Whether this kind may arrive on the election port (`election`) or the quorum port:
    /// votes on the first, the rest on the second, SASL tokens on both.
    pub fn belongs_on(self, election: bool) -> bool {
        match self {
            Kind::Sasl => true,
            Kind::Vote | Kind::PreVote | Kind::TransferLeader => election,
            _ => !election,
        }
    }
}

#[derive(Serialize, Deserialize)]
pub enum PeerResponse {
    Append(AppendEntriesResponse<TypeConfig>),
    Vote(VoteResponse<TypeConfig>),
    Snapshot(SnapshotResponse<TypeConfig>),
    /// The leader took the forwarded proposals into its log in this term, except the
    /// `rejected` ones (request number, error code), which it refused before logging.
    Accepted {
        term: u64,
        rejected: Vec<(u64, i32)>,
    },
    /// Not the leader (any more); the sender retries elsewhere or gives up.
    NotLeader,
    Touched,
    Revalidated,
    /// The receiving raft node failed, or refused the request; the message says how.
    Failed(String),
    /// A snapshot piece that was not the last arrived.
    ChunkReceived,
    TransferLeader(TransferLeaderResponse<TypeConfig>),
    /// The session of a Revalidate is not live at the leader, or its password is wrong: the
    /// client is told its session expired.
    SessionExpired,
    /// The answer to a quorum SASL token.
    Sasl(SaslAnswer),
}

/// The frame caps of one member, from its `jute.maxbuffer`. Every member of an ensemble must
/// use the same `jute.maxbuffer`, as with Apache ZooKeeper (a member with a smaller one refuses
/// the larger writes the others replicate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// The largest encoded txn a proposal may carry: one request of `jute.maxbuffer` bytes,
    /// its header and auth ids.
    pub max_txn: usize,
    /// Entry (or proposal) bytes one append (or forward) carries at most, besides always at
    /// least one entry.
    pub batch_bytes: usize,
}

impl Caps {
    pub fn for_max_buffer(max_buffer: usize) -> Caps {
        let max_txn = max_buffer
            .saturating_add(TXN_ENVELOPE)
            .min(crate::server::persist::MAX_RECORD_BYTES - TXN_ENVELOPE);
        Caps {
            max_txn,
            batch_bytes: max_txn.max(MIN_BATCH_BYTES),
        }
    }

    /// The largest frame of `kind` this member reads.
    pub fn request_cap(&self, kind: Kind) -> usize {
        match kind {
            Kind::Append | Kind::Forward => self.batch_bytes + ENVELOPE,
            Kind::Vote | Kind::PreVote | Kind::Revalidate | Kind::TransferLeader => SMALL_CAP,
            Kind::SnapshotChunk => SNAPSHOT_CHUNK + ENVELOPE,
            Kind::Touch => TOUCH_CAP,
            Kind::Sasl => SASL_CAP,
        }
    }
}

/// How long peers may take: a frame that has started must be complete within `frame`
/// (Apache's `syncLimit` ticks), and a connection idle for `idle` is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    pub frame: Duration,
    pub idle: Duration,
}

impl Deadlines {
    pub fn new(tick: Duration, sync_limit: u32) -> Deadlines {
        let frame = (tick * sync_limit.max(1)).max(Duration::from_secs(1));
        Deadlines {
            frame,
            idle: (frame * 24).max(Duration::from_secs(300)),
        }
    }
}

fn invalid(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message)
}

/// The encoded body of `message`, refused if over `cap`.
pub fn encode<T: Serialize>(message: &T, cap: usize) -> std::io::Result<Vec<u8>> {
    let body = postcard::to_stdvec(message).map_err(|e| invalid(e.to_string()))?;
    if body.len() > cap {
        return Err(invalid(format!(
            "a peer message of {} bytes is over its cap of {cap}",
            body.len()
        )));
    }
    Ok(body)
}

/// Writes one frame holding an already encoded body.
pub async fn write_body<W>(out: &mut W, body: &[u8]) -> std::io::Result<()>
where
    W: AsyncWriteExt + Unpin,
{
    let len = u32::try_from(body.len()).map_err(|_| invalid("frame too large".into()))?;
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(body);
    out.write_all(&frame).await?;
    out.flush().await
}

/// Reads `len` bytes; the length was checked against a cap, and the buffer grows as bytes
/// arrive, so a peer that stops sending costs no more than what it sent.
async fn read_body<R>(input: &mut R, len: usize, first: Option<u8>) -> std::io::Result<Vec<u8>>
where
    R: AsyncReadExt + Unpin,
{
    let mut body = Vec::with_capacity(len.min(1 << 20));
    body.extend(first);
    let rest = (len - body.len()) as u64;
    let read = (&mut *input).take(rest).read_to_end(&mut body).await?;
    if read as u64 != rest {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(body)
}

/// Reads one response frame of at most [`RESPONSE_CAP`] bytes; `Ok(None)` on a clean end of
/// stream before a frame starts.
pub async fn read_response<R>(input: &mut R) -> std::io::Result<Option<PeerResponse>>
where
    R: AsyncReadExt + Unpin,
{
    let mut len = [0u8; 4];
    match input.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > RESPONSE_CAP {
        return Err(invalid(format!(
            "a peer response of {len} bytes is over the cap of {RESPONSE_CAP}"
        )));
    }
    let body = read_body(input, len, None).await?;
    decode(&body).map(Some)
}

fn decode<T: DeserializeOwned>(body: &[u8]) -> std::io::Result<T> {
    postcard::from_bytes(body).map_err(|e| invalid(e.to_string()))
}

/// Why a request frame was not read.
#[derive(Debug)]
pub enum ReadError {
    /// Nothing arrived for the idle time.
    Idle,
    /// A frame started and was not complete in time.
    Slow,
    Io(std::io::Error),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Idle => write!(f, "idle"),
            ReadError::Slow => write!(f, "a frame did not arrive within its deadline"),
            ReadError::Io(e) => write!(f, "{e}"),
        }
    }
}

/// Reads one request on a member's `election` (or quorum) port: the length within `idle`,
/// then the rest within `deadlines.frame`, with the length checked against the kind's cap and
/// the kind against the port before the body is read. `Ok(None)` on a clean end of stream.
pub async fn read_request<R>(
    input: &mut R,
    caps: &Caps,
    election: bool,
    idle: Duration,
    frame: Duration,
) -> Result<Option<PeerRequest>, ReadError>
where
    R: AsyncReadExt + Unpin,
{
    let mut len = [0u8; 4];
    match tokio::time::timeout(idle, input.read(&mut len[..1])).await {
        Err(_) => return Err(ReadError::Idle),
        Ok(Ok(0)) => return Ok(None),
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(ReadError::Io(e)),
    }
    let rest = async {
        input.read_exact(&mut len[1..]).await?;
        let len = u32::from_be_bytes(len) as usize;
        let mut tag = [0u8; 1];
        if len == 0 {
            return Err(invalid("an empty peer frame".into()));
        }
        input.read_exact(&mut tag).await?;
        let kind = Kind::from_tag(tag[0])
            .ok_or_else(|| invalid(format!("unknown peer message tag {}", tag[0])))?;
        if !kind.belongs_on(election) {
            return Err(invalid(format!("{kind:?} does not belong on this port")));
        }
        let cap = caps.request_cap(kind);
        if len > cap {
            return Err(invalid(format!(
                "a {kind:?} frame of {len} bytes is over its cap of {cap}"
            )));
        }
        let body = read_body(input, len, Some(tag[0])).await?;
        decode(&body)
    };
    match tokio::time::timeout(frame, rest).await {
        Err(_) => Err(ReadError::Slow),
        Ok(Ok(request)) => Ok(Some(request)),
        Ok(Err(e)) => Err(ReadError::Io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::quorum::ProposalBody;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn spaced(expected: &str) -> String {
        expected.replace(' ', "")
    }

    /// Batching by weight keeps entries within the append cap only if a proposal's weight is
    /// never less than its encoding, for the largest varints too.
    #[test]
    fn a_proposals_weight_bounds_its_encoding_batched_or_not() {
        let part = |txn: usize| Proposal {
            origin: u64::MAX,
            request: u64::MAX,
            incarnation: u64::MAX,
            time: i64::MIN,
            body: ProposalBody::Txn(vec![0x5a; txn]),
        };
        let batch = Proposal {
            body: ProposalBody::Batch((0..500).map(|i| part(i * 7)).collect()),
            ..part(0)
        };
        let moved = Proposal {
            body: ProposalBody::Moved(i64::MIN),
            ..part(0)
        };
        for proposal in [part(0), part(1 << 20), batch, moved] {
            let encoded = postcard::to_stdvec(&proposal).unwrap().len();
            assert!(
                proposal.weight() >= encoded,
                "{proposal}: weight {} < {encoded} bytes",
                proposal.weight()
            );
        }
    }

    /// The bytes `tests/abuse/peer_wire.py` builds by hand for its forged messages.
    #[test]
    fn forged_messages_encode_as_the_python_suite_writes_them() {
        let forward = PeerRequest::Forward(vec![Proposal {
            origin: 2,
            request: 300,
            incarnation: 1,
            time: -1,
            body: ProposalBody::Txn(vec![0xAA, 0xBB]),
        }]);
        assert_eq!(
            hex(&postcard::to_stdvec(&forward).unwrap()),
            spaced("04 01 02 ac02 01 01 00 02aabb")
        );
        let moved = Proposal {
            origin: 1,
            request: 1,
            incarnation: 1,
            time: 0,
            body: ProposalBody::Moved(-2),
        };
        assert_eq!(
            hex(&postcard::to_stdvec(&moved).unwrap()),
            spaced("01 01 01 00 01 03")
        );
        let touch = PeerRequest::Touch(vec![1, -1, 64]);
        assert_eq!(
            hex(&postcard::to_stdvec(&touch).unwrap()),
            spaced("05 03 02 01 8001")
        );
        let revalidate = PeerRequest::Revalidate {
            session: 5,
            origin: 3,
            passwd: vec![0xaa, 0xbb],
        };
        assert_eq!(
            hex(&postcard::to_stdvec(&revalidate).unwrap()),
            spaced("06 0a 03 02aabb")
        );
        let vote = PeerRequest::Vote(VoteRequest::new(
            openraft::Vote::new(7, 9),
            Some(openraft::LogId::new(
                openraft::vote::leader_id_std::CommittedLeaderId::new(6),
                40,
            )),
        ));
        assert_eq!(
            hex(&postcard::to_stdvec(&vote).unwrap()),
            spaced("01 07 0109 00 01 06 28 00")
        );
    }

    /// The kind of the request `bytes` hold, read as the quorum (or election) port reads it,
    /// with the frame caps of a 1 MiB `jute.maxbuffer`.
    fn read_kind(bytes: Vec<u8>, election: bool) -> Result<Option<Kind>, ReadError> {
        let caps = Caps::for_max_buffer(1 << 20);
        let wait = Duration::from_secs(5);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let mut input = &bytes[..];
            read_request(&mut input, &caps, election, wait, wait)
                .await
                .map(|request| request.map(|r| Kind::of(&r)))
        })
    }

    #[test]
    fn a_frame_over_its_kinds_cap_or_on_the_wrong_port_is_refused_before_its_body() {
        let read = read_kind;
        // A vote claiming 1 MiB: refused on the length and tag alone.
        let mut frame = (1u32 << 20).to_be_bytes().to_vec();
        frame.push(1);
        let err = read(frame, true).unwrap_err().to_string();
        assert!(err.contains("over its cap"), "{err}");
        // A touch on the election port.
        let body = postcard::to_stdvec(&PeerRequest::Touch(vec![1])).unwrap();
        let mut frame = (body.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(&body);
        let err = read(frame.clone(), true).unwrap_err().to_string();
        assert!(err.contains("does not belong"), "{err}");
        assert!(matches!(read(frame, false), Ok(Some(Kind::Touch))));
        // An unknown tag, and garbage after a good tag.
        let err = read(vec![0, 0, 0, 2, 0x7f, 0], false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown peer message tag"), "{err}");
        assert!(read(vec![0, 0, 0, 3, 5, 0xff, 0xff], false).is_err());
        // A stream that ends before a frame is a clean end.
        assert!(matches!(read(Vec::new(), false), Ok(None)));
    }

    #[test]
    fn sasl_tokens_go_on_either_port_within_their_cap() {
        let read = read_kind;
        let body = postcard::to_stdvec(&PeerRequest::Sasl(b"token".to_vec())).unwrap();
        assert_eq!(body[0], 8, "the Sasl tag");
        let mut frame = (body.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(&body);
        for election in [false, true] {
            assert!(matches!(
                read(frame.clone(), election),
                Ok(Some(Kind::Sasl))
            ));
        }
        // A token claiming 64 KiB is refused on its length alone.
        let mut frame = (64u32 << 10).to_be_bytes().to_vec();
        frame.push(8);
        let err = read(frame, false).unwrap_err().to_string();
        assert!(err.contains("over its cap"), "{err}");
    }

    #[test]
    fn the_caps_follow_jute_maxbuffer() {
        let small = Caps::for_max_buffer(1 << 20);
        assert_eq!(small.batch_bytes, MIN_BATCH_BYTES);
        assert!(small.request_cap(Kind::Append) > small.max_txn);
        let large = Caps::for_max_buffer(16 << 20);
        assert!(large.batch_bytes >= 16 << 20);
        assert!(large.request_cap(Kind::Forward) > large.max_txn);
        // Whatever the setting, one txn fits one WAL record.
        let huge = Caps::for_max_buffer(1 << 30);
        assert!(huge.max_txn < crate::server::persist::MAX_RECORD_BYTES);
        assert_eq!(huge.request_cap(Kind::Vote), SMALL_CAP);
    }
}
