//! zk for Python: the extension module `zk._zk` behind the `zk` package.
//!
//! The binding is thin: every call converts its arguments, runs `zk_core::client` or
//! `zk_core::recipes` and converts the result or error back.
//!
//! # Layout
//!
//! - `client.rs`: `Client` (kazoo's `KazooClient` shape), its operations sync and
//!   `*_async`, listeners, `watch=` callbacks.
//! - `transaction.rs`: `Transaction` (multi).
//! - `watches.rs`: persistent watches (iterator, async iterator, callback), `DataWatch`,
//!   `ChildrenWatch`.
//! - `recipes/`: `Lock`, `ReadLock`, `WriteLock`, `Semaphore`, `Election`, `Queue`,
//!   `LockingQueue`, `Barrier`, `DoubleBarrier`, `Counter`, `Party`, `TreeCache`;
//!   `ActiveStandbyElector` (Hadoop's HA elector, callbacks on its own dispatch thread).
//! - `result.rs`: `AsyncResult` (kazoo's `IAsyncResult`, awaitable) and the per-loop
//!   asyncio completion queue.
//! - `dispatch.rs`: each client's callback thread; callback errors to the log.
//! - `runtime.rs`: the process's tokio runtime across `os.fork()`; blocking waits that
//!   release the GIL and let Ctrl-C through.
//! - `error.rs`: the one mapping of core errors to exception classes.
//! - `types.rs`: `ZnodeStat`, `WatchedEvent`, enums, ACLs, argument checks.
//! - `logging.rs`: core `tracing` events to Python `logging` (logger `zk`).
//!
//! The Python half (`python/zk`) adds `AsyncClient` (asyncio), the enums and named tuples,
//! ACL helpers and the type stubs.

mod client;
mod dispatch;
mod error;
mod logging;
mod recipes;
mod result;
mod runtime;
mod transaction;
mod types;
mod watches;

use pyo3::prelude::*;

/// Called in the child after `os.fork()`: a new runtime generation and log thread.
#[pyfunction]
fn _after_fork_in_child(py: Python<'_>) -> PyResult<()> {
    runtime::after_fork_in_child();
    logging::start(py)
}

/// Called at interpreter exit: lets the dispatch and log threads finish and end, so none
/// runs Python code while the interpreter finalises.
#[pyfunction]
fn _shutdown(py: Python<'_>) {
    dispatch::stop_all(py, 1.0);
    logging::stop(py, 1.0);
}

/// Re-reads the level of the `zk` logger now (it is also re-read about once a second).
#[pyfunction]
fn refresh_log_level(py: Python<'_>) {
    logging::refresh_level(py);
}

#[pymodule]
fn _zk(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    let main: u64 = py
        .import("threading")?
        .call_method0("main_thread")?
        .getattr("ident")?
        .extract()?;
    runtime::set_main_thread(main);
    zk_core::client::runtime::set_worker_threads(runtime::IO_WORKERS);
    error::register(module)?;
    module.add_class::<client::PyClient>()?;
    module.add_class::<result::AsyncResult>()?;
    module.add_class::<result::Completions>()?;
    module.add_class::<transaction::Transaction>()?;
    module.add_class::<types::ZnodeStat>()?;
    module.add_class::<types::WatchedEvent>()?;
    module.add_class::<watches::PersistentWatch>()?;
    module.add_class::<watches::DataWatch>()?;
    module.add_class::<watches::ChildrenWatch>()?;
    module.add_class::<recipes::lock::Lock>()?;
    module.add_class::<recipes::lock::ReadLock>()?;
    module.add_class::<recipes::lock::WriteLock>()?;
    module.add_class::<recipes::lock::Semaphore>()?;
    module.add_class::<recipes::election::Election>()?;
    module.add_class::<recipes::queue::Queue>()?;
    module.add_class::<recipes::queue::LockingQueue>()?;
    module.add_class::<recipes::coordination::Barrier>()?;
    module.add_class::<recipes::coordination::DoubleBarrier>()?;
    module.add_class::<recipes::coordination::Counter>()?;
    module.add_class::<recipes::coordination::Party>()?;
    module.add_class::<recipes::cache::TreeCache>()?;
    module.add_class::<recipes::elector::Elector>()?;
    module.add_function(wrap_pyfunction!(recipes::elector::parent_znode, module)?)?;
    module.add_function(wrap_pyfunction!(
        recipes::elector::_encode_active_node_info,
        module
    )?)?;
    module.add_function(wrap_pyfunction!(
        recipes::elector::_decode_active_node_info,
        module
    )?)?;
    module.add_class::<dispatch::DispatchRunner>()?;
    module.add_class::<logging::LogPump>()?;
    module.add_function(wrap_pyfunction!(_after_fork_in_child, module)?)?;
    module.add_function(wrap_pyfunction!(_shutdown, module)?)?;
    module.add_function(wrap_pyfunction!(result::end_write_batch, module)?)?;
    module.add_function(wrap_pyfunction!(refresh_log_level, module)?)?;
    logging::start(py)?;
    Ok(())
}
