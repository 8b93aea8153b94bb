//! The raft leader's duty: raft membership follows gossip. A node that gossip shows alive
//! and raft does not know is added (as a learner, then a voter); a member that gossip shows
//! leaving, or that has been gone for a few seconds, is removed and its routes are dropped. A
//! learner becomes a voter only once it has caught up with the log (one raft cannot reach must
//! not count towards the quorum).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use openraft::ChangeMembers;
use tokio::sync::watch;

use super::membership::{Member, MemberStatus};
use super::raft::{Raft, RaftMember};
use super::routes::RouteCommand;
use crate::shutdown::Shutdown;

/// A member gone from gossip this long leaves the raft cluster (a short gossip hiccup must
/// not cost a node its routes).
pub const REMOVE_AFTER: Duration = Duration::from_secs(10);
/// How long one membership change may take before the next tick tries again (a node alive
/// in gossip but unreachable over raft must not stall this loop).
const CHANGE_TIMEOUT: Duration = Duration::from_secs(10);

/// Log entries a learner may still miss and be promoted.
const CATCH_UP: u64 = 100;

/// True if a learner that has matched the leader's log up to `matched` is close enough to
/// `last` (the leader's last index) to become a voter.
fn caught_up(matched: Option<u64>, last: u64) -> bool {
    matched.is_some_and(|m| m.saturating_add(CATCH_UP) >= last)
}

/// A membership change, given up on after [`CHANGE_TIMEOUT`].
async fn bounded<T, E: std::fmt::Display>(
    change: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(CHANGE_TIMEOUT, change).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out".into()),
    }
}

