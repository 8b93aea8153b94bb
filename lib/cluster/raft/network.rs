//! openraft's RPCs to other nodes: append entries, vote and install snapshot, each a unary
//! gRPC call on the target's raft port carrying openraft's own types as JSON. The target's
//! address is the one it gossips now (a node restarted elsewhere is found there), else the
//! one in the raft membership; every request names its target, which refuses requests meant
//! for another node. Channels are created lazily and shared per address.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use parking_lot::Mutex;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tonic::transport::{Channel, Endpoint};

use super::{RaftMember, TypeConfig};
use crate::cluster::membership::Member;
use crate::cluster::proto::RaftMessage;
use crate::cluster::proto::raft_client::RaftClient;
use crate::cluster::secret::Secret;

/// HTTP/2 flow-control window of a stream, both ways.
pub const WINDOW: u32 = 8 << 20;

/// Largest raft message (snapshots come in chunks below this).
pub const MAX_MESSAGE: usize = 64 << 20;

/// The metadata key naming a raft request's target node (its raft id).
pub const TARGET_KEY: &str = "comqtt-raft-target";

/// A lazily connected channel to `addr` (`host:port`), over the cluster's TLS when `secret`
/// carries it.
pub fn channel(addr: &str, secret: &Secret) -> Result<Channel, tonic::transport::Error> {
    let tls = secret.tls();
    let mut endpoint = Endpoint::from_shared(format!("{}://{addr}", tls.scheme()))?;
    if let Some(client) = tls.client() {
        endpoint = endpoint.tls_config(client)?;
    }
    Ok(endpoint
        .connect_timeout(Duration::from_secs(1))
        .tcp_nodelay(true)
        // Wide HTTP/2 windows: a forward stream carries bulk traffic, and the default 64 KiB
        // window would make it wait for window updates every few batches.
        .initial_stream_window_size(Some(WINDOW))
        .initial_connection_window_size(Some(2 * WINDOW))
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(Duration::from_secs(5))
        .connect_lazy())
}

/// Makes the clients openraft asks for, one channel per address.
#[derive(Clone, Default)]
pub struct Network {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    channels: Mutex<HashMap<String, Channel>>,
    /// Carried by every request.
    secret: Secret,
    /// The members as gossip shows them, once gossip runs.
    live: OnceLock<watch::Receiver<Vec<Member>>>,
}

impl Network {
    /// Clients carrying `secret`.
    pub fn new(secret: Secret) -> Network {
        Network {
            shared: Arc::new(Shared {
                secret,
                ..Shared::default()
            }),
        }
    }

    /// From now on, targets are reached where gossip says they are.
    pub fn follow(&self, live: watch::Receiver<Vec<Member>>) {
        let _ = self.shared.live.set(live);
    }

    /// Where raft node `target` is: what it gossips, else `recorded` (the membership's).
    fn address(&self, target: u64, recorded: &str) -> String {
        self.shared
            .live
            .get()
            .and_then(|live| {
                live.borrow()
                    .iter()
                    .filter(|m| m.raft_id == target)
                    .max_by_key(|m| m.generation)
                    .map(|m| m.raft.clone())
            })
            .unwrap_or_else(|| recorded.to_string())
    }

    /// A client of `target`, on a shared channel.
    fn client(&self, target: u64, recorded: &str) -> Option<RaftClient<Channel>> {
        let addr = self.address(target, recorded);
        let mut channels = self.shared.channels.lock();
        let channel = match channels.get(&addr) {
            Some(c) => c.clone(),
            None => match channel(&addr, &self.shared.secret) {
                Ok(c) => {
                    channels.insert(addr, c.clone());
                    c
                }
                Err(e) => {
                    tracing::warn!(target, %addr, error = %e, "bad raft address");
                    return None;
                }
            },
        };
        Some(
            RaftClient::new(channel)
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE),
        )
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Connection;

    async fn new_client(&mut self, target: u64, node: &RaftMember) -> Connection {
        Connection {
            network: self.clone(),
            target,
            recorded: node.addr.clone(),
        }
    }
}

/// One target's client: its address is looked up for every request.
pub struct Connection {
    network: Network,
    target: u64,
    /// The target's address in the raft membership.
    recorded: String,
}

#[derive(Debug)]
struct Failure(String);

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Failure {}

#[derive(Clone, Copy)]
enum Rpc {
    Append,
    Vote,
    Snapshot,
}

impl Connection {
    async fn call<Req, Resp, E>(
        &mut self,
        rpc: Rpc,
        req: &Req,
        option: &RPCOption,
    ) -> Result<Resp, RPCError<u64, RaftMember, RaftError<u64, E>>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let Some(mut client) = self.network.client(self.target, &self.recorded) else {
            return Err(RPCError::Unreachable(Unreachable::new(&Failure(
                "no valid address".into(),
            ))));
        };
        let json = serde_json::to_vec(req).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let mut request = tonic::Request::new(RaftMessage { json: json.into() });
        request.set_timeout(option.hard_ttl());
        request.metadata_mut().insert(
            TARGET_KEY,
            self.target
                .to_string()
                .parse()
                .map_err(|e| RPCError::Network(NetworkError::new(&e)))?,
        );
        self.network.shared.secret.sign(&mut request);
        let reply = match rpc {
            Rpc::Append => client.append_entries(request).await,
            Rpc::Vote => client.vote(request).await,
            Rpc::Snapshot => client.install_snapshot(request).await,
        };
        let reply = reply.map_err(|status| match status.code() {
            tonic::Code::Unavailable => RPCError::Unreachable(Unreachable::new(&status)),
            _ => RPCError::Network(NetworkError::new(&status)),
        })?;
        let result: Result<Resp, RaftError<u64, E>> =
            serde_json::from_slice(&reply.into_inner().json)
                .map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        result.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for Connection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, RaftMember, RaftError<u64>>> {
        self.call(Rpc::Append, &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<u64>,
        RPCError<u64, RaftMember, RaftError<u64, InstallSnapshotError>>,
    > {
        self.call(Rpc::Snapshot, &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        option: RPCOption,
    ) -> Result<VoteResponse<u64>, RPCError<u64, RaftMember, RaftError<u64>>> {
        self.call(Rpc::Vote, &rpc, &option).await
    }
}
