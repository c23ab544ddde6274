//! Barrier (`zk_core::recipes::DoubleBarrier`): a computation starts only once every
//! participant has arrived, and nobody leaves before everybody has finished.
//!
//!     cargo run -p zk-examples --bin barrier -- 127.0.0.1:2181

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use zk_core::recipes::{self, DoubleBarrier};
use zk_examples::{connect, hosts, verdict};

const PARTICIPANTS: usize = 4;

#[tokio::main]
async fn main() {
    let hosts = hosts();
    let path = format!("/examples/barrier/run-{}", std::process::id());
    let (entered, finished) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut tasks = Vec::new();
    for id in 0..PARTICIPANTS {
        let (hosts, path, entered, finished) = (
            hosts.clone(),
            path.clone(),
            entered.clone(),
            finished.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let client = connect(&hosts).await;
            let barrier =
                DoubleBarrier::new(&client, &path, PARTICIPANTS).data(id.to_string().as_bytes());
            // Arrive one after another, so the early ones really wait.
            tokio::time::sleep(Duration::from_millis(100 * id as u64)).await;
            entered.fetch_add(1, Ordering::SeqCst);
            println!("participant {id} arrives");
            assert!(barrier.enter(Some(Duration::from_secs(30))).await.unwrap());
            let all_in = entered.load(Ordering::SeqCst) == PARTICIPANTS;
            println!("participant {id} starts working");
            tokio::time::sleep(Duration::from_millis(50 * (PARTICIPANTS - id) as u64)).await;
            finished.fetch_add(1, Ordering::SeqCst);
            println!("participant {id} finished, leaving");
            assert!(barrier.leave(Some(Duration::from_secs(30))).await.unwrap());
            let all_done = finished.load(Ordering::SeqCst) == PARTICIPANTS;
            println!("participant {id} left");
            client.close().await;
            all_in && all_done
        }));
    }
    let mut ok = true;
    for task in tasks {
        ok &= task.await.unwrap_or(false);
    }
    let admin = connect(&hosts).await;
    recipes::delete_recursive(&admin, &path).await.unwrap();
    admin.close().await;
    verdict(
        "barrier",
        ok,
        "nobody started before all arrived, nobody left before all finished",
    );
}
