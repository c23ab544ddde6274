//! The state image written into snapshot files: every session and every znode, so a
//! restart rebuilds the exact [`State`] the log had reached.
//!
//! # Encoding (jute primitives, big-endian)
//!
//! ```text
//! int version (2) | long last_zxid
//! int session_count, then per session: long id | int timeout | buffer passwd
//! int acl_count,     then per ACL list: int ref | vector<ACL>
//! long node_count,   then per node, numbered 0 (the root) to node_count - 1 in order:
//!     int parent (the parent's number; the root's is 0) | node
//! node = ustring path | buffer data | int acl_ref | long czxid | long mzxid | long ctime
//!        | long mtime | int version | int cversion | int aversion | long ephemeral_owner
//!        | long pzxid
//! ```
//!
//! Version 1 (still read) has no parent numbers and holds the nodes parents first.
//!
//! A delta (version 3) holds what changed since the image it follows, `base_zxid`: every
//! session, every ACL list, the paths removed (children before parents) and the nodes
//! changed or created, in no particular order:
//!
//! ```text
//! int version (3) | long last_zxid | long base_zxid
//! sessions and ACL lists as above
//! long removed_count, then per removed node: ustring path
//! long node_count,    then per node: node
//! ```
//!
//! Images are written from a frozen tree (see `tree::frozen`): [`freeze`] records the
//! sessions, the ACLs and the moment, and [`FrozenImage::write_to`] then encodes the nodes a
//! chunk at a time, holding the state's lock only while it encodes each chunk, so writes go on
//! between chunks and the image is still exactly the state at the freeze.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{self, Write};

use bytes::BufMut;
use parking_lot::RwLock;

use crate::proto::codec::JuteWrite;
use crate::proto::{Acl, Decode, DecodeError, Reader};

use super::state::{SessionEntry, State};
use super::tree::{AclCache, FreezeToken, Meta, NodeKind};

const VERSION_PARENTS_FIRST: i32 = 1;
const VERSION_NUMBERED: i32 = 2;
const VERSION_DELTA: i32 = 3;
/// Slots encoded per hold of the state's lock: small enough that a write waits well under a
/// millisecond, large enough that taking the lock costs nothing next to the encoding.
const CHUNK_SLOTS: u32 = 4096;
/// The smallest encoded node: an empty path and null data (4 + 4) and the fixed fields.
const MIN_NODE_BYTES: usize = 8 + 60;

/// What an image holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    /// The whole state.
    Full,
    /// What changed since the image of `base_zxid` (the state's previous freeze, after
    /// `tree.track_changes()`).
    Delta { base_zxid: i64 },
}

/// A snapshot image of one moment of a state, to be written while the state goes on changing.
pub struct FrozenImage {
    token: FreezeToken,
    kind: ImageKind,
    zxid: i64,
    /// Everything before the nodes.
    header: Vec<u8>,
}

/// Freezes `state` now for a full image (see the module doc); the caller holds the state's
/// write lock.
pub fn freeze(state: &mut State) -> FrozenImage {
    let token = state.tree.freeze();
    frozen(state, token, ImageKind::Full)
}

/// Freezes what changed in `state` since its previous freeze, which `base_zxid` names; `None`
/// if the tree does not track its changes.
pub fn freeze_delta(state: &mut State, base_zxid: i64) -> Option<FrozenImage> {
    let token = state.tree.freeze_changes()?;
    Some(frozen(state, token, ImageKind::Delta { base_zxid }))
}

fn frozen(state: &State, token: FreezeToken, kind: ImageKind) -> FrozenImage {
    let nodes = state.tree.frozen_nodes(&token).unwrap_or(0);
    let mut header = Vec::new();
    match kind {
        ImageKind::Full => {
            header.put_i32(VERSION_NUMBERED);
            header.put_i64(state.last_zxid);
        }
        ImageKind::Delta { base_zxid } => {
            header.put_i32(VERSION_DELTA);
            header.put_i64(state.last_zxid);
            header.put_i64(base_zxid);
        }
    }
    header.put_i32(i32::try_from(state.sessions.len()).unwrap_or(i32::MAX));
    for (id, s) in &state.sessions {
        header.put_i64(*id);
        header.put_i32(s.timeout);
        header.put_buffer(Some(&s.passwd));
    }
    let acls = state.tree.acls.sorted();
    header.put_i32(i32::try_from(acls.len()).unwrap_or(i32::MAX));
    for (r, acl) in &acls {
        header.put_i32(*r as i32);
        header.put_records(acl);
    }
    if let ImageKind::Delta { .. } = kind {
        let removed = state.tree.frozen_removed(&token).unwrap_or_default();
        header.put_i64(removed.len() as i64);
        for path in removed {
            header.put_string(path);
        }
    }
    header.put_i64(nodes as i64);
    FrozenImage {
        token,
        kind,
        zxid: state.last_zxid,
        header,
    }
}

