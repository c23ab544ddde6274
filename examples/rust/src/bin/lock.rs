//! Distributed lock (`zk_core::recipes::Mutex`, Curator's layout): contenders queue as
//! ephemeral sequential nodes and each watches only the one before it, so a release wakes
//! exactly the next in line (no herd effect) and the lock is handed over in queue order.
//! Then several clients do a read-modify-write of a counter that only the lock keeps
//! from losing updates.
//!
//!     cargo run -p zk-examples --bin lock -- 127.0.0.1:2181

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use zk_core::proto::{Acl, CreateMode};
use zk_core::recipes::{self, Mutex};
use zk_examples::{connect, hosts, verdict};

const WORKERS: usize = 4;
const ROUNDS: usize = 5;

#[tokio::main]
async fn main() {
    let hosts = hosts();
    let dir = format!("/examples/lock/run-{}", std::process::id());
    let counter = format!("{dir}-counter");
    let first = connect(&hosts).await;
    recipes::ensure_path(&first, "/examples/lock")
        .await
        .unwrap();
    first
        .create(&counter, b"0", &Acl::open_unsafe(), CreateMode::Persistent)
        .await
        .unwrap();

    // 1. Queue order: while one client holds the lock, workers line up one by one.
    let holder = Mutex::new(&first, &dir).acquire().await.unwrap();
    let order = Arc::new(StdMutex::new(Vec::new()));
    let mut workers = Vec::new();
    for id in 0..WORKERS {
        let client = connect(&hosts).await;
        let mutex = Mutex::new(&client, &dir);
        let order = order.clone();
        workers.push(tokio::spawn(async move {
            let guard = mutex.acquire().await.unwrap();
            println!(
                "worker {id} got the lock (fencing token {:#x})",
                guard.fencing_token()
            );
            order.lock().unwrap().push(id);
            guard.release().await.unwrap();
            (client, mutex)
        }));
        let line = Mutex::new(&first, &dir);
        while line.contenders().await.unwrap().len() < id + 2 {
            tokio::time::sleep(Duration::from_millis(5)).await; // wait until it is in line
        }
        println!("worker {id} is in line");
    }
    holder.release().await.unwrap();
    let mut clients = Vec::new();
    for worker in workers {
        clients.push(worker.await.unwrap());
    }
    let fifo = *order.lock().unwrap() == (0..WORKERS).collect::<Vec<_>>();

    // 2. Mutual exclusion: unprotected read-modify-writes, serialised by the lock.
    let inside = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for (client, mutex) in clients {
        let (counter, inside) = (counter.clone(), inside.clone());
        tasks.push(tokio::spawn(async move {
            let mut alone = true;
            for _ in 0..ROUNDS {
                let guard = mutex.acquire().await.unwrap();
                alone &= !inside.swap(true, Ordering::SeqCst);
                let (data, _) = client.get_data(&counter).await.unwrap();
                let n: u64 = String::from_utf8_lossy(&data).parse().unwrap();
                client
                    .set_data(&counter, (n + 1).to_string().as_bytes(), -1)
                    .await
                    .unwrap();
                inside.store(false, Ordering::SeqCst);
                guard.release().await.unwrap();
            }
            client.close().await;
            alone
        }));
    }
    let mut alone = true;
    for task in tasks {
        alone &= task.await.unwrap();
    }
    let (data, _) = first.get_data(&counter).await.unwrap();
    let total = String::from_utf8_lossy(&data).into_owned();
    println!("counter {total}, expected {}", WORKERS * ROUNDS);
    recipes::delete_recursive(&first, &dir).await.unwrap();
    first.delete(&counter, -1).await.unwrap();
    first.close().await;
    let ok = fifo && alone && total == (WORKERS * ROUNDS).to_string();
    verdict("lock", ok, "handed over in queue order; no update lost");
}
