//! The replicated state machine: the data tree plus the session table, changed only by
//! applying [`Txn`]s. Applying validates each write exactly as Apache's
//! `PrepRequestProcessor` would and computes the reply, so it is pure: the same txns give
//! the same tree, replies and watch triggers on every server and after every restart.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::proto::{
    path, perms, Acl, CreateKind, CreateMode, CreateRequest, DeleteRequest, ErrorCode, EventType,
    Id, MultiOp, MultiResult, Request, Response, SetAclRequest, SetDataRequest, Stat, MAX_TTL,
};

mod quota;
#[cfg(test)]
mod tests;

use super::acl;
use super::tree::{DataTree, Meta, Node, NodeId, NodeKind, NodeRef, CONFIG_PATH};
use super::txn::{Rules, Txn, TxnBody};

/// A live session as every server knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEntry {
    pub timeout: i32,
    pub passwd: Vec<u8>,
    pub ephemerals: BTreeSet<String>,
}

/// A watch trigger produced by applying a txn: the server's watch manager turns it into
/// notifications for the connections watching `path`.
#[derive(Debug, Clone)]
pub struct Trigger {
    pub path: String,
    pub event: EventType,
    /// The node's ACL when the event fired; watchers without READ get nothing.
    pub acl: Arc<[Acl]>,
}

/// What applying one txn produced.
#[derive(Debug)]
pub struct Applied {
    pub zxid: i64,
    pub outcome: Outcome,
    pub triggers: Vec<Trigger>,
}

#[derive(Debug)]
pub enum Outcome {
    SessionCreated {
        session_id: i64,
        timeout: i32,
        passwd: Vec<u8>,
    },
    SessionClosed {
        session_id: i64,
    },
    Reply(Result<Response, ErrorCode>),
}

/// The tree, the sessions and the last applied zxid.
#[derive(Debug, Clone, Default)]
pub struct State {
    pub tree: DataTree,
    pub sessions: BTreeMap<i64, SessionEntry>,
    pub last_zxid: i64,
}

/// The context every op of one txn shares.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    zxid: i64,
    time: i64,
    session: i64,
    auth: &'a [Id],
    rules: Rules,
}

impl<'a> Ctx<'a> {
    fn of(txn: &Txn, auth: &'a [Id]) -> Ctx<'a> {
        Ctx {
            zxid: txn.zxid,
            time: txn.time,
            session: txn.session_id,
            auth,
            rules: txn.rules,
        }
    }

    /// A client's txn whose session is gone (the server's own, session 0, always applies).
    fn check_session(&self, sessions: &BTreeMap<i64, SessionEntry>) -> Result<(), ErrorCode> {
        if self.session != 0 && !sessions.contains_key(&self.session) {
            return Err(ErrorCode::SessionExpired);
        }
        Ok(())
    }
}

/// The changes a multi has made so far, to take back if a later op fails. Outside a multi
/// nothing is recorded, so a single write builds no undo steps at all.
pub(super) struct UndoLog {
    steps: Vec<Undo>,
    recording: bool,
}

impl UndoLog {
    fn off() -> Self {
        UndoLog {
            steps: Vec::new(),
            recording: false,
        }
    }

    fn on() -> Self {
        UndoLog {
            steps: Vec::new(),
            recording: true,
        }
    }

