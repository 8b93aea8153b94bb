//! The subscription tree: topic filters by level, each node holding the subscribers whose
//! filter ends there, plus shared-subscription groups (`$share/{group}/{filter}`).
//!
//! Read on every publish, written on SUBSCRIBE/UNSUBSCRIBE: the broker keeps it behind a
//! read-write lock so publishes from many connections match concurrently.

use rustc_hash::FxHashMap as HashMap;
use smallvec::SmallVec;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::session::Outbox;
use crate::mqtt::topic::parse_shared;
use crate::mqtt::{MqttString, SubscriptionOptions};

/// One client's subscription to one filter, as the router needs it.
#[derive(Debug, Clone)]
pub struct Subscriber {
    /// Where matching messages go.
    pub outbox: Arc<Outbox>,
    /// The options the client subscribed with (QoS already capped by the server).
    pub options: SubscriptionOptions,
    /// The v5 subscription identifier, if the client gave one.
    pub identifier: Option<u32>,
}

#[derive(Debug, Default)]
struct Node {
    /// Child levels, including the `+` and `#` wildcard levels.
    children: HashMap<Box<str>, Node>,
    /// Ordinary subscribers whose filter ends at this node, by client id.
    subscribers: HashMap<MqttString, Subscriber>,
    /// Shared-subscription groups whose filter ends at this node, by share name.
    shared: HashMap<Box<str>, SharedGroup>,
}

/// The members of one share group; each message goes to one of them.
#[derive(Debug, Default)]
struct SharedGroup {
    /// The whole filter, `$share/{group}/{filter}`, as the cluster's routes name the group.
    key: Box<str>,
    /// Members in subscription order.
    members: Vec<(MqttString, Subscriber)>,
    /// Round-robin cursor.
    next: AtomicUsize,
}

impl Node {
    fn is_empty(&self) -> bool {
        self.children.is_empty() && self.subscribers.is_empty() && self.shared.is_empty()
    }
}

/// The subscriptions of every session of this node.
#[derive(Debug, Default)]
pub struct SubscriptionTree {
    root: Node,
    /// Number of (client, filter) subscriptions held.
    count: usize,
}

/// The subscribers a topic name matched. Inline up to a few entries: most topics match few
/// subscriptions, and a publish should not allocate to find them.
#[derive(Default)]
pub struct Matches<'a> {
    /// Ordinary subscriptions; one client may appear several times (overlapping filters).
    pub subscribers: SmallVec<[&'a Subscriber; 8]>,
    /// One member picked from each matching share group, with the group's whole filter
    /// (`$share/{group}/{filter}`).
    pub shared: SmallVec<[(&'a str, &'a Subscriber); 2]>,
}

impl SubscriptionTree {
    /// Adds or replaces `client_id`'s subscription to `filter` (which may be `$share/...`).
    /// Returns true if it did not exist before (for retain handling 1).
    pub fn subscribe(
        &mut self,
        filter: &str,
        client_id: &MqttString,
        subscriber: Subscriber,
    ) -> bool {
        let full = filter;
        let (group, filter) = split_shared(filter);
        let node = filter.split('/').fold(&mut self.root, |node, level| {
            node.children.entry(level.into()).or_default()
        });
        let is_new = match group {
            None => node
                .subscribers
                .insert(client_id.clone(), subscriber)
                .is_none(),
            Some(group) => {
                let g = node
                    .shared
                    .entry(group.into())
                    .or_insert_with(|| SharedGroup {
                        key: full.into(),
                        ..SharedGroup::default()
                    });
                match g.members.iter_mut().find(|(id, _)| id == client_id) {
                    Some(member) => {
                        member.1 = subscriber;
                        false
                    }
                    None => {
                        g.members.push((client_id.clone(), subscriber));
                        true
                    }
                }
            }
        };
        if is_new {
            self.count += 1;
        }
        is_new
    }

    /// Removes `client_id`'s subscription to `filter`; true if it existed.
    pub fn unsubscribe(&mut self, filter: &str, client_id: &str) -> bool {
        self.remove_where(filter, client_id, None)
    }

