//! The Kafka bridge: every connect, disconnect, publish, subscribe and unsubscribe of this
//! node's clients, as one JSON record ([`super::event`]) on one Kafka topic.
//!
//! Delivery is at most once and never in the way of MQTT. An event is encoded on the
//! connection's task and handed to librdkafka's queue (`ThreadedProducer::send` only enqueues;
//! librdkafka's threads write, retry and report). When that queue is full (`queue-size`
//! events, or 64 MiB) the event is dropped and counted; when Kafka does not acknowledge it
//! within `write-timeout` it counts as failed. librdkafka reconnects on its own, so a Kafka
//! that is down at startup or goes away later only costs events, and delivery resumes when it
//! is back. Counters: `comqtt_bridge_kafka_events_{sent,failed,dropped}_total` in `/metrics`.
//! Failures are logged at most once per [`LOG_INTERVAL`] per kind, with the count of the
//! ones not logged. At exit the queue is flushed for a bounded time ([`KafkaBridge::flush`]).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use rdkafka::ClientContext;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};

use super::BridgeError;
use super::event::{Action, Event, unix_now};
use super::kafka_config::KafkaBridgeConfig;
use super::log_limit::LogLimit;
use super::rules::Rules;
use crate::broker::client_info::ClientInfo;
use crate::broker::events::BrokerEvents;
use crate::broker::message::Message;

/// The shortest time between two log lines about the same kind of failure.
pub const LOG_INTERVAL: Duration = Duration::from_secs(10);
/// How long the startup check waits for Kafka's metadata before warning.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// What happened to the events, for `/metrics`.
#[derive(Debug, Default)]
pub struct KafkaCounters {
    /// Events Kafka acknowledged (with `required-acks: 0`, events written to it).
    pub sent: AtomicU64,
    /// Events that could not be delivered: Kafka refused them, did not acknowledge them
    /// within `write-timeout`, or they were too large.
    pub failed: AtomicU64,
    /// Events dropped because the producer's queue was full.
    pub dropped: AtomicU64,
}

impl KafkaCounters {
    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// What librdkafka's threads call back: delivery reports, errors, log lines.
struct ProducerEvents {
    /// Shared with the bridge and `/metrics`.
    counters: Arc<KafkaCounters>,
    /// The bootstrap brokers, for log lines.
    brokers: String,
    /// False from a failure until the next delivery, to log the recovery once.
    reachable: AtomicBool,
    /// Gate of the delivery failure lines.
    failures: LogLimit,
    /// Gate of librdkafka's error callback (connection lost, all brokers down).
    errors: LogLimit,
    /// Gate of librdkafka's own warnings.
    warnings: LogLimit,
}

impl ProducerEvents {
    fn lost(&self) {
        self.reachable.store(false, Ordering::Relaxed);
    }
}

impl ClientContext for ProducerEvents {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, line: &str) {
        match level {
            // Connection failures also come through `error` below: one line is enough.
            _ if facility == "FAIL" => {
                tracing::debug!(target: "librdkafka", facility, "{line}")
            }
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error
            | RDKafkaLogLevel::Warning => {
                if let Some(suppressed) = self.warnings.check() {
                    tracing::warn!(target: "librdkafka", facility, suppressed, "{line}");
                }
            }
            _ => tracing::debug!(target: "librdkafka", facility, "{line}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.lost();
        if let Some(suppressed) = self.errors.check() {
            tracing::warn!(
                brokers = %self.brokers,
                error = %error,
                suppressed,
                "Kafka bridge: {reason}; MQTT clients are served as usual, events wait in the queue"
            );
        }
    }
}

impl ProducerContext for ProducerEvents {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                KafkaCounters::add(&self.counters.sent);
                if !self.reachable.swap(true, Ordering::Relaxed) {
                    tracing::info!(brokers = %self.brokers, "Kafka bridge: events reach Kafka again");
                }
            }
            Err((error, _)) => {
                KafkaCounters::add(&self.counters.failed);
                self.lost();
                if let Some(suppressed) = self.failures.check() {
                    tracing::warn!(
                        brokers = %self.brokers,
                        error = %error,
                        suppressed,
                        "Kafka bridge: event not delivered (counted in comqtt_bridge_kafka_events_failed_total)"
                    );
                }
            }
        }
    }
}

