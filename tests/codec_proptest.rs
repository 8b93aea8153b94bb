//! Property tests of the codec.
//!
//! * Arbitrary valid packets of each protocol version (respecting every rule the decoder
//!   checks) decode to exactly what was encoded, `encoded_len` is exact, and a packet split at
//!   any point or several packets back to back decode the same.
//! * Random bytes never make the decoder panic, and `Ok(None)` never consumes anything.
//! * Valid packets with flipped, inserted or deleted bytes never make the decoder panic, and
//!   whatever the decoder accepts re-encodes to a packet that decodes identically.

use bytes::{Bytes, BytesMut};
use comqtt::mqtt::{
    AckProperties, Auth, AuthProperties, ConnAck, ConnAckProperties, Connect, ConnectProperties,
    Disconnect, DisconnectProperties, LastWill, MqttString, Packet, Protocol, PubReply, Publish,
    PublishProperties, QoS, ReasonCode, RetainHandling, SubAck, Subscribe, SubscribeFilter,
    SubscribeProperties, SubscriptionOptions, UnsubAck, Unsubscribe, UnsubscribeProperties,
    WillProperties, decode,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

const ALL: [Protocol; 3] = [Protocol::V3_1, Protocol::V3_1_1, Protocol::V5];

// Reason codes each packet may carry (spec 3.2.2.2, 3.4.2.1, 3.6.2.1, 3.9.3, 3.11.3, 3.14.2.1,
// 3.15.2.1), written out here rather than taken from the codec.
const CONNACK_V3: &[u8] = &[0x00, 0x01, 0x02, 0x03, 0x04, 0x05];
const CONNACK_V5: &[u8] = &[
    0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97,
    0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F,
];
const PUBACK: &[u8] = &[0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
const PUBREL: &[u8] = &[0x00, 0x92];
const SUBACK_V3: &[u8] = &[0x00, 0x01, 0x02, 0x80];
const SUBACK_V5: &[u8] = &[
    0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2,
];
const UNSUBACK: &[u8] = &[0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91];
const DISCONNECT: &[u8] = &[
    0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95,
    0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2,
];
const AUTH: &[u8] = &[0x00, 0x18, 0x19];

const MAX_VARINT: u32 = 268_435_455;

// ---------------------------------------------------------------------------------------------
// Strategies for the parts
// ---------------------------------------------------------------------------------------------

fn code(set: &'static [u8]) -> impl Strategy<Value = ReasonCode> {
    proptest::sample::select(set).prop_map(ReasonCode)
}

fn chars(min: usize, max: usize, allowed: fn(char) -> bool) -> impl Strategy<Value = String> {
    // Mostly ASCII (so that '/', '$', '+', '#' and friends turn up), sometimes any scalar value.
    let ch = prop_oneof![
        4 => proptest::char::range(' ', '~'),
        1 => any::<char>(),
    ]
    .prop_filter("excluded character", move |c| allowed(*c));
    vec(ch, min..=max).prop_map(|v| v.into_iter().collect())
}

/// An MQTT UTF-8 string: no U+0000 `[MQTT-1.5.4-2]` (surrogates cannot occur in a `char`).
fn string() -> impl Strategy<Value = MqttString> {
    chars(0, 12, |c| c != '\0').prop_map(MqttString::from)
}

/// A topic name: at least one character, no wildcards `[MQTT-4.7.3-1]`, `[MQTT-3.3.2-2]`.
fn topic_name() -> impl Strategy<Value = MqttString> {
    chars(1, 16, |c| c != '\0' && c != '+' && c != '#').prop_map(MqttString::from)
}

/// A topic filter (the codec does not check its wildcards; the server answers in SUBACK).
fn topic_filter() -> impl Strategy<Value = MqttString> {
    prop_oneof![
        3 => chars(1, 16, |c| c != '\0').prop_map(MqttString::from),
        1 => (chars(1, 6, |c| c != '\0' && c != '/'), chars(1, 8, |c| c != '\0'))
            .prop_map(|(g, f)| MqttString::from(format!("$share/{g}/{f}"))),
    ]
}

fn binary() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..24).prop_map(Bytes::from)
}

