//! A steady QoS 1 / QoS 2 workload for cluster fault tests, with the bookkeeping to tell
//! what was acknowledged and what was delivered: a publisher that numbers its messages and
//! records which got a success acknowledgement (PUBACK, or PUBREC, below 0x80), and a
//! persistent-session subscriber that records every number it receives (and how often).
//! Both reconnect on their own, to the nodes they are given in turn, as real devices do
//! (`0x88`, a refused or broken connection: wait a little and try the next node).

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use comqtt::mqtt::{
    Connect, Packet, Protocol, PubReply, Publish, QoS, ReasonCode, Subscribe, SubscriptionOptions,
    decode,
};
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// What a publisher saw.
#[derive(Debug, Default)]
pub struct Published {
    /// Numbers acknowledged with a success code.
    pub acked: BTreeSet<u32>,
    /// Numbers refused (a failure code).
    pub refused: BTreeSet<u32>,
    /// Acknowledgements with 0x10 (no matching subscribers).
    pub no_subscribers: usize,
    /// Connections made.
    pub connections: usize,
    /// When each acknowledgement came (for throughput).
    pub ack_times: Vec<Instant>,
}

/// What a subscriber saw.
#[derive(Debug, Default)]
pub struct Received {
    /// How often each number arrived as a new message.
    pub counts: BTreeMap<u32, u32>,
    /// Connections made, and CONNACKs with session present.
    pub connections: usize,
    pub resumed: usize,
    /// A SUBACK granted the subscription.
    pub subscribed: bool,
}

impl Received {
    /// Numbers received more than once.
    pub fn duplicates(&self) -> Vec<u32> {
        self.counts
            .iter()
            .filter(|(_, c)| **c > 1)
            .map(|(n, _)| *n)
            .collect()
    }
}

/// Nodes a client connects to, in turn; shared so a test can point it elsewhere.
#[derive(Clone)]
pub struct Targets(Arc<Mutex<Vec<String>>>);

impl Targets {
    pub fn new(addrs: &[String]) -> Targets {
        Targets(Arc::new(Mutex::new(addrs.to_vec())))
    }

    pub fn set(&self, addrs: &[String]) {
        *self.0.lock() = addrs.to_vec();
    }

    fn pick(&self, attempt: usize) -> String {
        let all = self.0.lock();
        all[attempt % all.len()].clone()
    }
}

/// A connection of the workload's clients.
struct Conn {
    stream: TcpStream,
    rbuf: BytesMut,
    protocol: Protocol,
}

impl Conn {
    /// Connects with `connect`; `None` on a refused connection, a failed handshake or a
    /// refusing CONNACK.
    async fn open(addr: &str, connect: &Connect) -> Option<(Conn, bool)> {
        let stream = tokio::time::timeout(Duration::from_secs(3), TcpStream::connect(addr))
            .await
            .ok()?
            .ok()?;
        stream.set_nodelay(true).ok();
        let mut c = Conn {
            stream,
            rbuf: BytesMut::new(),
            protocol: connect.protocol,
        };
        c.send(Packet::Connect(Box::new(connect.clone())))
            .await
            .ok()?;
        match c.recv(Duration::from_secs(10)).await {
            Ok(Some(Packet::ConnAck(a))) if a.code == ReasonCode::SUCCESS => {
                Some((c, a.session_present))
            }
            _ => None,
        }
    }

    async fn send(&mut self, packet: Packet) -> std::io::Result<()> {
        let mut buf = BytesMut::new();
        packet
            .encode(self.protocol, &mut buf)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        self.stream.write_all(&buf).await
    }

    /// The next packet: `Ok(None)` on timeout, `Err` when the connection is gone.
    async fn recv(&mut self, wait: Duration) -> Result<Option<Packet>, ()> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match decode(&mut self.rbuf, self.protocol, usize::MAX) {
                Ok(Some(p)) => return Ok(Some(p)),
                Ok(None) => {}
                Err(_) => return Err(()),
            }
            match tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.rbuf)).await {
                Err(_) => return Ok(None),
                Ok(Ok(0)) | Ok(Err(_)) => return Err(()),
                Ok(Ok(_)) => {}
            }
        }
    }
}

