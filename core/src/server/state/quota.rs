//! Quotas (`Quotas.java`, `StatsTrack.java`): limits live in
//! `/zookeeper/quota<path>/zookeeper_limits`, usage in `.../zookeeper_stats`, both as
//! `count=<n>,bytes=<n>[=;byteHardLimit=<n>;countHardLimit=<n>]`. Soft limits are logged;
//! hard limits refuse the write with QUOTAEXCEEDED when `enforceQuota` is on.

use crate::proto::{path, ErrorCode};

use super::super::tree::{QUOTA_PATH, ZOOKEEPER_PATH};
use super::{State, Undo, UndoLog};

pub const LIMITS_NODE: &str = "zookeeper_limits";
pub const STATS_NODE: &str = "zookeeper_stats";

/// Parsed `StatsTrack` text; -1 means unset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatsTrack {
    pub count: i64,
    pub bytes: i64,
    pub count_hard: i64,
    pub bytes_hard: i64,
}

impl StatsTrack {
    pub fn parse(text: &str) -> Self {
        let mut track = StatsTrack {
            count: -1,
            bytes: -1,
            count_hard: -1,
            bytes_hard: -1,
        };
        for piece in text.split([',', ';']) {
            let Some((key, value)) = piece.split_once('=') else {
                continue;
            };
            let value = value.trim_end_matches('=').trim().parse().unwrap_or(-1);
            match key.trim() {
                "count" => track.count = value,
                "bytes" => track.bytes = value,
                "countHardLimit" => track.count_hard = value,
                "byteHardLimit" => track.bytes_hard = value,
                _ => {}
            }
        }
        track
    }

    /// Apache's `StatsTrack.toString`.
    pub fn render(&self) -> String {
        let mut out = format!("count={},bytes={}", self.count, self.bytes);
        if self.count_hard != -1 || self.bytes_hard != -1 {
            out.push('=');
            if self.bytes_hard != -1 {
                out.push_str(&format!(";byteHardLimit={}", self.bytes_hard));
            }
            if self.count_hard != -1 {
                out.push_str(&format!(";countHardLimit={}", self.count_hard));
            }
        }
        out
    }
}

/// The quota root governing `p`: the deepest ancestor-or-self with a limits node.
pub fn quota_root(state: &State, p: &str) -> Option<String> {
    if p.starts_with(ZOOKEEPER_PATH)
        && (p.len() == ZOOKEEPER_PATH.len() || p.as_bytes()[ZOOKEEPER_PATH.len()] == b'/')
    {
        return None;
    }
    if state.tree.get(QUOTA_PATH).is_none_or(|q| !q.has_children()) {
        return None;
    }
    let mut candidate = p;
    loop {
        if candidate != "/" {
            let limits = format!("{QUOTA_PATH}{candidate}/{LIMITS_NODE}");
            if state.tree.contains(&limits) {
                return Some(candidate.to_owned());
            }
        }
        if candidate == "/" {
            return None;
        }
        candidate = path::parent(candidate);
    }
}

/// Refuses a change that would pass a hard limit (only with `enforceQuota`); logs one that
/// passes a soft limit.
pub(super) fn check(
    state: &State,
    enforce: bool,
    p: &str,
    count_delta: i64,
    bytes_delta: i64,
) -> Result<(), ErrorCode> {
    let Some(root) = quota_root(state, p) else {
        return Ok(());
    };
    let limits = read_track(state, &format!("{QUOTA_PATH}{root}/{LIMITS_NODE}"));
    let usage = read_track(state, &format!("{QUOTA_PATH}{root}/{STATS_NODE}"));
    let (Some(limits), Some(usage)) = (limits, usage) else {
        return Ok(());
    };
    let count = usage.count + count_delta;
    let bytes = usage.bytes + bytes_delta;
    let over_hard = (count_delta > 0 && limits.count_hard > -1 && count > limits.count_hard)
        || (bytes_delta > 0 && limits.bytes_hard > -1 && bytes > limits.bytes_hard);
    if over_hard && enforce {
        return Err(ErrorCode::QuotaExceeded);
    }
    let over_soft =
        (limits.count > -1 && count > limits.count) || (limits.bytes > -1 && bytes > limits.bytes);
    if over_soft || over_hard {
        tracing::warn!(
            path = p,
            quota = root,
            count,
            bytes,
            "Quota exceeded: {}",
            limits.render()
        );
    }
    Ok(())
}

/// Keeps usage up to date after a change under a quota root, and fills a freshly created
/// stats node with the subtree's current usage.
pub(super) fn on_change(
    state: &mut State,
    p: &str,
    count_delta: i64,
    bytes_delta: i64,
    undo: &mut UndoLog,
) {
    if let Some(rest) = p.strip_prefix(QUOTA_PATH) {
        if count_delta > 0 && path::basename(p) == STATS_NODE {
            let root = path::parent(rest);
            let (count, bytes) = subtree_usage(state, root);
            let text = StatsTrack {
                count,
                bytes,
                count_hard: -1,
                bytes_hard: -1,
            }
            .render();
            state.tree.set_data(p, Some(text.as_bytes()));
        }
        return;
    }
    let Some(root) = quota_root(state, p) else {
        return;
    };
    let stats_path = format!("{QUOTA_PATH}{root}/{STATS_NODE}");
    let Some(mut usage) = read_track(state, &stats_path) else {
        return;
    };
    usage.count += count_delta;
    usage.bytes += bytes_delta;
    if let Some(node) = state.tree.get(&stats_path) {
        undo.record(|| Undo::Data {
            path: stats_path.clone(),
            data: node.data().map(Box::from),
            mzxid: node.mzxid,
            mtime: node.mtime,
            version: node.version,
        });
    }
    state
        .tree
        .set_data(&stats_path, Some(usage.render().as_bytes()));
}

fn read_track(state: &State, p: &str) -> Option<StatsTrack> {
    let node = state.tree.get(p)?;
    let text = std::str::from_utf8(node.data().unwrap_or_default()).ok()?;
    Some(StatsTrack::parse(text))
}

fn subtree_usage(state: &State, root: &str) -> (i64, i64) {
    let (mut count, mut bytes) = (0i64, 0i64);
    state.tree.visit_subtree(root, |node| {
        count += 1;
        bytes += node.data_len() as i64;
    });
    (count, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_track_text() {
        let t = StatsTrack::parse("count=-1,bytes=-1=;byteHardLimit=100;countHardLimit=10");
        assert_eq!(
            (t.count, t.bytes, t.bytes_hard, t.count_hard),
            (-1, -1, 100, 10)
        );
        assert_eq!(
            t.render(),
            "count=-1,bytes=-1=;byteHardLimit=100;countHardLimit=10"
        );
        assert_eq!(
            StatsTrack::parse("count=2,bytes=5").render(),
            "count=2,bytes=5"
        );
    }
}
