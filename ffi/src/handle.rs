//! `zk_handle`: a core [`Client`] plus the dispatch thread that runs the caller's
//! callbacks, and the calls that open, inspect and close it.

use std::cell::Cell;
use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_void};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::Mutex;
use zk_core::client::{runtime, Client, ClientOptions, SessionState};

use crate::error::*;
use crate::guard::{bytes, guard, guard_or, opt_text, put, required_out, text, Ctx};
use crate::types::*;

/// Called on the dispatch thread with each connection state (`ZK_STATE_*`).
pub type zk_state_fn =
    Option<unsafe extern "C" fn(zh: *mut zk_handle, state: c_int, ctx: *mut c_void)>;

/// A connection to a ZooKeeper ensemble (opaque). Open with `zk_open`, free with
/// `zk_close`.
pub struct zk_handle {
    magic: u64,
    pub(crate) inner: Arc<Inner>,
}

const MAGIC: u64 = 0x7a6b_5f68_616e_646c; // "zk_handl"

impl Drop for zk_handle {
    fn drop(&mut self) {
        // SAFETY: a plain write to our own field; volatile so it is not optimised away,
        // which lets a second zk_close on freed-but-unreused memory fail cleanly.
        unsafe { std::ptr::write_volatile(&mut self.magic, 0) }
    }
}

/// What the handle, its tasks and its recipes share.
pub(crate) struct Inner {
    pub(crate) client: Client,
    pub(crate) closing: AtomicBool,
    dispatch: Dispatcher,
    /// Async operations submitted and not yet handed to the dispatch thread.
    in_flight: AtomicUsize,
    /// Watches this handle set, by id, so they can be removed (see `watches.rs`).
    pub(crate) watches: Mutex<HashMap<u64, crate::watches::Entry>>,
    pub(crate) next_watch: AtomicU64,
    state_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

type Job = Box<dyn FnOnce() + Send>;

enum Msg {
    Job(Job),
    /// Ends the thread after the jobs before it; frees the handle if one is given
    /// (close from inside a callback).
    Stop(Option<HandlePtr>),
}

struct HandlePtr(*mut zk_handle);
// SAFETY: the pointer is only turned back into its Box, once, on the dispatch thread.
unsafe impl Send for HandlePtr {}

/// Runs callbacks on one thread per handle.
struct Dispatcher {
    tx: Mutex<Option<mpsc::Sender<Msg>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Identifies this dispatcher to `on_dispatch_thread`.
    id: usize,
}

thread_local! {
    /// The id of the dispatcher whose thread this is (0 elsewhere).
    static DISPATCHER: Cell<usize> = const { Cell::new(0) };
}

static NEXT_DISPATCHER: AtomicUsize = AtomicUsize::new(1);

impl Dispatcher {
    fn start() -> std::io::Result<Dispatcher> {
        let id = NEXT_DISPATCHER.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel::<Msg>();
        let thread = std::thread::Builder::new()
            .name("zk-dispatch".into())
            .spawn(move || {
                DISPATCHER.with(|d| d.set(id));
                for msg in rx {
                    match msg {
                        Msg::Job(job) => {
                            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                        }
                        Msg::Stop(handle) => {
                            if let Some(HandlePtr(zh)) = handle {
                                // SAFETY: zk_close handed us the Box it would have freed.
                                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(
                                    || unsafe { drop(Box::from_raw(zh)) },
                                ));
                            }
                            break;
                        }
                    }
                }
            })?;
        Ok(Dispatcher {
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            id,
        })
    }

    fn on_own_thread(&self) -> bool {
        DISPATCHER.with(|d| d.get()) == self.id
    }

    fn send(&self, msg: Msg) {
        if let Some(tx) = self.tx.lock().as_ref() {
            let _ = tx.send(msg);
        }
    }
}

impl Inner {
    /// Queues `job` for the dispatch thread (dropped if the handle is gone).
    pub(crate) fn dispatch(&self, job: impl FnOnce() + Send + 'static) {
        self.dispatch.send(Msg::Job(Box::new(job)));
    }

