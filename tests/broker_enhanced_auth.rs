//! Enhanced authentication (MQTT 5 AUTH, spec 4.12) through the broker's hook: a
//! challenge-response method registered on an in-process broker, exercised over a real TCP
//! listener by our codec-level client.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::TestClient;
use comqtt::broker::enhanced_auth::{AuthExchange, AuthStep, EnhancedAuth};
use comqtt::broker::{Broker, Capabilities};
use comqtt::listener::{self, Transport};
use comqtt::mqtt::{Auth, Connect, Packet, Protocol, ReasonCode};
use comqtt::shutdown::ShutdownSignal;

/// Challenge-response: the server sends a nonce, the client must answer `secret:<nonce>`.
struct Challenge;

struct ChallengeExchange {
    nonce: Option<Bytes>,
}

impl EnhancedAuth for Challenge {
    fn method(&self) -> &str {
        "TEST-CHALLENGE"
    }
    fn begin(&self, _client_id: &str) -> Box<dyn AuthExchange> {
        Box::new(ChallengeExchange { nonce: None })
    }
}

impl AuthExchange for ChallengeExchange {
    fn step(&mut self, data: Option<&[u8]>) -> AuthStep {
        match &self.nonce {
            None => {
                let nonce = Bytes::from_static(b"n0nce");
                self.nonce = Some(nonce.clone());
                AuthStep::Continue(nonce)
            }
            Some(nonce) if data == Some(&[b"secret:".as_slice(), nonce].concat()[..]) => {
                AuthStep::Success(Some(Bytes::from_static(b"welcome")))
            }
            Some(_) => AuthStep::Failure,
        }
    }
}

async fn broker() -> (String, ShutdownSignal) {
    let broker = Broker::new(Capabilities::default());
    broker.register_auth_method(Arc::new(Challenge));
    let l = listener::bind("127.0.0.1:0", listener::DEFAULT_BACKLOG)
        .await
        .unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let signal = ShutdownSignal::new();
    tokio::spawn(listener::run(
        l,
        Transport {
            tls: None,
            websocket: false,
            admission: None,
        },
        broker,
        signal.subscribe(),
    ));
    (addr, signal)
}

fn auth(reason: ReasonCode, method: &str, data: &[u8]) -> Packet {
    let mut a = Auth {
        reason,
        ..Auth::default()
    };
    a.properties.authentication_method = Some(method.into());
    a.properties.authentication_data = Some(Bytes::copy_from_slice(data));
    Packet::Auth(a)
}

fn connect_with_method(id: &str, method: &str) -> Connect {
    let mut c = Connect::new(Protocol::V5, id);
    c.properties.authentication_method = Some(method.into());
    c
}

/// Sends CONNECT and answers the challenge with `answer`; returns the client and the CONNACK code.
async fn challenge(addr: &str, id: &str, answer: &[u8]) -> (TestClient, Packet) {
    let mut c = TestClient::raw(addr, Protocol::V5).await;
    c.send(Packet::Connect(Box::new(connect_with_method(
        id,
        "TEST-CHALLENGE",
    ))))
    .await;
    match c.recv().await {
        Some(Packet::Auth(a)) => {
            assert_eq!(
                a.reason,
                ReasonCode::CONTINUE_AUTHENTICATION,
                "[MQTT-4.12.0-2]"
            );
            assert_eq!(
                a.properties.authentication_data.as_deref(),
                Some(&b"n0nce"[..])
            );
        }
        other => panic!("expected AUTH 0x18, got {other:?}"),
    }
    c.send(auth(
        ReasonCode::CONTINUE_AUTHENTICATION,
        "TEST-CHALLENGE",
        answer,
    ))
    .await;
    let reply = c.recv().await.expect("a reply");
    (c, reply)
}

