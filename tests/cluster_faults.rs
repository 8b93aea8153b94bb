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

use std::collections::BTreeSet;
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

async fn kill_the_subscribers_node(qos: QoS) {
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
    sub_targets.set(&[c.nodes[1].addr(), c.nodes[0].addr()]);
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
    kill_the_subscribers_node(QoS::AtLeastOnce).await;
}
