//! comqtt-top end to end: the real binary against real `comqtt serve` processes with their
//! HTTP API, traffic from our test client and from a third-party client (mosquitto_pub).
//! `--once` and `--json` figures are checked against what the traffic must have produced;
//! cluster discovery is checked against a node list served by a stand-in seed (listing two
//! real brokers, one of them on an unspecified address, and a dead node without an HTTP API);
//! the TUI runs in a real terminal under tmux (node table, live counts, views, `q`, an
//! unreachable node, a panic), and the terminal must be restored afterwards (alternate
//! screen left, raw mode off).

mod common;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::http::get;
use common::{BrokerProcess, TestClient, free_port, run_tool};
use comqtt::mqtt::{Protocol, QoS};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const TOP: &str = env!("CARGO_BIN_EXE_comqtt-top");

/// Runs comqtt-top (off the async runtime's threads) and returns its output.
async fn top(args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_tool(TOP, &args, Duration::from_secs(60))
    })
    .await
    .expect("running comqtt-top")
}

fn explain(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn json(out: &Output) -> Value {
    assert!(out.status.success(), "{}", explain(out));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("--json output is not JSON ({e}): {}", explain(out)))
}

/// The node's name, as it lists itself.
async fn node_name(http: &str) -> String {
    let nodes = get(http, "/api/v1/cluster/nodes").await.json();
    nodes[0]["name"]
        .as_str()
        .expect("the node lists its name")
        .to_string()
}

/// The line of `text` that starts with `first` (after trimming), failing with the text.
fn line_starting<'a>(text: &'a str, first: &str) -> &'a str {
    text.lines()
        .find(|l| l.split_whitespace().next() == Some(first))
        .unwrap_or_else(|| panic!("no line starting with {first:?} in\n{text}"))
}

/// A broker with traffic: `top-sub` subscribed to `sensors/#` (QoS 1) has received 10
/// messages from `top-pub` and one from mosquitto_pub, which also retained `status/pump`.
/// Both test clients stay connected: 2 clients, 1 subscription, 12 messages received.
struct Traffic {
    broker: BrokerProcess,
    http: String,
    sub: TestClient,
    publisher: TestClient,
}

