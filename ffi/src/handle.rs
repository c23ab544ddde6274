//! `zk_handle`: a core [`Client`] plus the [`Dispatcher`] that runs the caller's
//! callbacks, and the calls that open, inspect and close it.
//!
//! Close has one rule for every callback source (async completions, the state callback,
//! watches, leadership): each holds a [`Live`] ticket until it has queued its last
//! callback, and `zk_close` stops the dispatcher only when no ticket is left, so every
//! callback that is owed is delivered, however long close takes. Close first lets the
//! core end the session (pending requests fail with `Error::Closed`, watches get a
//! Closed session event, the state stream ends with Closed), then signals `closed`, which
//! ends whatever is still waiting (ZK_CLOSING, or a Closed event) so close never waits
//! on the network beyond the core's own close.

use std::collections::{BTreeMap, HashMap};
use std::ffi::{c_char, c_int, c_void};
use std::future::Future;
use std::mem::{offset_of, size_of};
use std::ops::Deref;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{watch, Notify};
use zk_core::client::dispatch::Dispatcher;
use zk_core::client::{
    runtime, Client, ClientOptions, Error, SaslOptions, SessionState, TlsOptions,
};
use zk_core::proto::ErrorCode;

use crate::error::*;
use crate::guard::{bytes, guard, opt_text, put, required_out, text, Ctx};
use crate::registry::{as_pointer, Registry};
use crate::types::*;

/// Called on the dispatch thread with each connection state (`ZK_STATE_*`). The last
/// call is a terminal state: ZK_STATE_EXPIRED, ZK_STATE_AUTH_FAILED or ZK_STATE_CLOSED.
pub type zk_state_fn =
    Option<unsafe extern "C" fn(zh: *mut zk_handle, state: c_int, ctx: *mut c_void)>;

/// A connection to a ZooKeeper ensemble (opaque: the library never dereferences the
/// pointer, it looks it up). Open with `zk_open`, free with `zk_close`.
pub struct zk_handle {
    _opaque: [u8; 0],
}

/// Every open handle, by the id C holds.
static HANDLES: Registry<Inner> = Registry::new();

/// What the handle, its tasks and its recipes share.
pub(crate) struct Inner {
    /// The id the caller holds (given back to its callbacks).
    id: usize,
    pub(crate) client: Client,
    closing: AtomicBool,
    dispatcher: Dispatcher,
    /// Tickets out (see [`Live`]).
    live: AtomicUsize,
    /// Notified when the last ticket is returned.
    idle: Notify,
    /// Set once the core has closed the session: everything still waiting ends now.
    closed: watch::Sender<bool>,
    /// Async operations in submission order (see [`Live::submit`]).
    order: Mutex<Order>,
    /// Watches this handle set, by id, so they can be removed (see `watches.rs`).
    pub(crate) watches: Mutex<HashMap<u64, crate::watches::Entry>>,
    pub(crate) next_watch: AtomicU64,
}

/// Puts async completions back in submission order: the network answers a session's
/// requests in order, but each operation's task wakes on its own.
#[derive(Default)]
struct Order {
    /// The number the next submitted operation gets.
    next_submitted: u64,
    /// The number whose completion is queued next.
    next_completed: u64,
    /// Completions that came before an earlier one.
    early: BTreeMap<u64, Job>,
}

type Job = Box<dyn FnOnce() + Send>;

/// A ticket: while one is out, `zk_close` does not stop the dispatcher. Held by every
/// call in progress and by every task that still owes the caller a callback; it derefs to
/// the handle.
pub(crate) struct Live(Arc<Inner>);

