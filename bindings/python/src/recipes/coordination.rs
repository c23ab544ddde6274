//! kazoo's `Barrier`, `DoubleBarrier`, `Counter` and `Party`.

use std::sync::Arc;

use parking_lot::Mutex;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyInt, PyList};
use zk_core::recipes::{
    Barrier as CoreBarrier, Counter as CoreCounter, CounterFormat, DoubleBarrier as CoreDouble,
    GroupMember,
};

use crate::client::{PyClient, Shared};
use crate::error;
use crate::runtime::{self, Owned};
use crate::types;

/// kazoo's `Barrier`: `create()` closes it (the node exists), `remove()` opens it, and
/// `wait()` blocks while it is closed.
#[pyclass(module = "zk", frozen)]
pub struct Barrier {
    client: Arc<Shared>,
    path: String,
}

impl Barrier {
    fn core(&self, py: Python<'_>) -> PyResult<CoreBarrier> {
        Ok(CoreBarrier::new(&self.client.core(py)?, &self.path))
    }
}

#[pymethods]
impl Barrier {
    #[new]
    fn new(client: &Bound<'_, PyClient>, path: String) -> Barrier {
        Barrier {
            client: client.get().shared.clone(),
            path,
        }
    }

    /// The barrier's path.
    #[getter]
    fn path(&self) -> String {
        self.path.clone()
    }

    /// Closes the barrier (creates its node).
    fn create(&self, py: Python<'_>) -> PyResult<()> {
        let barrier = self.core(py)?;
        runtime::wait(py, async move { barrier.set().await })?.map_err(|e| error::to_py(py, e))
    }

    /// Opens the barrier (deletes its node); `True`.
    fn remove(&self, py: Python<'_>) -> PyResult<bool> {
        let barrier = self.core(py)?;
        runtime::wait(py, async move { barrier.remove().await })?
            .map_err(|e| error::to_py(py, e))?;
        Ok(true)
    }

    /// Waits until the barrier is open: `True`, or `False` after `timeout` seconds.
    #[pyo3(signature = (timeout = None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let timeout = types::seconds(timeout, "timeout")?;
        let barrier = self.core(py)?;
        runtime::wait(py, async move { barrier.wait(timeout).await })?
            .map_err(|e| error::to_py(py, e))
    }
}

/// kazoo's `DoubleBarrier`: `enter()` waits until `num_clients` have entered, `leave()`
/// until all have left. Both return `False` if `timeout` seconds pass first.
#[pyclass(module = "zk", frozen)]
pub struct DoubleBarrier {
    client: Arc<Shared>,
    path: String,
    num_clients: usize,
    identifier: Vec<u8>,
    /// Made on first use and kept: it carries this member's node name.
    core: Mutex<Option<CoreDouble>>,
}

impl DoubleBarrier {
    fn core(&self, py: Python<'_>) -> PyResult<CoreDouble> {
        let client = self.client.core(py)?;
        Ok(self
            .core
            .lock()
            .get_or_insert_with(|| {
                CoreDouble::new(&client, &self.path, self.num_clients).data(&self.identifier)
            })
            .clone())
    }
}

#[pymethods]
impl DoubleBarrier {
    #[new]
    #[pyo3(signature = (client, path, num_clients, identifier = None))]
    fn new(
        client: &Bound<'_, PyClient>,
        path: String,
        num_clients: usize,
        identifier: Option<Bound<'_, PyAny>>,
    ) -> PyResult<DoubleBarrier> {
        Ok(DoubleBarrier {
            client: client.get().shared.clone(),
            path,
            num_clients,
            identifier: super::identifier(identifier.as_ref())?,
            core: Mutex::new(None),
        })
    }

    /// The barrier's path.
    #[getter]
    fn path(&self) -> String {
        self.path.clone()
    }

    /// How many members the barrier waits for.
    #[getter]
    fn num_clients(&self) -> usize {
        self.num_clients
    }

    /// Enters and waits for the others: `True`, or `False` after `timeout` seconds.
    #[pyo3(signature = (timeout = None))]
    fn enter(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let timeout = types::seconds(timeout, "timeout")?;
        let barrier = self.core(py)?;
        runtime::wait(py, async move { barrier.enter(timeout).await })?
            .map_err(|e| error::to_py(py, e))
    }

    /// Leaves and waits for the others: `True`, or `False` after `timeout` seconds.
    #[pyo3(signature = (timeout = None))]
    fn leave(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let timeout = types::seconds(timeout, "timeout")?;
        let barrier = self.core(py)?;
        runtime::wait(py, async move { barrier.leave(timeout).await })?
            .map_err(|e| error::to_py(py, e))
    }
}

/// kazoo's `Counter`: an integer at `path` (decimal text, as kazoo writes it;
/// `support_curator=True` uses Curator's 4-byte `SharedCount`). `counter += n` adds
/// atomically; `pre_value`/`post_value` are the values around the last change.
#[pyclass(module = "zk", frozen)]
pub struct Counter {
    client: Arc<Shared>,
    path: String,
    default: i64,
    format: CounterFormat,
    last: Mutex<Option<(i64, i64)>>,
}

impl Counter {
    fn core(&self, py: Python<'_>) -> PyResult<CoreCounter> {
        Ok(CoreCounter::new(&self.client.core(py)?, &self.path)
            .format(self.format)
            .default_value(self.default))
    }

