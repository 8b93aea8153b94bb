//! DISCONNECT (spec 3.14): the end of a connection, from either side in v5.

use bytes::BytesMut;

use super::{Body, read_reason_tail, reason_tail_len, write_reason_tail};
use crate::mqtt::properties::{
    PropertySet, UserProperty, Value, ValueRef, each_str, each_u32, each_user, id, not_allowed,
    once,
};
use crate::mqtt::reason::allowed;
use crate::mqtt::wire::Reader;
use crate::mqtt::{DecodeError, EncodeError, MqttString, Protocol, ReasonCode};

/// DISCONNECT: why the connection ends. Empty in 3.x.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Disconnect {
    /// v5 reason code; 0x00 is a normal disconnection.
    pub reason: ReasonCode,
    /// v5 properties.
    pub properties: DisconnectProperties,
}

/// v5 DISCONNECT properties (spec 3.14.2.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DisconnectProperties {
    /// Client to server only.
    pub session_expiry_interval: Option<u32>,
    pub reason_string: Option<MqttString>,
    pub user_properties: Vec<UserProperty>,
    /// Server to client only.
    pub server_reference: Option<MqttString>,
}

impl PropertySet for DisconnectProperties {
    const PACKET: &'static str = "DISCONNECT";

    fn accept(&mut self, pid: u8, value: Value) -> Result<(), DecodeError> {
        match (pid, value) {
            (id::SESSION_EXPIRY_INTERVAL, Value::U32(v)) => {
                once(&mut self.session_expiry_interval, v, pid)
            }
            (id::REASON_STRING, Value::Str(v)) => once(&mut self.reason_string, v, pid),
            (id::USER_PROPERTY, Value::Pair(k, v)) => {
                self.user_properties.push((k, v));
                Ok(())
            }
            (id::SERVER_REFERENCE, Value::Str(v)) => once(&mut self.server_reference, v, pid),
            (pid, _) => Err(not_allowed(pid, Self::PACKET)),
        }
    }

    fn each(&self, f: &mut dyn FnMut(u8, ValueRef<'_>)) {
        each_u32(self.session_expiry_interval, id::SESSION_EXPIRY_INTERVAL, f);
        each_str(&self.reason_string, id::REASON_STRING, f);
        each_user(&self.user_properties, f);
        each_str(&self.server_reference, id::SERVER_REFERENCE, f);
    }
}

impl Disconnect {
    /// A DISCONNECT with a reason code and no properties.
    pub fn new(reason: ReasonCode) -> Disconnect {
        Disconnect {
            reason,
            properties: DisconnectProperties::default(),
        }
    }

    pub(crate) fn decode(r: &mut Reader, protocol: Protocol) -> Result<Disconnect, DecodeError> {
        if !protocol.is_v5() {
            return Ok(Disconnect::default());
        }
        let (reason, properties) = read_reason_tail(r, allowed::DISCONNECT, "DISCONNECT")?;
        Ok(Disconnect { reason, properties })
    }
}

impl Body for Disconnect {
    fn body_len(&self, protocol: Protocol) -> usize {
        if protocol.is_v5() {
            reason_tail_len(self.reason, &self.properties)
        } else {
            0
        }
    }

    fn write_body(&self, protocol: Protocol, buf: &mut BytesMut) -> Result<(), EncodeError> {
        if protocol.is_v5() {
            write_reason_tail(self.reason, &self.properties, buf)?;
        }
        Ok(())
    }
}
