//! The protocol state of one connected client ([`Link`]): what it owes the client and the
//! store, the packets it queues, the holds that keep output behind a commit, a forwarding
//! acknowledgement or new routes, and the dispatch of each packet read. The handling of each
//! kind of packet lives in its own file: `publish.rs`, `subscribe.rs`,
//! `reauth.rs`; the way out in `outbound.rs`; CONNECT in `accept.rs`.

use super::*;

/// Per-connection counters, flushed into [`Stats`] once per wake-up.
#[derive(Debug, Default)]
pub(super) struct Counts {
    pub(super) packets_received: u32,
    pub(super) packets_sent: u32,
    pub(super) messages_received: u32,
    pub(super) messages_sent: u32,
}

/// Topic aliases of a connection, both ways; boxed on first use (most clients use none).
#[derive(Debug, Default)]
pub(super) struct Aliases {
    /// Aliases the client set up towards us.
    pub(super) inbound: HashMap<u16, MqttString>,
    /// Aliases we set up towards the client.
    pub(super) outbound: HashMap<MqttString, u16>,
}

/// Enhanced authentication of a connection, for re-authentication.
pub(super) struct Reauth {
    /// The method of CONNECT.
    pub(super) method: MqttString,
    /// An exchange in progress.
    pub(super) exchange: Option<Box<dyn AuthExchange>>,
}

/// What few connections have, boxed together so the others pay one pointer for it.
#[derive(Default)]
pub(super) struct Rare {
    /// Enhanced authentication, when CONNECT used it.
    pub(super) reauth: Option<Reauth>,
    /// The client's inbound rate limit, when one is configured.
    pub(super) rate: Option<Bucket>,
}

/// The protocol state of one connected client.
pub(super) struct Link {
    pub(super) broker: Arc<Broker>,
    /// Identifies this connection in the session registry.
    pub(super) connection: u64,
    pub(super) protocol: Protocol,
    pub(super) client_id: MqttString,
    /// The session state, owned while connected.
    pub(super) session: SessionState,
    /// Where the router puts messages for this client.
    pub(super) outbox: Arc<Outbox>,
    /// What operators see of this client.
    pub(super) info: Arc<ClientInfo>,
    /// The will, published unless the client disconnects normally (boxed: often absent).
    pub(super) will: Option<Box<LastWill>>,
    /// Seconds the session outlives the connection.
    pub(super) session_expiry: u32,
    /// Keep alive in force (0: none).
    pub(super) keep_alive: u16,
    /// Asks the connection to disconnect (the registry, the keep-alive wheel, the HTTP API),
    /// and carries the keep alive's deadline.
    pub(super) kick: Arc<Kick>,
    /// Topic aliases, once any is used.
    pub(super) aliases: Option<Box<Aliases>>,
    /// The client's topic alias maximum.
    pub(super) client_alias_max: u16,
    /// The client's receive maximum: QoS 1/2 messages we may have unacknowledged.
    pub(super) send_quota: usize,
    /// The client's maximum packet size.
    pub(super) client_max_packet: usize,
    /// Counters gathered during one wake-up, added to the broker's at its end (one atomic
    /// add per counter per wake-up instead of per packet).
    pub(super) counts: Counts,
    /// Packets waiting to be written.
    pub(super) out: BytesMut,
    /// Packets that must wait until the store has committed `hold_until`.
    pub(super) held: BytesMut,
    /// The store ticket `held` waits for; 0 when nothing is held.
    pub(super) hold_until: u64,
    /// The forwarding tickets `held` waits for (a cluster), until each is done.
    pub(super) hold_forwarded: Option<Box<Vec<u64>>>,
    /// Routes `held` waits for (a SUBACK in a cluster waits until other nodes will forward
    /// what matches), and when it stops waiting.
    pub(super) route_wait: Option<Box<RouteWait>>,
    /// Reading is paused until then, or until the cluster's queues have room (a message
    /// published here found a node's queue filling up).
    pub(super) paused: Option<Instant>,
    /// Enhanced authentication and the rate limit, when either applies.
    pub(super) rare: Option<Box<Rare>>,
    /// Whether this session's state is persisted (persistent session, broker with a store).
    pub(super) persistent: bool,
    /// What the client may publish and receive; `None`: everything.
    pub(super) acl: Option<Box<ClientAcl>>,
    /// Retained messages new subscriptions still have to get (boxed: rarely present).
    pub(super) retained: Option<Box<VecDeque<(RetainedCursor, SessionSubscription)>>>,
}

impl Link {
    /// How long after the last packet the keep alive runs out: 1.5 times the interval.
    pub(super) fn keep_alive_period(&self) -> Option<Duration> {
        (self.keep_alive > 0).then(|| Duration::from_millis(self.keep_alive as u64 * 1500))
    }

