//! The fifteen MQTT control packets: one file per packet type, each with its fields, its
//! properties, its decoder and its encoder. This file holds the [`Packet`] enum, the fixed
//! header, and the pieces several packets share.

mod auth;
mod connack;
mod connect;
mod disconnect;
mod publish;
mod pubreply;
mod suback;
mod subscribe;
mod unsuback;
mod unsubscribe;

pub use auth::{Auth, AuthProperties};
pub use connack::{ConnAck, ConnAckProperties};
pub use connect::{Connect, ConnectProperties, LastWill, WillProperties};
pub use disconnect::{Disconnect, DisconnectProperties};
pub use publish::{Publish, PublishProperties};
pub use pubreply::{AckProperties, PubReply};
pub use suback::SubAck;
pub use subscribe::{
    RetainHandling, Subscribe, SubscribeFilter, SubscribeProperties, SubscriptionOptions,
};
pub use unsuback::UnsubAck;
pub use unsubscribe::{Unsubscribe, UnsubscribeProperties};

use bytes::{BufMut, Bytes, BytesMut};

use super::properties::{self, PropertySet};
use super::reason::allowed;
use super::wire::{MAX_VARIABLE_INTEGER, Reader, varint_len, write_varint};
use super::{DecodeError, EncodeError, Protocol, ReasonCode};

/// One MQTT control packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    Connect(Box<Connect>),
    ConnAck(ConnAck),
    Publish(Publish),
    PubAck(PubReply),
    PubRec(PubReply),
    PubRel(PubReply),
    PubComp(PubReply),
    Subscribe(Subscribe),
    SubAck(SubAck),
    Unsubscribe(Unsubscribe),
    UnsubAck(UnsubAck),
    PingReq,
    PingResp,
    Disconnect(Disconnect),
    /// MQTT 5.0 only.
    Auth(Auth),
}

/// The packet type numbers of the fixed header (spec table 2-1).
pub mod kind {
    pub const CONNECT: u8 = 1;
    pub const CONNACK: u8 = 2;
    pub const PUBLISH: u8 = 3;
    pub const PUBACK: u8 = 4;
    pub const PUBREC: u8 = 5;
    pub const PUBREL: u8 = 6;
    pub const PUBCOMP: u8 = 7;
    pub const SUBSCRIBE: u8 = 8;
    pub const SUBACK: u8 = 9;
    pub const UNSUBSCRIBE: u8 = 10;
    pub const UNSUBACK: u8 = 11;
    pub const PINGREQ: u8 = 12;
    pub const PINGRESP: u8 = 13;
    pub const DISCONNECT: u8 = 14;
    pub const AUTH: u8 = 15;
}

/// A packet's body: sized and written after the fixed header.
pub(crate) trait Body {
    /// Bytes after the fixed header (the remaining length).
    fn body_len(&self, protocol: Protocol) -> usize;
    /// Writes those bytes.
    fn write_body(&self, protocol: Protocol, buf: &mut BytesMut) -> Result<(), EncodeError>;
}

