//! The recipes against an in-process zk-server. The clients run on their own runtime so
//! the server can be stopped and restarted under them; every wait has a deadline.

mod common;

use std::collections::BTreeSet;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use zk_core::client::{Client, ClientOptions, Error, Op, SessionState};
use zk_core::proto::{Acl, CreateMode, ErrorCode};
use zk_core::recipes::{
    self, Barrier, CacheEvent, CacheEvents, ChildrenCache, Counter, CounterFormat, DoubleBarrier,
    GroupMember, Layout, LeaderLatch, LeaderSelector, Leadership, Mutex, NodeCache, Queue,
    ReadWriteLock, Semaphore, TreeCache,
};

const DEADLINE: Duration = Duration::from_secs(30);

/// Polls a condition (an expression that may `.await`) until it holds, failing after
/// the deadline.
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

// ----- locks -----

#[test]
fn mutex_excludes_several_clients() {
    with_server(|addr| async move {
        let clients = connect_many(addr, 4).await;
        clients[0]
            .create("/counter", b"0", &open(), CreateMode::Persistent)
            .await
            .unwrap();
        let inside = Arc::new(AtomicBool::new(false));
        let tokens = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (i, client) in clients.iter().enumerate() {
            let (client, inside, tokens) = (client.clone(), inside.clone(), tokens.clone());
            let layout = if i % 2 == 0 {
                Layout::Curator
            } else {
                Layout::Kazoo
            };
            tasks.push(tokio::spawn(async move {
                let mutex = Mutex::new(&client, "/locks/m").layout(layout);
                for _ in 0..5 {
                    let guard = mutex.acquire().await.unwrap();
                    assert!(!inside.swap(true, Ordering::SeqCst), "two holders at once");
                    tokens.lock().unwrap().push(guard.fencing_token());
                    // A read-modify-write that only a lock makes safe.
                    let (data, _) = client.get_data("/counter").await.unwrap();
                    let n: i64 = String::from_utf8(data).unwrap().parse().unwrap();
                    client
                        .set_data("/counter", (n + 1).to_string().as_bytes(), -1)
                        .await
                        .unwrap();
                    assert!(!guard.is_lost());
                    inside.store(false, Ordering::SeqCst);
                    guard.release().await.unwrap();
                }
            }));
        }
        for task in tasks {
            within("workers", task).await.unwrap();
        }
        let (data, _) = clients[0].get_data("/counter").await.unwrap();
        assert_eq!(data, b"20");
        let tokens = tokens.lock().unwrap().clone();
        assert!(
            tokens.windows(2).all(|w| w[0] < w[1]),
            "fencing tokens grow with each holder: {tokens:?}"
        );
        assert!(clients[0]
            .get_children("/locks/m")
            .await
            .unwrap()
            .is_empty());
    });
}

#[test]
fn mutex_layouts_order_and_timeouts() {
    with_server(|addr| async move {
        let clients = connect_many(addr, 3).await;
        let holder = Mutex::new(&clients[0], "/l").data(b"holder");
        let guard = holder.acquire().await.unwrap();
        let name = name_of(guard.path());
        assert!(is_protected(name, "lock-"), "Curator layout: {name}");

        let other = Mutex::new(&clients[1], "/l");
        assert!(other.try_acquire().await.unwrap().is_none());
        assert!(other
            .acquire_timeout(Duration::from_millis(100))
            .await
            .unwrap()
            .is_none());
        // A cancelled acquire leaves no contender behind.
        let cancelled = tokio::time::timeout(Duration::from_millis(100), other.acquire()).await;
        assert!(cancelled.is_err());
        eventually!("only the holder contends", {
            holder.contenders().await.unwrap().len() == 1
        });

        // Waiters are served in sequence order, kazoo-layout ones included.
        let first = Mutex::new(&clients[1], "/l").layout(Layout::Kazoo);
        let w1 = tokio::spawn(async move { first.acquire().await.unwrap() });
        eventually!("the first waiter", {
            holder.contenders().await.unwrap().len() == 2
        });
        let second = Mutex::new(&clients[2], "/l");
        let w2 = tokio::spawn(async move { second.acquire().await.unwrap() });
        eventually!("the second waiter", {
            holder.contenders().await.unwrap().len() == 3
        });
        let contenders = holder.contenders().await.unwrap();
        assert!(
            is_protected(&contenders[1], "__lock__"),
            "kazoo layout: {contenders:?}"
        );
        let token = guard.fencing_token();
        guard.release().await.unwrap();
        let g1 = within("first waiter", w1).await.unwrap();
        assert!(g1.fencing_token() > token);
        assert!(!w2.is_finished(), "the second waiter waits for the first");
        drop(g1); // deleted in the background
        let g2 = within("second waiter", w2).await.unwrap();
        g2.release().await.unwrap();
    });
}

