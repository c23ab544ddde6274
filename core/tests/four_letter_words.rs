//! Four-letter words over a raw socket against an in-process server: what each prints,
//! in Apache 3.8's formats, and the whitelist.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::{wait_until, RawClient, TestServer};
use zk_core::proto::*;

/// Sends `bytes` as the first thing on a new connection and reads until the server closes.
fn send(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(bytes).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn word(addr: SocketAddr, w: &str) -> String {
    send(addr, w.as_bytes())
}

/// The `key: value` lines of `srvr`/`stat`.
fn fields(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// `mntr` as an ordered list of `(key, value)`, checking each line's shape.
fn mntr(addr: SocketAddr) -> Vec<(String, String)> {
    let text = word(addr, "mntr");
    assert!(text.ends_with('\n'), "{text:?}");
    text.lines()
        .map(|l| {
            let (k, v) = l
                .split_once('\t')
                .unwrap_or_else(|| panic!("no tab in {l:?}"));
            assert!(k.starts_with("zk_"), "{l:?}");
            assert!(!v.contains('\t'), "{l:?}");
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

fn metric(m: &[(String, String)], key: &str) -> String {
    m.iter()
        .find(|(k, _)| k == key)
        .unwrap_or_else(|| panic!("no {key} in {m:?}"))
        .1
        .clone()
}

fn int_metric(m: &[(String, String)], key: &str) -> i64 {
    metric(m, key)
        .parse()
        .unwrap_or_else(|e| panic!("{key}: {e}"))
}

/// Sends `w` (`srvr` or `stat`) until its `Connections:` shows only the `n` connections
/// the test holds plus its own (a four-letter-word connection leaves the server's table
/// just after the server closes it, so a previous one may still be listed).
fn settled(addr: SocketAddr, w: &str, n: usize) -> String {
    let mut out = String::new();
    wait_until("the connection count to settle", || {
        out = word(addr, w);
        fields(&out)["Connections"] == (n + 1).to_string()
    });
    out
}

fn watch_req(path: &str) -> PathWatchRequest {
    PathWatchRequest {
        path: path.into(),
        watch: true,
    }
}

#[test]
fn simple_words() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    assert_eq!(word(server.addr, "ruok"), "imok");
    assert_eq!(word(server.addr, "isro"), "rw");
    assert_eq!(word(server.addr, "hash"), "", "no digests are kept");
    assert_eq!(word(server.addr, "gtmk"), "306", "ZooTrace's default mask");
    let mut stmk = b"stmk".to_vec();
    stmk.extend_from_slice(&0x1234i64.to_be_bytes());
    assert_eq!(send(server.addr, &stmk), "4660");
    assert_eq!(word(server.addr, "gtmk"), "4660");
    stmk.truncate(4);
    stmk.extend_from_slice(&(-1i64).to_be_bytes());
    assert_eq!(send(server.addr, &stmk), "-1");
    // As `echo ruok | nc` sends it.
    assert_eq!(send(server.addr, b"ruok\n"), "imok");
    // telnet's close sequence is a known word that prints nothing.
    assert_eq!(send(server.addr, &[0xff, 0xf4, 0xff, 0xfd]), "");
    server.stop();
}

#[test]
fn srvr_and_stat() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let srvr = word(server.addr, "srvr");
    let lines: Vec<&str> = srvr.lines().collect();
    assert!(
        lines[0].starts_with("Zookeeper version: 3.8.0-zk-"),
        "{srvr}"
    );
    assert!(lines[0].contains(", built on "), "{srvr}");
    assert_eq!(
        &lines[1..],
        [
            "Latency min/avg/max: 0/0.0/0",
            "Received: 1",
            "Sent: 0",
            "Connections: 1",
            "Outstanding: 0",
            "Zxid: 0x0",
            "Mode: standalone",
            "Node count: 4",
        ],
        "{srvr}"
    );
    assert!(srvr.ends_with("Node count: 4\n"));

    let mut c = RawClient::connect(server.addr);
    c.create("/a", b"data", 0).unwrap();
    let stat = settled(server.addr, "stat", 1);
    let f = fields(&stat);
    assert_eq!(f["Mode"], "standalone");
    assert_eq!(f["Node count"], "5");
    assert_eq!(f["Connections"], "2");
    assert_eq!(f["Zxid"], "0x2", "createSession then create");
    let (before, after) = stat.split_once("Clients:\n").unwrap();
    assert!(
        before.starts_with("Zookeeper version: ") && before.lines().count() == 1,
        "{stat}"
    );
    let (clients, rest) = after.split_once("\n\n").unwrap();
    assert!(rest.starts_with("Latency min/avg/max: "), "{stat}");
    let clients: Vec<&str> = clients.lines().collect();
    assert_eq!(clients.len(), 2, "{stat}");
    // The client: reading, handshake + create received, their two replies sent (the
    // writer counts the create as in flight until just after it queued the reply).
    assert!(clients[0].starts_with(" /127.0.0.1:"), "{stat}");
    assert!(clients[0].contains("[1](queued="), "{stat}");
    assert!(clients[0].ends_with(",recved=2,sent=2)"), "{stat}");
    // This very connection: no longer reading, one packet (the word) received.
    assert!(
        clients[1].ends_with("[0](queued=0,recved=1,sent=0)"),
        "{stat}"
    );
    server.stop();
}

#[test]
fn cons_crst_and_srst() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let mut c = RawClient::connect(server.addr);
    c.create("/a", b"", 0).unwrap();
    c.result(&Request::GetData(PathWatchRequest {
        path: "/a".into(),
        watch: false,
    }))
    .unwrap();
    let cons = word(server.addr, "cons");
    assert!(cons.ends_with(")\n\n"), "{cons:?}");
    let line = cons
        .lines()
        .find(|l| l.contains(",sid="))
        .unwrap_or_else(|| panic!("{cons}"));
    let sid = format!("sid=0x{:x},", c.session_id);
    assert!(line.starts_with(" /127.0.0.1:"), "{line}");
    assert!(line.contains("[1](queued=0,recved=3,sent=3,"), "{line}");
    assert!(line.contains(&sid), "{line}");
    assert!(line.contains(",lop=GETD,est="), "{line}");
    assert!(
        line.contains(&format!(",to={},lcxid=0x2,lzxid=0x2,lresp=", c.timeout)),
        "{line}"
    );
    for key in ["llat=", "minlat=", "avglat=", "maxlat="] {
        assert!(line.contains(key), "{line}");
    }
    assert!(line.ends_with(')'), "{line}");

    assert_eq!(word(server.addr, "crst"), "Connection stats reset.\n");
    let cons = word(server.addr, "cons");
    let line = cons.lines().find(|l| l.contains(",sid=")).unwrap();
    assert!(line.contains("[1](queued=0,recved=0,sent=0,"), "{line}");
    assert!(line.contains(",lop=NA,"), "{line}");
    assert!(!line.contains("lcxid"), "{line}");
    assert!(
        line.contains(",lzxid=0xffffffffffffffff,lresp=0,llat=0,minlat=0,avglat=0,maxlat=0)"),
        "{line}"
    );

    assert!(
        fields(&word(server.addr, "srvr"))["Received"]
            .parse::<u64>()
            .unwrap()
            > 3
    );
    assert_eq!(word(server.addr, "srst"), "Server stats reset.\n");
    let f = fields(&word(server.addr, "srvr"));
    assert_eq!(f["Latency min/avg/max"], "0/0.0/0");
    assert_eq!(f["Received"], "1", "only this srvr since the reset");
    assert_eq!(f["Sent"], "1", "the reply to srst");
    // Requests count again after the reset.
    c.result(&Request::Exists(PathWatchRequest {
        path: "/a".into(),
        watch: false,
    }))
    .unwrap();
    let f = fields(&word(server.addr, "srvr"));
    assert_eq!(f["Received"], "3");
    server.stop();
}

#[test]
fn conf_and_dirs() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(dir.path(), |o| {
        o.tick_time = Duration::from_millis(1500);
        o.min_session_timeout_ms = 3000;
        o.max_session_timeout_ms = 30000;
    });
    let conf = word(server.addr, "conf");
    let pairs: Vec<(&str, &str)> = conf.lines().map(|l| l.split_once('=').unwrap()).collect();
    let keys: Vec<&str> = pairs.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        keys,
        [
            "clientPort",
            "secureClientPort",
            "dataDir",
            "dataDirSize",
            "dataLogDir",
            "dataLogSize",
            "tickTime",
            "maxClientCnxns",
            "minSessionTimeout",
            "maxSessionTimeout",
            "clientPortListenBacklog",
            "serverId",
        ]
    );
    let v: BTreeMap<&str, &str> = pairs.into_iter().collect();
    let version2 = dir.path().join("version-2");
    assert_eq!(v["clientPort"], server.addr.port().to_string());
    assert_eq!(v["secureClientPort"], "-1");
    assert_eq!(v["dataDir"], version2.display().to_string());
    assert_eq!(v["dataLogDir"], version2.display().to_string());
    assert_eq!(v["tickTime"], "1500");
    assert_eq!(v["maxClientCnxns"], "0");
    assert_eq!(v["minSessionTimeout"], "3000");
    assert_eq!(v["maxSessionTimeout"], "30000");
    assert_eq!(v["clientPortListenBacklog"], "-1");
    assert_eq!(v["serverId"], "0");
    assert!(v["dataDirSize"].parse::<u64>().is_ok());

    let mut c = RawClient::connect(server.addr);
    c.create("/a", &[7u8; 100], 0).unwrap();
    let dirs = word(server.addr, "dirs");
    let lines: Vec<&str> = dirs.lines().collect();
    assert_eq!(lines.len(), 2, "{dirs}");
    let datadir: u64 = lines[0]
        .strip_prefix("datadir_size: ")
        .unwrap()
        .parse()
        .unwrap();
    let logdir: u64 = lines[1]
        .strip_prefix("logdir_size: ")
        .unwrap()
        .parse()
        .unwrap();
    let on_disk: u64 = std::fs::read_dir(&version2)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(logdir > 0, "the log holds the create: {dirs}");
    assert_eq!(datadir, on_disk, "one folder holds snapshots and log here");
    assert_eq!(logdir, on_disk);
    assert!(dirs.ends_with('\n'));
    server.stop();
}

