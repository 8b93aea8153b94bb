//! One bridged event as a Kafka record: the JSON value of the original comqtt, field names and
//! `omitempty` rules included, and the key `<clientid>-<ts>`.
//!
//! ```json
//! {"action":"publish","clientid":"c1","username":"u","topics":["a/b"],"payload":"aGk=","ts":1767225600,"qos":1,"retain":false}
//! ```
//!
//! | field | events | meaning |
//! | --- | --- | --- |
//! | `action` | all | `connect`, `disconnect`, `publish`, `subscribe`, `unsubscribe` |
//! | `clientid`, `username` | all | the client (`username` is `""` without one) |
//! | `remote`, `listener` | connect | remote address; transport it came in on (`tcp`, `tls`, `ws`, `wss`) |
//! | `topics` | publish, subscribe, unsubscribe | the topic, or the filters the rules let through |
//! | `payload` | publish, disconnect | base64, as Go encodes `[]byte`; the disconnect reason as text bytes (newer originals); left out when empty |
//! | `protocolVersion`, `clean` | connect | protocol level 3, 4 or 5; clean session / clean start (left out when false) |
//! | `ts` | all | Unix seconds |
//! | `qos`, `retain` | publish | comqtt addition: as published |
//! | `reason` | disconnect | comqtt addition: why the connection ended, as plain text |
//!
//! The original keyed publish and subscribe events `<packetid>-<ts>`; packet ids are per
//! client and 0 for QoS 0, so such keys collide across clients. Every event here is keyed
//! `<clientid>-<ts>`. The newer original's `packetid` field is left out for the same reason.

use base64::Engine;
use serde::{Serialize, Serializer};

use crate::broker::client_info::ClientInfo;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// A client's CONNECT was accepted.
    Connect,
    /// A client's connection ended.
    Disconnect,
    /// A client published a message.
    Publish,
    /// A client subscribed.
    Subscribe,
    /// A client unsubscribed.
    Unsubscribe,
}

/// The JSON value of one event, borrowing from the broker's own records (built and encoded on
/// the connection's task, then dropped).
#[derive(Debug, Clone, Serialize)]
pub struct Event<'a> {
    /// What happened.
    pub action: Action,
    /// The client identifier.
    pub clientid: &'a str,
    /// The user name of CONNECT, `""` without one.
    pub username: &'a str,
    /// Remote address (connect only).
    #[serde(skip_serializing_if = "str::is_empty")]
    pub remote: &'a str,
    /// Transport the client came in on (connect only).
    #[serde(skip_serializing_if = "str::is_empty")]
    pub listener: &'a str,
    /// The publish topic, or the subscribe / unsubscribe filters.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub topics: &'a [&'a str],
    /// Publish payload, or the disconnect reason; base64 in the JSON.
    #[serde(skip_serializing_if = "<[_]>::is_empty", serialize_with = "base64")]
    pub payload: &'a [u8],
    /// Protocol level (connect only); 0 is left out.
    #[serde(rename = "protocolVersion", skip_serializing_if = "is_zero")]
    pub protocol_version: u8,
    /// Clean session / clean start (connect only); false is left out.
    #[serde(skip_serializing_if = "is_false")]
    pub clean: bool,
    /// Unix seconds.
    pub ts: i64,
    /// QoS as published (publish only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qos: Option<u8>,
    /// RETAIN as published (publish only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retain: Option<bool>,
    /// Why the connection ended (disconnect only).
    #[serde(skip_serializing_if = "str::is_empty")]
    pub reason: &'a str,
}

fn is_zero(v: &u8) -> bool {
    *v == 0
}

fn is_false(v: &bool) -> bool {
    !*v
}

fn base64<S: Serializer>(bytes: &&[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
}

impl<'a> Event<'a> {
    /// An event of `client` with only the fields every event has.
    pub fn new(action: Action, client: &'a ClientInfo, ts: i64) -> Event<'a> {
        Event {
            action,
            clientid: &client.client_id,
            username: client.username.as_deref().unwrap_or(""),
            remote: "",
            listener: "",
            topics: &[],
            payload: &[],
            protocol_version: 0,
            clean: false,
            ts,
            qos: None,
            retain: None,
            reason: "",
        }
    }

    /// The record key: `<clientid>-<ts>`.
    pub fn key(&self) -> String {
        format!("{}-{}", self.clientid, self.ts)
    }

    /// The record value.
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }
}

/// Now, in Unix seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::Protocol;

    fn client() -> ClientInfo {
        ClientInfo {
            username: Some("alice".into()),
            listener: "tcp",
            ..ClientInfo::new("c1".into(), "127.0.0.1:5000".into(), Protocol::V5)
        }
    }

    fn json(e: &Event) -> String {
        String::from_utf8(e.to_json().unwrap()).unwrap()
    }

    #[test]
    fn connect_event_has_the_original_fields_in_order() {
        let c = client();
        let e = Event {
            remote: &c.remote,
            listener: c.listener,
            protocol_version: 5,
            clean: true,
            ..Event::new(Action::Connect, &c, 1700000000)
        };
        assert_eq!(
            json(&e),
            r#"{"action":"connect","clientid":"c1","username":"alice","remote":"127.0.0.1:5000","listener":"tcp","protocolVersion":5,"clean":true,"ts":1700000000}"#
        );
        assert_eq!(e.key(), "c1-1700000000");
    }

    #[test]
    fn publish_payload_is_base64_and_empty_fields_are_left_out() {
        let c = ClientInfo::new("c2".into(), String::new(), Protocol::V3_1_1);
        let e = Event {
            topics: &["a/b"],
            payload: b"hi\x00\xff",
            qos: Some(1),
            retain: Some(false),
            ..Event::new(Action::Publish, &c, 7)
        };
        assert_eq!(
            json(&e),
            r#"{"action":"publish","clientid":"c2","username":"","topics":["a/b"],"payload":"aGkA/w==","ts":7,"qos":1,"retain":false}"#
        );
        let empty = Event {
            topics: &["a/b"],
            qos: Some(0),
            retain: Some(true),
            ..Event::new(Action::Publish, &c, 7)
        };
        assert!(!json(&empty).contains("payload"), "Go's omitempty");
    }

    #[test]
    fn disconnect_carries_the_reason_as_text_and_as_payload() {
        let c = client();
        let why = "connection closed by the client";
        let e = Event {
            payload: why.as_bytes(),
            reason: why,
            ..Event::new(Action::Disconnect, &c, 9)
        };
        let v: serde_json::Value = serde_json::from_slice(&e.to_json().unwrap()).unwrap();
        assert_eq!(v["reason"], why);
        let payload = base64::engine::general_purpose::STANDARD
            .decode(v["payload"].as_str().unwrap())
            .unwrap();
        assert_eq!(payload, why.as_bytes());
        assert_eq!(v["action"], "disconnect");
    }
}
