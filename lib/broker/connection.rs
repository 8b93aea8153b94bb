//! One client connection: a task that owns the socket and, while connected, the client's
//! session state. It reads and decodes packets, applies the protocol (CONNECT handshake,
//! QoS flows, subscriptions, topic aliases, flow control, keep alive), drains the session's
//! outbox, and writes everything produced in one wake-up with one write.

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

/// Answers a connection a listener limit refused (`mqtt.options.limits`): its CONNECT is read
/// so the CONNACK speaks its protocol — `code` for v5, 0x03 Server unavailable for 3.x.
pub async fn refuse<S>(broker: Arc<Broker>, stream: S, peer: String, code: ReasonCode, why: &str)
where
    S: AsyncRead + AsyncWrite + Send + Unpin,
{
    let mut stream = stream;
    let mut rbuf = BytesMut::new();
    let max_packet = broker.capabilities.packet_size_limit();
    let read = tokio::time::timeout(
        CONNECT_TIMEOUT,
        read_connect(&mut stream, &mut rbuf, max_packet),
    )
    .await;
    let protocol = match read {
        Ok(Ok(Some(connect))) => connect.protocol,
        _ => return,
    };
    let code = if protocol.is_v5() {
        code
    } else {
        ReasonCode::V3_SERVER_UNAVAILABLE
    };
    tracing::info!(%peer, reason = %code, why, "connection refused");
    refuse_connection(&mut stream, protocol, code).await;
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
    if let Some(period) = link.keep_alive_period() {
        link.kick
            .set_keep_alive_deadline(broker.keep_alive.deadline_after(period));
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
    /// Made when the connection first waits: every receiver is marked changed, so what
    /// happened before it existed is looked at once (a commit or a forwarding ack that came
    /// before the wait began is not waited for).
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
                watches.forwarded.mark_changed();
                watches.routes.mark_changed();
                watches.relief.mark_changed();
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
        // Ended: the keep-alive wheel lets go of it.
        link.kick.set_keep_alive_deadline(super::keep_alive::NONE);
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

/// After a DISCONNECT with a reason code (and our side of the connection shut down), reads
/// and discards what the client still sends, until it closes or [`LINGER`] passes: closing
/// at once would answer its next packet with a reset, which can destroy the DISCONNECT
/// unread in its receive buffer.
async fn linger<R: AsyncRead + Unpin>(reader: &mut R) {
    let deadline = tokio::time::Instant::now() + LINGER;
    let mut sink = vec![0u8; READ_CHUNK];
    while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, reader.read(&mut sink)).await {
        if n == 0 {
            return;
        }
    }
}

/// Answers CONNECT with a refusing CONNACK, shuts our side down and lingers (best effort:
/// the connection closes next).
async fn refuse_connection<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    protocol: Protocol,
    code: ReasonCode,
) {
    let mut out = BytesMut::new();
    if Packet::ConnAck(ConnAck::new(code, false))
        .encode(protocol, &mut out)
        .is_ok()
    {
        let _ = tokio::time::timeout(FLUSH_TIMEOUT, async {
            stream.write_all(&out).await?;
            stream.shutdown().await
        })
        .await;
        linger(stream).await;
    }
}

