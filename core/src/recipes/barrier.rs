//! [`Barrier`] (Curator `DistributedBarrier`, kazoo `Barrier`: the node's existence
//! blocks) and [`DoubleBarrier`] (Curator `DistributedDoubleBarrier`, kazoo
//! `DoubleBarrier`: ephemeral member nodes `<path>/<uuid>` and a `<path>/ready` node
//! created by the member that completes the group).

use std::time::Duration;

use tokio::time::Instant;

use super::lock::delete_node;
use super::util;
use crate::client::{Client, Error, Result};
use crate::proto::{Acl, CreateMode, ErrorCode, EventType};

/// Waiters block while the node at `path` exists.
#[derive(Clone)]
pub struct Barrier {
    client: Client,
    path: String,
}

/// Enter blocks until `members` participants have entered; leave blocks until all have
/// left.
#[derive(Clone)]
pub struct DoubleBarrier {
    client: Client,
    path: String,
    members: usize,
    ours: String,
    data: Vec<u8>,
}

impl Barrier {
    pub fn new(client: &Client, path: &str) -> Barrier {
        Barrier {
            client: client.clone(),
            path: path.to_owned(),
        }
    }

    /// Closes the barrier (creates its node, with container parents); already closed is
    /// success.
    pub async fn set(&self) -> Result<()> {
        util::create_if_absent(&self.client, &self.path, CreateMode::Container).await
    }

    /// Opens the barrier (deletes its node); already open is success.
    pub async fn remove(&self) -> Result<()> {
        delete_node(&self.client, &self.path).await
    }

    /// Waits until the barrier is open: `true`, or `false` if `timeout` passed first.
    pub async fn wait(&self, timeout: Option<Duration>) -> Result<bool> {
        let deadline = util::deadline(timeout);
        loop {
            let (stat, watch) =
                util::retry(&self.client, || self.client.exists_watch(&self.path)).await?;
            if stat.is_none() {
                return Ok(true);
            }
            if util::until(deadline, watch.changed()).await.is_none() {
                return Ok(false);
            }
        }
    }
}

impl DoubleBarrier {
    /// A member of the double barrier at `path` for `members` participants.
    pub fn new(client: &Client, path: &str, members: usize) -> DoubleBarrier {
        DoubleBarrier {
            client: client.clone(),
            path: path.to_owned(),
            members,
            ours: util::uuid_v4(),
            data: Vec::new(),
        }
    }

    /// Data stored in this member's node (kazoo stores an identifier).
    pub fn data(mut self, data: &[u8]) -> DoubleBarrier {
        self.data = data.to_vec();
        self
    }

    /// Enters and waits until `members` have entered: `true`, or `false` after `timeout`
    /// (our member node stays; call [`DoubleBarrier::leave`] to withdraw).
    pub async fn enter(&self, timeout: Option<Duration>) -> Result<bool> {
        if self.members == 0 {
            return Err(Error::BadArguments(
                "a double barrier needs members >= 1".into(),
            ));
        }
        let deadline = util::deadline(timeout);
        let ready = self.ready_path();
        let (stat, mut watch) =
            util::retry(&self.client, || self.client.exists_watch(&ready)).await?;
        self.create_member().await?;
        if stat.is_some() {
            return Ok(true);
        }
        loop {
            let count = util::children_or_empty(&self.client, &self.path)
                .await?
                .iter()
                .filter(|c| *c != READY)
                .count();
            if count >= self.members {
                let acl = Acl::open_unsafe();
                match util::retry(&self.client, || {
                    self.client
                        .create(&ready, b"", &acl, CreateMode::Persistent)
                })
                .await
                {
                    Ok(_) | Err(Error::Server(ErrorCode::NodeExists)) => return Ok(true),
                    Err(e) => return Err(e),
                }
            }
            match util::until(deadline, watch.changed()).await {
                None => return Ok(false),
                Some(Ok(event)) if event.event_type == EventType::NodeCreated => return Ok(true),
                Some(_) => {
                    let (stat, again) =
                        util::retry(&self.client, || self.client.exists_watch(&ready)).await?;
                    if stat.is_some() {
                        return Ok(true);
                    }
                    watch = again;
                }
            }
        }
    }

    /// Leaves and waits until every member has left: `true`, or `false` after `timeout`.
    /// The lowest member leaves last; the others delete their node and wait for it.
    pub async fn leave(&self, timeout: Option<Duration>) -> Result<bool> {
        let deadline = util::deadline(timeout);
        let ours_path = util::join(&self.path, &self.ours);
        let mut ours_exists = true;
        let mut result = true;
        loop {
            let mut children: Vec<String> = util::children_or_empty(&self.client, &self.path)
                .await?
                .into_iter()
                .filter(|c| c != READY)
                .collect();
            children.sort();
            let index = children.iter().position(|c| *c == self.ours);
            if index.is_none() {
                // Gone (deleted by us, or with a previous session).
                ours_exists = false;
            }
            let (Some(first), Some(last)) = (children.first(), children.last()) else {
                break;
            };
            if children.len() == 1 {
                if ours_exists && *first == self.ours {
                    delete_node(&self.client, &ours_path).await?;
                }
                break;
            }
            let watched = if index == Some(0) {
                util::join(&self.path, last)
            } else {
                if ours_exists {
                    delete_node(&self.client, &ours_path).await?;
                    ours_exists = false;
                }
                util::join(&self.path, first)
            };
            let (stat, watch) =
                util::retry(&self.client, || self.client.exists_watch(&watched)).await?;
            if stat.is_some() && !wait_until(deadline, watch).await {
                result = false;
                break;
            }
        }
        delete_node(&self.client, &self.ready_path()).await?;
        Ok(result)
    }

    fn ready_path(&self) -> String {
        util::join(&self.path, READY)
    }

    async fn create_member(&self) -> Result<()> {
        let acl = Acl::open_unsafe();
        let path = util::join(&self.path, &self.ours);
        for _ in 0..5 {
            match util::retry(&self.client, || {
                self.client
                    .create(&path, &self.data, &acl, CreateMode::Ephemeral)
            })
            .await
            {
                // Our UUID name: an existing node is ours from a lost reply.
                Ok(_) | Err(Error::Server(ErrorCode::NodeExists)) => return Ok(()),
                Err(Error::Server(ErrorCode::NoNode)) => {
                    util::ensure_path(&self.client, &self.path, &acl, CreateMode::Container)
                        .await?;
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::Server(ErrorCode::NoNode))
    }
}

// ----- internals -----

const READY: &str = "ready";

/// Waits for a watch to fire; `false` if the deadline passed first.
async fn wait_until(deadline: Option<Instant>, watch: crate::client::Watch) -> bool {
    util::until(deadline, watch.changed()).await.is_some()
}
