//! Real network partitions: each node of a three-node cluster runs in its own network
//! namespace. The nodes talk to each other (gossip, raft, gRPC) through a bridge in a
//! "switch" namespace, one veth pair per node; clients and the shared Redis reach each node
//! over a second veth pair from the root namespace. Cutting a node's port on the switch
//! (`ip link set ... down`) partitions it from the other nodes while its clients and Redis
//! still reach it; `tc netem` adds loss and delay. (CI runs as root; these tests need it.)
//!
//! What must hold: the minority side cannot change routes (a SUBSCRIBE there is refused after
//! its wait, never acknowledged as routed); nothing acknowledged to a publisher on either side
//! is lost, during the split or after the heal.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::free_port;
use common::http::request;
use common::redis::RedisServer;
use common::temp_dir::TempDir;
use common::workload::{self, Targets};
use comqtt::mqtt::{Packet, Protocol, QoS, ReasonCode, Subscribe, SubscriptionOptions};

/// Runs `ip` (or `tc`) with `args`, failing the test with the command on an error.
fn run(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} is required (iproute2): {e}"));
    assert!(
        out.status.success(),
        "{program} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The namespaces and links of one test, removed on drop.
struct Net {
    tag: String,
    nodes: usize,
}

impl Net {
    /// Builds the switch and `nodes` node namespaces.
    fn build(nodes: usize) -> Net {
        // Short and unique: interface names are at most 15 characters.
        let tag = format!(
            "{:x}",
            (std::process::id() as u64 * 7919 + free_port() as u64) % 0xfffff
        );
        let net = Net { tag, nodes };
        let sw = net.ns("sw");
        run("ip", &["netns", "add", &sw]);
        run("ip", &["-n", &sw, "link", "add", "br0", "type", "bridge"]);
        run("ip", &["-n", &sw, "link", "set", "br0", "up"]);
        for i in 0..nodes {
            let ns = net.ns(&format!("n{i}"));
            run("ip", &["netns", "add", &ns]);
            run("ip", &["-n", &ns, "link", "set", "lo", "up"]);
            // The cluster link, to the switch.
            let (inner, port) = (format!("c{}{i}", net.tag), net.port(i));
            run(
                "ip",
                &[
                    "link", "add", &inner, "netns", &ns, "type", "veth", "peer", "name", &port,
                    "netns", &sw,
                ],
            );
            run(
                "ip",
                &[
                    "-n",
                    &ns,
                    "addr",
                    "add",
                    &format!("{}/24", net.cluster_ip(i)),
                    "dev",
                    &inner,
                ],
            );
            run("ip", &["-n", &ns, "link", "set", &inner, "up"]);
            run("ip", &["-n", &sw, "link", "set", &port, "master", "br0"]);
            run("ip", &["-n", &sw, "link", "set", &port, "up"]);
            // The client link, to the root namespace.
            let (root, inside) = (format!("r{}{i}", net.tag), format!("h{}{i}", net.tag));
            run(
                "ip",
                &[
                    "link", "add", &root, "type", "veth", "peer", "name", &inside, "netns", &ns,
                ],
            );
            run(
                "ip",
                &["addr", "add", &format!("10.98.{i}.1/24"), "dev", &root],
            );
            run("ip", &["link", "set", &root, "up"]);
            run(
                "ip",
                &[
                    "-n",
                    &ns,
                    "addr",
                    "add",
                    &format!("{}/24", net.client_ip(i)),
                    "dev",
                    &inside,
                ],
            );
            run("ip", &["-n", &ns, "link", "set", &inside, "up"]);
        }
        net
    }

    fn ns(&self, what: &str) -> String {
        format!("comqtt-{}-{what}", self.tag)
    }

    /// The switch port of node `i`.
    fn port(&self, i: usize) -> String {
        format!("s{}{i}", self.tag)
    }

    fn cluster_ip(&self, i: usize) -> String {
        format!("10.97.0.{}", i + 10)
    }

    fn client_ip(&self, i: usize) -> String {
        format!("10.98.{i}.2")
    }

    /// Cuts node `i` off the other nodes (its clients and Redis still reach it).
    fn cut(&self, i: usize) {
        run(
            "ip",
            &["-n", &self.ns("sw"), "link", "set", &self.port(i), "down"],
        );
    }

    /// Heals the cut.
    fn heal(&self, i: usize) {
        run(
            "ip",
            &["-n", &self.ns("sw"), "link", "set", &self.port(i), "up"],
        );
    }

    /// Adds loss and delay to node `i`'s cluster link: `netem` where the kernel has it, else
    /// a narrow token bucket (`tbf`: packets wait up to 100 ms, beyond that they are dropped;
    /// CI's kernel is built without netem).
    fn degrade(&self, i: usize, loss: &str, delay: &str) {
        let (sw, port) = (self.ns("sw"), self.port(i));
        let netem = Command::new("tc")
            .args([
                "-n", &sw, "qdisc", "add", "dev", &port, "root", "netem", "loss", loss, "delay",
                delay,
            ])
            .output()
            .is_ok_and(|o| o.status.success());
        if !netem {
            run(
                "tc",
                &[
                    "-n", &sw, "qdisc", "add", "dev", &port, "root", "tbf", "rate", "2mbit",
                    "burst", "8kb", "latency", "100ms",
                ],
            );
        }
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for i in 0..self.nodes {
            let _ = Command::new("ip")
                .args(["link", "del", &format!("r{}{i}", self.tag)])
                .status();
            let _ = Command::new("ip")
                .args(["netns", "del", &self.ns(&format!("n{i}"))])
                .status();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.ns("sw")])
            .status();
    }
}

