//! A running cluster node: starts gossip, raft and the gRPC services, joins the broker to
//! them, and is the broker's [`ClusterLink`]: filters go to the route sync, messages to the
//! forwarder, CONNECTs ask the other nodes for the client's session.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::service::interceptor::InterceptedService;

use super::admin::AdminService;
use super::claims::Claims;
use super::forward::{ForwardCounters, Forwarder};
use super::inbound::{HandledStreams, handled};
use super::inbound::{NodeService, merge_retained};
use super::membership::{Member, MemberStatus, Membership};
use super::parking::Parker;
use super::proposer::Proposer;
use super::proto::node_client::NodeClient;
use super::proto::{FlushRequest, RetainedRequest, TakeoverRequest};
use super::raft::log_store::{LogStore, RaftFile};
use super::raft::network::{MAX_MESSAGE, Network, WINDOW, channel};
use super::raft::service::RaftService;
use super::raft::state_machine::{Replicated, StateMachine};
use super::raft::{Raft, RaftMember};
use super::route_sync::FilterEvent;
use super::routes::RouteCommand;
use super::secret::Secret;
use super::settings::ClusterSettings;
use super::{ClusterError, handover, nodes_file, orphans, proto, raft, raft_members, route_sync};
use crate::broker::Broker;
use crate::broker::cluster_link::{BoxFuture, Claim, ClusterLink, Forwarded, HandedOver, Takeover};
use crate::broker::message::Message;
use crate::shutdown::ShutdownSignal;

/// How long a CONNECT waits for the other nodes to hand over its session: more than the
/// holding node waits for its connection to let go (5 s).
const TAKEOVER_TIMEOUT: Duration = Duration::from_secs(8);
/// How long a CONNECT waits for the other nodes to say whether they hold its session.
const PREPARE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a moving session's routes may take to commit before it is taken over anyway.
const PIN_WAIT: Duration = Duration::from_secs(2);
/// How long the old node of a moving session waits for the others' flushes.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a node waits for routes to the new node before flushing anyway.
const FLUSH_ROUTES_WAIT: Duration = Duration::from_secs(1);
/// How long it waits for its flush marker to be handled.
const FLUSH_WAIT: Duration = Duration::from_millis(1500);
/// How long those routes stay pinned (the session's subscriptions hold them after that).
const PIN_HOLD: Duration = Duration::from_secs(10);
/// How long a bootstrap node without raft state waits for gossip to show an existing cluster.
const BOOTSTRAP_WAIT: Duration = Duration::from_secs(2);

/// One member as operators see it (`comqttctl members`, `/api/v1/cluster/nodes`).
#[derive(Debug, Clone, Serialize)]
pub struct MemberView {
    pub name: String,
    /// Gossip IP.
    pub addr: String,
    pub gossip: String,
    pub raft: String,
    pub grpc: String,
    pub http: Option<String>,
    pub mqtt: Option<String>,
    pub status: MemberStatus,
    /// True for the raft leader.
    pub leader: bool,
    /// Voter, learner, or "" when raft does not know it.
    pub raft_role: &'static str,
    /// True for the node answering.
    #[serde(rename = "self")]
    pub this: bool,
    pub tags: BTreeMap<String, String>,
}

/// Raft as this node sees it (`comqttctl raft`).
#[derive(Debug, Clone, Serialize)]
pub struct RaftStatus {
    pub node: String,
    pub raft_id: u64,
    /// Leader, Follower, Candidate or Learner.
    pub state: String,
    pub leader: Option<String>,
    pub term: u64,
    pub last_log_index: Option<u64>,
    pub last_applied: Option<u64>,
    pub voters: Vec<String>,
    pub learners: Vec<String>,
    /// The raft address the membership records for each node, by name.
    pub addresses: BTreeMap<String, String>,
    /// Filters in the route table.
    pub routes: usize,
    /// Forwarding counters of this node.
    pub forwarded: ForwardView,
}

/// Forwarding counters.
#[derive(Debug, Clone, Serialize)]
pub struct ForwardView {
    pub queued: u64,
    pub acknowledged: u64,
    pub dropped: u64,
    pub resent: u64,
    /// Times a publisher paused because a node's queue was filling up.
    pub congested: u64,
}

