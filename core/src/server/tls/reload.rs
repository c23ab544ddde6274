//! A TLS configuration rebuilt when its store files change: [`Reloading`] holds the current
//! one; [`Reloading::watch`] looks at the files' size and modification time every period and
//! rebuilds when one changed. New connections take the current config; connections already
//! open keep theirs. A file that does not load (half written, wrong password) keeps the old
//! config, is logged, and is tried again on its next change.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::{Mutex, RwLock};

use super::TlsError;

/// What can be rebuilt from settings that name store files.
pub trait Rebuild: Send + Sync + 'static {
    type Settings: Send + Sync + 'static;
    /// What the log calls it when it is reloaded.
    const WHAT: &'static str;

    fn build(settings: &Self::Settings) -> Result<Arc<Self>, TlsError>;

    /// The files it is built from.
    fn files(settings: &Self::Settings) -> Vec<PathBuf>;
}

/// A file's identity for change detection.
type Stamp = Option<(SystemTime, u64)>;

fn stamp(path: &PathBuf) -> Stamp {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// The current build of `T`, replaced when the store files change.
pub struct Reloading<T: Rebuild> {
    settings: T::Settings,
    current: RwLock<Arc<T>>,
    /// The stamps of the files the current build came from, and of the files that last
    /// failed to load (not tried again until they change once more).
    stamps: Mutex<(Vec<Stamp>, Option<Vec<Stamp>>)>,
}

impl<T: Rebuild> Reloading<T> {
    /// Builds the first one; an error here stops the server from starting.
    pub fn new(settings: T::Settings) -> Result<Reloading<T>, TlsError> {
        let stamps = T::files(&settings).iter().map(stamp).collect();
        let current = T::build(&settings)?;
        Ok(Reloading {
            settings,
            current: RwLock::new(current),
            stamps: Mutex::new((stamps, None)),
        })
    }

    /// The current build.
    pub fn current(&self) -> Arc<T> {
        self.current.read().clone()
    }

    pub fn settings(&self) -> &T::Settings {
        &self.settings
    }

    /// Rebuilds if a store file changed since the last build. `Ok(true)`: swapped.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let now: Vec<Stamp> = T::files(&self.settings).iter().map(stamp).collect();
        {
            let stamps = self.stamps.lock();
            if stamps.0 == now || stamps.1.as_ref() == Some(&now) {
                return Ok(false);
            }
        }
        match T::build(&self.settings) {
            Ok(built) => {
                *self.current.write() = built;
                *self.stamps.lock() = (now, None);
                Ok(true)
            }
            Err(e) => {
                self.stamps.lock().1 = Some(now);
                Err(e)
            }
        }
    }

    /// Polls the store files every `period` until `stop` resolves.
    pub async fn watch(
        self: Arc<Self>,
        period: Duration,
        stop: impl std::future::Future<Output = ()>,
    ) {
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                () = &mut stop => return,
            }
            let me = self.clone();
            match tokio::task::spawn_blocking(move || me.reload_if_changed()).await {
                Ok(Ok(true)) => tracing::info!("reloaded {}", T::WHAT),
                Ok(Ok(false)) => {}
                Ok(Err(e)) => tracing::warn!(
                    "keeping the previous TLS configuration: {} did not load: {e}",
                    T::WHAT
                ),
                Err(e) => tracing::warn!("reload of {} failed: {e}", T::WHAT),
            }
        }
    }
}
