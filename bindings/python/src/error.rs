//! The one place core errors become Python exceptions.
//!
//! `ZkError` is the base; every ZooKeeper error code has a subclass named in
//! [`class_name`] (kazoo's names where kazoo has one) whose `code` is the number from the
//! core's table. The classes are made at import from [`ErrorCode::ALL`], so a code added
//! to the core without a name here fails to compile (the match has no wildcard).
//! A few also derive from the builtin that fits (`TimeoutError`, `ValueError`,
//! `ConnectionError`), so ordinary Python handlers catch them too.
//! Bytes that are not a Hadoop `ActiveNodeInfo` raise `MarshallingError` (a
//! `ValueError` too), as libzk's decode returns ZK_MARSHALLINGERROR.

use std::collections::HashMap;

use pyo3::exceptions::{PyConnectionError, PyException, PyTimeoutError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};
use zk_core::client::Error;
use zk_core::proto::ErrorCode;
use zk_core::recipes::elector::NodeInfoError;

/// The exception class of each code, and the ones not tied to a code.
struct Classes {
    base: Py<PyType>,
    by_code: HashMap<i32, Py<PyType>>,
    lock_timeout: Py<PyType>,
    cancelled: Py<PyType>,
}

static CLASSES: PyOnceLock<Classes> = PyOnceLock::new();

/// kazoo's (or, where kazoo has none, a matching) class name for a code.
fn class_name(code: ErrorCode) -> Option<&'static str> {
    Some(match code {
        ErrorCode::Ok => return None,
        ErrorCode::SystemError => "SystemZookeeperError",
        ErrorCode::RuntimeInconsistency => "RuntimeInconsistency",
        ErrorCode::DataInconsistency => "DataInconsistency",
        ErrorCode::ConnectionLoss => "ConnectionLoss",
        ErrorCode::MarshallingError => "MarshallingError",
        ErrorCode::Unimplemented => "UnimplementedError",
        ErrorCode::OperationTimeout => "OperationTimeoutError",
        ErrorCode::BadArguments => "BadArgumentsError",
        ErrorCode::InvalidState => "InvalidStateError",
        ErrorCode::UnknownSession => "UnknownSessionError",
        ErrorCode::NewConfigNoQuorum => "NewConfigNoQuorumError",
        ErrorCode::ReconfigInProgress => "ReconfigInProcessError",
        ErrorCode::SslConnectionError => "SSLConnectionError",
        ErrorCode::ApiError => "APIError",
        ErrorCode::NoNode => "NoNodeError",
        ErrorCode::NoAuth => "NoAuthError",
        ErrorCode::BadVersion => "BadVersionError",
        ErrorCode::NoChildrenForEphemerals => "NoChildrenForEphemeralsError",
        ErrorCode::NodeExists => "NodeExistsError",
        ErrorCode::NotEmpty => "NotEmptyError",
        ErrorCode::SessionExpired => "SessionExpiredError",
        ErrorCode::InvalidCallback => "InvalidCallbackError",
        ErrorCode::InvalidAcl => "InvalidACLError",
        ErrorCode::AuthFailed => "AuthFailedError",
        ErrorCode::Closing => "ConnectionClosedError",
        ErrorCode::Nothing => "NothingError",
        ErrorCode::SessionMoved => "SessionMovedError",
        ErrorCode::NotReadOnly => "NotReadOnlyCallError",
        ErrorCode::EphemeralOnLocalSession => "EphemeralOnLocalSessionError",
        ErrorCode::NoWatcher => "NoWatcherError",
        ErrorCode::RequestTimeout => "RequestTimeoutError",
        ErrorCode::ReconfigDisabled => "ReconfigDisabledError",
        ErrorCode::SessionClosedRequireSaslAuth => "SessionClosedRequireSaslAuthError",
        ErrorCode::QuotaExceeded => "QuotaExceededError",
        ErrorCode::ThrottledOp => "ThrottledOpError",
    })
}

/// Registers `ZkError`, a class per code, `LockTimeout` and `CancelledError` in `module`.
pub fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    let classes = CLASSES.get_or_try_init(py, || make_classes(py))?;
    module.add("ZkError", classes.base.bind(py))?;
    for class in classes.by_code.values() {
        let class = class.bind(py);
        module.add(class.name()?, class)?;
    }
    module.add("LockTimeout", classes.lock_timeout.bind(py))?;
    module.add("CancelledError", classes.cancelled.bind(py))?;
    Ok(())
}

