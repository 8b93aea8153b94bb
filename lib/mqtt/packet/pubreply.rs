//! PUBACK, PUBREC, PUBREL and PUBCOMP (spec 3.4–3.7): the replies of the QoS 1 and QoS 2
//! flows. They share one shape: a packet identifier, a v5 reason code, v5 properties.

use bytes::{BufMut, BytesMut};

use super::{Body, read_packet_id, read_reason_tail, reason_tail_len, write_reason_tail};
use crate::mqtt::properties::{
    PropertySet, UserProperty, Value, ValueRef, each_str, each_user, id, not_allowed, once,
};
use crate::mqtt::wire::Reader;
use crate::mqtt::{DecodeError, EncodeError, MqttString, Protocol, ReasonCode};

/// A reply in a QoS flow: PUBACK, PUBREC, PUBREL or PUBCOMP (the [`super::Packet`] variant says which).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PubReply {
    /// The identifier of the PUBLISH (or PUBREL) this answers.
    pub packet_id: u16,
    /// v5 reason code; always Success in 3.x.
    pub reason: ReasonCode,
    /// v5 properties.
    pub properties: AckProperties,
}

/// The properties of acknowledgements: PUBACK/PUBREC/PUBREL/PUBCOMP, SUBACK, UNSUBACK.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AckProperties {
    pub reason_string: Option<MqttString>,
    pub user_properties: Vec<UserProperty>,
}

impl PropertySet for AckProperties {
    const PACKET: &'static str = "an acknowledgement";

    fn accept(&mut self, pid: u8, value: Value) -> Result<(), DecodeError> {
        match (pid, value) {
            (id::REASON_STRING, Value::Str(v)) => once(&mut self.reason_string, v, pid),
            (id::USER_PROPERTY, Value::Pair(k, v)) => {
                self.user_properties.push((k, v));
                Ok(())
            }
            (pid, _) => Err(not_allowed(pid, Self::PACKET)),
        }
    }

    fn each(&self, f: &mut dyn FnMut(u8, ValueRef<'_>)) {
        each_str(&self.reason_string, id::REASON_STRING, f);
        each_user(&self.user_properties, f);
    }
}

impl PubReply {
    /// A successful reply for `packet_id`.
    pub fn new(packet_id: u16) -> PubReply {
        PubReply {
            packet_id,
            ..PubReply::default()
        }
    }

    /// A reply with a reason code.
    pub fn with_reason(packet_id: u16, reason: ReasonCode) -> PubReply {
        PubReply {
            packet_id,
            reason,
            properties: AckProperties::default(),
        }
    }

    /// Decodes the body of `packet` (its name), whose v5 reason codes are `codes`.
    pub(crate) fn decode(
        r: &mut Reader,
        protocol: Protocol,
        packet: &'static str,
        codes: &[u8],
    ) -> Result<PubReply, DecodeError> {
        let packet_id = read_packet_id(r)?;
        if !protocol.is_v5() {
            return Ok(PubReply::new(packet_id));
        }
        let (reason, properties) = read_reason_tail(r, codes, packet)?;
        Ok(PubReply {
            packet_id,
            reason,
            properties,
        })
    }
}

impl Body for PubReply {
    fn body_len(&self, protocol: Protocol) -> usize {
        2 + if protocol.is_v5() {
            reason_tail_len(self.reason, &self.properties)
        } else {
            0
        }
    }

    fn write_body(&self, protocol: Protocol, buf: &mut BytesMut) -> Result<(), EncodeError> {
        buf.put_u16(self.packet_id);
        if protocol.is_v5() {
            write_reason_tail(self.reason, &self.properties, buf)?;
        }
        Ok(())
    }
}