/// A node process in its namespace.
struct NetNode {
    child: std::process::Child,
    log: std::path::PathBuf,
}

impl Drop for NetNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- node log ({}) ---\n{}",
                self.log.display(),
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }
}

const MQTT: u16 = 1883;
const HTTP: u16 = 8080;
const GOSSIP: u16 = 7946;

fn start_node(net: &Net, i: usize, redis: &str, dir: &TempDir) -> NetNode {
    let log = std::path::PathBuf::from(dir.path(&format!("n{i}.log")));
    let file = std::fs::File::create(&log).expect("log file");
    let mut args = vec![
        "netns".to_string(),
        "exec".into(),
        net.ns(&format!("n{i}")),
        env!("CARGO_BIN_EXE_comqtt").into(),
        "serve".into(),
        "--tcp".into(),
        format!("{}:{MQTT}", net.client_ip(i)),
        "--ws".into(),
        "".into(),
        "--http".into(),
        format!("{}:{HTTP}", net.client_ip(i)),
        "--level".into(),
        "0".into(),
        "--node-name".into(),
        format!("c{i}"),
        "--bind-ip".into(),
        net.cluster_ip(i),
        "--gossip-port".into(),
        GOSSIP.to_string(),
        "--raft-dir".into(),
        dir.path(&format!("raft-{i}")),
        "--members".into(),
        format!("{}:{GOSSIP}", net.cluster_ip(0)),
        "--storage-way".into(),
        "3".into(),
        "--redis".into(),
        redis.replace("IP", &format!("10.98.{i}.1")),
    ];
    if i == 0 {
        args.push("--raft-bootstrap".into());
    }
    let child = Command::new("ip")
        .args(&args)
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .expect("starting a node in its namespace");
    NetNode { child, log }
}

async fn raft(net: &Net, i: usize) -> serde_json::Value {
    let addr = format!("{}:{HTTP}", net.client_ip(i));
    request(&addr, "GET", "/api/v1/cluster/raft", &[], None)
        .await
        .json()
}

/// Waits until every node sees the same leader and three voters.
async fn settled(net: &Net) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = serde_json::Value::Null;
    while Instant::now() < deadline {
        let mut leaders = Vec::new();
        let mut ok = true;
        for i in 0..net.nodes {
            let r = raft(net, i).await;
            ok &= r["voters"].as_array().is_some_and(|v| v.len() == net.nodes);
            leaders.push(r["leader"].clone());
            last = r;
        }
        if ok && leaders.iter().all(|l| !l.is_null() && *l == leaders[0]) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    panic!("the cluster in namespaces did not settle: {last}");
}

