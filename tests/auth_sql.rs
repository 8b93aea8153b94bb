//! The SQL auth datasources against real servers: PostgreSQL (`--auth-ds 3`) and MariaDB
//! (`--auth-ds 2`), with the original's tables (`auth`, `acl`), configurable column names,
//! hashed passwords, `allow = 0`, write-only ACL rows, the database going away (0x88) and
//! coming back, and a wrong column name stopping the broker at startup.

mod common;

use std::time::Duration;

use common::auth::{broker_with_auth, connect_code, login, refused_with_auth};
use common::mariadb::MariaDb;
use common::postgres::Postgres;
use common::temp_dir::TempFile;
use comqtt::mqtt::{Protocol, QoS, ReasonCode, SubscriptionOptions};

/// Tables of the original's init.sql, except that ACL rows are keyed by client id
/// (`acl-mode: 2`, `acl.user-column: client_id`).
fn schema(password: &str) -> String {
    format!(
        "CREATE TABLE auth (id INT PRIMARY KEY, username VARCHAR(255) NOT NULL UNIQUE, password VARCHAR(255) NOT NULL, allow SMALLINT DEFAULT 1 NOT NULL);
         CREATE TABLE acl (id INT PRIMARY KEY, client_id VARCHAR(255) NOT NULL, topic VARCHAR(255) NOT NULL, access SMALLINT DEFAULT 3 NOT NULL);
         INSERT INTO auth (id, username, password, allow) VALUES (1, 'zhangsan', '{password}', 1), (2, 'lisi', '{password}', 0);
         INSERT INTO acl (id, client_id, topic, access) VALUES (1, 'zs-1', 'topictest/1', 2), (2, 'zs-1', 'topictest/#', 1), (3, 'zs-2', '#', 3);"
    )
}

fn config(kind: &str, port: u16, hash: u8, user_column: &str) -> TempFile {
    let (login_name, extra) = if kind == "postgresql" {
        ("postgres", "  sslmode: disable\n")
    } else {
        ("root", "  charset: utf8mb4\n")
    };
    TempFile::new(
        &format!("auth-{kind}-{port}.yml"),
        &format!(
            "auth-mode: 1\nacl-mode: 2\ndsn:\n  host: 127.0.0.1\n  port: {port}\n  schema: comqtt\n{extra}  login-name: {login_name}\n  login-password:\n  max-open-conns: 4\n  max-idle-conns: 1\nauth:\n  table: auth\n  user-column: {user_column}\n  password-column: password\n  allow-column: allow\n  password-hash: {hash}\n  hash-key:\nacl:\n  table: acl\n  user-column: client_id\n  topic-column: topic\n  access-column: access\n"
        ),
    )
}

/// What both databases must do the same way.
async fn exercise(addr: &str) {
    let (code, _) = connect_code(addr, Protocol::V5, "zs-1", Some("zhangsan"), Some("nope")).await;
    assert_eq!(code, ReasonCode(0x86));
    let (code, _) = connect_code(addr, Protocol::V5, "ls-1", Some("lisi"), Some("123456")).await;
    assert_eq!(code, ReasonCode(0x87), "allow = 0");
    let (code, _) = connect_code(addr, Protocol::V5, "x", Some("wangwu"), Some("123456")).await;
    assert_eq!(code, ReasonCode(0x86), "no such user");

    let mut watcher = login(addr, Protocol::V5, "zs-2", "zhangsan", "123456").await;
    watcher.subscribe_qos(1, "#", QoS::AtLeastOnce).await;
    let mut zs = login(addr, Protocol::V5, "zs-1", "zhangsan", "123456").await;
    // topictest/1 is write-only for zs-1 (the longer filter wins over topictest/#: read).
    zs.publish("topictest/1", b"hello", QoS::AtLeastOnce, false, 1)
        .await;
    assert_eq!(&watcher.expect_publish_acked().await.payload[..], b"hello");
    let ack = zs
        .subscribe(2, "topictest/1", SubscriptionOptions::qos(QoS::AtMostOnce))
        .await;
    assert_eq!(
        ack.reasons,
        vec![ReasonCode(0x87)],
        "write-only: no subscribe"
    );
    zs.subscribe_qos(3, "topictest/2", QoS::AtMostOnce).await;
    let mut p = comqtt::mqtt::Publish::new("topictest/2", QoS::AtLeastOnce, b"x".to_vec());
    p.packet_id = 4;
    zs.send(comqtt::mqtt::Packet::Publish(p)).await;
    match zs.recv().await {
        Some(comqtt::mqtt::Packet::PubAck(a)) => assert_eq!(a.reason, ReasonCode(0x87)),
        other => panic!("expected PUBACK 0x87, got {other:?}"),
    }
    watcher
        .publish("topictest/2", b"for zs", QoS::AtMostOnce, false, 0)
        .await;
    assert_eq!(&zs.expect_publish().await.payload[..], b"for zs");
    // The watcher sees its own message, and nothing of zs-1's refused one.
    assert_eq!(&watcher.expect_publish_acked().await.payload[..], b"for zs");
    watcher.expect_nothing(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn postgresql_users_acls_outage_and_recovery() {
    let pg = Postgres::start();
    pg.psql("postgres", "CREATE DATABASE comqtt");
    pg.psql(
        "comqtt",
        &schema("8d969eef6ecad3c29a3a629280e686cf0c3f5d5a86aff3ca12020c923adc6c92"),
    );
    let cfg = config("postgresql", pg.port, 4, "username");
    let b = broker_with_auth(1, 3, cfg.to_str().unwrap(), &[]);
    exercise(&b.addr()).await;

    pg.stop();
    let (code, _) = connect_code(
        &b.addr(),
        Protocol::V5,
        "zs-1",
        Some("zhangsan"),
        Some("123456"),
    )
    .await;
    assert_eq!(code, ReasonCode(0x88), "database down: server unavailable");
    pg.restart();
    let mut back = false;
    for _ in 0..50 {
        let (code, _) = connect_code(
            &b.addr(),
            Protocol::V5,
            "zs-1",
            Some("zhangsan"),
            Some("123456"),
        )
        .await;
        if code == ReasonCode::SUCCESS {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(back, "CONNECT works again once PostgreSQL is back");
}

#[tokio::test]
async fn mariadb_users_and_acls_with_bcrypt() {
    let db = MariaDb::start();
    db.sql("CREATE DATABASE comqtt");
    let hash = bcrypt::hash("123456", 4).unwrap();
    db.sql(&format!("USE comqtt; {}", schema(&hash)));
    let cfg = config("mysql", db.port, 1, "username");
    let b = broker_with_auth(1, 2, cfg.to_str().unwrap(), &[]);
    exercise(&b.addr()).await;
}

#[test]
fn a_wrong_column_name_stops_the_broker_at_startup() {
    let pg = Postgres::start();
    pg.psql("postgres", "CREATE DATABASE comqtt");
    pg.psql("comqtt", &schema("x"));
    let cfg = config("postgresql", pg.port, 0, "user_name");
    let err = refused_with_auth(3, cfg.to_str().unwrap());
    assert!(
        err.contains("postgresql") && err.contains("user_name"),
        "{err}"
    );
}
