//! The command line of `comqtt-top`, and the checked [`Settings`] a run takes. Help text,
//! shell completions and the man page come from [`TopArgs`] (`comqtt generate-docs`).

use std::time::Duration;

use clap::Parser;

use super::error::TopError;
use super::poll::Targets;
use super::target::NodeAddr;
use crate::bench::GoDuration;

/// The shortest polling interval.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);
/// The longest polling interval.
pub const MAX_INTERVAL: Duration = Duration::from_secs(3600);

/// The long help's description.
const LONG_ABOUT: &str =
    "Live statistics of a comqtt broker node or a whole cluster, read from the nodes' HTTP API.

With one --http address, the cluster is discovered through GET /api/v1/cluster/nodes and every
listed node with an HTTP API is watched (--no-discover watches that node alone). With several
--http flags, exactly those nodes are watched. A node that does not answer is shown as
unreachable with its error and asked again every interval.

--once prints one plain-text snapshot and exits; --json prints it as JSON. Rates in a snapshot
are measured over one --interval (two polls). Exit status 1 when no node can be reached.";

/// The long help's epilogue: the keys of the TUI.
const KEYS: &str = "Keys:
  q, Esc, Ctrl-C       quit
  Tab, Right / Left    next / previous view (Overview, Clients, Subscriptions, Retained); 1-4 jump
  Up, Down, PgUp, PgDn move in the list (Home, End)
  s                    cycle the sort order of the view (on Overview: of the node table)
  /                    filter the view's rows (Enter keeps it, Esc clears it)
  p                    pause / resume polling
  + / -                poll less / more often
  ?                    help";

/// `comqtt-top [--http HOST:PORT]... [--interval 1s] [--token T] [--once] [--json]`.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "comqtt-top",
    version,
    about = "Terminal UI with live stats of a comqtt broker node or cluster",
    long_about = LONG_ABOUT,
    after_long_help = KEYS
)]
pub struct TopArgs {
    /// HTTP API of a node: HOST:PORT, :PORT or http://HOST:PORT. Once: the cluster is discovered from it; several times: exactly those nodes.
    #[arg(
        long = "http",
        value_name = "HOST:PORT",
        default_value = "127.0.0.1:8080"
    )]
    pub http: Vec<String>,
    /// Time between polls (100ms to 1h), e.g. 500ms, 1s, 5s; + and - change it in the TUI.
    #[arg(long, value_name = "DURATION", default_value = "1s")]
    pub interval: GoDuration,
    /// Bearer token sent with every request, for an API behind an authenticating proxy.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "COMQTT_HTTP_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// Watch only the --http node given, without asking it for the other nodes of its cluster.
    #[arg(long = "no-discover")]
    pub no_discover: bool,
    /// Print one plain-text snapshot (two polls one --interval apart, for the rates) and exit.
    #[arg(long)]
    pub once: bool,
    /// Print one snapshot as JSON and exit (implies --once).
    #[arg(long)]
    pub json: bool,
}

/// How the snapshot is printed when there is no TUI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// The interactive terminal UI.
    Tui,
    /// `--once`: plain text.
    Text,
    /// `--json`.
    Json,
}

/// A checked command line.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Which nodes to watch.
    pub targets: Targets,
    /// Time between polls.
    pub interval: Duration,
    /// Bearer token for every request.
    pub token: Option<String>,
    /// TUI, text or JSON.
    pub output: Output,
}

impl TopArgs {
    /// The settings these arguments give, or what is wrong with them.
    pub fn settings(&self) -> Result<Settings, TopError> {
        let mut addrs = Vec::new();
        for a in &self.http {
            let addr: NodeAddr = a.parse()?;
            if !addrs.contains(&addr) {
                addrs.push(addr);
            }
        }
        let targets = match (addrs.len(), self.no_discover) {
            (1, false) => Targets::Discover(addrs.remove(0)),
            _ => Targets::Fixed(addrs),
        };
        let interval = self.interval.to_std();
        if self.interval.is_zero_or_negative() || !(MIN_INTERVAL..=MAX_INTERVAL).contains(&interval)
        {
            return Err(TopError::BadInterval(self.interval.to_string()));
        }
        let output = if self.json {
            Output::Json
        } else if self.once {
            Output::Text
        } else {
            Output::Tui
        };
        Ok(Settings {
            targets,
            interval,
            token: self.token.clone().filter(|t| !t.is_empty()),
            output,
        })
    }
}

/// How long one request may take at a given interval: the interval, within 2 to 10 seconds.
pub fn request_timeout(interval: Duration) -> Duration {
    interval.clamp(Duration::from_secs(2), Duration::from_secs(10))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Settings, TopError> {
        TopArgs::try_parse_from(std::iter::once("comqtt-top").chain(args.iter().copied()))
            .unwrap()
            .settings()
    }

    #[test]
    fn one_address_discovers_several_are_fixed() {
        let s = parse(&[]).unwrap();
        assert_eq!(
            s.targets,
            Targets::Discover("127.0.0.1:8080".parse().unwrap())
        );
        assert_eq!(s.interval, Duration::from_secs(1));
        assert_eq!(s.output, Output::Tui);
        let s = parse(&["--http", "a:1", "--http", "b:2", "--interval", "250ms"]).unwrap();
        assert!(matches!(s.targets, Targets::Fixed(ref v) if v.len() == 2));
        assert_eq!(s.interval, Duration::from_millis(250));
        let s = parse(&["--http", "a:1", "--no-discover", "--json"]).unwrap();
        assert!(matches!(s.targets, Targets::Fixed(ref v) if v.len() == 1));
        assert_eq!(s.output, Output::Json);
    }

    #[test]
    fn bad_values_are_named() {
        let e = parse(&["--http", "nowhere"]).unwrap_err().to_string();
        assert!(e.contains("\"nowhere\"") && e.contains("port"), "{e}");
        let e = parse(&["--interval", "10ms"]).unwrap_err().to_string();
        assert!(e.contains("--interval 10ms"), "{e}");
        let e = parse(&["--interval", "0"]).unwrap_err().to_string();
        assert!(e.contains("out of range"), "{e}");
    }

    #[test]
    fn request_timeouts_follow_the_interval_within_bounds() {
        assert_eq!(
            request_timeout(Duration::from_millis(100)),
            Duration::from_secs(2)
        );
        assert_eq!(
            request_timeout(Duration::from_secs(5)),
            Duration::from_secs(5)
        );
        assert_eq!(
            request_timeout(Duration::from_secs(60)),
            Duration::from_secs(10)
        );
    }
}