impl Deref for Live {
    type Target = Arc<Inner>;
    fn deref(&self) -> &Arc<Inner> {
        &self.0
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        if self.0.live.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Inner {
    /// The handle pointer the caller holds, for its callbacks.
    pub(crate) fn handle_ptr(&self) -> *mut zk_handle {
        as_pointer(self.id)
    }

    /// A ticket for a task that owes callbacks. Only taken while another ticket is out
    /// (the call that starts the task holds one), so close cannot have passed its wait.
    pub(crate) fn ticket(self: &Arc<Self>) -> Live {
        self.live.fetch_add(1, Ordering::SeqCst);
        Live(self.clone())
    }

    /// A ticket for a new call, refused (ZK_CLOSING) once close has begun. The count
    /// and the flag are touched in opposite orders here and in `zk_close`, both SeqCst:
    /// either the call sees the flag or close sees the ticket and waits for it.
    fn admit(self: &Arc<Self>) -> Result<Live, zk_rc> {
        let ticket = self.ticket();
        if self.closing.load(Ordering::SeqCst) {
            return Err(ZK_CLOSING);
        }
        Ok(ticket)
    }

    /// Queues `job` for the dispatch thread (dropped once the dispatcher has stopped,
    /// which only happens when no ticket is out).
    pub(crate) fn dispatch(&self, job: impl FnOnce() + Send + 'static) {
        self.dispatcher.dispatch(job);
    }

    /// Whether the caller is on this handle's dispatch thread (inside one of its
    /// callbacks).
    pub(crate) fn on_dispatch_thread(&self) -> bool {
        self.dispatcher.on_own_thread()
    }

    /// Resolves once the session is closed and pending work must end.
    pub(crate) fn closed(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut closed = self.closed.subscribe();
        async move {
            let _ = closed.wait_for(|closed| *closed).await;
        }
    }

    async fn until_idle(&self) {
        loop {
            let idle = self.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.live.load(Ordering::SeqCst) == 0 {
                return;
            }
            idle.await;
        }
    }
}

impl Live {
    /// Runs an async operation and queues `done` with its result for the dispatch
    /// thread: exactly once, with `Error::Closed` (ZK_CLOSING) at worst, and in the order
    /// the operations were submitted, as Apache's C client does.
    ///
    /// The operation is polled once here, on the caller's thread, which hands its request
    /// to the connection task, so operations reach the server in the order they were
    /// called; the rest runs on the client runtime. The ticket goes with the operation
    /// and is returned after `done` is queued.
    pub(crate) fn submit<T, F>(
        self,
        op: F,
        done: impl FnOnce(Result<T, Error>) + Send + 'static,
    ) -> Result<(), zk_rc>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, Error>> + Send + 'static,
    {
        let mut op = Box::pin(op);
        let (number, first) = {
            let mut order = self.order.lock();
            let number = order.next_submitted;
            order.next_submitted += 1;
            let runtime = runtime::handle();
            let _entered = runtime.enter();
            // A later poll (on the runtime) registers the waker that matters.
            let first = catch_unwind(AssertUnwindSafe(|| {
                op.as_mut().poll(&mut Context::from_waker(Waker::noop()))
            }))
            .unwrap_or(Poll::Ready(Err(internal_error())));
            (number, first)
        };
        let owed = Owed {
            live: self,
            number,
            done: Some(Box::new(done)),
        };
        match first {
            Poll::Ready(result) => owed.pay(result),
            Poll::Pending => {
                runtime::handle().spawn(async move {
                    let closed = owed.live.closed();
                    let result = tokio::select! {
                        biased;
                        result = op => result,
                        () = closed => Err(Error::Closed),
                    };
                    owed.pay(result);
                });
            }
        }
        Ok(())
    }

    /// Queues the completion of operation `number` once every earlier one is queued.
    fn complete(&self, number: u64, done: Job) {
        let mut order = self.order.lock();
        order.early.insert(number, done);
        loop {
            let next = order.next_completed;
            let Some(done) = order.early.remove(&next) else {
                break;
            };
            order.next_completed += 1;
            self.dispatch(done);
        }
    }

    /// The handle itself, for futures that outlive this ticket's borrow.
    pub(crate) fn shared(&self) -> Arc<Inner> {
        self.0.clone()
    }
}

/// A completion still to be queued. Dropped unpaid (a panic in the operation: a libzk
/// bug), it is paid with ZK_SYSTEMERROR, so exactly-once and the order hold regardless.
struct Owed<T: Send + 'static> {
    live: Live,
    number: u64,
    done: Option<Box<dyn FnOnce(Result<T, Error>) + Send>>,
}

impl<T: Send + 'static> Owed<T> {
    fn pay(mut self, result: Result<T, Error>) {
        if let Some(done) = self.done.take() {
            self.live
                .complete(self.number, Box::new(move || done(result)));
        }
    }
}

