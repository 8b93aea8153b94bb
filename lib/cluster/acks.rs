//! Tickets of forwarded QoS 1/2 messages: each is done once every node it went to has
//! acknowledged it (or after [`GIVE_UP`], so a node that is away delays a publisher's PUBACK
//! only so long; the message stays queued for it). Completions come in any order; the
//! watermark — every ticket up to it is done — is what publishers' connections wait on, as
//! they wait on the store's commits.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::watch;

/// A publisher's PUBACK waits at most this long for other nodes.
pub const GIVE_UP: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Pending {
    /// Last ticket issued.
    last: u64,
    /// Tickets not done: acknowledgements still missing.
    open: BTreeMap<u64, u32>,
    /// When each open ticket was issued, oldest first.
    issued: VecDeque<(u64, Instant)>,
}

/// The tickets of one node.
pub struct Acks {
    pending: Mutex<Pending>,
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
        if ticket == 0 {
            return;
        }
        let mut p = self.pending.lock();
        if let Some(n) = p.open.get_mut(&ticket) {
            *n -= 1;
            if *n == 0 {
                p.open.remove(&ticket);
            }
        }
        self.advance(&mut p);
    }

    /// Gives up waiting for tickets older than [`GIVE_UP`].
    pub fn expire(&self, now: Instant) {
        let mut p = self.pending.lock();
        while let Some(&(t, at)) = p.issued.front() {
            if now.duration_since(at) < GIVE_UP {
                break;
            }
            p.issued.pop_front();
            p.open.remove(&t);
        }
        self.advance(&mut p);
    }

    fn advance(&self, p: &mut Pending) {
        let watermark = match p.open.keys().next() {
            Some(first) => first - 1,
            None => p.last,
        };
        while p.issued.front().is_some_and(|(t, _)| *t <= watermark) {
            p.issued.pop_front();
        }
        self.done.send_if_modified(|d| {
            let moved = watermark > *d;
            *d = (*d).max(watermark);
            moved
        });
    }

    /// The watermark, watched.
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.done.subscribe()
    }

    /// True once `ticket` is done.
    pub fn is_done(&self, ticket: u64) -> bool {
        *self.done.borrow() >= ticket
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watermark_follows_out_of_order_acknowledgements() {
        let acks = Acks::default();
        let a = acks.issue(2);
        let b = acks.issue(1);
        assert_eq!(acks.issue(0), 0, "nothing to wait for");
        acks.acknowledge(b);
        assert!(!acks.is_done(a) && !acks.is_done(b), "b waits behind a");
        acks.acknowledge(a);
        assert!(!acks.is_done(a), "a needs two");
        acks.acknowledge(a);
        assert!(acks.is_done(b));
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
