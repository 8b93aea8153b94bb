//! Round trips through the codec: every packet type in every protocol version it exists in,
//! and every v5 property of every packet that takes properties, must decode to exactly the
//! packet that was encoded, and `encoded_len` must equal the bytes `encode` wrote. Also
//! incremental decoding (one byte at a time) and several packets in one buffer.

use bytes::{Bytes, BytesMut};
use comqtt::mqtt::{
    AckProperties, Auth, AuthProperties, ConnAck, ConnAckProperties, Connect, ConnectProperties,
    DecodeError, Disconnect, DisconnectProperties, EncodeError, LastWill, MqttString, Packet,
    Protocol, PubReply, Publish, PublishProperties, QoS, ReasonCode, RetainHandling, SubAck,
    Subscribe, SubscribeFilter, SubscribeProperties, SubscriptionOptions, UnsubAck, Unsubscribe,
    UnsubscribeProperties, WillProperties, decode,
};

const ALL: [Protocol; 3] = [Protocol::V3_1, Protocol::V3_1_1, Protocol::V5];
const QOS: [QoS; 3] = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce];
const NO_LIMIT: usize = usize::MAX;

fn s(v: &str) -> MqttString {
    MqttString::from(v)
}

fn user(k: &str, v: &str) -> (MqttString, MqttString) {
    (s(k), s(v))
}

/// Encodes `p`, checks `encoded_len`, decodes it back and checks it is identical and that the
/// whole buffer was consumed. Returns the encoded bytes.
#[track_caller]
fn roundtrip(p: &Packet, protocol: Protocol) -> Bytes {
    let mut buf = BytesMut::new();
    p.encode(protocol, &mut buf)
        .unwrap_or_else(|e| panic!("encoding {p:?} in {protocol}: {e}"));
    assert_eq!(
        buf.len(),
        p.encoded_len(protocol),
        "encoded_len of {p:?} in {protocol}"
    );
    let wire = buf.clone().freeze();
    let decoded = decode(&mut buf, protocol, NO_LIMIT)
        .unwrap_or_else(|e| panic!("decoding {p:?} in {protocol} from {wire:02X?}: {e}"))
        .unwrap_or_else(|| panic!("decoding {p:?} in {protocol}: incomplete although whole"));
    assert_eq!(&decoded, p, "round trip in {protocol}, wire {wire:02X?}");
    assert!(buf.is_empty(), "decode left {} bytes behind", buf.len());
    wire
}

fn connect_packet(c: Connect) -> Packet {
    Packet::Connect(Box::new(c))
}

// ---------------------------------------------------------------------------------------------
// CONNECT
// ---------------------------------------------------------------------------------------------

#[test]
fn connect_minimal_roundtrips_in_every_protocol() {
    for protocol in ALL {
        let mut c = Connect::new(protocol, "client-1");
        roundtrip(&connect_packet(c.clone()), protocol);
        c.clean_start = false;
        c.keep_alive = 0;
        roundtrip(&connect_packet(c.clone()), protocol);
        c.keep_alive = u16::MAX;
        roundtrip(&connect_packet(c), protocol);
    }
}

#[test]
fn connect_with_empty_client_id_roundtrips() {
    for protocol in ALL {
        roundtrip(&connect_packet(Connect::new(protocol, "")), protocol);
    }
}

#[test]
fn connect_carries_its_own_protocol_level_on_the_wire() {
    for protocol in ALL {
        let wire = roundtrip(&connect_packet(Connect::new(protocol, "c")), protocol);
        let name = protocol.name().as_bytes();
        assert_eq!(&wire[4..4 + name.len()], name);
        assert_eq!(wire[4 + name.len()], protocol.level());
    }
}

#[test]
fn connect_with_will_username_and_password_roundtrips_for_every_will_qos_and_retain() {
    for protocol in ALL {
        for qos in QOS {
            for retain in [false, true] {
                let mut c = Connect::new(protocol, "with-will");
                c.will = Some(LastWill {
                    topic: s("clients/with-will/status"),
                    payload: Bytes::from_static(b"offline\x00\xFF"),
                    qos,
                    retain,
                    properties: WillProperties::default(),
                });
                c.username = Some(s("user"));
                c.password = Some(Bytes::from_static(b"\x00secret\xFF"));
                roundtrip(&connect_packet(c), protocol);
            }
        }
    }
}

#[test]
fn connect_with_will_and_empty_payload_roundtrips() {
    for protocol in ALL {
        let mut c = Connect::new(protocol, "c");
        c.will = Some(LastWill {
            topic: s("t"),
            ..LastWill::default()
        });
        roundtrip(&connect_packet(c), protocol);
    }
}

#[test]
fn connect_with_username_only_roundtrips() {
    for protocol in ALL {
        let mut c = Connect::new(protocol, "c");
        c.username = Some(s("ünïcödé ✓"));
        roundtrip(&connect_packet(c), protocol);
    }
}

#[test]
fn connect_v5_password_without_username_roundtrips() {
    let mut c = Connect::new(Protocol::V5, "c");
    c.password = Some(Bytes::from_static(b"token"));
    roundtrip(&connect_packet(c), Protocol::V5);
}

