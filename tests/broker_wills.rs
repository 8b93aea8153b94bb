//! Will messages: published on an abnormal end of the connection, discarded on a normal
//! DISCONNECT, DISCONNECT 0x04, retained wills, the v5 will delay interval and its
//! cancellation, wills on keep-alive timeout and session takeover, and will properties.
//! Each test runs against `comqtt serve` as a real process.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{BrokerProcess, TestClient};
use comqtt::mqtt::{Connect, Disconnect, LastWill, Packet, Protocol, Publish, QoS, ReasonCode};

const ALL: [Protocol; 3] = [Protocol::V3_1, Protocol::V3_1_1, Protocol::V5];
const BOTH: [Protocol; 2] = [Protocol::V3_1_1, Protocol::V5];

/// A CONNECT carrying a will on `topic`.
fn with_will(protocol: Protocol, client_id: &str, topic: &str, payload: &[u8]) -> Connect {
    let mut c = Connect::new(protocol, client_id);
    c.will = Some(LastWill {
        topic: topic.into(),
        payload: Bytes::copy_from_slice(payload),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: Default::default(),
    });
    c
}

/// Connects and asserts success.
async fn connect_ok(addr: &str, connect: Connect) -> TestClient {
    let (c, ack) = TestClient::connect_with(addr, connect).await;
    assert_eq!(ack.code, ReasonCode::SUCCESS, "CONNACK {ack:?}");
    c
}

/// A v5 client subscribed to `filter` at QoS 1.
async fn watcher(addr: &str, client_id: &str, filter: &str) -> TestClient {
    let mut w = TestClient::connect(addr, Protocol::V5, client_id).await;
    w.subscribe_qos(1, filter, QoS::AtLeastOnce).await;
    w
}

/// The next PUBLISH within `wait`, acknowledged; `None` if nothing came.
async fn publish_within(c: &mut TestClient, wait: Duration) -> Option<Publish> {
    match c.recv_within(wait).await {
        Err(()) => None,
        Ok(Some(Packet::Publish(p))) => {
            if p.qos == QoS::AtLeastOnce {
                c.send(Packet::PubAck(comqtt::mqtt::PubReply::new(p.packet_id)))
                    .await;
            }
            Some(p)
        }
        Ok(other) => panic!("expected PUBLISH, got {other:?}"),
    }
}

