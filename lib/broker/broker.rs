//! The broker's shared state and what happens to a message once it is received: retained
//! store update, matching against the subscription tree, delivery into each subscriber's
//! outbox. Also the once-a-second housekeeping (session expiry, delayed wills, `$SYS`).

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use parking_lot::RwLock;

use super::capabilities::Capabilities;
use super::client_info::ClientInfo;
use super::cluster_link::{ClusterLink, HandedOver, StoredFields};
use super::enhanced_auth::{AuthMethods, EnhancedAuth};
use super::events::Observers;
use super::message::{Delivery, Message};
use super::retained::RetainedStore;
use super::session::InflightMessage;
use super::session::{Outbox, Queued, SessionState, SessionSubscription};
use super::sessions::Sessions;
use super::sessions::{Kick, NEVER_EXPIRES, PendingWill};
use super::stats::Stats;
use super::subscriptions::{Matches, Subscriber, SubscriptionTree};
use super::wills::WillQueue;
use crate::mqtt::Protocol;
use crate::mqtt::{MqttString, QoS};
use crate::storage::record::{SessionRecord, now_unix};
use crate::storage::{Change, Snapshot, Store};

/// What [`Broker::restore`] brought back.
#[derive(Debug, Default)]
pub struct Restored {
    /// Sessions restored.
    pub sessions: usize,
    /// Retained messages restored.
    pub retained: usize,
    /// Wills now due (of clients connected when the broker stopped, or whose delay passed).
    pub wills: Vec<Message>,
}

/// What publishing a message did.
#[derive(Debug, Clone, Copy, Default)]
pub struct Routed {
    /// Subscribers reached on this node, plus the nodes it was forwarded to.
    pub reached: usize,
    /// The store ticket after which it is durable for every persistent session it was
    /// queued for here (0: nothing to wait for).
    pub durable: u64,
    /// The forwarding ticket after which the nodes it went to acknowledged it (0: none).
    pub forwarded: u64,
    /// A node's queue was full: the message did not reach it.
    pub overflow: bool,
    /// A node's queue is filling up: the publisher should pause reading (see
    /// [`crate::broker::cluster_link::Forwarded::congested`]).
    pub congested: bool,
}

/// Which of this node's subscribers a message goes to.
#[derive(Debug, Clone, Copy)]
pub enum Audience<'a> {
    /// All of them (a message routed here first).
    Everyone,
    /// What the node that forwarded it chose this node for: its ordinary subscribers when
    /// `ordinary`, and one member of each of these shared subscriptions (`$share/g/f`).
    Peer {
        /// Deliver to the subscribers of ordinary (not shared) subscriptions.
        ordinary: bool,
        /// The shared subscriptions this node serves for the message.
        shared: &'a [String],
    },
}

/// What a reload decided for a connected client.
#[derive(Debug)]
pub enum Reassessed {
    /// Its ACL from now on (`None`: everything allowed).
    Acl(Option<Box<crate::auth::ClientAcl>>),
    /// It may no longer be connected (a blacklist rule bans it).
    Refused(crate::auth::Refusal),
}

/// The store records and deferred deliveries of one publish.
#[derive(Default)]
struct Batch<'o> {
    /// Records to submit.
    changes: Vec<Change>,
    /// Deliveries to persistent sessions, pushed once their records are submitted.
    deferred: Vec<(&'o Outbox, Delivery)>,
}

/// How often the cumulative counters are saved to the store.
const COUNTERS_SAVE_INTERVAL: Duration = Duration::from_secs(10);

/// One broker node: everything connections share.
#[derive(Debug)]
pub struct Broker {
    /// Limits and features.
    pub capabilities: Capabilities,
    /// Counters.
    pub stats: Stats,
    /// Every session's subscriptions, for routing.
    subscriptions: RwLock<SubscriptionTree>,
    /// Retained messages.
    pub retained: RetainedStore,
    /// Sessions by client id.
    pub sessions: Sessions,
    /// Source of connection identifiers.
    next_connection: AtomicU64,
    /// Client identifiers refused at CONNECT (0x8A Banned).
    banned: RwLock<std::collections::BTreeSet<String>>,
    /// Persistence, unless the broker runs in memory (`--storage-way 0`).
    pub store: Option<Arc<Store>>,
    /// Enhanced authentication methods (MQTT 5 AUTH).
    auth_methods: RwLock<AuthMethods>,
    /// Observers of client events (the Kafka bridge).
    pub events: Observers,
    /// Who may connect and what they may do; unset: everyone, everything. A reload replaces
    /// it (see [`Broker::replace_authenticator`]).
    authenticator: RwLock<Option<Arc<crate::auth::Authenticator>>>,
    /// ACLs a reload decided again for connected clients, by connection, until each
    /// connection takes its own ([`Broker::take_reassessed`]).
    reassessed: parking_lot::Mutex<std::collections::HashMap<u64, Reassessed>>,
    /// Overload protection (watermarks, shedding, refusals).
    pub overload: Arc<super::overload::Overload>,
    /// Settings a reload changes while clients stay connected.
    pub tunables: super::tunables::Tunables,
    /// The cluster this node belongs to; unset: a single node.
    cluster: std::sync::OnceLock<Arc<dyn ClusterLink>>,
    /// Reads sessions other nodes left in a shared store (a cluster on Redis).
    loader: std::sync::OnceLock<Arc<dyn crate::storage::SharedSessions>>,
    /// Wills waiting to be published at their subscribers' pace.
    pub wills: WillQueue,
    /// Every connection's keep alive, on one timer.
    pub keep_alive: Arc<super::keep_alive::KeepAlive>,
}

impl Broker {
    /// A broker with no session, subscription or retained message, in memory.
    pub fn new(capabilities: Capabilities) -> Arc<Broker> {
        Broker::with_store(capabilities, None)
    }

