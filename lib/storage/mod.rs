//! Persistence: what a broker must find again after a restart (persistent sessions with
//! their subscriptions, queued and in-flight messages, inbound QoS 2 state and will;
//! retained messages), written through one writer thread with group commits.
//!
//! Connections hand [`Change`]s to the [`Store`] and get a ticket; the writer thread applies
//! every change waiting at once in one transaction of the [`Backend`] and then raises the
//! committed-ticket watermark. A connection that must not answer before its changes are
//! durable (PUBACK of a message queued for a persistent session, PUBREC, PUBCOMP) holds its
//! output until the watermark passes its ticket, so one disk sync acknowledges every message
//! that arrived meanwhile. With `--storage-way 0` there is no store and nothing waits.
//!
//! Files: `record` (value format), `embedded` (redb, the default), `redis` (Redis, the
//! original's cluster store), `writer` (the thread).

pub mod embedded;
pub mod latency;
pub mod record;
pub mod redis;
mod writer;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use tokio::sync::watch;

use crate::broker::message::{Delivery, Message};
use crate::broker::session::Stage;
use crate::mqtt::{MqttString, SubscriptionOptions};
use record::{SessionRecord, StoredDelivery};

/// Why persisted state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store could not be opened (the message names the file or address).
    #[error("cannot open the {store} store at {location}: {reason}")]
    Open {
        /// embedded or redis.
        store: &'static str,
        /// File path or address.
        location: String,
        /// Why.
        reason: String,
    },
    /// A read or write failed.
    #[error("{store} store at {location}: {reason}")]
    Io {
        /// embedded or redis.
        store: &'static str,
        /// File path or address.
        location: String,
        /// Why.
        reason: String,
    },
    /// A stored value does not decode.
    #[error("corrupt stored record: {0}")]
    Corrupt(&'static str),
}

/// One change to persisted state.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // transient values in the writer's channel, not stored
pub enum Change {
    /// A persistent session's record, written when a connection opens or closes it.
    Session {
        client_id: MqttString,
        record: SessionRecord,
    },
    /// The session ended: it and everything it owns are removed.
    SessionEnded { client_id: MqttString },
    /// A CONNECT that won the session (cluster-wide, with a shared store) writes its record
    /// whoever held it: [`Change::Session`] and [`Change::SessionEnded`] of a node that lost
    /// the session are ignored by a shared store.
    SessionClaimed {
        client_id: MqttString,
        record: SessionRecord,
    },
    /// [`Change::SessionEnded`] by a CONNECT that won the session (see
    /// [`Change::SessionClaimed`]).
    SessionReset { client_id: MqttString },
    /// A subscription was added or replaced.
    Subscribed {
        client_id: MqttString,
        filter: MqttString,
        options: SubscriptionOptions,
        identifier: Option<u32>,
    },
    /// A subscription was removed.
    Unsubscribed {
        client_id: MqttString,
        filter: MqttString,
    },
    /// A message of a persistent session: queued (no packet id) or in flight.
    Message {
        client_id: MqttString,
        seq: u64,
        delivery: Delivery,
        packet_id: u16,
        stage: Option<Stage>,
    },
    /// A message was completed (acknowledged, expired or dropped).
    MessageDone { client_id: MqttString, seq: u64 },
    /// A message another node parked for the session (see [`SharedSessions::park`]) was
    /// taken into the session (written again as a [`Change::Message`] of this node's).
    ParkedDone {
        client_id: MqttString,
        field: String,
    },
    /// The session of a node that is gone was taken over here (a shared store): messages
    /// routed to that node are still parked for it ([`SharedSessions::sessions_of`]).
    SessionMoved { client_id: MqttString, from: String },
    /// This node (a cluster on a shared store) has durably handled the messages node `sender`
    /// (process `epoch`) forwarded to it, up to number `seq`: a sender that did not get the
    /// acknowledgement parks none of those for sessions that were this node's (they have
    /// them, or completed them). Written in the batch of the message's own records.
    Handled {
        sender: Box<str>,
        epoch: u64,
        seq: u64,
    },
    /// An inbound QoS 2 packet id was received (`present`) or released.
    InboundQos2 {
        client_id: MqttString,
        packet_id: u16,
        present: bool,
    },
    /// The retained message of a topic was set or cleared.
    Retained {
        topic: MqttString,
        message: Option<Arc<Message>>,
    },
    /// The broker's cumulative counters.
    Sys(record::SysRecord),
}