    pub(super) fn record(&mut self, step: impl FnOnce() -> Undo) {
        if self.recording {
            self.steps.push(step());
        }
    }
}

/// How to take back one change when a later op of the same multi fails.
pub(super) enum Undo {
    Created {
        path: String,
    },
    Deleted {
        path: String,
        node: Node,
        acl: Arc<[Acl]>,
    },
    ParentStat {
        path: String,
        cversion: i32,
        pzxid: i64,
    },
    Data {
        path: String,
        data: Option<Box<[u8]>>,
        mzxid: i64,
        mtime: i64,
        version: i32,
    },
    Acl {
        path: String,
        acl: Arc<[Acl]>,
        aversion: i32,
    },
}

impl State {
    /// Applies one txn. Txns at or below the last applied zxid are skipped (replay after a
    /// snapshot that already holds them).
    pub fn apply(&mut self, txn: &Txn) -> Applied {
        let mut triggers = Vec::new();
        let outcome = if txn.zxid <= self.last_zxid {
            Outcome::Reply(Err(ErrorCode::RuntimeInconsistency))
        } else {
            self.last_zxid = txn.zxid;
            match &txn.body {
                // A session id is never reused; a second CreateSession for a live session
                // (a forged or replayed one) changes nothing, on every server alike.
                TxnBody::CreateSession { .. } if self.sessions.contains_key(&txn.session_id) => {
                    Outcome::Reply(Err(ErrorCode::BadArguments))
                }
                TxnBody::CreateSession { timeout, passwd } => {
                    self.sessions.insert(
                        txn.session_id,
                        SessionEntry {
                            timeout: *timeout,
                            passwd: passwd.clone(),
                            ephemerals: BTreeSet::new(),
                        },
                    );
                    Outcome::SessionCreated {
                        session_id: txn.session_id,
                        timeout: *timeout,
                        passwd: passwd.clone(),
                    }
                }
                TxnBody::CloseSession => {
                    self.close_session(txn, &mut triggers);
                    Outcome::SessionClosed {
                        session_id: txn.session_id,
                    }
                }
                TxnBody::Write { auth, request } => {
                    let ctx = Ctx::of(txn, auth);
                    Outcome::Reply(self.apply_write(&ctx, request, &mut triggers))
                }
                TxnBody::Reconfig {
                    auth,
                    cur_config_id,
                    members,
                } => {
                    let ctx = Ctx::of(txn, auth);
                    Outcome::Reply(self.reconfig(&ctx, *cur_config_id, members, &mut triggers))
                }
                TxnBody::Refused { error, multi } => Outcome::Reply(refused(*error, *multi)),
            }
        };
        Applied {
            zxid: txn.zxid,
            outcome,
            triggers,
        }
    }

    fn close_session(&mut self, txn: &Txn, triggers: &mut Vec<Trigger>) {
        let Some(session) = self.sessions.remove(&txn.session_id) else {
            return;
        };
        let ctx = Ctx::of(txn, &[]);
        // Deepest first is impossible (ephemerals have no children), so any order works;
        // sorted keeps every server's trigger order the same.
        for p in session.ephemerals.iter().rev() {
            if self.tree.contains(p) {
                self.delete_node(&ctx, p, &mut UndoLog::off(), triggers);
            }
        }
    }

    /// What applying the client write `txn` now would answer, found by applying it and
    /// taking it back; `Some` holds the [`TxnBody::Refused`] to log instead when it would
    /// fail. Writes speculated in one [`Speculation`] see each other, as a batch applied in
    /// order would; [`State::end_speculation`] takes them all back. Only client writes can
    /// be speculated (`None` for other txns).
    pub(super) fn speculate(&mut self, txn: &Txn, spec: &mut Speculation) -> Option<TxnBody> {
        let TxnBody::Write { auth, request } = &txn.body else {
            return None;
        };
        let ctx = Ctx::of(txn, auth);
        let mut triggers = Vec::new();
        match self.apply_write_into(&ctx, request, &mut spec.undo, &mut triggers) {
            Err(code) => Some(TxnBody::Refused {
                error: code.as_i32(),
                multi: None,
            }),
            Ok(Response::Multi(results)) => {
                let failed = results
                    .iter()
                    .position(|r| matches!(r, MultiResult::Error(code) if *code != 0))?;
                let error = match results[failed] {
                    MultiResult::Error(code) => code,
                    _ => return None,
                };
                Some(TxnBody::Refused {
                    error,
                    multi: Some((failed as u32, results.len() as u32)),
                })
            }
            Ok(_) => None,
        }
    }

    /// Takes back every write a [`Speculation`] applied.
    pub(super) fn end_speculation(&mut self, spec: Speculation) {
        self.roll_back(spec.undo);
    }

    fn apply_write(
        &mut self,
        ctx: &Ctx<'_>,
        request: &Request,
        triggers: &mut Vec<Trigger>,
    ) -> Result<Response, ErrorCode> {
        self.apply_write_into(ctx, request, &mut UndoLog::off(), triggers)
    }

