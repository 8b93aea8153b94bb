//! MQTT over QUIC against a real `comqtt serve` process, with a quinn client: one
//! bidirectional stream per connection carrying MQTT; a QUIC client and a TCP client
//! exchanging messages both ways; the self-signed certificate when none is configured; the
//! configured certificate with mutual TLS; a wrong ALPN, an untrusted server certificate and a
//! missing client certificate refused; a takeover between QUIC and TCP.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use common::pki::Pki;
use common::{BrokerProcess, TestClient, free_port};
use comqtt::bench::tls::{TlsSettings, client_config};
use comqtt::mqtt::{Connect, Protocol, QoS, ReasonCode};
use quinn::crypto::rustls::QuicClientConfig;

/// A quinn client endpoint with `tls` (ALPN set to `alpn`).
fn client(tls: TlsSettings, alpn: &[u8]) -> quinn::Endpoint {
    let config = client_config(&tls).expect("client TLS");
    let mut config = (*config).clone();
    config.alpn_protocols = vec![alpn.to_vec()];
    let quic = QuicClientConfig::try_from(config).expect("a QUIC client config");
    let mut endpoint =
        quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).expect("client endpoint");
    endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(quic)));
    endpoint
}

/// Opens a QUIC connection and its MQTT stream; `Err` with why if the handshake fails.
async fn open(
    endpoint: &quinn::Endpoint,
    addr: SocketAddr,
    server_name: &str,
) -> Result<
    (
        quinn::Connection,
        tokio::io::Join<quinn::RecvStream, quinn::SendStream>,
    ),
    String,
> {
    let connection = endpoint
        .connect(addr, server_name)
        .map_err(|e| e.to_string())?
        .await
        .map_err(|e| e.to_string())?;
    let (send, recv) = connection.open_bi().await.map_err(|e| e.to_string())?;
    Ok((connection, tokio::io::join(recv, send)))
}

/// MQTT CONNECT over QUIC; the connection is kept alive alongside the client.
async fn mqtt_over_quic(
    endpoint: &quinn::Endpoint,
    addr: SocketAddr,
    connect: Connect,
) -> (TestClient, quinn::Connection, ReasonCode) {
    let (connection, stream) = open(endpoint, addr, "localhost")
        .await
        .expect("QUIC handshake");
    let (client, ack) = TestClient::connect_over(stream, connect).await;
    (client, connection, ack.code)
}

fn skip_verification() -> TlsSettings {
    TlsSettings {
        skip_verification: true,
        ..TlsSettings::default()
    }
}

#[tokio::test]
async fn a_quic_client_and_a_tcp_client_exchange_messages_over_a_self_signed_certificate() {
    let port = free_port();
    let broker = BrokerProcess::start(&["--quic", &format!("127.0.0.1:{port}")]);
    assert!(
        broker.log_contains("self-signed"),
        "the self-signed certificate is logged: {}",
        broker.log_text()
    );
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let endpoint = client(skip_verification(), b"mqtt");
    let (mut quic, _conn, code) =
        mqtt_over_quic(&endpoint, addr, Connect::new(Protocol::V5, "over-quic")).await;
    assert_eq!(code, ReasonCode::SUCCESS);
    quic.subscribe_qos(1, "to-quic/#", QoS::AtLeastOnce).await;

    let mut tcp = TestClient::connect(&broker.addr(), Protocol::V3_1_1, "over-tcp").await;
    tcp.subscribe_qos(1, "to-tcp/#", QoS::AtLeastOnce).await;
    for i in 1..=20u16 {
        tcp.publish(
            "to-quic/x",
            format!("t{i}").as_bytes(),
            QoS::AtLeastOnce,
            false,
            i,
        )
        .await;
        let p = quic.expect_publish_acked().await;
        assert_eq!(p.payload, format!("t{i}").into_bytes());
        quic.publish(
            "to-tcp/y",
            format!("q{i}").as_bytes(),
            QoS::AtLeastOnce,
            false,
            i,
        )
        .await;
        let p = tcp.expect_publish_acked().await;
        assert_eq!(p.payload, format!("q{i}").into_bytes());
    }

    // The same client id on TCP takes the session over from the QUIC connection.
    let mut resume = Connect::new(Protocol::V5, "over-quic");
    resume.clean_start = false;
    let (_tcp_again, ack) = TestClient::connect_with(&broker.addr(), resume).await;
    assert_eq!(ack.code, ReasonCode::SUCCESS);
    assert_eq!(
        quic.expect_disconnect().await,
        Some(ReasonCode::SESSION_TAKEN_OVER)
    );
}

