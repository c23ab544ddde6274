//! kazoo's `Queue` and `LockingQueue` over the core's `Queue` and `LockingQueue`.

use std::sync::Arc;

use parking_lot::Mutex;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::PyBytes;
use zk_core::recipes::{LockingQueue as CoreLockingQueue, Queue as CoreQueue};

use crate::client::{PyClient, Shared};
use crate::error;
use crate::runtime::{self, Owned};
use crate::types;

fn priority_arg(priority: i64) -> PyResult<u16> {
    u16::try_from(priority)
        .ok()
        .filter(|p| *p <= 999)
        .ok_or_else(|| PyValueError::new_err("priority must be between 0 and 999"))
}

fn item(py: Python<'_>, value: Option<Vec<u8>>) -> Py<PyAny> {
    match value {
        Some(bytes) => PyBytes::new(py, &bytes).into_any().unbind(),
        None => py.None(),
    }
}

/// kazoo's `Queue`: a FIFO queue with priorities (lower first). `get()` takes the first
/// entry or returns `None` at once if there is none; `get(block=True, timeout=t)` waits
/// for one. An entry is removed as it is taken (see `LockingQueue` for one that survives
/// a consumer's crash).
#[pyclass(module = "zk", frozen)]
pub struct Queue {
    client: Arc<Shared>,
    path: String,
}

impl Queue {
    fn core(&self, py: Python<'_>) -> PyResult<CoreQueue> {
        Ok(CoreQueue::new(&self.client.core(py)?, &self.path))
    }
}

#[pymethods]
impl Queue {
    #[new]
    fn new(client: &Bound<'_, PyClient>, path: String) -> Queue {
        Queue {
            client: client.get().shared.clone(),
            path,
        }
    }

    /// The queue's path.
    #[getter]
    fn path(&self) -> String {
        self.path.clone()
    }

    /// Adds an entry (`bytes`) with `priority` 0..999.
    #[pyo3(signature = (value, priority = 100))]
    fn put(&self, py: Python<'_>, value: &Bound<'_, PyAny>, priority: i64) -> PyResult<()> {
        let data = types::data_arg(value, "value")?;
        let priority = priority_arg(priority)?;
        let queue = self.core(py)?;
        runtime::wait(
            py,
            async move { queue.put_with_priority(&data, priority).await },
        )?
        .map_err(|e| error::to_py(py, e))
    }

    /// Takes the first entry: `None` if there is none (after waiting up to `timeout`
    /// seconds, or for ever with `block=True` and no timeout).
    #[pyo3(signature = (block = false, timeout = None))]
    fn get(&self, py: Python<'_>, block: bool, timeout: Option<f64>) -> PyResult<Py<PyAny>> {
        let timeout = types::seconds(timeout, "timeout")?;
        let queue = self.core(py)?;
        let taken = if block {
            runtime::wait(py, async move { queue.take_timeout(timeout).await })?
        } else {
            runtime::wait(py, async move { queue.take().await })?
        };
        Ok(item(py, taken.map_err(|e| error::to_py(py, e))?))
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        let queue = self.core(py)?;
        runtime::wait(py, async move { queue.len().await })?.map_err(|e| error::to_py(py, e))
    }
}

/// kazoo's `LockingQueue`: `get()` locks the first free entry (the lock is ephemeral) and
/// returns it; `consume()` removes it once processed, `release()` gives it back. An entry
/// whose consumer's session ends goes back to the queue.
#[pyclass(module = "zk", frozen)]
pub struct LockingQueue {
    client: Arc<Shared>,
    path: String,
    /// Made on first use and kept: it remembers the entry this consumer holds.
    core: Mutex<Option<Arc<Owned<CoreLockingQueue>>>>,
}

impl LockingQueue {
    fn core(&self, py: Python<'_>) -> PyResult<Arc<Owned<CoreLockingQueue>>> {
        let client = self.client.core(py)?;
        let mut core = self.core.lock();
        Ok(core
            .get_or_insert_with(|| Arc::new(Owned::new(CoreLockingQueue::new(&client, &self.path))))
            .clone())
    }
}

#[pymethods]
impl LockingQueue {
    #[new]
    fn new(client: &Bound<'_, PyClient>, path: String) -> LockingQueue {
        LockingQueue {
            client: client.get().shared.clone(),
            path,
            core: Mutex::new(None),
        }
    }

    /// The queue's path.
    #[getter]
    fn path(&self) -> String {
        self.path.clone()
    }

    /// Adds an entry (`bytes`) with `priority` 0..999.
    #[pyo3(signature = (value, priority = 100))]
    fn put(&self, py: Python<'_>, value: &Bound<'_, PyAny>, priority: i64) -> PyResult<()> {
        let data = types::data_arg(value, "value")?;
        let priority = priority_arg(priority)?;
        let queue = self.core(py)?;
        runtime::wait(py, async move { queue.put_all(&[&data], priority).await })?
            .map_err(|e| error::to_py(py, e))
    }

    /// Adds every entry of `values` (a list of `bytes`), all or none.
    #[pyo3(signature = (values, priority = 100))]
    fn put_all(&self, py: Python<'_>, values: &Bound<'_, PyAny>, priority: i64) -> PyResult<()> {
        let list = values
            .cast::<pyo3::types::PyList>()
            .map_err(|_| PyTypeError::new_err("values must be a list of bytes"))?;
        let items: Vec<PyBackedBytes> = list
            .iter()
            .map(|v| types::data_arg(&v, "value"))
            .collect::<PyResult<_>>()?;
        let priority = priority_arg(priority)?;
        let queue = self.core(py)?;
        runtime::wait(py, async move {
            let slices: Vec<&[u8]> = items.iter().map(|i| &i[..]).collect();
            queue.put_all(&slices, priority).await
        })?
        .map_err(|e| error::to_py(py, e))
    }

    /// Locks and returns the first free entry, waiting up to `timeout` seconds (for ever
    /// with `None`); `None` if none came. Returns the held entry again until it is
    /// consumed or released.
    #[pyo3(signature = (timeout = None))]
    fn get(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Py<PyAny>> {
        let timeout = types::seconds(timeout, "timeout")?;
        let queue = self.core(py)?;
        let taken = runtime::wait(py, async move { queue.get(timeout).await })?;
        Ok(item(py, taken.map_err(|e| error::to_py(py, e))?))
    }

    /// Whether this consumer still holds the lock on its entry.
    fn holds_lock(&self, py: Python<'_>) -> PyResult<bool> {
        let queue = self.core(py)?;
        runtime::wait(py, async move { queue.holds_lock().await })?.map_err(|e| error::to_py(py, e))
    }

    /// Removes the held entry; `False` if none is held.
    fn consume(&self, py: Python<'_>) -> PyResult<bool> {
        let queue = self.core(py)?;
        runtime::wait(py, async move { queue.consume().await })?.map_err(|e| error::to_py(py, e))
    }

    /// Unlocks the held entry for others; `False` if none is held.
    fn release(&self, py: Python<'_>) -> PyResult<bool> {
        let queue = self.core(py)?;
        runtime::wait(py, async move { queue.release().await })?.map_err(|e| error::to_py(py, e))
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        let queue = self.core(py)?;
        runtime::wait(py, async move { queue.len().await })?.map_err(|e| error::to_py(py, e))
    }
}
