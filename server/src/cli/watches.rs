//! zkCli's default watcher: one task prints every watch event and session change as
//! `WATCHER::` blocks, the way Apache's single default `Watcher` does.
//!
//! Apache registers one watcher object for every `get -w`, `ls -w`, `stat -w` and
//! `addWatch`, so a server notification that fires several of them is printed once. The
//! client here hands out one handle per registration; this task owns them all, prints a
//! notification through the first handle that reports it and drops the one-shot handles
//! the same notification fired (skipping it once on the persistent streams it also
//! reaches). `removewatches` drops handles, which removes the watches from the server.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::{broadcast, mpsc, oneshot};
use zk_core::client::{Overflow, PersistentWatch, SessionState, StateEvent, Watch, WatchedEvent};
use zk_core::proto::{EventType, KeeperState};

use super::format;

/// Which watches `removewatches` removes (`-c`, `-d`, `-a`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    Children,
    Data,
    Any,
}

/// What a registration fires on, as Apache's `ZKWatchManager.materialize` decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Data or exist watch (`get -w`, `stat -w`, the root of `ls -R -w`).
    Data,
    /// Child watch (`ls -w`).
    Child,
    /// `addWatch -m PERSISTENT`.
    Persistent,
    /// `addWatch` (PERSISTENT_RECURSIVE).
    Recursive,
}

impl Kind {
    fn fires_on(self, own_path: &str, event_type: EventType, path: &str) -> bool {
        match self {
            Kind::Data => {
                own_path == path
                    && matches!(
                        event_type,
                        EventType::NodeCreated
                            | EventType::NodeDataChanged
                            | EventType::NodeDeleted
                    )
            }
            Kind::Child => {
                own_path == path
                    && matches!(
                        event_type,
                        EventType::NodeDeleted | EventType::NodeChildrenChanged
                    )
            }
            Kind::Persistent => own_path == path,
            Kind::Recursive => {
                event_type != EventType::NodeChildrenChanged && is_within(own_path, path)
            }
        }
    }

    fn is_persistent(self) -> bool {
        matches!(self, Kind::Persistent | Kind::Recursive)
    }
}

