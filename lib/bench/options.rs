//! The flags of `comqtt-bench`: every mqtt-stresser flag with its name, default and meaning,
//! in Go's spellings (`-flag value`, `-flag=value`, `--flag`; `crate::cli::go_style_args`
//! turns the single-dash forms into what clap parses), plus comqtt-bench's own. [`BenchArgs`]
//! is what clap parses; [`Options`] is the checked, typed result a run takes. Help text,
//! including the long help's list of differences from mqtt-stresser, comes from here.

use std::io;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use clap::{ArgAction, Parser, ValueEnum};

use super::duration::{DurationError, GoDuration};
use super::payload::PayloadKind;
use super::source::{SourceAddresses, SourceError};
use super::tls::TlsSettings;
use super::url::{BrokerUrl, UrlError};
use crate::mqtt::{Protocol, QoS};

/// The long help's description.
const LONG_ABOUT: &str = "MQTT load tester, command-line compatible with mqtt-stresser.

Each worker is one subscriber and one publisher connection on a topic of its own; the
publisher sends -num-messages messages, the subscriber counts them. Workers start in batches
of -rampup-size, -rampup-delay apart. The report has mqtt-stresser's blocks, then overall
throughput and publish-to-receive latency percentiles.

Example: comqtt-bench -broker tcp://localhost:1883 -num-clients=500 -num-messages=100";

/// The long help's epilogue: every difference from mqtt-stresser.
const DIFFERENCES: &str = "Scenarios (-scenario):
  p2p        mqtt-stresser's: each worker publishes to its own subscriber (default)
  fanout     1 publisher -> -num-clients subscribers of one topic
  fanin      -num-clients publishers -> 1 subscriber (a + wildcard)
  sharedsub  -num-clients publishers -> a $share/bench/... group of -num-clients subscribers
  conn       open -num-clients connections at -connect-rate per second, hold them for -hold,
             report connect latency percentiles and failures

Several brokers: -broker tcp://a:1883,tcp://b:1883 puts publishers on the first and
subscribers on the last (the conn scenario uses them in turn).

Differences from mqtt-stresser (on purpose):
  - \"Messages / Client:\" shows the messages per client; mqtt-stresser prints the total
    (clients x messages) under that label.
  - \"- Aborted:\" counts workers cancelled by a signal, as a share of Errors; mqtt-stresser
    prints the number of workers still in progress, as a share of all clients.
  - \"Received Messages:\" is a share of the deliveries the run planned; mqtt-stresser divides
    by the messages published (the same unless a publisher failed). With -scenario fanout
    every message is planned once per subscriber.
  - A worker's receiving throughput is its messages over the time from its first publish to
    its last message received. mqtt-stresser starts that clock when publishing ends, so what
    arrived meanwhile (buffered in its client) counts as received in no time.
  - Publishing time ends when the last message is written (QoS 0) or acknowledged (QoS 1
    and 2); mqtt-stresser adds a 5 ms disconnect quiesce.
  - QoS 1 and 2 publishers keep up to -max-inflight messages unacknowledged (default 64;
    never more than the broker's Receive Maximum); mqtt-stresser waits for each
    acknowledgement before the next publish, which -max-inflight 1 reproduces.
    -pause-between-messages sends one message at a time, as mqtt-stresser does.
  - A subscriber that receives nothing for -timeout after its publishers finished stops
    (TimeoutExceeded; what is missing is lost) instead of waiting for -global-timeout. A
    broken connection stops the worker as ConnectionLost, listed under Errors as
    \"- ConnectionLost:\" when there is any.
  - The summary is printed even when no worker completed (mqtt-stresser prints none), and
    \"Lost Messages:\" follows \"Received Messages:\" whenever deliveries are missing: messages
    the run set out to deliver that no subscriber received, whether a failed connection kept
    them from being published or the broker dropped them. A throughput block with no figure
    is left out.
  - Exit status 2 when messages were lost or workers failed, with a line on stderr saying
    how many (mqtt-stresser exits 0, or 1 when no worker completed).
  - On timeout the \"Test timeout. Wait 5s to allow disconnection of clients.\" line is
    printed, but the wait lasts only until the connections are closed (at most 5s).
  - Default payloads are mqtt-stresser's \"this is msg #<i>!\" followed by \" ts=<send time>\",
    so each message can be timed; -constant-payload messages are timed by sequence.
  - -profile-cpu and -profile-mem (Go pprof) are accepted and ignored. -rampup-size 0 is
    taken as 100, as negative sizes are (mqtt-stresser divides by it). A bad -rampup-delay
    is an error (mqtt-stresser ignores it).
  - Progress: on a terminal, progress bars (stderr); otherwise mqtt-stresser's dots, one per
    received message except each worker's last, and an E per failed worker. -json prints
    only the JSON report on stdout.
  - With -duration, -global-timeout counts from the end of the publishing time; with the
    conn scenario, from the end of -hold.

Exit status:
  0  every planned delivery arrived and no worker failed
  1  bad flags, unreadable files, a broker that cannot be resolved, nothing to run
  2  messages lost, workers failed, or connections failed (conn scenario)";

/// The load pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// mqtt-stresser's: each worker's publisher sends to its own subscriber.
    P2p,
    /// One publisher, every subscriber on its topic.
    Fanout,
    /// Every publisher, one subscriber.
    Fanin,
    /// Every publisher, a shared subscription group of subscribers.
    Sharedsub,
    /// Connections only: open, hold, close.
    Conn,
}

