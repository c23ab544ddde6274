//! Every operation, through the core's ordered calls ([`Client::call_ordered`]): replies and
//! watch events are handed over by the connection task in the order the server sent them,
//! so callbacks run in that order (Apache's guarantee). A synchronous call waits for its
//! reply on the caller's thread; an asynchronous one queues the reply for the event thread.
//!
//! The operation numbers are an ABI with `io.zk.Native`.
//!
//! [`Client::call_ordered`]: zk_core::client::Client::call_ordered

use std::time::Duration;

use jni::objects::{JByteArray, JClass, JIntArray, JLongArray, JObject, JObjectArray, JString};
use jni::sys::{jboolean, jint, jlong, jobject};
use jni::{Env, EnvUnowned};
use tokio::sync::oneshot;
use zk_core::client::{
    Call, Error, Op, OpResult, ReadOp, ReadResult, Reply, ReplyCallback, WatchCallback,
};
use zk_core::proto::{path, Acl, AddWatchMode, CreateMode, EventType};

use crate::errors::{code_of, Fail, ThrowFail};
use crate::handle::{handle, Handle};
use crate::jvm::{self, UP_COMPLETE, UP_WATCH};

const CREATE: i32 = 1;
const DELETE: i32 = 2;
const EXISTS: i32 = 3;
const GET_DATA: i32 = 4;
const SET_DATA: i32 = 5;
const GET_ACL: i32 = 6;
const SET_ACL: i32 = 7;
const GET_CHILDREN: i32 = 8;
const SYNC: i32 = 9;
const GET_EPHEMERALS: i32 = 10;
const GET_ALL_CHILDREN_NUMBER: i32 = 11;
const ADD_WATCH: i32 = 12;
const WHO_AM_I: i32 = 13;
/// `ZooDefs.OpCode.check`, the multi op kind for a version check.
const CHECK: i32 = 13;

/// Apache's `ZooDefs.OpCode` numbers, which Java's multi results are typed by.
mod opcode {
    pub const CREATE: i32 = 1;
    pub const DELETE: i32 = 2;
    pub const GET_DATA: i32 = 4;
    pub const SET_DATA: i32 = 5;
    pub const GET_CHILDREN: i32 = 8;
    pub const CHECK: i32 = 13;
    pub const ERROR: i32 = -1;
}

/// The arguments of one operation, as Java passes them.
struct Args {
    kind: i32,
    path: String,
    data: Option<Vec<u8>>,
    version: i32,
    mode: i32,
    ttl: i64,
    acl: Vec<Acl>,
}

pub(crate) fn acl_list(
    perms: Vec<i32>,
    schemes: Vec<Option<String>>,
    ids: Vec<Option<String>>,
) -> Result<Vec<Acl>, Fail> {
    if perms.len() != schemes.len() || perms.len() != ids.len() {
        return Err(Fail::Argument("malformed ACL".into()));
    }
    perms
        .into_iter()
        .zip(schemes)
        .zip(ids)
        .map(|((perms, scheme), id)| match (scheme, id) {
            (Some(scheme), Some(id)) => Ok(Acl::new(perms, &scheme, &id)),
            _ => Err(Fail::Argument(
                "an ACL entry needs an Id with a scheme and an id".into(),
            )),
        })
        .collect()
}

fn create_mode(mode: i32) -> Result<CreateMode, Fail> {
    CreateMode::from_i32(mode).ok_or_else(|| Fail::Argument(format!("unknown create mode {mode}")))
}

fn ttl_of(ttl: i64) -> Option<Duration> {
    (ttl >= 0).then(|| Duration::from_millis(ttl as u64))
}

/// Refuses a bad path before anything is sent, as Apache's client does (so an asynchronous
/// call throws at once instead of reporting it later).
fn check_path(path: &str, sequential: bool) -> Result<(), Fail> {
    path::validate(path, sequential)
        .map_err(|e| Fail::Argument(format!("Invalid path string \"{path}\": {e}")))
}

