//! Watches and state changes handed to callbacks in the order they happen, for bindings
//! that keep one ordered event queue per client (Apache's Java client delivers every
//! watch event and state change on one thread, in the order the server sent them).
//!
//! [`Watch`](super::Watch) handles resolve independently, so events of two handles can
//! be seen in either order. A callback registered here instead runs on the connection
//! task itself, when the notification is handled: a binding that only queues the event
//! (for its [`Dispatcher`](super::dispatch::Dispatcher)) so sees every event and state
//! change in arrival order, and knows which of its callbacks one notification fired
//! (they share its number).

use std::time::Duration;

use tokio::sync::oneshot;

use super::command::{Command, ReplyTo, StateCallback, WatchRequest};
use super::connect_string::check_path;
use super::error::{Error, Result};
use super::event::StateEvent;
use super::handle::{children_of, nullable_data_of, response_of, stat_or_none, unexpected, Client};
use super::multi::{Op, OpResult, ReadOp, ReadResult};
use super::options::ClientOptions;
use super::watches::{Slot, WatchCallback, WatchKind};
use crate::proto::{
    Acl, AddWatchMode, AddWatchRequest, ClientInfo, CreateKind, CreateMode, CreateRequest,
    DeleteRequest, ErrorCode, PathRequest, PathWatchRequest, Request, Response, SetAclRequest,
    SetDataRequest, Stat,
};

/// A read that leaves a one-shot watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchedRead<'a> {
    /// `exists`: a data watch on an existing node, an exist watch on a missing one.
    Exists(&'a str),
    /// `getData`: a data watch (fires on change or delete).
    GetData(&'a str),
    /// `getChildren`: a child watch (fires on a child created or deleted, or on delete).
    GetChildren(&'a str),
}

/// What a [`WatchedRead`] returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadReply {
    Exists(Option<Stat>),
    /// Data (`None` for null data) and Stat.
    Data(Option<Vec<u8>>, Stat),
    /// Children and the parent's Stat.
    Children(Vec<String>, Stat),
}

/// A watch set with a callback. Plain data: dropping it leaves the watch in place until it
/// fires or the session ends; [`Client::remove_watch`] removes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchRegistration {
    kind: WatchKind,
    server_path: String,
    id: u64,
}

impl WatchRegistration {
    /// Which table the watch is in (an `exists` on a missing node gives
    /// [`WatchKind::Exist`]).
    pub fn kind(&self) -> WatchKind {
        self.kind
    }

    /// Unique among this client's registrations.
    pub fn id(&self) -> u64 {
        self.id
    }
}

/// An operation for [`Client::call_ordered`], with the arguments of the matching
/// [`Client`] method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// Any create mode; `data` may be null; `ttl` makes a TTL node.
    Create {
        path: String,
        data: Option<Vec<u8>>,
        acl: Vec<Acl>,
        mode: CreateMode,
        ttl: Option<Duration>,
    },
    Delete {
        path: String,
        version: i32,
    },
    Exists(String),
    GetData(String),
    SetData {
        path: String,
        data: Vec<u8>,
        version: i32,
    },
    GetAcl(String),
    SetAcl {
        path: String,
        acl: Vec<Acl>,
        version: i32,
    },
    /// Children with the parent's Stat.
    GetChildren(String),
    Sync(String),
    Multi(Vec<Op>),
    /// This session's ephemeral nodes under a path prefix.
    GetEphemerals(String),
    GetAllChildrenNumber(String),
    /// A persistent watch; needs the watch callback.
    AddWatch {
        path: String,
        mode: AddWatchMode,
    },
    /// Reads in one round trip; each succeeds or fails on its own.
    MultiRead(Vec<ReadOp>),
    /// The identities the server associates with this session.
    WhoAmI,
}

/// What a [`Call`] returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The created path (chroot stripped, with any sequence suffix) and its Stat.
    Created(String, Stat),
    /// Delete, sync and add-watch.
    Done,
    Exists(Option<Stat>),
    /// Data (`None` for null data) and Stat.
    Data(Option<Vec<u8>>, Stat),
    /// The Stat after a setData or setACL.
    Stat(Stat),
    Acl(Vec<Acl>, Stat),
    /// Children and the parent's Stat.
    Children(Vec<String>, Stat),
    Multi(Vec<OpResult>),
    MultiRead(Vec<Result<ReadResult>>),
    Paths(Vec<String>),
    Count(i32),
    WhoAmI(Vec<ClientInfo>),
}

