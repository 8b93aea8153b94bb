//! What every task of a run shares: the options, the resolved brokers, the client settings,
//! names, counters, latency recorder, clock, and the cancellation that the global timeout and
//! signals fire.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use super::client::{ClientSettings, Link};
use super::options::Options;
use super::progress::Console;
use super::source::SourceAddresses;
use super::stats::{Clock, Counters, Failure, LatencyRecorder, Outcome};
use super::transport::Endpoint;
use crate::shutdown::{Shutdown, ShutdownSignal};

/// Keep alive of every connection, in seconds (paho's default, as mqtt-stresser uses).
pub const KEEP_ALIVE: u16 = 30;

/// Why a run was cut short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// `-global-timeout` passed.
    Timeout = 1,
    /// SIGINT or SIGTERM.
    Signal = 2,
}

/// The cancellation of a run: fired once, with the first cause.
#[derive(Debug)]
pub struct Cancel {
    /// Fires the shutdown every task selects on.
    signal: ShutdownSignal,
    /// A receiver to clone from.
    receiver: Shutdown,
    /// The [`Cause`] as a number, 0 while not fired.
    cause: AtomicU8,
}

impl Cancel {
    /// Not fired.
    pub fn new() -> Cancel {
        let signal = ShutdownSignal::new();
        let receiver = signal.subscribe();
        Cancel {
            signal,
            receiver,
            cause: AtomicU8::new(0),
        }
    }

    /// Fires with `cause` (a later cause does not replace the first).
    pub fn fire(&self, cause: Cause) {
        let _ = self
            .cause
            .compare_exchange(0, cause as u8, Ordering::SeqCst, Ordering::SeqCst);
        self.signal.fire();
    }

    /// A receiver for one task.
    pub fn watcher(&self) -> Shutdown {
        self.receiver.clone()
    }

    /// True once fired.
    pub fn is_fired(&self) -> bool {
        self.receiver.is_fired()
    }

    /// What a task cut short counts as: TimeoutExceeded after the global timeout, Aborted
    /// after a signal.
    pub fn outcome(&self) -> Outcome {
        match self.cause.load(Ordering::SeqCst) {
            2 => Outcome::Aborted,
            _ => Outcome::TimeoutExceeded,
        }
    }

    /// The failure of a task cut short.
    pub fn failure(&self) -> Failure {
        match self.outcome() {
            Outcome::Aborted => Failure::new(Outcome::Aborted, "test cancelled"),
            other => Failure::new(other, "global timeout exceeded"),
        }
    }
}

impl Default for Cancel {
    fn default() -> Self {
        Cancel::new()
    }
}

/// Topic names and client ids, mqtt-stresser's templates.
#[derive(Debug, Clone)]
pub struct Names {
    /// This machine's host name.
    pub hostname: String,
    /// `-topic-base-path` or `internal/mqtt-stresser`.
    pub topic_base: String,
    /// Client id prefix (`mqtt-stresser`).
    pub prefix: String,
}

impl Names {
    /// `<base>/<hostname>/worker<i>-<t>`.
    pub fn worker_topic(&self, worker: u64, t: u32) -> String {
        format!("{}/{}/worker{worker}-{t}", self.topic_base, self.hostname)
    }

    /// `<base>/<hostname>/<scenario>-<t>`: the topic (or topic prefix) of a group scenario.
    pub fn group_topic(&self, scenario: &str, t: u32) -> String {
        format!("{}/{}/{scenario}-{t}", self.topic_base, self.hostname)
    }

    /// `<prefix>-<role>-<hostname>-worker<i>-<t>`, role `sub`, `pub` or `conn`.
    pub fn client_id(&self, role: &str, worker: u64, t: u32) -> String {
        format!(
            "{}-{role}-{}-worker{worker}-{t}",
            self.prefix, self.hostname
        )
    }
}

/// This machine's host name, as Go's `os.Hostname` reads it on Linux (`HOSTNAME` or
/// `localhost` where that file does not exist).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .or_else(|| {
            std::env::var("HOSTNAME")
                .ok()
                .filter(|name| !name.is_empty())
        })
        .unwrap_or_else(|| "localhost".to_string())
}

/// A random non-negative 31-bit number (Go's `rand.Int31`), from the std hasher's random keys.
pub fn rand31() -> u32 {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    (h.finish() >> 33) as u32
}

/// Shared by every task of a run.
pub struct RunContext {
    /// The checked flags.
    pub options: Options,
    /// Every broker, in `-broker` order.
    pub endpoints: Vec<Endpoint>,
    /// Source addresses, if connections are spread over several.
    pub sources: Option<SourceAddresses>,
    /// How connections introduce themselves.
    pub settings: ClientSettings,
    /// Topic and client id templates.
    pub names: Names,
    /// Progress counters.
    pub counters: Counters,
    /// Publish-to-receive (or connect) latency.
    pub latency: Arc<LatencyRecorder>,
    /// Timestamps of payloads.
    pub clock: Clock,
    /// The global timeout and signals.
    pub cancel: Cancel,
    /// What the run prints while it goes.
    pub console: Arc<Console>,
}

impl RunContext {
    /// The broker publishers use: the first.
    pub fn publish_endpoint(&self) -> &Endpoint {
        &self.endpoints[0]
    }

    /// The broker subscribers use: the last.
    pub fn subscribe_endpoint(&self) -> &Endpoint {
        &self.endpoints[self.endpoints.len() - 1]
    }

    /// The source address for the next connection to `endpoint`.
    pub fn source_for(&self, endpoint: &Endpoint) -> Option<IpAddr> {
        self.sources
            .as_ref()
            .and_then(|s| s.next_for(&endpoint.addr))
    }

    /// Opens a client connection, unless the run is cancelled first.
    pub async fn connect(&self, endpoint: &Endpoint, client_id: &str) -> Result<Link, Failure> {
        let mut cancel = self.cancel.watcher();
        let source = self.source_for(endpoint);
        tokio::select! {
            biased;
            _ = cancel.wait() => Err(self.cancel.failure()),
            link = Link::open(endpoint, source, &self.settings, client_id) => match link {
                Ok(link) => {
                    Counters::add(&self.counters.connected, 1);
                    Ok(link)
                }
                Err(e) => Err(Failure::new(Outcome::ConnectFailed, format!("{client_id}: {e}"))),
            },
        }
    }
}
