//! The registry of sessions by client identifier: which connection holds each one, takeover
//! by a new connection with the same client id, check-in when a connection ends, session
//! expiry, and delayed will messages. Offline sessions are indexed by when they are next due
//! (expiry or delayed will), so the housekeeping tick only looks at those that are due.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use parking_lot::Mutex;
use tokio::sync::Notify;

use super::client_info::ClientInfo;
use super::deadlines::{Deadlines, take_due};
use super::message::Message;
use super::session::{Outbox, SessionState};
use crate::mqtt::{MqttString, ReasonCode};
use crate::storage::record::{SessionRecord, now_unix};
use crate::storage::{Change, Store};

/// How long a new connection waits for the connection it takes over to hand back the session.
const TAKEOVER_TIMEOUT: Duration = Duration::from_secs(5);

/// A session expiry interval that means "never expires" `[MQTT-3.1.2-23]`.
pub const NEVER_EXPIRES: u32 = u32::MAX;

/// How the registry tells a connection to disconnect: a reason code and a wake-up. Lighter
/// than a channel, which matters for idle connections.
#[derive(Debug, Default)]
pub struct Kick {
    /// The reason code; 0 while no one asked.
    reason: AtomicU8,
    /// Settings that changed since the connection last looked ([`Kick::RATES`],
    /// [`Kick::ACL`]); next to `reason`, so it costs no memory.
    updates: AtomicU8,
    /// When the client's keep alive runs out, on the broker's keep-alive clock
    /// ([`super::keep_alive`]; its `NONE` or `PAUSED` otherwise).
    keep_alive: AtomicU64,
    /// Wakes the connection.
    waker: futures_util::task::AtomicWaker,
}

impl Kick {
    /// The per-client rate limits changed: the connection rebuilds its buckets.
    pub const RATES: u8 = 1;
    /// The client's ACL was decided again: the connection takes it from
    /// [`crate::broker::Broker::take_reassessed`].
    pub const ACL: u8 = 2;

    /// Tells the connection that `what` changed, and wakes it.
    pub fn update(&self, what: u8) {
        self.updates.fetch_or(what, Ordering::AcqRel);
        self.waker.wake();
    }

    /// What changed since the last call (0: nothing). A relaxed load first: this is read on
    /// every turn of the connection's loop.
    pub fn take_updates(&self) -> u8 {
        if self.updates.load(Ordering::Relaxed) == 0 {
            return 0;
        }
        self.updates.swap(0, Ordering::AcqRel)
    }

    /// Sets when the client's keep alive runs out (see [`super::keep_alive`]).
    pub fn set_keep_alive_deadline(&self, deadline: u64) {
        self.keep_alive.store(deadline, Ordering::Relaxed);
    }

    /// When the client's keep alive runs out.
    pub fn keep_alive_deadline(&self) -> u64 {
        self.keep_alive.load(Ordering::Relaxed)
    }

    /// Asks the connection to disconnect with `reason` (the first request wins).
    pub fn send(&self, reason: ReasonCode) {
        // 0x00 never ends a connection here, so it can mean "not kicked".
        let code = if reason.0 == 0 {
            ReasonCode::UNSPECIFIED_ERROR.0
        } else {
            reason.0
        };
        if self
            .reason
            .compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.waker.wake();
        }
    }

    /// Ready with the reason once someone asked the connection to disconnect; otherwise the
    /// task is woken when someone does.
    pub fn poll_received(&self, cx: &mut std::task::Context<'_>) -> std::task::Poll<ReasonCode> {
        // Registered first: a request made right after the check still wakes the task.
        self.waker.register(cx.waker());
        match self.reason.load(Ordering::Acquire) {
            0 => std::task::Poll::Pending,
            code => std::task::Poll::Ready(ReasonCode(code)),
        }
    }

    /// Waits until someone asks the connection to disconnect, and returns why.
    pub async fn received(&self) -> ReasonCode {
        std::future::poll_fn(|cx| self.poll_received(cx)).await
    }
}

