//! The `cluster:` block of the original's node configs (`node1.yml`...), with the defaults of
//! its cluster binary. A non-empty `node-name` turns cluster mode on.
//!
//! Ports: gossip on `bind-port` (UDP), raft on `raft-port`, everything else between nodes and
//! comqttctl on `grpc-port` (TCP). Left at 0, raft and gRPC ports derive from the gossip port
//! as the original's memberlist mode did (`+1000`, `+10000`), so several nodes on one host
//! need only distinct gossip ports: 7946 gives 8946 and 17946, the original's defaults.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ConfigError, nullable};

/// The `cluster:` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct ClusterConfig {
    /// The original's choice of gossip library (0 serf, 1 memberlist); both are served by
    /// chitchat gossip here.
    pub discovery_way: u8,
    /// Unique name of this node in the cluster; empty: no cluster (single node).
    pub node_name: String,
    /// IP the gossip, raft and gRPC listeners bind to.
    pub bind_addr: String,
    /// Gossip port (UDP).
    pub bind_port: u16,
    /// Address other nodes reach this one at, when it differs (NAT); empty: `bind-addr`.
    #[serde(deserialize_with = "nullable")]
    pub advertise_addr: String,
    /// Gossip port other nodes reach, when it differs; 0: `bind-port`.
    #[serde(deserialize_with = "nullable")]
    pub advertise_port: u16,
    /// Seeds: gossip addresses (`host:port`) of nodes already in the cluster.
    pub members: Vec<String>,
    /// The original's serf queue depth; gossip here sends only small node records (accepted).
    pub queue_depth: usize,
    /// Extra key-values this node publishes to the others (shown by `comqttctl members`).
    pub tags: BTreeMap<String, String>,
    /// The original's raft library (0 hashicorp, 1 etcd); openraft here (accepted).
    pub raft_impl: u8,
    /// Raft port (TCP, gRPC); 0: gossip port + 1000.
    pub raft_port: u16,
    /// Where the raft log lives; empty: `data/<node-name>`.
    pub raft_dir: String,
    /// True on the first node: it starts the raft cluster when it has no raft state yet.
    pub raft_bootstrap: bool,
    /// Level of raft's own log lines: debug, info, warn or error.
    pub raft_log_level: String,
    /// The original's switch between gossip and gRPC for messages; messages always travel
    /// over gRPC here (accepted).
    pub grpc_enable: bool,
    /// gRPC port between nodes and for comqttctl; 0: gossip port + 10000.
    pub grpc_port: u16,
    /// The original's goroutine pool sizes (accepted; tokio schedules the work here).
    pub inbound_pool_size: usize,
    pub outbound_pool_size: usize,
    pub inout_pool_nonblocking: bool,
    /// Directory of `<node-name>-nodes.json`, the last known members, used as extra seeds at
    /// the next start; empty: not kept.
    pub nodes_file_dir: String,
    /// The HTTP API port other nodes and tools reach this node at; 0: the port of `mqtt.http`.
    pub http_port: u16,
    /// comqtt: the secret every node and comqttctl must present; "": none (anyone who
    /// reaches the raft and gRPC ports can act as a node, as in the original).
    pub secret: String,
    /// comqtt: TLS between nodes and for comqttctl (certificates of the cluster's CA); off
    /// while no file is named.
    pub tls: ClusterTlsConfig,
    /// The original's Redis node registry; only `enable: false` is accepted (nodes find each
    /// other through gossip seeds and the nodes file here).
    pub dynamic_membership: DynamicMembership,
}

/// `cluster.tls:` (comqtt's own): PEM files; all three or none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct ClusterTlsConfig {
    /// This node's certificate (chain), presented as server and as client.
    #[serde(deserialize_with = "nullable")]
    pub cert_file: String,
    /// Its private key.
    #[serde(deserialize_with = "nullable")]
    pub key_file: String,
    /// The CA that signed every node's certificate.
    #[serde(deserialize_with = "nullable")]
    pub ca_file: String,
    /// The name every node's certificate carries, checked instead of the dialled address;
    /// empty: each certificate names its node's address.
    #[serde(deserialize_with = "nullable")]
    pub server_name: String,
}

