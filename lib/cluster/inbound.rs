//! What other nodes ask of this one: the gRPC `Node` service. Forwarded messages are
//! delivered to the subscribers the sender chose this node for and acknowledged in order once
//! delivered (and durable for persistent sessions); duplicates after a resend are dropped by
//! sequence number. Route proposals reach the raft leader here; sessions are handed over here.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::{Duration, UNIX_EPOCH};

use parking_lot::Mutex;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::claims::Claims;
use super::handover;
use super::node::ClusterNode;
use super::proposer::Proposer;
use super::proto::node_server;
use super::proto::{
    FlushReply, FlushRequest, ForwardAck, ForwardBatch, Forwarded, PrepareReply, ProposeReply,
    ProposeRequest, RetainedReply, RetainedRequest, TakeoverReply, TakeoverRequest,
};
use super::routes::RouteCommand;
use crate::broker::message::Origin;
use crate::broker::{Audience, Broker};
use crate::storage::record::{decode_message, encode_message};

/// Per (sender, epoch): the last sequence number handled and the newest store ticket.
type Handled = (u64, u64);

/// What this node has handled of each sender's stream (shared with the look for parked
/// messages, which drops a parked copy of a message already handled).
pub type HandledStreams = Arc<Mutex<HashMap<(String, u64), Handled>>>;

/// True if this node handled message `seq` of `node`'s stream of process `epoch`.
pub fn handled(streams: &HandledStreams, node: &str, epoch: u64, seq: u64) -> bool {
    streams
        .lock()
        .get(&(node.to_string(), epoch))
        .is_some_and(|(last, _)| seq <= *last)
}

/// The service.
pub struct NodeService {
    broker: Arc<Broker>,
    proposer: Arc<Proposer>,
    /// This node's claims on client ids whose CONNECTs are under way.
    claims: Arc<Claims>,
    /// Last sequence number handled per (sender, epoch), with the store ticket of the newest
    /// delivery: drops what a resend repeats.
    done: HandledStreams,
    /// This node's name.
    me: String,
    /// The node, for the flushes of a session move (see [`ClusterNode::flush_peers`]).
    node: Weak<ClusterNode>,
}

impl NodeService {
    /// Serves `broker` as node `me`; proposals go through `proposer`.
    pub fn new(
        broker: Arc<Broker>,
        proposer: Arc<Proposer>,
        claims: Arc<Claims>,
        me: &str,
        done: HandledStreams,
        node: Weak<ClusterNode>,
    ) -> NodeService {
        NodeService {
            claims,
            broker,
            proposer,
            done,
            me: me.to_string(),
            node,
        }
    }
}

/// Delivers one forwarded message from `sender` (process `epoch`); returns its store ticket.
fn deliver(broker: &Broker, sender: &str, epoch: u64, f: Forwarded) -> u64 {
    if f.message.is_empty() {
        // A flush marker (see `Forwarder::flush`): handled once it is here.
        return 0;
    }
    let mut bytes = f.message;
    let message = match decode_message(&mut bytes) {
        Ok(mut m) => {
            // Named, so a copy the sender also parks for a session here is recognised.
            m.origin = Some(Box::new(Origin {
                node: sender.into(),
                epoch,
                seq: f.seq,
            }));
            Arc::new(m)
        }
        Err(e) => {
            tracing::warn!(error = %e, "unreadable forwarded message dropped");
            return 0;
        }
    };
    let retained = (f.retained_at != 0).then(|| UNIX_EPOCH + Duration::from_millis(f.retained_at));
    let audience = Audience::Peer {
        ordinary: f.deliver,
        shared: &f.shared,
    };
    broker.publish_from_peer(message, audience, retained).1
}

type AckStream = ReceiverStream<Result<ForwardAck, Status>>;

#[tonic::async_trait]
impl node_server::Node for NodeService {
    type ForwardStream = AckStream;

