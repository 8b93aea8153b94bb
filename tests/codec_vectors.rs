//! Byte-exact vectors written by hand after the examples of the MQTT 3.1.1 and 5.0
//! specifications (and the MQTT 3.1 `MQIsdp` CONNECT). Each vector is checked both ways: our
//! encoder must produce exactly these bytes, and decoding them must give the expected packet.

use bytes::{Bytes, BytesMut};
use comqtt::mqtt::{
    AckProperties, Auth, AuthProperties, ConnAck, ConnAckProperties, Connect, Disconnect,
    DisconnectProperties, FrameHeader, LastWill, MqttString, Packet, Protocol, PubReply, Publish,
    QoS, ReasonCode, RetainHandling, SubAck, Subscribe, SubscribeFilter, SubscriptionOptions,
    UnsubAck, Unsubscribe, decode, peek_frame,
};

fn s(v: &str) -> MqttString {
    MqttString::from(v)
}

/// Asserts that `packet` encodes to exactly `wire` in `protocol` and that `wire` decodes to
/// exactly `packet`.
#[track_caller]
fn vector(protocol: Protocol, packet: Packet, wire: &[u8]) {
    let mut buf = BytesMut::new();
    packet.encode(protocol, &mut buf).expect("encode");
    assert_eq!(&buf[..], wire, "encoding {packet:?} in {protocol}");
    assert_eq!(
        packet.encoded_len(protocol),
        wire.len(),
        "encoded_len of {packet:?}"
    );
    let mut buf = BytesMut::from(wire);
    let got = decode(&mut buf, protocol, usize::MAX)
        .expect("decode")
        .expect("whole packet");
    assert_eq!(got, packet, "decoding {wire:02X?} in {protocol}");
    assert!(buf.is_empty());
}

// ---------------------------------------------------------------------------------------------
// CONNECT
// ---------------------------------------------------------------------------------------------

/// MQTT 3.1.1 section 3.1.2.10, figure 3.6: protocol name "MQTT", level 4, connect flags
/// 0xCE (user name, password, will QoS 1, will flag, clean session), keep alive 10.
#[test]
fn connect_3_1_1_variable_header_example_flags_ce_keep_alive_10() {
    let wire = [
        0x10, 0x28, // CONNECT, remaining length 40
        0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name
        0x04, // protocol level 4
        0xCE, // connect flags
        0x00, 0x0A, // keep alive 10
        0x00, 0x06, b'c', b'l', b'i', b'e', b'n', b't', // client identifier
        0x00, 0x03, b'w', b'/', b't', // will topic
        0x00, 0x03, b'b', b'y', b'e', // will message
        0x00, 0x04, b'u', b's', b'e', b'r', // user name
        0x00, 0x04, b'p', b'a', b's', b's', // password
    ];
    let connect = Connect {
        protocol: Protocol::V3_1_1,
        clean_start: true,
        keep_alive: 10,
        client_id: s("client"),
        will: Some(LastWill {
            topic: s("w/t"),
            payload: Bytes::from_static(b"bye"),
            qos: QoS::AtLeastOnce,
            retain: false,
            properties: Default::default(),
        }),
        username: Some(s("user")),
        password: Some(Bytes::from_static(b"pass")),
        properties: Default::default(),
    };
    vector(Protocol::V3_1_1, Packet::Connect(Box::new(connect)), &wire);
}

/// MQTT 5.0 section 3.1.2.12, figure 3-8: as above at level 5, with a property length of 5
/// and a session expiry interval (0x11) of 10.
#[test]
fn connect_5_0_variable_header_example_with_session_expiry_10() {
    let wire = [
        0x10, 0x2F, // CONNECT, remaining length 47
        0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name
        0x05, // protocol version 5
        0xCE, // connect flags
        0x00, 0x0A, // keep alive 10
        0x05, 0x11, 0x00, 0x00, 0x00, 0x0A, // properties: session expiry interval 10
        0x00, 0x06, b'c', b'l', b'i', b'e', b'n', b't', // client identifier
        0x00, // will properties: none
        0x00, 0x03, b'w', b'/', b't', // will topic
        0x00, 0x03, b'b', b'y', b'e', // will payload
        0x00, 0x04, b'u', b's', b'e', b'r', // user name
        0x00, 0x04, b'p', b'a', b's', b's', // password
    ];
    let mut connect = Connect::new(Protocol::V5, "client");
    connect.keep_alive = 10;
    connect.properties.session_expiry_interval = Some(10);
    connect.will = Some(LastWill {
        topic: s("w/t"),
        payload: Bytes::from_static(b"bye"),
        qos: QoS::AtLeastOnce,
        ..LastWill::default()
    });
    connect.username = Some(s("user"));
    connect.password = Some(Bytes::from_static(b"pass"));
    vector(Protocol::V5, Packet::Connect(Box::new(connect)), &wire);
}