/// A running client task.
pub struct Running<T> {
    pub state: Arc<Mutex<T>>,
    stop: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl<T> Running<T> {
    /// Asks it to stop and waits for it.
    pub async fn stop(self) -> Arc<Mutex<T>> {
        self.stop.store(true, Ordering::Relaxed);
        let _ = tokio::time::timeout(Duration::from_secs(20), self.task).await;
        self.state
    }
}

/// A publisher of `count` messages numbered from 0 on `topic` at `qos`, with at most
/// `window` unacknowledged at once, pausing `gap` between messages. Messages not acknowledged
/// when a connection breaks are not sent again (they count as neither acked nor refused):
/// the test asserts on what was acknowledged.
pub fn publisher(
    id: &str,
    targets: Targets,
    topic: &str,
    qos: QoS,
    count: u32,
    window: usize,
    gap: Duration,
) -> Running<Published> {
    let state = Arc::new(Mutex::new(Published::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let (st, sp) = (state.clone(), stop.clone());
    let (id, topic) = (id.to_string(), topic.to_string());
    let task = tokio::spawn(async move {
        let mut next = 0u32;
        let mut attempt = 0usize;
        let mut packet_id = 0u16;
        'connect: while next < count && !sp.load(Ordering::Relaxed) {
            let addr = targets.pick(attempt);
            attempt += 1;
            let mut connect = Connect::new(Protocol::V5, id.as_str());
            connect.keep_alive = 30;
            let Some((mut conn, _)) = Conn::open(&addr, &connect).await else {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            };
            st.lock().connections += 1;
            // packet id → message number, in sending order.
            let mut inflight: VecDeque<(u16, u32)> = VecDeque::new();
            let mut released: HashSet<u16> = HashSet::new();
            loop {
                if sp.load(Ordering::Relaxed) {
                    return;
                }
                while inflight.len() < window && next < count {
                    packet_id = packet_id.checked_add(1).unwrap_or(1);
                    let mut p = Publish::new(topic.as_str(), qos, next.to_string().into_bytes());
                    p.packet_id = packet_id;
                    if conn.send(Packet::Publish(p)).await.is_err() {
                        continue 'connect;
                    }
                    inflight.push_back((packet_id, next));
                    next += 1;
                    if !gap.is_zero() {
                        tokio::time::sleep(gap).await;
                    }
                }
                if inflight.is_empty() && released.is_empty() && next >= count {
                    let _ = conn.send(Packet::Disconnect(Default::default())).await;
                    return;
                }
                let packet = match conn.recv(Duration::from_millis(200)).await {
                    Ok(Some(p)) => p,
                    Ok(None) => continue,
                    Err(()) => continue 'connect,
                };
                let (reply_id, reason) = match &packet {
                    Packet::PubAck(r) | Packet::PubRec(r) => (r.packet_id, r.reason),
                    Packet::PubComp(r) => {
                        released.remove(&r.packet_id);
                        continue;
                    }
                    Packet::Disconnect(_) => continue 'connect,
                    _ => continue,
                };
                let Some(pos) = inflight.iter().position(|(p, _)| *p == reply_id) else {
                    continue;
                };
                let (_, number) = inflight.remove(pos).unwrap_or_default();
                {
                    let mut s = st.lock();
                    if reason.0 < 0x80 {
                        s.acked.insert(number);
                        s.ack_times.push(Instant::now());
                        if reason == ReasonCode::NO_MATCHING_SUBSCRIBERS {
                            s.no_subscribers += 1;
                        }
                    } else {
                        s.refused.insert(number);
                    }
                }
                if matches!(packet, Packet::PubRec(_)) && reason.0 < 0x80 {
                    released.insert(reply_id);
                    if conn
                        .send(Packet::PubRel(PubReply::new(reply_id)))
                        .await
                        .is_err()
                    {
                        continue 'connect;
                    }
                }
            }
        }
    });
    Running { state, stop, task }
}

/// A subscriber with a persistent session (v5, session expiry 3600 s, keep alive
/// `keep_alive`) to `filter` at `qos`, recording what it receives until stopped.
pub fn subscriber(
    id: &str,
    targets: Targets,
    filter: &str,
    qos: QoS,
    keep_alive: u16,
) -> Running<Received> {
    let state = Arc::new(Mutex::new(Received::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let (st, sp) = (state.clone(), stop.clone());
    let (id, filter) = (id.to_string(), filter.to_string());
    let task = tokio::spawn(async move {
        let mut attempt = 0usize;
        let mut subscribed = false;
        // QoS 2 packet ids received and acknowledged with PUBREC, not yet released: a
        // PUBLISH with one of them again is the same message (kept across reconnects, as a
        // client's session state).
        let mut unreleased: HashSet<u16> = HashSet::new();
        'connect: while !sp.load(Ordering::Relaxed) {
            let addr = targets.pick(attempt);
            attempt += 1;
            let mut connect = Connect::new(Protocol::V5, id.as_str());
            connect.clean_start = false;
            connect.keep_alive = keep_alive;
            connect.properties.session_expiry_interval = Some(3600);
            let Some((mut conn, present)) = Conn::open(&addr, &connect).await else {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            };
            {
                let mut s = st.lock();
                s.connections += 1;
                s.resumed += present as usize;
            }
            if !present {
                unreleased.clear();
            }
            if !subscribed || !present {
                let sub = Subscribe::new(1, filter.as_str(), SubscriptionOptions::qos(qos));
                if conn.send(Packet::Subscribe(sub)).await.is_err() {
                    continue;
                }
            }
            let mut last_ping = Instant::now();
            let mut last_heard = Instant::now();
            loop {
                if sp.load(Ordering::Relaxed) {
                    return;
                }
                if keep_alive > 0
                    && last_ping.elapsed() > Duration::from_secs(keep_alive as u64 / 2)
                {
                    last_ping = Instant::now();
                    if conn.send(Packet::PingReq).await.is_err() {
                        continue 'connect;
                    }
                }
                // As a client library does: a server silent for 1.5 keep alive intervals is
                // gone; connect again (to the next node).
                if keep_alive > 0
                    && last_heard.elapsed() > Duration::from_millis(keep_alive as u64 * 1500)
                {
                    continue 'connect;
                }
                let packet = match conn.recv(Duration::from_millis(200)).await {
                    Ok(Some(p)) => p,
                    Ok(None) => continue,
                    Err(()) => continue 'connect,
                };
                last_heard = Instant::now();
                let reply = match packet {
                    Packet::SubAck(a) => {
                        subscribed = a.reasons.iter().all(|r| r.0 < 0x80);
                        st.lock().subscribed |= subscribed;
                        if !subscribed {
                            // Refused (no route could be committed): try again elsewhere.
                            tokio::time::sleep(Duration::from_millis(200)).await;
                            continue 'connect;
                        }
                        None
                    }
                    Packet::Publish(p) => {
                        let number: Option<u32> = std::str::from_utf8(&p.payload)
                            .ok()
                            .and_then(|s| s.parse().ok());
                        let repeat = p.qos == QoS::ExactlyOnce && unreleased.contains(&p.packet_id);
                        if let (Some(n), false) = (number, repeat) {
                            *st.lock().counts.entry(n).or_default() += 1;
                        }
                        match p.qos {
                            QoS::AtMostOnce => None,
                            QoS::AtLeastOnce => Some(Packet::PubAck(PubReply::new(p.packet_id))),
                            QoS::ExactlyOnce => {
                                unreleased.insert(p.packet_id);
                                Some(Packet::PubRec(PubReply::new(p.packet_id)))
                            }
                        }
                    }
                    Packet::PubRel(r) => {
                        unreleased.remove(&r.packet_id);
                        Some(Packet::PubComp(PubReply::new(r.packet_id)))
                    }
                    Packet::Disconnect(_) => continue 'connect,
                    _ => None,
                };
                if let Some(reply) = reply
                    && conn.send(reply).await.is_err()
                {
                    continue 'connect;
                }
            }
        }
    });
    Running { state, stop, task }
}

/// Waits (up to `wait`) until `sub` received every number in `want`; returns the missing ones.
pub async fn wait_received(
    sub: &Running<Received>,
    want: &BTreeSet<u32>,
    wait: Duration,
) -> Vec<u32> {
    let deadline = Instant::now() + wait;
    loop {
        let missing: Vec<u32> = {
            let s = sub.state.lock();
            want.iter()
                .filter(|n| !s.counts.contains_key(n))
                .copied()
                .collect()
        };
        if missing.is_empty() || Instant::now() > deadline {
            return missing;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits (up to `wait`) until the publisher is done (every message acknowledged or refused,
/// or its task ended).
pub async fn wait_published(publ: &Running<Published>, count: u32, wait: Duration) {
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline && !publ.task.is_finished() {
        let done = {
            let s = publ.state.lock();
            s.acked.len() + s.refused.len()
        };
        if done >= count as usize {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the publisher has at least `n` acknowledgements (or `wait` passed).
pub async fn wait_acked(publ: &Running<Published>, n: usize, wait: Duration) {
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline && publ.state.lock().acked.len() < n {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