impl<T: Send + 'static> Drop for Owed<T> {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            self.live
                .complete(self.number, Box::new(move || done(Err(internal_error()))));
        }
    }
}

fn internal_error() -> Error {
    Error::Server(ErrorCode::SystemError)
}

/// Blocks on a core future from a C thread.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    zk_core::client::block_on(&runtime::handle(), future)
}

/// The live handle behind a caller's pointer with a ticket for one call:
/// ZK_BADARGUMENTS for anything but an open handle (NULL, garbage, closed),
/// ZK_CLOSING while `zk_close` of it runs. Safe for any pointer: it is only looked up.
pub(crate) fn inner_of(zh: *mut zk_handle) -> Result<Live, zk_rc> {
    HANDLES.get(zh).ok_or(ZK_BADARGUMENTS)?.admit()
}

/// The open handle behind a caller's pointer, for getters (no ticket needed).
fn handle_of(zh: *mut zk_handle) -> Result<Arc<Inner>, zk_rc> {
    HANDLES.get(zh).ok_or(ZK_BADARGUMENTS)
}

pub(crate) fn state_number(state: SessionState) -> c_int {
    match state {
        SessionState::Connecting => ZK_STATE_CONNECTING,
        SessionState::Connected => ZK_STATE_CONNECTED,
        SessionState::ConnectedReadOnly => ZK_STATE_CONNECTED_READONLY,
        SessionState::SaslAuthenticated => ZK_STATE_SASL_AUTHENTICATED,
        SessionState::Suspended => ZK_STATE_SUSPENDED,
        SessionState::Expired => ZK_STATE_EXPIRED,
        SessionState::AuthFailed => ZK_STATE_AUTH_FAILED,
        SessionState::Closed => ZK_STATE_CLOSED,
    }
}

/// Settings for `zk_open_with`. Start from `ZK_OPTIONS_INIT` (which sets `size`; every
/// other field 0 means "the default"), then set `session_timeout_ms`:
/// `zk_options o = ZK_OPTIONS_INIT; o.session_timeout_ms = 10000;`.
///
/// Fields are only ever added at the end. The library reads the fields that lie within
/// `size` bytes (a program built against an older zk.h passes a smaller struct; the
/// missing fields take their defaults) and refuses (ZK_BADARGUMENTS) a larger struct
/// whose fields beyond its own are not all zero (a setting this library does not have).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct zk_options {
    /// `sizeof(zk_options)` as the caller compiled it (ZK_OPTIONS_INIT sets it).
    pub size: usize,
    /// Requested session timeout (the server clamps it); must be > 0.
    pub session_timeout_ms: c_int,
    /// Non-zero: accept a read-only server (ZK_STATE_CONNECTED_READONLY).
    pub can_be_read_only: c_int,
    /// Resume this session (0 for a new one) with `passwd`/`passwd_len`.
    pub session_id: i64,
    pub passwd: *const u8,
    pub passwd_len: usize,
    /// Fail an operation with ZK_OPERATIONTIMEOUT after this long (0: wait as long as
    /// the session lives).
    pub request_timeout_ms: i64,
    /// Fixed wait for each connect attempt's answer (0: 2 s at first, doubled after
    /// unanswered rounds up to session timeout / number of hosts).
    pub connect_timeout_ms: i64,
    /// TLS to the servers' `secureClientPort` (NULL: plaintext): the PEM file of the
    /// authorities that sign the servers' certificates (Apache's C client: the first part
    /// of `zookeeper_init_ssl`'s `cert`).
    pub tls_ca_file: *const c_char,
    /// This client's certificate chain (PEM; NULL: none), with `tls_key_file`; what the
    /// servers' `x509` ACLs see.
    pub tls_cert_file: *const c_char,
    /// The private key (PEM, unencrypted) of `tls_cert_file`.
    pub tls_key_file: *const c_char,
    /// Non-zero: do not check that the server's certificate names the host connected to
    /// (the authority check stays). 0, the default, checks it.
    pub tls_skip_hostname_check: c_int,
    /// SASL DIGEST-MD5 (NULL: no SASL): authenticate as this user on every connection,
    /// before anything else is sent (a server's JAAS `user_<name>`; `sasl:<name>` ACLs).
    /// Success: ZK_STATE_SASL_AUTHENTICATED follows ZK_STATE_CONNECTED, and
    /// `zk_wait_connected` returns only then. Refused: the handle ends in
    /// ZK_STATE_AUTH_FAILED and calls fail with ZK_AUTHFAILED (not retried).
    pub sasl_username: *const c_char,
    /// The user's password (NULL: empty); never logged.
    pub sasl_password: *const c_char,
    /// The SASL service name (NULL: `zookeeper`, Apache's).
    pub sasl_service: *const c_char,
    /// The server name of the digest-uri (NULL: `zk-sasl-md5`, Apache's fixed one).
    pub sasl_server_name: *const c_char,
    /// A JAAS login configuration file (as Apache's Java client reads
    /// `-Djava.security.auth.login.config`) whose `Client` section, or `sasl_jaas_section`,
    /// holds `org.apache.zookeeper.server.auth.DigestLoginModule required username=".."
    /// password="..";`. Used when `sasl_username` is NULL; a file without the default
    /// section means no SASL, a missing named section or an unreadable file ZK_BADARGUMENTS.
    pub sasl_jaas_file: *const c_char,
    /// The JAAS section to read (NULL: `Client`; Apache's `zookeeper.sasl.clientconfig`).
    pub sasl_jaas_section: *const c_char,
}

