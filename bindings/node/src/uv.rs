//! Watching a descriptor from the JavaScript thread's own event loop (a libuv `uv_poll_t`),
//! so that thread can read a client's socket itself (see `bridge.rs`).
//!
//! A [`Readable`] runs when the descriptor is readable, inside a callback scope: what it
//! settles runs its continuations (the microtask queue and `process.nextTick`) when the
//! scope closes, as after any native callback Node makes. Its [`Readable::settled`] runs
//! after that.
//!
//! The poll handles are unref'd (an idle client never keeps the process alive), and the
//! environment's async cleanup hook closes those still open when it goes: a worker thread's
//! loop must have no handle left when it ends.

use std::alloc::Layout;
use std::cell::{Cell, RefCell};
use std::os::fd::RawFd;
use std::os::raw::{c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::rc::Rc;

use napi::sys;

/// libuv's `UV_POLL` (`uv_handle_type`) and `UV_READABLE` (`uv_poll_event`).
const UV_POLL: c_int = 8;
const UV_READABLE: c_int = 1;

type PollCallback = unsafe extern "C" fn(handle: *mut c_void, status: c_int, events: c_int);
type CloseCallback = unsafe extern "C" fn(handle: *mut c_void);

// Resolved from the Node executable when the addon loads, as the N-API functions are.
extern "C" {
    fn uv_handle_size(kind: c_int) -> usize;
    fn uv_poll_init(event_loop: *mut sys::uv_loop_s, handle: *mut c_void, fd: c_int) -> c_int;
    fn uv_poll_start(handle: *mut c_void, events: c_int, callback: PollCallback) -> c_int;
    fn uv_close(handle: *mut c_void, callback: CloseCallback);
    fn uv_unref(handle: *mut c_void);
    fn uv_handle_set_data(handle: *mut c_void, data: *mut c_void);
    fn uv_handle_get_data(handle: *const c_void) -> *mut c_void;
}

/// What runs when a watched descriptor is readable.
pub(crate) trait Readable {
    /// Inside a callback scope on the JavaScript thread; false stops the watch.
    fn readable(&mut self, env: sys::napi_env) -> bool;
    /// After the scope has closed (its continuations have run); also when stopping.
    fn settled(&mut self);
}

/// A descriptor being watched. Stops the watch when dropped.
pub(crate) struct Watching {
    poll: *mut Poll,
    stopped: Rc<Cell<bool>>,
}

impl Watching {
    /// False once the watch has stopped (by itself, or its environment is going).
    pub fn is_live(&self) -> bool {
        !self.stopped.get()
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        if !self.stopped.get() {
            // SAFETY: not stopped, so not closed: the poll is alive (freed only after its
            // handle closed, which `stopped` would say).
            unsafe { stop(self.poll) };
        }
    }
}

/// One handle and what it runs; freed when libuv has closed the handle.
struct Poll {
    handle: *mut c_void,
    layout: Layout,
    env: sys::napi_env,
    readable: Option<Box<dyn Readable>>,
    stopped: Rc<Cell<bool>>,
}

/// The JavaScript thread's environment, as far as watches go.
struct Env {
    env: sys::napi_env,
    event_loop: *mut sys::uv_loop_s,
    context: sys::napi_async_context,
    /// Polls not freed yet (watching, or closing).
    polls: Vec<*mut Poll>,
    /// Set when the environment goes: no new watch, and the hook ends once `polls` is empty.
    going: Option<sys::napi_async_cleanup_hook_handle>,
}

thread_local! {
    static ENV: RefCell<Option<Env>> = const { RefCell::new(None) };
}

/// Watches `fd` for readability on `env`'s event loop; `None` when it cannot (the
/// environment is going, or libuv refused), `readable` then being dropped.
pub(crate) fn watch_readable(
    env: sys::napi_env,
    fd: RawFd,
    readable: Box<dyn Readable>,
) -> Option<Watching> {
    let event_loop = ENV.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(init(env)?);
        }
        let state = slot.as_ref()?;
        (state.env == env && state.going.is_none()).then_some(state.event_loop)
    })?;
    // SAFETY: libuv calls on the loop's own thread; the handle's memory is sized by libuv
    // and lives until its close callback frees it.
    unsafe {
        let size = uv_handle_size(UV_POLL);
        let layout = Layout::from_size_align(size, 16).ok()?;
        let handle = std::alloc::alloc_zeroed(layout).cast::<c_void>();
        if handle.is_null() {
            return None;
        }
        if uv_poll_init(event_loop, handle, fd) != 0 {
            std::alloc::dealloc(handle.cast(), layout);
            return None;
        }
        let stopped = Rc::new(Cell::new(false));
        let poll = Box::into_raw(Box::new(Poll {
            handle,
            layout,
            env,
            readable: Some(readable),
            stopped: stopped.clone(),
        }));
        uv_handle_set_data(handle, poll.cast());
        ENV.with(|cell| {
            if let Some(state) = cell.borrow_mut().as_mut() {
                state.polls.push(poll);
            }
        });
        if uv_poll_start(handle, UV_READABLE, on_poll) != 0 {
            stop(poll);
            return None;
        }
        uv_unref(handle);
        Some(Watching { poll, stopped })
    }
}

