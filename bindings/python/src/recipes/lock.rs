//! `Lock`, `ReadLock`, `WriteLock` (kazoo's, on kazoo's node names by default) and
//! `Semaphore` (kazoo's layout).

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use tokio::sync::{OwnedSemaphorePermit, Semaphore as LocalSemaphore};
use tokio::time::Instant;
use zk_core::client::{Client as CoreClient, Error};
use zk_core::recipes::{
    Layout, LeaderSelector, LockGuard, Mutex as CoreMutex, ReadWriteLock,
    Semaphore as CoreSemaphore,
};

use super::Cancel;
use crate::client::{PyClient, Shared};
use crate::error;
use crate::result::{self, AsyncResult, Convert};
use crate::runtime::{self, Owned};
use crate::types;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Exclusive,
    Read,
    Write,
}

/// A held lock or lease.
struct Held {
    guard: Owned<LockGuard>,
    _local: OwnedSemaphorePermit,
}

/// How an acquire ended.
enum Acquired {
    Got,
    /// Non-blocking and someone else holds it.
    Busy,
    TimedOut,
    Cancelled,
}

/// What a lock and a semaphore share: the held guard, the local serialisation of
/// acquirers (an object is not re-entrant: a second acquire waits for the first
/// release, as kazoo's), and cancellation.
struct Holding {
    held: Arc<Mutex<Option<Held>>>,
    local: Arc<LocalSemaphore>,
    cancel: Cancel,
}

impl Default for Holding {
    fn default() -> Self {
        Holding {
            held: Arc::default(),
            local: Arc::new(LocalSemaphore::new(1)),
            cancel: Cancel::default(),
        }
    }
}

impl Holding {
    /// The acquire as a future: takes the local permit, then runs `take` (which gets the
    /// remaining time, `None` for no limit, and `Some(ZERO)` when not blocking).
    fn acquire<F, Fut>(
        &self,
        blocking: bool,
        timeout: Option<Duration>,
        take: F,
    ) -> impl std::future::Future<Output = Result<Acquired, Error>> + Send + 'static
    where
        F: FnOnce(Option<Duration>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<Option<LockGuard>, Error>> + Send,
    {
        let held = self.held.clone();
        let local = self.local.clone();
        let attempt = async move {
            let deadline = timeout.map(|t| Instant::now() + t);
            let permit = if blocking {
                let waiting = local.acquire_owned();
                let permit = match deadline {
                    Some(at) => tokio::time::timeout_at(at, waiting).await.ok(),
                    None => Some(waiting.await),
                };
                match permit {
                    Some(Ok(permit)) => permit,
                    _ => return Ok(Acquired::TimedOut),
                }
            } else {
                match local.try_acquire_owned() {
                    Ok(permit) => permit,
                    Err(_) => return Ok(Acquired::Busy),
                }
            };
            let remaining = if blocking {
                deadline.map(|at| at.saturating_duration_since(Instant::now()))
            } else {
                Some(Duration::ZERO)
            };
            match take(remaining).await? {
                Some(guard) => {
                    *held.lock() = Some(Held {
                        guard: Owned::new(guard),
                        _local: permit,
                    });
                    Ok(Acquired::Got)
                }
                None if blocking => Ok(Acquired::TimedOut),
                None => Ok(Acquired::Busy),
            }
        };
        let guarded = self.cancel.guard(attempt);
        async move { guarded.await.unwrap_or(Ok(Acquired::Cancelled)) }
    }

    fn release_future(
        &self,
    ) -> impl std::future::Future<Output = Result<bool, Error>> + Send + 'static {
        let held = self.held.lock().take();
        async move {
            let Some(Held { guard, _local }) = held else {
                return Ok(false);
            };
            if let Some(guard) = guard.into_inner() {
                guard.release().await?;
            }
            Ok(true)
        }
    }

    fn fencing_token(&self) -> Option<i64> {
        self.held.lock().as_ref().map(|h| h.guard.fencing_token())
    }

    fn is_lost(&self) -> bool {
        self.held.lock().as_ref().is_some_and(|h| h.guard.is_lost())
    }

    fn is_acquired(&self) -> bool {
        self.held.lock().is_some()
    }
}

/// The Python value of an acquire: `True`, `False` (not blocking), or `LockTimeout` /
/// `CancelledError`.
fn acquired(
    path: String,
    timeout: Option<f64>,
) -> impl FnOnce(Python<'_>, Acquired) -> PyResult<Py<PyAny>> {
    move |py, outcome| match outcome {
        Acquired::Got => Ok(pyo3::types::PyBool::new(py, true)
            .to_owned()
            .into_any()
            .unbind()),
        Acquired::Busy => Ok(pyo3::types::PyBool::new(py, false)
            .to_owned()
            .into_any()
            .unbind()),
        Acquired::TimedOut => Err(error::lock_timeout(
            py,
            &format!(
                "failed to acquire {path} within {} s",
                timeout.unwrap_or_default()
            ),
        )),
        Acquired::Cancelled => Err(error::cancelled(
            py,
            &format!("acquire of {path} cancelled"),
        )),
    }
}

