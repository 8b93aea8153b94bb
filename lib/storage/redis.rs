//! The Redis store (`--storage-way 3`), with the original's key layout; values use our
//! record format ([`super::record`]):
//!
//! | key | type | field → value |
//! | --- | --- | --- |
//! | `<prefix>:cl` | hash | client id → session record |
//! | `<prefix>:sub:<client id>` | hash | topic filter → subscription record |
//! | `<prefix>:ifm:<client id>` | hash | sequence number (decimal) → delivery record |
//! | `<prefix>:in2:<client id>` | set | inbound QoS 2 packet ids (decimal) |
//! | `<prefix>:ret` | hash | topic → message record |
//! | `<prefix>:sys` | hash | `counters` (a cluster node: its name) → the broker's cumulative counters |
//! | `<prefix>:parked` | set | client ids whose `ifm` may hold parked messages |
//! | `<prefix>:moved:<node>` | set | client ids whose sessions other nodes took over from `node` while it was away |
//! | `<prefix>:handled:<node>` | hash | sender node → `<epoch>:<number>`: how far `node` durably handled that sender's forwarded messages |
//! | `<prefix>:handledat:<node>:<client id>` | hash | `handled:<node>` as it was when the session moved away from `node` |
//!
//! A message another node parked for a session whose node was away is a field of the
//! session's `ifm` hash named `p:<unix ms>:<origin node>:<epoch>:<sequence>:r<receiver, hex>`
//! (`n` instead of `r` when it was never sent to the receiver; ordered by when it was parked,
//! unique to the message); the session's node takes such fields
//! in as its own messages when it finds the client in `parked`. A message the node it was sent
//! to recorded as handled (`handled`) is not parked for a session that was that node's.
//!
//! In a cluster every node shares these keys. A session record then ends with the name of the
//! node that holds the session (`owner_len:u16 owner`): a node restarting restores only its
//! own sessions, and a client whose node is gone finds its session with [`RedisStore::load_session`].
//!
//! Each batch of changes is one `MULTI`/`EXEC` pipeline. A lost connection is reopened on the
//! next batch; the writer thread retries the batch with backoff until Redis is back. How
//! durable a commit is depends on the Redis server's own persistence settings.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use redis::{Client, Commands, Connection};

use super::record::{self, encode_delivery, encode_message, encode_session, encode_subscription};
use super::{
    Backend, Change, OwnedSession, PARKED_PREFIX, Parcel, ParkOutcome, Snapshot, StoreError,
    StoredSession,
};
use crate::mqtt::MqttString;

/// How long to wait for Redis to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one command may take before the connection counts as broken.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Where Redis is and how to log in.
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// `host:port`.
    pub addr: String,
    /// ACL user name, if any.
    pub username: String,
    /// Password, if any.
    pub password: String,
    /// Database number.
    pub db: i64,
    /// Key prefix (`comqtt`).
    pub prefix: String,
    /// In a cluster, this node's name: written into session records as their owner, and the
    /// field of its counters.
    pub node: Option<String>,
}

/// The Redis-backed store.
pub struct RedisStore {
    client: Client,
    conn: Option<Connection>,
    options: RedisOptions,
}

impl RedisStore {
    /// Connects (failing fast with the address in the error when Redis cannot be reached).
    pub fn open(options: RedisOptions) -> Result<RedisStore, StoreError> {
        let url = redis_url(&options).ok_or_else(|| StoreError::Open {
            store: "redis",
            location: options.addr.clone(),
            reason: "expected host:port".into(),
        })?;
        let client = Client::open(url).map_err(|e| StoreError::Open {
            store: "redis",
            location: options.addr.clone(),
            reason: e.to_string(),
        })?;
        let mut store = RedisStore {
            client,
            conn: None,
            options,
        };
        store.connection().map_err(|e| match e {
            StoreError::Io {
                store,
                location,
                reason,
            } => StoreError::Open {
                store,
                location,
                reason,
            },
            other => other,
        })?;
        Ok(store)
    }

    fn io(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError::Io {
            store: "redis",
            location: self.options.addr.clone(),
            reason: e.to_string(),
        }
    }

