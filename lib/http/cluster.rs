//! The original's cluster-wide routes: a request to any node is asked of every live node's
//! HTTP API and the answers come back together. Reads (`stat/online`, `stat/overall`,
//! `clients`, `clients/{id}`, `subscriptions`, `retained`) are open; the blacklist changes
//! pass the caller's bearer token on; gossip join and a node's own leave act here.
//!
//! A fan-out answers `[{node, url, data, err}]`: one entry per node, `data` its JSON answer,
//! `err` why there is none. Lists (`clients`, `retained`) are merged into `{items, total}`
//! with each item tagged with its `node`. On a single node, the node asks itself.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiState;
use super::error::ApiError;

/// How long one node may take to answer.
const TIMEOUT: Duration = Duration::from_secs(3);

/// The HTTP API addresses of the nodes, by name.
async fn nodes(api: &ApiState) -> Vec<(String, String)> {
    match &api.settings.cluster {
        Some(c) => c
            .members()
            .await
            .into_iter()
            .filter(|m| m.status == crate::cluster::membership::MemberStatus::Alive)
            .filter_map(|m| Some((m.name, m.http?)))
            .collect(),
        None => api
            .local_addr
            .map(|a| vec![(api.settings.node_name.clone(), a.to_string())])
            .unwrap_or_default(),
    }
}

/// Sends `method path` to every node (with `token` as the bearer token, if given).
async fn fan_out(
    api: &ApiState,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
) -> Vec<Value> {
    let client = reqwest::Client::builder().timeout(TIMEOUT).build();
    let Ok(client) = client else {
        return Vec::new();
    };
    let asks = nodes(api).await.into_iter().map(|(node, http)| {
        let client = client.clone();
        let method = method.clone();
        let url = format!("http://{http}{path}");
        async move {
            let mut request = client.request(method, &url);
            if let Some(t) = token {
                request = request.bearer_auth(t);
            }
            let (data, err) = match request.send().await {
                Ok(r) => match r.text().await {
                    Ok(text) => match serde_json::from_str::<Value>(&text) {
                        Ok(v) => (v, Value::Null),
                        Err(_) => (Value::Null, Value::String(text)),
                    },
                    Err(e) => (Value::Null, Value::String(e.to_string())),
                },
                Err(e) => (Value::Null, Value::String(e.to_string())),
            };
            json!({"node": node, "url": url, "data": data, "err": err})
        }
    });
    futures_util::future::join_all(asks).await
}

/// The caller's bearer token, to pass on.
fn token(headers: &HeaderMap) -> Option<String> {
    headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::to_string)
}

fn with_query(path: &str, query: Option<String>) -> String {
    match query {
        Some(q) if !q.is_empty() => format!("{path}?{q}"),
        _ => path.to_string(),
    }
}

/// `GET /api/v1/cluster/stat/online`.
pub async fn online(State(api): State<ApiState>) -> Json<Value> {
    Json(json!(
        fan_out(&api, reqwest::Method::GET, "/api/v1/mqtt/stat/online", None).await
    ))
}

/// `GET /api/v1/cluster/stat/overall`.
pub async fn overall(State(api): State<ApiState>) -> Json<Value> {
    Json(json!(
        fan_out(
            &api,
            reqwest::Method::GET,
            "/api/v1/mqtt/stat/overall",
            None
        )
        .await
    ))
}

/// `GET /api/v1/cluster/subscriptions`: `[{node, data: [{filter, count}]}]`.
pub async fn subscriptions(State(api): State<ApiState>) -> Json<Value> {
    Json(json!(
        fan_out(
            &api,
            reqwest::Method::GET,
            "/api/v1/mqtt/subscriptions",
            None
        )
        .await
    ))
}

/// `GET /api/v1/cluster/clients/{id}`.
pub async fn client(State(api): State<ApiState>, Path(id): Path<String>) -> Json<Value> {
    let path = format!("/api/v1/mqtt/clients/{}", encode(&id));
    Json(json!(
        fan_out(&api, reqwest::Method::GET, &path, None).await
    ))
}

