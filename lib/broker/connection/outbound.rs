//! The way out to the client: queued deliveries into the output buffer within its receive
//! maximum, retained messages for new subscriptions a chunk at a time, packet ids, in-flight
//! records, outbound topic aliases.

use super::*;

impl Link {
    /// Moves queued messages into the output buffer while the client's receive maximum and
    /// the output high-water mark allow; then tops the outbox up from the retained messages
    /// new subscriptions still have to get.
    pub(super) fn drain_outbox(&mut self) {
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
    pub(super) fn feed_retained(&mut self) {
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
    pub(super) fn queue_remaining_retained(&mut self) {
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
    pub(super) fn drain_queued(&mut self) {
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

    pub(super) fn send_delivery(&mut self, d: Delivery, now: Instant) {
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
    pub(super) fn apply_outbound_alias(&self, publish: &mut Publish) -> Option<(MqttString, u16)> {
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
}
