//! A run from start to report: resolve the brokers and set up TLS, then ramp workers up in
//! batches, run the scenario the options name (`p2p` workers here, `group` and `conn` in
//! their files), watch the global timeout and SIGINT / SIGTERM, draw progress, and turn the
//! results into the [`Report`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use super::client::ClientSettings;
use super::conn;
use super::context::{Cancel, Cause, KEEP_ALIVE, Names, RunContext, hostname};
use super::group;
use super::options::{Options, Scenario};
use super::progress::Console;
use super::report::{Report, Summary, TrafficFigures};
use super::source::SourceAddresses;
use super::stats::{Clock, Counters, LatencyRecorder, Timeline, WorkerResult};
use super::tls::{self, TlsError};
use super::transport::{Endpoint, EndpointError};
use super::worker;
use crate::shutdown::ShutdownSignal;

/// How long cancelled tasks get to close their connections.
const DISCONNECT_GRACE: Duration = Duration::from_secs(5);

/// How often progress is redrawn.
const PROGRESS_TICK: Duration = Duration::from_millis(100);

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// TLS settings are unusable.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// A broker cannot be reached by name.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
}

/// Starts `count` tasks with `start(i)`, `-rampup-size` at a time with `-rampup-delay`
/// between batches, printing mqtt-stresser's "N worker started" lines when `announce`.
/// Stops early if the run is cancelled.
pub async fn ramp_up(ctx: &RunContext, count: u64, announce: bool, mut start: impl FnMut(u64)) {
    let size = ctx.options.rampup_size.max(1);
    let delay = ctx.options.rampup_delay;
    let mut cancel = ctx.cancel.watcher();
    for i in 0..count {
        if cancel.is_fired() {
            break;
        }
        if i % size == 0 && i > 0 {
            if announce {
                ctx.console
                    .line(&format!("{i} worker started - waiting {delay}"));
            }
            tokio::select! {
                biased;
                _ = cancel.wait() => break,
                _ = tokio::time::sleep(delay.to_std()) => {}
            }
        }
        start(i);
    }
    if announce {
        ctx.console.line(&format!("{count} worker started"));
    }
}

/// Waits for `tasks` in order. Once the run is cancelled they get [`DISCONNECT_GRACE`] in
/// all; a task still running then is aborted and `fallback(i)` stands for its result.
pub async fn collect<T>(
    tasks: Vec<JoinHandle<T>>,
    cancel: &Cancel,
    fallback: impl Fn(usize) -> T,
) -> Vec<T> {
    let mut results = Vec::with_capacity(tasks.len());
    let mut deadline: Option<Instant> = None;
    let mut watcher = cancel.watcher();
    for (i, mut task) in tasks.into_iter().enumerate() {
        let result = loop {
            if let Some(deadline) = deadline {
                match tokio::time::timeout_at(deadline.into(), &mut task).await {
                    Ok(Ok(v)) => break v,
                    _ => {
                        task.abort();
                        break fallback(i);
                    }
                }
            }
            tokio::select! {
                joined = &mut task => break joined.unwrap_or_else(|_| fallback(i)),
                _ = watcher.wait() => deadline = Some(Instant::now() + DISCONNECT_GRACE),
            }
        };
        results.push(result);
    }
    results
}

/// Fires the cancellation on the global timeout or a signal, printing mqtt-stresser's lines;
/// returns when `done` fires.
async fn watchdog(ctx: Arc<RunContext>, limit: Duration, mut done: crate::shutdown::Shutdown) {
    #[cfg(unix)]
    let (mut interrupt, mut terminate) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    #[cfg(unix)]
    let signalled = async {
        tokio::select! {
            Some(()) = async { interrupt.as_mut()?.recv().await } => "interrupt",
            Some(()) = async { terminate.as_mut()?.recv().await } => "terminated",
        }
    };
    #[cfg(not(unix))]
    let signalled = async {
        let _ = tokio::signal::ctrl_c().await;
        "interrupt"
    };
    tokio::select! {
        _ = done.wait() => {}
        _ = tokio::time::sleep(limit) => {
            ctx.console.notice("Test timeout. Wait 5s to allow disconnection of clients.");
            ctx.cancel.fire(Cause::Timeout);
        }
        name = signalled => {
            ctx.console.notice(&format!("Got signal {name}. Cancel test."));
            ctx.cancel.fire(Cause::Signal);
        }
    }
}

/// Redraws progress every [`PROGRESS_TICK`] until `done` fires.
async fn ticker(ctx: Arc<RunContext>, mut done: crate::shutdown::Shutdown) {
    let mut every = tokio::time::interval(PROGRESS_TICK);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = done.wait() => break,
            _ = every.tick() => ctx.console.tick(&ctx.counters),
        }
    }
}

