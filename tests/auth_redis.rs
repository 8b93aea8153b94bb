//! The Redis auth datasource against a real `redis-server`: users and ACLs in the original's
//! key layout (hash `comqtt-auth`, hashes `comqtt-acl:<client id>`), hashed passwords, a
//! disallowed user, and Redis going away (CONNACK 0x88) and coming back.

mod common;

use std::time::Duration;

use common::auth::{broker_with_auth, connect_code, login, refused_with_auth};
use common::free_port;
use common::redis::RedisServer;
use common::temp_dir::TempFile;
use comqtt::mqtt::{Packet, Protocol, Publish, QoS, ReasonCode};

fn config(redis: u16, hash: u8) -> TempFile {
    // The original's sample, pointed at the test server: users by user name, ACLs by client id.
    TempFile::new(
        &format!("auth-redis-{redis}.yml"),
        &format!(
            "redis-options:\n  addr: 127.0.0.1:{redis}\n  username:\n  password:\n  db: 0\nauth-mode: 1\nauth-prefix: comqtt-auth\nacl-mode: 2\nacl-prefix: comqtt-acl\npassword-hash: {hash}\nhash-key:\n"
        ),
    )
}

#[tokio::test]
async fn users_and_acls_come_from_redis_and_a_lost_redis_refuses_with_0x88() {
    let mut redis = RedisServer::start(free_port());
    // sha256("s3cret"), as the original's crypto.go stores it with password-hash 4.
    let digest = "1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0";
    redis.cli(&[
        "HSET",
        "comqtt-auth",
        "alice",
        &format!("{{\"username\":\"alice\",\"password\":\"{digest}\",\"allow\":true}}"),
    ]);
    redis.cli(&[
        "HSET",
        "comqtt-auth",
        "mallory",
        &format!("{{\"username\":\"mallory\",\"password\":\"{digest}\",\"allow\":false}}"),
    ]);
    redis.cli(&[
        "HSET",
        "comqtt-acl:alice-phone",
        "alice/#",
        "3",
        "alice/admin",
        "1",
    ]);
    redis.cli(&["HSET", "comqtt-acl:watcher", "#", "1"]);
    redis.cli(&[
        "HSET",
        "comqtt-auth",
        "watch",
        &format!("{{\"password\":\"{digest}\",\"allow\":true}}"),
    ]);
    let cfg = config(redis.port, 4);
    let b = broker_with_auth(1, 1, cfg.to_str().unwrap(), &[]);
    let addr = b.addr();

    let (code, _) = connect_code(
        &addr,
        Protocol::V5,
        "alice-phone",
        Some("alice"),
        Some("wrong"),
    )
    .await;
    assert_eq!(code, ReasonCode(0x86));
    let (code, _) = connect_code(&addr, Protocol::V5, "m1", Some("mallory"), Some("s3cret")).await;
    assert_eq!(code, ReasonCode(0x87), "allow: false is Not authorized");
    let (code, _) = connect_code(
        &addr,
        Protocol::V3_1_1,
        "m1",
        Some("mallory"),
        Some("s3cret"),
    )
    .await;
    assert_eq!(code, ReasonCode(0x05));

    let mut watcher = login(&addr, Protocol::V5, "watcher", "watch", "s3cret").await;
    watcher.subscribe_qos(1, "#", QoS::AtLeastOnce).await;
    let mut alice = login(&addr, Protocol::V5, "alice-phone", "alice", "s3cret").await;
    alice
        .publish("alice/location", b"home", QoS::AtLeastOnce, false, 1)
        .await;
    assert_eq!(watcher.expect_publish_acked().await.topic, "alice/location");
    for (id, topic) in [(2, "alice/admin"), (3, "bob/x")] {
        let mut p = Publish::new(topic, QoS::AtLeastOnce, b"x".to_vec());
        p.packet_id = id;
        alice.send(Packet::Publish(p)).await;
        match alice.recv().await {
            Some(Packet::PubAck(a)) => assert_eq!(a.reason, ReasonCode(0x87), "{topic}"),
            other => panic!("expected PUBACK 0x87 for {topic}, got {other:?}"),
        }
    }
    watcher.expect_nothing(Duration::from_millis(300)).await;
    let m = b.log_text();
    assert!(!m.contains("panicked"), "{m}");

    // Redis goes away: new CONNECTs are refused as "server unavailable"; the connected
    // clients keep working (their ACLs were read at CONNECT).
    redis.stop();
    let (code, _) = connect_code(
        &addr,
        Protocol::V5,
        "alice-tablet",
        Some("alice"),
        Some("s3cret"),
    )
    .await;
    assert_eq!(code, ReasonCode(0x88));
    let (code, _) = connect_code(
        &addr,
        Protocol::V3_1_1,
        "alice-tablet",
        Some("alice"),
        Some("s3cret"),
    )
    .await;
    assert_eq!(code, ReasonCode(0x03));
    alice
        .publish("alice/location", b"work", QoS::AtLeastOnce, false, 4)
        .await;
    assert_eq!(&watcher.expect_publish_acked().await.payload[..], b"work");

    // Back: the datasource reconnects by itself.
    redis.restart();
    redis.cli(&[
        "HSET",
        "comqtt-auth",
        "alice",
        &format!("{{\"username\":\"alice\",\"password\":\"{digest}\",\"allow\":true}}"),
    ]);
    let mut ok = false;
    for _ in 0..50 {
        let (code, _) = connect_code(
            &addr,
            Protocol::V5,
            "alice-tablet",
            Some("alice"),
            Some("s3cret"),
        )
        .await;
        if code == ReasonCode::SUCCESS {
            ok = true;
            break;
        }
        assert_eq!(code, ReasonCode(0x88));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(ok, "CONNECT succeeds again once Redis is back");
}

#[tokio::test]
async fn bcrypt_passwords_and_client_id_keys() {
    let redis = RedisServer::start(free_port());
    let hash = bcrypt::hash("pw-1", 4).unwrap();
    redis.cli(&[
        "HSET",
        "comqtt-auth",
        "dev",
        &format!("{{\"password\":\"{hash}\",\"allow\":true}}"),
    ]);
    let cfg = config(redis.port, 1);
    let b = broker_with_auth(1, 1, cfg.to_str().unwrap(), &[]);
    let (code, _) = connect_code(&b.addr(), Protocol::V5, "x", Some("dev"), Some("pw-1")).await;
    assert_eq!(code, ReasonCode::SUCCESS);
    let (code, _) = connect_code(&b.addr(), Protocol::V5, "x", Some("dev"), Some("pw-2")).await;
    assert_eq!(code, ReasonCode(0x86));
    // No ACL hash for client id "x": everything is denied (the original's rule).
    let mut c = common::auth::login(&b.addr(), Protocol::V5, "x", "dev", "pw-1").await;
    let ack = c
        .subscribe(
            1,
            "a/b",
            comqtt::mqtt::SubscriptionOptions::qos(QoS::AtMostOnce),
        )
        .await;
    assert_eq!(ack.reasons, vec![ReasonCode(0x87)]);
}

#[test]
fn unreachable_redis_at_startup_stops_the_broker_naming_the_address() {
    let port = free_port();
    let cfg = config(port, 0);
    let err = refused_with_auth(1, cfg.to_str().unwrap());
    assert!(
        err.contains(&format!("127.0.0.1:{port}")) && err.contains("redis"),
        "{err}"
    );
}
