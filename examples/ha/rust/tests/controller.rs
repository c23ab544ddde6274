//! The Rust HA controller against a real zk-server: Hadoop's exit codes, `--format`, and
//! failovers between two controllers guarding dummy services (a health file each; the
//! services' transitions and the fencing are recorded in one ledger), so that a new
//! active appears only after the old one was fenced.

#[path = "../../../rust/tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::process::Command;

use support::{run, wait_until, Proc, ZkServer};

const CONTROLLER: &str = env!("CARGO_BIN_EXE_zk-ha-controller");

fn controller(server: &ZkServer, nameservice: &str) -> Command {
    let mut command = Command::new(CONTROLLER);
    command.args(["--zk", &server.hosts(), "--nameservice", nameservice]);
    command
}

/// A controller for instance `id` whose service is healthy while `dir/<id>.healthy`
/// exists and which records transitions and fencing in `dir/ledger`.
fn guard(server: &ZkServer, nameservice: &str, id: &str, dir: &Path) -> Proc {
    let d = dir.display();
    let mut command = controller(server, nameservice);
    command.args([
        "--id",
        id,
        "--host",
        "127.0.0.1",
        "--port",
        "8020",
        "--session-timeout-ms",
        "2000",
        "--check-interval-ms",
        "100",
        "--check-cmd",
        &format!("test -f {d}/{id}.healthy"),
        "--on-active",
        &format!("echo '{id} active' >> {d}/ledger"),
        "--on-standby",
        &format!("echo '{id} standby' >> {d}/ledger"),
        // Hadoop's method list: the first fails, the second fences.
        "--fence",
        "shell(false)",
        "--fence",
        &format!(
            "shell(echo \"fence $target_namenodeid at $target_address by {id}\" >> {d}/ledger)"
        ),
    ]);
    Proc::spawn(id, &mut command)
}

fn ledger(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("ledger"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn wait_ledger(dir: &Path, expected: &[&str]) {
    wait_until(&format!("the ledger {expected:?}"), || {
        ledger(dir).len() >= expected.len()
    });
    assert_eq!(ledger(dir), expected);
}

#[test]
fn hadoop_exit_codes_and_format() {
    let server = ZkServer::start();
    let code = |args: &[&str]| {
        let (status, lines) = run("controller", controller(&server, "codes").args(args));
        (status.code(), lines)
    };
    let running = [
        "--id",
        "nn1",
        "--check-cmd",
        "true",
        "--fence",
        "shell(true)",
    ];
    let (status, lines) = code(&running);
    assert_eq!(status, Some(3), "no parent znode: {lines:?}");
    assert_eq!(code(&["--format"]).0, Some(0));
    assert_eq!(code(&["--format", "--non-interactive"]).0, Some(2));
    // Interactive: a "no" (here: no terminal, end of input) refuses too.
    assert_eq!(code(&["--format"]).0, Some(2));
    assert_eq!(code(&["--format", "--force"]).0, Some(0));
    assert_eq!(code(&["--id", "nn1", "--check-cmd", "true"]).0, Some(4));
    assert_eq!(code(&["--id", "nn1"]).0, Some(1), "no health check");
    assert_eq!(code(&["--bogus"]).0, Some(1));
    let (status, _) = run(
        "controller",
        Command::new(CONTROLLER).args([
            "--zk",
            &format!("127.0.0.1:{}", support::free_port()),
            "--nameservice",
            "codes",
            "--session-timeout-ms",
            "1000",
        ]),
    );
    // --format or not: no ZooKeeper is exit 6.
    assert_eq!(status.code(), Some(1), "usage is checked first");
    let (status, _) = run(
        "controller",
        Command::new(CONTROLLER).args([
            "--zk",
            &format!("127.0.0.1:{}", support::free_port()),
            "--nameservice",
            "codes",
            "--format",
            "--session-timeout-ms",
            "1000",
        ]),
    );
    assert_eq!(status.code(), Some(6));
}

#[test]
fn failover_fences_the_old_active_first() {
    let server = ZkServer::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_eq!(
        run("format", controller(&server, "ns1").arg("--format"))
            .0
            .code(),
        Some(0)
    );
    std::fs::write(d.join("nn1.healthy"), "").unwrap();
    let mut nn1 = guard(&server, "ns1", "nn1", d);
    nn1.wait_for("[nn1] active");
    std::fs::write(d.join("nn2.healthy"), "").unwrap();
    let mut nn2 = guard(&server, "ns1", "nn2", d);
    nn2.wait_for("[nn2] standby");
    wait_ledger(d, &["nn1 active", "nn2 standby"]);

    // nn1's service turns unhealthy: nn1 quits needing fencing; nn2 fences it, then leads.
    std::fs::remove_file(d.join("nn1.healthy")).unwrap();
    nn1.wait_for("[nn1] health Unhealthy");
    nn2.wait_for("[nn2] active");
    assert!(nn2.has_line("[nn2] fence nn1 ok"));
    wait_ledger(
        d,
        &[
            "nn1 active",
            "nn2 standby",
            "fence nn1 at 127.0.0.1:8020 by nn2",
            "nn2 active",
        ],
    );

    // nn1 is healthy again: standby. Then nn2's controller dies (SIGKILL): once its
    // session expires nn1 fences nn2 and leads.
    std::fs::write(d.join("nn1.healthy"), "").unwrap();
    nn1.wait_for("[nn1] standby");
    nn2.kill();
    nn1.wait_for("[nn1] active");
    wait_ledger(
        d,
        &[
            "nn1 active",
            "nn2 standby",
            "fence nn1 at 127.0.0.1:8020 by nn2",
            "nn2 active",
            "nn1 standby",
            "fence nn2 at 127.0.0.1:8020 by nn1",
            "nn1 active",
        ],
    );

    // SIGTERM: a clean exit (0), leaving the breadcrumb for the next active to fence.
    nn1.signal(15);
    let status = nn1.wait_exit();
    assert_eq!(status.code(), Some(0), "{:?}", nn1.lines());
    assert!(nn1.has_line("[nn1] exit on SIGTERM"));
}