/// The bridge, registered with the broker as an observer of its events.
pub struct KafkaBridge {
    /// librdkafka's producer: its queue, its I/O threads, the polling thread of reports.
    producer: ThreadedProducer<ProducerEvents>,
    /// The one Kafka topic of every event.
    topic: String,
    /// Which publishes and subscriptions are bridged (a reload replaces them).
    rules: parking_lot::RwLock<Rules>,
    /// Sent, failed, dropped.
    counters: Arc<KafkaCounters>,
    /// The bootstrap brokers, for log lines.
    brokers: String,
    /// `queue-size`, for log lines.
    queue_size: i64,
    /// Gate of the "queue full" lines.
    queue_full: LogLimit,
    /// Gate of the lines about events librdkafka refused at once.
    refused: LogLimit,
}

impl std::fmt::Debug for KafkaBridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaBridge")
            .field("brokers", &self.brokers)
            .field("topic", &self.topic)
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

impl KafkaBridge {
    /// Replaces the rules of which events are bridged (a reload).
    pub fn set_rules(&self, rules: Rules) {
        *self.rules.write() = rules;
    }

    /// Creates the producer from `config` (read from `path`, named in errors) and checks in
    /// the background whether Kafka answers: the broker starts either way.
    pub fn start(config: &KafkaBridgeConfig, path: &Path) -> Result<Arc<KafkaBridge>, BridgeError> {
        let options = &config.kafka_options;
        let brokers = options.brokers.join(",");
        let counters = Arc::new(KafkaCounters::default());
        let mut client = ClientConfig::new();
        for (key, value) in options.librdkafka_settings() {
            client.set(key, value);
        }
        client.set_log_level(RDKafkaLogLevel::Warning);
        let context = ProducerEvents {
            counters: counters.clone(),
            brokers: brokers.clone(),
            reachable: AtomicBool::new(true),
            failures: LogLimit::new(LOG_INTERVAL),
            errors: LogLimit::new(LOG_INTERVAL),
            warnings: LogLimit::new(LOG_INTERVAL),
        };
        let producer: ThreadedProducer<ProducerEvents> = client
            .create_with_context(context)
            .map_err(|source| BridgeError::Producer {
                path: path.to_path_buf(),
                source,
            })?;
        tracing::info!(
            brokers = %brokers,
            topic = %options.topic,
            acks = options.acks(),
            compression = options.compression_type(),
            partitioner = options.partitioner(),
            r#async = options.async_writes,
            "Kafka bridge on"
        );
        let bridge = Arc::new(KafkaBridge {
            producer,
            topic: options.topic.clone(),
            rules: parking_lot::RwLock::new(config.rules.clone()),
            counters,
            brokers,
            queue_size: options.queue_size,
            queue_full: LogLimit::new(LOG_INTERVAL),
            refused: LogLimit::new(LOG_INTERVAL),
        });
        let probe = bridge.clone();
        if let Err(e) = std::thread::Builder::new()
            .name("kafka-bridge-probe".into())
            .spawn(move || probe.probe())
        {
            tracing::warn!(error = %e, "Kafka bridge: cannot check Kafka at startup");
        }
        Ok(bridge)
    }

    /// Asks Kafka for the topic's metadata once and says what it found: connected, topic
    /// missing, or unreachable. Blocks up to [`PROBE_TIMEOUT`]; runs on its own thread.
    fn probe(&self) {
        let metadata = self
            .producer
            .client()
            .fetch_metadata(Some(&self.topic), PROBE_TIMEOUT);
        match metadata {
            Ok(m) => match m.topics().iter().find(|t| t.name() == self.topic) {
                Some(t) if t.error().is_none() => tracing::info!(
                    brokers = %self.brokers,
                    topic = %self.topic,
                    partitions = t.partitions().len(),
                    "Kafka bridge connected"
                ),
                found => {
                    let why = found
                        .and_then(|t| t.error())
                        .map(|e| RDKafkaErrorCode::from(e).to_string())
                        .unwrap_or_else(|| "not in the metadata".into());
                    tracing::warn!(
                        brokers = %self.brokers,
                        topic = %self.topic,
                        "Kafka bridge: Kafka answers but the topic is not usable ({why}): events fail until it exists"
                    );
                }
            },
            Err(e) => {
                self.producer.context().lost();
                tracing::warn!(
                    brokers = %self.brokers,
                    error = %e,
                    "Kafka bridge: Kafka is not reachable at {}; MQTT clients are served as usual, events wait in the queue (up to {} of them) and are sent when it is back, or count as failed after write-timeout",
                    self.brokers,
                    self.queue_size
                );
            }
        }
    }