/// The largest `size` taken for a `zk_options` from a newer zk.h.
const MAX_OPTIONS_SIZE: usize = 4096;

/// What `ZK_OPTIONS_INIT` gives C: `size` set, every other field 0 or NULL ("the default").
impl Default for zk_options {
    fn default() -> zk_options {
        zk_options {
            size: size_of::<zk_options>(),
            session_timeout_ms: 0,
            can_be_read_only: 0,
            session_id: 0,
            passwd: std::ptr::null(),
            passwd_len: 0,
            request_timeout_ms: 0,
            connect_timeout_ms: 0,
            tls_ca_file: std::ptr::null(),
            tls_cert_file: std::ptr::null(),
            tls_key_file: std::ptr::null(),
            tls_skip_hostname_check: 0,
            sasl_username: std::ptr::null(),
            sasl_password: std::ptr::null(),
            sasl_service: std::ptr::null(),
            sasl_server_name: std::ptr::null(),
            sasl_jaas_file: std::ptr::null(),
            sasl_jaas_section: std::ptr::null(),
        }
    }
}

impl zk_options {
    /// The caller's options as this library knows them (see the type's documentation).
    ///
    /// # Safety
    ///
    /// `from` is NULL or misaligned (ZK_BADARGUMENTS), or valid for reads of its `size`
    /// field and, when that is at most `MAX_OPTIONS_SIZE`, of `size` bytes.
    unsafe fn read(from: *const zk_options) -> Result<zk_options, zk_rc> {
        if from.is_null() || !from.is_aligned() {
            return Err(ZK_BADARGUMENTS);
        }
        // SAFETY: not NULL and aligned (checked above); `size` is the first field, which
        // the contract makes readable.
        let size = unsafe { from.cast::<usize>().read() };
        let ours = size_of::<zk_options>();
        let required = offset_of!(zk_options, session_timeout_ms) + size_of::<c_int>();
        if !(required..=MAX_OPTIONS_SIZE).contains(&size) {
            return Err(ZK_BADARGUMENTS);
        }
        if size > ours {
            // SAFETY: `size` <= MAX_OPTIONS_SIZE, so `size` bytes at `from` are readable
            // (contract), and `ours` < `size`: the range `ours..size` lies within them.
            let newer =
                unsafe { std::slice::from_raw_parts(from.cast::<u8>().add(ours), size - ours) };
            if newer.iter().any(|&b| b != 0) {
                return Err(ZK_BADARGUMENTS);
            }
        }
        let base = from.cast::<u8>();
        let mut o = zk_options::default();
        macro_rules! take {
            ($($field:ident),*) => {$(
                let offset = offset_of!(zk_options, $field);
                if offset + std::mem::size_of_val(&o.$field) <= size {
                    // SAFETY: within the `size` bytes the caller vouches for, aligned as
                    // the field is (the struct pointer is aligned); every field is an
                    // integer or a raw pointer, valid for any bits.
                    o.$field = unsafe { read_like(base.add(offset), &o.$field) };
                }
            )*};
        }
        take!(
            session_timeout_ms,
            can_be_read_only,
            session_id,
            passwd,
            passwd_len,
            request_timeout_ms,
            connect_timeout_ms,
            tls_ca_file,
            tls_cert_file,
            tls_key_file,
            tls_skip_hostname_check,
            sasl_username,
            sasl_password,
            sasl_service,
            sasl_server_name,
            sasl_jaas_file,
            sasl_jaas_section
        );
        Ok(o)
    }
}