fn users() -> impl Strategy<Value = Vec<(MqttString, MqttString)>> {
    vec((string(), string()), 0..4)
}

fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![
        Just(QoS::AtMostOnce),
        Just(QoS::AtLeastOnce),
        Just(QoS::ExactlyOnce)
    ]
}

fn packet_id() -> impl Strategy<Value = u16> {
    1..=u16::MAX
}

fn subscription_id() -> impl Strategy<Value = u32> {
    prop_oneof![1..=127u32, 128..=16_383u32, 1..=MAX_VARINT]
}

/// Properties only exist in v5: elsewhere the strategy yields the default.
fn v5_only<T: Default + Clone + std::fmt::Debug + 'static>(
    protocol: Protocol,
    s: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<T> {
    if protocol.is_v5() {
        s.boxed()
    } else {
        Just(T::default()).boxed()
    }
}

// ---------------------------------------------------------------------------------------------
// Strategies for the packets
// ---------------------------------------------------------------------------------------------

fn will_properties() -> impl Strategy<Value = WillProperties> {
    (
        option::of(any::<u32>()),
        option::of(any::<bool>()),
        option::of(any::<u32>()),
        option::of(string()),
        option::of(topic_name()),
        option::of(binary()),
        users(),
    )
        .prop_map(|(d, pfi, exp, ct, rt, cd, up)| WillProperties {
            will_delay_interval: d,
            payload_format_indicator: pfi,
            message_expiry_interval: exp,
            content_type: ct,
            response_topic: rt,
            correlation_data: cd,
            user_properties: up,
        })
}

fn connect_properties() -> impl Strategy<Value = ConnectProperties> {
    (
        option::of(any::<u32>()),
        option::of(1..=u16::MAX),
        option::of(1..=u32::MAX),
        option::of(any::<u16>()),
        option::of(any::<bool>()),
        option::of(any::<bool>()),
        users(),
        option::of((string(), option::of(binary()))),
    )
        .prop_map(
            |(sei, rm, mps, tam, rri, rpi, up, auth)| ConnectProperties {
                session_expiry_interval: sei,
                receive_maximum: rm,
                maximum_packet_size: mps,
                topic_alias_maximum: tam,
                request_response_information: rri,
                request_problem_information: rpi,
                user_properties: up,
                // Authentication data only with a method (3.1.2.11.10).
                authentication_method: auth.as_ref().map(|(m, _)| m.clone()),
                authentication_data: auth.and_then(|(_, d)| d),
            },
        )
}

fn connect(protocol: Protocol) -> impl Strategy<Value = Packet> {
    let will = (
        topic_name(),
        binary(),
        qos(),
        any::<bool>(),
        v5_only(protocol, will_properties()),
    )
        .prop_map(|(topic, payload, qos, retain, properties)| LastWill {
            topic,
            payload,
            qos,
            retain,
            properties,
        });
    (
        any::<bool>(),
        any::<u16>(),
        string(),
        option::of(will),
        option::of(string()),
        option::of(binary()),
        v5_only(protocol, connect_properties()),
    )
        .prop_map(
            move |(
                clean_start,
                keep_alive,
                client_id,
                will,
                username,
                mut password,
                properties,
            )| {
                if !protocol.is_v5() && username.is_none() {
                    password = None; // [MQTT-3.1.2-22]
                }
                Packet::Connect(Box::new(Connect {
                    protocol,
                    clean_start,
                    keep_alive,
                    client_id,
                    will,
                    username,
                    password,
                    properties,
                }))
            },
        )
}

