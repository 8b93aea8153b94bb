//! The broker node's HTTP API (`--http ADDR`, YAML `mqtt.http`, default `:8080`): statistics,
//! clients, subscriptions, retained messages, the client-id blacklist, publishing, Prometheus
//! metrics and health probes. Routes keep the original comqtt's paths and JSON field names.
//!
//! | file | routes |
//! | --- | --- |
//! | [`stats`] | `GET /mqtt/stats`, `/api/v1/mqtt/stat/overall`, `/api/v1/mqtt/stat/online` |
//! | [`node`] | `GET /api/v1/mqtt/config`, `/cluster/conf`, `/cluster/ms` (single node: clustering is not built yet) |
//! | [`clients`] | `GET /api/v1/mqtt/clients[/{id}]`, `POST /api/v1/mqtt/clients/{id}/disconnect` |
//! | [`subscriptions`] | `GET /api/v1/mqtt/subscriptions` |
//! | [`retained`] | `GET /api/v1/mqtt/retained`, `DELETE /api/v1/mqtt/retained/{*topic}` |
//! | [`blacklist`] | `GET/POST/DELETE /api/v1/mqtt/blacklist[/{id}]` |
//! | [`publish`] | `POST /api/v1/mqtt/message` |
//! | [`reload`] | `POST /api/v1/reload` (re-read the configuration; token needed) |
//! | [`metrics`] | `GET /metrics` (Prometheus text format 0.0.4) |
//! | [`health`] | `GET /healthz`, `/readyz` |
//! | [`dashboard`] | the web dashboard under `/dashboard/` (with `dashboard-enable`) |
//! | [`pprof`] | `GET /debug/pprof/profile`, `/debug/pprof/heap` (with `pprof-enable`; token needed) |
//! | [`error`], [`extract`] | the JSON error type and the extractors that produce it |
//!
//! Reads are open, except the profiling routes under `/debug/`. Every other method (POST,
//! DELETE, ...) and those need `Authorization: Bearer <token>` with the configured token (401
//! otherwise), or — not for profiles — a dashboard admin's session with its CSRF header; with no token configured such requests are refused with 403, so a fresh node
//! cannot be driven (or profiled) by anyone who reaches the port.

pub mod blacklist;
pub mod clients;
pub mod cluster;
pub mod dashboard;
pub mod error;
pub mod extract;
pub mod health;
pub mod metrics;
pub mod node;
pub mod pprof;
pub mod publish;
pub mod reload;
pub mod retained;
pub mod stats;
pub mod subscriptions;
pub mod topics;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{Method, Uri, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use tokio::net::TcpListener;

use crate::auth::password::constant_time_eq;
use crate::bridge::KafkaBridge;
use crate::broker::Broker;
use crate::config::MqttConfig;
use crate::shutdown::Shutdown;
use error::ApiError;
pub use health::Readiness;

/// What the API serves besides the broker's own state.
#[derive(Clone, Default)]
pub struct Settings {
    /// The bearer token mutating requests must carry; `None` refuses them all (403).
    pub token: Option<String>,
    /// This node's name, shown by `/cluster/conf` and `/cluster/ms`.
    pub node_name: String,
    /// The `mqtt:` configuration shown by `/api/v1/mqtt/config` (the token is never shown).
    pub config: MqttConfig,
    /// The Kafka bridge when it is on, for its counters in `/metrics`.
    pub bridge: Option<Arc<KafkaBridge>>,
    /// The cluster node, in cluster mode: members and raft for the `/cluster` routes.
    pub cluster: Option<Arc<crate::cluster::ClusterNode>>,
    /// Serve the profiling routes (`pprof-enable`).
    pub pprof: bool,
    /// The listeners' connection refusals, for `/metrics`.
    pub admission: Arc<crate::listener::admission::Shared>,
    /// Reloads the configuration (`POST /api/v1/reload`); `None`: the route answers 404.
    pub reloader: Option<Arc<crate::reload::Reloader>>,
    /// The web dashboard under `/dashboard/` (`dashboard-enable`).
    pub dashboard: Option<Arc<dashboard::Dashboard>>,
}

/// Never prints the token.
impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("node_name", &self.node_name)
            .field("bridge", &self.bridge.is_some())
            .finish_non_exhaustive()
    }
}

/// Shared by every handler.
#[derive(Debug)]
pub struct Api {
    /// The broker node.
    pub broker: Arc<Broker>,
    /// Token, node name, configuration.
    pub settings: Settings,
    /// Whether the MQTT listeners are up, for `/readyz`.
    pub readiness: Readiness,
    /// The address this API listens on, for `/cluster/ms`.
    pub local_addr: Option<SocketAddr>,
}

/// The handlers' state.
pub type ApiState = Arc<Api>;

