//! Messages for other nodes: each publish routed here first is matched against the route
//! table, encoded once, and queued for every node that wants it (point to point; retained
//! messages go to every node). One task per peer streams its queue in batches over a
//! long-lived gRPC stream; every message carries a sequence number and stays in memory until
//! the peer acknowledges it, so a broken stream resends only what was not acknowledged.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use smallvec::SmallVec;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;

use super::acks::Acks;
use super::membership::{Member, MemberStatus};
use super::parking::{ParkedRoutes, Parker, ROUTES_TTL, Stranded};
use super::proto::node_client::NodeClient;
use super::proto::{ForwardBatch, Forwarded};
use super::raft::network::{MAX_MESSAGE, channel};
use super::raft::state_machine::Replicated;
use super::routes::RouteMatches;
use super::secret::Secret;
use crate::broker::cluster_link::Forwarded as LinkForwarded;
use crate::broker::message::Message;
use crate::mqtt::QoS;
use crate::storage::record::encode_message;

/// Messages waiting for one peer before new ones are dropped (and counted).
const QUEUE: usize = 100_000;
/// Messages waiting for a peer whose stream is up above which publishers are told to pause
/// ([`LinkForwarded::congested`]); they are relieved once it is down to [`RELIEVED`].
const CONGESTED: usize = 25_000;
/// See [`CONGESTED`].
const RELIEVED: usize = 10_000;
/// Messages sent to a peer and not yet acknowledged before sending pauses.
const MAX_UNACKED: usize = 50_000;
/// Messages per batch.
const BATCH: usize = 2048;
/// A peer gone from gossip this long has its queue dropped.
const GIVE_UP: Duration = Duration::from_secs(60);

/// Forwarding counters, for `/metrics` and comqttctl.
#[derive(Debug, Default)]
pub struct ForwardCounters {
    /// Messages queued for peers.
    pub queued: AtomicU64,
    /// Messages a peer acknowledged.
    pub acknowledged: AtomicU64,
    /// Messages dropped: a full queue, or a peer gone for good.
    pub dropped: AtomicU64,
    /// Messages sent again after a stream broke.
    pub resent: AtomicU64,
    /// Times a publisher was told to pause because a peer's queue was filling up.
    pub congested: AtomicU64,
}

/// Which peer queues are congested, and the wake-up of the publishers paused for them.
#[derive(Debug)]
struct Pressure {
    /// Peers whose queue is congested (each peer's own flag counted once).
    congested: AtomicUsize,
    /// Bumped when no queue is congested any more.
    relief: watch::Sender<u64>,
}

