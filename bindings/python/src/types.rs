//! Values crossing the boundary: `ZnodeStat`, `WatchedEvent`, the enums and named tuples
//! of `zk._types`, ACLs, and argument checks (paths are `str`, data is `bytes`).

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};
use zk_core::client::{SessionState, WatchedEvent as CoreEvent};
use zk_core::proto::{Acl, EventType, KeeperState, Stat};

/// A znode's metadata, with kazoo's `ZnodeStat` field names (it is a tuple of them too) and
/// its friendlier properties.
#[pyclass(module = "zk", frozen, eq, hash)]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ZnodeStat {
    /// The zxid of the change that created the node.
    #[pyo3(get)]
    pub czxid: i64,
    /// The zxid of the last data change.
    #[pyo3(get)]
    pub mzxid: i64,
    /// Creation time, milliseconds since the epoch.
    #[pyo3(get)]
    pub ctime: i64,
    /// Last data change time, milliseconds since the epoch.
    #[pyo3(get)]
    pub mtime: i64,
    /// Data version (number of data changes).
    #[pyo3(get)]
    pub version: i32,
    /// Children version.
    #[pyo3(get)]
    pub cversion: i32,
    /// ACL version.
    #[pyo3(get)]
    pub aversion: i32,
    /// The owning session of an ephemeral node, else 0.
    #[pyo3(get, name = "ephemeralOwner")]
    pub ephemeral_owner: i64,
    /// Length of the data in bytes.
    #[pyo3(get, name = "dataLength")]
    pub data_length: i32,
    /// Number of children.
    #[pyo3(get, name = "numChildren")]
    pub num_children: i32,
    /// The zxid of the last change to the children.
    #[pyo3(get)]
    pub pzxid: i64,
}

impl From<Stat> for ZnodeStat {
    fn from(s: Stat) -> Self {
        ZnodeStat {
            czxid: s.czxid,
            mzxid: s.mzxid,
            ctime: s.ctime,
            mtime: s.mtime,
            version: s.version,
            cversion: s.cversion,
            aversion: s.aversion,
            ephemeral_owner: s.ephemeral_owner,
            data_length: s.data_length,
            num_children: s.num_children,
            pzxid: s.pzxid,
        }
    }
}

const STAT_FIELDS: [&str; 11] = [
    "czxid",
    "mzxid",
    "ctime",
    "mtime",
    "version",
    "cversion",
    "aversion",
    "ephemeralOwner",
    "dataLength",
    "numChildren",
    "pzxid",
];

impl ZnodeStat {
    fn fields(&self) -> [i64; 11] {
        [
            self.czxid,
            self.mzxid,
            self.ctime,
            self.mtime,
            i64::from(self.version),
            i64::from(self.cversion),
            i64::from(self.aversion),
            self.ephemeral_owner,
            i64::from(self.data_length),
            i64::from(self.num_children),
            self.pzxid,
        ]
    }
}

#[pymethods]
impl ZnodeStat {
    /// Creation time in seconds since the epoch.
    #[getter]
    fn created(&self) -> f64 {
        self.ctime as f64 / 1000.0
    }

    /// Last data change time in seconds since the epoch.
    #[getter]
    fn last_modified(&self) -> f64 {
        self.mtime as f64 / 1000.0
    }

    /// The ACL version (`aversion`).
    #[getter]
    fn acl_version(&self) -> i32 {
        self.aversion
    }

    /// The children version (`cversion`).
    #[getter]
    fn children_version(&self) -> i32 {
        self.cversion
    }

    /// The number of children (`numChildren`).
    #[getter]
    fn children_count(&self) -> i32 {
        self.num_children
    }

    /// The data length (`dataLength`).
    #[getter]
    fn data_length(&self) -> i32 {
        self.data_length
    }

    /// The zxid that created the node (`czxid`).
    #[getter]
    fn creation_transaction_id(&self) -> i64 {
        self.czxid
    }

    /// The zxid of the last data change (`mzxid`).
    #[getter]
    fn last_modified_transaction_id(&self) -> i64 {
        self.mzxid
    }

    /// The owning session of an ephemeral node, `None` for other nodes.
    #[getter]
    fn owner_session_id(&self) -> Option<i64> {
        (self.ephemeral_owner != 0).then_some(self.ephemeral_owner)
    }

    fn __len__(&self) -> usize {
        STAT_FIELDS.len()
    }

