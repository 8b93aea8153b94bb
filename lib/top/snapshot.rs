//! What comqtt-top shows: a [`Snapshot`] of every node with its gauges and per-second rates,
//! the cluster totals, and (when they were read) clients, subscriptions and retained messages
//! merged across nodes. [`Tracker`] folds each polling [`Round`] into a snapshot, keeping what
//! rates need from the round before (counters, each client's bytes) and the last minute of
//! message rates. The snapshot is what `--json` prints, field for field.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Instant, SystemTime};

use serde::Serialize;

use super::api::Overall;
use super::history::{Point, RateHistory};
use super::poll::{NodeReport, Outcome, Round};
use super::rate::{self, Change, Counters, Rates};

/// How long a retained payload preview may be, in characters.
const PREVIEW_CHARS: usize = 120;

/// A node's state as shown in its STATUS column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeStatus {
    /// It answered.
    Up,
    /// It answered, and restarted since the previous poll (no rates this time).
    Restarted,
    /// It answered and the cluster lists it as leaving.
    Leaving,
    /// It did not answer.
    Unreachable,
    /// The cluster lists it as dead (and it did not answer, or has no HTTP API).
    Dead,
    /// Listed without an HTTP API: nothing to ask it.
    NoApi,
}

impl NodeStatus {
    /// The word shown.
    pub fn label(self) -> &'static str {
        match self {
            NodeStatus::Up => "up",
            NodeStatus::Restarted => "restarted",
            NodeStatus::Leaving => "leaving",
            NodeStatus::Unreachable => "unreachable",
            NodeStatus::Dead => "dead",
            NodeStatus::NoApi => "no HTTP API",
        }
    }

    /// Whether the node's figures are there.
    pub fn answered(self) -> bool {
        matches!(
            self,
            NodeStatus::Up | NodeStatus::Restarted | NodeStatus::Leaving
        )
    }
}

/// One node.
#[derive(Debug, Clone, Serialize)]
pub struct NodeView {
    /// Its name (the cluster listing's), else its address.
    pub name: String,
    /// Its HTTP API `host:port`, if it has one.
    pub http: Option<String>,
    /// What the STATUS column says.
    pub status: NodeStatus,
    /// Its status in the cluster listing (`alive`, `dead`, `leaving`), if listed.
    pub listed_status: Option<String>,
    /// Whether the listing names it raft leader.
    pub leader: bool,
    /// Why it did not answer, or why a detail is missing.
    pub error: Option<String>,
    /// Seconds it has not been answering, while it does not.
    pub unreachable_for: Option<u64>,
    /// Its counters and gauges, when it answered.
    pub stats: Option<Overall>,
    /// Messages waiting in its client outboxes, when `/metrics` answered.
    pub queued: Option<u64>,
    /// Rates since the previous poll (none on the first poll and across a restart).
    pub rates: Option<Rates>,
    /// Milliseconds the rates were measured over.
    pub rates_over_ms: Option<u64>,
}

/// The nodes added up (those that answered).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    /// Clients connected.
    pub clients_connected: u64,
    /// Sessions kept without a connection.
    pub clients_disconnected: u64,
    /// Subscriptions.
    pub subscriptions: u64,
    /// Retained messages.
    pub retained: u64,
    /// Outbound QoS 1/2 messages not yet acknowledged.
    pub inflight: u64,
    /// Messages waiting in client outboxes.
    pub queued: u64,
    /// Resident memory, bytes.
    pub memory: u64,
    /// Threads.
    pub threads: u64,
    /// PUBLISH packets received since start.
    pub messages_received: u64,
    /// PUBLISH packets sent since start.
    pub messages_sent: u64,
    /// Messages dropped since start.
    pub messages_dropped: u64,
    /// Bytes read since start.
    pub bytes_received: u64,
    /// Bytes written since start.
    pub bytes_sent: u64,
    /// Connections accepted since start.
    pub clients_total: u64,
    /// The rates of the nodes that have rates this round.
    pub rates: Option<Rates>,
}

