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
}

impl RedisServer {
    /// Starts one on `port` and waits until it answers PING.
    pub fn start(port: u16) -> RedisServer {
        let mut server = RedisServer {
            child: spawn(port),
            port,
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
        self.child = spawn(self.port);
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

/// A `redis-server` on `port` without persistence of its own.
fn spawn(port: u16) -> Child {
    let dir = std::env::temp_dir();
    Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
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
