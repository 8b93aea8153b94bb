//! Broker-wide counters, updated with relaxed atomics on the hot path and read by `$SYS`
//! topics (and later the HTTP API).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime};

use crate::storage::record::SysRecord;

/// Counters of the whole broker.
#[derive(Debug)]
pub struct Stats {
    /// When the broker started (monotonic).
    pub started: Instant,
    /// When the broker started (wall clock, for `$SYS/broker/started`).
    pub started_wall: SystemTime,
    pub bytes_received: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub clients_connected: AtomicU64,
    pub clients_maximum: AtomicU64,
    pub clients_total: AtomicU64,
    pub packets_received: AtomicU64,
    pub packets_sent: AtomicU64,
    pub messages_received: AtomicU64,
    pub messages_sent: AtomicU64,
    /// Messages dropped: queue limits, expiry, packet too large for the client.
    pub messages_dropped: AtomicU64,
    pub inflight: AtomicU64,
    pub retained: AtomicU64,
    pub subscriptions: AtomicU64,
    /// Times a client's reading was paused by its rate limit.
    pub throttled: AtomicU64,
    /// Clients disconnected over their rate limit (`client-rate-disconnect`).
    pub rate_disconnects: AtomicU64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            started: Instant::now(),
            started_wall: SystemTime::now(),
            bytes_received: AtomicU64::new(0),
            bytes_sent: AtomicU64::new(0),
            clients_connected: AtomicU64::new(0),
            clients_maximum: AtomicU64::new(0),
            clients_total: AtomicU64::new(0),
            packets_received: AtomicU64::new(0),
            packets_sent: AtomicU64::new(0),
            messages_received: AtomicU64::new(0),
            messages_sent: AtomicU64::new(0),
            messages_dropped: AtomicU64::new(0),
            inflight: AtomicU64::new(0),
            retained: AtomicU64::new(0),
            subscriptions: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            rate_disconnects: AtomicU64::new(0),
        }
    }
}

impl Stats {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Subtracts `n` from a gauge.
    pub fn sub(counter: &AtomicU64, n: u64) {
        counter.fetch_sub(n, Ordering::Relaxed);
    }

    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// The cumulative counters, as persisted.
    pub fn record(&self) -> SysRecord {
        SysRecord {
            clients_maximum: Stats::get(&self.clients_maximum),
            clients_total: Stats::get(&self.clients_total),
            messages_received: Stats::get(&self.messages_received),
            messages_sent: Stats::get(&self.messages_sent),
            messages_dropped: Stats::get(&self.messages_dropped),
            bytes_received: Stats::get(&self.bytes_received),
            bytes_sent: Stats::get(&self.bytes_sent),
            packets_received: Stats::get(&self.packets_received),
            packets_sent: Stats::get(&self.packets_sent),
        }
    }

    /// Continues the cumulative counters from a persisted record (at startup).
    pub fn restore(&self, r: &SysRecord) {
        for (counter, v) in [
            (&self.clients_total, r.clients_total),
            (&self.messages_received, r.messages_received),
            (&self.messages_sent, r.messages_sent),
            (&self.messages_dropped, r.messages_dropped),
            (&self.bytes_received, r.bytes_received),
            (&self.bytes_sent, r.bytes_sent),
            (&self.packets_received, r.packets_received),
            (&self.packets_sent, r.packets_sent),
        ] {
            counter.fetch_add(v, Ordering::Relaxed);
        }
        self.clients_maximum
            .fetch_max(r.clients_maximum, Ordering::Relaxed);
    }

    /// Records a client connecting.
    pub fn client_connected(&self) {
        let now = self.clients_connected.fetch_add(1, Ordering::Relaxed) + 1;
        self.clients_total.fetch_add(1, Ordering::Relaxed);
        self.clients_maximum.fetch_max(now, Ordering::Relaxed);
    }
}