/// A v5 CONNECT whose will carries properties: will delay interval and payload format.
#[test]
fn connect_5_0_with_will_properties_and_retain() {
    let wire = [
        0x10, 0x1E, // remaining length 30
        0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, //
        0x36, // will retain, will QoS 2, will flag, clean start
        0x00, 0x3C, // keep alive 60
        0x03, 0x21, 0x00, 0x05, // receive maximum 5
        0x00, 0x01, b'c', // client identifier
        0x07, 0x18, 0x00, 0x00, 0x00, 0x1E, 0x01, 0x01, // will delay 30, payload format UTF-8
        0x00, 0x01, b't', // will topic
        0x00, 0x00, // empty will payload
    ];
    let mut connect = Connect::new(Protocol::V5, "c");
    connect.properties.receive_maximum = Some(5);
    let mut will = LastWill {
        topic: s("t"),
        qos: QoS::ExactlyOnce,
        retain: true,
        ..LastWill::default()
    };
    will.properties.will_delay_interval = Some(30);
    will.properties.payload_format_indicator = Some(true);
    connect.will = Some(will);
    vector(Protocol::V5, Packet::Connect(Box::new(connect)), &wire);
}

/// MQTT 3.1: protocol name "MQIsdp", level 3, clean session, keep alive 60.
#[test]
fn connect_3_1_mqisdp_level_3() {
    let wire = [
        0x10, 0x10, // remaining length 16
        0x00, 0x06, b'M', b'Q', b'I', b's', b'd', b'p', // protocol name
        0x03, // protocol version 3
        0x02, // clean session
        0x00, 0x3C, // keep alive 60
        0x00, 0x02, b'c', b'1', // client identifier
    ];
    vector(
        Protocol::V3_1,
        Packet::Connect(Box::new(Connect::new(Protocol::V3_1, "c1"))),
        &wire,
    );
}

#[test]
fn connect_3_1_mqisdp_with_will_user_name_and_password_flags_ce() {
    let wire = [
        0x10, 0x1B, // remaining length 27
        0x00, 0x06, b'M', b'Q', b'I', b's', b'd', b'p', 0x03, 0xCE, 0x00, 0x0A, //
        0x00, 0x01, b'c', // client identifier
        0x00, 0x01, b't', // will topic
        0x00, 0x01, b'm', // will message
        0x00, 0x01, b'u', // user name
        0x00, 0x01, b'p', // password
    ];
    let mut connect = Connect::new(Protocol::V3_1, "c");
    connect.keep_alive = 10;
    connect.will = Some(LastWill {
        topic: s("t"),
        payload: Bytes::from_static(b"m"),
        qos: QoS::AtLeastOnce,
        ..LastWill::default()
    });
    connect.username = Some(s("u"));
    connect.password = Some(Bytes::from_static(b"p"));
    vector(Protocol::V3_1, Packet::Connect(Box::new(connect)), &wire);
}

/// CONNECT names its own version: it decodes the same whatever the connection assumed.
#[test]
fn connect_decodes_in_its_own_version_whatever_the_connection_assumed() {
    let wire = [
        0x10, 0x0D, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];
    for assumed in [Protocol::V3_1, Protocol::V3_1_1, Protocol::V5] {
        let mut buf = BytesMut::from(&wire[..]);
        let Some(Packet::Connect(c)) = decode(&mut buf, assumed, usize::MAX).unwrap() else {
            panic!()
        };
        assert_eq!(c.protocol, Protocol::V5);
        assert!(!c.clean_start);
        assert_eq!(c.keep_alive, 0);
        assert_eq!(c.client_id, "");
    }
}

