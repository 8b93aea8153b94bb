//! Hostile clients, one finding each: deep topic trees, huge numbers of subscriptions,
//! retained sets and will storms larger than any queue, a client that keeps writing after
//! being disconnected, and a client that reconnects before its old connection was read.
//! Every test runs a real broker process; the broker must answer with the right codes, keep
//! serving everyone else, and lose nothing a reading client is owed.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use common::temp_dir::TempDir;
use common::{BrokerProcess, TestClient};
use comqtt::mqtt::{
    Connect, Disconnect, LastWill, Packet, Protocol, PubReply, Publish, QoS, ReasonCode, Subscribe,
    SubscribeFilter, SubscriptionOptions, Unsubscribe, decode,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A broker with `capabilities` (YAML lines under `mqtt.options.capabilities:`), its HTTP
/// API on, and the directory holding its config.
fn broker_with(capabilities: &str) -> (BrokerProcess, String, TempDir) {
    let dir = TempDir::new("hostile");
    let conf = dir.file(
        "comqtt.yml",
        &format!("mqtt:\n  options:\n    capabilities:\n{capabilities}"),
    );
    let (broker, http) = BrokerProcess::start_with_http(&["--conf", &conf]);
    (broker, http, dir)
}

/// Subscribes to every filter in one SUBSCRIBE and returns the reason codes.
async fn subscribe_all(c: &mut TestClient, packet_id: u16, filters: &[String]) -> Vec<ReasonCode> {
    c.send(Packet::Subscribe(Subscribe {
        packet_id,
        filters: filters
            .iter()
            .map(|f| SubscribeFilter {
                filter: f.as_str().into(),
                options: SubscriptionOptions::qos(QoS::AtLeastOnce),
            })
            .collect(),
        properties: Default::default(),
    }))
    .await;
    match c.recv().await {
        Some(Packet::SubAck(ack)) => {
            assert_eq!(ack.packet_id, packet_id);
            ack.reasons
        }
        other => panic!("expected SUBACK, got {other:?}"),
    }
}

/// A client that is subscribed before the hostile one acts, and must still get messages.
async fn assert_serving(broker: &mut BrokerProcess, after: &str) {
    assert!(broker.is_running(), "broker exited after {after}");
    let id = format!("witness-{}", common::free_port());
    let mut sub = TestClient::connect(&broker.addr(), Protocol::V5, &id).await;
    sub.subscribe_qos(1, &id, QoS::AtLeastOnce).await;
    let mut publ = TestClient::connect(&broker.addr(), Protocol::V3_1_1, &format!("{id}-p")).await;
    publ.publish(&id, after.as_bytes(), QoS::AtLeastOnce, false, 1)
        .await;
    let got = sub.expect_publish_acked().await;
    assert_eq!(&got.payload[..], after.as_bytes());
    assert!(broker.is_running(), "broker exited after {after}");
}

fn levels(level: &str, n: usize) -> String {
    vec![level; n].join("/")
}

#[tokio::test]
async fn filters_and_topics_beyond_the_level_limit_are_refused_with_their_codes() {
    let mut broker = BrokerProcess::start(&[]);
    let too_deep = levels("a", 129);
    let slashes = "/".repeat(65_534); // 65,535 empty levels: the longest filter MQTT can carry
    let plus = levels("+", 20_000);
    let ok = levels("a", 128);

    let mut v5 = TestClient::connect(&broker.addr(), Protocol::V5, "deep5").await;
    let reasons = subscribe_all(
        &mut v5,
        1,
        &[too_deep.clone(), slashes.clone(), plus.clone(), ok.clone()],
    )
    .await;
    assert_eq!(
        reasons,
        [
            ReasonCode::TOPIC_FILTER_INVALID,
            ReasonCode::TOPIC_FILTER_INVALID,
            ReasonCode::TOPIC_FILTER_INVALID,
            ReasonCode::GRANTED_QOS_1
        ]
    );
    let mut v3 = TestClient::connect(&broker.addr(), Protocol::V3_1_1, "deep3").await;
    let reasons = subscribe_all(&mut v3, 1, &[slashes.clone(), ok.clone()]).await;
    assert_eq!(
        reasons,
        [ReasonCode::V3_SUBACK_FAILURE, ReasonCode::GRANTED_QOS_1]
    );

    // A PUBLISH to a topic too deep: 0x90 in v5, acknowledged and dropped in 3.1.1.
    let mut p = Publish::new(slashes.as_str(), QoS::AtLeastOnce, &b"deep"[..]);
    p.packet_id = 7;
    v5.send(Packet::Publish(p.clone())).await;
    match v5.recv().await {
        Some(Packet::PubAck(a)) => {
            assert_eq!((a.packet_id, a.reason), (7, ReasonCode::TOPIC_NAME_INVALID))
        }
        other => panic!("expected PUBACK 0x90, got {other:?}"),
    }
    v3.send(Packet::Publish(p)).await;
    match v3.recv().await {
        Some(Packet::PubAck(a)) => assert_eq!(a.packet_id, 7),
        other => panic!("expected PUBACK, got {other:?}"),
    }
    // The deepest accepted filter still works end to end.
    v3.publish(&ok, b"just deep enough", QoS::AtLeastOnce, false, 8)
        .await;
    let got = v5.expect_publish_acked().await;
    assert_eq!(&got.payload[..], b"just deep enough");

    // A will too deep: CONNACK 0x90.
    let mut connect = Connect::new(Protocol::V5, "deep-will");
    connect.will = Some(LastWill {
        topic: too_deep.as_str().into(),
        payload: "bye".into(),
        ..LastWill::default()
    });
    let (_c, ack) = TestClient::connect_with(&broker.addr(), connect).await;
    assert_eq!(ack.code, ReasonCode::TOPIC_NAME_INVALID);

    v5.disconnect().await;
    v3.disconnect().await;
    assert_serving(&mut broker, "deep filters").await;
}

#[tokio::test]
async fn a_broker_allowing_any_depth_survives_the_deepest_trees() {
    // With the level limit lifted, the deepest filters MQTT can carry go into the
    // subscription tree: matching, listing and removing them must not recurse.
    let (mut broker, http, _dir) = broker_with("      maximum-topic-levels: 1000000\n");
    let slashes = "/".repeat(65_534);
    let deep = levels("a", 32_768);
    let plus = levels("+", 32_768);
    let mut c = TestClient::connect(&broker.addr(), Protocol::V5, "deepest").await;
    let reasons = subscribe_all(&mut c, 1, &[slashes.clone(), deep.clone(), plus.clone()]).await;
    assert!(
        reasons.iter().all(|r| *r == ReasonCode::GRANTED_QOS_1),
        "{reasons:?}"
    );

    // Published to: both the literal filter and the `+` filter match.
    let mut publ = TestClient::connect(&broker.addr(), Protocol::V5, "deepest-pub").await;
    publ.publish(&deep, b"down there", QoS::AtLeastOnce, false, 1)
        .await;
    let got = c.expect_publish_acked().await;
    assert_eq!(&got.payload[..], b"down there");
    publ.publish(&slashes, b"empty levels", QoS::AtLeastOnce, false, 2)
        .await;
    let got = c.expect_publish_acked().await;
    assert_eq!(&got.payload[..], b"empty levels");

    // Listed over HTTP: nesting stops at 32 levels, so any JSON parser reads it.
    let topics = common::http::get(&http, "/api/v1/mqtt/topics").await;
    assert_eq!(topics.status, 200);
    let tree = topics.json();
    assert!(tree.get("a").is_some() && tree.get("+").is_some(), "{tree}");
    let subs = common::http::get(&http, "/api/v1/mqtt/subscriptions").await;
    assert_eq!(subs.status, 200);
    assert!(subs.text().contains(&deep));

    // Unsubscribed one, then dropped with the session: the tree shrinks without recursing.
    c.send(Packet::Unsubscribe(Unsubscribe {
        packet_id: 3,
        filters: vec![deep.as_str().into()],
        properties: Default::default(),
    }))
    .await;
    assert!(matches!(c.recv().await, Some(Packet::UnsubAck(_))));
    c.disconnect().await;
    publ.disconnect().await;
    assert_serving(&mut broker, "the deepest trees").await;
    let topics = common::http::get(&http, "/api/v1/mqtt/topics").await;
    assert!(!topics.text().contains("\"+\""), "{}", topics.text());
}

#[tokio::test]
async fn one_client_holds_100k_filters_and_the_broker_stays_responsive() {
    let (mut broker, http, _dir) = broker_with("      maximum-topic-levels: 128\n");
    let mut c = TestClient::connect(&broker.addr(), Protocol::V5, "hoarder").await;
    const N: usize = 100_000;
    const PER_PACKET: usize = 2_000;
    for batch in 0..N / PER_PACKET {
        let filters: Vec<String> = (0..PER_PACKET)
            .map(|i| format!("hoard/{}/{}", batch, i))
            .collect();
        let reasons = subscribe_all(&mut c, batch as u16 + 1, &filters).await;
        assert_eq!(reasons.len(), PER_PACKET);
        assert!(reasons.iter().all(|r| *r == ReasonCode::GRANTED_QOS_1));
        if batch % 10 == 0 {
            // Another client connects and is served while the hoard grows.
            let other = TestClient::connect(&broker.addr(), Protocol::V3_1_1, "bystander").await;
            other.disconnect().await;
        }
    }
    let stats = common::http::get(&http, "/mqtt/stats").await.json();
    assert_eq!(stats["subscriptions"], N as u64, "{stats}");
    let mut publ = TestClient::connect(&broker.addr(), Protocol::V5, "hoard-pub").await;
    publ.publish("hoard/49/1999", b"found", QoS::AtLeastOnce, false, 1)
        .await;
    assert_eq!(&c.expect_publish_acked().await.payload[..], b"found");
    // Half unsubscribed, the rest dropped with the session.
    for batch in 0..N / PER_PACKET / 2 {
        let filters = (0..PER_PACKET)
            .map(|i| format!("hoard/{}/{}", batch, i).as_str().into())
            .collect();
        c.send(Packet::Unsubscribe(Unsubscribe {
            packet_id: batch as u16 + 1,
            filters,
            properties: Default::default(),
        }))
        .await;
        match c.recv().await {
            Some(Packet::UnsubAck(a)) => {
                assert!(a.reasons.iter().all(|r| *r == ReasonCode::SUCCESS))
            }
            other => panic!("expected UNSUBACK, got {other:?}"),
        }
    }
    let stats = common::http::get(&http, "/mqtt/stats").await.json();
    assert_eq!(stats["subscriptions"], (N / 2) as u64, "{stats}");
    c.disconnect().await;
    publ.disconnect().await;
    wait_until("every subscription is gone", || async {
        common::http::get(&http, "/mqtt/stats").await.json()["subscriptions"] == 0
    })
    .await;
    assert_serving(&mut broker, "100k filters").await;
}

#[tokio::test]
async fn subscriptions_beyond_the_quota_get_0x97() {
    let (mut broker, _http, _dir) = broker_with("      maximum-subscriptions-per-client: 3\n");
    let filters: Vec<String> = ["q/1", "q/2", "q/3", "q/4"].map(String::from).to_vec();
    let mut v5 = TestClient::connect(&broker.addr(), Protocol::V5, "quota5").await;
    let reasons = subscribe_all(&mut v5, 1, &filters).await;
    assert_eq!(
        reasons,
        [
            ReasonCode::GRANTED_QOS_1,
            ReasonCode::GRANTED_QOS_1,
            ReasonCode::GRANTED_QOS_1,
            ReasonCode::QUOTA_EXCEEDED
        ]
    );
    // Subscribing again to a filter it holds is not a new subscription.
    let reasons = subscribe_all(&mut v5, 2, &filters[..1]).await;
    assert_eq!(reasons, [ReasonCode::GRANTED_QOS_1]);
    let mut v3 = TestClient::connect(&broker.addr(), Protocol::V3_1_1, "quota3").await;
    let reasons = subscribe_all(&mut v3, 1, &filters).await;
    assert_eq!(reasons[3], ReasonCode::V3_SUBACK_FAILURE);
    v5.disconnect().await;
    v3.disconnect().await;
    assert_serving(&mut broker, "the quota").await;
}

/// Waits (up to 60 s) until `done` holds.
async fn wait_until<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads PUBLISH packets from `stream`, acknowledging QoS 1, until `want` distinct topics
/// arrived (or nothing comes for 20 s); returns the topics.
async fn collect_topics(
    stream: &mut TcpStream,
    protocol: Protocol,
    want: usize,
) -> HashSet<String> {
    let mut topics = HashSet::new();
    let mut rbuf = BytesMut::with_capacity(1 << 16);
    let mut acks = BytesMut::new();
    while topics.len() < want {
        loop {
            match decode(&mut rbuf, protocol, usize::MAX) {
                Ok(Some(Packet::Publish(p))) => {
                    if p.qos == QoS::AtLeastOnce {
                        Packet::PubAck(PubReply::new(p.packet_id))
                            .encode(protocol, &mut acks)
                            .expect("encode");
                    }
                    topics.insert(p.topic.to_string());
                }
                Ok(Some(Packet::SubAck(_))) => {}
                Ok(Some(other)) => panic!("unexpected {other:?}"),
                Ok(None) => break,
                Err(e) => panic!("malformed packet from the broker: {e}"),
            }
        }
        if !acks.is_empty() {
            stream.write_all(&acks).await.expect("acks");
            acks.clear();
        }
        if topics.len() >= want {
            break;
        }
        match tokio::time::timeout(Duration::from_secs(20), stream.read_buf(&mut rbuf)).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => break,
        }
    }
    topics
}