/// The thread's environment state, made on its first watch.
fn init(env: sys::napi_env) -> Option<Env> {
    let mut event_loop = ptr::null_mut();
    let mut context = ptr::null_mut();
    let mut hook = ptr::null_mut();
    // SAFETY: N-API calls on the JavaScript thread (inside a call from JavaScript) with
    // valid out-pointers; the names are valid UTF-8 of the given length.
    unsafe {
        if sys::napi_get_uv_event_loop(env, &mut event_loop) != sys::Status::napi_ok {
            return None;
        }
        let mut resource = ptr::null_mut();
        let mut name = ptr::null_mut();
        let text = "zk.reads";
        if sys::napi_create_object(env, &mut resource) != sys::Status::napi_ok
            || sys::napi_create_string_utf8(
                env,
                text.as_ptr().cast(),
                text.len() as isize,
                &mut name,
            ) != sys::Status::napi_ok
            || sys::napi_async_init(env, resource, name, &mut context) != sys::Status::napi_ok
        {
            return None;
        }
        if sys::napi_add_async_cleanup_hook(env, Some(on_env_going), ptr::null_mut(), &mut hook)
            != sys::Status::napi_ok
        {
            sys::napi_async_destroy(env, context);
            return None;
        }
    }
    Some(Env {
        env,
        event_loop,
        context,
        polls: Vec::new(),
        going: None,
    })
}

/// Closes `poll`'s handle (once); the poll is freed when libuv has closed it.
///
/// # Safety
/// `poll` is alive (not freed), on its loop's thread.
unsafe fn stop(poll: *mut Poll) {
    // SAFETY: per the contract.
    let poll = unsafe { &mut *poll };
    if poll.stopped.replace(true) {
        return;
    }
    // SAFETY: the handle was initialised and is not closed yet (`stopped` was false).
    unsafe { uv_close(poll.handle, on_closed) };
}

unsafe extern "C" fn on_poll(handle: *mut c_void, status: c_int, _events: c_int) {
    // SAFETY: the handle's data is its poll, alive until the close callback.
    let poll = unsafe { uv_handle_get_data(handle) }.cast::<Poll>();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: as above; the poll is only freed by `on_closed`, which libuv runs on a
        // later turn of the loop, never during this callback.
        let this = unsafe { &mut *poll };
        if this.stopped.get() || status < 0 {
            return false;
        }
        let Some(readable) = this.readable.as_mut() else {
            return false;
        };
        let env = this.env;
        let keep = in_callback_scope(env, || readable.readable(env));
        readable.settled();
        keep
    }));
    if !matches!(outcome, Ok(true)) {
        // SAFETY: alive, as above.
        unsafe { stop(poll) };
    }
}

unsafe extern "C" fn on_closed(handle: *mut c_void) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the handle's data is its poll, closed now: freed here, once.
        let poll = unsafe { Box::from_raw(uv_handle_get_data(handle).cast::<Poll>()) };
        let finished = ENV.with(|cell| {
            let mut slot = cell.borrow_mut();
            let state = slot.as_mut()?;
            state.polls.retain(|p| !ptr::eq(*p, &*poll));
            let going = state.going?;
            if !state.polls.is_empty() {
                return None;
            }
            *slot = None;
            Some(going)
        });
        // SAFETY: libuv is done with the handle; its memory came from `alloc_zeroed`.
        unsafe { std::alloc::dealloc(handle.cast(), poll.layout) };
        // Dropped outside the thread's state: what it holds may stop other watches.
        drop(poll);
        if let Some(hook) = finished {
            // SAFETY: the hook's own handle, removed once when its last poll is closed.
            unsafe { sys::napi_remove_async_cleanup_hook(hook) };
        }
    }));
}

/// The environment is going: close every handle; the hook ends when the last is closed.
unsafe extern "C" fn on_env_going(hook: sys::napi_async_cleanup_hook_handle, _arg: *mut c_void) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        let open = ENV.with(|cell| {
            let mut slot = cell.borrow_mut();
            let state = slot.as_mut()?;
            state.going = Some(hook);
            // SAFETY: the context was made for this environment, destroyed once.
            unsafe { sys::napi_async_destroy(state.env, state.context) };
            if state.polls.is_empty() {
                *slot = None;
                return None;
            }
            Some(state.polls.clone())
        });
        match open {
            // SAFETY: listed polls are alive until their close callback unlists them.
            Some(polls) => polls.into_iter().for_each(|poll| unsafe { stop(poll) }),
            // SAFETY: the hook's own handle, removed once.
            None => unsafe {
                sys::napi_remove_async_cleanup_hook(hook);
            },
        }
    }));
}

/// Runs `work` in a handle scope and a callback scope of the thread's async context;
/// closing the callback scope runs the continuations `work` queued.
fn in_callback_scope(env: sys::napi_env, work: impl FnOnce() -> bool) -> bool {
    let Some(context) = ENV.with(|cell| {
        cell.borrow()
            .as_ref()
            .filter(|state| state.going.is_none())
            .map(|state| state.context)
    }) else {
        return false;
    };
    let mut handles = ptr::null_mut();
    let mut resource = ptr::null_mut();
    let mut scope = ptr::null_mut();
    // SAFETY: N-API calls on the JavaScript thread from a libuv callback (no JavaScript on
    // the stack), each scope closed below in the reverse order.
    unsafe {
        if sys::napi_open_handle_scope(env, &mut handles) != sys::Status::napi_ok {
            return false;
        }
        let opened = sys::napi_create_object(env, &mut resource) == sys::Status::napi_ok
            && sys::napi_open_callback_scope(env, resource, context, &mut scope)
                == sys::Status::napi_ok;
        // A panic must not skip closing the scopes (V8 checks they close in order).
        let keep = opened && catch_unwind(AssertUnwindSafe(work)).unwrap_or(false);
        if opened {
            sys::napi_close_callback_scope(env, scope);
        }
        sys::napi_close_handle_scope(env, handles);
        keep
    }
}
