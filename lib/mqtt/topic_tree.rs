//! A tree of topic levels (`a/b/c` is the path `a` → `b` → `c`), each node holding a value:
//! the shape behind the subscription tree and the cluster's route table.
//!
//! Clients choose the paths, so nothing here recurses over them: insert, lookup, removal
//! with pruning, matching a topic name against the filters in the tree, the walk that lists
//! them, and dropping the tree all run in loops with explicit stacks, whatever the depth.
//! Children are kept in a tight vector while a node has few (most nodes have one), and in
//! a hash map with a random seed once it has many (level names are chosen by clients: no
//! hash flooding).

use std::collections::HashMap;

/// A node's value: what the tree keeps at the end of a path.
pub trait Slot: Default {
    /// True if the value holds nothing (the node may then be pruned).
    fn is_vacant(&self) -> bool;
}

impl<T> Slot for Option<T> {
    fn is_vacant(&self) -> bool {
        self.is_none()
    }
}

impl<T> Slot for Vec<T> {
    fn is_vacant(&self) -> bool {
        self.is_empty()
    }
}

/// Up to this many children a node keeps them in a vector (searched in order).
const FEW: usize = 12;

/// The children of one node.
enum Children<V: Slot> {
    /// Few children, in a vector of exactly their number (no spare capacity).
    Few(Vec<(Box<str>, Node<V>)>),
    /// Many children.
    Many(Box<HashMap<Box<str>, Node<V>>>),
}

impl<V: Slot> Default for Children<V> {
    fn default() -> Self {
        Children::Few(Vec::new())
    }
}

impl<V: Slot> Children<V> {
    fn get(&self, level: &str) -> Option<&Node<V>> {
        match self {
            Children::Few(v) => v.iter().find(|(k, _)| &**k == level).map(|(_, n)| n),
            Children::Many(m) => m.get(level),
        }
    }

    fn get_mut(&mut self, level: &str) -> Option<&mut Node<V>> {
        match self {
            Children::Few(v) => v.iter_mut().find(|(k, _)| &**k == level).map(|(_, n)| n),
            Children::Many(m) => m.get_mut(level),
        }
    }

    fn get_or_insert(&mut self, level: &str) -> &mut Node<V> {
        if let Children::Few(v) = self
            && v.len() >= FEW
            && !v.iter().any(|(k, _)| &**k == level)
        {
            let many: HashMap<Box<str>, Node<V>> = v.drain(..).collect();
            *self = Children::Many(Box::new(many));
        }
        match self {
            Children::Few(v) => {
                let i = match v.iter().position(|(k, _)| &**k == level) {
                    Some(i) => i,
                    None => {
                        v.reserve_exact(1);
                        v.push((level.into(), Node::default()));
                        v.len() - 1
                    }
                };
                &mut v[i].1
            }
            Children::Many(m) => m.entry(level.into()).or_default(),
        }
    }

    fn remove(&mut self, level: &str) -> Option<Node<V>> {
        match self {
            Children::Few(v) => {
                let i = v.iter().position(|(k, _)| &**k == level)?;
                let (_, node) = v.remove(i);
                v.shrink_to_fit();
                Some(node)
            }
            Children::Many(m) => {
                let node = m.remove(level);
                if m.len() <= FEW / 2 {
                    let mut few: Vec<_> = m.drain().collect();
                    few.shrink_to_fit();
                    *self = Children::Few(few);
                }
                node
            }
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Children::Few(v) => v.is_empty(),
            Children::Many(m) => m.is_empty(),
        }
    }

    fn len(&self) -> usize {
        match self {
            Children::Few(v) => v.len(),
            Children::Many(m) => m.len(),
        }
    }

    /// Every child with its level.
    fn iter(&self) -> Box<dyn Iterator<Item = (&str, &Node<V>)> + '_> {
        match self {
            Children::Few(v) => Box::new(v.iter().map(|(k, n)| (&**k, n))),
            Children::Many(m) => Box::new(m.iter().map(|(k, n)| (&**k, n))),
        }
    }

    /// Takes every child out, leaving none.
    fn take_all(&mut self) -> Vec<Node<V>> {
        match std::mem::take(self) {
            Children::Few(v) => v.into_iter().map(|(_, n)| n).collect(),
            Children::Many(m) => m.into_values().collect(),
        }
    }
}