    /// Runs an async operation on the client runtime; `done` (given the result) is then
    /// queued for the dispatch thread. Counted, so close can wait for it; refused with
    /// ZK_CLOSING once close has begun (the count and the flag are checked in opposite
    /// orders here and in `zk_close`, both SeqCst, so an accepted operation is always
    /// waited for).
    pub(crate) fn submit<T, F>(
        self: &Arc<Self>,
        op: F,
        done: impl FnOnce(T) + Send + 'static,
    ) -> Result<(), zk_rc>
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        if self.closing.load(Ordering::SeqCst) {
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            return Err(ZK_CLOSING);
        }
        let inner = self.clone();
        runtime::handle().spawn(async move {
            let result = op.await;
            inner.dispatch(move || done(result));
            inner.in_flight.fetch_sub(1, Ordering::SeqCst);
        });
        Ok(())
    }
}

/// Blocks on a core future from a C thread.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    runtime::handle().block_on(future)
}

/// The live handle behind a caller's pointer, or `ZK_BADARGUMENTS`.
pub(crate) unsafe fn inner_of(zh: *mut zk_handle) -> Result<Arc<Inner>, zk_rc> {
    if zh.is_null() || !zh.is_aligned() || (*zh).magic != MAGIC {
        return Err(ZK_BADARGUMENTS);
    }
    let inner = (*zh).inner.clone();
    if inner.closing.load(Ordering::Acquire) {
        return Err(ZK_CLOSING);
    }
    Ok(inner)
}

pub(crate) fn state_number(state: SessionState) -> c_int {
    match state {
        SessionState::Connecting => ZK_STATE_CONNECTING,
        SessionState::Connected => ZK_STATE_CONNECTED,
        SessionState::ConnectedReadOnly => ZK_STATE_CONNECTED_READONLY,
        SessionState::Suspended => ZK_STATE_SUSPENDED,
        SessionState::Expired => ZK_STATE_EXPIRED,
        SessionState::AuthFailed => ZK_STATE_AUTH_FAILED,
        SessionState::Closed => ZK_STATE_CLOSED,
    }
}

/// Settings for `zk_open_with`. Zero is "the default" for every field except
/// `session_timeout_ms`, so `zk_options o = {0}; o.session_timeout_ms = 10000;` is complete.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct zk_options {
    /// Requested session timeout (the server clamps it); must be > 0.
    pub session_timeout_ms: c_int,
    /// Resume this session (0 for a new one) with `passwd`/`passwd_len`.
    pub session_id: i64,
    pub passwd: *const u8,
    pub passwd_len: usize,
    /// Fail an operation with ZK_OPERATIONTIMEOUT after this long (0: wait as long as
    /// the session lives).
    pub request_timeout_ms: i64,
    /// Per-host connect timeout (0: session timeout / number of hosts).
    pub connect_timeout_ms: i64,
    /// Non-zero: accept a read-only server (ZK_STATE_CONNECTED_READONLY).
    pub can_be_read_only: c_int,
}

/// Opens a handle and starts connecting in the background (operations issued before the
/// session is up wait for it; see `zk_wait_connected`).
///
/// - `hosts`: "host:port,host:port[/chroot]".
/// - `session_timeout_ms`: requested session timeout (> 0).
/// - `session_id`, `passwd`, `passwd_len`: resume that session (0 / NULL / 0 for a new one).
/// - `state_cb` (may be NULL) is called on the dispatch thread with every state change,
///   with `ctx`.
///
/// On success `*out` is the handle; free it with `zk_close`. `zk_open_with` takes more
/// settings.
#[no_mangle]
pub unsafe extern "C" fn zk_open(
    out: *mut *mut zk_handle,
    hosts: *const c_char,
    session_timeout_ms: c_int,
    session_id: i64,
    passwd: *const u8,
    passwd_len: usize,
    state_cb: zk_state_fn,
    ctx: *mut c_void,
) -> zk_rc {
    let options = zk_options {
        session_timeout_ms,
        session_id,
        passwd,
        passwd_len,
        request_timeout_ms: 0,
        connect_timeout_ms: 0,
        can_be_read_only: 0,
    };
    zk_open_with(out, hosts, &options, state_cb, ctx)
}

