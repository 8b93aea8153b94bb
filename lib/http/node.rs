//! What this node is: `GET /api/v1/mqtt/config` (its `mqtt:` configuration, capabilities
//! included, the token never shown), the original README's cluster routes `GET
//! /cluster/conf` and `GET /cluster/ms`, and `GET /api/v1/cluster/nodes` and
//! `/api/v1/cluster/raft`. A single node describes itself alone (mode "single").

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::ApiState;

/// `GET /api/v1/mqtt/config`: the `mqtt:` settings in force (listeners, TLS files, `$SYS`
/// interval, capabilities) with the YAML key names; `http-token` shows only whether one is set.
pub async fn config(State(api): State<ApiState>) -> Json<Value> {
    let mut config = api.settings.config.clone();
    config.http_token = if api.settings.token.is_some() {
        "<set>".into()
    } else {
        String::new()
    };
    Json(serde_json::to_value(&config).unwrap_or(Value::Null))
}

/// `GET /cluster/conf`: this node's cluster settings.
pub async fn cluster_conf(State(api): State<ApiState>) -> Json<Value> {
    let addr = api.local_addr;
    match &api.settings.cluster {
        None => Json(json!({
            "mode": "single",
            "node_name": api.settings.node_name,
            "bind_addr": addr.map(|a| a.ip().to_string()),
            "http_port": addr.map(|a| a.port()),
            "members": [],
        })),
        Some(c) => {
            let s = &c.settings;
            Json(json!({
                "mode": "cluster",
                "node_name": s.name,
                "raft_id": s.raft_id,
                "bind_addr": s.gossip_bind.ip().to_string(),
                "bind_port": s.gossip_bind.port(),
                "advertise_addr": s.gossip_advertise.ip().to_string(),
                "advertise_port": s.gossip_advertise.port(),
                "raft_port": s.raft_advertise.port(),
                "grpc_port": s.grpc_advertise.port(),
                "http_port": addr.map(|a| a.port()),
                "raft_bootstrap": s.bootstrap,
                "raft_dir": s.raft_dir,
                "members": s.seeds,
                "tags": s.tags.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
            }))
        }
    }
}

/// `GET /cluster/ms`: the member list in the original's shape (`name`, `addr`, `port`,
/// `status`, `tags`).
pub async fn cluster_members(State(api): State<ApiState>) -> Json<Value> {
    let addr = api.local_addr;
    match &api.settings.cluster {
        None => Json(json!([{
            "name": api.settings.node_name,
            "addr": addr.map(|a| a.ip().to_string()),
            "status": "alive",
            "tags": { "http-port": addr.map(|a| a.port().to_string()) },
        }])),
        Some(c) => Json(json!(
            c.members()
                .await
                .into_iter()
                .map(|m| {
                    let port = m.gossip.rsplit_once(':').map(|(_, p)| p.to_string());
                    let mut tags = m.tags.clone();
                    for (k, v) in [("raft", &m.raft), ("grpc", &m.grpc)] {
                        tags.insert(format!("{k}-addr"), v.clone());
                    }
                    if let Some(http) = &m.http {
                        tags.insert("http-addr".into(), http.clone());
                    }
                    json!({"name": m.name, "addr": m.addr, "port": port, "status": m.status, "tags": tags})
                })
                .collect::<Vec<_>>()
        )),
    }
}

/// `GET /api/v1/cluster/nodes`: every node of the cluster with the addresses of its
/// listeners, for comqtt-top and operators: `[{name, addr, http, mqtt, grpc, status, leader,
/// self, ...}]`. A single node lists itself.
pub async fn cluster_nodes(State(api): State<ApiState>) -> Json<Value> {
    match &api.settings.cluster {
        None => {
            let http = api.local_addr.map(|a| a.to_string());
            Json(json!([{
                "name": api.settings.node_name,
                "addr": api.local_addr.map(|a| a.ip().to_string()),
                "http": http,
                "mqtt": api.settings.config.tcp,
                "grpc": null,
                "status": "alive",
                "leader": true,
                "self": true,
            }]))
        }
        Some(c) => Json(json!(c.members().await)),
    }
}

/// `GET /api/v1/cluster/raft`: raft as this node sees it (leader, term, voters, routes,
/// forwarding counters); 404 on a single node.
pub async fn cluster_raft(
    State(api): State<ApiState>,
) -> Result<Json<Value>, super::error::ApiError> {
    match &api.settings.cluster {
        Some(c) => Ok(Json(json!(c.raft_status()))),
        None => Err(super::error::ApiError::NotFound(
            "this node is not part of a cluster".into(),
        )),
    }
}
