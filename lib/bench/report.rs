//! The end-of-run report: mqtt-stresser's summary (`# Configuration`, `# Results`,
//! `# Publishing Throughput`, `# Receiving Througput` with its misspelling, the bucket
//! histograms), byte for byte where its figures are right, followed by what comqtt-bench adds
//! (lost messages, overall throughput, latency percentiles); the report of the `conn`
//! scenario; and both as JSON for CI.
//!
//! Numbers are printed as Go's `%.0f` prints them (round half to even, `NaN`, `+Inf`).

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Value, json};

use super::duration::GoDuration;
use super::histogram::{buckets, median};
use super::stats::{Outcome, Percentiles, WorkerResult};

/// Exit status of a run that lost messages, had failed workers or failed connections.
pub const EXIT_LOST: u8 = 2;

/// Everything a message scenario's report is built from.
#[derive(Debug, Clone, PartialEq)]
pub struct TrafficFigures {
    /// Scenario name (`p2p`, `fanout`, ...).
    pub scenario: String,
    /// `-num-clients`.
    pub clients: u64,
    /// Messages each publisher was to send (`-num-messages`, or the mean sent in `-duration` mode).
    pub messages_per_client: u64,
    /// Messages the run was to publish in all.
    pub planned_published: u64,
    /// One result per worker.
    pub workers: Vec<WorkerResult>,
    /// Publish-to-receive latency, when measured.
    pub latency: Option<Percentiles>,
    /// Why latency was not measured, when it was not.
    pub latency_note: Option<String>,
    /// From the first publish to the last publisher finishing.
    pub publish_window: Option<Duration>,
    /// From the first publish to the last message received.
    pub receive_window: Option<Duration>,
}

/// The summary of a message scenario: mqtt-stresser's `Summary` plus lost messages and latency.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// The figures it was built from.
    pub figures: TrafficFigures,
    /// Messages published.
    pub published: u64,
    /// Messages received.
    pub received: u64,
    /// Deliveries the run was to make.
    pub expected: u64,
    /// Deliveries that did not happen (expected minus received, never negative).
    pub lost: u64,
    /// Workers that completed.
    pub completed: u64,
    /// Workers that ended in an error.
    pub errors: u64,
    /// Workers per failure outcome.
    pub connect_failed: u64,
    /// SUBSCRIBE failures.
    pub subscribe_failed: u64,
    /// Timeouts.
    pub timeout_exceeded: u64,
    /// Cancelled workers.
    pub aborted: u64,
    /// Broken connections.
    pub connection_lost: u64,
    /// Per-worker publish rates (msg/sec), ascending.
    pub publish_rates: Vec<f64>,
    /// Per-worker receive rates (msg/sec), ascending.
    pub receive_rates: Vec<f64>,
}

/// Go's `%.0f`.
pub fn go_f0(x: f64) -> String {
    if x.is_nan() {
        "NaN".to_string()
    } else if x == f64::INFINITY {
        "+Inf".to_string()
    } else if x == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else {
        format!("{x:.0}")
    }
}

/// `a / b * 100` as mqtt-stresser computes and prints percentages.
fn pct(a: u64, b: u64) -> String {
    go_f0(a as f64 / b as f64 * 100.0)
}

fn rate(count: u64, time: Duration) -> f64 {
    count as f64 / time.as_secs_f64()
}

/// A duration as Go prints it, to the microsecond.
fn go_micros(d: Duration) -> GoDuration {
    GoDuration::from_std(Duration::from_micros(d.as_micros() as u64))
}

fn millis(ns: u64) -> String {
    format!("{:.3} ms", ns as f64 / 1e6)
}

