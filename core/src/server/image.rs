//! The state image written into snapshot files: every session and every znode, so a
//! restart rebuilds the exact [`State`] the log had reached.
//!
//! # Encoding (jute primitives, big-endian)
//!
//! ```text
//! int version (1) | long last_zxid
//! int session_count, then per session: long id | int timeout | buffer passwd
//! int acl_count,     then per ACL list: int ref | vector<ACL>
//! long node_count,   then per node, parents before children:
//!     ustring path | buffer data | int acl_ref | long czxid | long mzxid | long ctime | long mtime
//!     | int version | int cversion | int aversion | long ephemeral_owner | long pzxid
//! ```

use std::collections::{BTreeSet, HashMap};
use std::io::{self, Write};

use bytes::BufMut;

use crate::proto::codec::JuteWrite;
use crate::proto::{Acl, Decode, DecodeError, Reader};

use super::state::{SessionEntry, State};
use super::tree::{Node, NodeKind};

const IMAGE_VERSION: i32 = 1;

/// Streams `state` into `out` in bounded chunks, so a large tree never sits in memory twice.
pub fn write(state: &State, out: &mut dyn Write) -> io::Result<()> {
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 16);
    buf.put_i32(IMAGE_VERSION);
    buf.put_i64(state.last_zxid);
    buf.put_i32(i32::try_from(state.sessions.len()).unwrap_or(i32::MAX));
    for (id, s) in &state.sessions {
        buf.put_i64(*id);
        buf.put_i32(s.timeout);
        buf.put_buffer(Some(&s.passwd));
    }
    let mut refs = BTreeSet::new();
    state.tree.walk(|_, node| {
        refs.insert(node.acl);
    });
    buf.put_i32(i32::try_from(refs.len()).unwrap_or(i32::MAX));
    for r in &refs {
        buf.put_i32(*r as i32);
        buf.put_records(&state.tree.acls.get(*r));
    }
    buf.put_i64(state.tree.node_count() as i64);
    let mut result = Ok(());
    state.tree.walk(|path, node| {
        if result.is_err() {
            return;
        }
        buf.put_string(path);
        buf.put_buffer(node.data.as_deref());
        buf.put_i32(node.acl as i32);
        buf.put_i64(node.czxid);
        buf.put_i64(node.mzxid);
        buf.put_i64(node.ctime);
        buf.put_i64(node.mtime);
        buf.put_i32(node.version);
        buf.put_i32(node.cversion);
        buf.put_i32(node.aversion);
        buf.put_i64(node.ephemeral_owner);
        buf.put_i64(node.pzxid);
        if buf.len() >= 1 << 16 {
            result = out.write_all(&buf);
            buf.clear();
        }
    });
    result?;
    out.write_all(&buf)
}

/// Rebuilds a state from an image.
pub fn read(state: &mut State, bytes: &[u8]) -> Result<(), DecodeError> {
    let r = &mut Reader::new(bytes);
    if r.read_i32()? != IMAGE_VERSION {
        return Err(DecodeError::Invalid("unsupported snapshot image version"));
    }
    state.last_zxid = r.read_i64()?;
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
    state.tree.clear();
    let nodes = r.read_i64()?;
    for _ in 0..nodes.max(0) {
        let path = r.read_string()?;
        let data = r.read_buffer()?.map(Vec::into_boxed_slice);
        let acl_ref = r.read_i32()?;
        let acl = acl_lists
            .get(&acl_ref)
            .ok_or(DecodeError::Invalid("snapshot node names an unknown ACL"))?;
        let node = Node {
            data,
            acl: state.tree.acls.intern(acl),
            czxid: r.read_i64()?,
            mzxid: r.read_i64()?,
            ctime: r.read_i64()?,
            mtime: r.read_i64()?,
            version: r.read_i32()?,
            cversion: r.read_i32()?,
            aversion: r.read_i32()?,
            ephemeral_owner: r.read_i64()?,
            pzxid: r.read_i64()?,
            children: BTreeSet::new(),
        };
        if path != "/" && !state.tree.contains(crate::proto::path::parent(&path)) {
            return Err(DecodeError::Invalid(
                "snapshot node arrives before its parent",
            ));
        }
        if let NodeKind::Ephemeral(session) = node.kind() {
            if let Some(s) = state.sessions.get_mut(&session) {
                s.ephemerals.insert(path.clone());
            }
        }
        state.tree.restore(&path, node);
    }
    r.finish()
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
        let mut bytes = Vec::new();
        write(&state, &mut bytes).unwrap();
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
}
