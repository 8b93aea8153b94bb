//! The raft leader's other duty, with a store shared by the nodes (Redis): settling the
//! sessions of nodes that are gone. A node that died with clients connected leaves their
//! session records "online", with their wills; a node that does not come back leaves records
//! nobody would ever expire. Once a node has been gone for [`GONE_FOR`], the leader marks its
//! connected sessions disconnected (as of when this leader first saw the node gone; a new
//! leader starts counting again), publishes each will when it
//! is due (its delay, or the session's end), and ends each session when its expiry passes.
//! Every change is a compare-and-set on the record: a client that came back meanwhile (its
//! session adopted by another node) is left alone, and a will is published only by the
//! change that removed it from the record, so at most once.
//!
//! The records are read when this node becomes leader, when a node leaves gossip's live
//! members, and every [`RESCAN`]; what is due later is kept in memory, soonest first.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::membership::{Member, MemberStatus};
use super::raft::Raft;
use super::raft::state_machine::Replicated;
use super::routes::RouteCommand;
use crate::broker::Broker;
use crate::broker::sessions::NEVER_EXPIRES;
use crate::shutdown::Shutdown;
use crate::storage::record::{SessionRecord, now_unix};
use crate::storage::{Settled, SharedRecord, SharedSessions};

/// Seconds a node must have been gone (dead in gossip, or unknown to it) before its sessions
/// are settled by the leader: a node that restarts sooner settles its own.
pub const GONE_FOR: u64 = 30;
/// How often due steps are taken.
const TICK: Duration = Duration::from_secs(1);
/// How often all records are read again anyway.
const RESCAN: Duration = Duration::from_secs(600);
/// Seconds before a step the store failed is tried again.
const RETRY: u64 = 10;
/// Steps taken per tick at most (the rest wait for the next one).
const PER_TICK: usize = 5_000;
/// How often the routes of nodes that are gone are checked for sessions they still hold.
const ROUTES_CHECK: Duration = Duration::from_secs(30);

/// What is done next to an orphaned session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Its node died while the client was connected: disconnected when the node went.
    Disconnect,
    /// Its will is due (the will delay passed, or the session ends first).
    Will,
    /// Its expiry passed.
    End,
}

/// When (unix seconds) and what the next step of an orphaned session is, if any, for a
/// node gone since `gone_since`.
pub fn next_step(record: &SessionRecord, gone_since: u64) -> Option<(u64, Step)> {
    let earliest = gone_since.saturating_add(GONE_FOR);
    if record.online {
        return Some((earliest, Step::Disconnect));
    }
    let expiry = (record.expiry_interval != NEVER_EXPIRES).then(|| {
        record
            .last_seen
            .saturating_add(record.expiry_interval as u64)
    });
    if let Some((delay, _)) = &record.will {
        let will = record.last_seen.saturating_add(*delay as u64);
        let at = expiry.map_or(will, |e| e.min(will));
        return Some((at.max(earliest), Step::Will));
    }
    expiry.map(|e| (e.max(earliest), Step::End))
}

/// The record after `step` at `now`: `None` when the session ends.
fn after(step: Step, record: &SessionRecord, gone_since: u64, now: u64) -> Option<SessionRecord> {
    let expired = |r: &SessionRecord| {
        r.expiry_interval != NEVER_EXPIRES
            && now >= r.last_seen.saturating_add(r.expiry_interval as u64)
    };
    match step {
        Step::Disconnect => Some(SessionRecord {
            online: false,
            last_seen: gone_since.min(now),
            ..record.clone()
        }),
        Step::Will if expired(record) => None,
        Step::Will => Some(SessionRecord {
            will: None,
            ..record.clone()
        }),
        Step::End => None,
    }
}

/// A step waiting for its time.
struct Due {
    seen: SharedRecord,
    step: Step,
    gone_since: u64,
}

/// What the leader knows between ticks.
#[derive(Default)]
struct Sweep {
    /// When each node that owns records was first seen gone by this leader.
    gone_since: HashMap<String, u64>,
    /// Nodes live in gossip at the previous tick.
    alive: HashSet<String>,
    /// When the records were last read.
    scanned: Option<Instant>,
    /// Steps by when they are due (unix seconds) and client id.
    due: BTreeMap<(u64, String), Due>,
}

impl Sweep {
    /// Plans the next step of `seen` if its owner is gone.
    fn plan(&mut self, seen: SharedRecord, alive: &HashSet<String>, now: u64) {
        let Some(owner) = seen.owner.clone().filter(|o| !alive.contains(o)) else {
            return;
        };
        let gone_since = *self.gone_since.entry(owner).or_insert(now);
        let next = next_step(&seen.record, gone_since);
        tracing::debug!(client_id = %seen.client_id, ?next, "session of a node that is gone");
        if let Some((at, step)) = next {
            let key = (at, seen.client_id.clone());
            self.due.insert(
                key,
                Due {
                    seen,
                    step,
                    gone_since,
                },
            );
        }
    }
}

