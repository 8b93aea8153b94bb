//! Interoperability with real third-party clients: Eclipse Mosquitto's `mosquitto_pub` and
//! `mosquitto_sub` (Debian mosquitto-clients; scripts/test installs them), in MQTT 3.1,
//! 3.1.1 and 5.0.
//!
//! A subscriber is known to be subscribed when it prints a retained marker published before
//! it started: the broker sends retained messages only once the subscription exists. Every
//! `mosquitto_sub` runs with `-W` and every wait has a timeout, so nothing hangs.

#[allow(unused_imports)] // the raw client of `common` is not used here
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::BrokerProcess;

const VERSIONS: [&str; 3] = ["mqttv31", "mqttv311", "mqttv5"];
/// Longest wait for any single expected output.
const WAIT: Duration = Duration::from_secs(10);

/// A client program running in the background, its stdout lines collected as they come.
struct Running {
    what: String,
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: std::thread::JoinHandle<String>,
}

impl Running {
    fn spawn(program: &str, args: &[&str]) -> Running {
        let what = format!("{program} {}", args.join(" "));
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("{program} is required by this test (scripts/test installs it): {e}")
            });
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut err = child.stderr.take().expect("stderr");
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        Running {
            what,
            child,
            lines,
            stderr,
        }
    }

    /// The next line printed, failing the test after [`WAIT`].
    fn line(&mut self, expecting: &str) -> String {
        match self.lines.recv_timeout(WAIT) {
            Ok(line) => line,
            Err(_) => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let stderr = self.take_stderr();
                panic!(
                    "`{}` printed no line ({expecting}); stderr: {stderr}",
                    self.what
                );
            }
        }
    }

    /// Waits for the program to exit by itself; returns its status and remaining lines.
    fn finish(mut self) -> (ExitStatus, Vec<String>) {
        let deadline = std::time::Instant::now() + WAIT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let stderr = self.take_stderr();
                panic!("`{}` did not exit in time; stderr: {stderr}", self.what);
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut rest = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(500)) {
            rest.push(line);
        }
        (status, rest)
    }

    fn take_stderr(&mut self) -> String {
        let _ = self.child.kill();
        std::mem::replace(&mut self.stderr, std::thread::spawn(String::new))
            .join()
            .unwrap_or_default()
    }

    /// SIGKILL: the client gets no chance to send DISCONNECT.
    fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `-h 127.0.0.1 -p PORT -V VERSION` followed by `rest`.
fn args<'a>(port: &'a str, version: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["-h", "127.0.0.1", "-p", port, "-V", version];
    v.extend_from_slice(rest);
    v
}

