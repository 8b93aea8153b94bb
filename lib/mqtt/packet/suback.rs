//! SUBACK (spec 3.9): one reason code per filter of SUBSCRIBE.

use bytes::{BufMut, BytesMut};

use super::{AckProperties, Body, check_reason, read_packet_id};
use crate::mqtt::properties;
use crate::mqtt::reason::allowed;
use crate::mqtt::wire::Reader;
use crate::mqtt::{DecodeError, EncodeError, Protocol, ReasonCode};

/// SUBACK: the granted QoS (or a failure code) for each filter, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubAck {
    /// The identifier of the SUBSCRIBE this answers.
    pub packet_id: u16,
    /// One code per filter `[MQTT-3.8.4-6]`.
    pub reasons: Vec<ReasonCode>,
    /// v5 properties.
    pub properties: AckProperties,
}

impl SubAck {
    pub(crate) fn decode(r: &mut Reader, protocol: Protocol) -> Result<SubAck, DecodeError> {
        let packet_id = read_packet_id(r)?;
        let properties = if protocol.is_v5() {
            properties::read(r)?
        } else {
            AckProperties::default()
        };
        let set = if protocol.is_v5() {
            allowed::SUBACK
        } else {
            allowed::SUBACK_V3
        };
        let mut reasons = Vec::with_capacity(r.remaining());
        while !r.is_empty() {
            reasons.push(check_reason(r.u8()?, set, "SUBACK")?);
        }
        if reasons.is_empty() {
            return Err(DecodeError::Protocol("SUBACK without a reason code"));
        }
        Ok(SubAck {
            packet_id,
            reasons,
            properties,
        })
    }
}

impl Body for SubAck {
    fn body_len(&self, protocol: Protocol) -> usize {
        2 + self.reasons.len()
            + if protocol.is_v5() {
                properties::block_len(&self.properties)
            } else {
                0
            }
    }

    fn write_body(&self, protocol: Protocol, buf: &mut BytesMut) -> Result<(), EncodeError> {
        buf.put_u16(self.packet_id);
        if protocol.is_v5() {
            properties::write(&self.properties, buf)?;
        }
        for r in &self.reasons {
            buf.put_u8(r.0);
        }
        Ok(())
    }
}
