//! Who is in the cluster: chitchat gossip over UDP. Each node publishes a small record (its
//! raft id, the addresses of its raft, gRPC, HTTP and MQTT listeners, its tags and status);
//! the failure detector tells live nodes from dead ones within about a second.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chitchat::transport::UdpTransport;
use std::sync::Arc;

use chitchat::{
    Chitchat, ChitchatConfig, ChitchatHandle, ChitchatId, FailureDetectorConfig, NodeState,
    ProtocolVersion, spawn_chitchat,
};
use tokio::sync::watch;

use super::ClusterError;
use super::settings::{ClusterSettings, GOSSIP_INTERVAL};

/// Gossip of other clusters is ignored.
const CLUSTER_ID: &str = "comqtt";
/// How long a dead node stays listed (as dead) before it is forgotten.
const DEAD_NODE_GRACE: Duration = Duration::from_secs(30 * 60);

/// Keys of a node's gossip record.
mod key {
    pub const RAFT_ID: &str = "raft_id";
    pub const RAFT: &str = "raft";
    pub const GRPC: &str = "grpc";
    pub const HTTP: &str = "http";
    pub const MQTT: &str = "mqtt";
    pub const STATUS: &str = "status";
    pub const LEADER: &str = "leader";
    pub const TAG: &str = "tag:";
}

/// Where a member stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberStatus {
    /// Gossiping.
    Alive,
    /// Announced it is leaving.
    Leaving,
    /// Stopped gossiping.
    Dead,
}

/// One node of the cluster as gossip knows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Member {
    /// Node name.
    pub name: String,
    /// Raft id.
    pub raft_id: u64,
    /// Gossip address.
    pub gossip: SocketAddr,
    /// Raft service address.
    pub raft: String,
    /// Node and admin gRPC address.
    pub grpc: String,
    /// HTTP API address, if it has one.
    pub http: Option<String>,
    /// MQTT TCP listener address, if it has one.
    pub mqtt: Option<String>,
    /// Extra key-values it publishes.
    pub tags: BTreeMap<String, String>,
    /// Alive, leaving or dead.
    pub status: MemberStatus,
    /// The raft leader as this member sees it, if it knows one.
    pub leader: Option<String>,
    /// Process generation (start time): a restarted node has a higher one.
    #[serde(skip)]
    pub generation: u64,
}

impl Member {
    fn of(id: &ChitchatId, state: &NodeState, status: MemberStatus) -> Option<Member> {
        let get = |k: &str| state.get(k).map(str::to_string);
        let status = match (status, state.get(key::STATUS)) {
            (MemberStatus::Alive, Some("leaving")) => MemberStatus::Leaving,
            (s, _) => s,
        };
        Some(Member {
            name: id.node_id.to_string(),
            raft_id: state.get(key::RAFT_ID)?.parse().ok()?,
            gossip: id.gossip_advertise_addr,
            raft: get(key::RAFT)?,
            grpc: get(key::GRPC)?,
            http: get(key::HTTP).filter(|s| !s.is_empty()),
            mqtt: get(key::MQTT).filter(|s| !s.is_empty()),
            tags: state
                .key_values()
                .filter_map(|(k, v)| Some((k.strip_prefix(key::TAG)?.to_string(), v.to_string())))
                .collect(),
            status,
            leader: get(key::LEADER).filter(|s| !s.is_empty()),
            generation: id.generation_id,
        })
    }
}

/// Keeps, for each node name, the member of the highest generation.
fn newest(members: impl IntoIterator<Item = Member>) -> Vec<Member> {
    let mut by_name: BTreeMap<String, Member> = BTreeMap::new();
    for m in members {
        match by_name.get(&m.name) {
            Some(old) if old.generation >= m.generation => {}
            _ => {
                by_name.insert(m.name.clone(), m);
            }
        }
    }
    by_name.into_values().collect()
}

/// This node's gossip.
pub struct Membership {
    /// The gossip state, shared with chitchat's task.
    chitchat: Arc<tokio::sync::Mutex<Chitchat>>,
    /// The server; taken at shutdown.
    handle: parking_lot::Mutex<Option<ChitchatHandle>>,
    /// Live members (this node included), refreshed on every change.
    live: watch::Receiver<Vec<Member>>,
}

