//! Hadoop's active/standby elector (`zk_core::recipes::elector`) for
//! `io.zk.recipes.ActiveStandbyElector`, and Hadoop's `ActiveNodeInfo` codec.
//!
//! An elector owns its sessions (it opens a new one after an expiry), so it is not tied to
//! a `ZooKeeper` handle: it has its own on-demand event thread (`zk-elector-N`, attached to
//! the JVM as a daemon while it runs). The core's events become jobs there
//! ([`ElectorEvents::deliver`](zk_core::recipes::elector::ElectorEvents::deliver)), each an
//! upcall `ElectorUpcalls.call` whose answer goes back to the elector, which waits for the
//! answers of become-active and fence. (With an executor, the upcall hands the callback to
//! it and waits for its answer.) Calls from inside a callback never wait for the elector (it
//! may be waiting for that callback): quit, cede and close are queued and return at once; the
//! calls that need an answer are refused with `IllegalStateException`.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use jni::objects::{JByteArray, JIntArray, JObject, JObjectArray, JString};
use jni::sys::{jboolean, jint, jlong, jobject};
use parking_lot::Mutex;
use zk_core::client::dispatch::Dispatcher;
use zk_core::client::{runtime, ClientOptions, Error};
use zk_core::proto::Acl;
use zk_core::recipes::elector::{
    ActiveNodeInfo, ActiveStandbyElector, ElectorCallbacks, ElectorConfig, ElectorState,
};

use crate::errors::Fail;
use crate::jvm;
use crate::ops::acl_list;
use crate::options::{client_options, TlsFiles};

/// `ElectorUpcalls` callback kinds.
const BECOME_ACTIVE: i32 = 1;
const BECOME_STANDBY: i32 = 2;
const ENTER_NEUTRAL: i32 = 3;
const FENCE_OLD_ACTIVE: i32 = 4;
const FATAL_ERROR: i32 = 5;

/// How long an elector's event thread waits for more work before it ends.
const EVENT_THREAD_IDLE: Duration = Duration::from_secs(2);
/// Fencing may legitimately take seconds; only a callback longer than this is logged.
const SLOW_CALLBACK: Duration = Duration::from_secs(10);

struct Elector {
    elector: ActiveStandbyElector,
    dispatcher: Arc<Dispatcher>,
    /// Cleared by close: callbacks still queued are skipped (answering "failed").
    alive: Arc<AtomicBool>,
}

static ELECTORS: LazyLock<Mutex<HashMap<i64, Arc<Elector>>>> = LazyLock::new(Mutex::default);
static NEXT: AtomicI64 = AtomicI64::new(1);

fn elector(id: i64) -> Result<Arc<Elector>, Fail> {
    ELECTORS
        .lock()
        .get(&id)
        .cloned()
        .ok_or_else(|| Fail::State("this elector was closed".into()))
}

/// Whether the caller runs inside one of the elector's callbacks: on its event thread, or on
/// the application's executor (which Java knows and tells, `in_callback`).
fn inside(e: &Elector, in_callback: bool) -> bool {
    in_callback || e.dispatcher.on_own_thread()
}

/// The elector for a call that waits for it: refused from one of its callbacks.
fn outside_callbacks(id: i64, in_callback: bool, what: &str) -> Result<Arc<Elector>, Fail> {
    let e = elector(id)?;
    if inside(&e, in_callback) {
        return Err(Fail::State(format!(
            "{what} cannot be called from the elector's callbacks: the elector waits for them"
        )));
    }
    Ok(e)
}

fn wait<T>(future: impl Future<Output = Result<T, Error>>) -> Result<T, Fail> {
    zk_core::client::block_on(&runtime::handle(), future).map_err(|e| Fail::core(e, None))
}

/// Waits for a queued command unless called from a callback (then it runs after it).
fn wait_unless_in_callback(
    e: &Elector,
    in_callback: bool,
    done: impl Future<Output = Result<(), Error>>,
) -> Result<(), Fail> {
    if inside(e, in_callback) {
        return Ok(());
    }
    wait(done)
}

/// The application's callbacks: one upcall each, on the elector's event thread.
struct JavaCallbacks {
    token: i64,
    alive: Arc<AtomicBool>,
}

impl JavaCallbacks {
    fn call(&self, what: i32, data: Option<&[u8]>, message: Option<&str>) -> bool {
        if !self.alive.load(Ordering::Acquire) {
            return false;
        }
        let mut answer = false;
        jvm::with_env(|env, classes| {
            let data = match data {
                Some(data) => JObject::from(jvm::new_bytes(env, data)?),
                None => JObject::null(),
            };
            let message = match message {
                Some(message) => JObject::from(jvm::new_string(env, message)?),
                None => JObject::null(),
            };
            answer = jvm::call_boolean(
                env,
                &classes.elector,
                0,
                &[
                    jvm::long(self.token),
                    jvm::int(what),
                    jvm::object(&data),
                    jvm::object(&message),
                ],
            );
            Ok(())
        });
        answer
    }
}

impl ElectorCallbacks for JavaCallbacks {
    fn become_active(&self) -> bool {
        self.call(BECOME_ACTIVE, None, None)
    }