/// Runs `mosquitto_pub` to completion, feeding `stdin` (for `-l`), and asserts success.
fn mosquitto_pub(args: &[&str], stdin: &str) {
    let mut child = Command::new("mosquitto_pub")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("mosquitto_pub is required by this test (scripts/test installs it): {e}")
        });
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("writing to mosquitto_pub");
    let deadline = std::time::Instant::now() + WAIT;
    while child.try_wait().expect("try_wait").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().expect("mosquitto_pub output");
    assert!(
        out.status.success(),
        "mosquitto_pub {} failed ({}): {}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Publishes a retained marker on `topic` so that a later subscriber proves it is subscribed
/// by printing it.
fn retained_marker(port: &str, topic: &str) {
    mosquitto_pub(
        &args(
            port,
            "mqttv311",
            &["-q", "1", "-r", "-t", topic, "-m", "ready"],
        ),
        "",
    );
}

#[test]
fn mosquitto_sub_receives_what_mosquitto_pub_sends_in_each_version_and_qos() {
    let broker = BrokerProcess::start(&[]);
    let port = broker.port.to_string();
    let n = 10;
    for version in VERSIONS {
        for qos in ["0", "1", "2"] {
            let prefix = format!("mq/{version}/q{qos}");
            let ready = format!("{prefix}/ready");
            retained_marker(&port, &ready);
            let filter = format!("{prefix}/#");
            let count = (n + 1).to_string();
            let mut sub = Running::spawn(
                "mosquitto_sub",
                &args(
                    &port,
                    version,
                    &["-q", qos, "-t", &filter, "-v", "-C", &count, "-W", "10"],
                ),
            );
            assert_eq!(
                sub.line("the retained marker"),
                format!("{ready} ready"),
                "{version} QoS {qos}"
            );
            let topic = format!("{prefix}/data");
            let lines: String = (0..n)
                .map(|i| format!("{version} q{qos} message {i}\n"))
                .collect();
            mosquitto_pub(
                &args(&port, version, &["-q", qos, "-t", &topic, "-l"]),
                &lines,
            );
            let mut got = Vec::new();
            for i in 0..n {
                got.push(sub.line(&format!("{version} QoS {qos} message {i}")));
            }
            let want: Vec<String> = (0..n)
                .map(|i| format!("{topic} {version} q{qos} message {i}"))
                .collect();
            assert_eq!(got, want, "{version} QoS {qos}: all messages, in order");
            let (status, rest) = sub.finish();
            assert!(
                status.success(),
                "{version} QoS {qos}: mosquitto_sub exited with {status}"
            );
            assert!(
                rest.is_empty(),
                "{version} QoS {qos}: extra output {rest:?}"
            );
        }
    }
}

#[test]
fn mosquitto_retained_message_is_seen_by_a_later_subscriber_until_cleared() {
    let broker = BrokerProcess::start(&[]);
    let port = broker.port.to_string();
    for version in VERSIONS {
        let topic = format!("ret/{version}");
        let payload = format!("kept by {version}");
        mosquitto_pub(
            &args(
                &port,
                version,
                &["-q", "1", "-r", "-t", &topic, "-m", &payload],
            ),
            "",
        );
        let later = Running::spawn(
            "mosquitto_sub",
            &args(
                &port,
                version,
                &[
                    "-q",
                    "1",
                    "-t",
                    &topic,
                    "-F",
                    "%r %q %t %p",
                    "-C",
                    "1",
                    "-W",
                    "5",
                ],
            ),
        );
        let (status, lines) = later.finish();
        assert!(
            status.success(),
            "{version}: mosquitto_sub exited with {status}"
        );
        assert_eq!(
            lines,
            vec![format!("1 1 {topic} {payload}")],
            "{version}: retained flag, QoS, topic, payload"
        );
    }
    // An empty retained message clears it: a later subscriber gets nothing (and times out).
    let topic = "ret/mqttv5";
    mosquitto_pub(
        &args(&port, "mqttv5", &["-q", "1", "-r", "-t", topic, "-n"]),
        "",
    );
    let after = Running::spawn(
        "mosquitto_sub",
        &args(&port, "mqttv5", &["-t", topic, "-v", "-C", "1", "-W", "1"]),
    );
    let (status, lines) = after.finish();
    assert!(
        lines.is_empty(),
        "cleared retained message still delivered: {lines:?}"
    );
    assert!(
        !status.success(),
        "mosquitto_sub should have timed out, exited with {status}"
    );
}

#[test]
fn mosquitto_v5_publish_properties_reach_a_v5_subscriber() {
    let broker = BrokerProcess::start(&[]);
    let port = broker.port.to_string();
    retained_marker(&port, "props/ready");
    let mut sub = Running::spawn(
        "mosquitto_sub",
        &args(
            &port,
            "mqttv5",
            &[
                "-q",
                "1",
                "-t",
                "props/#",
                "-F",
                "%t|%P|%C|%R|%E|%p",
                "-C",
                "3",
                "-W",
                "10",
            ],
        ),
    );
    assert_eq!(sub.line("the retained marker"), "props/ready|||||ready");
    mosquitto_pub(
        &args(
            &port,
            "mqttv5",
            &[
                "-q",
                "1",
                "-t",
                "props/t",
                "-m",
                "with properties",
                "-D",
                "publish",
                "user-property",
                "k",
                "v",
                "-D",
                "publish",
                "user-property",
                "k2",
                "second",
                "-D",
                "publish",
                "content-type",
                "text/plain",
                "-D",
                "publish",
                "response-topic",
                "props/reply",
                "-D",
                "publish",
                "message-expiry-interval",
                "3600",
            ],
        ),
        "",
    );
    let line = sub.line("the message with properties");
    let fields: Vec<&str> = line.split('|').collect();
    assert_eq!(fields.len(), 6, "{line}");
    assert_eq!(fields[0], "props/t");
    assert_eq!(
        fields[1], "k:v k2:second",
        "user properties, in order [MQTT-3.3.2-18]: {line}"
    );
    assert_eq!(fields[2], "text/plain", "content type: {line}");
    assert_eq!(fields[3], "props/reply", "response topic: {line}");
    let expiry: u32 = fields[4]
        .parse()
        .unwrap_or_else(|_| panic!("message expiry: {line}"));
    assert!(
        (3598..=3600).contains(&expiry),
        "message expiry counts down, never up [MQTT-3.3.2-6]: {line}"
    );
    assert_eq!(fields[5], "with properties");
    // A 3.1.1 publisher's message reaches the v5 subscriber without properties.
    mosquitto_pub(
        &args(
            &port,
            "mqttv311",
            &["-q", "1", "-t", "props/plain", "-m", "plain"],
        ),
        "",
    );
    assert_eq!(sub.line("the plain message"), "props/plain|||||plain");
    let (status, rest) = sub.finish();
    assert!(
        status.success() && rest.is_empty(),
        "mosquitto_sub: {status}, extra {rest:?}"
    );
}

#[test]
fn mosquitto_will_is_delivered_when_a_client_is_killed_not_when_it_disconnects() {
    let broker = BrokerProcess::start(&[]);
    let port = broker.port.to_string();
    for version in VERSIONS {
        let will_topic = format!("will/{version}");
        let live_topic = format!("live/{version}");
        retained_marker(&port, &format!("{will_topic}/ready"));
        retained_marker(&port, &live_topic);
        let watch_filter = format!("{will_topic}/#");
        let mut watcher = Running::spawn(
            "mosquitto_sub",
            &args(
                &port,
                version,
                &["-q", "1", "-t", &watch_filter, "-v", "-C", "2", "-W", "10"],
            ),
        );
        assert_eq!(
            watcher.line("the retained marker"),
            format!("{will_topic}/ready ready")
        );

        // Disconnects normally after one message: its will is discarded [MQTT-3.1.2-10].
        let polite = Running::spawn(
            "mosquitto_sub",
            &args(
                &port,
                version,
                &[
                    "-t",
                    &live_topic,
                    "-C",
                    "1",
                    "-W",
                    "10",
                    "--will-topic",
                    &will_topic,
                    "--will-payload",
                    "polite",
                    "--will-qos",
                    "1",
                ],
            ),
        );
        let (status, lines) = polite.finish();
        assert!(
            status.success(),
            "{version}: polite mosquitto_sub exited with {status}"
        );
        assert_eq!(lines, vec!["ready".to_string()]);

        // Killed while connected: the will is published [MQTT-3.1.2-8].
        let doomed_payload = format!("{version} client died");
        let mut doomed = Running::spawn(
            "mosquitto_sub",
            &args(
                &port,
                version,
                &[
                    "-t",
                    &live_topic,
                    "-W",
                    "20",
                    "--will-topic",
                    &will_topic,
                    "--will-payload",
                    &doomed_payload,
                    "--will-qos",
                    "1",
                ],
            ),
        );
        assert_eq!(doomed.line("the retained marker (connected)"), "ready");
        doomed.kill();
        assert_eq!(
            watcher.line("the will"),
            format!("{will_topic} {doomed_payload}"),
            "{version}"
        );
        let (status, rest) = watcher.finish();
        assert!(
            status.success() && rest.is_empty(),
            "{version}: watcher {status}, extra {rest:?}"
        );
    }
}
