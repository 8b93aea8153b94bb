//! Authentication and ACLs with the rule-file datasource (`--auth-ds 0`) and the blacklist,
//! against the real broker process: CONNACK codes for every refusal (v5 and 3.1.1), ACLs on
//! PUBLISH, SUBSCRIBE and delivery, and a third-party client (mosquitto_pub/sub) refused and
//! admitted.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::auth::{broker_with_auth, connect_code, login, refused_with_auth};
use common::temp_dir::TempDir;
use common::{BrokerProcess, run_tool};
use comqtt::mqtt::{Packet, Protocol, Publish, QoS, ReasonCode};

const RULES: &str = r##"
users:
  alice:
    password: s3cret
    acl:
      "alice/#": 3
  eve:
    password: pw
    disallow: true
auth:
  - client: "sensor-*"
    password: sensor-pw
    allow: true
acl:
  - username: alice
    filters:
      "secret/#": 0
      "feeds/+/raw": 1
  - client: "sensor-*"
    filters:
      "sensors/#": 2
      "#": 0
"##;

const BLACKLIST: &str = r#"
auth:
  - client: "banned-*"
    allow: false
  - client: "trusted-*"
    allow: true
acl:
  - client: "trusted-*"
"#;

/// The rule and blacklist files, in a directory removed when the test is done.
fn files(tag: &str) -> (TempDir, PathBuf, PathBuf) {
    let dir = TempDir::new(&format!("auth-file-{tag}"));
    let rules = PathBuf::from(dir.file("rules.yml", RULES));
    let blacklist = PathBuf::from(dir.file("blacklist.yml", BLACKLIST));
    (dir, rules, blacklist)
}

fn broker(tag: &str) -> (BrokerProcess, TempDir) {
    let (dir, rules, blacklist) = files(tag);
    let broker = broker_with_auth(
        1,
        0,
        rules.to_str().unwrap(),
        &["--auth-blacklist", blacklist.to_str().unwrap()],
    );
    (broker, dir)
}

#[tokio::test]
async fn refusals_carry_the_right_connack_code_in_v5_and_3_1_1() {
    let (b, _dir) = broker("codes");
    let addr = b.addr();
    for (protocol, bad_password, banned) in [
        (Protocol::V5, ReasonCode(0x86), ReasonCode(0x8A)),
        (Protocol::V3_1_1, ReasonCode(0x04), ReasonCode(0x05)),
    ] {
        let (code, _) = connect_code(&addr, protocol, "c1", Some("alice"), Some("wrong")).await;
        assert_eq!(code, bad_password, "{protocol:?} wrong password");
        let (code, _) = connect_code(&addr, protocol, "c1", Some("nobody"), Some("x")).await;
        assert_eq!(code, bad_password, "{protocol:?} unknown user");
        let (code, _) = connect_code(&addr, protocol, "c1", None, None).await;
        assert_eq!(code, bad_password, "{protocol:?} no credentials");
        let (code, _) = connect_code(&addr, protocol, "c1", Some("eve"), Some("pw")).await;
        assert_eq!(code, bad_password, "{protocol:?} disallowed user");
        let (code, _) =
            connect_code(&addr, protocol, "banned-7", Some("alice"), Some("s3cret")).await;
        assert_eq!(code, banned, "{protocol:?} blacklisted client id");
        let (code, _) = connect_code(&addr, protocol, "c1", Some("alice"), Some("s3cret")).await;
        assert_eq!(code, ReasonCode::SUCCESS, "{protocol:?} right password");
        let (code, _) = connect_code(
            &addr,
            protocol,
            "sensor-1",
            Some("sensor"),
            Some("sensor-pw"),
        )
        .await;
        assert_eq!(
            code,
            ReasonCode::SUCCESS,
            "{protocol:?} auth rule by client id"
        );
        let (code, _) = connect_code(&addr, protocol, "trusted-1", None, None).await;
        assert_eq!(
            code,
            ReasonCode::SUCCESS,
            "{protocol:?} blacklist allow rule skips the password"
        );
    }
    assert!(
        b.log_contains("bad user name or password"),
        "refusals are logged"
    );
}