/// The running node.
pub struct ClusterNode {
    /// Its settings.
    pub settings: ClusterSettings,
    membership: Membership,
    live: watch::Receiver<Vec<Member>>,
    raft: Raft,
    replicated: Arc<Replicated>,
    forwarder: Forwarder,
    proposer: Arc<Proposer>,
    filters: mpsc::UnboundedSender<FilterEvent>,
    /// Set once this node left the cluster: it then serves its own clients alone.
    left: Arc<AtomicBool>,
    /// Claims on client ids whose CONNECTs are under way here.
    claims: Arc<Claims>,
    /// The broker (weak: the broker holds this node as its link).
    broker: Weak<Broker>,
    /// Filters whose routes the raft leader applied (see [`route_sync`]).
    confirmed: Arc<parking_lot::RwLock<std::collections::BTreeSet<String>>>,
    /// Channels to the peers' gRPC services, by address.
    channels: Mutex<std::collections::HashMap<String, tonic::transport::Channel>>,
    /// Stops this node's tasks.
    signal: ShutdownSignal,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Reloads this node's configuration (`comqttctl reload`); set once by the binary.
    reloader: std::sync::OnceLock<Arc<crate::reload::Reloader>>,
}

impl std::fmt::Debug for ClusterNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterNode")
            .field("name", &self.settings.name)
            .finish()
    }
}

async fn bind(what: &'static str, addr: std::net::SocketAddr) -> Result<TcpListener, ClusterError> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| ClusterError::Bind {
            what,
            addr: addr.to_string(),
            reason: e.to_string(),
        })
}

/// How long a node shutting down waits to be removed from the raft voters.
const LEAVE_WAIT: Duration = Duration::from_secs(5);

/// How often this node looks for messages other nodes parked for its sessions.
const CLAIM_EVERY: Duration = Duration::from_secs(1);

/// Takes in what other nodes parked for this node's sessions in the shared store (while it
/// was frozen or cut off, or for a session that moved here), every [`CLAIM_EVERY`].
async fn claim_parked(
    me: String,
    broker: Weak<Broker>,
    streams: HandledStreams,
    mut shutdown: crate::shutdown::Shutdown,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(CLAIM_EVERY) => {}
            _ = shutdown.wait() => return,
        }
        let Some(broker) = broker.upgrade() else {
            return;
        };
        let seen = |node: &str, epoch, seq| handled(&streams, node, epoch, seq);
        if let Err(e) = broker.claim_all_parked(&me, &seen).await {
            tracing::warn!(error = %e, "looking for parked messages failed; retrying");
        }
    }
}

