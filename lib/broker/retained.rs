//! Retained messages: the last retained message of each topic, sent to new subscribers. In
//! a cluster, also when each recently cleared topic was cleared (a tombstone), so that an older
//! message from another node that arrives after the clear does not bring the topic back.
//! Messages with an expiry are indexed by it, so purging looks only at those that are due.
//! Topics are kept in order, so the messages matching a filter are found from the filter's
//! literal prefix on, and a new subscription can take them a chunk at a time
//! ([`RetainedStore::scan`]) at the pace its client reads.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use parking_lot::RwLock;

use super::deadlines::{Deadlines, take_due};
use super::message::Message;
use crate::mqtt::MqttString;
use crate::mqtt::topic::matches;

/// How long a cleared topic's tombstone is kept: longer than a message can take from another
/// node (a node's queue is given up after 60 s).
const TOMBSTONE_KEEP: Duration = Duration::from_secs(300);

/// Retained messages by topic, in topic order.
type Messages = BTreeMap<MqttString, Retained>;

/// The retained message of every topic that has one.
#[derive(Debug, Default)]
pub struct RetainedStore {
    messages: RwLock<Messages>,
    /// When the messages with an expiry expire, soonest first (locked under `messages`).
    expiring: parking_lot::Mutex<Deadlines>,
    /// When recently cleared topics were cleared (in a cluster only). Locked after
    /// `messages`, never alone while changing it.
    cleared: parking_lot::Mutex<HashMap<MqttString, SystemTime>>,
    /// Tombstones are kept (the broker is part of a cluster).
    tombstones: AtomicBool,
}

/// One retained message and when it was stored (shown by the HTTP API; after a restart, the
/// time it was loaded).
#[derive(Debug, Clone)]
struct Retained {
    message: Arc<Message>,
    created: SystemTime,
    /// When this store took it (this node's clock, which cursors compare with).
    stored: Instant,
}

impl RetainedStore {
    /// Keeps tombstones of cleared topics from now on (a cluster node's broker).
    pub fn keep_tombstones(&self) {
        self.tombstones.store(true, Ordering::Relaxed);
    }

    /// Notes that `topic` was cleared at `at`, in a cluster.
    fn bury(&self, topic: &MqttString, at: SystemTime) {
        if self.tombstones.load(Ordering::Relaxed) {
            let mut cleared = self.cleared.lock();
            let t = cleared.entry(topic.detached()).or_insert(at);
            *t = (*t).max(at);
        }
    }

    /// True if `topic` was cleared after `at`.
    fn cleared_after(&self, topic: &str, at: SystemTime) -> bool {
        self.tombstones.load(Ordering::Relaxed)
            && self.cleared.lock().get(topic).is_some_and(|t| *t > at)
    }

    /// Stores `message` as its topic's retained message, or clears the topic when the payload
    /// is empty `[MQTT-3.3.1-10]`. Returns the change in the number of retained messages.
    pub fn set(&self, message: &Arc<Message>) -> i64 {
        self.set_recorded(message, |_| {})
    }

    /// [`RetainedStore::set`], calling `record` with the message kept (`None`: the topic was
    /// cleared) while the store is still locked, so records of concurrent updates of one topic
    /// are made in the order the updates took effect.
    pub fn set_recorded(
        &self,
        message: &Arc<Message>,
        record: impl FnOnce(Option<Arc<Message>>),
    ) -> i64 {
        let mut map = self.messages.write();
        if message.payload.is_empty() {
            record(None);
            // A tombstone only where there was a message (clearing nothing leaves nothing).
            let delta = self.take(&mut map, &message.topic);
            if delta != 0 {
                self.bury(&message.topic, SystemTime::now());
            }
            delta
        } else {
            // Kept for long: copy topic and payload out of the publisher's read buffer.
            let kept = Arc::new(Message {
                topic: message.topic.detached(),
                payload: bytes::Bytes::copy_from_slice(&message.payload),
                origin: None,
                ..Message::clone(message)
            });
            record(Some(kept.clone()));
            if self.tombstones.load(Ordering::Relaxed) {
                // Set again: newer than its clearing.
                self.cleared.lock().remove(&kept.topic);
            }
            self.put(&mut map, kept, SystemTime::now())
        }
    }

