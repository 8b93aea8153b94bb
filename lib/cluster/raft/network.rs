//! openraft's RPCs to other nodes: append entries, vote and install snapshot, each a unary
//! gRPC call on the target's raft port carrying openraft's own types as JSON. Channels are
//! created lazily and shared per address.

use std::collections::HashMap;
use std::sync::Arc;
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
use tonic::transport::{Channel, Endpoint};

use super::{RaftMember, TypeConfig};
use crate::cluster::proto::RaftMessage;
use crate::cluster::proto::raft_client::RaftClient;
use crate::cluster::secret::Secret;

/// HTTP/2 flow-control window of a stream, both ways.
pub const WINDOW: u32 = 8 << 20;

/// Largest raft message (snapshots come in chunks below this).
pub const MAX_MESSAGE: usize = 64 << 20;

/// A lazily connected channel to `addr` (`host:port`).
pub fn channel(addr: &str) -> Result<Channel, tonic::transport::Error> {
    Ok(Endpoint::from_shared(format!("http://{addr}"))?
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
    channels: Arc<Mutex<HashMap<String, Channel>>>,
    /// Carried by every request.
    secret: Secret,
}

impl Network {
    /// Clients carrying `secret`.
    pub fn new(secret: Secret) -> Network {
        Network {
            channels: Arc::default(),
            secret,
        }
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Connection;

    async fn new_client(&mut self, target: u64, node: &RaftMember) -> Connection {
        let mut channels = self.channels.lock();
        let client = match channels.get(&node.addr) {
            Some(c) => Some(c.clone()),
            None => match channel(&node.addr) {
                Ok(c) => {
                    channels.insert(node.addr.clone(), c.clone());
                    Some(c)
                }
                Err(e) => {
                    tracing::warn!(node = %node, error = %e, "bad raft address");
                    None
                }
            },
        }
        .map(|c| {
            RaftClient::new(c)
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE)
        });
        Connection {
            client,
            target,
            secret: self.secret.clone(),
        }
    }
}

/// One target's client.
pub struct Connection {
    client: Option<RaftClient<Channel>>,
    target: u64,
    secret: Secret,
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
        let Some(client) = self.client.as_mut() else {
            return Err(RPCError::Unreachable(Unreachable::new(&Failure(
                "no valid address".into(),
            ))));
        };
        let json = serde_json::to_vec(req).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let mut request = tonic::Request::new(RaftMessage { json: json.into() });
        request.set_timeout(option.hard_ttl());
        self.secret.sign(&mut request);
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
