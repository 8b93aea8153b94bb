//! The admin gRPC service comqttctl talks to, on the gRPC port: members, raft status, join
//! (gossip to another node), leave, and inspecting clients, subscriptions and routes. Replies
//! are JSON documents, printed as tables by comqttctl (or as they are with `--json`).

use std::net::SocketAddr;
use std::sync::{Arc, Weak};

use serde_json::{Value, json};
use tonic::{Request, Response, Status};

use super::node::ClusterNode;
use super::proto::admin_client::AdminClient;
use super::proto::admin_server;
use super::proto::{AdminReply, AdminRequest};
use super::raft::network::channel;

/// The service.
pub struct AdminService {
    node: Weak<ClusterNode>,
}

impl AdminService {
    /// Serves `node`.
    pub fn new(node: Weak<ClusterNode>) -> AdminService {
        AdminService { node }
    }

    fn node(&self) -> Result<Arc<ClusterNode>, Status> {
        self.node
            .upgrade()
            .ok_or_else(|| Status::unavailable("the node is shutting down"))
    }
}

fn reply(value: Value) -> Result<Response<AdminReply>, Status> {
    Ok(Response::new(AdminReply {
        json: value.to_string(),
    }))
}

fn client_json(c: &crate::broker::sessions::ClientView) -> Value {
    let i = &c.info;
    json!({
        "id": i.client_id.to_string(),
        "online": c.online,
        "remote": i.remote,
        "username": i.username,
        "protocol": i.protocol.to_string(),
        "clean_start": i.clean_start,
        "keep_alive": i.keep_alive,
        "filters": i.filters(),
        "queued": c.queued,
        "inflight": crate::broker::client_info::ClientInfo::get(&i.inflight),
        "bytes_received": crate::broker::client_info::ClientInfo::get(&i.bytes_received),
        "bytes_sent": crate::broker::client_info::ClientInfo::get(&i.bytes_sent),
    })
}

#[tonic::async_trait]
impl admin_server::Admin for AdminService {
    async fn members(&self, _: Request<AdminRequest>) -> Result<Response<AdminReply>, Status> {
        let node = self.node()?;
        reply(json!(node.members().await))
    }

    async fn raft_status(&self, _: Request<AdminRequest>) -> Result<Response<AdminReply>, Status> {
        let node = self.node()?;
        reply(json!(node.raft_status()))
    }

    async fn join(&self, request: Request<AdminRequest>) -> Result<Response<AdminReply>, Status> {
        let node = self.node()?;
        let target = request.into_inner().target;
        let mut introduced = Vec::new();
        for addr in target.split(',').map(str::trim).filter(|a| !a.is_empty()) {
            let resolved: SocketAddr = tokio::net::lookup_host(addr)
                .await
                .ok()
                .and_then(|mut a| a.next())
                .ok_or_else(|| {
                    Status::invalid_argument(format!("{addr}: not a host:port gossip address"))
                })?;
            node.introduce(resolved)
                .map_err(|e| Status::failed_precondition(e.to_string()))?;
            introduced.push(resolved.to_string());
        }
        if introduced.is_empty() {
            return Err(Status::invalid_argument(
                "name at least one gossip address (host:port)",
            ));
        }
        reply(json!({ "introduced": introduced }))
    }

    async fn leave(&self, request: Request<AdminRequest>) -> Result<Response<AdminReply>, Status> {
        let node = self.node()?;
        let target = request.into_inner().target;
        let name = if target.is_empty() {
            node.settings.name.clone()
        } else {
            target
        };
        if name == node.settings.name {
            node.leave().await;
            return reply(json!({ "left": name }));
        }
        // Another node leaves: it must say so itself, so ask it.
        let members = node.members().await;
        let Some(m) = members.iter().find(|m| m.name == name) else {
            return Err(Status::not_found(format!("no member named {name}")));
        };
        if m.status != super::membership::MemberStatus::Alive {
            return Err(Status::failed_precondition(format!(
                "{name} is {:?}: the raft leader removes a node gone from gossip by itself",
                m.status
            )));
        }
        let ch =
            channel(&m.grpc, &node.settings.secret).map_err(|e| Status::internal(e.to_string()))?;
        let answer = AdminClient::new(ch)
            .leave(node.settings.secret.signed(AdminRequest {
                target: name.clone(),
                argument: String::new(),
            }))
            .await?;
        Ok(answer)
    }

