//! [`DataWatcher`] and [`ChildrenWatcher`]: the successive states of one node (kazoo's
//! `DataWatch` and `ChildrenWatch`), kept current with one-shot watches so they work on
//! every server version (persistent watches need 3.6+).
//!
//! The first [`next`](DataWatcher::next) returns the current state at once; each later one
//! waits for a watch to fire, reads the node again (re-arming the watch in the same read)
//! and returns the new state with the event that announced it. The client re-registers the
//! watch after a reconnect and the server fires it at once for a change made meanwhile, so
//! no change is missed; several changes before the read are reported once, as the latest
//! state. Both end (`Ok(None)`) when the session ends.

use super::util;
use crate::client::{Client, Error, Result, Watch, WatchedEvent};
use crate::proto::{ErrorCode, EventType, Stat};

/// A state of the node a [`DataWatcher`] follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataChange {
    /// The node's data and Stat; `None` while the node does not exist.
    pub node: Option<(Vec<u8>, Stat)>,
    /// The notification that led to this state; `None` for the first state.
    pub event: Option<WatchedEvent>,
}

/// A state of the children a [`ChildrenWatcher`] follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildrenChange {
    /// The children's names (unordered, as the server lists them); `None` once the node
    /// itself is gone, after which the watcher ends.
    pub children: Option<Vec<String>>,
    /// The notification that led to this state; `None` for the first state.
    pub event: Option<WatchedEvent>,
}

/// Follows one node's data (kazoo `DataWatch`): created, changed, deleted, created again.
pub struct DataWatcher {
    client: Client,
    path: String,
    watch: Option<Watch>,
    /// The mzxid of the state reported last (`Some(None)`: reported as missing).
    reported: Option<Option<i64>>,
}

/// Follows one node's children (kazoo `ChildrenWatch`) until the node is deleted.
pub struct ChildrenWatcher {
    client: Client,
    path: String,
    watch: Option<Watch>,
    ended: bool,
}

impl DataWatcher {
    /// A watcher of `path`, which need not exist.
    pub fn new(client: &Client, path: &str) -> DataWatcher {
        DataWatcher {
            client: client.clone(),
            path: path.to_owned(),
            watch: None,
            reported: None,
        }
    }

    /// The node's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The current state first, then each new one. A notification after which the node
    /// reads the same as last reported (same `mzxid`, or still missing) is not reported.
    /// `Ok(None)` once the session has ended.
    pub async fn next(&mut self) -> Result<Option<DataChange>> {
        loop {
            // No watch: the first read, or a read that failed last time.
            let event = match self.watch.take() {
                None => None,
                Some(watch) => match fired(watch).await {
                    Some(event) => Some(event),
                    None => return Ok(None),
                },
            };
            let node = match self.read().await {
                Err(e) if ended(&e) => return Ok(None),
                other => other?,
            };
            let version = node.as_ref().map(|(_, stat)| stat.mzxid);
            if self.reported == Some(version) {
                continue;
            }
            self.reported = Some(version);
            return Ok(Some(DataChange { node, event }));
        }
    }

    /// Reads the node and leaves a watch: a data watch if it exists, an exist watch if not.
    async fn read(&mut self) -> Result<Option<(Vec<u8>, Stat)>> {
        let client = &self.client;
        let path = self.path.as_str();
        loop {
            match util::retry(client, || client.get_data_watch(path)).await {
                Ok((data, stat, watch)) => {
                    self.watch = Some(watch);
                    return Ok(Some((data, stat)));
                }
                Err(Error::Server(ErrorCode::NoNode)) => {}
                Err(e) => return Err(e),
            }
            let (stat, watch) = util::retry(client, || client.exists_watch(path)).await?;
            if stat.is_none() {
                self.watch = Some(watch);
                return Ok(None);
            }
            // Created between the two reads: read its data.
        }
    }
}

impl ChildrenWatcher {
    /// A watcher of the children of `path`.
    pub fn new(client: &Client, path: &str) -> ChildrenWatcher {
        ChildrenWatcher {
            client: client.clone(),
            path: path.to_owned(),
            watch: None,
            ended: false,
        }
    }

    /// The node's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The current children first, then the children after each change. When the node is
    /// missing or deleted, reports `children: None` once and ends. `Ok(None)` after that
    /// and once the session has ended.
    pub async fn next(&mut self) -> Result<Option<ChildrenChange>> {
        if self.ended {
            return Ok(None);
        }
        // No watch: the first read, or a read that failed last time.
        let event = match self.watch.take() {
            None => None,
            Some(watch) => match fired(watch).await {
                Some(event) => Some(event),
                None => {
                    self.ended = true;
                    return Ok(None);
                }
            },
        };
        let client = &self.client;
        let path = self.path.as_str();
        match util::retry(client, || client.get_children_watch(path)).await {
            Ok((children, _, watch)) => {
                self.watch = Some(watch);
                Ok(Some(ChildrenChange {
                    children: Some(children),
                    event,
                }))
            }
            Err(Error::Server(ErrorCode::NoNode)) => {
                self.ended = true;
                Ok(Some(ChildrenChange {
                    children: None,
                    event,
                }))
            }
            Err(e) if ended(&e) => {
                self.ended = true;
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

/// The event a one-shot watch delivered; `None` when it ended with the session.
async fn fired(watch: Watch) -> Option<WatchedEvent> {
    match watch.changed().await {
        Ok(event) if event.event_type != EventType::None => Some(event),
        _ => None,
    }
}

/// Errors that mean the session is over, which ends a watcher quietly.
fn ended(error: &Error) -> bool {
    matches!(
        error,
        Error::SessionExpired | Error::Closed | Error::AuthFailed
    )
}