/// Reads a `T` (the type of `_like`) at `at`.
///
/// # Safety
///
/// `at` is aligned for `T` and valid for reads of a `T`, and its bytes are a valid `T`.
unsafe fn read_like<T: Copy>(at: *const u8, _like: &T) -> T {
    // SAFETY: exactly this function's contract.
    unsafe { at.cast::<T>().read() }
}

/// The client settings a caller's `zk_options` asks for (ZK_BADARGUMENTS for bad values).
///
/// # Safety
///
/// `options` as `zk_options::read` requires (NULL, or readable for its `size` bytes), its
/// `passwd` valid for reads of `passwd_len` bytes (any pointer when that is 0), and its
/// `tls_*` and `sasl_*` string fields NULL or NUL-terminated strings, all only during the
/// call.
pub(crate) unsafe fn client_options(options: *const zk_options) -> Result<ClientOptions, zk_rc> {
    // SAFETY: `options` is as `zk_options::read` requires (this function's contract).
    let o = unsafe { zk_options::read(options) }?;
    if o.session_timeout_ms <= 0 || o.request_timeout_ms < 0 || o.connect_timeout_ms < 0 {
        return Err(ZK_BADARGUMENTS);
    }
    // SAFETY: `passwd`/`passwd_len` is a readable buffer (this function's contract); the
    // slice is copied (`to_vec`) before this returns.
    let passwd = unsafe { bytes(o.passwd, o.passwd_len) }?;
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
    // SAFETY: each is NULL or NUL-terminated, readable during the call (this function's
    // contract); the paths are copied before this returns.
    let (ca, cert, key) = unsafe {
        (
            opt_text(o.tls_ca_file)?,
            opt_text(o.tls_cert_file)?,
            opt_text(o.tls_key_file)?,
        )
    };
    match ca {
        Some(ca) => {
            let tls = TlsOptions::new(ca)
                .verify_hostname(o.tls_skip_hostname_check == 0)
                .client_cert_files(cert, key)
                .map_err(|_| ZK_BADARGUMENTS)?;
            options = options.tls(tls);
        }
        // A client certificate without TLS is a mistake, not plaintext.
        None if cert.is_some() || key.is_some() => return Err(ZK_BADARGUMENTS),
        None => {}
    }
    // SAFETY: as above, each NULL or NUL-terminated and readable during the call; the
    // strings are copied before this returns.
    options.sasl = unsafe { sasl_options(&o) }?;
    Ok(options)
}