impl Args {
    fn into_call(self) -> Result<Call, Fail> {
        let Args {
            kind,
            path,
            data,
            version,
            mode,
            ttl,
            acl,
        } = self;
        if kind != WHO_AM_I {
            let sequential = kind == CREATE && create_mode(mode)?.is_sequential();
            check_path(&path, sequential)?;
        }
        Ok(match kind {
            CREATE => Call::Create {
                path,
                data,
                acl,
                mode: create_mode(mode)?,
                ttl: ttl_of(ttl),
            },
            DELETE => Call::Delete { path, version },
            EXISTS => Call::Exists(path),
            GET_DATA => Call::GetData(path),
            SET_DATA => Call::SetData {
                path,
                data: data.unwrap_or_default(),
                version,
            },
            GET_ACL => Call::GetAcl(path),
            SET_ACL => Call::SetAcl { path, acl, version },
            GET_CHILDREN => Call::GetChildren(path),
            SYNC => Call::Sync(path),
            GET_EPHEMERALS => Call::GetEphemerals(path),
            GET_ALL_CHILDREN_NUMBER => Call::GetAllChildrenNumber(path),
            ADD_WATCH => Call::AddWatch {
                path,
                mode: AddWatchMode::from_i32(mode)
                    .ok_or_else(|| Fail::Argument(format!("unknown watch mode {mode}")))?,
            },
            WHO_AM_I => Call::WhoAmI,
            other => return Err(Fail::Argument(format!("unknown operation {other}"))),
        })
    }
}

/// The callback of a watch set with Java's `token`: queues its events for the event thread.
/// State changes reach Java through the state callback, so session events are not repeated.
fn watch_callback(handle: &Handle, token: i64, persistent: bool) -> WatchCallback {
    let dispatcher = handle.dispatcher.clone();
    let watches = handle.watches.clone();
    let h = handle.id;
    Box::new(move |event, notification| {
        if !persistent {
            watches.lock().remove(&token);
        }
        if event.event_type == EventType::None {
            return;
        }
        dispatcher.dispatch(move || {
            jvm::with_env(|env, classes| {
                let path = jvm::new_string(env, &event.path)?;
                jvm::call_void(
                    env,
                    &classes.upcalls,
                    UP_WATCH,
                    &[
                        jvm::long(h),
                        jvm::long(token),
                        jvm::long(notification as i64),
                        jvm::int(event.event_type.as_i32()),
                        jvm::int(event.state.as_i32()),
                        jvm::object(&path),
                    ],
                );
                Ok(())
            })
        });
    })
}

/// Sends `call`; `done` gets the reply (on the connection task). The watch registration, if
/// any, is recorded under `token` before `done` runs and before the watch can fire.
fn send(
    handle: &Handle,
    call: Call,
    token: i64,
    persistent: bool,
    done: impl FnOnce(Result<Reply, Error>, bool) + Send + 'static,
) {
    let watch = (token != 0).then(|| watch_callback(handle, token, persistent));
    let watches = handle.watches.clone();
    let reply: ReplyCallback = Box::new(move |reply, registration| {
        let watched = registration.is_some();
        if let Some(registration) = registration {
            watches.lock().insert(token, registration);
        }
        done(reply, watched);
    });
    handle.client.call_ordered(call, watch, reply);
}

/// A reply as Java's `Upcalls.complete`/`Native.call` hand it over: the value and the Stat.
fn reply_value<'l>(
    env: &mut Env<'l>,
    reply: Reply,
) -> jni::errors::Result<(JObject<'l>, Option<[i64; 11]>)> {
    Ok(match reply {
        Reply::Created(path, stat) => (
            jvm::new_string(env, &path)?.into(),
            Some(jvm::stat_fields(&stat)),
        ),
        Reply::Done => (JObject::null(), None),
        // A non-null value tells an existing node from a missing one.
        Reply::Exists(Some(stat)) => {
            let fields = jvm::stat_fields(&stat);
            (jvm::new_longs(env, &fields)?.into(), Some(fields))
        }
        Reply::Exists(None) => (JObject::null(), None),
        Reply::Data(data, stat) => {
            let data = match data {
                Some(data) => jvm::new_bytes(env, &data)?.into(),
                None => JObject::null(),
            };
            (data, Some(jvm::stat_fields(&stat)))
        }
        Reply::Stat(stat) => (JObject::null(), Some(jvm::stat_fields(&stat))),
        Reply::Acl(acl, stat) => (acl_value(env, &acl)?, Some(jvm::stat_fields(&stat))),
        Reply::Children(children, stat) => (
            jvm::new_strings(env, &children)?.into(),
            Some(jvm::stat_fields(&stat)),
        ),
        Reply::Multi(results) => {
            let results = results.into_iter().map(|r| Ok(Outcome::Write(r))).collect();
            (multi_value(env, results)?, None)
        }
        Reply::MultiRead(results) => {
            let results = results
                .into_iter()
                .map(|r| r.map(Outcome::Read).map_err(|e| code_of(&e)))
                .collect();
            (multi_value(env, results)?, None)
        }
        Reply::Paths(paths) => (jvm::new_strings(env, &paths)?.into(), None),
        Reply::Count(n) => (jvm::new_ints(env, &[n])?.into(), None),
        Reply::WhoAmI(infos) => {
            let pairs: Vec<&str> = infos
                .iter()
                .flat_map(|info| [info.auth_scheme.as_str(), info.user.as_str()])
                .collect();
            (jvm::new_strings(env, &pairs)?.into(), None)
        }
    })
}

