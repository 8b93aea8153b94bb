//! comqtt-bench end to end: the real binary against a real `comqtt serve` and a real
//! Mosquitto (Debian `mosquitto`, started here on a free port), a JSON run, the conn
//! scenario, and a run whose broker dies midway, which must fail and say how many messages
//! were lost.

#[allow(unused_imports)]
mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{BrokerProcess, free_port, run_tool};

const BENCH: &str = env!("CARGO_BIN_EXE_comqtt-bench");

fn bench(args: &[&str]) -> Output {
    run_tool(BENCH, args, Duration::from_secs(60))
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn explain(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        stdout(out),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The number on the report line that starts with `label`.
fn figure(report: &str, label: &str) -> u64 {
    let line = report
        .lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no {label:?} line in\n{report}"));
    line[label.len()..]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number in {line:?}"))
}

/// A Mosquitto broker on a free loopback port, killed when dropped.
struct Mosquitto {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Mosquitto {
    fn start() -> Mosquitto {
        Mosquitto::start_with(|_| String::new())
    }

    /// Starts Mosquitto with more configuration, written by `extra(dir)` (listeners on other
    /// ports, for instance).
    fn start_with(extra: impl FnOnce(&std::path::Path) -> String) -> Mosquitto {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("bench-mosquitto-{port}"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let conf = dir.join("mosquitto.conf");
        let extra = extra(&dir);
        std::fs::write(
            &conf,
            format!("per_listener_settings false\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\nlistener {port} 127.0.0.1\n{extra}"),
        )
        .expect("config");
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("mosquitto is required by this test (apt-get install mosquitto): {e}")
            });
        wait_for_port(port);
        Mosquitto { child, port, dir }
    }

    fn url(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }
}

/// Waits until something accepts connections on 127.0.0.1:`port`.
fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn p2p_against_comqtt_delivers_everything_with_mqtt_stresser_progress() {
    let broker = BrokerProcess::start(&[]);
    let url = format!("tcp://{}", broker.addr());
    // stdout is a pipe: mqtt-stresser's dots, one per received message but each worker's last.
    let out = bench(&[
        "-broker",
        &url,
        "-num-clients",
        "5",
        "-num-messages=40",
        "-rampup-size",
        "2",
        "-rampup-delay",
        "10ms",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    let report = stdout(&out);
    assert!(
        report.starts_with(
            "2 worker started - waiting 10ms\n4 worker started - waiting 10ms\n5 worker started\n"
        ),
        "{report}"
    );
    let dots = report.lines().nth(3).unwrap();
    assert_eq!(
        dots,
        ".".repeat(200 - 5),
        "one dot per received message except each worker's last"
    );
    assert!(
        report.contains("\n# Configuration\nConcurrent Clients: 5\nMessages / Client:  40\n"),
        "{report}"
    );
    assert!(report.contains("Published Messages: 200 (100%)\nReceived Messages:  200 (100%)\nCompleted:          5 (100%)\nErrors:             0 (0%)\n"), "{report}");
    assert!(
        report.contains("# Publishing Throughput\nFastest: "),
        "{report}"
    );
    assert!(
        report.contains("# Receiving Througput\nFastest: "),
        "{report}"
    );
    assert!(
        report.contains("# Latency (publish to receive)\nMessages: 200\np50:"),
        "{report}"
    );
    assert!(!report.contains("Lost Messages"), "{report}");
}

#[test]
fn qos2_mqtt5_and_json_against_comqtt() {
    let broker = BrokerProcess::start(&[]);
    let url = format!("tcp://{}", broker.addr());
    let out = bench(&[
        "-broker",
        &url,
        "-num-clients",
        "4",
        "-num-messages",
        "50",
        "-publisher-qos",
        "2",
        "-subscriber-qos",
        "2",
        "-protocol",
        "5",
        "-payload-size",
        "64",
        "-json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", explain(&out)));
    assert_eq!(json["results"]["published"], 200);
    assert_eq!(json["results"]["received"], 200);
    assert_eq!(json["results"]["lost"], 0);
    assert_eq!(json["results"]["completed"], 4);
    assert_eq!(json["latency_ms"]["count"], 200);
    assert!(json["latency_ms"]["p99"].as_f64().unwrap() > 0.0);
    assert_eq!(json["exit_code"], 0);
}

#[test]
fn over_quic_against_comqtt() {
    let port = free_port();
    let broker = BrokerProcess::start(&["--quic", &format!("127.0.0.1:{port}")]);
    let quic = format!("quic://127.0.0.1:{port}");
    // The broker's certificate is self-signed: refused unless verification is skipped.
    let refused = bench(&[
        "-broker",
        &quic,
        "-num-clients",
        "1",
        "-num-messages",
        "1",
        "-no-progress",
    ]);
    assert_ne!(refused.status.code(), Some(0), "{}", explain(&refused));
    let out = bench(&[
        "-broker",
        &quic,
        "-skip-tls-verification",
        "-num-clients",
        "10",
        "-num-messages",
        "100",
        "-publisher-qos",
        "1",
        "-subscriber-qos",
        "1",
        "-no-progress",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    let report = stdout(&out);
    assert!(
        report.contains("Published Messages: 1000 (100%)\nReceived Messages:  1000 (100%)\n"),
        "{report}"
    );
    // QoS 0: a publisher that is done closes at once; what it sent last still arrives.
    let out = bench(&[
        "-broker",
        &quic,
        "-skip-tls-verification",
        "-num-clients",
        "10",
        "-num-messages",
        "100",
        "-no-progress",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    let report = stdout(&out);
    assert!(
        report.contains("Received Messages:  1000 (100%)\n"),
        "{report}"
    );
    drop(broker);
}

#[test]
fn conn_scenario_against_comqtt() {
    let broker = BrokerProcess::start(&[]);
    let url = format!("tcp://{}", broker.addr());
    let out = bench(&[
        "-broker",
        &url,
        "-scenario",
        "conn",
        "-num-clients",
        "40",
        "-connect-rate",
        "400",
        "-hold",
        "200ms",
        "-no-progress",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    let report = stdout(&out);
    assert_eq!(figure(&report, "Connected:"), 40, "{report}");
    assert_eq!(figure(&report, "Failed:"), 0, "{report}");
    assert!(
        report.contains("# Connect Latency (TCP connect to CONNACK)\nConnections: 40\n"),
        "{report}"
    );
}

#[test]
fn against_mosquitto() {
    let mosquitto = Mosquitto::start();
    let url = mosquitto.url();
    let p2p = bench(&[
        "-broker",
        &url,
        "-num-clients=10",
        "-num-messages=200",
        "-publisher-qos",
        "1",
        "-subscriber-qos",
        "1",
        "-no-progress",
    ]);
    assert_eq!(p2p.status.code(), Some(0), "{}", explain(&p2p));
    let report = stdout(&p2p);
    assert!(report.contains("Published Messages: 2000 (100%)\nReceived Messages:  2000 (100%)\nCompleted:          10 (100%)\n"), "{report}");

    let fanout = bench(&[
        "-broker",
        &url,
        "-scenario",
        "fanout",
        "-num-clients",
        "5",
        "-num-messages",
        "100",
        "-no-progress",
        "-constant-payload",
        "x",
    ]);
    assert_eq!(fanout.status.code(), Some(0), "{}", explain(&fanout));
    let report = stdout(&fanout);
    assert_eq!(
        (
            figure(&report, "Published Messages:"),
            figure(&report, "Received Messages:")
        ),
        (100, 500),
        "{report}"
    );
    assert!(
        report.contains("Messages: 500"),
        "constant payloads are timed by sequence: {report}"
    );

    let shared = bench(&[
        "-broker",
        &url,
        "-scenario",
        "sharedsub",
        "-num-clients",
        "4",
        "-num-messages",
        "100",
        "-protocol",
        "5",
        "-no-progress",
    ]);
    assert_eq!(shared.status.code(), Some(0), "{}", explain(&shared));
    assert_eq!(
        figure(&stdout(&shared), "Received Messages:"),
        400,
        "{}",
        explain(&shared)
    );
}

#[test]
fn a_broker_dying_midway_fails_the_run_and_counts_the_lost_messages() {
    let broker = BrokerProcess::start(&[]);
    let url = format!("tcp://{}", broker.addr());
    let child = Command::new(BENCH)
        .args([
            "-broker",
            &url,
            "-num-clients",
            "3",
            "-num-messages",
            "100",
            "-pause-between-messages",
            "10ms",
            "-no-progress",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting comqtt-bench");
    std::thread::sleep(Duration::from_millis(500));
    drop(broker); // kills it
    let out = child.wait_with_output().expect("comqtt-bench output");
    assert_eq!(out.status.code(), Some(2), "{}", explain(&out));
    let report = stdout(&out);
    let received = figure(&report, "Received Messages:");
    let lost = figure(&report, "Lost Messages:");
    assert!(received > 0 && received < 300, "{report}");
    assert_eq!(lost, 300 - received, "{report}");
    assert!(figure(&report, "- ConnectionLost:") > 0, "{report}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{lost} of 300 messages lost")),
        "{stderr}"
    );
}

/// Runs openssl, failing the test with its output if it fails.
fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is required (scripts/test installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn tls_websocket_and_secure_websocket_against_mosquitto() {
    let (ws, tls, wss) = (free_port(), free_port(), free_port());
    let mosquitto = Mosquitto::start_with(|dir| {
        // A CA and a server certificate for localhost it signed.
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=bench test CA",
            ],
        );
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=localhost",
            ],
        );
        std::fs::write(
            dir.join("ext.cnf"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
        )
        .unwrap();
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.pem",
                "-days",
                "2",
                "-extfile",
                "ext.cnf",
            ],
        );
        for file in ["server.key", "server.pem"] {
            // Mosquitto drops root privileges before it reads them.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.join(file), std::fs::Permissions::from_mode(0o644))
                .unwrap();
        }
        let (cert, key) = (dir.join("server.pem"), dir.join("server.key"));
        format!(
            "listener {ws} 127.0.0.1\nprotocol websockets\n\
             listener {tls} 127.0.0.1\ncertfile {c}\nkeyfile {k}\n\
             listener {wss} 127.0.0.1\nprotocol websockets\ncertfile {c}\nkeyfile {k}\n",
            c = cert.display(),
            k = key.display()
        )
    });
    [ws, tls, wss].into_iter().for_each(wait_for_port);
    let ca = mosquitto.dir.join("ca.pem");
    let ca = ca.to_str().unwrap();
    for (url, extra) in [
        (format!("ws://127.0.0.1:{ws}/mqtt"), vec![]),
        (format!("ssl://localhost:{tls}"), vec!["-cafile", ca]),
        (format!("wss://localhost:{wss}"), vec!["-cafile", ca]),
        (
            format!("tls://127.0.0.1:{tls}"),
            vec!["-skip-tls-verification"],
        ),
    ] {
        let mut args = vec![
            "-broker",
            url.as_str(),
            "-num-clients",
            "3",
            "-num-messages",
            "30",
            "-publisher-qos",
            "1",
            "-no-progress",
        ];
        args.extend(extra);
        let out = bench(&args);
        assert_eq!(out.status.code(), Some(0), "{url}: {}", explain(&out));
        assert_eq!(
            figure(&stdout(&out), "Received Messages:"),
            90,
            "{url}: {}",
            explain(&out)
        );
    }
    // Without the CA the server's certificate is not trusted: every worker fails to connect.
    let untrusted = bench(&[
        "-broker",
        &format!("ssl://localhost:{tls}"),
        "-num-clients",
        "1",
        "-no-progress",
        "-log-level",
        "1",
    ]);
    assert_eq!(untrusted.status.code(), Some(2), "{}", explain(&untrusted));
    assert_eq!(
        figure(&stdout(&untrusted), "- ConnectFailed:"),
        1,
        "{}",
        explain(&untrusted)
    );
}

#[tokio::test]
async fn session_expiry_option_leaves_persistent_sessions_behind() {
    let (broker, http) = BrokerProcess::start_with_http(&[]);
    let url = format!("tcp://{}", broker.addr());
    let out = bench(&[
        "-broker",
        &url,
        "-num-clients",
        "3",
        "-num-messages",
        "5",
        "-publisher-qos",
        "1",
        "-subscriber-qos",
        "1",
        "-protocol",
        "5",
        "-session-expiry",
        "60",
        "-no-progress",
    ]);
    assert!(out.status.success(), "{}", explain(&out));
    let stats = common::http::get(&http, "/api/v1/mqtt/stat/overall")
        .await
        .json();
    assert_eq!(
        stats["clients_disconnected"], 6,
        "3 publishers and 3 subscribers keep their sessions: {stats}"
    );
    let out = bench(&[
        "-broker",
        &url,
        "-num-clients",
        "2",
        "-num-messages",
        "5",
        "-no-progress",
    ]);
    assert!(out.status.success(), "{}", explain(&out));
    let stats = common::http::get(&http, "/api/v1/mqtt/stat/overall")
        .await
        .json();
    assert_eq!(
        stats["clients_disconnected"], 6,
        "clean sessions (the default) leave nothing: {stats}"
    );
}

#[tokio::test]
async fn source_addresses_spread_connections_over_loopback_addresses() {
    let (broker, http) = BrokerProcess::start_with_http(&[]);
    let url = format!("tcp://{}", broker.addr());
    // Hold the connections long enough to list them through the HTTP API.
    let child = Command::new(BENCH)
        .args([
            "-broker",
            &url,
            "-scenario",
            "conn",
            "-num-clients",
            "30",
            "-connect-rate",
            "1000",
            "-hold",
            "3s",
            "-no-progress",
            "-source-addresses",
            "127.0.0.2-127.0.0.4",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut sources = std::collections::BTreeSet::new();
    while Instant::now() < deadline {
        let list = common::http::get(&http, "/api/v1/mqtt/clients?page_size=100")
            .await
            .json();
        let items = list["items"].as_array().cloned().unwrap_or_default();
        if items.len() == 30 {
            for c in &items {
                let ip = c["ip"]
                    .as_str()
                    .unwrap()
                    .rsplit_once(':')
                    .unwrap()
                    .0
                    .to_string();
                sources.insert(ip);
            }
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    assert_eq!(
        sources.into_iter().collect::<Vec<_>>(),
        ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    );
}
