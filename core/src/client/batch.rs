//! [`WriteBatch`]: the requests one thread makes during a batch go out together when it
//! ends, in one write per client, instead of one write (or one wake-up of the connection
//! task) per request.
//!
//! A thread about to wait for a reply inside a batch writes what the batch holds first
//! ([`block_on`](super::block_on) does, and so must any other wait: see
//! [`prepare_to_block`](super::prepare_to_block)), so waiting in a batch is slower, never
//! stuck.

use std::cell::RefCell;
use std::sync::Arc;

thread_local! {
    /// During a batch on this thread: the clients it left requests in.
    static BATCH: RefCell<Option<Vec<Arc<dyn HeldWrites>>>> = const { RefCell::new(None) };
}

/// A client holding back requests made during a batch (the driver, `driver.rs`).
pub(crate) trait HeldWrites: Send + Sync {
    /// Writes the requests held back for the batch (or leaves them to the connection task
    /// when it is busy with the socket).
    fn write_held(&self);
}

/// Requests made on this thread while a batch is open are written when it closes, in one
/// write per client, by this thread (unless the connection task is busy with the socket:
/// then the task writes them). A caller that makes a burst of calls (a binding running a
/// batch of continuations) so writes the burst itself, instead of waking the task once
/// for it. Batches nest: the outermost one writes.
pub struct WriteBatch {
    outermost: bool,
}

impl WriteBatch {
    /// Opens a batch on this thread, until the returned guard is dropped (on this thread).
    pub fn open() -> WriteBatch {
        let outermost = BATCH.with(|batch| {
            let mut batch = batch.borrow_mut();
            if batch.is_some() {
                return false;
            }
            *batch = Some(Vec::new());
            true
        });
        WriteBatch { outermost }
    }

    /// Writes what this thread's open batch holds so far and keeps it open; nothing when
    /// no batch is open. Call it before waiting for a reply on this thread.
    pub fn write_held() {
        let writers = BATCH.with(|batch| batch.borrow_mut().as_mut().map(std::mem::take));
        for writer in writers.unwrap_or_default() {
            writer.write_held();
        }
    }
}

impl Drop for WriteBatch {
    fn drop(&mut self) {
        if !self.outermost {
            return;
        }
        let writers = BATCH
            .with(|batch| batch.borrow_mut().take())
            .unwrap_or_default();
        for writer in writers {
            writer.write_held();
        }
    }
}

/// Adds `writer` to this thread's open batch; false when no batch is open (the request
/// is then written as usual).
pub(crate) fn join<W: HeldWrites + 'static>(writer: &Arc<W>) -> bool {
    BATCH.with(|batch| match batch.borrow_mut().as_mut() {
        Some(writers) => {
            let this = Arc::as_ptr(writer).cast::<()>();
            if !writers
                .iter()
                .any(|joined| std::ptr::eq(Arc::as_ptr(joined).cast::<()>(), this))
            {
                writers.push(writer.clone());
            }
            true
        }
        None => false,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;
    use std::task::{Poll, Waker};
    use std::time::Duration;

    use parking_lot::Mutex;

    use super::*;

    /// Counts its writes and wakes whoever waits for the held request to go out.
    #[derive(Default)]
    struct Writer {
        writes: AtomicUsize,
        waiting: Mutex<Option<Waker>>,
    }

    impl HeldWrites for Writer {
        fn write_held(&self) {
            self.writes.fetch_add(1, Ordering::AcqRel);
            if let Some(waker) = self.waiting.lock().take() {
                waker.wake();
            }
        }
    }

    #[test]
    fn the_outermost_batch_writes_each_client_once_and_write_held_keeps_it_open() {
        let writer = Arc::new(Writer::default());
        assert!(!join(&writer), "no batch is open");
        {
            let _batch = WriteBatch::open();
            assert!(join(&writer));
            assert!(join(&writer));
            {
                let _inner = WriteBatch::open();
                assert!(join(&writer));
            }
            assert_eq!(writer.writes.load(Ordering::Acquire), 0);
            WriteBatch::write_held();
            assert_eq!(writer.writes.load(Ordering::Acquire), 1);
            assert!(join(&writer), "still open");
        }
        assert_eq!(writer.writes.load(Ordering::Acquire), 2);
        assert!(!join(&writer));
    }

    #[test]
    fn a_call_waited_for_inside_a_batch_is_written_instead_of_waiting_forever() {
        let (done, finished) = mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            let writer = Arc::new(Writer::default());
            let _batch = WriteBatch::open();
            let call = std::future::poll_fn(|cx| {
                if writer.writes.load(Ordering::Acquire) > 0 {
                    return Poll::Ready(());
                }
                // The request is held back until the batch writes it.
                join(&writer);
                *writer.waiting.lock() = Some(cx.waker().clone());
                Poll::Pending
            });
            super::super::block_on(runtime.handle(), call);
            let _ = done.send(());
        });
        assert!(
            finished.recv_timeout(Duration::from_secs(60)).is_ok(),
            "block_on inside a batch waited for a request it never wrote"
        );
    }
}
