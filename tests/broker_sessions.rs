//! CONNECT / CONNACK and sessions: the CONNECT handshake rules, clean session / clean start
//! and session present, client identifiers, unsupported protocol levels, session takeover,
//! session expiry, keep alive, enhanced authentication refusal and MQTT 3.1 clients.
//! Each test runs against `comqtt serve` as a real process.

mod common;

use std::time::{Duration, Instant};

use common::client::WAIT;
use common::{BrokerProcess, TestClient};
use comqtt::mqtt::{ConnAck, Connect, Disconnect, Packet, Protocol, QoS, ReasonCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BOTH: [Protocol; 2] = [Protocol::V3_1_1, Protocol::V5];

/// A CONNECT that asks to keep the session: clean session 0 (3.x), or clean start 0 and a
/// session expiry interval (v5).
fn persistent(protocol: Protocol, client_id: &str, expiry: u32) -> Connect {
    let mut c = Connect::new(protocol, client_id);
    c.clean_start = false;
    c.properties.session_expiry_interval = protocol.is_v5().then_some(expiry);
    c
}

/// Connects and asserts the CONNACK is a success.
async fn connect_ok(addr: &str, connect: Connect) -> (TestClient, ConnAck) {
    let (c, ack) = TestClient::connect_with(addr, connect).await;
    assert_eq!(ack.code, ReasonCode::SUCCESS, "CONNACK {ack:?}");
    (c, ack)
}

/// Sends raw bytes on a fresh connection and returns everything the broker sent until it
/// closed the connection (panics if it stays open).
async fn raw_exchange(addr: &str, bytes: &[u8]) -> Vec<u8> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(bytes).await.expect("write");
    let mut got = Vec::new();
    match tokio::time::timeout(WAIT, stream.read_to_end(&mut got)).await {
        Ok(_) => got,
        Err(_) => panic!("the broker kept the connection open; it sent {got:02x?}"),
    }
}

/// Publishes `payload` on `topic` from a throw-away client.
async fn publish_from(addr: &str, protocol: Protocol, topic: &str, payload: &[u8], qos: QoS) {
    let mut p = TestClient::connect(addr, protocol, "throwaway-publisher").await;
    p.publish(topic, payload, qos, false, 1).await;
    p.disconnect().await;
}

#[tokio::test]
async fn first_packet_that_is_not_connect_closes_the_connection_without_a_reply_mqtt_3_1_0_1() {
    let broker = BrokerProcess::start(&[]);
    let cases: [(&str, &[u8]); 4] = [
        ("PINGREQ", &[0xC0, 0x00]),
        (
            "SUBSCRIBE",
            &[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x00],
        ),
        ("PUBLISH", &[0x30, 0x03, 0x00, 0x01, b'a']),
        // A PUBLISH whose payload byte sits where a CONNECT has its protocol level (5): it
        // must not be mistaken for a v5 CONNECT and answered with a CONNACK.
        (
            "PUBLISH looking like level 5",
            &[
                0x30, 0x09, 0x00, 0x01, b'a', 0x05, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
            ],
        ),
    ];
    for (what, bytes) in cases {
        let got = raw_exchange(&broker.addr(), bytes).await;
        assert!(
            got.is_empty(),
            "first packet {what}: the broker answered {got:02x?} before closing"
        );
    }
    // The broker still serves well-behaved clients.
    TestClient::connect(&broker.addr(), Protocol::V5, "after")
        .await
        .disconnect()
        .await;
}

#[tokio::test]
async fn second_connect_is_a_protocol_error_mqtt_3_1_0_2() {
    let broker = BrokerProcess::start(&[]);
    for protocol in [Protocol::V3_1, Protocol::V3_1_1, Protocol::V5] {
        let mut c = TestClient::connect(&broker.addr(), protocol, "twice").await;
        c.send(Packet::Connect(Box::new(Connect::new(protocol, "twice"))))
            .await;
        let reason = c.expect_disconnect().await;
        if protocol.is_v5() {
            assert_eq!(
                reason,
                Some(ReasonCode::PROTOCOL_ERROR),
                "v5: DISCONNECT 0x82"
            );
        } else {
            assert_eq!(reason, None, "{protocol}: closed without a packet");
        }
    }
}

