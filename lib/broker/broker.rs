//! The broker's shared state and what happens to a message once it is received: retained
//! store update, matching against the subscription tree, delivery into each subscriber's
//! outbox. Also the once-a-second housekeeping (session expiry, delayed wills, `$SYS`).

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::RwLock;

use super::capabilities::Capabilities;
use super::message::{Delivery, Message};
use super::retained::RetainedStore;
use super::session::{Outbox, Queued, SessionState, SessionSubscription};
use super::sessions::Sessions;
use super::stats::Stats;
use super::subscriptions::{Matches, Subscriber, SubscriptionTree};
use crate::mqtt::{MqttString, QoS};

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
}

impl Broker {
    /// A broker with no session, subscription or retained message.
    pub fn new(capabilities: Capabilities) -> Arc<Broker> {
        Arc::new(Broker {
            capabilities,
            stats: Stats::default(),
            subscriptions: RwLock::new(SubscriptionTree::default()),
            retained: RetainedStore::default(),
            sessions: Sessions::default(),
            next_connection: AtomicU64::new(1),
            banned: RwLock::new(Default::default()),
        })
    }

    /// A fresh connection identifier.
    pub fn next_connection_id(&self) -> u64 {
        self.next_connection.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// Publishes a message: updates the retained store if it is retained, then delivers it
    /// to every matching subscription. Returns the number of subscribers it reached.
    pub fn publish(&self, message: Message) -> usize {
        let message = Arc::new(message);
        if message.retain && self.capabilities.retain_available {
            let delta = self.retained.set(&message);
            if delta > 0 {
                Stats::add(&self.stats.retained, 1);
            } else if delta < 0 {
                Stats::sub(&self.stats.retained, 1);
            }
        }
        self.route(&message)
    }

    fn route(&self, message: &Arc<Message>) -> usize {
        let tree = self.subscriptions.read();
        let mut m = Matches::default();
        tree.matches(&message.topic, &mut m);
        let publisher = message.publisher.as_ref();
        m.subscribers.retain(|s| !(s.options.no_local && Some(&s.outbox.client_id) == publisher));
        // A client with overlapping subscriptions gets the message once, at the highest
        // granted QoS, with every matching subscription identifier.
        m.subscribers.sort_unstable_by_key(|s| Arc::as_ptr(&s.outbox));
        let mut reached = 0;
        let mut rest = &m.subscribers[..];
        while let Some(first) = rest.first() {
            let same = rest.iter().take_while(|s| Arc::ptr_eq(&s.outbox, &first.outbox)).count();
            let group = &rest[..same];
            let qos = group.iter().map(|s| s.options.qos).max().unwrap_or(QoS::AtMostOnce);
            let retain_as_published = group.iter().any(|s| s.options.retain_as_published);
            let ids = group.iter().filter_map(|s| s.identifier).collect();
            self.deliver(&first.outbox, message, qos, retain_as_published && message.retain, ids);
            reached += 1;
            rest = &rest[same..];
        }
        for s in &m.shared {
            let ids = s.identifier.into_iter().collect();
            self.deliver(&s.outbox, message, s.options.qos, s.options.retain_as_published && message.retain, ids);
            reached += 1;
        }
        reached
    }

    fn deliver(&self, outbox: &Outbox, message: &Arc<Message>, granted: QoS, retain: bool, subscription_ids: Vec<u32>) {
        let delivery = Delivery { message: message.clone(), qos: granted.min(message.qos), retain, subscription_ids };
        if let Queued::DroppedOldest = outbox.push(delivery) {
            Stats::add(&self.stats.messages_dropped, 1);
        }
    }

    /// Delivers a retained message to one new subscription (RETAIN set `[MQTT-3.3.1-9]`).
    pub fn deliver_retained(&self, outbox: &Outbox, message: &Arc<Message>, sub: &SessionSubscription) {
        let ids = sub.identifier.into_iter().collect();
        self.deliver(outbox, message, sub.options.qos, true, ids);
    }

    /// Adds a subscription of `client_id`; true if it did not exist before.
    pub fn subscribe(&self, client_id: &MqttString, outbox: &Arc<Outbox>, filter: &str, sub: SessionSubscription) -> bool {
        let subscriber = Subscriber { outbox: outbox.clone(), options: sub.options, identifier: sub.identifier };
        let mut tree = self.subscriptions.write();
        let is_new = tree.subscribe(filter, client_id, subscriber);
        self.stats.subscriptions.store(tree.len() as u64, std::sync::atomic::Ordering::Relaxed);
        is_new
    }

    /// Removes a subscription of `client_id`; true if it existed.
    pub fn unsubscribe(&self, client_id: &str, filter: &str) -> bool {
        let mut tree = self.subscriptions.write();
        let existed = tree.unsubscribe(filter, client_id);
        self.stats.subscriptions.store(tree.len() as u64, std::sync::atomic::Ordering::Relaxed);
        existed
    }

    /// Every subscribed filter with its number of subscribers.
    pub fn subscription_summary(&self) -> Vec<(String, usize)> {
        self.subscriptions.read().summary()
    }

    /// Bans a client id: refused at CONNECT from now on, and disconnected (0x98 Administrative
    /// action) if connected. True if it was not banned before.
    pub fn ban(&self, client_id: &str) -> bool {
        let added = self.banned.write().insert(client_id.to_string());
        self.sessions.kick(client_id, crate::mqtt::ReasonCode::ADMINISTRATIVE_ACTION);
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

    /// Removes every subscription of an ended session from the router.
    pub fn end_session(&self, client_id: &str, state: &SessionState) {
        if state.subscriptions.is_empty() {
            return;
        }
        let mut tree = self.subscriptions.write();
        for filter in state.subscriptions.keys() {
            tree.unsubscribe(filter, client_id);
        }
        self.stats.subscriptions.store(tree.len() as u64, std::sync::atomic::Ordering::Relaxed);
    }

    /// One housekeeping pass: ends expired sessions, publishes due wills, drops expired
    /// retained messages.
    pub fn housekeeping(&self, now: Instant) {
        let expired = self.sessions.expire(now);
        for (client_id, state) in &expired.sessions {
            tracing::debug!(client_id = %client_id, "session expired");
            self.end_session(client_id, state);
        }
        for will in expired.wills {
            tracing::debug!(topic = %will.topic, "publishing delayed will");
            self.publish(will);
        }
        let purged = self.retained.purge_expired(now);
        if purged > 0 {
            Stats::sub(&self.stats.retained, purged as u64);
        }
    }

    /// Runs housekeeping every second, and publishes `$SYS` topics every `sys_interval`
    /// (never when zero), until `shutdown` fires.
    pub async fn run_housekeeping(self: Arc<Self>, sys_interval: Duration, mut shutdown: crate::shutdown::Shutdown) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut last_sys: Option<Instant> = None;
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    let now = Instant::now();
                    self.housekeeping(now);
                    if !sys_interval.is_zero() && last_sys.is_none_or(|t| now.duration_since(t) >= sys_interval) {
                        super::sys::publish(&self, now);
                        last_sys = Some(now);
                    }
                }
                _ = shutdown.wait() => return,
            }
        }
    }
}