    /// The open connection, reconnecting if the last one broke.
    fn connection(&mut self) -> Result<&mut Connection, StoreError> {
        if self.conn.is_none() {
            let conn = self
                .client
                .get_connection_with_timeout(CONNECT_TIMEOUT)
                .map_err(|e| self.io(e))?;
            // A Redis that hangs (frozen, a network that drops packets) fails a command in
            // time instead of blocking the writer and every acknowledgement behind it.
            conn.set_read_timeout(Some(IO_TIMEOUT))
                .and_then(|()| conn.set_write_timeout(Some(IO_TIMEOUT)))
                .map_err(|e| self.io(e))?;
            tracing::info!(address = %self.options.addr, db = self.options.db, "connected to redis");
            self.conn = Some(conn);
        }
        match self.conn.as_mut() {
            Some(conn) => Ok(conn),
            None => Err(StoreError::Io {
                store: "redis",
                location: self.options.addr.clone(),
                reason: "no connection".into(),
            }),
        }
    }

    fn sys_field(&self) -> &str {
        self.options.node.as_deref().unwrap_or("counters")
    }

    fn key(&self, kind: &str) -> String {
        format!("{}:{kind}", self.options.prefix)
    }

    fn client_key(&self, kind: &str, client_id: &str) -> String {
        format!("{}:{kind}:{client_id}", self.options.prefix)
    }

    /// Where the handled marks of node `from` are kept as they were when session `client_id`
    /// moved away from it (see [`COPY_MARKS`]).
    fn moved_marks_key(&self, from: &str, client_id: &str) -> String {
        format!("{}:handledat:{from}:{client_id}", self.options.prefix)
    }

    /// Reads the subscriptions, messages and inbound QoS 2 ids of a session.
    fn session_parts(
        &mut self,
        id: String,
        record: record::SessionRecord,
        owner: Option<String>,
    ) -> Result<StoredSession, StoreError> {
        let (sub_key, ifm_key, in2_key) = (
            self.client_key("sub", &id),
            self.client_key("ifm", &id),
            self.client_key("in2", &id),
        );
        let addr = self.options.addr.clone();
        let conn = self.connection()?;
        let err = |e: redis::RedisError| StoreError::Io {
            store: "redis",
            location: addr.clone(),
            reason: e.to_string(),
        };
        let subs: Vec<(String, Vec<u8>)> = conn.hgetall(&sub_key).map_err(err)?;
        let msgs: Vec<(String, Vec<u8>)> = conn.hgetall(&ifm_key).map_err(err)?;
        let in2: Vec<String> = conn.smembers(&in2_key).map_err(err)?;
        let mut s = StoredSession {
            client_id: MqttString::from(id),
            record,
            subscriptions: Vec::new(),
            messages: Vec::new(),
            inbound_qos2: Vec::new(),
            owner,
            parked: Vec::new(),
        };
        for (filter, raw) in subs {
            let (options, identifier) = record::decode_subscription(&mut Bytes::from(raw))?;
            s.subscriptions
                .push((MqttString::from(filter), options, identifier));
        }
        for (field, raw) in msgs {
            let delivery = record::decode_delivery(&mut Bytes::from(raw))?;
            if field.starts_with(PARKED_PREFIX) {
                s.parked.push((field, delivery));
                continue;
            }
            let seq = field
                .parse()
                .map_err(|_| StoreError::Corrupt("message sequence"))?;
            s.messages.push((seq, delivery));
        }
        s.messages.sort_by_key(|(seq, _)| *seq);
        s.parked.sort_by(|a, b| a.0.cmp(&b.0));
        s.inbound_qos2 = in2.iter().filter_map(|p| p.parse().ok()).collect();
        Ok(s)
    }

    /// The session of `client_id` as the store holds it, whichever node wrote it (a client
    /// whose node is gone, connecting to another).
    pub fn load_session(&mut self, client_id: &str) -> Result<Option<StoredSession>, StoreError> {
        let cl = self.key("cl");
        let raw: Option<Vec<u8>> = {
            let addr = self.options.addr.clone();
            self.connection()?
                .hget(&cl, client_id)
                .map_err(|e| StoreError::Io {
                    store: "redis",
                    location: addr,
                    reason: e.to_string(),
                })?
        };
        let Some(raw) = raw else { return Ok(None) };
        let mut raw = Bytes::from(raw);
        let record = record::decode_session(&mut raw)?;
        let owner = record::decode_owner(&mut raw);
        if let Some(from) = owner
            .as_deref()
            .filter(|o| Some(*o) != self.options.node.as_deref())
        {
            // Another node's session, maybe about to move here: its node's marks as of now,
            // before its messages are read.
            let (marks, copy) = (
                self.client_key("handled", from),
                self.moved_marks_key(from, client_id),
            );
            let copied: Result<i64, redis::RedisError> = redis::cmd("EVAL")
                .arg(COPY_MARKS)
                .arg(2)
                .arg(marks)
                .arg(copy)
                .arg(MARKS_COPY_TTL_SECS)
                .arg(0)
                .query(self.connection()?);
            if let Err(e) = copied {
                return Err(self.err(e));
            }
        }
        self.session_parts(client_id.to_string(), record, owner)
            .map(Some)
    }

