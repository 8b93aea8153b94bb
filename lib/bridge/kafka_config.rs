//! `bridge-kafka.yml`, the Kafka bridge's own file (named by `bridge-path`), in the original's
//! schema plus one comqtt key (`queue-size`), and the librdkafka settings it stands for.
//!
//! ```yaml
//! kafka-options:
//!   brokers: [127.0.0.1:9092]   # bootstrap.servers
//!   topic: comqtt               # every event goes to this one topic
//!   balancer: 0                 # 0 LeastBytes, 1 RoundRobin, 2 Hash, 3 CRC32 -> partitioner
//!   async: true                 # true: batch (linger 50 ms); false: send at once, one request in flight
//!   required-acks: 1            # 0 none, 1 leader, -1 all -> acks
//!   compression: 0              # 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd -> compression.type
//!   write-timeout: 10           # seconds an event may take to be delivered, 0 = 10
//!   queue-size: 100000          # comqtt: events held while Kafka is slow or away
//! rules:
//!   topics: []                  # publish topics to bridge (filters), empty = all
//!   filters: []                 # subscribe/unsubscribe filters to bridge, empty = all
//! ```
//!
//! librdkafka has no twin of kafka-go's LeastBytes and RoundRobin balancers (its producer only
//! partitions by key hash or at random): both are served by `random`, which spreads events
//! evenly over the partitions as they do. Hash is `fnv1a` (kafka-go's Hash hashes keys with
//! FNV-1a), CRC32 is `consistent_random` (the librdkafka partitioner kafka-go's CRC32Balancer
//! was written to agree with).
//!
//! Like every file of comqtt, unknown keys and bad values are errors naming the file, the key
//! (with its line) and what is allowed.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::rules::Rules;
use crate::config::{ConfigError, line_of};

/// The whole `bridge-kafka.yml`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct KafkaBridgeConfig {
    /// Where and how events are written.
    pub kafka_options: KafkaOptions,
    /// Which events are written.
    pub rules: Rules,
}

/// The `kafka-options:` block. Numbers are read wide so a bad one is reported with what the
/// key allows rather than as a type error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct KafkaOptions {
    /// Bootstrap brokers, `host:port` each.
    pub brokers: Vec<String>,
    /// The Kafka topic of every event.
    pub topic: String,
    /// 0 LeastBytes, 1 RoundRobin, 2 Hash, 3 CRC32 (see the module doc for librdkafka's names).
    pub balancer: i64,
    /// true: events are batched for throughput; false: each leaves at once, in order.
    #[serde(rename = "async")]
    pub async_writes: bool,
    /// 0 no acknowledgement, 1 the partition leader's, -1 every in-sync replica's.
    pub required_acks: i64,
    /// 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd.
    pub compression: i64,
    /// Seconds an event may take to be delivered (retries included) before it counts as
    /// failed; 0 means 10, the original's default.
    pub write_timeout: i64,
    /// comqtt: events librdkafka holds while Kafka is slow or away; beyond, new events are
    /// dropped and counted.
    pub queue_size: i64,
}

impl Default for KafkaOptions {
    fn default() -> Self {
        KafkaOptions {
            brokers: vec!["localhost:9092".into()],
            topic: "comqtt".into(),
            balancer: 0,
            async_writes: false,
            required_acks: 1,
            compression: 0,
            write_timeout: 10,
            queue_size: 100_000,
        }
    }
}

/// The write timeout of `write-timeout: 0`, seconds.
const DEFAULT_WRITE_TIMEOUT: i64 = 10;
/// Most bytes of events librdkafka holds (`queue.buffering.max.kbytes`), whatever `queue-size`
/// says: a broker must not grow without bound while Kafka is away.
const QUEUE_KBYTES: u32 = 64 * 1024;
/// How long `async: true` lets events gather into one request (`linger.ms`).
const ASYNC_LINGER_MS: u32 = 50;

impl KafkaOptions {
    /// The write timeout in force (`0` is the default).
    pub fn write_timeout(&self) -> std::time::Duration {
        let secs = if self.write_timeout == 0 {
            DEFAULT_WRITE_TIMEOUT
        } else {
            self.write_timeout
        };
        std::time::Duration::from_secs(secs.max(1) as u64)
    }

