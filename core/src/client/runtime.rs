//! The one tokio runtime the client uses when the caller has none (bindings, the blocking
//! facade).

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use tokio::runtime::{Builder, Handle, Runtime};

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// Worker threads of the client runtime when it starts (see [`set_worker_threads`]).
static WORKERS: AtomicUsize = AtomicUsize::new(2);

/// Sets how many worker threads the client runtime starts with (default 2), for a binding
/// whose host is better served by another number: Node hands every result to one
/// JavaScript thread, and one worker that also polls the sockets saves a thread wake-up
/// per call there. Only effective before the runtime has started (the first client or
/// [`handle`]); returns whether it was.
pub fn set_worker_threads(workers: usize) -> bool {
    if RUNTIME.get().is_some() {
        return false;
    }
    WORKERS.store(workers.max(1), Ordering::Release);
    true
}

/// The process-wide client runtime, started on first use.
pub fn handle() -> Handle {
    RUNTIME
        .get_or_init(|| {
            Builder::new_multi_thread()
                .worker_threads(WORKERS.load(Ordering::Acquire))
                .thread_name("zk-client")
                .enable_all()
                .build()
                .unwrap_or_else(|e| panic!("cannot start the zk client runtime: {e}"))
        })
        .handle()
        .clone()
}

/// Spawns on the caller's runtime if there is one, else on the client runtime.
pub(crate) fn spawn<F>(future: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    match Handle::try_current() {
        Ok(current) => {
            current.spawn(future);
        }
        Err(_) => {
            handle().spawn(future);
        }
    }
}
