//! Bridges: broker events sent on to another system, outside the routing path. The one bridge
//! is Kafka (`bridge-way: 1`, `bridge-path: bridge-kafka.yml`), as in the original comqtt.
//!
//! The bridge owns its producer (librdkafka's queue and threads), its counters and its rate-
//! limited logging; the broker only calls it through [`crate::broker::events::BrokerEvents`]
//! on connection tasks, where it encodes the event and hands it to librdkafka's queue without
//! waiting. MQTT clients never depend on Kafka being there.
//!
//! | file | owns |
//! | --- | --- |
//! | [`kafka`] | [`KafkaBridge`]: the producer, the five events, sent/failed/dropped counters, flush at exit |
//! | [`kafka_config`] | the `bridge-kafka.yml` file: parsing, validation, its librdkafka settings |
//! | [`rules`] | `rules.topics` / `rules.filters`: which publishes and subscriptions are bridged |
//! | [`event`] | the JSON value and the key of one event, as the original wrote them |
//! | [`log_limit`] | at most one log line per interval for failures that repeat per message |

pub mod event;
pub mod kafka;
pub mod kafka_config;
pub mod log_limit;
pub mod rules;

pub use kafka::{KafkaBridge, KafkaCounters};
pub use kafka_config::KafkaBridgeConfig;

/// Why a bridge cannot start.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// The bridge's config file is missing, unparsable or has a bad value.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// librdkafka refused the settings the config file maps to.
    #[error("{path}: the Kafka producer cannot be created: {source}")]
    Producer {
        /// The bridge's config file.
        path: std::path::PathBuf,
        /// librdkafka's reason.
        source: rdkafka::error::KafkaError,
    },
}