fn connack_properties() -> impl Strategy<Value = ConnAckProperties> {
    let limits = (
        option::of(any::<u32>()),
        option::of(1..=u16::MAX),
        option::of(prop_oneof![Just(QoS::AtMostOnce), Just(QoS::AtLeastOnce)]),
        option::of(any::<bool>()),
        option::of(1..=u32::MAX),
        option::of(string()),
        option::of(any::<u16>()),
        option::of(string()),
    );
    let rest = (
        users(),
        option::of(any::<bool>()),
        option::of(any::<bool>()),
        option::of(any::<bool>()),
        option::of(any::<u16>()),
        option::of(string()),
        option::of(string()),
        option::of(string()),
        option::of(binary()),
    );
    (limits, rest).prop_map(
        |((sei, rm, mq, ra, mps, aci, tam, rs), (up, wsa, sia, ssa, ska, ri, sr, am, ad))| {
            ConnAckProperties {
                session_expiry_interval: sei,
                receive_maximum: rm,
                maximum_qos: mq,
                retain_available: ra,
                maximum_packet_size: mps,
                assigned_client_identifier: aci,
                topic_alias_maximum: tam,
                reason_string: rs,
                user_properties: up,
                wildcard_subscription_available: wsa,
                subscription_identifiers_available: sia,
                shared_subscription_available: ssa,
                server_keep_alive: ska,
                response_information: ri,
                server_reference: sr,
                authentication_method: am,
                authentication_data: ad,
            }
        },
    )
}

fn connack(protocol: Protocol) -> impl Strategy<Value = Packet> {
    let codes = if protocol.is_v5() {
        CONNACK_V5
    } else {
        CONNACK_V3
    };
    (
        code(codes),
        any::<bool>(),
        v5_only(protocol, connack_properties()),
    )
        .prop_map(move |(code, present, properties)| {
            // Session present only on success [MQTT-3.2.2-6], and MQTT 3.1 has no such flag.
            let session_present =
                present && code == ReasonCode::SUCCESS && protocol != Protocol::V3_1;
            Packet::ConnAck(ConnAck {
                session_present,
                code,
                properties,
            })
        })
}

fn publish_properties() -> impl Strategy<Value = PublishProperties> {
    (
        option::of(any::<bool>()),
        option::of(any::<u32>()),
        option::of(1..=u16::MAX),
        option::of(topic_name()),
        option::of(binary()),
        users(),
        vec(subscription_id(), 0..4),
        option::of(string()),
    )
        .prop_map(
            |(pfi, exp, alias, rt, cd, up, sids, ct)| PublishProperties {
                payload_format_indicator: pfi,
                message_expiry_interval: exp,
                topic_alias: alias,
                response_topic: rt,
                correlation_data: cd,
                user_properties: up,
                subscription_identifiers: sids,
                content_type: ct,
            },
        )
}

fn publish(protocol: Protocol) -> impl Strategy<Value = Packet> {
    (
        qos(),
        any::<bool>(),
        any::<bool>(),
        topic_name(),
        any::<bool>(),
        packet_id(),
        v5_only(protocol, publish_properties()),
        vec(any::<u8>(), 0..64),
    )
        .prop_map(
            move |(qos, dup, retain, topic, drop_topic, id, properties, payload)| {
                // An empty topic only stands when a topic alias does (3.3.2.1).
                let topic = if drop_topic && properties.topic_alias.is_some() {
                    MqttString::default()
                } else {
                    topic
                };
                Packet::Publish(Publish {
                    dup: dup && qos != QoS::AtMostOnce, // [MQTT-3.3.1-2]
                    qos,
                    retain,
                    topic,
                    packet_id: if qos == QoS::AtMostOnce { 0 } else { id },
                    properties,
                    payload: Bytes::from(payload),
                })
            },
        )
}

fn ack_properties() -> impl Strategy<Value = AckProperties> {
    (option::of(string()), users()).prop_map(|(reason_string, user_properties)| AckProperties {
        reason_string,
        user_properties,
    })
}

fn pub_reply(protocol: Protocol) -> impl Strategy<Value = Packet> {
    let reply = move |codes: &'static [u8]| {
        (
            packet_id(),
            v5_only(protocol, code(codes)),
            v5_only(protocol, ack_properties()),
        )
            .prop_map(|(packet_id, reason, properties)| PubReply {
                packet_id,
                reason,
                properties,
            })
    };
    prop_oneof![
        reply(PUBACK).prop_map(Packet::PubAck),
        reply(PUBACK).prop_map(Packet::PubRec),
        reply(PUBREL).prop_map(Packet::PubRel),
        reply(PUBREL).prop_map(Packet::PubComp),
    ]
}

