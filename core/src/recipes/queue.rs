//! [`Queue`] on kazoo's `Queue` layout: items are persistent sequential nodes
//! `<path>/entry-<priority:03>-<seq>` whose data is the item; consumers take the child
//! that sorts first as text (lower priority number first, then FIFO), read it and delete
//! it. Curator's `SimpleDistributedQueue` (`qn-<seq>`) is the same idea with another
//! prefix; kazoo's was chosen so our queue and kazoo's share items.
//!
//! A put or take whose reply is lost still gets a definite answer: the write runs in a
//! multi with an ephemeral outcome marker `<path>-markers/<uuid>` (entry names cannot be
//! protected with `_c_<uuid>-` without breaking kazoo's text order), so after the reconnect
//! the marker says whether it happened. Each item is so put once and taken by exactly one
//! consumer.

use std::time::Duration;

use tokio::time::Instant;

use super::util::{self, Outcome};
use crate::client::{Client, Error, Op, Result};
use crate::proto::{Acl, CreateMode, ErrorCode};

/// A distributed FIFO queue with optional priorities.
#[derive(Clone)]
pub struct Queue {
    client: Client,
    path: String,
}

/// kazoo's default priority.
const DEFAULT_PRIORITY: u16 = 100;

impl Queue {
    pub fn new(client: &Client, path: &str) -> Queue {
        Queue {
            client: client.clone(),
            path: path.to_owned(),
        }
    }

    /// Appends `item` with the default priority (100, as kazoo).
    pub async fn put(&self, item: &[u8]) -> Result<()> {
        self.put_with_priority(item, DEFAULT_PRIORITY).await
    }

    /// Appends `item`; items of a lower `priority` (0..=999) are taken first.
    pub async fn put_with_priority(&self, item: &[u8], priority: u16) -> Result<()> {
        if priority > 999 {
            return Err(Error::BadArguments(format!(
                "queue priority {priority} is not in 0..=999"
            )));
        }
        let entry = util::join(&self.path, &format!("entry-{priority:03}-"));
        let acl = Acl::open_unsafe();
        let mut ensured = false;
        loop {
            let op = Op::create(&entry, item, &acl, CreateMode::PersistentSequential);
            match util::multi_with_marker(&self.client, vec![op], &self.marker()).await {
                Ok(Outcome::Applied) => return Ok(()),
                Ok(Outcome::NotApplied) => {}
                Err(Error::Multi {
                    code: ErrorCode::NoNode,
                    ..
                }) if !ensured => {
                    ensured = true;
                    self.ensure_paths().await?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Removes and returns the first item, or `None` if the queue is empty.
    pub async fn take(&self) -> Result<Option<Vec<u8>>> {
        loop {
            let children = util::children_or_empty(&self.client, &self.path).await?;
            if children.is_empty() {
                return Ok(None);
            }
            if let Some(item) = self.take_first(children).await? {
                return Ok(Some(item));
            }
        }
    }

    /// Removes and returns the first item, waiting for one up to `timeout` (`None`:
    /// forever); `None` if none arrived in time.
    pub async fn take_timeout(&self, timeout: Option<Duration>) -> Result<Option<Vec<u8>>> {
        let deadline: Option<Instant> = util::deadline(timeout);
        loop {
            let watched =
                util::retry(&self.client, || self.client.get_children_watch(&self.path)).await;
            let (children, watch) = match watched {
                Ok((children, _, watch)) => (children, watch),
                Err(Error::Server(ErrorCode::NoNode)) => {
                    self.ensure_paths().await?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            if !children.is_empty() {
                if let Some(item) = self.take_first(children).await? {
                    return Ok(Some(item));
                }
                continue;
            }
            if util::until(deadline, watch.changed()).await.is_none() {
                return Ok(None);
            }
        }
    }

    /// How many items are queued.
    pub async fn len(&self) -> Result<usize> {
        Ok(util::children_or_empty(&self.client, &self.path)
            .await?
            .len())
    }

    /// Whether the queue is empty.
    pub async fn is_empty(&self) -> Result<bool> {
        Ok(self.len().await? == 0)
    }

    /// Takes the first of `children` that nobody else takes first; `None` if all went.
    async fn take_first(&self, mut children: Vec<String>) -> Result<Option<Vec<u8>>> {
        // kazoo's order: the names as text (entry-<priority>-<seq>, fixed width).
        children.sort();
        for name in children {
            let path = util::join(&self.path, &name);
            loop {
                let data = match util::retry(&self.client, || self.client.get_data(&path)).await {
                    Ok((data, _)) => data,
                    Err(Error::Server(ErrorCode::NoNode)) => break,
                    Err(e) => return Err(e),
                };
                let op = Op::delete(&path, -1);
                match util::multi_with_marker(&self.client, vec![op], &self.marker()).await {
                    Ok(Outcome::Applied) => return Ok(Some(data)),
                    Ok(Outcome::NotApplied) => {}
                    Err(Error::Multi {
                        index: 0,
                        code: ErrorCode::NoNode,
                        ..
                    }) => break,
                    Err(Error::Multi {
                        code: ErrorCode::NoNode,
                        ..
                    }) => self.ensure_paths().await?,
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(None)
    }

    fn markers_path(&self) -> String {
        format!("{}-markers", self.path)
    }

    fn marker(&self) -> String {
        util::join(&self.markers_path(), &util::uuid_v4())
    }

    async fn ensure_paths(&self) -> Result<()> {
        let acl = Acl::open_unsafe();
        util::ensure_path(&self.client, &self.path, &acl, CreateMode::Persistent).await?;
        util::ensure_path(
            &self.client,
            &self.markers_path(),
            &acl,
            CreateMode::Persistent,
        )
        .await
    }
}