    fn load_inner(&mut self) -> Result<Snapshot, StoreError> {
        let (cl, ret) = (self.key("cl"), self.key("ret"));
        let sessions_raw: Vec<(String, Vec<u8>)> = {
            let conn = self.connection()?;
            conn.hgetall(&cl).map_err(|e| StoreError::Io {
                store: "redis",
                location: String::new(),
                reason: e.to_string(),
            })?
        };
        let mut sessions = Vec::new();
        for (id, raw) in sessions_raw {
            let mut raw = Bytes::from(raw);
            let record = record::decode_session(&mut raw)?;
            let owner = record::decode_owner(&mut raw);
            // A cluster node restores the sessions it holds; the others stay for their nodes
            // (or for the node their client connects to next).
            if self.options.node.is_some() && owner != self.options.node {
                continue;
            }
            sessions.push(self.session_parts(id, record, owner)?);
        }
        let retained_raw: Vec<(String, Vec<u8>)> = {
            let addr = self.options.addr.clone();
            self.connection()?
                .hgetall(&ret)
                .map_err(|e| StoreError::Io {
                    store: "redis",
                    location: addr,
                    reason: e.to_string(),
                })?
        };
        let mut retained = Vec::new();
        for (_, raw) in retained_raw {
            retained.push(record::decode_message(&mut Bytes::from(raw))?);
        }
        let sys_raw: Option<Vec<u8>> = {
            let (addr, key) = (self.options.addr.clone(), self.key("sys"));
            let field = self.sys_field().to_string();
            self.connection()?
                .hget(&key, field)
                .map_err(|e| StoreError::Io {
                    store: "redis",
                    location: addr,
                    reason: e.to_string(),
                })?
        };
        let sys = match sys_raw {
            Some(raw) => Some(record::decode_sys(&mut Bytes::from(raw))?),
            None => None,
        };
        Ok(Snapshot {
            sessions,
            retained,
            sys,
        })
    }
}

/// `redis://[user][:password]@host:port/db` for the options, or `None` for a bad address.
pub(crate) fn redis_url(o: &RedisOptions) -> Option<String> {
    let addr = o.addr.strip_prefix("redis://").unwrap_or(&o.addr);
    let (host, port) = addr.rsplit_once(':')?;
    let host = if host.is_empty() { "127.0.0.1" } else { host };
    let port: u16 = port.parse().ok()?;
    let auth = match (o.username.is_empty(), o.password.is_empty()) {
        (true, true) => String::new(),
        (true, false) => format!(":{}@", percent_encode(&o.password)),
        (false, true) => format!("{}@", percent_encode(&o.username)),
        (false, false) => format!(
            "{}:{}@",
            percent_encode(&o.username),
            percent_encode(&o.password)
        ),
    };
    Some(format!("redis://{auth}{host}:{port}/{}", o.db))
}

fn percent_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

impl Backend for RedisStore {
    fn load(&mut self) -> Result<Snapshot, StoreError> {
        let result = self.load_inner();
        if result.is_err() {
            self.conn = None;
        }
        result
    }

    fn ping(&mut self) -> Result<(), StoreError> {
        let result = self.connection().and_then(|c| {
            redis::cmd("PING")
                .query::<String>(c)
                .map_err(|e| e.to_string())
                .map_err(|e| StoreError::Io {
                    store: "redis",
                    location: String::new(),
                    reason: e,
                })
        });
        if result.is_err() {
            self.conn = None;
        }
        result.map(|_| ())
    }