fn make_classes(py: Python<'_>) -> PyResult<Classes> {
    let base = new_class(
        py,
        "ZkError",
        &[py.get_type::<PyException>()],
        None,
        "The base of every zk error. `code` is the ZooKeeper error code (None for errors \
         only a client has); `index`, `path` and `op` name the failing operation of a \
         transaction.",
    )?;
    base.setattr("index", py.None())?;
    base.setattr("path", py.None())?;
    base.setattr("op", py.None())?;
    let mut by_code = HashMap::new();
    let mut session_expired = None;
    // SessionExpired first: ConnectionClosedError derives from it, as in kazoo.
    let mut codes: Vec<ErrorCode> = ErrorCode::ALL.to_vec();
    codes.sort_by_key(|code| *code != ErrorCode::SessionExpired);
    for code in codes {
        let Some(name) = class_name(code) else {
            continue;
        };
        let mut bases = vec![base.clone()];
        match code {
            ErrorCode::OperationTimeout => bases.push(py.get_type::<PyTimeoutError>()),
            ErrorCode::BadArguments | ErrorCode::MarshallingError => {
                bases.push(py.get_type::<PyValueError>())
            }
            ErrorCode::ConnectionLoss => bases.push(py.get_type::<PyConnectionError>()),
            ErrorCode::Closing => {
                if let Some(expired) = &session_expired {
                    bases = vec![Bound::clone(expired)];
                }
            }
            _ => {}
        }
        let class = new_class(py, name, &bases, Some(code.as_i32()), code.message())?;
        if code == ErrorCode::SessionExpired {
            session_expired = Some(class.clone());
        }
        by_code.insert(code.as_i32(), class.unbind());
    }
    let timeout_class = by_code
        .get(&ErrorCode::OperationTimeout.as_i32())
        .map(|class| class.bind(py).clone())
        .unwrap_or_else(|| base.clone());
    let lock_timeout = new_class(
        py,
        "LockTimeout",
        &[timeout_class],
        Some(ErrorCode::OperationTimeout.as_i32()),
        "A lock, semaphore or election was not acquired within its timeout.",
    )?;
    let cancelled = new_class(
        py,
        "CancelledError",
        std::slice::from_ref(&base),
        None,
        "A pending acquire was cancelled with cancel().",
    )?;
    Ok(Classes {
        base: base.unbind(),
        by_code,
        lock_timeout: lock_timeout.unbind(),
        cancelled: cancelled.unbind(),
    })
}

fn new_class<'py>(
    py: Python<'py>,
    name: &str,
    bases: &[Bound<'py, PyType>],
    code: Option<i32>,
    doc: &str,
) -> PyResult<Bound<'py, PyType>> {
    let namespace = PyDict::new(py);
    namespace.set_item("__module__", "zk")?;
    namespace.set_item("__doc__", doc)?;
    namespace.set_item("code", code)?;
    let bases = PyTuple::new(py, bases)?;
    let class = py
        .get_type::<PyType>()
        .call1((name, bases, namespace))?
        .cast_into::<PyType>()?;
    Ok(class)
}

fn classes(py: Python<'_>) -> &Classes {
    // Registered at import; `make_classes` only fails if Python is out of memory.
    CLASSES.get_or_init(py, || {
        make_classes(py).unwrap_or_else(|e| panic!("cannot create the zk exception classes: {e}"))
    })
}

fn class_of(py: Python<'_>, code: ErrorCode) -> Bound<'_, PyType> {
    let classes = classes(py);
    classes
        .by_code
        .get(&code.as_i32())
        .unwrap_or(&classes.base)
        .bind(py)
        .clone()
}

/// The exception for a core error.
pub fn to_py(py: Python<'_>, error: Error) -> PyErr {
    let message = error.to_string();
    match error {
        Error::Multi { index, path, code } => multi(py, code, &message, index, &path, None),
        other => make(py, class_of(py, other.code()), &message),
    }
}

/// The exception for a failed transaction op: `op` is its kind (`create`, `delete`,
/// `set_data`, `check`).
pub fn multi(
    py: Python<'_>,
    code: ErrorCode,
    message: &str,
    index: usize,
    path: &str,
    op: Option<&str>,
) -> PyErr {
    let message = match op {
        Some(op) => format!(
            "transaction op #{index} ({op} {path}) failed: {}",
            code.message()
        ),
        None => message.to_owned(),
    };
    let error = make(py, class_of(py, code), &message);
    let value = error.value(py);
    let _ = value.setattr("index", index);
    let _ = value.setattr("path", path);
    let _ = value.setattr("op", op);
    error
}

/// An error of the class for `code` with a message of our own.
pub fn with_code(py: Python<'_>, code: ErrorCode, message: &str) -> PyErr {
    make(py, class_of(py, code), message)
}

/// `ConnectionClosedError` with a message saying why.
pub fn closed(py: Python<'_>, message: &str) -> PyErr {
    with_code(py, ErrorCode::Closing, message)
}

/// `MarshallingError` for bytes that are not an `ActiveNodeInfo`.
pub fn not_node_info(py: Python<'_>, error: NodeInfoError) -> PyErr {
    with_code(py, ErrorCode::MarshallingError, &error.to_string())
}

/// `LockTimeout`.
pub fn lock_timeout(py: Python<'_>, message: &str) -> PyErr {
    make(py, classes(py).lock_timeout.bind(py).clone(), message)
}

/// zk's `CancelledError`.
pub fn cancelled(py: Python<'_>, message: &str) -> PyErr {
    make(py, classes(py).cancelled.bind(py).clone(), message)
}

fn make(py: Python<'_>, class: Bound<'_, PyType>, message: &str) -> PyErr {
    match class.call1((message,)) {
        Ok(instance) => PyErr::from_value(instance),
        Err(e) => e,
    }
    .clone_ref(py)
}
