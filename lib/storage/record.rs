//! The value format of persisted records (ours, versioned, documented in the README): a
//! stored message is a small header followed by the message encoded as an MQTT 5.0 PUBLISH
//! with our own codec, so topic, payload and every property round-trip exactly.
//!
//! ```text
//! message      = version:u8(1) expires_unix_ms:u64(0 = never) has_publisher:u8
//!                [publisher_len:u16 publisher:bytes] publish_packet:bytes(rest)
//! delivery     = version:u8(1) packet_id:u16 stage:u8 qos:u8 retain:u8 n_ids:u8 ids:u32*n message
//! session      = version:u8(1) expiry:u32 last_seen_unix:u64 online:u8 protocol_level:u8 has_will:u8
//!                [will_delay:u32 message]
//! subscription = version:u8(1) options:u8 (v5 option byte) has_id:u8 [id:u32]
//! sys          = version:u8(1) count:u8 counter:u64*count (see [`SysRecord`])
//! ```
//! Integers are big-endian.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::StoreError;
use crate::broker::message::{Delivery, Message};
use crate::broker::session::Stage;
use crate::mqtt::{
    MqttString, Packet, Protocol, Publish, QoS, RetainHandling, SubscriptionOptions, decode,
};

const VERSION: u8 = 1;

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn corrupt(what: &'static str) -> StoreError {
    StoreError::Corrupt(what)
}

/// Reads a fixed number of bytes or fails as corrupt.
fn need(b: &Bytes, n: usize, what: &'static str) -> Result<(), StoreError> {
    if b.remaining() < n {
        Err(corrupt(what))
    } else {
        Ok(())
    }
}

/// The message record version of a message forwarded by another node: the origin follows
/// the publisher.
const WITH_ORIGIN: u8 = 2;

/// Encodes a message, converting its monotonic expiry to wall-clock time.
pub fn encode_message(m: &Message, out: &mut BytesMut) {
    out.put_u8(if m.origin.is_some() {
        WITH_ORIGIN
    } else {
        VERSION
    });
    let expires = m.expires_at.map_or(0, |t| {
        let left = t.saturating_duration_since(Instant::now());
        unix_ms(SystemTime::now() + left).max(1)
    });
    out.put_u64(expires);
    match &m.publisher {
        Some(p) => {
            out.put_u8(1);
            out.put_u16(p.len() as u16);
            out.put_slice(p.as_bytes());
        }
        None => out.put_u8(0),
    }
    if let Some(o) = &m.origin {
        out.put_u16(o.node.len().min(u16::MAX as usize) as u16);
        out.put_slice(&o.node.as_bytes()[..o.node.len().min(u16::MAX as usize)]);
        out.put_u64(o.epoch);
        out.put_u64(o.seq);
    }
    let publish = Publish {
        dup: false,
        qos: m.qos,
        retain: m.retain,
        topic: m.topic.clone(),
        packet_id: if m.qos == QoS::AtMostOnce { 0 } else { 1 },
        properties: m.properties.clone(),
        payload: m.payload.clone(),
    };
    // Encoding a valid message cannot fail; a failure would only mean an oversize field,
    // which the decoder already refused when the message arrived.
    let _ = Packet::Publish(publish).encode(Protocol::V5, out);
}

/// Decodes a message written by [`encode_message`].
pub fn decode_message(b: &mut Bytes) -> Result<Message, StoreError> {
    need(b, 10, "message header")?;
    let version = b.get_u8();
    if version != VERSION && version != WITH_ORIGIN {
        return Err(corrupt("unknown message record version"));
    }
    let expires = b.get_u64();
    let publisher = if b.get_u8() == 1 {
        need(b, 2, "publisher length")?;
        let plen = b.get_u16() as usize;
        need(b, plen, "publisher")?;
        Some(
            MqttString::from_bytes(b.split_to(plen))
                .map_err(|_| corrupt("publisher is not UTF-8"))?,
        )
    } else {
        None
    };
    let origin = if version == WITH_ORIGIN {
        need(b, 2, "origin length")?;
        let len = b.get_u16() as usize;
        need(b, len + 16, "origin")?;
        let node = std::str::from_utf8(&b.split_to(len))
            .map_err(|_| corrupt("origin is not UTF-8"))?
            .into();
        Some(Box::new(crate::broker::message::Origin {
            node,
            epoch: b.get_u64(),
            seq: b.get_u64(),
        }))
    } else {
        None
    };
    // The PUBLISH, and only it: what follows belongs to the record around the message (a
    // session record's owner follows its will).
    let mut packet = BytesMut::from(&b[..]);
    let publish = match decode(&mut packet, Protocol::V5, usize::MAX) {
        Ok(Some(Packet::Publish(p))) => p,
        _ => return Err(corrupt("stored PUBLISH does not decode")),
    };
    b.advance(b.remaining() - packet.len());
    let expires_at = (expires != 0).then(|| {
        let now = SystemTime::now();
        let at = UNIX_EPOCH + Duration::from_millis(expires);
        Instant::now() + at.duration_since(now).unwrap_or(Duration::ZERO)
    });
    Ok(Message {
        topic: publish.topic,
        payload: publish.payload,
        qos: publish.qos,
        retain: publish.retain,
        properties: publish.properties,
        publisher,
        expires_at,
        origin,
    })
}

