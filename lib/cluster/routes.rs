//! The route table: which nodes have subscribers for which topic filters. It is the raft
//! state machine's data, the same on every node; every publish matches its topic against it
//! to find the nodes to forward to (point to point, never a broadcast).
//!
//! A filter is in the table for a node while at least one session on that node subscribes
//! to it; shared subscriptions appear under their whole filter (`$share/group/filter`), so
//! a message goes to one node of each group.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use crate::mqtt::topic::parse_shared;
use crate::mqtt::topic_tree::{Slot, TopicTree};

/// A change of the table, as raft replicates it. Each node changes only its own entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RouteCommand {
    /// The node's filters are exactly these (a node that starts or rejoins).
    Set { node: String, filters: Vec<String> },
    /// The node has subscribers for these filters now.
    Add { node: String, filters: Vec<String> },
    /// The node has no subscriber left for these filters.
    Remove { node: String, filters: Vec<String> },
    /// The node left the cluster: all its routes go.
    NodeLeft { node: String },
}

/// What a command changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteResponse {
    /// True if any route was added or removed.
    pub changed: bool,
}

/// The nodes a topic's matching routes name.
#[derive(Debug, Default)]
pub struct RouteMatches {
    /// Nodes with ordinary subscribers of the topic, each once (inline: a publish should
    /// not allocate to find a few nodes).
    pub ordinary: SmallVec<[Arc<str>; 4]>,
    /// Shared subscriptions of the topic, each with the nodes that have members.
    pub shared: Vec<(Arc<str>, Vec<Arc<str>>)>,
}

/// Filter → nodes, with a level tree for matching topics.
#[derive(Debug, Default)]
pub struct RouteTable {
    by_filter: BTreeMap<Arc<str>, BTreeSet<Arc<str>>>,
    /// The filters (as keys of `by_filter`) by level: a filter, and the share groups of it.
    tree: TopicTree<Keys>,
    /// Interned node names.
    names: BTreeSet<Arc<str>>,
}

/// The table as snapshots carry it.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RoutesSnapshot {
    pub routes: BTreeMap<String, BTreeSet<String>>,
}

impl RouteTable {
    fn name(&mut self, node: &str) -> Arc<str> {
        if let Some(n) = self.names.get(node) {
            return n.clone();
        }
        let n: Arc<str> = node.into();
        self.names.insert(n.clone());
        n
    }

    fn add(&mut self, filter: &str, node: &str) -> bool {
        let node = self.name(node);
        if let Some(nodes) = self.by_filter.get_mut(filter) {
            return nodes.insert(node);
        }
        let key: Arc<str> = filter.into();
        let inner = match parse_shared(filter) {
            Ok(Some(s)) => s.filter,
            _ => filter,
        };
        self.tree.get_or_insert(inner).insert(key.clone());
        self.by_filter.insert(key, BTreeSet::from([node]));
        true
    }

    fn remove(&mut self, filter: &str, node: &str) -> bool {
        let Some(nodes) = self.by_filter.get_mut(filter) else {
            return false;
        };
        let removed = nodes.remove(node);
        if nodes.is_empty() {
            self.by_filter.remove(filter);
            let inner = match parse_shared(filter) {
                Ok(Some(s)) => s.filter,
                _ => filter,
            };
            self.tree.update(inner, |keys| keys.remove(filter));
        }
        removed
    }

    /// Applies a command; true if a route changed.
    pub fn apply(&mut self, cmd: &RouteCommand) -> bool {
        match cmd {
            RouteCommand::Add { node, filters } => {
                let mut changed = false;
                for f in filters {
                    changed |= self.add(f, node);
                }
                changed
            }
            RouteCommand::Remove { node, filters } => {
                let mut changed = false;
                for f in filters {
                    changed |= self.remove(f, node);
                }
                changed
            }
            RouteCommand::Set { node, filters } => {
                let want: BTreeSet<&str> = filters.iter().map(String::as_str).collect();
                let have = self.routes_of(node);
                let mut changed = false;
                for f in have.iter().filter(|f| !want.contains(f.as_str())) {
                    changed |= self.remove(f, node);
                }
                for f in want.iter().filter(|f| !have.contains(**f)) {
                    changed |= self.add(f, node);
                }
                changed
            }
            RouteCommand::NodeLeft { node } => {
                let filters = self.routes_of(node);
                let mut changed = false;
                for f in &filters {
                    changed |= self.remove(f, node);
                }
                changed
            }
        }
    }

