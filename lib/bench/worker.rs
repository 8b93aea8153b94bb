//! mqtt-stresser's worker, the unit of the p2p scenario: a subscriber connects and subscribes
//! to a topic of its own, then a publisher connects and sends `-num-messages` messages to it;
//! the worker completes when its subscriber has them all. The subscriber runs as its own task
//! while the worker's task drives the publisher, so each connection is one task.

use std::sync::Arc;

use tracing::{debug, error};

use super::context::{RunContext, rand31};
use super::publisher::{self, PublishPlan};
use super::stats::{Counters, Failure, Outcome, SendLog, Timeline, WorkerResult};
use super::subscriber::{self, Received};
use super::tally::Tally;

/// Runs worker `index` to the end and returns its figures.
pub async fn run(index: u64, ctx: Arc<RunContext>) -> (WorkerResult, Timeline) {
    let (result, timeline) = work(index, &ctx).await;
    if let Some(message) = &result.error {
        Counters::add(&ctx.counters.errors, 1);
        error!(worker = index, outcome = result.outcome.name(), "{message}");
    } else {
        debug!(
            worker = index,
            received = result.received,
            "worker finished"
        );
    }
    (result, timeline)
}

async fn work(index: u64, ctx: &Arc<RunContext>) -> (WorkerResult, Timeline) {
    let o = &ctx.options;
    let t = rand31();
    let topic = ctx.names.worker_topic(index, t);
    let planned = o.duration.is_none().then_some(o.messages);
    let planned_or_zero = planned.unwrap_or(0);
    let failed = |f: Failure| {
        (
            WorkerResult::failed(f, planned_or_zero),
            Timeline::default(),
        )
    };
    let sub_id = ctx.names.client_id("sub", index, t);
    debug!(worker = index, %topic, subscriber = %sub_id, "connecting subscriber");
    let mut sub = match ctx.connect(ctx.subscribe_endpoint(), &sub_id).await {
        Ok(link) => link,
        Err(f) => return failed(f),
    };
    debug!(worker = index, "subscribing");
    if let Err(e) = sub.subscribe(&topic, o.subscriber_qos, o.timeout).await {
        sub.close().await;
        return failed(Failure::new(
            Outcome::SubscribeFailed,
            format!("{sub_id}: {e}"),
        ));
    }
    let tally = Tally::new(planned, 1);
    let send_log = (!o.payload.is_stamped()).then(|| Arc::new(SendLog::new(planned)));
    let receiving = tokio::spawn({
        let (ctx, tally, send_log) = (ctx.clone(), tally.clone(), send_log.clone());
        async move {
            let received = subscriber::receive(&mut sub, &tally, send_log.as_deref(), &ctx).await;
            sub.close().await;
            received
        }
    });
    let pub_id = ctx.names.client_id("pub", index, t);
    debug!(worker = index, publisher = %pub_id, "connecting publisher");
    let mut publisher = match ctx.connect(ctx.publish_endpoint(), &pub_id).await {
        Ok(link) => link,
        Err(f) => {
            tally.publisher_finished(0);
            let _ = receiving.await;
            return failed(f);
        }
    };
    debug!(worker = index, "publishing");
    let plan = PublishPlan::from_context(ctx, topic);
    let published = publisher::publish(&mut publisher, &plan, ctx, send_log.as_deref()).await;
    tally.publisher_finished(published.sent);
    debug!(
        worker = index,
        sent = published.sent,
        acknowledged = published.acknowledged,
        "published"
    );
    publisher.close().await;
    let received = receiving.await.unwrap_or_else(|e| Received {
        count: tally.received(),
        last_at: None,
        failure: Some(Failure::new(
            Outcome::ConnectionLost,
            format!("subscriber task failed: {e}"),
        )),
    });
    let mut timeline = Timeline::default();
    timeline.published(published.started, published.finished);
    timeline.received(received.last_at);
    let failure = published.failure.or(received.failure);
    let result = WorkerResult {
        outcome: failure.as_ref().map_or(Outcome::Completed, |f| f.outcome),
        published: published.sent,
        received: received.count,
        expected: planned.unwrap_or(published.sent),
        publish_time: Some(
            published
                .finished
                .saturating_duration_since(published.started),
        ),
        receive_time: received
            .last_at
            .map(|at| at.saturating_duration_since(published.started)),
        error: failure.map(|f| f.message),
    };
    (result, timeline)
}