#[tokio::test]
async fn the_configured_certificate_with_mutual_tls_and_what_is_refused() {
    let pki = Pki::new();
    let port = free_port();
    let broker = BrokerProcess::start(&[
        "--quic",
        &format!("127.0.0.1:{port}"),
        "--tls-cert",
        &pki.path("server.pem"),
        "--tls-key",
        &pki.path("server.key"),
        "--tls-ca",
        &pki.path("ca.pem"),
    ]);
    assert!(!broker.log_contains("self-signed"));
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let trusted = |cert: bool| TlsSettings {
        ca_file: Some(PathBuf::from(pki.path("ca.pem"))),
        cert_file: cert.then(|| PathBuf::from(pki.path("client.pem"))),
        key_file: cert.then(|| PathBuf::from(pki.path("client.key"))),
        skip_verification: false,
    };

    // Trusted both ways.
    let endpoint = client(trusted(true), b"mqtt");
    let (connection, stream) = open(&endpoint, addr, "127.0.0.1")
        .await
        .expect("mutual TLS over QUIC");
    let (mut c, ack) = TestClient::connect_over(stream, Connect::new(Protocol::V5, "mtls")).await;
    assert_eq!(ack.code, ReasonCode::SUCCESS);
    c.subscribe_qos(1, "m/#", QoS::AtMostOnce).await;
    drop(connection);

    // No client certificate: the server refuses (the handshake or the stream fails).
    let endpoint = client(trusted(false), b"mqtt");
    let refused = match open(&endpoint, addr, "127.0.0.1").await {
        Err(_) => true,
        Ok((_connection, stream)) => {
            let mut c = TestClient::over(stream, Protocol::V5);
            c.send(comqtt::mqtt::Packet::Connect(Box::new(Connect::new(
                Protocol::V5,
                "anon",
            ))))
            .await;
            matches!(
                c.recv_within(common::client::WAIT).await,
                Ok(None) | Err(())
            )
        }
    };
    assert!(refused, "a client without a certificate got through");

    // A server certificate the client does not trust.
    let stranger = TlsSettings {
        ca_file: Some(PathBuf::from(pki.path("other-ca.pem"))),
        ..TlsSettings::default()
    };
    let e = open(&client(stranger, b"mqtt"), addr, "127.0.0.1")
        .await
        .err()
        .expect("an untrusted server certificate is refused by the client");
    assert!(
        e.to_lowercase().contains("certificate") || e.contains("tls"),
        "{e}"
    );

    // A client that does not speak ALPN mqtt.
    let e = open(&client(trusted(true), b"h3"), addr, "127.0.0.1")
        .await
        .err()
        .expect("a wrong ALPN is refused");
    assert!(!e.is_empty());
}

#[tokio::test]
async fn a_third_party_quic_stack_aioquic_speaks_mqtt_to_the_broker() {
    let port = free_port();
    let broker = BrokerProcess::start(&["--quic", &format!("127.0.0.1:{port}")]);
    // A TCP subscriber sees what the aioquic client publishes.
    let mut tcp = TestClient::connect(&broker.addr(), Protocol::V5, "tcp-watch").await;
    tcp.subscribe_qos(1, "aq/#", QoS::AtLeastOnce).await;
    let script = format!(
        "{}/tests/quic/aioquic_client.py",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = tokio::task::spawn_blocking(move || {
        common::run_tool(
            "python3",
            &[&script, &port.to_string()],
            std::time::Duration::from_secs(60),
        )
    })
    .await
    .expect("the script ran");
    assert!(
        out.status.success(),
        "aioquic script failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let p = tcp.expect_publish_acked().await;
    assert_eq!(&p.payload[..], b"hello from aioquic");
}