fn acl_value<'l>(env: &mut Env<'l>, acl: &[Acl]) -> jni::errors::Result<JObject<'l>> {
    let perms: Vec<i32> = acl.iter().map(|a| a.perms).collect();
    let schemes: Vec<&str> = acl.iter().map(|a| a.id.scheme.as_str()).collect();
    let ids: Vec<&str> = acl.iter().map(|a| a.id.id.as_str()).collect();
    let parts = vec![
        JObject::from(jvm::new_ints(env, &perms)?),
        JObject::from(jvm::new_strings(env, &schemes)?),
        JObject::from(jvm::new_strings(env, &ids)?),
    ];
    Ok(jvm::new_objects(env, parts)?.into())
}

/// One result of a multi or multi-read.
enum Outcome {
    Write(OpResult),
    Read(ReadResult),
}

/// Multi results as `ClientEvents.multiResults` reads them: `Object[]{int[] types,
/// int[] errs, String[] paths, long[] stats, Object[] datas, Object[] children}`.
fn multi_value<'l>(
    env: &mut Env<'l>,
    results: Vec<Result<Outcome, i32>>,
) -> jni::errors::Result<JObject<'l>> {
    let n = results.len();
    let mut types = Vec::with_capacity(n);
    let mut errs = Vec::with_capacity(n);
    let mut paths = Vec::with_capacity(n);
    let mut stats = Vec::with_capacity(n * 11);
    let mut datas = Vec::with_capacity(n);
    let mut children = Vec::with_capacity(n);
    for result in results {
        let mut stat = [0i64; 11];
        let mut path = String::new();
        let mut data = JObject::null();
        let mut kids = JObject::null();
        let (kind, err) = match result {
            Ok(Outcome::Write(OpResult::Create {
                path: created,
                stat: s,
            })) => {
                path = created;
                if let Some(s) = s {
                    stat = jvm::stat_fields(&s);
                }
                (opcode::CREATE, 0)
            }
            Ok(Outcome::Write(OpResult::Delete)) => (opcode::DELETE, 0),
            Ok(Outcome::Write(OpResult::SetData(s))) => {
                stat = jvm::stat_fields(&s);
                (opcode::SET_DATA, 0)
            }
            Ok(Outcome::Write(OpResult::Check)) => (opcode::CHECK, 0),
            Ok(Outcome::Read(ReadResult::Data {
                data: bytes,
                stat: s,
            })) => {
                stat = jvm::stat_fields(&s);
                data = jvm::new_bytes(env, &bytes)?.into();
                (opcode::GET_DATA, 0)
            }
            Ok(Outcome::Read(ReadResult::Children(names))) => {
                kids = jvm::new_strings(env, &names)?.into();
                (opcode::GET_CHILDREN, 0)
            }
            Err(code) => (opcode::ERROR, code),
        };
        types.push(kind);
        errs.push(err);
        paths.push(path);
        stats.extend_from_slice(&stat);
        datas.push(data);
        children.push(kids);
    }
    let parts = vec![
        JObject::from(jvm::new_ints(env, &types)?),
        JObject::from(jvm::new_ints(env, &errs)?),
        JObject::from(jvm::new_strings(env, &paths)?),
        JObject::from(jvm::new_longs(env, &stats)?),
        JObject::from(jvm::new_objects(env, datas)?),
        JObject::from(jvm::new_objects(env, children)?),
    ];
    Ok(jvm::new_objects(env, parts)?.into())
}