/// Receives a [`Call`]'s reply and the watch it registered (see [`Client::call_ordered`]).
pub type ReplyCallback = Box<dyn FnOnce(Result<Reply>, Option<WatchRegistration>) + Send>;

impl Client {
    /// Sends `call` and hands its reply to `done` on the connection task, in the order
    /// replies, watch events and state changes arrive from the server, as Apache's client
    /// dispatches them (a reply that arrived before a notification is handed over before
    /// that notification's watch callbacks). `done` must only queue the reply. A call
    /// refused before sending (bad arguments, session ended) calls `done` at once on the
    /// caller's thread.
    ///
    /// `watch` sets a watch with a callback (see [`Client::read_with_watch`]) on
    /// `Exists`, `GetData` and `GetChildren`, and is required by `AddWatch`; other calls
    /// ignore it.
    pub fn call_ordered(&self, call: Call, watch: Option<WatchCallback>, done: ReplyCallback) {
        let Prepared {
            request,
            kind,
            decode,
        } = match self.ordered_request(call, watch.is_some()) {
            Ok(prepared) => prepared,
            Err(e) => return done(Err(e), None),
        };
        let op = request.op_code();
        let server_path = request_path(&request);
        let (watch, registered) = match (watch, kind) {
            (Some(callback), Some(kind)) => {
                let (registered, id) = oneshot::channel();
                let request = WatchRequest {
                    kind,
                    slot: Slot::Call(callback),
                    registered,
                };
                (Some(request), Some((kind, id)))
            }
            _ => (None, None),
        };
        let client = self.clone();
        let reply = ReplyTo::Call(Box::new(move |raw| {
            let result = raw.and_then(|raw| response_of(op, raw));
            // The connection task registered the watch just before handing over the reply.
            let registration = registered.and_then(|(kind, mut id)| {
                let id = id.try_recv().ok()?;
                let exist = matches!(result, Err(Error::Server(ErrorCode::NoNode)));
                Some(WatchRegistration {
                    kind: if exist { WatchKind::Exist } else { kind },
                    server_path: server_path.unwrap_or_default(),
                    id,
                })
            });
            done(decode(&client, result), registration);
        }));
        let _ = self.send(Command::Request {
            request,
            watch,
            reply,
        });
    }