    /// Applies a client write, recording how to take it back in `undo` when it records.
    fn apply_write_into(
        &mut self,
        ctx: &Ctx<'_>,
        request: &Request,
        undo: &mut UndoLog,
        triggers: &mut Vec<Trigger>,
    ) -> Result<Response, ErrorCode> {
        ctx.check_session(&self.sessions)?;
        match request {
            Request::Create(kind, req) => {
                let (path, stat) = self.create(ctx, *kind, req, undo, triggers)?;
                Ok(if kind.returns_stat() {
                    Response::Create2 { path, stat }
                } else {
                    Response::Create { path }
                })
            }
            Request::Delete(req) => {
                self.delete(ctx, req, undo, triggers)?;
                Ok(Response::Empty)
            }
            Request::DeleteContainer(req) => {
                self.delete_container(ctx, &req.path, undo, triggers)?;
                Ok(Response::Empty)
            }
            Request::SetData(req) => Ok(Response::Stat(self.set_data(ctx, req, undo, triggers)?)),
            Request::SetAcl(req) => Ok(Response::Stat(self.set_acl(ctx, req, undo)?)),
            Request::Multi(ops) => Ok(Response::Multi(self.multi(ctx, ops, undo, triggers))),
            Request::Reconfig(_) if !ctx.rules.reconfig_enabled => Err(ErrorCode::ReconfigDisabled),
            // Standalone has no membership to change; an ensemble's leader turns a client's
            // reconfig into a `TxnBody::Reconfig`.
            Request::Reconfig(_) => Err(ErrorCode::Unimplemented),
            _ => Err(ErrorCode::Unimplemented),
        }
    }

    /// Whether a client with `auth` may reconfigure from `cur_config_id` (-1: any), in
    /// Apache's order: reconfigEnabled, then the version (BADVERSION), then the ACL of
    /// `/zookeeper/config` (NOAUTH). The leader checks the session, a reconfig in progress and
    /// the arguments in between (`quorum::reconfig`); applying checks these again.
    pub fn check_reconfig(
        &self,
        auth: &[crate::proto::Id],
        rules: Rules,
        cur_config_id: i64,
    ) -> Result<(), ErrorCode> {
        if !rules.reconfig_enabled {
            return Err(ErrorCode::ReconfigDisabled);
        }
        self.check_reconfig_version(cur_config_id)?;
        self.check_reconfig_acl(auth, rules)
    }

    /// `fromConfig` against the current configuration's version (-1: any).
    pub fn check_reconfig_version(&self, cur_config_id: i64) -> Result<(), ErrorCode> {
        if cur_config_id != -1 && cur_config_id != self.config_version() {
            return Err(ErrorCode::BadVersion);
        }
        Ok(())
    }

    /// WRITE on `/zookeeper/config`, the last check of a reconfig.
    pub fn check_reconfig_acl(
        &self,
        auth: &[crate::proto::Id],
        rules: Rules,
    ) -> Result<(), ErrorCode> {
        let node = self.node(CONFIG_PATH)?;
        acl::check(rules.skip_acl, &self.tree.acl_of(&node), perms::WRITE, auth)
    }

    /// The text of `/zookeeper/config` (empty before an ensemble's first leader writes it).
    pub fn config_text(&self) -> String {
        self.tree
            .get(CONFIG_PATH)
            .and_then(|n| n.data())
            .map(|d| String::from_utf8_lossy(d).into_owned())
            .unwrap_or_default()
    }

    /// The `version=` of `/zookeeper/config`, 0 if it has none.
    pub fn config_version(&self) -> i64 {
        self.config_text()
            .lines()
            .find_map(|l| l.strip_prefix("version="))
            .and_then(|hex| i64::from_str_radix(hex.trim(), 16).ok())
            .unwrap_or(0)
    }