/// The failed op's index of a multi error (what Java's `multiFailure` reads).
fn error_value<'l>(env: &mut Env<'l>, error: &Error) -> jni::errors::Result<JObject<'l>> {
    match error {
        Error::Multi { index, .. } => Ok(jvm::new_ints(env, &[*index as i32])?.into()),
        _ => Ok(JObject::null()),
    }
}

/// Queues `Upcalls.complete(h, op, ...)` for the event thread.
fn complete_later(
    handle: &Handle,
    op: i64,
) -> impl FnOnce(Result<Reply, Error>, bool) + Send + 'static {
    let dispatcher = handle.dispatcher.clone();
    let h = handle.id;
    move |reply, watched| {
        dispatcher.dispatch(move || {
            jvm::with_env(|env, classes| {
                let (code, value, stat) = match reply {
                    Ok(reply) => {
                        let (value, stat) = reply_value(env, reply)?;
                        (0, value, stat)
                    }
                    Err(error) => (code_of(&error), error_value(env, &error)?, None),
                };
                let stat = match stat {
                    Some(fields) => JObject::from(jvm::new_longs(env, &fields)?),
                    None => JObject::null(),
                };
                jvm::call_void(
                    env,
                    &classes.upcalls,
                    UP_COMPLETE,
                    &[
                        jvm::long(h),
                        jvm::long(op),
                        jvm::int(code),
                        jvm::object(&value),
                        jvm::object(&stat),
                        jvm::boolean(watched),
                    ],
                );
                Ok(())
            })
        });
    }
}

/// Waits on the caller's thread for a call's reply.
fn wait(handle: &Handle, call: Call, token: i64, persistent: bool) -> Result<Reply, Error> {
    let (tx, rx) = oneshot::channel();
    // Sent inside the wait, so that the wait knows whether this thread wrote it.
    zk_core::client::block_on(&zk_core::client::runtime::handle(), async move {
        send(handle, call, token, persistent, move |reply, _| {
            let _ = tx.send(reply);
        });
        rx.await.unwrap_or(Err(Error::Closed))
    })
}

#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub extern "system" fn Java_io_zk_Native_call<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    h: jlong,
    kind: jint,
    op: jlong,
    token: jlong,
    path: JString<'l>,
    data: JByteArray<'l>,
    version: jint,
    mode: jint,
    ttl: jlong,
    acl_perms: JIntArray<'l>,
    acl_schemes: JObjectArray<'l, JString<'l>>,
    acl_ids: JObjectArray<'l, JString<'l>>,
    stat_out: JLongArray<'l>,
) -> jobject {
    env.with_env(|env| -> Result<jobject, Fail> {
        let path = jvm::string(env, &path)?.unwrap_or_default();
        let acl = acl_list(
            jvm::ints(env, &acl_perms)?,
            jvm::strings(env, &acl_schemes)?,
            jvm::strings(env, &acl_ids)?,
        )?;
        let args = Args {
            kind,
            path: path.clone(),
            data: jvm::bytes(env, &data)?,
            version,
            mode,
            ttl,
            acl,
        };
        let call = args.into_call()?;
        let handle = handle(h)?;
        let persistent = kind == ADD_WATCH;
        if op != 0 {
            send(
                &handle,
                call,
                token,
                persistent,
                complete_later(&handle, op),
            );
            return Ok(std::ptr::null_mut());
        }
        match wait(&handle, call, token, persistent) {
            Ok(reply) => {
                let (value, stat) = reply_value(env, reply)?;
                if let (Some(fields), false) = (stat, stat_out.is_null()) {
                    stat_out.set_region(env, 0, &fields)?;
                }
                Ok(value.into_raw())
            }
            Err(error) => Err(Fail::core(error, Some(&path))),
        }
    })
    .resolve::<ThrowFail>()
}