fn subscribe(protocol: Protocol) -> impl Strategy<Value = Packet> {
    let retain_handling = prop_oneof![
        Just(RetainHandling::OnSubscribe),
        Just(RetainHandling::OnNewSubscribe),
        Just(RetainHandling::Never)
    ];
    let options = (qos(), any::<bool>(), any::<bool>(), retain_handling).prop_map(
        move |(qos, nl, rap, rh)| {
            if protocol.is_v5() {
                SubscriptionOptions {
                    qos,
                    no_local: nl,
                    retain_as_published: rap,
                    retain_handling: rh,
                }
            } else {
                SubscriptionOptions::qos(qos)
            }
        },
    );
    let filter = (topic_filter(), options).prop_map(|(filter, mut options)| {
        if filter.starts_with("$share/") {
            options.no_local = false; // [MQTT-3.8.3-4]
        }
        SubscribeFilter { filter, options }
    });
    let properties = (option::of(subscription_id()), users()).prop_map(
        |(subscription_identifier, user_properties)| SubscribeProperties {
            subscription_identifier,
            user_properties,
        },
    );
    (
        packet_id(),
        vec(filter, 1..5),
        v5_only(protocol, properties),
    )
        .prop_map(|(packet_id, filters, properties)| {
            Packet::Subscribe(Subscribe {
                packet_id,
                filters,
                properties,
            })
        })
}

fn suback(protocol: Protocol) -> impl Strategy<Value = Packet> {
    let codes = if protocol.is_v5() {
        SUBACK_V5
    } else {
        SUBACK_V3
    };
    (
        packet_id(),
        vec(code(codes), 1..6),
        v5_only(protocol, ack_properties()),
    )
        .prop_map(|(packet_id, reasons, properties)| {
            Packet::SubAck(SubAck {
                packet_id,
                reasons,
                properties,
            })
        })
}

fn unsubscribe(protocol: Protocol) -> impl Strategy<Value = Packet> {
    let properties = users().prop_map(|user_properties| UnsubscribeProperties { user_properties });
    (
        packet_id(),
        vec(topic_filter(), 1..5),
        v5_only(protocol, properties),
    )
        .prop_map(|(packet_id, filters, properties)| {
            Packet::Unsubscribe(Unsubscribe {
                packet_id,
                filters,
                properties,
            })
        })
}

fn unsuback(protocol: Protocol) -> impl Strategy<Value = Packet> {
    let reasons = if protocol.is_v5() {
        vec(code(UNSUBACK), 1..6).boxed()
    } else {
        Just(Vec::new()).boxed()
    };
    (packet_id(), reasons, v5_only(protocol, ack_properties())).prop_map(
        |(packet_id, reasons, properties)| {
            Packet::UnsubAck(UnsubAck {
                packet_id,
                reasons,
                properties,
            })
        },
    )
}

fn disconnect(protocol: Protocol) -> impl Strategy<Value = Packet> {
    let properties = (
        option::of(any::<u32>()),
        option::of(string()),
        users(),
        option::of(string()),
    )
        .prop_map(
            |(session_expiry_interval, reason_string, user_properties, server_reference)| {
                DisconnectProperties {
                    session_expiry_interval,
                    reason_string,
                    user_properties,
                    server_reference,
                }
            },
        );
    (
        v5_only(protocol, code(DISCONNECT)),
        v5_only(protocol, properties),
    )
        .prop_map(|(reason, properties)| Packet::Disconnect(Disconnect { reason, properties }))
}

fn auth() -> impl Strategy<Value = Packet> {
    let properties = (
        option::of((string(), option::of(binary()))),
        option::of(string()),
        users(),
    )
        .prop_map(|(auth, reason_string, user_properties)| AuthProperties {
            authentication_method: auth.as_ref().map(|(m, _)| m.clone()),
            authentication_data: auth.and_then(|(_, d)| d), // only with a method (3.15.2.2.3)
            reason_string,
            user_properties,
        });
    (code(AUTH), properties)
        .prop_map(|(reason, properties)| Packet::Auth(Auth { reason, properties }))
}

