//! `zk.Client`: the synchronous client in kazoo's shape, each operation also as
//! `*_async` returning an [`AsyncResult`]. Every method converts its arguments, calls
//! `zk_core::client::Client` (or a recipe) and converts the result or error back.

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBytes, PyDict, PyTuple};
use zk_core::client::{
    Client as CoreClient, ClientOptions, ConnectString, Error, SaslOptions, SessionState,
    TlsOptions, Watch,
};
use zk_core::proto::{Acl, CreateMode, ErrorCode, KeeperState, Stat};
use zk_core::recipes;

use crate::dispatch::Callbacks;
use crate::error;
use crate::result::{self, AsyncResult};
use crate::runtime::{self, Owned};
use crate::transaction::Transaction;
use crate::types;
use crate::watches::{self, PersistentWatch};

/// What a client object and everything made from it (recipes, watches) share.
pub struct Shared {
    pub hosts: String,
    options: ClientOptions,
    /// The session's client, from `start()` to `stop()`.
    core: Mutex<Option<Owned<CoreClient>>>,
    pub callbacks: Arc<Callbacks>,
    listeners: Mutex<Vec<Py<PyAny>>>,
    closed: AtomicBool,
    /// `stop()` or `close()` has begun: session-closed events are not reported.
    stopping: AtomicBool,
    started: AtomicBool,
    generation: u32,
    state_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    pub persistent: Mutex<Vec<Weak<watches::PersistentInner>>>,
}

impl Shared {
    /// The session's core client, or the error every call on this client raises now.
    pub fn core(&self, py: Python<'_>) -> PyResult<CoreClient> {
        if self.generation != runtime::generation() {
            return Err(error::closed(
                py,
                "this zk client was created before os.fork() in the parent process; \
                 create a new client in the child",
            ));
        }
        if self.closed.load(Ordering::Acquire) {
            return Err(error::closed(py, "the client is closed"));
        }
        match self.core.lock().as_ref() {
            Some(client) => Ok((**client).clone()),
            None if self.started.load(Ordering::Acquire) => Err(error::closed(
                py,
                "the client is stopped (call start() for a new session)",
            )),
            None => Err(error::closed(
                py,
                "the client is not started (call start())",
            )),
        }
    }

    /// `f` of the session's core client; `None` without a session, and in a forked child
    /// (where the parent's client must not be touched).
    /// The session's client while there is one (for an event loop to borrow its reads).
    pub fn current_core(&self) -> Option<CoreClient> {
        self.with_core(|client| client.clone())
    }

    fn with_core<T>(&self, f: impl FnOnce(&CoreClient) -> T) -> Option<T> {
        if self.generation != runtime::generation() {
            return None;
        }
        self.core.lock().as_ref().map(|client| f(client))
    }

    /// Whether session-closed events should be reported (not after stop/close).
    pub fn reports_close(&self) -> bool {
        !self.stopping.load(Ordering::Acquire)
    }

    fn notify_listeners(&self, py: Python<'_>, state: SessionState) -> PyResult<()> {
        let listeners: Vec<Py<PyAny>> = self
            .listeners
            .lock()
            .iter()
            .map(|l| l.clone_ref(py))
            .collect();
        let value = types::state(py, Some(state))?;
        for listener in listeners {
            match listener.call1(py, (value.clone_ref(py),)) {
                // kazoo: a listener returning True is removed.
                Ok(returned) if returned.bind(py).is(pyo3::types::PyBool::new(py, true)) => {
                    self.listeners
                        .lock()
                        .retain(|l| !l.bind(py).is(listener.bind(py)));
                }
                Ok(_) => {}
                Err(e) => crate::dispatch::log_callback_error(py, e),
            }
        }
        Ok(())
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Forgotten without close(): end the session in the background.
        if let Some(client) = self.core.get_mut().take() {
            if client.is_current() {
                let client = (*client).clone();
                runtime::handle().spawn(async move { client.close().await });
            }
        }
        self.callbacks.stop();
    }
}

/// A ZooKeeper client (kazoo's `KazooClient`): `start()`, the operations, `stop()`,
/// `close()`. Every operation blocks with the GIL released; `*_async` forms return an
/// `AsyncResult` at once.
#[pyclass(module = "zk", name = "Client", frozen, subclass)]
pub struct PyClient {
    pub shared: Arc<Shared>,
}

fn ok_none(py: Python<'_>, _: ()) -> PyResult<Py<PyAny>> {
    Ok(result::none(py))
}

fn ok_true(py: Python<'_>, _: ()) -> PyResult<Py<PyAny>> {
    Ok(result::true_(py))
}

fn ok_stat(py: Python<'_>, stat: Stat) -> PyResult<Py<PyAny>> {
    types::stat(py, stat)
}

fn ok_opt_stat(py: Python<'_>, stat: Option<Stat>) -> PyResult<Py<PyAny>> {
    match stat {
        Some(stat) => types::stat(py, stat),
        None => Ok(py.None()),
    }
}

fn ok_data(py: Python<'_>, (data, stat): (Vec<u8>, Stat)) -> PyResult<Py<PyAny>> {
    types::data_and_stat(py, &data, stat)
}

fn ok_string(py: Python<'_>, s: String) -> PyResult<Py<PyAny>> {
    Ok(s.into_pyobject(py)?.into_any().unbind())
}

fn ok_strings(py: Python<'_>, items: Vec<String>) -> PyResult<Py<PyAny>> {
    types::strings(py, items)
}

/// Children's names and, with `include_data`, the parent's Stat.
type Children = (Vec<String>, Option<Stat>);

fn ok_children(py: Python<'_>, (children, stat): Children) -> PyResult<Py<PyAny>> {
    let list = types::strings(py, children)?;
    match stat {
        None => Ok(list),
        Some(stat) => result::tuple(py, vec![list, types::stat(py, stat)?]),
    }
}

fn ok_created(py: Python<'_>, (path, stat): (String, Option<Stat>)) -> PyResult<Py<PyAny>> {
    let path = ok_string(py, path)?;
    match stat {
        None => Ok(path),
        Some(stat) => result::tuple(py, vec![path, types::stat(py, stat)?]),
    }
}

fn ok_acls(py: Python<'_>, (acls, stat): (Vec<Acl>, Stat)) -> PyResult<Py<PyAny>> {
    result::tuple(
        py,
        vec![types::acls_to_py(py, acls)?, types::stat(py, stat)?],
    )
}

fn ok_whoami(py: Python<'_>, infos: Vec<zk_core::proto::ClientInfo>) -> PyResult<Py<PyAny>> {
    let items = infos
        .into_iter()
        .map(|i| types::client_info(py, i.auth_scheme, i.user))
        .collect::<PyResult<Vec<_>>>()?;
    Ok(pyo3::types::PyList::new(py, items)?.into_any().unbind())
}

