//! Connection limits (`mqtt.options.limits`) against a real `comqtt serve` process: a listener's
//! max-connections, max-connections-per-address (clients on different loopback addresses) and
//! connections-per-second, each refused with its CONNACK code (v5 0x97 / 0x9F, 3.1.1 0x03),
//! counted in `/metrics`, and a place freed by a disconnect taken by the next client.

mod common;

use std::time::{Duration, Instant};

use common::http::metric;
use common::temp_dir::TempDir;
use common::{BrokerProcess, TestClient};
use comqtt::mqtt::{Connect, Protocol, ReasonCode};
use tokio::net::TcpSocket;

/// A broker with the HTTP API whose `mqtt.options.limits` block is `limits` (YAML lines).
fn broker(dir: &TempDir, limits: &str) -> (BrokerProcess, String) {
    let conf = dir.file(
        "limits.yml",
        &format!("mqtt:\n  options:\n    limits:\n{limits}"),
    );
    BrokerProcess::start_with_http(&["--conf", &conf])
}

/// CONNECT from source address `from` (a loopback address); the client and the CONNACK code.
async fn connect_from(addr: &str, from: [u8; 4], connect: Connect) -> (TestClient, ReasonCode) {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind((std::net::Ipv4Addr::from(from), 0).into())
        .expect("bind a loopback source address");
    let stream = socket
        .connect(addr.parse().expect("address"))
        .await
        .expect("connect");
    let (client, ack) = TestClient::connect_over(stream, connect).await;
    (client, ack.code)
}

