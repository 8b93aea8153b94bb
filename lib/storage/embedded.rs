//! The embedded store (`--storage-way 1`, the default of `comqtt serve` once persistence is
//! on): one redb file, ACID transactions, no server to run.
//!
//! Tables (keys: client id, a 0x00 byte, then the rest; client ids never hold U+0000):
//! `sessions` client id → session record; `subscriptions` id\0filter → subscription record;
//! `messages` id\0seq(u64 BE) → delivery record; `inbound_qos2` id\0packet id(u16 BE) → empty;
//! `retained` topic → message record; `meta` `sys` → the broker's counters. Value formats:
//! [`super::record`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};

use super::record::{self, encode_delivery, encode_message, encode_session, encode_subscription};
use super::{Backend, Change, Snapshot, StoreError, StoredSession};
use crate::mqtt::MqttString;

const SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");
const SUBSCRIPTIONS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("subscriptions");
const MESSAGES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("messages");
const INBOUND: TableDefinition<&[u8], &[u8]> = TableDefinition::new("inbound_qos2");
const RETAINED: TableDefinition<&str, &[u8]> = TableDefinition::new("retained");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// The redb-backed store.
pub struct Embedded {
    db: Database,
    path: PathBuf,
}

fn key(client_id: &str, rest: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(client_id.len() + 1 + rest.len());
    k.extend_from_slice(client_id.as_bytes());
    k.push(0);
    k.extend_from_slice(rest);
    k
}

/// Splits `id\0rest`.
fn split_key(k: &[u8]) -> Option<(&str, &[u8])> {
    let i = k.iter().position(|&b| b == 0)?;
    Some((std::str::from_utf8(&k[..i]).ok()?, &k[i + 1..]))
}

impl Embedded {
    /// Opens (or creates) the file, creating its directory if needed.
    pub fn open(path: &Path) -> Result<Embedded, StoreError> {
        let open_err = |reason: String| StoreError::Open {
            store: "embedded",
            location: path.display().to_string(),
            reason,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| open_err(format!("cannot create directory {}: {e}", dir.display())))?;
        }
        let db = Database::create(path).map_err(|e| open_err(e.to_string()))?;
        let embedded = Embedded {
            db,
            path: path.to_path_buf(),
        };
        // Create the tables so that a fresh file loads.
        embedded.apply_inner(&[], true)?;
        Ok(embedded)
    }

    fn io(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError::Io {
            store: "embedded",
            location: self.path.display().to_string(),
            reason: e.to_string(),
        }
    }

    fn apply_inner(&self, changes: &[Change], durable: bool) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write().map_err(|e| self.io(e))?;
        txn.set_durability(if durable {
            Durability::Immediate
        } else {
            Durability::None
        })
        .map_err(|e| self.io(e))?;
        {
            let mut sessions = txn.open_table(SESSIONS).map_err(|e| self.io(e))?;
            let mut subs = txn.open_table(SUBSCRIPTIONS).map_err(|e| self.io(e))?;
            let mut messages = txn.open_table(MESSAGES).map_err(|e| self.io(e))?;
            let mut inbound = txn.open_table(INBOUND).map_err(|e| self.io(e))?;
            let mut retained = txn.open_table(RETAINED).map_err(|e| self.io(e))?;
            let mut meta = txn.open_table(META).map_err(|e| self.io(e))?;
            let mut buf = BytesMut::new();
            for change in changes {
                buf.clear();
                match change {
                    Change::Session { client_id, record }
                    | Change::SessionClaimed { client_id, record } => {
                        encode_session(record, &mut buf);
                        sessions
                            .insert(client_id.as_str(), &buf[..])
                            .map_err(|e| self.io(e))?;
                    }
                    Change::SessionEnded { client_id } | Change::SessionReset { client_id } => {
                        sessions
                            .remove(client_id.as_str())
                            .map_err(|e| self.io(e))?;
                        let (from, to) = (key(client_id, &[]), {
                            let mut k = client_id.as_bytes().to_vec();
                            k.push(1);
                            k
                        });
                        for table in [&mut subs, &mut messages, &mut inbound] {
                            table
                                .retain_in(from.as_slice()..to.as_slice(), |_, _| false)
                                .map_err(|e| self.io(e))?;
                        }
                    }
                    Change::Subscribed {
                        client_id,
                        filter,
                        options,
                        identifier,
                    } => {
                        encode_subscription(options, *identifier, &mut buf);
                        subs.insert(key(client_id, filter.as_bytes()).as_slice(), &buf[..])
                            .map_err(|e| self.io(e))?;
                    }
                    Change::Unsubscribed { client_id, filter } => {
                        subs.remove(key(client_id, filter.as_bytes()).as_slice())
                            .map_err(|e| self.io(e))?;
                    }
                    Change::Message {
                        client_id,
                        seq,
                        delivery,
                        packet_id,
                        stage,
                    } => {
                        encode_delivery(delivery, *packet_id, *stage, &mut buf);
                        messages
                            .insert(key(client_id, &seq.to_be_bytes()).as_slice(), &buf[..])
                            .map_err(|e| self.io(e))?;
                    }
                    Change::MessageDone { client_id, seq } => {
                        messages
                            .remove(key(client_id, &seq.to_be_bytes()).as_slice())
                            .map_err(|e| self.io(e))?;
                    }
                    // Parking needs a store shared by the nodes: never in this one.
                    Change::ParkedDone { .. }
                    | Change::SessionMoved { .. }
                    | Change::Handled { .. } => {}
                    Change::InboundQos2 {
                        client_id,
                        packet_id,
                        present,
                    } => {
                        let k = key(client_id, &packet_id.to_be_bytes());
                        if *present {
                            inbound
                                .insert(k.as_slice(), &[][..])
                                .map_err(|e| self.io(e))?;
                        } else {
                            inbound.remove(k.as_slice()).map_err(|e| self.io(e))?;
                        }
                    }
                    Change::Retained { topic, message } => match message {
                        Some(m) => {
                            encode_message(m, &mut buf);
                            retained
                                .insert(topic.as_str(), &buf[..])
                                .map_err(|e| self.io(e))?;
                        }
                        None => {
                            retained.remove(topic.as_str()).map_err(|e| self.io(e))?;
                        }
                    },
                    Change::Sys(sys) => {
                        record::encode_sys(sys, &mut buf);
                        meta.insert("sys", &buf[..]).map_err(|e| self.io(e))?;
                    }
                }
            }
        }
        txn.commit().map_err(|e| self.io(e))
    }
}

