//! Client handles: a core [`Client`], the on-demand event thread that runs its Java callbacks
//! (a core [`Dispatcher`]), and the watches it set, in a table keyed by numbers Java chooses.
//! A number that is not in the table (never opened, closed, released) fails like a closed
//! client: a stale handle can never reach freed memory.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use jni::objects::{JByteArray, JClass, JObjectArray, JString};
use jni::sys::{jboolean, jbyteArray, jint, jlong};
use jni::EnvUnowned;
use parking_lot::{Mutex, RwLock};
use zk_core::client::dispatch::Dispatcher;
use zk_core::client::{runtime, Client, ClientOptions, Error, SessionState, WatchRegistration};
use zk_core::proto::KeeperState;

use crate::errors::{Fail, ThrowFail};
use crate::jvm::{self, UP_POSTED, UP_RELEASED, UP_STATE};
use crate::options::{client_options, TlsFiles};

/// How long an event thread waits for more work before it ends (a quiet client holds none).
const EVENT_THREAD_IDLE: Duration = Duration::from_secs(2);

pub(crate) struct Handle {
    pub id: i64,
    pub client: Client,
    pub dispatcher: Arc<Dispatcher>,
    /// Watches set with a Java token, until they fire (one-shot) or are removed.
    pub watches: Arc<Mutex<HashMap<i64, WatchRegistration>>>,
}

static HANDLES: LazyLock<RwLock<HashMap<i64, Arc<Handle>>>> = LazyLock::new(RwLock::default);

/// The live handle `id`, or the closed-client failure.
pub(crate) fn handle(id: i64) -> Result<Arc<Handle>, Fail> {
    HANDLES.read().get(&id).cloned().ok_or_else(Fail::closed)
}

fn take(id: i64) -> Option<Arc<Handle>> {
    HANDLES.write().remove(&id)
}

/// The dispatcher of a new handle: its thread, named like Apache's event threads, runs
/// attached to the JVM as a daemon and only while there are callbacks to run.
fn dispatcher(id: i64, slow: Duration) -> Dispatcher {
    let name = format!("zk-event-{id}");
    let thread_name = name.clone();
    Dispatcher::on_demand(&name, EVENT_THREAD_IDLE, slow, move |body| {
        jvm::as_daemon(&thread_name, body)
    })
}

/// Apache's `KeeperState` number for a state, if watchers hear of it.
fn keeper_state(state: SessionState) -> Option<i32> {
    let state = match state {
        SessionState::Connecting => return None,
        SessionState::Connected => KeeperState::SyncConnected,
        SessionState::ConnectedReadOnly => KeeperState::ConnectedReadOnly,
        SessionState::SaslAuthenticated => KeeperState::SaslAuthenticated,
        SessionState::Suspended => KeeperState::Disconnected,
        SessionState::Expired => KeeperState::Expired,
        SessionState::AuthFailed => KeeperState::AuthFailed,
        SessionState::Closed => KeeperState::Closed,
    };
    Some(state.as_i32())
}

/// The number `Native.state` reports (`Native.STATE_*`).
fn state_number(state: SessionState) -> jint {
    match state {
        SessionState::Connecting => 0,
        // Apache's getState() stays CONNECTED once SASL succeeds.
        SessionState::Connected | SessionState::SaslAuthenticated => 1,
        SessionState::ConnectedReadOnly => 2,
        SessionState::Suspended => 3,
        SessionState::Expired => 4,
        SessionState::AuthFailed => 5,
        SessionState::Closed => 6,
    }
}

#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub extern "system" fn Java_io_zk_Native_open<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    h: jlong,
    connect_string: JString<'l>,
    session_timeout_ms: jint,
    can_be_read_only: jboolean,
    session_id: jlong,
    session_passwd: JByteArray<'l>,
    slow_callback_ms: jlong,
    tls_ca_file: JString<'l>,
    tls_cert_file: JString<'l>,
    tls_key_file: JString<'l>,
    tls_verify_hostname: jboolean,
    sasl_username: JString<'l>,
    sasl_password: JString<'l>,
    properties: JObjectArray<'l, JString<'l>>,
) {
    env.with_env(|env| -> Result<(), Fail> {
        let connect = jvm::string(env, &connect_string)?
            .ok_or_else(|| Fail::Argument("connectString must not be null".into()))?;
        let mut options = ClientOptions::default()
            .session_timeout(Duration::from_millis(session_timeout_ms.max(1) as u64))
            .read_only(can_be_read_only);
        if session_id != 0 {
            let passwd = jvm::bytes(env, &session_passwd)?.unwrap_or_default();
            options = options.resume(session_id, passwd);
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
        let slow = Duration::from_millis(slow_callback_ms.max(0) as u64);
        let dispatcher = Arc::new(dispatcher(h, slow));
        let to_java = dispatcher.clone();
        let client = Client::start_with_state_callback(&connect, options, move |event| {
            if let Some(state) = keeper_state(event.state) {
                to_java.dispatch(move || upcall_state(h, state));
            }
        })
        .map_err(|e| match e {
            Error::InvalidConnectString(message) => {
                Fail::Argument(format!("invalid connect string {connect:?}: {message}"))
            }
            e => Fail::core(e, None),
        })?;
        let handle = Handle {
            id: h,
            client,
            dispatcher,
            watches: Arc::default(),
        };
        HANDLES.write().insert(h, Arc::new(handle));
        Ok(())
    })
    .resolve::<ThrowFail>()
}

fn upcall_state(h: i64, state: i32) {
    jvm::with_env(|env, classes| {
        jvm::call_void(
            env,
            &classes.upcalls,
            UP_STATE,
            &[jvm::long(h), jvm::int(state)],
        );
        Ok(())
    });
}

/// Closes the session (waiting for the server's answer) and forgets the handle. The event
/// thread is not waited for: it runs what is queued (the `Closed` event last) and ends, so
/// closing from a callback, or while a callback blocks, cannot deadlock.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_zk_Native_close<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    h: jlong,
) {
    env.with_env(|_env| -> Result<(), Fail> {
        if let Some(handle) = take(h) {
            runtime::handle().block_on(handle.client.close());
            handle.watches.lock().clear();
            // After the `Closed` event: Java forgets the handle once that has been delivered.
            handle.dispatcher.dispatch(move || {
                jvm::with_env(|env, classes| {
                    jvm::call_void(env, &classes.upcalls, UP_RELEASED, &[jvm::long(h)]);
                    Ok(())
                })
            });
        }
        Ok(())
    })
    .resolve::<ThrowFail>()
}

