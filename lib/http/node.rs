//! What this node is: `GET /api/v1/mqtt/config` (its `mqtt:` configuration, capabilities
//! included, the token never shown) and the original README's cluster routes `GET
//! /cluster/conf` and `GET /cluster/ms`. Clustering is not built yet, so those describe a
//! single node: mode "single", and a member list holding only this node.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::ApiState;

/// What the cluster routes say about clustering until it exists.
const NOT_CLUSTERED: &str = "clustering is not built yet: this node runs alone";

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
    Json(json!({
        "mode": "single",
        "node_name": api.settings.node_name,
        "bind_addr": addr.map(|a| a.ip().to_string()),
        "http_port": addr.map(|a| a.port()),
        "members": [],
        "note": NOT_CLUSTERED,
    }))
}

/// `GET /cluster/ms`: the member list, which is this node alone.
pub async fn cluster_members(State(api): State<ApiState>) -> Json<Value> {
    let addr = api.local_addr;
    Json(json!([{
        "name": api.settings.node_name,
        "addr": addr.map(|a| a.ip().to_string()),
        "status": "alive",
        "tags": { "http-port": addr.map(|a| a.port().to_string()) },
    }]))
}

/// `GET /api/v1/cluster/nodes`: every node of the cluster with the addresses of its
/// listeners, for comqtt-top and operators: `[{name, addr, http, mqtt, grpc, status, leader,
/// self}]`. A single node lists itself.
pub async fn cluster_nodes(State(api): State<ApiState>) -> Json<Value> {
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