    fn __getitem__(&self, index: isize) -> PyResult<i64> {
        let fields = self.fields();
        let len = fields.len() as isize;
        let at = if index < 0 { index + len } else { index };
        usize::try_from(at)
            .ok()
            .and_then(|i| fields.get(i).copied())
            .ok_or_else(|| pyo3::exceptions::PyIndexError::new_err("ZnodeStat index out of range"))
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        PyTuple::new(py, self.fields())?
            .try_iter()
            .map(Bound::into_any)
    }

    fn __repr__(&self) -> String {
        let parts: Vec<String> = STAT_FIELDS
            .iter()
            .zip(self.fields())
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        format!("ZnodeStat({})", parts.join(", "))
    }
}

/// A watch notification: what happened (`type`), the connection state, the node's path
/// (empty for session events) and the zxid of the change (-1 where the server sends none).
#[pyclass(module = "zk", frozen)]
pub struct WatchedEvent {
    /// An `EventType`.
    #[pyo3(get, name = "type")]
    pub event_type: Py<PyAny>,
    /// A `KeeperState`.
    #[pyo3(get)]
    pub state: Py<PyAny>,
    /// The path as the client names it (chroot stripped); empty for session events.
    #[pyo3(get)]
    pub path: String,
    /// The zxid of the change (-1 where the server does not send one).
    #[pyo3(get)]
    pub zxid: i64,
}

#[pymethods]
impl WatchedEvent {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "WatchedEvent(type={}, state={}, path={:?}, zxid={})",
            self.event_type.bind(py).str()?,
            self.state.bind(py).str()?,
            self.path,
            self.zxid
        ))
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        let Ok(other) = other.cast::<WatchedEvent>() else {
            return Ok(false);
        };
        let other = other.get();
        Ok(self.path == other.path
            && self.zxid == other.zxid
            && self.event_type.bind(py).eq(other.event_type.bind(py))?
            && self.state.bind(py).eq(other.state.bind(py))?)
    }
}

/// The members of `zk._types`' enums and its named tuple classes, looked up once.
struct Types {
    states: [Py<PyAny>; 7],
    keeper: Vec<(KeeperState, Py<PyAny>)>,
    unknown_keeper: Py<PyAny>,
    events: Vec<(EventType, Py<PyAny>)>,
    overflow: Py<PyAny>,
    acl: Py<PyAny>,
    id: Py<PyAny>,
    client_info: Py<PyAny>,
    node_data: Py<PyAny>,
    tree_event: Py<PyAny>,
    accepts_args: Py<PyAny>,
}

static TYPES: PyOnceLock<Types> = PyOnceLock::new();

fn types(py: Python<'_>) -> PyResult<&Types> {
    TYPES.get_or_try_init(py, || {
        let module = py.import("zk._types")?;
        let member = |class: &str, name: &str| -> PyResult<Py<PyAny>> {
            Ok(module.getattr(class)?.getattr(name)?.unbind())
        };
        let state = |name: &str| member("State", name);
        let keeper = [
            (KeeperState::SyncConnected, "CONNECTED"),
            (KeeperState::ConnectedReadOnly, "CONNECTED_RO"),
            (KeeperState::Disconnected, "DISCONNECTED"),
            (KeeperState::NoSyncConnected, "DISCONNECTED"),
            (KeeperState::Expired, "EXPIRED_SESSION"),
            (KeeperState::AuthFailed, "AUTH_FAILED"),
            (KeeperState::Closed, "CLOSED"),
            (KeeperState::SaslAuthenticated, "SASL_AUTHENTICATED"),
        ]
        .into_iter()
        .map(|(k, name)| Ok((k, member("KeeperState", name)?)))
        .collect::<PyResult<Vec<_>>>()?;
        let events = [
            (EventType::None, "NONE"),
            (EventType::NodeCreated, "CREATED"),
            (EventType::NodeDeleted, "DELETED"),
            (EventType::NodeDataChanged, "CHANGED"),
            (EventType::NodeChildrenChanged, "CHILD"),
            (EventType::DataWatchRemoved, "DATA_WATCH_REMOVED"),
            (EventType::ChildWatchRemoved, "CHILD_WATCH_REMOVED"),
            (
                EventType::PersistentWatchRemoved,
                "PERSISTENT_WATCH_REMOVED",
            ),
        ]
        .into_iter()
        .map(|(e, name)| Ok((e, member("EventType", name)?)))
        .collect::<PyResult<Vec<_>>>()?;
        Ok(Types {
            states: [
                state("CONNECTED")?,
                state("CONNECTED_RO")?,
                state("SUSPENDED")?,
                state("EXPIRED")?,
                state("AUTH_FAILED")?,
                state("CLOSED")?,
                state("LOST")?,
            ],
            keeper,
            unknown_keeper: member("KeeperState", "UNKNOWN")?,
            events,
            overflow: member("EventType", "OVERFLOW")?,
            acl: module.getattr("ACL")?.unbind(),
            id: module.getattr("Id")?.unbind(),
            client_info: module.getattr("ClientInfo")?.unbind(),
            node_data: module.getattr("NodeData")?.unbind(),
            tree_event: module.getattr("TreeEvent")?.unbind(),
            accepts_args: module.getattr("_accepts_args")?.unbind(),
        })
    })
}