#[test]
fn lock_is_lost_on_suspension_and_released_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = TestServer::start(dir.path());
    let addr = server.addr;
    let rt = client_runtime();
    let client = rt.block_on(connect(addr));
    let guard = rt.block_on(Mutex::new(&client, "/lost").acquire()).unwrap();
    let path = guard.path().to_owned();
    assert!(!guard.is_lost());
    server.stop();
    rt.block_on(within("lost after the server stopped", guard.lost()));
    assert!(guard.is_lost());
    assert_eq!(client.state(), SessionState::Suspended);
    server = restart(dir.path().into(), addr);
    rt.block_on(async {
        client.wait_connected(DEADLINE).await.unwrap();
        // The session survived, so the node did: releasing deletes it.
        assert!(client.exists(&path).await.unwrap().is_some());
        let token = guard.fencing_token();
        guard.release().await.unwrap();
        assert!(client.exists(&path).await.unwrap().is_none());
        let again = Mutex::new(&client, "/lost").acquire().await.unwrap();
        assert!(again.fencing_token() > token && !again.is_lost());
        again.release().await.unwrap();
        client.close().await;
    });
    drop(rt);
    server.stop();
}

#[test]
fn lost_signal_outlives_the_guard_borrow_and_fires_on_loss_or_release() {
    with_server(|addr| async move {
        let client = connect(addr).await;
        let other = connect(addr).await;
        let guard = Mutex::new(&client, "/signal").acquire().await.unwrap();
        let signal = tokio::spawn(guard.lost_signal());
        // Deleted by someone else: lost, and the spawned signal (which owns no borrow of
        // the guard) resolves.
        other.delete(guard.path(), -1).await.unwrap();
        within("the signal of a deleted node", signal)
            .await
            .unwrap();
        assert!(guard.is_lost());
        guard.release().await.unwrap();

        let guard = Mutex::new(&client, "/signal").acquire().await.unwrap();
        let signal = tokio::spawn(guard.lost_signal());
        assert!(!signal.is_finished());
        guard.release().await.unwrap();
        within("the signal of a released guard", signal)
            .await
            .unwrap();
        client.close().await;
        other.close().await;
    });
}

#[test]
fn read_write_lock_shares_readers_and_excludes_writers() {
    with_server(|addr| async move {
        let clients = connect_many(addr, 3).await;
        let rw: Vec<ReadWriteLock> = clients
            .iter()
            .map(|c| ReadWriteLock::new(c, "/rw"))
            .collect();
        let r0 = rw[0].read_lock().acquire().await.unwrap();
        assert!(is_protected(name_of(r0.path()), "__READ__"));
        let r1 = rw[1].read_lock().acquire().await.unwrap();
        assert!(rw[2].write_lock().try_acquire().await.unwrap().is_none());
        let writer = rw[2].clone();
        let w = tokio::spawn(async move { writer.write_lock().acquire().await.unwrap() });
        eventually!("the writer waits", {
            rw[0].read_lock().contenders().await.unwrap().len() == 3
        });
        // A reader behind a waiting writer waits too.
        assert!(rw[0].read_lock().try_acquire().await.unwrap().is_none());
        r0.release().await.unwrap();
        assert!(!w.is_finished());
        r1.release().await.unwrap();
        let wg = within("writer", w).await.unwrap();
        assert!(is_protected(name_of(wg.path()), "__WRIT__"));
        let kazoo_reader = ReadWriteLock::new(&clients[0], "/rw").layout(Layout::Kazoo);
        assert!(kazoo_reader
            .read_lock()
            .try_acquire()
            .await
            .unwrap()
            .is_none());
        wg.release().await.unwrap();
        let kr = kazoo_reader.read_lock().acquire().await.unwrap();
        assert!(is_protected(name_of(kr.path()), "__rlock__"));
        kr.release().await.unwrap();
    });
}

#[test]
fn semaphore_limits_leases() {
    with_server(|addr| async move {
        let clients = connect_many(addr, 5).await;
        let sem = Semaphore::new(&clients[0], "/sem", 2);
        let a = sem.acquire().await.unwrap();
        let b = sem.acquire().await.unwrap();
        assert!(is_protected(name_of(a.path()), "lease-"));
        assert!(sem
            .acquire_timeout(Duration::from_millis(100))
            .await
            .unwrap()
            .is_none());
        assert_eq!(sem.lease_nodes().await.unwrap().len(), 2);
        a.release().await.unwrap();
        let c = sem.acquire().await.unwrap();
        drop((b, c));

        let holders = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for client in &clients {
            let (sem, holders, peak) = (
                Semaphore::new(client, "/sem", 2),
                holders.clone(),
                peak.clone(),
            );
            let client = client.clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..3 {
                    let lease = sem.acquire().await.unwrap();
                    let now = holders.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    client.exists("/").await.unwrap();
                    holders.fetch_sub(1, Ordering::SeqCst);
                    lease.release().await.unwrap();
                }
            }));
        }
        for task in tasks {
            within("semaphore workers", task).await.unwrap();
        }
        assert!(peak.load(Ordering::SeqCst) <= 2);
    });
}

