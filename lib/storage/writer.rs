//! The storage writer thread: takes every change waiting, applies them in one transaction,
//! then raises the committed-ticket watermark (group commit). A failing backend (Redis gone)
//! is retried with backoff; changes are kept, never dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::latency::CommitLatency;
use super::{Backend, Change};

/// Most changes in one transaction.
const MAX_BATCH: usize = 8192;
/// In periodic mode, how often a durable commit is forced.
const PERIODIC_SYNC: Duration = Duration::from_millis(200);
/// How often an idle backend is checked (so a Redis that went away is noticed before the
/// next write needs it).
const PING_EVERY: Duration = Duration::from_secs(1);

pub(super) fn spawn(
    mut backend: Box<dyn Backend>,
    rx: Receiver<(u64, Change)>,
    committed: watch::Sender<u64>,
    sync: bool,
    healthy: Arc<AtomicBool>,
    latency: Arc<CommitLatency>,
) {
    let run = move || {
        let mut batch: Vec<Change> = Vec::new();
        let mut last_sync = Instant::now();
        let mut last_ping = Instant::now();
        loop {
            let (mut last, first) = match rx.recv_timeout(PERIODIC_SYNC) {
                Ok(c) => c,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    if !sync && last_sync.elapsed() >= PERIODIC_SYNC {
                        let _ = backend.apply(&[], true);
                        last_sync = Instant::now();
                    }
                    if last_ping.elapsed() >= PING_EVERY {
                        last_ping = Instant::now();
                        match backend.ping() {
                            Ok(()) => {
                                if !healthy.swap(true, Ordering::Relaxed) {
                                    tracing::info!("the store is reachable again");
                                }
                            }
                            Err(e) => {
                                if healthy.swap(false, Ordering::Relaxed) {
                                    tracing::error!(error = %e, "the store is unreachable");
                                }
                            }
                        }
                    }
                    continue;
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
            };
            batch.clear();
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok((ticket, c)) => {
                        last = ticket;
                        batch.push(c);
                    }
                    Err(_) => break,
                }
            }
            let durable = sync || last_sync.elapsed() >= PERIODIC_SYNC;
            let mut backoff = Duration::from_millis(100);
            let started = Instant::now();
            while let Err(e) = backend.apply(&batch, durable) {
                healthy.store(false, Ordering::Relaxed);
                tracing::error!(error = %e, changes = batch.len(), retry_in_ms = backoff.as_millis() as u64, "storage write failed; retrying");
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
            if !healthy.swap(true, Ordering::Relaxed) {
                tracing::info!(changes = batch.len(), "storage writes succeed again");
            }
            if durable {
                last_sync = Instant::now();
            }
            latency.record(started.elapsed());
            tracing::trace!(
                changes = batch.len(),
                micros = started.elapsed().as_micros() as u64,
                "storage commit"
            );
            committed.send_replace(last);
        }
    };
    if let Err(e) = std::thread::Builder::new()
        .name("comqtt-storage".into())
        .spawn(run)
    {
        tracing::error!(error = %e, "cannot start the storage writer thread");
    }
}
