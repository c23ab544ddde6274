//! Pseudo-distributed ensembles of real zk-server processes, started from zoo.cfg files on
//! 127.0.0.x addresses: replication, forwarding, observers, failover, catch-up, session expiry
//! and the majority rule.

mod common;
use common::free_port;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use zk_core::client::blocking::Client;
use zk_core::client::ClientOptions;
use zk_core::proto::{Acl, CreateMode};

const TICK_MS: u64 = 500;
const DEADLINE: Duration = Duration::from_secs(60);

struct Member {
    host: String,
    client_port: u16,
    config: PathBuf,
    process: Option<Child>,
}

struct Ensemble {
    _dir: tempfile::TempDir,
    members: Vec<Member>,
    jvm_flags: String,
}

/// A port free now and never handed out before in this test process: the tests run in
/// parallel, and a port one ensemble picked and released must not be picked by another.
impl Ensemble {
    /// Writes one zoo.cfg and myid per member (`observers` of them as `:observer`) and starts all.
    fn start(voters: u64, observers: u64) -> Ensemble {
        Ensemble::start_with(voters, observers, "", "")
    }

    /// Like [`Ensemble::start`], with `SERVER_JVMFLAGS` for every member (where Apache takes
    /// `-Dreadonlymode.enabled=true`) and `extra` zoo.cfg lines.
    fn start_with(voters: u64, observers: u64, jvm_flags: &str, extra: &str) -> Ensemble {
        let dir = tempfile::tempdir().unwrap();
        let total = voters + observers;
        let ports: Vec<(u16, u16, u16)> = (0..total)
            .map(|_| (free_port(), free_port(), free_port()))
            .collect();
        let mut server_lines = String::new();
        for id in 1..=total {
            let (_, quorum, election) = ports[(id - 1) as usize];
            let role = if id > voters { ":observer" } else { "" };
            server_lines.push_str(&format!(
                "server.{id}=127.0.0.{id}:{quorum}:{election}{role}\n"
            ));
        }
        let mut members = Vec::new();
        for id in 1..=total {
            let data = dir.path().join(format!("data{id}"));
            std::fs::create_dir_all(&data).unwrap();
            std::fs::write(data.join("myid"), format!("{id}\n")).unwrap();
            let (client_port, _, _) = ports[(id - 1) as usize];
            let host = format!("127.0.0.{id}");
            let peer_type = if id > voters {
                "peerType=observer\n"
            } else {
                ""
            };
            let config = dir.path().join(format!("zoo{id}.cfg"));
            std::fs::write(
                &config,
                format!(
                    "tickTime={TICK_MS}\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={client_port}\n\
                     clientPortAddress={host}\n4lw.commands.whitelist=*\nadmin.enableServer=false\nmaxClientCnxns=0\nsnapCount=50\n{extra}{peer_type}{server_lines}",
                    data.display()
                ),
            )
            .unwrap();
            members.push(Member {
                host,
                client_port,
                config,
                process: None,
            });
        }
        let mut ensemble = Ensemble {
            _dir: dir,
            members,
            jvm_flags: jvm_flags.to_owned(),
        };
        for id in 1..=total {
            ensemble.launch(id);
        }
        ensemble
    }

    fn member(&self, id: u64) -> &Member {
        &self.members[(id - 1) as usize]
    }

    fn launch(&mut self, id: u64) {
        let jvm_flags = self.jvm_flags.clone();
        let member = &mut self.members[(id - 1) as usize];
        let log = std::fs::File::create(member.config.with_extension("log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_zk-server"))
            .args(["start-foreground", member.config.to_str().unwrap()])
            .env("ZK_LOG", "info")
            .env("SERVER_JVMFLAGS", jvm_flags)
            .env_remove("JVMFLAGS")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        member.process = Some(child);
    }

