//! Group membership: members come and go. Each member is its own process holding an
//! ephemeral node `/examples/group/<name>`; an observer follows the group with a children
//! watch. A member that leaves (closes its session) is gone at once; a member that is
//! killed (SIGKILL: nothing is closed) is gone once its session times out.
//!
//!     cargo run -p zk-examples --bin group -- 127.0.0.1:2181
//!
//! (It starts its members itself: `group HOSTS member NAME` is one member.)

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use zk_core::client::Client;
use zk_core::recipes::{self, GroupMember};
use zk_examples::{connect, connect_with, hosts, verdict};

const GROUP: &str = "/examples/group";
const MEMBER_SESSION: Duration = Duration::from_secs(3);

#[tokio::main]
async fn main() {
    let hosts = hosts();
    let args: Vec<String> = std::env::args().collect();
    if args.get(2).map(String::as_str) == Some("member") {
        return member(&hosts, &args[3]).await;
    }
    let observer = connect(&hosts).await;
    recipes::ensure_path(&observer, GROUP).await.unwrap();
    let names = ["member-a", "member-b", "member-c"];
    let mut members: Vec<Child> = names
        .iter()
        .map(|name| {
            Command::new(std::env::current_exe().unwrap())
                .args([&hosts, "member", name])
                .stdin(Stdio::piped())
                .spawn()
                .expect("a member process")
        })
        .collect();
    let all = wait_members(&observer, |m| {
        names.iter().all(|n| m.contains(&n.to_string()))
    })
    .await;

    // member-c leaves: it closes its session when its stdin closes.
    drop(members[2].stdin.take());
    let left = wait_members(&observer, |m| !m.contains(&"member-c".into())).await;
    let _ = members[2].wait();

    // member-b is killed: its node stays until the server expires its session.
    let killed_at = Instant::now();
    members[1].kill().unwrap();
    let _ = members[1].wait();
    let gone = wait_members(&observer, |m| !m.contains(&"member-b".into())).await;
    let after = killed_at.elapsed();
    println!(
        "member-b was killed: gone after {} ms (session timeout {} ms)",
        after.as_millis(),
        MEMBER_SESSION.as_millis()
    );

    drop(members[0].stdin.take());
    let _ = members[0].wait();
    observer.close().await;
    // Expiry takes the session timeout (and at most a few server ticks more).
    let in_time = after <= MEMBER_SESSION + Duration::from_secs(5);
    verdict(
        "group",
        all && left && gone && in_time,
        "members joined, left and were expired",
    );
}

/// One member: joins, then stays until its stdin closes (or it is killed).
async fn member(hosts: &str, name: &str) {
    let client = connect_with(hosts, MEMBER_SESSION).await;
    let me = GroupMember::join(
        &client,
        GROUP,
        name,
        format!("pid {}", std::process::id()).as_bytes(),
    )
    .await
    .unwrap();
    println!("{name} joined");
    tokio::task::spawn_blocking(|| std::io::stdin().read_to_end(&mut Vec::new()))
        .await
        .unwrap()
        .ok();
    me.leave().await.unwrap();
    client.close().await;
    println!("{name} left");
}

/// Follows the group with a children watch until `done` holds for its members (or 30 s
/// pass); prints every membership it sees.
async fn wait_members(observer: &Client, done: impl Fn(&Vec<String>) -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (mut members, _, watch) = observer.get_children_watch(GROUP).await.unwrap();
        members.sort();
        println!("members: {members:?}");
        if done(&members) {
            return true;
        }
        if tokio::time::timeout_at(deadline, watch.changed())
            .await
            .is_err()
        {
            return false;
        }
    }
}