impl FrozenImage {
    /// The zxid of the state the image holds.
    pub fn zxid(&self) -> i64 {
        self.zxid
    }

    pub fn kind(&self) -> ImageKind {
        self.kind
    }

    /// Writes the image into `out`, taking `state`'s write lock for each chunk of nodes.
    /// Fails if the state was replaced or frozen again meanwhile.
    pub fn write_to(&self, state: &RwLock<State>, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(&self.header)?;
        let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
        loop {
            let done = state
                .write()
                .tree
                .read_frozen(&self.token, CHUNK_SLOTS, |node| {
                    if self.kind == ImageKind::Full {
                        buf.put_i32(node.parent as i32);
                    }
                    put_node(&mut buf, node.path, node.data, node.meta);
                })
                .map_err(io::Error::other)?;
            out.write_all(&buf)?;
            buf.clear();
            if done {
                return Ok(());
            }
        }
    }

    /// Gives the image up: the tree stops keeping what it needs.
    pub fn abandon(self, state: &mut State) {
        state.tree.thaw(&self.token);
    }
}

/// Encodes `image`, frozen from `state`, which nobody else changes meanwhile (tests).
#[cfg(test)]
pub(crate) fn encode(state: &mut State, image: FrozenImage) -> Vec<u8> {
    let lock = RwLock::new(std::mem::take(state));
    let mut bytes = Vec::new();
    image
        .write_to(&lock, &mut bytes)
        .expect("writing into memory");
    *state = lock.into_inner();
    bytes
}

fn put_node(buf: &mut Vec<u8>, path: &str, data: Option<&[u8]>, meta: &Meta) {
    buf.put_string(path);
    buf.put_buffer(data);
    buf.put_i32(meta.acl as i32);
    buf.put_i64(meta.czxid);
    buf.put_i64(meta.mzxid);
    buf.put_i64(meta.ctime);
    buf.put_i64(meta.mtime);
    buf.put_i32(meta.version);
    buf.put_i32(meta.cversion);
    buf.put_i32(meta.aversion);
    buf.put_i64(meta.ephemeral_owner);
    buf.put_i64(meta.pzxid);
}

/// Rebuilds a state from a full image.
pub fn read(state: &mut State, bytes: &[u8]) -> Result<(), DecodeError> {
    let r = &mut Reader::new(bytes);
    let version = r.read_i32()?;
    if version != VERSION_PARENTS_FIRST && version != VERSION_NUMBERED {
        return Err(DecodeError::Invalid(if version == VERSION_DELTA {
            "a snapshot delta where a full snapshot was expected"
        } else {
            "unsupported snapshot image version"
        }));
    }
    state.last_zxid = r.read_i64()?;
    let acl_lists = read_sessions_and_acls(r, state)?;
    let nodes = read_count(
        r,
        MIN_NODE_BYTES + if version == VERSION_NUMBERED { 4 } else { 0 },
    )?;
    let mut acls = AclInterner::new(&acl_lists, AclCache::default());
    let invalid = |e: super::tree::RestoreError| DecodeError::Invalid(e.as_str());
    if version == VERSION_NUMBERED {
        let mut rebuilder = state.tree.rebuilder(nodes);
        for id in 0..nodes as u32 {
            let parent = r.read_i32()? as u32;
            let (path, data, meta) = read_node(r, &mut acls)?;
            on_node(&mut state.sessions, path, &meta);
            rebuilder
                .put(id, parent, path, data, meta)
                .map_err(invalid)?;
        }
        rebuilder.finish().map_err(invalid)?;
    } else {
        let mut restorer = state.tree.restorer(nodes);
        for _ in 0..nodes {
            let (path, data, meta) = read_node(r, &mut acls)?;
            on_node(&mut state.sessions, path, &meta);
            restorer.push(path, data, meta).map_err(invalid)?;
        }
    }
    state.tree.acls = acls.cache;
    r.finish()
}

