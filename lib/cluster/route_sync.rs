//! Keeps this node's entries of the replicated route table equal to the filters its sessions
//! subscribe to. The broker reports each filter that appears or leaves (in order); this task
//! compares what it wants with what the table holds for this node and proposes the
//! difference, in batches, until they agree. First it proposes the whole set (`Set`), which
//! also clears what a previous run of this node left behind. Filters whose proposal the
//! leader applied are `confirmed`: a SUBACK waits for that.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;

use super::proposer::Proposer;
use super::raft::state_machine::Replicated;
use super::routes::RouteCommand;
use crate::shutdown::Shutdown;

/// Filters per proposal.
const CHUNK: usize = 1000;
/// Wait after a failed proposal (no leader yet, leader changing).
const RETRY: Duration = Duration::from_millis(300);
/// Compare again at least this often.
const RESYNC: Duration = Duration::from_secs(5);

/// What the route sync hears.
#[derive(Debug, Clone)]
pub enum FilterEvent {
    /// A filter appeared in this node's subscription tree (`true`) or left it.
    Tree(String, bool),
    /// Routes wanted before their subscriptions arrive (a session about to move here), or
    /// no longer wanted for that reason; counted, so overlapping moves add up.
    Pin(Vec<String>, bool),
}

/// The filters this node wants routes for: those its sessions subscribe to, and the pinned.
#[derive(Debug, Default)]
struct Wanted {
    tree: BTreeSet<String>,
    pinned: std::collections::BTreeMap<String, usize>,
}

impl Wanted {
    fn apply(&mut self, event: FilterEvent) {
        match event {
            FilterEvent::Tree(filter, true) => {
                self.tree.insert(filter);
            }
            FilterEvent::Tree(filter, false) => {
                self.tree.remove(&filter);
            }
            FilterEvent::Pin(filters, true) => {
                for f in filters {
                    *self.pinned.entry(f).or_default() += 1;
                }
            }
            FilterEvent::Pin(filters, false) => {
                for f in filters {
                    if let Some(n) = self.pinned.get_mut(&f) {
                        *n -= 1;
                        if *n == 0 {
                            self.pinned.remove(&f);
                        }
                    }
                }
            }
        }
    }

    fn all(&self) -> BTreeSet<String> {
        self.tree
            .iter()
            .chain(self.pinned.keys())
            .cloned()
            .collect()
    }
}

/// Runs until shutdown.
pub async fn run(
    me: String,
    proposer: Arc<Proposer>,
    replicated: Arc<Replicated>,
    mut events: mpsc::UnboundedReceiver<FilterEvent>,
    left: Arc<AtomicBool>,
    confirmed: Arc<parking_lot::RwLock<BTreeSet<String>>>,
    mut shutdown: Shutdown,
) {
    let mut filters = Wanted::default();
    let mut version = replicated.version.subscribe();
    let mut set_done = false;
    // Look again after a while: a proposal failed, or one committed that the local table
    // may not show yet (a node not yet in the raft cluster hears of it only later).
    let mut recheck = false;
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(event) => filters.apply(event),
                None => return,
            },
            _ = version.changed() => {}
            _ = tokio::time::sleep(RETRY), if recheck => {}
            // Now and then, in case this node's view of the table went stale.
            _ = tokio::time::sleep(RESYNC) => {}
            _ = shutdown.wait() => return,
        }
        if left.load(Ordering::Acquire) {
            // A node that left keeps no routes.
            continue;
        }
        while let Ok(event) = events.try_recv() {
            filters.apply(event);
        }
        let wanted = filters.all();
        let have = replicated.routes.read().routes_of(&me);
        let cmd = if !set_done {
            // The first chunk replaces whatever the table held for this node; `Add`s follow.
            RouteCommand::Set {
                node: me.clone(),
                filters: wanted.iter().take(CHUNK).cloned().collect(),
            }
        } else {
            let add: Vec<String> = wanted.difference(&have).take(CHUNK).cloned().collect();
            let remove: Vec<String> = have.difference(&wanted).take(CHUNK).cloned().collect();
            if !add.is_empty() {
                RouteCommand::Add {
                    node: me.clone(),
                    filters: add,
                }
            } else if !remove.is_empty() {
                RouteCommand::Remove {
                    node: me.clone(),
                    filters: remove,
                }
            } else {
                recheck = false;
                continue;
            }
        };
        match proposer.propose(cmd.clone()).await {
            Ok(()) => {
                // The leader applied it: SUBACKs waiting for these routes may go.
                let mut c = confirmed.write();
                match cmd {
                    RouteCommand::Set { filters, .. } => *c = filters.into_iter().collect(),
                    RouteCommand::Add { filters, .. } => c.extend(filters),
                    RouteCommand::Remove { filters, .. } => {
                        for f in &filters {
                            c.remove(f);
                        }
                    }
                    RouteCommand::NodeLeft { .. } => c.clear(),
                }
                drop(c);
                // Wakes the connections waiting on routes (and this loop, once).
                replicated.version.send_modify(|v| *v += 1);
                set_done = true;
                recheck = true;
            }
            Err(e) => {
                tracing::debug!(error = %e, "route proposal not committed yet; retrying");
                recheck = true;
            }
        }
    }
}
