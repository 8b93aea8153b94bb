//! The cluster with real processes on loopback: three `comqtt serve` nodes find each other by
//! gossip, agree on a raft leader, replicate routes, forward messages point to point (checked
//! with mosquitto clients and our own), share subscriptions and retained messages across
//! nodes, move sessions with their clients, drop a dead node and take it back, and answer
//! comqttctl and the HTTP cluster routes.

mod common;

use std::time::Duration;

use common::TestClient;
use common::cluster::Cluster;
use common::run_tool;
use common::temp_dir::TempDir;
use comqtt::mqtt::{
    Connect, Disconnect, Packet, Protocol, Publish, QoS, ReasonCode, SubscriptionOptions,
};

fn names(routes: &serde_json::Value, filter: &str) -> Vec<String> {
    routes[filter]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|n| n.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// A v5 CONNECT resuming the session of `id` (kept 10 minutes).
fn persistent(id: &str) -> Connect {
    let mut k = Connect::new(Protocol::V5, id);
    k.clean_start = false;
    k.properties.session_expiry_interval = Some(600);
    k
}

#[tokio::test]
async fn three_nodes_form_one_raft_cluster_and_list_each_other() {
    let c = Cluster::start(3, &[]);
    c.wait_voters(3).await;
    let (ok, table, err) = c.ctl(1, &["members"]);
    assert!(ok, "{err}");
    for name in ["c0", "c1*", "c2"] {
        assert!(
            table
                .lines()
                .any(|l| l.starts_with(name) && l.contains("alive") && l.contains("voter")),
            "{table}"
        );
    }
    assert_eq!(
        table.lines().filter(|l| l.contains(" yes ")).count(),
        1,
        "one leader: {table}"
    );
    let (ok, raft, _) = c.ctl(2, &["raft"]);
    assert!(
        ok && raft.contains("state:") && raft.contains("voters:"),
        "{raft}"
    );
    // The HTTP API says the same: the original's routes and ours.
    let nodes = c.get(0, "/api/v1/cluster/nodes").await;
    assert_eq!(nodes.as_array().map(|a| a.len()), Some(3), "{nodes}");
    for n in nodes.as_array().unwrap() {
        assert!(
            n["http"].is_string() && n["mqtt"].is_string() && n["status"] == "alive",
            "{n}"
        );
    }
    let ms = c.get(2, "/cluster/ms").await;
    assert_eq!(ms.as_array().map(|a| a.len()), Some(3), "{ms}");
    let conf = c.get(1, "/cluster/conf").await;
    assert_eq!(
        (conf["mode"].as_str(), conf["node_name"].as_str()),
        (Some("cluster"), Some("c1")),
        "{conf}"
    );
    let metrics = common::http::request(&c.nodes[2].http, "GET", "/metrics", &[], None)
        .await
        .text();
    assert!(
        metrics.contains("comqtt_cluster_raft_voters 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("comqtt_cluster_forwarded_queued_total"),
        "{metrics}"
    );
}

#[tokio::test]
async fn messages_go_point_to_point_to_the_nodes_that_subscribe() {
    let c = Cluster::start(3, &[]);
    c.wait_voters(3).await;
    // A third-party subscriber on node 1 and our client on node 2, on different filters.
    let port1 = c.nodes[1].mqtt.to_string();
    let sub = std::process::Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port1,
            "-t",
            "sensors/#",
            "-q",
            "1",
            "-C",
            "3",
            "-W",
            "20",
            "-v",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("mosquitto_sub is required (scripts/test installs it)");
    let mut other = TestClient::connect(&c.nodes[2].addr(), Protocol::V5, "other").await;
    other.subscribe_qos(1, "alerts/#", QoS::AtLeastOnce).await;
    c.wait_routes(0, "sensors/# on c1 and alerts/# on c2", |r| {
        names(r, "sensors/#") == ["c1"] && names(r, "alerts/#") == ["c2"]
    })
    .await;
    // Published on node 0 at each QoS, by a third-party publisher and by our client.
    let port0 = c.nodes[0].mqtt.to_string();
    for (qos, payload) in [("0", "t0"), ("1", "t1"), ("2", "t2")] {
        let out = run_tool(
            "mosquitto_pub",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port0,
                "-t",
                "sensors/temp",
                "-q",
                qos,
                "-m",
                payload,
            ],
            Duration::from_secs(10),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let got = sub.wait_with_output().expect("mosquitto_sub");
    let lines: Vec<String> = String::from_utf8_lossy(&got.stdout)
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(
        lines,
        ["sensors/temp t0", "sensors/temp t1", "sensors/temp t2"]
    );
    // Node 2 got none of them (point to point, not broadcast) and node 0 queued each once.
    other.expect_nothing(Duration::from_millis(300)).await;
    let raft = c.get(0, "/api/v1/cluster/raft").await;
    assert_eq!(raft["forwarded"]["queued"], 3, "{raft}");
    // v5 PUBACK: a message with subscribers only on another node is not "no subscribers".
    let mut publisher = TestClient::connect(&c.nodes[0].addr(), Protocol::V5, "pub").await;
    let mut p = comqtt::mqtt::Publish::new("alerts/fire", QoS::AtLeastOnce, b"!".to_vec());
    p.packet_id = 1;
    publisher.send(Packet::Publish(p)).await;
    match publisher.recv().await {
        Some(Packet::PubAck(a)) => assert_eq!(a.reason, ReasonCode::SUCCESS),
        other => panic!("expected PUBACK, got {other:?}"),
    }
    assert_eq!(&other.expect_publish_acked().await.payload[..], b"!");
}

#[tokio::test]
async fn a_shared_subscription_across_nodes_gets_each_message_once() {
    let c = Cluster::start(3, &[]);
    c.wait_voters(3).await;
    let mut a = TestClient::connect(&c.nodes[1].addr(), Protocol::V5, "worker-a").await;
    let mut b = TestClient::connect(&c.nodes[2].addr(), Protocol::V5, "worker-b").await;
    a.subscribe_qos(1, "$share/workers/jobs/+", QoS::AtLeastOnce)
        .await;
    b.subscribe_qos(1, "$share/workers/jobs/+", QoS::AtLeastOnce)
        .await;
    c.wait_routes(0, "the shared group on c1 and c2", |r| {
        names(r, "$share/workers/jobs/+") == ["c1", "c2"]
    })
    .await;
    let mut publisher = TestClient::connect(&c.nodes[0].addr(), Protocol::V5, "boss").await;
    for i in 0..20u16 {
        publisher
            .publish(&format!("jobs/{i}"), b"job", QoS::AtLeastOnce, false, i + 1)
            .await;
    }
    let mut counts = [0usize; 2];
    for (k, client) in [&mut a, &mut b].into_iter().enumerate() {
        while let Ok(Some(Packet::Publish(p))) =
            client.recv_within(Duration::from_millis(800)).await
        {
            client
                .send(Packet::PubAck(comqtt::mqtt::PubReply::new(p.packet_id)))
                .await;
            counts[k] += 1;
        }
    }
    assert_eq!(counts[0] + counts[1], 20, "each message once: {counts:?}");
    assert!(
        counts[0] > 0 && counts[1] > 0,
        "both nodes' members served: {counts:?}"
    );
}

#[tokio::test]
async fn retained_messages_reach_every_node_and_the_newest_wins() {
    let c = Cluster::start(3, &[]);
    c.wait_voters(3).await;
    let mut p0 = TestClient::connect(&c.nodes[0].addr(), Protocol::V5, "p0").await;
    p0.publish("status/door", b"open", QoS::AtLeastOnce, true, 1)
        .await;
    let mut p1 = TestClient::connect(&c.nodes[1].addr(), Protocol::V5, "p1").await;
    p1.publish("status/door", b"closed", QoS::AtLeastOnce, true, 1)
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for i in 0..3 {
        let mut s = TestClient::connect(&c.nodes[i].addr(), Protocol::V5, &format!("s{i}")).await;
        s.subscribe_qos(1, "status/#", QoS::AtMostOnce).await;
        let m = s.expect_publish().await;
        assert_eq!(
            (&m.payload[..], m.retain),
            (&b"closed"[..], true),
            "node {i}"
        );
    }
    // Cleared on node 2: gone everywhere.
    let mut p2 = TestClient::connect(&c.nodes[2].addr(), Protocol::V5, "p2").await;
    p2.publish("status/door", b"", QoS::AtLeastOnce, true, 1)
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for i in 0..3 {
        let mut s = TestClient::connect(&c.nodes[i].addr(), Protocol::V5, &format!("t{i}")).await;
        s.subscribe_qos(1, "status/#", QoS::AtMostOnce).await;
        s.expect_nothing(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn a_session_follows_its_client_to_another_node() {
    let c = Cluster::start(3, &[]);
    c.wait_voters(3).await;
    // Subscribed on node 0, then offline: messages published on node 2 queue on node 0.
    let (mut phone, ack) = TestClient::connect_with(&c.nodes[0].addr(), persistent("phone")).await;
    assert!(!ack.session_present);
    phone
        .subscribe_qos(1, "inbox/phone", QoS::AtLeastOnce)
        .await;
    c.wait_routes(2, "inbox/phone on c0", |r| {
        names(r, "inbox/phone") == ["c0"]
    })
    .await;
    phone.disconnect().await;
    let mut sender = TestClient::connect(&c.nodes[2].addr(), Protocol::V5, "sender").await;
    for i in 1..=3u16 {
        sender
            .publish(
                "inbox/phone",
                format!("m{i}").as_bytes(),
                QoS::AtLeastOnce,
                false,
                i,
            )
            .await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // It reconnects to node 1: the session comes along, with the queued messages in order.
    let (mut phone, ack) = TestClient::connect_with(&c.nodes[1].addr(), persistent("phone")).await;
    assert_eq!(ack.code, ReasonCode::SUCCESS);
    assert!(ack.session_present, "the session moved with its client");
    for i in 1..=3 {
        assert_eq!(
            phone.expect_publish_acked().await.payload,
            format!("m{i}").into_bytes()
        );
    }
    // Its route moved too: new messages go to node 1.
    c.wait_routes(2, "inbox/phone on c1", |r| {
        names(r, "inbox/phone") == ["c1"]
    })
    .await;
    sender
        .publish("inbox/phone", b"m4", QoS::AtLeastOnce, false, 4)
        .await;
    assert_eq!(&phone.expect_publish_acked().await.payload[..], b"m4");
    let on0 = c.get(0, "/api/v1/mqtt/clients?search=phone").await;
    assert_eq!(on0["total"], 0, "node 0 let go of it: {on0}");
    // Connected elsewhere while online: the old connection is told 0x8E Session taken over.
    let (_again, ack) = TestClient::connect_with(&c.nodes[2].addr(), persistent("phone")).await;
    assert!(ack.session_present);
    assert_eq!(
        phone.expect_disconnect().await,
        Some(ReasonCode::SESSION_TAKEN_OVER)
    );
}

#[tokio::test]
async fn a_will_published_on_one_node_reaches_subscribers_on_another() {
    let c = Cluster::start(2, &[]);
    c.wait_voters(2).await;
    let mut watcher = TestClient::connect(&c.nodes[1].addr(), Protocol::V5, "watcher").await;
    watcher.subscribe_qos(1, "wills/#", QoS::AtLeastOnce).await;
    c.wait_routes(0, "wills/# on c1", |r| names(r, "wills/#") == ["c1"])
        .await;
    let mut k = Connect::new(Protocol::V5, "dying");
    k.will = Some(comqtt::mqtt::LastWill {
        topic: "wills/dying".into(),
        payload: bytes::Bytes::from_static(b"gone"),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: Default::default(),
    });
    let (dying, _) = TestClient::connect_with(&c.nodes[0].addr(), k).await;
    drop(dying); // the connection breaks without DISCONNECT
    let m = watcher.expect_publish_acked().await;
    assert_eq!(
        (m.topic.to_string(), &m.payload[..]),
        ("wills/dying".into(), &b"gone"[..])
    );
}

#[tokio::test]
async fn a_dead_node_leaves_raft_with_its_routes_and_comes_back() {
    let mut c = Cluster::start(3, &[]);
    c.wait_voters(3).await;
    let mut s = TestClient::connect(&c.nodes[2].addr(), Protocol::V5, "s").await;
    s.subscribe_qos(1, "plant/#", QoS::AtLeastOnce).await;
    c.wait_routes(0, "plant/# on c2", |r| names(r, "plant/#") == ["c2"])
        .await;
    drop(s);
    c.kill(2);
    c.wait_voters(2).await;
    c.wait_routes(0, "no route of c2", |r| !r.to_string().contains("\"c2\""))
        .await;
    let (ok, members, _) = c.ctl(0, &["members"]);
    assert!(
        ok && members
            .lines()
            .any(|l| l.starts_with("c2") && l.contains("dead")),
        "{members}"
    );
    // Publishing meanwhile is fine: nobody is left to forward to.
    let mut p = TestClient::connect(&c.nodes[0].addr(), Protocol::V5, "p").await;
    p.publish("plant/x", b"1", QoS::AtLeastOnce, false, 1).await;

    c.restart(2);
    c.wait_voters(3).await;
    let mut s = TestClient::connect(&c.nodes[2].addr(), Protocol::V5, "s").await;
    s.subscribe_qos(1, "plant/#", QoS::AtLeastOnce).await;
    c.wait_routes(0, "plant/# on c2 again", |r| names(r, "plant/#") == ["c2"])
        .await;
    p.publish("plant/y", b"2", QoS::AtLeastOnce, false, 2).await;
    assert_eq!(&s.expect_publish_acked().await.payload[..], b"2");
}

#[tokio::test]
async fn comqttctl_inspects_and_a_node_leaves() {
    let c = Cluster::start(3, &[]);
    c.wait_voters(3).await;
    let mut s = TestClient::connect(&c.nodes[1].addr(), Protocol::V3_1_1, "inspected").await;
    s.subscribe_qos(1, "x/+", QoS::AtMostOnce).await;
    c.wait_routes(0, "x/+ on c1", |r| names(r, "x/+") == ["c1"])
        .await;
    // Node 2 applies the commit a heartbeat later at most.
    c.wait_routes(2, "x/+ on c1 at c2", |r| names(r, "x/+") == ["c1"])
        .await;
    let (ok, routes, _) = c.ctl(2, &["inspect", "routes"]);
    assert!(
        ok && routes
            .lines()
            .any(|l| l.starts_with("x/+") && l.contains("c1")),
        "{routes}"
    );
    let clients = c.ctl_json(1, &["inspect", "clients"]);
    assert_eq!(clients[0]["id"], "inspected", "{clients}");
    let one = c.ctl_json(1, &["inspect", "client", "inspected"]);
    assert_eq!(one["filters"][0], "x/+", "{one}");
    let (ok, _, err) = c.ctl(1, &["inspect", "client", "nobody"]);
    assert!(!ok && err.contains("nobody"), "{err}");
    let subs = c.ctl_json(1, &["inspect", "subscriptions"]);
    assert_eq!(subs[0]["filter"], "x/+", "{subs}");

    // Asked on node 0, node 2 leaves: it says so in gossip and the leader removes it.
    let (ok, out, err) = c.ctl(0, &["leave", "c2"]);
    assert!(ok && out.contains("c2 left"), "{out}{err}");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let raft = c.get(0, "/api/v1/cluster/raft").await;
        if raft["voters"]
            .as_array()
            .is_some_and(|v| v.len() == 2 && !v.contains(&"c2".into()))
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "c2 still a voter: {raft}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let members = c.ctl_json(0, &["members"]);
    let c2 = members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "c2")
        .cloned();
    assert_eq!(c2.map(|m| m["status"].clone()), Some("leaving".into()));
}

#[test]
fn comqttctl_names_an_unreachable_node() {
    let port = common::free_port().to_string();
    let out = run_tool(
        env!("CARGO_BIN_EXE_comqttctl"),
        &["--server", &format!("127.0.0.1:{port}"), "members"],
        Duration::from_secs(15),
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("127.0.0.1:{port}")) && err.contains("cannot reach"),
        "{err}"
    );
}

#[test]
fn bad_cluster_settings_stop_the_broker_with_a_message() {
    for (args, needle) in [
        (vec!["--node-name", "c 1"], "cluster.node-name"),
        (
            vec!["--node-name", "c1", "--storage-way", "1"],
            "storage-way",
        ),
        (
            vec![
                "--node-name",
                "c1",
                "--gossip-port",
                "7000",
                "--raft-port",
                "7000",
            ],
            "cluster.raft-port",
        ),
        (
            vec!["--node-name", "c1", "--members", "nohost"],
            "cluster.members",
        ),
    ] {
        let err = common::serve_refused(&args);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[tokio::test]
async fn no_message_is_lost_while_a_session_moves_between_nodes() {
    let c = Cluster::start(3, &[]);
    c.wait_voters(3).await;
    let (mut phone, _) = TestClient::connect_with(&c.nodes[0].addr(), persistent("mover")).await;
    phone.subscribe_qos(1, "feed/mover", QoS::AtLeastOnce).await;
    c.wait_routes(2, "feed/mover on c0", |r| names(r, "feed/mover") == ["c0"])
        .await;
    // A steady stream from node 2 while the client moves from node 0 to node 1.
    let publisher_addr = c.nodes[2].addr();
    let publishing = tokio::spawn(async move {
        let mut p = TestClient::connect(&publisher_addr, Protocol::V5, "feeder").await;
        for i in 0..300u16 {
            p.publish(
                "feed/mover",
                i.to_string().as_bytes(),
                QoS::AtLeastOnce,
                false,
                i + 1,
            )
            .await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    let mut got = std::collections::BTreeSet::new();
    let take = |p: &comqtt::mqtt::Publish, got: &mut std::collections::BTreeSet<u16>| {
        got.insert(String::from_utf8_lossy(&p.payload).parse::<u16>().unwrap());
    };
    while got.len() < 60 {
        let p = phone.expect_publish_acked().await;
        take(&p, &mut got);
    }
    phone.disconnect().await;
    let (mut phone, ack) = TestClient::connect_with(&c.nodes[1].addr(), persistent("mover")).await;
    assert!(ack.session_present);
    while got.len() < 300 {
        match phone.recv_within(Duration::from_secs(10)).await {
            Ok(Some(Packet::Publish(p))) => {
                phone
                    .send(Packet::PubAck(comqtt::mqtt::PubReply::new(p.packet_id)))
                    .await;
                take(&p, &mut got);
            }
            other => {
                let missing: Vec<u16> = (0..300).filter(|i| !got.contains(i)).collect();
                panic!(
                    "stopped at {} of 300 ({other:?}); missing {missing:?}",
                    got.len()
                );
            }
        }
    }
    publishing.await.unwrap();
}

#[tokio::test]
async fn after_suback_a_publish_on_another_node_arrives_and_puback_waits_for_it() {
    let c = Cluster::start(2, &[]);
    c.wait_voters(2).await;
    let mut publisher = TestClient::connect(&c.nodes[0].addr(), Protocol::V5, "pub").await;
    let mut subscriber = TestClient::connect(&c.nodes[1].addr(), Protocol::V5, "sub").await;
    for i in 0..10u16 {
        // SUBACK comes once the route is committed, so a publish right after it, on the
        // other node, is forwarded.
        let topic = format!("fresh/{i}");
        subscriber
            .subscribe_qos(i + 1, &topic, QoS::AtLeastOnce)
            .await;
        publisher
            .publish(&topic, b"x", QoS::AtLeastOnce, false, i + 1)
            .await;
        // The PUBACK came only once the other node acknowledged the message.
        let raft = c.get(0, "/api/v1/cluster/raft").await;
        let f = &raft["forwarded"];
        assert_eq!(f["acknowledged"], f["queued"], "{raft}");
        let m = subscriber.expect_publish_acked().await;
        assert_eq!(m.topic, topic.as_str());
    }
}

#[tokio::test]
async fn a_cluster_secret_keeps_out_tools_without_it() {
    let c = Cluster::start(2, &["--cluster-secret", "s3cret"]);
    // The nodes present it to each other: raft forms and messages cross.
    c.wait_voters(2).await;
    let mut s = TestClient::connect(&c.nodes[1].addr(), Protocol::V5, "s").await;
    s.subscribe_qos(1, "sec/#", QoS::AtLeastOnce).await;
    let mut p = TestClient::connect(&c.nodes[0].addr(), Protocol::V5, "p").await;
    p.publish("sec/1", b"ok", QoS::AtLeastOnce, false, 1).await;
    assert_eq!(&s.expect_publish_acked().await.payload[..], b"ok");
    // comqttctl without it is refused, with it served.
    let (ok, _, err) = c.ctl(0, &["members"]);
    assert!(!ok && err.contains("secret"), "{err}");
    let (ok, _, err) = c.ctl(0, &["--secret", "wrong", "members"]);
    assert!(!ok && err.contains("secret"), "{err}");
    let (ok, out, err) = c.ctl(0, &["--secret", "s3cret", "members"]);
    assert!(ok && out.contains("c1"), "{out}{err}");
}

#[tokio::test]
async fn the_cluster_routes_of_the_http_api_ask_every_node() {
    let c = Cluster::start(2, &["--http-token", "tok"]);
    c.wait_voters(2).await;
    let _a = TestClient::connect(&c.nodes[0].addr(), Protocol::V5, "on-c0").await;
    let _b = TestClient::connect(&c.nodes[1].addr(), Protocol::V5, "on-c1").await;
    let clients = c.get(0, "/api/v1/cluster/clients").await;
    let mut seen: Vec<(String, String)> = clients["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap().to_string(),
                i["node"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [("on-c0".into(), "c0".into()), ("on-c1".into(), "c1".into())],
        "{clients}"
    );
    let online = c.get(1, "/api/v1/cluster/stat/online").await;
    let total: u64 = online
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["data"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(total, 2, "{online}");
    let one = c.get(0, "/api/v1/cluster/clients/on-c1").await;
    assert!(
        one.as_array()
            .unwrap()
            .iter()
            .any(|r| r["node"] == "c1" && r["data"]["id"] == "on-c1"),
        "{one}"
    );
    // A ban through one node reaches every node (the token is passed on).
    let auth = [("Authorization", "Bearer tok")];
    let r = common::http::request(
        &c.nodes[0].http,
        "POST",
        "/api/v1/cluster/blacklist/bad-1",
        &auth,
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    for i in 0..2 {
        let list = c.get(i, "/api/v1/mqtt/blacklist").await;
        assert!(list.to_string().contains("bad-1"), "node {i}: {list}");
    }
    let r = common::http::request(&c.nodes[0].http, "DELETE", "/api/v1/node/c1", &auth, None).await;
    assert_eq!(
        r.status,
        400,
        "a node leaves through its own API: {}",
        r.text()
    );
    let r = common::http::request(&c.nodes[1].http, "DELETE", "/api/v1/node/c1", &auth, None).await;
    assert_eq!((r.status, r.json()["left"].clone()), (200, "c1".into()));
}

#[tokio::test]
async fn a_publisher_faster_than_the_link_is_paused_instead_of_losing_qos0_messages() {
    // The subscribing node may queue the whole burst for its client: only the link between
    // the nodes is under test.
    let dir = TempDir::new("cluster-burst");
    let conf = dir.file(
        "writes.yml",
        "mqtt:\n  options:\n    capabilities:\n      maximum-client-writes-pending: 1000000\n",
    );
    let c = Cluster::start(2, &["--conf", &conf]);
    c.wait_voters(2).await;
    let mut sub = TestClient::connect(&c.nodes[1].addr(), Protocol::V3_1_1, "slow-side").await;
    sub.subscribe_qos(1, "burst", QoS::AtMostOnce).await;
    c.wait_routes(0, "burst on c1", |r| names(r, "burst") == ["c1"])
        .await;
    // Node 1 frozen: what node 0 forwards piles up in its queue for node 1 once the stream's
    // windows are full. The publisher goes on as fast as node 0 reads from it, which must
    // be no faster than the queue can take.
    // More than a queue holds (100,000), were the publisher not paused.
    const N: u64 = 150_000;
    let stopped = c.nodes[1].process.as_ref().unwrap();
    // Connected first (a CONNECT asks every node to let go of the client's session), and
    // the stream between the nodes is up: a message went through it.
    let mut p = TestClient::connect(&c.nodes[0].addr(), Protocol::V3_1_1, "fast-side").await;
    p.publish("burst", b"warm-up", QoS::AtMostOnce, false, 0)
        .await;
    assert_eq!(&sub.expect_publish().await.payload[..], b"warm-up");
    stopped.signal("STOP");
    let publishing = tokio::spawn(async move {
        let mut buf = bytes::BytesMut::new();
        for i in 0..N {
            let mut payload = vec![b'.'; 1024];
            payload[..8].copy_from_slice(&i.to_be_bytes());
            Packet::Publish(comqtt::mqtt::Publish::new(
                "burst",
                QoS::AtMostOnce,
                payload,
            ))
            .encode(Protocol::V3_1_1, &mut buf)
            .unwrap();
            if buf.len() > 64 * 1024 || i + 1 == N {
                p.send_raw(&buf).await;
                buf.clear();
            }
        }
        p
    });
    // Until the publisher is done, or has been paused for a second.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut paused_at = None;
    while !publishing.is_finished()
        && paused_at.is_none_or(|t: std::time::Instant| t.elapsed() < Duration::from_secs(1))
    {
        let raft = c.get(0, "/api/v1/cluster/raft").await;
        if paused_at.is_none() && raft["forwarded"]["congested"].as_u64() > Some(0) {
            paused_at = Some(std::time::Instant::now());
        }
        assert!(std::time::Instant::now() < deadline, "{raft}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stopped.signal("CONT");
    let _publisher = publishing.await.unwrap();
    for i in 0..N {
        match sub.recv_within(Duration::from_secs(20)).await {
            Ok(Some(Packet::Publish(p))) => {
                let seq = u64::from_be_bytes(p.payload[..8].try_into().unwrap());
                assert_eq!(seq, i, "messages arrive in order, none missing");
            }
            other => panic!("message {i} of {N} did not arrive: {other:?}"),
        }
    }
    let raft = c.get(0, "/api/v1/cluster/raft").await;
    assert_eq!(raft["forwarded"]["dropped"], 0, "{raft}");
    assert_eq!(raft["forwarded"]["queued"], N + 1, "{raft}");
    assert!(raft["forwarded"]["congested"].as_u64() > Some(0), "{raft}");
}

#[tokio::test]
async fn a_hung_node_does_not_hold_up_clean_start_connects_on_the_others() {
    let c = Cluster::start(2, &[]);
    c.wait_voters(2).await;
    // The stream to node 1 is up (its channel is cached), then node 1 hangs: its socket
    // accepts, nothing answers, and gossip takes about a second to call it dead.
    let mut sub = TestClient::connect(&c.nodes[1].addr(), Protocol::V5, "far").await;
    sub.subscribe_qos(1, "x", QoS::AtMostOnce).await;
    c.nodes[1].process.as_ref().unwrap().signal("STOP");
    // A clean start needs nothing from node 1: connected within the test client's patience
    // (5 s), whether node 0 gives up asking node 1 (2 s) or gossip declares it dead first.
    for id in ["fresh-1", "fresh-2"] {
        let fresh = TestClient::connect(&c.nodes[0].addr(), Protocol::V5, id).await;
        fresh.disconnect().await;
    }
}

#[tokio::test]
async fn a_node_back_on_another_raft_address_is_followed_there() {
    let mut c = Cluster::start(3, &[]);
    c.wait_voters(3).await;
    // Node 2 comes back at once (still a voter) with the same name and raft directory but
    // another raft port, as a container with a new address would.
    c.kill(2);
    c.nodes[2].raft = common::free_port();
    let moved = format!("127.0.0.1:{}", c.nodes[2].raft);
    c.restart(2);
    c.wait_voters(3).await;
    // What is committed from now on reaches it: a route made on node 1.
    let mut s = TestClient::connect(&c.nodes[1].addr(), Protocol::V5, "s").await;
    s.subscribe_qos(1, "moved/#", QoS::AtLeastOnce).await;
    c.wait_routes(2, "moved/# on c1, seen by c2", |r| {
        names(r, "moved/#") == ["c1"]
    })
    .await;
    // And the membership records where it is now.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let raft = c.get(0, "/api/v1/cluster/raft").await;
        if raft["addresses"]["c2"] == moved.as_str() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{raft}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut p = TestClient::connect(&c.nodes[2].addr(), Protocol::V5, "p").await;
    p.publish("moved/x", b"here", QoS::AtLeastOnce, false, 1)
        .await;
    assert_eq!(&s.expect_publish_acked().await.payload[..], b"here");
    // A raft request that reaches the wrong node (a stale address now used by another one)
    // is refused there.
    let other = c.get(1, "/api/v1/cluster/raft").await["raft_id"].to_string();
    let mut raft = comqtt::cluster::proto::raft_client::RaftClient::connect(format!(
        "http://127.0.0.1:{}",
        c.nodes[0].raft
    ))
    .await
    .unwrap();
    let mut request = tonic::Request::new(comqtt::cluster::proto::RaftMessage {
        json: b"{}".to_vec().into(),
    });
    request
        .metadata_mut()
        .insert("comqtt-raft-target", other.parse().unwrap());
    let refused = raft.vote(request).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition, "{refused}");
}

#[tokio::test]
async fn with_cluster_tls_nodes_speak_only_mutual_tls_and_comqttctl_needs_a_certificate() {
    let pki = common::pki::Pki::new();
    let (cert, key, ca) = (
        pki.path("node.pem"),
        pki.path("node.key"),
        pki.path("ca.pem"),
    );
    let tls = [
        "--cluster-tls-cert",
        cert.as_str(),
        "--cluster-tls-key",
        key.as_str(),
        "--cluster-tls-ca",
        ca.as_str(),
    ];
    let c = Cluster::start(2, &tls);
    c.wait_voters(2).await;
    // Messages cross nodes over TLS.
    let mut s = TestClient::connect(&c.nodes[1].addr(), Protocol::V5, "s").await;
    s.subscribe_qos(1, "secure/#", QoS::AtLeastOnce).await;
    let mut p = TestClient::connect(&c.nodes[0].addr(), Protocol::V5, "p").await;
    p.publish("secure/x", b"sealed", QoS::AtLeastOnce, false, 1)
        .await;
    assert_eq!(&s.expect_publish_acked().await.payload[..], b"sealed");
    // comqttctl with a certificate of the cluster's CA is served...
    let grpc = format!("127.0.0.1:{}", c.nodes[0].grpc);
    let ctl = |extra: &[&str]| {
        let mut args = vec!["--server", grpc.as_str()];
        args.extend_from_slice(extra);
        args.push("members");
        run_tool(
            env!("CARGO_BIN_EXE_comqttctl"),
            &args,
            Duration::from_secs(15),
        )
    };
    let (stranger, stranger_key) = (pki.path("stranger.pem"), pki.path("stranger.key"));
    let ok = ctl(&["--tls-cert", &cert, "--tls-key", &key, "--tls-ca", &ca]);
    let listed = String::from_utf8_lossy(&ok.stdout);
    assert!(ok.status.success() && listed.contains("c1"), "{listed}");
    // ...without one, with one of another CA, or in the clear, it is not.
    for refused in [
        ctl(&[]),
        ctl(&[
            "--tls-ca",
            &ca,
            "--tls-cert",
            &stranger,
            "--tls-key",
            &stranger_key,
        ]),
    ] {
        assert!(
            !refused.status.success(),
            "{}",
            String::from_utf8_lossy(&refused.stdout)
        );
    }
    // A raft request in the clear does not get through either.
    let mut raft = comqtt::cluster::proto::raft_client::RaftClient::connect(format!(
        "http://127.0.0.1:{}",
        c.nodes[0].raft
    ))
    .await
    .unwrap();
    let clear = raft
        .vote(tonic::Request::new(comqtt::cluster::proto::RaftMessage {
            json: b"{}".to_vec().into(),
        }))
        .await;
    assert!(clear.is_err(), "{clear:?}");
}

#[test]
fn cluster_tls_with_a_missing_file_stops_the_broker_naming_it() {
    let err = common::serve_refused(&[
        "--node-name",
        "t0",
        "--gossip-port",
        &common::free_port().to_string(),
        "--raft-port",
        &common::free_port().to_string(),
        "--grpc-port",
        &common::free_port().to_string(),
        "--storage-way",
        "0",
        "--cluster-tls-cert",
        "/nonexistent/node.pem",
        "--cluster-tls-key",
        "/nonexistent/node.key",
        "--cluster-tls-ca",
        "/nonexistent/ca.pem",
    ]);
    assert!(err.contains("/nonexistent/node.pem"), "{err}");
}

#[tokio::test]
async fn two_connects_of_one_client_id_on_two_nodes_at_once_leave_one_connection() {
    let c = Cluster::start(2, &[]);
    c.wait_voters(2).await;
    let mut refused = 0;
    for round in 0..20 {
        let id = format!("twin-{round}");
        let connect = |addr: String, id: String| {
            tokio::spawn(async move {
                let (client, ack) =
                    TestClient::connect_with(&addr, Connect::new(Protocol::V5, id.as_str())).await;
                (client, ack.code)
            })
        };
        let first = connect(c.nodes[0].addr(), id.clone());
        let second = connect(c.nodes[1].addr(), id.clone());
        let (first, second) = (first.await.unwrap(), second.await.unwrap());
        let codes = [first.1, second.1];
        assert!(
            codes.contains(&ReasonCode::SUCCESS),
            "round {round}: {codes:?}"
        );
        refused += codes
            .iter()
            .filter(|c| **c == ReasonCode::SERVER_BUSY)
            .count();
        // A connection that won first may still be taken over by the other: until it
        // settles, then one connection is left.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let mut online = Vec::new();
            for i in 0..2 {
                let view = c.get(i, &format!("/api/v1/mqtt/clients/{id}")).await;
                if view["online"] == true {
                    online.push(i);
                }
            }
            if online.len() == 1 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "round {round}: online on {online:?}, CONNACKs {codes:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    eprintln!("{refused} of 40 CONNECTs lost a race and were refused with 0x89");
}

#[tokio::test]
async fn what_a_client_sent_on_one_node_takes_effect_before_it_resumes_on_another() {
    let c = Cluster::start(2, &[]);
    c.wait_voters(2).await;
    for round in 0..30u16 {
        // A retained message and its clear (QoS 0) sent on node 0, then the same client id
        // resuming on node 1 at once: node 1 has seen the clear when the session is there.
        let (mut old, _) = TestClient::connect_with(&c.nodes[0].addr(), persistent("hasty")).await;
        let mut set = Publish::new(
            "hasty/state",
            QoS::AtMostOnce,
            format!("v{round}").into_bytes(),
        );
        set.retain = true;
        old.send(Packet::Publish(set)).await;
        let mut clear = Publish::new("hasty/state", QoS::AtMostOnce, &b""[..]);
        clear.retain = true;
        old.send(Packet::Publish(clear)).await;
        let (new, ack) = TestClient::connect_with(&c.nodes[1].addr(), persistent("hasty")).await;
        assert_eq!(ack.code, ReasonCode::SUCCESS);
        assert!(ack.session_present, "round {round}: the session moved");
        let mut checker =
            TestClient::connect(&c.nodes[1].addr(), Protocol::V5, "hasty-check").await;
        let granted = checker
            .subscribe(1, "hasty/state", SubscriptionOptions::qos(QoS::AtMostOnce))
            .await;
        assert_eq!(granted.reasons, [ReasonCode::GRANTED_QOS_0]);
        if let Ok(Some(p)) = checker.recv_within(Duration::from_millis(200)).await {
            panic!("round {round}: the retained clear sent on node 0 was not seen, got {p:?}");
        }
        checker.disconnect().await;
        drop(old);

        // A DISCONNECT that ends the session (expiry 0) on node 1, then a resuming CONNECT
        // on node 0 at once: the session is gone.
        let mut new = new;
        let mut d = Disconnect::new(ReasonCode::SUCCESS);
        d.properties.session_expiry_interval = Some(0);
        new.send(Packet::Disconnect(d)).await;
        let (again, ack) = TestClient::connect_with(&c.nodes[0].addr(), persistent("hasty")).await;
        assert_eq!(ack.code, ReasonCode::SUCCESS);
        assert!(
            !ack.session_present,
            "round {round}: the session outlived its DISCONNECT"
        );
        drop(new);
        // Ends the session again for the next round.
        let mut d = Disconnect::new(ReasonCode::SUCCESS);
        d.properties.session_expiry_interval = Some(0);
        let mut again = again;
        again.send(Packet::Disconnect(d)).await;
        let _ = again.expect_disconnect().await;
    }
}
