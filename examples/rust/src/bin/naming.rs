//! Naming service: unique names from sequential znodes. Several clients ask for job
//! names at once; the server appends a ten-digit counter to each create under
//! `/examples/naming`, so no two names are ever the same, and each client's names grow.
//!
//!     cargo run -p zk-examples --bin naming -- 127.0.0.1:2181

use std::collections::BTreeSet;

use zk_core::proto::{Acl, CreateMode};
use zk_core::recipes;
use zk_examples::{connect, hosts, verdict};

const WORKERS: usize = 4;
const NAMES_EACH: usize = 5;

#[tokio::main]
async fn main() {
    let hosts = hosts();
    let admin = connect(&hosts).await;
    recipes::ensure_path(&admin, "/examples/naming")
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for worker in 0..WORKERS {
        let hosts = hosts.clone();
        tasks.push(tokio::spawn(async move {
            let client = connect(&hosts).await; // another process, in real life
            let mut names = Vec::new();
            for _ in 0..NAMES_EACH {
                let data = format!("requested by worker {worker}");
                let (path, _) = client
                    .create(
                        "/examples/naming/job-",
                        data.as_bytes(),
                        &Acl::open_unsafe(),
                        CreateMode::PersistentSequential,
                    )
                    .await
                    .unwrap();
                println!("worker {worker} got {path}");
                names.push(path);
            }
            client.close().await;
            names
        }));
    }
    let mut all = BTreeSet::new();
    let mut increasing = true;
    for task in tasks {
        let names = task.await.unwrap();
        increasing &= names.windows(2).all(|w| w[0] < w[1]);
        all.extend(names);
    }
    let unique = all.len() == WORKERS * NAMES_EACH;
    admin.close().await;
    verdict(
        "naming",
        unique && increasing,
        &format!("{} unique names", all.len()),
    );
}
