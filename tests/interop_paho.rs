//! Interoperability with a real third-party client: Python paho-mqtt 2.x. Each test starts
//! the broker and runs one script of `tests/paho/` against it; the script checks what paho
//! sees and exits non-zero with a message on any failure (scripts/test installs paho-mqtt).

#[allow(unused_imports)] // the raw client of `common` is not used here
mod common;

use std::time::Duration;

use common::BrokerProcess;

/// Runs `tests/paho/<script>.py PORT` against a fresh broker and asserts it passes.
fn run_paho(script: &str) {
    let broker = BrokerProcess::start(&[]);
    let path = format!("{}/tests/paho/{script}.py", env!("CARGO_MANIFEST_DIR"));
    let port = broker.port.to_string();
    let out = common::run_tool("python3", &[&path, &port], Duration::from_secs(60));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "paho script {script}.py failed ({}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        out.status
    );
    eprintln!("{script}.py: {}", stdout.trim());
}

#[test]
fn paho_v311_and_v5_pubsub_at_each_qos_arrives_complete_and_in_order() {
    run_paho("pubsub");
}

#[test]
fn paho_retained_message_reaches_a_later_subscriber_and_can_be_cleared() {
    run_paho("retained");
}

#[test]
fn paho_will_is_published_on_abnormal_disconnect_only() {
    run_paho("will");
}

#[test]
fn paho_persistent_session_receives_qos1_messages_published_while_offline() {
    run_paho("persistent");
}

#[test]
fn paho_v5_publish_properties_round_trip_and_expiry_counts_down() {
    run_paho("v5_properties");
}

#[test]
fn paho_shared_subscription_delivers_each_message_once_across_the_group() {
    run_paho("shared");
}