    fn kill(&mut self, id: u64) {
        if let Some(mut child) = self.members[(id - 1) as usize].process.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills member `id` and empties its dataDir but for `myid`, as after a disk replacement.
    fn wipe(&mut self, id: u64) {
        self.kill(id);
        let data = self.member(id).config.with_file_name(format!("data{id}"));
        for entry in std::fs::read_dir(&data).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name().is_some_and(|n| n == "myid") {
                continue;
            }
            if path.is_dir() {
                std::fs::remove_dir_all(&path).unwrap();
            } else {
                std::fs::remove_file(&path).unwrap();
            }
        }
    }

    fn address(&self, id: u64) -> String {
        let m = self.member(id);
        format!("{}:{}", m.host, m.client_port)
    }

    /// A four-letter word's answer, or `None` if the member does not answer.
    fn four_letter_word(&self, id: u64, word: &str) -> Option<String> {
        let m = self.member(id);
        let mut stream = TcpStream::connect((m.host.as_str(), m.client_port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        stream.write_all(word.as_bytes()).ok()?;
        let mut text = String::new();
        stream.read_to_string(&mut text).ok()?;
        Some(text)
    }

    /// `Mode:` from `srvr`.
    fn mode(&self, id: u64) -> Option<String> {
        self.four_letter_word(id, "srvr")?
            .lines()
            .find_map(|l| l.strip_prefix("Mode: "))
            .map(str::to_owned)
    }

    /// Waits until exactly one of `among` leads and every other one of them follows or observes.
    fn wait_leader(&self, among: &[u64]) -> u64 {
        wait_for("a leader with every member settled", || {
            let modes: Vec<(u64, Option<String>)> =
                among.iter().map(|id| (*id, self.mode(*id))).collect();
            let leaders: Vec<u64> = modes
                .iter()
                .filter(|(_, m)| m.as_deref() == Some("leader"))
                .map(|(id, _)| *id)
                .collect();
            let settled = modes
                .iter()
                .all(|(_, m)| matches!(m.as_deref(), Some("leader" | "follower" | "observer")));
            (leaders.len() == 1 && settled).then(|| leaders[0])
        })
    }

    fn client(&self, id: u64) -> Client {
        let options = ClientOptions::default()
            .session_timeout(Duration::from_secs(10))
            .request_timeout(Duration::from_secs(10));
        let client = Client::connect(&self.address(id), options).unwrap();
        client.wait_connected(DEADLINE).unwrap();
        client
    }

    /// Waits until `path` on member `id` holds `data` (reads are local, so members catch up).
    fn wait_data(&self, id: u64, path: &str, data: &[u8]) {
        let client = self.client(id);
        wait_for(&format!("{path} on server.{id}"), || {
            client
                .get_data(path)
                .ok()
                .filter(|(d, _)| d == data)
                .map(|_| ())
        });
        client.close();
    }

    fn wait_absent(&self, id: u64, path: &str) {
        let client = self.client(id);
        wait_for(&format!("{path} gone from server.{id}"), || {
            matches!(client.exists(path), Ok(None)).then_some(())
        });
        client.close();
    }
}

impl Drop for Ensemble {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let kept = std::mem::replace(&mut self._dir, tempfile::tempdir().unwrap()).keep();
            eprintln!("ensemble files kept in {}", kept.display());
        }
        for member in &mut self.members {
            if let Some(mut child) = member.process.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn open() -> Vec<Acl> {
    Acl::open_unsafe()
}

/// Opens a session with a raw handshake, creates an ephemeral node and drops the socket without
/// closing the session, as a crashed client would.
fn orphan_ephemeral(address: &str, path: &str) {
    let mut stream = common::raw_session(address, 2 * TICK_MS as i32);
    let mut body = Vec::new();
    body.extend_from_slice(&1i32.to_be_bytes()); // xid
    body.extend_from_slice(&1i32.to_be_bytes()); // create
    body.extend_from_slice(&(path.len() as i32).to_be_bytes());
    body.extend_from_slice(path.as_bytes());
    body.extend_from_slice(&0i32.to_be_bytes()); // empty data
    body.extend_from_slice(&1i32.to_be_bytes()); // one ACL
    body.extend_from_slice(&31i32.to_be_bytes()); // perms ALL
    for part in ["world", "anyone"] {
        body.extend_from_slice(&(part.len() as i32).to_be_bytes());
        body.extend_from_slice(part.as_bytes());
    }
    body.extend_from_slice(&1i32.to_be_bytes()); // EPHEMERAL
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    stream.write_all(&frame).unwrap();
    let mut header = [0u8; 20];
    stream.read_exact(&mut header).unwrap();
    let err = i32::from_be_bytes(header[16..20].try_into().unwrap());
    assert_eq!(err, 0, "creating {path} failed with {err}");
}

#[test]
fn three_voters_and_an_observer_replicate_fail_over_and_catch_up() {
    let mut ensemble = Ensemble::start(3, 1);
    let leader = ensemble.wait_leader(&[1, 2, 3, 4]);
    assert_eq!(ensemble.mode(4).as_deref(), Some("observer"));
    wait_for("the leader's mntr to count its followers", || {
        let mntr = ensemble.four_letter_word(leader, "mntr")?;
        (mntr.contains("zk_learners\t3")
            && mntr.contains("zk_synced_followers\t2")
            && mntr.contains("zk_synced_observers\t1"))
        .then_some(())
    });
    // zkServer.sh's `status`, as operators ask it.
    for (id, mode) in [(leader, "leader"), (4, "observer")] {
        let status = Command::new(env!("CARGO_BIN_EXE_zk-server"))
            .args(["status", ensemble.member(id).config.to_str().unwrap()])
            .env_remove("SERVER_JVMFLAGS")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&status.stdout);
        assert!(
            text.contains(&format!("Mode: {mode}")),
            "server.{id}: {text}"
        );
    }
    let conf = ensemble.four_letter_word(4, "conf").unwrap();
    assert!(conf.contains("peerType=1"), "{conf}");
    assert!(conf.contains(":observer"), "{conf}");
    let follower = [1, 2, 3].into_iter().find(|id| *id != leader).unwrap();

    // Writes through a follower and through the observer reach every member.
    let writer = ensemble.client(follower);
    writer
        .create("/k", b"one", &open(), CreateMode::Persistent)
        .unwrap();
    let (sequential, _) = writer
        .create("/k/s-", b"", &open(), CreateMode::PersistentSequential)
        .unwrap();
    assert_eq!(sequential, "/k/s-0000000000");
    let observer = ensemble.client(4);
    observer
        .create("/from-observer", b"o", &open(), CreateMode::Persistent)
        .unwrap();
    // A session's own write is visible to its next read on the same server.
    assert_eq!(observer.get_data("/from-observer").unwrap().0, b"o");
    for id in 1..=4 {
        ensemble.wait_data(id, "/k", b"one");
        ensemble.wait_data(id, "/from-observer", b"o");
    }
    observer.close();

    // An ephemeral node of a session that goes silent is removed everywhere once it expires.
    orphan_ephemeral(&ensemble.address(follower), "/orphan");
    for id in 1..=4 {
        ensemble.wait_absent(id, "/orphan");
    }

    // Enough writes for snapshots and purges, then the leader dies.
    for i in 0..120 {
        writer
            .set_data("/k", format!("v{i}").as_bytes(), -1)
            .unwrap();
    }
    writer.close();
    ensemble.kill(leader);
    let survivors: Vec<u64> = [1, 2, 3, 4]
        .into_iter()
        .filter(|id| *id != leader)
        .collect();
    let new_leader = ensemble.wait_leader(&survivors);
    assert_ne!(new_leader, leader);
    let writer = ensemble.client(survivors[0]);
    writer
        .create("/after", b"a", &open(), CreateMode::Persistent)
        .unwrap();
    writer.close();
    for id in &survivors {
        ensemble.wait_data(*id, "/k", b"v119");
        ensemble.wait_data(*id, "/after", b"a");
    }

    // The old leader comes back as a follower and catches up.
    ensemble.launch(leader);
    ensemble.wait_leader(&[1, 2, 3, 4]);
    ensemble.wait_data(leader, "/after", b"a");
    ensemble.wait_data(leader, "/k", b"v119");

    // A member whose disk was wiped rejoins with its old myid and gets a snapshot (the log it
    // would need was purged after the snapshots those 120 writes caused).
    let current = ensemble.wait_leader(&[1, 2, 3, 4]);
    let wiped = [1, 2, 3].into_iter().find(|id| *id != current).unwrap();
    ensemble.wipe(wiped);
    ensemble.launch(wiped);
    ensemble.wait_data(wiped, "/k", b"v119");
    ensemble.wait_data(wiped, "/after", b"a");
    ensemble.wait_data(wiped, "/from-observer", b"o");
    let log = std::fs::read_to_string(ensemble.member(wiped).config.with_extension("log")).unwrap();
    assert!(
        log.contains("installed a snapshot from the leader"),
        "{log}"
    );
}

#[test]
fn a_wiped_follower_catches_up_under_the_leader_that_replicated_to_it_before() {
    // The leader remembers how far the follower's log went; a follower back with an empty log
    // contradicts that, and the leader must start it over instead of retrying the same
    // entries forever.
    let mut ensemble = Ensemble::start(3, 0);
    let leader = ensemble.wait_leader(&[1, 2, 3]);
    let writer = ensemble.client(leader);
    writer
        .create("/k", b"0", &open(), CreateMode::Persistent)
        .unwrap();
    for i in 0..50 {
        writer
            .set_data("/k", format!("v{i}").as_bytes(), -1)
            .unwrap();
    }
    let follower = [1, 2, 3].into_iter().find(|id| *id != leader).unwrap();
    ensemble.wait_data(follower, "/k", b"v49");
    ensemble.wipe(follower);
    writer
        .create("/marker", b"m", &open(), CreateMode::Persistent)
        .unwrap();
    ensemble.launch(follower);
    ensemble.wait_data(follower, "/marker", b"m");
    ensemble.wait_data(follower, "/k", b"v49");
    assert_eq!(
        ensemble.wait_leader(&[1, 2, 3]),
        leader,
        "one leader throughout"
    );
    writer.close();
}

#[test]
fn five_voters_keep_going_without_a_minority_and_stop_without_a_majority() {
    let mut ensemble = Ensemble::start(5, 0);
    let leader = ensemble.wait_leader(&[1, 2, 3, 4, 5]);
    let others: Vec<u64> = [1, 2, 3, 4, 5]
        .into_iter()
        .filter(|id| *id != leader)
        .collect();

    // Lose the leader and one follower: three of five still make a majority.
    ensemble.kill(leader);
    ensemble.kill(others[0]);
    let alive = &others[1..];
    ensemble.wait_leader(alive);
    let client = ensemble.client(alive[0]);
    let mut acknowledged = Vec::new();
    for i in 0..20 {
        let path = format!("/w{i}");
        client
            .create(&path, b"x", &open(), CreateMode::Persistent)
            .unwrap();
        acknowledged.push(path);
    }
    client.close();

    // Two of five cannot write.
    ensemble.kill(alive[0]);
    let options = ClientOptions::default()
        .session_timeout(Duration::from_secs(4))
        .request_timeout(Duration::from_secs(3));
    // Without a quorum the session cannot even be created (it goes through the log); if it
    // were, the write must still fail.
    if let Ok(stuck) = Client::connect(&ensemble.address(alive[1]), options) {
        assert!(
            stuck
                .create("/must-not-exist", b"", &open(), CreateMode::Persistent)
                .is_err(),
            "a write succeeded without a majority"
        );
        stuck.close();
    }

    // Every member killed at once, then all restarted: nothing acknowledged is lost.
    for id in 1..=5 {
        ensemble.kill(id);
    }
    for id in 1..=5 {
        ensemble.launch(id);
    }
    ensemble.wait_leader(&[1, 2, 3, 4, 5]);
    for id in 1..=5 {
        for path in &acknowledged {
            ensemble.wait_data(id, path, b"x");
        }
    }
}

#[test]
fn a_member_cut_off_from_the_quorum_serves_reads_read_only() {
    let mut ensemble = Ensemble::start_with(3, 0, "-Dreadonlymode.enabled=true", "");
    ensemble.wait_leader(&[1, 2, 3]);
    let client = ensemble.client(3);
    client
        .create("/ro", b"kept", &open(), CreateMode::Persistent)
        .unwrap();
    client.sync("/ro").unwrap();
    client.close();
    ensemble.wait_data(1, "/ro", b"kept");
    ensemble.wait_data(2, "/ro", b"kept");
    ensemble.wait_data(3, "/ro", b"kept");

    ensemble.kill(1);
    ensemble.kill(2);
    wait_for("server.3 to turn read-only", || {
        (ensemble.mode(3).as_deref() == Some("read-only")).then_some(())
    });
    assert_eq!(ensemble.four_letter_word(3, "isro").as_deref(), Some("ro"));
    let options = ClientOptions::default()
        .read_only(true)
        .session_timeout(Duration::from_secs(10))
        .request_timeout(Duration::from_secs(10));
    let reader = Client::connect(&ensemble.address(3), options).unwrap();
    reader.wait_connected(DEADLINE).unwrap();
    assert_eq!(reader.get_data("/ro").unwrap().0, b"kept");
    let refused = reader.create("/nope", b"", &open(), CreateMode::Persistent);
    assert!(
        matches!(refused, Err(ref e) if e.code() == zk_core::proto::ErrorCode::NotReadOnly),
        "{refused:?}"
    );
    reader.close();

    ensemble.launch(1);
    ensemble.launch(2);
    ensemble.wait_leader(&[1, 2, 3]);
    assert_eq!(ensemble.four_letter_word(3, "isro").as_deref(), Some("rw"));
    ensemble.wait_absent(3, "/nope");
}

/// The `server.N` lines and `version=` of `/zookeeper/config` as member `id` has it.
fn config_on(ensemble: &Ensemble, id: u64) -> String {
    let client = ensemble.client(id);
    let text = client
        .get_data("/zookeeper/config")
        .map(|(d, _)| String::from_utf8_lossy(&d).into_owned())
        .unwrap_or_default();
    client.close();
    text
}

#[test]
fn reconfig_turns_an_observer_into_a_voter_and_removes_a_follower() {
    let mut ensemble =
        Ensemble::start_with(3, 1, "-Dzookeeper.skipACL=yes", "reconfigEnabled=true\n");
    let leader = ensemble.wait_leader(&[1, 2, 3, 4]);
    let leaving = [1, 2, 3].into_iter().find(|id| *id != leader).unwrap();
    for id in 1..=4 {
        wait_for(&format!("/zookeeper/config on server.{id}"), || {
            let text = config_on(&ensemble, id);
            (text.lines().filter(|l| l.starts_with("server.")).count() == 4
                && text.contains(":observer")
                && text.contains("version="))
            .then_some(())
        });
    }
    let observer_line = config_on(&ensemble, 4)
        .lines()
        .find(|l| l.starts_with("server.4="))
        .unwrap()
        .replace(":observer", ":participant");

    let client = ensemble.client(leader);
    let (data, _) = client
        .reconfig(Some(&observer_line), Some(&leaving.to_string()), None, -1)
        .unwrap();
    let text = String::from_utf8(data).unwrap();
    assert!(
        text.contains("server.4=") && !text.contains(":observer"),
        "{text}"
    );
    assert!(!text.contains(&format!("server.{leaving}=")), "{text}");
    // A stale config version is refused.
    let stale = client.reconfig(None, Some("4"), None, 1);
    assert!(
        matches!(stale, Err(ref e) if e.code() == zk_core::proto::ErrorCode::BadVersion),
        "{stale:?}"
    );
    client.close();

    wait_for("server.4 to vote", || {
        (ensemble.mode(4).as_deref() == Some("follower")).then_some(())
    });
    ensemble.kill(leaving);
    let members: Vec<u64> = [1, 2, 3, 4]
        .into_iter()
        .filter(|id| *id != leaving)
        .collect();
    ensemble.wait_leader(&members);
    let writer = ensemble.client(4);
    writer
        .create("/after-reconfig", b"r", &open(), CreateMode::Persistent)
        .unwrap();
    writer.close();
    for id in &members {
        ensemble.wait_data(*id, "/after-reconfig", b"r");
        let text = config_on(&ensemble, *id);
        assert!(
            !text.contains(&format!("server.{leaving}=")),
            "server.{id}: {text}"
        );
    }
}

#[test]
fn a_session_taken_over_by_another_member_is_moved_on_the_first() {
    let ensemble = Ensemble::start(3, 0);
    ensemble.wait_leader(&[1, 2, 3]);
    let first = ensemble.client(1);
    first
        .create("/moved", b"", &open(), CreateMode::Persistent)
        .unwrap();
    let (session_id, password) = (first.session_id(), first.as_async().session_password());
    let options = ClientOptions::default()
        .session_timeout(Duration::from_secs(10))
        .resume(session_id, password);
    let second = Client::connect(&ensemble.address(2), options).unwrap();
    second.wait_connected(DEADLINE).unwrap();
    assert_eq!(second.session_id(), session_id);
    second
        .set_data("/moved", b"from the new member", -1)
        .unwrap();
    // The first connection never learned of the move; its write is refused.
    let stale = first.set_data("/moved", b"from the old member", -1);
    assert!(
        matches!(stale, Err(ref e) if e.code() == zk_core::proto::ErrorCode::SessionMoved),
        "{stale:?}"
    );
    ensemble.wait_data(3, "/moved", b"from the new member");
    second.close();
}

/// A zxid's low half counts the txns of its term (it restarts with every new leader), not the
/// raft log's positions, which never restart and would wrap; zxids still only grow.
#[test]
fn zxids_count_the_txns_of_each_term_and_keep_growing_across_leaders() {
    let mut ensemble = Ensemble::start(3, 0);
    let leader = ensemble.wait_leader(&[1, 2, 3]);
    let client = ensemble.client(leader);
    client
        .create("/z", b"0", &open(), CreateMode::Persistent)
        .unwrap();
    for i in 1..=40 {
        client.set_data("/z", i.to_string().as_bytes(), -1).unwrap();
    }
    let (_, before) = client.get_data("/z").unwrap();
    client.close();
    let (epoch, counter) = (before.mzxid >> 32, before.mzxid & 0xffff_ffff);
    assert!(
        counter > 41,
        "41 writes and a session, yet counter {counter}"
    );

    ensemble.kill(leader);
    let others: Vec<u64> = [1, 2, 3].into_iter().filter(|id| *id != leader).collect();
    let next = ensemble.wait_leader(&others);
    let client = ensemble.client(next);
    let after = client.set_data("/z", b"after", -1).unwrap();
    client.close();
    assert!(after.mzxid > before.mzxid, "zxid went backwards");
    assert!(
        after.mzxid >> 32 > epoch,
        "no new epoch after the leader changed"
    );
    assert!(
        after.mzxid & 0xffff_ffff <= 3,
        "the new term's counter starts at {:#x}, not from 1",
        after.mzxid & 0xffff_ffff
    );
}