impl Summary {
    /// Builds the summary as mqtt-stresser's `buildSummary` does.
    pub fn new(figures: TrafficFigures) -> Summary {
        let count = |o: Outcome| figures.workers.iter().filter(|w| w.outcome == o).count() as u64;
        let published = figures.workers.iter().map(|w| w.published).sum();
        let received = figures.workers.iter().map(|w| w.received).sum();
        let expected: u64 = figures.workers.iter().map(|w| w.expected).sum();
        let mut publish_rates: Vec<f64> = figures
            .workers
            .iter()
            .filter(|w| w.published > 0)
            .filter_map(|w| w.publish_time.map(|t| rate(w.published, t)))
            .collect();
        let mut receive_rates: Vec<f64> = figures
            .workers
            .iter()
            .filter(|w| w.received > 0)
            .filter_map(|w| w.receive_time.map(|t| rate(w.received, t)))
            .collect();
        publish_rates.sort_by(f64::total_cmp);
        receive_rates.sort_by(f64::total_cmp);
        Summary {
            published,
            received,
            expected,
            lost: expected.saturating_sub(received),
            completed: count(Outcome::Completed),
            errors: figures
                .workers
                .iter()
                .filter(|w| w.outcome.is_error())
                .count() as u64,
            connect_failed: count(Outcome::ConnectFailed),
            subscribe_failed: count(Outcome::SubscribeFailed),
            timeout_exceeded: count(Outcome::TimeoutExceeded),
            aborted: count(Outcome::Aborted),
            connection_lost: count(Outcome::ConnectionLost),
            publish_rates,
            receive_rates,
            figures,
        }
    }

    /// The exit status: 0, or [`EXIT_LOST`] when messages were lost or workers failed.
    pub fn exit_code(&self) -> u8 {
        if self.lost > 0 || self.errors > 0 {
            EXIT_LOST
        } else {
            0
        }
    }

    /// One line for stderr when the run failed.
    pub fn problem(&self) -> Option<String> {
        match (self.lost, self.errors) {
            (0, 0) => None,
            (0, e) => Some(format!("{e} of {} workers failed", self.figures.clients)),
            (l, _) => Some(format!("{l} of {} messages lost", self.expected)),
        }
    }

    /// The text report, starting with the empty line that ends the progress dots.
    pub fn text(&self) -> String {
        let f = &self.figures;
        let mut out = String::new();
        let o = &mut out;
        let _ = writeln!(o);
        let _ = writeln!(o, "# Configuration");
        let _ = writeln!(o, "Concurrent Clients: {}", f.clients);
        let _ = writeln!(o, "Messages / Client:  {}", f.messages_per_client);
        let _ = writeln!(o);
        let _ = writeln!(o, "# Results");
        let _ = writeln!(
            o,
            "Published Messages: {} ({}%)",
            self.published,
            pct(self.published, f.planned_published)
        );
        let _ = writeln!(
            o,
            "Received Messages:  {} ({}%)",
            self.received,
            pct(self.received, self.expected)
        );
        if self.lost > 0 {
            let _ = writeln!(
                o,
                "Lost Messages:      {} ({}%)",
                self.lost,
                pct(self.lost, self.expected)
            );
        }
        let _ = writeln!(
            o,
            "Completed:          {} ({}%)",
            self.completed,
            pct(self.completed, f.clients)
        );
        let _ = writeln!(
            o,
            "Errors:             {} ({}%)",
            self.errors,
            pct(self.errors, f.clients)
        );
        if self.errors > 0 {
            let _ = writeln!(
                o,
                "- ConnectFailed:      {} ({}%)",
                self.connect_failed,
                pct(self.connect_failed, self.errors)
            );
            let _ = writeln!(
                o,
                "- SubscribeFailed:    {} ({}%)",
                self.subscribe_failed,
                pct(self.subscribe_failed, self.errors)
            );
            let _ = writeln!(
                o,
                "- TimeoutExceeded:    {} ({}%)",
                self.timeout_exceeded,
                pct(self.timeout_exceeded, self.errors)
            );
            let _ = writeln!(
                o,
                "- Aborted:            {} ({}%)",
                self.aborted,
                pct(self.aborted, self.errors)
            );
            if self.connection_lost > 0 {
                let _ = writeln!(
                    o,
                    "- ConnectionLost:     {} ({}%)",
                    self.connection_lost,
                    pct(self.connection_lost, self.errors)
                );
            }
        }
        throughput(o, "# Publishing Throughput", &self.publish_rates);
        throughput(o, "# Receiving Througput", &self.receive_rates);
        if let (Some(p), Some(r)) = (f.publish_window, f.receive_window) {
            let _ = writeln!(o);
            let _ = writeln!(o, "# Overall Throughput");
            let _ = writeln!(
                o,
                "Publishing: {} msg/sec ({} in {})",
                go_f0(rate(self.published, p)),
                self.published,
                go_micros(p)
            );
            let _ = writeln!(
                o,
                "Receiving:  {} msg/sec ({} in {})",
                go_f0(rate(self.received, r)),
                self.received,
                go_micros(r)
            );
        }
        match (&f.latency, &f.latency_note) {
            (Some(p), _) => {
                let _ = writeln!(o);
                let _ = writeln!(o, "# Latency (publish to receive)");
                latency_lines(o, "Messages", p);
            }
            (None, Some(note)) => {
                let _ = writeln!(o);
                let _ = writeln!(o, "# Latency (publish to receive)");
                let _ = writeln!(o, "not measured: {note}");
            }
            (None, None) => {}
        }
        out
    }