#[test]
fn connect_v5_with_every_property_roundtrips() {
    let mut c = Connect::new(Protocol::V5, "props");
    c.properties = ConnectProperties {
        session_expiry_interval: Some(u32::MAX),
        receive_maximum: Some(20),
        maximum_packet_size: Some(1 << 20),
        topic_alias_maximum: Some(0),
        request_response_information: Some(true),
        request_problem_information: Some(false),
        user_properties: vec![user("a", "1"), user("a", "2"), user("", ""), user("b", "ü")],
        authentication_method: Some(s("SCRAM-SHA-256")),
        authentication_data: Some(Bytes::from_static(&[0, 1, 2, 0xFF])),
    };
    roundtrip(&connect_packet(c.clone()), Protocol::V5);
    // Each property alone, so that one property cannot hide the loss of another.
    let full = c.properties.clone();
    let singles = [
        ConnectProperties {
            session_expiry_interval: full.session_expiry_interval,
            ..Default::default()
        },
        ConnectProperties {
            receive_maximum: full.receive_maximum,
            ..Default::default()
        },
        ConnectProperties {
            maximum_packet_size: full.maximum_packet_size,
            ..Default::default()
        },
        ConnectProperties {
            topic_alias_maximum: Some(65535),
            ..Default::default()
        },
        ConnectProperties {
            request_response_information: Some(false),
            ..Default::default()
        },
        ConnectProperties {
            request_problem_information: Some(true),
            ..Default::default()
        },
        ConnectProperties {
            user_properties: full.user_properties.clone(),
            ..Default::default()
        },
        ConnectProperties {
            authentication_method: full.authentication_method.clone(),
            ..Default::default()
        },
        ConnectProperties {
            authentication_method: Some(s("m")),
            authentication_data: Some(Bytes::new()),
            ..Default::default()
        },
    ];
    for props in singles {
        c.properties = props;
        roundtrip(&connect_packet(c.clone()), Protocol::V5);
    }
}

#[test]
fn connect_v5_will_with_every_property_roundtrips() {
    let full = WillProperties {
        will_delay_interval: Some(3600),
        payload_format_indicator: Some(true),
        message_expiry_interval: Some(7),
        content_type: Some(s("application/json")),
        response_topic: Some(s("replies/c")),
        correlation_data: Some(Bytes::from_static(b"\x01\x02corr")),
        user_properties: vec![user("k", "v"), user("k", "v"), user("k2", "")],
    };
    let singles = [
        full.clone(),
        WillProperties {
            will_delay_interval: Some(0),
            ..Default::default()
        },
        WillProperties {
            payload_format_indicator: Some(false),
            ..Default::default()
        },
        WillProperties {
            message_expiry_interval: Some(u32::MAX),
            ..Default::default()
        },
        WillProperties {
            content_type: Some(s("text/plain")),
            ..Default::default()
        },
        WillProperties {
            response_topic: Some(s("r")),
            ..Default::default()
        },
        WillProperties {
            correlation_data: Some(Bytes::new()),
            ..Default::default()
        },
        WillProperties {
            user_properties: vec![user("x", "y")],
            ..Default::default()
        },
    ];
    for props in singles {
        let mut c = Connect::new(Protocol::V5, "will-props");
        c.properties.session_expiry_interval = Some(10);
        c.will = Some(LastWill {
            topic: s("will/topic"),
            payload: Bytes::from_static(b"gone"),
            qos: QoS::ExactlyOnce,
            retain: true,
            properties: props,
        });
        c.username = Some(s("u"));
        c.password = Some(Bytes::from_static(b"p"));
        roundtrip(&connect_packet(c), Protocol::V5);
    }
}

// ---------------------------------------------------------------------------------------------
// CONNACK
// ---------------------------------------------------------------------------------------------

#[test]
fn connack_v3_roundtrips_every_return_code() {
    for protocol in [Protocol::V3_1, Protocol::V3_1_1] {
        for code in 0..=5u8 {
            roundtrip(
                &Packet::ConnAck(ConnAck::new(ReasonCode(code), false)),
                protocol,
            );
        }
    }
}

#[test]
fn connack_session_present_roundtrips_in_3_1_1_and_5() {
    for protocol in [Protocol::V3_1_1, Protocol::V5] {
        let wire = roundtrip(
            &Packet::ConnAck(ConnAck::new(ReasonCode::SUCCESS, true)),
            protocol,
        );
        assert_eq!(wire[2], 0x01, "session present bit");
    }
}

#[test]
fn connack_v5_roundtrips_every_reason_code() {
    let codes = [
        0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95,
        0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F,
    ];
    for code in codes {
        roundtrip(
            &Packet::ConnAck(ConnAck::new(ReasonCode(code), false)),
            Protocol::V5,
        );
    }
}