fn run_sync<T: Send>(
    py: Python<'_>,
    fut: impl std::future::Future<Output = Result<T, Error>> + Send,
    ok: impl FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>>,
) -> PyResult<Py<PyAny>> {
    match runtime::wait(py, fut)? {
        Ok(value) => ok(py, value),
        Err(e) => Err(error::to_py(py, e)),
    }
}

fn run_async<T: Send + 'static>(
    py: Python<'_>,
    client: &Shared,
    fut: impl std::future::Future<Output = Result<T, Error>> + Send + 'static,
    ok: impl FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
) -> PyResult<Py<AsyncResult>> {
    result::spawn(py, Some(client.callbacks.clone()), async move {
        let outcome = fut.await;
        Box::new(move |py: Python<'_>| match outcome {
            Ok(value) => ok(py, value),
            Err(e) => Err(error::to_py(py, e)),
        }) as Convert
    })
}

fn bool_value(py: Python<'_>, value: bool) -> PyResult<Py<PyAny>> {
    Ok(pyo3::types::PyBool::new(py, value)
        .to_owned()
        .into_any()
        .unbind())
}

fn strings_value(py: Python<'_>, items: Vec<String>) -> PyResult<Py<PyAny>> {
    types::strings(py, items)
}

/// kazoo's `Lock`: an exclusive lock on `path`. `identifier` is stored in the contender
/// node (see `contenders()`). `acquire()` blocks (Ctrl-C interrupts it);
/// `acquire(timeout=t)` raises `LockTimeout` after `t` seconds; `acquire(blocking=False)`
/// returns `False` at once if the lock is taken. The lock is held until `release()`, or
/// lost when the session is suspended or ends (`is_lost`); `fencing_token` grows with
/// every new holder. `layout="curator"` writes Curator's node names instead of kazoo's.
#[pyclass(module = "zk", subclass, frozen)]
pub struct Lock {
    client: Arc<Shared>,
    path: String,
    identifier: Vec<u8>,
    kind: Kind,
    layout: Layout,
    holding: Holding,
}

impl Lock {
    fn build(
        client: &Bound<'_, PyClient>,
        path: String,
        identifier: Option<&Bound<'_, PyAny>>,
        layout: &str,
        kind: Kind,
    ) -> PyResult<Lock> {
        Ok(Lock {
            client: client.get().shared.clone(),
            path,
            identifier: super::identifier(identifier)?,
            kind,
            layout: super::layout(layout)?,
            holding: Holding::default(),
        })
    }

    fn mutex(&self, client: &CoreClient) -> CoreMutex {
        match self.kind {
            Kind::Exclusive => CoreMutex::new(client, &self.path)
                .layout(self.layout)
                .data(&self.identifier),
            Kind::Read | Kind::Write => {
                let rw = ReadWriteLock::new(client, &self.path)
                    .layout(self.layout)
                    .data(&self.identifier);
                if self.kind == Kind::Read {
                    rw.read_lock().clone()
                } else {
                    rw.write_lock().clone()
                }
            }
        }
    }

    fn acquire_future(
        &self,
        py: Python<'_>,
        blocking: bool,
        timeout: Option<f64>,
        ephemeral: bool,
    ) -> PyResult<impl std::future::Future<Output = Result<Acquired, Error>> + Send + 'static> {
        if !ephemeral {
            return Err(PyValueError::new_err(
                "zk locks are always ephemeral (a lock must not outlive its holder's session)",
            ));
        }
        let limit = types::seconds(timeout, "timeout")?;
        let mutex = self.mutex(&self.client.core(py)?);
        Ok(self
            .holding
            .acquire(blocking, limit, move |remaining| async move {
                match remaining {
                    None => mutex.acquire().await.map(Some),
                    Some(left) if left.is_zero() => mutex.try_acquire().await,
                    Some(left) => mutex.acquire_timeout(left).await,
                }
            }))
    }
}

#[pymethods]
impl Lock {
    #[new]
    #[pyo3(signature = (client, path, identifier = None, layout = "kazoo"))]
    fn new(
        client: &Bound<'_, PyClient>,
        path: String,
        identifier: Option<Bound<'_, PyAny>>,
        layout: &str,
    ) -> PyResult<Lock> {
        Lock::build(client, path, identifier.as_ref(), layout, Kind::Exclusive)
    }

