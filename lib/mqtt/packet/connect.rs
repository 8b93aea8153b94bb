//! CONNECT (spec 3.1): the first packet of a connection, with the will message.

use bytes::{BufMut, Bytes, BytesMut};

use super::Body;
use crate::mqtt::properties::{
    self, PropertySet, UserProperty, Value, ValueRef, each_bin, each_flag, each_str, each_u16,
    each_u32, each_user, flag, id, nonzero_u16, nonzero_u32, not_allowed, once,
};
use crate::mqtt::topic::valid_topic_name;
use crate::mqtt::wire::{Reader, field_len, write_binary, write_string};
use crate::mqtt::{DecodeError, EncodeError, MqttString, Protocol, QoS};

/// CONNECT: who the client is and how its session should behave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    /// The protocol version named by the packet; the whole connection speaks it.
    pub protocol: Protocol,
    /// Clean session (3.x) / clean start (5.0).
    pub clean_start: bool,
    /// Keep alive in seconds; 0 turns the mechanism off.
    pub keep_alive: u16,
    /// The client identifier; may be empty (the server then assigns one or refuses).
    pub client_id: MqttString,
    /// The will message, if the will flag is set.
    pub will: Option<LastWill>,
    /// User name, if the flag is set.
    pub username: Option<MqttString>,
    /// Password, if the flag is set.
    pub password: Option<Bytes>,
    /// v5 properties (empty for 3.x).
    pub properties: ConnectProperties,
}

/// The will message of CONNECT, published when the connection ends abnormally.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LastWill {
    /// Topic the will is published to.
    pub topic: MqttString,
    /// Its payload.
    pub payload: Bytes,
    /// Its QoS.
    pub qos: QoS,
    /// Whether it is published retained.
    pub retain: bool,
    /// v5 will properties.
    pub properties: WillProperties,
}

/// v5 CONNECT properties (spec 3.1.2.11).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectProperties {
    pub session_expiry_interval: Option<u32>,
    /// Never 0 `[MQTT-3.1.2.11.3]`.
    pub receive_maximum: Option<u16>,
    /// Never 0.
    pub maximum_packet_size: Option<u32>,
    pub topic_alias_maximum: Option<u16>,
    pub request_response_information: Option<bool>,
    pub request_problem_information: Option<bool>,
    pub user_properties: Vec<UserProperty>,
    pub authentication_method: Option<MqttString>,
    pub authentication_data: Option<Bytes>,
}

impl PropertySet for ConnectProperties {
    const PACKET: &'static str = "CONNECT";

    fn accept(&mut self, pid: u8, value: Value) -> Result<(), DecodeError> {
        match (pid, value) {
            (id::SESSION_EXPIRY_INTERVAL, Value::U32(v)) => {
                once(&mut self.session_expiry_interval, v, pid)
            }
            (id::RECEIVE_MAXIMUM, Value::U16(v)) => {
                once(&mut self.receive_maximum, nonzero_u16(v, pid)?, pid)
            }
            (id::MAXIMUM_PACKET_SIZE, Value::U32(v)) => {
                once(&mut self.maximum_packet_size, nonzero_u32(v, pid)?, pid)
            }
            (id::TOPIC_ALIAS_MAXIMUM, Value::U16(v)) => once(&mut self.topic_alias_maximum, v, pid),
            (id::REQUEST_RESPONSE_INFORMATION, Value::Byte(v)) => {
                once(&mut self.request_response_information, flag(v, pid)?, pid)
            }
            (id::REQUEST_PROBLEM_INFORMATION, Value::Byte(v)) => {
                once(&mut self.request_problem_information, flag(v, pid)?, pid)
            }
            (id::USER_PROPERTY, Value::Pair(k, v)) => {
                self.user_properties.push((k, v));
                Ok(())
            }
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
        each_u32(self.maximum_packet_size, id::MAXIMUM_PACKET_SIZE, f);
        each_u16(self.topic_alias_maximum, id::TOPIC_ALIAS_MAXIMUM, f);
        each_flag(
            self.request_response_information,
            id::REQUEST_RESPONSE_INFORMATION,
            f,
        );
        each_flag(
            self.request_problem_information,
            id::REQUEST_PROBLEM_INFORMATION,
            f,
        );
        each_user(&self.user_properties, f);
        each_str(&self.authentication_method, id::AUTHENTICATION_METHOD, f);
        each_bin(&self.authentication_data, id::AUTHENTICATION_DATA, f);
    }
}

/// v5 will properties (spec 3.1.3.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WillProperties {
    pub will_delay_interval: Option<u32>,
    /// `Some(true)`: the payload is UTF-8.
    pub payload_format_indicator: Option<bool>,
    pub message_expiry_interval: Option<u32>,
    pub content_type: Option<MqttString>,
    pub response_topic: Option<MqttString>,
    pub correlation_data: Option<Bytes>,
    pub user_properties: Vec<UserProperty>,
}