fn reserve(buf: &mut BytesMut) -> &mut BytesMut {
    if buf.capacity() - buf.len() < READ_CHUNK / 4 {
        buf.reserve(READ_CHUNK);
    }
    buf
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

/// Why the first packet did not open a connection.
struct BadFirstPacket {
    /// The CONNACK to answer with, in which protocol, if one is due.
    connack: Option<(Protocol, ReasonCode)>,
    why: String,
}

/// Reads the first packet, which must be CONNECT `[MQTT-3.1.0-1]`. `Ok(None)`: the client
/// went away first.
async fn read_connect<R: AsyncRead + Unpin>(
    reader: &mut R,
    rbuf: &mut BytesMut,
    max_packet: usize,
) -> Result<Option<Box<Connect>>, BadFirstPacket> {
    loop {
        if let Some(&first) = rbuf
            .first()
            .filter(|&&b| b != crate::mqtt::kind::CONNECT << 4)
        {
            // [MQTT-3.1.0-1], [MQTT-2.1.3-1]: the first byte is not that of a CONNECT, so
            // neither is the packet; its announced body is not waited for.
            return Err(BadFirstPacket {
                connack: None,
                why: format!("first packet starts with 0x{first:02X}, not CONNECT"),
            });
        }
        let level = connect_level(rbuf);
        match decode(rbuf, Protocol::V5, max_packet) {
            Ok(Some(Packet::Connect(c))) => return Ok(Some(c)),
            Ok(Some(p)) => {
                return Err(BadFirstPacket {
                    connack: None,
                    why: format!("first packet is {}, not CONNECT", p.name()),
                });
            }
            Ok(None) => {}
            Err(DecodeError::UnsupportedProtocol { name, level }) => {
                // [MQTT-3.1.2-2]: answer 0x01 (3.1.1 format, which every client reads) and close.
                return Err(BadFirstPacket {
                    connack: Some((
                        Protocol::V3_1_1,
                        ReasonCode::V3_UNACCEPTABLE_PROTOCOL_VERSION,
                    )),
                    why: format!("unsupported protocol {name:?} level {level}"),
                });
            }
            Err(e) => {
                // A v5 client learns why in CONNACK; 3.x clients are simply closed.
                let connack = (level == Some(5)).then_some((Protocol::V5, e.reason_code()));
                return Err(BadFirstPacket {
                    connack,
                    why: e.to_string(),
                });
            }
        }
        if let Ok(Some(frame)) = peek_frame(rbuf, max_packet) {
            rbuf.reserve(
                frame
                    .total_len()
                    .saturating_sub(rbuf.len())
                    .min(RESERVE_AHEAD),
            );
        }
        match reader.read_buf(reserve(rbuf)).await {
            Ok(0) | Err(_) => return Ok(None),
            Ok(_) => {}
        }
    }
}

/// Runs the enhanced authentication exchange of CONNECT (spec 4.12): the method's steps, with
/// AUTH 0x18 packets in both directions until it decides. Returns the method and the data for
/// CONNACK, or the CONNACK reason code of the refusal.
async fn authenticate<S: AsyncRead + AsyncWrite + Unpin>(
    broker: &Broker,
    connect: &Connect,
    stream: &mut S,
    rbuf: &mut BytesMut,
    max_packet: usize,
) -> Result<(MqttString, Option<bytes::Bytes>), ReasonCode> {
    let name = connect
        .properties
        .authentication_method
        .clone()
        .unwrap_or_default();
    let method = broker
        .auth_method(&name)
        .ok_or(ReasonCode::BAD_AUTHENTICATION_METHOD)?;
    let mut exchange = method.begin(&connect.client_id);
    let mut data = connect.properties.authentication_data.clone();
    loop {
        match exchange.step(data.as_deref()) {
            AuthStep::Success(server_data) => return Ok((name, server_data)),
            AuthStep::Failure => return Err(broker.capabilities.not_authorized()),
            AuthStep::Continue(server_data) => {
                let mut auth = Auth {
                    reason: ReasonCode::CONTINUE_AUTHENTICATION,
                    ..Auth::default()
                };
                auth.properties.authentication_method = Some(name.clone());
                auth.properties.authentication_data = Some(server_data);
                let mut out = BytesMut::new();
                Packet::Auth(auth)
                    .encode(Protocol::V5, &mut out)
                    .map_err(|_| ReasonCode::IMPLEMENTATION_SPECIFIC_ERROR)?;
                stream
                    .write_all(&out)
                    .await
                    .map_err(|_| ReasonCode::UNSPECIFIED_ERROR)?;
                let next =
                    tokio::time::timeout(CONNECT_TIMEOUT, read_packet(stream, rbuf, max_packet))
                        .await
                        .map_err(|_| broker.capabilities.not_authorized())?;
                match next {
                    Ok(Some(Packet::Auth(a)))
                        if a.reason == ReasonCode::CONTINUE_AUTHENTICATION
                            && a.properties.authentication_method.as_ref() == Some(&name) =>
                    {
                        data = a.properties.authentication_data;
                    }
                    Ok(Some(_)) => return Err(ReasonCode::PROTOCOL_ERROR),
                    Ok(None) => return Err(ReasonCode::UNSPECIFIED_ERROR),
                    Err(e) => return Err(e.reason_code()),
                }
            }
        }
    }
}

/// Reads one v5 packet; `Ok(None)` when the client went away.
async fn read_packet<R: AsyncRead + Unpin>(
    reader: &mut R,
    rbuf: &mut BytesMut,
    max_packet: usize,
) -> Result<Option<Packet>, DecodeError> {
    loop {
        if let Some(p) = decode(rbuf, Protocol::V5, max_packet)? {
            return Ok(Some(p));
        }
        match reader.read_buf(reserve(rbuf)).await {
            Ok(0) | Err(_) => return Ok(None),
            Ok(_) => {}
        }
    }
}

/// The protocol level of a CONNECT at the start of `buf`, read without decoding it; `None`
/// for any other packet type, so no other packet is ever answered with CONNACK.
fn connect_level(buf: &[u8]) -> Option<u8> {
    if *buf.first()? >> 4 != crate::mqtt::kind::CONNECT {
        return None;
    }
    let frame = peek_frame(buf, usize::MAX).ok()??;
    let body = buf.get(frame.header_len..)?;
    let name_len = u16::from_be_bytes([*body.first()?, *body.get(1)?]) as usize;
    body.get(2 + name_len).copied()
}

/// Per-connection counters, flushed into [`Stats`] once per wake-up.
#[derive(Debug, Default)]
struct Counts {
    packets_received: u32,
    packets_sent: u32,
    messages_received: u32,
    messages_sent: u32,
}

/// Topic aliases of a connection, both ways; boxed on first use (most clients use none).
#[derive(Debug, Default)]
struct Aliases {
    /// Aliases the client set up towards us.
    inbound: HashMap<u16, MqttString>,
    /// Aliases we set up towards the client.
    outbound: HashMap<MqttString, u16>,
}

/// Enhanced authentication of a connection, for re-authentication.
struct Reauth {
    /// The method of CONNECT.
    method: MqttString,
    /// An exchange in progress.
    exchange: Option<Box<dyn AuthExchange>>,
}

/// What few connections have, boxed together so the others pay one pointer for it.
#[derive(Default)]
struct Rare {
    /// Enhanced authentication, when CONNECT used it.
    reauth: Option<Reauth>,
    /// The client's inbound rate limit, when one is configured.
    rate: Option<Bucket>,
}

/// The protocol state of one connected client.
struct Link {
    broker: Arc<Broker>,
    /// Identifies this connection in the session registry.
    connection: u64,
    protocol: Protocol,
    client_id: MqttString,
    /// The session state, owned while connected.
    session: SessionState,
    /// Where the router puts messages for this client.
    outbox: Arc<Outbox>,
    /// What operators see of this client.
    info: Arc<ClientInfo>,
    /// The will, published unless the client disconnects normally (boxed: often absent).
    will: Option<Box<LastWill>>,
    /// Seconds the session outlives the connection.
    session_expiry: u32,
    /// Keep alive in force (0: none).
    keep_alive: u16,
    /// Asks the connection to disconnect (the registry, the keep-alive wheel, the HTTP API),
    /// and carries the keep alive's deadline.
    kick: Arc<Kick>,
    /// Topic aliases, once any is used.
    aliases: Option<Box<Aliases>>,
    /// The client's topic alias maximum.
    client_alias_max: u16,
    /// The client's receive maximum: QoS 1/2 messages we may have unacknowledged.
    send_quota: usize,
    /// The client's maximum packet size.
    client_max_packet: usize,
    /// Counters gathered during one wake-up, added to the broker's at its end (one atomic
    /// add per counter per wake-up instead of per packet).
    counts: Counts,
    /// Packets waiting to be written.
    out: BytesMut,
    /// Packets that must wait until the store has committed `hold_until`.
    held: BytesMut,
    /// The store ticket `held` waits for; 0 when nothing is held.
    hold_until: u64,
    /// The forwarding tickets `held` waits for (a cluster), until each is done.
    hold_forwarded: Option<Box<Vec<u64>>>,
    /// Routes `held` waits for (a SUBACK in a cluster waits until other nodes will forward
    /// what matches), and when it stops waiting.
    route_wait: Option<Box<RouteWait>>,
    /// Reading is paused until then, or until the cluster's queues have room (a message
    /// published here found a node's queue filling up).
    paused: Option<Instant>,
    /// Enhanced authentication and the rate limit, when either applies.
    rare: Option<Box<Rare>>,
    /// Whether this session's state is persisted (persistent session, broker with a store).
    persistent: bool,
    /// What the client may publish and receive; `None`: everything.
    acl: Option<Box<ClientAcl>>,
    /// Retained messages new subscriptions still have to get (boxed: rarely present).
    retained: Option<Box<VecDeque<(RetainedCursor, SessionSubscription)>>>,
}

impl Link {
    /// Validates CONNECT, opens the session and queues CONNACK (and the resent inflight
    /// messages). On refusal: the protocol and code of the CONNACK to send.
    async fn accept(
        broker: &Arc<Broker>,
        connect: Box<Connect>,
        auth: Option<(MqttString, Option<bytes::Bytes>)>,
        kick: Arc<Kick>,
        peer: &str,
        listener: &'static str,
    ) -> Result<Link, (Protocol, ReasonCode, &'static str)> {
        let caps = &broker.capabilities;
        let protocol = connect.protocol;
        let v5 = protocol.is_v5();
        let refuse = |v5_code: ReasonCode, v3_code: ReasonCode, why| {
            Err((protocol, if v5 { v5_code } else { v3_code }, why))
        };
        if !caps.accepts(protocol) {
            return refuse(
                ReasonCode::UNSUPPORTED_PROTOCOL_VERSION,
                ReasonCode::V3_UNACCEPTABLE_PROTOCOL_VERSION,
                "protocol below the minimum version",
            );
        }
        if let Some(will) = &connect.will {
            if !caps.topic_within_limits(&will.topic) {
                return refuse(
                    ReasonCode::TOPIC_NAME_INVALID,
                    ReasonCode::V3_NOT_AUTHORIZED,
                    "will topic longer or deeper than the maximum",
                );
            }
            if will.qos > caps.maximum_qos {
                return refuse(
                    ReasonCode::QOS_NOT_SUPPORTED,
                    ReasonCode::V3_NOT_AUTHORIZED,
                    "will QoS above the maximum",
                );
            }
            if will.retain && !caps.retain_available {
                return refuse(
                    ReasonCode::RETAIN_NOT_SUPPORTED,
                    ReasonCode::V3_NOT_AUTHORIZED,
                    "retained will not supported",
                );
            }
        }
        let mut assigned = None;
        let client_id = if connect.client_id.is_empty() {
            if !v5 && !connect.clean_start {
                // [MQTT-3.1.3-8]
                return refuse(
                    ReasonCode::CLIENT_IDENTIFIER_NOT_VALID,
                    ReasonCode::V3_IDENTIFIER_REJECTED,
                    "empty client id without clean session",
                );
            }
            if protocol == Protocol::V3_1 {
                return refuse(
                    ReasonCode::CLIENT_IDENTIFIER_NOT_VALID,
                    ReasonCode::V3_IDENTIFIER_REJECTED,
                    "empty client id in MQTT 3.1",
                );
            }
            let id = MqttString::from(format!(
                "auto-{:016x}",
                broker.next_connection_id() ^ random_seed()
            ));
            assigned = Some(id.clone());
            id
        } else {
            connect.client_id.detached()
        };

        let session_expiry = if v5 {
            connect.properties.session_expiry_interval.unwrap_or(0)
        } else if connect.clean_start {
            0
        } else {
            NEVER_EXPIRES
        }
        .min(caps.maximum_session_expiry_interval);

        if broker.is_banned(&client_id) {
            return refuse(
                ReasonCode::BANNED,
                ReasonCode::V3_NOT_AUTHORIZED,
                "client id is banned",
            );
        }
        let resumes_a_backlog = !connect.clean_start && broker.sessions.has_queued(&client_id);
        if broker.overload.is_overloaded() && !resumes_a_backlog {
            // Overloaded: only a client taking back a session with messages waiting comes
            // in (it drains what weighs on the broker).
            broker.overload.count_refused();
            return refuse(
                ReasonCode::SERVER_BUSY,
                ReasonCode::V3_SERVER_UNAVAILABLE,
                "the broker is overloaded (mqtt.options.overload)",
            );
        }
        // The authenticator that decided this CONNECT (compared again once the session is
        // open, see below).
        let mut decided_by = None;
        let acl = loop {
            let authenticator = broker.authenticator();
            let Some(authenticator) = &authenticator else {
                break None;
            };
            decided_by = Some(authenticator.clone());
            let credentials = Credentials {
                client_id: &client_id,
                username: connect.username.as_deref(),
                password: connect.password.as_deref(),
                remote: peer,
            };
            let decided = authenticator.connect(&credentials, auth.is_some()).await;
            if !broker.authenticator_is(Some(authenticator)) {
                // A reload replaced the authenticator while this CONNECT was decided (and
                // before this client is among those the reload decides again): once more.
                continue;
            }
            match decided {
                Ok(acl) => break acl.map(Box::new),
                Err(Refusal::BadCredentials) => {
                    return refuse(
                        ReasonCode::BAD_USER_NAME_OR_PASSWORD,
                        ReasonCode::V3_BAD_USER_NAME_OR_PASSWORD,
                        "bad user name or password",
                    );
                }
                Err(Refusal::NotAuthorized) => {
                    return refuse(
                        caps.not_authorized(),
                        ReasonCode::V3_NOT_AUTHORIZED,
                        "not authorized",
                    );
                }
                Err(Refusal::Banned) => {
                    return refuse(
                        ReasonCode::BANNED,
                        ReasonCode::V3_NOT_AUTHORIZED,
                        "refused by the blacklist",
                    );
                }
                Err(Refusal::Unavailable) => {
                    return refuse(
                        ReasonCode::SERVER_UNAVAILABLE,
                        ReasonCode::V3_SERVER_UNAVAILABLE,
                        "auth datasource unavailable",
                    );
                }
            }
        };
        let keep_alive = if v5 && caps.server_keep_alive > 0 {
            caps.server_keep_alive
        } else {
            connect.keep_alive
        };
        let info = Arc::new(ClientInfo {
            username: connect.username.as_ref().map(|u| u.to_string()),
            listener,
            clean_start: connect.clean_start,
            keep_alive,
            will: connect.will.as_ref().map(|w| {
                Box::new(WillSummary {
                    topic: w.topic.to_string(),
                    payload: bytes::Bytes::copy_from_slice(&w.payload),
                    qos: w.qos,
                    retain: w.retain,
                })
            }),
            ..ClientInfo::new(client_id.clone(), peer.to_string(), protocol)
        });
        if session_expiry > 0 && broker.store.as_ref().is_some_and(|s| !s.is_healthy()) {
            // A persistent session cannot be promised while the store cannot be written.
            return refuse(
                ReasonCode::SERVER_UNAVAILABLE,
                ReasonCode::V3_SERVER_UNAVAILABLE,
                "storage unavailable",
            );
        }
        // An id the server assigned is new: no node can hold a session of it. The claim on the
        // id lasts until the session is open here.
        let claim = broker
            .cluster_link()
            .filter(|_| assigned.is_none())
            .map(|c| c.claim(&client_id));
        if let (Some(cluster), Some(claim)) = (broker.cluster_link(), &claim) {
            let handed = match cluster
                .take_over(&client_id, connect.clean_start, claim)
                .await
            {
                Takeover::Found(h) => Some(h),
                // Every node answered and none had it: a node that is gone may have left it
                // in the shared store.
                Takeover::NotFound
                    if !connect.clean_start && broker.sessions.client(&client_id).is_none() =>
                {
                    match broker.load_orphan(&client_id).await {
                        Ok(found) => found,
                        Err(_) => {
                            // The session may be in the store: a new one now would lose it.
                            return refuse(
                                ReasonCode::SERVER_UNAVAILABLE,
                                ReasonCode::V3_SERVER_UNAVAILABLE,
                                "the shared store cannot be read",
                            );
                        }
                    }
                }
                Takeover::NotFound => None,
                Takeover::Unknown if connect.clean_start => None,
                Takeover::Unknown => {
                    // Resuming without it could split the session between two nodes.
                    return refuse(
                        ReasonCode::SERVER_UNAVAILABLE,
                        ReasonCode::V3_SERVER_UNAVAILABLE,
                        "a cluster node that may hold the session did not answer",
                    );
                }
                Takeover::Lost(handed) => {
                    // A session handed over before the loss stays here, offline, for the
                    // client's next CONNECT to find (it is never dropped).
                    if let Some(h) = handed.filter(|_| !connect.clean_start) {
                        let persistent = broker.store.is_some() && session_expiry > 0;
                        broker.adopt(&client_id, *h, persistent);
                    }
                    return refuse(
                        ReasonCode::SERVER_BUSY,
                        ReasonCode::V3_SERVER_UNAVAILABLE,
                        "a newer connection of this client id on another cluster node won",
                    );
                }
            };
            if let Some(handed) = handed.filter(|_| !connect.clean_start) {
                // The client's session was on another node: it continues here. A session of
                // the client this node still held (a race) ends first.
                if let Some(old) = broker.sessions.release(&client_id).await {
                    broker.end_session(&old.state, &old.outbox);
                }
                let persistent = broker.store.is_some() && session_expiry > 0;
                broker.adopt(&client_id, handed, persistent);
            }
        }
        let connection = broker.next_connection_id();
        let opened = match broker
            .sessions
            .open(
                &client_id,
                connect.clean_start,
                connection,
                kick.clone(),
                caps.maximum_client_writes_pending,
                info.clone(),
            )
            .await
        {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!(%peer, client_id = %client_id, error = %e, "session takeover failed");
                return refuse(
                    ReasonCode::SERVER_BUSY,
                    ReasonCode::V3_SERVER_UNAVAILABLE,
                    "session takeover timed out",
                );
            }
        };
        if !broker.authenticator_is(decided_by.as_ref()) {
            // A reload replaced the authenticator after this CONNECT was decided and may have
            // listed the connected clients before this one was among them.
            let (broker, info, kick) = (broker.clone(), info.clone(), kick.clone());
            tokio::spawn(async move { broker.reassess_client(&info, connection, &kick).await });
        }
        if let Some((old, old_outbox)) = &opened.discarded {
            broker.end_session(old, old_outbox);
        }
        if let Some(will) = opened.will {
            broker.publish_will(will);
        }
        if claim.as_ref().is_some_and(|c| c.superseded()) {
            // A newer connection of the id on another node won while this one opened its
            // session: this one goes, leaving the session as a disconnection would (for the
            // winner to take over).
            if let Closed::Ended(state) = broker.sessions.close(
                &client_id,
                connection,
                opened.state,
                session_expiry,
                None,
                caps.maximum_client_writes_pending,
            ) {
                broker.end_session(&state, &opened.outbox);
            }
            broker.forget_reassessed(connection);
            return refuse(
                ReasonCode::SERVER_BUSY,
                ReasonCode::V3_SERVER_UNAVAILABLE,
                "a newer connection of this client id on another cluster node won",
            );
        }
        drop(claim);

        let mut link = Link {
            broker: broker.clone(),
            connection,
            protocol,
            client_id,
            session: opened.state,
            outbox: opened.outbox,
            info,
            will: connect.will.map(|w| Box::new(detach_will(w))),
            session_expiry,
            keep_alive,
            kick,
            aliases: None,
            client_alias_max: connect.properties.topic_alias_maximum.unwrap_or(0),
            // The client's receive maximum, within the server's own bound on what it keeps
            // unacknowledged per client.
            send_quota: connect
                .properties
                .receive_maximum
                .map_or(caps.maximum_inflight, |r| r.min(caps.maximum_inflight))
                as usize,
            client_max_packet: connect
                .properties
                .maximum_packet_size
                .map_or(usize::MAX, |m| m as usize),
            counts: Counts::default(),
            out: BytesMut::new(),
            held: BytesMut::new(),
            hold_until: 0,
            hold_forwarded: None,
            route_wait: None,
            paused: None,
            rare: {
                let rare = Rare {
                    reauth: auth.as_ref().map(|(m, _)| Reauth {
                        method: m.clone(),
                        exchange: None,
                    }),
                    rate: Bucket::new(broker.tunables.rates()),
                };
                (rare.reauth.is_some() || rare.rate.is_some()).then(|| Box::new(rare))
            },
            persistent: broker.store.is_some() && session_expiry > 0,
            acl,
            retained: None,
        };
        link.outbox.set_persistent(link.persistent);
        // This CONNECT won the session (cluster-wide): what the store holds under the id is
        // this node's from now on, whichever node wrote it.
        let mut changes = Vec::new();
        if broker.store.is_some() && !(opened.present && link.persistent) {
            // Unless a persistent session was resumed, whatever the store holds under this id
            // (an earlier session, now discarded or no longer persistent) ends here.
            changes.push(Change::SessionReset {
                client_id: link.client_id.clone(),
            });
        }
        if link.persistent {
            changes.push(Change::SessionClaimed {
                client_id: link.client_id.clone(),
                record: link.session_record(true),
            });
        }
        broker.persist(changes);

        // A resumed session brings its unacknowledged messages along.
        link.info.inflight.store(
            link.session.inflight.len() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );

        let mut connack = ConnAck::new(ReasonCode::SUCCESS, opened.present);
        if v5 {
            let p = &mut connack.properties;
            if connect
                .properties
                .session_expiry_interval
                .is_some_and(|e| e > session_expiry)
            {
                p.session_expiry_interval = Some(session_expiry);
            }
            p.receive_maximum = Some(caps.receive_maximum);
            if caps.maximum_qos < QoS::ExactlyOnce {
                p.maximum_qos = Some(caps.maximum_qos);
            }
            if !caps.retain_available {
                p.retain_available = Some(false);
            }
            if caps.maximum_packet_size > 0 {
                p.maximum_packet_size = Some(caps.maximum_packet_size);
            }
            p.assigned_client_identifier = assigned;
            if caps.topic_alias_maximum > 0 {
                p.topic_alias_maximum = Some(caps.topic_alias_maximum);
            }
            if !caps.wildcard_sub_available {
                p.wildcard_subscription_available = Some(false);
            }
            if !caps.sub_id_available {
                p.subscription_identifiers_available = Some(false);
            }
            if !caps.shared_sub_available {
                p.shared_subscription_available = Some(false);
            }
            if caps.server_keep_alive > 0 {
                p.server_keep_alive = Some(caps.server_keep_alive);
            }
            if let Some((method, data)) = auth {
                p.authentication_method = Some(method);
                p.authentication_data = data;
            }
        }
        link.send(Packet::ConnAck(connack));
        link.resend_inflight();
        Ok(link)
    }

    /// How long after the last packet the keep alive runs out: 1.5 times the interval.
    fn keep_alive_period(&self) -> Option<Duration> {
        (self.keep_alive > 0).then(|| Duration::from_millis(self.keep_alive as u64 * 1500))
    }

    /// The client was heard from (or the broker resumes reading it): its keep alive starts
    /// over. One relaxed store; the wheel moves it when it next looks.
    fn heard_from(&self) {
        if let Some(period) = self.keep_alive_period() {
            self.kick
                .set_keep_alive_deadline(self.broker.keep_alive.deadline_after(period));
        }
    }

    /// Stops reading the client until `until` (or until relief, in a cluster): meanwhile
    /// its silence is the broker's doing, so its keep alive is suspended.
    fn pause_until(&mut self, until: Instant) {
        self.paused = Some(until);
        if self.keep_alive > 0 {
            self.kick.set_keep_alive_deadline(super::keep_alive::PAUSED);
        }
    }

    /// Encodes a packet into the output buffer, or behind the held output when something
    /// before it waits for a commit (order is kept).
    /// True while output waits for a commit, acknowledgements or routes.
    fn holding(&self) -> bool {
        self.hold_until > 0 || self.hold_forwarded.is_some() || self.route_wait.is_some()
    }

    fn send(&mut self, packet: Packet) {
        let buf = if self.holding() {
            &mut self.held
        } else {
            &mut self.out
        };
        let before = buf.len();
        if let Err(e) = packet.encode(self.protocol, buf) {
            buf.truncate(before);
            tracing::warn!(client_id = %self.client_id, error = %e, packet = packet.name(), "could not encode packet");
            return;
        }
        self.counts.packets_sent += 1;
    }

    /// Submits changes of this session's persisted state; with `hold`, every packet sent from
    /// now on waits until they are durable.
    fn persist(&mut self, changes: Vec<Change>, hold: bool) {
        if !self.persistent {
            return;
        }
        let ticket = self.broker.persist(changes);
        if hold {
            self.hold_for(ticket);
        }
    }

    /// Holds output from now on until the store has committed `ticket`.
    fn hold_for(&mut self, ticket: u64) {
        let done = self
            .broker
            .store
            .as_ref()
            .is_none_or(|s| s.is_committed(ticket));
        if ticket > 0 && !done {
            self.hold_until = self.hold_until.max(ticket);
        }
    }

    /// Releases held output once the store has committed what it waits for.
    fn release(&mut self, committed: u64) {
        if self.hold_until > 0 && committed >= self.hold_until {
            self.hold_until = 0;
            self.release_held();
        }
    }

    /// What this connection waits for from its cluster node.
    /// Over its rate limit: reading pauses for `wait` (what was read is handled after), or
    /// the client is disconnected with 0x96 when the limits say so.
    fn throttle(&mut self, wait: Duration) -> Result<(), Close> {
        if self
            .rare
            .as_ref()
            .and_then(|r| r.rate.as_ref())
            .is_some_and(Bucket::disconnects)
        {
            Stats::add(&self.broker.stats.rate_disconnects, 1);
            return Err(Close::protocol(
                ReasonCode::MESSAGE_RATE_TOO_HIGH,
                "over the client rate limit",
            ));
        }
        let until = Instant::now() + wait;
        if self.paused.is_none_or(|p| p < until) {
            if self.paused.is_none() {
                Stats::add(&self.broker.stats.throttled, 1);
            }
            self.pause_until(until);
        }
        Ok(())
    }

    /// Takes settings a reload changed ([`Kick::RATES`], [`Kick::ACL`]); a client the
    /// blacklist now bans is closed with 0x98 Administrative action (as a ban over the HTTP
    /// API; 0x8A Banned is a CONNACK code only).
    fn apply_updates(&mut self, updates: u8) -> Result<(), Close> {
        if updates & Kick::RATES != 0 {
            let bucket = Bucket::new(self.broker.tunables.rates());
            match &mut self.rare {
                Some(rare) => {
                    rare.rate = bucket;
                    if rare.reauth.is_none() && rare.rate.is_none() {
                        self.rare = None;
                    }
                }
                None => {
                    self.rare = bucket.map(|rate| {
                        Box::new(Rare {
                            reauth: None,
                            rate: Some(rate),
                        })
                    });
                }
            }
        }
        if updates & Kick::ACL != 0 {
            match self.broker.take_reassessed(self.connection) {
                Some(Reassessed::Acl(acl)) => self.acl = acl,
                Some(Reassessed::Refused(_)) => {
                    return Err(Close {
                        reason: Some(ReasonCode::ADMINISTRATIVE_ACTION),
                        publish_will: true,
                        why: "banned by the reloaded blacklist".into(),
                    });
                }
                None => {}
            }
        }
        Ok(())
    }

    /// Charges `n` bytes read to the rate limit.
    fn charge_read(&mut self, n: usize) -> Result<(), Close> {
        if let Some(wait) = self
            .rare
            .as_mut()
            .and_then(|r| r.rate.as_mut())
            .and_then(|b| b.take_bytes(n, Instant::now()))
        {
            self.throttle(wait)?;
        }
        Ok(())
    }

    fn cluster_waits(&self) -> ClusterWaits {
        ClusterWaits {
            forwarded: self.hold_forwarded.is_some(),
            routes: self.route_wait.as_ref().map(|w| w.deadline),
            paused: self.paused,
        }
    }

    /// Holds output from now on until the nodes a message went to acknowledged `ticket`.
    fn hold_for_forwarded(&mut self, ticket: u64) {
        let done = self
            .broker
            .cluster_link()
            .is_none_or(|c| c.is_forwarded(ticket));
        if ticket > 0 && !done {
            self.hold_forwarded.get_or_insert_default().push(ticket);
        }
    }

    /// Releases held output once the other nodes acknowledged every ticket it waits for
    /// (its own tickets only: another publisher's message to a frozen node is not waited for).
    fn release_forwarded(&mut self) {
        let Some(tickets) = self.hold_forwarded.as_mut() else {
            return;
        };
        if let Some(cluster) = self.broker.cluster_link() {
            cluster.retain_unforwarded(tickets);
        } else {
            tickets.clear();
        }
        if tickets.is_empty() {
            self.hold_forwarded = None;
            self.release_held();
        }
    }

    /// The granted filters (with their index among the reason codes) whose routes are not
    /// committed yet; if any, output is held from now on until they are (a SUBACK sent
    /// next waits for them; see [`RouteWait`]).
    fn hold_for_routes(&mut self, granted: Vec<(usize, String)>) -> Vec<(usize, String)> {
        let Some(cluster) = self.broker.cluster_link() else {
            return Vec::new();
        };
        let waiting: Vec<(usize, String)> = granted
            .into_iter()
            .filter(|(_, f)| !cluster.is_routed(f))
            .collect();
        if !waiting.is_empty() && self.route_wait.is_none() {
            self.route_wait = Some(Box::new(RouteWait::new(Instant::now() + ROUTE_WAIT)));
        }
        waiting
    }

    /// Releases held output once the routes it waits for are committed; past the wait, the
    /// filters still not routed fail in their SUBACK and their subscriptions are undone.
    fn check_routes(&mut self) {
        let Some(cluster) = self.broker.cluster_link().cloned() else {
            self.route_wait = None;
            self.release_held();
            return;
        };
        let Some(w) = self.route_wait.as_mut() else {
            return;
        };
        if w.settle(|f| cluster.is_routed(f)) {
            self.route_wait = None;
            self.release_held();
            return;
        }
        if Instant::now() < w.deadline {
            return;
        }
        let Some(w) = self.route_wait.take() else {
            return;
        };
        let code = if self.protocol.is_v5() {
            ReasonCode::UNSPECIFIED_ERROR
        } else {
            ReasonCode::V3_SUBACK_FAILURE
        };
        for filter in w.fail(&mut self.held, code.0) {
            tracing::warn!(client_id = %self.client_id, %filter, "route not committed in time (no raft quorum?): subscription refused");
            self.undo_subscription(&filter);
        }
        self.release_held();
    }

    /// Takes back a subscription whose SUBACK refused it after all.
    fn undo_subscription(&mut self, filter: &str) {
        if self.session.subscriptions.remove(filter).is_some() {
            let change = Change::Unsubscribed {
                client_id: self.client_id.clone(),
                filter: MqttString::from(filter).detached(),
            };
            self.persist(vec![change], false);
        }
        self.info.unsubscribed(filter);
        self.broker.unsubscribe(&self.outbox, filter);
        if let Some(cursors) = self.retained.as_mut() {
            let inner = match parse_shared(filter) {
                Ok(Some(s)) => s.filter,
                _ => filter,
            };
            cursors.retain(|(c, _)| c.filter() != inner);
        }
    }

    /// Moves the held output out once nothing holds it any more.
    fn release_held(&mut self) {
        if self.holding() {
            return;
        }
        if self.out.is_empty() {
            std::mem::swap(&mut self.out, &mut self.held);
        } else {
            self.out.extend_from_slice(&self.held);
            self.held.clear();
        }
    }

    /// The session's persisted record.
    fn session_record(&self, online: bool) -> SessionRecord {
        let max_expiry = self.broker.capabilities.maximum_message_expiry_interval;
        SessionRecord {
            expiry_interval: self.session_expiry,
            last_seen: now_unix(),
            online,
            protocol_level: self.protocol.level(),
            will: self.will.as_ref().filter(|_| online).map(|w| {
                (
                    w.properties.will_delay_interval.unwrap_or(0),
                    will_message(LastWill::clone(w), &self.client_id, max_expiry),
                )
            }),
        }
    }

    /// The store record of an inflight message's new stage.
    fn inflight_change(&self, m: &InflightMessage) -> Option<Change> {
        (m.delivery.seq != 0).then(|| Change::Message {
            client_id: self.client_id.clone(),
            seq: m.delivery.seq,
            delivery: m.delivery.clone(),
            packet_id: m.packet_id,
            stage: Some(m.stage),
        })
    }

    /// The store record of a message that is done.
    fn done_change(&self, seq: u64) -> Vec<Change> {
        if seq == 0 {
            Vec::new()
        } else {
            vec![Change::MessageDone {
                client_id: self.client_id.clone(),
                seq,
            }]
        }
    }

    /// Adds this wake-up's counters to the broker's.
    fn flush_counts(&mut self) {
        let c = std::mem::take(&mut self.counts);
        let stats = &self.broker.stats;
        for (counter, n) in [
            (&stats.packets_received, c.packets_received),
            (&stats.packets_sent, c.packets_sent),
            (&stats.messages_received, c.messages_received),
            (&stats.messages_sent, c.messages_sent),
        ] {
            if n > 0 {
                Stats::add(counter, n as u64);
            }
        }
    }

    /// Counts an outbound QoS 1/2 message as completed.
    fn inflight_done(&self) {
        Stats::sub(&self.broker.stats.inflight, 1);
        Stats::sub(&self.info.inflight, 1);
    }

    /// Resends unacknowledged messages after a session is resumed `[MQTT-4.4.0-1]`.
    fn resend_inflight(&mut self) {
        let now = Instant::now();
        let inflight: Vec<InflightMessage> = self.session.inflight.iter().cloned().collect();
        for m in inflight {
            match m.stage {
                Stage::AwaitPubComp => self.send(Packet::PubRel(PubReply::new(m.packet_id))),
                Stage::AwaitPubAck | Stage::AwaitPubRec => {
                    let mut publish = m.delivery.to_publish(now);
                    publish.packet_id = m.packet_id;
                    publish.dup = true;
                    self.send(Packet::Publish(publish));
                }
            }
        }
    }

    /// Reads and handles what the client sent before it opened the connection taking this
    /// one's session over: until the client's close, a pause of [`TAKEOVER_READ_IDLE`], or
    /// [`TAKEOVER_READ_MAX`] bytes. `Err` when a packet ends the connection (a DISCONNECT).
    async fn read_what_arrived<R: AsyncRead + Unpin>(
        &mut self,
        reader: &mut R,
        rbuf: &mut BytesMut,
        max_packet: usize,
    ) -> Result<(), Close> {
        let mut read = 0;
        while read < TAKEOVER_READ_MAX && self.paused.is_none() {
            match tokio::time::timeout(TAKEOVER_READ_IDLE, reader.read_buf(reserve(rbuf))).await {
                Ok(Ok(n)) if n > 0 => {
                    read += n;
                    Stats::add(&self.broker.stats.bytes_received, n as u64);
                    Stats::add(&self.info.bytes_received, n as u64);
                    self.handle_input(rbuf, max_packet)?;
                }
                _ => break,
            }
        }
        Ok(())
    }

    /// Decodes and handles every whole packet in `rbuf`.
    fn handle_input(&mut self, rbuf: &mut BytesMut, max_packet: usize) -> Result<(), Close> {
        loop {
            match decode(rbuf, self.protocol, max_packet) {
                Ok(Some(packet)) => {
                    self.counts.packets_received += 1;
                    self.handle(packet)?;
                    if self.paused.is_some() {
                        // The rest waits in the buffer until the pause ends.
                        return Ok(());
                    }
                }
                Ok(None) => {
                    if let Ok(Some(frame)) = peek_frame(rbuf, max_packet) {
                        rbuf.reserve(
                            frame
                                .total_len()
                                .saturating_sub(rbuf.len())
                                .min(RESERVE_AHEAD),
                        );
                    }
                    return Ok(());
                }
                Err(e) => return Err(Close::decode(&e)),
            }
        }
    }

    fn handle(&mut self, packet: Packet) -> Result<(), Close> {
        match packet {
            Packet::Publish(p) => self.on_publish(p),
            Packet::PubAck(r) => {
                if let Some(m) = self.session.complete(r.packet_id, Stage::AwaitPubAck) {
                    self.inflight_done();
                    let done = self.done_change(m.delivery.seq);
                    self.persist(done, false);
                }
                Ok(())
            }
            Packet::PubRec(r) => {
                if !r.reason.is_success() {
                    if let Some(m) = self.session.complete(r.packet_id, Stage::AwaitPubRec) {
                        self.inflight_done();
                        let done = self.done_change(m.delivery.seq);
                        self.persist(done, false);
                    }
                    return Ok(());
                }
                let mut change = None;
                let reason = match self.session.inflight_mut(r.packet_id) {
                    Some(m) if m.stage != Stage::AwaitPubAck => {
                        m.stage = Stage::AwaitPubComp;
                        let m = m.clone();
                        change = self.inflight_change(&m);
                        ReasonCode::SUCCESS
                    }
                    _ => ReasonCode::PACKET_IDENTIFIER_NOT_FOUND,
                };
                // PUBREL only once the new stage is durable: after a crash we must resend PUBREL,
                // never the PUBLISH again.
                self.persist(change.into_iter().collect(), true);
                self.send(Packet::PubRel(PubReply::with_reason(r.packet_id, reason)));
                Ok(())
            }
            Packet::PubRel(r) => {
                let reason = if self.session.inbound_qos2.remove(&r.packet_id) {
                    // PUBCOMP lets the client reuse the id: the release must be durable first.
                    let change = Change::InboundQos2 {
                        client_id: self.client_id.clone(),
                        packet_id: r.packet_id,
                        present: false,
                    };
                    self.persist(vec![change], true);
                    ReasonCode::SUCCESS
                } else {
                    ReasonCode::PACKET_IDENTIFIER_NOT_FOUND
                };
                self.send(Packet::PubComp(PubReply::with_reason(r.packet_id, reason)));
                Ok(())
            }
            Packet::PubComp(r) => {
                if let Some(m) = self.session.complete(r.packet_id, Stage::AwaitPubComp) {
                    self.inflight_done();
                    let done = self.done_change(m.delivery.seq);
                    self.persist(done, false);
                }
                Ok(())
            }
            Packet::Subscribe(s) => self.on_subscribe(s),
            Packet::Unsubscribe(u) => {
                self.on_unsubscribe(u);
                Ok(())
            }
            Packet::PingReq => {
                self.send(Packet::PingResp);
                Ok(())
            }
            Packet::Disconnect(d) => self.on_disconnect(d),
            Packet::Auth(a) => self.on_auth(a),
            Packet::Connect(_) => Err(Close::protocol(
                ReasonCode::PROTOCOL_ERROR,
                "second CONNECT",
            )), // [MQTT-3.1.0-2]
            Packet::ConnAck(_) | Packet::SubAck(_) | Packet::UnsubAck(_) | Packet::PingResp => {
                Err(Close::protocol(
                    ReasonCode::PROTOCOL_ERROR,
                    "server-to-client packet sent by a client",
                ))
            }
        }
    }

    fn on_publish(&mut self, mut p: Publish) -> Result<(), Close> {
        if let Some(wait) = self
            .rare
            .as_mut()
            .and_then(|r| r.rate.as_mut())
            .and_then(|b| b.take_message(Instant::now()))
        {
            self.throttle(wait)?;
        }
        let caps = &self.broker.capabilities;
        self.counts.messages_received += 1;
        if !p.properties.subscription_identifiers.is_empty() {
            return Err(Close::protocol(
                ReasonCode::PROTOCOL_ERROR,
                "subscription identifier in a client PUBLISH",
            )); // [MQTT-3.3.4-6]
        }
        if p.qos > caps.maximum_qos {
            if self.protocol.is_v5() {
                return Err(Close::protocol(
                    ReasonCode::QOS_NOT_SUPPORTED,
                    "PUBLISH above the maximum QoS",
                ));
            }
            p.qos = caps.maximum_qos;
        }
        if p.retain && !caps.retain_available && self.protocol.is_v5() {
            return Err(Close::protocol(
                ReasonCode::RETAIN_NOT_SUPPORTED,
                "retained PUBLISH not supported",
            ));
        }
        if let Some(alias) = p.properties.topic_alias {
            if alias > caps.topic_alias_maximum {
                return Err(Close::protocol(
                    ReasonCode::TOPIC_ALIAS_INVALID,
                    "topic alias above the maximum",
                )); // [MQTT-3.3.2-9]
            }
            if p.topic.is_empty() {
                match self.aliases.as_ref().and_then(|a| a.inbound.get(&alias)) {
                    Some(topic) => p.topic = topic.clone(),
                    None => {
                        return Err(Close::protocol(
                            ReasonCode::PROTOCOL_ERROR,
                            "unknown topic alias",
                        ));
                    }
                }
            } else {
                self.aliases
                    .get_or_insert_default()
                    .inbound
                    .insert(alias, p.topic.detached());
            }
        }
        if !caps.topic_within_limits(&p.topic) {
            // Longer or deeper than the broker keeps: v5 gets 0x90 in PUBACK / PUBREC, 3.x an
            // acknowledgement of a message that is dropped `[MQTT-3.3.5-2]`.
            tracing::debug!(client_id = %self.client_id, bytes = p.topic.len(), "publish to a topic beyond the limits");
            Stats::add(&self.broker.stats.messages_dropped, 1);
            return self.ack(p.qos, p.packet_id, ReasonCode::TOPIC_NAME_INVALID);
        }
        if p.topic.starts_with("$SYS") {
            // Clients may not publish into the broker's own `$SYS` tree: refused in v5,
            // acknowledged and dropped in 3.x `[MQTT-3.3.5-2]`.
            Stats::add(&self.broker.stats.messages_dropped, 1);
            let refused = self.broker.capabilities.not_authorized();
            return self.ack(p.qos, p.packet_id, refused);
        }
        if self
            .acl
            .as_ref()
            .is_some_and(|acl| !acl.may_publish(&p.topic))
        {
            // Denied by the ACL: v5 gets 0x87 in PUBACK / PUBREC, 3.x an acknowledgement of
            // a message that is dropped `[MQTT-3.3.5-2]`; QoS 0 is dropped silently.
            tracing::debug!(client_id = %self.client_id, topic = %p.topic, "publish denied by the ACL");
            Stats::add(&self.broker.stats.messages_dropped, 1);
            let refused = self.broker.capabilities.not_authorized();
            return self.ack(p.qos, p.packet_id, refused);
        }
        let (qos, packet_id) = (p.qos, p.packet_id);
        if qos == QoS::ExactlyOnce {
            if self.session.inbound_qos2.contains(&packet_id) {
                // A resent PUBLISH of a message already received: not delivered again.
                return self.ack(qos, packet_id, ReasonCode::SUCCESS);
            }
            if self.session.inbound_qos2.len() >= caps.receive_maximum as usize {
                return Err(Close::protocol(
                    ReasonCode::RECEIVE_MAXIMUM_EXCEEDED,
                    "receive maximum exceeded",
                ));
            }
            self.session.inbound_qos2.insert(packet_id);
            let change = Change::InboundQos2 {
                client_id: self.client_id.clone(),
                packet_id,
                present: true,
            };
            self.persist(vec![change], true);
        }
        let routed = self.route(p);
        if routed.congested {
            self.pause_until(Instant::now() + CONGESTION_PAUSE);
        }
        // The acknowledgement waits until the message is durable for every persistent
        // session it was queued for, and (in a cluster) acknowledged by the nodes it went to.
        self.hold_for(routed.durable);
        self.hold_for_forwarded(routed.forwarded);
        if qos == QoS::AtMostOnce {
            return Ok(());
        }
        self.ack(
            qos,
            packet_id,
            if routed.overflow {
                // A node's queue was full: not every subscriber got it.
                ReasonCode::QUOTA_EXCEEDED
            } else if routed.reached == 0 {
                ReasonCode::NO_MATCHING_SUBSCRIBERS
            } else {
                ReasonCode::SUCCESS
            },
        )
    }

    /// Answers a QoS 1 or 2 PUBLISH. 3.x has no refusal codes: a refused message is
    /// acknowledged as received and dropped `[MQTT-3.3.5-2]`.
    fn ack(&mut self, qos: QoS, packet_id: u16, reason: ReasonCode) -> Result<(), Close> {
        let reason = if self.protocol.is_v5() {
            reason
        } else {
            ReasonCode::SUCCESS
        };
        match qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => self.send(Packet::PubAck(PubReply::with_reason(packet_id, reason))),
            QoS::ExactlyOnce => {
                if !reason.is_success() {
                    self.session.inbound_qos2.remove(&packet_id);
                }
                self.send(Packet::PubRec(PubReply::with_reason(packet_id, reason)))
            }
        }
        Ok(())
    }

    fn route(&self, p: Publish) -> Routed {
        let max_expiry = self.broker.capabilities.maximum_message_expiry_interval;
        let message = Arc::new(Message::from_publish(
            p,
            Some(self.client_id.clone()),
            max_expiry,
        ));
        let routed = self.broker.publish_shared(message.clone());
        self.broker
            .events
            .each(|o| o.published(&self.info, &message));
        routed
    }

    fn on_subscribe(&mut self, s: Subscribe) -> Result<(), Close> {
        let caps = self.broker.capabilities.clone();
        if s.properties.subscription_identifier.is_some() && !caps.sub_id_available {
            return Err(Close::protocol(
                ReasonCode::SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED,
                "subscription identifiers not supported",
            ));
        }
        let v5 = self.protocol.is_v5();
        let failure = |v5_code: ReasonCode| {
            if v5 {
                v5_code
            } else {
                ReasonCode::V3_SUBACK_FAILURE
            }
        };
        let mut reasons = Vec::with_capacity(s.filters.len());
        let mut retained = Vec::new();
        for f in &s.filters {
            let shared = parse_shared(&f.filter);
            let inner = match shared {
                Ok(Some(sh)) => sh.filter,
                Ok(None) => &f.filter[..],
                Err(_) => {
                    reasons.push(failure(ReasonCode::TOPIC_FILTER_INVALID));
                    continue;
                }
            };
            if f.filter.len() > caps.maximum_topic_length
                || !caps.topic_within_limits(inner)
                || !valid_topic_filter(inner)
            {
                reasons.push(failure(ReasonCode::TOPIC_FILTER_INVALID));
                continue;
            }
            let quota = caps.maximum_subscriptions_per_client;
            if quota > 0
                && self.session.subscriptions.len() >= quota
                && !self.session.subscriptions.contains_key(&f.filter[..])
            {
                reasons.push(failure(ReasonCode::QUOTA_EXCEEDED));
                continue;
            }
            if self
                .acl
                .as_ref()
                .is_some_and(|acl| !acl.may_subscribe(inner))
            {
                tracing::debug!(client_id = %self.client_id, filter = %f.filter, "subscribe denied by the ACL");
                reasons.push(failure(caps.not_authorized()));
                continue;
            }
            let is_shared = matches!(shared, Ok(Some(_)));
            if is_shared && !caps.shared_sub_available {
                reasons.push(failure(ReasonCode::SHARED_SUBSCRIPTIONS_NOT_SUPPORTED));
                continue;
            }
            if !caps.wildcard_sub_available && inner.contains(['+', '#']) {
                reasons.push(failure(ReasonCode::WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED));
                continue;
            }
            let mut options = f.options;
            options.qos = options.qos.min(caps.maximum_qos);
            if !v5 {
                options.no_local = false;
                options.retain_as_published = false;
                options.retain_handling = RetainHandling::OnSubscribe;
            }
            let sub = SessionSubscription {
                options,
                identifier: s.properties.subscription_identifier,
            };
            let is_new = self.broker.subscribe(&self.outbox, &f.filter, sub);
            let filter = f.filter.detached();
            self.info.subscribed(&filter);
            self.session.subscriptions.insert(filter, sub);
            let change = Change::Subscribed {
                client_id: self.client_id.clone(),
                filter: f.filter.detached(),
                options,
                identifier: sub.identifier,
            };
            self.persist(vec![change], true);
            reasons.push(ReasonCode(options.qos as u8));
            let send_retained = !is_shared
                && match options.retain_handling {
                    RetainHandling::OnSubscribe => true,
                    RetainHandling::OnNewSubscribe => is_new,
                    RetainHandling::Never => false,
                };
            if send_retained {
                retained.push((inner.to_string(), sub));
            }
        }
        self.broker.events.each(|o| {
            let granted: Vec<&str> = s
                .filters
                .iter()
                .zip(&reasons)
                .filter(|(_, r)| r.is_success())
                .map(|(f, _)| &f.filter[..])
                .collect();
            o.subscribed(&self.info, &granted)
        });
        // In a cluster, SUBACK once the routes are committed: what others publish after it
        // reaches this subscriber from any node.
        let granted: Vec<(usize, String)> = s
            .filters
            .iter()
            .zip(&reasons)
            .enumerate()
            .filter(|(_, (_, r))| r.is_success())
            .map(|(i, (f, _))| (i, f.filter.to_string()))
            .collect();
        let waiting = self.hold_for_routes(granted);
        let count = reasons.len();
        self.send(Packet::SubAck(SubAck {
            packet_id: s.packet_id,
            reasons,
            properties: Default::default(),
        }));
        if !waiting.is_empty() {
            let end = self.held.len();
            if let Some(w) = self.route_wait.as_mut() {
                w.add(end, count, waiting);
            }
        }
        // Sent at the client's pace, as it reads (see `feed_retained`).
        let since = Instant::now();
        for (filter, sub) in retained {
            self.retained
                .get_or_insert_default()
                .push_back((RetainedCursor::new(&filter, since), sub));
        }
        Ok(())
    }

    fn on_unsubscribe(&mut self, u: Unsubscribe) {
        let mut reasons = Vec::with_capacity(u.filters.len());
        for filter in &u.filters {
            let existed = self.session.subscriptions.remove(filter).is_some();
            self.info.unsubscribed(filter);
            if existed {
                let change = Change::Unsubscribed {
                    client_id: self.client_id.clone(),
                    filter: filter.detached(),
                };
                self.persist(vec![change], true);
            }
            self.broker.unsubscribe(&self.outbox, filter);
            reasons.push(if existed {
                ReasonCode::SUCCESS
            } else {
                ReasonCode::NO_SUBSCRIPTION_EXISTED
            });
        }
        self.broker.events.each(|o| {
            let filters: Vec<&str> = u.filters.iter().map(|f| &f[..]).collect();
            o.unsubscribed(&self.info, &filters)
        });
        self.send(Packet::UnsubAck(UnsubAck {
            packet_id: u.packet_id,
            reasons,
            properties: Default::default(),
        }));
    }

    fn on_disconnect(&mut self, d: Disconnect) -> Result<(), Close> {
        if let Some(expiry) = d.properties.session_expiry_interval {
            if self.session_expiry == 0 && expiry != 0 {
                // [MQTT-3.14.2-2]
                return Err(Close::protocol(
                    ReasonCode::PROTOCOL_ERROR,
                    "session expiry set in DISCONNECT after 0 in CONNECT",
                ));
            }
            self.session_expiry =
                expiry.min(self.broker.capabilities.maximum_session_expiry_interval);
        }
        let publish_will = d.reason == ReasonCode::DISCONNECT_WITH_WILL_MESSAGE;
        Err(Close {
            reason: None,
            publish_will,
            why: format!("DISCONNECT {}", d.reason),
        })
    }

    /// Re-authentication (spec 4.12.1): AUTH 0x19 starts a new exchange with the method of
    /// CONNECT, AUTH 0x18 continues it. Without a method at CONNECT, or with another method,
    /// AUTH is a protocol error `[MQTT-4.12.0-7]`, `[MQTT-4.12.1-1]`.
    fn on_auth(&mut self, a: Auth) -> Result<(), Close> {
        let Some(name) = self
            .rare
            .as_ref()
            .and_then(|r| r.reauth.as_ref())
            .map(|r| r.method.clone())
        else {
            return Err(Close::protocol(
                ReasonCode::PROTOCOL_ERROR,
                "AUTH without authentication at CONNECT",
            ));
        };
        if a.properties.authentication_method.as_ref() != Some(&name) {
            return Err(Close::protocol(
                ReasonCode::PROTOCOL_ERROR,
                "AUTH with another authentication method",
            ));
        }
        if a.reason == ReasonCode::RE_AUTHENTICATE {
            let Some(method) = self.broker.auth_method(&name) else {
                return Err(Close::protocol(
                    ReasonCode::BAD_AUTHENTICATION_METHOD,
                    "authentication method no longer available",
                ));
            };
            let exchange = method.begin(&self.client_id);
            if let Some(r) = self.rare.as_mut().and_then(|r| r.reauth.as_mut()) {
                r.exchange = Some(exchange);
            }
        } else if a.reason != ReasonCode::CONTINUE_AUTHENTICATION
            || self
                .rare
                .as_ref()
                .and_then(|r| r.reauth.as_ref())
                .is_none_or(|r| r.exchange.is_none())
        {
            return Err(Close::protocol(
                ReasonCode::PROTOCOL_ERROR,
                "AUTH out of sequence",
            ));
        }
        let step = match self
            .rare
            .as_mut()
            .and_then(|r| r.reauth.as_mut())
            .and_then(|r| r.exchange.as_mut())
        {
            Some(exchange) => exchange.step(a.properties.authentication_data.as_deref()),
            None => AuthStep::Failure,
        };
        let reply = |reason: ReasonCode, data: Option<bytes::Bytes>| {
            let mut auth = Auth {
                reason,
                ..Auth::default()
            };
            auth.properties.authentication_method = Some(name.clone());
            auth.properties.authentication_data = data;
            Packet::Auth(auth)
        };
        match step {
            AuthStep::Continue(data) => {
                self.send(reply(ReasonCode::CONTINUE_AUTHENTICATION, Some(data)))
            }
            AuthStep::Success(data) => {
                if let Some(r) = self.rare.as_mut().and_then(|r| r.reauth.as_mut()) {
                    r.exchange = None;
                }
                self.send(reply(ReasonCode::SUCCESS, data));
            }
            AuthStep::Failure => {
                return Err(Close::protocol(
                    self.broker.capabilities.not_authorized(),
                    "re-authentication failed",
                ));
            }
        }
        Ok(())
    }

    /// Moves queued messages into the output buffer while the client's receive maximum and
    /// the output high-water mark allow; then tops the outbox up from the retained messages
    /// new subscriptions still have to get.
    fn drain_outbox(&mut self) {
        self.drain_queued();
        if self.retained.is_some() {
            self.feed_retained();
        }
    }

    /// Delivers retained messages of new subscriptions while the client keeps up: a chunk
    /// whenever the outbox is nearly empty and output has room, so a subscriber of a
    /// hundred thousand retained topics gets every one (QoS 1 too), bounded by its receive
    /// maximum rather than by the outbox's bound. A chunk looks at a bounded number of
    /// topics; when the turn's share is used up with room left, the connection wakes itself
    /// to go on after other work.
    fn feed_retained(&mut self) {
        for _ in 0..RETAINED_CHUNKS_PER_TURN {
            let room = self.out.len() + self.held.len() < WRITE_HIGH_WATER
                && self.outbox.len() < RETAINED_CHUNK
                && self.session.inflight.len() < self.send_quota;
            if !room {
                return;
            }
            let Some(cursors) = self.retained.as_mut() else {
                return;
            };
            let Some((cursor, sub)) = cursors.front_mut() else {
                self.retained = None;
                return;
            };
            let sub = *sub;
            let found = self
                .broker
                .retained
                .scan(cursor, RETAINED_CHUNK, RETAINED_SCAN_BUDGET);
            if cursor.is_done() {
                cursors.pop_front();
            }
            for m in &found {
                self.broker.deliver_retained(&self.outbox, m, &sub);
            }
            self.drain_queued();
        }
        if self.retained.is_some() {
            self.outbox.wake();
        }
    }

    /// Delivers what is left of the retained messages of new subscriptions into the outbox
    /// as the session goes offline (as many as an offline session keeps).
    fn queue_remaining_retained(&mut self) {
        let Some(cursors) = self.retained.take() else {
            return;
        };
        let mut room = self.broker.capabilities.maximum_queued_messages;
        for (mut cursor, sub) in cursors.into_iter() {
            if sub.options.qos == QoS::AtMostOnce {
                continue;
            }
            while room > 0 && !cursor.is_done() {
                let found = self.broker.retained.scan(&mut cursor, room, usize::MAX);
                room -= found.len();
                for m in &found {
                    self.broker.deliver_retained(&self.outbox, m, &sub);
                }
            }
        }
    }

    /// Moves queued messages into the output buffer while the client's receive maximum and
    /// the output high-water mark allow.
    fn drain_queued(&mut self) {
        let outbox = self.outbox.clone();
        let now = Instant::now();
        outbox.drain(|d| {
            if self.out.len() + self.held.len() >= WRITE_HIGH_WATER {
                return Err(d);
            }
            let denied = self
                .acl
                .as_ref()
                .is_some_and(|acl| !acl.may_receive(&d.message.topic));
            if denied || d.message.is_expired(now) {
                Stats::add(&self.broker.stats.messages_dropped, 1);
                let done = self.done_change(d.seq);
                self.persist(done, false);
                return Ok(());
            }
            if d.qos != QoS::AtMostOnce && self.session.inflight.len() >= self.send_quota {
                return Err(d);
            }
            self.send_delivery(d, now);
            Ok(())
        });
    }

    fn send_delivery(&mut self, d: Delivery, now: Instant) {
        let mut publish = d.to_publish(now);
        let new_alias = if self.protocol.is_v5() && self.client_alias_max > 0 {
            self.apply_outbound_alias(&mut publish)
        } else {
            None
        };
        if d.qos != QoS::AtMostOnce {
            // Any non-zero id sizes the packet the same; the real one is taken only if it is sent.
            publish.packet_id = 1;
        }
        let mut packet = Packet::Publish(publish);
        if packet.encoded_len(self.protocol) > self.client_max_packet {
            // [MQTT-3.1.2-25]: never send a packet above the client's maximum; the message is dropped.
            Stats::add(&self.broker.stats.messages_dropped, 1);
            let done = self.done_change(d.seq);
            self.persist(done, false);
            return;
        }
        if d.qos != QoS::AtMostOnce {
            let Some(id) = self.session.next_packet_id() else {
                Stats::add(&self.broker.stats.messages_dropped, 1);
                return;
            };
            if let Packet::Publish(p) = &mut packet {
                p.packet_id = id;
            }
            let stage = if d.qos == QoS::AtLeastOnce {
                Stage::AwaitPubAck
            } else {
                Stage::AwaitPubRec
            };
            let m = InflightMessage {
                packet_id: id,
                delivery: d,
                stage,
            };
            if let Some(change) = self.inflight_change(&m) {
                // A QoS 2 PUBLISH goes out only once its packet id is durable, so a restart
                // resends it with the same id (the client then discards the duplicate).
                self.persist(vec![change], stage == Stage::AwaitPubRec);
            }
            self.session.inflight.push_back(m);
            Stats::add(&self.broker.stats.inflight, 1);
            Stats::add(&self.info.inflight, 1);
        }
        // Only a PUBLISH that is sent sets up its alias: the client learns it from that packet.
        if let Some((topic, alias)) = new_alias {
            self.aliases
                .get_or_insert_default()
                .outbound
                .insert(topic, alias);
        }
        self.counts.messages_sent += 1;
        self.send(packet);
    }

    /// Replaces the topic with an alias the client already knows, or sets up a new one while
    /// aliases are left. Returns a new mapping, to be recorded once the PUBLISH is sent.
    fn apply_outbound_alias(&self, publish: &mut Publish) -> Option<(MqttString, u16)> {
        let known = self.aliases.as_ref().map_or(0, |a| a.outbound.len());
        if let Some(&alias) = self
            .aliases
            .as_ref()
            .and_then(|a| a.outbound.get(&publish.topic))
        {
            publish.properties.topic_alias = Some(alias);
            publish.topic = MqttString::default();
            None
        } else if known < self.client_alias_max as usize {
            let alias = known as u16 + 1;
            publish.properties.topic_alias = Some(alias);
            Some((publish.topic.detached(), alias))
        } else {
            None
        }
    }

    /// Hands the session back and publishes the will if due.
    fn finish(mut self, publish_will: bool) {
        if self.session_expiry > 0 {
            self.queue_remaining_retained();
        }
        let broker = self.broker.clone();
        let max_expiry = broker.capabilities.maximum_message_expiry_interval;
        let mut now_will = None;
        let mut pending = None;
        if let Some(will) = self.will.filter(|_| publish_will) {
            let delay = will.properties.will_delay_interval.unwrap_or(0);
            let message = will_message(*will, &self.client_id, max_expiry);
            if delay == 0 || self.session_expiry == 0 {
                now_will = Some(message);
            } else {
                pending = Some(Box::new(PendingWill {
                    at: Instant::now() + Duration::from_secs(delay as u64),
                    message,
                }));
            }
        }
        if self.persistent && self.session_expiry > 0 {
            let mut record = SessionRecord {
                expiry_interval: self.session_expiry,
                last_seen: now_unix(),
                online: false,
                protocol_level: self.protocol.level(),
                will: None,
            };
            record.will = pending.as_ref().map(|w| {
                (
                    w.at.saturating_duration_since(Instant::now()).as_secs() as u32,
                    w.message.clone(),
                )
            });
            broker.persist(vec![Change::Session {
                client_id: self.client_id.clone(),
                record,
            }]);
        }
        let closed = broker.sessions.close(
            &self.client_id,
            self.connection,
            self.session,
            self.session_expiry,
            pending,
            broker.capabilities.maximum_queued_messages,
        );
        // No longer this session's connection: a reload's decision can no longer be kept
        // for it (see `Broker::reassess`), so one kept before goes now.
        broker.forget_reassessed(self.connection);
        if let Closed::Ended(state) = closed {
            // The registry recorded the end in the store; the router forgets the subscriptions.
            broker.end_session(&state, &self.outbox);
        }
        if let Some(will) = now_will {
            broker.publish_will(will);
        }
    }
}

