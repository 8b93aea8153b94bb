//! Configuration: the original comqtt's YAML schema (`storage-way`, `mqtt:` with listeners,
//! TLS files and `options.capabilities`, `log:`), merged as built-in defaults < file <
//! command-line flags. Unlike the original, a partial file keeps the defaults of the keys it
//! leaves out. Unknown keys and bad values are errors naming the key (and, for syntax and
//! unknown keys, the line).

mod cluster;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use cluster::ClusterConfig;

use crate::broker::Capabilities;
use crate::mqtt::QoS;

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// YAML syntax, an unknown key or a value of the wrong type; the message has the line.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, with key path and line.
        message: String,
    },
    /// A value outside what the key allows.
    #[error("{key}: {value} is not allowed ({allowed})")]
    Invalid {
        /// Dotted key path.
        key: &'static str,
        /// The value found.
        value: String,
        /// What is allowed.
        allowed: &'static str,
    },
    /// A value outside what the key allows, in a file (with the line of the key when found).
    #[error("{}{}: {error}", .path.display(), line_suffix(.line))]
    InFile {
        /// The file.
        path: PathBuf,
        /// Line of the key, 1-based.
        line: Option<usize>,
        /// The error.
        error: Box<ConfigError>,
    },
}

/// Deserializes YAML null (`key:` with nothing after it, as the original's samples have) as
/// the type's default.
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn line_suffix(line: &Option<usize>) -> String {
    line.map(|l| format!(", line {l}")).unwrap_or_default()
}

/// The 1-based line where the dotted `key` (e.g. `mqtt.options.capabilities.maximum-qos`) is
/// set in block-style YAML `text`, following indentation.
pub(crate) fn line_of(text: &str, key: &str) -> Option<usize> {
    let want: Vec<&str> = key.split('.').collect();
    let mut stack: Vec<(usize, &str)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let trimmed = raw.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('-') {
            continue;
        }
        let indent = raw.len() - trimmed.len();
        let Some((k, _)) = trimmed.split_once(':') else {
            continue;
        };
        let k = k.trim().trim_matches(|c| c == '"' || c == '\'');
        while stack.last().is_some_and(|(ind, _)| *ind >= indent) {
            stack.pop();
        }
        stack.push((indent, k));
        if stack.len() == want.len() && stack.iter().zip(&want).all(|((_, k), w)| k == w) {
            return Some(i + 1);
        }
    }
    None
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// 0 memory, 1 embedded (redb file), 2 accepted as an alias of 1, 3 Redis; unset: 1 for a
    /// single node, 3 in cluster mode (the original's defaults). See [`Config::storage_way`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_way: Option<u8>,
    /// File of the embedded store.
    pub storage_path: String,
    /// Acknowledge QoS 1/2 messages of persistent sessions only once they are on disk (the
    /// default). `false` commits every 200 ms instead: faster, but a crash loses the last
    /// moments of acknowledged messages.
    pub storage_sync: bool,
    /// Listeners and MQTT options.
    pub mqtt: MqttConfig,
    /// Redis, for `storage-way: 3`.
    pub redis: RedisConfig,
    /// The original's bridge: 0 none, 1 Kafka ([`crate::bridge`]).
    pub bridge_way: u8,
    /// The bridge's own config file (`bridge-kafka.yml`), relative to the working directory.
    pub bridge_path: String,
    /// comqtt: threads that serve clients (0: one per CPU core). 1 costs less CPU per message
    /// and lowers latency at modest loads; more are needed to use more than one core.
    pub worker_threads: usize,
    /// CPU profiles and the allocator's summary on the HTTP API's port, under `/debug/pprof/`
    /// (the original serves Go's pprof on `:6060`); see [`crate::http::pprof`].
    pub pprof_enable: bool,
    /// The web dashboard on the HTTP API's port under `/dashboard/` (the original's default:
    /// on; nobody can log in until the users file has a user).
    pub dashboard_enable: bool,
    /// The dashboard's files.
    pub dashboard: DashboardConfig,
    /// Authentication: way 0 (anonymous) only in this build.
    pub auth: AuthConfig,
    /// The cluster: on when `cluster.node-name` is set.
    pub cluster: ClusterConfig,
    /// Logging.
    pub log: LogConfig,
}