/// Any valid packet of `protocol`.
fn packet(protocol: Protocol) -> BoxedStrategy<Packet> {
    let common = prop_oneof![
        connect(protocol),
        connack(protocol),
        publish(protocol),
        publish(protocol),
        pub_reply(protocol),
        subscribe(protocol),
        suback(protocol),
        unsubscribe(protocol),
        unsuback(protocol),
        Just(Packet::PingReq),
        Just(Packet::PingResp),
        disconnect(protocol),
    ];
    if protocol.is_v5() {
        prop_oneof![12 => common, 1 => auth()].boxed()
    } else {
        common.boxed()
    }
}

fn protocol() -> impl Strategy<Value = Protocol> {
    proptest::sample::select(&ALL[..])
}

fn protocol_and_packet() -> impl Strategy<Value = (Protocol, Packet)> {
    protocol().prop_flat_map(|p| (Just(p), packet(p)))
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn encode(p: &Packet, protocol: Protocol) -> BytesMut {
    let mut buf = BytesMut::new();
    p.encode(protocol, &mut buf)
        .expect("a valid packet encodes");
    buf
}

/// Decodes packets from `bytes` until it is used up, more is needed, or an error; checks that
/// `Ok(None)` consumes nothing and that accepted packets survive a re-encoding.
fn decode_everything(bytes: &[u8], protocol: Protocol, max: usize) -> Result<(), TestCaseError> {
    let mut buf = BytesMut::from(bytes);
    loop {
        let before = buf.clone();
        match decode(&mut buf, protocol, max) {
            Ok(Some(p)) => {
                prop_assert!(
                    buf.len() < before.len(),
                    "a decoded packet consumes its bytes"
                );
                let consumed = before.len() - buf.len();
                prop_assert!(
                    consumed <= max,
                    "a packet above the maximum size was decoded"
                );
                reencodes(&p, protocol)?;
            }
            Ok(None) => {
                prop_assert_eq!(&buf[..], &before[..], "Ok(None) must not consume anything");
                return Ok(());
            }
            Err(e) => {
                // Every error maps to a reason code a v5 receiver may send.
                prop_assert!(e.reason_code().0 >= 0x80, "{:?}", e);
                return Ok(());
            }
        }
    }
}

/// A packet the decoder accepted must encode, with an exact `encoded_len`, to bytes that
/// decode to the same packet.
fn reencodes(p: &Packet, protocol: Protocol) -> Result<(), TestCaseError> {
    let mut buf = BytesMut::new();
    prop_assert!(
        p.encode(protocol, &mut buf).is_ok(),
        "decoded {:?} does not encode",
        p
    );
    prop_assert_eq!(buf.len(), p.encoded_len(protocol));
    let again = decode(&mut buf, protocol, usize::MAX);
    prop_assert_eq!(
        again,
        Ok(Some(p.clone())),
        "decoded packet does not survive re-encoding"
    );
    prop_assert!(buf.is_empty());
    Ok(())
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, bit: u8 },
    Set { at: usize, byte: u8 },
    Insert { at: usize, byte: u8 },
    Delete { at: usize },
    Truncate { at: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<usize>(), 0..8u8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Set { at, byte }),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        1 => any::<usize>().prop_map(|at| Mutation::Delete { at }),
        1 => any::<usize>().prop_map(|at| Mutation::Truncate { at }),
    ]
}

fn mutate(bytes: &mut Vec<u8>, m: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    let n = bytes.len();
    match *m {
        Mutation::Flip { at, bit } => bytes[at % n] ^= 1 << bit,
        Mutation::Set { at, byte } => bytes[at % n] = byte,
        Mutation::Insert { at, byte } => bytes.insert(at % (n + 1), byte),
        Mutation::Delete { at } => {
            bytes.remove(at % n);
        }
        Mutation::Truncate { at } => bytes.truncate(at % n),
    }
}

