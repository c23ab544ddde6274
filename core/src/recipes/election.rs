//! Leader election: [`LeaderSelector`] (leadership = holding a [`Mutex`]: Curator
//! `LeaderSelector`, kazoo `Election`) and [`LeaderLatch`] (Curator `LeaderLatch`: stay a
//! candidate until closed, leader while our `_c_<uuid>-latch-<seq>` node is the lowest).
//!
//! Both store the participant id as the node's data, as Curator and kazoo do, so
//! [`LeaderSelector::participants`] lists kazoo's `Election` contenders and Curator's
//! `getParticipants()` lists ours.

use std::time::Duration;

use tokio::sync::{oneshot, watch};

use super::lock::{delete_node, LockGuard, Mutex};
use super::util::{self, LATCH_MARKER};
use super::Layout;
use crate::client::{Client, Error, Result};
use crate::proto::{CreateMode, ErrorCode};

/// Leadership through a [`Mutex`] whose node data is the participant id.
#[derive(Clone)]
pub struct LeaderSelector {
    mutex: Mutex,
}

/// One participant of an election, as its node's data names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    pub id: String,
    pub is_leader: bool,
}

/// A [`LeaderLatch`]'s current standing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leadership {
    /// Waiting (or suspended: a disconnected latch never claims leadership).
    Candidate,
    /// Leading; the token is the czxid of the latch node (see
    /// [`LockGuard::fencing_token`]).
    Leader { fencing_token: i64 },
    /// Closed, or the session ended.
    Closed,
}

/// A candidate that stays in the election until closed (Curator `LeaderLatch`).
///
/// A background task keeps [`LeaderLatch::leadership`] current: leader while our node is
/// the lowest `latch-` node and the client is connected; candidate again as soon as the
/// client is suspended; back to leader after a reconnect if the node survived (the session
/// is the same, so nobody else can have led meanwhile and the fencing token is unchanged).
/// If our node is deleted by someone else, a new one is created at the back of the line.
pub struct LeaderLatch {
    client: Client,
    path: String,
    state: watch::Receiver<Leadership>,
    stop: Option<oneshot::Sender<()>>,
    done: Option<oneshot::Receiver<()>>,
}

impl LeaderSelector {
    /// A participant `id` in the election at `path`.
    pub fn new(client: &Client, path: &str, id: &str) -> LeaderSelector {
        LeaderSelector {
            mutex: Mutex::new(client, path).data(id.as_bytes()),
        }
    }

    /// Which library's node names to write: [`Layout::Kazoo`] to run against kazoo's
    /// `Election`, [`Layout::Curator`] (default) against Curator's `LeaderSelector`.
    pub fn layout(self, layout: Layout) -> LeaderSelector {
        LeaderSelector {
            mutex: self.mutex.layout(layout),
        }
    }

    /// Waits until this participant leads; leadership lasts until the guard is released
    /// or dropped, or is lost (see [`LockGuard::lost`]).
    pub async fn lead(&self) -> Result<LockGuard> {
        self.mutex.acquire().await
    }

    /// Like [`LeaderSelector::lead`], giving up after `timeout`.
    pub async fn lead_timeout(&self, timeout: Duration) -> Result<Option<LockGuard>> {
        self.mutex.acquire_timeout(timeout).await
    }

    /// Every participant in line order; the first is the leader.
    pub async fn participants(&self) -> Result<Vec<Participant>> {
        let names = self.mutex.contenders().await?;
        participants_of(self.mutex.client(), self.mutex.path(), names).await
    }

    /// The current leader, if any.
    pub async fn leader(&self) -> Result<Option<Participant>> {
        Ok(self.participants().await?.into_iter().next())
    }
}

impl LeaderLatch {
    /// Joins the election at `path` as `id`; returns once our latch node exists.
    pub async fn start(client: &Client, path: &str, id: &str) -> Result<LeaderLatch> {
        let node = create_latch_node(client, path, id).await?;
        let (tx, state) = watch::channel(Leadership::Candidate);
        let (stop_tx, stop) = oneshot::channel();
        let (done_tx, done) = oneshot::channel();
        let task = LatchTask {
            client: client.clone(),
            path: path.to_owned(),
            id: id.to_owned(),
            tx,
        };
        crate::client::runtime::spawn(task.run(node, stop, done_tx));
        Ok(LeaderLatch {
            client: client.clone(),
            path: path.to_owned(),
            state,
            stop: Some(stop_tx),
            done: Some(done),
        })
    }

    /// The current standing.
    pub fn leadership(&self) -> Leadership {
        *self.state.borrow()
    }

    pub fn has_leadership(&self) -> bool {
        matches!(self.leadership(), Leadership::Leader { .. })
    }