    /// A retained message another node stored at `at`: kept (or, with an empty payload, the
    /// topic cleared) unless this store holds a newer one for the topic or cleared it later.
    /// Last writer wins, by the nodes' clocks. Returns the change in the number of retained
    /// messages.
    pub fn set_if_newer(&self, message: &Arc<Message>, at: SystemTime) -> i64 {
        let mut map = self.messages.write();
        if map.get(&message.topic).is_some_and(|r| r.created > at)
            || self.cleared_after(&message.topic, at)
        {
            return 0;
        }
        if message.payload.is_empty() {
            self.bury(&message.topic, at);
            return self.take(&mut map, &message.topic);
        }
        let kept = Arc::new(Message {
            topic: message.topic.detached(),
            payload: bytes::Bytes::copy_from_slice(&message.payload),
            origin: None,
            ..Message::clone(message)
        });
        self.put(&mut map, kept, at)
    }

    /// Keeps `kept` as its topic's message (in the locked `map`), indexing its expiry;
    /// returns the change in the number of retained messages.
    fn put(&self, map: &mut Messages, kept: Arc<Message>, created: SystemTime) -> i64 {
        let (topic, expires_at) = (kept.topic.clone(), kept.expires_at);
        let old = map.insert(
            topic.clone(),
            Retained {
                message: kept,
                created,
                stored: Instant::now(),
            },
        );
        // The old one leaves the index before the new one enters (they may expire at once).
        if let Some(old) = &old {
            self.unindex(old);
        }
        if let Some(at) = expires_at {
            self.expiring.lock().insert((at, topic));
        }
        if old.is_some() { 0 } else { 1 }
    }

    /// Removes the message of `topic` from the locked `map`; returns the change in the
    /// number of retained messages.
    fn take(&self, map: &mut Messages, topic: &str) -> i64 {
        match map.remove(topic) {
            Some(old) => {
                self.unindex(&old);
                -1
            }
            None => 0,
        }
    }

    /// Takes a message that is no longer kept out of the expiry index.
    fn unindex(&self, old: &Retained) {
        if let Some(at) = old.message.expires_at {
            let mut expiring = self.expiring.lock();
            expiring.remove(&(at, old.message.topic.clone()));
        }
    }

    /// Every unexpired retained message with when it was stored (`$SYS` left out), for a node
    /// that joins the cluster.
    pub fn all(&self) -> Vec<(Arc<Message>, SystemTime)> {
        let now = Instant::now();
        self.messages
            .read()
            .values()
            .filter(|r| !r.message.topic.starts_with("$SYS") && !r.message.is_expired(now))
            .map(|r| (r.message.clone(), r.created))
            .collect()
    }

    /// The unexpired retained messages whose topics match `filter`, all at once (tests and
    /// small stores; a subscription takes them with [`RetainedStore::scan`]).
    pub fn matching(&self, filter: &str) -> Vec<Arc<Message>> {
        let mut out = Vec::new();
        let mut cursor = RetainedCursor::new(filter, Instant::now());
        while !cursor.is_done() {
            out.extend(self.scan(&mut cursor, usize::MAX, usize::MAX));
        }
        out
    }