/// What the Cleaner calls for a client nobody closed: forgets it and closes the session in
/// the background (the Cleaner's thread does not wait for the server).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_zk_Native_release<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    h: jlong,
) {
    env.with_env(|_env| -> Result<(), Fail> {
        if let Some(handle) = take(h) {
            runtime::handle().spawn(async move {
                handle.client.close().await;
                handle.watches.lock().clear();
            });
        }
        Ok(())
    })
    .resolve::<ThrowFail>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_io_zk_Native_state<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jint {
    env.with_env(|_env| -> Result<jint, Fail> {
        Ok(match handle(h) {
            Ok(handle) => state_number(handle.client.state()),
            Err(_) => state_number(SessionState::Closed),
        })
    })
    .resolve::<ThrowFail>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_io_zk_Native_sessionId<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jlong {
    env.with_env(|_env| -> Result<jlong, Fail> {
        Ok(handle(h).map_or(0, |h| h.client.session_id()))
    })
    .resolve::<ThrowFail>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_io_zk_Native_sessionTimeout<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jint {
    env.with_env(|_env| -> Result<jint, Fail> {
        Ok(handle(h).map_or(0, |h| {
            i32::try_from(h.client.session_timeout().as_millis()).unwrap_or(i32::MAX)
        }))
    })
    .resolve::<ThrowFail>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_io_zk_Native_sessionPasswd<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    h: jlong,
) -> jbyteArray {
    env.with_env(|env| -> Result<jbyteArray, Fail> {
        let Ok(handle) = handle(h) else {
            return Ok(std::ptr::null_mut());
        };
        let passwd = handle.client.session_password();
        if passwd.is_empty() {
            return Ok(std::ptr::null_mut());
        }
        Ok(jvm::new_bytes(env, &passwd)?.into_raw())
    })
    .resolve::<ThrowFail>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_io_zk_Native_addAuth<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    h: jlong,
    scheme: JString<'l>,
    auth: JByteArray<'l>,
) {
    env.with_env(|env| -> Result<(), Fail> {
        let scheme = jvm::string(env, &scheme)?
            .ok_or_else(|| Fail::Argument("scheme must not be null".into()))?;
        let auth = jvm::bytes(env, &auth)?.unwrap_or_default();
        if let Ok(handle) = handle(h) {
            // A client that has just ended reports it through its state; nothing to add here.
            let _ = handle.client.queue_auth(&scheme, &auth);
        }
        Ok(())
    })
    .resolve::<ThrowFail>()
}

/// Queues `Upcalls.posted(h, id)` after everything already queued; false once closed.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_zk_Native_post<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    h: jlong,
    id: jlong,
) -> jboolean {
    env.with_env(|_env| -> Result<jboolean, Fail> {
        let Ok(handle) = handle(h) else {
            return Ok(false);
        };
        handle.dispatcher.dispatch(move || {
            jvm::with_env(|env, classes| {
                jvm::call_void(
                    env,
                    &classes.upcalls,
                    UP_POSTED,
                    &[jvm::long(h), jvm::long(id)],
                );
                Ok(())
            })
        });
        Ok(true)
    })
    .resolve::<ThrowFail>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_io_zk_Native_removeWatch<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    h: jlong,
    token: jlong,
) {
    env.with_env(|_env| -> Result<(), Fail> {
        if let Ok(handle) = handle(h) {
            let registration = handle.watches.lock().remove(&token);
            if let Some(registration) = registration {
                handle.client.remove_watch(&registration);
            }
        }
        Ok(())
    })
    .resolve::<ThrowFail>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_io_zk_internal_NativeLoader_nativeVersion<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
) -> jni::sys::jstring {
    env.with_env(|env| -> Result<jni::sys::jstring, Fail> {
        Ok(jvm::new_string(env, crate::VERSION)?.into_raw())
    })
    .resolve::<ThrowFail>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_io_zk_internal_NativeLoader_init<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    log_level: jint,
) {
    env.with_env(|env| -> Result<(), Fail> {
        jvm::init(env)?;
        crate::log::init(log_level);
        Ok(())
    })
    .resolve::<ThrowFail>()
}
