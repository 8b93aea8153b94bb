//! AUTH (spec 3.15, v5 only): the exchange of enhanced authentication.

use bytes::{Bytes, BytesMut};

use super::{Body, read_reason_tail, reason_tail_len, write_reason_tail};
use crate::mqtt::properties::{
    PropertySet, UserProperty, Value, ValueRef, each_bin, each_str, each_user, id, not_allowed,
    once,
};
use crate::mqtt::reason::allowed;
use crate::mqtt::wire::Reader;
use crate::mqtt::{DecodeError, EncodeError, MqttString, Protocol, ReasonCode};

/// AUTH: one step of an enhanced authentication exchange.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Auth {
    /// 0x00 success, 0x18 continue authentication, 0x19 re-authenticate.
    pub reason: ReasonCode,
    /// Its properties.
    pub properties: AuthProperties,
}

/// AUTH properties (spec 3.15.2.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthProperties {
    pub authentication_method: Option<MqttString>,
    pub authentication_data: Option<Bytes>,
    pub reason_string: Option<MqttString>,
    pub user_properties: Vec<UserProperty>,
}

impl PropertySet for AuthProperties {
    const PACKET: &'static str = "AUTH";

    fn accept(&mut self, pid: u8, value: Value) -> Result<(), DecodeError> {
        match (pid, value) {
            (id::AUTHENTICATION_METHOD, Value::Str(v)) => {
                once(&mut self.authentication_method, v, pid)
            }
            (id::AUTHENTICATION_DATA, Value::Bin(v)) => once(&mut self.authentication_data, v, pid),
            (id::REASON_STRING, Value::Str(v)) => once(&mut self.reason_string, v, pid),
            (id::USER_PROPERTY, Value::Pair(k, v)) => {
                self.user_properties.push((k, v));
                Ok(())
            }
            (pid, _) => Err(not_allowed(pid, Self::PACKET)),
        }
    }

    fn each(&self, f: &mut dyn FnMut(u8, ValueRef<'_>)) {
        each_str(&self.authentication_method, id::AUTHENTICATION_METHOD, f);
        each_bin(&self.authentication_data, id::AUTHENTICATION_DATA, f);
        each_str(&self.reason_string, id::REASON_STRING, f);
        each_user(&self.user_properties, f);
    }
}

impl Auth {
    pub(crate) fn decode(r: &mut Reader) -> Result<Auth, DecodeError> {
        let (reason, properties): (ReasonCode, AuthProperties) =
            read_reason_tail(r, allowed::AUTH, "AUTH")?;
        if properties.authentication_data.is_some() && properties.authentication_method.is_none() {
            return Err(DecodeError::Protocol(
                "authentication data without authentication method",
            ));
        }
        Ok(Auth { reason, properties })
    }
}

impl Body for Auth {
    fn body_len(&self, _: Protocol) -> usize {
        reason_tail_len(self.reason, &self.properties)
    }

    fn write_body(&self, _: Protocol, buf: &mut BytesMut) -> Result<(), EncodeError> {
        write_reason_tail(self.reason, &self.properties, buf)
    }
}