/// A client state as `zk.State`; `None` (never connected yet) is `LOST`.
pub fn state(py: Python<'_>, state: Option<SessionState>) -> PyResult<Py<PyAny>> {
    let states = &types(py)?.states;
    let index = match state {
        Some(SessionState::Connected) | Some(SessionState::SaslAuthenticated) => 0,
        Some(SessionState::ConnectedReadOnly) => 1,
        Some(SessionState::Suspended) | Some(SessionState::Connecting) => 2,
        Some(SessionState::Expired) => 3,
        Some(SessionState::AuthFailed) => 4,
        Some(SessionState::Closed) => 5,
        None => 6,
    };
    Ok(states[index].clone_ref(py))
}

fn keeper_state(py: Python<'_>, state: KeeperState) -> PyResult<Py<PyAny>> {
    let t = types(py)?;
    Ok(t.keeper
        .iter()
        .find(|(k, _)| *k == state)
        .map(|(_, member)| member)
        .unwrap_or(&t.unknown_keeper)
        .clone_ref(py))
}

fn event_type(py: Python<'_>, event: EventType) -> PyResult<Py<PyAny>> {
    let t = types(py)?;
    Ok(t.events
        .iter()
        .find(|(e, _)| *e == event)
        .map(|(_, member)| member)
        .unwrap_or(&t.overflow)
        .clone_ref(py))
}

/// A core watch event as a `WatchedEvent`.
pub fn event(py: Python<'_>, event: CoreEvent) -> PyResult<Py<WatchedEvent>> {
    Py::new(
        py,
        WatchedEvent {
            event_type: event_type(py, event.event_type)?,
            state: keeper_state(py, event.state)?,
            path: event.path,
            zxid: event.zxid,
        },
    )
}

/// The event a persistent watch reports when its queue overflowed and events were lost.
pub fn overflow_event(py: Python<'_>, path: &str) -> PyResult<Py<WatchedEvent>> {
    Py::new(
        py,
        WatchedEvent {
            event_type: types(py)?.overflow.clone_ref(py),
            state: keeper_state(py, KeeperState::SyncConnected)?,
            path: path.to_owned(),
            zxid: -1,
        },
    )
}

/// A Stat as a `ZnodeStat` object.
pub fn stat(py: Python<'_>, stat: Stat) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, ZnodeStat::from(stat))?.into_any())
}

/// `(bytes, ZnodeStat)`.
pub fn data_and_stat(py: Python<'_>, data: &[u8], s: Stat) -> PyResult<Py<PyAny>> {
    let tuple = PyTuple::new(
        py,
        [PyBytes::new(py, data).into_any().unbind(), stat(py, s)?],
    )?;
    Ok(tuple.into_any().unbind())
}

/// A list of `str`.
pub fn strings(py: Python<'_>, items: Vec<String>) -> PyResult<Py<PyAny>> {
    Ok(PyList::new(py, items)?.into_any().unbind())
}

/// ACLs as `zk.ACL(perms, zk.Id(scheme, id))` tuples.
pub fn acls_to_py(py: Python<'_>, acls: Vec<Acl>) -> PyResult<Py<PyAny>> {
    let t = types(py)?;
    let items = acls
        .into_iter()
        .map(|acl| {
            let id = t.id.call1(py, (acl.id.scheme, acl.id.id))?;
            t.acl.call1(py, (acl.perms, id))
        })
        .collect::<PyResult<Vec<_>>>()?;
    Ok(PyList::new(py, items)?.into_any().unbind())
}

