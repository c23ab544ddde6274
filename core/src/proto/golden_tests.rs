//! Golden bytes: records decoded from frames captured off a real Apache ZooKeeper 3.8
//! server and its Java client, then re-encoded byte for byte.
//!
//! The frames live in `core/tests/golden/*.hex`, written by `scripts/capture-golden.py` (a
//! recording proxy between Apache's Java client — zkCli.sh and a small Java driver — and a
//! standalone Apache ZooKeeper 3.8.0 server). One file per record kind:
//! `connect_request`, `connect_response`, `request_<op>`, `reply_<op>`, `notification`. Each
//! entry is a comment line `# <c2s|s2c> op=<n> <name> xid=<x> … | <what produced it>` followed
//! by the whole frame in hex, length prefix included.
//!
//! Every frame is checked three ways: the framing (`frame::check`, `frame::write`), the decoded
//! values (paths valid, flags and enums known, stats consistent), and the re-encoding, which must
//! give back Apache's bytes exactly.
//!
//! Opcodes with no capture, and why:
//! - `check` (13) on its own: Apache's Java client has no API for it (only `Op.check` inside a
//!   multi, which is captured), and 3.8.0 does not even reply to it.
//! - `deleteContainer` (20): issued by the server's `ContainerManager` internally, never sent
//!   by a client.
//! - `createSession` (-10) and `error` (-1): txn types, not request opcodes; the session
//!   handshake is the ConnectRequest/ConnectResponse pair (captured), and error results appear
//!   inside multi replies (captured).
//! - a successful `reconfig` (16) reply: reconfig is disabled on a standalone server, so only the
//!   requests and their RECONFIGDISABLED (-123) reply headers are captured.

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;

use super::codec::Reader;
use super::*;
use super::{frame, path};

/// One captured frame.
#[derive(Debug)]
struct Golden {
    file: String,
    line: usize,
    comment: String,
    bytes: Vec<u8>,
}

impl Golden {
    /// `op=<n>` from the comment line: the request's opcode, also on the reply it answers.
    fn op(&self) -> Option<i32> {
        self.comment
            .split_whitespace()
            .find_map(|t| t.strip_prefix("op="))
            .and_then(|n| n.parse().ok())
    }

    fn payload(&self) -> &[u8] {
        &self.bytes[4..]
    }

    fn at(&self) -> String {
        format!("{}:{} ({})", self.file, self.line, self.comment)
    }
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("golden")
}

fn unhex(s: &str) -> Vec<u8> {
    s.as_bytes()
        .chunks(2)
        .map(|pair| {
            let pair = std::str::from_utf8(pair).expect("ascii");
            assert_eq!(pair.len(), 2, "odd hex length");
            u8::from_str_radix(pair, 16).expect("hex digit")
        })
        .collect()
}

/// Every frame of every golden file whose name starts with `prefix`.
fn load(prefix: &str) -> Vec<Golden> {
    let mut files: Vec<PathBuf> = fs::read_dir(golden_dir())
        .expect("core/tests/golden exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "hex"))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_owned();
        let text = fs::read_to_string(&file).expect("readable golden file");
        let mut comment = None;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            if line.starts_with('#') {
                comment = Some(line.to_owned());
                continue;
            }
            let c = comment
                .take()
                .unwrap_or_else(|| panic!("{name}:{}: frame without comment", i + 1));
            out.push(Golden {
                file: name.clone(),
                line: i + 1,
                comment: c,
                bytes: unhex(line),
            });
        }
    }
    out
}

/// Runs `check` on every frame and fails once, listing every frame that failed.
fn check_all(frames: &[Golden], mut check: impl FnMut(&Golden) -> Result<(), String>) {
    assert!(!frames.is_empty(), "no golden frames loaded");
    let failures: Vec<String> = frames
        .iter()
        .filter_map(|g| {
            check_frame(g)
                .and_then(|()| check(g))
                .err()
                .map(|e| format!("{}: {e}", g.at()))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} golden frames failed:\n{}",
        failures.len(),
        frames.len(),
        failures.join("\n")
    );
}

/// The length prefix is right, frame::check finds exactly this frame, frame::write rebuilds it.
fn check_frame(g: &Golden) -> Result<(), String> {
    let len = g
        .bytes
        .len()
        .checked_sub(4)
        .ok_or("shorter than a length prefix")?;
    if frame::check(&g.bytes, DEFAULT_MAX_BUFFER) != Ok(Some(len)) {
        return Err(format!(
            "frame::check disagrees with the length prefix ({len})"
        ));
    }
    if frame::check(&g.bytes[..g.bytes.len() - 1], DEFAULT_MAX_BUFFER) != Ok(None) {
        return Err("frame::check accepted a truncated frame".into());
    }
    let mut rebuilt = Vec::new();
    frame::write(&mut rebuilt, |b| b.extend_from_slice(g.payload()));
    same(&rebuilt, &g.bytes, "frame::write")
}