/// Runs on every node; acts only while this node leads and the broker's store is shared.
pub async fn run(
    me: u64,
    raft: Raft,
    live: watch::Receiver<Vec<Member>>,
    broker: Weak<Broker>,
    replicated: Arc<Replicated>,
    mut shutdown: Shutdown,
) {
    let mut sweep = Sweep::default();
    let mut routes_checked = Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = shutdown.wait() => return,
        }
        let Some(broker) = broker.upgrade() else {
            return;
        };
        let Some(shared) = broker.shared_sessions() else {
            return;
        };
        if raft.metrics().borrow().current_leader != Some(me) {
            sweep = Sweep::default();
            continue;
        }
        // The live members (a leaving node is still running: it records its own sessions
        // as it stops).
        let alive: HashSet<String> = live
            .borrow()
            .iter()
            .filter(|m| m.status != MemberStatus::Dead)
            .map(|m| m.name.clone())
            .collect();
        let now = now_unix();
        sweep.gone_since.retain(|node, _| !alive.contains(node));
        let someone_went = sweep.alive.iter().any(|n| !alive.contains(n));
        sweep.alive = alive.clone();
        if sweep.scanned.is_none_or(|t| t.elapsed() >= RESCAN) || someone_went {
            sweep.scanned = Some(Instant::now());
            let reader = shared.clone();
            match tokio::task::spawn_blocking(move || reader.records()).await {
                Ok(Ok(records)) => {
                    sweep.due.clear();
                    for seen in records {
                        sweep.plan(seen, &alive, now);
                    }
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "reading the shared sessions failed; retrying later");
                    sweep.scanned = None;
                }
                Err(_) => return,
            }
        }
        if routes_checked.elapsed() >= ROUTES_CHECK {
            routes_checked = Instant::now();
            drop_routes_of_empty_nodes(&raft, &replicated, shared.clone(), &alive).await;
        }
        let mut steps = Vec::new();
        while steps.len() < PER_TICK
            && let Some(entry) = sweep.due.first_entry()
            && entry.key().0 <= now
        {
            let due = entry.remove();
            // Its node came back: it settles its own sessions.
            if due.seen.owner.as_ref().is_some_and(|o| alive.contains(o)) {
                continue;
            }
            steps.push(due);
        }
        if steps.is_empty() {
            continue;
        }
        let settled = settle(shared, steps, now).await;
        let (mut disconnected, mut wills, mut ended) = (0, 0, 0);
        for (due, outcome) in settled {
            let Some(outcome) = outcome else {
                // The store failed (logged): tried again a little later.
                let key = (now + RETRY, due.seen.client_id.clone());
                sweep.due.insert(key, due);
                continue;
            };
            match outcome {
                Settled::Changed => {
                    tracing::debug!(client_id = %due.seen.client_id, step = ?due.step, "session record changed since it was read: left alone");
                    continue;
                }
                Settled::Ended => ended += 1,
                Settled::Replaced(next) => {
                    if due.step == Step::Disconnect {
                        disconnected += 1;
                    }
                    sweep.plan(*next, &alive, now);
                }
            }
            if due.step == Step::Will
                && let Some((_, will)) = due.seen.record.will.clone()
            {
                wills += 1;
                broker.publish(will);
            }
        }
        if disconnected + wills + ended > 0 {
            tracing::info!(
                disconnected,
                wills,
                ended,
                "settled sessions of nodes that are gone"
            );
        }
    }
}

/// The routes of a node that is gone and holds no persistent session in the shared store
/// any more (its sessions moved, ended or expired) are dropped: until then they are what
/// parks messages for those sessions.
async fn drop_routes_of_empty_nodes(
    raft: &Raft,
    replicated: &Replicated,
    shared: Arc<dyn SharedSessions>,
    alive: &HashSet<String>,
) {
    let gone: Vec<String> = replicated
        .routes
        .read()
        .nodes()
        .into_iter()
        .filter(|n| !alive.contains(n))
        .collect();
    if gone.is_empty() {
        return;
    }
    let reader = shared.clone();
    let records = match tokio::task::spawn_blocking(move || reader.records()).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "reading the shared sessions failed; routes checked later");
            return;
        }
        Err(_) => return,
    };
    let holding: HashSet<String> = records
        .into_iter()
        .filter(|r| r.record.expiry_interval > 0)
        .filter_map(|r| r.owner)
        .collect();
    for node in gone.into_iter().filter(|n| !holding.contains(n)) {
        match raft
            .client_write(RouteCommand::NodeLeft { node: node.clone() })
            .await
        {
            Ok(_) => {
                tracing::info!(%node, "routes of a node that is gone and holds no session dropped");
                let (shared, name) = (shared.clone(), node.clone());
                let _ = tokio::task::spawn_blocking(move || shared.forget_moves(&name)).await;
            }
            Err(e) => {
                tracing::debug!(%node, error = %e, "dropping the routes of a node that is gone failed")
            }
        }
    }
}

