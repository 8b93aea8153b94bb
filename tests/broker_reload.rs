//! Hot reload against real `comqtt serve` processes, with each trigger — SIGHUP,
//! `POST /api/v1/reload`, `comqttctl reload` across a cluster: a changed ACL and a changed rate
//! limit reach clients that stay connected; a blacklist rule added to the file disconnects the
//! client it bans (0x98); the report names the keys applied and those that need a restart; a broken
//! file is refused as a whole with the old settings kept; the log level changes in place.

mod common;

use std::time::{Duration, Instant};

use common::auth::{connect_code, login};
use common::cluster::Cluster;
use common::http::{authorized, metric};
use common::temp_dir::TempDir;
use common::{BrokerProcess, TestClient};
use comqtt::mqtt::{Packet, Protocol, Publish, QoS, ReasonCode};

const TOKEN: &str = "reload-token";

/// Alice may publish anywhere (no rule matches `open/#`).
const RULES_OPEN: &str = r#"
users:
  alice:
    password: pw
  bob:
    password: pw
"#;

/// Alice may no longer publish to `open/#`.
const RULES_CLOSED: &str = r#"
users:
  alice:
    password: pw
    acl:
      "open/#": 0
  bob:
    password: pw
"#;

/// The main file: file datasource `rules`, a blacklist, and `limits` (YAML under
/// `mqtt.options.limits`, indented 6).
fn main_file(rules: &str, blacklist: &str, limits: &str, extra: &str) -> String {
    format!(
        "auth:\n  way: 1\n  datasource: 0\n  conf-path: {rules}\n  blacklist-path: {blacklist}\nmqtt:\n  options:\n    limits:\n{limits}{extra}"
    )
}

const NO_LIMITS: &str = "      max-connections: 0\n";
const RATE_LIMIT: &str =
    "      client-messages-per-second: 5\n      client-rate-disconnect: true\n";

struct Setup {
    dir: TempDir,
    conf: String,
    rules: String,
    blacklist: String,
}

impl Setup {
    fn new(tag: &str) -> Setup {
        let dir = TempDir::new(&format!("reload-{tag}"));
        let rules = dir.file("rules.yml", RULES_OPEN);
        let blacklist = dir.file("blacklist.yml", "auth: []\n");
        let conf = dir.file("comqtt.yml", &main_file(&rules, &blacklist, NO_LIMITS, ""));
        Setup {
            dir,
            conf,
            rules,
            blacklist,
        }
    }

    /// Rewrites the rule file and the main file's limits (and extra YAML).
    fn rewrite(&self, rules: &str, limits: &str, extra: &str) {
        std::fs::write(&self.rules, rules).expect("rules");
        std::fs::write(
            &self.conf,
            main_file(&self.rules, &self.blacklist, limits, extra),
        )
        .expect("main file");
    }
}

/// Publishes QoS 1 to `topic` and returns the PUBACK's reason code.
async fn puback(c: &mut TestClient, topic: &str, packet_id: u16) -> ReasonCode {
    let mut p = Publish::new(topic, QoS::AtLeastOnce, b"x".to_vec());
    p.packet_id = packet_id;
    c.send(Packet::Publish(p)).await;
    match c.recv().await {
        Some(Packet::PubAck(a)) => {
            assert_eq!(a.packet_id, packet_id);
            a.reason
        }
        other => panic!("expected PUBACK, got {other:?}"),
    }
}