/// `cluster.dynamic-membership:` of the original (its keys, accepted when off).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct DynamicMembership {
    pub enable: bool,
    pub address_way: u8,
    pub node_name_way: u8,
    #[serde(deserialize_with = "nullable")]
    pub node_name_prefix: String,
    pub event_loop_interval_sec: u64,
    #[serde(deserialize_with = "nullable")]
    pub nodes_registry_key: String,
    pub node_registry_exp: u64,
    #[serde(deserialize_with = "nullable")]
    pub lock_key: String,
    pub lock_loop_interval_sec: u64,
    pub max_lock_attempts: u32,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            discovery_way: 0,
            node_name: String::new(),
            bind_addr: "127.0.0.1".into(),
            bind_port: 7946,
            advertise_addr: String::new(),
            advertise_port: 0,
            members: Vec::new(),
            queue_depth: 10240,
            tags: BTreeMap::new(),
            raft_impl: 0,
            raft_port: 0,
            raft_dir: String::new(),
            raft_bootstrap: false,
            raft_log_level: "error".into(),
            grpc_enable: true,
            grpc_port: 0,
            inbound_pool_size: 0,
            outbound_pool_size: 0,
            inout_pool_nonblocking: false,
            nodes_file_dir: String::new(),
            http_port: 0,
            secret: String::new(),
            tls: ClusterTlsConfig::default(),
            dynamic_membership: DynamicMembership::default(),
        }
    }
}

impl ClusterConfig {
    /// True when this node is part of a cluster.
    pub fn enabled(&self) -> bool {
        !self.node_name.is_empty()
    }

    /// The raft port in force.
    pub fn raft_port(&self) -> u16 {
        if self.raft_port != 0 {
            self.raft_port
        } else {
            self.bind_port.saturating_add(1000)
        }
    }

    /// The gRPC port in force.
    pub fn grpc_port(&self) -> u16 {
        if self.grpc_port != 0 {
            self.grpc_port
        } else {
            self.bind_port.saturating_add(10000)
        }
    }

    /// The raft directory in force.
    pub fn raft_dir(&self) -> String {
        if self.raft_dir.is_empty() {
            format!("data/{}", self.node_name)
        } else {
            self.raft_dir.clone()
        }
    }

    /// The address other nodes reach this one at.
    pub fn advertise_addr(&self) -> &str {
        if self.advertise_addr.is_empty() {
            &self.bind_addr
        } else {
            &self.advertise_addr
        }
    }

    /// Checks the values (only in cluster mode).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.enabled() {
            return Ok(());
        }
        if self.dynamic_membership.enable {
            return Err(ConfigError::Invalid {
                key: "cluster.dynamic-membership.enable",
                value: "true".into(),
                allowed: "false: nodes find each other through gossip seeds (members) and the nodes file (nodes-file-dir)",
            });
        }
        let invalid = |key, value: String, allowed| {
            Err(ConfigError::Invalid {
                key,
                value,
                allowed,
            })
        };
        if !self
            .node_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            || self.node_name.len() > 64
        {
            return invalid(
                "cluster.node-name",
                self.node_name.clone(),
                "up to 64 letters, digits, '-', '_' or '.'",
            );
        }
        if self.bind_addr.parse::<std::net::IpAddr>().is_err() {
            return invalid(
                "cluster.bind-addr",
                self.bind_addr.clone(),
                "an IP address (127.0.0.1, 10.0.0.5, 0.0.0.0 with advertise-addr)",
            );
        }
        if self
            .bind_addr
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_unspecified())
            && self.advertise_addr.is_empty()
        {
            return invalid(
                "cluster.advertise-addr",
                "\"\"".into(),
                "the address other nodes reach this one at, when bind-addr is 0.0.0.0",
            );
        }
        if self.discovery_way > 1 {
            return invalid(
                "cluster.discovery-way",
                self.discovery_way.to_string(),
                "0 (serf) or 1 (memberlist): both mean gossip here",
            );
        }
        if self.raft_impl > 1 {
            return invalid(
                "cluster.raft-impl",
                self.raft_impl.to_string(),
                "0 or 1: both mean openraft here",
            );
        }
        if !["", "debug", "info", "warn", "error"].contains(&self.raft_log_level.as_str()) {
            return invalid(
                "cluster.raft-log-level",
                self.raft_log_level.clone(),
                "debug, info, warn or error",
            );
        }
        let ports = [
            ("cluster.bind-port", self.bind_port),
            ("cluster.raft-port", self.raft_port()),
            ("cluster.grpc-port", self.grpc_port()),
        ];
        for (i, (key, port)) in ports.iter().enumerate() {
            if *port == 0 {
                return invalid(key, "0".into(), "a port from 1 to 65535");
            }
            if ports[..i].iter().any(|(_, p)| p == port) {
                return invalid(key, port.to_string(), "a port no other cluster key uses");
            }
        }
        for m in &self.members {
            if m.rsplit_once(':')
                .is_none_or(|(host, port)| host.is_empty() || port.parse::<u16>().is_err())
            {
                return invalid(
                    "cluster.members",
                    m.clone(),
                    "seed gossip addresses as host:port",
                );
            }
        }
        Ok(())
    }
}