// ----- leader election -----

#[test]
fn leader_latch_hands_over_when_the_leader_closes() {
    with_server(|addr| async move {
        let clients = connect_many(addr, 3).await;
        let mut latches = Vec::new();
        for (i, client) in clients.iter().enumerate() {
            latches.push(
                LeaderLatch::start(client, "/latch", &format!("p{i}"))
                    .await
                    .unwrap(),
            );
        }
        assert!(latches[0].wait_leadership(Some(DEADLINE)).await.unwrap());
        let token = latches[0].fencing_token().unwrap();
        let participants = latches[2].participants().await.unwrap();
        let ids: Vec<&str> = participants.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["p0", "p1", "p2"]);
        assert!(participants[0].is_leader && !participants[1].is_leader);
        assert!(!latches[1].has_leadership() && !latches[2].has_leadership());
        let children = clients[0].get_children("/latch").await.unwrap();
        assert!(children.iter().all(|c| is_protected(c, "latch-")));

        let first = latches.remove(0);
        first.close().await;
        assert!(latches[0].wait_leadership(Some(DEADLINE)).await.unwrap());
        let next = latches[0].fencing_token().unwrap();
        assert!(next > token);
        assert!(!latches[1].has_leadership());

        // The leader's session ends: the last candidate takes over.
        let mut changes = latches[0].changes();
        clients[1].close().await;
        within(
            "the closed leader steps down",
            changes.wait_for(|l| *l == Leadership::Closed),
        )
        .await
        .unwrap();
        assert!(latches[1].wait_leadership(Some(DEADLINE)).await.unwrap());
        assert!(latches[1].fencing_token().unwrap() > next);
    });
}

#[test]
fn leader_selector_lists_participants_and_hands_over() {
    with_server(|addr| async move {
        let clients = connect_many(addr, 3).await;
        let s0 = LeaderSelector::new(&clients[0], "/elect", "alpha");
        let lead0 = s0.lead().await.unwrap();
        let mut waiting = Vec::new();
        for (i, id) in [(1, "beta"), (2, "gamma")] {
            let selector = LeaderSelector::new(&clients[i], "/elect", id).layout(Layout::Kazoo);
            waiting.push(tokio::spawn(async move { selector.lead().await.unwrap() }));
            eventually!("the candidate joins", {
                s0.participants().await.unwrap().len() == i + 1
            });
        }
        let participants = s0.participants().await.unwrap();
        let ids: Vec<&str> = participants.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["alpha", "beta", "gamma"]);
        assert_eq!(s0.leader().await.unwrap().unwrap().id, "alpha");

        let token = lead0.fencing_token();
        clients[0].close().await;
        within("the old leader knows", lead0.lost()).await;
        let lead1 = within("beta leads", waiting.remove(0)).await.unwrap();
        assert!(lead1.fencing_token() > token);
        assert!(!waiting[0].is_finished());
        let s1 = LeaderSelector::new(&clients[1], "/elect", "beta");
        assert_eq!(s1.leader().await.unwrap().unwrap().id, "beta");
        lead1.release().await.unwrap();
        let lead2 = within("gamma leads", waiting.remove(0)).await.unwrap();
        lead2.release().await.unwrap();
    });
}

// ----- barriers -----

#[test]
fn barrier_blocks_until_removed() {
    with_server(|addr| async move {
        let clients = connect_many(addr, 2).await;
        let barrier = Barrier::new(&clients[0], "/barriers/b");
        assert!(barrier.wait(Some(Duration::ZERO)).await.unwrap());
        barrier.set().await.unwrap();
        barrier.set().await.unwrap();
        assert!(!barrier.wait(Some(Duration::from_millis(50))).await.unwrap());
        let waiter = Barrier::new(&clients[1], "/barriers/b");
        let task = tokio::spawn(async move { waiter.wait(None).await.unwrap() });
        eventually!("the waiter watches", {
            clients[0].exists("/barriers/b").await.unwrap().is_some()
        });
        barrier.remove().await.unwrap();
        assert!(within("waiter released", task).await.unwrap());
    });
}

