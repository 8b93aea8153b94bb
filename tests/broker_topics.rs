//! Topics and subscriptions: wildcard matching, `$` topics, invalid filters and topic names,
//! shared subscriptions, no-local, subscription identifiers, overlapping subscriptions,
//! topic aliases in both directions, UNSUBSCRIBE, and v5 properties passing through.
//! Each test runs against `comqtt serve` as a real process.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{BrokerProcess, TestClient};
use comqtt::mqtt::{
    Connect, Packet, Protocol, Publish, QoS, ReasonCode, SubAck, Subscribe, SubscribeFilter,
    SubscribeProperties, SubscriptionOptions, UnsubAck, Unsubscribe,
};

const BOTH: [Protocol; 2] = [Protocol::V3_1_1, Protocol::V5];
/// Long enough for a message the broker wrongly sends to arrive on loopback.
const QUIET: Duration = Duration::from_millis(300);
/// Every subscriber also subscribes to this topic; it is published last, so its arrival
/// means every earlier message that was going to arrive has arrived.
const SENTINEL: &str = "sentinel";

/// Sends a SUBSCRIBE with several filters (and an optional subscription identifier) and
/// returns the SUBACK.
async fn subscribe_many(
    c: &mut TestClient,
    packet_id: u16,
    filters: &[(&str, SubscriptionOptions)],
    id: Option<u32>,
) -> SubAck {
    c.send(Packet::Subscribe(Subscribe {
        packet_id,
        filters: filters
            .iter()
            .map(|(f, o)| SubscribeFilter {
                filter: (*f).into(),
                options: *o,
            })
            .collect(),
        properties: SubscribeProperties {
            subscription_identifier: id,
            user_properties: Vec::new(),
        },
    }))
    .await;
    match c.recv().await {
        Some(Packet::SubAck(ack)) => {
            assert_eq!(ack.packet_id, packet_id);
            ack
        }
        other => panic!("expected SUBACK, got {other:?}"),
    }
}

/// Sends an UNSUBSCRIBE and returns the UNSUBACK.
async fn unsubscribe(c: &mut TestClient, packet_id: u16, filters: &[&str]) -> UnsubAck {
    c.send(Packet::Unsubscribe(Unsubscribe {
        packet_id,
        filters: filters.iter().map(|f| (*f).into()).collect(),
        properties: Default::default(),
    }))
    .await;
    match c.recv().await {
        Some(Packet::UnsubAck(ack)) => {
            assert_eq!(ack.packet_id, packet_id);
            ack
        }
        other => panic!("expected UNSUBACK, got {other:?}"),
    }
}

/// Topics received (acknowledged) until the sentinel arrives.
async fn topics_until_sentinel(c: &mut TestClient) -> Vec<String> {
    let mut topics = Vec::new();
    loop {
        let p = c.expect_publish_acked().await;
        if p.topic == SENTINEL {
            return topics;
        }
        topics.push(p.topic.to_string());
    }
}

/// Publishes every topic (QoS 1, in order) and then the sentinel.
async fn publish_all(addr: &str, protocol: Protocol, topics: &[&str]) {
    let mut p = TestClient::connect(addr, protocol, "publisher").await;
    for (i, topic) in topics.iter().chain(&[SENTINEL]).enumerate() {
        p.publish(
            topic,
            topic.as_bytes(),
            QoS::AtLeastOnce,
            false,
            i as u16 + 1,
        )
        .await;
    }
    p.disconnect().await;
}

/// For each (filter, expected topics): subscribes a client to the filter, publishes
/// `topics`, and checks what each client received, in order.
async fn check_matching(
    addr: &str,
    protocol: Protocol,
    topics: &[&str],
    table: &[(&str, &[&str])],
) {
    let mut clients = Vec::new();
    for (i, (filter, _)) in table.iter().enumerate() {
        let mut c = TestClient::connect(addr, protocol, &format!("matcher-{i}")).await;
        c.subscribe_qos(1, filter, QoS::AtLeastOnce).await;
        c.subscribe_qos(2, SENTINEL, QoS::AtLeastOnce).await;
        clients.push(c);
    }
    publish_all(addr, protocol, topics).await;
    for ((filter, expected), c) in table.iter().zip(&mut clients) {
        assert_eq!(
            topics_until_sentinel(c).await,
            *expected,
            "{protocol}: filter {filter:?}"
        );
    }
}