/// `zk_open` with every setting in a `zk_options` (read during the call only).
#[no_mangle]
pub unsafe extern "C" fn zk_open_with(
    out: *mut *mut zk_handle,
    hosts: *const c_char,
    options: *const zk_options,
    state_cb: zk_state_fn,
    ctx: *mut c_void,
) -> zk_rc {
    guard(|| {
        required_out(out)?;
        let hosts = text(hosts)?;
        if options.is_null() || !options.is_aligned() {
            return Err(ZK_BADARGUMENTS);
        }
        let o = *options;
        if o.session_timeout_ms <= 0 || o.request_timeout_ms < 0 || o.connect_timeout_ms < 0 {
            return Err(ZK_BADARGUMENTS);
        }
        let passwd = bytes(o.passwd, o.passwd_len)?;
        let ms = |v: i64| Duration::from_millis(v as u64);
        let mut options = ClientOptions::default()
            .session_timeout(ms(i64::from(o.session_timeout_ms)))
            .read_only(o.can_be_read_only != 0);
        if o.session_id != 0 {
            options = options.resume(o.session_id, passwd.to_vec());
        }
        if o.request_timeout_ms > 0 {
            options = options.request_timeout(ms(o.request_timeout_ms));
        }
        if o.connect_timeout_ms > 0 {
            options = options.connect_timeout(ms(o.connect_timeout_ms));
        }
        // Client::start spawns on the client runtime: enter it so it need not look.
        let client = {
            let rt = runtime::handle();
            let _entered = rt.enter();
            Client::start(hosts, options).map_err(|e| rc_of(&e))?
        };
        let dispatch = Dispatcher::start().map_err(|_| ZK_SYSTEMERROR)?;
        let inner = Arc::new(Inner {
            client,
            closing: AtomicBool::new(false),
            dispatch,
            in_flight: AtomicUsize::new(0),
            watches: Mutex::new(HashMap::new()),
            next_watch: AtomicU64::new(1),
            state_task: Mutex::new(None),
        });
        let zh = Box::into_raw(Box::new(zk_handle {
            magic: MAGIC,
            inner: inner.clone(),
        }));
        if let Some(cb) = state_cb {
            let task = runtime::handle().spawn(forward_states(
                inner.clone(),
                HandleAddr(zh),
                cb,
                Ctx(ctx),
            ));
            *inner.state_task.lock() = Some(task);
        }
        out.write(zh);
        Ok(())
    })
}

