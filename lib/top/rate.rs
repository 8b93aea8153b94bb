//! Per-second rates from the cumulative counters of two polls of one node.
//!
//! A rate is the counter's growth divided by the time between the two answers (measured here,
//! not by the node's one-second clock). A counter that went backwards, or a changed start
//! time, means the node restarted between the polls: what it counted in that interval is not
//! known (a broker that restores its counters after a restart continues from its last save,
//! which may be behind what was polled), so that interval gives no rates, the restart is
//! reported, and the next poll measures from the new values.

use std::time::Duration;

use serde::Serialize;

use super::api::Overall;

/// Shorter intervals give no rate (two answers to one round trip).
const MIN_INTERVAL: Duration = Duration::from_millis(1);

/// The cumulative counters of one poll, and the start time that tells a restart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// When the node's process started, Unix seconds.
    pub started: u64,
    /// PUBLISH packets received.
    pub messages_received: u64,
    /// PUBLISH packets sent.
    pub messages_sent: u64,
    /// Messages dropped.
    pub messages_dropped: u64,
    /// Bytes read from clients.
    pub bytes_received: u64,
    /// Bytes written to clients.
    pub bytes_sent: u64,
    /// MQTT packets received.
    pub packets_received: u64,
    /// MQTT packets sent.
    pub packets_sent: u64,
    /// Connections accepted.
    pub clients_total: u64,
}

impl Counters {
    /// The counters of an overall-stats answer.
    pub fn of(o: &Overall) -> Counters {
        Counters {
            started: o.started,
            messages_received: o.messages_received,
            messages_sent: o.messages_sent,
            messages_dropped: o.messages_dropped,
            bytes_received: o.bytes_received,
            bytes_sent: o.bytes_sent,
            packets_received: o.packets_received,
            packets_sent: o.packets_sent,
            clients_total: o.clients_total,
        }
    }

    /// Every counter, for the "went backwards" check.
    fn all(&self) -> [u64; 8] {
        [
            self.messages_received,
            self.messages_sent,
            self.messages_dropped,
            self.bytes_received,
            self.bytes_sent,
            self.packets_received,
            self.packets_sent,
            self.clients_total,
        ]
    }
}

/// Per-second rates over one interval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Rates {
    /// PUBLISH packets received per second.
    pub messages_in: f64,
    /// PUBLISH packets sent per second.
    pub messages_out: f64,
    /// Messages dropped per second.
    pub dropped: f64,
    /// Bytes read from clients per second.
    pub bytes_in: f64,
    /// Bytes written to clients per second.
    pub bytes_out: f64,
    /// MQTT packets received per second.
    pub packets_in: f64,
    /// MQTT packets sent per second.
    pub packets_out: f64,
    /// Connections accepted per second.
    pub connects: f64,
}

impl Rates {
    /// The sum of two nodes' rates.
    pub fn add(&self, o: &Rates) -> Rates {
        Rates {
            messages_in: self.messages_in + o.messages_in,
            messages_out: self.messages_out + o.messages_out,
            dropped: self.dropped + o.dropped,
            bytes_in: self.bytes_in + o.bytes_in,
            bytes_out: self.bytes_out + o.bytes_out,
            packets_in: self.packets_in + o.packets_in,
            packets_out: self.packets_out + o.packets_out,
            connects: self.connects + o.connects,
        }
    }
}

/// What two polls of a node tell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Change {
    /// The rates over the interval.
    Rates(Rates),
    /// The node restarted in between (start time changed or a counter went backwards): no
    /// rates for this interval.
    Restarted,
    /// The polls are too close together to give a rate.
    TooClose,
}