impl Backend for Embedded {
    fn load(&mut self) -> Result<Snapshot, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.io(e))?;
        let mut sessions: BTreeMap<String, StoredSession> = BTreeMap::new();
        let table = txn.open_table(SESSIONS).map_err(|e| self.io(e))?;
        for row in table.iter().map_err(|e| self.io(e))? {
            let (k, v) = row.map_err(|e| self.io(e))?;
            let record = record::decode_session(&mut Bytes::copy_from_slice(v.value()))?;
            let id = k.value().to_string();
            sessions.insert(
                id.clone(),
                StoredSession {
                    client_id: MqttString::from(id),
                    record,
                    subscriptions: Vec::new(),
                    messages: Vec::new(),
                    inbound_qos2: Vec::new(),
                    owner: None,
                    parked: Vec::new(),
                },
            );
        }
        let table = txn.open_table(SUBSCRIPTIONS).map_err(|e| self.io(e))?;
        for row in table.iter().map_err(|e| self.io(e))? {
            let (k, v) = row.map_err(|e| self.io(e))?;
            let (id, filter) =
                split_key(k.value()).ok_or(StoreError::Corrupt("subscription key"))?;
            let filter = std::str::from_utf8(filter)
                .map_err(|_| StoreError::Corrupt("subscription filter"))?;
            let (options, identifier) =
                record::decode_subscription(&mut Bytes::copy_from_slice(v.value()))?;
            if let Some(s) = sessions.get_mut(id) {
                s.subscriptions
                    .push((MqttString::from(filter), options, identifier));
            }
        }
        let table = txn.open_table(MESSAGES).map_err(|e| self.io(e))?;
        for row in table.iter().map_err(|e| self.io(e))? {
            let (k, v) = row.map_err(|e| self.io(e))?;
            let (id, seq) = split_key(k.value()).ok_or(StoreError::Corrupt("message key"))?;
            let seq = u64::from_be_bytes(
                seq.try_into()
                    .map_err(|_| StoreError::Corrupt("message sequence"))?,
            );
            let delivery = record::decode_delivery(&mut Bytes::copy_from_slice(v.value()))?;
            if let Some(s) = sessions.get_mut(id) {
                s.messages.push((seq, delivery));
            }
        }
        let table = txn.open_table(INBOUND).map_err(|e| self.io(e))?;
        for row in table.iter().map_err(|e| self.io(e))? {
            let (k, _) = row.map_err(|e| self.io(e))?;
            let (id, pid) = split_key(k.value()).ok_or(StoreError::Corrupt("inbound key"))?;
            let pid = u16::from_be_bytes(
                pid.try_into()
                    .map_err(|_| StoreError::Corrupt("inbound packet id"))?,
            );
            if let Some(s) = sessions.get_mut(id) {
                s.inbound_qos2.push(pid);
            }
        }
        let mut retained = Vec::new();
        let table = txn.open_table(RETAINED).map_err(|e| self.io(e))?;
        for row in table.iter().map_err(|e| self.io(e))? {
            let (_, v) = row.map_err(|e| self.io(e))?;
            retained.push(record::decode_message(&mut Bytes::copy_from_slice(
                v.value(),
            ))?);
        }
        let table = txn.open_table(META).map_err(|e| self.io(e))?;
        let sys = match table.get("sys").map_err(|e| self.io(e))? {
            Some(v) => Some(record::decode_sys(&mut Bytes::copy_from_slice(v.value()))?),
            None => None,
        };
        Ok(Snapshot {
            sessions: sessions.into_values().collect(),
            retained,
            sys,
        })
    }

    fn apply(&mut self, changes: &[Change], durable: bool) -> Result<(), StoreError> {
        self.apply_inner(changes, durable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::message::{Delivery, Message};
    use crate::broker::session::Stage;
    use crate::mqtt::{Publish, QoS, SubscriptionOptions};
    use std::sync::Arc;

    fn msg(topic: &str) -> Arc<Message> {
        Arc::new(Message::from_publish(
            Publish::new(topic, QoS::AtLeastOnce, &b"x"[..]),
            None,
            100,
        ))
    }

    #[test]
    fn changes_survive_reopening_and_session_end_removes_everything() {
        let dir = std::env::temp_dir().join(format!("comqtt-redb-{}", std::process::id()));
        let path = dir.join("t.redb");
        let _ = std::fs::remove_dir_all(&dir);
        let id = MqttString::from("c1");
        {
            let mut e = Embedded::open(&path).unwrap();
            let d = Delivery {
                message: msg("a"),
                qos: QoS::AtLeastOnce,
                retain: false,
                subscription_ids: vec![],
                seq: 0,
            };
            e.apply(
                &[
                    Change::Session {
                        client_id: id.clone(),
                        record: record::SessionRecord {
                            expiry_interval: 60,
                            last_seen: 1,
                            online: false,
                            protocol_level: 4,
                            will: None,
                        },
                    },
                    Change::Subscribed {
                        client_id: id.clone(),
                        filter: "a/#".into(),
                        options: SubscriptionOptions::qos(QoS::AtLeastOnce),
                        identifier: None,
                    },
                    Change::Message {
                        client_id: id.clone(),
                        seq: 7,
                        delivery: d.clone(),
                        packet_id: 0,
                        stage: None,
                    },
                    Change::Message {
                        client_id: id.clone(),
                        seq: 8,
                        delivery: d,
                        packet_id: 3,
                        stage: Some(Stage::AwaitPubAck),
                    },
                    Change::MessageDone {
                        client_id: id.clone(),
                        seq: 7,
                    },
                    Change::InboundQos2 {
                        client_id: id.clone(),
                        packet_id: 9,
                        present: true,
                    },
                    Change::Retained {
                        topic: "r".into(),
                        message: Some(msg("r")),
                    },
                ],
                true,
            )
            .unwrap();
        }
        let mut e = Embedded::open(&path).unwrap();
        let s = e.load().unwrap();
        assert_eq!(s.sessions.len(), 1);
        let loaded = &s.sessions[0];
        assert_eq!(loaded.subscriptions.len(), 1);
        assert_eq!(loaded.messages.len(), 1);
        assert_eq!(
            (loaded.messages[0].0, loaded.messages[0].1.packet_id),
            (8, 3)
        );
        assert_eq!(loaded.inbound_qos2, vec![9]);
        assert_eq!(s.retained.len(), 1);
        e.apply(&[Change::SessionEnded { client_id: id }], true)
            .unwrap();
        let s = e.load().unwrap();
        assert!(s.sessions.is_empty());
        drop(e);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn corrupt_file_is_an_error_naming_the_file() {
        let path = std::env::temp_dir().join(format!("comqtt-corrupt-{}.redb", std::process::id()));
        std::fs::write(&path, b"this is not a redb file at all, just garbage bytes").unwrap();
        let err = Embedded::open(&path)
            .err()
            .expect("garbage must not open")
            .to_string();
        assert!(err.contains(path.to_str().unwrap()), "{err}");
        let _ = std::fs::remove_file(&path);
    }
}
