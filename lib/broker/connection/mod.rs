//! One client connection: a task that owns the socket and, while connected, the client's
//! session state. It reads and decodes packets, applies the protocol (CONNECT handshake,
//! QoS flows, subscriptions, topic aliases, flow control, keep alive), drains the session's
//! outbox, and writes everything produced in one wake-up with one write.
//!
//! This file is the I/O side: [`serve`] opens the connection and runs its loop (`Conn`),
//! which polls the socket both ways, the outbox, the kick and the waits on the store and the
//! cluster, and hands what it reads to the protocol state, `link::Link`, which never
//! touches the socket: it takes decoded packets and queues encoded ones (and store changes).
//!
//! | file | holds |
//! | --- | --- |
//! | `handshake.rs` | reading CONNECT, enhanced authentication, refusals, the linger |
//! | `accept.rs` | CONNECT accepted or refused, the session opened, CONNACK |
//! | `link.rs` | the protocol state, holds on output, the dispatch of each packet |
//! | `publish.rs` | PUBLISH from the client and its acknowledgements |
//! | `subscribe.rs` | SUBSCRIBE and UNSUBSCRIBE |
//! | `reauth.rs` | AUTH during a connection |
//! | `outbound.rs` | deliveries, retained messages and packet ids towards the client |

mod accept;
mod handshake;
mod link;
mod outbound;
mod publish;
mod reauth;
mod subscribe;

pub use handshake::refuse;
use handshake::*;
use link::*;

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::broker::Reassessed;
use super::broker::{Broker, Routed};
use super::client_info::{ClientInfo, WillSummary};
use super::cluster_link::Takeover;
use super::enhanced_auth::{AuthExchange, AuthStep};
use super::message::{Delivery, Message};
use super::rate_limit::Bucket;
use super::reading::read_some;
use super::retained::RetainedCursor;
use super::route_wait::RouteWait;
use super::session::{InflightMessage, Outbox, SessionState, SessionSubscription, Stage};
use super::sessions::{Closed, Kick, NEVER_EXPIRES, PendingWill};
use super::stats::Stats;
use crate::auth::{ClientAcl, Credentials, Refusal};
use crate::mqtt::topic::{parse_shared, valid_topic_filter};
use crate::mqtt::{
    Auth, ConnAck, Connect, DecodeError, Disconnect, LastWill, MqttString, Packet, Protocol,
    PubReply, Publish, QoS, ReasonCode, RetainHandling, SubAck, Subscribe, UnsubAck, Unsubscribe,
    decode, peek_frame,
};
use crate::shutdown::Shutdown;
use crate::storage::Change;
use crate::storage::record::{SessionRecord, now_unix};

/// Time a client has to send CONNECT after opening the connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Above this many buffered output bytes the outbox is not drained until the socket takes them.
const WRITE_HIGH_WATER: usize = 256 * 1024;
/// Above this many buffered output bytes the connection stops reading until the client reads.
const MAX_BUFFERED: usize = 4 * 1024 * 1024;
/// Time given to flush the last packets before closing.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a connection closed with a reason code reads and discards what the client still
/// sends, so the reason code reaches it (see [`linger`]).
const LINGER: Duration = Duration::from_secs(1);
/// How long a connection being taken over waits for more of what its client sent before.
const TAKEOVER_READ_IDLE: Duration = Duration::from_millis(50);
/// The most a connection being taken over reads before it lets the session go.
const TAKEOVER_READ_MAX: usize = 1024 * 1024;
/// Bytes read per read call when the buffer has no room.
const READ_CHUNK: usize = 4096;
/// Most bytes reserved at once for the rest of a packet: a peer's fixed header alone never
/// makes us allocate up to 256 MiB; a larger packet's buffer grows as its bytes arrive.
const RESERVE_AHEAD: usize = 1024 * 1024;
/// A read smaller than this that leaves no partial packet frees the read buffer: the
/// connection is quiet, and an idle connection should hold no buffer.
const QUIET_READ: usize = 512;
/// An empty output buffer larger than this is freed after a burst.
const KEEP_OUT_CAPACITY: usize = 64 * 1024;
/// How long a SUBACK waits (in a cluster) for the new routes to be committed: longer than a
/// raft election (1-2 s) and the commit after it.
const ROUTE_WAIT: Duration = Duration::from_secs(5);
/// Retained messages taken for a new subscription at a time, once the outbox holds fewer.
const RETAINED_CHUNK: usize = 64;
/// Topics of the retained store looked at per chunk (the store's read lock is held that long).
const RETAINED_SCAN_BUDGET: usize = 4096;
/// Chunks of retained messages per wake-up before the connection lets other work run.
const RETAINED_CHUNKS_PER_TURN: usize = 16;
/// The longest a publisher pauses for a congested cluster queue before it reads on anyway.
const CONGESTION_PAUSE: Duration = Duration::from_millis(100);

