//! A client's session (spec 4.1): the part publishers deliver into ([`Outbox`], shared), and
//! the part its connection owns while it is online ([`SessionState`]: subscriptions,
//! unacknowledged messages in both directions, packet identifiers).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use futures_util::task::AtomicWaker;
use parking_lot::Mutex;

use super::message::Delivery;
use crate::mqtt::{MqttString, QoS, SubscriptionOptions};

/// The queue of messages waiting for one session, filled by the router and drained by the
/// session's connection. Bounded: when full the oldest message is dropped and counted.
#[derive(Debug)]
pub struct Outbox {
    /// The session's client identifier (for no-local and logs).
    pub client_id: MqttString,
    /// Waiting deliveries, oldest first.
    queue: Mutex<VecDeque<Delivery>>,
    /// Wakes the connection when something is queued.
    waker: AtomicWaker,
    /// Queue bound: writes pending while online, queued messages while offline.
    limit: AtomicUsize,
    /// Whether a connection currently serves the session.
    online: AtomicBool,
    /// Whether its QoS 1/2 messages are persisted (a persistent session with a store).
    persistent: AtomicBool,
    /// The subscription tree's generation at the session's first subscription on this node
    /// (0: none yet); see [`Outbox::subscribed_at`].
    subscribed_at: AtomicU64,
}

/// What happened to a message pushed into an outbox.
#[derive(Debug)]
pub enum Queued {
    /// Queued without loss.
    Yes,
    /// Queued, and the oldest messages (returned) were dropped to make room.
    DroppedOldest(Vec<Delivery>),
    /// Not queued: QoS 0 for an offline session.
    Skipped,
}

impl Outbox {
    /// An empty outbox with a bound.
    pub fn new(client_id: MqttString, limit: usize) -> Outbox {
        Outbox {
            client_id,
            queue: Mutex::new(VecDeque::new()),
            waker: AtomicWaker::new(),
            limit: AtomicUsize::new(limit.max(1)),
            online: AtomicBool::new(false),
            persistent: AtomicBool::new(false),
            subscribed_at: AtomicU64::new(0),
        }
    }

    /// The subscription tree's generation when the session first subscribed on this node:
    /// a local publish that read a generation at least this was matched against it (the
    /// cluster's parking asks, for a session that moved here from a node that is away).
    pub fn subscribed_at(&self) -> Option<u64> {
        match self.subscribed_at.load(Ordering::Acquire) {
            0 => None,
            g => Some(g),
        }
    }

