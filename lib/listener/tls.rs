//! TLS server settings from PEM files: certificate chain, private key, and an optional CA
//! whose certificates clients must present (mutual TLS). TLS 1.2 and 1.3 only.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// Why TLS could not be set up; every variant names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or holds no usable item.
    #[error("cannot read {what} from {path}: {reason}")]
    Pem {
        /// What was expected: certificate, private key, CA certificate.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// rustls refused the combination (key does not match the certificate, ...).
    #[error("invalid TLS settings: {0}")]
    Rustls(#[from] rustls::Error),
    /// The CA file gave no certificate rustls accepts for client verification.
    #[error("cannot use the CA certificates of {path} to verify clients: {reason}")]
    ClientVerifier {
        /// The CA file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// Files of the `mqtt.tls` settings.
#[derive(Debug, Clone, Default)]
pub struct TlsFiles {
    /// Server certificate chain (PEM).
    pub cert: PathBuf,
    /// Server private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// CA certificates (PEM) that client certificates must chain to; turns on mutual TLS.
    pub ca: Option<PathBuf>,
}

fn pem_error(what: &'static str, path: &Path, reason: impl ToString) -> TlsError {
    TlsError::Pem {
        what,
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// Every certificate of a PEM file, or why there is none (shared with comqtt-bench's client).
pub fn load_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| e.to_string())?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    if certs.is_empty() {
        return Err("no CERTIFICATE block found".into());
    }
    Ok(certs)
}

fn certificates(path: &Path, what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    load_certificates(path).map_err(|reason| pem_error(what, path, reason))
}

/// Builds the acceptor for `files`.
pub fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, TlsError> {
    let certs = certificates(&files.cert, "certificate")?;
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| pem_error("private key", &files.key, e))?;
    Ok(TlsAcceptor::from(Arc::new(server_config(
        certs,
        key,
        files.ca.as_deref(),
        false,
    )?)))
}

/// The certificate chain and key of `files` (for QUIC, which builds its own configuration).
pub fn certificate_and_key(
    files: &TlsFiles,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let certs = certificates(&files.cert, "certificate")?;
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| pem_error("private key", &files.key, e))?;
    Ok((certs, key))
}

/// A server configuration: `certs` and `key`, client certificates verified against the CA
/// file `ca` when given; TLS 1.3 only when `tls13_only` (QUIC), else 1.2 and 1.3.
pub fn server_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    ca: Option<&Path>,
    tls13_only: bool,
) -> Result<ServerConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone());
    let builder = if tls13_only {
        builder.with_protocol_versions(&[&rustls::version::TLS13])?
    } else {
        builder.with_safe_default_protocol_versions()?
    };
    let config = match ca {
        None => builder.with_no_client_auth().with_single_cert(certs, key)?,
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in certificates(ca, "CA certificate")? {
                roots
                    .add(cert)
                    .map_err(|e| pem_error("CA certificate", ca, e))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| TlsError::ClientVerifier {
                    path: ca.to_path_buf(),
                    reason: e.to_string(),
                })?;
            builder
                .with_client_cert_verifier(verifier)
                .with_single_cert(certs, key)?
        }
    };
    Ok(config)
}