#[test]
fn double_barrier_enters_and_leaves_together() {
    with_server(|addr| async move {
        let clients = connect_many(addr, 3).await;
        let members: Vec<DoubleBarrier> = clients
            .iter()
            .map(|c| DoubleBarrier::new(c, "/db", 3))
            .collect();
        let mut entering = Vec::new();
        for member in &members[..2] {
            let member = member.clone();
            entering.push(tokio::spawn(
                async move { member.enter(None).await.unwrap() },
            ));
        }
        eventually!("two members in", {
            clients[0].get_children("/db").await.map(|c| c.len()) == Ok(2)
        });
        assert!(entering.iter().all(|t| !t.is_finished()));
        assert!(members[2].enter(Some(DEADLINE)).await.unwrap());
        for task in entering {
            assert!(within("entered", task).await.unwrap());
        }
        assert!(clients[0].exists("/db/ready").await.unwrap().is_some());
        let mut leaving = Vec::new();
        for member in members {
            leaving.push(tokio::spawn(async move {
                member.leave(Some(DEADLINE)).await.unwrap()
            }));
        }
        for task in leaving {
            assert!(within("left", task).await.unwrap());
        }
        assert!(clients[0].get_children("/db").await.unwrap().is_empty());
    });
}

// ----- queue, counter, group -----

#[test]
fn queue_is_fifo_with_priorities_and_each_item_is_taken_once() {
    with_server(|addr| async move {
        let clients = connect_many(addr, 3).await;
        let queue = Queue::new(&clients[0], "/q");
        assert_eq!(queue.take().await.unwrap(), None);
        for i in 0..10 {
            queue.put(format!("item-{i}").as_bytes()).await.unwrap();
        }
        let names = clients[0].get_children("/q").await.unwrap();
        assert!(names
            .iter()
            .all(|n| n.starts_with("entry-100-") && n.len() == 20));
        for i in 0..10 {
            assert_eq!(
                queue.take().await.unwrap(),
                Some(format!("item-{i}").into_bytes())
            );
        }
        queue.put_with_priority(b"low", 500).await.unwrap();
        queue.put_with_priority(b"high", 5).await.unwrap();
        queue.put(b"normal").await.unwrap();
        assert_eq!(queue.take().await.unwrap().unwrap(), b"high");
        assert_eq!(queue.take().await.unwrap().unwrap(), b"normal");
        assert_eq!(queue.take().await.unwrap().unwrap(), b"low");
        assert!(queue.put_with_priority(b"x", 1000).await.is_err());

        // A blocked consumer gets an item put later.
        let consumer = Queue::new(&clients[1], "/q");
        let waiting = tokio::spawn(async move { consumer.take_timeout(None).await.unwrap() });
        queue.put(b"late").await.unwrap();
        assert_eq!(
            within("blocked take", waiting).await.unwrap().unwrap(),
            b"late"
        );

        // Concurrent consumers: every item exactly once.
        for i in 0..30 {
            queue.put(i.to_string().as_bytes()).await.unwrap();
        }
        let mut tasks = Vec::new();
        for client in &clients {
            let consumer = Queue::new(client, "/q");
            tasks.push(tokio::spawn(async move {
                let mut got = Vec::new();
                while let Some(item) = consumer.take().await.unwrap() {
                    got.push(String::from_utf8(item).unwrap());
                }
                got
            }));
        }
        let mut all = Vec::new();
        for task in tasks {
            all.extend(within("consumers", task).await.unwrap());
        }
        all.sort_by_key(|s| s.parse::<u32>().unwrap());
        let expected: Vec<String> = (0..30).map(|i| i.to_string()).collect();
        assert_eq!(all, expected);
        assert!(queue.is_empty().await.unwrap());
        assert!(clients[0]
            .get_children("/q-markers")
            .await
            .unwrap()
            .is_empty());
    });
}

#[test]
fn counter_adds_concurrently_in_every_format() {
    with_server(|addr| async move {
        let clients = connect_many(addr, 4).await;
        let mut tasks = Vec::new();
        for client in &clients {
            let counter = Counter::new(client, "/counters/c");
            tasks.push(tokio::spawn(async move {
                for _ in 0..25 {
                    counter.add(1).await.unwrap();
                }
            }));
        }
        for task in tasks {
            within("adders", task).await.unwrap();
        }
        let counter = Counter::new(&clients[0], "/counters/c");
        assert_eq!(counter.get().await.unwrap(), 100);
        assert_eq!(clients[0].get_data("/counters/c").await.unwrap().0, b"100");
        assert_eq!(counter.add(-3).await.unwrap(), (100, 97));
        assert!(!counter.compare_and_set(1, 2).await.unwrap());
        assert!(counter.compare_and_set(97, 7).await.unwrap());
        assert_eq!(counter.set(-5).await.unwrap(), 7);
        assert_eq!(counter.get().await.unwrap(), -5);

        let shared = Counter::new(&clients[0], "/counters/i32").format(CounterFormat::Int32);
        assert_eq!(shared.add(258).await.unwrap(), (0, 258));
        assert_eq!(
            clients[0].get_data("/counters/i32").await.unwrap().0,
            [0, 0, 1, 2]
        );
        assert!(shared.add(i64::from(i32::MAX)).await.is_err());
        let long = Counter::new(&clients[0], "/counters/i64").format(CounterFormat::Int64);
        long.add(1 << 40).await.unwrap();
        assert_eq!(
            clients[0].get_data("/counters/i64").await.unwrap().0,
            (1i64 << 40).to_be_bytes()
        );
        clients[0]
            .create("/counters/bad", b"1.5", &open(), CreateMode::Persistent)
            .await
            .unwrap();
        assert!(matches!(
            Counter::new(&clients[0], "/counters/bad").get().await,
            Err(Error::BadArguments(_))
        ));
    });
}