#[tokio::test]
async fn acl_applies_to_publish_subscribe_and_delivery() {
    let (b, _dir) = broker("acl");
    let addr = b.addr();
    let mut alice = login(&addr, Protocol::V5, "alice-1", "alice", "s3cret").await;
    // A publish the ACL denies: PUBACK 0x87 in v5, and nobody receives it.
    let mut trusted = connect_code(&addr, Protocol::V5, "trusted-watch", None, None)
        .await
        .1;
    trusted.subscribe_qos(1, "#", QoS::AtLeastOnce).await;
    let mut p = Publish::new("secret/plans", QoS::AtLeastOnce, b"x".to_vec());
    p.packet_id = 7;
    alice.send(Packet::Publish(p)).await;
    match alice.recv().await {
        Some(Packet::PubAck(a)) => assert_eq!((a.packet_id, a.reason), (7, ReasonCode(0x87))),
        other => panic!("expected PUBACK 0x87, got {other:?}"),
    }
    trusted.expect_nothing(Duration::from_millis(300)).await;
    // An allowed publish goes through.
    alice
        .publish("alice/status", b"up", QoS::AtLeastOnce, false, 8)
        .await;
    assert_eq!(trusted.expect_publish_acked().await.topic, "alice/status");

    // SUBSCRIBE: a filter inside a deny rule is refused (0x87) per filter; a wildcard that
    // only partly overlaps a deny rule is granted, and the denied topics are filtered out of
    // its deliveries.
    let ack = alice
        .subscribe(
            2,
            "secret/#",
            comqtt::mqtt::SubscriptionOptions::qos(QoS::AtLeastOnce),
        )
        .await;
    assert_eq!(ack.reasons, vec![ReasonCode(0x87)]);
    alice.subscribe_qos(3, "#", QoS::AtLeastOnce).await;
    let mut publisher = connect_code(&addr, Protocol::V5, "trusted-pub", None, None)
        .await
        .1;
    publisher
        .publish("secret/x", b"hidden", QoS::AtLeastOnce, false, 2)
        .await;
    publisher
        .publish("news/today", b"shown", QoS::AtLeastOnce, false, 3)
        .await;
    for topic in ["secret/x", "news/today"] {
        assert_eq!(
            trusted.expect_publish_acked().await.topic,
            topic,
            "the trusted client sees all"
        );
    }
    let got = alice.expect_publish_acked().await;
    assert_eq!(
        (got.topic.to_string(), &got.payload[..]),
        ("news/today".into(), &b"shown"[..])
    );
    alice.expect_nothing(Duration::from_millis(300)).await;

    // Read-only filter: subscribe yes, publish no.
    alice.subscribe_qos(4, "feeds/+/raw", QoS::AtMostOnce).await;
    let mut p = Publish::new("feeds/a/raw", QoS::AtLeastOnce, b"x".to_vec());
    p.packet_id = 9;
    alice.send(Packet::Publish(p)).await;
    match alice.recv().await {
        Some(Packet::PubAck(a)) => assert_eq!(a.reason, ReasonCode(0x87)),
        other => panic!("expected PUBACK 0x87, got {other:?}"),
    }

    // A sensor may only publish under sensors/ and subscribe to nothing.
    let mut sensor = connect_code(
        &addr,
        Protocol::V3_1_1,
        "sensor-9",
        Some("sensor"),
        Some("sensor-pw"),
    )
    .await
    .1;
    let ack = sensor
        .subscribe(
            1,
            "sensors/#",
            comqtt::mqtt::SubscriptionOptions::qos(QoS::AtMostOnce),
        )
        .await;
    assert_eq!(ack.reasons, vec![ReasonCode(0x80)], "3.1.1 SUBACK failure");
    // 3.1.1 has no refusal code: a denied QoS 1 publish is acknowledged and dropped.
    sensor
        .publish("other/x", b"no", QoS::AtLeastOnce, false, 5)
        .await;
    sensor
        .publish("sensors/t1", b"21.5", QoS::AtLeastOnce, false, 6)
        .await;
    assert_eq!(trusted.expect_publish_acked().await.topic, "sensors/t1");
    trusted.expect_nothing(Duration::from_millis(300)).await;
}

#[test]
fn mosquitto_clients_are_refused_and_admitted() {
    let (b, _dir) = broker("mosquitto");
    let port = b.port.to_string();
    let wait = Duration::from_secs(10);
    let out = run_tool(
        "mosquitto_pub",
        &[
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-V",
            "mqttv5",
            "-u",
            "alice",
            "-P",
            "wrong",
            "-t",
            "alice/x",
            "-m",
            "1",
        ],
        wait,
    );
    assert!(!out.status.success(), "wrong password must fail");
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(err.contains("bad user name or password"), "{err}");

    let sub = std::process::Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-u",
            "alice",
            "-P",
            "s3cret",
            "-t",
            "alice/#",
            "-C",
            "1",
            "-W",
            "10",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("mosquitto_sub is required (scripts/test installs it)");
    std::thread::sleep(Duration::from_millis(500));
    let out = run_tool(
        "mosquitto_pub",
        &[
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-u",
            "alice",
            "-P",
            "s3cret",
            "-t",
            "alice/x",
            "-m",
            "hello",
            "-q",
            "1",
        ],
        wait,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = sub.wait_with_output().expect("mosquitto_sub");
    assert_eq!(String::from_utf8_lossy(&got.stdout).trim(), "hello");
}

#[test]
fn a_missing_or_broken_rule_file_stops_the_broker_with_a_message_naming_it() {
    let dir = TempDir::new("auth-broken");
    let broken = PathBuf::from(dir.file("rules.yml", "users:\n  alice:\n    pasword: x\n"));
    for (path, what) in [
        (broken.clone(), "pasword"),
        (dir.0.join("missing.yml"), "missing.yml"),
    ] {
        let err = refused_with_auth(0, path.to_str().unwrap());
        assert!(
            err.contains(what) && err.contains("authentication"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn metrics_count_every_connect_decision() {
    let (_dir, rules, blacklist) = files("metrics");
    let (b, http) = BrokerProcess::start_with_http(&[
        "--auth-way",
        "1",
        "--auth-ds",
        "0",
        "--auth-path",
        rules.to_str().unwrap(),
        "--auth-blacklist",
        blacklist.to_str().unwrap(),
    ]);
    let addr = b.addr();
    connect_code(&addr, Protocol::V5, "c1", Some("alice"), Some("wrong")).await;
    connect_code(&addr, Protocol::V5, "banned-1", None, None).await;
    connect_code(&addr, Protocol::V5, "c2", Some("alice"), Some("s3cret")).await;
    let text = common::http::request(&http, "GET", "/metrics", &[], None)
        .await
        .text();
    for line in [
        "comqtt_auth_connects_total{result=\"allowed\"} 1",
        "comqtt_auth_connects_total{result=\"bad_credentials\"} 1",
        "comqtt_auth_connects_total{result=\"banned\"} 1",
        "comqtt_auth_connects_total{result=\"unavailable\"} 0",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
}
