//! Getting a route command committed from any node: applied here if this node leads the
//! raft cluster, else sent to the leader (found in this node's raft view, or by asking any
//! live peer, which answers with the leader's name).

use std::time::Duration;

use tokio::sync::watch;

use super::membership::{Member, MemberStatus};
use super::proto::ProposeRequest;
use super::proto::node_client::NodeClient;
use super::raft::Raft;
use super::raft::network::channel;
use super::routes::RouteCommand;
use super::secret::Secret;

/// How long one proposal may take to commit.
const COMMIT_TIMEOUT: Duration = Duration::from_secs(5);

/// Proposes route commands.
pub struct Proposer {
    me: String,
    secret: Secret,
    raft: Raft,
    live: watch::Receiver<Vec<Member>>,
}

impl Proposer {
    /// A proposer of node `me`.
    pub fn new(
        me: &str,
        raft: Raft,
        live: watch::Receiver<Vec<Member>>,
        secret: Secret,
    ) -> Proposer {
        Proposer {
            me: me.to_string(),
            secret,
            raft,
            live,
        }
    }

    /// Commits `cmd` if this node is the leader; else `Err` with the leader's name if known.
    pub async fn apply_here(&self, cmd: RouteCommand) -> Result<(), Option<String>> {
        match tokio::time::timeout(COMMIT_TIMEOUT, self.raft.client_write(cmd)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e
                .forward_to_leader()
                .and_then(|f| f.leader_node.as_ref())
                .map(|n| n.name.clone())),
            Err(_) => Err(None),
        }
    }

    fn grpc_of(&self, name: &str) -> Option<String> {
        self.live
            .borrow()
            .iter()
            .find(|m| m.name == name && m.status == MemberStatus::Alive)
            .map(|m| m.grpc.clone())
    }

    fn any_peer(&self) -> Option<String> {
        self.live
            .borrow()
            .iter()
            .find(|m| m.name != self.me && m.status == MemberStatus::Alive)
            .map(|m| m.grpc.clone())
    }

    async fn ask(&self, addr: &str, cmd: &RouteCommand) -> Result<Option<String>, String> {
        let command = serde_json::to_vec(cmd).map_err(|e| e.to_string())?;
        let mut client = NodeClient::new(channel(addr, &self.secret).map_err(|e| e.to_string())?);
        let mut request = tonic::Request::new(ProposeRequest {
            command: command.into(),
        });
        request.set_timeout(COMMIT_TIMEOUT);
        self.secret.sign(&mut request);
        let reply = client
            .propose(request)
            .await
            .map_err(|e| e.to_string())?
            .into_inner();
        if reply.ok {
            Ok(None)
        } else if !reply.leader.is_empty() {
            Ok(Some(reply.leader))
        } else {
            Err(reply.error)
        }
    }

    /// Commits `cmd` wherever the leader is; `Err` says why it could not (no leader yet, no
    /// peer reachable): the caller retries.
    pub async fn propose(&self, cmd: RouteCommand) -> Result<(), String> {
        let target = match self.apply_here(cmd.clone()).await {
            Ok(()) => return Ok(()),
            Err(Some(leader)) if leader != self.me => self.grpc_of(&leader),
            Err(_) => self.any_peer(),
        };
        let Some(mut addr) = target else {
            return Err("no raft leader known and no peer to ask".into());
        };
        for _ in 0..3 {
            match self.ask(&addr, &cmd).await? {
                None => return Ok(()),
                Some(leader) if leader == self.me => {
                    return self
                        .apply_here(cmd)
                        .await
                        .map_err(|_| "this node was named leader but is not".to_string());
                }
                Some(leader) => {
                    addr = self
                        .grpc_of(&leader)
                        .ok_or_else(|| format!("leader {leader} is not a live member"))?;
                }
            }
        }
        Err("the raft leader kept moving".into())
    }
}
