//! UNSUBSCRIBE (spec 3.10): topic filters to remove.

use bytes::{BufMut, BytesMut};

use super::{Body, read_packet_id};
use crate::mqtt::properties::{
    self, PropertySet, UserProperty, Value, ValueRef, each_user, id, not_allowed,
};
use crate::mqtt::wire::{Reader, field_len, write_string};
use crate::mqtt::{DecodeError, EncodeError, MqttString, Protocol};

/// UNSUBSCRIBE: one or more topic filters, exactly as they were subscribed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Unsubscribe {
    /// Never 0.
    pub packet_id: u16,
    /// At least one `[MQTT-3.10.3-2]`.
    pub filters: Vec<MqttString>,
    /// v5 properties.
    pub properties: UnsubscribeProperties,
}

/// v5 UNSUBSCRIBE properties (spec 3.10.2.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnsubscribeProperties {
    pub user_properties: Vec<UserProperty>,
}

impl PropertySet for UnsubscribeProperties {
    const PACKET: &'static str = "UNSUBSCRIBE";

    fn accept(&mut self, pid: u8, value: Value) -> Result<(), DecodeError> {
        match (pid, value) {
            (id::USER_PROPERTY, Value::Pair(k, v)) => {
                self.user_properties.push((k, v));
                Ok(())
            }
            (pid, _) => Err(not_allowed(pid, Self::PACKET)),
        }
    }

    fn each(&self, f: &mut dyn FnMut(u8, ValueRef<'_>)) {
        each_user(&self.user_properties, f);
    }
}

impl Unsubscribe {
    pub(crate) fn decode(r: &mut Reader, protocol: Protocol) -> Result<Unsubscribe, DecodeError> {
        let packet_id = read_packet_id(r)?;
        let properties = if protocol.is_v5() {
            properties::read(r)?
        } else {
            UnsubscribeProperties::default()
        };
        let mut filters = Vec::new();
        while !r.is_empty() {
            filters.push(r.string()?);
        }
        if filters.is_empty() {
            return Err(DecodeError::Protocol("UNSUBSCRIBE without a topic filter")); // [MQTT-3.10.3-2]
        }
        Ok(Unsubscribe {
            packet_id,
            filters,
            properties,
        })
    }
}

impl Body for Unsubscribe {
    fn body_len(&self, protocol: Protocol) -> usize {
        let mut len = 2 + self
            .filters
            .iter()
            .map(|f| field_len(f.as_bytes()))
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
            write_string(buf, f)?;
        }
        Ok(())
    }
}
