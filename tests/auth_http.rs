//! The HTTP auth datasource against a real HTTP service (an axum server in the test process,
//! on a free loopback port): the original's GET, POST JSON and POST form requests, the body
//! `1` admitting, ACLs as a JSON object, extra `clientid`/`username` fields, and a failing
//! service refusing with 0x88.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use common::auth::{broker_with_auth, connect_code, login};
use common::free_port;
use common::temp_dir::TempFile;
use comqtt::mqtt::{Protocol, QoS, ReasonCode, SubscriptionOptions};

/// Every request the service saw: (path, fields).
type Seen = Arc<Mutex<Vec<(String, HashMap<String, String>)>>>;

fn fields(headers: &HeaderMap, body: &str) -> HashMap<String, String> {
    let json = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if json {
        let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        v.as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default()
    } else {
        body.split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_string(), percent_decode(v)))
            .collect()
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.replace('+', " ").into_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&String::from_utf8_lossy(&bytes[i + 1..i + 3]), 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).to_string()
}

fn decide(f: &HashMap<String, String>) -> &'static str {
    match (
        f.get("user").map(String::as_str),
        f.get("password").map(String::as_str),
    ) {
        (Some("alice"), Some("p&ss w=rd")) => "1",
        _ => "0",
    }
}

fn acl(f: &HashMap<String, String>) -> String {
    match f.get("user").map(String::as_str) {
        Some("alice") => r#"{"alice/#": 3, "alice/inbox": "1", "bad": 9}"#.into(),
        _ => "{}".into(),
    }
}

/// Starts the service; returns its base URL.
async fn service(seen: Seen) -> String {
    let port = free_port();
    let app = Router::new()
        .route(
            "/auth",
            post(
                |State(s): State<Seen>, h: HeaderMap, body: String| async move {
                    let f = fields(&h, &body);
                    s.lock().unwrap().push(("auth".into(), f.clone()));
                    decide(&f)
                },
            )
            .get(
                |State(s): State<Seen>, Query(f): Query<HashMap<String, String>>| async move {
                    s.lock().unwrap().push(("auth".into(), f.clone()));
                    decide(&f)
                },
            ),
        )
        .route(
            "/acl",
            post(
                |State(s): State<Seen>, h: HeaderMap, body: String| async move {
                    let f = fields(&h, &body);
                    s.lock().unwrap().push(("acl".into(), f.clone()));
                    acl(&f)
                },
            )
            .get(
                |State(s): State<Seen>, Query(f): Query<HashMap<String, String>>| async move {
                    s.lock().unwrap().push(("acl".into(), f.clone()));
                    acl(&f)
                },
            ),
        )
        .route(
            "/broken",
            post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "oops") })
                .get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "oops") }),
        )
        .with_state(seen);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://127.0.0.1:{port}")
}

fn config(base: &str, method: &str, content_type: &str, auth_path: &str) -> TempFile {
    TempFile::new(
        &format!("auth-http-{method}-{}.yml", content_type.len()),
        &format!(
            "auth-mode: 1\nacl-mode: 1\ntls-enable: false\ntls-cert:\ntls-key:\nmethod: {method}\ncontent-type: {content_type}\nauth-url: {base}{auth_path}\nacl-url: {base}/acl\n"
        ),
    )
}

#[tokio::test]
async fn get_post_json_and_post_form_all_decide_like_the_original() {
    let seen: Seen = Arc::default();
    let base = service(seen.clone()).await;
    for (method, content_type) in [
        ("get", "application/json"),
        ("post", "application/json"),
        ("post", "application/x-www-form-urlencoded"),
    ] {
        seen.lock().unwrap().clear();
        let cfg = config(&base, method, content_type, "/auth");
        let b = broker_with_auth(1, 4, cfg.to_str().unwrap(), &[]);
        let addr = b.addr();
        let (code, _) =
            connect_code(&addr, Protocol::V5, "phone", Some("alice"), Some("wrong")).await;
        assert_eq!(code, ReasonCode(0x86), "{method} {content_type}");
        let mut alice = login(&addr, Protocol::V5, "phone", "alice", "p&ss w=rd").await;
        // ACL from the service: alice/# read-write, alice/inbox read only, a bad value ignored.
        alice.subscribe_qos(1, "alice/inbox", QoS::AtMostOnce).await;
        let ack = alice
            .subscribe(2, "bob/#", SubscriptionOptions::qos(QoS::AtMostOnce))
            .await;
        assert_eq!(ack.reasons, vec![ReasonCode(0x87)]);
        alice
            .publish("alice/status", b"ok", QoS::AtLeastOnce, false, 3)
            .await;
        let requests = seen.lock().unwrap().clone();
        let auth = requests
            .iter()
            .find(|(p, f)| p == "auth" && f.get("password").is_some_and(|p| p == "p&ss w=rd"));
        let (_, f) = auth.unwrap_or_else(|| panic!("{method} {content_type}: {requests:?}"));
        assert_eq!(f.get("clientid").map(String::as_str), Some("phone"));
        assert_eq!(f.get("username").map(String::as_str), Some("alice"));
        assert!(
            requests
                .iter()
                .any(|(p, f)| p == "acl" && f.get("user").is_some_and(|u| u == "alice"))
        );
        assert!(
            b.log_contains("ACL access is not 0..3"),
            "the bad rule is reported: {}",
            b.log_text()
        );
    }
}

#[tokio::test]
async fn a_failing_service_refuses_with_server_unavailable() {
    let seen: Seen = Arc::default();
    let base = service(seen).await;
    let cfg = config(&base, "post", "application/json", "/broken");
    let b = broker_with_auth(1, 4, cfg.to_str().unwrap(), &[]);
    let (code, _) = connect_code(
        &b.addr(),
        Protocol::V5,
        "phone",
        Some("alice"),
        Some("p&ss w=rd"),
    )
    .await;
    assert_eq!(code, ReasonCode(0x88));
    let (code, _) = connect_code(
        &b.addr(),
        Protocol::V3_1_1,
        "phone",
        Some("alice"),
        Some("p&ss w=rd"),
    )
    .await;
    assert_eq!(code, ReasonCode(0x03));
    // Nobody listening at all: the same.
    let cfg = config(
        &format!("http://127.0.0.1:{}", free_port()),
        "get",
        "application/json",
        "/auth",
    );
    let b = broker_with_auth(1, 4, cfg.to_str().unwrap(), &[]);
    let (code, _) = connect_code(&b.addr(), Protocol::V5, "phone", Some("alice"), Some("x")).await;
    assert_eq!(code, ReasonCode(0x88));
}