    /// The fencing token while leading.
    pub fn fencing_token(&self) -> Option<i64> {
        match self.leadership() {
            Leadership::Leader { fencing_token } => Some(fencing_token),
            _ => None,
        }
    }

    /// Every change of standing.
    pub fn changes(&self) -> watch::Receiver<Leadership> {
        self.state.clone()
    }

    /// Waits until leading (`true`) or `timeout` passes (`false`); fails once closed.
    pub async fn wait_leadership(&self, timeout: Option<Duration>) -> Result<bool> {
        let mut state = self.state.clone();
        let wait = async move {
            state
                .wait_for(|l| *l != Leadership::Candidate)
                .await
                .map(|l| *l)
        };
        match util::until(util::deadline(timeout), wait).await {
            None => Ok(false),
            Some(Ok(Leadership::Leader { .. })) => Ok(true),
            Some(_) => Err(Error::Closed),
        }
    }

    /// Every participant in line order; the first is the leader.
    pub async fn participants(&self) -> Result<Vec<Participant>> {
        let children = util::children_or_empty(&self.client, &self.path).await?;
        let names = util::sorted_by_sequence(&children, LATCH_MARKER)
            .into_iter()
            .map(|(_, name)| name)
            .collect();
        participants_of(&self.client, &self.path, names).await
    }

    /// Leaves the election: deletes our node and waits for the task to end.
    pub async fn close(mut self) {
        self.stop.take();
        if let Some(done) = self.done.take() {
            let _ = done.await;
        }
    }
}

impl Drop for LeaderLatch {
    fn drop(&mut self) {
        // Dropping the sender stops the task, which deletes the node.
        self.stop.take();
    }
}

// ----- internals -----

async fn participants_of(
    client: &Client,
    dir: &str,
    names: Vec<String>,
) -> Result<Vec<Participant>> {
    let mut out: Vec<Participant> = Vec::new();
    for name in names {
        let path = util::join(dir, &name);
        match util::retry(client, || client.get_data(&path)).await {
            Ok((data, _)) => out.push(Participant {
                id: String::from_utf8_lossy(&data).into_owned(),
                is_leader: out.is_empty(),
            }),
            Err(Error::Server(ErrorCode::NoNode)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

async fn create_latch_node(client: &Client, path: &str, id: &str) -> Result<(String, i64)> {
    let (node, stat) = util::create_protected_in(
        client,
        &util::join(path, LATCH_MARKER),
        id.as_bytes(),
        CreateMode::EphemeralSequential,
    )
    .await?;
    Ok((node, stat.czxid))
}

struct LatchTask {
    client: Client,
    path: String,
    id: String,
    tx: watch::Sender<Leadership>,
}

impl LatchTask {
    async fn run(
        self,
        mut node: (String, i64),
        mut stop: oneshot::Receiver<()>,
        done: oneshot::Sender<()>,
    ) {
        {
            let body = self.campaign(&mut node);
            tokio::pin!(body);
            tokio::select! {
                _ = &mut body => {}
                _ = &mut stop => {}
            }
        }
        self.set(Leadership::Candidate);
        let _ = delete_node(&self.client, &node.0).await;
        self.set(Leadership::Closed);
        let _ = done.send(());
    }

    /// Runs until the session ends (returns its error).
    async fn campaign(&self, node: &mut (String, i64)) -> Result<()> {
        loop {
            let mut events = self.client.state_events();
            if !self.client.state().is_connected() {
                self.set(Leadership::Candidate);
                util::await_reconnect(&self.client).await?;
                continue;
            }
            let children = util::children_or_empty(&self.client, &self.path).await?;
            let line = util::sorted_by_sequence(&children, LATCH_MARKER);
            let ours = util::name_of(&node.0);
            let Some(index) = line.iter().position(|(_, name)| name == ours) else {
                self.set(Leadership::Candidate);
                *node = create_latch_node(&self.client, &self.path, &self.id).await?;
                continue;
            };
            if index == 0 {
                self.set(Leadership::Leader {
                    fencing_token: node.1,
                });
                util::until_lost(&self.client, &node.0, events).await;
                self.set(Leadership::Candidate);
                continue;
            }
            self.set(Leadership::Candidate);
            let Some((_, ahead)) = line.get(index - 1) else {
                continue;
            };
            let ahead = util::join(&self.path, ahead);
            match util::retry(&self.client, || self.client.get_data_watch(&ahead)).await {
                Err(Error::Server(ErrorCode::NoNode)) => {}
                Err(e) => return Err(e),
                Ok((_, _, watch)) => {
                    tokio::select! {
                        _ = watch.changed() => {}
                        _ = events.recv() => {}
                    }
                }
            }
        }
    }

    fn set(&self, value: Leadership) {
        self.tx.send_if_modified(|current| {
            if *current == value {
                false
            } else {
                *current = value;
                true
            }
        });
    }
}