    /// A broker persisting to `store` (state already loaded with [`Broker::restore`]).
    pub fn with_store(capabilities: Capabilities, store: Option<Arc<Store>>) -> Arc<Broker> {
        Arc::new(Broker {
            tunables: super::tunables::Tunables::new(
                capabilities.client_rates,
                Duration::from_secs(1),
            ),
            capabilities,
            stats: Stats::default(),
            subscriptions: RwLock::new(SubscriptionTree::default()),
            retained: RetainedStore::default(),
            sessions: Sessions::with_store(store.clone()),
            next_connection: AtomicU64::new(1),
            banned: RwLock::new(Default::default()),
            store,
            auth_methods: RwLock::new(AuthMethods::default()),
            events: Observers::default(),
            authenticator: RwLock::new(None),
            reassessed: Default::default(),
            overload: Default::default(),
            cluster: std::sync::OnceLock::new(),
            loader: std::sync::OnceLock::new(),
            wills: WillQueue::default(),
            keep_alive: Default::default(),
        })
    }

    /// Sets who may connect and what they may do (`None`: everyone, everything); returns the
    /// one it replaces. Connections accepted from now on are decided by it; a reload then
    /// decides the connected clients again ([`Broker::reassess`]).
    pub fn replace_authenticator(
        &self,
        authenticator: Option<crate::auth::Authenticator>,
    ) -> Option<Arc<crate::auth::Authenticator>> {
        std::mem::replace(
            &mut *self.authenticator.write(),
            authenticator.map(Arc::new),
        )
    }

    /// The authenticator, if CONNECTs are checked.
    pub fn authenticator(&self) -> Option<Arc<crate::auth::Authenticator>> {
        self.authenticator.read().clone()
    }