/// The zxid a delta follows, or `None` for a full image.
pub fn delta_base(bytes: &[u8]) -> Result<Option<i64>, DecodeError> {
    let r = &mut Reader::new(bytes);
    if r.read_i32()? != VERSION_DELTA {
        return Ok(None);
    }
    r.read_i64()?;
    Ok(Some(r.read_i64()?))
}

/// Brings `state`, which holds the image of `base_zxid`, up to a delta's zxid.
pub fn apply_delta(state: &mut State, bytes: &[u8]) -> Result<(), DecodeError> {
    let r = &mut Reader::new(bytes);
    if r.read_i32()? != VERSION_DELTA {
        return Err(DecodeError::Invalid("not a snapshot delta"));
    }
    let last_zxid = r.read_i64()?;
    if r.read_i64()? != state.last_zxid {
        return Err(DecodeError::Invalid(
            "the snapshot delta does not follow the state it is applied to",
        ));
    }
    let acl_lists = read_sessions_and_acls(r, state)?;
    let mut acls = AclInterner::new(&acl_lists, std::mem::take(&mut state.tree.acls));
    let removed = read_count(r, 4)?;
    for _ in 0..removed {
        let path = r.read_str_ref()?.unwrap_or_default();
        if let Some(node) = state.tree.remove(path) {
            acls.cache.release(node.meta.acl);
        } else if state.tree.contains(path) {
            return Err(DecodeError::Invalid(
                "a snapshot delta removes a node that still has children",
            ));
        }
    }
    let nodes = read_count(r, MIN_NODE_BYTES)?;
    let mut changed = Vec::with_capacity(nodes);
    for _ in 0..nodes {
        changed.push(read_node(r, &mut acls)?);
    }
    r.finish()?;
    // Parents before their children.
    changed.sort_unstable_by(|a, b| a.0.cmp(b.0));
    for (path, data, meta) in changed {
        if let Some(old) = state.tree.get(path) {
            acls.cache.release(old.acl);
        }
        if !state.tree.insert(path, data, meta) {
            return Err(DecodeError::Invalid(
                "a snapshot delta adds a node whose parent is missing",
            ));
        }
    }
    state.tree.acls = acls.cache;
    state.last_zxid = last_zxid;
    for session in state.sessions.values_mut() {
        session.ephemerals.clear();
    }
    for node in state.tree.iter() {
        on_node(&mut state.sessions, node.path(), &node);
    }
    Ok(())
}

/// Reads the sessions into `state` (their ephemeral lists empty) and returns the ACL lists
/// by image reference.
fn read_sessions_and_acls(
    r: &mut Reader<'_>,
    state: &mut State,
) -> Result<HashMap<i32, Vec<Acl>>, DecodeError> {
    state.sessions.clear();
    let sessions = r.read_i32()?;
    for _ in 0..sessions.max(0) {
        let id = r.read_i64()?;
        let timeout = r.read_i32()?;
        let passwd = r.read_buffer()?.unwrap_or_default();
        state.sessions.insert(
            id,
            SessionEntry {
                timeout,
                passwd,
                ephemerals: BTreeSet::new(),
            },
        );
    }
    let mut acl_lists: HashMap<i32, Vec<Acl>> = HashMap::new();
    let lists = r.read_i32()?;
    for _ in 0..lists.max(0) {
        let r_id = r.read_i32()?;
        acl_lists.insert(r_id, r.read_vec(12, Acl::decode)?);
    }
    Ok(acl_lists)
}

/// A count of records of at least `min_bytes` each; a hostile count cannot make the reader
/// reserve more records than the rest of the image could hold.
fn read_count(r: &mut Reader<'_>, min_bytes: usize) -> Result<usize, DecodeError> {
    let count = r.read_i64()?;
    match usize::try_from(count) {
        Ok(n) if n <= r.remaining() / min_bytes.max(1) => Ok(n),
        _ => Err(DecodeError::Invalid(
            "a snapshot record count exceeds the image",
        )),
    }
}

/// Lists an ephemeral node under its session.
fn on_node(sessions: &mut BTreeMap<i64, SessionEntry>, path: &str, meta: &Meta) {
    if let NodeKind::Ephemeral(session) = meta.kind() {
        if let Some(s) = sessions.get_mut(&session) {
            s.ephemerals.insert(path.to_owned());
        }
    }
}