    fn apply(&mut self, changes: &[Change], _durable: bool) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        pipe.atomic();
        let mut buf = BytesMut::new();
        // A busy batch marks the same sender once per message: only its last mark is written
        // (the commit is atomic, so it lands with every record before it).
        let mut last_mark: Vec<(&str, usize)> = Vec::new();
        for (i, change) in changes.iter().enumerate() {
            if let Change::Handled { sender, .. } = change {
                match last_mark.iter_mut().find(|(s, _)| s == &&**sender) {
                    Some(last) => last.1 = i,
                    None => last_mark.push((sender, i)),
                }
            }
        }
        for (i, change) in changes.iter().enumerate() {
            buf.clear();
            match change {
                Change::Session { client_id, record }
                | Change::SessionClaimed { client_id, record } => {
                    encode_session(record, &mut buf);
                    match &self.options.node {
                        // A node that lost the session to another one writes nothing.
                        Some(node) if matches!(change, Change::Session { .. }) => {
                            record::encode_owner(node, &mut buf);
                            pipe.cmd("EVAL")
                                .arg(FENCED_SET)
                                .arg(1)
                                .arg(self.key("cl"))
                                .arg(client_id.as_str())
                                .arg(owner_suffix(node))
                                .arg(&buf[..])
                                .ignore();
                        }
                        owner => {
                            if let Some(node) = owner {
                                record::encode_owner(node, &mut buf);
                            }
                            pipe.hset(self.key("cl"), client_id.as_str(), &buf[..])
                                .ignore();
                        }
                    }
                }
                Change::SessionEnded { client_id } | Change::SessionReset { client_id } => {
                    let keys = [
                        self.key("cl"),
                        self.key("parked"),
                        self.client_key("sub", client_id),
                        self.client_key("ifm", client_id),
                        self.client_key("in2", client_id),
                    ];
                    // A node that lost the session to another one ends nothing.
                    let suffix = match (&self.options.node, change) {
                        (Some(node), Change::SessionEnded { .. }) => owner_suffix(node),
                        _ => Vec::new(),
                    };
                    pipe.cmd("EVAL")
                        .arg(FENCED_END)
                        .arg(keys.len())
                        .arg(&keys[..])
                        .arg(client_id.as_str())
                        .arg(suffix)
                        .ignore();
                }
                Change::Subscribed {
                    client_id,
                    filter,
                    options,
                    identifier,
                } => {
                    encode_subscription(options, *identifier, &mut buf);
                    pipe.hset(self.client_key("sub", client_id), filter.as_str(), &buf[..])
                        .ignore();
                }
                Change::Unsubscribed { client_id, filter } => {
                    pipe.hdel(self.client_key("sub", client_id), filter.as_str())
                        .ignore();
                }
                Change::Message {
                    client_id,
                    seq,
                    delivery,
                    packet_id,
                    stage,
                } => {
                    encode_delivery(delivery, *packet_id, *stage, &mut buf);
                    pipe.hset(self.client_key("ifm", client_id), seq.to_string(), &buf[..])
                        .ignore();
                }
                Change::MessageDone { client_id, seq } => {
                    pipe.hdel(self.client_key("ifm", client_id), seq.to_string())
                        .ignore();
                }
                Change::ParkedDone { client_id, field } => {
                    pipe.hdel(self.client_key("ifm", client_id), field.as_str())
                        .ignore();
                }
                Change::SessionMoved { client_id, from } => {
                    pipe.sadd(self.client_key("moved", from), client_id.as_str())
                        .ignore();
                    // The node's marks as this node read the session (copied then), kept
                    // for good; as they are now if it was not read from here.
                    pipe.cmd("EVAL")
                        .arg(COPY_MARKS)
                        .arg(2)
                        .arg(self.client_key("handled", from))
                        .arg(self.moved_marks_key(from, client_id))
                        .arg(0)
                        .arg(1)
                        .ignore();
                }
                Change::Handled { sender, epoch, seq } => {
                    // Batches commit in order, and a sender's numbers only grow: the last
                    // write is the highest.
                    let last = last_mark.iter().any(|(s, at)| s == &&**sender && *at == i);
                    if let Some(node) = self.options.node.as_deref().filter(|_| last) {
                        pipe.hset(
                            self.client_key("handled", node),
                            &**sender,
                            super::handled_mark(*epoch, *seq),
                        )
                        .ignore();
                    }
                }
                Change::InboundQos2 {
                    client_id,
                    packet_id,
                    present,
                } => {
                    let key = self.client_key("in2", client_id);
                    if *present {
                        pipe.sadd(key, packet_id.to_string()).ignore();
                    } else {
                        pipe.srem(key, packet_id.to_string()).ignore();
                    }
                }
                Change::Sys(sys) => {
                    record::encode_sys(sys, &mut buf);
                    pipe.hset(self.key("sys"), self.sys_field(), &buf[..])
                        .ignore();
                }
                Change::Retained { topic, message } => match message {
                    Some(m) => {
                        encode_message(m, &mut buf);
                        pipe.hset(self.key("ret"), topic.as_str(), &buf[..])
                            .ignore();
                    }
                    None => {
                        pipe.hdel(self.key("ret"), topic.as_str()).ignore();
                    }
                },
            }
        }
        let result: Result<(), redis::RedisError> = match self.connection() {
            Ok(conn) => pipe.query(conn),
            Err(e) => return Err(e),
        };
        result.map_err(|e| {
            // Reconnect on the next attempt.
            self.conn = None;
            self.io(e)
        })
    }
}