    /// Removes `client_id`'s subscription to `filter` only if it delivers into `outbox`: an
    /// ended session must not remove what a newer session of the same client id subscribed.
    pub fn unsubscribe_session(
        &mut self,
        filter: &str,
        client_id: &str,
        outbox: &Arc<Outbox>,
    ) -> bool {
        self.remove_where(filter, client_id, Some(outbox))
    }

    fn remove_where(
        &mut self,
        filter: &str,
        client_id: &str,
        outbox: Option<&Arc<Outbox>>,
    ) -> bool {
        let (group, filter) = split_shared(filter);
        let levels: Vec<&str> = filter.split('/').collect();
        let removed = remove(&mut self.root, &levels, group, client_id, outbox);
        if removed {
            self.count -= 1;
        }
        removed
    }

    /// True if some client subscribes to exactly `filter` (which may be `$share/...`).
    pub fn has_filter(&self, filter: &str) -> bool {
        let (group, filter) = split_shared(filter);
        let mut node = &self.root;
        for level in filter.split('/') {
            match node.children.get(level) {
                Some(child) => node = child,
                None => return false,
            }
        }
        match group {
            None => !node.subscribers.is_empty(),
            Some(group) => node.shared.contains_key(group),
        }
    }

    /// Every filter that has a subscriber (shared ones as `$share/{group}/{filter}`).
    pub fn filters(&self) -> Vec<String> {
        self.summary().into_iter().map(|(f, _)| f).collect()
    }

    /// The number of subscriptions held.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True if there is no subscription.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Every filter with its number of subscribers (shared groups as `$share/{group}/{filter}`),
    /// sorted by filter.
    pub fn summary(&self) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        summarize(&self.root, &mut String::new(), true, &mut out);
        out.sort();
        out
    }

    /// Collects the subscribers of `topic`. Wildcards at the first level do not match
    /// `$` topics `[MQTT-4.7.2-1]`.
    pub fn matches<'a>(&'a self, topic: &str, out: &mut Matches<'a>) {
        collect(
            &self.root,
            topic.split('/'),
            true,
            topic.starts_with('$'),
            out,
        );
    }
}

fn summarize(node: &Node, path: &mut String, root: bool, out: &mut Vec<(String, usize)>) {
    if !root {
        if !node.subscribers.is_empty() {
            out.push((path.clone(), node.subscribers.len()));
        }
        for (group, g) in &node.shared {
            out.push((format!("$share/{group}/{path}"), g.members.len()));
        }
    }
    for (level, child) in &node.children {
        let len = path.len();
        if !root {
            path.push('/');
        }
        path.push_str(level);
        summarize(child, path, false, out);
        path.truncate(len);
    }
}

fn split_shared(filter: &str) -> (Option<&str>, &str) {
    match parse_shared(filter) {
        Ok(Some(shared)) => (Some(shared.group), shared.filter),
        _ => (None, filter),
    }
}

fn remove(
    node: &mut Node,
    levels: &[&str],
    group: Option<&str>,
    client_id: &str,
    outbox: Option<&Arc<Outbox>>,
) -> bool {
    let owned = |s: &Subscriber| outbox.is_none_or(|o| Arc::ptr_eq(o, &s.outbox));
    let Some((first, rest)) = levels.split_first() else {
        return match group {
            None => {
                if node.subscribers.get(client_id).is_some_and(&owned) {
                    node.subscribers.remove(client_id).is_some()
                } else {
                    false
                }
            }
            Some(group) => {
                let Some(g) = node.shared.get_mut(group) else {
                    return false;
                };
                let before = g.members.len();
                g.members.retain(|(id, s)| !(id == client_id && owned(s)));
                let removed = g.members.len() != before;
                if g.members.is_empty() {
                    node.shared.remove(group);
                }
                removed
            }
        };
    };
    let Some(child) = node.children.get_mut(*first) else {
        return false;
    };
    let removed = remove(child, rest, group, client_id, outbox);
    if child.is_empty() {
        node.children.remove(*first);
    }
    removed
}