fn same(ours: &[u8], theirs: &[u8], what: &str) -> Result<(), String> {
    if ours == theirs {
        return Ok(());
    }
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    Err(format!(
        "{what} re-encoding differs\n  apache: {}\n  ours:   {}",
        hex(theirs),
        hex(ours)
    ))
}

fn ensure(ok: bool, msg: impl FnOnce() -> String) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(msg())
    }
}

fn valid_path(p: &str) -> Result<(), String> {
    path::validate(p, false).map_err(|e| format!("{p:?}: {e}"))
}

fn valid_acl(acl: &[Acl]) -> Result<(), String> {
    ensure(!acl.is_empty(), || "empty ACL list".into())?;
    for a in acl {
        ensure(a.perms & !perms::ALL == 0 && a.perms != 0, || {
            format!("perms {:#x}", a.perms)
        })?;
        ensure(
            ["world", "auth", "digest", "ip", "sasl", "x509", "super"]
                .contains(&a.id.scheme.as_str()),
            || format!("scheme {:?}", a.id.scheme),
        )?;
    }
    Ok(())
}

fn valid_stat(s: &Stat) -> Result<(), String> {
    ensure(
        s.czxid <= s.mzxid
            && s.czxid <= s.pzxid
            && s.ctime <= s.mtime
            && s.version >= 0
            && s.data_length >= 0
            && s.num_children >= 0,
        || format!("inconsistent {s:?}"),
    )
}

fn known_error(err: i32) -> Result<(), String> {
    ensure(ErrorCode::from_i32(err).is_some(), || {
        format!("unknown error code {err}")
    })
}

// ---------------------------------------------------------------------------------------------

#[test]
fn connect_requests() {
    check_all(&load("connect_request"), |g| {
        let req = ConnectRequest::from_bytes(g.payload()).map_err(|e| e.to_string())?;
        ensure(req.protocol_version == 0, || "protocol version".into())?;
        ensure(req.timeout > 0, || "timeout".into())?;
        ensure(req.passwd.len() == 16, || "passwd is 16 bytes".into())?;
        ensure(req.read_only == Some(false), || {
            "readOnly byte present and false".into()
        })?;
        ensure((req.session_id == 0) == (req.last_zxid_seen == 0), || {
            "new session ⇔ no zxid seen".into()
        })?;
        if req.session_id == 0 {
            ensure(req.passwd == [0; 16], || {
                "new session sends a zero password".into()
            })?;
        }
        same(&req.to_bytes(), g.payload(), "ConnectRequest")
    });
}

#[test]
fn connect_responses() {
    check_all(&load("connect_response"), |g| {
        let resp = ConnectResponse::from_bytes(g.payload()).map_err(|e| e.to_string())?;
        ensure(resp.protocol_version == 0, || "protocol version".into())?;
        // Negotiated within [2, 20] ticks of 2000 ms.
        ensure((4000..=40000).contains(&resp.timeout), || {
            format!("timeout {}", resp.timeout)
        })?;
        ensure(resp.session_id != 0, || "session id".into())?;
        ensure(resp.passwd.len() == 16, || "passwd is 16 bytes".into())?;
        ensure(resp.read_only == Some(false), || {
            "readOnly byte present and false".into()
        })?;
        same(&resp.to_bytes(), g.payload(), "ConnectResponse")
    });
}

