//! An application message as the broker routes it: decoded once, shared by every subscriber
//! through an `Arc`, with per-subscriber details kept apart in [`Delivery`].

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use crate::mqtt::{MqttString, Publish, PublishProperties, QoS};

/// A published message. Topic and payload are slices of the publisher's read buffer.
#[derive(Debug, Clone)]
pub struct Message {
    /// The topic name (after topic-alias resolution).
    pub topic: MqttString,
    /// The payload, shared by all subscribers.
    pub payload: Bytes,
    /// QoS as published.
    pub qos: QoS,
    /// RETAIN flag as published.
    pub retain: bool,
    /// v5 properties that travel with the message (no topic alias, no subscription ids).
    pub properties: PublishProperties,
    /// Client id of the publisher, for no-local subscriptions; `None` for the broker itself.
    pub publisher: Option<MqttString>,
    /// When the message expires, from its message expiry interval.
    pub expires_at: Option<Instant>,
    /// Where it came from when another node forwarded it here (`None` for a message routed
    /// here first): a copy the sender parks for this node's sessions is recognised by it.
    pub origin: Option<Box<Origin>>,
}

/// A forwarded message's name: the node that sent it, that node's process epoch, and its
/// sequence number on the sender's stream to this node.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    pub node: Box<str>,
    pub epoch: u64,
    pub seq: u64,
}

impl Message {
    /// Builds the routed message from a PUBLISH whose topic alias is already resolved.
    pub fn from_publish(
        publish: Publish,
        publisher: Option<MqttString>,
        max_expiry: u32,
    ) -> Message {
        let mut properties = publish.properties;
        properties.topic_alias = None;
        properties.subscription_identifiers.clear();
        let expires_at = properties.message_expiry_interval.map(|secs| {
            let secs = secs.min(max_expiry);
            properties.message_expiry_interval = Some(secs);
            Instant::now() + std::time::Duration::from_secs(secs as u64)
        });
        Message {
            topic: publish.topic,
            payload: publish.payload,
            qos: publish.qos,
            retain: publish.retain,
            properties,
            publisher,
            expires_at,
            origin: None,
        }
    }

    /// True once the message expiry interval has passed.
    pub fn is_expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|t| t <= now)
    }

    /// Seconds left before expiry, rounded up, as the forwarded expiry interval
    /// `[MQTT-3.3.2-6]`: a message forwarded at once keeps the interval it was published with.
    pub fn remaining_expiry(&self, now: Instant) -> Option<u32> {
        self.expires_at
            .map(|t| t.saturating_duration_since(now).as_millis().div_ceil(1000) as u32)
    }
}

/// One message on its way to one subscriber.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The shared message.
    pub message: Arc<Message>,
    /// QoS for this subscriber: the minimum of the published and the granted QoS.
    pub qos: QoS,
    /// RETAIN flag for this subscriber (retain-as-published, or a retained message on subscribe).
    pub retain: bool,
    /// Identifiers of the subscriptions that matched.
    pub subscription_ids: Vec<u32>,
    /// Its key in the store when it belongs to a persistent session; 0 when not persisted.
    pub seq: u64,
}

impl Delivery {
    /// The PUBLISH this delivery becomes, before packet id and topic alias are set.
    pub fn to_publish(&self, now: Instant) -> Publish {
        let m = &self.message;
        let mut properties = m.properties.clone();
        properties
            .subscription_identifiers
            .clone_from(&self.subscription_ids);
        if m.expires_at.is_some() {
            properties.message_expiry_interval = m.remaining_expiry(now);
        }
        Publish {
            dup: false,
            qos: self.qos,
            retain: self.retain,
            topic: m.topic.clone(),
            packet_id: 0,
            properties,
            payload: m.payload.clone(),
        }
    }
}