fn read_node<'a>(
    r: &mut Reader<'a>,
    acls: &mut AclInterner<'_>,
) -> Result<(&'a str, Option<&'a [u8]>, Meta), DecodeError> {
    let path = r.read_str_ref()?.unwrap_or_default();
    let data = r.read_buffer_ref()?;
    let acl = acls.take(r.read_i32()?)?;
    let meta = Meta {
        acl,
        czxid: r.read_i64()?,
        mzxid: r.read_i64()?,
        ctime: r.read_i64()?,
        mtime: r.read_i64()?,
        version: r.read_i32()?,
        cversion: r.read_i32()?,
        aversion: r.read_i32()?,
        ephemeral_owner: r.read_i64()?,
        pzxid: r.read_i64()?,
    };
    Ok((path, data, meta))
}

/// Turns the image's ACL references into the cache's, one cache reference per node.
struct AclInterner<'a> {
    lists: &'a HashMap<i32, Vec<Acl>>,
    cache: AclCache,
    /// Image reference -> cache reference.
    known: hashbrown::HashMap<i32, u32>,
    /// Most nodes share their neighbour's ACL.
    last: Option<(i32, u32)>,
}

impl<'a> AclInterner<'a> {
    fn new(lists: &'a HashMap<i32, Vec<Acl>>, cache: AclCache) -> Self {
        AclInterner {
            lists,
            cache,
            known: hashbrown::HashMap::new(),
            last: None,
        }
    }