/// The connection currently serving a session.
#[derive(Debug)]
struct Owner {
    /// Identifies the connection.
    connection: u64,
    /// Tells it to disconnect, with the reason code to send.
    kick: Arc<Kick>,
}

/// A will message waiting for its delay to pass.
#[derive(Debug)]
pub struct PendingWill {
    /// When it is due.
    pub at: Instant,
    /// The message.
    pub message: Message,
}

#[derive(Debug)]
struct Entry {
    /// Shared with the router.
    outbox: Arc<Outbox>,
    /// The state, when no connection holds it.
    state: Option<Box<SessionState>>,
    /// The connection holding the state, if any.
    owner: Option<Owner>,
    /// Seconds the session outlives its connection.
    expiry_interval: u32,
    /// When its last connection ended.
    disconnected_at: Option<Instant>,
    /// A delayed will (boxed: most sessions have none).
    will: Option<Box<PendingWill>>,
    /// What operators see of the client.
    info: Arc<ClientInfo>,
}

/// A client as listed for operators.
#[derive(Debug, Clone)]
pub struct ClientView {
    /// Its description.
    pub info: Arc<ClientInfo>,
    /// Whether a connection serves it now.
    pub online: bool,
    /// Messages waiting in its outbox.
    pub queued: usize,
}

/// A session handed to a new connection.
#[derive(Debug)]
pub struct Opened {
    /// The session's outbox (the same one as before when the session is resumed).
    pub outbox: Arc<Outbox>,
    /// Its state.
    pub state: SessionState,
    /// True if an existing session was resumed (CONNACK session present).
    pub present: bool,
    /// A previous session discarded by clean start, with its outbox: its subscriptions must
    /// leave the router.
    pub discarded: Option<(SessionState, Arc<Outbox>)>,
    /// A will of the previous connection that is due now.
    pub will: Option<Message>,
}

/// A session this node let go of (see [`Sessions::release`]).
#[derive(Debug)]
pub struct Released {
    /// Its state.
    pub state: SessionState,
    /// Its outbox, with the messages still queued.
    pub outbox: Arc<Outbox>,
    /// Seconds it outlives its connection.
    pub expiry_interval: u32,
    /// A delayed will that was pending.
    pub will: Option<Message>,
}

/// What became of a session when its connection ended.
#[derive(Debug)]
pub enum Closed {
    /// Kept for a later connection.
    Kept,
    /// Ended: its subscriptions must leave the router.
    Ended(SessionState),
}

/// Why a session could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// The connection holding the session did not hand it back in time.
    #[error("the previous connection of this client id did not release its session in time")]
    TakeoverTimeout,
}

/// Work the housekeeping tick found.
#[derive(Debug, Default)]
pub struct Expired {
    /// Sessions that ended, with their state and outbox.
    pub sessions: Vec<(MqttString, SessionState, Arc<Outbox>)>,
    /// Wills now due.
    pub wills: Vec<Message>,
}

/// When an offline session expires (`None`: never, or online).
fn expires_at(entry: &Entry) -> Option<Instant> {
    let since = entry.disconnected_at?;
    if entry.expiry_interval == NEVER_EXPIRES {
        return None;
    }
    since.checked_add(Duration::from_secs(entry.expiry_interval as u64))
}

/// When an offline session is due for housekeeping: its expiry, its delayed will.
fn due_times(entry: &Entry) -> impl Iterator<Item = Instant> {
    let will = entry
        .will
        .as_ref()
        .filter(|_| entry.disconnected_at.is_some());
    expires_at(entry).into_iter().chain(will.map(|w| w.at))
}