impl Pressure {
    /// A peer's queue filled past [`CONGESTED`]: `flag` is that peer's.
    fn raise(&self, flag: &AtomicBool) {
        // A load first: while congested, every message would otherwise write the flag.
        if !flag.load(Ordering::Relaxed) && !flag.swap(true, Ordering::AcqRel) {
            self.congested.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// A peer's queue is down to [`RELIEVED`], or its stream ended; publishers read on once
    /// no queue is congested (a healthy peer does not wake those paused for a slow one).
    fn lower(&self, flag: &AtomicBool) {
        if flag.load(Ordering::Relaxed)
            && flag.swap(false, Ordering::AcqRel)
            && self.congested.fetch_sub(1, Ordering::AcqRel) == 1
        {
            self.relief.send_modify(|g| *g = g.wrapping_add(1));
        }
    }
}

/// The queue of one peer, as the hot path sees it.
struct PeerQueue {
    tx: mpsc::Sender<Outgoing>,
    /// The peer's stream is up: a full queue then means it is slower than its publishers
    /// (pause them), not that it is unreachable (drop instead of stalling everyone).
    streaming: Arc<AtomicBool>,
    /// Its queue is congested (see [`Pressure`]).
    congested: Arc<AtomicBool>,
}

/// One message for one peer.
struct Outgoing {
    /// Its forwarding ticket (QoS 1/2), acknowledged with the peer's acknowledgement.
    ticket: u64,
    /// The stored-message encoding, shared by every peer.
    message: Bytes,
    /// For the peer's ordinary subscribers.
    ordinary: bool,
    /// Shared subscriptions the peer serves for it.
    shared: Vec<String>,
    /// Unix ms of a retained message; 0 otherwise.
    retained_at: u64,
    /// The other nodes that got it for their ordinary subscribers, when one of its targets
    /// was not alive (for parking).
    also: Option<Arc<[Arc<str>]>>,
    /// The subscription tree generation this node's own subscribers were matched at.
    generation: u64,
}

/// The forwarding side of this node.
pub struct Forwarder {
    /// This node's name.
    me: Arc<str>,
    /// This process's generation: the peers' deduplication restarts with it.
    epoch: u64,
    /// The route table.
    replicated: Arc<Replicated>,
    /// Live members, for addresses and liveness.
    live: watch::Receiver<Vec<Member>>,
    /// Queues of the peers, by name.
    peers: Mutex<HashMap<Arc<str>, PeerQueue>>,
    /// Publishers paused by congestion.
    pressure: Arc<Pressure>,
    /// Round robin over the nodes of a shared subscription.
    next_shared: AtomicUsize,
    /// Counters.
    pub counters: Arc<ForwardCounters>,
    /// Tickets of QoS 1/2 messages waiting for acknowledgements.
    pub acks: Arc<Acks>,
    /// Carried by every stream to a peer.
    secret: Secret,
    /// The peer sets, rebuilt when gossip changes (not for every message).
    peers_cache: parking_lot::Mutex<(watch::Receiver<Vec<Member>>, Arc<PeerSets>)>,
    /// With a store shared by the nodes: messages for a node that is away are parked there.
    parking: Option<Arc<Parker>>,
    /// Sequence numbers of this process's forwarded messages, one series for all peers:
    /// (this node, epoch, sequence number) names one copy of a message wherever it goes
    /// (a session that moves between nodes carries origins from several streams, and a
    /// parked copy is compared with them).
    seqs: Arc<AtomicU64>,
}

impl Forwarder {
    /// A forwarder of node `me`.
    pub fn new(
        me: &str,
        epoch: u64,
        replicated: Arc<Replicated>,
        live: watch::Receiver<Vec<Member>>,
        secret: Secret,
        parking: Option<Arc<Parker>>,
    ) -> Forwarder {
        Forwarder {
            seqs: Arc::default(),
            parking,
            secret,
            me: me.into(),
            epoch,
            replicated,
            peers: Mutex::default(),
            pressure: Arc::new(Pressure {
                congested: AtomicUsize::new(0),
                relief: watch::Sender::new(0),
            }),
            next_shared: AtomicUsize::new(0),
            counters: Arc::default(),
            acks: Arc::default(),
            peers_cache: parking_lot::Mutex::new((live.clone(), Arc::default())),
            live,
        }
    }

    /// Changes when a congested peer queue has room again.
    pub fn relief(&self) -> watch::Receiver<u64> {
        self.pressure.relief.subscribe()
    }

    /// Queues `message` for the nodes that want it; `served` names the shared subscriptions
    /// a local member got it for. Returns how many nodes have subscribers for it.
    pub fn forward(
        &self,
        message: &Arc<Message>,
        served: &[&str],
        generation: u64,
    ) -> LinkForwarded {
        let mut m = RouteMatches::default();
        // Held until the message is queued: a flush (see [`Forwarder::flush`]) that takes the
        // write lock knows no message matched against older routes is still to be queued.
        let routes = self.replicated.routes.read();
        routes.matches(&message.topic, &mut m);
        let retained = message.retain;
        if m.ordinary.is_empty() && m.shared.is_empty() && !retained {
            return LinkForwarded::default();
        }
        // Every node of the route table that has not announced it leaves: one that gossip
        // misses for a moment keeps its messages queued (its task holds them until it is
        // back); a node that is gone for good loses its routes when raft removes it.
        let peers = self.peers_now();
        let (alive, leaving) = (&peers.alive, &peers.leaving);
        // With parking, a node that is leaving or away still gets its messages: they are
        // parked for its persistent sessions.
        let parks = self.parking.is_some();
        let routed = |n: &Arc<str>| *n != self.me && (parks || !leaving.contains(n));
        // Sorted once: a message matching many groups costs n log n, not n².
        let mut served: SmallVec<[&str; 4]> = served.iter().copied().collect();
        served.sort_unstable();
        let mut targets: Targets = SmallVec::new();
        for node in m.ordinary.iter().filter(|n| routed(n)) {
            let i = target(&mut targets, node);
            targets[i].1 = true;
        }
        for (key, nodes) in &m.shared {
            if served.binary_search(&&**key).is_ok() {
                continue;
            }
            // Live members first, any reachable one otherwise.
            let live: SmallVec<[&Arc<str>; 4]> =
                nodes.iter().filter(|n| alive.contains(n)).collect();
            let candidates: SmallVec<[&Arc<str>; 4]> = if live.is_empty() {
                nodes.iter().filter(|n| routed(n)).collect()
            } else {
                live
            };
            if candidates.is_empty() {
                continue;
            }
            let pick =
                candidates[self.next_shared.fetch_add(1, Ordering::Relaxed) % candidates.len()];
            let i = target(&mut targets, pick);
            targets[i].2.push(key.to_string());
        }
        let reached = targets
            .iter()
            .filter(|(_, o, s)| *o || !s.is_empty())
            .count();
        let retained_at = if retained {
            for name in alive.iter() {
                target(&mut targets, name);
            }
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(1, |d| d.as_millis() as u64)
        } else {
            0
        };
        if targets.is_empty() {
            return LinkForwarded::default();
        }
        let mut encoded = BytesMut::new();
        encode_message(message, &mut encoded);
        let encoded = encoded.freeze();
        // A target that is away gets its messages parked, and needs to know which nodes got
        // them through their own routes.
        let also: Option<Arc<[Arc<str>]>> =
            (parks && targets.iter().any(|(n, _, _)| !alive.contains(n))).then(|| {
                targets
                    .iter()
                    .filter(|(_, ordinary, _)| *ordinary)
                    .map(|(n, _, _)| n.clone())
                    .collect()
            });
        // A QoS 1/2 publisher's PUBACK waits for the nodes with subscribers (retained
        // copies for the others are not waited for).
        let ticket = if message.qos == QoS::AtMostOnce {
            0
        } else {
            self.acks.issue(reached as u32)
        };
        let (mut full, mut congested) = (false, false);
        for (name, ordinary, shared) in targets {
            let wanted = ordinary || !shared.is_empty();
            let out = Outgoing {
                ticket: if wanted { ticket } else { 0 },
                message: encoded.clone(),
                ordinary,
                shared,
                retained_at,
                also: also.clone(),
                generation,
            };
            match self.send(name, out) {
                Queued::Full if wanted => {
                    full = true;
                    self.acks.acknowledge(ticket);
                }
                Queued::Full => {}
                Queued::Congested => congested = true,
                Queued::Ok => {}
            }
        }
        drop(routes);
        if congested {
            self.counters.congested.fetch_add(1, Ordering::Relaxed);
        }
        LinkForwarded {
            nodes: reached,
            ticket,
            full,
            congested,
        }
    }

    /// Passes a marker down the stream to `to` behind everything queued for it so far, and
    /// waits (at most `wait`) until `to` has handled it. Returns whether it did (at once when
    /// nothing was ever queued for `to`).
    pub async fn flush(&self, to: &str, wait: Duration) -> bool {
        // Every forward that matched the routes as they were before the caller saw them
        // change has queued its message (they hold the read lock until then).
        drop(self.replicated.routes.write());
        if !self.peers.lock().contains_key(to) {
            return true;
        }
        let ticket = self.acks.issue(1);
        let marker = Outgoing {
            ticket,
            message: Bytes::new(),
            ordinary: false,
            shared: Vec::new(),
            retained_at: 0,
            also: None,
            generation: 0,
        };
        if let Queued::Full = self.send(Arc::from(to), marker) {
            self.acks.acknowledge(ticket);
            return false;
        }
        let mut done = self.acks.watch();
        tokio::time::timeout(wait, async {
            while !self.acks.is_done(ticket) {
                if done.changed().await.is_err() {
                    return;
                }
            }
        })
        .await
        .is_ok()
    }

    /// The live and leaving peers, rebuilt only after gossip changed.
    fn peers_now(&self) -> Arc<PeerSets> {
        let mut cache = self.peers_cache.lock();
        let (live, sets) = &mut *cache;
        if live.has_changed().unwrap_or(false) || sets.alive.is_empty() && sets.leaving.is_empty() {
            let members = live.borrow_and_update();
            let names = |want: MemberStatus| -> Vec<Arc<str>> {
                members
                    .iter()
                    .filter(|p| p.status == want && *p.name != *self.me)
                    .map(|p| Arc::<str>::from(p.name.as_str()))
                    .collect()
            };
            *sets = Arc::new(PeerSets {
                alive: names(MemberStatus::Alive),
                leaving: names(MemberStatus::Leaving),
            });
        }
        sets.clone()
    }

    /// Queues for a peer; a full queue drops the message (counted).
    fn send(&self, name: Arc<str>, out: Outgoing) -> Queued {
        let mut peers = self.peers.lock();
        let queue = peers.entry(name.clone()).or_insert_with(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            let streaming = Arc::new(AtomicBool::new(false));
            let congested = Arc::new(AtomicBool::new(false));
            let peer = Peer {
                streaming: streaming.clone(),
                congested: congested.clone(),
                pressure: self.pressure.clone(),
                name: name.clone(),
                me: self.me.to_string(),
                epoch: self.epoch,
                live: self.live.clone(),
                counters: self.counters.clone(),
                acks: self.acks.clone(),
                secret: self.secret.clone(),
                parking: self.parking.clone(),
                seqs: self.seqs.clone(),
                routes: None,
                parked: false,
                stranded: Vec::new(),
            };
            tokio::spawn(peer.run(rx));
            PeerQueue {
                tx,
                streaming,
                congested,
            }
        });
        match queue.tx.try_send(out) {
            Ok(()) => {
                self.counters.queued.fetch_add(1, Ordering::Relaxed);
                if QUEUE - queue.tx.capacity() > CONGESTED
                    && queue.streaming.load(Ordering::Relaxed)
                {
                    // Raised before the publisher pauses: the peer's next batch sees it.
                    self.pressure.raise(&queue.congested);
                    Queued::Congested
                } else {
                    Queued::Ok
                }
            }
            Err(_) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                Queued::Full
            }
        }
    }
}

