//! Polling the nodes' HTTP API. One [`Round`] asks every watched node, all at once, for its
//! counters (`/api/v1/mqtt/stat/overall`, plus `comqtt_messages_queued` from `/metrics`) and,
//! when a view needs them, its clients, subscriptions and retained messages. A node that does
//! not answer is reported with its error; the next round asks it again.
//!
//! Which nodes: with one `--http` address ([`Targets::Discover`]) every round first asks it
//! for `GET /api/v1/cluster/nodes` and watches every listed node that has an HTTP API (an
//! unspecified listed host such as `0.0.0.0` is reached through the host that listed it). If
//! that node does not answer, the other nodes known from the last listing are asked; if none
//! answers, the last listing is kept; a node that does not have the route (404) is watched
//! alone. With several addresses ([`Targets::Fixed`]) exactly those are watched, and each
//! one's own entry in its listing gives its name.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime};

use futures_util::future::join_all;
use serde::de::DeserializeOwned;

use super::api::{self, Client, FilterCount, ListedNode, Overall, Page, Retained};
use super::error::TopError;
use super::target::NodeAddr;

/// The node listing.
pub const NODES_PATH: &str = "/api/v1/cluster/nodes";
/// The counters.
pub const OVERALL_PATH: &str = "/api/v1/mqtt/stat/overall";
/// Prometheus text, for the queued-messages gauge.
pub const METRICS_PATH: &str = "/metrics";
/// Clients, paged.
pub const CLIENTS_PATH: &str = "/api/v1/mqtt/clients";
/// Subscribed filters with their counts.
pub const SUBSCRIPTIONS_PATH: &str = "/api/v1/mqtt/subscriptions";
/// Retained messages, paged.
pub const RETAINED_PATH: &str = "/api/v1/mqtt/retained";

/// The largest page the API serves.
const PAGE_SIZE: usize = 100;
/// Pages of clients or retained messages read per node and round: at most 1,000 entries, so a
/// node with many clients is not asked for all of them every second.
pub const MAX_PAGES: usize = 10;

/// Which nodes to watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Targets {
    /// This node and every node it lists.
    Discover(NodeAddr),
    /// Exactly these nodes.
    Fixed(Vec<NodeAddr>),
}

impl Targets {
    /// The addresses given on the command line.
    pub fn given(&self) -> Vec<&NodeAddr> {
        match self {
            Targets::Discover(a) => vec![a],
            Targets::Fixed(v) => v.iter().collect(),
        }
    }
}

/// What a round reads besides the counters (what the visible view shows).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wants {
    /// Clients (up to [`MAX_PAGES`] pages per node).
    pub clients: bool,
    /// Subscribed filters.
    pub subscriptions: bool,
    /// Retained messages (up to [`MAX_PAGES`] pages per node).
    pub retained: bool,
    /// Keep only clients whose id or user name contains this (the API's `search`).
    pub search: String,
}

impl Wants {
    /// Everything (`--once`, `--json`).
    pub fn everything() -> Wants {
        Wants {
            clients: true,
            subscriptions: true,
            retained: true,
            search: String::new(),
        }
    }
}

/// A node to poll this round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Its name, when known.
    pub name: Option<String>,
    /// Its HTTP API; `None` for a listed node without one.
    pub http: Option<NodeAddr>,
    /// Its status in the listing (`alive`, `dead`, `leaving`).
    pub listed_status: Option<String>,
    /// Whether the listing names it leader.
    pub leader: bool,
}

impl Member {
    fn of_addr(addr: &NodeAddr) -> Member {
        Member {
            name: None,
            http: Some(addr.clone()),
            listed_status: None,
            leader: false,
        }
    }
}

/// What one node answered in a round.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Its figures.
    Answered(Box<NodeData>),
    /// It did not answer (or not as the API does).
    Failed(TopError),
    /// It is listed without an HTTP API: nothing to ask.
    NoApi,
}

/// A node's answers.
#[derive(Debug, Clone, Default)]
pub struct NodeData {
    /// Its counters.
    pub overall: Overall,
    /// Messages waiting in client outboxes (`/metrics`), if that answered.
    pub queued: Option<u64>,
    /// Clients read (at most [`MAX_PAGES`] pages), with `total` the node's count.
    pub clients: Option<Page<Client>>,
    /// Subscribed filters.
    pub subscriptions: Option<Vec<FilterCount>>,
    /// Retained messages read (at most [`MAX_PAGES`] pages), with `total` the node's count.
    pub retained: Option<Page<Retained>>,
    /// Why a detail (clients, subscriptions, retained, `/metrics`) is missing.
    pub detail_error: Option<String>,
}