// ---------------------------------------------------------------------------------------------
// CONNACK
// ---------------------------------------------------------------------------------------------

#[test]
fn connack_3_1_1_accepted_session_present_and_refused() {
    vector(
        Protocol::V3_1_1,
        Packet::ConnAck(ConnAck::new(ReasonCode::V3_ACCEPTED, false)),
        &[0x20, 0x02, 0x00, 0x00],
    );
    vector(
        Protocol::V3_1_1,
        Packet::ConnAck(ConnAck::new(ReasonCode::V3_ACCEPTED, true)),
        &[0x20, 0x02, 0x01, 0x00],
    );
    vector(
        Protocol::V3_1_1,
        Packet::ConnAck(ConnAck::new(ReasonCode::V3_NOT_AUTHORIZED, false)),
        &[0x20, 0x02, 0x00, 0x05],
    );
    vector(
        Protocol::V3_1,
        Packet::ConnAck(ConnAck::new(ReasonCode::V3_IDENTIFIER_REJECTED, false)),
        &[0x20, 0x02, 0x00, 0x02],
    );
}

#[test]
fn connack_5_0_with_and_without_properties() {
    vector(
        Protocol::V5,
        Packet::ConnAck(ConnAck::new(ReasonCode::SUCCESS, false)),
        &[0x20, 0x03, 0x00, 0x00, 0x00],
    );
    vector(
        Protocol::V5,
        Packet::ConnAck(ConnAck::new(ReasonCode::BAD_USER_NAME_OR_PASSWORD, false)),
        &[0x20, 0x03, 0x00, 0x86, 0x00],
    );
    let props = ConnAckProperties {
        receive_maximum: Some(10),
        maximum_qos: Some(QoS::AtLeastOnce),
        topic_alias_maximum: Some(5),
        assigned_client_identifier: Some(s("id")),
        ..Default::default()
    };
    let wire = [
        0x20, 0x10, // remaining length 16
        0x01, 0x00, // session present, success
        0x0D, // property length 13
        0x21, 0x00, 0x0A, // receive maximum 10
        0x24, 0x01, // maximum QoS 1
        0x12, 0x00, 0x02, b'i', b'd', // assigned client identifier
        0x22, 0x00, 0x05, // topic alias maximum 5
    ];
    vector(
        Protocol::V5,
        Packet::ConnAck(ConnAck {
            session_present: true,
            code: ReasonCode::SUCCESS,
            properties: props,
        }),
        &wire,
    );
}

// ---------------------------------------------------------------------------------------------
// Remaining length (spec 1.5.5 / 2.2.3, table of variable byte integer sizes)
// ---------------------------------------------------------------------------------------------

fn publish_with_body_len(body_len: usize) -> Packet {
    // topic "a" (3 bytes) + payload, QoS 0, v3.1.1
    Packet::Publish(Publish::new(
        "a",
        QoS::AtMostOnce,
        Bytes::from(vec![0x5A; body_len - 3]),
    ))
}

#[test]
fn remaining_length_examples_from_the_spec_table() {
    for (body_len, header) in [
        (3usize, &[0x30u8, 0x03][..]),
        (127, &[0x30, 0x7F]),
        (128, &[0x30, 0x80, 0x01]),
        (16_383, &[0x30, 0xFF, 0x7F]),
        (16_384, &[0x30, 0x80, 0x80, 0x01]),
        (2_097_151, &[0x30, 0xFF, 0xFF, 0x7F]),
        (2_097_152, &[0x30, 0x80, 0x80, 0x80, 0x01]),
    ] {
        let p = publish_with_body_len(body_len);
        let mut buf = BytesMut::new();
        p.encode(Protocol::V3_1_1, &mut buf).unwrap();
        assert_eq!(
            &buf[..header.len()],
            header,
            "header of a {body_len}-byte body"
        );
        assert_eq!(&buf[header.len()..header.len() + 3], &[0x00, 0x01, b'a']);
        assert_eq!(buf.len(), header.len() + body_len);
        assert_eq!(p.encoded_len(Protocol::V3_1_1), buf.len());
        assert_eq!(
            peek_frame(&buf, usize::MAX).unwrap(),
            Some(FrameHeader {
                first: 0x30,
                header_len: header.len(),
                body_len
            })
        );
        assert_eq!(
            decode(&mut buf, Protocol::V3_1_1, usize::MAX).unwrap(),
            Some(p)
        );
    }
}

