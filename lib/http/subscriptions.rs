//! `GET /api/v1/mqtt/subscriptions`: every subscribed topic filter with its number of
//! subscribers, as `[{filter, count}]`.

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use super::ApiState;

/// One subscribed filter.
#[derive(Debug, Clone, Serialize)]
pub struct FilterCount {
    /// The topic filter (shared subscriptions as `$share/group/filter`).
    pub filter: String,
    /// Subscribers to it.
    pub count: usize,
}

/// `GET /api/v1/mqtt/subscriptions`.
pub async fn list(State(api): State<ApiState>) -> Json<Vec<FilterCount>> {
    Json(
        api.broker
            .subscription_summary()
            .into_iter()
            .map(|(filter, count)| FilterCount { filter, count })
            .collect(),
    )
}