impl PropertySet for WillProperties {
    const PACKET: &'static str = "CONNECT will properties";

    fn accept(&mut self, pid: u8, value: Value) -> Result<(), DecodeError> {
        match (pid, value) {
            (id::WILL_DELAY_INTERVAL, Value::U32(v)) => once(&mut self.will_delay_interval, v, pid),
            (id::PAYLOAD_FORMAT_INDICATOR, Value::Byte(v)) => {
                once(&mut self.payload_format_indicator, flag(v, pid)?, pid)
            }
            (id::MESSAGE_EXPIRY_INTERVAL, Value::U32(v)) => {
                once(&mut self.message_expiry_interval, v, pid)
            }
            (id::CONTENT_TYPE, Value::Str(v)) => once(&mut self.content_type, v, pid),
            (id::RESPONSE_TOPIC, Value::Str(v)) => {
                if !valid_topic_name(&v) {
                    return Err(DecodeError::InvalidPropertyValue(pid));
                }
                once(&mut self.response_topic, v, pid)
            }
            (id::CORRELATION_DATA, Value::Bin(v)) => once(&mut self.correlation_data, v, pid),
            (id::USER_PROPERTY, Value::Pair(k, v)) => {
                self.user_properties.push((k, v));
                Ok(())
            }
            (pid, _) => Err(not_allowed(pid, Self::PACKET)),
        }
    }

    fn each(&self, f: &mut dyn FnMut(u8, ValueRef<'_>)) {
        each_u32(self.will_delay_interval, id::WILL_DELAY_INTERVAL, f);
        each_flag(
            self.payload_format_indicator,
            id::PAYLOAD_FORMAT_INDICATOR,
            f,
        );
        each_u32(self.message_expiry_interval, id::MESSAGE_EXPIRY_INTERVAL, f);
        each_str(&self.content_type, id::CONTENT_TYPE, f);
        each_str(&self.response_topic, id::RESPONSE_TOPIC, f);
        each_bin(&self.correlation_data, id::CORRELATION_DATA, f);
        each_user(&self.user_properties, f);
    }
}

const FLAG_RESERVED: u8 = 0x01;
const FLAG_CLEAN: u8 = 0x02;
const FLAG_WILL: u8 = 0x04;
const FLAG_WILL_RETAIN: u8 = 0x20;
const FLAG_PASSWORD: u8 = 0x40;
const FLAG_USERNAME: u8 = 0x80;

impl Connect {
    /// A CONNECT with a client id and defaults: clean start, keep alive 60 s, no will.
    pub fn new(protocol: Protocol, client_id: impl Into<MqttString>) -> Connect {
        Connect {
            protocol,
            clean_start: true,
            keep_alive: 60,
            client_id: client_id.into(),
            will: None,
            username: None,
            password: None,
            properties: ConnectProperties::default(),
        }
    }