/// Merges the `items` of each node's page, tagging each with its node.
fn merge(results: Vec<Value>) -> Value {
    let mut items = Vec::new();
    let mut errors = Vec::new();
    for r in results {
        let node = r["node"].clone();
        match r["data"]["items"].as_array() {
            Some(list) => {
                for item in list {
                    let mut item = item.clone();
                    if let Some(o) = item.as_object_mut() {
                        o.insert("node".into(), node.clone());
                    }
                    items.push(item);
                }
            }
            None => errors.push(json!({"node": node, "err": r["err"]})),
        }
    }
    json!({"total": items.len(), "items": items, "errors": errors})
}

/// `GET /api/v1/cluster/clients?page=&page_size=&search=`: every node's page merged.
pub async fn clients(State(api): State<ApiState>, RawQuery(q): RawQuery) -> Json<Value> {
    let path = with_query("/api/v1/mqtt/clients", q);
    Json(merge(
        fan_out(&api, reqwest::Method::GET, &path, None).await,
    ))
}

/// `GET /api/v1/cluster/retained?page=&page_size=`: every node's page merged.
pub async fn retained(State(api): State<ApiState>, RawQuery(q): RawQuery) -> Json<Value> {
    let path = with_query("/api/v1/mqtt/retained", q);
    Json(merge(
        fan_out(&api, reqwest::Method::GET, &path, None).await,
    ))
}

/// `POST /api/v1/cluster/blacklist/{id}`: bans the id on every node.
pub async fn ban(
    State(api): State<ApiState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Json<Value> {
    blacklist(&api, reqwest::Method::POST, &id, &headers).await
}

/// `DELETE /api/v1/cluster/blacklist/{id}`: lifts the ban on every node.
pub async fn unban(
    State(api): State<ApiState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Json<Value> {
    blacklist(&api, reqwest::Method::DELETE, &id, &headers).await
}

/// Sends `method` on the blacklist entry of `id` to every node, with the caller's token.
async fn blacklist(
    api: &ApiState,
    method: reqwest::Method,
    id: &str,
    headers: &HeaderMap,
) -> Json<Value> {
    let path = format!("/api/v1/mqtt/blacklist/{}", encode(id));
    let t = token(headers);
    Json(json!(fan_out(api, method, &path, t.as_deref()).await))
}

/// The body of `POST /api/v1/cluster/nodes`.
#[derive(Debug, Deserialize)]
pub struct Join {
    /// The node's name (informational).
    #[serde(default)]
    pub name: String,
    /// Its gossip address, `host:port`.
    pub addr: String,
}

fn cluster(api: &ApiState) -> Result<&crate::cluster::ClusterNode, ApiError> {
    api.settings
        .cluster
        .as_deref()
        .ok_or_else(|| ApiError::NotFound("this node is not part of a cluster".into()))
}

/// `POST /api/v1/cluster/nodes {name, addr}`: gossip to `addr` (joins it to this cluster).
pub async fn join(
    State(api): State<ApiState>,
    Json(j): Json<Join>,
) -> Result<Json<Value>, ApiError> {
    let c = cluster(&api)?;
    let addr = tokio::net::lookup_host(&j.addr)
        .await
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "addr: {:?} is not a host:port gossip address",
                j.addr
            ))
        })?;
    c.introduce(addr)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    Ok(Json(json!({"name": j.name, "addr": addr.to_string()})))
}

/// `DELETE /api/v1/node/{name}`: this node leaves the cluster (the name must be its own).
pub async fn leave(
    State(api): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let c = cluster(&api)?;
    if name != c.settings.name {
        return Err(ApiError::BadRequest(format!(
            "{name} is not this node ({}): ask that node, or use comqttctl leave",
            c.settings.name
        )));
    }
    c.leave().await;
    Ok(Json(json!({"left": name})))
}

/// Percent-encodes a path segment.
fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}