impl Packet {
    /// The packet type's name as the specification spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Packet::Connect(_) => "CONNECT",
            Packet::ConnAck(_) => "CONNACK",
            Packet::Publish(_) => "PUBLISH",
            Packet::PubAck(_) => "PUBACK",
            Packet::PubRec(_) => "PUBREC",
            Packet::PubRel(_) => "PUBREL",
            Packet::PubComp(_) => "PUBCOMP",
            Packet::Subscribe(_) => "SUBSCRIBE",
            Packet::SubAck(_) => "SUBACK",
            Packet::Unsubscribe(_) => "UNSUBSCRIBE",
            Packet::UnsubAck(_) => "UNSUBACK",
            Packet::PingReq => "PINGREQ",
            Packet::PingResp => "PINGRESP",
            Packet::Disconnect(_) => "DISCONNECT",
            Packet::Auth(_) => "AUTH",
        }
    }

    /// Decodes the body of one packet whose fixed header byte is `first`. `body` is exactly
    /// the remaining length. CONNECT carries its own protocol version; every other packet is
    /// read in `protocol`.
    pub fn decode_body(first: u8, body: Bytes, protocol: Protocol) -> Result<Packet, DecodeError> {
        let flags = first & 0x0F;
        let mut r = Reader::new(body);
        let packet = match first >> 4 {
            kind::PUBLISH => Packet::Publish(Publish::decode(flags, &mut r, protocol)?),
            kind::CONNECT => {
                expect_flags(flags, 0)?;
                Packet::Connect(Box::new(Connect::decode(&mut r)?))
            }
            kind::CONNACK => {
                expect_flags(flags, 0)?;
                Packet::ConnAck(ConnAck::decode(&mut r, protocol)?)
            }
            kind::PUBACK => {
                expect_flags(flags, 0)?;
                Packet::PubAck(PubReply::decode(
                    &mut r,
                    protocol,
                    "PUBACK",
                    allowed::PUBACK,
                )?)
            }
            kind::PUBREC => {
                expect_flags(flags, 0)?;
                Packet::PubRec(PubReply::decode(
                    &mut r,
                    protocol,
                    "PUBREC",
                    allowed::PUBACK,
                )?)
            }
            kind::PUBREL => {
                expect_resend_flags(flags, protocol)?;
                Packet::PubRel(PubReply::decode(
                    &mut r,
                    protocol,
                    "PUBREL",
                    allowed::PUBREL,
                )?)
            }
            kind::PUBCOMP => {
                expect_flags(flags, 0)?;
                Packet::PubComp(PubReply::decode(
                    &mut r,
                    protocol,
                    "PUBCOMP",
                    allowed::PUBREL,
                )?)
            }
            kind::SUBSCRIBE => {
                expect_resend_flags(flags, protocol)?;
                Packet::Subscribe(Subscribe::decode(&mut r, protocol)?)
            }
            kind::SUBACK => {
                expect_flags(flags, 0)?;
                Packet::SubAck(SubAck::decode(&mut r, protocol)?)
            }
            kind::UNSUBSCRIBE => {
                expect_resend_flags(flags, protocol)?;
                Packet::Unsubscribe(Unsubscribe::decode(&mut r, protocol)?)
            }
            kind::UNSUBACK => {
                expect_flags(flags, 0)?;
                Packet::UnsubAck(UnsubAck::decode(&mut r, protocol)?)
            }
            kind::PINGREQ => {
                expect_flags(flags, 0)?;
                Packet::PingReq
            }
            kind::PINGRESP => {
                expect_flags(flags, 0)?;
                Packet::PingResp
            }
            kind::DISCONNECT => {
                expect_flags(flags, 0)?;
                Packet::Disconnect(Disconnect::decode(&mut r, protocol)?)
            }
            kind::AUTH if protocol.is_v5() => {
                expect_flags(flags, 0)?;
                Packet::Auth(Auth::decode(&mut r)?)
            }
            _ => return Err(DecodeError::Malformed("reserved packet type")),
        };
        r.finish()?;
        Ok(packet)
    }

    /// Encodes the whole packet (fixed header included) for a peer speaking `protocol`.
    /// CONNECT is always written in its own `protocol` field's version.
    pub fn encode(&self, protocol: Protocol, buf: &mut BytesMut) -> Result<(), EncodeError> {
        let (first, body): (u8, &dyn Body) = match self {
            Packet::Connect(p) => (kind::CONNECT << 4, p.as_ref()),
            Packet::ConnAck(p) => (kind::CONNACK << 4, p),
            Packet::Publish(p) => (p.first_byte(), p),
            Packet::PubAck(p) => (kind::PUBACK << 4, p),
            Packet::PubRec(p) => (kind::PUBREC << 4, p),
            Packet::PubRel(p) => (kind::PUBREL << 4 | 2, p),
            Packet::PubComp(p) => (kind::PUBCOMP << 4, p),
            Packet::Subscribe(p) => (kind::SUBSCRIBE << 4 | 2, p),
            Packet::SubAck(p) => (kind::SUBACK << 4, p),
            Packet::Unsubscribe(p) => (kind::UNSUBSCRIBE << 4 | 2, p),
            Packet::UnsubAck(p) => (kind::UNSUBACK << 4, p),
            Packet::PingReq => (kind::PINGREQ << 4, &Empty),
            Packet::PingResp => (kind::PINGRESP << 4, &Empty),
            Packet::Disconnect(p) => (kind::DISCONNECT << 4, p),
            Packet::Auth(p) => {
                if !protocol.is_v5() {
                    return Err(EncodeError::NotInProtocol {
                        packet: "AUTH",
                        protocol,
                    });
                }
                (kind::AUTH << 4, p)
            }
        };
        encode_with(first, body, protocol, buf)
    }

    /// The number of bytes [`Packet::encode`] writes, fixed header included.
    pub fn encoded_len(&self, protocol: Protocol) -> usize {
        let body = match self {
            Packet::Connect(p) => p.body_len(protocol),
            Packet::ConnAck(p) => p.body_len(protocol),
            Packet::Publish(p) => p.body_len(protocol),
            Packet::PubAck(p) | Packet::PubRec(p) | Packet::PubRel(p) | Packet::PubComp(p) => {
                p.body_len(protocol)
            }
            Packet::Subscribe(p) => p.body_len(protocol),
            Packet::SubAck(p) => p.body_len(protocol),
            Packet::Unsubscribe(p) => p.body_len(protocol),
            Packet::UnsubAck(p) => p.body_len(protocol),
            Packet::PingReq | Packet::PingResp => 0,
            Packet::Disconnect(p) => p.body_len(protocol),
            Packet::Auth(p) => p.body_len(protocol),
        };
        1 + varint_len(body) + body
    }
}

