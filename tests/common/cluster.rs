//! Clusters of real `comqtt serve` processes on loopback: every node with its own free
//! gossip, raft, gRPC, MQTT and HTTP ports and raft directory; node 0 bootstraps, the others
//! use it as their seed. Helpers wait for raft to settle and run comqttctl against a node.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::http::request;
use super::{BrokerProcess, free_port, run_tool};

/// One node.
pub struct Node {
    /// Node name (`c0`, `c1`, ...).
    pub name: String,
    /// The process, `None` while stopped.
    pub process: Option<BrokerProcess>,
    /// Gossip port (UDP).
    pub gossip: u16,
    /// Raft port.
    pub raft: u16,
    /// gRPC port (comqttctl).
    pub grpc: u16,
    /// HTTP API `host:port`.
    pub http: String,
    /// MQTT TCP port (fixed across restarts).
    pub mqtt: u16,
}

impl Node {
    /// `127.0.0.1:PORT` of its MQTT listener.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.mqtt)
    }
}

/// A cluster of nodes.
pub struct Cluster {
    /// The nodes, in start order.
    pub nodes: Vec<Node>,
    /// Their raft directories live here.
    pub dir: PathBuf,
    /// Extra flags of every node.
    extra: Vec<String>,
}

impl Cluster {
    /// Starts `n` nodes with extra `serve` flags (storage is memory unless they say).
    pub fn start(n: usize, extra: &[&str]) -> Cluster {
        let dir = std::env::temp_dir().join(format!(
            "comqtt-cluster-{}-{}",
            std::process::id(),
            free_port()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let mut cluster = Cluster {
            nodes: Vec::new(),
            dir,
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        for i in 0..n {
            let node = Node {
                name: format!("c{i}"),
                process: None,
                gossip: free_port(),
                raft: free_port(),
                grpc: free_port(),
                http: format!("127.0.0.1:{}", free_port()),
                mqtt: free_port(),
            };
            cluster.nodes.push(node);
        }
        for i in 0..n {
            cluster.launch(i);
        }
        cluster
    }

    fn launch(&mut self, i: usize) {
        let seed = format!("127.0.0.1:{}", self.nodes[0].gossip);
        let node = &self.nodes[i];
        let mut args: Vec<String> = [
            "serve",
            "--ws",
            "",
            "--http",
            &node.http,
            "--level",
            "0",
            "--node-name",
            &node.name,
            "--gossip-port",
            &node.gossip.to_string(),
            "--raft-port",
            &node.raft.to_string(),
            "--grpc-port",
            &node.grpc.to_string(),
            "--raft-dir",
            self.dir.join(&node.name).to_str().unwrap_or_default(),
            "--members",
            &seed,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if i == 0 {
            args.push("--raft-bootstrap".into());
        }
        if !self.extra.iter().any(|a| a == "--storage-way") {
            args.extend(["--storage-way".into(), "0".into()]);
        }
        args.extend(self.extra.iter().cloned());
        let mqtt = node.mqtt;
        let process = BrokerProcess::start_on(mqtt, move |port| {
            let mut a = args.clone();
            a.extend(["--tcp".into(), format!("127.0.0.1:{port}")]);
            a
        });
        self.nodes[i].process = Some(process);
    }

    /// Kills node `i` with SIGKILL.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut p) = self.nodes[i].process.take() {
            p.kill();
        }
    }

    /// Starts node `i` again (same ports, same raft directory).
    pub fn restart(&mut self, i: usize) {
        self.launch(i);
    }

    /// GET `path` of node `i`'s HTTP API as JSON.
    pub async fn get(&self, i: usize, path: &str) -> serde_json::Value {
        request(&self.nodes[i].http, "GET", path, &[], None)
            .await
            .json()
    }

    /// Waits until every running node sees the same leader and `voters` voters.
    pub async fn wait_voters(&self, voters: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut last = String::new();
        while Instant::now() < deadline {
            let mut leaders = Vec::new();
            let mut ok = true;
            for (i, n) in self.nodes.iter().enumerate() {
                if n.process.is_none() {
                    continue;
                }
                let r = self.get(i, "/api/v1/cluster/raft").await;
                last = r.to_string();
                ok &= r["voters"].as_array().is_some_and(|v| v.len() == voters);
                leaders.push(r["leader"].clone());
            }
            if ok && leaders.iter().all(|l| !l.is_null() && *l == leaders[0]) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("raft did not settle on {voters} voters: {last}");
    }

    /// Waits until node `i`'s route table satisfies `check` (filter → node names).
    pub async fn wait_routes(
        &self,
        i: usize,
        what: &str,
        check: impl Fn(&serde_json::Value) -> bool,
    ) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut last = serde_json::Value::Null;
        while Instant::now() < deadline {
            last = self.ctl_json(i, &["inspect", "routes"]);
            if check(&last) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("routes never showed {what}: {last}");
    }

    /// Runs comqttctl against node `i`; returns (success, stdout, stderr).
    pub fn ctl(&self, i: usize, args: &[&str]) -> (bool, String, String) {
        let server = format!("127.0.0.1:{}", self.nodes[i].grpc);
        let mut all = vec!["--server", server.as_str()];
        all.extend_from_slice(args);
        let out = run_tool(
            env!("CARGO_BIN_EXE_comqttctl"),
            &all,
            Duration::from_secs(15),
        );
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    }

    /// comqttctl `--json` against node `i`, parsed.
    pub fn ctl_json(&self, i: usize, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let (ok, out, err) = self.ctl(i, &all);
        assert!(ok, "comqttctl {args:?}: {err}");
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("comqttctl {args:?} printed no JSON ({e}): {out}"))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            n.process.take();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
