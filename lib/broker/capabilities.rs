//! What the broker allows and announces: the `capabilities:` keys of the original's config,
//! plus the queue limits of persistent sessions.

use crate::mqtt::{Protocol, QoS};

/// Server limits and optional features, announced to v5 clients in CONNACK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// Cap on a message's expiry interval, seconds (`maximum-message-expiry-interval`).
    pub maximum_message_expiry_interval: u32,
    /// Cap on a session's expiry interval, seconds (`maximum-session-expiry-interval`).
    pub maximum_session_expiry_interval: u32,
    /// Outbound messages a client may have queued before QoS 0 ones are dropped
    /// (`maximum-client-writes-pending`).
    pub maximum_client_writes_pending: usize,
    /// Largest packet accepted, bytes; 0 means the protocol's own limit (`maximum-packet-size`).
    pub maximum_packet_size: u32,
    /// QoS 2 publishes a client may have unacknowledged towards us (`receive-maximum`).
    pub receive_maximum: u16,
    /// Topic aliases a client may use towards us (`topic-alias-maximum`).
    pub topic_alias_maximum: u16,
    /// Highest QoS granted (`maximum-qos`).
    pub maximum_qos: QoS,
    /// Retained messages supported (`retain-available`).
    pub retain_available: bool,
    /// Wildcard subscriptions supported (`wildcard-sub-available`).
    pub wildcard_sub_available: bool,
    /// Subscription identifiers supported (`sub-id-available`).
    pub sub_id_available: bool,
    /// Shared subscriptions supported (`shared-sub-available`).
    pub shared_sub_available: bool,
    /// Oldest protocol accepted (`minimum-protocol-version`: 3, 4 or 5).
    pub minimum_protocol_version: u8,
    /// Keep alive the server imposes on v5 clients, seconds; 0 keeps the client's.
    pub server_keep_alive: u16,
    /// Messages kept for a persistent session while it is offline (oldest dropped first).
    pub maximum_queued_messages: usize,
    /// Unacknowledged QoS 1/2 messages sent to a client at once when it names no receive maximum.
    pub maximum_inflight: u16,
    /// Answer v5 clients 0x80 Unspecified error instead of 0x87 Not authorized (the original's
    /// `obscure-not-authorized`).
    pub obscure_not_authorized: bool,
    /// Continue the cumulative counters after a restart (`restore-sys-info-restart`).
    pub restore_counters: bool,
    /// Most levels in a topic name or filter (`maximum-topic-levels`): deeper ones are
    /// refused (SUBACK 0x8F, PUBACK 0x90, CONNACK 0x90 for a will; 3.x SUBACK 0x80).
    pub maximum_topic_levels: usize,
    /// Longest topic name or filter in bytes (`maximum-topic-length`; the protocol's own
    /// limit is 65,535).
    pub maximum_topic_length: usize,
    /// Most subscriptions one session may hold (`maximum-subscriptions-per-client`;
    /// 0: no limit): more are refused with SUBACK 0x97 Quota exceeded (3.x 0x80).
    pub maximum_subscriptions_per_client: usize,
    /// Each client's inbound rates (`mqtt.options.limits.client-*-per-second`): over them
    /// the connection stops reading until it is under again.
    pub client_rates: super::rate_limit::Rates,
}

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities {
            maximum_message_expiry_interval: 86_400,
            maximum_session_expiry_interval: u32::MAX,
            maximum_client_writes_pending: 8192,
            maximum_packet_size: 0,
            receive_maximum: 1024,
            topic_alias_maximum: 65_535,
            maximum_qos: QoS::ExactlyOnce,
            retain_available: true,
            wildcard_sub_available: true,
            sub_id_available: true,
            shared_sub_available: true,
            minimum_protocol_version: 3,
            server_keep_alive: 0,
            // Messages acknowledged to their publishers are kept for an offline session up to
            // here: a bound for memory, high enough that an outage of minutes at a device's
            // rate loses nothing.
            maximum_queued_messages: 100_000,
            maximum_inflight: 1024,
            obscure_not_authorized: false,
            restore_counters: true,
            maximum_topic_levels: 128,
            maximum_topic_length: 65_535,
            maximum_subscriptions_per_client: 0,
            client_rates: Default::default(),
        }
    }
}

impl Capabilities {
    /// The packet size limit for decoding.
    pub fn packet_size_limit(&self) -> usize {
        if self.maximum_packet_size == 0 {
            crate::mqtt::wire::MAX_VARIABLE_INTEGER + 5
        } else {
            self.maximum_packet_size as usize
        }
    }

    /// The code that refuses an unauthorized action: 0x87, or 0x80 with `obscure-not-authorized`.
    pub fn not_authorized(&self) -> crate::mqtt::ReasonCode {
        if self.obscure_not_authorized {
            crate::mqtt::ReasonCode::UNSPECIFIED_ERROR
        } else {
            crate::mqtt::ReasonCode::NOT_AUTHORIZED
        }
    }

    /// True if a topic name or filter (the filter part of `$share/{group}/{filter}`) is
    /// within the configured length and number of levels. Counts without allocating and
    /// stops at the first level past the limit.
    pub fn topic_within_limits(&self, topic: &str) -> bool {
        topic.len() <= self.maximum_topic_length
            && topic
                .bytes()
                .filter(|b| *b == b'/')
                .take(self.maximum_topic_levels)
                .count()
                < self.maximum_topic_levels
    }

    /// True if clients of `protocol` may connect.
    pub fn accepts(&self, protocol: Protocol) -> bool {
        protocol.level() >= self.minimum_protocol_version
    }
}