/// The will with every field copied out of the CONNECT packet's read buffer: it is kept for
/// the whole connection.
fn detach_will(will: LastWill) -> LastWill {
    let p = will.properties;
    let bytes = |b: Option<bytes::Bytes>| b.map(|b| bytes::Bytes::copy_from_slice(&b));
    LastWill {
        topic: will.topic.detached(),
        payload: bytes::Bytes::copy_from_slice(&will.payload),
        qos: will.qos,
        retain: will.retain,
        properties: crate::mqtt::WillProperties {
            will_delay_interval: p.will_delay_interval,
            payload_format_indicator: p.payload_format_indicator,
            message_expiry_interval: p.message_expiry_interval,
            content_type: p.content_type.map(|s| s.detached()),
            response_topic: p.response_topic.map(|s| s.detached()),
            correlation_data: bytes(p.correlation_data),
            user_properties: p
                .user_properties
                .into_iter()
                .map(|(k, v)| (k.detached(), v.detached()))
                .collect(),
        },
    }
}

fn will_message(will: LastWill, client_id: &MqttString, max_expiry: u32) -> Message {
    let p = will.properties;
    let publish = Publish {
        dup: false,
        qos: will.qos,
        retain: will.retain,
        topic: will.topic,
        packet_id: 0,
        properties: crate::mqtt::PublishProperties {
            payload_format_indicator: p.payload_format_indicator,
            message_expiry_interval: p.message_expiry_interval,
            topic_alias: None,
            response_topic: p.response_topic,
            correlation_data: p.correlation_data,
            user_properties: p.user_properties,
            subscription_identifiers: Vec::new(),
            content_type: p.content_type,
        },
        payload: will.payload,
    };
    Message::from_publish(publish, Some(client_id.clone()), max_expiry)
}

/// A per-process seed that makes assigned client identifiers hard to guess across restarts.
fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(Instant::now().elapsed().as_nanos() as u64);
    h.finish()
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
