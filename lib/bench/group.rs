//! The group scenarios, where publishers and subscribers are not paired:
//! `fanout` (one publisher, every subscriber on its topic), `fanin` (every publisher on a
//! topic of its own, one subscriber on `+` of them) and `sharedsub` (every publisher on one
//! topic, a `$share/bench/...` group of subscribers). Every subscriber connects and subscribes
//! first, then the publishers start. Unit i of the report is subscriber i and/or publisher i.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::oneshot;
use tracing::{debug, error};

use super::context::{RunContext, rand31};
use super::options::Scenario;
use super::publisher::{self, PublishPlan};
use super::scenario::{collect, ramp_up};
use super::stats::{Counters, Failure, Outcome, SendLog, Timeline, WorkerResult};
use super::subscriber::{self, Received};
use super::tally::Tally;

/// A subscriber of the group.
#[derive(Clone)]
struct SubscriberSpec {
    /// Report unit.
    unit: usize,
    /// Client id.
    client_id: String,
    /// Filter subscribed to.
    filter: String,
    /// Deliveries it waits for (shared in fanin and sharedsub).
    tally: Arc<Tally>,
    /// Send times for payloads without a stamp (fanout only).
    send_log: Option<Arc<SendLog>>,
}

/// A publisher of the group.
#[derive(Clone)]
struct PublisherSpec {
    /// Report unit.
    unit: usize,
    /// Client id.
    client_id: String,
    /// Topic published to.
    topic: String,
    /// Tallies of the subscribers it feeds.
    tallies: Vec<Arc<Tally>>,
    /// Send times for payloads without a stamp (fanout only).
    send_log: Option<Arc<SendLog>>,
}

/// What a publisher did.
#[derive(Debug, Clone, Default)]
struct PublisherDone {
    /// Messages sent.
    sent: u64,
    /// Start and end of publishing, if it connected.
    span: Option<(Instant, Instant)>,
    /// What went wrong.
    failure: Option<Failure>,
}

fn shape(ctx: &RunContext) -> (Vec<SubscriberSpec>, Vec<PublisherSpec>) {
    let o = &ctx.options;
    let n = o.clients as usize;
    let planned = o.duration.is_none().then_some(o.messages);
    let t = rand31();
    let base = ctx.names.group_topic(o.scenario.name(), t);
    let sub_id = |i: usize| ctx.names.client_id("sub", i as u64, t);
    let pub_id = |i: usize| ctx.names.client_id("pub", i as u64, t);
    match o.scenario {
        Scenario::Fanout => {
            let log = (!o.payload.is_stamped()).then(|| Arc::new(SendLog::new(planned)));
            let tallies: Vec<_> = (0..n).map(|_| Tally::new(planned, 1)).collect();
            let subs = (0..n)
                .map(|i| SubscriberSpec {
                    unit: i,
                    client_id: sub_id(i),
                    filter: base.clone(),
                    tally: tallies[i].clone(),
                    send_log: log.clone(),
                })
                .collect();
            let publisher = PublisherSpec {
                unit: 0,
                client_id: pub_id(0),
                topic: base,
                tallies,
                send_log: log,
            };
            (subs, vec![publisher])
        }
        Scenario::Fanin => {
            let tally = Tally::new(planned.map(|m| m * n as u64), n);
            let sub = SubscriberSpec {
                unit: 0,
                client_id: sub_id(0),
                filter: format!("{base}/+"),
                tally: tally.clone(),
                send_log: None,
            };
            let pubs = (0..n)
                .map(|i| PublisherSpec {
                    unit: i,
                    client_id: pub_id(i),
                    topic: format!("{base}/worker{i}"),
                    tallies: vec![tally.clone()],
                    send_log: None,
                })
                .collect();
            (vec![sub], pubs)
        }
        _ => {
            let tally = Tally::new(planned.map(|m| m * n as u64), n);
            let filter = format!("$share/bench/{base}");
            let subs = (0..n)
                .map(|i| SubscriberSpec {
                    unit: i,
                    client_id: sub_id(i),
                    filter: filter.clone(),
                    tally: tally.clone(),
                    send_log: None,
                })
                .collect();
            let pubs = (0..n)
                .map(|i| PublisherSpec {
                    unit: i,
                    client_id: pub_id(i),
                    topic: base.clone(),
                    tallies: vec![tally.clone()],
                    send_log: None,
                })
                .collect();
            (subs, pubs)
        }
    }
}

async fn subscribe_and_receive(
    ctx: Arc<RunContext>,
    spec: SubscriberSpec,
    ready: oneshot::Sender<bool>,
) -> Received {
    let failed = |f: Failure| Received {
        count: 0,
        last_at: None,
        failure: Some(f),
    };
    let mut link = match ctx.connect(ctx.subscribe_endpoint(), &spec.client_id).await {
        Ok(link) => link,
        Err(f) => {
            let _ = ready.send(false);
            return failed(f);
        }
    };
    if let Err(e) = link
        .subscribe(
            &spec.filter,
            ctx.options.subscriber_qos,
            ctx.options.timeout,
        )
        .await
    {
        let _ = ready.send(false);
        link.close().await;
        return failed(Failure::new(
            Outcome::SubscribeFailed,
            format!("{}: {e}", spec.client_id),
        ));
    }
    let _ = ready.send(true);
    let received =
        subscriber::receive(&mut link, &spec.tally, spec.send_log.as_deref(), &ctx).await;
    link.close().await;
    received
}

