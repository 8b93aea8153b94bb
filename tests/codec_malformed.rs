//! Malformed and protocol-violating input: every case the MQTT specifications name must be
//! rejected with the right `DecodeError` variant and the right v5 reason code. Each test cites
//! the conformance statement (MQTT 5.0 numbering unless the name says otherwise; the MQTT
//! 3.1.1 statement is given alongside where the numbers differ).
//!
//! Most tests first decode a valid baseline and then the same bytes with one thing broken, so
//! a failure can only come from what was broken.

use bytes::BytesMut;
use comqtt::mqtt::{
    ConnAck, Connect, DecodeError, Packet, Protocol, PubReply, QoS, ReasonCode, Subscribe,
    SubscriptionOptions, decode, peek_frame,
};

const ALL: [Protocol; 3] = [Protocol::V3_1, Protocol::V3_1_1, Protocol::V5];
const V3: [Protocol; 2] = [Protocol::V3_1, Protocol::V3_1_1];
const V5: Protocol = Protocol::V5;
/// The versions whose specifications carry the numbered conformance statements. MQTT 3.1
/// states fewer rules; where it is silent these tests do not pin what the decoder does.
const NUMBERED: [Protocol; 2] = [Protocol::V3_1_1, Protocol::V5];

const MALFORMED: u8 = 0x81;
const PROTOCOL_ERROR: u8 = 0x82;
const UNSUPPORTED_VERSION: u8 = 0x84;
const TOPIC_NAME_INVALID: u8 = 0x90;
const TOPIC_ALIAS_INVALID: u8 = 0x94;
const PACKET_TOO_LARGE: u8 = 0x95;

// ---------------------------------------------------------------------------------------------
// Building bytes by hand
// ---------------------------------------------------------------------------------------------

/// Concatenates byte slices.
macro_rules! cat {
    ($($part:expr),* $(,)?) => {{
        let mut v: Vec<u8> = Vec::new();
        $(v.extend_from_slice(&$part[..]);)*
        v
    }};
}

fn varint(mut n: usize) -> Vec<u8> {
    let mut v = Vec::new();
    loop {
        let mut b = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            b |= 0x80;
        }
        v.push(b);
        if n == 0 {
            return v;
        }
    }
}

/// A whole packet: the first byte, the remaining length, the body.
fn frame(first: u8, body: &[u8]) -> Vec<u8> {
    cat!([first], varint(body.len()), body)
}

/// A length-prefixed string or binary field.
fn st(s: &[u8]) -> Vec<u8> {
    cat!((s.len() as u16).to_be_bytes(), s)
}

/// A v5 property block: its length, then the properties.
fn props(content: &[u8]) -> Vec<u8> {
    cat!(varint(content.len()), content)
}

/// A CONNECT body: protocol name, level, flags, keep alive 60, v5 properties (when `level` is
/// 5), then `payload`.
fn connect_body(name: &[u8], level: u8, flags: u8, properties: &[u8], payload: &[u8]) -> Vec<u8> {
    let p = if level == 5 {
        props(properties)
    } else {
        Vec::new()
    };
    cat!(st(name), [level, flags, 0x00, 0x3C], p, payload)
}

fn connect_v5(flags: u8, properties: &[u8], payload: &[u8]) -> Vec<u8> {
    frame(0x10, &connect_body(b"MQTT", 5, flags, properties, payload))
}

fn connect_in(protocol: Protocol, flags: u8, payload: &[u8]) -> Vec<u8> {
    frame(
        0x10,
        &connect_body(
            protocol.name().as_bytes(),
            protocol.level(),
            flags,
            &[],
            payload,
        ),
    )
}

/// The will properties field of a CONNECT payload: an empty block in v5, nothing before.
fn no_will_props(protocol: Protocol) -> &'static [u8] {
    if protocol.is_v5() { &[0x00] } else { &[] }
}

/// A PUBLISH: QoS from `first`, topic, packet identifier 1 for QoS > 0, v5 properties, payload.
fn publish(
    protocol: Protocol,
    first: u8,
    topic: &[u8],
    properties: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    let id: &[u8] = if (first >> 1) & 3 == 0 {
        &[]
    } else {
        &[0x00, 0x01]
    };
    let p = if protocol.is_v5() {
        props(properties)
    } else {
        Vec::new()
    };
    frame(first, &cat!(st(topic), id, p, payload))
}

/// A v5 SUBSCRIBE with packet identifier 1, properties and payload.
fn subscribe_v5(properties: &[u8], payload: &[u8]) -> Vec<u8> {
    frame(0x82, &cat!([0x00, 0x01], props(properties), payload))
}

fn subscribe_v3(payload: &[u8]) -> Vec<u8> {
    frame(0x82, &cat!([0x00, 0x01], payload))
}

// ---------------------------------------------------------------------------------------------
// Decoding and asserting
// ---------------------------------------------------------------------------------------------

#[track_caller]
fn accepted(protocol: Protocol, bytes: &[u8]) -> Packet {
    let mut buf = BytesMut::from(bytes);
    match decode(&mut buf, protocol, usize::MAX) {
        Ok(Some(p)) => {
            assert!(buf.is_empty(), "{} bytes left after {p:?}", buf.len());
            p
        }
        Ok(None) => panic!("baseline {bytes:02X?} in {protocol} is incomplete"),
        Err(e) => panic!("baseline {bytes:02X?} in {protocol} was rejected: {e:?}"),
    }
}

#[track_caller]
fn rejected(protocol: Protocol, bytes: &[u8]) -> DecodeError {
    let mut buf = BytesMut::from(bytes);
    match decode(&mut buf, protocol, usize::MAX) {
        Err(e) => e,
        Ok(p) => panic!("{bytes:02X?} in {protocol} should be rejected, decoded {p:?}"),
    }
}

/// Asserts that `bytes` are rejected in `protocol` with an error matching `pattern` whose
/// reason code is `code`.
macro_rules! assert_rejected {
    ($protocol:expr, $bytes:expr, $pattern:pat, $code:expr) => {{
        let protocol = $protocol;
        let bytes: &[u8] = &$bytes[..];
        let e = rejected(protocol, bytes);
        assert!(
            matches!(e, $pattern),
            "{bytes:02X?} in {protocol}: expected {}, got {e:?}",
            stringify!($pattern)
        );
        assert_eq!(e.reason_code(), ReasonCode($code), "reason code of {e:?}");
    }};
}

/// The error of reading past the end of a packet's fields.
fn is_truncated(e: &DecodeError) -> bool {
    matches!(e, DecodeError::Malformed(m) if m.contains("ends before"))
}

// ---------------------------------------------------------------------------------------------
// Fixed header
// ---------------------------------------------------------------------------------------------

/// One valid packet of every type whose fixed header flags are fixed, with those flags.
fn fixed_flag_packets(protocol: Protocol) -> Vec<(Vec<u8>, u8)> {
    let mut out = Vec::new();
    let mut packets = vec![
        Packet::Connect(Box::new(Connect::new(protocol, "c"))),
        Packet::ConnAck(ConnAck::new(ReasonCode::SUCCESS, false)),
        Packet::PubAck(PubReply::new(1)),
        Packet::PubRec(PubReply::new(1)),
        Packet::PubRel(PubReply::new(1)),
        Packet::PubComp(PubReply::new(1)),
        Packet::Subscribe(Subscribe::new(
            1,
            "a",
            SubscriptionOptions::qos(QoS::AtLeastOnce),
        )),
        Packet::SubAck(comqtt::mqtt::SubAck {
            packet_id: 1,
            reasons: vec![ReasonCode(0)],
            ..Default::default()
        }),
        Packet::Unsubscribe(comqtt::mqtt::Unsubscribe {
            packet_id: 1,
            filters: vec!["a".into()],
            ..Default::default()
        }),
        Packet::UnsubAck(comqtt::mqtt::UnsubAck {
            packet_id: 1,
            reasons: if protocol.is_v5() {
                vec![ReasonCode(0)]
            } else {
                vec![]
            },
            ..Default::default()
        }),
        Packet::PingReq,
        Packet::PingResp,
        Packet::Disconnect(Default::default()),
    ];
    if protocol.is_v5() {
        packets.push(Packet::Auth(Default::default()));
    }
    for p in packets {
        let mut buf = BytesMut::new();
        p.encode(protocol, &mut buf).unwrap();
        let flags = buf[0] & 0x0F;
        let expected = match p {
            Packet::PubRel(_) | Packet::Subscribe(_) | Packet::Unsubscribe(_) => 0b0010,
            _ => 0b0000,
        };
        assert_eq!(flags, expected, "encoder flags of {}", p.name());
        out.push((buf.to_vec(), flags));
    }
    out
}