impl ClusterNode {
    /// Starts this node's part of the cluster and joins `broker` to it.
    pub async fn start(
        settings: ClusterSettings,
        broker: &Arc<Broker>,
    ) -> Result<Arc<ClusterNode>, ClusterError> {
        let raft_listener = bind("raft (cluster.raft-port)", settings.raft_bind).await?;
        let grpc_listener = bind("gRPC (cluster.grpc-port)", settings.grpc_bind).await?;
        let file = RaftFile::open(&settings.raft_dir)?;
        let replicated = Replicated::new();
        let state_machine = StateMachine::open(file.clone(), replicated.clone()).map_err(|e| {
            ClusterError::RaftStore {
                path: file.path().to_path_buf(),
                reason: e.to_string(),
            }
        })?;
        let config = raft::config("comqtt").map_err(|e| ClusterError::Settings(e.to_string()))?;
        let network = Network::new(settings.secret.clone());
        let raft = Raft::new(
            settings.raft_id,
            Arc::new(config),
            network.clone(),
            LogStore::new(file.clone()),
            state_machine,
        )
        .await
        .map_err(|e| ClusterError::RaftStore {
            path: file.path().to_path_buf(),
            reason: e.to_string(),
        })?;
        let extra_seeds = settings
            .nodes_file
            .as_deref()
            .map(nodes_file::read)
            .unwrap_or_default();
        let membership = Membership::start(&settings, extra_seeds).await?;
        let live = membership.live();
        network.follow(live.clone());
        let epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        let proposer = Arc::new(Proposer::new(
            &settings.name,
            raft.clone(),
            live.clone(),
            settings.secret.clone(),
        ));
        let (filters, filter_events) = mpsc::unbounded_channel();
        // With a store shared by the nodes, messages for a node that is away are parked
        // there for its persistent sessions (and publishers are never told a message is
        // safe before it is).
        let parker = broker.shared_sessions().map(|shared| {
            let held = Arc::downgrade(broker);
            let here =
                Box::new(move |client_id: &str| held.upgrade()?.sessions.subscribed_at(client_id));
            Arc::new(Parker::new(shared, &settings.name, epoch, here))
        });
        let parks = parker.is_some();
        let node = Arc::new(ClusterNode {
            forwarder: Forwarder::new(
                &settings.name,
                epoch,
                replicated.clone(),
                live.clone(),
                settings.secret.clone(),
                parker,
            ),
            proposer: proposer.clone(),
            claims: Arc::new(Claims::new(&settings.name)),
            settings,
            membership,
            live,
            raft: raft.clone(),
            replicated: replicated.clone(),
            filters,
            left: Arc::new(AtomicBool::new(false)),
            broker: Arc::downgrade(broker),
            confirmed: Arc::default(),
            channels: Mutex::default(),
            reloader: std::sync::OnceLock::new(),
            signal: ShutdownSignal::new(),
            tasks: Mutex::default(),
        });

        // Servers: raft on its own port, node and admin services on the gRPC port.
        let mut tasks = Vec::new();
        // Every service checks the cluster secret, when there is one.
        let checker = |secret: Secret| move |r: tonic::Request<()>| secret.check(r);
        let secret = node.settings.secret.clone();
        if !secret.is_set() {
            tracing::warn!(
                "no cluster secret (cluster.secret, --cluster-secret): anyone who reaches the raft and gRPC ports can act as a node"
            );
        }
        let raft_service = InterceptedService::new(
            proto::raft_server::RaftServer::new(RaftService::new(
                raft.clone(),
                node.settings.raft_id,
            ))
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE),
            checker(secret.clone()),
        );
        // With cluster TLS: TLS only, and a client certificate of the cluster's CA.
        let builder = || -> Result<tonic::transport::Server, ClusterError> {
            let builder = tonic::transport::Server::builder();
            match node.settings.secret.tls().server() {
                Some(tls) => builder
                    .tls_config(tls)
                    .map_err(|e| ClusterError::Settings(format!("cluster TLS: {e}"))),
                None => Ok(builder),
            }
        };
        let (mut raft_server, grpc_server) = (builder()?, builder()?);
        let mut stop = node.signal.subscribe();
        tasks.push(tokio::spawn(async move {
            let served = raft_server
                .add_service(raft_service)
                .serve_with_incoming_shutdown(TcpListenerStream::new(raft_listener), async move {
                    stop.wait().await
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "raft service stopped");
            }
        }));
        // What this node handled of each peer's stream (shared by the inbound service and
        // the look for parked messages).
        let handled: HandledStreams = Arc::default();
        let node_service = InterceptedService::new(
            proto::node_server::NodeServer::new(NodeService::new(
                broker.clone(),
                proposer.clone(),
                node.claims.clone(),
                &node.settings.name,
                handled.clone(),
                Arc::downgrade(&node),
            ))
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE),
            checker(secret.clone()),
        );
        let admin_service = InterceptedService::new(
            proto::admin_server::AdminServer::new(AdminService::new(Arc::downgrade(&node))),
            checker(secret),
        );
        let mut stop = node.signal.subscribe();
        tasks.push(tokio::spawn(async move {
            let served = grpc_server
                .initial_stream_window_size(WINDOW)
                .initial_connection_window_size(2 * WINDOW)
                .add_service(node_service)
                .add_service(admin_service)
                .serve_with_incoming_shutdown(TcpListenerStream::new(grpc_listener), async move {
                    stop.wait().await
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "node gRPC service stopped");
            }
        }));

        broker.set_cluster_link(node.clone());
        tasks.push(tokio::spawn(route_sync::run(
            node.settings.name.clone(),
            proposer,
            replicated,
            filter_events,
            node.left.clone(),
            node.confirmed.clone(),
            node.signal.subscribe(),
        )));
        tasks.push(tokio::spawn(raft_members::run(
            node.settings.raft_id,
            raft.clone(),
            node.live.clone(),
            parks,
            node.signal.subscribe(),
        )));
        tasks.push(tokio::spawn(orphans::run(
            node.settings.raft_id,
            raft.clone(),
            node.live.clone(),
            node.broker.clone(),
            node.replicated.clone(),
            node.signal.subscribe(),
        )));
        if parks {
            tasks.push(tokio::spawn(claim_parked(
                node.settings.name.clone(),
                node.broker.clone(),
                handled.clone(),
                node.signal.subscribe(),
            )));
        }
        tasks.push(tokio::spawn(node.clone().publish_leader()));
        if let Some(path) = node.settings.nodes_file.clone() {
            tasks.push(tokio::spawn(nodes_file::keep(
                path,
                node.live.clone(),
                node.signal.subscribe(),
            )));
        }
        tasks.push(tokio::spawn(node.clone().bootstrap()));
        if !parks {
            // Without a shared store, a node that is away holds a publisher up only so
            // long (its messages stay queued for it, in memory).
            let acks = node.forwarder.acks.clone();
            let mut stop = node.signal.subscribe();
            tasks.push(tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(250)) => acks.expire(std::time::Instant::now()),
                        _ = stop.wait() => return,
                    }
                }
            }));
        }
        tasks.push(tokio::spawn(node.clone().sync_retained()));
        *node.tasks.lock() = tasks;
        tracing::info!(
            node = %node.settings.name,
            gossip = %node.settings.gossip_advertise,
            raft = %node.settings.raft_advertise,
            grpc = %node.settings.grpc_advertise,
            "cluster node started"
        );
        Ok(node)
    }

    /// Starts the raft cluster on a bootstrap node that has no raft state, unless gossip
    /// shows a cluster that already has a leader (then its leader adds this node).
    async fn bootstrap(self: Arc<Self>) {
        if !self.settings.bootstrap || self.raft.is_initialized().await.unwrap_or(true) {
            return;
        }
        let mut live = self.live.clone();
        let existing = tokio::time::timeout(
            BOOTSTRAP_WAIT,
            live.wait_for(|members| {
                members
                    .iter()
                    .any(|m| m.name != self.settings.name && m.leader.is_some())
            }),
        )
        .await
        .is_ok();
        if existing {
            tracing::info!("raft-bootstrap: a cluster with a leader exists; joining it instead");
            return;
        }
        let me = BTreeMap::from([(
            self.settings.raft_id,
            RaftMember {
                name: self.settings.name.clone(),
                addr: self.settings.raft_advertise.to_string(),
            },
        )]);
        match self.raft.initialize(me).await {
            Ok(()) => tracing::info!("raft cluster started (raft-bootstrap)"),
            Err(e) => tracing::debug!(error = %e, "raft cluster already started"),
        }
    }

    /// Keeps this node's gossip record naming the raft leader it sees.
    async fn publish_leader(self: Arc<Self>) {
        let mut metrics = self.raft.metrics();
        let mut shutdown = self.signal.subscribe();
        let mut last = None;
        loop {
            let leader = metrics.borrow_and_update().current_leader;
            if leader != last {
                last = leader;
                let name = leader.and_then(|id| self.raft_name(id)).unwrap_or_default();
                if !name.is_empty() {
                    tracing::info!(leader = %name, "raft leader");
                }
                self.membership.set_leader(&name).await;
            }
            tokio::select! {
                r = metrics.changed() => if r.is_err() { return },
                _ = shutdown.wait() => return,
            }
        }
    }

    /// Fetches the retained messages of a live peer once gossip shows one (a node that
    /// starts without a shared store learns them this way; with Redis they are loaded at
    /// startup and this only fills gaps).
    async fn sync_retained(self: Arc<Self>) {
        let mut live = self.live.clone();
        let me = self.settings.name.clone();
        let is_peer = move |p: &Member| p.name != me && p.status == MemberStatus::Alive;
        let addr = {
            let waited = tokio::time::timeout(
                Duration::from_secs(10),
                live.wait_for(|m| m.iter().any(&is_peer)),
            )
            .await;
            match waited {
                Ok(Ok(members)) => members.iter().find(|p| is_peer(p)).map(|p| p.grpc.clone()),
                _ => None,
            }
        };
        let Some(addr) = addr else { return };
        let Ok(ch) = self.channel(&addr) else { return };
        let mut client = NodeClient::new(ch).max_decoding_message_size(MAX_MESSAGE);
        match client
            .retained(self.settings.secret.signed(RetainedRequest {}))
            .await
        {
            Ok(reply) => {
                if let Some(broker) = self.broker.upgrade() {
                    let n = merge_retained(&broker, reply.into_inner());
                    tracing::info!(from = %addr, count = n, "retained messages of the cluster merged");
                }
            }
            Err(e) => {
                tracing::warn!(from = %addr, error = %e, "could not fetch the cluster's retained messages")
            }
        }
    }

    /// The name of raft member `id`.
    fn raft_name(&self, id: u64) -> Option<String> {
        let metrics = self.raft.metrics().borrow().clone();
        metrics
            .membership_config
            .membership()
            .get_node(&id)
            .map(|n| n.name.clone())
    }

    /// Lets `comqttctl reload` reload this node with `reloader` (once; false if already set).
    pub fn set_reloader(&self, reloader: Arc<crate::reload::Reloader>) -> bool {
        self.reloader.set(reloader).is_ok()
    }

    /// This node's reloader, when the binary set one.
    pub fn reloader(&self) -> Option<&Arc<crate::reload::Reloader>> {
        self.reloader.get()
    }

    /// Every member with its raft role.
    pub async fn members(&self) -> Vec<MemberView> {
        let all = self.membership.all().await;
        let metrics = self.raft.metrics().borrow().clone();
        let membership = metrics.membership_config.membership();
        let voters: Vec<u64> = membership.voter_ids().collect();
        let learners: Vec<u64> = membership.learner_ids().collect();
        all.into_iter()
            .map(|m| MemberView {
                addr: m.gossip.ip().to_string(),
                gossip: m.gossip.to_string(),
                leader: metrics.current_leader == Some(m.raft_id),
                raft_role: if voters.contains(&m.raft_id) {
                    "voter"
                } else if learners.contains(&m.raft_id) {
                    "learner"
                } else {
                    ""
                },
                this: m.name == self.settings.name,
                name: m.name,
                raft: m.raft,
                grpc: m.grpc,
                http: m.http,
                mqtt: m.mqtt,
                status: m.status,
                tags: m.tags,
            })
            .collect()
    }

    /// Raft as this node sees it.
    pub fn raft_status(&self) -> RaftStatus {
        let m = self.raft.metrics().borrow().clone();
        let membership = m.membership_config.membership();
        let name = |id: u64| {
            membership
                .get_node(&id)
                .map_or_else(|| id.to_string(), |n| n.name.clone())
        };
        let c: &ForwardCounters = &self.forwarder.counters;
        RaftStatus {
            node: self.settings.name.clone(),
            raft_id: self.settings.raft_id,
            state: format!("{:?}", m.state),
            leader: m.current_leader.map(name),
            term: m.current_term,
            last_log_index: m.last_log_index,
            last_applied: m.last_applied.map(|l| l.index),
            voters: membership.voter_ids().map(name).collect(),
            learners: membership.learner_ids().map(name).collect(),
            addresses: membership
                .nodes()
                .map(|(_, n)| (n.name.clone(), n.addr.clone()))
                .collect(),
            routes: self.replicated.routes.read().len(),
            forwarded: ForwardView {
                queued: c.queued.load(Ordering::Relaxed),
                acknowledged: c.acknowledged.load(Ordering::Relaxed),
                dropped: c.dropped.load(Ordering::Relaxed),
                resent: c.resent.load(Ordering::Relaxed),
                congested: c.congested.load(Ordering::Relaxed),
            },
        }
    }

    /// Every route: filter → node names.
    pub fn routes(&self) -> BTreeMap<String, Vec<String>> {
        self.replicated.routes.read().all()
    }

    /// The broker this node serves, while it runs.
    pub fn broker(&self) -> Option<Arc<Broker>> {
        self.broker.upgrade()
    }

    /// Sends gossip to `addr` (joining another group of nodes).
    pub fn introduce(&self, addr: std::net::SocketAddr) -> Result<(), ClusterError> {
        self.membership.introduce(addr)
    }

    /// Leaves the cluster: gossip says so (the leader then removes this node from raft and
    /// drops its routes), and from now on this node serves its own clients alone.
    pub async fn leave(&self) {
        if self.left.swap(true, Ordering::AcqRel) {
            return;
        }
        self.membership.announce_leaving().await;
        // Nothing is forwarded here any more.
        let left = RouteCommand::NodeLeft {
            node: self.settings.name.clone(),
        };
        if let Err(e) = self.proposer.propose(left).await {
            tracing::warn!(error = %e, "dropping this node's routes failed; the raft leader drops them when it removes this node");
        }
        tracing::info!(node = %self.settings.name, "left the cluster; serving this node's clients alone");
    }

    /// True once this node left.
    pub fn has_left(&self) -> bool {
        self.left.load(Ordering::Acquire)
    }

    /// Leaves the raft cluster before stopping: gossip says this node leaves, and the leader
    /// (this node itself, if it leads: the others then elect a new one) removes it from the
    /// voters; this waits (at most [`LEAVE_WAIT`]) until that change is committed, so nodes
    /// stopping one after another never leave a voter set without its quorum.
    pub async fn leave_raft(&self) {
        self.membership.announce_leaving().await;
        let me = self.settings.raft_id;
        let deadline = tokio::time::Instant::now() + LEAVE_WAIT;
        let mut metrics = self.raft.metrics();
        loop {
            let removed = {
                let m = metrics.borrow_and_update();
                let voters: Vec<u64> = m.membership_config.membership().voter_ids().collect();
                !voters.contains(&me) || voters.len() <= 1
            };
            if removed {
                tracing::info!("this node is out of the raft voters");
                return;
            }
            match tokio::time::timeout_at(deadline, metrics.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return,
                Err(_) => {
                    tracing::warn!("this node was not removed from the raft voters in time");
                    return;
                }
            }
        }
    }

    /// Stops gossip, raft and the services.
    pub async fn shutdown(&self) {
        self.membership.announce_leaving().await;
        // Give the others a gossip round to see it.
        tokio::time::sleep(super::settings::GOSSIP_INTERVAL * 2).await;
        self.signal.fire();
        self.membership.shutdown().await;
        let _ = self.raft.shutdown().await;
        let tasks: Vec<JoinHandle<()>> = std::mem::take(&mut *self.tasks.lock());
        for t in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
        }
    }

    /// A (shared, lazily connected) channel to a peer's gRPC address.
    fn channel(&self, addr: &str) -> Result<tonic::transport::Channel, tonic::transport::Error> {
        let mut channels = self.channels.lock();
        if let Some(c) = channels.get(addr) {
            return Ok(c.clone());
        }
        let c = channel(addr, &self.settings.secret)?;
        channels.insert(addr.to_string(), c.clone());
        Ok(c)
    }

    /// Asks `peer` to hand over the session of `client_id`.
    async fn ask_takeover(
        &self,
        peer: &Member,
        client_id: &str,
        clean_start: bool,
        claim: u64,
    ) -> Option<proto::TakeoverReply> {
        let ch = self.channel(&peer.grpc).ok()?;
        let mut client = NodeClient::new(ch).max_decoding_message_size(MAX_MESSAGE);
        let mut request = tonic::Request::new(TakeoverRequest {
            client_id: client_id.to_string(),
            clean_start,
            node: self.settings.name.clone(),
            claim,
        });
        // A clean start needs nothing back, only the old connection gone: a node that does
        // not answer soon (hung) must not hold up every CONNECT in the cluster for long.
        request.set_timeout(if clean_start {
            PREPARE_TIMEOUT
        } else {
            TAKEOVER_TIMEOUT
        });
        self.settings.secret.sign(&mut request);
        match client.takeover(request).await {
            Ok(r) => Some(r.into_inner()),
            Err(e) => {
                tracing::warn!(node = %peer.name, client_id, error = %e, "session takeover request failed");
                None
            }
        }
    }

    /// Gets routes for `filters` to this node committed (waiting at most
    /// [`PIN_WAIT`]); they stay pinned for [`PIN_HOLD`], by when the session's own
    /// subscriptions hold them.
    async fn pin_routes(&self, filters: Vec<String>) {
        if filters.is_empty() {
            return;
        }
        let _ = self.filters.send(FilterEvent::Pin(filters.clone(), true));
        let sender = self.filters.clone();
        let unpin = filters.clone();
        tokio::spawn(async move {
            tokio::time::sleep(PIN_HOLD).await;
            let _ = sender.send(FilterEvent::Pin(unpin, false));
        });
        let mut version = self.replicated.version.subscribe();
        let routed = tokio::time::timeout(PIN_WAIT, async {
            loop {
                let mine = self.replicated.routes.read().routes_of(&self.settings.name);
                if filters.iter().all(|f| mine.contains(f)) {
                    return;
                }
                if version.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
        if routed.is_err() {
            tracing::debug!(
                "routes of a moving session not committed in time; taking it over anyway"
            );
        }
    }

    /// Before this node hands over a session moving to node `to`: every live peer (`to`
    /// included) sees its routes send `filters` to `to`, then passes a marker down its stream
    /// to this node and answers once this node has handled it. What a peer forwarded here
    /// for the session before then is in the session when it leaves; what it forwards after
    /// goes to `to` as well. A peer that does not answer in time is not waited for.
    pub(crate) async fn flush_peers(&self, to: &str, filters: Vec<String>) {
        if filters.is_empty() {
            return;
        }
        let peers = self.peers();
        let replies = futures_util::future::join_all(peers.iter().map(|p| {
            let filters = filters.clone();
            async move {
                let ch = self.channel(&p.grpc).ok()?;
                let mut request = tonic::Request::new(FlushRequest {
                    to: self.settings.name.clone(),
                    routed_to: to.to_string(),
                    filters,
                });
                request.set_timeout(FLUSH_TIMEOUT);
                self.settings.secret.sign(&mut request);
                match NodeClient::new(ch).flush(request).await {
                    Ok(r) => Some(r.into_inner().flushed),
                    Err(e) => {
                        tracing::debug!(node = %p.name, error = %e, "flush for a moving session failed");
                        None
                    }
                }
            }
        }))
        .await;
        let missed = replies.iter().filter(|r| **r != Some(true)).count();
        if missed > 0 {
            tracing::debug!(
                missed,
                "some nodes did not flush their streams before a session moved"
            );
        }
    }

    /// Waits (bounded) until `to` has handled everything this node forwarded to it so far.
    pub(crate) async fn flush_own(&self, to: &str) {
        if !self.forwarder.flush(to, FLUSH_WAIT).await {
            tracing::debug!(
                node = to,
                "the stream to a session's new node was not flushed in time"
            );
        }
    }

    /// The peer side of [`ClusterNode::flush_peers`]: waits (bounded) for routes of
    /// `filters` to `routed_to`, then flushes the stream to `to`.
    pub(crate) async fn flush_to(&self, to: &str, routed_to: &str, filters: &[String]) -> bool {
        let mut version = self.replicated.version.subscribe();
        let routed = tokio::time::timeout(FLUSH_ROUTES_WAIT, async {
            loop {
                {
                    let routes = self.replicated.routes.read();
                    if filters.iter().all(|f| routes.has_route(f, routed_to)) {
                        return;
                    }
                }
                if version.changed().await.is_err() {
                    return;
                }
            }
        })
        .await
        .is_ok();
        let flushed = to == self.settings.name || self.forwarder.flush(to, FLUSH_WAIT).await;
        routed && flushed
    }

    /// The live members other than this one.
    fn peers(&self) -> Vec<Member> {
        self.live
            .borrow()
            .iter()
            .filter(|m| m.name != self.settings.name && m.status == MemberStatus::Alive)
            .cloned()
            .collect()
    }
}

impl ClusterLink for ClusterNode {
    fn filter_changed(&self, filter: &str, present: bool) {
        let _ = self
            .filters
            .send(FilterEvent::Tree(filter.to_string(), present));
    }

    fn forward(&self, message: &Arc<Message>, served: &[&str], generation: u64) -> Forwarded {
        if self.has_left() {
            return Forwarded::default();
        }
        self.forwarder.forward(message, served, generation)
    }

    fn forwarded(&self) -> watch::Receiver<u64> {
        self.forwarder.acks.watch()
    }

    fn is_forwarded(&self, ticket: u64) -> bool {
        self.forwarder.acks.is_done(ticket)
    }

    fn retain_unforwarded(&self, tickets: &mut Vec<u64>) {
        self.forwarder.acks.retain_open(tickets);
    }

    fn is_routed(&self, filter: &str) -> bool {
        // A node that left forwards nothing and is forwarded nothing: nothing to wait for.
        // Otherwise: applied here, and by the leader (the other nodes apply it as they learn
        // of the commit, within a heartbeat at most).
        self.has_left()
            || self.confirmed.read().contains(filter)
                && self
                    .replicated
                    .routes
                    .read()
                    .has_route(filter, &self.settings.name)
    }

    fn routes_changed(&self) -> watch::Receiver<u64> {
        self.replicated.version.subscribe()
    }

    fn relief(&self) -> watch::Receiver<u64> {
        self.forwarder.relief()
    }

    fn claim(&self, client_id: &str) -> Claim {
        self.claims.claim(client_id)
    }

    fn take_over<'a>(
        &'a self,
        client_id: &'a str,
        clean_start: bool,
        claim: &'a Claim,
    ) -> BoxFuture<'a, Takeover> {
        Box::pin(async move {
            let outcome = self
                .ask_for_session(client_id, clean_start, claim.at())
                .await;
            // A newer CONNECT of the id elsewhere asked meanwhile and won.
            if claim.superseded() {
                return match outcome {
                    Takeover::Found(h) => Takeover::Lost(Some(Box::new(h))),
                    _ => Takeover::Lost(None),
                };
            }
            outcome
        })
    }
}

