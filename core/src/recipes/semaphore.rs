//! [`Semaphore`] on Curator's `InterProcessSemaphoreV2` layout.
//!
//! `<path>/locks` is a [`Mutex`] serialising acquirers; `<path>/leases` holds one ephemeral
//! sequential node `_c_<uuid>-lease-<seq>` per lease. An acquirer takes the mutex, creates
//! its lease node and, while there are more lease nodes than `max_leases`, waits for the
//! children of `leases` to change; then it releases the mutex. Only the mutex holder
//! waits on `leases`, so a returned lease wakes one acquirer.
//!
//! [`Layout::Kazoo`] writes kazoo's `Semaphore` layout instead: the mutex is a kazoo lock at
//! `<path>-__lock__`, each lease is an ephemeral `<path>/<uuid hex>` whose data is the
//! holder's identifier, and `<path>`'s data holds `max_leases` as decimal text, which every
//! participant checks against its own (a mismatch is a `BadArguments` error, as kazoo's
//! `ValueError`). The two layouts do not see each other.

use std::time::Duration;

use tokio::time::Instant;

use super::lock::{delete_node, Cleanup, LockGuard, Mutex};
use super::util;
use super::Layout;
use crate::client::{Client, Error, Result};
use crate::proto::{Acl, CreateMode, ErrorCode};

/// A counting semaphore: at most `max_leases` holders at a time.
#[derive(Clone)]
pub struct Semaphore {
    client: Client,
    path: String,
    max_leases: usize,
    data: Vec<u8>,
    layout: Layout,
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
            layout: Layout::Curator,
        }
    }

    /// Which library's layout to use (see the module doc); Curator's by default.
    pub fn layout(mut self, layout: Layout) -> Semaphore {
        self.layout = layout;
        self
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

    /// The data of every lease node (the holders' identifiers), unordered.
    pub async fn holders(&self) -> Result<Vec<Vec<u8>>> {
        let dir = self.leases_path();
        let mut out = Vec::new();
        for name in util::children_or_empty(&self.client, &dir).await? {
            let path = util::join(&dir, &name);
            match util::retry(&self.client, || self.client.get_data(&path)).await {
                Ok((data, _)) => out.push(data),
                Err(Error::Server(ErrorCode::NoNode)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    fn leases_path(&self) -> String {
        match self.layout {
            Layout::Curator => util::join(&self.path, "leases"),
            Layout::Kazoo => self.path.clone(),
        }
    }

    async fn acquire_inner(&self, deadline: Option<Instant>) -> Result<Option<LockGuard>> {
        if self.max_leases == 0 {
            return Err(Error::BadArguments(
                "a semaphore needs max_leases >= 1".into(),
            ));
        }
        if self.layout == Layout::Kazoo {
            return self.acquire_kazoo(deadline).await;
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

// ----- kazoo's layout -----

impl Semaphore {
    async fn acquire_kazoo(&self, deadline: Option<Instant>) -> Result<Option<LockGuard>> {
        self.check_max_leases().await?;
        let mutex = Mutex::new(&self.client, &format!("{}-__lock__", self.path))
            .layout(Layout::Kazoo)
            .data(&self.data);
        let Some(lock) = mutex.acquire_inner(deadline, true).await? else {
            return Ok(None);
        };
        let outcome = self.take_kazoo_lease(deadline).await;
        lock.release().await?;
        outcome
    }

    /// Holding the mutex: creates our lease node once fewer than `max_leases` exist.
    async fn take_kazoo_lease(&self, deadline: Option<Instant>) -> Result<Option<LockGuard>> {
        let ours = util::uuid_v4().replace('-', "");
        let lease = util::join(&self.path, &ours);
        let acl = Acl::open_unsafe();
        loop {
            // Subscribed before the lease exists, so a suspension after it is seen by the guard.
            let events = self.client.state_events();
            let (children, _, watch) =
                util::retry(&self.client, || self.client.get_children_watch(&self.path)).await?;
            if children.len() < self.max_leases || children.contains(&ours) {
                let created = util::retry(&self.client, || async {
                    match self
                        .client
                        .create(&lease, &self.data, &acl, CreateMode::Ephemeral)
                        .await
                    {
                        Ok((_, stat)) => Ok(stat),
                        // Our own create, applied before a connection loss.
                        Err(Error::Server(ErrorCode::NodeExists)) => self
                            .client
                            .exists(&lease)
                            .await?
                            .ok_or(Error::Server(ErrorCode::NoNode)),
                        Err(e) => Err(e),
                    }
                })
                .await?;
                return Ok(Some(LockGuard::new(
                    self.client.clone(),
                    lease,
                    created.czxid,
                    events,
                )));
            }
            if util::until(deadline, watch.changed()).await.is_none() {
                return Ok(None);
            }
        }
    }

    /// Creates `<path>` holding `max_leases`, or checks the number it holds (non-numeric
    /// data is ignored, as kazoo does).
    async fn check_max_leases(&self) -> Result<()> {
        let acl = Acl::open_unsafe();
        let text = self.max_leases.to_string();
        let (parent, _) = util::split(&self.path)?;
        util::ensure_path(&self.client, parent, &acl, CreateMode::Persistent).await?;
        let created = util::retry(&self.client, || {
            self.client
                .create(&self.path, text.as_bytes(), &acl, CreateMode::Persistent)
        })
        .await;
        match created {
            Ok(_) => return Ok(()),
            Err(Error::Server(ErrorCode::NodeExists)) => {}
            Err(e) => return Err(e),
        }
        let (data, _) = util::retry(&self.client, || self.client.get_data(&self.path)).await?;
        let stored = std::str::from_utf8(&data)
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok());
        match stored {
            Some(n) if n != self.max_leases => Err(Error::BadArguments(format!(
                "semaphore {}: inconsistent max leases: {} here, {} stored",
                self.path, self.max_leases, n
            ))),
            _ => Ok(()),
        }
    }
}