/// The create mode for kazoo's flags plus `container` and `ttl`.
fn create_mode(
    ephemeral: bool,
    sequence: bool,
    container: bool,
    ttl: Option<Duration>,
) -> Result<CreateMode, &'static str> {
    Ok(match (ephemeral, sequence, container, ttl.is_some()) {
        (_, _, true, _) if ephemeral || sequence || ttl.is_some() => {
            return Err("a container node cannot be ephemeral, sequential or have a TTL")
        }
        (_, _, true, _) => CreateMode::Container,
        (true, _, _, true) => return Err("an ephemeral node cannot have a TTL"),
        (false, false, _, true) => CreateMode::PersistentWithTtl,
        (false, true, _, true) => CreateMode::PersistentSequentialWithTtl,
        (false, false, _, false) => CreateMode::Persistent,
        (false, true, _, false) => CreateMode::PersistentSequential,
        (true, false, _, false) => CreateMode::Ephemeral,
        (true, true, _, false) => CreateMode::EphemeralSequential,
    })
}

/// `create_mode` with its errors as exceptions (a zero TTL is a ValueError).
pub fn create_mode_for(
    py: Python<'_>,
    ephemeral: bool,
    sequence: bool,
    container: bool,
    ttl: Option<Duration>,
) -> PyResult<CreateMode> {
    if ttl.is_some_and(|t| t.is_zero()) {
        return Err(PyValueError::new_err("ttl must be positive"));
    }
    create_mode(ephemeral, sequence, container, ttl)
        .map_err(|why| error::with_code(py, ErrorCode::BadArguments, why))
}

impl PyClient {
    fn core(&self, py: Python<'_>) -> PyResult<CoreClient> {
        self.shared.core(py)
    }

    /// Runs `fut` now, blocking with the GIL released.
    fn blocking<T, F>(
        &self,
        py: Python<'_>,
        fut: F,
        ok: fn(Python<'_>, T) -> PyResult<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>>
    where
        F: Future<Output = Result<T, Error>> + Send,
        T: Send,
    {
        match runtime::wait(py, fut)? {
            Ok(value) => ok(py, value),
            Err(e) => Err(error::to_py(py, e)),
        }
    }

    /// Runs `fut` on the runtime; its `AsyncResult` now.
    fn spawn<T, F>(
        &self,
        py: Python<'_>,
        fut: F,
        ok: fn(Python<'_>, T) -> PyResult<Py<PyAny>>,
    ) -> PyResult<Py<AsyncResult>>
    where
        F: Future<Output = Result<T, Error>> + Send + 'static,
        T: Send + 'static,
    {
        let callbacks = Some(self.shared.callbacks.clone());
        result::spawn(py, callbacks, async move {
            result::convert(fut.await, ok, error::to_py)
        })
    }

    /// A one-shot watch forwarder for a `watch=` callback, if one was given.
    fn watcher(&self, watch: Option<Bound<'_, PyAny>>) -> Option<WatchCallback> {
        watch.filter(|w| !w.is_none()).map(|w| WatchCallback {
            callback: w.unbind(),
            shared: Arc::downgrade(&self.shared),
            callbacks: self.shared.callbacks.clone(),
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn create_op(
        &self,
        py: Python<'_>,
        path: String,
        value: Option<&Bound<'_, PyAny>>,
        acl: Option<&Bound<'_, PyAny>>,
        ephemeral: bool,
        sequence: bool,
        makepath: bool,
        container: bool,
        ttl: Option<f64>,
        include_data: bool,
    ) -> PyResult<impl Future<Output = Result<(String, Option<Stat>), Error>> + Send + 'static>
    {
        let data: Option<PyBackedBytes> = value.map(|v| types::data_arg(v, "value")).transpose()?;
        let acl = types::acls_from_py(acl)?;
        let ttl = types::seconds(ttl, "ttl")?;
        let mode = create_mode_for(py, ephemeral, sequence, container, ttl)?;
        let client = self.core(py)?;
        Ok(async move {
            let data = data.as_deref().unwrap_or(b"");
            let (created, stat) = if makepath {
                recipes::create_with_parents(&client, &path, Some(data), &acl, mode, ttl).await?
            } else {
                client
                    .create_with(&path, Some(data), &acl, mode, ttl)
                    .await?
            };
            Ok((created, include_data.then_some(stat)))
        })
    }

    fn get_op(
        &self,
        py: Python<'_>,
        path: String,
        watch: Option<Bound<'_, PyAny>>,
    ) -> PyResult<impl Future<Output = Result<(Vec<u8>, Stat), Error>> + Send + 'static> {
        let client = self.core(py)?;
        let watcher = self.watcher(watch);
        Ok(async move {
            match watcher {
                None => client.get_data(&path).await,
                Some(watcher) => {
                    let (data, stat, watch) = client.get_data_watch(&path).await?;
                    watcher.forward(watch);
                    Ok((data, stat))
                }
            }
        })
    }

    fn exists_op(
        &self,
        py: Python<'_>,
        path: String,
        watch: Option<Bound<'_, PyAny>>,
    ) -> PyResult<impl Future<Output = Result<Option<Stat>, Error>> + Send + 'static> {
        let client = self.core(py)?;
        let watcher = self.watcher(watch);
        Ok(async move {
            match watcher {
                None => client.exists(&path).await,
                Some(watcher) => {
                    let (stat, watch) = client.exists_watch(&path).await?;
                    watcher.forward(watch);
                    Ok(stat)
                }
            }
        })
    }

    fn children_op(
        &self,
        py: Python<'_>,
        path: String,
        watch: Option<Bound<'_, PyAny>>,
        include_data: bool,
    ) -> PyResult<impl Future<Output = Result<Children, Error>> + Send + 'static> {
        let client = self.core(py)?;
        let watcher = self.watcher(watch);
        Ok(async move {
            let (children, stat) = match watcher {
                None if include_data => client.get_children2(&path).await?,
                None => (client.get_children(&path).await?, Stat::default()),
                Some(watcher) => {
                    let (children, stat, watch) = client.get_children_watch(&path).await?;
                    watcher.forward(watch);
                    (children, stat)
                }
            };
            Ok((children, include_data.then_some(stat)))
        })
    }

    fn set_op(
        &self,
        py: Python<'_>,
        path: String,
        value: &Bound<'_, PyAny>,
        version: i32,
    ) -> PyResult<impl Future<Output = Result<Stat, Error>> + Send + 'static> {
        let data = types::data_arg(value, "value")?;
        let client = self.core(py)?;
        Ok(async move { client.set_data(&path, &data, version).await })
    }

    fn delete_op(
        &self,
        py: Python<'_>,
        path: String,
        version: i32,
        recursive: bool,
    ) -> PyResult<impl Future<Output = Result<(), Error>> + Send + 'static> {
        let client = self.core(py)?;
        Ok(async move {
            if recursive {
                zk_core::proto::path::validate(&path, false)
                    .map_err(|e| Error::BadArguments(format!("{path:?}: {e}")))?;
                recipes::delete_recursive(&client, &path).await
            } else {
                client.delete(&path, version).await
            }
        })
    }

    fn ensure_op(
        &self,
        py: Python<'_>,
        path: String,
        acl: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<impl Future<Output = Result<(), Error>> + Send + 'static> {
        let acl = types::acls_from_py(acl)?;
        let client = self.core(py)?;
        Ok(async move {
            zk_core::proto::path::validate(&path, false)
                .map_err(|e| Error::BadArguments(format!("{path:?}: {e}")))?;
            recipes::ensure_path_with_acl(&client, &path, &acl).await
        })
    }

    fn set_acls_op(
        &self,
        py: Python<'_>,
        path: String,
        acls: &Bound<'_, PyAny>,
        version: i32,
    ) -> PyResult<impl Future<Output = Result<Stat, Error>> + Send + 'static> {
        let acls = types::acls_from_py(Some(acls))?;
        let client = self.core(py)?;
        Ok(async move { client.set_acl(&path, &acls, version).await })
    }