/// One client (of one node).
#[derive(Debug, Clone, Serialize)]
pub struct ClientRow {
    /// The node it is on.
    pub node: String,
    /// That node's identity (its address), for matching rows between rounds.
    #[serde(skip)]
    pub node_key: String,
    /// Client identifier.
    pub id: String,
    /// User name; empty if none.
    pub username: String,
    /// Remote address of its last connection.
    pub ip: String,
    /// Connected now.
    pub online: bool,
    /// 3, 4 or 5.
    pub protocol_version: u8,
    /// When its connection was accepted, Unix seconds.
    pub connected_at: u64,
    /// Seconds connected (by the node's clock).
    pub connected_for: u64,
    /// Bytes read from it on this connection.
    pub bytes_received: u64,
    /// Bytes written to it on this connection.
    pub bytes_sent: u64,
    /// Bytes read from it per second since the previous poll.
    pub bytes_in_rate: Option<f64>,
    /// Bytes written to it per second since the previous poll.
    pub bytes_out_rate: Option<f64>,
    /// Unacknowledged outbound QoS 1/2 messages.
    pub inflight: u64,
    /// Messages in its outbox.
    pub queued: u64,
    /// Topic filters subscribed.
    pub subscriptions: usize,
}

impl ClientRow {
    /// Bytes per second both ways, for sorting (no rate counts as 0).
    pub fn bytes_rate(&self) -> f64 {
        self.bytes_in_rate.unwrap_or(0.0) + self.bytes_out_rate.unwrap_or(0.0)
    }
}

/// Clients of every node that answered.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClientsView {
    /// The clients read (at most 1,000 per node).
    pub rows: Vec<ClientRow>,
    /// Clients (sessions) on every node, as the nodes count them.
    pub total: usize,
    /// Whether some node has more clients than were read.
    pub truncated: bool,
}

/// One subscribed filter, added up across nodes.
#[derive(Debug, Clone, Serialize)]
pub struct SubscriptionRow {
    /// The topic filter.
    pub filter: String,
    /// Subscribers on every node.
    pub count: u64,
    /// Nodes with subscribers to it.
    pub nodes: usize,
}

/// One retained message.
#[derive(Debug, Clone, Serialize)]
pub struct RetainedRow {
    /// Its topic.
    pub topic: String,
    /// Its QoS.
    pub qos: u8,
    /// Payload bytes.
    pub size: usize,
    /// The start of the payload (text, or base64 marked by `encoding`).
    pub preview: String,
    /// `utf8` or `base64`.
    pub encoding: String,
    /// The publisher's client id; empty for the broker.
    pub client_id: String,
    /// The node it was read from (the first, when several hold it).
    pub node: String,
}

/// Retained messages of every node that answered, one row per topic.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RetainedView {
    /// The messages read (at most 1,000 per node).
    pub rows: Vec<RetainedRow>,
    /// Retained messages on the node holding most (nodes may share them).
    pub total: usize,
    /// Whether some node has more than were read.
    pub truncated: bool,
}

/// Everything shown at one moment.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    /// When the round ended, Unix seconds.
    pub time: u64,
    /// Nodes counted alive (answered, or listed alive without an HTTP API).
    pub nodes_alive: usize,
    /// Nodes watched.
    pub nodes_total: usize,
    /// Every node.
    pub nodes: Vec<NodeView>,
    /// The nodes added up.
    pub totals: Totals,
    /// Why the node list could not be read this round.
    pub discovery_error: Option<String>,
    /// Clients, when read this round.
    pub clients: Option<ClientsView>,
    /// Subscribed filters (most subscribers first), when read this round.
    pub subscriptions: Option<Vec<SubscriptionRow>>,
    /// Retained messages (by topic), when read this round.
    pub retained: Option<RetainedView>,
    /// When the round ended (for ages shown by the TUI).
    #[serde(skip)]
    pub at: Option<Instant>,
}