/// The change from `prev` to `cur`, polled `elapsed` apart.
pub fn change(prev: &Counters, cur: &Counters, elapsed: Duration) -> Change {
    let went_back = prev.all().iter().zip(cur.all()).any(|(p, c)| c < *p);
    if prev.started != cur.started || went_back {
        return Change::Restarted;
    }
    if elapsed < MIN_INTERVAL {
        return Change::TooClose;
    }
    let secs = elapsed.as_secs_f64();
    let per_second = |p: u64, c: u64| (c - p) as f64 / secs;
    Change::Rates(Rates {
        messages_in: per_second(prev.messages_received, cur.messages_received),
        messages_out: per_second(prev.messages_sent, cur.messages_sent),
        dropped: per_second(prev.messages_dropped, cur.messages_dropped),
        bytes_in: per_second(prev.bytes_received, cur.bytes_received),
        bytes_out: per_second(prev.bytes_sent, cur.bytes_sent),
        packets_in: per_second(prev.packets_received, cur.packets_received),
        packets_out: per_second(prev.packets_sent, cur.packets_sent),
        connects: per_second(prev.clients_total, cur.clients_total),
    })
}

/// One counter's rate (a client's bytes): `None` if it went backwards (a new connection
/// counts from zero) or the polls are too close.
pub fn per_second(prev: u64, cur: u64, elapsed: Duration) -> Option<f64> {
    (cur >= prev && elapsed >= MIN_INTERVAL).then(|| (cur - prev) as f64 / elapsed.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(messages_received: u64, messages_sent: u64, bytes_received: u64) -> Counters {
        Counters {
            started: 1_000,
            messages_received,
            messages_sent,
            bytes_received,
            ..Counters::default()
        }
    }

    #[test]
    fn rates_are_deltas_over_the_measured_interval() {
        let prev = counters(100, 1_000, 10_000);
        let cur = counters(150, 1_200, 12_048);
        let Change::Rates(r) = change(&prev, &cur, Duration::from_millis(500)) else {
            panic!("expected rates");
        };
        assert_eq!(r.messages_in, 100.0);
        assert_eq!(r.messages_out, 400.0);
        assert_eq!(r.bytes_in, 4_096.0);
        assert_eq!(r.dropped, 0.0);
    }

    #[test]
    fn a_counter_going_backwards_is_a_restart_not_a_huge_rate() {
        let prev = counters(5_000, 5_000, 1 << 30);
        let mut cur = counters(3, 2, 100);
        cur.started = 1_000; // even with the same start second
        assert_eq!(
            change(&prev, &cur, Duration::from_secs(1)),
            Change::Restarted
        );
    }

    #[test]
    fn a_new_start_time_is_a_restart_even_when_restored_counters_continue() {
        let prev = counters(5_000, 5_000, 10_000);
        let mut cur = counters(5_010, 5_010, 10_100);
        cur.started = 1_060;
        assert_eq!(
            change(&prev, &cur, Duration::from_secs(1)),
            Change::Restarted
        );
    }

    #[test]
    fn rates_resume_after_a_restart() {
        let before = counters(5_000, 5_000, 10_000);
        let mut after = counters(10, 20, 300);
        after.started = 2_000;
        assert_eq!(
            change(&before, &after, Duration::from_secs(1)),
            Change::Restarted
        );
        let mut next = counters(30, 60, 700);
        next.started = 2_000;
        let Change::Rates(r) = change(&after, &next, Duration::from_secs(2)) else {
            panic!("expected rates after the restart");
        };
        assert_eq!(
            (r.messages_in, r.messages_out, r.bytes_in),
            (10.0, 20.0, 200.0)
        );
    }

    #[test]
    fn polls_too_close_give_no_rate() {
        let c = counters(1, 1, 1);
        assert_eq!(change(&c, &c, Duration::ZERO), Change::TooClose);
        assert_eq!(per_second(1, 2, Duration::ZERO), None);
    }

    #[test]
    fn one_counter() {
        assert_eq!(per_second(100, 300, Duration::from_secs(2)), Some(100.0));
        assert_eq!(per_second(300, 100, Duration::from_secs(2)), None);
    }

    #[test]
    fn sums() {
        let a = Rates {
            messages_in: 1.0,
            bytes_out: 2.0,
            ..Rates::default()
        };
        let s = a.add(&a);
        assert_eq!((s.messages_in, s.bytes_out), (2.0, 4.0));
    }
}