#[test]
fn group_members_come_and_go() {
    with_server(|addr| async move {
        let clients = connect_many(addr, 3).await;
        let a = GroupMember::join(&clients[0], "/group", "a", b"A")
            .await
            .unwrap();
        let _b = GroupMember::join(&clients[1], "/group", "b", b"B")
            .await
            .unwrap();
        let c = GroupMember::join(&clients[2], "/group", "c", b"C")
            .await
            .unwrap();
        assert_eq!(
            GroupMember::join(&clients[0], "/group", "b", b"")
                .await
                .err(),
            Some(Error::Server(ErrorCode::NodeExists))
        );
        let members = a.members().await.unwrap();
        assert_eq!(
            members.keys().map(String::as_str).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        assert_eq!(members["b"], b"B");
        c.set_data(b"C2").await.unwrap();
        assert_eq!(a.members().await.unwrap()["c"], b"C2");
        clients[1].close().await;
        c.leave().await.unwrap();
        eventually!("b and c gone", {
            a.members().await.unwrap().keys().collect::<Vec<_>>() == ["a"]
        });
    });
}

// ----- caches -----

#[test]
fn caches_load_follow_and_resync_after_a_server_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = TestServer::start(dir.path());
    let rt = client_runtime();
    let admin = rt.block_on(connect(server.addr));
    let proxy = rt.block_on(Proxy::start(server.addr));
    let client = rt.block_on(connect(proxy.addr));
    let (tree, mut tree_events, children, mut child_events, node, mut node_events) =
        rt.block_on(async {
            recipes::ensure_path(&admin, "/cache/a/x").await.unwrap();
            admin.set_data("/cache/a", b"1", -1).await.unwrap();
            admin
                .create("/cache/b", b"b", &open(), CreateMode::Persistent)
                .await
                .unwrap();
            let (tree, mut tree_events) = TreeCache::start(&client, "/cache").await.unwrap();
            let (children, mut child_events) =
                ChildrenCache::start(&client, "/cache").await.unwrap();
            let (node, mut node_events) = NodeCache::start(&client, "/cache/a").await.unwrap();
            assert_eq!(
                created_until_initialized(&mut tree_events).await,
                ["/cache", "/cache/a", "/cache/a/x", "/cache/b"]
            );
            assert_eq!(
                created_until_initialized(&mut child_events).await,
                ["/cache/a", "/cache/b"]
            );
            assert_eq!(
                created_until_initialized(&mut node_events).await,
                ["/cache/a"]
            );
            assert_eq!(tree.children("/cache"), ["a", "b"]);
            assert_eq!(node.get().unwrap().data, b"1");

            // Changes are followed.
            admin.set_data("/cache/a", b"2", -1).await.unwrap();
            admin
                .create("/cache/c", b"c", &open(), CreateMode::Persistent)
                .await
                .unwrap();
            admin.delete("/cache/b", -1).await.unwrap();
            admin.set_data("/cache/a/x", b"deep", -1).await.unwrap();
            assert_eq!(
                next_event(&mut node_events).await,
                CacheEvent::Changed(node.get().unwrap())
            );
            assert!(matches!(next_event(&mut child_events).await, CacheEvent::Changed(d) if d.data == b"2"));
            assert!(matches!(next_event(&mut child_events).await, CacheEvent::Created(d) if d.path == "/cache/c"));
            assert!(matches!(next_event(&mut child_events).await, CacheEvent::Deleted(d) if d.path == "/cache/b"));
            let summary = summarize(&mut tree_events, 4).await;
            assert_eq!(
                summary,
                [
                    "changed /cache/a",
                    "created /cache/c",
                    "deleted /cache/b",
                    "changed /cache/a/x"
                ]
            );
            assert_eq!(tree.get("/cache/a/x").unwrap().data, b"deep");
            assert!(child_events.try_next().is_none(), "grandchildren are not children");
            (tree, tree_events, children, child_events, node, node_events)
        });

    // Restart the server while the cache client is held off, and change data meanwhile.
    proxy.refuse();
    rt.block_on(async {
        assert_eq!(next_event(&mut tree_events).await, CacheEvent::Suspended);
    });
    let target = server.addr;
    server.stop();
    server = restart(dir.path().into(), target);
    let admin = rt.block_on(connect(server.addr));
    rt.block_on(async {
        admin.set_data("/cache/a", b"3", -1).await.unwrap();
        admin
            .create("/cache/d", b"d", &open(), CreateMode::Persistent)
            .await
            .unwrap();
        admin.delete("/cache/c", -1).await.unwrap();
        proxy.pass();
        let summary = summarize(&mut tree_events, 4).await;
        assert_eq!(
            summary,
            [
                "deleted /cache/c",
                "changed /cache/a",
                "created /cache/d",
                "resynced"
            ]
        );
        assert_eq!(tree.get("/cache/a").unwrap().data, b"3");
        assert_eq!(tree.children("/cache"), ["a", "d"]);
        assert_eq!(
            children.children().keys().map(String::as_str).collect::<Vec<_>>(),
            ["a", "d"]
        );
        let mut saw_resync = false;
        while !saw_resync {
            saw_resync = next_event(&mut child_events).await == CacheEvent::Resynced;
        }
        loop {
            if next_event(&mut node_events).await == CacheEvent::Resynced {
                break;
            }
        }
        assert_eq!(node.get().unwrap().data, b"3");
        // Still following after the resync.
        admin.delete("/cache/a/x", -1).await.unwrap();
        admin.delete("/cache/a", -1).await.unwrap();
        assert!(matches!(next_event(&mut node_events).await, CacheEvent::Deleted(d) if d.path == "/cache/a"));
        assert!(node.get().is_none());
        drop(tree);
        while next_event(&mut tree_events).await != CacheEvent::Closed {}
        assert!(tree_events.next().await.is_none(), "nothing after Closed");
        client.close().await;
    });
    drop(rt);
    server.stop();
}