    /// A reconfiguration whose result the ensemble's leader computed: `members` holds every
    /// server line of the new configuration, and the membership already changed. Session 0 is
    /// the leader writing the first configuration, which no client asked for.
    fn reconfig(
        &mut self,
        ctx: &Ctx<'_>,
        cur_config_id: i64,
        members: &str,
        triggers: &mut Vec<Trigger>,
    ) -> Result<Response, ErrorCode> {
        if ctx.session != 0 {
            if !ctx.rules.reconfig_enabled {
                return Err(ErrorCode::ReconfigDisabled);
            }
            ctx.check_session(&self.sessions)?;
            self.check_reconfig_version(cur_config_id)?;
            self.check_reconfig_acl(ctx.auth, ctx.rules)?;
        }
        let data = format!("{members}version={:x}", ctx.zxid).into_bytes();
        let config_ctx = Ctx {
            rules: Rules {
                skip_acl: true,
                enforce_quota: false,
                ..ctx.rules
            },
            ..*ctx
        };
        let request = SetDataRequest {
            path: CONFIG_PATH.to_owned(),
            data: Some(data.clone()),
            version: -1,
        };
        let stat = self.set_data(&config_ctx, &request, &mut UndoLog::off(), triggers)?;
        Ok(Response::GetData {
            data: Some(data),
            stat,
        })
    }

    /// A multi: every op or none. Its own changes are recorded (to take them back if an op
    /// fails) whether or not `outer` records; they stay in `outer` only if it does.
    fn multi(
        &mut self,
        ctx: &Ctx<'_>,
        ops: &[MultiOp],
        outer: &mut UndoLog,
        triggers: &mut Vec<Trigger>,
    ) -> Vec<MultiResult> {
        let mut undo = UndoLog::on();
        let mut pending = Vec::new();
        let mut results = Vec::with_capacity(ops.len());
        for (i, op) in ops.iter().enumerate() {
            let outcome = match op {
                MultiOp::Create(kind, req) => self
                    .create(ctx, *kind, req, &mut undo, &mut pending)
                    .map(|(path, stat)| {
                        // Apache's multi turns create2 into create: only container and
                        // TTL creates report a Stat.
                        if matches!(kind, CreateKind::Container | CreateKind::Ttl(_)) {
                            MultiResult::Create2 { path, stat }
                        } else {
                            MultiResult::Create { path }
                        }
                    }),
                MultiOp::Delete(req) => self
                    .delete(ctx, req, &mut undo, &mut pending)
                    .map(|()| MultiResult::Delete),
                MultiOp::SetData(req) => self
                    .set_data(ctx, req, &mut undo, &mut pending)
                    .map(MultiResult::SetData),
                MultiOp::Check(req) => self
                    .check(ctx, &req.path, req.version)
                    .map(|()| MultiResult::Check),
                MultiOp::GetChildren(_) | MultiOp::GetData(_) => Err(ErrorCode::BadArguments),
            };
            match outcome {
                Ok(result) => results.push(result),
                Err(code) => {
                    self.roll_back(undo);
                    return failed_multi(i, ops.len(), code.as_i32());
                }
            }
        }
        if outer.recording {
            outer.steps.extend(undo.steps);
        }
        triggers.extend(pending);
        results
    }

    fn node(&self, path: &str) -> Result<NodeRef<'_>, ErrorCode> {
        self.tree.get(path).ok_or(ErrorCode::NoNode)
    }

    fn check_acl(&self, node: &Meta, perm: i32, ctx: &Ctx<'_>) -> Result<(), ErrorCode> {
        acl::check(ctx.rules.skip_acl, &self.tree.acl_of(node), perm, ctx.auth)
    }