    /// Sent, failed and dropped events so far.
    pub fn counters(&self) -> &KafkaCounters {
        &self.counters
    }

    /// Events queued in librdkafka or in flight to Kafka now.
    pub fn queued(&self) -> u64 {
        self.producer.in_flight_count().max(0) as u64
    }

    /// Waits up to `timeout` for the queued events to be delivered (blocking: call it off the
    /// async runtime's threads). Called once at exit; what is left is lost.
    pub fn flush(&self, timeout: Duration) {
        let c = &self.counters;
        match self.producer.flush(timeout) {
            Ok(()) => tracing::info!(
                sent = KafkaCounters::get(&c.sent),
                failed = KafkaCounters::get(&c.failed),
                dropped = KafkaCounters::get(&c.dropped),
                "Kafka bridge flushed"
            ),
            Err(e) => tracing::warn!(
                undelivered = self.queued(),
                error = %e,
                "Kafka bridge: events not delivered in time at exit are lost"
            ),
        }
    }

    /// Encodes `event` and hands it to librdkafka without waiting.
    fn send(&self, event: &Event<'_>) {
        let value = match event.to_json() {
            Ok(v) => v,
            Err(e) => {
                KafkaCounters::add(&self.counters.failed);
                tracing::warn!(error = %e, "Kafka bridge: event not encoded");
                return;
            }
        };
        let key = event.key();
        let record = BaseRecord::to(&self.topic).key(&key).payload(&value);
        let Err((error, _)) = self.producer.send(record) else {
            return;
        };
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull) {
            KafkaCounters::add(&self.counters.dropped);
            if let Some(suppressed) = self.queue_full.check() {
                tracing::warn!(
                    brokers = %self.brokers,
                    queue_size = self.queue_size,
                    suppressed,
                    "Kafka bridge: producer queue full, dropping events (counted in comqtt_bridge_kafka_events_dropped_total)"
                );
            }
        } else {
            KafkaCounters::add(&self.counters.failed);
            if let Some(suppressed) = self.refused.check() {
                tracing::warn!(
                    error = %error,
                    bytes = value.len(),
                    suppressed,
                    "Kafka bridge: event refused by the producer (counted in comqtt_bridge_kafka_events_failed_total)"
                );
            }
        }
    }
}

impl BrokerEvents for KafkaBridge {
    fn connected(&self, client: &ClientInfo) {
        self.send(&Event {
            remote: &client.remote,
            listener: client.listener,
            protocol_version: client.protocol.level(),
            clean: client.clean_start,
            ..Event::new(Action::Connect, client, unix_now())
        });
    }

    fn disconnected(&self, client: &ClientInfo, why: &str) {
        self.send(&Event {
            payload: why.as_bytes(),
            reason: why,
            ..Event::new(Action::Disconnect, client, unix_now())
        });
    }

    fn published(&self, client: &ClientInfo, message: &Arc<Message>) {
        if !self.rules.read().allows_topic(&message.topic) {
            return;
        }
        self.send(&Event {
            topics: &[&message.topic],
            payload: &message.payload,
            qos: Some(message.qos as u8),
            retain: Some(message.retain),
            ..Event::new(Action::Publish, client, unix_now())
        });
    }

    fn subscribed(&self, client: &ClientInfo, filters: &[&str]) {
        self.filters_event(Action::Subscribe, client, filters);
    }

    fn unsubscribed(&self, client: &ClientInfo, filters: &[&str]) {
        self.filters_event(Action::Unsubscribe, client, filters);
    }
}

impl KafkaBridge {
    /// A subscribe or unsubscribe event with the filters the rules let through (none: no event).
    fn filters_event(&self, action: Action, client: &ClientInfo, filters: &[&str]) {
        let allowed: Vec<&str> = {
            let rules = self.rules.read();
            filters
                .iter()
                .copied()
                .filter(|f| rules.allows_filter(f))
                .collect()
        };
        if allowed.is_empty() {
            return;
        }
        self.send(&Event {
            topics: &allowed,
            ..Event::new(action, client, unix_now())
        });
    }
}