#[test]
fn reserved_fixed_header_flags_wrong_is_malformed_mqtt_2_1_3_1() {
    // 3.1.1: [MQTT-2.2.2-1], [MQTT-2.2.2-2]. PUBREL, SUBSCRIBE, UNSUBSCRIBE must carry 0010,
    // every other type except PUBLISH 0000.
    for protocol in NUMBERED {
        let packets = fixed_flag_packets(protocol);
        assert_eq!(packets.len(), if protocol.is_v5() { 14 } else { 13 });
        for (bytes, good) in packets {
            accepted(protocol, &bytes);
            for flags in (0..16u8).filter(|&f| f != good) {
                let mut bad = bytes.clone();
                bad[0] = (bad[0] & 0xF0) | flags;
                assert_rejected!(protocol, bad, DecodeError::Malformed(_), MALFORMED);
            }
        }
    }
}

#[test]
fn pubrel_subscribe_unsubscribe_with_flags_0000_are_malformed_mqtt_3_6_1_1_3_8_1_1_3_10_1_1() {
    for protocol in NUMBERED {
        let body_sub = if protocol.is_v5() {
            cat!([0, 1, 0], st(b"a"), [1])
        } else {
            cat!([0, 1], st(b"a"), [1])
        };
        let body_unsub = if protocol.is_v5() {
            cat!([0, 1, 0], st(b"a"))
        } else {
            cat!([0, 1], st(b"a"))
        };
        for (good, bad, body) in [
            (0x62, 0x60, vec![0, 1]),
            (0x82, 0x80, body_sub),
            (0xA2, 0xA0, body_unsub),
        ] {
            accepted(protocol, &frame(good, &body));
            assert_rejected!(
                protocol,
                frame(bad, &body),
                DecodeError::Malformed(_),
                MALFORMED
            );
        }
    }
}

#[test]
fn packet_type_0_is_reserved_and_malformed_mqtt_2_1_2() {
    for protocol in ALL {
        for first in [0x00, 0x02, 0x0F] {
            assert_rejected!(
                protocol,
                [first, 0x00],
                DecodeError::Malformed(_),
                MALFORMED
            );
        }
        assert_rejected!(
            protocol,
            [0x00, 0x02, 0x00, 0x01],
            DecodeError::Malformed(_),
            MALFORMED
        );
    }
}

#[test]
fn packet_type_15_is_reserved_before_v5() {
    for protocol in V3 {
        assert_rejected!(protocol, [0xF0, 0x00], DecodeError::Malformed(_), MALFORMED);
        assert_rejected!(
            protocol,
            [0xF0, 0x02, 0x18, 0x00],
            DecodeError::Malformed(_),
            MALFORMED
        );
    }
    // In v5 type 15 is AUTH.
    assert_eq!(
        accepted(V5, &[0xF0, 0x00]),
        Packet::Auth(Default::default())
    );
}

#[test]
fn remaining_length_of_five_bytes_is_malformed_mqtt_1_5_5() {
    for protocol in ALL {
        let e = rejected(protocol, &[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]);
        assert!(matches!(e, DecodeError::Malformed(_)), "{e:?}");
        assert_eq!(e.reason_code(), ReasonCode(MALFORMED));
        // The fifth byte is known to be wrong as soon as the fourth has its continuation bit.
        assert_rejected!(
            protocol,
            [0xC0, 0x80, 0x80, 0x80, 0x80],
            DecodeError::Malformed(_),
            MALFORMED
        );
        assert!(matches!(
            peek_frame(&[0xC0, 0x80, 0x80, 0x80, 0x80], usize::MAX),
            Err(DecodeError::Malformed(_))
        ));
    }
}

#[test]
fn remaining_length_not_minimally_encoded_is_malformed_mqtt_1_5_5_1() {
    for protocol in ALL {
        // PINGREQ with remaining length 0 written in two bytes.
        assert_rejected!(
            protocol,
            [0xC0, 0x80, 0x00],
            DecodeError::Malformed(_),
            MALFORMED
        );
        // PUBACK with remaining length 2 written as 0x82 0x00.
        accepted(protocol, &[0x40, 0x02, 0x00, 0x01]);
        assert_rejected!(
            protocol,
            [0x40, 0x82, 0x00, 0x00, 0x01],
            DecodeError::Malformed(_),
            MALFORMED
        );
        // 127 in three bytes.
        assert_rejected!(
            protocol,
            [0x30, 0xFF, 0x80, 0x00],
            DecodeError::Malformed(_),
            MALFORMED
        );
    }
}

#[test]
fn packet_larger_than_maximum_packet_size_is_0x95_from_the_fixed_header_alone() {
    // v5 3.1.2.11.4 / 3.2.2.3.6 and [MQTT-3.1.2-24]: a packet above the receiver's Maximum Packet
    // Size is answered with 0x95. The limit is enforced before the body is buffered.
    for protocol in ALL {
        let header = [0x30, 0xFF, 0xFF, 0xFF, 0x7F]; // announces 268,435,455 body bytes
        let mut buf = BytesMut::from(&header[..]);
        let e = decode(&mut buf, protocol, 1024).unwrap_err();
        assert_eq!(
            e,
            DecodeError::TooLarge {
                size: 268_435_460,
                max: 1024
            }
        );
        assert_eq!(e.reason_code(), ReasonCode(PACKET_TOO_LARGE));
        assert_eq!(
            peek_frame(&header, 1024),
            Err(DecodeError::TooLarge {
                size: 268_435_460,
                max: 1024
            })
        );

        // Two bytes of header are enough when they already say too much.
        let mut buf = BytesMut::from(&[0x30, 0x7F][..]);
        assert_eq!(
            decode(&mut buf, protocol, 128),
            Err(DecodeError::TooLarge {
                size: 129,
                max: 128
            })
        );
        let mut buf = BytesMut::from(&[0x30, 0x7F][..]);
        assert_eq!(
            decode(&mut buf, protocol, 129),
            Ok(None),
            "exactly the limit is allowed"
        );
    }
}

