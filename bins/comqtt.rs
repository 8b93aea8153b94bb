//! `comqtt`: the broker node. `comqtt serve [FLAGS]`, or `comqtt [FLAGS]` as the original
//! Go binary was run. Flags keep the original's names; Go's single-dash spelling works too.
//! Settings come from built-in defaults, then `--conf FILE`, then the flags given.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use comqtt::bridge::{KafkaBridge, KafkaBridgeConfig};
use comqtt::broker::Broker;
use comqtt::cluster::{ClusterNode, ClusterSettings};
use comqtt::config::Config;
use comqtt::http;
use comqtt::listener::{self, Transport, tls};
use comqtt::shutdown::ShutdownSignal;

/// How long the exit waits for the Kafka bridge's queued events to be delivered.
const BRIDGE_FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Parser, Debug)]
#[command(
    name = "comqtt",
    version,
    about = "A clustered MQTT 3.1 / 3.1.1 / 5.0 broker",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Flags of `serve`, accepted without the subcommand as the original binary took them.
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand, Debug)]
#[allow(clippy::large_enum_variant)] // parsed once at startup
enum Command {
    /// Run a broker node.
    Serve(ServeArgs),
    /// Validate or print configuration files.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage the web dashboard's users file.
    #[command(subcommand)]
    Dashboard(DashboardCommand),
    /// Write shell completions and the man page under DIR (used by scripts/gen-docs).
    #[command(hide = true)]
    GenerateDocs {
        /// Directory that receives completions/ and man/.
        dir: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Check a YAML config file (the main one, with the bridge file it names, or a Kafka bridge file): exit 0 if it is valid, else print what is wrong.
    Check {
        /// The file.
        file: PathBuf,
    },
    /// Print the full default configuration as YAML.
    Default,
}

#[derive(Subcommand, Debug)]
enum DashboardCommand {
    /// Add a user to the dashboard's users file (bcrypt hash); the password is read from the first line of standard input, or COMQTT_DASHBOARD_PASSWORD.
    AddUser {
        /// The user name.
        username: String,
        /// admin (may act: kick, ban, delete, publish) or viewer (looks only).
        #[arg(long, default_value = "admin", value_parser = ["admin", "viewer"])]
        role: String,
        /// The users file (dashboard.users-file).
        #[arg(
            long = "users-file",
            value_name = "FILE",
            default_value = "./config/dashboard-users.json"
        )]
        users_file: PathBuf,
    },
}

