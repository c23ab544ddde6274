//! What the callers of one client share with its connection task: the [`SessionMachine`]
//! behind one lock, the live socket, and a queue for commands that cannot take that lock.
//!
//! A caller hands its command to the machine itself instead of sending it to the task.
//! When the connection is idle (no reply is due, so the task sleeps until a deadline) the
//! caller also writes the request to the socket: a lone call then costs the task one
//! wake-up, for the reply, instead of two. With replies due, the caller leaves its bytes
//! to the task and wakes it, and the task writes whatever piled up in one go, as before.
//!
//! Callbacks run while the machine is locked (replies, watches, state changes). A command
//! made on a thread that holds a machine's lock (any client's: two clients' callbacks
//! calling each other must not deadlock), or while the lock is busy, goes to the queue
//! instead, and the next holder of the lock takes it over in order before anything newer.
//!
//! A caller blocked on a call it wrote on an idle connection may also read the reply
//! itself ([`WaitHere::wait_here`], see `socket.rs` and `wait.rs`): bytes are read and
//! handled under the lock, by whichever thread has them.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;

use bytes::BytesMut;
use parking_lot::{Mutex, MutexGuard};
use tokio::sync::{oneshot, Notify};

use super::batch::{self, HeldWrites};
use super::command::{fail_command, Command};
use super::error::Error;
use super::session::{Ended, SessionMachine};
use super::socket::{ReadOutcome, Socket, Waited};
use super::tls::Tls;
use super::wait::{self, WaitHere, Waiter};

/// Read at least this much room into the inbound buffer.
const READ_CHUNK: usize = 16 * 1024;

thread_local! {
    /// How many machine locks this thread holds.
    static HOLDING: Cell<u32> = const { Cell::new(0) };
}

/// The shared part of one client (see the module doc).
pub(crate) struct Driver {
    driven: Mutex<Driven>,
    queue: Mutex<Queue>,
    /// Wakes the connection task: bytes left to write, a queued command, a close.
    pub wake: Notify,
    /// Live [`Submitter`]s; at zero nobody can use the session any more.
    submitters: AtomicUsize,
}

/// The state behind the machine lock.
pub(crate) struct Driven {
    pub machine: SessionMachine,
    /// The established connection's socket, while the task serves it.
    pub socket: Option<Arc<Socket>>,
    /// Its TLS state, when the client speaks TLS.
    pub tls: Option<Tls>,
    /// What was read from the connection and not handled yet.
    pub inbound: BytesMut,
    /// A caller or an event loop reads the socket instead of the task (see [`Lent`]).
    reads_lent: bool,
    /// Counts lendings, so a borrower whose reads the task took back can tell.
    lendings: u64,
    /// A caller found the connection over while handling its bytes; the task ends it so.
    pub caller_ended: Option<Ended>,
    /// A caller asked to close the session; the task answers it when done.
    pub close: Option<oneshot::Sender<()>>,
    /// Closing: new commands wait in the queue and fail when the session ends.
    pub closing: bool,
    /// The session is over: commands fail with this at once.
    ended: Option<Error>,
}

#[derive(Default)]
struct Queue {
    commands: Vec<Command>,
    ended: Option<Error>,
}

/// The machine, locked by this thread (see [`HOLDING`]).
pub(crate) struct Held<'a> {
    guard: MutexGuard<'a, Driven>,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        HOLDING.with(|holding| holding.set(holding.get().saturating_sub(1)));
    }
}

impl std::ops::Deref for Held<'_> {
    type Target = Driven;
    fn deref(&self) -> &Driven {
        &self.guard
    }
}

impl std::ops::DerefMut for Held<'_> {
    fn deref_mut(&mut self) -> &mut Driven {
        &mut self.guard
    }
}