/// Runs on every node; acts only while this node leads.
/// With `keep_routes` (a store shared by the nodes), a removed node keeps its routes: its
/// persistent sessions outlive it, and what matches them is parked for them ([`super::parking`]);
/// the routes go once it holds no session any more ([`super::orphans`]).
pub async fn run(
    me: u64,
    raft: Raft,
    mut live: watch::Receiver<Vec<Member>>,
    keep_routes: bool,
    mut shutdown: Shutdown,
) {
    let mut missing_since: HashMap<u64, Instant> = HashMap::new();
    // Nodes seen leaving: removed at once even after gossip forgot them (a node that shut
    // down right after announcing it).
    let mut seen_leaving: BTreeSet<u64> = BTreeSet::new();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            changed = live.changed() => if changed.is_err() { return },
            _ = shutdown.wait() => return,
        }
        let metrics = raft.metrics().borrow().clone();
        let members = live.borrow().clone();
        // Every node keeps track (a node that becomes leader must know who was leaving).
        for m in &members {
            match m.status {
                MemberStatus::Leaving => {
                    seen_leaving.insert(m.raft_id);
                }
                // Back (a restart): no longer leaving.
                MemberStatus::Alive => {
                    seen_leaving.remove(&m.raft_id);
                }
                _ => {}
            }
        }
        let membership = metrics.membership_config.membership().clone();
        let nodes: BTreeMap<u64, RaftMember> =
            membership.nodes().map(|(id, n)| (*id, n.clone())).collect();
        seen_leaving.retain(|id| nodes.contains_key(id));
        // A node seen alive is not missing, whoever leads (a stale "missing since" must
        // not remove a node at once when this node becomes leader).
        missing_since.retain(|id, _| {
            !members
                .iter()
                .any(|m| m.raft_id == *id && m.status == MemberStatus::Alive)
        });
        if metrics.current_leader != Some(me) {
            continue;
        }
        let voters: BTreeSet<u64> = membership.voter_ids().collect();
        let alive: BTreeMap<u64, &Member> = members
            .iter()
            .filter(|m| m.status == MemberStatus::Alive)
            .map(|m| (m.raft_id, m))
            .collect();
        let leaving: BTreeSet<u64> = seen_leaving.clone();

        // This node leaves (comqttctl leave): as leader it removes itself; the others elect a
        // new leader.
        if leaving.contains(&me) && voters.contains(&me) && voters.len() > 1 {
            let change = ChangeMembers::RemoveVoters(BTreeSet::from([me]));
            if bounded(raft.change_membership(change, false)).await.is_ok() {
                tracing::info!("this node left the raft cluster");
                if let Some(node) = nodes.get(&me).filter(|_| !keep_routes) {
                    let _ = raft
                        .client_write(RouteCommand::NodeLeft {
                            node: node.name.clone(),
                        })
                        .await;
                }
            }
            continue;
        }
        // Gone members leave (never this node, never the last voter).
        for (id, node) in &nodes {
            if *id == me || alive.contains_key(id) {
                missing_since.remove(id);
                continue;
            }
            let since = *missing_since.entry(*id).or_insert_with(Instant::now);
            if !leaving.contains(id) && since.elapsed() < REMOVE_AFTER {
                continue;
            }
            let change = if voters.contains(id) {
                if voters.len() <= 1 {
                    continue;
                }
                ChangeMembers::RemoveVoters(BTreeSet::from([*id]))
            } else {
                ChangeMembers::RemoveNodes(BTreeSet::from([*id]))
            };
            match bounded(raft.change_membership(change, false)).await {
                Ok(_) => {
                    tracing::info!(node = %node.name, "node left the raft cluster");
                    missing_since.remove(id);
                    if keep_routes {
                        break;
                    }
                    if let Err(e) = raft
                        .client_write(RouteCommand::NodeLeft {
                            node: node.name.clone(),
                        })
                        .await
                    {
                        tracing::warn!(node = %node.name, error = %e, "dropping the routes of a node that left failed");
                    }
                }
                Err(e) => {
                    tracing::debug!(node = %node.name, error = %e, "removing a raft member failed; retrying")
                }
            }
            // One membership change at a time.
            break;
        }

        // A member that came back elsewhere (same name, new raft address): the membership
        // records where it is now. Requests already follow gossip, and a node refuses those
        // meant for another one, so a wrong record cannot split the cluster.
        if let Some((id, m)) = alive
            .iter()
            .find(|(id, m)| nodes.get(id).is_some_and(|n| n.addr != m.raft))
        {
            let member = RaftMember {
                name: m.name.clone(),
                addr: m.raft.clone(),
            };
            let change = ChangeMembers::SetNodes(BTreeMap::from([(*id, member)]));
            match bounded(raft.change_membership(change, false)).await {
                Ok(_) => {
                    tracing::info!(node = %m.name, addr = %m.raft, "raft address of a node updated")
                }
                Err(e) => {
                    tracing::debug!(node = %m.name, error = %e, "updating a raft address failed; retrying")
                }
            }
            continue;
        }

        // New members join: as a learner first, so it catches up, then as a voter.
        if let Some(m) = alive.values().find(|m| !nodes.contains_key(&m.raft_id)) {
            let member = RaftMember {
                name: m.name.clone(),
                addr: m.raft.clone(),
            };
            match bounded(raft.add_learner(m.raft_id, member, true)).await {
                Ok(_) => {
                    tracing::info!(node = %m.name, "node added to the raft cluster as a learner")
                }
                Err(e) => {
                    tracing::debug!(node = %m.name, error = %e, "adding a raft learner failed; retrying")
                }
            }
            continue;
        }
        // Only learners that have caught up become voters: one that gossip shows but raft
        // cannot reach (a wrong advertised address, a firewall) would cost the cluster its
        // fault tolerance, or its quorum.
        let last = metrics.last_log_index.unwrap_or(0);
        let matched = |id: &u64| {
            metrics
                .replication
                .as_ref()
                .and_then(|r| r.get(id).copied().flatten())
                .map(|l| l.index)
        };
        let learners: BTreeSet<u64> = membership
            .learner_ids()
            .filter(|id| alive.contains_key(id) && caught_up(matched(id), last))
            .collect();
        if !learners.is_empty() {
            match bounded(
                raft.change_membership(ChangeMembers::AddVoterIds(learners.clone()), false),
            )
            .await
            {
                Ok(_) => tracing::info!(count = learners.len(), "raft learners promoted to voters"),
                Err(e) => tracing::debug!(error = %e, "promoting raft learners failed; retrying"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::caught_up;

    #[test]
    fn only_learners_close_to_the_leaders_log_are_promoted() {
        assert!(caught_up(Some(1000), 1000));
        assert!(caught_up(Some(950), 1000));
        assert!(!caught_up(Some(10), 1000), "far behind");
        assert!(!caught_up(None, 1000), "never replicated to: unreachable");
        assert!(caught_up(Some(0), 5), "a young cluster");
    }
}
