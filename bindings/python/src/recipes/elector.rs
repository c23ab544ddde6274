//! Hadoop's `ActiveStandbyElector` (`zk_core::recipes::elector`) for HA failover
//! controllers in Python, and Hadoop's `ActiveNodeInfo` codec behind
//! `zk.ActiveNodeInfo.encode`/`decode`.
//!
//! The elector owns its sessions (not a `Client`'s) and a dispatch thread of its own: its
//! events become calls of the user's callbacks object there, one at a time, in order
//! (`ElectorEvents::deliver`), and each answer goes back to the elector, which waits for
//! the answers of become-active and fencing. Inside a callback, `join`, `quit`, `cede` and
//! `close` return at once and take effect after it; the calls that wait for the elector
//! raise `InvalidStateError` there, since the elector may be waiting for that callback.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use pyo3::exceptions::{PyAttributeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyTuple};
use pyo3::{PyTraverseError, PyVisit};
use zk_core::client::ClientOptions;
use zk_core::proto::ErrorCode;
use zk_core::recipes::elector::{
    self, ActiveNodeInfo, ActiveStandbyElector, Completion, ElectorCallbacks, ElectorConfig,
    ElectorState,
};

use crate::dispatch::{self, Callbacks};
use crate::error;
use crate::runtime::{self, Owned};
use crate::types;

/// How long `close()` waits for a running callback to return.
const CLOSE_WAIT_SECONDS: f64 = 86_400.0;

/// The user's callbacks object, called on the elector's dispatch thread; skipped (each
/// answering "failed") once the elector is closed.
struct PyCallbacks {
    target: Mutex<Option<Py<PyAny>>>,
    alive: AtomicBool,
}

/// What calling a callback came to.
enum Outcome {
    /// The callbacks object has no such method.
    Missing,
    /// It returned: `false` if it returned False.
    Returned(bool),
    /// It raised (logged on the `zk` logger), or the elector is closed.
    Raised,
}

impl PyCallbacks {
    fn call(
        &self,
        name: &str,
        args: impl for<'py> FnOnce(Python<'py>) -> Bound<'py, PyTuple>,
    ) -> Outcome {
        Python::attach(|py| {
            if !self.alive.load(Ordering::Acquire) {
                return Outcome::Raised;
            }
            let Some(target) = self.target.lock().as_ref().map(|t| t.clone_ref(py)) else {
                return Outcome::Raised;
            };
            let method = match target.bind(py).getattr(name) {
                Ok(method) => method,
                Err(e) if e.is_instance_of::<PyAttributeError>(py) => return Outcome::Missing,
                Err(e) => {
                    dispatch::log_callback_error(py, e);
                    return Outcome::Raised;
                }
            };
            match method.call1(args(py)) {
                // A callback fails by raising or returning False (Hadoop: an exception);
                // one that closed its elector has failed too (the safe side).
                Ok(value) => Outcome::Returned(
                    !value.is(PyBool::new(py, false)) && self.alive.load(Ordering::Acquire),
                ),
                Err(e) => {
                    dispatch::log_callback_error(py, e);
                    Outcome::Raised
                }
            }
        })
    }

    fn live(&self) -> bool {
        self.alive.load(Ordering::Acquire)
    }
}

impl ElectorCallbacks for PyCallbacks {
    fn become_active(&self) -> bool {
        matches!(
            self.call("become_active", PyTuple::empty),
            Outcome::Returned(true)
        )
    }

    fn become_standby(&self) -> bool {
        match self.call("become_standby", PyTuple::empty) {
            Outcome::Returned(ok) => ok,
            Outcome::Missing => self.live(),
            Outcome::Raised => false,
        }
    }

    fn enter_neutral(&self) {
        self.call("enter_neutral", PyTuple::empty);
    }

    fn fence_old_active(&self, old_active: &[u8]) -> bool {
        let outcome = self.call("fence_old_active", |py| {
            PyTuple::new(py, [PyBytes::new(py, old_active)]).unwrap_or_else(|_| PyTuple::empty(py))
        });
        matches!(outcome, Outcome::Returned(true))
    }

    fn fatal_error(&self, message: &str) {
        let outcome = self.call("fatal_error", |py| {
            PyTuple::new(py, [message]).unwrap_or_else(|_| PyTuple::empty(py))
        });
        if matches!(outcome, Outcome::Missing) {
            tracing::error!(message, "elector: fatal error");
        }
    }
}

