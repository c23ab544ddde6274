//! The recipes on kazoo's layouts and kazoo's watch helpers: [`DataWatcher`],
//! [`ChildrenWatcher`], the kazoo-layout [`Semaphore`], [`LockingQueue`], and the path
//! helpers (`create_with_parents`, `ensure_path_with_acl`).

mod common;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use common::TestServer;
use zk_core::client::{Client, ClientOptions, Error};
use zk_core::proto::{perms, Acl, CreateMode, ErrorCode, EventType};
use zk_core::recipes::{
    create_with_parents, ensure_path_with_acl, ChildrenWatcher, DataWatcher, Layout, LockingQueue,
    Semaphore,
};

const DEADLINE: Duration = Duration::from_secs(30);

#[test]
fn data_watcher_follows_a_node_through_create_change_and_delete() {
    with_server(|addr| async move {
        let client = connect(addr).await;
        let mut watcher = DataWatcher::new(&client, "/dw");
        let first = within("first state", watcher.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first.node, None);
        assert_eq!(first.event, None);

        client
            .create("/dw", b"one", &open(), CreateMode::Persistent)
            .await
            .unwrap();
        let created = within("created", watcher.next()).await.unwrap().unwrap();
        assert_eq!(
            created.node.as_ref().map(|(d, _)| d.as_slice()),
            Some(&b"one"[..])
        );
        assert_eq!(created.event.unwrap().event_type, EventType::NodeCreated);

        client.set_data("/dw", b"two", -1).await.unwrap();
        let changed = within("changed", watcher.next()).await.unwrap().unwrap();
        let (data, stat) = changed.node.unwrap();
        assert_eq!(data, b"two");
        assert_eq!(stat.version, 1);
        assert_eq!(
            changed.event.unwrap().event_type,
            EventType::NodeDataChanged
        );

        client.delete("/dw", -1).await.unwrap();
        let deleted = within("deleted", watcher.next()).await.unwrap().unwrap();
        assert_eq!(deleted.node, None);
        assert_eq!(deleted.event.unwrap().event_type, EventType::NodeDeleted);

        client.close().await;
        assert_eq!(within("end", watcher.next()).await.unwrap(), None);
    });
}

#[test]
fn children_watcher_reports_changes_and_then_the_deletion_of_its_node() {
    with_server(|addr| async move {
        let client = connect(addr).await;
        client
            .create("/cw", b"", &open(), CreateMode::Persistent)
            .await
            .unwrap();
        let mut watcher = ChildrenWatcher::new(&client, "/cw");
        let first = within("first", watcher.next()).await.unwrap().unwrap();
        assert_eq!(first.children, Some(vec![]));

        client
            .create("/cw/a", b"", &open(), CreateMode::Persistent)
            .await
            .unwrap();
        let added = within("added", watcher.next()).await.unwrap().unwrap();
        assert_eq!(added.children, Some(vec!["a".to_owned()]));
        assert_eq!(
            added.event.unwrap().event_type,
            EventType::NodeChildrenChanged
        );

        client.delete("/cw/a", -1).await.unwrap();
        let removed = within("removed", watcher.next()).await.unwrap().unwrap();
        assert_eq!(removed.children, Some(vec![]));

        client.delete("/cw", -1).await.unwrap();
        let gone = within("gone", watcher.next()).await.unwrap().unwrap();
        assert_eq!(gone.children, None);
        assert_eq!(gone.event.unwrap().event_type, EventType::NodeDeleted);
        assert_eq!(within("end", watcher.next()).await.unwrap(), None);

        // A missing node is reported once as gone.
        let mut missing = ChildrenWatcher::new(&client, "/nope");
        let first = within("missing", missing.next()).await.unwrap().unwrap();
        assert_eq!(first.children, None);
        assert_eq!(within("end", missing.next()).await.unwrap(), None);
    });
}

#[test]
fn kazoo_semaphore_limits_leases_on_kazoos_layout() {
    with_server(|addr| async move {
        let clients = [
            connect(addr).await,
            connect(addr).await,
            connect(addr).await,
        ];
        let sem = |i: usize| {
            Semaphore::new(&clients[i], "/sem/pool", 2)
                .layout(Layout::Kazoo)
                .data(format!("holder-{i}").as_bytes())
        };
        let a = within("a", sem(0).acquire()).await.unwrap();
        let b = within("b", sem(1).acquire()).await.unwrap();
        assert!(
            within("c", sem(2).acquire_timeout(Duration::from_millis(300)))
                .await
                .unwrap()
                .is_none()
        );

        // kazoo's layout: leases are 32-hex-digit children of the path, the path holds the
        // maximum, the serialising lock is a sibling.
        let (max, _) = clients[0].get_data("/sem/pool").await.unwrap();
        assert_eq!(max, b"2");
        let mut leases = clients[0].get_children("/sem/pool").await.unwrap();
        leases.sort();
        assert_eq!(leases.len(), 2);
        assert!(leases
            .iter()
            .all(|n| n.len() == 32 && n.chars().all(|c| c.is_ascii_hexdigit())));
        assert!(clients[0]
            .exists("/sem/pool-__lock__")
            .await
            .unwrap()
            .is_some());
        let mut holders: Vec<Vec<u8>> = sem(0).holders().await.unwrap();
        holders.sort();
        assert_eq!(holders, vec![b"holder-0".to_vec(), b"holder-1".to_vec()]);
        assert!(b.fencing_token() > a.fencing_token());

        // A waiter gets the lease a holder returns.
        let waiter = tokio::spawn({
            let sem = sem(2);
            async move { sem.acquire().await }
        });
        a.release().await.unwrap();
        let c = within("c after a", waiter).await.unwrap().unwrap();
        assert!(!c.is_lost());

        // Every participant must agree on the maximum.
        let wrong = Semaphore::new(&clients[0], "/sem/pool", 3).layout(Layout::Kazoo);
        match within("mismatch", wrong.acquire_timeout(Duration::from_secs(1))).await {
            Err(Error::BadArguments(why)) => assert!(why.contains("max leases"), "{why}"),
            other => panic!("expected a max-leases mismatch, got {other:?}"),
        }
        b.release().await.unwrap();
        c.release().await.unwrap();
        assert!(clients[0]
            .get_children("/sem/pool")
            .await
            .unwrap()
            .is_empty());
    });
}