#[test]
fn remaining_length_zero_and_the_largest_value() {
    assert_eq!(
        peek_frame(&[0xC0, 0x00], usize::MAX).unwrap(),
        Some(FrameHeader {
            first: 0xC0,
            header_len: 2,
            body_len: 0
        })
    );
    assert_eq!(
        peek_frame(&[0x30, 0xFF, 0xFF, 0xFF, 0x7F], usize::MAX).unwrap(),
        Some(FrameHeader {
            first: 0x30,
            header_len: 5,
            body_len: 268_435_455
        })
    );
    assert_eq!(
        peek_frame(&[0x30, 0x80, 0x80, 0x80, 0x01], usize::MAX).unwrap(),
        Some(FrameHeader {
            first: 0x30,
            header_len: 5,
            body_len: 2_097_152
        })
    );
    assert_eq!(
        peek_frame(&[0x30, 0xC1, 0x02], usize::MAX)
            .unwrap()
            .unwrap()
            .body_len,
        321
    );
}

#[test]
fn remaining_length_not_yet_complete_needs_more_bytes() {
    assert_eq!(peek_frame(&[], 100), Ok(None));
    assert_eq!(peek_frame(&[0x30], 100), Ok(None));
    assert_eq!(peek_frame(&[0x30, 0x80], usize::MAX), Ok(None));
    assert_eq!(peek_frame(&[0x30, 0xFF, 0xFF, 0xFF], usize::MAX), Ok(None));
}

// ---------------------------------------------------------------------------------------------
// PUBLISH
// ---------------------------------------------------------------------------------------------

/// MQTT 3.1.1 section 3.3.2.3, figure 3.11: topic name "a/b", packet identifier 10.
#[test]
fn publish_3_1_1_variable_header_example_topic_a_b_packet_id_10() {
    let wire = [
        0x32, 0x09, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x0A, b'h', b'i',
    ];
    let p = Publish {
        packet_id: 10,
        ..Publish::new("a/b", QoS::AtLeastOnce, &b"hi"[..])
    };
    vector(Protocol::V3_1_1, Packet::Publish(p.clone()), &wire);
    vector(Protocol::V3_1, Packet::Publish(p), &wire);
}

/// MQTT 5.0 section 3.3.2.3, figure 3-9: topic "a/b", packet identifier 10, no properties.
#[test]
fn publish_5_0_variable_header_example_topic_a_b_packet_id_10_no_properties() {
    let wire = [
        0x32, 0x0A, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x0A, 0x00, b'h', b'i',
    ];
    let p = Publish {
        packet_id: 10,
        ..Publish::new("a/b", QoS::AtLeastOnce, &b"hi"[..])
    };
    vector(Protocol::V5, Packet::Publish(p), &wire);
}

#[test]
fn publish_fixed_header_flags_dup_qos_retain() {
    // QoS 0 retained, no packet identifier.
    let p = Publish {
        retain: true,
        ..Publish::new("t", QoS::AtMostOnce, &b"x"[..])
    };
    vector(
        Protocol::V3_1_1,
        Packet::Publish(p),
        &[0x31, 0x04, 0x00, 0x01, b't', b'x'],
    );
    // QoS 2 duplicate retained: 0x3D.
    let p = Publish {
        dup: true,
        retain: true,
        packet_id: 0x1234,
        ..Publish::new("t", QoS::ExactlyOnce, Bytes::new())
    };
    vector(
        Protocol::V3_1_1,
        Packet::Publish(p),
        &[0x3D, 0x05, 0x00, 0x01, b't', 0x12, 0x34],
    );
    // QoS 1 duplicate: 0x3A.
    let p = Publish {
        dup: true,
        packet_id: 1,
        ..Publish::new("t", QoS::AtLeastOnce, Bytes::new())
    };
    vector(
        Protocol::V5,
        Packet::Publish(p),
        &[0x3A, 0x06, 0x00, 0x01, b't', 0x00, 0x01, 0x00],
    );
}

