//! A cluster on a shared Redis store (`--storage-way 3`, the original's cluster storage),
//! against a real `redis-server`: a persistent session whose node dies is found by the node
//! its client connects to next, with the messages that were queued for it; a restarted node
//! restores only its own sessions; counters are kept per node; the sessions of a node that
//! is gone for good are settled by the leader (wills published, expired sessions ended).

mod common;

use std::time::Duration;

use common::TestClient;
use common::cluster::Cluster;
use common::free_port;
use common::redis::RedisServer;
use comqtt::mqtt::{Connect, LastWill, Protocol, QoS, ReasonCode};

fn persistent(id: &str) -> Connect {
    let mut k = Connect::new(Protocol::V5, id);
    k.clean_start = false;
    k.properties.session_expiry_interval = Some(3600);
    k
}

fn on_redis(redis: &RedisServer) -> Vec<String> {
    vec![
        "--storage-way".into(),
        "3".into(),
        "--redis".into(),
        format!("127.0.0.1:{}", redis.port),
    ]
}

#[tokio::test]
async fn the_session_of_a_dead_node_is_found_by_the_next_node_with_its_queued_messages() {
    let redis = RedisServer::start(free_port());
    let args = on_redis(&redis);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut c = Cluster::start(3, &args);
    c.wait_voters(3).await;
    let (mut phone, _) = TestClient::connect_with(&c.nodes[0].addr(), persistent("phone")).await;
    phone
        .subscribe_qos(1, "inbox/phone", QoS::AtLeastOnce)
        .await;
    c.wait_routes(1, "inbox/phone on c0", |r| {
        r["inbox/phone"] == serde_json::json!(["c0"])
    })
    .await;
    phone.disconnect().await;
    // Queued on node 0 (and stored in Redis) while the client is away...
    let mut sender = TestClient::connect(&c.nodes[1].addr(), Protocol::V5, "sender").await;
    for i in 1..=3u16 {
        sender
            .publish(
                "inbox/phone",
                format!("m{i}").as_bytes(),
                QoS::AtLeastOnce,
                false,
                i,
            )
            .await;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while redis.cli(&["HLEN", "comqtt:ifm:phone"]).trim() != "3" {
        assert!(
            std::time::Instant::now() < deadline,
            "queued messages never reached Redis"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // ...then node 0 dies. Until gossip sees it gone, a node cannot know it does not hold
    // the session any more, and answers 0x88 (server unavailable): the client tries again.
    c.kill(0);
    let mut attempt = 0;
    let (mut phone, ack) = loop {
        let (client, ack) = TestClient::connect_with(&c.nodes[2].addr(), persistent("phone")).await;
        if ack.code == ReasonCode::SUCCESS {
            break (client, ack);
        }
        assert_eq!(ack.code, ReasonCode::SERVER_UNAVAILABLE);
        attempt += 1;
        assert!(attempt < 40, "still refused after the node was gone");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(ack.session_present, "the session was found in Redis");
    for i in 1..=3 {
        assert_eq!(
            phone.expect_publish_acked().await.payload,
            format!("m{i}").into_bytes()
        );
    }
    // The session is node 2's now, in Redis too, and new messages reach it there. (Node 0's
    // routes stay until the leader sees it holds no session: they park messages for the
    // sessions of a node that is away.)
    c.wait_routes(1, "inbox/phone on c2", |r| {
        r["inbox/phone"]
            .as_array()
            .is_some_and(|nodes| nodes.iter().any(|n| n == "c2"))
    })
    .await;
    sender
        .publish("inbox/phone", b"m4", QoS::AtLeastOnce, false, 4)
        .await;
    assert_eq!(&phone.expect_publish_acked().await.payload[..], b"m4");
    let record = redis.cli(&["HGET", "comqtt:cl", "phone"]);
    assert!(
        record.contains("c2"),
        "the record names its new owner: {record:?}"
    );
}

#[tokio::test]
async fn a_restarted_node_restores_its_own_sessions_only() {
    let redis = RedisServer::start(free_port());
    let args = on_redis(&redis);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut c = Cluster::start(2, &args);
    c.wait_voters(2).await;
    for (node, id) in [(0, "mine"), (1, "theirs")] {
        let (mut client, _) = TestClient::connect_with(&c.nodes[node].addr(), persistent(id)).await;
        client
            .subscribe_qos(1, &format!("t/{id}"), QoS::AtLeastOnce)
            .await;
        client.disconnect().await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.kill(0);
    c.restart(0);
    c.wait_voters(2).await;
    let sessions = c.ctl_json(0, &["inspect", "sessions"]);
    let ids: Vec<&str> = sessions
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(ids, ["mine"], "{sessions}");
    // Its routes came back with it.
    c.wait_routes(1, "t/mine on c0", |r| {
        r["t/mine"] == serde_json::json!(["c0"])
    })
    .await;
    // Counters are kept per node, not overwritten by each other.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let fields = redis.cli(&["HKEYS", "comqtt:sys"]);
        if fields.contains("c0") && fields.contains("c1") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "per-node counters: {fields}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn the_leader_publishes_the_wills_and_ends_the_sessions_of_a_node_gone_for_good() {
    let redis = RedisServer::start(free_port());
    let args = on_redis(&redis);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut c = Cluster::start(3, &args);
    c.wait_voters(3).await;
    let leader = c.get(0, "/api/v1/cluster/raft").await["leader"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (doomed_node, watcher_node) = match leader.as_str() {
        "c2" => (1, 2),
        _ => (2, 0),
    };
    let mut watcher = TestClient::connect(&c.nodes[watcher_node].addr(), Protocol::V5, "w").await;
    watcher.subscribe_qos(1, "wills/#", QoS::AtLeastOnce).await;
    // On the doomed node: a client connected with a will, and a session already offline;
    // both expire 5 s after their disconnection.
    let short = |id: &str| {
        let mut k = persistent(id);
        k.properties.session_expiry_interval = Some(5);
        k
    };
    let mut with_will = short("doomed");
    with_will.will = Some(LastWill {
        topic: "wills/doomed".into(),
        payload: bytes::Bytes::from_static(b"lost"),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: Default::default(),
    });
    let (_doomed, ack) = TestClient::connect_with(&c.nodes[doomed_node].addr(), with_will).await;
    assert_eq!(ack.code, ReasonCode::SUCCESS);
    let (idle, _) = TestClient::connect_with(&c.nodes[doomed_node].addr(), short("idle")).await;
    idle.disconnect().await;
    c.wait_routes(doomed_node, "wills/# routed", |r| {
        r.get("wills/#").is_some()
    })
    .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while redis.cli(&["HLEN", "comqtt:cl"]).trim() != "2" {
        assert!(
            std::time::Instant::now() < deadline,
            "sessions never reached Redis"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The node dies and does not come back: after 30 s the leader settles its sessions.
    c.kill(doomed_node);
    match watcher.recv_within(Duration::from_secs(60)).await {
        Ok(Some(comqtt::mqtt::Packet::Publish(p))) => {
            assert_eq!(&*p.topic, "wills/doomed");
            assert_eq!(&p.payload[..], b"lost");
        }
        other => {
            let logs: Vec<String> = c
                .nodes
                .iter()
                .filter_map(|n| n.process.as_ref())
                .map(|p| p.log_text())
                .collect();
            panic!(
                "the will of the dead node's client never came: {other:?}; redis {:?}; logs:\n{}",
                redis.cli(&["HGET", "comqtt:cl", "doomed"]),
                logs.join("\n----\n")
            )
        }
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let left = redis.cli(&["HKEYS", "comqtt:cl"]);
        if !left.contains("doomed") && !left.contains("idle") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "expired sessions of the dead node stayed in Redis: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Published once: nothing else arrives.
    watcher.expect_nothing(Duration::from_secs(2)).await;
}