/// Why and how a connection ends.
#[derive(Debug)]
struct Close {
    /// v5: the DISCONNECT reason code to send, if any.
    reason: Option<ReasonCode>,
    /// Whether the will message is published.
    publish_will: bool,
    /// For the log.
    why: String,
}

impl Close {
    fn protocol(reason: ReasonCode, why: impl Into<String>) -> Close {
        Close {
            reason: Some(reason),
            publish_will: true,
            why: why.into(),
        }
    }

    fn decode(e: &DecodeError) -> Close {
        Close::protocol(e.reason_code(), e.to_string())
    }
}

/// Serves one client on `stream` until it disconnects, breaks the protocol, is taken over,
/// or the broker shuts down. `listener` names the transport it came in on ("tcp", "ws", ...).
pub async fn serve<S>(
    broker: Arc<Broker>,
    stream: S,
    peer: String,
    listener: &'static str,
    shutdown: Shutdown,
) where
    S: AsyncRead + AsyncWrite + Send + Unpin,
{
    // Boxed: the handshake's state (CONNECT, authentication, the session's opening) is freed
    // once it is over instead of sizing every connection's task for it.
    let Some((mut conn, early_close)) =
        Box::pin(open(broker, stream, peer, listener, shutdown)).await
    else {
        return;
    };
    let close = match early_close {
        Some(close) => close,
        // Polled by hand: one small state for every connection, no per-turn futures.
        None => std::future::poll_fn(|cx| conn.poll_turns(cx)).await,
    };
    // Boxed: the closing steps' state is not part of every connection's task.
    Box::pin(conn.close(close)).await;
}

