//! `setquota`, `listquota` and `delquota`: zkCli keeps quotas as plain znodes,
//! `/zookeeper/quota<path>/zookeeper_limits` (the limits, written here) and
//! `.../zookeeper_stats` (the usage, kept up to date by the server), in `StatsTrack` text.

use zk_core::client::Error;
use zk_core::proto::{Acl, CreateMode, ErrorCode};

use super::commands::{check_path, CliError, CliResult, Env, Parsed, Spec};
use super::format::{errln, outln, StatsTrack, BYTES, BYTES_HARD, COUNT, COUNT_HARD};

const QUOTA_ROOT: &str = "/zookeeper/quota";
const PROC_ROOT: &str = "/zookeeper";
const LIMIT_NODE: &str = "zookeeper_limits";
const STAT_NODE: &str = "zookeeper_stats";

fn limit_path(path: &str) -> String {
    format!("{QUOTA_ROOT}{path}/{LIMIT_NODE}")
}

fn stat_path(path: &str) -> String {
    format!("{QUOTA_ROOT}{path}/{STAT_NODE}")
}

/// `String.split("/")` in Java: trailing empty strings dropped.
fn java_split(path: &str) -> Vec<&str> {
    let mut parts: Vec<&str> = path.split('/').collect();
    while parts.last() == Some(&"") {
        parts.pop();
    }
    parts
}

fn exists(env: &Env<'_>, path: &str) -> CliResult<bool> {
    env.block(env.client.exists(path))
        .map(|stat| stat.is_some())
        .map_err(|e| env.wrap(&e, path))
}

fn read(env: &Env<'_>, path: &str) -> Result<StatsTrack, Error> {
    let (data, _) = env.block(env.client.get_data(path))?;
    Ok(StatsTrack::parse(&String::from_utf8_lossy(&data)))
}

/// Creates a node, ignoring that it may exist already.
fn ensure(env: &Env<'_>, path: &str) -> CliResult {
    match env.block(
        env.client
            .create(path, b"", &Acl::open_unsafe(), CreateMode::Persistent),
    ) {
        Ok(_) | Err(Error::Server(ErrorCode::NodeExists)) => Ok(()),
        Err(e) => Err(env.wrap(&e, path)),
    }
}

pub fn set_quota(env: &Env<'_>, spec: &Spec, parsed: &Parsed) -> CliResult {
    let path = parsed.arg(1).ok_or_else(|| CliError::new(spec.usage()))?;
    if path.starts_with(QUOTA_ROOT) {
        errln(&format!("cannot set a quota under the path: {QUOTA_ROOT}"));
        return Ok(());
    }
    let mut quota = StatsTrack::default();
    for key in [COUNT, BYTES, COUNT_HARD, BYTES_HARD] {
        quota.set(key, -1);
    }
    for (flag, key, minimum, message) in [
        ("n", COUNT, 1, "the num quota must be greater than zero"),
        (
            "b",
            BYTES,
            0,
            "the bytes quota must be greater than or equal to zero",
        ),
        (
            "N",
            COUNT_HARD,
            1,
            "the num quota must be greater than zero",
        ),
        (
            "B",
            BYTES_HARD,
            0,
            "the bytes quota must be greater than or equal to zero",
        ),
    ] {
        let Some(text) = parsed.value(flag) else {
            continue;
        };
        // Counts are Java ints, byte sizes longs.
        let value = if key == COUNT || key == COUNT_HARD {
            text.trim().parse::<i32>().map(i64::from).ok()
        } else {
            text.trim().parse::<i64>().ok()
        };
        let Some(value) = value else {
            errln("NumberFormatException happens when parsing the option value");
            return Ok(());
        };
        if value < minimum {
            errln(message);
            return Ok(());
        }
        quota.set(key, value);
    }
    create_quota(env, path, &quota)
}

