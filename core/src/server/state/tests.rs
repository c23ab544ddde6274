//! The state machine driven txn by txn, with no server around it: Stat bookkeeping, errors in
//! Apache's order, ACLs, sequence numbers, ephemerals, containers, TTL nodes, quotas and
//! multi's all-or-nothing. Each table row is one case; a failing row names itself.

use super::*;
use crate::proto::{CheckVersionRequest, CreateMode, PathRequest};
use crate::server::acl::digest_id;
use crate::server::tree::CONTAINER_OWNER;

const SESSION: i64 = 0x100;
const OTHER: i64 = 0x200;

/// A state and the txns applied to it, one zxid and one millisecond apart.
struct Machine {
    state: State,
    zxid: i64,
    rules: Rules,
}

impl Machine {
    fn new() -> Self {
        let mut m = Machine {
            state: State::default(),
            zxid: 0,
            rules: Rules::default(),
        };
        for session in [SESSION, OTHER] {
            m.txn(
                session,
                TxnBody::CreateSession {
                    timeout: 30_000,
                    passwd: vec![1; 16],
                },
            );
        }
        m
    }

    fn with_rules(rules: Rules) -> Self {
        let mut m = Machine::new();
        m.rules = rules;
        m
    }

    fn txn(&mut self, session: i64, body: TxnBody) -> Applied {
        self.zxid += 1;
        self.state.apply(&Txn {
            zxid: self.zxid,
            time: 1_000 + self.zxid,
            session_id: session,
            rules: self.rules,
            body,
        })
    }

    fn write_as(
        &mut self,
        session: i64,
        auth: &[Id],
        request: Request,
    ) -> Result<Response, ErrorCode> {
        match self
            .txn(
                session,
                TxnBody::Write {
                    auth: auth.to_vec(),
                    request,
                },
            )
            .outcome
        {
            Outcome::Reply(reply) => reply,
            other => panic!("a write gave {other:?}"),
        }
    }

    fn write(&mut self, request: Request) -> Result<Response, ErrorCode> {
        self.write_as(SESSION, &[], request)
    }

    fn create(&mut self, path: &str, mode: CreateMode) -> Result<Response, ErrorCode> {
        self.write(create(path, b"data", mode))
    }

    fn ok(&mut self, request: Request) -> Response {
        let what = format!("{request:?}");
        self.write(request)
            .unwrap_or_else(|e| panic!("{what} failed: {e:?}"))
    }

    fn stat(&self, path: &str) -> Stat {
        self.state
            .tree
            .get(path)
            .unwrap_or_else(|| panic!("{path} is missing"))
            .stat()
    }

    fn exists(&self, path: &str) -> bool {
        self.state.tree.contains(path)
    }
}

fn create(path: &str, data: &[u8], mode: CreateMode) -> Request {
    create_with(path, data, mode, Acl::open_unsafe())
}

fn create_with(path: &str, data: &[u8], mode: CreateMode, acl: Vec<Acl>) -> Request {
    let kind = match mode {
        CreateMode::Container => CreateKind::Container,
        CreateMode::PersistentWithTtl | CreateMode::PersistentSequentialWithTtl => {
            CreateKind::Ttl(60_000)
        }
        _ => CreateKind::Create2,
    };
    Request::Create(
        kind,
        CreateRequest {
            path: path.to_owned(),
            data: Some(data.to_vec()),
            acl,
            flags: mode.as_i32(),
        },
    )
}

fn set(path: &str, data: &[u8], version: i32) -> Request {
    Request::SetData(SetDataRequest {
        path: path.to_owned(),
        data: Some(data.to_vec()),
        version,
    })
}

fn delete(path: &str, version: i32) -> Request {
    Request::Delete(DeleteRequest {
        path: path.to_owned(),
        version,
    })
}

fn set_acl(path: &str, acl: Vec<Acl>, version: i32) -> Request {
    Request::SetAcl(SetAclRequest {
        path: path.to_owned(),
        acl,
        version,
    })
}

