//! The subscription tree: topic filters by level ([`TopicTree`]), each node holding the
//! subscribers whose filter ends there, plus shared-subscription groups
//! (`$share/{group}/{filter}`).
//!
//! Read on every publish, written on SUBSCRIBE/UNSUBSCRIBE: the broker keeps it behind a
//! read-write lock so publishes from many connections match concurrently. Subscribers are
//! keyed by their session's outbox, so adding or removing one costs the same however many
//! subscriptions the client or the filter already has; nothing walks the tree recursively.

use rustc_hash::FxHashMap as HashMap;
use smallvec::SmallVec;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::session::Outbox;
use crate::mqtt::SubscriptionOptions;
use crate::mqtt::topic::parse_shared;
use crate::mqtt::topic_tree::{Slot, TopicTree};

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

/// Identifies a session in the tree: its outbox.
fn key(outbox: &Arc<Outbox>) -> usize {
    Arc::as_ptr(outbox) as usize
}

/// Up to this many subscribers of one filter are kept in a vector.
const FEW: usize = 8;

/// Subscribers of one filter (or members of one share group), by session.
#[derive(Debug)]
enum Holders {
    /// Few: a vector of exactly their number, searched in order.
    Few(Vec<Subscriber>),
    /// Many: position by session, and the subscribers in a vector (for round robin).
    Many {
        members: Vec<Subscriber>,
        index: HashMap<usize, usize>,
    },
}

impl Default for Holders {
    fn default() -> Self {
        Holders::Few(Vec::new())
    }
}

impl Holders {
    fn members(&self) -> &[Subscriber] {
        match self {
            Holders::Few(v) | Holders::Many { members: v, .. } => v,
        }
    }

    fn len(&self) -> usize {
        self.members().len()
    }

    fn is_empty(&self) -> bool {
        self.members().is_empty()
    }

    fn position(&self, k: usize) -> Option<usize> {
        match self {
            Holders::Few(v) => v.iter().position(|s| key(&s.outbox) == k),
            Holders::Many { index, .. } => index.get(&k).copied(),
        }
    }

    /// Adds or replaces the subscriber of its session; true if it is new.
    fn put(&mut self, subscriber: Subscriber) -> bool {
        let k = key(&subscriber.outbox);
        if let Some(i) = self.position(k) {
            match self {
                Holders::Few(v) | Holders::Many { members: v, .. } => v[i] = subscriber,
            }
            return false;
        }
        if let Holders::Few(v) = self
            && v.len() >= FEW
        {
            let members = std::mem::take(v);
            let index = members
                .iter()
                .enumerate()
                .map(|(i, s)| (key(&s.outbox), i))
                .collect();
            *self = Holders::Many { members, index };
        }
        match self {
            Holders::Few(v) => {
                v.reserve_exact(1);
                v.push(subscriber);
            }
            Holders::Many { members, index } => {
                index.insert(k, members.len());
                members.push(subscriber);
            }
        }
        true
    }

    /// Removes the subscriber of session `k` if `owned` accepts it; true if removed.
    fn take(&mut self, k: usize) -> bool {
        let Some(i) = self.position(k) else {
            return false;
        };
        match self {
            Holders::Few(v) => {
                v.remove(i);
                v.shrink_to_fit();
            }
            Holders::Many { members, index } => {
                members.swap_remove(i);
                index.remove(&k);
                if let Some(moved) = members.get(i) {
                    index.insert(key(&moved.outbox), i);
                }
                if members.len() <= FEW / 2 {
                    let mut few = std::mem::take(members);
                    few.shrink_to_fit();
                    *self = Holders::Few(few);
                }
            }
        }
        true
    }
}

/// The members of one share group; each message goes to one of them.
#[derive(Debug, Default)]
struct SharedGroup {
    /// The share name.
    name: Box<str>,
    /// The whole filter, `$share/{group}/{filter}`, as the cluster's routes name the group.
    key: Box<str>,
    /// Members in subscription order (until one leaves).
    members: Holders,
    /// Round-robin cursor.
    next: AtomicUsize,
}

/// What ends at one node of the tree.
#[derive(Debug, Default)]
struct Subscribers {
    /// Ordinary subscribers.
    ordinary: Holders,
    /// Share groups, by share name.
    shared: Vec<SharedGroup>,
}

impl Subscribers {
    fn is_empty(&self) -> bool {
        self.ordinary.is_empty() && self.shared.is_empty()
    }
}

/// What ends at one node of the tree. Most filters have one ordinary subscriber: it is kept
/// in the node itself, with nothing allocated for it.
#[derive(Debug, Default)]
enum Leaf {
    #[default]
    Empty,
    /// One ordinary subscriber.
    One(Subscriber),
    /// Several subscribers, or share groups.
    Many(Box<Subscribers>),
}

impl Slot for Leaf {
    fn is_vacant(&self) -> bool {
        matches!(self, Leaf::Empty)
    }
}

