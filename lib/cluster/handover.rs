//! A session on its way from one node to another (gRPC `Takeover`): its subscriptions,
//! messages in flight both ways and queued messages, in the store's record encodings, each
//! record length-prefixed.
//!
//! Layout (big-endian): `expiry:u32`, `n:u32` subscriptions of `filter_len:u16 filter
//! record_len:u32 subscription`, `n:u32` in-flight deliveries of `record_len:u32 delivery`
//! (packet id and stage inside), `n:u32` queued deliveries likewise, `n:u32` inbound QoS 2
//! packet ids of `u16`.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::broker::cluster_link::HandedOver;
use crate::broker::session::{InflightMessage, SessionSubscription};
use crate::mqtt::MqttString;
use crate::storage::StoreError;
use crate::storage::record::{
    decode_delivery, decode_subscription, encode_delivery, encode_subscription,
};

fn corrupt(what: &'static str) -> StoreError {
    StoreError::Corrupt(what)
}

fn record(b: &mut Bytes, what: &'static str) -> Result<Bytes, StoreError> {
    if b.remaining() < 4 {
        return Err(corrupt(what));
    }
    let n = b.get_u32() as usize;
    if b.remaining() < n {
        return Err(corrupt(what));
    }
    Ok(b.split_to(n))
}

fn put_record(out: &mut BytesMut, write: impl FnOnce(&mut BytesMut)) {
    let mut r = BytesMut::new();
    write(&mut r);
    out.put_u32(r.len() as u32);
    out.put_slice(&r);
}

/// Encodes a handed-over session.
pub fn encode(h: &HandedOver) -> Bytes {
    let mut out = BytesMut::new();
    out.put_u32(h.expiry_interval);
    out.put_u32(h.state.subscriptions.len() as u32);
    for (filter, sub) in &h.state.subscriptions {
        out.put_u16(filter.len() as u16);
        out.put_slice(filter.as_bytes());
        put_record(&mut out, |r| {
            encode_subscription(&sub.options, sub.identifier, r)
        });
    }
    out.put_u32(h.state.inflight.len() as u32);
    for m in &h.state.inflight {
        put_record(&mut out, |r| {
            encode_delivery(&m.delivery, m.packet_id, Some(m.stage), r)
        });
    }
    out.put_u32(h.queued.len() as u32);
    for d in &h.queued {
        put_record(&mut out, |r| encode_delivery(d, 0, None, r));
    }
    out.put_u32(h.state.inbound_qos2.len() as u32);
    for id in &h.state.inbound_qos2 {
        out.put_u16(*id);
    }
    out.freeze()
}

/// Decodes what [`encode`] wrote.
pub fn decode(mut b: Bytes) -> Result<HandedOver, StoreError> {
    let mut h = HandedOver::default();
    let count = |b: &mut Bytes, what| {
        if b.remaining() < 4 {
            Err(corrupt(what))
        } else {
            Ok(b.get_u32())
        }
    };
    h.expiry_interval = count(&mut b, "handover expiry")?;
    for _ in 0..count(&mut b, "handover subscriptions")? {
        if b.remaining() < 2 {
            return Err(corrupt("handover filter"));
        }
        let n = b.get_u16() as usize;
        if b.remaining() < n {
            return Err(corrupt("handover filter"));
        }
        let filter = std::str::from_utf8(&b.split_to(n))
            .map_err(|_| corrupt("handover filter"))?
            .to_string();
        let (options, identifier) =
            decode_subscription(&mut record(&mut b, "handover subscription")?)?;
        h.state.subscriptions.insert(
            MqttString::from(filter),
            SessionSubscription {
                options,
                identifier,
            },
        );
    }
    for _ in 0..count(&mut b, "handover in-flight")? {
        let d = decode_delivery(&mut record(&mut b, "handover in-flight")?)?;
        let stage = d.stage.ok_or(corrupt("handover in-flight stage"))?;
        h.state.inflight.push_back(InflightMessage {
            packet_id: d.packet_id,
            delivery: d.delivery,
            stage,
        });
    }
    for _ in 0..count(&mut b, "handover queue")? {
        h.queued
            .push(decode_delivery(&mut record(&mut b, "handover queue")?)?.delivery);
    }
    for _ in 0..count(&mut b, "handover inbound")? {
        if b.remaining() < 2 {
            return Err(corrupt("handover inbound"));
        }
        h.state.inbound_qos2.insert(b.get_u16());
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::broker::message::{Delivery, Message};
    use crate::broker::session::Stage;
    use crate::mqtt::{Publish, QoS, SubscriptionOptions};

    fn delivery(topic: &str) -> Delivery {
        Delivery {
            message: Arc::new(Message::from_publish(
                Publish::new(topic, QoS::AtLeastOnce, b"p".to_vec()),
                Some("pub".into()),
                60,
            )),
            qos: QoS::AtLeastOnce,
            retain: false,
            subscription_ids: vec![7],
            seq: 0,
        }
    }

    #[test]
    fn a_session_survives_the_trip() {
        let mut h = HandedOver {
            expiry_interval: 300,
            ..HandedOver::default()
        };
        h.state.subscriptions.insert(
            "a/#".into(),
            SessionSubscription {
                options: SubscriptionOptions::qos(QoS::ExactlyOnce),
                identifier: Some(7),
            },
        );
        h.state.inflight.push_back(InflightMessage {
            packet_id: 9,
            delivery: delivery("a/1"),
            stage: Stage::AwaitPubComp,
        });
        h.queued.push(delivery("a/2"));
        h.state.inbound_qos2.insert(42);
        let back = decode(encode(&h)).unwrap();
        assert_eq!(back.expiry_interval, 300);
        assert_eq!(back.state.subscriptions, h.state.subscriptions);
        assert_eq!(back.state.inflight[0].packet_id, 9);
        assert_eq!(back.state.inflight[0].stage, Stage::AwaitPubComp);
        assert_eq!(back.queued[0].message.topic, "a/2");
        assert_eq!(back.queued[0].subscription_ids, [7]);
        assert!(back.state.inbound_qos2.contains(&42));
        assert!(decode(Bytes::from_static(&[0, 0, 1])).is_err());
    }
}