/// `path` is `root` or below it.
fn is_within(root: &str, path: &str) -> bool {
    if root == "/" {
        return true;
    }
    match path.strip_prefix(root) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// The handle the shell keeps: registers watches and talks to the printer task.
#[derive(Clone)]
pub struct Watches {
    control: mpsc::UnboundedSender<Control>,
    print: Arc<AtomicBool>,
}

enum Control {
    Once {
        kind: Kind,
        path: String,
        watch: Watch,
    },
    Stream {
        kind: Kind,
        path: String,
        watch: PersistentWatch,
    },
    Session(broadcast::Receiver<StateEvent>),
    Remove {
        path: String,
        removal: Removal,
        reply: oneshot::Sender<bool>,
    },
    Flush(oneshot::Sender<()>),
    Quiet,
}

impl Watches {
    /// Starts the printer task on the current runtime.
    pub fn start(runtime: &tokio::runtime::Runtime) -> Watches {
        let (control, rx) = mpsc::unbounded_channel();
        let print = Arc::new(AtomicBool::new(true));
        let printer = Printer {
            control: rx,
            print: print.clone(),
            session: None,
            regs: Vec::new(),
            skips: Vec::new(),
            next_id: 0,
        };
        runtime.spawn(printer.run());
        Watches { control, print }
    }

    pub fn set_printing(&self, on: bool) {
        self.print.store(on, Ordering::Release);
    }

    pub fn printing(&self) -> bool {
        self.print.load(Ordering::Acquire)
    }

    /// Prints the session changes of a (new) client.
    pub fn follow_session(&self, events: broadcast::Receiver<StateEvent>) {
        let _ = self.control.send(Control::Session(events));
    }

    /// Keeps a one-shot watch until it fires; a watch the server did not register is dropped.
    pub fn add_once(&self, kind: Kind, path: &str, watch: Watch) {
        if watch.is_registered() {
            let _ = self.control.send(Control::Once {
                kind,
                path: path.to_owned(),
                watch,
            });
        }
    }

    pub fn add_stream(&self, recursive: bool, path: &str, watch: PersistentWatch) {
        let kind = if recursive {
            Kind::Recursive
        } else {
            Kind::Persistent
        };
        let _ = self.control.send(Control::Stream {
            kind,
            path: path.to_owned(),
            watch,
        });
    }

    /// Removes this session's watches of a kind on `path`; false if there were none.
    pub async fn remove(&self, path: &str, removal: Removal) -> bool {
        let (reply, done) = oneshot::channel();
        let sent = self.control.send(Control::Remove {
            path: path.to_owned(),
            removal,
            reply,
        });
        sent.is_ok() && done.await.unwrap_or(false)
    }

    /// Waits until every event that has already reached the client is printed.
    pub async fn flush(&self) {
        let (reply, done) = oneshot::channel();
        if self.control.send(Control::Flush(reply)).is_ok() {
            let _ = done.await;
        }
    }

    /// Stops printing session changes (for a quiet exit).
    pub fn quiet(&self) {
        let _ = self.control.send(Control::Quiet);
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type StreamNext = (PersistentWatch, Option<Result<WatchedEvent, Overflow>>);
type SessionNext = (
    broadcast::Receiver<StateEvent>,
    Result<StateEvent, broadcast::error::RecvError>,
);

enum Pending {
    Once(BoxFuture<zk_core::client::Result<WatchedEvent>>),
    Stream(BoxFuture<StreamNext>),
}

struct Reg {
    id: u64,
    kind: Kind,
    path: String,
    pending: Pending,
}

struct Printer {
    control: mpsc::UnboundedReceiver<Control>,
    print: Arc<AtomicBool>,
    session: Option<BoxFuture<SessionNext>>,
    regs: Vec<Reg>,
    /// Notifications already printed through another handle, to skip once on a stream:
    /// `(registration id, type, path)`.
    skips: Vec<(u64, EventType, String)>,
    next_id: u64,
}

fn next_stream_event(mut watch: PersistentWatch) -> BoxFuture<StreamNext> {
    Box::pin(async move {
        let event = watch.next().await;
        (watch, event)
    })
}

fn next_session_event(mut events: broadcast::Receiver<StateEvent>) -> BoxFuture<SessionNext> {
    Box::pin(async move {
        let event = events.recv().await;
        (events, event)
    })
}

/// The `KeeperState` zkCli's watcher sees for a client state.
fn keeper_state(state: SessionState) -> Option<KeeperState> {
    match state {
        SessionState::Connecting => None,
        SessionState::Connected => Some(KeeperState::SyncConnected),
        SessionState::ConnectedReadOnly => Some(KeeperState::ConnectedReadOnly),
        SessionState::SaslAuthenticated => Some(KeeperState::SaslAuthenticated),
        SessionState::Suspended => Some(KeeperState::Disconnected),
        SessionState::Expired => Some(KeeperState::Expired),
        SessionState::AuthFailed => Some(KeeperState::AuthFailed),
        SessionState::Closed => Some(KeeperState::Closed),
    }
}

impl Printer {
    async fn run(mut self) {
        std::future::poll_fn(|cx| self.poll_all(cx)).await;
    }

    /// Handles everything that is ready; finishes when the shell is gone.
    fn poll_all(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            self.poll_sources(cx);
            match self.control.poll_recv(cx) {
                Poll::Ready(Some(message)) => self.on_control(message, cx),
                Poll::Ready(None) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Polls the session and every watch until none is ready.
    fn poll_sources(&mut self, cx: &mut Context<'_>) {
        while let Some(session) = self.session.as_mut() {
            match session.as_mut().poll(cx) {
                Poll::Pending => break,
                Poll::Ready((events, result)) => match result {
                    Ok(event) => {
                        self.session = Some(next_session_event(events));
                        self.on_state(event.state);
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        self.session = Some(next_session_event(events));
                    }
                    Err(broadcast::error::RecvError::Closed) => self.session = None,
                },
            }
        }
        let mut i = 0;
        while i < self.regs.len() {
            let reg = &mut self.regs[i];
            let (id, kind) = (reg.id, reg.kind);
            match &mut reg.pending {
                Pending::Once(future) => match future.as_mut().poll(cx) {
                    Poll::Pending => i += 1,
                    Poll::Ready(result) => {
                        self.regs.remove(i);
                        if let Ok(event) = result {
                            self.on_event(id, &event);
                        }
                        // Handles the event removed may sit before `i`; start over.
                        i = 0;
                    }
                },
                Pending::Stream(future) => match future.as_mut().poll(cx) {
                    Poll::Pending => i += 1,
                    Poll::Ready((watch, next)) => match next {
                        None => {
                            self.regs.remove(i);
                            self.skips.retain(|(skip, _, _)| *skip != id);
                        }
                        Some(next) => {
                            reg.pending = Pending::Stream(next_stream_event(watch));
                            match next {
                                Ok(event) => self.on_event(id, &event),
                                Err(Overflow) => format::errln(&format!(
                                    "zk-cli: the {kind:?} watch dropped events (queue full)"
                                )),
                            }
                            i = 0;
                        }
                    },
                },
            }
        }
    }

    fn on_control(&mut self, message: Control, cx: &mut Context<'_>) {
        match message {
            Control::Once { kind, path, watch } => {
                let pending = Pending::Once(Box::pin(watch.changed()));
                self.push(kind, path, pending);
            }
            Control::Stream { kind, path, watch } => {
                let pending = Pending::Stream(next_stream_event(watch));
                self.push(kind, path, pending);
            }
            Control::Session(events) => self.session = Some(next_session_event(events)),
            Control::Remove {
                path,
                removal,
                reply,
            } => {
                let removed = self.remove(&path, removal);
                let _ = reply.send(removed);
            }
            Control::Flush(reply) => {
                self.poll_sources(cx);
                let _ = reply.send(());
            }
            Control::Quiet => {
                self.print.store(false, Ordering::Release);
                self.session = None;
            }
        }
    }

    fn push(&mut self, kind: Kind, path: String, pending: Pending) {
        self.next_id += 1;
        self.regs.push(Reg {
            id: self.next_id,
            kind,
            path,
            pending,
        });
    }

    fn print_event(&self, state: KeeperState, event_type: EventType, path: &str) {
        if self.print.load(Ordering::Acquire) {
            format::out(&format::watcher_block(state, event_type, path));
        }
    }

    fn on_state(&mut self, state: SessionState) {
        if let Some(keeper) = keeper_state(state) {
            self.print_event(keeper, EventType::None, "");
        }
        if state.is_terminal() {
            self.regs.clear();
            self.skips.clear();
        }
    }

    /// A notification reported through registration `id`.
    fn on_event(&mut self, id: u64, event: &WatchedEvent) {
        if event.event_type == EventType::None {
            return; // session changes are printed from the session's own events
        }
        if let Some(at) = self
            .skips
            .iter()
            .position(|(skip, t, p)| *skip == id && *t == event.event_type && *p == event.path)
        {
            self.skips.remove(at);
            return;
        }
        self.print_event(event.state, event.event_type, &event.path);
        // The same notification fired every other registration it concerns.
        let mut kept = Vec::with_capacity(self.regs.len());
        for reg in std::mem::take(&mut self.regs) {
            if reg.id == id || !reg.kind.fires_on(&reg.path, event.event_type, &event.path) {
                kept.push(reg);
            } else if reg.kind.is_persistent() {
                self.skips
                    .push((reg.id, event.event_type, event.path.clone()));
                kept.push(reg);
            }
            // One-shot handles fired by this notification are dropped here.
        }
        self.regs = kept;
    }

    /// `removewatches`: drops the matching handles (one-shot ones first, so the server is
    /// asked to remove a persistent watch only once nothing else remains on the path) and
    /// prints the removal events Apache's client generates.
    fn remove(&mut self, path: &str, removal: Removal) -> bool {
        let matches = |kind: Kind| match removal {
            Removal::Children => kind == Kind::Child,
            Removal::Data => kind == Kind::Data,
            Removal::Any => true,
        };
        let (mut removed, kept): (Vec<Reg>, Vec<Reg>) = std::mem::take(&mut self.regs)
            .into_iter()
            .partition(|reg| reg.path == path && matches(reg.kind));
        self.regs = kept;
        if removed.is_empty() {
            return false;
        }
        let persistent = removed.iter().any(|r| r.kind.is_persistent());
        let child = removed.iter().any(|r| r.kind == Kind::Child);
        let data = removed.iter().any(|r| r.kind == Kind::Data);
        self.skips
            .retain(|(id, _, _)| !removed.iter().any(|r| r.id == *id));
        removed.sort_by_key(|r| r.kind.is_persistent());
        drop(removed);
        for (fired, event_type) in [
            (persistent, EventType::PersistentWatchRemoved),
            (child, EventType::ChildWatchRemoved),
            (data, EventType::DataWatchRemoved),
        ] {
            if fired {
                self.print_event(KeeperState::SyncConnected, event_type, path);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firing_rules_follow_apache() {
        assert!(Kind::Data.fires_on("/a", EventType::NodeDeleted, "/a"));
        assert!(!Kind::Data.fires_on("/a", EventType::NodeChildrenChanged, "/a"));
        assert!(Kind::Child.fires_on("/a", EventType::NodeChildrenChanged, "/a"));
        assert!(Kind::Recursive.fires_on("/a", EventType::NodeCreated, "/a/b"));
        assert!(!Kind::Recursive.fires_on("/a", EventType::NodeCreated, "/ab"));
        assert!(!Kind::Recursive.fires_on("/a", EventType::NodeChildrenChanged, "/a"));
        assert!(Kind::Recursive.fires_on("/", EventType::NodeCreated, "/x"));
        assert!(Kind::Persistent.fires_on("/a", EventType::NodeChildrenChanged, "/a"));
    }
}
