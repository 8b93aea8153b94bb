//! One node's cluster settings, resolved from the `cluster:` block: its name and raft id, the
//! addresses it binds and advertises, its seeds.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use super::ClusterError;
use super::secret::Secret;
use super::tls::{ClusterTls, TlsFiles};
use crate::config::ClusterConfig;

/// How often nodes gossip. Short, so a dead node is noticed within a couple of seconds.
pub const GOSSIP_INTERVAL: Duration = Duration::from_millis(250);

/// The raft id of a node name: a stable 64-bit hash (FNV-1a), the same on every node.
pub fn raft_id(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Everything a node needs to take part in a cluster.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    /// Unique name of the node.
    pub name: String,
    /// Its raft id ([`raft_id`] of the name).
    pub raft_id: u64,
    /// Where gossip binds (UDP).
    pub gossip_bind: SocketAddr,
    /// Where other nodes send gossip.
    pub gossip_advertise: SocketAddr,
    /// Where the raft service binds (TCP).
    pub raft_bind: SocketAddr,
    /// Where other nodes reach the raft service.
    pub raft_advertise: SocketAddr,
    /// Where the node and admin gRPC services bind.
    pub grpc_bind: SocketAddr,
    /// Where other nodes and comqttctl reach them.
    pub grpc_advertise: SocketAddr,
    /// Seed gossip addresses.
    pub seeds: Vec<String>,
    /// Start the raft cluster when there is no raft state yet.
    pub bootstrap: bool,
    /// The raft log's directory.
    pub raft_dir: PathBuf,
    /// Where the last known members are kept (`<dir>/<name>-nodes.json`), if anywhere.
    pub nodes_file: Option<PathBuf>,
    /// This node's HTTP API as others reach it, if it has one.
    pub http: Option<String>,
    /// This node's MQTT TCP listener as clients reach it, if it has one.
    pub mqtt: Option<String>,
    /// Extra key-values published to the other nodes.
    pub tags: Vec<(String, String)>,
    /// Level of openraft's own log lines.
    pub raft_log_level: String,
    /// What every request between nodes carries and checks.
    pub secret: Secret,
}

impl ClusterSettings {
    /// Resolves the block; `http` and `mqtt` are the bound addresses of this node's HTTP API
    /// and MQTT TCP listener (to advertise, with the advertised IP when they bind all).
    pub fn resolve(
        c: &ClusterConfig,
        http: Option<SocketAddr>,
        mqtt: Option<SocketAddr>,
    ) -> Result<ClusterSettings, ClusterError> {
        let bad = |key: &str, value: &str| {
            ClusterError::Settings(format!("{key}: {value:?} is not an IP address"))
        };
        let bind: IpAddr = c
            .bind_addr
            .parse()
            .map_err(|_| bad("cluster.bind-addr", &c.bind_addr))?;
        let advertise: IpAddr = c
            .advertise_addr()
            .parse()
            .map_err(|_| bad("cluster.advertise-addr", c.advertise_addr()))?;
        let gossip_port = if c.advertise_port != 0 {
            c.advertise_port
        } else {
            c.bind_port
        };
        let reachable = |a: SocketAddr| {
            let ip = if a.ip().is_unspecified() {
                advertise
            } else {
                a.ip()
            };
            SocketAddr::new(ip, a.port()).to_string()
        };
        let http = http.map(|a| {
            let port = if c.http_port != 0 {
                c.http_port
            } else {
                a.port()
            };
            reachable(SocketAddr::new(a.ip(), port))
        });
        let nodes_file = (!c.nodes_file_dir.is_empty())
            .then(|| PathBuf::from(&c.nodes_file_dir).join(format!("{}-nodes.json", c.node_name)));
        Ok(ClusterSettings {
            name: c.node_name.clone(),
            raft_id: raft_id(&c.node_name),
            gossip_bind: SocketAddr::new(bind, c.bind_port),
            gossip_advertise: SocketAddr::new(advertise, gossip_port),
            raft_bind: SocketAddr::new(bind, c.raft_port()),
            raft_advertise: SocketAddr::new(advertise, c.raft_port()),
            grpc_bind: SocketAddr::new(bind, c.grpc_port()),
            grpc_advertise: SocketAddr::new(advertise, c.grpc_port()),
            seeds: c.members.clone(),
            bootstrap: c.raft_bootstrap,
            raft_dir: PathBuf::from(c.raft_dir()),
            nodes_file,
            http,
            mqtt: mqtt.map(reachable),
            tags: c.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            raft_log_level: c.raft_log_level.clone(),
            secret: Secret::new(&c.secret).with_tls(ClusterTls::load(&TlsFiles {
                cert: c.tls.cert_file.clone(),
                key: c.tls.key_file.clone(),
                ca: c.tls.ca_file.clone(),
                server_name: c.tls.server_name.clone(),
            })?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raft_ids_are_stable_and_distinct() {
        assert_eq!(raft_id("c01"), raft_id("c01"));
        assert_ne!(raft_id("c01"), raft_id("c02"));
        // FNV-1a of the empty string is the offset basis.
        assert_eq!(raft_id(""), 0xcbf2_9ce4_8422_2325);
    }

    #[test]
    fn ports_derive_from_the_gossip_port_and_unbound_addresses_advertise_the_node_ip() {
        let c = ClusterConfig {
            node_name: "c02".into(),
            bind_addr: "0.0.0.0".into(),
            advertise_addr: "10.0.0.2".into(),
            bind_port: 7947,
            ..ClusterConfig::default()
        };
        let s = ClusterSettings::resolve(&c, Some("0.0.0.0:8081".parse().unwrap()), None).unwrap();
        assert_eq!(s.raft_advertise.to_string(), "10.0.0.2:8947");
        assert_eq!(s.grpc_advertise.to_string(), "10.0.0.2:17947");
        assert_eq!(s.grpc_bind.to_string(), "0.0.0.0:17947");
        assert_eq!(s.http.as_deref(), Some("10.0.0.2:8081"));
        assert_eq!(s.raft_dir, PathBuf::from("data/c02"));
    }
}
