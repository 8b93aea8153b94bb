//! QoS 0/1/2 in both directions, ordering, redelivery of a resumed session, offline queueing.
//! Each test runs against `comqtt serve` as a real process.

mod common;

use std::time::Duration;

use common::{BrokerProcess, TestClient};
use comqtt::mqtt::{Connect, Packet, Protocol, PubReply, Publish, QoS, ReasonCode};

const BOTH: [Protocol; 2] = [Protocol::V3_1_1, Protocol::V5];

#[tokio::test]
async fn each_qos_is_delivered_at_min_of_published_and_granted_mqtt_3_8_4_6() {
    let broker = BrokerProcess::start(&[]);
    for protocol in BOTH {
        for granted in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let mut sub = TestClient::connect(&broker.addr(), protocol, "sub").await;
            sub.subscribe_qos(1, "q/t", granted).await;
            let mut publ = TestClient::connect(&broker.addr(), protocol, "pub").await;
            for (i, qos) in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
                .into_iter()
                .enumerate()
            {
                publ.publish("q/t", format!("m{i}").as_bytes(), qos, false, 10 + i as u16)
                    .await;
                let got = sub.expect_publish_acked().await;
                assert_eq!(
                    got.qos,
                    qos.min(granted),
                    "{protocol} published {qos:?} granted {granted:?}"
                );
                assert_eq!(&got.payload[..], format!("m{i}").as_bytes());
                assert!(!got.dup);
            }
            publ.disconnect().await;
            sub.disconnect().await;
        }
    }
}

#[tokio::test]
async fn messages_from_one_publisher_arrive_in_order_mqtt_4_6_0_5() {
    let broker = BrokerProcess::start(&[]);
    for protocol in BOTH {
        let mut sub = TestClient::connect(&broker.addr(), protocol, "order-sub").await;
        sub.subscribe_qos(1, "order", QoS::AtLeastOnce).await;
        let mut publ = TestClient::connect(&broker.addr(), protocol, "order-pub").await;
        for i in 0..200u16 {
            let mut p = Publish::new("order", QoS::AtLeastOnce, i.to_be_bytes().to_vec());
            p.packet_id = i + 1;
            publ.send(Packet::Publish(p)).await;
        }
        for i in 0..200u16 {
            let got = sub.expect_publish_acked().await;
            assert_eq!(&got.payload[..], &i.to_be_bytes(), "{protocol}");
        }
    }
}