/// All sessions of this node.
#[derive(Debug, Default)]
pub struct Sessions {
    map: Mutex<HashMap<MqttString, Entry>>,
    /// When offline sessions may expire or have a delayed will due, soonest first. Locked
    /// under `map` only. An item may be stale (its session resumed since, or closed again
    /// with a new item): what is due is decided from the session itself.
    due: Mutex<Deadlines>,
    /// Where session ends are recorded, under the map's lock so that a newer session of the
    /// same client id is never erased by an older one's end.
    store: Option<Arc<Store>>,
    /// Signalled whenever a connection hands its session back.
    returned: Notify,
    /// Set by [`Sessions::kick_all`]: a session opened later is told to go at once.
    closing: AtomicU8,
}

impl Sessions {
    /// Gives the session of `client_id` to connection `connection`: resumed, or new when
    /// `clean_start` is set or none exists. A connection holding it is told to disconnect
    /// with 0x8E Session taken over, and this waits until it has handed the session back.
    pub async fn open(
        &self,
        client_id: &MqttString,
        clean_start: bool,
        connection: u64,
        kick: Arc<Kick>,
        outbox_limit: usize,
        info: Arc<ClientInfo>,
    ) -> Result<Opened, OpenError> {
        let deadline = tokio::time::Instant::now() + TAKEOVER_TIMEOUT;
        // The connection told to go; another one may win the session meanwhile (several
        // connections taking over at once): the newest connection must end up with it.
        let mut kicked: Option<u64> = None;
        loop {
            let returned = self.returned.notified();
            tokio::pin!(returned);
            returned.as_mut().enable();
            {
                let mut map = self.map.lock();
                match map.get_mut(client_id) {
                    Some(entry) if entry.owner.is_some() => {
                        if let Some(owner) = entry
                            .owner
                            .as_ref()
                            .filter(|o| kicked != Some(o.connection))
                        {
                            owner.kick.send(ReasonCode::SESSION_TAKEN_OVER);
                            kicked = Some(owner.connection);
                        }
                    }
                    Some(entry) => {
                        self.unschedule(client_id, entry);
                        let will = entry.will.take().filter(|_| clean_start).map(|w| w.message);
                        let old = entry.state.take().map(|s| *s).unwrap_or_default();
                        self.kick_if_closing(&kick);
                        entry.owner = Some(Owner { connection, kick });
                        entry.disconnected_at = None;
                        let (state, present, discarded) = if clean_start {
                            let old_outbox = std::mem::replace(
                                &mut entry.outbox,
                                Arc::new(Outbox::new(client_id.clone(), outbox_limit)),
                            );
                            (SessionState::default(), false, Some((old, old_outbox)))
                        } else {
                            entry.outbox.set_limit(outbox_limit);
                            // The resumed session keeps its subscriptions.
                            info.inherit_filters(&entry.info);
                            (old, true, None)
                        };
                        entry.info = info;
                        entry.outbox.set_online(true);
                        return Ok(Opened {
                            outbox: entry.outbox.clone(),
                            state,
                            present,
                            discarded,
                            will,
                        });
                    }
                    None => {
                        self.kick_if_closing(&kick);
                        let outbox = Arc::new(Outbox::new(client_id.clone(), outbox_limit));
                        outbox.set_online(true);
                        map.insert(
                            client_id.clone(),
                            Entry {
                                outbox: outbox.clone(),
                                state: None,
                                owner: Some(Owner { connection, kick }),
                                expiry_interval: 0,
                                disconnected_at: None,
                                will: None,
                                info,
                            },
                        );
                        return Ok(Opened {
                            outbox,
                            state: SessionState::default(),
                            present: false,
                            discarded: None,
                            will: None,
                        });
                    }
                }
            }
            if tokio::time::timeout_at(deadline, returned).await.is_err() {
                return Err(OpenError::TakeoverTimeout);
            }
        }
    }