    /// Records the generation of a subscription (the first one counts); call under the
    /// tree's write lock.
    pub fn mark_subscribed(&self, generation: u64) {
        let _ =
            self.subscribed_at
                .compare_exchange(0, generation, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Queues a delivery and wakes the connection.
    pub fn push(&self, delivery: Delivery) -> Queued {
        let online = self.is_online();
        if !online && delivery.qos == QoS::AtMostOnce {
            return Queued::Skipped;
        }
        let limit = self.limit.load(Ordering::Relaxed);
        let mut queue = self.queue.lock();
        let mut result = Queued::Yes;
        // `while`, not `if`: after the limit was lowered (the session went offline) the queue
        // shrinks to it.
        let mut dropped = Vec::new();
        while queue.len() >= limit {
            match queue.pop_front() {
                Some(oldest) => dropped.push(oldest),
                None => break,
            }
        }
        if !dropped.is_empty() {
            result = Queued::DroppedOldest(dropped);
        }
        queue.push_back(delivery);
        drop(queue);
        // Always: the session may have come online since `online` was read above.
        self.waker.wake();
        result
    }

    /// Takes up to `max` deliveries, oldest first, calling `take` on each; stops early when
    /// `take` returns false (the delivery is put back at the front).
    pub fn drain(&self, mut take: impl FnMut(Delivery) -> Result<(), Delivery>) {
        let mut queue = self.queue.lock();
        while let Some(d) = queue.pop_front() {
            if let Err(d) = take(d) {
                queue.push_front(d);
                break;
            }
        }
    }

    /// Takes every queued delivery, oldest first.
    pub fn take_all(&self) -> Vec<Delivery> {
        self.queue.lock().drain(..).collect()
    }

    /// True if at least half of the queue's bound is used.
    pub fn is_backlogged(&self) -> bool {
        self.len() * 2 >= self.limit.load(Ordering::Relaxed)
    }

    /// Number of queued deliveries.
    pub fn len(&self) -> usize {
        self.queue.lock().len()
    }

    /// True if nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Wakes the connection as if something was queued (it has work of its own left).
    pub fn wake(&self) {
        self.waker.wake();
    }

    /// Has the task of `cx` woken when something is queued from now on (call before looking
    /// at the queue, so nothing queued in between is missed).
    pub fn register(&self, cx: &std::task::Context<'_>) {
        self.waker.register(cx.waker());
    }

    /// Marks the session online (a connection drains it) or offline, with its queue bound.
    pub fn set_online(&self, online: bool) {
        self.online.store(online, Ordering::Relaxed);
        if online {
            self.waker.wake();
        }
    }

    /// Sets the queue bound.
    pub fn set_limit(&self, limit: usize) {
        self.limit.store(limit.max(1), Ordering::Relaxed);
    }

    /// True while a connection serves the session.
    pub fn is_online(&self) -> bool {
        self.online.load(Ordering::Relaxed)
    }

    /// Marks whether the session's QoS 1/2 messages are persisted.
    pub fn set_persistent(&self, persistent: bool) {
        self.persistent.store(persistent, Ordering::Relaxed);
    }

    /// True if the session's QoS 1/2 messages are persisted.
    pub fn is_persistent(&self) -> bool {
        self.persistent.load(Ordering::Relaxed)
    }
}

/// Where an outbound QoS 1/2 message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// QoS 1 sent, waiting for PUBACK.
    AwaitPubAck,
    /// QoS 2 sent, waiting for PUBREC.
    AwaitPubRec,
    /// PUBREL sent, waiting for PUBCOMP.
    AwaitPubComp,
}

/// An unacknowledged outbound message.
#[derive(Debug, Clone)]
pub struct InflightMessage {
    /// Its packet identifier.
    pub packet_id: u16,
    /// The message (kept to resend it with DUP after a reconnect).
    pub delivery: Delivery,
    /// Where the handshake stands.
    pub stage: Stage,
}

/// A subscription as the session remembers it (to restore or drop it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSubscription {
    /// Options granted.
    pub options: SubscriptionOptions,
    /// v5 subscription identifier.
    pub identifier: Option<u32>,
}

/// The session state a connection owns while it is online and hands back when it ends.
#[derive(Debug, Default)]
pub struct SessionState {
    /// Topic filters subscribed, as the client wrote them.
    pub subscriptions: HashMap<MqttString, SessionSubscription>,
    /// Outbound QoS 1/2 messages not yet completed, in sending order.
    pub inflight: VecDeque<InflightMessage>,
    /// Packet identifiers of inbound QoS 2 messages received but not yet released.
    pub inbound_qos2: HashSet<u16>,
    /// The last packet identifier used for an outbound message.
    last_packet_id: u16,
}

impl SessionState {
    /// The next free packet identifier, or `None` if all 65,535 are in flight.
    pub fn next_packet_id(&mut self) -> Option<u16> {
        for _ in 0..u16::MAX {
            self.last_packet_id = self.last_packet_id.checked_add(1).unwrap_or(1);
            let id = self.last_packet_id;
            if !self.inflight.iter().any(|m| m.packet_id == id) {
                return Some(id);
            }
        }
        None
    }

    /// The inflight message with `packet_id`, if any.
    pub fn inflight_mut(&mut self, packet_id: u16) -> Option<&mut InflightMessage> {
        self.inflight.iter_mut().find(|m| m.packet_id == packet_id)
    }

    /// Removes and returns the inflight message with `packet_id` if it is at `stage`.
    pub fn complete(&mut self, packet_id: u16, stage: Stage) -> Option<InflightMessage> {
        let i = self
            .inflight
            .iter()
            .position(|m| m.packet_id == packet_id && m.stage == stage)?;
        self.inflight.remove(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_ids_skip_zero_and_ids_in_flight() {
        let mut s = SessionState {
            last_packet_id: u16::MAX - 1,
            ..SessionState::default()
        };
        assert_eq!(s.next_packet_id(), Some(u16::MAX));
        assert_eq!(s.next_packet_id(), Some(1));
    }
}
