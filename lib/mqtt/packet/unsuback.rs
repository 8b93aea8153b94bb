//! UNSUBACK (spec 3.11): v5 carries one reason code per filter; 3.x only the identifier.

use bytes::{BufMut, BytesMut};

use super::{AckProperties, Body, check_reason, read_packet_id};
use crate::mqtt::properties;
use crate::mqtt::reason::allowed;
use crate::mqtt::wire::Reader;
use crate::mqtt::{DecodeError, EncodeError, Protocol, ReasonCode};

/// UNSUBACK: the answer to UNSUBSCRIBE.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnsubAck {
    /// The identifier of the UNSUBSCRIBE this answers.
    pub packet_id: u16,
    /// v5: one code per filter; empty in 3.x.
    pub reasons: Vec<ReasonCode>,
    /// v5 properties.
    pub properties: AckProperties,
}

impl UnsubAck {
    pub(crate) fn decode(r: &mut Reader, protocol: Protocol) -> Result<UnsubAck, DecodeError> {
        let packet_id = read_packet_id(r)?;
        if !protocol.is_v5() {
            return Ok(UnsubAck {
                packet_id,
                ..UnsubAck::default()
            });
        }
        let properties = properties::read(r)?;
        let mut reasons = Vec::with_capacity(r.remaining());
        while !r.is_empty() {
            reasons.push(check_reason(r.u8()?, allowed::UNSUBACK, "UNSUBACK")?);
        }
        if reasons.is_empty() {
            return Err(DecodeError::Protocol("UNSUBACK without a reason code"));
        }
        Ok(UnsubAck {
            packet_id,
            reasons,
            properties,
        })
    }
}

impl Body for UnsubAck {
    fn body_len(&self, protocol: Protocol) -> usize {
        if protocol.is_v5() {
            2 + properties::block_len(&self.properties) + self.reasons.len()
        } else {
            2
        }
    }

    fn write_body(&self, protocol: Protocol, buf: &mut BytesMut) -> Result<(), EncodeError> {
        buf.put_u16(self.packet_id);
        if protocol.is_v5() {
            properties::write(&self.properties, buf)?;
            for r in &self.reasons {
                buf.put_u8(r.0);
            }
        }
        Ok(())
    }
}