impl ClusterNode {
    /// Asks every other node to let go of the session of `client_id` (see
    /// [`ClusterLink::take_over`]); `claim` is when this node claimed the id.
    async fn ask_for_session(&self, client_id: &str, clean_start: bool, claim: u64) -> Takeover {
        if self.has_left() {
            return Takeover::NotFound;
        }
        let peers = self.peers();
        if clean_start {
            // Nothing comes back: every node that has the session just ends it.
            let replies = futures_util::future::join_all(
                peers
                    .iter()
                    .map(|p| self.ask_takeover(p, client_id, true, claim)),
            )
            .await;
            if replies.iter().any(|r| matches!(r, Some(r) if r.busy)) {
                return Takeover::Lost(None);
            }
            return match replies.iter().any(|r| matches!(r, Some(r) if r.found)) {
                true => Takeover::Found(HandedOver::default()),
                false if replies.iter().all(Option::is_some) => Takeover::NotFound,
                false => Takeover::Unknown,
            };
        }
        // A session that ended or moved on between the two steps: asked again (it ended:
        // nobody holds it now, a fresh session; it moved: its new holder is asked).
        for _ in 0..3 {
            if let Some(outcome) = self.ask_holder(&peers, client_id, claim).await {
                return outcome;
            }
        }
        Takeover::Unknown
    }