#[test]
fn connack_v5_with_every_property_roundtrips() {
    let full = ConnAckProperties {
        session_expiry_interval: Some(0),
        receive_maximum: Some(65535),
        maximum_qos: Some(QoS::AtLeastOnce),
        retain_available: Some(false),
        maximum_packet_size: Some(268_435_460),
        assigned_client_identifier: Some(s("auto-1234")),
        topic_alias_maximum: Some(10),
        reason_string: Some(s("welcome")),
        user_properties: vec![user("node", "a"), user("node", "b")],
        wildcard_subscription_available: Some(true),
        subscription_identifiers_available: Some(false),
        shared_subscription_available: Some(true),
        server_keep_alive: Some(30),
        response_information: Some(s("resp/")),
        server_reference: Some(s("other.example:1883")),
        authentication_method: Some(s("SCRAM-SHA-1")),
        authentication_data: Some(Bytes::from_static(b"server-final")),
    };
    let singles = [
        full.clone(),
        ConnAckProperties {
            session_expiry_interval: Some(u32::MAX),
            ..Default::default()
        },
        ConnAckProperties {
            receive_maximum: Some(1),
            ..Default::default()
        },
        ConnAckProperties {
            maximum_qos: Some(QoS::AtMostOnce),
            ..Default::default()
        },
        ConnAckProperties {
            retain_available: Some(true),
            ..Default::default()
        },
        ConnAckProperties {
            maximum_packet_size: Some(1),
            ..Default::default()
        },
        ConnAckProperties {
            assigned_client_identifier: Some(s("x")),
            ..Default::default()
        },
        ConnAckProperties {
            topic_alias_maximum: Some(0),
            ..Default::default()
        },
        ConnAckProperties {
            reason_string: Some(s("")),
            ..Default::default()
        },
        ConnAckProperties {
            user_properties: vec![user("a", "b")],
            ..Default::default()
        },
        ConnAckProperties {
            wildcard_subscription_available: Some(false),
            ..Default::default()
        },
        ConnAckProperties {
            subscription_identifiers_available: Some(true),
            ..Default::default()
        },
        ConnAckProperties {
            shared_subscription_available: Some(false),
            ..Default::default()
        },
        ConnAckProperties {
            server_keep_alive: Some(0),
            ..Default::default()
        },
        ConnAckProperties {
            response_information: Some(s("r")),
            ..Default::default()
        },
        ConnAckProperties {
            server_reference: Some(s("s")),
            ..Default::default()
        },
        ConnAckProperties {
            authentication_method: Some(s("m")),
            ..Default::default()
        },
        ConnAckProperties {
            authentication_data: Some(Bytes::from_static(b"d")),
            ..Default::default()
        },
    ];
    for props in singles {
        for session_present in [false, true] {
            let p = ConnAck {
                session_present,
                code: ReasonCode::SUCCESS,
                properties: props.clone(),
            };
            roundtrip(&Packet::ConnAck(p), Protocol::V5);
        }
        let refused = ConnAck {
            session_present: false,
            code: ReasonCode::NOT_AUTHORIZED,
            properties: props,
        };
        roundtrip(&Packet::ConnAck(refused), Protocol::V5);
    }
}

#[test]
fn connack_v3_1_never_writes_session_present() {
    // MQTT 3.1 has no session present flag: the first byte is reserved and written as 0.
    let mut buf = BytesMut::new();
    Packet::ConnAck(ConnAck::new(ReasonCode::SUCCESS, true))
        .encode(Protocol::V3_1, &mut buf)
        .unwrap();
    assert_eq!(&buf[..], &[0x20, 0x02, 0x00, 0x00]);
}

// ---------------------------------------------------------------------------------------------
// PUBLISH
// ---------------------------------------------------------------------------------------------

fn publish(topic: &str, qos: QoS, packet_id: u16, payload: &'static [u8]) -> Publish {
    Publish {
        topic: s(topic),
        qos,
        packet_id,
        payload: Bytes::from_static(payload),
        ..Publish::default()
    }
}

#[test]
fn publish_roundtrips_every_qos_dup_and_retain_in_every_protocol() {
    for protocol in ALL {
        for qos in QOS {
            for retain in [false, true] {
                for dup in [false, true] {
                    if dup && qos == QoS::AtMostOnce {
                        continue; // [MQTT-3.3.1-2]
                    }
                    let packet_id = if qos == QoS::AtMostOnce { 0 } else { 0xBEEF };
                    let mut p = publish("a/b/c", qos, packet_id, b"hello");
                    p.dup = dup;
                    p.retain = retain;
                    roundtrip(&Packet::Publish(p), protocol);
                }
            }
        }
    }
}

#[test]
fn publish_with_extreme_packet_ids_roundtrips() {
    for protocol in ALL {
        for id in [1, 0x7FFF, 0x8000, u16::MAX] {
            roundtrip(
                &Packet::Publish(publish("t", QoS::AtLeastOnce, id, b"")),
                protocol,
            );
        }
    }
}

#[test]
fn publish_with_empty_and_binary_payloads_roundtrips() {
    for protocol in ALL {
        roundtrip(
            &Packet::Publish(publish("t", QoS::AtMostOnce, 0, b"")),
            protocol,
        );
        roundtrip(
            &Packet::Publish(publish("t", QoS::ExactlyOnce, 9, b"\x00\x01\xFF\xFE\x00")),
            protocol,
        );
    }
}