fn create_quota(env: &Env<'_>, path: &str, quota: &StatsTrack) -> CliResult {
    check_path(path, false)?;
    if !exists(env, path)? {
        return Err(CliError::new(format!("{path} does not exist.")));
    }
    check_no_child_quota(env, path)?;
    check_no_parent_quota(env, path)?;
    if !exists(env, QUOTA_ROOT)? {
        ensure(env, PROC_ROOT)?;
        ensure(env, QUOTA_ROOT)?;
    }
    let mut quota_path = QUOTA_ROOT.to_owned();
    for part in java_split(path).iter().skip(1) {
        quota_path.push('/');
        quota_path.push_str(part);
        if !exists(env, &quota_path)? {
            ensure(env, &quota_path)?;
        }
    }
    let stats_path = format!("{quota_path}/{STAT_NODE}");
    let limits_path = format!("{quota_path}/{LIMIT_NODE}");
    let create = |node: &str, text: &str| {
        env.block(env.client.create(
            node,
            text.as_bytes(),
            &Acl::open_unsafe(),
            CreateMode::Persistent,
        ))
        .map(|_| ())
        .map_err(|e| env.wrap(&e, node))
    };
    if !exists(env, &limits_path)? {
        create(&limits_path, &quota.to_string())?;
        let mut stats = StatsTrack::default();
        stats.set(COUNT, 0);
        stats.set(BYTES, 0);
        create(&stats_path, &stats.to_string())?;
        let limits = read(env, &limits_path).map_err(|e| env.wrap(&e, &limits_path))?;
        let stats = read(env, &stats_path).map_err(|e| env.wrap(&e, &stats_path))?;
        warn_if_exceeded(&limits, &stats);
    } else {
        let mut limits = read(env, &limits_path).map_err(|e| env.wrap(&e, &limits_path))?;
        for key in [COUNT, BYTES, COUNT_HARD, BYTES_HARD] {
            if quota.get(key) > -1 {
                limits.set(key, quota.get(key));
            }
        }
        let stats = read(env, &stats_path).map_err(|e| env.wrap(&e, &stats_path))?;
        warn_if_exceeded(&limits, &stats);
        env.block(
            env.client
                .set_data(&limits_path, limits.to_string().as_bytes(), -1),
        )
        .map_err(|e| env.wrap(&e, &limits_path))?;
    }
    Ok(())
}

fn warn_if_exceeded(limits: &StatsTrack, stats: &StatsTrack) {
    let below = |limit: i64, used: i64| limit > -1 && limit < used;
    if below(limits.get(COUNT), stats.get(COUNT)) || below(limits.get(COUNT_HARD), stats.get(COUNT))
    {
        outln(&format!(
            "[Warning]: the count quota you create is less than the existing count:{}",
            stats.get(COUNT)
        ));
    }
    if below(limits.get(BYTES), stats.get(BYTES)) || below(limits.get(BYTES_HARD), stats.get(BYTES))
    {
        outln(&format!(
            "[Warning]: the bytes quota you create is less than the existing bytes:{}",
            stats.get(BYTES)
        ));
    }
}

/// A quota below `path` forbids one on `path` (Apache walks the quota subtree).
fn check_no_child_quota(env: &Env<'_>, path: &str) -> CliResult {
    let own = format!("{QUOTA_ROOT}{path}");
    check_path(&own, false)?;
    match env.block(env.client.get_data(&own)) {
        Ok(_) => {}
        Err(Error::Server(ErrorCode::NoNode)) => return Ok(()),
        Err(e) => return Err(env.wrap(&e, &own)),
    }
    visit_quota_subtree(env, path, &own)
}

/// `visitSubTreeDFS`'s order: a node's sorted children are checked before descending.
fn visit_quota_subtree(env: &Env<'_>, path: &str, node: &str) -> CliResult {
    let Ok(mut children) = env.block(env.client.get_children(node)) else {
        return Ok(());
    };
    children.sort();
    for child in &children {
        let child_path = format!("{node}/{child}");
        let has_limit = env
            .block(env.client.get_children(&child_path))
            .is_ok_and(|grandchildren| grandchildren.iter().any(|c| c == LIMIT_NODE));
        if has_limit {
            return Err(CliError::new(format!(
                "{path} has a child {} which has a quota",
                &child_path[QUOTA_ROOT.len()..]
            )));
        }
    }
    for child in &children {
        visit_quota_subtree(env, path, &format!("{node}/{child}"))?;
    }
    Ok(())
}

/// A quota above `path` forbids one on `path`.
fn check_no_parent_quota(env: &Env<'_>, path: &str) -> CliResult {
    let parts = java_split(path);
    let mut quota_path = QUOTA_ROOT.to_owned();
    for part in parts.iter().take(parts.len().saturating_sub(1)).skip(1) {
        quota_path.push('/');
        quota_path.push_str(part);
        let children = match env.block(env.client.get_children(&quota_path)) {
            Ok(children) => children,
            Err(Error::Server(ErrorCode::NoNode)) => return Ok(()),
            Err(e) => return Err(env.wrap(&e, &quota_path)),
        };
        if children.is_empty() {
            return Ok(());
        }
        if children.iter().any(|c| c == LIMIT_NODE) {
            return Err(CliError::new(format!(
                "{path} has a parent {} which has a quota",
                &quota_path[QUOTA_ROOT.len()..]
            )));
        }
    }
    Ok(())
}