    fn create(
        &mut self,
        ctx: &Ctx<'_>,
        kind: CreateKind,
        req: &CreateRequest,
        undo: &mut UndoLog,
        triggers: &mut Vec<Trigger>,
    ) -> Result<(String, Stat), ErrorCode> {
        let mode = CreateMode::from_i32(req.flags).ok_or(ErrorCode::BadArguments)?;
        let ttl = match kind {
            CreateKind::Ttl(ttl) => ttl,
            _ => -1,
        };
        if mode.is_ttl() && !ctx.rules.extended_types {
            return Err(ErrorCode::Unimplemented);
        }
        let ttl_ok = if mode.is_ttl() {
            ttl > 0 && ttl <= MAX_TTL
        } else {
            ttl < 0
        };
        if !ttl_ok {
            return Err(ErrorCode::BadArguments);
        }
        let last_slash = req.path.rfind('/').ok_or(ErrorCode::BadArguments)?;
        if req.path.contains('\0') {
            return Err(ErrorCode::BadArguments);
        }
        let acl = acl::fixup(&req.acl, ctx.auth)?;
        let parent_path = if last_slash == 0 {
            "/"
        } else {
            &req.path[..last_slash]
        };
        let parent = self.node(parent_path)?;
        self.check_acl(&parent, perms::CREATE, ctx)?;
        let parent_id = parent.id();
        let parent_cversion = parent.cversion;
        let parent_kind = parent.kind();
        let full = if mode.is_sequential() {
            format!("{}{:010}", req.path, parent_cversion)
        } else {
            req.path.clone()
        };
        path::validate(&full, false).map_err(|_| ErrorCode::BadArguments)?;
        if self.tree.contains(&full) {
            return Err(ErrorCode::NodeExists);
        }
        if matches!(parent_kind, NodeKind::Ephemeral(_)) {
            return Err(ErrorCode::NoChildrenForEphemerals);
        }
        let data_len = req.data.as_ref().map_or(0, Vec::len) as i64;
        quota::check(self, ctx.rules.enforce_quota, &full, 1, data_len)?;

        // As in Apache, the opcode decides container and TTL nodes; the flags decide
        // ephemeral and sequential.
        let owner = match kind {
            CreateKind::Container => NodeKind::Container,
            CreateKind::Ttl(ttl) if mode.is_ttl() => NodeKind::Ttl(ttl),
            _ if mode.is_ephemeral() => NodeKind::Ephemeral(ctx.session),
            _ => NodeKind::Persistent,
        };
        let meta = Meta {
            acl: self.tree.acls.intern(&acl),
            czxid: ctx.zxid,
            mzxid: ctx.zxid,
            pzxid: ctx.zxid,
            ctime: ctx.time,
            mtime: ctx.time,
            ephemeral_owner: owner.owner(),
            ..Meta::default()
        };
        self.touch_parent(parent_id, ctx.zxid, true, undo);
        let id = self
            .tree
            .insert_child(parent_id, &full, req.data.as_deref(), meta);
        let stat = self.tree.at(id).stat();
        if let NodeKind::Ephemeral(session) = owner {
            if let Some(s) = self.sessions.get_mut(&session) {
                s.ephemerals.insert(full.clone());
            }
        }
        undo.record(|| Undo::Created { path: full.clone() });
        quota::on_change(self, &full, 1, data_len, undo);
        let acl = self.tree.acls.get(meta.acl);
        triggers.push(Trigger {
            path: full.clone(),
            event: EventType::NodeCreated,
            acl,
        });
        self.child_trigger(parent_id, triggers);
        Ok((full, stat))
    }

    fn delete(
        &mut self,
        ctx: &Ctx<'_>,
        req: &DeleteRequest,
        undo: &mut UndoLog,
        triggers: &mut Vec<Trigger>,
    ) -> Result<(), ErrorCode> {
        // Apache checks only the last slash, NUL and the special paths here, then the
        // parent, its ACL, and only then the node itself.
        let last_slash = req.path.rfind('/').ok_or(ErrorCode::BadArguments)?;
        if req.path.contains('\0') || DataTree::is_special(&req.path) {
            return Err(ErrorCode::BadArguments);
        }
        let parent = self.node(if last_slash == 0 {
            "/"
        } else {
            &req.path[..last_slash]
        })?;
        self.check_acl(&parent, perms::DELETE, ctx)?;
        let node = self.node(&req.path)?;
        check_version(node.version, req.version)?;
        if node.has_children() {
            return Err(ErrorCode::NotEmpty);
        }
        self.delete_node(ctx, &req.path, undo, triggers);
        Ok(())
    }

    fn delete_container(
        &mut self,
        ctx: &Ctx<'_>,
        p: &str,
        undo: &mut UndoLog,
        triggers: &mut Vec<Trigger>,
    ) -> Result<(), ErrorCode> {
        path::validate(p, false).map_err(|_| ErrorCode::BadArguments)?;
        let node = self.node(p)?;
        if node.has_children() {
            return Err(ErrorCode::NotEmpty);
        }
        match node.kind() {
            NodeKind::Container => {}
            NodeKind::Ttl(ttl) if ctx.time.saturating_sub(node.mtime) > ttl => {}
            _ => return Err(ErrorCode::BadArguments),
        }
        self.delete_node(ctx, p, undo, triggers);
        Ok(())
    }