#[tokio::test]
async fn will_is_published_when_the_network_connection_drops_mqtt_3_1_2_8() {
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    let mut w = watcher(&addr, "watcher", "will/#").await;
    for protocol in ALL {
        let topic = format!("will/{}", protocol.level());
        let c = connect_ok(&addr, with_will(protocol, "dying", &topic, b"gone")).await;
        w.expect_nothing(Duration::from_millis(100)).await;
        drop(c); // no DISCONNECT
        let p = w.expect_publish_acked().await;
        assert_eq!(
            (&p.topic[..], &p.payload[..], p.qos, p.retain),
            (&*topic, &b"gone"[..], QoS::AtLeastOnce, false),
            "{protocol}"
        );
        w.expect_nothing(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn will_is_not_published_after_a_normal_disconnect_mqtt_3_1_2_10() {
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    let mut w = watcher(&addr, "watcher", "will/#").await;
    for protocol in ALL {
        let c = connect_ok(
            &addr,
            with_will(protocol, "polite", "will/t", b"must not appear"),
        )
        .await;
        c.disconnect().await;
    }
    // v5 DISCONNECT with an explicit 0x00 and properties: still no will [MQTT-3.14.4-3].
    let mut c = connect_ok(
        &addr,
        with_will(Protocol::V5, "polite5", "will/t", b"must not appear"),
    )
    .await;
    let mut d = Disconnect::new(ReasonCode::NORMAL_DISCONNECTION);
    d.properties.reason_string = Some("bye".into());
    c.send(Packet::Disconnect(d)).await;
    assert_eq!(c.recv().await, None);
    w.expect_nothing(Duration::from_millis(500)).await;
}

#[tokio::test]
async fn v5_disconnect_with_will_message_0x04_publishes_the_will() {
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    let mut w = watcher(&addr, "watcher", "will/t").await;
    let mut c = connect_ok(
        &addr,
        with_will(Protocol::V5, "asks-for-will", "will/t", b"on request"),
    )
    .await;
    c.send(Packet::Disconnect(Disconnect::new(
        ReasonCode::DISCONNECT_WITH_WILL_MESSAGE,
    )))
    .await;
    assert_eq!(c.recv().await, None, "the connection ends");
    assert_eq!(&w.expect_publish_acked().await.payload[..], b"on request");
}

#[tokio::test]
async fn will_retain_flag_publishes_the_will_as_a_retained_message_mqtt_3_1_2_17() {
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    for protocol in BOTH {
        let topic = format!("will/retained/{}", protocol.level());
        let mut w = watcher(&addr, "live-watcher", &topic).await;
        let mut connect = with_will(protocol, "retainer", &topic, b"last words");
        connect.will.as_mut().unwrap().retain = true;
        drop(connect_ok(&addr, connect).await);
        let live = w.expect_publish_acked().await;
        assert_eq!(&live.payload[..], b"last words");
        assert!(!live.retain, "{protocol}: live delivery has RETAIN 0");
        w.disconnect().await;

        let mut late = TestClient::connect(&addr, protocol, "late").await;
        late.subscribe_qos(1, &topic, QoS::AtLeastOnce).await;
        let p = late.expect_publish_acked().await;
        assert_eq!(
            &p.payload[..],
            b"last words",
            "{protocol}: the will was retained"
        );
        assert!(p.retain, "{protocol}: retained message sent with RETAIN 1");
        late.disconnect().await;
    }
}

#[tokio::test]
async fn v5_will_delay_interval_delays_the_will_mqtt_3_1_3_9() {
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    let mut w = watcher(&addr, "watcher", "will/delayed").await;
    let mut connect = with_will(Protocol::V5, "delayed", "will/delayed", b"late");
    connect
        .will
        .as_mut()
        .unwrap()
        .properties
        .will_delay_interval = Some(1);
    connect.properties.session_expiry_interval = Some(60);
    let c = connect_ok(&addr, connect).await;
    drop(c);
    let dropped = Instant::now();
    w.expect_nothing(Duration::from_millis(800)).await;
    let p = publish_within(&mut w, Duration::from_secs(4))
        .await
        .expect("the will after its delay");
    let after = dropped.elapsed();
    assert_eq!(&p.payload[..], b"late");
    assert!(
        after >= Duration::from_millis(950) && after <= Duration::from_millis(3500),
        "published after {after:?}, delay 1 s"
    );
}

#[tokio::test]
async fn v5_reconnect_within_the_will_delay_cancels_the_will_mqtt_3_1_3_9() {
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    let mut w = watcher(&addr, "watcher", "will/cancelled").await;
    let mut connect = with_will(Protocol::V5, "flaky", "will/cancelled", b"must not appear");
    connect.clean_start = false;
    connect
        .will
        .as_mut()
        .unwrap()
        .properties
        .will_delay_interval = Some(2);
    connect.properties.session_expiry_interval = Some(60);
    drop(connect_ok(&addr, connect.clone()).await);
    tokio::time::sleep(Duration::from_millis(100)).await;

    let mut again = connect.clone();
    again.will = None;
    let (c, ack) = TestClient::connect_with(&addr, again).await;
    assert!(ack.session_present, "the session resumed within the delay");
    w.expect_nothing(Duration::from_millis(3000)).await;
    c.disconnect().await;
    w.expect_nothing(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn v5_delayed_will_is_published_when_the_session_ends_first_mqtt_3_1_3_9() {
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    let mut w = watcher(&addr, "watcher", "will/+").await;
    // Session expiry 0: the session ends with the connection, so the will goes out at once.
    let mut connect = with_will(Protocol::V5, "short-session", "will/now", b"session ended");
    connect
        .will
        .as_mut()
        .unwrap()
        .properties
        .will_delay_interval = Some(600);
    drop(connect_ok(&addr, connect).await);
    let p = publish_within(&mut w, Duration::from_millis(900))
        .await
        .expect("will as soon as the session ends");
    assert_eq!(&p.topic[..], "will/now");

    // Session expiry 1 s, will delay 600 s: the will goes out when the session expires.
    let mut connect = with_will(
        Protocol::V5,
        "expiring-session",
        "will/expired",
        b"session expired",
    );
    connect
        .will
        .as_mut()
        .unwrap()
        .properties
        .will_delay_interval = Some(600);
    connect.properties.session_expiry_interval = Some(1);
    drop(connect_ok(&addr, connect).await);
    let dropped = Instant::now();
    let p = publish_within(&mut w, Duration::from_secs(4))
        .await
        .expect("will at session expiry");
    assert_eq!(&p.topic[..], "will/expired");
    assert!(
        dropped.elapsed() >= Duration::from_millis(900),
        "not before the session expired"
    );
}

#[tokio::test]
async fn will_is_published_on_keep_alive_timeout_mqtt_3_1_2_24() {
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    let mut w = watcher(&addr, "watcher", "will/#").await;
    let mut silent = Vec::new();
    for protocol in BOTH {
        let mut connect = with_will(
            protocol,
            &format!("silent-{}", protocol.level()),
            &format!("will/ka/{}", protocol.level()),
            b"timed out",
        );
        connect.keep_alive = 1;
        silent.push(connect_ok(&addr, connect).await); // kept open, never writes again
    }
    let mut topics = Vec::new();
    for _ in BOTH {
        let p = publish_within(&mut w, Duration::from_secs(4))
            .await
            .expect("will after the keep-alive timeout");
        assert_eq!(&p.payload[..], b"timed out");
        topics.push(p.topic.to_string());
    }
    topics.sort();
    assert_eq!(topics, ["will/ka/4", "will/ka/5"]);
    drop(silent);
}

#[tokio::test]
async fn v5_will_of_a_taken_over_connection_is_published_mqtt_3_1_4_3() {
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    let mut w = watcher(&addr, "watcher", "will/taken").await;
    let mut old = connect_ok(
        &addr,
        with_will(Protocol::V5, "twin", "will/taken", b"taken over"),
    )
    .await;
    let new = connect_ok(&addr, Connect::new(Protocol::V5, "twin")).await;
    assert_eq!(
        old.expect_disconnect().await,
        Some(ReasonCode::SESSION_TAKEN_OVER)
    );
    assert_eq!(&w.expect_publish_acked().await.payload[..], b"taken over");
    new.disconnect().await;
    w.expect_nothing(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn v5_will_properties_arrive_on_the_will_message_mqtt_3_1_3_10() {
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    let mut w = watcher(&addr, "watcher", "will/props").await;
    let mut connect = with_will(
        Protocol::V5,
        "propertied",
        "will/props",
        b"{\"state\":\"offline\"}",
    );
    let user_properties = vec![
        ("k".into(), "1".into()),
        ("a".into(), "2".into()),
        ("k".into(), "3".into()),
    ];
    {
        let props = &mut connect.will.as_mut().unwrap().properties;
        props.content_type = Some("application/json".into());
        props.payload_format_indicator = Some(true);
        props.correlation_data = Some(Bytes::from_static(b"\x00\x01corr"));
        props.response_topic = Some("will/reply".into());
        props.message_expiry_interval = Some(300);
        props.user_properties = user_properties.clone();
    }
    drop(connect_ok(&addr, connect).await);
    let p = w.expect_publish_acked().await;
    assert_eq!(&p.payload[..], b"{\"state\":\"offline\"}");
    assert_eq!(
        p.properties.content_type.as_deref(),
        Some("application/json")
    );
    assert_eq!(p.properties.payload_format_indicator, Some(true));
    assert_eq!(
        p.properties.correlation_data.as_deref(),
        Some(&b"\x00\x01corr"[..])
    );
    assert_eq!(p.properties.response_topic.as_deref(), Some("will/reply"));
    assert_eq!(
        p.properties.user_properties, user_properties,
        "user properties in order"
    );
    let expiry = p
        .properties
        .message_expiry_interval
        .expect("message expiry interval");
    assert!((295..=300).contains(&expiry), "expiry {expiry}");
}

#[tokio::test]
async fn will_is_published_when_the_server_closes_the_connection_for_a_protocol_error_mqtt_3_1_2_8()
{
    let broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    let mut w = watcher(&addr, "watcher", "will/violation").await;
    for protocol in BOTH {
        let mut c = connect_ok(
            &addr,
            with_will(protocol, "violator", "will/violation", b"broke the rules"),
        )
        .await;
        c.send(Packet::Connect(Box::new(Connect::new(
            protocol, "violator",
        ))))
        .await; // [MQTT-3.1.0-2]
        c.expect_disconnect().await;
        assert_eq!(
            &w.expect_publish_acked().await.payload[..],
            b"broke the rules",
            "{protocol}"
        );
    }
}