    /// Lets go of the session of `client_id` for another node of the cluster: a connection
    /// holding it is told to disconnect with 0x8E Session taken over and waited for; then the
    /// session leaves this registry without a store record of its end (the node it moves to
    /// rewrites what the store holds). `None` if this node has no session of the client, or
    /// its connection did not hand it back in time.
    pub async fn release(&self, client_id: &str) -> Option<Released> {
        let deadline = tokio::time::Instant::now() + TAKEOVER_TIMEOUT;
        let mut kicked = false;
        loop {
            let returned = self.returned.notified();
            tokio::pin!(returned);
            returned.as_mut().enable();
            {
                let mut map = self.map.lock();
                match map.get(client_id) {
                    None => return None,
                    Some(entry) if entry.owner.is_some() => {
                        if !kicked && let Some(owner) = &entry.owner {
                            owner.kick.send(ReasonCode::SESSION_TAKEN_OVER);
                            kicked = true;
                        }
                    }
                    Some(_) => {
                        let entry = map.remove(client_id)?;
                        self.unschedule(&MqttString::from(client_id), &entry);
                        entry.outbox.set_online(false);
                        return Some(Released {
                            state: entry.state.map(|s| *s).unwrap_or_default(),
                            outbox: entry.outbox,
                            expiry_interval: entry.expiry_interval,
                            will: entry.will.map(|w| w.message),
                        });
                    }
                }
            }
            if tokio::time::timeout_at(deadline, returned).await.is_err() {
                tracing::warn!(
                    client_id,
                    "session not handed back in time for a takeover by another node"
                );
                return None;
            }
        }
    }

    /// Hands the session back when connection `connection` ends. With an expiry interval of
    /// 0 the session ends now; otherwise it is kept, with `will` delayed if given.
    pub fn close(
        &self,
        client_id: &MqttString,
        connection: u64,
        state: SessionState,
        expiry_interval: u32,
        will: Option<Box<PendingWill>>,
        outbox_limit: usize,
    ) -> Closed {
        let mut map = self.map.lock();
        let owned = map
            .get(client_id)
            .is_some_and(|e| e.owner.as_ref().is_some_and(|o| o.connection == connection));
        if !owned {
            return Closed::Ended(state);
        }
        let closed = if expiry_interval == 0 {
            if let Some(entry) = map.remove(client_id) {
                entry.outbox.set_online(false);
                if entry.outbox.is_persistent() {
                    self.record_end(client_id);
                }
            }
            Closed::Ended(state)
        } else {
            let entry = map.get_mut(client_id).expect("checked above");
            entry.owner = None;
            entry.state = Some(Box::new(state));
            entry.expiry_interval = expiry_interval;
            entry.disconnected_at = Some(Instant::now());
            entry.will = will;
            entry.outbox.set_online(false);
            entry.outbox.set_limit(outbox_limit);
            self.schedule(client_id, entry);
            Closed::Kept
        };
        drop(map);
        self.returned.notify_waiters();
        closed
    }

    /// Indexes when the offline session `entry` of `client_id` is next due (call with the
    /// map locked).
    fn schedule(&self, client_id: &MqttString, entry: &Entry) {
        let mut due = self.due.lock();
        for at in due_times(entry) {
            due.insert((at, client_id.clone()));
        }
    }

    /// Takes the offline session `entry` of `client_id` out of the index, before it is
    /// resumed or leaves (call with the map locked).
    fn unschedule(&self, client_id: &MqttString, entry: &Entry) {
        let mut due = self.due.lock();
        for at in due_times(entry) {
            due.remove(&(at, client_id.clone()));
        }
    }

