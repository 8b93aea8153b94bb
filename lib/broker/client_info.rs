//! What the broker knows about a client for operators (HTTP API, `$SYS`, comqtt-top): who it
//! is, where it connects from, its counters. Shared by the client's connection, which
//! updates it, and the session registry, which lists it.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use parking_lot::Mutex;

use crate::mqtt::{MqttString, Protocol, QoS};

/// One client as the last connection of its session described it.
#[derive(Debug)]
pub struct ClientInfo {
    /// Client identifier.
    pub client_id: MqttString,
    /// Remote address of the connection.
    pub remote: String,
    /// The listener the client came in on: "tcp", "tls", "ws" or "wss" ("" when unknown).
    pub listener: &'static str,
    /// User name of CONNECT, if any.
    pub username: Option<String>,
    /// Protocol version.
    pub protocol: Protocol,
    /// Clean session / clean start flag of CONNECT.
    pub clean_start: bool,
    /// Keep alive in force, seconds.
    pub keep_alive: u16,
    /// When the connection was accepted.
    pub connected_at: SystemTime,
    /// The will, if CONNECT carried one.
    pub will: Option<Box<WillSummary>>,
    /// Bytes read from this client.
    pub bytes_received: AtomicU64,
    /// Bytes written to this client.
    pub bytes_sent: AtomicU64,
    /// Unacknowledged outbound QoS 1/2 messages.
    pub inflight: AtomicU64,
    /// Topic filters subscribed (each sharing its allocation with the session's own copy).
    pub(crate) filters: Mutex<HashSet<MqttString>>,
}

/// The parts of a will shown to operators.
#[derive(Debug, Clone)]
pub struct WillSummary {
    pub topic: String,
    pub payload: bytes::Bytes,
    pub qos: QoS,
    pub retain: bool,
}

impl ClientInfo {
    /// A record for a new connection.
    pub fn new(client_id: MqttString, remote: String, protocol: Protocol) -> ClientInfo {
        ClientInfo {
            client_id,
            remote,
            listener: "",
            username: None,
            protocol,
            clean_start: true,
            keep_alive: 0,
            connected_at: SystemTime::now(),
            will: None,
            bytes_received: AtomicU64::new(0),
            bytes_sent: AtomicU64::new(0),
            inflight: AtomicU64::new(0),
            filters: Mutex::new(HashSet::new()),
        }
    }

    /// Records a subscription (once per filter).
    pub fn subscribed(&self, filter: &MqttString) {
        self.filters.lock().insert(filter.clone());
    }

    /// Records an unsubscription.
    pub fn unsubscribed(&self, filter: &str) {
        self.filters.lock().remove(filter);
    }

    /// The filters subscribed, sorted.
    pub fn filters(&self) -> Vec<String> {
        let mut all: Vec<String> = self.filters.lock().iter().map(|f| f.to_string()).collect();
        all.sort_unstable();
        all
    }

    /// Takes over the filters of the session's previous connection (a resumed session).
    pub fn inherit_filters(&self, previous: &ClientInfo) {
        let filters = previous.filters.lock().clone();
        *self.filters.lock() = filters;
    }

    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