    /// The next unexpired messages matching the cursor's filter, in topic order: at most
    /// `max` of them, looking at most at `budget` topics (the store's lock is held that
    /// long). Moves the cursor past what it looked at; [`RetainedCursor::is_done`] tells
    /// when every topic has been seen. Messages stored after the cursor's `since` are left
    /// out: the subscription received them as they were published.
    pub fn scan(
        &self,
        cursor: &mut RetainedCursor,
        max: usize,
        budget: usize,
    ) -> Vec<Arc<Message>> {
        let now = Instant::now();
        let map = self.messages.read();
        let prefix = cursor.prefix();
        let start = match &cursor.after {
            Some(after) => Bound::Excluded(after.as_str()),
            None => Bound::Included(prefix),
        };
        let mut out = Vec::new();
        let mut looked = 0;
        let mut last = None;
        let mut range = map.range::<str, _>((start, Bound::Unbounded));
        loop {
            if out.len() >= max || looked >= budget {
                // More may follow: resume after the last topic looked at.
                cursor.after = last.or(cursor.after.take());
                return out;
            }
            let Some((topic, r)) = range.next() else {
                break;
            };
            if !topic.starts_with(prefix) {
                break;
            }
            looked += 1;
            last = Some(topic.clone());
            if r.stored <= cursor.since
                && !r.message.is_expired(now)
                && matches(&cursor.filter, topic)
            {
                out.push(r.message.clone());
            }
        }
        cursor.done = true;
        out
    }

    /// One page of retained messages with the time each was stored, sorted by topic, `$SYS`
    /// excluded, and the total count.
    pub fn page(&self, page: usize, page_size: usize) -> (Vec<(Arc<Message>, SystemTime)>, usize) {
        let now = Instant::now();
        let map = self.messages.read();
        let listed =
            |r: &&Retained| !r.message.topic.starts_with("$SYS") && !r.message.is_expired(now);
        let total = map.values().filter(listed).count();
        let items = map
            .values()
            .filter(listed)
            .skip(page.saturating_sub(1).saturating_mul(page_size))
            .take(page_size)
            .map(|r| (r.message.clone(), r.created))
            .collect();
        (items, total)
    }

    /// Removes the retained message of `topic`, calling `record` under the lock if there was
    /// one; true if there was one.
    pub fn remove(&self, topic: &str, record: impl FnOnce()) -> bool {
        let mut map = self.messages.write();
        let removed = self.take(&mut map, topic) != 0;
        if removed {
            self.bury(&MqttString::from(topic), SystemTime::now());
            record();
        }
        removed
    }

    /// Drops expired messages (returns how many) and old tombstones.
    pub fn purge_expired(&self, now: Instant) -> usize {
        let mut map = self.messages.write();
        let due = take_due(&mut self.expiring.lock(), now);
        let mut purged = 0;
        for topic in due {
            if map.get(&topic).is_some_and(|r| r.message.is_expired(now)) {
                map.remove(&topic);
                purged += 1;
            }
        }
        drop(map);
        let mut cleared = self.cleared.lock();
        if !cleared.is_empty() {
            let wall = SystemTime::now();
            cleared.retain(|_, at| {
                wall.duration_since(*at)
                    .map_or(true, |d| d < TOMBSTONE_KEEP)
            });
        }
        purged
    }

    /// Number of retained messages.
    pub fn len(&self) -> usize {
        self.messages.read().len()
    }

    /// True if there is none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Where a subscription's delivery of the retained messages matching its filter stands:
/// the filter, the last topic looked at, and when the subscription was made.
#[derive(Debug, Clone)]
pub struct RetainedCursor {
    filter: Box<str>,
    /// Length of the filter's literal prefix (the levels before the first wildcard): only
    /// topics starting with it can match.
    prefix_len: usize,
    /// The last topic looked at.
    after: Option<MqttString>,
    /// Messages stored later reached the subscription as they were published.
    since: Instant,
    /// Every topic has been looked at.
    done: bool,
}

impl RetainedCursor {
    /// A cursor before the first topic that may match `filter`, for a subscription made at
    /// `since`.
    pub fn new(filter: &str, since: Instant) -> RetainedCursor {
        let wildcard = filter
            .split('/')
            .scan(0, |at, level| {
                let start = *at;
                *at += level.len() + 1;
                Some((start, level))
            })
            .find(|(_, level)| *level == "+" || *level == "#");
        let prefix_len = match wildcard {
            // "a/b/+" -> "a/b" (the separator too would miss "a/b" itself for "a/b/#").
            Some((start, _)) => start.saturating_sub(1),
            None => filter.len(),
        };
        RetainedCursor {
            filter: filter.into(),
            prefix_len,
            after: None,
            since,
            done: false,
        }
    }

