//! `$SYS` topics: the broker's counters published as retained messages under `$SYS/broker/`
//! every `sys-topic-resend-interval` seconds, with the topic names of the original.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::broker::Broker;
use super::message::Message;
use super::stats::Stats;
use crate::mqtt::{MqttString, PublishProperties, QoS};

/// The version published at `$SYS/broker/version`.
pub const VERSION: &str = concat!("comqtt ", env!("CARGO_PKG_VERSION"));

/// The `(topic, value)` pairs of one `$SYS` update.
pub fn snapshot(broker: &Broker, now: Instant) -> Vec<(&'static str, String)> {
    let s = &broker.stats;
    let unix = |t: SystemTime| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let connected = Stats::get(&s.clients_connected);
    let sessions = broker.sessions.len() as u64;
    vec![
        ("$SYS/broker/version", VERSION.to_string()),
        ("$SYS/broker/time", unix(SystemTime::now()).to_string()),
        (
            "$SYS/broker/uptime",
            now.duration_since(s.started).as_secs().to_string(),
        ),
        ("$SYS/broker/started", unix(s.started_wall).to_string()),
        (
            "$SYS/broker/load/bytes/received",
            Stats::get(&s.bytes_received).to_string(),
        ),
        (
            "$SYS/broker/load/bytes/sent",
            Stats::get(&s.bytes_sent).to_string(),
        ),
        ("$SYS/broker/clients/connected", connected.to_string()),
        (
            "$SYS/broker/clients/disconnected",
            sessions.saturating_sub(connected).to_string(),
        ),
        (
            "$SYS/broker/clients/maximum",
            Stats::get(&s.clients_maximum).to_string(),
        ),
        (
            "$SYS/broker/clients/total",
            Stats::get(&s.clients_total).to_string(),
        ),
        (
            "$SYS/broker/packets/received",
            Stats::get(&s.packets_received).to_string(),
        ),
        (
            "$SYS/broker/packets/sent",
            Stats::get(&s.packets_sent).to_string(),
        ),
        (
            "$SYS/broker/messages/received",
            Stats::get(&s.messages_received).to_string(),
        ),
        (
            "$SYS/broker/messages/sent",
            Stats::get(&s.messages_sent).to_string(),
        ),
        (
            "$SYS/broker/messages/dropped",
            Stats::get(&s.messages_dropped).to_string(),
        ),
        (
            "$SYS/broker/messages/inflight",
            Stats::get(&s.inflight).to_string(),
        ),
        ("$SYS/broker/retained", Stats::get(&s.retained).to_string()),
        (
            "$SYS/broker/subscriptions",
            Stats::get(&s.subscriptions).to_string(),
        ),
        ("$SYS/broker/system/memory", resident_bytes().to_string()),
        ("$SYS/broker/system/threads", threads().to_string()),
    ]
}

/// Publishes one `$SYS` update as retained QoS 0 messages.
pub fn publish(broker: &Broker, now: Instant) {
    for (topic, value) in snapshot(broker, now) {
        broker.publish(Message {
            topic: MqttString::from_static(topic),
            payload: Bytes::from(value.into_bytes()),
            qos: QoS::AtMostOnce,
            retain: true,
            properties: PublishProperties::default(),
            publisher: None,
            expires_at: None,
            origin: None,
        });
    }
}

/// Resident memory of this process in bytes (Linux), 0 where unknown.
pub fn resident_bytes() -> u64 {
    // SAFETY: sysconf reads a constant of the system.
    let page = u64::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * page)
}

/// Threads of this process (Linux), 0 where unknown.
pub fn threads() -> u64 {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count() as u64)
}