/// The `mqtt:` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct MqttConfig {
    /// TCP listener address; empty turns it off.
    pub tcp: String,
    /// WebSocket listener address; empty turns it off.
    pub ws: String,
    /// The original's QUIC listener: not in this build (warned about when set).
    pub quic: String,
    /// HTTP API address (stats, clients, `/metrics`, health); empty turns it off.
    pub http: String,
    /// Bearer token of the HTTP API's mutating requests; empty refuses them all.
    pub http_token: String,
    /// TLS files; with a certificate, both listeners speak TLS.
    pub tls: TlsConfig,
    /// Broker options.
    pub options: MqttOptions,
}

/// The `mqtt.tls:` block.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct TlsConfig {
    /// CA certificates clients must present certificates from (mutual TLS).
    pub ca_cert: String,
    /// The original's QUIC 0-RTT switch (no QUIC here: warned about).
    pub zero_rtt: bool,
    /// Server certificate chain (PEM).
    pub server_cert: String,
    /// Server private key (PEM).
    pub server_key: String,
}

/// The `mqtt.options:` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct MqttOptions {
    /// Seconds between `$SYS` updates; 0 turns them off.
    pub sys_topic_resend_interval: u64,
    /// The original's socket buffer sizes; comqtt sizes reads and writes per wake-up, so these
    /// are accepted for compatibility and warned about when set.
    pub client_write_buffer_size: usize,
    pub client_read_buffer_size: usize,
    /// Whether the broker itself may publish (the HTTP API's `POST /api/v1/mqtt/message`).
    pub inline_client: bool,
    /// comqtt: connections the kernel queues for each listener before they are accepted
    /// (capped by `net.core.somaxconn`).
    pub listen_backlog: u32,
    /// comqtt: connection limits per listener and per source address (all off by default).
    pub limits: crate::listener::admission::Limits,
    /// comqtt: watermarks of overload protection (off by default).
    pub overload: crate::broker::overload::Watermarks,
    /// Limits and features.
    pub capabilities: CapabilitiesConfig,
}

/// The `mqtt.options.capabilities:` block, with the original's key names and encodings
/// (0/1 for the `*-available` flags), plus comqtt's queue limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct CapabilitiesConfig {
    pub maximum_message_expiry_interval: u32,
    pub maximum_session_expiry_interval: u32,
    pub maximum_client_writes_pending: usize,
    /// 0: no limit beyond the protocol's.
    pub maximum_packet_size: u32,
    pub receive_maximum: u16,
    pub topic_alias_maximum: u16,
    pub maximum_qos: u8,
    pub retain_available: u8,
    pub wildcard_sub_available: u8,
    pub sub_id_available: u8,
    pub shared_sub_available: u8,
    pub minimum_protocol_version: u8,
    /// comqtt: keep alive imposed on v5 clients (0: the client's own).
    pub server_keep_alive: u16,
    /// comqtt: messages kept for an offline persistent session.
    pub maximum_queued_messages: usize,
    /// comqtt: unacknowledged messages towards a client that names no receive maximum.
    pub maximum_inflight: u16,
    /// comqtt: most levels in a topic name or filter.
    pub maximum_topic_levels: usize,
    /// comqtt: longest topic name or filter, bytes.
    pub maximum_topic_length: usize,
    /// comqtt: most subscriptions per session (0: no limit).
    pub maximum_subscriptions_per_client: usize,
    /// The original's compatibility switches.
    pub compatibilities: Compatibilities,
}

/// The `capabilities.compatibilities:` block of the original.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Compatibilities {
    /// Answer v5 clients 0x80 Unspecified error instead of 0x87 Not authorized.
    pub obscure_not_authorized: bool,
    /// The original's workaround for clients that misread DISCONNECT (not needed here: warned).
    pub passive_client_disconnect: bool,
    /// Always send Response Information in CONNACK (comqtt sends none: warned).
    pub always_return_response: bool,
    /// Continue the `$SYS` counters after a restart (needs a store). Default true, unlike
    /// the original.
    pub restore_sys_info_restart: bool,
}