    fn change(slf: &Bound<'_, Self>, delta: &Bound<'_, PyAny>, sign: i64) -> PyResult<Py<Self>> {
        let py = slf.py();
        if !delta.is_instance_of::<PyInt>() || delta.is_instance_of::<PyBool>() {
            return Err(PyTypeError::new_err("a zk Counter changes by an int"));
        }
        let delta: i64 = delta.extract()?;
        let delta = delta
            .checked_mul(sign)
            .ok_or_else(|| PyTypeError::new_err("counter change out of range"))?;
        let this = slf.get();
        let counter = this.core(py)?;
        let values = runtime::wait(py, async move { counter.add(delta).await })?
            .map_err(|e| error::to_py(py, e))?;
        *this.last.lock() = Some(values);
        Ok(slf.clone().unbind())
    }
}

#[pymethods]
impl Counter {
    #[new]
    #[pyo3(signature = (client, path, default = None, support_curator = false))]
    fn new(
        client: &Bound<'_, PyClient>,
        path: String,
        default: Option<&Bound<'_, PyAny>>,
        support_curator: bool,
    ) -> PyResult<Counter> {
        let default = match default {
            None => 0,
            Some(d) if d.is_instance_of::<PyInt>() && !d.is_instance_of::<PyBool>() => {
                d.extract()?
            }
            Some(_) => return Err(PyTypeError::new_err("a zk Counter holds an int")),
        };
        Ok(Counter {
            client: client.get().shared.clone(),
            path,
            default,
            format: if support_curator {
                CounterFormat::Int32
            } else {
                CounterFormat::Text
            },
            last: Mutex::new(None),
        })
    }

    /// The counter's path.
    #[getter]
    fn path(&self) -> String {
        self.path.clone()
    }

    /// The current value (the default while the node does not exist).
    #[getter]
    fn value(&self, py: Python<'_>) -> PyResult<i64> {
        let counter = self.core(py)?;
        runtime::wait(py, async move { counter.get().await })?.map_err(|e| error::to_py(py, e))
    }

    /// The value before the last change made through this object.
    #[getter]
    fn pre_value(&self) -> Option<i64> {
        self.last.lock().map(|(before, _)| before)
    }

    /// The value after the last change made through this object.
    #[getter]
    fn post_value(&self) -> Option<i64> {
        self.last.lock().map(|(_, after)| after)
    }

    fn __add__(slf: &Bound<'_, Self>, delta: &Bound<'_, PyAny>) -> PyResult<Py<Self>> {
        Counter::change(slf, delta, 1)
    }

    fn __sub__(slf: &Bound<'_, Self>, delta: &Bound<'_, PyAny>) -> PyResult<Py<Self>> {
        Counter::change(slf, delta, -1)
    }
}

/// kazoo's `Party`: members join with an ephemeral node `<uuid>__party__` holding their
/// identifier; iterating gives the members' identifiers.
#[pyclass(module = "zk", frozen)]
pub struct Party {
    client: Arc<Shared>,
    path: String,
    identifier: Vec<u8>,
    node: String,
    member: Mutex<Option<Owned<GroupMember>>>,
}

const PARTY_MARK: &str = "__party__";

impl Party {
    fn members(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let client = self.client.core(py)?;
        let path = self.path.clone();
        let members = runtime::wait(
            py,
            async move { GroupMember::members_of(&client, &path).await },
        )?
        .map_err(|e| error::to_py(py, e))?;
        Ok(members
            .into_iter()
            .filter(|(id, _)| id.contains(PARTY_MARK))
            .map(|(_, data)| String::from_utf8_lossy(&data).into_owned())
            .collect())
    }
}

#[pymethods]
impl Party {
    #[new]
    #[pyo3(signature = (client, path, identifier = None))]
    fn new(
        client: &Bound<'_, PyClient>,
        path: String,
        identifier: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Party> {
        let id: u128 = rand::random();
        Ok(Party {
            client: client.get().shared.clone(),
            path,
            identifier: super::identifier(identifier.as_ref())?,
            node: format!("{id:032x}{PARTY_MARK}"),
            member: Mutex::new(None),
        })
    }

    /// The party's path.
    #[getter]
    fn path(&self) -> String {
        self.path.clone()
    }

    /// Whether this member has joined.
    #[getter]
    fn participating(&self) -> bool {
        self.member.lock().is_some()
    }

    /// Joins the party (again after a `leave()`).
    fn join(&self, py: Python<'_>) -> PyResult<()> {
        if self.member.lock().is_some() {
            return Ok(());
        }
        let client = self.client.core(py)?;
        let (path, node, data) = (
            self.path.clone(),
            self.node.clone(),
            self.identifier.clone(),
        );
        let member = runtime::wait(py, async move {
            GroupMember::join(&client, &path, &node, &data).await
        })?
        .map_err(|e| error::to_py(py, e))?;
        *self.member.lock() = Some(Owned::new(member));
        Ok(())
    }

    /// Leaves the party; `False` if it had not joined.
    fn leave(&self, py: Python<'_>) -> PyResult<bool> {
        let member = self.member.lock().take();
        let Some(member) = member.and_then(Owned::into_inner) else {
            return Ok(false);
        };
        runtime::wait(py, async move { member.leave().await })?.map_err(|e| error::to_py(py, e))?;
        Ok(true)
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(PyList::new(py, self.members(py)?)?.try_iter()?.into_any())
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.members(py)?.len())
    }
}
