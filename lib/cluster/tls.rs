//! TLS between nodes (`cluster.tls`, `--cluster-tls-cert`, `--cluster-tls-key`,
//! `--cluster-tls-ca`): when on, the raft and gRPC ports speak only TLS and require a client
//! certificate signed by the cluster's CA, and every node (and comqttctl) connects with its
//! own certificate and checks the other side's against the same CA. Traffic between nodes is
//! then encrypted, and a stranger gossip points at never gets a request, nor the cluster
//! secret it carries. Gossip itself (UDP: names, addresses, status) stays in the clear.

use std::sync::Arc;

use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

use super::ClusterError;

/// Where the PEM files are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// This node's certificate chain (PEM), also presented as a client.
    pub cert: String,
    /// Its private key (PEM).
    pub key: String,
    /// The CA every node's certificate is signed by (PEM).
    pub ca: String,
    /// The name every node's certificate carries, checked instead of the address dialled;
    /// empty: the address's host (an IP address or DNS name in each certificate).
    pub server_name: String,
}

impl TlsFiles {
    /// True when TLS is asked for (any file named).
    pub fn is_set(&self) -> bool {
        !(self.cert.is_empty() && self.key.is_empty() && self.ca.is_empty())
    }
}

/// TLS for the cluster's connections, when on.
#[derive(Clone, Default)]
pub struct ClusterTls(Option<Arc<Configs>>);

struct Configs {
    server: ServerTlsConfig,
    client: ClientTlsConfig,
}

impl std::fmt::Debug for ClusterTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "ClusterTls(on)"
        } else {
            "ClusterTls(off)"
        })
    }
}

impl ClusterTls {
    /// Off.
    pub fn off() -> ClusterTls {
        ClusterTls(None)
    }

    /// Reads the files (off when none is named); all three are needed.
    pub fn load(files: &TlsFiles) -> Result<ClusterTls, ClusterError> {
        if !files.is_set() {
            return Ok(ClusterTls(None));
        }
        let read = |what: &str, path: &str| -> Result<Vec<u8>, ClusterError> {
            if path.is_empty() {
                return Err(ClusterError::Settings(format!(
                    "cluster TLS needs {what} too (cluster.tls.cert-file, key-file and ca-file, or --cluster-tls-cert, --cluster-tls-key and --cluster-tls-ca)"
                )));
            }
            std::fs::read(path)
                .map_err(|e| ClusterError::Settings(format!("cluster TLS {what} {path}: {e}")))
        };
        let cert = read("certificate", &files.cert)?;
        let key = read("key", &files.key)?;
        let ca = read("CA", &files.ca)?;
        for (what, path, pem) in [
            ("certificate", &files.cert, &cert),
            ("key", &files.key, &key),
            ("CA", &files.ca, &ca),
        ] {
            if !String::from_utf8_lossy(pem).contains("-----BEGIN") {
                return Err(ClusterError::Settings(format!(
                    "cluster TLS {what} {path}: not a PEM file"
                )));
            }
        }
        let identity = Identity::from_pem(&cert, &key);
        let ca = Certificate::from_pem(&ca);
        let server = ServerTlsConfig::new()
            .identity(identity.clone())
            .client_ca_root(ca.clone());
        let mut client = ClientTlsConfig::new().ca_certificate(ca).identity(identity);
        if !files.server_name.is_empty() {
            client = client.domain_name(files.server_name.clone());
        }
        Ok(ClusterTls(Some(Arc::new(Configs { server, client }))))
    }

    /// True when on.
    pub fn is_on(&self) -> bool {
        self.0.is_some()
    }

    /// The URL scheme of the cluster's ports.
    pub fn scheme(&self) -> &'static str {
        if self.is_on() { "https" } else { "http" }
    }

    /// The servers' side, when on.
    pub fn server(&self) -> Option<ServerTlsConfig> {
        self.0.as_ref().map(|c| c.server.clone())
    }

    /// The clients' side, when on.
    pub fn client(&self) -> Option<ClientTlsConfig> {
        self.0.as_ref().map(|c| c.client.clone())
    }
}