#[tokio::test]
async fn plus_matches_one_level_and_hash_any_number_including_the_parent_mqtt_4_7_1_1_and_2() {
    let broker = BrokerProcess::start(&[]);
    let topics = ["a", "a/b", "a/b/c", "a/", "/x", "b", "ab", "a/b/d", "A/b"];
    let table: &[(&str, &[&str])] = &[
        ("a/#", &["a", "a/b", "a/b/c", "a/", "a/b/d"]),
        ("a/+", &["a/b", "a/"]),
        ("+/+", &["a/b", "a/", "/x", "A/b"]),
        (
            "#",
            &["a", "a/b", "a/b/c", "a/", "/x", "b", "ab", "a/b/d", "A/b"],
        ),
        ("+", &["a", "b", "ab"]),
        ("a/+/c", &["a/b/c"]),
        ("+/b/#", &["a/b", "a/b/c", "a/b/d", "A/b"]),
        ("/+", &["/x"]),
        ("a/b", &["a/b"]),
    ];
    for protocol in BOTH {
        check_matching(&broker.addr(), protocol, &topics, table).await;
    }
}

#[tokio::test]
async fn dollar_topics_are_not_matched_by_leading_wildcards_mqtt_4_7_2_1() {
    let broker = BrokerProcess::start(&[]);
    let topics = ["$internal/x", "$internal", "x"];
    let table: &[(&str, &[&str])] = &[
        ("#", &["x"]),
        ("+/x", &[]),
        ("+", &["x"]),
        ("+/#", &["x"]),
        ("$internal/#", &["$internal/x", "$internal"]),
        ("$internal/+", &["$internal/x"]),
        ("$internal", &["$internal"]),
    ];
    for protocol in BOTH {
        check_matching(&broker.addr(), protocol, &topics, table).await;
    }
}

#[tokio::test]
async fn invalid_topic_filters_are_refused_in_suback_and_the_others_granted_mqtt_4_7_1_1_and_4_7_3_1()
 {
    let broker = BrokerProcess::start(&[]);
    for protocol in BOTH {
        let q1 = SubscriptionOptions::qos(QoS::AtLeastOnce);
        let filters = [
            ("ok/1", q1),
            ("a/#/b", q1),
            ("a+", q1),
            ("", q1),
            ("$share/g", q1),
            ("ok/#", SubscriptionOptions::qos(QoS::ExactlyOnce)),
            ("a/b#", q1),
            ("+a/b", q1),
        ];
        let mut c = TestClient::connect(&broker.addr(), protocol, "filters").await;
        let ack = subscribe_many(&mut c, 1, &filters, None).await;
        let bad = if protocol.is_v5() {
            ReasonCode::TOPIC_FILTER_INVALID
        } else {
            ReasonCode::V3_SUBACK_FAILURE
        };
        let g1 = ReasonCode::GRANTED_QOS_1;
        assert_eq!(
            ack.reasons,
            [g1, bad, bad, bad, bad, ReasonCode::GRANTED_QOS_2, bad, bad],
            "{protocol}"
        );
        // The connection stays usable and the valid filters work.
        let mut p = TestClient::connect(&broker.addr(), protocol, "pub").await;
        p.publish("ok/1", b"fine", QoS::ExactlyOnce, false, 1).await;
        let got = c.expect_publish_acked().await;
        assert_eq!(
            (&got.payload[..], got.qos),
            (&b"fine"[..], QoS::ExactlyOnce)
        );
        c.expect_nothing(QUIET).await;
    }
}

