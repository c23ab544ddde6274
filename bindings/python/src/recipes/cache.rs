//! kazoo's `TreeCache` over the core's `TreeCache` (one persistent recursive watch).

use std::sync::Arc;

use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::PyFrozenSet;
use zk_core::recipes::{CacheEvent, ChildData, TreeCache as CoreTreeCache};

use crate::client::{PyClient, Shared};
use crate::error;
use crate::runtime::{self, Owned};
use crate::types;

/// kazoo's `TreeEvent` types.
const NODE_ADDED: i32 = 0;
const NODE_UPDATED: i32 = 1;
const NODE_REMOVED: i32 = 2;
const CONNECTION_SUSPENDED: i32 = 3;
const CONNECTION_RECONNECTED: i32 = 4;
const CONNECTION_LOST: i32 = 5;
const INITIALIZED: i32 = 6;

/// kazoo's `TreeCache`: a local copy of `path` and everything below it, kept current by
/// one persistent recursive watch. `listen(func)` gets a `TreeEvent` for each change
/// (`NODE_ADDED` for every node of the first load, then `INITIALIZED`), on the client's
/// dispatch thread. After a reconnect the cache reloads and reports the differences, then
/// `CONNECTION_RECONNECTED`.
#[pyclass(module = "zk", frozen)]
pub struct TreeCache {
    client: Arc<Shared>,
    path: String,
    cache: Mutex<Option<Arc<Owned<CoreTreeCache>>>>,
    listeners: Arc<Mutex<Vec<Py<PyAny>>>>,
    forwarder: Mutex<Option<tokio::task::AbortHandle>>,
}

fn node_data(py: Python<'_>, data: &ChildData) -> PyResult<Py<PyAny>> {
    types::node_data(py, &data.path, &data.data, data.stat.clone())
}

fn tree_event(py: Python<'_>, event: &CacheEvent) -> PyResult<Py<PyAny>> {
    let (kind, data) = match event {
        CacheEvent::Created(d) => (NODE_ADDED, Some(node_data(py, d)?)),
        CacheEvent::Changed(d) => (NODE_UPDATED, Some(node_data(py, d)?)),
        CacheEvent::Deleted(d) => (NODE_REMOVED, Some(node_data(py, d)?)),
        CacheEvent::Initialized => (INITIALIZED, None),
        CacheEvent::Suspended => (CONNECTION_SUSPENDED, None),
        CacheEvent::Resynced => (CONNECTION_RECONNECTED, None),
        CacheEvent::Closed => (CONNECTION_LOST, None),
    };
    types::tree_event(py, kind, data)
}

impl TreeCache {
    fn running(&self, py: Python<'_>) -> PyResult<Arc<Owned<CoreTreeCache>>> {
        self.cache.lock().clone().ok_or_else(|| {
            error::with_code(
                py,
                zk_core::proto::ErrorCode::InvalidState,
                "the TreeCache is not started (call start())",
            )
        })
    }
}

#[pymethods]
impl TreeCache {
    #[new]
    fn new(client: &Bound<'_, PyClient>, path: String) -> TreeCache {
        TreeCache {
            client: client.get().shared.clone(),
            path,
            cache: Mutex::new(None),
            listeners: Arc::default(),
            forwarder: Mutex::new(None),
        }
    }

    /// The cached subtree's root.
    #[getter]
    fn path(&self) -> String {
        self.path.clone()
    }

    /// Loads the subtree and starts following it.
    fn start(&self, py: Python<'_>) -> PyResult<()> {
        if self.cache.lock().is_some() {
            return Ok(());
        }
        let client = self.client.core(py)?;
        let path = self.path.clone();
        let (cache, mut events) =
            runtime::wait(
                py,
                async move { CoreTreeCache::start(&client, &path).await },
            )?
            .map_err(|e| error::to_py(py, e))?;
        *self.cache.lock() = Some(Arc::new(Owned::new(cache)));
        let listeners = self.listeners.clone();
        let callbacks = self.client.callbacks.clone();
        let task = runtime::handle().spawn(async move {
            while let Some(event) = events.next().await {
                let listeners = listeners.clone();
                let last = event == CacheEvent::Closed;
                callbacks.call(move |py| {
                    let event = tree_event(py, &event)?;
                    let listeners: Vec<Py<PyAny>> =
                        listeners.lock().iter().map(|l| l.clone_ref(py)).collect();
                    for listener in listeners {
                        if let Err(e) = listener.call1(py, (event.clone_ref(py),)) {
                            crate::dispatch::log_callback_error(py, e);
                        }
                    }
                    Ok(())
                });
                if last {
                    return;
                }
            }
        });
        *self.forwarder.lock() = Some(task.abort_handle());
        Ok(())
    }

    /// Stops following the subtree (listeners get `CONNECTION_LOST`).
    fn close(&self) {
        // Dropping the core cache ends its task, which reports Closed and ends ours.
        self.cache.lock().take();
    }

    /// Calls `func(TreeEvent)` for every later event.
    fn listen(&self, func: Bound<'_, PyAny>) {
        self.listeners.lock().push(func.unbind());
    }

    /// The cached `NodeData(path, data, stat)` of `path`, or `None` if it is not in the
    /// tree.
    fn get_data(&self, py: Python<'_>, path: &str) -> PyResult<Py<PyAny>> {
        match self.running(py)?.get(path) {
            Some(data) => node_data(py, &data),
            None => Ok(py.None()),
        }
    }

    /// The cached children's names of `path` (a frozenset), or `None` if it is not in the
    /// tree.
    fn get_children(&self, py: Python<'_>, path: &str) -> PyResult<Py<PyAny>> {
        let cache = self.running(py)?;
        if cache.get(path).is_none() {
            return Ok(py.None());
        }
        Ok(PyFrozenSet::new(py, cache.children(path))?
            .into_any()
            .unbind())
    }
}
