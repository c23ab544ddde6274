//! The write front end both write paths share. A write enters as a [`WriteJob`] on the write
//! queue; [`Batch::take`] drains the queue into a batch and turns every job into its txn
//! under this server's rules; the path then makes the batch durable its own way (the
//! standalone `writer` appends it to the local log, the ensemble's `quorum` proposes it
//! through raft); and every member ends in [`Commit`], which applies txns to the state under
//! one lock, fires their watches and answers whoever waits here.
//!
//! A write is outstanding (counted in `globalOutstandingLimit`) from [`Shared::submit`] until
//! its [`ReplyTo`] is consumed: answered ([`ReplyTo::answer`]), told its session exists
//! ([`ReplyTo::session_created`]) or given up on ([`ReplyTo::abandon`]).

use std::time::Instant;

use parking_lot::{MutexGuard, RwLockWriteGuard};
use tokio::sync::mpsc;

use super::conn::handle::CorkedBatch;
use super::shared::{ReplyTo, Shared, WriteJob};
use super::state::{Outcome, State};
use super::txn::{Rules, Txn, TxnBody};
use super::watch::WatchManager;
use crate::proto::{Request, Response};

/// Writes taken off the queue together, in the order they arrived: `txns[i]` is answered
/// through `replies[i]`. Txns have no zxid and no time yet; the path that logs them decides.
#[derive(Default)]
pub struct Batch {
    pub replies: Vec<ReplyTo>,
    pub txns: Vec<Txn>,
}

impl Batch {
    /// `first` and whatever else waits on `queue`, up to `max` writes.
    pub fn take(
        first: WriteJob,
        queue: &mut mpsc::UnboundedReceiver<WriteJob>,
        max: usize,
        rules: Rules,
    ) -> Batch {
        let mut batch = Batch::default();
        batch.push(first, rules);
        while batch.len() < max {
            match queue.try_recv() {
                Ok(job) => batch.push(job, rules),
                Err(_) => break,
            }
        }
        batch
    }

    fn push(&mut self, job: WriteJob, rules: Rules) {
        self.txns.push(Txn {
            zxid: 0,
            time: 0,
            session_id: job.session_id,
            rules,
            body: job.body,
        });
        self.replies.push(job.reply);
    }

    pub fn len(&self) -> usize {
        self.txns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.txns.is_empty()
    }

    /// The first `n` writes, leaving the rest in `self`.
    pub fn split_front(&mut self, n: usize) -> Batch {
        let n = n.min(self.len());
        Batch {
            replies: self.replies.drain(..n).collect(),
            txns: self.txns.drain(..n).collect(),
        }
    }
}

/// The path of a sync barrier (an ensemble's `sync`, which is logged but changes nothing).
pub fn sync_barrier(txn: &Txn) -> Option<&str> {
    match &txn.body {
        TxnBody::Write {
            request: Request::Sync(req),
            ..
        } => Some(&req.path),
        _ => None,
    }
}

/// Durable txns being applied, in order, under the state's write lock (taken once for all of
/// them) and the watch manager's; the replies of the connections answered leave together
/// when it finishes.
pub struct Commit<'a> {
    shared: &'a Shared,
    state: RwLockWriteGuard<'a, State>,
    watches: MutexGuard<'a, WatchManager>,
    corked: CorkedBatch,
    closed_sessions: Vec<i64>,
}