/// Opens a raw connection, sends CONNECT and reads the CONNACK.
async fn raw_connect(addr: &str, connect: Connect) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut out = BytesMut::new();
    let protocol = connect.protocol;
    Packet::Connect(Box::new(connect))
        .encode(protocol, &mut out)
        .expect("encode");
    stream.write_all(&out).await.expect("write");
    let mut rbuf = BytesMut::new();
    loop {
        if let Some(p) = decode(&mut rbuf, protocol, usize::MAX).expect("decode") {
            match p {
                Packet::ConnAck(a) => {
                    assert_eq!(a.code, ReasonCode::SUCCESS);
                    return stream;
                }
                other => panic!("expected CONNACK, got {other:?}"),
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read_buf(&mut rbuf))
            .await
            .expect("CONNACK in time")
            .expect("read");
        assert!(n > 0, "closed before CONNACK");
    }
}

#[tokio::test]
async fn a_qos1_subscriber_to_200k_retained_topics_gets_every_one() {
    let mut broker = BrokerProcess::start(&[]);
    const N: usize = 200_000;
    // Published in large writes; the last one at QoS 1, so its PUBACK says all are stored.
    let mut publ = TestClient::connect(&broker.addr(), Protocol::V3_1_1, "retainer").await;
    let mut buf = BytesMut::new();
    for i in 0..N - 1 {
        let mut p = Publish::new(format!("ret/{}/{}", i % 100, i), QoS::AtMostOnce, &b"r"[..]);
        p.retain = true;
        Packet::Publish(p)
            .encode(Protocol::V3_1_1, &mut buf)
            .expect("encode");
        if buf.len() > 256 * 1024 {
            publ.send_raw(&buf).await;
            buf.clear();
        }
    }
    publ.send_raw(&buf).await;
    publ.publish(
        &format!("ret/last/{}", N - 1),
        b"r",
        QoS::AtLeastOnce,
        true,
        1,
    )
    .await;

    let mut sub = raw_connect(&broker.addr(), Connect::new(Protocol::V3_1_1, "greedy")).await;
    let mut out = BytesMut::new();
    Packet::Subscribe(Subscribe::new(
        1,
        "ret/#",
        SubscriptionOptions::qos(QoS::AtLeastOnce),
    ))
    .encode(Protocol::V3_1_1, &mut out)
    .expect("encode");
    sub.write_all(&out).await.expect("subscribe");
    let topics = collect_topics(&mut sub, Protocol::V3_1_1, N).await;
    assert_eq!(
        topics.len(),
        N,
        "retained messages delivered to a reading QoS 1 subscriber"
    );
    assert_serving(&mut broker, "200k retained").await;
}

