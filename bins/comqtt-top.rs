//! `comqtt-top`: a terminal UI with live statistics of a comqtt node or cluster
//! (`comqtt-top --http 127.0.0.1:8080`), or one snapshot as text (`--once`) or JSON
//! (`--json`). Everything but argument handling is in `comqtt::top`.

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;
use comqtt::top::{self, TopArgs, options::Output};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("comqtt-top: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let args = TopArgs::parse();
    let settings = args.settings()?;
    match settings.output {
        Output::Tui => Ok(top::interactive(&settings)?),
        Output::Text => {
            print!("{}", top::text::plain(&top::once(&settings)?));
            Ok(())
        }
        Output::Json => {
            println!("{}", top::text::json(&top::once(&settings)?));
            Ok(())
        }
    }
}
