//! Differential tests of our MQTT codec against `mqttbytes` 0.6.0 (the dev-dependency, feature
//! `v5`), an independent implementation used as an oracle only.
//!
//! For every packet type mqttbytes knows, in 3.1.1 (its `v4`) and 5.0 (its `v5`), each case is
//! one of our [`Packet`]s plus the equivalent mqttbytes packet, and is checked both ways:
//!
//! 1. our encoding is read by `mqttbytes::v4::read` / `v5::read` and compared field by field
//!    with the equivalent mqttbytes packet;
//! 2. mqttbytes' `write` of the equivalent packet is read by our [`decode`] and compared field
//!    by field with our packet;
//! 3. both encoders produce the same bytes (both write v5 properties in identifier-table order).
//!
//! Since 3.1 differs from 3.1.1 only in CONNECT (and in CONNACK's reserved first byte), every
//! other packet is also encoded as MQTT 3.1 and read by `mqttbytes::v4`.
//!
//! Where mqttbytes is wrong or merely different, the case is skipped with a comment, and
//! `mqttbytes_known_divergences` pins down each difference so that the comments stay true:
//!
//! - it has no AUTH packet and rejects MQTT 3.1 (`MQIsdp`) CONNECT;
//! - v5 `read` rejects a DISCONNECT with remaining length 0 (allowed by spec 3.14.2.1), and a
//!   DISCONNECT holding only a reason code (it then expects a property length);
//! - v5 CONNACK without properties is written without the (mandatory) property length;
//! - user name and password are Strings where an empty one means "absent", so a present but
//!   empty field, and a password that is not UTF-8, cannot be represented;
//! - it counts each subscription identifier property one byte too long, so after several of
//!   them it stops reading properties early and takes the rest for payload;
//! - it validates almost nothing (reserved bits, DUP on QoS 0, wildcards in topic names,
//!   password without user name in 3.1.1, non-minimal variable byte integers, ...), where we
//!   reject malformed packets.

use bytes::{Bytes, BytesMut};
use comqtt::mqtt::{
    AckProperties, ConnAck, ConnAckProperties, Connect, ConnectProperties, Disconnect,
    DisconnectProperties, LastWill, MqttString, Packet, Protocol, PubReply, Publish,
    PublishProperties, QoS, ReasonCode, RetainHandling, SubAck, Subscribe, SubscribeFilter,
    SubscribeProperties, SubscriptionOptions, UnsubAck, Unsubscribe, UnsubscribeProperties,
    UserProperty, WillProperties, decode,
};
use mqttbytes::{v4, v5};

/// Maximum packet size for both decoders: room for the 4-byte remaining-length cases.
const MAX: usize = 8 << 20;

// ---------------------------------------------------------------------------------------------
// Plumbing
// ---------------------------------------------------------------------------------------------

fn s(x: &str) -> MqttString {
    MqttString::from(x)
}

/// The start of a byte string, for failure messages that must not print megabytes.
fn hex(b: &[u8]) -> String {
    let shown: Vec<String> = b.iter().take(48).map(|x| format!("{x:02X}")).collect();
    format!(
        "{}{} ({} bytes)",
        shown.join(" "),
        if b.len() > 48 { " .." } else { "" },
        b.len()
    )
}

fn encode_ours(p: &Packet, protocol: Protocol) -> BytesMut {
    let mut buf = BytesMut::new();
    p.encode(protocol, &mut buf)
        .unwrap_or_else(|e| panic!("{protocol}: cannot encode {}: {e}", p.name()));
    assert_eq!(
        buf.len(),
        p.encoded_len(protocol),
        "{protocol}: encoded_len of {}",
        p.name()
    );
    buf
}

fn decode_ours(bytes: &[u8], protocol: Protocol) -> Packet {
    let mut buf = BytesMut::from(bytes);
    let p = decode(&mut buf, protocol, MAX)
        .unwrap_or_else(|e| panic!("{protocol}: we reject {}: {e}", hex(bytes)))
        .unwrap_or_else(|| panic!("{protocol}: we see an incomplete packet in {}", hex(bytes)));
    assert!(
        buf.is_empty(),
        "{protocol}: {} bytes left after {}",
        buf.len(),
        p.name()
    );
    p
}

fn read_v4(bytes: &[u8]) -> v4::Packet {
    let mut buf = BytesMut::from(bytes);
    let p = v4::read(&mut buf, MAX)
        .unwrap_or_else(|e| panic!("mqttbytes v4 rejects {}: {e:?}", hex(bytes)));
    assert!(buf.is_empty(), "mqttbytes v4 left {} bytes", buf.len());
    p
}

fn read_v5(bytes: &[u8]) -> v5::Packet {
    let mut buf = BytesMut::from(bytes);
    let p = v5::read(&mut buf, MAX)
        .unwrap_or_else(|e| panic!("mqttbytes v5 rejects {}: {e:?}", hex(bytes)));
    assert!(buf.is_empty(), "mqttbytes v5 left {} bytes", buf.len());
    p
}

fn write_v4(p: &v4::Packet) -> BytesMut {
    let mut buf = BytesMut::new();
    match p {
        v4::Packet::Connect(x) => x.write(&mut buf),
        v4::Packet::ConnAck(x) => x.write(&mut buf),
        v4::Packet::Publish(x) => x.write(&mut buf),
        v4::Packet::PubAck(x) => x.write(&mut buf),
        v4::Packet::PubRec(x) => x.write(&mut buf),
        v4::Packet::PubRel(x) => x.write(&mut buf),
        v4::Packet::PubComp(x) => x.write(&mut buf),
        v4::Packet::Subscribe(x) => x.write(&mut buf),
        v4::Packet::SubAck(x) => x.write(&mut buf),
        v4::Packet::Unsubscribe(x) => x.write(&mut buf),
        v4::Packet::UnsubAck(x) => x.write(&mut buf),
        v4::Packet::PingReq => v4::PingReq.write(&mut buf),
        v4::Packet::PingResp => v4::PingResp.write(&mut buf),
        v4::Packet::Disconnect => v4::Disconnect.write(&mut buf),
    }
    .unwrap_or_else(|e| panic!("mqttbytes v4 cannot write {p:?}: {e:?}"));
    buf
}

fn write_v5(p: &v5::Packet) -> BytesMut {
    let mut buf = BytesMut::new();
    match p {
        v5::Packet::Connect(x) => x.write(&mut buf),
        v5::Packet::ConnAck(x) => {
            // mqttbytes bug: a v5 CONNACK with `properties: None` is written without the
            // property length, which v5 requires; write an empty property block instead.
            let mut x = x.clone();
            x.properties.get_or_insert_with(v5::ConnAckProperties::new);
            x.write(&mut buf)
        }
        v5::Packet::Publish(x) => x.write(&mut buf),
        v5::Packet::PubAck(x) => x.write(&mut buf),
        v5::Packet::PubRec(x) => x.write(&mut buf),
        v5::Packet::PubRel(x) => x.write(&mut buf),
        v5::Packet::PubComp(x) => x.write(&mut buf),
        v5::Packet::Subscribe(x) => x.write(&mut buf),
        v5::Packet::SubAck(x) => x.write(&mut buf),
        v5::Packet::Unsubscribe(x) => x.write(&mut buf),
        v5::Packet::UnsubAck(x) => x.write(&mut buf),
        v5::Packet::PingReq => v5::PingReq.write(&mut buf),
        v5::Packet::PingResp => v5::PingResp.write(&mut buf),
        v5::Packet::Disconnect(x) => x.write(&mut buf),
    }
    .unwrap_or_else(|e| panic!("mqttbytes v5 cannot write {p:?}: {e:?}"));
    buf
}