    /// Whether `authenticator` is the one in force (none and none count as the same).
    pub fn authenticator_is(
        &self,
        authenticator: Option<&Arc<crate::auth::Authenticator>>,
    ) -> bool {
        match (self.authenticator.read().as_ref(), authenticator) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// Decides every connected client again under the authenticator in force (after a
    /// reload), 32 at a time (a datasource answers each over the network): each gets its new
    /// ACL from its next turn on, and a client the blacklist now bans is disconnected with
    /// 0x98 Administrative action. Returns how many clients were decided again.
    pub async fn reassess(&self) -> usize {
        use futures_util::StreamExt;
        let authenticator = self.authenticator();
        let online = self.sessions.online();
        let n = online.len();
        futures_util::stream::iter(online)
            .for_each_concurrent(32, |(info, connection, kick)| {
                let authenticator = authenticator.clone();
                async move {
                    self.reassess_one(authenticator, &info, connection, &kick)
                        .await;
                }
            })
            .await;
        n
    }

    /// Decides one connected client again (a CONNECT that was decided under the authenticator
    /// a reload replaced, and opened its session after the reload listed the clients).
    pub async fn reassess_client(&self, info: &ClientInfo, connection: u64, kick: &Kick) {
        let authenticator = self.authenticator();
        self.reassess_one(authenticator, info, connection, kick)
            .await;
    }

    /// Decides one client under `authenticator`. The decision is kept only while that
    /// authenticator is still the one in force (a later reload's decision is never replaced
    /// by an older one) and the connection still serves the client (nothing is kept for a
    /// connection that ended).
    async fn reassess_one(
        &self,
        authenticator: Option<Arc<crate::auth::Authenticator>>,
        info: &ClientInfo,
        connection: u64,
        kick: &Kick,
    ) {
        let verdict = match authenticator.as_deref() {
            None => Reassessed::Acl(None),
            Some(a) => {
                let credentials = crate::auth::Credentials {
                    client_id: &info.client_id,
                    username: info.username.as_deref(),
                    password: None,
                    remote: &info.remote,
                };
                match a.reassess(&credentials).await {
                    Ok(acl) => Reassessed::Acl(acl.map(Box::new)),
                    Err(crate::auth::Refusal::Unavailable) => {
                        // The datasource did not answer: the client keeps the ACL it has.
                        tracing::warn!(client_id = %info.client_id, "reload: the auth datasource did not answer; the client keeps its ACL");
                        return;
                    }
                    Err(refusal) => Reassessed::Refused(refusal),
                }
            }
        };
        self.sessions.if_served_by(&info.client_id, connection, || {
            if self.authenticator_is(authenticator.as_ref()) {
                self.reassessed.lock().insert(connection, verdict);
                kick.update(Kick::ACL);
            }
        });
    }

    /// What a reload decided for connection `connection`, once.
    pub fn take_reassessed(&self, connection: u64) -> Option<Reassessed> {
        self.reassessed.lock().remove(&connection)
    }

    /// Forgets what was decided for a connection that ended before taking it.
    pub fn forget_reassessed(&self, connection: u64) {
        let mut map = self.reassessed.lock();
        if !map.is_empty() {
            map.remove(&connection);
        }
    }

    /// Joins the broker to a cluster (once, before serving; false if already set). The link
    /// is told about every filter already subscribed (restored sessions), under the tree's
    /// lock, so no change slips between that list and the changes that follow.
    pub fn set_cluster_link(&self, link: Arc<dyn ClusterLink>) -> bool {
        let tree = self.subscriptions.write();
        if self.cluster.set(link.clone()).is_err() {
            return false;
        }
        self.retained.keep_tombstones();
        for filter in tree.filters() {
            link.filter_changed(&filter, true);
        }
        true
    }

    /// The cluster link, in cluster mode.
    pub fn cluster_link(&self) -> Option<&Arc<dyn ClusterLink>> {
        self.cluster.get()
    }

    /// Tells the cluster that `filter` appeared on or left this node (call under the tree's
    /// write lock).
    fn filter_changed(&self, filter: &str, present: bool) {
        if let Some(cluster) = self.cluster.get() {
            cluster.filter_changed(filter, present);
        }
    }

    /// A fresh connection identifier.
    pub fn next_connection_id(&self) -> u64 {
        self.next_connection
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// Publishes a message: updates the retained store if it is retained, then delivers it
    /// to every matching subscription. Returns the number of subscribers it reached.
    pub fn publish(&self, message: Message) -> usize {
        self.publish_durable(message).0
    }

    /// Publishes a will message: through the will queue, at the pace of its subscribers,
    /// when the queue's task runs ([`Broker::run_housekeeping`] starts it), else at once.
    pub fn publish_will(&self, will: Message) {
        if let Some(will) = self.wills.push(will) {
            self.publish(will);
        }
    }

    /// A connected subscriber of `topic` whose outbox is at least half full, if any.
    pub fn backlogged_subscriber(&self, topic: &str) -> Option<Arc<Outbox>> {
        let tree = self.subscriptions.read();
        let mut m = Matches::default();
        tree.matches(topic, &mut m);
        m.subscribers
            .iter()
            .chain(m.shared.iter().map(|(_, s)| s))
            .map(|s| &s.outbox)
            .find(|o| o.is_online() && o.is_backlogged())
            .cloned()
    }

    /// [`Broker::publish`], also returning the store ticket after which the message is durable
    /// for every persistent session it was queued for (0: nothing to wait for).
    pub fn publish_durable(&self, message: Message) -> (usize, u64) {
        let routed = self.publish_shared(Arc::new(message));
        (routed.reached, routed.durable)
    }

    /// [`Broker::publish_durable`] of a message already shared (a client's publish, which
    /// observers see too).
    pub fn publish_shared(&self, message: Arc<Message>) -> Routed {
        let mut retained_ticket = 0;
        if message.retain && self.capabilities.retain_available {
            let store = self
                .store
                .as_ref()
                .filter(|_| !message.topic.starts_with("$SYS"));
            let delta = self.retained.set_recorded(&message, |kept| {
                if let Some(store) = store {
                    retained_ticket = store.submit([Change::Retained {
                        topic: message.topic.detached(),
                        message: kept,
                    }]);
                }
            });
            if delta > 0 {
                Stats::add(&self.stats.retained, 1);
            } else if delta < 0 {
                Stats::sub(&self.stats.retained, 1);
            }
        }
        let mut routed = self.route(&message);
        routed.durable = routed.durable.max(retained_ticket);
        routed
    }

    /// A message another node of the cluster sent here: delivered to the subscribers it was
    /// chosen for (`audience`), and kept as the retained message of its topic when `retained`
    /// names when its origin stored it (unless a newer one is held). Never forwarded again;
    /// the retained copy is not persisted (its origin did that).
    pub fn publish_from_peer(
        &self,
        message: Arc<Message>,
        audience: Audience<'_>,
        retained: Option<std::time::SystemTime>,
    ) -> (usize, u64) {
        if let Some(at) = retained.filter(|_| self.capabilities.retain_available) {
            let delta = self.retained.set_if_newer(&message, at);
            if delta > 0 {
                Stats::add(&self.stats.retained, 1);
            } else if delta < 0 {
                Stats::sub(&self.stats.retained, 1);
            }
        }
        self.route_to(&message, audience, &mut Vec::new(), &mut 0)
    }

    /// Matches and delivers to everyone, then hands the message to the cluster; returns the
    /// subscribers reached (a node the message was forwarded to counts as one) and the store
    /// ticket.
    fn route(&self, message: &Arc<Message>) -> Routed {
        let mut served = Vec::new();
        let mut generation = 0;
        let (reached, durable) =
            self.route_to(message, Audience::Everyone, &mut served, &mut generation);
        let mut routed = Routed {
            reached,
            durable,
            ..Routed::default()
        };
        if let Some(cluster) = self.cluster.get()
            && !message.topic.starts_with("$SYS")
        {
            let served: Vec<&str> = served.iter().map(String::as_str).collect();
            let f = cluster.forward(message, &served, generation);
            routed.reached += f.nodes;
            routed.forwarded = f.ticket;
            routed.overflow = f.full;
            routed.congested = f.congested;
        }
        routed
    }

    /// Matches and delivers to this node's subscribers in `audience`; the shared
    /// subscriptions served here are added to `served` (in cluster mode), and the tree's
    /// generation it was matched at is `generation`.
    fn route_to(
        &self,
        message: &Arc<Message>,
        audience: Audience<'_>,
        served: &mut Vec<String>,
        generation: &mut u64,
    ) -> (usize, u64) {
        let tree = self.subscriptions.read();
        *generation = tree.generation();
        let mut m = Matches::default();
        tree.matches(&message.topic, &mut m);
        if let Audience::Peer { ordinary, shared } = audience {
            if !ordinary {
                m.subscribers.clear();
            }
            // Sorted once, so a message for many groups costs n log n, not n².
            let mut chosen: Vec<&str> = shared.iter().map(String::as_str).collect();
            chosen.sort_unstable();
            m.shared
                .retain(|(key, _)| chosen.binary_search(key).is_ok());
        }
        let publisher = message.publisher.as_ref();
        m.subscribers
            .retain(|s| !(s.options.no_local && Some(&s.outbox.client_id) == publisher));
        // A client with overlapping subscriptions gets the message once, at the highest
        // granted QoS, with every matching subscription identifier.
        m.subscribers
            .sort_unstable_by_key(|s| Arc::as_ptr(&s.outbox));
        let mut batch = Batch::default();
        let mut reached = 0;
        let mut rest = &m.subscribers[..];
        while let Some(first) = rest.first() {
            let same = rest
                .iter()
                .take_while(|s| Arc::ptr_eq(&s.outbox, &first.outbox))
                .count();
            let group = &rest[..same];
            let qos = group
                .iter()
                .map(|s| s.options.qos)
                .max()
                .unwrap_or(QoS::AtMostOnce);
            let retain_as_published = group.iter().any(|s| s.options.retain_as_published);
            let ids = group.iter().filter_map(|s| s.identifier).collect();
            self.deliver(
                &first.outbox,
                message,
                qos,
                retain_as_published && message.retain,
                ids,
                &mut batch,
            );
            reached += 1;
            rest = &rest[same..];
        }
        for (key, s) in &m.shared {
            if self.cluster.get().is_some() {
                served.push(key.to_string());
            }
            let ids = s.identifier.into_iter().collect();
            self.deliver(
                &s.outbox,
                message,
                s.options.qos,
                s.options.retain_as_published && message.retain,
                ids,
                &mut batch,
            );
            reached += 1;
        }
        if let Some(origin) = &message.origin
            && !batch.deferred.is_empty()
        {
            // Forwarded by another node, and recorded for persistent sessions here: the mark
            // that spares them a parked copy if the acknowledgement never reaches the sender.
            batch.changes.push(Change::Handled {
                sender: origin.node.clone(),
                epoch: origin.epoch,
                seq: origin.seq,
            });
        }
        (reached, self.finish(batch))
    }

    /// Delivers to one subscriber. A delivery to a persistent session gets its store record
    /// and is pushed only in [`Broker::finish`], after the record is submitted: whatever the
    /// subscriber's connection records about it later is then ordered after it.
    fn deliver<'o>(
        &self,
        outbox: &'o Outbox,
        message: &Arc<Message>,
        granted: QoS,
        retain: bool,
        subscription_ids: Vec<u32>,
        batch: &mut Batch<'o>,
    ) {
        let qos = granted.min(message.qos);
        let mut delivery = Delivery {
            message: message.clone(),
            qos,
            retain,
            subscription_ids,
            seq: 0,
        };
        if let Some(store) = self
            .store
            .as_ref()
            .filter(|_| qos != QoS::AtMostOnce && outbox.is_persistent())
        {
            delivery.seq = store.next_seq();
            batch.changes.push(Change::Message {
                client_id: outbox.client_id.clone(),
                seq: delivery.seq,
                delivery: delivery.clone(),
                packet_id: 0,
                stage: None,
            });
            batch.deferred.push((outbox, delivery));
        } else {
            self.push(outbox, delivery, &mut batch.changes);
        }
    }

    /// Pushes into an outbox; records the removal of persisted messages it drops.
    fn push(&self, outbox: &Outbox, delivery: Delivery, changes: &mut Vec<Change>) {
        if delivery.qos == QoS::AtMostOnce
            && self.overload.is_overloaded()
            && outbox.len() >= super::overload::SLOW_SUBSCRIBER
        {
            // Overloaded: a subscriber already behind loses QoS 0 first.
            self.overload.count_shed();
            Stats::add(&self.stats.messages_dropped, 1);
            return;
        }
        if let Queued::DroppedOldest(dropped) = outbox.push(delivery) {
            Stats::add(&self.stats.messages_dropped, dropped.len() as u64);
            for d in dropped.iter().filter(|d| d.seq != 0) {
                changes.push(Change::MessageDone {
                    client_id: outbox.client_id.clone(),
                    seq: d.seq,
                });
            }
        }
    }

    /// Submits the batch's records, then pushes its persisted deliveries; returns the ticket.
    fn finish(&self, batch: Batch<'_>) -> u64 {
        let Batch { changes, deferred } = batch;
        let ticket = self.persist(changes);
        let mut drops = Vec::new();
        for (outbox, delivery) in deferred {
            self.push(outbox, delivery, &mut drops);
        }
        ticket.max(self.persist(drops))
    }

    /// Delivers a retained message to one new subscription (RETAIN set `[MQTT-3.3.1-9]`).
    pub fn deliver_retained(
        &self,
        outbox: &Outbox,
        message: &Arc<Message>,
        sub: &SessionSubscription,
    ) -> u64 {
        let ids = sub.identifier.into_iter().collect();
        let mut batch = Batch::default();
        self.deliver(outbox, message, sub.options.qos, true, ids, &mut batch);
        self.finish(batch)
    }

    /// Takes a message another node parked for a session of this node into the session: it
    /// becomes one of the session's own messages (new sequence number) in the same commit
    /// that removes the parked copy, so it is neither lost nor doubled by a crash between.
    fn take_parked(&self, client_id: &MqttString, outbox: &Outbox, field: String, mut d: Delivery) {
        d.seq = match &self.store {
            Some(store) if d.qos != QoS::AtMostOnce => store.next_seq(),
            _ => 0,
        };
        let mut changes = Vec::with_capacity(2);
        if d.seq != 0 {
            changes.push(Change::Message {
                client_id: client_id.clone(),
                seq: d.seq,
                delivery: d.clone(),
                packet_id: 0,
                stage: None,
            });
        }
        changes.push(Change::ParkedDone {
            client_id: client_id.clone(),
            field,
        });
        self.persist(changes);
        let mut drops = Vec::new();
        self.push(outbox, d, &mut drops);
        self.persist(drops);
    }

    /// Takes the messages other nodes parked for `client_id` into its session here, if this
    /// node holds it and is its owner in the shared store. Returns how many were taken.
    pub async fn claim_parked(
        &self,
        client_id: &str,
        me: &str,
        received: &(dyn Fn(&str, u64, u64) -> bool + Sync),
    ) -> Result<usize, crate::storage::StoreError> {
        let Some(loader) = self.loader.get().cloned() else {
            return Ok(0);
        };
        let Some(outbox) = self.sessions.outbox(client_id) else {
            // No session here: a mark left by a session that ended is cleared by its owner.
            return Ok(0);
        };
        let (id, node) = (client_id.to_string(), me.to_string());
        let claimed = tokio::task::spawn_blocking(move || loader.claim(&id, &node))
            .await
            .map_err(|_| crate::storage::StoreError::Corrupt("the session loader stopped"))??;
        let Some(parked) = claimed else {
            // Another node holds the session now (this node was frozen or cut off while its
            // client moved): the copy here is stale and goes, without a word to the store.
            if let Some(released) = self.sessions.release(client_id).await {
                tracing::warn!(
                    client_id,
                    "session held by another node now: the stale copy here is dropped"
                );
                self.end_session(&released.state, &released.outbox);
            }
            return Ok(0);
        };
        let client_id = MqttString::from(client_id);
        let now = Instant::now();
        let count = parked.len();
        for (field, stored) in parked {
            // A copy of a message this node received from its sender after all (the
            // sender parked it when the acknowledgement did not reach it) is dropped.
            let had = parked_copy_received(&field, me, received);
            if had || stored.delivery.message.is_expired(now) {
                self.persist(vec![Change::ParkedDone {
                    client_id: client_id.clone(),
                    field,
                }]);
                continue;
            }
            self.take_parked(&client_id, &outbox, field, stored.delivery);
        }
        if count > 0 {
            tracing::info!(client_id = %client_id, count, "messages parked by other nodes taken in");
        }
        Ok(count)
    }

    /// Takes in the messages other nodes parked for any session this node holds.
    pub async fn claim_all_parked(
        &self,
        me: &str,
        received: &(dyn Fn(&str, u64, u64) -> bool + Sync),
    ) -> Result<usize, crate::storage::StoreError> {
        let Some(loader) = self.loader.get().cloned() else {
            return Ok(0);
        };
        let marked = tokio::task::spawn_blocking(move || loader.parked_clients())
            .await
            .map_err(|_| crate::storage::StoreError::Corrupt("the session loader stopped"))??;
        let mut taken = 0;
        for client_id in marked {
            if self.sessions.outbox(&client_id).is_some() {
                taken += self.claim_parked(&client_id, me, received).await?;
            }
        }
        Ok(taken)
    }

    /// Submits changes to the store, if there is one; returns the ticket (0: nothing to wait).
    pub fn persist(&self, changes: Vec<Change>) -> u64 {
        match &self.store {
            Some(store) if !changes.is_empty() => store.submit(changes),
            _ => 0,
        }
    }

    /// Adds a subscription of the session whose outbox is `outbox`; true if it did not
    /// exist before.
    pub fn subscribe(&self, outbox: &Arc<Outbox>, filter: &str, sub: SessionSubscription) -> bool {
        let subscriber = Subscriber {
            outbox: outbox.clone(),
            options: sub.options,
            identifier: sub.identifier,
        };
        let mut tree = self.subscriptions.write();
        let appeared = !tree.has_filter(filter);
        let is_new = tree.subscribe(filter, subscriber);
        outbox.mark_subscribed(tree.generation());
        if appeared {
            self.filter_changed(filter, true);
        }
        self.stats
            .subscriptions
            .store(tree.len() as u64, std::sync::atomic::Ordering::Relaxed);
        is_new
    }

    /// Removes the subscription of the session whose outbox is `outbox`; true if it existed.
    pub fn unsubscribe(&self, outbox: &Arc<Outbox>, filter: &str) -> bool {
        let mut tree = self.subscriptions.write();
        let existed = tree.unsubscribe(filter, outbox);
        if existed && !tree.has_filter(filter) {
            self.filter_changed(filter, false);
        }
        self.stats
            .subscriptions
            .store(tree.len() as u64, std::sync::atomic::Ordering::Relaxed);
        existed
    }

    /// Loads persisted state at startup: persistent sessions come back offline with their
    /// subscriptions, queued and in-flight messages and inbound QoS 2 ids; retained messages
    /// come back; expired sessions and messages are dropped. A session that was online when
    /// the broker stopped lost its connection abnormally, so its will is due: the wills due
    /// are returned, for the caller to publish once the node is ready (in a cluster, once it
    /// has rejoined, so they reach the other nodes too), with the number of sessions and
    /// retained messages restored.
    pub fn restore(&self, snapshot: Snapshot) -> Restored {
        let now = Instant::now();
        let unix = now_unix();
        let mut restored = 0;
        // Published once every session (and so every subscription) is back.
        let mut due_wills = Vec::new();
        for s in snapshot.sessions {
            let r = s.record;
            let elapsed = unix.saturating_sub(r.last_seen);
            let expired = !r.online
                && r.expiry_interval != NEVER_EXPIRES
                && elapsed >= r.expiry_interval as u64;
            if expired {
                self.persist(vec![Change::SessionEnded {
                    client_id: s.client_id.clone(),
                }]);
                if let Some((_, will)) = r.will {
                    due_wills.push(will);
                }
                continue;
            }
            let disconnected_at = if r.online {
                now
            } else {
                now.checked_sub(Duration::from_secs(elapsed)).unwrap_or(now)
            };
            let protocol = match r.protocol_level {
                3 => Protocol::V3_1,
                4 => Protocol::V3_1_1,
                _ => Protocol::V5,
            };
            let client_id = s.client_id;
            let outbox = Arc::new(Outbox::new(
                client_id.clone(),
                self.capabilities.maximum_queued_messages,
            ));
            outbox.set_persistent(true);
            let info = Arc::new(ClientInfo::new(client_id.clone(), String::new(), protocol));
            let mut state = SessionState::default();
            for (filter, options, identifier) in s.subscriptions {
                let sub = SessionSubscription {
                    options,
                    identifier,
                };
                self.subscribe(&outbox, &filter, sub);
                info.subscribed(&filter);
                state.subscriptions.insert(filter, sub);
            }
            let origins = origins_of(s.messages.iter().map(|(_, m)| &m.delivery));
            let mut messages = s.messages;
            messages.sort_by_key(|(seq, _)| *seq);
            for (seq, mut stored) in messages {
                stored.delivery.seq = seq;
                if stored.delivery.message.is_expired(now) {
                    self.persist(vec![Change::MessageDone {
                        client_id: client_id.clone(),
                        seq,
                    }]);
                    continue;
                }
                match stored.stage {
                    Some(stage) if stored.packet_id != 0 => {
                        state.inflight.push_back(InflightMessage {
                            packet_id: stored.packet_id,
                            delivery: stored.delivery,
                            stage,
                        });
                        Stats::add(&self.stats.inflight, 1);
                        Stats::add(&info.inflight, 1);
                    }
                    _ => {
                        if let Queued::DroppedOldest(dropped) = outbox.push(stored.delivery) {
                            let done = dropped.iter().map(|d| Change::MessageDone {
                                client_id: client_id.clone(),
                                seq: d.seq,
                            });
                            self.persist(done.collect());
                        }
                    }
                }
            }
            // Messages other nodes parked while this node was away come after its own (a
            // parked copy of a message this node had received already is dropped).
            for (field, stored) in s.parked {
                if stored.delivery.message.is_expired(now) || already_had(&field, &origins) {
                    self.persist(vec![Change::ParkedDone {
                        client_id: client_id.clone(),
                        field,
                    }]);
                    continue;
                }
                self.take_parked(&client_id, &outbox, field, stored.delivery);
            }
            state.inbound_qos2 = s.inbound_qos2.into_iter().collect();
            let will = match r.will {
                Some((0, message)) => {
                    due_wills.push(message);
                    None
                }
                Some((delay, message)) => Some(Box::new(PendingWill {
                    at: now + Duration::from_secs(delay as u64),
                    message,
                })),
                None => None,
            };
            if r.online {
                // From now on the session is offline; a second restart must not send the will again.
                let record = SessionRecord {
                    online: false,
                    last_seen: unix,
                    will: will.as_ref().map(|w| {
                        (
                            w.at.saturating_duration_since(now).as_secs() as u32,
                            w.message.clone(),
                        )
                    }),
                    ..r
                };
                self.persist(vec![Change::Session {
                    client_id: client_id.clone(),
                    record,
                }]);
            }
            self.sessions.restore(
                client_id,
                outbox,
                state,
                r.expiry_interval,
                disconnected_at,
                will,
                info,
            );
            restored += 1;
        }
        if let Some(sys) = snapshot
            .sys
            .as_ref()
            .filter(|_| self.capabilities.restore_counters)
        {
            self.stats.restore(sys);
        }
        let mut retained = 0;
        for m in snapshot.retained {
            if !m.is_expired(now) && self.retained.set(&Arc::new(m)) > 0 {
                Stats::add(&self.stats.retained, 1);
                retained += 1;
            }
        }
        Restored {
            sessions: restored,
            retained,
            wills: due_wills,
        }
    }

    /// Registers an enhanced authentication method.
    pub fn register_auth_method(&self, method: Arc<dyn EnhancedAuth>) {
        self.auth_methods.write().register(method);
    }

    /// The enhanced authentication method called `name`, if registered.
    pub fn auth_method(&self, name: &str) -> Option<Arc<dyn EnhancedAuth>> {
        self.auth_methods.read().get(name).cloned()
    }

    /// Removes the retained message of `topic`, in memory and in the store; true if there was one.
    pub fn remove_retained(&self, topic: &str) -> bool {
        let removed = self.retained.remove(topic, || {
            self.persist(vec![Change::Retained {
                topic: MqttString::from(topic),
                message: None,
            }]);
        });
        if removed {
            Stats::sub(&self.stats.retained, 1);
        }
        removed
    }

    /// Waits until the store has made `ticket` durable (at once without a store).
    pub async fn durable(&self, ticket: u64) {
        if let Some(store) = self.store.as_ref().filter(|_| ticket > 0) {
            let _ = store.committed().wait_for(|c| *c >= ticket).await;
        }
    }

    /// Saves the cumulative counters to the store, if there is one.
    pub fn save_counters(&self) {
        self.persist(vec![Change::Sys(self.stats.record())]);
    }

    /// Every subscribed filter with its number of subscribers.
    pub fn subscription_summary(&self) -> Vec<(String, usize)> {
        // Sorted after the tree's lock is released.
        let mut all = self.subscriptions.read().summary();
        all.sort_unstable();
        all
    }

    /// Disconnects every client (v5: DISCONNECT 0x8B Server shutting down), and every client
    /// that completes its CONNECT from now on: the broker is stopping.
    pub fn disconnect_all(&self) {
        self.sessions
            .kick_all(crate::mqtt::ReasonCode::SERVER_SHUTTING_DOWN);
    }

    /// Bans a client id: refused at CONNECT from now on, and disconnected (0x98 Administrative
    /// action) if connected. True if it was not banned before.
    pub fn ban(&self, client_id: &str) -> bool {
        let added = self.banned.write().insert(client_id.to_string());
        self.sessions
            .kick(client_id, crate::mqtt::ReasonCode::ADMINISTRATIVE_ACTION);
        added
    }

    /// Lifts a ban; true if there was one.
    pub fn unban(&self, client_id: &str) -> bool {
        self.banned.write().remove(client_id)
    }

    /// True if the client id is banned.
    pub fn is_banned(&self, client_id: &str) -> bool {
        self.banned.read().contains(client_id)
    }

    /// The banned client ids, sorted.
    pub fn banned(&self) -> Vec<String> {
        self.banned.read().iter().cloned().collect()
    }

    /// Another node takes over the session of `client_id` (its client connects there now):
    /// the session leaves this node with its state and queued messages (only the will, if it
    /// was pending and `clean_start` discards the session, is published here). Waits until
    /// this node's store writes are done, so they cannot land after the new node's.
    pub async fn hand_over(&self, client_id: &str, clean_start: bool) -> Option<HandedOver> {
        let released = self.sessions.release(client_id).await?;
        // The session stays subscribed while this node's store catches up, so what arrives
        // meanwhile is queued and goes along: the gap before the new node takes over is only
        // the reply's way there.
        self.flush_store(client_id).await;
        self.end_session(&released.state, &released.outbox);
        let queued = released.outbox.take_all();
        if clean_start && let Some(will) = released.will {
            self.publish(will);
        }
        // Records of what was queued meanwhile, before the new node rewrites the session.
        self.flush_store(client_id).await;
        tracing::debug!(
            client_id,
            queued = queued.len(),
            "session handed over to another node"
        );
        Some(if clean_start {
            HandedOver::default()
        } else {
            HandedOver {
                state: released.state,
                queued,
                expiry_interval: released.expiry_interval,
                from_store: None,
            }
        })
    }

    /// Sets where sessions of nodes that are gone are read from (once).
    pub fn set_session_loader(&self, loader: Arc<dyn crate::storage::SharedSessions>) -> bool {
        self.loader.set(loader).is_ok()
    }

    /// The sessions shared with the other nodes of the cluster, if the store is shared.
    pub fn shared_sessions(&self) -> Option<Arc<dyn crate::storage::SharedSessions>> {
        self.loader.get().cloned()
    }

    /// The session a node that is gone left in the shared store for `client_id`, as a
    /// hand-over (so [`Broker::adopt`] rewrites it as this node's). `Ok(None)` without a
    /// loader or without such a session; `Err` when the store cannot be read (logged, and the
    /// store counts as unhealthy until it answers again).
    pub async fn load_orphan(
        &self,
        client_id: &str,
    ) -> Result<Option<HandedOver>, crate::storage::StoreError> {
        let Some(loader) = self.loader.get().cloned() else {
            return Ok(None);
        };
        let id = client_id.to_string();
        let loaded = tokio::task::spawn_blocking(move || loader.load_session(&id)).await;
        let stored = match loaded {
            Ok(Ok(Some(s))) => s,
            Ok(Ok(None)) => return Ok(None),
            Ok(Err(e)) => {
                tracing::warn!(client_id, error = %e, "reading the session from the shared store failed");
                if let Some(store) = &self.store {
                    store.report_failure();
                }
                return Err(e);
            }
            Err(_) => {
                return Err(crate::storage::StoreError::Corrupt(
                    "the session loader stopped",
                ));
            }
        };
        let now = Instant::now();
        let elapsed = now_unix().saturating_sub(stored.record.last_seen);
        if !stored.record.online
            && stored.record.expiry_interval != NEVER_EXPIRES
            && elapsed >= stored.record.expiry_interval as u64
        {
            return Ok(None);
        }
        let mut handed = HandedOver {
            expiry_interval: stored.record.expiry_interval,
            ..HandedOver::default()
        };
        for (filter, options, identifier) in stored.subscriptions {
            handed.state.subscriptions.insert(
                filter,
                SessionSubscription {
                    options,
                    identifier,
                },
            );
        }
        let mut fields = StoredFields {
            owner: stored.owner.clone(),
            ..StoredFields::default()
        };
        let origins = origins_of(stored.messages.iter().map(|(_, m)| &m.delivery));
        for (seq, m) in stored.messages {
            fields.seqs.push(seq);
            if m.delivery.message.is_expired(now) {
                continue;
            }
            match m.stage {
                Some(stage) if m.packet_id != 0 => {
                    handed.state.inflight.push_back(InflightMessage {
                        packet_id: m.packet_id,
                        delivery: m.delivery,
                        stage,
                    })
                }
                _ => handed.queued.push(m.delivery),
            }
        }
        for (field, m) in stored.parked {
            let fresh = !m.delivery.message.is_expired(now) && !already_had(&field, &origins);
            fields.parked.push(field);
            if fresh {
                handed.queued.push(m.delivery);
            }
        }
        handed.from_store = Some(fields);
        handed.state.inbound_qos2 = stored.inbound_qos2.into_iter().collect();
        tracing::info!(client_id, from = ?stored.owner, "session of a node that is gone loaded from the shared store");
        Ok(Some(handed))
    }

    /// Waits (at most 2 s) until the store has written everything submitted so far.
    async fn flush_store(&self, client_id: &str) {
        if let Some(store) = &self.store
            && tokio::time::timeout(Duration::from_secs(2), store.flush())
                .await
                .is_err()
        {
            tracing::warn!(
                client_id,
                "store writes of a session handed over are still pending"
            );
        }
    }

    /// Installs a session another node handed over, offline, so the connection that asked
    /// for it resumes it. With `persistent`, everything the store held under the client id
    /// is replaced by the session as it is now (sequence numbers are this node's).
    pub fn adopt(&self, client_id: &MqttString, handed: HandedOver, persistent: bool) {
        let store = self.store.as_ref().filter(|_| persistent);
        let outbox = Arc::new(Outbox::new(
            client_id.clone(),
            self.capabilities.maximum_queued_messages,
        ));
        outbox.set_persistent(store.is_some());
        let info = Arc::new(ClientInfo::new(
            client_id.clone(),
            String::new(),
            Protocol::V5,
        ));
        let mut changes = Vec::new();
        match &handed.from_store {
            // Read from the shared store: its fields are replaced one by one (a parcel
            // parked meanwhile stays, and is taken in when found).
            Some(fields) => {
                if let Some(from) = &fields.owner {
                    // Messages routed to its old node are parked for it still (and come
                    // here from there).
                    changes.push(Change::SessionMoved {
                        client_id: client_id.clone(),
                        from: from.clone(),
                    });
                }
                for seq in &fields.seqs {
                    changes.push(Change::MessageDone {
                        client_id: client_id.clone(),
                        seq: *seq,
                    });
                }
                for field in &fields.parked {
                    changes.push(Change::ParkedDone {
                        client_id: client_id.clone(),
                        field: field.clone(),
                    });
                }
            }
            // Handed over by a live node (its writes flushed first): rewritten wholesale.
            None => changes.push(Change::SessionReset {
                client_id: client_id.clone(),
            }),
        }
        let mut state = handed.state;
        for (filter, sub) in &state.subscriptions {
            self.subscribe(&outbox, filter, *sub);
            info.subscribed(filter);
            changes.push(Change::Subscribed {
                client_id: client_id.clone(),
                filter: filter.clone(),
                options: sub.options,
                identifier: sub.identifier,
            });
        }
        for m in state.inflight.iter_mut() {
            m.delivery.seq = store.map_or(0, |s| s.next_seq());
            changes.push(Change::Message {
                client_id: client_id.clone(),
                seq: m.delivery.seq,
                delivery: m.delivery.clone(),
                packet_id: m.packet_id,
                stage: Some(m.stage),
            });
            Stats::add(&self.stats.inflight, 1);
        }
        for mut d in handed.queued {
            d.seq = match store {
                Some(s) if d.qos != QoS::AtMostOnce => s.next_seq(),
                _ => 0,
            };
            if d.seq != 0 {
                changes.push(Change::Message {
                    client_id: client_id.clone(),
                    seq: d.seq,
                    delivery: d.clone(),
                    packet_id: 0,
                    stage: None,
                });
            }
            self.push(&outbox, d, &mut changes);
        }
        for id in &state.inbound_qos2 {
            changes.push(Change::InboundQos2 {
                client_id: client_id.clone(),
                packet_id: *id,
                present: true,
            });
        }
        if store.is_some() {
            self.persist(changes);
        }
        self.sessions.restore(
            client_id.clone(),
            outbox,
            state,
            handed.expiry_interval,
            Instant::now(),
            None,
            info,
        );
    }

    /// Removes every subscription of an ended session from the router.
    pub fn end_session(&self, state: &SessionState, outbox: &Arc<Outbox>) {
        Stats::sub(&self.stats.inflight, state.inflight.len() as u64);
        if state.subscriptions.is_empty() {
            return;
        }
        let mut tree = self.subscriptions.write();
        for filter in state.subscriptions.keys() {
            if tree.unsubscribe(filter, outbox) && !tree.has_filter(filter) {
                self.filter_changed(filter, false);
            }
        }
        self.stats
            .subscriptions
            .store(tree.len() as u64, std::sync::atomic::Ordering::Relaxed);
    }

    /// One housekeeping pass: ends expired sessions, publishes due wills, drops expired
    /// retained messages.
    pub fn housekeeping(&self, now: Instant) {
        let expired = self.sessions.expire(now);
        for (client_id, state, outbox) in &expired.sessions {
            tracing::debug!(client_id = %client_id, "session expired");
            self.end_session(state, outbox);
        }
        for will in expired.wills {
            tracing::debug!(topic = %will.topic, "publishing delayed will");
            self.publish_will(will);
        }
        let purged = self.retained.purge_expired(now);
        if purged > 0 {
            Stats::sub(&self.stats.retained, purged as u64);
        }
    }

    /// Runs housekeeping every second, and publishes `$SYS` topics every `sys_interval`
    /// (never when zero), until `shutdown` fires.
    pub async fn run_housekeeping(
        self: Arc<Self>,
        sys_interval: Duration,
        mut shutdown: crate::shutdown::Shutdown,
    ) {
        tokio::spawn(WillQueue::run(self.clone(), shutdown.clone()));
        tokio::spawn(super::overload::run(self.clone(), shutdown.clone()));
        self.tunables.set_sys_interval(sys_interval);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut last_sys: Option<Instant> = None;
        let mut last_save = Instant::now();
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    let now = Instant::now();
                    self.housekeeping(now);
                    let sys_interval = self.tunables.sys_interval();
                    if !sys_interval.is_zero() && last_sys.is_none_or(|t| now.duration_since(t) >= sys_interval) {
                        super::sys::publish(&self, now);
                        last_sys = Some(now);
                    }
                    if now.duration_since(last_save) >= COUNTERS_SAVE_INTERVAL {
                        self.save_counters();
                        last_save = now;
                    }
                }
                _ = shutdown.wait() => return,
            }
        }
    }
}

