//! [`Semaphore`] on Curator's `InterProcessSemaphoreV2` layout.
//!
//! `<path>/locks` is a [`Mutex`] serialising acquirers; `<path>/leases` holds one ephemeral
//! sequential node `_c_<uuid>-lease-<seq>` per lease. An acquirer takes the mutex, creates
//! its lease node and, while there are more lease nodes than `max_leases`, waits for the
//! children of `leases` to change; then it releases the mutex. Only the mutex holder
//! waits on `leases`, so a returned lease wakes one acquirer. (kazoo's `Semaphore` keeps
//! its leases directly under `<path>` and is not compatible with this layout.)

use std::time::Duration;

use tokio::time::Instant;

use super::lock::{delete_node, Cleanup, LockGuard, Mutex};
use super::util;
use crate::client::{Client, Error, Result};
use crate::proto::{CreateMode, ErrorCode};

/// A counting semaphore: at most `max_leases` holders at a time.
#[derive(Clone)]
pub struct Semaphore {
    client: Client,
    path: String,
    max_leases: usize,
    data: Vec<u8>,
}

impl Semaphore {
    /// A semaphore on `path` with `max_leases` leases (every participant must agree on
    /// the number, as with Curator).
    pub fn new(client: &Client, path: &str, max_leases: usize) -> Semaphore {
        Semaphore {
            client: client.clone(),
            path: path.to_owned(),
            max_leases,
            data: Vec::new(),
        }
    }

    /// Data stored in this process's lease nodes.
    pub fn data(mut self, data: &[u8]) -> Semaphore {
        self.data = data.to_vec();
        self
    }

    /// Waits for a lease as long as it takes.
    pub async fn acquire(&self) -> Result<LockGuard> {
        match self.acquire_inner(None).await? {
            Some(lease) => Ok(lease),
            None => Err(Error::Timeout),
        }
    }

    /// Waits at most `timeout` for a lease.
    pub async fn acquire_timeout(&self, timeout: Duration) -> Result<Option<LockGuard>> {
        self.acquire_inner(util::deadline(Some(timeout))).await
    }

    /// The lease nodes' names (unordered).
    pub async fn lease_nodes(&self) -> Result<Vec<String>> {
        util::children_or_empty(&self.client, &self.leases_path()).await
    }

    fn leases_path(&self) -> String {
        util::join(&self.path, "leases")
    }

    async fn acquire_inner(&self, deadline: Option<Instant>) -> Result<Option<LockGuard>> {
        if self.max_leases == 0 {
            return Err(Error::BadArguments(
                "a semaphore needs max_leases >= 1".into(),
            ));
        }
        let mutex = Mutex::new(&self.client, &util::join(&self.path, "locks"));
        let leases = self.leases_path();
        for _ in 0..10 {
            let Some(lock) = mutex.acquire_inner(deadline, true).await? else {
                return Ok(None);
            };
            let (lease, stat) = util::create_protected_in(
                &self.client,
                &util::join(&leases, "lease-"),
                &self.data,
                CreateMode::EphemeralSequential,
            )
            .await?;
            let mut cleanup = Cleanup::new(&self.client, &lease);
            let ours = util::name_of(&lease).to_owned();
            let outcome = loop {
                let events = self.client.state_events();
                let (children, _, watch) =
                    util::retry(&self.client, || self.client.get_children_watch(&leases)).await?;
                if !children.contains(&ours) {
                    break None;
                }
                if children.len() <= self.max_leases {
                    break Some(Some(events));
                }
                if util::until(deadline, watch.changed()).await.is_none() {
                    break Some(None);
                }
            };
            match outcome {
                Some(Some(events)) => {
                    cleanup.disarm();
                    lock.release().await?;
                    return Ok(Some(LockGuard::new(
                        self.client.clone(),
                        lease,
                        stat.czxid,
                        events,
                    )));
                }
                Some(None) => {
                    cleanup.disarm();
                    delete_node(&self.client, &lease).await?;
                    lock.release().await?;
                    return Ok(None);
                }
                // Our lease node vanished: start over.
                None => {
                    cleanup.disarm();
                    lock.release().await?;
                }
            }
        }
        Err(Error::Server(ErrorCode::NoNode))
    }
}
