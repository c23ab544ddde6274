//! Requests answered from this server's tree without going through the log: reads,
//! watch registration and removal, SetWatches after a reconnect, whoAmI.

use std::sync::Arc;

use crate::proto::{
    perms, AddWatchMode, ErrorCode, EventType, MultiOp, MultiResult, Request, Response, SetWatches,
    WatcherType,
};

use super::acl;
use super::conn::handle::Conn;
use super::shared::Shared;
use super::state::State;
use super::tree::{Meta, NodeRef};
use super::watch::{WatchKind, WatchManager, WatchSink};

/// Runs a read-side request and queues its reply on `conn`, both under the state's read
/// lock. A commit that fires a watch this read registers takes the write lock, so its
/// notification is queued after this reply: the client learns of the watch before its event
/// (Apache's single request pipeline gives the same order). Queued after the lock was
/// released, the reply could follow the event, which a client drops as unknown, and the watch
/// would never fire.
pub fn answer(shared: &Shared, conn: &Arc<Conn>, xid: i32, request: &Request) {
    let state = shared.read_state();
    let zxid = state.last_zxid;
    let ctx = ReadCtx {
        shared,
        state: &state,
        conn,
    };
    let result = ctx.run(request);
    conn.reply(xid, zxid, &result);
}

struct ReadCtx<'a> {
    shared: &'a Shared,
    state: &'a State,
    conn: &'a Arc<Conn>,
}