    /// True if `node` has a route for exactly `filter`.
    pub fn has_route(&self, filter: &str, node: &str) -> bool {
        self.by_filter
            .get(filter)
            .is_some_and(|nodes| nodes.contains(node))
    }

    /// The filters `node` has routes for.
    pub fn routes_of(&self, node: &str) -> BTreeSet<String> {
        self.by_filter
            .iter()
            .filter(|(_, nodes)| nodes.contains(node))
            .map(|(f, _)| f.to_string())
            .collect()
    }

    /// The nodes that have a route.
    pub fn nodes(&self) -> BTreeSet<String> {
        self.by_filter
            .values()
            .flat_map(|nodes| nodes.iter().map(|n| n.to_string()))
            .collect()
    }

    /// Every route: filter → nodes.
    pub fn all(&self) -> BTreeMap<String, Vec<String>> {
        self.by_filter
            .iter()
            .map(|(f, nodes)| (f.to_string(), nodes.iter().map(|n| n.to_string()).collect()))
            .collect()
    }

    /// Number of filters with a route.
    pub fn len(&self) -> usize {
        self.by_filter.len()
    }

    /// True if there is no route.
    pub fn is_empty(&self) -> bool {
        self.by_filter.is_empty()
    }

    /// The routes matching the topic name `topic` (`$` topics are not matched by leading
    /// wildcards).
    pub fn matches(&self, topic: &str, out: &mut RouteMatches) {
        let mut keys: SmallVec<[&Arc<str>; 8]> = SmallVec::new();
        self.tree.for_each_match(topic, |k| keys.extend(k.iter()));
        for key in keys {
            let Some(nodes) = self.by_filter.get(key) else {
                continue;
            };
            if key.starts_with("$share/") {
                out.shared
                    .push((key.clone(), nodes.iter().cloned().collect()));
            } else {
                for n in nodes {
                    if !out.ordinary.contains(n) {
                        out.ordinary.push(n.clone());
                    }
                }
            }
        }
    }

    /// The table for a snapshot.
    pub fn snapshot(&self) -> RoutesSnapshot {
        RoutesSnapshot {
            routes: self
                .by_filter
                .iter()
                .map(|(f, n)| (f.to_string(), n.iter().map(|n| n.to_string()).collect()))
                .collect(),
        }
    }

    /// The table a snapshot holds.
    pub fn from_snapshot(s: &RoutesSnapshot) -> RouteTable {
        let mut t = RouteTable::default();
        for (filter, nodes) in &s.routes {
            for node in nodes {
                t.add(filter, node);
            }
        }
        t
    }
}

/// The filters that end at one level of the route tree: a filter and its share groups
/// (`$share/{group}/{filter}`). Usually one, kept inline; a set once there are many (one
/// client may subscribe to thousands of share groups of one filter).
#[derive(Debug, Default)]
enum Keys {
    #[default]
    None,
    One(Arc<str>),
    Many(Box<std::collections::HashSet<Arc<str>>>),
}

impl Slot for Keys {
    fn is_vacant(&self) -> bool {
        matches!(self, Keys::None)
    }
}

impl Keys {
    fn insert(&mut self, key: Arc<str>) {
        match self {
            Keys::None => *self = Keys::One(key),
            Keys::One(one) if *one == key => {}
            Keys::One(one) => {
                let set = std::collections::HashSet::from([one.clone(), key]);
                *self = Keys::Many(Box::new(set));
            }
            Keys::Many(set) => {
                set.insert(key);
            }
        }
    }

