//! `POST /api/v1/reload`: re-reads this node's configuration and applies what can change live
//! ([`crate::reload`]). 200 with the report (`applied`, `restart_needed`,
//! `clients_reassessed`); 422 with the errors when the file is refused (nothing changed).

use axum::Json;
use axum::extract::State;
use serde_json::Value;

use super::ApiState;
use super::error::ApiError;

/// Reloads this node.
pub async fn reload(State(api): State<ApiState>) -> Result<Json<Value>, ApiError> {
    let Some(reloader) = &api.settings.reloader else {
        return Err(ApiError::NotFound(
            "this node was started without a reloadable configuration".into(),
        ));
    };
    match reloader.reload().await {
        Ok(report) => Ok(Json(report.json(&api.settings.node_name))),
        Err(e) => Err(ApiError::Unprocessable(e.to_string())),
    }
}