#[tokio::test(flavor = "multi_thread")]
async fn challenge_response_exchange_ends_in_connack_with_method_and_data_mqtt_4_12_0_5() {
    let (addr, _s) = broker().await;
    let (_c, reply) = challenge(&addr, "good", b"secret:n0nce").await;
    match reply {
        Packet::ConnAck(ack) => {
            assert_eq!(ack.code, ReasonCode::SUCCESS);
            assert_eq!(
                ack.properties.authentication_method.as_deref(),
                Some("TEST-CHALLENGE")
            );
            assert_eq!(
                ack.properties.authentication_data.as_deref(),
                Some(&b"welcome"[..])
            );
        }
        other => panic!("expected CONNACK, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_answer_gets_connack_not_authorized() {
    let (addr, _s) = broker().await;
    let (mut c, reply) = challenge(&addr, "bad", b"secret:guess").await;
    assert!(
        matches!(reply, Packet::ConnAck(ref a) if a.code == ReasonCode::NOT_AUTHORIZED),
        "{reply:?}"
    );
    assert_eq!(c.recv().await, None, "closed after the refusal");
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_method_gets_bad_authentication_method() {
    let (addr, _s) = broker().await;
    let (_, ack) = TestClient::connect_with(&addr, connect_with_method("nobody", "KERBEROS")).await;
    assert_eq!(ack.code, ReasonCode::BAD_AUTHENTICATION_METHOD);
}

#[tokio::test(flavor = "multi_thread")]
async fn re_authentication_runs_the_exchange_again_mqtt_4_12_1_1() {
    let (addr, _s) = broker().await;
    let (mut c, reply) = challenge(&addr, "reauth", b"secret:n0nce").await;
    assert!(matches!(reply, Packet::ConnAck(ref a) if a.code == ReasonCode::SUCCESS));
    c.send(auth(ReasonCode::RE_AUTHENTICATE, "TEST-CHALLENGE", b""))
        .await;
    assert!(
        matches!(c.recv().await, Some(Packet::Auth(a)) if a.reason == ReasonCode::CONTINUE_AUTHENTICATION)
    );
    c.send(auth(
        ReasonCode::CONTINUE_AUTHENTICATION,
        "TEST-CHALLENGE",
        b"secret:n0nce",
    ))
    .await;
    match c.recv().await {
        Some(Packet::Auth(a)) => {
            assert_eq!(a.reason, ReasonCode::SUCCESS);
            assert_eq!(
                a.properties.authentication_data.as_deref(),
                Some(&b"welcome"[..])
            );
        }
        other => panic!("expected AUTH 0x00, got {other:?}"),
    }
    // A failed re-authentication ends the connection with 0x87.
    c.send(auth(ReasonCode::RE_AUTHENTICATE, "TEST-CHALLENGE", b""))
        .await;
    assert!(matches!(c.recv().await, Some(Packet::Auth(_))));
    c.send(auth(
        ReasonCode::CONTINUE_AUTHENTICATION,
        "TEST-CHALLENGE",
        b"secret:wrong",
    ))
    .await;
    assert_eq!(
        c.expect_disconnect().await,
        Some(ReasonCode::NOT_AUTHORIZED)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_with_another_method_or_without_one_at_connect_is_a_protocol_error_mqtt_4_12_0_7() {
    let (addr, _s) = broker().await;
    let (mut c, _) = challenge(&addr, "switch", b"secret:n0nce").await;
    c.send(auth(ReasonCode::RE_AUTHENTICATE, "OTHER", b""))
        .await;
    assert_eq!(
        c.expect_disconnect().await,
        Some(ReasonCode::PROTOCOL_ERROR)
    );
    let mut plain = TestClient::connect(&addr, Protocol::V5, "plain").await;
    plain
        .send(auth(ReasonCode::RE_AUTHENTICATE, "TEST-CHALLENGE", b""))
        .await;
    assert_eq!(
        plain.expect_disconnect().await,
        Some(ReasonCode::PROTOCOL_ERROR)
    );
}