/// A persistent session as loaded at startup.
#[derive(Debug)]
pub struct StoredSession {
    pub client_id: MqttString,
    pub record: SessionRecord,
    pub subscriptions: Vec<(MqttString, SubscriptionOptions, Option<u32>)>,
    /// Messages by sequence number, oldest first.
    pub messages: Vec<(u64, StoredDelivery)>,
    pub inbound_qos2: Vec<u16>,
    /// The cluster node that held it (shared Redis store), if recorded.
    pub owner: Option<String>,
    /// Messages other nodes parked for it while its node was away, by field, oldest first.
    pub parked: Vec<(String, StoredDelivery)>,
}

/// Everything loaded at startup.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub sessions: Vec<StoredSession>,
    pub retained: Vec<Message>,
    /// The counters saved last, if any.
    pub sys: Option<record::SysRecord>,
}

/// A storage engine: loads the state at startup, applies batches of changes atomically.
pub trait Backend: Send + 'static {
    /// Reads everything.
    fn load(&mut self) -> Result<Snapshot, StoreError>;
    /// Applies `changes` in order as one atomic, durable (when `durable`) commit.
    fn apply(&mut self, changes: &[Change], durable: bool) -> Result<(), StoreError>;
    /// Checks the backend is reachable (a server that may go away); called while idle.
    fn ping(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// The sessions of a store shared by the nodes of a cluster, whichever node wrote them: one
/// is read when its client connects to another node than its own, and those of nodes that
/// are gone are settled (marked offline, wills published, ended when expired). Blocking:
/// call it off the runtime.
pub trait SharedSessions: Send + Sync + std::fmt::Debug + 'static {
    /// The session of `client_id`, if the store holds one.
    fn load_session(&self, client_id: &str) -> Result<Option<StoredSession>, StoreError>;

    /// Every session record, with its owner.
    fn records(&self) -> Result<Vec<SharedRecord>, StoreError>;

    /// Replaces the record `seen` with `next` (same owner), or ends its session with all it
    /// holds when `next` is `None`, unless it changed since it was read (its client came back
    /// somewhere): then nothing is done and the answer is [`Settled::Changed`].
    fn settle(
        &self,
        seen: &SharedRecord,
        next: Option<&SessionRecord>,
    ) -> Result<Settled, StoreError>;

    /// The persistent sessions `node` holds, or held when another node took them over
    /// from it while it was away, with their subscriptions (the routes that outlive a node
    /// that is away).
    fn sessions_of(&self, node: &str) -> Result<Vec<OwnedSession>, StoreError>;

    /// Forgets which sessions were taken over from `node` (its routes are gone).
    fn forget_moves(&self, node: &str) -> Result<(), StoreError>;

    /// Appends each parcel to its session's messages, as a parked message, if the session
    /// still belongs to the parcel's expected owner (or unconditionally without one); the
    /// session's node takes parked messages in when it finds them. Idempotent: a parcel's
    /// field names it. One outcome per parcel.
    fn park(&self, parcels: &[Parcel]) -> Result<Vec<ParkOutcome>, StoreError>;

    /// Client ids that may have parked messages.
    fn parked_clients(&self) -> Result<Vec<String>, StoreError>;

    /// The parked messages of `client_id`'s session, by field, oldest first, if the session
    /// belongs to `me` (`None` otherwise); clears its mark in [`SharedSessions::parked_clients`]
    /// first, so a parcel arriving later marks it again.
    #[allow(clippy::type_complexity)]
    fn claim(
        &self,
        client_id: &str,
        me: &str,
    ) -> Result<Option<Vec<(String, StoredDelivery)>>, StoreError>;

    /// Forgets the mark of a client without a session.
    fn unmark(&self, client_id: &str) -> Result<(), StoreError>;
}

/// A persistent session of a node, with its subscriptions.
#[derive(Debug, Clone)]
pub struct OwnedSession {
    pub client_id: String,
    pub subscriptions: Vec<(MqttString, SubscriptionOptions, Option<u32>)>,
}

/// A message for one session, to be parked with [`SharedSessions::park`].
#[derive(Debug, Clone)]
pub struct Parcel {
    pub client_id: String,
    /// The node the session must still belong to; `None`: park whoever holds it.
    pub owner: Option<String>,
    /// The node the message was sent (or was to be sent) to, and its name there: not parked
    /// if that node recorded it as handled ([`Change::Handled`]) and the session was that
    /// node's.
    pub sent: Option<Sent>,
    /// The field it is kept under: `p:` + a name unique to the message and the session,
    /// ordered by when it was parked.
    pub field: String,
    /// The delivery, encoded as [`record::encode_delivery`] does.
    pub value: Vec<u8>,
}

