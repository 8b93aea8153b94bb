//! Golden tests of comqtt-bench's report: known per-worker figures in, mqtt-stresser's exact
//! text out (its sample output, with the right "Messages / Client" figure), and the lines
//! comqtt-bench adds.

use std::time::Duration;

use comqtt::bench::histogram::{Bucket, buckets, median};
use comqtt::bench::report::go_f0;
use comqtt::bench::{
    ConnFigures, GoDuration, Outcome, Percentiles, Summary, TrafficFigures, WorkerResult,
};

/// A completed worker that moved 100 messages at these rates (msg/sec).
fn worker(publish_rate: f64, receive_rate: f64) -> WorkerResult {
    let time = |rate: f64| Duration::from_nanos((100.0 * 1e9 / rate).round() as u64);
    WorkerResult {
        outcome: Outcome::Completed,
        published: 100,
        received: 100,
        expected: 100,
        publish_time: Some(time(publish_rate)),
        receive_time: Some(time(receive_rate)),
        error: None,
    }
}

fn figures(workers: Vec<WorkerResult>) -> TrafficFigures {
    TrafficFigures {
        scenario: "p2p".into(),
        clients: workers.len() as u64,
        messages_per_client: 100,
        planned_published: 100 * workers.len() as u64,
        workers,
        latency: None,
        latency_note: None,
        publish_window: None,
        receive_window: None,
    }
}

/// mqtt-stresser's sample run (10 clients, 1000 messages in all), except that "Messages /
/// Client" shows 100, not the total 1000.
const SAMPLE: &str = "
# Configuration
Concurrent Clients: 10
Messages / Client:  100

# Results
Published Messages: 1000 (100%)
Received Messages:  1000 (100%)
Completed:          10 (100%)
Errors:             0 (0%)

# Publishing Throughput
Fastest: 129213 msg/sec
Slowest: 19177 msg/sec
Median: 71746 msg/sec

  < 30181 msg/sec  30%
  < 52188 msg/sec  40%
  < 74195 msg/sec  50%
  < 85199 msg/sec  70%
  < 118209 msg/sec  90%
  < 140216 msg/sec  100%

# Receiving Througput
Fastest: 73573 msg/sec
Slowest: 1922 msg/sec
Median: 2177 msg/sec

  < 9087 msg/sec  60%
  < 16252 msg/sec  80%
  < 23417 msg/sec  90%
  < 80738 msg/sec  100%
";

/// Per-worker rates that reproduce the sample's figures and histograms.
const PUBLISH_RATES: [f64; 10] = [
    19177.3, 25000.0, 28000.0, 50000.0, 68000.0, 75492.0, 80000.0, 110000.0, 115000.0, 129212.8,
];
const RECEIVE_RATES: [f64; 10] = [
    1922.0, 1950.0, 2000.0, 2050.0, 2100.0, 2254.0, 10000.0, 15000.0, 20000.0, 73573.0,
];

#[test]
fn report_reproduces_mqtt_stressers_sample_output() {
    // Workers in a shuffled order: the summary sorts the rates.
    let order = [3, 9, 0, 7, 1, 5, 8, 2, 6, 4];
    let workers = order
        .iter()
        .map(|&i| worker(PUBLISH_RATES[i], RECEIVE_RATES[(i + 4) % 10]))
        .collect();
    let summary = Summary::new(figures(workers));
    assert_eq!(summary.text(), SAMPLE);
    assert_eq!(summary.exit_code(), 0);
    assert_eq!(summary.problem(), None);
}

#[test]
fn histogram_follows_mqtt_stressers_bucket_rule() {
    // The fastest value lands in the eleventh interval, so the top bound exceeds it.
    let b = buckets(&PUBLISH_RATES, 10);
    let lines: Vec<String> = b
        .iter()
        .map(|b| format!("< {} {}", go_f0(b.upper), go_f0(b.cumulative * 100.0)))
        .collect();
    assert_eq!(
        lines,
        [
            "< 30181 30",
            "< 52188 40",
            "< 74195 50",
            "< 85199 70",
            "< 118209 90",
            "< 140216 100"
        ]
    );
    // Equal rates: one bucket at that rate, 100%.
    assert_eq!(
        buckets(&[500.0; 4], 4),
        vec![Bucket {
            upper: 500.0,
            cumulative: 1.0
        }]
    );
    // Fractions are of `total`, which may exceed the series (mqtt-stresser's completed + in progress).
    let partial = buckets(&[10.0, 20.0], 4);
    assert_eq!(partial.last().unwrap().cumulative, 0.5);
    // Median: the mean of the two middle elements.
    assert_eq!(median(&[1.0, 3.0, 5.0, 100.0]), 4.0);
}