fn check_request(xid: i32, req: &Request) -> Result<(), String> {
    let special = match req.op_code() {
        OpCode::Ping => Some(PING_XID),
        OpCode::Auth => Some(AUTH_XID),
        _ => None,
    };
    // Apache's Java client renumbers every packet but ping and auth when it sends it, so its
    // SetWatches carry an ordinary xid; only the C client keeps SET_WATCHES_XID (-8).
    let set_watches = matches!(req.op_code(), OpCode::SetWatches | OpCode::SetWatches2);
    ensure(
        special.map_or(xid > 0 || (set_watches && xid == SET_WATCHES_XID), |x| {
            x == xid
        }),
        || format!("xid {xid}"),
    )?;
    match req {
        Request::Create(kind, c) => {
            let mode = CreateMode::from_i32(c.flags).ok_or_else(|| format!("flags {}", c.flags))?;
            path::validate(&c.path, mode.is_sequential()).map_err(|e| e.to_string())?;
            valid_acl(&c.acl)?;
            match kind {
                CreateKind::Container => ensure(mode.is_container(), || {
                    "container op, non-container flags".into()
                })?,
                CreateKind::Ttl(ttl) => {
                    ensure(mode.is_ttl(), || "TTL op, non-TTL flags".into())?;
                    ensure(*ttl > 0 && *ttl <= MAX_TTL, || format!("ttl {ttl}"))?;
                }
                CreateKind::Create | CreateKind::Create2 => {
                    ensure(!mode.is_ttl() && !mode.is_container(), || {
                        "plain create with extended flags".into()
                    })?
                }
            }
            ensure(
                mode.create_opcode() == kind.op_code() || *kind == CreateKind::Create,
                || format!("{mode:?} sent as {kind:?}"),
            )
        }
        Request::Delete(d) => valid_path(&d.path).and(ensure(d.version >= -1, || "version".into())),
        Request::Exists(p)
        | Request::GetData(p)
        | Request::GetChildren(p)
        | Request::GetChildren2(p) => valid_path(&p.path),
        Request::GetAcl(p)
        | Request::Sync(p)
        | Request::GetEphemerals(p)
        | Request::GetAllChildrenNumber(p) => valid_path(&p.path),
        Request::DeleteContainer(p) => valid_path(&p.path),
        Request::SetData(s) => {
            valid_path(&s.path).and(ensure(s.version >= -1, || "version".into()))
        }
        Request::SetAcl(s) => {
            valid_path(&s.path)?;
            // The driver sends one empty list on purpose (INVALIDACL).
            if !s.acl.is_empty() {
                valid_acl(&s.acl)?;
            }
            ensure(s.version >= -1, || "version".into())
        }
        Request::Check(c) => valid_path(&c.path),
        Request::Multi(ops) | Request::MultiRead(ops) => {
            ensure(!ops.is_empty(), || "empty multi".into())?;
            for op in ops {
                let sequential = matches!(op, MultiOp::Create(_, c)
                    if CreateMode::from_i32(c.flags).is_some_and(CreateMode::is_sequential));
                path::validate(op.path(), sequential).map_err(|e| e.to_string())?;
                if let MultiOp::Create(CreateKind::Ttl(ttl), _) = op {
                    ensure(*ttl > 0 && *ttl <= MAX_TTL, || format!("ttl {ttl}"))?;
                }
            }
            Ok(())
        }
        Request::Reconfig(rc) => ensure(
            rc.joining_servers.is_some()
                || rc.leaving_servers.is_some()
                || rc.new_members.is_some(),
            || "reconfig with nothing to do".into(),
        ),
        Request::CheckWatches(w) | Request::RemoveWatches(w) => {
            valid_path(&w.path)?;
            ensure(WatcherType::from_i32(w.watcher_type).is_some(), || {
                "watcher type".into()
            })
        }
        Request::Auth(a) => ensure(
            a.auth_type == 0 && !a.scheme.is_empty() && a.auth.is_some(),
            || format!("{a:?}"),
        ),
        Request::SetWatches(sw) | Request::SetWatches2(sw) => {
            ensure(sw.relative_zxid > 0, || "relative zxid".into())?;
            let all = [
                &sw.data_watches,
                &sw.exist_watches,
                &sw.child_watches,
                &sw.persistent_watches,
                &sw.persistent_recursive_watches,
            ];
            ensure(all.iter().any(|v| !v.is_empty()), || "no watches".into())?;
            all.iter()
                .flat_map(|v| v.iter())
                .try_for_each(|p| valid_path(p))
        }
        Request::Sasl(s) => ensure(s.token.is_some(), || "null token".into()),
        Request::AddWatch(a) => {
            valid_path(&a.path)?;
            ensure(AddWatchMode::from_i32(a.mode).is_some(), || "mode".into())
        }
        Request::Ping | Request::WhoAmI | Request::CloseSession => Ok(()),
    }
}

#[test]
fn requests() {
    let frames = load("request_");
    let mut seen = BTreeSet::new();
    check_all(&frames, |g| {
        let mut r = Reader::new(g.payload());
        let header = RequestHeader::decode(&mut r).map_err(|e| e.to_string())?;
        ensure(Some(header.op) == g.op(), || {
            format!("header op {} vs comment", header.op)
        })?;
        let req = Request::decode(header.op, r.rest()).map_err(|e| format!("decode: {e}"))?;
        ensure(req.op_code().as_i32() == header.op, || {
            "op_code() round trip".into()
        })?;
        check_request(header.xid, &req)?;
        seen.insert(header.op);
        let mut ours = header.to_bytes();
        req.encode(&mut ours);
        same(&ours, g.payload(), "RequestHeader + Request")
    });
    let expected: BTreeSet<i32> = [
        1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 14, 15, 16, 17, 18, 19, 21, 22, 100, 101, 102, 103, 104,
        105, 106, 107, -11,
    ]
    .into();
    assert_eq!(seen, expected, "request opcodes covered by the captures");
}

