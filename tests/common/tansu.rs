//! A real Kafka-protocol broker for the bridge tests: `tansu` (crates.io, installed by
//! scripts/test with `cargo install tansu --locked --features dynostore`) as a child process on
//! a 127.0.0.1 port, in-memory storage, its log in a temp dir; killed on drop. Plus a consumer
//! on rdkafka that reads the bridge's events back as JSON.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, Consumer};

use super::free_port;
pub use super::temp_dir::TempDir;

/// How to get tansu when it is missing.
const INSTALL: &str = "tansu is required by the Kafka bridge tests: scripts/test installs it \
    (cargo install tansu --locked --features dynostore, about 10 minutes)";

/// The `tansu` program: on PATH, or where `cargo install` puts it.
fn program() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("tansu"))
            .find(|p| p.is_file())
    });
    if let Some(p) = on_path {
        return p;
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    match cargo_home.map(|h| h.join("bin").join("tansu")) {
        Some(p) if p.is_file() => p,
        _ => panic!("{INSTALL}"),
    }
}

/// A running tansu broker, killed when dropped.
pub struct Tansu {
    /// The process, `None` while stopped.
    child: Option<Child>,
    /// Its Kafka port on 127.0.0.1.
    pub port: u16,
    /// Its log (and nothing else: storage is in memory).
    dir: TempDir,
}

impl Tansu {
    /// Starts tansu on a free port and waits until it accepts connections.
    pub fn start() -> Tansu {
        Tansu::start_on(free_port())
    }

    /// Starts tansu on `port` (a port a bridge already points to).
    pub fn start_on(port: u16) -> Tansu {
        let mut tansu = Tansu {
            child: None,
            port,
            dir: TempDir::new("tansu"),
        };
        tansu.restart();
        tansu
    }

    /// `host:port` for Kafka clients.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts the process again after [`Tansu::kill`] (a fresh, empty broker: storage is in
    /// memory) on the same port.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "tansu is already running");
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.0.join("tansu.log"))
            .expect("tansu log file");
        let child = Command::new(program())
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
                "--storage-engine",
                "memory://tansu/",
            ])
            .current_dir(&self.dir.0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{INSTALL} ({e})"));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("tansu exited ({status}); log:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "tansu did not listen on {} in time; log:\n{}",
            self.port,
            self.log_text()
        );
    }

    /// Creates a topic of one partition (retried while tansu is still starting).
    pub fn create_topic(&self, name: &str) {
        let broker = format!("tcp://127.0.0.1:{}", self.port);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let out = Command::new(program())
                .args([
                    "topic",
                    "create",
                    "--broker",
                    &broker,
                    "--partitions",
                    "1",
                    name,
                ])
                .stdin(Stdio::null())
                .output()
                .unwrap_or_else(|e| panic!("{INSTALL} ({e})"));
            if out.status.success() {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "tansu topic create {name} failed: {}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Kills the process (SIGKILL), as a crash or a lost network would end it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Its log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("tansu.log")).unwrap_or_default()
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            let log = self.log_text();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("--- tansu log (last lines) ---");
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

/// One record read back from Kafka.
#[derive(Debug, Clone)]
pub struct Record {
    /// The record key, as text.
    pub key: String,
    /// The value, parsed.
    pub value: serde_json::Value,
}

/// A consumer of one topic in its own consumer group, from the earliest offset.
pub struct EventReader {
    consumer: BaseConsumer,
}

impl EventReader {
    /// Subscribes to `topic` on `bootstrap`.
    pub fn new(bootstrap: &str, topic: &str) -> EventReader {
        let group = format!("comqtt-test-{}-{}", std::process::id(), free_port());
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", &group)
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .set("session.timeout.ms", "10000")
            .create()
            .expect("creating the Kafka consumer");
        consumer.subscribe(&[topic]).expect("subscribing");
        EventReader { consumer }
    }

    /// The records that arrive within `wait`, until `done` holds for the ones read so far.
    /// Fails the test if `done` never holds.
    pub fn read_until(
        &self,
        wait: Duration,
        mut done: impl FnMut(&[Record]) -> bool,
    ) -> Vec<Record> {
        let deadline = Instant::now() + wait;
        let mut records = Vec::new();
        while !done(&records) {
            assert!(
                Instant::now() < deadline,
                "expected events did not reach Kafka within {wait:?}; read: {records:#?}"
            );
            records.extend(self.poll(Duration::from_millis(200)));
        }
        records
    }

    /// Whatever arrives within `wait`.
    pub fn read_for(&self, wait: Duration) -> Vec<Record> {
        let deadline = Instant::now() + wait;
        let mut records = Vec::new();
        while Instant::now() < deadline {
            records.extend(self.poll(Duration::from_millis(200)));
        }
        records
    }

    fn poll(&self, wait: Duration) -> Option<Record> {
        match self.consumer.poll(wait)? {
            Ok(m) => {
                let key = String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned();
                let value =
                    serde_json::from_slice(m.payload().unwrap_or_default()).unwrap_or_else(|e| {
                        panic!(
                            "event value is not JSON ({e}): {:?}",
                            String::from_utf8_lossy(m.payload().unwrap_or_default())
                        )
                    });
                Some(Record { key, value })
            }
            // Group rebalancing, a broker not ready yet: keep polling.
            Err(e) => {
                eprintln!("consumer: {e}");
                None
            }
        }
    }
}