#[test]
fn go_number_formatting() {
    assert_eq!(go_f0(2.5), "2");
    assert_eq!(go_f0(3.5), "4");
    assert_eq!(go_f0(0.49), "0");
    assert_eq!(go_f0(f64::NAN), "NaN");
    assert_eq!(go_f0(f64::INFINITY), "+Inf");
    assert_eq!(go_f0(1e20), "100000000000000000000");
}

#[test]
fn errors_lost_messages_and_latency_are_reported() {
    let mut workers = vec![worker(1000.0, 1000.0), worker(2000.0, 2000.0)];
    workers.push(WorkerResult {
        outcome: Outcome::ConnectFailed,
        published: 0,
        received: 0,
        expected: 100,
        publish_time: None,
        receive_time: None,
        error: Some("refused".into()),
    });
    workers.push(WorkerResult {
        outcome: Outcome::ConnectionLost,
        published: 40,
        received: 30,
        expected: 100,
        publish_time: Some(Duration::from_millis(40)),
        receive_time: Some(Duration::from_millis(30)),
        error: Some("connection closed by the broker".into()),
    });
    let mut f = figures(workers);
    f.latency = Some(Percentiles {
        count: 230,
        min: 100_000,
        mean: 1_500_000.0,
        p50: 1_000_000,
        p90: 2_500_000,
        p99: 4_000_000,
        p999: 4_500_000,
        max: 5_123_456,
    });
    f.publish_window = Some(Duration::from_millis(100));
    f.receive_window = Some(Duration::from_millis(115));
    let summary = Summary::new(f);
    let expected = "
# Configuration
Concurrent Clients: 4
Messages / Client:  100

# Results
Published Messages: 240 (60%)
Received Messages:  230 (57%)
Lost Messages:      170 (42%)
Completed:          2 (50%)
Errors:             2 (50%)
- ConnectFailed:      1 (50%)
- SubscribeFailed:    0 (0%)
- TimeoutExceeded:    0 (0%)
- Aborted:            0 (0%)
- ConnectionLost:     1 (50%)

# Publishing Throughput
Fastest: 2000 msg/sec
Slowest: 1000 msg/sec
Median: 1000 msg/sec

  < 1100 msg/sec  67%
  < 2100 msg/sec  100%

# Receiving Througput
Fastest: 2000 msg/sec
Slowest: 1000 msg/sec
Median: 1000 msg/sec

  < 1100 msg/sec  67%
  < 2100 msg/sec  100%

# Overall Throughput
Publishing: 2400 msg/sec (240 in 100ms)
Receiving:  2000 msg/sec (230 in 115ms)

# Latency (publish to receive)
Messages: 230
p50:   1.000 ms
p90:   2.500 ms
p99:   4.000 ms
p99.9: 4.500 ms
max:   5.123 ms
";
    assert_eq!(summary.text(), expected);
    assert_eq!(summary.lost, 170);
    assert_eq!(summary.exit_code(), 2);
    assert_eq!(
        summary.problem().as_deref(),
        Some("170 of 400 messages lost")
    );
    let json = summary.json();
    assert_eq!(json["results"]["lost"], 170);
    assert_eq!(json["results"]["connection_lost"], 1);
    assert_eq!(json["latency_ms"]["p99_9"], 4.5);
    assert_eq!(json["exit_code"], 2);
}

#[test]
fn conn_report() {
    let figures = ConnFigures {
        clients: 100,
        connect_rate: Some(50.0),
        hold: GoDuration::parse("1m30s").unwrap(),
        connected: 98,
        failures: vec![("connection refused".into(), 2)],
        dropped: 1,
        connect_window: Duration::from_millis(1980),
        latency: None,
    };
    let expected = "
# Configuration
Concurrent Clients: 100
Connect Rate:       50 conn/sec
Hold:               1m30s

# Results
Connected:          98 (98%)
Failed:             2 (2%)
- connection refused: 2
Dropped:            1 (1%)
Connect Time:       1.98s (49 conn/sec)
";
    assert_eq!(figures.text(), expected);
    assert_eq!(figures.exit_code(), 2);
}