/// The SASL settings of `o`: explicit credentials, else a JAAS file's, else none.
///
/// # Safety
///
/// Every `sasl_*` field of `o` is NULL or a NUL-terminated string readable during the call.
unsafe fn sasl_options(o: &zk_options) -> Result<Option<SaslOptions>, zk_rc> {
    // SAFETY: this function's contract.
    let (user, password, service, server_name, jaas_file, jaas_section) = unsafe {
        (
            opt_text(o.sasl_username)?,
            opt_text(o.sasl_password)?,
            opt_text(o.sasl_service)?,
            opt_text(o.sasl_server_name)?,
            opt_text(o.sasl_jaas_file)?,
            opt_text(o.sasl_jaas_section)?,
        )
    };
    let sasl = match (user, jaas_file) {
        (Some(user), _) => Some(SaslOptions::digest_md5(user, password.unwrap_or_default())),
        (None, Some(file)) => {
            SaslOptions::from_login_config(std::path::Path::new(&file), jaas_section).map_err(
                |e| {
                    tracing::warn!("zk_options.sasl_jaas_file: {e}");
                    ZK_BADARGUMENTS
                },
            )?
        }
        // A password or section with nothing to use it is a mistake, not "no SASL".
        (None, None) if password.is_some() || jaas_section.is_some() => {
            return Err(ZK_BADARGUMENTS)
        }
        (None, None) => None,
    };
    let Some(mut sasl) = sasl else {
        return Ok(None);
    };
    if let Some(service) = service {
        sasl = sasl.protocol(service);
    }
    if let Some(server_name) = server_name {
        sasl = sasl.server_name(server_name);
    }
    sasl.validate().map_err(|e| {
        tracing::warn!("zk_options SASL: {e}");
        ZK_BADARGUMENTS
    })?;
    Ok(Some(sasl))
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
///
/// # Safety
///
/// - `out`: NULL (ZK_BADARGUMENTS) or writable.
/// - `hosts`: NULL or a NUL-terminated string.
/// - `passwd`: NULL or `passwd_len` readable bytes (any pointer when `passwd_len` is
///   0), also for a new session.
/// - `state_cb` (may be NULL): callable with `ctx` on the handle's dispatch thread until
///   its last call (a terminal state; see CLOSE).
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
        ..zk_options::default()
    };
    // SAFETY: `options` is a whole `zk_options` on our stack (its `size` is ours); its
    // `passwd`/`passwd_len` and `out`, `hosts`, `state_cb` and `ctx` are the caller's,
    // which this function's contract makes what `zk_open_with` requires.
    unsafe { zk_open_with(out, hosts, &options, state_cb, ctx) }
}

/// `zk_open` with every setting in a `zk_options` (read during the call only).
///
/// # Safety
///
/// - `out`: NULL (ZK_BADARGUMENTS) or writable.
/// - `hosts`: NULL or a NUL-terminated string.
/// - `options`: NULL, or readable for `options->size` bytes (an older, smaller struct
///   is fine; see `zk_options`), with `passwd` NULL or readable for `passwd_len` bytes
///   (any pointer when `passwd_len` is 0) and each `tls_*_file` NULL or a NUL-terminated
///   string.
/// - `state_cb` (may be NULL): callable with `ctx` on the handle's dispatch thread until
///   its last call (a terminal state; see CLOSE).
///
/// With `tls_ca_file` set, an unreadable or unusable TLS file (or a certificate without
/// its key) is ZK_BADARGUMENTS, and a warning naming the file goes to the log
/// (`zk_set_log_fn`).
#[no_mangle]
pub unsafe extern "C" fn zk_open_with(
    out: *mut *mut zk_handle,
    hosts: *const c_char,
    options: *const zk_options,
    state_cb: zk_state_fn,
    ctx: *mut c_void,
) -> zk_rc {
    guard(|| {
        // SAFETY: `out` is NULL or writable (this function's contract).
        unsafe { required_out(out) }?;
        // SAFETY: `hosts` is NULL or NUL-terminated, readable during the call (contract),
        // which the `&str` does not outlive.
        let hosts = unsafe { text(hosts) }?;
        // SAFETY: `options`, its `passwd` and its TLS paths are as `client_options`
        // requires (contract).
        let options = unsafe { client_options(options) }?;
        // Client::start spawns on the client runtime: enter it so it need not look.
        let client = {
            let rt = runtime::handle();
            let _entered = rt.enter();
            Client::start(hosts, options).map_err(|e| {
                // The return code cannot say which file was bad: the log line does.
                tracing::warn!("zk_open: {e}");
                rc_of(&e)
            })?
        };
        let dispatcher = Dispatcher::spawn("zk-dispatch", |run| run()).map_err(|_| {
            // Nothing will use this client: end its connection task.
            let client = client.clone();
            runtime::handle().spawn(async move { client.close().await });
            ZK_SYSTEMERROR
        })?;
        let (zh, inner) = HANDLES.insert::<zk_handle>(|id| {
            Arc::new(Inner {
                id,
                client,
                closing: AtomicBool::new(false),
                dispatcher,
                live: AtomicUsize::new(0),
                idle: Notify::new(),
                closed: watch::Sender::new(false),
                order: Mutex::new(Order::default()),
                watches: Mutex::new(HashMap::new()),
                next_watch: AtomicU64::new(1),
            })
        });
        if let Some(cb) = state_cb {
            // SAFETY: `cb` may be called with `ctx` on the dispatch thread until its last
            // call (this function's contract), as `forward_states` requires.
            let forward = unsafe { forward_states(inner.ticket(), cb, Ctx(ctx)) };
            runtime::handle().spawn(forward);
        }
        tracing::debug!(handle = zh.addr(), "opened a handle for {hosts}");
        // SAFETY: `required_out` found `out` neither NULL nor misaligned, so it is
        // writable (contract).
        unsafe { out.write(zh) };
        Ok(())
    })
}

