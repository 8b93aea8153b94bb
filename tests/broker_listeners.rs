//! Listeners and process lifecycle: WebSocket (subprotocol `mqtt`), TLS, mutual TLS and WSS
//! with third-party clients (paho-mqtt, mosquitto_pub/sub), and graceful shutdown.

mod common;

use std::path::Path;
use std::time::Duration;

use common::pki::Pki;
use common::{BrokerProcess, TestClient, free_port, run_tool};
use comqtt::mqtt::{Packet, Protocol, ReasonCode};

fn paho(script: &str, args: &[&str]) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/paho")
        .join(script);
    let mut all = vec![path.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = run_tool("python3", &all, Duration::from_secs(30));
    assert!(
        out.status.success(),
        "paho script {script} {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn start_with(ws_port: u16, extra: Vec<String>) -> BrokerProcess {
    BrokerProcess::start_custom(move |port| {
        let mut args: Vec<String> = vec![
            "serve".into(),
            "--tcp".into(),
            format!("127.0.0.1:{port}"),
            "--ws".into(),
            format!("127.0.0.1:{ws_port}"),
            "--level".into(),
            "0".into(),
        ];
        args.extend(extra);
        args
    })
}

#[test]
fn websocket_listener_serves_paho_over_subprotocol_mqtt_mqtt_6_0_0_4() {
    let ws = free_port();
    let _broker = start_with(ws, vec![]);
    paho("listener.py", &[&ws.to_string(), "websockets"]);
}

#[tokio::test]
async fn websocket_handshake_selects_the_mqtt_subprotocol() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let ws = free_port();
    let _broker = start_with(ws, vec![]);
    let mut request = format!("ws://127.0.0.1:{ws}/mqtt")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "mqtt".parse().unwrap());
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", ws))
        .await
        .unwrap();
    let (_, response) = tokio_tungstenite::client_async(request, tcp)
        .await
        .expect("WebSocket handshake");
    assert_eq!(
        response
            .headers()
            .get("Sec-WebSocket-Protocol")
            .map(|v| v.to_str().unwrap()),
        Some("mqtt")
    );
}

#[test]
fn tls_listener_serves_mosquitto_clients() {
    let pki = Pki::new();
    let broker = start_with(
        free_port(),
        vec![
            "--tls-cert".into(),
            pki.path("server.pem"),
            "--tls-key".into(),
            pki.path("server.key"),
        ],
    );
    let port = broker.port.to_string();
    let sub = std::thread::spawn({
        let (port, ca) = (port.clone(), pki.path("ca.pem"));
        move || {
            run_tool(
                "mosquitto_sub",
                &[
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &port,
                    "--cafile",
                    &ca,
                    "-t",
                    "tls/t",
                    "-C",
                    "1",
                    "-W",
                    "10",
                ],
                Duration::from_secs(15),
            )
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    let publ = run_tool(
        "mosquitto_pub",
        &[
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "--cafile",
            &pki.path("ca.pem"),
            "-t",
            "tls/t",
            "-m",
            "secret",
            "-q",
            "1",
        ],
        Duration::from_secs(10),
    );
    assert!(
        publ.status.success(),
        "mosquitto_pub over TLS: {}",
        String::from_utf8_lossy(&publ.stderr)
    );
    let out = sub.join().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "secret",
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn mutual_tls_requires_a_client_certificate_signed_by_the_ca() {
    let pki = Pki::new();
    let broker = start_with(
        free_port(),
        vec![
            "--tls-cert".into(),
            pki.path("server.pem"),
            "--tls-key".into(),
            pki.path("server.key"),
            "--tls-ca".into(),
            pki.path("ca.pem"),
        ],
    );
    let port = broker.port.to_string();
    let base = [
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-t",
        "mtls",
        "-m",
        "x",
        "-q",
        "1",
    ];
    let ca = pki.path("ca.pem");
    let without: Vec<&str> = base.iter().copied().chain(["--cafile", &ca]).collect();
    let refused = run_tool("mosquitto_pub", &without, Duration::from_secs(10));
    assert!(
        !refused.status.success(),
        "a client without certificate was accepted"
    );
    let (cert, key) = (pki.path("client.pem"), pki.path("client.key"));
    let with: Vec<&str> = without
        .iter()
        .copied()
        .chain(["--cert", &cert, "--key", &key])
        .collect();
    let accepted = run_tool("mosquitto_pub", &with, Duration::from_secs(10));
    assert!(
        accepted.status.success(),
        "client certificate refused: {}",
        String::from_utf8_lossy(&accepted.stderr)
    );
}

#[test]
fn wss_listener_serves_paho_over_tls() {
    let pki = Pki::new();
    let ws = free_port();
    let _broker = start_with(
        ws,
        vec![
            "--tls-cert".into(),
            pki.path("server.pem"),
            "--tls-key".into(),
            pki.path("server.key"),
        ],
    );
    paho(
        "listener.py",
        &[&ws.to_string(), "websockets", &pki.path("ca.pem")],
    );
}

#[test]
fn unreadable_certificate_is_a_clear_startup_error() {
    let out = run_tool(
        env!("CARGO_BIN_EXE_comqtt"),
        &[
            "serve",
            "--tcp",
            "127.0.0.1:0",
            "--ws",
            "",
            "--tls-cert",
            "/nonexistent/cert.pem",
            "--tls-key",
            "/nonexistent/key.pem",
        ],
        Duration::from_secs(10),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/nonexistent/cert.pem"),
        "error should name the file: {err}"
    );
}

#[tokio::test]
async fn sigterm_sends_v5_clients_disconnect_server_shutting_down() {
    let mut broker = BrokerProcess::start(&[]);
    let mut v5 = TestClient::connect(&broker.addr(), Protocol::V5, "shutdown-v5").await;
    let mut v3 = TestClient::connect(&broker.addr(), Protocol::V3_1_1, "shutdown-v3").await;
    // Let both sessions settle before the signal.
    v5.send(Packet::PingReq).await;
    assert_eq!(v5.recv().await, Some(Packet::PingResp));
    assert!(broker.terminate(), "comqtt did not exit cleanly on SIGTERM");
    assert_eq!(
        v5.expect_disconnect().await,
        Some(ReasonCode::SERVER_SHUTTING_DOWN)
    );
    assert_eq!(v3.expect_disconnect().await, None);
}