#[derive(Args, Debug, Clone, Default)]
struct ServeArgs {
    /// YAML config file (the original's schema); flags given as well override its values.
    #[arg(long, value_name = "FILE")]
    conf: Option<PathBuf>,
    /// Network address of the MQTT TCP listener [default: :1883].
    #[arg(long, value_name = "ADDR")]
    tcp: Option<String>,
    /// Network address of the MQTT WebSocket listener (subprotocol `mqtt`); empty turns it off [default: :1882].
    #[arg(long, value_name = "ADDR")]
    ws: Option<String>,
    /// Network address of the HTTP API (stats, clients, retained, blacklist, publish, /metrics, /healthz, /readyz); empty turns it off [default: :8080].
    #[arg(long, value_name = "ADDR")]
    http: Option<String>,
    /// Connections the kernel queues per listener before they are accepted, capped by net.core.somaxconn (mqtt.options.listen-backlog) [default: 1024].
    #[arg(long = "listen-backlog", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    listen_backlog: Option<u32>,
    /// Bearer token the HTTP API's mutating requests (POST, DELETE) must carry; without one they are refused (403).
    #[arg(
        long = "http-token",
        value_name = "TOKEN",
        env = "COMQTT_HTTP_TOKEN",
        hide_env_values = true
    )]
    http_token: Option<String>,
    /// MQTT over QUIC on this UDP address (e.g. :2000; TLS 1.3, ALPN mqtt, the --tls-* certificate
    /// or a self-signed one) [YAML: mqtt.quic].
    #[arg(long, value_name = "ADDR")]
    quic: Option<String>,
    /// Threads that serve clients; 0 = one per CPU core. 1 costs less CPU per message and
    /// lowers latency at modest loads, more use more cores (see README, Benchmarks) [YAML: worker-threads].
    #[arg(long = "worker-threads", value_name = "N")]
    worker_threads: Option<usize>,
    /// Serve CPU profiles and the allocator's summary on the HTTP API's port
    /// (/debug/pprof/profile, /debug/pprof/heap; the token is needed) [YAML: pprof-enable].
    #[arg(long = "pprof-enable")]
    pprof_enable: bool,
    /// Server certificate chain (PEM): the TCP and WebSocket listeners then speak TLS / WSS.
    #[arg(long = "tls-cert", value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<String>,
    /// Private key of the server certificate (PEM).
    #[arg(long = "tls-key", value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<String>,
    /// CA certificates (PEM) client certificates must chain to: turns on mutual TLS.
    #[arg(long = "tls-ca", value_name = "FILE", requires = "tls_cert")]
    tls_ca: Option<String>,
    /// Storage: 0 memory, 1 embedded redb file, 2 alias of 1 [default: 1].
    #[arg(long = "storage-way", value_name = "N")]
    storage_way: Option<u8>,
    /// Redis address for --storage-way 3 [default: 127.0.0.1:6379].
    #[arg(long, value_name = "ADDR")]
    redis: Option<String>,
    /// Redis database number [default: 0].
    #[arg(long = "redis-db", value_name = "N")]
    redis_db: Option<i64>,
    /// Redis password.
    #[arg(
        long = "redis-pass",
        value_name = "PASSWORD",
        env = "COMQTT_REDIS_PASS",
        hide_env_values = true
    )]
    redis_pass: Option<String>,
    /// File of the embedded store [default: ./data/comqtt.redb].
    #[arg(long = "storage-path", value_name = "FILE")]
    storage_path: Option<String>,
    /// Acknowledge persistent-session messages only once on disk (true) or commit every 200 ms (false) [default: true].
    #[arg(long = "storage-sync", value_name = "BOOL", action = clap::ArgAction::Set)]
    storage_sync: Option<bool>,
    /// Authentication: 0 anonymous, 1 username and password, 2 client id (auth.way) [default: 0].
    #[arg(long = "auth-way", value_name = "N", value_parser = clap::value_parser!(u8).range(0..=2))]
    auth_way: Option<u8>,
    /// Auth datasource: 0 file (rule file), 1 redis, 2 mysql, 3 postgresql, 4 http (auth.datasource) [default: 0].
    #[arg(long = "auth-ds", value_name = "N", value_parser = clap::value_parser!(u8).range(0..=4))]
    auth_ds: Option<u8>,
    /// The datasource's YAML file: auth-redis.yml, auth-mysql.yml, auth-postgresql.yml, auth-http.yml or a rule file (auth.conf-path).
    #[arg(long = "auth-path", value_name = "FILE")]
    auth_path: Option<String>,
    /// Blacklist rule file checked before the datasource (auth.blacklist-path).
    #[arg(long = "auth-blacklist", value_name = "FILE")]
    auth_blacklist: Option<String>,
    /// Bridge of client events: 0 none, 1 Kafka (needs --bridge-path) [default: 0].
    #[arg(long = "bridge-way", value_name = "N")]
    bridge_way: Option<u8>,
    /// The Kafka bridge's YAML file (the original's bridge-kafka.yml schema).
    #[arg(long = "bridge-path", value_name = "FILE")]
    bridge_path: Option<String>,
    /// Cluster: this node's unique name; setting it turns cluster mode on (cluster.node-name).
    #[arg(long = "node-name", value_name = "NAME")]
    node_name: Option<String>,
    /// Cluster: the IP gossip, raft and gRPC bind to, usually the private address (cluster.bind-addr) [default: 127.0.0.1].
    #[arg(long = "bind-ip", value_name = "IP")]
    bind_ip: Option<String>,
    /// Cluster: gossip port, UDP (cluster.bind-port) [default: 7946].
    #[arg(long = "gossip-port", value_name = "PORT")]
    gossip_port: Option<u16>,
    /// Cluster: raft port, TCP (cluster.raft-port) [default: gossip port + 1000].
    #[arg(long = "raft-port", value_name = "PORT")]
    raft_port: Option<u16>,
    /// Cluster: true on the first node, which starts the raft cluster when it has no raft state (cluster.raft-bootstrap) [default: false].
    #[arg(long = "raft-bootstrap", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    raft_bootstrap: Option<bool>,
    /// Cluster: where the raft log is kept (cluster.raft-dir) [default: data/<node-name>].
    #[arg(long = "raft-dir", value_name = "DIR")]
    raft_dir: Option<String>,
    /// Cluster: level of raft's own log lines: debug, info, warn, error (cluster.raft-log-level) [default: error].
    #[arg(long = "raft-log-level", value_name = "LEVEL")]
    raft_log_level: Option<String>,
    /// Cluster: seed gossip addresses of nodes already in the cluster, comma-separated (cluster.members).
    #[arg(long, value_name = "HOST:PORT,...", value_delimiter = ',')]
    members: Option<Vec<String>>,
    /// Cluster: accepted for the original's command lines; messages between nodes always use gRPC (cluster.grpc-enable).
    #[arg(long = "grpc-enable", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    grpc_enable: Option<bool>,
    /// Cluster: gRPC port between nodes and for comqttctl (cluster.grpc-port) [default: gossip port + 10000].
    #[arg(long = "grpc-port", value_name = "PORT")]
    grpc_port: Option<u16>,
    /// Cluster: the secret every node and comqttctl must present (cluster.secret); without one the raft and gRPC ports are open to anyone who reaches them.
    #[arg(
        long = "cluster-secret",
        value_name = "SECRET",
        env = "COMQTT_CLUSTER_SECRET",
        hide_env_values = true
    )]
    cluster_secret: Option<String>,
    /// Cluster: this node's TLS certificate (PEM) for the raft and gRPC ports, also shown to other nodes as a client (cluster.tls.cert-file); with --cluster-tls-key and --cluster-tls-ca, nodes speak only mutual TLS.
    #[arg(long = "cluster-tls-cert", value_name = "FILE")]
    cluster_tls_cert: Option<String>,
    /// Cluster: the private key of --cluster-tls-cert (cluster.tls.key-file).
    #[arg(long = "cluster-tls-key", value_name = "FILE")]
    cluster_tls_key: Option<String>,
    /// Cluster: the CA every node's certificate is signed by (cluster.tls.ca-file).
    #[arg(long = "cluster-tls-ca", value_name = "FILE")]
    cluster_tls_ca: Option<String>,
    /// Cluster: directory of <node-name>-nodes.json, the last known members used as seeds at the next start (cluster.nodes-file-dir).
    #[arg(long = "nodes-file-dir", value_name = "DIR")]
    nodes_file_dir: Option<String>,
    /// Logging on or off [default: true].
    #[arg(long = "log-enable", value_name = "BOOL", action = clap::ArgAction::Set)]
    log_enable: Option<bool>,
    /// Log level: 0 debug, 1 info, 2 warn, 3 error, 4 fatal, 5 panic, 6 no level, 7 off [default: 1].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(0..=7))]
    level: Option<u8>,
    /// Environment: 0 development (readable console logs), 1 production (JSON logs) [default: 0].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(0..=1))]
    env: Option<u8>,
    /// Where logs go: 0 console (stderr), 1 files, 2 both (log.output) [default: 0].
    #[arg(long = "log-output", value_name = "N", value_parser = clap::value_parser!(u8).range(0..=2))]
    log_output: Option<u8>,
    /// Log file of every line, rotated by size (log.filename); "" writes none [default: ./logs/comqtt.log].
    #[arg(long = "log-file", value_name = "FILE")]
    log_file: Option<String>,
    /// Log file of info and above (log.info-file); "" writes none [default: ./logs/co-info.log].
    #[arg(long = "info-file", value_name = "FILE")]
    info_file: Option<String>,
    /// Log file of errors (log.error-file); "" writes none [default: ./logs/co-err.log].
    #[arg(long = "error-file", value_name = "FILE")]
    error_file: Option<String>,
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // A message, not a backtrace: most errors here are the user's to fix.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let cli = Cli::parse_from(comqtt::cli::go_style_args(std::env::args()));
    let args = match cli.command {
        Some(Command::Serve(args)) => args,
        Some(Command::Config(ConfigCommand::Default)) => {
            print!("{}", Config::default_yaml());
            return Ok(());
        }
        Some(Command::GenerateDocs { dir }) => {
            use clap::CommandFactory;
            // Every binary's command line, from its one clap definition.
            comqtt::cli::generate_docs(Cli::command(), &dir)
                .with_context(|| format!("writing docs under {}", dir.display()))?;
            comqtt::cli::generate_docs(comqtt::ctl::CtlArgs::command(), &dir)
                .with_context(|| format!("writing docs under {}", dir.display()))?;
            comqtt::cli::generate_docs(comqtt::bench::options::BenchArgs::command(), &dir)
                .with_context(|| format!("writing docs under {}", dir.display()))?;
            return comqtt::cli::generate_docs(comqtt::top::TopArgs::command(), &dir)
                .with_context(|| format!("writing docs under {}", dir.display()));
        }
        Some(Command::Dashboard(DashboardCommand::AddUser {
            username,
            role,
            users_file,
        })) => {
            let password = match std::env::var("COMQTT_DASHBOARD_PASSWORD") {
                Ok(p) => p,
                Err(_) => {
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .context("reading the password from standard input")?;
                    line.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            let users = comqtt::http::dashboard::users::Users::load(&users_file)?;
            users.add(
                &username,
                &password,
                comqtt::http::dashboard::users::Role::of(&role),
            )?;
            println!("{}: added {username} ({role})", users_file.display());
            return Ok(());
        }
        Some(Command::Config(ConfigCommand::Check { file })) => {
            if KafkaBridgeConfig::is_bridge_file(&file) {
                KafkaBridgeConfig::load(&file)?;
                println!("{}: valid (Kafka bridge file)", file.display());
                return Ok(());
            }
            if let Some(code) = comqtt::auth::datasource::SourceConfig::detect(&file) {
                comqtt::auth::datasource::SourceConfig::load(code, &file, 1)?;
                let kind = comqtt::auth::datasource::datasource_name(code);
                println!("{}: valid (auth datasource file: {kind})", file.display());
                return Ok(());
            }
            let config = Config::load(&file)?;
            comqtt::auth::Authenticator::check(&config.auth)
                .with_context(|| format!("{}: auth files", file.display()))?;
            let bridge = bridge_file(&config)?;
            println!("{}: valid", file.display());
            if bridge.is_some() {
                println!("{}: valid", config.bridge_path);
            }
            return Ok(());
        }
        None => cli.serve,
    };
    let config = settings(&args)?;
    let bridge = bridge_file(&config)?;
    // Held until exit: dropping it writes out the queued log lines.
    let logging = Arc::new(
        comqtt::logging::init(&config.log)
            .context("setting up logging (log: block, --log-file, --info-file, --error-file)")?,
    );
    if !logging.files().is_empty() {
        let files: Vec<String> = logging
            .files()
            .iter()
            .map(|f| f.display().to_string())
            .collect();
        tracing::info!(files = %files.join(", "), "writing logs to files");
    } else if config.log.enable
        && config.log.output == 0
        && (args.log_file.is_some() || args.info_file.is_some() || args.error_file.is_some())
    {
        tracing::warn!(
            "log files named but log.output is 0 (console): no file is written; add --log-output 1 or 2"
        );
    }
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }
    // Each client is a file descriptor: raise the soft limit to the hard one, as Go does.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => tracing::debug!(limit = n, "open file limit"),
        Err(e) => tracing::warn!(error = %e, "could not raise the open file limit"),
    }
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if config.worker_threads > 0 {
        builder.worker_threads(config.worker_threads);
    }
    let runtime = builder
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    // A reload reads the file again and lays the same flags over it.
    let source: comqtt::reload::ConfigSource = {
        let args = args.clone();
        Box::new(move || settings(&args).map_err(|e| format!("{e:#}")))
    };
    let served = runtime.block_on(serve(config, bridge, logging.clone(), source));
    drop(runtime);
    logging.finish();
    served
}