impl Membership {
    /// Starts gossiping with `extra_seeds` (the nodes file) besides the configured seeds.
    pub async fn start(
        s: &ClusterSettings,
        extra_seeds: Vec<String>,
    ) -> Result<Membership, ClusterError> {
        let generation = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        let mut seeds = s.seeds.clone();
        seeds.extend(extra_seeds);
        seeds.retain(|seed| *seed != s.gossip_advertise.to_string());
        seeds.sort();
        seeds.dedup();
        let config = ChitchatConfig {
            chitchat_id: ChitchatId::new(s.name.clone(), generation, s.gossip_advertise),
            cluster_id: CLUSTER_ID.to_string(),
            gossip_interval: GOSSIP_INTERVAL,
            listen_addr: s.gossip_bind,
            seed_nodes: seeds,
            failure_detector_config: FailureDetectorConfig {
                initial_interval: GOSSIP_INTERVAL,
                dead_node_grace_period: DEAD_NODE_GRACE,
                ..FailureDetectorConfig::default()
            },
            marked_for_deletion_grace_period: Duration::from_secs(15 * 60),
            catchup_callback: None,
            extra_liveness_predicate: None,
            protocol_version: ProtocolVersion::V0,
        };
        let mut record = vec![
            (key::RAFT_ID.to_string(), s.raft_id.to_string()),
            (key::RAFT.to_string(), s.raft_advertise.to_string()),
            (key::GRPC.to_string(), s.grpc_advertise.to_string()),
            (key::HTTP.to_string(), s.http.clone().unwrap_or_default()),
            (key::MQTT.to_string(), s.mqtt.clone().unwrap_or_default()),
            (key::STATUS.to_string(), "alive".to_string()),
        ];
        record.extend(
            s.tags
                .iter()
                .map(|(k, v)| (format!("{}{k}", key::TAG), v.clone())),
        );
        let handle = spawn_chitchat(config, record, &UdpTransport)
            .await
            .map_err(|e| ClusterError::Bind {
                what: "gossip (UDP, cluster.bind-port)",
                addr: s.gossip_bind.to_string(),
                reason: format!("{e:#}"),
            })?;
        let chitchat = handle.chitchat();
        let mut raw = chitchat.lock().await.live_nodes_watcher();
        let (tx, live) = watch::channel(Vec::new());
        tokio::spawn(async move {
            loop {
                let members = newest(
                    raw.borrow_and_update()
                        .iter()
                        .filter_map(|(id, state)| Member::of(id, state, MemberStatus::Alive)),
                );
                if tx.send(members).is_err() {
                    return;
                }
                if raw.changed().await.is_err() {
                    return;
                }
            }
        });
        Ok(Membership {
            chitchat,
            handle: parking_lot::Mutex::new(Some(handle)),
            live,
        })
    }

    /// The live members, watched (this node included).
    pub fn live(&self) -> watch::Receiver<Vec<Member>> {
        self.live.clone()
    }

    /// Every member known: live, leaving and dead.
    pub async fn all(&self) -> Vec<Member> {
        let c = self.chitchat.lock().await;
        let dead: Vec<ChitchatId> = c.dead_nodes().cloned().collect();
        newest(c.node_states().iter().filter_map(|(id, state)| {
            let status = if dead.contains(id) {
                MemberStatus::Dead
            } else {
                MemberStatus::Alive
            };
            Member::of(id, state, status)
        }))
    }

    /// Sends gossip to `addr` now (`comqttctl join`: a node of another group of nodes).
    pub fn introduce(&self, addr: SocketAddr) -> Result<(), ClusterError> {
        match self.handle.lock().as_ref() {
            Some(h) => h
                .gossip(addr)
                .map_err(|e| ClusterError::Gossip(format!("{e:#}"))),
            None => Err(ClusterError::Gossip("gossip stopped".into())),
        }
    }

    /// Publishes which node this one sees as the raft leader (`""`: none).
    pub async fn set_leader(&self, leader: &str) {
        self.chitchat
            .lock()
            .await
            .self_node_state()
            .set(key::LEADER, leader);
    }

    /// Announces that this node leaves, so the others stop routing to it at once.
    pub async fn announce_leaving(&self) {
        self.chitchat
            .lock()
            .await
            .self_node_state()
            .set(key::STATUS, "leaving");
    }

    /// Stops gossiping.
    pub async fn shutdown(&self) {
        let handle = self.handle.lock().take();
        if let Some(h) = handle {
            let _ = h.shutdown().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str, generation: u64) -> Member {
        Member {
            name: name.into(),
            raft_id: 1,
            gossip: "127.0.0.1:1".parse().unwrap(),
            raft: String::new(),
            grpc: String::new(),
            http: None,
            mqtt: None,
            tags: BTreeMap::new(),
            status: MemberStatus::Alive,
            leader: None,
            generation,
        }
    }

    #[test]
    fn a_restarted_node_is_listed_once_by_its_newest_generation() {
        let all = newest([member("a", 1), member("b", 5), member("a", 3)]);
        let got: Vec<(String, u64)> = all.iter().map(|m| (m.name.clone(), m.generation)).collect();
        assert_eq!(got, [("a".to_string(), 3), ("b".to_string(), 5)]);
    }
}
