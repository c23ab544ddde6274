//! Server counters for `srvr`, `stat`, `mntr` and `cons`.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::summary::Summary;

/// `ZooTrace`'s default text trace mask: client requests, server packets, sessions and
/// warnings (what `gtmk` prints until `stmk` changes it).
pub const DEFAULT_TRACE_MASK: i64 = (1 << 1) | (1 << 4) | (1 << 5) | (1 << 8);

/// The request latency counters, read together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatencySnapshot {
    pub count: u64,
    pub total_us: u64,
    /// `u64::MAX` while `count` is 0.
    pub min_us: u64,
    pub max_us: u64,
}

/// Request latency and packet counters (`ServerStats`).
#[derive(Debug)]
pub struct ServerStats {
    pub started: Instant,
    pub packets_received: AtomicU64,
    /// Shared with every connection, which counts what it sends (`Conn` has no `Shared`).
    pub packets_sent: Arc<AtomicU64>,
    latency_total_us: AtomicU64,
    latency_count: AtomicU64,
    latency_min_us: AtomicU64,
    latency_max_us: AtomicU64,
    pub outstanding: AtomicI64,
    pub auth_failed: AtomicU64,
    pub fsync_count: AtomicU64,
    /// Bytes of every packet read from clients, length prefixes included
    /// (`zk_bytes_received_count`).
    pub bytes_received: AtomicU64,
    /// ConnectRequests received (`zk_connection_request_count`).
    pub connection_requests: AtomicU64,
    /// The text trace mask `gtmk` reports and `stmk` sets.
    pub trace_mask: AtomicI64,
    /// Reads from arrival to reply (`readlatency`).
    pub read_latency: Summary,
    /// Writes from arrival to reply (`updatelatency`).
    pub update_latency: Summary,
    /// Appending and syncing a batch to the transaction log (`fsynctime`).
    pub fsync_time: Summary,
    /// Writing a snapshot (`snapshottime`).
    pub snapshot_time: Summary,
}

impl Default for ServerStats {
    fn default() -> Self {
        ServerStats {
            started: Instant::now(),
            packets_received: AtomicU64::new(0),
            packets_sent: Arc::new(AtomicU64::new(0)),
            latency_total_us: AtomicU64::new(0),
            latency_count: AtomicU64::new(0),
            latency_min_us: AtomicU64::new(u64::MAX),
            latency_max_us: AtomicU64::new(0),
            outstanding: AtomicI64::new(0),
            auth_failed: AtomicU64::new(0),
            fsync_count: AtomicU64::new(0),
            bytes_received: AtomicU64::new(0),
            connection_requests: AtomicU64::new(0),
            trace_mask: AtomicI64::new(DEFAULT_TRACE_MASK),
            read_latency: Summary::default(),
            update_latency: Summary::default(),
            fsync_time: Summary::default(),
            snapshot_time: Summary::default(),
        }
    }
}

impl ServerStats {
    /// A read (or anything answered without the log) answered `started` ago.
    pub fn record_latency(&self, started: Instant) {
        let elapsed = started.elapsed();
        self.read_latency.record(elapsed);
        self.record_request(elapsed.as_micros() as u64);
    }

    /// A write answered `started` ago.
    pub fn record_update_latency(&self, started: Instant) {
        let elapsed = started.elapsed();
        self.update_latency.record(elapsed);
        self.record_request(elapsed.as_micros() as u64);
    }

    fn record_request(&self, us: u64) {
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

    /// The latency counters as they stand (each read on its own; good enough for stats).
    pub fn latency(&self) -> LatencySnapshot {
        LatencySnapshot {
            count: self.latency_count.load(Ordering::Relaxed),
            total_us: self.latency_total_us.load(Ordering::Relaxed),
            min_us: self.latency_min_us.load(Ordering::Relaxed),
            max_us: self.latency_max_us.load(Ordering::Relaxed),
        }
    }

    /// `srst`: latency and packet counters, and the metrics Apache resets with them;
    /// uptime, auth failures and the trace mask stay.
    pub fn reset(&self) {
        self.bytes_received.store(0, Ordering::Relaxed);
        self.connection_requests.store(0, Ordering::Relaxed);
        self.packets_received.store(0, Ordering::Relaxed);
        self.packets_sent.store(0, Ordering::Relaxed);
        self.latency_total_us.store(0, Ordering::Relaxed);
        self.latency_count.store(0, Ordering::Relaxed);
        self.latency_min_us.store(u64::MAX, Ordering::Relaxed);
        self.latency_max_us.store(0, Ordering::Relaxed);
    }
}