#[tokio::test]
async fn ten_thousand_wills_due_together_all_reach_a_qos1_watcher() {
    let _ = rlimit::increase_nofile_limit(20_000);
    let mut broker = BrokerProcess::start(&[]);
    const N: usize = 10_000;
    let mut watcher = raw_connect(&broker.addr(), Connect::new(Protocol::V3_1_1, "watcher")).await;
    let mut out = BytesMut::new();
    Packet::Subscribe(Subscribe::new(
        1,
        "wills/#",
        SubscriptionOptions::qos(QoS::AtLeastOnce),
    ))
    .encode(Protocol::V3_1_1, &mut out)
    .expect("encode");
    watcher.write_all(&out).await.expect("subscribe");
    let mut suback = [0u8; 5];
    watcher.read_exact(&mut suback).await.expect("SUBACK");
    assert_eq!(suback, [0x90, 3, 0, 1, 1]);

    // 10k v5 clients, each with a will delayed by 2 s: they drop at once, their wills fall
    // due in the same second.
    let addr = broker.addr();
    let mut conns = Vec::with_capacity(N);
    for chunk in 0..N / 500 {
        let tasks: Vec<_> = (0..500)
            .map(|i| {
                let addr = addr.clone();
                let n = chunk * 500 + i;
                tokio::spawn(async move {
                    let mut c = Connect::new(Protocol::V5, format!("doomed-{n}"));
                    c.properties.session_expiry_interval = Some(60);
                    let mut will = LastWill {
                        topic: format!("wills/{n}").as_str().into(),
                        payload: "gone".into(),
                        qos: QoS::AtLeastOnce,
                        ..LastWill::default()
                    };
                    will.properties.will_delay_interval = Some(2);
                    c.will = Some(will);
                    raw_connect(&addr, c).await
                })
            })
            .collect();
        for t in tasks {
            conns.push(t.await.expect("connect task"));
        }
    }
    drop(conns);
    let topics = collect_topics(&mut watcher, Protocol::V3_1_1, N).await;
    assert_eq!(
        topics.len(),
        N,
        "wills delivered to a reading QoS 1 watcher"
    );
    assert_serving(&mut broker, "a will storm").await;
}