impl Leaf {
    fn ordinary(&self) -> &[Subscriber] {
        match self {
            Leaf::Empty => &[],
            Leaf::One(s) => std::slice::from_ref(s),
            Leaf::Many(m) => m.ordinary.members(),
        }
    }

    fn shared(&self) -> &[SharedGroup] {
        match self {
            Leaf::Many(m) => &m.shared,
            _ => &[],
        }
    }

    /// The subscribers as a set that can take share groups and several subscribers.
    fn many(&mut self) -> &mut Subscribers {
        if !matches!(self, Leaf::Many(_)) {
            let mut subs = Box::<Subscribers>::default();
            if let Leaf::One(one) = std::mem::take(self) {
                subs.ordinary.put(one);
            }
            *self = Leaf::Many(subs);
        }
        match self {
            Leaf::Many(m) => m,
            // Made a set just above.
            _ => unreachable!("a leaf turned into a set"),
        }
    }

    /// Adds or replaces the ordinary subscriber of its session; true if it is new.
    fn put_ordinary(&mut self, subscriber: Subscriber) -> bool {
        match self {
            Leaf::Empty => {
                *self = Leaf::One(subscriber);
                true
            }
            Leaf::One(s) if key(&s.outbox) == key(&subscriber.outbox) => {
                *s = subscriber;
                false
            }
            _ => self.many().ordinary.put(subscriber),
        }
    }

    /// Back to the smallest form after a removal.
    fn settle(&mut self) {
        let Leaf::Many(m) = self else { return };
        if m.is_empty() {
            *self = Leaf::Empty;
        } else if m.shared.is_empty() && m.ordinary.len() == 1 {
            let only = match &mut m.ordinary {
                Holders::Few(v) | Holders::Many { members: v, .. } => v.pop(),
            };
            if let Some(only) = only {
                *self = Leaf::One(only);
            }
        }
    }
}

/// The subscriptions of every session of this node.
#[derive(Debug, Default)]
pub struct SubscriptionTree {
    tree: TopicTree<Leaf>,
    /// Number of (session, filter) subscriptions held.
    count: usize,
    /// Bumped by every subscribe: a publish that read it under the tree's lock at or past a
    /// session's [`Outbox::subscribed_at`](super::session::Outbox::subscribed_at) was
    /// matched against that session's subscriptions.
    generation: u64,
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
    /// Counts subscribes (see the field).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Adds or replaces the subscription of `subscriber`'s session to `filter` (which may be
    /// `$share/...`). Returns true if it did not exist before (for retain handling 1).
    pub fn subscribe(&mut self, filter: &str, subscriber: Subscriber) -> bool {
        self.generation += 1;
        let (group, inner) = split_shared(filter);
        let leaf = self.tree.get_or_insert(inner);
        let is_new = match group {
            None => leaf.put_ordinary(subscriber),
            Some(group) => {
                let slot = leaf.many();
                let i = match slot.shared.iter().position(|g| &*g.name == group) {
                    Some(i) => i,
                    None => {
                        slot.shared.reserve_exact(1);
                        slot.shared.push(SharedGroup {
                            name: group.into(),
                            key: filter.into(),
                            ..SharedGroup::default()
                        });
                        slot.shared.len() - 1
                    }
                };
                slot.shared[i].members.put(subscriber)
            }
        };
        if is_new {
            self.count += 1;
        }
        is_new
    }

    /// Removes the subscription of the session whose outbox is `outbox` to `filter`; true if
    /// it existed. (An ended session removes only its own: a newer session of the same
    /// client id has another outbox.)
    pub fn unsubscribe(&mut self, filter: &str, outbox: &Arc<Outbox>) -> bool {
        let (group, inner) = split_shared(filter);
        let k = key(outbox);
        let removed = self
            .tree
            .update(inner, |leaf| {
                let removed = match (group, &mut *leaf) {
                    (None, Leaf::One(s)) if key(&s.outbox) == k => {
                        *leaf = Leaf::Empty;
                        return true;
                    }
                    (_, Leaf::Empty | Leaf::One(_)) => return false,
                    (_, Leaf::Many(subs)) => (group, subs),
                };
                let (group, subs) = removed;
                let removed = match group {
                    None => subs.ordinary.take(k),
                    Some(group) => match subs.shared.iter().position(|g| &*g.name == group) {
                        Some(i) => {
                            let removed = subs.shared[i].members.take(k);
                            if subs.shared[i].members.is_empty() {
                                subs.shared.swap_remove(i);
                                subs.shared.shrink_to_fit();
                            }
                            removed
                        }
                        None => false,
                    },
                };
                leaf.settle();
                removed
            })
            .unwrap_or(false);
        if removed {
            self.count -= 1;
        }
        removed
    }

