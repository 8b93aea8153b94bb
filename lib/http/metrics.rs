//! `GET /metrics`: the node's counters in the Prometheus text exposition format 0.0.4,
//! written by hand (a few dozen lines do not need a metrics crate). Names start with
//! `comqtt_`; counters end in `_total`; every sample has its `# HELP` and `# TYPE` lines.
//! With a store, `comqtt_storage_commit_seconds` is a histogram of its commit latency; with
//! the Kafka bridge on, `comqtt_bridge_kafka_*` count its events.

use std::fmt::Write;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::ApiState;
use super::stats::SystemInfo;
use crate::bridge::{KafkaBridge, KafkaCounters};
use crate::broker::Broker;

/// The content type of the text format, version 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A Prometheus metric type.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
}

/// The text of one exposition, built metric by metric.
#[derive(Debug, Default)]
struct Exposition(String);

impl Exposition {
    /// One metric with one unlabelled sample.
    fn metric(&mut self, name: &str, kind: Kind, help: &str, value: u64) {
        self.labelled(name, kind, help, &[], value);
    }

    /// One metric with one sample carrying `labels`.
    fn labelled(
        &mut self,
        name: &str,
        kind: Kind,
        help: &str,
        labels: &[(&str, &str)],
        value: u64,
    ) {
        let kind = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        };
        let _ = writeln!(self.0, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
        self.0.push_str(name);
        if !labels.is_empty() {
            let pairs: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
                .collect();
            let _ = write!(self.0, "{{{}}}", pairs.join(","));
        }
        let _ = writeln!(self.0, " {value}");
    }
}

/// HELP text escapes backslash and line feed.
fn escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Label values escape backslash, double quote and line feed.
fn escape_label(s: &str) -> String {
    escape_help(s).replace('"', "\\\"")
}

/// The exposition text of `broker` now.
pub fn render(broker: &Broker) -> String {
    let info = SystemInfo::of(broker);
    let queued: u64 = broker
        .sessions
        .clients()
        .iter()
        .map(|c| c.queued as u64)
        .sum();
    let mut out = Exposition::default();
    use Kind::{Counter, Gauge};
    out.labelled(
        "comqtt_build_info",
        Gauge,
        "Always 1; the version label names the broker build.",
        &[("version", &info.version)],
        1,
    );
    out.metric(
        "comqtt_start_time_seconds",
        Gauge,
        "When the broker started, Unix seconds.",
        info.started,
    );
    out.metric(
        "comqtt_uptime_seconds",
        Gauge,
        "Seconds since the broker started.",
        info.uptime,
    );
    out.metric(
        "comqtt_clients_connected",
        Gauge,
        "Clients connected now.",
        info.clients_connected,
    );
    out.metric(
        "comqtt_clients_disconnected",
        Gauge,
        "Sessions kept for clients that are not connected.",
        info.clients_disconnected,
    );
    out.metric(
        "comqtt_clients_maximum",
        Gauge,
        "Most clients connected at once since start.",
        info.clients_maximum,
    );
    out.metric(
        "comqtt_clients_total",
        Counter,
        "Client connections accepted since start.",
        info.clients_total,
    );
    out.metric(
        "comqtt_messages_received_total",
        Counter,
        "PUBLISH packets received from clients.",
        info.messages_received,
    );
    out.metric(
        "comqtt_messages_sent_total",
        Counter,
        "PUBLISH packets sent to clients.",
        info.messages_sent,
    );
    out.metric(
        "comqtt_messages_dropped_total",
        Counter,
        "Messages dropped: queue limits, expiry, packets too large for the client.",
        info.messages_dropped,
    );
    out.metric(
        "comqtt_messages_inflight",
        Gauge,
        "Outbound QoS 1/2 messages not yet acknowledged.",
        info.inflight,
    );
    out.metric(
        "comqtt_messages_queued",
        Gauge,
        "Messages waiting in client outboxes, connected or not.",
        queued,
    );
    out.metric(
        "comqtt_retained_messages",
        Gauge,
        "Retained messages held.",
        info.retained,
    );
    out.metric(
        "comqtt_subscriptions",
        Gauge,
        "Subscriptions held.",
        info.subscriptions,
    );
    out.metric(
        "comqtt_bytes_received_total",
        Counter,
        "Bytes read from clients.",
        info.bytes_received,
    );
    out.metric(
        "comqtt_bytes_sent_total",
        Counter,
        "Bytes written to clients.",
        info.bytes_sent,
    );
    out.metric(
        "comqtt_packets_received_total",
        Counter,
        "MQTT packets received.",
        info.packets_received,
    );
    out.metric(
        "comqtt_packets_sent_total",
        Counter,
        "MQTT packets sent.",
        info.packets_sent,
    );
    out.metric(
        "comqtt_process_resident_memory_bytes",
        Gauge,
        "Resident memory of the broker process.",
        info.memory_alloc,
    );
    out.metric(
        "comqtt_process_threads",
        Gauge,
        "Threads of the broker process.",
        info.threads,
    );
    if let Some(auth) = broker.authenticator() {
        let name = "comqtt_auth_connects_total";
        let _ = writeln!(
            out.0,
            "# HELP {name} CONNECT decisions of the {} auth datasource, by result.",
            auth.name()
        );
        let _ = writeln!(out.0, "# TYPE {name} counter");
        for (result, n) in auth.counters.snapshot() {
            let _ = writeln!(out.0, "{name}{{result=\"{result}\"}} {n}");
        }
    }
    if let Some(store) = &broker.store {
        let h = store.latency();
        let name = "comqtt_storage_commit_seconds";
        let _ = writeln!(
            out.0,
            "# HELP {name} Time a storage commit (one group of changes) takes."
        );
        let _ = writeln!(out.0, "# TYPE {name} histogram");
        for (le, n) in &h.cumulative {
            let le = if le.is_infinite() {
                "+Inf".to_string()
            } else {
                le.to_string()
            };
            let _ = writeln!(out.0, "{name}_bucket{{le=\"{le}\"}} {n}");
        }
        let _ = writeln!(out.0, "{name}_sum {}", h.sum_seconds);
        let _ = writeln!(out.0, "{name}_count {}", h.count);
    }
    out.0
}