/// Writes a remaining length in front of `body`, so the mutation hits the body's fields
/// instead of always breaking the framing.
fn reframe(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    let mut n = body.len();
    loop {
        let mut b = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            b |= 0x80;
        }
        out.push(b);
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(body);
    out
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn valid_packets_roundtrip_in_v3_1(p in packet(Protocol::V3_1)) {
        roundtrip(&p, Protocol::V3_1)?;
    }

    #[test]
    fn valid_packets_roundtrip_in_v3_1_1(p in packet(Protocol::V3_1_1)) {
        roundtrip(&p, Protocol::V3_1_1)?;
    }

    #[test]
    fn valid_packets_roundtrip_in_v5(p in packet(Protocol::V5)) {
        roundtrip(&p, Protocol::V5)?;
    }

    #[test]
    fn a_packet_split_anywhere_decodes_only_when_whole((protocol, p) in protocol_and_packet(), split in any::<usize>()) {
        let wire = encode(&p, protocol);
        let at = split % wire.len();
        let mut buf = BytesMut::from(&wire[..at]);
        prop_assert_eq!(decode(&mut buf, protocol, usize::MAX), Ok(None));
        prop_assert_eq!(buf.len(), at);
        buf.extend_from_slice(&wire[at..]);
        prop_assert_eq!(decode(&mut buf, protocol, usize::MAX), Ok(Some(p)));
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn packets_back_to_back_decode_in_order(
        (protocol, packets) in protocol().prop_flat_map(|p| (Just(p), vec(packet(p), 1..8)))
    ) {
        let mut buf = BytesMut::new();
        for p in &packets {
            p.encode(protocol, &mut buf).unwrap();
        }
        for p in &packets {
            prop_assert_eq!(decode(&mut buf, protocol, usize::MAX), Ok(Some(p.clone())));
        }
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn maximum_packet_size_is_exact((protocol, p) in protocol_and_packet()) {
        let len = p.encoded_len(protocol);
        let mut buf = encode(&p, protocol);
        let mut over = buf.clone();
        prop_assert_eq!(decode(&mut buf, protocol, len), Ok(Some(p)));
        let e = decode(&mut over, protocol, len - 1).unwrap_err();
        prop_assert_eq!(e.reason_code(), ReasonCode::PACKET_TOO_LARGE);
        prop_assert_eq!(over.len(), len, "a rejected packet is not consumed");
    }

    #[test]
    fn random_bytes_never_panic(bytes in vec(any::<u8>(), 0..256), max in prop_oneof![Just(usize::MAX), 0..300usize]) {
        for protocol in ALL {
            decode_everything(&bytes, protocol, max)?;
        }
    }

    #[test]
    fn random_bodies_behind_a_valid_fixed_header_never_panic(first in any::<u8>(), body in vec(any::<u8>(), 0..200)) {
        let bytes = reframe(first, &body);
        for protocol in ALL {
            decode_everything(&bytes, protocol, usize::MAX)?;
        }
    }

    #[test]
    fn mutated_valid_packets_never_panic(
        (protocol, p) in protocol_and_packet(),
        mutations in vec(mutation(), 1..4),
        keep_length in any::<bool>(),
    ) {
        let wire = encode(&p, protocol);
        let mut bytes = wire.to_vec();
        if keep_length {
            // Mutate the body and write a remaining length that fits it.
            let header_len = 1 + varint_len_of(&wire[1..]);
            let mut body = bytes.split_off(header_len);
            for m in &mutations {
                mutate(&mut body, m);
            }
            bytes = reframe(wire[0], &body);
        } else {
            for m in &mutations {
                mutate(&mut bytes, m);
            }
        }
        decode_everything(&bytes, protocol, usize::MAX)?;
    }
}

/// Bytes of the remaining length at the start of `bytes`.
fn varint_len_of(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .position(|b| b & 0x80 == 0)
        .expect("a complete remaining length")
        + 1
}

fn roundtrip(p: &Packet, protocol: Protocol) -> Result<(), TestCaseError> {
    let mut buf = encode(p, protocol);
    prop_assert_eq!(buf.len(), p.encoded_len(protocol), "encoded_len");
    prop_assert_eq!(decode(&mut buf, protocol, usize::MAX), Ok(Some(p.clone())));
    prop_assert!(buf.is_empty());
    Ok(())
}
