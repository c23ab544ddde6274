//! Persistent (and recursive) watches as an iterator, an async iterator or a callback;
//! kazoo's `DataWatch` and `ChildrenWatch` over the core's `DataWatcher` and
//! `ChildrenWatcher`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use pyo3::exceptions::{PyStopAsyncIteration, PyStopIteration};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyTuple};
use tokio::sync::watch;
use zk_core::client::{Client as CoreClient, Error, Overflow, WatchedEvent as CoreEvent};
use zk_core::proto::{AddWatchMode, ErrorCode};
use zk_core::recipes::{ChildrenChange, ChildrenWatcher, DataChange, DataWatcher};

use crate::client::{PyClient, Shared};
use crate::dispatch::Callbacks;
use crate::error;
use crate::result::{self, AsyncResult, Convert};
use crate::runtime::{self, Owned};
use crate::types;

/// What a persistent watch's Python object and its forwarder share.
pub struct PersistentInner {
    path: String,
    recursive: bool,
    stream: tokio::sync::Mutex<Option<Owned<zk_core::client::PersistentWatch>>>,
    cancel: watch::Sender<bool>,
}

/// The next thing a persistent watch yields.
enum Next {
    Event(CoreEvent),
    Overflowed,
    Ended,
}

impl PersistentInner {
    async fn next(&self) -> Next {
        let mut cancelled = self.cancel.subscribe();
        if *cancelled.borrow() {
            return Next::Ended;
        }
        let mut stream = self.stream.lock().await;
        let Some(watch) = stream.as_mut() else {
            return Next::Ended;
        };
        tokio::select! {
            _ = cancelled.wait_for(|c| *c) => Next::Ended,
            event = watch.next() => match event {
                Some(Ok(event)) => Next::Event(event),
                Some(Err(Overflow)) => Next::Overflowed,
                None => Next::Ended,
            },
        }
    }

    /// Ends iteration and removes the watch from the server.
    async fn remove(&self) -> bool {
        let _ = self.cancel.send(true);
        self.stream.lock().await.take().is_some()
    }

    fn convert(self: &Arc<Self>, next: Next, end: fn() -> PyErr) -> Convert {
        let path = self.path.clone();
        Box::new(move |py| match next {
            Next::Event(event) => Ok(types::event(py, event)?.into_any()),
            Next::Overflowed => Ok(types::overflow_event(py, &path)?.into_any()),
            Next::Ended => Err(end()),
        })
    }
}

/// A persistent watch: every change of a node (and, if recursive, of every node below it)
/// until removed. Iterate it (`for event in w` blocks; `async for event in w`) or give
/// `add_watch` a callback. Session changes arrive as events of type `NONE`; if events were
/// lost because they came faster than they were taken, one event of type `OVERFLOW` says
/// so. Iteration ends when the watch is removed or the session ends.
#[pyclass(module = "zk", frozen)]
pub struct PersistentWatch {
    inner: Arc<PersistentInner>,
    forwarder: Mutex<Option<tokio::task::AbortHandle>>,
}

async fn register(
    client: CoreClient,
    path: String,
    recursive: bool,
) -> Result<Arc<PersistentInner>, Error> {
    let mode = if recursive {
        AddWatchMode::PersistentRecursive
    } else {
        AddWatchMode::Persistent
    };
    let stream = client.add_watch(&path, mode).await?;
    Ok(Arc::new(PersistentInner {
        path,
        recursive,
        stream: tokio::sync::Mutex::new(Some(Owned::new(stream))),
        cancel: watch::channel(false).0,
    }))
}

fn wrap(
    py: Python<'_>,
    shared: &Arc<Shared>,
    inner: Arc<PersistentInner>,
    callback: Option<Py<PyAny>>,
) -> PyResult<Py<PersistentWatch>> {
    {
        let mut live = shared.persistent.lock();
        live.retain(|w| w.strong_count() > 0);
        live.push(Arc::downgrade(&inner));
    }
    let forwarder = callback.map(|callback| {
        let inner = inner.clone();
        let callbacks = shared.callbacks.clone();
        runtime::handle()
            .spawn(forward(inner, callback, callbacks))
            .abort_handle()
    });
    Py::new(
        py,
        PersistentWatch {
            inner,
            forwarder: Mutex::new(forwarder),
        },
    )
}

