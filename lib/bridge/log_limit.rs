//! At most one log line per interval for a failure that can happen once per message (Kafka
//! unreachable, the producer queue full): the first occurrence is logged at once, the next ones
//! are counted and the count is reported with the next line allowed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A gate for one kind of log line. Lock-free: checked on connection tasks and on librdkafka's
/// threads.
#[derive(Debug)]
pub struct LogLimit {
    /// Time zero of `next_ms`.
    origin: Instant,
    /// The shortest time between two lines.
    interval_ms: u64,
    /// Milliseconds since `origin` before which no line is allowed.
    next_ms: AtomicU64,
    /// Occurrences not logged since the last line.
    suppressed: AtomicU64,
}

impl LogLimit {
    /// A gate that lets one line through per `interval`.
    pub fn new(interval: Duration) -> LogLimit {
        LogLimit {
            origin: Instant::now(),
            interval_ms: interval.as_millis() as u64,
            next_ms: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(n)` if a line may be written now, `n` being the occurrences left unlogged since
    /// the last line; `None` (and the occurrence counted) otherwise.
    pub fn check(&self) -> Option<u64> {
        let now = self.origin.elapsed().as_millis() as u64;
        let next = self.next_ms.load(Ordering::Relaxed);
        if now >= next
            && self
                .next_ms
                .compare_exchange(
                    next,
                    now + self.interval_ms,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            Some(self.suppressed.swap(0, Ordering::Relaxed))
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_line_passes_then_repeats_are_counted_until_the_interval_is_over() {
        let limit = LogLimit::new(Duration::from_millis(50));
        assert_eq!(limit.check(), Some(0));
        assert_eq!(limit.check(), None);
        assert_eq!(limit.check(), None);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(limit.check(), Some(2));
        assert_eq!(limit.check(), None);
    }
}
