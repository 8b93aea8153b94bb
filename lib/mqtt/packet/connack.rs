//! CONNACK (spec 3.2): the server's answer to CONNECT.

use bytes::{BufMut, Bytes, BytesMut};

use super::{Body, check_reason};
use crate::mqtt::properties::{
    self, PropertySet, UserProperty, Value, ValueRef, each_bin, each_flag, each_str, each_u16,
    each_u32, each_user, flag, id, maximum_qos, nonzero_u16, nonzero_u32, not_allowed, once,
};
use crate::mqtt::reason::allowed;
use crate::mqtt::wire::Reader;
use crate::mqtt::{DecodeError, EncodeError, MqttString, Protocol, QoS, ReasonCode};

/// CONNACK: whether the connection is accepted, and (v5) the server's limits.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnAck {
    /// Whether the server resumed a session for this client id.
    pub session_present: bool,
    /// v5 reason code, or the 3.x return code (0..=5).
    pub code: ReasonCode,
    /// v5 properties.
    pub properties: ConnAckProperties,
}

/// v5 CONNACK properties (spec 3.2.2.3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnAckProperties {
    pub session_expiry_interval: Option<u32>,
    pub receive_maximum: Option<u16>,
    /// Only 0 or 1 are sent; absent means 2.
    pub maximum_qos: Option<QoS>,
    pub retain_available: Option<bool>,
    pub maximum_packet_size: Option<u32>,
    pub assigned_client_identifier: Option<MqttString>,
    pub topic_alias_maximum: Option<u16>,
    pub reason_string: Option<MqttString>,
    pub user_properties: Vec<UserProperty>,
    pub wildcard_subscription_available: Option<bool>,
    pub subscription_identifiers_available: Option<bool>,
    pub shared_subscription_available: Option<bool>,
    pub server_keep_alive: Option<u16>,
    pub response_information: Option<MqttString>,
    pub server_reference: Option<MqttString>,
    pub authentication_method: Option<MqttString>,
    pub authentication_data: Option<Bytes>,
}

impl PropertySet for ConnAckProperties {
    const PACKET: &'static str = "CONNACK";

    fn accept(&mut self, pid: u8, value: Value) -> Result<(), DecodeError> {
        match (pid, value) {
            (id::SESSION_EXPIRY_INTERVAL, Value::U32(v)) => {
                once(&mut self.session_expiry_interval, v, pid)
            }
            (id::RECEIVE_MAXIMUM, Value::U16(v)) => {
                once(&mut self.receive_maximum, nonzero_u16(v, pid)?, pid)
            }
            (id::MAXIMUM_QOS, Value::Byte(v)) => once(&mut self.maximum_qos, maximum_qos(v)?, pid),
            (id::RETAIN_AVAILABLE, Value::Byte(v)) => {
                once(&mut self.retain_available, flag(v, pid)?, pid)
            }
            (id::MAXIMUM_PACKET_SIZE, Value::U32(v)) => {
                once(&mut self.maximum_packet_size, nonzero_u32(v, pid)?, pid)
            }
            (id::ASSIGNED_CLIENT_IDENTIFIER, Value::Str(v)) => {
                once(&mut self.assigned_client_identifier, v, pid)
            }
            (id::TOPIC_ALIAS_MAXIMUM, Value::U16(v)) => once(&mut self.topic_alias_maximum, v, pid),
            (id::REASON_STRING, Value::Str(v)) => once(&mut self.reason_string, v, pid),
            (id::USER_PROPERTY, Value::Pair(k, v)) => {
                self.user_properties.push((k, v));
                Ok(())
            }
            (id::WILDCARD_SUBSCRIPTION_AVAILABLE, Value::Byte(v)) => once(
                &mut self.wildcard_subscription_available,
                flag(v, pid)?,
                pid,
            ),
            (id::SUBSCRIPTION_IDENTIFIER_AVAILABLE, Value::Byte(v)) => once(
                &mut self.subscription_identifiers_available,
                flag(v, pid)?,
                pid,
            ),
            (id::SHARED_SUBSCRIPTION_AVAILABLE, Value::Byte(v)) => {
                once(&mut self.shared_subscription_available, flag(v, pid)?, pid)
            }
            (id::SERVER_KEEP_ALIVE, Value::U16(v)) => once(&mut self.server_keep_alive, v, pid),
            (id::RESPONSE_INFORMATION, Value::Str(v)) => {
                once(&mut self.response_information, v, pid)
            }
            (id::SERVER_REFERENCE, Value::Str(v)) => once(&mut self.server_reference, v, pid),
            (id::AUTHENTICATION_METHOD, Value::Str(v)) => {
                once(&mut self.authentication_method, v, pid)
            }
            (id::AUTHENTICATION_DATA, Value::Bin(v)) => once(&mut self.authentication_data, v, pid),
            (pid, _) => Err(not_allowed(pid, Self::PACKET)),
        }
    }