#[test]
fn tree_cache_resyncs_after_its_event_queue_overflows() {
    with_server(|addr| async move {
        let admin = connect(addr).await;
        let mut options = ClientOptions::default().session_timeout(Duration::from_secs(10));
        options.watch_queue = 1;
        let client = Client::connect(&addr.to_string(), options).await.unwrap();
        recipes::ensure_path(&admin, "/ov").await.unwrap();
        let (tree, mut events) = TreeCache::start(&client, "/ov").await.unwrap();
        assert_eq!(created_until_initialized(&mut events).await, ["/ov"]);
        // One multi: its 20 notifications all precede the reply to the cache's first
        // re-read, so a queue of one overflows.
        let ops = (0..20)
            .map(|i| {
                Op::create(
                    &format!("/ov/n{i:02}"),
                    b"",
                    &open(),
                    CreateMode::Persistent,
                )
            })
            .collect();
        admin.multi(ops).await.unwrap();
        let mut created = Vec::new();
        loop {
            match next_event(&mut events).await {
                CacheEvent::Created(d) => created.push(d.path),
                CacheEvent::Resynced => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        let unique: BTreeSet<&String> = created.iter().collect();
        assert_eq!(
            (created.len(), unique.len()),
            (20, 20),
            "each node reported once: {created:?}"
        );
        assert_eq!(tree.children("/ov").len(), 20);
    });
}

// ----- unknown outcomes -----

#[test]
fn a_protected_create_given_up_before_its_reply_leaves_no_node() {
    with_server(|addr| async move {
        let admin = connect(addr).await;
        let proxy = Proxy::start(addr).await;
        let client = connect(proxy.addr).await;
        recipes::ensure_path(&client, "/given-up").await.unwrap();

        // The create reaches the server; its reply never comes back before the caller
        // gives up (an acquire timed out, a task cancelled).
        proxy.swallow_replies_from_next_write();
        let c = client.clone();
        let create = tokio::spawn(async move {
            recipes::create_protected(
                &c,
                "/given-up/n-",
                b"x",
                &open(),
                CreateMode::PersistentSequential,
            )
            .await
        });
        eventually!("the create applied", {
            !admin.get_children("/given-up").await.unwrap().is_empty()
        });
        create.abort();
        assert!(create.await.unwrap_err().is_cancelled());
        proxy.pass();

        // Nobody learned of the node: it is found by its UUID and deleted.
        eventually!("the unclaimed node deleted", {
            admin.get_children("/given-up").await.unwrap().is_empty()
        });
        assert_eq!(client.get_children("/given-up").await.unwrap().len(), 0);
    });
}

#[test]
fn writes_with_lost_replies_get_definite_answers() {
    with_server(|addr| async move {
        let admin = connect(addr).await;
        let proxy = Proxy::start(addr).await;
        let client = connect(proxy.addr).await;
        recipes::ensure_path(&client, "/pc").await.unwrap();

        // A protected create whose reply is lost is found, not repeated.
        proxy.swallow_replies_from_next_write();
        let c = client.clone();
        let create = tokio::spawn(async move {
            recipes::create_protected(
                &c,
                "/pc/n-",
                b"x",
                &open(),
                CreateMode::PersistentSequential,
            )
            .await
        });
        eventually!("the create applied", {
            !admin.get_children("/pc").await.unwrap().is_empty()
        });
        proxy.pass();
        let (path, stat) = within("protected create", create).await.unwrap().unwrap();
        let children = admin.get_children("/pc").await.unwrap();
        assert_eq!(children, [name_of(&path)]);
        assert!(is_protected(name_of(&path), "n-"));
        assert!(stat.czxid > 0);

        // A queue put and take, and a counter add, likewise.
        let q = Queue::new(&client, "/pq");
        q.put(b"warm-up").await.unwrap();
        assert_eq!(q.take().await.unwrap().unwrap(), b"warm-up");
        proxy.swallow_replies_from_next_write();
        let put = tokio::spawn(async move { q.put(b"once").await });
        eventually!("the put applied", {
            admin.get_children("/pq").await.map(|c| c.len()) == Ok(1)
        });
        proxy.pass();
        within("put", put).await.unwrap().unwrap();
        assert_eq!(admin.get_children("/pq").await.unwrap().len(), 1);

        proxy.swallow_replies_from_next_write();
        let q = Queue::new(&client, "/pq");
        let take = tokio::spawn(async move { q.take().await });
        eventually!("the take applied", {
            admin.get_children("/pq").await.map(|c| c.len()) == Ok(0)
        });
        proxy.pass();
        assert_eq!(
            within("take", take).await.unwrap().unwrap().unwrap(),
            b"once"
        );

        let counter = Counter::new(&client, "/pcount");
        counter.add(0).await.unwrap();
        proxy.swallow_replies_from_next_write();
        let add = tokio::spawn(async move { counter.add(5).await });
        eventually!("the add applied", {
            admin.get_data("/pcount").await.unwrap().0 == b"5"
        });
        proxy.pass();
        assert_eq!(within("add", add).await.unwrap().unwrap(), (0, 5));
        assert_eq!(Counter::new(&admin, "/pcount").get().await.unwrap(), 5);
        assert!(admin.get_children("/pcount").await.unwrap().is_empty());
        client.close().await;
    });
}

#[test]
fn ensure_path_and_delete_recursive() {
    with_server(|addr| async move {
        let client = connect(addr).await;
        recipes::ensure_path(&client, "/x/y/z").await.unwrap();
        recipes::ensure_path(&client, "/x/y/z").await.unwrap();
        client
            .create("/x/y/w", b"", &open(), CreateMode::Persistent)
            .await
            .unwrap();
        client
            .create("/x/e", b"", &open(), CreateMode::Ephemeral)
            .await
            .unwrap();
        recipes::delete_recursive(&client, "/x").await.unwrap();
        assert!(client.exists("/x").await.unwrap().is_none());
        recipes::delete_recursive(&client, "/x").await.unwrap();
        assert!(matches!(
            recipes::create_protected(&client, "/", b"", &open(), CreateMode::Persistent).await,
            Err(Error::BadArguments(_))
        ));
    });
}

// ----- helpers -----

fn open() -> Vec<Acl> {
    Acl::open_unsafe()
}

fn client_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Runs `body` on a client runtime against a fresh server.
fn with_server<F, Fut>(body: F)
where
    F: FnOnce(SocketAddr) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let rt = client_runtime();
    rt.block_on(body(server.addr));
    drop(rt);
    server.stop();
}

fn restart(dir: PathBuf, addr: SocketAddr) -> TestServer {
    TestServer::start_with(&dir, |o| o.client_addr = addr)
}

async fn connect(addr: SocketAddr) -> Client {
    Client::connect(
        &addr.to_string(),
        ClientOptions::default().session_timeout(Duration::from_secs(10)),
    )
    .await
    .unwrap()
}

async fn connect_many(addr: SocketAddr, n: usize) -> Vec<Client> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(connect(addr).await);
    }
    out
}

