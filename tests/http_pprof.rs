//! Profiling over the HTTP API against a real `comqtt serve` process: a CPU profile of a
//! loaded broker in pprof's gzipped protobuf (decoded here, it names the broker's own
//! functions) and as a flame graph, the allocator's summary, the token they need, one
//! profile at a time, and no routes at all when `pprof-enable` is off.

mod common;

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::http::{authorized, get};
use common::{BrokerProcess, TestClient};
use comqtt::mqtt::{Protocol, QoS};
use pprof::protos::Message as _;

const TOKEN: &str = "profiler";

/// A publisher and a subscriber exchanging QoS 1 messages until `stop` is set.
fn load(addr: String, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        let mut sub = TestClient::connect(&addr, Protocol::V5, "pp-sub").await;
        sub.subscribe_qos(1, "pp/#", QoS::AtMostOnce).await;
        let mut publ = TestClient::connect(&addr, Protocol::V5, "pp-pub").await;
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            publ.publish(
                "pp/load",
                b"payload",
                QoS::AtLeastOnce,
                false,
                (n % 60000 + 1) as u16,
            )
            .await;
            sub.expect_publish().await;
            n += 1;
        }
        n
    })
}

#[tokio::test]
async fn a_cpu_profile_of_a_loaded_broker_names_its_functions() {
    let (broker, http) = BrokerProcess::start_with_http(&["--http-token", TOKEN, "--pprof-enable"]);
    let stop = Arc::new(AtomicBool::new(false));
    let running = load(broker.addr(), stop.clone());

    let r = authorized(
        &http,
        "GET",
        "/debug/pprof/profile?seconds=2",
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(&r.body[..])
        .read_to_end(&mut raw)
        .expect("the profile is gzipped, as Go serves it");
    let profile = pprof::protos::Profile::decode(&raw[..]).expect("a pprof protobuf");
    assert!(
        !profile.sample.is_empty(),
        "no samples in a loaded broker's profile"
    );
    let functions: Vec<&str> = profile
        .function
        .iter()
        .filter_map(|f| profile.string_table.get(f.name as usize))
        .map(String::as_str)
        .collect();
    assert!(
        functions.iter().any(|f| f.starts_with("comqtt::")),
        "no broker function among {} in the profile",
        functions.len()
    );
    assert!(
        profile.sample_type.iter().any(|t| profile
            .string_table
            .get(t.ty as usize)
            .is_some_and(|s| s == "cpu")),
        "the sample type is CPU"
    );

    let svg = authorized(
        &http,
        "GET",
        "/debug/pprof/profile?seconds=1&format=svg&frequency=499",
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(svg.status, 200, "{}", svg.text());
    assert_eq!(svg.header("content-type"), Some("image/svg+xml"));
    let text = svg.text();
    assert!(text.contains("<svg"), "a flame graph");
    assert!(
        text.contains("comqtt::"),
        "the flame graph names broker functions"
    );

    stop.store(true, Ordering::Relaxed);
    let exchanged = running.await.expect("load");
    assert!(exchanged > 0);
}

#[tokio::test]
async fn profiles_need_the_token_and_run_one_at_a_time() {
    let (_broker, http) =
        BrokerProcess::start_with_http(&["--http-token", TOKEN, "--pprof-enable"]);
    // A read, but not an open one.
    let r = get(&http, "/debug/pprof/profile?seconds=1").await;
    assert_eq!(r.status, 401, "{}", r.text());
    let r = authorized(&http, "GET", "/debug/pprof/heap", Some("wrong"), None).await;
    assert_eq!(r.status, 401, "{}", r.text());
    for bad in ["seconds=0", "seconds=301", "frequency=0", "format=png"] {
        let r = authorized(
            &http,
            "GET",
            &format!("/debug/pprof/profile?{bad}"),
            Some(TOKEN),
            None,
        )
        .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
    }

    let heap = authorized(&http, "GET", "/debug/pprof/heap", Some(TOKEN), None).await;
    assert_eq!(heap.status, 200, "{}", heap.text());
    let heap = heap.json();
    assert!(heap["resident_bytes"].as_u64().unwrap_or(0) > 0, "{heap}");
    assert!(heap["allocated_bytes"].as_u64().unwrap_or(0) > 0, "{heap}");

    // Two at once: the process has one profiler.
    let ask = |http: String| {
        tokio::spawn(async move {
            authorized(
                &http,
                "GET",
                "/debug/pprof/profile?seconds=2",
                Some(TOKEN),
                None,
            )
            .await
            .status
        })
    };
    let (a, b) = (ask(http.clone()), ask(http.clone()));
    let mut statuses = [a.await.expect("a"), b.await.expect("b")];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409]);
    // And the next one runs.
    let r = authorized(
        &http,
        "GET",
        "/debug/pprof/profile?seconds=1",
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn without_pprof_enable_there_are_no_profiling_routes_and_without_a_token_no_profiles() {
    let (_broker, http) = BrokerProcess::start_with_http(&["--http-token", TOKEN]);
    let r = authorized(
        &http,
        "GET",
        "/debug/pprof/profile?seconds=1",
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text());
    let r = authorized(&http, "GET", "/debug/pprof/heap", Some(TOKEN), None).await;
    assert_eq!(r.status, 404, "{}", r.text());

    let (_broker, http) = BrokerProcess::start_with_http(&["--pprof-enable"]);
    let r = get(&http, "/debug/pprof/heap").await;
    assert_eq!(r.status, 403, "{}", r.text());
}