#[tokio::test]
async fn publish_with_a_wildcard_in_its_topic_name_is_a_protocol_violation_mqtt_3_3_2_2() {
    let broker = BrokerProcess::start(&[]);
    let mut watcher = TestClient::connect(&broker.addr(), Protocol::V5, "watcher").await;
    watcher.subscribe_qos(1, "#", QoS::AtLeastOnce).await;
    for protocol in BOTH {
        for topic in ["w/+", "w/#", "+", "#"] {
            let mut c = TestClient::connect(&broker.addr(), protocol, "wild-publisher").await;
            c.send(Packet::Publish(Publish::new(
                topic,
                QoS::AtMostOnce,
                &b"x"[..],
            )))
            .await;
            let reason = c.expect_disconnect().await;
            if protocol.is_v5() {
                assert_eq!(
                    reason,
                    Some(ReasonCode::TOPIC_NAME_INVALID),
                    "v5 topic {topic}: DISCONNECT 0x90"
                );
            } else {
                assert_eq!(reason, None, "{protocol} topic {topic}: closed");
            }
        }
    }
    watcher.expect_nothing(QUIET).await;
}

/// Publishes `n` QoS 1 messages on `topic` and collects, from every client, the payloads it
/// received until all `expected_total` arrived (then checks nothing more comes).
async fn share_round(
    addr: &str,
    topic: &str,
    n: u8,
    clients: &mut [TestClient],
    expected_total: usize,
) -> Vec<Vec<u8>> {
    let mut p = TestClient::connect(addr, Protocol::V5, "share-publisher").await;
    for i in 0..n {
        p.publish(topic, &[i], QoS::AtLeastOnce, false, i as u16 + 1)
            .await;
    }
    let mut got: Vec<Vec<u8>> = vec![Vec::new(); clients.len()];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while got.iter().map(Vec::len).sum::<usize>() < expected_total {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {got:?} of {expected_total} messages arrived"
        );
        for (c, mine) in clients.iter_mut().zip(&mut got) {
            if let Ok(packet) = c.recv_within(Duration::from_millis(50)).await {
                match packet {
                    Some(Packet::Publish(m)) => {
                        c.send(Packet::PubAck(comqtt::mqtt::PubReply::new(m.packet_id)))
                            .await;
                        mine.extend_from_slice(&m.payload);
                    }
                    other => panic!("expected PUBLISH, got {other:?}"),
                }
            }
        }
    }
    for c in clients.iter_mut() {
        c.expect_nothing(QUIET).await;
    }
    got
}

#[tokio::test]
async fn shared_subscription_delivers_each_message_to_exactly_one_member_mqtt_4_8_2() {
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    let mut members = Vec::new();
    for id in ["m1", "m2"] {
        let mut c = TestClient::connect(&addr, Protocol::V5, id).await;
        c.subscribe_qos(1, "$share/g/sh/+", QoS::AtLeastOnce).await;
        members.push(c);
    }
    let got = share_round(&addr, "sh/t", 10, &mut members, 10).await;
    let mut all: Vec<u8> = got.concat();
    all.sort();
    assert_eq!(
        all,
        (0..10).collect::<Vec<u8>>(),
        "each message to exactly one member"
    );
    assert!(
        got.iter().all(|m| !m.is_empty()),
        "both members get some: {got:?}"
    );
}

#[tokio::test]
async fn two_share_groups_each_get_every_message_mqtt_4_8_2() {
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    let mut members = Vec::new();
    for (id, filter) in [
        ("g1-a", "$share/g1/sh/t"),
        ("g1-b", "$share/g1/sh/t"),
        ("g2-a", "$share/g2/sh/#"),
        ("plain", "sh/t"),
    ] {
        let mut c = TestClient::connect(&addr, Protocol::V5, id).await;
        c.subscribe_qos(1, filter, QoS::AtLeastOnce).await;
        members.push(c);
    }
    let got = share_round(&addr, "sh/t", 6, &mut members, 18).await;
    let mut g1: Vec<u8> = [got[0].clone(), got[1].clone()].concat();
    g1.sort();
    assert_eq!(
        g1,
        (0..6).collect::<Vec<u8>>(),
        "group g1 gets every message once"
    );
    assert_eq!(
        got[2],
        (0..6).collect::<Vec<u8>>(),
        "group g2 gets every message once"
    );
    assert_eq!(
        got[3],
        (0..6).collect::<Vec<u8>>(),
        "a non-shared subscriber gets every message"
    );
}