/// Runs the scenario of `options` and reports.
pub async fn run(options: Options, console: Arc<Console>) -> Result<Report, SetupError> {
    let tls = if options.brokers.iter().any(|b| b.scheme.is_tls()) {
        Some(tls::client_config(&options.tls)?)
    } else {
        None
    };
    let mut endpoints = Vec::with_capacity(options.brokers.len());
    for url in &options.brokers {
        endpoints.push(Endpoint::resolve(url, tls.as_ref()).await?);
    }
    let sources = options
        .source_addresses
        .clone()
        .or_else(|| SourceAddresses::automatic(endpoints[0].addr, options.connections()))
        .map(SourceAddresses::new);
    let settings = ClientSettings {
        protocol: options.protocol,
        keep_alive: KEEP_ALIVE,
        session_expiry: options.session_expiry,
        username: options.username.clone(),
        password: options.password.clone(),
        timeout: options.timeout,
    };
    let names = Names {
        hostname: hostname(),
        topic_base: options.topic_base.clone(),
        prefix: options.client_id_prefix.clone(),
    };
    let limit = options.global_timeout.to_std()
        + options.duration.unwrap_or_default()
        + if options.scenario == Scenario::Conn {
            options.hold.to_std()
        } else {
            Duration::ZERO
        };
    let ctx = Arc::new(RunContext {
        options,
        endpoints,
        sources,
        settings,
        names,
        counters: Counters::default(),
        latency: Arc::new(LatencyRecorder::new()),
        clock: Clock::start(),
        cancel: Cancel::new(),
        console,
    });
    let o = &ctx.options;
    let publishers = match o.scenario {
        Scenario::Fanout => 1,
        Scenario::Conn => 0,
        _ => o.clients,
    };
    let deliveries = match o.scenario {
        Scenario::Fanout => o.clients * o.messages,
        _ => publishers * o.messages,
    };
    let counted = o.duration.is_none();
    ctx.console.set_lengths(
        o.connections(),
        counted.then_some(publishers * o.messages),
        counted.then_some(deliveries),
    );

    let done = ShutdownSignal::new();
    let watchdog = tokio::spawn(watchdog(ctx.clone(), limit, done.subscribe()));
    let ticker = tokio::spawn(ticker(ctx.clone(), done.subscribe()));
    let report = match o.scenario {
        Scenario::Conn => Report::Connections(conn::run(ctx.clone()).await),
        Scenario::P2p => {
            let (workers, timeline) = p2p(&ctx).await;
            Report::Traffic(traffic(&ctx, workers, timeline))
        }
        Scenario::Fanout | Scenario::Fanin | Scenario::Sharedsub => {
            let (workers, timeline) = group::run(ctx.clone()).await;
            Report::Traffic(traffic(&ctx, workers, timeline))
        }
    };
    done.fire();
    let _ = watchdog.await;
    let _ = ticker.await;
    ctx.console.finish(&ctx.counters);
    Ok(report)
}

/// mqtt-stresser's scenario: `-num-clients` workers.
async fn p2p(ctx: &Arc<RunContext>) -> (Vec<WorkerResult>, Timeline) {
    let mut tasks = Vec::with_capacity(ctx.options.clients as usize);
    ramp_up(ctx, ctx.options.clients, true, |i| {
        tasks.push(spawn_worker(i, ctx.clone()))
    })
    .await;
    let started = tasks.len();
    let planned = if ctx.options.duration.is_none() {
        ctx.options.messages
    } else {
        0
    };
    let cancelled = |_| {
        (
            WorkerResult::failed(ctx.cancel.failure(), planned),
            Timeline::default(),
        )
    };
    let mut results = collect(tasks, &ctx.cancel, cancelled).await;
    for _ in started..ctx.options.clients as usize {
        results.push((
            WorkerResult::failed(ctx.cancel.failure(), planned),
            Timeline::default(),
        ));
    }
    let mut timeline = Timeline::default();
    let workers = results
        .into_iter()
        .map(|(w, t)| {
            timeline.merge(&t);
            w
        })
        .collect();
    (workers, timeline)
}

fn spawn_worker(i: u64, ctx: Arc<RunContext>) -> JoinHandle<(WorkerResult, Timeline)> {
    tokio::spawn(worker::run(i, ctx))
}

/// The figures of a message scenario.
fn traffic(ctx: &RunContext, workers: Vec<WorkerResult>, timeline: Timeline) -> Summary {
    let o = &ctx.options;
    let publishers = if o.scenario == Scenario::Fanout {
        1
    } else {
        o.clients
    };
    let published: u64 = workers.iter().map(|w| w.published).sum();
    let received: u64 = workers.iter().map(|w| w.received).sum();
    let (messages_per_client, planned_published) = match o.duration {
        None => (o.messages, publishers * o.messages),
        Some(_) => (published / publishers.max(1), published),
    };
    let latency = ctx.latency.percentiles();
    let latency_note = match (&latency, o.payload.is_stamped(), o.scenario) {
        (Some(_), _, _) => None,
        (None, false, Scenario::Fanin | Scenario::Sharedsub) => {
            Some("constant payloads carry no send time and a subscriber hears several publishers; use -payload-size 16 or more".to_string())
        }
        (None, _, _) if received == 0 => Some("no message was received".to_string()),
        (None, _, _) => None,
    };
    Summary::new(TrafficFigures {
        scenario: o.scenario.name().to_string(),
        clients: o.clients,
        messages_per_client,
        planned_published,
        workers,
        latency,
        latency_note,
        publish_window: timeline.publish_window(),
        receive_window: timeline.receive_window(),
    })
}