#[test]
fn envi_lists_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let envi = word(server.addr, "envi");
    let mut lines = envi.lines();
    assert_eq!(lines.next(), Some("Environment:"));
    let entries: BTreeMap<&str, &str> = lines.map(|l| l.split_once('=').unwrap()).collect();
    assert!(
        entries["zookeeper.version"].starts_with("3.8.0-zk-"),
        "{envi}"
    );
    for key in [
        "host.name",
        "os.name",
        "os.arch",
        "os.version",
        "user.name",
        "user.home",
        "user.dir",
    ] {
        assert!(entries.contains_key(key), "{key} missing: {envi}");
    }
    assert_eq!(
        entries["user.dir"],
        std::env::current_dir().unwrap().display().to_string()
    );
    if cfg!(target_os = "linux") {
        assert_eq!(entries["os.name"], "Linux");
    }
    server.stop();
}

#[test]
fn mntr_keys_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let m = mntr(server.addr);
    assert_eq!(m[0].0, "zk_version");
    assert!(m[0].1.starts_with("3.8.0-zk-"));
    assert_eq!(
        m[1],
        ("zk_server_state".to_owned(), "standalone".to_owned())
    );
    assert_eq!(metric(&m, "zk_avg_latency"), "0.0");
    for key in [
        "zk_max_latency",
        "zk_min_latency",
        "zk_packets_received",
        "zk_packets_sent",
        "zk_num_alive_connections",
        "zk_outstanding_requests",
        "zk_uptime",
        "zk_znode_count",
        "zk_watch_count",
        "zk_ephemerals_count",
        "zk_approximate_data_size",
        "zk_global_sessions",
        "zk_local_sessions",
        "zk_auth_failed_count",
        "zk_bytes_received_count",
        "zk_connection_request_count",
    ] {
        int_metric(&m, key);
    }
    let keys: std::collections::HashSet<&str> = m.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys.len(), m.len(), "no key twice");
    assert_eq!(int_metric(&m, "zk_znode_count"), 4);
    assert_eq!(int_metric(&m, "zk_packets_received"), 1);
    assert_eq!(int_metric(&m, "zk_bytes_received_count"), 4);
    assert_eq!(int_metric(&m, "zk_global_sessions"), 0);
    assert_eq!(int_metric(&m, "zk_ephemerals_count"), 0);
    if cfg!(target_os = "linux") {
        let open = int_metric(&m, "zk_open_file_descriptor_count");
        let max = int_metric(&m, "zk_max_file_descriptor_count");
        assert!(open > 0 && open <= max, "{open} of {max}");
    }

    let mut c = RawClient::connect(server.addr);
    c.create("/e", b"12345", CreateMode::Ephemeral.as_i32())
        .unwrap();
    c.result(&Request::GetData(watch_req("/e"))).unwrap();
    let bad = Request::Auth(AuthPacket {
        auth_type: 0,
        scheme: "nosuch".into(),
        auth: Some(b"x".to_vec()),
    });
    let mut other = RawClient::connect(server.addr);
    other.send_with_xid(AUTH_XID, &bad);
    assert_eq!(
        other.receive(AUTH_XID, OpCode::Auth).map(|r| r.1),
        Some(Err(ErrorCode::AuthFailed))
    );
    let m = mntr(server.addr);
    assert_eq!(int_metric(&m, "zk_znode_count"), 5);
    assert_eq!(int_metric(&m, "zk_ephemerals_count"), 1);
    assert_eq!(int_metric(&m, "zk_global_sessions"), 2);
    assert_eq!(int_metric(&m, "zk_watch_count"), 1);
    assert_eq!(int_metric(&m, "zk_auth_failed_count"), 1);
    assert_eq!(int_metric(&m, "zk_connection_request_count"), 2);
    assert!(int_metric(&m, "zk_packets_sent") >= 4);
    assert!(int_metric(&m, "zk_approximate_data_size") > 0);
    let avg: f64 = metric(&m, "zk_avg_latency").parse().unwrap();
    assert!(avg >= 0.0);
    server.stop();
}

