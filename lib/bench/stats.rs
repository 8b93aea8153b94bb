//! What the tasks of a run measure and share: the [`Counters`] progress is drawn from, the
//! latency histograms (hdrhistogram), the send log that times messages whose payload cannot
//! carry a timestamp, and each worker's [`WorkerResult`].
//!
//! Hot-path rule: tasks count locally and publish their counts once per wake-up, and latency
//! samples are buffered per task and recorded into the shared histogram in batches, so no
//! message costs a lock or a contended atomic.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use parking_lot::Mutex;

/// Nanoseconds since the start of the run: the timestamps embedded in payloads.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// When the run started.
    epoch: Instant,
}

impl Clock {
    /// A clock starting now.
    pub fn start() -> Clock {
        Clock {
            epoch: Instant::now(),
        }
    }

    /// Nanoseconds since the start.
    pub fn now_ns(&self) -> u64 {
        self.ns_at(Instant::now())
    }

    /// Nanoseconds from the start to `at`.
    pub fn ns_at(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_nanos() as u64
    }
}

/// Run-wide counters, read by the progress display.
#[derive(Debug, Default)]
pub struct Counters {
    /// Connections established (CONNACK accepted).
    pub connected: AtomicU64,
    /// Messages written by publishers.
    pub published: AtomicU64,
    /// Messages received by subscribers.
    pub received: AtomicU64,
    /// mqtt-stresser's progress reports: every received message but each worker's last.
    pub dots: AtomicU64,
    /// Workers that ended in an error (mqtt-stresser prints an `E` for each).
    pub errors: AtomicU64,
}

impl Counters {
    /// Adds `n` to `counter` (relaxed: these are statistics).
    pub fn add(counter: &AtomicU64, n: u64) {
        if n > 0 {
            counter.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Reads `counter`.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// Latency percentiles, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percentiles {
    /// Samples recorded.
    pub count: u64,
    /// Smallest sample.
    pub min: u64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest sample.
    pub max: u64,
}

/// A latency histogram shared by the tasks of a run (nanoseconds, 3 significant digits,
/// 1 ns to 1 hour; larger samples are clamped).
#[derive(Debug)]
pub struct LatencyRecorder {
    /// The histogram.
    histogram: Mutex<Histogram<u64>>,
}

/// Latency samples buffered by one task before they go into the shared histogram.
const SAMPLE_BATCH: usize = 512;

impl LatencyRecorder {
    /// An empty recorder.
    pub fn new() -> LatencyRecorder {
        let histogram =
            Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid histogram bounds");
        LatencyRecorder {
            histogram: Mutex::new(histogram),
        }
    }

    /// Records `samples` (nanoseconds).
    pub fn record_all(&self, samples: &[u64]) {
        if samples.is_empty() {
            return;
        }
        let mut histogram = self.histogram.lock();
        for &ns in samples {
            histogram.saturating_record(ns.max(1));
        }
    }

    /// The percentiles so far, `None` if nothing was recorded.
    pub fn percentiles(&self) -> Option<Percentiles> {
        let h = self.histogram.lock();
        if h.is_empty() {
            return None;
        }
        Some(Percentiles {
            count: h.len(),
            min: h.min(),
            mean: h.mean(),
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        })
    }
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        LatencyRecorder::new()
    }
}

/// One task's buffer of latency samples; flushes into the recorder every 512 samples and
/// when dropped.
pub struct LatencySamples {
    /// Where the samples go.
    recorder: Arc<LatencyRecorder>,
    /// Samples not recorded yet.
    buffer: Vec<u64>,
}

impl LatencySamples {
    /// A buffer feeding `recorder`.
    pub fn new(recorder: Arc<LatencyRecorder>) -> LatencySamples {
        LatencySamples {
            recorder,
            buffer: Vec::with_capacity(SAMPLE_BATCH),
        }
    }

    /// Adds one sample (nanoseconds).
    pub fn push(&mut self, ns: u64) {
        self.buffer.push(ns);
        if self.buffer.len() >= SAMPLE_BATCH {
            self.flush();
        }
    }

    /// Records what is buffered.
    pub fn flush(&mut self) {
        self.recorder.record_all(&self.buffer);
        self.buffer.clear();
    }
}

impl Drop for LatencySamples {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Send times of one publisher's messages by sequence number, for payloads that cannot carry
/// a timestamp (`-constant-payload`, tiny `-payload-size`): the subscriber times its n-th
/// arrival against the n-th send. A ring of at most [`SendLog::MAX_CAPACITY`] entries; a
/// subscriber lagging further behind gets no sample rather than a wrong one.
#[derive(Debug)]
pub struct SendLog {
    /// Send time (clock nanoseconds) of message `seq` at `seq % len`.
    times: Box<[AtomicU64]>,
    /// The sequence number whose time each slot holds, plus one (0: empty).
    seqs: Box<[AtomicU64]>,
}

impl SendLog {
    /// Most messages remembered.
    pub const MAX_CAPACITY: usize = 8192;

