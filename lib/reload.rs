//! Hot reload: the configuration read anew (the file, then the command line's flags over it)
//! and what can change while clients stay connected applied in place. Triggered by `SIGHUP`,
//! `POST /api/v1/reload` and `comqttctl reload` (each node of a cluster reloads its own file).
//!
//! Applied live:
//! - `auth.*` and the files it names (rule file, blacklist, datasource file): always read
//!   again, the datasource reconnected; every connected client is decided again — its ACL
//!   applies from its next packet, and a client the blacklist now bans is disconnected (0x98);
//! - `mqtt.options.limits.*` (connection limits count the connections already open; the
//!   per-client rates reach connected clients at once) and `mqtt.options.overload.*`;
//! - `log.*` and `cluster.raft-log-level` (level at once; outputs reopened when they changed);
//! - `mqtt.options.sys-topic-resend-interval`;
//! - the Kafka bridge file's `rules` (its `kafka-options` need a restart).
//!
//! Everything else (listeners, TLS, storage, capabilities, cluster identity, ...) needs a
//! restart: the report names each changed key of that kind, and keeps naming it at every
//! reload until the restart. A file that fails any check `comqtt config check` makes, or whose
//! datasource cannot be reached, is refused as a whole: nothing changes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::auth::Authenticator;
use crate::bridge::{KafkaBridge, KafkaBridgeConfig};
use crate::broker::Broker;
use crate::broker::sessions::Kick;
use crate::config::Config;
use crate::listener::admission;
use crate::logging::LogGuard;

/// Reads the configuration anew: the file, then the flags the node was started with.
pub type ConfigSource = Box<dyn Fn() -> Result<Config, String> + Send + Sync>;

/// Why a reload was refused (nothing was changed).
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The file (or a file it names) is invalid.
    #[error("the configuration is refused, nothing changed: {0}")]
    Invalid(String),
    /// The auth datasource cannot be set up.
    #[error("the configuration is refused, nothing changed: auth: {0}")]
    Auth(#[from] crate::auth::AuthError),
    /// The new log outputs cannot be opened.
    #[error("the configuration is refused, nothing changed: {0}")]
    Log(#[from] crate::logging::LogError),
}

/// What a reload did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ReloadReport {
    /// Changed keys now in force.
    pub applied: Vec<String>,
    /// Changed keys that take effect only after a restart.
    pub restart_needed: Vec<String>,
    /// Connected clients decided again under the auth files read anew.
    pub clients_reassessed: usize,
}

impl ReloadReport {
    /// The report of node `node` as answered by the HTTP API and comqttctl.
    pub fn json(&self, node: &str) -> Value {
        serde_json::json!({
            "node": node,
            "applied": self.applied,
            "restart_needed": self.restart_needed,
            "clients_reassessed": self.clients_reassessed,
        })
    }
}

/// Keys (and key prefixes, ending in `.`) applied live; everything else needs a restart.
const LIVE: &[&str] = &[
    "auth.",
    "mqtt.options.limits.",
    "mqtt.options.overload.",
    "mqtt.options.sys-topic-resend-interval",
    "log.",
    "cluster.raft-log-level",
];

fn is_live(key: &str) -> bool {
    LIVE.iter()
        .any(|l| key == l.trim_end_matches('.') || (l.ends_with('.') && key.starts_with(l)))
}

/// The keys whose values differ between `old` and `new` (leaves and lists compared whole),
/// dotted, in the file's spelling.
pub fn changed_keys(old: &Value, new: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(old, new, String::new(), &mut out);
    out
}

fn walk(old: &Value, new: &Value, at: String, out: &mut Vec<String>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let path = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                walk(
                    a.get(k).unwrap_or(&Value::Null),
                    b.get(k).unwrap_or(&Value::Null),
                    path,
                    out,
                );
            }
        }
        (a, b) if a != b => out.push(at),
        _ => {}
    }
}

/// Reloads one node.
pub struct Reloader {
    source: ConfigSource,
    /// What is in force: the startup configuration (and Kafka bridge file) with the live
    /// parts of each reload.
    running: tokio::sync::Mutex<(Config, Option<KafkaBridgeConfig>)>,
    broker: Arc<Broker>,
    admission: Arc<admission::Shared>,
    logging: Option<Arc<LogGuard>>,
    bridge: Option<Arc<KafkaBridge>>,
    /// Reloads done.
    pub done: AtomicU64,
    /// Reloads refused.
    pub refused: AtomicU64,
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloader").finish_non_exhaustive()
    }
}