/// What parking one parcel did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParkOutcome {
    /// Kept for the session.
    Parked,
    /// There is no such session (any more).
    Gone,
    /// The session belongs to this node now (not parked).
    Moved(Option<String>),
    /// The node it was sent to had handled it durably, for a session that was that node's
    /// (it has the message, or completed it): not parked.
    Had,
}

/// A parked message's way: the node it was sent to, and the sender, its process epoch and the
/// message's sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub to: String,
    pub sender: String,
    pub epoch: u64,
    pub seq: u64,
}

/// How a receiver records how far it handled a sender's messages ([`Change::Handled`]): one
/// value per sender, its process epoch and the number (a sender's new process replaces it).
pub fn handled_mark(epoch: u64, seq: u64) -> String {
    format!("{epoch:016x}:{seq}")
}

/// The prefix of the fields of parked messages among a session's messages.
pub const PARKED_PREFIX: &str = "p:";

/// The field of a message parked at unix ms `stamp` by node `node` (process `epoch`), which
/// it had sent (`sent`), or would have, as number `seq` to node `receiver` (whose sessions it
/// is parked for): ordered by when parked, and the same whenever that message is parked again.
/// The receiver is written in hex after an `r` (sent) or an `n` (never sent); node names may
/// hold colons.
pub fn parked_field(
    stamp: u64,
    node: &str,
    epoch: u64,
    seq: u64,
    receiver: &str,
    sent: bool,
) -> String {
    let mark = if sent { 'r' } else { 'n' };
    let receiver = hex::encode(receiver);
    format!("{PARKED_PREFIX}{stamp:013}:{node}:{epoch:016x}:{seq:016x}:{mark}{receiver}")
}

/// The part of a parked field after its stamp, and its receiver part (`r` or `n`, then the
/// hex); fields parked before the receiver was written have none.
fn parked_parts(field: &str) -> Option<(&str, Option<&str>)> {
    let rest = field.strip_prefix(PARKED_PREFIX)?;
    let (_stamp, rest) = rest.split_once(':')?;
    Some(match rest.rsplit_once(':') {
        Some((head, last)) if last.starts_with(['r', 'n']) => (head, Some(last)),
        _ => (rest, None),
    })
}

/// The (node, epoch, sequence number) a parked field names (see [`parked_field`]).
pub fn parked_origin(field: &str) -> Option<(&str, u64, u64)> {
    let (rest, _) = parked_parts(field)?;
    let (rest, seq) = rest.rsplit_once(':')?;
    let (node, epoch) = rest.rsplit_once(':')?;
    Some((
        node,
        u64::from_str_radix(epoch, 16).ok()?,
        u64::from_str_radix(seq, 16).ok()?,
    ))
}

/// The node a parked message had been sent to, if the field says so (`None` too for one
/// that was never sent: no node can have received it).
pub fn parked_receiver(field: &str) -> Option<String> {
    let hex = parked_parts(field)?.1?.strip_prefix('r')?;
    String::from_utf8(hex::decode(hex).ok()?).ok()
}

/// One session record of a shared store, as read.
#[derive(Debug, Clone)]
pub struct SharedRecord {
    pub client_id: String,
    pub record: SessionRecord,
    /// The node that holds (or held) it.
    pub owner: Option<String>,
    /// The stored bytes, to tell whether it changed since.
    pub raw: Vec<u8>,
}

/// What [`SharedSessions::settle`] did.
#[derive(Debug)]
pub enum Settled {
    /// The record was replaced by this one.
    Replaced(Box<SharedRecord>),
    /// The session ended.
    Ended,
    /// The record changed since it was read: left alone.
    Changed,
}

/// The handle connections use: submit changes, learn when they are durable.
#[derive(Debug)]
pub struct Store {
    /// The channel to the writer and the last ticket handed out; locked together so tickets
    /// reach the writer in order.
    sender: Mutex<(u64, std::sync::mpsc::Sender<(u64, Change)>)>,
    /// The highest ticket whose change is durable.
    committed: watch::Receiver<u64>,
    /// Source of message sequence numbers.
    next_seq: AtomicU64,
    /// When false, nothing waits for commits (faster, loses the last moments on a crash).
    sync: bool,
    /// False while the backend fails (Redis unreachable); set by the writer.
    healthy: Arc<std::sync::atomic::AtomicBool>,
    /// How long commits take.
    latency: Arc<latency::CommitLatency>,
}