    async fn forward(
        &self,
        request: Request<Streaming<ForwardBatch>>,
    ) -> Result<Response<AckStream>, Status> {
        let mut inbound = request.into_inner();
        let (tx, rx) = mpsc::channel(64);
        let (ack_tx, mut ack_rx) = mpsc::unbounded_channel::<(u64, u64, u64)>();
        let broker = self.broker.clone();
        // Acknowledgements in order, each once its messages are durable.
        tokio::spawn(async move {
            while let Some((epoch, seq, ticket)) = ack_rx.recv().await {
                broker.durable(ticket).await;
                if tx.send(Ok(ForwardAck { seq, epoch })).await.is_err() {
                    return;
                }
            }
        });
        let broker = self.broker.clone();
        let done = self.done.clone();
        let me = self.me.clone();
        tokio::spawn(async move {
            loop {
                let batch = match inbound.message().await {
                    Ok(Some(b)) => b,
                    Ok(None) => return,
                    Err(e) => {
                        tracing::debug!(error = %e, "forward stream from a peer ended");
                        return;
                    }
                };
                if batch.claim_parked {
                    // The sender parked messages for sessions here while this node was away:
                    // they go before what it sends now.
                    let streams = done.clone();
                    let seen = move |node: &str, epoch, seq| handled(&streams, node, epoch, seq);
                    if let Err(e) = broker.claim_all_parked(&me, &seen).await {
                        tracing::warn!(error = %e, "taking in parked messages failed; the periodic look finds them");
                    }
                }
                let key = (batch.sender, batch.epoch);
                // Checked and delivered under one lock: a stream still draining and its
                // replacement never both deliver a sequence number.
                let (last, ticket) = {
                    let mut done = done.lock();
                    let entry = done.entry(key.clone()).or_insert((0, 0));
                    for f in batch.messages {
                        if f.seq <= entry.0 {
                            continue;
                        }
                        entry.0 = f.seq;
                        entry.1 = entry.1.max(deliver(&broker, &key.0, key.1, f));
                    }
                    // A resend of messages already delivered is acknowledged once they are
                    // durable: with the newest ticket of this sender.
                    *entry
                };
                if ack_tx.send((key.1, last, ticket)).is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn propose(
        &self,
        request: Request<ProposeRequest>,
    ) -> Result<Response<ProposeReply>, Status> {
        let cmd: RouteCommand = serde_json::from_slice(&request.into_inner().command)
            .map_err(|e| Status::invalid_argument(format!("not a route command: {e}")))?;
        Ok(Response::new(match self.proposer.apply_here(cmd).await {
            Ok(()) => ProposeReply {
                ok: true,
                ..ProposeReply::default()
            },
            Err(leader) => ProposeReply {
                ok: false,
                leader: leader.unwrap_or_default(),
                error: "not the raft leader".into(),
            },
        }))
    }

    async fn prepare(
        &self,
        request: Request<TakeoverRequest>,
    ) -> Result<Response<PrepareReply>, Status> {
        let r = request.into_inner();
        if self.claims.contest(&r.client_id, r.claim, &r.node) {
            return Ok(Response::new(PrepareReply {
                busy: true,
                ..PrepareReply::default()
            }));
        }
        Ok(Response::new(
            match self.broker.sessions.client(&r.client_id) {
                Some(c) => PrepareReply {
                    found: true,
                    busy: false,
                    filters: c.info.filters(),
                },
                None => PrepareReply::default(),
            },
        ))
    }

    async fn takeover(
        &self,
        request: Request<TakeoverRequest>,
    ) -> Result<Response<TakeoverReply>, Status> {
        let r = request.into_inner();
        if self.claims.contest(&r.client_id, r.claim, &r.node) {
            return Ok(Response::new(TakeoverReply {
                busy: true,
                ..TakeoverReply::default()
            }));
        }
        // What the other nodes forwarded here for the session before their routes sent it
        // to the new node too is handled first: it goes with the session.
        if !r.clean_start
            && let Some(node) = self.node.upgrade()
            && let Some(c) = self.broker.sessions.client(&r.client_id)
        {
            node.flush_peers(&r.node, c.info.filters()).await;
        }
        // Detached: if the caller gives up, the hand-over still finishes (a session that
        // left this node half-way would be nowhere).
        let broker = self.broker.clone();
        let (client_id, clean_start) = (r.client_id.clone(), r.clean_start);
        let handed = tokio::spawn(async move { broker.hand_over(&client_id, clean_start).await })
            .await
            .map_err(|e| Status::internal(e.to_string()))?;
        // What the old connection published (handled before the hand-over ended it) reaches
        // the new node before the client resumes there: a retained message it cleared is
        // cleared there too.
        if handed.is_some()
            && let Some(node) = self.node.upgrade()
        {
            node.flush_own(&r.node).await;
        }
        Ok(Response::new(match handed {
            None => TakeoverReply::default(),
            Some(h) => {
                tracing::info!(client_id = %r.client_id, to = %r.node, "session taken over by another node");
                TakeoverReply {
                    found: true,
                    busy: false,
                    session: if r.clean_start {
                        Default::default()
                    } else {
                        handover::encode(&h)
                    },
                }
            }
        }))
    }

    async fn flush(&self, request: Request<FlushRequest>) -> Result<Response<FlushReply>, Status> {
        let r = request.into_inner();
        let node = self
            .node
            .upgrade()
            .ok_or_else(|| Status::unavailable("the node is shutting down"))?;
        let flushed = node.flush_to(&r.to, &r.routed_to, &r.filters).await;
        Ok(Response::new(FlushReply { flushed }))
    }

    async fn retained(
        &self,
        _request: Request<RetainedRequest>,
    ) -> Result<Response<RetainedReply>, Status> {
        let messages = self
            .broker
            .retained
            .all()
            .into_iter()
            .map(|(m, at)| {
                let mut b = bytes::BytesMut::new();
                encode_message(&m, &mut b);
                Forwarded {
                    message: b.freeze(),
                    retained_at: at
                        .duration_since(UNIX_EPOCH)
                        .map_or(1, |d| d.as_millis() as u64),
                    ..Forwarded::default()
                }
            })
            .collect();
        Ok(Response::new(RetainedReply { messages }))
    }
}

/// Merges the retained messages a peer holds into this node's (newest wins).
pub fn merge_retained(broker: &Broker, reply: RetainedReply) -> usize {
    let n = reply.messages.len();
    for f in reply.messages {
        // Kept as retained messages only (no delivery, so no origin needed).
        deliver(
            broker,
            "",
            0,
            Forwarded {
                deliver: false,
                shared: Vec::new(),
                ..f
            },
        );
    }
    n
}
