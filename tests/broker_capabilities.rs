//! The `capabilities:` keys of the config file change what the broker allows and announces;
//! `$SYS` topics report the broker's counters; example configs load.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{BrokerProcess, TestClient, run_tool};
use comqtt::mqtt::{
    Connect, Packet, Protocol, Publish, QoS, ReasonCode, Subscribe, SubscribeFilter,
    SubscriptionOptions,
};

fn with_capabilities(yaml: &str) -> (BrokerProcess, tempfile_path::TempFile) {
    let file =
        tempfile_path::TempFile::new(&format!("mqtt:\n  options:\n    capabilities:\n{yaml}"));
    let broker = BrokerProcess::start(&["--conf", file.path()]);
    (broker, file)
}

mod tempfile_path {
    /// A file in the temp dir removed on drop.
    pub struct TempFile(std::path::PathBuf);
    impl TempFile {
        pub fn new(content: &str) -> TempFile {
            let path = std::env::temp_dir()
                .join(format!("comqtt-conf-{}.yml", super::common::free_port()));
            std::fs::write(&path, content).unwrap();
            TempFile(path)
        }
        pub fn path(&self) -> &str {
            self.0.to_str().unwrap()
        }
    }
    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

#[tokio::test]
async fn maximum_qos_is_announced_enforced_and_grants_are_capped() {
    let (broker, _f) = with_capabilities("      maximum-qos: 1\n");
    let (mut c, ack) =
        TestClient::connect_with(&broker.addr(), Connect::new(Protocol::V5, "maxqos")).await;
    assert_eq!(
        ack.properties.maximum_qos,
        Some(QoS::AtLeastOnce),
        "[MQTT-3.2.2-9]"
    );
    c.subscribe_qos(1, "cap/q", QoS::AtLeastOnce).await;
    let ack = c
        .subscribe(2, "cap/q2", SubscriptionOptions::qos(QoS::ExactlyOnce))
        .await;
    assert_eq!(ack.reasons, vec![ReasonCode::GRANTED_QOS_1]);
    let mut p = Publish::new("cap/q", QoS::ExactlyOnce, &b"too high"[..]);
    p.packet_id = 1;
    c.send(Packet::Publish(p)).await;
    assert_eq!(
        c.expect_disconnect().await,
        Some(ReasonCode::QOS_NOT_SUPPORTED),
        "[MQTT-3.2.2-11]"
    );
    // A 3.1.1 client is downgraded, not disconnected.
    let mut v3 = TestClient::connect(&broker.addr(), Protocol::V3_1_1, "maxqos-v3").await;
    v3.subscribe_qos(1, "cap/v3", QoS::AtLeastOnce).await;
    let mut p = Publish::new("cap/v3", QoS::ExactlyOnce, &b"down"[..]);
    p.packet_id = 3;
    v3.send(Packet::Publish(p)).await;
    assert!(matches!(v3.recv().await, Some(Packet::PubAck(a)) if a.packet_id == 3));
    assert_eq!(v3.expect_publish_acked().await.qos, QoS::AtLeastOnce);
}

#[tokio::test]
async fn retain_unavailable_is_announced_and_retained_publish_disconnects_v5() {
    let (broker, _f) = with_capabilities("      retain-available: 0\n");
    let (mut c, ack) =
        TestClient::connect_with(&broker.addr(), Connect::new(Protocol::V5, "noretain")).await;
    assert_eq!(ack.properties.retain_available, Some(false));
    let mut p = Publish::new("cap/r", QoS::AtMostOnce, &b"x"[..]);
    p.retain = true;
    c.send(Packet::Publish(p)).await;
    assert_eq!(
        c.expect_disconnect().await,
        Some(ReasonCode::RETAIN_NOT_SUPPORTED),
        "[MQTT-3.2.2-14]"
    );
}

#[tokio::test]
async fn unavailable_wildcard_shared_and_identifier_features_are_refused() {
    let (broker, _f) = with_capabilities(
        "      wildcard-sub-available: 0\n      shared-sub-available: 0\n      sub-id-available: 0\n",
    );
    let (mut c, ack) =
        TestClient::connect_with(&broker.addr(), Connect::new(Protocol::V5, "nofeatures")).await;
    assert_eq!(ack.properties.wildcard_subscription_available, Some(false));
    assert_eq!(ack.properties.shared_subscription_available, Some(false));
    assert_eq!(
        ack.properties.subscription_identifiers_available,
        Some(false)
    );
    let o = SubscriptionOptions::qos(QoS::AtMostOnce);
    assert_eq!(
        c.subscribe(1, "a/+", o).await.reasons,
        vec![ReasonCode::WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED]
    );
    assert_eq!(
        c.subscribe(2, "$share/g/a", o).await.reasons,
        vec![ReasonCode::SHARED_SUBSCRIPTIONS_NOT_SUPPORTED]
    );
    assert_eq!(
        c.subscribe(3, "a/b", o).await.reasons,
        vec![ReasonCode::GRANTED_QOS_0]
    );
    let mut s = Subscribe {
        packet_id: 4,
        filters: vec![SubscribeFilter {
            filter: "a/c".into(),
            options: o,
        }],
        properties: Default::default(),
    };
    s.properties.subscription_identifier = Some(7);
    c.send(Packet::Subscribe(s)).await;
    assert_eq!(
        c.expect_disconnect().await,
        Some(ReasonCode::SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED)
    );
}

#[tokio::test]
async fn minimum_protocol_version_refuses_older_clients() {
    let (broker, _f) = with_capabilities("      minimum-protocol-version: 5\n");
    let (_, ack) =
        TestClient::connect_with(&broker.addr(), Connect::new(Protocol::V3_1_1, "old")).await;
    assert_eq!(ack.code, ReasonCode::V3_UNACCEPTABLE_PROTOCOL_VERSION);
    TestClient::connect(&broker.addr(), Protocol::V5, "new").await;
}

#[tokio::test]
async fn maximum_packet_size_is_announced_and_larger_packets_get_0x95() {
    let (broker, _f) = with_capabilities("      maximum-packet-size: 200\n");
    let (mut c, ack) =
        TestClient::connect_with(&broker.addr(), Connect::new(Protocol::V5, "bigpacket")).await;
    assert_eq!(ack.properties.maximum_packet_size, Some(200));
    c.send(Packet::Publish(Publish::new(
        "cap/big",
        QoS::AtMostOnce,
        vec![0u8; 300],
    )))
    .await;
    assert_eq!(
        c.expect_disconnect().await,
        Some(ReasonCode::PACKET_TOO_LARGE),
        "[MQTT-3.2.2-15]"
    );
}

#[tokio::test]
async fn receive_and_topic_alias_maximums_are_announced() {
    let (broker, _f) =
        with_capabilities("      receive-maximum: 10\n      topic-alias-maximum: 3\n");
    let (mut c, ack) =
        TestClient::connect_with(&broker.addr(), Connect::new(Protocol::V5, "limits")).await;
    assert_eq!(ack.properties.receive_maximum, Some(10));
    assert_eq!(ack.properties.topic_alias_maximum, Some(3));
    let mut p = Publish::new("cap/alias", QoS::AtMostOnce, &b"x"[..]);
    p.properties.topic_alias = Some(4);
    c.send(Packet::Publish(p)).await;
    assert_eq!(
        c.expect_disconnect().await,
        Some(ReasonCode::TOPIC_ALIAS_INVALID),
        "[MQTT-3.3.2-9]"
    );
}

#[tokio::test]
async fn sys_topics_report_broker_counters() {
    let broker = BrokerProcess::start(&[]);
    let mut c = TestClient::connect(&broker.addr(), Protocol::V3_1_1, "sys-reader").await;
    c.subscribe_qos(1, "$SYS/broker/clients/connected", QoS::AtMostOnce)
        .await;
    // The retained value arrives at once (it may predate this client), then one update a second.
    let mut seen = Vec::new();
    for _ in 0..3 {
        let p = c.expect_publish().await;
        assert_eq!(p.topic, "$SYS/broker/clients/connected");
        seen.push(
            std::str::from_utf8(&p.payload)
                .unwrap()
                .parse::<u64>()
                .unwrap(),
        );
        if seen.last() == Some(&1) {
            break;
        }
    }
    assert_eq!(
        seen.last(),
        Some(&1),
        "this client is the one connected: {seen:?}"
    );
    c.subscribe_qos(2, "$SYS/broker/version", QoS::AtMostOnce)
        .await;
    let v = c.expect_publish().await;
    assert!(
        std::str::from_utf8(&v.payload)
            .unwrap()
            .starts_with("comqtt ")
    );
    // `#` does not match `$SYS` [MQTT-4.7.2-1].
    let mut other = TestClient::connect(&broker.addr(), Protocol::V3_1_1, "hash-reader").await;
    other.subscribe_qos(1, "#", QoS::AtMostOnce).await;
    other.expect_nothing(Duration::from_millis(1500)).await;
}

#[test]
fn example_configs_and_the_default_config_pass_config_check() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yml") {
            let out = run_tool(
                env!("CARGO_BIN_EXE_comqtt"),
                &["config", "check", path.to_str().unwrap()],
                Duration::from_secs(10),
            );
            assert!(
                out.status.success(),
                "{}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            checked += 1;
        }
    }
    assert!(checked >= 1);
    let default = run_tool(
        env!("CARGO_BIN_EXE_comqtt"),
        &["config", "default"],
        Duration::from_secs(10),
    );
    let file = tempfile_path::TempFile::new(&String::from_utf8_lossy(&default.stdout));
    let out = run_tool(
        env!("CARGO_BIN_EXE_comqtt"),
        &["config", "check", file.path()],
        Duration::from_secs(10),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bad_config_value_is_an_error_naming_the_key() {
    let file = tempfile_path::TempFile::new(
        "mqtt:\n  options:\n    capabilities:\n      maximum-qos: 7\n",
    );
    let out = run_tool(
        env!("CARGO_BIN_EXE_comqtt"),
        &["serve", "--conf", file.path()],
        Duration::from_secs(10),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("maximum-qos") && err.contains("0, 1 or 2") && !err.contains("backtrace"),
        "{err}"
    );
}

#[tokio::test]
async fn obscure_not_authorized_answers_unspecified_error_instead_of_0x87() {
    let (broker, _f) =
        with_capabilities("      compatibilities:\n        obscure-not-authorized: true\n");
    let mut c = TestClient::connect(&broker.addr(), Protocol::V5, "obscure").await;
    let mut p = Publish::new("$SYS/forged", QoS::AtLeastOnce, &b"x"[..]);
    p.packet_id = 1;
    c.send(Packet::Publish(p)).await;
    match c.recv().await {
        Some(Packet::PubAck(a)) => assert_eq!(a.reason, ReasonCode::UNSPECIFIED_ERROR),
        other => panic!("expected PUBACK, got {other:?}"),
    }
    // Without the switch the same publish is refused with 0x87.
    let plain = BrokerProcess::start(&[]);
    let mut c = TestClient::connect(&plain.addr(), Protocol::V5, "plain").await;
    let mut p = Publish::new("$SYS/forged", QoS::AtLeastOnce, &b"x"[..]);
    p.packet_id = 1;
    c.send(Packet::Publish(p)).await;
    assert!(
        matches!(c.recv().await, Some(Packet::PubAck(a)) if a.reason == ReasonCode::NOT_AUTHORIZED)
    );
}