/// A message of a persistent session, queued or in flight.
#[derive(Debug, Clone)]
pub struct StoredDelivery {
    /// The delivery.
    pub delivery: Delivery,
    /// Packet id once sent, 0 while queued.
    pub packet_id: u16,
    /// Where its handshake stands once sent.
    pub stage: Option<Stage>,
}

fn stage_byte(s: Option<Stage>) -> u8 {
    match s {
        None => 0,
        Some(Stage::AwaitPubAck) => 1,
        Some(Stage::AwaitPubRec) => 2,
        Some(Stage::AwaitPubComp) => 3,
    }
}

/// Encodes a delivery with its handshake state.
pub fn encode_delivery(d: &Delivery, packet_id: u16, stage: Option<Stage>, out: &mut BytesMut) {
    out.put_u8(VERSION);
    out.put_u16(packet_id);
    out.put_u8(stage_byte(stage));
    out.put_u8(d.qos as u8);
    out.put_u8(d.retain as u8);
    out.put_u8(d.subscription_ids.len().min(255) as u8);
    for id in d.subscription_ids.iter().take(255) {
        out.put_u32(*id);
    }
    encode_message(&d.message, out);
}

/// Decodes a delivery written by [`encode_delivery`].
pub fn decode_delivery(b: &mut Bytes) -> Result<StoredDelivery, StoreError> {
    need(b, 7, "delivery header")?;
    if b.get_u8() != VERSION {
        return Err(corrupt("unknown delivery record version"));
    }
    let packet_id = b.get_u16();
    let stage = match b.get_u8() {
        0 => None,
        1 => Some(Stage::AwaitPubAck),
        2 => Some(Stage::AwaitPubRec),
        3 => Some(Stage::AwaitPubComp),
        _ => return Err(corrupt("delivery stage")),
    };
    let qos = QoS::from_u8(b.get_u8()).ok_or(corrupt("delivery QoS"))?;
    let retain = b.get_u8() != 0;
    let n = b.get_u8() as usize;
    need(b, 4 * n, "subscription identifiers")?;
    let subscription_ids = (0..n).map(|_| b.get_u32()).collect();
    let message = std::sync::Arc::new(decode_message(b)?);
    Ok(StoredDelivery {
        delivery: Delivery {
            message,
            qos,
            retain,
            subscription_ids,
            seq: 0,
        },
        packet_id,
        stage,
    })
}

/// A persistent session's own record.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    /// Seconds the session outlives its connection.
    pub expiry_interval: u32,
    /// When a connection last served it (unix seconds).
    pub last_seen: u64,
    /// Whether a connection served it when this was written.
    pub online: bool,
    /// Protocol level of that connection (3, 4 or 5).
    pub protocol_level: u8,
    /// The will of that connection, with its delay.
    pub will: Option<(u32, Message)>,
}

/// Encodes a session record.
pub fn encode_session(s: &SessionRecord, out: &mut BytesMut) {
    out.put_u8(VERSION);
    out.put_u32(s.expiry_interval);
    out.put_u64(s.last_seen);
    out.put_u8(s.online as u8);
    out.put_u8(s.protocol_level);
    match &s.will {
        Some((delay, m)) => {
            out.put_u8(1);
            out.put_u32(*delay);
            encode_message(m, out);
        }
        None => out.put_u8(0),
    }
}

/// Decodes a session record.
pub fn decode_session(b: &mut Bytes) -> Result<SessionRecord, StoreError> {
    need(b, 16, "session record")?;
    if b.get_u8() != VERSION {
        return Err(corrupt("unknown session record version"));
    }
    let expiry_interval = b.get_u32();
    let last_seen = b.get_u64();
    let online = b.get_u8() != 0;
    let protocol_level = b.get_u8();
    let will = if b.get_u8() == 1 {
        need(b, 4, "will delay")?;
        let delay = b.get_u32();
        Some((delay, decode_message(b)?))
    } else {
        None
    };
    Ok(SessionRecord {
        expiry_interval,
        last_seen,
        online,
        protocol_level,
        will,
    })
}