    /// The client was heard from (or the broker resumes reading it): its keep alive starts
    /// over. One relaxed store; the wheel moves it when it next looks.
    pub(super) fn heard_from(&self) {
        if let Some(period) = self.keep_alive_period() {
            self.kick
                .set_keep_alive_deadline(self.broker.keep_alive.deadline_after(period));
        }
    }

    /// Stops reading the client until `until` (or until relief, in a cluster): meanwhile
    /// its silence is the broker's doing, so its keep alive is suspended.
    pub(super) fn pause_until(&mut self, until: Instant) {
        self.paused = Some(until);
        if self.keep_alive > 0 {
            self.kick
                .set_keep_alive_deadline(crate::broker::keep_alive::PAUSED);
        }
    }

    /// Encodes a packet into the output buffer, or behind the held output when something
    /// before it waits for a commit (order is kept).
    /// True while output waits for a commit, acknowledgements or routes.
    pub(super) fn holding(&self) -> bool {
        self.hold_until > 0 || self.hold_forwarded.is_some() || self.route_wait.is_some()
    }

    pub(super) fn send(&mut self, packet: Packet) {
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
    pub(super) fn persist(&mut self, changes: Vec<Change>, hold: bool) {
        if !self.persistent {
            return;
        }
        let ticket = self.broker.persist(changes);
        if hold {
            self.hold_for(ticket);
        }
    }

    /// Holds output from now on until the store has committed `ticket`.
    pub(super) fn hold_for(&mut self, ticket: u64) {
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
    pub(super) fn release(&mut self, committed: u64) {
        if self.hold_until > 0 && committed >= self.hold_until {
            self.hold_until = 0;
            self.release_held();
        }
    }

    /// What this connection waits for from its cluster node.
    /// Over its rate limit: reading pauses for `wait` (what was read is handled after), or
    /// the client is disconnected with 0x96 when the limits say so.
    pub(super) fn throttle(&mut self, wait: Duration) -> Result<(), Close> {
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
    pub(super) fn apply_updates(&mut self, updates: u8) -> Result<(), Close> {
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
    pub(super) fn charge_read(&mut self, n: usize) -> Result<(), Close> {
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

    pub(super) fn cluster_waits(&self) -> ClusterWaits {
        ClusterWaits {
            forwarded: self.hold_forwarded.is_some(),
            routes: self.route_wait.as_ref().map(|w| w.deadline),
            paused: self.paused,
        }
    }

    /// Holds output from now on until the nodes a message went to acknowledged `ticket`.
    pub(super) fn hold_for_forwarded(&mut self, ticket: u64) {
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
    pub(super) fn release_forwarded(&mut self) {
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
    pub(super) fn hold_for_routes(
        &mut self,
        granted: Vec<(usize, String)>,
    ) -> Vec<(usize, String)> {
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
    pub(super) fn check_routes(&mut self) {
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
    pub(super) fn undo_subscription(&mut self, filter: &str) {
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
    pub(super) fn release_held(&mut self) {
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
    pub(super) fn session_record(&self, online: bool) -> SessionRecord {
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
    pub(super) fn inflight_change(&self, m: &InflightMessage) -> Option<Change> {
        (m.delivery.seq != 0).then(|| Change::Message {
            client_id: self.client_id.clone(),
            seq: m.delivery.seq,
            delivery: m.delivery.clone(),
            packet_id: m.packet_id,
            stage: Some(m.stage),
        })
    }

    /// The store record of a message that is done.
    pub(super) fn done_change(&self, seq: u64) -> Vec<Change> {
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
    pub(super) fn flush_counts(&mut self) {
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
    pub(super) fn inflight_done(&self) {
        Stats::sub(&self.broker.stats.inflight, 1);
        Stats::sub(&self.info.inflight, 1);
    }

    /// Resends unacknowledged messages after a session is resumed `[MQTT-4.4.0-1]`.
    pub(super) fn resend_inflight(&mut self) {
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
    pub(super) async fn read_what_arrived<R: AsyncRead + Unpin>(
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
    pub(super) fn handle_input(
        &mut self,
        rbuf: &mut BytesMut,
        max_packet: usize,
    ) -> Result<(), Close> {
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
                    reserve_for_frame(rbuf, max_packet);
                    return Ok(());
                }
                Err(e) => return Err(Close::decode(&e)),
            }
        }
    }

    pub(super) fn handle(&mut self, packet: Packet) -> Result<(), Close> {
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

    pub(super) fn on_disconnect(&mut self, d: Disconnect) -> Result<(), Close> {
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

    /// Hands the session back and publishes the will if due.
    pub(super) fn finish(mut self, publish_will: bool) {
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
pub(super) fn detach_will(will: LastWill) -> LastWill {
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

pub(super) fn will_message(will: LastWill, client_id: &MqttString, max_expiry: u32) -> Message {
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
pub(super) fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(Instant::now().elapsed().as_nanos() as u64);
    h.finish()
}
