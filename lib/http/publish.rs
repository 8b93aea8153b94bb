//! `POST /api/v1/mqtt/message` with `{"topic_name": "...", "payload": "...", "retain": false,
//! "qos": 0}`: publishes as the broker itself (no publisher client id, so no-local does not
//! apply), like the original's inline client. Answers `{topic_name, subscribers}` with the
//! number of subscribers the message reached.

use axum::Json;
use axum::extract::State;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiState;
use super::error::ApiError;
use super::extract;
use crate::broker::message::Message;
use crate::mqtt::topic::valid_topic_name;
use crate::mqtt::{MqttString, PublishProperties, QoS};

/// The request body; only `topic_name` is required.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    /// Topic name: no wildcards, not under `$SYS`.
    pub topic_name: String,
    /// Payload text (UTF-8); empty by default.
    #[serde(default)]
    pub payload: String,
    /// RETAIN flag; an empty payload with it clears the topic's retained message.
    #[serde(default)]
    pub retain: bool,
    /// 0, 1 or 2, at most the broker's `maximum-qos`.
    #[serde(default)]
    pub qos: u8,
}

/// `POST /api/v1/mqtt/message`.
pub async fn message(
    State(api): State<ApiState>,
    extract::Json(request): extract::Json<PublishRequest>,
) -> Result<Json<Value>, ApiError> {
    let caps = &api.broker.capabilities;
    let topic = request.topic_name;
    if !valid_topic_name(&topic) {
        return Err(ApiError::BadRequest(format!(
            "invalid topic name {topic:?}: it must be non-empty and hold no + or #"
        )));
    }
    if !caps.topic_within_limits(&topic) {
        return Err(ApiError::BadRequest(format!(
            "topic name of {} bytes and {} levels: at most {} bytes and {} levels (mqtt.options.capabilities.maximum-topic-length, maximum-topic-levels)",
            topic.len(),
            topic.split('/').count(),
            caps.maximum_topic_length,
            caps.maximum_topic_levels
        )));
    }
    if topic.starts_with("$SYS") {
        return Err(ApiError::BadRequest(format!(
            "topic {topic:?}: $SYS topics are the broker's own"
        )));
    }
    let qos = QoS::from_u8(request.qos)
        .ok_or_else(|| ApiError::BadRequest(format!("qos {}: must be 0, 1 or 2", request.qos)))?;
    if qos > caps.maximum_qos {
        return Err(ApiError::BadRequest(format!(
            "qos {}: this broker's maximum-qos is {}",
            request.qos, caps.maximum_qos as u8
        )));
    }
    if request.retain && !caps.retain_available {
        return Err(ApiError::BadRequest(
            "retain: this broker has retained messages turned off (retain-available: 0)".into(),
        ));
    }
    if !api.settings.config.options.inline_client {
        return Err(ApiError::Disabled(
            "publishing as the broker is turned off (mqtt.options.inline-client: false)".into(),
        ));
    }
    let (reached, ticket) = api.broker.publish_durable(Message {
        topic: MqttString::from(topic.clone()),
        payload: Bytes::from(request.payload.into_bytes()),
        qos,
        retain: request.retain,
        properties: PublishProperties::default(),
        publisher: None,
        expires_at: None,
        origin: None,
    });
    // Answer once the message is durable for the persistent sessions it was queued for.
    api.broker.durable(ticket).await;
    tracing::debug!(%topic, subscribers = reached, "message published through the HTTP API");
    Ok(Json(json!({ "topic_name": topic, "subscribers": reached })))
}
