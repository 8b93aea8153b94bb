//! The broker node's HTTP API against a real `comqtt serve` process: every route, the bearer
//! token on mutating routes, JSON errors, and effects seen by real MQTT clients (publish via
//! HTTP, disconnect 0x98, blacklist 0x8A). `/metrics` is checked with a small parser of the
//! Prometheus text format 0.0.4.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use common::http::{authorized, get};
use common::{BrokerProcess, TestClient};
use comqtt::mqtt::{Connect, LastWill, MqttString, Protocol, QoS, ReasonCode};
use serde_json::json;

const TOKEN: &str = "secret";

fn start() -> (BrokerProcess, String) {
    BrokerProcess::start_with_http(&["--http-token", TOKEN])
}

async fn post(http: &str, path: &str, body: Option<&str>) -> common::http::HttpResponse {
    authorized(http, "POST", path, Some(TOKEN), body).await
}

async fn delete(http: &str, path: &str, body: Option<&str>) -> common::http::HttpResponse {
    authorized(http, "DELETE", path, Some(TOKEN), body).await
}

/// Asserts a JSON error response with `status` whose message contains `needle`.
fn assert_error(r: &common::http::HttpResponse, status: u16, needle: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    assert!(
        r.header("content-type")
            .is_some_and(|t| t.starts_with("application/json")),
        "{:?}",
        r.headers
    );
    let error = r.json()["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error field: {}", r.text()))
        .to_string();
    assert!(
        error.contains(needle),
        "error {error:?} should contain {needle:?}"
    );
}

const SYSTEM_INFO_FIELDS: [&str; 20] = [
    "version",
    "started",
    "time",
    "uptime",
    "bytes_received",
    "bytes_sent",
    "clients_connected",
    "clients_disconnected",
    "clients_maximum",
    "clients_total",
    "messages_received",
    "messages_sent",
    "messages_dropped",
    "retained",
    "inflight",
    "subscriptions",
    "packets_received",
    "packets_sent",
    "memory_alloc",
    "threads",
];

