//! kazoo's `Election`: leadership is holding a kazoo lock on the election path, the node's
//! data being the participant's identifier (the core's `LeaderSelector`, kazoo layout).

use std::sync::Arc;

use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use zk_core::recipes::{Layout, LeaderSelector, LockGuard};

use super::Cancel;
use crate::client::{PyClient, Shared};
use crate::error;
use crate::runtime::{self, Owned};
use crate::types;

/// kazoo's `Election`: `run(func, *args)` waits until this participant leads, calls
/// `func(*args, **kwargs)` and gives up leadership when it returns (or raises).
/// `contenders()` lists the participants' identifiers, the leader first. While `func`
/// runs, `fencing_token` identifies this leadership and `is_lost` tells whether it was
/// lost (session suspended or ended).
#[pyclass(module = "zk", frozen)]
pub struct Election {
    client: Arc<Shared>,
    path: String,
    identifier: String,
    cancel: Cancel,
    leading: Mutex<Option<Owned<LockGuard>>>,
}

impl Election {
    fn selector(&self, py: Python<'_>) -> PyResult<LeaderSelector> {
        Ok(
            LeaderSelector::new(&self.client.core(py)?, &self.path, &self.identifier)
                .layout(Layout::Kazoo),
        )
    }

    fn step_down(&self, py: Python<'_>) -> PyResult<()> {
        let guard = self.leading.lock().take();
        if let Some(guard) = guard.and_then(Owned::into_inner) {
            runtime::wait(py, guard.release())?.map_err(|e| error::to_py(py, e))?;
        }
        Ok(())
    }
}

#[pymethods]
impl Election {
    #[new]
    #[pyo3(signature = (client, path, identifier = None))]
    fn new(
        client: &Bound<'_, PyClient>,
        path: String,
        identifier: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Election> {
        let identifier = super::identifier(identifier.as_ref())?;
        Ok(Election {
            client: client.get().shared.clone(),
            path,
            identifier: String::from_utf8_lossy(&identifier).into_owned(),
            cancel: Cancel::default(),
            leading: Mutex::new(None),
        })
    }

    /// The election's path.
    #[getter]
    fn path(&self) -> String {
        self.path.clone()
    }

    /// Waits to lead (Ctrl-C or `cancel()` interrupt the wait), then runs
    /// `func(*args, **kwargs)` and returns what it returns, stepping down afterwards.
    #[pyo3(signature = (func, *args, **kwargs))]
    fn run(
        &self,
        py: Python<'_>,
        func: Bound<'_, PyAny>,
        args: Bound<'_, PyTuple>,
        kwargs: Option<Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let selector = self.selector(py)?;
        let won = runtime::wait(py, self.cancel.guard(async move { selector.lead().await }))?;
        let guard = match won {
            Some(won) => won.map_err(|e| error::to_py(py, e))?,
            None => {
                return Err(error::cancelled(
                    py,
                    &format!("election on {} cancelled", self.path),
                ))
            }
        };
        *self.leading.lock() = Some(Owned::new(guard));
        let outcome = func.call(args, kwargs.as_ref());
        let stepped_down = self.step_down(py);
        let value = outcome?;
        stepped_down?;
        Ok(value.unbind())
    }

    /// Makes a waiting `run()` raise `CancelledError`.
    fn cancel(&self) {
        self.cancel.cancel();
    }

    /// The participants' identifiers, the leader first.
    fn contenders(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let selector = self.selector(py)?;
        let participants = runtime::wait(py, async move { selector.participants().await })?
            .map_err(|e| error::to_py(py, e))?;
        types::strings(py, participants.into_iter().map(|p| p.id).collect())
    }

    /// While leading: the fencing token of this leadership (larger for every later
    /// leader); else `None`.
    #[getter]
    fn fencing_token(&self) -> Option<i64> {
        self.leading.lock().as_ref().map(|g| g.fencing_token())
    }

    /// While leading: whether leadership was lost (session suspended or ended).
    #[getter]
    fn is_lost(&self) -> bool {
        self.leading.lock().as_ref().is_some_and(|g| g.is_lost())
    }
}
