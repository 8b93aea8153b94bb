//! Parking: with a store shared by the nodes (Redis), the messages for a node that is away
//! (dead, frozen, cut off, shut down) are not kept in this node's memory hoping it returns;
//! each is written into the shared store, among the messages of every persistent session of
//! that node whose subscriptions match it, before its publisher's PUBACK. The session finds
//! them wherever it resumes: its node restarting restores them, another node loading the
//! session from the store takes them along, and a node holding the session (back from a
//! freeze, or the session moved there meanwhile) takes them in when it sees them marked.
//!
//! The routes of a node that is away stay in the route table (they are the subscriptions of
//! its persistent sessions, which outlive it), so messages keep coming to its peer queue on
//! every node, and are parked from there. What each of its sessions subscribes to is read
//! from the shared store ([`ParkedRoutes`]) and read again every [`ROUTES_TTL`], as sessions
//! move to other nodes or end.
//!
//! A session that moved to another node since its routes were read is parked for anyway
//! (unless that node got the message through its own routes), so the node that holds it now
//! takes it in: a message is never lost between the routes of a session's old node and those
//! of its new one.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use rustc_hash::FxHashMap;

use crate::broker::message::Delivery;
use crate::mqtt::topic::parse_shared;
use crate::mqtt::topic_tree::TopicTree;
use crate::mqtt::{QoS, SubscriptionOptions};
use crate::storage::record::{decode_message, encode_delivery};
use crate::storage::{Parcel, ParkOutcome, Sent, SharedSessions, StoreError, parked_field};

/// How long the subscriptions of a node that is away are trusted before they are read again.
pub const ROUTES_TTL: Duration = Duration::from_secs(5);

/// One subscription of a persistent session of a node that is away.
#[derive(Debug, Clone)]
struct ParkedSub {
    client_id: Arc<str>,
    options: SubscriptionOptions,
    identifier: Option<u32>,
    /// The share group, for `$share/{group}/{filter}`.
    group: Option<Box<str>>,
}

/// The subscriptions of the persistent sessions of one node, by filter.
pub struct ParkedRoutes {
    tree: TopicTree<Vec<ParkedSub>>,
    /// When they were read.
    pub read_at: Instant,
    /// Number of sessions.
    pub sessions: usize,
}

impl ParkedRoutes {
    /// Reads the sessions of `node` from the shared store (blocking: off the runtime).
    pub fn read(shared: &dyn SharedSessions, node: &str) -> Result<ParkedRoutes, StoreError> {
        let sessions = shared.sessions_of(node)?;
        let mut tree = TopicTree::<Vec<ParkedSub>>::default();
        let count = sessions.len();
        for s in sessions {
            let client_id: Arc<str> = s.client_id.into();
            for (filter, options, identifier) in s.subscriptions {
                let (group, inner) = match parse_shared(&filter) {
                    Ok(Some(sh)) => (Some(sh.group.into()), sh.filter.to_string()),
                    _ => (None, filter.to_string()),
                };
                tree.get_or_insert(&inner).push(ParkedSub {
                    client_id: client_id.clone(),
                    options,
                    identifier,
                    group,
                });
            }
        }
        Ok(ParkedRoutes {
            tree,
            read_at: Instant::now(),
            sessions: count,
        })
    }
}

/// A message for a node that is away, as its peer queue held it.
pub struct Stranded {
    /// Its forwarding ticket (0: QoS 0 or a retained copy).
    pub ticket: u64,
    /// The stored-message encoding.
    pub message: Bytes,
    /// For the node's ordinary subscribers.
    pub ordinary: bool,
    /// Shared subscriptions it was sent there for.
    pub shared: Vec<String>,
    /// Its sequence number towards that node (unique per sender epoch).
    pub seq: u64,
    /// Unix ms of a retained copy (0: none).
    pub retained_at: u64,
    /// Other nodes that got it for their ordinary subscribers.
    pub also: Option<Arc<[Arc<str>]>>,
    /// The subscription tree generation this node's subscribers were matched at.
    pub generation: u64,
    /// It was sent to the node (and not acknowledged): the node may have it. One never sent
    /// cannot be, whatever the node's numbers reached since.
    pub sent: bool,
}

/// Writes messages for a node that is away into its sessions in the shared store.
pub struct Parker {
    shared: Arc<dyn SharedSessions>,
    /// This node's name and process epoch: with a message's sequence number, they make its
    /// parked field unique, so parking it again (after a failure) writes the same field.
    me: String,
    epoch: u64,
    /// For a session this node holds: the subscription tree generation of its first
    /// subscription here ([`crate::broker::session::Outbox::subscribed_at`]).
    here: SubscribedHere,
}

/// See [`Parker::here`](Parker).
pub type SubscribedHere = Box<dyn Fn(&str) -> Option<u64> + Send + Sync>;

impl Parker {
    /// A parker writing to `shared` for node `me` of `epoch`; `here` tells when a session
    /// this node holds subscribed here.
    pub fn new(
        shared: Arc<dyn SharedSessions>,
        me: &str,
        epoch: u64,
        here: SubscribedHere,
    ) -> Parker {
        Parker {
            shared,
            me: me.to_string(),
            epoch,
            here,
        }
    }