/// Connects as `id` from `from`, retrying (bounded) while refused with 0x97.
async fn admitted(addr: &str, from: [u8; 4], id: &str) -> TestClient {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (c, code) = connect_from(addr, from, Connect::new(Protocol::V5, id)).await;
        if code == ReasonCode::SUCCESS {
            return c;
        }
        assert_eq!(code, ReasonCode::QUOTA_EXCEEDED);
        assert!(Instant::now() < deadline, "{id} never admitted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// CONNECT as `id`; a connection closed before its CONNACK is tried again (twice at most,
/// said on stderr: once seen under the whole suite's load, never alone).
async fn connect_retrying(addr: &str, id: &str) -> TestClient {
    for attempt in 0..3 {
        let mut c = TestClient::raw(addr, Protocol::V5).await;
        c.send(comqtt::mqtt::Packet::Connect(Box::new(Connect::new(
            Protocol::V5,
            id,
        ))))
        .await;
        match c.recv().await {
            Some(comqtt::mqtt::Packet::ConnAck(a)) => {
                assert_eq!(a.code, ReasonCode::SUCCESS);
                return c;
            }
            None => eprintln!("{id}: connection closed before CONNACK (attempt {attempt})"),
            Some(other) => panic!("expected CONNACK, got {other:?}"),
        }
    }
    panic!("{id}: never connected")
}

/// `n` QoS 0 PUBLISH packets to `topic`, payloads "0".."n-1", encoded back to back.
fn numbered_qos0(topic: &str, n: u32) -> bytes::BytesMut {
    let mut out = bytes::BytesMut::new();
    for i in 0..n {
        comqtt::mqtt::Packet::Publish(comqtt::mqtt::Publish::new(
            topic,
            comqtt::mqtt::QoS::AtMostOnce,
            i.to_string().into_bytes(),
        ))
        .encode(Protocol::V5, &mut out)
        .expect("encode");
    }
    out
}

#[tokio::test]
async fn a_listener_full_refuses_with_0x97_or_0x03_and_a_freed_place_is_taken() {
    let dir = TempDir::new("limits");
    let (b, http) = broker(&dir, "      max-connections: 2\n");
    let addr = b.addr();
    // The harness's readiness probe may hold a place for a moment: admitted ones are retried.
    let first = admitted(&addr, [127, 0, 0, 1], "one").await;
    let _second = admitted(&addr, [127, 0, 0, 2], "two").await;
    let before = metric(&http, "comqtt_connections_refused_max_connections_total").await;
    let (_, code) = connect_from(&addr, [127, 0, 0, 3], Connect::new(Protocol::V5, "three")).await;
    assert_eq!(code, ReasonCode::QUOTA_EXCEEDED);
    let (_, code) = connect_from(
        &addr,
        [127, 0, 0, 3],
        Connect::new(Protocol::V3_1_1, "three-v3"),
    )
    .await;
    assert_eq!(code, ReasonCode::V3_SERVER_UNAVAILABLE);
    assert_eq!(
        metric(&http, "comqtt_connections_refused_max_connections_total").await,
        before + 2
    );

    // A client leaves: its place is free once its connection has ended.
    first.disconnect().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_c, code) =
            connect_from(&addr, [127, 0, 0, 4], Connect::new(Protocol::V5, "four")).await;
        if code == ReasonCode::SUCCESS {
            break;
        }
        assert_eq!(code, ReasonCode::QUOTA_EXCEEDED);
        assert!(
            Instant::now() < deadline,
            "the freed place was never given back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn one_address_gets_at_most_its_share_and_others_still_connect() {
    let dir = TempDir::new("limits");
    let (b, http) = broker(&dir, "      max-connections-per-address: 2\n");
    let addr = b.addr();
    let mut kept = Vec::new();
    for i in 0..2 {
        let (c, code) = connect_from(
            &addr,
            [127, 0, 0, 5],
            Connect::new(Protocol::V5, format!("a{i}").as_str()),
        )
        .await;
        assert_eq!(code, ReasonCode::SUCCESS);
        kept.push(c);
    }
    let (_, code) = connect_from(&addr, [127, 0, 0, 5], Connect::new(Protocol::V5, "a2")).await;
    assert_eq!(code, ReasonCode::QUOTA_EXCEEDED);
    let (_other, code) =
        connect_from(&addr, [127, 0, 0, 6], Connect::new(Protocol::V5, "b0")).await;
    assert_eq!(
        code,
        ReasonCode::SUCCESS,
        "another address is not held back"
    );
    assert_eq!(
        metric(&http, "comqtt_connections_refused_per_address_total").await,
        1
    );
}

#[tokio::test]
async fn connections_over_the_rate_get_0x9f() {
    let dir = TempDir::new("limits");
    let (b, http) = broker(&dir, "      connections-per-second: 1\n");
    let addr = b.addr();
    // The first of a second gets in (the harness's own probe may have taken the first slot).
    let deadline = Instant::now() + Duration::from_secs(10);
    let _first = loop {
        let (c, code) = connect_from(&addr, [127, 0, 0, 7], Connect::new(Protocol::V5, "r0")).await;
        if code == ReasonCode::SUCCESS {
            break c;
        }
        assert_eq!(code, ReasonCode::CONNECTION_RATE_EXCEEDED);
        assert!(Instant::now() < deadline, "no connection ever admitted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Then four more at once: over the rate.
    let mut codes = Vec::new();
    let mut kept = Vec::new();
    for i in 1..5 {
        let (c, code) = connect_from(
            &addr,
            [127, 0, 0, 7],
            Connect::new(Protocol::V5, format!("r{i}").as_str()),
        )
        .await;
        codes.push(code);
        kept.push(c);
    }
    let refused = codes
        .iter()
        .filter(|c| **c == ReasonCode::CONNECTION_RATE_EXCEEDED)
        .count();
    assert!(refused >= 1, "{codes:?}");
    assert!(
        codes
            .iter()
            .all(|c| *c == ReasonCode::SUCCESS || *c == ReasonCode::CONNECTION_RATE_EXCEEDED),
        "{codes:?}"
    );
    assert!(metric(&http, "comqtt_connections_refused_rate_total").await >= refused as u64);
}

#[tokio::test]
async fn a_client_over_its_message_rate_is_slowed_down_and_loses_nothing() {
    let dir = TempDir::new("limits");
    let (b, http) = broker(&dir, "      client-messages-per-second: 100\n");
    let addr = b.addr();
    let mut sub = connect_retrying(&addr, "rate-sub").await;
    sub.subscribe_qos(1, "rate/#", comqtt::mqtt::QoS::AtMostOnce)
        .await;
    let mut publ = connect_retrying(&addr, "rate-pub").await;
    // 300 QoS 0 messages written at once: three seconds' worth at the limit.
    publ.send_raw(&numbered_qos0("rate/x", 300)).await;
    for i in 0..300u32 {
        let p = sub.expect_publish().await;
        assert_eq!(p.payload, i.to_string().into_bytes(), "in order, none lost");
    }
    assert!(metric(&http, "comqtt_clients_throttled_total").await >= 1);
}

/// While the broker does not read a client (its rate limit), the client's silence is the
/// broker's doing: its keep alive does not run out meanwhile, and starts over when reading
/// resumes (then, silent for real, it does run out: 0x8D).
#[tokio::test]
async fn keep_alive_does_not_run_out_while_the_rate_limit_pauses_reading() {
    let dir = TempDir::new("limits");
    let (b, _http) = broker(&dir, "      client-messages-per-second: 20\n");
    let addr = b.addr();
    let mut sub = connect_retrying(&addr, "paused-sub").await;
    sub.subscribe_qos(1, "paused/#", comqtt::mqtt::QoS::AtMostOnce)
        .await;
    let mut connect = Connect::new(Protocol::V5, "paused-pub");
    connect.keep_alive = 1;
    let (mut publ, ack) = TestClient::connect_with(&addr, connect).await;
    assert_eq!(ack.code, ReasonCode::SUCCESS);
    // 80 messages at once: about four seconds' worth at the limit, more than twice the 1.5 s
    // keep alive, and nothing more from the client.
    publ.send_raw(&numbered_qos0("paused/x", 80)).await;
    for i in 0..80u32 {
        let p = sub.expect_publish().await;
        assert_eq!(p.payload, i.to_string().into_bytes(), "in order, none lost");
    }
    // Read to the end and silent since: now its keep alive runs out.
    assert_eq!(
        publ.expect_disconnect().await,
        Some(ReasonCode::KEEP_ALIVE_TIMEOUT)
    );
}

#[tokio::test]
async fn with_client_rate_disconnect_a_client_over_its_rate_gets_0x96() {
    let dir = TempDir::new("limits");
    let (b, http) = broker(
        &dir,
        "      client-messages-per-second: 10\n      client-rate-disconnect: true\n",
    );
    let addr = b.addr();
    let mut publ = connect_retrying(&addr, "flood").await;
    publ.send_raw(&numbered_qos0("flood/x", 50)).await;
    assert_eq!(
        publ.expect_disconnect().await,
        Some(ReasonCode::MESSAGE_RATE_TOO_HIGH)
    );
    assert_eq!(
        metric(&http, "comqtt_clients_rate_disconnected_total").await,
        1
    );
    // A client within its rate is left alone.
    let mut calm = connect_retrying(&addr, "calm").await;
    calm.publish("flood/y", b"one", comqtt::mqtt::QoS::AtLeastOnce, false, 1)
        .await;
}