#[tokio::test]
async fn stats_routes_answer_system_info_json() {
    let (broker, http) = start();
    let _c = TestClient::connect(&broker.addr(), Protocol::V3_1_1, "stats-1").await;
    for path in ["/mqtt/stats", "/api/v1/mqtt/stat/overall"] {
        let r = get(&http, path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        let info = r.json();
        for field in SYSTEM_INFO_FIELDS {
            assert!(info.get(field).is_some(), "{path} lacks {field}: {info}");
        }
        assert!(
            info["version"].as_str().unwrap().starts_with("comqtt "),
            "{info}"
        );
        assert_eq!(info["clients_connected"], 1, "{info}");
        assert!(info["clients_total"].as_u64().unwrap() >= 1);
        assert!(info["memory_alloc"].as_u64().unwrap() > 0, "{info}");
        assert!(info["time"].as_u64().unwrap() >= info["started"].as_u64().unwrap());
    }
    let online = get(&http, "/api/v1/mqtt/stat/online").await;
    assert_eq!(online.status, 200);
    assert_eq!(online.json(), json!(1));
}

#[tokio::test]
async fn config_and_cluster_routes_describe_a_single_node() {
    let (_broker, http) = start();
    let config = get(&http, "/api/v1/mqtt/config").await;
    assert_eq!(config.status, 200);
    let c = config.json();
    assert_eq!(c["options"]["capabilities"]["maximum-qos"], 2, "{c}");
    assert_eq!(c["options"]["capabilities"]["receive-maximum"], 1024, "{c}");
    assert_eq!(c["http"], http.as_str());
    assert!(
        !config.text().contains(TOKEN),
        "the token must never be shown: {c}"
    );

    let conf = get(&http, "/cluster/conf").await.json();
    assert_eq!(conf["mode"], "single", "{conf}");
    assert!(
        conf["node_name"].as_str().is_some_and(|n| !n.is_empty()),
        "{conf}"
    );
    let members = get(&http, "/cluster/ms").await.json();
    let members = members.as_array().expect("a member list");
    assert_eq!(members.len(), 1, "{members:?}");
    assert_eq!(members[0]["name"], conf["node_name"]);
    assert_eq!(members[0]["status"], "alive");
    let nodes = get(&http, "/api/v1/cluster/nodes").await.json();
    assert_eq!(nodes[0]["name"], conf["node_name"], "{nodes}");
    assert_eq!(
        (nodes[0]["self"].as_bool(), nodes[0]["http"].as_str()),
        (Some(true), Some(http.as_str())),
        "{nodes}"
    );
}

#[tokio::test]
async fn health_and_readiness_probes_answer_200_while_serving() {
    let (_broker, http) = start();
    let healthz = get(&http, "/healthz").await;
    assert_eq!(
        (healthz.status, healthz.json()),
        (200, json!({"status": "ok"}))
    );
    // The MQTT port accepts (the kernel queues connections) a moment before the node calls
    // itself ready: polled, with a deadline.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut readyz = get(&http, "/readyz").await;
    while readyz.status != 200 && std::time::Instant::now() < deadline {
        assert_eq!(readyz.json(), json!({"status": "starting"}));
        tokio::time::sleep(Duration::from_millis(20)).await;
        readyz = get(&http, "/readyz").await;
    }
    assert_eq!(
        (readyz.status, readyz.json()),
        (200, json!({"status": "ready"}))
    );
}

/// Every mutating route with a body that would succeed given the token.
const MUTATING: [(&str, &str, Option<&str>); 7] = [
    ("POST", "/api/v1/mqtt/clients/auth-victim/disconnect", None),
    ("DELETE", "/api/v1/mqtt/retained/auth/topic", None),
    ("POST", "/api/v1/mqtt/blacklist/auth-banned", None),
    ("DELETE", "/api/v1/mqtt/blacklist/auth-banned", None),
    (
        "POST",
        "/api/v1/mqtt/blacklist",
        Some(r#"{"id": "auth-banned-2"}"#),
    ),
    (
        "DELETE",
        "/api/v1/mqtt/blacklist",
        Some(r#"{"id": "auth-banned-2"}"#),
    ),
    (
        "POST",
        "/api/v1/mqtt/message",
        Some(r#"{"topic_name": "auth/topic", "payload": "x", "retain": true, "qos": 1}"#),
    ),
];

#[tokio::test]
async fn mutating_routes_need_the_configured_bearer_token() {
    let (broker, http) = start();
    for (method, path, body) in MUTATING {
        let missing = authorized(&http, method, path, None, body).await;
        assert_error(&missing, 401, "Authorization: Bearer");
        assert_eq!(missing.header("www-authenticate"), Some("Bearer"));
        let wrong = authorized(&http, method, path, Some("not-the-token"), body).await;
        assert_error(&wrong, 401, "token");
        let other_scheme = common::http::request(
            &http,
            method,
            path,
            &[("Authorization", "Basic c2VjcmV0")],
            body.map(str::as_bytes),
        )
        .await;
        assert_error(&other_scheme, 401, "token");
    }
    // Nothing happened: no ban, no retained message.
    assert_eq!(get(&http, "/api/v1/mqtt/blacklist").await.json(), json!([]));
    assert_eq!(get(&http, "/api/v1/mqtt/retained").await.json()["total"], 0);

    // With the token (the publish first, so the retained delete has something to delete).
    let _victim = TestClient::connect(&broker.addr(), Protocol::V5, "auth-victim").await;
    let mut in_order = MUTATING.to_vec();
    in_order.rotate_right(1);
    for (method, path, body) in in_order {
        let r = authorized(&http, method, path, Some(TOKEN), body).await;
        assert!(
            (200..300).contains(&r.status),
            "{method} {path}: {} {}",
            r.status,
            r.text()
        );
        r.json();
    }
    // The scheme name is case-insensitive.
    let r = common::http::request(
        &http,
        "POST",
        "/api/v1/mqtt/blacklist/x",
        &[("Authorization", "bearer secret")],
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn without_a_configured_token_mutating_routes_are_forbidden_and_reads_open() {
    let (_broker, http) = BrokerProcess::start_with_http(&[]);
    for (method, path, body) in MUTATING {
        for token in [None, Some(TOKEN), Some("")] {
            let r = authorized(&http, method, path, token, body).await;
            assert_error(&r, 403, "token");
        }
    }
    assert_eq!(get(&http, "/api/v1/mqtt/clients").await.status, 200);
    assert_eq!(get(&http, "/mqtt/stats").await.status, 200);
}

#[tokio::test]
async fn http_api_address_and_token_come_from_the_config_file() {
    let http = format!("127.0.0.1:{}", common::free_port());
    let file = std::env::temp_dir().join(format!("comqtt-http-api-{}.yml", std::process::id()));
    std::fs::write(
        &file,
        format!("mqtt:\n  ws: \"\"\n  http: {http}\n  http-token: from-yaml\n"),
    )
    .unwrap();
    let path = file.to_str().unwrap().to_string();
    let _broker = BrokerProcess::start_custom(move |port| {
        [
            "serve",
            "--conf",
            &path,
            "--tcp",
            &format!("127.0.0.1:{port}"),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    });
    let r = authorized(
        &http,
        "POST",
        "/api/v1/mqtt/blacklist/yaml",
        Some("from-yaml"),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_error(
        &authorized(
            &http,
            "POST",
            "/api/v1/mqtt/blacklist/yaml",
            Some(TOKEN),
            None,
        )
        .await,
        401,
        "token",
    );
    let _ = std::fs::remove_file(&file);
}

#[tokio::test]
async fn http_api_token_can_come_from_the_environment() {
    let (tcp, http) = (
        common::free_port(),
        format!("127.0.0.1:{}", common::free_port()),
    );
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_comqtt"))
        .args([
            "serve",
            "--tcp",
            &format!("127.0.0.1:{tcp}"),
            "--ws",
            "",
            "--http",
            &http,
            "--storage-way",
            "0",
        ])
        .env("COMQTT_HTTP_TOKEN", "from-env")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starting comqtt");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", tcp)).is_err()
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let good = authorized(
        &http,
        "POST",
        "/api/v1/mqtt/blacklist/env",
        Some("from-env"),
        None,
    )
    .await;
    let bad = authorized(
        &http,
        "POST",
        "/api/v1/mqtt/blacklist/env",
        Some(TOKEN),
        None,
    )
    .await;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(good.status, 200, "{}", good.text());
    assert_error(&bad, 401, "token");
}

#[tokio::test]
async fn unknown_clients_topics_ids_and_routes_are_404_json_errors() {
    let (_broker, http) = start();
    assert_error(
        &get(&http, "/api/v1/mqtt/clients/nobody").await,
        404,
        "nobody",
    );
    assert_error(
        &post(&http, "/api/v1/mqtt/clients/nobody/disconnect", None).await,
        404,
        "not connected",
    );
    assert_error(
        &delete(&http, "/api/v1/mqtt/retained/no/such/topic", None).await,
        404,
        "no/such/topic",
    );
    assert_error(
        &get(&http, "/api/v1/mqtt/blacklist/nobody").await,
        404,
        "not blacklisted",
    );
    assert_error(
        &delete(&http, "/api/v1/mqtt/blacklist/nobody", None).await,
        404,
        "not blacklisted",
    );
    assert_error(
        &delete(&http, "/api/v1/mqtt/blacklist", Some(r#"{"id":"nobody"}"#)).await,
        404,
        "not blacklisted",
    );
    assert_error(
        &get(&http, "/api/v1/mqtt/nothing-here").await,
        404,
        "no such route",
    );
    assert_error(
        &get(&http, "/api/v1/mqtt/clients/x/disconnect").await,
        405,
        "GET",
    );
}

#[tokio::test]
async fn bad_json_and_bad_parameters_are_400_json_errors() {
    let (_broker, http) = start();
    let message = "/api/v1/mqtt/message";
    for (body, needle) in [
        (r#"{"topic_name": "a/b", "#, "bad JSON"),
        ("not json", "bad JSON"),
        (r#"{"payload": "x"}"#, "topic_name"),
        (r#"{"topic_name": "a/b", "qos": "one"}"#, "bad JSON"),
        (r#"{"topic_name": "a/b", "topic": "typo"}"#, "topic"),
        (r#"{"topic_name": "a/+"}"#, "invalid topic name"),
        (r#"{"topic_name": "a/#"}"#, "invalid topic name"),
        (r#"{"topic_name": ""}"#, "invalid topic name"),
        (r#"{"topic_name": "$SYS/broker/version"}"#, "$SYS"),
        (r#"{"topic_name": "a/b", "qos": 3}"#, "qos 3"),
    ] {
        assert_error(&post(&http, message, Some(body)).await, 400, needle);
    }
    assert_error(&post(&http, message, None).await, 400, "bad JSON");
    assert_error(
        &post(&http, "/api/v1/mqtt/blacklist", Some(r#"{"client": "x"}"#)).await,
        400,
        "bad JSON",
    );
    assert_error(
        &post(&http, "/api/v1/mqtt/blacklist", Some(r#"{"id": ""}"#)).await,
        400,
        "empty",
    );
    assert_error(
        &get(&http, "/api/v1/mqtt/clients?page=abc").await,
        400,
        "page",
    );
    assert_error(
        &get(&http, "/api/v1/mqtt/retained?page_size=-1").await,
        400,
        "page_size",
    );
}

#[tokio::test]
async fn message_published_via_http_reaches_mqtt_subscribers() {
    let (broker, http) = start();
    let mut v5 = TestClient::connect(&broker.addr(), Protocol::V5, "http-sub-5").await;
    v5.subscribe_qos(1, "http/+/temp", QoS::AtLeastOnce).await;
    let mut v3 = TestClient::connect(&broker.addr(), Protocol::V3_1_1, "http-sub-3").await;
    v3.subscribe_qos(1, "http/#", QoS::ExactlyOnce).await;

    let r = post(
        &http,
        "/api/v1/mqtt/message",
        Some(r#"{"topic_name": "http/room1/temp", "payload": "21.5", "retain": false, "qos": 1}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"topic_name": "http/room1/temp", "subscribers": 2})
    );
    for client in [&mut v5, &mut v3] {
        let p = client.expect_publish_acked().await;
        assert_eq!(
            (&*p.topic, &p.payload[..], p.qos, p.retain),
            ("http/room1/temp", &b"21.5"[..], QoS::AtLeastOnce, false)
        );
    }

    // Defaults: QoS 0, not retained, empty payload.
    let r = post(
        &http,
        "/api/v1/mqtt/message",
        Some(r#"{"topic_name": "http/x/temp"}"#),
    )
    .await;
    assert_eq!(r.json()["subscribers"], 2);
    let p = v5.expect_publish().await;
    assert_eq!((p.qos, p.payload.len()), (QoS::AtMostOnce, 0));

    // Retained through HTTP: a later subscriber gets it.
    post(
        &http,
        "/api/v1/mqtt/message",
        Some(r#"{"topic_name": "http/kept", "payload": "k", "retain": true, "qos": 0}"#),
    )
    .await;
    let mut late = TestClient::connect(&broker.addr(), Protocol::V5, "http-late").await;
    late.subscribe_qos(1, "http/kept", QoS::AtMostOnce).await;
    let p = late.expect_publish().await;
    assert_eq!(
        (&*p.topic, &p.payload[..], p.retain),
        ("http/kept", &b"k"[..], true)
    );
}

#[tokio::test]
async fn disconnect_via_http_sends_v5_disconnect_administrative_action() {
    let (broker, http) = start();
    let mut v5 = TestClient::connect(&broker.addr(), Protocol::V5, "kick-me").await;
    let mut v3 = TestClient::connect(&broker.addr(), Protocol::V3_1_1, "kick-me-3").await;
    let r = post(&http, "/api/v1/mqtt/clients/kick-me/disconnect", None).await;
    assert_eq!((r.status, r.json()), (200, json!({"id": "kick-me"})));
    assert_eq!(
        v5.expect_disconnect().await,
        Some(ReasonCode::ADMINISTRATIVE_ACTION)
    );
    let r = post(&http, "/api/v1/mqtt/clients/kick-me-3/disconnect", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        v3.expect_disconnect().await,
        None,
        "3.x clients are just closed"
    );
    // Not connected any more (once the connection task has handed its session back).
    let mut r = post(&http, "/api/v1/mqtt/clients/kick-me/disconnect", None).await;
    for _ in 0..50 {
        if r.status == 404 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        r = post(&http, "/api/v1/mqtt/clients/kick-me/disconnect", None).await;
    }
    assert_error(&r, 404, "not connected");
}

#[tokio::test]
async fn blacklisting_kicks_the_client_and_refuses_its_later_connects() {
    let (broker, http) = start();
    let mut victim = TestClient::connect(&broker.addr(), Protocol::V5, "banned-1").await;
    let r = post(
        &http,
        "/api/v1/mqtt/blacklist",
        Some(r#"{"id": "banned-1"}"#),
    )
    .await;
    assert_eq!(
        (r.status, r.json()),
        (200, json!({"id": "banned-1", "added": true}))
    );
    assert_eq!(
        victim.expect_disconnect().await,
        Some(ReasonCode::ADMINISTRATIVE_ACTION)
    );

    let (_, ack) =
        TestClient::connect_with(&broker.addr(), Connect::new(Protocol::V5, "banned-1")).await;
    assert_eq!(ack.code, ReasonCode::BANNED);
    let (_, ack) =
        TestClient::connect_with(&broker.addr(), Connect::new(Protocol::V3_1_1, "banned-1")).await;
    assert_eq!(ack.code, ReasonCode::V3_NOT_AUTHORIZED);

    // Path form, listing, lookup, idempotence.
    assert_eq!(
        post(&http, "/api/v1/mqtt/blacklist/banned%2F2", None)
            .await
            .json(),
        json!({"id": "banned/2", "added": true})
    );
    assert_eq!(
        post(&http, "/api/v1/mqtt/blacklist/banned%2F2", None)
            .await
            .json()["added"],
        false
    );
    assert_eq!(
        get(&http, "/api/v1/mqtt/blacklist").await.json(),
        json!(["banned-1", "banned/2"])
    );
    assert_eq!(
        get(&http, "/api/v1/mqtt/blacklist/banned-1").await.json(),
        json!({"id": "banned-1"})
    );

    // Lifting the ban lets the client in again.
    assert_eq!(
        delete(&http, "/api/v1/mqtt/blacklist/banned-1", None)
            .await
            .json(),
        json!({"id": "banned-1"})
    );
    assert_eq!(
        delete(
            &http,
            "/api/v1/mqtt/blacklist",
            Some(r#"{"id": "banned/2"}"#)
        )
        .await
        .status,
        200
    );
    assert_eq!(get(&http, "/api/v1/mqtt/blacklist").await.json(), json!([]));
    TestClient::connect(&broker.addr(), Protocol::V5, "banned-1").await;
}

#[tokio::test]
async fn retained_messages_are_listed_by_page_and_deleted_by_topic() {
    let (broker, http) = start();
    let mut publisher = TestClient::connect(&broker.addr(), Protocol::V5, "retainer").await;
    for (i, topic) in ["r/a", "r/b", "r/c", "r/d"].iter().enumerate() {
        publisher
            .publish(
                topic,
                format!("v{i}").as_bytes(),
                QoS::AtLeastOnce,
                true,
                i as u16 + 1,
            )
            .await;
    }
    publisher
        .publish(
            "/leading/slash",
            &[0xff, 0x00, 0x80],
            QoS::ExactlyOnce,
            true,
            9,
        )
        .await;
    // Let a $SYS update happen: $SYS messages are retained too but never listed.
    tokio::time::sleep(Duration::from_millis(1200)).await;

    let all = get(&http, "/api/v1/mqtt/retained").await.json();
    assert_eq!(
        (
            all["total"].clone(),
            all["page"].clone(),
            all["page_size"].clone()
        ),
        (json!(5), json!(1), json!(20)),
        "{all}"
    );
    let topics: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["topic"].as_str().unwrap())
        .collect();
    assert_eq!(
        topics,
        ["/leading/slash", "r/a", "r/b", "r/c", "r/d"],
        "sorted by topic, no $SYS"
    );
    let binary = &all["items"][0];
    assert_eq!(
        (
            &binary["payload"],
            &binary["encoding"],
            &binary["qos"],
            &binary["client_id"]
        ),
        (
            &json!("/wCA"),
            &json!("base64"),
            &json!(2),
            &json!("retainer")
        )
    );
    assert_eq!(
        (&all["items"][1]["payload"], &all["items"][1]["encoding"]),
        (&json!("v0"), &json!("utf8"))
    );
    let created = all["items"][1]["created"]
        .as_u64()
        .expect("created is a Unix time");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        now.abs_diff(created) < 120,
        "created {created} is not now ({now})"
    );

    let page = get(&http, "/api/v1/mqtt/retained?page=3&page_size=2")
        .await
        .json();
    assert_eq!(
        (
            page["total"].clone(),
            page["items"].as_array().unwrap().len()
        ),
        (json!(5), 1),
        "{page}"
    );
    assert_eq!(page["items"][0]["topic"], "r/d");

    let r = delete(&http, "/api/v1/mqtt/retained/r/b", None).await;
    assert_eq!((r.status, r.json()), (200, json!({"topic": "r/b"})));
    let r = delete(&http, "/api/v1/mqtt/retained/%2Fleading%2Fslash", None).await;
    assert_eq!(
        (r.status, r.json()),
        (200, json!({"topic": "/leading/slash"}))
    );
    assert_error(
        &delete(&http, "/api/v1/mqtt/retained/r/b", None).await,
        404,
        "r/b",
    );
    assert_eq!(get(&http, "/api/v1/mqtt/retained").await.json()["total"], 3);

    // A new subscriber gets only what is left.
    let mut sub = TestClient::connect(&broker.addr(), Protocol::V5, "retained-reader").await;
    sub.subscribe_qos(1, "r/+", QoS::AtMostOnce).await;
    let mut got: Vec<String> = Vec::new();
    for _ in 0..3 {
        got.push(sub.expect_publish().await.topic.to_string());
    }
    got.sort();
    assert_eq!(got, ["r/a", "r/c", "r/d"]);
    sub.expect_nothing(Duration::from_millis(300)).await;
    let stats = get(&http, "/mqtt/stats").await.json();
    assert!(stats["retained"].as_u64().unwrap() >= 3, "{stats}");
}

#[tokio::test]
async fn clients_are_listed_by_page_and_found_by_id_or_user_name() {
    let (broker, http) = start();
    let mut keep = Vec::new();
    for id in ["c-alpha", "c-bravo", "c-charlie", "c-delta"] {
        keep.push(TestClient::connect(&broker.addr(), Protocol::V3_1_1, id).await);
    }
    let mut connect = Connect::new(Protocol::V5, "sensor-9");
    connect.username = Some(MqttString::from("Plant-Operator"));
    connect.keep_alive = 30;
    connect.will = Some(LastWill {
        topic: MqttString::from("sensors/9/status"),
        payload: Bytes::from_static(b"offline"),
        qos: QoS::AtLeastOnce,
        retain: true,
        properties: Default::default(),
    });
    let (mut sensor, ack) = TestClient::connect_with(&broker.addr(), connect).await;
    assert_eq!(ack.code, ReasonCode::SUCCESS);
    sensor.subscribe_qos(1, "cmd/9/#", QoS::AtLeastOnce).await;

    let all = get(&http, "/api/v1/mqtt/clients").await.json();
    assert_eq!(
        (
            all["total"].clone(),
            all["page"].clone(),
            all["page_size"].clone()
        ),
        (json!(5), json!(1), json!(20))
    );
    let ids: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["c-alpha", "c-bravo", "c-charlie", "c-delta", "sensor-9"]
    );

    let page = get(&http, "/api/v1/mqtt/clients?page=2&page_size=2")
        .await
        .json();
    let ids: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        (ids, page["total"].clone(), page["page"].clone()),
        (vec!["c-charlie", "c-delta"], json!(5), json!(2))
    );
    assert_eq!(
        get(&http, "/api/v1/mqtt/clients?page=9").await.json()["items"],
        json!([])
    );
    assert_eq!(
        get(&http, "/api/v1/mqtt/clients?page_size=1000")
            .await
            .json()["page_size"],
        100,
        "page_size is capped at 100"
    );

    let by_id = get(&http, "/api/v1/mqtt/clients?search=BRAVO").await.json();
    assert_eq!(
        (by_id["total"].clone(), by_id["items"][0]["id"].clone()),
        (json!(1), json!("c-bravo"))
    );
    let by_user = get(&http, "/api/v1/mqtt/clients?search=operator")
        .await
        .json();
    assert_eq!(
        (by_user["total"].clone(), by_user["items"][0]["id"].clone()),
        (json!(1), json!("sensor-9"))
    );
    assert_eq!(
        get(&http, "/api/v1/mqtt/clients?search=c-&page_size=3")
            .await
            .json()["total"],
        4
    );

    let one = get(&http, "/api/v1/mqtt/clients/sensor-9").await;
    assert_eq!(one.status, 200);
    let c = one.json();
    let expected = [
        ("id", json!("sensor-9")),
        ("online", json!(true)),
        ("username", json!("Plant-Operator")),
        ("topic_filters", json!(["cmd/9/#"])),
        ("protocol_version", json!(5)),
        ("session_clean", json!(true)),
        ("will_topic_name", json!("sensors/9/status")),
        ("will_payload", json!("offline")),
        ("will_retain", json!(true)),
        ("inflight_count", json!(0)),
        ("keepalive", json!(30)),
        ("queued", json!(0)),
    ];
    for (field, value) in expected {
        assert_eq!(c[field], value, "{field} in {c}");
    }
    assert!(c["ip"].as_str().unwrap().starts_with("127.0.0.1:"), "{c}");
    assert!(c["connected_at"].as_u64().unwrap() > 1_600_000_000, "{c}");
    assert!(
        c["bytes_received"].as_u64().unwrap() > 0 && c["bytes_sent"].as_u64().unwrap() > 0,
        "{c}"
    );
    let v3 = get(&http, "/api/v1/mqtt/clients/c-alpha").await.json();
    assert_eq!(
        (
            v3["protocol_version"].clone(),
            v3["username"].clone(),
            v3["will_topic_name"].clone()
        ),
        (json!(4), json!(""), json!(""))
    );
}

#[tokio::test]
async fn subscriptions_are_listed_with_their_subscriber_counts() {
    let (broker, http) = start();
    let mut a = TestClient::connect(&broker.addr(), Protocol::V5, "subs-a").await;
    let mut b = TestClient::connect(&broker.addr(), Protocol::V5, "subs-b").await;
    a.subscribe_qos(1, "plant/+/temp", QoS::AtMostOnce).await;
    b.subscribe_qos(1, "plant/+/temp", QoS::AtLeastOnce).await;
    b.subscribe_qos(2, "alarms/#", QoS::AtLeastOnce).await;
    b.subscribe_qos(3, "$share/workers/jobs", QoS::AtLeastOnce)
        .await;
    let subs = get(&http, "/api/v1/mqtt/subscriptions").await.json();
    let counts: HashMap<String, u64> = subs
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["filter"].as_str().unwrap().to_string(),
                s["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(counts.get("plant/+/temp"), Some(&2), "{subs}");
    assert_eq!(counts.get("alarms/#"), Some(&1), "{subs}");
    assert_eq!(counts.get("$share/workers/jobs"), Some(&1), "{subs}");
}

/// One parsed sample line.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

/// True if `name` matches `[a-zA-Z_:][a-zA-Z0-9_:]*`.
fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// True if `name` matches the label name pattern `[a-zA-Z_][a-zA-Z0-9_]*`.
fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse_value(text: &str) -> f64 {
    match text {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        _ => text
            .parse()
            .unwrap_or_else(|_| panic!("sample value {text:?} is not a number")),
    }
}

/// Parses `name{label="value",...} value [timestamp]`.
fn parse_sample(line: &str) -> Sample {
    let name_end = line
        .find(['{', ' '])
        .unwrap_or_else(|| panic!("sample without a value: {line:?}"));
    let name = &line[..name_end];
    assert!(valid_metric_name(name), "bad metric name {name:?}");
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(r) = rest.strip_prefix('{') {
        rest = r;
        loop {
            if let Some(r) = rest.strip_prefix('}') {
                rest = r;
                break;
            }
            let eq = rest
                .find('=')
                .unwrap_or_else(|| panic!("label without '=' in {line:?}"));
            let label = &rest[..eq];
            assert!(
                valid_label_name(label),
                "bad label name {label:?} in {line:?}"
            );
            rest = rest[eq + 1..]
                .strip_prefix('"')
                .unwrap_or_else(|| panic!("unquoted label value in {line:?}"));
            let mut value = String::new();
            let mut chars = rest.char_indices();
            let end = loop {
                match chars.next() {
                    Some((i, '"')) => break i,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, c @ ('\\' | '"'))) => value.push(c),
                        other => panic!("bad escape {other:?} in {line:?}"),
                    },
                    Some((_, c)) => value.push(c),
                    None => panic!("unterminated label value in {line:?}"),
                }
            };
            labels.push((label.to_string(), value));
            rest = &rest[end + 1..];
            rest = rest.strip_prefix(',').unwrap_or(rest);
        }
    }
    let fields: Vec<&str> = rest.trim_start_matches(' ').split(' ').collect();
    assert!(
        matches!(fields.len(), 1 | 2),
        "expected `value [timestamp]` in {line:?}"
    );
    if let Some(ts) = fields.get(1) {
        ts.parse::<i64>()
            .unwrap_or_else(|_| panic!("bad timestamp in {line:?}"));
    }
    Sample {
        name: name.to_string(),
        labels,
        value: parse_value(fields[0]),
    }
}

/// Parses a whole exposition, checking HELP/TYPE lines and that every sample has a TYPE given
/// before it; returns the types and the samples.
fn parse_exposition(text: &str) -> (HashMap<String, String>, Vec<Sample>) {
    let mut types: HashMap<String, String> = HashMap::new();
    let mut helps: HashMap<String, String> = HashMap::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            assert!(valid_metric_name(name), "bad name in {line:?}");
            assert!(
                helps.insert(name.to_string(), help.to_string()).is_none(),
                "second HELP for {name}"
            );
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest
                .split_once(' ')
                .unwrap_or_else(|| panic!("TYPE without a type: {line:?}"));
            assert!(valid_metric_name(name), "bad name in {line:?}");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "bad type in {line:?}"
            );
            assert!(
                !samples.iter().any(|s: &Sample| s.name == name),
                "TYPE of {name} after its samples"
            );
            assert!(
                types.insert(name.to_string(), kind.to_string()).is_none(),
                "second TYPE for {name}"
            );
        } else if line.starts_with('#') {
            continue;
        } else {
            let sample = parse_sample(line);
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| sample.name.strip_suffix(s))
                .filter(|b| types.contains_key(*b));
            let family = base.unwrap_or(&sample.name);
            assert!(
                types.contains_key(family),
                "sample {} has no TYPE line before it",
                sample.name
            );
            samples.push(sample);
        }
    }
    (types, samples)
}

#[tokio::test]
async fn metrics_are_valid_prometheus_text_format_0_0_4() {
    let (broker, http) = start();
    let mut c = TestClient::connect(&broker.addr(), Protocol::V5, "metrics-1").await;
    c.subscribe_qos(1, "m/#", QoS::AtMostOnce).await;
    c.publish("m/1", b"x", QoS::AtMostOnce, true, 0).await;
    c.expect_publish().await;

    let r = get(&http, "/metrics").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = r.text();
    assert!(text.ends_with('\n'), "the exposition ends with a line feed");
    let (types, samples) = parse_exposition(&text);
    for (name, kind) in &types {
        assert!(
            name.starts_with("comqtt_"),
            "{name} lacks the comqtt_ prefix"
        );
        if kind == "counter" {
            assert!(
                name.ends_with("_total"),
                "counter {name} must end in _total"
            );
        }
    }
    let value = |name: &str| {
        samples
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no {name} in\n{text}"))
            .value
    };
    for name in [
        "comqtt_clients_connected",
        "comqtt_clients_total",
        "comqtt_clients_maximum",
        "comqtt_messages_received_total",
        "comqtt_messages_sent_total",
        "comqtt_messages_dropped_total",
        "comqtt_bytes_received_total",
        "comqtt_bytes_sent_total",
        "comqtt_packets_received_total",
        "comqtt_packets_sent_total",
        "comqtt_subscriptions",
        "comqtt_retained_messages",
        "comqtt_messages_inflight",
        "comqtt_messages_queued",
        "comqtt_process_resident_memory_bytes",
        "comqtt_uptime_seconds",
    ] {
        assert!(value(name).is_finite() && value(name) >= 0.0, "{name}");
    }
    assert_eq!(value("comqtt_clients_connected"), 1.0);
    assert!(value("comqtt_messages_received_total") >= 1.0);
    assert!(value("comqtt_messages_sent_total") >= 1.0);
    assert!(value("comqtt_subscriptions") >= 1.0);
    assert!(value("comqtt_process_resident_memory_bytes") > 0.0);
    let build = samples
        .iter()
        .find(|s| s.name == "comqtt_build_info")
        .expect("build info");
    assert!(
        build
            .labels
            .iter()
            .any(|(k, v)| k == "version" && v.starts_with("comqtt ")),
        "{build:?}"
    );
}

#[test]
fn the_exposition_parser_rejects_what_prometheus_would() {
    for bad in [
        "1bad_name 1",
        "# TYPE x counter\nx{a=b} 1",
        "no_type 1",
        "# TYPE x gauge\nx one",
    ] {
        assert!(
            std::panic::catch_unwind(|| parse_exposition(bad)).is_err(),
            "{bad:?} should be refused"
        );
    }
    let (_, samples) =
        parse_exposition("# HELP x h\n# TYPE x gauge\nx{a=\"q\\\"\\n\",b=\"\"} 1.5e3 1700000000\n");
    assert_eq!(
        (samples[0].value, samples[0].labels[0].1.as_str()),
        (1500.0, "q\"\n")
    );
}

#[tokio::test]
async fn metrics_include_the_storage_commit_latency_histogram_with_a_store() {
    let dir = std::env::temp_dir().join(format!("comqtt-metrics-store-{}", common::free_port()));
    let path = dir.join("s.redb");
    let (broker, http) = BrokerProcess::start_with_http(&[
        "--storage-way",
        "1",
        "--storage-path",
        path.to_str().unwrap(),
    ]);
    // A persistent session's subscription is one commit.
    let mut c = Connect::new(Protocol::V5, "metrics-persistent");
    c.clean_start = false;
    c.properties.session_expiry_interval = Some(60);
    let (mut client, _) = TestClient::connect_with(&broker.addr(), c).await;
    client.subscribe_qos(1, "m/#", QoS::AtLeastOnce).await;
    let (types, samples) = parse_exposition(&get(&http, "/metrics").await.text());
    assert_eq!(
        types
            .get("comqtt_storage_commit_seconds")
            .map(String::as_str),
        Some("histogram")
    );
    let count = samples
        .iter()
        .find(|s| s.name == "comqtt_storage_commit_seconds_count")
        .expect("count sample")
        .value;
    assert!(
        count >= 1.0,
        "at least the subscription was committed: {count}"
    );
    let inf = samples
        .iter()
        .find(|s| {
            s.name == "comqtt_storage_commit_seconds_bucket"
                && s.labels.iter().any(|(k, v)| k == "le" && v == "+Inf")
        })
        .expect("+Inf bucket");
    assert_eq!(inf.value, count, "the +Inf bucket counts every commit");
    drop(broker);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn topics_route_returns_the_subscription_tree() {
    let (broker, http) = BrokerProcess::start_with_http(&[]);
    let mut c = TestClient::connect(&broker.addr(), Protocol::V5, "tree").await;
    c.subscribe_qos(1, "home/+/temp", QoS::AtMostOnce).await;
    c.subscribe_qos(2, "home/kitchen", QoS::AtMostOnce).await;
    let tree = get(&http, "/api/v1/mqtt/topics").await.json();
    assert_eq!(
        tree["home"]["children"]["+"]["children"]["temp"]["subscribers"],
        1
    );
    assert_eq!(tree["home"]["children"]["kitchen"]["subscribers"], 1);
    assert_eq!(tree["home"]["subscribers"], 0);
}

#[tokio::test]
async fn inline_client_off_disables_publishing_through_the_api() {
    let conf = std::env::temp_dir().join(format!("comqtt-inline-{}.yml", common::free_port()));
    std::fs::write(&conf, "mqtt:\n  options:\n    inline-client: false\n").unwrap();
    let (_broker, http) = BrokerProcess::start_with_http(&[
        "--conf",
        conf.to_str().unwrap(),
        "--http-token",
        "secret",
    ]);
    let body = r#"{"topic_name": "a/b", "payload": "x", "retain": false, "qos": 0}"#;
    let r = authorized(
        &http,
        "POST",
        "/api/v1/mqtt/message",
        Some("secret"),
        Some(body),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("inline-client")
    );
    let _ = std::fs::remove_file(&conf);
}

/// `comqtt_process_threads` of a broker started with `--worker-threads n`.
async fn threads_with_workers(n: &str) -> u64 {
    let (_broker, http) = BrokerProcess::start_with_http(&["--worker-threads", n]);
    common::http::metric(&http, "comqtt_process_threads").await
}

#[tokio::test]
async fn worker_threads_sets_how_many_threads_serve_clients() {
    let one = threads_with_workers("1").await;
    let three = threads_with_workers("3").await;
    assert!(
        three >= one + 2,
        "1 worker: {one} threads, 3 workers: {three}"
    );
}