impl Default for Compatibilities {
    fn default() -> Self {
        Compatibilities {
            obscure_not_authorized: false,
            passive_client_disconnect: false,
            always_return_response: false,
            restore_sys_info_restart: true,
        }
    }
}

/// The original's `dashboard:` block (see [`crate::http::dashboard`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct DashboardConfig {
    /// The key session cookies are signed with (16 bytes or more); empty: a random key made
    /// at startup (sessions end with the process).
    pub secret_file: String,
    /// The users, in the original's JSON (`comqtt dashboard add-user` writes it).
    pub users_file: String,
}

impl Default for DashboardConfig {
    fn default() -> Self {
        DashboardConfig {
            secret_file: String::new(),
            users_file: "./config/dashboard-users.json".into(),
        }
    }
}

/// The `auth:` block of the original (see [`crate::auth`]).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct AuthConfig {
    /// 0 anonymous, 1 user name and password, 2 client id: the key the datasource is asked
    /// about, unless its file sets `auth-mode` / `acl-mode`.
    pub way: u8,
    /// 0 file (the original's "free": a rule file, here), 1 redis, 2 mysql, 3 postgresql,
    /// 4 http.
    pub datasource: u8,
    /// The datasource's config file.
    pub conf_path: String,
    /// The blacklist rule file, checked before the datasource.
    pub blacklist_path: String,
}

/// The `redis:` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct RedisConfig {
    /// Connection settings.
    pub options: RedisOptionsConfig,
    /// Key prefix.
    pub prefix: String,
}

/// The `redis.options:` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct RedisOptionsConfig {
    /// `host:port`.
    pub addr: String,
    /// ACL user name.
    pub username: String,
    /// Password.
    pub password: String,
    /// Database number.
    pub db: i64,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            options: RedisOptionsConfig::default(),
            prefix: "comqtt".into(),
        }
    }
}

impl Default for RedisOptionsConfig {
    fn default() -> Self {
        RedisOptionsConfig {
            addr: "127.0.0.1:6379".into(),
            username: String::new(),
            password: String::new(),
            db: 0,
        }
    }
}

/// The `log:` block: the original's keys (`enable`, `format`, `output`, `filename`,
/// `maxsize`, `max-age`, `max-backups`, `compress`, `level`) plus `info-file` and `error-file`
/// of its older releases. Set up by [`crate::logging`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct LogConfig {
    /// Logging on or off.
    pub enable: bool,
    /// 0 text, 1 JSON (one object per line), on the console and in files.
    pub format: u8,
    /// 0 console (stderr, the default: no files unless asked), 1 files, 2 both.
    pub output: u8,
    /// The log file of every line at the level in force; "" writes none.
    pub filename: String,
    /// Info and above also go here; "" writes none.
    pub info_file: String,
    /// Errors also go here; "" writes none.
    pub error_file: String,
    /// Rotate a file at this many megabytes; 0 means 100 (lumberjack's default).
    pub maxsize: u64,
    /// Remove rotated files older than this many days; 0 keeps them.
    pub max_age: u32,
    /// Keep at most this many rotated files per log file; 0 keeps them all.
    pub max_backups: u32,
    /// Gzip rotated files.
    pub compress: bool,
    /// slog levels of the original: -4 debug, 0 info, 4 warn, 8 error.
    pub level: i8,
    /// Level of raft's own lines (from `cluster.raft-log-level`; not a key of this block).
    #[serde(skip)]
    pub raft_level: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            storage_way: None,
            storage_path: "./data/comqtt.redb".into(),
            storage_sync: true,
            mqtt: MqttConfig::default(),
            redis: RedisConfig::default(),
            bridge_way: 0,
            bridge_path: String::new(),
            worker_threads: 0,
            pprof_enable: false,
            dashboard_enable: true,
            dashboard: DashboardConfig::default(),
            auth: AuthConfig::default(),
            cluster: ClusterConfig::default(),
            log: LogConfig::default(),
        }
    }
}