/// The cluster's metrics, to follow [`render`]'s in cluster mode.
pub fn render_cluster(r: &crate::cluster::node::RaftStatus) -> String {
    let mut out = Exposition::default();
    use Kind::{Counter, Gauge};
    let f = &r.forwarded;
    for (name, help, value) in [
        (
            "comqtt_cluster_forwarded_queued_total",
            "Messages queued for other nodes.",
            f.queued,
        ),
        (
            "comqtt_cluster_forwarded_acknowledged_total",
            "Messages other nodes acknowledged.",
            f.acknowledged,
        ),
        (
            "comqtt_cluster_forwarded_resent_total",
            "Messages sent again after a stream to a node broke.",
            f.resent,
        ),
        (
            "comqtt_cluster_forwarded_dropped_total",
            "Messages for other nodes dropped: a full queue, or a node gone for good.",
            f.dropped,
        ),
        (
            "comqtt_cluster_forward_pauses_total",
            "Times a publisher stopped reading because a node's queue was filling up.",
            f.congested,
        ),
    ] {
        out.metric(name, Counter, help, value);
    }
    out.metric(
        "comqtt_cluster_routes",
        Gauge,
        "Topic filters in the cluster's route table.",
        r.routes as u64,
    );
    out.metric(
        "comqtt_cluster_raft_voters",
        Gauge,
        "Voters of the raft cluster as this node sees it.",
        r.voters.len() as u64,
    );
    out.metric(
        "comqtt_cluster_raft_term",
        Gauge,
        "The raft term this node is in.",
        r.term,
    );
    out.labelled(
        "comqtt_cluster_raft_leader",
        Gauge,
        "1 on the raft leader, 0 elsewhere; the leader label names it.",
        &[("leader", r.leader.as_deref().unwrap_or(""))],
        (r.leader.as_deref() == Some(r.node.as_str())) as u64,
    );
    out.0
}

/// The Kafka bridge's metrics, to follow [`render`]'s when the bridge is on.
pub fn render_bridge(bridge: &KafkaBridge) -> String {
    let c = bridge.counters();
    let mut out = Exposition::default();
    use Kind::{Counter, Gauge};
    out.metric(
        "comqtt_bridge_kafka_events_sent_total",
        Counter,
        "Events the Kafka bridge delivered (acknowledged as required-acks asks).",
        KafkaCounters::get(&c.sent),
    );
    out.metric(
        "comqtt_bridge_kafka_events_failed_total",
        Counter,
        "Events the Kafka bridge could not deliver: refused, not acknowledged within write-timeout, too large.",
        KafkaCounters::get(&c.failed),
    );
    out.metric(
        "comqtt_bridge_kafka_events_dropped_total",
        Counter,
        "Events the Kafka bridge dropped because its queue (queue-size) was full.",
        KafkaCounters::get(&c.dropped),
    );
    out.metric(
        "comqtt_bridge_kafka_events_queued",
        Gauge,
        "Events waiting in the Kafka bridge's queue or in flight to Kafka.",
        bridge.queued(),
    );
    out.0
}