    pub(crate) fn decode(r: &mut Reader) -> Result<Connect, DecodeError> {
        let name = r.string()?;
        let level = r.u8()?;
        let protocol = Protocol::from_name_and_level(&name, level).ok_or_else(|| {
            DecodeError::UnsupportedProtocol {
                name: name.to_string(),
                level,
            }
        })?;
        let flags = r.u8()?;
        if flags & FLAG_RESERVED != 0 {
            return Err(DecodeError::Malformed("CONNECT reserved flag is set")); // [MQTT-3.1.2-3]
        }
        let will_qos = (flags >> 3) & 0x03;
        if flags & FLAG_WILL == 0 && (will_qos != 0 || flags & FLAG_WILL_RETAIN != 0) {
            // [MQTT-3.1.2-11], [MQTT-3.1.2-13], [MQTT-3.1.2-15]
            return Err(DecodeError::Malformed(
                "will QoS or retain set without the will flag",
            ));
        }
        let will_qos = QoS::from_u8(will_qos).ok_or(DecodeError::Malformed("will QoS 3"))?; // [MQTT-3.1.2-14]
        if !protocol.is_v5() && flags & FLAG_PASSWORD != 0 && flags & FLAG_USERNAME == 0 {
            return Err(DecodeError::Malformed(
                "password flag without user name flag",
            )); // [MQTT-3.1.2-22]
        }
        let keep_alive = r.u16()?;
        let properties = if protocol.is_v5() {
            properties::read(r)?
        } else {
            ConnectProperties::default()
        };
        if properties.authentication_data.is_some() && properties.authentication_method.is_none() {
            return Err(DecodeError::Protocol(
                "authentication data without authentication method",
            ));
        }
        let client_id = r.string()?;
        let will = if flags & FLAG_WILL != 0 {
            let will_props = if protocol.is_v5() {
                properties::read(r)?
            } else {
                WillProperties::default()
            };
            let topic = r.string()?;
            if !valid_topic_name(&topic) {
                return Err(DecodeError::TopicName(
                    "will topic is empty or holds wildcards",
                ));
            }
            let payload = r.binary()?;
            Some(LastWill {
                topic,
                payload,
                qos: will_qos,
                retain: flags & FLAG_WILL_RETAIN != 0,
                properties: will_props,
            })
        } else {
            None
        };
        let username = if flags & FLAG_USERNAME != 0 {
            Some(r.string()?)
        } else {
            None
        };
        let password = if flags & FLAG_PASSWORD != 0 {
            Some(r.binary()?)
        } else {
            None
        };
        Ok(Connect {
            protocol,
            clean_start: flags & FLAG_CLEAN != 0,
            keep_alive,
            client_id,
            will,
            username,
            password,
            properties,
        })
    }

    fn flags(&self) -> u8 {
        let mut flags = 0;
        if self.clean_start {
            flags |= FLAG_CLEAN;
        }
        if let Some(will) = &self.will {
            flags |= FLAG_WILL | (will.qos as u8) << 3;
            if will.retain {
                flags |= FLAG_WILL_RETAIN;
            }
        }
        if self.username.is_some() {
            flags |= FLAG_USERNAME;
        }
        if self.password.is_some() {
            flags |= FLAG_PASSWORD;
        }
        flags
    }
}

impl Body for Connect {
    fn body_len(&self, _: Protocol) -> usize {
        let v5 = self.protocol.is_v5();
        let mut len = field_len(self.protocol.name().as_bytes()) + 1 + 1 + 2;
        if v5 {
            len += properties::block_len(&self.properties);
        }
        len += field_len(self.client_id.as_bytes());
        if let Some(will) = &self.will {
            if v5 {
                len += properties::block_len(&will.properties);
            }
            len += field_len(will.topic.as_bytes()) + field_len(&will.payload);
        }
        len += self
            .username
            .as_ref()
            .map_or(0, |u| field_len(u.as_bytes()));
        len += self.password.as_ref().map_or(0, |p| field_len(p));
        len
    }

    fn write_body(&self, _: Protocol, buf: &mut BytesMut) -> Result<(), EncodeError> {
        let v5 = self.protocol.is_v5();
        write_string(buf, self.protocol.name())?;
        buf.put_u8(self.protocol.level());
        buf.put_u8(self.flags());
        buf.put_u16(self.keep_alive);
        if v5 {
            properties::write(&self.properties, buf)?;
        }
        write_string(buf, &self.client_id)?;
        if let Some(will) = &self.will {
            if v5 {
                properties::write(&will.properties, buf)?;
            }
            write_string(buf, &will.topic)?;
            write_binary(buf, &will.payload)?;
        }
        if let Some(u) = &self.username {
            write_string(buf, u)?;
        }
        if let Some(p) = &self.password {
            write_binary(buf, p)?;
        }
        Ok(())
    }
}