/// One node in a round.
#[derive(Debug, Clone)]
pub struct NodeReport {
    /// The node.
    pub member: Member,
    /// When its counters arrived (rates are measured between these).
    pub at: Instant,
    /// What it answered.
    pub outcome: Outcome,
}

/// One poll of every node.
#[derive(Debug, Clone)]
pub struct Round {
    /// When the round ended.
    pub at: Instant,
    /// The same, on the wall clock.
    pub wall: SystemTime,
    /// Every node, in the listing's (or the command line's) order.
    pub nodes: Vec<NodeReport>,
    /// Why the node list could not be read this round (the last one was used).
    pub discovery_error: Option<String>,
}

impl Round {
    /// Whether any node answered.
    pub fn any_answered(&self) -> bool {
        self.nodes
            .iter()
            .any(|n| matches!(n.outcome, Outcome::Answered(_)))
    }

    /// `addr: error` of every node that did not answer, for `--once`'s message.
    pub fn failures(&self) -> String {
        let mut out: Vec<String> = self
            .nodes
            .iter()
            .filter_map(|n| match &n.outcome {
                Outcome::Failed(e) => Some(e.to_string()),
                _ => None,
            })
            .collect();
        if let Some(d) = &self.discovery_error
            && out.is_empty()
        {
            out.push(d.clone());
        }
        out.join("; ")
    }
}

/// The HTTP client and what it knows of the cluster.
#[derive(Debug)]
pub struct Poller {
    /// One connection pool for every node (keep-alive between rounds).
    client: reqwest::Client,
    /// Sent as `Authorization: Bearer` on every request.
    token: Option<String>,
    /// Which nodes.
    targets: Targets,
    /// The last node listing read (discovery), reused when no node answers the listing.
    members: Vec<Member>,
    /// Names and leader flags of fixed nodes, from their own listing.
    identities: HashMap<NodeAddr, Member>,
    /// How long one request may take.
    timeout: Duration,
}