/// Hands every state change to `cb` on the dispatch thread, skipping repeats.
async fn forward_states(
    inner: Arc<Inner>,
    zh: HandleAddr,
    cb: unsafe extern "C" fn(*mut zk_handle, c_int, *mut c_void),
    ctx: Ctx,
) {
    let mut events = inner.client.state_events();
    let mut last = SessionState::Connecting;
    // A state reached before we subscribed is reported first.
    let now = inner.client.state();
    let mut pending = (now != last).then_some(now);
    loop {
        let state = match pending.take() {
            Some(state) => state,
            None => match events.recv().await {
                Ok(event) => event.state,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => inner.client.state(),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
        };
        if state == last {
            continue;
        }
        last = state;
        let gate = inner.clone();
        inner.dispatch(move || {
            if !gate.closing.load(Ordering::Acquire) {
                // SAFETY: jobs run before the handle is freed (see zk_close).
                unsafe { cb(zh.get(), state_number(state), ctx.get()) }
            }
        });
        if state.is_terminal() {
            return;
        }
    }
}

/// A handle's address carried into a job (only used on the dispatch thread).
#[derive(Clone, Copy)]
pub(crate) struct HandleAddr(pub(crate) *mut zk_handle);
// SAFETY: only dereferenced by the caller's callback, on the dispatch thread, while the
// handle is alive.
unsafe impl Send for HandleAddr {}
impl HandleAddr {
    pub(crate) fn get(self) -> *mut zk_handle {
        self.0
    }
}

/// Closes the session (the server deletes its ephemeral nodes) and frees the handle.
/// NULL is a no-op. Safe from any thread and from inside any callback of this handle:
/// there it returns at once and the handle is freed after that callback returns.
/// Pending async operations complete (ZK_CLOSING at worst) before the handle is freed.
#[no_mangle]
pub unsafe extern "C" fn zk_close(zh: *mut zk_handle) -> zk_rc {
    guard(|| {
        if zh.is_null() {
            return Ok(());
        }
        if !zh.is_aligned() || (*zh).magic != MAGIC {
            return Err(ZK_BADARGUMENTS);
        }
        let inner = (*zh).inner.clone();
        if inner.closing.swap(true, Ordering::SeqCst) {
            return Err(ZK_CLOSING);
        }
        block_on(async {
            inner.client.close().await;
            // Completions of requests that were pending are queued by now or soon.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            while inner.in_flight.load(Ordering::SeqCst) > 0
                && tokio::time::Instant::now() < deadline
            {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        });
        if let Some(task) = inner.state_task.lock().take() {
            task.abort();
        }
        crate::watches::drop_all(&inner);
        let tx = inner.dispatch.tx.lock().take();
        let Some(tx) = tx else { return Ok(()) };
        if inner.dispatch.on_own_thread() {
            // We are inside a callback: the thread frees the handle when it gets here.
            let _ = tx.send(Msg::Stop(Some(HandlePtr(zh))));
            drop(inner.dispatch.thread.lock().take());
        } else {
            let _ = tx.send(Msg::Stop(None));
            drop(tx);
            let thread = inner.dispatch.thread.lock().take();
            if let Some(thread) = thread {
                let _ = thread.join();
            }
            drop(inner);
            drop(Box::from_raw(zh));
        }
        Ok(())
    })
}

/// Waits until the session is connected, at most `timeout_ms`. ZK_OK, or
/// ZK_OPERATIONTIMEOUT, ZK_SESSIONEXPIRED, ZK_AUTHFAILED, ZK_CLOSING.
#[no_mangle]
pub unsafe extern "C" fn zk_wait_connected(zh: *mut zk_handle, timeout_ms: i64) -> zk_rc {
    guard(|| {
        let inner = inner_of(zh)?;
        let timeout = Duration::from_millis(timeout_ms.max(0) as u64);
        block_on(inner.client.wait_connected(timeout)).map_err(|e| rc_of(&e))
    })
}

/// The current connection state (`ZK_STATE_*`); ZK_BADARGUMENTS for a bad handle.
#[no_mangle]
pub unsafe extern "C" fn zk_state(zh: *mut zk_handle) -> c_int {
    guard_or(ZK_SYSTEMERROR, || match inner_of(zh) {
        Ok(inner) => state_number(inner.client.state()),
        Err(rc) => rc,
    })
}

/// The session id (0 before the first connect or for a bad handle).
#[no_mangle]
pub unsafe extern "C" fn zk_session_id(zh: *mut zk_handle) -> i64 {
    guard_or(0, || {
        inner_of(zh).map_or(0, |inner| inner.client.session_id())
    })
}

/// The negotiated session timeout in ms (0 before the first connect).
#[no_mangle]
pub unsafe extern "C" fn zk_session_timeout_ms(zh: *mut zk_handle) -> i64 {
    guard_or(0, || {
        inner_of(zh).map_or(0, |inner| {
            i64::try_from(inner.client.session_timeout().as_millis()).unwrap_or(i64::MAX)
        })
    })
}

/// The session password (library-allocated; free with `zk_free_bytes`), to resume the
/// session from another handle with `zk_open`.
#[no_mangle]
pub unsafe extern "C" fn zk_session_password(
    zh: *mut zk_handle,
    passwd: *mut *mut u8,
    passwd_len: *mut usize,
) -> zk_rc {
    guard(|| {
        crate::guard::clear(passwd);
        put(passwd_len, 0);
        let inner = inner_of(zh)?;
        if passwd.is_null() {
            return Err(ZK_BADARGUMENTS);
        }
        let value = inner.client.session_password();
        put(passwd_len, value.len());
        put(passwd, new_bytes(&value));
        Ok(())
    })
}

/// Whether the caller's optional text is valid (used by functions taking a prefix).
pub(crate) unsafe fn opt_path(p: *const c_char) -> Result<String, zk_rc> {
    Ok(opt_text(p)?.unwrap_or("/").to_owned())
}