    /// Ends sessions whose expiry interval has passed and collects wills now due.
    pub fn expire(&self, now: Instant) -> Expired {
        let mut out = Expired::default();
        let mut map = self.map.lock();
        let ids = take_due(&mut self.due.lock(), now);
        for client_id in ids {
            let Some(entry) = map.get_mut(&client_id) else {
                continue;
            };
            if entry.owner.is_some() {
                continue;
            }
            let ended = expires_at(entry).is_some_and(|at| now >= at);
            // Before the will is taken: an ending session's other due time (a will later than
            // its expiry) leaves the index with it.
            let indexed: Vec<Instant> = if ended {
                due_times(entry).collect()
            } else {
                Vec::new()
            };
            if entry.will.as_ref().is_some_and(|w| ended || w.at <= now)
                && let Some(w) = entry.will.take()
            {
                out.wills.push(w.message);
                if !ended && entry.outbox.is_persistent() {
                    // The stored record must not bring the will back after a restart.
                    let record = SessionRecord {
                        expiry_interval: entry.expiry_interval,
                        last_seen: now_unix().saturating_sub(
                            entry
                                .disconnected_at
                                .map_or(0, |t| now.saturating_duration_since(t).as_secs()),
                        ),
                        online: false,
                        protocol_level: entry.info.protocol.level(),
                        will: None,
                    };
                    if let Some(store) = &self.store {
                        store.submit([Change::Session {
                            client_id: client_id.clone(),
                            record,
                        }]);
                    }
                }
            }
            if ended {
                if entry.outbox.is_persistent()
                    && let Some(store) = &self.store
                {
                    store.submit([Change::SessionEnded {
                        client_id: client_id.clone(),
                    }]);
                }
                let state = entry.state.take().map(|s| *s).unwrap_or_default();
                let outbox = entry.outbox.clone();
                {
                    let mut due = self.due.lock();
                    for at in indexed {
                        due.remove(&(at, client_id.clone()));
                    }
                }
                map.remove(&client_id);
                out.sessions.push((client_id, state, outbox));
            }
        }
        out
    }

    /// A registry persisting session ends to `store`.
    pub fn with_store(store: Option<Arc<Store>>) -> Sessions {
        Sessions {
            store,
            ..Sessions::default()
        }
    }

    /// Records that the session of `client_id` ended (call with the map locked).
    fn record_end(&self, client_id: &MqttString) {
        if let Some(store) = &self.store {
            store.submit([Change::SessionEnded {
                client_id: client_id.clone(),
            }]);
        }
    }

    /// Tells the connection of `client_id` to disconnect with `reason`; false if none is connected.
    pub fn kick(&self, client_id: &str, reason: ReasonCode) -> bool {
        let map = self.map.lock();
        match map.get(client_id).and_then(|e| e.owner.as_ref()) {
            Some(owner) => {
                owner.kick.send(reason);
                true
            }
            None => false,
        }
    }

    /// Adds a session loaded from the store, offline since `disconnected_at`.
    #[allow(clippy::too_many_arguments)]
    pub fn restore(
        &self,
        client_id: MqttString,
        outbox: Arc<Outbox>,
        state: SessionState,
        expiry_interval: u32,
        disconnected_at: Instant,
        will: Option<Box<PendingWill>>,
        info: Arc<ClientInfo>,
    ) {
        let entry = Entry {
            outbox,
            state: Some(Box::new(state)),
            owner: None,
            expiry_interval,
            disconnected_at: Some(disconnected_at),
            will,
            info,
        };
        let mut map = self.map.lock();
        self.schedule(&client_id, &entry);
        if let Some(old) = map.insert(client_id.clone(), entry) {
            self.unschedule(&client_id, &old);
            if let Some(new) = map.get(&client_id) {
                // The same times may be indexed for both.
                self.schedule(&client_id, new);
            }
        }
    }

    /// Every client with a session, online or not, sorted by client id.
    pub fn clients(&self) -> Vec<ClientView> {
        // Copied out under the lock, sorted after it (CONNECTs wait for this lock).
        let entries: Vec<(Arc<ClientInfo>, bool, Arc<Outbox>)> = self
            .map
            .lock()
            .values()
            .map(|e| (e.info.clone(), e.owner.is_some(), e.outbox.clone()))
            .collect();
        let mut all: Vec<ClientView> = entries
            .into_iter()
            .map(|(info, online, outbox)| ClientView {
                info,
                online,
                queued: outbox.len(),
            })
            .collect();
        all.sort_by(|a, b| a.info.client_id.cmp(&b.info.client_id));
        all
    }