    /// The lock's path.
    #[getter]
    fn path(&self) -> String {
        self.path.clone()
    }

    /// Whether this object holds the lock.
    #[getter]
    fn is_acquired(&self) -> bool {
        self.holding.is_acquired()
    }

    /// The fencing token of the current hold (the czxid of its node: larger for every
    /// later holder); `None` when not held.
    #[getter]
    fn fencing_token(&self) -> Option<i64> {
        self.holding.fencing_token()
    }

    /// Whether the hold is lost: the session was suspended or ended, or the node was
    /// deleted. Stop acting as the holder then.
    #[getter]
    fn is_lost(&self) -> bool {
        self.holding.is_lost()
    }

    /// Acquires the lock; see the class doc. Returns `True` (or `False` when not blocking
    /// and the lock is taken).
    #[pyo3(signature = (blocking = true, timeout = None, ephemeral = true))]
    fn acquire(
        &self,
        py: Python<'_>,
        blocking: bool,
        timeout: Option<f64>,
        ephemeral: bool,
    ) -> PyResult<Py<PyAny>> {
        let fut = self.acquire_future(py, blocking, timeout, ephemeral)?;
        run_sync(py, fut, acquired(self.path.clone(), timeout))
    }

    /// `acquire()` returning an `AsyncResult` (awaitable).
    #[pyo3(signature = (blocking = true, timeout = None, ephemeral = true))]
    fn acquire_async(
        &self,
        py: Python<'_>,
        blocking: bool,
        timeout: Option<f64>,
        ephemeral: bool,
    ) -> PyResult<Py<AsyncResult>> {
        let fut = self.acquire_future(py, blocking, timeout, ephemeral)?;
        run_async(py, &self.client, fut, acquired(self.path.clone(), timeout))
    }

    /// Releases the lock (deletes its node); `False` if it was not held.
    fn release(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        run_sync(py, self.holding.release_future(), bool_value)
    }

    /// `release()` returning an `AsyncResult`.
    fn release_async(&self, py: Python<'_>) -> PyResult<Py<AsyncResult>> {
        run_async(py, &self.client, self.holding.release_future(), bool_value)
    }

    /// Makes a pending `acquire()` (in another thread) raise `CancelledError`.
    fn cancel(&self) {
        self.holding.cancel.cancel();
    }

    /// The contenders' identifiers in lock order, the holder first.
    fn contenders(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let selector =
            LeaderSelector::new(&self.client.core(py)?, &self.path, "").layout(self.layout);
        run_sync(
            py,
            async move {
                Ok(selector
                    .participants()
                    .await?
                    .into_iter()
                    .map(|p| p.id)
                    .collect::<Vec<_>>())
            },
            strings_value,
        )
    }

    fn __enter__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        slf.get().acquire(slf.py(), true, None, true)?;
        Ok(slf)
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, PyTuple>) -> PyResult<bool> {
        self.release(py)?;
        Ok(false)
    }
}

/// kazoo's `ReadLock`: shared with other readers, excluded by writers.
#[pyclass(module = "zk", extends = Lock, frozen)]
pub struct ReadLock;

#[pymethods]
impl ReadLock {
    #[new]
    #[pyo3(signature = (client, path, identifier = None, layout = "kazoo"))]
    fn new(
        client: &Bound<'_, PyClient>,
        path: String,
        identifier: Option<Bound<'_, PyAny>>,
        layout: &str,
    ) -> PyResult<PyClassInitializer<ReadLock>> {
        let lock = Lock::build(client, path, identifier.as_ref(), layout, Kind::Read)?;
        Ok(PyClassInitializer::from(lock).add_subclass(ReadLock))
    }
}

/// kazoo's `WriteLock`: excludes readers and other writers.
#[pyclass(module = "zk", extends = Lock, frozen)]
pub struct WriteLock;

#[pymethods]
impl WriteLock {
    #[new]
    #[pyo3(signature = (client, path, identifier = None, layout = "kazoo"))]
    fn new(
        client: &Bound<'_, PyClient>,
        path: String,
        identifier: Option<Bound<'_, PyAny>>,
        layout: &str,
    ) -> PyResult<PyClassInitializer<WriteLock>> {
        let lock = Lock::build(client, path, identifier.as_ref(), layout, Kind::Write)?;
        Ok(PyClassInitializer::from(lock).add_subclass(WriteLock))
    }
}

