//! `comqttctl`: cluster control over gRPC (members, raft, join, leave, inspect). The command
//! line and the work are in `comqtt::ctl`; this parses, runs and prints.

use clap::Parser;
use comqtt::ctl::{CtlArgs, run};

fn main() -> std::process::ExitCode {
    let args = CtlArgs::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("comqttctl: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(out) => {
            print!("{out}");
            if args.json {
                println!();
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("comqttctl: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
