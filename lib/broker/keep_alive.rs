//! Keep alive for every connection from one coarse timer `[MQTT-3.1.2-24]`: a connection
//! publishes the deadline of its keep alive in its [`Kick`] (one relaxed store per read), and a
//! timing wheel looks at each connection once per deadline, not once per packet. A
//! connection's deadline that passed gets a kick with 0x8D Keep alive timeout; one that moved
//! on goes into the slot of its new deadline. Connections hold no timer of their own.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::sessions::Kick;
use crate::mqtt::ReasonCode;

/// The wheel's resolution: a silent client is disconnected at most this much (plus the
/// ticker's scheduling delay) after one and a half keep alive intervals, never before.
pub const TICK: Duration = Duration::from_millis(250);
const TICK_MS: u64 = TICK.as_millis() as u64;
/// Slots of the wheel (one minute at 250 ms); a deadline further out is looked at again when
/// its slot comes round.
const SLOTS: u64 = 256;
/// How often a connection whose reading the broker paused is looked at again.
const PAUSED_RECHECK_TICKS: u64 = 4;

/// A deadline meaning "no keep alive" (the client asked for none, or the connection ended).
pub const NONE: u64 = 0;
/// A deadline meaning "the broker is not reading this client" (rate limit, congested
/// cluster): its silence is not its own, so it does not time out meanwhile.
pub const PAUSED: u64 = u64::MAX;

/// The broker's keep-alive timer.
#[derive(Debug)]
pub struct KeepAlive {
    /// Deadlines count milliseconds from here.
    start: Instant,
    wheel: Mutex<Wheel>,
}

impl Default for KeepAlive {
    fn default() -> KeepAlive {
        KeepAlive {
            start: Instant::now(),
            wheel: Mutex::new(Wheel::default()),
        }
    }
}

impl KeepAlive {
    /// Milliseconds on the keep-alive clock (never [`NONE`]).
    pub fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64 + 1
    }

    /// The deadline of a client that was heard from now, with `period` (1.5 keep alive).
    pub fn deadline_after(&self, period: Duration) -> u64 {
        self.now_ms() + period.as_millis() as u64
    }

    /// Has the wheel watch `kick`'s deadline (set it first). The ticker runs on the caller's
    /// runtime: started by the first call, and again by the next one if its runtime ended (a
    /// broker outliving a runtime); it stops once the broker is gone.
    pub fn watch(self: &Arc<Self>, kick: &Arc<Kick>) {
        let deadline = kick.keep_alive_deadline();
        let mut wheel = self.wheel.lock();
        if wheel.ticker.as_ref().is_none_or(|t| t.is_finished()) {
            wheel.ticker = Some(tokio::spawn(run(Arc::downgrade(self))));
        }
        wheel.insert(Arc::downgrade(kick), deadline);
    }

    /// Takes the connections whose deadline passed by `now_ms`.
    fn expire(&self, now_ms: u64) -> Vec<Arc<Kick>> {
        self.wheel.lock().expire(now_ms)
    }
}

/// Ticks until the broker is gone, kicking the connections whose keep alive ran out.
async fn run(keep_alive: Weak<KeepAlive>) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(keep_alive) = keep_alive.upgrade() else {
            return;
        };
        for kick in keep_alive.expire(keep_alive.now_ms()) {
            kick.send(ReasonCode::KEEP_ALIVE_TIMEOUT);
        }
    }
}

/// Connections by the tick of their deadline (as of when they were put in). Held weakly: a
/// connection that ended is gone from the wheel at once in all but its entry (its task, kept
/// alive by the waker in its kick, is not).
#[derive(Debug)]
struct Wheel {
    slots: Vec<Vec<Weak<Kick>>>,
    /// The first tick not yet looked at.
    next: u64,
    /// The ticker task.
    ticker: Option<tokio::task::JoinHandle<()>>,
}

impl Default for Wheel {
    fn default() -> Wheel {
        Wheel {
            slots: (0..SLOTS).map(|_| Vec::new()).collect(),
            next: 0,
            ticker: None,
        }
    }
}