/// The ops of a multi, from Java's parallel arrays.
#[allow(clippy::too_many_arguments)]
fn multi_ops(
    kinds: &[i32],
    paths: Vec<Option<String>>,
    datas: Vec<Option<Vec<u8>>>,
    versions: &[i32],
    modes: &[i32],
    ttls: &[i64],
    acl_counts: &[i32],
    mut acl: Vec<Acl>,
) -> Result<Vec<Op>, Fail> {
    let n = kinds.len();
    if [
        paths.len(),
        datas.len(),
        versions.len(),
        modes.len(),
        ttls.len(),
        acl_counts.len(),
    ]
    .iter()
    .any(|len| *len != n)
    {
        return Err(Fail::Argument("malformed multi".into()));
    }
    let mut ops = Vec::with_capacity(n);
    let mut acl_rest = acl.drain(..);
    for (i, (path, data)) in paths.into_iter().zip(datas).enumerate() {
        let path = path.ok_or_else(|| Fail::Argument("a multi op needs a path".into()))?;
        let data = data.unwrap_or_default();
        if kinds[i] != CREATE {
            check_path(&path, false)?;
        }
        let op = match kinds[i] {
            CREATE => {
                let mode = create_mode(modes[i])?;
                check_path(&path, mode.is_sequential())?;
                let entries: Vec<Acl> = acl_rest
                    .by_ref()
                    .take(acl_counts[i].max(0) as usize)
                    .collect();
                match ttl_of(ttls[i]) {
                    Some(ttl) => {
                        Op::create_ttl(&path, &data, &entries, mode, ttl.as_millis() as i64)
                    }
                    None => Op::create(&path, &data, &entries, mode),
                }
            }
            DELETE => Op::delete(&path, versions[i]),
            SET_DATA => Op::set_data(&path, &data, versions[i]),
            CHECK => Op::check(&path, versions[i]),
            other => return Err(Fail::Argument(format!("unknown multi op {other}"))),
        };
        ops.push(op);
    }
    Ok(ops)
}

fn read_ops(kinds: &[i32], paths: Vec<Option<String>>) -> Result<Vec<ReadOp>, Fail> {
    kinds
        .iter()
        .zip(paths)
        .map(|(kind, path)| {
            let path = path.ok_or_else(|| Fail::Argument("a multi op needs a path".into()))?;
            check_path(&path, false)?;
            match *kind {
                GET_DATA => Ok(ReadOp::GetData(path)),
                GET_CHILDREN => Ok(ReadOp::GetChildren(path)),
                other => Err(Fail::Argument(format!("unknown read op {other}"))),
            }
        })
        .collect()
}

#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub extern "system" fn Java_io_zk_Native_multi<'l>(
    mut env: EnvUnowned<'l>,
    _class: JClass<'l>,
    h: jlong,
    op: jlong,
    read: jboolean,
    kinds: JIntArray<'l>,
    paths: JObjectArray<'l, JString<'l>>,
    datas: JObjectArray<'l, JObject<'l>>,
    versions: JIntArray<'l>,
    modes: JIntArray<'l>,
    ttls: JLongArray<'l>,
    acl_counts: JIntArray<'l>,
    acl_perms: JIntArray<'l>,
    acl_schemes: JObjectArray<'l, JString<'l>>,
    acl_ids: JObjectArray<'l, JString<'l>>,
) -> jobject {
    env.with_env(|env| -> Result<jobject, Fail> {
        let kinds = jvm::ints(env, &kinds)?;
        let paths = jvm::strings(env, &paths)?;
        let count = kinds.len();
        let call = if read {
            Call::MultiRead(read_ops(&kinds, paths)?)
        } else {
            let acl = acl_list(
                jvm::ints(env, &acl_perms)?,
                jvm::strings(env, &acl_schemes)?,
                jvm::strings(env, &acl_ids)?,
            )?;
            Call::Multi(multi_ops(
                &kinds,
                paths,
                jvm::byte_arrays(env, &datas)?,
                &jvm::ints(env, &versions)?,
                &jvm::ints(env, &modes)?,
                &jvm::longs(env, &ttls)?,
                &jvm::ints(env, &acl_counts)?,
                acl,
            )?)
        };
        let handle = handle(h)?;
        if op != 0 {
            send(&handle, call, 0, false, complete_later(&handle, op));
            return Ok(std::ptr::null_mut());
        }
        match wait(&handle, call, 0, false) {
            Ok(reply) => Ok(reply_value(env, reply)?.0.into_raw()),
            Err(Error::Multi { index, code, .. }) => Err(Fail::Multi {
                code: code.as_i32(),
                index,
                count,
            }),
            Err(error) => Err(Fail::core(error, None)),
        }
    })
    .resolve::<ThrowFail>()
}