/// Compare-and-set of one session record: replaced (`ARGV[3]` not empty) or ended with its
/// subscriptions, messages and QoS 2 ids, only if it still holds what was read (`ARGV[2]`).
const SETTLE: &str = r#"
local now = redis.call('HGET', KEYS[1], ARGV[1])
if now ~= ARGV[2] then return 0 end
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
end
return 1
"#;

/// Writes a session record unless another node holds the session: `KEYS` = records hash;
/// `ARGV` = client id, this node's owner suffix, the record.
const FENCED_SET: &str = r#"
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and string.sub(cur, -string.len(ARGV[2])) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
"#;

/// Ends a session (record, parked mark, subscriptions, messages, QoS 2 ids) unless another
/// node holds it: `KEYS` = records hash, parked set, `sub`, `ifm`, `in2`; `ARGV` = client id,
/// this node's owner suffix ('' = whoever holds it).
const FENCED_END: &str = r#"
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and ARGV[2] ~= '' and string.sub(cur, -string.len(ARGV[2])) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[3], KEYS[4], KEYS[5])
return 1
"#;

/// Copies a node's handled marks for a session another node reads or takes over: `KEYS` = the
/// marks, the copy; `ARGV` = seconds the copy lives (0: for good), and 1 to keep a copy
/// already there (made for good then). Made when the session is read, before its messages,
/// the copy never covers a message the reader did not see: what the node commits after that
/// (a frozen node resuming) is not in the session, so it must not keep a sender from parking
/// it.
const COPY_MARKS: &str = r#"
if ARGV[2] == '1' and redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('PERSIST', KEYS[2])
  return 1
end
redis.call('DEL', KEYS[2])
local marks = redis.call('HGETALL', KEYS[1])
if #marks > 0 then
  redis.call('HSET', KEYS[2], unpack(marks))
  if ARGV[1] ~= '0' then redis.call('EXPIRE', KEYS[2], ARGV[1]) end
end
return 1
"#;

/// How long a copy of a node's marks made for a session read by another node lives if the
/// session does not move after all.
const MARKS_COPY_TTL_SECS: u64 = 3600;

/// Parks one message: `KEYS` = records hash, the session's messages, the parked set, the
/// handled marks of the node it was sent to, the sessions moved from that node, the copy of
/// that node's marks kept when this session moved; `ARGV` = client id, the owner suffix the
/// record must end with ('' = any), field, value, the sender ('' = not asked), its epoch
/// (hex, as in the mark), the message's sequence number. Returns 1 when parked, 0 when there
/// is no session, 2 when the node it was sent to had handled it for a session that was that
/// node's (its marks now, or as they were when the session moved), the record when another
/// node holds it.
const PARK: &str = r#"
local rec = redis.call('HGET', KEYS[1], ARGV[1])
if not rec then return 0 end
local theirs = ARGV[2] ~= '' and string.sub(rec, -string.len(ARGV[2])) == ARGV[2]
if ARGV[5] ~= '' then
  local marks = nil
  if theirs then
    marks = KEYS[4]
  elseif redis.call('SISMEMBER', KEYS[5], ARGV[1]) == 1 then
    marks = KEYS[6]
  end
  if marks then
    local mark = redis.call('HGET', marks, ARGV[5])
    local epoch, upto
    if mark then epoch, upto = string.match(mark, '^(%x+):(%d+)$') end
    if epoch == ARGV[6] and tonumber(ARGV[7]) <= tonumber(upto) then return 2 end
  end