impl Driver {
    pub fn new(machine: SessionMachine) -> Arc<Driver> {
        Arc::new(Driver {
            driven: Mutex::new(Driven {
                machine,
                socket: None,
                tls: None,
                inbound: BytesMut::new(),
                reads_lent: false,
                lendings: 0,
                caller_ended: None,
                close: None,
                closing: false,
                ended: None,
            }),
            queue: Mutex::new(Queue::default()),
            wake: Notify::new(),
            submitters: AtomicUsize::new(0),
        })
    }

    /// Locks the machine. Never held across an `.await`.
    pub fn lock(&self) -> Held<'_> {
        self.held(self.driven.lock())
    }

    fn held<'a>(&'a self, guard: MutexGuard<'a, Driven>) -> Held<'a> {
        HOLDING.with(|holding| holding.set(holding.get() + 1));
        let mut held = Held { guard };
        self.take_queued(&mut held);
        held
    }

    /// Whether every [`Submitter`] is gone.
    pub fn abandoned(&self) -> bool {
        self.submitters.load(Ordering::Acquire) == 0
    }

    /// A caller's command: into the machine, and onto the socket when that saves the
    /// task a wake-up (see the module doc); `Ok(true)` when this thread wrote it on an idle
    /// connection. If the session has ended, the command is answered with the reason,
    /// which is also returned.
    fn submit(&self, cmd: Command, batched: bool) -> Result<bool, Error> {
        // In a batch, the batch's end takes the queue over (or wakes the task then).
        if HOLDING.with(Cell::get) > 0 {
            return self.enqueue(cmd, !batched).map(|()| false);
        }
        // Busy means the task is handling replies (or another caller is writing): the
        // task then takes the queue over before it sleeps, as one write.
        let Some(guard) = self.driven.try_lock() else {
            return self.enqueue(cmd, !batched).map(|()| false);
        };
        let mut held = self.held(guard);
        if let Some(error) = held.ended.clone() {
            drop(held);
            fail_command(cmd, &error);
            return Err(error);
        }
        if held.closing {
            drop(held);
            return self.enqueue(cmd, true).map(|()| false);
        }
        let idle = held.machine.is_idle();
        held.accept(cmd);
        if batched {
            // Written when the batch ends, with the rest of it.
            return Ok(false);
        }
        if idle {
            // A failed write is left to the task, which meets the same error.
            let _ = held.flush();
        }
        let task_needed = held.close.is_some() || held.unwritten();
        drop(held);
        if task_needed {
            self.wake.notify_one();
        }
        Ok(idle && !task_needed)
    }

    fn enqueue(&self, cmd: Command, wake: bool) -> Result<(), Error> {
        let mut queue = self.queue.lock();
        if let Some(error) = queue.ended.clone() {
            drop(queue);
            fail_command(cmd, &error);
            return Err(error);
        }
        queue.commands.push(cmd);
        drop(queue);
        if wake {
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Moves queued commands into the machine, oldest first (unless closing: then they
    /// stay until the session ends).
    fn take_queued(&self, held: &mut Held<'_>) {
        if held.closing {
            return;
        }
        let queued = std::mem::take(&mut self.queue.lock().commands);
        for cmd in queued {
            held.accept(cmd);
        }
    }

    /// The session is over: from now on every command fails with `error`; returns the
    /// commands still queued, to be failed once the lock is released.
    pub fn end(&self, held: &mut Held<'_>, error: &Error) -> Vec<Command> {
        held.ended = Some(error.clone());
        let mut queue = self.queue.lock();
        queue.ended = Some(error.clone());
        std::mem::take(&mut queue.commands)
    }
}

impl HeldWrites for Driver {
    /// Writes the requests held for a batch now if the machine is free, else leaves them
    /// to the task.
    fn write_held(&self) {
        let Some(guard) = self.driven.try_lock() else {
            self.wake.notify_one();
            return;
        };
        let mut held = self.held(guard);
        if held.ended.is_none() && !held.closing {
            // A failed write is left to the task, which meets the same error.
            let _ = held.flush();
        }
        let task_needed = held.close.is_some() || held.unwritten();
        drop(held);
        if task_needed {
            self.wake.notify_one();
        }
    }
}

/// The socket's reads, lent to a caller or an event loop by [`Driver::lend_reads`].
pub(crate) struct Lent {
    pub socket: Arc<Socket>,
    pub lending: u64,
}

impl Driver {
    /// Takes the connection's reads over from the task for the calling thread (see
    /// `socket.rs`); `None` when they cannot be lent now.
    pub fn lend_reads(&self) -> Option<Lent> {
        let mut held = self.lock();
        if held.reads_lent
            || held.closing
            || held.close.is_some()
            || held.ended.is_some()
            || held.caller_ended.is_some()
        {
            return None;
        }
        let socket = held.socket.clone()?;
        socket.lend_reads().ok()?;
        held.reads_lent = true;
        held.lendings += 1;
        Some(Lent {
            socket,
            lending: held.lendings,
        })
    }

    /// On the borrower's thread, when the socket is readable: reads and handles its
    /// bytes; false when the borrower should stop (closing: the task reads the answer to
    /// CloseSession itself; the connection is over or replaced; the task took the reads
    /// back).
    pub fn handle_lent(&self, lent: &Lent) -> bool {
        let mut held = self.lock();
        if !held.still_lends(lent) {
            return false;
        }
        let open = held.handle_reads(Instant::now());
        let task_needed = !open || held.close.is_some() || held.unwritten();
        drop(held);
        if task_needed {
            self.wake.notify_one();
        }
        open
    }

    /// Whether `lent` still has the reads (see [`Driven::still_lends`]).
    pub fn still_lends(&self, lent: &Lent) -> bool {
        self.lock().still_lends(lent)
    }

    /// Gives the reads back to the task (unless it took them back already).
    pub fn return_lent(&self, lent: Lent) {
        self.take_back_reads(lent.lending);
    }
}

impl WaitHere for Driver {
    fn wait_here(&self, waiter: &Waiter) -> bool {
        let Some(lent) = self.lend_reads() else {
            return false;
        };
        let handling = waiter.handling_here();
        while !waiter.notified() {
            match lent.socket.wait_readable(waiter.signal_fd()) {
                Waited::Readable => {
                    if !self.handle_lent(&lent) {
                        break;
                    }
                }
                Waited::Signalled => {
                    waiter.drain();
                    break;
                }
                Waited::Interrupted => {}
                Waited::Failed => break,
            }
        }
        drop(handling);
        self.return_lent(lent);
        true
    }

    fn take_back_reads(&self, lending: u64) {
        let mut held = self.lock();
        // Another lending's, or the connection is over (`forget_connection`).
        if !held.reads_lent || held.lendings != lending {
            return;
        }
        if !held.reclaim_reads() {
            // The task would not hear of new bytes: it ends the connection instead.
            tracing::debug!("cannot hand the socket back to the connection task");
            if held.caller_ended.is_none() {
                held.caller_ended = Some(held.machine.lose(Ended::Lost));
            }
            drop(held);
            self.wake.notify_one();
        }
    }
}

impl Driven {
    fn accept(&mut self, cmd: Command) {
        match cmd {
            Command::Close { reply } => {
                // A second close waits for the first.
                if let Some(earlier) = self.close.replace(reply) {
                    let _ = earlier.send(());
                }
            }
            cmd => {
                if let Err(Ended::Closed(Some(reply))) = self.machine.submit(cmd) {
                    let _ = reply.send(());
                }
            }
        }
    }

    /// Whether `socket` is still the connection's (not one since replaced or ended).
    fn serves(&self, socket: &Arc<Socket>) -> bool {
        self.socket.as_ref().is_some_and(|s| Arc::ptr_eq(s, socket))
    }

    /// The connection is over: its socket, its bytes, its lending.
    pub fn forget_connection(&mut self) {
        self.socket = None;
        self.tls = None;
        self.inbound = BytesMut::new();
        self.caller_ended = None;
        self.reads_lent = false;
    }

    /// Whether a borrower holding `lent` may still read: the task has not taken the reads
    /// back, and the connection is neither closing, over nor replaced.
    fn still_lends(&self, lent: &Lent) -> bool {
        !self.closing && self.caller_ended.is_none() && self.lends(lent)
    }

    /// Whether `lent` still has the reads of the connection's socket.
    fn lends(&self, lent: &Lent) -> bool {
        self.reads_lent && self.lendings == lent.lending && self.serves(&lent.socket)
    }

    /// The task takes the socket's reads back from whoever borrowed them (who then stops
    /// at its next bytes): a borrower that stopped reading (a blocked event loop) must
    /// neither make a live connection look silent nor hold up the answer to CloseSession.
    /// False when the socket cannot be watched again.
    pub fn reclaim_reads(&mut self) -> bool {
        if !self.reads_lent {
            return true;
        }
        self.reads_lent = false;
        self.socket
            .as_ref()
            .is_none_or(|socket| socket.return_reads().is_ok())
    }

    /// Reads what the socket has into `inbound` (unsealed, over TLS).
    pub fn read_socket(&mut self) -> ReadOutcome {
        let Some(socket) = &self.socket else {
            return ReadOutcome::Closed;
        };
        if let Some(tls) = self.tls.as_mut() {
            return tls.read_from(socket, &mut self.inbound);
        }
        self.inbound.reserve(READ_CHUNK);
        let room = self.inbound.capacity() - self.inbound.len();
        match socket.read_into(self.inbound.spare_capacity_mut()) {
            Ok(0) => ReadOutcome::Closed,
            Ok(n) => {
                // SAFETY: `read_into` initialised the first `n` bytes of the spare room.
                unsafe { self.inbound.set_len(self.inbound.len() + n) };
                // A read that leaves room drained the socket: the next one would only
                // say WouldBlock (one syscall of about five per round trip).
                if n < room {
                    ReadOutcome::Drained
                } else {
                    ReadOutcome::More
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => ReadOutcome::Drained,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => ReadOutcome::More,
            Err(_) => ReadOutcome::Closed,
        }
    }

    /// A write failed: the connection is over. What the server sent before it closed the
    /// connection may say why (a refused credential is answered, then the connection
    /// closed), so that is read and handled first; otherwise the connection was lost.
    pub fn lose_on_write_error(&mut self, now: Instant) -> Ended {
        while let ReadOutcome::More = self.read_socket() {}
        if let Err(ended) = self.machine.received(&mut self.inbound, now) {
            return ended;
        }
        self.machine.lose(Ended::Lost)
    }

    /// On a borrower's thread (which [`Self::still_lends`]): reads what the socket has and
    /// handles it; false when the connection is over (recorded for the task, which ends it).
    fn handle_reads(&mut self, now: Instant) -> bool {
        let mut closed = false;
        loop {
            match self.read_socket() {
                ReadOutcome::Closed => {
                    closed = true;
                    break;
                }
                ReadOutcome::Drained => break,
                ReadOutcome::More => {}
            }
        }
        // What came before the end counts first: a server that refuses credentials
        // answers, then closes, and the answer says why the session ended.
        if let Err(ended) = self.machine.received(&mut self.inbound, now) {
            self.caller_ended = Some(ended);
            return false;
        }
        if closed {
            self.caller_ended = Some(self.machine.lose(Ended::Lost));
            return false;
        }
        // Requests taken over from the queue, or a TLS record to answer.
        if self.flush().is_err() {
            self.caller_ended = Some(self.lose_on_write_error(now));
            return false;
        }
        true
    }

    /// Writes what the socket takes now of the machine's output. `Ok` with output left
    /// (see [`Self::unwritten`]) means the socket is full: wait until it is writable.
    pub fn flush(&mut self) -> std::io::Result<()> {
        let Some(socket) = &self.socket else {
            return Ok(());
        };
        if let Some(tls) = self.tls.as_mut() {
            loop {
                let sealed = tls.seal_some(self.machine.output())?;
                if sealed > 0 {
                    self.machine.wrote_some(sealed, Instant::now());
                }
                let socket_took_all = tls.write_to(socket)?;
                if !socket_took_all || self.machine.output().is_empty() || sealed == 0 {
                    return Ok(());
                }
            }
        }
        while !self.machine.output().is_empty() {
            match socket.try_write(self.machine.output()) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => self.machine.wrote_some(n, Instant::now()),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Bytes wait for the socket to take them.
    pub fn unwritten(&self) -> bool {
        !self.machine.output().is_empty() || self.tls.as_ref().is_some_and(Tls::wants_write)
    }
}

/// A caller's way into the session; the session's connection task ends once all of them
/// are dropped (every clone of the client and every watch handle that can remove itself).
pub(crate) struct Submitter {
    driver: Arc<Driver>,
}

impl Submitter {
    pub fn new(driver: Arc<Driver>) -> Submitter {
        driver.submitters.fetch_add(1, Ordering::AcqRel);
        Submitter { driver }
    }

    pub fn driver(&self) -> &Arc<Driver> {
        &self.driver
    }

    /// Hands `cmd` to the session; if the session has ended, answers it with the reason
    /// and returns that.
    pub fn send(&self, cmd: Command) -> Result<(), Error> {
        let batched = batch::join(&self.driver);
        let wrote_on_idle = self.driver.submit(cmd, batched)?;
        if wrote_on_idle {
            let driver: Weak<dyn WaitHere> = Arc::downgrade(&self.driver) as _;
            wait::wrote_on_idle(driver);
        }
        Ok(())
    }
}

impl Clone for Submitter {
    fn clone(&self) -> Submitter {
        Submitter::new(self.driver.clone())
    }
}

impl Drop for Submitter {
    fn drop(&mut self) {
        if self.driver.submitters.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.driver.wake.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    //! The caller's side of the driver, with a real loopback socket and no connection task.

    use std::io::{Read, Write};
    use std::sync::atomic::AtomicI64;
    use std::time::Duration;

    use tokio::net::{TcpListener, TcpStream};
    use tokio::sync::{broadcast, watch};

    use super::*;
    use crate::client::command::RawReply;
    use crate::client::command::ReplyTo;
    use crate::client::connect_string::ConnectString;
    use crate::client::event::{SessionState, StateEvent};
    use crate::client::options::ClientOptions;
    use crate::client::session::Session;
    use crate::client::WriteBatch;
    use crate::proto::{frame, ConnectResponse, Encode, PathWatchRequest, ReplyHeader, Request};

    struct Rig {
        runtime: tokio::runtime::Runtime,
        driver: Arc<Driver>,
        submitter: Submitter,
        /// The server's end, blocking with a short read timeout.
        server: std::net::TcpStream,
    }

    fn connected_rig() -> Rig {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (ours, server) = runtime.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let (ours, theirs) = tokio::join!(TcpStream::connect(addr), listener.accept());
            let ours = Socket::new(ours.unwrap()).unwrap();
            (ours, theirs.unwrap().0.into_std().unwrap())
        });
        server.set_nonblocking(false).unwrap();
        server
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let session = Arc::new(Session {
            id: AtomicI64::new(0),
            passwd: parking_lot::Mutex::new(Vec::new()),
            timeout_ms: AtomicI64::new(0),
            last_zxid: AtomicI64::new(0),
        });
        let (state, _) = watch::channel(StateEvent {
            state: SessionState::Connecting,
            session_id: 0,
        });
        let (transitions, _) = broadcast::channel(4);
        let mut machine = SessionMachine::new(
            ConnectString::parse("127.0.0.1:2181").unwrap(),
            ClientOptions::default(),
            session,
            state,
            transitions,
            None,
            Instant::now(),
        );
        let accepted = ConnectResponse {
            protocol_version: 0,
            timeout: 30_000,
            session_id: 1,
            passwd: vec![0; 16],
            read_only: Some(false),
        };
        assert!(machine.connected(&accepted, Instant::now()).is_ok());
        let driver = Driver::new(machine);
        driver.lock().socket = Some(Arc::new(ours));
        let submitter = Submitter::new(driver.clone());
        Rig {
            runtime,
            driver,
            submitter,
            server,
        }
    }

    fn get(path: &str) -> Command {
        get_answered(path).0
    }

    type Answer = oneshot::Receiver<Result<RawReply, Error>>;

    fn get_answered(path: &str) -> (Command, Answer) {
        let (reply, answer) = oneshot::channel();
        let cmd = Command::Request {
            request: Request::GetData(PathWatchRequest {
                path: path.into(),
                watch: false,
            }),
            watch: None,
            reply: ReplyTo::Wait(reply),
        };
        (cmd, answer)
    }

    /// The server's side: reads one request frame and returns its xid.
    fn read_request(server: &mut std::net::TcpStream) -> i32 {
        let mut len = [0u8; 4];
        server.read_exact(&mut len).unwrap();
        let mut payload = vec![0u8; u32::from_be_bytes(len) as usize];
        server.read_exact(&mut payload).unwrap();
        i32::from_be_bytes(payload[..4].try_into().unwrap())
    }

    fn reply_frame(xid: i32, zxid: i64, err: i32) -> Vec<u8> {
        let mut out = Vec::new();
        frame::write(&mut out, |b| ReplyHeader { xid, zxid, err }.encode(b));
        out
    }

    fn task_woken(rig: &Rig) -> bool {
        rig.runtime.block_on(async {
            tokio::time::timeout(Duration::ZERO, rig.driver.wake.notified())
                .await
                .is_ok()
        })
    }

    #[test]
    fn a_call_on_an_idle_connection_is_written_by_the_caller_and_one_behind_a_reply_by_the_task() {
        let mut rig = connected_rig();
        // Idle: this thread (outside the runtime) writes the request; the task sleeps on.
        rig.submitter.send(get("/a")).unwrap();
        let mut frame = [0u8; 64];
        let n = rig.server.read(&mut frame).unwrap();
        assert!(n > 4 && frame[..n].windows(2).any(|w| w == b"/a"));
        assert!(rig.driver.lock().machine.output().is_empty());
        assert!(!task_woken(&rig));
        // A reply is now due: the next request waits for the task, which is woken.
        rig.submitter.send(get("/b")).unwrap();
        assert!(
            rig.server.read(&mut frame).is_err(),
            "nothing more was written"
        );
        assert!(!rig.driver.lock().machine.output().is_empty());
        assert!(task_woken(&rig));
    }

    #[test]
    fn a_write_batch_writes_its_calls_together_when_it_ends_even_with_replies_due() {
        let mut rig = connected_rig();
        let mut frame = [0u8; 256];
        {
            let _batch = WriteBatch::open();
            rig.submitter.send(get("/a")).unwrap();
            rig.submitter.send(get("/b")).unwrap();
            {
                // Nested: only the outermost batch writes.
                let _inner = WriteBatch::open();
                rig.submitter.send(get("/c")).unwrap();
            }
            assert!(
                rig.server.read(&mut frame).is_err(),
                "nothing is written before the batch ends"
            );
        }
        let mut written = Vec::new();
        while let Ok(n) = rig.server.read(&mut frame) {
            written.extend_from_slice(&frame[..n]);
        }
        let at = |path: &[u8]| written.windows(2).position(|w| w == path);
        assert!(
            matches!((at(b"/a"), at(b"/b"), at(b"/c")), (Some(a), Some(b), Some(c)) if a < b && b < c)
        );
        assert!(rig.driver.lock().machine.output().is_empty());
        assert!(!task_woken(&rig), "the caller wrote it all");
        // After the batch, calls behave as before: with replies due, the task writes.
        rig.submitter.send(get("/d")).unwrap();
        assert!(task_woken(&rig));
    }

    #[test]
    fn a_call_made_while_holding_the_lock_is_queued_and_taken_over_in_order() {
        let rig = connected_rig();
        {
            let _held = rig.driver.lock();
            // As a callback would, on the thread that holds the machine.
            rig.submitter.send(get("/queued")).unwrap();
        }
        assert!(task_woken(&rig));
        // The next lock (the task's, or another caller's) takes it over before its own;
        // with a reply now due, the task writes both.
        rig.submitter.send(get("/direct")).unwrap();
        let output = rig.driver.lock().machine.output().to_vec();
        let queued = output.windows(7).position(|w| w == b"/queued");
        let direct = output.windows(7).position(|w| w == b"/direct");
        assert!(matches!((queued, direct), (Some(q), Some(d)) if q < d));
    }

    #[test]
    fn a_blocked_caller_reads_the_reply_to_its_call_on_an_idle_connection_itself() {
        let rig = connected_rig();
        let mut server = rig.server.try_clone().unwrap();
        server
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let answering = std::thread::spawn(move || {
            let xid = read_request(&mut server);
            server.write_all(&reply_frame(xid, 7, -101)).unwrap();
        });
        let (cmd, answer) = get_answered("/a");
        // Nothing drives the rig's runtime: only this thread can read the reply.
        let answered = wait::block_on(rig.runtime.handle(), async {
            rig.submitter.send(cmd).unwrap();
            answer.await
        });
        answering.join().unwrap();
        let reply = answered.unwrap().unwrap();
        assert_eq!((reply.header.zxid, reply.header.err), (7, -101));
        let held = rig.driver.lock();
        assert!(!held.reads_lent, "the socket is handed back to the task");
        assert!(held.inbound.is_empty() && held.caller_ended.is_none());
    }

    #[test]
    fn bytes_that_arrive_while_a_caller_has_the_socket_wake_the_task_once_it_is_returned() {
        let mut rig = connected_rig();
        let socket = rig.driver.lock().socket.clone().unwrap();
        let within = Duration::from_secs(30);
        // The task reads a frame: the epoll set keeps listing the socket as ready until it
        // is next polled, the case where handing the socket back by EPOLL_CTL_MOD would
        // wake nobody.
        rig.server.write_all(&reply_frame(-1, 0, 0)).unwrap();
        rig.runtime.block_on(async {
            let mut ready = tokio::time::timeout(within, socket.readable())
                .await
                .unwrap()
                .unwrap();
            let mut frame = [0u8; 64];
            assert!(socket.try_read(&mut frame).unwrap() > 0);
            ready.clear_ready();
        });
        socket.lend_reads().unwrap();
        rig.server.write_all(&reply_frame(-1, 0, 0)).unwrap();
        // An eventfd nobody signals: this waits for the bytes alone.
        // SAFETY: eventfd has no preconditions; the result is checked.
        let signal = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        assert!(signal >= 0);
        assert_eq!(socket.wait_readable(signal), Waited::Readable);
        // SAFETY: `signal` is ours and closed once.
        unsafe { libc::close(signal) };
        socket.return_reads().unwrap();
        let woken = rig.runtime.block_on(async {
            tokio::time::timeout(within, socket.readable())
                .await
                .is_ok()
        });
        assert!(woken, "the task hears of the bytes the caller left");
    }

    #[test]
    fn an_event_loop_borrowing_the_reads_handles_replies_until_the_task_takes_them_back() {
        let mut rig = connected_rig();
        let lent = crate::client::LentReads::take(&rig.driver).expect("an idle connection lends");
        assert!(
            crate::client::LentReads::take(&rig.driver).is_none(),
            "one borrower at a time"
        );
        let (cmd, mut answer) = get_answered("/a");
        rig.submitter.send(cmd).unwrap();
        let xid = read_request(&mut rig.server);
        rig.server.write_all(&reply_frame(xid, 9, 0)).unwrap();
        // What the loop's selector does: wait until the socket is readable, then handle.
        let mut fd = libc::pollfd {
            fd: lent.fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        assert_eq!(unsafe { libc::poll(&mut fd, 1, 30_000) }, 1);
        assert!(lent.handle());
        let reply = answer.try_recv().expect("answered on this thread").unwrap();
        assert_eq!(reply.header.zxid, 9);
        // A ping falls due: the task takes the reads back, the borrower stops at its next
        // bytes and hands back nothing.
        assert!(rig.driver.lock().reclaim_reads());
        assert!(!lent.handle());
        drop(lent);
        assert!(!rig.driver.lock().reads_lent);
        let again = crate::client::LentReads::take(&rig.driver).expect("lent anew");
        drop(again);
        assert!(!rig.driver.lock().reads_lent);
        // Closing: nothing is lent any more.
        rig.driver.lock().closing = true;
        assert!(crate::client::LentReads::take(&rig.driver).is_none());
    }

    /// The server answers the call in flight with AUTHFAILED on the auth xid, as it does
    /// to a refused credential, then closes; returns once both are in our receive buffer.
    fn refuse_and_close(rig: &mut Rig, fd: std::os::fd::RawFd) {
        let auth_failed = reply_frame(
            crate::proto::AUTH_XID,
            0,
            crate::proto::ErrorCode::AuthFailed.as_i32(),
        );
        rig.server.write_all(&auth_failed).unwrap();
        rig.server.shutdown(std::net::Shutdown::Both).unwrap();
        let mut poll = libc::pollfd {
            fd,
            events: libc::POLLIN | libc::POLLRDHUP,
            revents: 0,
        };
        while poll.revents & libc::POLLRDHUP == 0 {
            // SAFETY: one valid pollfd for the duration of the call.
            assert_eq!(unsafe { libc::poll(&mut poll, 1, 30_000) }, 1);
        }
    }

    #[test]
    fn a_borrower_handles_what_came_before_the_connection_closed() {
        let mut rig = connected_rig();
        let lent = crate::client::LentReads::take(&rig.driver).expect("an idle connection lends");
        let (cmd, mut answer) = get_answered("/a");
        rig.submitter.send(cmd).unwrap();
        read_request(&mut rig.server);
        refuse_and_close(&mut rig, lent.fd());
        // The task read the answer (woken before the lending) but has not handled it yet;
        // the borrower's next read meets the end.
        assert!(matches!(
            rig.driver.lock().read_socket(),
            ReadOutcome::Drained
        ));
        assert!(!lent.handle(), "the connection is over");
        assert!(!lent.is_current());
        assert!(matches!(answer.try_recv(), Ok(Err(Error::AuthFailed))));
        assert!(matches!(
            rig.driver.lock().caller_ended,
            Some(Ended::AuthFailed)
        ));
    }

    #[test]
    fn a_failed_write_reads_why_the_server_closed_first() {
        let mut rig = connected_rig();
        let (cmd, mut answer) = get_answered("/a");
        rig.submitter.send(cmd).unwrap();
        read_request(&mut rig.server);
        let fd = rig.driver.lock().socket.as_ref().unwrap().raw_fd();
        refuse_and_close(&mut rig, fd);
        let ended = rig.driver.lock().lose_on_write_error(Instant::now());
        assert!(matches!(ended, Ended::AuthFailed));
        assert!(matches!(answer.try_recv(), Ok(Err(Error::AuthFailed))));
    }

    #[test]
    fn after_the_end_every_call_fails_with_the_reason() {
        let rig = connected_rig();
        {
            let mut held = rig.driver.lock();
            assert!(rig.driver.end(&mut held, &Error::SessionExpired).is_empty());
        }
        assert!(matches!(
            rig.submitter.send(get("/late")),
            Err(Error::SessionExpired)
        ));
    }
}
