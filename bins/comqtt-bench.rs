//! `comqtt-bench`: an MQTT load tester that takes mqtt-stresser's command line
//! (`comqtt-bench -broker tcp://localhost:1883 -num-clients=500 -num-messages=100`) and prints
//! its report, plus latency percentiles. Everything but argument handling is in
//! `comqtt::bench`; `comqtt-bench --help` lists the differences from mqtt-stresser.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::CommandFactory;
use comqtt::bench::{self, BenchArgs, Console, Options, OptionsError, ProgressMode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() <= 1 {
        // mqtt-stresser: no flags at all prints the usage and fails.
        eprintln!("{}", BenchArgs::command().render_help());
        return ExitCode::from(1);
    }
    let options = match Options::parse_from(args) {
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 1 } else { 0 });
        }
        Ok(Err(OptionsError::EmptyBroker)) => {
            eprintln!("{}", OptionsError::EmptyBroker);
            return ExitCode::from(1);
        }
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
        Ok(Ok(options)) => options,
    };
    match run(options) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(options: Options) -> Result<u8> {
    bench::log::init(options.log_level);
    for flag in &options.ignored {
        eprintln!("comqtt-bench: -{flag} (Go pprof) is not supported; ignored");
    }
    // Every connection is a file descriptor: raise the soft limit to the hard one, as Go's
    // runtime does for mqtt-stresser.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(options.threads)
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    let terminal = std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
    let mode = ProgressMode::choose(options.no_progress, options.json, terminal);
    let console = Arc::new(Console::new(mode, Box::new(std::io::stdout())));
    let json = options.json;
    let report = runtime.block_on(bench::run(options, console))?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report.json()).context("encoding the JSON report")?
        );
    } else {
        print!("{}", report.text());
    }
    if let Some(problem) = report.problem() {
        eprintln!("comqtt-bench: {problem}");
    }
    Ok(report.exit_code())
}
