//! [`LockingQueue`] on kazoo's `LockingQueue` layout: an entry is locked while it is being
//! processed and removed only once the consumer says it is done, so an entry whose
//! consumer dies is taken again by another.
//!
//! ```text
//! <path>/entries/entry-<priority:03>-<seq>   persistent sequential, data = item
//! <path>/taken/entry-<priority:03>-<seq>     ephemeral, data = the taker's id (32 hex digits)
//! ```
//!
//! Entries are taken in name order (priority, then sequence), skipping locked ones.
//! Writes whose reply is lost (put, put_all, consume) are resolved with an outcome marker
//! created in the same multi (`<path>/markers/<uuid>`, see the `recipes` module doc), so
//! a put is never applied twice. A lock whose reply is lost is recognised by its data.

use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

use super::util::{self, Outcome};
use crate::client::{Client, Error, Op, Result};
use crate::proto::{Acl, CreateMode, ErrorCode};

/// A queue whose entries are locked while processed (kazoo `LockingQueue`).
pub struct LockingQueue {
    client: Client,
    path: String,
    id: Vec<u8>,
    /// The entry this consumer holds: (name, item).
    processing: Mutex<Option<(String, Vec<u8>)>>,
}

const DEFAULT_PRIORITY: u16 = 100;

impl LockingQueue {
    /// A queue at `path` (created on first use).
    pub fn new(client: &Client, path: &str) -> LockingQueue {
        LockingQueue {
            client: client.clone(),
            path: path.to_owned(),
            id: util::uuid_v4().replace('-', "").into_bytes(),
            processing: Mutex::new(None),
        }
    }

    /// The queue's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Adds `item` with the default priority (100).
    pub async fn put(&self, item: &[u8]) -> Result<()> {
        self.put_all(&[item], DEFAULT_PRIORITY).await
    }

    /// Adds every item, all or none, with `priority` (0..=999, lower first).
    pub async fn put_all(&self, items: &[&[u8]], priority: u16) -> Result<()> {
        if priority > 999 {
            return Err(Error::BadArguments(format!(
                "queue priority {priority} is not in 0..=999"
            )));
        }
        if items.is_empty() {
            return Ok(());
        }
        self.ensure_paths().await?;
        let entry = util::join(&self.entries(), &format!("entry-{priority:03}-"));
        let acl = Acl::open_unsafe();
        loop {
            let ops = items
                .iter()
                .map(|item| Op::create(&entry, item, &acl, CreateMode::PersistentSequential))
                .collect();
            match util::multi_with_marker(&self.client, ops, &self.marker()).await? {
                Outcome::Applied => return Ok(()),
                Outcome::NotApplied => {}
            }
        }
    }

    /// Locks the first unlocked entry and returns its item, waiting up to `timeout` for
    /// one (`None`: as long as it takes); `None` if none came. If this consumer already
    /// holds an entry (neither consumed nor released), returns that one again.
    pub async fn get(&self, timeout: Option<Duration>) -> Result<Option<Vec<u8>>> {
        if let Some((_, item)) = self.processing.lock().as_ref() {
            return Ok(Some(item.clone()));
        }
        self.ensure_paths().await?;
        let deadline: Option<Instant> = util::deadline(timeout);
        let (entries_dir, taken_dir) = (self.entries(), self.taken());
        loop {
            let (entries, _, entries_changed) = util::retry(&self.client, || {
                self.client.get_children_watch(&entries_dir)
            })
            .await?;
            let (taken, _, taken_changed) =
                util::retry(&self.client, || self.client.get_children_watch(&taken_dir)).await?;
            let mut available: Vec<String> = entries
                .into_iter()
                .filter(|name| !taken.contains(name))
                .collect();
            available.sort();
            for name in available {
                if let Some(item) = self.take(&name).await? {
                    *self.processing.lock() = Some((name, item.clone()));
                    return Ok(Some(item));
                }
            }
            let changed = async {
                tokio::select! {
                    _ = entries_changed.changed() => {}
                    _ = taken_changed.changed() => {}
                }
            };
            if util::until(deadline, changed).await.is_none() {
                return Ok(None);
            }
        }
    }