async fn forward(inner: Arc<PersistentInner>, callback: Py<PyAny>, callbacks: Arc<Callbacks>) {
    let callback = Arc::new(callback);
    loop {
        let next = inner.next().await;
        if matches!(next, Next::Ended) {
            return;
        }
        let convert = inner.convert(next, || PyStopIteration::new_err(()));
        let callback = callback.clone();
        callbacks.call(move |py| {
            let event = convert(py)?;
            callback.call1(py, (event,))?;
            Ok(())
        });
    }
}

pub fn add_watch(
    py: Python<'_>,
    shared: &Arc<Shared>,
    path: String,
    recursive: bool,
    callback: Option<Bound<'_, PyAny>>,
) -> PyResult<Py<PersistentWatch>> {
    let client = shared.core(py)?;
    let inner =
        runtime::wait(py, register(client, path, recursive))?.map_err(|e| error::to_py(py, e))?;
    wrap(
        py,
        shared,
        inner,
        callback.filter(|c| !c.is_none()).map(Bound::unbind),
    )
}

pub fn add_watch_async(
    py: Python<'_>,
    shared: &Arc<Shared>,
    path: String,
    recursive: bool,
    callback: Option<Bound<'_, PyAny>>,
) -> PyResult<Py<AsyncResult>> {
    let client = shared.core(py)?;
    let callback = callback.filter(|c| !c.is_none()).map(Bound::unbind);
    let weak = Arc::downgrade(shared);
    result::spawn(py, Some(shared.callbacks.clone()), async move {
        let registered = register(client, path, recursive).await;
        Box::new(move |py: Python<'_>| {
            let inner = registered.map_err(|e| error::to_py(py, e))?;
            let shared = weak
                .upgrade()
                .ok_or_else(|| error::closed(py, "the client is gone"))?;
            Ok(wrap(py, &shared, inner, callback)?.into_any())
        }) as Convert
    })
}

pub fn remove_watches(py: Python<'_>, shared: &Arc<Shared>, path: &str) -> PyResult<usize> {
    shared.core(py)?;
    let matching: Vec<Arc<PersistentInner>> = {
        let mut live = shared.persistent.lock();
        live.retain(|w| w.strong_count() > 0);
        live.iter()
            .filter_map(Weak::upgrade)
            .filter(|w| w.path == path)
            .collect()
    };
    let mut removed = 0;
    for inner in matching {
        if runtime::wait(py, async { inner.remove().await })? {
            removed += 1;
        }
    }
    Ok(removed)
}

#[pymethods]
impl PersistentWatch {
    /// The watched path.
    #[getter]
    fn path(&self) -> String {
        self.inner.path.clone()
    }

    /// Whether nodes below the path are watched too.
    #[getter]
    fn recursive(&self) -> bool {
        self.inner.recursive
    }

    /// Removes the watch from the server and ends iteration (and the callback).
    fn remove(&self, py: Python<'_>) -> PyResult<()> {
        if let Some(forwarder) = self.forwarder.lock().take() {
            forwarder.abort();
        }
        let inner = self.inner.clone();
        runtime::wait(py, async move { inner.remove().await })?;
        Ok(())
    }

    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    /// The next event, blocking (Ctrl-C interrupts it).
    fn __next__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let inner = self.inner.clone();
        let next = runtime::wait(py, async move { inner.next().await })?;
        self.inner.convert(next, || PyStopIteration::new_err(()))(py)
    }

    fn __aiter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    /// The next event, as an awaitable.
    fn __anext__(&self, py: Python<'_>) -> PyResult<Py<AsyncResult>> {
        let inner = self.inner.clone();
        result::spawn(py, None, async move {
            let next = inner.next().await;
            inner.convert(next, || PyStopAsyncIteration::new_err(()))
        })
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, PyTuple>) -> PyResult<bool> {
        self.remove(py)?;
        Ok(false)
    }
}

// ----- kazoo's DataWatch and ChildrenWatch -----

/// Calls `func(data, stat)` at once and again each time the node's data changes (also
/// when it is created or deleted: `data` and `stat` are `None` while it does not exist),
/// on the client's dispatch thread. A `func` taking three arguments also gets the
/// `WatchedEvent` (`None` for the first call). Returning `False` stops the watch, as does
/// `stop()` or the end of the session. Usable as a decorator:
/// `@client.DataWatch("/path")`.
#[pyclass(module = "zk", frozen)]
pub struct DataWatch {
    client: Arc<Shared>,
    path: String,
    run: Arc<Running>,
    used: AtomicBool,
}