    /// The shared store.
    pub fn shared(&self) -> &Arc<dyn SharedSessions> {
        &self.shared
    }

    /// Parks `messages` (for `node`) in its matching persistent sessions. Blocking: call it
    /// off the runtime. Returns how many deliveries were parked; on `Err` nothing may be
    /// taken as parked (the caller keeps the messages and tries again).
    pub fn park(
        &self,
        node: &str,
        routes: &ParkedRoutes,
        messages: &[Stranded],
    ) -> Result<usize, StoreError> {
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let mut parcels = Vec::new();
        // For each parcel: the message it came from (for `also`).
        let mut origin = Vec::new();
        let mut buf = BytesMut::new();
        for (i, s) in messages.iter().enumerate() {
            let message = match decode_message(&mut s.message.clone()) {
                Ok(m) => Arc::new(m),
                Err(e) => {
                    tracing::warn!(error = %e, "unreadable message for a node that is away dropped");
                    continue;
                }
            };
            if message.qos == QoS::AtMostOnce {
                // Offline sessions get no QoS 0 messages.
                continue;
            }
            // Per session: the granted QoS and subscription ids, over overlapping filters;
            // one member of each share group the message was sent there for.
            // (granted QoS, retain as published, subscription ids, for a share group)
            type PerClient = (QoS, bool, Vec<u32>, bool);
            let mut per_client: FxHashMap<Arc<str>, PerClient> = FxHashMap::default();
            let mut groups_done: Vec<&str> = Vec::new();
            routes.tree.for_each_match(&message.topic, |subs| {
                for sub in subs {
                    match &sub.group {
                        None if s.ordinary => {}
                        Some(g)
                            if s.shared.iter().any(|k| share_group(k) == Some(&**g))
                                && !groups_done.contains(&&**g) =>
                        {
                            groups_done.push(g);
                        }
                        _ => continue,
                    }
                    let entry = per_client.entry(sub.client_id.clone()).or_insert((
                        QoS::AtMostOnce,
                        false,
                        Vec::new(),
                        false,
                    ));
                    entry.0 = entry.0.max(sub.options.qos);
                    entry.1 |= sub.options.retain_as_published;
                    entry.2.extend(sub.identifier);
                    entry.3 |= sub.group.is_some();
                }
            });
            for (client_id, (granted, retain_as_published, ids, for_group)) in per_client {
                let qos = granted.min(message.qos);
                if qos == QoS::AtMostOnce {
                    continue;
                }
                let delivery = Delivery {
                    message: message.clone(),
                    qos,
                    retain: retain_as_published && message.retain,
                    subscription_ids: ids,
                    seq: 0,
                };
                buf.clear();
                encode_delivery(&delivery, 0, None, &mut buf);
                parcels.push(Parcel {
                    client_id: client_id.to_string(),
                    owner: Some(node.to_string()),
                    field: parked_field(stamp, &self.me, self.epoch, s.seq, node, s.sent),
                    value: buf.to_vec(),
                    // Whether the node had it says whether this session has it only for a
                    // message the node was sent, and not for a share group: the node gave
                    // the group's copy to the member it chose, maybe one with no record.
                    sent: (s.sent && !for_group).then(|| Sent {
                        to: node.to_string(),
                        sender: self.me.clone(),
                        epoch: self.epoch,
                        seq: s.seq,
                    }),
                });
                origin.push(i);
            }
        }
        if parcels.is_empty() {
            return Ok(0);
        }
        let outcomes = self.shared.park(&parcels)?;
        let mut parked = 0;
        let mut again = Vec::new();
        for ((parcel, outcome), i) in parcels.into_iter().zip(outcomes).zip(origin) {
            match outcome {
                ParkOutcome::Parked => parked += 1,
                // The node had it durably, for this session: it has it (or completed it).
                ParkOutcome::Gone | ParkOutcome::Had => {}
                ParkOutcome::Moved(owner) => {
                    // The session is another node's now. If that node got the message
                    // through its own routes, it has it; otherwise it takes it from here.
                    // This node got it if the session had subscribed here when the message
                    // was matched here.
                    let m = &messages[i];
                    let routed_there = owner.as_ref().is_some_and(|o| {
                        if *o == self.me {
                            (self.here)(&parcel.client_id).is_some_and(|g| m.generation >= g)
                        } else {
                            m.also
                                .as_ref()
                                .is_some_and(|also| also.iter().any(|n| **n == **o))
                        }
                    });
                    if !routed_there {
                        again.push(Parcel {
                            owner: None,
                            ..parcel
                        });
                    }
                }
            }
        }
        if !again.is_empty() {
            parked += self
                .shared
                .park(&again)?
                .iter()
                .filter(|o| **o == ParkOutcome::Parked)
                .count();
        }
        Ok(parked)
    }
}

/// The share name of a whole shared filter `$share/{group}/{filter}`.
fn share_group(key: &str) -> Option<&str> {
    parse_shared(key).ok().flatten().map(|s| s.group)
}