    fn remove(&mut self, key: &str) {
        match self {
            Keys::One(one) if &**one == key => *self = Keys::None,
            Keys::Many(set) => {
                set.remove(key);
                if set.len() == 1 {
                    if let Some(last) = set.iter().next().cloned() {
                        *self = Keys::One(last);
                    }
                } else if set.is_empty() {
                    *self = Keys::None;
                }
            }
            _ => {}
        }
    }

    fn iter(&self) -> impl Iterator<Item = &Arc<str>> {
        let (one, many) = match self {
            Keys::None => (None, None),
            Keys::One(one) => (Some(one), None),
            Keys::Many(set) => (None, Some(set.iter())),
        };
        one.into_iter().chain(many.into_iter().flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(t: &mut RouteTable, node: &str, filters: &[&str]) -> bool {
        t.apply(&RouteCommand::Add {
            node: node.into(),
            filters: filters.iter().map(|f| f.to_string()).collect(),
        })
    }

    fn matched(t: &RouteTable, topic: &str) -> (Vec<String>, Vec<(String, Vec<String>)>) {
        let mut m = RouteMatches::default();
        t.matches(topic, &mut m);
        (
            {
                let mut v: Vec<String> = m.ordinary.iter().map(|n| n.to_string()).collect();
                v.sort();
                v
            },
            m.shared
                .iter()
                .map(|(k, n)| (k.to_string(), n.iter().map(|n| n.to_string()).collect()))
                .collect(),
        )
    }

    #[test]
    fn topics_find_the_nodes_of_matching_filters() {
        let mut t = RouteTable::default();
        assert!(add(&mut t, "c1", &["a/+", "b/#"]));
        assert!(add(&mut t, "c2", &["a/b", "$share/g/a/#"]));
        assert!(add(&mut t, "c3", &["$share/g/a/#", "#"]));
        assert!(!add(&mut t, "c3", &["#"]), "adding twice changes nothing");
        let (ordinary, shared) = matched(&t, "a/b");
        assert_eq!(ordinary, ["c1", "c2", "c3"]);
        assert_eq!(
            shared,
            [(
                "$share/g/a/#".to_string(),
                vec!["c2".to_string(), "c3".to_string()]
            )]
        );
        assert_eq!(
            matched(&t, "b").0,
            ["c1", "c3"],
            "# matches the parent level"
        );
        assert!(matched(&t, "$SYS/x").0.is_empty());
    }

    #[test]
    fn set_replaces_and_node_left_removes_a_nodes_routes() {
        let mut t = RouteTable::default();
        add(&mut t, "c1", &["a", "b"]);
        add(&mut t, "c2", &["a"]);
        assert!(t.apply(&RouteCommand::Set {
            node: "c1".into(),
            filters: vec!["b".into(), "c".into()]
        }));
        assert_eq!(
            t.routes_of("c1").into_iter().collect::<Vec<_>>(),
            ["b", "c"]
        );
        assert_eq!(matched(&t, "a").0, ["c2"]);
        assert!(t.apply(&RouteCommand::NodeLeft { node: "c2".into() }));
        assert!(matched(&t, "a").0.is_empty());
        assert_eq!(t.len(), 2);
        assert!(t.apply(&RouteCommand::Remove {
            node: "c1".into(),
            filters: vec!["b".into(), "c".into()]
        }));
        assert!(
            t.is_empty() && t.tree.is_empty(),
            "the level tree is pruned"
        );
    }

    #[test]
    fn snapshots_round_trip() {
        let mut t = RouteTable::default();
        add(&mut t, "c1", &["a/+", "$share/g/x"]);
        add(&mut t, "c2", &["a/+"]);
        let back = RouteTable::from_snapshot(&t.snapshot());
        assert_eq!(back.all(), t.all());
        assert_eq!(matched(&back, "a/1").0, ["c1", "c2"]);
    }
}
