//! Errors of decoding and encoding, and the reason code each decode error answers with.

use super::{Protocol, ReasonCode};

/// Why bytes from a peer are not a valid MQTT packet.
///
/// Every variant maps to the reason code a v5 receiver puts in its DISCONNECT (or CONNACK);
/// a v3 receiver simply closes the connection.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The bytes break the packet format: 0x81 Malformed Packet.
    #[error("malformed packet: {0}")]
    Malformed(&'static str),
    /// The packet is well formed but breaks a rule of the protocol: 0x82 Protocol Error.
    #[error("protocol error: {0}")]
    Protocol(&'static str),
    /// The packet is larger than the receiver's maximum: 0x95 Packet too large.
    #[error("packet of {size} bytes exceeds the maximum packet size of {max} bytes")]
    TooLarge {
        /// Size of the whole packet the fixed header announces.
        size: usize,
        /// The limit in force.
        max: usize,
    },
    /// CONNECT names a protocol or level we do not speak: 0x84 (v3 CONNACK 0x01).
    #[error("unsupported protocol name {name:?} or level {level}")]
    UnsupportedProtocol {
        /// The protocol name found in CONNECT.
        name: String,
        /// The protocol level found in CONNECT.
        level: u8,
    },
    /// A property appears twice where it may appear once: 0x82.
    #[error("property 0x{0:02X} appears more than once")]
    RepeatedProperty(u8),
    /// A property that this packet type may not carry: 0x81.
    #[error("property 0x{id:02X} is not allowed in {packet}")]
    PropertyNotAllowed {
        /// The property identifier.
        id: u8,
        /// The packet type it was found in.
        packet: &'static str,
    },
    /// A property with a value outside its range: 0x82.
    #[error("property 0x{0:02X} has a value outside its allowed range")]
    InvalidPropertyValue(u8),
    /// A reason code that this packet type may not carry: 0x82.
    #[error("reason code 0x{code:02X} is not valid in {packet}")]
    InvalidReasonCode {
        /// The code found.
        code: u8,
        /// The packet type it was found in.
        packet: &'static str,
    },
    /// A topic name (PUBLISH or will) that holds wildcards, or an empty will topic: 0x90.
    #[error("invalid topic name: {0}")]
    TopicName(&'static str),
    /// Topic alias 0 `[MQTT-3.3.2-8]`: 0x94 Topic Alias invalid.
    #[error("topic alias 0 is not allowed")]
    TopicAliasZero,
}

impl DecodeError {
    /// The v5 reason code that reports this error to the peer.
    pub fn reason_code(&self) -> ReasonCode {
        match self {
            DecodeError::Malformed(_) | DecodeError::PropertyNotAllowed { .. } => {
                ReasonCode::MALFORMED_PACKET
            }
            DecodeError::Protocol(_)
            | DecodeError::RepeatedProperty(_)
            | DecodeError::InvalidPropertyValue(_)
            | DecodeError::InvalidReasonCode { .. } => ReasonCode::PROTOCOL_ERROR,
            DecodeError::TooLarge { .. } => ReasonCode::PACKET_TOO_LARGE,
            DecodeError::UnsupportedProtocol { .. } => ReasonCode::UNSUPPORTED_PROTOCOL_VERSION,
            DecodeError::TopicName(_) => ReasonCode::TOPIC_NAME_INVALID,
            DecodeError::TopicAliasZero => ReasonCode::TOPIC_ALIAS_INVALID,
        }
    }
}

/// Why a packet cannot be written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The remaining length would exceed 268,435,455, the largest MQTT can express.
    #[error("packet body of {0} bytes exceeds the MQTT limit of 268435455")]
    TooLarge(usize),
    /// A string or binary field is longer than the two-byte length prefix allows.
    #[error("field of {0} bytes exceeds 65535 bytes")]
    FieldTooLong(usize),
    /// The packet type does not exist in the protocol version (AUTH before 5.0).
    #[error("{packet} does not exist in {protocol}")]
    NotInProtocol {
        /// The packet type.
        packet: &'static str,
        /// The version asked for.
        protocol: Protocol,
    },
}