/// The listeners' refusals by limit (`mqtt.options.limits`).
fn render_admission(broker: &Broker, shared: &crate::listener::admission::Shared) -> String {
    use std::sync::atomic::Ordering::Relaxed;
    let r = &shared.refusals;
    let mut out = Exposition::default();
    out.metric(
        "comqtt_clients_throttled_total",
        Kind::Counter,
        "Times a client's reading was paused by its rate limit (client-messages-per-second, client-bytes-per-second).",
        broker.stats.throttled.load(Relaxed),
    );
    out.metric(
        "comqtt_clients_rate_disconnected_total",
        Kind::Counter,
        "Clients disconnected over their rate limit (client-rate-disconnect; v5 0x96).",
        broker.stats.rate_disconnects.load(Relaxed),
    );
    out.metric(
        "comqtt_connections_refused_max_connections_total",
        Kind::Counter,
        "Connections refused because their listener had max-connections open (CONNACK 0x97, 3.x 0x03).",
        r.max_connections.load(Relaxed),
    );
    out.metric(
        "comqtt_connections_refused_per_address_total",
        Kind::Counter,
        "Connections refused because their address had max-connections-per-address open (CONNACK 0x97, 3.x 0x03).",
        r.per_address.load(Relaxed),
    );
    out.metric(
        "comqtt_connections_refused_rate_total",
        Kind::Counter,
        "Connections refused over their listener's connections-per-second (CONNACK 0x9F, 3.x 0x03).",
        r.rate.load(Relaxed),
    );
    out.0
}

/// Overload protection (`mqtt.options.overload`) and reloads.
fn render_overload(broker: &Broker, reloader: Option<&crate::reload::Reloader>) -> String {
    use std::sync::atomic::Ordering::Relaxed;
    let o = &broker.overload;
    let mut out = Exposition::default();
    out.metric(
        "comqtt_overloaded",
        Kind::Gauge,
        "1 while the broker is above a high watermark and not yet below the low ones (new connections refused with 0x89, /readyz 503).",
        u64::from(o.is_overloaded()),
    );
    out.metric(
        "comqtt_overload_entered_total",
        Kind::Counter,
        "Times the broker became overloaded.",
        o.entered.load(Relaxed),
    );
    out.metric(
        "comqtt_connections_refused_overload_total",
        Kind::Counter,
        "Connections refused because the broker was overloaded (CONNACK 0x89, 3.x 0x03).",
        o.refused.load(Relaxed),
    );
    out.metric(
        "comqtt_messages_shed_total",
        Kind::Counter,
        "QoS 0 messages not queued for subscribers already behind, while overloaded.",
        o.shed.load(Relaxed),
    );
    out.metric(
        "comqtt_overload_memory_bytes",
        Kind::Gauge,
        "Resident memory at the last overload sample (0 without a memory watermark).",
        o.memory.load(Relaxed),
    );
    out.metric(
        "comqtt_overload_queued_messages",
        Kind::Gauge,
        "Messages queued for all sessions at the last overload sample (0 without a queued watermark).",
        o.queued.load(Relaxed),
    );
    if let Some(r) = reloader {
        out.metric(
            "comqtt_reloads_total",
            Kind::Counter,
            "Configuration reloads applied (SIGHUP, POST /api/v1/reload, comqttctl reload).",
            r.done.load(Relaxed),
        );
        out.metric(
            "comqtt_reloads_refused_total",
            Kind::Counter,
            "Configuration reloads refused (invalid file; nothing changed).",
            r.refused.load(Relaxed),
        );
    }
    out.0
}

/// `GET /metrics`.
pub async fn metrics(State(api): State<ApiState>) -> impl IntoResponse {
    let mut text = render(&api.broker);
    text.push_str(&render_admission(&api.broker, &api.settings.admission));
    text.push_str(&render_overload(
        &api.broker,
        api.settings.reloader.as_deref(),
    ));
    if let Some(bridge) = &api.settings.bridge {
        text.push_str(&render_bridge(bridge));
    }
    if let Some(cluster) = &api.settings.cluster {
        text.push_str(&render_cluster(&cluster.raft_status()));
    }
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::Capabilities;

    #[test]
    fn every_sample_follows_its_help_and_type_lines() {
        let text = render(&Broker::new(Capabilities::default()));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len() % 3, 0);
        for chunk in lines.chunks(3) {
            let name = chunk[0]
                .strip_prefix("# HELP ")
                .unwrap()
                .split(' ')
                .next()
                .unwrap();
            assert!(
                chunk[1].starts_with(&format!("# TYPE {name} ")),
                "{chunk:?}"
            );
            assert!(chunk[2].starts_with(name), "{chunk:?}");
            if chunk[1].ends_with("counter") {
                assert!(
                    name.ends_with("_total"),
                    "counter {name} must end in _total"
                );
            }
        }
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
