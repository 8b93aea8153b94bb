//! Retained messages: `GET /api/v1/mqtt/retained?page=&page_size=` (paged, sorted by topic,
//! `$SYS` topics left out) and `DELETE /api/v1/mqtt/retained/{*topic}` (the rest of the path
//! is the topic; percent-encode a leading `/` or other reserved characters).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use serde_json::{Value, json};

use super::ApiState;
use super::error::ApiError;
use super::extract::{Page, Paging, Path, Query, payload_text};
use crate::broker::message::Message;

/// One retained message.
#[derive(Debug, Clone, Serialize)]
pub struct RetainedJson {
    /// Its topic.
    pub topic: String,
    /// The payload: the text if UTF-8, else base64 (see `encoding`).
    pub payload: String,
    /// "utf8" or "base64".
    pub encoding: &'static str,
    /// QoS it was published with.
    pub qos: u8,
    /// Client id of the publisher; empty for the broker itself (HTTP API, `$SYS`).
    pub client_id: String,
    /// When it was retained, Unix seconds: always `null` for now, as retained messages do not
    /// record their time yet (it comes with persistence).
    pub created: Option<u64>,
}

impl RetainedJson {
    /// The JSON form of a retained message.
    pub fn of(message: &Message, created: std::time::SystemTime) -> RetainedJson {
        let (payload, encoding) = payload_text(&message.payload);
        RetainedJson {
            topic: message.topic.to_string(),
            payload,
            encoding,
            qos: message.qos as u8,
            client_id: message
                .publisher
                .as_ref()
                .map(|p| p.to_string())
                .unwrap_or_default(),
            created: created
                .duration_since(std::time::UNIX_EPOCH)
                .ok()
                .map(|d| d.as_secs()),
        }
    }
}

/// `GET /api/v1/mqtt/retained`.
pub async fn list(
    State(api): State<ApiState>,
    Query(paging): Query<Paging>,
) -> Json<Page<RetainedJson>> {
    let (page, page_size) = paging.resolve();
    let (messages, total) = api.broker.retained.page(page, page_size);
    let items = messages
        .iter()
        .map(|(m, created): &(Arc<Message>, _)| RetainedJson::of(m, *created))
        .collect();
    Json(Page {
        items,
        total,
        page,
        page_size,
    })
}

/// `DELETE /api/v1/mqtt/retained/{*topic}`: 404 if the topic has no retained message.
pub async fn remove(
    State(api): State<ApiState>,
    Path(topic): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if api.broker.remove_retained(&topic) {
        tracing::info!(%topic, "retained message removed through the HTTP API");
        Ok(Json(json!({ "topic": topic })))
    } else {
        Err(ApiError::NotFound(format!(
            "no retained message on topic {topic:?}"
        )))
    }
}