    fn auth_op(
        &self,
        py: Python<'_>,
        scheme: String,
        credential: &Bound<'_, PyAny>,
    ) -> PyResult<impl Future<Output = Result<(), Error>> + Send + 'static> {
        let credential = types::text_or_bytes(credential, "credential")?;
        let client = self.core(py)?;
        Ok(async move { client.add_auth(&scheme, &credential).await })
    }

    fn reconfig_op(
        &self,
        py: Python<'_>,
        joining: Option<String>,
        leaving: Option<String>,
        new_members: Option<String>,
        from_config: i64,
    ) -> PyResult<impl Future<Output = Result<(Vec<u8>, Stat), Error>> + Send + 'static> {
        let client = self.core(py)?;
        Ok(async move {
            client
                .reconfig(
                    joining.as_deref(),
                    leaving.as_deref(),
                    new_members.as_deref(),
                    from_config,
                )
                .await
        })
    }

    /// Starts a session: creates the core client and the state forwarder.
    fn begin(&self, py: Python<'_>) -> PyResult<CoreClient> {
        let shared = &self.shared;
        if shared.generation != runtime::generation() || shared.closed.load(Ordering::Acquire) {
            return self.core(py);
        }
        if let Some(client) = shared.core.lock().as_ref() {
            if !client.state().is_terminal() {
                return Ok((**client).clone());
            }
        }
        let handle = runtime::handle();
        let client = {
            let _context = handle.enter();
            CoreClient::start(&shared.hosts, shared.options.clone())
                .map_err(|e| error::to_py(py, e))?
        };
        shared.stopping.store(false, Ordering::Release);
        shared.started.store(true, Ordering::Release);
        let replaced = shared.core.lock().replace(Owned::new(client.clone()));
        if let Some(old) = replaced {
            let old = (*old).clone();
            handle.spawn(async move { old.close().await });
        }
        let task = handle.spawn(forward_states(
            Arc::downgrade(shared),
            client.state_changes(),
            shared.callbacks.clone(),
        ));
        if let Some(previous) = shared.state_task.lock().replace(task) {
            previous.abort();
        }
        Ok(client)
    }

    /// Ends the session, if any; `CLOSED` goes to the listeners.
    fn end(&self) -> Option<CoreClient> {
        self.shared.stopping.store(true, Ordering::Release);
        let client = self.shared.core.lock().take()?;
        client.is_current().then(|| (*client).clone())
    }
}

/// The error `start()` raises: a timeout names the hosts and the time waited.
fn start_error(py: Python<'_>, error: Error, hosts: &str, timeout: f64) -> PyErr {
    match error {
        Error::Timeout => error::with_code(
            py,
            ErrorCode::OperationTimeout,
            &format!("no session with {hosts} within {timeout} s (connection time-out)"),
        ),
        other => error::to_py(py, other),
    }
}

/// Forwards the session's states to the listeners, on the dispatch thread.
async fn forward_states(
    shared: Weak<Shared>,
    mut changes: zk_core::client::StateChanges,
    callbacks: Arc<Callbacks>,
) {
    while let Some(state) = changes.next().await {
        // kazoo reports no SASL event: listeners heard CONNECTED when the connection came.
        if state == SessionState::SaslAuthenticated {
            continue;
        }
        let shared = shared.clone();
        callbacks.call(move |py| match shared.upgrade() {
            Some(shared) => shared.notify_listeners(py, state),
            None => Ok(()),
        });
    }
}

/// Where a `watch=` callback's event goes.
struct WatchCallback {
    callback: Py<PyAny>,
    shared: Weak<Shared>,
    callbacks: Arc<Callbacks>,
}

impl WatchCallback {
    /// Waits for the watch in the background and calls the callback with its event (not
    /// for the session-closed event after stop/close).
    fn forward(self, watch: Watch) {
        runtime::handle().spawn(async move {
            let Ok(event) = watch.changed().await else {
                return;
            };
            if event.state == KeeperState::Closed
                && !self.shared.upgrade().is_some_and(|s| s.reports_close())
            {
                return;
            }
            let callback = self.callback;
            self.callbacks.call(move |py| {
                let event = types::event(py, event)?;
                callback.call1(py, (event,))?;
                Ok(())
            });
        });
    }
}

/// The core's TLS options from kazoo's parameters; files are read now, so a bad one is a
/// `BadArgumentsError` naming it before anything connects.
fn tls_options(
    use_ssl: bool,
    ca: Option<PathBuf>,
    certfile: Option<PathBuf>,
    keyfile: Option<PathBuf>,
    keyfile_password: Option<String>,
    verify_certs: bool,
    check_hostname: bool,
) -> Result<Option<TlsOptions>, Error> {
    let bad = |message: &str| Err(Error::BadArguments(message.to_owned()));
    if !use_ssl {
        if ca.is_some() || certfile.is_some() || keyfile.is_some() || keyfile_password.is_some() {
            return bad("ca, certfile, keyfile and keyfile_password need use_ssl=True");
        }
        return Ok(None);
    }
    if !verify_certs {
        return bad("verify_certs=False is not supported: pass the authority that signs the servers' certificates as ca=");
    }
    let Some(ca) = ca else {
        return bad("use_ssl=True needs ca= (a PEM file of the authorities that sign the servers' certificates)");
    };
    let mut tls = TlsOptions::new(ca)
        .verify_hostname(check_hostname)
        .client_cert_files(certfile, keyfile)?;
    if let Some(password) = keyfile_password {
        tls = tls.key_password(password);
    }
    tls.validate()?;
    Ok(Some(tls))
}