/// Publishes until the PUBACK says `code` (a SIGHUP reload happens in the background).
async fn puback_becomes(c: &mut TestClient, topic: &str, code: ReasonCode) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut id = 100;
    loop {
        id += 1;
        if puback(c, topic, id).await == code {
            return;
        }
        assert!(Instant::now() < deadline, "PUBACK never became {code:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends a burst of QoS 0 publishes, then a PINGREQ; true if PINGRESP came back (not over a
/// rate limit), false if the broker disconnected with 0x96.
async fn burst_survives(c: &mut TestClient, n: u32) -> bool {
    let mut out = bytes::BytesMut::new();
    for i in 0..n {
        Packet::Publish(Publish::new("burst", QoS::AtMostOnce, i.to_string()))
            .encode(Protocol::V5, &mut out)
            .expect("encode");
    }
    // The PINGREQ in the same write: sent later, it could reach a socket the broker already
    // closed after a DISCONNECT, and the reset would discard the DISCONNECT unread.
    Packet::PingReq
        .encode(Protocol::V5, &mut out)
        .expect("encode");
    c.send_raw(&out).await;
    loop {
        match c.recv().await {
            Some(Packet::PingResp) => return true,
            Some(Packet::Disconnect(d)) => {
                assert_eq!(d.reason, ReasonCode::MESSAGE_RATE_TOO_HIGH);
                return false;
            }
            Some(Packet::Publish(_)) => continue,
            other => panic!("expected PINGRESP or DISCONNECT 0x96, got {other:?}"),
        }
    }
}

/// A broker on `setup`'s file with the HTTP API and a token.
fn broker(setup: &Setup) -> (BrokerProcess, String) {
    BrokerProcess::start_with_http(&["--conf", &setup.conf, "--http-token", TOKEN])
}

#[tokio::test]
async fn sighup_applies_a_changed_acl_and_rate_limit_to_connected_clients() {
    let setup = Setup::new("sighup");
    let (b, http) = broker(&setup);
    let addr = b.addr();
    let mut alice = login(&addr, Protocol::V5, "alice-1", "alice", "pw").await;
    let mut bob = login(&addr, Protocol::V5, "bob-1", "bob", "pw").await;
    assert_eq!(
        puback(&mut alice, "open/1", 1).await,
        ReasonCode::NO_MATCHING_SUBSCRIBERS
    );
    assert!(burst_survives(&mut bob, 50).await, "no rate limit yet");

    setup.rewrite(RULES_CLOSED, RATE_LIMIT, "");
    b.signal("HUP");
    puback_becomes(&mut alice, "open/1", ReasonCode::NOT_AUTHORIZED).await;
    // The rate limit reached bob, connected all along.
    let deadline = Instant::now() + Duration::from_secs(10);
    while burst_survives(&mut bob, 50).await {
        assert!(
            Instant::now() < deadline,
            "the rate limit never reached bob"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(b.log_contains("configuration reloaded"));
    assert_eq!(metric(&http, "comqtt_reloads_total").await, 1);
    drop(setup.dir);
}

#[tokio::test]
async fn http_reload_reports_what_it_applied_and_what_needs_a_restart() {
    let setup = Setup::new("http");
    let (b, http) = broker(&setup);
    let addr = b.addr();
    let mut alice = login(&addr, Protocol::V5, "alice-1", "alice", "pw").await;
    let mut bob = login(&addr, Protocol::V5, "bob-1", "bob", "pw").await;
    assert_eq!(
        puback(&mut alice, "open/1", 1).await,
        ReasonCode::NO_MATCHING_SUBSCRIBERS
    );

    // The token is needed.
    let r = authorized(&http, "POST", "/api/v1/reload", None, None).await;
    assert_eq!(r.status, 401);

    setup.rewrite(
        RULES_CLOSED,
        RATE_LIMIT,
        "    capabilities:\n      maximum-qos: 1\n",
    );
    let r = authorized(&http, "POST", "/api/v1/reload", Some(TOKEN), None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let report = r.json();
    let applied: Vec<&str> = report["applied"]
        .as_array()
        .expect("applied")
        .iter()
        .filter_map(|k| k.as_str())
        .collect();
    assert!(
        applied.contains(&"mqtt.options.limits.client-messages-per-second")
            && applied.contains(&"mqtt.options.limits.client-rate-disconnect"),
        "{report}"
    );
    assert_eq!(
        report["restart_needed"],
        serde_json::json!(["mqtt.options.capabilities.maximum-qos"]),
        "{report}"
    );
    assert_eq!(report["clients_reassessed"], 2, "{report}");
    // Applied by the time the answer came: the very next packets see it.
    assert_eq!(
        puback(&mut alice, "open/2", 2).await,
        ReasonCode::NOT_AUTHORIZED
    );
    assert!(
        !burst_survives(&mut bob, 50).await,
        "bob is over the new rate"
    );

    // A blacklist rule added to its file disconnects the client it bans (0x98 Administrative
    // action, as a ban over the API; 0x8A Banned is for its next CONNECT).
    std::fs::write(
        &setup.blacklist,
        "auth:\n  - client: \"alice-*\"\n    allow: false\n",
    )
    .expect("blacklist");
    let r = authorized(&http, "POST", "/api/v1/reload", Some(TOKEN), None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        alice.expect_disconnect().await,
        Some(ReasonCode::ADMINISTRATIVE_ACTION)
    );
    let (code, _) = connect_code(&addr, Protocol::V5, "alice-2", Some("alice"), Some("pw")).await;
    assert_eq!(code, ReasonCode::BANNED);
    drop(setup.dir);
}

#[tokio::test]
async fn a_broken_file_is_refused_as_a_whole_and_the_old_settings_stay() {
    let setup = Setup::new("broken");
    let (b, http) = broker(&setup);
    let addr = b.addr();
    let mut alice = login(&addr, Protocol::V5, "alice-1", "alice", "pw").await;

    // A valid rule change together with an invalid key elsewhere: nothing is applied.
    std::fs::write(&setup.rules, RULES_CLOSED).expect("rules");
    std::fs::write(
        &setup.conf,
        main_file(
            &setup.rules,
            &setup.blacklist,
            RATE_LIMIT,
            "    no-such-key: 1\n",
        ),
    )
    .expect("main file");
    let r = authorized(&http, "POST", "/api/v1/reload", Some(TOKEN), None).await;
    assert_eq!(r.status, 422, "{}", r.text());
    let error = r.json()["error"].as_str().unwrap_or_default().to_string();
    assert!(error.contains("no-such-key"), "{error}");
    // The same words as `comqtt config check`.
    let check = common::run_tool(
        env!("CARGO_BIN_EXE_comqtt"),
        &["config", "check", &setup.conf],
        Duration::from_secs(10),
    );
    let check_err = String::from_utf8_lossy(&check.stderr).to_string();
    assert!(!check.status.success());
    assert!(check_err.contains("no-such-key"), "{check_err}");

    // A rule file that does not parse is refused too (SIGHUP: logged).
    setup.rewrite("users: [not, a, map\n", NO_LIMITS, "");
    b.signal("HUP");
    assert!(b.log_contains("reload refused"), "{}", b.log_text());
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(&http, "comqtt_reloads_refused_total").await < 2 {
        assert!(
            Instant::now() < deadline,
            "the SIGHUP reload was not refused"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Alice stayed connected under the old rules.
    assert_eq!(
        puback(&mut alice, "open/1", 1).await,
        ReasonCode::NO_MATCHING_SUBSCRIBERS
    );
    login(&addr, Protocol::V5, "alice-2", "alice", "pw").await;
    assert_eq!(metric(&http, "comqtt_reloads_total").await, 0);
    drop(setup.dir);
}

#[tokio::test]
async fn the_log_level_changes_in_place() {
    let dir = TempDir::new("reload-log");
    let conf = dir.file("comqtt.yml", "log:\n  level: 8\n");
    let http = format!("127.0.0.1:{}", common::free_port());
    let http_arg = http.clone();
    let conf_arg = conf.clone();
    let b = BrokerProcess::start_custom(move |port| {
        [
            "serve",
            "--conf",
            &conf_arg,
            "--tcp",
            &format!("127.0.0.1:{port}"),
            "--ws",
            "",
            "--http",
            &http_arg,
            "--http-token",
            TOKEN,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    });
    assert!(
        !b.log_text().contains("comqtt server started"),
        "errors only"
    );
    std::fs::write(&conf, "log:\n  level: -4\n").expect("conf");
    let r = authorized(&http, "POST", "/api/v1/reload", Some(TOKEN), None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["applied"], serde_json::json!(["log.level"]));
    // Logged at info after the level changed: seen only if it did.
    assert!(b.log_contains("configuration reloaded"), "{}", b.log_text());
    let _c = TestClient::connect(&b.addr(), Protocol::V5, "after").await;
    assert!(b.log_contains("after"), "debug lines of a new client");
    drop(dir);
}

#[tokio::test]
async fn the_sys_interval_changes_in_place() {
    let dir = TempDir::new("reload-sys");
    let conf = dir.file(
        "comqtt.yml",
        "mqtt:\n  options:\n    sys-topic-resend-interval: 0\n",
    );
    let (b, http) = BrokerProcess::start_with_http(&["--conf", &conf, "--http-token", TOKEN]);
    let mut watcher = TestClient::connect(&b.addr(), Protocol::V5, "sys-watcher").await;
    watcher
        .subscribe_qos(1, "$SYS/broker/time", QoS::AtMostOnce)
        .await;
    // Off: nothing is published (not even retained).
    watcher.expect_nothing(Duration::from_millis(1500)).await;
    std::fs::write(
        &conf,
        "mqtt:\n  options:\n    sys-topic-resend-interval: 1\n",
    )
    .expect("conf");
    let r = authorized(&http, "POST", "/api/v1/reload", Some(TOKEN), None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["applied"],
        serde_json::json!(["mqtt.options.sys-topic-resend-interval"])
    );
    assert_eq!(watcher.expect_publish().await.topic, "$SYS/broker/time");
    drop(dir);
}

#[tokio::test]
async fn comqttctl_reload_applies_on_every_node_of_a_cluster() {
    let setup = Setup::new("cluster");
    let cluster = Cluster::start(2, &["--conf", &setup.conf]);
    cluster.wait_voters(2).await;
    let on_c1 = cluster.nodes[1].addr();
    let mut alice = login(&on_c1, Protocol::V5, "alice-1", "alice", "pw").await;
    let mut bob = login(&on_c1, Protocol::V5, "bob-1", "bob", "pw").await;
    assert_eq!(
        puback(&mut alice, "open/1", 1).await,
        ReasonCode::NO_MATCHING_SUBSCRIBERS
    );
    assert!(burst_survives(&mut bob, 50).await, "no rate limit yet");

    setup.rewrite(RULES_CLOSED, RATE_LIMIT, "");
    // Asked of node 0, done by both.
    let report = cluster.ctl_json(0, &["reload"]);
    let nodes = report["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 2, "{report}");
    for n in nodes {
        assert!(n.get("error").is_none(), "{report}");
    }
    assert_eq!(
        puback(&mut alice, "open/2", 2).await,
        ReasonCode::NOT_AUTHORIZED
    );
    assert!(
        !burst_survives(&mut bob, 50).await,
        "bob on c1 is over the new rate"
    );

    // One node by name; a table by default.
    setup.rewrite(RULES_OPEN, NO_LIMITS, "");
    let (ok, out, err) = cluster.ctl(0, &["reload", "c1"]);
    assert!(ok, "{err}");
    assert!(out.contains("c1") && out.contains("reloaded"), "{out}");
    assert_eq!(
        puback(&mut alice, "open/3", 3).await,
        ReasonCode::NO_MATCHING_SUBSCRIBERS
    );

    // A broken file: comqttctl fails and says which node refused.
    std::fs::write(&setup.conf, "mqtt: [\n").expect("conf");
    let (ok, out, err) = cluster.ctl(0, &["reload"]);
    assert!(!ok, "{out}");
    assert!(err.contains("refused"), "{err}");
    assert_eq!(
        puback(&mut alice, "open/4", 4).await,
        ReasonCode::NO_MATCHING_SUBSCRIBERS
    );
    drop(setup.dir);
}
