//! What callers hand the connection task: [`Command`]s, and where their answers go
//! ([`ReplyTo`], [`WatchRequest`], [`StateCallback`]).

use tokio::sync::oneshot;

use super::error::Error;
use super::event::StateEvent;
use super::watches::{Slot, WatchKind};
use crate::proto::{ReplyHeader, Request};

/// A reply as it came off the wire: header and undecoded body.
#[derive(Debug)]
pub(crate) struct RawReply {
    pub header: ReplyHeader,
    pub body: Vec<u8>,
}

/// A watch to register when the reply says so.
pub(crate) struct WatchRequest {
    pub kind: WatchKind,
    pub slot: Slot,
    /// Receives the registration id (for removal on drop), or nothing if not registered.
    pub registered: oneshot::Sender<u64>,
}

/// Where a request's reply goes.
pub(crate) enum ReplyTo {
    /// To a caller awaiting it.
    Wait(oneshot::Sender<Result<RawReply, Error>>),
    /// To a callback run on this task when the reply is handled, in order with watch and
    /// state callbacks (see `ordered.rs`).
    Call(Box<dyn FnOnce(Result<RawReply, Error>) + Send>),
}

impl ReplyTo {
    pub(crate) fn send(self, result: Result<RawReply, Error>) {
        match self {
            ReplyTo::Wait(tx) => {
                let _ = tx.send(result);
            }
            ReplyTo::Call(callback) => callback(result),
        }
    }
}

pub(crate) enum Command {
    Request {
        request: Request,
        watch: Option<WatchRequest>,
        reply: ReplyTo,
    },
    AddAuth {
        scheme: String,
        auth: Vec<u8>,
        reply: oneshot::Sender<Result<(), Error>>,
    },
    /// A watch handle was dropped or removed.
    DropWatch {
        kind: WatchKind,
        server_path: String,
        id: u64,
    },
    Close {
        reply: oneshot::Sender<()>,
    },
}

/// A binding's state callback (see [`Client::start_with_state_callback`]): called on the
/// connection task with every state change, in order with the watch callbacks of the
/// notifications around it. It must only queue the change, never block or run user code.
///
/// [`Client::start_with_state_callback`]: super::Client::start_with_state_callback
pub type StateCallback = Box<dyn FnMut(StateEvent) + Send>;

/// Answers a command that will never be carried out with `error`.
pub(crate) fn fail_command(cmd: Command, error: &Error) {
    match cmd {
        Command::Request { reply, .. } => {
            reply.send(Err(error.clone()));
        }
        Command::AddAuth { reply, .. } => {
            let _ = reply.send(Err(error.clone()));
        }
        Command::Close { reply } => {
            let _ = reply.send(());
        }
        Command::DropWatch { .. } => {}
    }
}