async fn traffic() -> Traffic {
    let (broker, http) = BrokerProcess::start_with_http(&[]);
    let mut sub = TestClient::connect(&broker.addr(), Protocol::V5, "top-sub").await;
    sub.subscribe_qos(1, "sensors/#", QoS::AtLeastOnce).await;
    let mut publisher = TestClient::connect(&broker.addr(), Protocol::V3_1_1, "top-pub").await;
    for i in 0..10u16 {
        publisher
            .publish("sensors/temp", b"21.5", QoS::AtLeastOnce, false, i + 1)
            .await;
        sub.expect_publish_acked().await;
    }
    let port = broker.port.to_string();
    for args in [
        vec!["-t", "sensors/door", "-m", "open", "-q", "1"],
        vec!["-t", "status/pump", "-m", "running", "-r", "-q", "1"],
    ] {
        let mut all = vec!["-h", "127.0.0.1", "-p", &port, "-i", "mosq-pub"];
        all.extend(args);
        let out = run_tool("mosquitto_pub", &all, Duration::from_secs(10));
        assert!(out.status.success(), "mosquitto_pub: {}", explain(&out));
    }
    sub.expect_publish_acked().await;
    Traffic {
        broker,
        http,
        sub,
        publisher,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_prints_the_node_its_clients_subscriptions_and_retained_messages() {
    let t = traffic().await;
    let name = node_name(&t.http).await;
    let out = top(&["--http", &t.http, "--once", "--interval", "200ms"]).await;
    assert!(out.status.success(), "{}", explain(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.starts_with("comqtt-top snapshot at "), "{text}");
    assert!(text.contains("nodes 1/1 alive"), "{text}");
    // NODE STATUS LEADER HTTP CLIENTS ...
    let row: Vec<&str> = line_starting(&text, &name).split_whitespace().collect();
    assert_eq!(row[1..5], ["up", "*", &t.http, "2"], "{text}");
    let total: Vec<&str> = line_starting(&text, "TOTAL").split_whitespace().collect();
    assert_eq!(total[1..4], ["1/1", "alive", "2"], "{text}");
    assert!(
        text.contains("messages since start: 12 received, 11 sent, 0 dropped"),
        "{text}"
    );
    let sub: Vec<&str> = line_starting(&text, "top-sub").split_whitespace().collect();
    assert_eq!(sub[1], name, "{text}");
    assert!(sub.contains(&"online"), "{text}");
    let filter: Vec<&str> = line_starting(&text, "sensors/#")
        .split_whitespace()
        .collect();
    assert_eq!(filter, ["sensors/#", "1", "1"], "{text}");
    let retained = line_starting(&text, "status/pump");
    assert!(
        retained.contains("running") && retained.contains("mosq-pub"),
        "{text}"
    );
    assert!(line_starting(&text, "top-pub").contains("online"), "{text}");
    drop(t);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_snapshot_has_the_figures_and_rates_of_live_traffic() {
    let t = traffic().await;
    let Traffic {
        broker,
        http,
        sub,
        mut publisher,
    } = t;
    // Keep publishing QoS 0 to a topic nobody subscribes to while comqtt-top measures.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let load = tokio::spawn(async move {
        let mut sent = 0u64;
        while !flag.load(std::sync::atomic::Ordering::SeqCst) {
            publisher
                .publish("load/x", b"payload", QoS::AtMostOnce, false, 0)
                .await;
            sent += 1;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        (publisher, sent)
    });
    let out = top(&["--http", &http, "--json", "--interval", "500ms"]).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (_publisher, sent) = load.await.unwrap();
    let v = json(&out);
    assert_eq!(v["nodes_total"], 1, "{v:#}");
    assert_eq!(v["nodes_alive"], 1);
    let node = &v["nodes"][0];
    assert_eq!(node["status"], "up");
    assert_eq!(node["http"], http.as_str());
    assert_eq!(node["leader"], true);
    assert_eq!(node["stats"]["clients_connected"], 2);
    assert_eq!(node["stats"]["subscriptions"], 1);
    assert_eq!(node["stats"]["messages_sent"], 11);
    let received = node["stats"]["messages_received"].as_u64().unwrap();
    assert!(
        received > 12 && received <= 12 + sent,
        "{received} received, 12 + {sent} published"
    );
    let rate = node["rates"]["messages_in"].as_f64().unwrap();
    assert!(
        rate > 1.0,
        "messages in/s under load should be above 1, got {rate}"
    );
    let over = node["rates_over_ms"].as_u64().unwrap();
    assert!((450..3000).contains(&over), "rates over {over} ms");
    assert_eq!(v["totals"]["clients_connected"], 2);
    assert_eq!(
        v["totals"]["rates"]["messages_in"],
        node["rates"]["messages_in"]
    );
    let clients = v["clients"]["rows"].as_array().unwrap();
    let sub_row = clients
        .iter()
        .find(|c| c["id"] == "top-sub")
        .expect("top-sub listed");
    assert_eq!(sub_row["online"], true);
    assert_eq!(sub_row["subscriptions"], 1);
    assert_eq!(sub_row["protocol_version"], 5);
    assert!(sub_row["bytes_sent"].as_u64().unwrap() > 0);
    // mosquitto_pub's clean sessions ended with its connections.
    assert_eq!(v["clients"]["total"], 2, "{v:#}");
    assert_eq!(v["subscriptions"][0]["filter"], "sensors/#");
    assert_eq!(v["subscriptions"][0]["count"], 1);
    let retained = &v["retained"]["rows"][0];
    assert_eq!(retained["topic"], "status/pump");
    assert_eq!(retained["preview"], "running");
    assert_eq!(retained["size"], 7);
    assert_eq!(retained["client_id"], "mosq-pub");
    drop((sub, broker));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_with_no_reachable_node_exits_1_naming_the_address() {
    let nowhere = format!("127.0.0.1:{}", free_port());
    for mode in ["--once", "--json"] {
        let out = top(&["--http", &nowhere, mode, "--interval", "100ms"]).await;
        assert_eq!(out.status.code(), Some(1), "{}", explain(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("no node could be reached")
                && err.contains(&format!("{nowhere} is unreachable"))
                && err.contains("refused"),
            "{mode}: {err}"
        );
        assert!(out.stdout.is_empty(), "{}", explain(&out));
    }
    let out = top(&["--http", "nowhere", "--once"]).await;
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("\"nowhere\" is not a node address"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_http_flags_watch_exactly_those_nodes_and_an_unreachable_one_is_shown() {
    let (a, http_a) = BrokerProcess::start_with_http(&[]);
    let (b, http_b) = BrokerProcess::start_with_http(&[]);
    let _one = TestClient::connect(&b.addr(), Protocol::V5, "on-b").await;
    let nowhere = format!("127.0.0.1:{}", free_port());
    let out = top(&[
        "--http",
        &http_a,
        "--http",
        &http_b,
        "--http",
        &nowhere,
        "--json",
        "--interval",
        "200ms",
    ])
    .await;
    let v = json(&out);
    assert_eq!(v["nodes_total"], 3);
    assert_eq!(v["nodes_alive"], 2);
    let nodes = v["nodes"].as_array().unwrap();
    let https: Vec<&str> = nodes.iter().map(|n| n["http"].as_str().unwrap()).collect();
    assert_eq!(https, [http_a.as_str(), http_b.as_str(), nowhere.as_str()]);
    assert_eq!(nodes[0]["stats"]["clients_connected"], 0);
    assert_eq!(nodes[1]["stats"]["clients_connected"], 1);
    assert_eq!(nodes[2]["status"], "unreachable");
    assert!(
        nodes[2]["error"].as_str().unwrap().contains("refused"),
        "{v:#}"
    );
    // Both brokers are named after this host: told apart by their ports.
    assert_ne!(nodes[0]["name"], nodes[1]["name"]);
    let port_a = http_a.rsplit(':').next().unwrap();
    assert!(
        nodes[0]["name"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":{port_a}")),
        "{v:#}"
    );
    assert_eq!(v["totals"]["clients_connected"], 1);
    drop((a, b));
}

/// A stand-in node: answers `GET path` with the JSON of `routes` for that path, 404
/// otherwise.
async fn fake_node(routes: Vec<(&'static str, String)>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let routes = routes.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let request = String::from_utf8_lossy(&head);
                let path = request.split(' ').nth(1).unwrap_or_default();
                let path = path.split('?').next().unwrap_or_default();
                let (status, body) =
                    if let Some((_, body)) = routes.iter().find(|(p, _)| *p == path) {
                        ("200 OK", body.clone())
                    } else {
                        ("404 Not Found", "{\"error\":\"no route\"}".to_string())
                    };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_http_address_discovers_the_cluster_from_its_node_list() {
    let (a, http_a) = BrokerProcess::start_with_http(&[]);
    let (b, http_b) = BrokerProcess::start_with_http(&[]);
    let _one = TestClient::connect(&a.addr(), Protocol::V5, "on-a").await;
    let _two = TestClient::connect(&b.addr(), Protocol::V5, "on-b1").await;
    let _three = TestClient::connect(&b.addr(), Protocol::V3_1_1, "on-b2").await;
    let port_b = http_b.rsplit(':').next().unwrap();
    // beta listens on every interface: reached through the host that listed it.
    let listing = serde_json::json!([
        {"name": "alpha", "addr": "127.0.0.1", "http": http_a, "mqtt": a.addr(), "grpc": null,
         "status": "alive", "leader": true, "self": false},
        {"name": "beta", "addr": "0.0.0.0", "http": format!("0.0.0.0:{port_b}"), "mqtt": b.addr(),
         "grpc": null, "status": "alive", "leader": false, "self": false},
        {"name": "gamma", "addr": "10.0.0.3", "http": null, "mqtt": null, "grpc": null,
         "status": "dead", "leader": false, "self": false},
    ]);
    let seed = fake_node(vec![("/api/v1/cluster/nodes", listing.to_string())]).await;
    let out = top(&["--http", &seed, "--json", "--interval", "200ms"]).await;
    let v = json(&out);
    let nodes = v["nodes"].as_array().unwrap();
    let names: Vec<&str> = nodes.iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["alpha", "beta", "gamma"], "{v:#}");
    assert_eq!(nodes[0]["http"], http_a.as_str());
    assert_eq!(nodes[0]["leader"], true);
    assert_eq!(nodes[0]["stats"]["clients_connected"], 1);
    assert_eq!(
        nodes[1]["http"],
        http_b.as_str(),
        "0.0.0.0 replaced by the seed's host"
    );
    assert_eq!(nodes[1]["stats"]["clients_connected"], 2);
    assert_eq!(nodes[2]["status"], "dead");
    assert_eq!(nodes[2]["http"], Value::Null);
    assert_eq!(
        (v["nodes_alive"].as_u64(), v["nodes_total"].as_u64()),
        (Some(2), Some(3))
    );
    assert_eq!(v["totals"]["clients_connected"], 3);
    let clients: Vec<(&str, &str)> = v["clients"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["node"].as_str().unwrap(), c["id"].as_str().unwrap()))
        .collect();
    for expected in [("alpha", "on-a"), ("beta", "on-b1"), ("beta", "on-b2")] {
        assert!(clients.contains(&expected), "{expected:?} in {clients:?}");
    }
    // The same cluster in text: gamma's row says dead.
    let out = top(&["--http", &seed, "--once", "--interval", "200ms"]).await;
    assert!(out.status.success(), "{}", explain(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("nodes 2/3 alive"), "{text}");
    assert_eq!(
        line_starting(&text, "gamma").split_whitespace().nth(1),
        Some("dead")
    );
    drop((a, b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_without_the_node_list_is_watched_alone() {
    // An older node: stats, but no /api/v1/cluster/nodes (404). No node-list warning.
    let stats =
        serde_json::json!({"version": "comqtt 0.0.9", "uptime": 42, "clients_connected": 5});
    let old = fake_node(vec![("/api/v1/mqtt/stat/overall", stats.to_string())]).await;
    let out = top(&["--http", &old, "--once", "--interval", "100ms"]).await;
    assert!(out.status.success(), "{}", explain(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!text.contains("node list"), "{text}");
    let row: Vec<&str> = line_starting(&text, &old).split_whitespace().collect();
    assert_eq!(row[1..4], ["up", &old, "5"], "{text}");
    assert!(
        text.contains("nodes 1/1 alive · comqtt 0.0.9 · up 42s"),
        "{text}"
    );
    // Its missing /metrics is said, not fatal.
    assert!(text.contains("GET /metrics answered HTTP 404"), "{text}");
}

/// A tmux server of its own (its own socket, no user config) running one command in a
/// 160x45 window; killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(name: &str, command: &str) -> Tmux {
        let socket = format!("comqtt-top-test-{}-{name}", std::process::id());
        let tmux = Tmux { socket };
        let out = tmux.run(&[
            "new-session",
            "-d",
            "-s",
            "top",
            "-x",
            "160",
            "-y",
            "45",
            command,
        ]);
        assert!(out.status.success(), "tmux new-session: {}", explain(&out));
        tmux
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .output()
            .unwrap_or_else(|e| {
                panic!("tmux is required by the comqtt-top tests (scripts/test installs it): {e}")
            })
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "top"]).stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "top"];
        args.extend(keys);
        assert!(self.run(&args).status.success());
    }

    /// `tmux display-message -p FORMAT` for the pane.
    fn format(&self, format: &str) -> String {
        String::from_utf8_lossy(
            &self
                .run(&["display-message", "-p", "-t", "top", format])
                .stdout,
        )
        .trim()
        .to_string()
    }

    /// Waits up to 20 s until `ready` holds for the screen; returns that screen.
    fn wait_for(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            if Instant::now() > deadline {
                panic!("the screen never showed {what}:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// After comqtt-top exited (the wrapper printed its status and `stty -a`): its exit
    /// status, the alternate screen left, the cursor shown, the terminal out of raw mode.
    fn assert_exited_and_restored(&self, status: i32) -> String {
        let needle = format!("comqtt-top exited {status}");
        let screen = self.wait_for(&needle, |s| s.contains(&needle) && s.contains("speed"));
        assert_eq!(
            self.format("#{alternate_on}"),
            "0",
            "alternate screen left:\n{screen}"
        );
        assert_eq!(
            self.format("#{cursor_flag}"),
            "1",
            "cursor shown:\n{screen}"
        );
        let words: Vec<&str> = screen
            .split(|c: char| c.is_whitespace() || c == ';')
            .collect();
        for mode in ["icanon", "echo", "isig"] {
            assert!(
                words.contains(&mode) && !words.contains(&format!("-{mode}").as_str()),
                "{mode} must be back on after raw mode:\n{screen}"
            );
        }
        screen
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

/// The shell command tmux runs: comqtt-top, then its exit status and the terminal's modes.
fn wrapped(env: &str, args: &str) -> String {
    format!("{env} {TOP} {args}; echo \"comqtt-top exited $?\"; stty -a; sleep 120")
}

/// The cells of the node table row of `name` (without the table's borders).
fn node_cells(screen: &str, name: &str) -> Option<Vec<String>> {
    screen
        .lines()
        .map(|l| l.trim_matches(|c| c == '│' || c == ' '))
        .find(|l| l.split_whitespace().next() == Some(name))
        .map(|l| l.split_whitespace().map(String::from).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tui_shows_the_node_table_with_live_counts_and_restores_the_terminal_on_q() {
    let t = traffic().await;
    let name = node_name(&t.http).await;
    let tmux = Tmux::start(
        "live",
        &wrapped("", &format!("--http {} --interval 300ms", t.http)),
    );
    let screen = tmux.wait_for("the node row with 2 clients", |s| {
        node_cells(s, &name).is_some_and(|c| c.len() > 3 && c[1] == "up" && c[3] == "2")
    });
    for column in [
        "NODE",
        "STATUS",
        "CLIENTS",
        "MSGS IN/s",
        "MSGS OUT/s",
        "SUBS",
        "RETAINED",
        "MEMORY",
    ] {
        assert!(screen.contains(column), "{column} missing:\n{screen}");
    }
    assert!(screen.contains("nodes 1/1 alive"), "{screen}");
    assert!(
        screen.contains("Messages per second, last 60 s"),
        "{screen}"
    );
    // Live: a third client appears in the CLIENTS column, and traffic in MSGS IN/s.
    let third = TestClient::connect(&t.broker.addr(), Protocol::V5, "third").await;
    tmux.wait_for("3 clients", |s| {
        node_cells(s, &name).is_some_and(|c| c.len() > 3 && c[3] == "3")
    });
    let mut publisher = t.publisher;
    let flood = tokio::spawn(async move {
        for _ in 0..400 {
            publisher
                .publish("load/x", b"x", QoS::AtMostOnce, false, 0)
                .await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        publisher
    });
    let screen = tmux.wait_for("messages in per second", |s| {
        node_cells(s, &name).is_some_and(|c| c.len() > 4 && c[4] != "0" && c[4] != "-")
    });
    let cells = node_cells(&screen, &name).unwrap();
    assert!(
        cells[4].parse::<f64>().is_ok_and(|r| r > 0.0),
        "MSGS IN/s {:?}:\n{screen}",
        cells[4]
    );
    // The clients view lists the clients.
    tmux.keys(&["Tab"]);
    let screen = tmux.wait_for("the clients view", |s| {
        s.contains("top-sub") && s.contains("third")
    });
    assert!(screen.contains("Clients: 3 of"), "{screen}");
    tmux.keys(&["q"]);
    tmux.assert_exited_and_restored(0);
    let _ = flood.await;
    drop((third, t.sub, t.broker));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tui_shows_an_unreachable_node_and_keeps_running() {
    let nowhere = format!("127.0.0.1:{}", free_port());
    let tmux = Tmux::start(
        "unreachable",
        &wrapped("", &format!("--http {nowhere} --interval 200ms")),
    );
    let screen = tmux.wait_for("the unreachable node", |s| {
        node_cells(s, &nowhere).is_some_and(|c| c.get(1).map(String::as_str) == Some("unreachable"))
    });
    assert!(
        screen.contains(&format!("{nowhere}: unreachable: Connection refused")),
        "{screen}"
    );
    assert!(screen.contains("nodes 0/1 alive"), "{screen}");
    // Still running and retrying a second later.
    tmux.wait_for("the outage's duration", |s| {
        s.contains("for 1s; retrying") || s.contains("for 2s; retrying")
    });
    assert_eq!(tmux.format("#{alternate_on}"), "1", "the TUI is still up");
    // Esc quits too.
    tmux.keys(&["Escape"]);
    tmux.assert_exited_and_restored(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tui_restores_the_terminal_when_it_panics() {
    let (broker, http) = BrokerProcess::start_with_http(&[]);
    let tmux = Tmux::start(
        "panic",
        &wrapped(
            "env COMQTT_TOP_TEST_PANIC=1 RUST_BACKTRACE=0",
            &format!("--http {http} --interval 200ms"),
        ),
    );
    let screen = tmux.assert_exited_and_restored(101);
    assert!(
        screen.contains("panicking on purpose after the first round"),
        "the panic message is printed on the normal screen:\n{screen}"
    );
    drop(broker);
}
