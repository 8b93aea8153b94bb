//! A client's inbound rate limit (`mqtt.options.limits.client-messages-per-second` and
//! `client-bytes-per-second`): token buckets holding one second's worth, refilled as time
//! passes. When a bucket is empty the connection stops reading until it has refilled
//! (back-pressure through TCP: nothing the client sent is lost, it just waits); each such
//! pause is counted (`comqtt_clients_throttled_total`).

use std::time::{Duration, Instant};

/// The per-client rates (0: no limit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rates {
    /// PUBLISH packets per second.
    pub messages: u32,
    /// Bytes read per second.
    pub bytes: u64,
    /// Over a rate, disconnect (v5 DISCONNECT 0x96 Message rate too high) instead of slowing
    /// the client down.
    pub disconnect: bool,
}

impl Rates {
    /// Whether any rate is limited.
    pub fn any(&self) -> bool {
        self.messages > 0 || self.bytes > 0
    }
}

/// One client's buckets.
#[derive(Debug)]
pub struct Bucket {
    rates: Rates,
    messages: f64,
    bytes: f64,
    refilled: Instant,
}

impl Bucket {
    /// Whether going over disconnects the client.
    pub fn disconnects(&self) -> bool {
        self.rates.disconnect
    }

    /// Full buckets for `rates`; `None` when nothing is limited.
    pub fn new(rates: Rates) -> Option<Bucket> {
        rates.any().then(|| Bucket {
            rates,
            messages: rates.messages as f64,
            bytes: rates.bytes as f64,
            refilled: Instant::now(),
        })
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.refilled = now;
        if self.rates.messages > 0 {
            let cap = self.rates.messages as f64;
            self.messages = (self.messages + elapsed * cap).min(cap);
        }
        if self.rates.bytes > 0 {
            let cap = self.rates.bytes as f64;
            self.bytes = (self.bytes + elapsed * cap).min(cap);
        }
    }

    /// Takes one message; returns how long reading must pause, if the bucket is empty.
    pub fn take_message(&mut self, now: Instant) -> Option<Duration> {
        if self.rates.messages == 0 {
            return None;
        }
        self.refill(now);
        self.messages -= 1.0;
        self.wait()
    }

    /// Takes `n` bytes; returns how long reading must pause, if the bucket is empty.
    pub fn take_bytes(&mut self, n: usize, now: Instant) -> Option<Duration> {
        if self.rates.bytes == 0 {
            return None;
        }
        self.refill(now);
        self.bytes -= n as f64;
        self.wait()
    }

    /// Until both buckets are back above zero.
    fn wait(&self) -> Option<Duration> {
        let mut secs: f64 = 0.0;
        if self.rates.messages > 0 && self.messages < 0.0 {
            secs = secs.max(-self.messages / self.rates.messages as f64);
        }
        if self.rates.bytes > 0 && self.bytes < 0.0 {
            secs = secs.max(-self.bytes / self.rates.bytes as f64);
        }
        (secs > 0.0).then(|| Duration::from_secs_f64(secs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_worth_passes_then_the_wait_matches_the_rate() {
        assert!(Bucket::new(Rates::default()).is_none());
        let mut b = Bucket::new(Rates {
            messages: 10,
            ..Rates::default()
        })
        .unwrap();
        let t = Instant::now();
        for _ in 0..10 {
            assert_eq!(b.take_message(t), None);
        }
        let wait = b.take_message(t).expect("the eleventh waits");
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-6, "{wait:?}");
        // 0.6 s later five more fit (one was owed).
        let later = t + Duration::from_millis(600);
        for _ in 0..5 {
            assert_eq!(b.take_message(later), None);
        }
        assert!(b.take_message(later).is_some());
    }

    #[test]
    fn bytes_are_limited_too() {
        let mut b = Bucket::new(Rates {
            bytes: 1000,
            ..Rates::default()
        })
        .unwrap();
        let t = Instant::now();
        assert_eq!(b.take_bytes(1000, t), None);
        let wait = b.take_bytes(500, t).unwrap();
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-6);
        assert_eq!(b.take_message(t), None, "messages are not limited");
    }
}