    /// True if some session subscribes to exactly `filter` (which may be `$share/...`).
    pub fn has_filter(&self, filter: &str) -> bool {
        let (group, inner) = split_shared(filter);
        let Some(leaf) = self.tree.get(inner) else {
            return false;
        };
        match group {
            None => !leaf.ordinary().is_empty(),
            Some(group) => leaf.shared().iter().any(|g| &*g.name == group),
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
    /// unsorted.
    pub fn summary(&self) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        self.tree.for_each(|path, leaf| {
            if !leaf.ordinary().is_empty() {
                out.push((path.to_string(), leaf.ordinary().len()));
            }
            for g in leaf.shared() {
                out.push((g.key.to_string(), g.members.len()));
            }
        });
        out
    }

    /// Collects the subscribers of `topic`. Wildcards at the first level do not match
    /// `$` topics `[MQTT-4.7.2-1]`.
    pub fn matches<'a>(&'a self, topic: &str, out: &mut Matches<'a>) {
        self.tree.for_each_match(topic, |leaf| {
            out.subscribers.extend(leaf.ordinary());
            for group in leaf.shared() {
                if let Some(member) = pick(group) {
                    out.shared.push((&group.key, member));
                }
            }
        });
    }
}

fn split_shared(filter: &str) -> (Option<&str>, &str) {
    match parse_shared(filter) {
        Ok(Some(shared)) => (Some(shared.group), shared.filter),
        _ => (None, filter),
    }
}

/// How many members a pick looks at for one that is connected before taking the next in turn.
const PICK_PROBES: usize = 64;

/// Picks the next member of a share group, preferring members that are connected.
fn pick(group: &SharedGroup) -> Option<&Subscriber> {
    let members = group.members.members();
    let n = members.len();
    if n == 0 {
        return None;
    }
    let start = group.next.fetch_add(1, Ordering::Relaxed);
    (0..n.min(PICK_PROBES))
        .map(|i| &members[(start + i) % n])
        .find(|s| s.outbox.is_online())
        .or_else(|| Some(&members[start % n]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::{MqttString, QoS};

    fn sub(id: &str) -> Subscriber {
        Subscriber {
            outbox: Arc::new(Outbox::new(MqttString::from(id), 10)),
            options: SubscriptionOptions::qos(QoS::AtLeastOnce),
            identifier: None,
        }
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
            assert!(t.subscribe(filter, sub(id)));
        }
        assert_eq!(matched(&t, "a/b"), ["all", "exact", "hash", "plus"]);
        assert_eq!(matched(&t, "a"), ["all", "hash"]);
        assert_eq!(matched(&t, "$SYS/x"), Vec::<String>::new());
        assert_eq!(t.len(), 5);
        let summary: Vec<(String, usize)> = ["#", "a/#", "a/+", "a/b", "b/#"]
            .iter()
            .map(|f| (f.to_string(), 1))
            .collect();
        let mut got = t.summary();
        got.sort();
        assert_eq!(got, summary);
    }

    #[test]
    fn unsubscribe_prunes_and_reports() {
        let mut t = SubscriptionTree::default();
        let s = sub("c");
        t.subscribe("a/b/c", s.clone());
        assert!(!t.subscribe("a/b/c", s.clone()));
        assert!(!t.unsubscribe("a/b", &s.outbox));
        // Another session of the same client id does not remove it.
        assert!(!t.unsubscribe("a/b/c", &sub("c").outbox));
        assert!(t.unsubscribe("a/b/c", &s.outbox));
        assert!(t.tree.is_empty());
        assert!(t.is_empty());
    }

    #[test]
    fn many_subscribers_of_one_filter_come_and_go() {
        let mut t = SubscriptionTree::default();
        let subs: Vec<Subscriber> = (0..100).map(|i| sub(&format!("c{i}"))).collect();
        for s in &subs {
            assert!(t.subscribe("x", s.clone()));
        }
        assert_eq!(matched(&t, "x").len(), 100);
        for s in &subs[..97] {
            assert!(t.unsubscribe("x", &s.outbox));
        }
        assert_eq!(matched(&t, "x"), ["c97", "c98", "c99"]);
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn shared_group_delivers_to_one_member_round_robin() {
        let mut t = SubscriptionTree::default();
        let members: Vec<Subscriber> = ["m1", "m2"].iter().map(|id| sub(id)).collect();
        for s in &members {
            s.outbox.set_online(true);
            t.subscribe("$share/g/x/+", s.clone());
        }
        let picks: Vec<Vec<String>> = (0..4).map(|_| matched(&t, "x/1")).collect();
        assert!(picks.iter().all(|p| p.len() == 1));
        assert_ne!(picks[0], picks[1]);
        assert!(t.unsubscribe("$share/g/x/+", &members[0].outbox));
        assert_eq!(matched(&t, "x/1"), ["m2"]);
        assert!(t.has_filter("$share/g/x/+") && !t.has_filter("x/+"));
    }
}