impl ReadCtx<'_> {
    fn run(&self, request: &Request) -> Result<Response, ErrorCode> {
        match request {
            Request::Ping => Ok(Response::Empty),
            Request::Exists(req) => {
                if let Some(node) = self.state.tree.get(&req.path) {
                    self.check(&node, perms::READ)?;
                }
                if req.watch {
                    self.watch(WatchKind::Data, &req.path)?;
                }
                Ok(Response::Stat(self.node(&req.path)?.stat()))
            }
            Request::GetData(req) => {
                let node = self.readable(&req.path)?;
                if req.watch {
                    self.watch(WatchKind::Data, &req.path)?;
                }
                Ok(Response::GetData {
                    data: node.data().map(<[u8]>::to_vec),
                    stat: node.stat(),
                })
            }
            Request::GetChildren(req) | Request::GetChildren2(req) => {
                let node = self.readable(&req.path)?;
                if req.watch {
                    self.watch(WatchKind::Child, &req.path)?;
                }
                let children = node.sorted_child_names();
                Ok(match request {
                    Request::GetChildren(_) => Response::Children(children),
                    _ => Response::Children2 {
                        children,
                        stat: node.stat(),
                    },
                })
            }
            Request::GetAcl(req) => {
                let node = self.node(&req.path)?;
                self.check(&node, perms::READ | perms::ADMIN)?;
                let acl = self.state.tree.acl_of(&node);
                let acl = match self.check(&node, perms::ADMIN) {
                    Ok(()) => acl.to_vec(),
                    Err(_) => acl::mask_digests(&acl),
                };
                Ok(Response::GetAcl {
                    acl,
                    stat: node.stat(),
                })
            }
            Request::Sync(req) => Ok(Response::Sync {
                path: req.path.clone(),
            }),
            Request::MultiRead(ops) => self.multi_read_all(ops),
            Request::GetAllChildrenNumber(req) => {
                self.readable(&req.path)?;
                let count = self.state.tree.descendant_count(&req.path);
                Ok(Response::Count(i32::try_from(count).unwrap_or(i32::MAX)))
            }
            Request::GetEphemerals(req) => {
                let prefix = req.path.as_str();
                let all = prefix.is_empty() || prefix == "/";
                let paths = self
                    .state
                    .sessions
                    .get(&self.conn.session())
                    .map(|s| {
                        s.ephemerals
                            .iter()
                            .filter(|p| all || p.starts_with(prefix))
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default();
                Ok(Response::Paths(paths))
            }
            Request::WhoAmI => Ok(Response::WhoAmI(acl::client_infos(&self.conn.auth()))),
            Request::AddWatch(req) => {
                let kind = match AddWatchMode::from_i32(req.mode) {
                    Some(AddWatchMode::Persistent) => WatchKind::Persistent,
                    Some(AddWatchMode::PersistentRecursive) => WatchKind::PersistentRecursive,
                    None => return Err(ErrorCode::BadArguments),
                };
                self.watch(kind, &req.path)?;
                Ok(Response::ErrorResponse(0))
            }
            Request::CheckWatches(req) | Request::RemoveWatches(req) => {
                let kind =
                    WatcherType::from_i32(req.watcher_type).ok_or(ErrorCode::BadArguments)?;
                let remove = matches!(request, Request::RemoveWatches(_));
                if self
                    .shared
                    .watches()
                    .find(self.conn.id, &req.path, kind, remove)
                {
                    Ok(Response::Empty)
                } else {
                    Err(ErrorCode::NoWatcher)
                }
            }
            Request::SetWatches(sw) | Request::SetWatches2(sw) => {
                self.set_watches(sw)?;
                Ok(Response::Empty)
            }
            Request::Sasl(_) => Err(ErrorCode::AuthFailed),
            _ => Err(ErrorCode::Unimplemented),
        }
    }

    fn node(&self, path: &str) -> Result<NodeRef<'_>, ErrorCode> {
        self.state.tree.get(path).ok_or(ErrorCode::NoNode)
    }

    fn readable(&self, path: &str) -> Result<NodeRef<'_>, ErrorCode> {
        let node = self.node(path)?;
        self.check(&node, perms::READ)?;
        Ok(node)
    }

    fn check(&self, node: &Meta, perm: i32) -> Result<(), ErrorCode> {
        acl::check(
            self.shared.opts.acl.skip_acl,
            &self.state.tree.acl_of(node),
            perm,
            &self.conn.auth(),
        )
    }

    fn sink(&self) -> Arc<dyn WatchSink> {
        self.conn.clone()
    }

    fn watch(&self, kind: WatchKind, path: &str) -> Result<(), ErrorCode> {
        self.shared
            .watches()
            .add(self.conn.id, &self.sink(), kind, path)
            .map_err(refuse_watch)
    }

    /// A multiRead's results, given up as soon as they add up to more than a reply may
    /// carry: a request of a few KiB naming one large node many times must not make the
    /// server build a reply of gigabytes.
    fn multi_read_all(&self, ops: &[MultiOp]) -> Result<Response, ErrorCode> {
        let limit = self.shared.opts.limits.reply_bytes;
        let mut size = 0usize;
        let mut results = Vec::with_capacity(ops.len().min(1024));
        for op in ops {
            let result = self.multi_read(op);
            size += match &result {
                MultiResult::GetData { data, .. } => 96 + data.as_ref().map_or(0, Vec::len),
                MultiResult::GetChildren(names) => {
                    16 + names.iter().map(|n| n.len() + 4).sum::<usize>()
                }
                _ => 16,
            };
            if size > limit {
                tracing::warn!(
                    peer = %self.conn.peer,
                    "a multiRead of {} ops would answer more than {limit} bytes (jute.maxbuffer); answering BADARGUMENTS",
                    ops.len()
                );
                return Err(ErrorCode::BadArguments);
            }
            results.push(result);
        }
        Ok(Response::Multi(results))
    }

    fn multi_read(&self, op: &MultiOp) -> MultiResult {
        let result = match op {
            MultiOp::GetChildren(req) => self
                .readable(&req.path)
                .map(|node| MultiResult::GetChildren(node.sorted_child_names())),
            MultiOp::GetData(req) => self.readable(&req.path).map(|node| MultiResult::GetData {
                data: node.data().map(<[u8]>::to_vec),
                stat: node.stat(),
            }),
            _ => Err(ErrorCode::BadArguments),
        };
        result.unwrap_or_else(|code| MultiResult::Error(code.as_i32()))
    }

    /// Re-registers a reconnecting client's watches, firing at once those whose node
    /// changed since `relative_zxid` (`DataTree.setWatches`).
    /// Watches past the connection's limit are not registered and the whole request is
    /// answered BADARGUMENTS.
    fn set_watches(&self, sw: &SetWatches) -> Result<(), ErrorCode> {
        let sink = self.sink();
        let tree = &self.state.tree;
        let zxid = self.state.last_zxid;
        let mut watches = self.shared.watches();
        let id = self.conn.id;
        let register =
            |w: &mut WatchManager, kind, p: &str| w.add(id, &sink, kind, p).map_err(refuse_watch);
        for p in &sw.data_watches {
            match tree.get(p) {
                None => sink.notify(zxid, EventType::NodeDeleted, p),
                Some(n) if n.mzxid > sw.relative_zxid => {
                    sink.notify(zxid, EventType::NodeDataChanged, p)
                }
                Some(_) => register(&mut watches, WatchKind::Data, p)?,
            }
        }
        for p in &sw.exist_watches {
            if tree.contains(p) {
                sink.notify(zxid, EventType::NodeCreated, p);
            } else {
                register(&mut watches, WatchKind::Data, p)?;
            }
        }
        for p in &sw.child_watches {
            match tree.get(p) {
                None => sink.notify(zxid, EventType::NodeDeleted, p),
                Some(n) if n.pzxid > sw.relative_zxid => {
                    sink.notify(zxid, EventType::NodeChildrenChanged, p)
                }
                Some(_) => register(&mut watches, WatchKind::Child, p)?,
            }
        }
        for p in &sw.persistent_watches {
            register(&mut watches, WatchKind::Persistent, p)?;
        }
        for p in &sw.persistent_recursive_watches {
            register(&mut watches, WatchKind::PersistentRecursive, p)?;
        }
        Ok(())
    }
}

fn refuse_watch(e: super::watch::TooManyWatches) -> ErrorCode {
    tracing::warn!("refusing a watch: {e} (maxWatchesPerSession)");
    ErrorCode::BadArguments
}