#[tokio::test]
async fn clean_session_discards_the_session_and_session_present_is_0_mqtt_3_2_2_1() {
    let broker = BrokerProcess::start(&[]);
    for protocol in BOTH {
        let id = format!("clean-{}", protocol.level());
        let (mut c, _) = connect_ok(&broker.addr(), persistent(protocol, &id, 300)).await;
        c.subscribe_qos(1, "clean/t", QoS::AtLeastOnce).await;
        c.disconnect().await;

        let (mut c, ack) = connect_ok(&broker.addr(), Connect::new(protocol, &*id)).await;
        assert!(
            !ack.session_present,
            "{protocol}: clean session/start 1 must report session present 0"
        );
        publish_from(
            &broker.addr(),
            protocol,
            "clean/t",
            b"old subscription",
            QoS::AtLeastOnce,
        )
        .await;
        c.expect_nothing(Duration::from_millis(300)).await;
        c.disconnect().await;

        // In 3.1.1 a clean session ends with its connection; in v5 without an expiry too.
        let (c, ack) = connect_ok(&broker.addr(), persistent(protocol, &id, 0)).await;
        assert!(
            !ack.session_present,
            "{protocol}: a clean session is not kept after the connection"
        );
        c.disconnect().await;
    }
}

#[tokio::test]
async fn session_present_is_0_for_a_new_and_1_for_a_stored_session_mqtt_3_2_2_2_and_3() {
    let broker = BrokerProcess::start(&[]);
    for protocol in BOTH {
        let id = format!("present-{}", protocol.level());
        let (mut c, ack) = connect_ok(&broker.addr(), persistent(protocol, &id, 300)).await;
        assert!(
            !ack.session_present,
            "{protocol}: [MQTT-3.2.2-3] no stored session yet"
        );
        c.subscribe_qos(1, "present/t", QoS::AtLeastOnce).await;
        c.disconnect().await;

        let (mut c, ack) = connect_ok(&broker.addr(), persistent(protocol, &id, 300)).await;
        assert!(
            ack.session_present,
            "{protocol}: [MQTT-3.2.2-2] stored session resumed"
        );
        publish_from(
            &broker.addr(),
            protocol,
            "present/t",
            b"kept",
            QoS::AtLeastOnce,
        )
        .await;
        let p = c.expect_publish_acked().await;
        assert_eq!(
            (&p.topic[..], &p.payload[..]),
            ("present/t", &b"kept"[..]),
            "{protocol}: subscription kept"
        );
        c.disconnect().await;
    }
}

#[tokio::test]
async fn empty_client_id_with_clean_session_gets_a_unique_identifier_mqtt_3_1_3_6() {
    let broker = BrokerProcess::start(&[]);
    for protocol in BOTH {
        let (mut a, ack_a) = connect_ok(&broker.addr(), Connect::new(protocol, "")).await;
        let (mut b, ack_b) = connect_ok(&broker.addr(), Connect::new(protocol, "")).await;
        assert!(!ack_a.session_present && !ack_b.session_present);
        // Had both been given the same identifier, the second would have taken over the first.
        a.subscribe_qos(1, "anon/t", QoS::AtMostOnce).await;
        b.publish("anon/t", b"hello", QoS::AtLeastOnce, false, 1)
            .await;
        assert_eq!(
            &a.expect_publish().await.payload[..],
            b"hello",
            "{protocol}"
        );
        a.disconnect().await;
        b.disconnect().await;
    }
}

