//! The raft leader's duty: raft membership follows gossip. A node that gossip shows alive
//! and raft does not know is added (as a learner, then a voter); a member that gossip shows
//! leaving, or that has been gone for a few seconds, is removed and its routes are dropped.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use openraft::ChangeMembers;
use tokio::sync::watch;

use super::membership::{Member, MemberStatus};
use super::raft::{Raft, RaftMember};
use super::routes::RouteCommand;
use crate::shutdown::Shutdown;

/// A member gone from gossip this long leaves the raft cluster.
pub const REMOVE_AFTER: Duration = Duration::from_secs(5);

/// Runs on every node; acts only while this node leads.
pub async fn run(
    me: u64,
    raft: Raft,
    mut live: watch::Receiver<Vec<Member>>,
    mut shutdown: Shutdown,
) {
    let mut missing_since: HashMap<u64, Instant> = HashMap::new();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = live.changed() => {}
            _ = shutdown.wait() => return,
        }
        let metrics = raft.metrics().borrow().clone();
        if metrics.current_leader != Some(me) {
            missing_since.clear();
            continue;
        }
        let membership = metrics.membership_config.membership().clone();
        let voters: BTreeSet<u64> = membership.voter_ids().collect();
        let nodes: BTreeMap<u64, RaftMember> =
            membership.nodes().map(|(id, n)| (*id, n.clone())).collect();
        let members = live.borrow().clone();
        let alive: BTreeMap<u64, &Member> = members
            .iter()
            .filter(|m| m.status == MemberStatus::Alive)
            .map(|m| (m.raft_id, m))
            .collect();
        let leaving: BTreeSet<u64> = members
            .iter()
            .filter(|m| m.status == MemberStatus::Leaving)
            .map(|m| m.raft_id)
            .collect();

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
            match raft.change_membership(change, false).await {
                Ok(_) => {
                    tracing::info!(node = %node.name, "node left the raft cluster");
                    missing_since.remove(id);
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

        // New members join: as a learner first, so it catches up, then as a voter.
        if let Some(m) = alive.values().find(|m| !nodes.contains_key(&m.raft_id)) {
            let member = RaftMember {
                name: m.name.clone(),
                addr: m.raft.clone(),
            };
            match raft.add_learner(m.raft_id, member, true).await {
                Ok(_) => {
                    tracing::info!(node = %m.name, "node added to the raft cluster as a learner")
                }
                Err(e) => {
                    tracing::debug!(node = %m.name, error = %e, "adding a raft learner failed; retrying")
                }
            }
            continue;
        }
        let learners: BTreeSet<u64> = membership
            .learner_ids()
            .filter(|id| alive.contains_key(id))
            .collect();
        if !learners.is_empty() {
            match raft
                .change_membership(ChangeMembers::AddVoterIds(learners.clone()), false)
                .await
            {
                Ok(_) => tracing::info!(count = learners.len(), "raft learners promoted to voters"),
                Err(e) => tracing::debug!(error = %e, "promoting raft learners failed; retrying"),
            }
        }
    }
}