#[tokio::test]
async fn qos2_duplicate_publish_is_delivered_once_mqtt_4_3_3_10() {
    let broker = BrokerProcess::start(&[]);
    for protocol in BOTH {
        let mut sub = TestClient::connect(&broker.addr(), protocol, "dup-sub").await;
        sub.subscribe_qos(1, "dup", QoS::ExactlyOnce).await;
        let mut publ = TestClient::connect(&broker.addr(), protocol, "dup-pub").await;
        let mut p = Publish::new("dup", QoS::ExactlyOnce, &b"once"[..]);
        p.packet_id = 7;
        publ.send(Packet::Publish(p.clone())).await;
        assert!(matches!(publ.recv().await, Some(Packet::PubRec(r)) if r.packet_id == 7));
        p.dup = true;
        publ.send(Packet::Publish(p)).await;
        assert!(matches!(publ.recv().await, Some(Packet::PubRec(r)) if r.packet_id == 7));
        publ.send(Packet::PubRel(PubReply::new(7))).await;
        assert!(matches!(publ.recv().await, Some(Packet::PubComp(r)) if r.packet_id == 7));
        assert_eq!(&sub.expect_publish_acked().await.payload[..], b"once");
        sub.expect_nothing(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn unacknowledged_messages_are_resent_with_dup_on_reconnect_mqtt_4_4_0_1() {
    let broker = BrokerProcess::start(&[]);
    for protocol in BOTH {
        let mut connect = Connect::new(protocol, "resend");
        connect.clean_start = false;
        connect.properties.session_expiry_interval = protocol.is_v5().then_some(300);
        let (mut sub, _) = TestClient::connect_with(&broker.addr(), connect.clone()).await;
        sub.subscribe_qos(1, "resend/+", QoS::ExactlyOnce).await;
        let mut publ = TestClient::connect(&broker.addr(), protocol, "resend-pub").await;
        publ.publish("resend/1", b"q1", QoS::AtLeastOnce, false, 1)
            .await;
        publ.publish("resend/2", b"q2", QoS::ExactlyOnce, false, 2)
            .await;
        publ.publish("resend/3", b"q2-rel", QoS::ExactlyOnce, false, 3)
            .await;
        let first = sub.expect_publish().await;
        let second = sub.expect_publish().await;
        let third = sub.expect_publish().await;
        // Acknowledge only the PUBREC of the third: it must come back as PUBREL, not PUBLISH.
        sub.send(Packet::PubRec(PubReply::new(third.packet_id)))
            .await;
        assert!(
            matches!(sub.recv().await, Some(Packet::PubRel(r)) if r.packet_id == third.packet_id)
        );
        drop(sub); // network loss, no DISCONNECT

        tokio::time::sleep(Duration::from_millis(100)).await;
        let (mut sub, ack) = TestClient::connect_with(&broker.addr(), connect.clone()).await;
        assert!(
            ack.session_present,
            "{protocol}: [MQTT-3.2.2-2] session present"
        );
        let again1 = sub.expect_publish().await;
        let again2 = sub.expect_publish().await;
        assert!(again1.dup && again2.dup, "[MQTT-3.3.1-1] DUP on redelivery");
        assert_eq!(
            (again1.packet_id, &again1.payload[..]),
            (first.packet_id, &b"q1"[..])
        );
        assert_eq!(
            (again2.packet_id, &again2.payload[..]),
            (second.packet_id, &b"q2"[..])
        );
        assert!(
            matches!(sub.recv().await, Some(Packet::PubRel(r)) if r.packet_id == third.packet_id)
        );
        sub.send(Packet::PubAck(PubReply::new(again1.packet_id)))
            .await;
        sub.send(Packet::PubRec(PubReply::new(again2.packet_id)))
            .await;
        assert!(
            matches!(sub.recv().await, Some(Packet::PubRel(r)) if r.packet_id == again2.packet_id)
        );
        sub.send(Packet::PubComp(PubReply::new(again2.packet_id)))
            .await;
        sub.send(Packet::PubComp(PubReply::new(third.packet_id)))
            .await;
        sub.expect_nothing(Duration::from_millis(300)).await;
        // Clean up the persistent session for the next protocol round.
        connect.clean_start = true;
        connect.properties.session_expiry_interval = None;
        let (sub, _) = TestClient::connect_with(&broker.addr(), connect).await;
        sub.disconnect().await;
    }
}

#[tokio::test]
async fn offline_persistent_session_queues_qos1_and_drops_qos0() {
    let broker = BrokerProcess::start(&[]);
    for protocol in BOTH {
        let mut connect = Connect::new(protocol, "offline");
        connect.clean_start = false;
        connect.properties.session_expiry_interval = protocol.is_v5().then_some(300);
        let (mut sub, _) = TestClient::connect_with(&broker.addr(), connect.clone()).await;
        sub.subscribe_qos(1, "off", QoS::AtLeastOnce).await;
        sub.disconnect().await;
        let mut publ = TestClient::connect(&broker.addr(), protocol, "offline-pub").await;
        publ.publish("off", b"zero", QoS::AtMostOnce, false, 0)
            .await;
        for i in 0..5u16 {
            publ.publish(
                "off",
                format!("one{i}").as_bytes(),
                QoS::AtLeastOnce,
                false,
                i + 1,
            )
            .await;
        }
        let (mut sub, ack) = TestClient::connect_with(&broker.addr(), connect.clone()).await;
        assert!(ack.session_present);
        for i in 0..5 {
            assert_eq!(
                sub.expect_publish_acked().await.payload,
                format!("one{i}").as_bytes()
            );
        }
        sub.expect_nothing(Duration::from_millis(300)).await;
        connect.clean_start = true;
        let (sub, ack) = TestClient::connect_with(&broker.addr(), connect).await;
        assert!(
            !ack.session_present,
            "[MQTT-3.2.2-1] clean start discards the session"
        );
        sub.disconnect().await;
    }
}

#[tokio::test]
async fn v5_puback_says_no_matching_subscribers() {
    let broker = BrokerProcess::start(&[]);
    let mut publ = TestClient::connect(&broker.addr(), Protocol::V5, "lonely").await;
    let mut p = Publish::new("nobody/listens", QoS::AtLeastOnce, &b"x"[..]);
    p.packet_id = 1;
    publ.send(Packet::Publish(p)).await;
    match publ.recv().await {
        Some(Packet::PubAck(a)) => assert_eq!(a.reason, ReasonCode::NO_MATCHING_SUBSCRIBERS),
        other => panic!("expected PUBACK, got {other:?}"),
    }
}

#[tokio::test]
async fn a_backlog_larger_than_the_write_buffer_is_delivered_after_the_publisher_stops() {
    // The subscriber reads nothing while 6 MB arrive for it (more than the socket buffers and
    // the broker's output high-water mark), then reads: every message must still come, with
    // no new publish to wake the broker up.
    let broker = BrokerProcess::start(&[]);
    let mut sub = TestClient::connect(&broker.addr(), Protocol::V3_1_1, "backlog-sub").await;
    sub.subscribe_qos(1, "backlog", QoS::AtMostOnce).await;
    let mut publ = TestClient::connect(&broker.addr(), Protocol::V3_1_1, "backlog-pub").await;
    let payload = vec![7u8; 1024];
    for _ in 0..6000 {
        publ.send(Packet::Publish(Publish::new(
            "backlog",
            QoS::AtMostOnce,
            payload.clone(),
        )))
        .await;
    }
    publ.send(Packet::PingReq).await;
    assert_eq!(
        publ.recv().await,
        Some(Packet::PingResp),
        "the broker has read every publish"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    for i in 0..6000 {
        let p = sub.expect_publish().await;
        assert_eq!(p.payload.len(), 1024, "message {i}");
    }
}