#[tokio::test]
async fn v5_no_local_subscription_does_not_get_its_own_messages_mqtt_3_8_3_3() {
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    let mut me = TestClient::connect(&addr, Protocol::V5, "me").await;
    let no_local = SubscriptionOptions {
        no_local: true,
        ..SubscriptionOptions::qos(QoS::AtLeastOnce)
    };
    let ack = me.subscribe(1, "nl/t", no_local).await;
    assert_eq!(ack.reasons, [ReasonCode::GRANTED_QOS_1]);
    let mut watcher = TestClient::connect(&addr, Protocol::V5, "watcher").await;
    watcher.subscribe_qos(1, "nl/t", QoS::AtLeastOnce).await;
    let mut other = TestClient::connect(&addr, Protocol::V5, "other").await;

    me.publish("nl/t", b"mine", QoS::AtLeastOnce, false, 1)
        .await;
    other
        .publish("nl/t", b"theirs", QoS::AtLeastOnce, false, 1)
        .await;
    assert_eq!(
        &me.expect_publish_acked().await.payload[..],
        b"theirs",
        "own message not delivered back"
    );
    assert_eq!(
        &watcher.expect_publish_acked().await.payload[..],
        b"mine",
        "others still get it"
    );
    assert_eq!(&watcher.expect_publish_acked().await.payload[..], b"theirs");
    me.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn v5_publish_carries_the_identifiers_of_the_matching_subscriptions_mqtt_3_3_4_3_and_4() {
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    let mut c = TestClient::connect(&addr, Protocol::V5, "ids").await;
    let q1 = SubscriptionOptions::qos(QoS::AtLeastOnce);
    subscribe_many(&mut c, 1, &[("si/+", q1)], Some(7)).await;
    subscribe_many(&mut c, 2, &[("si/#", q1)], Some(268_435_455)).await;
    subscribe_many(&mut c, 3, &[("si/a/b", q1)], None).await;
    let mut p = TestClient::connect(&addr, Protocol::V5, "pub").await;
    p.publish("si/a", b"both", QoS::AtLeastOnce, false, 1).await;
    p.publish("si/a/b", b"hash and none", QoS::AtLeastOnce, false, 2)
        .await;
    p.publish("si", b"hash only", QoS::AtLeastOnce, false, 3)
        .await;

    let m = c.expect_publish_acked().await;
    let mut ids = m.properties.subscription_identifiers.clone();
    ids.sort();
    assert_eq!(
        (&m.payload[..], ids),
        (&b"both"[..], vec![7, 268_435_455]),
        "one delivery with both identifiers"
    );
    let m = c.expect_publish_acked().await;
    assert_eq!(
        (&m.payload[..], m.properties.subscription_identifiers),
        (&b"hash and none"[..], vec![268_435_455])
    );
    let m = c.expect_publish_acked().await;
    assert_eq!(
        (&m.payload[..], m.properties.subscription_identifiers),
        (&b"hash only"[..], vec![268_435_455])
    );
    c.expect_nothing(QUIET).await;

    // Re-subscribing without an identifier removes it from that subscription.
    subscribe_many(&mut c, 4, &[("si/#", q1)], None).await;
    p.publish("si", b"no id", QoS::AtLeastOnce, false, 4).await;
    let m = c.expect_publish_acked().await;
    assert_eq!(
        (&m.payload[..], m.properties.subscription_identifiers),
        (&b"no id"[..], vec![])
    );
}

#[tokio::test]
async fn overlapping_subscriptions_deliver_once_at_the_maximum_granted_qos_mqtt_3_3_5_1() {
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    for protocol in BOTH {
        let mut c = TestClient::connect(&addr, protocol, "overlap").await;
        c.subscribe_qos(1, "ov/+", QoS::AtMostOnce).await;
        c.subscribe_qos(2, "ov/#", QoS::ExactlyOnce).await;
        c.subscribe_qos(3, "ov/t", QoS::AtLeastOnce).await;
        let mut p = TestClient::connect(&addr, protocol, "pub").await;
        p.publish("ov/t", b"once", QoS::ExactlyOnce, false, 1).await;
        let m = c.expect_publish_acked().await;
        assert_eq!(
            (&m.payload[..], m.qos),
            (&b"once"[..], QoS::ExactlyOnce),
            "{protocol}"
        );
        c.expect_nothing(QUIET).await;
        c.disconnect().await;
        p.disconnect().await;
    }
}

/// A v5 PUBLISH with a topic alias.
fn aliased(topic: &str, alias: u16, payload: &'static [u8], packet_id: u16) -> Packet {
    let mut p = Publish::new(topic, QoS::AtLeastOnce, payload);
    p.packet_id = packet_id;
    p.properties.topic_alias = Some(alias);
    Packet::Publish(p)
}

#[tokio::test]
async fn v5_topic_alias_from_the_client_is_resolved_to_its_topic_mqtt_3_3_2_12() {
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    let mut s = TestClient::connect(&addr, Protocol::V5, "sub").await;
    s.subscribe_qos(1, "ta/+", QoS::AtLeastOnce).await;
    let (mut p, ack) = TestClient::connect_with(&addr, Connect::new(Protocol::V5, "aliaser")).await;
    let max = ack
        .properties
        .topic_alias_maximum
        .expect("the server announces a topic alias maximum");
    assert!(max >= 3);
    for (packet, topic, payload) in [
        (aliased("ta/t", 3, b"set", 1), "ta/t", "set"),
        (aliased("", 3, b"used", 2), "ta/t", "used"),
        (aliased("ta/u", 3, b"remapped", 3), "ta/u", "remapped"),
        (aliased("", 3, b"used again", 4), "ta/u", "used again"),
        (
            aliased("ta/v", max, b"highest alias", 5),
            "ta/v",
            "highest alias",
        ),
        (aliased("", max, b"highest used", 6), "ta/v", "highest used"),
    ] {
        p.send(packet).await;
        match p.recv().await {
            Some(Packet::PubAck(ack)) => assert_eq!(ack.reason, ReasonCode::SUCCESS, "{payload}"),
            other => panic!("expected PUBACK for {payload}, got {other:?}"),
        }
        let m = s.expect_publish_acked().await;
        assert_eq!((&m.topic[..], &m.payload[..]), (topic, payload.as_bytes()));
        assert_eq!(
            m.properties.topic_alias, None,
            "the subscriber announced no topic alias maximum"
        );
    }
    p.disconnect().await;
}

#[tokio::test]
async fn v5_unknown_topic_alias_is_a_protocol_error_and_aliases_do_not_outlive_the_connection_mqtt_3_3_2_7()
 {
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    let mut s = TestClient::connect(&addr, Protocol::V5, "sub").await;
    s.subscribe_qos(1, "#", QoS::AtLeastOnce).await;

    let mut p = TestClient::connect(&addr, Protocol::V5, "aliaser").await;
    p.send(aliased("", 9, b"never set", 1)).await;
    assert_eq!(
        p.expect_disconnect().await,
        Some(ReasonCode::PROTOCOL_ERROR)
    );

    let mut p = TestClient::connect(&addr, Protocol::V5, "aliaser").await;
    p.send(aliased("al/t", 1, b"set", 1)).await;
    assert!(matches!(p.recv().await, Some(Packet::PubAck(_))));
    assert_eq!(&s.expect_publish_acked().await.payload[..], b"set");
    p.disconnect().await;
    let mut p = TestClient::connect(&addr, Protocol::V5, "aliaser").await;
    p.send(aliased("", 1, b"stale alias", 1)).await;
    assert_eq!(
        p.expect_disconnect().await,
        Some(ReasonCode::PROTOCOL_ERROR),
        "aliases are per connection"
    );
    s.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn v5_topic_alias_0_is_refused_with_0x94_mqtt_3_3_2_8() {
    let broker = BrokerProcess::start(&[]);
    let mut p = TestClient::connect(&broker.addr(), Protocol::V5, "zero").await;
    // PUBLISH QoS 0, topic "al/t", properties: Topic Alias (0x23) = 0, payload "x".
    p.send_raw(&[
        0x30, 0x0B, 0x00, 0x04, b'a', b'l', b'/', b't', 0x03, 0x23, 0x00, 0x00, b'x',
    ])
    .await;
    assert_eq!(
        p.expect_disconnect().await,
        Some(ReasonCode::TOPIC_ALIAS_INVALID)
    );
}

#[tokio::test]
async fn empty_topic_name_without_a_topic_alias_is_a_protocol_violation_mqtt_4_7_3_1() {
    let broker = BrokerProcess::start(&[]);
    let mut watcher = TestClient::connect(&broker.addr(), Protocol::V5, "watcher").await;
    watcher.subscribe_qos(1, "#", QoS::AtLeastOnce).await;
    for protocol in BOTH {
        let mut c = TestClient::connect(&broker.addr(), protocol, "empty-topic").await;
        let mut p = Publish::new("", QoS::AtLeastOnce, &b"x"[..]);
        p.packet_id = 1;
        c.send(Packet::Publish(p)).await;
        let reason = c.expect_disconnect().await;
        if protocol.is_v5() {
            assert_eq!(
                reason,
                Some(ReasonCode::PROTOCOL_ERROR),
                "v5: DISCONNECT 0x82 (3.3.2.3.4)"
            );
        } else {
            assert_eq!(reason, None, "{protocol}: closed");
        }
    }
    watcher.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn v5_server_uses_topic_aliases_only_up_to_the_client_maximum_mqtt_3_3_2_11() {
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    let mut connect = Connect::new(Protocol::V5, "alias-5");
    connect.properties.topic_alias_maximum = Some(5);
    let (mut five, _) = TestClient::connect_with(&addr, connect).await;
    five.subscribe_qos(1, "sa/#", QoS::AtLeastOnce).await;
    let mut connect = Connect::new(Protocol::V5, "alias-1");
    connect.properties.topic_alias_maximum = Some(1);
    let (mut one, _) = TestClient::connect_with(&addr, connect).await;
    one.subscribe_qos(1, "sa/#", QoS::AtLeastOnce).await;
    let mut none = TestClient::connect(&addr, Protocol::V5, "alias-none").await;
    none.subscribe_qos(1, "sa/#", QoS::AtLeastOnce).await;

    let mut p = TestClient::connect(&addr, Protocol::V5, "pub").await;
    let topics = ["sa/t", "sa/t", "sa/u", "sa/u", "sa/t"];
    for (i, topic) in topics.iter().enumerate() {
        p.publish(
            topic,
            topic.as_bytes(),
            QoS::AtLeastOnce,
            false,
            i as u16 + 1,
        )
        .await;
    }
    for (name, c, max) in [
        ("max 5", &mut five, 5u16),
        ("max 1", &mut one, 1),
        ("absent", &mut none, 0),
    ] {
        let mut known: std::collections::HashMap<u16, String> = Default::default();
        let mut aliased_empty = 0;
        for topic in topics {
            let m = c.expect_publish_acked().await;
            let resolved = match m.properties.topic_alias {
                Some(alias) => {
                    assert!(
                        alias >= 1 && alias <= max,
                        "{name}: alias {alias} beyond the client's maximum [MQTT-3.1.2-26]"
                    );
                    if m.topic.is_empty() {
                        aliased_empty += 1;
                        known.get(&alias).cloned().unwrap_or_else(|| {
                            panic!("{name}: alias {alias} used before it was set")
                        })
                    } else {
                        known.insert(alias, m.topic.to_string());
                        m.topic.to_string()
                    }
                }
                None => m.topic.to_string(),
            };
            assert_eq!(resolved, topic, "{name}");
            assert_eq!(&m.payload[..], topic.as_bytes());
        }
        match max {
            5 => assert_eq!(
                aliased_empty, 3,
                "{name}: repeated topics are sent as an alias with an empty topic"
            ),
            1 => assert!(aliased_empty >= 1, "{name}: the one alias is used"),
            _ => assert_eq!(
                aliased_empty, 0,
                "{name}: no alias without a maximum [MQTT-3.1.2-27]"
            ),
        }
    }
}

#[tokio::test]
async fn unsubscribe_stops_delivery_and_v5_unsuback_reports_no_subscription_existed_mqtt_3_10_4_2()
{
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    for protocol in BOTH {
        let mut c = TestClient::connect(&addr, protocol, "unsub").await;
        c.subscribe_qos(1, "us/t", QoS::AtLeastOnce).await;
        c.subscribe_qos(2, "us/+", QoS::AtLeastOnce).await;
        c.subscribe_qos(3, SENTINEL, QoS::AtLeastOnce).await;
        let ack = unsubscribe(&mut c, 4, &["us/t", "never/subscribed", "us/+"]).await;
        if protocol.is_v5() {
            assert_eq!(
                ack.reasons,
                [
                    ReasonCode::SUCCESS,
                    ReasonCode::NO_SUBSCRIPTION_EXISTED,
                    ReasonCode::SUCCESS
                ]
            );
        }
        publish_all(&addr, protocol, &["us/t", "us/u"]).await;
        assert_eq!(
            topics_until_sentinel(&mut c).await,
            Vec::<String>::new(),
            "{protocol}: nothing after UNSUBSCRIBE"
        );
        // Unsubscribing again: nothing to remove.
        let ack = unsubscribe(&mut c, 5, &["us/t"]).await;
        if protocol.is_v5() {
            assert_eq!(ack.reasons, [ReasonCode::NO_SUBSCRIPTION_EXISTED]);
        }
        c.disconnect().await;
    }
}

#[tokio::test]
async fn v5_message_properties_pass_through_unchanged_mqtt_3_3_2_4_and_15_to_20() {
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    let mut responder = TestClient::connect(&addr, Protocol::V5, "responder").await;
    responder
        .subscribe_qos(1, "rr/request", QoS::AtLeastOnce)
        .await;
    let mut requester = TestClient::connect(&addr, Protocol::V5, "requester").await;
    requester
        .subscribe_qos(1, "rr/response/requester", QoS::AtLeastOnce)
        .await;

    let user_properties: Vec<(comqtt::mqtt::MqttString, comqtt::mqtt::MqttString)> = vec![
        ("z".into(), "first".into()),
        ("a".into(), "second".into()),
        ("z".into(), "third".into()),
        ("".into(), "".into()),
    ];
    let mut request = Publish::new("rr/request", QoS::AtLeastOnce, &b"2+2"[..]);
    request.packet_id = 1;
    request.properties.response_topic = Some("rr/response/requester".into());
    request.properties.correlation_data = Some(Bytes::from_static(b"\x00\xffcorrelation"));
    request.properties.user_properties = user_properties.clone();
    request.properties.payload_format_indicator = Some(true);
    request.properties.content_type = Some("text/plain; charset=utf-8".into());
    requester.send(Packet::Publish(request.clone())).await;
    assert!(matches!(requester.recv().await, Some(Packet::PubAck(_))));

    let got = responder.expect_publish_acked().await;
    assert_eq!(&got.payload[..], b"2+2");
    assert_eq!(
        got.properties.response_topic, request.properties.response_topic,
        "[MQTT-3.3.2-15]"
    );
    assert_eq!(
        got.properties.correlation_data, request.properties.correlation_data,
        "[MQTT-3.3.2-16]"
    );
    assert_eq!(
        got.properties.user_properties, user_properties,
        "[MQTT-3.3.2-17/18] unaltered, in order"
    );
    assert_eq!(
        got.properties.payload_format_indicator,
        Some(true),
        "[MQTT-3.3.2-4]"
    );
    assert_eq!(
        got.properties.content_type, request.properties.content_type,
        "[MQTT-3.3.2-20]"
    );

    // The responder answers on the response topic with the correlation data.
    let mut response = Publish::new(
        got.properties.response_topic.clone().unwrap(),
        QoS::AtLeastOnce,
        &b"4"[..],
    );
    response.packet_id = 1;
    response.properties.correlation_data = got.properties.correlation_data.clone();
    response.properties.payload_format_indicator = Some(false);
    responder.send(Packet::Publish(response)).await;
    assert!(matches!(responder.recv().await, Some(Packet::PubAck(_))));
    let answer = requester.expect_publish_acked().await;
    assert_eq!(&answer.payload[..], b"4");
    assert_eq!(
        answer.properties.correlation_data,
        request.properties.correlation_data
    );
    assert_eq!(answer.properties.payload_format_indicator, Some(false));
    assert_eq!(answer.properties.content_type, None);
    assert!(answer.properties.user_properties.is_empty());
}

#[tokio::test]
async fn v5_server_topic_aliases_do_not_outlive_the_connection_mqtt_3_3_2_7() {
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    let mut connect = Connect::new(Protocol::V5, "alias-resume");
    connect.clean_start = false;
    connect.properties.session_expiry_interval = Some(60);
    connect.properties.topic_alias_maximum = Some(5);
    let (mut c, _) = TestClient::connect_with(&addr, connect.clone()).await;
    c.subscribe_qos(1, "ar/t", QoS::AtLeastOnce).await;
    let mut p = TestClient::connect(&addr, Protocol::V5, "pub").await;
    p.publish("ar/t", b"1", QoS::AtLeastOnce, false, 1).await;
    let m = c.expect_publish_acked().await;
    assert_eq!(
        (&m.topic[..], m.properties.topic_alias.is_some()),
        ("ar/t", true),
        "alias set up"
    );
    c.disconnect().await;

    let (mut c, ack) = TestClient::connect_with(&addr, connect).await;
    assert!(ack.session_present);
    p.publish("ar/t", b"2", QoS::AtLeastOnce, false, 2).await;
    let m = c.expect_publish_acked().await;
    assert_eq!(
        &m.topic[..],
        "ar/t",
        "a new connection must be told the topic again"
    );
    assert_eq!(&m.payload[..], b"2");
    c.disconnect().await;
}

#[tokio::test]
async fn v5_message_dropped_for_the_client_maximum_packet_size_sets_up_no_topic_alias_mqtt_3_1_2_25()
 {
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    let mut connect = Connect::new(Protocol::V5, "small");
    connect.properties.topic_alias_maximum = Some(5);
    connect.properties.maximum_packet_size = Some(64);
    let (mut c, _) = TestClient::connect_with(&addr, connect).await;
    c.subscribe_qos(1, "mp/t", QoS::AtLeastOnce).await;
    let mut p = TestClient::connect(&addr, Protocol::V5, "pub").await;
    p.publish("mp/t", &[b'x'; 200], QoS::AtLeastOnce, false, 1)
        .await; // above 64 bytes: never sent
    p.publish("mp/t", b"small", QoS::AtLeastOnce, false, 2)
        .await;
    let m = c.expect_publish_acked().await;
    assert_eq!(&m.payload[..], b"small", "the oversized message is dropped");
    assert_eq!(
        &m.topic[..],
        "mp/t",
        "the client never saw the dropped message, so it knows no alias for the topic"
    );
    c.expect_nothing(QUIET).await;
}
