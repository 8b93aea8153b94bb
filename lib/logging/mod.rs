//! Logging: `tracing` events to the console and to rotating files, set up from the `log:`
//! block ([`LogConfig`], with the flags already merged in by the binary).
//!
//! - `output` 0 writes to stderr only (the default: a fresh `comqtt serve` creates no files),
//!   1 to files only, 2 to both.
//! - Files: `filename` gets every line at the level in force, `info-file` info and above,
//!   `error-file` errors only; "" leaves a file out. Each rotates by size ([`RotatingFile`]).
//! - `format` 0 is readable text, 1 one JSON object per line; `level` is the original's slog
//!   scale, and `COMQTT_LOG` (an `EnvFilter` directive such as `comqtt=debug`) overrides it.
//!
//! A reload ([`LogGuard::apply`]) changes the level at once and reopens the outputs when they
//! changed (both sit in `tracing_subscriber::reload` layers).
//!
//! Every writer sits behind `tracing_appender::non_blocking`: a connection task that logs
//! only queues the line (dropped if 128k lines are already waiting), so a slow disk or a
//! stalled terminal never slows the broker. The [`LogGuard`] returned by [`init`] flushes
//! the queues when dropped at exit.
//!
//! Files: `rotating` (the size-rotated file writer), `backups` (names, gzip and pruning of
//! rotated files, on a background thread).

mod backups;
mod rotating;

use std::io::IsTerminal;
use std::path::PathBuf;

use parking_lot::Mutex;
use tracing::Subscriber;
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Layer, Layered, SubscriberExt};
use tracing_subscriber::{EnvFilter, Registry, reload};

pub use rotating::{RotatingFile, RotationPolicy};

use crate::config::LogConfig;

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A log file (or its directory) cannot be created or opened.
    #[error("cannot open log file {path}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Another global subscriber was installed first.
    #[error("a global logger is already installed")]
    AlreadyInstalled,
    /// The running subscriber refused the new settings.
    #[error("cannot change the logger in place: {0}")]
    Reload(String),
}

/// The original README's `-level` scale (0 debug, 1 info, 2 warn, 3 error, 4 fatal, 5 panic,
/// 6 no level, 7 off) as a slog level of `log.level`; `None` for 7, off.
pub fn level_of_flag(level: u8) -> Option<i8> {
    match level {
        0 => Some(-4),
        1 => Some(0),
        2 => Some(4),
        3..=6 => Some(8),
        _ => None,
    }
}

/// The `tracing` level of a slog level: the lowest level the original would still log.
fn level_filter(slog: i8) -> LevelFilter {
    match slog {
        i8::MIN..=-4 => LevelFilter::DEBUG,
        -3..=0 => LevelFilter::INFO,
        1..=4 => LevelFilter::WARN,
        _ => LevelFilter::ERROR,
    }
}

/// The writers of one set of outputs: dropping them writes out the lines still queued and
/// lets a gzip of a rotated file finish.
struct Writers {
    /// One per non-blocking writer (console and each file); dropping one flushes its queue.
    workers: Vec<WorkerGuard>,
    /// The backup threads of the files, finished after the queues are flushed.
    backups: Vec<backups::Backups>,
    /// The files written, for the startup message.
    files: Vec<PathBuf>,
}

impl Drop for Writers {
    fn drop(&mut self) {
        self.workers.clear();
        for backups in &self.backups {
            backups.finish();
        }
    }
}

/// The subscriber's level filter sits on the registry and can be replaced.
type Base = Layered<reload::Layer<EnvFilter, Registry>, Registry>;
/// The outputs (console, files) sit on the filter and can be replaced as a whole.
type Outputs = Vec<Box<dyn Layer<Base> + Send + Sync>>;

/// Keeps the log writer threads running and changes the level and outputs in place
/// ([`LogGuard::apply`], a reload). Dropping it writes out the lines still queued; hold it
/// until the process exits.
#[must_use = "logging stops when the guard is dropped"]
pub struct LogGuard {
    filter: reload::Handle<EnvFilter, Registry>,
    outputs: reload::Handle<Outputs, Base>,
    /// The configuration in force and its writers.
    current: Mutex<(LogConfig, Writers)>,
    /// Threads flushing the writers a reload replaced (joined at the end).
    closing: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        for closing in self.closing.get_mut().drain(..) {
            let _ = closing.join();
        }
    }
}