/// Takes `steps` in the store (off the runtime); each with what came of it (`None`: the
/// store failed).
async fn settle(
    shared: Arc<dyn SharedSessions>,
    steps: Vec<Due>,
    now: u64,
) -> Vec<(Due, Option<Settled>)> {
    let taken = tokio::task::spawn_blocking(move || {
        steps
            .into_iter()
            .map(|due| {
                let next = after(due.step, &due.seen.record, due.gone_since, now);
                match shared.settle(&due.seen, next.as_ref()) {
                    Ok(outcome) => (due, Some(outcome)),
                    Err(e) => {
                        tracing::warn!(client_id = %due.seen.client_id, error = %e, "settling a session of a node that is gone failed");
                        (due, None)
                    }
                }
            })
            .collect()
    })
    .await;
    taken.unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::message::Message;
    use crate::mqtt::{Publish, QoS};

    fn record(online: bool, last_seen: u64, expiry: u32, will: Option<u32>) -> SessionRecord {
        let will = will.map(|delay| {
            let p = Publish::new("w", QoS::AtMostOnce, &b"gone"[..]);
            (delay, Message::from_publish(p, None, 0))
        });
        SessionRecord {
            expiry_interval: expiry,
            last_seen,
            online,
            protocol_level: 5,
            will,
        }
    }

    #[test]
    fn a_connected_session_is_disconnected_once_its_node_has_been_gone_long_enough() {
        let r = record(true, 100, 3600, Some(0));
        assert_eq!(
            next_step(&r, 1000),
            Some((1000 + GONE_FOR, Step::Disconnect))
        );
        let next = after(Step::Disconnect, &r, 1000, 1000 + GONE_FOR).unwrap();
        assert!(!next.online);
        assert_eq!(next.last_seen, 1000, "disconnected when the node went");
        // Then the will (no delay) is due at once, and the session an hour after.
        assert_eq!(next_step(&next, 1000), Some((1000 + GONE_FOR, Step::Will)));
        let next = after(Step::Will, &next, 1000, 1000 + GONE_FOR).unwrap();
        assert!(next.will.is_none());
        assert_eq!(next_step(&next, 1000), Some((4600, Step::End)));
        assert!(after(Step::End, &next, 1000, 4600).is_none());
    }

    #[test]
    fn a_will_waits_for_its_delay_unless_the_session_ends_first() {
        let delayed = record(false, 1000, 3600, Some(120));
        assert_eq!(next_step(&delayed, 1000), Some((1120, Step::Will)));
        let short = record(false, 1000, 60, Some(120));
        assert_eq!(next_step(&short, 1000), Some((1060, Step::Will)));
        // Published when the session ends: the session ends with it.
        assert!(after(Step::Will, &short, 1000, 1060).is_none());
    }

    #[test]
    fn nothing_happens_before_the_node_has_been_gone_for_a_while_or_to_a_session_that_never_expires()
     {
        let expired_long_ago = record(false, 10, 5, None);
        assert_eq!(
            next_step(&expired_long_ago, 1000),
            Some((1000 + GONE_FOR, Step::End))
        );
        let forever = record(false, 10, NEVER_EXPIRES, None);
        assert_eq!(next_step(&forever, 1000), None);
    }

    #[test]
    fn only_records_of_nodes_that_are_gone_are_planned() {
        let mut sweep = Sweep::default();
        let alive: HashSet<String> = ["a".to_string()].into();
        let shared = |id: &str, owner: Option<&str>| SharedRecord {
            client_id: id.into(),
            record: record(false, 10, 5, None),
            owner: owner.map(String::from),
            raw: Vec::new(),
        };
        sweep.plan(shared("mine", Some("a")), &alive, 1000);
        sweep.plan(shared("single-node", None), &alive, 1000);
        sweep.plan(shared("orphan", Some("b")), &alive, 1000);
        let ids: Vec<&str> = sweep.due.keys().map(|(_, id)| id.as_str()).collect();
        assert_eq!(ids, ["orphan"]);
        assert_eq!(sweep.gone_since["b"], 1000);
    }
}
