//! The seam between a broker node and the cluster it belongs to. The broker knows nothing of
//! gossip, raft or gRPC: it tells a [`ClusterLink`] when a topic filter appears or disappears
//! on this node, hands it each message routed here first, and asks it for a client's session
//! when the client connects here; `lib/cluster` implements the link and calls back into the
//! broker ([`crate::broker::Broker::publish_from_peer`], [`crate::broker::Broker::hand_over`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::message::{Delivery, Message};
use super::session::SessionState;

/// A boxed future (the link is used as a trait object).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A session given up by the node that held it, for the node where its client connects now.
#[derive(Debug, Default)]
pub struct HandedOver {
    /// Subscriptions, in-flight messages both ways, packet ids.
    pub state: SessionState,
    /// Messages queued and not yet sent, oldest first.
    pub queued: Vec<Delivery>,
    /// Seconds the session outlives its connection.
    pub expiry_interval: u32,
    /// Read from the shared store (its node is gone): what the store holds under the
    /// client id is replaced field by field, never wholesale, so a message another node
    /// parks for the session meanwhile is not erased. `None`: handed over by a live node.
    pub from_store: Option<StoredFields>,
}

/// The message fields of a session as read from the shared store.
#[derive(Debug, Default)]
pub struct StoredFields {
    /// The node that held it.
    pub owner: Option<String>,
    /// Sequence numbers of its messages, written by its former node.
    pub seqs: Vec<u64>,
    /// Fields of messages parked for it.
    pub parked: Vec<String>,
}

/// What the broker asks of its cluster. Called on connection tasks: every method except
/// [`ClusterLink::take_over`] must only queue work, never wait.
pub trait ClusterLink: Send + Sync + std::fmt::Debug + 'static {
    /// The filter (`$share/group/filter` for a shared subscription) got its first subscriber
    /// on this node (`present`), or lost its last one. Called in order, under the lock of the
    /// subscription tree, so the calls follow the tree's own history.
    fn filter_changed(&self, filter: &str, present: bool);

    /// A message was routed here first (a client's publish, a will, the HTTP API; never
    /// `$SYS`): send it to the nodes whose routes match. `served` names the shared
    /// subscriptions (`$share/g/f`) a local member already got it for; `generation` is the
    /// subscription tree's generation it was matched against here (see
    /// [`Outbox::subscribed_at`](super::session::Outbox::subscribed_at)).
    fn forward(&self, message: &Arc<Message>, served: &[&str], generation: u64) -> Forwarded;

    /// Changes whenever forwarding tickets complete (acknowledged by the nodes they went to,
    /// or the messages parked for them in the shared store).
    fn forwarded(&self) -> tokio::sync::watch::Receiver<u64>;

    /// True once forwarding ticket `ticket` is done.
    fn is_forwarded(&self, ticket: u64) -> bool;

    /// Keeps only the tickets of `tickets` that are not done yet.
    fn retain_unforwarded(&self, tickets: &mut Vec<u64>) {
        tickets.retain(|t| !self.is_forwarded(*t));
    }

    /// True once the filter's route to this node is in the route table as this node sees it
    /// (committed): from then on other nodes forward what matches it.
    fn is_routed(&self, filter: &str) -> bool;

    /// Changes whenever the route table does.
    fn routes_changed(&self) -> tokio::sync::watch::Receiver<u64>;

    /// Changes when a node's queue that was [`Forwarded::congested`] has room again: a
    /// publisher paused by congestion reads on.
    fn relief(&self) -> tokio::sync::watch::Receiver<u64>;

    /// A client connects here: claims its id until the returned claim is dropped (after its
    /// session is open here), so that a CONNECT of the same id on another node at the same
    /// instant does not win too.
    fn claim(&self, client_id: &str) -> Claim;

    /// A client connects here: asks every other node to let go of its session. `clean_start`
    /// sessions need no state back. `claim` is this CONNECT's claim on the id.
    fn take_over<'a>(
        &'a self,
        client_id: &'a str,
        clean_start: bool,
        claim: &'a Claim,
    ) -> BoxFuture<'a, Takeover>;
}

/// A node's claim on a client id while its CONNECT is under way; released when dropped.
pub struct Claim {
    at: u64,
    superseded: std::sync::Arc<std::sync::atomic::AtomicBool>,
    release: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl Claim {
    /// A claim made at `at` (unix ns); `superseded` is set when a newer one elsewhere wins;
    /// `release` runs on drop.
    pub fn new(
        at: u64,
        superseded: std::sync::Arc<std::sync::atomic::AtomicBool>,
        release: Box<dyn FnOnce() + Send + Sync>,
    ) -> Claim {
        Claim {
            at,
            superseded,
            release: Some(release),
        }
    }

    /// When it was made (unix ns).
    pub fn at(&self) -> u64 {
        self.at
    }

    /// True once a newer CONNECT of the same id on another node has won.
    pub fn superseded(&self) -> bool {
        self.superseded.load(std::sync::atomic::Ordering::Acquire)
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if let Some(release) = self.release.take() {
            release();
        }
    }
}

/// What forwarding a message did.
#[derive(Debug, Clone, Copy, Default)]
pub struct Forwarded {
    /// Nodes with subscribers it was queued for.
    pub nodes: usize,
    /// A QoS 1/2 message's ticket: its PUBACK waits until [`ClusterLink::forwarded`] passes
    /// it; 0 when there is nothing to wait for.
    pub ticket: u64,
    /// A node's queue was full: the message did not reach it.
    pub full: bool,
    /// A node's queue is filling faster than its stream empties it: the publisher should
    /// stop reading until [`ClusterLink::relief`] (or a short while), so that messages wait
    /// in its socket rather than overflow the queue.
    pub congested: bool,
}

/// What the other nodes said of a client's session.
#[derive(Debug)]
pub enum Takeover {
    /// A node held it and let go of it (its state, unless clean start).
    Found(HandedOver),
    /// Every node answered: none held it.
    NotFound,
    /// A node did not answer: it may hold the session.
    Unknown,
    /// A newer CONNECT of the same client id on another node wins; with the session a node
    /// handed over before that was known (kept here, offline, not dropped).
    Lost(Option<Box<HandedOver>>),
}