/// Writes a fixed header byte, the remaining length and the body.
pub(crate) fn encode_with(
    first: u8,
    body: &dyn Body,
    protocol: Protocol,
    buf: &mut BytesMut,
) -> Result<(), EncodeError> {
    let len = body.body_len(protocol);
    if len > MAX_VARIABLE_INTEGER {
        return Err(EncodeError::TooLarge(len));
    }
    buf.reserve(1 + varint_len(len) + len);
    buf.put_u8(first);
    write_varint(buf, len)?;
    body.write_body(protocol, buf)
}

/// The body of PINGREQ and PINGRESP.
struct Empty;

impl Body for Empty {
    fn body_len(&self, _: Protocol) -> usize {
        0
    }
    fn write_body(&self, _: Protocol, _: &mut BytesMut) -> Result<(), EncodeError> {
        Ok(())
    }
}

/// Checks the fixed header's flag bits of a packet type whose flags are fixed
/// (`[MQTT-2.1.3-1]`: anything else is malformed).
fn expect_flags(flags: u8, expected: u8) -> Result<(), DecodeError> {
    if flags == expected {
        Ok(())
    } else {
        Err(DecodeError::Malformed(
            "reserved fixed header flags are wrong",
        ))
    }
}

/// The flags of PUBREL, SUBSCRIBE and UNSUBSCRIBE: 0b0010. MQTT 3.1 gave these packets QoS 1
/// and let a resend set DUP, so 0b1010 is accepted there too.
fn expect_resend_flags(flags: u8, protocol: Protocol) -> Result<(), DecodeError> {
    if protocol == Protocol::V3_1 && flags == 0x0A {
        return Ok(());
    }
    expect_flags(flags, 2)
}

/// A packet identifier, which must not be 0 `[MQTT-2.2.1-3]`.
fn read_packet_id(r: &mut Reader) -> Result<u16, DecodeError> {
    match r.u16()? {
        0 => Err(DecodeError::Protocol("packet identifier 0")),
        id => Ok(id),
    }
}

/// Checks that `code` is one the packet type may carry.
fn check_reason(code: u8, allowed: &[u8], packet: &'static str) -> Result<ReasonCode, DecodeError> {
    if allowed.contains(&code) {
        Ok(ReasonCode(code))
    } else {
        Err(DecodeError::InvalidReasonCode { code, packet })
    }
}

/// The v5 tail of PUBACK/PUBREC/PUBREL/PUBCOMP, DISCONNECT and AUTH: a reason code and
/// properties, where a missing reason means Success and missing properties mean none.
fn read_reason_tail<P: PropertySet>(
    r: &mut Reader,
    allowed: &[u8],
    packet: &'static str,
) -> Result<(ReasonCode, P), DecodeError> {
    if r.is_empty() {
        return Ok((ReasonCode::SUCCESS, P::default()));
    }
    let reason = check_reason(r.u8()?, allowed, packet)?;
    if r.is_empty() {
        return Ok((reason, P::default()));
    }
    Ok((reason, properties::read(r)?))
}

/// Length of the tail [`read_reason_tail`] reads, in its shortest form.
fn reason_tail_len<P: PropertySet>(reason: ReasonCode, props: &P) -> usize {
    let content = properties::content_len(props);
    if content > 0 {
        1 + varint_len(content) + content
    } else if reason != ReasonCode::SUCCESS {
        1
    } else {
        0
    }
}

fn write_reason_tail<P: PropertySet>(
    reason: ReasonCode,
    props: &P,
    buf: &mut BytesMut,
) -> Result<(), EncodeError> {
    let content = properties::content_len(props);
    if content > 0 {
        buf.put_u8(reason.0);
        properties::write(props, buf)
    } else {
        if reason != ReasonCode::SUCCESS {
            buf.put_u8(reason.0);
        }
        Ok(())
    }
}