    fn take(&mut self, image_ref: i32) -> Result<u32, DecodeError> {
        let known = match self.last {
            Some((last_ref, acl)) if last_ref == image_ref => Some(acl),
            _ => self.known.get(&image_ref).copied(),
        };
        let acl = match known {
            Some(acl) => {
                self.cache.retain(acl);
                acl
            }
            None => {
                let list = self
                    .lists
                    .get(&image_ref)
                    .ok_or(DecodeError::Invalid("snapshot node names an unknown ACL"))?;
                let acl = self.cache.intern(list);
                self.known.insert(image_ref, acl);
                acl
            }
        };
        self.last = Some((image_ref, acl));
        Ok(acl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Acl, CreateKind, CreateRequest, Request};
    use crate::server::txn::{Txn, TxnBody};

    #[test]
    fn image_round_trips() {
        let mut state = State::default();
        let mut zxid = 0;
        let mut apply = |state: &mut State, session_id, body| {
            zxid += 1;
            state.apply(&Txn {
                zxid,
                time: 5,
                session_id,
                rules: Default::default(),
                body,
            });
        };
        apply(
            &mut state,
            7,
            TxnBody::CreateSession {
                timeout: 4000,
                passwd: vec![1; 16],
            },
        );
        for (i, (kind, flags)) in [
            (CreateKind::Create2, 0),
            (CreateKind::Create2, 1),
            (CreateKind::Container, 4),
        ]
        .into_iter()
        .enumerate()
        {
            let request = Request::Create(
                kind,
                CreateRequest {
                    path: format!("/n{i}"),
                    data: Some(vec![i as u8; i]),
                    acl: Acl::open_unsafe(),
                    flags,
                },
            );
            let body = TxnBody::Write {
                auth: Vec::new(),
                request,
            };
            apply(&mut state, 7, body);
        }
        let image = freeze(&mut state);
        let bytes = encode(&mut state, image);
        let mut restored = State::default();
        read(&mut restored, &bytes).unwrap();
        assert_eq!(restored.last_zxid, state.last_zxid);
        assert_eq!(restored.sessions, state.sessions);
        assert_eq!(restored.tree.node_count(), state.tree.node_count());
        for p in ["/", "/n0", "/n1", "/n2", "/zookeeper/config"] {
            assert_eq!(
                restored.tree.get(p).unwrap().stat(),
                state.tree.get(p).unwrap().stat(),
                "{p}"
            );
        }
    }

    fn txn(zxid: i64, request: Request) -> Txn {
        Txn {
            zxid,
            time: zxid * 10,
            session_id: 0,
            rules: Default::default(),
            body: TxnBody::Write {
                auth: Vec::new(),
                request,
            },
        }
    }

    fn create(path: &str, data: &[u8]) -> Request {
        Request::Create(
            CreateKind::Create,
            CreateRequest {
                path: path.to_owned(),
                data: Some(data.to_vec()),
                acl: Acl::open_unsafe(),
                flags: 0,
            },
        )
    }

    /// Every node with its data and Stat, sorted by path.
    fn contents(state: &State) -> Vec<(String, Option<Vec<u8>>, crate::proto::Stat)> {
        let mut all = Vec::new();
        state
            .tree
            .walk(|n| all.push((n.path().to_owned(), n.data().map(<[u8]>::to_vec), n.stat())));
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    #[test]
    fn an_image_written_during_writes_holds_the_state_at_the_freeze() {
        let mut state = State::default();
        let mut zxid = 0;
        let mut next = || {
            zxid += 1;
            zxid
        };
        state.apply(&txn(next(), create("/d", b"")));
        for i in 0..3000 {
            state.apply(&txn(next(), create(&format!("/d/{i}"), &[i as u8; 20])));
        }
        let expected = contents(&state);
        let lock = std::sync::Arc::new(RwLock::new(state));
        let image = freeze(&mut lock.write());
        let writes = {
            let lock = lock.clone();
            let mut zxid = zxid;
            std::thread::spawn(move || {
                for i in 0..3000 {
                    zxid += 1;
                    let request = match i % 3 {
                        0 => Request::Delete(crate::proto::DeleteRequest {
                            path: format!("/d/{i}"),
                            version: -1,
                        }),
                        1 => Request::SetData(crate::proto::SetDataRequest {
                            path: format!("/d/{i}"),
                            data: Some(vec![0xee; 5]),
                            version: -1,
                        }),
                        _ => create(&format!("/d/new{i}"), b"n"),
                    };
                    lock.write().apply(&txn(zxid, request));
                    if i % 64 == 0 {
                        std::thread::yield_now();
                    }
                }
            })
        };
        let mut bytes = Vec::new();
        image.write_to(&lock, &mut bytes).unwrap();
        writes.join().unwrap();
        let mut restored = State::default();
        read(&mut restored, &bytes).unwrap();
        assert_eq!(restored.last_zxid, 3001);
        assert_eq!(contents(&restored), expected);
        assert!(
            lock.read().tree.get("/d/0").is_none(),
            "the writes did happen"
        );
    }

    #[test]
    fn reads_version_1_images() {
        let mut state = State::default();
        state.apply(&txn(1, create("/a", b"x")));
        state.apply(&txn(2, create("/a/b", b"yy")));
        let mut bytes = Vec::new();
        bytes.put_i32(VERSION_PARENTS_FIRST);
        bytes.put_i64(state.last_zxid);
        bytes.put_i32(0);
        let acls = state.tree.acls.sorted();
        bytes.put_i32(acls.len() as i32);
        for (r, acl) in &acls {
            bytes.put_i32(*r as i32);
            bytes.put_records(acl);
        }
        bytes.put_i64(state.tree.node_count() as i64);
        state
            .tree
            .walk(|n| put_node(&mut bytes, n.path(), n.data(), &n));
        let mut restored = State::default();
        read(&mut restored, &bytes).unwrap();
        assert_eq!(contents(&restored), contents(&state));
    }

    #[test]
    fn refuses_counts_larger_than_the_image() {
        let mut state = State::default();
        let mut image = freeze(&mut state);
        // The node count ends the header; claim a billion nodes in 64 bytes.
        image.header.truncate(image.header.len() - 8);
        image.header.put_i64(1 << 30);
        let mut forged = image.header.clone();
        forged.extend_from_slice(&[0; 64]);
        assert!(read(&mut State::default(), &forged).is_err());
    }

    /// A state with `/d` and `n` children, tracking its changes from then on.
    fn tracked_state(n: usize) -> State {
        let mut state = State::default();
        state.apply(&txn(1, create("/d", b"")));
        for i in 0..n {
            state.apply(&txn(
                2 + i as i64,
                create(&format!("/d/{i}"), &[i as u8; 20]),
            ));
        }
        state.tree.track_changes();
        state
    }

    fn full_image(state: &mut State) -> Vec<u8> {
        let image = freeze(state);
        encode(state, image)
    }

    fn delta_image(state: &mut State, base_zxid: i64) -> Vec<u8> {
        let image = freeze_delta(state, base_zxid).unwrap();
        encode(state, image)
    }

    #[test]
    fn deltas_bring_a_full_image_up_to_date() {
        let mut state = tracked_state(50);
        let full = full_image(&mut state);
        let base = state.last_zxid;
        let mut zxid = base;
        let mut next = || {
            zxid += 1;
            zxid
        };
        // Changes of every kind, a subtree created and another removed.
        state.apply(&txn(
            next(),
            Request::SetData(crate::proto::SetDataRequest {
                path: "/d/1".into(),
                data: None,
                version: -1,
            }),
        ));
        for i in 10..20 {
            state.apply(&txn(
                next(),
                Request::Delete(crate::proto::DeleteRequest {
                    path: format!("/d/{i}"),
                    version: -1,
                }),
            ));
        }
        state.apply(&txn(next(), create("/d/10", b"back")));
        state.apply(&txn(next(), create("/e", b"")));
        state.apply(&txn(next(), create("/e/f", b"")));
        state.apply(&txn(next(), create("/e/f/g", b"deep")));
        state.apply(&txn(next(), create("/tmp", b"")));
        state.apply(&txn(
            next(),
            Request::Delete(crate::proto::DeleteRequest {
                path: "/tmp".into(),
                version: -1,
            }),
        ));
        let first = delta_image(&mut state, base);
        let first_zxid = state.last_zxid;
        for i in 30..40 {
            state.apply(&txn(
                next(),
                Request::Delete(crate::proto::DeleteRequest {
                    path: format!("/d/{i}"),
                    version: -1,
                }),
            ));
        }
        state.apply(&txn(
            next(),
            Request::Delete(crate::proto::DeleteRequest {
                path: "/e/f/g".into(),
                version: -1,
            }),
        ));
        state.apply(&txn(
            next(),
            Request::Delete(crate::proto::DeleteRequest {
                path: "/e/f".into(),
                version: -1,
            }),
        ));
        let second = delta_image(&mut state, first_zxid);
        assert!(
            second.len() < full.len() / 4,
            "a delta holds only what changed"
        );

        let mut restored = State::default();
        read(&mut restored, &full).unwrap();
        assert_eq!(delta_base(&first).unwrap(), Some(base));
        apply_delta(&mut restored, &first).unwrap();
        assert!(apply_delta(&mut restored, &first).is_err(), "applied twice");
        apply_delta(&mut restored, &second).unwrap();
        assert_eq!(restored.last_zxid, state.last_zxid);
        assert_eq!(contents(&restored), contents(&state));
        assert_eq!(restored.tree.acls.len(), state.tree.acls.len());
        assert!(
            read(&mut State::default(), &second).is_err(),
            "a delta is not a full image"
        );
    }

    #[test]
    fn a_delta_written_during_writes_holds_the_changes_up_to_its_freeze() {
        let mut state = tracked_state(2000);
        let full = full_image(&mut state);
        let base = state.last_zxid;
        for i in 0..500 {
            let zxid = state.last_zxid + 1;
            state.apply(&txn(
                zxid,
                Request::SetData(crate::proto::SetDataRequest {
                    path: format!("/d/{}", i * 3),
                    data: Some(vec![1; 7]),
                    version: -1,
                }),
            ));
        }
        let expected = contents(&state);
        let lock = std::sync::Arc::new(RwLock::new(state));
        let image = freeze_delta(&mut lock.write(), base).unwrap();
        let writes = {
            let lock = lock.clone();
            std::thread::spawn(move || {
                for i in 0..2000 {
                    let mut state = lock.write();
                    let zxid = state.last_zxid + 1;
                    let request = if i % 2 == 0 {
                        Request::Delete(crate::proto::DeleteRequest {
                            path: format!("/d/{i}"),
                            version: -1,
                        })
                    } else {
                        Request::SetData(crate::proto::SetDataRequest {
                            path: format!("/d/{i}"),
                            data: Some(vec![2; 3]),
                            version: -1,
                        })
                    };
                    state.apply(&txn(zxid, request));
                }
            })
        };
        let mut bytes = Vec::new();
        image.write_to(&lock, &mut bytes).unwrap();
        writes.join().unwrap();
        let mut restored = State::default();
        read(&mut restored, &full).unwrap();
        apply_delta(&mut restored, &bytes).unwrap();
        assert_eq!(contents(&restored), expected);
    }
}