/// Every route, with the bearer-token check on mutating methods and JSON 404/405 answers.
pub fn router(api: ApiState) -> Router {
    let v1 = "/api/v1/mqtt";
    let mut router = Router::new();
    if api.settings.dashboard.is_some() {
        router = router
            .route("/dashboard", get(dashboard::redirect))
            .route("/dashboard/", get(dashboard::index))
            .route("/dashboard/app.js", get(dashboard::script))
            .route("/dashboard/app.css", get(dashboard::style))
            .route("/dashboard/login", post(dashboard::login))
            .route("/dashboard/logout", post(dashboard::logout))
            .route("/dashboard/me", get(dashboard::me))
            .route(
                "/dashboard/profile/password",
                post(dashboard::change_password),
            );
    }
    if api.settings.pprof {
        router = router
            .route("/debug/pprof/profile", get(pprof::profile))
            .route("/debug/pprof/heap", get(pprof::heap));
    }
    router
        .route("/mqtt/stats", get(stats::overall))
        .route("/cluster/conf", get(node::cluster_conf))
        .route("/cluster/ms", get(node::cluster_members))
        .route("/api/v1/cluster/raft", get(node::cluster_raft))
        .route(
            "/api/v1/cluster/nodes",
            get(node::cluster_nodes).post(cluster::join),
        )
        .route("/api/v1/node/{name}", axum::routing::delete(cluster::leave))
        .route("/api/v1/cluster/stat/online", get(cluster::online))
        .route("/api/v1/cluster/stat/overall", get(cluster::overall))
        .route("/api/v1/cluster/clients", get(cluster::clients))
        .route("/api/v1/cluster/clients/{id}", get(cluster::client))
        .route("/api/v1/cluster/subscriptions", get(cluster::subscriptions))
        .route("/api/v1/cluster/retained", get(cluster::retained))
        .route(
            "/api/v1/cluster/blacklist/{id}",
            post(cluster::ban).delete(cluster::unban),
        )
        .route(&format!("{v1}/config"), get(node::config))
        .route(&format!("{v1}/stat/overall"), get(stats::overall))
        .route(&format!("{v1}/stat/online"), get(stats::online))
        .route(&format!("{v1}/clients"), get(clients::list))
        .route(&format!("{v1}/clients/{{id}}"), get(clients::one))
        .route(
            &format!("{v1}/clients/{{id}}/disconnect"),
            post(clients::disconnect),
        )
        .route(&format!("{v1}/subscriptions"), get(subscriptions::list))
        .route(&format!("{v1}/topics"), get(topics::list))
        .route(&format!("{v1}/retained"), get(retained::list))
        .route(
            &format!("{v1}/retained/{{*topic}}"),
            axum::routing::delete(retained::remove),
        )
        .route(
            &format!("{v1}/blacklist"),
            get(blacklist::list)
                .post(blacklist::add_body)
                .delete(blacklist::remove_body),
        )
        .route(
            &format!("{v1}/blacklist/{{id}}"),
            get(blacklist::one)
                .post(blacklist::add)
                .delete(blacklist::remove),
        )
        .route(&format!("{v1}/message"), post(publish::message))
        .route("/api/v1/reload", post(reload::reload))
        .route("/metrics", get(metrics::metrics))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(api.clone(), require_token))
        .with_state(api)
}

/// Serves the API on `listener` until `shutdown` fires, then lets requests in progress finish.
pub async fn serve(
    listener: TcpListener,
    broker: Arc<Broker>,
    settings: Settings,
    readiness: Readiness,
    mut shutdown: Shutdown,
) -> std::io::Result<()> {
    let local_addr = listener.local_addr().ok();
    let app = router(Arc::new(Api {
        broker,
        settings,
        readiness,
        local_addr,
    }));
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.wait().await })
        .await
}

/// Lets reads through; anything else needs the configured bearer token.
async fn require_token(
    State(api): State<ApiState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    // Profiles show what the broker runs: reads that need the token too.
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) && !request.uri().path().starts_with("/debug/")
    {
        return Ok(next.run(request).await);
    }
    let path = request.uri().path();
    if path.starts_with("/dashboard/") {
        // The dashboard's own routes check its session themselves.
        return Ok(next.run(request).await);
    }
    // A dashboard admin's session (with its CSRF header) stands for the token, except for
    // profiles.
    if !path.starts_with("/debug/")
        && api
            .settings
            .dashboard
            .as_ref()
            .is_some_and(|d| d.authorizes(request.headers()))
    {
        return Ok(next.run(request).await);
    }
    let Some(token) = api.settings.token.as_deref() else {
        return Err(ApiError::TokenNotConfigured);
    };
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim());
    match presented {
        Some(t) if constant_time_eq(t.as_bytes(), token.as_bytes()) => Ok(next.run(request).await),
        _ => {
            tracing::debug!(method = %request.method(), uri = %request.uri(), "HTTP API request without the right token");
            Err(ApiError::Unauthorized)
        }
    }
}

async fn no_route(uri: Uri) -> ApiError {
    ApiError::NoRoute(uri.path().to_string())
}

async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::MethodNotAllowed(method.to_string())
}

/// Seconds since the Unix epoch of a wall-clock time (0 before it).
pub(crate) fn unix_secs(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The host name, the default node name of a single node.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "comqtt".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_token() {
        let settings = Settings {
            token: Some("hunter2".into()),
            ..Settings::default()
        };
        assert!(!format!("{settings:?}").contains("hunter2"));
    }

    #[test]
    fn token_comparison() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
    }
}