/// A `zk.ClientInfo(auth_scheme, user)`.
pub fn client_info(py: Python<'_>, scheme: String, user: String) -> PyResult<Py<PyAny>> {
    types(py)?.client_info.call1(py, (scheme, user))
}

/// A `zk.NodeData(path, data, stat)`.
pub fn node_data(py: Python<'_>, path: &str, data: &[u8], s: Stat) -> PyResult<Py<PyAny>> {
    types(py)?
        .node_data
        .call1(py, (path, PyBytes::new(py, data), stat(py, s)?))
}

/// A `zk.TreeEvent(event_type, event_data)`.
pub fn tree_event(py: Python<'_>, kind: i32, data: Option<Py<PyAny>>) -> PyResult<Py<PyAny>> {
    types(py)?.tree_event.call1(py, (kind, data))
}

/// Whether `func` can be called with `count` positional arguments (kazoo passes the
/// event to watch functions that take it).
pub fn accepts_args(py: Python<'_>, func: &Bound<'_, PyAny>, count: usize) -> PyResult<bool> {
    types(py)?
        .accepts_args
        .call1(py, (func, count))?
        .extract(py)
}

/// The ACL list for `acl` (`None`: open to everyone, as kazoo's default). Each entry is a
/// `zk.ACL` or any `(perms, (scheme, id))` pair, or an object with `perms` and
/// `id.scheme`/`id.id` (kazoo's `ACL`).
pub fn acls_from_py(acl: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<Acl>> {
    let Some(acl) = acl.filter(|a| !a.is_none()) else {
        return Ok(Acl::open_unsafe());
    };
    if acl.is_instance_of::<PyString>() || acl.is_instance_of::<PyBytes>() {
        return Err(PyTypeError::new_err(
            "acl must be a list of ACL entries, not a string",
        ));
    }
    let mut out = Vec::new();
    for entry in acl.try_iter()? {
        out.push(acl_from_py(&entry?)?);
    }
    if out.is_empty() {
        return Err(PyTypeError::new_err("acl must not be empty"));
    }
    Ok(out)
}

fn acl_from_py(entry: &Bound<'_, PyAny>) -> PyResult<Acl> {
    let bad = || PyTypeError::new_err(format!("not an ACL entry: {entry}"));
    let (perms, id) = match (entry.getattr("perms"), entry.getattr("id")) {
        (Ok(perms), Ok(id)) => (perms, id),
        _ => {
            let (perms, id): (Bound<'_, PyAny>, Bound<'_, PyAny>) =
                entry.extract().map_err(|_| bad())?;
            (perms, id)
        }
    };
    let perms: i32 = perms.extract().map_err(|_| bad())?;
    let (scheme, id): (String, String) = match (id.getattr("scheme"), id.getattr("id")) {
        (Ok(scheme), Ok(id)) => (
            scheme.extract().map_err(|_| bad())?,
            id.extract().map_err(|_| bad())?,
        ),
        _ => id.extract().map_err(|_| bad())?,
    };
    Ok(Acl::new(perms, &scheme, &id))
}

/// Node data: `bytes` (or `bytearray`); anything else, `str` above all, is a TypeError.
pub fn data_arg(value: &Bound<'_, PyAny>, what: &str) -> PyResult<PyBackedBytes> {
    if value.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(format!(
            "{what} must be bytes, not str (encode it, e.g. value.encode())"
        )));
    }
    value.extract::<PyBackedBytes>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{what} must be bytes, not {}",
            value
                .get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })
}

/// A credential or identifier given as `str` (UTF-8) or `bytes`.
pub fn text_or_bytes(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<u8>> {
    if let Ok(text) = value.cast::<PyString>() {
        return Ok(text.to_cow()?.as_bytes().to_vec());
    }
    value
        .extract::<PyBackedBytes>()
        .map(|b| b.to_vec())
        .map_err(|_| PyTypeError::new_err(format!("{what} must be str or bytes")))
}

/// A duration in seconds (`None` stays `None`); negative or NaN is a ValueError.
pub fn seconds(value: Option<f64>, what: &str) -> PyResult<Option<std::time::Duration>> {
    match value {
        None => Ok(None),
        Some(s) if s.is_finite() && s >= 0.0 => Ok(Some(std::time::Duration::from_secs_f64(s))),
        Some(s) => Err(pyo3::exceptions::PyValueError::new_err(format!(
            "{what} must be a non-negative number of seconds, not {s}"
        ))),
    }
}