    /// A log for `messages` messages (`None`: unbounded, as in `-duration` mode).
    pub fn new(messages: Option<u64>) -> SendLog {
        let len = messages.map_or(Self::MAX_CAPACITY, |n| {
            (n.max(1) as usize)
                .next_power_of_two()
                .min(Self::MAX_CAPACITY)
        });
        SendLog {
            times: (0..len).map(|_| AtomicU64::new(0)).collect(),
            seqs: (0..len).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Notes that message `seq` was sent at `ns`.
    pub fn sent(&self, seq: u64, ns: u64) {
        let slot = seq as usize % self.times.len();
        self.times[slot].store(ns, Ordering::Relaxed);
        self.seqs[slot].store(seq + 1, Ordering::Release);
    }

    /// When message `seq` was sent, if it is still remembered.
    pub fn sent_at(&self, seq: u64) -> Option<u64> {
        let slot = seq as usize % self.times.len();
        if self.seqs[slot].load(Ordering::Acquire) != seq + 1 {
            return None;
        }
        Some(self.times[slot].load(Ordering::Relaxed))
    }
}

/// How a worker ended: mqtt-stresser's result events, plus `ConnectionLost`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Every message it was to receive arrived.
    Completed,
    /// A connection (TCP, TLS, WebSocket or CONNACK) failed.
    ConnectFailed,
    /// SUBSCRIBE was refused or not answered.
    SubscribeFailed,
    /// The global timeout hit, an acknowledgement or a message did not come within `-timeout`.
    TimeoutExceeded,
    /// The run was cancelled (SIGINT, SIGTERM).
    Aborted,
    /// An established connection broke (the broker went away).
    ConnectionLost,
}

impl Outcome {
    /// True for everything but `Completed`.
    pub fn is_error(self) -> bool {
        self != Outcome::Completed
    }

    /// mqtt-stresser's event name.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Completed => "Completed",
            Outcome::ConnectFailed => "ConnectFailed",
            Outcome::SubscribeFailed => "SubscribeFailed",
            Outcome::TimeoutExceeded => "TimeoutExceeded",
            Outcome::Aborted => "Aborted",
            Outcome::ConnectionLost => "ConnectionLost",
        }
    }
}

/// Why part of a worker failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The event it counts as.
    pub outcome: Outcome,
    /// What happened, for `-log-level 1`.
    pub message: String,
}

impl Failure {
    /// A failure.
    pub fn new(outcome: Outcome, message: impl Into<String>) -> Failure {
        Failure {
            outcome,
            message: message.into(),
        }
    }
}

/// The figures of one worker (one unit of `-num-clients`), what the report is built from.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerResult {
    /// How it ended.
    pub outcome: Outcome,
    /// Messages its publisher sent (0 if it has none of its own).
    pub published: u64,
    /// Messages its subscriber received (0 if it has none of its own).
    pub received: u64,
    /// Deliveries it was to receive: planned ones, or in `-duration` mode what was published.
    pub expected: u64,
    /// Time its publisher took to send everything (and have it acknowledged); `None` if it
    /// has no publisher of its own.
    pub publish_time: Option<Duration>,
    /// Time from the first publish to its subscriber's last message; `None` if it has no
    /// subscriber of its own or nothing arrived.
    pub receive_time: Option<Duration>,
    /// What went wrong, if anything.
    pub error: Option<String>,
}

impl WorkerResult {
    /// A worker that failed before moving any message.
    pub fn failed(failure: Failure, expected: u64) -> WorkerResult {
        WorkerResult {
            outcome: failure.outcome,
            published: 0,
            received: 0,
            expected,
            publish_time: None,
            receive_time: None,
            error: Some(failure.message),
        }
    }
}

/// When publishing and receiving happened across a run, for the overall throughput.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timeline {
    /// The first publisher's start.
    pub first_publish: Option<Instant>,
    /// The last publisher's end.
    pub last_publish: Option<Instant>,
    /// The last message received.
    pub last_receive: Option<Instant>,
}

impl Timeline {
    /// Widens this timeline by a publisher's start and end.
    pub fn published(&mut self, started: Instant, finished: Instant) {
        self.first_publish = Some(self.first_publish.map_or(started, |t| t.min(started)));
        self.last_publish = Some(self.last_publish.map_or(finished, |t| t.max(finished)));
    }

    /// Widens this timeline by a subscriber's last message.
    pub fn received(&mut self, at: Option<Instant>) {
        if let Some(at) = at {
            self.last_receive = Some(self.last_receive.map_or(at, |t| t.max(at)));
        }
    }

    /// Merges another timeline into this one.
    pub fn merge(&mut self, other: &Timeline) {
        if let (Some(s), Some(f)) = (other.first_publish, other.last_publish) {
            self.published(s, f);
        }
        self.received(other.last_receive);
    }

    /// From the first publish to the last publisher's end.
    pub fn publish_window(&self) -> Option<Duration> {
        Some(
            self.last_publish?
                .saturating_duration_since(self.first_publish?),
        )
    }

    /// From the first publish to the last message received.
    pub fn receive_window(&self) -> Option<Duration> {
        Some(
            self.last_receive?
                .saturating_duration_since(self.first_publish?),
        )
    }
}
