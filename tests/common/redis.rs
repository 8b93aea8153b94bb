//! A real `redis-server` (Debian package) as a child process on a free loopback port, for the
//! Redis store and Redis auth tests; killed when dropped.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::run_tool;

/// A `redis-server` child process without persistence of its own.
pub struct RedisServer {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Where a durable one keeps its data.
    dir: Option<std::path::PathBuf>,
    /// The address it listens on.
    bind: &'static str,
}

impl RedisServer {
    /// Starts one on `port` and waits until it answers PING.
    pub fn start(port: u16) -> RedisServer {
        let mut server = RedisServer {
            child: spawn(port, None, "127.0.0.1"),
            port,
            dir: None,
            bind: "127.0.0.1",
        };
        server.wait_ready();
        server
    }

    /// Starts one that keeps its data in `dir` (append-only file, fsync on every write), so
    /// a stop and restart loses nothing.
    pub fn start_durable(port: u16, dir: &std::path::Path) -> RedisServer {
        let mut server = RedisServer {
            child: spawn(port, Some(dir), "127.0.0.1"),
            port,
            dir: Some(dir.to_path_buf()),
            bind: "127.0.0.1",
        };
        server.wait_ready();
        server
    }

    /// [`RedisServer::start_durable`] on every address (reached from network namespaces of
    /// the test), without protected mode.
    pub fn start_durable_reachable(port: u16, dir: &std::path::Path) -> RedisServer {
        let mut server = RedisServer {
            child: spawn(port, Some(dir), "0.0.0.0"),
            port,
            dir: Some(dir.to_path_buf()),
            bind: "0.0.0.0",
        };
        server.wait_ready();
        server
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.cli(&["ping"]).trim() == "PONG" {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not answer on port {}", self.port);
    }

    /// Kills the server (Redis going away); its data is gone with it.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same port after [`RedisServer::stop`].
    pub fn restart(&mut self) {
        self.child = spawn(self.port, self.dir.as_deref(), self.bind);
        self.wait_ready();
    }

    /// Runs `redis-cli -p PORT ARGS...` and returns what it printed.
    pub fn cli(&self, args: &[&str]) -> String {
        let port = self.port.to_string();
        let mut all = vec!["-p", &port];
        all.extend_from_slice(args);
        String::from_utf8_lossy(&run_tool("redis-cli", &all, Duration::from_secs(5)).stdout)
            .to_string()
    }
}

/// A `redis-server` on `port`: without persistence of its own, or durable in `dir`.
fn spawn(port: u16, durable: Option<&std::path::Path>, bind: &str) -> Child {
    let temp = std::env::temp_dir();
    let dir = durable.unwrap_or(&temp);
    let append = if durable.is_some() { "yes" } else { "no" };
    Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            bind,
            "--protected-mode",
            "no",
            "--save",
            "",
            "--appendonly",
            append,
            "--appendfsync",
            "always",
            "--appendfilename",
            &format!("comqtt-test-{port}.aof"),
            "--dir",
            dir.to_str().unwrap_or("/tmp"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server is required (scripts/test installs it)")
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
