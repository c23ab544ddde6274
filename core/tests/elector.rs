//! Hadoop's ActiveStandbyElector (`zk_core::recipes::elector`) against an in-process
//! zk-server, each elector behind a fault-injecting proxy the test controls: stall its
//! connection until its session expires, or let a create reach the server and lose the
//! reply. Every wait has a deadline.

mod common;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use zk_core::client::dispatch::Dispatcher;
use zk_core::client::{Client, ClientOptions, Error};
use zk_core::proto::{Acl, CreateMode, OpCode};
use zk_core::recipes::elector::{
    parent_znode, ActiveNodeInfo, ActiveStandbyElector, ElectorCallbacks, ElectorConfig,
    ElectorEvent, ElectorEvents, ElectorState, BREADCRUMB_NODE, DEFAULT_ROOT, LOCK_NODE,
};

const DEADLINE: Duration = Duration::from_secs(30);
const SESSION: Duration = Duration::from_millis(2000);

macro_rules! eventually {
    ($what:expr, $cond:expr) => {{
        let deadline = tokio::time::Instant::now() + DEADLINE;
        while !$cond {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {}",
                $what
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }};
}

// ----- the election -----

#[test]
fn the_first_candidate_wins_writes_its_breadcrumb_and_the_second_stands_by() {
    with_server(|addr| async move {
        let parent = parent_znode(DEFAULT_ROOT, "ns1");
        let (a, a_events) = elector(&addr.to_string(), &parent);
        a.ensure_parent().await.unwrap();
        let a_app = App::spawn(a_events);
        a.join(&info("nn1").encode()).unwrap();
        a_app.wait_for("a active", |s| s == [Seen::Active]).await;
        assert_eq!(a.state(), ElectorState::Active);

        let (b, b_events) = elector(&addr.to_string(), &parent);
        let b_app = App::spawn(b_events);
        b.join(&info("nn2").encode()).unwrap();
        b_app.wait_for("b standby", |s| s == [Seen::Standby]).await;
        assert_eq!(b.state(), ElectorState::Standby);

        let observer = connect(addr).await;
        let (lock, stat) = observer.get_data(&lock_of(&parent)).await.unwrap();
        assert_eq!(ActiveNodeInfo::decode(&lock).unwrap(), info("nn1"));
        assert_eq!(
            stat.ephemeral_owner,
            a.session_id(),
            "the lock is a's ephemeral"
        );
        let (crumb, stat) = observer.get_data(&crumb_of(&parent)).await.unwrap();
        assert_eq!(ActiveNodeInfo::decode(&crumb).unwrap(), info("nn1"));
        assert_eq!(stat.ephemeral_owner, 0, "the breadcrumb is persistent");
        assert_eq!(b.active_data().await.unwrap(), Some(info("nn1").encode()));
        // Joining again while in the election changes nothing (Hadoop's rule).
        b.join(b"other").unwrap();
        assert_eq!(b.active_data().await.unwrap(), Some(info("nn1").encode()));
        assert!(matches!(
            b.ensure_parent().await,
            Err(Error::BadArguments(_))
        ));
        a.close().await.unwrap();
        b.close().await.unwrap();
        assert!(matches!(a.quit(false).await, Err(Error::Closed)));
        assert!(a.join(b"x").is_err());
    });
}

#[test]
fn a_graceful_quit_deletes_the_breadcrumb_so_the_next_active_fences_nobody() {
    with_server(|addr| async move {
        let parent = parent_znode(DEFAULT_ROOT, "graceful");
        let ((a, a_app), (b, b_app)) = active_and_standby(addr, &parent).await;
        a.quit(false).await.unwrap();
        assert_eq!(a.state(), ElectorState::Init);
        b_app
            .wait_for("b active", |s| s == [Seen::Standby, Seen::Active])
            .await;
        let observer = connect(addr).await;
        let (crumb, stat) = observer.get_data(&crumb_of(&parent)).await.unwrap();
        assert_eq!(ActiveNodeInfo::decode(&crumb).unwrap(), info("nn2"));
        assert_eq!(stat.version, 0, "a fresh breadcrumb: a's was deleted");
        assert_eq!(a_app.seen(), [Seen::Active], "quit calls no callback");
        b.close().await.unwrap();
    });
}

#[test]
fn quit_needing_fence_keeps_the_breadcrumb_and_the_next_active_fences_on_the_dispatch_thread() {
    with_server(|addr| async move {
        let parent = parent_znode(DEFAULT_ROOT, "fenced-quit");
        let (a, a_events) = elector(&addr.to_string(), &parent);
        a.ensure_parent().await.unwrap();
        let a_app = App::spawn(a_events);
        a.join(&info("nn1").encode()).unwrap();
        a_app.wait_for("a active", |s| s == [Seen::Active]).await;

        // b runs its callbacks the way a binding does: on a dispatch thread.
        let (b, b_events) = elector(&addr.to_string(), &parent);
        let dispatcher = Arc::new(Dispatcher::spawn("elector-test-dispatch", |run| run()).unwrap());
        let callbacks = Arc::new(ThreadCallbacks::default());
        let target = dispatcher.clone();
        b_events.deliver(callbacks.clone(), move |job| target.dispatch(job));
        b.join(&info("nn2").encode()).unwrap();
        eventually!("b standby", b.state() == ElectorState::Standby);

        a.quit(true).await.unwrap();
        eventually!("b active", b.state() == ElectorState::Active);
        let calls = callbacks.calls.lock().unwrap().clone();
        assert_eq!(
            calls,
            [
                "standby".to_owned(),
                format!("fence {}", info("nn1")),
                "active".to_owned()
            ]
        );
        assert!(
            callbacks
                .threads
                .lock()
                .unwrap()
                .iter()
                .all(|t| t == "elector-test-dispatch"),
            "every callback ran on the dispatch thread"
        );
        let observer = connect(addr).await;
        let (crumb, stat) = observer.get_data(&crumb_of(&parent)).await.unwrap();
        assert_eq!(ActiveNodeInfo::decode(&crumb).unwrap(), info("nn2"));
        assert_eq!(stat.version, 1, "overwritten at the version read");
        b.close().await.unwrap();
        dispatcher.stop(None);
    });
}

#[test]
fn a_crashed_active_is_fenced_with_its_data_and_rejoins_as_standby_on_a_new_session() {
    with_server(|addr| async move {
        let parent = parent_znode(DEFAULT_ROOT, "crash");
        let proxy = FaultProxy::start(addr).await;
        let (a, a_events) =
            ActiveStandbyElector::new(config(&proxy.addr.to_string(), &parent).max_retries(20))
                .unwrap();
        a.ensure_parent().await.unwrap();
        let a_app = App::spawn(a_events);
        a.join(&info("nn1").encode()).unwrap();
        a_app.wait_for("a active", |s| s == [Seen::Active]).await;
        let a_session = a.session_id();
        let (b, b_events) = elector(&addr.to_string(), &parent);
        let b_app = App::spawn(b_events);
        b_app.fence_ok.store(false, Ordering::SeqCst);
        b.join(&info("nn2").encode()).unwrap();
        b_app.wait_for("b standby", |s| s == [Seen::Standby]).await;

        // a stops answering: its session expires on the server (the lock goes, the
        // breadcrumb stays) and on the client.
        proxy.stall();
        a_app
            .wait_for("a neutral", |s| s == [Seen::Active, Seen::Neutral])
            .await;
        // b wins but its first fencing attempts fail: it must not become active, and the
        // breadcrumb must still name a.
        b_app
            .wait_for("a refused fence", |s| {
                s.iter().filter(|e| matches!(e, Seen::Fence(_))).count() >= 2
            })
            .await;
        assert!(!b_app.seen().contains(&Seen::Active));
        let observer = connect(addr).await;
        let (crumb, stat) = observer.get_data(&crumb_of(&parent)).await.unwrap();
        assert_eq!(ActiveNodeInfo::decode(&crumb).unwrap(), info("nn1"));
        let read_version = stat.version;

        b_app.fence_ok.store(true, Ordering::SeqCst);
        b_app
            .wait_for("b active", |s| s.last() == Some(&Seen::Active))
            .await;
        for fenced in b_app.seen().iter().filter_map(|e| match e {
            Seen::Fence(data) => Some(data.clone()),
            _ => None,
        }) {
            assert_eq!(ActiveNodeInfo::decode(&fenced).unwrap(), info("nn1"));
        }
        let (crumb, stat) = observer.get_data(&crumb_of(&parent)).await.unwrap();
        assert_eq!(ActiveNodeInfo::decode(&crumb).unwrap(), info("nn2"));
        assert_eq!(stat.version, read_version + 1);

        // a comes back on a new session and stands by.
        proxy.resume();
        a_app
            .wait_for("a standby", |s| {
                s == [Seen::Active, Seen::Neutral, Seen::Standby]
            })
            .await;
        assert_ne!(a.session_id(), a_session);
        assert_ne!(a.session_id(), 0);
        assert_eq!(b.state(), ElectorState::Active);
        a.close().await.unwrap();
        b.close().await.unwrap();
    });
}

#[test]
fn an_active_whose_session_expires_alone_wins_again_on_a_new_session_without_fencing() {
    with_server(|addr| async move {
        let parent = parent_znode(DEFAULT_ROOT, "alone");
        let proxy = FaultProxy::start(addr).await;
        let (a, a_events) =
            ActiveStandbyElector::new(config(&proxy.addr.to_string(), &parent).max_retries(20))
                .unwrap();
        a.ensure_parent().await.unwrap();
        let a_app = App::spawn(a_events);
        a.join(&info("nn1").encode()).unwrap();
        a_app.wait_for("a active", |s| s == [Seen::Active]).await;
        let first = a.session_id();
        proxy.stall();
        a_app
            .wait_for("a neutral", |s| s == [Seen::Active, Seen::Neutral])
            .await;
        let observer = connect(addr).await;
        eventually!(
            "a's session to expire on the server",
            observer.exists(&lock_of(&parent)).await.unwrap().is_none()
        );
        proxy.resume();
        a_app
            .wait_for("a active again", |s| {
                s == [Seen::Active, Seen::Neutral, Seen::Active]
            })
            .await;
        assert_ne!(a.session_id(), first, "a new session");
        let (_, stat) = observer.get_data(&lock_of(&parent)).await.unwrap();
        assert_eq!(stat.ephemeral_owner, a.session_id());
        a.close().await.unwrap();
    });
}

#[test]
fn a_create_whose_reply_is_lost_is_found_to_be_ours_by_its_ephemeral_owner() {
    with_server(|addr| async move {
        let parent = parent_znode(DEFAULT_ROOT, "lost-reply");
        let proxy = FaultProxy::start(addr).await;
        let (a, a_events) = elector(&proxy.addr.to_string(), &parent);
        a.ensure_parent().await.unwrap();
        let a_app = App::spawn(a_events);
        proxy.lose_reply_to_create(&lock_of(&parent));
        let session = a.session_id();
        a.join(&info("nn1").encode()).unwrap();
        // Disconnected with its create in flight: neutral; then the retried create meets
        // the lock, whose owner is our session: active, never standby.
        a_app
            .wait_for("a active", |s| s == [Seen::Neutral, Seen::Active])
            .await;
        assert_eq!(
            proxy.lost.load(Ordering::SeqCst),
            1,
            "one create reply was lost"
        );
        assert_eq!(a.session_id(), session, "the same session, reconnected");
        let observer = connect(addr).await;
        let (_, stat) = observer.get_data(&lock_of(&parent)).await.unwrap();
        assert_eq!(stat.ephemeral_owner, session);
        a.close().await.unwrap();
    });
}

#[test]
fn a_disconnect_makes_the_active_neutral_and_the_reconnect_active_again() {
    with_server(|addr| async move {
        let parent = parent_znode(DEFAULT_ROOT, "blip");
        let proxy = FaultProxy::start(addr).await;
        let (a, a_events) = elector(&proxy.addr.to_string(), &parent);
        a.ensure_parent().await.unwrap();
        let a_app = App::spawn(a_events);
        a.join(&info("nn1").encode()).unwrap();
        a_app.wait_for("a active", |s| s == [Seen::Active]).await;
        let session = a.session_id();
        proxy.cut();
        a_app
            .wait_for("neutral, then active again", |s| {
                s == [Seen::Active, Seen::Neutral, Seen::Active]
            })
            .await;
        assert_eq!(a.session_id(), session, "the session survived");
        a.close().await.unwrap();
    });
}

#[test]
fn a_service_that_cannot_become_active_releases_the_lock_to_a_rival() {
    with_server(|addr| async move {
        let parent = parent_znode(DEFAULT_ROOT, "refuse");
        let (a, a_events) = elector(&addr.to_string(), &parent);
        a.ensure_parent().await.unwrap();
        let a_app = App::spawn(a_events);
        a_app.active_ok.store(false, Ordering::SeqCst);
        a.join(&info("nn1").encode()).unwrap();
        a_app
            .wait_for("a's refusal", |s| s.contains(&Seen::Refused))
            .await;
        let (b, b_events) = elector(&addr.to_string(), &parent);
        let b_app = App::spawn(b_events);
        b.join(&info("nn2").encode()).unwrap();
        b_app
            .wait_for("b active", |s| s.contains(&Seen::Active))
            .await;
        eventually!("a standby", a.state() == ElectorState::Standby);
        a.close().await.unwrap();
        b.close().await.unwrap();
    });
}

#[test]
fn cede_hands_over_without_fencing_and_rejoins_after_the_period() {
    with_server(|addr| async move {
        let parent = parent_znode(DEFAULT_ROOT, "cede");
        let ((a, a_app), (b, b_app)) = active_and_standby(addr, &parent).await;
        a.cede(Duration::from_millis(1500)).await.unwrap();
        assert_eq!(
            a.state(),
            ElectorState::Init,
            "out of the election while ceding"
        );
        a_app
            .wait_for("a told to stand by", |s| s == [Seen::Active, Seen::Standby])
            .await;
        b_app
            .wait_for("b active", |s| s == [Seen::Standby, Seen::Active])
            .await;
        // a rejoins by itself once the period is over, as a standby.
        eventually!("a back in the election", a.state() == ElectorState::Standby);
        let observer = connect(addr).await;
        let (_, stat) = observer.get_data(&crumb_of(&parent)).await.unwrap();
        assert_eq!(
            stat.version, 0,
            "a deleted its breadcrumb: nobody was fenced"
        );

        // b cedes but its service cannot confirm it stopped: a must fence it.
        b_app.standby_ok.store(false, Ordering::SeqCst);
        b.cede(Duration::from_secs(60)).await.unwrap();
        a_app
            .wait_for("a fences b and is active", |s| {
                s.ends_with(&[Seen::Fence(info("nn2").encode()), Seen::Active])
            })
            .await;
        // A zero period ends b's cede: it stands by at once.
        b.cede(Duration::ZERO).await.unwrap();
        eventually!("b back in the election", b.state() == ElectorState::Standby);
        a.close().await.unwrap();
        b.close().await.unwrap();
    });
}

// ----- the parent znode -----

#[test]
fn ensure_parent_and_format_follow_hdfs_zkfc_format_zk() {
    with_server(|addr| async move {
        let parent = parent_znode("/deep/hadoop-ha", "ns1");
        let (e, events) = elector(&addr.to_string(), &parent);
        let _app = App::spawn(events);
        assert!(!e.parent_exists().await.unwrap());
        assert!(e.format(false).await.unwrap(), "nothing to clear: created");
        assert!(e.parent_exists().await.unwrap());
        let observer = connect(addr).await;
        observer
            .create(
                &format!("{parent}/leftover"),
                b"",
                &Acl::open_unsafe(),
                CreateMode::Persistent,
            )
            .await
            .unwrap();
        // Without force an existing parent is left alone (exit code 2 in zkfc).
        assert!(!e.format(false).await.unwrap());
        assert!(observer
            .exists(&format!("{parent}/leftover"))
            .await
            .unwrap()
            .is_some());
        assert!(e.format(true).await.unwrap());
        assert!(observer
            .exists(&format!("{parent}/leftover"))
            .await
            .unwrap()
            .is_none());
        assert!(observer.exists(&parent).await.unwrap().is_some());

        // ensure_parent gives existing ancestors the configured ACL, as Hadoop does.
        let mixed = [
            Acl::new(31, "world", "anyone"),
            Acl::new(1, "ip", "127.0.0.1"),
        ];
        observer.set_acl("/deep", &mixed, -1).await.unwrap();
        e.ensure_parent().await.unwrap();
        let (acl, _) = observer.get_acl("/deep").await.unwrap();
        assert_eq!(acl, Acl::open_unsafe());

        // Not while in the election.
        e.join(b"data").unwrap();
        assert!(matches!(
            e.clear_parent().await,
            Err(Error::BadArguments(_))
        ));
        assert!(matches!(e.format(true).await, Err(Error::BadArguments(_))));
        e.quit(true).await.unwrap();
        assert!(e.format(true).await.unwrap());
        e.close().await.unwrap();
    });
}

#[test]
fn an_unreachable_ensemble_is_reported_and_a_join_ends_in_a_fatal_error() {
    let rt = client_runtime();
    rt.block_on(async {
        let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = dead.local_addr().unwrap();
        drop(dead);
        let config = ElectorConfig::new(&addr.to_string(), "/hadoop-ha/none")
            .session_timeout(Duration::from_millis(500))
            .connect_pause(Duration::from_millis(10))
            .max_retries(2);
        let (e, events) = ActiveStandbyElector::new(config).unwrap();
        assert!(e.parent_exists().await.is_err());
        let app = App::spawn(events);
        e.join(b"x").unwrap();
        app.wait_for(
            "fatal error",
            |s| matches!(s, [Seen::Fatal(m)] if m.contains("reEstablish")),
        )
        .await;
        assert_eq!(e.state(), ElectorState::Init);
        e.close().await.unwrap();
    });
}

// ----- helpers -----

fn info(id: &str) -> ActiveNodeInfo {
    ActiveNodeInfo {
        nameservice_id: "ns1".into(),
        namenode_id: id.into(),
        hostname: format!("host-{id}"),
        port: 8020,
        zkfc_port: 8019,
    }
}

fn lock_of(parent: &str) -> String {
    format!("{parent}/{LOCK_NODE}")
}

fn crumb_of(parent: &str) -> String {
    format!("{parent}/{BREADCRUMB_NODE}")
}

fn config(connect: &str, parent: &str) -> ElectorConfig {
    ElectorConfig::new(connect, parent)
        .session_timeout(SESSION)
        .rejoin_pause(Duration::from_millis(200))
        .connect_pause(Duration::from_millis(200))
}

fn elector(connect: &str, parent: &str) -> (ActiveStandbyElector, ElectorEvents) {
    ActiveStandbyElector::new(config(connect, parent)).unwrap()
}

/// a active with nn1, b standby with nn2.
async fn active_and_standby(
    addr: SocketAddr,
    parent: &str,
) -> ((ActiveStandbyElector, App), (ActiveStandbyElector, App)) {
    let (a, a_events) = elector(&addr.to_string(), parent);
    a.ensure_parent().await.unwrap();
    let a_app = App::spawn(a_events);
    a.join(&info("nn1").encode()).unwrap();
    a_app.wait_for("a active", |s| s == [Seen::Active]).await;
    let (b, b_events) = elector(&addr.to_string(), parent);
    let b_app = App::spawn(b_events);
    b.join(&info("nn2").encode()).unwrap();
    b_app.wait_for("b standby", |s| s == [Seen::Standby]).await;
    ((a, a_app), (b, b_app))
}

async fn connect(addr: SocketAddr) -> Client {
    Client::connect(
        &addr.to_string(),
        ClientOptions::default().session_timeout(Duration::from_secs(10)),
    )
    .await
    .unwrap()
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Active,
    /// Told to become active, answered that it could not.
    Refused,
    Standby,
    Neutral,
    Fence(Vec<u8>),
    Fatal(String),
}

/// An application answering an elector's events as its flags say, recording them.
struct App {
    seen: Arc<Mutex<Vec<Seen>>>,
    fence_ok: Arc<AtomicBool>,
    active_ok: Arc<AtomicBool>,
    standby_ok: Arc<AtomicBool>,
}

impl App {
    fn spawn(mut events: ElectorEvents) -> App {
        let app = App {
            seen: Arc::default(),
            fence_ok: Arc::new(AtomicBool::new(true)),
            active_ok: Arc::new(AtomicBool::new(true)),
            standby_ok: Arc::new(AtomicBool::new(true)),
        };
        let (seen, fence_ok, active_ok, standby_ok) = (
            app.seen.clone(),
            app.fence_ok.clone(),
            app.active_ok.clone(),
            app.standby_ok.clone(),
        );
        tokio::spawn(async move {
            while let Some(event) = events.next().await {
                let record = match event {
                    ElectorEvent::BecomeActive(reply) => {
                        let ok = active_ok.load(Ordering::SeqCst);
                        reply.send(ok);
                        if ok {
                            Seen::Active
                        } else {
                            Seen::Refused
                        }
                    }
                    ElectorEvent::BecomeStandby(reply) => {
                        reply.send(standby_ok.load(Ordering::SeqCst));
                        Seen::Standby
                    }
                    ElectorEvent::EnterNeutral => Seen::Neutral,
                    ElectorEvent::FenceOldActive { data, reply } => {
                        reply.send(fence_ok.load(Ordering::SeqCst));
                        Seen::Fence(data)
                    }
                    ElectorEvent::FatalError(message) => Seen::Fatal(message),
                };
                seen.lock().unwrap().push(record);
            }
        });
        app
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    async fn wait_for(&self, what: &str, done: impl Fn(&[Seen]) -> bool) {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let seen = self.seen();
            if done(&seen) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}; seen {seen:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Callbacks as a binding implements them, recording the thread each ran on.
#[derive(Default)]
struct ThreadCallbacks {
    calls: Mutex<Vec<String>>,
    threads: Mutex<Vec<String>>,
}

impl ThreadCallbacks {
    fn note(&self, call: String) {
        self.calls.lock().unwrap().push(call);
        let name = std::thread::current().name().unwrap_or("").to_owned();
        self.threads.lock().unwrap().push(name);
    }
}

impl ElectorCallbacks for ThreadCallbacks {
    fn become_active(&self) -> bool {
        self.note("active".into());
        true
    }
    fn become_standby(&self) -> bool {
        self.note("standby".into());
        true
    }
    fn enter_neutral(&self) {
        self.note("neutral".into());
    }
    fn fence_old_active(&self, old_active: &[u8]) -> bool {
        let who = ActiveNodeInfo::decode(old_active).map_or("?".into(), |i| i.to_string());
        self.note(format!("fence {who}"));
        true
    }
    fn fatal_error(&self, message: &str) {
        self.note(format!("fatal {message}"));
    }
}

fn client_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Runs `body` on a client runtime against a fresh server with short session timeouts.
fn with_server<F, Fut>(body: F)
where
    F: FnOnce(SocketAddr) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(dir.path(), |o| {
        o.tick_time = Duration::from_millis(200);
        o.min_session_timeout_ms = 1000;
    });
    let rt = client_runtime();
    rt.block_on(body(server.addr));
    drop(rt);
    server.stop();
}

// ----- a proxy that understands ZooKeeper's framing enough to lose a reply -----

/// A loopback proxy in front of one server. It can stall every connection (nothing
/// moves until `resume`), cut them all, or let the next create of one path reach the
/// server and then drop the connection instead of passing the reply back.
struct FaultProxy {
    addr: SocketAddr,
    stalled: Arc<AtomicBool>,
    generation: watch::Sender<u64>,
    lose_reply_to: Arc<Mutex<Option<String>>>,
    /// How many replies were lost.
    lost: Arc<AtomicUsize>,
}

impl FaultProxy {
    async fn start(upstream: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = FaultProxy {
            addr: listener.local_addr().unwrap(),
            stalled: Arc::default(),
            generation: watch::channel(0).0,
            lose_reply_to: Arc::default(),
            lost: Arc::default(),
        };
        let (stalled, generation, lose, lost) = (
            proxy.stalled.clone(),
            proxy.generation.clone(),
            proxy.lose_reply_to.clone(),
            proxy.lost.clone(),
        );
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let conn = Conn {
                    stalled: stalled.clone(),
                    lose: lose.clone(),
                    lost: lost.clone(),
                    doomed_xid: Arc::default(),
                };
                let mut cut = generation.subscribe();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    tokio::select! {
                        _ = conn.clone().up(cr, sw) => {}
                        _ = conn.down(sr, cw) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        proxy
    }

    fn stall(&self) {
        self.stalled.store(true, Ordering::SeqCst);
    }

    fn resume(&self) {
        self.stalled.store(false, Ordering::SeqCst);
    }

    fn cut(&self) {
        self.generation.send_modify(|g| *g += 1);
    }

    /// The next create of `path` reaches the server; its reply is dropped with the
    /// connection.
    fn lose_reply_to_create(&self, path: &str) {
        *self.lose_reply_to.lock().unwrap() = Some(path.to_owned());
    }
}

#[derive(Clone)]
struct Conn {
    stalled: Arc<AtomicBool>,
    lose: Arc<Mutex<Option<String>>>,
    lost: Arc<AtomicUsize>,
    /// The xid whose reply this connection must not deliver.
    doomed_xid: Arc<Mutex<Option<i32>>>,
}

const CREATES: [OpCode; 4] = [
    OpCode::Create,
    OpCode::Create2,
    OpCode::CreateContainer,
    OpCode::CreateTtl,
];

impl Conn {
    async fn wait_unstalled(&self) {
        while self.stalled.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Client to server; the first frame is the ConnectRequest.
    async fn up(self, mut from: OwnedReadHalf, mut to: OwnedWriteHalf) {
        let mut first = true;
        while let Some(frame) = read_frame(&mut from, &self).await {
            if !std::mem::take(&mut first) && frame.len() >= 12 {
                let xid = i32::from_be_bytes(frame[4..8].try_into().unwrap());
                let op = i32::from_be_bytes(frame[8..12].try_into().unwrap());
                if CREATES.iter().any(|c| c.as_i32() == op) {
                    let path = request_path(&frame[12..]);
                    let mut lose = self.lose.lock().unwrap();
                    if path.is_some() && *lose == path {
                        *lose = None;
                        *self.doomed_xid.lock().unwrap() = Some(xid);
                    }
                }
            }
            self.wait_unstalled().await;
            if to.write_all(&frame).await.is_err() {
                return;
            }
        }
    }

    /// Server to client; the first frame is the ConnectResponse.
    async fn down(self, mut from: OwnedReadHalf, mut to: OwnedWriteHalf) {
        let mut first = true;
        while let Some(frame) = read_frame(&mut from, &self).await {
            if !std::mem::take(&mut first) && frame.len() >= 8 {
                let xid = i32::from_be_bytes(frame[4..8].try_into().unwrap());
                if *self.doomed_xid.lock().unwrap() == Some(xid) {
                    self.lost.fetch_add(1, Ordering::SeqCst);
                    return;
                }
            }
            self.wait_unstalled().await;
            if to.write_all(&frame).await.is_err() {
                return;
            }
        }
    }
}

/// One length-prefixed frame, prefix included.
async fn read_frame(from: &mut OwnedReadHalf, conn: &Conn) -> Option<Vec<u8>> {
    conn.wait_unstalled().await;
    let mut len = [0u8; 4];
    from.read_exact(&mut len).await.ok()?;
    let n = usize::try_from(i32::from_be_bytes(len)).ok()?;
    let mut frame = vec![0u8; 4 + n];
    frame[..4].copy_from_slice(&len);
    from.read_exact(&mut frame[4..]).await.ok()?;
    Some(frame)
}

/// The path a create request names (its first field, a jute string).
fn request_path(body: &[u8]) -> Option<String> {
    let len = usize::try_from(i32::from_be_bytes(body.get(..4)?.try_into().ok()?)).ok()?;
    String::from_utf8(body.get(4..4 + len)?.to_vec()).ok()
}