/// Waits until an MQTT client can connect to every node.
async fn listening(net: &Net) {
    for i in 0..net.nodes {
        let addr = format!("{}:{MQTT}", net.client_ip(i));
        let deadline = Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(&addr).await.is_err() {
            assert!(
                Instant::now() < deadline,
                "node {i} never listened on {addr}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test]
async fn a_partitioned_node_cannot_change_routes_and_nothing_acknowledged_is_lost() {
    let net = Net::build(3);
    let dir = TempDir::new("netsplit");
    // Redis in the root namespace, reached by every node over its client link.
    let redis_port = free_port();
    let redis = RedisServer::start_durable_reachable(redis_port, &dir.0);
    let redis_addr = format!("IP:{}", redis.port);
    let _nodes: Vec<NetNode> = (0..3)
        .map(|i| start_node(&net, i, &redis_addr, &dir))
        .collect();
    listening(&net).await;
    settled(&net).await;
    let addr = |i: usize| format!("{}:{MQTT}", net.client_ip(i));

    // A persistent subscriber on node 0 (the side that will be cut off) and one on node 1.
    let sub0 = workload::subscriber(
        "minor-sub",
        Targets::new(&[addr(0)]),
        "split/#",
        QoS::AtLeastOnce,
        60,
    );
    let sub1 = workload::subscriber(
        "major-sub",
        Targets::new(&[addr(1)]),
        "split/#",
        QoS::AtLeastOnce,
        60,
    );
    // Routed everywhere before the split: both granted (a SUBACK means committed), then
    // every node has applied the log up to there.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(sub0.state.lock().subscribed && sub1.state.lock().subscribed) {
        assert!(Instant::now() < deadline, "subscribers never subscribed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let last = raft(&net, 1).await["last_log_index"].as_u64().unwrap_or(0);
    for i in 0..3 {
        let deadline = Instant::now() + Duration::from_secs(30);
        while raft(&net, i).await["last_applied"].as_u64().unwrap_or(0) < last {
            assert!(
                Instant::now() < deadline,
                "node {i} never applied the routes"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // Publishers on both sides, all through the split and the heal.
    let count = 1500;
    let pub_minor = workload::publisher(
        "minor-pub",
        Targets::new(&[addr(0)]),
        "split/m",
        QoS::AtLeastOnce,
        count,
        10,
        Duration::from_millis(5),
    );
    let pub_major = workload::publisher(
        "major-pub",
        Targets::new(&[addr(2)]),
        "split/j",
        QoS::AtLeastOnce,
        count,
        10,
        Duration::from_millis(5),
    );
    workload::wait_acked(&pub_major, 200, Duration::from_secs(60)).await;

    net.cut(0);
    let cut = Instant::now();
    // The majority elects a leader without node 0 (if node 0 led).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = raft(&net, 1).await;
        if r["leader"].as_str().is_some_and(|l| l != "c0") {
            break;
        }
        assert!(Instant::now() < deadline, "the majority has no leader: {r}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("  majority leader after {:?}", cut.elapsed());
    // Node 0 alone cannot commit a route: a new subscription there is refused, not granted.
    let mut late = common::TestClient::connect(&addr(0), Protocol::V5, "minor-late").await;
    late.send(Packet::Subscribe(Subscribe::new(
        1,
        "minority/new",
        SubscriptionOptions::qos(QoS::AtLeastOnce),
    )))
    .await;
    match late.recv_within(Duration::from_secs(20)).await {
        Ok(Some(Packet::SubAck(a))) => assert_eq!(
            a.reasons,
            [ReasonCode::UNSPECIFIED_ERROR],
            "a route the minority cannot commit"
        ),
        other => panic!("expected a refusing SUBACK, got {other:?}"),
    }
    // Loss and delay on the way back, then the heal.
    while cut.elapsed() < Duration::from_secs(12) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    net.degrade(0, "20%", "30ms");
    net.heal(0);
    println!("  healed after {:?}", cut.elapsed());

    for (what, publ, subs) in [
        ("publisher on the minority side", pub_minor, [&sub0, &sub1]),
        ("publisher on the majority side", pub_major, [&sub0, &sub1]),
    ] {
        workload::wait_published(&publ, count, Duration::from_secs(180)).await;
        let published = publ.stop().await;
        let acked = published.lock().acked.clone();
        for (name, sub) in ["minority subscriber", "majority subscriber"]
            .iter()
            .zip(subs)
        {
            let missing = workload::wait_received(sub, &acked, Duration::from_secs(90)).await;
            println!(
                "netsplit, {what} -> {name}: acknowledged {}, lost {}",
                acked.len(),
                missing.len()
            );
            assert!(!acked.is_empty(), "{what}: nothing acknowledged");
            assert!(
                missing.is_empty(),
                "{what} -> {name}: {} acknowledged messages lost, e.g. {:?}",
                missing.len(),
                &missing[..missing.len().min(20)]
            );
        }
    }
    let _ = sub0.stop().await;
    let _ = sub1.stop().await;
}
