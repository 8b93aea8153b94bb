//! The Kafka bridge (`--bridge-way 1 --bridge-path FILE`) against a real Kafka-protocol broker,
//! tansu, started by the tests on a free port (scripts/test installs it): the events of MQTT
//! sessions driven by mosquitto_pub and our own client arrive as the original's JSON, the rules
//! keep out what they do not match, and a Kafka that is down at startup or killed mid-run costs
//! counted events, never MQTT service. Events are read back with an rdkafka consumer group.

mod common;

use std::time::{Duration, Instant};

use base64::Engine;
use common::http::metric;
use common::tansu::{EventReader, Record, Tansu, TempDir};
use common::{BrokerProcess, TestClient, free_port, run_tool};
use comqtt::mqtt::{Connect, Packet, Protocol, QoS, Unsubscribe};
use serde_json::{Value, json};

/// Longest wait for events to show up in Kafka.
const KAFKA_WAIT: Duration = Duration::from_secs(30);
/// Longest wait for Kafka to be used again after it came back (librdkafka's reconnect backoff
/// grows to 10 s).
const RECOVERY_WAIT: Duration = Duration::from_secs(60);

/// A `bridge-kafka.yml` for `brokers`, topic `comqtt`, with extra `kafka-options` lines and a
/// `rules` block.
fn bridge_file(dir: &TempDir, brokers: &str, options: &[&str], rules: &str) -> String {
    let mut text = format!("kafka-options:\n  brokers: [{brokers}]\n  topic: comqtt\n");
    for line in options {
        text.push_str(&format!("  {line}\n"));
    }
    text.push_str(rules);
    dir.file("bridge-kafka.yml", &text)
}

/// `comqtt serve` with the bridge on and the HTTP API up; returns it and the API's address.
fn start_broker(bridge_path: &str) -> (BrokerProcess, String) {
    BrokerProcess::start_with_http(&["--bridge-way", "1", "--bridge-path", bridge_path])
}