/// One level of the tree.
struct Node<V: Slot> {
    children: Children<V>,
    value: V,
}

impl<V: Slot> Default for Node<V> {
    fn default() -> Self {
        Node {
            children: Children::default(),
            value: V::default(),
        }
    }
}

impl<V: Slot> Node<V> {
    fn is_vacant(&self) -> bool {
        self.value.is_vacant() && self.children.is_empty()
    }
}

impl<V: Slot> Drop for Node<V> {
    /// Drops the subtree with a stack instead of recursion (a path may be very deep).
    fn drop(&mut self) {
        if self.children.is_empty() {
            return;
        }
        let mut stack = self.children.take_all();
        while let Some(mut node) = stack.pop() {
            stack.extend(node.children.take_all());
        }
    }
}

/// A tree of topic levels with a value per node. Paths are topic names or filters; the
/// tree itself gives `+` and `#` no meaning except in [`TopicTree::for_each_match`].
pub struct TopicTree<V: Slot> {
    root: Node<V>,
}

impl<V: Slot> Default for TopicTree<V> {
    fn default() -> Self {
        TopicTree {
            root: Node::default(),
        }
    }
}

impl<V: Slot + std::fmt::Debug> std::fmt::Debug for TopicTree<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopicTree")
            .field("root_children", &self.root.children.len())
            .finish()
    }
}

impl<V: Slot> TopicTree<V> {
    /// The value at `path`, created (vacant) with the nodes leading to it if missing.
    pub fn get_or_insert(&mut self, path: &str) -> &mut V {
        let mut node = &mut self.root;
        for level in path.split('/') {
            node = node.children.get_or_insert(level);
        }
        &mut node.value
    }

    /// The value at `path`, if the node exists.
    pub fn get(&self, path: &str) -> Option<&V> {
        let mut node = &self.root;
        for level in path.split('/') {
            node = node.children.get(level)?;
        }
        Some(&node.value)
    }

    /// Calls `change` on the value at `path` (if the node exists) and removes the nodes the
    /// change left vacant, up to the first that still holds something.
    pub fn update<R>(&mut self, path: &str, change: impl FnOnce(&mut V) -> R) -> Option<R> {
        // The shallowest node from which everything below on the path would be vacant if the
        // target were: cutting its child there drops the whole vacant chain. `cut` is the
        // depth of the node whose child is cut.
        let mut cut = 0;
        {
            let mut node = &self.root;
            for (depth, level) in path.split('/').enumerate() {
                if depth > 0 && (!node.value.is_vacant() || node.children.len() > 1) {
                    cut = depth;
                }
                node = node.children.get(level)?;
            }
        }
        let mut node = &mut self.root;
        for level in path.split('/') {
            node = node.children.get_mut(level)?;
        }
        let result = change(&mut node.value);
        if node.is_vacant() {
            let mut parent = &mut self.root;
            let mut levels = path.split('/');
            for level in levels.by_ref().take(cut) {
                parent = parent.children.get_mut(level)?;
            }
            if let Some(level) = levels.next() {
                // Dropped without recursion (`Node::drop`).
                parent.children.remove(level);
            }
        }
        Some(result)
    }

