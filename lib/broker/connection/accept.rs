//! CONNECT accepted or refused: protocol and identifier checks, authentication and ACL, the
//! limits and overload, the session opened (or taken over, here or from another node), and
//! CONNACK with the resent in-flight messages.

use super::*;

impl Link {
    /// Validates CONNECT, opens the session and queues CONNACK (and the resent inflight
    /// messages). On refusal: the protocol and code of the CONNACK to send.
    pub(super) async fn accept(
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
}