#[test]
fn publish_with_unicode_and_dollar_topics_roundtrips() {
    for protocol in ALL {
        for topic in [
            "/",
            "$SYS/broker/uptime",
            "sport/tennis/player1",
            "日本/✓/ü",
            " ",
            "a//b",
        ] {
            roundtrip(
                &Packet::Publish(publish(topic, QoS::AtMostOnce, 0, b"x")),
                protocol,
            );
        }
    }
}

#[test]
fn publish_with_large_payloads_roundtrips_across_remaining_length_sizes() {
    for protocol in ALL {
        for len in [
            120usize, 124, 125, 200, 16_380, 16_381, 16_400, 70_000, 2_097_200,
        ] {
            let mut p = publish("big", QoS::AtLeastOnce, 1, b"");
            p.payload = Bytes::from(vec![0xA5; len]);
            roundtrip(&Packet::Publish(p), protocol);
        }
    }
}

#[test]
fn publish_v5_with_every_property_roundtrips() {
    let full = PublishProperties {
        payload_format_indicator: Some(true),
        message_expiry_interval: Some(120),
        topic_alias: Some(7),
        response_topic: Some(s("response/topic")),
        correlation_data: Some(Bytes::from_static(b"\x00corr\xFF")),
        user_properties: vec![
            user("k", "v1"),
            user("k", "v2"),
            user("other", "x"),
            user("k", "v1"),
        ],
        subscription_identifiers: vec![
            1,
            127,
            128,
            16_383,
            16_384,
            2_097_151,
            2_097_152,
            268_435_455,
        ],
        content_type: Some(s("text/plain; charset=utf-8")),
    };
    let singles = [
        full.clone(),
        PublishProperties {
            payload_format_indicator: Some(false),
            ..Default::default()
        },
        PublishProperties {
            message_expiry_interval: Some(0),
            ..Default::default()
        },
        PublishProperties {
            topic_alias: Some(u16::MAX),
            ..Default::default()
        },
        PublishProperties {
            response_topic: Some(s("r")),
            ..Default::default()
        },
        PublishProperties {
            correlation_data: Some(Bytes::new()),
            ..Default::default()
        },
        PublishProperties {
            user_properties: vec![user("a", "b")],
            ..Default::default()
        },
        PublishProperties {
            subscription_identifiers: vec![42],
            ..Default::default()
        },
        PublishProperties {
            subscription_identifiers: vec![5, 5, 3],
            ..Default::default()
        },
        PublishProperties {
            content_type: Some(s("")),
            ..Default::default()
        },
    ];
    for props in singles {
        for qos in QOS {
            let mut p = publish(
                "a/b",
                qos,
                if qos == QoS::AtMostOnce { 0 } else { 10 },
                b"payload",
            );
            p.properties = props.clone();
            roundtrip(&Packet::Publish(p), Protocol::V5);
        }
    }
}

#[test]
fn publish_v5_keeps_order_of_repeated_user_properties_and_subscription_identifiers() {
    let mut p = publish("t", QoS::AtMostOnce, 0, b"");
    p.properties.user_properties = vec![user("z", "1"), user("a", "2"), user("z", "0")];
    p.properties.subscription_identifiers = vec![9, 1, 300];
    roundtrip(&Packet::Publish(p), Protocol::V5);
}

#[test]
fn publish_v5_empty_topic_with_topic_alias_roundtrips() {
    let mut p = publish("", QoS::AtLeastOnce, 3, b"aliased");
    p.properties.topic_alias = Some(1);
    roundtrip(&Packet::Publish(p), Protocol::V5);
}

#[test]
fn publish_properties_are_not_written_before_v5() {
    let mut p = publish("t", QoS::AtMostOnce, 0, b"x");
    p.properties.message_expiry_interval = Some(5);
    for protocol in [Protocol::V3_1, Protocol::V3_1_1] {
        let mut buf = BytesMut::new();
        Packet::Publish(p.clone())
            .encode(protocol, &mut buf)
            .unwrap();
        assert_eq!(&buf[..], &[0x30, 0x04, 0x00, 0x01, b't', b'x']);
    }
}

// ---------------------------------------------------------------------------------------------
// PUBACK, PUBREC, PUBREL, PUBCOMP
// ---------------------------------------------------------------------------------------------

