//! Configuration management: a service reloads its configuration whenever it changes.
//! Each reader keeps a persistent watch on `/examples/config/app` (it never has to re-arm
//! it, so no change can slip by) and re-reads the node on every change. The writer
//! publishes five versions; every reader gets every change, in the same order (the
//! changes' zxids), and ends on the last version.
//!
//!     cargo run -p zk-examples --bin config -- 127.0.0.1:2181

use std::time::Duration;

use tokio::sync::mpsc;
use zk_core::proto::{AddWatchMode, EventType};
use zk_core::recipes;
use zk_examples::{connect, hosts, verdict};

const READERS: usize = 3;
const VERSIONS: usize = 5;
const PATH: &str = "/examples/config/app";

#[tokio::main]
async fn main() {
    let hosts = hosts();
    let writer = connect(&hosts).await;
    recipes::ensure_path(&writer, PATH).await.unwrap();
    writer.set_data(PATH, b"version=0", -1).await.unwrap();

    let (ready_tx, mut ready) = mpsc::unbounded_channel();
    let mut readers = Vec::new();
    for id in 0..READERS {
        let (hosts, ready_tx) = (hosts.clone(), ready_tx.clone());
        readers.push(tokio::spawn(async move {
            let client = connect(&hosts).await;
            let mut changes = client
                .add_watch(PATH, AddWatchMode::Persistent)
                .await
                .unwrap();
            let (data, _) = client.get_data(PATH).await.unwrap();
            println!("reader {id} loaded {}", String::from_utf8_lossy(&data));
            ready_tx.send(()).unwrap();
            let mut seen = Vec::new(); // (zxid of the change, config read after it)
            while seen.len() < VERSIONS {
                let Some(Ok(event)) = changes.next().await else {
                    break;
                };
                if event.event_type != EventType::NodeDataChanged {
                    continue; // a connection event
                }
                let (data, stat) = client.get_data(PATH).await.unwrap(); // reload
                let config = String::from_utf8_lossy(&data).into_owned();
                println!(
                    "reader {id} reloaded {config} (change zxid {:#x}, read mzxid {:#x})",
                    event.zxid, stat.mzxid
                );
                seen.push((event.zxid, config));
            }
            client.close().await;
            seen
        }));
    }
    for _ in 0..READERS {
        ready.recv().await.unwrap();
    }
    for version in 1..=VERSIONS {
        writer
            .set_data(PATH, format!("version={version}").as_bytes(), -1)
            .await
            .unwrap();
        println!("writer published version={version}");
    }
    let mut histories = Vec::new();
    for reader in readers {
        match tokio::time::timeout(Duration::from_secs(30), reader).await {
            Ok(Ok(seen)) => histories.push(seen),
            _ => verdict("config", false, "a reader did not see every change"),
        }
    }
    let zxids: Vec<Vec<i64>> = histories
        .iter()
        .map(|h| h.iter().map(|(z, _)| *z).collect())
        .collect();
    let every = histories.iter().all(|h| h.len() == VERSIONS);
    let same_order =
        zxids.iter().all(|z| *z == zxids[0]) && zxids[0].windows(2).all(|w| w[0] < w[1]);
    let last = histories
        .iter()
        .all(|h| h.last().map(|(_, c)| c.as_str()) == Some("version=5"));
    writer.close().await;
    verdict(
        "config",
        every && same_order && last,
        &format!("{READERS} readers saw all {VERSIONS} changes in order"),
    );
}
