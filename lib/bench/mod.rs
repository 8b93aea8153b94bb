//! The load generator behind `comqtt-bench`: mqtt-stresser's command line and report, plus
//! latency percentiles, MQTT 5, QoS 2, paced and timed runs, several scenarios, several
//! brokers, source-address spreading and JSON output.
//!
//! One tokio runtime; every connection is one task on our codec (`crate::mqtt`) that batches
//! its writes, so the tool stays far from being the bottleneck.
//!
//! | file | owns |
//! | --- | --- |
//! | `options` | the flags (clap), their checks into [`Options`], the long help |
//! | `duration` | Go duration strings (`500ms`, `1m30s`): parsing and printing |
//! | `url` | broker URLs (`tcp://`, `ssl://`, `tls://`, `ws://`, `wss://`) |
//! | `source` | source addresses for large connection counts |
//! | `tls`, `websocket`, `transport` | the byte stream under a connection, resolved [`Endpoint`]s |
//! | `client` | one MQTT connection: handshake, subscribe, read and write buffers |
//! | `payload` | payloads and the send time embedded in them |
//! | `publisher`, `subscriber` | the loops of the two connection roles |
//! | `tally` | the deliveries a subscriber (or a group of them) waits for |
//! | `worker` | mqtt-stresser's worker: one subscriber and one publisher on their own topic |
//! | `group`, `conn` | the fanout / fanin / sharedsub scenarios, and the connection-only one |
//! | `scenario` | a run: setup, ramp-up, timeouts, signals, results into a [`Report`] |
//! | `context` | what every task of a run shares: names, counters, cancellation |
//! | `stats` | counters, latency histograms (hdrhistogram), per-worker results |
//! | `histogram` | mqtt-stresser's throughput buckets and median |
//! | `report` | the text report (mqtt-stresser's format plus ours) and JSON |
//! | `progress` | dots, progress bars, "N worker started" |
//! | `log` | `-log-level`: mqtt-stresser's `ERROR:` / `DEBUG:` lines on stderr |

mod client;
mod conn;
mod context;
pub mod duration;
mod group;
pub mod histogram;
pub mod log;
pub mod options;
pub mod payload;
pub mod progress;
mod publisher;
pub mod report;
mod scenario;
pub mod source;
pub mod stats;
mod subscriber;
mod tally;
pub mod tls;
pub mod transport;
pub mod url;
mod websocket;
mod worker;

pub use client::{ClientError, ClientSettings};
pub use duration::GoDuration;
pub use options::{BenchArgs, Options, OptionsError, Scenario};
pub use progress::{Console, ProgressMode};
pub use report::{ConnFigures, EXIT_LOST, Report, Summary, TrafficFigures};
pub use scenario::{SetupError, run};
pub use stats::{Outcome, Percentiles, WorkerResult};
pub use transport::Endpoint;