impl Store {
    /// Loads `backend` and starts its writer thread. `sync`: whether acknowledgements wait for
    /// durable commits (the default) or commits are periodic.
    pub fn start(
        mut backend: Box<dyn Backend>,
        sync: bool,
    ) -> Result<(Arc<Store>, Snapshot), StoreError> {
        let snapshot = backend.load()?;
        let max_seq = snapshot
            .sessions
            .iter()
            .flat_map(|s| s.messages.iter().map(|(seq, _)| *seq))
            .max()
            .unwrap_or(0);
        let (tx, rx) = std::sync::mpsc::channel();
        let (committed_tx, committed) = watch::channel(0);
        let healthy = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let latency = Arc::new(latency::CommitLatency::default());
        writer::spawn(
            backend,
            rx,
            committed_tx,
            sync,
            healthy.clone(),
            latency.clone(),
        );
        let store = Store {
            sender: Mutex::new((0, tx)),
            committed,
            next_seq: AtomicU64::new(max_seq + 1),
            sync,
            healthy,
            latency,
        };
        Ok((Arc::new(store), snapshot))
    }

    /// Submits changes; returns the ticket to wait for (0 when nothing needs waiting).
    pub fn submit(&self, changes: impl IntoIterator<Item = Change>) -> u64 {
        let mut guard = self.sender.lock();
        let (last, tx) = &mut *guard;
        for change in changes {
            *last += 1;
            if tx.send((*last, change)).is_err() {
                tracing::error!("the storage writer has stopped; changes are no longer persisted");
            }
        }
        if self.sync { *last } else { 0 }
    }

    /// A receiver of the committed-ticket watermark.
    pub fn committed(&self) -> watch::Receiver<u64> {
        self.committed.clone()
    }

    /// True once `ticket` is durable.
    pub fn is_committed(&self, ticket: u64) -> bool {
        *self.committed.borrow() >= ticket
    }

    /// False while the last write or check failed (Redis unreachable); the writer checks an
    /// idle backend every second.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Notes that a read of the same backend failed (the shared session loader's connection):
    /// unhealthy until the writer's next successful write or check.
    pub fn report_failure(&self) {
        if self.healthy.swap(false, Ordering::Relaxed) {
            tracing::warn!(
                "the store is unreachable; persistent sessions are refused until it is back"
            );
        }
    }

    /// The commit latency histogram.
    pub fn latency(&self) -> latency::LatencySnapshot {
        self.latency.snapshot()
    }

    /// A fresh message sequence number.
    pub fn next_seq(&self) -> u64 {
        self.next_seq.fetch_add(1, Ordering::Relaxed)
    }

    /// Waits until everything submitted so far is durable (shutdown).
    pub async fn flush(&self) {
        let target = self.sender.lock().0;
        let mut rx = self.committed.clone();
        let _ = rx.wait_for(|c| *c >= target).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parked_field_names_its_origin_whatever_the_node_name() {
        let f = parked_field(
            1_765_000_000_000,
            "node:with:colons",
            0xabc,
            42,
            "to:r:b",
            true,
        );
        assert!(f.starts_with(PARKED_PREFIX));
        assert_eq!(parked_origin(&f), Some(("node:with:colons", 0xabc, 42)));
        assert_eq!(parked_receiver(&f).as_deref(), Some("to:r:b"));
        // Never sent: no node can have it.
        let unsent = parked_field(1_765_000_000_000, "node:with:colons", 0xabc, 42, "b", false);
        assert_eq!(
            parked_origin(&unsent),
            Some(("node:with:colons", 0xabc, 42))
        );
        assert_eq!(parked_receiver(&unsent), None);
        // Parked by an older version: no receiver written.
        let old = "p:1765000000000:node:with:colons:0000000000000abc:000000000000002a";
        assert_eq!(parked_origin(old), Some(("node:with:colons", 0xabc, 42)));
        assert_eq!(parked_receiver(old), None);
        assert!(
            parked_field(1, "a", 1, 2, "b", true) < parked_field(2, "a", 1, 1, "b", true),
            "ordered by time"
        );
        assert_eq!(parked_origin("17"), None);
    }
}