    fn become_standby(&self) -> bool {
        self.call(BECOME_STANDBY, None, None)
    }

    fn enter_neutral(&self) {
        self.call(ENTER_NEUTRAL, None, None);
    }

    fn fence_old_active(&self, old_active: &[u8]) -> bool {
        self.call(FENCE_OLD_ACTIVE, Some(old_active), None)
    }

    fn fatal_error(&self, message: &str) {
        self.call(FATAL_ERROR, None, Some(message));
    }
}

native!(
/// A new elector whose callbacks go to `ElectorUpcalls` under `token`; null ACL arrays: open.
Java_io_zk_recipes_ElectorNative_open(
    env,
    hosts: JString<'l>,
    parent: JString<'l>,
    session_timeout_ms: jint,
    acl_perms: JIntArray<'l>,
    acl_schemes: JObjectArray<'l, JString<'l>>,
    acl_ids: JObjectArray<'l, JString<'l>>,
    auth_scheme: JString<'l>,
    auth: JByteArray<'l>,
    max_retries: jint,
    rejoin_pause_ms: jlong,
    connect_pause_ms: jlong,
    token: jlong,
    tls_ca_file: JString<'l>,
    tls_cert_file: JString<'l>,
    tls_key_file: JString<'l>,
    tls_verify_hostname: jboolean,
    sasl_username: JString<'l>,
    sasl_password: JString<'l>,
    properties: JObjectArray<'l, JString<'l>>
) -> jlong {
    let hosts = jvm::string(env, &hosts)?
        .ok_or_else(|| Fail::Argument("the connect string must not be null".into()))?;
    let parent = jvm::string(env, &parent)?
        .ok_or_else(|| Fail::Argument("the parent znode must not be null".into()))?;
    if session_timeout_ms <= 0 || max_retries <= 0 || rejoin_pause_ms < 0 || connect_pause_ms < 0 {
        return Err(Fail::Argument(format!(
            "the session timeout and retries must be positive, the pauses not negative \
             (sessionTimeout {session_timeout_ms}, maxRetries {max_retries})"
        )));
    }
    let mut options = ClientOptions::default()
        .session_timeout(Duration::from_millis(session_timeout_ms as u64));
    if let Some(scheme) = jvm::string(env, &auth_scheme)? {
        options = options.auth(&scheme, &jvm::bytes(env, &auth)?.unwrap_or_default());
    }
    let tls = TlsFiles {
        ca: &tls_ca_file,
        cert: &tls_cert_file,
        key: &tls_key_file,
        verify_hostname: tls_verify_hostname,
    };
    let options = client_options(
        env,
        options,
        tls,
        (&sasl_username, &sasl_password),
        &properties,
    )?;
    let acl = if acl_perms.is_null() {
        Acl::open_unsafe()
    } else {
        acl_list(
            jvm::ints(env, &acl_perms)?,
            jvm::strings(env, &acl_schemes)?,
            jvm::strings(env, &acl_ids)?,
        )?
    };
    let config = ElectorConfig::new(&hosts, &parent)
        .options(options)
        .acl(acl)
        .max_retries(max_retries as u32)
        .rejoin_pause(Duration::from_millis(rejoin_pause_ms as u64))
        .connect_pause(Duration::from_millis(connect_pause_ms as u64));
    let rt = runtime::handle();
    let _entered = rt.enter();
    let (elector, events) = ActiveStandbyElector::new(config).map_err(|e| match e {
        Error::InvalidConnectString(message) => {
            Fail::Argument(format!("invalid connect string {hosts:?}: {message}"))
        }
        e => Fail::core(e, None),
    })?;
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    let name = format!("zk-elector-{id}");
    let thread_name = name.clone();
    let dispatcher = Arc::new(Dispatcher::on_demand(&name, EVENT_THREAD_IDLE, SLOW_CALLBACK, move |body| {
        jvm::as_daemon(&thread_name, body)
    }));
    let alive = Arc::new(AtomicBool::new(true));
    let callbacks = Arc::new(JavaCallbacks { token, alive: alive.clone() });
    let target = dispatcher.clone();
    events.deliver(callbacks, move |job| target.dispatch(job));
    ELECTORS.lock().insert(id, Arc::new(Elector { elector, dispatcher, alive }));
    Ok(id)
});

native!(Java_io_zk_recipes_ElectorNative_join(env, id: jlong, data: JByteArray<'l>) -> () {
    let data = jvm::bytes(env, &data)?
        .ok_or_else(|| Fail::Argument("the data must not be null".into()))?;
    elector(id)?.elector.join(&data).map_err(|e| Fail::core(e, None))
});

native!(Java_io_zk_recipes_ElectorNative_quit(env, id: jlong, need_fence: jboolean, in_callback: jboolean) -> () {
    let e = elector(id)?;
    let done = e.elector.quit(need_fence);
    wait_unless_in_callback(&e, in_callback, done)
});

