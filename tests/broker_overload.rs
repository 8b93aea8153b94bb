//! Overload protection (`mqtt.options.overload`) against a real `comqtt serve` process driven
//! past a small queued-messages watermark by real clients: it refuses new connections with
//! CONNACK 0x89 (3.1.1: 0x03), sheds QoS 0 for a subscriber that is behind, answers `/readyz`
//! 503, keeps serving the clients it has, counts all of it in `/metrics`, and recovers below
//! the low mark. A memory watermark set and lifted by a reload does the same.

mod common;

use std::time::{Duration, Instant};

use common::http::{authorized, get, metric};
use common::temp_dir::TempDir;
use common::{BrokerProcess, TestClient};
use comqtt::mqtt::{Connect, Packet, Protocol, Publish, QoS, ReasonCode};

const TOKEN: &str = "overload-token";

/// Waits until `/readyz` answers `status` — for 503, with `{"status": "overloaded"}` (a node
/// still starting answers 503 too).
async fn readyz_becomes(http: &str, status: u16) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = get(http, "/readyz").await;
        if r.status == status && (status != 503 || r.json()["status"] == "overloaded") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz never answered {status}: {} {}",
            r.status,
            r.text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn connack(addr: &str, protocol: Protocol, id: &str) -> ReasonCode {
    TestClient::connect_with(addr, Connect::new(protocol, id))
        .await
        .1
        .code
}

#[tokio::test]
async fn past_the_queued_watermark_new_clients_are_refused_qos0_is_shed_and_it_recovers() {
    let dir = TempDir::new("overload-queued");
    let conf = dir.file(
        "overload.yml",
        "mqtt:\n  options:\n    overload:\n      queued-high-mark: 300\n      queued-low-mark: 100\n      check-interval-ms: 50\n",
    );
    let (b, http) = BrokerProcess::start_with_http(&["--conf", &conf]);
    let addr = b.addr();
    readyz_becomes(&http, 200).await;

    // A persistent session that went away queues what it subscribed to.
    let mut away = Connect::new(Protocol::V5, "away");
    away.clean_start = true;
    away.properties.session_expiry_interval = Some(600);
    let (mut c, ack) = TestClient::connect_with(&addr, away).await;
    assert_eq!(ack.code, ReasonCode::SUCCESS);
    c.subscribe_qos(1, "queued/#", QoS::AtLeastOnce).await;
    c.disconnect().await;
    // A connected subscriber of QoS 0 that does not read.
    let mut slow = TestClient::connect(&addr, Protocol::V5, "slow").await;
    slow.subscribe_qos(1, "bulk/#", QoS::AtMostOnce).await;

    let mut publisher = TestClient::connect(&addr, Protocol::V5, "publisher").await;
    for i in 0..400u16 {
        publisher
            .publish("queued/x", b"m", QoS::AtLeastOnce, false, i + 1)
            .await;
    }
    readyz_becomes(&http, 503).await;
    assert_eq!(get(&http, "/readyz").await.json()["status"], "overloaded");
    assert_eq!(metric(&http, "comqtt_overloaded").await, 1);
    assert_eq!(
        connack(&addr, Protocol::V5, "new-v5").await,
        ReasonCode::SERVER_BUSY
    );
    assert_eq!(
        connack(&addr, Protocol::V3_1_1, "new-v3").await,
        ReasonCode::V3_SERVER_UNAVAILABLE
    );
    assert!(metric(&http, "comqtt_connections_refused_overload_total").await >= 2);

    // QoS 0 for the subscriber that does not read: once it is behind, shed. 64 KiB payloads
    // fill the socket buffers first.
    let payload = vec![7u8; 64 * 1024];
    let mut burst = bytes::BytesMut::new();
    for _ in 0..400 {
        Packet::Publish(Publish::new("bulk/x", QoS::AtMostOnce, payload.clone()))
            .encode(Protocol::V5, &mut burst)
            .expect("encode");
    }
    publisher.send_raw(&burst).await;
    // The clients it has are still served.
    publisher
        .publish("elsewhere", b"still", QoS::AtLeastOnce, false, 1000)
        .await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while metric(&http, "comqtt_messages_shed_total").await == 0 {
        assert!(Instant::now() < deadline, "no QoS 0 message was shed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(b.log_contains("overloaded: refusing new connections"));

    // A client taking back a session with messages waiting is let in: it drains them. With
    // the slow subscriber gone too, the queues fall below the low mark and the broker recovers.
    drop(slow);
    let mut back = Connect::new(Protocol::V5, "away");
    back.clean_start = false;
    back.properties.session_expiry_interval = Some(600);
    let (mut away, ack) = TestClient::connect_with(&addr, back).await;
    assert_eq!(ack.code, ReasonCode::SUCCESS);
    assert!(ack.session_present);
    for _ in 0..400 {
        assert_eq!(away.expect_publish_acked().await.topic, "queued/x");
    }
    readyz_becomes(&http, 200).await;
    assert_eq!(
        connack(&addr, Protocol::V5, "new-again").await,
        ReasonCode::SUCCESS
    );
    assert_eq!(metric(&http, "comqtt_overloaded").await, 0);
    assert!(b.log_contains("no longer overloaded"));
    drop(dir);
}

#[tokio::test]
async fn a_memory_watermark_set_and_lifted_by_reloads() {
    let dir = TempDir::new("overload-memory");
    let conf = dir.file(
        "overload.yml",
        "mqtt:\n  options:\n    overload:\n      check-interval-ms: 50\n",
    );
    let (b, http) = BrokerProcess::start_with_http(&["--conf", &conf, "--http-token", TOKEN]);
    let addr = b.addr();
    readyz_becomes(&http, 200).await;
    let mut kept = TestClient::connect(&addr, Protocol::V5, "kept").await;
    // 1 MiB: any running broker is above it.
    std::fs::write(
        &conf,
        "mqtt:\n  options:\n    overload:\n      memory-high-mark: 1048576\n      check-interval-ms: 50\n",
    )
    .expect("conf");
    let r = authorized(&http, "POST", "/api/v1/reload", Some(TOKEN), None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    readyz_becomes(&http, 503).await;
    assert_eq!(
        connack(&addr, Protocol::V5, "refused").await,
        ReasonCode::SERVER_BUSY
    );
    assert!(metric(&http, "comqtt_overload_memory_bytes").await > 1 << 20);
    // Connected clients are served throughout.
    kept.send(Packet::PingReq).await;
    assert_eq!(kept.recv().await, Some(Packet::PingResp));

    std::fs::write(
        &conf,
        "mqtt:\n  options:\n    overload:\n      check-interval-ms: 50\n",
    )
    .expect("conf");
    let r = authorized(&http, "POST", "/api/v1/reload", Some(TOKEN), None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    readyz_becomes(&http, 200).await;
    assert_eq!(
        connack(&addr, Protocol::V5, "admitted").await,
        ReasonCode::SUCCESS
    );
    assert_eq!(metric(&http, "comqtt_overloaded").await, 0);
    assert_eq!(metric(&http, "comqtt_overload_entered_total").await, 1);
    assert!(b.log_contains("no longer overloaded"));
    drop(dir);
}
