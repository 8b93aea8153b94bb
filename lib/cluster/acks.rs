//! Tickets of forwarded QoS 1/2 messages: each is done once every node it went to has
//! acknowledged it (or, without a shared store to park messages in, after [`GIVE_UP`], so a
//! node that is away delays a publisher's PUBACK only so long; the message stays queued for
//! it). Tickets complete one by one, in any order: a publisher waits for its own tickets
//! only, so a node that is frozen or slow holds up the publishers whose messages went to it
//! and no one else. The watch channel is a generation, bumped whenever tickets complete.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::watch;

/// A publisher's PUBACK waits at most this long for other nodes (when given up on at all).
pub const GIVE_UP: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Pending {
    /// Last ticket issued.
    last: u64,
    /// Tickets not done: acknowledgements still missing.
    open: HashMap<u64, u32>,
    /// When each ticket was issued, oldest first (done ones leave as they reach the front).
    issued: VecDeque<(u64, Instant)>,
}

/// The tickets of one node.
pub struct Acks {
    pending: Mutex<Pending>,
    /// Bumped whenever tickets complete.
    done: watch::Sender<u64>,
}

impl Default for Acks {
    fn default() -> Self {
        Acks {
            pending: Mutex::default(),
            done: watch::channel(0).0,
        }
    }
}

impl Acks {
    /// A ticket done once `nodes` acknowledgements came (0 nodes: none needed).
    pub fn issue(&self, nodes: u32) -> u64 {
        if nodes == 0 {
            return 0;
        }
        let mut p = self.pending.lock();
        p.last += 1;
        let t = p.last;
        p.open.insert(t, nodes);
        p.issued.push_back((t, Instant::now()));
        t
    }

    /// One node acknowledged `ticket`.
    pub fn acknowledge(&self, ticket: u64) {
        self.acknowledge_all([ticket]);
    }

    /// One node acknowledged each of `tickets` (waiters are woken once).
    pub fn acknowledge_all(&self, tickets: impl IntoIterator<Item = u64>) {
        let mut completed = false;
        {
            let mut p = self.pending.lock();
            for ticket in tickets {
                if let Some(n) = p.open.get_mut(&ticket) {
                    *n -= 1;
                    if *n == 0 {
                        p.open.remove(&ticket);
                        completed = true;
                    }
                }
            }
            trim(&mut p);
        }
        if completed {
            self.bump();
        }
    }

    /// Gives up waiting for tickets older than [`GIVE_UP`].
    pub fn expire(&self, now: Instant) {
        let mut completed = false;
        {
            let mut p = self.pending.lock();
            while let Some(&(t, at)) = p.issued.front() {
                if now.duration_since(at) < GIVE_UP {
                    break;
                }
                p.issued.pop_front();
                completed |= p.open.remove(&t).is_some();
            }
        }
        if completed {
            self.bump();
        }
    }

    fn bump(&self) {
        self.done.send_modify(|g| *g = g.wrapping_add(1));
    }

    /// Changes whenever tickets complete.
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.done.subscribe()
    }

    /// True once `ticket` is done.
    pub fn is_done(&self, ticket: u64) -> bool {
        let p = self.pending.lock();
        ticket <= p.last && !p.open.contains_key(&ticket)
    }

    /// Keeps only the tickets of `tickets` that are not done yet (one lock for all).
    pub fn retain_open(&self, tickets: &mut Vec<u64>) {
        let p = self.pending.lock();
        tickets.retain(|t| *t > p.last || p.open.contains_key(t));
    }

    /// Number of tickets still open.
    pub fn open(&self) -> usize {
        self.pending.lock().open.len()
    }
}

/// Drops done tickets from the front of the issue order.
fn trim(p: &mut Pending) {
    while let Some(&(t, _)) = p.issued.front() {
        if p.open.contains_key(&t) {
            break;
        }
        p.issued.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_complete_on_their_own_in_any_order() {
        let acks = Acks::default();
        let mut generation = acks.watch();
        let a = acks.issue(2);
        let b = acks.issue(1);
        assert_eq!(acks.issue(0), 0, "nothing to wait for");
        assert!(acks.is_done(0));
        acks.acknowledge(b);
        assert!(
            acks.is_done(b),
            "b does not wait behind a (a node that is slow for a)"
        );
        assert!(generation.has_changed().unwrap());
        generation.borrow_and_update();
        acks.acknowledge(a);
        assert!(!acks.is_done(a), "a needs two");
        assert!(!generation.has_changed().unwrap(), "nothing completed");
        acks.acknowledge(a);
        assert!(acks.is_done(a));
        assert!(!acks.is_done(b + 1), "not issued yet");
    }

    #[test]
    fn old_tickets_are_given_up_on() {
        let acks = Acks::default();
        let a = acks.issue(1);
        acks.expire(Instant::now());
        assert!(!acks.is_done(a));
        acks.expire(Instant::now() + GIVE_UP + Duration::from_millis(1));
        assert!(acks.is_done(a));
        acks.acknowledge(a);
        assert!(acks.is_done(a), "a late acknowledgement changes nothing");
    }
}