#[tokio::test]
async fn a_client_still_writing_after_receive_maximum_reads_the_0x93() {
    let (mut broker, _http, _dir) = broker_with("      receive-maximum: 10\n");
    for round in 0..5 {
        let stream = raw_connect(
            &broker.addr(),
            Connect::new(Protocol::V5, format!("flood-{round}")),
        )
        .await;
        let (mut rd, mut wr) = stream.into_split();
        // QoS 2 PUBLISHes never released: the 11th exceeds the receive maximum. The client
        // writes all of them before it reads anything, as a client busy sending does.
        let mut buf = BytesMut::new();
        for id in 1..=4_000u16 {
            let mut p = Publish::new("flood", QoS::ExactlyOnce, vec![0u8; 1000]);
            p.packet_id = id;
            Packet::Publish(p)
                .encode(Protocol::V5, &mut buf)
                .expect("encode");
        }
        // Every write goes through: the broker reads (and discards) until the client is done.
        for chunk in buf.chunks(4096) {
            wr.write_all(chunk)
                .await
                .unwrap_or_else(|e| panic!("round {round}: writing after the limit: {e}"));
        }
        let mut rbuf = BytesMut::new();
        let reason = 'read: loop {
            while let Some(p) = decode(&mut rbuf, Protocol::V5, usize::MAX).expect("decode") {
                if let Packet::Disconnect(d) = p {
                    break 'read d.reason;
                }
            }
            match tokio::time::timeout(Duration::from_secs(10), rd.read_buf(&mut rbuf)).await {
                Ok(Ok(n)) if n > 0 => {}
                other => panic!("round {round}: no DISCONNECT before the close: {other:?}"),
            }
        };
        assert_eq!(
            reason,
            ReasonCode::RECEIVE_MAXIMUM_EXCEEDED,
            "round {round}"
        );
        drop(wr);
    }
    assert_serving(&mut broker, "receive maximum floods").await;
}