impl Scenario {
    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::P2p => "p2p",
            Scenario::Fanout => "fanout",
            Scenario::Fanin => "fanin",
            Scenario::Sharedsub => "sharedsub",
            Scenario::Conn => "conn",
        }
    }
}

/// The command line as clap parses it (after `go_style_args`).
#[derive(Parser, Debug, Clone)]
#[command(
    name = "comqtt-bench",
    version,
    about = "MQTT load tester, command-line compatible with mqtt-stresser",
    long_about = LONG_ABOUT,
    after_long_help = DIFFERENCES
)]
pub struct BenchArgs {
    /// Broker URL: tcp://HOST:PORT, ssl:// or tls://, ws://HOST:PORT/PATH, wss://, quic://HOST:PORT; several comma-separated
    #[arg(long, value_name = "URL", default_value = "")]
    pub broker: String,

    /// Number of concurrent clients (workers: one subscriber and one publisher each)
    #[arg(long = "num-clients", value_name = "N", default_value = "10", value_parser = parse_count, allow_negative_numbers = true)]
    pub num_clients: u64,

    /// Number of messages shipped by client
    #[arg(long = "num-messages", value_name = "N", default_value = "10", value_parser = parse_count, allow_negative_numbers = true)]
    pub num_messages: u64,

    /// Use this constant payload in every MQTT message; @FILE reads it from a file
    #[arg(
        long = "constant-payload",
        value_name = "TEXT|@FILE",
        default_value = ""
    )]
    pub constant_payload: String,

    /// Timeout for pub/sub actions (connect, subscribe, acknowledgements, silence after publishing)
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration, allow_hyphen_values = true)]
    pub timeout: GoDuration,

    /// Timeout spanning all operations
    #[arg(long = "global-timeout", value_name = "DURATION", default_value = "60s", value_parser = parse_duration, allow_hyphen_values = true)]
    pub global_timeout: GoDuration,

    /// Size of rampup batch (workers started together); 0 or negative means 100
    #[arg(
        long = "rampup-size",
        value_name = "N",
        default_value = "100",
        allow_negative_numbers = true
    )]
    pub rampup_size: i64,

    /// Time between batch rampups
    #[arg(long = "rampup-delay", value_name = "DURATION", default_value = "500ms", value_parser = parse_duration, allow_hyphen_values = true)]
    pub rampup_delay: GoDuration,

    /// Username
    #[arg(long, value_name = "NAME", default_value = "")]
    pub username: String,

    /// Password
    #[arg(long, value_name = "SECRET", default_value = "")]
    pub password: String,

    /// Log level (0=nothing, 1=errors, 2=debug, 3=error+debug), to stderr
    #[arg(long = "log-level", value_name = "N", default_value = "0", value_parser = clap::value_parser!(u8).range(0..=3))]
    pub log_level: u8,

    /// Accepted for compatibility and ignored (mqtt-stresser's Go CPU profile)
    #[arg(long = "profile-cpu", value_name = "FILE", default_value = "")]
    pub profile_cpu: String,

    /// Accepted for compatibility and ignored (mqtt-stresser's Go memory profile)
    #[arg(long = "profile-mem", value_name = "FILE", default_value = "")]
    pub profile_mem: String,

    /// Hide progress indicator
    #[arg(long = "no-progress", value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = parse_go_bool, action = ArgAction::Set)]
    pub no_progress: bool,

    /// If set, the retained flag of the published mqtt messages is set
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = parse_go_bool, action = ArgAction::Set)]
    pub retain: bool,

    /// QoS level of published messages (0, 1 or 2)
    #[arg(long = "publisher-qos", value_name = "QOS", default_value = "0", value_parser = clap::value_parser!(u8).range(0..=2), allow_negative_numbers = true)]
    pub publisher_qos: u8,

    /// QoS level for the subscriber (0, 1 or 2)
    #[arg(long = "subscriber-qos", value_name = "QOS", default_value = "0", value_parser = clap::value_parser!(u8).range(0..=2), allow_negative_numbers = true)]
    pub subscriber_qos: u8,

    /// Skip the TLS verification of the MQTT connection
    #[arg(long = "skip-tls-verification", value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = parse_go_bool, action = ArgAction::Set)]
    pub skip_tls_verification: bool,

    /// Path to a file containing trusted CA certificates (PEM); default: the system's
    #[arg(long, value_name = "FILE", default_value = "")]
    pub cafile: String,

    /// Client certificate for authentication, if required by server (PEM)
    #[arg(long, value_name = "FILE", default_value = "")]
    pub cert: String,

    /// Client private key for authentication, if required by server (PEM)
    #[arg(long, value_name = "FILE", default_value = "")]
    pub key: String,

    /// Adds a pause between sending messages to simulate sensors sending messages infrequently
    #[arg(long = "pause-between-messages", value_name = "DURATION", default_value = "0s", value_parser = parse_duration, allow_hyphen_values = true)]
    pub pause_between_messages: GoDuration,

    /// Topic base path, if empty the default is internal/mqtt-stresser
    #[arg(long = "topic-base-path", value_name = "PATH", default_value = "")]
    pub topic_base_path: String,

    /// Client id prefix (client ids are PREFIX-sub-HOST-workerN-RANDOM)
    #[arg(
        long = "client-id-prefix",
        value_name = "PREFIX",
        default_value = "mqtt-stresser"
    )]
    pub client_id_prefix: String,

    /// Persistent sessions: connect with clean session/start 0 and this session expiry (5.0); 0: clean sessions, as mqtt-stresser
    #[arg(long = "session-expiry", value_name = "SECONDS", default_value = "0")]
    pub session_expiry: u32,

    /// MQTT version: 3 (3.1), 4 (3.1.1) or 5 (5.0)
    #[arg(long, value_name = "VERSION", default_value = "4", value_parser = parse_protocol)]
    pub protocol: Protocol,

    /// Load pattern
    #[arg(long, value_name = "NAME", default_value = "p2p", value_enum)]
    pub scenario: Scenario,

    /// Payload size in bytes (binary, with sequence and send time in the first 16); 0: mqtt-stresser's text
    #[arg(long = "payload-size", value_name = "BYTES", default_value = "0", value_parser = parse_count)]
    pub payload_size: u64,

    /// Messages per second per publisher; 0: as fast as possible
    #[arg(long, value_name = "MSGS", default_value = "0", value_parser = parse_rate)]
    pub rate: f64,

    /// Publish for this long instead of -num-messages messages; 0s: use -num-messages
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub duration: GoDuration,

    /// QoS 1/2 messages a publisher keeps unacknowledged (mqtt-stresser: 1)
    #[arg(long = "max-inflight", value_name = "N", default_value = "64", value_parser = clap::value_parser!(u16).range(1..))]
    pub max_inflight: u16,

    /// conn scenario: new connections per second; 0: ramp-up batches (-rampup-size, -rampup-delay)
    #[arg(long = "connect-rate", value_name = "N", default_value = "0", value_parser = parse_rate)]
    pub connect_rate: f64,

    /// conn scenario: how long to hold the connections once all are attempted
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub hold: GoDuration,

    /// Local addresses to connect from, e.g. 127.0.0.1-127.0.0.20,10.0.0.5 (default: 127.0.0.x for a loopback broker past 25000 connections)
    #[arg(long = "source-addresses", value_name = "LIST", default_value = "")]
    pub source_addresses: String,

    /// Print the report as JSON (stdout holds only the JSON)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = parse_go_bool, action = ArgAction::Set)]
    pub json: bool,

    /// Runtime threads; 0: half the CPUs (at least 1), leaving the rest to a broker on the same machine
    #[arg(long, value_name = "N", default_value = "0", value_parser = parse_count)]
    pub threads: u64,
}