#[test]
fn incomplete_packets_are_not_errors_and_consume_nothing() {
    for protocol in ALL {
        let whole = [0x40, 0x02, 0x00, 0x01];
        for n in 0..whole.len() {
            let mut buf = BytesMut::from(&whole[..n]);
            assert_eq!(decode(&mut buf, protocol, usize::MAX), Ok(None));
            assert_eq!(buf.len(), n);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Trailing and missing bytes
// ---------------------------------------------------------------------------------------------

#[test]
fn pingreq_and_pingresp_with_remaining_length_1_are_malformed() {
    for protocol in ALL {
        accepted(protocol, &[0xC0, 0x00]);
        assert_rejected!(
            protocol,
            [0xC0, 0x01, 0x00],
            DecodeError::Malformed(_),
            MALFORMED
        );
        assert_rejected!(
            protocol,
            [0xD0, 0x01, 0x00],
            DecodeError::Malformed(_),
            MALFORMED
        );
    }
}

#[test]
fn v3_puback_pubrec_pubrel_pubcomp_with_three_bytes_are_malformed() {
    // 3.1.1 3.4.2 ff.: the remaining length of these packets is exactly 2.
    for protocol in V3 {
        for first in [0x40, 0x50, 0x62, 0x70] {
            accepted(protocol, &[first, 0x02, 0x00, 0x01]);
            assert_rejected!(
                protocol,
                [first, 0x03, 0x00, 0x01, 0x00],
                DecodeError::Malformed(_),
                MALFORMED
            );
        }
    }
}

#[test]
fn v3_connack_unsuback_and_disconnect_with_extra_bytes_are_malformed() {
    for protocol in V3 {
        accepted(protocol, &[0x20, 0x02, 0x00, 0x00]);
        assert_rejected!(
            protocol,
            [0x20, 0x03, 0x00, 0x00, 0x00],
            DecodeError::Malformed(_),
            MALFORMED
        );
        accepted(protocol, &[0xB0, 0x02, 0x00, 0x01]);
        assert_rejected!(
            protocol,
            [0xB0, 0x03, 0x00, 0x01, 0x00],
            DecodeError::Malformed(_),
            MALFORMED
        );
        accepted(protocol, &[0xE0, 0x00]);
        assert_rejected!(
            protocol,
            [0xE0, 0x01, 0x00],
            DecodeError::Malformed(_),
            MALFORMED
        );
    }
}

#[test]
fn connect_with_bytes_after_its_last_field_is_malformed() {
    for protocol in ALL {
        let good = connect_in(protocol, 0x02, &st(b"c"));
        accepted(protocol, &good);
        let bad = frame(0x10, &cat!(&good[2..], [0x00]));
        assert_rejected!(protocol, bad, DecodeError::Malformed(_), MALFORMED);
    }
}

#[test]
fn v5_ack_with_bytes_after_its_properties_is_malformed() {
    accepted(V5, &[0x40, 0x04, 0x00, 0x01, 0x00, 0x00]);
    assert_rejected!(
        V5,
        [0x40, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00],
        DecodeError::Malformed(_),
        MALFORMED
    );
    assert_rejected!(
        V5,
        [0xE0, 0x03, 0x00, 0x00, 0x00],
        DecodeError::Malformed(_),
        MALFORMED
    );
    assert_rejected!(
        V5,
        [0xF0, 0x03, 0x00, 0x00, 0x00],
        DecodeError::Malformed(_),
        MALFORMED
    );
}

#[test]
fn truncated_packets_are_malformed() {
    for protocol in ALL {
        // PUBACK whose body is one byte: the packet identifier is cut.
        let e = rejected(protocol, &[0x40, 0x01, 0x00]);
        assert!(is_truncated(&e), "{e:?}");
        assert_eq!(e.reason_code(), ReasonCode(MALFORMED));
        // PUBLISH QoS 1 with a topic and no packet identifier.
        assert!(is_truncated(&rejected(protocol, &frame(0x32, &st(b"a/b")))));
        // PUBLISH whose topic length runs past the body.
        assert!(is_truncated(&rejected(
            protocol,
            &[0x30, 0x03, 0x00, 0x05, b'a']
        )));
        // PUBLISH with an empty body.
        assert!(is_truncated(&rejected(protocol, &[0x30, 0x00])));
        // CONNACK with one byte.
        assert!(is_truncated(&rejected(protocol, &[0x20, 0x01, 0x00])));
        // SUBSCRIBE whose filter has no options byte.
        let body = if protocol.is_v5() {
            cat!([0, 1, 0], st(b"a"))
        } else {
            cat!([0, 1], st(b"a"))
        };
        assert!(is_truncated(&rejected(protocol, &frame(0x82, &body))));
        // UNSUBSCRIBE with half a filter length.
        let body = if protocol.is_v5() {
            vec![0, 1, 0, 0]
        } else {
            vec![0, 1, 0]
        };
        assert!(is_truncated(&rejected(protocol, &frame(0xA2, &body))));
    }
}

#[test]
fn truncated_connect_is_malformed() {
    for protocol in ALL {
        let payload = cat!(
            st(b"c"),
            no_will_props(protocol),
            st(b"t"),
            st(b"m"),
            st(b"u"),
            st(b"p")
        );
        let full = connect_in(protocol, 0xC6, &payload);
        accepted(protocol, &full);
        let body = &full[2..];
        // Every proper prefix of the body, re-framed, is a packet that ends before its fields.
        for cut in 0..body.len() {
            let e = rejected(protocol, &frame(0x10, &body[..cut]));
            assert!(is_truncated(&e), "cut at {cut} in {protocol}: {e:?}");
            assert_eq!(e.reason_code(), ReasonCode(MALFORMED));
        }
    }
}

#[test]
fn truncated_v5_properties_are_malformed() {
    // A four-byte property whose value is cut by the end of the property block.
    assert_rejected!(
        V5,
        publish(V5, 0x30, b"t", &[0x02, 0x00, 0x00], b""),
        DecodeError::Malformed(_),
        MALFORMED
    );
    // A string property whose length runs past the property block (but not the packet).
    let bad = frame(0x30, &cat!(st(b"t"), [0x03, 0x03, 0x00, 0x05], b"abcdef"));
    assert_rejected!(V5, bad, DecodeError::Malformed(_), MALFORMED);
    // A user property with a name and no value.
    assert_rejected!(
        V5,
        publish(V5, 0x30, b"t", &cat!([0x26], st(b"k")), b""),
        DecodeError::Malformed(_),
        MALFORMED
    );
    // A subscription identifier whose variable byte integer does not end in the block.
    assert_rejected!(
        V5,
        publish(V5, 0x30, b"t", &[0x0B, 0x80], b""),
        DecodeError::Malformed(_),
        MALFORMED
    );
}

// ---------------------------------------------------------------------------------------------
// CONNECT
// ---------------------------------------------------------------------------------------------

#[test]
fn connect_reserved_flag_set_is_malformed_mqtt_3_1_2_3() {
    for protocol in NUMBERED {
        accepted(protocol, &connect_in(protocol, 0x02, &st(b"c")));
        assert_rejected!(
            protocol,
            connect_in(protocol, 0x03, &st(b"c")),
            DecodeError::Malformed(_),
            MALFORMED
        );
        assert_rejected!(
            protocol,
            connect_in(protocol, 0x01, &st(b"c")),
            DecodeError::Malformed(_),
            MALFORMED
        );
    }
}

#[test]
fn connect_will_qos_without_will_flag_is_malformed_mqtt_3_1_2_11() {
    // 3.1.1: [MQTT-3.1.2-13]
    for protocol in NUMBERED {
        accepted(
            protocol,
            &connect_in(
                protocol,
                0x0E,
                &cat!(st(b"c"), no_will_props(protocol), st(b"t"), st(b"m")),
            ),
        );
        for will_qos in [0x08, 0x10, 0x18] {
            let bad = connect_in(protocol, 0x02 | will_qos, &st(b"c"));
            assert_rejected!(protocol, bad, DecodeError::Malformed(_), MALFORMED);
        }
    }
}

#[test]
fn connect_will_retain_without_will_flag_is_malformed_mqtt_3_1_2_13() {
    // 3.1.1: [MQTT-3.1.2-15]
    for protocol in NUMBERED {
        accepted(
            protocol,
            &connect_in(
                protocol,
                0x26,
                &cat!(st(b"c"), no_will_props(protocol), st(b"t"), st(b"m")),
            ),
        );
        assert_rejected!(
            protocol,
            connect_in(protocol, 0x22, &st(b"c")),
            DecodeError::Malformed(_),
            MALFORMED
        );
    }
}

#[test]
fn connect_will_qos_3_is_malformed_mqtt_3_1_2_12() {
    // 3.1.1: [MQTT-3.1.2-14]
    for protocol in ALL {
        let payload = cat!(st(b"c"), no_will_props(protocol), st(b"t"), st(b"m"));
        accepted(protocol, &connect_in(protocol, 0x16, &payload));
        assert_rejected!(
            protocol,
            connect_in(protocol, 0x1E, &payload),
            DecodeError::Malformed(_),
            MALFORMED
        );
    }
}

#[test]
fn connect_password_without_username_is_malformed_in_3_1_1_mqtt_3_1_2_22() {
    let protocol = Protocol::V3_1_1;
    accepted(
        protocol,
        &connect_in(protocol, 0xC2, &cat!(st(b"c"), st(b"u"), st(b"p"))),
    );
    let bad = connect_in(protocol, 0x42, &cat!(st(b"c"), st(b"p")));
    assert_rejected!(protocol, bad, DecodeError::Malformed(_), MALFORMED);
}

#[test]
fn connect_password_without_username_is_allowed_in_v5_3_1_2_9() {
    let Packet::Connect(c) = accepted(V5, &connect_v5(0x42, &[], &cat!(st(b"c"), st(b"secret"))))
    else {
        panic!()
    };
    assert_eq!(c.username, None);
    assert_eq!(c.password.as_deref(), Some(&b"secret"[..]));
}

#[test]
fn connect_unsupported_protocol_level_is_0x84_mqtt_3_1_2_2() {
    for (name, level) in [
        (&b"MQTT"[..], 3u8),
        (b"MQTT", 6),
        (b"MQTT", 0),
        (b"MQTT", 0x84),
        (b"MQIsdp", 4),
        (b"MQIsdp", 5),
    ] {
        for protocol in ALL {
            let bytes = frame(0x10, &connect_body(name, level, 0x02, &[], &st(b"c")));
            let e = rejected(protocol, &bytes);
            assert_eq!(
                e,
                DecodeError::UnsupportedProtocol {
                    name: String::from_utf8(name.to_vec()).unwrap(),
                    level
                }
            );
            assert_eq!(e.reason_code(), ReasonCode(UNSUPPORTED_VERSION));
        }
    }
}

#[test]
fn connect_unknown_protocol_name_is_0x84_mqtt_3_1_2_1() {
    for name in [&b"MQTX"[..], b"mqtt", b"MQIsdP", b"", b"MQTT\xC3\xA9"] {
        for level in [3, 4, 5] {
            let bytes = frame(0x10, &connect_body(name, level, 0x02, &[], &st(b"c")));
            assert_rejected!(
                Protocol::V3_1_1,
                bytes,
                DecodeError::UnsupportedProtocol { .. },
                UNSUPPORTED_VERSION
            );
        }
    }
}

#[test]
fn connect_client_id_ill_formed_utf8_is_malformed_mqtt_1_5_4_1() {
    // 3.1.1: [MQTT-1.5.3-1]
    for protocol in ALL {
        accepted(protocol, &connect_in(protocol, 0x02, &st("é".as_bytes())));
        for bad in [
            &[0xC3, 0x28][..],
            &[0xED, 0xA0, 0x80],
            &[0xC0, 0xAF],
            &[0xFF],
            &[b'a', 0xE2, 0x82],
        ] {
            assert_rejected!(
                protocol,
                connect_in(protocol, 0x02, &st(bad)),
                DecodeError::Malformed(_),
                MALFORMED
            );
        }
    }
}

#[test]
fn connect_client_id_with_null_character_is_malformed_mqtt_1_5_4_2() {
    // 3.1.1: [MQTT-1.5.3-2]
    for protocol in ALL {
        assert_rejected!(
            protocol,
            connect_in(protocol, 0x02, &st(b"a\0b")),
            DecodeError::Malformed(_),
            MALFORMED
        );
        assert_rejected!(
            protocol,
            connect_in(protocol, 0x02, &st(b"\0")),
            DecodeError::Malformed(_),
            MALFORMED
        );
    }
}

#[test]
fn connect_will_topic_and_user_name_with_bad_utf8_or_null_are_malformed_mqtt_1_5_4_1_and_2() {
    for protocol in ALL {
        let will_props = no_will_props(protocol);
        for bad in [&b"a\0"[..], &[0xC3]] {
            let bad_will = connect_in(
                protocol,
                0x06,
                &cat!(st(b"c"), will_props, st(bad), st(b"m")),
            );
            assert_rejected!(protocol, bad_will, DecodeError::Malformed(_), MALFORMED);
            let bad_user = connect_in(protocol, 0x82, &cat!(st(b"c"), st(bad)));
            assert_rejected!(protocol, bad_user, DecodeError::Malformed(_), MALFORMED);
        }
    }
}

#[test]
fn connect_will_topic_with_wildcard_or_empty_is_topic_name_invalid_mqtt_4_7_1_1() {
    for protocol in ALL {
        let will_props = no_will_props(protocol);
        accepted(
            protocol,
            &connect_in(
                protocol,
                0x06,
                &cat!(st(b"c"), will_props, st(b"a/b"), st(b"m")),
            ),
        );
        for topic in [&b"a/+"[..], b"#", b"a/#", b""] {
            let bad = connect_in(
                protocol,
                0x06,
                &cat!(st(b"c"), will_props, st(topic), st(b"m")),
            );
            assert_rejected!(protocol, bad, DecodeError::TopicName(_), TOPIC_NAME_INVALID);
        }
    }
}

#[test]
fn connect_topic_alias_property_is_not_allowed_0x81() {
    accepted(V5, &connect_v5(0x02, &[0x22, 0x00, 0x05], &st(b"c")));
    let e = rejected(V5, &connect_v5(0x02, &[0x23, 0x00, 0x05], &st(b"c")));
    assert_eq!(
        e,
        DecodeError::PropertyNotAllowed {
            id: 0x23,
            packet: "CONNECT"
        }
    );
    assert_eq!(e.reason_code(), ReasonCode(MALFORMED));
    for not_allowed in [
        &[0x01, 0x00][..],   // payload format indicator
        &[0x02, 0, 0, 0, 1], // message expiry interval
        &[0x0B, 0x01],       // subscription identifier
        &[0x13, 0x00, 0x01], // server keep alive
        &[0x18, 0, 0, 0, 1], // will delay interval
        &[0x1F, 0x00, 0x00], // reason string
        &[0x24, 0x01],       // maximum QoS
    ] {
        let e = rejected(V5, &connect_v5(0x02, not_allowed, &st(b"c")));
        assert_eq!(
            e,
            DecodeError::PropertyNotAllowed {
                id: not_allowed[0],
                packet: "CONNECT"
            }
        );
        assert_eq!(e.reason_code(), ReasonCode(MALFORMED));
    }
}

#[test]
fn connect_property_repeated_is_protocol_error_3_1_2_11() {
    let once: [&[u8]; 8] = [
        &[0x11, 0, 0, 0, 1],
        &[0x21, 0x00, 0x01],
        &[0x27, 0, 0, 1, 0],
        &[0x22, 0x00, 0x01],
        &[0x19, 0x01],
        &[0x17, 0x01],
        &[0x15, 0x00, 0x01, b'm'],
        &[0x16, 0x00, 0x01, b'd'],
    ];
    for p in once {
        let twice = cat!(p, p);
        let with_method: &[u8] = if p[0] == 0x16 {
            &[0x15, 0x00, 0x01, b'm']
        } else {
            &[]
        };
        accepted(V5, &connect_v5(0x02, &cat!(with_method, p), &st(b"c")));
        let e = rejected(V5, &connect_v5(0x02, &cat!(with_method, twice), &st(b"c")));
        assert_eq!(e, DecodeError::RepeatedProperty(p[0]));
        assert_eq!(e.reason_code(), ReasonCode(PROTOCOL_ERROR));
    }
    // User properties may repeat.
    let user = cat!([0x26], st(b"k"), st(b"v"));
    accepted(V5, &connect_v5(0x02, &cat!(user, user), &st(b"c")));
}

#[test]
fn connect_receive_maximum_0_is_protocol_error_3_1_2_11_3() {
    let e = rejected(V5, &connect_v5(0x02, &[0x21, 0x00, 0x00], &st(b"c")));
    assert_eq!(e, DecodeError::InvalidPropertyValue(0x21));
    assert_eq!(e.reason_code(), ReasonCode(PROTOCOL_ERROR));
}

#[test]
fn connect_maximum_packet_size_0_is_protocol_error_3_1_2_11_4() {
    accepted(
        V5,
        &connect_v5(0x02, &[0x27, 0x00, 0x00, 0x00, 0x01], &st(b"c")),
    );
    let e = rejected(
        V5,
        &connect_v5(0x02, &[0x27, 0x00, 0x00, 0x00, 0x00], &st(b"c")),
    );
    assert_eq!(e, DecodeError::InvalidPropertyValue(0x27));
    assert_eq!(e.reason_code(), ReasonCode(PROTOCOL_ERROR));
}

#[test]
fn connect_request_problem_and_response_information_2_are_protocol_errors_3_1_2_11_6_and_7() {
    for id in [0x17u8, 0x19] {
        accepted(V5, &connect_v5(0x02, &[id, 0x01], &st(b"c")));
        for value in [2u8, 0xFF] {
            let e = rejected(V5, &connect_v5(0x02, &[id, value], &st(b"c")));
            assert_eq!(e, DecodeError::InvalidPropertyValue(id));
            assert_eq!(e.reason_code(), ReasonCode(PROTOCOL_ERROR));
        }
    }
}

#[test]
fn connect_authentication_data_without_method_is_protocol_error_3_1_2_11_10() {
    accepted(
        V5,
        &connect_v5(
            0x02,
            &[0x15, 0x00, 0x01, b'm', 0x16, 0x00, 0x01, 0xAA],
            &st(b"c"),
        ),
    );
    assert_rejected!(
        V5,
        connect_v5(0x02, &[0x16, 0x00, 0x01, 0xAA], &st(b"c")),
        DecodeError::Protocol(_),
        PROTOCOL_ERROR
    );
}

#[test]
fn connect_unknown_property_identifier_is_malformed_2_2_2_2() {
    for id in [
        &[0x00u8][..],
        &[0x04],
        &[0x05],
        &[0x10],
        &[0x14],
        &[0x1B],
        &[0x2B],
        &[0x7F],
        &[0x80, 0x01],
        &[0xFF, 0x7F],
    ] {
        let bad = connect_v5(0x02, &cat!(id, [0x00, 0x00, 0x00, 0x00]), &st(b"c"));
        assert_rejected!(V5, bad, DecodeError::Malformed(_), MALFORMED);
    }
}

#[test]
fn connect_property_length_exceeding_the_packet_is_malformed() {
    // Property length 0x7F with only a few bytes left in the packet.
    let body = cat!(
        st(b"MQTT"),
        [5, 0x02, 0x00, 0x3C, 0x7F, 0x11, 0, 0, 0, 1],
        st(b"c")
    );
    assert_rejected!(V5, frame(0x10, &body), DecodeError::Malformed(_), MALFORMED);
}

#[test]
fn connect_user_property_with_bad_utf8_or_null_is_malformed_mqtt_1_5_4_1_and_2() {
    accepted(
        V5,
        &connect_v5(0x02, &cat!([0x26], st(b"k"), st(b"v")), &st(b"c")),
    );
    for (k, v) in [
        (&b"k\0"[..], &b"v"[..]),
        (b"k", b"\0"),
        (b"\xC3", b"v"),
        (b"k", b"\xED\xA0\x80"),
    ] {
        let bad = connect_v5(0x02, &cat!([0x26], st(k), st(v)), &st(b"c"));
        assert_rejected!(V5, bad, DecodeError::Malformed(_), MALFORMED);
    }
}

#[test]
fn will_properties_invalid_values_are_rejected_3_1_3_2() {
    let will = |p: &[u8]| connect_v5(0x06, &[], &cat!(st(b"c"), props(p), st(b"t"), st(b"m")));
    accepted(V5, &will(&[0x01, 0x01, 0x18, 0, 0, 0, 5]));
    // Payload format indicator 2.
    let e = rejected(V5, &will(&[0x01, 0x02]));
    assert_eq!(e, DecodeError::InvalidPropertyValue(0x01));
    assert_eq!(e.reason_code(), ReasonCode(PROTOCOL_ERROR));
    // A CONNECT property among the will properties.
    let e = rejected(V5, &will(&[0x11, 0, 0, 0, 1]));
    assert_eq!(
        e,
        DecodeError::PropertyNotAllowed {
            id: 0x11,
            packet: "CONNECT will properties"
        }
    );
    assert_eq!(e.reason_code(), ReasonCode(MALFORMED));
    // Will delay interval twice.
    let e = rejected(V5, &will(&[0x18, 0, 0, 0, 1, 0x18, 0, 0, 0, 2]));
    assert_eq!(e, DecodeError::RepeatedProperty(0x18));
    assert_eq!(e.reason_code(), ReasonCode(PROTOCOL_ERROR));
    // Response topic with a wildcard [MQTT-3.3.2-14].
    let e = rejected(V5, &will(&cat!([0x08], st(b"r/#"))));
    assert_eq!(e, DecodeError::InvalidPropertyValue(0x08));
    // Will property length running past the packet.
    let e = rejected(
        V5,
        &connect_v5(0x06, &[], &cat!(st(b"c"), [0x40], st(b"t"), st(b"m"))),
    );
    assert!(matches!(e, DecodeError::Malformed(_)), "{e:?}");
}

// ---------------------------------------------------------------------------------------------
// CONNACK
// ---------------------------------------------------------------------------------------------

#[test]
fn connack_reserved_flags_set_is_malformed_mqtt_3_2_2_1() {
    for protocol in NUMBERED {
        let tail: &[u8] = if protocol.is_v5() { &[0x00] } else { &[] };
        accepted(protocol, &frame(0x20, &cat!([0x01, 0x00], tail)));
        for flags in [0x02u8, 0x80, 0xFE, 0xFF] {
            let bad = frame(0x20, &cat!([flags, 0x00], tail));
            assert_rejected!(protocol, bad, DecodeError::Malformed(_), MALFORMED);
        }
    }
}

#[test]
fn connack_session_present_with_failure_code_is_protocol_error_mqtt_3_2_2_6() {
    // 3.1.1: [MQTT-3.2.2-4]
    assert_rejected!(
        Protocol::V3_1_1,
        [0x20, 0x02, 0x01, 0x05],
        DecodeError::Protocol(_),
        PROTOCOL_ERROR
    );
    assert_rejected!(
        V5,
        [0x20, 0x03, 0x01, 0x87, 0x00],
        DecodeError::Protocol(_),
        PROTOCOL_ERROR
    );
    accepted(V5, &[0x20, 0x03, 0x00, 0x87, 0x00]);
}

#[test]
fn connack_invalid_return_or_reason_code_is_protocol_error_3_2_2_2() {
    for protocol in V3 {
        for code in [0x06u8, 0x80, 0xFF] {
            let e = rejected(protocol, &[0x20, 0x02, 0x00, code]);
            assert_eq!(
                e,
                DecodeError::InvalidReasonCode {
                    code,
                    packet: "CONNACK"
                }
            );
            assert_eq!(e.reason_code(), ReasonCode(PROTOCOL_ERROR));
        }
    }
    for code in [0x01u8, 0x04, 0x10, 0x18, 0x8B, 0x8E, 0x91, 0xA2, 0xFF] {
        let e = rejected(V5, &[0x20, 0x03, 0x00, code, 0x00]);
        assert_eq!(
            e,
            DecodeError::InvalidReasonCode {
                code,
                packet: "CONNACK"
            }
        );
        assert_eq!(e.reason_code(), ReasonCode(PROTOCOL_ERROR));
    }
}

#[test]
fn connack_properties_out_of_range_are_protocol_errors_3_2_2_3() {
    let connack = |p: &[u8]| frame(0x20, &cat!([0x00, 0x00], props(p)));
    for (good, bad, id) in [
        (&[0x21u8, 0x00, 0x01][..], &[0x21u8, 0x00, 0x00][..], 0x21u8), // receive maximum 0
        (&[0x27, 0, 0, 0, 1], &[0x27, 0, 0, 0, 0], 0x27),               // maximum packet size 0
        (&[0x24, 0x01], &[0x24, 0x02], 0x24),                           // maximum QoS 2
        (&[0x25, 0x01], &[0x25, 0x02], 0x25),                           // retain available 2
        (&[0x28, 0x00], &[0x28, 0x02], 0x28), // wildcard subscription available 2
        (&[0x29, 0x00], &[0x29, 0x02], 0x29), // subscription identifiers available 2
        (&[0x2A, 0x00], &[0x2A, 0x02], 0x2A), // shared subscription available 2
    ] {
        accepted(V5, &connack(good));
        let e = rejected(V5, &connack(bad));
        assert_eq!(e, DecodeError::InvalidPropertyValue(id));
        assert_eq!(e.reason_code(), ReasonCode(PROTOCOL_ERROR));
        let e = rejected(V5, &connack(&cat!(good, good)));
        assert_eq!(e, DecodeError::RepeatedProperty(id));
        assert_eq!(e.reason_code(), ReasonCode(PROTOCOL_ERROR));
    }
    for not_allowed in [
        &[0x23u8, 0x00, 0x01][..],
        &[0x18, 0, 0, 0, 1],
        &[0x17, 0x01],
        &[0x0B, 0x01],
    ] {
        let e = rejected(V5, &connack(not_allowed));
        assert_eq!(
            e,
            DecodeError::PropertyNotAllowed {
                id: not_allowed[0],
                packet: "CONNACK"
            }
        );
        assert_eq!(e.reason_code(), ReasonCode(MALFORMED));
    }
}

// ---------------------------------------------------------------------------------------------
// PUBLISH
// ---------------------------------------------------------------------------------------------

#[test]
fn publish_with_qos3_is_malformed_mqtt_3_3_1_4() {
    for protocol in ALL {
        accepted(protocol, &publish(protocol, 0x34, b"t", &[], b"x"));
        for first in [0x36, 0x37, 0x3E, 0x3F] {
            assert_rejected!(
                protocol,
                publish(protocol, first, b"t", &[], b"x"),
                DecodeError::Malformed(_),
                MALFORMED
            );
        }
    }
}

#[test]
fn publish_qos0_with_dup_is_malformed_mqtt_3_3_1_2() {
    for protocol in NUMBERED {
        accepted(protocol, &publish(protocol, 0x3A, b"t", &[], b"x"));
        for first in [0x38, 0x39] {
            assert_rejected!(
                protocol,
                publish(protocol, first, b"t", &[], b"x"),
                DecodeError::Malformed(_),
                MALFORMED
            );
        }
    }
}

#[test]
fn publish_topic_with_wildcard_is_topic_name_invalid_mqtt_3_3_2_2() {
    for protocol in ALL {
        accepted(protocol, &publish(protocol, 0x30, b"a/b", &[], b""));
        for topic in [&b"a/+"[..], b"+", b"#", b"a/#", b"a+b", b"a#"] {
            for first in [0x30, 0x32] {
                assert_rejected!(
                    protocol,
                    publish(protocol, first, topic, &[], b""),
                    DecodeError::TopicName(_),
                    TOPIC_NAME_INVALID
                );
            }
        }
    }
}

#[test]
fn publish_empty_topic_without_topic_alias_is_protocol_error_3_3_2_1() {
    // v5 3.3.2.1: "It is a Protocol Error if the Topic Name is zero length and there is no
    // Topic Alias." 3.1.1: [MQTT-4.7.3-1] topic names are at least one character long.
    for protocol in ALL {
        assert_rejected!(
            protocol,
            publish(protocol, 0x30, b"", &[], b"x"),
            DecodeError::Protocol(_),
            PROTOCOL_ERROR
        );
        assert_rejected!(
            protocol,
            publish(protocol, 0x32, b"", &[], b"x"),
            DecodeError::Protocol(_),
            PROTOCOL_ERROR
        );
    }
    accepted(V5, &publish(V5, 0x30, b"", &[0x23, 0x00, 0x01], b"x"));
    // Other properties do not stand in for an alias.
    assert_rejected!(
        V5,
        publish(V5, 0x30, b"", &[0x02, 0, 0, 0, 1], b"x"),
        DecodeError::Protocol(_),
        PROTOCOL_ERROR
    );
}

#[test]
fn publish_topic_alias_0_is_topic_alias_invalid_mqtt_3_3_2_8() {
    accepted(V5, &publish(V5, 0x30, b"t", &[0x23, 0x00, 0x01], b""));
    for topic in [&b"t"[..], b""] {
        let e = rejected(V5, &publish(V5, 0x30, topic, &[0x23, 0x00, 0x00], b""));
        assert_eq!(e, DecodeError::TopicAliasZero);
        assert_eq!(e.reason_code(), ReasonCode(TOPIC_ALIAS_INVALID));
    }
}

#[test]
fn publish_qos1_and_qos2_with_packet_id_0_are_protocol_errors_mqtt_2_2_1_3() {
    // 3.1.1: [MQTT-2.3.1-1]
    for protocol in ALL {
        for first in [0x32, 0x34, 0x3A, 0x3D] {
            let p: &[u8] = if protocol.is_v5() { &[0x00] } else { &[] };
            accepted(protocol, &frame(first, &cat!(st(b"t"), [0x00, 0x01], p)));
            let bad = frame(first, &cat!(st(b"t"), [0x00, 0x00], p));
            assert_rejected!(protocol, bad, DecodeError::Protocol(_), PROTOCOL_ERROR);
        }
    }
}

#[test]
fn publish_topic_ill_formed_utf8_is_malformed_mqtt_1_5_4_1() {
    for protocol in ALL {
        for bad in [
            &[0xC3][..],
            &[b'a', 0xFF],
            &[0xED, 0xBF, 0xBF],
            &[0xF8, 0x88, 0x80, 0x80, 0x80],
        ] {
            assert_rejected!(
                protocol,
                publish(protocol, 0x30, bad, &[], b""),
                DecodeError::Malformed(_),
                MALFORMED
            );
        }
    }
}

#[test]
fn publish_topic_with_null_character_is_malformed_mqtt_1_5_4_2() {
    for protocol in ALL {
        assert_rejected!(
            protocol,
            publish(protocol, 0x30, b"a/\0", &[], b""),
            DecodeError::Malformed(_),
            MALFORMED
        );
    }
}

#[test]
fn publish_payload_is_not_checked_as_utf8() {
    for protocol in ALL {
        accepted(protocol, &publish(protocol, 0x30, b"t", &[], b"\0\xFF\xC3"));
    }
}

#[test]
fn publish_user_property_with_bad_utf8_or_null_is_malformed_mqtt_1_5_4_1_and_2() {
    accepted(
        V5,
        &publish(V5, 0x30, b"t", &cat!([0x26], st(b"k"), st(b"v")), b""),
    );
    for (k, v) in [
        (&b"\0"[..], &b"v"[..]),
        (b"k", b"v\0"),
        (b"\xFF", b"v"),
        (b"k", b"\xC0\x80"),
    ] {
        let bad = publish(V5, 0x30, b"t", &cat!([0x26], st(k), st(v)), b"");
        assert_rejected!(V5, bad, DecodeError::Malformed(_), MALFORMED);
    }
    // The same for string properties: content type and response topic.
    for id in [0x03u8, 0x08] {
        let bad = publish(V5, 0x30, b"t", &cat!([id], st(b"a\0")), b"");
        assert_rejected!(V5, bad, DecodeError::Malformed(_), MALFORMED);
    }
}

#[test]
fn publish_session_expiry_property_is_not_allowed_0x81() {
    let e = rejected(V5, &publish(V5, 0x30, b"t", &[0x11, 0, 0, 0, 1], b""));
    assert_eq!(
        e,
        DecodeError::PropertyNotAllowed {
            id: 0x11,
            packet: "PUBLISH"
        }
    );
    assert_eq!(e.reason_code(), ReasonCode(MALFORMED));
    for not_allowed in [
        &[0x21u8, 0x00, 0x01][..],
        &[0x1F, 0x00, 0x00],
        &[0x15, 0x00, 0x00],
        &[0x18, 0, 0, 0, 1],
        &[0x24, 0x00],
    ] {
        let e = rejected(V5, &publish(V5, 0x30, b"t", not_allowed, b""));
        assert_eq!(
            e,
            DecodeError::PropertyNotAllowed {
                id: not_allowed[0],
                packet: "PUBLISH"
            }
        );
    }
}

#[test]
fn publish_property_repeated_is_protocol_error_3_3_2_3() {
    let once: [&[u8]; 6] = [
        &[0x01, 0x01],             // payload format indicator
        &[0x02, 0, 0, 0, 1],       // message expiry interval
        &[0x23, 0x00, 0x01],       // topic alias
        &[0x08, 0x00, 0x01, b'r'], // response topic
        &[0x09, 0x00, 0x00],       // correlation data
        &[0x03, 0x00, 0x00],       // content type
    ];
    for p in once {
        accepted(V5, &publish(V5, 0x30, b"t", p, b""));
        let e = rejected(V5, &publish(V5, 0x30, b"t", &cat!(p, p), b""));
        assert_eq!(e, DecodeError::RepeatedProperty(p[0]));
        assert_eq!(e.reason_code(), ReasonCode(PROTOCOL_ERROR));
    }
    // Two message expiry intervals separated by another property are still repeated.
    let e = rejected(
        V5,
        &publish(
            V5,
            0x30,
            b"t",
            &[0x02, 0, 0, 0, 1, 0x01, 0x00, 0x02, 0, 0, 0, 2],
            b"",
        ),
    );
    assert_eq!(e, DecodeError::RepeatedProperty(0x02));
}

#[test]
fn publish_payload_format_indicator_2_is_protocol_error_3_3_2_3_2() {
    accepted(V5, &publish(V5, 0x30, b"t", &[0x01, 0x00], b""));
    let e = rejected(V5, &publish(V5, 0x30, b"t", &[0x01, 0x02], b""));
    assert_eq!(e, DecodeError::InvalidPropertyValue(0x01));
    assert_eq!(e.reason_code(), ReasonCode(PROTOCOL_ERROR));
}

#[test]
fn publish_subscription_identifier_0_is_protocol_error_3_3_2_3_8() {
    accepted(V5, &publish(V5, 0x30, b"t", &[0x0B, 0x01, 0x0B, 0x02], b""));
    let e = rejected(V5, &publish(V5, 0x30, b"t", &[0x0B, 0x01, 0x0B, 0x00], b""));
    assert_eq!(e, DecodeError::InvalidPropertyValue(0x0B));
    assert_eq!(e.reason_code(), ReasonCode(PROTOCOL_ERROR));
}

#[test]
fn publish_response_topic_with_wildcard_is_protocol_error_mqtt_3_3_2_14() {
    accepted(V5, &publish(V5, 0x30, b"t", &cat!([0x08], st(b"r/x")), b""));
    for r in [&b"r/+"[..], b"#", b""] {
        let e = rejected(V5, &publish(V5, 0x30, b"t", &cat!([0x08], st(r)), b""));
        assert_eq!(e, DecodeError::InvalidPropertyValue(0x08));
        assert_eq!(e.reason_code(), ReasonCode(PROTOCOL_ERROR));
    }
}

#[test]
fn publish_unknown_property_identifier_is_malformed_2_2_2_2() {
    for id in [
        &[0x00u8][..],
        &[0x04],
        &[0x0A],
        &[0x2B],
        &[0x7F],
        &[0x80, 0x01],
    ] {
        let bad = publish(V5, 0x30, b"t", &cat!(id, [0, 0, 0, 0]), b"");
        assert_rejected!(V5, bad, DecodeError::Malformed(_), MALFORMED);
    }
    // A known identifier written as a non-minimal variable byte integer.
    assert_rejected!(
        V5,
        publish(V5, 0x30, b"t", &[0x82, 0x00, 0, 0, 0, 1], b""),
        DecodeError::Malformed(_),
        MALFORMED
    );
}

#[test]
fn publish_property_length_exceeding_the_packet_is_malformed() {
    // Property length 10 with only 5 bytes after it.
    let bad = frame(0x30, &cat!(st(b"t"), [0x0A, 0x02, 0, 0, 0, 1]));
    assert_rejected!(V5, bad, DecodeError::Malformed(_), MALFORMED);
    // A property length that is itself not a valid variable byte integer.
    let bad = frame(0x30, &cat!(st(b"t"), [0x80, 0x80, 0x80, 0x80, 0x01]));
    assert_rejected!(V5, bad, DecodeError::Malformed(_), MALFORMED);
}

#[test]
fn publish_subscription_identifier_not_minimally_encoded_is_malformed_mqtt_1_5_5_1() {
    accepted(V5, &publish(V5, 0x30, b"t", &[0x0B, 0x81, 0x01], b""));
    assert_rejected!(
        V5,
        publish(V5, 0x30, b"t", &[0x0B, 0x81, 0x00], b""),
        DecodeError::Malformed(_),
        MALFORMED
    );
}

// ---------------------------------------------------------------------------------------------
// PUBACK, PUBREC, PUBREL, PUBCOMP
// ---------------------------------------------------------------------------------------------

#[test]
fn puback_pubrec_pubrel_pubcomp_with_packet_id_0_are_protocol_errors_mqtt_2_2_1_3() {
    for protocol in ALL {
        for first in [0x40, 0x50, 0x62, 0x70] {
            accepted(protocol, &[first, 0x02, 0x00, 0x01]);
            assert_rejected!(
                protocol,
                [first, 0x02, 0x00, 0x00],
                DecodeError::Protocol(_),
                PROTOCOL_ERROR
            );
        }
    }
}

#[test]
fn puback_invalid_reason_code_is_protocol_error_3_4_2_1() {
    for (first, name, bad) in [
        (
            0x40u8,
            "PUBACK",
            &[0x01u8, 0x02, 0x04, 0x11, 0x81, 0x82, 0x92, 0xFF][..],
        ),
        (0x50, "PUBREC", &[0x01, 0x92, 0x18, 0x95]),
        (0x62, "PUBREL", &[0x10, 0x80, 0x83, 0x91, 0x01]),
        (0x70, "PUBCOMP", &[0x10, 0x80, 0x87, 0x99, 0x01]),
    ] {
        for &code in bad {
            for bytes in [
                vec![first, 0x03, 0x00, 0x01, code],
                vec![first, 0x04, 0x00, 0x01, code, 0x00],
            ] {
                let e = rejected(V5, &bytes);
                assert_eq!(e, DecodeError::InvalidReasonCode { code, packet: name });
                assert_eq!(e.reason_code(), ReasonCode(PROTOCOL_ERROR));
            }
        }
    }
}

#[test]
fn ack_property_not_allowed_or_repeated_is_rejected() {
    let good = [0x40, 0x08, 0x00, 0x01, 0x00, 0x04, 0x1F, 0x00, 0x01, b'x'];
    accepted(V5, &good);
    let e = rejected(
        V5,
        &[0x40, 0x08, 0x00, 0x01, 0x00, 0x04, 0x03, 0x00, 0x01, b'x'],
    );
    assert_eq!(
        e,
        DecodeError::PropertyNotAllowed {
            id: 0x03,
            packet: "an acknowledgement"
        }
    );
    assert_eq!(e.reason_code(), ReasonCode(MALFORMED));
    let e = rejected(
        V5,
        &[
            0x40, 0x0A, 0x00, 0x01, 0x00, 0x06, 0x1F, 0x00, 0x00, 0x1F, 0x00, 0x00,
        ],
    );
    assert_eq!(e, DecodeError::RepeatedProperty(0x1F));
    assert_eq!(e.reason_code(), ReasonCode(PROTOCOL_ERROR));
}

// ---------------------------------------------------------------------------------------------
// SUBSCRIBE
// ---------------------------------------------------------------------------------------------

#[test]
fn subscribe_without_filters_is_protocol_error_mqtt_3_8_3_2() {
    // 3.1.1: [MQTT-3.8.3-3]
    for protocol in V3 {
        accepted(protocol, &subscribe_v3(&cat!(st(b"a"), [0x01])));
        assert_rejected!(
            protocol,
            subscribe_v3(&[]),
            DecodeError::Protocol(_),
            PROTOCOL_ERROR
        );
    }
    accepted(V5, &subscribe_v5(&[], &cat!(st(b"a"), [0x01])));
    assert_rejected!(
        V5,
        subscribe_v5(&[], &[]),
        DecodeError::Protocol(_),
        PROTOCOL_ERROR
    );
    assert_rejected!(
        V5,
        subscribe_v5(&[0x0B, 0x01], &[]),
        DecodeError::Protocol(_),
        PROTOCOL_ERROR
    );
}

#[test]
fn subscribe_v5_reserved_option_bits_are_malformed_mqtt_3_8_3_5() {
    accepted(V5, &subscribe_v5(&[], &cat!(st(b"a"), [0x2E])));
    for options in [0x40u8, 0x80, 0xC0, 0x6E] {
        assert_rejected!(
            V5,
            subscribe_v5(&[], &cat!(st(b"a"), [options])),
            DecodeError::Malformed(_),
            MALFORMED
        );
    }
}

#[test]
fn subscribe_v3_reserved_bits_of_requested_qos_are_malformed_mqtt_3_8_3_4_in_3_1_1() {
    // 3.1.1 [MQTT-3-8.3-4]: upper six bits of the requested QoS byte are reserved.
    for protocol in V3 {
        for options in [0x04u8, 0x08, 0x10, 0x20, 0x40, 0x80, 0x2D] {
            assert_rejected!(
                protocol,
                subscribe_v3(&cat!(st(b"a"), [options])),
                DecodeError::Malformed(_),
                MALFORMED
            );
        }
    }
}

#[test]
fn subscribe_qos3_is_malformed_in_v3_and_protocol_error_in_v5_3_8_3_1() {
    for protocol in V3 {
        accepted(protocol, &subscribe_v3(&cat!(st(b"a"), [0x02])));
        assert_rejected!(
            protocol,
            subscribe_v3(&cat!(st(b"a"), [0x03])),
            DecodeError::Malformed(_),
            MALFORMED
        );
    }
    accepted(V5, &subscribe_v5(&[], &cat!(st(b"a"), [0x02])));
    assert_rejected!(
        V5,
        subscribe_v5(&[], &cat!(st(b"a"), [0x03])),
        DecodeError::Protocol(_),
        PROTOCOL_ERROR
    );
}

#[test]
fn subscribe_retain_handling_3_is_protocol_error_3_8_3_1() {
    accepted(V5, &subscribe_v5(&[], &cat!(st(b"a"), [0x20])));
    assert_rejected!(
        V5,
        subscribe_v5(&[], &cat!(st(b"a"), [0x30])),
        DecodeError::Protocol(_),
        PROTOCOL_ERROR
    );
    assert_rejected!(
        V5,
        subscribe_v5(&[], &cat!(st(b"a"), [0x01], st(b"b"), [0x3D])),
        DecodeError::Protocol(_),
        PROTOCOL_ERROR
    );
}

#[test]
fn subscribe_no_local_on_shared_subscription_is_protocol_error_mqtt_3_8_3_4() {
    accepted(V5, &subscribe_v5(&[], &cat!(st(b"$share/g/a"), [0x01])));
    accepted(V5, &subscribe_v5(&[], &cat!(st(b"a"), [0x05])));
    assert_rejected!(
        V5,
        subscribe_v5(&[], &cat!(st(b"$share/g/a"), [0x05])),
        DecodeError::Protocol(_),
        PROTOCOL_ERROR
    );
    assert_rejected!(
        V5,
        subscribe_v5(&[], &cat!(st(b"a"), [0x00], st(b"$share/g/#"), [0x04])),
        DecodeError::Protocol(_),
        PROTOCOL_ERROR
    );
}

#[test]
fn subscribe_with_packet_id_0_is_protocol_error_mqtt_2_2_1_3() {
    for protocol in V3 {
        assert_rejected!(
            protocol,
            frame(0x82, &cat!([0, 0], st(b"a"), [0x01])),
            DecodeError::Protocol(_),
            PROTOCOL_ERROR
        );
    }
    assert_rejected!(
        V5,
        frame(0x82, &cat!([0, 0, 0], st(b"a"), [0x01])),
        DecodeError::Protocol(_),
        PROTOCOL_ERROR
    );
}

#[test]
fn subscribe_filter_with_bad_utf8_or_null_is_malformed_mqtt_1_5_4_1_and_2() {
    for protocol in ALL {
        for bad in [&b"a\0"[..], &[0xC3]] {
            let bytes = if protocol.is_v5() {
                subscribe_v5(&[], &cat!(st(bad), [0x01]))
            } else {
                subscribe_v3(&cat!(st(bad), [0x01]))
            };
            assert_rejected!(protocol, bytes, DecodeError::Malformed(_), MALFORMED);
        }
    }
}

#[test]
fn subscribe_subscription_identifier_0_or_repeated_is_protocol_error_3_8_2_1_2() {
    let payload = cat!(st(b"a"), [0x01]);
    accepted(V5, &subscribe_v5(&[0x0B, 0x01], &payload));
    let e = rejected(V5, &subscribe_v5(&[0x0B, 0x00], &payload));
    assert_eq!(e, DecodeError::InvalidPropertyValue(0x0B));
    assert_eq!(e.reason_code(), ReasonCode(PROTOCOL_ERROR));
    let e = rejected(V5, &subscribe_v5(&[0x0B, 0x01, 0x0B, 0x02], &payload));
    assert_eq!(e, DecodeError::RepeatedProperty(0x0B));
    assert_eq!(e.reason_code(), ReasonCode(PROTOCOL_ERROR));
    let e = rejected(V5, &subscribe_v5(&[0x01, 0x01], &payload));
    assert_eq!(
        e,
        DecodeError::PropertyNotAllowed {
            id: 0x01,
            packet: "SUBSCRIBE"
        }
    );
    assert_eq!(e.reason_code(), ReasonCode(MALFORMED));
}

// ---------------------------------------------------------------------------------------------
// SUBACK
// ---------------------------------------------------------------------------------------------

#[test]
fn suback_invalid_return_or_reason_code_is_protocol_error_3_9_3() {
    for protocol in V3 {
        accepted(protocol, &[0x90, 0x03, 0x00, 0x01, 0x80]);
        for code in [0x03u8, 0x81, 0x8F, 0xFF] {
            let e = rejected(protocol, &[0x90, 0x04, 0x00, 0x01, 0x00, code]);
            assert_eq!(
                e,
                DecodeError::InvalidReasonCode {
                    code,
                    packet: "SUBACK"
                }
            );
            assert_eq!(e.reason_code(), ReasonCode(PROTOCOL_ERROR));
        }
    }
    accepted(V5, &[0x90, 0x04, 0x00, 0x01, 0x00, 0xA2]);
    for code in [0x03u8, 0x10, 0x81, 0x82, 0x8E, 0xA3] {
        let e = rejected(V5, &[0x90, 0x05, 0x00, 0x01, 0x00, 0x00, code]);
        assert_eq!(
            e,
            DecodeError::InvalidReasonCode {
                code,
                packet: "SUBACK"
            }
        );
        assert_eq!(e.reason_code(), ReasonCode(PROTOCOL_ERROR));
    }
}

#[test]
fn suback_without_reason_codes_is_protocol_error_mqtt_3_9_3_1() {
    for protocol in V3 {
        assert_rejected!(
            protocol,
            [0x90, 0x02, 0x00, 0x01],
            DecodeError::Protocol(_),
            PROTOCOL_ERROR
        );
    }
    assert_rejected!(
        V5,
        [0x90, 0x03, 0x00, 0x01, 0x00],
        DecodeError::Protocol(_),
        PROTOCOL_ERROR
    );
}

#[test]
fn suback_and_unsuback_with_packet_id_0_are_protocol_errors() {
    for protocol in ALL {
        let tail: &[u8] = if protocol.is_v5() {
            &[0x00, 0x00]
        } else {
            &[0x00]
        };
        assert_rejected!(
            protocol,
            frame(0x90, &cat!([0, 0], tail)),
            DecodeError::Protocol(_),
            PROTOCOL_ERROR
        );
        let tail: &[u8] = if protocol.is_v5() { &[0x00, 0x00] } else { &[] };
        assert_rejected!(
            protocol,
            frame(0xB0, &cat!([0, 0], tail)),
            DecodeError::Protocol(_),
            PROTOCOL_ERROR
        );
    }
}

// ---------------------------------------------------------------------------------------------
// UNSUBSCRIBE, UNSUBACK
// ---------------------------------------------------------------------------------------------

#[test]
fn unsubscribe_without_filters_is_protocol_error_mqtt_3_10_3_2() {
    for protocol in V3 {
        accepted(protocol, &frame(0xA2, &cat!([0, 1], st(b"a"))));
        assert_rejected!(
            protocol,
            [0xA2, 0x02, 0x00, 0x01],
            DecodeError::Protocol(_),
            PROTOCOL_ERROR
        );
    }
    accepted(V5, &frame(0xA2, &cat!([0, 1, 0], st(b"a"))));
    assert_rejected!(
        V5,
        [0xA2, 0x03, 0x00, 0x01, 0x00],
        DecodeError::Protocol(_),
        PROTOCOL_ERROR
    );
}

#[test]
fn unsubscribe_with_packet_id_0_is_protocol_error_mqtt_2_2_1_3() {
    for protocol in V3 {
        assert_rejected!(
            protocol,
            frame(0xA2, &cat!([0, 0], st(b"a"))),
            DecodeError::Protocol(_),
            PROTOCOL_ERROR
        );
    }
    assert_rejected!(
        V5,
        frame(0xA2, &cat!([0, 0, 0], st(b"a"))),
        DecodeError::Protocol(_),
        PROTOCOL_ERROR
    );
}

#[test]
fn unsubscribe_filter_with_bad_utf8_or_null_is_malformed_mqtt_1_5_4_1_and_2() {
    for bad in [&b"\0"[..], &[0xE2, 0x82]] {
        assert_rejected!(
            Protocol::V3_1_1,
            frame(0xA2, &cat!([0, 1], st(bad))),
            DecodeError::Malformed(_),
            MALFORMED
        );
        assert_rejected!(
            V5,
            frame(0xA2, &cat!([0, 1, 0], st(bad))),
            DecodeError::Malformed(_),
            MALFORMED
        );
    }
}

#[test]
fn unsubscribe_subscription_identifier_is_not_allowed_0x81() {
    let e = rejected(V5, &frame(0xA2, &cat!([0, 1, 2, 0x0B, 0x01], st(b"a"))));
    assert_eq!(
        e,
        DecodeError::PropertyNotAllowed {
            id: 0x0B,
            packet: "UNSUBSCRIBE"
        }
    );
    assert_eq!(e.reason_code(), ReasonCode(MALFORMED));
}

#[test]
fn unsuback_invalid_reason_code_or_none_is_protocol_error_3_11_3() {
    accepted(V5, &[0xB0, 0x04, 0x00, 0x01, 0x00, 0x11]);
    for code in [0x01u8, 0x10, 0x8E, 0x90, 0xFF] {
        let e = rejected(V5, &[0xB0, 0x04, 0x00, 0x01, 0x00, code]);
        assert_eq!(
            e,
            DecodeError::InvalidReasonCode {
                code,
                packet: "UNSUBACK"
            }
        );
        assert_eq!(e.reason_code(), ReasonCode(PROTOCOL_ERROR));
    }
    assert_rejected!(
        V5,
        [0xB0, 0x03, 0x00, 0x01, 0x00],
        DecodeError::Protocol(_),
        PROTOCOL_ERROR
    );
}

// ---------------------------------------------------------------------------------------------
// DISCONNECT, AUTH
// ---------------------------------------------------------------------------------------------

#[test]
fn disconnect_invalid_reason_code_is_protocol_error_3_14_2_1() {
    accepted(V5, &[0xE0, 0x01, 0x04]);
    for code in [
        0x01u8, 0x02, 0x05, 0x10, 0x18, 0x84, 0x85, 0x86, 0x88, 0x8A, 0x8C, 0x91, 0x92, 0xA3, 0xFF,
    ] {
        for bytes in [vec![0xE0, 0x01, code], vec![0xE0, 0x02, code, 0x00]] {
            let e = rejected(V5, &bytes);
            assert_eq!(
                e,
                DecodeError::InvalidReasonCode {
                    code,
                    packet: "DISCONNECT"
                }
            );
            assert_eq!(e.reason_code(), ReasonCode(PROTOCOL_ERROR));
        }
    }
}

#[test]
fn disconnect_property_not_allowed_or_repeated_is_rejected_3_14_2_2() {
    accepted(V5, &[0xE0, 0x07, 0x00, 0x05, 0x11, 0, 0, 0, 1]);
    let e = rejected(V5, &[0xE0, 0x07, 0x00, 0x05, 0x02, 0, 0, 0, 1]);
    assert_eq!(
        e,
        DecodeError::PropertyNotAllowed {
            id: 0x02,
            packet: "DISCONNECT"
        }
    );
    assert_eq!(e.reason_code(), ReasonCode(MALFORMED));
    let e = rejected(
        V5,
        &[0xE0, 0x0C, 0x00, 0x0A, 0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 2],
    );
    assert_eq!(e, DecodeError::RepeatedProperty(0x11));
    assert_eq!(e.reason_code(), ReasonCode(PROTOCOL_ERROR));
}

#[test]
fn auth_invalid_reason_code_is_protocol_error_3_15_2_1() {
    accepted(V5, &[0xF0, 0x02, 0x19, 0x00]);
    for code in [0x01u8, 0x04, 0x10, 0x17, 0x1A, 0x80, 0x87, 0x8C] {
        let e = rejected(V5, &[0xF0, 0x02, code, 0x00]);
        assert_eq!(
            e,
            DecodeError::InvalidReasonCode {
                code,
                packet: "AUTH"
            }
        );
        assert_eq!(e.reason_code(), ReasonCode(PROTOCOL_ERROR));
    }
}

#[test]
fn auth_data_without_method_is_protocol_error_3_15_2_2_3() {
    accepted(
        V5,
        &frame(
            0xF0,
            &cat!([0x18], props(&cat!([0x15], st(b"m"), [0x16], st(b"d")))),
        ),
    );
    let bad = frame(0xF0, &cat!([0x18], props(&cat!([0x16], st(b"d")))));
    assert_rejected!(V5, bad, DecodeError::Protocol(_), PROTOCOL_ERROR);
}

#[test]
fn auth_property_not_allowed_is_malformed() {
    let e = rejected(V5, &frame(0xF0, &cat!([0x18], props(&[0x11, 0, 0, 0, 1]))));
    assert_eq!(
        e,
        DecodeError::PropertyNotAllowed {
            id: 0x11,
            packet: "AUTH"
        }
    );
    assert_eq!(e.reason_code(), ReasonCode(MALFORMED));
}

#[test]
fn mqtt_3_1_resend_may_set_dup_on_pubrel_subscribe_unsubscribe_but_3_1_1_may_not() {
    use bytes::BytesMut;
    use comqtt::mqtt::{Protocol, decode};
    // PUBREL id 1, SUBSCRIBE id 1 "a" QoS 0, UNSUBSCRIBE id 1 "a", each with DUP set (flags 0b1010).
    for bytes in [
        &[0x6A, 0x02, 0x00, 0x01][..],
        &[0x8A, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x00],
        &[0xAA, 0x05, 0x00, 0x01, 0x00, 0x01, b'a'],
    ] {
        assert!(
            decode(&mut BytesMut::from(bytes), Protocol::V3_1, usize::MAX)
                .unwrap()
                .is_some()
        );
        assert!(decode(&mut BytesMut::from(bytes), Protocol::V3_1_1, usize::MAX).is_err());
    }
}
