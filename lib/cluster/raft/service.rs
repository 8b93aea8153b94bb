//! openraft's RPCs from other nodes: the gRPC `Raft` service on the raft port, handing each
//! request to the local raft node and sending back its whole result as JSON.

use serde::Serialize;
use serde::de::DeserializeOwned;
use tonic::{Request, Response, Status};

use super::Raft;
use crate::cluster::proto::RaftMessage;
use crate::cluster::proto::raft_server;

/// The service.
pub struct RaftService {
    raft: Raft,
}

impl RaftService {
    /// Serves `raft`.
    pub fn new(raft: Raft) -> RaftService {
        RaftService { raft }
    }
}

fn decode<T: DeserializeOwned>(m: Request<RaftMessage>) -> Result<T, Status> {
    serde_json::from_slice(&m.into_inner().json)
        .map_err(|e| Status::invalid_argument(format!("not a raft message: {e}")))
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
        let result = self.raft.append_entries(decode(request)?).await;
        encode(&result)
    }

    async fn vote(&self, request: Request<RaftMessage>) -> Result<Response<RaftMessage>, Status> {
        let result = self.raft.vote(decode(request)?).await;
        encode(&result)
    }

    async fn install_snapshot(
        &self,
        request: Request<RaftMessage>,
    ) -> Result<Response<RaftMessage>, Status> {
        let result = self.raft.install_snapshot(decode(request)?).await;
        encode(&result)
    }
}
