//! Consensus on the route table: openraft with a log kept in a redb file (`raft-dir`), the
//! route table as its state machine, and its RPCs over tonic on the raft port.
//!
//! | file | owns |
//! | --- | --- |
//! | [`log_store`] | the raft log, vote and snapshot on disk |
//! | [`state_machine`] | applying route commands to the [`RouteTable`](super::routes::RouteTable), snapshots |
//! | [`network`] | openraft's RPCs to other nodes (client side) |
//! | [`service`] | openraft's RPCs from other nodes (server side) |

pub mod log_store;
pub mod network;
pub mod service;
pub mod state_machine;

use std::io::Cursor;

use serde::{Deserialize, Serialize};

use super::routes::{RouteCommand, RouteResponse};

/// A raft member: its name and the address of its raft service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaftMember {
    /// Node name.
    pub name: String,
    /// `host:port` of its raft service.
    pub addr: String,
}

impl std::fmt::Display for RaftMember {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.name, self.addr)
    }
}

openraft::declare_raft_types!(
    /// The raft types of the route table.
    pub TypeConfig:
        D = RouteCommand,
        R = RouteResponse,
        NodeId = u64,
        Node = RaftMember,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// The raft node type.
pub type Raft = openraft::Raft<TypeConfig>;

/// Raft timing: heartbeats every 250 ms (also the timeout of one append RPC, including the
/// follower's fsync), elections after 1–2 s without one; at most 64 entries per append; a
/// snapshot every 2000 log entries.
#[allow(clippy::result_large_err)] // openraft's own error type
pub fn config(cluster: &str) -> Result<openraft::Config, openraft::ConfigError> {
    openraft::Config {
        cluster_name: cluster.to_string(),
        heartbeat_interval: 250,
        election_timeout_min: 1000,
        election_timeout_max: 2000,
        max_payload_entries: 64,
        install_snapshot_timeout: 2000,
        snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(2000),
        max_in_snapshot_log_to_keep: 500,
        ..Default::default()
    }
    .validate()
}