/// kazoo's `Semaphore`: at most `max_leases` holders of `path` at a time, on kazoo's
/// layout (every participant must use the same `max_leases`; a different one raises
/// `BadArgumentsError`). `acquire`/`release`/`cancel` and the context manager work as the
/// `Lock`'s do.
#[pyclass(module = "zk", frozen)]
pub struct Semaphore {
    client: Arc<Shared>,
    path: String,
    identifier: Vec<u8>,
    max_leases: usize,
    holding: Holding,
}

impl Semaphore {
    fn core(&self, client: &CoreClient) -> CoreSemaphore {
        CoreSemaphore::new(client, &self.path, self.max_leases)
            .layout(Layout::Kazoo)
            .data(&self.identifier)
    }

    fn acquire_future(
        &self,
        py: Python<'_>,
        blocking: bool,
        timeout: Option<f64>,
    ) -> PyResult<impl std::future::Future<Output = Result<Acquired, Error>> + Send + 'static> {
        let limit = types::seconds(timeout, "timeout")?;
        let semaphore = self.core(&self.client.core(py)?);
        Ok(self
            .holding
            .acquire(blocking, limit, move |remaining| async move {
                match remaining {
                    None => semaphore.acquire().await.map(Some),
                    Some(left) => semaphore.acquire_timeout(left).await,
                }
            }))
    }
}

#[pymethods]
impl Semaphore {
    #[new]
    #[pyo3(signature = (client, path, identifier = None, max_leases = 1))]
    fn new(
        py: Python<'_>,
        client: &Bound<'_, PyClient>,
        path: String,
        identifier: Option<Bound<'_, PyAny>>,
        max_leases: usize,
    ) -> PyResult<Semaphore> {
        if max_leases == 0 {
            return Err(error::with_code(
                py,
                zk_core::proto::ErrorCode::BadArguments,
                "a semaphore needs max_leases >= 1",
            ));
        }
        Ok(Semaphore {
            client: client.get().shared.clone(),
            path,
            identifier: super::identifier(identifier.as_ref())?,
            max_leases,
            holding: Holding::default(),
        })
    }

    /// The semaphore's path.
    #[getter]
    fn path(&self) -> String {
        self.path.clone()
    }

    /// How many holders it allows.
    #[getter]
    fn max_leases(&self) -> usize {
        self.max_leases
    }

    /// Whether this object holds a lease.
    #[getter]
    fn is_acquired(&self) -> bool {
        self.holding.is_acquired()
    }

    /// The fencing token of the lease held (`None` when none is).
    #[getter]
    fn fencing_token(&self) -> Option<i64> {
        self.holding.fencing_token()
    }

    /// Whether the lease is lost (session suspended or ended, node deleted).
    #[getter]
    fn is_lost(&self) -> bool {
        self.holding.is_lost()
    }

    /// Takes a lease: blocks until one is free (`LockTimeout` after `timeout` seconds);
    /// with `blocking=False` returns `False` at once if none is.
    #[pyo3(signature = (blocking = true, timeout = None))]
    fn acquire(&self, py: Python<'_>, blocking: bool, timeout: Option<f64>) -> PyResult<Py<PyAny>> {
        let fut = self.acquire_future(py, blocking, timeout)?;
        run_sync(py, fut, acquired(self.path.clone(), timeout))
    }

    /// `acquire()` returning an `AsyncResult` (awaitable).
    #[pyo3(signature = (blocking = true, timeout = None))]
    fn acquire_async(
        &self,
        py: Python<'_>,
        blocking: bool,
        timeout: Option<f64>,
    ) -> PyResult<Py<AsyncResult>> {
        let fut = self.acquire_future(py, blocking, timeout)?;
        run_async(py, &self.client, fut, acquired(self.path.clone(), timeout))
    }

    /// Returns the lease; `False` if none was held.
    fn release(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        run_sync(py, self.holding.release_future(), bool_value)
    }

    /// `release()` returning an `AsyncResult`.
    fn release_async(&self, py: Python<'_>) -> PyResult<Py<AsyncResult>> {
        run_async(py, &self.client, self.holding.release_future(), bool_value)
    }

    /// Makes a pending `acquire()` raise `CancelledError`.
    fn cancel(&self) {
        self.holding.cancel.cancel();
    }

    /// The identifiers of the current lease holders (unordered).
    fn lease_holders(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let semaphore = self.core(&self.client.core(py)?);
        run_sync(
            py,
            async move {
                Ok(semaphore
                    .holders()
                    .await?
                    .into_iter()
                    .map(|h| String::from_utf8_lossy(&h).into_owned())
                    .collect::<Vec<_>>())
            },
            strings_value,
        )
    }

    fn __enter__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        slf.get().acquire(slf.py(), true, None)?;
        Ok(slf)
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, PyTuple>) -> PyResult<bool> {
        self.release(py)?;
        Ok(false)
    }
}
