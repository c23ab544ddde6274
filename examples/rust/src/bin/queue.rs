//! FIFO queue (`zk_core::recipes::Queue`, kazoo's layout) between processes: producers
//! and consumers are separate programs sharing only the znode `/examples/queue/<run>`.
//! Every item is consumed exactly once, and each consumer gets any one producer's items
//! in the order they were put.
//!
//!     cargo run -p zk-examples --bin queue -- 127.0.0.1:2181
//!
//! (It starts its producers and consumers itself: `queue HOSTS produce PATH ID COUNT`
//! and `queue HOSTS consume PATH ID` are one of each.)

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Duration;

use zk_core::recipes::{self, Queue};
use zk_examples::{connect, hosts, verdict};

const PRODUCERS: usize = 2;
const CONSUMERS: usize = 2;
const ITEMS: usize = 10;
const STOP: &[u8] = b"stop";

#[tokio::main]
async fn main() {
    let hosts = hosts();
    let args: Vec<String> = std::env::args().collect();
    match args.get(2).map(String::as_str) {
        Some("produce") => {
            return produce(&hosts, &args[3], &args[4], args[5].parse().unwrap()).await
        }
        Some("consume") => return consume(&hosts, &args[3], &args[4]).await,
        _ => {}
    }
    let path = format!("/examples/queue/run-{}", std::process::id());
    let me = std::env::current_exe().unwrap();
    let start = |role: &str, id: usize, extra: &[String]| {
        Command::new(&me)
            .args([hosts.as_str(), role, &path, &id.to_string()])
            .args(extra)
            .stdin(Stdio::piped()) // closed when this process ends: the worker ends too
            .stdout(Stdio::piped())
            .spawn()
            .expect("a worker process")
    };
    let consumers: Vec<_> = (0..CONSUMERS).map(|id| start("consume", id, &[])).collect();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|id| start("produce", id, &[ITEMS.to_string()]))
        .collect();
    for mut producer in producers {
        assert!(producer.wait().unwrap().success(), "a producer failed");
    }
    // Everything is queued: one stop per consumer goes after it (FIFO).
    let client = connect(&hosts).await;
    let queue = Queue::new(&client, &path);
    for _ in 0..CONSUMERS {
        queue.put(STOP).await.unwrap();
    }
    let mut taken: BTreeMap<String, usize> = BTreeMap::new();
    let mut in_order = true;
    for mut consumer in consumers {
        let mut last: BTreeMap<String, usize> = BTreeMap::new(); // per producer
        for line in BufReader::new(consumer.stdout.take().unwrap())
            .lines()
            .map_while(Result::ok)
        {
            println!("{line}");
            let Some(item) = line.split(" took ").nth(1) else {
                continue;
            };
            *taken.entry(item.to_owned()).or_default() += 1;
            let (producer, n) = item.split_once('-').unwrap();
            let n: usize = n.parse().unwrap();
            in_order &= last
                .insert(producer.to_owned(), n)
                .is_none_or(|before| before < n);
        }
        assert!(consumer.wait().unwrap().success(), "a consumer failed");
    }
    let once = taken.len() == PRODUCERS * ITEMS && taken.values().all(|&n| n == 1);
    recipes::delete_recursive(&client, &path).await.unwrap();
    client.close().await;
    let detail = format!(
        "{} items, each consumed once, in order per producer",
        taken.len()
    );
    verdict("queue", once && in_order, &detail);
}

async fn produce(hosts: &str, path: &str, id: &str, count: usize) {
    let client = connect(hosts).await;
    let queue = Queue::new(&client, path);
    for n in 0..count {
        queue.put(format!("p{id}-{n}").as_bytes()).await.unwrap();
    }
    client.close().await;
}

async fn consume(hosts: &str, path: &str, id: &str) {
    // Orphaned (the starting process died): stop.
    std::thread::spawn(|| {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        std::process::exit(3);
    });
    let client = connect(hosts).await;
    let queue = Queue::new(&client, path);
    loop {
        match queue
            .take_timeout(Some(Duration::from_secs(60)))
            .await
            .unwrap()
        {
            Some(item) if item == STOP => break,
            Some(item) => println!("consumer {id} took {}", String::from_utf8_lossy(&item)),
            None => std::process::exit(1), // nothing for a minute: the test is broken
        }
    }
    client.close().await;
}