/// Reads CONNECT, runs enhanced authentication, opens the session and handles what the
/// client sent right behind CONNECT. `None`: no connection came of it (refused, or gone).
async fn open<S>(
    broker: Arc<Broker>,
    mut stream: S,
    peer: String,
    listener: &'static str,
    mut shutdown: Shutdown,
) -> Option<(Conn<S>, Option<Close>)>
where
    S: AsyncRead + AsyncWrite + Send + Unpin,
{
    let mut rbuf = BytesMut::new();
    let max_packet = broker.capabilities.packet_size_limit();
    let first = tokio::select! {
        r = tokio::time::timeout(CONNECT_TIMEOUT, read_connect(&mut stream, &mut rbuf, max_packet)) => r,
        _ = shutdown.wait() => return None,
    };
    let connect = match first {
        Ok(Ok(Some(c))) => c,
        Ok(Ok(None)) => {
            tracing::debug!(%peer, bytes = rbuf.len(), "connection closed (or reset) before its CONNECT was complete");
            return None;
        }
        Ok(Err(refusal)) => {
            tracing::debug!(%peer, error = %refusal.why, "refused connection");
            if let Some((protocol, code)) = refusal.connack {
                refuse_connection(&mut stream, protocol, code).await;
            }
            return None;
        }
        Err(_) => {
            tracing::debug!(%peer, "no CONNECT in time");
            return None;
        }
    };
    // Enhanced authentication (v5) runs its AUTH exchange before CONNACK.
    let auth = if connect.properties.authentication_method.is_some() {
        match authenticate(&broker, &connect, &mut stream, &mut rbuf, max_packet).await {
            Ok(done) => Some(done),
            Err(code) => {
                tracing::info!(%peer, reason = %code, "enhanced authentication failed");
                refuse_connection(&mut stream, connect.protocol, code).await;
                return None;
            }
        }
    } else {
        None
    };
    let kick = Arc::new(Kick::default());
    let mut link = match Link::accept(&broker, connect, auth, kick, &peer, listener).await {
        Ok(link) => link,
        Err((protocol, code, why)) => {
            let reason = if protocol.is_v5() {
                code.to_string()
            } else {
                format!("0x{:02X} (MQTT 3.x return code)", code.0)
            };
            tracing::info!(%peer, %reason, why, "connection refused");
            refuse_connection(&mut stream, protocol, code).await;
            return None;
        }
    };
    broker.stats.client_connected();
    broker.events.each(|o| o.connected(&link.info));
    tracing::debug!(%peer, client_id = %link.client_id, protocol = %link.protocol, "client connected");
    if link.keep_alive > 0 {
        link.heard_from();
        broker.keep_alive.watch(&link.kick);
    }
    // Packets the client sent right behind CONNECT (it need not wait for CONNACK) came in the
    // same read; handle them now rather than at the next read.
    let early_close = if rbuf.is_empty() {
        None
    } else {
        link.handle_input(&mut rbuf, max_packet).err()
    };
    link.drain_outbox();
    if rbuf.is_empty() {
        rbuf = BytesMut::new();
    }
    // From here on, shutdown reaches the connection as a kick (`Broker::disconnect_all`): one
    // wake-up source less per connection.
    let early_close = early_close.or_else(|| {
        shutdown.is_fired().then(|| Close {
            reason: Some(ReasonCode::SERVER_SHUTTING_DOWN),
            publish_will: true,
            why: "server shutting down".into(),
        })
    });
    let conn = Conn {
        link,
        stream,
        rbuf,
        unflushed: false,
        waits: None,
        max_packet,
    };
    Some((conn, early_close))
}

/// A connected client: its protocol state, its stream, and what the loop keeps between
/// turns. This is most of what every idle connection costs, so it holds nothing else: the
/// stream is not split (one task polls both ways), keep alive is the broker's wheel's
/// ([`super::keep_alive`]), the peer's address is in the client's info, and the waits on the
/// store and the cluster are made when first needed.
struct Conn<S> {
    link: Link,
    stream: S,
    /// Bytes read and not yet decoded (no buffer while the connection is quiet).
    rbuf: BytesMut,
    /// Set after a write; TLS and WebSocket streams hold bytes until flushed.
    unflushed: bool,
    /// The store's and the cluster's waits, once the connection waited on either.
    waits: Option<Box<Waits>>,
    max_packet: usize,
}

/// Turns of the loop per poll before the task lets others run.
const TURNS_PER_POLL: usize = 32;

/// What one turn of the loop came to.
enum Turn {
    /// Something moved: look again.
    Again,
    /// Nothing can move until a waker fires.
    Wait,
    /// The connection ends.
    Close(Close),
}

/// The connection's waits on its store and cluster, each a boxed future that lives while
/// the wait does (most connections never wait on either).
struct Waits {
    /// The store's committed-ticket watermark.
    committed: Option<tokio::sync::watch::Receiver<u64>>,
    commit: Option<
        Pin<Box<dyn Future<Output = (tokio::sync::watch::Receiver<u64>, Option<u64>)> + Send>>,
    >,
    /// What the cluster node tells the connection.
    cluster: Option<Box<ClusterWatches>>,
    event: Option<ClusterWait>,
}