async fn connect_and_publish(ctx: Arc<RunContext>, spec: PublisherSpec) -> PublisherDone {
    let mut link = match ctx.connect(ctx.publish_endpoint(), &spec.client_id).await {
        Ok(link) => link,
        Err(f) => {
            spec.tallies.iter().for_each(|t| t.publisher_finished(0));
            return PublisherDone {
                failure: Some(f),
                ..PublisherDone::default()
            };
        }
    };
    let plan = PublishPlan::from_context(&ctx, spec.topic.clone());
    let published = publisher::publish(&mut link, &plan, &ctx, spec.send_log.as_deref()).await;
    spec.tallies
        .iter()
        .for_each(|t| t.publisher_finished(published.sent));
    link.close().await;
    PublisherDone {
        sent: published.sent,
        span: Some((published.started, published.finished)),
        failure: published.failure,
    }
}

fn fail(unit: &mut WorkerResult, f: &Failure) {
    if unit.error.is_none() {
        unit.outcome = f.outcome;
        unit.error = Some(f.message.clone());
    }
}

/// Runs the group scenario of the options.
pub async fn run(ctx: Arc<RunContext>) -> (Vec<WorkerResult>, Timeline) {
    let o = &ctx.options;
    let clients = o.clients;
    let (subs, pubs) = shape(&ctx);

    // Subscribers first.
    let mut ready = Vec::with_capacity(subs.len());
    let mut sub_tasks = Vec::with_capacity(subs.len());
    let announce_subscribers = subs.len() as u64 == clients;
    ramp_up(&ctx, subs.len() as u64, announce_subscribers, |i| {
        let (tx, rx) = oneshot::channel();
        ready.push(rx);
        sub_tasks.push(tokio::spawn(subscribe_and_receive(
            ctx.clone(),
            subs[i as usize].clone(),
            tx,
        )));
    })
    .await;
    let mut subscribed = 0;
    for rx in ready {
        subscribed += usize::from(rx.await.unwrap_or(false));
    }
    debug!(subscribed, "subscribers ready");

    // Then publishers, if anyone listens.
    let mut pub_tasks = Vec::with_capacity(pubs.len());
    if subscribed > 0 && !ctx.cancel.is_fired() {
        ramp_up(&ctx, pubs.len() as u64, !announce_subscribers, |i| {
            pub_tasks.push(tokio::spawn(connect_and_publish(
                ctx.clone(),
                pubs[i as usize].clone(),
            )));
        })
        .await;
    }
    for spec in &pubs[pub_tasks.len()..] {
        spec.tallies.iter().for_each(|t| t.publisher_finished(0));
    }
    let not_started = |_| PublisherDone {
        failure: Some(ctx.cancel.failure()),
        ..PublisherDone::default()
    };
    let mut published = collect(pub_tasks, &ctx.cancel, not_started).await;
    published.resize_with(pubs.len(), || PublisherDone {
        failure: Some(if subscribed == 0 {
            Failure::new(
                Outcome::ConnectFailed,
                "not started: no subscriber is connected",
            )
        } else {
            ctx.cancel.failure()
        }),
        ..PublisherDone::default()
    });
    let mut received = collect(sub_tasks, &ctx.cancel, |_| Received {
        count: 0,
        last_at: None,
        failure: Some(ctx.cancel.failure()),
    })
    .await;
    received.resize_with(subs.len(), || Received {
        count: 0,
        last_at: None,
        failure: Some(ctx.cancel.failure()),
    });

    // Units.
    let planned = o.duration.is_none().then_some(o.messages);
    let mut units: Vec<WorkerResult> = (0..clients)
        .map(|_| WorkerResult {
            outcome: Outcome::Completed,
            published: 0,
            received: 0,
            expected: 0,
            publish_time: None,
            receive_time: None,
            error: None,
        })
        .collect();
    let mut timeline = Timeline::default();
    for (spec, done) in pubs.iter().zip(&published) {
        let unit = &mut units[spec.unit];
        unit.published += done.sent;
        if let Some((started, finished)) = done.span {
            unit.publish_time = Some(finished.saturating_duration_since(started));
            timeline.published(started, finished);
        }
    }
    let first_publish = timeline.first_publish;
    for (spec, got) in subs.iter().zip(&received) {
        let unit = &mut units[spec.unit];
        unit.received += got.count;
        if let (Some(at), Some(first)) = (got.last_at, first_publish) {
            unit.receive_time = Some(at.saturating_duration_since(first));
        }
        timeline.received(got.last_at);
    }
    // Expected deliveries, and failures of parts several units share.
    for (i, unit) in units.iter_mut().enumerate() {
        let feeder = if o.scenario == Scenario::Fanout { 0 } else { i };
        unit.expected = planned.unwrap_or(published[feeder].sent);
        let own_sub = subs
            .iter()
            .position(|s| s.unit == i)
            .and_then(|k| received[k].failure.as_ref());
        let own_pub = pubs
            .iter()
            .position(|p| p.unit == i)
            .and_then(|k| published[k].failure.as_ref());
        let shared = match o.scenario {
            Scenario::Fanout => published[0].failure.as_ref(),
            Scenario::Fanin => received[0].failure.as_ref(),
            _ => None,
        };
        for f in [own_sub, own_pub, shared].into_iter().flatten() {
            fail(unit, f);
        }
        if let Some(message) = &unit.error {
            Counters::add(&ctx.counters.errors, 1);
            error!(worker = i, outcome = unit.outcome.name(), "{message}");
        }
    }
    (units, timeline)
}
