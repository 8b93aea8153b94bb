//! SUBSCRIBE (spec 3.8): topic filters with their subscription options.

use bytes::{BufMut, BytesMut};

use super::{Body, read_packet_id};
use crate::mqtt::properties::{
    self, PropertySet, UserProperty, Value, ValueRef, each_user, id, not_allowed, once,
};
use crate::mqtt::topic::SHARE_PREFIX;
use crate::mqtt::wire::{Reader, field_len, write_string};
use crate::mqtt::{DecodeError, EncodeError, MqttString, Protocol, QoS};

/// SUBSCRIBE: one or more topic filters. The validity of each filter is not checked here:
/// the server answers an invalid one with its own SUBACK code (0x8F / 0x80).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subscribe {
    /// Never 0.
    pub packet_id: u16,
    /// At least one `[MQTT-3.8.3-2]`.
    pub filters: Vec<SubscribeFilter>,
    /// v5 properties.
    pub properties: SubscribeProperties,
}

/// One topic filter of SUBSCRIBE and its options.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubscribeFilter {
    /// The topic filter, possibly `$share/{group}/{filter}`.
    pub filter: MqttString,
    /// How messages matching it are delivered.
    pub options: SubscriptionOptions,
}

/// The subscription options byte (spec 3.8.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SubscriptionOptions {
    /// Maximum QoS the subscriber wants.
    pub qos: QoS,
    /// v5: do not deliver the subscriber's own messages back to it.
    pub no_local: bool,
    /// v5: keep the RETAIN flag of forwarded messages as published.
    pub retain_as_published: bool,
    /// v5: when retained messages are sent on subscribe.
    pub retain_handling: RetainHandling,
}

/// When retained messages are sent at subscription time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum RetainHandling {
    /// 0: send retained messages at every subscribe.
    #[default]
    OnSubscribe = 0,
    /// 1: only if the subscription did not exist.
    OnNewSubscribe = 1,
    /// 2: never.
    Never = 2,
}

/// v5 SUBSCRIBE properties (spec 3.8.2.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubscribeProperties {
    /// 1..=268,435,455.
    pub subscription_identifier: Option<u32>,
    pub user_properties: Vec<UserProperty>,
}

impl PropertySet for SubscribeProperties {
    const PACKET: &'static str = "SUBSCRIBE";

    fn accept(&mut self, pid: u8, value: Value) -> Result<(), DecodeError> {
        match (pid, value) {
            (id::SUBSCRIPTION_IDENTIFIER, Value::VarInt(0)) => {
                Err(DecodeError::InvalidPropertyValue(pid))
            }
            (id::SUBSCRIPTION_IDENTIFIER, Value::VarInt(v)) => {
                once(&mut self.subscription_identifier, v, pid)
            }
            (id::USER_PROPERTY, Value::Pair(k, v)) => {
                self.user_properties.push((k, v));
                Ok(())
            }
            (pid, _) => Err(not_allowed(pid, Self::PACKET)),
        }
    }

    fn each(&self, f: &mut dyn FnMut(u8, ValueRef<'_>)) {
        if let Some(sid) = self.subscription_identifier {
            f(id::SUBSCRIPTION_IDENTIFIER, ValueRef::VarInt(sid));
        }
        each_user(&self.user_properties, f);
    }
}

impl SubscriptionOptions {
    /// Options with a QoS and v5 defaults.
    pub fn qos(qos: QoS) -> SubscriptionOptions {
        SubscriptionOptions {
            qos,
            ..SubscriptionOptions::default()
        }
    }

    fn decode(byte: u8, protocol: Protocol) -> Result<SubscriptionOptions, DecodeError> {
        if protocol.is_v5() {
            if byte & 0xC0 != 0 {
                return Err(DecodeError::Malformed(
                    "reserved subscription option bits are set",
                )); // [MQTT-3.8.3-5]
            }
        } else if byte & 0xFC != 0 {
            return Err(DecodeError::Malformed(
                "reserved bits of the requested QoS byte are set",
            )); // [MQTT-3-8.3-4]
        }
        let qos = QoS::from_u8(byte & 0x03).ok_or(if protocol.is_v5() {
            DecodeError::Protocol("subscription with maximum QoS 3")
        } else {
            DecodeError::Malformed("subscription with QoS 3")
        })?;
        let retain_handling = match (byte >> 4) & 0x03 {
            0 => RetainHandling::OnSubscribe,
            1 => RetainHandling::OnNewSubscribe,
            2 => RetainHandling::Never,
            _ => return Err(DecodeError::Protocol("retain handling 3")),
        };
        Ok(SubscriptionOptions {
            qos,
            no_local: byte & 0x04 != 0,
            retain_as_published: byte & 0x08 != 0,
            retain_handling,
        })
    }

    fn encode(&self, protocol: Protocol) -> u8 {
        if !protocol.is_v5() {
            return self.qos as u8;
        }
        self.qos as u8
            | (self.no_local as u8) << 2
            | (self.retain_as_published as u8) << 3
            | (self.retain_handling as u8) << 4
    }
}

impl Subscribe {
    /// A SUBSCRIBE for one filter.
    pub fn new(
        packet_id: u16,
        filter: impl Into<MqttString>,
        options: SubscriptionOptions,
    ) -> Subscribe {
        Subscribe {
            packet_id,
            filters: vec![SubscribeFilter {
                filter: filter.into(),
                options,
            }],
            properties: SubscribeProperties::default(),
        }
    }

    pub(crate) fn decode(r: &mut Reader, protocol: Protocol) -> Result<Subscribe, DecodeError> {
        let packet_id = read_packet_id(r)?;
        let properties = if protocol.is_v5() {
            properties::read(r)?
        } else {
            SubscribeProperties::default()
        };
        let mut filters = Vec::new();
        while !r.is_empty() {
            let filter = r.string()?;
            let options = SubscriptionOptions::decode(r.u8()?, protocol)?;
            if options.no_local && filter.starts_with(SHARE_PREFIX) {
                return Err(DecodeError::Protocol("no local on a shared subscription")); // [MQTT-3.8.3-4]
            }
            filters.push(SubscribeFilter { filter, options });
        }
        if filters.is_empty() {
            return Err(DecodeError::Protocol("SUBSCRIBE without a topic filter")); // [MQTT-3.8.3-2]
        }
        Ok(Subscribe {
            packet_id,
            filters,
            properties,
        })
    }
}

impl Body for Subscribe {
    fn body_len(&self, protocol: Protocol) -> usize {
        let mut len = 2 + self
            .filters
            .iter()
            .map(|f| field_len(f.filter.as_bytes()) + 1)
            .sum::<usize>();
        if protocol.is_v5() {
            len += properties::block_len(&self.properties);
        }
        len
    }

    fn write_body(&self, protocol: Protocol, buf: &mut BytesMut) -> Result<(), EncodeError> {
        buf.put_u16(self.packet_id);
        if protocol.is_v5() {
            properties::write(&self.properties, buf)?;
        }
        for f in &self.filters {
            write_string(buf, &f.filter)?;
            buf.put_u8(f.options.encode(protocol));
        }
        Ok(())
    }
}