/// The Kafka bridge's file, read and checked, when `bridge-way` is 1.
fn bridge_file(config: &Config) -> Result<Option<KafkaBridgeConfig>> {
    if config.bridge_way != 1 {
        return Ok(None);
    }
    let path = std::path::Path::new(&config.bridge_path);
    let file = KafkaBridgeConfig::load(path)
        .context("the Kafka bridge's file (bridge-path / --bridge-path)")?;
    Ok(Some(file))
}

/// Defaults, then the file, then the flags given.
fn settings(args: &ServeArgs) -> Result<Config> {
    let mut config = match &args.conf {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    if args.pprof_enable {
        config.pprof_enable = true;
    }
    if let Some(n) = args.worker_threads {
        config.worker_threads = n;
    }
    let mqtt = &mut config.mqtt;
    if let Some(v) = &args.tcp {
        mqtt.tcp = v.clone();
    }
    if let Some(v) = &args.ws {
        mqtt.ws = v.clone();
    }
    if let Some(v) = &args.quic {
        mqtt.quic = v.clone();
    }
    if let Some(v) = &args.http {
        mqtt.http = v.clone();
    }
    if let Some(v) = args.listen_backlog {
        mqtt.options.listen_backlog = v;
    }
    if let Some(v) = &args.http_token {
        mqtt.http_token = v.clone();
    }
    if let Some(v) = &args.tls_cert {
        mqtt.tls.server_cert = v.clone();
    }
    if let Some(v) = &args.tls_key {
        mqtt.tls.server_key = v.clone();
    }
    if let Some(v) = &args.tls_ca {
        mqtt.tls.ca_cert = v.clone();
    }
    if let Some(v) = args.storage_way {
        config.storage_way = Some(v);
    }
    if let Some(v) = &args.storage_path {
        config.storage_path = v.clone();
    }
    if let Some(v) = args.bridge_way {
        config.bridge_way = v;
    }
    if let Some(v) = &args.bridge_path {
        config.bridge_path = v.clone();
    }
    if let Some(v) = args.storage_sync {
        config.storage_sync = v;
    }
    if let Some(v) = &args.redis {
        config.redis.options.addr = v.clone();
    }
    if let Some(v) = args.redis_db {
        config.redis.options.db = v;
    }
    if let Some(v) = &args.redis_pass {
        config.redis.options.password = v.clone();
    }
    if let Some(v) = args.auth_way {
        config.auth.way = v;
    }
    if let Some(v) = args.auth_ds {
        config.auth.datasource = v;
    }
    if let Some(v) = &args.auth_path {
        config.auth.conf_path = v.clone();
    }
    if let Some(v) = &args.auth_blacklist {
        config.auth.blacklist_path = v.clone();
    }
    let cluster = &mut config.cluster;
    if let Some(v) = &args.node_name {
        cluster.node_name = v.clone();
    }
    if let Some(v) = &args.bind_ip {
        cluster.bind_addr = v.clone();
    }
    if let Some(v) = args.gossip_port {
        cluster.bind_port = v;
    }
    if let Some(v) = args.raft_port {
        cluster.raft_port = v;
    }
    if let Some(v) = args.raft_bootstrap {
        cluster.raft_bootstrap = v;
    }
    if let Some(v) = &args.raft_dir {
        cluster.raft_dir = v.clone();
    }
    if let Some(v) = &args.raft_log_level {
        cluster.raft_log_level = v.clone();
    }
    if let Some(v) = &args.members {
        cluster.members = v.iter().filter(|m| !m.is_empty()).cloned().collect();
    }
    if let Some(v) = args.grpc_enable {
        cluster.grpc_enable = v;
    }
    if let Some(v) = args.grpc_port {
        cluster.grpc_port = v;
    }
    if let Some(v) = &args.nodes_file_dir {
        cluster.nodes_file_dir = v.clone();
    }
    if let Some(v) = &args.cluster_secret {
        cluster.secret = v.clone();
    }
    if let Some(v) = &args.cluster_tls_cert {
        cluster.tls.cert_file = v.clone();
    }
    if let Some(v) = &args.cluster_tls_key {
        cluster.tls.key_file = v.clone();
    }
    if let Some(v) = &args.cluster_tls_ca {
        cluster.tls.ca_file = v.clone();
    }
    if cluster.enabled() && !cluster.raft_log_level.is_empty() {
        config.log.raft_level = Some(cluster.raft_log_level.clone());
    }
    if let Some(v) = args.log_enable {
        config.log.enable = v;
    }
    if let Some(v) = args.level {
        // `--level` uses the original README's scale; the YAML `log.level` the slog one.
        match comqtt::logging::level_of_flag(v) {
            Some(level) => config.log.level = level,
            None => config.log.enable = false,
        }
    }
    if let Some(v) = args.env {
        config.log.format = v;
    }
    if let Some(v) = args.log_output {
        config.log.output = v;
    }
    if let Some(v) = &args.log_file {
        config.log.filename = v.clone();
    }
    if let Some(v) = &args.info_file {
        config.log.info_file = v.clone();
    }
    if let Some(v) = &args.error_file {
        config.log.error_file = v.clone();
    }
    config.validate().context("invalid settings")?;
    Ok(config)
}

async fn serve(
    config: Config,
    bridge: Option<KafkaBridgeConfig>,
    logging: Arc<comqtt::logging::LogGuard>,
    source: comqtt::reload::ConfigSource,
) -> Result<()> {
    let mut capabilities = config.mqtt.options.capabilities.to_capabilities()?;
    capabilities.client_rates = config.mqtt.options.limits.client_rates();
    let mut session_loader: Option<Arc<comqtt::storage::redis::RedisSessions>> = None;
    let store = match config.storage_way() {
        0 => {
            tracing::info!("storage: memory (sessions and retained messages are lost on restart)");
            None
        }
        3 => {
            let r = &config.redis;
            let options = comqtt::storage::redis::RedisOptions {
                addr: r.options.addr.clone(),
                username: r.options.username.clone(),
                password: r.options.password.clone(),
                db: r.options.db,
                prefix: r.prefix.clone(),
                node: config
                    .cluster
                    .enabled()
                    .then(|| config.cluster.node_name.clone()),
            };
            if config.cluster.enabled() {
                // The sessions other nodes leave behind are read on their own connection.
                let sessions = comqtt::storage::redis::RedisSessions::open(options.clone())?;
                session_loader = Some(Arc::new(sessions));
            }
            let backend = comqtt::storage::redis::RedisStore::open(options)?;
            let (store, snapshot) =
                comqtt::storage::Store::start(Box::new(backend), config.storage_sync)?;
            tracing::info!(address = %r.options.addr, db = r.options.db, prefix = %r.prefix, "storage: redis");
            Some((store, snapshot))
        }
        way => {
            if way == 2 {
                tracing::info!(
                    "storage-way 2 (badger in the original) is served by the embedded redb store, as 1"
                );
            }
            let path = std::path::Path::new(&config.storage_path);
            let backend = comqtt::storage::embedded::Embedded::open(path)?;
            let (store, snapshot) =
                comqtt::storage::Store::start(Box::new(backend), config.storage_sync)?;
            tracing::info!(path = %path.display(), sync = config.storage_sync, "storage: embedded");
            Some((store, snapshot))
        }
    };
    let (store, snapshot) = match store {
        Some((store, snapshot)) => (Some(store), Some(snapshot)),
        None => (None, None),
    };
    let broker = Broker::with_store(capabilities, store.clone());
    if let Some(loader) = session_loader {
        broker.set_session_loader(loader);
    }
    if let Some(authenticator) = comqtt::auth::Authenticator::open(&config.auth)
        .await
        .context("setting up authentication (auth: block, --auth-way, --auth-ds, --auth-path, --auth-blacklist)")?
    {
        tracing::info!(
            datasource = authenticator.name(),
            blacklist = %config.auth.blacklist_path,
            "authentication on"
        );
        broker.replace_authenticator(Some(authenticator));
    }
    broker
        .overload
        .set_marks(config.mqtt.options.overload.clone());
    let mut due_wills = Vec::new();
    if let Some(snapshot) = snapshot {
        let r = broker.restore(snapshot);
        tracing::info!(
            sessions = r.sessions,
            retained = r.retained,
            wills = r.wills.len(),
            "restored persisted state"
        );
        due_wills = r.wills;
    }
    // Before the listeners: every client's events are bridged. Kafka need not be up.
    let bridge_file = bridge.clone();
    let bridge = match bridge {
        Some(file) => {
            let path = std::path::Path::new(&config.bridge_path);
            let bridge = KafkaBridge::start(&file, path)?;
            broker.events.register(bridge.clone());
            Some(bridge)
        }
        None => None,
    };
    let signal = ShutdownSignal::new();
    let t = &config.mqtt.tls;
    let tls = if t.server_cert.is_empty() {
        None
    } else {
        let files = tls::TlsFiles {
            cert: t.server_cert.clone().into(),
            key: t.server_key.clone().into(),
            ca: (!t.ca_cert.is_empty()).then(|| t.ca_cert.clone().into()),
        };
        Some(
            tls::acceptor(&files)
                .context("setting up TLS (mqtt.tls / --tls-cert, --tls-key, --tls-ca)")?,
        )
    };
    let mut tasks = Vec::new();
    let backlog = config.mqtt.options.listen_backlog;
    // Every listener is bound before anything is served, so a taken port stops the broker
    // at once and the cluster can advertise the addresses.
    let http_listener = if config.mqtt.http.is_empty() {
        None
    } else {
        Some(
            listener::bind(&config.mqtt.http, backlog)
                .await
                .with_context(|| {
                    format!(
                        "listening for HTTP on {} (--http / mqtt.http)",
                        listener::normalize(&config.mqtt.http)
                    )
                })?,
        )
    };
    let admission = Arc::new(listener::admission::Shared::new(config.mqtt.options.limits));
    let mut mqtt_listeners = Vec::new();
    for (flag, addr, websocket) in [
        ("--tcp", &config.mqtt.tcp, false),
        ("--ws", &config.mqtt.ws, true),
    ] {
        if addr.is_empty() {
            continue;
        }
        let transport = Transport {
            tls: tls.clone(),
            websocket,
            admission: Some(listener::admission::Admission::new(&admission)),
        };
        let listener = listener::bind(addr, backlog).await.with_context(|| {
            format!(
                "listening for MQTT on {} ({flag})",
                listener::normalize(addr)
            )
        })?;
        mqtt_listeners.push((listener, transport));
    }
    let quic = if config.mqtt.quic.is_empty() {
        None
    } else {
        let addr = listener::normalize(&config.mqtt.quic);
        let addr: std::net::SocketAddr = addr
            .parse()
            .with_context(|| format!("the QUIC address {addr:?} (--quic / mqtt.quic)"))?;
        let settings = listener::quic::QuicSettings {
            addr,
            tls: (!t.server_cert.is_empty()).then(|| tls::TlsFiles {
                cert: t.server_cert.clone().into(),
                key: t.server_key.clone().into(),
                ca: (!t.ca_cert.is_empty()).then(|| t.ca_cert.clone().into()),
            }),
            zero_rtt: t.zero_rtt,
        };
        let (endpoint, self_signed) = listener::quic::bind(&settings)
            .context("setting up QUIC (--quic / mqtt.quic, certificates from mqtt.tls)")?;
        if self_signed {
            tracing::warn!(
                "QUIC: no certificate configured (mqtt.tls / --tls-cert, --tls-key): serving a self-signed one made at startup; clients must skip verification"
            );
        }
        Some((
            endpoint,
            settings.zero_rtt,
            Some(listener::admission::Admission::new(&admission)),
        ))
    };
    // Joined before any client connects: a session a client left on another node follows it.
    let cluster = if config.cluster.enabled() {
        let http_addr = http_listener.as_ref().and_then(|l| l.local_addr().ok());
        let tcp_addr = mqtt_listeners
            .iter()
            .find(|(_, t)| !t.websocket)
            .and_then(|(l, _)| l.local_addr().ok());
        let settings = ClusterSettings::resolve(&config.cluster, http_addr, tcp_addr)?;
        Some(ClusterNode::start(settings, &broker).await.context(
            "starting the cluster node (cluster: block, --node-name and the cluster flags)",
        )?)
    } else {
        None
    };
    let dashboard = if config.dashboard_enable && !config.mqtt.http.is_empty() {
        let d = &config.dashboard;
        let (dashboard, random_key) =
            http::dashboard::Dashboard::open(&d.users_file, &d.secret_file)
                .context("setting up the dashboard (dashboard: users-file, secret-file)")?;
        if dashboard.users.is_empty() {
            tracing::info!(
                users_file = %d.users_file,
                "dashboard: no users, so nobody can log in; add one with `comqtt dashboard add-user NAME --users-file FILE`"
            );
        }
        if random_key {
            tracing::info!(
                "dashboard: no secret-file, sessions are signed with a key made at startup (they end with the process)"
            );
        }
        Some(Arc::new(dashboard))
    } else {
        None
    };
    let reloader = Arc::new(comqtt::reload::Reloader::new(
        source,
        config.clone(),
        bridge_file,
        broker.clone(),
        admission.clone(),
        Some(logging),
        bridge.clone(),
    ));
    if let Some(cluster) = &cluster {
        cluster.set_reloader(reloader.clone());
    }
    // The HTTP API comes up before the MQTT listeners, so /readyz can tell "starting" from
    // "ready".
    let readiness = http::Readiness::new();
    let http_signal = ShutdownSignal::new();
    let http_task = match http_listener {
        None => None,
        Some(listener) => {
            tracing::info!(address = %listener.local_addr()?, protocol = "http", "attached listener");
            let token = Some(config.mqtt.http_token.clone()).filter(|t| !t.is_empty());
            if token.is_none() {
                tracing::info!(
                    "no HTTP API token (--http-token, COMQTT_HTTP_TOKEN, mqtt.http-token): POST and DELETE requests are refused"
                );
            }
            let settings = http::Settings {
                token,
                node_name: cluster
                    .as_ref()
                    .map_or_else(http::host_name, |c| c.settings.name.clone()),
                config: config.mqtt.clone(),
                bridge: bridge.clone(),
                cluster: cluster.clone(),
                pprof: config.pprof_enable,
                admission: admission.clone(),
                reloader: Some(reloader.clone()),
                dashboard: dashboard.clone(),
            };
            let serving = http::serve(
                listener,
                Arc::clone(&broker),
                settings,
                readiness.clone(),
                http_signal.subscribe(),
            );
            Some(tokio::spawn(async move {
                if let Err(e) = serving.await {
                    tracing::error!(error = %e, "HTTP API stopped");
                }
            }))
        }
    };
    for (listener, transport) in mqtt_listeners {
        tracing::info!(address = %listener.local_addr()?, protocol = transport.name(), "attached listener");
        tasks.push(tokio::spawn(listener::run(
            listener,
            transport,
            Arc::clone(&broker),
            signal.subscribe(),
        )));
    }
    if let Some((endpoint, zero_rtt, quic_admission)) = quic {
        tracing::info!(address = %endpoint.local_addr()?, protocol = "quic", "attached listener");
        tasks.push(tokio::spawn(listener::quic::run(
            endpoint,
            zero_rtt,
            quic_admission,
            Arc::clone(&broker),
            signal.subscribe(),
        )));
    }
    // Wills of clients that were connected when the broker stopped: in a cluster once gossip
    // has found the other nodes, so they reach subscribers there too.
    if !due_wills.is_empty() {
        let broker = broker.clone();
        let wait = if cluster.is_some() {
            Duration::from_secs(2)
        } else {
            Duration::ZERO
        };
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            for will in due_wills {
                broker.publish(will);
            }
        });
    }
    let sys_interval = Duration::from_secs(config.mqtt.options.sys_topic_resend_interval);
    tasks.push(tokio::spawn(
        broker
            .clone()
            .run_housekeeping(sys_interval, signal.subscribe()),
    ));
    readiness.listeners_bound();
    tracing::info!("comqtt server started");

    wait_for_signal(&reloader).await?;
    tracing::info!("shutting down");
    readiness.shutting_down();
    signal.fire();
    broker.disconnect_all();
    for task in tasks {
        let _ = task.await;
    }
    if let Some(cluster) = &cluster {
        // Out of the raft voters first: nodes stopping one after another must leave a
        // voter set that still has its quorum.
        cluster.leave_raft().await;
    }
    // Give connections a moment to send DISCONNECT 0x8B and flush.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while broker
        .stats
        .clients_connected
        .load(std::sync::atomic::Ordering::Relaxed)
        > 0
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The HTTP API answers (/readyz 503) until the clients are gone, then finishes the
    // requests in progress.
    http_signal.fire();
    if let Some(task) = http_task
        && tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .is_err()
    {
        tracing::warn!("HTTP requests still in progress at exit");
    }
    if let Some(cluster) = &cluster {
        cluster.shutdown().await;
    }
    broker.save_counters();
    if let Some(store) = &store
        && tokio::time::timeout(Duration::from_secs(5), store.flush())
            .await
            .is_err()
    {
        tracing::warn!("storage writes still pending at exit");
    }
    if let Some(bridge) = bridge {
        // Bounded: a Kafka that is away must not hold the exit up.
        let flushing = tokio::task::spawn_blocking(move || bridge.flush(BRIDGE_FLUSH_TIMEOUT));
        let _ = flushing.await;
    }
    tracing::info!("comqtt server stopped");
    Ok(())
}

/// Waits for SIGINT or SIGTERM; each SIGHUP meanwhile reloads the configuration.
async fn wait_for_signal(reloader: &Arc<comqtt::reload::Reloader>) -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut hup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    loop {
        tokio::select! {
            r = tokio::signal::ctrl_c() => return r.context("waiting for SIGINT"),
            _ = term.recv() => return Ok(()),
            _ = hup.recv() => {
                tracing::info!("SIGHUP: reloading the configuration");
                let reloader = reloader.clone();
                // The outcome is logged by the reload itself.
                tokio::spawn(async move { let _ = reloader.reload().await; });
            }
        }
    }
}