/// Go's `strconv.ParseBool`, as its flag package accepts for `-flag=value`.
pub fn parse_go_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err("expected true or false (also 1, 0, t, f)".to_string()),
    }
}

/// A Go duration (`500ms`, `5s`, `1m30s`).
pub fn parse_duration(s: &str) -> Result<GoDuration, DurationError> {
    GoDuration::parse(s)
}

/// A whole number >= 0.
pub fn parse_count(s: &str) -> Result<u64, String> {
    s.trim()
        .parse::<u64>()
        .map_err(|_| "expected a whole number >= 0".to_string())
}

/// A rate >= 0 (fractions allowed).
pub fn parse_rate(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(r) if r.is_finite() && r >= 0.0 => Ok(r),
        _ => Err("expected a number >= 0".to_string()),
    }
}

/// `3` / `3.1`, `4` / `3.1.1`, `5` / `5.0`.
pub fn parse_protocol(s: &str) -> Result<Protocol, String> {
    match s.trim() {
        "3" | "3.1" | "31" => Ok(Protocol::V3_1),
        "4" | "3.1.1" | "311" => Ok(Protocol::V3_1_1),
        "5" | "5.0" | "50" => Ok(Protocol::V5),
        _ => Err("expected 3 (MQTT 3.1), 4 (3.1.1) or 5 (5.0)".to_string()),
    }
}