#[test]
fn watch_words() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    assert_eq!(
        word(server.addr, "wchs"),
        "0 connections watching 0 paths\nTotal watches:0\n"
    );
    assert_eq!(word(server.addr, "wchc"), "\n");
    assert_eq!(word(server.addr, "wchp"), "\n");

    let mut c = RawClient::connect(server.addr);
    c.create("/a", b"", 0).unwrap();
    c.result(&Request::GetData(watch_req("/a"))).unwrap();
    c.result(&Request::GetChildren(watch_req("/a"))).unwrap();
    assert_eq!(
        c.result(&Request::Exists(watch_req("/b"))),
        Err(ErrorCode::NoNode)
    );
    let mut d = RawClient::connect(server.addr);
    d.result(&Request::Exists(watch_req("/a"))).unwrap();

    assert_eq!(
        word(server.addr, "wchs"),
        "2 connections watching 2 paths\nTotal watches:4\n"
    );
    let (first, second) = if c.session_id < d.session_id {
        (&c, &d)
    } else {
        (&d, &c)
    };
    let expected_c = format!("0x{:x}\n\t/a\n\t/b\n", c.session_id);
    let expected_d = format!("0x{:x}\n\t/a\n", d.session_id);
    let wchc = word(server.addr, "wchc");
    let expected = if first.session_id == c.session_id {
        format!("{expected_c}{expected_d}\n")
    } else {
        format!("{expected_d}{expected_c}\n")
    };
    assert_eq!(wchc, expected);
    assert_eq!(
        word(server.addr, "wchp"),
        format!(
            "/a\n\t0x{:x}\n\t0x{:x}\n/b\n\t0x{:x}\n\n",
            first.session_id, second.session_id, c.session_id
        )
    );
    // A fired watch is gone.
    c.result(&Request::SetData(SetDataRequest {
        path: "/a".into(),
        data: None,
        version: -1,
    }))
    .unwrap();
    assert_eq!(
        word(server.addr, "wchs"),
        "1 connections watching 2 paths\nTotal watches:2\n"
    );
    server.stop();
}