fn created_path(response: Response) -> String {
    match response {
        Response::Create { path } | Response::Create2 { path, .. } => path,
        other => panic!("not a create reply: {other:?}"),
    }
}

#[test]
fn stat_fields_follow_apaches_rules_for_every_write() {
    let mut m = Machine::new();
    m.ok(create("/a", b"12345", CreateMode::Persistent));
    let created = m.zxid;
    let a = m.stat("/a");
    assert_eq!((a.czxid, a.mzxid, a.pzxid), (created, created, created));
    assert_eq!((a.ctime, a.mtime), (1_000 + created, 1_000 + created));
    assert_eq!((a.version, a.cversion, a.aversion), (0, 0, 0));
    assert_eq!(
        (a.data_length, a.num_children, a.ephemeral_owner),
        (5, 0, 0)
    );
    assert_eq!(
        m.stat("/").pzxid,
        created,
        "the parent's pzxid moves on create"
    );

    // Each row: a write, then what /a's Stat must say (czxid never moves).
    type Expect = fn(&Stat, i64, &Stat) -> bool;
    let rows: Vec<(&str, Request, Expect)> = vec![
        (
            "setData bumps version, mzxid, mtime",
            set("/a", b"x", -1),
            |s, z, before| {
                s.version == before.version + 1
                    && s.mzxid == z
                    && s.mtime == 1_000 + z
                    && s.pzxid == before.pzxid
                    && s.data_length == 1
            },
        ),
        (
            "a child bumps cversion and pzxid, not mzxid",
            create("/a/c", b"", CreateMode::Persistent),
            |s, z, before| {
                s.cversion == before.cversion + 1
                    && s.pzxid == z
                    && s.mzxid == before.mzxid
                    && s.num_children == 1
                    && s.version == before.version
            },
        ),
        (
            "deleting the child bumps cversion and pzxid again",
            delete("/a/c", -1),
            |s, z, before| {
                s.cversion == before.cversion + 1
                    && s.pzxid == z
                    && s.num_children == 0
                    && s.mzxid == before.mzxid
            },
        ),
        (
            "setACL bumps aversion only",
            set_acl("/a", Acl::read_unsafe(), -1),
            |s, _, before| {
                s.aversion == before.aversion + 1
                    && s.version == before.version
                    && s.mzxid == before.mzxid
                    && s.cversion == before.cversion
            },
        ),
    ];
    for (name, request, expect) in rows {
        let before = m.stat("/a");
        m.write(request).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let after = m.stat("/a");
        assert_eq!(after.czxid, created, "{name}: czxid");
        assert!(
            expect(&after, m.zxid, &before),
            "{name}: {before:?} -> {after:?}"
        );
    }
}

