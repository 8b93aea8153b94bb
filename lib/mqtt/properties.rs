//! MQTT 5.0 properties (spec 2.2.2): identifiers, value types, and the generic reading,
//! sizing and writing of a property block. Each packet's own property struct lives beside the
//! packet and says, through [`PropertySet`], which identifiers it accepts.

use bytes::{BufMut, Bytes, BytesMut};

use super::wire::{Reader, field_len, varint_len, write_binary, write_string, write_varint};
use super::{DecodeError, EncodeError, MqttString, QoS};

/// Property identifiers (spec table 2-4).
pub mod id {
    pub const PAYLOAD_FORMAT_INDICATOR: u8 = 0x01;
    pub const MESSAGE_EXPIRY_INTERVAL: u8 = 0x02;
    pub const CONTENT_TYPE: u8 = 0x03;
    pub const RESPONSE_TOPIC: u8 = 0x08;
    pub const CORRELATION_DATA: u8 = 0x09;
    pub const SUBSCRIPTION_IDENTIFIER: u8 = 0x0B;
    pub const SESSION_EXPIRY_INTERVAL: u8 = 0x11;
    pub const ASSIGNED_CLIENT_IDENTIFIER: u8 = 0x12;
    pub const SERVER_KEEP_ALIVE: u8 = 0x13;
    pub const AUTHENTICATION_METHOD: u8 = 0x15;
    pub const AUTHENTICATION_DATA: u8 = 0x16;
    pub const REQUEST_PROBLEM_INFORMATION: u8 = 0x17;
    pub const WILL_DELAY_INTERVAL: u8 = 0x18;
    pub const REQUEST_RESPONSE_INFORMATION: u8 = 0x19;
    pub const RESPONSE_INFORMATION: u8 = 0x1A;
    pub const SERVER_REFERENCE: u8 = 0x1C;
    pub const REASON_STRING: u8 = 0x1F;
    pub const RECEIVE_MAXIMUM: u8 = 0x21;
    pub const TOPIC_ALIAS_MAXIMUM: u8 = 0x22;
    pub const TOPIC_ALIAS: u8 = 0x23;
    pub const MAXIMUM_QOS: u8 = 0x24;
    pub const RETAIN_AVAILABLE: u8 = 0x25;
    pub const USER_PROPERTY: u8 = 0x26;
    pub const MAXIMUM_PACKET_SIZE: u8 = 0x27;
    pub const WILDCARD_SUBSCRIPTION_AVAILABLE: u8 = 0x28;
    pub const SUBSCRIPTION_IDENTIFIER_AVAILABLE: u8 = 0x29;
    pub const SHARED_SUBSCRIPTION_AVAILABLE: u8 = 0x2A;
}

/// A user property: a name and a value, both strings; may repeat and keeps its order.
pub type UserProperty = (MqttString, MqttString);

/// A property value as read from the wire; its type follows from the identifier.
#[derive(Debug)]
pub(crate) enum Value {
    Byte(u8),
    U16(u16),
    U32(u32),
    VarInt(u32),
    Str(MqttString),
    Bin(Bytes),
    Pair(MqttString, MqttString),
}