/// Hadoop's `ActiveStandbyElector`: `ActiveStandbyElector(hosts, parent, callbacks)`.
#[pyclass(module = "zk", name = "ActiveStandbyElector", frozen)]
pub struct Elector {
    elector: Owned<ActiveStandbyElector>,
    callbacks: Arc<PyCallbacks>,
    dispatch: Arc<Callbacks>,
    closed: AtomicBool,
}

impl Elector {
    /// The core elector, or the error every call on a closed (or inherited) one raises.
    fn core(&self, py: Python<'_>) -> PyResult<&ActiveStandbyElector> {
        if !self.elector.is_current() {
            return Err(error::closed(
                py,
                "this elector was created before os.fork() in the parent process; \
                 create a new one in the child",
            ));
        }
        if self.closed.load(Ordering::Acquire) {
            return Err(error::closed(py, "the elector is closed"));
        }
        Ok(&self.elector)
    }

    /// The core elector for a call that waits for it: not from inside a callback.
    fn waiting(&self, py: Python<'_>, call: &str) -> PyResult<&ActiveStandbyElector> {
        let elector = self.core(py)?;
        if self.dispatch.on_own_thread() {
            return Err(error::with_code(
                py,
                ErrorCode::InvalidState,
                &format!(
                    "{call}() cannot be called from an elector callback: the elector may be \
                     waiting for that callback"
                ),
            ));
        }
        Ok(elector)
    }

    /// Waits for `done`, except inside a callback (it then takes effect afterwards).
    fn settle(&self, py: Python<'_>, done: Completion<()>) -> PyResult<()> {
        if self.dispatch.on_own_thread() {
            return Ok(());
        }
        runtime::wait(py, done)?.map_err(|e| error::to_py(py, e))
    }
}

#[pymethods]
impl Elector {
    /// An elector for the parent znode `parent` (`zk.parent_znode(nameservice)`) on the
    /// ensemble `hosts`, calling `callbacks` (see `zk.ElectorCallbacks`). Nothing is sent
    /// before the first call that needs a session, and each session it opens has
    /// `timeout` seconds and `auth_data`. `acl` is that of the nodes it creates (default
    /// open). `None` for `max_retries` (attempts of a call failing with a connection
    /// loss), `rejoin_pause` and `connect_pause` (seconds) means Hadoop's 3, 1 and 5.
    #[new]
    #[pyo3(signature = (hosts, parent, callbacks, *, timeout = 10.0, acl = None,
        auth_data = None, max_retries = None, rejoin_pause = None, connect_pause = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        hosts: String,
        parent: String,
        callbacks: Bound<'_, PyAny>,
        timeout: f64,
        acl: Option<Bound<'_, PyAny>>,
        auth_data: Option<Vec<(String, Bound<'_, PyAny>)>>,
        max_retries: Option<u32>,
        rejoin_pause: Option<f64>,
        connect_pause: Option<f64>,
    ) -> PyResult<Elector> {
        for required in ["become_active", "fence_old_active"] {
            if !callbacks.getattr(required).is_ok_and(|m| m.is_callable()) {
                return Err(PyTypeError::new_err(format!(
                    "callbacks must have a {required}() method (see zk.ElectorCallbacks)"
                )));
            }
        }
        let session_timeout = types::seconds(Some(timeout), "timeout")?.unwrap_or_default();
        if session_timeout.is_zero() {
            return Err(PyValueError::new_err("timeout must be positive"));
        }
        let mut options = ClientOptions::default().session_timeout(session_timeout);
        for (scheme, credential) in auth_data.unwrap_or_default() {
            let credential = types::text_or_bytes(&credential, "auth_data credential")?;
            options.auth.push((scheme, credential));
        }
        let mut config = ElectorConfig::new(&hosts, &parent)
            .options(options)
            .acl(types::acls_from_py(acl.as_ref())?);
        // None: Hadoop's defaults (3 attempts, 1 s, 5 s), kept in the core.
        if let Some(attempts) = max_retries {
            config = config.max_retries(attempts);
        }
        if let Some(pause) = types::seconds(rejoin_pause, "rejoin_pause")? {
            config = config.rejoin_pause(pause);
        }
        if let Some(pause) = types::seconds(connect_pause, "connect_pause")? {
            config = config.connect_pause(pause);
        }
        crate::logging::refresh_level(py);
        let dispatch = Callbacks::start(py)?;
        let handle = runtime::handle();
        let _context = handle.enter();
        let (elector, events) = match ActiveStandbyElector::new(config) {
            Ok(made) => made,
            Err(e) => {
                dispatch.stop();
                return Err(error::to_py(py, e));
            }
        };
        let callbacks = Arc::new(PyCallbacks {
            target: Mutex::new(Some(callbacks.unbind())),
            alive: AtomicBool::new(true),
        });
        let target = dispatch.clone();
        events.deliver(callbacks.clone(), move |job| {
            target.call(move |_py| {
                job();
                Ok(())
            })
        });
        Ok(Elector {
            elector: Owned::new(elector),
            callbacks,
            dispatch,
            closed: AtomicBool::new(false),
        })
    }

