//! Shared by the integration tests: a `comqtt serve` child process on a free loopback port,
//! and a small MQTT client on our codec that lets tests send exact packets (or raw bytes)
//! and assert on exactly what comes back; `tansu` starts a Kafka-protocol broker for the bridge tests.
#![allow(dead_code)]

pub mod auth;
pub mod client;
pub mod cluster;
pub mod http;
pub mod mariadb;
pub mod pki;
pub mod postgres;
pub mod redis;
pub mod tansu;
pub mod temp_dir;
pub mod workload;

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use client::TestClient;

/// A free TCP port on 127.0.0.1 (bound and released; the broker binds it right after).
///
/// Ports come from 20000..32000, below Linux's ephemeral range (32768..60999), so an outgoing
/// connection cannot take the port between this check and the server's bind; and a port is
/// never handed out twice by one test process (tests run in parallel threads).
pub fn free_port() -> u16 {
    use std::collections::HashSet;
    use std::hash::{BuildHasher, Hasher};
    use std::sync::Mutex;
    static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    let given = given.get_or_insert_with(HashSet::new);
    for attempt in 0u64..10_000 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(attempt ^ u64::from(std::process::id()));
        let port = 20_000 + (h.finish() % 12_000) as u16;
        if given.contains(&port) {
            continue;
        }
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.insert(port);
            return port;
        }
    }
    panic!("no free port in 20000..32000")
}

/// A running `comqtt` process, killed when dropped.
pub struct BrokerProcess {
    child: Child,
    /// MQTT TCP port.
    pub port: u16,
    /// Where its log goes (kept for failed tests to read).
    pub log: PathBuf,
}

impl BrokerProcess {
    /// Starts `comqtt serve --tcp 127.0.0.1:PORT` with extra flags and waits until it accepts.
    /// The WebSocket listener and the HTTP API are off.
    pub fn start(extra: &[&str]) -> BrokerProcess {
        BrokerProcess::start_custom(|port| {
            let mut args: Vec<String> = [
                "serve",
                "--tcp",
                &format!("127.0.0.1:{port}"),
                "--ws",
                "",
                "--http",
                "",
                "--level",
                "0",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            args.extend(extra.iter().map(|s| s.to_string()));
            args
        })
    }

    /// Starts `comqtt` with the arguments `args(port)` builds; `port` must be its TCP listener.
    /// A `serve` command line that mentions neither `--http` nor `--conf` gets `--http ""`, so
    /// tests running side by side never fight over the HTTP API's default port :8080 (a test's
    /// config file should set `mqtt.http`).
    pub fn start_custom(args: impl FnOnce(u16) -> Vec<String>) -> BrokerProcess {
        BrokerProcess::start_on(free_port(), args)
    }

    /// [`BrokerProcess::start_custom`] with the TCP listener on `port` (a node restarted on
    /// the port its clients know).
    pub fn start_on(port: u16, args: impl FnOnce(u16) -> Vec<String>) -> BrokerProcess {
        let log = std::env::temp_dir().join(format!("comqtt-test-{port}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        let mut args = args(port);
        let mentions_http = args.iter().any(|a| {
            let flag = a
                .trim_start_matches('-')
                .split('=')
                .next()
                .unwrap_or_default();
            a.starts_with('-') && (flag == "http" || flag == "conf")
        });
        if args.first().is_some_and(|a| a == "serve") && !mentions_http {
            args.extend(["--http".to_string(), String::new()]);
        }
        // Parallel tests must not share the default store file: memory unless a test chooses.
        let chooses_store = args.iter().any(|a| a.starts_with("--storage-way"));
        if args.first().is_some_and(|a| a == "serve") && !chooses_store {
            args.extend(["--storage-way".to_string(), "0".to_string()]);
        }
        let child = Command::new(env!("CARGO_BIN_EXE_comqtt"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("starting comqtt");
        let broker = BrokerProcess { child, port, log };
        broker.wait_ready();
        broker
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "comqtt did not listen on {} in time; log:\n{}",
            self.port,
            self.log_text()
        );
    }

    /// The broker's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (up to 5 s: log lines reach the file through a writer thread) until the log
    /// holds `needle`; returns whether it did.
    pub fn log_contains(&self, needle: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if self.log_text().contains(needle) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `host:port` for clients.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Sends SIGTERM and waits for the process to exit; returns whether it exited cleanly.
    pub fn terminate(&mut self) -> bool {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Kills the process (SIGKILL, as a crash) and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log);
        } else {
            eprintln!(
                "--- comqtt log ({}) ---\n{}",
                self.log.display(),
                self.log_text()
            );
        }
    }
}

/// Runs `comqtt serve` (loopback TCP on a port the kernel picks, no WebSocket, no HTTP API,
/// memory store) with `extra` flags, asserting it refuses to start; returns its stderr.
pub fn serve_refused(extra: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_comqtt"))
        .args(["serve", "--tcp", "127.0.0.1:0", "--ws", "", "--http", ""])
        .args(extra)
        .output()
        .expect("running comqtt");
    assert!(
        !out.status.success(),
        "comqtt serve {extra:?} started; it should have refused"
    );
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// Runs an external program (a third-party client) and returns its output, failing the test
/// with a clear message if the program is missing.
pub fn run_tool(program: &str, args: &[&str], timeout: Duration) -> std::process::Output {
    let mut child = Command::new(program)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("{program} is required by this test (scripts/test installs it): {e}")
        });
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().expect("collecting output")
}

impl BrokerProcess {
    /// The broker's process id (for reading `/proc/<pid>/status`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends the broker a signal by name (`STOP` freezes it, `CONT` lets it go on).
    pub fn signal(&self, name: &str) {
        let pid = self.pid().to_string();
        let sent = std::process::Command::new("kill")
            .args([format!("-{name}").as_str(), pid.as_str()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(sent, "kill -{name} {pid}");
    }
}