impl Poller {
    /// A poller of `targets`, sending `token` with every request.
    pub fn new(
        targets: Targets,
        token: Option<String>,
        timeout: Duration,
    ) -> Result<Poller, TopError> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("comqtt-top/", env!("CARGO_PKG_VERSION")))
            // The nodes' API is reached directly, whatever HTTP_PROXY says.
            .no_proxy()
            .connect_timeout(Duration::from_secs(2))
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .map_err(|e| TopError::Client(e.to_string()))?;
        Ok(Poller {
            client,
            token,
            targets,
            members: Vec::new(),
            identities: HashMap::new(),
            timeout,
        })
    }

    /// How long one request may take from now on.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Polls every node once.
    pub async fn round(&mut self, wants: &Wants) -> Round {
        let (members, discovery_error, identify) = match self.targets.clone() {
            Targets::Discover(seed) => {
                let (members, error) = self.discover(&seed).await;
                (members, error, false)
            }
            Targets::Fixed(addrs) => {
                let members = addrs
                    .iter()
                    .map(|a| {
                        self.identities
                            .get(a)
                            .cloned()
                            .unwrap_or_else(|| Member::of_addr(a))
                    })
                    .collect();
                (members, None, true)
            }
        };
        let polls = members
            .into_iter()
            .map(|m| self.poll_node(m, identify, wants));
        let nodes: Vec<NodeReport> = join_all(polls).await;
        if identify {
            for n in &nodes {
                if let (Some(addr), Some(_)) = (&n.member.http, &n.member.name) {
                    self.identities.insert(addr.clone(), n.member.clone());
                }
            }
        }
        Round {
            at: Instant::now(),
            wall: SystemTime::now(),
            nodes,
            discovery_error,
        }
    }

    /// The nodes to poll: the listing of `seed`, or of another known node, or the last one.
    async fn discover(&mut self, seed: &NodeAddr) -> (Vec<Member>, Option<String>) {
        let mut candidates = vec![seed.clone()];
        for m in &self.members {
            if let Some(h) = &m.http
                && !candidates.contains(h)
            {
                candidates.push(h.clone());
            }
        }
        let mut errors = Vec::new();
        for via in &candidates {
            match self.get_json::<Vec<ListedNode>>(via, NODES_PATH, &[]).await {
                Ok(listing) => {
                    let members = members_of(listing, via);
                    self.members = members.clone();
                    return (members, None);
                }
                // A node without the route (an older broker) is watched alone.
                Err(TopError::Status { status: 404, .. }) if via == seed => {
                    let members = vec![Member::of_addr(via)];
                    self.members = members.clone();
                    return (members, None);
                }
                Err(e) => errors.push(e.to_string()),
            }
        }
        let error = format!("reading the node list: {}", errors.join("; "));
        if self.members.is_empty() {
            (vec![Member::of_addr(seed)], Some(error))
        } else {
            (self.members.clone(), Some(error))
        }
    }

    /// Asks one node for its figures (and, for a fixed node, its own listing entry).
    async fn poll_node(&self, member: Member, identify: bool, wants: &Wants) -> NodeReport {
        let Some(addr) = member.http.clone() else {
            return NodeReport {
                member,
                at: Instant::now(),
                outcome: Outcome::NoApi,
            };
        };
        let overall = async {
            let r = self.get_json::<Overall>(&addr, OVERALL_PATH, &[]).await;
            (r, Instant::now())
        };
        let metrics = self.get_text(&addr, METRICS_PATH, &[]);
        let identity = async {
            if identify {
                self.get_json::<Vec<ListedNode>>(&addr, NODES_PATH, &[])
                    .await
                    .ok()
                    .and_then(|l| l.into_iter().find(|n| n.is_self))
            } else {
                None
            }
        };
        let clients = async {
            if wants.clients {
                Some(self.clients(&addr, &wants.search).await)
            } else {
                None
            }
        };
        let subscriptions = async {
            if wants.subscriptions {
                Some(
                    self.get_json::<Vec<FilterCount>>(&addr, SUBSCRIPTIONS_PATH, &[])
                        .await,
                )
            } else {
                None
            }
        };
        let retained = async {
            if wants.retained {
                Some(self.pages::<Retained>(&addr, RETAINED_PATH, &[]).await)
            } else {
                None
            }
        };
        let ((overall, at), metrics, identity, clients, subscriptions, retained) =
            tokio::join!(overall, metrics, identity, clients, subscriptions, retained);
        let mut member = member;
        if let Some(me) = identity {
            member.name = Some(me.name);
            member.leader = me.leader;
            member.listed_status = Some(me.status);
        }
        let overall = match overall {
            Ok(o) => o,
            Err(e) => {
                return NodeReport {
                    member,
                    at,
                    outcome: Outcome::Failed(e),
                };
            }
        };
        let mut detail_errors = Vec::new();
        let queued = keep(Some(metrics), &mut detail_errors)
            .and_then(|t| api::metric(&t, "comqtt_messages_queued").map(|v| v.max(0.0) as u64));
        let clients = keep(clients, &mut detail_errors);
        let subscriptions = keep(subscriptions, &mut detail_errors);
        let retained = keep(retained, &mut detail_errors);
        let detail_error = (!detail_errors.is_empty()).then(|| detail_errors.join("; "));
        NodeReport {
            member,
            at,
            outcome: Outcome::Answered(Box::new(NodeData {
                overall,
                queued,
                clients,
                subscriptions,
                retained,
                detail_error,
            })),
        }
    }

    /// Clients, optionally filtered by the API's `search`.
    async fn clients(&self, addr: &NodeAddr, search: &str) -> Result<Page<Client>, TopError> {
        let query: Vec<(&str, String)> = if search.is_empty() {
            Vec::new()
        } else {
            vec![("search", search.to_string())]
        };
        self.pages::<Client>(addr, CLIENTS_PATH, &query).await
    }

    /// Up to [`MAX_PAGES`] pages of a paged route, as one page whose `total` is the node's.
    async fn pages<T: DeserializeOwned>(
        &self,
        addr: &NodeAddr,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Page<T>, TopError> {
        let mut items = Vec::new();
        let mut total = 0;
        for page in 1..=MAX_PAGES {
            let mut q: Vec<(&str, String)> = query.to_vec();
            q.push(("page", page.to_string()));
            q.push(("page_size", PAGE_SIZE.to_string()));
            let p: Page<T> = self.get_json(addr, path, &q).await?;
            total = p.total;
            let n = p.items.len();
            items.extend(p.items);
            if n < PAGE_SIZE || items.len() >= total {
                break;
            }
        }
        let page_size = items.len();
        Ok(Page {
            items,
            total,
            page: 1,
            page_size,
        })
    }

    /// `GET path?query` as JSON.
    async fn get_json<T: DeserializeOwned>(
        &self,
        addr: &NodeAddr,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, TopError> {
        let text = self.get_text(addr, path, query).await?;
        serde_json::from_str(&text).map_err(|e| TopError::BadResponse {
            addr: addr.to_string(),
            path: path.to_string(),
            reason: e.to_string(),
        })
    }

    /// `GET path?query` as text; a status other than 2xx is an error.
    async fn get_text(
        &self,
        addr: &NodeAddr,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<String, TopError> {
        let mut request = self
            .client
            .get(format!("{}{path}", addr.base_url()))
            .timeout(self.timeout);
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let unreachable = |e: reqwest::Error| TopError::Unreachable {
            addr: addr.to_string(),
            reason: reason(&e, self.timeout),
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        if !status.is_success() {
            return Err(TopError::Status {
                addr: addr.to_string(),
                path: path.to_string(),
                status: status.as_u16(),
            });
        }
        response.text().await.map_err(unreachable)
    }
}

/// The value of a detail that was asked for and answered; the error of one that failed goes
/// to `errors`.
fn keep<T>(asked: Option<Result<T, TopError>>, errors: &mut Vec<String>) -> Option<T> {
    match asked? {
        Ok(v) => Some(v),
        Err(e) => {
            errors.push(e.short());
            None
        }
    }
}

/// The members of a listing read from `via`: its own entry is reached at `via` (the address
/// that just answered), the others at their listed HTTP address; duplicates are dropped.
fn members_of(listing: Vec<ListedNode>, via: &NodeAddr) -> Vec<Member> {
    if listing.is_empty() {
        return vec![Member::of_addr(via)];
    }
    let mut seen = HashSet::new();
    let mut members = Vec::new();
    for node in listing {
        let http = if node.is_self {
            Some(via.clone())
        } else {
            node.http
                .as_deref()
                .and_then(|h| NodeAddr::listed_by(h, via).ok())
        };
        if let Some(h) = &http
            && !seen.insert(h.clone())
        {
            continue;
        }
        members.push(Member {
            name: Some(node.name).filter(|n| !n.is_empty()),
            http,
            listed_status: Some(node.status).filter(|s| !s.is_empty()),
            leader: node.leader,
        });
    }
    members
}

/// Why a request failed, in a few words: the innermost cause ("Connection refused (os error
/// 111)"), or the timeout.
fn reason(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("no answer within {}", super::format::duration_ms(timeout));
    }
    let mut inner: &dyn std::error::Error = e;
    while let Some(source) = inner.source() {
        inner = source;
    }
    inner.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> NodeAddr {
        s.parse().unwrap()
    }

    fn listed(name: &str, http: Option<&str>, me: bool) -> ListedNode {
        ListedNode {
            name: name.into(),
            http: http.map(String::from),
            status: "alive".into(),
            leader: me,
            is_self: me,
            ..ListedNode::default()
        }
    }

    #[test]
    fn the_answering_node_is_reached_where_it_answered() {
        let via = addr("localhost:8080");
        let members = members_of(
            vec![
                listed("c01", Some("0.0.0.0:8080"), true),
                listed("c02", Some("0.0.0.0:8081"), false),
                listed("c03", None, false),
            ],
            &via,
        );
        let https: Vec<Option<String>> = members
            .iter()
            .map(|m| m.http.as_ref().map(|h| h.host_port()))
            .collect();
        assert_eq!(
            https,
            [
                Some("localhost:8080".to_string()),
                Some("localhost:8081".to_string()),
                None
            ]
        );
        assert!(members[0].leader);
        assert_eq!(members[2].name.as_deref(), Some("c03"));
    }

    #[test]
    fn duplicate_addresses_are_polled_once() {
        let via = addr("127.0.0.1:8080");
        let members = members_of(
            vec![
                listed("c01", Some("127.0.0.1:8080"), true),
                listed("c01-again", Some("0.0.0.0:8080"), false),
            ],
            &via,
        );
        assert_eq!(members.len(), 1);
    }

    #[test]
    fn an_empty_listing_watches_the_node_that_answered() {
        let via = addr("127.0.0.1:8080");
        assert_eq!(members_of(Vec::new(), &via), vec![Member::of_addr(&via)]);
    }
}