impl Default for MqttConfig {
    fn default() -> Self {
        MqttConfig {
            tcp: ":1883".into(),
            ws: ":1882".into(),
            quic: String::new(),
            http: ":8080".into(),
            http_token: String::new(),
            tls: TlsConfig::default(),
            options: MqttOptions::default(),
        }
    }
}

impl Default for MqttOptions {
    fn default() -> Self {
        MqttOptions {
            sys_topic_resend_interval: 1,
            client_write_buffer_size: 0,
            client_read_buffer_size: 0,
            inline_client: true,
            listen_backlog: crate::listener::DEFAULT_BACKLOG,
            limits: Default::default(),
            overload: Default::default(),
            capabilities: CapabilitiesConfig::default(),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            enable: true,
            format: 0,
            output: 0,
            filename: "./logs/comqtt.log".into(),
            info_file: "./logs/co-info.log".into(),
            error_file: "./logs/co-err.log".into(),
            maxsize: 100,
            max_age: 30,
            max_backups: 10,
            compress: true,
            level: 0,
            raft_level: None,
        }
    }
}

impl Default for CapabilitiesConfig {
    fn default() -> Self {
        let c = Capabilities::default();
        CapabilitiesConfig {
            maximum_message_expiry_interval: c.maximum_message_expiry_interval,
            maximum_session_expiry_interval: c.maximum_session_expiry_interval,
            maximum_client_writes_pending: c.maximum_client_writes_pending,
            maximum_packet_size: c.maximum_packet_size,
            receive_maximum: c.receive_maximum,
            topic_alias_maximum: c.topic_alias_maximum,
            maximum_qos: c.maximum_qos as u8,
            retain_available: c.retain_available as u8,
            wildcard_sub_available: c.wildcard_sub_available as u8,
            sub_id_available: c.sub_id_available as u8,
            shared_sub_available: c.shared_sub_available as u8,
            minimum_protocol_version: c.minimum_protocol_version,
            server_keep_alive: c.server_keep_alive,
            maximum_queued_messages: c.maximum_queued_messages,
            maximum_inflight: c.maximum_inflight,
            maximum_topic_levels: c.maximum_topic_levels,
            maximum_topic_length: c.maximum_topic_length,
            maximum_subscriptions_per_client: c.maximum_subscriptions_per_client,
            compatibilities: Compatibilities::default(),
        }
    }
}

fn flag(key: &'static str, v: u8) -> Result<bool, ConfigError> {
    match v {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(ConfigError::Invalid {
            key,
            value: v.to_string(),
            allowed: "0 or 1",
        }),
    }
}