impl<'a> Commit<'a> {
    pub fn begin(shared: &'a Shared) -> Commit<'a> {
        let state = shared.write_state();
        let watches = shared.watches();
        Commit {
            shared,
            state,
            watches,
            corked: CorkedBatch::default(),
            closed_sessions: Vec::new(),
        }
    }

    /// The state as the txns applied so far left it.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Applies `txn`, fires its watches and answers `reply`; `None` marks a txn proposed by
    /// another ensemble member: nobody here waits for it.
    pub fn apply(&mut self, reply: Option<ReplyTo>, txn: &Txn) {
        let shared = self.shared;
        if let Some(path) = sync_barrier(txn) {
            // An ensemble's sync: everything before it is applied; nothing changes.
            if let Some(reply) = reply {
                let response = Ok(Response::Sync {
                    path: path.to_owned(),
                });
                let zxid = self.state.last_zxid;
                reply.answer(shared, zxid, &response, Some(&mut self.corked));
            }
            return;
        }
        let applied = self.state.apply(txn);
        for trigger in &applied.triggers {
            self.watches
                .trigger(trigger, applied.zxid, shared.opts.acl.skip_acl);
        }
        let result = match applied.outcome {
            created @ Outcome::SessionCreated {
                session_id,
                timeout,
                ..
            } => {
                shared
                    .tracker()
                    .register(session_id, timeout, Instant::now());
                if let Some(reply) = reply {
                    reply.session_created(shared, created);
                }
                return;
            }
            Outcome::SessionClosed { session_id } => {
                self.closed_sessions.push(session_id);
                Ok(Response::Empty)
            }
            Outcome::Reply(result) => result,
        };
        if let Some(reply) = reply {
            reply.answer(shared, applied.zxid, &result, Some(&mut self.corked));
        }
    }

    /// Releases the locks, sends the batch's replies and closes the connections of the
    /// sessions that ended.
    pub fn finish(self) {
        let Commit {
            shared,
            state,
            watches,
            corked,
            closed_sessions,
        } = self;
        drop(watches);
        drop(state);
        drop(corked);
        for session_id in closed_sessions {
            let owner = {
                let mut tracker = shared.tracker();
                let owner = tracker.owner(session_id);
                tracker.remove(session_id);
                owner
            };
            if let Some(conn) = owner.and_then(|id| shared.conn(id)) {
                conn.close();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    use tokio::io::AsyncReadExt;
    use tokio::net::{TcpListener, TcpStream};
    use tokio::sync::oneshot;

    use super::*;
    use crate::proto::{Acl, CreateKind, CreateRequest, ErrorCode, PathRequest, SetDataRequest};
    use crate::server::conn::handle::Conn;
    use crate::server::options::ServerOptions;
    use crate::server::sessions::SessionTracker;

    const SESSION: i64 = 0x100;

    fn server() -> (Shared, mpsc::UnboundedReceiver<WriteJob>) {
        let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let opts = ServerOptions::standalone(addr, "/nonexistent/zk-front-test".into());
        let (writes, queue) = mpsc::unbounded_channel();
        let shared = Shared::new(
            opts,
            State::default(),
            SessionTracker::default(),
            addr,
            writes,
            1,
        );
        (shared, queue)
    }

    fn outstanding(shared: &Shared) -> i64 {
        shared.stats.outstanding.load(Ordering::Relaxed)
    }

    fn write(request: Request) -> TxnBody {
        TxnBody::Write {
            auth: Vec::new(),
            request,
        }
    }

    fn create(path: &str) -> TxnBody {
        write(Request::Create(
            CreateKind::Create,
            CreateRequest {
                path: path.to_owned(),
                data: Some(b"x".to_vec()),
                acl: Acl::open_unsafe(),
                flags: 0,
            },
        ))
    }

    /// A connection whose replies the returned stream reads, as its client would.
    async fn connection(id: u64) -> (Arc<Conn>, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (accepted, peer) = listener.accept().await.unwrap();
        let (_, writer) = accepted.into_split();
        let limits = ServerOptions::standalone(peer, "/nonexistent".into()).limits;
        let (conn, _task) = Conn::open(
            id,
            peer,
            writer,
            Vec::new(),
            &limits,
            Arc::new(AtomicU64::new(0)),
        );
        (conn, client)
    }

    /// The next reply's header: xid, zxid, error code.
    async fn next_reply(client: &mut TcpStream) -> (i32, i64, i32) {
        let len = client.read_i32().await.unwrap();
        let mut frame = vec![0; len as usize];
        client.read_exact(&mut frame).await.unwrap();
        let xid = i32::from_be_bytes(frame[0..4].try_into().unwrap());
        let zxid = i64::from_be_bytes(frame[4..12].try_into().unwrap());
        let err = i32::from_be_bytes(frame[12..16].try_into().unwrap());
        (xid, zxid, err)
    }

    #[test]
    fn a_batch_takes_what_waits_up_to_its_limit_in_arrival_order() {
        let (shared, mut queue) = server();
        for i in 0..5 {
            shared.submit(WriteJob {
                session_id: SESSION + i,
                body: create(&format!("/n{i}")),
                reply: ReplyTo::Nobody,
            });
        }
        let rules = Rules {
            extended_types: true,
            ..Rules::default()
        };
        let first = queue.try_recv().unwrap();
        let mut batch = Batch::take(first, &mut queue, 3, rules);
        let sessions: Vec<i64> = batch.txns.iter().map(|t| t.session_id).collect();
        assert_eq!(sessions, [SESSION, SESSION + 1, SESSION + 2]);
        assert_eq!(batch.replies.len(), 3);
        assert!(batch
            .txns
            .iter()
            .all(|t| t.rules == rules && t.zxid == 0 && t.time == 0));

        let front = batch.split_front(2);
        assert_eq!(front.len(), 2);
        assert_eq!(batch.txns[0].session_id, SESSION + 2);

        let first = queue.try_recv().unwrap();
        let rest = Batch::take(first, &mut queue, 3, rules);
        let sessions: Vec<i64> = rest.txns.iter().map(|t| t.session_id).collect();
        assert_eq!(sessions, [SESSION + 3, SESSION + 4]);
        assert_eq!(outstanding(&shared), 5);
    }

    #[tokio::test]
    async fn a_commit_answers_every_write_once_in_order_and_leaves_none_outstanding() {
        let (shared, _queue) = server();
        let (conn, mut client) = connection(7).await;
        let (handshake, created) = oneshot::channel();
        let passwd = vec![7u8; 16];
        // Each row: the txn's session and body, who waits for it (an xid on the connection,
        // the handshake, or nobody), and the error code its reply must carry.
        let rows: Vec<(i64, TxnBody, Option<i32>, i32)> = vec![
            (
                SESSION,
                TxnBody::CreateSession {
                    timeout: 30_000,
                    passwd: passwd.clone(),
                },
                None,
                0,
            ),
            (SESSION, create("/a"), Some(1), 0),
            (
                SESSION,
                create("/a"),
                Some(2),
                ErrorCode::NodeExists.as_i32(),
            ),
            (
                SESSION,
                write(Request::SetData(SetDataRequest {
                    path: "/missing".into(),
                    data: Some(Vec::new()),
                    version: -1,
                })),
                Some(3),
                ErrorCode::NoNode.as_i32(),
            ),
            (SESSION, create("/b"), None, 0),
            (
                SESSION,
                write(Request::Sync(PathRequest { path: "/a".into() })),
                Some(4),
                0,
            ),
            (SESSION, TxnBody::CloseSession, Some(5), 0),
        ];
        let mut handshake = Some(handshake);
        let mut zxid = 0;
        let mut expected = Vec::new();
        let mut commit = Commit::begin(&shared);
        for (session_id, body, xid, err) in rows {
            let is_sync = sync_barrier(&Txn {
                zxid: 0,
                time: 0,
                session_id,
                rules: Rules::default(),
                body: body.clone(),
            })
            .is_some();
            if !is_sync {
                zxid += 1;
            }
            let reply = match (xid, &body) {
                (Some(xid), _) => {
                    conn.write_started(1);
                    expected.push((xid, zxid, err));
                    ReplyTo::Conn {
                        conn: conn.clone(),
                        xid,
                        received: Instant::now(),
                    }
                }
                (None, TxnBody::CreateSession { .. }) => {
                    ReplyTo::Handshake(handshake.take().unwrap())
                }
                (None, _) => ReplyTo::Nobody,
            };
            shared.stats.outstanding.fetch_add(1, Ordering::Relaxed);
            let txn = Txn {
                zxid,
                time: 1_000,
                session_id,
                rules: Rules::default(),
                body,
            };
            commit.apply(Some(reply), &txn);
        }
        assert!(commit.state().tree.contains("/b"));
        commit.finish();

        assert_eq!(outstanding(&shared), 0);
        match created.await.unwrap() {
            Outcome::SessionCreated {
                session_id,
                timeout,
                passwd: given,
            } => assert_eq!((session_id, timeout, given), (SESSION, 30_000, passwd)),
            other => panic!("the handshake got {other:?}"),
        }
        for want in expected {
            assert_eq!(next_reply(&mut client).await, want);
        }
        assert!(!shared.read_state().sessions.contains_key(&SESSION));
    }

    #[test]
    fn another_members_txn_is_applied_with_nobody_to_answer() {
        let (shared, _queue) = server();
        let mut commit = Commit::begin(&shared);
        let bodies = [
            TxnBody::CreateSession {
                timeout: 30_000,
                passwd: vec![1; 16],
            },
            create("/from-the-leader"),
        ];
        for (zxid, body) in (1..).zip(bodies) {
            let txn = Txn {
                zxid,
                time: 1_000,
                session_id: SESSION,
                rules: Rules::default(),
                body,
            };
            commit.apply(None, &txn);
        }
        commit.finish();
        let state = shared.read_state();
        assert!(state.tree.contains("/from-the-leader"));
        assert_eq!(state.last_zxid, 2);
        assert!(shared.tracker().is_live(SESSION));
        assert_eq!(outstanding(&shared), 0);
    }
}