end
if ARGV[2] ~= '' and not theirs then return rec end
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
redis.call('SADD', KEYS[3], ARGV[1])
return 1
"#;

/// Claims the parked messages of a session: `KEYS` = records hash, the session's messages,
/// the parked set; `ARGV` = client id, the owner suffix of this node. Returns false unless
/// the session is this node's; else clears the mark and returns the parked fields and values
/// (none, with the mark cleared, when the session is gone).
const CLAIM: &str = r#"
local rec = redis.call('HGET', KEYS[1], ARGV[1])
if not rec then
  redis.call('SREM', KEYS[3], ARGV[1])
  return {}
end
if string.sub(rec, -string.len(ARGV[2])) ~= ARGV[2] then return false end
redis.call('SREM', KEYS[3], ARGV[1])
local all = redis.call('HGETALL', KEYS[2])
local out = {}
for i = 1, #all, 2 do
  if string.sub(all[i], 1, 2) == 'p:' then
    out[#out + 1] = all[i]
    out[#out + 1] = all[i + 1]
  end
end
return out
"#;

/// The bytes a session record owned by `node` ends with.
fn owner_suffix(node: &str) -> Vec<u8> {
    let mut buf = BytesMut::new();
    record::encode_owner(node, &mut buf);
    buf.to_vec()
}

impl RedisStore {
    /// A failed command (the connection is reopened next time: [`RedisSessions::with`]).
    fn err(&self, e: redis::RedisError) -> StoreError {
        self.io(e)
    }

    /// See [`super::SharedSessions::sessions_of`].
    pub fn sessions_of(&mut self, node: &str) -> Result<Vec<OwnedSession>, StoreError> {
        let moved_key = self.client_key("moved", node);
        let moved: std::collections::HashSet<String> = match self.connection()?.smembers(moved_key)
        {
            Ok(v) => v,
            Err(e) => return Err(self.err(e)),
        };
        let owned: Vec<String> = self
            .records()?
            .into_iter()
            .filter(|r| {
                r.record.expiry_interval > 0
                    && (r.owner.as_deref() == Some(node) || moved.contains(&r.client_id))
            })
            .map(|r| r.client_id)
            .collect();
        let mut sessions = Vec::with_capacity(owned.len());
        for chunk in owned.chunks(500) {
            let mut pipe = redis::pipe();
            for id in chunk {
                pipe.hgetall(self.client_key("sub", id));
            }
            let subs: Vec<Vec<(String, Vec<u8>)>> = match pipe.query(self.connection()?) {
                Ok(values) => values,
                Err(e) => return Err(self.err(e)),
            };
            for (id, subs) in chunk.iter().zip(subs) {
                let mut owned = OwnedSession {
                    client_id: id.clone(),
                    subscriptions: Vec::with_capacity(subs.len()),
                };
                for (filter, raw) in subs {
                    let (options, identifier) = record::decode_subscription(&mut Bytes::from(raw))?;
                    owned
                        .subscriptions
                        .push((MqttString::from(filter), options, identifier));
                }
                sessions.push(owned);
            }
        }
        Ok(sessions)
    }

    /// See [`super::SharedSessions::park`].
    pub fn park(&mut self, parcels: &[Parcel]) -> Result<Vec<ParkOutcome>, StoreError> {
        let (cl, parked) = (self.key("cl"), self.key("parked"));
        let mut out = Vec::with_capacity(parcels.len());
        for chunk in parcels.chunks(1000) {
            let mut pipe = redis::pipe();
            for p in chunk {
                let suffix = p.owner.as_deref().map(owner_suffix).unwrap_or_default();
                let (receiver, sender, epoch, seq) = match &p.sent {
                    Some(s) => (s.to.as_str(), s.sender.as_str(), s.epoch, s.seq),
                    None => ("", "", 0, 0),
                };
                pipe.cmd("EVAL")
                    .arg(PARK)
                    .arg(6)
                    .arg(&cl)
                    .arg(self.client_key("ifm", &p.client_id))
                    .arg(&parked)
                    .arg(self.client_key("handled", receiver))
                    .arg(self.client_key("moved", receiver))
                    .arg(self.moved_marks_key(receiver, &p.client_id))
                    .arg(&p.client_id)
                    .arg(suffix)
                    .arg(&p.field)
                    .arg(&p.value[..])
                    .arg(sender)
                    .arg(format!("{epoch:016x}"))
                    .arg(seq);
            }
            let values: Vec<redis::Value> = match pipe.query(self.connection()?) {
                Ok(v) => v,
                Err(e) => return Err(self.err(e)),
            };
            for v in values {
                out.push(match v {
                    redis::Value::Int(1) => ParkOutcome::Parked,
                    redis::Value::Int(2) => ParkOutcome::Had,
                    redis::Value::Int(_) | redis::Value::Nil => ParkOutcome::Gone,
                    other => {
                        let raw: Vec<u8> = redis::from_redis_value(other).unwrap_or_default();
                        let mut raw = Bytes::from(raw);
                        let owner = record::decode_session(&mut raw)
                            .ok()
                            .and_then(|_| record::decode_owner(&mut raw));
                        ParkOutcome::Moved(owner)
                    }
                });
            }
        }
        Ok(out)
    }

    /// See [`super::SharedSessions::parked_clients`].
    pub fn parked_clients(&mut self) -> Result<Vec<String>, StoreError> {
        let key = self.key("parked");
        match self.connection()?.smembers(key) {
            Ok(v) => Ok(v),
            Err(e) => Err(self.err(e)),
        }
    }

    /// See [`super::SharedSessions::claim`].
    #[allow(clippy::type_complexity)]
    pub fn claim(
        &mut self,
        client_id: &str,
        me: &str,
    ) -> Result<Option<Vec<(String, record::StoredDelivery)>>, StoreError> {
        let found: Option<Vec<(String, Vec<u8>)>> = match redis::cmd("EVAL")
            .arg(CLAIM)
            .arg(3)
            .arg(self.key("cl"))
            .arg(self.client_key("ifm", client_id))
            .arg(self.key("parked"))
            .arg(client_id)
            .arg(owner_suffix(me))
            .query(self.connection()?)
        {
            Ok(v) => v,
            Err(e) => return Err(self.err(e)),
        };
        let Some(found) = found else { return Ok(None) };
        let mut parked = Vec::with_capacity(found.len());
        for (field, raw) in found {
            parked.push((field, record::decode_delivery(&mut Bytes::from(raw))?));
        }
        parked.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Some(parked))
    }

    /// See [`super::SharedSessions::forget_moves`].
    pub fn forget_moves(&mut self, node: &str) -> Result<(), StoreError> {
        let key = self.client_key("moved", node);
        let moved: Vec<String> = match self.connection()?.smembers(&key) {
            Ok(v) => v,
            Err(e) => return Err(self.err(e)),
        };
        // The marks kept for the sessions that moved go with the set.
        let mut keys: Vec<String> = moved
            .iter()
            .map(|id| self.moved_marks_key(node, id))
            .collect();
        keys.push(key);
        for chunk in keys.chunks(500) {
            if let Err(e) = self.connection()?.del::<_, ()>(chunk) {
                return Err(self.err(e));
            }
        }
        Ok(())
    }

    /// See [`super::SharedSessions::unmark`].
    pub fn unmark(&mut self, client_id: &str) -> Result<(), StoreError> {
        let key = self.key("parked");
        match self.connection()?.srem::<_, _, ()>(key, client_id) {
            Ok(()) => Ok(()),
            Err(e) => Err(self.err(e)),
        }
    }

    /// Every session record, read in pages (`HSCAN`).
    pub fn records(&mut self) -> Result<Vec<super::SharedRecord>, StoreError> {
        let cl = self.key("cl");
        let mut cursor: u64 = 0;
        let mut all = Vec::new();
        loop {
            let (next, page): (u64, Vec<(String, Vec<u8>)>) = {
                let addr = self.options.addr.clone();
                redis::cmd("HSCAN")
                    .arg(&cl)
                    .arg(cursor)
                    .arg("COUNT")
                    .arg(1000)
                    .query(self.connection()?)
                    .map_err(|e| StoreError::Io {
                        store: "redis",
                        location: addr,
                        reason: e.to_string(),
                    })?
            };
            for (client_id, raw) in page {
                let mut bytes = Bytes::from(raw.clone());
                let Ok(record) = record::decode_session(&mut bytes) else {
                    tracing::warn!(client_id, "unreadable session record in redis; left alone");
                    continue;
                };
                let owner = record::decode_owner(&mut bytes);
                all.push(super::SharedRecord {
                    client_id,
                    record,
                    owner,
                    raw,
                });
            }
            if next == 0 {
                return Ok(all);
            }
            cursor = next;
        }
    }

    /// See [`super::SharedSessions::settle`].
    pub fn settle(
        &mut self,
        seen: &super::SharedRecord,
        next: Option<&record::SessionRecord>,
    ) -> Result<super::Settled, StoreError> {
        let replacement = next.map(|r| {
            let mut buf = BytesMut::new();
            encode_session(r, &mut buf);
            if let Some(owner) = &seen.owner {
                record::encode_owner(owner, &mut buf);
            }
            buf.to_vec()
        });
        let id = &seen.client_id;
        let keys = [
            self.key("cl"),
            self.client_key("sub", id),
            self.client_key("ifm", id),
            self.client_key("in2", id),
        ];
        let addr = self.options.addr.clone();
        let done: i64 = redis::cmd("EVAL")
            .arg(SETTLE)
            .arg(keys.len())
            .arg(&keys[..])
            .arg(id)
            .arg(&seen.raw[..])
            .arg(replacement.as_deref().unwrap_or_default())
            .query(self.connection()?)
            .map_err(|e| StoreError::Io {
                store: "redis",
                location: addr,
                reason: e.to_string(),
            })?;
        Ok(match (done, replacement, next) {
            (0, _, _) => super::Settled::Changed,
            (_, Some(raw), Some(record)) => {
                super::Settled::Replaced(Box::new(super::SharedRecord {
                    client_id: id.clone(),
                    record: record.clone(),
                    owner: seen.owner.clone(),
                    raw,
                }))
            }
            _ => super::Settled::Ended,
        })
    }
}

/// A connection of its own for [`super::SharedSessions`], beside the writer thread's.
pub struct RedisSessions(parking_lot::Mutex<RedisStore>);

impl std::fmt::Debug for RedisSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisSessions")
    }
}

