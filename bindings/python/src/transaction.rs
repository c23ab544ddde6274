//! `Transaction` (kazoo's `TransactionRequest`): ops collected, then applied all or none by
//! the core's `multi`. A failure raises the error of the failing op with its `index`,
//! `path` and `op` kind.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};
use zk_core::client::{Error, Op, OpResult};
use zk_core::proto::ErrorCode;

use crate::client::Shared;
use crate::error;
use crate::result::{self, AsyncResult, Convert};
use crate::runtime;
use crate::types;

/// Turns a multi's outcome into the commit's value or exception.
type Finish = Box<dyn FnOnce(Result<Vec<OpResult>, Error>) -> Convert + Send>;

/// Ops applied together by `commit()`: every one or none.
#[pyclass(module = "zk", frozen)]
pub struct Transaction {
    client: Arc<Shared>,
    ops: Mutex<Vec<(Op, &'static str)>>,
    committed: AtomicBool,
}

impl Transaction {
    pub fn new(client: Arc<Shared>) -> Transaction {
        Transaction {
            client,
            ops: Mutex::new(Vec::new()),
            committed: AtomicBool::new(false),
        }
    }

    fn add(&self, py: Python<'_>, op: Op, kind: &'static str, sequential: bool) -> PyResult<()> {
        if self.committed.load(Ordering::Acquire) {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "transaction already committed",
            ));
        }
        zk_core::proto::path::validate(op.path(), sequential).map_err(|e| {
            error::with_code(
                py,
                ErrorCode::BadArguments,
                &format!("{:?}: {e}", op.path()),
            )
        })?;
        self.ops.lock().push((op, kind));
        Ok(())
    }

    /// The client, the ops to send and a converter of the outcome.
    fn take(&self, py: Python<'_>) -> PyResult<(zk_core::client::Client, Vec<Op>, Finish)> {
        let client = self.client.core(py)?;
        if self.committed.swap(true, Ordering::AcqRel) {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "transaction already committed",
            ));
        }
        let (ops, kinds): (Vec<Op>, Vec<&'static str>) =
            std::mem::take(&mut *self.ops.lock()).into_iter().unzip();
        let finish: Finish = Box::new(move |outcome: Result<Vec<OpResult>, Error>| -> Convert {
            Box::new(move |py| match outcome {
                Ok(results) => results_to_py(py, results),
                Err(Error::Multi { index, path, code }) => Err(error::multi(
                    py,
                    code,
                    "",
                    index,
                    &path,
                    kinds.get(index).copied(),
                )),
                Err(e) => Err(error::to_py(py, e)),
            })
        });
        Ok((client, ops, finish))
    }
}

fn results_to_py(py: Python<'_>, results: Vec<OpResult>) -> PyResult<Py<PyAny>> {
    let items = results
        .into_iter()
        .map(|r| match r {
            OpResult::Create { path, .. } => Ok(path.into_pyobject(py)?.into_any().unbind()),
            OpResult::SetData(stat) => types::stat(py, stat),
            OpResult::Delete | OpResult::Check => Ok(result::true_(py)),
        })
        .collect::<PyResult<Vec<_>>>()?;
    Ok(PyList::new(py, items)?.into_any().unbind())
}

#[pymethods]
impl Transaction {
    /// Adds a create (the flags as in `Client.create`, without `makepath`).
    #[pyo3(signature = (path, value = None, acl = None, ephemeral = false, sequence = false,
        container = false, ttl = None))]
    #[allow(clippy::too_many_arguments)]
    fn create(
        &self,
        py: Python<'_>,
        path: String,
        value: Option<&Bound<'_, PyAny>>,
        acl: Option<&Bound<'_, PyAny>>,
        ephemeral: bool,
        sequence: bool,
        container: bool,
        ttl: Option<f64>,
    ) -> PyResult<()> {
        let data = match value {
            Some(v) => types::data_arg(v, "value")?.to_vec(),
            None => Vec::new(),
        };
        let acl = types::acls_from_py(acl)?;
        let ttl = types::seconds(ttl, "ttl")?;
        let mode = crate::client::create_mode_for(py, ephemeral, sequence, container, ttl)?;
        let op = match ttl {
            Some(ttl) => Op::create_ttl(
                &path,
                &data,
                &acl,
                mode,
                i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX),
            ),
            None => Op::create(&path, &data, &acl, mode),
        };
        self.add(py, op, "create", sequence)
    }

    /// Adds a delete of `path` at `version` (-1: any).
    #[pyo3(signature = (path, version = -1))]
    #[pyo3(text_signature = "(self, path, version=-1)")]
    fn delete(&self, py: Python<'_>, path: String, version: i32) -> PyResult<()> {
        self.add(py, Op::delete(&path, version), "delete", false)
    }

    /// Adds a data change of `path` at `version` (-1: any).
    #[pyo3(signature = (path, value, version = -1))]
    #[pyo3(text_signature = "(self, path, value, version=-1)")]
    fn set_data(
        &self,
        py: Python<'_>,
        path: String,
        value: &Bound<'_, PyAny>,
        version: i32,
    ) -> PyResult<()> {
        let data = types::data_arg(value, "value")?;
        self.add(py, Op::set_data(&path, &data, version), "set_data", false)
    }

    /// Adds a check that `path` is at `version`.
    fn check(&self, py: Python<'_>, path: String, version: i32) -> PyResult<()> {
        self.add(py, Op::check(&path, version), "check", false)
    }

    /// Applies every op or none. Returns one result per op: the created path, `True` for
    /// delete and check, the `ZnodeStat` for set_data. On failure raises the failing op's
    /// error (e.g. `BadVersionError`) with `index`, `path` and `op`.
    fn commit(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let (client, ops, finish) = self.take(py)?;
        let outcome = runtime::wait(py, async move { client.multi(ops).await })?;
        finish(outcome)(py)
    }

    /// `commit()` returning an `AsyncResult`.
    fn commit_async(&self, py: Python<'_>) -> PyResult<Py<AsyncResult>> {
        let (client, ops, finish) = self.take(py)?;
        let callbacks = Some(self.client.callbacks.clone());
        result::spawn(
            py,
            callbacks,
            async move { finish(client.multi(ops).await) },
        )
    }

    /// Whether `commit()` has been called.
    #[getter]
    fn committed(&self) -> bool {
        self.committed.load(Ordering::Acquire)
    }

    fn __len__(&self) -> usize {
        self.ops.lock().len()
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    /// Commits unless the block raised.
    #[pyo3(signature = (exc_type, *_rest))]
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: &Bound<'_, PyAny>,
        _rest: &Bound<'_, PyTuple>,
    ) -> PyResult<bool> {
        if exc_type.is_none() {
            self.commit(py)?;
        }
        Ok(false)
    }
}