#[test]
fn errors_come_in_apaches_order() {
    let user = Id {
        scheme: "digest".into(),
        id: digest_id("user:secret"),
    };
    let only_user = vec![Acl {
        perms: perms::ALL,
        id: user.clone(),
    }];
    let setup = |m: &mut Machine| {
        m.ok(create("/p", b"", CreateMode::Persistent));
        m.ok(create("/p/child", b"", CreateMode::Persistent));
        m.ok(create("/eph", b"", CreateMode::Ephemeral));
        m.ok(create_with(
            "/locked",
            b"",
            CreateMode::Persistent,
            only_user.clone(),
        ));
    };
    let rows: Vec<(&str, Request, ErrorCode)> = vec![
        (
            "create of an existing node",
            create("/p", b"", CreateMode::Persistent),
            ErrorCode::NodeExists,
        ),
        (
            "create without its parent",
            create("/none/x", b"", CreateMode::Persistent),
            ErrorCode::NoNode,
        ),
        (
            "create under an ephemeral",
            create("/eph/x", b"", CreateMode::Persistent),
            ErrorCode::NoChildrenForEphemerals,
        ),
        (
            "create with an empty ACL",
            create_with("/x", b"", CreateMode::Persistent, vec![]),
            ErrorCode::InvalidAcl,
        ),
        (
            "create with auth ACL and no auth",
            create_with("/x", b"", CreateMode::Persistent, Acl::creator_all()),
            ErrorCode::InvalidAcl,
        ),
        (
            "create under a node whose ACL refuses",
            create("/locked/x", b"", CreateMode::Persistent),
            ErrorCode::NoAuth,
        ),
        (
            "create with a TTL and extended types off",
            create("/ttl", b"", CreateMode::PersistentWithTtl),
            ErrorCode::Unimplemented,
        ),
        (
            "delete of a node with children",
            delete("/p", -1),
            ErrorCode::NotEmpty,
        ),
        (
            "delete with the wrong version",
            delete("/p/child", 3),
            ErrorCode::BadVersion,
        ),
        (
            "delete of a missing node",
            delete("/p/none", -1),
            ErrorCode::NoNode,
        ),
        (
            "delete under a parent that refuses, before the node's own checks",
            delete("/locked/none", 5),
            ErrorCode::NoAuth,
        ),
        (
            "delete of a special path",
            delete("/zookeeper", -1),
            ErrorCode::BadArguments,
        ),
        (
            "setData with the wrong version",
            set("/p", b"", 7),
            ErrorCode::BadVersion,
        ),
        (
            "setData of a missing node",
            set("/none", b"", -1),
            ErrorCode::NoNode,
        ),
        (
            "setData where the ACL refuses",
            set("/locked", b"", -1),
            ErrorCode::NoAuth,
        ),
        (
            "setACL with the wrong version",
            set_acl("/p", Acl::open_unsafe(), 4),
            ErrorCode::BadVersion,
        ),
        (
            "deleteContainer of a persistent node",
            Request::DeleteContainer(PathRequest {
                path: "/p/child".into(),
            }),
            ErrorCode::BadArguments,
        ),
    ];
    for (name, request, expected) in rows {
        let mut m = Machine::new();
        setup(&mut m);
        let before = m.state.tree.node_count();
        assert_eq!(m.write(request).err(), Some(expected), "{name}");
        assert_eq!(
            m.state.tree.node_count(),
            before,
            "{name}: the tree changed"
        );
    }
}

#[test]
fn acls_admit_the_ids_they_name_and_skip_acl_admits_everyone() {
    let user = Id {
        scheme: "digest".into(),
        id: digest_id("user:secret"),
    };
    let read_only_for_all = vec![
        Acl::new(perms::ALL, "digest", &user.id),
        Acl::new(perms::READ, "world", "anyone"),
    ];
    let mut m = Machine::new();
    m.ok(create_with(
        "/guarded",
        b"",
        CreateMode::Persistent,
        read_only_for_all,
    ));
    assert_eq!(
        m.write(set("/guarded", b"x", -1)).err(),
        Some(ErrorCode::NoAuth)
    );
    m.write_as(
        SESSION,
        std::slice::from_ref(&user),
        set("/guarded", b"x", -1),
    )
    .expect("the digest id may write");
    // "auth" in an ACL becomes the creator's ids.
    let created = m
        .write_as(
            SESSION,
            std::slice::from_ref(&user),
            create_with("/mine", b"", CreateMode::Persistent, Acl::creator_all()),
        )
        .map(created_path);
    assert_eq!(created.as_deref(), Ok("/mine"));
    let node = m.state.tree.get("/mine").unwrap();
    let acl = m.state.tree.acl_of(&node);
    assert_eq!(
        acl.iter().map(|a| a.id.clone()).collect::<Vec<_>>(),
        vec![user]
    );

    let mut skipping = Machine::with_rules(Rules {
        skip_acl: true,
        ..Rules::default()
    });
    skipping.ok(create_with(
        "/guarded",
        b"",
        CreateMode::Persistent,
        Acl::read_unsafe(),
    ));
    skipping.ok(set("/guarded", b"x", -1));
}