    /// Checks every value against what its key allows.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, value: String, allowed| {
            Err(ConfigError::Invalid {
                key,
                value,
                allowed,
            })
        };
        if self.brokers.is_empty() {
            return invalid(
                "kafka-options.brokers",
                "[]".into(),
                "at least one broker, host:port",
            );
        }
        if let Some(b) = self.brokers.iter().find(|b| !valid_broker(b)) {
            return invalid(
                "kafka-options.brokers",
                format!("{b:?}"),
                "host:port entries (no spaces or commas; port 1-65535)",
            );
        }
        if !valid_kafka_topic(&self.topic) {
            return invalid(
                "kafka-options.topic",
                format!("{:?}", self.topic),
                "a Kafka topic name: 1 to 249 of a-z A-Z 0-9 . _ - (not . or ..)",
            );
        }
        if !(0..=3).contains(&self.balancer) {
            return invalid(
                "kafka-options.balancer",
                self.balancer.to_string(),
                "0 LeastBytes, 1 RoundRobin, 2 Hash, 3 CRC32",
            );
        }
        if ![0, 1, -1].contains(&self.required_acks) {
            return invalid(
                "kafka-options.required-acks",
                self.required_acks.to_string(),
                "0 none, 1 leader, -1 all",
            );
        }
        if !(0..=4).contains(&self.compression) {
            return invalid(
                "kafka-options.compression",
                self.compression.to_string(),
                "0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd",
            );
        }
        if !(0..=86_400).contains(&self.write_timeout) {
            return invalid(
                "kafka-options.write-timeout",
                self.write_timeout.to_string(),
                "0 (10 s) to 86400 seconds",
            );
        }
        if !(1..=10_000_000).contains(&self.queue_size) {
            return invalid(
                "kafka-options.queue-size",
                self.queue_size.to_string(),
                "1 to 10000000 events",
            );
        }
        Ok(())
    }

    /// librdkafka's name of the balancer (valid options only).
    pub fn partitioner(&self) -> &'static str {
        match self.balancer {
            2 => "fnv1a",
            3 => "consistent_random",
            _ => "random",
        }
    }

    /// librdkafka's name of the compression (valid options only).
    pub fn compression_type(&self) -> &'static str {
        match self.compression {
            1 => "gzip",
            2 => "snappy",
            3 => "lz4",
            4 => "zstd",
            _ => "none",
        }
    }

    /// librdkafka's `acks` (valid options only).
    pub fn acks(&self) -> &'static str {
        match self.required_acks {
            0 => "0",
            -1 => "all",
            _ => "1",
        }
    }

    /// The producer settings these options stand for, as librdkafka keys and values.
    pub fn librdkafka_settings(&self) -> Vec<(&'static str, String)> {
        let timeout_ms = self.write_timeout().as_millis().to_string();
        let mut settings = vec![
            ("bootstrap.servers", self.brokers.join(",")),
            ("client.id", "comqtt".to_string()),
            ("acks", self.acks().to_string()),
            ("compression.type", self.compression_type().to_string()),
            ("partitioner", self.partitioner().to_string()),
            ("message.timeout.ms", timeout_ms.clone()),
            ("request.timeout.ms", timeout_ms),
            ("queue.buffering.max.messages", self.queue_size.to_string()),
            ("queue.buffering.max.kbytes", QUEUE_KBYTES.to_string()),
        ];
        if self.async_writes {
            settings.push(("linger.ms", ASYNC_LINGER_MS.to_string()));
        } else {
            // Each event leaves as soon as the connection is free, and with one request in
            // flight a retry cannot overtake the events behind it.
            settings.push(("linger.ms", "0".to_string()));
            settings.push(("max.in.flight.requests.per.connection", "1".to_string()));
        }
        settings
    }
}

/// `host:port` or `host` (librdkafka then uses 9092): no spaces or commas, a port in range.
fn valid_broker(b: &str) -> bool {
    if b.is_empty() || b.contains([',', ' ', '\t']) {
        return false;
    }
    match b.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(':') => {
            !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
        }
        _ => true,
    }
}