    /// The outbox of `client_id`'s session, if this node holds one (online or not).
    pub fn outbox(&self, client_id: &str) -> Option<Arc<Outbox>> {
        self.map.lock().get(client_id).map(|e| e.outbox.clone())
    }

    /// One client, online or not.
    pub fn client(&self, client_id: &str) -> Option<ClientView> {
        self.map.lock().get(client_id).map(|e| ClientView {
            info: e.info.clone(),
            online: e.owner.is_some(),
            queued: e.outbox.len(),
        })
    }

    /// When the session of `client_id`, if held here, first subscribed on this node (see
    /// [`Outbox::subscribed_at`]).
    pub fn subscribed_at(&self, client_id: &str) -> Option<u64> {
        self.map.lock().get(client_id)?.outbox.subscribed_at()
    }

    /// True if this node holds a session of `client_id` with messages waiting.
    pub fn has_queued(&self, client_id: &str) -> bool {
        let outbox = self.map.lock().get(client_id).map(|e| e.outbox.clone());
        outbox.is_some_and(|o| !o.is_empty())
    }

    /// Messages waiting in every session's queue, online or not (the overload sampler's
    /// figure; one short lock per session).
    pub fn queued_total(&self) -> usize {
        let outboxes: Vec<Arc<Outbox>> =
            self.map.lock().values().map(|e| e.outbox.clone()).collect();
        outboxes.iter().map(|o| o.len()).sum()
    }

    /// The connected clients: what they are, their connection and its kick (a reload tells
    /// each of what changed).
    pub fn online(&self) -> Vec<(Arc<ClientInfo>, u64, Arc<Kick>)> {
        self.map
            .lock()
            .values()
            .filter_map(|e| {
                let owner = e.owner.as_ref()?;
                Some((e.info.clone(), owner.connection, owner.kick.clone()))
            })
            .collect()
    }

    /// Runs `f` under the registry's lock if connection `connection` still serves
    /// `client_id`'s session (a connection that ended or was refused is no longer there).
    pub fn if_served_by(&self, client_id: &str, connection: u64, f: impl FnOnce()) {
        let map = self.map.lock();
        if map
            .get(client_id)
            .and_then(|e| e.owner.as_ref())
            .is_some_and(|o| o.connection == connection)
        {
            f();
        }
    }

    /// Tells every connection that settings it copied changed (see [`Kick::update`]).
    pub fn update_all(&self, what: u8) {
        for entry in self.map.lock().values() {
            if let Some(owner) = &entry.owner {
                owner.kick.update(what);
            }
        }
    }

    /// Sessions held, online or not.
    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    /// True if no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Tells a connection opening a session after [`Sessions::kick_all`] to go at once.
    fn kick_if_closing(&self, kick: &Kick) {
        let reason = self.closing.load(Ordering::Acquire);
        if reason != 0 {
            kick.send(ReasonCode(reason));
        }
    }