/// Appends the node that holds a session to its record (a cluster's shared store).
pub fn encode_owner(owner: &str, out: &mut BytesMut) {
    let owner = &owner.as_bytes()[..owner.len().min(u16::MAX as usize)];
    out.put_u16(owner.len() as u16);
    out.put_slice(owner);
}

/// The owner after a session record, if the record has one.
pub fn decode_owner(b: &mut Bytes) -> Option<String> {
    if b.remaining() < 2 {
        return None;
    }
    let n = b.get_u16() as usize;
    if b.remaining() < n {
        return None;
    }
    String::from_utf8(b.split_to(n).to_vec()).ok()
}

/// Encodes a subscription's options and identifier.
pub fn encode_subscription(
    options: &SubscriptionOptions,
    identifier: Option<u32>,
    out: &mut BytesMut,
) {
    out.put_u8(VERSION);
    out.put_u8(
        options.qos as u8
            | (options.no_local as u8) << 2
            | (options.retain_as_published as u8) << 3
            | (options.retain_handling as u8) << 4,
    );
    match identifier {
        Some(id) => {
            out.put_u8(1);
            out.put_u32(id);
        }
        None => out.put_u8(0),
    }
}

/// Decodes a subscription record.
pub fn decode_subscription(
    b: &mut Bytes,
) -> Result<(SubscriptionOptions, Option<u32>), StoreError> {
    need(b, 3, "subscription record")?;
    if b.get_u8() != VERSION {
        return Err(corrupt("unknown subscription record version"));
    }
    let byte = b.get_u8();
    let options = SubscriptionOptions {
        qos: QoS::from_u8(byte & 0x03).ok_or(corrupt("subscription QoS"))?,
        no_local: byte & 0x04 != 0,
        retain_as_published: byte & 0x08 != 0,
        retain_handling: match (byte >> 4) & 0x03 {
            0 => RetainHandling::OnSubscribe,
            1 => RetainHandling::OnNewSubscribe,
            _ => RetainHandling::Never,
        },
    };
    let identifier = if b.get_u8() == 1 {
        need(b, 4, "subscription identifier")?;
        Some(b.get_u32())
    } else {
        None
    };
    Ok((options, identifier))
}

/// The broker's cumulative counters, kept across restarts (`$SYS`, `/metrics`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SysRecord {
    pub clients_maximum: u64,
    pub clients_total: u64,
    pub messages_received: u64,
    pub messages_sent: u64,
    pub messages_dropped: u64,
    pub bytes_received: u64,
    pub bytes_sent: u64,
    pub packets_received: u64,
    pub packets_sent: u64,
}

impl SysRecord {
    fn fields(&self) -> [u64; 9] {
        [
            self.clients_maximum,
            self.clients_total,
            self.messages_received,
            self.messages_sent,
            self.messages_dropped,
            self.bytes_received,
            self.bytes_sent,
            self.packets_received,
            self.packets_sent,
        ]
    }
}

/// Encodes the counters.
pub fn encode_sys(s: &SysRecord, out: &mut BytesMut) {
    out.put_u8(VERSION);
    let fields = s.fields();
    out.put_u8(fields.len() as u8);
    for f in fields {
        out.put_u64(f);
    }
}

/// Decodes the counters; counters a later version added are ignored, missing ones are 0.
pub fn decode_sys(b: &mut Bytes) -> Result<SysRecord, StoreError> {
    need(b, 2, "sys record")?;
    if b.get_u8() != VERSION {
        return Err(corrupt("unknown sys record version"));
    }
    let n = b.get_u8() as usize;
    need(b, 8 * n, "sys counters")?;
    let mut f = [0u64; 9];
    for i in 0..n {
        let v = b.get_u64();
        if let Some(slot) = f.get_mut(i) {
            *slot = v;
        }
    }
    Ok(SysRecord {
        clients_maximum: f[0],
        clients_total: f[1],
        messages_received: f[2],
        messages_sent: f[3],
        messages_dropped: f[4],
        bytes_received: f[5],
        bytes_sent: f[6],
        packets_received: f[7],
        packets_sent: f[8],
    })
}