/// Kafka's rule for topic names.
fn valid_kafka_topic(t: &str) -> bool {
    (1..=249).contains(&t.len())
        && t != "."
        && t != ".."
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

impl KafkaBridgeConfig {
    /// Parses YAML text; `path` names the source in errors.
    pub fn from_yaml(text: &str, path: &Path) -> Result<KafkaBridgeConfig, ConfigError> {
        let config: KafkaBridgeConfig = if text.trim().is_empty() {
            KafkaBridgeConfig::default()
        } else {
            yaml_serde::from_str(text).map_err(|e| ConfigError::Parse {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?
        };
        config.validate().map_err(|e| match e {
            ConfigError::Invalid { key, .. } => ConfigError::InFile {
                path: path.to_path_buf(),
                line: line_of(text, key),
                error: Box::new(e),
            },
            other => other,
        })?;
        Ok(config)
    }

    /// Reads and parses the file.
    pub fn load(path: &Path) -> Result<KafkaBridgeConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        KafkaBridgeConfig::from_yaml(&text, path)
    }

    /// Whether the file at `path` reads as a bridge file rather than a main config file: its
    /// top-level keys are `kafka-options` and `rules` only (for `comqtt config check`).
    pub fn is_bridge_file(path: &Path) -> bool {
        let Ok(text) = std::fs::read_to_string(path) else {
            return false;
        };
        match yaml_serde::from_str::<yaml_serde::Value>(&text) {
            Ok(yaml_serde::Value::Mapping(m)) => {
                !m.is_empty()
                    && m.keys()
                        .all(|k| matches!(k.as_str(), Some("kafka-options") | Some("rules")))
            }
            _ => false,
        }
    }

    /// Checks every value against what its key allows.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.kafka_options.validate()?;
        self.rules.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<KafkaBridgeConfig, ConfigError> {
        KafkaBridgeConfig::from_yaml(text, Path::new("bridge-kafka.yml"))
    }

    fn setting(c: &KafkaBridgeConfig, key: &str) -> Option<String> {
        c.kafka_options
            .librdkafka_settings()
            .into_iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }

    #[test]
    fn the_original_sample_file_loads() {
        // The original's cmd/config/bridge-kafka.yml, comments and all.
        let text = "\nkafka-options:\n  brokers: [127.0.0.1:9092, 127.0.0.2:9092]\n  topic: comqtt\n  balancer: 0  # 0 LeastBytes、1 RoundRobin、2 Hash、3 CRC32Balancer\n  async: true\n  required-acks: 0  # 0 None、1 Leader、-1 All\n  compression: 1  # 0 Node、1 Gzip、2 Snappy、3 Lz4、4 Zstd\n  write-timeout: 10   # defaults to 10 seconds\n\nrules:\n  topics: [testtopic/3]  # The specified publish topics can be forwarded,wildcard(#、+) is supported, empty indicate unrestricted\n  filters: [testtopic/31]  # The specified subscribe/unsubscribe filters can be forwarded, wildcard(#、+) is supported, empty indicate unrestricted";
        let c = parse(text).unwrap();
        let o = &c.kafka_options;
        assert_eq!(o.brokers, ["127.0.0.1:9092", "127.0.0.2:9092"]);
        assert_eq!(
            (o.async_writes, o.acks(), o.compression_type()),
            (true, "0", "gzip")
        );
        assert_eq!(c.rules.topics, ["testtopic/3"]);
        assert_eq!(c.rules.filters, ["testtopic/31"]);
        assert_eq!(
            setting(&c, "bootstrap.servers").as_deref(),
            Some("127.0.0.1:9092,127.0.0.2:9092")
        );
        assert_eq!(setting(&c, "linger.ms").as_deref(), Some("50"));
    }

    #[test]
    fn the_example_file_of_this_repository_loads() {
        let path = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/config/bridge-kafka.yml"
        ));
        let c = KafkaBridgeConfig::load(path).unwrap();
        assert_eq!(c.kafka_options.topic, "comqtt");
        assert!(!c.kafka_options.brokers.is_empty());
    }

    #[test]
    fn defaults_fill_what_the_file_leaves_out() {
        let c = parse("kafka-options:\n  brokers: [k1:9092]\n").unwrap();
        let o = &c.kafka_options;
        assert_eq!(
            (
                o.topic.as_str(),
                o.acks(),
                o.partitioner(),
                o.write_timeout().as_secs()
            ),
            ("comqtt", "1", "random", 10)
        );
        assert_eq!(parse("").unwrap(), KafkaBridgeConfig::default());
        assert_eq!(
            parse("kafka-options:\n  write-timeout: 0\n")
                .unwrap()
                .kafka_options
                .write_timeout()
                .as_secs(),
            10,
            "0 is the original's default of 10 seconds"
        );
    }

    #[test]
    fn options_map_to_librdkafka_settings() {
        let c = parse(
            "kafka-options:\n  brokers: [a:1, b:2]\n  balancer: 3\n  required-acks: -1\n  compression: 4\n  write-timeout: 3\n  queue-size: 50\n",
        )
        .unwrap();
        for (key, value) in [
            ("bootstrap.servers", "a:1,b:2"),
            ("partitioner", "consistent_random"),
            ("acks", "all"),
            ("compression.type", "zstd"),
            ("message.timeout.ms", "3000"),
            ("request.timeout.ms", "3000"),
            ("queue.buffering.max.messages", "50"),
            ("linger.ms", "0"),
            ("max.in.flight.requests.per.connection", "1"),
        ] {
            assert_eq!(setting(&c, key).as_deref(), Some(value), "{key}");
        }
        for (balancer, name) in [
            (0, "random"),
            (1, "random"),
            (2, "fnv1a"),
            (3, "consistent_random"),
        ] {
            let c = parse(&format!("kafka-options:\n  balancer: {balancer}\n")).unwrap();
            assert_eq!(c.kafka_options.partitioner(), name);
        }
    }

    #[test]
    fn bad_values_name_the_file_key_line_and_allowed_values() {
        for (yaml, key, allowed, line) in [
            (
                "kafka-options:\n  balancer: 4\n",
                "kafka-options.balancer",
                "0 LeastBytes, 1 RoundRobin, 2 Hash, 3 CRC32",
                2,
            ),
            (
                "kafka-options:\n  topic: x\n  required-acks: 2\n",
                "kafka-options.required-acks",
                "0 none, 1 leader, -1 all",
                3,
            ),
            (
                "kafka-options:\n  compression: 5\n",
                "kafka-options.compression",
                "4 zstd",
                2,
            ),
            (
                "kafka-options:\n  write-timeout: -1\n",
                "kafka-options.write-timeout",
                "86400 seconds",
                2,
            ),
            (
                "kafka-options:\n  queue-size: 0\n",
                "kafka-options.queue-size",
                "1 to 10000000",
                2,
            ),
            (
                "kafka-options:\n  brokers: []\n",
                "kafka-options.brokers",
                "at least one broker",
                2,
            ),
            (
                "kafka-options:\n  brokers: [\"a:9092,b:9092\"]\n",
                "kafka-options.brokers",
                "host:port",
                2,
            ),
            (
                "kafka-options:\n  brokers: [\"a:x\"]\n",
                "kafka-options.brokers",
                "host:port",
                2,
            ),
            (
                "kafka-options:\n  topic: \"a b\"\n",
                "kafka-options.topic",
                "Kafka topic name",
                2,
            ),
            (
                "rules:\n  topics: [\"a/#/b\"]\n",
                "rules.topics",
                "topic filters",
                2,
            ),
        ] {
            let err = parse(yaml).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("bridge-kafka.yml, line {line}: {key}"))
                    && err.contains(allowed),
                "{yaml}: {err}"
            );
        }
    }

    #[test]
    fn unknown_keys_and_wrong_types_name_the_file_and_line() {
        for (yaml, what) in [
            ("kafka-options:\n  topic: t\n  brokerz: [a:1]\n", "brokerz"),
            ("kafka-option:\n  topic: t\n", "kafka-option"),
            ("rules:\n  topic: [a]\n", "topic"),
            ("kafka-options:\n  async: maybe\n", "line 2"),
        ] {
            let err = parse(yaml).unwrap_err().to_string();
            assert!(
                err.starts_with("bridge-kafka.yml: ") && err.contains(what),
                "{yaml}: {err}"
            );
        }
    }

    #[test]
    fn bridge_files_are_told_from_main_config_files() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        assert!(KafkaBridgeConfig::is_bridge_file(
            &dir.join("bridge-kafka.yml")
        ));
        assert!(!KafkaBridgeConfig::is_bridge_file(&dir.join("single.yml")));
        assert!(!KafkaBridgeConfig::is_bridge_file(
            &dir.join("no-such-file.yml")
        ));
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let err = KafkaBridgeConfig::load(Path::new("/nonexistent/bridge-kafka.yml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/bridge-kafka.yml"), "{err}");
    }
}
