//! The state and rendering behind `comqtt-top`: a terminal UI with live statistics of one
//! broker node or a whole cluster, read from the nodes' HTTP API.
//!
//! Data flows one way: [`poll`] asks every node's HTTP API for its counters (a [`poll::Round`]),
//! [`snapshot::Tracker`] folds rounds into a [`snapshot::Snapshot`] (per-second rates from
//! counter deltas, via [`rate`]; the last minute of rates, via [`history`]), and the snapshot is
//! drawn by [`render`] (the TUI) or written by [`text`] (`--once`, `--json`). [`app`] is the
//! TUI's state machine (keys, views, sorting, pause, interval); [`run`] wires it all together
//! with a terminal, an input thread and a polling task, so the UI thread never waits on I/O.
//!
//! | file | owns |
//! | --- | --- |
//! | [`options`] | the command line (clap), checked into [`options::Settings`] |
//! | [`target`] | node addresses: `HOST:PORT` or `http://HOST:PORT`, listed addresses made reachable |
//! | [`api`] | the JSON (and Prometheus text) the broker's HTTP API answers, as the client reads it |
//! | [`poll`] | HTTP polling of every node, cluster discovery through `/api/v1/cluster/nodes` |
//! | [`rate`] | counters to per-second rates, counter resets after a restart |
//! | [`history`] | the message rates of the last minute, for the chart |
//! | [`snapshot`] | the data model shown: nodes, totals, clients, subscriptions, retained messages |
//! | [`view`] | the views (tabs) and their sort orders |
//! | [`app`] | the TUI state machine: keys to actions |
//! | [`render`] | ratatui drawing of the whole screen |
//! | [`format`] | human-readable numbers, byte sizes, durations and times |
//! | [`text`] | the plain-text snapshot of `--once` |
//! | [`terminal`] | raw mode and the alternate screen, always restored (exit, error, panic) |
//! | [`run`] | the interactive loop and the one-shot snapshot |
//! | [`error`] | the typed errors |

pub mod api;
pub mod app;
pub mod error;
pub mod format;
pub mod history;
pub mod options;
pub mod poll;
pub mod rate;
pub mod render;
pub mod run;
pub mod snapshot;
pub mod target;
pub mod terminal;
pub mod text;
pub mod view;

pub use app::App;
pub use error::TopError;
pub use options::{Settings, TopArgs};
pub use run::{interactive, once};
pub use snapshot::{Snapshot, Tracker};
