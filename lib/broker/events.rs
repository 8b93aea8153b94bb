//! Broker events for observers that live outside the routing path (the Kafka bridge): a
//! client connected or disconnected, published, subscribed or unsubscribed.
//!
//! Observers are called on the connection's task, right where the event happens, so they must
//! not block: an observer that does I/O queues the event (bounded) and does the work on a task
//! of its own. A broker with no observer pays one relaxed atomic load per event.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::RwLock;

use super::client_info::ClientInfo;
use super::message::Message;

/// What an observer hears. Every method has an empty default: implement what you need.
pub trait BrokerEvents: Send + Sync + 'static {
    /// A client's CONNECT was accepted (CONNACK 0x00 is on its way).
    fn connected(&self, _client: &ClientInfo) {}
    /// A client's connection ended; `why` says how ("connection closed by the client", ...).
    fn disconnected(&self, _client: &ClientInfo, _why: &str) {}
    /// A client published a message the broker accepted for routing.
    fn published(&self, _client: &ClientInfo, _message: &Arc<Message>) {}
    /// A client's SUBSCRIBE granted these filters (refused ones are left out).
    fn subscribed(&self, _client: &ClientInfo, _filters: &[&str]) {}
    /// A client's UNSUBSCRIBE named these filters.
    fn unsubscribed(&self, _client: &ClientInfo, _filters: &[&str]) {}
}

/// The observers registered with a broker.
#[derive(Default)]
pub struct Observers {
    /// Set once an observer is registered: the hot path's only cost when there is none.
    any: AtomicBool,
    /// The observers, in registration order.
    list: RwLock<Vec<Arc<dyn BrokerEvents>>>,
}

impl Observers {
    /// Adds an observer.
    pub fn register(&self, observer: Arc<dyn BrokerEvents>) {
        self.list.write().push(observer);
        self.any.store(true, Ordering::Release);
    }

    /// Calls `f` on every observer (nothing when there is none).
    #[inline]
    pub fn each(&self, f: impl Fn(&dyn BrokerEvents)) {
        if !self.any.load(Ordering::Acquire) {
            return;
        }
        for o in self.list.read().iter() {
            f(o.as_ref());
        }
    }
}

impl std::fmt::Debug for Observers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Observers({})", self.list.read().len())
    }
}