/// The origins of the forwarded messages among `deliveries`.
fn origins_of<'d>(
    deliveries: impl Iterator<Item = &'d Delivery>,
) -> std::collections::HashSet<(String, u64, u64)> {
    deliveries
        .filter_map(|d| d.message.origin.as_ref())
        .map(|o| (o.node.to_string(), o.epoch, o.seq))
        .collect()
}

/// True if the parked `field` is a copy of a message that node `me` received from its sender
/// (`received` says which sequence numbers of a sender's stream to `me` it handled). Only a
/// copy that was sent to `me` can have been: one parked for another node's sessions, which
/// moved here, never was, whatever `me`'s own stream from that sender reached (and a field
/// that does not name its receiver is taken in: a duplicate rather than a loss).
fn parked_copy_received(
    field: &str,
    me: &str,
    received: &(dyn Fn(&str, u64, u64) -> bool + Sync),
) -> bool {
    crate::storage::parked_receiver(field).as_deref() == Some(me)
        && crate::storage::parked_origin(field)
            .is_some_and(|(node, epoch, seq)| received(node, epoch, seq))
}

/// True if the parked `field` is a copy of a message among `origins` (its node had received
/// it, and the sender parked it again as the acknowledgement did not reach it).
fn already_had(field: &str, origins: &std::collections::HashSet<(String, u64, u64)>) -> bool {
    !origins.is_empty()
        && crate::storage::parked_origin(field)
            .is_some_and(|(node, epoch, seq)| origins.contains(&(node.to_string(), epoch, seq)))
}

