//! kazoo's recipes over `zk_core::recipes`, on kazoo's znode layouts so they work with
//! kazoo clients on the same paths: `Lock`, `ReadLock`, `WriteLock`, `Semaphore`
//! (`lock.rs`), `Election` (`election.rs`), `Queue`, `LockingQueue` (`queue.rs`),
//! `Barrier`, `DoubleBarrier`, `Counter`, `Party` (`coordination.rs`), `TreeCache`
//! (`cache.rs`); and Hadoop's `ActiveStandbyElector` with its `ActiveNodeInfo`
//! (`elector.rs`), which opens sessions of its own. The others take the `Client` first
//! and fetch its session at each call, so a recipe made before `start()` works after it.

pub mod cache;
pub mod coordination;
pub mod election;
pub mod elector;
pub mod lock;
pub mod queue;

use std::future::Future;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use tokio::sync::watch;

/// kazoo's `str(identifier or "").encode("utf-8")` (bytes are taken as they are).
pub fn identifier(value: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<u8>> {
    let Some(value) = value.filter(|v| !v.is_none()) else {
        return Ok(Vec::new());
    };
    if let Ok(bytes) = value.cast::<PyBytes>() {
        return Ok(bytes.as_bytes().to_vec());
    }
    if let Ok(text) = value.cast::<PyString>() {
        return Ok(text.to_cow()?.as_bytes().to_vec());
    }
    Ok(value.str()?.to_cow()?.as_bytes().to_vec())
}

/// Lets `cancel()` from another thread stop a pending acquire: each acquire watches for
/// the count to move past the value it started with.
pub struct Cancel {
    count: watch::Sender<u64>,
}

impl Default for Cancel {
    fn default() -> Self {
        Cancel {
            count: watch::channel(0).0,
        }
    }
}

impl Cancel {
    /// Cancels the acquires pending now.
    pub fn cancel(&self) {
        self.count.send_modify(|c| *c += 1);
    }

    /// `fut`, or `None` if `cancel()` is called first.
    pub fn guard<F: Future>(&self, fut: F) -> impl Future<Output = Option<F::Output>> {
        let mut rx = self.count.subscribe();
        let start = *rx.borrow_and_update();
        async move {
            let cancelled = async {
                // A recipe object dropped while its acquire runs does not cancel it.
                if rx.wait_for(|c| *c != start).await.is_err() {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                out = fut => Some(out),
                () = cancelled => None,
            }
        }
    }
}

/// The `layout=` argument of the locks.
pub fn layout(value: &str) -> PyResult<zk_core::recipes::Layout> {
    match value {
        "kazoo" => Ok(zk_core::recipes::Layout::Kazoo),
        "curator" => Ok(zk_core::recipes::Layout::Curator),
        other => Err(pyo3::exceptions::PyValueError::new_err(format!(
            "layout must be \"kazoo\" or \"curator\", not {other:?}"
        ))),
    }
}
