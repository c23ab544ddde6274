//! Latency summaries for the Prometheus endpoint, as Apache's provider exports them
//! (`readlatency`, `updatelatency`, `fsynctime`, `snapshottime`: quantiles 0.5, 0.9 and
//! 0.99 in milliseconds, with `_count` and `_sum`).
//!
//! Values land in quarter-octave buckets (a quantile is within ~10 % of the true value), and
//! the quantiles cover the last one to two windows of [`WINDOW_MS`], so they follow what
//! the server does now rather than since it started; `_count` and `_sum` are since start,
//! as Prometheus expects. Recording is a few relaxed atomic adds.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long one window of quantile samples lasts.
pub const WINDOW_MS: u64 = 5 * 60 * 1000;
/// The quantiles reported.
pub const QUANTILES: [f64; 3] = [0.5, 0.9, 0.99];

/// Buckets per octave of microseconds.
const PER_OCTAVE: f64 = 4.0;
/// Up to 2^40 µs (about 12 days); longer lands in the last bucket.
const BUCKETS: usize = 1 + 40 * PER_OCTAVE as usize;

struct Histogram {
    buckets: Box<[AtomicU64]>,
}

impl Histogram {
    fn new() -> Histogram {
        Histogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn clear(&self) {
        for bucket in self.buckets.iter() {
            bucket.store(0, Ordering::Relaxed);
        }
    }
}

fn bucket_of(us: u64) -> usize {
    if us <= 1 {
        return 0;
    }
    let index = ((us as f64).log2() * PER_OCTAVE).floor() as usize + 1;
    index.min(BUCKETS - 1)
}

/// The value a bucket stands for, in µs: the geometric middle of its bounds.
fn value_of(bucket: usize) -> f64 {
    if bucket == 0 {
        return 1.0;
    }
    2f64.powf((bucket as f64 - 0.5) / PER_OCTAVE)
}

/// One summary (see the module doc).
pub struct Summary {
    started: Instant,
    windows: [Histogram; 2],
    current: AtomicUsize,
    /// When the current window began, in ms after `started`.
    window_began_ms: AtomicU64,
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl std::fmt::Debug for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Summary")
            .field("count", &self.count.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Default for Summary {
    fn default() -> Self {
        Summary {
            started: Instant::now(),
            windows: [Histogram::new(), Histogram::new()],
            current: AtomicUsize::new(0),
            window_began_ms: AtomicU64::new(0),
            count: AtomicU64::new(0),
            sum_us: AtomicU64::new(0),
        }
    }
}

/// What a summary reports: quantiles in ms (`None` with no recent sample), count, sum in ms.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryValues {
    pub quantiles: Vec<(f64, Option<f64>)>,
    pub count: u64,
    pub sum_ms: f64,
}

impl Summary {
    pub fn record(&self, elapsed: Duration) {
        self.record_at(elapsed.as_micros() as u64, self.now_ms());
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn record_at(&self, us: u64, now_ms: u64) {
        self.rotate(now_ms);
        let window = &self.windows[self.current.load(Ordering::Relaxed) % 2];
        window.buckets[bucket_of(us)].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// Starts a new window when the current one is over (the oldest is emptied for it);
    /// after two silent windows, both are empty.
    fn rotate(&self, now_ms: u64) {
        let began = self.window_began_ms.load(Ordering::Relaxed);
        if now_ms.saturating_sub(began) < WINDOW_MS {
            return;
        }
        if self
            .window_began_ms
            .compare_exchange(began, now_ms, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return; // another thread rotated
        }
        let next = (self.current.load(Ordering::Relaxed) + 1) % 2;
        self.windows[next].clear();
        if now_ms.saturating_sub(began) >= 2 * WINDOW_MS {
            self.windows[1 - next].clear();
        }
        self.current.store(next, Ordering::Relaxed);
    }

    pub fn values(&self) -> SummaryValues {
        self.values_at(self.now_ms())
    }

    fn values_at(&self, now_ms: u64) -> SummaryValues {
        self.rotate(now_ms);
        let counts: Vec<u64> = (0..BUCKETS)
            .map(|i| {
                self.windows
                    .iter()
                    .map(|w| w.buckets[i].load(Ordering::Relaxed))
                    .sum()
            })
            .collect();
        let total: u64 = counts.iter().sum();
        let quantiles = QUANTILES
            .iter()
            .map(|&q| {
                if total == 0 {
                    return (q, None);
                }
                let rank = ((q * total as f64).ceil() as u64).max(1);
                let mut seen = 0;
                let bucket = counts
                    .iter()
                    .position(|&c| {
                        seen += c;
                        seen >= rank
                    })
                    .unwrap_or(BUCKETS - 1);
                (q, Some(value_of(bucket) / 1000.0))
            })
            .collect();
        SummaryValues {
            quantiles,
            count: self.count.load(Ordering::Relaxed),
            sum_ms: self.sum_us.load(Ordering::Relaxed) as f64 / 1000.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn within(value: Option<f64>, expected: f64) -> bool {
        value.is_some_and(|v| (v - expected).abs() <= expected * 0.10)
    }

    #[test]
    fn quantiles_are_within_a_tenth_of_the_true_value() {
        let summary = Summary::default();
        // 1..=1000 ms, once each: the median is 500 ms, p90 900 ms, p99 990 ms.
        for ms in 1..=1000u64 {
            summary.record_at(ms * 1000, 0);
        }
        let values = summary.values_at(0);
        assert_eq!(values.count, 1000);
        assert!((values.sum_ms - 500_500.0).abs() < 1e-6);
        let [(_, p50), (_, p90), (_, p99)] = values.quantiles[..] else {
            panic!("three quantiles")
        };
        assert!(within(p50, 500.0), "{p50:?}");
        assert!(within(p90, 900.0), "{p90:?}");
        assert!(within(p99, 990.0), "{p99:?}");
    }

    #[test]
    fn quantiles_forget_what_is_two_windows_old_and_counts_do_not() {
        let summary = Summary::default();
        summary.record_at(100_000, 0); // 100 ms
        summary.record_at(2_000, WINDOW_MS + 1); // 2 ms, next window: both still count
        assert!(summary.values_at(WINDOW_MS + 2).quantiles[2]
            .1
            .is_some_and(|v| v > 50.0));
        // Another window on, the 100 ms sample is gone from the quantiles.
        let values = summary.values_at(2 * WINDOW_MS + 2);
        assert!(within(values.quantiles[2].1, 2.0), "{values:?}");
        assert_eq!(values.count, 2);
        // Long silence empties both.
        let values = summary.values_at(10 * WINDOW_MS);
        assert!(values.quantiles.iter().all(|(_, v)| v.is_none()));
        assert_eq!(values.count, 2);
    }

    #[test]
    fn buckets_cover_zero_and_huge_values() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
        assert!(value_of(bucket_of(1_000)) > 840.0 && value_of(bucket_of(1_000)) < 1_190.0);
    }
}
