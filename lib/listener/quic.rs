//! MQTT over QUIC (`--quic ADDR`, `mqtt.quic`): a quinn endpoint on UDP, TLS 1.3 with ALPN
//! `mqtt`, the certificate of `mqtt.tls` (client certificates verified against its CA when
//! one is given), or a self-signed one when none is configured (logged, as the original does).
//! Each QUIC connection carries one MQTT connection on its first bidirectional stream (the
//! layout of EMQX and the original); that stream is served by the same connection code as TCP,
//! so authentication, ACLs, limits, sessions, takeover, the cluster and the counters behave
//! the same. `tls.zero-rtt` accepts 0-RTT data (replayable: off by default).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use quinn::crypto::rustls::QuicServerConfig;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::admission::{Admission, Refusal};
use super::tls::{self, TlsError, TlsFiles};
use crate::broker::Broker;
use crate::broker::connection;
use crate::shutdown::Shutdown;

/// The ALPN protocol a client must offer.
pub const ALPN: &[u8] = b"mqtt";
/// How long a new QUIC connection may take to open its MQTT stream.
const STREAM_WAIT: Duration = Duration::from_secs(10);
/// How long a finished connection waits for the client to close before closing it.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// Why the QUIC listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum QuicError {
    /// The certificate files (`mqtt.tls`).
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// A self-signed certificate could not be made.
    #[error("cannot make a self-signed certificate: {0}")]
    SelfSigned(String),
    /// rustls' configuration is not usable for QUIC.
    #[error("TLS settings unusable for QUIC: {0}")]
    Crypto(String),
    /// The UDP socket.
    #[error("cannot listen on UDP {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// What the listener is set up with.
#[derive(Debug, Clone)]
pub struct QuicSettings {
    /// Where to listen (UDP).
    pub addr: SocketAddr,
    /// The `mqtt.tls` files, if configured.
    pub tls: Option<TlsFiles>,
    /// `tls.zero-rtt`.
    pub zero_rtt: bool,
}

/// Binds the endpoint. Returns it and whether its certificate is a self-signed one made now.
pub fn bind(settings: &QuicSettings) -> Result<(quinn::Endpoint, bool), QuicError> {
    let (certs, key, ca, self_signed) = match &settings.tls {
        Some(files) => {
            let (certs, key) = tls::certificate_and_key(files)?;
            (certs, key, files.ca.clone(), false)
        }
        None => {
            let (certs, key) = self_signed()?;
            (certs, key, None, true)
        }
    };
    let mut crypto = tls::server_config(certs, key, ca.as_deref(), true)?;
    crypto.alpn_protocols = vec![ALPN.to_vec()];
    if settings.zero_rtt {
        crypto.max_early_data_size = u32::MAX;
    }
    let crypto =
        QuicServerConfig::try_from(crypto).map_err(|e| QuicError::Crypto(e.to_string()))?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    // MQTT's keep alive decides when a silent client is gone (as over TCP); QUIC's idle
    // timeout would cut clients whose keep alive is longer than it.
    transport.max_idle_timeout(None);
    // One MQTT stream per connection.
    transport.max_concurrent_bidi_streams(1u32.into());
    transport.max_concurrent_uni_streams(0u32.into());
    config.transport_config(Arc::new(transport));
    let endpoint =
        quinn::Endpoint::server(config, settings.addr).map_err(|source| QuicError::Bind {
            addr: settings.addr,
            source,
        })?;
    Ok((endpoint, self_signed))
}

/// A certificate for `localhost` and the host's name, valid from now, with its key.
fn self_signed() -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), QuicError> {
    let mut names = vec!["localhost".to_string()];
    let host = crate::http::host_name();
    if !host.is_empty() && host != "localhost" {
        names.push(host);
    }
    let made = rcgen::generate_simple_self_signed(names)
        .map_err(|e| QuicError::SelfSigned(e.to_string()))?;
    let key = PrivatePkcs8KeyDer::from(made.key_pair.serialize_der());
    Ok((vec![made.cert.der().clone()], key.into()))
}

/// Accepts connections until shutdown, one task per connection.
pub async fn run(
    endpoint: quinn::Endpoint,
    zero_rtt: bool,
    admission: Option<Arc<Admission>>,
    broker: Arc<Broker>,
    mut shutdown: Shutdown,
) {
    loop {
        let incoming = tokio::select! {
            i = endpoint.accept() => i,
            _ = shutdown.wait() => break,
        };
        let Some(incoming) = incoming else { break };
        let admitted = admission
            .as_ref()
            .map(|a| a.admit(incoming.remote_address().ip()));
        let (ticket, refused) = match admitted {
            None => (None, None),
            Some(Ok(t)) => (Some(t), None),
            Some(Err(r)) => (None, Some(r)),
        };
        let serving = handle(
            incoming,
            zero_rtt,
            broker.clone(),
            shutdown.clone(),
            refused,
        );
        tokio::spawn(async move {
            serving.await;
            drop(ticket);
        });
    }
    endpoint.close(0u32.into(), b"server shutting down");
    // Lets the close reach the clients.
    let _ = tokio::time::timeout(CLOSE_WAIT, endpoint.wait_idle()).await;
}

/// One QUIC connection: the handshake, its first bidirectional stream, then MQTT on it.
async fn handle(
    incoming: quinn::Incoming,
    zero_rtt: bool,
    broker: Arc<Broker>,
    shutdown: Shutdown,
    refused: Option<Refusal>,
) {
    let peer = incoming.remote_address().to_string();
    let connecting = match incoming.accept() {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(%peer, transport = "quic", error = %e, "handshake failed");
            return;
        }
    };
    let connection = if zero_rtt {
        match connecting.into_0rtt() {
            Ok((connection, _accepted)) => Ok(connection),
            Err(connecting) => timed(connecting).await,
        }
    } else {
        timed(connecting).await
    };
    let connection = match connection {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(%peer, transport = "quic", error = %e, "handshake failed");
            return;
        }
    };
    let stream = match tokio::time::timeout(STREAM_WAIT, connection.accept_bi()).await {
        Ok(Ok((send, recv))) => tokio::io::join(recv, send),
        Ok(Err(e)) => {
            tracing::debug!(%peer, transport = "quic", error = %e, "no MQTT stream opened");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, transport = "quic", "no MQTT stream opened in time");
            connection.close(0u32.into(), b"no stream");
            return;
        }
    };
    match refused {
        Some(r) => connection::refuse(broker, stream, peer, r.code, r.why).await,
        None => connection::serve(broker, stream, peer, "quic", shutdown).await,
    }
    // The stream is finished (dropped); the client closes once it has read everything, or the
    // connection is closed after a moment.
    let _ = tokio::time::timeout(CLOSE_WAIT, connection.closed()).await;
    connection.close(0u32.into(), b"");
}

async fn timed(
    connecting: quinn::Connecting,
) -> Result<quinn::Connection, Box<dyn std::error::Error + Send + Sync>> {
    match tokio::time::timeout(STREAM_WAIT, connecting).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(Box::new(e)),
        Err(_) => Err("handshake timed out".into()),
    }
}
