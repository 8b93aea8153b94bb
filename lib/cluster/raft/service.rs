//! openraft's RPCs from other nodes: the gRPC `Raft` service on the raft port, handing each
//! request to the local raft node and sending back its whole result as JSON.

use serde::Serialize;
use serde::de::DeserializeOwned;
use tonic::{Request, Response, Status};

use super::Raft;
use super::network::TARGET_KEY;
use crate::cluster::proto::RaftMessage;
use crate::cluster::proto::raft_server;

/// The service.
pub struct RaftService {
    raft: Raft,
    /// This node's raft id: requests for another node are refused.
    me: u64,
}

impl RaftService {
    /// Serves `raft`, the raft node `me`.
    pub fn new(raft: Raft, me: u64) -> RaftService {
        RaftService { raft, me }
    }

    /// The request's message, if it is meant for this node.
    fn decode<T: DeserializeOwned>(&self, m: Request<RaftMessage>) -> Result<T, Status> {
        if let Some(target) = m.metadata().get(TARGET_KEY) {
            let target = target.to_str().unwrap_or_default();
            if target != self.me.to_string() {
                return Err(Status::failed_precondition(format!(
                    "raft request for node {target} reached node {}",
                    self.me
                )));
            }
        }
        serde_json::from_slice(&m.into_inner().json)
            .map_err(|e| Status::invalid_argument(format!("not a raft message: {e}")))
    }
}

fn encode<T: Serialize>(result: &T) -> Result<Response<RaftMessage>, Status> {
    serde_json::to_vec(result)
        .map(|json| Response::new(RaftMessage { json: json.into() }))
        .map_err(|e| Status::internal(e.to_string()))
}

#[tonic::async_trait]
impl raft_server::Raft for RaftService {
    async fn append_entries(
        &self,
        request: Request<RaftMessage>,
    ) -> Result<Response<RaftMessage>, Status> {
        let result = self.raft.append_entries(self.decode(request)?).await;
        encode(&result)
    }

    async fn vote(&self, request: Request<RaftMessage>) -> Result<Response<RaftMessage>, Status> {
        let result = self.raft.vote(self.decode(request)?).await;
        encode(&result)
    }

    async fn install_snapshot(
        &self,
        request: Request<RaftMessage>,
    ) -> Result<Response<RaftMessage>, Status> {
        let result = self.raft.install_snapshot(self.decode(request)?).await;
        encode(&result)
    }
}
