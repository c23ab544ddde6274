//! The client runtime's worker count, set before it starts (its own test binary: the
//! runtime is process-wide).

use zk_core::client::runtime;

#[test]
fn worker_threads_can_be_set_before_the_runtime_starts_only() {
    assert!(runtime::set_worker_threads(1));
    assert!(runtime::set_worker_threads(3));
    assert!(runtime::set_worker_threads(1));
    let handle = runtime::handle();
    assert_eq!(handle.metrics().num_workers(), 1);
    assert!(!runtime::set_worker_threads(2), "too late once started");
    assert_eq!(runtime::handle().metrics().num_workers(), 1);
    let ran = handle.block_on(async { tokio::spawn(async { 7 }).await.unwrap() });
    assert_eq!(ran, 7);
}
