//! PUBLISH (spec 3.3): an application message, in either direction.

use bytes::{BufMut, Bytes, BytesMut};

use super::{Body, kind};
use crate::mqtt::properties::{
    self, PropertySet, UserProperty, Value, ValueRef, each_bin, each_flag, each_str, each_u16,
    each_u32, each_user, flag, id, not_allowed, once,
};
use crate::mqtt::topic::valid_topic_name;
use crate::mqtt::wire::{Reader, field_len, write_string};
use crate::mqtt::{DecodeError, EncodeError, MqttString, Protocol, QoS};

/// PUBLISH: a message on a topic. Topic and payload share the buffer they were read from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Publish {
    /// Re-delivery of an earlier attempt (QoS > 0 only).
    pub dup: bool,
    /// Delivery guarantee.
    pub qos: QoS,
    /// Retain the message for future subscribers.
    pub retain: bool,
    /// Topic name; empty only in v5 when a topic alias stands for it.
    pub topic: MqttString,
    /// Packet identifier; 0 for QoS 0, never 0 otherwise.
    pub packet_id: u16,
    /// v5 properties.
    pub properties: PublishProperties,
    /// Application payload.
    pub payload: Bytes,
}

/// v5 PUBLISH properties (spec 3.3.2.3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PublishProperties {
    /// `Some(true)`: the payload is UTF-8.
    pub payload_format_indicator: Option<bool>,
    pub message_expiry_interval: Option<u32>,
    /// Never 0 `[MQTT-3.3.2-8]`.
    pub topic_alias: Option<u16>,
    pub response_topic: Option<MqttString>,
    pub correlation_data: Option<Bytes>,
    pub user_properties: Vec<UserProperty>,
    /// Server to client only; one per matching subscription that has an identifier.
    pub subscription_identifiers: Vec<u32>,
    pub content_type: Option<MqttString>,
}

impl PublishProperties {
    /// True if no property is set (the common case on the hot path).
    pub fn is_empty(&self) -> bool {
        *self == PublishProperties::default()
    }
}

impl PropertySet for PublishProperties {
    const PACKET: &'static str = "PUBLISH";

    fn accept(&mut self, pid: u8, value: Value) -> Result<(), DecodeError> {
        match (pid, value) {
            (id::PAYLOAD_FORMAT_INDICATOR, Value::Byte(v)) => {
                once(&mut self.payload_format_indicator, flag(v, pid)?, pid)
            }
            (id::MESSAGE_EXPIRY_INTERVAL, Value::U32(v)) => {
                once(&mut self.message_expiry_interval, v, pid)
            }
            (id::TOPIC_ALIAS, Value::U16(0)) => Err(DecodeError::TopicAliasZero),
            (id::TOPIC_ALIAS, Value::U16(v)) => once(&mut self.topic_alias, v, pid),
            (id::RESPONSE_TOPIC, Value::Str(v)) => {
                if !valid_topic_name(&v) {
                    return Err(DecodeError::InvalidPropertyValue(pid)); // [MQTT-3.3.2-14]
                }
                once(&mut self.response_topic, v, pid)
            }
            (id::CORRELATION_DATA, Value::Bin(v)) => once(&mut self.correlation_data, v, pid),
            (id::USER_PROPERTY, Value::Pair(k, v)) => {
                self.user_properties.push((k, v));
                Ok(())
            }
            (id::SUBSCRIPTION_IDENTIFIER, Value::VarInt(0)) => {
                Err(DecodeError::InvalidPropertyValue(pid))
            }
            (id::SUBSCRIPTION_IDENTIFIER, Value::VarInt(v)) => {
                self.subscription_identifiers.push(v);
                Ok(())
            }
            (id::CONTENT_TYPE, Value::Str(v)) => once(&mut self.content_type, v, pid),
            (pid, _) => Err(not_allowed(pid, Self::PACKET)),
        }
    }

    fn each(&self, f: &mut dyn FnMut(u8, ValueRef<'_>)) {
        each_flag(
            self.payload_format_indicator,
            id::PAYLOAD_FORMAT_INDICATOR,
            f,
        );
        each_u32(self.message_expiry_interval, id::MESSAGE_EXPIRY_INTERVAL, f);
        each_u16(self.topic_alias, id::TOPIC_ALIAS, f);
        each_str(&self.response_topic, id::RESPONSE_TOPIC, f);
        each_bin(&self.correlation_data, id::CORRELATION_DATA, f);
        each_user(&self.user_properties, f);
        for &sid in &self.subscription_identifiers {
            f(id::SUBSCRIPTION_IDENTIFIER, ValueRef::VarInt(sid));
        }
        each_str(&self.content_type, id::CONTENT_TYPE, f);
    }
}

impl Publish {
    /// A PUBLISH without properties; set `packet_id` before sending QoS 1 or 2.
    pub fn new(topic: impl Into<MqttString>, qos: QoS, payload: impl Into<Bytes>) -> Publish {
        Publish {
            topic: topic.into(),
            qos,
            payload: payload.into(),
            ..Publish::default()
        }
    }

    pub(crate) fn first_byte(&self) -> u8 {
        kind::PUBLISH << 4 | (self.dup as u8) << 3 | (self.qos as u8) << 1 | self.retain as u8
    }

    pub(crate) fn decode(
        flags: u8,
        r: &mut Reader,
        protocol: Protocol,
    ) -> Result<Publish, DecodeError> {
        let dup = flags & 0x08 != 0;
        let qos = QoS::from_u8((flags >> 1) & 0x03)
            .ok_or(DecodeError::Malformed("PUBLISH with QoS 3"))?; // [MQTT-3.3.1-4]
        if dup && qos == QoS::AtMostOnce {
            return Err(DecodeError::Malformed("DUP set on a QoS 0 PUBLISH")); // [MQTT-3.3.1-2]
        }
        let topic = r.string()?;
        let packet_id = if qos == QoS::AtMostOnce {
            0
        } else {
            super::read_packet_id(r)?
        };
        let properties: PublishProperties = if protocol.is_v5() {
            properties::read(r)?
        } else {
            PublishProperties::default()
        };
        if topic.is_empty() {
            if properties.topic_alias.is_none() {
                // v5 3.3.2.1: "It is a Protocol Error if the Topic Name is zero length and there is no Topic Alias".
                return Err(DecodeError::Protocol(
                    "empty topic name without a topic alias",
                ));
            }
        } else if !valid_topic_name(&topic) {
            return Err(DecodeError::TopicName("wildcard in a PUBLISH topic name")); // [MQTT-3.3.2-2]
        }
        let payload = r.rest();
        Ok(Publish {
            dup,
            qos,
            retain: flags & 0x01 != 0,
            topic,
            packet_id,
            properties,
            payload,
        })
    }
}

impl Body for Publish {
    fn body_len(&self, protocol: Protocol) -> usize {
        let mut len = field_len(self.topic.as_bytes()) + self.payload.len();
        if self.qos != QoS::AtMostOnce {
            len += 2;
        }
        if protocol.is_v5() {
            len += properties::block_len(&self.properties);
        }
        len
    }

    fn write_body(&self, protocol: Protocol, buf: &mut BytesMut) -> Result<(), EncodeError> {
        write_string(buf, &self.topic)?;
        if self.qos != QoS::AtMostOnce {
            buf.put_u16(self.packet_id);
        }
        if protocol.is_v5() {
            properties::write(&self.properties, buf)?;
        }
        buf.put_slice(&self.payload);
        Ok(())
    }
}