fn qos_to(q: QoS) -> mqttbytes::QoS {
    match q {
        QoS::AtMostOnce => mqttbytes::QoS::AtMostOnce,
        QoS::AtLeastOnce => mqttbytes::QoS::AtLeastOnce,
        QoS::ExactlyOnce => mqttbytes::QoS::ExactlyOnce,
    }
}

fn users(u: &[UserProperty]) -> Vec<(String, String)> {
    u.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn opt_str(o: &Option<MqttString>) -> Option<String> {
    o.as_ref().map(|x| x.to_string())
}

fn flag(o: Option<bool>) -> Option<u8> {
    o.map(u8::from)
}

fn utf8(b: &Bytes) -> String {
    String::from_utf8(b.to_vec())
        .expect("mqttbytes passwords are Strings: keep test passwords UTF-8")
}

// ---------------------------------------------------------------------------------------------
// Our packet -> the equivalent mqttbytes packet. mqttbytes has `None` where we have empty
// properties (its reader returns `None` for a zero property length), so empty maps to `None`.
// ---------------------------------------------------------------------------------------------

fn connect_return_v4(code: u8) -> v4::ConnectReturnCode {
    use v4::ConnectReturnCode::*;
    [
        Success,
        RefusedProtocolVersion,
        BadClientId,
        ServiceUnavailable,
        BadUserNamePassword,
        NotAuthorized,
    ][code as usize]
}

const CONNACK_V5: [v5::ConnectReturnCode; 22] = {
    use v5::ConnectReturnCode::*;
    [
        Success,
        UnspecifiedError,
        MalformedPacket,
        ProtocolError,
        ImplementationSpecificError,
        UnsupportedProtocolVersion,
        ClientIdentifierNotValid,
        BadUserNamePassword,
        NotAuthorized,
        ServerUnavailable,
        ServerBusy,
        Banned,
        BadAuthenticationMethod,
        TopicNameInvalid,
        PacketTooLarge,
        QuotaExceeded,
        PayloadFormatInvalid,
        RetainNotSupported,
        QoSNotSupported,
        UseAnotherServer,
        ServerMoved,
        ConnectionRateExceeded,
    ]
};

const PUBACK_V5: [v5::PubAckReason; 9] = {
    use v5::PubAckReason::*;
    [
        Success,
        NoMatchingSubscribers,
        UnspecifiedError,
        ImplementationSpecificError,
        NotAuthorized,
        TopicNameInvalid,
        PacketIdentifierInUse,
        QuotaExceeded,
        PayloadFormatInvalid,
    ]
};

const PUBREC_V5: [v5::PubRecReason; 9] = {
    use v5::PubRecReason::*;
    [
        Success,
        NoMatchingSubscribers,
        UnspecifiedError,
        ImplementationSpecificError,
        NotAuthorized,
        TopicNameInvalid,
        PacketIdentifierInUse,
        QuotaExceeded,
        PayloadFormatInvalid,
    ]
};

const PUBREL_V5: [v5::PubRelReason; 2] = [
    v5::PubRelReason::Success,
    v5::PubRelReason::PacketIdentifierNotFound,
];

const PUBCOMP_V5: [v5::PubCompReason; 2] = [
    v5::PubCompReason::Success,
    v5::PubCompReason::PacketIdentifierNotFound,
];

const SUBACK_V5: [v5::SubscribeReasonCode; 12] = {
    use v5::SubscribeReasonCode::*;
    [
        QoS0,
        QoS1,
        QoS2,
        Unspecified,
        ImplementationSpecific,
        NotAuthorized,
        TopicFilterInvalid,
        PkidInUse,
        QuotaExceeded,
        SharedSubscriptionsNotSupported,
        SubscriptionIdNotSupported,
        WildcardSubscriptionsNotSupported,
    ]
};

const UNSUBACK_V5: [v5::UnsubAckReason; 7] = {
    use v5::UnsubAckReason::*;
    [
        Success,
        NoSubscriptionExisted,
        UnspecifiedError,
        ImplementationSpecificError,
        NotAuthorized,
        TopicFilterInvalid,
        PacketIdentifierInUse,
    ]
};

const DISCONNECT_V5: [v5::DisconnectReasonCode; 29] = {
    use v5::DisconnectReasonCode::*;
    [
        NormalDisconnection,
        DisconnectWithWillMessage,
        UnspecifiedError,
        MalformedPacket,
        ProtocolError,
        ImplementationSpecificError,
        NotAuthorized,
        ServerBusy,
        ServerShuttingDown,
        KeepAliveTimeout,
        SessionTakenOver,
        TopicFilterInvalid,
        TopicNameInvalid,
        ReceiveMaximumExceeded,
        TopicAliasInvalid,
        PacketTooLarge,
        MessageRateTooHigh,
        QuotaExceeded,
        AdministrativeAction,
        PayloadFormatInvalid,
        RetainNotSupported,
        QoSNotSupported,
        UseAnotherServer,
        ServerMoved,
        SharedSubscriptionNotSupported,
        ConnectionRateExceeded,
        MaximumConnectTime,
        SubscriptionIdentifiersNotSupported,
        WildcardSubscriptionsNotSupported,
    ]
};

/// The element of `codes` whose byte value is `code` (all these enums are `repr(u8)`).
macro_rules! code_of {
    ($codes:expr, $code:expr) => {{
        let code: u8 = $code;
        $codes
            .iter()
            .copied()
            .find(|c| *c as u8 == code)
            .unwrap_or_else(|| panic!("mqttbytes has no code 0x{code:02X}"))
    }};
}

/// The v5 properties of an acknowledgement, in mqttbytes' type `$ty` (all have these fields).
macro_rules! ack_props {
    ($ty:ident, $p:expr) => {{
        let p: &AckProperties = $p;
        if *p == AckProperties::default() {
            None
        } else {
            Some(v5::$ty {
                reason_string: opt_str(&p.reason_string),
                user_properties: users(&p.user_properties),
            })
        }
    }};
}

fn login(c: &Connect) -> (Option<v4::Login>, Option<v5::Login>) {
    if c.username.is_none() && c.password.is_none() {
        return (None, None);
    }
    let u = c
        .username
        .as_ref()
        .map(|u| u.to_string())
        .unwrap_or_default();
    let p = c.password.as_ref().map(utf8).unwrap_or_default();
    (
        Some(v4::Login::new(u.clone(), p.clone())),
        Some(v5::Login::new(u, p)),
    )
}

fn to_v4(p: &Packet) -> v4::Packet {
    match p {
        Packet::Connect(c) => v4::Packet::Connect(v4::Connect {
            protocol: mqttbytes::Protocol::V4,
            keep_alive: c.keep_alive,
            client_id: c.client_id.to_string(),
            clean_session: c.clean_start,
            last_will: c.will.as_ref().map(|w| v4::LastWill {
                topic: w.topic.to_string(),
                message: w.payload.clone(),
                qos: qos_to(w.qos),
                retain: w.retain,
            }),
            login: login(c).0,
        }),
        Packet::ConnAck(a) => v4::Packet::ConnAck(v4::ConnAck::new(
            connect_return_v4(a.code.0),
            a.session_present,
        )),
        Packet::Publish(x) => v4::Packet::Publish(v4::Publish {
            dup: x.dup,
            qos: qos_to(x.qos),
            retain: x.retain,
            topic: x.topic.to_string(),
            pkid: x.packet_id,
            payload: x.payload.clone(),
        }),
        Packet::PubAck(r) => v4::Packet::PubAck(v4::PubAck::new(r.packet_id)),
        Packet::PubRec(r) => v4::Packet::PubRec(v4::PubRec::new(r.packet_id)),
        Packet::PubRel(r) => v4::Packet::PubRel(v4::PubRel::new(r.packet_id)),
        Packet::PubComp(r) => v4::Packet::PubComp(v4::PubComp::new(r.packet_id)),
        Packet::Subscribe(x) => v4::Packet::Subscribe(v4::Subscribe {
            pkid: x.packet_id,
            filters: x
                .filters
                .iter()
                .map(|f| v4::SubscribeFilter::new(f.filter.to_string(), qos_to(f.options.qos)))
                .collect(),
        }),
        Packet::SubAck(a) => v4::Packet::SubAck(v4::SubAck::new(
            a.packet_id,
            a.reasons
                .iter()
                .map(|r| match r.0 {
                    0 => v4::SubscribeReasonCode::Success(mqttbytes::QoS::AtMostOnce),
                    1 => v4::SubscribeReasonCode::Success(mqttbytes::QoS::AtLeastOnce),
                    2 => v4::SubscribeReasonCode::Success(mqttbytes::QoS::ExactlyOnce),
                    0x80 => v4::SubscribeReasonCode::Failure,
                    c => panic!("no 3.1.1 SUBACK code 0x{c:02X}"),
                })
                .collect(),
        )),
        Packet::Unsubscribe(x) => v4::Packet::Unsubscribe(v4::Unsubscribe {
            pkid: x.packet_id,
            topics: x.filters.iter().map(|f| f.to_string()).collect(),
        }),
        Packet::UnsubAck(a) => v4::Packet::UnsubAck(v4::UnsubAck::new(a.packet_id)),
        Packet::PingReq => v4::Packet::PingReq,
        Packet::PingResp => v4::Packet::PingResp,
        Packet::Disconnect(_) => v4::Packet::Disconnect,
        Packet::Auth(_) => unreachable!("AUTH exists in neither 3.1.1 nor mqttbytes"),
    }
}

fn connect_props_v5(p: &ConnectProperties) -> Option<v5::ConnectProperties> {
    (*p != ConnectProperties::default()).then(|| v5::ConnectProperties {
        session_expiry_interval: p.session_expiry_interval,
        receive_maximum: p.receive_maximum,
        max_packet_size: p.maximum_packet_size,
        topic_alias_max: p.topic_alias_maximum,
        request_response_info: flag(p.request_response_information),
        request_problem_info: flag(p.request_problem_information),
        user_properties: users(&p.user_properties),
        authentication_method: opt_str(&p.authentication_method),
        authentication_data: p.authentication_data.clone(),
    })
}

fn will_props_v5(p: &WillProperties) -> Option<v5::WillProperties> {
    (*p != WillProperties::default()).then(|| v5::WillProperties {
        delay_interval: p.will_delay_interval,
        payload_format_indicator: flag(p.payload_format_indicator),
        message_expiry_interval: p.message_expiry_interval,
        content_type: opt_str(&p.content_type),
        response_topic: opt_str(&p.response_topic),
        correlation_data: p.correlation_data.clone(),
        user_properties: users(&p.user_properties),
    })
}

fn connack_props_v5(p: &ConnAckProperties) -> Option<v5::ConnAckProperties> {
    (*p != ConnAckProperties::default()).then(|| v5::ConnAckProperties {
        session_expiry_interval: p.session_expiry_interval,
        receive_max: p.receive_maximum,
        max_qos: p.maximum_qos.map(|q| q as u8),
        retain_available: flag(p.retain_available),
        max_packet_size: p.maximum_packet_size,
        assigned_client_identifier: opt_str(&p.assigned_client_identifier),
        topic_alias_max: p.topic_alias_maximum,
        reason_string: opt_str(&p.reason_string),
        user_properties: users(&p.user_properties),
        wildcard_subscription_available: flag(p.wildcard_subscription_available),
        subscription_identifiers_available: flag(p.subscription_identifiers_available),
        shared_subscription_available: flag(p.shared_subscription_available),
        server_keep_alive: p.server_keep_alive,
        response_information: opt_str(&p.response_information),
        server_reference: opt_str(&p.server_reference),
        authentication_method: opt_str(&p.authentication_method),
        authentication_data: p.authentication_data.clone(),
    })
}

fn publish_props_v5(p: &PublishProperties) -> Option<v5::PublishProperties> {
    (!p.is_empty()).then(|| v5::PublishProperties {
        payload_format_indicator: flag(p.payload_format_indicator),
        message_expiry_interval: p.message_expiry_interval,
        topic_alias: p.topic_alias,
        response_topic: opt_str(&p.response_topic),
        correlation_data: p.correlation_data.clone(),
        user_properties: users(&p.user_properties),
        subscription_identifiers: p
            .subscription_identifiers
            .iter()
            .map(|&i| i as usize)
            .collect(),
        content_type: opt_str(&p.content_type),
    })
}

fn to_v5(p: &Packet) -> v5::Packet {
    match p {
        Packet::Connect(c) => v5::Packet::Connect(v5::Connect {
            protocol: mqttbytes::Protocol::V5,
            keep_alive: c.keep_alive,
            client_id: c.client_id.to_string(),
            clean_session: c.clean_start,
            last_will: c.will.as_ref().map(|w| v5::LastWill {
                topic: w.topic.to_string(),
                message: w.payload.clone(),
                qos: qos_to(w.qos),
                retain: w.retain,
                properties: will_props_v5(&w.properties),
            }),
            login: login(c).1,
            properties: connect_props_v5(&c.properties),
        }),
        Packet::ConnAck(a) => v5::Packet::ConnAck(v5::ConnAck {
            session_present: a.session_present,
            code: code_of!(CONNACK_V5, a.code.0),
            properties: connack_props_v5(&a.properties),
        }),
        Packet::Publish(x) => v5::Packet::Publish(v5::Publish {
            dup: x.dup,
            qos: qos_to(x.qos),
            retain: x.retain,
            topic: x.topic.to_string(),
            pkid: x.packet_id,
            properties: publish_props_v5(&x.properties),
            payload: x.payload.clone(),
        }),
        Packet::PubAck(r) => v5::Packet::PubAck(v5::PubAck {
            pkid: r.packet_id,
            reason: code_of!(PUBACK_V5, r.reason.0),
            properties: ack_props!(PubAckProperties, &r.properties),
        }),
        Packet::PubRec(r) => v5::Packet::PubRec(v5::PubRec {
            pkid: r.packet_id,
            reason: code_of!(PUBREC_V5, r.reason.0),
            properties: ack_props!(PubRecProperties, &r.properties),
        }),
        Packet::PubRel(r) => v5::Packet::PubRel(v5::PubRel {
            pkid: r.packet_id,
            reason: code_of!(PUBREL_V5, r.reason.0),
            properties: ack_props!(PubRelProperties, &r.properties),
        }),
        Packet::PubComp(r) => v5::Packet::PubComp(v5::PubComp {
            pkid: r.packet_id,
            reason: code_of!(PUBCOMP_V5, r.reason.0),
            properties: ack_props!(PubCompProperties, &r.properties),
        }),
        Packet::Subscribe(x) => v5::Packet::Subscribe(v5::Subscribe {
            pkid: x.packet_id,
            filters: x
                .filters
                .iter()
                .map(|f| v5::SubscribeFilter {
                    path: f.filter.to_string(),
                    qos: qos_to(f.options.qos),
                    nolocal: f.options.no_local,
                    preserve_retain: f.options.retain_as_published,
                    retain_forward_rule: match f.options.retain_handling {
                        RetainHandling::OnSubscribe => v5::RetainForwardRule::OnEverySubscribe,
                        RetainHandling::OnNewSubscribe => v5::RetainForwardRule::OnNewSubscribe,
                        RetainHandling::Never => v5::RetainForwardRule::Never,
                    },
                })
                .collect(),
            properties: (x.properties != SubscribeProperties::default()).then(|| {
                v5::SubscribeProperties {
                    id: x.properties.subscription_identifier.map(|i| i as usize),
                    user_properties: users(&x.properties.user_properties),
                }
            }),
        }),
        Packet::SubAck(a) => v5::Packet::SubAck(v5::SubAck {
            pkid: a.packet_id,
            return_codes: a.reasons.iter().map(|r| code_of!(SUBACK_V5, r.0)).collect(),
            properties: ack_props!(SubAckProperties, &a.properties),
        }),
        Packet::Unsubscribe(x) => v5::Packet::Unsubscribe(v5::Unsubscribe {
            pkid: x.packet_id,
            filters: x.filters.iter().map(|f| f.to_string()).collect(),
            properties: (x.properties != UnsubscribeProperties::default()).then(|| {
                v5::UnsubscribeProperties {
                    user_properties: users(&x.properties.user_properties),
                }
            }),
        }),
        Packet::UnsubAck(a) => v5::Packet::UnsubAck(v5::UnsubAck {
            pkid: a.packet_id,
            reasons: a
                .reasons
                .iter()
                .map(|r| code_of!(UNSUBACK_V5, r.0))
                .collect(),
            properties: ack_props!(UnsubAckProperties, &a.properties),
        }),
        Packet::PingReq => v5::Packet::PingReq,
        Packet::PingResp => v5::Packet::PingResp,
        Packet::Disconnect(d) => v5::Packet::Disconnect(v5::Disconnect {
            reason_code: code_of!(DISCONNECT_V5, d.reason.0),
            properties: (d.properties != DisconnectProperties::default()).then(|| {
                v5::DisconnectProperties {
                    session_expiry_interval: d.properties.session_expiry_interval,
                    reason_string: opt_str(&d.properties.reason_string),
                    user_properties: users(&d.properties.user_properties),
                    server_reference: opt_str(&d.properties.server_reference),
                }
            }),
        }),
        Packet::Auth(_) => unreachable!("mqttbytes has no AUTH"),
    }
}

// ---------------------------------------------------------------------------------------------
// Field-by-field comparison. mqttbytes packets derive PartialEq; PUBLISH is compared field by
// field so that a failure names the field and does not print a large payload.
// ---------------------------------------------------------------------------------------------

fn same_payload(got: &Bytes, want: &Bytes, ctx: &str) {
    assert!(
        got == want,
        "{ctx}: payload differs: got {}, want {}",
        hex(got),
        hex(want)
    );
}

fn assert_v4(got: &v4::Packet, want: &v4::Packet, ctx: &str) {
    match (got, want) {
        (v4::Packet::Publish(g), v4::Packet::Publish(w)) => {
            assert_eq!(g.dup, w.dup, "{ctx}: dup");
            assert_eq!(g.qos, w.qos, "{ctx}: qos");
            assert_eq!(g.retain, w.retain, "{ctx}: retain");
            assert_eq!(g.topic, w.topic, "{ctx}: topic");
            assert_eq!(g.pkid, w.pkid, "{ctx}: packet id");
            same_payload(&g.payload, &w.payload, ctx);
        }
        (v4::Packet::Connect(g), v4::Packet::Connect(w)) => {
            assert_eq!(g.protocol, w.protocol, "{ctx}: protocol");
            assert_eq!(g.keep_alive, w.keep_alive, "{ctx}: keep alive");
            assert_eq!(g.client_id, w.client_id, "{ctx}: client id");
            assert_eq!(g.clean_session, w.clean_session, "{ctx}: clean session");
            assert_eq!(g.last_will, w.last_will, "{ctx}: will");
            assert_eq!(g.login, w.login, "{ctx}: login");
        }
        _ => assert_eq!(got, want, "{ctx}"),
    }
}

fn assert_v5(got: &v5::Packet, want: &v5::Packet, ctx: &str) {
    match (got, want) {
        (v5::Packet::Publish(g), v5::Packet::Publish(w)) => {
            assert_eq!(g.dup, w.dup, "{ctx}: dup");
            assert_eq!(g.qos, w.qos, "{ctx}: qos");
            assert_eq!(g.retain, w.retain, "{ctx}: retain");
            assert_eq!(g.topic, w.topic, "{ctx}: topic");
            assert_eq!(g.pkid, w.pkid, "{ctx}: packet id");
            assert_eq!(g.properties, w.properties, "{ctx}: properties");
            same_payload(&g.payload, &w.payload, ctx);
        }
        (v5::Packet::Connect(g), v5::Packet::Connect(w)) => {
            assert_eq!(g.protocol, w.protocol, "{ctx}: protocol");
            assert_eq!(g.keep_alive, w.keep_alive, "{ctx}: keep alive");
            assert_eq!(g.client_id, w.client_id, "{ctx}: client id");
            assert_eq!(g.clean_session, w.clean_session, "{ctx}: clean session");
            assert_eq!(g.properties, w.properties, "{ctx}: properties");
            assert_eq!(g.last_will, w.last_will, "{ctx}: will");
            assert_eq!(g.login, w.login, "{ctx}: login");
        }
        _ => assert_eq!(got, want, "{ctx}"),
    }
}

fn assert_ours(got: &Packet, want: &Packet, ctx: &str) {
    match (got, want) {
        (Packet::Publish(g), Packet::Publish(w)) => {
            assert_eq!(g.dup, w.dup, "{ctx}: dup");
            assert_eq!(g.qos, w.qos, "{ctx}: qos");
            assert_eq!(g.retain, w.retain, "{ctx}: retain");
            assert_eq!(g.topic, w.topic, "{ctx}: topic");
            assert_eq!(g.packet_id, w.packet_id, "{ctx}: packet id");
            assert_eq!(g.properties, w.properties, "{ctx}: properties");
            same_payload(&g.payload, &w.payload, ctx);
        }
        _ => assert_eq!(got, want, "{ctx}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The two checks
// ---------------------------------------------------------------------------------------------

/// Checks one packet against mqttbytes' 3.1.1 codec, framed as `protocol` on our side (3.1 or
/// 3.1.1; CONNECT only as 3.1.1).
fn check_v4(ours: &Packet, protocol: Protocol, ctx: &str) {
    let ctx = format!("{protocol} {} {ctx}", ours.name());
    let theirs = to_v4(ours);

    let our_bytes = encode_ours(ours, protocol);
    assert_v4(
        &read_v4(&our_bytes),
        &theirs,
        &format!("{ctx}, ours -> mqttbytes"),
    );

    let their_bytes = write_v4(&theirs);
    assert_ours(
        &decode_ours(&their_bytes, protocol),
        ours,
        &format!("{ctx}, mqttbytes -> ours"),
    );

    assert!(
        our_bytes == their_bytes,
        "{ctx}: encodings differ:\n ours   {}\n theirs {}",
        hex(&our_bytes),
        hex(&their_bytes)
    );
}

/// Checks one packet against mqttbytes' 5.0 codec.
fn check_v5(ours: &Packet, ctx: &str) {
    let ctx = format!("MQTT 5.0 {} {ctx}", ours.name());
    let theirs = to_v5(ours);

    let our_bytes = encode_ours(ours, Protocol::V5);
    match ours {
        // mqttbytes bug: `v5::read` answers `PayloadRequired` to a DISCONNECT with remaining
        // length 0, which spec 3.14.2.1 allows (reason 0x00, no properties). Its
        // `Disconnect::read` handles that length, so call it directly.
        Packet::Disconnect(_) if our_bytes[..] == [0xE0, 0x00] => {
            let header = mqttbytes::FixedHeader::new(0xE0, 1, 0);
            let got = v5::Disconnect::read(header, our_bytes.clone().freeze())
                .expect("mqttbytes reads E0 00");
            assert_v5(
                &v5::Packet::Disconnect(got),
                &theirs,
                &format!("{ctx}, ours -> mqttbytes"),
            );
        }
        // mqttbytes bug: a DISCONNECT holding only a reason code (remaining length 1, allowed by
        // spec 3.14.2.2.1) makes it read a property length past the end (InsufficientBytes).
        // Skipped in this direction only.
        Packet::Disconnect(_) if our_bytes[1] == 1 => {}
        _ => assert_v5(
            &read_v5(&our_bytes),
            &theirs,
            &format!("{ctx}, ours -> mqttbytes"),
        ),
    }

    let their_bytes = write_v5(&theirs);
    assert_ours(
        &decode_ours(&their_bytes, Protocol::V5),
        ours,
        &format!("{ctx}, mqttbytes -> ours"),
    );

    assert!(
        our_bytes == their_bytes,
        "{ctx}: encodings differ:\n ours   {}\n theirs {}",
        hex(&our_bytes),
        hex(&their_bytes)
    );
}

/// Every version mqttbytes can check a non-CONNECT packet in.
fn check_all(ours: &Packet, ctx: &str) {
    check_v4(ours, Protocol::V3_1, ctx);
    check_v4(ours, Protocol::V3_1_1, ctx);
    check_v5(ours, ctx);
}

// ---------------------------------------------------------------------------------------------
// Case generators
// ---------------------------------------------------------------------------------------------

const TOPICS: &[&str] = &[
    "a",
    "a/b/c",
    "sport/tennis/player1/ranking",
    "/leading/slash",
    "$SYS/broker/load",
    "ünïcödé/✓/日本",
    "trailing/",
];

/// Payload sizes around the remaining-length boundaries (1, 2, 3 and 4 bytes).
const PAYLOAD_SIZES: &[usize] = &[0, 1, 16, 100, 127, 128, 1024, 16_383, 16_384, 70_000];

const QOS: [QoS; 3] = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce];

const PACKET_IDS: &[u16] = &[1, 2, 127, 128, 255, 256, 0x7FFF, 0xFFFE, 0xFFFF];

fn payload(n: usize, seed: usize) -> Bytes {
    Bytes::from(
        (0..n)
            .map(|i| (i.wrapping_mul(31).wrapping_add(seed * 7) % 251) as u8)
            .collect::<Vec<u8>>(),
    )
}

fn user_props(n: usize) -> Vec<UserProperty> {
    (0..n)
        .map(|i| {
            (
                s(&format!("key-{i}")),
                s(if i % 2 == 0 { "value" } else { "ünï ✓" }),
            )
        })
        .collect()
}

fn ack_props(i: usize) -> AckProperties {
    match i % 4 {
        0 => AckProperties::default(),
        1 => AckProperties {
            reason_string: Some(s("a reason")),
            user_properties: vec![],
        },
        2 => AckProperties {
            reason_string: None,
            user_properties: user_props(2),
        },
        _ => AckProperties {
            reason_string: Some(s("both")),
            user_properties: user_props(3),
        },
    }
}

fn publishes() -> Vec<Publish> {
    let mut out = Vec::new();
    let mut n = 0usize;
    for topic in TOPICS {
        for &size in PAYLOAD_SIZES {
            for qos in QOS {
                n += 1;
                let mut p = Publish::new(*topic, qos, payload(size, n));
                p.retain = n.is_multiple_of(2);
                if qos != QoS::AtMostOnce {
                    p.packet_id = PACKET_IDS[n % PACKET_IDS.len()];
                    p.dup = n.is_multiple_of(3);
                }
                out.push(p);
            }
        }
    }
    // A long topic (two-byte length > 255) and a payload that needs a 4-byte remaining length.
    let mut p = Publish::new(
        "x".repeat(300).as_str(),
        QoS::AtLeastOnce,
        payload(2_100_000, 1),
    );
    p.packet_id = 9;
    out.push(p);
    out
}

fn publish_properties(i: usize) -> PublishProperties {
    match i % 6 {
        0 => PublishProperties::default(),
        1 => PublishProperties {
            payload_format_indicator: Some(true),
            message_expiry_interval: Some(3600),
            ..Default::default()
        },
        2 => PublishProperties {
            payload_format_indicator: Some(false),
            topic_alias: Some(1),
            content_type: Some(s("application/json")),
            ..Default::default()
        },
        3 => PublishProperties {
            response_topic: Some(s("reply/to/me")),
            correlation_data: Some(Bytes::from_static(&[0, 1, 2, 0xFF])),
            user_properties: user_props(3),
            ..Default::default()
        },
        // Five identifiers at most: see the subscription identifier bug in
        // `mqttbytes_known_divergences`.
        4 => PublishProperties {
            subscription_identifiers: vec![1, 16_383, 16_384, 2_097_152, 268_435_455],
            ..Default::default()
        },
        _ => PublishProperties {
            payload_format_indicator: Some(true),
            message_expiry_interval: Some(u32::MAX),
            topic_alias: Some(u16::MAX),
            response_topic: Some(s("r")),
            correlation_data: Some(Bytes::new()),
            user_properties: user_props(1),
            subscription_identifiers: vec![42],
            content_type: Some(s("")),
        },
    }
}

fn connects(protocol: Protocol) -> Vec<Connect> {
    let v5 = protocol.is_v5();
    let mut out = Vec::new();
    for (i, client_id) in ["", "c", "client-0123456789", "ünï✓"].iter().enumerate() {
        for will_case in 0..4 {
            for login_case in 0..(if v5 { 4 } else { 3 }) {
                let n = i * 16 + will_case * 4 + login_case;
                let mut c = Connect::new(protocol, *client_id);
                c.clean_start = n % 2 == 0;
                c.keep_alive = [0, 1, 60, u16::MAX][n % 4];
                c.will = match will_case {
                    0 => None,
                    _ => Some(LastWill {
                        topic: s(TOPICS[n % TOPICS.len()]),
                        payload: payload([0, 5, 300][will_case - 1], n),
                        qos: QOS[will_case - 1],
                        retain: will_case == 2,
                        properties: if v5 {
                            will_properties(n)
                        } else {
                            WillProperties::default()
                        },
                    }),
                };
                // Empty strings are avoided: mqttbytes cannot tell them from absent ones.
                (c.username, c.password) = match login_case {
                    0 => (None, None),
                    1 => (Some(s("user")), None),
                    2 => (
                        Some(s("ünï user")),
                        Some(Bytes::from_static("pässword".as_bytes())),
                    ),
                    // Password without user name: allowed in 5.0 only [MQTT-3.1.2-22].
                    _ => (None, Some(Bytes::from_static(b"secret"))),
                };
                if v5 {
                    c.properties = connect_properties(n);
                }
                out.push(c);
            }
        }
    }
    out
}

fn connect_properties(i: usize) -> ConnectProperties {
    match i % 4 {
        0 => ConnectProperties::default(),
        1 => ConnectProperties {
            session_expiry_interval: Some(0xFFFF_FFFF),
            receive_maximum: Some(1),
            ..Default::default()
        },
        2 => ConnectProperties {
            maximum_packet_size: Some(268_435_460),
            topic_alias_maximum: Some(0),
            request_response_information: Some(true),
            request_problem_information: Some(false),
            ..Default::default()
        },
        _ => ConnectProperties {
            session_expiry_interval: Some(30),
            receive_maximum: Some(u16::MAX),
            maximum_packet_size: Some(1),
            topic_alias_maximum: Some(10),
            request_response_information: Some(false),
            request_problem_information: Some(true),
            user_properties: user_props(2),
            authentication_method: Some(s("SCRAM-SHA-1")),
            authentication_data: Some(Bytes::from_static(b"\x00client-first\xFF")),
        },
    }
}

fn will_properties(i: usize) -> WillProperties {
    match i % 3 {
        0 => WillProperties::default(),
        1 => WillProperties {
            will_delay_interval: Some(10),
            payload_format_indicator: Some(true),
            message_expiry_interval: Some(100),
            ..Default::default()
        },
        _ => WillProperties {
            will_delay_interval: Some(0),
            payload_format_indicator: Some(false),
            message_expiry_interval: Some(u32::MAX),
            content_type: Some(s("text/plain")),
            response_topic: Some(s("will/response")),
            correlation_data: Some(Bytes::from_static(b"corr")),
            user_properties: user_props(2),
        },
    }
}

fn connack_properties(i: usize) -> ConnAckProperties {
    match i % 4 {
        0 => ConnAckProperties::default(),
        1 => ConnAckProperties {
            session_expiry_interval: Some(120),
            receive_maximum: Some(100),
            maximum_qos: Some(QoS::AtMostOnce),
            ..Default::default()
        },
        2 => ConnAckProperties {
            maximum_qos: Some(QoS::AtLeastOnce),
            retain_available: Some(false),
            maximum_packet_size: Some(1 << 20),
            assigned_client_identifier: Some(s("auto-7F3A")),
            topic_alias_maximum: Some(16),
            reason_string: Some(s("welcome")),
            ..Default::default()
        },
        _ => ConnAckProperties {
            session_expiry_interval: Some(0),
            receive_maximum: Some(u16::MAX),
            maximum_qos: None,
            retain_available: Some(true),
            maximum_packet_size: Some(u32::MAX),
            assigned_client_identifier: None,
            topic_alias_maximum: Some(0),
            reason_string: None,
            user_properties: user_props(3),
            wildcard_subscription_available: Some(true),
            subscription_identifiers_available: Some(false),
            shared_subscription_available: Some(true),
            server_keep_alive: Some(15),
            response_information: Some(s("resp/info")),
            server_reference: Some(s("other.example:1883")),
            authentication_method: Some(s("SCRAM-SHA-1")),
            authentication_data: Some(Bytes::from_static(b"server-final")),
        },
    }
}

const FILTERS: &[&str] = &[
    "a/b",
    "a/+/c",
    "#",
    "+",
    "sport/#",
    "$share/group/a/+",
    "$SYS/#",
    "ünï/+/✓",
];

fn subscriptions(v5: bool) -> Vec<Subscribe> {
    let mut out = Vec::new();
    for count in 1..=FILTERS.len() {
        for variant in 0..3 {
            let n = count * 3 + variant;
            let filters = FILTERS
                .iter()
                .cycle()
                .skip(n)
                .take(count)
                .enumerate()
                .map(|(j, f)| {
                    let k = n + j;
                    let options = if v5 {
                        SubscriptionOptions {
                            qos: QOS[k % 3],
                            // No Local on a shared subscription is a protocol error [MQTT-3.8.3-4].
                            no_local: k % 2 == 0 && !f.starts_with("$share/"),
                            retain_as_published: k % 3 == 0,
                            retain_handling: [
                                RetainHandling::OnSubscribe,
                                RetainHandling::OnNewSubscribe,
                                RetainHandling::Never,
                            ][(k / 2) % 3],
                        }
                    } else {
                        SubscriptionOptions::qos(QOS[k % 3])
                    };
                    SubscribeFilter {
                        filter: s(f),
                        options,
                    }
                })
                .collect();
            let properties = match (v5, variant) {
                (false, _) | (true, 0) => SubscribeProperties::default(),
                (true, 1) => SubscribeProperties {
                    subscription_identifier: Some([1, 127, 128, 268_435_455][count % 4]),
                    user_properties: vec![],
                },
                (true, _) => SubscribeProperties {
                    subscription_identifier: Some(16_384),
                    user_properties: user_props(2),
                },
            };
            out.push(Subscribe {
                packet_id: PACKET_IDS[n % PACKET_IDS.len()],
                filters,
                properties,
            });
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[test]
fn connect_v3_1_1() {
    let cases = connects(Protocol::V3_1_1);
    assert_eq!(cases.len(), 48);
    for (i, c) in cases.iter().enumerate() {
        // MQTT 3.1 CONNECT ("MQIsdp", level 3) is skipped: mqttbytes rejects it (InvalidProtocol).
        check_v4(
            &Packet::Connect(Box::new(c.clone())),
            Protocol::V3_1_1,
            &format!("case {i}"),
        );
    }
}

#[test]
fn connect_v5_with_properties() {
    let cases = connects(Protocol::V5);
    assert_eq!(cases.len(), 64);
    for (i, c) in cases.iter().enumerate() {
        check_v5(&Packet::Connect(Box::new(c.clone())), &format!("case {i}"));
    }
}

#[test]
fn connack_all_return_codes() {
    for code in 0..=5u8 {
        for present in [false, true] {
            // A refused connection never has a session [MQTT-3.2.2-4]; we reject the pair.
            if present && code != 0 {
                continue;
            }
            let p = Packet::ConnAck(ConnAck::new(ReasonCode(code), present));
            // MQTT 3.1 has no session present flag: only the 3.1.1 framing carries it.
            if !present {
                check_v4(&p, Protocol::V3_1, &format!("code {code}"));
            }
            check_v4(
                &p,
                Protocol::V3_1_1,
                &format!("code {code} present {present}"),
            );
        }
    }
    for (i, code) in CONNACK_V5.iter().enumerate() {
        for present in [false, true] {
            if present && *code as u8 != 0 {
                continue;
            }
            for props in 0..4 {
                let ack = ConnAck {
                    session_present: present,
                    code: ReasonCode(*code as u8),
                    properties: connack_properties(i + props),
                };
                check_v5(
                    &Packet::ConnAck(ack),
                    &format!("{code:?} present {present} properties {props}"),
                );
            }
        }
    }
}

#[test]
fn publish_topics_payload_sizes_qos() {
    let cases = publishes();
    assert!(cases.len() > 200);
    for (i, p) in cases.iter().enumerate() {
        let ctx = format!(
            "case {i} topic {:?} qos {:?} payload {}",
            p.topic,
            p.qos,
            p.payload.len()
        );
        check_v4(&Packet::Publish(p.clone()), Protocol::V3_1, &ctx);
        check_v4(&Packet::Publish(p.clone()), Protocol::V3_1_1, &ctx);
        let mut p5 = p.clone();
        p5.properties = publish_properties(i);
        check_v5(&Packet::Publish(p5), &ctx);
    }
}

#[test]
fn publish_v5_empty_topic_with_alias() {
    for qos in QOS {
        let mut p = Publish::new("", qos, payload(10, 3));
        p.packet_id = if qos == QoS::AtMostOnce { 0 } else { 77 };
        p.properties.topic_alias = Some(5);
        check_v5(&Packet::Publish(p), &format!("{qos:?}"));
    }
}

#[test]
fn publish_replies() {
    for (i, &id) in PACKET_IDS.iter().enumerate() {
        for (name, make) in [
            ("PUBACK", Packet::PubAck as fn(PubReply) -> Packet),
            ("PUBREC", Packet::PubRec),
            ("PUBREL", Packet::PubRel),
            ("PUBCOMP", Packet::PubComp),
        ] {
            check_v4(&make(PubReply::new(id)), Protocol::V3_1, name);
            check_v4(&make(PubReply::new(id)), Protocol::V3_1_1, name);
            let codes: Vec<u8> = match name {
                "PUBACK" => PUBACK_V5.iter().map(|c| *c as u8).collect(),
                "PUBREC" => PUBREC_V5.iter().map(|c| *c as u8).collect(),
                "PUBREL" => PUBREL_V5.iter().map(|c| *c as u8).collect(),
                _ => PUBCOMP_V5.iter().map(|c| *c as u8).collect(),
            };
            for (j, &code) in codes.iter().enumerate() {
                for props in 0..4 {
                    let reply = PubReply {
                        packet_id: id,
                        reason: ReasonCode(code),
                        properties: ack_props(i + j + props),
                    };
                    check_v5(
                        &make(reply),
                        &format!("id {id} code 0x{code:02X} properties {props}"),
                    );
                }
            }
        }
    }
}

#[test]
fn subscribe_many_filters_and_options() {
    let cases = subscriptions(false);
    for (i, sub) in cases.iter().enumerate() {
        check_v4(
            &Packet::Subscribe(sub.clone()),
            Protocol::V3_1,
            &format!("case {i}"),
        );
        check_v4(
            &Packet::Subscribe(sub.clone()),
            Protocol::V3_1_1,
            &format!("case {i}"),
        );
    }
    for (i, sub) in subscriptions(true).iter().enumerate() {
        check_v5(&Packet::Subscribe(sub.clone()), &format!("case {i}"));
    }
    // Every v5 options byte we accept: 3 QoS x no local x retain as published x 3 handlings.
    let mut n = 0;
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
                    check_v5(
                        &Packet::Subscribe(Subscribe::new(7, "t/#", options)),
                        &format!("{options:?}"),
                    );
                    n += 1;
                }
            }
        }
    }
    assert_eq!(n, 36);
}

#[test]
fn suback_all_codes() {
    let v3_codes = [0u8, 1, 2, 0x80];
    for (i, &id) in PACKET_IDS.iter().enumerate() {
        for count in 1..=v3_codes.len() {
            let reasons = v3_codes
                .iter()
                .cycle()
                .skip(i)
                .take(count)
                .map(|&c| ReasonCode(c))
                .collect();
            let ack = Packet::SubAck(SubAck {
                packet_id: id,
                reasons,
                properties: AckProperties::default(),
            });
            check_v4(&ack, Protocol::V3_1, &format!("{count} codes"));
            check_v4(&ack, Protocol::V3_1_1, &format!("{count} codes"));
        }
        for count in [1, 3, SUBACK_V5.len()] {
            let reasons = SUBACK_V5
                .iter()
                .cycle()
                .skip(i)
                .take(count)
                .map(|&c| ReasonCode(c as u8))
                .collect();
            let ack = SubAck {
                packet_id: id,
                reasons,
                properties: ack_props(i + count),
            };
            check_v5(&Packet::SubAck(ack), &format!("id {id}, {count} codes"));
        }
    }
}

#[test]
fn unsubscribe_and_unsuback() {
    for (i, &id) in PACKET_IDS.iter().enumerate() {
        for count in 1..=4 {
            let filters: Vec<MqttString> = FILTERS
                .iter()
                .cycle()
                .skip(i)
                .take(count)
                .map(|f| s(f))
                .collect();
            let unsub = Unsubscribe {
                packet_id: id,
                filters: filters.clone(),
                properties: UnsubscribeProperties::default(),
            };
            check_v4(
                &Packet::Unsubscribe(unsub.clone()),
                Protocol::V3_1,
                &format!("{count} filters"),
            );
            check_v4(
                &Packet::Unsubscribe(unsub.clone()),
                Protocol::V3_1_1,
                &format!("{count} filters"),
            );
            let properties = UnsubscribeProperties {
                user_properties: user_props((i + count) % 3),
            };
            check_v5(
                &Packet::Unsubscribe(Unsubscribe {
                    properties,
                    ..unsub
                }),
                &format!("{count} filters"),
            );

            let reasons = UNSUBACK_V5
                .iter()
                .cycle()
                .skip(i)
                .take(count)
                .map(|&c| ReasonCode(c as u8))
                .collect();
            check_v5(
                &Packet::UnsubAck(UnsubAck {
                    packet_id: id,
                    reasons,
                    properties: ack_props(i + count),
                }),
                &format!("{count} codes"),
            );
        }
        let ack = Packet::UnsubAck(UnsubAck {
            packet_id: id,
            ..UnsubAck::default()
        });
        check_v4(&ack, Protocol::V3_1, "");
        check_v4(&ack, Protocol::V3_1_1, "");
    }
}

#[test]
fn ping_and_v3_disconnect() {
    check_all(&Packet::PingReq, "");
    check_all(&Packet::PingResp, "");
    check_v4(
        &Packet::Disconnect(Disconnect::default()),
        Protocol::V3_1,
        "",
    );
    check_v4(
        &Packet::Disconnect(Disconnect::default()),
        Protocol::V3_1_1,
        "",
    );
}

#[test]
fn disconnect_v5_all_reasons_and_properties() {
    let props = [
        DisconnectProperties::default(),
        DisconnectProperties {
            session_expiry_interval: Some(0),
            ..Default::default()
        },
        DisconnectProperties {
            reason_string: Some(s("shutting down")),
            server_reference: Some(s("b.example")),
            ..Default::default()
        },
        DisconnectProperties {
            session_expiry_interval: Some(u32::MAX),
            reason_string: Some(s("ünï")),
            user_properties: user_props(2),
            server_reference: Some(s("c.example:8883")),
        },
    ];
    for code in DISCONNECT_V5 {
        for (j, p) in props.iter().enumerate() {
            let d = Disconnect {
                reason: ReasonCode(code as u8),
                properties: p.clone(),
            };
            check_v5(&Packet::Disconnect(d), &format!("{code:?} properties {j}"));
        }
    }
}

/// Pins down each known difference between mqttbytes 0.6.0 and us, so the skips above stay
/// justified: if mqttbytes were fixed, or we changed, this test says so.
#[test]
fn mqttbytes_known_divergences() {
    let reject4 = |b: &[u8]| v4::read(&mut BytesMut::from(b), MAX).err();
    let reject5 = |b: &[u8]| v5::read(&mut BytesMut::from(b), MAX).err();
    let ours = |b: &[u8], p: Protocol| decode(&mut BytesMut::from(b), p, MAX);

    // No AUTH (type 15) in mqttbytes.
    let mut auth = BytesMut::new();
    Packet::Auth(comqtt::mqtt::Auth {
        reason: ReasonCode::CONTINUE_AUTHENTICATION,
        ..Default::default()
    })
    .encode(Protocol::V5, &mut auth)
    .unwrap();
    assert_eq!(
        reject5(&auth),
        Some(mqttbytes::Error::InvalidPacketType(15))
    );
    assert!(matches!(
        ours(&auth, Protocol::V5),
        Ok(Some(Packet::Auth(_)))
    ));

    // MQTT 3.1 CONNECT ("MQIsdp", level 3) is not supported by mqttbytes.
    let connect31 = encode_ours(
        &Packet::Connect(Box::new(Connect::new(Protocol::V3_1, "c"))),
        Protocol::V3_1,
    );
    assert_eq!(reject4(&connect31), Some(mqttbytes::Error::InvalidProtocol));
    assert!(
        matches!(ours(&connect31, Protocol::V3_1), Ok(Some(Packet::Connect(c))) if c.protocol == Protocol::V3_1)
    );

    // v5 DISCONNECT with remaining length 0 (spec 3.14.2.1) is rejected by `v5::read`.
    assert_eq!(
        reject5(&[0xE0, 0x00]),
        Some(mqttbytes::Error::PayloadRequired)
    );
    assert_eq!(
        ours(&[0xE0, 0x00], Protocol::V5),
        Ok(Some(Packet::Disconnect(Disconnect::default())))
    );

    // v5 DISCONNECT with a reason code and no property length (spec 3.14.2.2.1) is rejected.
    assert_eq!(
        reject5(&[0xE0, 0x01, 0x04]),
        Some(mqttbytes::Error::InsufficientBytes(1))
    );
    assert_eq!(
        ours(&[0xE0, 0x01, 0x04], Protocol::V5),
        Ok(Some(Packet::Disconnect(Disconnect::new(ReasonCode(4)))))
    );

    // v5 CONNACK with `properties: None` is written without a property length: malformed.
    let mut connack = BytesMut::new();
    v5::ConnAck::new(v5::ConnectReturnCode::Success, false)
        .write(&mut connack)
        .unwrap();
    assert_eq!(&connack[..], [0x20, 0x02, 0x00, 0x00]);
    assert!(
        matches!(ours(&connack, Protocol::V5), Err(e) if e.reason_code() == ReasonCode::MALFORMED_PACKET)
    );

    // Present but empty user name / password: mqttbytes reads "no login".
    let mut c = Connect::new(Protocol::V3_1_1, "c");
    c.username = Some(s(""));
    c.password = Some(Bytes::new());
    let bytes = encode_ours(&Packet::Connect(Box::new(c.clone())), Protocol::V3_1_1);
    assert!(matches!(read_v4(&bytes), v4::Packet::Connect(x) if x.login.is_none()));
    assert_eq!(
        decode_ours(&bytes, Protocol::V3_1_1),
        Packet::Connect(Box::new(c))
    );

    // A binary password that is not UTF-8 (spec 3.1.3.5: binary data) is rejected.
    let mut c = Connect::new(Protocol::V5, "c");
    c.username = Some(s("u"));
    c.password = Some(Bytes::from_static(&[0xFF, 0xFE]));
    let bytes = encode_ours(&Packet::Connect(Box::new(c.clone())), Protocol::V5);
    assert_eq!(reject5(&bytes), Some(mqttbytes::Error::TopicNotUtf8));
    assert_eq!(
        decode_ours(&bytes, Protocol::V5),
        Packet::Connect(Box::new(c))
    );

    // Subscription identifiers are counted one byte too long (the identifier byte twice), so
    // after enough of them the property loop stops early and the rest becomes payload.
    let mut p = Publish::new("a", QoS::AtMostOnce, Bytes::from_static(b"x"));
    p.properties.subscription_identifiers =
        vec![1, 127, 128, 16_383, 16_384, 2_097_152, 268_435_455];
    let bytes = encode_ours(&Packet::Publish(p.clone()), Protocol::V5);
    let v5::Packet::Publish(theirs) = read_v5(&bytes) else {
        panic!("not a PUBLISH")
    };
    assert_eq!(
        theirs.properties.unwrap().subscription_identifiers,
        [1, 127, 128, 16_383, 16_384, 2_097_152]
    );
    assert_eq!(&theirs.payload[..], [0x0B, 0xFF, 0xFF, 0xFF, 0x7F, b'x']);
    assert_eq!(decode_ours(&bytes, Protocol::V5), Packet::Publish(p));

    // mqttbytes validates little; each of these is malformed or a protocol error for us.
    let invalid_v4: &[(&str, &[u8])] = &[
        (
            "password without user name [MQTT-3.1.2-22]",
            &[
                0x10, 0x10, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x42, 0, 60, 0, 1, b'c', 0, 1, b'p',
            ],
        ),
        (
            "CONNECT reserved flag [MQTT-3.1.2-3]",
            &[
                0x10, 0x0D, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x03, 0, 60, 0, 1, b'c',
            ],
        ),
        (
            "DUP on QoS 0 [MQTT-3.3.1-2]",
            &[0x38, 0x04, 0, 1, b'a', b'x'],
        ),
        (
            "wildcard in a topic name [MQTT-3.3.2-2]",
            &[0x30, 0x04, 0, 1, b'#', b'x'],
        ),
        (
            "non-minimal remaining length [MQTT-1.5.5-1]",
            &[0x30, 0x84, 0x00, 0, 1, b'a', b'x'],
        ),
        (
            "SUBSCRIBE reserved header flags [MQTT-3.8.1-1]",
            &[0x80, 0x06, 0, 1, 0, 1, b'a', 0],
        ),
        (
            "SUBSCRIBE reserved option bits [MQTT-3-8.3-4]",
            &[0x82, 0x06, 0, 1, 0, 1, b'a', 0x04],
        ),
        (
            "SUBSCRIBE without a filter [MQTT-3.8.3-3]",
            &[0x82, 0x02, 0, 1],
        ),
        (
            "UNSUBSCRIBE packet identifier 0 [MQTT-2.3.1-1]",
            &[0xA2, 0x05, 0, 0, 0, 1, b'a'],
        ),
        (
            "PUBREL reserved header flags [MQTT-3.6.1-1]",
            &[0x60, 0x02, 0, 1],
        ),
        (
            "CONNACK reserved flags [MQTT-3.2.2-1]",
            &[0x20, 0x02, 0x02, 0x00],
        ),
        (
            "U+0000 in a topic name [MQTT-1.5.3-2]",
            &[0x30, 0x05, 0, 2, b'a', 0, b'x'],
        ),
    ];
    for (what, bytes) in invalid_v4 {
        assert!(reject4(bytes).is_none(), "mqttbytes now rejects {what}");
        assert!(ours(bytes, Protocol::V3_1_1).is_err(), "we accept {what}");
    }
    let invalid_v5: &[(&str, &[u8])] = &[
        (
            "topic alias 0 [MQTT-3.3.2-8]",
            &[0x30, 0x07, 0, 1, b'a', 3, 0x23, 0, 0],
        ),
        (
            "repeated message expiry interval",
            &[
                0x30, 0x0E, 0, 1, b'a', 10, 0x02, 0, 0, 0, 1, 0x02, 0, 0, 0, 2,
            ],
        ),
        (
            "payload format indicator 2",
            &[0x30, 0x06, 0, 1, b'a', 2, 0x01, 2],
        ),
        (
            "subscription identifier 0 in SUBSCRIBE",
            &[0x82, 0x09, 0, 1, 2, 0x0B, 0, 0, 1, b'a', 0],
        ),
        (
            "maximum QoS 2 in CONNACK [MQTT-3.2.2-9]",
            &[0x20, 0x05, 0, 0, 2, 0x24, 2],
        ),
        (
            "receive maximum 0 in CONNACK",
            &[0x20, 0x06, 0, 0, 3, 0x21, 0, 0],
        ),
        (
            "session present with a refused connection [MQTT-3.2.2-6]",
            &[0x20, 0x03, 0x01, 0x80, 0x00],
        ),
    ];
    for (what, bytes) in invalid_v5 {
        assert!(reject5(bytes).is_none(), "mqttbytes now rejects {what}");
        assert!(ours(bytes, Protocol::V5).is_err(), "we accept {what}");
    }
}
