//! `zk-cli` as users drive it: one-shot commands and scripted sessions on stdin against a
//! zk-server started from its binary, checking Apache zkCli's output texts.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A zk-server on a free loopback port; killed when dropped.
struct Server {
    dir: tempfile::TempDir,
    child: Child,
    address: String,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let config = dir.path().join("zoo.cfg");
        std::fs::write(
            &config,
            format!(
                "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
                 4lw.commands.whitelist=*\nadmin.enableServer=false\nextendedTypesEnabled=true\n\
                 enforceQuota=true\nmaxClientCnxns=0\n",
                dir.path().join("data").display()
            ),
        )
        .expect("write zoo.cfg");
        let log = File::create(dir.path().join("server.log")).expect("server.log");
        let child = Command::new(env!("CARGO_BIN_EXE_zk-server"))
            .arg("start-foreground")
            .arg(&config)
            .env_remove("SERVER_JVMFLAGS")
            .env_remove("JVMFLAGS")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("zk-server starts");
        let server = Server {
            dir,
            child,
            address: format!("127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !server.ruok() {
            assert!(Instant::now() < deadline, "zk-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    fn ruok(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(&self.address) else {
            return false;
        };
        let mut answer = String::new();
        stream.write_all(b"ruok").is_ok()
            && stream.read_to_string(&mut answer).is_ok()
            && answer == "imok"
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What zk-cli printed (stdout and stderr merged in order) and its exit code.
struct Run {
    output: String,
    code: i32,
}

fn zk_cli(dir: &Path, args: &[&str], stdin: Option<&str>) -> Run {
    let out_path = dir.join(format!(
        "cli-{}.out",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    ));
    let out = File::create(&out_path).expect("output file");
    let err = out.try_clone().expect("dup output file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_zk-cli"))
        .args(args)
        .env("TZ", "UTC")
        .env("HOME", dir)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .spawn()
        .expect("zk-cli starts");
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes()).expect("write script");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("zk-cli did not finish: {}", read(&out_path));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run {
        output: read(&out_path),
        code: status.code().unwrap_or(-1),
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn one_shot(server: &Server, args: &[&str]) -> Run {
    let mut all = vec!["-server", server.address.as_str()];
    all.extend_from_slice(args);
    zk_cli(server.dir.path(), &all, None)
}

const MARKER: &str = "/zk-cli-test-marker-";

/// The output of each command of a scripted session, without blank lines, with its watch
/// events (`type path`) apart.
struct Script {
    blocks: Vec<Vec<String>>,
    events: Vec<Vec<String>>,
    code: i32,
    raw: String,
}

impl Script {
    fn out(&self, index: usize) -> Vec<&str> {
        self.blocks[index].iter().map(String::as_str).collect()
    }
}

/// Runs `commands` in one session; a `stat` of a missing marker node after each command
/// separates their outputs. Events caused by a command are printed before the next one.
fn script(server: &Server, commands: &[&str]) -> Script {
    script_with(server, &[], commands)
}

fn script_with(server: &Server, args: &[&str], commands: &[&str]) -> Script {
    let mut text = String::new();
    for (i, command) in commands.iter().enumerate() {
        text.push_str(&format!("{command}\nstat {MARKER}{i}\n"));
    }
    let mut all = vec!["-server", server.address.as_str()];
    all.extend_from_slice(args);
    let run = zk_cli(server.dir.path(), &all, Some(&text));
    let mut blocks = Vec::new();
    let mut events = Vec::new();
    let mut block = Vec::new();
    let mut block_events = Vec::new();
    let mut started = false;
    for line in run.output.lines() {
        if line == "JLine support is disabled" {
            started = true;
            continue;
        }
        if !started || line.trim().is_empty() || line == "WATCHER::" {
            continue;
        }
        if let Some(event) = line.strip_prefix("WatchedEvent state:") {
            let mut parts = event.split(' ');
            let state = parts.next().unwrap_or_default();
            let kind = parts.next().unwrap_or_default().trim_start_matches("type:");
            let path = parts.next().unwrap_or_default().trim_start_matches("path:");
            if kind == "None" {
                block_events.push(format!("{state} {kind}"));
            } else {
                block_events.push(format!("{kind} {path}"));
            }
            continue;
        }
        // A marker may end a line that a command printed without a newline.
        let marker = format!("Node does not exist: {MARKER}");
        if let Some((before, index)) = line.split_once(marker.as_str()) {
            assert_eq!(
                index,
                blocks.len().to_string(),
                "output out of order:\n{}",
                run.output
            );
            if !before.is_empty() {
                block.push(before.to_owned());
            }
            blocks.push(std::mem::take(&mut block));
            events.push(std::mem::take(&mut block_events));
            continue;
        }
        block.push(line.to_owned());
    }
    assert_eq!(
        blocks.len(),
        commands.len(),
        "not every command ran:\n{}",
        run.output
    );
    Script {
        blocks,
        events,
        code: run.code,
        raw: run.output,
    }
}

/// The 11 Stat lines, zxids and times replaced: `(name, value)` in order.
fn stat_fields(lines: &[&str]) -> Vec<(String, String)> {
    let names = [
        "cZxid",
        "ctime",
        "mZxid",
        "mtime",
        "pZxid",
        "cversion",
        "dataVersion",
        "aclVersion",
        "ephemeralOwner",
        "dataLength",
        "numChildren",
    ];
    assert_eq!(lines.len(), names.len(), "not a stat block: {lines:?}");
    lines
        .iter()
        .zip(names)
        .map(|(line, name)| {
            let (key, value) = line
                .split_once(" = ")
                .unwrap_or_else(|| panic!("bad stat line {line:?}"));
            assert_eq!(key, name);
            (key.to_owned(), value.to_owned())
        })
        .collect()
}

fn stat_value(lines: &[&str], name: &str) -> String {
    stat_fields(lines)
        .into_iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
        .unwrap_or_default()
}

#[test]
fn one_shot_commands_and_exit_codes() {
    let server = Server::start();
    let created = one_shot(&server, &["create", "/one", "inputData"]);
    assert_eq!(created.code, 0, "{}", created.output);
    assert!(created.output.starts_with("Connecting to 127.0.0.1:"));
    assert!(created.output.lines().any(|l| l == "Created /one"));

    let got = one_shot(&server, &["get", "-s", "/one"]);
    assert_eq!(got.code, 0, "{}", got.output);
    let lines: Vec<&str> = got
        .output
        .lines()
        .filter(|l| {
            !l.is_empty()
                && !l.starts_with("Connecting")
                && !l.starts_with("WATCHER::")
                && !l.starts_with("WatchedEvent")
        })
        .collect();
    assert_eq!(lines[0], "inputData");
    let stat = stat_fields(&lines[1..]);
    assert!(stat[0].1.starts_with("0x") && stat[0].1 != "0x0");
    assert_eq!(stat[0].1, stat[2].1, "czxid = mzxid");
    assert!(
        stat[1].1.ends_with(" UTC 2026") || stat[1].1.contains(" UTC "),
        "Java date: {}",
        stat[1].1
    );
    assert_eq!(stat[9].1, "9");

    let missing = one_shot(&server, &["get", "/missing"]);
    assert_eq!(missing.code, 1);
    assert!(missing
        .output
        .lines()
        .any(|l| l == "Node does not exist: /missing"));

    let again = one_shot(&server, &["create", "/one", "x"]);
    assert_eq!(again.code, 1);
    assert!(again.output.contains("Node already exists: /one"));

    let unknown = one_shot(&server, &["frobnicate"]);
    assert_eq!(unknown.code, 127);
    assert!(unknown
        .output
        .contains("ZooKeeper -server host:port -client-configuration properties-file cmd args"));
    assert!(unknown.output.contains("\tls [-s] [-w] [-R] path"));
    assert!(unknown
        .output
        .contains("Command not found: Command not found frobnicate"));

    let version = one_shot(&server, &["version"]);
    assert_eq!(version.code, 0);
    assert!(version.output.contains("ZooKeeper CLI version: zk-cli "));

    let bad_option = one_shot(&server, &["create", "-x", "/x"]);
    assert_eq!(bad_option.code, 1);
    assert!(bad_option
        .output
        .contains("org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: -x"));

    // A chroot is stripped from what the client sees.
    let chrooted = zk_cli(
        server.dir.path(),
        &[
            "-server",
            &format!("{}/one", server.address),
            "create",
            "/sub",
            "d",
        ],
        None,
    );
    assert_eq!(chrooted.code, 0, "{}", chrooted.output);
    assert!(chrooted.output.contains("Created /sub"));
    let listed = one_shot(&server, &["ls", "/one"]);
    assert!(
        listed.output.lines().any(|l| l == "[sub]"),
        "{}",
        listed.output
    );

    let bad_timeout = zk_cli(server.dir.path(), &["-timeout", "soon", "ls", "/"], None);
    assert_eq!(bad_timeout.code, 2);
}

#[test]
fn nodes_stat_versions_and_listing() {
    let server = Server::start();
    let s = script(
        &server,
        &[
            "create /n \"base\"",
            "create -s -e /n/eph- \"e\"",
            "create -s /n/pseq-",
            "create /n/data \"v1\"",
            "set /n/data \"v2\"",
            "get -s /n/data",
            "stat /n/data",
            "create /n/data",
            "set /n/data v3 -v 7",
            "set -s -v 1 /n/data v3",
            "stat /n/missing",
            "get /n/missing",
            "ls /n/missing",
            "create /n/tree",
            "create /n/tree/b \"bee\"",
            "create /n/tree/a",
            "create /n/tree/a/c",
            "ls -R /n/tree",
            "ls /n/tree",
            "ls -s /n/tree",
            "delete /n/tree",
            "delete -v 3 /n/tree/a/c",
            "delete /n/tree/a/c",
            "deleteall /n/tree",
            "ls /n/tree",
            "getEphemerals /n",
            "getEphemerals",
            "getAllChildrenNumber /n",
            "sync /n",
            "ls /zookeeper",
            "create /n/q 'quoted text'",
            "get /n/q",
            "create bad",
            "get /n//x",
            "create -s /n/seq/",
            "delete /zookeeper",
            "create -e /n/e2",
            "create /n/e2/child",
            "get /n/data extra",
            "deleteall /n/nope",
            "create -c -e /n/x",
            "create -t 0 /n/x",
            "create -t 60000 -e /n/x",
            "create -t abc /n/x",
        ],
    );
    assert_eq!(s.out(0), ["Created /n"]);
    assert_eq!(s.out(1), ["Created /n/eph-0000000000"]);
    assert_eq!(s.out(2), ["Created /n/pseq-0000000001"]);
    assert_eq!(s.out(4), Vec::<&str>::new());
    let get = s.out(5);
    assert_eq!(get[0], "v2");
    assert_eq!(stat_value(&get[1..], "dataVersion"), "1");
    assert_eq!(stat_value(&get[1..], "dataLength"), "2");
    assert_ne!(
        stat_value(&get[1..], "cZxid"),
        stat_value(&get[1..], "mZxid")
    );
    assert_eq!(stat_fields(&s.out(6)), stat_fields(&get[1..]));
    assert_eq!(s.out(7), ["Node already exists: /n/data"]);
    assert_eq!(s.out(8), ["version No is not valid : /n/data"]);
    assert_eq!(stat_value(&s.out(9), "dataVersion"), "2");
    assert_eq!(s.out(10), ["Node does not exist: /n/missing"]);
    assert_eq!(s.out(11), ["Node does not exist: /n/missing"]);
    assert_eq!(s.out(12), ["Node does not exist: /n/missing"]);
    assert_eq!(
        s.out(17),
        ["/n/tree", "/n/tree/a", "/n/tree/b", "/n/tree/a/c"]
    );
    assert_eq!(s.out(18), ["[a, b]"]);
    let ls = s.out(19);
    assert_eq!(ls[0], "[a, b]");
    assert_eq!(stat_value(&ls[1..], "numChildren"), "2");
    assert_eq!(stat_value(&ls[1..], "cversion"), "2");
    assert_eq!(s.out(20), ["Node not empty: /n/tree"]);
    assert_eq!(s.out(21), ["version No is not valid : /n/tree/a/c"]);
    assert_eq!(s.out(22), Vec::<&str>::new());
    assert_eq!(s.out(23), Vec::<&str>::new());
    assert_eq!(s.out(24), ["Node does not exist: /n/tree"]);
    assert_eq!(s.out(25), ["[/n/eph-0000000000]"]);
    assert_eq!(s.out(26), ["[/n/eph-0000000000]"]);
    assert_eq!(s.out(27), ["3"]);
    assert_eq!(s.out(28), ["Sync is OK"]);
    assert_eq!(s.out(29), ["[config, quota]"]);
    assert_eq!(s.out(31), ["quoted text"]);
    assert_eq!(s.out(32), ["Path must start with / character"]);
    assert_eq!(
        s.out(33),
        ["Invalid path string \"/n//x\" caused by empty node name specified @3"]
    );
    assert_eq!(s.out(34), ["Node does not exist: /n/seq/"]);
    assert_eq!(s.out(35), ["Arguments are not valid : /zookeeper"]);
    assert_eq!(s.out(37), ["Ephemerals cannot have children: /n/e2/child"]);
    assert_eq!(
        s.out(38),
        [
            "'get path [watch]' has been deprecated. Please use 'get [-s] [-w] path' instead.",
            "v3"
        ]
    );
    assert_eq!(s.out(39), ["Node does not exist: /n/nope"]);
    assert_eq!(
        s.out(40),
        ["-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential."]
    );
    assert_eq!(
        s.out(41),
        ["ttl must be positive and cannot be larger than: 1099511627775"]
    );
    assert_eq!(s.out(42), ["TTLs cannot be used with Ephemeral znodes"]);
    assert_eq!(s.out(43), ["-t argument must be a long value"]);
    // The last command was the marker `stat` of a missing node.
    assert_eq!(s.code, 1, "{}", s.raw);
}

#[test]
fn acls_auth_and_whoami() {
    let server = Server::start();
    // base64(sha1("bob:secret"))
    let bob = "bob:fyVmFCwVbTJYrznoSu1koqYEYF0=";
    let set_bob = format!("setAcl /a/y digest:{bob}:cdrwa,world:anyone:r");
    let s = script(
        &server,
        &[
            "create /a",
            "getAcl /a",
            "addauth digest u:p",
            "create /a/x \"xd\"",
            "setAcl /a/x auth:u:p:cdrwa",
            "getAcl /a/x",
            "getAcl -s /a/x",
            "create /a/y",
            &set_bob,
            "getAcl /a/y",
            "setAcl /a/y world:anyone:cdrwa",
            "set /a/y data",
            "setAcl /a/x ip:not-an-ip:r",
            "setAcl /a/x nonsense",
            "create /a/z x world:anyone:rq",
            "getAcl /a/z",
            "getAcl /zookeeper/config",
            "whoami",
            "create /a/r",
            "create /a/r/s",
            "setAcl -R /a/r world:anyone:cdrw",
            "getAcl /a/r/s",
            "setAcl -R /a/r world:anyone:cdrw",
            "setAcl -s -v 1 /a/x world:anyone:cdrwa",
            "getAcl /a/x",
        ],
    );
    assert_eq!(s.out(1), ["'world,'anyone", ": cdrwa"]);
    let digest_u = "'digest,'u:Jq7wMyA/w2Vd5WIDAKdu4OIIFEQ=";
    assert_eq!(s.out(2), Vec::<&str>::new());
    assert_eq!(s.out(5), [digest_u, ": cdrwa"]);
    let with_stat = s.out(6);
    assert_eq!(&with_stat[..2], [digest_u, ": cdrwa"]);
    assert_eq!(stat_value(&with_stat[2..], "aclVersion"), "1");
    assert_eq!(s.out(8), Vec::<&str>::new());
    assert_eq!(
        s.out(9),
        ["'digest,'bob:x", ": cdrwa", "'world,'anyone", ": r"]
    );
    assert_eq!(s.out(10), ["Insufficient permission : /a/y"]);
    assert_eq!(s.out(11), ["Insufficient permission : /a/y"]);
    assert_eq!(s.out(12), ["Acl is not valid : /a/x"]);
    assert_eq!(
        s.out(13),
        [
            "nonsense does not have the form scheme:id:perm",
            "Acl is not valid : null"
        ]
    );
    assert_eq!(s.out(14), ["Unknown perm type: q", "Created /a/z"]);
    assert_eq!(s.out(15), ["'world,'anyone", ": r"]);
    assert_eq!(s.out(16), ["'world,'anyone", ": r"]);
    let mut who = s.out(17);
    assert_eq!(who.remove(0), "Auth scheme: User");
    who.sort_unstable();
    assert_eq!(who, ["digest: u", "ip: 127.0.0.1"]);
    assert_eq!(s.out(20), Vec::<&str>::new());
    assert_eq!(s.out(21), ["'world,'anyone", ": cdrw"]);
    // -R prints each failure without a newline, as Apache does.
    assert_eq!(
        s.out(22),
        ["KeeperErrorCode = NoAuth for /a/rKeeperErrorCode = NoAuth for /a/r/s"]
    );
    let set = s.out(23);
    assert_eq!(stat_value(&set, "aclVersion"), "2");
    assert_eq!(s.out(24), ["'world,'anyone", ": cdrwa"]);

    // A refused credential ends the session: the next request reports it, later ones
    // find no connection.
    let failed = zk_cli(
        server.dir.path(),
        &["-server", &server.address],
        Some("addauth nosuchscheme x\nls /\nls /\n"),
    );
    let lines: Vec<&str> = failed
        .output
        .lines()
        .filter(|l| !l.is_empty() && *l != "WATCHER::")
        .skip(3)
        .collect();
    assert_eq!(
        lines,
        [
            "WatchedEvent state:SyncConnected type:None path:null",
            "WatchedEvent state:AuthFailed type:None path:null",
            "KeeperErrorCode = AuthFailed for /",
            "Not connected"
        ],
        "{}",
        failed.output
    );
    assert_eq!(failed.code, 0, "the last command printed `Not connected`");
}

#[test]
fn quotas() {
    let server = Server::start();
    let s = script(
        &server,
        &[
            "create /q",
            "create /q/n",
            "setquota -n 2 /q/n",
            "listquota /q/n",
            "create /q/n/a",
            "create /q/n/b \"12345\"",
            "create /q/n/c",
            "listquota /q/n",
            "get /zookeeper/quota/q/n/zookeeper_limits",
            "get /zookeeper/quota/q/n/zookeeper_stats",
            "ls /zookeeper/quota/q/n",
            "create /q/h",
            "setquota -N 2 /q/h",
            "create /q/h/a",
            "create /q/h/b",
            "setquota -n 1 /q/h/a",
            "setquota -n 1 /q",
            "setquota -b 3 /q/h",
            "listquota /q/h",
            "delquota -n /q/n",
            "listquota /q/n",
            "delquota /q/n",
            "listquota /q/n",
            "delquota /q/n",
            "ls /zookeeper/quota/q",
            "setquota /q/h",
            "setquota -n 1 -b 2 /q/h",
            "setquota -n 0 /q/h",
            "setquota -n many /q/h",
            "setquota -n 5 /q/none",
            "setquota -n 5 /zookeeper/quota/x",
            "setquota -n 1 /q/h",
        ],
    );
    assert_eq!(s.out(2), Vec::<&str>::new());
    assert_eq!(
        s.out(3),
        [
            "absolute path is /zookeeper/quota/q/n/zookeeper_limits",
            "Output quota for /q/n count=2,bytes=-1=;byteHardLimit=-1;countHardLimit=-1",
            "Output stat for /q/n count=1,bytes=0"
        ]
    );
    assert_eq!(s.out(6), ["Created /q/n/c"], "soft quotas only log");
    assert_eq!(s.out(7)[2], "Output stat for /q/n count=4,bytes=5");
    assert_eq!(
        s.out(8),
        ["count=2,bytes=-1=;byteHardLimit=-1;countHardLimit=-1"]
    );
    assert_eq!(s.out(9), ["count=4,bytes=5"]);
    assert_eq!(s.out(10), ["[zookeeper_limits, zookeeper_stats]"]);
    assert_eq!(s.out(13), ["Created /q/h/a"]);
    assert_eq!(s.out(14), ["Quota has exceeded : /q/h/b"]);
    assert_eq!(s.out(15), ["/q/h/a has a parent /q/h which has a quota"]);
    assert_eq!(s.out(16), ["/q has a child /q/h which has a quota"]);
    assert_eq!(s.out(17), Vec::<&str>::new());
    assert_eq!(
        s.out(18)[1],
        "Output quota for /q/h count=-1,bytes=3=;byteHardLimit=-1;countHardLimit=2"
    );
    assert_eq!(
        s.out(20)[1],
        "Output quota for /q/n count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=-1"
    );
    assert_eq!(
        s.out(22),
        [
            "absolute path is /zookeeper/quota/q/n/zookeeper_limits",
            "quota for /q/n does not exist."
        ]
    );
    assert_eq!(s.out(23), ["Quota does not exist for /q/n"]);
    assert_eq!(s.out(24), ["[h]"]);
    assert_eq!(
        s.out(25),
        ["org.apache.commons.cli.MissingOptionException: Missing required option: [-n num soft quota, -b bytes soft quota, -N num hard quota, -B bytes hard quota]"]
    );
    assert_eq!(
        s.out(26),
        ["org.apache.commons.cli.AlreadySelectedException: The option 'b' was specified but an option from this group has already been selected: 'n'"]
    );
    assert_eq!(s.out(27), ["the num quota must be greater than zero"]);
    assert_eq!(
        s.out(28),
        ["NumberFormatException happens when parsing the option value"]
    );
    assert_eq!(s.out(29), ["/q/none does not exist."]);
    assert_eq!(
        s.out(30),
        ["cannot set a quota under the path: /zookeeper/quota"]
    );
    assert_eq!(
        s.out(31),
        ["[Warning]: the count quota you create is less than the existing count:2"]
    );
}

#[test]
fn watches_print_once_per_notification() {
    let server = Server::start();
    let s = script(
        &server,
        &[
            "create /w",
            "addWatch /w",
            "create /w/c",
            "set /w/c \"v\"",
            "delete /w/c",
            "create /p",
            "addWatch -m PERSISTENT /p",
            "create /p/c",
            "set /p x",
            "create /g \"a\"",
            "get -w /g",
            "set /g \"b\"",
            "set /g \"c\"",
            "ls -w /g",
            "get -w /g",
            "stat -w /g",
            "delete /g",
            "stat -w /g",
            "create /g",
            "get -w /w",
            "set /w 2",
            "set /w 3",
            "printwatches off",
            "printwatches",
            "set /p y",
            "printwatches on",
            "get -w /p",
            "removewatches /p -c",
            "removewatches /p -d",
            "removewatches /p",
            "set /p z",
            "ls -w /w",
            "removewatches /w -c",
            "removewatches /nowatch",
            "addWatch -m sometimes /w",
            "ls -R -w /w",
            "create /w/d",
        ],
    );
    let none: Vec<String> = Vec::new();
    assert_eq!(s.events[0], ["SyncConnected None"]);
    assert_eq!(s.events[1], none);
    assert_eq!(s.events[2], ["NodeCreated /w/c"]);
    assert_eq!(s.events[3], ["NodeDataChanged /w/c"]);
    assert_eq!(s.events[4], ["NodeDeleted /w/c"]);
    assert_eq!(s.events[6], none);
    assert_eq!(s.events[7], ["NodeChildrenChanged /p"]);
    assert_eq!(s.events[8], ["NodeDataChanged /p"]);
    assert_eq!(s.out(10), ["a"]);
    assert_eq!(s.events[11], ["NodeDataChanged /g"]);
    assert_eq!(s.events[12], none, "one-shot watch");
    // A data, a child and an exist watch on /g: one notification, one print.
    assert_eq!(s.events[16], ["NodeDeleted /g"]);
    assert_eq!(s.out(17), ["Node does not exist: /g"]);
    assert_eq!(s.events[18], ["NodeCreated /g"]);
    // A one-shot and a recursive watch on /w fire together and print once. The server,
    // like Apache's, keeps one watch mode per session and path: the one-shot watch
    // replaced the recursive one on /w, so the next change is not reported (zkCli on
    // Apache ZooKeeper 3.8 shows the same).
    assert_eq!(s.events[20], ["NodeDataChanged /w"]);
    assert_eq!(s.events[21], none);
    assert_eq!(s.out(23), ["printwatches is off"]);
    assert_eq!(s.events[24], none);
    assert_eq!(
        s.out(27),
        ["KeeperErrorCode = No such watcher for /p"],
        "-c has no child watch to remove"
    );
    assert_eq!(s.events[28], ["DataWatchRemoved /p"]);
    assert_eq!(s.events[29], ["PersistentWatchRemoved /p"]);
    assert_eq!(s.events[30], none, "every watch on /p is gone");
    assert_eq!(s.events[32], ["ChildWatchRemoved /w"]);
    assert_eq!(
        s.out(33),
        ["KeeperErrorCode = No such watcher for /nowatch"]
    );
    assert_eq!(
        s.out(34),
        ["addWatch [-m mode] path # optional mode is one of [PERSISTENT, PERSISTENT_RECURSIVE] - default is PERSISTENT_RECURSIVE"]
    );
    assert_eq!(s.out(35), ["/w"]);
    // The child watch from `ls -R -w` fires (the recursive watch on /w was replaced).
    assert_eq!(s.events[36], ["NodeChildrenChanged /w"]);
}

#[test]
fn shell_commands_history_redo_close_connect() {
    let server = Server::start();
    let s = script(
        &server,
        &[
            "create /h \"one\"",
            "get /h",
            "history",
            "redo 2",
            "redo 99",
            "redo 0x2",
            "redo 8",
        ],
    );
    // Each command is followed by its marker line in the history.
    assert_eq!(
        s.out(2),
        [
            "0 - create /h \"one\"",
            &format!("1 - stat {MARKER}0"),
            "2 - get /h",
            &format!("3 - stat {MARKER}1"),
            "4 - history"
        ]
    );
    assert_eq!(s.out(3), ["one"]);
    assert_eq!(s.out(4), ["Command index out of range"]);
    assert_eq!(s.out(5), ["one"]);
    assert_eq!(s.out(6), ["No redoing redos"]);

    // After close nothing runs until connect opens a new session.
    let commands = format!(
        "get /h\nclose\nls /\nprintwatches\nconnect {}\nget /h\nclose\nclose\n",
        server.address
    );
    let run = zk_cli(
        server.dir.path(),
        &["-server", &server.address],
        Some(&commands),
    );
    let lines: Vec<&str> = run
        .output
        .lines()
        .filter(|l| !l.is_empty() && *l != "WATCHER::")
        .skip(3)
        .collect();
    assert_eq!(
        lines,
        [
            "WatchedEvent state:SyncConnected type:None path:null",
            "one",
            "WatchedEvent state:Closed type:None path:null",
            "Not connected",
            "printwatches is on",
            "Not connected",
            "WatchedEvent state:SyncConnected type:None path:null",
            "one",
            "WatchedEvent state:Closed type:None path:null",
            "Not connected",
        ],
        "{}",
        run.output
    );

    // quit exits with the code of the command before it.
    let run = zk_cli(
        server.dir.path(),
        &["-server", &server.address],
        Some("get /missing\nquit\nls /\n"),
    );
    assert_eq!(run.code, 1, "{}", run.output);
    assert!(run
        .output
        .contains("WatchedEvent state:Closed type:None path:null"));
    assert!(
        !run.output.contains("zookeeper]"),
        "nothing runs after quit"
    );
    let run = zk_cli(
        server.dir.path(),
        &["-server", &server.address],
        Some("ls /h\n"),
    );
    assert_eq!(run.code, 0, "{}", run.output);
    assert!(run.output.contains("Welcome to ZooKeeper!"));
    assert!(!run.output.contains("state:Closed"), "EOF exits quietly");
}

#[test]
fn data_formats_config_and_reconfig() {
    let server = Server::start();
    let s = script(
        &server,
        &[
            "create /d hello",
            "get -b /d",
            "get -x /d",
            "set -b /d d29ybGQ=",
            "get /d",
            "set /d",
            "config",
            "config -c",
            "config -s",
            "reconfig",
            "reconfig -add 1=localhost:1:2;3",
            "reconfig -members a -add b",
            "create -t 60000 /ttl \"t\"",
            "stat /ttl",
            "create -c /cont",
            "stat /cont",
            "ls -?",
            "get",
            "create -e /eph",
            "stat /eph",
        ],
    );
    assert_eq!(s.out(1), ["aGVsbG8="]);
    assert_eq!(
        s.out(2),
        [
            "         +-------------------------------------------------+",
            "         |  0  1  2  3  4  5  6  7  8  9  a  b  c  d  e  f |",
            "+--------+-------------------------------------------------+----------------+",
            "|00000000| 68 65 6c 6c 6f                                  |hello           |",
            "+--------+-------------------------------------------------+----------------+",
        ]
    );
    assert_eq!(s.out(4), ["world"]);
    assert_eq!(
        s.out(5),
        [
            "set path data [-s] [-v version] [-b]",
            " -b         Supply data in base64 format",
            " -s         Print znode stats additionally",
            " -v <arg>   Set with an expected version",
        ]
    );
    assert_eq!(s.out(6), Vec::<&str>::new(), "standalone: empty config");
    assert_eq!(stat_value(&s.out(8), "aclVersion"), "-1");
    assert!(s.out(9)[0].starts_with("reconfig [-s] [-v version]"));
    let refused = s.out(10);
    assert_eq!(refused.len(), 1);
    assert!(refused[0].starts_with("KeeperErrorCode = "), "{refused:?}");
    assert!(s.out(11)[0].starts_with("Can't use -file or -members together with -add"));
    assert_eq!(s.out(12), ["Created /ttl"]);
    assert_eq!(stat_value(&s.out(13), "ephemeralOwner"), "0x0");
    assert_eq!(s.out(14), ["Created /cont"]);
    assert_eq!(
        s.out(16),
        [
            "usage: ls [options] path",
            " -?   help",
            " -R   recurse",
            " -s   stat",
            " -w   watch",
            "ls [-s] [-w] [-R] path"
        ]
    );
    assert_eq!(s.out(17)[0], "get [-s] [-w] [-b] [-x] path");
    let owner = stat_value(&s.out(19), "ephemeralOwner");
    assert!(owner.len() > 4 && owner != "0x0", "{owner}");

    // -r is accepted and -waitforconnection waits for the session.
    let run = zk_cli(
        server.dir.path(),
        &[
            "-server",
            &server.address,
            "-r",
            "-waitforconnection",
            "get",
            "/d",
        ],
        None,
    );
    assert_eq!(run.code, 0, "{}", run.output);
    assert!(run.output.lines().any(|l| l == "world"));
}