/// The core's SASL options from kazoo's `sasl_options` dict (`mechanism`, `username`,
/// `password`, optional `service`; `principal` is accepted and, as with DIGEST-MD5 in
/// kazoo, unused) or kazoo's older `("sasl", "user:password")` entry of `auth_data`, which
/// is taken out of the `addauth` credentials (with kazoo's DeprecationWarning).
fn sasl_options(
    py: Python<'_>,
    sasl_options: Option<&Bound<'_, PyDict>>,
    auth: &mut Vec<(String, Vec<u8>)>,
) -> PyResult<Option<SaslOptions>> {
    let bad = |message: String| error::to_py(py, Error::BadArguments(message));
    let mut legacy = None;
    for (_, credential) in auth.iter().filter(|(scheme, _)| scheme == "sasl") {
        if legacy.is_some() || sasl_options.is_some() {
            return Err(bad("multiple SASL configurations provided".into()));
        }
        let text = String::from_utf8(credential.clone())
            .map_err(|_| bad("the ('sasl', 'user:password') credential is not UTF-8".into()))?;
        let Some((user, password)) = text.split_once(':') else {
            return Err(bad(
                "the ('sasl', ...) credential must be 'user:password'".into()
            ));
        };
        legacy = Some(SaslOptions::digest_md5(user, password));
    }
    if let Some(options) = legacy {
        auth.retain(|(scheme, _)| scheme != "sasl");
        PyErr::warn(
            py,
            &py.get_type::<pyo3::exceptions::PyDeprecationWarning>(),
            c"SASL credentials in auth_data are deprecated (as in kazoo); use sasl_options",
            2,
        )?;
        return Ok(Some(options));
    }
    let Some(dict) = sasl_options else {
        return Ok(None);
    };
    let mut fields: Vec<(String, String)> = Vec::new();
    for (key, value) in dict.iter() {
        let key: String = key
            .extract()
            .map_err(|_| bad("sasl_options keys must be str".into()))?;
        let value: String = value
            .extract()
            .map_err(|_| bad(format!("sasl_options[{key:?}] must be str")))?;
        match key.as_str() {
            "mechanism" | "username" | "password" | "service" | "principal" => {
                fields.push((key, value))
            }
            other => return Err(bad(format!("sasl_options: unknown key {other:?}"))),
        }
    }
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let mechanism =
        field("mechanism").ok_or_else(|| bad("sasl_options needs 'mechanism'".into()))?;
    let (username, password) = (field("username"), field("password"));
    let mut options = SaslOptions::for_mechanism(
        &mechanism,
        username.clone().unwrap_or_default(),
        password.clone().unwrap_or_default(),
    )
    .map_err(|e| error::to_py(py, e))?;
    if username.is_none() || password.is_none() {
        return Err(bad("sasl_options needs 'username' and 'password'".into()));
    }
    if let Some(service) = field("service") {
        options = options.protocol(service);
    }
    options.validate().map_err(|e| error::to_py(py, e))?;
    Ok(Some(options))
}