    /// The parent znode.
    #[getter]
    fn parent(&self) -> String {
        self.elector.parent().to_owned()
    }

    /// Where the elector stands: a `zk.ElectorState`.
    #[getter]
    fn state(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let name = match self.elector.state() {
            ElectorState::Init => "INIT",
            ElectorState::Active => "ACTIVE",
            ElectorState::Standby => "STANDBY",
            ElectorState::Neutral => "NEUTRAL",
        };
        let class = py.import("zk.elector")?.getattr("ElectorState")?;
        Ok(class.call1((name,))?.unbind())
    }

    /// The id of the elector's current session (0 while it has none).
    #[getter]
    fn session_id(&self) -> i64 {
        self.elector.session_id()
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Joins the election with `data` (stored in the lock, and in the breadcrumb once
    /// active; HDFS controllers store an encoded `ActiveNodeInfo`). Returns at once: the
    /// outcome comes through the callbacks. Already in the election: nothing changes.
    fn join(&self, py: Python<'_>, data: Bound<'_, PyAny>) -> PyResult<()> {
        let data = types::data_arg(&data, "data")?;
        self.core(py)?.join(&data).map_err(|e| error::to_py(py, e))
    }

    /// Leaves the election, releasing the lock. With `need_fence` (the default, the safe
    /// side) the breadcrumb stays and the next active fences this instance; an active
    /// that has stopped acting as one quits with `need_fence=False`, deleting its
    /// breadcrumb. From a callback it returns at once and takes effect afterwards.
    #[pyo3(signature = (need_fence = true))]
    fn quit(&self, py: Python<'_>, need_fence: bool) -> PyResult<()> {
        let done = self.core(py)?.quit(need_fence);
        self.settle(py, done)
    }

    /// A graceful handover (ZKFC's `cedeActive`): an active is told to become standby and
    /// quits (deleting its breadcrumb if `become_standby` did not fail), then stays out of
    /// the election for `period` seconds and joins again with its last data; a standby
    /// just stays out. `cede(0)` ends a running cede at once.
    fn cede(&self, py: Python<'_>, period: f64) -> PyResult<()> {
        let period = types::seconds(Some(period), "period")?.unwrap_or_default();
        let done = self.core(py)?.cede(period);
        self.settle(py, done)
    }

    /// Creates the parent znode and its ancestors (giving existing ones the configured
    /// ACL, as Hadoop does). Not while in the election, not from a callback.
    fn ensure_parent(&self, py: Python<'_>) -> PyResult<()> {
        let done = self.waiting(py, "ensure_parent")?.ensure_parent();
        runtime::wait(py, done)?.map_err(|e| error::to_py(py, e))
    }

    /// Whether the parent znode exists. Not from a callback.
    fn parent_exists(&self, py: Python<'_>) -> PyResult<bool> {
        let done = self.waiting(py, "parent_exists")?.parent_exists();
        runtime::wait(py, done)?.map_err(|e| error::to_py(py, e))
    }

    /// Deletes the parent znode and everything below it. Not while in the election, not
    /// from a callback; only safe while no controller of this nameservice runs.
    fn clear_parent(&self, py: Python<'_>) -> PyResult<()> {
        let done = self.waiting(py, "clear_parent")?.clear_parent();
        runtime::wait(py, done)?.map_err(|e| error::to_py(py, e))
    }

    /// `hdfs zkfc -formatZK`: an existing parent is deleted with everything below it only
    /// with `force` (without it nothing changes and this returns False); then the parent
    /// is created. True when the parent is fresh now.
    #[pyo3(signature = (force = false))]
    fn format(&self, py: Python<'_>, force: bool) -> PyResult<bool> {
        let elector = self.waiting(py, "format")?.clone();
        runtime::wait(py, async move { elector.format(force).await })?
            .map_err(|e| error::to_py(py, e))
    }

    /// The data in the lock, i.e. the active's; None when nobody is active. Not from a
    /// callback.
    fn active_data<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let done = self.waiting(py, "active_data")?.active_data();
        let data = runtime::wait(py, done)?.map_err(|e| error::to_py(py, e))?;
        Ok(data.map(|data| PyBytes::new(py, &data)))
    }

    /// Ends the elector: closes its session (the lock goes, the breadcrumb stays, as
    /// `quit()`; `quit(need_fence=False)` first to leave gracefully). Once it returns no
    /// callback runs and none will; from inside a callback it returns at once and the
    /// callbacks still queued are skipped. Later calls raise `ConnectionClosedError`.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        if self.closed.swap(true, Ordering::AcqRel) || !self.elector.is_current() {
            return Ok(());
        }
        // Queued callbacks are skipped now (answering "failed"): the elector is never
        // left waiting for one.
        self.callbacks.alive.store(false, Ordering::Release);
        let done = self.elector.close();
        if self.dispatch.on_own_thread() {
            self.dispatch.stop();
        } else {
            // Closed already (a fatal error ended it) is as good as closed now.
            let _ = runtime::wait(py, done)?;
            self.dispatch.stop_and_join(py, CLOSE_WAIT_SECONDS);
        }
        let target = self.callbacks.target.lock().take();
        drop(target);
        Ok(())
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        format!(
            "<zk.ActiveStandbyElector {} {:?}>",
            self.elector.parent(),
            self.elector.state()
        )
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Some(target) = self.callbacks.target.try_lock() {
            if let Some(target) = target.as_ref() {
                visit.call(target)?;
            }
        }
        Ok(())
    }

    fn __clear__(&self) {
        self.callbacks.alive.store(false, Ordering::Release);
        let target = self.callbacks.target.lock().take();
        drop(target);
    }
}