    /// Removes a node that has no children, with its parent's pzxid, its session's
    /// ephemeral list and quota stats kept right.
    fn delete_node(
        &mut self,
        ctx: &Ctx<'_>,
        p: &str,
        undo: &mut UndoLog,
        triggers: &mut Vec<Trigger>,
    ) {
        let Some(parent_id) = self.tree.get(path::parent(p)).map(|n| n.id()) else {
            return;
        };
        self.touch_parent(parent_id, ctx.zxid, false, undo);
        let Some(node) = self.tree.remove(p) else {
            return;
        };
        let acl = self.tree.acls.get(node.meta.acl);
        self.tree.acls.release(node.meta.acl);
        if let NodeKind::Ephemeral(session) = node.meta.kind() {
            if let Some(s) = self.sessions.get_mut(&session) {
                s.ephemerals.remove(p);
            }
        }
        let data_len = node.data_len() as i64;
        undo.record(|| Undo::Deleted {
            path: p.to_owned(),
            node,
            acl: acl.clone(),
        });
        quota::on_change(self, p, -1, -data_len, undo);
        triggers.push(Trigger {
            path: p.to_owned(),
            event: EventType::NodeDeleted,
            acl,
        });
        self.child_trigger(parent_id, triggers);
    }

    fn set_data(
        &mut self,
        ctx: &Ctx<'_>,
        req: &SetDataRequest,
        undo: &mut UndoLog,
        triggers: &mut Vec<Trigger>,
    ) -> Result<Stat, ErrorCode> {
        path::validate(&req.path, false).map_err(|_| ErrorCode::BadArguments)?;
        let node = self.node(&req.path)?;
        self.check_acl(&node, perms::WRITE, ctx)?;
        let new_len = req.data.as_ref().map_or(0, Vec::len) as i64;
        let delta = new_len - node.data_len() as i64;
        quota::check(self, ctx.rules.enforce_quota, &req.path, 0, delta)?;
        check_version(node.version, req.version)?;
        let new_version = node.version.wrapping_add(1);
        let id = node.id();
        undo.record(|| Undo::Data {
            path: req.path.clone(),
            data: node.data().map(Box::from),
            mzxid: node.mzxid,
            mtime: node.mtime,
            version: node.version,
        });
        self.tree.set_data_at(id, req.data.as_deref());
        let meta = self.tree.meta_mut_at(id);
        meta.mzxid = ctx.zxid;
        meta.mtime = ctx.time;
        meta.version = new_version;
        let acl_ref = meta.acl;
        let stat = self.tree.at(id).stat();
        quota::on_change(self, &req.path, 0, delta, undo);
        triggers.push(Trigger {
            path: req.path.clone(),
            event: EventType::NodeDataChanged,
            acl: self.tree.acls.get(acl_ref),
        });
        Ok(stat)
    }

    fn set_acl(
        &mut self,
        ctx: &Ctx<'_>,
        req: &SetAclRequest,
        undo: &mut UndoLog,
    ) -> Result<Stat, ErrorCode> {
        path::validate(&req.path, false).map_err(|_| ErrorCode::BadArguments)?;
        let acl = acl::fixup(&req.acl, ctx.auth)?;
        let node = self.node(&req.path)?;
        self.check_acl(&node, perms::ADMIN, ctx)?;
        check_version(node.aversion, req.version)?;
        let (id, old_ref, aversion) = (node.id(), node.acl, node.aversion);
        let new_ref = self.tree.acls.intern(&acl);
        undo.record(|| Undo::Acl {
            path: req.path.clone(),
            acl: self.tree.acls.get(old_ref),
            aversion,
        });
        self.tree.acls.release(old_ref);
        let meta = self.tree.meta_mut_at(id);
        meta.acl = new_ref;
        meta.aversion = aversion.wrapping_add(1);
        Ok(self.tree.at(id).stat())
    }

    fn check(&self, ctx: &Ctx<'_>, p: &str, version: i32) -> Result<(), ErrorCode> {
        path::validate(p, false).map_err(|_| ErrorCode::BadArguments)?;
        let node = self.node(p)?;
        self.check_acl(&node, perms::READ, ctx)?;
        check_version(node.version, version)
    }