impl CapabilitiesConfig {
    /// The broker's capabilities, or the first value out of range.
    pub fn to_capabilities(&self) -> Result<Capabilities, ConfigError> {
        let maximum_qos = QoS::from_u8(self.maximum_qos).ok_or(ConfigError::Invalid {
            key: "mqtt.options.capabilities.maximum-qos",
            value: self.maximum_qos.to_string(),
            allowed: "0, 1 or 2",
        })?;
        if !(3..=5).contains(&self.minimum_protocol_version) {
            return Err(ConfigError::Invalid {
                key: "mqtt.options.capabilities.minimum-protocol-version",
                value: self.minimum_protocol_version.to_string(),
                allowed: "3 (MQTT 3.1), 4 (3.1.1) or 5",
            });
        }
        for (key, v) in [
            (
                "mqtt.options.capabilities.receive-maximum",
                self.receive_maximum as usize,
            ),
            (
                "mqtt.options.capabilities.maximum-client-writes-pending",
                self.maximum_client_writes_pending,
            ),
            (
                "mqtt.options.capabilities.maximum-queued-messages",
                self.maximum_queued_messages,
            ),
            (
                "mqtt.options.capabilities.maximum-inflight",
                self.maximum_inflight as usize,
            ),
            (
                "mqtt.options.capabilities.maximum-topic-levels",
                self.maximum_topic_levels,
            ),
            (
                "mqtt.options.capabilities.maximum-topic-length",
                self.maximum_topic_length,
            ),
        ] {
            if v == 0 {
                return Err(ConfigError::Invalid {
                    key,
                    value: "0".into(),
                    allowed: "at least 1",
                });
            }
        }
        if self.maximum_packet_size != 0 && self.maximum_packet_size < 64 {
            return Err(ConfigError::Invalid {
                key: "mqtt.options.capabilities.maximum-packet-size",
                value: self.maximum_packet_size.to_string(),
                allowed: "0 (unlimited) or at least 64 bytes",
            });
        }
        Ok(Capabilities {
            maximum_message_expiry_interval: self.maximum_message_expiry_interval,
            maximum_session_expiry_interval: self.maximum_session_expiry_interval,
            maximum_client_writes_pending: self.maximum_client_writes_pending,
            maximum_packet_size: self.maximum_packet_size,
            receive_maximum: self.receive_maximum,
            topic_alias_maximum: self.topic_alias_maximum,
            maximum_qos,
            retain_available: flag(
                "mqtt.options.capabilities.retain-available",
                self.retain_available,
            )?,
            wildcard_sub_available: flag(
                "mqtt.options.capabilities.wildcard-sub-available",
                self.wildcard_sub_available,
            )?,
            sub_id_available: flag(
                "mqtt.options.capabilities.sub-id-available",
                self.sub_id_available,
            )?,
            shared_sub_available: flag(
                "mqtt.options.capabilities.shared-sub-available",
                self.shared_sub_available,
            )?,
            minimum_protocol_version: self.minimum_protocol_version,
            server_keep_alive: self.server_keep_alive,
            maximum_queued_messages: self.maximum_queued_messages,
            maximum_inflight: self.maximum_inflight,
            obscure_not_authorized: self.compatibilities.obscure_not_authorized,
            restore_counters: self.compatibilities.restore_sys_info_restart,
            maximum_topic_levels: self.maximum_topic_levels,
            maximum_topic_length: self.maximum_topic_length.min(65_535),
            maximum_subscriptions_per_client: self.maximum_subscriptions_per_client,
            client_rates: Default::default(),
        })
    }
}

impl LogConfig {
    /// Checks the `log:` keys.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.format > 1 {
            return Err(ConfigError::Invalid {
                key: "log.format",
                value: self.format.to_string(),
                allowed: "0 text or 1 json",
            });
        }
        if self.output > 2 {
            return Err(ConfigError::Invalid {
                key: "log.output",
                value: self.output.to_string(),
                allowed: "0 console, 1 file, 2 both",
            });
        }
        if !(-4..=8).contains(&self.level) {
            return Err(ConfigError::Invalid {
                key: "log.level",
                value: self.level.to_string(),
                allowed: "-4 to 8: -4 debug, 0 info, 4 warn, 8 error",
            });
        }
        let files = [
            ("log.filename", &self.filename),
            ("log.info-file", &self.info_file),
            ("log.error-file", &self.error_file),
        ];
        if self.output != 0 && files.iter().all(|(_, f)| f.is_empty()) {
            return Err(ConfigError::Invalid {
                key: "log.output",
                value: self.output.to_string(),
                allowed: "1 or 2 only with a filename, info-file or error-file (or 0 console)",
            });
        }
        for (i, (key, file)) in files.iter().enumerate() {
            if !file.is_empty() && files[..i].iter().any(|(_, other)| other == file) {
                return Err(ConfigError::Invalid {
                    key,
                    value: file.to_string(),
                    allowed: "a file no other log key names",
                });
            }
        }
        Ok(())
    }
}