impl RedisSessions {
    /// Connects (failing fast, naming the address).
    pub fn open(options: RedisOptions) -> Result<RedisSessions, StoreError> {
        Ok(RedisSessions(parking_lot::Mutex::new(RedisStore::open(
            options,
        )?)))
    }
}

impl RedisSessions {
    /// Runs `f` on the connection; after an I/O error the connection is reopened next time
    /// (Redis restarted, the network broke).
    fn with<T>(
        &self,
        f: impl FnOnce(&mut RedisStore) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut store = self.0.lock();
        let result = f(&mut store);
        if let Err(StoreError::Io { .. }) = &result {
            store.conn = None;
        }
        result
    }
}

impl super::SharedSessions for RedisSessions {
    fn load_session(&self, client_id: &str) -> Result<Option<StoredSession>, StoreError> {
        self.with(|s| s.load_session(client_id))
    }

    fn records(&self) -> Result<Vec<super::SharedRecord>, StoreError> {
        self.with(|s| s.records())
    }

    fn settle(
        &self,
        seen: &super::SharedRecord,
        next: Option<&record::SessionRecord>,
    ) -> Result<super::Settled, StoreError> {
        self.with(|s| s.settle(seen, next))
    }

    fn sessions_of(&self, node: &str) -> Result<Vec<OwnedSession>, StoreError> {
        self.with(|s| s.sessions_of(node))
    }

    fn forget_moves(&self, node: &str) -> Result<(), StoreError> {
        self.with(|s| s.forget_moves(node))
    }

    fn park(&self, parcels: &[Parcel]) -> Result<Vec<ParkOutcome>, StoreError> {
        self.with(|s| s.park(parcels))
    }

    fn parked_clients(&self) -> Result<Vec<String>, StoreError> {
        self.with(|s| s.parked_clients())
    }

    fn claim(
        &self,
        client_id: &str,
        me: &str,
    ) -> Result<Option<Vec<(String, record::StoredDelivery)>>, StoreError> {
        self.with(|s| s.claim(client_id, me))
    }

    fn unmark(&self, client_id: &str) -> Result<(), StoreError> {
        self.with(|s| s.unmark(client_id))
    }
}