    /// The report as JSON.
    pub fn json(&self) -> Value {
        let f = &self.figures;
        let rates = |r: &[f64]| {
            if r.is_empty() {
                Value::Null
            } else {
                json!({ "fastest": r[r.len() - 1], "slowest": r[0], "median": median(r) })
            }
        };
        json!({
            "scenario": f.scenario,
            "configuration": { "clients": f.clients, "messages_per_client": f.messages_per_client },
            "results": {
                "planned": f.planned_published,
                "published": self.published,
                "expected": self.expected,
                "received": self.received,
                "lost": self.lost,
                "completed": self.completed,
                "errors": self.errors,
                "connect_failed": self.connect_failed,
                "subscribe_failed": self.subscribe_failed,
                "timeout_exceeded": self.timeout_exceeded,
                "aborted": self.aborted,
                "connection_lost": self.connection_lost,
            },
            "publish_throughput": rates(&self.publish_rates),
            "receive_throughput": rates(&self.receive_rates),
            "overall": {
                "publish_msgs_per_sec": f.publish_window.map(|p| rate(self.published, p)),
                "receive_msgs_per_sec": f.receive_window.map(|r| rate(self.received, r)),
                "publish_seconds": f.publish_window.map(|p| p.as_secs_f64()),
                "receive_seconds": f.receive_window.map(|r| r.as_secs_f64()),
            },
            "latency_ms": f.latency.as_ref().map(latency_json),
            "latency_note": f.latency_note,
            "exit_code": self.exit_code(),
        })
    }
}

/// A throughput block: Fastest, Slowest, Median, then the histogram (nothing if no worker
/// had a rate).
fn throughput(o: &mut String, title: &str, rates: &[f64]) {
    if rates.is_empty() {
        return;
    }
    let _ = writeln!(o);
    let _ = writeln!(o, "{title}");
    let _ = writeln!(o, "Fastest: {} msg/sec", go_f0(rates[rates.len() - 1]));
    let _ = writeln!(o, "Slowest: {} msg/sec", go_f0(rates[0]));
    let _ = writeln!(o, "Median: {} msg/sec", go_f0(median(rates)));
    let _ = writeln!(o);
    for b in buckets(rates, rates.len()) {
        let _ = writeln!(
            o,
            "  < {} msg/sec  {}%",
            go_f0(b.upper),
            go_f0(b.cumulative * 100.0)
        );
    }
}

fn latency_lines(o: &mut String, what: &str, p: &Percentiles) {
    let _ = writeln!(o, "{what}: {}", p.count);
    let _ = writeln!(o, "p50:   {}", millis(p.p50));
    let _ = writeln!(o, "p90:   {}", millis(p.p90));
    let _ = writeln!(o, "p99:   {}", millis(p.p99));
    let _ = writeln!(o, "p99.9: {}", millis(p.p999));
    let _ = writeln!(o, "max:   {}", millis(p.max));
}

fn latency_json(p: &Percentiles) -> Value {
    let ms = |ns: u64| ns as f64 / 1e6;
    json!({
        "count": p.count,
        "min": ms(p.min),
        "mean": p.mean / 1e6,
        "p50": ms(p.p50),
        "p90": ms(p.p90),
        "p99": ms(p.p99),
        "p99_9": ms(p.p999),
        "max": ms(p.max),
    })
}

/// The figures of the `conn` scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnFigures {
    /// Connections attempted (`-num-clients`).
    pub clients: u64,
    /// `-connect-rate`, if set.
    pub connect_rate: Option<f64>,
    /// `-hold`.
    pub hold: GoDuration,
    /// Connections established.
    pub connected: u64,
    /// Connections that failed, by reason, most frequent first.
    pub failures: Vec<(String, u64)>,
    /// Established connections the broker closed before the hold ended.
    pub dropped: u64,
    /// From the first connection attempt to the last one finishing.
    pub connect_window: Duration,
    /// CONNECT latency (TCP connect to CONNACK).
    pub latency: Option<Percentiles>,
}