#[pymethods]
impl PyClient {
    /// A client for `hosts` (`"host:port,host:port/chroot"`); connect with `start()`.
    ///
    /// `timeout` is the session timeout in seconds; `client_id=(session_id, password)`
    /// resumes a session; `read_only` accepts read-only servers; `auth_data` is a list of
    /// `(scheme, credential)` sent on every connect; `request_timeout` fails any call
    /// after that many seconds (`OperationTimeoutError`); `connect_timeout` fixes how long each
    /// connection attempt waits for an answer (default: 2 s, doubling after unanswered
    /// rounds up to the session timeout divided among the hosts).
    ///
    /// TLS, with kazoo's parameters: `use_ssl=True` speaks TLS to the servers (their
    /// `secureClientPort`), checking their certificates against the PEM file `ca`;
    /// `certfile`/`keyfile` (PEM) are this client's certificate and key for servers that
    /// ask for one, the key encrypted (PKCS#8) with `keyfile_password` if given; `check_hostname` also checks that a server's certificate names the host
    /// connected to. `verify_certs=False` is refused: pass the authority as `ca` instead.
    ///
    /// SASL, with kazoo's parameter: `sasl_options={'mechanism': 'DIGEST-MD5', 'username':
    /// ..., 'password': ...}` (optional `'service'`, default `zookeeper`) authenticates every
    /// connection before anything else; kazoo's older `auth_data=[('sasl', 'user:password')]`
    /// does the same. Only DIGEST-MD5 is supported (GSSAPI raises `BadArgumentsError`). A
    /// refused login makes `start()` raise `AuthFailedError` and ends the session.
    #[new]
    #[pyo3(
        text_signature = "(hosts='127.0.0.1:2181', timeout=10.0, client_id=None, read_only=False, auth_data=None, request_timeout=None, connect_timeout=None, use_ssl=False, ca=None, certfile=None, keyfile=None, verify_certs=True, check_hostname=False, sasl_options=None, keyfile_password=None)"
    )]
    #[pyo3(signature = (hosts = "127.0.0.1:2181".to_owned(), timeout = 10.0, client_id = None,
        read_only = false, auth_data = None, request_timeout = None, connect_timeout = None,
        use_ssl = false, ca = None, certfile = None, keyfile = None, verify_certs = true,
        check_hostname = false, sasl_options = None, keyfile_password = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        hosts: String,
        timeout: f64,
        client_id: Option<(i64, PyBackedBytes)>,
        read_only: bool,
        auth_data: Option<Vec<(String, Bound<'_, PyAny>)>>,
        request_timeout: Option<f64>,
        connect_timeout: Option<f64>,
        use_ssl: bool,
        ca: Option<PathBuf>,
        certfile: Option<PathBuf>,
        keyfile: Option<PathBuf>,
        verify_certs: bool,
        check_hostname: bool,
        sasl_options: Option<Bound<'_, PyDict>>,
        keyfile_password: Option<String>,
    ) -> PyResult<PyClient> {
        ConnectString::parse(&hosts).map_err(|e| error::to_py(py, e))?;
        let session_timeout = types::seconds(Some(timeout), "timeout")?.unwrap_or_default();
        if session_timeout.is_zero() {
            return Err(PyValueError::new_err("timeout must be positive"));
        }
        let mut options = ClientOptions::default().session_timeout(session_timeout);
        options.request_timeout = types::seconds(request_timeout, "request_timeout")?;
        options.connect_timeout = types::seconds(connect_timeout, "connect_timeout")?;
        options.can_be_read_only = read_only;
        if let Some((id, password)) = client_id {
            options.session = Some((id, password.to_vec()));
        }
        for (scheme, credential) in auth_data.unwrap_or_default() {
            let credential = types::text_or_bytes(&credential, "auth_data credential")?;
            options.auth.push((scheme, credential));
        }
        options.tls = tls_options(
            use_ssl,
            ca,
            certfile,
            keyfile,
            keyfile_password,
            verify_certs,
            check_hostname,
        )
        .map_err(|e| error::to_py(py, e))?;
        options.sasl = self::sasl_options(py, sasl_options.as_ref(), &mut options.auth)?;
        crate::logging::refresh_level(py);
        Ok(PyClient {
            shared: Arc::new(Shared {
                hosts,
                options,
                core: Mutex::new(None),
                callbacks: Callbacks::start(py)?,
                listeners: Mutex::new(Vec::new()),
                closed: AtomicBool::new(false),
                stopping: AtomicBool::new(false),
                started: AtomicBool::new(false),
                generation: runtime::generation(),
                state_task: Mutex::new(None),
                persistent: Mutex::new(Vec::new()),
            }),
        })
    }

    /// The connect string.
    #[getter]
    fn hosts(&self) -> String {
        self.shared.hosts.clone()
    }

    /// The requested session timeout in seconds.
    #[getter]
    fn timeout(&self) -> f64 {
        self.shared.options.session_timeout.as_secs_f64()
    }

    /// Connects and waits (at most `timeout` seconds) until the session is established.
    /// On timeout raises `OperationTimeoutError` (a `TimeoutError`) and stops; never
    /// hangs. Calling it on a started client does nothing; after `stop()` or an expired
    /// session it starts a new session.
    #[pyo3(signature = (timeout = 15.0))]
    fn start(&self, py: Python<'_>, timeout: f64) -> PyResult<()> {
        let limit = types::seconds(Some(timeout), "timeout")?.unwrap_or_default();
        crate::logging::refresh_level(py);
        let client = self.begin(py)?;
        match runtime::wait(py, client.wait_connected(limit)) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                if let Some(client) = self.end() {
                    runtime::wait(py, client.close())?;
                }
                Err(start_error(py, e, &self.shared.hosts, timeout))
            }
            Err(interrupted) => {
                if let Some(client) = self.end() {
                    runtime::handle().spawn(async move { client.close().await });
                }
                Err(interrupted)
            }
        }
    }

    /// Like `start()`, returning at once: the `AsyncResult` completes with `None` once
    /// connected (or with the error).
    #[pyo3(signature = (timeout = 15.0))]
    fn start_async(&self, py: Python<'_>, timeout: f64) -> PyResult<Py<AsyncResult>> {
        let limit = types::seconds(Some(timeout), "timeout")?.unwrap_or_default();
        let client = self.begin(py)?;
        let hosts = self.shared.hosts.clone();
        let callbacks = Some(self.shared.callbacks.clone());
        result::spawn(py, callbacks, async move {
            let connected = client.wait_connected(limit).await;
            result::convert(connected, ok_none, move |py, e| {
                start_error(py, e, &hosts, timeout)
            })
        })
    }

    /// Closes the session (the server deletes its ephemeral nodes at once). Listeners
    /// get `CLOSED`. The client can be started again.
    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        if let Some(client) = self.end() {
            runtime::wait(py, client.close())?;
        }
        Ok(())
    }

    /// `stop()` returning at once.
    fn stop_async(&self, py: Python<'_>) -> PyResult<Py<AsyncResult>> {
        let client = self.end();
        self.spawn(
            py,
            async move {
                if let Some(client) = client {
                    client.close().await;
                }
                Ok(())
            },
            ok_none,
        )
    }

    /// Stops the client for good: closes the session and ends the dispatch thread once
    /// the callbacks already queued (`CLOSED` included) have run. Safe from inside a
    /// callback. Every later call raises `ConnectionClosedError`.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        self.stop(py)?;
        if self.shared.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        // The state forwarder ends after CLOSED; let it queue that before the stop.
        let task = self.shared.state_task.lock().take();
        if let Some(task) = task {
            let _ = runtime::wait(py, async move {
                tokio::time::timeout(Duration::from_secs(5), task).await
            });
        }
        self.shared.callbacks.stop();
        Ok(())
    }

    /// `close()` returning at once.
    fn close_async(&self, py: Python<'_>) -> PyResult<Py<AsyncResult>> {
        let client = self.end();
        let first = !self.shared.closed.swap(true, Ordering::AcqRel);
        let task = self.shared.state_task.lock().take();
        let callbacks = self.shared.callbacks.clone();
        self.spawn(
            py,
            async move {
                if let Some(client) = client {
                    client.close().await;
                }
                if let Some(task) = task {
                    let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
                }
                if first {
                    callbacks.stop();
                }
                Ok(())
            },
            ok_none,
        )
    }

    /// `stop()` then `start()`: a new session.
    #[pyo3(signature = (timeout = 15.0))]
    fn restart(&self, py: Python<'_>, timeout: f64) -> PyResult<()> {
        self.stop(py)?;
        self.start(py, timeout)
    }

    fn __enter__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        let started = {
            let this = slf.get();
            this.shared
                .with_core(|c| !c.state().is_terminal())
                .unwrap_or(false)
        };
        if !started {
            slf.get().start(slf.py(), 15.0)?;
        }
        Ok(slf)
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    /// The client's state: a `zk.State` (`LOST` before the first `start()`).
    #[getter]
    fn state(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let state = match self.shared.with_core(|c| c.state()) {
            Some(state) => Some(state),
            None if self.shared.started.load(Ordering::Acquire) => Some(SessionState::Closed),
            None if self.shared.generation != runtime::generation() => Some(SessionState::Closed),
            None => None,
        };
        types::state(py, state)
    }

    /// Whether a session is established (read-write or read-only).
    #[getter]
    fn connected(&self) -> bool {
        self.shared
            .with_core(|c| c.state().is_connected())
            .unwrap_or(false)
    }

    /// `(session_id, password)` of the session, to resume it with `Client(...,
    /// client_id=...)`; `None` without a session.
    #[getter]
    fn client_id<'py>(&self, py: Python<'py>) -> Option<(i64, Bound<'py, PyBytes>)> {
        let (id, password) = self
            .shared
            .with_core(|c| (c.session_id(), c.session_password()))?;
        (id != 0).then(|| (id, PyBytes::new(py, &password)))
    }

    /// The session timeout the server granted, in seconds (0 before the first connect).
    #[getter]
    fn session_timeout(&self) -> f64 {
        self.shared
            .with_core(|c| c.session_timeout().as_secs_f64())
            .unwrap_or(0.0)
    }

    /// Calls `listener(state)` with every state change, on the dispatch thread
    /// (`CONNECTED`, `CONNECTED_RO`, `SUSPENDED`, `EXPIRED`, `AUTH_FAILED`, `CLOSED`).
    /// A listener returning `True` is removed (as in kazoo).
    fn add_listener(&self, listener: Bound<'_, PyAny>) {
        let mut listeners = self.shared.listeners.lock();
        if !listeners
            .iter()
            .any(|l| l.bind(listener.py()).is(&listener))
        {
            listeners.push(listener.unbind());
        }
    }

    /// Removes a listener.
    fn remove_listener(&self, listener: &Bound<'_, PyAny>) {
        self.shared
            .listeners
            .lock()
            .retain(|l| !l.bind(listener.py()).is(listener));
    }

    // ----- operations -----

    /// Creates a node; returns its path (with the sequence suffix), or `(path,
    /// ZnodeStat)` with `include_data`. `value` must be `bytes`. `makepath` creates
    /// missing parents; `container` makes a container node; `ttl` (seconds) a TTL node.
    #[pyo3(signature = (path, value = None, acl = None, ephemeral = false, sequence = false,
        makepath = false, container = false, ttl = None, include_data = false))]
    #[allow(clippy::too_many_arguments)]
    fn create(
        &self,
        py: Python<'_>,
        path: String,
        value: Option<&Bound<'_, PyAny>>,
        acl: Option<&Bound<'_, PyAny>>,
        ephemeral: bool,
        sequence: bool,
        makepath: bool,
        container: bool,
        ttl: Option<f64>,
        include_data: bool,
    ) -> PyResult<Py<PyAny>> {
        let op = self.create_op(
            py,
            path,
            value,
            acl,
            ephemeral,
            sequence,
            makepath,
            container,
            ttl,
            include_data,
        )?;
        self.blocking(py, op, ok_created)
    }

    /// `create()` returning an `AsyncResult`.
    #[pyo3(signature = (path, value = None, acl = None, ephemeral = false, sequence = false,
        makepath = false, container = false, ttl = None, include_data = false))]
    #[allow(clippy::too_many_arguments)]
    fn create_async(
        &self,
        py: Python<'_>,
        path: String,
        value: Option<&Bound<'_, PyAny>>,
        acl: Option<&Bound<'_, PyAny>>,
        ephemeral: bool,
        sequence: bool,
        makepath: bool,
        container: bool,
        ttl: Option<f64>,
        include_data: bool,
    ) -> PyResult<Py<AsyncResult>> {
        let op = self.create_op(
            py,
            path,
            value,
            acl,
            ephemeral,
            sequence,
            makepath,
            container,
            ttl,
            include_data,
        )?;
        self.spawn(py, op, ok_created)
    }

    /// Creates `path` and its missing parents (existing nodes are fine); returns `True`.
    #[pyo3(signature = (path, acl = None))]
    fn ensure_path(
        &self,
        py: Python<'_>,
        path: String,
        acl: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let op = self.ensure_op(py, path, acl)?;
        self.blocking(py, op, ok_true)
    }

    /// `ensure_path()` returning an `AsyncResult`.
    #[pyo3(signature = (path, acl = None))]
    fn ensure_path_async(
        &self,
        py: Python<'_>,
        path: String,
        acl: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<AsyncResult>> {
        let op = self.ensure_op(py, path, acl)?;
        self.spawn(py, op, ok_true)
    }

    /// `(data, ZnodeStat)` of a node; `watch(event)` is called once when it changes or is
    /// deleted. Raises `NoNodeError` if it does not exist.
    #[pyo3(signature = (path, watch = None))]
    fn get(
        &self,
        py: Python<'_>,
        path: String,
        watch: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let op = self.get_op(py, path, watch)?;
        self.blocking(py, op, ok_data)
    }

    /// `get()` returning an `AsyncResult`.
    #[pyo3(signature = (path, watch = None))]
    fn get_async(
        &self,
        py: Python<'_>,
        path: String,
        watch: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Py<AsyncResult>> {
        let op = self.get_op(py, path, watch)?;
        self.spawn(py, op, ok_data)
    }

    /// The node's `ZnodeStat`, or `None` if it does not exist; `watch(event)` is called
    /// once when it is created, changed or deleted.
    #[pyo3(signature = (path, watch = None))]
    fn exists(
        &self,
        py: Python<'_>,
        path: String,
        watch: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let op = self.exists_op(py, path, watch)?;
        self.blocking(py, op, ok_opt_stat)
    }

    /// `exists()` returning an `AsyncResult`.
    #[pyo3(signature = (path, watch = None))]
    fn exists_async(
        &self,
        py: Python<'_>,
        path: String,
        watch: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Py<AsyncResult>> {
        let op = self.exists_op(py, path, watch)?;
        self.spawn(py, op, ok_opt_stat)
    }

    /// Sets a node's data (`bytes`), if its version is `version` (-1: any); returns the
    /// new `ZnodeStat`.
    #[pyo3(signature = (path, value, version = -1))]
    #[pyo3(text_signature = "(self, path, value, version=-1)")]
    fn set(
        &self,
        py: Python<'_>,
        path: String,
        value: &Bound<'_, PyAny>,
        version: i32,
    ) -> PyResult<Py<PyAny>> {
        let op = self.set_op(py, path, value, version)?;
        self.blocking(py, op, ok_stat)
    }

    /// `set()` returning an `AsyncResult`.
    #[pyo3(signature = (path, value, version = -1))]
    #[pyo3(text_signature = "(self, path, value, version=-1)")]
    fn set_async(
        &self,
        py: Python<'_>,
        path: String,
        value: &Bound<'_, PyAny>,
        version: i32,
    ) -> PyResult<Py<AsyncResult>> {
        let op = self.set_op(py, path, value, version)?;
        self.spawn(py, op, ok_stat)
    }

    /// The children's names, or `(names, ZnodeStat)` with `include_data`; `watch(event)`
    /// is called once when the children change or the node is deleted.
    #[pyo3(signature = (path, watch = None, include_data = false))]
    fn get_children(
        &self,
        py: Python<'_>,
        path: String,
        watch: Option<Bound<'_, PyAny>>,
        include_data: bool,
    ) -> PyResult<Py<PyAny>> {
        let op = self.children_op(py, path, watch, include_data)?;
        self.blocking(py, op, ok_children)
    }

    /// `get_children()` returning an `AsyncResult`.
    #[pyo3(signature = (path, watch = None, include_data = false))]
    fn get_children_async(
        &self,
        py: Python<'_>,
        path: String,
        watch: Option<Bound<'_, PyAny>>,
        include_data: bool,
    ) -> PyResult<Py<AsyncResult>> {
        let op = self.children_op(py, path, watch, include_data)?;
        self.spawn(py, op, ok_children)
    }

    /// Deletes a node if its version is `version` (-1: any); with `recursive`, the node
    /// and everything below it (the version is not checked). Returns `True`.
    #[pyo3(signature = (path, version = -1, recursive = false))]
    #[pyo3(text_signature = "(self, path, version=-1, recursive=False)")]
    fn delete(
        &self,
        py: Python<'_>,
        path: String,
        version: i32,
        recursive: bool,
    ) -> PyResult<Py<PyAny>> {
        let op = self.delete_op(py, path, version, recursive)?;
        self.blocking(py, op, ok_true)
    }

    /// `delete()` returning an `AsyncResult`.
    #[pyo3(signature = (path, version = -1, recursive = false))]
    #[pyo3(text_signature = "(self, path, version=-1, recursive=False)")]
    fn delete_async(
        &self,
        py: Python<'_>,
        path: String,
        version: i32,
        recursive: bool,
    ) -> PyResult<Py<AsyncResult>> {
        let op = self.delete_op(py, path, version, recursive)?;
        self.spawn(py, op, ok_true)
    }

    /// `([ACL, ...], ZnodeStat)` of a node.
    fn get_acls(&self, py: Python<'_>, path: String) -> PyResult<Py<PyAny>> {
        let client = self.core(py)?;
        self.blocking(py, async move { client.get_acl(&path).await }, ok_acls)
    }

    /// `get_acls()` returning an `AsyncResult`.
    fn get_acls_async(&self, py: Python<'_>, path: String) -> PyResult<Py<AsyncResult>> {
        let client = self.core(py)?;
        self.spawn(py, async move { client.get_acl(&path).await }, ok_acls)
    }

    /// Sets a node's ACL if its ACL version is `version` (-1: any); returns the
    /// `ZnodeStat`.
    #[pyo3(signature = (path, acls, version = -1))]
    #[pyo3(text_signature = "(self, path, acls, version=-1)")]
    fn set_acls(
        &self,
        py: Python<'_>,
        path: String,
        acls: &Bound<'_, PyAny>,
        version: i32,
    ) -> PyResult<Py<PyAny>> {
        let op = self.set_acls_op(py, path, acls, version)?;
        self.blocking(py, op, ok_stat)
    }

    /// `set_acls()` returning an `AsyncResult`.
    #[pyo3(signature = (path, acls, version = -1))]
    #[pyo3(text_signature = "(self, path, acls, version=-1)")]
    fn set_acls_async(
        &self,
        py: Python<'_>,
        path: String,
        acls: &Bound<'_, PyAny>,
        version: i32,
    ) -> PyResult<Py<AsyncResult>> {
        let op = self.set_acls_op(py, path, acls, version)?;
        self.spawn(py, op, ok_stat)
    }

    /// Waits until the server has applied everything the leader had committed when the
    /// sync arrived; returns the path.
    fn sync(&self, py: Python<'_>, path: String) -> PyResult<Py<PyAny>> {
        let client = self.core(py)?;
        self.blocking(
            py,
            async move { client.sync(&path).await.map(|()| path) },
            ok_string,
        )
    }

    /// `sync()` returning an `AsyncResult`.
    fn sync_async(&self, py: Python<'_>, path: String) -> PyResult<Py<AsyncResult>> {
        let client = self.core(py)?;
        self.spawn(
            py,
            async move { client.sync(&path).await.map(|()| path) },
            ok_string,
        )
    }

    /// Adds credentials to the session (sent again after every reconnect); `True` once
    /// the server accepted them, `AuthFailedError` if it refused.
    fn add_auth(
        &self,
        py: Python<'_>,
        scheme: String,
        credential: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let op = self.auth_op(py, scheme, credential)?;
        self.blocking(py, op, ok_true)
    }

    /// `add_auth()` returning an `AsyncResult`.
    fn add_auth_async(
        &self,
        py: Python<'_>,
        scheme: String,
        credential: &Bound<'_, PyAny>,
    ) -> PyResult<Py<AsyncResult>> {
        let op = self.auth_op(py, scheme, credential)?;
        self.spawn(py, op, ok_true)
    }

    /// The identities the server knows this session by: `[ClientInfo(auth_scheme,
    /// user), ...]` (ZooKeeper 3.7+).
    fn whoami(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let client = self.core(py)?;
        self.blocking(py, async move { client.who_am_i().await }, ok_whoami)
    }

    /// `whoami()` returning an `AsyncResult`.
    fn whoami_async(&self, py: Python<'_>) -> PyResult<Py<AsyncResult>> {
        let client = self.core(py)?;
        self.spawn(py, async move { client.who_am_i().await }, ok_whoami)
    }

    /// This session's ephemeral nodes under `prefix`.
    #[pyo3(signature = (prefix = "/".to_owned()))]
    #[pyo3(text_signature = "(self, prefix='/')")]
    fn get_ephemerals(&self, py: Python<'_>, prefix: String) -> PyResult<Py<PyAny>> {
        let client = self.core(py)?;
        self.blocking(
            py,
            async move { client.get_ephemerals(&prefix).await },
            ok_strings,
        )
    }

    /// `get_ephemerals()` returning an `AsyncResult`.
    #[pyo3(signature = (prefix = "/".to_owned()))]
    #[pyo3(text_signature = "(self, prefix='/')")]
    fn get_ephemerals_async(&self, py: Python<'_>, prefix: String) -> PyResult<Py<AsyncResult>> {
        let client = self.core(py)?;
        self.spawn(
            py,
            async move { client.get_ephemerals(&prefix).await },
            ok_strings,
        )
    }

    /// Dynamic reconfiguration (ZooKeeper 3.5+ ensembles): returns `(config, ZnodeStat)`.
    #[pyo3(signature = (joining, leaving, new_members, from_config = -1))]
    #[pyo3(text_signature = "(self, joining, leaving, new_members, from_config=-1)")]
    fn reconfig(
        &self,
        py: Python<'_>,
        joining: Option<String>,
        leaving: Option<String>,
        new_members: Option<String>,
        from_config: i64,
    ) -> PyResult<Py<PyAny>> {
        let op = self.reconfig_op(py, joining, leaving, new_members, from_config)?;
        self.blocking(py, op, ok_data)
    }

    /// `reconfig()` returning an `AsyncResult`.
    #[pyo3(signature = (joining, leaving, new_members, from_config = -1))]
    #[pyo3(text_signature = "(self, joining, leaving, new_members, from_config=-1)")]
    fn reconfig_async(
        &self,
        py: Python<'_>,
        joining: Option<String>,
        leaving: Option<String>,
        new_members: Option<String>,
        from_config: i64,
    ) -> PyResult<Py<AsyncResult>> {
        let op = self.reconfig_op(py, joining, leaving, new_members, from_config)?;
        self.spawn(py, op, ok_data)
    }

    /// A transaction: add `check`/`create`/`set_data`/`delete` ops, then `commit()` (or
    /// use it as a context manager, which commits on exit).
    fn transaction(slf: &Bound<'_, Self>) -> Transaction {
        Transaction::new(slf.get().shared.clone())
    }

    /// A persistent watch on `path` (and, with `recursive`, everything below it): iterate
    /// it (`for event in watch`, `async for event in watch`) or pass `callback(event)`.
    /// Remove it with `watch.remove()` or `remove_watches(path)`.
    #[pyo3(signature = (path, recursive = false, callback = None))]
    fn add_watch(
        &self,
        py: Python<'_>,
        path: String,
        recursive: bool,
        callback: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Py<PersistentWatch>> {
        watches::add_watch(py, &self.shared, path, recursive, callback)
    }

    /// `add_watch()` returning an `AsyncResult` (of the `PersistentWatch`).
    #[pyo3(signature = (path, recursive = false, callback = None))]
    fn add_watch_async(
        &self,
        py: Python<'_>,
        path: String,
        recursive: bool,
        callback: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Py<AsyncResult>> {
        watches::add_watch_async(py, &self.shared, path, recursive, callback)
    }

    /// Removes every persistent watch this client set on `path`; returns how many.
    fn remove_watches(&self, py: Python<'_>, path: String) -> PyResult<usize> {
        watches::remove_watches(py, &self.shared, &path)
    }

    // ----- recipes, reachable as kazoo's are -----

    /// `zk.Lock(self, path, identifier)`.
    #[pyo3(name = "Lock", signature = (path, identifier = None, layout = "kazoo"))]
    fn lock(
        slf: &Bound<'_, Self>,
        path: String,
        identifier: Option<Bound<'_, PyAny>>,
        layout: &str,
    ) -> PyResult<Py<PyAny>> {
        recipe(slf, "Lock", (path, identifier, layout))
    }

    /// `zk.ReadLock(self, path, identifier)`.
    #[pyo3(name = "ReadLock", signature = (path, identifier = None, layout = "kazoo"))]
    fn read_lock(
        slf: &Bound<'_, Self>,
        path: String,
        identifier: Option<Bound<'_, PyAny>>,
        layout: &str,
    ) -> PyResult<Py<PyAny>> {
        recipe(slf, "ReadLock", (path, identifier, layout))
    }

    /// `zk.WriteLock(self, path, identifier)`.
    #[pyo3(name = "WriteLock", signature = (path, identifier = None, layout = "kazoo"))]
    fn write_lock(
        slf: &Bound<'_, Self>,
        path: String,
        identifier: Option<Bound<'_, PyAny>>,
        layout: &str,
    ) -> PyResult<Py<PyAny>> {
        recipe(slf, "WriteLock", (path, identifier, layout))
    }

    /// `zk.Semaphore(self, path, identifier, max_leases)`.
    #[pyo3(name = "Semaphore", signature = (path, identifier = None, max_leases = 1))]
    fn semaphore(
        slf: &Bound<'_, Self>,
        path: String,
        identifier: Option<Bound<'_, PyAny>>,
        max_leases: usize,
    ) -> PyResult<Py<PyAny>> {
        recipe(slf, "Semaphore", (path, identifier, max_leases))
    }

    /// `zk.Election(self, path, identifier)`.
    #[pyo3(name = "Election", signature = (path, identifier = None))]
    fn election(
        slf: &Bound<'_, Self>,
        path: String,
        identifier: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        recipe(slf, "Election", (path, identifier))
    }

    /// `zk.Barrier(self, path)`.
    #[pyo3(name = "Barrier")]
    fn barrier(slf: &Bound<'_, Self>, path: String) -> PyResult<Py<PyAny>> {
        recipe(slf, "Barrier", (path,))
    }

    /// `zk.DoubleBarrier(self, path, num_clients, identifier)`.
    #[pyo3(name = "DoubleBarrier", signature = (path, num_clients, identifier = None))]
    fn double_barrier(
        slf: &Bound<'_, Self>,
        path: String,
        num_clients: usize,
        identifier: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        recipe(slf, "DoubleBarrier", (path, num_clients, identifier))
    }

    /// `zk.Queue(self, path)`.
    #[pyo3(name = "Queue")]
    fn queue(slf: &Bound<'_, Self>, path: String) -> PyResult<Py<PyAny>> {
        recipe(slf, "Queue", (path,))
    }

    /// `zk.LockingQueue(self, path)`.
    #[pyo3(name = "LockingQueue")]
    fn locking_queue(slf: &Bound<'_, Self>, path: String) -> PyResult<Py<PyAny>> {
        recipe(slf, "LockingQueue", (path,))
    }

    /// `zk.Counter(self, path, default, support_curator)`.
    #[pyo3(name = "Counter", signature = (path, default = None, support_curator = false))]
    fn counter(
        slf: &Bound<'_, Self>,
        path: String,
        default: Option<Bound<'_, PyAny>>,
        support_curator: bool,
    ) -> PyResult<Py<PyAny>> {
        recipe(slf, "Counter", (path, default, support_curator))
    }

    /// `zk.Party(self, path, identifier)`.
    #[pyo3(name = "Party", signature = (path, identifier = None))]
    fn party(
        slf: &Bound<'_, Self>,
        path: String,
        identifier: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        recipe(slf, "Party", (path, identifier))
    }

    /// `zk.TreeCache(self, path)`.
    #[pyo3(name = "TreeCache")]
    fn tree_cache(slf: &Bound<'_, Self>, path: String) -> PyResult<Py<PyAny>> {
        recipe(slf, "TreeCache", (path,))
    }

    /// `zk.DataWatch(self, path, func)`; usable as a decorator without `func`.
    #[pyo3(name = "DataWatch", signature = (path, func = None))]
    fn data_watch(
        slf: &Bound<'_, Self>,
        path: String,
        func: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        recipe(slf, "DataWatch", (path, func))
    }

    /// `zk.ChildrenWatch(self, path, func, allow_session_lost, send_event)`; usable as a
    /// decorator without `func`.
    #[pyo3(name = "ChildrenWatch", signature = (path, func = None, allow_session_lost = true, send_event = false))]
    fn children_watch(
        slf: &Bound<'_, Self>,
        path: String,
        func: Option<Bound<'_, PyAny>>,
        allow_session_lost: bool,
        send_event: bool,
    ) -> PyResult<Py<PyAny>> {
        recipe(
            slf,
            "ChildrenWatch",
            (path, func, allow_session_lost, send_event),
        )
    }
}

/// Constructs the recipe class `name` of `zk._zk` with this client first.
fn recipe<'py, A>(slf: &Bound<'py, PyClient>, name: &str, args: A) -> PyResult<Py<PyAny>>
where
    A: IntoPyObject<'py, Target = PyTuple, Output = Bound<'py, PyTuple>>,
{
    let py = slf.py();
    let class = py.import("zk._zk")?.getattr(name)?;
    let args = args.into_pyobject(py).map_err(Into::into)?;
    let mut all = vec![slf.clone().into_any()];
    all.extend(args.iter());
    Ok(class.call1(PyTuple::new(py, all)?)?.unbind())
}
