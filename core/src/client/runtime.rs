//! The one tokio runtime the client uses when the caller has none (bindings, the blocking
//! facade).

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Builder, Handle, Runtime};

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// The process-wide client runtime, started on first use.
pub fn handle() -> Handle {
    RUNTIME
        .get_or_init(|| {
            Builder::new_multi_thread()
                .worker_threads(2)
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
