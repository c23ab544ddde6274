//! The client's watches as the wrapper knows them, by id: one-shot watches, forwarded to
//! the router once they fire, and persistent watches, pulled one event at a time with
//! `watchNext` so the core's bounded queue (and its overflow report) stays in charge.
//! Removing either drops the core's handle, which removes the server's watch once no
//! other handle of the client needs it.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::{oneshot, watch};
use zk_core::client::{PersistentWatch, Watch};

use crate::client::closed_event;
use crate::convert::WatchEvent;
use crate::event;
use crate::sink::{Msg, Sink};

#[derive(Default)]
pub(crate) struct Watches {
    once: Mutex<HashMap<u32, oneshot::Sender<()>>>,
    streams: Mutex<HashMap<u32, Arc<Stream>>>,
}

struct Stream {
    events: tokio::sync::Mutex<PersistentWatch>,
    removed: watch::Sender<bool>,
}

impl Watches {
    /// Reserves one-shot watch `id` before its call starts, so a removal that comes
    /// while the call is in flight is not lost.
    pub fn register_once(&self, id: u32) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        lock(&self.once).insert(id, tx);
        rx
    }

    pub fn forget_once(&self, id: u32) {
        lock(&self.once).remove(&id);
    }

    pub fn add_stream(&self, id: u32, events: PersistentWatch) {
        let (removed, _) = watch::channel(false);
        let stream = Arc::new(Stream {
            events: tokio::sync::Mutex::new(events),
            removed,
        });
        lock(&self.streams).insert(id, stream);
    }

    /// The next event of stream `id`, `None` once it has ended or was removed.
    pub async fn next(&self, id: u32) -> Option<WatchEvent> {
        let stream = lock(&self.streams).get(&id).cloned()?;
        let mut removed = stream.removed.subscribe();
        if *removed.borrow_and_update() {
            return None;
        }
        let mut events = tokio::select! {
            guard = stream.events.lock() => guard,
            _ = removed.wait_for(|r| *r) => return None,
        };
        let next = tokio::select! {
            next = events.next() => next,
            _ = removed.wait_for(|r| *r) => return None,
        };
        match next {
            Some(Ok(event)) => Some(event.into()),
            Some(Err(_overflow)) => Some(WatchEvent {
                event_type: "overflow",
                state: "syncConnected",
                path: String::new(),
                zxid: -1,
            }),
            None => {
                drop(events);
                lock(&self.streams).remove(&id);
                None
            }
        }
    }

    /// The next buffered event of stream `id` of a client that has ended, without
    /// waiting; `None` (and the stream is forgotten) when there is none.
    pub fn drain_ended(&self, id: u32) -> Option<WatchEvent> {
        let stream = lock(&self.streams).get(&id).cloned()?;
        let next = stream.events.try_lock().ok().and_then(|mut events| {
            let mut next = std::pin::pin!(events.next());
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            match next.as_mut().poll(&mut cx) {
                std::task::Poll::Ready(Some(Ok(event))) => Some(WatchEvent::from(event)),
                _ => None,
            }
        });
        if next.is_none() {
            lock(&self.streams).remove(&id);
        }
        next
    }

    /// Removes watch `id`, one-shot or persistent.
    pub fn remove(&self, id: u32) {
        if let Some(stop) = lock(&self.once).remove(&id) {
            let _ = stop.send(());
        }
        if let Some(stream) = lock(&self.streams).remove(&id) {
            stream.removed.send_replace(true);
        }
    }
}

/// Waits for one-shot watch `id` to fire (or be removed) and hands the event to the
/// router as `['watch', id, event]`.
pub(crate) async fn forward_once(
    watch: Watch,
    id: u32,
    stop: oneshot::Receiver<()>,
    sink: Arc<Sink>,
    watches: Arc<Watches>,
) {
    if !watch.is_registered() {
        watches.forget_once(id);
        return;
    }
    tokio::select! {
        fired = watch.changed() => {
            let event = fired.map(WatchEvent::from).unwrap_or_else(|_| closed_event());
            sink.post(Msg::Emit(event!("watch", id, event)));
        }
        // Removed: dropping the watch removes it from the server.
        _ = stop => {}
    }
    watches.forget_once(id);
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
