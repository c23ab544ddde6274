//! The Prometheus endpoint (`metricsProvider.className` set to Apache's
//! PrometheusMetricsProvider): `GET /metrics` on `metricsProvider.httpHost:httpPort` answers
//! the numbers `mntr` reports, under the names Apache's provider gives them (`znode_count`,
//! `watch_count`, `outstanding_requests`, ...), in Prometheus' text format 0.0.4, and the
//! latency summaries Apache's provider has (`readlatency`, `updatelatency`, `fsynctime`,
//! `snapshottime`; see `summary.rs`).

use std::fmt::Write as _;
use std::sync::Arc;

use tokio::net::TcpListener;

use super::fourlw::{self, Metric};
use super::http::{self, Reply};
use super::quorum::{Ensemble, Replication};
use super::shared::Shared;
use super::summary::SummaryValues;

/// The content type of Prometheus' text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Every numeric metric as a gauge; `mntr`'s text values (version, state) are left out.
pub fn prometheus_text(metrics: &[(&str, Metric)]) -> String {
    let mut out = String::new();
    for (name, value) in metrics {
        let value = match value {
            Metric::Int(n) => n.to_string(),
            Metric::Float(f) if f.is_finite() => f.to_string(),
            Metric::Float(_) | Metric::Text(_) => continue,
        };
        let _ = writeln!(
            out,
            "# HELP {name} {name}\n# TYPE {name} gauge\n{name} {value}"
        );
    }
    out
}

/// Summaries in Prometheus' format: quantiles (NaN with no recent sample), `_count`, `_sum`.
pub fn summaries_text(summaries: &[(&str, SummaryValues)]) -> String {
    let mut out = String::new();
    for (name, values) in summaries {
        let _ = writeln!(
            out,
            "# HELP {name} {name} in milliseconds\n# TYPE {name} summary"
        );
        for (quantile, value) in &values.quantiles {
            let value = value.map_or_else(|| "NaN".to_owned(), |v| v.to_string());
            let _ = writeln!(out, "{name}{{quantile=\"{quantile}\"}} {value}");
        }
        let _ = writeln!(out, "{name}_count {}", values.count);
        let _ = writeln!(out, "{name}_sum {}", values.sum_ms);
    }
    out
}

/// zk's own replication and election gauges (Apache has no names for them; `mntr` does not
/// carry them, so its keys stay Apache's).
fn replication_metrics(r: &Replication) -> Vec<(&'static str, Metric)> {
    let int = |n: u64| Metric::Int(i64::try_from(n).unwrap_or(i64::MAX));
    let mut metrics = vec![
        ("quorum_size", int(r.quorum_size as u64)),
        ("election_term", int(r.term)),
        ("raft_last_log_index", int(r.last_log_index)),
        ("raft_committed_index", int(r.committed_index)),
        ("raft_last_applied_index", int(r.last_applied_index)),
        ("leader_known", int(u64::from(r.leader_id.is_some()))),
        ("is_leader", int(u64::from(r.is_leader))),
    ];
    if let Some(lag) = r.max_follower_lag {
        metrics.push(("max_follower_lag_entries", int(lag)));
    }
    metrics
}

/// The whole `/metrics` page: `mntr`'s numbers as gauges, then the latency summaries.
pub fn page(shared: &Shared, member: Option<&Ensemble>) -> String {
    let stats = &shared.stats;
    let mut metrics = fourlw::monitor(shared, member);
    if let Some(replication) = member.map(Ensemble::replication) {
        metrics.extend(replication_metrics(&replication));
    }
    let mut text = prometheus_text(&metrics);
    text.push_str(&summaries_text(&[
        ("readlatency", stats.read_latency.values()),
        ("updatelatency", stats.update_latency.values()),
        ("fsynctime", stats.fsync_time.values()),
        ("snapshottime", stats.snapshot_time.values()),
    ]));
    text
}

/// Serves `/metrics` on `listener` until the task is dropped.
pub async fn serve(shared: Arc<Shared>, member: Option<Arc<Ensemble>>, listener: TcpListener) {
    http::serve(listener, "metrics", move |request| {
        match request.path.as_str() {
            "/metrics" => Reply {
                status: 200,
                content_type: CONTENT_TYPE,
                body: page(&shared, member.as_deref()),
            },
            _ => Reply::text(404, "not found; metrics are at /metrics\n"),
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_become_gauges_and_text_is_left_out() {
        let text = prometheus_text(&[
            ("version", Metric::Text("3.8.0".into())),
            ("avg_latency", Metric::Float(0.25)),
            ("znode_count", Metric::Int(5)),
            ("odd", Metric::Float(f64::NAN)),
        ]);
        assert_eq!(
            text,
            "# HELP avg_latency avg_latency\n# TYPE avg_latency gauge\navg_latency 0.25\n\
             # HELP znode_count znode_count\n# TYPE znode_count gauge\nznode_count 5\n"
        );
    }
}