impl Drop for Elector {
    fn drop(&mut self) {
        // Forgotten without close(): the core elector ends with its last clone (session
        // closed, breadcrumb kept); the dispatch thread ends after its queue.
        self.callbacks.alive.store(false, Ordering::Release);
        self.dispatch.stop();
    }
}

/// Hadoop's parent znode of a nameservice: `<root>/<nameservice>`, `root` by default
/// `/hadoop-ha` (`ha.zookeeper.parent-znode`).
#[pyfunction]
#[pyo3(signature = (nameservice, root = None))]
pub fn parent_znode(nameservice: &str, root: Option<&str>) -> String {
    elector::parent_znode(root.unwrap_or(elector::DEFAULT_ROOT), nameservice)
}

/// `ActiveNodeInfo.encode()`: the protobuf bytes protobuf-java writes for these values.
#[pyfunction]
pub fn _encode_active_node_info<'py>(
    py: Python<'py>,
    nameservice_id: String,
    namenode_id: String,
    hostname: String,
    port: i32,
    zkfc_port: i32,
) -> Bound<'py, PyBytes> {
    let info = ActiveNodeInfo {
        nameservice_id,
        namenode_id,
        hostname,
        port,
        zkfc_port,
    };
    PyBytes::new(py, &info.encode())
}

/// `ActiveNodeInfo.decode(data)`'s fields.
#[pyfunction]
pub fn _decode_active_node_info(
    py: Python<'_>,
    data: Bound<'_, PyAny>,
) -> PyResult<(String, String, String, i32, i32)> {
    let data = types::data_arg(&data, "data")?;
    let info = ActiveNodeInfo::decode(&data).map_err(|e| error::not_node_info(py, e))?;
    Ok((
        info.nameservice_id,
        info.namenode_id,
        info.hostname,
        info.port,
        info.zkfc_port,
    ))
}