#[tokio::test]
async fn v3_empty_client_id_without_clean_session_is_refused_with_0x02_mqtt_3_1_3_8() {
    let broker = BrokerProcess::start(&[]);
    for protocol in [Protocol::V3_1_1, Protocol::V3_1] {
        let mut connect = Connect::new(protocol, "");
        connect.clean_start = false;
        let (mut c, ack) = TestClient::connect_with(&broker.addr(), connect).await;
        assert_eq!(ack.code, ReasonCode::V3_IDENTIFIER_REJECTED, "{protocol}");
        assert!(!ack.session_present);
        assert_eq!(
            c.recv().await,
            None,
            "{protocol}: the connection is closed after CONNACK 0x02"
        );
    }
}

#[tokio::test]
async fn v5_empty_client_id_gets_an_assigned_client_identifier_mqtt_3_1_3_7() {
    let broker = BrokerProcess::start(&[]);
    let (mut c, ack) = connect_ok(&broker.addr(), persistent(Protocol::V5, "", 300)).await;
    let assigned = ack
        .properties
        .assigned_client_identifier
        .clone()
        .expect("Assigned Client Identifier in CONNACK");
    assert!(!assigned.is_empty());
    let (other, ack2) = connect_ok(&broker.addr(), Connect::new(Protocol::V5, "")).await;
    assert_ne!(
        ack2.properties.assigned_client_identifier,
        Some(assigned.clone()),
        "identifiers are unique"
    );
    other.disconnect().await;
    c.subscribe_qos(1, "assigned/t", QoS::AtLeastOnce).await;
    c.disconnect().await;

    // The session lives under the assigned identifier.
    let (mut c, ack) = connect_ok(&broker.addr(), persistent(Protocol::V5, &assigned, 300)).await;
    assert!(
        ack.session_present,
        "session stored under the assigned identifier"
    );
    assert_eq!(
        ack.properties.assigned_client_identifier, None,
        "nothing assigned for a named client"
    );
    publish_from(
        &broker.addr(),
        Protocol::V5,
        "assigned/t",
        b"x",
        QoS::AtLeastOnce,
    )
    .await;
    assert_eq!(&c.expect_publish_acked().await.payload[..], b"x");
    c.disconnect().await;
}

#[tokio::test]
async fn unsupported_protocol_level_gets_connack_0x01_and_close_mqtt_3_1_2_2() {
    let broker = BrokerProcess::start(&[]);
    let connect = |name: &[u8], level: u8| {
        let mut body = vec![0x00, name.len() as u8];
        body.extend_from_slice(name);
        body.extend_from_slice(&[level, 0x02, 0x00, 0x3C, 0x00, 0x01, b'x']);
        let mut packet = vec![0x10, body.len() as u8];
        packet.extend(body);
        packet
    };
    for (name, level) in [(&b"MQTT"[..], 6u8), (b"MQTT", 0), (b"MQTT", 255)] {
        let got = raw_exchange(&broker.addr(), &connect(name, level)).await;
        assert_eq!(
            got,
            [0x20, 0x02, 0x00, 0x01],
            "{} level {level}: CONNACK 0x01 then close",
            String::from_utf8_lossy(name)
        );
    }
}

#[tokio::test]
async fn session_takeover_closes_the_old_connection_and_the_new_one_resumes_mqtt_3_1_4_3() {
    let broker = BrokerProcess::start(&[]);
    for protocol in BOTH {
        let id = format!("taken-{}", protocol.level());
        let (mut old, _) = connect_ok(&broker.addr(), persistent(protocol, &id, 300)).await;
        old.subscribe_qos(1, "taken/t", QoS::AtLeastOnce).await;

        let (mut new, ack) = connect_ok(&broker.addr(), persistent(protocol, &id, 300)).await;
        assert!(
            ack.session_present,
            "{protocol}: the new connection resumes the session"
        );
        let reason = old.expect_disconnect().await;
        if protocol.is_v5() {
            assert_eq!(
                reason,
                Some(ReasonCode::SESSION_TAKEN_OVER),
                "v5: DISCONNECT 0x8E"
            );
        } else {
            assert_eq!(
                reason, None,
                "{protocol}: [MQTT-3.1.4-2] the old connection is closed"
            );
        }
        publish_from(
            &broker.addr(),
            protocol,
            "taken/t",
            b"to the new one",
            QoS::AtLeastOnce,
        )
        .await;
        assert_eq!(
            &new.expect_publish_acked().await.payload[..],
            b"to the new one",
            "{protocol}: subscription kept"
        );

        // Taking over with clean start 1 discards the session.
        let (mut newer, ack) = connect_ok(&broker.addr(), Connect::new(protocol, &*id)).await;
        assert!(
            !ack.session_present,
            "{protocol}: clean start discards the session"
        );
        new.expect_disconnect().await;
        publish_from(
            &broker.addr(),
            protocol,
            "taken/t",
            b"gone",
            QoS::AtLeastOnce,
        )
        .await;
        newer.expect_nothing(Duration::from_millis(300)).await;
        newer.disconnect().await;
    }
}

