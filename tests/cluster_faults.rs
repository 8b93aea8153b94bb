//! Fault injection on a real three-node cluster sharing a real Redis (`--storage-way 3`):
//! QoS 1 / QoS 2 publishers and persistent-session subscribers on different nodes, while a
//! node is killed (`kill -9`), stopped for a long time and restarted, frozen (SIGSTOP), or
//! shut down one after another, and while Redis goes away. Every test asserts counts:
//! acknowledged and lost = 0, and for QoS 2, duplicates = 0. Each prints its figures
//! (acknowledged / delivered / lost / duplicated, detection and failover times).
//!
//! The tests of this file run one at a time (each runs a cluster; together they would fight
//! over two cores and turn timing into flakiness).

mod common;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::TestClient;
use common::cluster::Cluster;
use common::free_port;
use common::redis::RedisServer;
use common::temp_dir::TempDir;
use common::workload::{self, Targets};
use comqtt::mqtt::{Connect, Protocol, QoS, ReasonCode};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// A three-node cluster on a durable Redis (kept in `dir`).
async fn cluster(dir: &TempDir) -> (Cluster, RedisServer) {
    let redis = RedisServer::start_durable(free_port(), &dir.0);
    let args = [
        "--storage-way".to_string(),
        "3".into(),
        "--redis".into(),
        format!("127.0.0.1:{}", redis.port),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let c = Cluster::start(3, &args);
    c.wait_voters(3).await;
    (c, redis)
}

/// Waits until node `i`'s route table lists `filter` for node `node`.
async fn routed(c: &Cluster, i: usize, filter: &str, node: &str) {
    c.wait_routes(i, &format!("{filter} on {node}"), |r| {
        r[filter]
            .as_array()
            .is_some_and(|nodes| nodes.iter().any(|n| n == node))
    })
    .await;
}

/// Waits until node `observer` sees node `name` dead in gossip; returns how long it took
/// from `since`.
async fn detected(c: &Cluster, observer: usize, name: &str, since: Instant) -> Duration {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let members = c.ctl_json(observer, &["members"]);
        let alive = members.as_array().is_some_and(|all| {
            all.iter()
                .any(|m| m["name"] == name && m["status"] == "alive")
        });
        if !alive {
            return since.elapsed();
        }
        assert!(
            Instant::now() < deadline,
            "{name} never seen dead: {members}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Prints and checks the outcome: every acknowledged message delivered (and, at QoS 2,
/// once).
async fn settle(
    what: &str,
    publ: workload::Running<workload::Published>,
    sub: &workload::Running<workload::Received>,
    count: u32,
    qos: QoS,
) {
    workload::wait_published(&publ, count, Duration::from_secs(120)).await;
    let published = publ.stop().await;
    let acked = published.lock().acked.clone();
    let missing = workload::wait_received(sub, &acked, Duration::from_secs(60)).await;
    let (delivered, duplicates, connections) = {
        let s = sub.state.lock();
        (s.counts.len(), s.duplicates(), s.connections)
    };
    let p = published.lock();
    println!(
        "{what}: published {count}, acknowledged {}, refused {}, 0x10 {}, delivered {delivered}, lost {}, duplicated {} (subscriber connections {connections}, publisher connections {})",
        acked.len(),
        p.refused.len(),
        p.no_subscribers,
        missing.len(),
        duplicates.len(),
        p.connections,
    );
    assert!(!acked.is_empty(), "{what}: nothing was acknowledged at all");
    assert!(
        missing.is_empty(),
        "{what}: {} acknowledged messages never arrived, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(20)]
    );
    if qos == QoS::ExactlyOnce {
        assert!(
            duplicates.is_empty(),
            "{what}: QoS 2 messages delivered twice: {duplicates:?}"
        );
    }
}

/// Kills the node of a persistent subscriber while a publisher on node 0 sends to it; the
/// subscriber resumes on `resume_on` (tried in turn).
async fn kill_the_subscribers_node(qos: QoS, resume_on: [usize; 2]) {
    let dir = TempDir::new("faults");
    let (mut c, _redis) = cluster(&dir).await;
    let topic = format!("load/kill{}", qos as u8);
    let sub_targets = Targets::new(&[c.nodes[2].addr()]);
    let sub = workload::subscriber("victim-sub", sub_targets.clone(), "load/#", qos, 10);
    routed(&c, 0, "load/#", "c2").await;
    let count = 1500;
    let publ = workload::publisher(
        "steady-pub",
        Targets::new(&[c.nodes[0].addr()]),
        &topic,
        qos,
        count,
        10,
        Duration::from_millis(2),
    );
    workload::wait_acked(&publ, 400, Duration::from_secs(60)).await;
    let killed = Instant::now();
    c.kill(2);
    // The subscriber's client finds its session on another node.
    sub_targets.set(&[c.nodes[resume_on[0]].addr(), c.nodes[resume_on[1]].addr()]);
    println!(
        "  failure detected after {:?}",
        detected(&c, 0, "c2", killed).await
    );
    settle(
        &format!("kill -9 of the subscriber's node (QoS {})", qos as u8),
        publ,
        &sub,
        count,
        qos,
    )
    .await;
    println!(
        "  (subscriber back and complete {:?} after the kill)",
        killed.elapsed()
    );
    let _ = sub.stop().await;
}

#[tokio::test]
async fn kill_9_of_the_subscribers_node_loses_no_acknowledged_qos1_message() {
    let _one = serial();
    // A third node first.
    kill_the_subscribers_node(QoS::AtLeastOnce, [1, 0]).await;
}

#[tokio::test]
async fn kill_9_of_the_subscribers_node_loses_and_doubles_no_qos2_message() {
    let _one = serial();
    // The publisher's node first: its own publishes reach the session there directly once
    // it is there, and are parked for the dead node until then; none of them twice.
    kill_the_subscribers_node(QoS::ExactlyOnce, [0, 1]).await;
}

#[tokio::test]
async fn a_node_away_longer_than_failure_detection_gets_everything_when_it_restarts() {
    let _one = serial();
    let dir = TempDir::new("faults");
    let (mut c, _redis) = cluster(&dir).await;
    let sub_targets = Targets::new(&[c.nodes[2].addr()]);
    let sub = workload::subscriber("away-sub", sub_targets, "away/#", QoS::AtLeastOnce, 10);
    routed(&c, 0, "away/#", "c2").await;
    let count = 1200;
    let publ = workload::publisher(
        "away-pub",
        Targets::new(&[c.nodes[0].addr()]),
        "away/t",
        QoS::AtLeastOnce,
        count,
        10,
        Duration::from_millis(10),
    );
    workload::wait_acked(&publ, 200, Duration::from_secs(60)).await;
    c.kill(2);
    // Longer than failure detection (1 s) and raft's removal of the node (10 s): its
    // persistent session's routes outlive it, and what they match is parked for it.
    let down = Instant::now();
    while down.elapsed() < Duration::from_secs(15) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    c.restart(2);
    settle(
        "subscriber's node down 15 s, then restarted",
        publ,
        &sub,
        count,
        QoS::AtLeastOnce,
    )
    .await;
    let _ = sub.stop().await;
}

#[tokio::test]
async fn kill_9_of_the_publishers_node_after_puback_loses_nothing() {
    let _one = serial();
    let dir = TempDir::new("faults");
    let (mut c, _redis) = cluster(&dir).await;
    let sub = workload::subscriber(
        "calm-sub",
        Targets::new(&[c.nodes[2].addr()]),
        "pk/#",
        QoS::AtLeastOnce,
        10,
    );
    routed(&c, 0, "pk/#", "c2").await;
    routed(&c, 1, "pk/#", "c2").await;
    let count = 1500;
    let pub_targets = Targets::new(&[c.nodes[0].addr()]);
    let publ = workload::publisher(
        "hasty-pub",
        pub_targets.clone(),
        "pk/t",
        QoS::AtLeastOnce,
        count,
        10,
        Duration::from_millis(2),
    );
    workload::wait_acked(&publ, 400, Duration::from_secs(60)).await;
    pub_targets.set(&[c.nodes[1].addr()]);
    c.kill(0);
    settle(
        "kill -9 of the publisher's node",
        publ,
        &sub,
        count,
        QoS::AtLeastOnce,
    )
    .await;
    let _ = sub.stop().await;
}

#[tokio::test]
async fn after_the_leader_dies_a_suback_means_routed() {
    let _one = serial();
    let dir = TempDir::new("faults");
    let (mut c, _redis) = cluster(&dir).await;
    let leader_name = c.get(0, "/api/v1/cluster/raft").await["leader"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let leader = c
        .nodes
        .iter()
        .position(|n| n.name == leader_name)
        .expect("a leader");
    let others: Vec<usize> = (0..3).filter(|i| *i != leader).collect();
    let killed = Instant::now();
    c.kill(leader);
    // A new subscription on a surviving node at once: its SUBACK is a success only once the
    // route is committed (a new leader elected), or a failure code; the workload's
    // subscriber retries on a failure.
    let sub = workload::subscriber(
        "late-sub",
        Targets::new(&[c.nodes[others[0]].addr()]),
        "ld/#",
        QoS::AtLeastOnce,
        10,
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = c.get(others[1], "/api/v1/cluster/raft").await;
        if r["leader"].as_str().is_some_and(|l| l != leader_name) {
            break;
        }
        assert!(Instant::now() < deadline, "no new leader: {r}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("  new leader after {:?}", killed.elapsed());
    // Publishing starts as soon as the subscription is acknowledged (a SUBACK means routed).
    let deadline = Instant::now() + Duration::from_secs(30);
    while sub.state.lock().connections == 0
        || !c.ctl_json(others[1], &["inspect", "routes"])["ld/#"].is_array()
    {
        assert!(
            Instant::now() < deadline,
            "the subscription never got routed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let count = 300;
    let publ = workload::publisher(
        "after-leader-pub",
        Targets::new(&[c.nodes[others[1]].addr()]),
        "ld/t",
        QoS::AtLeastOnce,
        count,
        10,
        Duration::from_millis(2),
    );
    settle(
        "raft leader killed, subscription on a survivor",
        publ,
        &sub,
        count,
        QoS::AtLeastOnce,
    )
    .await;
    let _ = sub.stop().await;
}

#[tokio::test]
async fn a_frozen_node_slows_only_its_own_traffic_and_loses_nothing() {
    let _one = serial();
    let dir = TempDir::new("faults");
    let (c, _redis) = cluster(&dir).await;
    // The frozen node's subscriber stays connected through the freeze (keep alive 60 s).
    let frozen_sub = workload::subscriber(
        "frozen-sub",
        Targets::new(&[c.nodes[2].addr()]),
        "fz/#",
        QoS::AtLeastOnce,
        60,
    );
    // Traffic between the other two nodes.
    let calm_sub = workload::subscriber(
        "calm-sub",
        Targets::new(&[c.nodes[1].addr()]),
        "ok/#",
        QoS::AtLeastOnce,
        60,
    );
    routed(&c, 0, "fz/#", "c2").await;
    routed(&c, 0, "ok/#", "c1").await;
    let count = 3000;
    let to_frozen = workload::publisher(
        "to-frozen",
        Targets::new(&[c.nodes[0].addr()]),
        "fz/t",
        QoS::AtLeastOnce,
        count,
        10,
        Duration::from_millis(3),
    );
    let to_calm = workload::publisher(
        "to-calm",
        Targets::new(&[c.nodes[0].addr()]),
        "ok/t",
        QoS::AtLeastOnce,
        count,
        10,
        Duration::from_millis(3),
    );
    workload::wait_acked(&to_calm, 500, Duration::from_secs(60)).await;
    let before = Instant::now();
    let acked_before = to_calm.state.lock().acked.len();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rate_before =
        (to_calm.state.lock().acked.len() - acked_before) as f64 / before.elapsed().as_secs_f64();
    let frozen = c.nodes[2].process.as_ref().expect("running");
    frozen.signal("STOP");
    let start = Instant::now();
    let acked_at_freeze = to_calm.state.lock().acked.len();
    tokio::time::sleep(Duration::from_secs(8)).await;
    let rate_during =
        (to_calm.state.lock().acked.len() - acked_at_freeze) as f64 / start.elapsed().as_secs_f64();
    frozen.signal("CONT");
    println!(
        "  unaffected traffic: {rate_before:.0} msg/s before the freeze, {rate_during:.0} msg/s during it ({:.0}%)",
        100.0 * rate_during / rate_before.max(1.0)
    );
    settle(
        "a node frozen 8 s (SIGSTOP) with a subscriber",
        to_frozen,
        &frozen_sub,
        count,
        QoS::AtLeastOnce,
    )
    .await;
    settle(
        "traffic between the other nodes during the freeze",
        to_calm,
        &calm_sub,
        count,
        QoS::AtLeastOnce,
    )
    .await;
    let _ = frozen_sub.stop().await;
    let _ = calm_sub.stop().await;
}

#[tokio::test]
async fn nodes_leaving_one_after_another_are_all_removed_and_the_last_serves_on() {
    let _one = serial();
    let dir = TempDir::new("faults");
    let (mut c, _redis) = cluster(&dir).await;
    let leader_name = c.get(0, "/api/v1/cluster/raft").await["leader"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let leader = c
        .nodes
        .iter()
        .position(|n| n.name == leader_name)
        .expect("a leader");
    let second = (leader + 1) % 3;
    let last = (leader + 2) % 3;
    // SIGTERM of the leader, then 3.5 s later of a second node.
    let mut first = c.nodes[leader].process.take().expect("running");
    let started = Instant::now();
    first.signal("TERM");
    while started.elapsed() < Duration::from_millis(3500) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut then = c.nodes[second].process.take().expect("running");
    then.signal("TERM");
    assert!(first.terminate() && then.terminate(), "clean exits");
    // The last node's raft has only itself, and it leads.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut r = serde_json::Value::Null;
    while Instant::now() < deadline {
        r = c.get(last, "/api/v1/cluster/raft").await;
        if r["voters"].as_array().is_some_and(|v| v.len() == 1)
            && r["leader"] == c.nodes[last].name.as_str()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        r["voters"].as_array().is_some_and(|v| v.len() == 1),
        "the nodes that left are still voters: {r}"
    );
    // It serves its own clients: a subscription is routed and gets what is published.
    let mut s = TestClient::connect(&c.nodes[last].addr(), Protocol::V5, "alone-sub").await;
    s.subscribe_qos(1, "alone/t", QoS::AtLeastOnce).await;
    let mut p = TestClient::connect(&c.nodes[last].addr(), Protocol::V5, "alone-pub").await;
    p.publish("alone/t", b"still here", QoS::AtLeastOnce, false, 1)
        .await;
    assert_eq!(&s.expect_publish_acked().await.payload[..], b"still here");
    // A node that comes back rejoins.
    c.restart(second);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = c.get(last, "/api/v1/cluster/raft").await;
        if r["voters"].as_array().is_some_and(|v| v.len() == 2) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the node that came back never rejoined: {r}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn while_redis_is_down_persistent_sessions_get_0x88_and_nothing_acknowledged_is_lost() {
    let _one = serial();
    let dir = TempDir::new("faults");
    let (c, mut redis) = cluster(&dir).await;
    let sub = workload::subscriber(
        "redis-sub",
        Targets::new(&[c.nodes[2].addr()]),
        "rd/#",
        QoS::AtLeastOnce,
        10,
    );
    routed(&c, 0, "rd/#", "c2").await;
    let count = 1000;
    let publ = workload::publisher(
        "redis-pub",
        Targets::new(&[c.nodes[0].addr()]),
        "rd/t",
        QoS::AtLeastOnce,
        count,
        10,
        Duration::from_millis(5),
    );
    workload::wait_acked(&publ, 200, Duration::from_secs(60)).await;
    redis.stop();
    // A new persistent session is refused while the store is away (noticed within a
    // second or two).
    let mut connect = Connect::new(Protocol::V5, "newcomer");
    connect.clean_start = false;
    connect.properties.session_expiry_interval = Some(3600);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_client, ack) = TestClient::connect_with(&c.nodes[1].addr(), connect.clone()).await;
        if ack.code == ReasonCode::SERVER_UNAVAILABLE {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still accepted while Redis is down: {ack:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (client, ack) = TestClient::connect_with(&c.nodes[1].addr(), connect.clone()).await;
        if ack.code == ReasonCode::SUCCESS {
            client.disconnect().await;
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still refused after Redis came back: {ack:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    settle(
        "Redis stopped 3 s and restarted",
        publ,
        &sub,
        count,
        QoS::AtLeastOnce,
    )
    .await;
    let _ = sub.stop().await;
}

#[tokio::test]
async fn a_frozen_nodes_subscriber_that_moves_elsewhere_loses_nothing() {
    let _one = serial();
    let dir = TempDir::new("faults");
    let (c, _redis) = cluster(&dir).await;
    // Keep alive 4 s: the client gives the frozen node up and resumes its session on
    // another node while the frozen one still holds a copy of it.
    let sub = workload::subscriber(
        "mover-sub",
        Targets::new(&[c.nodes[2].addr(), c.nodes[1].addr()]),
        "mv/#",
        QoS::AtLeastOnce,
        4,
    );
    routed(&c, 0, "mv/#", "c2").await;
    let count = 2000;
    let publ = workload::publisher(
        "mover-pub",
        Targets::new(&[c.nodes[0].addr()]),
        "mv/t",
        QoS::AtLeastOnce,
        count,
        10,
        Duration::from_millis(3),
    );
    workload::wait_acked(&publ, 300, Duration::from_secs(60)).await;
    let frozen = c.nodes[2].process.as_ref().expect("running");
    frozen.signal("STOP");
    let start = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(40);
    while sub.state.lock().connections < 2 {
        assert!(Instant::now() < deadline, "the subscriber never moved");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("  subscriber resumed elsewhere after {:?}", start.elapsed());
    while start.elapsed() < Duration::from_secs(12) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    frozen.signal("CONT");
    settle(
        "a node frozen 12 s while its subscriber moved to another node",
        publ,
        &sub,
        count,
        QoS::AtLeastOnce,
    )
    .await;
    let _ = sub.stop().await;
}