fn check_response(op: OpCode, resp: &Response) -> Result<(), String> {
    let shape_ok = match (op, resp) {
        (OpCode::Create, Response::Create { path }) => valid_path(path).is_ok(),
        (
            OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl,
            Response::Create2 { path, stat },
        ) => {
            valid_path(path)?;
            valid_stat(stat)?;
            // Container and TTL nodes show ephemeralOwner 0 to clients.
            op == OpCode::Create2 || stat.ephemeral_owner == 0
        }
        (OpCode::Exists | OpCode::SetData | OpCode::SetAcl, Response::Stat(stat)) => {
            valid_stat(stat).is_ok()
        }
        (OpCode::GetData, Response::GetData { data, stat }) => {
            valid_stat(stat)?;
            data.as_ref().map_or(0, Vec::len)
                == usize::try_from(stat.data_length).unwrap_or(usize::MAX)
        }
        (OpCode::GetAcl, Response::GetAcl { acl, stat }) => {
            valid_acl(acl).and(valid_stat(stat)).is_ok()
        }
        (OpCode::GetChildren, Response::Children(children)) => {
            children.iter().all(|c| !c.contains('/'))
        }
        (OpCode::GetChildren2, Response::Children2 { children, stat }) => {
            valid_stat(stat)?;
            usize::try_from(stat.num_children).ok() == Some(children.len())
        }
        (OpCode::Sync, Response::Sync { path }) => valid_path(path).is_ok(),
        (OpCode::Multi | OpCode::MultiRead, Response::Multi(results)) => {
            for result in results {
                match result {
                    MultiResult::Create { path } => valid_path(path)?,
                    MultiResult::Create2 { path, stat } => {
                        valid_path(path).and(valid_stat(stat))?
                    }
                    MultiResult::SetData(stat) => valid_stat(stat)?,
                    MultiResult::GetData { data, stat } => {
                        valid_stat(stat)?;
                        ensure(
                            data.as_ref().map_or(0, Vec::len) as i64 == i64::from(stat.data_length),
                            || "data length".into(),
                        )?
                    }
                    MultiResult::GetChildren(children) => {
                        ensure(children.iter().all(|c| !c.contains('/')), || {
                            "child name".into()
                        })?
                    }
                    MultiResult::Error(err) => known_error(*err)?,
                    MultiResult::Delete | MultiResult::Check => {}
                }
            }
            // A failed multi: zeros before the failing op, -2 after it.
            let errs: Vec<i32> = results
                .iter()
                .filter_map(|r| {
                    if let MultiResult::Error(e) = r {
                        Some(*e)
                    } else {
                        None
                    }
                })
                .collect();
            op == OpCode::MultiRead
                || errs.is_empty()
                || (errs.len() == results.len()
                    && errs
                        .iter()
                        .skip_while(|e| **e == 0)
                        .skip(1)
                        .all(|e| *e == -2))
        }
        (OpCode::GetAllChildrenNumber, Response::Count(n)) => *n >= 0,
        (OpCode::GetEphemerals, Response::Paths(paths)) => {
            paths.iter().all(|p| valid_path(p).is_ok())
        }
        (OpCode::WhoAmI, Response::WhoAmI(infos)) => {
            !infos.is_empty()
                && infos
                    .iter()
                    .all(|i| !i.auth_scheme.is_empty() && !i.user.is_empty())
        }
        (OpCode::AddWatch, Response::ErrorResponse(0)) => true,
        (OpCode::Sasl, Response::Sasl { token }) => token.is_some(),
        (
            OpCode::Delete
            | OpCode::Ping
            | OpCode::Auth
            | OpCode::SetWatches
            | OpCode::SetWatches2
            | OpCode::CheckWatches
            | OpCode::RemoveWatches
            | OpCode::CloseSession,
            Response::Empty,
        ) => true,
        _ => false,
    };
    ensure(shape_ok, || format!("unexpected {resp:?} for {op:?}"))
}

