//! Logging of the real `comqtt serve`: the `log:` block and the flags `--log-file`,
//! `--info-file`, `--error-file`, `--log-output`, `--log-enable` decide which files get which
//! lines, in text or JSON; bad settings stop the broker with a message naming them.

mod common;

use std::path::Path;
use std::time::Duration;

use common::temp_dir::TempDir;
use common::{BrokerProcess, TestClient, free_port, run_tool};
use comqtt::mqtt::Protocol;

/// `comqtt serve` on a free port with `args`; the log files `args` does not name are put in
/// `dir` (comqtt.log, co-info.log, co-err.log).
fn serve(dir: &TempDir, args: &[&str]) -> BrokerProcess {
    let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    for (flag, name) in [
        ("--log-file", "comqtt.log"),
        ("--info-file", "co-info.log"),
        ("--error-file", "co-err.log"),
    ] {
        if !args.contains(&flag) {
            all.extend([flag.to_string(), dir.path(name)]);
        }
    }
    BrokerProcess::start_custom(move |port| {
        let mut head: Vec<String> = [
            "serve",
            "--tcp",
            &format!("127.0.0.1:{port}"),
            "--ws",
            "",
            "--http",
            "",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        head.extend(all);
        head
    })
}

/// Connects and disconnects one client (a debug line each), then stops the broker cleanly.
async fn connect_once_and_stop(mut broker: BrokerProcess) -> BrokerProcess {
    TestClient::connect(&broker.addr(), Protocol::V5, "log-probe")
        .await
        .disconnect()
        .await;
    assert!(
        broker.terminate(),
        "clean exit; log:\n{}",
        broker.log_text()
    );
    broker
}

/// Every line of `text` as JSON.
fn json_lines(name: &str, text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{name}: not JSON ({e}): {l}")))
        .collect()
}

fn levels(lines: &[serde_json::Value]) -> Vec<&str> {
    lines
        .iter()
        .map(|l| l["level"].as_str().unwrap_or("?"))
        .collect()
}

fn messages(lines: &[serde_json::Value]) -> Vec<&str> {
    lines
        .iter()
        .map(|l| l["fields"]["message"].as_str().unwrap_or(""))
        .collect()
}

#[tokio::test]
async fn json_lines_go_to_each_file_by_level_and_to_the_console() {
    let dir = TempDir::new("json");
    let conf = dir.file("comqtt.yml", "log:\n  output: 2\n  format: 1\n");
    let broker = connect_once_and_stop(serve(&dir, &["--conf", &conf, "--level", "0"])).await;

    let all = json_lines("comqtt.log", &dir.read("comqtt.log"));
    let said = messages(&all);
    for expected in [
        "writing logs to files",
        "comqtt server started",
        "client connected",
        "comqtt server stopped",
    ] {
        assert!(
            said.contains(&expected),
            "comqtt.log lacks {expected:?}: {said:?}"
        );
    }
    let connected = all
        .iter()
        .find(|l| l["fields"]["message"] == "client connected")
        .unwrap();
    assert_eq!(
        (
            connected["level"].as_str(),
            connected["fields"]["client_id"].as_str()
        ),
        (Some("DEBUG"), Some("log-probe"))
    );

    let info = json_lines("co-info.log", &dir.read("co-info.log"));
    assert!(messages(&info).contains(&"comqtt server started"));
    assert!(
        levels(&info)
            .iter()
            .all(|l| ["INFO", "WARN", "ERROR"].contains(l)),
        "{:?}",
        levels(&info)
    );

    let errors = json_lines("co-err.log", &dir.read("co-err.log"));
    assert!(
        levels(&errors).iter().all(|l| *l == "ERROR"),
        "only errors: {:?}",
        levels(&errors)
    );

    let console = json_lines("stderr", &broker.log_text());
    assert!(
        messages(&console).contains(&"comqtt server started"),
        "output 2 writes the console too"
    );
}

#[tokio::test]
async fn file_output_alone_leaves_the_console_quiet() {
    let dir = TempDir::new("text");
    let broker = connect_once_and_stop(serve(
        &dir,
        &["--log-output", "1", "--info-file", "", "--error-file", ""],
    ))
    .await;
    let text = dir.read("comqtt.log");
    assert!(
        text.contains("INFO") && text.contains("comqtt server started"),
        "{text}"
    );
    assert!(
        !text.contains("client connected"),
        "--level 1 (info) by default: {text}"
    );
    assert!(!text.starts_with('{'), "format 0 is text: {text}");
    assert_eq!(dir.entries(), ["comqtt.log"], "\"\" leaves a file out");
    assert_eq!(broker.log_text(), "", "nothing on the console");
}

#[tokio::test]
async fn log_enable_false_writes_nothing() {
    let dir = TempDir::new("off");
    let conf = dir.file("comqtt.yml", "log:\n  output: 2\n");
    let broker =
        connect_once_and_stop(serve(&dir, &["--conf", &conf, "--log-enable", "false"])).await;
    assert_eq!(dir.entries(), ["comqtt.yml"], "no log file");
    assert_eq!(broker.log_text(), "", "nothing on the console");
}

#[tokio::test]
async fn console_output_by_default_creates_no_file() {
    let dir = TempDir::new("console");
    let broker = connect_once_and_stop(serve(&dir, &[])).await;
    assert!(dir.entries().is_empty(), "{:?}", dir.entries());
    let console = broker.log_text();
    assert!(console.contains("comqtt server started"), "{console}");
    assert!(
        console.contains("log files named but log.output is 0"),
        "naming files alone warns: {console}"
    );
}

/// Runs `comqtt ARGS` expecting it to fail at startup; returns its stderr.
fn startup_error(args: &[&str]) -> String {
    let out = run_tool(env!("CARGO_BIN_EXE_comqtt"), args, Duration::from_secs(10));
    assert!(!out.status.success(), "comqtt {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn bad_log_output_is_refused_naming_the_key_and_values() {
    let dir = TempDir::new("bad");
    let conf = dir.file("comqtt.yml", "log:\n  output: 7\n");
    let tcp = format!("127.0.0.1:{}", free_port());
    for args in [
        vec![
            "serve", "--conf", &conf, "--tcp", &tcp, "--ws", "", "--http", "",
        ],
        vec!["config", "check", &conf],
    ] {
        let err = startup_error(&args);
        assert!(
            err.contains("log.output: 7 is not allowed (0 console, 1 file, 2 both)"),
            "{err}"
        );
    }
    assert_eq!(dir.entries(), ["comqtt.yml"]);
}

#[test]
fn an_unopenable_log_file_stops_the_broker_naming_it() {
    let dir = TempDir::new("unopenable");
    dir.file("plain", "");
    let bad = Path::new(&dir.path("plain"))
        .join("co-err.log")
        .display()
        .to_string();
    let tcp = format!("127.0.0.1:{}", free_port());
    let err = startup_error(&[
        "serve",
        "--tcp",
        &tcp,
        "--ws",
        "",
        "--http",
        "",
        "--storage-way",
        "0",
        "--log-output",
        "1",
        "--log-file",
        "",
        "--info-file",
        "",
        "--error-file",
        &bad,
    ]);
    assert!(
        err.contains(&format!("cannot open log file {bad}: ")),
        "{err}"
    );
    assert_eq!(err.matches("os error").count(), 1, "the reason once: {err}");
}
