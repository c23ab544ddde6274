//! Fault cases through a loopback proxy, run against zk-server and against Apache.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::timeout;
use zk_core::client::{Client, ClientOptions, Error, SessionState};
use zk_core::proto::{Acl, CreateMode, EventType};

use super::proxy::Proxy;

const DEADLINE: Duration = Duration::from_secs(20);

pub fn options(session_ms: u64) -> ClientOptions {
    ClientOptions::default().session_timeout(Duration::from_millis(session_ms))
}

pub async fn wait_for_state(client: &Client, wanted: SessionState) {
    let mut events = client.state_events();
    timeout(DEADLINE, async {
        while client.state() != wanted {
            let _ = events.recv().await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("state {wanted:?} never came; now {:?}", client.state()));
}

pub async fn reconnect_keeps_the_session_and_every_watch(addr: SocketAddr) {
    let proxy = Proxy::start(addr).await;
    let client = Client::connect(&proxy.addr.to_string(), options(3000))
        .await
        .unwrap();
    let direct = Client::connect(&addr.to_string(), options(3000))
        .await
        .unwrap();
    let acl = Acl::open_unsafe();
    client
        .create("/w", b"0", &acl, CreateMode::Persistent)
        .await
        .unwrap();
    client
        .create("/eph", b"", &acl, CreateMode::Ephemeral)
        .await
        .unwrap();
    let (_, _, changed_while_away) = client.get_data_watch("/w").await.unwrap();
    let (_, _, children) = client.get_children_watch("/").await.unwrap();
    let session = client.session_id();
    let mut states = client.state_events();

    proxy.cut();
    direct.set_data("/w", b"1", -1).await.unwrap();
    let event = timeout(DEADLINE, changed_while_away.changed())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (event.event_type, event.path.as_str()),
        (EventType::NodeDataChanged, "/w")
    );
    wait_for_state(&client, SessionState::Connected).await;
    assert_eq!(
        client.session_id(),
        session,
        "the session survives the reconnect"
    );
    let seen: Vec<SessionState> = std::iter::from_fn(|| states.try_recv().ok())
        .map(|e| e.state)
        .collect();
    assert!(seen.contains(&SessionState::Suspended), "{seen:?}");
    assert!(
        direct.exists("/eph").await.unwrap().is_some(),
        "ephemerals live on"
    );

    direct
        .create("/new", b"", &acl, CreateMode::Persistent)
        .await
        .unwrap();
    let event = timeout(DEADLINE, children.changed())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        event.event_type,
        EventType::NodeChildrenChanged,
        "the child watch was re-registered"
    );
    client.close().await;
    direct.close().await;
}

pub async fn a_partition_longer_than_the_session_timeout_is_reported_as_expired(addr: SocketAddr) {
    let proxy = Proxy::start(addr).await;
    let client = Client::connect(&proxy.addr.to_string(), options(1000))
        .await
        .unwrap();
    client
        .create(
            "/gone-soon",
            b"",
            &Acl::open_unsafe(),
            CreateMode::Ephemeral,
        )
        .await
        .unwrap();
    let (_, _, watch) = client.get_data_watch("/gone-soon").await.unwrap();
    proxy.stall();
    let pending = client.get_data("/gone-soon");
    let result = timeout(DEADLINE, pending)
        .await
        .expect("a pending request never hangs");
    assert_eq!(result, Err(Error::ConnectionLoss));
    wait_for_state(&client, SessionState::Expired).await;
    let event = timeout(DEADLINE, watch.changed()).await.unwrap().unwrap();
    assert_eq!(event.state, zk_core::proto::KeeperState::Expired);
    assert_eq!(client.exists("/").await, Err(Error::SessionExpired));
    proxy.resume();
    let other = Client::connect(&addr.to_string(), options(1000))
        .await
        .unwrap();
    timeout(DEADLINE, async {
        while other.exists("/gone-soon").await.unwrap().is_some() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the server expires the session too");
}

pub async fn requests_fail_with_timeout_instead_of_hanging(addr: SocketAddr) {
    let proxy = Proxy::start(addr).await;
    let opts = options(10_000).request_timeout(Duration::from_millis(300));
    let client = Client::connect(&proxy.addr.to_string(), opts)
        .await
        .unwrap();
    proxy.stall();
    let result = timeout(DEADLINE, client.exists("/x")).await.unwrap();
    assert_eq!(result, Err(Error::Timeout));
    proxy.resume();
    timeout(DEADLINE, async {
        while client.exists("/").await.is_err() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the client recovers after the stall");
    client.close().await;
}

pub async fn close_from_inside_a_watch_handler_does_not_deadlock(addr: SocketAddr) {
    let client = Client::connect(&addr.to_string(), options(3000))
        .await
        .unwrap();
    let (_, watch) = client.exists_watch("/trigger").await.unwrap();
    let handler_client = client.clone();
    let handler = tokio::spawn(async move {
        let event = watch.changed().await.unwrap();
        handler_client.close().await;
        event
    });
    let other = Client::connect(&addr.to_string(), options(3000))
        .await
        .unwrap();
    other
        .create("/trigger", b"", &Acl::open_unsafe(), CreateMode::Persistent)
        .await
        .unwrap();
    let event = timeout(DEADLINE, handler).await.unwrap().unwrap();
    assert_eq!(event.event_type, EventType::NodeCreated);
    assert_eq!(client.state(), SessionState::Closed);
    other.close().await;
}

/// A reconnect that reaches a server which accepts the connection and never answers (a
/// process starting or stopping, a hung host) is given up in time to resume the session on
/// the next attempt; waiting the whole session timeout on it would expire the session.
pub async fn an_unanswered_reconnect_is_given_up_before_the_session_expires(addr: SocketAddr) {
    let proxy = Proxy::start(addr).await;
    let client = Client::connect(&proxy.addr.to_string(), options(20_000))
        .await
        .unwrap();
    let session = client.session_id();
    let mut events = client.state_events();

    proxy.swallow_new(true);
    proxy.cut();
    timeout(DEADLINE, async {
        while proxy.swallowed() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the client never tried to reconnect");
    proxy.swallow_new(false);

    let outcome = timeout(Duration::from_secs(60), async {
        loop {
            let state = client.state();
            if matches!(state, SessionState::Connected | SessionState::Expired) {
                return state;
            }
            let _ = events.recv().await;
        }
    })
    .await
    .expect("the client neither reconnected nor expired");
    assert_eq!(outcome, SessionState::Connected);
    assert_eq!(client.session_id(), session, "the session was resumed");
    client.get_data("/").await.unwrap();
    client.close().await;
}