native!(Java_io_zk_recipes_ElectorNative_cede(env, id: jlong, ms: jlong, in_callback: jboolean) -> () {
    if ms < 0 {
        return Err(Fail::Argument(format!("a cede lasts 0 ms or more, not {ms}")));
    }
    let e = elector(id)?;
    let done = e.elector.cede(Duration::from_millis(ms as u64));
    wait_unless_in_callback(&e, in_callback, done)
});

native!(Java_io_zk_recipes_ElectorNative_ensureParent(env, id: jlong, in_callback: jboolean) -> () {
    wait(outside_callbacks(id, in_callback, "ensureParentZNode")?.elector.ensure_parent())
});

native!(Java_io_zk_recipes_ElectorNative_clearParent(env, id: jlong, in_callback: jboolean) -> () {
    wait(outside_callbacks(id, in_callback, "clearParentZNode")?.elector.clear_parent())
});

native!(Java_io_zk_recipes_ElectorNative_parentExists(env, id: jlong, in_callback: jboolean) -> jboolean {
    wait(outside_callbacks(id, in_callback, "parentZNodeExists")?.elector.parent_exists())
});

native!(Java_io_zk_recipes_ElectorNative_format(env, id: jlong, force: jboolean, in_callback: jboolean) -> jboolean {
    let e = outside_callbacks(id, in_callback, "formatZK")?;
    wait(e.elector.format(force))
});

native!(
/// The lock's data (the active's), or null when nobody is active.
Java_io_zk_recipes_ElectorNative_activeData(env, id: jlong, in_callback: jboolean) -> jobject {
    match wait(outside_callbacks(id, in_callback, "getActiveData")?.elector.active_data())? {
        Some(data) => Ok(jvm::new_bytes(env, &data)?.into_raw()),
        None => Ok(std::ptr::null_mut()),
    }
});

native!(
/// 0 INIT, 1 ACTIVE, 2 STANDBY, 3 NEUTRAL (a closed elector: INIT).
Java_io_zk_recipes_ElectorNative_state(env, id: jlong) -> jint {
    Ok(match elector(id).map(|e| e.elector.state()) {
        Ok(ElectorState::Active) => 1,
        Ok(ElectorState::Standby) => 2,
        Ok(ElectorState::Neutral) => 3,
        Ok(ElectorState::Init) | Err(_) => 0,
    })
});

native!(Java_io_zk_recipes_ElectorNative_sessionId(env, id: jlong) -> jlong {
    Ok(elector(id).map_or(0, |e| e.elector.session_id()))
});

native!(
/// Ends the elector (session closed: the lock goes, the breadcrumb stays). From outside a
/// callback it returns once no callback runs and none will; from inside one, at once.
Java_io_zk_recipes_ElectorNative_close(env, id: jlong, in_callback: jboolean) -> () {
    let Some(e) = ELECTORS.lock().remove(&id) else {
        return Ok(());
    };
    e.alive.store(false, Ordering::Release);
    let done = e.elector.close();
    if !inside(&e, in_callback) {
        // Callbacks still queued are skipped now, so the elector never waits for one.
        let _ = runtime::handle().block_on(done);
        e.dispatcher.stop(None);
    } else if e.dispatcher.on_own_thread() {
        e.dispatcher.stop(None);
    } else {
        // From a callback on the application's executor: the event thread waits for that
        // callback, so it is stopped from its own queue, after it, never joined here.
        let dispatcher = e.dispatcher.clone();
        e.dispatcher.dispatch(move || dispatcher.stop(None));
    }
    Ok(())
});

native!(
/// Hadoop's ActiveNodeInfo protobuf bytes.
Java_io_zk_recipes_ElectorNative_encodeNodeInfo(
    env,
    nameservice_id: JString<'l>,
    namenode_id: JString<'l>,
    hostname: JString<'l>,
    port: jint,
    zkfc_port: jint
) -> jobject {
    let text = |value: &JString<'_>, what: &str| {
        jvm::string(env, value)?.ok_or_else(|| Fail::Argument(format!("{what} must not be null")))
    };
    let info = ActiveNodeInfo {
        nameservice_id: text(&nameservice_id, "nameserviceId")?,
        namenode_id: text(&namenode_id, "namenodeId")?,
        hostname: text(&hostname, "hostname")?,
        port,
        zkfc_port,
    };
    Ok(jvm::new_bytes(env, &info.encode())?.into_raw())
});

native!(
/// `Object[]{nameserviceId, namenodeId, hostname, int[]{port, zkfcPort}}`.
Java_io_zk_recipes_ElectorNative_decodeNodeInfo(env, data: JByteArray<'l>) -> jobject {
    let data = jvm::bytes(env, &data)?
        .ok_or_else(|| Fail::Argument("the data must not be null".into()))?;
    let info = ActiveNodeInfo::decode(&data).map_err(|e| Fail::Argument(e.to_string()))?;
    let parts = vec![
        JObject::from(jvm::new_string(env, &info.nameservice_id)?),
        JObject::from(jvm::new_string(env, &info.namenode_id)?),
        JObject::from(jvm::new_string(env, &info.hostname)?),
        JObject::from(jvm::new_ints(env, &[info.port, info.zkfc_port])?),
    ];
    Ok(jvm::new_objects(env, parts)?.into_raw())
});