#[test]
fn replies() {
    let frames = load("reply_");
    let mut seen_ok = BTreeSet::new();
    let mut seen_err = BTreeSet::new();
    check_all(&frames, |g| {
        let op = g.op().ok_or("no op= in comment")?;
        let op = OpCode::from_i32(op).ok_or_else(|| format!("opcode {op}"))?;
        let mut r = Reader::new(g.payload());
        let header = ReplyHeader::decode(&mut r).map_err(|e| e.to_string())?;
        known_error(header.err)?;
        let special = match op {
            OpCode::Ping => Some(PING_XID),
            OpCode::Auth => Some(AUTH_XID),
            _ => None,
        };
        // SetWatches replies echo the request's xid (ordinary for Java clients, -8 for C).
        let set_watches = matches!(op, OpCode::SetWatches | OpCode::SetWatches2);
        ensure(
            special.map_or(
                header.xid > 0 || (set_watches && header.xid == SET_WATCHES_XID),
                |x| x == header.xid,
            ),
            || format!("xid {}", header.xid),
        )?;
        // Auth and SASL replies carry zxid 0; the others the server's last processed zxid.
        let zero_zxid = matches!(op, OpCode::Auth | OpCode::Sasl);
        ensure(
            if zero_zxid {
                header.zxid == 0
            } else {
                header.zxid > 0
            },
            || "zxid".into(),
        )?;
        let mut ours = header.to_bytes();
        if header.err != 0 {
            seen_err.insert(header.err);
            ensure(r.is_empty(), || "error reply with a body".into())?;
        } else {
            seen_ok.insert(op.as_i32());
            let resp = Response::decode(op, r.rest()).map_err(|e| format!("decode: {e}"))?;
            check_response(op, &resp)?;
            resp.encode(&mut ours);
        }
        same(&ours, g.payload(), "ReplyHeader + Response")
    });
    let expected_ok: BTreeSet<i32> = [
        1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 14, 15, 17, 18, 19, 21, 22, 100, 101, 102, 103, 104,
        105, 106, 107, -11,
    ]
    .into();
    assert_eq!(
        seen_ok, expected_ok,
        "successful reply opcodes covered by the captures"
    );
    for err in [-101, -102, -103, -108, -110, -111, -114, -115, -121, -123] {
        assert!(
            seen_err.contains(&err),
            "no captured reply with error {err}"
        );
    }
}

#[test]
fn notifications() {
    let mut types = BTreeSet::new();
    check_all(&load("notification"), |g| {
        let mut r = Reader::new(g.payload());
        let header = ReplyHeader::decode(&mut r).map_err(|e| e.to_string())?;
        // 3.8 sends zxid -1 in notification headers (3.9 sends the txn's zxid).
        ensure(
            header.xid == NOTIFICATION_XID && header.zxid == -1 && header.err == 0,
            || format!("{header:?}"),
        )?;
        let event = WatcherEvent::decode(&mut r).map_err(|e| e.to_string())?;
        r.finish().map_err(|e| e.to_string())?;
        let kind = EventType::from_i32(event.event_type).ok_or("event type")?;
        ensure(event.state == KeeperState::SyncConnected.as_i32(), || {
            "state".into()
        })?;
        valid_path(&event.path)?;
        types.insert(kind.as_i32());
        let mut ours = header.to_bytes();
        event.encode(&mut ours);
        same(&ours, g.payload(), "ReplyHeader + WatcherEvent")
    });
    let expected: BTreeSet<i32> = [1, 2, 3, 4].into();
    assert_eq!(types, expected, "event types covered by the captures");
}

/// Requests a server also decodes through `Txn`: every captured write request survives the
/// txn encoding.
#[cfg(feature = "server")]
#[test]
fn write_requests_round_trip_through_txn() {
    use crate::server::txn::{Txn, TxnBody};
    let frames = load("request_");
    let mut n = 0;
    for g in &frames {
        let mut r = Reader::new(g.payload());
        let header = RequestHeader::decode(&mut r).expect("header");
        let Some(op) = OpCode::from_i32(header.op).filter(|op| op.is_write()) else {
            continue;
        };
        if op == OpCode::CloseSession {
            continue;
        }
        let request = Request::decode(header.op, r.rest()).expect("request");
        let txn = Txn {
            zxid: 1,
            time: 2,
            session_id: 3,
            rules: Default::default(),
            body: TxnBody::Write {
                auth: vec![Id {
                    scheme: "ip".into(),
                    id: "127.0.0.1".into(),
                }],
                request,
            },
        };
        assert_eq!(Txn::decode(&txn.encode()).as_ref(), Ok(&txn), "{}", g.at());
        n += 1;
    }
    assert!(n > 20, "only {n} write requests");
}