#[test]
fn dump_sessions_ephemerals_connections() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let fresh = word(server.addr, "dump");
    assert_eq!(
        fresh,
        "SessionTracker dump:\nSession Sets (0)/(0):\nephemeral nodes dump:\nSessions with Ephemerals (0):\n\
         Connections dump:\nConnections Sets (0)/(0):\n"
    );
    let mut c = RawClient::connect(server.addr);
    c.create("/e1", b"", CreateMode::Ephemeral.as_i32())
        .unwrap();
    c.create("/e2", b"", CreateMode::Ephemeral.as_i32())
        .unwrap();
    let dump = word(server.addr, "dump");
    let sid = format!("0x{:x}", c.session_id);
    let (sessions, rest) = dump.split_once("ephemeral nodes dump:\n").unwrap();
    let mut lines = sessions.lines();
    assert_eq!(lines.next(), Some("SessionTracker dump:"));
    assert_eq!(lines.next(), Some("Session Sets (1)/(1):"));
    let bucket = lines.next().unwrap();
    assert!(
        bucket.starts_with("1 expire at ") && bucket.ends_with(':'),
        "{dump}"
    );
    assert!(bucket.contains(" UTC "), "{dump}");
    assert_eq!(lines.next(), Some(format!("\t{sid}").as_str()));
    let (ephemerals, connections) = rest.split_once("Connections dump:\n").unwrap();
    assert_eq!(
        ephemerals,
        format!("Sessions with Ephemerals (1):\n{sid}:\n\t/e1\n\t/e2\n")
    );
    let mut lines = connections.lines();
    assert_eq!(lines.next(), Some("Connections Sets (1)/(1):"));
    assert!(lines.next().unwrap().starts_with("1 expire at "));
    let entry = lines.next().unwrap();
    assert!(
        entry.starts_with("\tip: /127.0.0.1:") && entry.ends_with(&format!(" sessionId: {sid}")),
        "{dump}"
    );
    server.stop();
}

#[test]
fn whitelist_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(dir.path(), |o| {
        o.four_letter_words = ["ruok".to_owned()].into_iter().collect();
    });
    assert_eq!(word(server.addr, "ruok"), "imok");
    for w in [
        "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "srst", "stat", "wchc", "wchp",
        "wchs", "mntr", "isro", "hash",
    ] {
        assert_eq!(
            word(server.addr, w),
            format!("{w} is not executed because it is not in the whitelist.\n")
        );
    }
    // Refused before its mask is read.
    assert_eq!(
        word(server.addr, "stmk"),
        "stmk is not executed because it is not in the whitelist.\n"
    );
    assert_eq!(
        send(server.addr, &[0xff, 0xf4, 0xff, 0xfd]),
        "telnet close is not executed because it is not in the whitelist.\n"
    );
    // zkServer.sh needs srvr, so Apache always allows it.
    assert!(word(server.addr, "srvr").contains("Mode: standalone\n"));
    // Clients still connect normally after all that.
    let mut c = RawClient::connect(server.addr);
    c.create("/x", b"", 0).unwrap();
    server.stop();
}
