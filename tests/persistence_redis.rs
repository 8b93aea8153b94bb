//! The Redis store (`--storage-way 3`) against a real `redis-server` started on a free port:
//! state survives `kill -9` of the broker, keys follow the original's layout, and Redis going
//! away mid-run holds acknowledgements (no loss, no crash) until it is back.

mod common;

use std::time::Duration;

use common::redis::RedisServer;
use common::{BrokerProcess, TestClient, free_port, run_tool};
use comqtt::mqtt::{Connect, Packet, Protocol, Publish, QoS, ReasonCode};

fn start_broker(redis: u16) -> BrokerProcess {
    BrokerProcess::start_custom(move |port| {
        [
            "serve",
            "--tcp",
            &format!("127.0.0.1:{port}"),
            "--ws",
            "",
            "--storage-way",
            "3",
            "--redis",
            &format!("127.0.0.1:{redis}"),
            "--level",
            "0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    })
}

fn persistent(client_id: &str) -> Connect {
    let mut c = Connect::new(Protocol::V5, client_id);
    c.clean_start = false;
    c.properties.session_expiry_interval = Some(600);
    c
}

#[tokio::test]
async fn sessions_queued_messages_and_retained_survive_kill_9_with_redis() {
    let redis = RedisServer::start(free_port());
    let broker = start_broker(redis.port);
    let (mut sub, _) = TestClient::connect_with(&broker.addr(), persistent("rs-sub")).await;
    sub.subscribe_qos(1, "rs/+", QoS::AtLeastOnce).await;
    sub.disconnect().await;
    let mut publ = TestClient::connect(&broker.addr(), Protocol::V5, "rs-pub").await;
    publ.publish("rs/1", b"queued", QoS::AtLeastOnce, false, 1)
        .await;
    publ.publish("rs/2", b"kept", QoS::AtLeastOnce, true, 2)
        .await;
    // The original's key layout.
    assert!(redis.cli(&["hkeys", "comqtt:cl"]).contains("rs-sub"));
    assert!(redis.cli(&["hkeys", "comqtt:sub:rs-sub"]).contains("rs/+"));
    assert!(redis.cli(&["hkeys", "comqtt:ret"]).contains("rs/2"));
    assert_eq!(redis.cli(&["hlen", "comqtt:ifm:rs-sub"]).trim(), "2");
    drop(broker);

    let broker = start_broker(redis.port);
    let (mut sub, ack) = TestClient::connect_with(&broker.addr(), persistent("rs-sub")).await;
    assert!(ack.session_present);
    assert_eq!(&sub.expect_publish_acked().await.payload[..], b"queued");
    assert_eq!(&sub.expect_publish_acked().await.payload[..], b"kept");
    let mut other = TestClient::connect(&broker.addr(), Protocol::V5, "rs-late").await;
    other.subscribe_qos(1, "rs/#", QoS::AtMostOnce).await;
    let p = other.expect_publish().await;
    assert_eq!((&p.topic[..], p.retain), ("rs/2", true));
}

#[tokio::test]
async fn redis_lost_at_runtime_holds_acks_refuses_new_persistent_sessions_and_recovers() {
    let port = free_port();
    let redis = RedisServer::start(port);
    let mut broker = start_broker(port);
    let (mut sub, _) = TestClient::connect_with(&broker.addr(), persistent("rl-sub")).await;
    sub.subscribe_qos(1, "rl", QoS::AtLeastOnce).await;
    sub.disconnect().await;
    drop(redis);

    let mut publ = TestClient::connect(&broker.addr(), Protocol::V5, "rl-pub").await;
    let mut p = Publish::new("rl", QoS::AtLeastOnce, &b"while redis is down"[..]);
    p.packet_id = 1;
    publ.send(Packet::Publish(p)).await;
    // Not acknowledged while the message cannot be made durable.
    publ.expect_nothing(Duration::from_millis(800)).await;
    assert!(broker.is_running());
    let (_, ack) = TestClient::connect_with(&broker.addr(), persistent("rl-new")).await;
    assert_eq!(
        ack.code,
        ReasonCode::SERVER_UNAVAILABLE,
        "no persistent session can be promised now"
    );
    // A clean session still works meanwhile.
    TestClient::connect(&broker.addr(), Protocol::V5, "rl-clean").await;

    let _redis = RedisServer::start(port);
    match publ.recv_within(Duration::from_secs(10)).await {
        Ok(Some(Packet::PubAck(a))) => assert_eq!(a.packet_id, 1),
        other => panic!("expected the held PUBACK once redis is back, got {other:?}"),
    }
    let (mut sub, ack) = TestClient::connect_with(&broker.addr(), persistent("rl-sub")).await;
    assert!(ack.session_present);
    assert_eq!(
        &sub.expect_publish_acked().await.payload[..],
        b"while redis is down"
    );
    assert!(
        broker.log_text().contains("storage write failed"),
        "the outage is logged"
    );
}

#[test]
fn unreachable_redis_at_startup_is_a_clear_error_naming_the_address() {
    let port = free_port();
    let out = run_tool(
        env!("CARGO_BIN_EXE_comqtt"),
        &[
            "serve",
            "--tcp",
            "127.0.0.1:0",
            "--ws",
            "",
            "--http",
            "",
            "--storage-way",
            "3",
            "--redis",
            &format!("127.0.0.1:{port}"),
        ],
        Duration::from_secs(15),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("127.0.0.1:{port}")) && !err.contains("panicked"),
        "{err}"
    );
}
