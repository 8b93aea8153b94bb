//! A PUBLISH from the client: rate and ACL checks, topic aliases, QoS 1/2 acknowledgements
//! (held until what they promise is durable or forwarded), retained messages, routing.

use super::*;

impl Link {
    pub(super) fn on_publish(&mut self, mut p: Publish) -> Result<(), Close> {
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
    pub(super) fn ack(
        &mut self,
        qos: QoS,
        packet_id: u16,
        reason: ReasonCode,
    ) -> Result<(), Close> {
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

    pub(super) fn route(&self, p: Publish) -> Routed {
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
}