impl LogGuard {
    /// The log files being written (none with console output).
    pub fn files(&self) -> Vec<PathBuf> {
        self.current.lock().1.files.clone()
    }

    /// Applies `config` in place: the level at once; the outputs (console, files, format) are
    /// opened anew when they changed, and the old writers flushed. On an error (a file that
    /// cannot be opened) nothing changes.
    pub fn apply(&self, config: &LogConfig) -> Result<(), LogError> {
        let mut current = self.current.lock();
        if outputs_of(&current.0) != outputs_of(config) {
            let (outputs, writers) = build_outputs(config)?;
            self.outputs
                .reload(outputs)
                .map_err(|e| LogError::Reload(e.to_string()))?;
            // The old writers flush as they drop (and wait for a gzip of a rotated file):
            // on a thread of their own, not on the caller's (an async worker).
            let old = std::mem::replace(&mut current.1, writers);
            if let Ok(closing) = std::thread::Builder::new()
                .name("comqtt-log-close".into())
                .spawn(move || drop(old))
            {
                self.closing.lock().push(closing);
            }
        }
        self.filter
            .reload(filter_of(config))
            .map_err(|e| LogError::Reload(e.to_string()))?;
        current.0 = config.clone();
        Ok(())
    }
}

impl LogGuard {
    /// Writes out the lines still queued and stops the writers (at exit: other holders of
    /// the guard may outlive the call). Later lines are dropped.
    pub fn finish(&self) {
        for closing in self.closing.lock().drain(..) {
            let _ = closing.join();
        }
        let mut current = self.current.lock();
        let _ = self.outputs.reload(Vec::new());
        current.1 = Writers {
            workers: Vec::new(),
            backups: Vec::new(),
            files: Vec::new(),
        };
    }
}

/// The parts of a `log:` block that decide the outputs (all but the levels).
fn outputs_of(c: &LogConfig) -> LogConfig {
    LogConfig {
        level: 0,
        raft_level: None,
        ..c.clone()
    }
}

/// The level filter of `config` (or `COMQTT_LOG`); everything off when logging is off.
fn filter_of(config: &LogConfig) -> EnvFilter {
    if !config.enable {
        return EnvFilter::new("off");
    }
    let level = level_filter(config.level);
    let raft = config.raft_level.as_deref().unwrap_or("error");
    EnvFilter::try_from_env("COMQTT_LOG").unwrap_or_else(|_| {
        // Library chatter (rustls warns about IP addresses sent as SNI; HTTP/2 and gossip
        // internals) only at debug level; raft's own lines at `cluster.raft-log-level`.
        let quiet = if level == LevelFilter::DEBUG {
            ""
        } else {
            ",rustls=error,tungstenite=error,h2=warn,tower=warn,hyper=warn,chitchat=warn"
        };
        // At "error", a peer that is down would log an error per retry until it is removed;
        // comqtt logs membership changes itself.
        let replication = if raft == "error" {
            ",openraft::replication=off"
        } else {
            ""
        };
        EnvFilter::new(format!("{level}{quiet},openraft={raft}{replication}"))
    })
}

/// Opens the outputs `config` names (an error names the file that failed) and starts their
/// writer threads.
fn build_outputs(config: &LogConfig) -> Result<(Outputs, Writers), LogError> {
    let mut writers = Writers {
        workers: Vec::new(),
        backups: Vec::new(),
        files: Vec::new(),
    };
    let mut layers: Outputs = Vec::new();
    if !config.enable {
        return Ok((layers, writers));
    }
    let json = config.format == 1;
    if config.output != 1 {
        let (writer, worker) = non_blocking("comqtt-log-console", std::io::stderr());
        layers.push(fmt_layer(writer, json, std::io::stderr().is_terminal()));
        writers.workers.push(worker);
    }
    if config.output != 0 {
        let policy = RotationPolicy::from_config(config);
        for (name, at_least) in [
            (&config.filename, LevelFilter::TRACE),
            (&config.info_file, LevelFilter::INFO),
            (&config.error_file, LevelFilter::ERROR),
        ] {
            if name.is_empty() {
                continue;
            }
            let path = PathBuf::from(name);
            let file =
                RotatingFile::open(&path, policy.clone()).map_err(|source| LogError::Open {
                    path: path.clone(),
                    source,
                })?;
            writers.backups.push(file.backups());
            let (writer, worker) = non_blocking("comqtt-log-file", file);
            layers.push(Box::new(AtLeast {
                inner: fmt_layer(writer, json, false),
                level: at_least,
            }));
            writers.workers.push(worker);
            writers.files.push(path);
        }
    }
    Ok((layers, writers))
}