/// A wait for cluster events: the waits it was started for, and the future (which owns a
/// copy of the watches and gives them back, updated, with the event).
type ClusterWait = (
    ClusterWaits,
    Pin<Box<dyn Future<Output = (Option<Box<ClusterWatches>>, ClusterEvent)> + Send>>,
);

impl Waits {
    /// Made when the connection first waits: the commit, forwarding and route receivers are
    /// marked changed, so what happened before they existed is looked at once (a commit or a
    /// forwarding ack that came before the wait began is not waited for).
    fn new(broker: &Broker) -> Box<Waits> {
        Box::new(Waits {
            committed: broker.store.as_ref().map(|s| {
                let mut rx = s.committed();
                rx.mark_changed();
                rx
            }),
            commit: None,
            cluster: broker.cluster_link().map(|c| {
                let mut watches = ClusterWatches {
                    forwarded: c.forwarded(),
                    routes: c.routes_changed(),
                    relief: c.relief(),
                };
                // Not relief: a pause begun now waits for relief from now on (or its own
                // deadline), not for one that came before it.
                watches.forwarded.mark_changed();
                watches.routes.mark_changed();
                Box::new(watches)
            }),
            event: None,
        })
    }

    /// The next commit, once output is held for one.
    fn poll_commit(&mut self, cx: &mut Context<'_>) -> Poll<Option<u64>> {
        if self.commit.is_none() {
            let Some(mut rx) = self.committed.clone() else {
                return Poll::Pending;
            };
            self.commit = Some(Box::pin(async move {
                let value = match rx.changed().await {
                    Ok(()) => Some(*rx.borrow_and_update()),
                    // The storage writer is gone: nothing will ever be committed again.
                    Err(_) => None,
                };
                (rx, value)
            }));
        }
        let Some(wait) = self.commit.as_mut() else {
            return Poll::Pending;
        };
        match wait.as_mut().poll(cx) {
            Poll::Ready((rx, value)) => {
                self.commit = None;
                self.committed = value.map(|_| rx);
                Poll::Ready(value)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    /// The next cluster event among `waits` (a new wait set starts a new future).
    fn poll_cluster(&mut self, cx: &mut Context<'_>, waits: ClusterWaits) -> Poll<ClusterEvent> {
        if self.event.as_ref().is_some_and(|(w, _)| *w != waits) {
            self.event = None;
        }
        if self.event.is_none() {
            // Without a cluster only a pause (a rate limit) has a deadline to wait for.
            if self.cluster.is_none() && waits.paused.is_none() {
                return Poll::Pending;
            }
            let mut watches = self.cluster.clone();
            let future: Pin<Box<dyn Future<Output = _> + Send>> = Box::pin(async move {
                let event = cluster_event(&mut watches, waits).await;
                (watches, event)
            });
            self.event = Some((waits, future));
        }
        let Some((_, wait)) = self.event.as_mut() else {
            return Poll::Pending;
        };
        match wait.as_mut().poll(cx) {
            Poll::Ready((watches, event)) => {
                self.event = None;
                self.cluster = watches;
                Poll::Ready(event)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    /// Turns of the loop until nothing can move ([`Poll::Pending`], every waker registered)
    /// or the connection ends.
    fn poll_turns(&mut self, cx: &mut Context<'_>) -> Poll<Close> {
        for _ in 0..TURNS_PER_POLL {
            match self.turn(cx) {
                Turn::Again => continue,
                Turn::Wait => return Poll::Pending,
                Turn::Close(close) => return Poll::Ready(close),
            }
        }
        // Busy for a while: let the other connections of this thread run.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// One turn of the connection's loop: the kick (which keep alive uses too), the socket
    /// both ways, the outbox, and the store's and the cluster's waits, each polled (so each
    /// has the task's waker) and acted on if ready.
    fn turn(&mut self, cx: &mut Context<'_>) -> Turn {
        let link = &mut self.link;
        link.flush_counts();
        if let Poll::Ready(reason) = link.kick.poll_received(cx) {
            return Turn::Close(match reason {
                ReasonCode::KEEP_ALIVE_TIMEOUT => {
                    Close::protocol(ReasonCode::KEEP_ALIVE_TIMEOUT, "keep alive timeout")
                }
                _ => Close {
                    reason: Some(reason),
                    publish_will: true,
                    // Shutdown keeps the original's wording (events carry it as their reason).
                    why: if reason == ReasonCode::SERVER_SHUTTING_DOWN {
                        "server shutting down".into()
                    } else {
                        format!("disconnected by the server: {reason}")
                    },
                },
            });
        }
        let updates = link.kick.take_updates();
        if updates != 0
            && let Err(close) = link.apply_updates(updates)
        {
            return Turn::Close(close);
        }
        let mut moved = false;
        let buffered = link.out.len() + link.held.len();
        // Output first: the client reads what is due before more is produced.
        if !link.out.is_empty() || self.unflushed {
            if link.out.is_empty() {
                match Pin::new(&mut self.stream).poll_flush(cx) {
                    Poll::Ready(Ok(())) => {
                        self.unflushed = false;
                        if link.out.capacity() > KEEP_OUT_CAPACITY {
                            link.out = BytesMut::new();
                        }
                        moved = true;
                    }
                    Poll::Ready(Err(e)) => return Turn::Close(write_failed(e)),
                    Poll::Pending => {}
                }
            } else {
                match Pin::new(&mut self.stream).poll_write(cx, &link.out) {
                    Poll::Ready(Ok(n)) => {
                        link.out.advance(n);
                        Stats::add(&link.broker.stats.bytes_sent, n as u64);
                        Stats::add(&link.info.bytes_sent, n as u64);
                        // Flushed in the same turn when that is free (plain TCP: always).
                        self.unflushed = !(link.out.is_empty()
                            && matches!(
                                Pin::new(&mut self.stream).poll_flush(cx),
                                Poll::Ready(Ok(()))
                            ));
                        if buffered >= WRITE_HIGH_WATER && link.out.len() < WRITE_HIGH_WATER {
                            // Draining stopped at the high-water mark with messages still
                            // queued: resume now that there is room.
                            link.drain_outbox();
                        }
                        moved = true;
                    }
                    Poll::Ready(Err(e)) => return Turn::Close(write_failed(e)),
                    Poll::Pending => {}
                }
            }
        }
        let buffered = link.out.len() + link.held.len();
        // A client that sends but does not read must not make its output grow without bound;
        // one whose messages fill a cluster queue waits until it has room.
        if buffered < MAX_BUFFERED && link.paused.is_none() {
            match Pin::new(&mut read_some(&mut self.stream, &mut self.rbuf)).poll(cx) {
                Poll::Ready(Ok(0)) => {
                    return Turn::Close(Close {
                        reason: None,
                        publish_will: true,
                        why: "connection closed by the client".into(),
                    });
                }
                Poll::Ready(Ok(n)) => {
                    Stats::add(&link.broker.stats.bytes_received, n as u64);
                    Stats::add(&link.info.bytes_received, n as u64);
                    link.heard_from();
                    if let Err(close) = link.charge_read(n) {
                        return Turn::Close(close);
                    }
                    if let Err(close) = link.handle_input(&mut self.rbuf, self.max_packet) {
                        return Turn::Close(close);
                    }
                    if n < QUIET_READ && self.rbuf.is_empty() {
                        // Quiet: no buffer held while waiting for the next packet.
                        self.rbuf = BytesMut::new();
                    } else if n >= QUIET_READ {
                        // Busy: its own buffer, read into directly.
                        reserve(&mut self.rbuf);
                    }
                    link.drain_outbox();
                    moved = true;
                }
                Poll::Ready(Err(e)) => {
                    return Turn::Close(Close {
                        reason: None,
                        publish_will: true,
                        why: format!("read error: {e}"),
                    });
                }
                Poll::Pending => {}
            }
        }
        if link.out.len() + link.held.len() < WRITE_HIGH_WATER {
            // Registered before looking: a message queued in between still wakes the task.
            link.outbox.register(cx);
            if !link.outbox.is_empty() || link.retained.is_some() {
                let before = link.out.len() + link.held.len();
                link.drain_outbox();
                moved |= link.out.len() + link.held.len() != before;
            }
        }
        if link.hold_until > 0
            && let Poll::Ready(committed) = self
                .waits
                .get_or_insert_with(|| Waits::new(&link.broker))
                .poll_commit(cx)
        {
            if let Some(c) = committed {
                link.release(c);
            }
            moved = true;
        }
        let cluster_waits = link.cluster_waits();
        if cluster_waits.any()
            && let Poll::Ready(event) = self
                .waits
                .get_or_insert_with(|| Waits::new(&link.broker))
                .poll_cluster(cx, cluster_waits)
        {
            match event {
                ClusterEvent::Forwarded => link.release_forwarded(),
                ClusterEvent::Routes => link.check_routes(),
                ClusterEvent::Relief => {
                    // Relieved, or paused long enough: the packets already read go first.
                    // The pause was the broker's, not the client's silence.
                    link.paused = None;
                    link.heard_from();
                    if let Err(close) = link.handle_input(&mut self.rbuf, self.max_packet) {
                        return Turn::Close(close);
                    }
                    link.drain_outbox();
                }
            }
            moved = true;
        }
        if moved { Turn::Again } else { Turn::Wait }
    }
}

fn write_failed(e: std::io::Error) -> Close {
    Close {
        reason: None,
        publish_will: true,
        why: format!("write error: {e}"),
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    /// Ends the connection: reads what a client being taken over sent before, sends the
    /// DISCONNECT with its reason code (v5), flushes, hands the session back, and lingers.
    async fn close(self, close: Close) {
        let Conn {
            mut link,
            mut stream,
            mut rbuf,
            unflushed,
            max_packet,
            ..
        } = self;
        let broker = link.broker.clone();
        let close = if close.reason == Some(ReasonCode::SESSION_TAKEN_OVER) {
            // What the client sent on this connection before it opened the new one is
            // handled before the session moves (a retained clear, a DISCONNECT that ends the
            // session).
            match link
                .read_what_arrived(&mut stream, &mut rbuf, max_packet)
                .await
            {
                Ok(()) => close,
                Err(ended) => ended,
            }
        } else {
            close
        };
        // Ended (after what was read last, which may have paused it): no keep alive.
        link.kick.set_keep_alive_deadline(super::keep_alive::NONE);
        tracing::debug!(peer = %link.info.remote, client_id = %link.client_id, why = %close.why, "client disconnected");
        broker
            .events
            .each(|o| o.disconnected(&link.info, &close.why));
        // Offline before the client can see the connection close: a QoS 0 message published
        // after that must not be queued for it.
        link.outbox.set_online(false);
        let mut told = false;
        if let (Some(reason), true) = (close.reason, link.protocol.is_v5()) {
            // Straight into `out`: output still held for a commit is not sent (nothing it
            // acknowledges is promised yet), but the DISCONNECT must be.
            link.hold_until = 0;
            link.hold_forwarded = None;
            link.route_wait = None;
            link.send(Packet::Disconnect(Disconnect::new(reason.for_disconnect())));
            told = reason != ReasonCode::SERVER_SHUTTING_DOWN;
        }
        if !link.out.is_empty() || unflushed {
            let _ = tokio::time::timeout(FLUSH_TIMEOUT, async {
                stream.write_all_buf(&mut link.out).await?;
                stream.shutdown().await
            })
            .await;
        }
        Stats::sub(&broker.stats.clients_connected, 1);
        link.flush_counts();
        // The session goes back first: a connection taking it over does not wait for the
        // linger.
        link.finish(close.publish_will);
        if told {
            linger(&mut stream).await;
        }
    }
}

fn reserve(buf: &mut BytesMut) -> &mut BytesMut {
    if buf.capacity() - buf.len() < READ_CHUNK / 4 {
        buf.reserve(READ_CHUNK);
    }
    buf
}

/// With part of a packet in `buf`: room for the rest of it, at most [`RESERVE_AHEAD`] at once.
fn reserve_for_frame(buf: &mut BytesMut, max_packet: usize) {
    if let Ok(Some(frame)) = peek_frame(buf, max_packet) {
        buf.reserve(
            frame
                .total_len()
                .saturating_sub(buf.len())
                .min(RESERVE_AHEAD),
        );
    }
}

/// What a cluster node tells a connection.
#[derive(Clone)]
struct ClusterWatches {
    /// Changes when forwarding tickets complete.
    forwarded: tokio::sync::watch::Receiver<u64>,
    /// Changes with the route table.
    routes: tokio::sync::watch::Receiver<u64>,
    /// Changes when a congested queue has room again.
    relief: tokio::sync::watch::Receiver<u64>,
}

/// What a connection waits for from its cluster node.
#[derive(Clone, Copy, PartialEq, Eq)]
struct ClusterWaits {
    /// Output is held for forwarding acknowledgements.
    forwarded: bool,
    /// Output is held for routes, until then at the latest.
    routes: Option<Instant>,
    /// Reading is paused, until then at the latest.
    paused: Option<Instant>,
}

impl ClusterWaits {
    fn any(&self) -> bool {
        self.forwarded || self.routes.is_some() || self.paused.is_some()
    }
}

/// What happened of what a connection waits for.
enum ClusterEvent {
    /// Forwarding tickets completed.
    Forwarded,
    /// The route table changed, or the wait for it is over.
    Routes,
    /// A congested queue has room, or the pause is over.
    Relief,
}

/// The next of the cluster events a connection waits for. One boxed branch for them all:
/// only cluster nodes ever wait on it, and every connection's task is sized for each branch
/// it selects on.
async fn cluster_event(
    watches: &mut Option<Box<ClusterWatches>>,
    waits: ClusterWaits,
) -> ClusterEvent {
    let Some(w) = watches else {
        // No cluster: a pause (the client's rate limit) ends at its deadline.
        if waits.paused.is_some() {
            sleep_until(waits.paused).await;
            return ClusterEvent::Relief;
        }
        return std::future::pending().await;
    };
    Box::pin(async move {
        /// Resolves when `rx` changes; never if its sender is gone (the node shut down).
        async fn changed(rx: &mut tokio::sync::watch::Receiver<u64>, wanted: bool) -> u64 {
            if !wanted || rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
            *rx.borrow_and_update()
        }
        tokio::select! {
            _ = changed(&mut w.forwarded, waits.forwarded) => ClusterEvent::Forwarded,
            _ = changed(&mut w.routes, waits.routes.is_some()) => ClusterEvent::Routes,
            _ = sleep_until(waits.routes), if waits.routes.is_some() => ClusterEvent::Routes,
            _ = changed(&mut w.relief, waits.paused.is_some()) => ClusterEvent::Relief,
            _ = sleep_until(waits.paused), if waits.paused.is_some() => ClusterEvent::Relief,
        }
    })
    .await
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    /// Every connection's task holds this future for its whole life, so its size is most of
    /// an idle connection's memory (benches/idle_memory.py measures the whole: ~2.4 KB). The
    /// handshake and the closing steps are boxed to keep them out; this catches state
    /// creeping back in (600 bytes on a duplex stream in a debug build).
    #[test]
    fn connection_task_state_stays_small() {
        let broker = super::Broker::new(Default::default());
        let (stream, _peer) = tokio::io::duplex(64);
        let signal = crate::shutdown::ShutdownSignal::new();
        let task = super::serve(broker, stream, String::new(), "tcp", signal.subscribe());
        let size = std::mem::size_of_val(&task);
        assert!(size <= 640, "connection task state is {size} bytes");
    }
}