    fn each(&self, f: &mut dyn FnMut(u8, ValueRef<'_>)) {
        each_u32(self.session_expiry_interval, id::SESSION_EXPIRY_INTERVAL, f);
        each_u16(self.receive_maximum, id::RECEIVE_MAXIMUM, f);
        if let Some(q) = self.maximum_qos {
            f(id::MAXIMUM_QOS, ValueRef::Byte(q as u8));
        }
        each_flag(self.retain_available, id::RETAIN_AVAILABLE, f);
        each_u32(self.maximum_packet_size, id::MAXIMUM_PACKET_SIZE, f);
        each_str(
            &self.assigned_client_identifier,
            id::ASSIGNED_CLIENT_IDENTIFIER,
            f,
        );
        each_u16(self.topic_alias_maximum, id::TOPIC_ALIAS_MAXIMUM, f);
        each_str(&self.reason_string, id::REASON_STRING, f);
        each_user(&self.user_properties, f);
        each_flag(
            self.wildcard_subscription_available,
            id::WILDCARD_SUBSCRIPTION_AVAILABLE,
            f,
        );
        each_flag(
            self.subscription_identifiers_available,
            id::SUBSCRIPTION_IDENTIFIER_AVAILABLE,
            f,
        );
        each_flag(
            self.shared_subscription_available,
            id::SHARED_SUBSCRIPTION_AVAILABLE,
            f,
        );
        each_u16(self.server_keep_alive, id::SERVER_KEEP_ALIVE, f);
        each_str(&self.response_information, id::RESPONSE_INFORMATION, f);
        each_str(&self.server_reference, id::SERVER_REFERENCE, f);
        each_str(&self.authentication_method, id::AUTHENTICATION_METHOD, f);
        each_bin(&self.authentication_data, id::AUTHENTICATION_DATA, f);
    }
}

impl ConnAck {
    /// A CONNACK with a code and no properties.
    pub fn new(code: ReasonCode, session_present: bool) -> ConnAck {
        ConnAck {
            session_present,
            code,
            properties: ConnAckProperties::default(),
        }
    }

    pub(crate) fn decode(r: &mut Reader, protocol: Protocol) -> Result<ConnAck, DecodeError> {
        let flags = r.u8()?;
        if flags & 0xFE != 0 {
            return Err(DecodeError::Malformed("CONNACK reserved flags are set")); // [MQTT-3.2.2-1]
        }
        // MQTT 3.1 has no session present flag (the encoder never sets it): ignore the bit.
        let session_present = flags & 0x01 != 0 && protocol != Protocol::V3_1;
        let set = if protocol.is_v5() {
            allowed::CONNACK
        } else {
            allowed::CONNACK_V3
        };
        let code = check_reason(r.u8()?, set, "CONNACK")?;
        if session_present && code != ReasonCode::SUCCESS {
            return Err(DecodeError::Protocol(
                "session present with a refused connection",
            )); // [MQTT-3.2.2-6]
        }
        let properties = if protocol.is_v5() {
            properties::read(r)?
        } else {
            ConnAckProperties::default()
        };
        Ok(ConnAck {
            session_present,
            code,
            properties,
        })
    }
}

impl Body for ConnAck {
    fn body_len(&self, protocol: Protocol) -> usize {
        2 + if protocol.is_v5() {
            properties::block_len(&self.properties)
        } else {
            0
        }
    }

    fn write_body(&self, protocol: Protocol, buf: &mut BytesMut) -> Result<(), EncodeError> {
        // MQTT 3.1 has no session present flag: the whole byte is reserved.
        let present = self.session_present && protocol != Protocol::V3_1;
        buf.put_u8(present as u8);
        buf.put_u8(self.code.0);
        if protocol.is_v5() {
            properties::write(&self.properties, buf)?;
        }
        Ok(())
    }
}