    fn prefix(&self) -> &str {
        &self.filter[..self.prefix_len]
    }

    /// The filter it delivers for.
    pub fn filter(&self) -> &str {
        &self.filter
    }

    /// True once every topic that may match has been looked at.
    pub fn is_done(&self) -> bool {
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::{Publish, QoS};

    fn retained(topic: &str, payload: &[u8]) -> Arc<Message> {
        let mut p = Publish::new(topic, QoS::AtMostOnce, payload.to_vec());
        p.retain = true;
        Arc::new(Message::from_publish(p, None, 0))
    }

    fn payload(store: &RetainedStore, topic: &str) -> Option<Vec<u8>> {
        store.matching(topic).first().map(|m| m.payload.to_vec())
    }

    fn cluster_store() -> RetainedStore {
        let store = RetainedStore::default();
        store.keep_tombstones();
        store
    }

    #[test]
    fn a_cursor_takes_the_matching_messages_in_chunks_and_skips_later_ones() {
        let store = RetainedStore::default();
        for t in ["a", "a/b", "a/b/c", "a/x/c", "ab", "b/c", "$SYS/a"] {
            store.set(&retained(t, b"x"));
        }
        let topics = |filter: &str| -> Vec<String> {
            let mut v: Vec<String> = store
                .matching(filter)
                .iter()
                .map(|m| m.topic.to_string())
                .collect();
            v.sort();
            v
        };
        assert_eq!(topics("a/#"), ["a", "a/b", "a/b/c", "a/x/c"]);
        assert_eq!(topics("a/+/c"), ["a/b/c", "a/x/c"]);
        assert_eq!(topics("#"), ["a", "a/b", "a/b/c", "a/x/c", "ab", "b/c"]);
        assert_eq!(topics("+/c"), ["b/c"]);
        assert_eq!(topics("ab"), ["ab"]);
        assert_eq!(topics("$SYS/#"), ["$SYS/a"]);
        // One message per call, at most two topics looked at per call.
        let mut cursor = RetainedCursor::new("#", Instant::now());
        let mut got = Vec::new();
        let mut calls = 0;
        while !cursor.is_done() {
            got.extend(
                store
                    .scan(&mut cursor, 1, 2)
                    .iter()
                    .map(|m| m.topic.to_string()),
            );
            calls += 1;
        }
        assert_eq!(got, ["a", "a/b", "a/b/c", "a/x/c", "ab", "b/c"]);
        assert!(calls >= 6);
        // A message stored after the subscription is not sent again by the cursor.
        let before = Instant::now().checked_sub(Duration::from_secs(60));
        let mut cursor = RetainedCursor::new("#", before.unwrap_or_else(Instant::now));
        assert!(store.scan(&mut cursor, usize::MAX, usize::MAX).is_empty());
    }

    #[test]
    fn an_older_message_from_another_node_does_not_undo_a_later_clear() {
        let store = cluster_store();
        let then = SystemTime::now() - Duration::from_secs(1);
        store.set(&retained("t", b"old"));
        // Cleared here, then another node's message stored before the clear arrives.
        assert_eq!(store.set(&retained("t", b"")), -1);
        assert_eq!(store.set_if_newer(&retained("t", b"late"), then), 0);
        assert_eq!(payload(&store, "t"), None);
        // A message stored after the clear is kept.
        let later = SystemTime::now() + Duration::from_secs(1);
        assert_eq!(store.set_if_newer(&retained("t", b"new"), later), 1);
        assert_eq!(payload(&store, "t"), Some(b"new".to_vec()));
    }

    #[test]
    fn a_clear_from_another_node_is_remembered_too() {
        let store = cluster_store();
        let (t0, t1) = (
            SystemTime::now() - Duration::from_secs(2),
            SystemTime::now() - Duration::from_secs(1),
        );
        assert_eq!(store.set_if_newer(&retained("t", b""), t1), 0);
        assert_eq!(store.set_if_newer(&retained("t", b"older"), t0), 0);
        assert_eq!(payload(&store, "t"), None);
        // Set here after it: kept, and the tombstone is gone.
        assert_eq!(store.set(&retained("t", b"here")), 1);
        assert!(store.cleared.lock().is_empty());
    }

    #[test]
    fn removing_through_the_api_leaves_a_tombstone() {
        let store = cluster_store();
        let then = SystemTime::now() - Duration::from_secs(1);
        store.set(&retained("t", b"x"));
        assert!(store.remove("t", || {}));
        assert_eq!(store.set_if_newer(&retained("t", b"late"), then), 0);
    }

    #[test]
    fn old_tombstones_are_purged_and_a_single_node_keeps_none() {
        let store = cluster_store();
        let long_ago = SystemTime::now() - TOMBSTONE_KEEP - Duration::from_secs(1);
        store.set_if_newer(&retained("old", b""), long_ago);
        store.set_if_newer(&retained("recent", b""), SystemTime::now());
        store.purge_expired(Instant::now());
        let cleared = store.cleared.lock();
        assert!(!cleared.contains_key("old") && cleared.contains_key("recent"));
        drop(cleared);
        let single = RetainedStore::default();
        single.set(&retained("t", b"x"));
        single.set(&retained("t", b""));
        assert!(single.cleared.lock().is_empty());
    }

    fn expiring(topic: &str, payload: &[u8], secs: u32) -> Arc<Message> {
        let mut p = Publish::new(topic, QoS::AtMostOnce, payload.to_vec());
        p.retain = true;
        p.properties.message_expiry_interval = Some(secs);
        Arc::new(Message::from_publish(p, None, u32::MAX))
    }

    #[test]
    fn expired_messages_are_purged_when_due_and_not_before() {
        let store = RetainedStore::default();
        store.set(&expiring("a", b"1", 10));
        store.set(&retained("b", b"forever"));
        let now = Instant::now();
        assert_eq!(store.purge_expired(now), 0);
        assert_eq!(store.purge_expired(now + Duration::from_secs(11)), 1);
        assert_eq!(store.len(), 1);
        assert!(store.expiring.lock().is_empty());
    }

    #[test]
    fn a_replaced_or_cleared_message_leaves_the_expiry_index() {
        let store = RetainedStore::default();
        for _ in 0..100 {
            store.set(&expiring("a", b"again", 3600));
        }
        assert_eq!(store.expiring.lock().len(), 1);
        // Replaced by one without expiry: not purged when the old one would have expired.
        store.set(&retained("a", b"kept"));
        assert!(store.expiring.lock().is_empty());
        assert_eq!(
            store.purge_expired(Instant::now() + Duration::from_secs(3601)),
            0
        );
        assert_eq!(payload(&store, "a"), Some(b"kept".to_vec()));
        store.set(&expiring("b", b"x", 60));
        store.set(&retained("b", b""));
        assert!(store.remove("a", || {}));
        assert!(store.expiring.lock().is_empty());
    }

    #[test]
    fn the_same_message_stored_twice_stays_indexed() {
        let store = RetainedStore::default();
        let m = expiring("a", b"x", 5);
        let at = SystemTime::now();
        store.set_if_newer(&m, at);
        store.set_if_newer(&m, at);
        assert_eq!(store.expiring.lock().len(), 1);
        assert_eq!(
            store.purge_expired(Instant::now() + Duration::from_secs(6)),
            1
        );
    }
}