/// Calls `func(children)` at once and again each time the node's children change, on the
/// client's dispatch thread; with `send_event=True`, `func(children, event)`. When the
/// node is deleted `func` gets `None` instead of a list, once, and the watch stops. The
/// node must exist when the watch starts (`NoNodeError`). Returning `False` stops it, as
/// does `stop()`. Usable as a decorator: `@client.ChildrenWatch("/path")`.
#[pyclass(module = "zk", frozen)]
pub struct ChildrenWatch {
    client: Arc<Shared>,
    path: String,
    send_event: bool,
    run: Arc<Running>,
    used: AtomicBool,
}

/// The running half of a Data/ChildrenWatch.
#[derive(Default)]
struct Running {
    stopped: AtomicBool,
    task: Mutex<Option<tokio::task::AbortHandle>>,
}

impl Running {
    fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        if let Some(task) = self.task.lock().take() {
            task.abort();
        }
    }

    /// Calls `func` with `args`; a `False` result stops the watch.
    fn call(&self, py: Python<'_>, func: &Py<PyAny>, args: Bound<'_, PyTuple>) -> PyResult<()> {
        if self.stopped.load(Ordering::Acquire) {
            return Ok(());
        }
        let returned = func.call1(py, args)?;
        if returned.bind(py).is(PyBool::new(py, false)) {
            self.stop();
        }
        Ok(())
    }
}

fn claim(used: &AtomicBool, py: Python<'_>) -> PyResult<()> {
    if used.swap(true, Ordering::AcqRel) {
        return Err(error::with_code(
            py,
            ErrorCode::BadArguments,
            "a function is already associated with this watch",
        ));
    }
    Ok(())
}

fn data_args<'py>(
    py: Python<'py>,
    change: DataChange,
    with_event: bool,
) -> PyResult<Bound<'py, PyTuple>> {
    let (data, stat) = match change.node {
        Some((data, stat)) => (
            PyBytes::new(py, &data).into_any().unbind(),
            types::stat(py, stat)?,
        ),
        None => (py.None(), py.None()),
    };
    let mut args = vec![data, stat];
    if with_event {
        args.push(match change.event {
            Some(event) => types::event(py, event)?.into_any(),
            None => py.None(),
        });
    }
    PyTuple::new(py, args)
}

fn children_args<'py>(
    py: Python<'py>,
    change: ChildrenChange,
    with_event: bool,
) -> PyResult<Bound<'py, PyTuple>> {
    let children = match change.children {
        Some(children) => types::strings(py, children)?,
        None => py.None(),
    };
    let mut args = vec![children];
    if with_event {
        args.push(match change.event {
            Some(event) => types::event(py, event)?.into_any(),
            None => py.None(),
        });
    }
    PyTuple::new(py, args)
}

impl DataWatch {
    fn begin(&self, py: Python<'_>, func: Bound<'_, PyAny>) -> PyResult<()> {
        claim(&self.used, py)?;
        let client = self.client.core(py)?;
        let with_event = types::accepts_args(py, &func, 3)?;
        let mut watcher = Owned::new(DataWatcher::new(&client, &self.path));
        let first = runtime::wait(py, watcher.next())?.map_err(|e| error::to_py(py, e))?;
        let func = func.unbind();
        let Some(first) = first else {
            return Ok(());
        };
        // The first call runs here, on the caller's thread, as kazoo's does.
        self.run
            .call(py, &func, data_args(py, first, with_event)?)?;
        if self.run.stopped.load(Ordering::Acquire) {
            return Ok(());
        }
        let run = self.run.clone();
        let callbacks = self.client.callbacks.clone();
        let func = Arc::new(func);
        let task = runtime::handle().spawn(async move {
            loop {
                match watcher.next().await {
                    Ok(Some(change)) => {
                        let (run, func) = (run.clone(), func.clone());
                        callbacks.call(move |py| {
                            let args = data_args(py, change, with_event)?;
                            run.call(py, &func, args)
                        });
                    }
                    Ok(None) => return,
                    Err(e) => {
                        tracing::warn!("DataWatch on {} stopped: {e}", watcher.path());
                        return;
                    }
                }
            }
        });
        *self.run.task.lock() = Some(task.abort_handle());
        Ok(())
    }
}