const PUBACK_CODES: [u8; 9] = [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
const PUBREL_CODES: [u8; 2] = [0x00, 0x92];

fn pub_replies(r: PubReply) -> [Packet; 4] {
    [
        Packet::PubAck(r.clone()),
        Packet::PubRec(r.clone()),
        Packet::PubRel(r.clone()),
        Packet::PubComp(r),
    ]
}

#[test]
fn pub_replies_roundtrip_in_every_protocol() {
    for protocol in ALL {
        for id in [1, 10, u16::MAX] {
            for p in pub_replies(PubReply::new(id)) {
                let wire = roundtrip(&p, protocol);
                assert_eq!(wire.len(), 4, "{p:?} in {protocol} takes its shortest form");
            }
        }
    }
}

#[test]
fn puback_and_pubrec_v5_roundtrip_every_reason_code() {
    for code in PUBACK_CODES {
        let r = PubReply::with_reason(7, ReasonCode(code));
        roundtrip(&Packet::PubAck(r.clone()), Protocol::V5);
        roundtrip(&Packet::PubRec(r), Protocol::V5);
    }
}

#[test]
fn pubrel_and_pubcomp_v5_roundtrip_every_reason_code() {
    for code in PUBREL_CODES {
        let r = PubReply::with_reason(7, ReasonCode(code));
        roundtrip(&Packet::PubRel(r.clone()), Protocol::V5);
        roundtrip(&Packet::PubComp(r), Protocol::V5);
    }
}

#[test]
fn pub_replies_v5_with_every_property_roundtrip() {
    let props = [
        AckProperties {
            reason_string: Some(s("because")),
            user_properties: vec![user("a", "b"), user("a", "b")],
        },
        AckProperties {
            reason_string: Some(s("only reason")),
            ..Default::default()
        },
        AckProperties {
            user_properties: vec![user("only", "user")],
            ..Default::default()
        },
    ];
    for properties in props {
        for reason in [ReasonCode::SUCCESS, ReasonCode(0x92), ReasonCode(0x80)] {
            let r = PubReply {
                packet_id: 99,
                reason,
                properties: properties.clone(),
            };
            for p in pub_replies(r) {
                let allowed = match p {
                    Packet::PubAck(_) | Packet::PubRec(_) => PUBACK_CODES.contains(&reason.0),
                    _ => PUBREL_CODES.contains(&reason.0),
                };
                if allowed {
                    roundtrip(&p, Protocol::V5);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK
// ---------------------------------------------------------------------------------------------

fn filter(f: &str, options: SubscriptionOptions) -> SubscribeFilter {
    SubscribeFilter {
        filter: s(f),
        options,
    }
}

#[test]
fn subscribe_roundtrips_every_qos_and_several_filters_in_every_protocol() {
    for protocol in ALL {
        for qos in QOS {
            roundtrip(
                &Packet::Subscribe(Subscribe::new(1, "a/+/c", SubscriptionOptions::qos(qos))),
                protocol,
            );
        }
        let many = Subscribe {
            packet_id: u16::MAX,
            filters: vec![
                filter("a/b", SubscriptionOptions::qos(QoS::AtLeastOnce)),
                filter("#", SubscriptionOptions::qos(QoS::AtMostOnce)),
                filter(
                    "$share/group/x/#",
                    SubscriptionOptions::qos(QoS::ExactlyOnce),
                ),
                filter("a/b", SubscriptionOptions::qos(QoS::AtMostOnce)),
            ],
            properties: SubscribeProperties::default(),
        };
        roundtrip(&Packet::Subscribe(many), protocol);
    }
}

#[test]
fn subscribe_v5_roundtrips_every_combination_of_options() {
    for qos in QOS {
        for no_local in [false, true] {
            for retain_as_published in [false, true] {
                for retain_handling in [
                    RetainHandling::OnSubscribe,
                    RetainHandling::OnNewSubscribe,
                    RetainHandling::Never,
                ] {
                    let options = SubscriptionOptions {
                        qos,
                        no_local,
                        retain_as_published,
                        retain_handling,
                    };
                    let wire = roundtrip(
                        &Packet::Subscribe(Subscribe::new(5, "x/y", options)),
                        Protocol::V5,
                    );
                    let byte = *wire.last().unwrap();
                    assert_eq!(byte & 0x03, qos as u8);
                    assert_eq!(byte & 0x04 != 0, no_local);
                    assert_eq!(byte & 0x08 != 0, retain_as_published);
                    assert_eq!((byte >> 4) & 0x03, retain_handling as u8);
                    assert_eq!(byte & 0xC0, 0);
                }
            }
        }
    }
}

#[test]
fn subscribe_v5_with_every_property_roundtrips() {
    let props = [
        SubscribeProperties {
            subscription_identifier: Some(1),
            user_properties: vec![user("a", "1"), user("a", "1")],
        },
        SubscribeProperties {
            subscription_identifier: Some(268_435_455),
            ..Default::default()
        },
        SubscribeProperties {
            subscription_identifier: Some(128),
            ..Default::default()
        },
        SubscribeProperties {
            user_properties: vec![user("k", "v")],
            ..Default::default()
        },
    ];
    for properties in props {
        let p = Subscribe {
            packet_id: 2,
            filters: vec![
                filter("a", SubscriptionOptions::qos(QoS::AtLeastOnce)),
                filter("b/#", SubscriptionOptions::default()),
            ],
            properties,
        };
        roundtrip(&Packet::Subscribe(p), Protocol::V5);
    }
}

#[test]
fn suback_roundtrips_every_return_code_in_v3() {
    for protocol in [Protocol::V3_1, Protocol::V3_1_1] {
        let p = SubAck {
            packet_id: 3,
            reasons: [0x00, 0x01, 0x02, 0x80].map(ReasonCode).to_vec(),
            properties: AckProperties::default(),
        };
        roundtrip(&Packet::SubAck(p), protocol);
    }
}

#[test]
fn suback_v5_roundtrips_every_reason_code_and_property() {
    let codes = [
        0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2,
    ];
    let props = [
        AckProperties::default(),
        AckProperties {
            reason_string: Some(s("partly")),
            user_properties: vec![user("a", "b"), user("c", "d")],
        },
    ];
    for properties in props {
        let p = SubAck {
            packet_id: 4,
            reasons: codes.map(ReasonCode).to_vec(),
            properties: properties.clone(),
        };
        roundtrip(&Packet::SubAck(p), Protocol::V5);
        for code in codes {
            let p = SubAck {
                packet_id: 4,
                reasons: vec![ReasonCode(code)],
                properties: properties.clone(),
            };
            roundtrip(&Packet::SubAck(p), Protocol::V5);
        }
    }
}

#[test]
fn unsubscribe_roundtrips_in_every_protocol() {
    for protocol in ALL {
        let one = Unsubscribe {
            packet_id: 1,
            filters: vec![s("a/b")],
            properties: UnsubscribeProperties::default(),
        };
        roundtrip(&Packet::Unsubscribe(one), protocol);
        let many = Unsubscribe {
            packet_id: 0xFFFF,
            filters: vec![s("a/+"), s("#"), s("$share/g/t"), s("a/+")],
            properties: UnsubscribeProperties::default(),
        };
        roundtrip(&Packet::Unsubscribe(many), protocol);
    }
}

#[test]
fn unsubscribe_v5_with_user_properties_roundtrips() {
    let p = Unsubscribe {
        packet_id: 8,
        filters: vec![s("x")],
        properties: UnsubscribeProperties {
            user_properties: vec![user("a", "b"), user("a", "c")],
        },
    };
    roundtrip(&Packet::Unsubscribe(p), Protocol::V5);
}

#[test]
fn unsuback_roundtrips_in_v3() {
    for protocol in [Protocol::V3_1, Protocol::V3_1_1] {
        let wire = roundtrip(
            &Packet::UnsubAck(UnsubAck {
                packet_id: 77,
                ..UnsubAck::default()
            }),
            protocol,
        );
        assert_eq!(&wire[..], &[0xB0, 0x02, 0x00, 77]);
    }
}

#[test]
fn unsuback_v5_roundtrips_every_reason_code_and_property() {
    let codes = [0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91];
    let props = [
        AckProperties::default(),
        AckProperties {
            reason_string: Some(s("r")),
            ..Default::default()
        },
        AckProperties {
            user_properties: vec![user("u", "v"), user("u", "v")],
            ..Default::default()
        },
    ];
    for properties in props {
        let p = UnsubAck {
            packet_id: 5,
            reasons: codes.map(ReasonCode).to_vec(),
            properties: properties.clone(),
        };
        roundtrip(&Packet::UnsubAck(p), Protocol::V5);
        for code in codes {
            let p = UnsubAck {
                packet_id: 5,
                reasons: vec![ReasonCode(code)],
                properties: properties.clone(),
            };
            roundtrip(&Packet::UnsubAck(p), Protocol::V5);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// PINGREQ, PINGRESP, DISCONNECT, AUTH
// ---------------------------------------------------------------------------------------------

#[test]
fn pingreq_and_pingresp_roundtrip_in_every_protocol() {
    for protocol in ALL {
        assert_eq!(&roundtrip(&Packet::PingReq, protocol)[..], &[0xC0, 0x00]);
        assert_eq!(&roundtrip(&Packet::PingResp, protocol)[..], &[0xD0, 0x00]);
    }
}

#[test]
fn disconnect_roundtrips_in_every_protocol() {
    for protocol in ALL {
        assert_eq!(
            &roundtrip(&Packet::Disconnect(Disconnect::default()), protocol)[..],
            &[0xE0, 0x00]
        );
    }
}

#[test]
fn disconnect_v5_roundtrips_every_reason_code() {
    let codes = [
        0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94,
        0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2,
    ];
    for code in codes {
        roundtrip(
            &Packet::Disconnect(Disconnect::new(ReasonCode(code))),
            Protocol::V5,
        );
    }
}

#[test]
fn disconnect_v5_with_every_property_roundtrips() {
    let props = [
        DisconnectProperties {
            session_expiry_interval: Some(300),
            reason_string: Some(s("bye")),
            user_properties: vec![user("a", "b"), user("a", "b")],
            server_reference: Some(s("elsewhere")),
        },
        DisconnectProperties {
            session_expiry_interval: Some(0),
            ..Default::default()
        },
        DisconnectProperties {
            reason_string: Some(s("r")),
            ..Default::default()
        },
        DisconnectProperties {
            user_properties: vec![user("k", "")],
            ..Default::default()
        },
        DisconnectProperties {
            server_reference: Some(s("s")),
            ..Default::default()
        },
    ];
    for properties in props {
        for reason in [ReasonCode::NORMAL_DISCONNECTION, ReasonCode::SERVER_MOVED] {
            roundtrip(
                &Packet::Disconnect(Disconnect {
                    reason,
                    properties: properties.clone(),
                }),
                Protocol::V5,
            );
        }
    }
}

#[test]
fn auth_v5_roundtrips_every_reason_code_and_property() {
    let props = [
        AuthProperties::default(),
        AuthProperties {
            authentication_method: Some(s("SCRAM-SHA-1")),
            authentication_data: Some(Bytes::from_static(b"client-first")),
            reason_string: Some(s("continue")),
            user_properties: vec![user("a", "b"), user("a", "b")],
        },
        AuthProperties {
            authentication_method: Some(s("m")),
            ..Default::default()
        },
        AuthProperties {
            reason_string: Some(s("r")),
            ..Default::default()
        },
        AuthProperties {
            user_properties: vec![user("x", "y")],
            ..Default::default()
        },
    ];
    for properties in props {
        for reason in [
            ReasonCode::SUCCESS,
            ReasonCode::CONTINUE_AUTHENTICATION,
            ReasonCode::RE_AUTHENTICATE,
        ] {
            roundtrip(
                &Packet::Auth(Auth {
                    reason,
                    properties: properties.clone(),
                }),
                Protocol::V5,
            );
        }
    }
}

#[test]
fn auth_cannot_be_encoded_before_v5() {
    for protocol in [Protocol::V3_1, Protocol::V3_1_1] {
        let mut buf = BytesMut::new();
        let err = Packet::Auth(Auth::default())
            .encode(protocol, &mut buf)
            .unwrap_err();
        assert_eq!(
            err,
            EncodeError::NotInProtocol {
                packet: "AUTH",
                protocol
            }
        );
        assert!(
            buf.is_empty(),
            "nothing is written for a packet that does not exist"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Incremental decoding and several packets in one buffer
// ---------------------------------------------------------------------------------------------

/// One sample of every packet type valid in `protocol`, with properties in v5.
fn samples(protocol: Protocol) -> Vec<Packet> {
    let v5 = protocol.is_v5();
    let mut connect = Connect::new(protocol, "sample");
    connect.will = Some(LastWill {
        topic: s("w"),
        payload: Bytes::from_static(b"will"),
        qos: QoS::AtLeastOnce,
        retain: true,
        properties: if v5 {
            WillProperties {
                will_delay_interval: Some(5),
                ..Default::default()
            }
        } else {
            WillProperties::default()
        },
    });
    connect.username = Some(s("u"));
    connect.password = Some(Bytes::from_static(b"p"));
    if v5 {
        connect.properties.session_expiry_interval = Some(60);
        connect.properties.user_properties = vec![user("a", "b")];
    }
    let mut publish = publish("s/t", QoS::ExactlyOnce, 12, b"payload bytes");
    let mut connack = ConnAck::new(ReasonCode::SUCCESS, protocol != Protocol::V3_1);
    let mut puback = PubReply::new(12);
    let mut subscribe = Subscribe::new(13, "s/#", SubscriptionOptions::qos(QoS::AtLeastOnce));
    let mut suback = SubAck {
        packet_id: 13,
        reasons: vec![ReasonCode::GRANTED_QOS_1],
        ..SubAck::default()
    };
    let mut unsuback = UnsubAck {
        packet_id: 14,
        ..UnsubAck::default()
    };
    let mut disconnect = Disconnect::default();
    if v5 {
        publish.properties.subscription_identifiers = vec![1, 300];
        publish.properties.user_properties = vec![user("k", "v"), user("k", "w")];
        connack.properties.topic_alias_maximum = Some(10);
        puback = PubReply::with_reason(12, ReasonCode::NO_MATCHING_SUBSCRIBERS);
        puback.properties.reason_string = Some(s("none"));
        subscribe.properties.subscription_identifier = Some(300);
        subscribe.filters[0].options.no_local = true;
        suback.properties.reason_string = Some(s("ok"));
        unsuback.reasons = vec![ReasonCode::NO_SUBSCRIPTION_EXISTED];
        disconnect = Disconnect::new(ReasonCode::DISCONNECT_WITH_WILL_MESSAGE);
        disconnect.properties.session_expiry_interval = Some(1);
    }
    let mut packets = vec![
        connect_packet(connect),
        Packet::ConnAck(connack),
        Packet::Publish(publish),
        Packet::Publish(Publish::new("q0", QoS::AtMostOnce, "")),
        Packet::PubAck(puback.clone()),
        Packet::PubRec(PubReply::new(12)),
        Packet::PubRel(PubReply::new(12)),
        Packet::PubComp(PubReply::new(12)),
        Packet::Subscribe(subscribe),
        Packet::SubAck(suback),
        Packet::Unsubscribe(Unsubscribe {
            packet_id: 14,
            filters: vec![s("s/#")],
            ..Unsubscribe::default()
        }),
        Packet::UnsubAck(unsuback),
        Packet::PingReq,
        Packet::PingResp,
        Packet::Disconnect(disconnect),
    ];
    if v5 {
        packets.push(Packet::Auth(Auth {
            reason: ReasonCode::CONTINUE_AUTHENTICATION,
            properties: AuthProperties {
                authentication_method: Some(s("m")),
                authentication_data: Some(Bytes::from_static(b"d")),
                ..Default::default()
            },
        }));
    }
    packets
}

#[test]
fn samples_cover_every_packet_type() {
    for protocol in ALL {
        let mut names: Vec<&str> = samples(protocol).iter().map(Packet::name).collect();
        names.sort();
        names.dedup();
        assert_eq!(
            names.len(),
            if protocol.is_v5() { 15 } else { 14 },
            "{protocol}: {names:?}"
        );
    }
}

#[test]
fn decoding_byte_by_byte_returns_none_until_the_last_byte() {
    for protocol in ALL {
        for p in samples(protocol) {
            let wire = roundtrip(&p, protocol);
            let mut buf = BytesMut::new();
            for (i, &byte) in wire.iter().enumerate() {
                buf.extend_from_slice(&[byte]);
                let got = decode(&mut buf, protocol, NO_LIMIT)
                    .unwrap_or_else(|e| panic!("{p:?} at byte {i}: {e}"));
                if i + 1 < wire.len() {
                    assert_eq!(
                        got,
                        None,
                        "{p:?} in {protocol} decoded after {} of {} bytes",
                        i + 1,
                        wire.len()
                    );
                    assert_eq!(
                        buf.len(),
                        i + 1,
                        "an incomplete packet must not be consumed"
                    );
                } else {
                    assert_eq!(got.as_ref(), Some(&p), "{protocol}");
                    assert!(buf.is_empty());
                }
            }
        }
    }
}

#[test]
fn decoding_a_packet_with_a_multi_byte_remaining_length_byte_by_byte() {
    for protocol in ALL {
        let mut p = publish("long", QoS::AtLeastOnce, 1, b"");
        p.payload = Bytes::from(vec![7u8; 20_000]); // three-byte remaining length
        let p = Packet::Publish(p);
        let wire = roundtrip(&p, protocol);
        assert_eq!(wire[1] & 0x80, 0x80);
        assert_eq!(wire[2] & 0x80, 0x80);
        assert_eq!(wire[3] & 0x80, 0);
        let mut buf = BytesMut::new();
        for (i, &byte) in wire.iter().enumerate() {
            buf.extend_from_slice(&[byte]);
            let got = decode(&mut buf, protocol, NO_LIMIT).unwrap();
            assert_eq!(got.is_some(), i + 1 == wire.len());
            if let Some(got) = got {
                assert_eq!(got, p);
            }
        }
    }
}

#[test]
fn several_packets_back_to_back_decode_in_order() {
    for protocol in ALL {
        let packets = samples(protocol);
        let mut buf = BytesMut::new();
        for p in &packets {
            p.encode(protocol, &mut buf).unwrap();
        }
        let total: usize = packets.iter().map(|p| p.encoded_len(protocol)).sum();
        assert_eq!(buf.len(), total);
        for p in &packets {
            let got = decode(&mut buf, protocol, NO_LIMIT)
                .unwrap()
                .expect("a whole packet is buffered");
            assert_eq!(&got, p, "{protocol}");
        }
        assert!(buf.is_empty());
        assert_eq!(decode(&mut buf, protocol, NO_LIMIT), Ok(None));
    }
}

#[test]
fn back_to_back_packets_with_a_partial_tail_leave_the_tail_buffered() {
    for protocol in ALL {
        let packets = samples(protocol);
        let mut buf = BytesMut::new();
        for p in &packets {
            p.encode(protocol, &mut buf).unwrap();
        }
        let mut tail = BytesMut::new();
        packets[2].encode(protocol, &mut tail).unwrap();
        buf.extend_from_slice(&tail[..tail.len() - 1]);
        for p in &packets {
            assert_eq!(
                decode(&mut buf, protocol, NO_LIMIT).unwrap().as_ref(),
                Some(p)
            );
        }
        assert_eq!(decode(&mut buf, protocol, NO_LIMIT), Ok(None));
        assert_eq!(
            &buf[..],
            &tail[..tail.len() - 1],
            "the partial packet stays in the buffer"
        );
        buf.extend_from_slice(&tail[tail.len() - 1..]);
        assert_eq!(
            decode(&mut buf, protocol, NO_LIMIT).unwrap().as_ref(),
            Some(&packets[2])
        );
        assert!(buf.is_empty());
    }
}

#[test]
fn a_packet_of_exactly_the_maximum_size_decodes() {
    for protocol in ALL {
        for p in samples(protocol) {
            let len = p.encoded_len(protocol);
            let mut buf = BytesMut::new();
            p.encode(protocol, &mut buf).unwrap();
            let mut over = buf.clone();
            assert_eq!(decode(&mut buf, protocol, len).unwrap(), Some(p.clone()));
            assert_eq!(
                decode(&mut over, protocol, len - 1),
                Err(DecodeError::TooLarge {
                    size: len,
                    max: len - 1
                })
            );
        }
    }
}

#[test]
fn decoded_strings_and_payload_share_the_read_buffer() {
    let p = Packet::Publish(publish("zero/copy", QoS::AtMostOnce, 0, b"payload"));
    let mut buf = BytesMut::new();
    p.encode(Protocol::V3_1_1, &mut buf).unwrap();
    let start = buf.as_ptr() as usize;
    let end = start + buf.len();
    let Some(Packet::Publish(got)) = decode(&mut buf, Protocol::V3_1_1, NO_LIMIT).unwrap() else {
        panic!("not a PUBLISH")
    };
    for ptr in [
        got.topic.as_bytes().as_ptr() as usize,
        got.payload.as_ptr() as usize,
    ] {
        assert!(
            (start..end).contains(&ptr),
            "decoded field was copied out of the read buffer"
        );
    }
}