impl Config {
    /// Parses YAML text; `path` names the source in errors.
    pub fn from_yaml(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = if text.trim().is_empty() {
            Config::default()
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

    /// Reads and parses a YAML file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::from_yaml(&text, path)
    }

    /// Checks every value against what its key allows.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.cluster.validate()?;
        if self.cluster.enabled() && !matches!(self.storage_way(), 0 | 3) {
            return Err(ConfigError::Invalid {
                key: "storage-way",
                value: self.storage_way().to_string(),
                allowed: "3 (redis, shared by the nodes: sessions move with their clients) or 0 (memory) in cluster mode",
            });
        }
        if self.bridge_way > 1 {
            return Err(ConfigError::Invalid {
                key: "bridge-way",
                value: self.bridge_way.to_string(),
                allowed: "0 none or 1 kafka",
            });
        }
        if self.bridge_way == 1 && self.bridge_path.is_empty() {
            return Err(ConfigError::Invalid {
                key: "bridge-path",
                value: "\"\"".into(),
                allowed: "the Kafka bridge's file (bridge-kafka.yml) when bridge-way is 1",
            });
        }
        if self.auth.way > 2 {
            return Err(ConfigError::Invalid {
                key: "auth.way",
                value: self.auth.way.to_string(),
                allowed: "0 anonymous, 1 username and password, 2 client id",
            });
        }
        if self.auth.datasource > 4 {
            return Err(ConfigError::Invalid {
                key: "auth.datasource",
                value: self.auth.datasource.to_string(),
                allowed: "0 file, 1 redis, 2 mysql, 3 postgresql, 4 http",
            });
        }
        if self.auth.way != 0 && self.auth.conf_path.is_empty() {
            return Err(ConfigError::Invalid {
                key: "auth.conf-path",
                value: "\"\"".into(),
                allowed: "the datasource's file (auth-redis.yml, auth-mysql.yml, auth-postgresql.yml, auth-http.yml or a rule file) when auth.way is 1 or 2",
            });
        }
        if self.storage_way() > 3 {
            return Err(ConfigError::Invalid {
                key: "storage-way",
                value: self.storage_way().to_string(),
                allowed: "0 memory, 1 embedded, 2 (alias of 1), 3 redis",
            });
        }
        if self.storage_way() == 3 && self.redis.prefix.is_empty() {
            return Err(ConfigError::Invalid {
                key: "redis.prefix",
                value: "\"\"".into(),
                allowed: "a non-empty key prefix",
            });
        }
        if self.storage_way() != 0 && self.storage_path.is_empty() {
            return Err(ConfigError::Invalid {
                key: "storage-path",
                value: "\"\"".into(),
                allowed: "a file path for the embedded store",
            });
        }
        self.log.validate()?;
        let tls = &self.mqtt.tls;
        if tls.server_cert.is_empty() != tls.server_key.is_empty() {
            return Err(ConfigError::Invalid {
                key: "mqtt.tls",
                value: "only one of server-cert and server-key".into(),
                allowed: "both server-cert and server-key, or neither",
            });
        }
        if !tls.ca_cert.is_empty() && tls.server_cert.is_empty() {
            return Err(ConfigError::Invalid {
                key: "mqtt.tls.ca-cert",
                value: tls.ca_cert.clone(),
                allowed: "only together with server-cert and server-key",
            });
        }
        self.mqtt.options.overload.validate()?;
        self.mqtt.options.capabilities.to_capabilities().map(|_| ())
    }

    /// The storage way in force: as set, else 1 for a single node and 3 in cluster mode.
    pub fn storage_way(&self) -> u8 {
        self.storage_way
            .unwrap_or(if self.cluster.enabled() { 3 } else { 1 })
    }

