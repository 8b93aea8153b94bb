//! Claims on client ids while their CONNECTs are under way, so that two CONNECTs of one id on
//! two nodes at the same instant do not both win. A node claims the id (with the time, and its
//! name to break ties) before asking the others about the session, and keeps the claim until
//! the session is open here. A node asked about an id it has claimed itself compares the two
//! claims: the newer one wins, as a newer connection takes a session over. If the asker's is
//! newer, this node's claim is superseded (its CONNECT is refused once it gets that far); if
//! this node's is newer, the asker is told so (`busy`) and refuses its CONNECT. Both sides
//! compare the same two claims, so exactly one wins. A claim is remembered for [`KEEP`] after
//! its CONNECT got its session, so that a request of the losing CONNECT still on its way
//! cannot take the session from the winner (it carries an older claim).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

use crate::broker::cluster_link::Claim;

/// How long a claim is remembered once its CONNECT is done: longer than a takeover request
/// may be on its way. (A client that reconnects to another node sooner than this, through a
/// node whose clock is behind by more than the time between its connections, is refused with
/// 0x89 and retries until then.)
const KEEP: Duration = Duration::from_secs(10);

/// This node's claims, by client id.
#[derive(Debug, Default)]
pub struct Claims {
    me: String,
    held: Arc<Mutex<HashMap<String, Held>>>,
    /// When done claims were last dropped (at most once a second: a reconnect storm must
    /// not scan the map for every CONNECT).
    swept: Mutex<Option<Instant>>,
}

#[derive(Debug)]
struct Held {
    at: u64,
    superseded: Arc<AtomicBool>,
    /// When its CONNECT was done; `None` while under way.
    done: Option<Instant>,
}

impl Claims {
    /// The claims of node `me`.
    pub fn new(me: &str) -> Claims {
        Claims {
            me: me.to_string(),
            held: Arc::default(),
            swept: Mutex::new(None),
        }
    }

    /// Claims `client_id` now, until the returned claim is dropped.
    pub fn claim(&self, client_id: &str) -> Claim {
        let at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        let superseded = Arc::new(AtomicBool::new(false));
        {
            let mut held = self.held.lock();
            let mut swept = self.swept.lock();
            if swept.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                held.retain(|_, h| h.done.is_none_or(|t| t.elapsed() < KEEP));
                *swept = Some(Instant::now());
            }
            held.insert(
                client_id.to_string(),
                Held {
                    at,
                    superseded: superseded.clone(),
                    done: None,
                },
            );
        }
        let (held, id) = (self.held.clone(), client_id.to_string());
        Claim::new(
            at,
            superseded,
            Box::new(move || {
                let mut held = held.lock();
                // A newer CONNECT of the same id on this node may hold it now.
                if let Some(h) = held.get_mut(&id).filter(|h| h.at == at) {
                    if h.superseded.load(Ordering::Acquire) {
                        held.remove(&id);
                    } else {
                        h.done = Some(Instant::now());
                    }
                }
            }),
        )
    }

    /// Node `node` claims `client_id` since `at`: true if this node's own claim on it is
    /// newer (the asker loses); otherwise this node's claim, if any, is superseded.
    pub fn contest(&self, client_id: &str, at: u64, node: &str) -> bool {
        if at == 0 {
            return false;
        }
        let held = self.held.lock();
        let Some(mine) = held
            .get(client_id)
            .filter(|h| h.done.is_none_or(|t| t.elapsed() < KEEP))
        else {
            return false;
        };
        if (mine.at, self.me.as_str()) > (at, node) {
            true
        } else {
            mine.superseded.store(true, Ordering::Release);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newer_claim_wins_on_both_sides() {
        let (a, b) = (Claims::new("a"), Claims::new("b"));
        let first = a.claim("x");
        let second = b.claim("x");
        assert!(second.at() >= first.at());
        // b asks a: a's claim is older, so it is superseded and b goes on.
        assert!(!a.contest("x", second.at(), "b"));
        assert!(first.superseded());
        // a asks b: b's claim is newer, so a is told it loses.
        assert!(b.contest("x", first.at(), "a"));
        assert!(!second.superseded());
    }

    #[test]
    fn equal_times_are_decided_by_node_name_and_dropped_claims_are_gone() {
        let a = Claims::new("a");
        let claim = a.claim("x");
        let at = claim.at();
        assert!(!a.contest("x", at, "b"), "b > a");
        assert!(claim.superseded());
        drop(claim);
        assert!(!a.contest("x", u64::MAX, "z"));
        assert!(a.held.lock().is_empty(), "a superseded claim is not kept");
    }

    #[test]
    fn a_newer_local_claim_is_not_removed_by_an_older_one_ending() {
        let a = Claims::new("a");
        let old = a.claim("x");
        std::thread::sleep(std::time::Duration::from_millis(1));
        let new = a.claim("x");
        drop(old);
        assert!(a.contest("x", 1, "b"), "the newer claim is still held");
        drop(new);
        assert!(
            a.contest("x", 1, "b"),
            "and kept a while after its CONNECT is done"
        );
    }

    #[test]
    fn a_request_of_the_loser_still_on_its_way_after_the_winner_is_done_loses() {
        let (a, b) = (Claims::new("a"), Claims::new("b"));
        let older = a.claim("x");
        let newer = b.claim("x");
        assert!(!a.contest("x", newer.at(), "b"));
        drop(newer); // b's CONNECT is done: b has the session.
        assert!(
            b.contest("x", older.at(), "a"),
            "a's late request must not take it"
        );
        // A later CONNECT elsewhere takes it over as usual.
        let later = Claims::new("c").claim("x");
        assert!(!b.contest("x", later.at(), "c"));
    }
}