/// Why the flags cannot run.
#[derive(Debug, thiserror::Error)]
pub enum OptionsError {
    /// mqtt-stresser's own message for a missing broker.
    #[error("'--broker' is empty. Abort.")]
    EmptyBroker,
    /// A broker URL that does not parse.
    #[error("invalid value for '--broker': {0}")]
    Broker(#[from] UrlError),
    /// A value out of range for its flag.
    #[error("invalid value {value:?} for '--{flag}': {reason}")]
    Invalid {
        /// The flag.
        flag: &'static str,
        /// The value.
        value: String,
        /// What is expected.
        reason: &'static str,
    },
    /// `-constant-payload @FILE` cannot be read.
    #[error("cannot read the '--constant-payload' file {path}: {source}")]
    PayloadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A TLS file flag names a missing file (mqtt-stresser's wording).
    #[error("'--{flag}': {what} file {path:?} does not exist")]
    MissingFile {
        /// The flag.
        flag: &'static str,
        /// CA, key or cert.
        what: &'static str,
        /// The path given.
        path: String,
    },
    /// `-key` without `-cert` or the reverse (mqtt-stresser's wording).
    #[error("{0}")]
    KeyPair(&'static str),
    /// `-source-addresses` does not parse.
    #[error("invalid value for '--source-addresses': {0}")]
    Source(#[from] SourceError),
    /// Two flags that exclude each other.
    #[error("'--{0}' and '--{1}' cannot be used together")]
    Conflict(&'static str, &'static str),
}

/// The checked settings of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Brokers: publishers use the first, subscribers the last.
    pub brokers: Vec<BrokerUrl>,
    /// `-num-clients`.
    pub clients: u64,
    /// `-num-messages`.
    pub messages: u64,
    /// What payloads look like.
    pub payload: PayloadKind,
    /// `-timeout`.
    pub timeout: Duration,
    /// `-global-timeout`.
    pub global_timeout: GoDuration,
    /// `-rampup-size` (never 0).
    pub rampup_size: u64,
    /// `-rampup-delay` (kept in Go form: it is printed).
    pub rampup_delay: GoDuration,
    /// User name for CONNECT.
    pub username: Option<String>,
    /// Password for CONNECT.
    pub password: Option<String>,
    /// `-log-level`.
    pub log_level: u8,
    /// `-no-progress`.
    pub no_progress: bool,
    /// `-retain`.
    pub retain: bool,
    /// `-publisher-qos`.
    pub publisher_qos: QoS,
    /// `-subscriber-qos`.
    pub subscriber_qos: QoS,
    /// `-cafile`, `-cert`, `-key`, `-skip-tls-verification`.
    pub tls: TlsSettings,
    /// `-pause-between-messages`.
    pub pause: Duration,
    /// Topic prefix (`-topic-base-path` or `internal/mqtt-stresser`).
    pub topic_base: String,
    /// Client id prefix.
    pub client_id_prefix: String,
    /// `-session-expiry`: 0 for clean sessions.
    pub session_expiry: u32,
    /// `-protocol`.
    pub protocol: Protocol,
    /// `-scenario`.
    pub scenario: Scenario,
    /// `-rate`, if set.
    pub rate: Option<f64>,
    /// `-duration`, if set.
    pub duration: Option<Duration>,
    /// `-max-inflight`.
    pub max_inflight: u16,
    /// `-connect-rate`, if set.
    pub connect_rate: Option<f64>,
    /// `-hold`.
    pub hold: GoDuration,
    /// `-source-addresses`, if given.
    pub source_addresses: Option<Vec<IpAddr>>,
    /// `-json`.
    pub json: bool,
    /// `-threads`: runtime worker threads (never 0).
    pub threads: usize,
    /// Flags accepted but ignored, to warn about.
    pub ignored: Vec<&'static str>,
}

/// Default topic prefix of mqtt-stresser.
pub const DEFAULT_TOPIC_BASE: &str = "internal/mqtt-stresser";

fn check_file(
    flag: &'static str,
    what: &'static str,
    path: &str,
) -> Result<Option<PathBuf>, OptionsError> {
    if path.is_empty() {
        return Ok(None);
    }
    if !std::path::Path::new(path).is_file() {
        return Err(OptionsError::MissingFile {
            flag,
            what,
            path: path.to_string(),
        });
    }
    Ok(Some(PathBuf::from(path)))
}

fn qos(level: u8) -> QoS {
    QoS::from_u8(level).unwrap_or(QoS::AtMostOnce)
}

impl Options {
    /// Parses a Go-style command line (program name first) into checked options.
    pub fn parse_from<I: IntoIterator<Item = String>>(
        args: I,
    ) -> Result<Result<Options, OptionsError>, clap::Error> {
        let args = BenchArgs::try_parse_from(crate::cli::go_style_args(args))?;
        Ok(Options::from_args(args))
    }

    /// Checks parsed flags.
    pub fn from_args(a: BenchArgs) -> Result<Options, OptionsError> {
        if a.broker.trim().is_empty() {
            return Err(OptionsError::EmptyBroker);
        }
        let brokers = BrokerUrl::parse_list(&a.broker)?;
        if a.num_clients == 0 {
            return Err(OptionsError::Invalid {
                flag: "num-clients",
                value: "0".into(),
                reason: "at least 1 client is needed",
            });
        }
        let duration = (!a.duration.is_zero_or_negative()).then(|| a.duration.to_std());
        if a.num_messages == 0 && duration.is_none() && a.scenario != Scenario::Conn {
            return Err(OptionsError::Invalid {
                flag: "num-messages",
                value: "0".into(),
                reason: "at least 1 message is needed (or give -duration)",
            });
        }
        if !a.constant_payload.is_empty() && a.payload_size > 0 {
            return Err(OptionsError::Conflict("constant-payload", "payload-size"));
        }
        let payload = if let Some(path) = a.constant_payload.strip_prefix('@') {
            let bytes = std::fs::read(path).map_err(|source| OptionsError::PayloadFile {
                path: path.into(),
                source,
            })?;
            PayloadKind::Constant(Bytes::from(bytes))
        } else if !a.constant_payload.is_empty() {
            PayloadKind::Constant(Bytes::from(a.constant_payload.clone().into_bytes()))
        } else if a.payload_size > 0 {
            if a.payload_size > 256 * 1024 * 1024 {
                return Err(OptionsError::Invalid {
                    flag: "payload-size",
                    value: a.payload_size.to_string(),
                    reason: "at most 268435456 bytes (MQTT's limit)",
                });
            }
            PayloadKind::Sized(a.payload_size as usize)
        } else {
            PayloadKind::Counted
        };
        let tls = TlsSettings {
            ca_file: check_file("cafile", "CA", &a.cafile)?,
            key_file: check_file("key", "key", &a.key)?,
            cert_file: check_file("cert", "cert", &a.cert)?,
            skip_verification: a.skip_tls_verification,
        };
        match (&tls.key_file, &tls.cert_file) {
            (Some(_), None) => {
                return Err(OptionsError::KeyPair(
                    "A key file is specified but no certificate file ('--key' needs '--cert')",
                ));
            }
            (None, Some(_)) => {
                return Err(OptionsError::KeyPair(
                    "A cert file is specified but no key file ('--cert' needs '--key')",
                ));
            }
            _ => {}
        }
        let source_addresses = if a.source_addresses.trim().is_empty() {
            None
        } else {
            Some(SourceAddresses::parse(&a.source_addresses)?)
        };
        let first = &brokers[0];
        let username = (!a.username.is_empty())
            .then(|| a.username.clone())
            .or_else(|| first.username.clone());
        let password = (!a.password.is_empty())
            .then(|| a.password.clone())
            .or_else(|| first.password.clone());
        let mut ignored = Vec::new();
        if !a.profile_cpu.is_empty() {
            ignored.push("profile-cpu");
        }
        if !a.profile_mem.is_empty() {
            ignored.push("profile-mem");
        }
        Ok(Options {
            brokers,
            clients: a.num_clients,
            messages: a.num_messages,
            payload,
            timeout: a.timeout.to_std(),
            global_timeout: a.global_timeout,
            rampup_size: if a.rampup_size <= 0 {
                100
            } else {
                a.rampup_size as u64
            },
            rampup_delay: a.rampup_delay,
            username,
            password,
            log_level: a.log_level,
            no_progress: a.no_progress,
            retain: a.retain,
            publisher_qos: qos(a.publisher_qos),
            subscriber_qos: qos(a.subscriber_qos),
            tls,
            pause: a.pause_between_messages.to_std(),
            topic_base: if a.topic_base_path.is_empty() {
                DEFAULT_TOPIC_BASE.to_string()
            } else {
                a.topic_base_path.clone()
            },
            client_id_prefix: a.client_id_prefix.clone(),
            session_expiry: a.session_expiry,
            protocol: a.protocol,
            scenario: a.scenario,
            rate: (a.rate > 0.0).then_some(a.rate),
            duration,
            max_inflight: a.max_inflight,
            connect_rate: (a.connect_rate > 0.0).then_some(a.connect_rate),
            hold: a.hold,
            source_addresses,
            json: a.json,
            threads: match a.threads {
                0 => std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1)),
                n => n as usize,
            },
            ignored,
        })
    }

    /// Connections the run opens.
    pub fn connections(&self) -> u64 {
        match self.scenario {
            Scenario::P2p | Scenario::Sharedsub => self.clients * 2,
            Scenario::Fanout | Scenario::Fanin => self.clients + 1,
            Scenario::Conn => self.clients,
        }
    }
}