/// Waits until `metric >= at_least`; returns the value.
async fn metric_reaches(http: &str, name: &str, at_least: u64, wait: Duration) -> u64 {
    let deadline = Instant::now() + wait;
    loop {
        let v = metric(http, name).await;
        if v >= at_least {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{name} is {v}, not {at_least} or more within {wait:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until the broker's log contains `text`.
fn log_shows(broker: &BrokerProcess, text: &str, wait: Duration) {
    let deadline = Instant::now() + wait;
    while !broker.log_text().contains(text) {
        assert!(
            Instant::now() < deadline,
            "the broker's log does not say {text:?} within {wait:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Publishes with mosquitto_pub (a client nobody here wrote) and asserts it succeeded.
fn mosquitto_pub(broker: &BrokerProcess, args: &[&str]) {
    let port = broker.port.to_string();
    let mut all = vec!["-h", "127.0.0.1", "-p", &port];
    all.extend_from_slice(args);
    let out = run_tool("mosquitto_pub", &all, Duration::from_secs(10));
    assert!(
        out.status.success(),
        "mosquitto_pub {all:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The events of one client, in order.
fn of_client<'a>(records: &'a [Record], client_id: &str) -> Vec<&'a Record> {
    records
        .iter()
        .filter(|r| r.value["clientid"] == client_id)
        .collect()
}

/// Checks what varies (the key `<clientid>-<ts>`, `ts` in the test's time, the remote port)
/// and returns the value with `ts` removed and the remote port as `*`.
fn normalized(record: &Record, started: i64) -> Value {
    let mut v = record.value.clone();
    let ts = v["ts"].as_i64().expect("ts is a number");
    let now = comqtt::bridge::event::unix_now();
    assert!(
        (started - 1..=now + 1).contains(&ts),
        "ts {ts} outside the test"
    );
    assert_eq!(
        record.key,
        format!("{}-{ts}", v["clientid"].as_str().unwrap_or_default()),
        "record key"
    );
    let map = v.as_object_mut().expect("event is a JSON object");
    map.remove("ts");
    if let Some(remote) = map.get("remote").and_then(Value::as_str) {
        assert!(remote.starts_with("127.0.0.1:"), "remote {remote}");
        map.insert("remote".into(), json!("127.0.0.1:*"));
    }
    v
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Asserts a disconnect event: the reason as text and as base64 payload (the newer original).
fn assert_disconnect(v: &Value, client_id: &str, username: &str, reason_starts: &str) {
    let reason = v["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with(reason_starts), "disconnect reason {v}");
    assert_eq!(
        v,
        &json!({"action": "disconnect", "clientid": client_id, "username": username,
                "payload": base64(reason.as_bytes()), "reason": reason})
    );
}

fn v5_client(client_id: &str, username: &str) -> Connect {
    let mut c = Connect::new(Protocol::V5, client_id);
    c.username = Some(username.into());
    c
}

#[tokio::test]
async fn session_events_reach_kafka_as_the_originals_json() {
    let started = comqtt::bridge::event::unix_now();
    let tansu = Tansu::start();
    tansu.create_topic("comqtt");
    let dir = TempDir::new("bridge");
    let path = bridge_file(&dir, &tansu.bootstrap(), &["async: false"], "");
    let (broker, http) = start_broker(&path);
    let reader = EventReader::new(&tansu.bootstrap(), "comqtt");

    let (mut sub, _) = TestClient::connect_with(&broker.addr(), v5_client("kb-sub", "alice")).await;
    sub.subscribe_qos(1, "kb/+", QoS::AtLeastOnce).await;
    mosquitto_pub(
        &broker,
        &[
            "-V",
            "mqttv311",
            "-i",
            "kb-pub",
            "-u",
            "bob",
            "-t",
            "kb/1",
            "-q",
            "1",
            "-m",
            "hello kafka",
        ],
    );
    assert_eq!(
        &sub.expect_publish_acked().await.payload[..],
        b"hello kafka"
    );
    sub.send(Packet::Unsubscribe(Unsubscribe {
        packet_id: 2,
        filters: vec!["kb/+".into()],
        properties: Default::default(),
    }))
    .await;
    assert!(matches!(sub.recv().await, Some(Packet::UnsubAck(_))));
    sub.disconnect().await;

    let records = reader.read_until(KAFKA_WAIT, |r| {
        r.iter()
            .filter(|r| r.value["action"] == "disconnect")
            .count()
            >= 2
    });
    let subscriber: Vec<Value> = of_client(&records, "kb-sub")
        .into_iter()
        .map(|r| normalized(r, started))
        .collect();
    assert_eq!(subscriber.len(), 4, "{subscriber:#?}");
    assert_eq!(
        subscriber[..3],
        [
            json!({"action": "connect", "clientid": "kb-sub", "username": "alice",
                   "remote": "127.0.0.1:*", "listener": "tcp", "protocolVersion": 5, "clean": true}),
            json!({"action": "subscribe", "clientid": "kb-sub", "username": "alice", "topics": ["kb/+"]}),
            json!({"action": "unsubscribe", "clientid": "kb-sub", "username": "alice", "topics": ["kb/+"]}),
        ]
    );
    assert_disconnect(&subscriber[3], "kb-sub", "alice", "DISCONNECT 0x00");

    let publisher: Vec<Value> = of_client(&records, "kb-pub")
        .into_iter()
        .map(|r| normalized(r, started))
        .collect();
    assert_eq!(publisher.len(), 3, "{publisher:#?}");
    assert_eq!(
        publisher[..2],
        [
            json!({"action": "connect", "clientid": "kb-pub", "username": "bob",
                   "remote": "127.0.0.1:*", "listener": "tcp", "protocolVersion": 4, "clean": true}),
            json!({"action": "publish", "clientid": "kb-pub", "username": "bob", "topics": ["kb/1"],
                   "payload": base64(b"hello kafka"), "qos": 1, "retain": false}),
        ]
    );
    assert_disconnect(&publisher[2], "kb-pub", "bob", "DISCONNECT 0x00");
    assert_eq!(records.len(), 7, "no other events: {records:#?}");

    let sent = metric_reaches(
        &http,
        "comqtt_bridge_kafka_events_sent_total",
        7,
        KAFKA_WAIT,
    )
    .await;
    assert_eq!(sent, 7);
    assert_eq!(
        metric(&http, "comqtt_bridge_kafka_events_failed_total").await,
        0
    );
    assert_eq!(
        metric(&http, "comqtt_bridge_kafka_events_dropped_total").await,
        0
    );
    log_shows(&broker, "Kafka bridge connected", KAFKA_WAIT);
}

#[tokio::test]
async fn rules_let_through_only_matching_publish_topics_and_subscription_filters() {
    let tansu = Tansu::start();
    tansu.create_topic("comqtt");
    let dir = TempDir::new("bridge-rules");
    let rules = "rules:\n  topics: [kr/kept/#, kr/exact]\n  filters: [kr/kept/#]\n";
    let path = bridge_file(&dir, &tansu.bootstrap(), &["async: true"], rules);
    let (broker, _http) = start_broker(&path);
    let reader = EventReader::new(&tansu.bootstrap(), "comqtt");

    let mut sub = TestClient::connect(&broker.addr(), Protocol::V5, "kr-sub").await;
    // One SUBSCRIBE, two filters: only the covered one is bridged.
    sub.send(Packet::Subscribe(comqtt::mqtt::Subscribe {
        packet_id: 1,
        filters: vec![
            comqtt::mqtt::SubscribeFilter {
                filter: "kr/kept/+".into(),
                options: comqtt::mqtt::SubscriptionOptions::qos(QoS::AtMostOnce),
            },
            comqtt::mqtt::SubscribeFilter {
                filter: "kr/other/#".into(),
                options: comqtt::mqtt::SubscriptionOptions::qos(QoS::AtMostOnce),
            },
        ],
        properties: Default::default(),
    }))
    .await;
    assert!(matches!(sub.recv().await, Some(Packet::SubAck(_))));
    // Wider than the rule: no event at all.
    sub.subscribe_qos(2, "kr/#", QoS::AtMostOnce).await;
    for topic in [
        "kr/kept/1",
        "kr/other/1",
        "kr/exact/below", // the original's prefix matching let this through
        "kr/kept",
        "kr/exactly",
        "kr/exact",
        "kr/kept/end",
    ] {
        mosquitto_pub(
            &broker,
            &["-V", "mqttv5", "-i", "kr-pub", "-t", topic, "-m", topic],
        );
    }
    let records = reader.read_until(KAFKA_WAIT, |r| {
        r.iter()
            .any(|r| r.value["topics"] == json!(["kr/kept/end"]))
    });
    // Anything still on its way would come right behind the last one.
    let mut records = records;
    records.extend(reader.read_for(Duration::from_secs(1)));
    let published: Vec<&Value> = records
        .iter()
        .filter(|r| r.value["action"] == "publish")
        .map(|r| &r.value["topics"][0])
        .collect();
    assert_eq!(
        published,
        [
            &json!("kr/kept/1"),
            &json!("kr/kept"),
            &json!("kr/exact"),
            &json!("kr/kept/end")
        ]
    );
    let subscribes: Vec<&Value> = records
        .iter()
        .filter(|r| r.value["action"] == "subscribe")
        .map(|r| &r.value["topics"])
        .collect();
    assert_eq!(subscribes, [&json!(["kr/kept/+"])]);
    // Connect and disconnect events are not subject to the rules.
    assert!(
        records
            .iter()
            .any(|r| r.value["action"] == "connect" && r.value["clientid"] == "kr-sub")
    );
}

#[tokio::test]
async fn a_reload_applies_new_rules_and_names_kafka_options_as_needing_a_restart() {
    let tansu = Tansu::start();
    tansu.create_topic("comqtt");
    let dir = TempDir::new("bridge-reload");
    let path = bridge_file(
        &dir,
        &tansu.bootstrap(),
        &["async: true"],
        "rules:\n  topics: [rr/a]\n",
    );
    let (broker, http) = BrokerProcess::start_with_http(&[
        "--bridge-way",
        "1",
        "--bridge-path",
        &path,
        "--http-token",
        "t",
    ]);
    let reader = EventReader::new(&tansu.bootstrap(), "comqtt");
    let publish = |topic: &str| {
        mosquitto_pub(
            &broker,
            &["-V", "mqttv5", "-i", "rr-pub", "-t", topic, "-m", topic],
        )
    };
    publish("rr/b");
    publish("rr/a");
    let mut records = reader.read_until(KAFKA_WAIT, |r| {
        r.iter().any(|r| r.value["topics"] == json!(["rr/a"]))
    });

    bridge_file(
        &dir,
        &tansu.bootstrap(),
        &["async: true", "write-timeout: 7"],
        "rules:\n  topics: [rr/b]\n",
    );
    let r = common::http::authorized(&http, "POST", "/api/v1/reload", Some("t"), None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let report = r.json();
    assert_eq!(
        report["applied"],
        json!([format!("{path}: rules.topics")]),
        "{report}"
    );
    assert_eq!(
        report["restart_needed"],
        json!([format!("{path}: kafka-options.write-timeout")]),
        "{report}"
    );
    publish("rr/a");
    publish("rr/b");
    records.extend(reader.read_until(KAFKA_WAIT, |r| {
        r.iter().any(|r| r.value["topics"] == json!(["rr/b"]))
    }));
    records.extend(reader.read_for(Duration::from_secs(1)));
    let published: Vec<&Value> = records
        .iter()
        .filter(|r| r.value["action"] == "publish")
        .map(|r| &r.value["topics"][0])
        .collect();
    assert_eq!(published, [&json!("rr/a"), &json!("rr/b")]);
}

#[tokio::test]
async fn broker_serves_mqtt_while_kafka_is_down_at_startup_and_bridges_once_it_is_up() {
    let kafka_port = free_port();
    let brokers = format!("127.0.0.1:{kafka_port}");
    let dir = TempDir::new("bridge-down");
    let path = bridge_file(
        &dir,
        &brokers,
        &["async: false", "write-timeout: 2", "queue-size: 5"],
        "",
    );
    let (broker, http) = start_broker(&path);
    log_shows(
        &broker,
        &format!("Kafka is not reachable at {brokers}"),
        KAFKA_WAIT,
    );

    // MQTT does not wait for Kafka: every message arrives.
    let mut sub = TestClient::connect(&broker.addr(), Protocol::V5, "kd-sub").await;
    sub.subscribe_qos(1, "kd/x", QoS::AtMostOnce).await;
    let mut publ = TestClient::connect(&broker.addr(), Protocol::V3_1_1, "kd-pub").await;
    for i in 0..20u8 {
        publ.publish("kd/x", &[i], QoS::AtMostOnce, false, 0).await;
    }
    for i in 0..20u8 {
        assert_eq!(&sub.expect_publish().await.payload[..], &[i]);
    }
    // 23 events, 5 fit in the queue: the rest are dropped, the queued ones time out.
    let dropped = metric(&http, "comqtt_bridge_kafka_events_dropped_total").await;
    assert!(dropped >= 18, "dropped {dropped}");
    metric_reaches(
        &http,
        "comqtt_bridge_kafka_events_failed_total",
        1,
        KAFKA_WAIT,
    )
    .await;
    log_shows(&broker, "producer queue full, dropping events", KAFKA_WAIT);

    // Kafka comes up: events flow without a restart of the broker.
    let tansu = Tansu::start_on(kafka_port);
    tansu.create_topic("comqtt");
    let reader = EventReader::new(&tansu.bootstrap(), "comqtt");
    publish_until_bridged(&mut publ, &reader, "kd/x").await;
    assert!(metric(&http, "comqtt_bridge_kafka_events_sent_total").await >= 1);
    log_shows(&broker, "events reach Kafka again", KAFKA_WAIT);
    drop(sub);
    drop(publ);
    let mut broker = broker;
    assert!(broker.is_running());
}

/// Publishes a numbered marker once a second until one of them is read back from Kafka.
async fn publish_until_bridged(publ: &mut TestClient, reader: &EventReader, topic: &str) {
    let deadline = Instant::now() + RECOVERY_WAIT;
    let mut n = 0u32;
    loop {
        let marker = format!("marker-{n}");
        publ.publish(
            topic,
            marker.as_bytes(),
            QoS::AtLeastOnce,
            false,
            (n % 60000 + 1) as u16,
        )
        .await;
        let read = reader.read_for(Duration::from_secs(1));
        if read
            .iter()
            .any(|r| r.value["action"] == "publish" && r.value["topics"] == json!([topic]))
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no event reached Kafka within {RECOVERY_WAIT:?} of it coming back"
        );
        n += 1;
    }
}

#[tokio::test]
async fn kafka_killed_mid_run_and_restarted_costs_events_not_mqtt() {
    let mut tansu = Tansu::start();
    tansu.create_topic("comqtt");
    let dir = TempDir::new("bridge-kill");
    let path = bridge_file(
        &dir,
        &tansu.bootstrap(),
        &["async: true", "write-timeout: 2"],
        "",
    );
    let (mut broker, http) = start_broker(&path);
    let reader = EventReader::new(&tansu.bootstrap(), "comqtt");
    let mut publ = TestClient::connect(&broker.addr(), Protocol::V5, "kk-pub").await;
    publ.publish("kk/before", b"1", QoS::AtLeastOnce, false, 1)
        .await;
    reader.read_until(KAFKA_WAIT, |r| {
        r.iter().any(|r| r.value["topics"] == json!(["kk/before"]))
    });
    drop(reader);

    tansu.kill();
    // MQTT as usual while Kafka is away.
    let mut sub = TestClient::connect(&broker.addr(), Protocol::V5, "kk-sub").await;
    sub.subscribe_qos(1, "kk/during", QoS::AtLeastOnce).await;
    for i in 0..10u16 {
        publ.publish(
            "kk/during",
            &i.to_be_bytes(),
            QoS::AtLeastOnce,
            false,
            i + 2,
        )
        .await;
        assert_eq!(
            &sub.expect_publish_acked().await.payload[..],
            &i.to_be_bytes()
        );
    }
    metric_reaches(
        &http,
        "comqtt_bridge_kafka_events_failed_total",
        1,
        KAFKA_WAIT,
    )
    .await;
    assert!(broker.is_running());

    // Back, empty (tansu stores in memory): the topic is created again and events flow.
    tansu.restart();
    tansu.create_topic("comqtt");
    let reader = EventReader::new(&tansu.bootstrap(), "comqtt");
    publish_until_bridged(&mut publ, &reader, "kk/after").await;
    log_shows(&broker, "events reach Kafka again", KAFKA_WAIT);
    assert!(broker.is_running());
}

#[tokio::test]
async fn events_of_clients_closed_at_shutdown_are_flushed_to_kafka() {
    let tansu = Tansu::start();
    tansu.create_topic("comqtt");
    let dir = TempDir::new("bridge-flush");
    let path = bridge_file(&dir, &tansu.bootstrap(), &["async: true"], "");
    let (mut broker, _http) = start_broker(&path);
    let reader = EventReader::new(&tansu.bootstrap(), "comqtt");
    let _client = TestClient::connect(&broker.addr(), Protocol::V5, "kf-stay").await;
    reader.read_until(KAFKA_WAIT, |r| {
        r.iter().any(|r| r.value["action"] == "connect")
    });
    assert!(broker.terminate(), "clean exit");
    let records = reader.read_until(KAFKA_WAIT, |r| {
        r.iter().any(|r| r.value["action"] == "disconnect")
    });
    let disconnect = records
        .iter()
        .find(|r| r.value["action"] == "disconnect")
        .map(|r| &r.value);
    assert_eq!(
        disconnect.and_then(|v| v["reason"].as_str()),
        Some("server shutting down")
    );
    assert!(broker.log_text().contains("Kafka bridge flushed"));
}

#[tokio::test]
async fn shutdown_with_kafka_away_waits_a_bounded_time() {
    let dir = TempDir::new("bridge-away");
    let brokers = format!("127.0.0.1:{}", free_port());
    let path = bridge_file(&dir, &brokers, &["write-timeout: 60"], "");
    let (mut broker, _http) = start_broker(&path);
    let _client = TestClient::connect(&broker.addr(), Protocol::V5, "ka-stay").await;
    let started = Instant::now();
    assert!(broker.terminate(), "clean exit");
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "exit took {:?}",
        started.elapsed()
    );
    assert!(
        broker
            .log_text()
            .contains("events not delivered in time at exit are lost")
    );
}

#[test]
fn a_bad_bridge_file_stops_serve_with_an_error_naming_it() {
    let dir = TempDir::new("bridge-bad");
    let missing = dir.0.join("missing.yml").to_string_lossy().into_owned();
    let unparsable = dir.file("unparsable.yml", "kafka-options: [oops\n");
    let bad_value = dir.file("bad.yml", "kafka-options:\n  compression: 9\n");
    let unknown = dir.file("unknown.yml", "kafka-options:\n  brokerz: [a:1]\n");
    for (file, says) in [
        (&missing, "cannot read config file"),
        (&unparsable, ""),
        (
            &bad_value,
            "kafka-options.compression: 9 is not allowed (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd)",
        ),
        (&unknown, "brokerz"),
    ] {
        let out = run_tool(
            env!("CARGO_BIN_EXE_comqtt"),
            &[
                "serve",
                "--tcp",
                &format!("127.0.0.1:{}", free_port()),
                "--ws",
                "",
                "--http",
                "",
                "--storage-way",
                "0",
                "--bridge-way",
                "1",
                "--bridge-path",
                file,
            ],
            Duration::from_secs(10),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{file}: serve started");
        assert!(
            stderr.contains(file.as_str()) && stderr.contains(says),
            "{file}: {stderr}"
        );
    }
    let out = run_tool(
        env!("CARGO_BIN_EXE_comqtt"),
        &["serve", "--bridge-way", "2"],
        Duration::from_secs(10),
    );
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("bridge-way: 2 is not allowed (0 none or 1 kafka)")
    );
}

#[test]
fn config_check_validates_the_bridge_file_a_main_file_names() {
    let dir = TempDir::new("bridge-check");
    let bad = dir.file("bad-bridge.yml", "kafka-options:\n  required-acks: 3\n");
    let main = dir.file("main.yml", &format!("bridge-way: 1\nbridge-path: {bad}\n"));
    let check = |file: &str| {
        run_tool(
            env!("CARGO_BIN_EXE_comqtt"),
            &["config", "check", file],
            Duration::from_secs(10),
        )
    };
    let out = check(&main);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&bad) && stderr.contains("line 2") && stderr.contains("required-acks"),
        "{stderr}"
    );
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/config/bridge-kafka.yml");
    let good = dir.file(
        "good.yml",
        &format!("bridge-way: 1\nbridge-path: {example}\n"),
    );
    let out = check(&good);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(example), "{stdout}");
    let out = check(example);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Kafka bridge file"));
}

#[tokio::test]
async fn every_compression_acks_and_balancer_setting_delivers_to_kafka() {
    let tansu = Tansu::start();
    tansu.create_topic("comqtt");
    let reader = EventReader::new(&tansu.bootstrap(), "comqtt");
    let dir = TempDir::new("bridge-options");
    for (i, (compression, acks, balancer)) in
        [(0, 1, 0), (1, -1, 1), (2, 0, 2), (3, 1, 3), (4, 1, 0)]
            .into_iter()
            .enumerate()
    {
        let options = [
            format!("compression: {compression}"),
            format!("required-acks: {acks}"),
            format!("balancer: {balancer}"),
        ];
        let options: Vec<&str> = options.iter().map(String::as_str).collect();
        let path = bridge_file(&dir, &tansu.bootstrap(), &options, "");
        let (broker, _http) = start_broker(&path);
        let topic = format!("ko/{i}");
        mosquitto_pub(&broker, &["-t", &topic, "-m", "compressed?"]);
        reader.read_until(KAFKA_WAIT, |r| {
            r.iter().any(|r| {
                r.value["topics"] == json!([topic]) && r.value["payload"] == base64(b"compressed?")
            })
        });
    }
}