#[test]
fn sequence_numbers_come_from_the_parents_cversion() {
    let mut m = Machine::new();
    m.ok(create("/s", b"", CreateMode::Persistent));
    let mut names = Vec::new();
    for mode in [
        CreateMode::PersistentSequential,
        CreateMode::EphemeralSequential,
    ] {
        names.push(created_path(m.ok(create("/s/n-", b"", mode))));
    }
    // The counter is the parent's count of child creations (Apache's persisted cversion): a
    // plain child counts, a delete does not.
    m.ok(create("/s/plain", b"", CreateMode::Persistent));
    m.ok(delete("/s/plain", -1));
    names.push(created_path(m.ok(create(
        "/s/n-",
        b"",
        CreateMode::PersistentSequential,
    ))));
    assert_eq!(
        names,
        vec!["/s/n-0000000000", "/s/n-0000000001", "/s/n-0000000003"]
    );
}

#[test]
fn ephemerals_belong_to_their_session_and_go_with_it() {
    let mut m = Machine::new();
    m.ok(create("/e", b"", CreateMode::Ephemeral));
    m.write_as(OTHER, &[], create("/other", b"", CreateMode::Ephemeral))
        .unwrap();
    assert_eq!(m.stat("/e").ephemeral_owner, SESSION);
    assert!(m.state.sessions[&SESSION].ephemerals.contains("/e"));

    let closed = m.txn(SESSION, TxnBody::CloseSession);
    assert!(
        matches!(closed.outcome, Outcome::SessionClosed { session_id } if session_id == SESSION)
    );
    assert!(!m.exists("/e"), "the session's ephemeral went");
    assert!(m.exists("/other"), "another session's stayed");
    assert!(closed
        .triggers
        .iter()
        .any(|t| t.path == "/e" && t.event == EventType::NodeDeleted));
    // A write of the closed session is refused and changes nothing.
    assert_eq!(
        m.create("/late", CreateMode::Persistent).err(),
        Some(ErrorCode::SessionExpired)
    );
    assert!(!m.exists("/late"));
}

#[test]
fn containers_and_ttl_nodes_carry_their_kind_and_are_deleted_only_when_due() {
    let mut m = Machine::with_rules(Rules {
        extended_types: true,
        ..Rules::default()
    });
    m.ok(create("/box", b"", CreateMode::Container));
    // The kind lives in the persisted owner; clients see 0 there, as from Apache.
    assert_eq!(
        m.state.tree.get("/box").unwrap().kind(),
        NodeKind::Container
    );
    assert_eq!(
        m.state.tree.get("/box").unwrap().ephemeral_owner,
        CONTAINER_OWNER
    );
    assert_eq!(m.stat("/box").ephemeral_owner, 0);
    m.ok(create("/box/item", b"", CreateMode::Persistent));
    let delete_box = || {
        Request::DeleteContainer(PathRequest {
            path: "/box".into(),
        })
    };
    assert_eq!(m.write(delete_box()).err(), Some(ErrorCode::NotEmpty));
    m.ok(delete("/box/item", -1));
    m.ok(delete_box());
    assert!(!m.exists("/box"));

    m.ok(create("/ttl", b"", CreateMode::PersistentWithTtl));
    assert_eq!(
        m.state.tree.get("/ttl").unwrap().kind(),
        NodeKind::Ttl(60_000)
    );
    assert_eq!(m.stat("/ttl").ephemeral_owner, 0);
    let delete_ttl = Request::DeleteContainer(PathRequest {
        path: "/ttl".into(),
    });
    assert_eq!(
        m.write(delete_ttl).err(),
        Some(ErrorCode::BadArguments),
        "not idle for its TTL yet"
    );
    let mut bad_ttl = create("/ttl2", b"", CreateMode::PersistentWithTtl);
    if let Request::Create(kind, _) = &mut bad_ttl {
        *kind = CreateKind::Ttl(0);
    }
    assert_eq!(m.write(bad_ttl).err(), Some(ErrorCode::BadArguments));
}

