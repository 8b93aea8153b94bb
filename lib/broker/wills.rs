//! Will messages on their way out: a queue published at the pace of their subscribers.
//!
//! Wills come in storms (a network outage drops ten thousand devices at once; their delays
//! run out in the same second). Published all at once they would overflow the outbox of a
//! subscriber watching them, which then loses what does not fit although it reads as fast
//! as it can. Here a will waits while a connected subscriber of its topic has a backlog of
//! half its outbox, and goes out as that backlog drains. A subscriber that stops reading
//! holds the queue up only for [`STALL`]; after that it loses what does not fit, counted,
//! as it would any message.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::Notify;

use super::broker::Broker;
use super::message::Message;

/// How long a subscriber's backlog may stay without shrinking before wills go on regardless.
const STALL: Duration = Duration::from_secs(5);
/// How often a backlog is looked at while wills wait for it.
const RECHECK: Duration = Duration::from_millis(5);

/// Wills waiting to be published.
#[derive(Debug, Default)]
pub struct WillQueue {
    queue: Mutex<VecDeque<Message>>,
    /// Wakes the publishing task.
    notify: Notify,
    /// The publishing task runs (without it, wills are published at once).
    running: AtomicBool,
}

impl WillQueue {
    /// Queues a will; `None` if no task publishes them (the caller publishes it now).
    pub fn push(&self, will: Message) -> Option<Message> {
        if !self.running.load(Ordering::Acquire) {
            return Some(will);
        }
        self.queue.lock().push_back(will);
        self.notify.notify_one();
        None
    }

    /// Number of wills waiting.
    pub fn len(&self) -> usize {
        self.queue.lock().len()
    }

    /// True if no will waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Publishes queued wills at their subscribers' pace until `shutdown`; then publishes
    /// what is left at once and lets later wills be published by whoever has them.
    pub async fn run(broker: Arc<Broker>, mut shutdown: crate::shutdown::Shutdown) {
        let wills = &broker.wills;
        wills.running.store(true, Ordering::Release);
        let mut watch = None;
        loop {
            let next = wills.queue.lock().pop_front();
            let Some(will) = next else {
                tokio::select! {
                    _ = wills.notify.notified() => continue,
                    _ = shutdown.wait() => break,
                }
            };
            tokio::select! {
                _ = wait_for_room(&broker, &will.topic, &mut watch) => {}
                _ = shutdown.wait() => {
                    broker.publish(will);
                    break;
                }
            }
            broker.publish(will);
        }
        wills.running.store(false, Ordering::Release);
        let left: Vec<Message> = wills.queue.lock().drain(..).collect();
        for will in left {
            broker.publish(will);
        }
    }
}

/// The backlogged subscriber wills last waited for, and how long its backlog has not shrunk.
struct Watch {
    outbox: usize,
    smallest: usize,
    since: Instant,
}

/// Waits while a connected subscriber of `topic` has a backlog, as long as the backlog
/// shrinks; one that stopped shrinking for [`STALL`] holds no will up until it shrinks again.
async fn wait_for_room(broker: &Broker, topic: &str, watch: &mut Option<Watch>) {
    while let Some(outbox) = broker.backlogged_subscriber(topic) {
        let key = Arc::as_ptr(&outbox) as usize;
        let len = outbox.len();
        match watch {
            Some(w) if w.outbox == key => {
                if len < w.smallest {
                    w.smallest = len;
                    w.since = Instant::now();
                } else if w.since.elapsed() > STALL {
                    return;
                }
            }
            _ => {
                *watch = Some(Watch {
                    outbox: key,
                    smallest: len,
                    since: Instant::now(),
                })
            }
        }
        tokio::time::sleep(RECHECK).await;
    }
}
