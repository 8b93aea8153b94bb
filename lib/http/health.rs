//! Health probes for orchestrators: `/healthz` (liveness: 200 whenever the API answers) and
//! `/readyz` (readiness: 200 once the MQTT listeners are bound, 503 while overloaded, before that and from the
//! moment shutdown begins, so load balancers stop sending clients before connections close).

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;

use super::ApiState;

const STARTING: u8 = 0;
const READY: u8 = 1;
const STOPPING: u8 = 2;

/// Where the node is in its life: starting, ready (listeners bound) or shutting down. Cheap to
/// clone: the node's startup code and the API share one.
#[derive(Debug, Clone, Default)]
pub struct Readiness(Arc<AtomicU8>);

impl Readiness {
    /// A node still starting.
    pub fn new() -> Readiness {
        Readiness::default()
    }

    /// The MQTT listeners are bound: the node takes clients.
    pub fn listeners_bound(&self) {
        // Never back from shutting down to ready.
        let _ = self
            .0
            .compare_exchange(STARTING, READY, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Shutdown has begun.
    pub fn shutting_down(&self) {
        self.0.store(STOPPING, Ordering::Release);
    }

    /// True while the node takes clients.
    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Acquire) == READY
    }

    /// "starting", "ready" or "shutting down".
    pub fn describe(&self) -> &'static str {
        match self.0.load(Ordering::Acquire) {
            STARTING => "starting",
            READY => "ready",
            _ => "shutting down",
        }
    }
}

/// `GET /healthz`: the process answers.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: 200 while the node takes clients, else 503.
/// While overloaded ([`crate::broker::overload`]) the node is not ready: a load balancer then
/// sends new clients elsewhere.
pub async fn readyz(State(api): State<ApiState>) -> impl IntoResponse {
    if api.readiness.is_ready() && api.broker.overload.is_overloaded() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "overloaded" })),
        );
    }
    let status = if api.readiness.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(json!({ "status": api.readiness.describe() })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::{Broker, Capabilities};
    use crate::http::{Api, Settings};

    fn api(readiness: &Readiness) -> ApiState {
        Arc::new(Api {
            broker: Broker::new(Capabilities::default()),
            settings: Settings::default(),
            readiness: readiness.clone(),
            local_addr: None,
        })
    }

    #[tokio::test]
    async fn readyz_follows_the_node_from_starting_to_ready_to_shutting_down() {
        let readiness = Readiness::new();
        let state = api(&readiness);
        let status = |r: axum::response::Response| r.status();
        assert_eq!(
            status(readyz(State(state.clone())).await.into_response()),
            StatusCode::SERVICE_UNAVAILABLE
        );
        readiness.listeners_bound();
        assert_eq!(
            status(readyz(State(state.clone())).await.into_response()),
            StatusCode::OK
        );
        readiness.shutting_down();
        assert_eq!(
            status(readyz(State(state.clone())).await.into_response()),
            StatusCode::SERVICE_UNAVAILABLE
        );
        readiness.listeners_bound();
        assert!(
            !readiness.is_ready(),
            "a node shutting down never becomes ready again"
        );
        assert_eq!(readiness.describe(), "shutting down");
    }
}