#[tokio::test]
async fn what_a_client_sent_before_reconnecting_takes_effect_first() {
    let mut broker = BrokerProcess::start(&[]);
    let addr = broker.addr();
    for round in 0..100u32 {
        // A retained message, then a retained clear at QoS 0, then a new connection of the
        // same client id at once: the clear must have happened.
        let mut c = Connect::new(Protocol::V5, "hasty");
        c.clean_start = false;
        c.properties.session_expiry_interval = Some(60);
        let mut old = raw_connect(&addr, c.clone()).await;
        let mut out = BytesMut::new();
        let mut set = Publish::new(
            "hasty/state",
            QoS::AtMostOnce,
            format!("v{round}").into_bytes(),
        );
        set.retain = true;
        Packet::Publish(set)
            .encode(Protocol::V5, &mut out)
            .expect("encode");
        let mut clear = Publish::new("hasty/state", QoS::AtMostOnce, &b""[..]);
        clear.retain = true;
        Packet::Publish(clear)
            .encode(Protocol::V5, &mut out)
            .expect("encode");
        old.write_all(&out).await.expect("write");
        let new = raw_connect(&addr, c.clone()).await;
        let mut checker = TestClient::connect(&addr, Protocol::V5, "hasty-check").await;
        let ack = checker
            .subscribe(1, "hasty/state", SubscriptionOptions::qos(QoS::AtMostOnce))
            .await;
        assert_eq!(ack.reasons, [ReasonCode::GRANTED_QOS_0]);
        if let Ok(Some(p)) = checker.recv_within(Duration::from_millis(200)).await {
            panic!("round {round}: the retained clear was lost, got {p:?}");
        }
        checker.disconnect().await;
        drop(new);
        drop(old);

        // A DISCONNECT that ends the session (expiry 0), then a resuming CONNECT at once:
        // the session is gone.
        let mut old = raw_connect(&addr, c.clone()).await;
        let mut d = Disconnect::new(ReasonCode::SUCCESS);
        d.properties.session_expiry_interval = Some(0);
        let mut out = BytesMut::new();
        Packet::Disconnect(d)
            .encode(Protocol::V5, &mut out)
            .expect("encode");
        old.write_all(&out).await.expect("write");
        let (again, ack) = TestClient::connect_with(&addr, c.clone()).await;
        assert_eq!(ack.code, ReasonCode::SUCCESS);
        assert!(
            !ack.session_present,
            "round {round}: the session outlived its DISCONNECT"
        );
        again.disconnect().await;
        drop(old);
    }
    assert_serving(&mut broker, "hasty reconnects").await;
}

#[tokio::test]
async fn the_listen_backlog_is_1024_by_default_and_configurable() {
    for (extra, want) in [(vec![], 1024), (vec!["--listen-backlog", "77"], 77)] {
        let broker = BrokerProcess::start(&extra);
        let out = common::run_tool(
            "ss",
            &["-ltnH", &format!("sport = :{}", broker.port)],
            Duration::from_secs(10),
        );
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        // State, Recv-Q, Send-Q (the backlog of a listening socket), ...
        let backlog: u32 = text
            .split_whitespace()
            .nth(2)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("ss output: {text:?}"));
        let somaxconn: u32 = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(u32::MAX);
        assert_eq!(backlog, want.min(somaxconn), "{extra:?}");
    }
}