#[test]
fn publish_5_0_with_topic_alias_and_subscription_identifiers() {
    let mut p = Publish::new("", QoS::AtMostOnce, &b"v"[..]);
    p.properties.topic_alias = Some(3);
    p.properties.subscription_identifiers = vec![1, 128];
    p.properties.user_properties = vec![(s("k"), s("v"))];
    let wire = [
        0x30, 0x13, // remaining length 19
        0x00, 0x00, // empty topic name
        0x0F, // property length 15
        0x23, 0x00, 0x03, // topic alias 3
        0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v', // user property k=v
        0x0B, 0x01, // subscription identifier 1
        0x0B, 0x80, 0x01, // subscription identifier 128 (two-byte variable integer)
        b'v', // payload
    ];
    vector(Protocol::V5, Packet::Publish(p), &wire);
}

#[test]
fn publish_5_0_with_message_properties() {
    let mut p = Publish::new("t", QoS::AtMostOnce, Bytes::new());
    p.properties.payload_format_indicator = Some(true);
    p.properties.message_expiry_interval = Some(0x0102_0304);
    p.properties.response_topic = Some(s("r"));
    p.properties.correlation_data = Some(Bytes::from_static(&[0xAB]));
    p.properties.content_type = Some(s("c"));
    let wire = [
        0x30, 0x17, // remaining length 23
        0x00, 0x01, b't', //
        0x13, // property length 19
        0x01, 0x01, // payload format indicator 1
        0x02, 0x01, 0x02, 0x03, 0x04, // message expiry interval
        0x08, 0x00, 0x01, b'r', // response topic
        0x09, 0x00, 0x01, 0xAB, // correlation data
        0x03, 0x00, 0x01, b'c', // content type
    ];
    vector(Protocol::V5, Packet::Publish(p), &wire);
}

// ---------------------------------------------------------------------------------------------
// PUBACK, PUBREC, PUBREL, PUBCOMP
// ---------------------------------------------------------------------------------------------

#[test]
fn pub_replies_3_1_1_are_four_bytes_with_pubrel_flags_0010() {
    for protocol in [Protocol::V3_1, Protocol::V3_1_1, Protocol::V5] {
        vector(
            protocol,
            Packet::PubAck(PubReply::new(10)),
            &[0x40, 0x02, 0x00, 0x0A],
        );
        vector(
            protocol,
            Packet::PubRec(PubReply::new(10)),
            &[0x50, 0x02, 0x00, 0x0A],
        );
        vector(
            protocol,
            Packet::PubRel(PubReply::new(10)),
            &[0x62, 0x02, 0x00, 0x0A],
        );
        vector(
            protocol,
            Packet::PubComp(PubReply::new(10)),
            &[0x70, 0x02, 0x00, 0x0A],
        );
    }
}

/// MQTT 5.0 3.4.2.1: the reason code may be omitted when it is 0x00 and there are no
/// properties; the property length may be omitted when there are no properties.
#[test]
fn pub_replies_5_0_reason_code_and_properties_forms() {
    vector(
        Protocol::V5,
        Packet::PubAck(PubReply::with_reason(
            10,
            ReasonCode::NO_MATCHING_SUBSCRIBERS,
        )),
        &[0x40, 0x03, 0x00, 0x0A, 0x10],
    );
    vector(
        Protocol::V5,
        Packet::PubRel(PubReply::with_reason(
            10,
            ReasonCode::PACKET_IDENTIFIER_NOT_FOUND,
        )),
        &[0x62, 0x03, 0x00, 0x0A, 0x92],
    );
    let with_reason_string = PubReply {
        packet_id: 10,
        reason: ReasonCode::SUCCESS,
        properties: AckProperties {
            reason_string: Some(s("x")),
            ..Default::default()
        },
    };
    vector(
        Protocol::V5,
        Packet::PubComp(with_reason_string),
        &[0x70, 0x08, 0x00, 0x0A, 0x00, 0x04, 0x1F, 0x00, 0x01, b'x'],
    );
}