    /// Calls `found` with the value of every filter in the tree that matches the topic name
    /// `topic` (`+` one level, `#` any number including none, `a/#` also matching `a`);
    /// wildcards at the first level do not match topics starting with `$` `[MQTT-4.7.2-1]`.
    pub fn for_each_match<'a>(&'a self, topic: &str, mut found: impl FnMut(&'a V)) {
        let dollar = topic.starts_with('$');
        // (node, index of the first level below it, whether it is the root).
        let levels: smallvec::SmallVec<[&str; 16]> = topic.split('/').collect();
        let mut stack: smallvec::SmallVec<[(&'a Node<V>, usize); 16]> = smallvec::SmallVec::new();
        stack.push((&self.root, 0));
        while let Some((node, depth)) = stack.pop() {
            let wildcards = !(depth == 0 && dollar);
            if wildcards && let Some(hash) = node.children.get("#") {
                found(&hash.value);
            }
            let Some(level) = levels.get(depth) else {
                found(&node.value);
                continue;
            };
            if wildcards && let Some(plus) = node.children.get("+") {
                stack.push((plus, depth + 1));
            }
            if let Some(child) = node.children.get(level) {
                stack.push((child, depth + 1));
            }
        }
    }

    /// Calls `visit` with the path and value of every node whose value is not vacant, in no
    /// particular order.
    pub fn for_each(&self, mut visit: impl FnMut(&str, &V)) {
        // Depth-first with a stack of child iterators; `path` is the current node's path.
        let mut path = String::new();
        let mut stack = vec![(self.root.children.iter(), 0usize)];
        while let Some((children, _)) = stack.last_mut() {
            let Some((level, child)) = children.next() else {
                if let Some((_, len)) = stack.pop() {
                    path.truncate(len);
                }
                continue;
            };
            let len = path.len();
            if stack.len() > 1 {
                path.push('/');
            }
            path.push_str(level);
            if !child.value.is_vacant() {
                visit(&path, &child.value);
            }
            if child.children.is_empty() {
                path.truncate(len);
            } else {
                stack.push((child.children.iter(), len));
            }
        }
    }

    /// True if the tree holds no node.
    pub fn is_empty(&self) -> bool {
        self.root.is_vacant()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(paths: &[&str]) -> TopicTree<Vec<String>> {
        let mut t = TopicTree::<Vec<String>>::default();
        for p in paths {
            t.get_or_insert(p).push(p.to_string());
        }
        t
    }

    fn matched(t: &TopicTree<Vec<String>>, topic: &str) -> Vec<String> {
        let mut out = Vec::new();
        t.for_each_match(topic, |v| out.extend(v.iter().cloned()));
        out.sort();
        out
    }

    #[test]
    fn matches_wildcards_as_the_spec_says() {
        let t = tree(&["a/b", "a/+", "a/#", "#", "+/+", "+", "$SYS/#", "a/b/c"]);
        assert_eq!(matched(&t, "a/b"), ["#", "+/+", "a/#", "a/+", "a/b"]);
        assert_eq!(matched(&t, "a"), ["#", "+", "a/#"]);
        assert_eq!(matched(&t, "$SYS/x"), ["$SYS/#"]);
        assert_eq!(matched(&t, "a/b/c"), ["#", "a/#", "a/b/c"]);
        assert_eq!(matched(&t, "/"), ["#", "+/+"]);
    }

    #[test]
    fn removal_prunes_only_what_became_vacant() {
        let mut t = tree(&["a/b/c", "a/b", "a/x/y"]);
        assert_eq!(t.update("a/b/c", |v| v.clear()), Some(()));
        assert!(t.get("a/b/c").is_none());
        assert!(t.get("a/b").is_some());
        t.update("a/b", |v| v.clear());
        assert!(t.get("a/b").is_none() && t.get("a/x/y").is_some());
        t.update("a/x/y", |v| v.clear());
        assert!(t.is_empty());
        assert_eq!(t.update("nothing/here", |v| v.clear()), None);
    }

    #[test]
    fn many_children_switch_to_a_map_and_back() {
        let names: Vec<String> = (0..100).map(|i| format!("r/{i}")).collect();
        let mut t = TopicTree::<Vec<String>>::default();
        for n in &names {
            t.get_or_insert(n).push(n.clone());
        }
        assert_eq!(matched(&t, "r/57"), ["r/57"]);
        for n in &names[..98] {
            t.update(n, |v| v.clear());
        }
        assert_eq!(matched(&t, "r/99"), ["r/99"]);
        let mut listed = Vec::new();
        t.for_each(|p, _| listed.push(p.to_string()));
        listed.sort();
        assert_eq!(listed, ["r/98", "r/99"]);
    }

    #[test]
    fn a_million_levels_neither_overflow_nor_crawl() {
        let deep = vec!["a"; 1_000_000].join("/");
        let plus = vec!["+"; 1_000_000].join("/");
        let mut t = tree(&[&deep, &plus, "a/#"]);
        assert_eq!(matched(&t, &deep).len(), 3);
        let mut n = 0;
        t.for_each(|_, _| n += 1);
        assert_eq!(n, 3);
        t.update(&deep, |v| v.clear());
        assert!(t.get(&deep).is_none());
        assert!(t.get(&plus).is_some());
        drop(t);
    }
}
