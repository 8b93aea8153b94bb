//! The client-id blacklist: banned client ids are refused at CONNECT (v5 CONNACK 0x8A Banned,
//! 3.x 0x05 Not authorized), and banning one that is connected disconnects it (v5 DISCONNECT
//! 0x98 Administrative action).
//!
//! `GET /api/v1/mqtt/blacklist` lists the ids; `GET .../blacklist/{id}` answers 404 unless
//! the id is banned; `POST .../blacklist/{id}` (or `POST .../blacklist` with `{"id": "..."}`)
//! bans; `DELETE .../blacklist/{id}` (or `DELETE .../blacklist` with the same body) lifts the
//! ban, 404 if there was none.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiState;
use super::error::ApiError;
use super::extract::{self, Path};

/// The body of `POST`/`DELETE /api/v1/mqtt/blacklist`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlacklistEntry {
    /// The client id.
    pub id: String,
}

/// `GET /api/v1/mqtt/blacklist`: the banned client ids, sorted.
pub async fn list(State(api): State<ApiState>) -> Json<Vec<String>> {
    Json(api.broker.banned())
}

/// `GET /api/v1/mqtt/blacklist/{id}`.
pub async fn one(
    State(api): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if api.broker.is_banned(&id) {
        Ok(Json(json!({ "id": id })))
    } else {
        Err(ApiError::NotFound(format!(
            "client id {id:?} is not blacklisted"
        )))
    }
}

/// `POST /api/v1/mqtt/blacklist/{id}`.
pub async fn add(
    State(api): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    ban(&api, id)
}

/// `POST /api/v1/mqtt/blacklist` with `{"id": "..."}`.
pub async fn add_body(
    State(api): State<ApiState>,
    extract::Json(entry): extract::Json<BlacklistEntry>,
) -> Result<Json<Value>, ApiError> {
    ban(&api, entry.id)
}

/// `DELETE /api/v1/mqtt/blacklist/{id}`.
pub async fn remove(
    State(api): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    unban(&api, id)
}

/// `DELETE /api/v1/mqtt/blacklist` with `{"id": "..."}`.
pub async fn remove_body(
    State(api): State<ApiState>,
    extract::Json(entry): extract::Json<BlacklistEntry>,
) -> Result<Json<Value>, ApiError> {
    unban(&api, entry.id)
}

/// Bans `id` and disconnects it if connected; `added` is false if it was banned already.
fn ban(api: &ApiState, id: String) -> Result<Json<Value>, ApiError> {
    if id.is_empty() {
        return Err(ApiError::BadRequest(
            "the client id to blacklist is empty".into(),
        ));
    }
    let added = api.broker.ban(&id);
    tracing::info!(client_id = %id, added, "client id blacklisted through the HTTP API");
    Ok(Json(json!({ "id": id, "added": added })))
}

fn unban(api: &ApiState, id: String) -> Result<Json<Value>, ApiError> {
    if api.broker.unban(&id) {
        tracing::info!(client_id = %id, "client id removed from the blacklist through the HTTP API");
        Ok(Json(json!({ "id": id })))
    } else {
        Err(ApiError::NotFound(format!(
            "client id {id:?} is not blacklisted"
        )))
    }
}
