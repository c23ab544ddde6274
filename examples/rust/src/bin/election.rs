//! Leader election, the classic recipe written out: each contender creates an ephemeral
//! sequential node; the lowest leads; every other contender watches only the node just
//! before its own. When the leader goes, exactly one contender wakes up (no herd effect).
//! (`zk_core::recipes::LeaderLatch` packages the same algorithm on Curator's layout.)
//!
//!     cargo run -p zk-examples --bin election -- 127.0.0.1:2181

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use zk_core::proto::{Acl, CreateMode};
use zk_core::recipes;
use zk_examples::{connect, hosts, verdict};

const CONTENDERS: usize = 4;

#[tokio::main]
async fn main() {
    let hosts = hosts();
    let admin = connect(&hosts).await;
    // A directory of our own, so nodes a killed earlier run left behind are not in line.
    let dir = format!("/examples/election/run-{}", std::process::id());
    recipes::ensure_path(&admin, &dir).await.unwrap();
    let wakeups = Arc::new(AtomicUsize::new(0));
    let (leader_tx, mut leaders) = mpsc::unbounded_channel();
    let (in_line_tx, mut in_line) = mpsc::unbounded_channel();
    let mut resign = Vec::new();
    for id in 0..CONTENDERS {
        let (tx, rx) = oneshot::channel();
        resign.push(Some(tx));
        let (hosts, dir, wakeups, leader_tx, in_line_tx) = (
            hosts.clone(),
            dir.clone(),
            wakeups.clone(),
            leader_tx.clone(),
            in_line_tx.clone(),
        );
        tokio::spawn(async move {
            let channels = (leader_tx, in_line_tx);
            contend(id, &hosts, &dir, &wakeups, channels, rx).await
        });
    }
    // Nobody steps down before every contender leads or watches its predecessor.
    for _ in 0..CONTENDERS {
        if !matches!(
            tokio::time::timeout(Duration::from_secs(30), in_line.recv()).await,
            Ok(Some(()))
        ) {
            verdict("election", false, "the contenders did not get in line");
        }
    }
    let mut ok = true;
    for round in 0..CONTENDERS {
        let Ok(Some(leader)) = tokio::time::timeout(Duration::from_secs(30), leaders.recv()).await
        else {
            verdict("election", false, "no leader came");
        };
        let woken = wakeups.load(Ordering::SeqCst);
        println!("round {round}: contender {leader} leads; contenders woken so far: {woken}");
        ok &= woken == round; // each resignation woke exactly one contender
        if let Some(tx) = resign[leader].take() {
            let _ = tx.send(()); // the leader steps down: its session (and node) ends
        }
    }
    recipes::delete_recursive(&admin, &dir).await.unwrap();
    admin.close().await;
    verdict(
        "election",
        ok,
        "each change of leader woke exactly one contender",
    );
}

async fn contend(
    id: usize,
    hosts: &str,
    dir: &str,
    wakeups: &AtomicUsize,
    (leaders, in_line): (mpsc::UnboundedSender<usize>, mpsc::UnboundedSender<()>),
    resign: oneshot::Receiver<()>,
) {
    let client = connect(hosts).await;
    let (path, _) = client
        .create(
            &format!("{dir}/n_"),
            id.to_string().as_bytes(),
            &Acl::open_unsafe(),
            CreateMode::EphemeralSequential,
        )
        .await
        .unwrap();
    let me = path.rsplit('/').next().unwrap().to_owned();
    let mut placed = Some(in_line);
    loop {
        let mut line = client.get_children(dir).await.unwrap();
        line.sort(); // the ten-digit suffix sorts as text
        let position = line.iter().position(|n| *n == me).unwrap();
        if position == 0 {
            println!("contender {id} ({me}) leads");
            if let Some(in_line) = placed.take() {
                let _ = in_line.send(());
            }
            let _ = leaders.send(id);
            let _ = resign.await;
            client.close().await;
            return;
        }
        let before = &line[position - 1];
        println!("contender {id} ({me}) watches {before}");
        let (exists, watch) = client
            .exists_watch(&format!("{dir}/{before}"))
            .await
            .unwrap();
        if let Some(in_line) = placed.take() {
            let _ = in_line.send(());
        }
        if exists.is_some() {
            let _ = watch.changed().await;
            wakeups.fetch_add(1, Ordering::SeqCst);
            println!("contender {id} woke up: {before} is gone");
        }
    }
}