/// Unix seconds now.
pub fn now_unix() -> u64 {
    unix_ms(SystemTime::now()) / 1000
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn message() -> Message {
        let mut p = Publish::new("a/b", QoS::ExactlyOnce, &b"payload"[..]);
        p.retain = true;
        p.properties.content_type = Some("text/plain".into());
        p.properties.user_properties.push(("k".into(), "v".into()));
        p.properties.message_expiry_interval = Some(100);
        Message::from_publish(p, Some("pub".into()), 1000)
    }

    #[test]
    fn a_forwarded_message_keeps_its_origin() {
        let mut m = message();
        m.origin = Some(Box::new(crate::broker::message::Origin {
            node: "c1".into(),
            epoch: 7,
            seq: 99,
        }));
        let mut out = BytesMut::new();
        encode_message(&m, &mut out);
        let back = decode_message(&mut out.freeze()).unwrap();
        assert_eq!(back.origin, m.origin);
        assert_eq!(&back.payload[..], b"payload");
    }

    #[test]
    fn message_round_trips_with_expiry() {
        let m = message();
        let mut out = BytesMut::new();
        encode_message(&m, &mut out);
        let back = decode_message(&mut out.freeze()).unwrap();
        assert_eq!(
            (
                back.topic.as_str(),
                &back.payload[..],
                back.qos,
                back.retain
            ),
            ("a/b", &b"payload"[..], QoS::ExactlyOnce, true)
        );
        assert_eq!(back.properties, m.properties);
        assert_eq!(back.publisher, m.publisher);
        let left = back
            .expires_at
            .unwrap()
            .saturating_duration_since(Instant::now())
            .as_secs();
        assert!((98..=100).contains(&left), "{left}");
    }

    #[test]
    fn delivery_session_and_subscription_round_trip() {
        let d = Delivery {
            message: Arc::new(message()),
            qos: QoS::AtLeastOnce,
            retain: false,
            subscription_ids: vec![3, 9],
            seq: 0,
        };
        let mut out = BytesMut::new();
        encode_delivery(&d, 42, Some(Stage::AwaitPubComp), &mut out);
        let back = decode_delivery(&mut out.freeze()).unwrap();
        assert_eq!(
            (
                back.packet_id,
                back.stage,
                back.delivery.qos,
                back.delivery.subscription_ids.clone()
            ),
            (42, Some(Stage::AwaitPubComp), QoS::AtLeastOnce, vec![3, 9])
        );

        let s = SessionRecord {
            expiry_interval: 60,
            last_seen: 7,
            online: true,
            protocol_level: 5,
            will: Some((5, message())),
        };
        let mut out = BytesMut::new();
        encode_session(&s, &mut out);
        let back = decode_session(&mut out.freeze()).unwrap();
        assert_eq!(
            (
                back.expiry_interval,
                back.last_seen,
                back.online,
                back.will.unwrap().0
            ),
            (60, 7, true, 5)
        );

        let o = SubscriptionOptions {
            qos: QoS::ExactlyOnce,
            no_local: true,
            retain_as_published: true,
            retain_handling: RetainHandling::Never,
        };
        let mut out = BytesMut::new();
        encode_subscription(&o, Some(77), &mut out);
        assert_eq!(
            decode_subscription(&mut out.freeze()).unwrap(),
            (o, Some(77))
        );

        let sys = SysRecord {
            clients_maximum: 9,
            messages_sent: 1 << 40,
            packets_sent: 3,
            ..SysRecord::default()
        };
        let mut out = BytesMut::new();
        encode_sys(&sys, &mut out);
        assert_eq!(decode_sys(&mut out.freeze()).unwrap(), sys);
    }

    #[test]
    fn the_owner_after_a_session_record_with_a_will_is_read_back() {
        let record = SessionRecord {
            expiry_interval: 60,
            last_seen: 1_700_000_000,
            online: true,
            protocol_level: 5,
            will: Some((0, message())),
        };
        let mut out = BytesMut::new();
        encode_session(&record, &mut out);
        encode_owner("c2", &mut out);
        let mut b = out.freeze();
        let back = decode_session(&mut b).unwrap();
        assert!(back.online && back.will.is_some());
        assert_eq!(decode_owner(&mut b).as_deref(), Some("c2"));
        assert!(b.is_empty());
    }

    #[test]
    fn a_client_id_of_65535_bytes_round_trips_as_publisher() {
        let mut m = message();
        m.publisher = Some(MqttString::from("x".repeat(65_535)));
        let mut out = BytesMut::new();
        encode_message(&m, &mut out);
        assert_eq!(
            decode_message(&mut out.freeze()).unwrap().publisher,
            m.publisher
        );
        let mut anonymous = message();
        anonymous.publisher = None;
        let mut out = BytesMut::new();
        encode_message(&anonymous, &mut out);
        assert_eq!(decode_message(&mut out.freeze()).unwrap().publisher, None);
    }

    #[test]
    fn truncated_records_are_corrupt_not_panics() {
        let mut out = BytesMut::new();
        encode_delivery(
            &Delivery {
                message: Arc::new(message()),
                qos: QoS::AtLeastOnce,
                retain: false,
                subscription_ids: vec![1],
                seq: 0,
            },
            1,
            None,
            &mut out,
        );
        let full = out.freeze();
        for n in 0..full.len() {
            let _ = decode_delivery(&mut full.slice(..n));
        }
        assert!(decode_session(&mut Bytes::from_static(&[1, 0])).is_err());
    }
}
