//! `comqttctl`: cluster control over the admin gRPC service of any node (members, raft
//! status, join, leave, inspect). The command line is defined here, so completions and the man
//! page come from it too; replies are JSON, printed as tables ([`table`]) or as they are.

pub mod table;

use std::time::Duration;

use clap::{Parser, Subcommand};
use serde_json::Value;

use crate::cluster::proto::AdminRequest;
use crate::cluster::proto::admin_client::AdminClient;

/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    /// The node cannot be reached.
    #[error(
        "cannot reach the node's gRPC port at {addr}: {reason} (is it a cluster node? --server, COMQTT_SERVER)"
    )]
    Unreachable {
        /// `host:port`.
        addr: String,
        /// Why.
        reason: String,
    },
    /// The node refused the request.
    #[error("{0}")]
    Refused(String),
    /// The reply is not what comqttctl expects.
    #[error("unreadable reply: {0}")]
    Reply(String),
}

/// The command line.
#[derive(Parser, Debug)]
#[command(
    name = "comqttctl",
    version,
    about = "Control a comqtt cluster through any of its nodes (the admin gRPC service on its grpc-port)"
)]
pub struct CtlArgs {
    /// gRPC address of a cluster node.
    #[arg(
        long,
        short,
        global = true,
        value_name = "HOST:PORT",
        env = "COMQTT_SERVER",
        default_value = "127.0.0.1:17946"
    )]
    pub server: String,
    /// The cluster secret, when the cluster has one (cluster.secret).
    #[arg(
        long,
        global = true,
        value_name = "SECRET",
        env = "COMQTT_CLUSTER_SECRET",
        hide_env_values = true
    )]
    pub secret: Option<String>,
    /// With cluster TLS: comqttctl's certificate (PEM), signed by the cluster's CA.
    #[arg(long, global = true, value_name = "FILE", env = "COMQTT_TLS_CERT")]
    pub tls_cert: Option<String>,
    /// With cluster TLS: the key of --tls-cert.
    #[arg(long, global = true, value_name = "FILE", env = "COMQTT_TLS_KEY")]
    pub tls_key: Option<String>,
    /// With cluster TLS: the cluster's CA (PEM), which the node's certificate must be signed by.
    #[arg(long, global = true, value_name = "FILE", env = "COMQTT_TLS_CA")]
    pub tls_ca: Option<String>,
    /// With cluster TLS: the name the node's certificate carries, when it is not the address's host.
    #[arg(long, global = true, value_name = "NAME")]
    pub tls_server_name: Option<String>,
    /// Print the node's JSON reply instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: CtlCommand,
}

/// The commands.
#[derive(Subcommand, Debug, Clone)]
pub enum CtlCommand {
    /// List the members: name, status, raft role, leader, addresses.
    Members,
    /// Raft as the node sees it: state, leader, term, log, voters, routes, forwarding counters.
    Raft,
    /// Make the node gossip to other nodes (host:port of their gossip port): joins two groups of nodes, or adds a node whose seeds were wrong.
    Join {
        /// Gossip addresses.
        #[arg(required = true, value_delimiter = ',')]
        addrs: Vec<String>,
    },
    /// A node leaves the cluster (the raft leader removes it and drops its routes); it then serves its own clients alone until restarted. Default: the node asked.
    Leave {
        /// Node name.
        node: Option<String>,
    },
    /// Re-read the configuration file and apply what can change live (auth and ACL files, limits, watermarks, log, $SYS interval, bridge rules) on every alive node, or on the one named; each node reads its own file. Prints, per node, the keys applied and those that need a restart.
    Reload {
        /// Node name (default: every alive member).
        node: Option<String>,
    },
    /// Show the node's clients, sessions, subscriptions, one client, or the cluster's route table.
    Inspect {
        /// routes, subscriptions, clients (online), sessions (online or not), client.
        #[arg(value_parser = ["routes", "subscriptions", "clients", "sessions", "client"])]
        what: String,
        /// The client id, for `client`.
        id: Option<String>,
    },
}

/// Runs one command; returns what to print.
pub async fn run(args: &CtlArgs) -> Result<String, CtlError> {
    let unreachable = |reason: String| CtlError::Unreachable {
        addr: args.server.clone(),
        reason,
    };
    let files = crate::cluster::tls::TlsFiles {
        cert: args.tls_cert.clone().unwrap_or_default(),
        key: args.tls_key.clone().unwrap_or_default(),
        ca: args.tls_ca.clone().unwrap_or_default(),
        server_name: args.tls_server_name.clone().unwrap_or_default(),
    };
    let tls = crate::cluster::tls::ClusterTls::load(&files)
        .map_err(|e| CtlError::Refused(e.to_string()))?;
    let secret = crate::cluster::secret::Secret::new(args.secret.as_deref().unwrap_or_default())
        .with_tls(tls);
    let channel = crate::cluster::raft::network::channel(&args.server, &secret)
        .map_err(|e| unreachable(e.to_string()))?;
    let mut client = AdminClient::new(channel);
    let (target, argument) = match &args.command {
        CtlCommand::Join { addrs } => (addrs.join(","), String::new()),
        CtlCommand::Leave { node } => (node.clone().unwrap_or_default(), String::new()),
        CtlCommand::Reload { node } => (node.clone().unwrap_or_default(), String::new()),
        CtlCommand::Inspect { what, id } => {
            if what == "client" && id.is_none() {
                return Err(CtlError::Refused("inspect client needs a client id".into()));
            }
            (what.clone(), id.clone().unwrap_or_default())
        }
        _ => (String::new(), String::new()),
    };
    let mut request = tonic::Request::new(AdminRequest { target, argument });
    request.set_timeout(TIMEOUT);
    secret.sign(&mut request);
    let reply = match &args.command {
        CtlCommand::Members => client.members(request).await,
        CtlCommand::Raft => client.raft_status(request).await,
        CtlCommand::Join { .. } => client.join(request).await,
        CtlCommand::Leave { .. } => client.leave(request).await,
        CtlCommand::Inspect { .. } => client.inspect(request).await,
        CtlCommand::Reload { .. } => client.reload(request).await,
    };
    let reply = reply.map_err(|status| match status.code() {
        tonic::Code::Unauthenticated => CtlError::Refused(format!(
            "{} (--secret, COMQTT_CLUSTER_SECRET)",
            status.message()
        )),
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded => {
            unreachable(status.message().to_string())
        }
        _ => CtlError::Refused(status.message().to_string()),
    })?;
    let json = reply.into_inner().json;
    let value: Value = serde_json::from_str(&json).map_err(|e| CtlError::Reply(e.to_string()))?;
    let text = if args.json {
        json
    } else {
        table::render(&args.command, &value)
    };
    // A reload some node refused fails the command (after saying what each node did).
    if value["nodes"]
        .as_array()
        .is_some_and(|nodes| nodes.iter().any(|n| n.get("error").is_some()))
    {
        return Err(CtlError::Refused(text));
    }
    Ok(text)
}