/// A layer that sees only events at `level` or above (a file of errors only, say). Not a
/// per-layer filter: those cannot sit inside a reloadable layer.
struct AtLeast {
    inner: Box<dyn Layer<Base> + Send + Sync>,
    level: LevelFilter,
}

impl Layer<Base> for AtLeast {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, Base>,
    ) {
        self.inner.on_new_span(attrs, id, ctx);
    }

    fn on_record(
        &self,
        span: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: tracing_subscriber::layer::Context<'_, Base>,
    ) {
        self.inner.on_record(span, values, ctx);
    }

    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        ctx: tracing_subscriber::layer::Context<'_, Base>,
    ) {
        if self.level >= *event.metadata().level() {
            self.inner.on_event(event, ctx);
        }
    }

    fn on_enter(&self, id: &tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, Base>) {
        self.inner.on_enter(id, ctx);
    }

    fn on_exit(&self, id: &tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, Base>) {
        self.inner.on_exit(id, ctx);
    }

    fn on_close(&self, id: tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, Base>) {
        self.inner.on_close(id, ctx);
    }
}

/// Builds the subscriber `config` describes, without installing it: opens the files (an
/// error names the one that failed) and starts the writer threads.
pub fn subscriber(
    config: &LogConfig,
) -> Result<(Box<dyn Subscriber + Send + Sync>, LogGuard), LogError> {
    let (outputs, writers) = build_outputs(config)?;
    let (filter, filter_handle) = reload::Layer::new(filter_of(config));
    let (outputs, outputs_handle) = reload::Layer::new(outputs);
    let subscriber = tracing_subscriber::registry().with(filter).with(outputs);
    Ok((
        Box::new(subscriber),
        LogGuard {
            filter: filter_handle,
            outputs: outputs_handle,
            current: Mutex::new((config.clone(), writers)),
            closing: Mutex::default(),
        },
    ))
}

/// Builds the subscriber `config` describes and installs it for the whole process.
pub fn init(config: &LogConfig) -> Result<LogGuard, LogError> {
    let (subscriber, guard) = subscriber(config)?;
    tracing::subscriber::set_global_default(subscriber).map_err(|_| LogError::AlreadyInstalled)?;
    Ok(guard)
}

/// A queue in front of `writer` with its own thread; full queues drop lines, never block.
fn non_blocking<W: std::io::Write + Send + 'static>(
    thread: &str,
    writer: W,
) -> (tracing_appender::non_blocking::NonBlocking, WorkerGuard) {
    NonBlockingBuilder::default()
        .lossy(true)
        .thread_name(thread)
        .finish(writer)
}