impl Snapshot {
    /// The versions the nodes run, each once ("comqtt 0.1.0", or several when mixed).
    pub fn versions(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .nodes
            .iter()
            .filter_map(|n| n.stats.as_ref().map(|s| s.version.as_str()))
            .filter(|v| !v.is_empty())
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The longest uptime among the nodes that answered.
    pub fn uptime(&self) -> Option<u64> {
        self.nodes
            .iter()
            .filter_map(|n| n.stats.as_ref().map(|s| s.uptime))
            .max()
    }
}

/// What a client's rate is measured against: the same connection of the same client.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ClientKey {
    /// The node's address (or name).
    node: String,
    /// The client identifier.
    id: String,
    /// When this connection was accepted: a reconnection is another connection.
    connected_at: u64,
}

/// Folds rounds into snapshots.
#[derive(Debug, Default)]
pub struct Tracker {
    /// Each node's counters at its previous answer.
    previous: HashMap<String, (Instant, Counters)>,
    /// Each client's bytes (received, sent) at the previous read.
    clients: HashMap<ClientKey, (Instant, u64, u64)>,
    /// Since when each node has not been answering.
    failing_since: HashMap<String, SystemTime>,
    /// The last minute of total message rates.
    history: RateHistory,
}

impl Tracker {
    /// A tracker with no history.
    pub fn new() -> Tracker {
        Tracker::default()
    }

    /// The last minute of total message rates.
    pub fn history(&self) -> &RateHistory {
        &self.history
    }

    /// The snapshot of `round`, measured against the rounds before it.
    pub fn update(&mut self, round: &Round) -> Snapshot {
        let mut nodes = Vec::with_capacity(round.nodes.len());
        let mut totals = Totals::default();
        let mut clients: Option<ClientsView> = None;
        let mut subscriptions: Option<BTreeMap<String, (u64, usize)>> = None;
        let mut retained: Option<RetainedView> = None;
        let mut retained_topics = HashSet::new();
        let mut views: Vec<NodeView> = round
            .nodes
            .iter()
            .map(|r| self.node(r, round.wall))
            .collect();
        disambiguate(&mut views);
        for (report, node) in round.nodes.iter().zip(views) {
            if let (Outcome::Answered(data), true) = (&report.outcome, node.status.answered()) {
                add_to_totals(&mut totals, &node);
                if let Some(page) = &data.clients {
                    let view = clients.get_or_insert_with(ClientsView::default);
                    view.total += page.total;
                    view.truncated |= page.items.len() < page.total;
                    for c in &page.items {
                        view.rows
                            .push(self.client(&node, report.at, data.overall.time, c));
                    }
                }
                if let Some(filters) = &data.subscriptions {
                    let merged = subscriptions.get_or_insert_with(BTreeMap::new);
                    for f in filters {
                        let e = merged.entry(f.filter.clone()).or_default();
                        e.0 += f.count;
                        e.1 += 1;
                    }
                }
                if let Some(page) = &data.retained {
                    let view = retained.get_or_insert_with(RetainedView::default);
                    view.total = view.total.max(page.total);
                    view.truncated |= page.items.len() < page.total;
                    for r in &page.items {
                        if !retained_topics.insert(r.topic.clone()) {
                            continue;
                        }
                        view.rows.push(RetainedRow {
                            topic: r.topic.clone(),
                            qos: r.qos,
                            size: r.payload_len(),
                            preview: r.payload.chars().take(PREVIEW_CHARS).collect(),
                            encoding: r.encoding.clone(),
                            client_id: r.client_id.clone(),
                            node: node.name.clone(),
                        });
                    }
                }
            }
            nodes.push(node);
        }
        // Clients that left are forgotten, per node whose clients were read.
        if let Some(view) = &clients {
            let seen: HashSet<ClientKey> = view
                .rows
                .iter()
                .map(|r| ClientKey {
                    node: r.node_key.clone(),
                    id: r.id.clone(),
                    connected_at: r.connected_at,
                })
                .collect();
            self.clients.retain(|k, _| seen.contains(k));
        }
        if let Some(r) = &totals.rates {
            self.history.push(Point {
                at: round.at,
                messages_in: r.messages_in,
                messages_out: r.messages_out,
            });
        }
        let subscriptions = subscriptions.map(|m| {
            let mut rows: Vec<SubscriptionRow> = m
                .into_iter()
                .map(|(filter, (count, nodes))| SubscriptionRow {
                    filter,
                    count,
                    nodes,
                })
                .collect();
            rows.sort_by(|a, b| b.count.cmp(&a.count).then(a.filter.cmp(&b.filter)));
            rows
        });
        if let Some(r) = &mut retained {
            r.rows.sort_by(|a, b| a.topic.cmp(&b.topic));
        }
        let nodes_alive = nodes
            .iter()
            .filter(|n| {
                n.status.answered()
                    || (n.status == NodeStatus::NoApi
                        && n.listed_status.as_deref() == Some("alive"))
            })
            .count();
        Snapshot {
            time: crate::http::unix_secs(round.wall),
            nodes_alive,
            nodes_total: nodes.len(),
            nodes,
            totals,
            discovery_error: round.discovery_error.clone(),
            clients,
            subscriptions,
            retained,
            at: Some(round.at),
        }
    }

