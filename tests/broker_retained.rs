//! Retained messages: sent to new subscribers with RETAIN 1, cleared by an empty payload,
//! replaced by the next one, RETAIN 0 on live delivery unless retain-as-published, v5 retain
//! handling, message expiry, shared subscriptions and wildcards.
//! Each test runs against `comqtt serve` as a real process.

mod common;

use std::time::Duration;

use common::{BrokerProcess, TestClient};
use comqtt::mqtt::{
    Connect, Packet, Protocol, Publish, QoS, ReasonCode, RetainHandling, SubscriptionOptions,
};

const BOTH: [Protocol; 2] = [Protocol::V3_1_1, Protocol::V5];
/// Long enough for a message the broker wrongly sends to arrive on loopback.
const QUIET: Duration = Duration::from_millis(300);

/// Publishes a retained message at QoS 1 from a throw-away client.
async fn retain(addr: &str, protocol: Protocol, topic: &str, payload: &[u8]) {
    let mut p = TestClient::connect(addr, protocol, "retainer").await;
    p.publish(topic, payload, QoS::AtLeastOnce, true, 1).await;
    p.disconnect().await;
}

/// Publishes a v5 retained message with a message expiry interval.
async fn retain_expiring(addr: &str, topic: &str, payload: &[u8], expiry: u32) {
    let mut p = TestClient::connect(addr, Protocol::V5, "expiring-retainer").await;
    let mut m = Publish::new(topic, QoS::AtLeastOnce, payload.to_vec());
    m.retain = true;
    m.packet_id = 1;
    m.properties.message_expiry_interval = Some(expiry);
    p.send(Packet::Publish(m)).await;
    assert!(matches!(p.recv().await, Some(Packet::PubAck(_))));
    p.disconnect().await;
}

fn options(
    qos: QoS,
    retain_handling: RetainHandling,
    retain_as_published: bool,
) -> SubscriptionOptions {
    SubscriptionOptions {
        qos,
        no_local: false,
        retain_as_published,
        retain_handling,
    }
}

/// Subscribes with options and asserts the grant.
async fn subscribe(c: &mut TestClient, packet_id: u16, filter: &str, opts: SubscriptionOptions) {
    let ack = c.subscribe(packet_id, filter, opts).await;
    assert_eq!(
        ack.reasons,
        vec![ReasonCode(opts.qos as u8)],
        "SUBACK for {filter}"
    );
}

/// Receives `n` PUBLISHes (acknowledged) and returns them sorted by topic.
async fn receive_sorted(c: &mut TestClient, n: usize) -> Vec<Publish> {
    let mut got = Vec::with_capacity(n);
    for _ in 0..n {
        got.push(c.expect_publish_acked().await);
    }
    got.sort_by(|a, b| a.topic.cmp(&b.topic));
    got
}

#[tokio::test]
async fn retained_message_is_sent_to_a_new_subscriber_with_retain_1_mqtt_3_3_1_6() {
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    for protocol in BOTH {
        let topic = format!("ret/{}", protocol.level());
        retain(&addr, protocol, &topic, b"stored").await;
        for granted in [QoS::AtMostOnce, QoS::AtLeastOnce] {
            let mut s = TestClient::connect(&addr, protocol, "newcomer").await;
            s.subscribe_qos(1, &topic, granted).await;
            let p = s.expect_publish_acked().await;
            assert_eq!(
                (&p.topic[..], &p.payload[..]),
                (&*topic, &b"stored"[..]),
                "{protocol}"
            );
            assert!(
                p.retain,
                "{protocol}: [MQTT-3.3.1-8] RETAIN 1 on a new subscription"
            );
            assert_eq!(
                p.qos, granted,
                "{protocol}: delivered at min(published, granted)"
            );
            s.expect_nothing(QUIET).await;
            s.disconnect().await;
        }
    }
}

#[tokio::test]
async fn empty_retained_payload_clears_the_retained_message_mqtt_3_3_1_10() {
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    for protocol in BOTH {
        let topic = format!("clear/{}", protocol.level());
        retain(&addr, protocol, &topic, b"soon gone").await;
        let mut live = TestClient::connect(&addr, protocol, "live").await;
        live.subscribe_qos(1, &topic, QoS::AtLeastOnce).await;
        assert_eq!(&live.expect_publish_acked().await.payload[..], b"soon gone");

        retain(&addr, protocol, &topic, b"").await;
        // The empty message is delivered as normal to existing subscribers.
        let p = live.expect_publish_acked().await;
        assert!(
            p.payload.is_empty(),
            "{protocol}: the empty message is forwarded"
        );
        live.disconnect().await;

        // [MQTT-3.3.1-11]: nothing is stored, and the old message is gone.
        let mut s = TestClient::connect(&addr, protocol, "newcomer").await;
        s.subscribe_qos(1, &topic, QoS::AtLeastOnce).await;
        s.expect_nothing(QUIET).await;
        s.disconnect().await;
    }
}