    /// Tells every connection to disconnect with `reason` (shutdown).
    pub fn kick_all(&self, reason: ReasonCode) {
        let map = self.map.lock();
        // Under the map's lock: a session opened after this is kicked as it opens.
        self.closing.store(reason.0.max(1), Ordering::Release);
        for entry in map.values() {
            if let Some(owner) = &entry.owner {
                owner.kick.send(reason);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::{Protocol, Publish, QoS};

    fn id(s: &str) -> MqttString {
        MqttString::from(s)
    }

    fn info(client_id: &str) -> Arc<ClientInfo> {
        Arc::new(ClientInfo::new(id(client_id), String::new(), Protocol::V5))
    }

    /// Opens `client_id` as connection `connection` (resuming) and closes it again with
    /// `expiry` seconds and `will`.
    async fn connect_and_leave(
        sessions: &Sessions,
        client_id: &str,
        connection: u64,
        expiry: u32,
        will: Option<Box<PendingWill>>,
    ) {
        let opened = sessions
            .open(
                &id(client_id),
                false,
                connection,
                Arc::default(),
                100,
                info(client_id),
            )
            .await
            .unwrap();
        let closed = sessions.close(&id(client_id), connection, opened.state, expiry, will, 100);
        assert!(matches!(closed, Closed::Kept));
    }

    fn will(at: Instant) -> Option<Box<PendingWill>> {
        let p = Publish::new("wills/a", QoS::AtMostOnce, &b"gone"[..]);
        Some(Box::new(PendingWill {
            at,
            message: Message::from_publish(p, None, 0),
        }))
    }

    #[tokio::test]
    async fn an_offline_session_ends_when_its_expiry_passes_and_not_before() {
        let sessions = Sessions::default();
        connect_and_leave(&sessions, "a", 1, 60, None).await;
        let now = Instant::now();
        assert!(sessions.expire(now).sessions.is_empty());
        assert_eq!(sessions.len(), 1);
        let ended = sessions.expire(now + Duration::from_secs(61));
        assert_eq!(ended.sessions.len(), 1);
        assert_eq!(sessions.len(), 0);
        assert!(sessions.due.lock().is_empty());
    }

    #[tokio::test]
    async fn a_delayed_will_is_due_before_the_session_ends() {
        let sessions = Sessions::default();
        let now = Instant::now();
        connect_and_leave(&sessions, "a", 1, 60, will(now + Duration::from_secs(5))).await;
        let due = sessions.expire(now + Duration::from_secs(6));
        assert_eq!((due.wills.len(), due.sessions.len()), (1, 0));
        let due = sessions.expire(now + Duration::from_secs(61));
        assert_eq!((due.wills.len(), due.sessions.len()), (0, 1));
    }

    #[tokio::test]
    async fn a_resumed_session_leaves_the_index_and_reconnects_do_not_pile_up() {
        let sessions = Sessions::default();
        for connection in 1..=50 {
            connect_and_leave(&sessions, "a", connection, 3600, will(Instant::now())).await;
        }
        // Only the last disconnection is indexed: its expiry and its will.
        assert_eq!(sessions.due.lock().len(), 2);
        let opened = sessions
            .open(&id("a"), false, 99, Arc::default(), 100, info("a"))
            .await
            .unwrap();
        assert!(opened.present);
        assert!(sessions.due.lock().is_empty());
        // Online: nothing expires.
        let later = Instant::now() + Duration::from_secs(7200);
        assert!(sessions.expire(later).sessions.is_empty());
        assert_eq!(sessions.len(), 1);
    }

    #[test]
    fn a_restored_session_past_its_expiry_ends_at_the_next_tick() {
        let sessions = Sessions::default();
        let long_ago = Instant::now() - Duration::from_secs(10);
        let outbox = Arc::new(Outbox::new(id("r"), 100));
        sessions.restore(
            id("r"),
            outbox,
            SessionState::default(),
            5,
            long_ago,
            None,
            info("r"),
        );
        let never = Arc::new(Outbox::new(id("n"), 100));
        let state = SessionState::default();
        sessions.restore(
            id("n"),
            never,
            state,
            NEVER_EXPIRES,
            long_ago,
            None,
            info("n"),
        );
        let ended = sessions.expire(Instant::now());
        assert_eq!(ended.sessions.len(), 1);
        assert_eq!(&*ended.sessions[0].0, "r");
        assert_eq!(sessions.len(), 1);
    }

    #[tokio::test]
    async fn a_session_ending_before_its_will_delay_leaves_nothing_in_the_index() {
        let sessions = Sessions::default();
        let now = Instant::now();
        connect_and_leave(&sessions, "a", 1, 5, will(now + Duration::from_secs(3600))).await;
        let due = sessions.expire(now + Duration::from_secs(6));
        assert_eq!((due.wills.len(), due.sessions.len()), (1, 1));
        assert!(sessions.due.lock().is_empty());
    }
}
