//! Overload protection (`mqtt.options.overload`): high and low watermarks on the process's
//! resident memory and on the messages queued for all sessions. A sampler ([`run`]) reads both
//! every `check-interval-ms`; above a high mark the broker is overloaded until both figures are
//! below their low marks again. While overloaded:
//! - new connections are refused with CONNACK 0x89 Server busy (MQTT 3.x: 0x03 Server
//!   unavailable), except a client taking back a session that has messages waiting (it drains
//!   them; refusing it would keep the broker overloaded);
//! - QoS 0 messages for subscribers that are already behind ([`SLOW_SUBSCRIBER`] messages
//!   waiting) are shed instead of queued (counted);
//! - `/readyz` answers 503 so a load balancer sends new clients elsewhere.
//!
//! Each transition is logged once and counted; clients already connected keep being served.
//! The sampler costs nothing per message: queued messages are summed from the sessions' queues
//! once per interval, and only when a queued watermark is set.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use super::Broker;
use crate::config::ConfigError;

/// A subscriber with this many messages waiting is behind: while overloaded, QoS 0 messages
/// for it are shed.
pub const SLOW_SUBSCRIBER: usize = 32;

/// The `mqtt.options.overload:` block; a high mark of 0 turns that watermark off (both are off
/// by default). A low mark of 0 means 90% of the high mark.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Watermarks {
    /// Resident memory (bytes) above which the broker is overloaded.
    pub memory_high_mark: u64,
    /// Resident memory (bytes) below which it recovers.
    pub memory_low_mark: u64,
    /// Messages queued for all sessions (online and offline) above which it is overloaded.
    pub queued_high_mark: u64,
    /// Messages queued below which it recovers.
    pub queued_low_mark: u64,
    /// How often memory and queues are sampled, milliseconds.
    pub check_interval_ms: u64,
}

impl Default for Watermarks {
    fn default() -> Self {
        Watermarks {
            memory_high_mark: 0,
            memory_low_mark: 0,
            queued_high_mark: 0,
            queued_low_mark: 0,
            check_interval_ms: 1000,
        }
    }
}

impl Watermarks {
    /// Checks that each low mark is below its high mark and the interval is sane.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (key, high, low) in [
            (
                "mqtt.options.overload.memory-low-mark",
                self.memory_high_mark,
                self.memory_low_mark,
            ),
            (
                "mqtt.options.overload.queued-low-mark",
                self.queued_high_mark,
                self.queued_low_mark,
            ),
        ] {
            if low > 0 && (high == 0 || low >= high) {
                return Err(ConfigError::Invalid {
                    key,
                    value: low.to_string(),
                    allowed: "below its high mark (and only with one); 0 is 90% of the high mark",
                });
            }
        }
        if !(10..=60_000).contains(&self.check_interval_ms) {
            return Err(ConfigError::Invalid {
                key: "mqtt.options.overload.check-interval-ms",
                value: self.check_interval_ms.to_string(),
                allowed: "10 to 60000 milliseconds",
            });
        }
        Ok(())
    }

    fn low(high: u64, low: u64) -> u64 {
        if low > 0 { low } else { high - high / 10 }
    }
}

/// What the sampler saw last.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sample {
    /// Resident memory, bytes (0 when not measured).
    pub memory: u64,
    /// Messages queued for all sessions (0 when not measured).
    pub queued: u64,
}

/// The overload state shared by the sampler, the listeners, the router and `/readyz`.
#[derive(Debug, Default)]
pub struct Overload {
    /// The watermarks in force (a reload replaces them).
    marks: RwLock<Watermarks>,
    /// Above a high mark and not yet below the low ones.
    overloaded: AtomicBool,
    /// Times the broker became overloaded.
    pub entered: AtomicU64,
    /// Connections refused with 0x89 while overloaded.
    pub refused: AtomicU64,
    /// QoS 0 messages shed for slow subscribers while overloaded.
    pub shed: AtomicU64,
    /// Last sampled resident memory, bytes.
    pub memory: AtomicU64,
    /// Last sampled queued messages.
    pub queued: AtomicU64,
}

impl Overload {
    /// Overload protection under `marks`.
    pub fn new(marks: Watermarks) -> Overload {
        Overload {
            marks: RwLock::new(marks),
            ..Overload::default()
        }
    }

    /// True while overloaded. One relaxed load: read on every QoS 0 delivery.
    #[inline]
    pub fn is_overloaded(&self) -> bool {
        self.overloaded.load(Ordering::Relaxed)
    }