/// Walks the tree along the topic's levels (`levels` yields the ones below `node`; cloning
/// the iterator is how each branch keeps its place, without allocating).
fn collect<'a>(
    node: &'a Node,
    mut levels: std::str::Split<'_, char>,
    first: bool,
    dollar: bool,
    out: &mut Matches<'a>,
) {
    let wildcards_allowed = !(first && dollar);
    if wildcards_allowed && let Some(hash) = node.children.get("#") {
        add(hash, out);
    }
    let Some(level) = levels.next() else {
        add(node, out);
        return;
    };
    if wildcards_allowed && let Some(plus) = node.children.get("+") {
        collect(plus, levels.clone(), false, dollar, out);
    }
    if let Some(child) = node.children.get(level) {
        collect(child, levels, false, dollar, out);
    }
}

fn add<'a>(node: &'a Node, out: &mut Matches<'a>) {
    out.subscribers.extend(node.subscribers.values());
    for group in node.shared.values() {
        if let Some(member) = pick(group) {
            out.shared.push((&group.key, member));
        }
    }
}

/// Picks the next member of a share group, preferring members that are connected.
fn pick(group: &SharedGroup) -> Option<&Subscriber> {
    let n = group.members.len();
    if n == 0 {
        return None;
    }
    let start = group.next.fetch_add(1, Ordering::Relaxed);
    (0..n)
        .map(|i| &group.members[(start + i) % n].1)
        .find(|s| s.outbox.is_online())
        .or_else(|| Some(&group.members[start % n].1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::QoS;

    fn sub(id: &str) -> (MqttString, Subscriber) {
        let id = MqttString::from(id);
        let outbox = Arc::new(Outbox::new(id.clone(), 10));
        (
            id,
            Subscriber {
                outbox,
                options: SubscriptionOptions::qos(QoS::AtLeastOnce),
                identifier: None,
            },
        )
    }

    fn matched(tree: &SubscriptionTree, topic: &str) -> Vec<String> {
        let mut m = Matches::default();
        tree.matches(topic, &mut m);
        let mut ids: Vec<String> = m
            .subscribers
            .iter()
            .chain(m.shared.iter().map(|(_, s)| s))
            .map(|s| s.outbox.client_id.to_string())
            .collect();
        ids.sort();
        ids
    }

    #[test]
    fn wildcards_and_exact_filters_match() {
        let mut t = SubscriptionTree::default();
        for (filter, id) in [
            ("a/b", "exact"),
            ("a/+", "plus"),
            ("a/#", "hash"),
            ("#", "all"),
            ("b/#", "other"),
        ] {
            let (cid, s) = sub(id);
            assert!(t.subscribe(filter, &cid, s));
        }
        assert_eq!(matched(&t, "a/b"), ["all", "exact", "hash", "plus"]);
        assert_eq!(matched(&t, "a"), ["all", "hash"]);
        assert_eq!(matched(&t, "$SYS/x"), Vec::<String>::new());
        assert_eq!(t.len(), 5);
        let summary: Vec<(String, usize)> = ["#", "a/#", "a/+", "a/b", "b/#"]
            .iter()
            .map(|f| (f.to_string(), 1))
            .collect();
        assert_eq!(t.summary(), summary);
    }

    #[test]
    fn unsubscribe_prunes_and_reports() {
        let mut t = SubscriptionTree::default();
        let (cid, s) = sub("c");
        t.subscribe("a/b/c", &cid, s.clone());
        assert!(!t.subscribe("a/b/c", &cid, s));
        assert!(!t.unsubscribe("a/b", "c"));
        assert!(t.unsubscribe("a/b/c", "c"));
        assert!(t.root.is_empty());
        assert!(t.is_empty());
    }

    #[test]
    fn shared_group_delivers_to_one_member_round_robin() {
        let mut t = SubscriptionTree::default();
        for id in ["m1", "m2"] {
            let (cid, s) = sub(id);
            s.outbox.set_online(true);
            t.subscribe("$share/g/x/+", &cid, s);
        }
        let picks: Vec<Vec<String>> = (0..4).map(|_| matched(&t, "x/1")).collect();
        assert!(picks.iter().all(|p| p.len() == 1));
        assert_ne!(picks[0], picks[1]);
        assert!(t.unsubscribe("$share/g/x/+", "m1"));
        assert_eq!(matched(&t, "x/1"), ["m2"]);
    }
}
