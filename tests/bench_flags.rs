//! comqtt-bench takes mqtt-stresser's command line: Go-style flags (`-flag value`,
//! `-flag=value`, `--flag`), the same names and defaults, Go durations, and errors that name
//! the flag at fault.

use std::process::Command;
use std::time::Duration;

use comqtt::bench::payload::PayloadKind;
use comqtt::bench::{GoDuration, Options, OptionsError, Scenario};
use comqtt::mqtt::{Protocol, QoS};

fn parse(args: &[&str]) -> Result<Result<Options, OptionsError>, clap::Error> {
    Options::parse_from(
        std::iter::once("comqtt-bench")
            .chain(args.iter().copied())
            .map(String::from),
    )
}

fn options(args: &[&str]) -> Options {
    parse(args).expect("flags parse").expect("flags are valid")
}

fn flag_error(args: &[&str]) -> String {
    match parse(args) {
        Err(e) => e.to_string(),
        Ok(Err(e)) => e.to_string(),
        Ok(Ok(_)) => panic!("{args:?} should be rejected"),
    }
}

#[test]
fn the_mqtt_stresser_command_line_works_verbatim() {
    let o = options(&[
        "-broker",
        "tcp://localhost:1883",
        "-num-clients=500",
        "-num-messages=100",
    ]);
    assert_eq!(o.brokers.len(), 1);
    assert_eq!(
        (o.brokers[0].host.as_str(), o.brokers[0].port),
        ("localhost", 1883)
    );
    assert_eq!((o.clients, o.messages), (500, 100));
}

#[test]
fn defaults_are_mqtt_stressers() {
    let o = options(&["-broker", "tcp://h:1"]);
    assert_eq!((o.clients, o.messages), (10, 10));
    assert_eq!(o.timeout, Duration::from_secs(5));
    assert_eq!(o.global_timeout, GoDuration::parse("60s").unwrap());
    assert_eq!(
        (o.rampup_size, o.rampup_delay.to_string().as_str()),
        (100, "500ms")
    );
    assert_eq!(o.pause, Duration::ZERO);
    assert_eq!(o.topic_base, "internal/mqtt-stresser");
    assert_eq!(
        (o.publisher_qos, o.subscriber_qos),
        (QoS::AtMostOnce, QoS::AtMostOnce)
    );
    assert_eq!(
        (o.retain, o.no_progress, o.tls.skip_verification),
        (false, false, false)
    );
    assert_eq!((o.username.as_deref(), o.password.as_deref()), (None, None));
    assert_eq!(o.payload, PayloadKind::Counted);
    assert_eq!(
        (o.protocol, o.scenario, o.log_level),
        (Protocol::V3_1_1, Scenario::P2p, 0)
    );
}

#[test]
fn every_spelling_of_a_flag_is_accepted() {
    for args in [
        ["-num-clients", "7"],
        ["--num-clients", "7"],
        ["-num-clients=7", "-retain=false"],
        ["--num-clients=7", "--retain=0"],
    ] {
        let mut all = vec!["-broker", "tcp://h:1"];
        all.extend(args);
        assert_eq!(options(&all).clients, 7, "{args:?}");
    }
}

#[test]
fn boolean_flags_go_style() {
    assert!(options(&["-broker", "tcp://h:1", "-no-progress"]).no_progress);
    assert!(options(&["-broker", "tcp://h:1", "--no-progress"]).no_progress);
    assert!(options(&["-broker", "tcp://h:1", "-no-progress=true"]).no_progress);
    assert!(!options(&["-broker", "tcp://h:1", "-no-progress=false"]).no_progress);
    assert!(options(&["-broker", "tcp://h:1", "-retain=T"]).retain);
    assert!(
        options(&[
            "-broker",
            "tcp://h:1",
            "-skip-tls-verification",
            "-num-clients",
            "2"
        ])
        .tls
        .skip_verification
    );
    assert!(options(&["-broker", "tcp://h:1", "-json"]).json);
}

#[test]
fn durations_use_go_syntax() {
    let o = options(&[
        "-broker",
        "tcp://h:1",
        "-timeout",
        "1m30s",
        "-global-timeout=2h",
        "-rampup-delay",
        "250ms",
        "-pause-between-messages=1.5s",
        "-duration",
        "10s",
    ]);
    assert_eq!(o.timeout, Duration::from_secs(90));
    assert_eq!(o.global_timeout.to_std(), Duration::from_secs(7200));
    assert_eq!(o.rampup_delay.to_std(), Duration::from_millis(250));
    assert_eq!(o.pause, Duration::from_millis(1500));
    assert_eq!(o.duration, Some(Duration::from_secs(10)));
    assert_eq!(GoDuration::parse("1m30s").unwrap().to_string(), "1m30s");
}

