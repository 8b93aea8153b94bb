//! How long storage commits take: a fixed-bucket histogram updated by the writer thread with
//! relaxed atomics and read by `/metrics` (as `comqtt_storage_commit_seconds`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, seconds (Prometheus `le`).
pub const BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0,
];

/// Commit latencies.
#[derive(Debug, Default)]
pub struct CommitLatency {
    /// Commits at or below each bucket's bound (not cumulative; made cumulative when read).
    buckets: [AtomicU64; 12],
    /// Commits above the last bound.
    over: AtomicU64,
    /// Sum of all latencies, microseconds.
    sum_micros: AtomicU64,
    /// Number of commits.
    count: AtomicU64,
}

/// A read of the histogram.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencySnapshot {
    /// `(upper bound in seconds, cumulative count)`, ending with `(+Inf, count)`.
    pub cumulative: Vec<(f64, u64)>,
    /// Sum of latencies, seconds.
    pub sum_seconds: f64,
    /// Number of commits.
    pub count: u64,
}

impl CommitLatency {
    /// Records one commit.
    pub fn record(&self, d: Duration) {
        let secs = d.as_secs_f64();
        match BUCKETS.iter().position(|b| secs <= *b) {
            Some(i) => self.buckets[i].fetch_add(1, Ordering::Relaxed),
            None => self.over.fetch_add(1, Ordering::Relaxed),
        };
        self.sum_micros
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// The histogram now, cumulative as Prometheus wants it.
    pub fn snapshot(&self) -> LatencySnapshot {
        let mut total = 0;
        let mut cumulative: Vec<(f64, u64)> = BUCKETS
            .iter()
            .zip(&self.buckets)
            .map(|(b, n)| {
                total += n.load(Ordering::Relaxed);
                (*b, total)
            })
            .collect();
        total += self.over.load(Ordering::Relaxed);
        cumulative.push((f64::INFINITY, total));
        LatencySnapshot {
            cumulative,
            sum_seconds: self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6,
            count: total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_end_with_the_count() {
        let h = CommitLatency::default();
        h.record(Duration::from_micros(80));
        h.record(Duration::from_micros(900));
        h.record(Duration::from_secs(2));
        let s = h.snapshot();
        assert_eq!(s.cumulative[0], (0.0001, 1));
        assert_eq!(s.cumulative[3], (0.001, 2));
        assert_eq!(*s.cumulative.last().unwrap(), (f64::INFINITY, 3));
        assert_eq!(s.count, 3);
        assert!((s.sum_seconds - 2.00098).abs() < 1e-9);
    }
}