    fn touch_parent(&mut self, parent: NodeId, zxid: i64, created: bool, undo: &mut UndoLog) {
        let node = self.tree.at(parent);
        undo.record(|| Undo::ParentStat {
            path: node.path().to_owned(),
            cversion: node.cversion,
            pzxid: node.pzxid,
        });
        let meta = self.tree.meta_mut_at(parent);
        if created {
            meta.cversion = meta.cversion.wrapping_add(1);
        }
        meta.pzxid = zxid;
    }

    fn child_trigger(&self, parent: NodeId, triggers: &mut Vec<Trigger>) {
        let node = self.tree.at(parent);
        triggers.push(Trigger {
            path: node.path().to_owned(),
            event: EventType::NodeChildrenChanged,
            acl: self.tree.acl_of(&node),
        });
    }

    fn roll_back(&mut self, undo: UndoLog) {
        for step in undo.steps.into_iter().rev() {
            match step {
                Undo::Created { path } => {
                    if let Some(node) = self.tree.remove(&path) {
                        self.tree.acls.release(node.meta.acl);
                        if let NodeKind::Ephemeral(session) = node.meta.kind() {
                            if let Some(s) = self.sessions.get_mut(&session) {
                                s.ephemerals.remove(&path);
                            }
                        }
                    }
                }
                Undo::Deleted {
                    path,
                    mut node,
                    acl,
                } => {
                    node.meta.acl = self.tree.acls.intern(&acl);
                    if let NodeKind::Ephemeral(session) = node.meta.kind() {
                        if let Some(s) = self.sessions.get_mut(&session) {
                            s.ephemerals.insert(path.clone());
                        }
                    }
                    self.tree.insert(&path, node.data.as_deref(), node.meta);
                }
                Undo::ParentStat {
                    path,
                    cversion,
                    pzxid,
                } => {
                    if let Some(node) = self.tree.get_mut(&path) {
                        node.cversion = cversion;
                        node.pzxid = pzxid;
                    }
                }
                Undo::Data {
                    path,
                    data,
                    mzxid,
                    mtime,
                    version,
                } => {
                    self.tree.set_data(&path, data.as_deref());
                    if let Some(node) = self.tree.get_mut(&path) {
                        node.mzxid = mzxid;
                        node.mtime = mtime;
                        node.version = version;
                    }
                }
                Undo::Acl {
                    path,
                    acl,
                    aversion,
                } => {
                    let restored = self.tree.acls.intern(&acl);
                    if let Some(node) = self.tree.get_mut(&path) {
                        let current = std::mem::replace(&mut node.acl, restored);
                        node.aversion = aversion;
                        self.tree.acls.release(current);
                    }
                }
            }
        }
    }
}

/// Writes applied to find out what they would answer, to be taken back
/// ([`State::speculate`]).
pub(super) struct Speculation {
    undo: UndoLog,
}

impl Default for Speculation {
    fn default() -> Self {
        Speculation {
            undo: UndoLog::on(),
        }
    }
}

/// The answer of a multi whose op `index` of `count` failed with `error`, as Apache gives it.
fn failed_multi(index: usize, count: usize, error: i32) -> Vec<MultiResult> {
    let mut results: Vec<MultiResult> = (0..index).map(|_| MultiResult::Error(0)).collect();
    results.push(MultiResult::Error(error));
    results.extend(
        (index + 1..count).map(|_| MultiResult::Error(ErrorCode::RuntimeInconsistency.as_i32())),
    );
    results
}

/// The answer a [`TxnBody::Refused`] stands for.
fn refused(error: i32, multi: Option<(u32, u32)>) -> Result<Response, ErrorCode> {
    match multi {
        Some((index, count)) => Ok(Response::Multi(failed_multi(
            index as usize,
            count as usize,
            error,
        ))),
        None => Err(ErrorCode::from_i32(error).unwrap_or(ErrorCode::SystemError)),
    }
}

fn check_version(current: i32, expected: i32) -> Result<(), ErrorCode> {
    if expected == -1 || expected == current {
        Ok(())
    } else {
        Err(ErrorCode::BadVersion)
    }
}
