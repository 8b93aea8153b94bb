//! The broker's HTTP API as comqtt-top reads it: the JSON of `/api/v1/mqtt/stat/overall`,
//! `/api/v1/cluster/nodes`, `/api/v1/mqtt/clients`, `/api/v1/mqtt/subscriptions` and
//! `/api/v1/mqtt/retained` (field names as `lib/http` writes them, see the README's HTTP API
//! section), and the one figure taken from the Prometheus text of `/metrics`
//! (`comqtt_messages_queued`, which the JSON routes do not carry). Missing fields read as
//! zero or empty, so an older or newer node still shows what it has.

use serde::{Deserialize, Serialize};

/// `GET /api/v1/mqtt/stat/overall`: the original's `system.Info` (times in Unix seconds), the
/// broker's own type.
pub type Overall = crate::http::stats::SystemInfo;

/// One entry of `GET /api/v1/cluster/nodes`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ListedNode {
    /// Node name.
    pub name: String,
    /// Its IP address.
    pub addr: Option<String>,
    /// Its HTTP API `host:port`; `None` for a node without the API.
    pub http: Option<String>,
    /// Its MQTT TCP listener.
    pub mqtt: Option<String>,
    /// Its gRPC address (cluster transport).
    pub grpc: Option<String>,
    /// `alive`, `dead` or `leaving`.
    pub status: String,
    /// Whether it is the raft leader.
    pub leader: bool,
    /// Whether it is the node that answered.
    #[serde(rename = "self")]
    pub is_self: bool,
}

/// A page of a paged route (`clients`, `retained`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Page<T> {
    /// This page's entries.
    #[serde(default = "Vec::new")]
    pub items: Vec<T>,
    /// Entries on every page.
    #[serde(default)]
    pub total: usize,
    /// 1-based page number.
    #[serde(default)]
    pub page: usize,
    /// Entries per page.
    #[serde(default)]
    pub page_size: usize,
}

/// One client of `GET /api/v1/mqtt/clients`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Client {
    /// Client identifier.
    pub id: String,
    /// Remote address of its last connection.
    pub ip: String,
    /// Whether it is connected now.
    pub online: bool,
    /// User name; empty if none.
    pub username: String,
    /// Topic filters subscribed.
    pub topic_filters: Vec<String>,
    /// 3 (MQTT 3.1), 4 (3.1.1) or 5.
    pub protocol_version: u8,
    /// Unacknowledged outbound QoS 1/2 messages.
    pub inflight_count: u64,
    /// When its last connection was accepted, Unix seconds.
    pub connected_at: u64,
    /// Bytes read from it on its current connection.
    pub bytes_received: u64,
    /// Bytes written to it on its current connection.
    pub bytes_sent: u64,
    /// Keep alive in force, seconds.
    pub keepalive: u16,
    /// Messages waiting in its outbox.
    pub queued: u64,
}

/// One entry of `GET /api/v1/mqtt/subscriptions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct FilterCount {
    /// The topic filter (`$share/group/filter` for shared ones).
    pub filter: String,
    /// Subscribers to it.
    pub count: u64,
}

/// One message of `GET /api/v1/mqtt/retained`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Retained {
    /// Its topic.
    pub topic: String,
    /// The payload text (UTF-8) or base64 (see `encoding`).
    pub payload: String,
    /// `utf8` or `base64`.
    pub encoding: String,
    /// Its QoS.
    pub qos: u8,
    /// The publisher's client id; empty for the broker itself.
    pub client_id: String,
    /// When it was retained, Unix seconds, if recorded.
    pub created: Option<u64>,
}

impl Retained {
    /// The payload's size in bytes (base64 decoded without decoding it).
    pub fn payload_len(&self) -> usize {
        if self.encoding == "base64" {
            let pad = self
                .payload
                .bytes()
                .rev()
                .take_while(|&b| b == b'=')
                .count();
            (self.payload.len() / 4 * 3).saturating_sub(pad)
        } else {
            self.payload.len()
        }
    }
}

/// The value of the unlabelled sample `name` in a Prometheus text exposition.
pub fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let rest = l.strip_prefix(name)?;
        let value = rest.strip_prefix(' ')?;
        value.split_whitespace().next()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overall_reads_the_broker_json_and_tolerates_missing_fields() {
        let o: Overall = serde_json::from_str(
            r#"{"version":"comqtt 0.1.0","uptime":12,"clients_connected":3,"extra":1}"#,
        )
        .unwrap();
        assert_eq!(o.version, "comqtt 0.1.0");
        assert_eq!(o.uptime, 12);
        assert_eq!(o.clients_connected, 3);
        assert_eq!(o.messages_received, 0);
    }

    #[test]
    fn listed_node_self_flag_and_null_http() {
        let n: Vec<ListedNode> = serde_json::from_str(
            r#"[{"name":"c01","http":"0.0.0.0:8080","status":"alive","leader":true,"self":true},
                {"name":"c02","http":null,"status":"dead","leader":false,"self":false}]"#,
        )
        .unwrap();
        assert!(n[0].is_self && n[0].leader);
        assert_eq!(n[1].http, None);
        assert_eq!(n[1].status, "dead");
    }

    #[test]
    fn prometheus_samples_by_exact_name() {
        let text = "# HELP comqtt_messages_queued Messages waiting.\n\
                    # TYPE comqtt_messages_queued gauge\n\
                    comqtt_messages_queued_extra 9\n\
                    comqtt_messages_queued 42\n";
        assert_eq!(metric(text, "comqtt_messages_queued"), Some(42.0));
        assert_eq!(metric(text, "comqtt_nothing"), None);
    }

    #[test]
    fn base64_payload_length() {
        let r = Retained {
            payload: "AAEC".into(),
            encoding: "base64".into(),
            ..Retained::default()
        };
        assert_eq!(r.payload_len(), 3);
        let r = Retained {
            payload: "AAE=".into(),
            encoding: "base64".into(),
            ..Retained::default()
        };
        assert_eq!(r.payload_len(), 2);
    }
}