pub fn list_quota(env: &Env<'_>, spec: &Spec, parsed: &Parsed) -> CliResult {
    let path = parsed.arg(1).ok_or_else(|| CliError::new(spec.usage()))?;
    let limits_path = limit_path(path);
    errln(&format!("absolute path is {limits_path}"));
    let stats_path = stat_path(path);
    let read_both = || -> Result<(StatsTrack, StatsTrack), (Error, String)> {
        let limits = read(env, &limits_path).map_err(|e| (e, limits_path.clone()))?;
        let stats = read(env, &stats_path).map_err(|e| (e, stats_path.clone()))?;
        Ok((limits, stats))
    };
    match read_both() {
        Ok((limits, stats)) => {
            outln(&format!("Output quota for {path} {limits}"));
            outln(&format!("Output stat for {path} {stats}"));
            Ok(())
        }
        Err((Error::Server(ErrorCode::NoNode), _)) => {
            errln(&format!("quota for {path} does not exist."));
            Ok(())
        }
        Err((e, node)) => Err(env.wrap(&e, &node)),
    }
}

pub fn del_quota(env: &Env<'_>, spec: &Spec, parsed: &Parsed) -> CliResult {
    let path = parsed.arg(1).ok_or_else(|| CliError::new(spec.usage()))?;
    let flags: Vec<&str> = [
        ("n", COUNT),
        ("b", BYTES),
        ("N", COUNT_HARD),
        ("B", BYTES_HARD),
    ]
    .into_iter()
    .filter(|(flag, _)| parsed.has(flag))
    .map(|(_, key)| key)
    .collect();
    match del_quota_inner(env, path, &flags) {
        Err(Failure::NoNode) => {
            errln(&format!("quota for {path} does not exist."));
            Ok(())
        }
        Err(Failure::Cli(e)) => Err(e),
        Ok(()) => Ok(()),
    }
}

enum Failure {
    NoNode,
    Cli(CliError),
}

impl From<CliError> for Failure {
    fn from(e: CliError) -> Self {
        Failure::Cli(e)
    }
}

fn call<T>(env: &Env<'_>, result: Result<T, Error>, path: &str) -> Result<T, Failure> {
    match result {
        Ok(value) => Ok(value),
        Err(Error::Server(ErrorCode::NoNode)) => Err(Failure::NoNode),
        Err(e) => Err(Failure::Cli(env.wrap(&e, path))),
    }
}

fn del_quota_inner(env: &Env<'_>, path: &str, flags: &[&str]) -> Result<(), Failure> {
    let parent = format!("{QUOTA_ROOT}{path}");
    let limits_path = limit_path(path);
    if call(
        env,
        env.block(env.client.exists(&limits_path)),
        &limits_path,
    )?
    .is_none()
    {
        outln(&format!("Quota does not exist for {path}"));
        return Ok(());
    }
    let mut limits = call(env, read(env, &limits_path), &limits_path)?;
    if flags.is_empty() {
        let children = call(env, env.block(env.client.get_children(&parent)), &parent)?;
        for child in children {
            let node = format!("{parent}/{child}");
            call(env, env.block(env.client.delete(&node, -1)), &node)?;
        }
        trim_empty(env, &parent)?;
    } else {
        for key in flags {
            limits.set(key, -1);
        }
        call(
            env,
            env.block(
                env.client
                    .set_data(&limits_path, limits.to_string().as_bytes(), -1),
            ),
            &limits_path,
        )?;
    }
    Ok(())
}

/// Deletes empty quota directories upwards, stopping at `/zookeeper/quota`.
fn trim_empty(env: &Env<'_>, path: &str) -> Result<(), Failure> {
    let mut path = path.to_owned();
    while path != QUOTA_ROOT {
        let children = call(env, env.block(env.client.get_children(&path)), &path)?;
        if !children.is_empty() {
            break;
        }
        call(env, env.block(env.client.delete(&path, -1)), &path)?;
        match path.rfind('/') {
            Some(i) => path.truncate(i),
            None => break,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_split_drops_trailing_empties() {
        assert_eq!(java_split("/a/b"), vec!["", "a", "b"]);
        assert!(java_split("/").is_empty());
        assert_eq!(StatsTrack::default().to_string(), "count=-1,bytes=-1");
    }
}