    async fn reload(&self, request: Request<AdminRequest>) -> Result<Response<AdminReply>, Status> {
        let node = self.node()?;
        let target = request.into_inner().target;
        let me = node.settings.name.clone();
        if target == me {
            return reply(reload_here(&node).await?);
        }
        let members = node.members().await;
        let names: Vec<String> = if target.is_empty() {
            members
                .iter()
                .filter(|m| m.status == super::membership::MemberStatus::Alive)
                .map(|m| m.name.clone())
                .collect()
        } else {
            let Some(m) = members.iter().find(|m| m.name == target) else {
                return Err(Status::not_found(format!("no member named {target}")));
            };
            vec![m.name.clone()]
        };
        let mut nodes = Vec::new();
        for name in names {
            let outcome = if name == me {
                reload_here(&node).await
            } else {
                reload_there(&node, &name, &members).await
            };
            nodes.push(match outcome {
                Ok(report) => report,
                Err(status) => json!({ "node": name, "error": status.message() }),
            });
        }
        if !target.is_empty() {
            // One node asked: its answer, or its error as the status.
            let one = nodes.pop().unwrap_or(Value::Null);
            if let Some(error) = one.get("error").and_then(Value::as_str) {
                return Err(Status::failed_precondition(error.to_string()));
            }
            return reply(one);
        }
        reply(json!({ "nodes": nodes }))
    }

    async fn inspect(
        &self,
        request: Request<AdminRequest>,
    ) -> Result<Response<AdminReply>, Status> {
        let node = self.node()?;
        let r = request.into_inner();
        let broker = node
            .broker()
            .ok_or_else(|| Status::unavailable("the broker is shutting down"))?;
        match r.target.as_str() {
            "routes" => reply(json!(node.routes())),
            "subscriptions" => reply(json!(
                broker
                    .subscription_summary()
                    .into_iter()
                    .map(|(filter, count)| json!({"filter": filter, "count": count}))
                    .collect::<Vec<_>>()
            )),
            "clients" | "sessions" => reply(json!(
                broker
                    .sessions
                    .clients()
                    .iter()
                    .filter(|c| r.target == "sessions" || c.online)
                    .map(client_json)
                    .collect::<Vec<_>>()
            )),
            "client" => match broker.sessions.client(&r.argument) {
                Some(c) => reply(client_json(&c)),
                None => Err(Status::not_found(format!(
                    "no session of client {:?} on {}",
                    r.argument, node.settings.name
                ))),
            },
            other => Err(Status::invalid_argument(format!(
                "cannot inspect {other:?}: routes, subscriptions, clients, sessions or client"
            ))),
        }
    }
}

/// Reloads this node: its report, or why it was refused.
async fn reload_here(node: &ClusterNode) -> Result<Value, Status> {
    let Some(reloader) = node.reloader() else {
        return Err(Status::unimplemented(
            "this node was started without a reloadable configuration",
        ));
    };
    let report = reloader
        .reload()
        .await
        .map_err(|e| Status::failed_precondition(e.to_string()))?;
    Ok(report.json(&node.settings.name))
}

/// Asks node `name` to reload itself.
async fn reload_there(
    node: &ClusterNode,
    name: &str,
    members: &[super::node::MemberView],
) -> Result<Value, Status> {
    let Some(m) = members.iter().find(|m| m.name == name) else {
        return Err(Status::not_found(format!("no member named {name}")));
    };
    let ch =
        channel(&m.grpc, &node.settings.secret).map_err(|e| Status::internal(e.to_string()))?;
    let mut request = node.settings.secret.signed(AdminRequest {
        target: name.to_string(),
        argument: String::new(),
    });
    request.set_timeout(std::time::Duration::from_secs(30));
    let answer = AdminClient::new(ch).reload(request).await?;
    serde_json::from_str(&answer.into_inner().json)
        .map_err(|e| Status::internal(format!("{name}: unreadable reply: {e}")))
}
