//! The cluster: nodes find each other by gossip, agree on a route table by raft, and send
//! each other messages point to point over gRPC.
//!
//! Data flow: a subscription appears on a node → [`route_sync`] proposes a route for it →
//! [`raft`] replicates the [`routes`] table to every node. A publish routed locally → the
//! [`forward`]er matches its topic against the table and queues it for each node that wants
//! it → that node's [`inbound`] service delivers it to the chosen subscribers and
//! acknowledges it. A client that connects to another node gets its session from the node
//! that held it ([`handover`]).
//!
//! | file | owns |
//! | --- | --- |
//! | [`settings`] | one node's names, addresses and ports, resolved from the `cluster:` block |
//! | [`membership`] | gossip (chitchat): who is alive, their addresses |
//! | [`raft`] | consensus on the route table: log store, state machine, raft RPCs |
//! | [`raft_members`] | the leader's duty: raft voters follow gossip |
//! | [`orphans`] | the leader's other duty: sessions of nodes that are gone, in a shared store |
//! | [`parking`] | messages for a node that is away, parked in its sessions in the shared store |
//! | [`routes`] | the route table: filter → nodes, matching topics |
//! | [`route_sync`] | this node's routes follow its subscriptions |
//! | [`proposer`] | getting a route change committed from any node |
//! | [`forward`] | messages to other nodes: per-peer queues, batched streams, acknowledgements |
//! | [`acks`] | tickets of forwarded QoS 1/2 messages, which their publishers' PUBACKs wait for |
//! | [`inbound`] | the `Node` gRPC service: forwarded messages, proposals, takeovers, retained |
//! | [`handover`] | a session's state on its way between nodes |
//! | [`claims`] | claims on client ids while CONNECTs are under way: one of two racing wins |
//! | [`admin`] | the admin gRPC service comqttctl uses |
//! | [`nodes_file`] | the last known members, kept as seeds for the next start |
//! | [`secret`] | the cluster secret every request between nodes carries |
//! | [`tls`] | TLS between nodes: certificates, both sides checked against the cluster's CA |
//! | [`node`] | a running node: starts everything, the broker's cluster link |

pub mod acks;
pub mod admin;
pub mod claims;
pub mod forward;
pub mod handover;
pub mod inbound;
pub mod membership;
pub mod node;
pub mod nodes_file;
pub mod orphans;
pub mod parking;
pub mod proposer;
pub mod proto;
pub mod raft;
pub mod raft_members;
pub mod route_sync;
pub mod routes;
pub mod secret;
pub mod settings;
pub mod tls;

use std::path::PathBuf;

pub use node::ClusterNode;
pub use settings::ClusterSettings;

/// Why a node cannot take part in a cluster.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// A listener cannot be bound.
    #[error("cannot listen for {what} on {addr}: {reason}")]
    Bind {
        /// Which listener (and its config key).
        what: &'static str,
        /// The address.
        addr: String,
        /// Why.
        reason: String,
    },
    /// The raft file cannot be opened or is unreadable.
    #[error("raft log {path}: {reason}")]
    RaftStore {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A setting cannot be used.
    #[error("cluster settings: {0}")]
    Settings(String),
    /// Gossip failed.
    #[error("gossip: {0}")]
    Gossip(String),
}
