//! The TLS client settings of `ssl://`, `tls://` and `wss://` brokers: trusted CAs from
//! `-cafile` (else the system bundle), a client certificate from `-cert` / `-key`, and
//! `-skip-tls-verification`, which accepts any server certificate as Go's
//! `InsecureSkipVerify` does. rustls with the aws-lc-rs provider, TLS 1.2 and 1.3.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

/// Where the system's CA bundle may be, first match wins (`SSL_CERT_FILE` is tried before).
const SYSTEM_BUNDLES: [&str; 4] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
    "/etc/ssl/ca-bundle.pem",
];

/// The TLS flags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// `-cafile`: trusted CA certificates (PEM).
    pub ca_file: Option<PathBuf>,
    /// `-cert`: client certificate chain (PEM).
    pub cert_file: Option<PathBuf>,
    /// `-key`: the client certificate's private key (PEM).
    pub key_file: Option<PathBuf>,
    /// `-skip-tls-verification`: accept any server certificate.
    pub skip_verification: bool,
}

/// Why TLS could not be set up; each variant names the file or flag at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("cannot read {what} from {path}: {reason}")]
    Pem {
        /// What was expected.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// No `-cafile` and no system CA bundle.
    #[error(
        "no trusted CA certificates: give -cafile FILE or -skip-tls-verification (no system bundle found, SSL_CERT_FILE unset)"
    )]
    NoRoots,
    /// rustls refused the settings (a key not matching its certificate, ...).
    #[error("invalid TLS settings: {0}")]
    Rustls(#[from] rustls::Error),
}

fn pem_error(what: &'static str, path: &Path, reason: impl ToString) -> TlsError {
    TlsError::Pem {
        what,
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

fn certificates(path: &Path, what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    crate::listener::tls::load_certificates(path).map_err(|reason| pem_error(what, path, reason))
}

fn system_bundle() -> Option<PathBuf> {
    std::env::var_os("SSL_CERT_FILE")
        .map(PathBuf::from)
        .into_iter()
        .chain(SYSTEM_BUNDLES.iter().map(PathBuf::from))
        .find(|p| p.is_file())
}

/// Builds the client configuration every TLS connection of the run shares.
pub fn client_config(settings: &TlsSettings) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = if settings.skip_verification {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyServer(provider)))
    } else {
        let (path, what) = match &settings.ca_file {
            Some(ca) => (ca.clone(), "CA certificates"),
            None => (
                system_bundle().ok_or(TlsError::NoRoots)?,
                "system CA certificates",
            ),
        };
        let mut roots = RootCertStore::empty();
        let (added, _ignored) = roots.add_parsable_certificates(certificates(&path, what)?);
        if added == 0 {
            return Err(pem_error(
                what,
                &path,
                "no certificate usable as a trust anchor",
            ));
        }
        builder.with_root_certificates(roots)
    };
    let config = match (&settings.cert_file, &settings.key_file) {
        (Some(cert), Some(key)) => {
            let chain = certificates(cert, "client certificate")?;
            let key =
                PrivateKeyDer::from_pem_file(key).map_err(|e| pem_error("private key", key, e))?;
            builder.with_client_auth_cert(chain, key)?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// The verifier of `-skip-tls-verification`: any certificate for any name, but the handshake
/// signatures are still checked (they prove nothing without a trusted certificate, but a
/// broken server still fails).
#[derive(Debug)]
struct AcceptAnyServer(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
