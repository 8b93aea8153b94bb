//! The `conn` scenario: open `-num-clients` connections, at `-connect-rate` per second (or in
//! ramp-up batches), hold them all for `-hold` once every attempt has finished (answering
//! keep alive with PINGREQ), then disconnect. Reports connect latency (TCP connect to
//! CONNACK) percentiles, failures by reason, and connections the broker dropped meanwhile.

use std::collections::HashMap;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::sync::{mpsc, watch};
use tokio::time::sleep_until;

use super::context::{RunContext, rand31};
use super::report::ConnFigures;
use super::scenario::{collect, ramp_up};

/// How one connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    /// Never established.
    Failed,
    /// Held until released.
    Kept,
    /// Closed by the broker (or the network) during the hold.
    Dropped,
}

async fn hold(
    ctx: Arc<RunContext>,
    index: u64,
    t: u32,
    attempts: mpsc::UnboundedSender<Result<Duration, String>>,
    mut release: watch::Receiver<bool>,
) -> Held {
    let endpoint = &ctx.endpoints[index as usize % ctx.endpoints.len()];
    let client_id = ctx.names.client_id("conn", index, t);
    let began = Instant::now();
    let mut link = match ctx.connect(endpoint, &client_id).await {
        Ok(link) => {
            let _ = attempts.send(Ok(began.elapsed()));
            link
        }
        Err(f) => {
            let reason = f
                .message
                .strip_prefix(&format!("{client_id}: "))
                .unwrap_or(&f.message)
                .to_string();
            let _ = attempts.send(Err(reason));
            return Held::Failed;
        }
    };
    drop(attempts);
    let mut cancel = ctx.cancel.watcher();
    let far = Instant::now() + Duration::from_secs(10 * 365 * 86_400);
    let ping_every = link.ping_every;
    let mut ping = pin!(sleep_until(
        ping_every.map_or(far, |p| Instant::now() + p).into()
    ));
    let outcome = loop {
        link.prepare_read();
        tokio::select! {
            biased;
            _ = cancel.wait() => break Held::Kept,
            _ = async { let _ = release.wait_for(|r| *r).await; } => break Held::Kept,
            read = link.reader.read_buf(&mut link.rbuf) => match read {
                Ok(0) | Err(_) => return Held::Dropped,
                Ok(_) => while let Ok(Some(_)) = link.next_packet() {},
            },
            _ = &mut ping, if ping_every.is_some() => {
                if link.queue(&crate::mqtt::Packet::PingReq).is_err() || link.flush().await.is_err() {
                    return Held::Dropped;
                }
                ping.as_mut().reset((Instant::now() + ping_every.unwrap_or_default()).into());
            }
        }
    };
    link.close().await;
    outcome
}

/// Runs the conn scenario.
pub async fn run(ctx: Arc<RunContext>) -> ConnFigures {
    let o = &ctx.options;
    let clients = o.clients;
    let t = rand31();
    let (attempts_tx, mut attempts) = mpsc::unbounded_channel();
    let (release_tx, release) = watch::channel(false);
    let mut tasks = Vec::with_capacity(clients as usize);
    let mut spawn = |i: u64| {
        tasks.push(tokio::spawn(hold(
            ctx.clone(),
            i,
            t,
            attempts_tx.clone(),
            release.clone(),
        )));
    };
    let start = Instant::now();
    match o.connect_rate {
        Some(rate) => {
            let mut cancel = ctx.cancel.watcher();
            for i in 0..clients {
                let due = start + Duration::from_secs_f64(i as f64 / rate);
                tokio::select! {
                    biased;
                    _ = cancel.wait() => break,
                    _ = sleep_until(due.into()) => spawn(i),
                }
            }
            ctx.console.line(&format!("{clients} worker started"));
        }
        None => ramp_up(&ctx, clients, true, &mut spawn).await,
    }
    drop(attempts_tx);

    // Every attempt's result, then the hold.
    let mut connected = 0u64;
    let mut failures: HashMap<String, u64> = HashMap::new();
    let mut last_attempt = start;
    let mut cancel = ctx.cancel.watcher();
    loop {
        tokio::select! {
            biased;
            _ = cancel.wait() => break,
            attempt = attempts.recv() => match attempt {
                None => break,
                Some(Ok(latency)) => {
                    connected += 1;
                    last_attempt = Instant::now();
                    ctx.latency.record_all(&[latency.as_nanos() as u64]);
                }
                Some(Err(reason)) => {
                    last_attempt = Instant::now();
                    *failures.entry(reason).or_default() += 1;
                }
            },
        }
    }
    let connect_window = last_attempt.saturating_duration_since(start);
    tokio::select! {
        biased;
        _ = cancel.wait() => {}
        _ = tokio::time::sleep(o.hold.to_std()) => {}
    }
    let _ = release_tx.send(true);
    let held = collect(tasks, &ctx.cancel, |_| Held::Kept).await;
    let dropped = held.iter().filter(|h| **h == Held::Dropped).count() as u64;
    let not_attempted = clients.saturating_sub(held.len() as u64);
    if not_attempted > 0 {
        *failures
            .entry("not attempted: test cancelled".to_string())
            .or_default() += not_attempted;
    }
    let mut failures: Vec<(String, u64)> = failures.into_iter().collect();
    failures.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ConnFigures {
        clients,
        connect_rate: o.connect_rate,
        hold: o.hold,
        connected,
        failures,
        dropped,
        connect_window,
        latency: ctx.latency.percentiles(),
    }
}