    /// Settings of the original that this build accepts but does not act on, each with why;
    /// the broker logs them at startup.
    pub fn warnings(&self) -> Vec<String> {
        let o = &self.mqtt.options;
        let compat = &o.capabilities.compatibilities;
        let mut w = Vec::new();
        let mut note = |on: bool, what: &str| {
            if on {
                w.push(what.to_string());
            }
        };
        note(
            self.pprof_enable && self.mqtt.http.is_empty(),
            "pprof-enable: profiles are served on the HTTP API's port, and mqtt.http is empty (no HTTP API)",
        );
        note(
            self.mqtt.tls.zero_rtt && self.mqtt.quic.is_empty(),
            "mqtt.tls.zero-rtt: applies to QUIC only, and mqtt.quic is empty",
        );
        note(
            o.client_write_buffer_size != 0,
            "mqtt.options.client-write-buffer-size: comqtt batches each wake-up's packets into one write; ignored",
        );
        note(
            o.client_read_buffer_size != 0,
            "mqtt.options.client-read-buffer-size: comqtt sizes reads per wake-up; ignored",
        );
        note(
            compat.passive_client_disconnect,
            "capabilities.compatibilities.passive-client-disconnect: not needed, comqtt closes after sending DISCONNECT as the spec asks; ignored",
        );
        let c = &self.cluster;
        note(
            c.enabled() && c.raft_impl == 1,
            "cluster.raft-impl: 1 (etcd raft) is served by openraft like 0; node names need not be numeric",
        );
        note(
            c.enabled() && !c.grpc_enable,
            "cluster.grpc-enable: false is ignored; messages between nodes always travel over gRPC (grpc-port)",
        );
        note(
            compat.always_return_response,
            "capabilities.compatibilities.always-return-response: comqtt sends no Response Information; ignored",
        );
        w
    }