    /// Whether this consumer holds an entry and its lock node is still there and ours.
    pub async fn holds_lock(&self) -> Result<bool> {
        let Some(name) = self.held_name() else {
            return Ok(false);
        };
        let lock = util::join(&self.taken(), &name);
        let read = util::retry(&self.client, || async {
            match self.client.sync(&lock).await {
                Ok(()) | Err(Error::Server(ErrorCode::NoNode)) => {}
                Err(e) => return Err(e),
            }
            self.client.get_data(&lock).await
        })
        .await;
        match read {
            Ok((data, _)) => Ok(data == self.id),
            Err(Error::Server(ErrorCode::NoNode)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Removes the held entry from the queue; `false` if none is held (or the lock was lost).
    pub async fn consume(&self) -> Result<bool> {
        self.finish(true).await
    }

    /// Unlocks the held entry without removing it, for another consumer to take; `false`
    /// if none is held (or the lock was lost).
    pub async fn release(&self) -> Result<bool> {
        self.finish(false).await
    }

    /// How many entries the queue has, locked ones included.
    pub async fn len(&self) -> Result<usize> {
        let entries = self.entries();
        match util::retry(&self.client, || self.client.exists(&entries)).await? {
            Some(stat) => Ok(usize::try_from(stat.num_children).unwrap_or(0)),
            None => Ok(0),
        }
    }

    /// Whether the queue has no entries.
    pub async fn is_empty(&self) -> Result<bool> {
        Ok(self.len().await? == 0)
    }

    // ----- internals -----

    fn entries(&self) -> String {
        util::join(&self.path, "entries")
    }

    fn taken(&self) -> String {
        util::join(&self.path, "taken")
    }

    fn marker(&self) -> String {
        util::join(&util::join(&self.path, "markers"), &util::uuid_v4())
    }

    fn held_name(&self) -> Option<String> {
        self.processing
            .lock()
            .as_ref()
            .map(|(name, _)| name.clone())
    }

    async fn ensure_paths(&self) -> Result<()> {
        let acl = Acl::open_unsafe();
        for dir in [
            self.entries(),
            self.taken(),
            util::join(&self.path, "markers"),
        ] {
            util::ensure_path(&self.client, &dir, &acl, CreateMode::Persistent).await?;
        }
        Ok(())
    }

    /// Locks the entry `name` and reads its item; `None` if someone else holds it or it
    /// was consumed meanwhile.
    async fn take(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let lock = util::join(&self.taken(), name);
        let acl = Acl::open_unsafe();
        let locked = util::retry(&self.client, || async {
            match self
                .client
                .create(&lock, &self.id, &acl, CreateMode::Ephemeral)
                .await
            {
                Ok(_) => Ok(true),
                Err(Error::Server(ErrorCode::NodeExists)) => {
                    // Ours if our create was applied before a connection loss.
                    match self.client.get_data(&lock).await {
                        Ok((data, _)) => Ok(data == self.id),
                        Err(Error::Server(ErrorCode::NoNode)) => Ok(false),
                        Err(e) => Err(e),
                    }
                }
                Err(e) => Err(e),
            }
        })
        .await?;
        if !locked {
            return Ok(None);
        }
        let entry = util::join(&self.entries(), name);
        match util::retry(&self.client, || self.client.get_data(&entry)).await {
            Ok((item, _)) => Ok(Some(item)),
            Err(Error::Server(ErrorCode::NoNode)) => {
                super::lock::delete_node(&self.client, &lock).await?;
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    async fn finish(&self, consume: bool) -> Result<bool> {
        let Some(name) = self.held_name() else {
            return Ok(false);
        };
        if !self.holds_lock().await? {
            *self.processing.lock() = None;
            return Ok(false);
        }
        let lock = util::join(&self.taken(), &name);
        if consume {
            let entry = util::join(&self.entries(), &name);
            let ops = vec![Op::delete(&entry, -1), Op::delete(&lock, -1)];
            loop {
                match util::multi_with_marker(&self.client, ops.clone(), &self.marker()).await? {
                    Outcome::Applied => break,
                    Outcome::NotApplied => {}
                }
            }
        } else {
            super::lock::delete_node(&self.client, &lock).await?;
        }
        *self.processing.lock() = None;
        Ok(true)
    }
}
