//! Server counters for `srvr`, `stat`, `mntr` and `cons`.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Instant;

/// Request latency and packet counters (`ServerStats`).
#[derive(Debug)]
pub struct ServerStats {
    pub started: Instant,
    pub packets_received: AtomicU64,
    pub packets_sent: AtomicU64,
    latency_total_us: AtomicU64,
    latency_count: AtomicU64,
    latency_min_us: AtomicU64,
    latency_max_us: AtomicU64,
    pub outstanding: AtomicI64,
    pub auth_failed: AtomicU64,
    pub fsync_count: AtomicU64,
}

impl Default for ServerStats {
    fn default() -> Self {
        ServerStats {
            started: Instant::now(),
            packets_received: AtomicU64::new(0),
            packets_sent: AtomicU64::new(0),
            latency_total_us: AtomicU64::new(0),
            latency_count: AtomicU64::new(0),
            latency_min_us: AtomicU64::new(u64::MAX),
            latency_max_us: AtomicU64::new(0),
            outstanding: AtomicI64::new(0),
            auth_failed: AtomicU64::new(0),
            fsync_count: AtomicU64::new(0),
        }
    }
}

impl ServerStats {
    pub fn record_latency(&self, started: Instant) {
        let us = started.elapsed().as_micros() as u64;
        self.latency_total_us.fetch_add(us, Ordering::Relaxed);
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_min_us.fetch_min(us, Ordering::Relaxed);
        self.latency_max_us.fetch_max(us, Ordering::Relaxed);
    }

    /// `(min, avg, max)` in milliseconds, as `srvr` prints them.
    pub fn latency_ms(&self) -> (f64, f64, f64) {
        let count = self.latency_count.load(Ordering::Relaxed);
        if count == 0 {
            return (0.0, 0.0, 0.0);
        }
        let total = self.latency_total_us.load(Ordering::Relaxed) as f64;
        (
            self.latency_min_us.load(Ordering::Relaxed) as f64 / 1000.0,
            total / count as f64 / 1000.0,
            self.latency_max_us.load(Ordering::Relaxed) as f64 / 1000.0,
        )
    }

    pub fn reset(&self) {
        self.packets_received.store(0, Ordering::Relaxed);
        self.packets_sent.store(0, Ordering::Relaxed);
        self.latency_total_us.store(0, Ordering::Relaxed);
        self.latency_count.store(0, Ordering::Relaxed);
        self.latency_min_us.store(u64::MAX, Ordering::Relaxed);
        self.latency_max_us.store(0, Ordering::Relaxed);
    }
}
