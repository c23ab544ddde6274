//! Every example in `src/bin` run against a real zk-server (the binary `cargo test
//! --workspace` builds), checked on its exit status and its output.

mod support;

use std::process::Command;

use support::{run, ZkServer};

/// Runs example `name` against `server`; returns its output after checking that it
/// succeeded and printed its verdict line.
fn example(server: &ZkServer, name: &str, bin: &str) -> Vec<String> {
    let (status, lines) = run(name, Command::new(bin).arg(server.hosts()));
    let output = lines.join("\n");
    assert!(status.success(), "{name} failed ({status}):\n{output}");
    assert!(
        lines.iter().any(|l| l.starts_with(&format!("{name}: ok"))),
        "{name} printed no verdict:\n{output}"
    );
    lines
}

fn position(lines: &[String], pred: impl Fn(&str) -> bool) -> Vec<usize> {
    lines
        .iter()
        .enumerate()
        .filter(|(_, l)| pred(l))
        .map(|(i, _)| i)
        .collect()
}

#[test]
fn every_example_runs_against_zk_server() {
    let server = ZkServer::start();

    let naming = example(&server, "naming", env!("CARGO_BIN_EXE_naming"));
    let mut names: Vec<&str> = naming
        .iter()
        .filter_map(|l| l.split(" got ").nth(1))
        .collect();
    assert_eq!(names.len(), 20);
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 20, "names are unique");
    assert!(names.iter().all(|n| n.starts_with("/examples/naming/job-")));

    let config = example(&server, "config", env!("CARGO_BIN_EXE_config"));
    for reader in 0..3 {
        let reloads: Vec<&String> = config
            .iter()
            .filter(|l| l.starts_with(&format!("reader {reader} reloaded")))
            .collect();
        assert_eq!(reloads.len(), 5, "reader {reader}: {config:?}");
        assert!(reloads[4].contains("version=5"));
    }

    let group = example(&server, "group", env!("CARGO_BIN_EXE_group"));
    for member in ["member-a", "member-b", "member-c"] {
        assert!(group.contains(&format!("{member} joined")), "{group:?}");
    }
    assert!(group.contains(&"member-c left".to_owned()));
    assert!(group
        .iter()
        .any(|l| l.starts_with("member-b was killed: gone after")));

    let election = example(&server, "election", env!("CARGO_BIN_EXE_election"));
    for round in 0..4 {
        let line = format!("round {round}: contender");
        assert!(
            election.iter().any(|l| l.starts_with(&line)),
            "{election:?}"
        );
    }
    // Every contender but the first watched only its predecessor, and each leader's
    // departure woke exactly the one contender watching it.
    let watches = position(&election, |l| l.contains(" watches n_"));
    let woke = position(&election, |l| l.contains(" woke up: "));
    assert_eq!((watches.len(), woke.len()), (3, 3), "{election:?}");
    for line in &election {
        if let Some((who, rest)) = line.split_once(" woke up: ") {
            let gone = rest.trim_end_matches(" is gone");
            let watched = format!(" watches {gone}");
            assert!(
                election
                    .iter()
                    .any(|l| l.starts_with(who) && l.ends_with(&watched)),
                "{who} woke for a node it did not watch: {election:?}"
            );
        }
    }

    let lock = example(&server, "lock", env!("CARGO_BIN_EXE_lock"));
    let got: Vec<&String> = lock
        .iter()
        .filter(|l| l.contains(" got the lock"))
        .collect();
    assert_eq!(got.len(), 4);
    for (i, line) in got.iter().enumerate() {
        assert!(
            line.starts_with(&format!("worker {i} ")),
            "queue order: {got:?}"
        );
    }

    let barrier = example(&server, "barrier", env!("CARGO_BIN_EXE_barrier"));
    let arrived = position(&barrier, |l| l.ends_with(" arrives"));
    let working = position(&barrier, |l| l.ends_with(" starts working"));
    let finished = position(&barrier, |l| l.ends_with(" finished, leaving"));
    let left = position(&barrier, |l| l.ends_with(" left"));
    assert_eq!((arrived.len(), working.len(), left.len()), (4, 4, 4));
    assert!(arrived.iter().max() < working.iter().min(), "{barrier:?}");
    assert!(finished.iter().max() < left.iter().min(), "{barrier:?}");

    let queue = example(&server, "queue", env!("CARGO_BIN_EXE_queue"));
    let taken = position(&queue, |l| l.contains(" took p"));
    assert_eq!(taken.len(), 20, "{queue:?}");
}