/// A property value borrowed from a property struct, to size or write it.
pub(crate) enum ValueRef<'a> {
    Byte(u8),
    U16(u16),
    U32(u32),
    VarInt(u32),
    Str(&'a str),
    Bin(&'a [u8]),
    Pair(&'a str, &'a str),
}

/// A packet's property struct: which identifiers it takes, and the ones it holds.
pub(crate) trait PropertySet: Default {
    /// The packet type, for error messages.
    const PACKET: &'static str;
    /// Stores one property read from the wire, or rejects it as not allowed, repeated or out
    /// of range.
    fn accept(&mut self, id: u8, value: Value) -> Result<(), DecodeError>;
    /// Calls `f` for every property present, in identifier order of the struct.
    fn each(&self, f: &mut dyn FnMut(u8, ValueRef<'_>));
}

fn read_value(id: u32, r: &mut Reader) -> Result<Value, DecodeError> {
    let id = u8::try_from(id).map_err(|_| DecodeError::Malformed("unknown property identifier"))?;
    Ok(match id {
        0x01 | 0x17 | 0x19 | 0x24 | 0x25 | 0x28 | 0x29 | 0x2A => Value::Byte(r.u8()?),
        0x13 | 0x21 | 0x22 | 0x23 => Value::U16(r.u16()?),
        0x02 | 0x11 | 0x18 | 0x27 => Value::U32(r.u32()?),
        0x0B => Value::VarInt(r.varint()?),
        0x03 | 0x08 | 0x12 | 0x15 | 0x1A | 0x1C | 0x1F => Value::Str(r.string()?),
        0x09 | 0x16 => Value::Bin(r.binary()?),
        0x26 => Value::Pair(r.string()?, r.string()?),
        _ => return Err(DecodeError::Malformed("unknown property identifier")),
    })
}

/// Reads a property block: its length, then properties until that length is used up.
pub(crate) fn read<P: PropertySet>(r: &mut Reader) -> Result<P, DecodeError> {
    let len = r.varint()? as usize;
    if len > r.remaining() {
        return Err(DecodeError::Malformed("property length exceeds the packet"));
    }
    let mut block = Reader::new(r.take(len)?);
    let mut props = P::default();
    while !block.is_empty() {
        let id = block.varint()?;
        let value = read_value(id, &mut block)?;
        props.accept(id as u8, value)?;
    }
    Ok(props)
}

fn value_len(v: &ValueRef<'_>) -> usize {
    match v {
        ValueRef::Byte(_) => 1,
        ValueRef::U16(_) => 2,
        ValueRef::U32(_) => 4,
        ValueRef::VarInt(x) => varint_len(*x as usize),
        ValueRef::Str(s) => field_len(s.as_bytes()),
        ValueRef::Bin(b) => field_len(b),
        ValueRef::Pair(k, v) => field_len(k.as_bytes()) + field_len(v.as_bytes()),
    }
}

/// Length of the properties themselves, without the length prefix.
pub(crate) fn content_len<P: PropertySet>(props: &P) -> usize {
    let mut n = 0;
    props.each(&mut |_, v| n += 1 + value_len(&v));
    n
}

/// Length of the whole property block, length prefix included.
pub(crate) fn block_len<P: PropertySet>(props: &P) -> usize {
    let n = content_len(props);
    varint_len(n) + n
}

/// Writes the property block: its length, then each property.
pub(crate) fn write<P: PropertySet>(props: &P, buf: &mut BytesMut) -> Result<(), EncodeError> {
    write_varint(buf, content_len(props))?;
    let mut result = Ok(());
    props.each(&mut |id, v| {
        if result.is_err() {
            return;
        }
        buf.put_u8(id);
        result = match v {
            ValueRef::Byte(x) => {
                buf.put_u8(x);
                Ok(())
            }
            ValueRef::U16(x) => {
                buf.put_u16(x);
                Ok(())
            }
            ValueRef::U32(x) => {
                buf.put_u32(x);
                Ok(())
            }
            ValueRef::VarInt(x) => write_varint(buf, x as usize),
            ValueRef::Str(s) => write_string(buf, s),
            ValueRef::Bin(b) => write_binary(buf, b),
            ValueRef::Pair(k, v) => write_string(buf, k).and_then(|_| write_string(buf, v)),
        };
    });
    result
}

/// Stores a property that may appear at most once.
pub(crate) fn once<T>(slot: &mut Option<T>, value: T, id: u8) -> Result<(), DecodeError> {
    if slot.is_some() {
        return Err(DecodeError::RepeatedProperty(id));
    }
    *slot = Some(value);
    Ok(())
}

/// A byte property that may only be 0 or 1.
pub(crate) fn flag(value: u8, id: u8) -> Result<bool, DecodeError> {
    match value {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(DecodeError::InvalidPropertyValue(id)),
    }
}

/// A two-byte property that must not be 0 (receive maximum, topic alias maximum is allowed 0).
pub(crate) fn nonzero_u16(value: u16, id: u8) -> Result<u16, DecodeError> {
    if value == 0 {
        Err(DecodeError::InvalidPropertyValue(id))
    } else {
        Ok(value)
    }
}

/// A four-byte property that must not be 0 (maximum packet size).
pub(crate) fn nonzero_u32(value: u32, id: u8) -> Result<u32, DecodeError> {
    if value == 0 {
        Err(DecodeError::InvalidPropertyValue(id))
    } else {
        Ok(value)
    }
}

/// The rejection of an identifier the packet type does not take.
pub(crate) fn not_allowed(id: u8, packet: &'static str) -> DecodeError {
    DecodeError::PropertyNotAllowed { id, packet }
}

/// Visits user properties in order.
pub(crate) fn each_user(users: &[UserProperty], f: &mut dyn FnMut(u8, ValueRef<'_>)) {
    for (k, v) in users {
        f(id::USER_PROPERTY, ValueRef::Pair(k, v));
    }
}

/// Visits an optional string property.
pub(crate) fn each_str(value: &Option<MqttString>, pid: u8, f: &mut dyn FnMut(u8, ValueRef<'_>)) {
    if let Some(s) = value {
        f(pid, ValueRef::Str(s));
    }
}

/// Visits an optional binary property.
pub(crate) fn each_bin(value: &Option<Bytes>, pid: u8, f: &mut dyn FnMut(u8, ValueRef<'_>)) {
    if let Some(b) = value {
        f(pid, ValueRef::Bin(b));
    }
}

/// Visits an optional 0/1 byte property.
pub(crate) fn each_flag(value: Option<bool>, pid: u8, f: &mut dyn FnMut(u8, ValueRef<'_>)) {
    if let Some(b) = value {
        f(pid, ValueRef::Byte(b as u8));
    }
}

/// Visits an optional two-byte property.
pub(crate) fn each_u16(value: Option<u16>, pid: u8, f: &mut dyn FnMut(u8, ValueRef<'_>)) {
    if let Some(x) = value {
        f(pid, ValueRef::U16(x));
    }
}

/// Visits an optional four-byte property.
pub(crate) fn each_u32(value: Option<u32>, pid: u8, f: &mut dyn FnMut(u8, ValueRef<'_>)) {
    if let Some(x) = value {
        f(pid, ValueRef::U32(x));
    }
}

/// Maximum QoS in CONNACK is a byte of 0 or 1 (`[MQTT-3.2.2-9]`: 2 is never sent).
pub(crate) fn maximum_qos(value: u8) -> Result<QoS, DecodeError> {
    match value {
        0 => Ok(QoS::AtMostOnce),
        1 => Ok(QoS::AtLeastOnce),
        _ => Err(DecodeError::InvalidPropertyValue(id::MAXIMUM_QOS)),
    }
}