#[tokio::test]
async fn retained_message_replaces_the_previous_one_on_its_topic_mqtt_3_3_1_5() {
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    for protocol in BOTH {
        let topic = format!("replace/{}", protocol.level());
        retain(&addr, protocol, &topic, b"first").await;
        retain(&addr, protocol, &topic, b"second").await;
        // A QoS 0 retained message replaces it too [MQTT-3.3.1-7].
        let mut p = TestClient::connect(&addr, protocol, "qos0").await;
        p.publish(&topic, b"third", QoS::AtMostOnce, true, 0).await;
        p.disconnect().await;
        let mut s = TestClient::connect(&addr, protocol, "newcomer").await;
        s.subscribe_qos(1, &topic, QoS::AtLeastOnce).await;
        let got = s.expect_publish_acked().await;
        assert_eq!(&got.payload[..], b"third", "{protocol}");
        assert_eq!(
            got.qos,
            QoS::AtMostOnce,
            "{protocol}: the retained message keeps its own QoS"
        );
        s.expect_nothing(QUIET).await;
        s.disconnect().await;
    }
}

#[tokio::test]
async fn non_retained_publish_neither_stores_nor_replaces_the_retained_message_mqtt_3_3_1_12() {
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    for protocol in BOTH {
        let topic = format!("keep/{}", protocol.level());
        retain(&addr, protocol, &topic, b"retained").await;
        let mut p = TestClient::connect(&addr, protocol, "plain").await;
        p.publish(&topic, b"not retained", QoS::AtLeastOnce, false, 1)
            .await;
        p.publish(&topic, b"", QoS::AtLeastOnce, false, 2).await;
        p.publish(
            &format!("{topic}/other"),
            b"not retained",
            QoS::AtLeastOnce,
            false,
            3,
        )
        .await;
        p.disconnect().await;
        let mut s = TestClient::connect(&addr, protocol, "newcomer").await;
        s.subscribe_qos(1, &format!("{topic}/#"), QoS::AtLeastOnce)
            .await;
        assert_eq!(
            &s.expect_publish_acked().await.payload[..],
            b"retained",
            "{protocol}"
        );
        s.expect_nothing(QUIET).await;
        s.disconnect().await;
    }
}

#[tokio::test]
async fn live_delivery_has_retain_0_unless_retain_as_published_mqtt_3_3_1_12_and_13() {
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    // 3.1.1 [MQTT-3.3.1-9]: RETAIN 0 for an established subscription.
    let mut v3 = TestClient::connect(&addr, Protocol::V3_1_1, "v3").await;
    v3.subscribe_qos(1, "live/t", QoS::AtLeastOnce).await;
    let mut plain = TestClient::connect(&addr, Protocol::V5, "plain").await;
    subscribe(
        &mut plain,
        1,
        "live/t",
        options(QoS::AtLeastOnce, RetainHandling::OnSubscribe, false),
    )
    .await;
    let mut rap = TestClient::connect(&addr, Protocol::V5, "rap").await;
    subscribe(
        &mut rap,
        1,
        "live/t",
        options(QoS::AtLeastOnce, RetainHandling::OnSubscribe, true),
    )
    .await;

    let mut p = TestClient::connect(&addr, Protocol::V5, "publisher").await;
    p.publish("live/t", b"retained", QoS::AtLeastOnce, true, 1)
        .await;
    p.publish("live/t", b"plain", QoS::AtLeastOnce, false, 2)
        .await;
    for (name, c, expected) in [
        ("3.1.1", &mut v3, [false, false]),
        ("v5", &mut plain, [false, false]),
        ("v5 RAP", &mut rap, [true, false]),
    ] {
        let first = c.expect_publish_acked().await;
        let second = c.expect_publish_acked().await;
        assert_eq!(
            (&first.payload[..], &second.payload[..]),
            (&b"retained"[..], &b"plain"[..])
        );
        assert_eq!(
            [first.retain, second.retain],
            expected,
            "{name}: RETAIN on live delivery"
        );
    }
}

