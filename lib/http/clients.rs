//! Clients (every session, connected or not): `GET /api/v1/mqtt/clients?page=&page_size=&search=`
//! (paged, sorted by client id; `search` keeps clients whose id or user name contains it,
//! ignoring ASCII case), `GET /api/v1/mqtt/clients/{id}`, and `POST
//! /api/v1/mqtt/clients/{id}/disconnect`, which sends a v5 client DISCONNECT 0x98
//! (administrative action) and closes the connection.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::error::ApiError;
use super::extract::{Page, Paging, Path, Query, payload_text};
use super::{ApiState, unix_secs};
use crate::broker::client_info::ClientInfo;
use crate::broker::sessions::ClientView;
use crate::mqtt::ReasonCode;

/// One client, with the original's field names (plus `queued` and the will's QoS).
#[derive(Debug, Clone, Serialize)]
pub struct ClientJson {
    /// Client identifier.
    pub id: String,
    /// Remote address (`ip:port`) of its last connection.
    pub ip: String,
    /// Whether a connection serves it now.
    pub online: bool,
    /// User name of CONNECT; empty if none.
    pub username: String,
    /// Topic filters subscribed.
    pub topic_filters: Vec<String>,
    /// 3 (MQTT 3.1), 4 (3.1.1) or 5.
    pub protocol_version: u8,
    /// Clean session / clean start flag of CONNECT.
    pub session_clean: bool,
    /// Will topic; empty without a will.
    pub will_topic_name: String,
    /// Will payload: the text if UTF-8, else base64 (see `will_payload_encoding`).
    pub will_payload: String,
    /// "utf8" or "base64".
    pub will_payload_encoding: &'static str,
    /// Will QoS.
    pub will_qos: u8,
    /// Will RETAIN flag.
    pub will_retain: bool,
    /// Unacknowledged outbound QoS 1/2 messages.
    pub inflight_count: u64,
    /// When its last connection was accepted, Unix seconds.
    pub connected_at: u64,
    pub bytes_received: u64,
    pub bytes_sent: u64,
    /// Keep alive in force, seconds.
    pub keepalive: u16,
    /// Messages waiting in its outbox.
    pub queued: usize,
}

impl ClientJson {
    /// The JSON form of a listed client.
    pub fn of(view: &ClientView) -> ClientJson {
        let info = &view.info;
        let (will_payload, will_payload_encoding) = match &info.will {
            Some(w) => payload_text(&w.payload),
            None => (String::new(), "utf8"),
        };
        ClientJson {
            id: info.client_id.to_string(),
            ip: info.remote.clone(),
            online: view.online,
            username: info.username.clone().unwrap_or_default(),
            topic_filters: info.filters(),
            protocol_version: info.protocol.level(),
            session_clean: info.clean_start,
            will_topic_name: info
                .will
                .as_ref()
                .map(|w| w.topic.clone())
                .unwrap_or_default(),
            will_payload,
            will_payload_encoding,
            will_qos: info.will.as_ref().map_or(0, |w| w.qos as u8),
            will_retain: info.will.as_ref().is_some_and(|w| w.retain),
            inflight_count: ClientInfo::get(&info.inflight),
            connected_at: unix_secs(info.connected_at),
            bytes_received: ClientInfo::get(&info.bytes_received),
            bytes_sent: ClientInfo::get(&info.bytes_sent),
            keepalive: info.keep_alive,
            queued: view.queued,
        }
    }
}

/// `?page=&page_size=&search=` of the client listing.
#[derive(Debug, Default, Deserialize)]
pub struct ClientQuery {
    /// 1-based page number.
    pub page: Option<usize>,
    /// Clients per page (default 20, at most 100).
    pub page_size: Option<usize>,
    /// Keep clients whose id or user name contains this (ASCII case ignored).
    pub search: Option<String>,
}

/// True if `haystack` contains `needle`, ignoring ASCII case.
fn contains_ignoring_case(haystack: &str, needle: &str) -> bool {
    haystack
        .to_ascii_lowercase()
        .contains(&needle.to_ascii_lowercase())
}

/// `GET /api/v1/mqtt/clients`.
pub async fn list(
    State(api): State<ApiState>,
    Query(q): Query<ClientQuery>,
) -> Json<Page<ClientJson>> {
    let (page, page_size) = Paging {
        page: q.page,
        page_size: q.page_size,
    }
    .resolve();
    let mut clients = api.broker.sessions.clients();
    if let Some(search) = q.search.as_deref().filter(|s| !s.is_empty()) {
        clients.retain(|c| {
            contains_ignoring_case(&c.info.client_id, search)
                || c.info
                    .username
                    .as_deref()
                    .is_some_and(|u| contains_ignoring_case(u, search))
        });
    }
    let total = clients.len();
    let items = clients
        .iter()
        .skip((page - 1).saturating_mul(page_size))
        .take(page_size)
        .map(ClientJson::of)
        .collect();
    Json(Page {
        items,
        total,
        page,
        page_size,
    })
}

/// `GET /api/v1/mqtt/clients/{id}`.
pub async fn one(
    State(api): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<ClientJson>, ApiError> {
    match api.broker.sessions.client(&id) {
        Some(view) => Ok(Json(ClientJson::of(&view))),
        None => Err(ApiError::NotFound(format!("no client {id:?}"))),
    }
}

/// `POST /api/v1/mqtt/clients/{id}/disconnect`: 404 if the client is not connected.
pub async fn disconnect(
    State(api): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if api
        .broker
        .sessions
        .kick(&id, ReasonCode::ADMINISTRATIVE_ACTION)
    {
        tracing::info!(client_id = %id, "client disconnected through the HTTP API");
        Ok(Json(json!({ "id": id })))
    } else {
        Err(ApiError::NotFound(format!(
            "client {id:?} is not connected"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_ignores_ascii_case() {
        assert!(contains_ignoring_case("Sensor-42", "sensor"));
        assert!(!contains_ignoring_case("pump", "sensor"));
    }
}
