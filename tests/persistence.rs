//! Persistence with the embedded store: state acknowledged before `kill -9` is there after
//! a restart, and QoS 2 is not delivered twice. Each test kills a real `comqtt` process with
//! SIGKILL and starts a new one on the same store file.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{BrokerProcess, TestClient, free_port, run_tool};
use comqtt::mqtt::{Connect, Packet, Protocol, PubReply, Publish, QoS, ReasonCode};

/// A store file in a fresh temp dir, removed at the end.
struct StoreFile(PathBuf);

impl StoreFile {
    fn new() -> StoreFile {
        let dir = std::env::temp_dir().join(format!("comqtt-store-{}", free_port()));
        let _ = std::fs::remove_dir_all(&dir);
        StoreFile(dir.join("comqtt.redb"))
    }

    fn start(&self) -> BrokerProcess {
        let path = self.0.to_str().unwrap().to_string();
        BrokerProcess::start_custom(move |port| {
            [
                "serve",
                "--tcp",
                &format!("127.0.0.1:{port}"),
                "--ws",
                "",
                "--storage-way",
                "1",
                "--storage-path",
                &path,
                "--level",
                "0",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect()
        })
    }
}

impl Drop for StoreFile {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn persistent(client_id: &str) -> Connect {
    let mut c = Connect::new(Protocol::V5, client_id);
    c.clean_start = false;
    c.properties.session_expiry_interval = Some(600);
    c
}

#[tokio::test]
async fn acknowledged_qos1_messages_for_an_offline_session_survive_kill_9() {
    let store = StoreFile::new();
    let broker = store.start();
    let (mut sub, _) = TestClient::connect_with(&broker.addr(), persistent("p-sub")).await;
    sub.subscribe_qos(1, "p/q1", QoS::AtLeastOnce).await;
    sub.disconnect().await;
    let mut publ = TestClient::connect(&broker.addr(), Protocol::V5, "p-pub").await;
    for i in 0..5u16 {
        publ.publish(
            "p/q1",
            format!("m{i}").as_bytes(),
            QoS::AtLeastOnce,
            false,
            i + 1,
        )
        .await; // PUBACK received
    }
    drop(broker); // SIGKILL right after the acknowledgements

    let broker = store.start();
    let (mut sub, ack) = TestClient::connect_with(&broker.addr(), persistent("p-sub")).await;
    assert!(
        ack.session_present,
        "the persistent session survives the restart"
    );
    for i in 0..5 {
        assert_eq!(
            sub.expect_publish_acked().await.payload,
            format!("m{i}").as_bytes()
        );
    }
    sub.expect_nothing(Duration::from_millis(300)).await;
    // The subscription itself survived too: a new message is delivered live.
    let mut publ = TestClient::connect(&broker.addr(), Protocol::V5, "p-pub").await;
    publ.publish("p/q1", b"after", QoS::AtLeastOnce, false, 9)
        .await;
    assert_eq!(&sub.expect_publish_acked().await.payload[..], b"after");
}

#[tokio::test]
async fn retained_messages_survive_kill_9_and_clearing_persists() {
    let store = StoreFile::new();
    let broker = store.start();
    let mut publ = TestClient::connect(&broker.addr(), Protocol::V3_1_1, "r-pub").await;
    publ.publish("keep/a", b"A", QoS::AtLeastOnce, true, 1)
        .await;
    publ.publish("keep/b", b"B", QoS::AtLeastOnce, true, 2)
        .await;
    publ.publish("keep/b", b"", QoS::AtLeastOnce, true, 3).await; // cleared
    drop(broker);

    let broker = store.start();
    let mut sub = TestClient::connect(&broker.addr(), Protocol::V3_1_1, "r-sub").await;
    sub.subscribe_qos(1, "keep/#", QoS::AtLeastOnce).await;
    let p = sub.expect_publish_acked().await;
    assert_eq!(
        (&p.topic[..], &p.payload[..], p.retain),
        ("keep/a", &b"A"[..], true)
    );
    sub.expect_nothing(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn outbound_qos2_in_flight_resumes_without_duplicates_after_kill_9() {
    let store = StoreFile::new();
    let broker = store.start();
    let (mut sub, _) = TestClient::connect_with(&broker.addr(), persistent("q2-sub")).await;
    sub.subscribe_qos(1, "q2/+", QoS::ExactlyOnce).await;
    let mut publ = TestClient::connect(&broker.addr(), Protocol::V5, "q2-pub").await;
    publ.publish("q2/released", b"one", QoS::ExactlyOnce, false, 1)
        .await;
    publ.publish("q2/unacked", b"two", QoS::ExactlyOnce, false, 2)
        .await;
    let first = sub.expect_publish().await;
    let second = sub.expect_publish().await;
    // The first reaches the PUBREL stage; the second is never acknowledged.
    sub.send(Packet::PubRec(PubReply::new(first.packet_id)))
        .await;
    assert!(matches!(sub.recv().await, Some(Packet::PubRel(r)) if r.packet_id == first.packet_id));
    drop(broker);

    let broker = store.start();
    let (mut sub, ack) = TestClient::connect_with(&broker.addr(), persistent("q2-sub")).await;
    assert!(ack.session_present);
    // [MQTT-4.4.0-1]: the PUBLISH not yet acknowledged is resent with DUP and the same id; the
    // released one only gets its PUBREL again, never a second PUBLISH.
    let mut saw_rel = false;
    let mut saw_dup = false;
    for _ in 0..2 {
        match sub.recv().await {
            Some(Packet::PubRel(r)) => {
                assert_eq!(r.packet_id, first.packet_id);
                saw_rel = true;
            }
            Some(Packet::Publish(p)) => {
                assert_eq!(
                    (p.packet_id, &p.payload[..], p.dup),
                    (second.packet_id, &b"two"[..], true)
                );
                saw_dup = true;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(saw_rel && saw_dup);
    sub.send(Packet::PubComp(PubReply::new(first.packet_id)))
        .await;
    sub.send(Packet::PubRec(PubReply::new(second.packet_id)))
        .await;
    assert!(matches!(sub.recv().await, Some(Packet::PubRel(r)) if r.packet_id == second.packet_id));
    sub.send(Packet::PubComp(PubReply::new(second.packet_id)))
        .await;
    sub.expect_nothing(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn inbound_qos2_resent_after_kill_9_is_not_delivered_twice() {
    let store = StoreFile::new();
    let broker = store.start();
    let (mut sub, _) = TestClient::connect_with(&broker.addr(), persistent("in2-sub")).await;
    sub.subscribe_qos(1, "in2", QoS::AtLeastOnce).await;
    sub.disconnect().await;
    let (mut publ, _) = TestClient::connect_with(&broker.addr(), persistent("in2-pub")).await;
    let mut p = Publish::new("in2", QoS::ExactlyOnce, &b"exactly once"[..]);
    p.packet_id = 7;
    publ.send(Packet::Publish(p.clone())).await;
    assert!(matches!(publ.recv().await, Some(Packet::PubRec(r)) if r.packet_id == 7));
    drop(broker); // before PUBREL

    let broker = store.start();
    let (mut publ, ack) = TestClient::connect_with(&broker.addr(), persistent("in2-pub")).await;
    assert!(ack.session_present);
    p.dup = true;
    publ.send(Packet::Publish(p)).await; // the client did not see PUBCOMP, so it resends
    assert!(matches!(publ.recv().await, Some(Packet::PubRec(r)) if r.packet_id == 7));
    publ.send(Packet::PubRel(PubReply::new(7))).await;
    match publ.recv().await {
        Some(Packet::PubComp(c)) => assert_eq!((c.packet_id, c.reason), (7, ReasonCode::SUCCESS)),
        other => panic!("expected PUBCOMP, got {other:?}"),
    }
    let (mut sub, _) = TestClient::connect_with(&broker.addr(), persistent("in2-sub")).await;
    assert_eq!(
        &sub.expect_publish_acked().await.payload[..],
        b"exactly once"
    );
    sub.expect_nothing(Duration::from_millis(400)).await;
}

#[tokio::test]
async fn will_of_a_client_connected_when_the_broker_died_is_published_after_restart() {
    let store = StoreFile::new();
    let broker = store.start();
    let mut c = persistent("will-owner");
    c.will = Some(comqtt::mqtt::LastWill {
        topic: "wills/owner".into(),
        payload: "gone".into(),
        qos: QoS::AtLeastOnce,
        ..Default::default()
    });
    let (_owner, _) = TestClient::connect_with(&broker.addr(), c).await;
    let (mut watcher, _) =
        TestClient::connect_with(&broker.addr(), persistent("will-watcher")).await;
    watcher.subscribe_qos(1, "wills/#", QoS::AtLeastOnce).await;
    watcher.send(Packet::PingReq).await;
    assert_eq!(watcher.recv().await, Some(Packet::PingResp));
    drop(broker);

    let broker = store.start();
    let (mut watcher, _) =
        TestClient::connect_with(&broker.addr(), persistent("will-watcher")).await;
    let p = watcher.expect_publish_acked().await;
    assert_eq!(
        (&p.topic[..], &p.payload[..]),
        ("wills/owner", &b"gone"[..])
    );
    // Not a second time after another restart. (The PUBACK's removal is written without anyone
    // waiting for it; a kill before that commit would legitimately redeliver it with DUP.)
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(watcher);
    drop(broker);
    let broker = store.start();
    let (mut watcher, _) =
        TestClient::connect_with(&broker.addr(), persistent("will-watcher")).await;
    watcher.expect_nothing(Duration::from_millis(400)).await;
}

#[tokio::test]
async fn expired_sessions_are_dropped_at_restart() {
    let store = StoreFile::new();
    let broker = store.start();
    let mut c = persistent("short-lived");
    c.properties.session_expiry_interval = Some(1);
    let (mut s, _) = TestClient::connect_with(&broker.addr(), c.clone()).await;
    s.subscribe_qos(1, "x", QoS::AtLeastOnce).await;
    s.disconnect().await;
    // The offline record is written after the disconnect without anyone waiting for it; give
    // the group commit a moment before the kill (a crash here keeps the session, conservatively).
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(broker);
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let broker = store.start();
    let (_, ack) = TestClient::connect_with(&broker.addr(), c).await;
    assert!(
        !ack.session_present,
        "a session past its expiry interval is gone after a restart"
    );
}

#[test]
fn a_corrupt_store_file_is_a_clear_error_naming_the_file() {
    let store = StoreFile::new();
    std::fs::create_dir_all(store.0.parent().unwrap()).unwrap();
    std::fs::write(&store.0, vec![0x5Au8; 8192]).unwrap();
    let path = store.0.to_str().unwrap();
    let out = run_tool(
        env!("CARGO_BIN_EXE_comqtt"),
        &[
            "serve",
            "--tcp",
            "127.0.0.1:0",
            "--ws",
            "",
            "--http",
            "",
            "--storage-way",
            "1",
            "--storage-path",
            path,
        ],
        Duration::from_secs(10),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(path) && !err.contains("panicked"), "{err}");
}

#[tokio::test]
async fn cumulative_counters_continue_after_a_restart() {
    let store = StoreFile::new();
    let mut broker = store.start();
    let mut publ = TestClient::connect(&broker.addr(), Protocol::V3_1_1, "counter-pub").await;
    for i in 0..25u16 {
        publ.publish("counted", b"x", QoS::AtLeastOnce, false, i + 1)
            .await;
    }
    drop(publ);
    assert!(broker.terminate(), "graceful stop saves the counters");

    let broker = store.start();
    let mut reader = TestClient::connect(&broker.addr(), Protocol::V3_1_1, "counter-reader").await;
    reader
        .subscribe_qos(1, "$SYS/broker/messages/received", QoS::AtMostOnce)
        .await;
    let p = reader.expect_publish().await;
    let received: u64 = std::str::from_utf8(&p.payload).unwrap().parse().unwrap();
    assert!(
        received >= 25,
        "messages received before the restart still count: {received}"
    );
}

#[tokio::test]
async fn a_session_resumed_without_expiry_leaves_nothing_behind_in_the_store() {
    let store = StoreFile::new();
    let broker = store.start();
    let (mut c, _) = TestClient::connect_with(&broker.addr(), persistent("fading")).await;
    c.subscribe_qos(1, "fading/t", QoS::AtLeastOnce).await;
    c.disconnect().await;
    // Resume it, now with session expiry 0: it ends when this connection does.
    let mut resume = persistent("fading");
    resume.properties.session_expiry_interval = None;
    let (c, ack) = TestClient::connect_with(&broker.addr(), resume).await;
    assert!(ack.session_present);
    c.disconnect().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(broker);

    let broker = store.start();
    let (_, ack) = TestClient::connect_with(&broker.addr(), persistent("fading")).await;
    assert!(
        !ack.session_present,
        "the ended session must not come back from the store"
    );
}

#[tokio::test]
async fn a_delayed_will_that_fired_is_not_published_again_after_a_restart() {
    let store = StoreFile::new();
    let broker = store.start();
    let (mut watcher, _) = TestClient::connect_with(&broker.addr(), persistent("dw-watcher")).await;
    watcher.subscribe_qos(1, "dwill", QoS::AtLeastOnce).await;
    let mut c = persistent("dw-owner");
    let mut will = comqtt::mqtt::LastWill {
        topic: "dwill".into(),
        payload: "late".into(),
        qos: QoS::AtLeastOnce,
        ..Default::default()
    };
    will.properties.will_delay_interval = Some(1);
    c.will = Some(will);
    let (owner, _) = TestClient::connect_with(&broker.addr(), c).await;
    drop(owner); // abnormal: the will is due in 1 s
    let p = watcher.expect_publish_acked().await;
    assert_eq!(&p.payload[..], b"late");
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(watcher);
    drop(broker);

    let broker = store.start();
    let (mut watcher, _) = TestClient::connect_with(&broker.addr(), persistent("dw-watcher")).await;
    watcher.expect_nothing(Duration::from_millis(1800)).await;
}