/// Hands every state change to `cb` on the dispatch thread; the last is terminal (the
/// core's, or CLOSED if close ends the stream first).
///
/// # Safety
///
/// `cb` may be called with `ctx` on `live`'s dispatch thread until its last call (what
/// `zk_open_with` requires of its caller).
async unsafe fn forward_states(
    live: Live,
    cb: unsafe extern "C" fn(*mut zk_handle, c_int, *mut c_void),
    ctx: Ctx,
) {
    let mut changes = live.client.state_changes();
    let closed = live.closed();
    tokio::pin!(closed);
    let zh = live.id;
    let send = |state: SessionState| {
        // SAFETY: run on the dispatch thread, no later than the last call (nothing is
        // sent after a terminal state), so `cb` may be called with `ctx` (this function's
        // contract); `zh` is only handed back, never dereferenced.
        live.dispatch(move || unsafe { cb(as_pointer(zh), state_number(state), ctx.get()) });
    };
    loop {
        let next = tokio::select! {
            biased;
            next = changes.next() => next,
            () = &mut closed => None,
        };
        match next {
            Some(state) => {
                send(state);
                if state.is_terminal() {
                    return;
                }
            }
            None => break,
        }
    }
    send(SessionState::Closed);
}

/// Closes the session (the server deletes its ephemeral nodes) and frees the handle.
/// NULL is a no-op (ZK_OK); a handle that is not open (closed already, or never
/// returned by `zk_open`) is ZK_BADARGUMENTS, and from the moment close starts every
/// other call on the handle returns ZK_BADARGUMENTS too.
///
/// Every async operation accepted before gets its completion exactly once (its result,
/// or ZK_CLOSING), every watch still set gets one last ZK_SESSION_EVENT with
/// ZK_STATE_CLOSED, and the state callback ends with ZK_STATE_CLOSED: all of that before
/// `zk_close` returns, however long the server takes to answer (at most the connect
/// timeout, 5 s by default), so the contexts may be freed then. Safe from any thread
/// and from inside any callback of this handle: there it returns once the session is
/// closed, and the owed callbacks run after the current one returns.
///
/// # Safety
///
/// None: `zh` may be any value (it is looked up, never dereferenced).
#[no_mangle]
pub unsafe extern "C" fn zk_close(zh: *mut zk_handle) -> zk_rc {
    guard(|| {
        if zh.is_null() {
            return Ok(());
        }
        let inner = HANDLES.remove(zh).ok_or(ZK_BADARGUMENTS)?;
        inner.closing.store(true, Ordering::SeqCst);
        block_on(async {
            inner.client.close().await;
            inner.closed.send_replace(true);
            inner.until_idle().await;
        });
        // Runs what is queued, then ends the thread (after the current callback, when
        // called from one).
        inner.dispatcher.stop(None);
        tracing::debug!(handle = zh.addr(), "closed");
        Ok(())
    })
}

/// Waits until the session is connected, at most `timeout_ms`. ZK_OK, or
/// ZK_OPERATIONTIMEOUT, ZK_SESSIONEXPIRED, ZK_AUTHFAILED, ZK_CLOSING.
///
/// # Safety
///
/// None: `zh` may be any value.
#[no_mangle]
pub unsafe extern "C" fn zk_wait_connected(zh: *mut zk_handle, timeout_ms: i64) -> zk_rc {
    guard(|| {
        let inner = inner_of(zh)?;
        let timeout = Duration::from_millis(timeout_ms.max(0) as u64);
        block_on(inner.client.wait_connected(timeout)).map_err(|e| rc_of(&e))
    })
}