#[pymethods]
impl DataWatch {
    #[new]
    #[pyo3(signature = (client, path, func = None))]
    fn new(
        py: Python<'_>,
        client: &Bound<'_, PyClient>,
        path: String,
        func: Option<Bound<'_, PyAny>>,
    ) -> PyResult<DataWatch> {
        let watch = DataWatch {
            client: client.get().shared.clone(),
            path,
            run: Arc::default(),
            used: AtomicBool::new(false),
        };
        if let Some(func) = func.filter(|f| !f.is_none()) {
            watch.begin(py, func)?;
        }
        Ok(watch)
    }

    /// Decorator form: starts watching with `func` and returns it.
    fn __call__<'py>(
        &self,
        py: Python<'py>,
        func: Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.begin(py, func.clone())?;
        Ok(func)
    }

    /// Stops calling the function.
    fn stop(&self) {
        self.run.stop();
    }

    /// Whether the watch has stopped.
    #[getter]
    fn stopped(&self) -> bool {
        self.run.stopped.load(Ordering::Acquire)
    }

    /// The watched path.
    #[getter]
    fn path(&self) -> String {
        self.path.clone()
    }
}

impl ChildrenWatch {
    fn begin(&self, py: Python<'_>, func: Bound<'_, PyAny>) -> PyResult<()> {
        claim(&self.used, py)?;
        let client = self.client.core(py)?;
        let mut watcher = Owned::new(ChildrenWatcher::new(&client, &self.path));
        let first = runtime::wait(py, watcher.next())?.map_err(|e| error::to_py(py, e))?;
        let Some(first) = first else {
            return Ok(());
        };
        if first.children.is_none() {
            self.run.stop();
            return Err(error::with_code(
                py,
                ErrorCode::NoNode,
                &format!("{}: a ChildrenWatch needs an existing node", self.path),
            ));
        }
        let func = func.unbind();
        let send_event = self.send_event;
        self.run
            .call(py, &func, children_args(py, first, send_event)?)?;
        if self.run.stopped.load(Ordering::Acquire) {
            return Ok(());
        }
        let run = self.run.clone();
        let callbacks = self.client.callbacks.clone();
        let func = Arc::new(func);
        let task = runtime::handle().spawn(async move {
            loop {
                match watcher.next().await {
                    Ok(Some(change)) => {
                        let gone = change.children.is_none();
                        let (run_job, func) = (run.clone(), func.clone());
                        callbacks.call(move |py| {
                            let args = children_args(py, change, send_event)?;
                            let called = run_job.call(py, &func, args);
                            if gone {
                                run_job.stop();
                            }
                            called
                        });
                        if gone {
                            return;
                        }
                    }
                    Ok(None) => return,
                    Err(e) => {
                        tracing::warn!("ChildrenWatch on {} stopped: {e}", watcher.path());
                        return;
                    }
                }
            }
        });
        *self.run.task.lock() = Some(task.abort_handle());
        Ok(())
    }
}

#[pymethods]
impl ChildrenWatch {
    #[new]
    #[pyo3(signature = (client, path, func = None, allow_session_lost = true, send_event = false))]
    fn new(
        py: Python<'_>,
        client: &Bound<'_, PyClient>,
        path: String,
        func: Option<Bound<'_, PyAny>>,
        allow_session_lost: bool,
        send_event: bool,
    ) -> PyResult<ChildrenWatch> {
        // Sessions end for good in zk (a new one is a new start()), so a watch never
        // outlives its session; the flag is accepted for kazoo code.
        let _ = allow_session_lost;
        let watch = ChildrenWatch {
            client: client.get().shared.clone(),
            path,
            send_event,
            run: Arc::default(),
            used: AtomicBool::new(false),
        };
        if let Some(func) = func.filter(|f| !f.is_none()) {
            watch.begin(py, func)?;
        }
        Ok(watch)
    }

    /// Decorator form: starts watching with `func` and returns it.
    fn __call__<'py>(
        &self,
        py: Python<'py>,
        func: Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.begin(py, func.clone())?;
        Ok(func)
    }

    /// Stops calling the function.
    fn stop(&self) {
        self.run.stop();
    }

    /// Whether the watch has stopped (by `False`, `stop()` or the node's deletion).
    #[getter]
    fn stopped(&self) -> bool {
        self.run.stopped.load(Ordering::Acquire)
    }

    /// The watched path.
    #[getter]
    fn path(&self) -> String {
        self.path.clone()
    }
}