#[tokio::test]
async fn retain_handling_0_sends_retained_messages_at_every_subscribe_mqtt_3_3_1_9() {
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    for protocol in BOTH {
        let topic = format!("rh0/{}", protocol.level());
        retain(&addr, protocol, &topic, b"again").await;
        let mut s = TestClient::connect(&addr, protocol, "rh0").await;
        for packet_id in 1..=2 {
            // The second SUBSCRIBE replaces the existing subscription [MQTT-3.8.4-3].
            subscribe(
                &mut s,
                packet_id,
                &topic,
                options(QoS::AtLeastOnce, RetainHandling::OnSubscribe, false),
            )
            .await;
            let p = s.expect_publish_acked().await;
            assert!(
                p.retain && &p.payload[..] == b"again",
                "{protocol} subscribe #{packet_id}"
            );
        }
        s.expect_nothing(QUIET).await;
        s.disconnect().await;
    }
}

#[tokio::test]
async fn v5_retain_handling_1_sends_retained_messages_only_for_a_new_subscription_mqtt_3_3_1_10() {
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    retain(&addr, Protocol::V5, "rh1/t", b"once").await;
    let mut s = TestClient::connect(&addr, Protocol::V5, "rh1").await;
    let opts = options(QoS::AtLeastOnce, RetainHandling::OnNewSubscribe, false);
    subscribe(&mut s, 1, "rh1/t", opts).await;
    assert_eq!(
        &s.expect_publish_acked().await.payload[..],
        b"once",
        "new subscription"
    );
    subscribe(&mut s, 2, "rh1/t", opts).await;
    s.expect_nothing(QUIET).await;
    // Another filter is another (new) subscription.
    subscribe(&mut s, 3, "rh1/+", opts).await;
    assert_eq!(
        &s.expect_publish_acked().await.payload[..],
        b"once",
        "new subscription rh1/+"
    );
    // After unsubscribing, the subscription is new again.
    s.send(Packet::Unsubscribe(comqtt::mqtt::Unsubscribe {
        packet_id: 4,
        filters: vec!["rh1/t".into()],
        properties: Default::default(),
    }))
    .await;
    assert!(matches!(s.recv().await, Some(Packet::UnsubAck(_))));
    subscribe(&mut s, 5, "rh1/t", opts).await;
    assert_eq!(
        &s.expect_publish_acked().await.payload[..],
        b"once",
        "subscription made anew"
    );
    s.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn v5_retain_handling_2_never_sends_retained_messages_mqtt_3_3_1_11() {
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    retain(&addr, Protocol::V5, "rh2/t", b"never").await;
    let mut s = TestClient::connect(&addr, Protocol::V5, "rh2").await;
    subscribe(
        &mut s,
        1,
        "rh2/t",
        options(QoS::AtLeastOnce, RetainHandling::Never, false),
    )
    .await;
    subscribe(
        &mut s,
        2,
        "rh2/#",
        options(QoS::AtLeastOnce, RetainHandling::Never, false),
    )
    .await;
    s.expect_nothing(QUIET).await;
    // Live messages still flow.
    retain(&addr, Protocol::V5, "rh2/t", b"live").await;
    let p = s.expect_publish_acked().await;
    assert_eq!((&p.payload[..], p.retain), (&b"live"[..], false));
}

#[tokio::test]
async fn message_expiry_drops_expired_messages_and_decreases_the_forwarded_interval_mqtt_3_3_2_5_and_6()
 {
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    // An offline persistent session that queues messages.
    let mut connect = Connect::new(Protocol::V5, "offline");
    connect.clean_start = false;
    connect.properties.session_expiry_interval = Some(300);
    let (mut s, _) = TestClient::connect_with(&addr, connect.clone()).await;
    s.subscribe_qos(1, "queued/#", QoS::AtLeastOnce).await;
    s.disconnect().await;

    retain_expiring(&addr, "exp/short", b"short", 1).await;
    retain_expiring(&addr, "exp/long", b"long", 10).await;
    let mut p = TestClient::connect(&addr, Protocol::V5, "queuer").await;
    for (topic, expiry, id) in [("queued/short", 1, 1), ("queued/long", 10, 2)] {
        let mut m = Publish::new(topic, QoS::AtLeastOnce, &b"q"[..]);
        m.packet_id = id;
        m.properties.message_expiry_interval = Some(expiry);
        p.send(Packet::Publish(m)).await;
        assert!(matches!(p.recv().await, Some(Packet::PubAck(_))));
    }
    // Right away the retained messages are there, with at most their interval.
    let mut early = TestClient::connect(&addr, Protocol::V5, "early").await;
    early.subscribe_qos(1, "exp/+", QoS::AtLeastOnce).await;
    let got = receive_sorted(&mut early, 2).await;
    assert_eq!(
        got.iter().map(|m| &m.topic[..]).collect::<Vec<_>>(),
        ["exp/long", "exp/short"]
    );
    assert!(
        got[0]
            .properties
            .message_expiry_interval
            .is_some_and(|e| e <= 10)
    );
    assert!(
        got[1]
            .properties
            .message_expiry_interval
            .is_some_and(|e| e <= 1)
    );

    tokio::time::sleep(Duration::from_millis(2100)).await;
    let mut late = TestClient::connect(&addr, Protocol::V5, "late").await;
    late.subscribe_qos(1, "exp/+", QoS::AtLeastOnce).await;
    let p = late.expect_publish_acked().await;
    assert_eq!(
        &p.topic[..],
        "exp/long",
        "the expired retained message is not sent"
    );
    let left = p
        .properties
        .message_expiry_interval
        .expect("expiry interval forwarded");
    assert!(
        (6..=8).contains(&left),
        "10 s interval after 2.1 s in the server: got {left}"
    );
    late.expect_nothing(QUIET).await;

    let (mut s, ack) = TestClient::connect_with(&addr, connect).await;
    assert!(ack.session_present);
    let q = s.expect_publish_acked().await;
    assert_eq!(
        &q.topic[..],
        "queued/long",
        "the expired queued message is dropped"
    );
    let left = q
        .properties
        .message_expiry_interval
        .expect("expiry interval forwarded");
    assert!(
        (6..=8).contains(&left),
        "queued 10 s interval after 2.1 s: got {left}"
    );
    s.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn shared_subscriptions_get_no_retained_messages() {
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    retain(&addr, Protocol::V5, "shared/t", b"not for groups").await;
    let mut member = TestClient::connect(&addr, Protocol::V5, "member").await;
    member
        .subscribe_qos(1, "$share/g/shared/t", QoS::AtLeastOnce)
        .await;
    member
        .subscribe_qos(2, "$share/g/shared/#", QoS::AtLeastOnce)
        .await;
    member.expect_nothing(QUIET).await;
    // A plain subscription of the same client does get it.
    member.subscribe_qos(3, "shared/t", QoS::AtLeastOnce).await;
    assert_eq!(
        &member.expect_publish_acked().await.payload[..],
        b"not for groups"
    );
}

#[tokio::test]
async fn wildcard_subscriptions_receive_every_matching_retained_message_mqtt_4_7_2_1() {
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    for protocol in BOTH {
        let mut p = TestClient::connect(&addr, protocol, "retainer").await;
        for (i, topic) in ["w/a", "w/b/c", "x/a", "$w/a", "w"].into_iter().enumerate() {
            p.publish(
                topic,
                topic.as_bytes(),
                QoS::AtLeastOnce,
                true,
                i as u16 + 1,
            )
            .await;
        }
        p.disconnect().await;
        for (filter, expected) in [
            ("w/#", &["w", "w/a", "w/b/c"][..]),
            ("+/a", &["w/a", "x/a"]),
            ("#", &["w", "w/a", "w/b/c", "x/a"]),
            ("$w/+", &["$w/a"]),
            ("w/+/c", &["w/b/c"]),
        ] {
            let mut s = TestClient::connect(&addr, protocol, "wild").await;
            s.subscribe_qos(1, filter, QoS::AtLeastOnce).await;
            let got = receive_sorted(&mut s, expected.len()).await;
            let topics: Vec<&str> = got.iter().map(|m| &m.topic[..]).collect();
            assert_eq!(topics, expected, "{protocol} filter {filter}");
            assert!(
                got.iter()
                    .all(|m| m.retain && m.payload == m.topic.as_bytes())
            );
            s.expect_nothing(QUIET).await;
            s.disconnect().await;
        }
        // Clear them for the next protocol round.
        let mut p = TestClient::connect(&addr, protocol, "retainer").await;
        for (i, topic) in ["w/a", "w/b/c", "x/a", "$w/a", "w"].into_iter().enumerate() {
            p.publish(topic, b"", QoS::AtLeastOnce, true, i as u16 + 1)
                .await;
        }
        p.disconnect().await;
    }
}

#[tokio::test]
async fn v5_retained_message_sent_on_subscribe_carries_the_subscription_identifier_mqtt_3_3_4_3() {
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    retain(&addr, Protocol::V5, "sid/t", b"with id").await;
    let mut s = TestClient::connect(&addr, Protocol::V5, "sid").await;
    let mut subscribe =
        comqtt::mqtt::Subscribe::new(1, "sid/+", SubscriptionOptions::qos(QoS::AtLeastOnce));
    subscribe.properties.subscription_identifier = Some(42);
    s.send(Packet::Subscribe(subscribe)).await;
    assert!(matches!(s.recv().await, Some(Packet::SubAck(_))));
    let p = s.expect_publish_acked().await;
    assert_eq!((&p.payload[..], p.retain), (&b"with id"[..], true));
    assert_eq!(p.properties.subscription_identifiers, [42]);
}