#[test]
fn locking_queue_locks_entries_until_consumed_or_released() {
    with_server(|addr| async move {
        let producer = connect(addr).await;
        let (c1, c2) = (connect(addr).await, connect(addr).await);
        let queue = LockingQueue::new(&producer, "/lq");
        queue.put(b"first").await.unwrap();
        queue.put_all(&[b"urgent-1", b"urgent-2"], 5).await.unwrap();
        assert!(matches!(
            queue.put_all(&[b"x"], 1000).await,
            Err(Error::BadArguments(_))
        ));
        assert_eq!(queue.len().await.unwrap(), 3);

        let q1 = LockingQueue::new(&c1, "/lq");
        let q2 = LockingQueue::new(&c2, "/lq");
        assert_eq!(q1.get(None).await.unwrap().unwrap(), b"urgent-1");
        // A consumer holding an entry gets the same entry again.
        assert_eq!(q1.get(None).await.unwrap().unwrap(), b"urgent-1");
        assert_eq!(q2.get(None).await.unwrap().unwrap(), b"urgent-2");
        assert!(q1.holds_lock().await.unwrap());
        assert!(q1.consume().await.unwrap());
        assert!(!q1.holds_lock().await.unwrap());
        assert_eq!(queue.len().await.unwrap(), 2);

        // Released entries go back to the queue.
        assert!(q2.release().await.unwrap());
        assert_eq!(q1.get(None).await.unwrap().unwrap(), b"urgent-2");
        assert!(q1.consume().await.unwrap());

        // A consumer's session ending unlocks its entry for others.
        assert_eq!(q2.get(None).await.unwrap().unwrap(), b"first");
        assert!(q1
            .get(Some(Duration::from_millis(200)))
            .await
            .unwrap()
            .is_none());
        c2.close().await;
        assert_eq!(
            within("retake", q1.get(Some(DEADLINE)))
                .await
                .unwrap()
                .unwrap(),
            b"first"
        );
        assert!(q1.consume().await.unwrap());
        assert_eq!(queue.len().await.unwrap(), 0);
        assert!(!q1.consume().await.unwrap());

        // A waiting consumer is woken by a put.
        let waiting = tokio::spawn(async move { q1.get(Some(DEADLINE)).await });
        queue.put(b"late").await.unwrap();
        assert_eq!(
            within("late", waiting).await.unwrap().unwrap().unwrap(),
            b"late"
        );
    });
}

#[test]
fn create_with_parents_and_ensure_path_with_acl() {
    with_server(|addr| async move {
        let client = connect(addr).await;
        let everything = vec![Acl::new(perms::ALL, "world", "anyone")];
        let (path, _) = create_with_parents(
            &client,
            "/p/q/r/seq-",
            Some(b"x"),
            &everything,
            CreateMode::PersistentSequential,
            None,
        )
        .await
        .unwrap();
        assert!(path.starts_with("/p/q/r/seq-"));
        assert!(client.exists("/p/q/r").await.unwrap().is_some());
        match create_with_parents(&client, "/p", None, &open(), CreateMode::Persistent, None).await
        {
            Err(Error::Server(ErrorCode::NodeExists)) => {}
            other => panic!("expected NodeExists, got {other:?}"),
        }
        let acl = vec![Acl::new(perms::READ | perms::CREATE, "world", "anyone")];
        ensure_path_with_acl(&client, "/e/f", &acl).await.unwrap();
        let (got, _) = client.get_acl("/e/f").await.unwrap();
        assert_eq!(got, acl);
    });
}

// ----- helpers -----

fn open() -> Vec<Acl> {
    Acl::open_unsafe()
}

fn with_server<F, Fut>(body: F)
where
    F: FnOnce(SocketAddr) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(body(server.addr));
    drop(rt);
    server.stop();
}

async fn connect(addr: SocketAddr) -> Client {
    Client::connect(
        &addr.to_string(),
        ClientOptions::default().session_timeout(Duration::from_secs(10)),
    )
    .await
    .unwrap()
}

async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    tokio::time::timeout(DEADLINE, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}