#[test]
fn bad_values_name_their_flag() {
    let cases: [(&[&str], &str); 10] = [
        (
            &["-broker", "tcp://h:1", "-num-clients", "many"],
            "--num-clients",
        ),
        (
            &["-broker", "tcp://h:1", "-num-messages=-3"],
            "--num-messages",
        ),
        (&["-broker", "tcp://h:1", "-timeout", "5"], "--timeout"),
        (
            &["-broker", "tcp://h:1", "-global-timeout=soon"],
            "--global-timeout",
        ),
        (
            &["-broker", "tcp://h:1", "-rampup-delay", "1x"],
            "--rampup-delay",
        ),
        (
            &["-broker", "tcp://h:1", "-publisher-qos", "3"],
            "--publisher-qos",
        ),
        (
            &["-broker", "tcp://h:1", "-subscriber-qos=-1"],
            "--subscriber-qos",
        ),
        (
            &["-broker", "tcp://h:1", "-no-progress=maybe"],
            "--no-progress",
        ),
        (&["-broker", "tcp://h:1", "-log-level", "4"], "--log-level"),
        (&["-broker", "http://h:1"], "--broker"),
    ];
    for (args, flag) in cases {
        let message = flag_error(args);
        assert!(
            message.contains(flag),
            "{args:?}: {message:?} does not name {flag}"
        );
    }
    assert!(flag_error(&["-broker", "tcp://h:1", "-protocol", "6"]).contains("--protocol"));
    assert!(flag_error(&["-broker", "tcp://h:1", "-scenario", "mesh"]).contains("--scenario"));
    assert!(
        flag_error(&[
            "-broker",
            "tcp://h:1",
            "-constant-payload",
            "@/no/such/file"
        ])
        .contains("--constant-payload")
    );
    assert!(
        flag_error(&["-broker", "tcp://h:1", "-cafile", "/no/such/ca.pem"]).contains("--cafile")
    );
    assert!(
        flag_error(&[
            "-broker",
            "tcp://h:1",
            "-source-addresses",
            "127.0.0.9-127.0.0.1"
        ])
        .contains("--source-addresses")
    );
    assert!(
        flag_error(&["-broker", "tcp://h:1", "-key", "Cargo.toml"]).contains("no certificate file")
    );
}

#[test]
fn empty_broker_is_mqtt_stressers_message() {
    assert_eq!(
        flag_error(&["-num-clients", "5"]),
        "'--broker' is empty. Abort."
    );
    assert_eq!(flag_error(&["-broker="]), "'--broker' is empty. Abort.");
}

#[test]
fn extras_parse() {
    let dir = std::env::temp_dir().join(format!("bench-flags-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let payload = dir.join("payload.bin");
    std::fs::write(&payload, b"{\"t\":1}").unwrap();
    let at = format!("@{}", payload.display());
    let o = options(&[
        "-broker",
        "tcp://a:1,ws://b:2/mqtt",
        "-constant-payload",
        &at,
        "-protocol",
        "5",
        "-scenario",
        "fanout",
        "-rate",
        "250",
        "-source-addresses",
        "127.0.0.1-127.0.0.3",
        "-max-inflight",
        "1",
        "-rampup-size",
        "-1",
        "-topic-base-path",
        "bench/x",
    ]);
    assert_eq!(o.brokers.len(), 2);
    assert_eq!(o.brokers[1].path, "/mqtt");
    assert_eq!(
        o.payload,
        PayloadKind::Constant(bytes::Bytes::from_static(b"{\"t\":1}"))
    );
    assert_eq!(
        (o.protocol, o.scenario, o.rate, o.max_inflight),
        (Protocol::V5, Scenario::Fanout, Some(250.0), 1)
    );
    assert_eq!(o.source_addresses.as_ref().map(Vec::len), Some(3));
    assert_eq!((o.rampup_size, o.topic_base.as_str()), (100, "bench/x"));
    assert_eq!(
        options(&["-broker", "tcp://h:1", "-constant-payload", "hi"]).payload,
        PayloadKind::Constant(bytes::Bytes::from_static(b"hi"))
    );
    assert_eq!(
        options(&["-broker", "tcp://h:1", "-payload-size", "64"]).payload,
        PayloadKind::Sized(64)
    );
    let _ = std::fs::remove_dir_all(dir);
}

fn bench(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_comqtt-bench"))
        .args(args)
        .output()
        .expect("running comqtt-bench")
}

#[test]
fn binary_exit_codes_for_usage() {
    let none = bench(&[]);
    assert_eq!(
        none.status.code(),
        Some(1),
        "no flags at all: usage and exit 1"
    );
    assert!(String::from_utf8_lossy(&none.stderr).contains("--num-clients"));

    let help = bench(&["-help"]);
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        text.contains("Differences from mqtt-stresser"),
        "long help lists the differences"
    );
    assert!(text.contains("Messages / Client:"));

    let empty = bench(&["-num-clients", "3"]);
    assert_eq!(empty.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&empty.stderr).trim(),
        "'--broker' is empty. Abort."
    );

    let bad = bench(&["-broker", "tcp://127.0.0.1:1", "-timeout", "5"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--timeout"));
}
