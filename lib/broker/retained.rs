//! Retained messages: the last retained message of each topic, sent to new subscribers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use parking_lot::RwLock;

use super::message::Message;
use crate::mqtt::MqttString;
use crate::mqtt::topic::matches;

/// The retained message of every topic that has one.
#[derive(Debug, Default)]
pub struct RetainedStore {
    messages: RwLock<HashMap<MqttString, Retained>>,
}

/// One retained message and when it was stored (shown by the HTTP API; after a restart, the
/// time it was loaded).
#[derive(Debug, Clone)]
struct Retained {
    message: Arc<Message>,
    created: SystemTime,
}

impl RetainedStore {
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
            map.remove(&message.topic).map_or(0, |_| -1)
        } else {
            // Kept for long: copy topic and payload out of the publisher's read buffer.
            let kept = Arc::new(Message {
                topic: message.topic.detached(),
                payload: bytes::Bytes::copy_from_slice(&message.payload),
                ..Message::clone(message)
            });
            record(Some(kept.clone()));
            map.insert(
                kept.topic.clone(),
                Retained {
                    message: kept,
                    created: SystemTime::now(),
                },
            )
            .map_or(1, |_| 0)
        }
    }

    /// A retained message another node stored at `at`: kept (or, with an empty payload, the
    /// topic cleared) unless this store holds a newer one for the topic. Last writer wins, by
    /// the nodes' clocks. Returns the change in the number of retained messages.
    pub fn set_if_newer(&self, message: &Arc<Message>, at: SystemTime) -> i64 {
        let mut map = self.messages.write();
        if map.get(&message.topic).is_some_and(|r| r.created > at) {
            return 0;
        }
        if message.payload.is_empty() {
            return map.remove(&message.topic).map_or(0, |_| -1);
        }
        let kept = Arc::new(Message {
            topic: message.topic.detached(),
            payload: bytes::Bytes::copy_from_slice(&message.payload),
            ..Message::clone(message)
        });
        map.insert(
            kept.topic.clone(),
            Retained {
                message: kept,
                created: at,
            },
        )
        .map_or(1, |_| 0)
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

    /// The unexpired retained messages whose topics match `filter`.
    pub fn matching(&self, filter: &str) -> Vec<Arc<Message>> {
        let now = Instant::now();
        self.messages
            .read()
            .values()
            .map(|r| &r.message)
            .filter(|m| !m.is_expired(now) && matches(filter, &m.topic))
            .cloned()
            .collect()
    }

    /// One page of retained messages with the time each was stored, sorted by topic, `$SYS`
    /// excluded, and the total count.
    pub fn page(&self, page: usize, page_size: usize) -> (Vec<(Arc<Message>, SystemTime)>, usize) {
        let now = Instant::now();
        let map = self.messages.read();
        let mut all: Vec<&Retained> = map
            .values()
            .filter(|r| !r.message.topic.starts_with("$SYS") && !r.message.is_expired(now))
            .collect();
        all.sort_by(|a, b| a.message.topic.cmp(&b.message.topic));
        let total = all.len();
        let items = all
            .into_iter()
            .skip(page.saturating_sub(1) * page_size)
            .take(page_size)
            .map(|r| (r.message.clone(), r.created))
            .collect();
        (items, total)
    }

    /// Removes the retained message of `topic`, calling `record` under the lock if there was
    /// one; true if there was one.
    pub fn remove(&self, topic: &str, record: impl FnOnce()) -> bool {
        let mut map = self.messages.write();
        let removed = map.remove(topic).is_some();
        if removed {
            record();
        }
        removed
    }

    /// Drops expired messages; returns how many.
    pub fn purge_expired(&self, now: Instant) -> usize {
        let mut map = self.messages.write();
        let before = map.len();
        map.retain(|_, r| !r.message.is_expired(now));
        before - map.len()
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