/// What queueing a message for one peer did.
enum Queued {
    Ok,
    /// Queued, and the queue is filling up.
    Congested,
    /// Dropped: the queue is full.
    Full,
}

/// The nodes a message goes to: name, for its ordinary subscribers, the shared
/// subscriptions it serves.
type Targets = SmallVec<[(Arc<str>, bool, Vec<String>); 4]>;

/// Live and leaving peers, as the forwarder's hot path reads them.
#[derive(Debug, Default)]
struct PeerSets {
    /// Alive in gossip.
    alive: Vec<Arc<str>>,
    /// Announced they leave.
    leaving: Vec<Arc<str>>,
}

/// The index of `name` in `targets`, added if missing.
fn target(targets: &mut Targets, name: &Arc<str>) -> usize {
    match targets.iter().position(|(n, _, _)| n == name) {
        Some(i) => i,
        None => {
            targets.push((name.clone(), false, Vec::new()));
            targets.len() - 1
        }
    }
}

/// The stream to one peer.
struct Peer {
    name: Arc<str>,
    me: String,
    epoch: u64,
    live: watch::Receiver<Vec<Member>>,
    counters: Arc<ForwardCounters>,
    acks: Arc<Acks>,
    secret: Secret,
    /// Set while a stream to the peer is up.
    streaming: Arc<AtomicBool>,
    /// Set while its queue is congested.
    congested: Arc<AtomicBool>,
    /// Paused publishers, woken when the queue has room again.
    pressure: Arc<Pressure>,
    /// Parks its messages while it is away (a store shared by the nodes).
    parking: Option<Arc<Parker>>,
    /// The node's sequence numbers (shared by its peers: see [`Forwarder`]).
    seqs: Arc<AtomicU64>,
    /// The subscriptions of its persistent sessions, while it is away.
    routes: Option<Arc<ParkedRoutes>>,
    /// Messages were parked for it since its last stream: the next one tells it to take
    /// them in first.
    parked: bool,
    /// Messages being parked (kept across failed tries).
    stranded: Vec<Stranded>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        // A peer given up on never holds publishers back.
        self.pressure.lower(&self.congested);
    }
}