async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    tokio::time::timeout(DEADLINE, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

fn name_of(path: &str) -> &str {
    path.rsplit('/').next().unwrap()
}

/// `_c_<uuid>-<name><10 digits>`, Curator's protected sequential name.
fn is_protected(node: &str, name: &str) -> bool {
    let Some(rest) = node.strip_prefix("_c_") else {
        return false;
    };
    rest.len() == 36 + 1 + name.len() + 10
        && rest.as_bytes()[36] == b'-'
        && rest[37..].starts_with(name)
        && rest[37 + name.len()..].bytes().all(|b| b.is_ascii_digit())
}

async fn next_event(events: &mut CacheEvents) -> CacheEvent {
    within("a cache event", events.next()).await.unwrap()
}

async fn created_until_initialized(events: &mut CacheEvents) -> Vec<String> {
    let mut paths = Vec::new();
    loop {
        match next_event(events).await {
            CacheEvent::Created(d) => paths.push(d.path),
            CacheEvent::Initialized => return paths,
            other => panic!("unexpected {other:?} before Initialized"),
        }
    }
}

async fn summarize(events: &mut CacheEvents, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(match next_event(events).await {
            CacheEvent::Created(d) => format!("created {}", d.path),
            CacheEvent::Changed(d) => format!("changed {}", d.path),
            CacheEvent::Deleted(d) => format!("deleted {}", d.path),
            CacheEvent::Resynced => "resynced".into(),
            other => format!("{other:?}"),
        });
    }
    out
}