    fn ordered_request(&self, call: Call, watch: bool) -> Result<Prepared> {
        let path_watch = |path: &str| -> Result<PathWatchRequest> {
            check_path(path, false)?;
            Ok(PathWatchRequest {
                path: self.server_path(path),
                watch,
            })
        };
        let plain = |path: &str| -> Result<PathRequest> {
            check_path(path, false)?;
            Ok(PathRequest {
                path: self.server_path(path),
            })
        };
        let data_watch = watch.then_some(WatchKind::Data);
        Ok(match call {
            Call::Create {
                path,
                data,
                acl,
                mode,
                ttl,
            } => {
                check_path(&path, mode.is_sequential())?;
                let kind = match ttl {
                    Some(ttl) => {
                        CreateKind::Ttl(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX))
                    }
                    None if mode.is_container() => CreateKind::Container,
                    None => CreateKind::Create2,
                };
                let request = CreateRequest {
                    path: self.server_path(&path),
                    data,
                    acl,
                    flags: mode.as_i32(),
                };
                Prepared::new(Request::Create(kind, request), None, |client, r| {
                    let (path, stat) = client.created(r?)?;
                    Ok(Reply::Created(path, stat))
                })
            }
            Call::Delete { path, version } => {
                check_path(&path, false)?;
                let request = DeleteRequest {
                    path: self.server_path(&path),
                    version,
                };
                Prepared::new(Request::Delete(request), None, |_, r| {
                    r.map(|_| Reply::Done)
                })
            }
            Call::Exists(path) => {
                Prepared::new(Request::Exists(path_watch(&path)?), data_watch, |_, r| {
                    stat_or_none(r).map(Reply::Exists)
                })
            }
            Call::GetData(path) => {
                Prepared::new(Request::GetData(path_watch(&path)?), data_watch, |_, r| {
                    nullable_data_of(r?).map(|(data, stat)| Reply::Data(data, stat))
                })
            }
            Call::SetData {
                path,
                data,
                version,
            } => {
                check_path(&path, false)?;
                let request = SetDataRequest {
                    path: self.server_path(&path),
                    data: Some(data),
                    version,
                };
                Prepared::new(Request::SetData(request), None, |_, r| stat_of(r?))
            }
            Call::GetAcl(path) => {
                Prepared::new(Request::GetAcl(plain(&path)?), None, |_, r| match r? {
                    Response::GetAcl { acl, stat } => Ok(Reply::Acl(acl, stat)),
                    other => Err(unexpected(other)),
                })
            }
            Call::SetAcl { path, acl, version } => {
                check_path(&path, false)?;
                let request = SetAclRequest {
                    path: self.server_path(&path),
                    acl,
                    version,
                };
                Prepared::new(Request::SetAcl(request), None, |_, r| stat_of(r?))
            }
            Call::GetChildren(path) => Prepared::new(
                Request::GetChildren2(path_watch(&path)?),
                watch.then_some(WatchKind::Child),
                |_, r| children_of(r?).map(|(children, stat)| Reply::Children(children, stat)),
            ),
            Call::Sync(path) => Prepared::new(Request::Sync(plain(&path)?), None, |_, r| {
                r.map(|_| Reply::Done)
            }),
            Call::Multi(ops) if ops.is_empty() => {
                return Err(Error::BadArguments("a multi needs at least one op".into()))
            }
            Call::Multi(ops) => {
                let (request, paths) = self.multi_request(ops)?;
                Prepared::new(request, None, move |client, r| {
                    client.multi_outcome(&paths, r?).map(Reply::Multi)
                })
            }
            Call::GetEphemerals(prefix) => {
                let request = PathRequest {
                    path: self.server_path(&prefix),
                };
                Prepared::new(
                    Request::GetEphemerals(request),
                    None,
                    |client, r| match r? {
                        Response::Paths(paths) => Ok(Reply::Paths(
                            paths.iter().map(|p| client.client_path(p)).collect(),
                        )),
                        other => Err(unexpected(other)),
                    },
                )
            }
            Call::GetAllChildrenNumber(path) => Prepared::new(
                Request::GetAllChildrenNumber(plain(&path)?),
                None,
                |_, r| match r? {
                    Response::Count(n) => Ok(Reply::Count(n)),
                    other => Err(unexpected(other)),
                },
            ),
            Call::MultiRead(ops) => {
                let wire = ops
                    .iter()
                    .map(|op| op.to_wire(self.connect_string()))
                    .collect::<Result<Vec<_>>>()?;
                Prepared::new(Request::MultiRead(wire), None, |_, r| match r? {
                    Response::Multi(results) => Ok(Reply::MultiRead(
                        results.into_iter().map(ReadResult::from_wire).collect(),
                    )),
                    other => Err(unexpected(other)),
                })
            }
            Call::WhoAmI => Prepared::new(Request::WhoAmI, None, |_, r| match r? {
                Response::WhoAmI(infos) => Ok(Reply::WhoAmI(infos)),
                other => Err(unexpected(other)),
            }),
            Call::AddWatch { path, mode } => {
                if !watch {
                    return Err(Error::BadArguments(
                        "addWatch needs a watch callback".into(),
                    ));
                }
                check_path(&path, false)?;
                let kind = match mode {
                    AddWatchMode::Persistent => WatchKind::Persistent,
                    AddWatchMode::PersistentRecursive => WatchKind::PersistentRecursive,
                };
                let request = AddWatchRequest {
                    path: self.server_path(&path),
                    mode: mode.as_i32(),
                };
                Prepared::new(Request::AddWatch(request), Some(kind), |_, r| {
                    r.map(|_| Reply::Done)
                })
            }
        })
    }

    /// Starts like [`Client::start`]; every state change is also handed to `on_state` on
    /// the connection task, in order with the callbacks of [`Client::read_with_watch`]
    /// and [`Client::add_watch_with`]. `on_state` must only queue the change.
    pub fn start_with_state_callback(
        connect_string: &str,
        options: ClientOptions,
        on_state: impl FnMut(StateEvent) + Send + 'static,
    ) -> Result<Client> {
        let on_state: StateCallback = Box::new(on_state);
        Client::start_actor(connect_string, options, Some(on_state))
    }

    /// A read that leaves a one-shot watch whose event goes to `callback` (see
    /// [`WatchCallback`]). The registration is `None` when the read failed and so set no
    /// watch; `callback` is then dropped unused. When the session ends first, `callback`
    /// gets the session event (`Expired` or `Closed`).
    pub async fn read_with_watch(
        &self,
        read: WatchedRead<'_>,
        callback: WatchCallback,
    ) -> (Result<ReadReply>, Option<WatchRegistration>) {
        let (path, kind) = match read {
            WatchedRead::Exists(path) | WatchedRead::GetData(path) => (path, WatchKind::Data),
            WatchedRead::GetChildren(path) => (path, WatchKind::Child),
        };
        if let Err(e) = check_path(path, false) {
            return (Err(e), None);
        }
        let server_path = self.server_path(path);
        let watched = PathWatchRequest {
            path: server_path.clone(),
            watch: true,
        };
        let request = match read {
            WatchedRead::Exists(_) => Request::Exists(watched),
            WatchedRead::GetData(_) => Request::GetData(watched),
            WatchedRead::GetChildren(_) => Request::GetChildren2(watched),
        };
        let (registered, id) = oneshot::channel();
        let watch = WatchRequest {
            kind,
            slot: Slot::Call(callback),
            registered,
        };
        let result = self.call_with(request, Some(watch)).await;
        let registration = id.await.ok().map(|id| WatchRegistration {
            // exists on a missing node registers an exist watch instead of a data watch.
            kind: if matches!(result, Err(Error::Server(ErrorCode::NoNode))) {
                WatchKind::Exist
            } else {
                kind
            },
            server_path,
            id,
        });
        let reply = match read {
            WatchedRead::Exists(_) => stat_or_none(result).map(ReadReply::Exists),
            WatchedRead::GetData(_) => {
                result.and_then(|r| nullable_data_of(r).map(|(d, s)| ReadReply::Data(d, s)))
            }
            WatchedRead::GetChildren(_) => {
                result.and_then(|r| children_of(r).map(|(c, s)| ReadReply::Children(c, s)))
            }
        };
        (reply, registration)
    }

    /// A persistent (or persistent-recursive) watch whose events go to `callback`, until
    /// removed with [`Client::remove_watch`] or the session ends. Like a
    /// [`PersistentWatch`](super::PersistentWatch), it is also told `Disconnected` and
    /// `SyncConnected`.
    pub async fn add_watch_with(
        &self,
        path: &str,
        mode: AddWatchMode,
        callback: WatchCallback,
    ) -> Result<WatchRegistration> {
        check_path(path, false)?;
        let kind = match mode {
            AddWatchMode::Persistent => WatchKind::Persistent,
            AddWatchMode::PersistentRecursive => WatchKind::PersistentRecursive,
        };
        let server_path = self.server_path(path);
        let request = Request::AddWatch(AddWatchRequest {
            path: server_path.clone(),
            mode: mode.as_i32(),
        });
        let (registered, id) = oneshot::channel();
        let watch = WatchRequest {
            kind,
            slot: Slot::Call(callback),
            registered,
        };
        self.call_with(request, Some(watch)).await?;
        let id = id.await.map_err(|_| Error::ConnectionLoss)?;
        Ok(WatchRegistration {
            kind,
            server_path,
            id,
        })
    }

    /// Adds credentials like [`Client::add_auth`] without waiting for the server: requests
    /// made afterwards are sent after them. A refused credential ends the session
    /// (`AuthFailed`), which the state callback reports.
    pub fn queue_auth(&self, scheme: &str, auth: &[u8]) -> Result<()> {
        let (reply, _) = oneshot::channel();
        self.send(Command::AddAuth {
            scheme: scheme.to_owned(),
            auth: auth.to_vec(),
            reply,
        })
    }

    /// Removes a watch set with a callback; its callback is dropped without being called.
    /// When no other watch of its kind is left on the path, the server's is removed too
    /// (removeWatches). A watch that already fired is left alone.
    pub fn remove_watch(&self, registration: &WatchRegistration) {
        let _ = self.send(Command::DropWatch {
            kind: registration.kind,
            server_path: registration.server_path.clone(),
            id: registration.id,
        });
    }
}

type Decode = Box<dyn FnOnce(&Client, Result<Response>) -> Result<Reply> + Send>;

/// A [`Call`] turned into its request, the kind of watch it may set, and its decoder.
struct Prepared {
    request: Request,
    kind: Option<WatchKind>,
    decode: Decode,
}

impl Prepared {
    fn new(
        request: Request,
        kind: Option<WatchKind>,
        decode: impl FnOnce(&Client, Result<Response>) -> Result<Reply> + Send + 'static,
    ) -> Prepared {
        Prepared {
            request,
            kind,
            decode: Box::new(decode),
        }
    }
}

fn stat_of(response: Response) -> Result<Reply> {
    match response {
        Response::Stat(stat) => Ok(Reply::Stat(stat)),
        other => Err(unexpected(other)),
    }
}

/// The server path a watch-setting request names.
fn request_path(request: &Request) -> Option<String> {
    match request {
        Request::Exists(p) | Request::GetData(p) | Request::GetChildren2(p) => Some(p.path.clone()),
        Request::AddWatch(a) => Some(a.path.clone()),
        _ => None,
    }
}
