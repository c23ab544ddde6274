//! Messages between ensemble members and their framing: `u32` big-endian length, then a
//! postcard-encoded [`PeerRequest`] or [`PeerResponse`]. One request is answered before the next
//! is read on a connection. Frames over [`MAX_FRAME`] close the connection.

use openraft::alias::{SnapshotMetaOf, VoteOf};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Proposal, TypeConfig};

/// Large enough for a snapshot of a few million znodes; anything larger is a broken peer.
pub const MAX_FRAME: usize = 1 << 31;

#[derive(Serialize, Deserialize)]
pub enum PeerRequest {
    Append(AppendEntriesRequest<TypeConfig>),
    Vote(VoteRequest<TypeConfig>),
    PreVote(VoteRequest<TypeConfig>),
    Snapshot {
        vote: VoteOf<TypeConfig>,
        meta: SnapshotMetaOf<TypeConfig>,
        data: Vec<u8>,
    },
    /// Writes from a member's clients, in the order they arrived there.
    Forward(Vec<Proposal>),
    /// Sessions with activity on the sending member since its last report.
    Touch(Vec<i64>),
    /// A client reconnected to member `origin` with `session`.
    Revalidate {
        session: i64,
        origin: u64,
    },
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
    /// The receiving raft node failed; the message says how.
    Failed(String),
}

pub async fn write_frame<W, T>(out: &mut W, message: &T) -> std::io::Result<()>
where
    W: AsyncWriteExt + Unpin,
    T: Serialize,
{
    let body = postcard::to_stdvec(message)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    let len = u32::try_from(body.len())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "frame too large"))?;
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&body);
    out.write_all(&frame).await?;
    out.flush().await
}

/// Reads one frame; `Ok(None)` on a clean end of stream before a frame starts.
pub async fn read_frame<R, T>(input: &mut R) -> std::io::Result<Option<T>>
where
    R: AsyncReadExt + Unpin,
    T: DeserializeOwned,
{
    let mut len = [0u8; 4];
    match input.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("peer frame of {len} bytes is over the limit"),
        ));
    }
    // Grows as bytes arrive, so a lying length costs no memory up front.
    let mut body = Vec::with_capacity(len.min(1 << 20));
    let read = (&mut *input)
        .take(len as u64)
        .read_to_end(&mut body)
        .await?;
    if read != len {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    postcard::from_bytes(&body)
        .map(Some)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}