#[cfg(test)]
mod tests {
    use super::parked_copy_received;
    use crate::storage::parked_field;

    /// Node c1 handled c0's stream to it up to number 100: of c0's copies parked with
    /// smaller numbers, only those that were sent to c1 are copies it has; one parked for
    /// c2's sessions (one of which moved to c1) is taken in, not dropped as "received".
    #[test]
    fn only_a_copy_sent_to_this_node_counts_as_received_by_it() {
        let received = |node: &str, epoch: u64, seq: u64| node == "c0" && epoch == 7 && seq <= 100;
        let for_c1 = parked_field(1, "c0", 7, 42, "c1", true);
        let for_c2 = parked_field(1, "c0", 7, 42, "c2", true);
        let later = parked_field(1, "c0", 7, 142, "c1", true);
        // Parked while c1 was away, never sent to it: c1's numbers from c0 passing 42 since
        // say nothing about it.
        let never_sent = parked_field(1, "c0", 7, 42, "c1", false);
        assert!(!parked_copy_received(&never_sent, "c1", &received));
        assert!(parked_copy_received(&for_c1, "c1", &received));
        assert!(!parked_copy_received(&for_c2, "c1", &received));
        assert!(!parked_copy_received(&later, "c1", &received));
        let unnamed = "p:0000000000001:c0:0000000000000007:000000000000002a";
        assert!(!parked_copy_received(unnamed, "c1", &received));
    }
}