    /// One node's view, with its rates against its previous answer.
    fn node(&mut self, report: &NodeReport, now: SystemTime) -> NodeView {
        let m = &report.member;
        let http = m.http.as_ref().map(|h| h.to_string());
        let key = http
            .clone()
            .unwrap_or_else(|| format!("name:{}", m.name.as_deref().unwrap_or("")));
        let name = m
            .name
            .clone()
            .or_else(|| http.clone())
            .unwrap_or_else(|| "?".to_string());
        let listed = m.listed_status.as_deref();
        let mut view = NodeView {
            name,
            http,
            status: NodeStatus::Up,
            listed_status: m.listed_status.clone(),
            leader: m.leader,
            error: None,
            unreachable_for: None,
            stats: None,
            queued: None,
            rates: None,
            rates_over_ms: None,
        };
        match &report.outcome {
            Outcome::Answered(data) => {
                self.failing_since.remove(&key);
                let counters = Counters::of(&data.overall);
                let mut keep_base = false;
                if let Some((at, prev)) = self.previous.get(&key) {
                    let elapsed = report.at.saturating_duration_since(*at);
                    match rate::change(prev, &counters, elapsed) {
                        Change::Rates(r) => {
                            view.rates = Some(r);
                            view.rates_over_ms = Some(elapsed.as_millis() as u64);
                        }
                        Change::Restarted => view.status = NodeStatus::Restarted,
                        // Measured again from the same base next time, over a real span.
                        Change::TooClose => keep_base = true,
                    }
                }
                if !keep_base {
                    self.previous.insert(key, (report.at, counters));
                }
                if listed == Some("leaving") {
                    view.status = NodeStatus::Leaving;
                }
                view.stats = Some(data.overall.clone());
                view.queued = data.queued;
                view.error = data.detail_error.clone();
            }
            Outcome::Failed(e) => {
                self.previous.remove(&key);
                let since = *self.failing_since.entry(key).or_insert(now);
                view.unreachable_for = Some(now.duration_since(since).map_or(0, |d| d.as_secs()));
                view.status = if listed == Some("dead") {
                    NodeStatus::Dead
                } else {
                    NodeStatus::Unreachable
                };
                view.error = Some(e.short());
            }
            Outcome::NoApi => {
                view.status = if listed == Some("dead") {
                    NodeStatus::Dead
                } else {
                    NodeStatus::NoApi
                };
            }
        }
        view
    }