impl Reloader {
    /// A reloader of the node started with `running` (and the Kafka bridge file `bridge_file`),
    /// reading anew from `source`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        source: ConfigSource,
        running: Config,
        bridge_file: Option<KafkaBridgeConfig>,
        broker: Arc<Broker>,
        admission: Arc<admission::Shared>,
        logging: Option<Arc<LogGuard>>,
        bridge: Option<Arc<KafkaBridge>>,
    ) -> Reloader {
        Reloader {
            source,
            running: tokio::sync::Mutex::new((running, bridge_file)),
            broker,
            admission,
            logging,
            bridge,
            done: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }
    }

    /// Reads the configuration anew and applies what can change live (one reload at a
    /// time). On an error nothing changed.
    pub async fn reload(&self) -> Result<ReloadReport, ReloadError> {
        let result = self.reload_inner().await;
        match &result {
            Ok(report) => {
                self.done.fetch_add(1, Ordering::Relaxed);
                tracing::info!(
                    applied = %report.applied.join(", "),
                    restart_needed = %report.restart_needed.join(", "),
                    clients_reassessed = report.clients_reassessed,
                    "configuration reloaded"
                );
                if !report.restart_needed.is_empty() {
                    tracing::warn!(
                        keys = %report.restart_needed.join(", "),
                        "reload: these changed keys take effect only after a restart"
                    );
                }
            }
            Err(e) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, "reload refused");
            }
        }
        result
    }

    async fn reload_inner(&self) -> Result<ReloadReport, ReloadError> {
        let mut running = self.running.lock().await;
        // Everything is read and checked before anything changes.
        let new = (self.source)().map_err(ReloadError::Invalid)?;
        Authenticator::check(&new.auth)?;
        let bridge_file = if new.bridge_way == 1 {
            Some(
                KafkaBridgeConfig::load(std::path::Path::new(&new.bridge_path))
                    .map_err(|e| ReloadError::Invalid(format!("the Kafka bridge's file: {e}")))?,
            )
        } else {
            None
        };
        let mut authenticator = Authenticator::open(&new.auth).await?;
        let old_value = serde_json::to_value(&running.0).unwrap_or(Value::Null);
        let new_value = serde_json::to_value(&new).unwrap_or(Value::Null);
        let mut report = ReloadReport::default();
        for key in changed_keys(&old_value, &new_value) {
            if is_live(&key) {
                report.applied.push(key);
            } else {
                report.restart_needed.push(key);
            }
        }
        if let Some(logging) = &self.logging
            && running.0.log != new.log
        {
            logging.apply(&new.log)?;
        }

        // Applied from here on; nothing below fails.
        let previous = self.broker.authenticator();
        if let (Some(a), Some(p)) = (authenticator.as_mut(), previous.as_ref()) {
            a.continue_counters(p);
        }
        let auth_on = authenticator.is_some() || previous.is_some();
        self.broker.replace_authenticator(authenticator);
        if auth_on {
            report.clients_reassessed = self.broker.reassess().await;
        }
        let limits = new.mqtt.options.limits;
        self.admission.set_limits(limits);
        if self.broker.tunables.set_rates(limits.client_rates()) {
            self.broker.sessions.update_all(Kick::RATES);
        }
        self.broker
            .overload
            .set_marks(new.mqtt.options.overload.clone());
        self.broker.tunables.set_sys_interval(Duration::from_secs(
            new.mqtt.options.sys_topic_resend_interval,
        ));
        // A bridge file moved (`bridge-path`, reported above) is read only at the restart.
        let same_bridge_file = running.0.bridge_path == new.bridge_path;
        if let (Some(bridge), Some(file), Some(started), true) = (
            &self.bridge,
            &bridge_file,
            running.1.as_mut(),
            same_bridge_file,
        ) {
            let old = serde_json::to_value(&*started).unwrap_or(Value::Null);
            let now = serde_json::to_value(file).unwrap_or(Value::Null);
            for key in changed_keys(&old, &now) {
                let named = format!("{}: {key}", new.bridge_path);
                if key.starts_with("rules.") {
                    report.applied.push(named);
                } else {
                    report.restart_needed.push(named);
                }
            }
            bridge.set_rules(file.rules.clone());
            started.rules = file.rules.clone();
        }
        let running = &mut running.0;
        running.auth = new.auth.clone();
        running.mqtt.options.limits = new.mqtt.options.limits;
        running.mqtt.options.overload = new.mqtt.options.overload.clone();
        running.mqtt.options.sys_topic_resend_interval = new.mqtt.options.sys_topic_resend_interval;
        running.log = new.log.clone();
        running.cluster.raft_log_level = new.cluster.raft_log_level.clone();
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_keys_are_dotted_leaves() {
        let mut a = Config::default();
        let mut b = a.clone();
        b.mqtt.options.limits.max_connections = 5;
        b.mqtt.tcp = ":1999".into();
        b.log.level = 4;
        let keys = changed_keys(
            &serde_json::to_value(&a).unwrap(),
            &serde_json::to_value(&b).unwrap(),
        );
        assert_eq!(
            keys,
            [
                "log.level",
                "mqtt.options.limits.max-connections",
                "mqtt.tcp"
            ]
        );
        a.cluster.members = vec!["x:1".into()];
        let keys = changed_keys(
            &serde_json::to_value(&a).unwrap(),
            &serde_json::to_value(Config::default()).unwrap(),
        );
        assert_eq!(keys, ["cluster.members"]);
    }

    #[test]
    fn live_keys_are_those_the_reload_applies() {
        assert!(is_live("auth.conf-path"));
        assert!(is_live("mqtt.options.limits.max-connections"));
        assert!(is_live("mqtt.options.sys-topic-resend-interval"));
        assert!(is_live("cluster.raft-log-level"));
        assert!(!is_live("mqtt.options.capabilities.maximum-qos"));
        assert!(!is_live("mqtt.tcp"));
        assert!(!is_live("authx"));
        assert!(!is_live("cluster.node-name"));
    }
}
