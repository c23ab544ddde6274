//! What every recipe shares: paths, UUIDs, retries after a connection loss, contender
//! parsing, outcome markers and the monitor behind [`LockGuard`](super::LockGuard)'s
//! lost flag.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::sync::{broadcast, watch};

use crate::client::{Client, Error, Op, Result, SessionState, StateEvent};
use crate::proto::{Acl, CreateMode, ErrorCode, EventType, Stat};

/// Markers of exclusive contenders: Curator mutex (`lock-`), kazoo lock / write lock
/// (`__lock__`), Curator write lock (`__WRIT__`).
pub(crate) const EXCLUSIVE_MARKERS: &[&str] = &["lock-", "__lock__", "__WRIT__"];
/// Markers of shared contenders: Curator read lock (`__READ__`), kazoo read lock
/// (`__rlock__`).
pub(crate) const SHARED_MARKERS: &[&str] = &["__READ__", "__rlock__"];
/// Curator's leader latch.
pub(crate) const LATCH_MARKER: &str = "latch-";

/// A random version-4 UUID in canonical form, as Curator's `UUID.randomUUID()` prints it.
pub(crate) fn uuid_v4() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// `parent/name`, without doubling the root's slash.
pub(crate) fn join(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

/// Splits `/a/b/c` into (`/a/b`, `c`); the root has no name.
pub(crate) fn split(path: &str) -> Result<(&str, &str)> {
    match path.rfind('/') {
        Some(_) if path.len() <= 1 => Err(Error::BadArguments(format!(
            "{path:?}: a recipe needs a path below the root"
        ))),
        Some(0) => Ok(("/", &path[1..])),
        Some(i) => Ok((&path[..i], &path[i + 1..])),
        None => Err(Error::BadArguments(format!(
            "{path:?}: paths start with '/'"
        ))),
    }
}

/// The last segment of a path.
pub(crate) fn name_of(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Waits until the client is connected again after a connection loss; fails when the
/// session ends (or no reconnect happens within a few session timeouts).
pub(crate) async fn await_reconnect(client: &Client) -> Result<()> {
    let limit = client.session_timeout().max(Duration::from_secs(1)) * 3;
    match client.wait_connected(limit).await {
        Err(Error::Timeout) => Err(Error::ConnectionLoss),
        other => other,
    }
}

/// Runs an idempotent call, again after each connection loss once reconnected.
pub(crate) async fn retry<T, F, Fut>(client: &Client, mut call: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    loop {
        match call().await {
            Err(e) if e.is_connection_loss() => await_reconnect(client).await?,
            other => return other,
        }
    }
}

/// Children of `path`; a missing node has none.
pub(crate) async fn children_or_empty(client: &Client, path: &str) -> Result<Vec<String>> {
    match retry(client, || client.get_children(path)).await {
        Err(Error::Server(ErrorCode::NoNode)) => Ok(Vec::new()),
        other => other,
    }
}

/// Creates `path` and its missing ancestors in `mode`; existing nodes are success.
pub(crate) async fn ensure_path(
    client: &Client,
    path: &str,
    acl: &[Acl],
    mode: CreateMode,
) -> Result<()> {
    if path == "/" || retry(client, || client.exists(path)).await?.is_some() {
        return Ok(());
    }
    let mut prefix = String::new();
    for segment in path.split('/').skip(1) {
        prefix.push('/');
        prefix.push_str(segment);
        match retry(client, || client.create(&prefix, b"", acl, mode)).await {
            Ok(_) | Err(Error::Server(ErrorCode::NodeExists)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Creates the persistent, empty node `path` (parents in `parent_mode`); an existing node
/// is success.
pub(crate) async fn create_if_absent(
    client: &Client,
    path: &str,
    parent_mode: CreateMode,
) -> Result<()> {
    let acl = Acl::open_unsafe();
    let (parent, _) = split(path)?;
    ensure_path(client, parent, &acl, parent_mode).await?;
    match retry(client, || {
        client.create(path, b"", &acl, CreateMode::Persistent)
    })
    .await
    {
        Ok(_) | Err(Error::Server(ErrorCode::NodeExists)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// [`create_protected`](super::create_protected), creating missing parents as containers
/// (Curator's `creatingParentContainersIfNeeded`).
pub(crate) async fn create_protected_in(
    client: &Client,
    path: &str,
    data: &[u8],
    mode: CreateMode,
) -> Result<(String, Stat)> {
    let acl = Acl::open_unsafe();
    let (parent, _) = split(path)?;
    let mut attempts = 0;
    loop {
        match super::create_protected(client, path, data, &acl, mode).await {
            Err(Error::Server(ErrorCode::NoNode)) if attempts < 5 => {
                attempts += 1;
                ensure_path(client, parent, &acl, CreateMode::Container).await?;
            }
            other => return other,
        }
    }
}

/// Deletes `path` and its subtree (the root itself stays, as does `/zookeeper`).
pub(crate) fn delete_recursive<'a>(
    client: &'a Client,
    path: &'a str,
) -> Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>> {
    Box::pin(async move {
        for _ in 0..100 {
            let children = match retry(client, || client.get_children(path)).await {
                Ok(children) => children,
                Err(Error::Server(ErrorCode::NoNode)) => return Ok(()),
                Err(e) => return Err(e),
            };
            for child in children {
                if path == "/" && child == "zookeeper" {
                    continue;
                }
                delete_recursive(client, &join(path, &child)).await?;
            }
            if path == "/" {
                return Ok(());
            }
            match retry(client, || client.delete(path, -1)).await {
                Ok(()) | Err(Error::Server(ErrorCode::NoNode)) => return Ok(()),
                Err(Error::Server(ErrorCode::NotEmpty)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::Server(ErrorCode::NotEmpty))
    })
}

/// A lock contender parsed from a child name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Contender {
    pub name: String,
    pub seq: i64,
    /// A reader (shared) rather than an exclusive contender.
    pub shared: bool,
}

/// The sequence number of `name` if it ends with one of `markers` followed by digits.
pub(crate) fn sequence_after(name: &str, markers: &[&str]) -> Option<i64> {
    let head = name.trim_end_matches(|c: char| c.is_ascii_digit());
    if head.len() == name.len() || !markers.iter().any(|m| head.ends_with(m)) {
        return None;
    }
    name[head.len()..].parse().ok()
}

/// Every lock contender among `children` (Curator's and kazoo's names), in sequence order.
pub(crate) fn lock_contenders(children: &[String]) -> Vec<Contender> {
    let mut out: Vec<Contender> = children
        .iter()
        .filter_map(|name| {
            if let Some(seq) = sequence_after(name, EXCLUSIVE_MARKERS) {
                Some(Contender {
                    name: name.clone(),
                    seq,
                    shared: false,
                })
            } else {
                sequence_after(name, SHARED_MARKERS).map(|seq| Contender {
                    name: name.clone(),
                    seq,
                    shared: true,
                })
            }
        })
        .collect();
    out.sort_by(|a, b| (a.seq, &a.name).cmp(&(b.seq, &b.name)));
    out
}

/// Children carrying `marker` + sequence, in sequence order.
pub(crate) fn sorted_by_sequence(children: &[String], marker: &str) -> Vec<(i64, String)> {
    let mut out: Vec<(i64, String)> = children
        .iter()
        .filter_map(|name| sequence_after(name, &[marker]).map(|seq| (seq, name.clone())))
        .collect();
    out.sort();
    out
}

/// How an operation run with an outcome marker ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Applied (whether or not its reply arrived).
    Applied,
    /// Not applied (the connection dropped before it was).
    NotApplied,
}

/// Runs `ops` in one multi together with the creation of an ephemeral marker node at
/// `marker`, so that after a connection loss the marker's presence tells whether the multi
/// was applied. The marker is deleted afterwards. Other failures are returned as errors.
pub(crate) async fn multi_with_marker(
    client: &Client,
    mut ops: Vec<Op>,
    marker: &str,
) -> Result<Outcome> {
    ops.push(Op::create(
        marker,
        b"",
        &Acl::open_unsafe(),
        CreateMode::Ephemeral,
    ));
    let outcome = match client.multi(ops).await {
        Ok(_) => Outcome::Applied,
        Err(e) if e.is_connection_loss() => {
            await_reconnect(client).await?;
            let (parent, _) = split(marker)?;
            let found = retry(client, || async {
                match client.sync(parent).await {
                    Ok(()) | Err(Error::Server(ErrorCode::NoNode)) => {}
                    Err(e) => return Err(e),
                }
                client.exists(marker).await
            })
            .await?;
            if found.is_none() {
                return Ok(Outcome::NotApplied);
            }
            Outcome::Applied
        }
        Err(e) => return Err(e),
    };
    match retry(client, || client.delete(marker, -1)).await {
        Ok(()) | Err(Error::Server(ErrorCode::NoNode)) => {}
        // Ephemeral: it goes with the session if this delete cannot be done.
        Err(_) => {}
    }
    Ok(outcome)
}

/// Starts watching for the loss of the node at `path`: the returned flag turns true when
/// `events` (subscribed before the holder checked its position) reports anything but a
/// connected state, lags, or the node is deleted. The monitor ends when every receiver is
/// dropped.
pub(crate) fn watch_lost(
    client: Client,
    path: String,
    mut events: broadcast::Receiver<StateEvent>,
) -> watch::Receiver<bool> {
    // A suspension already reported (or a lagged stream) makes the hold lost from the
    // start, before the caller can act on it.
    let mut lost = !client.state().is_connected();
    while !lost {
        match events.try_recv() {
            Ok(StateEvent { state, .. }) if state.is_connected() => {}
            Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_)) => lost = true,
            Err(_) => break,
        }
    }
    let (tx, rx) = watch::channel(lost);
    if lost {
        return rx;
    }
    crate::client::runtime::spawn(async move {
        tokio::select! {
            () = until_lost(&client, &path, events) => {
                let _ = tx.send(true);
            }
            () = tx.closed() => {}
        }
    });
    rx
}

/// Resolves when the holder of `path` must consider its hold lost.
pub(crate) async fn until_lost(
    client: &Client,
    path: &str,
    mut events: broadcast::Receiver<StateEvent>,
) {
    if !client.state().is_connected() {
        return;
    }
    let gone = node_gone(client, path);
    tokio::pin!(gone);
    loop {
        tokio::select! {
            () = &mut gone => return,
            event = events.recv() => match event {
                Ok(StateEvent { state, .. }) if state.is_connected() => {}
                Ok(StateEvent { state: SessionState::Connecting, .. }) => {}
                // Suspended, Expired, AuthFailed, Closed; a lagged stream may hide one.
                _ => return,
            },
        }
    }
}

/// Resolves when the node at `path` is deleted. Session trouble is left to the state
/// stream: then this never resolves.
async fn node_gone(client: &Client, path: &str) {
    loop {
        match client.exists_watch(path).await {
            Ok((None, _)) => return,
            Ok((Some(_), watch)) => match watch.changed().await {
                Ok(event) if event.event_type == EventType::NodeDeleted => return,
                Ok(event) if event.event_type != EventType::None => {}
                _ => std::future::pending::<()>().await,
            },
            Err(_) => std::future::pending::<()>().await,
        }
    }
}

/// Waits for `fut` until `deadline`; `None` when the deadline passed first.
pub(crate) async fn until<F: Future>(
    deadline: Option<tokio::time::Instant>,
    fut: F,
) -> Option<F::Output> {
    match deadline {
        Some(at) => tokio::time::timeout_at(at, fut).await.ok(),
        None => Some(fut.await),
    }
}

/// A deadline `timeout` from now.
pub(crate) fn deadline(timeout: Option<Duration>) -> Option<tokio::time::Instant> {
    timeout.map(|t| tokio::time::Instant::now() + t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_is_canonical_v4() {
        let id = uuid_v4();
        assert_eq!(id.len(), 36);
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
        assert!(matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'));
    }

    #[test]
    fn paths() {
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
        assert_eq!(split("/a").unwrap(), ("/", "a"));
        assert_eq!(split("/a/b/c").unwrap(), ("/a/b", "c"));
        assert!(split("/").is_err());
        assert!(split("a").is_err());
        assert_eq!(name_of("/a/b"), "b");
    }

    #[test]
    fn curator_and_kazoo_contenders_sort_by_sequence() {
        let children: Vec<String> = [
            "_c_0b6c1f2e-8a4e-4a51-9f5c-1d1d2c3b4a59-lock-0000000003",
            "0f3a9c__lock__0000000001",
            "ffff__lock__0000000002",
            "_c_1b6c1f2e-8a4e-4a51-9f5c-1d1d2c3b4a59-__lock__0000000004",
            "_c_2b6c1f2e-8a4e-4a51-9f5c-1d1d2c3b4a59-__READ__0000000005",
            "1234__rlock__0000000006",
            "unrelated",
            "lock-",
            "lease-0000000007",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let got: Vec<(i64, bool)> = lock_contenders(&children)
            .iter()
            .map(|c| (c.seq, c.shared))
            .collect();
        assert_eq!(
            got,
            [
                (1, false),
                (2, false),
                (3, false),
                (4, false),
                (5, true),
                (6, true)
            ]
        );
        assert_eq!(
            sequence_after("_c_x-latch-0000000012", &[LATCH_MARKER]),
            Some(12)
        );
        assert_eq!(sequence_after("_c_x-latch-", &[LATCH_MARKER]), None);
    }
}