impl ConnFigures {
    /// Failed connections in all.
    pub fn failed(&self) -> u64 {
        self.failures.iter().map(|(_, n)| n).sum()
    }

    /// 0, or [`EXIT_LOST`] if any connection failed or was dropped.
    pub fn exit_code(&self) -> u8 {
        if self.failed() > 0 || self.dropped > 0 || self.connected < self.clients {
            EXIT_LOST
        } else {
            0
        }
    }

    /// One line for stderr when the run failed.
    pub fn problem(&self) -> Option<String> {
        (self.exit_code() != 0).then(|| {
            format!(
                "{} of {} connections failed, {} dropped",
                self.clients - self.connected,
                self.clients,
                self.dropped
            )
        })
    }

    /// The text report.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let o = &mut out;
        let _ = writeln!(o);
        let _ = writeln!(o, "# Configuration");
        let _ = writeln!(o, "Concurrent Clients: {}", self.clients);
        match self.connect_rate {
            Some(r) => {
                let _ = writeln!(o, "Connect Rate:       {} conn/sec", go_f0(r));
            }
            None => {
                let _ = writeln!(o, "Connect Rate:       unlimited (ramp-up batches)");
            }
        }
        let _ = writeln!(o, "Hold:               {}", self.hold);
        let _ = writeln!(o);
        let _ = writeln!(o, "# Results");
        let failed = self.failed();
        let _ = writeln!(
            o,
            "Connected:          {} ({}%)",
            self.connected,
            pct(self.connected, self.clients)
        );
        let _ = writeln!(
            o,
            "Failed:             {} ({}%)",
            failed,
            pct(failed, self.clients)
        );
        for (reason, n) in &self.failures {
            let _ = writeln!(o, "- {reason}: {n}");
        }
        let _ = writeln!(
            o,
            "Dropped:            {} ({}%)",
            self.dropped,
            pct(self.dropped, self.clients)
        );
        let _ = writeln!(
            o,
            "Connect Time:       {} ({} conn/sec)",
            go_micros(self.connect_window),
            go_f0(rate(self.connected, self.connect_window))
        );
        if let Some(p) = &self.latency {
            let _ = writeln!(o);
            let _ = writeln!(o, "# Connect Latency (TCP connect to CONNACK)");
            latency_lines(o, "Connections", p);
        }
        out
    }

    /// The report as JSON.
    pub fn json(&self) -> Value {
        json!({
            "scenario": "conn",
            "configuration": {
                "clients": self.clients,
                "connect_rate": self.connect_rate,
                "hold_seconds": self.hold.to_std().as_secs_f64(),
            },
            "results": {
                "connected": self.connected,
                "failed": self.failed(),
                "failures": self.failures.iter().map(|(r, n)| json!({ "reason": r, "count": n })).collect::<Vec<_>>(),
                "dropped": self.dropped,
                "connect_seconds": self.connect_window.as_secs_f64(),
                "connects_per_sec": rate(self.connected, self.connect_window),
            },
            "connect_latency_ms": self.latency.as_ref().map(latency_json),
            "exit_code": self.exit_code(),
        })
    }
}

/// The report of any scenario.
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    /// p2p, fanout, fanin, sharedsub.
    Traffic(Summary),
    /// conn.
    Connections(ConnFigures),
}

impl Report {
    /// The text report.
    pub fn text(&self) -> String {
        match self {
            Report::Traffic(s) => s.text(),
            Report::Connections(c) => c.text(),
        }
    }

    /// The JSON report.
    pub fn json(&self) -> Value {
        match self {
            Report::Traffic(s) => s.json(),
            Report::Connections(c) => c.json(),
        }
    }

    /// The exit status.
    pub fn exit_code(&self) -> u8 {
        match self {
            Report::Traffic(s) => s.exit_code(),
            Report::Connections(c) => c.exit_code(),
        }
    }

    /// What went wrong, in one line, if anything did.
    pub fn problem(&self) -> Option<String> {
        match self {
            Report::Traffic(s) => s.problem(),
            Report::Connections(c) => c.problem(),
        }
    }
}
