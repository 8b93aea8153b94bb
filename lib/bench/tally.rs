//! The deliveries a subscriber, or a group of subscribers sharing them, waits for. A tally
//! is complete when the planned count has arrived, or, once every publisher feeding it has
//! finished, when what they actually sent has arrived. Publishers report their final counts
//! here; subscribers add what they receive and learn about completion through a watch
//! channel, so one subscriber of a shared group finishing wakes the others.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::watch;

/// What subscribers watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TallyState {
    /// Publishers that have not finished yet.
    pub publishers_left: usize,
    /// Deliveries the finished publishers sent.
    pub sent: u64,
    /// Everything expected has arrived.
    pub complete: bool,
}

/// Deliveries expected by one subscriber or one group of subscribers.
#[derive(Debug)]
pub struct Tally {
    /// Deliveries received so far.
    received: AtomicU64,
    /// Deliveries planned (`-num-messages` times the publishers); `u64::MAX` in `-duration` mode.
    planned: u64,
    /// Set once every publisher has finished (mirrors the state, read on the hot path).
    publishers_done: AtomicBool,
    /// Publisher progress and completion.
    state: watch::Sender<TallyState>,
}

impl Tally {
    /// A tally fed by `publishers` publishers that plan `planned` deliveries in all (`None`:
    /// as many as they manage to send).
    pub fn new(planned: Option<u64>, publishers: usize) -> Arc<Tally> {
        let (state, _) = watch::channel(TallyState {
            publishers_left: publishers,
            sent: 0,
            complete: false,
        });
        Arc::new(Tally {
            received: AtomicU64::new(0),
            planned: planned.unwrap_or(u64::MAX),
            publishers_done: AtomicBool::new(publishers == 0),
            state,
        })
    }

    /// A receiver of the state.
    pub fn watch(&self) -> watch::Receiver<TallyState> {
        self.state.subscribe()
    }

    /// Adds `n` deliveries. Returns how many of them are mqtt-stresser progress reports:
    /// every delivery but the one completing the planned count.
    pub fn add_received(&self, n: u64) -> u64 {
        let after = self.received.fetch_add(n, Ordering::SeqCst) + n;
        let before = after - n;
        let last = self.planned.saturating_sub(1);
        if after >= self.planned || self.publishers_done.load(Ordering::SeqCst) {
            self.check();
        }
        after.min(last) - before.min(last)
    }

    /// A publisher finished having sent `sent` deliveries to this tally.
    pub fn publisher_finished(&self, sent: u64) {
        self.state.send_modify(|s| {
            s.publishers_left = s.publishers_left.saturating_sub(1);
            s.sent += sent;
            if s.publishers_left == 0 {
                self.publishers_done.store(true, Ordering::SeqCst);
            }
        });
        self.check();
    }

    /// Deliveries received so far.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::SeqCst)
    }

    /// True once complete.
    #[cfg(test)]
    pub fn is_complete(&self) -> bool {
        self.state.borrow().complete
    }

    fn check(&self) {
        let received = self.received.load(Ordering::SeqCst);
        self.state.send_if_modified(|s| {
            if s.complete {
                return false;
            }
            s.complete = received >= self.planned || (s.publishers_left == 0 && received >= s.sent);
            s.complete
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completes_at_the_planned_count_and_counts_progress_reports() {
        let t = Tally::new(Some(3), 1);
        assert_eq!(t.add_received(2), 2);
        assert!(!t.is_complete());
        assert_eq!(
            t.add_received(1),
            0,
            "the last delivery is no progress report"
        );
        assert!(t.is_complete());
    }

    #[test]
    fn completes_with_what_was_sent_when_publishers_fall_short() {
        let t = Tally::new(Some(10), 2);
        t.add_received(4);
        t.publisher_finished(2);
        assert!(!t.is_complete());
        t.publisher_finished(2);
        assert!(t.is_complete());
    }

    #[test]
    fn duration_mode_waits_for_the_publishers() {
        let t = Tally::new(None, 1);
        t.add_received(5);
        assert!(!t.is_complete());
        t.publisher_finished(6);
        assert!(!t.is_complete());
        t.add_received(1);
        assert!(t.is_complete());
    }
}