/// A `fmt` layer writing text or JSON lines to `writer`.
fn fmt_layer<W>(writer: W, json: bool, ansi: bool) -> Box<dyn Layer<Base> + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(ansi);
    if json {
        layer.json().boxed()
    } else {
        layer.boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("comqtt-logging-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// File output only, into `dir`.
    fn files_in(dir: &std::path::Path) -> LogConfig {
        LogConfig {
            output: 1,
            filename: dir.join("comqtt.log").display().to_string(),
            info_file: dir.join("co-info.log").display().to_string(),
            error_file: dir.join("co-err.log").display().to_string(),
            ..LogConfig::default()
        }
    }

    /// Logs one event of each level through the subscriber of `config`, then flushes.
    fn log_each_level(config: &LogConfig) {
        let (subscriber, guard) = subscriber(config).unwrap();
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!(client_id = "c1", "a debug line");
            tracing::info!(client_id = "c1", "an info line");
            tracing::warn!(client_id = "c1", "a warn line");
            tracing::error!(client_id = "c1", "an error line");
        });
        drop(guard);
    }

    fn read(dir: &std::path::Path, name: &str) -> String {
        std::fs::read_to_string(dir.join(name)).unwrap_or_default()
    }

    #[test]
    fn each_file_gets_its_levels() {
        let dir = temp_dir("levels");
        log_each_level(&LogConfig {
            level: -4,
            ..files_in(&dir)
        });
        let has = |name: &str| -> [bool; 4] {
            let text = read(&dir, name);
            [
                "a debug line",
                "an info line",
                "a warn line",
                "an error line",
            ]
            .map(|l| text.contains(l))
        };
        assert_eq!(has("comqtt.log"), [true; 4]);
        assert_eq!(has("co-info.log"), [false, true, true, true]);
        assert_eq!(has("co-err.log"), [false, false, false, true]);
        assert!(
            read(&dir, "co-err.log").contains("client_id"),
            "fields are kept"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_level_applies_to_every_file() {
        let dir = temp_dir("warn");
        log_each_level(&LogConfig {
            level: 4,
            ..files_in(&dir)
        });
        let text = read(&dir, "comqtt.log");
        assert!(
            !text.contains("an info line") && text.contains("a warn line"),
            "{text}"
        );
        assert!(!read(&dir, "co-info.log").contains("an info line"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn json_format_writes_one_object_per_line() {
        let dir = temp_dir("json");
        log_each_level(&LogConfig {
            format: 1,
            ..files_in(&dir)
        });
        let text = read(&dir, "comqtt.log");
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON object per line"))
            .collect();
        assert_eq!(lines.len(), 3, "info, warn, error at level 0: {text}");
        assert_eq!(lines[2]["level"], "ERROR");
        assert_eq!(lines[2]["fields"]["message"], "an error line");
        assert_eq!(lines[2]["fields"]["client_id"], "c1");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn empty_names_and_disabled_logging_write_no_file() {
        let dir = temp_dir("none");
        log_each_level(&LogConfig {
            info_file: String::new(),
            error_file: String::new(),
            ..files_in(&dir)
        });
        assert!(dir.join("comqtt.log").exists());
        assert!(!dir.join("co-info.log").exists() && !dir.join("co-err.log").exists());
        let off = temp_dir("off");
        log_each_level(&LogConfig {
            enable: false,
            ..files_in(&off)
        });
        assert_eq!(std::fs::read_dir(&off).unwrap().count(), 0);
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(&off);
    }

    #[test]
    fn an_unopenable_file_is_an_error_naming_it() {
        let dir = temp_dir("unopenable");
        std::fs::write(dir.join("plain"), "").unwrap();
        let bad = dir.join("plain").join("co-err.log");
        let config = LogConfig {
            error_file: bad.display().to_string(),
            ..files_in(&dir)
        };
        let err = subscriber(&config).err().expect("an error");
        assert_eq!(
            err.to_string(),
            format!("cannot open log file {}", bad.display())
        );
        assert!(
            std::error::Error::source(&err).is_some(),
            "the I/O error is the source"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn apply_changes_the_level_and_the_outputs_in_place() {
        let dir = temp_dir("apply");
        let first = LogConfig {
            level: 8,
            ..files_in(&dir)
        };
        let (subscriber, guard) = subscriber(&first).unwrap();
        let other = dir.join("other");
        std::fs::create_dir_all(&other).unwrap();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("before: hidden");
            guard
                .apply(&LogConfig {
                    level: 0,
                    ..first.clone()
                })
                .unwrap();
            tracing::info!("level lowered: shown");
            guard
                .apply(&LogConfig {
                    level: 0,
                    ..files_in(&other)
                })
                .unwrap();
            tracing::info!("moved: in the other file");
            let bad = LogConfig {
                error_file: dir.join("co-err.log").join("x").display().to_string(),
                ..files_in(&other)
            };
            assert!(guard.apply(&bad).is_err(), "an unopenable file is refused");
            tracing::info!("still in the other file");
        });
        drop(guard);
        let first_text = read(&dir, "comqtt.log");
        assert!(!first_text.contains("before: hidden"), "{first_text}");
        assert!(first_text.contains("level lowered: shown"), "{first_text}");
        assert!(!first_text.contains("moved"), "{first_text}");
        let other_text = read(&other, "comqtt.log");
        assert!(
            other_text.contains("moved: in the other file"),
            "{other_text}"
        );
        assert!(
            other_text.contains("still in the other file"),
            "{other_text}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn flag_levels_follow_the_original_readme() {
        assert_eq!(
            (0..=7).map(level_of_flag).collect::<Vec<_>>(),
            [
                Some(-4),
                Some(0),
                Some(4),
                Some(8),
                Some(8),
                Some(8),
                Some(8),
                None
            ]
        );
        assert_eq!(
            [-4, 0, 2, 4, 8].map(level_filter),
            [
                LevelFilter::DEBUG,
                LevelFilter::INFO,
                LevelFilter::WARN,
                LevelFilter::WARN,
                LevelFilter::ERROR
            ]
        );
    }
}