    /// The watermarks in force.
    pub fn marks(&self) -> Watermarks {
        self.marks.read().clone()
    }

    /// Replaces the watermarks (a reload); the next sample decides the state under them.
    pub fn set_marks(&self, marks: Watermarks) {
        *self.marks.write() = marks;
    }

    /// Counts a connection refused because the broker is overloaded.
    pub fn count_refused(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a QoS 0 message shed.
    pub fn count_shed(&self) {
        self.shed.fetch_add(1, Ordering::Relaxed);
    }

    /// Decides the state from a sample; returns the new state when it changed.
    pub fn judge(&self, sample: Sample) -> Option<bool> {
        let marks = self.marks.read().clone();
        self.memory.store(sample.memory, Ordering::Relaxed);
        self.queued.store(sample.queued, Ordering::Relaxed);
        let over = |high: u64, value: u64| high > 0 && value > high;
        let under =
            |high: u64, low: u64, value: u64| high == 0 || value < Watermarks::low(high, low);
        let was = self.is_overloaded();
        let now = if was {
            !(under(marks.memory_high_mark, marks.memory_low_mark, sample.memory)
                && under(marks.queued_high_mark, marks.queued_low_mark, sample.queued))
        } else {
            over(marks.memory_high_mark, sample.memory)
                || over(marks.queued_high_mark, sample.queued)
        };
        if now == was {
            return None;
        }
        self.overloaded.store(now, Ordering::Relaxed);
        if now {
            self.entered.fetch_add(1, Ordering::Relaxed);
        }
        Some(now)
    }
}

/// Samples memory and queues every `check-interval-ms` while a watermark is set, until
/// `shutdown` fires; logs each transition.
pub async fn run(broker: Arc<Broker>, mut shutdown: crate::shutdown::Shutdown) {
    loop {
        let interval = Duration::from_millis(broker.overload.marks().check_interval_ms.max(10));
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.wait() => return,
        }
        // The marks in force now (a reload may have changed them during the sleep).
        let marks = broker.overload.marks();
        let sample = Sample {
            memory: if marks.memory_high_mark > 0 {
                super::sys::resident_bytes()
            } else {
                0
            },
            queued: if marks.queued_high_mark > 0 {
                broker.sessions.queued_total() as u64
            } else {
                0
            },
        };
        match broker.overload.judge(sample) {
            Some(true) => tracing::warn!(
                memory = sample.memory,
                queued = sample.queued,
                memory_high_mark = marks.memory_high_mark,
                queued_high_mark = marks.queued_high_mark,
                "overloaded: refusing new connections (0x89), shedding QoS 0 to slow subscribers, /readyz not ready"
            ),
            Some(false) => tracing::warn!(
                memory = sample.memory,
                queued = sample.queued,
                "no longer overloaded: taking new connections again"
            ),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_a_high_mark_until_under_every_low_mark() {
        let o = Overload::new(Watermarks {
            queued_high_mark: 100,
            queued_low_mark: 50,
            memory_high_mark: 1000,
            ..Watermarks::default()
        });
        let s = |memory, queued| Sample { memory, queued };
        assert_eq!(o.judge(s(10, 100)), None, "at the mark is not over it");
        assert_eq!(o.judge(s(10, 101)), Some(true));
        assert_eq!(
            o.judge(s(10, 60)),
            None,
            "between the marks: still overloaded"
        );
        assert_eq!(o.judge(s(950, 10)), None, "memory above its low mark (900)");
        assert_eq!(o.judge(s(800, 10)), Some(false));
        assert_eq!(o.judge(s(1001, 10)), Some(true));
        assert_eq!(o.entered.load(Ordering::Relaxed), 2);
        o.set_marks(Watermarks::default());
        assert_eq!(
            o.judge(s(1_000_000, 1_000_000)),
            Some(false),
            "no mark: never overloaded"
        );
    }

    #[test]
    fn low_marks_must_be_below_their_high_marks() {
        let bad = Watermarks {
            queued_high_mark: 10,
            queued_low_mark: 10,
            ..Watermarks::default()
        };
        assert!(bad.validate().is_err());
        let orphan = Watermarks {
            memory_low_mark: 10,
            ..Watermarks::default()
        };
        assert!(orphan.validate().is_err());
        assert!(Watermarks::default().validate().is_ok());
    }
}