#[test]
fn pub_replies_5_0_long_forms_with_empty_properties_decode() {
    // A sender may always include the reason code and an empty property block.
    for wire in [
        &[0x40u8, 0x04, 0x00, 0x0A, 0x00, 0x00][..],
        &[0x40, 0x03, 0x00, 0x0A, 0x00],
    ] {
        let mut buf = BytesMut::from(wire);
        assert_eq!(
            decode(&mut buf, Protocol::V5, usize::MAX).unwrap(),
            Some(Packet::PubAck(PubReply::new(10)))
        );
    }
}

// ---------------------------------------------------------------------------------------------
// SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK
// ---------------------------------------------------------------------------------------------

fn sub(filter: &str, options: SubscriptionOptions) -> SubscribeFilter {
    SubscribeFilter {
        filter: s(filter),
        options,
    }
}

/// MQTT 3.1.1 section 3.8.3, figure 3.22: "a/b" QoS 1 and "c/d" QoS 2, packet identifier 10.
#[test]
fn subscribe_3_1_1_payload_example() {
    let wire = [
        0x82, 0x0E, // SUBSCRIBE with flags 0010, remaining length 14
        0x00, 0x0A, // packet identifier 10
        0x00, 0x03, b'a', b'/', b'b', 0x01, //
        0x00, 0x03, b'c', b'/', b'd', 0x02,
    ];
    let p = Subscribe {
        packet_id: 10,
        filters: vec![
            sub("a/b", SubscriptionOptions::qos(QoS::AtLeastOnce)),
            sub("c/d", SubscriptionOptions::qos(QoS::ExactlyOnce)),
        ],
        properties: Default::default(),
    };
    vector(Protocol::V3_1_1, Packet::Subscribe(p.clone()), &wire);
    vector(Protocol::V3_1, Packet::Subscribe(p), &wire);
}

/// MQTT 5.0 section 3.8.2 / 3.8.3: packet identifier 10, no properties, same payload; plus
/// the options byte with no local, retain as published and retain handling.
#[test]
fn subscribe_5_0_payload_example_and_options_byte() {
    let wire = [
        0x82, 0x0F, 0x00, 0x0A, 0x00, //
        0x00, 0x03, b'a', b'/', b'b', 0x01, //
        0x00, 0x03, b'c', b'/', b'd', 0x02,
    ];
    let p = Subscribe {
        packet_id: 10,
        filters: vec![
            sub("a/b", SubscriptionOptions::qos(QoS::AtLeastOnce)),
            sub("c/d", SubscriptionOptions::qos(QoS::ExactlyOnce)),
        ],
        properties: Default::default(),
    };
    vector(Protocol::V5, Packet::Subscribe(p), &wire);

    let options = SubscriptionOptions {
        qos: QoS::AtLeastOnce,
        no_local: true,
        retain_as_published: true,
        retain_handling: RetainHandling::Never,
    };
    let mut p = Subscribe::new(1, "x", options);
    p.properties.subscription_identifier = Some(16_384);
    let wire = [
        0x82, 0x0B, 0x00, 0x01, //
        0x04, 0x0B, 0x80, 0x80, 0x01, // subscription identifier 16384 (three bytes)
        0x00, 0x01, b'x', 0x2D, // options 0b0010_1101
    ];
    vector(Protocol::V5, Packet::Subscribe(p), &wire);
}

/// MQTT 3.1.1 section 3.9.3, figure 3.26: success QoS 0, success QoS 2, failure.
#[test]
fn suback_3_1_1_payload_example() {
    let p = SubAck {
        packet_id: 10,
        reasons: [0x00, 0x02, 0x80].map(ReasonCode).to_vec(),
        properties: Default::default(),
    };
    vector(
        Protocol::V3_1_1,
        Packet::SubAck(p.clone()),
        &[0x90, 0x05, 0x00, 0x0A, 0x00, 0x02, 0x80],
    );
    vector(
        Protocol::V5,
        Packet::SubAck(p),
        &[0x90, 0x06, 0x00, 0x0A, 0x00, 0x00, 0x02, 0x80],
    );
}