    /// One try of [`ClusterNode::ask_for_session`] without a clean start: `None` if the node
    /// that held the session no longer did when asked to hand it over.
    async fn ask_holder(&self, peers: &[Member], client_id: &str, claim: u64) -> Option<Takeover> {
        let clean_start = false;
        // 1. Who holds it, and what it subscribes to.
        let prepared = futures_util::future::join_all(peers.iter().map(|p| async move {
            let ch = self.channel(&p.grpc).ok()?;
            let mut request = tonic::Request::new(TakeoverRequest {
                client_id: client_id.to_string(),
                clean_start,
                node: self.settings.name.clone(),
                claim,
            });
            request.set_timeout(PREPARE_TIMEOUT);
            self.settings.secret.sign(&mut request);
            match NodeClient::new(ch).prepare(request).await {
                Ok(r) => Some((p, r.into_inner())),
                Err(e) => {
                    tracing::warn!(node = %p.name, client_id, error = %e, "session takeover request failed");
                    None
                }
            }
        }))
        .await;
        if prepared.iter().flatten().any(|(_, r)| r.busy) {
            return Some(Takeover::Lost(None));
        }
        let answered = prepared.iter().all(Option::is_some);
        let Some((holder, reply)) = prepared.into_iter().flatten().find(|(_, r)| r.found) else {
            return Some(if answered {
                Takeover::NotFound
            } else {
                Takeover::Unknown
            });
        };
        // 2. Routes here before the session leaves there: nothing published meanwhile
        // goes nowhere.
        self.pin_routes(reply.filters).await;
        // 3. The hand-over.
        Some(
            match self.ask_takeover(holder, client_id, false, claim).await {
                Some(r) if r.busy => Takeover::Lost(None),
                Some(r) if r.found => match handover::decode(r.session) {
                    Ok(h) => {
                        tracing::info!(client_id, from = %holder.name, "session taken over from another node");
                        Takeover::Found(h)
                    }
                    Err(e) => {
                        tracing::warn!(client_id, from = %holder.name, error = %e, "unreadable handed-over session");
                        Takeover::Unknown
                    }
                },
                // It ended or moved on meanwhile: asked again.
                Some(_) => return None,
                None => Takeover::Unknown,
            },
        )
    }
}