/// A message sent and not yet acknowledged, with its ticket.
struct Unacked {
    message: Forwarded,
    ticket: u64,
    also: Option<Arc<[Arc<str>]>>,
    generation: u64,
}

impl Peer {
    /// The next sequence number of this process's forwarded messages (increasing on every
    /// stream, unique across them).
    fn next_seq(&self) -> u64 {
        self.seqs.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The peer's gRPC address while it is alive in gossip.
    fn address(&self) -> Option<String> {
        self.live
            .borrow()
            .iter()
            .find(|m| *m.name == *self.name && m.status == MemberStatus::Alive)
            .map(|m| m.grpc.clone())
    }

    async fn run(mut self, mut queue: mpsc::Receiver<Outgoing>) {
        let mut unacked: VecDeque<Unacked> = VecDeque::new();
        let mut backoff = Duration::from_millis(50);
        let mut gone_since: Option<Instant> = None;
        loop {
            let Some(addr) = self.address() else {
                if self.parking.is_some() {
                    // Away: what it was sent and not acknowledged, and what comes for it,
                    // is parked for its persistent sessions.
                    let more = self.park_away(&mut queue, &mut unacked).await;
                    if !more && self.stranded.is_empty() {
                        // Nothing waits: until the next message (parked at once: its
                        // publisher waits for it), or the peer is back.
                        tokio::select! {
                            next = queue.recv() => match next {
                                Some(o) => {
                                    self.stranded.push(Stranded {
                                        ticket: o.ticket,
                                        message: o.message,
                                        ordinary: o.ordinary,
                                        shared: o.shared,
                                        seq: self.next_seq(),
                                        retained_at: o.retained_at,
                                        also: o.also,
                                        generation: o.generation,
                                        sent: false,
                                    });
                                }
                                None => {
                                    if unacked.is_empty() {
                                        return;
                                    }
                                }
                            },
                            changed = self.live.changed() => if changed.is_err() { return },
                            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        }
                    }
                    continue;
                }
                // Gone from gossip: wait for it; after a while, stop holding its messages.
                let since = *gone_since.get_or_insert_with(Instant::now);
                if since.elapsed() > GIVE_UP {
                    let mut dropped = unacked.len() as u64;
                    for u in unacked.drain(..) {
                        self.acks.acknowledge(u.ticket);
                    }
                    while let Ok(o) = queue.try_recv() {
                        self.acks.acknowledge(o.ticket);
                        dropped += 1;
                    }
                    if dropped > 0 {
                        tracing::warn!(node = %self.name, dropped, "node gone: its queued messages are dropped");
                        self.counters.dropped.fetch_add(dropped, Ordering::Relaxed);
                    }
                }
                if let Ok(Err(_)) =
                    tokio::time::timeout(Duration::from_secs(1), self.live.changed()).await
                {
                    // Gossip stopped: the node is shutting down.
                    return;
                }
                if queue.is_closed() && queue.is_empty() {
                    return;
                }
                continue;
            };
            gone_since = None;
            if !self.stranded.is_empty() {
                self.unstrand(&mut unacked);
            }
            let started = Instant::now();
            let result = self.stream(&addr, &mut queue, &mut unacked).await;
            // Not streaming: a full queue drops rather than pausing publishers, and the ones
            // paused now read on.
            self.streaming.store(false, Ordering::Relaxed);
            self.pressure.lower(&self.congested);
            match result {
                Ok(()) => return,
                Err(e) => {
                    if started.elapsed() > Duration::from_secs(5) {
                        // A stream that worked for a while: reconnect quickly.
                        backoff = Duration::from_millis(50);
                    }
                    tracing::debug!(node = %self.name, %addr, error = %e, "forward stream broke; reconnecting");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    /// Parks what was sent to the peer and not acknowledged, then what waits in its queue (a
    /// batch at a time), completing their tickets once the store has them. Returns whether
    /// there may be more to park right away. After a failure the messages are kept (for the
    /// next try, or to be sent if the peer comes back first) and it waits a little.
    async fn park_away(
        &mut self,
        queue: &mut mpsc::Receiver<Outgoing>,
        unacked: &mut VecDeque<Unacked>,
    ) -> bool {
        let Some(parker) = self.parking.clone() else {
            return false;
        };
        // The unacknowledged first (in order), then the queue's.
        self.stranded.extend(unacked.drain(..).map(|u| Stranded {
            ticket: u.ticket,
            message: u.message.message,
            ordinary: u.message.deliver,
            shared: u.message.shared,
            seq: u.message.seq,
            retained_at: u.message.retained_at,
            also: u.also,
            generation: u.generation,
            sent: true,
        }));
        while self.stranded.len() < BATCH {
            let Ok(o) = queue.try_recv() else { break };
            self.stranded.push(Stranded {
                ticket: o.ticket,
                message: o.message,
                ordinary: o.ordinary,
                shared: o.shared,
                seq: self.next_seq(),
                retained_at: o.retained_at,
                also: o.also,
                generation: o.generation,
                sent: false,
            });
        }
        // Flush markers: nothing to park, and the node they flush is away.
        let acks = &self.acks;
        self.stranded.retain(|s| {
            let marker = s.message.is_empty();
            if marker {
                acks.acknowledge(s.ticket);
            }
            !marker
        });
        if self.stranded.is_empty() {
            return false;
        }
        let fresh = self
            .routes
            .as_ref()
            .is_some_and(|r| r.read_at.elapsed() < ROUTES_TTL);
        let routes = if fresh { self.routes.clone() } else { None };
        let name = self.name.to_string();
        let stranded = std::mem::take(&mut self.stranded);
        let job = tokio::task::spawn_blocking(move || {
            let parked = match routes {
                Some(r) => Ok(r),
                None => ParkedRoutes::read(&**parker.shared(), &name).map(Arc::new),
            }
            .and_then(|routes| parker.park(&name, &routes, &stranded).map(|n| (n, routes)));
            (parked, stranded)
        })
        .await;
        let Ok((parked, stranded)) = job else {
            return false;
        };
        match parked {
            Ok((parked, routes)) => {
                self.routes = Some(routes);
                self.parked = true;
                self.acks
                    .acknowledge_all(stranded.iter().map(|s| s.ticket).filter(|t| *t != 0));
                if queue.len() <= RELIEVED {
                    self.pressure.lower(&self.congested);
                }
                tracing::debug!(node = %self.name, messages = stranded.len(), parked, "messages for a node that is away parked in the shared store");
                true
            }
            Err(e) => {
                tracing::warn!(node = %self.name, error = %e, messages = stranded.len(), "parking messages for a node that is away failed; retrying");
                self.stranded = stranded;
                tokio::time::sleep(Duration::from_secs(1)).await;
                false
            }
        }
    }

    /// Messages that were to be parked, and the peer is back: they are sent again (before
    /// anything newer, with their sequence numbers).
    fn unstrand(&mut self, unacked: &mut VecDeque<Unacked>) {
        for s in self.stranded.drain(..).rev() {
            unacked.push_front(Unacked {
                message: Forwarded {
                    seq: s.seq,
                    message: s.message,
                    deliver: s.ordinary,
                    shared: s.shared,
                    retained_at: s.retained_at,
                },
                ticket: s.ticket,
                also: s.also,
                generation: s.generation,
            });
        }
    }

    /// Runs one stream until it breaks (`Err`) or the queue closes (`Ok`).
    async fn stream(
        &mut self,
        addr: &str,
        queue: &mut mpsc::Receiver<Outgoing>,
        unacked: &mut VecDeque<Unacked>,
    ) -> Result<(), String> {
        let channel = channel(addr, &self.secret).map_err(|e| e.to_string())?;
        let mut client = NodeClient::new(channel)
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE);
        let (tx, rx) = mpsc::channel::<ForwardBatch>(8);
        let mut acks = client
            .forward(self.secret.signed(ReceiverStream::new(rx)))
            .await
            .map_err(|e| e.to_string())?
            .into_inner();
        let batch = |messages: Vec<Forwarded>| ForwardBatch {
            sender: self.me.clone(),
            epoch: self.epoch,
            messages,
            claim_parked: false,
        };
        if self.parked {
            // Parked messages first: the peer takes them in before anything sent now.
            let mut first = batch(Vec::new());
            first.claim_parked = true;
            tx.send(first).await.map_err(|e| e.to_string())?;
            self.parked = false;
        }
        self.streaming.store(true, Ordering::Relaxed);
        let mut live = self.live.clone();
        if !unacked.is_empty() {
            self.counters
                .resent
                .fetch_add(unacked.len() as u64, Ordering::Relaxed);
            let again: Vec<Forwarded> = unacked.iter().map(|u| u.message.clone()).collect();
            for chunk in again.chunks(BATCH) {
                tx.send(batch(chunk.to_vec()))
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
        loop {
            tokio::select! {
                first = queue.recv(), if unacked.len() < MAX_UNACKED => {
                    let Some(first) = first else { return Ok(()) };
                    let mut messages = Vec::with_capacity(16);
                    let mut next = Some(first);
                    while let Some(o) = next {
                        let f = Forwarded {
                            seq: self.next_seq(),
                            message: o.message,
                            deliver: o.ordinary,
                            shared: o.shared,
                            retained_at: o.retained_at,
                        };
                        if o.ticket != 0 || o.retained_at != 0 {
                            unacked.push_back(Unacked {
                                message: f.clone(),
                                ticket: o.ticket,
                                also: o.also,
                                generation: o.generation,
                            });
                        }
                        messages.push(f);
                        next = if messages.len() < BATCH { queue.try_recv().ok() } else { None };
                    }
                    tx.send(batch(messages)).await.map_err(|e| e.to_string())?;
                    if queue.len() <= RELIEVED {
                        self.pressure.lower(&self.congested);
                    }
                }
                changed = live.changed(), if self.parking.is_some() => {
                    // Gone from gossip (dead, frozen, cut off): its messages are parked
                    // rather than waiting for a stream that may never move again.
                    if changed.is_err() || self.address().is_none() {
                        return Err("the node is no longer alive in gossip".into());
                    }
                }
                ack = acks.message() => match ack {
                    Ok(Some(a)) if a.epoch == self.epoch => {
                        let mut tickets = SmallVec::<[u64; 64]>::new();
                        while unacked.front().is_some_and(|u| u.message.seq <= a.seq) {
                            if let Some(u) = unacked.pop_front() {
                                tickets.push(u.ticket);
                            }
                            self.counters.acknowledged.fetch_add(1, Ordering::Relaxed);
                        }
                        self.acks.acknowledge_all(tickets);
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => return Err("stream closed by the peer".into()),
                    Err(e) => return Err(e.to_string()),
                },
            }
        }
    }
}