    /// The full default configuration as YAML.
    pub fn default_yaml() -> String {
        let body = yaml_serde::to_string(&Config::default()).unwrap_or_default();
        format!(
            "# storage-way: 1 on a single node, 3 (redis) in cluster mode (cluster.node-name set)\n{body}"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_yaml(text, Path::new("test.yml"))
    }

    #[test]
    fn partial_file_keeps_defaults() {
        let c = parse("mqtt:\n  options:\n    capabilities:\n      maximum-qos: 1\n").unwrap();
        assert_eq!(c.mqtt.options.capabilities.maximum_qos, 1);
        assert_eq!(c.mqtt.options.capabilities.receive_maximum, 1024);
        assert_eq!(c.mqtt.tcp, ":1883");
        assert_eq!(c.mqtt.http, ":8080");
    }

    #[test]
    fn http_api_keys() {
        let c = parse("mqtt:\n  http: 127.0.0.1:9090\n  http-token: s3cret\n").unwrap();
        assert_eq!(
            (c.mqtt.http.as_str(), c.mqtt.http_token.as_str()),
            ("127.0.0.1:9090", "s3cret")
        );
        assert_eq!(Config::default().mqtt.http_token, "");
    }

    #[test]
    fn unknown_key_names_the_key_and_line() {
        let err = parse("mqtt:\n  tcp: :1883\n  tpc: :1884\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("tpc") && err.contains("line 3"), "{err}");
    }

    #[test]
    fn the_original_sample_loads_with_warnings_for_what_is_not_built() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/config/single-original.yml"
        ))
        .unwrap();
        let c = parse(&text).unwrap();
        assert_eq!(
            (
                c.storage_way(),
                c.mqtt.quic.as_str(),
                c.mqtt.options.client_read_buffer_size
            ),
            (1, ":2000", 1024)
        );
        let warnings = c.warnings().join("\n");
        for key in ["client-write-buffer-size", "client-read-buffer-size"] {
            assert!(warnings.contains(key), "no warning for {key}: {warnings}");
        }
        assert!(
            !c.mqtt
                .options
                .capabilities
                .compatibilities
                .restore_sys_info_restart
        );
    }

    #[test]
    fn anonymous_auth_needs_no_datasource() {
        assert!(parse("auth:\n  way: 0\n  datasource: 3\n").is_ok());
    }

    #[test]
    fn auth_block_values_are_checked() {
        for (text, key, allowed) in [
            ("auth:\n  way: 3\n", "auth.way", "2 client id"),
            ("auth:\n  datasource: 5\n", "auth.datasource", "4 http"),
            (
                "auth:\n  way: 1\n  datasource: 1\n",
                "auth.conf-path",
                "auth-redis.yml",
            ),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(key) && err.contains(allowed), "{text}: {err}");
        }
        let c = parse("auth:\n  way: 1\n  datasource: 1\n  conf-path: a.yml\n").unwrap();
        assert_eq!(
            (c.auth.way, c.auth.datasource, c.auth.conf_path.as_str()),
            (1, 1, "a.yml")
        );
    }

    #[test]
    fn bridge_way_1_needs_a_bridge_file_and_other_ways_are_refused() {
        let c = parse("bridge-way: 1\nbridge-path: ./config/bridge-kafka.yml\n").unwrap();
        assert_eq!(
            (c.bridge_way, c.bridge_path.as_str()),
            (1, "./config/bridge-kafka.yml")
        );
        let err = parse("bridge-way: 2\n").unwrap_err().to_string();
        assert!(
            err.contains("test.yml, line 1")
                && err.contains("bridge-way")
                && err.contains("0 none or 1 kafka"),
            "{err}"
        );
        let err = parse("bridge-way: 1\n").unwrap_err().to_string();
        assert!(
            err.contains("bridge-path") && err.contains("bridge-kafka.yml"),
            "{err}"
        );
        assert!(parse("bridge-way: 0\nbridge-path: \"\"\n").is_ok());
    }

    #[test]
    fn out_of_range_value_names_the_line_of_its_key() {
        let text = "storage-way: 0\nmqtt:\n  tcp: :1883\n  options:\n    # limits\n    capabilities:\n      receive-maximum: 10\n      maximum-qos: 3\n";
        let err = parse(text).unwrap_err().to_string();
        assert!(
            err.contains("test.yml, line 8") && err.contains("maximum-qos"),
            "{err}"
        );
        assert_eq!(line_of("a:\n  b: 1\nc:\n  b: 2\n", "c.b"), Some(4));
        assert_eq!(line_of("a: {b: 1}\n", "a.b"), None);
    }

    #[test]
    fn out_of_range_value_names_key_and_allowed_values() {
        let err = parse("mqtt:\n  options:\n    capabilities:\n      maximum-qos: 3\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("maximum-qos") && err.contains("0, 1 or 2"),
            "{err}"
        );
    }

    #[test]
    fn wrong_type_is_an_error_with_line() {
        let err = parse("mqtt:\n  options:\n    sys-topic-resend-interval: soon\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3"), "{err}");
    }

    #[test]
    fn log_block_of_the_original_parses() {
        let c = parse(
            "log:\n  enable: true\n  format: 1\n  output: 2\n  filename: /var/log/c.log\n  maxsize: 5\n  max-age: 7\n  max-backups: 3\n  compress: false\n  level: -4\n  info-file: i.log\n  error-file: e.log\n",
        )
        .unwrap();
        let l = &c.log;
        assert_eq!(
            (
                l.format,
                l.output,
                l.filename.as_str(),
                l.maxsize,
                l.max_age,
                l.max_backups,
                l.compress,
                l.level
            ),
            (1, 2, "/var/log/c.log", 5, 7, 3, false, -4)
        );
        assert_eq!(
            (l.info_file.as_str(), l.error_file.as_str()),
            ("i.log", "e.log")
        );
        assert_eq!(Config::default().log.output, 0, "console only unless asked");
    }

    #[test]
    fn bad_log_values_name_the_key_and_allowed_values() {
        for (yaml, key, allowed) in [
            (
                "log:\n  output: 7\n",
                "log.output",
                "0 console, 1 file, 2 both",
            ),
            ("log:\n  format: 2\n", "log.format", "0 text or 1 json"),
            (
                "log:\n  level: 12\n",
                "log.level",
                "-4 debug, 0 info, 4 warn, 8 error",
            ),
            (
                "log:\n  output: 1\n  filename: \"\"\n  info-file: \"\"\n  error-file: \"\"\n",
                "log.output",
                "filename",
            ),
            (
                "log:\n  info-file: a.log\n  error-file: a.log\n",
                "log.error-file",
                "no other log key",
            ),
        ] {
            let err = parse(yaml).unwrap_err().to_string();
            assert!(err.contains(key) && err.contains(allowed), "{yaml}: {err}");
        }
    }

    #[test]
    fn default_yaml_round_trips() {
        assert_eq!(parse(&Config::default_yaml()).unwrap(), Config::default());
    }
}