/// MQTT 3.1.1 section 3.10.3, figure 3.30: "a/b" and "c/d".
#[test]
fn unsubscribe_3_1_1_payload_example() {
    let p = Unsubscribe {
        packet_id: 10,
        filters: vec![s("a/b"), s("c/d")],
        properties: Default::default(),
    };
    let wire = [
        0xA2, 0x0C, 0x00, 0x0A, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x03, b'c', b'/', b'd',
    ];
    vector(Protocol::V3_1_1, Packet::Unsubscribe(p.clone()), &wire);
    let wire5 = [
        0xA2, 0x0D, 0x00, 0x0A, 0x00, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x03, b'c', b'/', b'd',
    ];
    vector(Protocol::V5, Packet::Unsubscribe(p), &wire5);
}

#[test]
fn unsuback_3_1_1_and_5_0() {
    vector(
        Protocol::V3_1_1,
        Packet::UnsubAck(UnsubAck {
            packet_id: 10,
            ..Default::default()
        }),
        &[0xB0, 0x02, 0x00, 0x0A],
    );
    let p = UnsubAck {
        packet_id: 10,
        reasons: vec![ReasonCode::SUCCESS, ReasonCode::NO_SUBSCRIPTION_EXISTED],
        properties: Default::default(),
    };
    vector(
        Protocol::V5,
        Packet::UnsubAck(p),
        &[0xB0, 0x05, 0x00, 0x0A, 0x00, 0x00, 0x11],
    );
}

// ---------------------------------------------------------------------------------------------
// PINGREQ, PINGRESP, DISCONNECT, AUTH
// ---------------------------------------------------------------------------------------------

#[test]
fn pingreq_is_c0_00_and_pingresp_is_d0_00() {
    for protocol in [Protocol::V3_1, Protocol::V3_1_1, Protocol::V5] {
        vector(protocol, Packet::PingReq, &[0xC0, 0x00]);
        vector(protocol, Packet::PingResp, &[0xD0, 0x00]);
    }
}

#[test]
fn disconnect_is_e0_00() {
    for protocol in [Protocol::V3_1, Protocol::V3_1_1, Protocol::V5] {
        vector(
            protocol,
            Packet::Disconnect(Disconnect::default()),
            &[0xE0, 0x00],
        );
    }
}

#[test]
fn disconnect_5_0_with_reason_code_and_properties() {
    vector(
        Protocol::V5,
        Packet::Disconnect(Disconnect::new(ReasonCode::SESSION_TAKEN_OVER)),
        &[0xE0, 0x01, 0x8E],
    );
    let p = Disconnect {
        reason: ReasonCode::NORMAL_DISCONNECTION,
        properties: DisconnectProperties {
            session_expiry_interval: Some(60),
            ..Default::default()
        },
    };
    vector(
        Protocol::V5,
        Packet::Disconnect(p),
        &[0xE0, 0x07, 0x00, 0x05, 0x11, 0x00, 0x00, 0x00, 0x3C],
    );
    // The long form of a normal disconnection decodes too (3.14.2.1).
    let mut buf = BytesMut::from(&[0xE0, 0x02, 0x00, 0x00][..]);
    assert_eq!(
        decode(&mut buf, Protocol::V5, usize::MAX).unwrap(),
        Some(Packet::Disconnect(Disconnect::default()))
    );
}

#[test]
fn auth_5_0_success_short_form_and_continue_with_method_and_data() {
    vector(Protocol::V5, Packet::Auth(Auth::default()), &[0xF0, 0x00]);
    let p = Auth {
        reason: ReasonCode::CONTINUE_AUTHENTICATION,
        properties: AuthProperties {
            authentication_method: Some(s("SCRAM")),
            authentication_data: Some(Bytes::from_static(&[0x01, 0x02])),
            ..Default::default()
        },
    };
    let wire = [
        0xF0, 0x0F, 0x18, 0x0D, //
        0x15, 0x00, 0x05, b'S', b'C', b'R', b'A', b'M', // authentication method
        0x16, 0x00, 0x02, 0x01, 0x02, // authentication data
    ];
    vector(Protocol::V5, Packet::Auth(p), &wire);
}
