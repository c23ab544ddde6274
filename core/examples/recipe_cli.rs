//! Drives zk-core's recipes from the command line, one line of output per step, so other
//! languages' tests (tests/interop/test_recipe_interop.py) can run them against kazoo.
//!
//! ```text
//! recipe_cli hold    CONNECT PATH [--layout curator|kazoo] [--id ID]
//!     takes the lock (leader election when --id is given: the id is the node's data);
//!     prints WAITING if it is held by someone else, then ACQUIRED <fencing token>;
//!     releases when a line (or EOF) arrives on stdin and prints RELEASED.
//! recipe_cli contend CONNECT LOCK_PATH BASE_PATH ROUNDS [--layout curator|kazoo]
//!     ROUNDS times: take the lock, create the ephemeral BASE_PATH/inside (OVERLAP and
//!     exit 1 if it exists: another holder is inside), add 1 to the decimal text in
//!     BASE_PATH/counter without a version, delete `inside`, release; then DONE.
//! recipe_cli counter-add CONNECT PATH TIMES
//!     adds 1 TIMES with the Counter recipe (kazoo's text format); prints DONE <value>.
//! recipe_cli queue-put CONNECT PATH PRIORITY ITEM...
//! recipe_cli queue-take CONNECT PATH COUNT
//!     prints ITEM <item> for each of COUNT items, waiting for each.
//! ```
//!
//! Exit status 0 on success, 1 on a recipe failure, 2 on bad arguments.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use zk_core::client::{Client, ClientOptions, Error};
use zk_core::proto::{Acl, CreateMode, ErrorCode};
use zk_core::recipes::{Counter, Layout, LeaderSelector, LockGuard, Mutex, Queue};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (positional, layout, id) = match parse_flags(&args) {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("recipe_cli: {message}");
            return ExitCode::from(2);
        }
    };
    let result = match positional.as_slice() {
        [cmd, connect, path] if cmd == "hold" => hold(connect, path, layout, id).await,
        [cmd, connect, lock, base, rounds] if cmd == "contend" => match rounds.parse() {
            Ok(rounds) => contend(connect, lock, base, rounds, layout).await,
            Err(_) => return usage("ROUNDS is a number"),
        },
        [cmd, connect, path, times] if cmd == "counter-add" => match times.parse() {
            Ok(times) => counter_add(connect, path, times).await,
            Err(_) => return usage("TIMES is a number"),
        },
        [cmd, connect, path, priority, items @ ..] if cmd == "queue-put" => {
            match priority.parse() {
                Ok(priority) => queue_put(connect, path, priority, items).await,
                Err(_) => return usage("PRIORITY is a number"),
            }
        }
        [cmd, connect, path, count] if cmd == "queue-take" => match count.parse() {
            Ok(count) => queue_take(connect, path, count).await,
            Err(_) => return usage("COUNT is a number"),
        },
        _ => return usage("unknown command"),
    };
    // Exit at once: a blocking stdin read may still be pending (see `hold`).
    match result {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            say(&format!("ERROR {e}"));
            std::process::exit(1)
        }
    }
}

async fn hold(connect: &str, path: &str, layout: Layout, id: Option<String>) -> Result<(), Error> {
    let client = open(connect).await?;
    let guard = match &id {
        Some(id) => {
            let selector = LeaderSelector::new(&client, path, id).layout(layout);
            match selector.lead_timeout(Duration::ZERO).await? {
                Some(guard) => guard,
                None => {
                    say("WAITING");
                    selector.lead().await?
                }
            }
        }
        None => {
            let mutex = Mutex::new(&client, path).layout(layout);
            match mutex.try_acquire().await? {
                Some(guard) => guard,
                None => {
                    say("WAITING");
                    mutex.acquire().await?
                }
            }
        }
    };
    say(&format!("ACQUIRED {}", guard.fencing_token()));
    let mut line = String::new();
    let stdin = tokio::task::spawn_blocking(move || std::io::stdin().read_line(&mut line));
    tokio::select! {
        _ = stdin => {}
        () = guard.lost() => say("LOST"),
    }
    release(guard).await?;
    client.close().await;
    Ok(())
}

async fn contend(
    connect: &str,
    lock: &str,
    base: &str,
    rounds: u32,
    layout: Layout,
) -> Result<(), Error> {
    let client = open(connect).await?;
    let mutex = Mutex::new(&client, lock).layout(layout);
    let inside = format!("{base}/inside");
    let counter = format!("{base}/counter");
    for _ in 0..rounds {
        let guard = mutex.acquire().await?;
        match client
            .create(&inside, b"rust", &Acl::open_unsafe(), CreateMode::Ephemeral)
            .await
        {
            Ok(_) => {}
            Err(Error::Server(ErrorCode::NodeExists)) => {
                say("OVERLAP");
                std::process::exit(1);
            }
            Err(e) => return Err(e),
        }
        let (data, _) = client.get_data(&counter).await?;
        let value: i64 = String::from_utf8_lossy(&data).trim().parse().unwrap_or(0);
        client
            .set_data(&counter, (value + 1).to_string().as_bytes(), -1)
            .await?;
        client.delete(&inside, -1).await?;
        guard.release().await?;
    }
    say("DONE");
    client.close().await;
    Ok(())
}

async fn counter_add(connect: &str, path: &str, times: u32) -> Result<(), Error> {
    let client = open(connect).await?;
    let counter = Counter::new(&client, path);
    for _ in 0..times {
        counter.add(1).await?;
    }
    say(&format!("DONE {}", counter.get().await?));
    client.close().await;
    Ok(())
}

async fn queue_put(
    connect: &str,
    path: &str,
    priority: u16,
    items: &[String],
) -> Result<(), Error> {
    let client = open(connect).await?;
    let queue = Queue::new(&client, path);
    for item in items {
        queue.put_with_priority(item.as_bytes(), priority).await?;
    }
    say("DONE");
    client.close().await;
    Ok(())
}

async fn queue_take(connect: &str, path: &str, count: u32) -> Result<(), Error> {
    let client = open(connect).await?;
    let queue = Queue::new(&client, path);
    for _ in 0..count {
        if let Some(item) = queue.take_timeout(None).await? {
            say(&format!("ITEM {}", String::from_utf8_lossy(&item)));
        }
    }
    say("DONE");
    client.close().await;
    Ok(())
}

async fn open(connect: &str) -> Result<Client, Error> {
    Client::connect(
        connect,
        ClientOptions::default().session_timeout(Duration::from_secs(10)),
    )
    .await
}

async fn release(guard: LockGuard) -> Result<(), Error> {
    guard.release().await?;
    say("RELEASED");
    Ok(())
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("recipe_cli: {problem}");
    eprintln!("usage: recipe_cli hold|contend|counter-add|queue-put|queue-take CONNECT ...");
    ExitCode::from(2)
}

type Flags = (Vec<String>, Layout, Option<String>);

fn parse_flags(args: &[String]) -> Result<Flags, String> {
    let mut positional = Vec::new();
    let mut layout = Layout::Curator;
    let mut id = None;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--layout" => {
                layout = match iter.next().map(String::as_str) {
                    Some("curator") => Layout::Curator,
                    Some("kazoo") => Layout::Kazoo,
                    other => return Err(format!("--layout curator|kazoo, not {other:?}")),
                }
            }
            "--id" => id = Some(iter.next().ok_or("--id needs a value")?.clone()),
            _ => positional.push(arg.clone()),
        }
    }
    Ok((positional, layout, id))
}
