//! SUBSCRIBE and UNSUBSCRIBE: filters checked and granted, the session's and the broker's
//! subscriptions changed (and persisted), retained messages queued for the new ones.

use super::*;

impl Link {
    pub(super) fn on_subscribe(&mut self, s: Subscribe) -> Result<(), Close> {
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

    pub(super) fn on_unsubscribe(&mut self, u: Unsubscribe) {
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
}