/// Writes the current connection state (`ZK_STATE_*`) to `*state`.
///
/// # Safety
///
/// `state`: NULL (ZK_BADARGUMENTS) or writable.
#[no_mangle]
pub unsafe extern "C" fn zk_state(zh: *mut zk_handle, state: *mut c_int) -> zk_rc {
    // SAFETY: `state` is NULL or writable (this function's contract).
    unsafe { getter(zh, state, |inner| state_number(inner.client.state())) }
}

/// Writes the session id to `*session_id` (0 before the first connect).
///
/// # Safety
///
/// `session_id`: NULL (ZK_BADARGUMENTS) or writable.
#[no_mangle]
pub unsafe extern "C" fn zk_session_id(zh: *mut zk_handle, session_id: *mut i64) -> zk_rc {
    // SAFETY: `session_id` is NULL or writable (this function's contract).
    unsafe { getter(zh, session_id, |inner| inner.client.session_id()) }
}

/// Writes the negotiated session timeout in ms to `*timeout_ms` (0 before the first
/// connect).
///
/// # Safety
///
/// `timeout_ms`: NULL (ZK_BADARGUMENTS) or writable.
#[no_mangle]
pub unsafe extern "C" fn zk_session_timeout_ms(zh: *mut zk_handle, timeout_ms: *mut i64) -> zk_rc {
    // SAFETY: `timeout_ms` is NULL or writable (this function's contract).
    unsafe {
        getter(zh, timeout_ms, |inner| {
            i64::try_from(inner.client.session_timeout().as_millis()).unwrap_or(i64::MAX)
        })
    }
}

/// A getter: ZK_BADARGUMENTS for a bad handle or a NULL `out`; `*out` written on ZK_OK only.
///
/// # Safety
///
/// `out` is NULL, misaligned, or valid for writes of a `T` (as for `guard::put`).
unsafe fn getter<T>(zh: *mut zk_handle, out: *mut T, value: impl FnOnce(&Inner) -> T) -> zk_rc {
    guard(|| {
        let inner = handle_of(zh)?;
        if out.is_null() || !out.is_aligned() {
            return Err(ZK_BADARGUMENTS);
        }
        // SAFETY: neither NULL nor misaligned (checked above), so writable by this
        // function's contract.
        unsafe { out.write(value(&inner)) };
        Ok(())
    })
}

/// The session password (library-allocated; free with `zk_free_bytes`), to resume the
/// session from another handle with `zk_open`.
///
/// # Safety
///
/// `passwd`: NULL (ZK_BADARGUMENTS) or writable; `passwd_len`: NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn zk_session_password(
    zh: *mut zk_handle,
    passwd: *mut *mut u8,
    passwd_len: *mut usize,
) -> zk_rc {
    guard(|| {
        // SAFETY: `passwd_len` is NULL or writable (this function's contract).
        unsafe { put(passwd_len, 0) };
        // SAFETY: `passwd` is NULL or writable (this function's contract); a NULL or
        // misaligned one is refused before anything is allocated for it.
        let writable = unsafe { required_out(passwd) };
        let inner = handle_of(zh)?;
        writable?;
        let value = inner.client.session_password();
        // SAFETY: `required_out` found `passwd` neither NULL nor misaligned, so it is
        // writable; `passwd_len` as above.
        unsafe {
            put(passwd_len, value.len());
            passwd.write(new_bytes(&value));
        }
        Ok(())
    })
}

/// Whether the caller's optional text is valid (used by functions taking a prefix), and
/// the prefix it names: NULL is "/".
///
/// # Safety
///
/// `p` is NULL or a NUL-terminated string, read during the call only.
pub(crate) unsafe fn opt_path(p: *const c_char) -> Result<String, zk_rc> {
    // SAFETY: as `opt_text` requires (this function's contract); the `&str` is copied
    // before this returns.
    Ok(unsafe { opt_text(p) }?.unwrap_or("/").to_owned())
}