    /// One client's row, with its byte rates against the previous read of the same connection.
    fn client(
        &mut self,
        node: &NodeView,
        at: Instant,
        node_time: u64,
        c: &super::api::Client,
    ) -> ClientRow {
        let key = ClientKey {
            node: node_key(node),
            id: c.id.clone(),
            connected_at: c.connected_at,
        };
        let (mut bytes_in_rate, mut bytes_out_rate) = (None, None);
        let mut keep_base = false;
        if let Some((prev_at, rx, tx)) = self.clients.get(&key) {
            let elapsed = at.saturating_duration_since(*prev_at);
            bytes_in_rate = rate::per_second(*rx, c.bytes_received, elapsed);
            bytes_out_rate = rate::per_second(*tx, c.bytes_sent, elapsed);
            keep_base = elapsed.is_zero();
        }
        if !keep_base {
            self.clients
                .insert(key, (at, c.bytes_received, c.bytes_sent));
        }
        ClientRow {
            node: node.name.clone(),
            node_key: node_key(node),
            id: c.id.clone(),
            username: c.username.clone(),
            ip: c.ip.clone(),
            online: c.online,
            protocol_version: c.protocol_version,
            connected_at: c.connected_at,
            connected_for: node_time.saturating_sub(c.connected_at),
            bytes_received: c.bytes_received,
            bytes_sent: c.bytes_sent,
            bytes_in_rate,
            bytes_out_rate,
            inflight: c.inflight_count,
            queued: c.queued,
            subscriptions: c.topic_filters.len(),
        }
    }
}

/// What tells a node from the others: its HTTP address, else its name.
fn node_key(node: &NodeView) -> String {
    node.http.clone().unwrap_or_else(|| node.name.clone())
}

/// Nodes with the same name (single nodes default to the host name) get their port added,
/// `name:port`, so their rows can be told apart.
fn disambiguate(nodes: &mut [NodeView]) {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for n in nodes.iter() {
        *seen.entry(n.name.clone()).or_default() += 1;
    }
    for n in nodes.iter_mut() {
        if seen.get(&n.name).copied().unwrap_or(0) > 1
            && let Some(port) = n
                .http
                .as_deref()
                .and_then(|h| h.rsplit_once(':'))
                .map(|(_, p)| p)
            && !n.name.ends_with(&format!(":{port}"))
        {
            n.name = format!("{}:{port}", n.name);
        }
    }
}