#[tokio::test]
async fn v5_session_expires_after_its_expiry_interval_mqtt_3_1_2_23() {
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    let (mut c, _) = connect_ok(&addr, persistent(Protocol::V5, "expiring", 1)).await;
    c.subscribe_qos(1, "expiring/t", QoS::AtLeastOnce).await;
    c.disconnect().await;
    // Within the interval the session is there.
    let (c, ack) = connect_ok(&addr, persistent(Protocol::V5, "expiring", 1)).await;
    assert!(
        ack.session_present,
        "session kept within its expiry interval"
    );
    drop(c); // network loss: the expiry interval applies as well

    tokio::time::sleep(Duration::from_millis(2600)).await;
    let (mut c, ack) = connect_ok(&addr, persistent(Protocol::V5, "expiring", 0)).await;
    assert!(
        !ack.session_present,
        "session gone 2.6 s after a 1 s expiry interval"
    );
    publish_from(
        &addr,
        Protocol::V5,
        "expiring/t",
        b"nobody",
        QoS::AtLeastOnce,
    )
    .await;
    c.expect_nothing(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn v5_session_with_expiry_0_ends_when_the_connection_closes_mqtt_3_1_2_23() {
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    for graceful in [true, false] {
        let mut connect = persistent(Protocol::V5, "zero", 0);
        connect.properties.session_expiry_interval = None; // absent means 0
        let (mut c, _) = connect_ok(&addr, connect.clone()).await;
        c.subscribe_qos(1, "zero/t", QoS::AtLeastOnce).await;
        if graceful {
            c.disconnect().await;
        } else {
            drop(c);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let (mut c, ack) = connect_ok(&addr, connect).await;
        assert!(
            !ack.session_present,
            "graceful={graceful}: no session after expiry 0"
        );
        publish_from(&addr, Protocol::V5, "zero/t", b"nobody", QoS::AtLeastOnce).await;
        c.expect_nothing(Duration::from_millis(300)).await;
        c.disconnect().await;
    }
}

#[tokio::test]
async fn disconnect_can_change_a_nonzero_session_expiry_interval_mqtt_3_14_2_2() {
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    let (mut c, _) = connect_ok(&addr, persistent(Protocol::V5, "shorten", 300)).await;
    c.subscribe_qos(1, "shorten/t", QoS::AtLeastOnce).await;
    let mut d = Disconnect::new(ReasonCode::NORMAL_DISCONNECTION);
    d.properties.session_expiry_interval = Some(0);
    c.send(Packet::Disconnect(d)).await;
    assert_eq!(c.recv().await, None);
    let (c, ack) = connect_ok(&addr, persistent(Protocol::V5, "shorten", 300)).await;
    assert!(
        !ack.session_present,
        "DISCONNECT with session expiry 0 ends the session"
    );
    c.disconnect().await;
}

#[tokio::test]
async fn disconnect_setting_session_expiry_after_connect_had_0_is_a_protocol_error_mqtt_3_14_2_2() {
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    for connect_expiry in [None, Some(0)] {
        let mut connect = persistent(Protocol::V5, "no-expiry", 0);
        connect.properties.session_expiry_interval = connect_expiry;
        let (mut c, _) = connect_ok(&addr, connect.clone()).await;
        c.subscribe_qos(1, "no-expiry/t", QoS::AtLeastOnce).await;
        let mut d = Disconnect::new(ReasonCode::NORMAL_DISCONNECTION);
        d.properties.session_expiry_interval = Some(300);
        c.send(Packet::Disconnect(d)).await;
        assert_eq!(
            c.expect_disconnect().await,
            Some(ReasonCode::PROTOCOL_ERROR),
            "CONNECT expiry {connect_expiry:?}"
        );
        let (c, ack) = connect_ok(&addr, connect).await;
        assert!(!ack.session_present, "the session was not extended");
        c.disconnect().await;
    }
}

#[tokio::test]
async fn silent_client_is_disconnected_after_one_and_a_half_keep_alives_mqtt_3_1_2_24() {
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    let run = |protocol: Protocol| {
        let addr = addr.clone();
        async move {
            let mut connect = Connect::new(protocol, format!("silent-{}", protocol.level()));
            connect.keep_alive = 1;
            let (mut c, _) = connect_ok(&addr, connect).await;
            let start = Instant::now();
            let reason = c.expect_disconnect().await;
            let elapsed = start.elapsed();
            assert!(
                elapsed >= Duration::from_millis(1200) && elapsed <= Duration::from_millis(3500),
                "{protocol}: disconnected after {elapsed:?}, expected about 1.5 s"
            );
            if protocol.is_v5() {
                assert_eq!(
                    reason,
                    Some(ReasonCode::KEEP_ALIVE_TIMEOUT),
                    "v5: DISCONNECT 0x8D"
                );
            } else {
                assert_eq!(reason, None);
            }
        }
    };
    tokio::join!(run(Protocol::V3_1_1), run(Protocol::V5));
}

#[tokio::test]
async fn pingreq_gets_pingresp_and_keeps_the_connection_alive_mqtt_3_12_4_1() {
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    let run = |protocol: Protocol| {
        let addr = addr.clone();
        async move {
            let mut connect = Connect::new(protocol, format!("pinger-{}", protocol.level()));
            connect.keep_alive = 1;
            let (mut c, _) = connect_ok(&addr, connect).await;
            for _ in 0..5 {
                tokio::time::sleep(Duration::from_millis(500)).await;
                c.send(Packet::PingReq).await;
                assert_eq!(c.recv().await, Some(Packet::PingResp), "{protocol}");
            }
            // 2.5 s have passed, well beyond 1.5 x keep alive: still connected.
            c.subscribe_qos(1, "alive", QoS::AtMostOnce).await;
            c.disconnect().await;
        }
    };
    tokio::join!(run(Protocol::V3_1_1), run(Protocol::V5));
}

#[tokio::test]
async fn connect_with_an_unknown_authentication_method_is_refused_with_0x8c_mqtt_4_12_0_1() {
    let broker = BrokerProcess::start(&[]);
    let mut connect = Connect::new(Protocol::V5, "auth");
    connect.properties.authentication_method = Some("SCRAM-SHA-1".into());
    connect.properties.authentication_data = Some(bytes::Bytes::from_static(b"client-first"));
    let (mut c, ack) = TestClient::connect_with(&broker.addr(), connect).await;
    assert_eq!(ack.code, ReasonCode::BAD_AUTHENTICATION_METHOD);
    assert!(!ack.session_present);
    assert_eq!(c.recv().await, None, "closed after the refusal");
}

#[tokio::test]
async fn mqtt_3_1_client_works_end_to_end() {
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    let mut sub = TestClient::connect(&addr, Protocol::V3_1, "mqisdp-sub").await;
    sub.subscribe_qos(1, "legacy/+", QoS::ExactlyOnce).await;
    let mut publ = TestClient::connect(&addr, Protocol::V3_1, "mqisdp-pub").await;
    for (i, qos) in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
        .into_iter()
        .enumerate()
    {
        publ.publish(&format!("legacy/{i}"), b"old", qos, false, i as u16 + 1)
            .await;
        let p = sub.expect_publish_acked().await;
        assert_eq!(
            (&p.topic[..], p.qos, &p.payload[..]),
            (&*format!("legacy/{i}"), qos, &b"old"[..])
        );
    }
    // Interoperates with newer clients in both directions.
    let mut v5 = TestClient::connect(&addr, Protocol::V5, "modern").await;
    v5.publish("legacy/x", b"new", QoS::AtLeastOnce, false, 1)
        .await;
    assert_eq!(&sub.expect_publish_acked().await.payload[..], b"new");
    v5.subscribe_qos(2, "legacy-back", QoS::AtLeastOnce).await;
    publ.publish("legacy-back", b"back", QoS::AtLeastOnce, false, 9)
        .await;
    assert_eq!(&v5.expect_publish_acked().await.payload[..], b"back");
    publ.send(Packet::PingReq).await;
    assert_eq!(publ.recv().await, Some(Packet::PingResp));
    publ.disconnect().await;
    sub.disconnect().await;
    v5.disconnect().await;
}

#[tokio::test]
async fn packets_sent_with_connect_in_one_write_are_handled_at_once_mqtt_3_1_4() {
    // "Clients are allowed to send further Control Packets immediately after sending a CONNECT
    // packet; Clients need not wait for a CONNACK" (3.1.4). Keep alive 0: nothing else arrives.
    let broker = BrokerProcess::start(&[]);
    for protocol in [Protocol::V3_1_1, Protocol::V5] {
        let mut c = TestClient::raw(&broker.addr(), protocol).await;
        let mut connect = comqtt::mqtt::Connect::new(protocol, "eager");
        connect.keep_alive = 0;
        let mut bytes = bytes::BytesMut::new();
        comqtt::mqtt::Packet::Connect(Box::new(connect))
            .encode(protocol, &mut bytes)
            .unwrap();
        comqtt::mqtt::Packet::Subscribe(comqtt::mqtt::Subscribe::new(
            1,
            "eager/t",
            comqtt::mqtt::SubscriptionOptions::qos(QoS::AtMostOnce),
        ))
        .encode(protocol, &mut bytes)
        .unwrap();
        comqtt::mqtt::Packet::Publish(comqtt::mqtt::Publish::new(
            "eager/t",
            QoS::AtMostOnce,
            &b"self"[..],
        ))
        .encode(protocol, &mut bytes)
        .unwrap();
        c.send_raw(&bytes).await;
        assert!(matches!(
            c.recv().await,
            Some(comqtt::mqtt::Packet::ConnAck(_))
        ));
        assert!(
            matches!(c.recv().await, Some(comqtt::mqtt::Packet::SubAck(_))),
            "{protocol}: SUBACK without waiting for more input"
        );
        assert_eq!(&c.expect_publish().await.payload[..], b"self");
    }
}

#[tokio::test]
async fn of_several_connections_taking_over_one_ends_up_with_the_session_mqtt_3_1_4_3() {
    let broker = BrokerProcess::start(&[]);
    let (first, _) = TestClient::connect_with(
        &broker.addr(),
        comqtt::mqtt::Connect::new(Protocol::V5, "contested"),
    )
    .await;
    let addr = broker.addr();
    let attempts: Vec<_> = (0..3)
        .map(|_| {
            let addr = addr.clone();
            tokio::spawn(async move {
                TestClient::connect_with(
                    &addr,
                    comqtt::mqtt::Connect::new(Protocol::V5, "contested"),
                )
                .await
            })
        })
        .collect();
    let mut accepted = 0;
    for a in attempts {
        let (_c, ack) = a.await.unwrap();
        assert_eq!(
            ack.code,
            comqtt::mqtt::ReasonCode::SUCCESS,
            "a takeover is never refused as busy"
        );
        accepted += 1;
    }
    assert_eq!(accepted, 3);
    drop(first);
}