/// A loopback TCP proxy that can refuse connections or swallow the server's replies.
struct Proxy {
    addr: SocketAddr,
    mode: Arc<AtomicU8>,
    kill: broadcast::Sender<()>,
}

const PASS: u8 = 0;
const REFUSE: u8 = 1;
const SWALLOW: u8 = 2;
/// Passes traffic until the client sends a write, then swallows replies.
const ARMED: u8 = 3;
/// create, delete, setData, multi, create2, createContainer, createTTL.
const WRITE_OPS: [i32; 7] = [1, 2, 5, 14, 15, 19, 21];

impl Proxy {
    async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mode = Arc::new(AtomicU8::new(PASS));
        let (kill, _) = broadcast::channel(4);
        let (m, k) = (mode.clone(), kill.clone());
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if m.load(Ordering::SeqCst) == REFUSE {
                    continue;
                }
                let Ok(outbound) = TcpStream::connect(target).await else {
                    continue;
                };
                tokio::spawn(pump(inbound, outbound, m.clone(), k.subscribe()));
            }
        });
        Proxy { addr, mode, kill }
    }

    /// Drops every connection and refuses new ones.
    fn refuse(&self) {
        self.mode.store(REFUSE, Ordering::SeqCst);
        let _ = self.kill.send(());
    }

    /// Forwards requests but drops the server's replies from the next write on.
    fn swallow_replies_from_next_write(&self) {
        self.mode.store(ARMED, Ordering::SeqCst);
    }

    /// Drops every connection and forwards new ones normally.
    fn pass(&self) {
        self.mode.store(PASS, Ordering::SeqCst);
        let _ = self.kill.send(());
    }
}

async fn pump(
    mut inbound: TcpStream,
    mut outbound: TcpStream,
    mode: Arc<AtomicU8>,
    mut kill: broadcast::Receiver<()>,
) {
    let (mut ci, mut co) = inbound.split();
    let (mut si, mut so) = outbound.split();
    let up = async {
        let mut buf = vec![0u8; 65536];
        // Frames seen so far, to spot the first write when armed (the first frame is the
        // ConnectRequest, without a request header).
        let mut pending: Vec<u8> = Vec::new();
        let mut first = true;
        loop {
            match ci.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    pending.extend_from_slice(&buf[..n]);
                    while pending.len() >= 4 {
                        let len =
                            u32::from_be_bytes([pending[0], pending[1], pending[2], pending[3]])
                                as usize;
                        if pending.len() < 4 + len {
                            break;
                        }
                        let frame: Vec<u8> = pending.drain(..4 + len).collect();
                        if !first && len >= 8 && mode.load(Ordering::SeqCst) == ARMED {
                            let op = i32::from_be_bytes([frame[8], frame[9], frame[10], frame[11]]);
                            if WRITE_OPS.contains(&op) {
                                mode.store(SWALLOW, Ordering::SeqCst);
                            }
                        }
                        first = false;
                        if so.write_all(&frame).await.is_err() {
                            return;
                        }
                    }
                }
            }
        }
    };
    let down = async {
        let mut buf = vec![0u8; 65536];
        loop {
            match si.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if mode.load(Ordering::SeqCst) == SWALLOW {
                        continue;
                    }
                    if co.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            }
        }
    };
    tokio::select! {
        () = up => {}
        () = down => {}
        _ = kill.recv() => {}
    }
}