#[test]
fn hard_quotas_refuse_only_when_enforced_and_usage_follows_changes() {
    for enforce in [false, true] {
        let mut m = Machine::with_rules(Rules {
            enforce_quota: enforce,
            ..Rules::default()
        });
        m.ok(create("/q", b"", CreateMode::Persistent));
        m.ok(create("/zookeeper/quota/q", b"", CreateMode::Persistent));
        m.ok(create(
            "/zookeeper/quota/q/zookeeper_limits",
            b"count=-1,bytes=-1=;countHardLimit=2",
            CreateMode::Persistent,
        ));
        m.ok(create(
            "/zookeeper/quota/q/zookeeper_stats",
            b"",
            CreateMode::Persistent,
        ));
        let usage = |m: &Machine| {
            let node = m
                .state
                .tree
                .get("/zookeeper/quota/q/zookeeper_stats")
                .unwrap();
            String::from_utf8(node.data().unwrap_or_default().to_vec()).unwrap()
        };
        assert_eq!(
            usage(&m),
            "count=1,bytes=0",
            "filled from the subtree when created"
        );
        m.ok(create("/q/a", b"", CreateMode::Persistent));
        let third = m.create("/q/b", CreateMode::Persistent);
        if enforce {
            assert_eq!(third.err(), Some(ErrorCode::QuotaExceeded));
            assert_eq!(usage(&m), "count=2,bytes=0");
        } else {
            assert!(third.is_ok(), "soft without enforceQuota: {third:?}");
            assert_eq!(usage(&m), "count=3,bytes=4");
        }
    }
}

#[test]
fn a_multi_applies_every_op_or_none_and_names_the_failing_one() {
    let mut m = Machine::new();
    m.ok(create("/m", b"", CreateMode::Persistent));
    let before = m.stat("/m");
    let ops = vec![
        MultiOp::Create(
            CreateKind::Create,
            CreateRequest {
                path: "/m/new".into(),
                data: None,
                acl: Acl::open_unsafe(),
                flags: 0,
            },
        ),
        MultiOp::SetData(SetDataRequest {
            path: "/m".into(),
            data: Some(b"changed".to_vec()),
            version: -1,
        }),
        MultiOp::Check(CheckVersionRequest {
            path: "/m".into(),
            version: 99,
        }),
    ];
    let reply = m
        .write(Request::Multi(ops))
        .expect("a failed multi is a reply");
    let Response::Multi(results) = reply else {
        panic!("not a multi reply: {reply:?}");
    };
    let errors: Vec<i32> = results
        .iter()
        .map(|r| match r {
            MultiResult::Error(code) => *code,
            other => panic!("a failed multi answers errors only: {other:?}"),
        })
        .collect();
    assert_eq!(
        errors,
        vec![
            ErrorCode::Ok.as_i32(),
            ErrorCode::Ok.as_i32(),
            ErrorCode::BadVersion.as_i32()
        ]
    );
    assert!(!m.exists("/m/new"), "the create was taken back");
    let after = m.stat("/m");
    assert_eq!(
        (after.version, after.cversion),
        (before.version, before.cversion)
    );
    assert_eq!(
        m.state.tree.get("/m").unwrap().data(),
        Some(&b""[..]),
        "the data was taken back"
    );
    assert_eq!(
        m.state.last_zxid, m.zxid,
        "the failed multi still used its zxid"
    );
}

#[test]
fn replayed_txns_are_skipped_and_a_forged_create_session_changes_nothing() {
    let mut m = Machine::new();
    m.ok(create("/r", b"", CreateMode::Persistent));
    let replay = m.state.apply(&Txn {
        zxid: m.zxid,
        time: 0,
        session_id: SESSION,
        rules: Rules::default(),
        body: TxnBody::Write {
            auth: vec![],
            request: create("/again", b"", CreateMode::Persistent),
        },
    });
    assert!(matches!(
        replay.outcome,
        Outcome::Reply(Err(ErrorCode::RuntimeInconsistency))
    ));
    assert!(!m.exists("/again"));
    let forged = m.txn(
        SESSION,
        TxnBody::CreateSession {
            timeout: 1,
            passwd: vec![9; 16],
        },
    );
    assert!(matches!(
        forged.outcome,
        Outcome::Reply(Err(ErrorCode::BadArguments))
    ));
    assert_eq!(m.state.sessions[&SESSION].passwd, vec![1; 16]);
}