impl Wheel {
    /// Puts `kick` in the slot of `deadline` (ms), or the furthest slot if it is beyond the
    /// wheel, or the next slot if it already passed.
    fn insert(&mut self, kick: Weak<Kick>, deadline: u64) {
        let tick = deadline
            .div_ceil(TICK_MS)
            .clamp(self.next, self.next + SLOTS - 1);
        self.slots[(tick % SLOTS) as usize].push(kick);
    }

    /// Looks at every slot up to `now_ms`: returns the connections whose deadline passed,
    /// drops those that ended or have no keep alive, and moves the others to the slot of
    /// their deadline.
    fn expire(&mut self, now_ms: u64) -> Vec<Arc<Kick>> {
        let mut due = Vec::new();
        let now_tick = now_ms / TICK_MS;
        // A wheel left alone for longer than a turn needs each slot once.
        let first = self.next.max(now_tick.saturating_sub(SLOTS - 1));
        for tick in first..=now_tick {
            self.next = tick + 1;
            let slot = std::mem::take(&mut self.slots[(tick % SLOTS) as usize]);
            for entry in slot {
                // Gone: the connection ended.
                let Some(kick) = entry.upgrade() else {
                    continue;
                };
                match kick.keep_alive_deadline() {
                    NONE => {}
                    PAUSED => self.insert(entry, (tick + PAUSED_RECHECK_TICKS) * TICK_MS),
                    d if d <= now_ms => due.push(kick),
                    d => self.insert(entry, d),
                }
            }
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Wheel {
        /// Connections in the slots.
        fn len(&self) -> usize {
            self.slots.iter().map(Vec::len).sum()
        }
    }

    fn kick(deadline: u64) -> Arc<Kick> {
        let k = Arc::new(Kick::default());
        k.set_keep_alive_deadline(deadline);
        k
    }

    #[test]
    fn a_connection_is_due_once_its_deadline_passed_and_not_before() {
        let mut wheel = Wheel::default();
        let k = kick(1_500);
        wheel.insert(Arc::downgrade(&k), 1_500);
        assert!(wheel.expire(1_499).is_empty());
        let due = wheel.expire(1_500);
        assert_eq!(due.len(), 1);
        assert!(Arc::ptr_eq(&due[0], &k));
        assert_eq!(wheel.len(), 0);
    }

    #[test]
    fn a_connection_heard_from_again_moves_to_its_new_deadline() {
        let mut wheel = Wheel::default();
        let k = kick(1_500);
        wheel.insert(Arc::downgrade(&k), 1_500);
        k.set_keep_alive_deadline(2_800);
        assert!(wheel.expire(1_600).is_empty(), "moved on");
        assert_eq!(wheel.len(), 1);
        // Due at the first tick at or after the deadline.
        assert!(wheel.expire(2_999).is_empty());
        assert_eq!(wheel.expire(3_000).len(), 1);
    }

    #[test]
    fn deadlines_beyond_the_wheel_and_a_late_ticker_are_handled() {
        let mut wheel = Wheel::default();
        // 98 minutes (keep alive 65,535 s is 27 hours; the same path).
        let far = 98 * 60 * 1000;
        let k = kick(far);
        wheel.insert(Arc::downgrade(&k), far);
        let mut now = 0;
        while now + 7 * TICK_MS < far {
            now += 7 * TICK_MS;
            assert!(wheel.expire(now).is_empty(), "not due at {now}");
        }
        // The ticker was held up for longer than a whole turn of the wheel.
        assert_eq!(wheel.expire(far + 10 * SLOTS * TICK_MS).len(), 1);
    }

    #[test]
    fn ended_unwatched_and_paused_connections_are_not_kicked() {
        let mut wheel = Wheel::default();
        let ended = kick(500);
        wheel.insert(Arc::downgrade(&ended), 500);
        drop(ended);
        let none = kick(500);
        wheel.insert(Arc::downgrade(&none), 500);
        none.set_keep_alive_deadline(NONE);
        let paused = kick(500);
        wheel.insert(Arc::downgrade(&paused), 500);
        paused.set_keep_alive_deadline(PAUSED);
        assert!(wheel.expire(10_000).is_empty());
        assert_eq!(wheel.len(), 1, "only the paused one is still watched");
        paused.set_keep_alive_deadline(10_100);
        assert!(wheel.expire(10_099).is_empty());
        assert_eq!(wheel.expire(11_000).len(), 1);
        assert_eq!(wheel.len(), 0);
    }
}