/// Adds a node that answered to the totals.
fn add_to_totals(t: &mut Totals, node: &NodeView) {
    let Some(s) = &node.stats else {
        return;
    };
    t.clients_connected += s.clients_connected;
    t.clients_disconnected += s.clients_disconnected;
    t.subscriptions += s.subscriptions;
    t.retained += s.retained;
    t.inflight += s.inflight;
    t.queued += node.queued.unwrap_or(0);
    t.memory += s.memory_alloc;
    t.threads += s.threads;
    t.messages_received += s.messages_received;
    t.messages_sent += s.messages_sent;
    t.messages_dropped += s.messages_dropped;
    t.bytes_received += s.bytes_received;
    t.bytes_sent += s.bytes_sent;
    t.clients_total += s.clients_total;
    if let Some(r) = &node.rates {
        t.rates = Some(t.rates.map_or(*r, |sum| sum.add(r)));
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::top::api::{Client, FilterCount, Page, Retained};
    use crate::top::error::TopError;
    use crate::top::poll::{Member, NodeData};

    fn member(name: &str, http: &str) -> Member {
        Member {
            name: Some(name.into()),
            http: Some(http.parse().unwrap()),
            listed_status: Some("alive".into()),
            leader: false,
        }
    }

    fn overall(started: u64, received: u64, sent: u64) -> Overall {
        Overall {
            started,
            time: started + 100,
            messages_received: received,
            messages_sent: sent,
            clients_connected: 1,
            subscriptions: 2,
            ..Overall::default()
        }
    }

    fn answered(m: Member, at: Instant, data: NodeData) -> NodeReport {
        NodeReport {
            member: m,
            at,
            outcome: Outcome::Answered(Box::new(data)),
        }
    }

    fn counters_only(o: Overall) -> NodeData {
        NodeData {
            overall: o,
            ..NodeData::default()
        }
    }

    fn round(at: Instant, nodes: Vec<NodeReport>) -> Round {
        Round {
            at,
            wall: SystemTime::UNIX_EPOCH + Duration::from_secs(10_000),
            nodes,
            discovery_error: None,
        }
    }

    #[test]
    fn rates_come_from_the_second_round_and_a_restart_skips_one() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let m = member("c01", "127.0.0.1:8080");
        let mut t = Tracker::new();
        let s = t.update(&round(
            at(0),
            vec![answered(
                m.clone(),
                at(0),
                counters_only(overall(1, 100, 100)),
            )],
        ));
        assert!(s.nodes[0].rates.is_none(), "no rate from one poll");
        assert!(s.totals.rates.is_none());
        let s = t.update(&round(
            at(2),
            vec![answered(
                m.clone(),
                at(2),
                counters_only(overall(1, 300, 500)),
            )],
        ));
        let r = s.nodes[0].rates.unwrap();
        assert_eq!((r.messages_in, r.messages_out), (100.0, 200.0));
        assert_eq!(s.nodes[0].rates_over_ms, Some(2000));
        assert_eq!(s.totals.rates.unwrap().messages_out, 200.0);
        // The node restarted: counters from zero, a new start time.
        let s = t.update(&round(
            at(3),
            vec![answered(m.clone(), at(3), counters_only(overall(50, 5, 5)))],
        ));
        assert_eq!(s.nodes[0].status, NodeStatus::Restarted);
        assert!(s.nodes[0].rates.is_none(), "no rate across a restart");
        let s = t.update(&round(
            at(4),
            vec![answered(m, at(4), counters_only(overall(50, 15, 25)))],
        ));
        assert_eq!(s.nodes[0].status, NodeStatus::Up);
        let r = s.nodes[0].rates.unwrap();
        assert_eq!((r.messages_in, r.messages_out), (10.0, 20.0));
        // Two rates in the history: the restart left a gap.
        assert_eq!(t.history().points().count(), 2);
    }

    #[test]
    fn an_unreachable_node_is_counted_and_timed_and_measured_afresh_when_back() {
        let t0 = Instant::now();
        let wall = |s: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(10_000 + s);
        let m = member("c02", "127.0.0.1:8081");
        let failed = |at| NodeReport {
            member: m.clone(),
            at,
            outcome: Outcome::Failed(TopError::Unreachable {
                addr: "127.0.0.1:8081".into(),
                reason: "Connection refused (os error 111)".into(),
            }),
        };
        let mut t = Tracker::new();
        t.update(&round(
            t0,
            vec![answered(m.clone(), t0, counters_only(overall(1, 1, 1)))],
        ));
        let mut r = round(t0, vec![failed(t0)]);
        r.wall = wall(0);
        let s = t.update(&r);
        r.wall = wall(5);
        let s2 = t.update(&r);
        assert_eq!(s.nodes[0].status, NodeStatus::Unreachable);
        assert_eq!(s.nodes_alive, 0);
        assert_eq!(
            s.nodes[0].error.as_deref(),
            Some("unreachable: Connection refused (os error 111)")
        );
        assert_eq!(
            (s.nodes[0].unreachable_for, s2.nodes[0].unreachable_for),
            (Some(0), Some(5))
        );
        let back = t0 + Duration::from_secs(6);
        let s = t.update(&round(
            back,
            vec![answered(m, back, counters_only(overall(1, 1_000, 1)))],
        ));
        assert_eq!(s.nodes[0].status, NodeStatus::Up);
        assert!(
            s.nodes[0].rates.is_none(),
            "measured from its return, not from before the outage"
        );
        assert_eq!(s.nodes[0].unreachable_for, None);
    }

    #[test]
    fn details_are_merged_across_nodes() {
        let t0 = Instant::now();
        let filters = |n| {
            Some(vec![
                FilterCount {
                    filter: "a/#".into(),
                    count: n,
                },
                FilterCount {
                    filter: "b".into(),
                    count: 1,
                },
            ])
        };
        let retained = |topic: &str| {
            Some(Page {
                items: vec![Retained {
                    topic: topic.into(),
                    payload: "on".into(),
                    encoding: "utf8".into(),
                    ..Retained::default()
                }],
                total: 1,
                page: 1,
                page_size: 1,
            })
        };
        let clients = |id: &str| {
            Some(Page {
                items: vec![Client {
                    id: id.into(),
                    online: true,
                    ..Client::default()
                }],
                total: 3,
                page: 1,
                page_size: 1,
            })
        };
        let node = |name: &str, http: &str, n, topic: &str, id: &str| {
            answered(
                member(name, http),
                t0,
                NodeData {
                    overall: overall(1, 0, 0),
                    queued: Some(2),
                    clients: clients(id),
                    subscriptions: filters(n),
                    retained: retained(topic),
                    detail_error: None,
                },
            )
        };
        let s = Tracker::new().update(&round(
            t0,
            vec![
                node("c01", "127.0.0.1:8080", 3, "shared", "x"),
                node("c02", "127.0.0.1:8081", 4, "shared", "y"),
            ],
        ));
        let subs = s.subscriptions.unwrap();
        assert_eq!(subs[0].filter, "a/#");
        assert_eq!((subs[0].count, subs[0].nodes), (7, 2));
        assert_eq!((subs[1].filter.as_str(), subs[1].count), ("b", 2));
        let retained = s.retained.unwrap();
        assert_eq!(retained.rows.len(), 1, "one row per topic");
        let clients = s.clients.unwrap();
        assert_eq!((clients.rows.len(), clients.total), (2, 6));
        assert!(clients.truncated);
        assert_eq!(s.totals.queued, 4);
        assert_eq!(s.totals.subscriptions, 4);
    }

    #[test]
    fn client_byte_rates_follow_one_connection() {
        let t0 = Instant::now();
        let m = member("c01", "127.0.0.1:8080");
        let with = |at, connected_at, rx| {
            answered(
                m.clone(),
                at,
                NodeData {
                    overall: overall(1, 0, 0),
                    clients: Some(Page {
                        items: vec![Client {
                            id: "c".into(),
                            connected_at,
                            bytes_received: rx,
                            ..Client::default()
                        }],
                        total: 1,
                        page: 1,
                        page_size: 1,
                    }),
                    ..NodeData::default()
                },
            )
        };
        let mut t = Tracker::new();
        t.update(&round(t0, vec![with(t0, 50, 1_000)]));
        let t1 = t0 + Duration::from_secs(1);
        let s = t.update(&round(t1, vec![with(t1, 50, 3_000)]));
        assert_eq!(s.clients.unwrap().rows[0].bytes_in_rate, Some(2_000.0));
        // A reconnection counts from zero: no rate against the old connection.
        let t2 = t0 + Duration::from_secs(2);
        let s = t.update(&round(t2, vec![with(t2, 60, 10)]));
        assert_eq!(s.clients.unwrap().rows[0].bytes_in_rate, None);
    }

    #[test]
    fn nodes_of_the_same_name_get_their_port() {
        let t0 = Instant::now();
        let s = Tracker::new().update(&round(
            t0,
            vec![
                answered(
                    member("vm", "127.0.0.1:8080"),
                    t0,
                    counters_only(overall(1, 0, 0)),
                ),
                answered(
                    member("vm", "127.0.0.1:8081"),
                    t0,
                    counters_only(overall(1, 0, 0)),
                ),
                answered(
                    member("other", "127.0.0.1:8082"),
                    t0,
                    counters_only(overall(1, 0, 0)),
                ),
            ],
        ));
        let names: Vec<&str> = s.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["vm:8080", "vm:8081", "other"]);
    }

    #[test]
    fn listed_nodes_without_api_count_alive_unless_dead() {
        let t0 = Instant::now();
        let no_api = |status: &str| NodeReport {
            member: Member {
                name: Some(status.into()),
                http: None,
                listed_status: Some(status.into()),
                leader: false,
            },
            at: t0,
            outcome: Outcome::NoApi,
        };
        let s = Tracker::new().update(&round(t0, vec![no_api("alive"), no_api("dead")]));
        assert_eq!(s.nodes[0].status, NodeStatus::NoApi);
        assert_eq!(s.nodes[1].status, NodeStatus::Dead);
        assert_eq!((s.nodes_alive, s.nodes_total), (1, 2));
    }
}
