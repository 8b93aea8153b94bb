//! `comqtt`: the broker node. `comqtt serve [FLAGS]`, or `comqtt [FLAGS]` as the original
//! Go binary was run. Flags keep the original's names; Go's single-dash spelling works too.

use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use comqtt::broker::{Broker, Capabilities};
use comqtt::listener::{self, tls, Transport};
use comqtt::shutdown::ShutdownSignal;

#[derive(Parser, Debug)]
#[command(name = "comqtt", version, about = "A clustered MQTT 3.1 / 3.1.1 / 5.0 broker", args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Flags of `serve`, accepted without the subcommand as the original binary took them.
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a broker node.
    Serve(ServeArgs),
}

#[derive(Args, Debug, Clone)]
struct ServeArgs {
    /// Network address of the MQTT TCP listener.
    #[arg(long, value_name = "ADDR", default_value = ":1883")]
    tcp: String,
    /// Network address of the MQTT WebSocket listener (subprotocol `mqtt`); empty turns it off.
    #[arg(long, value_name = "ADDR", default_value = ":1882")]
    ws: String,
    /// Server certificate chain (PEM): the TCP and WebSocket listeners then speak TLS / WSS.
    #[arg(long = "tls-cert", value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// Private key of the server certificate (PEM).
    #[arg(long = "tls-key", value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// CA certificates (PEM) client certificates must chain to: turns on mutual TLS.
    #[arg(long = "tls-ca", value_name = "FILE", requires = "tls_cert")]
    tls_ca: Option<std::path::PathBuf>,
    /// Storage: 0 memory. (1 embedded, 2 alias of 1, 3 redis arrive with persistence.)
    #[arg(long = "storage-way", value_name = "N", default_value_t = 0)]
    storage_way: u8,
    /// Logging on or off.
    #[arg(long = "log-enable", value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    log_enable: bool,
    /// Log level: 0 debug, 1 info, 2 warn, 3 error, 4 fatal, 5 panic, 6 no level, 7 off.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=7))]
    level: u8,
    /// Environment: 0 development (readable console logs), 1 production (JSON logs).
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=1))]
    env: u8,
}

fn main() -> Result<()> {
    let cli = Cli::parse_from(comqtt::cli::go_style_args(std::env::args()));
    let args = match cli.command {
        Some(Command::Serve(args)) => args,
        None => cli.serve,
    };
    init_logging(&args);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    runtime.block_on(serve(args))
}

fn init_logging(args: &ServeArgs) {
    let level = match args.level {
        0 => "debug",
        1 => "info",
        2 => "warn",
        3..=6 => "error",
        _ => "off",
    };
    if !args.log_enable || level == "off" {
        return;
    }
    let filter = tracing_subscriber::EnvFilter::try_from_env("COMQTT_LOG").unwrap_or_else(|_| {
        // Library chatter (rustls warns about IP addresses sent as SNI) only at debug level.
        let quiet = if level == "debug" { "" } else { ",rustls=error,tungstenite=error" };
        tracing_subscriber::EnvFilter::new(format!("{level}{quiet}"))
    });
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    if args.env == 1 {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn serve(args: ServeArgs) -> Result<()> {
    if args.storage_way != 0 {
        bail!("--storage-way {} is not available yet: this build keeps sessions and retained messages in memory (--storage-way 0)", args.storage_way);
    }
    let broker = Broker::new(Capabilities::default());
    let signal = ShutdownSignal::new();
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            let files = tls::TlsFiles { cert: cert.clone(), key: key.clone(), ca: args.tls_ca.clone() };
            Some(tls::acceptor(&files).context("setting up TLS (--tls-cert, --tls-key, --tls-ca)")?)
        }
        _ => None,
    };
    let mut tasks = Vec::new();
    for (flag, addr, websocket) in [("--tcp", &args.tcp, false), ("--ws", &args.ws, true)] {
        if addr.is_empty() {
            continue;
        }
        let transport = Transport { tls: tls.clone(), websocket };
        let listener = listener::bind(addr)
            .await
            .with_context(|| format!("listening for MQTT on {} ({flag})", listener::normalize(addr)))?;
        tracing::info!(address = %listener.local_addr()?, protocol = transport.name(), "attached listener");
        tasks.push(tokio::spawn(listener::run(listener, transport, Arc::clone(&broker), signal.subscribe())));
    }
    tasks.push(tokio::spawn(broker.clone().run_housekeeping(signal.subscribe())));
    tracing::info!("comqtt server started");

    wait_for_signal().await?;
    tracing::info!("shutting down");
    signal.fire();
    for task in tasks {
        let _ = task.await;
    }
    // Give connections a moment to send DISCONNECT 0x8B and flush.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(3);
    while broker.stats.clients_connected.load(std::sync::atomic::Ordering::Relaxed) > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tracing::info!("comqtt server stopped");
    Ok(())
}

async fn wait_for_signal() -> Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).context("installing the SIGTERM handler")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("waiting for SIGINT")?,
        _ = term.recv() => {}
    }
    Ok(())
}
