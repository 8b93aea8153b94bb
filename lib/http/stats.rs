//! The node's counters as the original's `system.Info` JSON: `GET /mqtt/stats` (the original
//! README's route), `GET /api/v1/mqtt/stat/overall` (the same) and `GET
//! /api/v1/mqtt/stat/online` (the number of connected clients). The values are those of the
//! `$SYS/broker/...` topics.

use std::time::{Instant, SystemTime};

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::{ApiState, unix_secs};
use crate::broker::stats::Stats;
use crate::broker::{Broker, sys};

/// The original's `system.Info`, field for field (times in Unix seconds). comqtt-top reads
/// it back (missing fields default to 0).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct SystemInfo {
    /// Broker version, e.g. "comqtt 0.1.0".
    pub version: String,
    /// When the broker started.
    pub started: u64,
    /// Now.
    pub time: u64,
    /// Seconds since start.
    pub uptime: u64,
    pub bytes_received: u64,
    pub bytes_sent: u64,
    /// Clients connected now.
    pub clients_connected: u64,
    /// Sessions kept without a connection.
    pub clients_disconnected: u64,
    /// Most clients connected at once.
    pub clients_maximum: u64,
    /// Connections accepted since start.
    pub clients_total: u64,
    pub messages_received: u64,
    pub messages_sent: u64,
    pub messages_dropped: u64,
    /// Retained messages held.
    pub retained: u64,
    /// Unacknowledged outbound QoS 1/2 messages.
    pub inflight: u64,
    /// Subscriptions held.
    pub subscriptions: u64,
    pub packets_received: u64,
    pub packets_sent: u64,
    /// Resident memory of the process, bytes.
    pub memory_alloc: u64,
    /// Threads of the process.
    pub threads: u64,
}

impl SystemInfo {
    /// Reads the broker's counters now.
    pub fn of(broker: &Broker) -> SystemInfo {
        let s = &broker.stats;
        let connected = Stats::get(&s.clients_connected);
        SystemInfo {
            version: sys::VERSION.to_string(),
            started: unix_secs(s.started_wall),
            time: unix_secs(SystemTime::now()),
            uptime: Instant::now().duration_since(s.started).as_secs(),
            bytes_received: Stats::get(&s.bytes_received),
            bytes_sent: Stats::get(&s.bytes_sent),
            clients_connected: connected,
            clients_disconnected: (broker.sessions.len() as u64).saturating_sub(connected),
            clients_maximum: Stats::get(&s.clients_maximum),
            clients_total: Stats::get(&s.clients_total),
            messages_received: Stats::get(&s.messages_received),
            messages_sent: Stats::get(&s.messages_sent),
            messages_dropped: Stats::get(&s.messages_dropped),
            retained: Stats::get(&s.retained),
            inflight: Stats::get(&s.inflight),
            subscriptions: Stats::get(&s.subscriptions),
            packets_received: Stats::get(&s.packets_received),
            packets_sent: Stats::get(&s.packets_sent),
            memory_alloc: sys::resident_bytes(),
            threads: sys::threads(),
        }
    }
}

/// `GET /mqtt/stats` and `GET /api/v1/mqtt/stat/overall`.
pub async fn overall(State(api): State<ApiState>) -> Json<SystemInfo> {
    Json(SystemInfo::of(&api.broker))
}

/// `GET /api/v1/mqtt/stat/online`: clients connected now, as a bare integer.
pub async fn online(State(api): State<ApiState>) -> Json<u64> {
    Json(Stats::get(&api.broker.stats.clients_connected))
}
